/* Shape, dtype and contents inference of elementwise, broadcasting, cast, reduction and quantization ops. */
#include <stdlib.h>

#include "ir/infer.h"
#include "tests/graph_builder.h"
#include "tests/test.h"

/* Contents of v as "[a, b]", or "none". */
static const char *data(const tcc_value_t *v) { return data_text(v, "[", "]", "none"); }

TEST(unary_ops) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F16, "batch, 3, 4");
  CHECK_STR(infer(node(g, TCC_OP_RELU, 1, 1, x)), "f16[batch, 3, 4]");
  CHECK_STR(infer(node(g, TCC_OP_CLIP, 1, 3, x, NULL, input(g, TCC_DTYPE_F16, ""))), "f16[batch, 3, 4]");
  CHECK_STR(infer(node(g, TCC_OP_SOFTMAX, 1, 1, x)), "f16[batch, 3, 4]");
  CHECK_STR(infer(node(g, TCC_OP_EXP, 1, 1, input(g, TCC_DTYPE_F32, "*"))), "f32[*]");
  CHECK_STR(infer(node(g, TCC_OP_SIN, 1, 1, tcc_graph_add_value(g, NULL))), "?[*]");
  CHECK_STR(infer(node(g, TCC_OP_IS_NAN, 1, 1, x)), "bool[batch, 3, 4]");
  CHECK_STR(infer(node(g, TCC_OP_IS_INF, 1, 1, input(g, TCC_DTYPE_F32, "*"))), "bool[*]");
  tcc_node_t *sm = node(g, TCC_OP_SOFTMAX, 1, 1, x);
  attr_int(sm, "axis", 3);
  CHECK_ERROR(sm, "axis 3 is out of range for rank 3");
  CHECK_ERROR(node(g, TCC_OP_RELU, 1, 1, NULL), "input 0 is missing");
  CHECK_ERROR(node(g, TCC_OP_RELU, 1, 0), "input 0 is missing");
  /* neg / abs carry contents */
  tcc_node_t *neg = node(g, TCC_OP_NEG, 1, 1, shape_input(g, "batch, -2"));
  CHECK_STR(infer(neg), "i64[2]");
  CHECK_STR(data(neg->outputs[0]), "[-batch, 2]");
  tcc_node_t *abs = node(g, TCC_OP_ABS, 1, 1, shape_input(g, "batch, -2"));
  CHECK_STR(infer(abs), "i64[2]");
  CHECK_STR(data(abs->outputs[0]), "[batch, 2]");
  bool bv[3] = {true, false, true};
  int64_t three = 3;
  tcc_tensor_t *bt = tcc_tensor_create(m, TCC_DTYPE_BOOL, 1, &three);
  memcpy((void *)bt->data, bv, 3);
  tcc_node_t *not = node(g, TCC_OP_NOT, 1, 1, tcc_graph_add_constant(g, NULL, bt));
  CHECK_STR(infer(not), "bool[3]");
  CHECK_STR(data(not->outputs[0]), "[0, 1, 0]");
  tcc_module_destroy(m);
}

