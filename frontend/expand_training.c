/* Training ops -> ordinary ops (contract in frontend/expand_training.h). */
#include "frontend/expand_training.h"

#include <stdio.h>
#include <string.h>

#include "ir/infer.h"

typedef struct {
  tcc_graph_t *g;
  const tcc_node_t *origin; /* the node being expanded: new nodes are named after it */
  int count;
} builder_t;

/* A new node `op` over up to three inputs with one fresh output (or `into`, when given), not yet typed. */
static tcc_node_t *new_node(builder_t *b, tcc_op_t op, const char *op_type, tcc_value_t *x, tcc_value_t *y,
                            tcc_value_t *z, tcc_value_t *into) {
  tcc_module_t *m = b->g->module;
  char name[256];
  snprintf(name, sizeof name, "%s/%s_%d", b->origin->name, op_type, b->count++);
  int num_inputs = z ? 3 : y ? 2 : 1;
  tcc_node_t *n = tcc_graph_add_node(b->g, op, tcc_module_strdup(m, name), num_inputs, 1);
  if (!n) return NULL;
  n->domain = "";
  n->op_type = op_type;
  n->opset = tcc_module_opset(m, "");
  tcc_value_t *in[] = {x, y, z};
  for (int i = 0; i < num_inputs; i++) n->inputs[i] = in[i];
  tcc_node_set_output(n, 0, into ? into : tcc_graph_add_value(b->g, NULL));
  return n;
}

/* Types n and returns its output. */
static tcc_status_t finish(tcc_module_t *m, tcc_node_t *n, tcc_value_t **out) {
  if (!n) return tcc_status_oom();
  TCC_RETURN_IF_ERROR(tcc_module_check(m));
  TCC_RETURN_IF_ERROR(tcc_node_infer(n));
  if (out) *out = n->outputs[0];
  return NULL;
}

static tcc_status_t emit_into(builder_t *b, tcc_op_t op, const char *op_type, tcc_value_t *x, tcc_value_t *y,
                              tcc_value_t *z, tcc_value_t *into, tcc_value_t **out) {
  return finish(b->g->module, new_node(b, op, op_type, x, y, z, into), out);
}

static tcc_status_t cast(builder_t *b, tcc_value_t *x, tcc_dtype_t to, tcc_value_t **out) {
  tcc_node_t *n = new_node(b, TCC_OP_CAST, "Cast", x, NULL, NULL, NULL);
  if (n) TCC_RETURN_IF_ERROR(tcc_node_set_attr_int(n, "to", to));
  return finish(b->g->module, n, out);
}

#define EMIT1(out, OP, op_type, x) TCC_RETURN_IF_ERROR(emit_into(b, TCC_OP_##OP, op_type, x, NULL, NULL, NULL, out))
#define EMIT2(out, OP, op_type, x, y) TCC_RETURN_IF_ERROR(emit_into(b, TCC_OP_##OP, op_type, x, y, NULL, NULL, out))
#define EMIT3(out, OP, op_type, x, y, z) TCC_RETURN_IF_ERROR(emit_into(b, TCC_OP_##OP, op_type, x, y, z, NULL, out))
/* Writes into an output value of the expanded node (a fresh value when that output is omitted). */
#define EMIT_TO(into, out, OP, op_type, x, y) TCC_RETURN_IF_ERROR(emit_into(b, TCC_OP_##OP, op_type, x, y, NULL, into, out))

/* A scalar constant of a float dtype. */
static tcc_status_t scalar(builder_t *b, tcc_dtype_t dtype, double v, tcc_value_t **out) {
  tcc_module_t *m = b->g->module;
  if (dtype != TCC_DTYPE_F32 && dtype != TCC_DTYPE_F64)
    return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (%s): element type %s is not supported (f32, f64)",
                           b->origin->name, b->origin->op_type, tcc_dtype_name(dtype));
  tcc_tensor_t *t = tcc_tensor_create(m, dtype, 0, NULL);
  if (!t) return tcc_status_oom();
  float f = (float)v;
  memcpy((void *)t->data, dtype == TCC_DTYPE_F32 ? (const void *)&f : (const void *)&v, t->nbytes);
  *out = tcc_graph_add_constant(b->g, NULL, t);
  return *out ? NULL : tcc_status_oom();
}

