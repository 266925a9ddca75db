/* Host operators (ir/host_data.c, ir/host_string.c): the semantics most easily got wrong — TopK's tie order
 * and unsigned order, Unique's unsorted order and four outputs, NonMaxSuppression's thresholds and box
 * formats, numpy-style number <-> string casts, Python-style StringSplit, RE2 -> POSIX regex translation
 * (and unsupported constructs as TCC_UNSUPPORTED), TfIdfVectorizer's skip-grams, and the evaluator's
 * fallback from a missing compute definition to the host function. */
#include <math.h>
#include <stdlib.h>

#include "ir/graph_eval.h"
#include "ir/host_util.h"
#include "tests/graph_builder.h"
#include "tests/test.h"

#define INTS(...) (int64_t)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

/* Runs node n's host function over the given input tensors (NULL = omitted) into out. */
static tcc_status_t run(tcc_node_t *n, const tcc_tensor_t *const *in, tcc_tensor_t **out) {
  tcc_host_fn_t fn = tcc_host_op_find(n->op);
  CHECK(fn != NULL);
  if (!n->name) n->name = tcc_op_name(n->op);
  return fn ? fn(n, in, n->graph->module, out) : NULL;
}

/* Elements of an int64 (or bool) tensor as "d0xd1: v v v". */
static const char *ints_text(const tcc_tensor_t *t) {
  static char buf[4][512];
  static int k;
  char *b = buf[k++ % 4];
  size_t len = 0;
  for (int i = 0; i < t->rank; i++) len += (size_t)snprintf(b + len, 512 - len, "%s%lld", i ? "x" : "", (long long)t->dims[i]);
  len += (size_t)snprintf(b + len, 512 - len, ":");
  for (int64_t i = 0; i < t->numel && len < 480; i++)
    len += (size_t)snprintf(b + len, 512 - len, " %lld", (long long)tcc_tensor_get_int(t, i));
  return b;
}

/* Elements of a string tensor joined by '|'. */
static const char *strs_text(const tcc_tensor_t *t) {
  static char buf[4][512];
  static int k;
  char *b = buf[k++ % 4];
  size_t len = 0;
  b[0] = 0;
  for (int64_t i = 0; i < t->numel && len < 480; i++) {
    tcc_bytes_t s = tcc_host_str(t, i);
    len += (size_t)snprintf(b + len, 512 - len, "%s%.*s", i ? "|" : "", (int)s.size, s.data);
  }
  return b;
}

TEST(top_k_ties_order_and_unsigned) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  int64_t d[2] = {2, 4};
  const float xf[8] = {1, 3, 3, 2, 5, 5, 5, 5};
  const tcc_tensor_t *in[2] = {tensor_from(m, TCC_DTYPE_F32, 2, d, xf), tcc_tensor_create_i64(m, 1, (int64_t[]){1}, (int64_t[]){3})};
  tcc_node_t *n = node(g, TCC_OP_TOP_K, 2, 2, NULL, NULL);
  tcc_tensor_t *out[2] = {0};
  CHECK_OK(run(n, in, out));
  CHECK_STR(ints_text(out[1]), "2x3: 1 2 3 0 1 2"); /* equal values: lower index first */
  attr_int(n, "largest", 0);
  CHECK_OK(run(n, in, out));
  CHECK_STR(ints_text(out[1]), "2x3: 0 3 1 0 1 2");
  CHECK(((const float *)out[0]->data)[1] == 2);
  /* u64 above INT64_MAX sorts as unsigned; axis 0 of a 1-D tensor */
  const uint64_t xu[3] = {1, UINT64_MAX, (uint64_t)1 << 63};
  int64_t three = 3;
  in[0] = tensor_from(m, TCC_DTYPE_U64, 1, &three, xu);
  tcc_node_t *u = node(g, TCC_OP_TOP_K, 2, 2, NULL, NULL);
  attr_int(u, "axis", 0);
  CHECK_OK(run(u, in, out));
  CHECK_STR(ints_text(out[1]), "3: 1 2 0");
  in[1] = tcc_tensor_create_i64(m, 1, (int64_t[]){1}, (int64_t[]){4});
  tcc_status_t st = run(u, in, out);
  CHECK(st && tcc_status_code(st) == TCC_INVALID_ARGUMENT && strstr(tcc_status_message(st), "K = 4"));
  tcc_status_free(st);
  tcc_module_destroy(m);
}