TEST(binary_broadcast) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *a = input(g, TCC_DTYPE_F32, "batch, 1, 4"), *b = input(g, TCC_DTYPE_F32, "3, 1");
  CHECK_STR(infer(node(g, TCC_OP_ADD, 1, 2, a, b)), "f32[batch, 3, 4]");
  CHECK_STR(infer(node(g, TCC_OP_MUL, 1, 2, a, input(g, TCC_DTYPE_F32, ""))), "f32[batch, 1, 4]");
  CHECK_STR(infer(node(g, TCC_OP_SUB, 1, 2, a, input(g, TCC_DTYPE_F32, "batch, seq, 1"))), "f32[batch, seq, 4]");
  CHECK_STR(infer(node(g, TCC_OP_DIV, 1, 2, a, input(g, TCC_DTYPE_F32, "*"))), "f32[*]");
  CHECK_STR(infer(node(g, TCC_OP_ADD, 1, 2, input(g, TCC_DTYPE_F32, "seq"), input(g, TCC_DTYPE_F32, "1"))), "f32[seq]");
  /* two different symbols: a fresh dim */
  const char *r = infer(node(g, TCC_OP_ADD, 1, 2, input(g, TCC_DTYPE_F32, "n"), input(g, TCC_DTYPE_F32, "k")));
  CHECK(strncmp(r, "f32[?", 5) == 0);
  CHECK_STR(infer(node(g, TCC_OP_POW, 1, 2, a, input(g, TCC_DTYPE_I32, "4"))), "f32[batch, 1, 4]");
  CHECK_STR(infer(node(g, TCC_OP_BIT_SHIFT, 1, 2, input(g, TCC_DTYPE_U8, "3"), input(g, TCC_DTYPE_U8, "1"))), "u8[3]");
  CHECK_ERROR(node(g, TCC_OP_ADD, 1, 2, a, input(g, TCC_DTYPE_F32, "5")), "cannot broadcast dimension 4 with 5");
  CHECK_ERROR(node(g, TCC_OP_ADD, 1, 2, a, input(g, TCC_DTYPE_F16, "4")), "different element types (f32, f16)");
  CHECK_ERROR(node(g, TCC_OP_ADD, 1, 2, a, NULL), "input 1 is missing");
  CHECK_ERROR(node(g, TCC_OP_ADD, 1, 3, a, a, a), "at most 2 inputs");
  tcc_node_t *seq = node(g, TCC_OP_ADD, 1, 2, a, a);
  tcc_type_t elem = {TCC_TYPE_TENSOR, TCC_DTYPE_F32, 0, NULL, NULL}, st = {TCC_TYPE_SEQUENCE, 0, -1, NULL, &elem};
  seq->inputs[1] = tcc_graph_add_value(g, "s");
  CHECK_OK(tcc_value_set_type(seq->inputs[1], &st));
  CHECK_ERROR(seq, "input 1 ('s') must be a tensor, got seq<f32[]>");
  tcc_module_destroy(m);
}

TEST(prelu) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "batch, 3, 4, 4");
  CHECK_STR(infer(node(g, TCC_OP_PRELU, 1, 2, x, input(g, TCC_DTYPE_F32, "3, 1, 1"))), "f32[batch, 3, 4, 4]");
  CHECK_STR(infer(node(g, TCC_OP_PRELU, 1, 2, x, input(g, TCC_DTYPE_F32, "1"))), "f32[batch, 3, 4, 4]");
  CHECK_ERROR(node(g, TCC_OP_PRELU, 1, 2, x, input(g, TCC_DTYPE_F32, "3")), "slope dimension 3");
  CHECK_ERROR(node(g, TCC_OP_PRELU, 1, 2, input(g, TCC_DTYPE_F32, "3"), input(g, TCC_DTYPE_F32, "1, 3")),
                    "slope of rank 2");
  tcc_module_destroy(m);
}

