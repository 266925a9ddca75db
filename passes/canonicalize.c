/* Canonicalization: one form per construct, so the later passes match one pattern instead of many
 * (contract in passes/passes.h; docs/passes.md, "canonicalize").
 *
 *   - No-ops go: Identity, inference-mode Dropout (ratio ignored, mask unread), Cast and CastLike to the
 *     input's own type, Reshape and Expand whose output type is the input's, Transpose by the identity
 *     permutation, Concat of one input. Their output's readers read the input instead. When the no-op
 *     writes a graph output, the input's producer writes that output directly (the graph's output names
 *     are its interface); when that is impossible (the input is a graph input, a constant, or another
 *     graph output) the node stays.
 *   - Flatten, Squeeze and Unsqueeze become Reshape with a `shape` attribute (ints: the constant sizes,
 *     0 for a dim copied from the same position of the input, one -1 for the rest), the form every
 *     later pass treats as a view. Kept when the output's shape is not known well enough.
 *   - Gemm normal form: Gemm(A, B, C) with B constant, transA = 0 and f32/f64 data becomes
 *     MatMul(A, W) then Add(., bias): W = alpha * op(B) is a new constant laid out [K, N] (transB folded
 *     in at compile time), bias = beta * C (a new constant when C is constant; C itself when beta = 1).
 *     So `MatMul(x, constant) -> Add(., constant)` is THE linear layer that fold_batch_norm and fusion's
 *     epilogues match. A Gemm whose B is not constant, or that transposes A, stays a Gemm.
 *   - MatMul + Add normal form: Add and Mul with one constant operand put it second
 *     (Add(b, MatMul(x, W)) -> Add(MatMul(x, W), b)); both are exactly commutative.
 *
 * Every rewrite keeps the numbers bit for bit except the Gemm one, which rounds alpha * B once at compile
 * time (f32/f64 only, where the difference is one rounding of the data type).
 */
#include "passes/passes.h"

#include <stdio.h>
#include <string.h>

#include "ir/infer.h"
#include "passes/rewrite.h"

typedef struct {
  tcc_graph_t *g;
  bool *removed; /* by node index (nodes appended during the pass are never removed) */
  size_t num_removed_slots;
  bool changed, added;
} rewriter_t;

/* Whether v is read anywhere (nodes, subgraphs, graph outputs) other than by node `except`. */
static bool read_elsewhere(const tcc_graph_t *g, const tcc_value_t *v, const tcc_node_t *except) {
  if (tcc_rewrite_value_is_output(g, v)) return true;
  for (size_t i = 0; i < g->num_nodes; i++) {
    const tcc_node_t *n = g->nodes[i];
    if (n == except) continue;
    for (int k = 0; k < n->num_inputs; k++)
      if (n->inputs[k] == v) return true;
    for (int k = 0; k < n->num_attrs; k++) {
      const tcc_attr_t *a = &n->attrs[k];
      if (a->kind == TCC_ATTR_GRAPH && a->g && read_elsewhere(a->g, v, NULL)) return true;
      for (int64_t j = 0; a->kind == TCC_ATTR_GRAPHS && j < a->count; j++)
        if (read_elsewhere(a->graphs[j], v, NULL)) return true;
    }
  }
  return false;
}

/* Removes node i (output 0 = y, a copy of x): y's readers read x. False when it must stay. */
static bool bypass(rewriter_t *r, size_t i, tcc_value_t *x) {
  tcc_graph_t *g = r->g;
  tcc_node_t *n = g->nodes[i];
  tcc_value_t *y = n->outputs[0];
  if (!x || !y || !tcc_type_equal(&x->type, &y->type)) return false;
  if (tcc_rewrite_value_is_output(g, y)) {
    /* y keeps its name: x's producer writes y, x's readers read y */
    tcc_node_t *p = x->producer;
    if (!p || p->graph != g || x->is_input || tcc_rewrite_value_is_output(g, x)) return false;
    tcc_node_set_output(p, x->producer_output, y);
    if (!y->declared) y->declared = x->declared;
    tcc_rewrite_reads_replace(g, x, y, false);
    x->producer = NULL;
  } else {
    tcc_rewrite_reads_replace(g, y, x, false);
  }
  r->removed[i] = true;
  r->changed = true;
  return true;
}