static double attr_f(const tcc_node_t *n, const char *name, double fallback) {
  return tcc_node_attr_float(n, name, fallback);
}

/* ---- optimizers: formulas of the ONNX training-domain specification ---- */

/* Common prologue: the learning rate R, T as a float, and g_regularized = norm_coefficient * X + G. */
static tcc_status_t regularized(builder_t *b, tcc_value_t *x, tcc_value_t *g, tcc_value_t **out) {
  tcc_value_t *nc, *scaled;
  TCC_RETURN_IF_ERROR(scalar(b, x->type.dtype, attr_f(b->origin, "norm_coefficient", 0), &nc));
  EMIT2(&scaled, MUL, "Mul", nc, x);
  EMIT2(out, ADD, "Add", scaled, g);
  return NULL;
}

static tcc_status_t expand_adagrad(builder_t *b, const tcc_node_t *n) {
  int k = (n->num_inputs - 2) / 3;
  tcc_value_t *r = n->inputs[0], *t = n->inputs[1], *tf, *decay, *one, *denom, *rate;
  tcc_dtype_t dt = r->type.dtype;
  TCC_RETURN_IF_ERROR(cast(b, t, dt, &tf));
  TCC_RETURN_IF_ERROR(scalar(b, dt, attr_f(n, "decay_factor", 0), &decay));
  TCC_RETURN_IF_ERROR(scalar(b, dt, 1, &one));
  EMIT2(&denom, MUL, "Mul", tf, decay);
  EMIT2(&denom, ADD, "Add", one, denom);
  EMIT2(&rate, DIV, "Div", r, denom);
  for (int i = 0; i < k; i++) {
    tcc_value_t *x = n->inputs[2 + i], *g = n->inputs[2 + k + i], *h = n->inputs[2 + 2 * k + i];
    tcc_value_t *greg, *sq, *h_new, *root, *eps, *step;
    TCC_RETURN_IF_ERROR(regularized(b, x, g, &greg));
    EMIT2(&sq, MUL, "Mul", greg, greg);
    EMIT_TO(n->outputs[k + i], &h_new, ADD, "Add", h, sq);
    TCC_RETURN_IF_ERROR(scalar(b, x->type.dtype, attr_f(n, "epsilon", 1e-6), &eps));
    EMIT1(&root, SQRT, "Sqrt", h_new);
    EMIT2(&root, ADD, "Add", root, eps);
    EMIT2(&step, MUL, "Mul", rate, greg);
    EMIT2(&step, DIV, "Div", step, root);
    EMIT_TO(n->outputs[i], NULL, SUB, "Sub", x, step);
  }
  return NULL;
}

/* beta_adjusted = T > 0 ? beta : 1 (Momentum); both as scalars of R's dtype. */
static tcc_status_t when_started(builder_t *b, tcc_value_t *t, tcc_value_t *then, tcc_value_t *otherwise,
                                 tcc_value_t **out) {
  tcc_value_t *zero, *started;
  tcc_tensor_t *z = tcc_tensor_create_i64(b->g->module, 0, NULL, (int64_t[]){0});
  if (!z || !(zero = tcc_graph_add_constant(b->g, NULL, z))) return tcc_status_oom();
  EMIT2(&started, GREATER, "Greater", t, zero);
  EMIT3(out, WHERE, "Where", started, then, otherwise);
  return NULL;
}

