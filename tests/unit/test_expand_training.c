/* Training-op expansion (frontend/expand_training.c): Gradient's reverse-mode derivative agrees with
 * central finite differences of the forward graph (broadcasting, MatMul, the unary rules), optimizers
 * follow their update formulas, and an op without a derivative is reported by name. */
#include <math.h>
#include <stdlib.h>

#include "frontend/expand_training.h"
#include "ir/graph_eval.h"
#include "tests/graph_builder.h"
#include "tests/test.h"

static tcc_tensor_t *random_tensor(tcc_module_t *m, int rank, const int64_t *dims) {
  tcc_tensor_t *t = tcc_tensor_create(m, TCC_DTYPE_F32, rank, dims);
  for (int64_t i = 0; i < t->numel; i++) ((float *)t->data)[i] = (float)rand() / (float)RAND_MAX * 1.6f - 0.8f;
  return t;
}

static tcc_node_t *gradient_node(tcc_graph_t *g, tcc_value_t *y, int n, tcc_value_t **xs) {
  tcc_node_t *grad = tcc_graph_add_node(g, TCC_OP_GRADIENT, "grad", n, n);
  grad->op_type = "Gradient";
  for (int i = 0; i < n; i++) {
    grad->inputs[i] = xs[i];
    tcc_node_set_output(grad, i, tcc_graph_add_value(g, NULL));
    tcc_graph_add_output(g, grad->outputs[i]);
  }
  tcc_attr_t a = {.name = "y", .kind = TCC_ATTR_STRING, .s = {y->name, strlen(y->name)}};
  CHECK_OK(tcc_node_set_attr(grad, &a));
  return grad;
}

/* y = MatMul(tanh(a * b) - exp(a) / 2, w) with a: [2, 3], b: [3] (broadcast), w: [3, 2]; d sum(y) / d{a, b, w}
 * against central differences. */
TEST(gradient_matches_finite_differences) {
  srand(11);
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *xs[3] = {tcc_graph_add_input(g, "a"), tcc_graph_add_input(g, "b"), tcc_graph_add_input(g, "w")};
  const tcc_dim_t *d2 = tcc_dim_const(m, 2), *d3 = tcc_dim_const(m, 3);
  CHECK_OK(tcc_value_set_tensor(xs[0], TCC_DTYPE_F32, 2, (const tcc_dim_t *[]){d2, d3}));
  CHECK_OK(tcc_value_set_tensor(xs[1], TCC_DTYPE_F32, 1, (const tcc_dim_t *[]){d3}));
  CHECK_OK(tcc_value_set_tensor(xs[2], TCC_DTYPE_F32, 2, (const tcc_dim_t *[]){d3, d2}));
  float half = 2.0f;
  tcc_node_t *mul = node(g, TCC_OP_MUL, 1, 2, xs[0], xs[1]);
  tcc_node_t *tanh_ = node(g, TCC_OP_TANH, 1, 1, mul->outputs[0]);
  tcc_node_t *exp_ = node(g, TCC_OP_EXP, 1, 1, xs[0]);
  tcc_node_t *div = node(g, TCC_OP_DIV, 1, 2, exp_->outputs[0], const_f32(g, 1, &half));
  tcc_node_t *sub = node(g, TCC_OP_SUB, 1, 2, tanh_->outputs[0], div->outputs[0]);
  tcc_node_t *mm = node(g, TCC_OP_MATMUL, 1, 2, sub->outputs[0], xs[2]);
  tcc_value_t *y = tcc_graph_add_value(g, "y");
  tcc_node_set_output(mm, 0, y);
  tcc_graph_add_output(g, y);
  gradient_node(g, y, 3, xs);
  CHECK_OK(tcc_graph_infer(g));
  CHECK_OK(tcc_onnx_expand_training(g));
  for (size_t i = 0; i < g->num_nodes; i++) CHECK(g->nodes[i]->op != TCC_OP_GRADIENT);

  const int64_t shapes[3][2] = {{2, 3}, {3, 0}, {3, 2}};
  tcc_tensor_t *in[3];
  for (int i = 0; i < 3; i++) in[i] = random_tensor(m, i == 1 ? 1 : 2, shapes[i]);
  tcc_tensor_t *out[4] = {0};
  CHECK_OK(tcc_graph_eval(g, (const tcc_tensor_t *const *)in, m, out));
  for (int i = 0; i < 3 && out[i + 1]; i++) {
    CHECK(out[i + 1]->numel == in[i]->numel);
    for (int64_t e = 0; e < in[i]->numel; e++) {
      float *p = (float *)in[i]->data + e, saved = *p, h = 1e-2f;
      double sums[2];
      for (int s = 0; s < 2; s++) {
        *p = saved + (s ? -h : h);
        tcc_tensor_t *probe[4] = {0};
        CHECK_OK(tcc_graph_eval(g, (const tcc_tensor_t *const *)in, m, probe));
        sums[s] = 0;
        for (int64_t k = 0; probe[0] && k < probe[0]->numel; k++) sums[s] += ((float *)probe[0]->data)[k];
      }
      *p = saved;
      double numeric = (sums[0] - sums[1]) / (2 * h), analytic = ((float *)out[i + 1]->data)[e];
      if (fabs(numeric - analytic) > 2e-3 * (1 + fabs(numeric))) {
        fprintf(stderr, "d/d%s[%lld]: analytic %g, numeric %g\n", xs[i]->name, (long long)e, analytic, numeric);
        test_current_failed_ = 1;
      }
    }
  }
  tcc_module_destroy(m);
}

