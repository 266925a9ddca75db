/* The IR text form: print/parse round trips, hand-written input, elided constants, malformed input. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "ir/graph.h"
#include "ir/text.h"
#include "tests/test.h"

static char *print_module(const tcc_module_t *m, const tcc_text_options_t *opts) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  CHECK_OK(tcc_text_print(m, f, opts));
  fclose(f);
  return buf;
}

/* print(parse(text)) with the given options; NULL (and a reported failure) when parsing fails. */
static char *reprint(const char *text, const tcc_text_options_t *opts) {
  tcc_module_t *m = NULL;
  tcc_status_t st = tcc_text_parse(text, tcc_allocator_system(), &m);
  if (st) {
    fprintf(stderr, "parse failed: %s\n--- text ---\n%s\n", tcc_status_message(st), text);
    tcc_status_free(st);
    test_current_failed_ = 1;
    return NULL;
  }
  char *out = print_module(m, opts);
  tcc_module_destroy(m);
  return out;
}

static const tcc_dim_t *sym(tcc_module_t *m, const char *name) { return tcc_dim_symbol(m, name); }
static const tcc_dim_t *cst(tcc_module_t *m, int64_t v) { return tcc_dim_const(m, v); }

static tcc_value_t *typed(tcc_value_t *v, tcc_dtype_t dt, int rank, const tcc_dim_t *const *dims) {
  CHECK(v != NULL);
  if (v) CHECK_OK(tcc_value_set_tensor(v, dt, rank, dims));
  return v;
}

static tcc_tensor_t *tensor(tcc_module_t *m, tcc_dtype_t dt, int rank, const int64_t *dims, const void *data) {
  tcc_tensor_t *t = tcc_tensor_create(m, dt, rank, dims);
  CHECK(t != NULL);
  if (t && data) memcpy((void *)t->data, data, t->nbytes);
  return t;
}

static tcc_node_t *node(tcc_graph_t *g, tcc_op_t op, const char *name, int nin, tcc_value_t *const *in, int nout) {
  tcc_node_t *n = tcc_graph_add_node(g, op, name, nin, nout);
  CHECK(n != NULL);
  for (int i = 0; n && i < nin; i++) n->inputs[i] = in[i];
  return n;
}

static tcc_value_t *out(tcc_node_t *n, int i, const char *name) {
  tcc_value_t *v = tcc_graph_add_value(n->graph, name);
  CHECK(v != NULL);
  tcc_node_set_output(n, i, v);
  return v;
}

static void set_attr(tcc_node_t *n, tcc_attr_t a) { CHECK_OK(tcc_node_set_attr(n, &a)); }

static void *arena_copy(tcc_module_t *m, const void *p, size_t n) {
  void *q = tcc_module_alloc(m, n);
  memcpy(q, p, n);
  return q;
}

static const double kThird = 1.0 / 3.0;

