/* The module ABI: the versioned descriptor through which a compiled model.so describes itself.
 *
 * A module exports exactly one symbol, TCC_MODULE_QUERY_SYMBOL ("tcc_module_query"), a function taking
 * no arguments and returning a pointer to a constant tcc_module_desc_t. The descriptor starts with a
 * fixed header (magic, ABI version, struct size) that never changes layout, so a runtime can refuse a
 * module built for another ABI version before it reads anything else. Everything the runtime needs to
 * run the model is in the descriptor: the signature (inputs and outputs with dtypes and dims that are
 * constants or symbols), the host plan (kernel calls in order, each with its argument buffers), the
 * memory plan (arena buffers with offsets, static or computed per shape) and the weights (embedded, or an
 * external file beside the module).
 *
 * This header is included by generated module code and by the runtime: it depends on <stdint.h> only,
 * and it is plain data plus function pointers, so descriptors are static constant initializers. A module
 * is trusted code (the runtime calls its kernels); the loader still validates the descriptor so that a
 * code generator bug becomes a clear status, not a memory error.
 *
 * Dtype codes are ONNX TensorProto.DataType values (1 = float32, 7 = int64, 10 = float16, ...), the same
 * values as ir/dtype.h's tcc_dtype_t.
 */
#ifndef TCC_RUNTIME_MODULE_ABI_H
#define TCC_RUNTIME_MODULE_ABI_H

#include <stdint.h>

#define TCC_MODULE_MAGIC 0x4d434354u /* "TCCM", little-endian */
/* Bumped on every incompatible change of anything in this header. */
#define TCC_MODULE_ABI_VERSION 4u
#define TCC_MODULE_QUERY_SYMBOL "tcc_module_query"
/* Ranks above this are refused by the loader (the runtime's tensors hold dims inline). */
#define TCC_MODULE_MAX_RANK 16

/* Marks the query function as exported from a module built with -fvisibility=hidden. */
#define TCC_MODULE_EXPORT __attribute__((visibility("default")))

typedef struct tcc_module_desc tcc_module_desc_t;
typedef const tcc_module_desc_t *(*tcc_module_query_fn_t)(void);

/* A dimension: the constant `value` when symbol < 0, else the value of symbols[symbol] at run time. */
typedef struct {
  int64_t value;
  int32_t symbol;
} tcc_module_dim_t;

typedef struct {
  const char *name;
  int32_t dtype; /* ONNX code */
  int32_t rank;
  const tcc_module_dim_t *dims; /* rank entries (may be NULL for rank 0) */
} tcc_module_tensor_t;

/* Where a kernel argument (or an output's bytes) lives; `offset` is in bytes from that place's start. */
typedef enum {
  TCC_MODULE_ARG_INPUT = 0,  /* the caller's input `index` (read only) */
  TCC_MODULE_ARG_WEIGHT = 1, /* the weights blob (read only); index unused */
  TCC_MODULE_ARG_ARENA = 2,  /* arena buffer `index` of the memory plan */
  TCC_MODULE_ARG_KIND_COUNT
} tcc_module_arg_kind_t;

typedef struct {
  int32_t kind; /* tcc_module_arg_kind_t */
  int32_t index;
  int64_t offset;
} tcc_module_arg_t;

/* What a kernel receives besides its argument pointers. */
typedef int (*tcc_module_body_fn_t)(void *arg, int64_t begin, int64_t end);
typedef struct {
  const int64_t *symbols; /* the values of the module's symbols for this run, num_symbols entries */
  /* Runs body(arg, begin, end) over disjoint chunks covering [0, n) exactly once, on the runtime's
   * thread pool (the calling thread takes part); chunks hold at least `grain` indices (except the last).
   * Returns 0, or the first nonzero value a body returned (later chunks are then skipped). May be called
   * from inside a body (nested loops run without deadlock). */
  int (*parallel_for)(void *pool, int64_t n, int64_t grain, tcc_module_body_fn_t body, void *arg);
  void *pool;
  int32_t num_threads; /* threads parallel_for may use, the caller included */
} tcc_module_kernel_ctx_t;

/* A compiled kernel: args[i] points at argument i of its call. Returns 0, or a nonzero code the runtime
 * reports as a kernel failure (e.g. integer division by zero). */
typedef int (*tcc_module_kernel_fn_t)(void *const *args, const tcc_module_kernel_ctx_t *ctx);

/* A tensor map of a GPU call (sm_90's bulk tensor copies): the runtime encodes it before the launch
 * (cuTensorMapEncodeTiled) and passes it by value after the call's err argument, maps in order. It
 * describes the packed tensor at argument `arg` of the call as `rank` dims of `dtype` elements (an ONNX
 * code), innermost first, whose sizes for the run are the desc's call_dims outputs [dims, dims + rank)
 * (each dim's stride the product of the sizes before it), copied in boxes of box[] elements laid out in
 * shared memory with a swizzle of `swizzle` bytes (0, 32, 64 or 128). */
#define TCC_MODULE_MAX_MAP_RANK 5
typedef struct {
  int32_t arg, dtype, rank, swizzle, dims;
  int32_t box[TCC_MODULE_MAX_MAP_RANK];
} tcc_module_tensor_map_t;

