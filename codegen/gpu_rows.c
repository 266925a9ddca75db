/* The GPU warp-per-row templates: attention, normalizations, softmax (contract in codegen/gpu_rows.h). */
#include "codegen/gpu_rows.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codegen/template_ir.h"

enum { THREADS = 256, MAX_PER_LANE = 8 };

typedef struct {
  const tcc_value_t *q, *k, *v, *mask, *y;
  int num_params;          /* q, k, v, [mask], y */
  int64_t head, per_lane;  /* head size; elements of it per lane */
  bool causal;
  double scale;
} plan_t;

static bool float_tensor4(const tcc_value_t *v, tcc_dtype_t dtype) {
  return v && v->type.kind == TCC_TYPE_TENSOR && v->type.dtype == dtype && v->type.rank == 4;
}

static bool plan_node(const tcc_node_t *n, plan_t *p) {
  memset(p, 0, sizeof *p);
  if (n->op != TCC_OP_ATTENTION || n->num_inputs < 3 || n->num_inputs > 4 || n->num_outputs < 1 || !n->outputs[0])
    return false;
  for (int i = 1; i < n->num_outputs; i++)
    if (n->outputs[i]) return false; /* present_key, present_value, qk output */
  for (int i = 0; i < 3; i++)
    if (!n->inputs[i]) return false;
  p->q = n->inputs[0], p->k = n->inputs[1], p->v = n->inputs[2], p->y = n->outputs[0];
  p->mask = n->num_inputs > 3 ? n->inputs[3] : NULL;
  tcc_dtype_t t = p->q->type.dtype;
  if ((t != TCC_DTYPE_F32 && t != TCC_DTYPE_F16 && t != TCC_DTYPE_BF16) || !float_tensor4(p->q, t) ||
      !float_tensor4(p->k, t) || !float_tensor4(p->v, t) || !float_tensor4(p->y, t))
    return false;
  const tcc_dim_t *const *q = p->q->type.dims, *const *k = p->k->type.dims, *const *v = p->v->type.dims;
  if (!tcc_dim_is_const(q[3]) || q[3] != k[3] || q[3] != v[3] || k[0] != q[0] || v[0] != q[0] || v[1] != k[1] ||
      v[2] != k[2])
    return false;
  p->head = tcc_dim_value(q[3]);
  if (p->head < 1 || p->head > 32 * MAX_PER_LANE) return false;
  p->per_lane = (p->head + 31) / 32;
  if (tcc_node_attr_float(n, "softcap", 0.0) != 0.0) return false;
  int64_t precision = tcc_node_attr_int(n, "softmax_precision", 0);
  if (precision == TCC_DTYPE_F64) return false;
  /* query head h reads key/value head h mod kv_heads: the kv heads must divide the query heads */
  if (!tcc_dim_is_const(q[1]) || !tcc_dim_is_const(k[1]) || tcc_dim_value(q[1]) % tcc_dim_value(k[1])) return false;
  p->causal = tcc_node_attr_int(n, "is_causal", 0) != 0;
  p->scale = tcc_node_attr(n, "scale") ? (double)(float)tcc_node_attr_float(n, "scale", 1.0) : 1.0 / sqrt((double)p->head);
  if (p->mask) {
    const tcc_value_t *m = p->mask;
    if (m->type.kind != TCC_TYPE_TENSOR || m->type.rank < 1 || m->type.rank > 4 ||
        (m->type.dtype != TCC_DTYPE_BOOL && !tcc_dtype_is_float(m->type.dtype)) || m->type.dtype == TCC_DTYPE_F64)
      return false;
    /* each mask dim is 1 or the extent it is broadcast to (a shorter key axis is not handled) */
    const tcc_dim_t *full[4] = {q[0], q[1], q[2], k[2]};
    for (int d = 0; d < m->type.rank; d++) {
      const tcc_dim_t *md = m->type.dims[d], *to = full[4 - m->type.rank + d];
      if (md != to && !(tcc_dim_is_const(md) && tcc_dim_value(md) == 1)) return false;
    }
  }
  p->num_params = p->mask ? 5 : 4;
  return true;
}

/* ---- IR ---- */

typedef struct {
  tcc_tir_t t;
  const plan_t *p;
  LLVMValueRef syms;
} gen_t;

