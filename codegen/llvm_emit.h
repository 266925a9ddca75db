/* The LLVM emitter: kernel IR (ir/kernel.h) -> LLVM IR through the LLVM C API, then verified, optimized
 * (new pass manager, "default<O3>") and written as LLVM IR, assembly or an object for a CPU target.
 *
 *   tcc_llvm_emitter_t *e;
 *   TCC_RETURN_IF_ERROR(tcc_llvm_emitter_create("model", NULL, NULL, &e));
 *   const char *sym;
 *   TCC_RETURN_IF_ERROR(tcc_llvm_emit_kernel(e, kernel, &sym));        // once per kernel
 *   TCC_RETURN_IF_ERROR(tcc_llvm_emitter_finish(e, "x86-64-v4", true));  // verify, target, O3
 *   TCC_RETURN_IF_ERROR(tcc_llvm_emitter_write(e, "x86-64-v4", TCC_EMIT_OBJ, "model.o"));
 *   tcc_llvm_emitter_destroy(e);
 *
 * The kernel ABI. Each kernel becomes two external functions:
 *   int32_t SYM(void *p0, ..., void *pN-1, const tcc_module_kernel_ctx_t *ctx);
 *   int32_t SYM_packed(void *const *params, const tcc_module_kernel_ctx_t *ctx);   (params[i] = pi)
 * SYM_packed is a module kernel (runtime/module_abi.h's tcc_module_kernel_fn_t); ctx must not be NULL.
 * p0.. are the kernel's parameters in order (inputs then outputs, as ir/compute.h builds them): dense,
 * row-major, little-endian element arrays laid out exactly as tcc_kernel_eval takes them (4-bit types two
 * per byte, low nibble first; bool one byte 0/1; f16/bf16 as their 16 bits; float8 one byte). Pointers
 * need no alignment beyond the element's. Parameters are not marked noalias (memory planning may let an
 * output reuse an input's block). syms = ctx->symbols holds the run-time values of the symbols that sizes use (`batch`):
 * syms[i] is the symbol tcc_llvm_emitter_symbol(e, i) names; one table per LLVM module, shared by all its
 * kernels; NULL is allowed when no kernel uses a symbol. Sizes are evaluated once per call, in i64.
 *
 * Semantics are those of the reference evaluator (ir/kernel_eval.h): integers wrap at their width (4-bit
 * and bool values are LLVM i4 / i1); f32 and f64 arithmetic in that precision with no fast-math flags (no
 * reassociation, no contraction into FMA), so results are bit-identical except where libm is called
 * (exp, log, tanh, sin, pow ... call the C library's expf/exp etc., the very functions the evaluator
 * calls); f16, bf16, float8 and float4 values are f32 in registers, rounded to nearest even by casts and
 * stores with the evaluator's encodings (its NaN, infinity and saturation rules); float -> int casts
 * truncate, with NaN and out-of-range giving the minimum (signed) or 0 (unsigned); 4-bit casts saturate.
 * SELECT whose arms read memory or divide integers evaluates only the taken arm (as the evaluator does),
 * otherwise it is an LLVM select. BARRIER is a no-op on CPUs; UNROLLED and GPU loop kinds are serial loops.
 *
 * PARALLEL loops. The loop body becomes an internal function `int32_t body(void *env, int64_t begin,
 * int64_t end)` running iterations [begin, end); env is a stack struct of what the body sees from the
 * enclosing function (ctx, parameter and shared temporary pointers, enclosing loop variables), sizes and
 * strides are recomputed from ctx->symbols inside. The kernel calls ctx->parallel_for(ctx->pool, extent,
 * grain, body, env) (nothing when extent <= 0). A body ORs its error bits into a slot of env (atomically)
 * and returns 0, so every chunk runs, as in a serial loop; the slot and parallel_for's result are OR'ed into
 * the kernel's result. Temporaries allocated (ALLOC) inside the loop are private to each chunk (and zeroed
 * at their ALLOC as always); those allocated outside are shared: the schedule (codegen/schedule_cpu.h)
 * marks only loops whose iterations write disjoint elements. A PARALLEL loop inside an outlined body runs
 * serially.
 *
 * VECTORIZED loops, when tcc_schedule_loop_vectorizable holds (the body is stores whose indices are
 * contiguous in the loop variable, no element read back from another iteration), bounds_check is off and
 * every value and buffer is f32, f64, bool, f16, bf16 or an integer of 8 bits or more: the loop runs
 * `lanes` iterations at a time with LLVM vectors, then a scalar remainder loop. Contiguous loads and stores
 * are vector memory operations (f16/bf16 converted lane by lane); values that do not depend on the loop
 * variable are broadcast; other loads (gathers), lazy selects, libm calls, float <-> int conversions and
 * integer division are computed lane by lane with the scalar code, in lane order. Lanes are independent
 * elements and no fast-math flag is added, so results are the serial loop's bit for bit. Otherwise (float8,
 * float4, 4-bit integers, ...) the loop is emitted serially. A PARALLEL loop that passes the same test (an
 * innermost loop) runs each of its chunks that way.
 *
 * Errors are return values, never traps. The result is 0 or an OR of the TCC_KERNEL_ERR_* bits:
 * - an integer division or modulo by zero gives 0 for that element and sets TCC_KERNEL_ERR_DIV_ZERO
 *   (the evaluator stops with a status; compiled code finishes the kernel and reports);
 * - with options.bounds_check, an index out of range sets TCC_KERNEL_ERR_BOUNDS, its load gives 0 and its
 *   store is skipped (default off: compute definitions are verified against the evaluator, which checks);
 * - temporaries (ALLOC) live on the stack up to 64 KiB with constant sizes, else are malloc'ed on entry
 *   and freed on return; a failed malloc returns TCC_KERNEL_ERR_NOMEM before anything runs;
 * - CALL calls the extern `int32_t callee(void *buf0, ..., int64_t s0, ...)` (declared, resolved at link
 *   time); a nonzero result sets TCC_KERNEL_ERR_EXTERN and the kernel continues.
 *
 * Ownership and thread-safety: an emitter owns its LLVM module (and context, unless one is given); use it
 * from one thread. Kernels are only read; they must outlive nothing (the emitter copies what it needs).
 */
