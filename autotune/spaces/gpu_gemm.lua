-- The GPU GEMM template's space (codegen/gpu_gemm.c): C[m x n] = A[m x k] * B[k x n] (or a
-- convolution as that GEMM), f16/bf16 with f32 accumulation in one of the first two paths, f32 in the
-- third:
--   wgmma = 0, mma.sync.m16n8k16 (sm_80 and up): each block of (bm / wm) x (bn / wn) warps computes
--     bm x bn tiles of C; K streams through shared memory in bk slices, `stages` of them in flight
--     (cp.async); each warp computes wm x wn.
--   wgmma = 1, wgmma.mma_async (sm_90a): one warpgroup copies the slices (cp.async), bm / wm warpgroups
--     of 4 warps multiply them, each computing wm x bn with instructions of m64 x wn x k16; slices of
--     bk = 64 in the 128-byte swizzle.
--   simt = 1 (f32 only), FMAs: each block of (bm / wm) x (bn / wn) threads computes bm x bn tiles of C,
--     each thread wm x wn; K streams through shared memory in bk slices, `stages` of them in flight.
--   group: the tiles are taken in groups of `group` rows of tiles, column by column within a group.
--   split (wgmma only): clusters of `split` blocks share a tile, each multiplying a part of K, and the
--     others hand their accumulators to the first through distributed shared memory.
-- Knobs (integers): bm, bn, bk, wm, wn, stages, wgmma, group, split, simt.
-- q.bits is the operands' element size (16 or 32); q.tf32 = 1: f32 in TF32 on the mma.sync path. q.m is -1 when m is only known at run time (a symbolic batch * seq); for a convolution with a
-- symbolic batch, the caller passes the pixels of one image. q.n and q.k are N and K (-1: not given).

