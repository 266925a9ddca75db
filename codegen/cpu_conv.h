/* The CPU convolution template: a plan node that is a 2-D convolution in an NCHW<b>c layout (passes/layout.c)
 * — a plain conv, or a fused "conv...+..." node whose body is the conv followed by an elementwise epilogue —
 * emitted as one module kernel in explicit LLVM vector IR, instead of the generic compute definition.
 *
 *   tcc_llvm_emitter_t *e;                   // codegen/llvm_emit.h
 *   const char *sym;
 *   bool applied;
 *   TCC_RETURN_IF_ERROR(tcc_cpu_conv_emit(e, node, "x86-64-v4", NULL, &sym, &applied));
 *   if (!applied) ... build the generic kernels of the node (ir/compute.h) ...
 *
 * The kernel. It has the emitter's kernel ABI (codegen/llvm_emit.h): `int32_t SYM_packed(void *const
 * *params, const tcc_module_kernel_ctx_t *ctx)` and the unpacked `int32_t SYM(p0, ..., ctx)`, params being
 * the node's present inputs then its output, in tcc_compute_build's order (a fused node: its inputs, which
 * are its body's inputs, then output 0). Sizes other than the batch (the first dim, any dim expression,
 * read from ctx->symbols through tcc_llvm_emit_dim) are compile-time constants. With x [N, C/b, H, W, b],
 * w [M/b, C/b, kh, kw, b, b] (depthwise: [M/b, 1, kh, kw, 1, b]) and y [N, M/b, OH, OW, b]:
 *   - direct convolution: a register tile of `ow_block` output columns x `oc_tile` output-channel vectors
 *     (b lanes) is accumulated in registers — for each input channel, one input value broadcast and
 *     multiplied with each weight vector by llvm.fma — over the input-channel blocks and kernel taps
 *     (loop order a knob); rows of kernel taps that fall into the padding are skipped by computing the
 *     valid tap range once per output row, and column blocks at the left and right edges are emitted with
 *     their invalid taps removed statically, so no inner loop tests a bound;
 *   - depthwise (group == C == M): one channel vector per tile, multiplied tap by tap with the input's
 *     channel vector;
 *   - 1x1 stride-1 unpadded convolutions are a GEMM over pixels: `row_merge` output rows are treated as
 *     one longer row;
 *   - trailing input channels whose weights are all zero (the channel padding of the layout pass, e.g. an
 *     RGB image padded to 16 channels) are skipped when the weights are constant: their inputs are finite
 *     and add nothing;
 *   - the epilogue (bias, then the body's elementwise ops: add / sub / mul / div / max / min with an operand
 *     of the output's shape, per channel or scalar — a node input or a body constant —, relu, clip with
 *     constant bounds, leaky_relu, hard_sigmoid, hard_swish) is applied to the accumulators before the
 *     single store of each output vector;
 *   - work is split over (batch, oc tile, output row) items through ctx->parallel_for (the body is an
 *     outlined function); the kernel returns parallel_for's result (0).
 * Results equal the reference evaluator's up to floating-point reassociation (fused multiply-adds, another
 * summation order): compare with a relative tolerance.
 *
 * Cases left to the generic kernels (*applied = false, nothing emitted): another layout, dtype or rank,
 * groups other than 1 or depthwise (one channel per group, M == C), symbolic sizes other than the batch,
 * auto_pad SAME, epilogue ops not listed above (sigmoid, tanh, gelu ...) or with run-time operands of
 * other shapes, targets that are not CPU targets. tcc_cpu_conv_check says which applies.
 *
 * Thread-safety: as the emitter's (one thread per emitter). The node is only read.
 */
#ifndef TCC_CODEGEN_CPU_CONV_H
#define TCC_CODEGEN_CPU_CONV_H

#include <stdbool.h>

#include "autotune/space.h"
#include "codegen/llvm_emit.h"
#include "ir/graph.h"

typedef enum {
  TCC_CPU_CONV_ORDER_DEFAULT = 0,
  TCC_CPU_CONV_ORDER_CHANNELS_OUTER, /* input-channel blocks, then kernel rows, columns, channels */
  TCC_CPU_CONV_ORDER_TAPS_OUTER,     /* kernel rows, columns, then input-channel blocks, channels */
} tcc_cpu_conv_order_t;

/* The template's knobs; 0 in a field takes its default: autotune/spaces/cpu_conv.lua's defaults() for the
 * node's workload (tcc_cpu_conv_space_query), or, when only some knobs are given, the widest ow_block that
 * fits the registers with the given oc_tile. */
typedef struct {
  int ow_block;   /* output columns per register tile (1..64) */
  int oc_tile;    /* output-channel blocks per register tile; divides M/b (depthwise: 1) */
  int loop_order; /* tcc_cpu_conv_order_t */
  int row_merge;  /* 1x1 stride-1 unpadded only: output rows per pixel row; divides OH (else 1) */
} tcc_cpu_conv_knobs_t;

/* Whether the template handles node for target; when not, *reason (may be NULL) receives a static
 * description of the first case that declines it. */
bool tcc_cpu_conv_check(const tcc_node_t *node, const char *target, const char **reason);

/* The workload of node on target as a query of the "cpu_conv" space (autotune/space.h): op "conv2d" or
 * "depthwise_conv2d", layout "nchw<b>c", and the integers the script reads (block, cb, mb, h, w, oh, ow, kh,
 * kw, sh, sw, ph, pw, dh, dw, depthwise, pointwise, mergeable, c_active, batch = -1 when symbolic).
 * *applies = false (q untouched) when the template does not apply. */
TCC_MUST_USE tcc_status_t tcc_cpu_conv_space_query(const tcc_node_t *node, const char *target, tcc_space_query_t *q,
                                                   bool *applies);

/* The default knobs for node on target (the space script's defaults()); all zero when the template does
 * not apply. A script error is its status. */
TCC_MUST_USE tcc_status_t tcc_cpu_conv_default_knobs(const tcc_node_t *node, const char *target,
                                                     tcc_cpu_conv_knobs_t *out);

/* Emits node's kernel into tcc_llvm_emitter_module(e) when the template handles it (see above): *applied =
 * true and *symbol (may be NULL) = SYM, owned by the emitter's module (valid while that module lives).
 * Otherwise *applied = false, *symbol = NULL and the module is unchanged. knobs NULL: the defaults; a
 * knob out of range (an oc_tile that does not divide M/b ...) is TCC_INVALID_ARGUMENT. target: a CPU
 * target of codegen/target.h (its vector registers size the defaults). */
TCC_MUST_USE tcc_status_t tcc_cpu_conv_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, const char *target,
                                            const tcc_cpu_conv_knobs_t *knobs, const char **symbol, bool *applied);

#endif