TEST(unique_unsorted_axis_and_all_outputs) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  int64_t d[2] = {3, 2};
  const int64_t x[6] = {5, 1, 2, 0, 5, 1};
  const tcc_tensor_t *in[1] = {tensor_from(m, TCC_DTYPE_I64, 2, d, x)};
  tcc_node_t *n = node(g, TCC_OP_UNIQUE, 4, 1, NULL);
  attr_int(n, "sorted", 0), attr_int(n, "axis", 0);
  tcc_tensor_t *out[4] = {0};
  CHECK_OK(run(n, in, out));
  CHECK_STR(ints_text(out[0]), "2x2: 5 1 2 0");
  CHECK_STR(ints_text(out[1]), "2: 0 1");
  CHECK_STR(ints_text(out[2]), "3: 0 1 0");
  CHECK_STR(ints_text(out[3]), "2: 2 1");
  tcc_node_t *s = node(g, TCC_OP_UNIQUE, 4, 1, NULL); /* flattened, sorted */
  CHECK_OK(run(s, in, out));
  CHECK_STR(ints_text(out[0]), "4: 0 1 2 5");
  CHECK_STR(ints_text(out[1]), "4: 3 1 2 0"); /* first occurrences */
  CHECK_STR(ints_text(out[2]), "6: 3 1 2 0 3 1");
  CHECK_STR(ints_text(out[3]), "4: 1 2 1 2");
  tcc_module_destroy(m);
}

TEST(non_max_suppression_thresholds_and_formats) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  /* boxes 0 and 1 overlap with IoU 0.81 (corners given flipped for box 1); box 2 is apart */
  const float corners[12] = {0, 0, 1, 1, 1, 1, 0.1f, 0.1f, 0, 2, 1, 3};
  const float centers[12] = {0.5f, 0.5f, 1, 1, 0.55f, 0.55f, 0.9f, 0.9f, 2.5f, 0.5f, 1, 1};
  const float sc[6] = {0.9f, 0.95f, 0.3f, 0.1f, 0.2f, 0.6f};
  int64_t bd[3] = {1, 3, 4}, sd[3] = {1, 2, 3}, one = 1;
  float iou = 0.5f, score = 0.25f;
  const tcc_tensor_t *in[5] = {tensor_from(m, TCC_DTYPE_F32, 3, bd, corners), tensor_from(m, TCC_DTYPE_F32, 3, sd, sc),
                               tcc_tensor_create_i64(m, 1, &one, (int64_t[]){2}), tensor_from(m, TCC_DTYPE_F32, 1, &one, &iou),
                               tensor_from(m, TCC_DTYPE_F32, 1, &one, &score)};
  tcc_node_t *n = node(g, TCC_OP_NON_MAX_SUPPRESSION, 1, 5, NULL, NULL, NULL, NULL, NULL);
  tcc_tensor_t *out[1] = {0};
  CHECK_OK(run(n, in, out));
  CHECK_STR(ints_text(out[0]), "3x3: 0 0 1 0 0 2 0 1 2"); /* box 0 suppressed; class 1 keeps only 0.6 */
  in[0] = tensor_from(m, TCC_DTYPE_F32, 3, bd, centers);
  attr_int(n, "center_point_box", 1);
  CHECK_OK(run(n, in, out));
  CHECK_STR(ints_text(out[0]), "3x3: 0 0 1 0 0 2 0 1 2");
  in[4] = NULL; /* no score threshold: class 1 keeps two boxes */
  CHECK_OK(run(n, in, out));
  CHECK_STR(ints_text(out[0]), "4x3: 0 0 1 0 0 2 0 1 2 0 1 1");
  in[2] = NULL; /* max_output_boxes_per_class absent: nothing selected */
  CHECK_OK(run(n, in, out));
  CHECK_STR(ints_text(out[0]), "0x3:");
  tcc_module_destroy(m);
}