-- Measured on an H100 (docs/perf.md, bench/gpu_gemm.py), over the configurations listed there.
-- float32: the largest of these tiles that still makes tiles for 90% of the SMs, else the smallest; up to
-- 16 rows, a narrow tile of 128 threads. Narrow products take narrower tiles: bn down to n rounded up to
-- 32 (a thread keeps 4 columns at least), bk down to k rounded up to 4 (a 1 x 1 convolution of 16
-- channels). Measured on an H100 (docs/perf.md): 128 x 128 with slices of 32 in 2 stages ran 4096^3 and
-- 8192^3 at 0.83x cuBLAS (slices of 16 in 3-4 stages: 0.78-0.80x; 64 x 64: 0.71x); 128 x 256 x 256
-- fastest in 16 x 32 tiles, 128 x 1024 x 256 in 32 x 64, 128 x 4096 x 4096 in 64 x 64, 1 x 4096 x 4096 in
-- 16 x 64 with slices of 64; mobilenet_v2 and squeezenet1_1 ran 1.5-2x faster with tiles for every SM
-- in slices of 16 than with tiles for 45% of them in slices of 32.
local function simt_defaults(q)
  local m = q.m
  local function with(t)
    if q.n and q.n > 0 then
      t.bn = math.min(t.bn, math.max(32, (q.n + 31) // 32 * 32))
      t.wn = math.min(t.wn, t.bn // 8)
    end
    t.bk = t.bk or 16
    if q.k and q.k > 0 then t.bk = math.min(t.bk, (q.k + 3) // 4 * 4) end
    t.stages, t.wgmma, t.split, t.simt = t.stages or 3, 0, 1, 1
    t.group = t.group or 1
    return t
  end
  if m > 0 and m <= 16 then return with({ bm = 16, bn = 64, bk = 64, wm = 2, wn = 4 }) end
  local tiles = {
    { bm = 128, bn = 128, bk = 32, wm = 8, wn = 8, stages = 2, group = 8 },
    { bm = 64, bn = 64, wm = 4, wn = 4 },
    { bm = 32, bn = 64, wm = 2, wn = 4 },
    { bm = 16, bn = 32, wm = 1, wn = 4 },
  }
  -- rows known only at run time (batch x sequence): the middle tile, 1.18x slower than the largest at
  -- 4096^3 but with 4x its tiles when the rows are few (128 rows: 8 blocks for 256 columns)
  -- the thinnest tile (4 outputs a thread) only for at most 512 rows: squeezenet1_1's 55 x 55 layers
  -- at batch 2 ran 2x slower in it than in 32 x 64
  if m <= 0 then return with(tiles[2]) end
  -- rows of K not a multiple of 4 floats are copied element by element (a 3 x 3 convolution of 3
  -- channels): ptxas spilled the 8 x 8 thread tile's kernel then (squeezenet1_1's first layer took 0.61
  -- ms), so it starts from the second tile
  local last = m <= 512 and #tiles or #tiles - 1
  local first = (q.k and q.k % 4 ~= 0) and 2 or 1
  for i = first, last do
    local t = with(tiles[i])
    local cols = (q.n and q.n > 0) and (q.n + t.bn - 1) // t.bn or 1
    if i == last or ((m + t.bm - 1) // t.bm) * cols >= q.target.cores * 90 // 100 then return t end
  end
end

function defaults(q)
  local m = q.m
  if q.bits == 32 and q.tf32 ~= 1 then return simt_defaults(q) end
  if m > 0 and m <= 32 then
    -- few rows (a token or a few, a GEMV): narrow tiles so that N alone fills the device, deep slices
    return { bm = 16, bn = 32, bk = 128, wm = 16, wn = 16, stages = 4, wgmma = 0, group = 1, split = 1, simt = 0 }
  elseif q.target.name == "sm_90a" and q.tf32 ~= 1 then
    -- warpgroups: the largest of these tiles that still makes tiles for at least 45% of the SMs
    -- (q.target.cores; measured: 64 x 128 tiles beat twice as many of 64 x 64), else the smallest: 256 x 128 (two multiplying warpgroups of 128 x 128) in groups of 8 rows
    -- of tiles, 128 x 128 (two of 64 x 128), 64 x 128 and 64 x 64 (one) in 6 stages; narrow n: n
    -- rounded up to 64 columns
    local function fit(bn) return (q.n and q.n > 0) and math.min(bn, math.max(64, (q.n + 63) // 64 * 64)) or bn end
    local tiles = {
      { bm = 256, bn = fit(128), bk = 64, wm = 128, stages = 4, group = 8 },
      { bm = 128, bn = fit(128), bk = 64, wm = 64, stages = 4, group = 8 },
      { bm = 64, bn = fit(128), bk = 64, wm = 64, stages = 6, group = 1 },
      { bm = 64, bn = 64, bk = 64, wm = 64, stages = 6, group = 1 },
    }
    local pick, count = tiles[1], 0
    if m > 0 and q.n and q.n > 0 then
      for _, t in ipairs(tiles) do
        pick, count = t, ((m + t.bm - 1) // t.bm) * ((q.n + t.bn - 1) // t.bn)
        if count >= q.target.cores * 45 // 100 then break end
      end
    elseif m > 0 and m <= 256 then
      pick = tiles[3]
    end
    pick.wn, pick.wgmma, pick.split, pick.simt = pick.bn, 1, 1, 0
    -- room for twice the tiles: split K over clusters of 8, 4 or 2 blocks, as many as the SMs hold, each
    -- with 12 slices of 64 at least (measured: 49 x 512 x 4608 1.6x faster with 4 or 8 blocks; 196 x
    -- 256 x 2304 best with 2, slower with 8 than with none; 128 x 4096 x 4096 1.3x faster with 2)
    local hand_over = pick.stages * (128 * (pick.bm + pick.bn) + 16) + 1040 + 4 * pick.bm * pick.bn
    if count > 0 and count * 2 <= q.target.cores and q.k and q.k > 0 and hand_over <= q.target.l1 then
      for _, s in ipairs({ 8, 4, 2 }) do
        if count * s <= q.target.cores and (q.k + 63) // 64 >= 12 * s then pick.split = s break end
      end
    end
    return pick
  elseif m > 0 and m <= 256 then
    return { bm = 64, bn = 64, bk = 32, wm = 32, wn = 32, stages = 4, wgmma = 0, group = 1, split = 1, simt = 0 }
  elseif q.tf32 == 1 then
    -- TF32 (4-byte elements): 8 warps of 64 x 64 in slices of 16 (slices of 32 spill; measured on an
    -- H100, 4096^3 and 8192^3 ran at 141-144 TFLOP/s, 128 x 128 tiles at 116-121)
    return { bm = 256, bn = 128, bk = 16, wm = 64, wn = 64, stages = 3, wgmma = 0, group = 8, split = 1, simt = 0 }
  end
  return { bm = 128, bn = 128, bk = 32, wm = 64, wn = 64, stages = 4, wgmma = 0, group = 1, split = 1, simt = 0 }
end

function knobs(q)
  return {
    bm = { 16, 32, 64, 128, 256 },
    bn = { 32, 64, 128, 256 },
    bk = { 16, 32, 64, 128 },
    wm = { 2, 4, 8, 16, 32, 64, 128 },
    wn = { 4, 8, 16, 32, 64, 128, 256 },
    stages = { 2, 3, 4, 5 },
    wgmma = { 0, 1 },
    group = { 1, 8, 16 },
    split = { 1, 2, 4, 8 },
    simt = { 0, 1 },
  }
end

-- What the template can build (codegen/gpu_gemm.c's make_tile).
--   mma.sync: warp tiles of whole 16 x 16 blocks (at most 8 x 16 mma tiles) that divide the block's
--     tile, at most 32 warps, 256 accumulators per thread, and the stages' shared memory (rows padded by
--     8 elements) within the target's.
--   wgmma: sm_90a; bk = 64; wm 64 or 128 dividing bm, at most 4 multiplying warpgroups; wn 64, 128 or
--     256 dividing bn; 3 to 8 stages; at most 128 accumulators per thread and room for them (+ 24) in
--     a thread's share of the 65536 registers (the copying warpgroup included); the stages (no
--     padding), their barriers and 1 KB for their alignment within the shared memory.
--   simt: thread tiles of wm 1..16 x wn 4, 8, 12 or 16 (at most 128 accumulators) dividing the block's
--     tile, whole warps up to 1024 threads, bk a multiple of 4, 2..8 stages, the stages' shared memory
--     (rows padded by 4 floats) within the target's; f32 operands only (q.bits 32, when given).
--   TF32 (q.tf32 = 1): mma.sync alone, rows of 4-byte elements.
function valid(q, kn)
  if q.bits and (kn.simt == 1) ~= (q.bits == 32 and q.tf32 ~= 1) then return false end
  if q.tf32 == 1 and kn.wgmma ~= 0 then return false end
  if kn.simt == 1 then
    if kn.wgmma ~= 0 or kn.split ~= 1 or kn.wm < 1 or kn.wm > 16 or kn.wn < 4 or kn.wn > 16 or kn.wn % 4 ~= 0 then return false end
    if kn.wm * kn.wn > 128 or kn.bm % kn.wm ~= 0 or kn.bn % kn.wn ~= 0 or kn.bk < 4 or kn.bk % 4 ~= 0 then return false end
    if kn.stages < 2 or kn.stages > 8 then return false end
    local threads = (kn.bm // kn.wm) * (kn.bn // kn.wn)
    if threads % 32 ~= 0 or threads > 1024 then return false end
    local b_rows = math.max(kn.bk * (kn.bn + 4), kn.bn * (kn.bk + 4)) -- either layout of B
    return kn.stages * 4 * (kn.bm * (kn.bk + 4) + b_rows) <= q.target.l1
  end
  if kn.simt ~= 0 then return false end
  if kn.split ~= 1 and (kn.wgmma ~= 1 or (kn.split ~= 2 and kn.split ~= 4 and kn.split ~= 8)) then return false end
  if kn.wgmma == 1 then
    if q.target.name ~= "sm_90a" or kn.bk ~= 64 or (kn.wm ~= 64 and kn.wm ~= 128) then return false end
    if kn.bm % kn.wm ~= 0 or kn.bm // kn.wm > 4 or kn.wn % 64 ~= 0 or kn.bn % kn.wn ~= 0 then return false end
    local consumers, acc = kn.bm // kn.wm, kn.wm * kn.bn // 128
    local regs = math.min(255, 65536 // (128 * (consumers + 1)) // 8 * 8)
    if kn.stages < 3 or kn.stages > 8 or acc > 128 or acc + 24 > regs then return false end
    local hand_over = kn.split > 1 and 16 + 4 * kn.bm * kn.bn or 0
    return kn.stages * (128 * (kn.bm + kn.bn) + 16) + 1024 + hand_over <= q.target.l1
  end
  if kn.wgmma ~= 0 then return false end
  if kn.wm < 16 or kn.wm % 16 ~= 0 or kn.wn < 16 or kn.wn % 16 ~= 0 then return false end
  if kn.bm % kn.wm ~= 0 or kn.bn % kn.wn ~= 0 or kn.bk < 16 or kn.bk % 16 ~= 0 then return false end
  if kn.stages < 2 or kn.stages > 8 or kn.wm > 128 or kn.wn > 128 then return false end
  local threads = 32 * (kn.bm // kn.wm) * (kn.bn // kn.wn)
  if threads > 1024 or (kn.wm // 16) * (kn.wn // 8) * 4 > 256 then return false end
  local bytes = q.tf32 == 1 and 4 or 2
  local pad = 16 // bytes
  local b_rows = math.max(kn.bk * (kn.bn + 8), kn.bn * (kn.bk + pad)) -- either layout of B
  local stage = bytes * (kn.bm * (kn.bk + pad) + b_rows)
  return kn.stages * stage <= q.target.l1
end