static LLVMValueRef call(gen_t *g, const char *name, LLVMTypeRef ret, LLVMTypeRef *tys, int n, LLVMValueRef *args) {
  return tcc_tir_call(&g->t, name, ret, tys, n, args);
}

static LLVMValueRef sreg(gen_t *g, const char *name) {
  char full[64];
  snprintf(full, sizeof full, "llvm.nvvm.read.ptx.sreg.%s", name);
  return LLVMBuildZExt(g->t.b, call(g, full, g->t.i32, NULL, 0, NULL), g->t.i64, "");
}

static LLVMValueRef i64c(gen_t *g, int64_t v) { return tcc_tir_i64c(&g->t, v); }
static LLVMValueRef f32c(gen_t *g, double v) { return tcc_tir_f32c(&g->t, v); }
static LLVMValueRef mul(gen_t *g, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildMul(g->t.b, a, b, ""); }
static LLVMValueRef add(gen_t *g, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(g->t.b, a, b, ""); }

static tcc_status_t dim(gen_t *g, const tcc_dim_t *d, LLVMValueRef *out) {
  return tcc_llvm_emit_dim(g->t.e, g->t.b, g->syms, d, out);
}

static LLVMTypeRef elem_type(gen_t *g, tcc_dtype_t t) {
  LLVMContextRef c = g->t.ctx;
  return t == TCC_DTYPE_F16 ? LLVMHalfTypeInContext(c) : t == TCC_DTYPE_BF16 ? LLVMBFloatTypeInContext(c)
         : t == TCC_DTYPE_F32 ? g->t.f32 : LLVMInt8TypeInContext(c); /* bool: a byte */
}

/* Element `at` of a float buffer of dtype t, as f32; where ok is false (NULL: always true), 0 and no
 * access. */
static LLVMValueRef load_f32(gen_t *g, LLVMValueRef base, tcc_dtype_t t, LLVMValueRef at, LLVMValueRef ok) {
  LLVMTypeRef et = elem_type(g, t);
  if (ok) at = LLVMBuildSelect(g->t.b, ok, at, i64c(g, 0), "");
  LLVMValueRef v = LLVMBuildLoad2(g->t.b, et, LLVMBuildGEP2(g->t.b, et, base, &at, 1, ""), "");
  if (t != TCC_DTYPE_F32) v = LLVMBuildFPExt(g->t.b, v, g->t.f32, "");
  return ok ? LLVMBuildSelect(g->t.b, ok, v, f32c(g, 0), "") : v;
}

static LLVMValueRef exp_f32(gen_t *g, LLVMValueRef x) {
  LLVMTypeRef f = g->t.f32;
  return call(g, "__nv_expf", f, &f, 1, &x);
}

/* The sum of x over the warp's lanes, in every lane. */
static LLVMValueRef warp_sum(gen_t *g, LLVMValueRef x) {
  LLVMTypeRef tys[4] = {g->t.i32, g->t.f32, g->t.i32, g->t.i32};
  for (int d = 16; d >= 1; d /= 2) {
    LLVMValueRef args[4] = {tcc_tir_i32c(&g->t, -1), x, tcc_tir_i32c(&g->t, d), tcc_tir_i32c(&g->t, 31)};
    x = LLVMBuildFAdd(g->t.b, x, call(g, "llvm.nvvm.shfl.sync.bfly.f32", g->t.f32, tys, 4, args), "");
  }
  return x;
}

/* The maximum of x over the warp's lanes, in every lane. */
static LLVMValueRef warp_max(gen_t *g, LLVMValueRef x) {
  LLVMTypeRef tys[4] = {g->t.i32, g->t.f32, g->t.i32, g->t.i32};
  for (int d = 16; d >= 1; d /= 2) {
    LLVMValueRef args[4] = {tcc_tir_i32c(&g->t, -1), x, tcc_tir_i32c(&g->t, d), tcc_tir_i32c(&g->t, 31)};
    LLVMValueRef o = call(g, "llvm.nvvm.shfl.sync.bfly.f32", g->t.f32, tys, 4, args);
    x = LLVMBuildSelect(g->t.b, LLVMBuildFCmp(g->t.b, LLVMRealOGT, o, x, ""), o, x, "");
  }
  return x;
}