TEST(cast_numbers_to_and_from_strings) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  const float f[10] = {0.1f, 1e-5f, 100.0f, 1e16f, -0.0f, NAN, -INFINITY, 3.4028235e38f, 0.0001f, 123456.7f};
  int64_t ten = 10;
  const tcc_tensor_t *in[1] = {tensor_from(m, TCC_DTYPE_F32, 1, &ten, f)};
  tcc_node_t *n = node(g, TCC_OP_CAST, 1, 1, NULL);
  attr_int(n, "to", TCC_DTYPE_STRING);
  tcc_tensor_t *out[1] = {0};
  CHECK_OK(run(n, in, out)); /* f32 0.0001 is below 1e-4, so scientific (numpy compares the value) */
  CHECK_STR(strs_text(out[0]), "0.1|1e-05|100.0|1e+16|-0.0|nan|-inf|3.4028235e+38|1e-04|123456.7");
  const uint16_t h[3] = {0x2e66 /* f16 0.1 */, 0x3c00, 0x7bff};
  int64_t three = 3;
  in[0] = tensor_from(m, TCC_DTYPE_F16, 1, &three, h);
  CHECK_OK(run(n, in, out));
  CHECK_STR(strs_text(out[0]), "0.1|1.0|65500.0");
  const double dv[2] = {0.1, 1e22};
  int64_t two = 2;
  in[0] = tensor_from(m, TCC_DTYPE_F64, 1, &two, dv);
  CHECK_OK(run(n, in, out));
  CHECK_STR(strs_text(out[0]), "0.1|1e+22");
  /* strings -> float and int */
  const char *text[6] = {"NaN", "+INF", "-inf", "1E8", " 2.5 ", "-7"};
  int64_t six = 6;
  in[0] = string_tensor(m, 1, &six, text);
  tcc_node_t *c = node(g, TCC_OP_CAST, 1, 1, NULL);
  attr_int(c, "to", TCC_DTYPE_F32);
  CHECK_OK(run(c, in, out));
  const float *y = out[0]->data;
  CHECK(isnan(y[0]) && y[1] == INFINITY && y[2] == -INFINITY && y[3] == 1e8f && y[4] == 2.5f && y[5] == -7);
  tcc_node_t *ci = node(g, TCC_OP_CAST, 1, 1, NULL);
  attr_int(ci, "to", TCC_DTYPE_I8);
  const char *nums[3] = {"100.5", "-3", "300"};
  in[0] = string_tensor(m, 1, &three, nums);
  CHECK_OK(run(ci, in, out));
  CHECK_STR(ints_text(out[0]), "3: 100 -3 44"); /* truncated; out of range wraps like an i64 -> i8 cast */
  const char *bad[1] = {"hello"};
  in[0] = string_tensor(m, 1, (int64_t[]){1}, bad);
  tcc_status_t st = run(c, in, out);
  CHECK(st && strstr(tcc_status_message(st), "'hello' is not a number"));
  tcc_status_free(st);
  tcc_module_destroy(m);
}

TEST(string_split_normalize_and_concat) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  const char *text[3] = {"  a  b c ", "x--y-", ""};
  int64_t three = 3;
  const tcc_tensor_t *in[2] = {string_tensor(m, 1, &three, text), NULL};
  tcc_node_t *n = node(g, TCC_OP_STRING_SPLIT, 2, 1, NULL);
  attr_int(n, "maxsplit", 1);
  tcc_tensor_t *out[2] = {0};
  CHECK_OK(run(n, in, out));
  CHECK_STR(strs_text(out[0]), "a|b c |x--y-|||"); /* Python's str.split(None, 1) */
  CHECK_STR(ints_text(out[1]), "3: 2 1 0");
  tcc_node_t *d = node(g, TCC_OP_STRING_SPLIT, 2, 1, NULL);
  attr_string(d, "delimiter", "-");
  CHECK_OK(run(d, in, out));
  CHECK_STR(strs_text(out[0]), "  a  b c ||||x||y|||||"); /* [3, 4]: empty pieces kept */
  CHECK_STR(ints_text(out[1]), "3: 1 4 1");
  /* StringNormalizer: case-insensitive stopwords, upper-casing beyond ASCII */
  const char *words[4] = {"Monday", "na\xc3\xafve", "\xc3\xa9t\xc3\xa9", "monDAY"};
  int64_t four = 4;
  in[0] = string_tensor(m, 1, &four, words);
  tcc_node_t *s = node(g, TCC_OP_STRING_NORMALIZER, 1, 1, NULL);
  attr_string(s, "case_change_action", "UPPER");
  attr_strings(s, "stopwords", 1, (const char *[]){"MONDAY"});
  CHECK_OK(run(s, in, out));
  CHECK(out[0]->numel == 2);
  CHECK_STR(strs_text(out[0]), "NA\xc3\x8fVE|\xc3\x89T\xc3\x89");
  /* StringConcat broadcasts */
  in[0] = string_tensor(m, 1, (int64_t[]){2}, (const char *[]){"a", "b"});
  in[1] = string_tensor(m, 0, NULL, (const char *[]){"!"});
  tcc_node_t *c = node(g, TCC_OP_STRING_CONCAT, 1, 2, NULL, NULL);
  CHECK_OK(run(c, in, out));
  CHECK_STR(strs_text(out[0]), "a!|b!");
  tcc_module_destroy(m);
}

