/* Building blocks for the CPU templates (codegen/cpu_gemm.c, cpu_rows.c) that write LLVM vector IR
 * directly instead of going through the kernel IR: constants and splats, intrinsics, aligned and masked
 * vector memory access, loops over i64 counters held in allocas (SROA makes them registers), functions
 * carrying the target's CPU and features, the module kernel ABI's entry points (codegen/llvm_emit.h), the
 * thread pool dispatch and vector polynomials for exp, tanh and erf.
 *
 *   tcc_tir_t t;
 *   TCC_RETURN_IF_ERROR(tcc_tir_init(&t, emitter, "x86-64-v4"));
 *   LLVMValueRef fn = tcc_tir_function(&t, "k_body", t.i32, params, 3, true);
 *   tcc_tir_begin(&t, fn);
 *   tcc_tir_loop_t l;
 *   LLVMValueRef i = tcc_tir_loop_begin(&t, &l, begin, end, tcc_tir_i64c(&t, 1), "i");
 *   ...
 *   tcc_tir_loop_end(&t, &l);
 *   tcc_tir_dispose(&t);
 *
 * Vectors are of t.lanes f32 (t.vf) or i32 (t.vi): the target's widest. The polynomials are accurate to
 * a few units in the last place (erf: absolute error below 1.5e-7), not bit-identical to libm.
 * Ownership and thread-safety: as for the emitter (one thread); tcc_tir_dispose frees the builder only.
 */
#ifndef TCC_CODEGEN_TEMPLATE_IR_H
#define TCC_CODEGEN_TEMPLATE_IR_H

#include <llvm-c/Core.h>
#include <stdbool.h>

#include "codegen/llvm_emit.h"
#include "codegen/target.h"

typedef struct {
  tcc_llvm_emitter_t *e;
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  LLVMValueRef fn;          /* the function being built */
  LLVMBasicBlockRef entry;  /* its entry block (allocas) */
  LLVMTypeRef i1, i32, i64, f32, ptr, vf, vi, void_t;
  int lanes;
  const tcc_cpu_target_t *target;
} tcc_tir_t;

/* For e's module and a CPU target (codegen/target.h name; its f32 lanes set t->lanes). */
TCC_MUST_USE tcc_status_t tcc_tir_init(tcc_tir_t *t, tcc_llvm_emitter_t *e, const char *target);
void tcc_tir_dispose(tcc_tir_t *t);

LLVMValueRef tcc_tir_i64c(tcc_tir_t *t, int64_t v);
LLVMValueRef tcc_tir_i32c(tcc_tir_t *t, int32_t v);
LLVMValueRef tcc_tir_f32c(tcc_tir_t *t, double v);
LLVMValueRef tcc_tir_splat(tcc_tir_t *t, LLVMValueRef scalar); /* lanes copies of an f32 or i32 */
LLVMValueRef tcc_tir_vc(tcc_tir_t *t, double v);               /* an f32 vector constant */

LLVMValueRef tcc_tir_intrinsic(tcc_tir_t *t, const char *name, LLVMTypeRef *tys, int ntys, LLVMValueRef *args,
                               int nargs);