/* Momentum (standard, T > 0): V_new = alpha V + beta (norm X + G), X_new = X - R V_new. */
TEST(momentum_follows_its_formula) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  float r = 0.1f, x[2] = {1, -2}, gr[2] = {0.5f, 0.25f}, v[2] = {-1, 3};
  tcc_value_t *t = scalar(g, 3);
  tcc_tensor_t *rate = tcc_tensor_create(m, TCC_DTYPE_F32, 0, NULL);
  memcpy((void *)rate->data, &r, sizeof r);
  tcc_node_t *n = node(g, TCC_OP_MOMENTUM, 2, 5, tcc_graph_add_constant(g, NULL, rate), t, const_f32(g, 2, x), const_f32(g, 2, gr),
                       const_f32(g, 2, v));
  n->name = "momentum", n->op_type = "Momentum";
  tcc_attr_t attrs[] = {{.name = "alpha", .kind = TCC_ATTR_FLOAT, .f = 0.9},
                        {.name = "beta", .kind = TCC_ATTR_FLOAT, .f = 0.5},
                        {.name = "norm_coefficient", .kind = TCC_ATTR_FLOAT, .f = 0.01}};
  for (int i = 0; i < 3; i++) CHECK_OK(tcc_node_set_attr(n, &attrs[i]));
  tcc_graph_add_output(g, n->outputs[0]);
  tcc_graph_add_output(g, n->outputs[1]);
  CHECK_OK(tcc_graph_infer(g));
  CHECK_OK(tcc_onnx_expand_training(g));
  tcc_tensor_t *out[2] = {0};
  CHECK_OK(tcc_graph_eval(g, NULL, m, out));
  for (int i = 0; out[0] && out[1] && i < 2; i++) {
    float v_new = 0.9f * v[i] + 0.5f * (0.01f * x[i] + gr[i]), x_new = x[i] - r * v_new;
    CHECK(fabsf(((float *)out[1]->data)[i] - v_new) < 1e-6f);
    CHECK(fabsf(((float *)out[0]->data)[i] - x_new) < 1e-6f);
  }
  tcc_module_destroy(m);
}

TEST(gradient_without_a_rule_is_unsupported) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "4");
  x->name = "x";
  tcc_node_t *f = node(g, TCC_OP_FLOOR, 1, 1, x);
  f->name = "floor", f->op_type = "Floor";
  tcc_node_set_output(f, 0, tcc_graph_add_value(g, "y"));
  gradient_node(g, f->outputs[0], 1, &x);
  CHECK_OK(tcc_graph_infer(g));
  tcc_status_t st = tcc_onnx_expand_training(g);
  CHECK(st && tcc_status_code(st) == TCC_UNSUPPORTED && strstr(tcc_status_message(st), "'floor' (Floor)"));
  tcc_status_free(st);
  tcc_module_destroy(m);
}

RUN_TESTS(T(gradient_matches_finite_differences), T(momentum_follows_its_formula),
          T(gradient_without_a_rule_is_unsupported))
