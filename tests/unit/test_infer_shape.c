/* Shape inference of the shape, data-movement, sequence and control-flow ops (ir/infer_shape.c), including
 * symbolic shape data through the Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains of dynamic exports. */
#include <stdint.h>
#include <stdlib.h>

#include "ir/infer.h"
#include "tests/graph_builder.h"
#include "tests/test.h"

/* The shape data of v as text ("batch, seq, 256"), or "unknown". */
static const char *data(const tcc_value_t *v) { return data_text(v, "", "", "unknown"); }

static tcc_value_t *boolean(tcc_graph_t *g, bool value) {
  tcc_tensor_t *t = tcc_tensor_create(g->module, TCC_DTYPE_BOOL, 0, NULL);
  *(uint8_t *)t->data = value;
  return tcc_graph_add_constant(g, NULL, t);
}

#define INTS(g, ...) const_i64(g, 1, sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), (int64_t[]){__VA_ARGS__})

/* NODE(g, CONCAT, nout, a, b): node() with its inputs counted (NULL: omitted); NODE0 has no inputs; OUT is the
 * output of a one-output node. */
#define NODE(g, op, nout, ...) \
  node(g, TCC_OP_##op, nout, (int)(sizeof((tcc_value_t *[]){__VA_ARGS__}) / sizeof(tcc_value_t *)), __VA_ARGS__)
#define NODE0(g, op, nout) node(g, TCC_OP_##op, nout, 0)
#define OUT(g, op, ...) NODE(g, op, 1, __VA_ARGS__)->outputs[0]

/* Infers g, expecting success. */
static bool infer_ok(tcc_graph_t *g) {
  tcc_status_t st = tcc_graph_infer(g);
  if (st) fprintf(stderr, "unexpected error: %s\n", tcc_status_message(st));
  tcc_status_free(st);
  return st == NULL;
}

/* Infers g, expecting an error whose message contains needle. */
static bool infer_fails(tcc_graph_t *g, const char *needle) {
  tcc_status_t st = tcc_graph_infer(g);
  bool ok = st && strstr(tcc_status_message(st), needle);
  if (!ok) fprintf(stderr, "expected an error with \"%s\", got: %s\n", needle, st ? tcc_status_message(st) : "OK");
  tcc_status_free(st);
  return ok;
}

static bool is_fresh(const char *dim) { return dim[0] == '?'; }

/* ---- shape data chains ---- */

TEST(dynamic_reshape_chain) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "batch, seq, 256");
  tcc_value_t *shape = OUT(g, SHAPE, x);
  tcc_value_t *b = OUT(g, GATHER, shape, scalar(g, 0)), *s = OUT(g, GATHER, shape, scalar(g, 1));
  tcc_value_t *ub = OUT(g, UNSQUEEZE, b, INTS(g, 0)), *us = OUT(g, UNSQUEEZE, s, INTS(g, 0));
  tcc_node_t *cat = NODE(g, CONCAT, 1, ub, us, INTS(g, 4), INTS(g, 64));
  attr_int(cat, "axis", 0);
  tcc_value_t *y = OUT(g, RESHAPE, x, cat->outputs[0]);
  tcc_node_t *cat2 = NODE(g, CONCAT, 1, ub, us, INTS(g, -1), INTS(g, 64));
  attr_int(cat2, "axis", 0);
  tcc_value_t *y2 = OUT(g, RESHAPE, x, cat2->outputs[0]);
  tcc_value_t *flat = OUT(g, RESHAPE, x, INTS(g, -1, 256));
  tcc_value_t *back = OUT(g, RESHAPE, flat, OUT(g, SHAPE, x));
  CHECK(infer_ok(g));
  CHECK_STR(ty(shape), "i64[3]");
  CHECK_STR(data(shape), "batch, seq, 256");
  CHECK_STR(ty(b), "i64[]");
  CHECK_STR(data(b), "batch");
  CHECK_STR(ty(ub), "i64[1]");
  CHECK_STR(data(us), "seq");
  CHECK_STR(data(cat->outputs[0]), "batch, seq, 4, 64");
  CHECK_STR(ty(y), "f32[batch, seq, 4, 64]");
  CHECK_STR(ty(y2), "f32[batch, seq, 4, 64]");
  CHECK_STR(ty(flat), "f32[batch*seq, 256]");
  CHECK_STR(ty(back), "f32[batch, seq, 256]");
  tcc_module_destroy(m);
}

