-- The CPU GEMM template's space (codegen/cpu_gemm.c): C[m x n] = A[m x k] * B[k x n] in f32, blocked as
--   for each task (an mc x nc block of C, tasks spread over the cores):
--     for each kc slice of k: pack B (kc x nc) and A (mc x kc) when asked, then
--       for each nr-wide panel of B, for each mr-high panel of A: the mr x nr micro-kernel (FMA).
-- Knobs (integers):
--   mr      rows of the micro-tile (accumulators: mr * nv vector registers)
--   nv      vectors per micro-tile row: nr = nv * target.lanes columns
--   kc      depth of one slice (the B micro-panel kc x nr stays in L1)
--   mc, nc  the task's block of C (A block mc x kc in L2; multiples of mr and nr)
--   pack_a, pack_b  1: copy the operand into contiguous panels first; 0: read it in place
--   ku      unrolling of the micro-kernel's k loop
-- q.m is -1 when m is only known at run time (a symbolic batch * seq); q.batch is the number of
-- independent products (1 when -1 is unknown).

local function round_up(x, to) return ((x + to - 1) // to) * to end
local function round_down(x, to) return math.max(to, (x // to) * to) end
local function ceil_div(a, b) return (a + b - 1) // b end

-- The register tile for a target: as many accumulators as the register file holds, keeping nv
-- registers for B and one for the broadcast A value.
local function register_tile(q, m, n)
  local t = q.target
  local lanes, regs = t.lanes, t.registers
  local mr, nv
  if regs >= 32 and lanes >= 16 then mr, nv = 6, 4       -- AVX-512: 24 zmm accumulators
  elseif regs >= 32 then mr, nv = 8, 3                   -- NEON: 24 accumulators of 4 lanes
  else mr, nv = 6, 2 end                                 -- AVX2: 12 ymm accumulators
  local n_vectors = ceil_div(n, lanes)
  if n_vectors < nv then
    -- a narrow output: fewer vectors per row, more rows
    nv = n_vectors
    mr = math.min(16, (regs - nv - 1) // nv)
  end
  if m > 0 and m <= 8 and m ~= mr then
    -- few rows (m = 1: a matrix-vector product): one micro-tile row per row of C, wider rows instead
    mr = m
    nv = math.max(1, math.min(n_vectors, (regs - 1) // (mr + 1), 8))
  end
  return mr, nv
end

function defaults(q)
  local t = q.target
  local m, n, k = q.m, q.n, q.k
  local batch = (q.batch and q.batch > 0) and q.batch or 1
  -- a symbolic m (batch * seq) is guessed small, so that the tasks split M finely enough to balance
  -- whatever it turns out to be
  local m_est = m > 0 and m or 64
  local mr, nv = register_tile(q, m, n)
  local nr = nv * t.lanes
  -- kc: deep slices amortize the C tile's reload; a whole K (up to 1.5 slices) needs no reload at all.
  -- Few rows: the GEMM is a stream over B, so slice less.
  local kc = (m_est < 4 * mr) and 1024 or 384
  if k <= kc + kc // 2 then kc = k end
  kc = math.max(1, kc)
  -- mc: the A block (mc x kc) in a quarter of L2; nc: the B block (kc x nc) in a share of L3
  local mc = round_down((t.l2 // 4) // (kc * 4), mr)
  mc = math.min(mc, round_up(m_est, mr))
  local nc = round_down((t.l3 // (4 * math.max(1, t.cores))) // (kc * 4), nr)
  nc = round_down(math.min(nc, 1024, round_up(n, nr)), nr)
  -- tasks: one for tiny products (below 2^18 flops a worker costs more than it saves; the pool's workers
  -- spin a while between kernels, so from there two tasks pay), else four per core, so that the pool's
  -- dynamic assignment evens out blocks of unequal size
  local flops = 2 * m_est * n * k * batch
  local want = (flops <= (1 << 18)) and 1 or 4 * t.cores
  local function tasks() return batch * ceil_div(m_est, mc) * ceil_div(n, nc) end
  if want == 1 and batch == 1 then
    mc, nc = round_up(m_est, mr), round_up(n, nr)
  end
  while tasks() < want and nc > nr do nc = round_up(nc // 2, nr) end
  while tasks() < want and mc > mr do mc = round_up(mc // 2, mr) end
  -- packing pays off when a panel is reused: B across the block's mr panels, A across its nr panels
  local pack_b = (m_est >= 4 * mr and k >= 16 and k * n * 4 > t.l1) and 1 or 0
  local pack_a = (math.min(nc, n) >= 2 * nr and m_est >= 2 * mr and k >= 16) and 1 or 0
  return { mr = mr, nv = nv, kc = kc, mc = mc, nc = nc, pack_a = pack_a, pack_b = pack_b, ku = 4 }
end

function knobs(q)
  local lanes = q.target.lanes
  return {
    mr = { 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16 },
    nv = { 1, 2, 3, 4, 5, 6, 8 },
    kc = { 32, 64, 128, 192, 256, 320, 384, 512 },
    mc = { 16, 32, 48, 64, 96, 128, 192, 256, 384, 512 },
    nc = { lanes * 4, lanes * 8, lanes * 16, lanes * 32, lanes * 64, lanes * 128, lanes * 256 },
    pack_a = { 0, 1 },
    pack_b = { 0, 1 },
    ku = { 1, 2, 4, 8 },
  }
end

function valid(q, kn)
  local regs = q.target.registers
  if kn.mr < 1 or kn.nv < 1 or kn.kc < 1 or kn.ku < 1 then return false end
  if kn.mr * kn.nv + kn.nv + 1 > regs then return false end
  if kn.mc < kn.mr or kn.mc % kn.mr ~= 0 then return false end
  local nr = kn.nv * q.target.lanes
  if kn.nc < nr or kn.nc % nr ~= 0 then return false end
  return true
end
