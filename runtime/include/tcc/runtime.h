/* tcc/runtime.h — load a compiled tcc module (model.so), query its signature, run it.
 *
 * Tutorial:
 *   tcc_rt_module_t *m;
 *   tcc_status_t st = tcc_rt_module_load("model.so", NULL, &m);   // dlopen + ABI check + weights
 *   if (st) { fprintf(stderr, "%s\n", tcc_status_message(st)); tcc_status_free(st); return 1; }
 *
 *   tcc_rt_session_t *s;
 *   st = tcc_rt_session_create(m, NULL, &s);                      // default pool and allocator
 *
 *   int64_t x_dims[] = {2, 4};
 *   tcc_rt_tensor_t in[1] = {tcc_rt_tensor(x, sizeof x, TCC_RT_F32, 2, x_dims)};
 *   tcc_rt_tensor_t out[1] = {{.data = y, .bytes = sizeof y}};    // or .data = NULL: session-owned
 *   st = tcc_rt_session_run(s, in, 1, out, 1);                    // out[0].dtype/rank/dims filled in
 *
 *   tcc_rt_session_destroy(s);
 *   tcc_rt_module_release(m);
 *
 * Inputs are passed in the module's order (tcc_rt_module_input_index finds one by name). Every input is
 * checked before any kernel runs — count, dtype, rank, each dim against the module's constant or
 * symbol (the first input that mentions a symbol binds it; later ones must agree), byte size — and
 * outputs' buffers are checked against the shapes the binding gives; each failure is a status naming the
 * tensor (TCC_INVALID_ARGUMENT). The arena the memory plan asks for is allocated per shape and reused.
 *
 * Threads: TCC_NUM_THREADS sets the default pool's size (default: the online cores).
 *
 * Thread-safety:
 *   - tcc_rt_module_t is immutable once loaded: query it and create sessions from any threads. It is
 *     reference counted: each session holds a reference, so releasing the module while sessions live is
 *     allowed (it is unloaded when the last one is destroyed).
 *   - tcc_rt_session_t is used by one thread at a time (run is not reentrant); sessions of the same
 *     module run concurrently. Session-owned output buffers are valid until the next run or destroy.
 *   - tcc_rt_pool_t: parallel_for may be called from any threads at once, and from inside a body;
 *     destroy only when no call is in flight and no session uses the pool.
 */
#ifndef TCC_RUNTIME_H
#define TCC_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/alloc.h"
#include "base/status.h"

#define TCC_RT_MAX_RANK 16

/* Element types: ONNX TensorProto.DataType codes (the values of ir/dtype.h's tcc_dtype_t). */
enum {
  TCC_RT_F32 = 1, TCC_RT_U8 = 2, TCC_RT_I8 = 3, TCC_RT_U16 = 4, TCC_RT_I16 = 5, TCC_RT_I32 = 6, TCC_RT_I64 = 7,
  TCC_RT_BOOL = 9, TCC_RT_F16 = 10, TCC_RT_F64 = 11, TCC_RT_U32 = 12, TCC_RT_U64 = 13, TCC_RT_BF16 = 16,
};
/* "f32", "i64", ...; "?" for codes the runtime does not know. */
const char *tcc_rt_dtype_name(int32_t dtype);
/* Bits per element; 0 for unknown codes and types without a fixed size (string). */
int tcc_rt_dtype_bits(int32_t dtype);
/* Bytes of n elements (4-bit types two per byte); -1 for unknown types or overflow. */
int64_t tcc_rt_dtype_bytes(int32_t dtype, int64_t n);

/* A dense row-major tensor. For inputs: data, bytes (at least what the dims need), dtype, rank, dims.
 * For outputs: data = a caller buffer of `bytes` capacity, or NULL to receive a session-owned, read-only
 * view (valid until the next run or destroy: set data back to NULL before reusing the array, or the
 * stale view is taken for a caller buffer); run fills data (when NULL), bytes, dtype, rank and dims. */
typedef struct {
  void *data;
  size_t bytes;
  int32_t dtype;
  int32_t rank;
  int64_t dims[TCC_RT_MAX_RANK];
} tcc_rt_tensor_t;