TEST(arithmetic_contents) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *s = shape_input(g, "batch, seq, 64");
  int64_t two = 2, v3[3] = {1, 1, 8}, one = 1;
  tcc_node_t *mul = node(g, TCC_OP_MUL, 1, 2, s, const_i64(g, 0, 1, &two));
  CHECK_STR(infer(mul), "i64[3]");
  CHECK_STR(data(mul->outputs[0]), "[2*batch, 2*seq, 128]");
  tcc_node_t *div = node(g, TCC_OP_DIV, 1, 2, s, const_i64(g, 1, 3, v3));
  CHECK_STR(infer(div), "i64[3]");
  CHECK_STR(data(div->outputs[0]), "[batch, seq, 8]");
  tcc_node_t *div2 = node(g, TCC_OP_DIV, 1, 2, mul->outputs[0], const_i64(g, 0, 1, &two));
  CHECK_STR(infer(div2), "i64[3]");
  CHECK_STR(data(div2->outputs[0]), "[batch, seq, 64]");
  tcc_node_t *add = node(g, TCC_OP_ADD, 1, 2, s, const_i64(g, 1, 1, &one));
  CHECK_STR(infer(add), "i64[3]");
  CHECK_STR(data(add->outputs[0]), "[batch + 1, seq + 1, 65]");
  tcc_node_t *sub = node(g, TCC_OP_SUB, 1, 2, add->outputs[0], s);
  CHECK(infer(sub) && strcmp(data(sub->outputs[0]), "[1, 1, 1]") == 0);
  /* Div by a symbol: exact polynomial division only */
  tcc_value_t *bs = shape_input(g, "8*batch*seq"), *sq = shape_input(g, "2*seq");
  tcc_node_t *ex = node(g, TCC_OP_DIV, 1, 2, bs, sq);
  CHECK_STR(infer(ex), "i64[1]");
  CHECK_STR(data(ex->outputs[0]), "[4*batch]");
  tcc_node_t *inexact = node(g, TCC_OP_DIV, 1, 2, sq, shape_input(g, "batch"));
  CHECK_STR(infer(inexact), "i64[1]");
  CHECK_STR(data(inexact->outputs[0]), "none");
  /* truncating division of constants */
  int64_t neg7 = -7;
  tcc_node_t *tr = node(g, TCC_OP_DIV, 1, 2, const_i64(g, 0, 1, &neg7), const_i64(g, 0, 1, &two));
  CHECK_STR(infer(tr), "i64[]");
  CHECK_STR(data(tr->outputs[0]), "[-3]");
  /* float arithmetic and incompatible lengths carry nothing */
  tcc_node_t *fl = node(g, TCC_OP_MUL, 1, 2, input(g, TCC_DTYPE_F32, "3"), input(g, TCC_DTYPE_F32, "3"));
  CHECK_STR(infer(fl), "f32[3]");
  CHECK_STR(data(fl->outputs[0]), "none");
  tcc_node_t *unknown = node(g, TCC_OP_ADD, 1, 2, s, input(g, TCC_DTYPE_I64, "3"));
  CHECK_STR(infer(unknown), "i64[3]");
  CHECK_STR(data(unknown->outputs[0]), "none");
  tcc_module_destroy(m);
}

TEST(compare_and_where) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *a = input(g, TCC_DTYPE_F32, "batch, 4"), *b = input(g, TCC_DTYPE_F32, "4");
  CHECK_STR(infer(node(g, TCC_OP_LESS, 1, 2, a, b)), "bool[batch, 4]");
  CHECK_STR(infer(node(g, TCC_OP_AND, 1, 2, input(g, TCC_DTYPE_BOOL, "*"), input(g, TCC_DTYPE_BOOL, "2"))), "bool[*]");
  CHECK_ERROR(node(g, TCC_OP_EQUAL, 1, 2, a, input(g, TCC_DTYPE_I64, "4")), "different element types");
  /* Reshape-target pattern: Where(Equal(shape, -1), 1, shape) */
  tcc_value_t *s = shape_input(g, "batch, -1, 64");
  int64_t minus1 = -1, one = 1;
  tcc_node_t *eq = node(g, TCC_OP_EQUAL, 1, 2, s, const_i64(g, 0, 1, &minus1));
  CHECK_STR(infer(eq), "bool[3]");
  CHECK_STR(data(eq->outputs[0]), "[0, 1, 0]");
  tcc_node_t *w = node(g, TCC_OP_WHERE, 1, 3, eq->outputs[0], const_i64(g, 0, 1, &one), s);
  CHECK_STR(infer(w), "i64[3]");
  CHECK_STR(data(w->outputs[0]), "[batch, 1, 64]");
  tcc_node_t *gt = node(g, TCC_OP_GREATER, 1, 2, shape_input(g, "seq + 1, seq, 3"), shape_input(g, "seq"));
  CHECK_STR(infer(gt), "bool[3]");
  CHECK_STR(data(gt->outputs[0]), "none"); /* 3 > seq is not known */
  tcc_node_t *ge = node(g, TCC_OP_GREATER_OR_EQUAL, 1, 2, shape_input(g, "seq + 1, seq, 0"), shape_input(g, "seq"));
  CHECK_STR(infer(ge), "bool[3]");
  CHECK_STR(data(ge->outputs[0]), "none");
  tcc_node_t *le = node(g, TCC_OP_LESS_OR_EQUAL, 1, 2, shape_input(g, "seq + 1, seq, -3"), shape_input(g, "seq"));
  CHECK_STR(infer(le), "bool[3]");
  CHECK_STR(data(le->outputs[0]), "[0, 1, 1]");
  /* shapes */
  tcc_value_t *c = input(g, TCC_DTYPE_BOOL, "batch, 1, 1");
  CHECK_STR(infer(node(g, TCC_OP_WHERE, 1, 3, c, input(g, TCC_DTYPE_F16, "seq, 1"), input(g, TCC_DTYPE_F16, "8"))),
            "f16[batch, seq, 8]");
  CHECK_ERROR(node(g, TCC_OP_WHERE, 1, 3, a, a, a), "condition must be bool, got f32");
  CHECK_ERROR(node(g, TCC_OP_WHERE, 1, 3, c, a, input(g, TCC_DTYPE_F16, "4")), "different element types");
  CHECK_ERROR(node(g, TCC_OP_WHERE, 1, 2, c, a), "input 2 is missing");
  tcc_module_destroy(m);
}

