/* Compute definitions of the data-movement ops (ir/compute_shape.c): every op builds a verified kernel, and
 * the reference evaluator's results match plain C references on seeded data. */
#include <stdlib.h>

#include "ir/compute.h"
#include "ir/kernel_eval.h"
#include "tests/graph_builder.h"
#include "tests/test.h"

static float xs[4096]; /* seeded input data */

static void seed(void) {
  uint32_t s = 12345;
  for (int i = 0; i < 4096; i++) {
    s = s * 1664525u + 1013904223u;
    xs[i] = (float)(s >> 8) / (float)(1 << 24) * 8.0f - 4.0f;
  }
}

/* Infers and builds node n; NULL (with a recorded failure) when either fails. */
static tcc_kernel_t *build(tcc_node_t *n) {
  tcc_kernel_t *k = NULL;
  CHECK_OK(tcc_node_infer(n));
  CHECK_OK(tcc_compute_build(n, &k));
  return k;
}

static bool no_symbols(void *ctx, const char *symbol, int64_t *value) {
  (void)ctx, (void)symbol, (void)value;
  return false;
}

/* Builds and runs n: in[i] feeds input i (NULL: its constant data), out[i] receives output i. */
static void run(tcc_node_t *n, void *const *in, void *const *out) {
  tcc_kernel_t *k = build(n);
  if (!k) return;
  void *bufs[32];
  int p = 0;
  for (int i = 0; i < n->num_inputs; i++)
    if (n->inputs[i]) bufs[p++] = in && in[i] ? in[i] : (void *)n->inputs[i]->constant->data;
  for (int i = 0; i < n->num_outputs; i++)
    if (n->outputs[i]) bufs[p++] = out[i];
  CHECK_OK(tcc_kernel_eval(k, bufs, no_symbols, NULL));
}

static bool same_f32(const float *a, const float *b, int n) {
  for (int i = 0; i < n; i++)
    if (a[i] != b[i]) {
      fprintf(stderr, "element %d: %g != %g\n", i, (double)a[i], (double)b[i]);
      return false;
    }
  return true;
}

static tcc_value_t *scalar_f32(tcc_graph_t *g, float v) {
  tcc_tensor_t *t = tcc_tensor_create(g->module, TCC_DTYPE_F32, 0, NULL);
  memcpy((void *)t->data, &v, sizeof v);
  return tcc_graph_add_constant(g, NULL, t);
}

#define I64S(...) (const int64_t[]){__VA_ARGS__}
#define NUM(...) (int64_t)(sizeof(I64S(__VA_ARGS__)) / sizeof(int64_t))
#define CONST(g, ...) const_i64(g, 1, NUM(__VA_ARGS__), I64S(__VA_ARGS__))

TEST(reshape_keeps_row_major_order) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_RESHAPE, 1, 2, input(g, TCC_DTYPE_F32, "2, 3, 4"), CONST(g, 4, -1));
  float y[24];
  run(n, (void *[]){xs, NULL}, (void *[]){y});
  CHECK_STR(ty(n->outputs[0]), "f32[4, 6]");
  CHECK(same_f32(y, xs, 24));
  tcc_module_destroy(m);
}

TEST(transpose_perm_2_0_1) {
  tcc_module_t *m = new_module();
  tcc_node_t *n = node(m->graph, TCC_OP_TRANSPOSE, 1, 1, input(m->graph, TCC_DTYPE_F32, "2, 3, 4"));
  attr_ints(n, "perm", 3, I64S(2, 0, 1));
  float y[24], ref[24];
  run(n, (void *[]){xs}, (void *[]){y});
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 2; b++)
      for (int c = 0; c < 3; c++) ref[(a * 2 + b) * 3 + c] = xs[(b * 3 + c) * 4 + a];
  CHECK(same_f32(y, ref, 24));
  tcc_module_destroy(m);
}

