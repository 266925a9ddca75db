-- The CPU convolution template's space (codegen/cpu_conv.c): a 2-D convolution in NCHW<b>c,
--   for each item (batch, oc tile, output row), spread over the cores:
--     for each tile of ow_block output columns:
--       ow_block x oc_tile accumulators of b lanes, reduced over input-channel blocks and kernel taps
--       (loop_order), then the epilogue and one store per vector.
-- Knobs (integers):
--   ow_block   output columns of a register tile
--   oc_tile    output-channel blocks of a register tile (divides mb; 1 for depthwise)
--   loop_order 1: input-channel blocks outside the kernel taps; 2: kernel taps outside
--   row_merge  1x1 stride-1 unpadded convolutions: output rows treated as one pixel row (divides oh)
-- Query fields: block (b, lanes of a channel block), cb / mb (input / output channel blocks), h, w, oh, ow,
-- kh, kw, sh, sw, ph, pw, dh, dw, depthwise (0/1), pointwise (1: 1x1 stride-1 unpadded), mergeable
-- (1: rows may be merged), c_active (input channels that reach the output), batch (-1: symbolic).

local function ceil_div(a, b) return (a + b - 1) // b end

-- Vector registers of b lanes.
local function vregs(q)
  local t = q.target
  if q.block <= t.lanes then return t.registers end
  return math.max(1, t.registers * t.lanes // q.block)
end

-- The widest tile of oct oc blocks whose accumulators, oct weight vectors and one broadcast input fit.
local function max_ow_block(q, oct)
  local owb = (vregs(q) - 1 - oct) // oct
  return math.max(1, math.min(owb, 64 // oct, 64))
end

-- Columns per tile when width columns are split into tiles of at most max_width, evenly.
local function balanced(width, max_width)
  return ceil_div(width, ceil_div(width, max_width))
end

function defaults(q)
  local k = { ow_block = balanced(q.ow, max_ow_block(q, 1)), oc_tile = 1, loop_order = 1, row_merge = 1 }
  if q.depthwise == 1 then return k end
  -- the oc tile with the fullest register tiles, then the fewest loads per FMA, keeping >= 8 work items.
  -- With fewer active input channels than a block (an RGB image padded to 16 channels) each input line
  -- feeds few FMAs: the widest oc tile up to 4 then reuses every loaded input value the most.
  local best = -1
  local min_oct = 1
  if q.c_active < q.block then
    for oct = 4, 1, -1 do
      if q.mb % oct == 0 and (q.mb // oct) * q.oh >= 8 then min_oct = oct break end
    end
  end
  for oct = min_oct, 8 do
    if q.mb % oct == 0 and (oct == 1 or (q.mb // oct) * q.oh >= 8) then
      local owb = balanced(q.ow, max_ow_block(q, oct))
      local used = oct * q.ow / ceil_div(q.ow, owb)
      local score = used - (owb + oct) / (owb * oct)
      if score > best then best, k.oc_tile, k.ow_block = score, oct, owb end
    end
  end
  -- short rows of a 1x1 convolution: merge rows into longer pixel rows while the work items last
  if q.mergeable == 1 then
    local limit = max_ow_block(q, k.oc_tile)
    for rm = q.oh, 2, -1 do
      if q.oh % rm == 0 and q.ow * rm <= limit and (q.mb // k.oc_tile) * (q.oh // rm) >= 8 then
        k.row_merge, k.ow_block = rm, balanced(q.ow * rm, limit)
        break
      end
    end
  end
  return k
end

function knobs(q)
  local oc = {}
  for oct = 1, 8 do
    if q.mb % oct == 0 and (q.depthwise == 0 or oct == 1) then oc[#oc + 1] = oct end
  end
  local rows = { 1 }
  if q.mergeable == 1 then
    for rm = 2, q.oh do
      if q.oh % rm == 0 and q.ow * rm <= 64 then rows[#rows + 1] = rm end
    end
  end
  return {
    ow_block = { 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32 },
    oc_tile = oc,
    loop_order = { 1, 2 },
    row_merge = rows,
  }
end

function valid(q, kn)
  if kn.ow_block < 1 or kn.oc_tile < 1 or kn.row_merge < 1 then return false end
  if q.mb % kn.oc_tile ~= 0 or (q.depthwise == 1 and kn.oc_tile ~= 1) then return false end
  if kn.ow_block > 64 or kn.ow_block * kn.oc_tile > 64 then return false end
  if kn.loop_order ~= 1 and kn.loop_order ~= 2 then return false end
  if kn.row_merge > 1 and (q.mergeable ~= 1 or q.oh % kn.row_merge ~= 0) then return false end
  -- more accumulators than registers spill: legal, but never worth measuring
  return kn.ow_block * kn.oc_tile + kn.oc_tile + 1 <= vregs(q) + 4
end
