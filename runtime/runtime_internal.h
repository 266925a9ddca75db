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
  int32_t max_tensor_maps;      /* ... and num_tensor_maps */
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

/* The device side of a session of a GPU module (runtime/session_gpu.c): the CUDA context and stream, the
 * module's kernels, the weights, the inputs' and the arena's device memory, and a CUDA graph per shape. */
typedef struct tcc_rt_gpu tcc_rt_gpu_t;

/* Opens the driver and device `ordinal`, loads the image of m that fits it and uploads the weights. */
TCC_MUST_USE tcc_status_t tcc_rt_gpu_create(const tcc_rt_module_t *m, int ordinal, bool profile, tcc_rt_gpu_t **out);
void tcc_rt_gpu_destroy(tcc_rt_gpu_t *g);
/* Runs m's calls for one binding of the symbols: copies the inputs (in_bytes[i] bytes of inputs[i]) to the
 * device, runs the plan (a CUDA graph replayed per shape; launch by launch when profiling) and copies
 * output i's out_bytes[i] bytes into outputs[i].data, or into a session-owned host buffer it points
 * outputs[i].data at when that is NULL. */
TCC_MUST_USE tcc_status_t tcc_rt_gpu_run(tcc_rt_gpu_t *g, const tcc_rt_plan_entry_t *plan, const int64_t *symbols,
                                         const tcc_rt_tensor_t *inputs, const int64_t *in_bytes,
                                         tcc_rt_tensor_t *outputs, const int64_t *out_bytes);
/* The device time of the last run (CUDA events from the first input copy to the last output copy). */
double tcc_rt_gpu_last_ms(const tcc_rt_gpu_t *g);
/* With profiling: call i's total device time over all runs. */
double tcc_rt_gpu_call_ms(const tcc_rt_gpu_t *g, int i);
const char *tcc_rt_gpu_device_name(const tcc_rt_gpu_t *g);

/* The address of `bytes` bytes at arg (an input, the weights or an arena buffer of `plan`), each place
 * starting at the address `base` gives for it (host or device) and holding `size` bytes; checked to lie
 * inside. An empty arena (base 0) gives 0. */
typedef struct {
  const uintptr_t *input;
  const int64_t *input_bytes;
  uintptr_t weights, arena;
} tcc_rt_places_t;
TCC_MUST_USE tcc_status_t tcc_rt_resolve(const tcc_module_desc_t *d, const tcc_rt_places_t *places,
                                         const tcc_rt_plan_entry_t *plan, const tcc_module_arg_t *arg, int64_t bytes,
                                         const char *what, uintptr_t *out);

/* The int-returning parallel_for of the kernel context (pool is a tcc_rt_pool_t). */
int tcc_rt_pool_parallel_for_ctx(void *pool, int64_t n, int64_t grain, tcc_module_body_fn_t body, void *arg);

#endif
