/* fold_batch_norm: inference BatchNormalization, and Mul/Add/Sub/Div by per-channel constants, folded into
 * the constant weights and bias of the Conv / ConvTranspose / MatMul / Gemm that feeds them (contract in
 * passes/passes.h).
 *
 * A BatchNormalization y = (x - mean) / sqrt(var + eps) * scale + b is, per channel, y = s * x + t with
 * s = scale / sqrt(var + eps) and t = b - mean * s. When x = conv(in, W, B) and nothing else reads x,
 * y = conv(in, W * s, B * s + t): the weights of output channel m scaled by s[m], the bias shifted. Mul,
 * Div, Add and Sub by a constant that is per channel (or a scalar) are the same affine map with t = 0 or
 * s = 1. For MatMul and Gemm the channel is the last axis (a BatchNormalization only sees it as axis 1 when
 * the product is 2-D); a MatMul has no bias, so a shift adds an Add node with the folded bias. Folding is
 * done in double precision and stored in the weights' dtype (f32 or f64); the new weights are new
 * constants (the old ones stay for other readers, DCE removes them otherwise).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir/infer.h"
#include "passes/passes.h"
#include "passes/rewrite.h"

/* ---- helpers -------------------------------------------------------------------------------------- */

static bool is_foldable_float(tcc_dtype_t dt) { return dt == TCC_DTYPE_F32 || dt == TCC_DTYPE_F64; }

/* A copy of t (same dtype and dims) with its own storage. */
static tcc_tensor_t *copy_tensor(tcc_module_t *m, const tcc_tensor_t *t) {
  tcc_tensor_t *c = tcc_tensor_create(m, t->dtype, t->rank, t->dims);
  if (c) memcpy((void *)c->data, t->data, t->nbytes);
  return c;
}

/* A new constant named after base ("<base><suffix>.folded", made unique). */
static tcc_value_t *new_constant(tcc_graph_t *g, const char *base, const char *suffix, const tcc_tensor_t *t) {
  char stem[256];
  snprintf(stem, sizeof stem, "%s%s.folded", base ? base : "w", suffix);
  return tcc_graph_add_constant(g, tcc_rewrite_name_unique(g, stem, ""), t);
}

/* The per-channel affine map y = s[c] * x + t[c] over `channels` channels (arrays in the arena). */
typedef struct {
  int64_t channels;
  double *s, *t;
} affine_t;

static bool affine_alloc(tcc_module_t *m, int64_t channels, affine_t *a) {
  a->channels = channels;
  a->s = tcc_module_alloc(m, (size_t)(channels + 1) * sizeof(double));
  a->t = tcc_module_alloc(m, (size_t)(channels + 1) * sizeof(double));
  if (!a->s || !a->t) return false;
  for (int64_t c = 0; c < channels; c++) a->s[c] = 1, a->t[c] = 0;
  return true;
}

/* A BatchNormalization in inference form with constant parameters of `channels` elements as an affine map. */
static bool batch_norm_affine(tcc_module_t *m, const tcc_node_t *bn, int64_t channels, affine_t *a) {
  if (bn->num_inputs != 5 || tcc_node_attr_int(bn, "training_mode", 0)) return false;
  for (int k = 1; k < bn->num_outputs; k++)
    if (bn->outputs[k]) return false;
  for (int k = 1; k < 5; k++) {
    const tcc_value_t *v = bn->inputs[k];
    if (!tcc_rewrite_value_is_constant(v) || v->constant->rank != 1 || v->constant->dims[0] != channels ||
        !tcc_dtype_is_float(v->constant->dtype))
      return false;
  }
  if (!affine_alloc(m, channels, a)) return false;
  double eps = tcc_node_attr_float(bn, "epsilon", 1e-5);
  for (int64_t c = 0; c < channels; c++) {
    double scale = tcc_tensor_get_float(bn->inputs[1]->constant, c), bias = tcc_tensor_get_float(bn->inputs[2]->constant, c);
    double mean = tcc_tensor_get_float(bn->inputs[3]->constant, c), var = tcc_tensor_get_float(bn->inputs[4]->constant, c);
    a->s[c] = scale / sqrt(var + eps);
    a->t[c] = bias - mean * a->s[c];
  }
  return true;
}

