/* The generic CPU schedule: PARALLEL and VECTORIZED loop marks (rules in codegen/schedule_cpu.h). */
#include "codegen/schedule_cpu.h"

#include <stdlib.h>
#include <string.h>

#include "codegen/llvm_emit.h"
#include "ir/dim.h"

enum { UNKNOWN_EXTENT = 1 << 20 }; /* what an extent unknown at compile time counts for */

tcc_cpu_schedule_options_t tcc_cpu_schedule_defaults(const char *target) {
  return (tcc_cpu_schedule_options_t){.parallel = true,
                                      .vectorize = true,
                                      .threads = 8,
                                      .min_task_elements = 4096,
                                      .vector_lanes = tcc_llvm_target_vector_lanes(target)};
}

/* ---- expressions ---- */

/* Free of loads and of the variables marked in bound. */
static bool invariant(const tcc_kexpr_t *x, const bool *bound) {
  if (!x) return true;
  if (x->kind == TCC_KEXPR_LOAD) return false;
  if (x->kind == TCC_KEXPR_VAR) return !bound[x->var->id];
  return invariant(x->a, bound) && invariant(x->b, bound) && invariant(x->c, bound);
}

/* x is v, or v + c / c + v with c invariant. */
static bool shifted_var(const tcc_kexpr_t *x, const tcc_kvar_t *v, const bool *bound) {
  if (x->kind == TCC_KEXPR_VAR) return x->var == v;
  if (x->kind != TCC_KEXPR_BINARY || x->op != TCC_KOP_ADD) return false;
  return (x->a->kind == TCC_KEXPR_VAR && x->a->var == v && invariant(x->b, bound)) ||
         (x->b->kind == TCC_KEXPR_VAR && x->b->var == v && invariant(x->a, bound));
}

/* ---- walks over statements ---- */

typedef struct {
  const tcc_kstmt_t **stores;
  int num_stores, cap_stores;
  const tcc_kexpr_t **loads;
  int num_loads, cap_loads;
  bool other; /* CALL, BARRIER */
  bool oom;
} access_t;

/* items (count used of *cap, each size bytes) with room for one more: the same array or a larger one (*cap
 * updated); NULL when out of memory (items is left as it was). */
static void *room_for_one(void *items, int count, int *cap, size_t size) {
  if (count < *cap) return items;
  int grown = *cap ? 2 * *cap : 16;
  void *larger = realloc(items, (size_t)grown * size);
  if (larger) *cap = grown;
  return larger;
}

static void add_load(access_t *a, const tcc_kexpr_t *x) {
  const tcc_kexpr_t **loads = room_for_one(a->loads, a->num_loads, &a->cap_loads, sizeof *loads);
  if (loads) a->loads = loads, a->loads[a->num_loads++] = x;
  else a->oom = true;
}

static void add_store(access_t *a, const tcc_kstmt_t *s) {
  const tcc_kstmt_t **stores = room_for_one(a->stores, a->num_stores, &a->cap_stores, sizeof *stores);
  if (stores) a->stores = stores, a->stores[a->num_stores++] = s;
  else a->oom = true;
}

static void expr_loads(access_t *a, const tcc_kexpr_t *x) {
  if (!x) return;
  if (x->kind == TCC_KEXPR_LOAD) {
    add_load(a, x);
    for (int i = 0; i < x->buf->rank; i++) expr_loads(a, x->index[i]);
  }
  expr_loads(a, x->a), expr_loads(a, x->b), expr_loads(a, x->c);
}

static void block_accesses(access_t *a, const tcc_kblock_t *blk) {
  for (size_t n = 0; n < blk->count; n++) {
    const tcc_kstmt_t *s = blk->stmts[n];
    switch (s->kind) {
      case TCC_KSTMT_FOR:
        expr_loads(a, s->extent);
        block_accesses(a, &s->body);
        break;
      case TCC_KSTMT_STORE:
        add_store(a, s);
        for (int i = 0; i < s->buf->rank; i++) expr_loads(a, s->index[i]);
        expr_loads(a, s->value);
        break;
      case TCC_KSTMT_IF:
        expr_loads(a, s->cond);
        block_accesses(a, &s->body);
        block_accesses(a, &s->orelse);
        break;
      case TCC_KSTMT_ALLOC: break;
      default: a->other = true; break;
    }
  }
}

static void access_free(access_t *a) {
  free(a->stores);
  free(a->loads);
}

/* Marks the ids of the temporaries allocated and the variables bound in blk. */
static void mark_inside(const tcc_kblock_t *blk, bool *allocated, bool *bound) {
  for (size_t n = 0; n < blk->count; n++) {
    const tcc_kstmt_t *s = blk->stmts[n];
    if (s->kind == TCC_KSTMT_ALLOC) allocated[s->buf->id] = true;
    if (s->kind == TCC_KSTMT_FOR) bound[s->var->id] = true;
    if (s->kind == TCC_KSTMT_FOR || s->kind == TCC_KSTMT_IF) mark_inside(&s->body, allocated, bound);
    if (s->kind == TCC_KSTMT_IF) mark_inside(&s->orelse, allocated, bound);
  }
}