TEST(regex_full_match_translation) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  const char *text[5] = {"ab12", "ab1x", "a.b-c", "x\xc3\xa9y", "AB12"};
  int64_t five = 5;
  const tcc_tensor_t *in[1] = {string_tensor(m, 1, &five, text)};
  struct {
    const char *pattern, *expect;
  } cases[] = {
      {"[a-z]+\\d{2}", "5: 1 0 0 0 0"},
      {"(?:\\w|[.\\-])+?", "5: 1 1 1 0 1"},
      {"x.y", "5: 0 0 0 1 0"}, /* '.' is one code point */
      {"[^\\d]+\\d*", "5: 1 0 1 1 1"},
      {"a|ab12", "5: 1 0 0 0 0"}, /* the whole string must match, whichever branch */
  };
  tcc_tensor_t *out[1] = {0};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    tcc_node_t *n = node(g, TCC_OP_REGEX_FULL_MATCH, 1, 1, NULL);
    attr_string(n, "pattern", cases[i].pattern);
    CHECK_OK(run(n, in, out));
    CHECK_STR(ints_text(out[0]), cases[i].expect);
  }
  tcc_node_t *n = node(g, TCC_OP_REGEX_FULL_MATCH, 1, 1, NULL);
  attr_string(n, "pattern", "\\pL+");
  tcc_status_t st = run(n, in, out);
  CHECK(st && tcc_status_code(st) == TCC_UNSUPPORTED && strstr(tcc_status_message(st), "'\\p'"));
  tcc_status_free(st);
  tcc_module_destroy(m);
}

TEST(tfidf_skip_grams_and_weights) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  const int32_t x[8] = {1, 1, 3, 3, 3, 7, 8, 6};
  int64_t d[2] = {2, 4};
  const tcc_tensor_t *in[1] = {tensor_from(m, TCC_DTYPE_I32, 2, d, x)};
  tcc_node_t *n = node(g, TCC_OP_TFIDF_VECTORIZER, 1, 1, NULL);
  attr_string(n, "mode", "TF");
  attr_int(n, "min_gram_length", 1), attr_int(n, "max_gram_length", 2), attr_int(n, "max_skip_count", 1);
  attr_ints(n, "ngram_counts", INTS(0, 3));                  /* unigrams 1, 3, 7; bigrams (1,3), (3,8) */
  attr_ints(n, "pool_int64s", INTS(1, 3, 7, 1, 3, 3, 8));
  attr_ints(n, "ngram_indexes", INTS(0, 1, 2, 3, 4));
  tcc_tensor_t *out[1] = {0};
  CHECK_OK(run(n, in, out));
  const float *y = out[0]->data;
  /* row 0 [1 1 3 3]: (1,3) at skip 0 once and skip 1 twice; row 1 [3 7 8 6]: (3,8) at skip 1 */
  float want[10] = {2, 2, 0, 3, 0, 0, 1, 1, 0, 1};
  for (int i = 0; i < 10; i++) CHECK(y[i] == want[i]);
  tcc_module_destroy(m);
}