/* The mask's additive value for (b, h, i, j): a float mask's element, or 0 / -inf for a boolean one; its
 * dims right-aligned to [batch, heads, q_seq, kv_seq], index 0 where a dim is 1. */
static tcc_status_t mask_value(gen_t *g, LLVMValueRef mask, LLVMValueRef const full[4], LLVMValueRef *out) {
  const tcc_value_t *m = g->p->mask;
  int r = m->type.rank;
  LLVMValueRef at = i64c(g, 0);
  for (int d = 0; d < r; d++) {
    const tcc_dim_t *md = m->type.dims[d];
    LLVMValueRef extent;
    TCC_RETURN_IF_ERROR(dim(g, md, &extent));
    bool one = tcc_dim_is_const(md) && tcc_dim_value(md) == 1;
    at = add(g, mul(g, at, extent), one ? i64c(g, 0) : full[4 - r + d]);
  }
  if (m->type.dtype != TCC_DTYPE_BOOL) {
    *out = load_f32(g, mask, m->type.dtype, at, NULL);
    return NULL;
  }
  LLVMTypeRef i8 = LLVMInt8TypeInContext(g->t.ctx);
  LLVMValueRef byte = LLVMBuildLoad2(g->t.b, i8, LLVMBuildGEP2(g->t.b, i8, mask, &at, 1, ""), "");
  *out = LLVMBuildSelect(g->t.b, LLVMBuildICmp(g->t.b, LLVMIntNE, byte, LLVMConstInt(i8, 0, 0), ""), f32c(g, 0),
                         f32c(g, -INFINITY), "");
  return NULL;
}

