-- The GPU tensor-core template's space (codegen/gpu_gemm.c): C[m x n] = A[m x k] * B[k x n] (or a
-- convolution as that GEMM) in f16/bf16 with f32 accumulation on mma.sync.m16n8k16:
--   each block of (bm / wm) x (bn / wn) warps computes bm x bn tiles of C; K streams through shared
--   memory in bk slices, `stages` of them in flight (cp.async); each warp computes wm x wn.
-- Knobs (integers): bm, bn, bk, wm, wn, stages.
-- q.m is -1 when m is only known at run time (a symbolic batch * seq); for a convolution with a
-- symbolic batch, the caller passes the pixels of one image.

-- Measured on an H100 (docs/perf.md, bench/gpu_gemm.py), over the configurations listed there.
function defaults(q)
  local m = q.m
  if m > 0 and m <= 32 then
    -- few rows (a token or a few, a GEMV): narrow tiles so that N alone fills the device, deep slices
    return { bm = 16, bn = 32, bk = 128, wm = 16, wn = 16, stages = 4 }
  elseif m > 0 and m <= 256 then
    return { bm = 64, bn = 64, bk = 32, wm = 32, wn = 32, stages = 4 }
  end
  return { bm = 128, bn = 128, bk = 32, wm = 64, wn = 64, stages = 4 }
end

function knobs(q)
  return {
    bm = { 16, 32, 64, 128, 256 },
    bn = { 32, 64, 128, 256 },
    bk = { 32, 64, 128 },
    wm = { 16, 32, 64 },
    wn = { 16, 32, 64 },
    stages = { 2, 3, 4, 5 },
  }
end

-- What the template can build (codegen/gpu_gemm.c's make_tile): warp tiles of whole 16 x 16 blocks that
-- divide the block's tile, at most 32 warps, 256 accumulators per thread, and the stages' shared memory
-- (rows padded by 8 elements) within the target's.
function valid(q, kn)
  if kn.wm < 16 or kn.wm % 16 ~= 0 or kn.wn < 16 or kn.wn % 16 ~= 0 then return false end
  if kn.bm % kn.wm ~= 0 or kn.bn % kn.wn ~= 0 or kn.bk < 16 or kn.bk % 16 ~= 0 then return false end
  if kn.stages < 2 or kn.stages > 8 then return false end
  local threads = 32 * (kn.bm // kn.wm) * (kn.bn // kn.wn)
  if threads > 1024 or (kn.wm // 16) * (kn.wn // 8) * 4 > 256 then return false end
  local b_rows = math.max(kn.bk * (kn.bn + 8), kn.bn * (kn.bk + 8)) -- either layout of B
  local stage = 2 * (kn.bm * (kn.bk + 8) + b_rows)
  return kn.stages * stage <= q.target.l1
end