/* ---- no-ops ---- */

static bool is_false_constant(const tcc_value_t *v) {
  return v && v->constant && !v->is_input && v->constant->numel == 1 && tcc_tensor_get_int(v->constant, 0) == 0;
}

static void try_noop(rewriter_t *r, size_t i) {
  tcc_node_t *n = r->g->nodes[i];
  tcc_value_t *x = n->num_inputs > 0 ? n->inputs[0] : NULL;
  switch (n->op) {
    case TCC_OP_IDENTITY:
      bypass(r, i, x);
      return;
    case TCC_OP_DROPOUT: {
      bool inference = n->num_inputs < 3 || !n->inputs[2] || is_false_constant(n->inputs[2]);
      bool mask_read = n->num_outputs > 1 && n->outputs[1] && read_elsewhere(r->g, n->outputs[1], NULL);
      if (inference && !mask_read) bypass(r, i, x);
      return;
    }
    case TCC_OP_CAST:
    case TCC_OP_CAST_LIKE:
    case TCC_OP_RESHAPE:
    case TCC_OP_EXPAND:
      if (x && x->type.kind == TCC_TYPE_TENSOR && x->type.rank >= 0) bypass(r, i, x); /* when the types agree */
      return;
    case TCC_OP_CONCAT:
      if (n->num_inputs == 1) bypass(r, i, x);
      return;
    case TCC_OP_TRANSPOSE: {
      const int64_t *perm;
      int64_t count;
      if (!x || x->type.kind != TCC_TYPE_TENSOR || x->type.rank < 0) return;
      if (!tcc_node_attr_ints(n, "perm", &perm, &count)) {
        if (x->type.rank <= 1) bypass(r, i, x); /* the default perm reverses the dims */
        return;
      }
      for (int64_t k = 0; k < count; k++)
        if (perm[k] != k) return;
      bypass(r, i, x);
      return;
    }
    default: return;
  }
}

/* ---- Flatten / Squeeze / Unsqueeze -> Reshape ---- */

static tcc_status_t to_reshape(rewriter_t *r, tcc_node_t *n) {
  tcc_module_t *m = r->g->module;
  tcc_value_t *x = n->num_inputs > 0 ? n->inputs[0] : NULL, *y = n->num_outputs > 0 ? n->outputs[0] : NULL;
  if (!x || !y || x->type.kind != TCC_TYPE_TENSOR || y->type.kind != TCC_TYPE_TENSOR || x->type.rank < 0 ||
      y->type.rank < 0)
    return NULL;
  int64_t *shape = tcc_module_alloc(m, ((size_t)y->type.rank + 1) * sizeof *shape);
  if (!shape) return tcc_status_oom();
  int unknown = 0;
  for (int d = 0; d < y->type.rank; d++) {
    const tcc_dim_t *dim = y->type.dims[d];
    if (tcc_dim_is_const(dim)) {
      shape[d] = tcc_dim_value(dim);
      if (shape[d] == 0) return NULL; /* 0 would mean "copy" */
    } else if (d < x->type.rank && x->type.dims[d] == dim) {
      shape[d] = 0;
    } else {
      shape[d] = -1;
      unknown++;
    }
  }
  if (unknown > 1) return NULL;
  /* the new form must infer to the same type, or nothing changes */
  tcc_type_t before = y->type;
  tcc_node_t saved = *n;
  n->op = TCC_OP_RESHAPE;
  n->num_inputs = 1;
  n->num_attrs = 0;
  n->attrs = NULL;
  tcc_status_t st = tcc_node_set_attr_int(n, "allowzero", 0);
  if (!st) st = tcc_node_set_attr_ints(n, "shape", shape, y->type.rank);
  if (!st) st = tcc_node_infer(n);
  if (st && tcc_status_code(st) == TCC_OUT_OF_MEMORY) return st;
  if (st || !tcc_type_equal(&before, &y->type)) {
    tcc_status_free(st);
    *n = saved;
    return tcc_node_infer(n);
  }
  r->changed = true;
  return NULL;
}

/* ---- Gemm normal form ---- */