/* A module exercising every construct of the syntax. */
static tcc_module_t *build_rich(void) {
  tcc_module_t *m = NULL;
  CHECK_OK(tcc_module_create(tcc_allocator_system(), &m));
  tcc_graph_t *g = m->graph;
  m->ir_version = 8;
  m->producer_name = "pytorch";
  m->doc = "line one\nline \"two\"";
  tcc_opset_t opsets[] = {{"", 17}, {"com.microsoft", 1}};
  m->opsets = arena_copy(m, opsets, sizeof opsets);
  m->num_opsets = 2;
  tcc_string_pair_t meta[] = {{"author", "me"}};
  m->metadata = arena_copy(m, meta, sizeof meta);
  m->num_metadata = 1;

  const tcc_dim_t *batch = sym(m, "batch"), *seq = sym(m, "seq"), *len = sym(m, "sequence length");
  const tcc_dim_t *d_bs4[] = {batch, seq, cst(m, 4)}, *d_44[] = {cst(m, 4), cst(m, 4)};
  tcc_value_t *ids = typed(tcc_graph_add_input(g, "input_ids"), TCC_DTYPE_I64, 2, (const tcc_dim_t *[]){batch, seq});
  tcc_value_t *x = typed(tcc_graph_add_input(g, "x"), TCC_DTYPE_F32, 3, d_bs4);
  tcc_value_t *q = typed(tcc_graph_add_input(g, "onnx::Add_3"), TCC_DTYPE_F32, 3,
                         (const tcc_dim_t *[]){batch, len, cst(m, 4)});
  typed(tcc_graph_add_input(g, "any"), TCC_DTYPE_UNDEFINED, -1, NULL);

  /* initializers: one overridable (a graph input with data), one symbolic-typed, others plain */
  float wdata[16];
  for (int i = 0; i < 16; i++) wdata[i] = (float)i / 7.0f - 1.0f;
  wdata[3] = -0.0f;
  wdata[4] = 1e-45f;
  wdata[5] = 3.4028235e38f;
  wdata[6] = INFINITY;
  wdata[7] = NAN;
  tcc_value_t *w = typed(tcc_graph_add_input(g, "w"), TCC_DTYPE_F32, 2, d_44);
  w->constant = tensor(m, TCC_DTYPE_F32, 2, (int64_t[]){4, 4}, wdata);
  tcc_value_t *wsym = typed(tcc_graph_add_input(g, "w_sym"), TCC_DTYPE_F32, 2, (const tcc_dim_t *[]){batch, cst(m, 4)});
  wsym->constant = w->constant;
  tcc_value_t *c0 = tcc_graph_add_constant(g, "c0", tcc_tensor_create_i64(m, 1, (int64_t[]){2}, (int64_t[]){1, -1}));
  float big[100] = {0};
  big[42] = 1.5f;
  tcc_value_t *cbig = tcc_graph_add_constant(g, "big", tensor(m, TCC_DTYPE_F32, 2, (int64_t[]){10, 10}, big));
  uint16_t h[] = {0x3c00, 0x2e66, 0xc000, 0x7c00, 0xfc00, 0x7e00, 0x0001, 0x8000, 0x7bff};
  tcc_graph_add_constant(g, "h", tensor(m, TCC_DTYPE_F16, 1, (int64_t[]){9}, h));
  uint16_t bf[] = {0x3f80, 0x3dcd, 0xff80, 0x0001};
  tcc_graph_add_constant(g, "bf", tensor(m, TCC_DTYPE_BF16, 1, (int64_t[]){4}, bf));
  uint8_t f8[] = {0x00, 0x80, 0x38, 0x7e, 0x7f, 0x01, 0xc4};
  tcc_graph_add_constant(g, "f8", tensor(m, TCC_DTYPE_F8E4M3FN, 1, (int64_t[]){7}, f8));
  uint8_t f8b[] = {0x00, 0x80, 0x3c, 0x7c, 0xfe};
  tcc_graph_add_constant(g, "f8b", tensor(m, TCC_DTYPE_F8E5M2FNUZ, 1, (int64_t[]){5}, f8b));
  uint8_t e8m0[] = {0x7f, 0x00, 0xff};
  tcc_graph_add_constant(g, "e8m0", tensor(m, TCC_DTYPE_F8E8M0, 1, (int64_t[]){3}, e8m0));
  uint8_t f4[] = {0x91, 0x7f};
  tcc_graph_add_constant(g, "f4", tensor(m, TCC_DTYPE_F4E2M1, 1, (int64_t[]){3}, f4));
  uint8_t i4[] = {0x8f, 0x07};
  tcc_graph_add_constant(g, "i4", tensor(m, TCC_DTYPE_I4, 1, (int64_t[]){3}, i4));
  uint8_t u4[] = {0xf0};
  tcc_graph_add_constant(g, "u4", tensor(m, TCC_DTYPE_U4, 1, (int64_t[]){2}, u4));
  uint8_t bools[] = {1, 0, 7};
  tcc_graph_add_constant(g, "bools", tensor(m, TCC_DTYPE_BOOL, 1, (int64_t[]){3}, bools));
  uint64_t u64[] = {UINT64_MAX, 0};
  tcc_graph_add_constant(g, "u64", tensor(m, TCC_DTYPE_U64, 1, (int64_t[]){2}, u64));
  int8_t i8[] = {-128, 127};
  tcc_graph_add_constant(g, "i8", tensor(m, TCC_DTYPE_I8, 1, (int64_t[]){2}, i8));
  double f64[] = {0.1, kThird, -1e-310, 1e300};
  tcc_graph_add_constant(g, "f64", tensor(m, TCC_DTYPE_F64, 1, (int64_t[]){4}, f64));
  float cpx[] = {1.0f, -2.0f};
  tcc_graph_add_constant(g, "cpx", tensor(m, TCC_DTYPE_C64, 0, NULL, cpx));
  tcc_tensor_t *strs = tensor(m, TCC_DTYPE_STRING, 1, (int64_t[]){3}, NULL);
  tcc_bytes_t sv[] = {{"a", 1}, {"b\n\"c\"\\\x01\xc3\xa9", 9}, {"", 0}};
  memcpy((void *)strs->data, sv, sizeof sv);
  tcc_graph_add_constant(g, "strs", strs);
  tcc_value_t *scalar = tcc_graph_add_constant(g, "scalar", tcc_tensor_create_i64(m, 0, NULL, (int64_t[]){INT64_MIN}));
  tcc_value_t *retyped =
      tcc_graph_add_constant(g, "retyped", tcc_tensor_create_i64(m, 1, (int64_t[]){1}, (int64_t[]){5}));
  CHECK_OK(tcc_value_set_tensor(retyped, TCC_DTYPE_I64, 1, (const tcc_dim_t *[]){sym(m, "n")}));
  tcc_graph_add_constant(g, "empty", tensor(m, TCC_DTYPE_F32, 2, (int64_t[]){0, 3}, NULL));

  /* nodes */
  tcc_node_t *mm = node(g, TCC_OP_MATMUL, "MatMul_0", 2, (tcc_value_t *[]){x, w}, 1);
  mm->op_type = "MatMul";
  mm->opset = 13;
  tcc_value_t *y = typed(out(mm, 0, "y"), TCC_DTYPE_F32, 3, d_bs4);
  tcc_node_t *add = node(g, TCC_OP_ADD, "add/with spaces", 2, (tcc_value_t *[]){y, q}, 1);
  tcc_value_t *sum = typed(out(add, 0, "/layer.0/Add_output_0"), TCC_DTYPE_F32, 3, d_bs4);

  const tcc_dim_t *half = tcc_dim_add(m, tcc_dim_floordiv(m, tcc_dim_sub(m, seq, cst(m, 1)), 2), cst(m, 1));
  const tcc_dim_t *fresh = tcc_dim_fresh(m);
  tcc_node_t *split = node(g, TCC_OP_SPLIT, "split0", 2, (tcc_value_t *[]){sum, NULL}, 2);
  CHECK_OK(tcc_node_set_attr_int(split, "axis", 1));
  CHECK_OK(tcc_node_set_attr_int(split, "num_outputs", 2));
  tcc_value_t *s0 = typed(out(split, 0, "s0"), TCC_DTYPE_F32, 3, (const tcc_dim_t *[]){batch, half, cst(m, 4)});
  typed(out(split, 1, NULL), TCC_DTYPE_F32, 3, (const tcc_dim_t *[]){batch, fresh, tcc_dim_mul(m, cst(m, 2), seq)});

  tcc_node_t *clip = node(g, TCC_OP_CLIP, "clip0", 3, (tcc_value_t *[]){s0, NULL, cbig}, 1);
  tcc_value_t *clipped = typed(out(clip, 0, "clipped"), TCC_DTYPE_F32, -1, NULL);
  tcc_node_t *drop = node(g, TCC_OP_DROPOUT, "drop", 1, (tcc_value_t *[]){clipped}, 2);
  tcc_value_t *dropped = typed(out(drop, 0, "dropped"), TCC_DTYPE_F32, -1, NULL);

  tcc_node_t *shape = node(g, TCC_OP_SHAPE, "shape0", 1, (tcc_value_t *[]){ids}, 1);
  tcc_value_t *shp = typed(out(shape, 0, "shp"), TCC_DTYPE_I64, 1, (const tcc_dim_t *[]){cst(m, 2)});
  shp->constant = tcc_tensor_create_i64(m, 1, (int64_t[]){2}, (int64_t[]){3, 7});

  /* a node with an attribute of every kind */
  tcc_graph_t *body = tcc_graph_create(m, g, "body");
  tcc_value_t *bi = typed(tcc_graph_add_input(body, "i"), TCC_DTYPE_I64, 0, NULL);
  tcc_node_t *bn = node(body, TCC_OP_ADD, "body_add", 2, (tcc_value_t *[]){bi, c0}, 1);
  tcc_graph_add_output(body, typed(out(bn, 0, "o"), TCC_DTYPE_I64, 1, (const tcc_dim_t *[]){cst(m, 2)}));
  tcc_graph_t *empty = tcc_graph_create(m, g, "empty graph");
  tcc_node_t *kinds = node(g, TCC_OP_IDENTITY, "kinds", 1, (tcc_value_t *[]){dropped}, 1);
  typed(out(kinds, 0, "k"), TCC_DTYPE_F32, -1, NULL);
  set_attr(kinds, (tcc_attr_t){.name = "i", .kind = TCC_ATTR_INT, .i = INT64_MIN});
  set_attr(kinds, (tcc_attr_t){.name = "f32", .kind = TCC_ATTR_FLOAT, .f = (double)0.2f});
  set_attr(kinds, (tcc_attr_t){.name = "f64", .kind = TCC_ATTR_FLOAT, .f = kThird});
  set_attr(kinds, (tcc_attr_t){.name = "whole", .kind = TCC_ATTR_FLOAT, .f = 2.0});
  set_attr(kinds, (tcc_attr_t){.name = "negzero", .kind = TCC_ATTR_FLOAT, .f = -0.0});
  set_attr(kinds, (tcc_attr_t){.name = "huge", .kind = TCC_ATTR_FLOAT, .f = 1e300});
  set_attr(kinds, (tcc_attr_t){.name = "inf", .kind = TCC_ATTR_FLOAT, .f = -INFINITY});
  set_attr(kinds, (tcc_attr_t){.name = "s", .kind = TCC_ATTR_STRING, .s = {"q\"\\\n\x00z", 6}});
  set_attr(kinds, (tcc_attr_t){.name = "t", .kind = TCC_ATTR_TENSOR, .t = c0->constant});
  set_attr(kinds, (tcc_attr_t){.name = "g", .kind = TCC_ATTR_GRAPH, .g = body});
  set_attr(kinds, (tcc_attr_t){.name = "ty", .kind = TCC_ATTR_TYPE, .type = x->type});
  set_attr(kinds, (tcc_attr_t){.name = "ints", .kind = TCC_ATTR_INTS, .count = 3,
                               .ints = arena_copy(m, (int64_t[]){1, -2, 3}, 24)});
  set_attr(kinds, (tcc_attr_t){.name = "no ints", .kind = TCC_ATTR_INTS, .count = 0});
  set_attr(kinds, (tcc_attr_t){.name = "floats", .kind = TCC_ATTR_FLOATS, .count = 3,
                               .floats = arena_copy(m, (double[]){1.0, (double)1.1f, NAN}, 24)});
  set_attr(kinds, (tcc_attr_t){.name = "no floats", .kind = TCC_ATTR_FLOATS, .count = 0});
  set_attr(kinds, (tcc_attr_t){.name = "strings", .kind = TCC_ATTR_STRINGS, .count = 2,
                               .strings = arena_copy(m, (tcc_bytes_t[]){{"x", 1}, {"", 0}}, 2 * sizeof(tcc_bytes_t))});
  set_attr(kinds, (tcc_attr_t){.name = "tensors", .kind = TCC_ATTR_TENSORS, .count = 2,
                               .tensors = arena_copy(m, (const tcc_tensor_t *[]){c0->constant, scalar->constant}, 16)});
  set_attr(kinds, (tcc_attr_t){.name = "graphs", .kind = TCC_ATTR_GRAPHS, .count = 1,
                               .graphs = arena_copy(m, (tcc_graph_t *[]){empty}, 8)});
  tcc_type_t seq_t = {TCC_TYPE_SEQUENCE, 0, 0, NULL, &x->type}, unknown = {TCC_TYPE_UNKNOWN, 0, 0, NULL, NULL};
  set_attr(kinds, (tcc_attr_t){.name = "types", .kind = TCC_ATTR_TYPES, .count = 2,
                               .types = arena_copy(m, (tcc_type_t[]){seq_t, unknown}, 2 * sizeof(tcc_type_t))});
  CHECK_OK(tcc_node_set_attr_dims(kinds, "dims", (const tcc_dim_t *[]){batch, half, cst(m, -3), len}, 4));
  set_attr(kinds, (tcc_attr_t){.name = "no dims", .kind = TCC_ATTR_DIMS, .count = 0});

  /* control flow: the branches use outer values (y directly, x as an output) */
  tcc_value_t *cond = tcc_graph_add_constant(g, "cond", tensor(m, TCC_DTYPE_BOOL, 0, NULL, (uint8_t[]){1}));
  tcc_graph_t *then_g = tcc_graph_create(m, g, "then");
  tcc_node_t *tn = node(then_g, TCC_OP_RELU, "relu_in_then", 1, (tcc_value_t *[]){y}, 1);
  tcc_graph_add_output(then_g, typed(out(tn, 0, "r"), TCC_DTYPE_F32, 3, d_bs4));
  tcc_graph_t *else_g = tcc_graph_create(m, g, "else");
  tcc_graph_add_output(else_g, x);
  tcc_node_t *iff = node(g, TCC_OP_IF, "if0", 1, (tcc_value_t *[]){cond}, 1);
  set_attr(iff, (tcc_attr_t){.name = "then_branch", .kind = TCC_ATTR_GRAPH, .g = then_g});
  set_attr(iff, (tcc_attr_t){.name = "else_branch", .kind = TCC_ATTR_GRAPH, .g = else_g});
  tcc_value_t *ifo = typed(out(iff, 0, "if_out"), TCC_DTYPE_F32, 3, d_bs4);

  tcc_node_t *un = node(g, TCC_OP_UNSUPPORTED, "LabelEncoder_0", 1, (tcc_value_t *[]){ids}, 1);
  un->domain = "ai.onnx.ml";
  un->op_type = "LabelEncoder";
  un->opset = 2;
  un->unsupported = "operator LabelEncoder is not supported";
  set_attr(un, (tcc_attr_t){.name = "keys_strings", .kind = TCC_ATTR_STRINGS, .count = 1,
                            .strings = arena_copy(m, (tcc_bytes_t[]){{"k", 1}}, sizeof(tcc_bytes_t))});
  tcc_value_t *uo = out(un, 0, "labels");

  tcc_node_t *sc = node(g, TCC_OP_SEQUENCE_CONSTRUCT, "seq0", 1, (tcc_value_t *[]){y}, 1);
  tcc_value_t *sq = out(sc, 0, "sq");
  tcc_type_t sq_elem = {TCC_TYPE_TENSOR, TCC_DTYPE_F32, 1, (const tcc_dim_t *[]){fresh}, NULL};
  tcc_type_t sq_t = {TCC_TYPE_SEQUENCE, 0, 0, NULL, &sq_elem};
  CHECK_OK(tcc_value_set_type(sq, &sq_t));
  tcc_node_t *opt = node(g, TCC_OP_OPTIONAL, "opt0", 0, NULL, 1);
  tcc_value_t *ov = out(opt, 0, "ov");
  CHECK_OK(tcc_value_set_type(ov, &(tcc_type_t){TCC_TYPE_OPTIONAL, 0, 0, NULL, NULL}));

  tcc_graph_add_output(g, ifo);
  tcc_graph_add_output(g, uo);
  tcc_graph_add_output(g, sq);
  tcc_graph_add_output(g, retyped);
  CHECK_OK(tcc_module_check(m));
  return m;
}