/* An input tensor over caller memory (dims copied; rank above TCC_RT_MAX_RANK is clamped, and the
 * module's rank check then rejects it). */
tcc_rt_tensor_t tcc_rt_tensor(const void *data, size_t bytes, int32_t dtype, int32_t rank, const int64_t *dims);

/* ---- thread pool ---- */

typedef struct tcc_rt_pool tcc_rt_pool_t;
typedef int (*tcc_rt_body_fn_t)(void *arg, int64_t begin, int64_t end);

/* Creates a pool that runs parallel_for on num_threads threads (the caller included, so num_threads - 1
 * workers). num_threads 0: TCC_NUM_THREADS if set (a positive integer, else TCC_INVALID_ARGUMENT), or
 * the online cores. allocator NULL: the system allocator. *out is NULL on failure. */
TCC_MUST_USE tcc_status_t tcc_rt_pool_create(int num_threads, const tcc_allocator_t *allocator, tcc_rt_pool_t **out);
/* Stops and joins the workers, frees the pool. NULL is a no-op. */
void tcc_rt_pool_destroy(tcc_rt_pool_t *pool);
/* The process-wide pool sessions use by default, created on first use with num_threads 0 (shut down
 * when the runtime is unloaded or the process exits). */
TCC_MUST_USE tcc_status_t tcc_rt_pool_default(tcc_rt_pool_t **out);
int tcc_rt_pool_num_threads(const tcc_rt_pool_t *pool);
/* Runs body(arg, begin, end) over disjoint chunks that cover [0, n) exactly once; each chunk holds at
 * least max(grain, 1) indices except the last, and about n / (4 * threads) when that is more. The calling
 * thread takes part and returns when every chunk is done. Returns 0, or the first nonzero value a body
 * returned (chunks not yet started are then skipped). n <= 0 returns 0 at once. Safe from any threads at
 * once and from inside a body (a nested call never deadlocks). */
int tcc_rt_parallel_for(tcc_rt_pool_t *pool, int64_t n, int64_t grain, tcc_rt_body_fn_t body, void *arg);

/* ---- memory planning ---- */

/* Places n buffers in one arena so that buffers live at the same time never overlap: buffer i holds
 * sizes[i] bytes and lives from call first[i] to call last[i] (inclusive). Writes offsets[i] (multiples
 * of alignment, a power of two) and the arena's size. Largest first, best fit: what modules whose sizes
 * depend on symbols call from their plan function, once per shape. Returns 0, or -1 for a bad size or
 * alignment, or when out of memory. Thread-safe. */
int tcc_rt_plan_buffers(int n, const int64_t *sizes, const int32_t *first, const int32_t *last, int64_t alignment,
                        int64_t *offsets, int64_t *arena_bytes);

/* ---- modules ---- */

typedef struct tcc_rt_module tcc_rt_module_t;
struct tcc_module_desc; /* runtime/module_abi.h */

/* Loads the module at `path` (dlopen, RTLD_NOW | RTLD_LOCAL): finds its query symbol, checks the ABI
 * version (TCC_UNSUPPORTED naming both versions on a mismatch) and the descriptor (TCC_INVALID_MODEL),
 * and maps external weights. allocator NULL: the system allocator. *out is NULL on failure. */
TCC_MUST_USE tcc_status_t tcc_rt_module_load(const char *path, const tcc_allocator_t *allocator, tcc_rt_module_t **out);
/* The same for a descriptor already in the process (a model linked into the application); external
 * weights are resolved against weights_dir (NULL: the current directory). `desc` must outlive the
 * module. */
TCC_MUST_USE tcc_status_t tcc_rt_module_from_desc(const struct tcc_module_desc *desc, const char *weights_dir,
                                                  const tcc_allocator_t *allocator, tcc_rt_module_t **out);
/* Drops the caller's reference; the module is unloaded once no session holds it. NULL is a no-op. */
void tcc_rt_module_release(tcc_rt_module_t *m);

const char *tcc_rt_module_name(const tcc_rt_module_t *m);
const char *tcc_rt_module_target(const tcc_rt_module_t *m);
const struct tcc_module_desc *tcc_rt_module_desc(const tcc_rt_module_t *m);