static tcc_status_t expand_momentum(builder_t *b, const tcc_node_t *n) {
  int k = (n->num_inputs - 2) / 3;
  tcc_value_t *r = n->inputs[0], *t = n->inputs[1], *alpha, *beta, *one, *beta_adj;
  tcc_dtype_t dt = n->inputs[2]->type.dtype;
  const char *mode = tcc_node_attr_string(n, "mode", "standard");
  if (strcmp(mode, "standard") != 0 && strcmp(mode, "nesterov") != 0)
    return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (Momentum): mode must be standard or nesterov, got '%s'",
                           n->name, mode);
  TCC_RETURN_IF_ERROR(scalar(b, dt, attr_f(n, "alpha", 0), &alpha));
  TCC_RETURN_IF_ERROR(scalar(b, dt, attr_f(n, "beta", 0), &beta));
  TCC_RETURN_IF_ERROR(scalar(b, dt, 1, &one));
  TCC_RETURN_IF_ERROR(when_started(b, t, beta, one, &beta_adj));
  for (int i = 0; i < k; i++) {
    tcc_value_t *x = n->inputs[2 + i], *g = n->inputs[2 + k + i], *v = n->inputs[2 + 2 * k + i];
    tcc_value_t *greg, *av, *bg, *v_new, *step;
    TCC_RETURN_IF_ERROR(regularized(b, x, g, &greg));
    EMIT2(&av, MUL, "Mul", alpha, v);
    EMIT2(&bg, MUL, "Mul", beta_adj, greg);
    EMIT_TO(n->outputs[k + i], &v_new, ADD, "Add", av, bg);
    step = v_new;
    if (mode[0] == 'n') { /* nesterov: X - R * (g_regularized + alpha * V_new) */
      EMIT2(&step, MUL, "Mul", alpha, v_new);
      EMIT2(&step, ADD, "Add", greg, step);
    }
    EMIT2(&step, MUL, "Mul", r, step);
    EMIT_TO(n->outputs[i], NULL, SUB, "Sub", x, step);
  }
  return NULL;
}

static tcc_status_t expand_adam(builder_t *b, const tcc_node_t *n) {
  int k = (n->num_inputs - 2) / 4;
  tcc_value_t *r = n->inputs[0], *t = n->inputs[1];
  tcc_dtype_t dt = n->inputs[2]->type.dtype;
  double alpha = attr_f(n, "alpha", 0.9), beta = attr_f(n, "beta", 0.999);
  tcc_value_t *c_alpha, *c_beta, *c_1_alpha, *c_1_beta, *one, *eps, *post, *tf;
  TCC_RETURN_IF_ERROR(scalar(b, dt, alpha, &c_alpha));
  TCC_RETURN_IF_ERROR(scalar(b, dt, beta, &c_beta));
  TCC_RETURN_IF_ERROR(scalar(b, dt, 1 - alpha, &c_1_alpha));
  TCC_RETURN_IF_ERROR(scalar(b, dt, 1 - beta, &c_1_beta));
  TCC_RETURN_IF_ERROR(scalar(b, dt, 1, &one));
  TCC_RETURN_IF_ERROR(scalar(b, dt, attr_f(n, "epsilon", 1e-6), &eps));
  TCC_RETURN_IF_ERROR(scalar(b, dt, 1 - attr_f(n, "norm_coefficient_post", 0), &post));
  /* R_adjusted = T > 0 ? R * sqrt(1 - beta^T) / (1 - alpha^T) : R */
  tcc_value_t *bt, *at, *num, *den, *corrected, *rate;
  TCC_RETURN_IF_ERROR(cast(b, t, dt, &tf));
  EMIT2(&bt, POW, "Pow", c_beta, tf);
  EMIT2(&num, SUB, "Sub", one, bt);
  EMIT1(&num, SQRT, "Sqrt", num);
  EMIT2(&at, POW, "Pow", c_alpha, tf);
  EMIT2(&den, SUB, "Sub", one, at);
  EMIT2(&corrected, MUL, "Mul", r, num);
  EMIT2(&corrected, DIV, "Div", corrected, den);
  TCC_RETURN_IF_ERROR(when_started(b, t, corrected, r, &rate));
  for (int i = 0; i < k; i++) {
    tcc_value_t *x = n->inputs[2 + i], *g = n->inputs[2 + k + i], *v = n->inputs[2 + 2 * k + i],
                *h = n->inputs[2 + 3 * k + i];
    tcc_value_t *greg, *p, *q, *v_new, *h_new, *root, *step;
    TCC_RETURN_IF_ERROR(regularized(b, x, g, &greg));
    EMIT2(&p, MUL, "Mul", c_alpha, v);
    EMIT2(&q, MUL, "Mul", c_1_alpha, greg);
    EMIT_TO(n->outputs[k + i], &v_new, ADD, "Add", p, q);
    EMIT2(&p, MUL, "Mul", c_beta, h);
    EMIT2(&q, MUL, "Mul", greg, greg);
    EMIT2(&q, MUL, "Mul", c_1_beta, q);
    EMIT_TO(n->outputs[2 * k + i], &h_new, ADD, "Add", p, q);
    EMIT1(&root, SQRT, "Sqrt", h_new);
    EMIT2(&root, ADD, "Add", root, eps);
    EMIT2(&step, DIV, "Div", v_new, root);
    EMIT2(&step, MUL, "Mul", rate, step);
    EMIT2(&step, SUB, "Sub", x, step);
    EMIT_TO(n->outputs[i], NULL, MUL, "Mul", post, step);
  }
  return NULL;
}

