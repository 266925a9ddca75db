/* The GPU flash-attention template on tensor cores (contract in codegen/gpu_flash.h). */
#include "codegen/gpu_flash.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codegen/template_ir.h"

/* Keys per step; query rows per warp. The mma.sync path runs blocks of 4 warps (64 rows), the
 * warpgroup path blocks of 2 warpgroups (128 rows). */
enum { KEYS = 64, MAX_HEAD = 128 };

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
  bool wgmma; /* the warpgroup path (sm_90a) */
  int threads, rows; /* per block: threads, query rows */
  LLVMTypeRef i16, half;
  LLVMValueRef smem, smem_address; /* the dynamic shared memory: pointer (addrspace 3) and address (i32) */
  LLVMValueRef tid, lane, warp;
  /* shared memory: Q (rows x head), then K in 2 stages, then V in 2 stages (KEYS x head each). mma.sync:
   * rows padded to head + 8 elements (ldmatrix rows in distinct banks); wgmma: rows of head elements
   * in 64-column blocks of 128-byte rows, swizzled (see tile_offset), 1024-byte aligned */
  int row_bytes, q_bytes, kv_bytes;
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

/* The byte offset of element (row, col) (col a multiple of 8) of a shared tile of `rows` rows: padded
 * rows, or on the warpgroup path the 128-byte swizzle of the tensor cores' descriptors: the head cut
 * into 64-column blocks of `rows` 128-byte rows, whose 16-byte chunks are permuted by row mod 8. */
static LLVMValueRef tile_offset(gen_t *g, LLVMValueRef row, LLVMValueRef col, int rows) {
  LLVMBuilderRef bd = g->t.b;
  if (!g->wgmma) return add(g, mul(g, row, i32c(g, g->row_bytes)), mul(g, col, i32c(g, 2)));
  LLVMValueRef block = mul(g, LLVMBuildLShr(bd, col, i32c(g, 6), ""), i32c(g, rows * 128));
  LLVMValueRef chunk = LLVMBuildXor(bd, LLVMBuildAnd(bd, LLVMBuildLShr(bd, col, i32c(g, 3), ""), i32c(g, 7), ""),
                                    LLVMBuildAnd(bd, row, i32c(g, 7), ""), "");
  return add(g, block, add(g, mul(g, row, i32c(g, 128)), mul(g, chunk, i32c(g, 16))));
}

/* Rows row0 .. row0 + rows - 1 of a [rows][head] matrix at `base` (rows from rows_end on: zeros) into
 * the shared tile at byte offset dst (i32): 16-byte cp.asyncs dealt out to the threads. */
static void copy_tile(gen_t *g, LLVMValueRef base, LLVMValueRef row0, LLVMValueRef rows_end, LLVMValueRef dst, int rows) {
  LLVMBuilderRef bd = g->t.b;
  int per_row = (int)g->p->head / 8;
  for (int i = 0; i < rows * per_row / g->threads; i++) {
    LLVMValueRef c = add(g, g->tid, i32c(g, i * g->threads));
    LLVMValueRef row = LLVMBuildUDiv(bd, c, i32c(g, per_row), ""), col = mul(g, LLVMBuildURem(bd, c, i32c(g, per_row), ""), i32c(g, 8));
    LLVMValueRef r = add(g, row0, sext(g, row)), ok = lt(g, r, rows_end);
    LLVMValueRef at = LLVMBuildSelect(bd, ok, add(g, mul(g, r, i64c(g, g->p->head)), sext(g, col)), i64c(g, 0), "");
    LLVMValueRef src = LLVMBuildGEP2(bd, g->i16, base, &at, 1, "");
    tcc_tir_cp_async16(&g->t, add(g, g->smem_address, add(g, dst, tile_offset(g, row, col, rows))), src,
                       LLVMBuildSelect(bd, ok, i32c(g, 16), i32c(g, 0), ""));
  }
}

static LLVMValueRef shared_ptr(gen_t *g, LLVMValueRef at) {
  return LLVMBuildGEP2(g->t.b, LLVMInt8TypeInContext(g->t.ctx), g->smem, &at, 1, "");
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
  tcc_tir_ldmatrix_x4(&g->t, shared_ptr(g, add(g, tile, tile_offset(g, rr, cc, 0))), trans, out);
}