TEST(variadic_ops) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *a = input(g, TCC_DTYPE_F32, "3"), *b = input(g, TCC_DTYPE_F32, "batch, 1");
  tcc_value_t *c = input(g, TCC_DTYPE_F32, "");
  CHECK_STR(infer(node(g, TCC_OP_SUM, 1, 3, a, b, c)), "f32[batch, 3]");
  CHECK_STR(infer(node(g, TCC_OP_MEAN, 1, 1, b)), "f32[batch, 1]");
  CHECK_STR(infer(node(g, TCC_OP_MAX, 1, 2, a, input(g, TCC_DTYPE_F32, "*"))), "f32[*]");
  CHECK_ERROR(node(g, TCC_OP_MIN, 1, 2, a, input(g, TCC_DTYPE_F32, "4")), "cannot broadcast");
  CHECK_ERROR(node(g, TCC_OP_MIN, 1, 2, a, input(g, TCC_DTYPE_F64, "3")), "different element types");
  CHECK_ERROR(node(g, TCC_OP_SUM, 1, 0), "input 0 is missing");
  CHECK_ERROR(node(g, TCC_OP_SUM, 1, 3, a, NULL, a), "input 1 is missing");
  tcc_node_t *mx = node(g, TCC_OP_MAX, 1, 2, shape_input(g, "batch, 0, 7"), shape_input(g, "0, 5, 2"));
  CHECK_STR(infer(mx), "i64[3]");
  CHECK_STR(data(mx->outputs[0]), "[batch, 5, 7]");
  tcc_node_t *mn = node(g, TCC_OP_MIN, 1, 2, shape_input(g, "batch, seq"), shape_input(g, "-1, 4"));
  CHECK_STR(infer(mn), "i64[2]");
  CHECK_STR(data(mn->outputs[0]), "none");
  tcc_node_t *sum = node(g, TCC_OP_SUM, 1, 3, shape_input(g, "batch"), shape_input(g, "seq"), shape_input(g, "1"));
  CHECK_STR(infer(sum), "i64[1]");
  CHECK_STR(data(sum->outputs[0]), "[batch + seq + 1]");
  tcc_module_destroy(m);
}