static tcc_status_t emit_kernel(gen_t *g, const char *entry) {
  tcc_tir_t *t = &g->t;
  const plan_t *p = g->p;
  int np = p->num_params + 2;
  LLVMTypeRef params[8];
  for (int i = 0; i < np; i++) params[i] = t->ptr;
  LLVMValueRef fn = LLVMAddFunction(t->mod, entry, LLVMFunctionType(t->void_t, params, (unsigned)np, 0));
  tcc_tir_begin(t, fn);
  LLVMBuilderRef bd = t->b;
  LLVMValueRef q = LLVMGetParam(fn, 0), k = LLVMGetParam(fn, 1), v = LLVMGetParam(fn, 2);
  LLVMValueRef mask = p->mask ? LLVMGetParam(fn, 3) : NULL, y = LLVMGetParam(fn, (unsigned)p->num_params - 1);
  g->syms = LLVMBuildLoad2(bd, t->ptr, LLVMGetParam(fn, (unsigned)p->num_params), "syms");
  const tcc_dim_t *const *qd = p->q->type.dims;
  LLVMValueRef batch, heads, seq, kv_heads, total, head = i64c(g, p->head);
  TCC_RETURN_IF_ERROR(dim(g, qd[0], &batch));
  TCC_RETURN_IF_ERROR(dim(g, qd[1], &heads));
  TCC_RETURN_IF_ERROR(dim(g, qd[2], &seq));
  TCC_RETURN_IF_ERROR(dim(g, p->k->type.dims[1], &kv_heads));
  TCC_RETURN_IF_ERROR(dim(g, p->k->type.dims[2], &total));
  LLVMValueRef rows = mul(g, mul(g, batch, heads), seq);
  LLVMValueRef tid = sreg(g, "tid.x"), ntid = sreg(g, "ntid.x");
  LLVMValueRef lane = LLVMBuildAnd(bd, tid, i64c(g, 31), "lane");
  LLVMValueRef first = LLVMBuildLShr(bd, add(g, mul(g, sreg(g, "ctaid.x"), ntid), tid), i64c(g, 5), "");
  LLVMValueRef warps = LLVMBuildLShr(bd, mul(g, sreg(g, "nctaid.x"), ntid), i64c(g, 5), "");
  int n = (int)p->per_lane;
  LLVMValueRef acc[MAX_PER_LANE], qv[MAX_PER_LANE];
  for (int e = 0; e < n; e++) acc[e] = tcc_tir_alloca(t, t->f32, "acc");
  LLVMValueRef mx = tcc_tir_alloca(t, t->f32, "max"), sum = tcc_tir_alloca(t, t->f32, "sum");

  tcc_tir_loop_t rl;
  LLVMValueRef r = tcc_tir_loop_begin(t, &rl, first, rows, warps, "row");
  LLVMValueRef i = LLVMBuildURem(bd, r, seq, "i"), bh = LLVMBuildUDiv(bd, r, seq, "");
  LLVMValueRef h = LLVMBuildURem(bd, bh, heads, "h"), b = LLVMBuildUDiv(bd, bh, heads, "b");
  LLVMValueRef gh = LLVMBuildURem(bd, h, kv_heads, "g");
  LLVMValueRef mine = mul(g, lane, i64c(g, n)); /* this lane's first element of a row */
  LLVMValueRef in_head[MAX_PER_LANE]; /* whether the lane's element e is in the head (NULL: always) */
  for (int e = 0; e < n; e++)
    in_head[e] = p->head % 32 ? LLVMBuildICmp(bd, LLVMIntSLT, add(g, mine, i64c(g, e)), head, "") : NULL;
  LLVMValueRef q_row = add(g, mul(g, r, head), mine);
  LLVMValueRef kv_rows = mul(g, add(g, mul(g, b, kv_heads), gh), total); /* the first key row of (b, g) */
  for (int e = 0; e < n; e++) {
    qv[e] = LLVMBuildFMul(bd, load_f32(g, q, p->q->type.dtype, add(g, q_row, i64c(g, e)), in_head[e]), f32c(g, p->scale), "");
    LLVMBuildStore(bd, f32c(g, 0), acc[e]);
  }
  LLVMBuildStore(bd, f32c(g, -INFINITY), mx);
  LLVMBuildStore(bd, f32c(g, 0), sum);
  LLVMValueRef end = total;
  if (p->causal) { /* keys up to the diagonal */
    LLVMValueRef diag = add(g, i, i64c(g, 1));
    end = LLVMBuildSelect(bd, LLVMBuildICmp(bd, LLVMIntSLT, diag, total, ""), diag, total, "");
  }
  tcc_tir_loop_t kl;
  LLVMValueRef j = tcc_tir_loop_begin(t, &kl, i64c(g, 0), end, i64c(g, 1), "j");
  LLVMValueRef kv_at = add(g, mul(g, add(g, kv_rows, j), head), mine);
  LLVMValueRef part = f32c(g, 0);
  for (int e = 0; e < n; e++)
    part = LLVMBuildFAdd(bd, part, LLVMBuildFMul(bd, qv[e], load_f32(g, k, p->k->type.dtype, add(g, kv_at, i64c(g, e)), in_head[e]), ""), "");
  LLVMValueRef s = warp_sum(g, part);
  if (mask) {
    LLVMValueRef full[4] = {b, h, i, j}, mv;
    TCC_RETURN_IF_ERROR(mask_value(g, mask, full, &mv));
    s = LLVMBuildFAdd(bd, s, mv, "");
  }
  /* online softmax: m' = max(m, s); scale what was summed by e^(m - m'); add e^(s - m') (nothing while
   * every score so far is -inf) */
  LLVMValueRef m = LLVMBuildLoad2(bd, t->f32, mx, "");
  LLVMValueRef m2 = LLVMBuildSelect(bd, LLVMBuildFCmp(bd, LLVMRealOGT, s, m, ""), s, m, "");
  LLVMValueRef none = LLVMBuildFCmp(bd, LLVMRealOEQ, m2, f32c(g, -INFINITY), "");
  LLVMValueRef corr = LLVMBuildSelect(bd, none, f32c(g, 1), exp_f32(g, LLVMBuildFSub(bd, m, m2, "")), "");
  LLVMValueRef pj = LLVMBuildSelect(bd, none, f32c(g, 0), exp_f32(g, LLVMBuildFSub(bd, s, m2, "")), "");
  LLVMBuildStore(bd, m2, mx);
  LLVMBuildStore(bd, LLVMBuildFAdd(bd, LLVMBuildFMul(bd, LLVMBuildLoad2(bd, t->f32, sum, ""), corr, ""), pj, ""), sum);
  for (int e = 0; e < n; e++) {
    LLVMValueRef ve = load_f32(g, v, p->v->type.dtype, add(g, kv_at, i64c(g, e)), in_head[e]);
    LLVMValueRef a = LLVMBuildFMul(bd, LLVMBuildLoad2(bd, t->f32, acc[e], ""), corr, "");
    LLVMBuildStore(bd, LLVMBuildFAdd(bd, a, LLVMBuildFMul(bd, pj, ve, ""), ""), acc[e]);
  }
  tcc_tir_loop_end(t, &kl);
  LLVMValueRef l = LLVMBuildLoad2(bd, t->f32, sum, "");
  LLVMTypeRef yt = elem_type(g, p->y->type.dtype);
  for (int e = 0; e < n; e++) {
    LLVMValueRef o = LLVMBuildFDiv(bd, LLVMBuildLoad2(bd, t->f32, acc[e], ""), l, "");
    if (p->y->type.dtype != TCC_DTYPE_F32) o = LLVMBuildFPTrunc(bd, o, yt, "");
    LLVMValueRef at = add(g, q_row, i64c(g, e));
    LLVMBasicBlockRef join = in_head[e] ? tcc_tir_if_begin(t, in_head[e]) : NULL;
    LLVMBuildStore(bd, o, LLVMBuildGEP2(bd, yt, y, &at, 1, ""));
    if (join) tcc_tir_if_end(t, join);
  }
  tcc_tir_loop_end(t, &rl);
  LLVMBuildRetVoid(bd);
  tcc_tir_gpu_kernel(t, fn, 0);
  return NULL;
}