TEST(shape_data_ops) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "batch, seq, 8, 64");
  tcc_value_t *shape = OUT(g, SHAPE, x);
  tcc_node_t *tail = NODE(g, SHAPE, 1, x);
  attr_int(tail, "start", -2);
  tcc_value_t *head = OUT(g, SLICE, shape, INTS(g, 0), INTS(g, 2));
  tcc_value_t *picked = OUT(g, GATHER, shape, INTS(g, 1, -1));
  tcc_value_t *size = OUT(g, SIZE, x);
  tcc_value_t *sq = OUT(g, SQUEEZE, OUT(g, SLICE, shape, INTS(g, 1), INTS(g, 2)), INTS(g, 0));
  tcc_value_t *range = OUT(g, RANGE, scalar(g, 0), sq, scalar(g, 1));
  tcc_value_t *crange = OUT(g, RANGE, scalar(g, 1), scalar(g, 10), scalar(g, 3));
  tcc_node_t *cst = NODE0(g, CONSTANT, 1);
  tcc_status_free(tcc_node_set_attr_ints(cst, "value_ints", (int64_t[]){2, 3}, 2));
  tcc_value_t *fill = OUT(g, CONSTANT_OF_SHAPE, head);
  tcc_node_t *split = NODE(g, SPLIT, 2, shape, INTS(g, 1, 3));
  CHECK(infer_ok(g));
  CHECK_STR(data(tail->outputs[0]), "8, 64");
  CHECK_STR(ty(head), "i64[2]");
  CHECK_STR(data(head), "batch, seq");
  CHECK_STR(data(picked), "seq, 64");
  CHECK_STR(ty(size), "i64[]");
  CHECK_STR(data(size), "512*batch*seq");
  CHECK_STR(data(sq), "seq");
  CHECK_STR(ty(range), "i64[seq]");
  CHECK_STR(ty(crange), "i64[3]");
  CHECK_STR(data(crange), "1, 4, 7");
  CHECK_STR(ty(cst->outputs[0]), "i64[2]");
  CHECK_STR(data(cst->outputs[0]), "2, 3");
  CHECK_STR(ty(fill), "f32[batch, seq]");
  CHECK_STR(data(split->outputs[0]), "batch");
  CHECK_STR(data(split->outputs[1]), "seq, 8, 64");
  tcc_module_destroy(m);
}

/* ---- reshaping ---- */

TEST(reshape) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "2, 3, 4");
  tcc_value_t *a = OUT(g, RESHAPE, x, INTS(g, 0, -1));
  tcc_value_t *b = OUT(g, RESHAPE, x, INTS(g, -1));
  tcc_node_t *z = NODE(g, RESHAPE, 1, input(g, TCC_DTYPE_F32, "0, 3"), INTS(g, 3, 0));
  attr_int(z, "allowzero", 1);
  tcc_value_t *sym = input(g, TCC_DTYPE_F16, "batch, 12");
  tcc_value_t *c = OUT(g, RESHAPE, sym, INTS(g, 0, 3, -1));
  tcc_node_t *attr = NODE(g, RESHAPE, 1, sym);
  const tcc_dim_t *target[] = {tcc_dim_const(m, -1), tcc_dim_symbol(m, "batch"), tcc_dim_const(m, 3)};
  tcc_status_free(tcc_node_set_attr_dims(attr, "shape", target, 3));
  CHECK(infer_ok(g));
  CHECK_STR(ty(a), "f32[2, 12]");
  CHECK_STR(ty(b), "f32[24]");
  CHECK_STR(ty(z->outputs[0]), "f32[3, 0]");
  CHECK_STR(ty(c), "f16[batch, 3, 4]");
  CHECK_STR(ty(attr->outputs[0]), "f16[4, batch, 3]");
  tcc_module_destroy(m);
}

TEST(reshape_errors) {
  const char *cases[][2] = {{"-1, -1", "more than one -1"}, {"5, 5", "cannot reshape 24 elements"},
                            {"5, -1", "cannot reshape 24"},  {"2, 3, 4, 0", "is 0 (copy) but the input has rank 3"},
                            {"-2, 12", "invalid target dimension -2"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tcc_module_t *m = new_module();
    tcc_graph_t *g = m->graph;
    int64_t v[4], n = 0;
    for (char *p = (char *)cases[i][0]; *p; p += *p == ',' ? 1 : 0) v[n++] = strtoll(p, &p, 10);
    (void)OUT(g, RESHAPE, input(g, TCC_DTYPE_F32, "2, 3, 4"), const_i64(g, 1, n, v));
    CHECK(infer_fails(g, cases[i][1]));
    tcc_module_destroy(m);
  }
}

TEST(flatten_squeeze_unsqueeze) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "batch, 3, 4");
  tcc_value_t *f1 = OUT(g, FLATTEN, x);
  tcc_node_t *f0 = NODE(g, FLATTEN, 1, x);
  attr_int(f0, "axis", 0);
  tcc_node_t *fm = NODE(g, FLATTEN, 1, x);
  attr_int(fm, "axis", -1);
  tcc_value_t *y = input(g, TCC_DTYPE_I32, "1, batch, 1");
  tcc_value_t *s_all = OUT(g, SQUEEZE, y);
  tcc_value_t *s0 = OUT(g, SQUEEZE, y, INTS(g, 0));
  tcc_value_t *u = OUT(g, UNSQUEEZE, input(g, TCC_DTYPE_BOOL, "3"), INTS(g, -1, 0));
  tcc_value_t *axes = input(g, TCC_DTYPE_I64, "1");
  tcc_value_t *s_rt = OUT(g, SQUEEZE, input(g, TCC_DTYPE_F32, "3, 1, 4"), axes);
  tcc_value_t *s_rt2 = OUT(g, SQUEEZE, input(g, TCC_DTYPE_F32, "1, 4, 1"), axes);
  CHECK(infer_ok(g));
  CHECK_STR(ty(f1), "f32[batch, 12]");
  CHECK_STR(ty(f0->outputs[0]), "f32[1, 12*batch]");
  CHECK_STR(ty(fm->outputs[0]), "f32[3*batch, 4]");
  CHECK_STR(ty(s_all), "i32[batch]");
  CHECK_STR(ty(s0), "i32[batch, 1]");
  CHECK_STR(ty(u), "bool[1, 3, 1]");
  CHECK_STR(ty(s_rt), "f32[3, 4]");
  CHECK(s_rt2->type.rank == 2 && is_fresh(ty(s_rt2) + 4));
  tcc_module_destroy(m);

  m = new_module();
  (void)OUT(m->graph, SQUEEZE, input(m->graph, TCC_DTYPE_F32, "1, 3"), INTS(m->graph, 1));
  CHECK(infer_fails(m->graph, "cannot squeeze axis 1 of size 3"));
  tcc_module_destroy(m);
  m = new_module();
  (void)OUT(m->graph, UNSQUEEZE, input(m->graph, TCC_DTYPE_F32, "3"), INTS(m->graph, 0, -3));
  CHECK(infer_fails(m->graph, "axis 0 appears more than once"));
  tcc_module_destroy(m);
  m = new_module();
  tcc_node_t *bad = NODE(m->graph, FLATTEN, 1, input(m->graph, TCC_DTYPE_F32, "3"));
  attr_int(bad, "axis", 2);
  CHECK(infer_fails(m->graph, "axis 2 is out of range for rank 1"));
  tcc_module_destroy(m);
}