TEST(casts) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "batch, 3");
  tcc_node_t *c = node(g, TCC_OP_CAST, 1, 1, x);
  attr_int(c, "to", TCC_DTYPE_F16);
  CHECK_STR(infer(c), "f16[batch, 3]");
  CHECK_ERROR(node(g, TCC_OP_CAST, 1, 1, x), "missing integer attribute 'to'");
  tcc_node_t *bad = node(g, TCC_OP_CAST, 1, 1, x);
  attr_int(bad, "to", 99);
  CHECK_ERROR(bad, "not a known element type (99)");
  /* contents survive int64 -> int32, and float constants truncate */
  tcc_node_t *i32 = node(g, TCC_OP_CAST, 1, 1, shape_input(g, "batch, 64"));
  attr_int(i32, "to", TCC_DTYPE_I32);
  CHECK_STR(infer(i32), "i32[2]");
  CHECK_STR(data(i32->outputs[0]), "[batch, 64]");
  float fv[2] = {2.7f, -3.2f};
  tcc_node_t *fi = node(g, TCC_OP_CAST, 1, 1, const_f32(g, 2, fv));
  attr_int(fi, "to", TCC_DTYPE_I64);
  CHECK_STR(infer(fi), "i64[2]");
  CHECK_STR(data(fi->outputs[0]), "[2, -3]");
  tcc_node_t *u8 = node(g, TCC_OP_CAST, 1, 1, shape_input(g, "300"));
  attr_int(u8, "to", TCC_DTYPE_U8);
  CHECK_STR(infer(u8), "u8[1]");
  CHECK_STR(data(u8->outputs[0]), "none");
  tcc_node_t *to_f = node(g, TCC_OP_CAST, 1, 1, shape_input(g, "batch"));
  attr_int(to_f, "to", TCC_DTYPE_F32);
  CHECK_STR(infer(to_f), "f32[1]");
  CHECK_STR(data(to_f->outputs[0]), "none");
  /* CastLike */
  tcc_node_t *cl = node(g, TCC_OP_CAST_LIKE, 1, 2, shape_input(g, "seq, 2"), input(g, TCC_DTYPE_I32, ""));
  CHECK_STR(infer(cl), "i32[2]");
  CHECK_STR(data(cl->outputs[0]), "[seq, 2]");
  CHECK_STR(infer(node(g, TCC_OP_CAST_LIKE, 1, 2, x, input(g, TCC_DTYPE_BF16, "7"))), "bf16[batch, 3]");
  tcc_module_destroy(m);
}

TEST(dropout) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "batch, 8");
  tcc_node_t *d = node(g, TCC_OP_DROPOUT, 2, 3, x, input(g, TCC_DTYPE_F32, ""), input(g, TCC_DTYPE_BOOL, ""));
  CHECK_STR(infer(d), "f32[batch, 8]");
  CHECK_STR(ty(d->outputs[1]), "bool[batch, 8]");
  tcc_node_t *d1 = node(g, TCC_OP_DROPOUT, 2, 1, x);
  d1->outputs[1] = NULL;
  CHECK_STR(infer(d1), "f32[batch, 8]");
  tcc_module_destroy(m);
}