#ifndef TCC_CODEGEN_LLVM_EMIT_H
#define TCC_CODEGEN_LLVM_EMIT_H

#include <stdbool.h>

#include <llvm-c/Core.h>

#include "base/status.h"
#include "ir/kernel.h"
#include "runtime/module_abi.h"

enum {
  TCC_KERNEL_ERR_DIV_ZERO = 1,
  TCC_KERNEL_ERR_BOUNDS = 2,
  TCC_KERNEL_ERR_NOMEM = 4,
  TCC_KERNEL_ERR_EXTERN = 8,
};

typedef enum { TCC_EMIT_LLVM, TCC_EMIT_ASM, TCC_EMIT_OBJ } tcc_emit_kind_t;

typedef struct {
  bool bounds_check; /* check every index (see above); VECTORIZED loops then run as serial loops */
  /* VECTORIZED loops: lanes per vector (a power of two up to 64; 1: serial loops); 0: the lanes of
   * `target` (tcc_llvm_target_vector_lanes), or 4 when target is NULL. */
  int vector_lanes;
  const char *target;
  /* PARALLEL loops: the innermost iterations a parallel_for chunk should hold at least (the grain passed
   * is this divided by the iterations of one step of the loop, counting loops whose extents are known
   * before it starts); 0: 8192. */
  int64_t parallel_min_work;
  /* NVPTX kernels for the GPU targets (sm_80 ...): each kernel also gets `void SYM_gpu(p0, ..., pN-1,
   * const tcc_module_kernel_ctx_t *ctx, int32_t *err)`, a kernel entry (SYM itself becomes internal) whose
   * pointers are device addresses (ctx->symbols too; its other fields are unused) and which ORs a non-zero
   * result into *err. When the kernel's top level is temporaries and one PARALLEL loop, that loop's
   * iterations spread over the grid (i = block * block size + thread, stepping by the grid's threads, so
   * any launch shape covers them); otherwise thread 0 of block 0 runs the whole kernel. Other PARALLEL
   * loops run serially, libm calls become libdevice's __nv_ functions (linked by tcc_llvm_emitter_finish
   * from the CUDA toolkit, or TCC_LIBDEVICE), and CALLs of runtime functions are unsupported. */
  bool gpu;
} tcc_llvm_emit_options_t;

/* A tensor map (sm_90's bulk tensor copies, TMA) a GPU kernel takes by value after its err parameter:
 * the packed tensor at the kernel's argument `arg` (a call argument index) seen as `rank` dims of `dtype`
 * elements, innermost first (each dim's stride the product of those before it), copied in boxes of
 * box[] elements laid out in shared memory with the given swizzle (0 or 128 bytes). The runtime encodes
 * it for the buffer's address and the run's dims. */
enum { TCC_GPU_MAX_TENSOR_MAPS = 2, TCC_GPU_MAX_MAP_RANK = 3 };
typedef struct {
  int32_t arg, rank, swizzle;
  tcc_dtype_t dtype;
  const tcc_dim_t *dims[TCC_GPU_MAX_MAP_RANK];
  int32_t box[TCC_GPU_MAX_MAP_RANK];
} tcc_gpu_tensor_map_t;