tcc_status_t tcc_gpu_attention_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, char entry[256],
                                    tcc_gpu_launch_t *launch, bool *applied) {
  *applied = false;
  plan_t p;
  if (!plan_node(node, &p)) return NULL;
  gen_t g = {.p = &p};
  TCC_RETURN_IF_ERROR(tcc_tir_init(&g.t, e, NULL));
  tcc_tir_gpu_entry(&g.t, node->name, "attention", entry);
  tcc_status_t st = tcc_tir_gpu_keep(&g.t, entry, emit_kernel(&g, entry));
  tcc_tir_dispose(&g.t);
  TCC_RETURN_IF_ERROR(st);
  *launch = (tcc_gpu_launch_t){.block = THREADS, .grid = 0, .shared_bytes = 0};
  *applied = true;
  return NULL;
}

/* ---- normalizations and softmax ---- */

/* A node of the row kinds: the rows of x over its trailing dims from `axis`. */
typedef enum { ROW_SOFTMAX, ROW_LOG_SOFTMAX, ROW_LAYER_NORM, ROW_RMS_NORM } row_kind_t;
typedef struct {
  row_kind_t kind;
  const tcc_value_t *x, *scale, *bias, *y;
  int axis, num_params; /* x, [scale, [bias]], y */
  double epsilon;
} rows_t;

static bool float_like(const tcc_value_t *v) {
  return v && v->type.kind == TCC_TYPE_TENSOR && v->type.rank >= 0 &&
         (v->type.dtype == TCC_DTYPE_F32 || v->type.dtype == TCC_DTYPE_F16 || v->type.dtype == TCC_DTYPE_BF16);
}

/* v (scale or bias) has the normalized dims of x (leading 1s aside): its element c is the row's c. */
static bool shaped_like_row(const tcc_value_t *v, const tcc_value_t *x, int axis) {
  if (!float_like(v)) return false;
  int r = v->type.rank, extra = r - (x->type.rank - axis);
  if (extra < 0) return false;
  for (int d = 0; d < extra; d++)
    if (!tcc_dim_is_const(v->type.dims[d]) || tcc_dim_value(v->type.dims[d]) != 1) return false;
  for (int d = extra; d < r; d++)
    if (v->type.dims[d] != x->type.dims[axis + d - extra]) return false;
  return true;
}