TEST(reductions) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "batch, 3, 4");
  int64_t ax1 = 1, axm1 = -1, ax2[2] = {0, -1}, rep[2] = {1, -2}, bad = 3;
  CHECK_STR(infer(node(g, TCC_OP_REDUCE_SUM, 1, 2, x, const_i64(g, 1, 1, &ax1))), "f32[batch, 1, 4]");
  tcc_node_t *n = node(g, TCC_OP_REDUCE_MEAN, 1, 2, x, const_i64(g, 1, 2, ax2));
  attr_int(n, "keepdims", 0);
  CHECK_STR(infer(n), "f32[3]");
  CHECK_STR(infer(node(g, TCC_OP_REDUCE_MAX, 1, 2, x, const_i64(g, 1, 1, &axm1))), "f32[batch, 3, 1]");
  CHECK_STR(infer(node(g, TCC_OP_REDUCE_L2, 1, 1, x)), "f32[1, 1, 1]");
  CHECK_STR(infer(node(g, TCC_OP_REDUCE_L1, 1, 2, x, const_i64(g, 1, 0, NULL))), "f32[1, 1, 1]");
  n = node(g, TCC_OP_REDUCE_PROD, 1, 2, x, NULL);
  attr_int(n, "keepdims", 0);
  CHECK_STR(infer(n), "f32[]");
  n = node(g, TCC_OP_REDUCE_LOG_SUM, 1, 2, x, const_i64(g, 1, 0, NULL));
  attr_int(n, "noop_with_empty_axes", 1);
  CHECK_STR(infer(n), "f32[batch, 3, 4]");
  /* unknown rank */
  n = node(g, TCC_OP_REDUCE_SUM, 1, 1, input(g, TCC_DTYPE_F32, "*"));
  attr_int(n, "keepdims", 0);
  CHECK_STR(infer(n), "f32[]");
  CHECK_STR(infer(node(g, TCC_OP_REDUCE_SUM, 1, 2, input(g, TCC_DTYPE_F32, "*"), const_i64(g, 1, 1, &ax1))), "f32[*]");
  /* axes known only at run time */
  tcc_value_t *y = input(g, TCC_DTYPE_F32, "batch, 1, 4");
  const char *r = infer(node(g, TCC_OP_REDUCE_SUM, 1, 2, y, input(g, TCC_DTYPE_I64, "2")));
  CHECK(strncmp(r, "f32[?", 5) == 0 && strstr(r, ", 1, ?"));
  n = node(g, TCC_OP_REDUCE_SUM, 1, 2, y, input(g, TCC_DTYPE_I64, "2"));
  attr_int(n, "keepdims", 0);
  CHECK_STR(infer(n), "f32[*]");
  CHECK_STR(infer(node(g, TCC_OP_REDUCE_SUM, 1, 2, y, input(g, TCC_DTYPE_I64, "0"))), "f32[1, 1, 1]");
  /* errors */
  CHECK_ERROR(node(g, TCC_OP_REDUCE_SUM, 1, 2, x, const_i64(g, 1, 1, &bad)), "axis 3 is out of range");
  CHECK_ERROR(node(g, TCC_OP_REDUCE_SUM, 1, 2, x, const_i64(g, 1, 2, rep)), "axis -2 is repeated");
  /* contents: ReduceProd of a shape is the element count */
  n = node(g, TCC_OP_REDUCE_PROD, 1, 1, shape_input(g, "batch, seq, 64"));
  attr_int(n, "keepdims", 0);
  CHECK_STR(infer(n), "i64[]");
  CHECK_STR(data(n->outputs[0]), "[64*batch*seq]");
  n = node(g, TCC_OP_REDUCE_SUM, 1, 2, shape_input(g, "batch, 2"), const_i64(g, 1, 1, &ax1));
  CHECK(strncmp(infer(n), "error", 5) == 0); /* axis 1 of a 1-D tensor */
  n = node(g, TCC_OP_REDUCE_MAX, 1, 1, shape_input(g, "batch, -1"));
  CHECK_STR(infer(n), "i64[1]");
  CHECK_STR(data(n->outputs[0]), "[batch]");
  tcc_module_destroy(m);
}

TEST(arg_reductions) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F16, "batch, 3, 4");
  CHECK_STR(infer(node(g, TCC_OP_ARGMAX, 1, 1, x)), "i64[1, 3, 4]");
  tcc_node_t *n = node(g, TCC_OP_ARGMIN, 1, 1, x);
  attr_int(n, "axis", -1);
  attr_int(n, "keepdims", 0);
  CHECK_STR(infer(n), "i64[batch, 3]");
  CHECK_STR(infer(node(g, TCC_OP_ARGMAX, 1, 1, input(g, TCC_DTYPE_F32, "*"))), "i64[*]");
  n = node(g, TCC_OP_ARGMAX, 1, 1, x);
  attr_int(n, "axis", -4);
  CHECK_ERROR(n, "axis -4 is out of range for rank 3");
  tcc_module_destroy(m);
}