/* How a GPU kernel is launched: threads per block, blocks (0: as many as the device holds resident, for
 * a kernel that strides over its work), bytes of dynamic shared memory, the tensor maps it takes, and
 * when `size` is not NULL, the runs it is launched in: those where size (of the symbols) lies in
 * [size_min, size_max] (one of a node's kernels made for different sizes). */
typedef struct {
  int32_t block, grid, shared_bytes;
  int32_t num_maps;
  tcc_gpu_tensor_map_t maps[TCC_GPU_MAX_TENSOR_MAPS];
  const tcc_dim_t *size;
  int64_t size_min, size_max;
} tcc_gpu_launch_t;

/* A GPU kernel: its entry in the module and its launch. */
typedef struct {
  char entry[256];
  tcc_gpu_launch_t launch;
} tcc_gpu_kernel_t;

/* Whether the GPU entry of k spreads its work over the whole grid (a grid-stride loop: launch as many
 * blocks as fit), or runs on thread 0 of block 0 (launch one thread). */
bool tcc_llvm_gpu_kernel_strides(const tcc_kernel_t *k);

/* Lanes of 32-bit elements in the widest vector registers of the CPU target (codegen/target.h):
 * 16 for x86-64-v4 and znver4 (AVX-512), 8 for x86-64-v3 (AVX2), 4 for AArch64 (NEON); "native" asks
 * LLVM about the host; 4 for unknown names. */
int tcc_llvm_target_vector_lanes(const char *target);

typedef struct tcc_llvm_emitter tcc_llvm_emitter_t;

/* Creates an emitter with an empty module called name. ctx: the LLVM context to build in (a JIT's
 * thread-safe context), or NULL for a private one. options NULL: the defaults (all false). */
TCC_MUST_USE tcc_status_t tcc_llvm_emitter_create(const char *name, LLVMContextRef ctx,
                                                  const tcc_llvm_emit_options_t *options, tcc_llvm_emitter_t **out);
void tcc_llvm_emitter_destroy(tcc_llvm_emitter_t *e);

/* Verifies k (tcc_kernel_verify) and adds its functions to the module. *symbol (may be NULL) receives the
 * function's name, owned by the emitter: k->name with characters outside [A-Za-z0-9_] replaced by '_',
 * made unique in the module with a numeric suffix. TCC_UNSUPPORTED naming the kernel for what the emitter
 * cannot express (string or complex dtypes); the module is unchanged then. */
TCC_MUST_USE tcc_status_t tcc_llvm_emit_kernel(tcc_llvm_emitter_t *e, const tcc_kernel_t *k, const char **symbol);

/* The run-time symbols the module's sizes use, in syms[] order. */
int tcc_llvm_emitter_num_symbols(const tcc_llvm_emitter_t *e);
const char *tcc_llvm_emitter_symbol(const tcc_llvm_emitter_t *e, int i);

/* Registers a run-time symbol (an input's dim) so that it gets a slot in syms[] even when no size uses
 * it; returns its index, or -1 when out of memory. */
int tcc_llvm_emitter_add_symbol(tcc_llvm_emitter_t *e, const char *name);
/* Builds the i64 value of dim at b's position from syms (a `const int64_t *` value); templates that
 * build LLVM IR directly use it. */
TCC_MUST_USE tcc_status_t tcc_llvm_emit_dim(tcc_llvm_emitter_t *e, LLVMBuilderRef b, LLVMValueRef syms,
                                            const tcc_dim_t *dim, LLVMValueRef *out);
/* Adds `void name(const int64_t *syms, int64_t *out)` that stores dims[i] into out[i] (the packager's
 * per-shape sizes). */
TCC_MUST_USE tcc_status_t tcc_llvm_emit_dims_fn(tcc_llvm_emitter_t *e, const char *name, int n,
                                                const tcc_dim_t *const *dims);

/* Sets the module's triple and data layout for the CPU target (codegen/target.h), runs LLVMVerifyModule
 * (TCC_INTERNAL with LLVM's message on failure) and, when optimize, the "default<O3>" pipeline. */
TCC_MUST_USE tcc_status_t tcc_llvm_emitter_finish(tcc_llvm_emitter_t *e, const char *target, bool optimize);

/* Writes the module to path: LLVM IR text, assembly or an ELF object for the target (call finish first). */
TCC_MUST_USE tcc_status_t tcc_llvm_emitter_write(tcc_llvm_emitter_t *e, const char *target, tcc_emit_kind_t kind,
                                                 const char *path);

/* The module, still owned by the emitter unless taken: tcc_llvm_emitter_take_module transfers it (a JIT
 * takes it); the emitter must not be used for emission afterwards, only destroyed. */
LLVMModuleRef tcc_llvm_emitter_module(tcc_llvm_emitter_t *e);
LLVMModuleRef tcc_llvm_emitter_take_module(tcc_llvm_emitter_t *e);

#endif