static tcc_value_t *new_constant(tcc_graph_t *g, const char *base, const char *suffix, const tcc_tensor_t *t) {
  char stem[512];
  snprintf(stem, sizeof stem, "%s%s", base, suffix);
  return tcc_graph_add_constant(g, tcc_rewrite_name_unique(g, stem, "_"), t);
}

static double get_f(const tcc_tensor_t *t, int64_t i) { return tcc_tensor_get_float(t, i); }

static tcc_node_t *add_node(rewriter_t *r, tcc_op_t op, const char *op_type, const tcc_node_t *origin,
                            const char *suffix, tcc_value_t *a, tcc_value_t *b, tcc_value_t *out) {
  char name[512];
  snprintf(name, sizeof name, "%s%s", origin->name, suffix);
  tcc_value_t *inputs[2] = {a, b};
  tcc_node_t *n = tcc_rewrite_node_add(r->g, op, op_type, name, origin, inputs, 2);
  if (!n) return NULL;
  if (!out) out = tcc_graph_add_value(r->g, tcc_graph_find(r->g, n->name) ? NULL : n->name);
  tcc_node_set_output(n, 0, out);
  r->added = true;
  return n;
}

static tcc_status_t gemm_to_matmul(rewriter_t *r, size_t i) {
  tcc_graph_t *g = r->g;
  tcc_module_t *m = g->module;
  tcc_node_t *n = g->nodes[i];
  tcc_value_t *a = n->inputs[0], *b = n->num_inputs > 1 ? n->inputs[1] : NULL;
  tcc_value_t *c = n->num_inputs > 2 ? n->inputs[2] : NULL, *y = n->outputs[0];
  if (!a || !b || !y || !b->constant || b->is_input || tcc_node_attr_int(n, "transA", 0) != 0) return NULL;
  const tcc_tensor_t *bt = b->constant;
  bool half = bt->dtype == TCC_DTYPE_F16 || bt->dtype == TCC_DTYPE_BF16; /* moved as they are, never scaled */
  if ((bt->dtype != TCC_DTYPE_F32 && bt->dtype != TCC_DTYPE_F64 && !half) || bt->rank != 2 || a->type.dtype != bt->dtype)
    return NULL;
  double alpha = tcc_node_attr_float(n, "alpha", 1.0), beta = tcc_node_attr_float(n, "beta", 1.0);
  bool tb = tcc_node_attr_int(n, "transB", 0) != 0;
  bool c_constant = tcc_rewrite_value_is_constant(c);
  if (c && beta != 1.0 && beta != 0.0 && (!c_constant || half)) return NULL;
  if (half && alpha != 1.0) return NULL;
  if (c && c_constant && c->constant->dtype != bt->dtype) return NULL;

  /* W = alpha * op(B), [K, N]; B itself when there is nothing to change */
  tcc_value_t *wv = b;
  if (tb || alpha != 1.0) {
    int64_t k = bt->dims[tb ? 1 : 0], cols = bt->dims[tb ? 0 : 1];
    int64_t dims[2] = {k, cols};
    tcc_tensor_t *w = tcc_tensor_create(m, bt->dtype, 2, dims);
    if (!w) return tcc_status_oom();
    for (int64_t p = 0; p < k; p++)
      for (int64_t q = 0; q < cols; q++) {
        int64_t from = tb ? q * k + p : p * cols + q;
        if (half) {
          memcpy((char *)w->data + 2 * (p * cols + q), (const char *)bt->data + 2 * from, 2);
          continue;
        }
        double v = get_f(bt, from);
        tcc_rewrite_tensor_put_float(w, p * cols + q, alpha == 1.0 ? v : alpha * v);
      }
    if (!(wv = new_constant(g, n->name, "/weight", w))) return tcc_status_oom();
  }

  tcc_value_t *bias = NULL;
  if (c && beta != 0.0) {
    bias = c;
    if (beta != 1.0) { /* beta * C, C constant */
      const tcc_tensor_t *ct = c->constant;
      tcc_tensor_t *scaled = tcc_tensor_create(m, ct->dtype, ct->rank, ct->dims);
      if (!scaled) return tcc_status_oom();
      for (int64_t e = 0; e < ct->numel; e++) tcc_rewrite_tensor_put_float(scaled, e, beta * get_f(ct, e));
      if (!(bias = new_constant(g, n->name, "/bias", scaled))) return tcc_status_oom();
    }
  }
  /* y keeps its name, producer and declared type: the last node of the new form writes it */
  tcc_node_t *mm = add_node(r, TCC_OP_MATMUL, "MatMul", n, bias ? "/matmul" : "", a, wv, bias ? NULL : y);
  if (!mm) return tcc_status_oom();
  TCC_RETURN_IF_ERROR(tcc_module_check(m));
  TCC_RETURN_IF_ERROR(tcc_node_infer(mm));
  if (bias) {
    tcc_node_t *add = add_node(r, TCC_OP_ADD, "Add", n, "/bias_add", mm->outputs[0], bias, y);
    if (!add) return tcc_status_oom();
    TCC_RETURN_IF_ERROR(tcc_module_check(m));
    TCC_RETURN_IF_ERROR(tcc_node_infer(add));
  }
  r->removed[i] = true;
  r->changed = true;
  return NULL;
}

