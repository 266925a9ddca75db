/* The CPU channel-block template: the Transposes of the layout pass's conversions between NCHW and
 * NCHW<b>c (passes/layout.c) — [outer, B, S...] -> [outer, S..., B] (to blocks) and back
 * ([outer, S..., B] -> [outer, B, S...]) with B the target's f32 vector width — emitted as B x B tiles
 * transposed in registers (log2 B stages of two-vector shuffles) instead of the generic loop nest, whose
 * vector loop gathers one element per lane.
 *
 *   TCC_RETURN_IF_ERROR(tcc_cpu_blocks_emit(e, node, "x86-64-v4", &sym, &applied));
 *
 * Any 32-bit element type; S (the product of the moved-over dims) may be symbolic; a tail of S below B is
 * read and written with masks. Tasks of up to 64 tiles run through ctx->parallel_for. Results are bit
 * copies. The kernel has the module kernel ABI of codegen/llvm_emit.h (parameters: input, output).
 * Ownership and thread-safety: as for the emitter (one thread); *symbol lives in the emitter's module.
 */
#ifndef TCC_CODEGEN_CPU_BLOCKS_H
#define TCC_CODEGEN_CPU_BLOCKS_H

#include <stdbool.h>

#include "codegen/llvm_emit.h"
#include "ir/graph.h"

/* Emits node for target; *applied is false and nothing is emitted when the node is not such a transpose
 * (another permutation, B not the target's width, elements not 32-bit); *symbol is then NULL. */
TCC_MUST_USE tcc_status_t tcc_cpu_blocks_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, const char *target,
                                              const char **symbol, bool *applied);

#endif
