/* Internal structures shared by the runtime's files (not installed). */
#ifndef TCC_RUNTIME_INTERNAL_H
#define TCC_RUNTIME_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/module_abi.h"
#include "tcc/runtime.h"

struct tcc_rt_module {
  tcc_allocator_t allocator;
  atomic_int refs;              /* the loader's reference + one per session */
  const tcc_module_desc_t *desc;
  void *dl_handle;              /* NULL for tcc_rt_module_from_desc */
  char *path;                   /* for messages: the module file, or "<name>" for an in-process descriptor */
  const void *weights;          /* desc->weights, or the mapped external file */
  void *weights_map;            /* the mapping to munmap, or NULL */
  int64_t weights_map_bytes;
  /* Which input dim first mentions each symbol (num_symbols entries; input -1: none, derived). */
  int32_t *symbol_input, *symbol_dim;
  int32_t max_args;             /* the largest num_args of a call */
};

/* A cached memory plan for one binding of the symbols. */
typedef struct {
  int64_t *symbols;  /* num_symbols values: the key */
  int64_t *offsets;  /* num_arena_buffers */
  int64_t arena_bytes;
  uint64_t last_used;
} tcc_rt_plan_entry_t;

#define TCC_RT_PLAN_CACHE_SIZE 8

/* The arena and plan cache of a session (runtime/arena.c). */
typedef struct {
  tcc_allocator_t allocator;
  void *block;       /* what the allocator returned */
  uint8_t *base;     /* block aligned up */
  int64_t capacity;  /* usable bytes at base */
  tcc_rt_plan_entry_t plans[TCC_RT_PLAN_CACHE_SIZE];
  int num_plans;
  uint64_t clock;
  int64_t plans_computed;
} tcc_rt_arena_t;

void tcc_rt_arena_init(tcc_rt_arena_t *a, tcc_allocator_t allocator);
void tcc_rt_arena_deinit(tcc_rt_arena_t *a);
/* Makes at least `bytes` usable at an `alignment`-aligned base (contents are not kept). */
TCC_MUST_USE tcc_status_t tcc_rt_arena_reserve(tcc_rt_arena_t *a, int64_t bytes, int64_t alignment);
/* The memory plan of module m for `symbols` (m's num_symbols values), from the cache or computed and
 * checked (offsets aligned, inside the arena). The entry stays valid until the next call. */
TCC_MUST_USE tcc_status_t tcc_rt_arena_plan(tcc_rt_arena_t *a, const tcc_rt_module_t *m, const int64_t *symbols,
                                            const tcc_rt_plan_entry_t **out);

/* The int-returning parallel_for of the kernel context (pool is a tcc_rt_pool_t). */
int tcc_rt_pool_parallel_for_ctx(void *pool, int64_t n, int64_t grain, tcc_module_body_fn_t body, void *arg);

#endif