/* Whether constant k of an elementwise op on a tensor of rank `rank` holds one value per channel on axis
 * `axis` (or a single value): every other dim 1, no more dims than the tensor. */
static bool per_channel(const tcc_tensor_t *k, int rank, int axis, int64_t channels) {
  if (k->rank > rank || !tcc_dtype_is_float(k->dtype)) return false;
  for (int d = 0; d < k->rank; d++) {
    int at = rank - k->rank + d;
    if (k->dims[d] != 1 && !(at == axis && k->dims[d] == channels)) return false;
  }
  return true;
}

/* Mul / Div / Add / Sub of `x` by a per-channel constant as an affine map of x; false otherwise. */
static bool elementwise_affine(tcc_module_t *m, const tcc_node_t *n, const tcc_value_t *x, int rank, int axis,
                               int64_t channels, affine_t *a) {
  if (n->num_inputs != 2 || n->num_outputs != 1) return false;
  int xi = n->inputs[0] == x ? 0 : 1;
  const tcc_value_t *kv = n->inputs[1 - xi];
  if (n->inputs[xi] != x || kv == x || !tcc_rewrite_value_is_constant(kv)) return false;
  bool ok = false;
  switch (n->op) {
    case TCC_OP_MUL: case TCC_OP_ADD: ok = true; break;
    case TCC_OP_SUB: case TCC_OP_DIV: ok = xi == 0; break;
    default: break;
  }
  const tcc_tensor_t *k = kv->constant;
  if (!ok || !per_channel(k, rank, axis, channels) || !affine_alloc(m, channels, a)) return false;
  for (int64_t c = 0; c < channels; c++) {
    double v = tcc_tensor_get_float(k, k->numel == 1 ? 0 : c);
    switch (n->op) {
      case TCC_OP_MUL: a->s[c] = v; break;
      case TCC_OP_DIV:
        if (v == 0) return false;
        a->s[c] = 1 / v;
        break;
      case TCC_OP_ADD: a->t[c] = v; break;
      default: a->t[c] = -v; break;
    }
  }
  return true;
}

/* ---- folding into the producers ------------------------------------------------------------------- */

/* The output channels of a producer and where they sit in its output, or false when it cannot absorb an
 * affine map: Conv / ConvTranspose with constant weights (and bias) of a float type; MatMul with a
 * constant 2-D right operand; Gemm with constant B (and C). */
static bool producer_channels(const tcc_node_t *p, int *axis, int64_t *channels) {
  const tcc_value_t *y = p->outputs[0];
  if (!y || y->type.kind != TCC_TYPE_TENSOR || y->type.rank < 2 || !is_foldable_float(y->type.dtype)) return false;
  int r = y->type.rank;
  switch (p->op) {
    case TCC_OP_CONV: case TCC_OP_CONV_TRANSPOSE:
      if (p->num_inputs < 2 || !tcc_rewrite_value_is_constant(p->inputs[1]) || tcc_node_attr(p, "layout")) return false;
      if (p->num_inputs > 2 && p->inputs[2] && !tcc_rewrite_value_is_constant(p->inputs[2])) return false;
      *axis = 1;
      break;
    case TCC_OP_MATMUL:
      if (!tcc_rewrite_value_is_constant(p->inputs[1]) || p->inputs[1]->constant->rank != 2) return false;
      *axis = r - 1;
      break;
    case TCC_OP_GEMM:
      if (!tcc_rewrite_value_is_constant(p->inputs[1])) return false;
      if (p->num_inputs > 2 && p->inputs[2] && !tcc_rewrite_value_is_constant(p->inputs[2])) return false;
      *axis = 1;
      break;
    default: return false;
  }
  if (!tcc_dim_is_const(y->type.dims[*axis])) return false;
  *channels = tcc_dim_value(y->type.dims[*axis]);
  const tcc_tensor_t *w = p->inputs[1]->constant;
  return w->dtype == y->type.dtype;
}

/* Rewrites producer p (whose output 0 only `consumer` reads) so that it computes consumer's output y =
 * s * p + t directly; consumer is then dropped by the caller. */
