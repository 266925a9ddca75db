/* The GPU GEMM and convolution template (sm_80 and up), on tensor cores for float16 and bfloat16 and on
 * FMAs for float32: a MatMul plan node — 2-D, with A's leading dims folded into M when B is 2-D, or batched with equal batch dims — or
 * a fused "matmul" node whose body is such a MatMul followed by the add of a bias of N elements, the add
 * of a residual of the output's shape (of a batched product: or broadcast from 1 along the batch dims and
 * the rows, as an attention mask is), a multiplication or division by a scalar constant and an
 * activation (Relu, Clip with constant bounds, Gelu), each
 * optional, or a convolution (below), emitted as an NVPTX kernel written directly in LLVM IR
 * instead of the generic loop nest.
 *
 *   tcc_gpu_kernel_t kernels[TCC_GPU_GEMM_MAX_VARIANTS];
 *   int count;
 *   bool applied;
 *   TCC_RETURN_IF_ERROR(tcc_gpu_gemm_emit(gpu_emitter, node, "sm_90a", NULL, kernels, &count, &applied));
 *
 * A kernel is `void entry(p0, ..., ctx, err)` (a GPU entry as codegen/llvm_emit.h's, named after the
 * node and ending in _gpu; M may be a symbol read from ctx->symbols), launched as its launch says. When
 * M is known only at run time and no knobs are given, the node gets a kernel per range of M over which
 * the default knobs differ (ranges up to 64, 256, ... rows, each launch conditioned on its range);
 * otherwise one. Each
 * block (warps by the knobs below) computes bm x bn tiles of C, walking the tiles of all products with a
 * stride of the grid; per tile it streams K in slices of bk through a ring of `stages` slices in dynamic
 * shared memory filled by cp.async (16-byte copies, zero-filled past the edges), loads operand fragments
 * with ldmatrix (B transposed on the way) and accumulates with mma.sync.m16n8k16 in float32, wm x wn per
 * warp; the epilogue runs in float32, the tile is rounded to the output type once and stored with the
 * edges masked. Operand rows whose length is a multiple of 16 bytes are copied 16 bytes at a
 * time by cp.async, others (K of 147 for a 7 x 7 conv of 3 channels) element by element. Conditions: K
 * and N constants, N a multiple of 8, A, B and C of one type (f16, bf16 or f32); otherwise *applied is
 * false and nothing is emitted.
 *
 * TF32 (float32 products with the attribute tf32 = 1, from `tcc compile --allow-tf32`): the mma.sync
 * path on float32 elements (chunks of 4), mma.sync.m16n8k8 in TF32 (the operands rounded to nearest by
 * cvt.rna), fragments of B [K][N] read by two 32-bit loads a lane instead of a transposing ldmatrix.
 *
 * The float32 path (knob simt = 1, for float32 without tf32) streams the slices the same way (rows
 * padded by 4 floats) and each thread computes wm x wn of the tile with FMAs, reading A 4 of K at a
 * time and B 4 columns at a time ([K][N]) or 4 of K at a time ([N][K]).
 *
 * The warpgroup path (knob wgmma = 1; sm_90a only) is warp-specialized: one warpgroup copies the slices
 * (bk = 64, laid out with the 128-byte swizzle) into the ring — the TMA unit's bulk tensor copies, issued
 * by its thread 0, for A unless it is a convolution's im2col and for B, each where its rows are whole
 * 16-byte units (launch->maps describes their tensor maps, the kernel's parameters after err), cp.async
 * for the others — and bm / wm warpgroups multiply
 * them with wgmma.mma_async (A and B read by the tensor cores through matrix descriptors, B K-major
 * for [N][K] weights and N-major otherwise), wm x bn each in instructions m64 x wn x k16, one group in
 * flight; a pair of mbarriers per stage (landed / read) replaces the block barriers, so the copies of
 * the next tile overlap this tile's epilogue.
 *
 * Convolutions (NHWC, one group, layout pass of passes/layout.c): conv(x, w[, bias]) or a fused
 * "conv2d..." node with the same epilogue (its bias is the conv's), as the GEMM of M = batch x OH x
 * OW output pixels, N output channels and K = KH x KW x C: A is the im2col of x, never materialized (the
 * copies gather its rows from the input pixels, zero in the padding), B the weights [N, KH, KW, C] read
 * as [N][K] (ldmatrix without transposition).
 * Thread-safety: as for the emitter.
 */