/* ---- Gradient: reverse-mode differentiation over the forward nodes between xs and y ---- */

typedef struct {
  builder_t *b;
  tcc_value_t **grad; /* by value id: the accumulated gradient of y with respect to the value */
  bool *reaches;      /* by value id: the value depends on some x */
} backward_t;

static const char *dims_text(const tcc_type_t *t, char *buf, size_t size) {
  tcc_type_format(t, buf, size);
  return buf;
}

/* Sums g (the gradient of a broadcast result) down to the shape of operand x. */
static tcc_status_t unbroadcast(backward_t *w, tcc_value_t *g, const tcc_value_t *x, tcc_value_t **out) {
  builder_t *b = w->b;
  const tcc_type_t *gt = &g->type, *xt = &x->type;
  if (gt->rank == xt->rank) {
    bool same = true;
    for (int i = 0; i < gt->rank; i++) same &= gt->dims[i] == xt->dims[i];
    if (same) return *out = g, NULL;
  }
  int64_t axes[64];
  int num_axes = 0, lead = gt->rank - xt->rank;
  for (int i = 0; i < gt->rank && i < 64; i++) {
    const tcc_dim_t *xd = i >= lead ? xt->dims[i - lead] : NULL;
    if (xd == gt->dims[i]) continue;
    if (!xd || (tcc_dim_is_const(xd) && tcc_dim_value(xd) == 1)) {
      axes[num_axes++] = i;
      continue;
    }
    char a[256], c[256];
    return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (Gradient): cannot tell how %s broadcasts to %s",
                           b->origin->name, dims_text(xt, a, sizeof a), dims_text(gt, c, sizeof c));
  }
  tcc_tensor_t *axes_t = tcc_tensor_create_i64(b->g->module, 1, (int64_t[]){num_axes}, axes);
  tcc_value_t *axes_v = axes_t ? tcc_graph_add_constant(b->g, NULL, axes_t) : NULL, *sum;
  if (!axes_v) return tcc_status_oom();
  EMIT2(&sum, REDUCE_SUM, "ReduceSum", g, axes_v);
  tcc_node_t *reshape = new_node(b, TCC_OP_RESHAPE, "Reshape", sum, NULL, NULL, NULL);
  if (reshape) TCC_RETURN_IF_ERROR(tcc_node_set_attr_dims(reshape, "shape", xt->dims, xt->rank));
  return finish(b->g->module, reshape, out);
}

/* Adds contribution g (shaped like the op's result) to the gradient of operand x. */
static tcc_status_t accumulate(backward_t *w, tcc_value_t *x, tcc_value_t *g) {
  builder_t *b = w->b;
  if (!w->reaches[x->id]) return NULL;
  TCC_RETURN_IF_ERROR(unbroadcast(w, g, x, &g));
  tcc_value_t **slot = &w->grad[x->id];
  if (*slot) EMIT2(slot, ADD, "Add", *slot, g);
  else *slot = g;
  return NULL;
}