static tcc_status_t absorb(tcc_graph_t *g, tcc_node_t *p, tcc_node_t *consumer, const affine_t *a, bool *dropped) {
  tcc_module_t *m = g->module;
  *dropped = false;
  const tcc_tensor_t *w = p->inputs[1]->constant;
  tcc_tensor_t *nw = copy_tensor(m, w);
  if (!nw) return tcc_status_oom();
  int64_t C = a->channels;
  bool any_shift = false;
  for (int64_t c = 0; c < C; c++) any_shift |= a->t[c] != 0;
  /* weights */
  if (p->op == TCC_OP_CONV) { /* [M, C/group, k...]: row m scaled */
    int64_t per = w->numel / w->dims[0];
    for (int64_t i = 0; i < w->numel; i++)
      tcc_rewrite_tensor_put_float(nw, i, tcc_tensor_get_float(w, i) * a->s[i / per]);
  } else if (p->op == TCC_OP_CONV_TRANSPOSE) { /* [C, M/group, k...]: m = g * M/group + j */
    int64_t group = tcc_node_attr_int(p, "group", 1), cpg = w->dims[0] / group, mpg = w->dims[1];
    int64_t per = w->numel / (w->dims[0] * w->dims[1]);
    for (int64_t i = 0; i < w->numel; i++) {
      int64_t cin = i / (mpg * per), j = (i / per) % mpg;
      tcc_rewrite_tensor_put_float(nw, i, tcc_tensor_get_float(w, i) * a->s[(cin / cpg) * mpg + j]);
    }
  } else { /* MatMul [K, N] or Gemm B ([K, N], or [N, K] with transB): column n scaled */
    bool tb = p->op == TCC_OP_GEMM && tcc_node_attr_int(p, "transB", 0);
    for (int64_t i = 0; i < w->numel; i++) {
      int64_t col = tb ? i / w->dims[1] : i % w->dims[1];
      tcc_rewrite_tensor_put_float(nw, i, tcc_tensor_get_float(w, i) * a->s[col]);
    }
  }
  tcc_value_t *wv = new_constant(g, p->inputs[1]->name, "", nw);
  if (!wv) return tcc_status_oom();
  p->inputs[1] = wv;
  /* bias */
  tcc_value_t *y = consumer->outputs[0];
  if (p->op == TCC_OP_CONV || p->op == TCC_OP_CONV_TRANSPOSE || p->op == TCC_OP_GEMM) {
    const tcc_value_t *bv = p->num_inputs > 2 ? p->inputs[2] : NULL;
    const tcc_tensor_t *b = bv ? bv->constant : NULL;
    double beta = p->op == TCC_OP_GEMM ? tcc_node_attr_float(p, "beta", 1.0) : 1.0;
    /* Gemm's C broadcasts to [M, N]: a full [M, N] C stays 2-D, anything else becomes [N] */
    bool full = p->op == TCC_OP_GEMM && b && b->rank == 2 && b->dims[0] != 1;
    if (b || any_shift) {
      int64_t rows = full ? b->dims[0] : 1;
      tcc_tensor_t *nb = full ? tcc_tensor_create(m, w->dtype, 2, b->dims) : tcc_tensor_create(m, w->dtype, 1, &C);
      if (!nb) return tcc_status_oom();
      for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < C; c++) {
          double old = 0;
          if (b) old = beta * tcc_tensor_get_float(b, full ? r * C + c : b->numel == 1 ? 0 : c);
          tcc_rewrite_tensor_put_float(nb, r * C + c, old * a->s[c] + a->t[c]);
        }
      if (p->num_inputs < 3) TCC_RETURN_IF_ERROR(tcc_node_resize_inputs(p, 3));
      p->inputs[2] = new_constant(g, bv ? bv->name : p->name, bv ? "" : ".bias", nb);
      if (!p->inputs[2]) return tcc_status_oom();
      if (p->op == TCC_OP_GEMM) tcc_node_remove_attr(p, "beta");
    }
    tcc_node_set_output(p, 0, y);
    *dropped = true;
    return tcc_node_infer(p);
  }
  /* MatMul: the shift becomes an Add of the folded bias, written by the consumer's node turned into it */
  tcc_value_t *prod = p->outputs[0];
  if (!any_shift) {
    tcc_node_set_output(p, 0, y);
    *dropped = true;
    return tcc_node_infer(p);
  }
  tcc_tensor_t *nb = tcc_tensor_create(m, w->dtype, 1, &C);
  if (!nb) return tcc_status_oom();
  for (int64_t c = 0; c < C; c++) tcc_rewrite_tensor_put_float(nb, c, a->t[c]);
  tcc_value_t *bias = new_constant(g, p->name, ".bias", nb);
  if (!bias) return tcc_status_oom();
  consumer->op = TCC_OP_ADD;
  consumer->op_type = "Add";
  consumer->num_attrs = 0;
  consumer->num_inputs = 2;
  consumer->inputs[0] = prod;
  consumer->inputs[1] = bias;
  consumer->num_outputs = 1;
  TCC_RETURN_IF_ERROR(tcc_node_infer(p));
  return tcc_node_infer(consumer);
}