TEST(transpose) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "batch, seq, 8, 64");
  tcc_value_t *rev = OUT(g, TRANSPOSE, x);
  tcc_node_t *p = NODE(g, TRANSPOSE, 1, x);
  attr_ints(p, "perm", 4, (int64_t[]){0, 2, 1, 3});
  CHECK(infer_ok(g));
  CHECK_STR(ty(rev), "f32[64, 8, seq, batch]");
  CHECK_STR(ty(p->outputs[0]), "f32[batch, 8, seq, 64]");
  tcc_module_destroy(m);

  const int64_t perms[][3] = {{0, 0, 1}, {0, 1, 3}};
  for (int i = 0; i < 2; i++) {
    m = new_module();
    tcc_node_t *n = NODE(m->graph, TRANSPOSE, 1, input(m->graph, TCC_DTYPE_F32, "2, 3, 4"));
    attr_ints(n, "perm", 3, perms[i]);
    CHECK(infer_fails(m->graph, "perm is not a permutation"));
    tcc_module_destroy(m);
  }
  m = new_module();
  tcc_node_t *n = NODE(m->graph, TRANSPOSE, 1, input(m->graph, TCC_DTYPE_F32, "2, 3, 4"));
  attr_ints(n, "perm", 2, (int64_t[]){1, 0});
  CHECK(infer_fails(m->graph, "perm has 2 entries for rank 3"));
  tcc_module_destroy(m);
}

/* ---- concat, split, slice ---- */

TEST(concat) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *a = input(g, TCC_DTYPE_F32, "batch, 3"), *b = input(g, TCC_DTYPE_F32, "batch, 5");
  tcc_value_t *c = input(g, TCC_DTYPE_F32, "2, 3");
  tcc_node_t *n1 = NODE(g, CONCAT, 1, a, b);
  attr_int(n1, "axis", -1);
  tcc_node_t *n2 = NODE(g, CONCAT, 1, a, c, a);
  attr_int(n2, "axis", 0);
  tcc_node_t *n3 = NODE(g, CONCAT, 1, input(g, TCC_DTYPE_F32, "seq, 3"), input(g, TCC_DTYPE_F32, "seq, 4"));
  attr_int(n3, "axis", 1);
  CHECK(infer_ok(g));
  CHECK_STR(ty(n1->outputs[0]), "f32[batch, 8]");
  CHECK_STR(ty(n2->outputs[0]), "f32[2*batch + 2, 3]");
  CHECK_STR(ty(n3->outputs[0]), "f32[seq, 7]");
  tcc_module_destroy(m);

  struct {
    const char *a, *b;
    int64_t axis;
    const char *error;
  } cases[] = {{"2, 3", "2, 4", 0, "dimension 1 of input 1 is 4, expected 3"},
               {"2, 3", "2, 3, 1", 0, "input 1 has rank 3, expected 2"},
               {"2, 3", "2, 3", 2, "axis 2 is out of range for rank 2"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    m = new_module();
    tcc_node_t *n = NODE(m->graph, CONCAT, 1, input(m->graph, TCC_DTYPE_F32, cases[i].a),
                         input(m->graph, TCC_DTYPE_F32, cases[i].b));
    attr_int(n, "axis", cases[i].axis);
    CHECK(infer_fails(m->graph, cases[i].error));
    tcc_module_destroy(m);
  }
  m = new_module();
  NODE(m->graph, CONCAT, 1, input(m->graph, TCC_DTYPE_F32, "2"));
  CHECK(infer_fails(m->graph, "missing the 'axis' attribute"));
  tcc_module_destroy(m);
}