TEST(quantization) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "batch, 16"), *scale = input(g, TCC_DTYPE_F32, "");
  CHECK_STR(infer(node(g, TCC_OP_QUANTIZE_LINEAR, 1, 2, x, scale)), "u8[batch, 16]");
  CHECK_STR(infer(node(g, TCC_OP_QUANTIZE_LINEAR, 1, 3, x, scale, input(g, TCC_DTYPE_I8, ""))), "i8[batch, 16]");
  tcc_node_t *n = node(g, TCC_OP_QUANTIZE_LINEAR, 1, 3, x, scale, NULL);
  attr_int(n, "output_dtype", TCC_DTYPE_F8E4M3FN);
  CHECK_STR(infer(n), "f8e4m3fn[batch, 16]");
  n = node(g, TCC_OP_QUANTIZE_LINEAR, 1, 3, x, scale, input(g, TCC_DTYPE_U8, ""));
  attr_int(n, "output_dtype", TCC_DTYPE_I4);
  CHECK_ERROR(n, "output_dtype i4 differs from the zero point's element type u8");
  CHECK_ERROR(node(g, TCC_OP_QUANTIZE_LINEAR, 1, 1, x), "input 1 is missing");
  tcc_value_t *q = input(g, TCC_DTYPE_I8, "batch, 16");
  CHECK_STR(infer(node(g, TCC_OP_DEQUANTIZE_LINEAR, 1, 2, q, input(g, TCC_DTYPE_F16, "16"))), "f16[batch, 16]");
  n = node(g, TCC_OP_DEQUANTIZE_LINEAR, 1, 3, q, scale, input(g, TCC_DTYPE_I8, ""));
  attr_int(n, "output_dtype", TCC_DTYPE_BF16);
  CHECK_STR(infer(n), "bf16[batch, 16]");
  n = node(g, TCC_OP_DYNAMIC_QUANTIZE_LINEAR, 3, 1, x);
  CHECK_STR(infer(n), "u8[batch, 16]");
  CHECK_STR(ty(n->outputs[1]), "f32[]");
  CHECK_STR(ty(n->outputs[2]), "u8[]");
  tcc_module_destroy(m);
}

/* A chain inferred by tcc_graph_infer: the contents flow from node to node. */
TEST(graph_chain) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *s = shape_input(g, "batch, seq, 768");
  int64_t heads[2] = {12, 64}, two = 2;
  tcc_node_t *prod = node(g, TCC_OP_REDUCE_PROD, 1, 2, s, const_i64(g, 1, 1, (int64_t[]){0}));
  tcc_node_t *half = node(g, TCC_OP_DIV, 1, 2, prod->outputs[0], const_i64(g, 0, 1, &two));
  tcc_node_t *mul = node(g, TCC_OP_MUL, 1, 2, s, const_i64(g, 0, 1, &two));
  tcc_node_t *cat = node(g, TCC_OP_MUL, 1, 2, const_i64(g, 1, 2, heads), half->outputs[0]);
  CHECK_OK(tcc_graph_infer(g));
  CHECK_STR(data(prod->outputs[0]), "[768*batch*seq]");
  CHECK_STR(data(half->outputs[0]), "[384*batch*seq]");
  CHECK_STR(data(mul->outputs[0]), "[2*batch, 2*seq, 1536]");
  CHECK_STR(ty(cat->outputs[0]), "i64[2]");
  CHECK_STR(data(cat->outputs[0]), "[4608*batch*seq, 24576*batch*seq]");
  /* re-inference forgets stale contents */
  s->shape_data_len = -1;
  CHECK_OK(tcc_graph_infer(g));
  CHECK_STR(data(mul->outputs[0]), "none");
  tcc_module_destroy(m);
}

RUN_TESTS(T(unary_ops), T(binary_broadcast), T(prelu), T(arithmetic_contents), T(compare_and_where), T(variadic_ops),
          T(casts), T(dropout), T(reductions), T(arg_reductions), T(quantization), T(graph_chain))
