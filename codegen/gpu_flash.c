/* The GPU flash-attention template on tensor cores (contract in codegen/gpu_flash.h). */
#include "codegen/gpu_flash.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codegen/template_ir.h"

/* Query rows and keys per block step; 4 warps of 16 query rows. */
enum { ROWS = 64, KEYS = 64, THREADS = 128, MAX_HEAD = 128 };

typedef struct {
  const tcc_value_t *q, *k, *v, *y;
  int64_t head, heads, kv_heads;
  bool causal, bf16;
  double scale;
} plan_t;

static bool half_tensor4(const tcc_value_t *v, tcc_dtype_t t) {
  return v && v->type.kind == TCC_TYPE_TENSOR && v->type.dtype == t && v->type.rank == 4;
}

static bool plan_node(const tcc_node_t *n, plan_t *p) {
  memset(p, 0, sizeof *p);
  if (n->op != TCC_OP_ATTENTION || n->num_inputs != 3 || n->num_outputs < 1 || !n->outputs[0]) return false;
  for (int i = 1; i < n->num_outputs; i++)
    if (n->outputs[i]) return false; /* present_key, present_value, qk output */
  p->q = n->inputs[0], p->k = n->inputs[1], p->v = n->inputs[2], p->y = n->outputs[0];
  tcc_dtype_t t = p->q ? p->q->type.dtype : TCC_DTYPE_F32;
  if ((t != TCC_DTYPE_F16 && t != TCC_DTYPE_BF16) || !half_tensor4(p->q, t) || !half_tensor4(p->k, t) ||
      !half_tensor4(p->v, t) || !half_tensor4(p->y, t))
    return false;
  p->bf16 = t == TCC_DTYPE_BF16;
  const tcc_dim_t *const *q = p->q->type.dims, *const *k = p->k->type.dims, *const *v = p->v->type.dims;
  if (!tcc_dim_is_const(q[3]) || q[3] != k[3] || q[3] != v[3] || k[0] != q[0] || v[0] != q[0] || v[1] != k[1] ||
      v[2] != k[2] || p->y->type.dims[3] != q[3] || p->y->type.dims[2] != q[2])
    return false;
  p->head = tcc_dim_value(q[3]);
  if (p->head < 16 || p->head > MAX_HEAD || p->head % 16) return false;
  if (tcc_node_attr_float(n, "softcap", 0.0) != 0.0 || tcc_node_attr_int(n, "softmax_precision", 0) == TCC_DTYPE_F64)
    return false;
  if (!tcc_dim_is_const(q[1]) || !tcc_dim_is_const(k[1])) return false;
  p->heads = tcc_dim_value(q[1]), p->kv_heads = tcc_dim_value(k[1]);
  if (p->kv_heads < 1 || p->heads % p->kv_heads) return false;
  p->causal = tcc_node_attr_int(n, "is_causal", 0) != 0;
  p->scale = tcc_node_attr(n, "scale") ? (double)(float)tcc_node_attr_float(n, "scale", 1.0) : 1.0 / sqrt((double)p->head);
  return true;
}

/* ---- IR ---- */

typedef struct {
  tcc_tir_t t;
  const plan_t *p;
  LLVMTypeRef i16, half;
  LLVMValueRef smem, smem_address; /* the dynamic shared memory: pointer (addrspace 3) and address (i32) */
  LLVMValueRef tid, lane, warp;
  int stride, tile_bytes; /* elements per shared row (head + 8: ldmatrix rows in distinct banks); a tile */
} gen_t;

static LLVMValueRef i32c(gen_t *g, int64_t v) { return tcc_tir_i32c(&g->t, (int32_t)v); }
static LLVMValueRef i64c(gen_t *g, int64_t v) { return tcc_tir_i64c(&g->t, v); }
static LLVMValueRef f32c(gen_t *g, double v) { return tcc_tir_f32c(&g->t, v); }
static LLVMValueRef add(gen_t *g, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(g->t.b, a, b, ""); }
static LLVMValueRef mul(gen_t *g, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildMul(g->t.b, a, b, ""); }
static LLVMValueRef lt(gen_t *g, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildICmp(g->t.b, LLVMIntSLT, a, b, ""); }
static LLVMValueRef sext(gen_t *g, LLVMValueRef v) { return LLVMBuildSExt(g->t.b, v, g->t.i64, ""); }
static LLVMValueRef fmax2(gen_t *g, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(g->t.b, LLVMBuildFCmp(g->t.b, LLVMRealOGT, a, b, ""), a, b, "");
}