#ifndef TCC_CODEGEN_GPU_GEMM_H
#define TCC_CODEGEN_GPU_GEMM_H

#include <stdbool.h>

#include "autotune/space.h"
#include "codegen/llvm_emit.h"
#include "ir/graph.h"

/* The template's knobs: the block's tile of C (bm x bn), the K slice (bk), the warp's tile (wm x wn; the
 * block has (bm / wm) x (bn / wn) warps) and the shared-memory stages. With simt = 1 (float32), wm x wn
 * is a thread's tile (the block has (bm / wm) x (bn / wn) threads). With wgmma = 1, wm x bn is a
 * warpgroup's tile (bm / wm warpgroups) and wn the N of one instruction. The blocks take the tiles in
 * groups of `group` rows of tiles, column by column within a group (1: row by row). split = 2, 4 or 8
 * (warpgroup path): clusters of `split` blocks share each tile, block r multiplying the r-th part of K,
 * and the others hand their accumulators to block 0 through distributed shared memory (split-K without
 * a workspace). */
typedef struct tcc_gpu_gemm_knobs {
  int bm, bn, bk, wm, wn, stages, wgmma, group, split, simt;
} tcc_gpu_gemm_knobs_t;

/* The defaults for m rows (-1: only known at run time), n columns, depth k and the operands' type (tf32:
 * float32 in TF32 on the mma.sync path) on a GPU target (NULL: sm_80) from autotune/spaces/gpu_gemm.lua: 128 x 128 tiles of 4 warps of 64 x 64, K
 * slices of 32 in 4 stages; for m up to 256, 64 x 64 tiles of 4 warps of 32 x 32; for m up to 32,
 * 16 x 32 tiles of 2 warps, K slices of 128. On sm_90a above 32 rows, the warpgroup path: 256 x 128
 * tiles of two multiplying warpgroups, or up to 256 rows 64 x 128 tiles of one (fewer columns for narrow
 * n). float32: the simt path, 128 x 128 tiles of 256 threads of 8 x 8, or smaller ones when they make
 * too few tiles (64 x 64 for an unknown m); TF32: the mma.sync path, 256 x 128 tiles in slices of 16. */
TCC_MUST_USE tcc_status_t tcc_gpu_gemm_default_knobs(int64_t m, int64_t n, int64_t k, tcc_dtype_t dtype, bool tf32,
                                                     const char *target, tcc_gpu_gemm_knobs_t *out);
/* Knobs from a space result (missing names keep the values *out already has); TCC_INVALID_ARGUMENT for a
 * combination the template cannot build. */
TCC_MUST_USE tcc_status_t tcc_gpu_gemm_knobs_from_space(const tcc_space_knobs_t *space, tcc_gpu_gemm_knobs_t *out);
/* "bm=128,bn=256,wn=64" over the defaults for an unknown m (of float32 when simt=1 is named, else of
 * halves); TCC_INVALID_ARGUMENT for an unknown name or a
 * combination the template cannot build. */
TCC_MUST_USE tcc_status_t tcc_gpu_gemm_parse_knobs(const char *text, tcc_gpu_gemm_knobs_t *out);

/* target: the GPU target the kernels must run on (NULL: sm_80; wgmma needs sm_90a). knobs NULL: the
 * defaults for the target and the node's M (per range of M when it is known only at run time); knobs of
 * another path (simt = 1 for a half-precision or TF32 node, simt = 0 for a float32 one, wgmma = 1 for a
 * TF32 one) also give the node the defaults. *count kernels in out. */
enum { TCC_GPU_GEMM_MAX_VARIANTS = 5 };
TCC_MUST_USE tcc_status_t tcc_gpu_gemm_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, const char *target,
                                            const tcc_gpu_gemm_knobs_t *knobs,
                                            tcc_gpu_kernel_t out[TCC_GPU_GEMM_MAX_VARIANTS], int *count,
                                            bool *applied);

#endif
