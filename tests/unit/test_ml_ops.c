/* The ai.onnx.ml operators (ir/compute_ml.c, ir/host_ml.c, ir/infer_ml.c) and Scan-8 (ir/graph_eval.c),
 * through the graph evaluator: LabelEncoder's last-key-wins and NaN keys, typed defaults and key/input type
 * check; TreeEnsemble's set membership, missing-value tracking, degenerate one-leaf trees, every aggregate,
 * softmax/logistic post transforms and cycle detection; ArrayFeatureExtractor over a 1-D input, negative
 * indices, strings (host fallback) and symbolic shapes; Binarizer over integers and NaN; Scan-8's per-batch
 * sequence_lens with a reversed scan input and zero-padded scan outputs. */
#include <float.h>
#include <math.h>

#include "ir/graph_eval.h"
#include "ir/host_util.h"
#include "tests/graph_builder.h"
#include "tests/test.h"

/* ---- helpers -------------------------------------------------------------------------------------- */

static tcc_value_t *constant(tcc_graph_t *g, tcc_tensor_t *t) { return tcc_graph_add_constant(g, NULL, t); }

static void attr_tensor(tcc_node_t *n, const char *name, const tcc_tensor_t *t) {
  tcc_attr_t a = {.name = name, .kind = TCC_ATTR_TENSOR, .t = t};
  CHECK_OK(tcc_node_set_attr(n, &a));
}

/* Evaluates g (no inputs) into out[]; on failure returns the status message (and out is unset). */
static const char *eval(tcc_graph_t *g, tcc_module_t *results, const tcc_eval_value_t **out) {
  static char buf[512];
  tcc_status_t st = tcc_graph_infer(g);
  if (!st) st = tcc_graph_eval_values(g, NULL, results, out);
  if (!st) return NULL;
  snprintf(buf, sizeof buf, "%s", tcc_status_message(st));
  tcc_status_free(st);
  return buf;
}

#define EVAL_OK(g, r, out)                                           \
  do {                                                               \
    const char *err_ = eval(g, r, out);                              \
    if (err_) fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, err_); \
    CHECK(!err_);                                                    \
  } while (0)

static tcc_node_t *output_node(tcc_graph_t *g, tcc_node_t *n, const char *name) {
  n->name = name;
  for (int i = 0; i < n->num_outputs; i++) tcc_graph_add_output(g, n->outputs[i]);
  return n;
}

/* ---- LabelEncoder --------------------------------------------------------------------------------- */

TEST(label_encoder_keys_and_defaults) {
  tcc_module_t *m = new_module(), *r = new_module();
  const tcc_eval_value_t *out[1];
  /* float keys: a repeated key maps to its last value, NaN matches NaN; unmatched -> default_string */
  tcc_graph_t *g = m->graph;
  const float xf[4] = {1, NAN, 3, 2};
  tcc_node_t *n = output_node(g, node(g, TCC_OP_LABEL_ENCODER, 1, 1, constant(g, tensor_from(m, TCC_DTYPE_F32, 1, (int64_t[]){4}, xf))), "le");
  attr_floats(n, "keys_floats", 4, (double[]){1, NAN, 1, 2});
  attr_strings(n, "values_strings", 4, (const char *[]){"a", "nan", "c", "d"});
  EVAL_OK(g, r, out);
  CHECK_STR(value_text(out[0]), "[4] c|nan|_Unused|d");
  /* int64 keys, int16 values from a tensor and no default_tensor: -1 */
  tcc_module_t *m2 = new_module();
  g = m2->graph;
  n = output_node(g, node(g, TCC_OP_LABEL_ENCODER, 1, 1, const_i64(g, 1, 3, (int64_t[]){7, 8, 5})), "le");
  attr_ints(n, "keys_int64s", 2, (int64_t[]){5, 7});
  attr_tensor(n, "values_tensor", tensor_from(m2, TCC_DTYPE_I16, 1, (int64_t[]){2}, (int16_t[]){50, 70}));
  EVAL_OK(g, r, out);
  CHECK_STR(value_text(out[0]), "[3] 70 -1 50");
  CHECK(out[0]->tensor->dtype == TCC_DTYPE_I16);
  /* string keys from a tensor, float values: the default is -0.0 */
  tcc_module_t *m3 = new_module();
  g = m3->graph;
  tcc_value_t *x = constant(g, string_tensor(m3, 1, (int64_t[]){2}, (const char *[]){"b", "zz"}));
  n = output_node(g, node(g, TCC_OP_LABEL_ENCODER, 1, 1, x), "le");
  attr_tensor(n, "keys_tensor", string_tensor(m3, 1, (int64_t[]){2}, (const char *[]){"a", "b"}));
  attr_floats(n, "values_floats", 2, (double[]){0.5, 1.5});
  EVAL_OK(g, r, out);
  CHECK_STR(value_text(out[0]), "[2] 1.5 -0");
  CHECK(signbit(((const float *)out[0]->tensor->data)[1]));
  /* the input must have the keys' type */
  attr_tensor(n, "keys_tensor", tensor_from(m3, TCC_DTYPE_I64, 1, (int64_t[]){2}, (int64_t[]){1, 2}));
  CHECK_ERROR(n, "input X is string but the keys are i64");
  tcc_module_destroy(m3);
  tcc_module_destroy(m2);
  tcc_module_destroy(r);
  tcc_module_destroy(m);
}