/* ---- constant operands second ---- */

static void constant_second(rewriter_t *r, tcc_node_t *n) {
  if ((n->op != TCC_OP_ADD && n->op != TCC_OP_MUL) || n->num_inputs != 2) return;
  tcc_value_t *a = n->inputs[0], *b = n->inputs[1];
  if (!a || !b || !tcc_rewrite_value_is_constant(a) || tcc_rewrite_value_is_constant(b)) return;
  n->inputs[0] = b, n->inputs[1] = a;
  r->changed = true;
}

tcc_status_t tcc_pass_canonicalize(tcc_graph_t *g, const tcc_pass_context_t *ctx, const tcc_canonicalize_options_t *options,
                                   bool *changed) {
  (void)ctx;
  tcc_canonicalize_options_t defaults = TCC_CANONICALIZE_DEFAULTS;
  if (!options) options = &defaults;
  *changed = false;
  size_t count = g->num_nodes;
  rewriter_t r = {g, tcc_module_alloc(g->module, count + 1), count, false, false};
  if (!r.removed) return tcc_status_oom();
  memset(r.removed, 0, count + 1);
  for (size_t i = 0; i < count; i++) {
    tcc_node_t *n = g->nodes[i];
    try_noop(&r, i);
    if (r.removed[i]) continue;
    if (n->op == TCC_OP_FLATTEN || n->op == TCC_OP_SQUEEZE || n->op == TCC_OP_UNSQUEEZE)
      TCC_RETURN_IF_ERROR(to_reshape(&r, n));
    else if (n->op == TCC_OP_GEMM && options->gemm_to_matmul)
      TCC_RETURN_IF_ERROR(gemm_to_matmul(&r, i));
    else
      constant_second(&r, n);
  }
  if (!r.changed) return NULL;
  /* drop the removed nodes (appended ones stay), and the values they alone defined */
  size_t kept = 0;
  for (size_t i = 0; i < g->num_nodes; i++)
    if (i >= count || !r.removed[i]) g->nodes[kept++] = g->nodes[i];
  g->num_nodes = kept;
  bool *live = tcc_module_alloc(g->module, (size_t)g->module->next_id + 1);
  if (!live) return tcc_status_oom();
  memset(live, 0, (size_t)g->module->next_id + 1);
  for (size_t i = 0; i < g->num_nodes; i++)
    for (int k = 0; k < g->nodes[i]->num_outputs; k++)
      if (g->nodes[i]->outputs[k]) live[g->nodes[i]->outputs[k]->id] = true;
  kept = 0;
  for (size_t i = 0; i < g->num_values; i++) {
    tcc_value_t *v = g->values[i];
    bool orphan = !v->is_input && !v->constant && !live[v->id] && !read_elsewhere(g, v, NULL);
    if (!orphan) g->values[kept++] = v;
  }
  g->num_values = kept;
  if (r.added) TCC_RETURN_IF_ERROR(tcc_graph_sort(g));
  TCC_RETURN_IF_ERROR(tcc_graph_infer(g));
  *changed = true;
  return NULL;
}