TEST(round_trip_rich_module) {
  tcc_module_t *m = build_rich();
  char *text = print_module(m, NULL);
  char *again = reprint(text, NULL);
  CHECK_STR(again, text);
  if (again && strcmp(again, text) != 0) fprintf(stderr, "--- first ---\n%s--- second ---\n%s", text, again);
  /* a few spot checks of the syntax */
  CHECK(strstr(text, "%\"onnx::Add_3\": f32[batch, \"sequence length\", 4]") != NULL);
  CHECK(strstr(text, "%w: f32[4, 4] = dense<[") != NULL);
  CHECK(strstr(text, "%w_sym: f32[batch, 4] = f32[4, 4] dense<[") != NULL);
  CHECK(strstr(text, "%c0 = const i64[2] dense<[1, -1]>") != NULL);
  CHECK(strstr(text, "%big = const f32[10, 10] dense<elided, 400 bytes>") != NULL);
  CHECK(strstr(text, "%retyped = const i64[1] dense<[5]> : i64[n]") != NULL);
  CHECK(strstr(text, "%h = const f16[9] dense<[1.0, 0.1, -2.0, inf, -inf, nan, 6e-08, -0.0, 65504.0]>") != NULL);
  CHECK(strstr(text, "%f8b = const f8e5m2fnuz[5] dense<[0.0, nan, 0.5, 32768.0, -49152.0]>") != NULL);
  CHECK(strstr(text, "%bools = const bool[3] dense<[true, false, 7]>") != NULL);
  CHECK(strstr(text, "%cpx = const c64[] dense<0x0000803f000000c0>") != NULL);
  CHECK(strstr(text, "clip(%s0, _, %big)") != NULL);
  CHECK(strstr(text, "f32[batch, (seq + 1)//2, 4]") != NULL);
  CHECK(strstr(text, "%dropped, _ = dropout(%clipped) : f32[*] @drop") != NULL);
  CHECK(strstr(text, "f32 = 0.2f") != NULL);
  CHECK(strstr(text, "no ints = ints []") == NULL && strstr(text, "\"no ints\" = ints []") != NULL);
  CHECK(strstr(text, "dims = dims [batch, (seq + 1)//2, -3, \"sequence length\"]") != NULL);
  CHECK(strstr(text, ": i64[2] = dense<[3, 7]> @shape0") != NULL);
  CHECK(strstr(text, "@LabelEncoder_0 [domain = \"ai.onnx.ml\", op_type = \"LabelEncoder\", opset = 2, reason = ") !=
        NULL);
  CHECK(strstr(text, "%%") != NULL); /* the unnamed split output */
  free(again);

  /* everything elided still round-trips */
  tcc_text_options_t opts = {0};
  char *elided = print_module(m, &opts);
  CHECK(strstr(elided, "%c0 = const i64[2] dense<elided, 16 bytes>") != NULL);
  CHECK(strstr(elided, "%strs = const string[3] dense<elided>") != NULL);
  again = reprint(elided, &opts);
  CHECK_STR(again, elided);
  free(again);
  free(elided);
  free(text);
  tcc_module_destroy(m);
}