TEST(concat_three_inputs_axis_1) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_CONCAT, 1, 3, input(g, TCC_DTYPE_F32, "2, 1, 3"), input(g, TCC_DTYPE_F32, "2, 2, 3"),
                       input(g, TCC_DTYPE_F32, "2, 3, 3"));
  attr_int(n, "axis", 1);
  float y[36], ref[36];
  const float *parts[3] = {xs, xs + 100, xs + 200};
  run(n, (void *[]){(void *)parts[0], (void *)parts[1], (void *)parts[2]}, (void *[]){y});
  for (int a = 0; a < 2; a++)
    for (int b = 0, p = 0, o = 0; b < 6; b++, o++) {
      if (o == p + 1) p++, o = 0; /* part p has p + 1 rows */
      for (int c = 0; c < 3; c++) ref[(a * 6 + b) * 3 + c] = parts[p][(a * (p + 1) + o) * 3 + c];
    }
  CHECK(same_f32(y, ref, 36));
  tcc_module_destroy(m);
}

TEST(split_uneven_num_outputs) {
  tcc_module_t *m = new_module();
  tcc_node_t *n = node(m->graph, TCC_OP_SPLIT, 3, 1, input(m->graph, TCC_DTYPE_F32, "2, 7"));
  attr_int(n, "axis", 1);
  attr_int(n, "num_outputs", 3);
  float y0[6], y1[6], y2[2];
  run(n, (void *[]){xs}, (void *[]){y0, y1, y2});
  CHECK_STR(ty(n->outputs[2]), "f32[2, 1]");
  for (int a = 0; a < 2; a++) {
    for (int b = 0; b < 3; b++) CHECK(y0[a * 3 + b] == xs[a * 7 + b] && y1[a * 3 + b] == xs[a * 7 + 3 + b]);
    CHECK(y2[a] == xs[a * 7 + 6]);
  }
  tcc_module_destroy(m);
}

TEST(slice_negative_step_and_clamping) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_SLICE, 1, 5, input(g, TCC_DTYPE_F32, "5, 6"), CONST(g, -1, 1), CONST(g, -100, 1000),
                       CONST(g, 0, 1), CONST(g, -2, 2));
  float y[9];
  run(n, (void *[]){xs, NULL, NULL, NULL, NULL}, (void *[]){y});
  CHECK_STR(ty(n->outputs[0]), "f32[3, 3]");
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++) CHECK(y[a * 3 + b] == xs[(4 - 2 * a) * 6 + 1 + 2 * b]);
  tcc_module_destroy(m);
}

TEST(gather_axis_1_negative_indices) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  int64_t idx[] = {0, -1, 2, -5}, dims[] = {2, 2};
  tcc_tensor_t *t = tcc_tensor_create_i64(m, 2, dims, idx);
  tcc_node_t *n = node(g, TCC_OP_GATHER, 1, 2, input(g, TCC_DTYPE_F32, "3, 5"), tcc_graph_add_constant(g, NULL, t));
  attr_int(n, "axis", 1);
  float y[12];
  run(n, (void *[]){xs, NULL}, (void *[]){y});
  CHECK_STR(ty(n->outputs[0]), "f32[3, 2, 2]");
  for (int a = 0; a < 3; a++)
    for (int j = 0; j < 4; j++) CHECK(y[a * 4 + j] == xs[a * 5 + (idx[j] < 0 ? idx[j] + 5 : idx[j])]);
  tcc_module_destroy(m);
}

TEST(expand_and_tile) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *e = node(g, TCC_OP_EXPAND, 1, 2, input(g, TCC_DTYPE_F32, "3, 1"), CONST(g, 2, 1, 4));
  tcc_node_t *t = node(g, TCC_OP_TILE, 1, 2, input(g, TCC_DTYPE_F32, "2, 3"), CONST(g, 2, 3));
  float y[24], z[36];
  run(e, (void *[]){xs, NULL}, (void *[]){y});
  run(t, (void *[]){xs, NULL}, (void *[]){z});
  CHECK_STR(ty(e->outputs[0]), "f32[2, 3, 4]");
  for (int i = 0; i < 24; i++) CHECK(y[i] == xs[(i / 4) % 3]);
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 9; b++) CHECK(z[a * 9 + b] == xs[(a % 2) * 3 + b % 3]);
  tcc_module_destroy(m);
}