/* ---- TreeEnsemble --------------------------------------------------------------------------------- */

/* Two trees over X [3, 2] = [[0.5, 3], [NaN, 7], [2, 9]]:
 *   tree 0: node 0 "x1 in {3, 9}" -> leaf 0 (target 0, 1) | node 1 "x0 < 1, NaN goes true" -> leaf 1 (target
 *   1, 2) | leaf 2 (target 1, 4); tree 1: node 2, a one-leaf tree -> leaf 3 (target 0, 10).
 * Leaves reached: row 0: 0 and 3, row 1: 1 and 3, row 2: 0 and 3. */
static tcc_node_t *forest(tcc_graph_t *g, int64_t aggregate, int64_t post) {
  tcc_module_t *m = g->module;
  const float xf[6] = {0.5f, 3, NAN, 7, 2, 9};
  tcc_node_t *n = output_node(g, node(g, TCC_OP_TREE_ENSEMBLE, 1, 1, constant(g, tensor_from(m, TCC_DTYPE_F32, 2, (int64_t[]){3, 2}, xf))), "trees");
  attr_ints(n, "nodes_featureids", 3, (int64_t[]){1, 0, 0});
  attr_tensor(n, "nodes_splits", tensor_from(m, TCC_DTYPE_F32, 1, (int64_t[]){3}, (float[]){NAN, 1, 0}));
  attr_tensor(n, "nodes_modes", tensor_from(m, TCC_DTYPE_U8, 1, (int64_t[]){3}, (uint8_t[]){6, 1, 0}));
  attr_ints(n, "nodes_truenodeids", 3, (int64_t[]){0, 1, 3});
  attr_ints(n, "nodes_falsenodeids", 3, (int64_t[]){1, 2, 3});
  attr_ints(n, "nodes_trueleafs", 3, (int64_t[]){1, 1, 1});
  attr_ints(n, "nodes_falseleafs", 3, (int64_t[]){0, 1, 1});
  attr_ints(n, "nodes_missing_value_tracks_true", 3, (int64_t[]){0, 1, 0});
  attr_tensor(n, "membership_values", tensor_from(m, TCC_DTYPE_F32, 1, (int64_t[]){3}, (float[]){3, 9, NAN}));
  attr_ints(n, "leaf_targetids", 4, (int64_t[]){0, 1, 1, 0});
  attr_tensor(n, "leaf_weights", tensor_from(m, TCC_DTYPE_F32, 1, (int64_t[]){4}, (float[]){1, 2, 4, 10}));
  attr_ints(n, "tree_roots", 2, (int64_t[]){0, 2});
  attr_int(n, "n_targets", 2);
  attr_int(n, "aggregate_function", aggregate);
  attr_int(n, "post_transform", post);
  return n;
}

