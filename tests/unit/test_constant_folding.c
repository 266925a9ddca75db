/* Constant folding (passes/constant_folding.c): all-constant chains collapse into constants computed by
 * the reference evaluator, results are unchanged, and what must not be folded stays. */
#include <math.h>
#include <stdlib.h>

#include "ir/graph_eval.h"
#include "passes/constant_folding.h"
#include "tests/graph_builder.h"
#include "tests/test.h"

static tcc_value_t *random_f32(tcc_graph_t *g, int64_t n) {
  float v[64];
  for (int64_t i = 0; i < n; i++) v[i] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
  return const_f32(g, n, v);
}

static float f32_at(const tcc_tensor_t *t, int64_t i) {
  float v;
  memcpy(&v, (const char *)t->data + 4 * i, 4);
  return v;
}

/* y = x * exp(c1 + c2): the Add and Exp fold, their value equals C's, the Mul stays, y is unchanged. */
TEST(folds_a_constant_chain) {
  srand(7);
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "4"), *c1 = random_f32(g, 4), *c2 = random_f32(g, 4);
  tcc_node_t *add = node(g, TCC_OP_ADD, 1, 2, c1, c2);
  tcc_node_t *exp = node(g, TCC_OP_EXP, 1, 1, add->outputs[0]);
  tcc_node_t *mul = node(g, TCC_OP_MUL, 1, 2, x, exp->outputs[0]);
  tcc_graph_add_output(g, mul->outputs[0]);
  CHECK_OK(tcc_graph_infer(g));
  tcc_tensor_t *xs = tcc_tensor_create(m, TCC_DTYPE_F32, 1, (int64_t[]){4});
  for (int i = 0; i < 4; i++) ((float *)xs->data)[i] = (float)i - 1.5f;
  const tcc_tensor_t *inputs[] = {xs};
  tcc_tensor_t *before = NULL, *after = NULL;
  CHECK_OK(tcc_graph_eval(g, inputs, m, &before));

  int folded = -1;
  CHECK_OK(tcc_fold_constants(g, NULL, &folded));
  CHECK(folded == 2);
  CHECK(g->num_nodes == 1 && g->nodes[0] == mul);
  const tcc_tensor_t *e = exp->outputs[0]->constant;
  CHECK(e && e->numel == 4 && !exp->outputs[0]->producer);
  for (int i = 0; e && i < 4; i++)
    CHECK(fabsf(f32_at(e, i) - expf(f32_at(c1->constant, i) + f32_at(c2->constant, i))) < 1e-6f);
  CHECK_OK(tcc_graph_eval(g, inputs, m, &after));
  for (int i = 0; before && after && i < 4; i++) CHECK(f32_at(before, i) == f32_at(after, i));
  tcc_module_destroy(m);
}

/* A folded Shape-free Reshape gives its consumers a concrete type after re-inference. */
TEST(refolded_types_are_concrete) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *c = random_f32(g, 6), *shape = const_i64(g, 1, 2, (int64_t[]){2, 3});
  tcc_node_t *reshape = node(g, TCC_OP_RESHAPE, 1, 2, c, shape);
  tcc_node_t *neg = node(g, TCC_OP_NEG, 1, 1, reshape->outputs[0]);
  tcc_node_t *add = node(g, TCC_OP_ADD, 1, 2, input(g, TCC_DTYPE_F32, "n, 3"), neg->outputs[0]);
  tcc_graph_add_output(g, add->outputs[0]);
  CHECK_OK(tcc_graph_infer(g));
  int folded = 0;
  CHECK_OK(tcc_fold_constants(g, NULL, &folded));
  CHECK(folded == 2);
  CHECK_STR(ty(neg->outputs[0]), "f32[2, 3]");
  CHECK_STR(ty(add->outputs[0]), "f32[2, 3]");
  tcc_module_destroy(m);
}

/* Overridable inputs, random ops, outputs over the size cap and nodes the evaluator rejects stay. */
TEST(leaves_what_must_not_fold) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *overridable = random_f32(g, 4);
  overridable->is_input = true;
  tcc_graph_add_output(g, node(g, TCC_OP_RELU, 1, 1, overridable)->outputs[0]);
  tcc_node_t *random = node(g, TCC_OP_RANDOM_UNIFORM_LIKE, 1, 1, random_f32(g, 4));
  tcc_graph_add_output(g, random->outputs[0]);
  tcc_node_t *big = node(g, TCC_OP_EXPAND, 1, 2, random_f32(g, 1), const_i64(g, 1, 2, (int64_t[]){1024, 1024}));
  tcc_graph_add_output(g, big->outputs[0]);
  tcc_node_t *bad = node(g, TCC_OP_GATHER, 1, 2, random_f32(g, 4), scalar(g, 9)); /* index out of range */
  tcc_graph_add_output(g, bad->outputs[0]);
  tcc_graph_add_output(g, node(g, TCC_OP_SIGMOID, 1, 1, random_f32(g, 2))->outputs[0]);
  CHECK_OK(tcc_graph_infer(g));
  tcc_constant_folding_options_t options = {.max_output_bytes = 1 << 20};
  int folded = -1;
  CHECK_OK(tcc_fold_constants(g, &options, &folded));
  CHECK(folded == 1);
  CHECK(g->num_nodes == 4);
  CHECK(big->outputs[0]->producer == big && bad->outputs[0]->producer == bad);
  options.max_output_bytes = 8 << 20;
  CHECK_OK(tcc_fold_constants(g, &options, &folded));
  CHECK(folded == 1 && big->outputs[0]->constant && big->outputs[0]->constant->numel == 1024 * 1024);
  tcc_module_destroy(m);
}

RUN_TESTS(T(folds_a_constant_chain), T(refolded_types_are_concrete), T(leaves_what_must_not_fold))