/* numpy.pad's index for position i - before of an axis of size n. */
static int pad_ref(int i, int n, const char *mode) {
  if (!strcmp(mode, "edge")) return i < 0 ? 0 : i >= n ? n - 1 : i;
  if (!strcmp(mode, "wrap")) return ((i % n) + n) % n;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i; /* reflect */
  return i;
}

TEST(pad_reflect_edge_wrap_constant) {
  static const char *const modes[] = {"reflect", "edge", "wrap", "constant"};
  for (int md = 0; md < 4; md++) {
    tcc_module_t *m = new_module();
    tcc_graph_t *g = m->graph;
    float cv = 7.5f;
    tcc_node_t *n =
        node(g, TCC_OP_PAD, 1, 3, input(g, TCC_DTYPE_F32, "3, 4"), CONST(g, 1, 2, 2, 3), const_f32(g, 1, &cv));
    CHECK_OK(tcc_node_set_attr(n, &(tcc_attr_t){.name = "mode", .kind = TCC_ATTR_STRING,
                                                .s = {modes[md], strlen(modes[md])}}));
    float y[6 * 9];
    run(n, (void *[]){xs, NULL, NULL}, (void *[]){y});
    CHECK_STR(ty(n->outputs[0]), "f32[6, 9]");
    for (int a = 0; a < 6; a++)
      for (int b = 0; b < 9; b++) {
        int i = a - 1, j = b - 2;
        bool outside = i < 0 || i >= 3 || j < 0 || j >= 4;
        float want = md == 3 && outside ? cv : xs[pad_ref(i, 3, modes[md]) * 4 + pad_ref(j, 4, modes[md])];
        if (y[a * 9 + b] != want) {
          fprintf(stderr, "pad %s [%d, %d]: %g != %g\n", modes[md], a, b, (double)y[a * 9 + b], (double)want);
          CHECK(false);
        }
      }
    tcc_module_destroy(m);
  }
}

TEST(shape_and_size) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F16, "2, 3, 4");
  tcc_node_t *s = node(g, TCC_OP_SHAPE, 1, 1, x), *z = node(g, TCC_OP_SIZE, 1, 1, x);
  attr_int(s, "start", 1);
  int64_t y[2], n = 0;
  uint16_t half[24] = {0};
  run(s, (void *[]){half}, (void *[]){y});
  run(z, (void *[]){half}, (void *[]){&n});
  CHECK(y[0] == 3 && y[1] == 4 && n == 24);
  tcc_module_destroy(m);
}

TEST(range_int_and_float) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_RANGE, 1, 3, scalar(g, 2), scalar(g, 11), scalar(g, 3));
  tcc_node_t *f = node(g, TCC_OP_RANGE, 1, 3, scalar_f32(g, 5), scalar_f32(g, 1), scalar_f32(g, -1.5f));
  int64_t y[3];
  float z[3];
  run(n, NULL, (void *[]){y});
  run(f, NULL, (void *[]){z});
  CHECK_STR(ty(f->outputs[0]), "f32[3]");
  CHECK(y[0] == 2 && y[1] == 5 && y[2] == 8);
  CHECK(z[0] == 5 && z[1] == 3.5f && z[2] == 2);
  tcc_module_destroy(m);
}

TEST(trilu_upper_k_and_lower) {
  for (int upper = 0; upper < 2; upper++) {
    tcc_module_t *m = new_module();
    tcc_graph_t *g = m->graph;
    tcc_node_t *n = node(g, TCC_OP_TRILU, 1, 2, input(g, TCC_DTYPE_F32, "2, 3, 4"), upper ? scalar(g, 1) : NULL);
    attr_int(n, "upper", upper);
    float y[24];
    run(n, (void *[]){xs, NULL}, (void *[]){y});
    for (int i = 0; i < 24; i++) {
      int r = (i / 4) % 3, c = i % 4;
      bool keep = upper ? c - r >= 1 : c - r <= 0;
      CHECK(y[i] == (keep ? xs[i] : 0.0f));
    }
    tcc_module_destroy(m);
  }
}