TEST(split) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "batch, 10");
  tcc_node_t *var = NODE(g, SPLIT, 2, x, INTS(g, 3, 7));
  attr_int(var, "axis", 1);
  tcc_node_t *eq = NODE(g, SPLIT, 2, x);
  attr_int(eq, "axis", -1);
  tcc_node_t *uneven = NODE(g, SPLIT, 4, input(g, TCC_DTYPE_F32, "7"));
  attr_int(uneven, "num_outputs", 4);
  tcc_node_t *sym = NODE(g, SPLIT, 2, input(g, TCC_DTYPE_F32, "2*seq, 3"));
  CHECK(infer_ok(g));
  CHECK_STR(ty(var->outputs[0]), "f32[batch, 3]");
  CHECK_STR(ty(var->outputs[1]), "f32[batch, 7]");
  CHECK_STR(ty(eq->outputs[1]), "f32[batch, 5]");
  CHECK_STR(ty(uneven->outputs[2]), "f32[2]");
  CHECK_STR(ty(uneven->outputs[3]), "f32[1]");
  CHECK_STR(ty(sym->outputs[1]), "f32[seq, 3]");
  tcc_module_destroy(m);

  m = new_module();
  NODE(m->graph, SPLIT, 3, input(m->graph, TCC_DTYPE_F32, "10"));
  CHECK(infer_fails(m->graph, "cannot split axis 0 of size 10 into 3 outputs"));
  tcc_module_destroy(m);
  m = new_module();
  NODE(m->graph, SPLIT, 2, input(m->graph, TCC_DTYPE_F32, "10"), INTS(m->graph, 3, 4));
  CHECK(infer_fails(m->graph, "split sizes sum to 7 but axis 0 has size 10"));
  tcc_module_destroy(m);
}

TEST(slice) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "batch, seq, 64");
  tcc_value_t *all = OUT(g, SLICE, x, INTS(g, 0), INTS(g, INT64_MAX), INTS(g, 1));
  tcc_value_t *drop_last = OUT(g, SLICE, x, INTS(g, 0), INTS(g, -1), INTS(g, 1));
  tcc_value_t *drop_first = OUT(g, SLICE, x, INTS(g, 1), INTS(g, INT64_MAX), INTS(g, -2));
  tcc_value_t *last = OUT(g, SLICE, x, INTS(g, -1), INTS(g, INT64_MAX), INTS(g, 1));
  tcc_value_t *rev = OUT(g, SLICE, x, INTS(g, -1), INTS(g, INT64_MIN), INTS(g, 1), INTS(g, -1));
  tcc_value_t *strided = OUT(g, SLICE, x, INTS(g, 1, 0), INTS(g, 64, INT64_MAX), INTS(g, 2, 0), INTS(g, 2, 1));
  tcc_value_t *neg = OUT(g, SLICE, x, INTS(g, 60), INTS(g, 10), INTS(g, 2), INTS(g, -7));
  tcc_value_t *ambiguous = OUT(g, SLICE, x, INTS(g, 0), INTS(g, 10), INTS(g, 0));
  tcc_value_t *sym_end = OUT(g, SLICE, input(g, TCC_DTYPE_F32, "512, 64"), INTS(g, 0),
                             OUT(g, GATHER, OUT(g, SHAPE, x), INTS(g, 1)), INTS(g, 0));
  tcc_value_t *clamped = OUT(g, SLICE, x, INTS(g, -100), INTS(g, 100), INTS(g, 2));
  CHECK(infer_ok(g));
  CHECK_STR(ty(all), "f32[batch, seq, 64]");
  CHECK_STR(ty(drop_last), "f32[batch, seq - 1, 64]");
  CHECK_STR(ty(drop_first), "f32[batch, seq - 1, 64]");
  CHECK_STR(ty(last), "f32[batch, 1, 64]");
  CHECK_STR(ty(rev), "f32[batch, seq, 64]");
  CHECK_STR(ty(strided), "f32[batch, seq, 32]");
  CHECK_STR(ty(neg), "f32[batch, seq, 8]");
  CHECK(ambiguous->type.rank == 3 && is_fresh(ty(ambiguous) + 4));
  CHECK_STR(ty(sym_end), "f32[seq, 64]");
  CHECK_STR(ty(clamped), "f32[batch, seq, 64]");
  tcc_module_destroy(m);

  m = new_module();
  (void)OUT(m->graph, SLICE, input(m->graph, TCC_DTYPE_F32, "4"), INTS(m->graph, 0), INTS(m->graph, 4),
      INTS(m->graph, 0), INTS(m->graph, 0));
  CHECK(infer_fails(m->graph, "step 0 is 0"));
  tcc_module_destroy(m);
  m = new_module();
  (void)OUT(m->graph, SLICE, input(m->graph, TCC_DTYPE_F32, "4"), INTS(m->graph, 0, 0), INTS(m->graph, 4));
  CHECK(infer_fails(m->graph, "starts has 2 entries but ends has 1"));
  tcc_module_destroy(m);
}

