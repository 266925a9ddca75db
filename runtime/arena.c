/* A session's arena: one aligned block sized for the largest plan seen, and the memory plans of the
 * shapes run recently (least recently used evicted), so a plan is computed once per shape. */
#include <string.h>

#include "runtime/runtime_internal.h"

void tcc_rt_arena_init(tcc_rt_arena_t *a, tcc_allocator_t allocator) {
  memset(a, 0, sizeof *a);
  a->allocator = allocator;
}

static void free_plan(tcc_rt_arena_t *a, tcc_rt_plan_entry_t *e) {
  tcc_free(a->allocator, e->symbols);
  tcc_free(a->allocator, e->offsets);
  memset(e, 0, sizeof *e);
}

void tcc_rt_arena_deinit(tcc_rt_arena_t *a) {
  tcc_free(a->allocator, a->block);
  for (int i = 0; i < a->num_plans; i++) free_plan(a, &a->plans[i]);
  memset(a, 0, sizeof *a);
}

tcc_status_t tcc_rt_arena_reserve(tcc_rt_arena_t *a, int64_t bytes, int64_t alignment) {
  if (bytes <= a->capacity && ((uintptr_t)a->base & (uintptr_t)(alignment - 1)) == 0) return NULL;
  tcc_free(a->allocator, a->block);
  a->block = NULL;
  a->base = NULL;
  a->capacity = 0;
  if (bytes > INT64_MAX - alignment || (uint64_t)(bytes + alignment) > SIZE_MAX)
    return tcc_status_make(TCC_OUT_OF_MEMORY, "arena of %lld bytes is too large", (long long)bytes);
  void *block = tcc_alloc(a->allocator, (size_t)(bytes + alignment));
  if (!block)
    return tcc_status_make(TCC_OUT_OF_MEMORY, "cannot allocate the arena: %lld bytes", (long long)bytes);
  a->block = block;
  a->base = (uint8_t *)(((uintptr_t)block + (uintptr_t)(alignment - 1)) & ~(uintptr_t)(alignment - 1));
  a->capacity = bytes;
  return NULL;
}

static tcc_status_t compute_plan(const tcc_rt_module_t *m, const int64_t *symbols, int64_t *offsets,
                                 int64_t *arena_bytes) {
  const tcc_module_desc_t *d = m->desc;
  if (d->plan) {
    int rc = d->plan(symbols, offsets, arena_bytes);
    if (rc)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "module '%s': no memory plan for these input shapes (code %d)",
                             d->name, rc);
  } else {
    if (d->num_arena_buffers) memcpy(offsets, d->arena_offsets, sizeof(int64_t) * (size_t)d->num_arena_buffers);
    *arena_bytes = d->arena_bytes;
  }
  if (*arena_bytes < 0)
    return tcc_status_make(TCC_INVALID_MODEL, "module '%s': memory plan has a negative arena size", d->name);
  for (int32_t i = 0; i < d->num_arena_buffers; i++) {
    if (offsets[i] < 0 || offsets[i] > *arena_bytes || (offsets[i] & (d->arena_alignment - 1)))
      return tcc_status_make(TCC_INVALID_MODEL,
                             "module '%s': memory plan puts arena buffer %d at offset %lld (arena %lld bytes, "
                             "alignment %lld)",
                             d->name, i, (long long)offsets[i], (long long)*arena_bytes,
                             (long long)d->arena_alignment);
  }
  return NULL;
}

tcc_status_t tcc_rt_arena_plan(tcc_rt_arena_t *a, const tcc_rt_module_t *m, const int64_t *symbols,
                               const tcc_rt_plan_entry_t **out) {
  *out = NULL;
  const tcc_module_desc_t *d = m->desc;
  size_t sym_bytes = sizeof(int64_t) * (size_t)d->num_symbols;
  a->clock++;
  for (int i = 0; i < a->num_plans; i++) {
    tcc_rt_plan_entry_t *e = &a->plans[i];
    if (sym_bytes == 0 || memcmp(e->symbols, symbols, sym_bytes) == 0) {
      e->last_used = a->clock;
      *out = e;
      return NULL;
    }
  }
  tcc_rt_plan_entry_t fresh = {0};
  fresh.symbols = tcc_alloc(a->allocator, sym_bytes);
  fresh.offsets = tcc_alloc(a->allocator, sizeof(int64_t) * (size_t)d->num_arena_buffers);
  if (!fresh.symbols || !fresh.offsets) {
    free_plan(a, &fresh);
    return tcc_status_make(TCC_OUT_OF_MEMORY, "cannot allocate a memory plan");
  }
  if (sym_bytes) memcpy(fresh.symbols, symbols, sym_bytes);
  tcc_status_t st = compute_plan(m, symbols, fresh.offsets, &fresh.arena_bytes);
  if (st) {
    free_plan(a, &fresh);
    return st;
  }
  a->plans_computed++;
  fresh.last_used = a->clock;
  int slot = a->num_plans;
  if (slot == TCC_RT_PLAN_CACHE_SIZE) {
    slot = 0;
    for (int i = 1; i < a->num_plans; i++)
      if (a->plans[i].last_used < a->plans[slot].last_used) slot = i;
    free_plan(a, &a->plans[slot]);
  } else {
    a->num_plans++;
  }
  a->plans[slot] = fresh;
  *out = &a->plans[slot];
  return NULL;
}