static LLVMValueRef exp2_approx(gen_t *g, LLVMValueRef x) {
  LLVMTypeRef f = g->t.f32;
  return tcc_tir_call(&g->t, "llvm.nvvm.ex2.approx.ftz.f", f, &f, 1, &x);
}

/* x combined with the other lanes of its quad (the 4 lanes holding one accumulator row). */
static LLVMValueRef quad(gen_t *g, LLVMValueRef x, bool is_max) {
  LLVMTypeRef tys[4] = {g->t.i32, g->t.f32, g->t.i32, g->t.i32};
  for (int d = 1; d <= 2; d *= 2) {
    LLVMValueRef args[4] = {i32c(g, -1), x, i32c(g, d), i32c(g, 31)};
    LLVMValueRef o = tcc_tir_call(&g->t, "llvm.nvvm.shfl.sync.bfly.f32", g->t.f32, tys, 4, args);
    x = is_max ? fmax2(g, x, o) : LLVMBuildFAdd(g->t.b, x, o, "");
  }
  return x;
}

/* Two floats rounded to the input type, packed in an i32 (an mma operand register, or a stored pair). */
static LLVMValueRef pack2(gen_t *g, LLVMValueRef lo, LLVMValueRef hi) {
  LLVMTypeRef ht = g->p->bf16 ? LLVMBFloatTypeInContext(g->t.ctx) : g->half;
  LLVMValueRef v = LLVMGetUndef(LLVMVectorType(ht, 2));
  v = LLVMBuildInsertElement(g->t.b, v, LLVMBuildFPTrunc(g->t.b, lo, ht, ""), i32c(g, 0), "");
  v = LLVMBuildInsertElement(g->t.b, v, LLVMBuildFPTrunc(g->t.b, hi, ht, ""), i32c(g, 1), "");
  return LLVMBuildBitCast(g->t.b, v, g->t.i32, "");
}

/* Rows row0 .. row0 + 63 of a [rows][head] matrix at `base` (rows from rows_end on: zeros) into the
 * shared tile at byte offset dst (i32): 16-byte cp.asyncs dealt out to the threads. */
static void copy_tile(gen_t *g, LLVMValueRef base, LLVMValueRef row0, LLVMValueRef rows_end, LLVMValueRef dst) {
  LLVMBuilderRef bd = g->t.b;
  int per_row = (int)g->p->head / 8;
  for (int i = 0; i < ROWS * per_row / THREADS; i++) {
    LLVMValueRef c = add(g, g->tid, i32c(g, i * THREADS));
    LLVMValueRef row = LLVMBuildUDiv(bd, c, i32c(g, per_row), ""), col = mul(g, LLVMBuildURem(bd, c, i32c(g, per_row), ""), i32c(g, 8));
    LLVMValueRef r = add(g, row0, sext(g, row)), ok = lt(g, r, rows_end);
    LLVMValueRef at = LLVMBuildSelect(bd, ok, add(g, mul(g, r, i64c(g, g->p->head)), sext(g, col)), i64c(g, 0), "");
    LLVMValueRef src = LLVMBuildGEP2(bd, g->i16, base, &at, 1, "");
    LLVMValueRef offset = mul(g, add(g, mul(g, row, i32c(g, g->stride)), col), i32c(g, 2));
    tcc_tir_cp_async16(&g->t, add(g, g->smem_address, add(g, dst, offset)), src,
                       LLVMBuildSelect(bd, ok, i32c(g, 16), i32c(g, 0), ""));
  }
}

/* ldmatrix.x4 of the 16 x 16 block at (row, col) of the shared tile at `tile` (byte offset, i32): the
 * lane addresses row + (its 8-lane group & 1) * 8 + lane % 8 (or with the groups' bits swapped when
 * `swap`, for a [N][K] B operand), column + the other bit * 8. */
