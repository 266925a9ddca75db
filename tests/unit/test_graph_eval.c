/* The graph evaluator's own operations (ir/graph_eval.c): Loop's trip count / condition / scan outputs
 * (and a cond-less Loop ignoring the body's condition), Scan with reversed input and output directions and
 * a non-zero output axis, sequence ops with negative positions, uneven SplitToSequence and stacking
 * ConcatFromSequence, optionals, If over sequences, and the kind check of graph inputs. */
#include <stdlib.h>

#include "ir/graph_eval.h"
#include "tests/graph_builder.h"
#include "tests/test.h"

/* ---- helpers -------------------------------------------------------------------------------------- */

static tcc_value_t *const_bool(tcc_graph_t *g, bool b) {
  tcc_tensor_t *t = tcc_tensor_create(g->module, TCC_DTYPE_BOOL, 0, NULL);
  *(uint8_t *)t->data = b;
  return tcc_graph_add_constant(g, NULL, t);
}

static tcc_value_t *const_f32_2d(tcc_graph_t *g, int64_t rows, int64_t cols, const float *values) {
  tcc_tensor_t *t = tcc_tensor_create(g->module, TCC_DTYPE_F32, 2, (int64_t[]){rows, cols});
  memcpy((void *)t->data, values, t->nbytes);
  return tcc_graph_add_constant(g, NULL, t);
}

/* A named body input: a scalar (size < 0) or a 1-D tensor of size elements. */
static tcc_value_t *body_input(tcc_graph_t *body, const char *name, tcc_dtype_t dtype, int64_t size) {
  tcc_value_t *v = tcc_graph_add_input(body, name);
  const tcc_dim_t *d = tcc_dim_const(body->module, size < 0 ? 1 : size);
  CHECK_OK(tcc_value_set_tensor(v, dtype, size < 0 ? 0 : 1, &d));
  return v;
}

/* Evaluates g (no inputs) into out[]; false on failure (reported). */
static bool run(tcc_graph_t *g, tcc_module_t *results, const tcc_eval_value_t **out) {
  CHECK_OK(tcc_graph_infer(g));
  tcc_status_t st = tcc_graph_eval_values(g, NULL, results, out);
  if (st) {
    fprintf(stderr, "evaluating: %s\n", tcc_status_message(st));
    tcc_status_free(st);
    test_current_failed_ = 1;
    return false;
  }
  return true;
}

/* ---- control flow --------------------------------------------------------------------------------- */

/* Loop(M = 5, cond = true, x = [1, 2]): the body doubles x, emits it as a scan output and continues while
 * iter < 2, so three iterations run (the condition is checked before each). */
TEST(loop_stops_on_condition_and_stacks_scan_outputs) {
  tcc_module_t *m = new_module(), *r = new_module();
  tcc_graph_t *g = m->graph;
  tcc_graph_t *body = tcc_graph_create(m, g, "body");
  tcc_value_t *iter = body_input(body, "iter", TCC_DTYPE_I64, -1);
  body_input(body, "cond_in", TCC_DTYPE_BOOL, -1);
  tcc_value_t *x = body_input(body, "x_in", TCC_DTYPE_F32, 2);
  tcc_node_t *more = node(body, TCC_OP_LESS, 1, 2, iter, scalar(body, 2));
  tcc_node_t *twice = node(body, TCC_OP_ADD, 1, 2, x, x);
  tcc_graph_add_output(body, more->outputs[0]);
  tcc_graph_add_output(body, twice->outputs[0]);
  tcc_graph_add_output(body, twice->outputs[0]);
  tcc_node_t *loop = node(g, TCC_OP_LOOP, 2, 3, scalar(g, 5), const_bool(g, true), const_f32(g, 2, (float[]){1, 2}));
  loop->name = "loop";
  attr_graph(loop, "body", body);
  tcc_graph_add_output(g, loop->outputs[0]);
  tcc_graph_add_output(g, loop->outputs[1]);
  const tcc_eval_value_t *out[2];
  if (run(g, r, out)) {
    CHECK_STR(value_text(out[0]), "[2] 8 16");
    CHECK_STR(value_text(out[1]), "[3, 2] 2 4 4 8 8 16");
  }
  /* without a cond input the body's condition is ignored: M = 5 iterations */
  loop->inputs[1] = NULL;
  if (run(g, r, out)) {
    CHECK_STR(value_text(out[0]), "[2] 32 64");
    CHECK_STR(value_text(out[1]), "[5, 2] 2 4 4 8 8 16 16 32 32 64");
  }
  /* M = 0: the initial values, an empty scan output */
  loop->inputs[0] = scalar(g, 0);
  if (run(g, r, out)) {
    CHECK_STR(value_text(out[0]), "[2] 1 2");
    CHECK_STR(value_text(out[1]), "[0, 2]");
  }
  /* fuzz: M = 2^40 iterations is past the evaluator's step limit, a status rather than a hang */
  loop->inputs[0] = scalar(g, (int64_t)1 << 40);
  CHECK_OK(tcc_graph_infer(g));
  tcc_status_t st = tcc_graph_eval_values(g, NULL, r, out);
  CHECK(st && strstr(tcc_status_message(st), "node 'loop' (loop)") &&
        strstr(tcc_status_message(st), "exceeds its limit of 262144 steps"));
  tcc_status_free(st);
  tcc_module_destroy(r);
  tcc_module_destroy(m);
}