/* Empty tensors and K = 0 give empty outputs, never a crash. */
TEST(empty_inputs) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  int64_t d0[2] = {2, 0}, zero = 0, one = 1;
  const tcc_tensor_t *in[5] = {tcc_tensor_create(m, TCC_DTYPE_F32, 2, d0), tcc_tensor_create_i64(m, 1, &one, &zero)};
  tcc_tensor_t *out[4] = {0};
  tcc_node_t *t = node(g, TCC_OP_TOP_K, 2, 2, NULL, NULL);
  CHECK_OK(run(t, in, out));
  CHECK_STR(ints_text(out[1]), "2x0:");
  tcc_node_t *u = node(g, TCC_OP_UNIQUE, 4, 1, NULL);
  attr_int(u, "axis", 1);
  CHECK_OK(run(u, in, out));
  CHECK_STR(ints_text(out[2]), "0:");
  in[1] = tcc_tensor_create(m, TCC_DTYPE_BOOL, 1, &zero);
  tcc_node_t *c = node(g, TCC_OP_COMPRESS, 1, 2, NULL, NULL);
  CHECK_OK(run(c, in, out));
  CHECK(out[0]->rank == 1 && out[0]->dims[0] == 0);
  int64_t bd[3] = {1, 0, 4}, sd[3] = {1, 1, 0};
  in[0] = tcc_tensor_create(m, TCC_DTYPE_F32, 3, bd), in[1] = tcc_tensor_create(m, TCC_DTYPE_F32, 3, sd);
  in[2] = tcc_tensor_create_i64(m, 1, &one, (int64_t[]){5});
  tcc_node_t *n = node(g, TCC_OP_NON_MAX_SUPPRESSION, 1, 5, NULL, NULL, NULL, NULL, NULL);
  CHECK_OK(run(n, in, out));
  CHECK_STR(ints_text(out[0]), "0x3:");
  in[0] = string_tensor(m, 1, &zero, NULL);
  tcc_node_t *r = node(g, TCC_OP_REGEX_FULL_MATCH, 1, 1, NULL);
  attr_string(r, "pattern", "");
  CHECK_OK(run(r, in, out));
  tcc_node_t *f = node(g, TCC_OP_TFIDF_VECTORIZER, 1, 1, NULL);
  attr_string(f, "mode", "IDF"), attr_ints(f, "ngram_indexes", INTS(1));
  in[0] = tcc_tensor_create(m, TCC_DTYPE_I64, 1, &zero);
  CHECK_OK(run(f, in, out));
  CHECK_STR(ints_text(out[0]), "2: 0 0");
  tcc_module_destroy(m);
}

/* The evaluator falls back to the host function where TopK has no compute definition, and the output's
 * data-dependent size comes from the function. */
TEST(graph_eval_uses_host_functions) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = tcc_graph_add_input(g, "x");
  const tcc_dim_t *n = tcc_dim_parse(m, "n", &(const char *){0});
  CHECK_OK(tcc_value_set_tensor(x, TCC_DTYPE_F32, 1, &n));
  tcc_node_t *nz = node(g, TCC_OP_NON_ZERO, 1, 1, x);
  nz->name = "nz";
  tcc_graph_add_output(g, nz->outputs[0]);
  CHECK_OK(tcc_graph_infer(g));
  const float xf[5] = {0, 2, 0, 3, 4};
  int64_t five = 5;
  const tcc_tensor_t *in[1] = {tensor_from(m, TCC_DTYPE_F32, 1, &five, xf)};
  tcc_tensor_t *out[1] = {0};
  CHECK_OK(tcc_graph_eval(g, in, m, out));
  if (out[0]) CHECK_STR(ints_text(out[0]), "1x3: 1 3 4");
  tcc_module_destroy(m);
}

RUN_TESTS(T(top_k_ties_order_and_unsigned), T(unique_unsorted_axis_and_all_outputs),
          T(non_max_suppression_thresholds_and_formats), T(cast_numbers_to_and_from_strings),
          T(string_split_normalize_and_concat), T(regex_full_match_translation), T(tfidf_skip_grams_and_weights),
          T(empty_inputs), T(graph_eval_uses_host_functions))