static void ldmatrix_block(gen_t *g, LLVMValueRef tile, LLVMValueRef row, int col, bool swap, bool trans,
                           LLVMValueRef out[4]) {
  LLVMBuilderRef bd = g->t.b;
  LLVMValueRef j = LLVMBuildLShr(bd, g->lane, i32c(g, 3), ""), r = LLVMBuildAnd(bd, g->lane, i32c(g, 7), "");
  LLVMValueRef lo = mul(g, LLVMBuildAnd(bd, j, i32c(g, 1), ""), i32c(g, 8)), hi = mul(g, LLVMBuildLShr(bd, j, i32c(g, 1), ""), i32c(g, 8));
  LLVMValueRef rr = add(g, add(g, row, swap ? hi : lo), r), cc = add(g, i32c(g, col), swap ? lo : hi);
  LLVMValueRef at = add(g, tile, mul(g, add(g, mul(g, rr, i32c(g, g->stride)), cc), i32c(g, 2)));
  tcc_tir_ldmatrix_x4(&g->t, LLVMBuildGEP2(bd, LLVMInt8TypeInContext(g->t.ctx), g->smem, &at, 1, ""), trans, out);
}

typedef struct {
  LLVMValueRef o[MAX_HEAD / 8][4]; /* the output accumulators (allocas): 16 rows x head per warp */
  LLVMValueRef m[2], l[2];         /* per accumulator row (lane / 4 and + 8): running maximum, partial sum */
  LLVMValueRef qf[MAX_HEAD / 16][4];
  LLVMValueRef q0, kv_end, stage; /* the tile's first query row; the keys; this key block's stage (i32) */
} tile_state_t;

/* One block of 64 keys (j0 on) in shared stage `stage` against the warp's 16 query rows. */
static void key_block(gen_t *g, tile_state_t *st, LLVMValueRef j0) {
  tcc_tir_t *t = &g->t;
  LLVMBuilderRef bd = t->b;
  const plan_t *p = g->p;
  int kk_count = (int)p->head / 16;
  LLVMValueRef k_tile = add(g, i32c(g, g->tile_bytes), mul(g, st->stage, i32c(g, g->tile_bytes)));
  LLVMValueRef v_tile = add(g, i32c(g, 3 * g->tile_bytes), mul(g, st->stage, i32c(g, g->tile_bytes)));
  /* S = Q K^T: K stored [key][head] is the [N][K] B operand */
  LLVMValueRef s[KEYS / 8][4];
  for (int nt = 0; nt < KEYS / 8; nt++)
    for (int e = 0; e < 4; e++) s[nt][e] = f32c(g, 0);
  for (int np = 0; np < KEYS / 16; np++)
    for (int kk = 0; kk < kk_count; kk++) {
      LLVMValueRef b[4];
      ldmatrix_block(g, k_tile, i32c(g, np * 16), kk * 16, true, false, b);
      tcc_tir_mma_16816(t, p->bf16, st->qf[kk], (LLVMValueRef[]){b[0], b[1]}, s[2 * np]);
      tcc_tir_mma_16816(t, p->bf16, st->qf[kk], (LLVMValueRef[]){b[2], b[3]}, s[2 * np + 1]);
    }
  /* scores in base 2, -inf past the keys and above the diagonal */
  LLVMValueRef group = LLVMBuildLShr(bd, g->lane, i32c(g, 2), ""), pair = mul(g, LLVMBuildAnd(bd, g->lane, i32c(g, 3), ""), i32c(g, 2));
  LLVMValueRef row0 = add(g, st->q0, sext(g, add(g, mul(g, g->warp, i32c(g, 16)), group)));
  LLVMValueRef c = f32c(g, p->scale * 1.4426950408889634), minus_inf = f32c(g, -INFINITY);
  for (int nt = 0; nt < KEYS / 8; nt++)
    for (int e = 0; e < 4; e++) {
      LLVMValueRef key = add(g, j0, sext(g, add(g, i32c(g, nt * 8 + (e & 1)), pair)));
      LLVMValueRef ok = lt(g, key, st->kv_end);
      if (p->causal) ok = LLVMBuildAnd(bd, ok, LLVMBuildICmp(bd, LLVMIntSLE, key, add(g, row0, i64c(g, 8 * (e >> 1))), ""), "");
      s[nt][e] = LLVMBuildSelect(bd, ok, LLVMBuildFMul(bd, s[nt][e], c, ""), minus_inf, "");
    }
  /* online softmax per row r: m' = max(m, row max); what was summed scaled by 2^(m - m'); p = 2^(s - m')
   * (nothing while every score so far is -inf) */
  for (int r = 0; r < 2; r++) {
    LLVMValueRef mx = minus_inf;
    for (int nt = 0; nt < KEYS / 8; nt++) mx = fmax2(g, mx, fmax2(g, s[nt][2 * r], s[nt][2 * r + 1]));
    mx = quad(g, mx, true);
    LLVMValueRef m_old = LLVMBuildLoad2(bd, t->f32, st->m[r], ""), m_new = fmax2(g, m_old, mx);
    LLVMValueRef m_use = LLVMBuildSelect(bd, LLVMBuildFCmp(bd, LLVMRealOEQ, m_new, minus_inf, ""), f32c(g, 0), m_new, "");
    LLVMValueRef alpha = exp2_approx(g, LLVMBuildFSub(bd, m_old, m_use, ""));
    LLVMValueRef sum = f32c(g, 0);
    for (int nt = 0; nt < KEYS / 8; nt++)
      for (int e = 2 * r; e < 2 * r + 2; e++) {
        s[nt][e] = exp2_approx(g, LLVMBuildFSub(bd, s[nt][e], m_use, ""));
        sum = LLVMBuildFAdd(bd, sum, s[nt][e], "");
      }
    LLVMBuildStore(bd, m_new, st->m[r]);
    LLVMBuildStore(bd, LLVMBuildFAdd(bd, LLVMBuildFMul(bd, LLVMBuildLoad2(bd, t->f32, st->l[r], ""), alpha, ""), sum, ""), st->l[r]);
    for (int dt = 0; dt < (int)p->head / 8; dt++)
      for (int e = 2 * r; e < 2 * r + 2; e++)
        LLVMBuildStore(bd, LLVMBuildFMul(bd, LLVMBuildLoad2(bd, t->f32, st->o[dt][e], ""), alpha, ""), st->o[dt][e]);
  }
  /* O += P V: P's accumulators are the A fragments of the keys (16 per step), V [key][head] the [K][N] B */
  LLVMValueRef o[MAX_HEAD / 8][4];
  for (int dt = 0; dt < (int)p->head / 8; dt++)
    for (int e = 0; e < 4; e++) o[dt][e] = LLVMBuildLoad2(bd, t->f32, st->o[dt][e], "");
  for (int kk = 0; kk < KEYS / 16; kk++) {
    LLVMValueRef a[4] = {pack2(g, s[2 * kk][0], s[2 * kk][1]), pack2(g, s[2 * kk][2], s[2 * kk][3]),
                         pack2(g, s[2 * kk + 1][0], s[2 * kk + 1][1]), pack2(g, s[2 * kk + 1][2], s[2 * kk + 1][3])};
    for (int dp = 0; dp < (int)p->head / 16; dp++) {
      LLVMValueRef b[4];
      ldmatrix_block(g, v_tile, i32c(g, kk * 16), dp * 16, false, true, b);
      tcc_tir_mma_16816(t, p->bf16, a, (LLVMValueRef[]){b[0], b[1]}, o[2 * dp]);
      tcc_tir_mma_16816(t, p->bf16, a, (LLVMValueRef[]){b[2], b[3]}, o[2 * dp + 1]);
    }
  }
  for (int dt = 0; dt < (int)p->head / 8; dt++)
    for (int e = 0; e < 4; e++) LLVMBuildStore(bd, o[dt][e], st->o[dt][e]);
}