/* One step of the host plan. */
typedef struct {
  const char *name; /* the kernel's name, for errors and profiles */
  tcc_module_kernel_fn_t fn; /* CPU modules; NULL in GPU modules */
  int32_t num_args;
  const tcc_module_arg_t *args;
  /* GPU modules: the kernel entry in the module's images, `void gpu_entry(arg0, ..., argN-1, ctx, err)`
   * (device pointers; ctx a device copy of tcc_module_kernel_ctx_t whose symbols are on the device too,
   * err an int32 the kernel ORs its failure code into), launched as gpu_grid blocks of gpu_block threads;
   * gpu_grid 0: as many blocks as the device holds resident (the kernel strides over its work; whole
   * clusters for a kernel whose PTX fixes its cluster size), with
   * gpu_shared bytes of dynamic shared memory. */
  const char *gpu_entry;
  int32_t gpu_block, gpu_grid, gpu_shared;
  /* ABI version 3: the tensor maps the GPU entry takes after err; version 4: a condition: when if_dim > 0 the
   * call runs only in the runs whose call_dims output if_dim - 1 lies in [if_min, if_max] (one of several
   * variants of a kernel, each made for a range of sizes; 0: it always runs) */
  int32_t num_tensor_maps;
  const tcc_module_tensor_map_t *tensor_maps;
  int32_t if_dim;
  int64_t if_min, if_max;
} tcc_module_call_t;

/* Where a module's kernels run. */
typedef enum { TCC_MODULE_DEVICE_CPU = 0, TCC_MODULE_DEVICE_CUDA = 1 } tcc_module_device_t;

/* The kernels of a GPU module for one architecture: PTX text (NUL-terminated; the driver compiles it for
 * any device of at least that architecture) or a cubin (machine code for exactly that architecture). */
typedef enum { TCC_MODULE_IMAGE_PTX = 0, TCC_MODULE_IMAGE_CUBIN = 1 } tcc_module_image_kind_t;
typedef struct {
  const char *arch; /* "sm_80", "sm_90a", ... */
  int32_t kind;     /* tcc_module_image_kind_t */
  const void *data;
  int64_t bytes;
} tcc_module_gpu_image_t;

/* Fills symbols the inputs do not bind (e.g. `2*seq + 1` of an output) from those they do; returns 0,
 * or nonzero when the bound values are invalid for the model. */
typedef int (*tcc_module_derive_fn_t)(int64_t *symbols);
/* The memory plan for one binding of the symbols: offsets[i] of each arena buffer and the arena's size
 * in bytes. Returns 0, or nonzero when the sizes overflow. */
typedef int (*tcc_module_plan_fn_t)(const int64_t *symbols, int64_t *offsets, int64_t *arena_bytes);
/* Stores sizes that depend on the symbols into out. */
typedef void (*tcc_module_dims_fn_t)(const int64_t *symbols, int64_t *out);

struct tcc_module_desc {
  /* ---- fixed header: the same layout in every ABI version ---- */
  uint32_t magic;       /* TCC_MODULE_MAGIC */
  uint32_t abi_version; /* TCC_MODULE_ABI_VERSION the module was built for */
  uint32_t struct_size; /* sizeof(tcc_module_desc_t) as the module saw it */
  uint32_t reserved;

  /* ---- ABI version 1 ---- */
  const char *name;     /* the model's name */
  const char *target;   /* "x86-64-v4", "aarch64", ... */
  const char *producer; /* "tcc 0.1.0" */

  int32_t num_symbols;
  const char *const *symbols; /* names ("batch", "seq"); dims refer to them by index */
  tcc_module_derive_fn_t derive; /* NULL when every symbol appears in an input dim */

  int32_t num_inputs, num_outputs;
  const tcc_module_tensor_t *inputs;
  const tcc_module_tensor_t *outputs;
  const tcc_module_arg_t *output_sources; /* where each output's bytes are after the last call */

  int32_t num_calls;
  const tcc_module_call_t *calls;

  /* Memory plan: arena buffer i lives at offsets[i] of an arena of arena_bytes (static shapes), or at the
   * offsets `plan` computes for the run's symbols (plan != NULL). Offsets are multiples of
   * arena_alignment (a power of two, at most 4096); the arena's base is aligned to it. */
  int32_t num_arena_buffers;
  const int64_t *arena_offsets;
  int64_t arena_bytes;
  int64_t arena_alignment;
  tcc_module_plan_fn_t plan;

  /* Weights: `weights` (embedded, read only) or, when weights is NULL and weights_bytes > 0, the file
   * `weights_file` — a plain name or a relative path without "..", resolved against the module's
   * directory and mapped read only at load — of exactly weights_bytes bytes. */
  const void *weights;
  const char *weights_file;
  int64_t weights_bytes;

  /* ---- ABI version 2 ---- */
  /* A GPU module (device TCC_MODULE_DEVICE_CUDA) holds its kernels in gpu_images; the runtime loads the
   * cubin of the device's architecture, else JIT-compiles the PTX of the newest architecture the device
   * has, uploads the weights once per session and runs arena and inputs in device memory. */
  int32_t device; /* tcc_module_device_t */
  int32_t num_gpu_images;
  const tcc_module_gpu_image_t *gpu_images;

  /* ---- ABI version 3 (4: call_dims replaces map_dims) ---- */
  /* The sizes the calls' tensor maps and conditions refer to: call_dims(symbols, out) fills num_call_dims
   * values for a run (NULL when no call refers to one). */
  int32_t num_call_dims;
  tcc_module_dims_fn_t call_dims;
};

#endif