/* The derivative rules: n's output gradient gy -> contributions to its inputs' gradients. */
static tcc_status_t differentiate(backward_t *w, const tcc_node_t *n, tcc_value_t *gy) {
  builder_t *b = w->b;
  tcc_value_t *a = n->inputs[0], *c = n->num_inputs > 1 ? n->inputs[1] : NULL, *y = n->outputs[0];
  tcc_value_t *t, *u, *one;
  switch (n->op) {
    case TCC_OP_IDENTITY: return accumulate(w, a, gy);
    case TCC_OP_ADD:
      TCC_RETURN_IF_ERROR(accumulate(w, a, gy));
      return accumulate(w, c, gy);
    case TCC_OP_SUB:
      TCC_RETURN_IF_ERROR(accumulate(w, a, gy));
      EMIT1(&t, NEG, "Neg", gy);
      return accumulate(w, c, t);
    case TCC_OP_MUL:
      EMIT2(&t, MUL, "Mul", gy, c);
      TCC_RETURN_IF_ERROR(accumulate(w, a, t));
      EMIT2(&t, MUL, "Mul", gy, a);
      return accumulate(w, c, t);
    case TCC_OP_DIV: /* d(a/c) = da/c - dc*y/c */
      EMIT2(&t, DIV, "Div", gy, c);
      TCC_RETURN_IF_ERROR(accumulate(w, a, t));
      EMIT2(&t, MUL, "Mul", t, y);
      EMIT1(&t, NEG, "Neg", t);
      return accumulate(w, c, t);
    case TCC_OP_NEG:
      EMIT1(&t, NEG, "Neg", gy);
      return accumulate(w, a, t);
    case TCC_OP_EXP:
      EMIT2(&t, MUL, "Mul", gy, y);
      return accumulate(w, a, t);
    case TCC_OP_LOG:
      EMIT2(&t, DIV, "Div", gy, a);
      return accumulate(w, a, t);
    case TCC_OP_SQRT: /* gy / (2 y) */
      EMIT2(&t, ADD, "Add", y, y);
      EMIT2(&t, DIV, "Div", gy, t);
      return accumulate(w, a, t);
    case TCC_OP_TANH: /* gy (1 - y^2) */
      TCC_RETURN_IF_ERROR(scalar(b, y->type.dtype, 1, &one));
      EMIT2(&t, MUL, "Mul", y, y);
      EMIT2(&t, SUB, "Sub", one, t);
      EMIT2(&t, MUL, "Mul", gy, t);
      return accumulate(w, a, t);
    case TCC_OP_SIGMOID: /* gy y (1 - y) */
      TCC_RETURN_IF_ERROR(scalar(b, y->type.dtype, 1, &one));
      EMIT2(&t, SUB, "Sub", one, y);
      EMIT2(&t, MUL, "Mul", y, t);
      EMIT2(&t, MUL, "Mul", gy, t);
      return accumulate(w, a, t);
    case TCC_OP_RELU: /* gy where a > 0 */
      TCC_RETURN_IF_ERROR(scalar(b, y->type.dtype, 0, &one));
      EMIT2(&t, GREATER, "Greater", a, one);
      EMIT3(&t, WHERE, "Where", t, gy, one);
      return accumulate(w, a, t);
    case TCC_OP_MATMUL: /* 2-D: da = gy c^T, dc = a^T gy */
      if (a->type.rank != 2 || c->type.rank != 2) break;
      EMIT1(&u, TRANSPOSE, "Transpose", c);
      EMIT2(&t, MATMUL, "MatMul", gy, u);
      TCC_RETURN_IF_ERROR(accumulate(w, a, t));
      EMIT1(&u, TRANSPOSE, "Transpose", a);
      EMIT2(&t, MATMUL, "MatMul", u, gy);
      return accumulate(w, c, t);
    default: break;
  }
  return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (Gradient): no derivative for node '%s' (%s%s)", b->origin->name,
                         n->name, n->op_type, n->op == TCC_OP_MATMUL ? " beyond 2-D operands" : "");
}

