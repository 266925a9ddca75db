/* The GPU GEMM template on tensor cores (sm_80 and up): a MatMul plan node in float16 or bfloat16 — 2-D,
 * with A's leading dims folded into M when B is 2-D, or batched with equal batch dims — or a fused
 * "matmul" node whose body is such a MatMul followed by the add of a bias of N elements and optionally a
 * Relu, emitted as an
 * NVPTX kernel written directly in LLVM IR instead of the generic loop nest.
 *
 *   char entry[256];
 *   tcc_gpu_launch_t launch;
 *   bool applied;
 *   TCC_RETURN_IF_ERROR(tcc_gpu_gemm_emit(gpu_emitter, node, entry, &launch, &applied));
 *
 * The kernel is `void entry(p0, ..., ctx, err)` (a GPU entry as codegen/llvm_emit.h's, named after the
 * node and ending in _gpu; M may be a symbol read from ctx->symbols), launched as *launch says. Each block of 256 threads (8 warps, 2 x 4) computes 128 x 128 tiles of C,
 * walking the tiles of all products with a stride of the grid; per tile it streams K in slices of 32
 * through a 3-stage ring in dynamic shared memory filled by cp.async (16-byte copies, zero-filled past
 * the edges), loads operand fragments with ldmatrix (B transposed on the way) and accumulates with
 * mma.sync.m16n8k16 in float32, 64 x 32 per warp; the tile is rounded to the output type once, with the
 * bias added, and stored with the edges masked. Conditions: K and N constants that are multiples of 8
 * (16-byte rows), A, B and C of one half type; otherwise *applied is false and nothing is emitted.
 * Thread-safety: as for the emitter.
 */
#ifndef TCC_CODEGEN_GPU_GEMM_H
#define TCC_CODEGEN_GPU_GEMM_H

#include <stdbool.h>

#include "codegen/llvm_emit.h"
#include "ir/graph.h"

TCC_MUST_USE tcc_status_t tcc_gpu_gemm_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, char entry[256],
                                            tcc_gpu_launch_t *launch, bool *applied);

#endif