/* Scan over x[3, 2] read in reverse, a running sum as state; the scan output is written in reverse along
 * axis 1, so out[:, k] is the sum after the iteration that ran (len - 1 - k)-th. */
TEST(scan_directions_and_axes) {
  tcc_module_t *m = new_module(), *r = new_module();
  tcc_graph_t *g = m->graph, *body = tcc_graph_create(m, g, "body");
  tcc_value_t *s = body_input(body, "s", TCC_DTYPE_F32, 2), *xt = body_input(body, "xt", TCC_DTYPE_F32, 2);
  tcc_node_t *sum = node(body, TCC_OP_ADD, 1, 2, s, xt);
  tcc_graph_add_output(body, sum->outputs[0]);
  tcc_graph_add_output(body, sum->outputs[0]);
  tcc_value_t *x = const_f32_2d(g, 3, 2, (float[]){1, 2, 10, 20, 100, 200});
  tcc_node_t *scan = node(g, TCC_OP_SCAN, 2, 2, const_f32(g, 2, (float[]){0, 0}), x);
  scan->name = "scan";
  scan->opset = 16;
  attr_graph(scan, "body", body);
  attr_int(scan, "num_scan_inputs", 1);
  attr_ints(scan, "scan_input_directions", 1, (int64_t[]){1});
  attr_ints(scan, "scan_output_axes", 1, (int64_t[]){-1});
  attr_ints(scan, "scan_output_directions", 1, (int64_t[]){1});
  tcc_graph_add_output(g, scan->outputs[0]);
  tcc_graph_add_output(g, scan->outputs[1]);
  const tcc_eval_value_t *out[2];
  if (run(g, r, out)) {
    CHECK_STR(value_text(out[0]), "[2] 111 222");
    /* iterations see rows 2, 1, 0: sums 100, 110, 111 (and doubled); reversed: 111 110 100 */
    CHECK_STR(value_text(out[1]), "[2, 3] 111 110 100 222 220 200");
  }
  tcc_module_destroy(r);
  tcc_module_destroy(m);
}

/* If picks a branch by its condition; branches read outer values and may yield sequences. */
TEST(if_yields_sequences) {
  tcc_module_t *m = new_module(), *r = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *a = const_f32(g, 1, (float[]){7}), *b = const_f32(g, 2, (float[]){8, 9});
  tcc_graph_t *then_g = tcc_graph_create(m, g, "then"), *else_g = tcc_graph_create(m, g, "else");
  tcc_graph_add_output(then_g, node(then_g, TCC_OP_SEQUENCE_CONSTRUCT, 1, 2, a, b)->outputs[0]);
  tcc_graph_add_output(else_g, node(else_g, TCC_OP_SEQUENCE_CONSTRUCT, 1, 1, b)->outputs[0]);
  tcc_value_t *cond = const_bool(g, false);
  tcc_node_t *n = node(g, TCC_OP_IF, 1, 1, cond);
  attr_graph(n, "then_branch", then_g);
  attr_graph(n, "else_branch", else_g);
  tcc_graph_add_output(g, n->outputs[0]);
  const tcc_eval_value_t *out[1];
  if (run(g, r, out)) {
    CHECK(out[0]->kind == TCC_TYPE_SEQUENCE && out[0]->count == 1);
    if (out[0]->count == 1) CHECK_STR(value_text(out[0]->items[0]), "[2] 8 9");
  }
  *(uint8_t *)cond->constant->data = 1;
  if (run(g, r, out)) CHECK(out[0]->kind == TCC_TYPE_SEQUENCE && out[0]->count == 2);
  tcc_module_destroy(r);
  tcc_module_destroy(m);
}

/* ---- sequences and optionals ---------------------------------------------------------------------- */

/* SplitToSequence by a scalar 2 over 5 rows: pieces 2, 2, 1; insert at -1 (before the last), erase at -3,
 * then stack (new_axis) the first two and take the length. */