static bool plan_rows(const tcc_node_t *n, rows_t *p) {
  memset(p, 0, sizeof *p);
  if (n->num_inputs < 1 || !float_like(n->inputs[0]) || n->num_outputs < 1 || !float_like(n->outputs[0])) return false;
  for (int i = 1; i < n->num_outputs; i++)
    if (n->outputs[i]) return false; /* Mean / InvStdDev */
  p->x = n->inputs[0], p->y = n->outputs[0];
  int rank = p->x->type.rank;
  int64_t axis = tcc_node_attr_int(n, "axis", -1);
  if (rank < 1 || axis < -rank || axis >= rank) return false;
  p->axis = (int)(axis < 0 ? axis + rank : axis);
  switch (n->op) {
    case TCC_OP_SOFTMAX:
    case TCC_OP_LOG_SOFTMAX:
      if (n->num_inputs != 1 || p->axis != rank - 1) return false;
      p->kind = n->op == TCC_OP_SOFTMAX ? ROW_SOFTMAX : ROW_LOG_SOFTMAX;
      p->num_params = 2;
      return true;
    case TCC_OP_LAYER_NORMALIZATION:
    case TCC_OP_RMS_NORMALIZATION: {
      bool rms = n->op == TCC_OP_RMS_NORMALIZATION;
      if (tcc_node_attr_int(n, "stash_type", 1) != 1 || n->num_inputs < 2 || n->num_inputs > (rms ? 2 : 3)) return false;
      p->kind = rms ? ROW_RMS_NORM : ROW_LAYER_NORM;
      p->epsilon = tcc_node_attr_float(n, "epsilon", 1e-5);
      p->scale = n->inputs[1];
      p->bias = n->num_inputs == 3 ? n->inputs[2] : NULL;
      if (!shaped_like_row(p->scale, p->x, p->axis) || (p->bias && !shaped_like_row(p->bias, p->x, p->axis))) return false;
      p->num_params = p->bias ? 4 : 3;
      return true;
    }
    default: return false;
  }
}