TEST(parsed_module_is_faithful) {
  tcc_module_t *m = build_rich();
  char *text = print_module(m, NULL);
  tcc_module_t *p = NULL;
  CHECK_OK(tcc_text_parse(text, tcc_allocator_system(), &p));
  if (!p) goto done;
  tcc_graph_t *g = p->graph;
  CHECK_STR(g->name, "main");
  CHECK(p->ir_version == 8 && p->num_opsets == 2 && tcc_module_opset(p, "com.microsoft") == 1);
  CHECK_STR(p->doc, m->doc);
  CHECK(g->num_inputs == 6 && g->num_outputs == 4);
  /* the then-branch reads y from the main graph */
  tcc_value_t *y = tcc_graph_find(g, "y");
  const tcc_node_t *iff = NULL, *kinds = NULL, *mm = NULL;
  for (size_t i = 0; i < g->num_nodes; i++) {
    if (g->nodes[i]->op == TCC_OP_IF) iff = g->nodes[i];
    if (strcmp(g->nodes[i]->name, "kinds") == 0) kinds = g->nodes[i];
    if (g->nodes[i]->op == TCC_OP_MATMUL) mm = g->nodes[i];
  }
  CHECK(iff && kinds && mm && y);
  if (!iff || !kinds || !mm) goto done;
  CHECK_STR(mm->op_type, "MatMul");
  CHECK(mm->opset == 13 && mm->outputs[0] == y);
  const tcc_attr_t *then_a = tcc_node_attr(iff, "then_branch"), *else_a = tcc_node_attr(iff, "else_branch");
  CHECK(then_a && then_a->kind == TCC_ATTR_GRAPH && then_a->g->parent == g);
  if (then_a) CHECK(then_a->g->nodes[0]->inputs[0] == y);
  if (else_a) CHECK(else_a->g->outputs[0] == tcc_graph_find(g, "x"));
  /* exact floats and byte strings */
  CHECK(tcc_node_attr_float(kinds, "f32", 0) == (double)0.2f);
  CHECK(tcc_node_attr_float(kinds, "f64", 0) == kThird);
  CHECK(signbit(tcc_node_attr_float(kinds, "negzero", 1)));
  const tcc_attr_t *s = tcc_node_attr(kinds, "s");
  CHECK(s && s->s.size == 6 && memcmp(s->s.data, "q\"\\\n\x00z", 6) == 0);
  const tcc_attr_t *floats = tcc_node_attr(kinds, "floats");
  CHECK(floats && floats->count == 3 && floats->floats[1] == (double)1.1f && isnan(floats->floats[2]));
  const tcc_value_t *w = tcc_graph_find(g, "w"), *h = tcc_graph_find(g, "h");
  const tcc_value_t *w0 = tcc_graph_find(m->graph, "w");
  CHECK(w && w->is_input && w->constant && memcmp(w->constant->data, w0->constant->data, 28) == 0);
  CHECK(h && h->constant && memcmp(h->constant->data, tcc_graph_find(m->graph, "h")->constant->data, 10) == 0);
  /* names that the module generates next stay unique */
  CHECK(tcc_graph_add_value(g, NULL) != NULL);
  char buf[32];
  tcc_dim_format(tcc_dim_fresh(p), buf, sizeof buf);
  CHECK(strstr(text, buf) == NULL);
done:
  tcc_module_destroy(p);
  tcc_module_destroy(m);
  free(text);
}