/* The affine consumer of x (the value producer p writes, read once) as a map, or NULL. */
static tcc_node_t *affine_consumer(tcc_graph_t *g, const uint32_t *uses, tcc_value_t *x, const tcc_node_t *p,
                                   int axis, int64_t channels, affine_t *a) {
  if (uses[x->id] != 1) return NULL;
  for (size_t i = 0; i < g->num_nodes; i++) {
    tcc_node_t *n = g->nodes[i];
    int side = -1;
    for (int k = 0; k < n->num_inputs && k < 2; k++)
      if (n->inputs[k] == x) side = k;
    if (side < 0) continue;
    bool ok = false;
    if (n->op == TCC_OP_BATCH_NORMALIZATION)
      ok = side == 0 && axis == 1 && batch_norm_affine(g->module, n, channels, a);
    else if (!(p->op == TCC_OP_MATMUL && (n->op == TCC_OP_ADD || n->op == TCC_OP_SUB))) /* that is its bias */
      ok = elementwise_affine(g->module, n, x, x->type.rank, axis, channels, a);
    if (!ok || n->outputs[0]->type.kind != TCC_TYPE_TENSOR || !tcc_type_equal(&n->outputs[0]->type, &x->type))
      return NULL;
    return n;
  }
  return NULL;
}

tcc_status_t tcc_pass_fold_batch_norm(tcc_graph_t *g, const tcc_pass_context_t *ctx,
                                      const tcc_fold_batch_norm_options_t *options, bool *changed) {
  (void)ctx, (void)options;
  *changed = false;
  tcc_module_t *m = g->module;
  uint32_t *uses = tcc_rewrite_reads_count(g);
  bool *drop = tcc_module_alloc(m, m->next_id + 1);
  if (!uses || !drop) return tcc_status_oom();
  memset(drop, 0, m->next_id + 1);
  size_t num_nodes = g->num_nodes;
  for (size_t i = 0; i < num_nodes; i++) {
    tcc_node_t *p = g->nodes[i];
    int axis;
    int64_t channels;
    if (drop[p->id] || !producer_channels(p, &axis, &channels)) continue;
    /* the chain of affine consumers p -> n1 -> n2 ..., composed into one map */
    affine_t total = {0}, step = {0};
    tcc_node_t *last = NULL;
    tcc_value_t *x = p->outputs[0];
    for (tcc_node_t *n; (n = affine_consumer(g, uses, x, p, axis, channels, &step));) {
      if (!last) {
        total = step;
      } else {
        for (int64_t c = 0; c < channels; c++)
          total.s[c] *= step.s[c], total.t[c] = total.t[c] * step.s[c] + step.t[c];
      }
      if (last) drop[last->id] = true;
      last = n;
      x = n->outputs[0];
    }
    if (!last) continue;
    bool dropped;
    TCC_RETURN_IF_ERROR(absorb(g, p, last, &total, &dropped));
    if (dropped) drop[last->id] = true;
    *changed = true;
  }
  size_t kept = 0;
  for (size_t i = 0; i < g->num_nodes; i++)
    if (!drop[g->nodes[i]->id]) g->nodes[kept++] = g->nodes[i];
  g->num_nodes = kept;
  return tcc_module_check(m);
}