static tcc_status_t emit_rows_kernel(gen_t *g, const rows_t *p, const char *entry) {
  tcc_tir_t *t = &g->t;
  int np = p->num_params + 2;
  LLVMTypeRef params[8];
  for (int i = 0; i < np; i++) params[i] = t->ptr;
  LLVMValueRef fn = LLVMAddFunction(t->mod, entry, LLVMFunctionType(t->void_t, params, (unsigned)np, 0));
  tcc_tir_begin(t, fn);
  LLVMBuilderRef bd = t->b;
  LLVMValueRef x = LLVMGetParam(fn, 0), y = LLVMGetParam(fn, (unsigned)p->num_params - 1);
  LLVMValueRef scale = p->scale ? LLVMGetParam(fn, 1) : NULL, bias = p->bias ? LLVMGetParam(fn, 2) : NULL;
  g->syms = LLVMBuildLoad2(bd, t->ptr, LLVMGetParam(fn, (unsigned)p->num_params), "syms");
  LLVMValueRef rows = i64c(g, 1), n = i64c(g, 1);
  for (int d = 0; d < p->x->type.rank; d++) {
    LLVMValueRef size;
    TCC_RETURN_IF_ERROR(dim(g, p->x->type.dims[d], &size));
    if (d < p->axis) rows = mul(g, rows, size);
    else n = mul(g, n, size);
  }
  LLVMValueRef nf = LLVMBuildSIToFP(bd, n, t->f32, "");
  LLVMValueRef tid = sreg(g, "tid.x"), ntid = sreg(g, "ntid.x");
  LLVMValueRef lane = LLVMBuildAnd(bd, tid, i64c(g, 31), "lane");
  LLVMValueRef first = LLVMBuildLShr(bd, add(g, mul(g, sreg(g, "ctaid.x"), ntid), tid), i64c(g, 5), "");
  LLVMValueRef warps = LLVMBuildLShr(bd, mul(g, sreg(g, "nctaid.x"), ntid), i64c(g, 5), "");
  LLVMValueRef acc = tcc_tir_alloca(t, t->f32, "acc");
  tcc_dtype_t xt = p->x->type.dtype, yt = p->y->type.dtype;
  LLVMTypeRef yty = elem_type(g, yt), f = t->f32;
  bool norm = p->kind == ROW_LAYER_NORM || p->kind == ROW_RMS_NORM;

  tcc_tir_loop_t rl, cl;
  LLVMValueRef r = tcc_tir_loop_begin(t, &rl, first, rows, warps, "row");
  LLVMValueRef base = mul(g, r, n);
  /* pass 1: the mean (layer norm) or the maximum (softmax); RMS has none */
  LLVMValueRef center = f32c(g, 0);
  if (p->kind != ROW_RMS_NORM) {
    LLVMBuildStore(bd, f32c(g, norm ? 0 : -INFINITY), acc);
    LLVMValueRef c = tcc_tir_loop_begin(t, &cl, lane, n, i64c(g, 32), "c");
    LLVMValueRef xv = load_f32(g, x, xt, add(g, base, c), NULL), a = LLVMBuildLoad2(bd, f, acc, "");
    LLVMBuildStore(bd, norm ? LLVMBuildFAdd(bd, a, xv, "")
                            : LLVMBuildSelect(bd, LLVMBuildFCmp(bd, LLVMRealOGT, xv, a, ""), xv, a, ""), acc);
    tcc_tir_loop_end(t, &cl);
    LLVMValueRef all = LLVMBuildLoad2(bd, f, acc, "");
    center = norm ? LLVMBuildFDiv(bd, warp_sum(g, all), nf, "mean") : warp_max(g, all);
  }
  /* pass 2: the sum of squared deviations, or of exp(x - max) */
  LLVMBuildStore(bd, f32c(g, 0), acc);
  LLVMValueRef c = tcc_tir_loop_begin(t, &cl, lane, n, i64c(g, 32), "c");
  LLVMValueRef d = LLVMBuildFSub(bd, load_f32(g, x, xt, add(g, base, c), NULL), center, "");
  LLVMValueRef term = norm ? LLVMBuildFMul(bd, d, d, "") : exp_f32(g, d);
  LLVMBuildStore(bd, LLVMBuildFAdd(bd, LLVMBuildLoad2(bd, f, acc, ""), term, ""), acc);
  tcc_tir_loop_end(t, &cl);
  LLVMValueRef total = warp_sum(g, LLVMBuildLoad2(bd, f, acc, ""));
  /* norms: 1 / sqrt(variance + epsilon); softmax: 1 / sum; log-softmax: log(sum) */
  LLVMValueRef factor;
  if (norm) {
    LLVMValueRef var = LLVMBuildFAdd(bd, LLVMBuildFDiv(bd, total, nf, ""), f32c(g, p->epsilon), "");
    factor = LLVMBuildFDiv(bd, f32c(g, 1), call(g, "__nv_sqrtf", f, &f, 1, &var), "");
  } else if (p->kind == ROW_SOFTMAX) {
    factor = LLVMBuildFDiv(bd, f32c(g, 1), total, "");
  } else {
    factor = call(g, "__nv_logf", f, &f, 1, &total);
  }
  /* pass 3: the output */
  c = tcc_tir_loop_begin(t, &cl, lane, n, i64c(g, 32), "c");
  d = LLVMBuildFSub(bd, load_f32(g, x, xt, add(g, base, c), NULL), center, "");
  LLVMValueRef o;
  if (norm) {
    o = LLVMBuildFMul(bd, LLVMBuildFMul(bd, d, factor, ""), load_f32(g, scale, p->scale->type.dtype, c, NULL), "");
    if (bias) o = LLVMBuildFAdd(bd, o, load_f32(g, bias, p->bias->type.dtype, c, NULL), "");
  } else if (p->kind == ROW_SOFTMAX) {
    o = LLVMBuildFMul(bd, exp_f32(g, d), factor, "");
  } else {
    o = LLVMBuildFSub(bd, d, factor, "");
  }
  if (yt != TCC_DTYPE_F32) o = LLVMBuildFPTrunc(bd, o, yty, "");
  LLVMValueRef at = add(g, base, c);
  LLVMBuildStore(bd, o, LLVMBuildGEP2(bd, yty, y, &at, 1, ""));
  tcc_tir_loop_end(t, &cl);
  tcc_tir_loop_end(t, &rl);
  LLVMBuildRetVoid(bd);
  tcc_tir_gpu_kernel(t, fn, 0);
  return NULL;
}

tcc_status_t tcc_gpu_rows_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, char entry[256], tcc_gpu_launch_t *launch,
                               bool *applied) {
  *applied = false;
  rows_t p;
  if (!plan_rows(node, &p)) return NULL;
  gen_t g = {0};
  TCC_RETURN_IF_ERROR(tcc_tir_init(&g.t, e, NULL));
  tcc_tir_gpu_entry(&g.t, node->name, "rows", entry);
  tcc_status_t st = tcc_tir_gpu_keep(&g.t, entry, emit_rows_kernel(&g, &p, entry));
  tcc_tir_dispose(&g.t);
  TCC_RETURN_IF_ERROR(st);
  *launch = (tcc_gpu_launch_t){.block = THREADS, .grid = 0, .shared_bytes = 0};
  *applied = true;
  return NULL;
}
