/* The CPU row template (codegen/cpu_rows.h): recognizes the node, then builds an entry that computes
 * the sizes and dispatches tasks of rows, and a task body with the per-row vector passes. */
#include "codegen/cpu_rows.h"

#include <math.h>
#include <string.h>

#include "codegen/template_ir.h"
#include "ir/dim.h"

enum { MIN_TASK_ELEMENTS = 8192 };

typedef enum { ROW_SOFTMAX, ROW_LOG_SOFTMAX, ROW_LAYER_NORM, ROW_RMS_NORM } row_kind_t;

typedef struct {
  row_kind_t kind;
  const tcc_value_t *x;
  int axis;              /* first axis of the row */
  int scale, bias, y;    /* kernel parameters; -1 when absent */
  double epsilon;
} rows_t;

static bool is_f32(const tcc_value_t *v) {
  return v && v->type.kind == TCC_TYPE_TENSOR && v->type.dtype == TCC_DTYPE_F32 && v->type.rank >= 0;
}

/* v (scale or bias) has the normalized dims of x (leading 1s aside). */
static bool shaped_like_row(const tcc_value_t *v, const tcc_value_t *x, int axis) {
  if (!is_f32(v)) return false;
  int r = v->type.rank, row_rank = x->type.rank - axis, extra = r - row_rank;
  if (extra < 0) return false;
  for (int d = 0; d < extra; d++)
    if (!tcc_dim_is_const(v->type.dims[d]) || tcc_dim_value(v->type.dims[d]) != 1) return false;
  for (int d = extra; d < r; d++)
    if (v->type.dims[d] != x->type.dims[axis + d - extra]) return false;
  return true;
}

