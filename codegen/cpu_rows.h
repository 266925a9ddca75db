/* The CPU row template: Softmax and LogSoftmax along the last axis, LayerNormalization and
 * RMSNormalization over trailing axes (f32, one output; scale and bias shaped like the normalized dims)
 * — the row-wise ops of transformers — emitted as explicit LLVM vector IR instead of the generic loop
 * nest of their compute definitions.
 *
 *   const char *sym;
 *   bool applied;
 *   TCC_RETURN_IF_ERROR(tcc_cpu_rows_emit(e, node, "x86-64-v4", &sym, &applied));
 *   if (!applied) ... emit the node's compute definition instead
 *
 * Each row (contiguous, n elements; rows and n may be symbolic) is read in full vectors with a masked
 * tail: softmax takes the maximum, stores exp(x - max) while summing it, then divides by the sum;
 * log-softmax stores x - max - log(sum); the normalizations take the mean, then the mean square
 * deviation (RMS: the mean square), then store (x - mean) * 1 / sqrt(var + epsilon) * scale + bias.
 * Sums run in vector lanes (a different order than the evaluator's) and exp is a vector polynomial
 * (codegen/template_ir.h), so results match the evaluator within rounding, not bit for bit. Rows are
 * split into tasks of at least 8192 elements run through ctx->parallel_for.
 *
 * The emitted kernel has the module kernel ABI of codegen/llvm_emit.h (parameters: the node's present
 * inputs, then its output). Ownership and thread-safety: as for the emitter (one thread); *symbol lives in
 * the emitter's module.
 */
#ifndef TCC_CODEGEN_CPU_ROWS_H
#define TCC_CODEGEN_CPU_ROWS_H

#include <stdbool.h>

#include "codegen/llvm_emit.h"
#include "ir/graph.h"

/* Emits node for target (a codegen/target.h CPU target name). *applied is false and nothing is emitted
 * when the node is not a case the template handles; *symbol is then NULL. */
TCC_MUST_USE tcc_status_t tcc_cpu_rows_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, const char *target,
                                            const char **symbol, bool *applied);

#endif
