/* The CPU GEMM template: a MatMul plan node (2-D, batched with numpy broadcasting, or with 1-D operands;
 * f32), or a fused "matmul+..." node whose body is a MatMul followed by a chain of elementwise epilogue
 * ops, emitted as explicit LLVM vector IR instead of the generic loop nest of its compute definition.
 *
 *   const char *sym;
 *   bool applied;
 *   TCC_RETURN_IF_ERROR(tcc_cpu_gemm_emit(e, node, "x86-64-v4", NULL, &sym, &applied));
 *   if (!applied) ... emit the node's compute definition instead (tcc_compute_build + tcc_llvm_emit_kernel)
 *
 * The emitted kernel has the module kernel ABI of codegen/llvm_emit.h: SYM(p0, ..., ctx) and
 * SYM_packed(params, ctx), params being the node's present inputs then its outputs, in the order
 * tcc_compute_build gives its kernel's parameters; sizes (symbolic M such as batch * seq included) are
 * read from ctx->symbols through the emitter's symbol table. It computes, per product of the batch,
 *     C[M x N] = epilogue(A[M x K] * B[K x N])
 * in BLIS style: the output is split into mc x nc tasks run through ctx->parallel_for (each task packs its
 * own panels, so tasks are independent); each task walks K in kc slices, packs the B slice into nr-wide
 * panels and the A slice into mr-high panels (each optional: small shapes read the operands in place),
 * and runs an mr x nr register-blocked micro-kernel of vector FMAs (llvm.fma; nr = nv vectors of the
 * target's width) over them. Remainders in M, N and K are handled by clamped rows, zero-padded panels and
 * masked loads and stores. The epilogue (bias and residual adds with broadcasting, scales, relu, clip,
 * leaky_relu, sigmoid, tanh, gelu, elu, selu, celu, hard_sigmoid, hard_swish ...) is applied to each tile
 * of C while it is in registers, after its last K slice. Results match the evaluator within rounding
 * (FMA and a different summation order; exp, tanh and erf are vector polynomials), not bit for bit.
 * Packing buffers are malloc'ed per parallel_for chunk; a failed malloc returns TCC_KERNEL_ERR_NOMEM.
 *
 * Ownership and thread-safety: as for the emitter (one thread). *symbol is the name of the emitted SYM
 * function, owned by the emitter's LLVM module: copy it before the module is taken or disposed.
 */
#ifndef TCC_CODEGEN_CPU_GEMM_H
#define TCC_CODEGEN_CPU_GEMM_H

#include <stdbool.h>

#include "autotune/space.h"
#include "codegen/llvm_emit.h"
#include "ir/graph.h"

/* The template's knobs (autotune/spaces/cpu_gemm.lua documents them). */
typedef struct {
  int mr;     /* micro-tile rows */
  int nv;     /* micro-tile vectors per row: nr = nv * the target's f32 lanes */
  int kc;     /* K slice */
  int mc, nc; /* task block of C: multiples of mr and nr */
  int pack_a, pack_b; /* 1: pack the operand into panels; 0: read it in place; pack_b 2: B is a constant
                       * packed once at compile time (tcc_cpu_gemm_pack_b) */
  int ku;     /* unrolling of the micro-kernel's K loop */
} tcc_cpu_gemm_knobs_t;

/* The GEMM dimensions of a node the template handles: m, n, k, batch (products of the broadcast batch
 * dims); -1 for what is only known at run time. *handled is false when the node is not such a case. */
typedef struct {
  int64_t m, n, k, batch;
} tcc_cpu_gemm_shape_t;
TCC_MUST_USE tcc_status_t tcc_cpu_gemm_shape(const tcc_node_t *node, tcc_cpu_gemm_shape_t *shape, bool *handled);

/* The default knobs for a shape on a target, from autotune/spaces/cpu_gemm.lua's defaults(). */
TCC_MUST_USE tcc_status_t tcc_cpu_gemm_default_knobs(const tcc_cpu_gemm_shape_t *shape, const char *target,
                                                     tcc_cpu_gemm_knobs_t *out);
/* The knobs `tcc compile` uses for node: the defaults, with pack_b = 2 when B is a 2-D f32 constant (the
 * module then holds B packed by tcc_cpu_gemm_pack_b, never repacked at run time). *handled is false when
 * the template does not take the node. */
TCC_MUST_USE tcc_status_t tcc_cpu_gemm_node_knobs(const tcc_node_t *node, const char *target,
                                                  tcc_cpu_gemm_knobs_t *out, bool *handled);
/* The constant B of node packed for knobs with pack_b == 2: a new f32 tensor in m's arena, [ceil(N / nr),
 * K, nr] (panels of nr = nv * lanes columns over the whole K, zero-padded), to be placed 64-byte aligned
 * (as module weights are). *input is the node's input whose place the packed tensor takes. */
TCC_MUST_USE tcc_status_t tcc_cpu_gemm_pack_b(tcc_module_t *m, const tcc_node_t *node, const char *target,
                                              const tcc_cpu_gemm_knobs_t *knobs, int *input, tcc_tensor_t **packed);
/* Knobs from a space result (missing names keep the values *out already has); TCC_INVALID_ARGUMENT when a
 * value is out of range (mr 1..16, nv 1..8, kc >= 1, mc a multiple of mr, nc of nr, pack_b 0..2 ...). */
TCC_MUST_USE tcc_status_t tcc_cpu_gemm_knobs_from_space(const tcc_space_knobs_t *space, int lanes,
                                                        tcc_cpu_gemm_knobs_t *out);

/* Emits node (see above) into e's module for target (a codegen/target.h CPU target name; its vector
 * width and register file shape the code). knobs NULL: tcc_cpu_gemm_default_knobs. *applied is false
 * and nothing is emitted when the node is not a case the template handles (another dtype, an epilogue
 * op it does not know, an operand that is not an input of the node ...); *symbol is then NULL. */
TCC_MUST_USE tcc_status_t tcc_cpu_gemm_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, const char *target,
                                            const tcc_cpu_gemm_knobs_t *knobs, const char **symbol, bool *applied);

#endif