TEST(hand_written_text) {
  const char *text =
      "# a comment\n"
      "opsets {\"\": 17}\n"
      "graph g(%x: f32[n, 2], %\"s\": f32[2] = dense<[1, 2.5]>) -> (%z) {   # trailing comment\n"
      "  %k = const f32[2] dense<[ 0.1 , -3 ]>\n"
      "  %y = add(%x,%k){alpha=1,beta=[1,2.5],\"my key\"=\"v\",e=[]} : f32[n, 2]\n"
      "  %z = mul(%y, %s) : f32[n, 2] @named\n"
      "  %bits = const bf16[2] dense<[0.1, 9e-41]>\n"
      "  %e = const f8e4m3fn[3] dense<[1000, -0.3, nan]>\n"
      "  %ints = const u4[1] dense<[15]>\n"
      "}\n";
  const char *expect =
      "opsets {\"\": 17}\n"
      "graph g(%x: f32[n, 2], %s: f32[2] = dense<[1.0, 2.5]>) -> (%z) {\n"
      "  %k = const f32[2] dense<[0.1, -3.0]>\n"
      "  %bits = const bf16[2] dense<[0.1, 9e-41]>\n"
      "  %e = const f8e4m3fn[3] dense<[448.0, -0.3, nan]>\n"
      "  %ints = const u4[1] dense<[15]>\n"
      "  %y = add(%x, %k) {alpha = 1, beta = [1.0, 2.5], \"my key\" = \"v\", e = ints []} : f32[n, 2] @node3\n"
      "  %z = mul(%y, %s) : f32[n, 2] @named\n"
      "}\n";
  char *printed = reprint(text, NULL);
  CHECK_STR(printed, expect);
  free(printed);
}