typedef struct {
  LLVMValueRef o[MAX_HEAD / 8][4]; /* the output accumulators (allocas): 16 rows x head per warp */
  LLVMValueRef m[2], l[2];         /* per accumulator row (lane / 4 and + 8): running maximum, partial sum */
  LLVMValueRef s[KEYS / 8][4];     /* the scores of a key block (allocas) */
  LLVMValueRef qf[MAX_HEAD / 16][4]; /* mma.sync: the warp's Q fragments, loaded once per tile */
  LLVMValueRef q0, kv_end, stage; /* the tile's first query row; the keys; this key block's stage (i32) */
} tile_state_t;

static LLVMValueRef k_tile(gen_t *g, LLVMValueRef stage) { return add(g, i32c(g, g->q_bytes), mul(g, stage, i32c(g, g->kv_bytes))); }
static LLVMValueRef v_tile(gen_t *g, LLVMValueRef stage) {
  return add(g, i32c(g, g->q_bytes + 2 * g->kv_bytes), mul(g, stage, i32c(g, g->kv_bytes)));
}

/* The wgmma descriptor of the 64 x 16 (or keys x 16) K-major block at column `col` of the head of a
 * shared tile of `rows` rows from row `row`: Q or K as the operands of Q K^T. */
static LLVMValueRef k_major(gen_t *g, LLVMValueRef tile, int rows, LLVMValueRef row, int col) {
  LLVMValueRef at = add(g, tile, add(g, mul(g, row, i32c(g, 128)), i32c(g, (col / 64) * rows * 128 + (col % 64) * 2)));
  return tcc_tir_wgmma_descriptor(&g->t, shared_ptr(g, at), 16, 1024);
}