TEST(gather_elements_negative_indices) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  int64_t idx[] = {0, -1, 3, 2, -4, 1}, dims[] = {3, 2};
  tcc_node_t *n = node(g, TCC_OP_GATHER_ELEMENTS, 1, 2, input(g, TCC_DTYPE_F32, "3, 4"),
                       tcc_graph_add_constant(g, NULL, tcc_tensor_create_i64(m, 2, dims, idx)));
  attr_int(n, "axis", 1);
  float y[6];
  run(n, (void *[]){xs, NULL}, (void *[]){y});
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 2; b++) {
      int64_t j = idx[a * 2 + b];
      CHECK(y[a * 2 + b] == xs[a * 4 + (j < 0 ? j + 4 : j)]);
    }
  tcc_module_destroy(m);
}

TEST(scatter_nd_add_accumulates_duplicates) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  int64_t idx[] = {1, -1, 1}, dims[] = {3, 1};
  tcc_node_t *n = node(g, TCC_OP_SCATTER_ND, 1, 3, input(g, TCC_DTYPE_F32, "4, 3"),
                       tcc_graph_add_constant(g, NULL, tcc_tensor_create_i64(m, 2, dims, idx)),
                       input(g, TCC_DTYPE_F32, "3, 3"));
  CHECK_OK(tcc_node_set_attr(n, &(tcc_attr_t){.name = "reduction", .kind = TCC_ATTR_STRING, .s = {"add", 3}}));
  float y[12], ref[12];
  run(n, (void *[]){xs, NULL, xs + 50}, (void *[]){y});
  memcpy(ref, xs, sizeof ref);
  for (int u = 0; u < 3; u++)
    for (int c = 0; c < 3; c++) ref[(idx[u] < 0 ? idx[u] + 4 : idx[u]) * 3 + c] += xs[50 + u * 3 + c];
  CHECK(same_f32(y, ref, 12));
  tcc_module_destroy(m);
}

/* Every op builds and verifies over bool, f16 and symbolic dims; strings and non-constant operands are
 * TCC_UNSUPPORTED naming the node. */
