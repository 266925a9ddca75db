/* The GPU flash-attention template on tensor cores (sm_80 and up): an `attention` plan node (ONNX
 * Attention) with 4-D Q, K, V [batch, heads, seq, head] in float16 or bfloat16, head size a multiple of
 * 16 up to 128, no mask input (is_causal is taken), scale, no past key/value, no softcap and one output,
 * emitted as an NVPTX kernel written directly in LLVM IR. Other attention nodes keep the warp-per-row
 * kernel of codegen/gpu_rows.h.
 *
 *   char entry[256];
 *   tcc_gpu_launch_t launch;
 *   bool applied;
 *   TCC_RETURN_IF_ERROR(tcc_gpu_flash_attention_emit(gpu_emitter, node, entry, &launch, &applied));
 *
 * Blocks of 4 warps take tiles of 64 query rows of one (batch, head), strided over the grid; each warp
 * owns 16 rows, its Q fragments in registers. Keys and values stream through shared memory in blocks
 * of 64 (cp.async, double-buffered); per block S = Q K^T by mma.sync m16n8k16 with float32
 * accumulation, masked past the keys and above the diagonal when causal (only in the blocks that cross
 * them), the softmax kept online in float32 (running maximum and sum per row, base-2 exponentials of
 * the scores scaled by scale * log2 e, the output rescaled when the maximum grows), then O += P V with
 * P rounded to the input type as the A fragments straight from S's accumulators. Causal tiles stop at
 * the diagonal block and are taken heaviest first, dealt back and forth over the grid. Key/value head
 * h mod kv_heads serves query head h, as the evaluator has it.
 *
 * On sm_90a with head sizes 64 and 128 the same steps run on warpgroups: blocks of 2 warpgroups take 128
 * query rows, Q, K and V sit in shared memory in the 128-byte swizzle, S = Q K^T is a wgmma with both
 * operands from shared memory and O += P V a wgmma with P from registers; two blocks per SM, so that
 * one's softmax overlaps the other's products.
 * Thread-safety: as for the emitter.
 */
#ifndef TCC_CODEGEN_GPU_FLASH_H
#define TCC_CODEGEN_GPU_FLASH_H

#include <stdbool.h>

#include "codegen/llvm_emit.h"
#include "ir/graph.h"

/* target: the GPU target the kernel must run on (NULL: sm_80); sm_90a takes the warpgroup path for
 * head sizes 64 and 128. */
TCC_MUST_USE tcc_status_t tcc_gpu_flash_attention_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, const char *target,
                                                       char entry[256], tcc_gpu_launch_t *launch, bool *applied);

#endif