/* One block of 64 keys (j0 on) in shared stage `stage` against the warp's 16 query rows. */
static void key_block(gen_t *g, tile_state_t *st, LLVMValueRef j0) {
  tcc_tir_t *t = &g->t;
  LLVMBuilderRef bd = t->b;
  const plan_t *p = g->p;
  int kk_count = (int)p->head / 16, head = (int)p->head;
  LLVMValueRef kt = k_tile(g, st->stage), vt = v_tile(g, st->stage);
  /* S = Q K^T: K stored [key][head] is the [N][K] B operand */
  LLVMValueRef s[KEYS / 8][4];
  if (g->wgmma) { /* the warpgroup's 64 rows of Q at once */
    LLVMValueRef flat[KEYS / 2], q_row = mul(g, LLVMBuildLShr(bd, g->warp, i32c(g, 2), ""), i32c(g, 64));
    tcc_tir_ptx_statement(t, "wgmma.fence.sync.aligned;");
    for (int kk = 0; kk < kk_count; kk++)
      tcc_tir_wgmma(t, p->bf16, KEYS, k_major(g, i32c(g, 0), g->rows, q_row, kk * 16), NULL,
                    k_major(g, kt, KEYS, i32c(g, 0), kk * 16), false, kk > 0, flat);
    tcc_tir_ptx_statement(t, "wgmma.commit_group.sync.aligned;\nwgmma.wait_group.sync.aligned 0;");
    tcc_tir_pin(t, flat, KEYS / 2);
    for (int i = 0; i < KEYS / 2; i++) s[i / 4][i % 4] = flat[i];
  } else {
    for (int nt = 0; nt < KEYS / 8; nt++)
      for (int e = 0; e < 4; e++) s[nt][e] = f32c(g, 0);
    for (int np = 0; np < KEYS / 16; np++)
      for (int kk = 0; kk < kk_count; kk++) {
        LLVMValueRef b[4];
        ldmatrix_block(g, kt, i32c(g, np * 16), kk * 16, true, false, b);
        tcc_tir_mma_16816(t, p->bf16, st->qf[kk], (LLVMValueRef[]){b[0], b[1]}, s[2 * np]);
        tcc_tir_mma_16816(t, p->bf16, st->qf[kk], (LLVMValueRef[]){b[2], b[3]}, s[2 * np + 1]);
      }
  }
  /* scores in base 2, -inf past the keys and above the diagonal */
  LLVMValueRef c = f32c(g, p->scale * 1.4426950408889634), minus_inf = f32c(g, -INFINITY);
  for (int nt = 0; nt < KEYS / 8; nt++)
    for (int e = 0; e < 4; e++) LLVMBuildStore(bd, LLVMBuildFMul(bd, s[nt][e], c, ""), st->s[nt][e]);
  /* only a block that crosses the end of the keys, or (causal) the tile's first row, is masked; in 32
   * bits, relative to j0 */
  LLVMValueRef needs = LLVMBuildICmp(bd, LLVMIntSGT, add(g, j0, i64c(g, KEYS)), st->kv_end, "");
  if (p->causal) needs = LLVMBuildOr(bd, needs, LLVMBuildICmp(bd, LLVMIntSGE, add(g, j0, i64c(g, KEYS - 1)), add(g, st->q0, i64c(g, 1)), ""), "");
  LLVMBasicBlockRef join = tcc_tir_if_begin(t, needs);
  LLVMValueRef keys = LLVMBuildTrunc(bd, tcc_tir_smin(t, LLVMBuildSub(bd, st->kv_end, j0, ""), i64c(g, KEYS)), t->i32, "");
  LLVMValueRef group = LLVMBuildLShr(bd, g->lane, i32c(g, 2), ""), pair = mul(g, LLVMBuildAnd(bd, g->lane, i32c(g, 3), ""), i32c(g, 2));
  LLVMValueRef row0 = add(g, LLVMBuildTrunc(bd, LLVMBuildSub(bd, st->q0, j0, ""), t->i32, ""), add(g, mul(g, g->warp, i32c(g, 16)), group));
  for (int nt = 0; nt < KEYS / 8; nt++)
    for (int e = 0; e < 4; e++) {
      LLVMValueRef key = add(g, i32c(g, nt * 8 + (e & 1)), pair), ok = lt(g, key, keys);
      if (p->causal) ok = LLVMBuildAnd(bd, ok, LLVMBuildICmp(bd, LLVMIntSLE, key, add(g, row0, i32c(g, 8 * (e >> 1))), ""), "");
      LLVMValueRef x = LLVMBuildLoad2(bd, t->f32, st->s[nt][e], "");
      LLVMBuildStore(bd, LLVMBuildSelect(bd, ok, x, minus_inf, ""), st->s[nt][e]);
    }
  tcc_tir_if_end(t, join);
  for (int nt = 0; nt < KEYS / 8; nt++)
    for (int e = 0; e < 4; e++) s[nt][e] = LLVMBuildLoad2(bd, t->f32, st->s[nt][e], "");
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
    for (int dt = 0; dt < head / 8; dt++)
      for (int e = 2 * r; e < 2 * r + 2; e++)
        LLVMBuildStore(bd, LLVMBuildFMul(bd, LLVMBuildLoad2(bd, t->f32, st->o[dt][e], ""), alpha, ""), st->o[dt][e]);
  }
  /* O += P V: P's accumulators are the A fragments of the keys (16 per step), V [key][head] the [K][N] B
   * (N-major for wgmma) */
  LLVMValueRef o[MAX_HEAD / 8][4], flat[MAX_HEAD / 2];
  for (int dt = 0; dt < head / 8; dt++)
    for (int e = 0; e < 4; e++) o[dt][e] = flat[dt * 4 + e] = LLVMBuildLoad2(bd, t->f32, st->o[dt][e], "");
  if (g->wgmma) tcc_tir_ptx_statement(t, "wgmma.fence.sync.aligned;");
  for (int kk = 0; kk < KEYS / 16; kk++) {
    LLVMValueRef a[4] = {pack2(g, s[2 * kk][0], s[2 * kk][1]), pack2(g, s[2 * kk][2], s[2 * kk][3]),
                         pack2(g, s[2 * kk + 1][0], s[2 * kk + 1][1]), pack2(g, s[2 * kk + 1][2], s[2 * kk + 1][3])};
    if (g->wgmma) {
      LLVMValueRef db = tcc_tir_wgmma_descriptor(t, shared_ptr(g, add(g, vt, i32c(g, kk * 16 * 128))), KEYS * 128, 1024);
      tcc_tir_wgmma(t, p->bf16, head, NULL, a, db, true, true, flat);
      continue;
    }
    for (int dp = 0; dp < head / 16; dp++) {
      LLVMValueRef b[4];
      ldmatrix_block(g, vt, i32c(g, kk * 16), dp * 16, false, true, b);
      tcc_tir_mma_16816(t, p->bf16, a, (LLVMValueRef[]){b[0], b[1]}, o[2 * dp]);
      tcc_tir_mma_16816(t, p->bf16, a, (LLVMValueRef[]){b[2], b[3]}, o[2 * dp + 1]);
    }
  }
  if (g->wgmma) {
    tcc_tir_ptx_statement(t, "wgmma.commit_group.sync.aligned;\nwgmma.wait_group.sync.aligned 0;");
    tcc_tir_pin(t, flat, head / 2);
    for (int i = 0; i < head / 2; i++) o[i / 4][i % 4] = flat[i];
  }
  for (int dt = 0; dt < head / 8; dt++)
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
  if (g->wgmma) { /* the tiles start at a 1024-byte boundary, where the swizzle pattern does */
    LLVMValueRef raw = LLVMBuildPtrToInt(bd, g->smem, t->i32, "");
    g->smem = shared_ptr(g, LLVMBuildAnd(bd, LLVMBuildSub(bd, i32c(g, 0), raw, ""), i32c(g, 1023), ""));
  }
  g->smem_address = LLVMBuildPtrToInt(bd, g->smem, t->i32, "");
  tile_state_t st;
  for (int dt = 0; dt < (int)p->head / 8; dt++)
    for (int e = 0; e < 4; e++) st.o[dt][e] = tcc_tir_alloca(t, t->f32, "o");
  for (int r = 0; r < 2; r++) st.m[r] = tcc_tir_alloca(t, t->f32, "m"), st.l[r] = tcc_tir_alloca(t, t->f32, "l");
  for (int nt = 0; nt < KEYS / 8; nt++)
    for (int e = 0; e < 4; e++) st.s[nt][e] = tcc_tir_alloca(t, t->f32, "s");
  st.kv_end = skv;
  /* tiles of g->rows query rows of each (batch, head), strided over the grid */
  LLVMValueRef q_blocks = LLVMBuildSDiv(bd, add(g, sq, i64c(g, g->rows - 1)), i64c(g, g->rows), "");
  LLVMValueRef total = mul(g, mul(g, batch, i64c(g, p->heads)), q_blocks);
  tcc_tir_loop_t tiles;
  LLVMValueRef grid = sext(g, tcc_tir_sreg(t, "nctaid.x"));
  LLVMValueRef tile = tcc_tir_loop_begin(t, &tiles, sext(g, tcc_tir_sreg(t, "ctaid.x")), total, grid, "tile");
  LLVMValueRef bh, qb, last = LLVMBuildSub(bd, q_blocks, i64c(g, 1), "");
  if (p->causal) {
    /* tiles have (query block + 1) blocks of keys: the heaviest first, dealt out to the blocks back and
     * forth (every other full round of the grid reversed) so that their loads even out */
    LLVMValueRef round = LLVMBuildSDiv(bd, tile, grid, ""), at = LLVMBuildSRem(bd, tile, grid, "");
    LLVMValueRef next = mul(g, add(g, round, i64c(g, 1)), grid);
    LLVMValueRef back = LLVMBuildAnd(bd, LLVMBuildICmp(bd, LLVMIntSLE, next, total, ""),
                                     LLVMBuildICmp(bd, LLVMIntNE, LLVMBuildAnd(bd, round, i64c(g, 1), ""), i64c(g, 0), ""), "");
    LLVMValueRef pos = LLVMBuildSelect(bd, back, LLVMBuildSub(bd, LLVMBuildSub(bd, next, i64c(g, 1), ""), at, ""), tile, "");
    LLVMValueRef heads = mul(g, batch, i64c(g, p->heads));
    qb = LLVMBuildSub(bd, last, LLVMBuildSDiv(bd, pos, heads, ""), "");
    bh = LLVMBuildSRem(bd, pos, heads, "");
  } else { /* the query blocks of one head together: its keys and values stay in L2 */
    bh = LLVMBuildSDiv(bd, tile, q_blocks, "");
    qb = LLVMBuildSub(bd, last, LLVMBuildSRem(bd, tile, q_blocks, ""), "");
  }
  LLVMValueRef b = LLVMBuildSDiv(bd, bh, i64c(g, p->heads), ""), h = LLVMBuildSRem(bd, bh, i64c(g, p->heads), "");
  LLVMValueRef kvh = LLVMBuildSRem(bd, h, i64c(g, p->kv_heads), "");
  st.q0 = mul(g, qb, i64c(g, g->rows));
  LLVMValueRef head = i64c(g, p->head);
  LLVMValueRef q_at = mul(g, mul(g, bh, sq), head), kv_at = mul(g, mul(g, add(g, mul(g, b, i64c(g, p->kv_heads)), kvh), skv), head);
  LLVMValueRef qt = LLVMBuildGEP2(bd, g->i16, q, &q_at, 1, ""), yt = LLVMBuildGEP2(bd, g->i16, y, &q_at, 1, "");
  LLVMValueRef kt = LLVMBuildGEP2(bd, g->i16, k, &kv_at, 1, ""), vt = LLVMBuildGEP2(bd, g->i16, v, &kv_at, 1, "");
  LLVMValueRef k_blocks = LLVMBuildSDiv(bd, add(g, skv, i64c(g, KEYS - 1)), i64c(g, KEYS), "");
  if (p->causal) { /* keys up to the tile's last row */
    LLVMValueRef upto = LLVMBuildSDiv(bd, add(g, st.q0, i64c(g, g->rows + KEYS - 1)), i64c(g, KEYS), "");
    k_blocks = LLVMBuildSelect(bd, lt(g, upto, k_blocks), upto, k_blocks, "");
  }
  /* Q, then key block 0, each a group; Q's fragments once it has landed */
  copy_tile(g, qt, st.q0, sq, i32c(g, 0), g->rows);
  tcc_tir_cp_async_commit(t);
  LLVMBasicBlockRef join = tcc_tir_if_begin(t, lt(g, i64c(g, 0), k_blocks));
  copy_tile(g, kt, i64c(g, 0), skv, k_tile(g, i32c(g, 0)), KEYS);
  copy_tile(g, vt, i64c(g, 0), skv, v_tile(g, i32c(g, 0)), KEYS);
  tcc_tir_if_end(t, join);
  tcc_tir_cp_async_commit(t);
  tcc_tir_cp_async_wait(t, 1);
  tcc_tir_barrier(t);
  for (int kk = 0; !g->wgmma && kk < (int)p->head / 16; kk++)
    ldmatrix_block(g, i32c(g, 0), mul(g, g->warp, i32c(g, 16)), kk * 16, false, false, st.qf[kk]);
  for (int dt = 0; dt < (int)p->head / 8; dt++)
    for (int e = 0; e < 4; e++) LLVMBuildStore(bd, f32c(g, 0), st.o[dt][e]);
  for (int r = 0; r < 2; r++) LLVMBuildStore(bd, f32c(g, -INFINITY), st.m[r]), LLVMBuildStore(bd, f32c(g, 0), st.l[r]);
  tcc_tir_loop_t keys;
  LLVMValueRef j = tcc_tir_loop_begin(t, &keys, i64c(g, 0), k_blocks, i64c(g, 1), "j");
  /* the next key block into the other stage (free: the barrier ending the last step), then this one's */
  LLVMValueRef next = add(g, j, i64c(g, 1));
  LLVMValueRef next_stage = LLVMBuildTrunc(bd, LLVMBuildAnd(bd, next, i64c(g, 1), ""), t->i32, "");
  join = tcc_tir_if_begin(t, lt(g, next, k_blocks));
  LLVMValueRef next_row = mul(g, next, i64c(g, KEYS));
  copy_tile(g, kt, next_row, skv, k_tile(g, next_stage), KEYS);
  copy_tile(g, vt, next_row, skv, v_tile(g, next_stage), KEYS);
  tcc_tir_if_end(t, join);
  tcc_tir_cp_async_commit(t);
  tcc_tir_cp_async_wait(t, 1);
  if (g->wgmma) tcc_tir_ptx_statement(t, "fence.proxy.async.shared::cta;");
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
  tcc_tir_gpu_kernel(t, fn, g->threads);
  /* two blocks per SM: one's softmax overlaps the other's products (at most 128 registers a thread) */
  if (g->wgmma) tcc_tir_gpu_min_blocks(t, fn, 2);
  return NULL;
}