TEST(sequence_ops_positions_and_pieces) {
  tcc_module_t *m = new_module(), *r = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = const_f32(g, 5, (float[]){0, 1, 2, 3, 4});
  tcc_node_t *split = node(g, TCC_OP_SPLIT_TO_SEQUENCE, 1, 2, x, scalar(g, 2));
  tcc_node_t *ins = node(g, TCC_OP_SEQUENCE_INSERT, 1, 3, split->outputs[0], const_f32(g, 2, (float[]){9, 9}), scalar(g, -1));
  tcc_node_t *erase = node(g, TCC_OP_SEQUENCE_ERASE, 1, 2, ins->outputs[0], scalar(g, -3)); /* [0 1] [9 9] [4] */
  tcc_node_t *len = node(g, TCC_OP_SEQUENCE_LENGTH, 1, 1, erase->outputs[0]);
  tcc_node_t *last = node(g, TCC_OP_SEQUENCE_AT, 1, 2, erase->outputs[0], scalar(g, -1));
  tcc_node_t *two = node(g, TCC_OP_SEQUENCE_ERASE, 1, 1, erase->outputs[0]); /* drops the last */
  tcc_node_t *stack = node(g, TCC_OP_CONCAT_FROM_SEQUENCE, 1, 1, two->outputs[0]);
  attr_int(stack, "axis", -1);
  attr_int(stack, "new_axis", 1);
  tcc_node_t *nokeep = node(g, TCC_OP_SPLIT_TO_SEQUENCE, 1, 1, const_f32_2d(g, 2, 2, (float[]){1, 2, 3, 4}));
  attr_int(nokeep, "axis", 1);
  attr_int(nokeep, "keepdims", 0);
  tcc_node_t *cat = node(g, TCC_OP_CONCAT_FROM_SEQUENCE, 1, 1, nokeep->outputs[0]);
  attr_int(cat, "axis", 0);
  tcc_value_t *outs[] = {len->outputs[0], last->outputs[0], stack->outputs[0], cat->outputs[0]};
  for (int i = 0; i < 4; i++) tcc_graph_add_output(g, outs[i]);
  const tcc_eval_value_t *out[4];
  if (run(g, r, out)) {
    CHECK_STR(value_text(out[0]), "[] 3");
    CHECK_STR(value_text(out[1]), "[1] 4");
    CHECK_STR(value_text(out[2]), "[2, 2] 0 9 1 9");
    CHECK_STR(value_text(out[3]), "[4] 1 3 2 4"); /* columns [1, 3] and [2, 4], concatenated */
  }
  /* a position past the end is an error naming the node */
  tcc_node_t *bad = node(g, TCC_OP_SEQUENCE_AT, 1, 2, erase->outputs[0], scalar(g, 3));
  bad->name = "bad_at";
  tcc_graph_add_output(g, bad->outputs[0]);
  const tcc_eval_value_t *out5[5];
  tcc_status_t st = tcc_graph_eval_values(g, NULL, r, out5);
  CHECK(st && tcc_status_code(st) == TCC_INVALID_ARGUMENT && strstr(tcc_status_message(st), "bad_at") &&
        strstr(tcc_status_message(st), "position 3 is out of range"));
  tcc_status_free(st);
  tcc_module_destroy(r);
  tcc_module_destroy(m);
}

/* Optional inputs: an empty optional, one given a tensor (wrapped), HasElement and GetElement; a tensor
 * where a sequence is declared is refused. */
TEST(optional_inputs_and_kinds) {
  tcc_module_t *m = new_module(), *r = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *o = tcc_graph_add_input(g, "o");
  tcc_type_t elem = {TCC_TYPE_TENSOR, TCC_DTYPE_F32, -1, NULL, NULL};
  tcc_type_t opt = {TCC_TYPE_OPTIONAL, TCC_DTYPE_UNDEFINED, -1, NULL, &elem};
  CHECK_OK(tcc_value_set_type(o, &opt));
  tcc_node_t *has = node(g, TCC_OP_OPTIONAL_HAS_ELEMENT, 1, 1, o);
  tcc_node_t *none = node(g, TCC_OP_OPTIONAL_HAS_ELEMENT, 1, 1, NULL);
  tcc_graph_add_output(g, has->outputs[0]);
  tcc_graph_add_output(g, none->outputs[0]);
  CHECK_OK(tcc_graph_infer(g));
  const tcc_eval_value_t *out[2], *in[1] = {tcc_eval_value_optional(r, NULL)};
  CHECK_OK(tcc_graph_eval_values(g, in, r, out));
  CHECK_STR(value_text(out[0]), "[] 0");
  CHECK_STR(value_text(out[1]), "[] 0");
  tcc_tensor_t *t = tcc_tensor_create(r, TCC_DTYPE_F32, 1, (int64_t[]){1});
  in[0] = tcc_eval_value_tensor(r, t);
  CHECK_OK(tcc_graph_eval_values(g, in, r, out));
  CHECK_STR(value_text(out[0]), "[] 1");

  tcc_value_t *s = tcc_graph_add_input(g, "s");
  tcc_type_t seq = {TCC_TYPE_SEQUENCE, TCC_DTYPE_UNDEFINED, -1, NULL, &elem};
  CHECK_OK(tcc_value_set_type(s, &seq));
  const tcc_eval_value_t *in2[2] = {in[0], in[0]};
  tcc_status_t st = tcc_graph_eval_values(g, in2, r, out);
  CHECK(st && strstr(tcc_status_message(st), "input 's': expected a sequence, got a tensor"));
  tcc_status_free(st);
  tcc_module_destroy(r);
  tcc_module_destroy(m);
}

RUN_TESTS(T(loop_stops_on_condition_and_stacks_scan_outputs), T(scan_directions_and_axes), T(if_yields_sequences),
          T(sequence_ops_positions_and_pieces), T(optional_inputs_and_kinds))