/* ---- gather, expand, tile, pad, one-hot ---- */

TEST(gathers) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "5, batch, 7");
  tcc_node_t *ga = NODE(g, GATHER, 1, x, input(g, TCC_DTYPE_I64, "2, 3"));
  attr_int(ga, "axis", 1);
  tcc_value_t *ge = OUT(g, GATHER_ELEMENTS, x, input(g, TCC_DTYPE_I32, "5, 2, 7"));
  tcc_value_t *gnd = OUT(g, GATHER_ND, x, input(g, TCC_DTYPE_I64, "4, 2"));
  tcc_value_t *sc = OUT(g, SCATTER_ND, x, input(g, TCC_DTYPE_I64, "4, 2"), input(g, TCC_DTYPE_F32, "4, 7"));
  CHECK(infer_ok(g));
  CHECK_STR(ty(ga->outputs[0]), "f32[5, 2, 3, 7]");
  CHECK_STR(ty(ge), "f32[5, 2, 7]");
  CHECK_STR(ty(gnd), "f32[4, 7]");
  CHECK_STR(ty(sc), "f32[5, batch, 7]");
  tcc_module_destroy(m);

  m = new_module();
  tcc_node_t *n = NODE(m->graph, GATHER, 1, input(m->graph, TCC_DTYPE_F32, "3, 4"), scalar(m->graph, 0));
  attr_int(n, "axis", -3);
  CHECK(infer_fails(m->graph, "axis -3 is out of range for rank 2"));
  tcc_module_destroy(m);
  m = new_module();
  (void)OUT(m->graph, GATHER, OUT(m->graph, SHAPE, input(m->graph, TCC_DTYPE_F32, "3, 4")), scalar(m->graph, 2));
  CHECK(infer_fails(m->graph, "index 2 is out of range"));
  tcc_module_destroy(m);
}

TEST(expand_tile_pad) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "3, 1");
  tcc_value_t *e = OUT(g, EXPAND, x, INTS(g, 2, 1, 4));
  tcc_value_t *y = input(g, TCC_DTYPE_F32, "batch, 1, 64");
  tcc_value_t *e2 = OUT(g, EXPAND, y, OUT(g, SHAPE, input(g, TCC_DTYPE_F32, "1, seq, 1")));
  tcc_value_t *t = OUT(g, TILE, input(g, TCC_DTYPE_F32, "batch, 2"), INTS(g, 2, 3));
  tcc_value_t *p = OUT(g, PAD, input(g, TCC_DTYPE_F32, "batch, 3"), INTS(g, 0, 1, 0, 2));
  tcc_value_t *pa = OUT(g, PAD, input(g, TCC_DTYPE_F32, "2, 3, 4"), INTS(g, 1, -1), NULL, INTS(g, -1));
  tcc_value_t *oh = OUT(g, ONE_HOT, input(g, TCC_DTYPE_I64, "batch"), scalar(g, 10), INTS(g, 0, 1));
  tcc_value_t *ccp = OUT(g, CENTER_CROP_PAD, input(g, TCC_DTYPE_U8, "20, 10, 3"), INTS(g, 16, 16, 3));
  CHECK(infer_ok(g));
  CHECK_STR(ty(e), "f32[2, 3, 4]");
  CHECK_STR(ty(e2), "f32[batch, seq, 64]");
  CHECK_STR(ty(t), "f32[2*batch, 6]");
  CHECK_STR(ty(p), "f32[batch, 6]");
  CHECK_STR(ty(pa), "f32[2, 3, 4]");
  CHECK_STR(ty(oh), "i64[batch, 10]");
  CHECK_STR(ty(ccp), "u8[16, 16, 3]");
  tcc_module_destroy(m);

  m = new_module();
  (void)OUT(m->graph, EXPAND, input(m->graph, TCC_DTYPE_F32, "3"), INTS(m->graph, 2, 4));
  CHECK(infer_fails(m->graph, "cannot broadcast dimension 3 with 4"));
  tcc_module_destroy(m);
  m = new_module();
  (void)OUT(m->graph, TILE, input(m->graph, TCC_DTYPE_F32, "3"), INTS(m->graph, 2, 4));
  CHECK(infer_fails(m->graph, "repeats has 2 entries for rank 1"));
  tcc_module_destroy(m);
  m = new_module();
  (void)OUT(m->graph, PAD, input(m->graph, TCC_DTYPE_F32, "3"), INTS(m->graph, 1));
  CHECK(infer_fails(m->graph, "pads has 1 entries, expected 2"));
  tcc_module_destroy(m);
}

/* ---- sequences and optionals ---- */