tcc_status_t tcc_gpu_flash_attention_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, const char *target,
                                          char entry[256], tcc_gpu_launch_t *launch, bool *applied) {
  *applied = false;
  plan_t p;
  if (!plan_node(node, &p)) return NULL;
  gen_t g = {.p = &p, .wgmma = target && strcmp(target, "sm_90a") == 0 && p.head % 64 == 0};
  g.threads = g.wgmma ? 256 : 128, g.rows = g.wgmma ? 128 : 64;
  g.row_bytes = 2 * ((int)p.head + (g.wgmma ? 0 : 8));
  g.q_bytes = g.rows * g.row_bytes, g.kv_bytes = KEYS * g.row_bytes;
  TCC_RETURN_IF_ERROR(tcc_tir_init(&g.t, e, NULL));
  tcc_tir_t *t = &g.t;
  g.i16 = LLVMInt16TypeInContext(t->ctx);
  g.half = LLVMHalfTypeInContext(t->ctx);
  g.smem = tcc_tir_gpu_dynamic_shared(t);
  tcc_tir_gpu_entry(t, node->name, "attention", entry);
  tcc_status_t st = tcc_tir_gpu_keep(t, entry, emit_kernel(&g, entry));
  tcc_tir_dispose(t);
  TCC_RETURN_IF_ERROR(st);
  int shared = g.q_bytes + 4 * g.kv_bytes + (g.wgmma ? 1024 : 0); /* + the alignment of the tiles */
  *launch = (tcc_gpu_launch_t){.block = g.threads, .grid = 0, .shared_bytes = shared};
  *applied = true;
  return NULL;
}