static bool expr_reads(const tcc_kexpr_t *x, const bool *bufs) {
  if (!x) return false;
  if (x->kind == TCC_KEXPR_LOAD) {
    if (bufs[x->buf->id]) return true;
    for (int i = 0; i < x->buf->rank; i++)
      if (expr_reads(x->index[i], bufs)) return true;
  }
  return expr_reads(x->a, bufs) || expr_reads(x->b, bufs) || expr_reads(x->c, bufs);
}

/* Whether a statement of blk outside `skip` references one of the buffers marked in bufs. */
static bool referenced_outside(const tcc_kblock_t *blk, const tcc_kstmt_t *skip, const bool *bufs) {
  for (size_t n = 0; n < blk->count; n++) {
    const tcc_kstmt_t *s = blk->stmts[n];
    if (s == skip) continue;
    switch (s->kind) {
      case TCC_KSTMT_FOR:
        if (expr_reads(s->extent, bufs) || referenced_outside(&s->body, skip, bufs)) return true;
        break;
      case TCC_KSTMT_STORE:
        if (bufs[s->buf->id] || expr_reads(s->value, bufs)) return true;
        for (int i = 0; i < s->buf->rank; i++)
          if (expr_reads(s->index[i], bufs)) return true;
        break;
      case TCC_KSTMT_IF:
        if (expr_reads(s->cond, bufs) || referenced_outside(&s->body, skip, bufs) ||
            referenced_outside(&s->orelse, skip, bufs))
          return true;
        break;
      case TCC_KSTMT_CALL:
        for (int i = 0; i < s->num_args; i++)
          if (bufs[s->args[i]->id]) return true;
        break;
      default: break;
    }
  }
  return false;
}

/* ---- legality ---- */

bool tcc_schedule_loop_parallelizable(const tcc_kernel_t *k, const tcc_kstmt_t *loop) {
  if (!loop || loop->kind != TCC_KSTMT_FOR) return false;
  uint32_t nid = k->next_id;
  bool *allocated = calloc((size_t)nid + 1, sizeof *allocated), *bound = calloc((size_t)nid + 1, sizeof *bound);
  bool *done = calloc((size_t)nid + 1, sizeof *done);
  access_t a = {0};
  bool ok = allocated && bound && done;
  if (ok) {
    bound[loop->var->id] = true;
    mark_inside(&loop->body, allocated, bound);
    block_accesses(&a, &loop->body);
    ok = !a.oom && !a.other && !referenced_outside(&k->body, loop, allocated);
  }
  for (int n = 0; ok && n < a.num_stores; n++) {
    const tcc_kbuf_t *buf = a.stores[n]->buf;
    if (allocated[buf->id] || done[buf->id]) continue;
    done[buf->id] = true;
    if (tcc_dtype_bits(buf->dtype) < 8) {
      ok = false;
      break;
    }
    /* a dim d that every store and load of buf inside addresses with the same shifted loop variable */
    bool found = false;
    for (int d = 0; d < buf->rank && !found; d++) {
      const tcc_kexpr_t *key = a.stores[n]->index[d];
      if (!shifted_var(key, loop->var, bound)) continue;
      bool all = true;
      for (int m = n + 1; m < a.num_stores && all; m++)
        if (a.stores[m]->buf == buf && !tcc_kexpr_equal(a.stores[m]->index[d], key)) all = false;
      for (int m = 0; m < a.num_loads && all; m++)
        if (a.loads[m]->buf == buf && !tcc_kexpr_equal(a.loads[m]->index[d], key)) all = false;
      found = all;
    }
    ok = found;
  }
  access_free(&a);
  free(allocated), free(bound), free(done);
  return ok;
}

bool tcc_schedule_loop_vectorizable(const tcc_kstmt_t *loop) {
  if (!loop || loop->kind != TCC_KSTMT_FOR || loop->body.count == 0) return false;
  for (size_t n = 0; n < loop->body.count; n++) {
    const tcc_kstmt_t *s = loop->body.stmts[n];
    if (s->kind != TCC_KSTMT_STORE || !tcc_kindex_contiguous(s->index, s->buf->rank, loop->var)) return false;
  }
  access_t a = {0};
  block_accesses(&a, &loop->body);
  bool ok = !a.oom && !a.other;
  for (int n = 0; ok && n < a.num_stores; n++) {
    const tcc_kstmt_t *s = a.stores[n];
    for (int m = 0; m < a.num_stores && ok; m++)
      if (a.stores[m]->buf == s->buf && !tcc_kindex_equal(a.stores[m]->index, s->index, s->buf->rank)) ok = false;
    for (int m = 0; m < a.num_loads && ok; m++)
      if (a.loads[m]->buf == s->buf && !tcc_kindex_equal(a.loads[m]->index, s->index, s->buf->rank)) ok = false;
  }
  access_free(&a);
  return ok;
}