LLVMValueRef tcc_tir_vcall1(tcc_tir_t *t, const char *name, LLVMValueRef x); /* overloaded on x's type */
LLVMValueRef tcc_tir_vcall2(tcc_tir_t *t, const char *name, LLVMValueRef x, LLVMValueRef y);
LLVMValueRef tcc_tir_fma3(tcc_tir_t *t, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c); /* a * b + c */
LLVMValueRef tcc_tir_smin(tcc_tir_t *t, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef tcc_tir_vadd(tcc_tir_t *t, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef tcc_tir_vsub(tcc_tir_t *t, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef tcc_tir_vmul(tcc_tir_t *t, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef tcc_tir_vdiv(tcc_tir_t *t, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef tcc_tir_fmax(tcc_tir_t *t, LLVMValueRef a, LLVMValueRef b); /* llvm.maxnum */
LLVMValueRef tcc_tir_fmin(tcc_tir_t *t, LLVMValueRef a, LLVMValueRef b);
/* pred(x, y) ? then : otherwise */
LLVMValueRef tcc_tir_fsel(tcc_tir_t *t, LLVMRealPredicate pred, LLVMValueRef x, LLVMValueRef y, LLVMValueRef then,
                          LLVMValueRef otherwise);
LLVMValueRef tcc_tir_vexp(tcc_tir_t *t, LLVMValueRef x);
LLVMValueRef tcc_tir_vtanh(tcc_tir_t *t, LLVMValueRef x);
LLVMValueRef tcc_tir_verf(tcc_tir_t *t, LLVMValueRef x);

LLVMValueRef tcc_tir_gep_f32(tcc_tir_t *t, LLVMValueRef base, LLVMValueRef index);
LLVMValueRef tcc_tir_load_aligned(tcc_tir_t *t, LLVMTypeRef type, LLVMValueRef p, unsigned align);
void tcc_tir_store_aligned(tcc_tir_t *t, LLVMValueRef v, LLVMValueRef p, unsigned align);
/* f32 vector access to the lanes of mask; masked-off lanes load as passthru (NULL: zero). */
LLVMValueRef tcc_tir_masked_load(tcc_tir_t *t, LLVMValueRef p, LLVMValueRef mask, LLVMValueRef passthru);
void tcc_tir_masked_store(tcc_tir_t *t, LLVMValueRef v, LLVMValueRef p, LLVMValueRef mask);
/* Lanes [0, count) (count an i64; clamped to [0, lanes]). */
LLVMValueRef tcc_tir_lane_mask(tcc_tir_t *t, LLVMValueRef count);

LLVMValueRef tcc_tir_alloca(tcc_tir_t *t, LLVMTypeRef type, const char *name); /* in the entry block */
LLVMBasicBlockRef tcc_tir_block(tcc_tir_t *t, const char *name);

/* for (var = start; var < end; var += step): the builder is left in the body; loop_end closes it. */
typedef struct {
  LLVMValueRef var, step;
  LLVMBasicBlockRef cond, exit;
} tcc_tir_loop_t;
LLVMValueRef tcc_tir_loop_begin(tcc_tir_t *t, tcc_tir_loop_t *l, LLVMValueRef start, LLVMValueRef end,
                                LLVMValueRef step, const char *name);
void tcc_tir_loop_end(tcc_tir_t *t, tcc_tir_loop_t *l);
/* if (cond) { ... }: if_end joins. */
LLVMBasicBlockRef tcc_tir_if_begin(tcc_tir_t *t, LLVMValueRef cond);
void tcc_tir_if_end(tcc_tir_t *t, LLVMBasicBlockRef join);

/* A function with the target's attributes (internal: not exported, nounwind); begin positions the
 * builder in a fresh body after an entry block that keeps the allocas. */
LLVMValueRef tcc_tir_function(tcc_tir_t *t, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n,
                              bool internal);
void tcc_tir_begin(tcc_tir_t *t, LLVMValueRef fn);
/* A declaration of a C library function. */
LLVMValueRef tcc_tir_libc(tcc_tir_t *t, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n,
                          LLVMTypeRef *fty);

/* A call of the function `name` (declared on first use as ret(params)). */
LLVMValueRef tcc_tir_call(tcc_tir_t *t, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n, LLVMValueRef *args);

/* GPU templates: marks fn an NVPTX kernel (nvvm.annotations), with at most max_threads threads per block
 * when max_threads > 0. */
void tcc_tir_gpu_kernel(tcc_tir_t *t, LLVMValueRef fn, int max_threads);
/* ... to run `blocks` blocks per SM (registers capped to fit them). */
void tcc_tir_gpu_min_blocks(tcc_tir_t *t, LLVMValueRef fn, int blocks);
/* ... launched in clusters of `blocks` blocks (sm_90): LLVM 19 drops the cluster annotations, so the
 * emitter writes the directives into the PTX itself (tcc.clusters named metadata). */
void tcc_tir_gpu_cluster(tcc_tir_t *t, LLVMValueRef fn, int blocks);
/* GPU pieces shared by the tensor-core templates. Inline PTX where LLVM 19 has no intrinsic, with side
 * effects and a memory clobber: */
LLVMValueRef tcc_tir_ptx(tcc_tir_t *t, const char *text, const char *constraints, LLVMTypeRef ret, LLVMValueRef *args,
                         int n);
void tcc_tir_ptx_statement(tcc_tir_t *t, const char *text); /* no operands */
LLVMValueRef tcc_tir_sreg(tcc_tir_t *t, const char *name); /* %tid.x, ... as i32 */
void tcc_tir_barrier(tcc_tir_t *t);                       /* bar.sync 0 */
/* cp.async of 16 bytes from global `src` to the shared address dst (i32); `bytes` (i32, 16 or 0) are
 * read, the rest zero-filled. Then commit the thread's copies as a group, or wait until at most `pending`
 * groups are in flight. */
void tcc_tir_cp_async16(tcc_tir_t *t, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef bytes);
void tcc_tir_cp_async_commit(tcc_tir_t *t);
void tcc_tir_cp_async_wait(tcc_tir_t *t, int pending);
/* ldmatrix.x4 (optionally .trans) at a shared pointer (addrspace 3): four i32 registers. */
void tcc_tir_ldmatrix_x4(tcc_tir_t *t, LLVMValueRef shared, bool trans, LLVMValueRef out[4]);
/* The kernel's dynamic shared memory: an external array in addrspace 3 (declared on first use). */
LLVMValueRef tcc_tir_gpu_dynamic_shared(tcc_tir_t *t);
/* acc (4 f32 values, replaced) += A fragment (4 x i32) * B fragment (2 x i32) by mma.sync m16n8k16 on
 * float16 or bfloat16. */
void tcc_tir_mma_16816(tcc_tir_t *t, bool bf16, LLVMValueRef a[4], LLVMValueRef b[2], LLVMValueRef acc[4]);
/* The same with mma.sync m16n8k8 on TF32 (float32 bits; the tensor cores ignore the low 13 of the
 * mantissa, so round them first: cvt.rna.tf32.f32). */
void tcc_tir_mma_1688_tf32(tcc_tir_t *t, LLVMValueRef a[4], LLVMValueRef b[2], LLVMValueRef acc[4]);

/* sm_90a warpgroup MMA. The matrix descriptor of an operand at a shared pointer in the 128-byte swizzle
 * (its pattern based at a 1024-byte boundary): address, leading and stride byte offsets. */
LLVMValueRef tcc_tir_wgmma_descriptor(tcc_tir_t *t, LLVMValueRef shared, int leading_bytes, int stride_bytes);
/* acc[0 .. n/2) (f32 values, replaced) = A (64 x 16: descriptor da, or when da is NULL the 4 i32
 * registers a_regs) * B (16 x n, descriptor db; N-major when trans_b) [+ acc when accumulate], by
 * wgmma.mma_async.m64nNk16 with f32 accumulation, issued asynchronously by the warpgroup. */
void tcc_tir_wgmma(tcc_tir_t *t, bool bf16, int n, LLVMValueRef da, LLVMValueRef *a_regs, LLVMValueRef db, bool trans_b,
                   bool accumulate, LLVMValueRef *acc);
/* The f32 values (replaced) tied to this point, e.g. after wgmma.wait_group: no use of them moves above. */
void tcc_tir_pin(tcc_tir_t *t, LLVMValueRef *values, int n);

/* The entry of a GPU kernel for a node: NAME_gpu, NAME free in the module (tcc_tir_unique_name). */
void tcc_tir_gpu_entry(tcc_tir_t *t, const char *node_name, const char *fallback, char entry[256]);
/* After building the GPU kernel `entry`: st unchanged, the function removed from the module when st is an
 * error (nothing half-built stays behind). */
TCC_MUST_USE tcc_status_t tcc_tir_gpu_keep(tcc_tir_t *t, const char *entry, tcc_status_t st);

/* A function name free in the module (with and without "_packed"): the node's name made an identifier,
 * prefixed by fallback when it is empty or starts with a digit. */
void tcc_tir_unique_name(LLVMModuleRef mod, const char *node_name, const char *fallback, char out[200]);

/* A template kernel of the ABI: body(t, ctx, name) builds the task body NAME_body, packed(t, ctx, name,
 * body, &fn) the entry NAME_packed (tcc_tir_begin_packed, then tcc_tir_dispatch), and SYM, the unpacked
 * form with num_params pointer parameters, follows; NAME is free in the module (from node_name). On an
 * error the functions made are deleted. *symbol: SYM, in the module. */
typedef LLVMValueRef (*tcc_tir_body_fn)(tcc_tir_t *t, void *ctx, const char *name);
typedef tcc_status_t (*tcc_tir_packed_fn)(tcc_tir_t *t, void *ctx, const char *name, LLVMValueRef body,
                                          LLVMValueRef *fn);
TCC_MUST_USE tcc_status_t tcc_tir_emit_kernel(tcc_tir_t *t, const char *node_name, const char *fallback,
                                              int num_params, tcc_tir_body_fn body, tcc_tir_packed_fn packed,
                                              void *ctx, const char **symbol);
/* Starts NAME_packed(params, ctx): *params and *ctx are its arguments, *syms ctx->symbols. */
LLVMValueRef tcc_tir_begin_packed(tcc_tir_t *t, const char *name, LLVMValueRef *params, LLVMValueRef *ctx,
                                  LLVMValueRef *syms);
/* The pointer params[i] of a packed entry. */
LLVMValueRef tcc_tir_param(tcc_tir_t *t, LLVMValueRef params, int i);
/* Ends the current function by running body(args, 0, tasks) here (one task, one thread or no pool), or
 * returning ctx->parallel_for(ctx->pool, tasks, 1, body, args). ctx: the kernel context pointer. */
void tcc_tir_dispatch(tcc_tir_t *t, LLVMValueRef ctx, LLVMValueRef body, LLVMValueRef args, LLVMValueRef tasks);
/* SYM(p0, ..., p[n-1], ctx) calling SYM_packed(params, ctx): the ABI's unpacked form. */
void tcc_tir_emit_unpacked(tcc_tir_t *t, const char *name, LLVMValueRef packed, int n);

#endif