TEST(elided_constants_parse_as_zeros) {
  const char *text =
      "graph main(%w: f32[512, 1024] = dense<elided, 2097152 bytes>) -> (%w) {\n"
      "  %b = const i8[3] dense<elided>\n"
      "  %s = const string[2] dense<elided>\n"
      "}\n";
  tcc_module_t *m = NULL;
  CHECK_OK(tcc_text_parse(text, tcc_allocator_system(), &m));
  if (!m) return;
  const tcc_tensor_t *w = m->graph->inputs[0]->constant;
  CHECK(w && w->numel == 512 * 1024 && w->nbytes == 2097152);
  if (w) CHECK(tcc_tensor_get_float(w, 0) == 0 && tcc_tensor_get_float(w, w->numel - 1) == 0);
  const tcc_tensor_t *b = tcc_graph_find(m->graph, "b")->constant, *s = tcc_graph_find(m->graph, "s")->constant;
  CHECK(b->nbytes == 3 && tcc_tensor_get_int(b, 2) == 0);
  CHECK(s->numel == 2 && ((const tcc_bytes_t *)s->data)[1].size == 0);
  char *printed = print_module(m, NULL);
  char *want = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&want, &n);
  fprintf(f, "graph main(%%w: f32[512, 1024] = dense<elided, 2097152 bytes>) -> (%%w) {\n"
             "  %%b = const i8[3] dense<[0, 0, 0]>\n"
             "  %%s = const string[2] dense<[\"\", \"\"]>\n"
             "}\n");
  fclose(f);
  CHECK_STR(printed, want);
  free(printed);
  free(want);
  tcc_module_destroy(m);
}