TEST(sequences) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *a = input(g, TCC_DTYPE_F32, "2, 3"), *b = input(g, TCC_DTYPE_F32, "2, 4");
  tcc_value_t *seq = OUT(g, SEQUENCE_CONSTRUCT, a, b);
  tcc_value_t *at = OUT(g, SEQUENCE_AT, seq, scalar(g, -1));
  tcc_value_t *at_any = OUT(g, SEQUENCE_AT, seq, input(g, TCC_DTYPE_I64, ""));
  tcc_node_t *stack = NODE(g, CONCAT_FROM_SEQUENCE, 1, seq);
  attr_int(stack, "axis", 1);
  tcc_value_t *from_empty = OUT(g, SEQUENCE_INSERT, NODE0(g, SEQUENCE_EMPTY, 1)->outputs[0], a);
  tcc_value_t *len = OUT(g, SEQUENCE_LENGTH, seq);
  tcc_value_t *empty = NODE0(g, SEQUENCE_EMPTY, 1)->outputs[0];
  tcc_value_t *ins = OUT(g, SEQUENCE_INSERT, seq, input(g, TCC_DTYPE_F32, "2, 3"));
  tcc_node_t *sts = NODE(g, SPLIT_TO_SEQUENCE, 1, input(g, TCC_DTYPE_F32, "5, batch"));
  attr_int(sts, "keepdims", 0);
  tcc_node_t *cfs = NODE(g, CONCAT_FROM_SEQUENCE, 1, sts->outputs[0]);
  attr_int(cfs, "axis", -1);
  attr_int(cfs, "new_axis", 1);
  tcc_value_t *opt = OUT(g, OPTIONAL, a);
  tcc_value_t *has = OUT(g, OPTIONAL_HAS_ELEMENT, opt);
  tcc_value_t *got = OUT(g, OPTIONAL_GET_ELEMENT, opt);
  tcc_value_t *id = OUT(g, IDENTITY, seq);
  CHECK(infer_ok(g));
  CHECK(strncmp(ty(seq), "seq<f32[2, ?", 12) == 0);
  CHECK_STR(ty(at), "f32[2, 4]");
  CHECK(strncmp(ty(at_any), "f32[2, ?", 8) == 0);
  CHECK_STR(ty(stack->outputs[0]), "f32[2, 7]");
  CHECK_STR(ty(from_empty), "seq<f32[2, 3]>");
  CHECK_STR(ty(len), "i64[]");
  CHECK_STR(data(len), "2");
  CHECK_STR(ty(empty), "seq<f32[*]>");
  CHECK(ins->type.kind == TCC_TYPE_SEQUENCE && ins->type.elem->rank == 2);
  CHECK_STR(ty(sts->outputs[0]), "seq<f32[batch]>");
  CHECK(strncmp(ty(cfs->outputs[0]), "f32[batch, ?", 12) == 0);
  CHECK_STR(ty(opt), "opt<f32[2, 3]>");
  CHECK_STR(ty(has), "bool[]");
  CHECK_STR(ty(got), "f32[2, 3]");
  CHECK(tcc_type_equal(&id->type, &seq->type));
  tcc_module_destroy(m);

  m = new_module();
  (void)OUT(m->graph, SEQUENCE_AT, input(m->graph, TCC_DTYPE_F32, "3"), scalar(m->graph, 0));
  CHECK(infer_fails(m->graph, "input 0 is not a sequence"));
  tcc_module_destroy(m);
  m = new_module();
  tcc_value_t *one = OUT(m->graph, SEQUENCE_CONSTRUCT, input(m->graph, TCC_DTYPE_F32, "3"));
  (void)OUT(m->graph, SEQUENCE_AT, one, scalar(m->graph, 1));
  CHECK(infer_fails(m->graph, "position 1 is out of range for a sequence of 1 tensors"));
  tcc_module_destroy(m);
}

/* ---- control flow ---- */

TEST(if_merges_branches) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *a = input(g, TCC_DTYPE_F32, "2, 3"), *b = input(g, TCC_DTYPE_F32, "2, 4");
  tcc_value_t *c = input(g, TCC_DTYPE_BOOL, "");
  tcc_graph_t *then_g = tcc_graph_create(m, g, "then"), *else_g = tcc_graph_create(m, g, "else");
  tcc_graph_add_output(then_g, OUT(then_g, IDENTITY, a));
  tcc_graph_add_output(then_g, OUT(then_g, SHAPE, a));
  tcc_graph_add_output(else_g, OUT(else_g, IDENTITY, b));
  tcc_graph_add_output(else_g, OUT(else_g, SHAPE, a));
  tcc_node_t *n = NODE(g, IF, 2, c);
  attr_graph(n, "then_branch", then_g);
  attr_graph(n, "else_branch", else_g);
  tcc_node_t *k = NODE(g, IF, 2, boolean(g, false));
  attr_graph(k, "then_branch", then_g);
  attr_graph(k, "else_branch", else_g);
  CHECK(infer_ok(g));
  CHECK(strncmp(ty(n->outputs[0]), "f32[2, ?", 8) == 0);
  CHECK_STR(ty(n->outputs[1]), "i64[2]");
  CHECK_STR(ty(k->outputs[0]), "f32[2, 4]");
  CHECK_STR(data(k->outputs[1]), "2, 3");
  tcc_module_destroy(m);

  m = new_module();
  g = m->graph;
  then_g = tcc_graph_create(m, g, "then");
  else_g = tcc_graph_create(m, g, "else");
  tcc_graph_add_output(then_g, OUT(then_g, IDENTITY, input(g, TCC_DTYPE_F32, "2")));
  tcc_graph_add_output(else_g, OUT(else_g, IDENTITY, input(g, TCC_DTYPE_I64, "2")));
  n = NODE(g, IF, 1, input(g, TCC_DTYPE_BOOL, ""));
  attr_graph(n, "then_branch", then_g);
  attr_graph(n, "else_branch", else_g);
  CHECK(infer_fails(g, "output 0 is f32 in then_branch but i64 in else_branch"));
  tcc_module_destroy(m);
}

