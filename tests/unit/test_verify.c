/* The IR verifier accepts well-formed graphs and names the first broken invariant of others. */
#include "ir/verify.h"
#include "tests/graph_builder.h"
#include "tests/test.h"

static tcc_module_t *relu_chain(tcc_node_t **first, tcc_node_t **second) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = tcc_graph_add_input(g, "x"), *y = tcc_graph_add_value(g, "y"), *z = tcc_graph_add_value(g, "z");
  const tcc_dim_t *dims[] = {tcc_dim_symbol(m, "n")};
  tcc_status_free(tcc_value_set_tensor(x, TCC_DTYPE_F32, 1, dims));
  *first = tcc_graph_add_node(g, TCC_OP_RELU, "r0", 1, 1);
  (*first)->inputs[0] = x;
  tcc_node_set_output(*first, 0, y);
  *second = tcc_graph_add_node(g, TCC_OP_RELU, "r1", 1, 1);
  (*second)->inputs[0] = y;
  tcc_node_set_output(*second, 0, z);
  tcc_graph_add_output(g, z);
  return m;
}

static bool fails_with(tcc_status_t st, const char *text) {
  bool ok = st && tcc_status_code(st) == TCC_INTERNAL && strstr(tcc_status_message(st), text);
  if (!ok) fprintf(stderr, "got: %s\n", st ? tcc_status_message(st) : "OK");
  tcc_status_free(st);
  return ok;
}

TEST(well_formed_graph_passes) {
  tcc_node_t *a, *b;
  tcc_module_t *m = relu_chain(&a, &b);
  CHECK_OK(tcc_module_verify(m));
  tcc_module_destroy(m);
}

TEST(use_before_definition) {
  tcc_node_t *a, *b;
  tcc_module_t *m = relu_chain(&a, &b);
  m->graph->nodes[0] = b; /* swapped: r1 now reads y before r0 defines it */
  m->graph->nodes[1] = a;
  CHECK(fails_with(tcc_module_verify(m), "not defined before it: r1"));
  tcc_module_destroy(m);
}

TEST(broken_producer_link) {
  tcc_node_t *a, *b;
  tcc_module_t *m = relu_chain(&a, &b);
  b->outputs[0]->producer = a;
  CHECK(fails_with(tcc_module_verify(m), "producer link is wrong: z"));
  tcc_module_destroy(m);
}

TEST(value_defined_twice) {
  tcc_node_t *a, *b;
  tcc_module_t *m = relu_chain(&a, &b);
  tcc_node_set_output(b, 0, m->graph->inputs[0]); /* r1 now also defines the graph input x */
  CHECK(fails_with(tcc_module_verify(m), "defined twice: x"));
  tcc_module_destroy(m);
}

TEST(undefined_graph_output_and_bad_types) {
  tcc_node_t *a, *b;
  tcc_module_t *m = relu_chain(&a, &b);
  tcc_value_t *ghost = tcc_graph_add_value(m->graph, "ghost");
  tcc_graph_add_output(m->graph, ghost);
  CHECK(fails_with(tcc_module_verify(m), "graph output is not defined: ghost"));
  m->graph->num_outputs--;
  ghost->type.kind = TCC_TYPE_SEQUENCE;
  CHECK(fails_with(tcc_module_verify(m), "container type without element: ghost"));
  tcc_module_destroy(m);
}

TEST(unsupported_node_needs_a_reason) {
  tcc_node_t *a, *b;
  tcc_module_t *m = relu_chain(&a, &b);
  a->op = TCC_OP_UNSUPPORTED;
  CHECK(fails_with(tcc_module_verify(m), "without a reason: r0"));
  tcc_module_destroy(m);
}

RUN_TESTS(T(well_formed_graph_passes), T(use_before_definition), T(broken_producer_link), T(value_defined_twice),
          T(undefined_graph_output_and_bad_types), T(unsupported_node_needs_a_reason))