/* Parsing text must fail with a message containing want. */
static void check_error(const char *text, const char *want) {
  tcc_module_t *m = (tcc_module_t *)1;
  tcc_status_t st = tcc_text_parse(text, tcc_allocator_system(), &m);
  if (!st || !strstr(tcc_status_message(st), want) || m) {
    fprintf(stderr, "for input:\n%s\nwanted an error containing \"%s\", got: %s\n", text, want,
            st ? tcc_status_message(st) : "success");
    test_current_failed_ = 1;
  }
  CHECK(!st || tcc_status_code(st) == TCC_INVALID_ARGUMENT);
  tcc_status_free(st);
  if (m != (tcc_module_t *)1) tcc_module_destroy(m);
}

TEST(malformed_input_is_an_error) {
  check_error("", "line 1, col 1: expected 'graph', found end of input");
  check_error("graph g() -> () {\n  %y = nosuchop(%x) : f32[]\n}", "line 2, col 8: unknown op 'nosuchop'");
  check_error("graph g() -> () {\n  %y = relu(%x) : f32[]\n}", "line 2, col 13: undefined value %x");
  check_error("graph g(%x: f32[2]) -> (%y) {\n}", "line 1, col 25: undefined output %y");
  check_error("graph g(%x: f32[2], %x: f32[2]) -> () {}", "line 1, col 21: value %x is already defined");
  check_error("graph g(%x: f32[2) -> () {}", "line 1, col 18: expected ',' or ']' in the shape, found ')'");
  check_error("graph g(%x: f33[2]) -> () {}", "line 1, col 13: expected a type");
  check_error("graph g(%x: f32 [2]) -> () {}", "expected '[' right after the element type");
  check_error("graph g(%x: f32[2 +]) -> () {}", "expected a dim");
  check_error("graph g() -> () {\n  %c = const i64[3] dense<[1, 2]>\n}",
              "line 2, col 32: expected 3 elements, found 2");
  check_error("graph g() -> () {\n  %c = const i64[1] dense<[1, 2]>\n}",
              "expected ']' after the last element, found ','");
  check_error("graph g() -> () { %c = const i8[1] dense<[128]> }", "value out of range for i8");
  check_error("graph g() -> () { %c = const i64[1] dense<[99999999999999999999]> }", "value out of range");
  check_error("graph g() -> () { %c = const f32[n] dense<[1.0]> }", "constant, non-negative dims");
  check_error("graph g() -> () { %c = const f32[2] dense<elided, 7 bytes> }", "elided size 7 does not match");
  check_error("graph g() -> () { %c = const c64[] dense<0x00> }", "expected 8 bytes of hex data");
  check_error("graph g() -> () { %c = const f32[1] dense<[1.0]> %c = const f32[1] dense<[1.0]> }", "already defined");
  check_error("graph g() -> () { %a = relu() {x = 1, x = 2} : ? }", "duplicate attribute 'x'");
  check_error("graph g() -> () { %a = relu() {x = } : ? }", "expected an attribute value");
  check_error("graph g() -> () { %a = relu() {x = ints [1.5]} : ? }", "expected an integer");
  check_error("graph g() -> () { %a = relu() {x = \"abc} : ? }", "unterminated string");
  check_error("graph g() -> () { %a = relu() {x = \"\\q\"} : ? }", "expected an escape");
  check_error("graph g() -> () { %a = relu() }", "expected ':' and the result types");
  check_error("graph g() -> () { %a = relu() : ? [color = 1] }", "expected domain, op_type, opset or reason");
  check_error("graph g() -> () { %a = const relu() }", "expected a type");
  check_error("graph g() -> () { %y = if() {b = graph b() -> (%q) {}} : ? }", "undefined output %q");
  check_error("graph g() -> () {} trailing", "expected end of input after the graph, found 'trailing'");
  check_error("graph g() -> () {", "line 1, col 18: expected a node, a value or '}', found end of input");
  check_error("graph g() -> () { %a = }", "expected an op name or 'const'");
  check_error("module {colour = 1} graph g() -> () {}", "expected a module field");
  check_error("opsets {\"\": x} graph g() -> () {}", "expected the opset version");
  check_error("graph \"a\\x00b\"() -> () {}", "must not contain NUL bytes");
  check_error("graph g(%x: f32[((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
              "(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((a]) -> () {}",
              "too complex");
}