TEST(all_ops_build_over_dtypes_and_symbols) {
  static const tcc_dtype_t dts[] = {TCC_DTYPE_BOOL, TCC_DTYPE_F16, TCC_DTYPE_I8, TCC_DTYPE_BF16};
  for (size_t di = 0; di < sizeof dts / sizeof *dts; di++) {
    tcc_module_t *m = new_module();
    tcc_graph_t *g = m->graph;
    tcc_dtype_t dt = dts[di];
    tcc_value_t *x = input(g, dt, "n, 3, 4"), *x4 = input(g, dt, "n, 8, 4, 6");
    tcc_value_t *i64 = input(g, TCC_DTYPE_I64, "2, 2");
    tcc_node_t *ns[32];
    int c = 0;
    ns[c++] = node(g, TCC_OP_RESHAPE, 1, 2, x, CONST(g, 0, -1));
    ns[c++] = node(g, TCC_OP_FLATTEN, 1, 1, x);
    ns[c++] = node(g, TCC_OP_UNSQUEEZE, 1, 2, x, CONST(g, 0, 3));
    ns[c++] = node(g, TCC_OP_TRANSPOSE, 1, 1, x);
    ns[c++] = node(g, TCC_OP_CONCAT, 1, 2, x, x);
    attr_int(ns[c - 1], "axis", -1);
    ns[c++] = node(g, TCC_OP_SPLIT, 2, 2, x, CONST(g, 1, 2));
    attr_int(ns[c - 1], "axis", 1);
    ns[c++] = node(g, TCC_OP_SLICE, 1, 4, x, CONST(g, 1), CONST(g, -1), CONST(g, 2));
    ns[c++] = node(g, TCC_OP_GATHER, 1, 2, x, i64);
    ns[c++] = node(g, TCC_OP_GATHER_ND, 1, 2, x, i64);
    ns[c++] = node(g, TCC_OP_EXPAND, 1, 2, x, CONST(g, 2, 1, 1, 1));
    ns[c++] = node(g, TCC_OP_TILE, 1, 2, x, CONST(g, 1, 2, 1));
    ns[c++] = node(g, TCC_OP_PAD, 1, 2, x, CONST(g, 0, 1, 1, 0, 1, 1));
    ns[c++] = node(g, TCC_OP_CENTER_CROP_PAD, 1, 2, x, CONST(g, 2, 5));
    attr_ints(ns[c - 1], "axes", 2, I64S(1, 2));
    ns[c++] = node(g, TCC_OP_DEPTH_TO_SPACE, 1, 1, x4);
    attr_int(ns[c - 1], "blocksize", 2);
    ns[c++] = node(g, TCC_OP_SPACE_TO_DEPTH, 1, 1, x4);
    attr_int(ns[c - 1], "blocksize", 2);
    ns[c++] = node(g, TCC_OP_REVERSE_SEQUENCE, 1, 2, x, input(g, TCC_DTYPE_I64, "3"));
    ns[c++] = node(g, TCC_OP_TRILU, 1, 1, x);
    ns[c++] = node(g, TCC_OP_EYE_LIKE, 1, 1, input(g, dt, "3, m"));
    ns[c++] = node(g, TCC_OP_GATHER_ELEMENTS, 1, 2, x, input(g, TCC_DTYPE_I32, "n, 3, 2"));
    attr_int(ns[c - 1], "axis", -1);
    ns[c++] = node(g, TCC_OP_SCATTER_ELEMENTS, 1, 3, x, input(g, TCC_DTYPE_I64, "n, 3, 2"), input(g, dt, "n, 3, 2"));
    ns[c++] = node(g, TCC_OP_SCATTER_ND, 1, 3, x, input(g, TCC_DTYPE_I64, "5, 2"), input(g, dt, "5, 4"));
    ns[c++] = node(g, TCC_OP_SHAPE, 1, 1, x);
    for (int i = 0; i < c; i++) {
      tcc_kernel_t *k = build(ns[i]);
      if (!k) fprintf(stderr, "  op %s, dtype %s\n", tcc_op_name(ns[i]->op), tcc_dtype_name(dt));
    }
    tcc_module_destroy(m);
  }
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *s = node(g, TCC_OP_TRANSPOSE, 1, 1, input(g, TCC_DTYPE_STRING, "2, 3"));
  tcc_value_t *starts = input(g, TCC_DTYPE_I64, "1");
  tcc_node_t *d = node(g, TCC_OP_SLICE, 1, 3, input(g, TCC_DTYPE_F32, "2, 3"), starts, CONST(g, 2));
  s->name = "strings", d->name = "dynamic";
  for (int i = 0; i < 2; i++) {
    tcc_node_t *n = i ? d : s;
    tcc_kernel_t *k = NULL;
    CHECK_OK(tcc_node_infer(n));
    tcc_status_t st = tcc_compute_build(n, &k);
    CHECK(st && tcc_status_code(st) == TCC_UNSUPPORTED && strstr(tcc_status_message(st), n->name));
    tcc_status_free(st);
  }
  /* fuzz: a node whose output 0 is absent (empty name) is an error naming it, not a null dereference */
  tcc_node_t *crop = node(g, TCC_OP_CENTER_CROP_PAD, 1, 2, input(g, TCC_DTYPE_F32, "20, 8, 3"), CONST(g, 10, 4));
  attr_ints(crop, "axes", 2, I64S(-3, -2));
  crop->name = "no_output";
  crop->outputs[0] = NULL;
  tcc_kernel_t *k = NULL;
  tcc_status_t st = tcc_compute_build(crop, &k);
  CHECK(st && strstr(tcc_status_message(st), "node 'no_output'") &&
        strstr(tcc_status_message(st), "output 0 is missing"));
  tcc_status_free(st);
  tcc_module_destroy(m);
}

int main(void) {
  seed();
  static const test_case_t cases[] = {
      T(reshape_keeps_row_major_order), T(transpose_perm_2_0_1), T(concat_three_inputs_axis_1),
      T(split_uneven_num_outputs), T(slice_negative_step_and_clamping), T(gather_axis_1_negative_indices),
      T(expand_and_tile), T(pad_reflect_edge_wrap_constant), T(shape_and_size), T(range_int_and_float),
      T(trilu_upper_k_and_lower), T(gather_elements_negative_indices), T(scatter_nd_add_accumulates_duplicates),
      T(all_ops_build_over_dtypes_and_symbols),
  };
  return run_tests_(cases, (int)(sizeof cases / sizeof cases[0]));
}