/* ---- the schedule ---- */

static int64_t saturating_mul(int64_t a, int64_t b) {
  if (a <= 0 || b <= 0) return 0;
  return a > INT64_MAX / b ? INT64_MAX : a * b;
}

static int64_t extent_estimate(const tcc_kexpr_t *x) {
  if (x->kind == TCC_KEXPR_INT) return x->i;
  if (x->kind == TCC_KEXPR_DIM && tcc_dim_is_const(x->dim)) return tcc_dim_value(x->dim);
  return UNKNOWN_EXTENT;
}

static bool extent_known(const tcc_kexpr_t *x) {
  return x->kind == TCC_KEXPR_INT || (x->kind == TCC_KEXPR_DIM && tcc_dim_is_const(x->dim));
}

/* Innermost iterations of one run of blk (at least 1). */
static int64_t block_work(const tcc_kblock_t *blk) {
  int64_t sum = 0;
  for (size_t n = 0; n < blk->count; n++) {
    const tcc_kstmt_t *s = blk->stmts[n];
    int64_t w = 0;
    if (s->kind == TCC_KSTMT_FOR) w = saturating_mul(extent_estimate(s->extent), block_work(&s->body));
    else if (s->kind == TCC_KSTMT_IF) w = block_work(&s->body) + block_work(&s->orelse);
    sum = sum > INT64_MAX - w ? INT64_MAX : sum + w;
  }
  return sum > 0 ? sum : 1;
}

static bool has_loop(const tcc_kblock_t *blk) {
  for (size_t n = 0; n < blk->count; n++) {
    const tcc_kstmt_t *s = blk->stmts[n];
    if (s->kind == TCC_KSTMT_FOR) return true;
    if (s->kind == TCC_KSTMT_IF && (has_loop(&s->body) || has_loop(&s->orelse))) return true;
  }
  return false;
}

/* Marks blk's loops; returns whether it marked a PARALLEL loop. known_only: an enclosing loop of unknown
 * extent waits for the answer, so only loops of known extent may be marked here. */
static bool schedule_block(const tcc_kernel_t *k, tcc_kblock_t *blk, const tcc_cpu_schedule_options_t *o,
                           bool in_parallel, bool known_only) {
  bool marked = false;
  for (size_t n = 0; n < blk->count; n++) {
    tcc_kstmt_t *s = blk->stmts[n];
    if (s->kind == TCC_KSTMT_IF) {
      marked |= schedule_block(k, &s->body, o, in_parallel, known_only);
      marked |= schedule_block(k, &s->orelse, o, in_parallel, known_only);
      continue;
    }
    if (s->kind != TCC_KSTMT_FOR) continue;
    bool candidate = false, known = extent_known(s->extent);
    if (s->loop == TCC_KLOOP_SERIAL && !in_parallel && o->parallel && (known || !known_only)) {
      int64_t ext = extent_estimate(s->extent);
      int64_t work = saturating_mul(ext, block_work(&s->body));
      /* under a loop of unknown extent, any known extent of 2 or more beats a batch of 1 */
      candidate = (!known || ext >= (known_only ? 2 : o->threads)) &&
                  work >= saturating_mul(o->threads, o->min_task_elements > 0 ? o->min_task_elements : 1) &&
                  tcc_schedule_loop_parallelizable(k, s);
    }
    /* A loop of known extent is taken at once. One whose extent is a symbol (often a batch of 1) is taken
     * only when no loop of known extent inside it can be: those run in parallel whatever its value. */
    if (candidate && known) s->loop = TCC_KLOOP_PARALLEL;
    if (has_loop(&s->body)) {
      bool inner = schedule_block(k, &s->body, o, in_parallel || s->loop == TCC_KLOOP_PARALLEL,
                                  known_only || (candidate && !known));
      if (candidate && !known && !inner) s->loop = TCC_KLOOP_PARALLEL;
      marked |= inner || s->loop == TCC_KLOOP_PARALLEL;
      continue;
    }
    if (candidate && !known) s->loop = TCC_KLOOP_PARALLEL;
    marked |= s->loop == TCC_KLOOP_PARALLEL;
    if (s->loop == TCC_KLOOP_SERIAL && o->vectorize && o->vector_lanes > 1 &&
        (!known || extent_estimate(s->extent) >= o->vector_lanes) && tcc_schedule_loop_vectorizable(s))
      s->loop = TCC_KLOOP_VECTORIZED;
  }
  return marked;
}

tcc_status_t tcc_schedule_cpu(tcc_kernel_t *k, const tcc_cpu_schedule_options_t *o) {
  if (!k || !o) return tcc_status_make(TCC_INVALID_ARGUMENT, "tcc_schedule_cpu: no kernel or options");
  if (o->threads < 1 || o->vector_lanes < 1 || o->min_task_elements < 0)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "kernel '%s': schedule options need threads >= 1, vector_lanes >= 1 "
                           "and min_task_elements >= 0", k->name);
  (void)schedule_block(k, &k->body, o, false, false);
  return NULL;
}