/* A Loop body (iter, cond, v) -> (cond, f(v), scan(v)) where f is Identity or self-concatenation. */
static tcc_graph_t *loop_body(tcc_module_t *m, bool grow) {
  tcc_graph_t *body = tcc_graph_create(m, m->graph, "body");
  tcc_graph_add_input(body, "i");
  tcc_value_t *cond = tcc_graph_add_input(body, "cond_in"), *v = tcc_graph_add_input(body, "v");
  tcc_graph_add_output(body, OUT(body, IDENTITY, cond));
  tcc_node_t *next = grow ? NODE(body, CONCAT, 1, v, v) : NODE(body, IDENTITY, 1, v);
  if (grow) attr_int(next, "axis", 0);
  tcc_graph_add_output(body, next->outputs[0]);
  tcc_graph_add_output(body, OUT(body, IDENTITY, v));
  return body;
}

TEST(loop) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "3, seq");
  tcc_node_t *fixed = NODE(g, LOOP, 2, scalar(g, 5), NULL, x);
  attr_graph(fixed, "body", loop_body(m, false));
  tcc_node_t *grow = NODE(g, LOOP, 2, scalar(g, 5), boolean(g, true), x);
  tcc_graph_t *grow_body = loop_body(m, true);
  attr_graph(grow, "body", grow_body);
  tcc_node_t *dyn = NODE(g, LOOP, 2, scalar(g, 5), input(g, TCC_DTYPE_BOOL, ""), x);
  attr_graph(dyn, "body", loop_body(m, false));
  CHECK(infer_ok(g));
  CHECK_STR(ty(fixed->outputs[0]), "f32[3, seq]");
  CHECK_STR(ty(fixed->outputs[1]), "f32[5, 3, seq]");
  const char *carried = ty(grow->outputs[0]);
  CHECK(strncmp(carried, "f32[?", 5) == 0 && strstr(carried, ", seq]"));
  CHECK(strncmp(ty(grow->outputs[1]), "f32[5, ?", 8) == 0); /* cond starts true and passes through */
  CHECK(dyn->outputs[1]->type.rank == 3 && is_fresh(ty(dyn->outputs[1]) + 4));
  CHECK_STR(ty(grow_body->inputs[0]), "i64[]");
  CHECK_STR(ty(grow_body->inputs[1]), "bool[]");
  CHECK(tcc_type_equal(&grow_body->inputs[2]->type, &grow->outputs[0]->type));
  tcc_module_destroy(m);

  m = new_module();
  tcc_node_t *bad = NODE(m->graph, LOOP, 1, scalar(m->graph, 5), NULL, input(m->graph, TCC_DTYPE_F32, "3"));
  attr_graph(bad, "body", loop_body(m, false));
  CHECK(infer_fails(m->graph, "the body has 3 outputs, expected 2"));
  tcc_module_destroy(m);
}

TEST(loop_fills_empty_sequence) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "n");
  tcc_graph_t *body = tcc_graph_create(m, g, "body");
  tcc_graph_add_input(body, "i");
  tcc_value_t *cond = tcc_graph_add_input(body, "cond_in"), *seq = tcc_graph_add_input(body, "seq");
  tcc_graph_add_output(body, cond);
  tcc_graph_add_output(body, OUT(body, SEQUENCE_INSERT, seq, x));
  tcc_value_t *empty = NODE0(g, SEQUENCE_EMPTY, 1)->outputs[0];
  tcc_node_t *loop = NODE(g, LOOP, 1, input(g, TCC_DTYPE_I64, ""), NULL, empty);
  attr_graph(loop, "body", body);
  CHECK(infer_ok(g));
  CHECK_STR(ty(loop->outputs[0]), "seq<f32[n]>");
  tcc_module_destroy(m);
}

TEST(scan) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_graph_t *body = tcc_graph_create(m, g, "body");
  tcc_graph_add_input(body, "state");
  tcc_value_t *slice = tcc_graph_add_input(body, "slice");
  tcc_graph_add_output(body, OUT(body, IDENTITY, slice));
  tcc_graph_add_output(body, OUT(body, IDENTITY, slice));
  tcc_node_t *n = NODE(g, SCAN, 2, input(g, TCC_DTYPE_F32, "4"), input(g, TCC_DTYPE_F32, "4, steps"));
  attr_graph(n, "body", body);
  attr_int(n, "num_scan_inputs", 1);
  attr_ints(n, "scan_input_axes", 1, (int64_t[]){-1});
  attr_ints(n, "scan_output_axes", 1, (int64_t[]){1});
  CHECK(infer_ok(g));
  CHECK_STR(ty(slice), "f32[4]");
  CHECK_STR(ty(n->outputs[0]), "f32[4]");
  CHECK_STR(ty(n->outputs[1]), "f32[4, steps]");
  tcc_module_destroy(m);
}