TEST(deep_nesting_is_an_error) {
  size_t n = 200;
  char *text = malloc(64 + n * 40);
  strcpy(text, "graph g(%x: ");
  for (size_t i = 0; i < n; i++) strcat(text, "seq<");
  strcat(text, "?");
  for (size_t i = 0; i < n; i++) strcat(text, ">");
  strcat(text, ") -> () {}");
  check_error(text, "nesting is too deep");
  strcpy(text, "graph g() -> () {");
  for (size_t i = 0; i < n; i++) strcat(text, " %a = if() {b = graph b() -> () {");
  check_error(text, "nesting is too deep");
  free(text);
}

/* Every prefix and many single-byte mutations of a printed module parse or fail cleanly. */
TEST(truncated_and_mutated_input_never_crashes) {
  tcc_module_t *m = build_rich();
  char *text = print_module(m, NULL);
  tcc_module_destroy(m);
  size_t len = strlen(text);
  char *buf = malloc(len + 1);
  int failed = 0;
  for (size_t cut = 0; cut < len; cut += 3) {
    memcpy(buf, text, cut);
    buf[cut] = 0;
    tcc_module_t *p = NULL;
    tcc_status_t st = tcc_text_parse(buf, tcc_allocator_system(), &p);
    failed += st != NULL;
    tcc_status_free(st);
    tcc_module_destroy(p);
  }
  static const char alphabet[] = "%_@[](){}<>,:=\"\\#-?*/.0123456789xe \n";
  uint32_t seed = 12345;
  for (int iter = 0; iter < 3000; iter++) {
    memcpy(buf, text, len + 1);
    for (int k = 0; k < 1 + iter % 3; k++) {
      seed = seed * 1103515245u + 12345u;
      size_t pos = (seed >> 8) % len;
      seed = seed * 1103515245u + 12345u;
      buf[pos] = alphabet[(seed >> 8) % (sizeof alphabet - 1)];
    }
    tcc_module_t *p = NULL;
    tcc_status_t st = tcc_text_parse(buf, tcc_allocator_system(), &p);
    if (!st) {
      /* whatever parsed must print and re-parse to the same text */
      char *once = print_module(p, NULL);
      char *twice = reprint(once, NULL);
      CHECK_STR(twice, once);
      free(once);
      free(twice);
    }
    failed += st != NULL;
    tcc_status_free(st);
    tcc_module_destroy(p);
  }
  CHECK(failed > 0);
  free(buf);
  free(text);
}

TEST(allocation_failure_is_a_status) {
  tcc_module_t *m = build_rich();
  char *text = print_module(m, NULL);
  tcc_module_destroy(m);
  bool done = false;
  for (long budget = 0; budget < 10000 && !done; budget++) {
    long b = budget;
    tcc_module_t *p = NULL;
    tcc_status_t st = tcc_text_parse(text, tcc_allocator_failing(&b), &p);
    if (st) CHECK(tcc_status_code(st) == TCC_OUT_OF_MEMORY && !p);
    done = !st;
    tcc_status_free(st);
    tcc_module_destroy(p);
  }
  CHECK(done);
  free(text);
}

TEST(print_graph_and_print_errors) {
  tcc_module_t *m = build_rich();
  tcc_graph_t *g = m->graph;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  const tcc_node_t *iff = NULL;
  for (size_t i = 0; i < g->num_nodes; i++)
    if (g->nodes[i]->op == TCC_OP_IF) iff = g->nodes[i];
  CHECK_OK(tcc_text_print_graph(tcc_node_attr(iff, "then_branch")->g, f, NULL));
  fclose(f);
  CHECK_STR(buf, "graph then() -> (%r) {\n  %r = relu(%y) : f32[batch, seq, 4] @relu_in_then\n}\n");
  free(buf);

  tcc_node_t *n = g->nodes[0];
  CHECK_OK(tcc_node_set_attr(n, &(tcc_attr_t){.name = "bad", .kind = (tcc_attr_kind_t)99}));
  f = open_memstream(&buf, &len);
  tcc_status_t st = tcc_text_print(m, f, NULL);
  fclose(f);
  CHECK(st && strstr(tcc_status_message(st), "invalid kind"));
  tcc_status_free(st);
  free(buf);
  tcc_module_destroy(m);
}

RUN_TESTS(T(round_trip_rich_module), T(parsed_module_is_faithful), T(hand_written_text),
          T(elided_constants_parse_as_zeros), T(malformed_input_is_an_error), T(deep_nesting_is_an_error),
          T(truncated_and_mutated_input_never_crashes), T(allocation_failure_is_a_status),
          T(print_graph_and_print_errors))