static tcc_status_t emit_kernel(gen_t *g, const char *entry) {
  tcc_tir_t *t = &g->t;
  const plan_t *p = g->p;
  LLVMTypeRef params[6] = {t->ptr, t->ptr, t->ptr, t->ptr, t->ptr, t->ptr};
  LLVMValueRef fn = LLVMAddFunction(t->mod, entry, LLVMFunctionType(t->void_t, params, 6, 0));
  tcc_tir_begin(t, fn);
  LLVMBuilderRef bd = t->b;
  LLVMValueRef q = LLVMGetParam(fn, 0), k = LLVMGetParam(fn, 1), v = LLVMGetParam(fn, 2), y = LLVMGetParam(fn, 3);
  LLVMValueRef syms = LLVMBuildLoad2(bd, t->ptr, LLVMGetParam(fn, 4), "syms"); /* ctx->symbols is the first field */
  LLVMValueRef batch, sq, skv;
  TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(t->e, bd, syms, p->q->type.dims[0], &batch));
  TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(t->e, bd, syms, p->q->type.dims[2], &sq));
  TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(t->e, bd, syms, p->k->type.dims[2], &skv));
  g->tid = tcc_tir_sreg(t, "tid.x");
  g->lane = LLVMBuildAnd(bd, g->tid, i32c(g, 31), "");
  g->warp = LLVMBuildLShr(bd, g->tid, i32c(g, 5), "");
  g->smem_address = LLVMBuildPtrToInt(bd, g->smem, t->i32, "");
  tile_state_t st;
  for (int dt = 0; dt < (int)p->head / 8; dt++)
    for (int e = 0; e < 4; e++) st.o[dt][e] = tcc_tir_alloca(t, t->f32, "o");
  for (int r = 0; r < 2; r++) st.m[r] = tcc_tir_alloca(t, t->f32, "m"), st.l[r] = tcc_tir_alloca(t, t->f32, "l");
  st.kv_end = skv;
  /* tiles of 64 query rows of each (batch, head), strided over the grid */
  LLVMValueRef q_blocks = LLVMBuildSDiv(bd, add(g, sq, i64c(g, ROWS - 1)), i64c(g, ROWS), "");
  LLVMValueRef total = mul(g, mul(g, batch, i64c(g, p->heads)), q_blocks);
  tcc_tir_loop_t tiles;
  LLVMValueRef tile = tcc_tir_loop_begin(t, &tiles, sext(g, tcc_tir_sreg(t, "ctaid.x")), total, sext(g, tcc_tir_sreg(t, "nctaid.x")), "tile");
  LLVMValueRef bh = LLVMBuildSDiv(bd, tile, q_blocks, ""), qb = LLVMBuildSRem(bd, tile, q_blocks, "");
  LLVMValueRef b = LLVMBuildSDiv(bd, bh, i64c(g, p->heads), ""), h = LLVMBuildSRem(bd, bh, i64c(g, p->heads), "");
  LLVMValueRef kvh = LLVMBuildSRem(bd, h, i64c(g, p->kv_heads), "");
  st.q0 = mul(g, qb, i64c(g, ROWS));
  LLVMValueRef head = i64c(g, p->head);
  LLVMValueRef q_at = mul(g, mul(g, bh, sq), head), kv_at = mul(g, mul(g, add(g, mul(g, b, i64c(g, p->kv_heads)), kvh), skv), head);
  LLVMValueRef qt = LLVMBuildGEP2(bd, g->i16, q, &q_at, 1, ""), yt = LLVMBuildGEP2(bd, g->i16, y, &q_at, 1, "");
  LLVMValueRef kt = LLVMBuildGEP2(bd, g->i16, k, &kv_at, 1, ""), vt = LLVMBuildGEP2(bd, g->i16, v, &kv_at, 1, "");
  LLVMValueRef k_blocks = LLVMBuildSDiv(bd, add(g, skv, i64c(g, KEYS - 1)), i64c(g, KEYS), "");
  if (p->causal) /* keys up to the tile's last row: blocks 0 .. qb */
    k_blocks = LLVMBuildSelect(bd, lt(g, qb, k_blocks), add(g, qb, i64c(g, 1)), k_blocks, "");
  /* Q, then key block 0, each a group; Q's fragments once it has landed */
  copy_tile(g, qt, st.q0, sq, i32c(g, 0));
  tcc_tir_cp_async_commit(t);
  LLVMBasicBlockRef join = tcc_tir_if_begin(t, lt(g, i64c(g, 0), k_blocks));
  copy_tile(g, kt, i64c(g, 0), skv, i32c(g, g->tile_bytes));
  copy_tile(g, vt, i64c(g, 0), skv, i32c(g, 3 * g->tile_bytes));
  tcc_tir_if_end(t, join);
  tcc_tir_cp_async_commit(t);
  tcc_tir_cp_async_wait(t, 1);
  tcc_tir_barrier(t);
  for (int kk = 0; kk < (int)p->head / 16; kk++) ldmatrix_block(g, i32c(g, 0), mul(g, g->warp, i32c(g, 16)), kk * 16, false, false, st.qf[kk]);
  for (int dt = 0; dt < (int)p->head / 8; dt++)
    for (int e = 0; e < 4; e++) LLVMBuildStore(bd, f32c(g, 0), st.o[dt][e]);
  for (int r = 0; r < 2; r++) LLVMBuildStore(bd, f32c(g, -INFINITY), st.m[r]), LLVMBuildStore(bd, f32c(g, 0), st.l[r]);
  tcc_tir_loop_t keys;
  LLVMValueRef j = tcc_tir_loop_begin(t, &keys, i64c(g, 0), k_blocks, i64c(g, 1), "j");
  /* the next key block into the other stage (free: the barrier ending the last step), then this one's */
  LLVMValueRef next = add(g, j, i64c(g, 1));
  LLVMValueRef next_stage = LLVMBuildTrunc(bd, LLVMBuildAnd(bd, next, i64c(g, 1), ""), t->i32, "");
  join = tcc_tir_if_begin(t, lt(g, next, k_blocks));
  LLVMValueRef next_row = mul(g, next, i64c(g, KEYS)), next_at = mul(g, next_stage, i32c(g, g->tile_bytes));
  copy_tile(g, kt, next_row, skv, add(g, i32c(g, g->tile_bytes), next_at));
  copy_tile(g, vt, next_row, skv, add(g, i32c(g, 3 * g->tile_bytes), next_at));
  tcc_tir_if_end(t, join);
  tcc_tir_cp_async_commit(t);
  tcc_tir_cp_async_wait(t, 1);
  tcc_tir_barrier(t);
  st.stage = LLVMBuildTrunc(bd, LLVMBuildAnd(bd, j, i64c(g, 1), ""), t->i32, "");
  key_block(g, &st, mul(g, j, i64c(g, KEYS)));
  tcc_tir_barrier(t); /* every warp is done with this stage before the next step refills it */
  tcc_tir_loop_end(t, &keys);
  /* O / l, rounded, pairs of columns stored for the rows inside the sequence */
  LLVMValueRef group = LLVMBuildLShr(bd, g->lane, i32c(g, 2), ""), pair = mul(g, LLVMBuildAnd(bd, g->lane, i32c(g, 3), ""), i32c(g, 2));
  for (int r = 0; r < 2; r++) {
    LLVMValueRef l = quad(g, LLVMBuildLoad2(bd, t->f32, st.l[r], ""), false);
    LLVMValueRef inv = LLVMBuildSelect(bd, LLVMBuildFCmp(bd, LLVMRealOGT, l, f32c(g, 0), ""), LLVMBuildFDiv(bd, f32c(g, 1), l, ""), f32c(g, 0), "");
    LLVMValueRef row = add(g, st.q0, sext(g, add(g, add(g, mul(g, g->warp, i32c(g, 16)), group), i32c(g, 8 * r))));
    join = tcc_tir_if_begin(t, lt(g, row, sq));
    for (int dt = 0; dt < (int)p->head / 8; dt++) {
      LLVMValueRef lo = LLVMBuildFMul(bd, LLVMBuildLoad2(bd, t->f32, st.o[dt][2 * r], ""), inv, "");
      LLVMValueRef hi = LLVMBuildFMul(bd, LLVMBuildLoad2(bd, t->f32, st.o[dt][2 * r + 1], ""), inv, "");
      LLVMValueRef at = add(g, mul(g, row, head), sext(g, add(g, i32c(g, dt * 8), pair)));
      LLVMValueRef store = LLVMBuildStore(bd, pack2(g, lo, hi), LLVMBuildGEP2(bd, g->i16, yt, &at, 1, ""));
      LLVMSetAlignment(store, 4);
    }
    tcc_tir_if_end(t, join);
  }
  tcc_tir_barrier(t); /* the next tile's copies reuse the tiles */
  tcc_tir_loop_end(t, &tiles);
  LLVMBuildRetVoid(bd);
  tcc_tir_gpu_kernel(t, fn, THREADS);
  return NULL;
}

tcc_status_t tcc_gpu_flash_attention_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, char entry[256],
                                          tcc_gpu_launch_t *launch, bool *applied) {
  *applied = false;
  plan_t p;
  if (!plan_node(node, &p)) return NULL;
  gen_t g = {.p = &p, .stride = (int)p.head + 8};
  g.tile_bytes = ROWS * g.stride * 2;
  TCC_RETURN_IF_ERROR(tcc_tir_init(&g.t, e, NULL));
  tcc_tir_t *t = &g.t;
  g.i16 = LLVMInt16TypeInContext(t->ctx);
  g.half = LLVMHalfTypeInContext(t->ctx);
  g.smem = tcc_tir_gpu_dynamic_shared(t);
  char name[200];
  tcc_tir_unique_name(t->mod, node->name, "attention", name);
  snprintf(entry, 256, "%s_gpu", name);
  tcc_status_t st = tcc_tir_gpu_keep(t, entry, emit_kernel(&g, entry));
  tcc_tir_dispose(t);
  TCC_RETURN_IF_ERROR(st);
  *launch = (tcc_gpu_launch_t){.block = THREADS, .grid = 0, .shared_bytes = 5 * g.tile_bytes};
  *applied = true;
  return NULL;
}