static bool recognize(const tcc_node_t *n, rows_t *p) {
  memset(p, 0, sizeof *p);
  p->scale = p->bias = -1;
  if (n->num_inputs < 1 || !is_f32(n->inputs[0]) || n->num_outputs < 1 || !is_f32(n->outputs[0])) return false;
  for (int i = 1; i < n->num_outputs; i++)
    if (n->outputs[i]) return false; /* Mean / InvStdDev */
  p->x = n->inputs[0];
  int rank = p->x->type.rank;
  if (rank < 1) return false;
  int64_t axis = tcc_node_attr_int(n, "axis", -1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return false;
  p->axis = (int)axis;
  switch (n->op) {
    case TCC_OP_SOFTMAX:
    case TCC_OP_LOG_SOFTMAX:
      if (n->num_inputs != 1 || axis != rank - 1) return false;
      p->kind = n->op == TCC_OP_SOFTMAX ? ROW_SOFTMAX : ROW_LOG_SOFTMAX;
      p->y = 1;
      return true;
    case TCC_OP_LAYER_NORMALIZATION:
    case TCC_OP_RMS_NORMALIZATION: {
      bool rms = n->op == TCC_OP_RMS_NORMALIZATION;
      if (tcc_node_attr_int(n, "stash_type", 1) != 1 || n->num_inputs < 2 || n->num_inputs > (rms ? 2 : 3))
        return false;
      p->kind = rms ? ROW_RMS_NORM : ROW_LAYER_NORM;
      p->epsilon = tcc_node_attr_float(n, "epsilon", 1e-5);
      if (!shaped_like_row(n->inputs[1], p->x, p->axis)) return false;
      p->scale = 1;
      int next = 2;
      if (n->num_inputs == 3 && n->inputs[2]) {
        if (!shaped_like_row(n->inputs[2], p->x, p->axis)) return false;
        p->bias = next++;
      }
      p->y = next;
      return true;
    }
    default: return false;
  }
}

/* ---- emission ---- */

/* The argument block: X, Y, scale, bias, rows, n, rows per task (i64 slots). */
enum { S_X, S_Y, S_SCALE, S_BIAS, S_ROWS, S_N, S_RPT, S_COUNT };

typedef struct {
  tcc_tir_t t;
  const rows_t *p;
} gen_t;

static LLVMValueRef slot(gen_t *g, LLVMValueRef args, int i) {
  LLVMValueRef idx = tcc_tir_i64c(&g->t, i);
  return LLVMBuildGEP2(g->t.b, g->t.i64, args, &idx, 1, "");
}

static LLVMValueRef load_slot(gen_t *g, LLVMValueRef args, int i, LLVMTypeRef type) {
  return LLVMBuildLoad2(g->t.b, type, slot(g, args, i), "");
}

/* The lanes of v combined: their maximum, or their sum. */
static LLVMValueRef reduce_lanes(gen_t *g, LLVMValueRef v, bool max) {
  if (max) return tcc_tir_vcall1(&g->t, "llvm.vector.reduce.fmax", v);
  LLVMTypeRef tys[1] = {g->t.vf};
  LLVMValueRef args[2] = {tcc_tir_f32c(&g->t, 0), v};
  return tcc_tir_intrinsic(&g->t, "llvm.vector.reduce.fadd", tys, 1, args, 2);
}

/* One pass over a row: visit(g, ctx, j, mask) for each vector at j (mask NULL for full vectors, the tail's
 * lanes otherwise). */
typedef void (*visit_fn)(gen_t *g, void *ctx, LLVMValueRef j, LLVMValueRef mask);

static void row_pass(gen_t *g, LLVMValueRef n, visit_fn visit, void *ctx) {
  tcc_tir_t *t = &g->t;
  int L = t->lanes;
  LLVMValueRef full = LLVMBuildSub(t->b, n, LLVMBuildSRem(t->b, n, tcc_tir_i64c(t, L), ""), "full");
  tcc_tir_loop_t l;
  LLVMValueRef j = tcc_tir_loop_begin(t, &l, tcc_tir_i64c(t, 0), full, tcc_tir_i64c(t, L), "j");
  visit(g, ctx, j, NULL);
  tcc_tir_loop_end(t, &l);
  LLVMBasicBlockRef join = tcc_tir_if_begin(t, LLVMBuildICmp(t->b, LLVMIntSLT, full, n, ""));
  visit(g, ctx, full, tcc_tir_lane_mask(t, LLVMBuildSub(t->b, n, full, "")));
  tcc_tir_if_end(t, join);
}

typedef struct {
  LLVMValueRef x, y, scale, bias; /* row pointers (scale, bias: the row's) */
  LLVMValueRef acc;               /* alloca of a vector accumulator */
  LLVMValueRef max, mean, inv, log_sum, sum;
} row_t;

static LLVMValueRef load_at(gen_t *g, LLVMValueRef base, LLVMValueRef j, LLVMValueRef mask, double fill) {
  LLVMValueRef p = tcc_tir_gep_f32(&g->t, base, j);
  return mask ? tcc_tir_masked_load(&g->t, p, mask, tcc_tir_vc(&g->t, fill))
              : tcc_tir_load_aligned(&g->t, g->t.vf, p, 4);
}

static void store_at(gen_t *g, LLVMValueRef v, LLVMValueRef base, LLVMValueRef j, LLVMValueRef mask) {
  LLVMValueRef p = tcc_tir_gep_f32(&g->t, base, j);
  if (mask) tcc_tir_masked_store(&g->t, v, p, mask);
  else tcc_tir_store_aligned(&g->t, v, p, 4);
}

static void accumulate(gen_t *g, row_t *r, LLVMValueRef v, bool max) {
  LLVMValueRef old = LLVMBuildLoad2(g->t.b, g->t.vf, r->acc, "");
  LLVMBuildStore(g->t.b, max ? tcc_tir_fmax(&g->t, old, v) : tcc_tir_vadd(&g->t, old, v), r->acc);
}

static void visit_max(gen_t *g, void *ctx, LLVMValueRef j, LLVMValueRef mask) {
  row_t *r = ctx;
  accumulate(g, r, load_at(g, r->x, j, mask, -INFINITY), true);
}

static void visit_exp_sum(gen_t *g, void *ctx, LLVMValueRef j, LLVMValueRef mask) {
  row_t *r = ctx;
  LLVMValueRef e = tcc_tir_vexp(&g->t, tcc_tir_vsub(&g->t, load_at(g, r->x, j, mask, 0), r->max));
  if (mask) e = LLVMBuildSelect(g->t.b, mask, e, tcc_tir_vc(&g->t, 0), "");
  if (g->p->kind == ROW_SOFTMAX) store_at(g, e, r->y, j, mask);
  accumulate(g, r, e, false);
}

static void visit_softmax_out(gen_t *g, void *ctx, LLVMValueRef j, LLVMValueRef mask) {
  row_t *r = ctx;
  LLVMValueRef v;
  if (g->p->kind == ROW_SOFTMAX) v = tcc_tir_vdiv(&g->t, load_at(g, r->y, j, mask, 0), r->sum);
  else v = tcc_tir_vsub(&g->t, tcc_tir_vsub(&g->t, load_at(g, r->x, j, mask, 0), r->max), r->log_sum);
  store_at(g, v, r->y, j, mask);
}

static void visit_sum(gen_t *g, void *ctx, LLVMValueRef j, LLVMValueRef mask) {
  row_t *r = ctx;
  accumulate(g, r, load_at(g, r->x, j, mask, 0), false);
}

/* (x - mean)^2 summed; masked lanes load mean itself, adding 0 */
static void visit_square_sum(gen_t *g, void *ctx, LLVMValueRef j, LLVMValueRef mask) {
  row_t *r = ctx;
  LLVMValueRef x = mask ? tcc_tir_masked_load(&g->t, tcc_tir_gep_f32(&g->t, r->x, j), mask, r->mean)
                        : load_at(g, r->x, j, NULL, 0);
  LLVMValueRef d = tcc_tir_vsub(&g->t, x, r->mean);
  accumulate(g, r, tcc_tir_vmul(&g->t, d, d), false);
}

static void visit_norm_out(gen_t *g, void *ctx, LLVMValueRef j, LLVMValueRef mask) {
  row_t *r = ctx;
  LLVMValueRef v = tcc_tir_vmul(&g->t, tcc_tir_vsub(&g->t, load_at(g, r->x, j, mask, 0), r->mean), r->inv);
  v = tcc_tir_vmul(&g->t, v, load_at(g, r->scale, j, mask, 0));
  if (r->bias) v = tcc_tir_vadd(&g->t, v, load_at(g, r->bias, j, mask, 0));
  store_at(g, v, r->y, j, mask);
}

/* Runs one pass with a fresh accumulator (init in every lane) and returns its horizontal reduction. */
static LLVMValueRef reducing_pass(gen_t *g, row_t *r, LLVMValueRef n, visit_fn visit, double init, bool max) {
  LLVMBuildStore(g->t.b, tcc_tir_vc(&g->t, init), r->acc);
  row_pass(g, n, visit, r);
  return reduce_lanes(g, LLVMBuildLoad2(g->t.b, g->t.vf, r->acc, ""), max);
}

static LLVMValueRef emit_body(tcc_tir_t *t, void *ctx, const char *name) {
  gen_t *g = ctx;
  const rows_t *p = g->p;
  LLVMTypeRef params[3] = {t->ptr, t->i64, t->i64};
  LLVMValueRef fn = tcc_tir_function(t, name, t->i32, params, 3, true);
  tcc_tir_begin(t, fn);
  LLVMValueRef args = LLVMGetParam(fn, 0), begin = LLVMGetParam(fn, 1), end = LLVMGetParam(fn, 2);
  LLVMValueRef X = load_slot(g, args, S_X, t->ptr), Y = load_slot(g, args, S_Y, t->ptr);
  LLVMValueRef rows = load_slot(g, args, S_ROWS, t->i64), n = load_slot(g, args, S_N, t->i64);
  LLVMValueRef rpt = load_slot(g, args, S_RPT, t->i64);
  row_t r = {.acc = tcc_tir_alloca(t, t->vf, "acc")};
  if (p->scale >= 0) r.scale = load_slot(g, args, S_SCALE, t->ptr);
  if (p->bias >= 0) r.bias = load_slot(g, args, S_BIAS, t->ptr);
  LLVMValueRef first = LLVMBuildMul(t->b, begin, rpt, "");
  LLVMValueRef last = tcc_tir_smin(t, LLVMBuildMul(t->b, end, rpt, ""), rows);
  tcc_tir_loop_t lr;
  LLVMValueRef row = tcc_tir_loop_begin(t, &lr, first, last, tcc_tir_i64c(t, 1), "row");
  LLVMValueRef at = LLVMBuildMul(t->b, row, n, "");
  r.x = tcc_tir_gep_f32(t, X, at), r.y = tcc_tir_gep_f32(t, Y, at);
  LLVMValueRef count = LLVMBuildSIToFP(t->b, n, t->f32, "");
  if (p->kind == ROW_SOFTMAX || p->kind == ROW_LOG_SOFTMAX) {
    r.max = tcc_tir_splat(t, reducing_pass(g, &r, n, visit_max, -INFINITY, true));
    LLVMValueRef sum = reducing_pass(g, &r, n, visit_exp_sum, 0, false);
    r.sum = tcc_tir_splat(t, sum);
    if (p->kind == ROW_LOG_SOFTMAX) {
      LLVMTypeRef fty;
      LLVMValueRef logf_fn = tcc_tir_libc(t, "logf", t->f32, &t->f32, 1, &fty);
      r.log_sum = tcc_tir_splat(t, LLVMBuildCall2(t->b, fty, logf_fn, &sum, 1, ""));
    }
    row_pass(g, n, visit_softmax_out, &r);
  } else {
    LLVMValueRef mean = tcc_tir_f32c(t, 0);
    if (p->kind == ROW_LAYER_NORM)
      mean = LLVMBuildFDiv(t->b, reducing_pass(g, &r, n, visit_sum, 0, false), count, "mean");
    r.mean = tcc_tir_splat(t, mean);
    LLVMValueRef var = LLVMBuildFDiv(t->b, reducing_pass(g, &r, n, visit_square_sum, 0, false), count, "var");
    LLVMValueRef sd = tcc_tir_vcall1(t, "llvm.sqrt", LLVMBuildFAdd(t->b, var, tcc_tir_f32c(t, p->epsilon), ""));
    r.inv = tcc_tir_splat(t, LLVMBuildFDiv(t->b, tcc_tir_f32c(t, 1), sd, "inv"));
    row_pass(g, n, visit_norm_out, &r);
  }
  tcc_tir_loop_end(t, &lr);
  LLVMBuildRet(t->b, tcc_tir_i32c(t, 0));
  return fn;
}

/* SYM_packed(params, ctx): sizes from ctx->symbols, the argument block, the dispatch. */
static tcc_status_t emit_packed(tcc_tir_t *t, void *gen, const char *name, LLVMValueRef body, LLVMValueRef *out) {
  gen_t *g = gen;
  const rows_t *p = g->p;
  LLVMValueRef pv, ctx, syms;
  *out = tcc_tir_begin_packed(t, name, &pv, &ctx, &syms);
  LLVMValueRef args = tcc_tir_alloca(t, LLVMArrayType(t->i64, S_COUNT), "args");
  const int which[4][2] = {{S_X, 0}, {S_Y, p->y}, {S_SCALE, p->scale}, {S_BIAS, p->bias}};
  for (int i = 0; i < 4; i++)
    if (which[i][1] >= 0) LLVMBuildStore(t->b, tcc_tir_param(t, pv, which[i][1]), slot(g, args, which[i][0]));
  LLVMValueRef rows = tcc_tir_i64c(t, 1), n = tcc_tir_i64c(t, 1);
  for (int d = 0; d < p->x->type.rank; d++) {
    LLVMValueRef size;
    TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(t->e, t->b, syms, p->x->type.dims[d], &size));
    if (d < p->axis) rows = LLVMBuildMul(t->b, rows, size, "");
    else n = LLVMBuildMul(t->b, n, size, "");
  }
  /* rows per task: at least MIN_TASK_ELEMENTS elements each */
  LLVMValueRef safe_n = tcc_tir_vcall2(t, "llvm.smax", n, tcc_tir_i64c(t, 1));
  LLVMValueRef rpt =
      LLVMBuildSDiv(t->b, LLVMBuildAdd(t->b, tcc_tir_i64c(t, MIN_TASK_ELEMENTS - 1), safe_n, ""), safe_n, "");
  LLVMValueRef tasks =
      LLVMBuildSDiv(t->b, LLVMBuildAdd(t->b, rows, LLVMBuildSub(t->b, rpt, tcc_tir_i64c(t, 1), ""), ""), rpt, "tasks");
  LLVMBuildStore(t->b, rows, slot(g, args, S_ROWS));
  LLVMBuildStore(t->b, n, slot(g, args, S_N));
  LLVMBuildStore(t->b, rpt, slot(g, args, S_RPT));
  tcc_tir_dispatch(t, ctx, body, args, tasks);
  return NULL;
}

tcc_status_t tcc_cpu_rows_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, const char *target,
                               const char **symbol, bool *applied) {
  *symbol = NULL;
  *applied = false;
  rows_t p;
  if (!recognize(node, &p)) return NULL;
  gen_t g = {.p = &p};
  TCC_RETURN_IF_ERROR(tcc_tir_init(&g.t, e, target));
  tcc_status_t st = tcc_tir_emit_kernel(&g.t, node->name, "rows", p.y + 1, emit_body, emit_packed, &g, symbol);
  tcc_tir_dispose(&g.t);
  *applied = st == NULL;
  return st;
}