TEST(tree_ensemble_walks_aggregates_and_transforms) {
  tcc_module_t *r = new_module();
  const tcc_eval_value_t *out[1];
  static const struct {
    int64_t aggregate, post;
    const char *want;
  } cases[] = {
      {1, 0, "[3, 2] 11 0 10 2 11 0"},      /* SUM */
      {0, 0, "[3, 2] 5.5 0 5 1 5.5 0"},     /* AVERAGE over the 2 trees */
      {2, 0, "[3, 2] 1 3.40282e+38 10 2 1 3.40282e+38"},   /* MIN: untouched targets stay at the f32 max */
      {3, 0, "[3, 2] 10 -3.40282e+38 10 2 10 -3.40282e+38"}, /* MAX */
      {1, 1, "[3, 2] 0.999983 1.67017e-05 0.999665 0.000335350 0.999983 1.67017e-05"}, /* SUM, SOFTMAX */
      {1, 2, "[3, 2] 0.999983 0.5 0.999955 0.880797 0.999983 0.5"},                  /* SUM, LOGISTIC */
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    tcc_module_t *m = new_module();
    forest(m->graph, cases[c].aggregate, cases[c].post);
    EVAL_OK(m->graph, r, out);
    if (cases[c].post == 1) { /* compare the softmax numerically: value_text() prints %g */
      const float *y = out[0]->tensor->data;
      double e8 = exp(-8.0), e11 = exp(-11.0);
      CHECK(fabs(y[0] - 1 / (1 + e11)) < 1e-6 && fabs(y[1] - e11 / (1 + e11)) < 1e-9);
      CHECK(fabs(y[2] - 1 / (1 + e8)) < 1e-6 && fabs(y[3] - e8 / (1 + e8)) < 1e-8);
    } else {
      CHECK_STR(value_text(out[0]), cases[c].want);
    }
    tcc_module_destroy(m);
  }
  /* without missing-value tracking row 1 goes false at node 1; node 1's false branch back to node 0 loops */
  tcc_module_t *m = new_module();
  tcc_node_t *n = forest(m->graph, 1, 0);
  attr_ints(n, "nodes_falseleafs", 3, (int64_t[]){0, 0, 1});
  attr_ints(n, "nodes_falsenodeids", 3, (int64_t[]){1, 0, 3});
  attr_ints(n, "nodes_missing_value_tracks_true", 3, (int64_t[]){0, 0, 0});
  const char *err = eval(m->graph, r, out);
  CHECK(err && strstr(err, "cycle") && strstr(err, "trees"));
  tcc_module_destroy(m);
  tcc_module_destroy(r);
}

/* ---- ArrayFeatureExtractor and Binarizer ---------------------------------------------------------- */

TEST(array_feature_extractor_and_binarizer) {
  tcc_module_t *m = new_module(), *r = new_module();
  tcc_graph_t *g = m->graph;
  const tcc_eval_value_t *out[4];
  /* 1-D X reads as [1, C]; Y of any shape is flattened; negative indices count from the end */
  tcc_value_t *x = constant(g, tensor_from(m, TCC_DTYPE_F32, 1, (int64_t[]){4}, (float[]){10, 20, 30, 40}));
  output_node(g, node(g, TCC_OP_ARRAY_FEATURE_EXTRACTOR, 1, 2, x, const_i64(g, 1, 2, (int64_t[]){3, -4})), "afe");
  /* strings go to the host operator */
  tcc_value_t *s = constant(g, string_tensor(m, 2, (int64_t[]){2, 3}, (const char *[]){"a", "b", "c", "d", "e", "f"}));
  output_node(g, node(g, TCC_OP_ARRAY_FEATURE_EXTRACTOR, 1, 2, s, const_i64(g, 1, 2, (int64_t[]){2, 0})), "afe_s");
  tcc_value_t *xi = constant(g, tensor_from(m, TCC_DTYPE_I32, 1, (int64_t[]){4}, (int32_t[]){-1, 0, 1, 2}));
  tcc_node_t *bin = output_node(g, node(g, TCC_OP_BINARIZER, 1, 1, xi), "bin");
  attr_float(bin, "threshold", 0.5);
  tcc_value_t *xn = constant(g, tensor_from(m, TCC_DTYPE_F32, 1, (int64_t[]){3}, (float[]){NAN, -2, 0.5f}));
  output_node(g, node(g, TCC_OP_BINARIZER, 1, 1, xn), "bin_f");
  EVAL_OK(g, r, out);
  CHECK_STR(value_text(out[0]), "[1, 2] 40 10");
  CHECK_STR(value_text(out[1]), "[2, 2] c|a|f|d");
  CHECK_STR(value_text(out[2]), "[4] 0 0 1 1");
  CHECK(out[2]->tensor->dtype == TCC_DTYPE_I32);
  CHECK_STR(value_text(out[3]), "[3] 0 0 1");
  /* symbolic shapes: [batch, 5] with indices [1, k] -> [batch, k] */
  tcc_node_t *n = node(g, TCC_OP_ARRAY_FEATURE_EXTRACTOR, 1, 2, input(g, TCC_DTYPE_F64, "batch, 5"), input(g, TCC_DTYPE_I64, "1, k"));
  CHECK_STR(infer(n), "f64[batch, k]");
  build_kernel(n);
  build_kernel(node(g, TCC_OP_BINARIZER, 1, 1, input(g, TCC_DTYPE_F16, "n, 3")));
  build_kernel(node(g, TCC_OP_BINARIZER, 1, 1, input(g, TCC_DTYPE_I64, "n")));
  tcc_module_destroy(r);
  tcc_module_destroy(m);
}