/* The signature. dims[i] is the constant size, or -1 with dim_symbols[i] naming the symbol. */
typedef struct {
  const char *name;
  int32_t dtype;
  int32_t rank;
  int64_t dims[TCC_RT_MAX_RANK];
  const char *dim_symbols[TCC_RT_MAX_RANK];
} tcc_rt_tensor_info_t;
int tcc_rt_module_num_inputs(const tcc_rt_module_t *m);
int tcc_rt_module_num_outputs(const tcc_rt_module_t *m);
/* Fills *info; false when i is out of range. */
bool tcc_rt_module_input(const tcc_rt_module_t *m, int i, tcc_rt_tensor_info_t *info);
bool tcc_rt_module_output(const tcc_rt_module_t *m, int i, tcc_rt_tensor_info_t *info);
/* Index of the input/output named `name`, or -1. */
int tcc_rt_module_input_index(const tcc_rt_module_t *m, const char *name);
int tcc_rt_module_output_index(const tcc_rt_module_t *m, const char *name);

/* ---- sessions ---- */

typedef struct tcc_rt_session tcc_rt_session_t;
typedef struct {
  const tcc_allocator_t *allocator; /* NULL: the system allocator */
  tcc_rt_pool_t *pool;              /* NULL: tcc_rt_pool_default(); must outlive the session */
  bool profile;                     /* time every kernel call (tcc_rt_session_call_profile) */
  int gpu_device;                   /* GPU modules: the CUDA device ordinal (default 0) */
} tcc_rt_session_options_t;

/* A session: the arena and per-shape plans of one stream of runs. Holds a reference to m. options NULL:
 * the defaults. *out is NULL on failure.
 * A GPU module's session (compiled for sm_80 ...) opens the CUDA driver (libcuda.so.1, through dlopen),
 * takes the primary context of device options.gpu_device, loads the module's kernels (the cubin of the
 * device's architecture, else its PTX, compiled by the driver) and uploads the weights; without a driver
 * or GPU this is TCC_UNSUPPORTED saying so. Its runs take and give host tensors: inputs are copied to
 * the device, the kernels run as a CUDA graph captured once per shape, outputs are copied back. Driver
 * errors are statuses carrying the driver's message. */
TCC_MUST_USE tcc_status_t tcc_rt_session_create(tcc_rt_module_t *m, const tcc_rt_session_options_t *options,
                                                tcc_rt_session_t **out);
/* Checks the inputs and output buffers (nothing runs when one is wrong), binds the symbols, takes the
 * memory plan for this shape (computed once per shape and cached), runs the kernel calls in order and
 * copies each output into its caller buffer or hands out a session-owned one. */
TCC_MUST_USE tcc_status_t tcc_rt_session_run(tcc_rt_session_t *s, const tcc_rt_tensor_t *inputs, int num_inputs,
                                             tcc_rt_tensor_t *outputs, int num_outputs);
/* The value a symbol had in the last successful run; false when unknown or not yet bound. */
bool tcc_rt_session_symbol(const tcc_rt_session_t *s, const char *symbol, int64_t *value);
/* With options.profile: call i of the host plan (0 <= i < the module's calls) — its kernel's name, the
 * wall time its calls took over all runs so far, and how many times it ran; false when out of range or
 * not profiling. */
bool tcc_rt_session_call_profile(const tcc_rt_session_t *s, int i, const char **name, double *total_ms, int64_t *runs);
/* "cpu", or the name of the GPU a GPU module's session runs on. */
const char *tcc_rt_session_device(const tcc_rt_session_t *s);
/* GPU modules: the device time of the last run in ms (CUDA events around the input copies, the kernels
 * and the output copies); false for CPU modules or before a run. */
bool tcc_rt_session_gpu_ms(const tcc_rt_session_t *s, double *ms);
/* Statistics: plans computed (cache misses) and the arena's current size in bytes. */
int64_t tcc_rt_session_plans_computed(const tcc_rt_session_t *s);
int64_t tcc_rt_session_arena_bytes(const tcc_rt_session_t *s);
void tcc_rt_session_destroy(tcc_rt_session_t *s);

#endif
