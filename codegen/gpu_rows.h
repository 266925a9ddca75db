/* The GPU warp-per-row templates, emitted as NVPTX kernels written directly in LLVM IR instead of the
 * generic loop nests (one thread per row).
 *
 * Attention: an `attention` plan node (ONNX Attention, the canonical form the importer
 * gives scaled dot-product attention) with 4-D Q, K, V [batch, heads, seq, head] in float32, float16 or
 * bfloat16, head size up to 256, an optional additive float or boolean mask broadcast to
 * [batch, heads, q_seq, kv_seq], is_causal, scale, no past key/value, no softcap and one output, emitted
 * as an NVPTX kernel written directly in LLVM IR instead of the generic loop nest (which keeps a score
 * row per query in device malloc).
 *
 *   char entry[256];
 *   tcc_gpu_launch_t launch;
 *   bool applied;
 *   TCC_RETURN_IF_ERROR(tcc_gpu_attention_emit(gpu_emitter, node, entry, &launch, &applied));
 *
 * One warp per query row, the rows of all (batch, head) strided over the grid: each lane holds
 * ceil(head / 32) elements of the scaled query and of the output (lanes past the head hold zeros); the keys are walked one by one (stopping at the
 * diagonal when causal), each score summed across the warp with shuffles, the softmax kept online
 * (running maximum and sum, the output rescaled when the maximum grows) in float32, so no score row is
 * stored; key/value head h mod kv_heads serves query head h. K and V rows are read by the whole warp at
 * once (coalesced). The CUDA cores do the arithmetic: attention without a mask input in float16 or
 * bfloat16 takes the tensor-core flash kernel instead (codegen/gpu_flash.h).
 * Thread-safety: as for the emitter.
 */
#ifndef TCC_CODEGEN_GPU_ROWS_H
#define TCC_CODEGEN_GPU_ROWS_H

#include <stdbool.h>

#include "codegen/llvm_emit.h"
#include "ir/graph.h"

/* Softmax and LogSoftmax along the last axis, LayerNormalization and RMSNormalization over trailing
 * axes (stash_type float32; scale and bias shaped like the normalized dims; the Mean / InvStdDev outputs
 * absent), float32, float16 or bfloat16: one warp per row, rows strided over the grid; the lanes walk the
 * row with a stride of 32 and reduce with shuffles, in float32: the mean (or maximum), then the mean
 * square deviation (or the sum of exp(x - max)), then the output, as the evaluator computes them. */
TCC_MUST_USE tcc_status_t tcc_gpu_rows_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, char entry[256],
                                            tcc_gpu_launch_t *launch, bool *applied);

TCC_MUST_USE tcc_status_t tcc_gpu_attention_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, char entry[256],
                                                 tcc_gpu_launch_t *launch, bool *applied);

#endif