/* ---- Scan-8 --------------------------------------------------------------------------------------- */

/* A running sum over x [2, 3, 2] read in reverse, batch entry 1 only for its first step. */
TEST(scan8_sequence_lens_and_directions) {
  tcc_module_t *m = new_module(), *r = new_module();
  tcc_graph_t *g = m->graph, *body = tcc_graph_create(m, g, "body");
  const tcc_dim_t *two = tcc_dim_const(m, 2);
  tcc_value_t *s = tcc_graph_add_input(body, "s"), *xt = tcc_graph_add_input(body, "xt");
  CHECK_OK(tcc_value_set_tensor(s, TCC_DTYPE_F32, 1, &two));
  CHECK_OK(tcc_value_set_tensor(xt, TCC_DTYPE_F32, 1, &two));
  tcc_node_t *sum = node(body, TCC_OP_ADD, 1, 2, s, xt);
  tcc_graph_add_output(body, sum->outputs[0]);
  tcc_graph_add_output(body, sum->outputs[0]);
  const float xf[12] = {1, 2, 10, 20, 100, 200, 3, 4, 30, 40, 300, 400};
  tcc_value_t *x = constant(g, tensor_from(m, TCC_DTYPE_F32, 3, (int64_t[]){2, 3, 2}, xf));
  tcc_value_t *init = constant(g, tensor_from(m, TCC_DTYPE_F32, 2, (int64_t[]){2, 2}, (float[]){0, 0, 0, 0}));
  tcc_node_t *scan = output_node(g, node(g, TCC_OP_SCAN, 2, 3, const_i64(g, 1, 2, (int64_t[]){3, 1}), init, x), "scan8");
  scan->opset = 8;
  attr_graph(scan, "body", body);
  attr_int(scan, "num_scan_inputs", 1);
  attr_ints(scan, "directions", 1, (int64_t[]){1});
  const tcc_eval_value_t *out[2];
  EVAL_OK(g, r, out);
  CHECK_STR(ty(scan->outputs[0]), "f32[2, 2]");
  CHECK_STR(ty(scan->outputs[1]), "f32[2, 3, 2]");
  CHECK_STR(value_text(out[0]), "[2, 2] 111 222 3 4");
  CHECK_STR(value_text(out[1]), "[2, 3, 2] 100 200 110 220 111 222 3 4 0 0 0 0");
  /* without sequence_lens every entry runs all 3 steps */
  scan->inputs[0] = NULL;
  EVAL_OK(g, r, out);
  CHECK_STR(value_text(out[0]), "[2, 2] 111 222 333 444");
  /* a length beyond the sequence is an error naming the node */
  scan->inputs[0] = const_i64(g, 1, 2, (int64_t[]){3, 4});
  const char *err = eval(g, r, out);
  CHECK(err && strstr(err, "scan8") && strstr(err, "sequence_lens[1] = 4"));
  tcc_module_destroy(r);
  tcc_module_destroy(m);
}

RUN_TESTS(T(label_encoder_keys_and_defaults), T(tree_ensemble_walks_aggregates_and_transforms),
          T(array_feature_extractor_and_binarizer), T(scan8_sequence_lens_and_directions))