/* A tensor of `value` shaped like v (Expand of a scalar over Shape(v)). */
static tcc_status_t filled_like(builder_t *b, tcc_value_t *v, double value, tcc_value_t *into, tcc_value_t **out) {
  tcc_value_t *s, *shape;
  TCC_RETURN_IF_ERROR(scalar(b, v->type.dtype, value, &s));
  EMIT1(&shape, SHAPE, "Shape", v);
  EMIT_TO(into, out, EXPAND, "Expand", s, shape);
  return NULL;
}

static tcc_status_t expand_gradient(builder_t *b, const tcc_node_t *n) {
  tcc_graph_t *g = b->g;
  const char *y_name = tcc_node_attr_string(n, "y", NULL);
  tcc_value_t *y = y_name ? tcc_graph_find(g, y_name) : NULL;
  if (!y) return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (Gradient): attribute y names no value", n->name);
  uint32_t ids = g->module->next_id + 1;
  backward_t w = {b, tcc_module_alloc(g->module, ids * sizeof *w.grad), tcc_module_alloc(g->module, ids)};
  if (!w.grad || !w.reaches) return tcc_status_oom();
  memset(w.grad, 0, ids * sizeof *w.grad);
  memset(w.reaches, 0, ids);
  for (int i = 0; i < n->num_outputs; i++) w.reaches[n->inputs[i]->id] = true;
  /* Forward: which values depend on an x (nodes are in topological order; y's producer may follow n). */
  size_t forward_end = g->num_nodes;
  for (size_t i = 0; i < forward_end; i++) {
    const tcc_node_t *f = g->nodes[i];
    bool hit = false;
    for (int k = 0; k < f->num_inputs; k++) hit |= f->inputs[k] && w.reaches[f->inputs[k]->id];
    for (int k = 0; k < f->num_outputs && hit; k++)
      if (f->outputs[k]) w.reaches[f->outputs[k]->id] = true;
  }
  /* Backward from y, seeded with ones (the gradient of the sum of y's elements). */
  if (w.reaches[y->id]) TCC_RETURN_IF_ERROR(filled_like(b, y, 1, NULL, &w.grad[y->id]));
  for (size_t i = forward_end; i-- > 0;) {
    const tcc_node_t *f = g->nodes[i];
    if (f == n || f->num_outputs != 1 || !f->outputs[0] || !w.grad[f->outputs[0]->id]) continue;
    TCC_RETURN_IF_ERROR(differentiate(&w, f, w.grad[f->outputs[0]->id]));
  }
  for (int i = 0; i < n->num_outputs; i++) {
    tcc_value_t *x = n->inputs[i], *gx = w.grad[x->id];
    if (!n->outputs[i]) continue;
    if (gx) EMIT_TO(n->outputs[i], NULL, IDENTITY, "Identity", gx, NULL);
    else TCC_RETURN_IF_ERROR(filled_like(b, x, 0, n->outputs[i], NULL)); /* y does not depend on x */
  }
  return NULL;
}

/* ---- the pass ---- */

tcc_status_t tcc_onnx_expand_training(tcc_graph_t *g) {
  size_t original = g->num_nodes, kept = 0;
  bool any = false;
  for (size_t i = 0; i < original; i++) {
    tcc_node_t *n = g->nodes[i];
    builder_t b = {g, n, 0};
    switch (n->op) {
      case TCC_OP_ADAGRAD: TCC_RETURN_IF_ERROR(expand_adagrad(&b, n)); break;
      case TCC_OP_ADAM: TCC_RETURN_IF_ERROR(expand_adam(&b, n)); break;
      case TCC_OP_MOMENTUM: TCC_RETURN_IF_ERROR(expand_momentum(&b, n)); break;
      case TCC_OP_GRADIENT: TCC_RETURN_IF_ERROR(expand_gradient(&b, n)); break;
      default: continue;
    }
    any = true;
    g->nodes[i] = NULL; /* replaced by the nodes appended above */
  }
  if (!any) return NULL;
  for (size_t i = 0; i < g->num_nodes; i++)
    if (g->nodes[i]) g->nodes[kept++] = g->nodes[i];
  g->num_nodes = kept;
  return tcc_graph_sort(g);
}