TEST(sequence_map) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *a = input(g, TCC_DTYPE_F32, "2, 3"), *seq = OUT(g, SEQUENCE_CONSTRUCT, a, a);
  tcc_graph_t *body = tcc_graph_create(m, g, "body");
  tcc_value_t *e = tcc_graph_add_input(body, "e");
  tcc_graph_add_output(body, OUT(body, SHAPE, e));
  tcc_node_t *n = NODE(g, SEQUENCE_MAP, 1, seq);
  attr_graph(n, "body", body);
  CHECK(infer_ok(g));
  CHECK_STR(ty(e), "f32[2, 3]");
  CHECK_STR(ty(n->outputs[0]), "seq<i64[2]>");
  tcc_module_destroy(m);
}

TEST(misc_ops) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F16, "batch, 8");
  tcc_value_t *tri = OUT(g, TRILU, x);
  tcc_value_t *eye = OUT(g, EYE_LIKE, x);
  tcc_node_t *eye64 = NODE(g, EYE_LIKE, 1, x);
  attr_int(eye64, "dtype", TCC_DTYPE_I64);
  tcc_node_t *rnd = NODE0(g, RANDOM_NORMAL, 1);
  attr_ints(rnd, "shape", 2, (int64_t[]){2, 5});
  tcc_value_t *like = OUT(g, RANDOM_UNIFORM_LIKE, x);
  tcc_node_t *mn = NODE(g, MULTINOMIAL, 1, x);
  attr_int(mn, "sample_size", 3);
  tcc_value_t *cos = OUT(g, CONSTANT_OF_SHAPE, INTS(g, 2, 3));
  tcc_value_t *rs = OUT(g, REVERSE_SEQUENCE, x, input(g, TCC_DTYPE_I64, "8"));
  CHECK(infer_ok(g));
  CHECK_STR(ty(tri), "f16[batch, 8]");
  CHECK_STR(ty(eye), "f16[batch, 8]");
  CHECK_STR(ty(eye64->outputs[0]), "i64[batch, 8]");
  CHECK_STR(ty(rnd->outputs[0]), "f32[2, 5]");
  CHECK_STR(ty(like), "f16[batch, 8]");
  CHECK_STR(ty(mn->outputs[0]), "i32[batch, 3]");
  CHECK_STR(ty(cos), "f32[2, 3]");
  CHECK_STR(ty(rs), "f16[batch, 8]");
  tcc_module_destroy(m);

  m = new_module();
  (void)OUT(m->graph, EYE_LIKE, input(m->graph, TCC_DTYPE_F32, "3"));
  CHECK(infer_fails(m->graph, "expects a 2-D input, got rank 1"));
  tcc_module_destroy(m);
  m = new_module();
  (void)OUT(m->graph, RESHAPE, input(m->graph, TCC_DTYPE_F32, "3"));
  CHECK(infer_fails(m->graph, "missing the target shape"));
  tcc_module_destroy(m);
}

TEST(unknown_ranks) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = tcc_graph_add_input(g, "x");
  tcc_status_free(tcc_value_set_tensor(x, TCC_DTYPE_F32, -1, NULL));
  tcc_value_t *t = OUT(g, TRANSPOSE, x);
  tcc_value_t *s = OUT(g, SHAPE, x);
  tcc_value_t *r = OUT(g, RESHAPE, x, INTS(g, 2, -1));
  tcc_value_t *u = OUT(g, UNSQUEEZE, x, INTS(g, 0));
  tcc_node_t *c = NODE(g, CONCAT, 1, x, input(g, TCC_DTYPE_F32, "2, 3"));
  attr_int(c, "axis", 0);
  CHECK(infer_ok(g));
  CHECK_STR(ty(t), "f32[*]");
  CHECK(s->type.rank == 1 && is_fresh(ty(s) + 4));
  CHECK(r->type.rank == 2 && strncmp(ty(r), "f32[2, ?", 8) == 0);
  CHECK_STR(ty(u), "f32[*]");
  CHECK(strncmp(ty(c->outputs[0]), "f32[?", 5) == 0 && strstr(ty(c->outputs[0]), ", 3]"));
  tcc_module_destroy(m);
}

RUN_TESTS(T(dynamic_reshape_chain), T(shape_data_ops), T(reshape), T(reshape_errors), T(flatten_squeeze_unsqueeze),
          T(transpose), T(concat), T(split), T(slice), T(gathers), T(expand_tile_pad), T(sequences),
          T(if_merges_branches), T(loop), T(loop_fills_empty_sequence), T(scan), T(sequence_map), T(misc_ops),
          T(unknown_ranks))
