/* Shape and dtype inference of the linear-algebra, neural-network, signal and data-dependent ops. */
#include <stdarg.h>

#include "ir/infer.h"
#include "tests/test.h"

static tcc_module_t *new_module(void) {
  tcc_module_t *m = NULL;
  tcc_status_free(tcc_module_create(tcc_allocator_system(), &m));
  return m;
}

/* A graph input typed from a dim list: "N, 3, H, W"; "" is a scalar, "*" an unknown rank. */
static tcc_value_t *tensor(tcc_module_t *m, tcc_dtype_t dtype, const char *shape) {
  tcc_value_t *v = tcc_graph_add_input(m->graph, NULL);
  const tcc_dim_t *dims[16];
  int rank = 0;
  if (!strcmp(shape, "*")) {
    rank = -1;
  } else {
    for (const char *p = shape; *p;) {
      char tok[64];
      size_t len = strcspn(p, ",");
      snprintf(tok, sizeof tok, "%.*s", (int)len, p);
      const char *end;
      dims[rank++] = tcc_dim_parse(m, tok + strspn(tok, " "), &end);
      p += len + (p[len] == ',');
    }
  }
  CHECK_OK(tcc_value_set_tensor(v, dtype, rank, dims));
  return v;
}

static tcc_value_t *f32(tcc_module_t *m, const char *shape) { return tensor(m, TCC_DTYPE_F32, shape); }

/* A constant int64 tensor: rank 0 holds values[0], rank 1 holds n values. */
static tcc_value_t *ints(tcc_module_t *m, int rank, int64_t n, const int64_t *values) {
  return tcc_graph_add_constant(m->graph, NULL, tcc_tensor_create_i64(m, rank, &n, values));
}

static tcc_value_t *scalar(tcc_module_t *m, int64_t v) { return ints(m, 0, 1, &v); }

static tcc_value_t *floats(tcc_module_t *m, int64_t n, const float *values) {
  tcc_tensor_t *t = tcc_tensor_create(m, TCC_DTYPE_F32, 1, &n);
  memcpy((void *)t->data, values, t->nbytes);
  return tcc_graph_add_constant(m->graph, NULL, t);
}

/* A 1-D int64 input whose contents are known symbolically, e.g. "N, 1, 2*H, 64". */
static tcc_value_t *shape_of(tcc_module_t *m, const char *dims) {
  tcc_value_t *src = tensor(m, TCC_DTYPE_I64, dims), *v = tcc_graph_add_input(m->graph, NULL);
  const tcc_dim_t *len = tcc_dim_const(m, src->type.rank);
  CHECK_OK(tcc_value_set_tensor(v, TCC_DTYPE_I64, 1, &len));
  CHECK_OK(tcc_value_set_shape_data(v, src->type.rank, src->type.dims));
  return v;
}

/* A node over the given inputs (NULL = omitted) with fresh outputs. */
static tcc_node_t *op(tcc_module_t *m, tcc_op_t kind, int num_outputs, int num_inputs, ...) {
  tcc_node_t *n = tcc_graph_add_node(m->graph, kind, NULL, num_inputs, num_outputs);
  va_list ap;
  va_start(ap, num_inputs);
  for (int i = 0; i < num_inputs; i++) n->inputs[i] = va_arg(ap, tcc_value_t *);
  va_end(ap);
  for (int i = 0; i < num_outputs; i++) tcc_node_set_output(n, i, tcc_graph_add_value(m->graph, NULL));
  return n;
}

static void attr_int(tcc_node_t *n, const char *name, int64_t v) { CHECK_OK(tcc_node_set_attr_int(n, name, v)); }

/* attr_ints(n, "strides", INTS(2, 2)) */
#define INTS(...) \
  (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]) { __VA_ARGS__ }

static void attr_ints(tcc_node_t *n, const char *name, int count, const int64_t *values) {
  int64_t *v = tcc_module_alloc(n->graph->module, (size_t)count * sizeof *v + 1);
  memcpy(v, values, (size_t)count * sizeof *v);
  CHECK_OK(tcc_node_set_attr_ints(n, name, v, count));
}

static void attr_str(tcc_node_t *n, const char *name, const char *s) {
  tcc_attr_t a = {.name = name, .kind = TCC_ATTR_STRING, .s = {tcc_module_strdup(n->graph->module, s), strlen(s)}};
  CHECK_OK(tcc_node_set_attr(n, &a));
}

static const char *ty(const tcc_node_t *n, int i) {
  static char buf[8][256];
  static int k;
  char *b = buf[k++ % 8];
  tcc_type_format(&n->outputs[i]->type, b, 256);
  return b;
}

/* got equals pattern, where each '?' in pattern stands for a fresh dim ("?" and its number). */
static bool like(const char *got, const char *pattern) {
  for (; *pattern; pattern++, got++) {
    if (*pattern != *got) return false;
    if (*pattern == '?')
      while (got[1] >= '0' && got[1] <= '9') got++;
  }
  return !*got;
}

#define CHECK_LIKE(got, pattern)                                                                        \
  do {                                                                                                  \
    const char *g_ = (got);                                                                             \
    if (!like(g_, pattern)) {                                                                           \
      fprintf(stderr, "%s:%d: CHECK_LIKE failed: \"%s\" !~ \"%s\"\n", __FILE__, __LINE__, g_, pattern); \
      test_current_failed_ = 1;                                                                         \
    }                                                                                                   \
  } while (0)

/* Infers n; returns output 0's type, or "error: MESSAGE". */
static const char *infer(tcc_node_t *n) {
  static char buf[4][512];
  static int k;
  char *b = buf[k++ % 4];
  tcc_status_t st = tcc_node_infer(n);
  if (st) {
    snprintf(b, 512, "error: %s", tcc_status_message(st));
    tcc_status_free(st);
    return b;
  }
  return n->outputs[0] ? ty(n, 0) : "";
}

#define CHECK_ERROR(n, substring)                                                                                 \
  do {                                                                                                            \
    const char *got_ = infer(n);                                                                                  \
    if (strncmp(got_, "error: ", 7) || !strstr(got_, substring)) {                                                \
      fprintf(stderr, "%s:%d: expected an error with \"%s\", got \"%s\"\n", __FILE__, __LINE__, substring, got_); \
      test_current_failed_ = 1;                                                                                   \
    }                                                                                                             \
  } while (0)

/* ---- matmul, gemm, einsum, det ---- */

TEST(matmul_broadcasts_batch_dims) {
  tcc_module_t *m = new_module();
  CHECK_STR(infer(op(m, TCC_OP_MATMUL, 1, 2, f32(m, "B, 1, S, 64"), f32(m, "12, 64, S"))), "f32[B, 12, S, S]");
  CHECK_STR(infer(op(m, TCC_OP_MATMUL, 1, 2, f32(m, "64"), f32(m, "3, 64, 5"))), "f32[3, 5]");
  CHECK_STR(infer(op(m, TCC_OP_MATMUL, 1, 2, f32(m, "3, 7, 64"), f32(m, "64"))), "f32[3, 7]");
  CHECK_STR(infer(op(m, TCC_OP_MATMUL, 1, 2, f32(m, "64"), f32(m, "64"))), "f32[]");
  CHECK_STR(infer(op(m, TCC_OP_MATMUL, 1, 2, f32(m, "*"), f32(m, "64, 5"))), "f32[*]");
  CHECK_ERROR(op(m, TCC_OP_MATMUL, 1, 2, f32(m, "4, 3"), f32(m, "5, 6")), "inner dimensions differ (3 vs 5)");
  CHECK_ERROR(op(m, TCC_OP_MATMUL, 1, 2, f32(m, "2, 4, 3"), f32(m, "5, 3, 6")), "cannot broadcast");
  CHECK_ERROR(op(m, TCC_OP_MATMUL, 1, 1, f32(m, "4, 3")), "expects 2 inputs, got 1");
  tcc_module_destroy(m);
}

TEST(quantized_matmul_dtypes) {
  tcc_module_t *m = new_module();
  tcc_value_t *a = tensor(m, TCC_DTYPE_U8, "N, 16"), *b = tensor(m, TCC_DTYPE_I8, "16, 8");
  CHECK_STR(infer(op(m, TCC_OP_MATMUL_INTEGER, 1, 4, a, b, NULL, NULL)), "i32[N, 8]");
  tcc_value_t *sc = f32(m, ""), *zu = tensor(m, TCC_DTYPE_U8, ""), *zi = tensor(m, TCC_DTYPE_I8, "");
  CHECK_STR(infer(op(m, TCC_OP_QLINEAR_MATMUL, 1, 8, a, sc, zu, b, sc, zi, sc, zi)), "i8[N, 8]");
  tcc_module_destroy(m);
}

TEST(gemm_transposes) {
  tcc_module_t *m = new_module();
  tcc_node_t *n = op(m, TCC_OP_GEMM, 1, 3, f32(m, "K, M"), f32(m, "N, K"), f32(m, "N"));
  attr_int(n, "transA", 1);
  attr_int(n, "transB", 1);
  CHECK_STR(infer(n), "f32[M, N]");
  CHECK_STR(infer(op(m, TCC_OP_GEMM, 1, 2, f32(m, "B, 512"), f32(m, "512, 10"))), "f32[B, 10]");
  CHECK_ERROR(op(m, TCC_OP_GEMM, 1, 3, f32(m, "2, 5"), f32(m, "5, 10"), f32(m, "3")), "does not broadcast");
  CHECK_ERROR(op(m, TCC_OP_GEMM, 1, 2, f32(m, "2, 5, 1"), f32(m, "5, 10")), "input A must have rank 2");
  tcc_module_destroy(m);
}

TEST(einsum_equations) {
  tcc_module_t *m = new_module();
  tcc_node_t *n = op(m, TCC_OP_EINSUM, 1, 2, f32(m, "B, I, J"), f32(m, "B, J, 7"));
  attr_str(n, "equation", "bij, bjk -> bik");
  CHECK_STR(infer(n), "f32[B, I, 7]");
  n = op(m, TCC_OP_EINSUM, 1, 2, f32(m, "3, 4"), f32(m, "4, 5"));
  attr_str(n, "equation", "ij,jk");
  CHECK_STR(infer(n), "f32[3, 5]");
  n = op(m, TCC_OP_EINSUM, 1, 2, f32(m, "B, 1, 3, 4"), f32(m, "H, 4, 5"));
  attr_str(n, "equation", "...ij,...jk->...ik");
  CHECK_STR(infer(n), "f32[B, H, 3, 5]");
  n = op(m, TCC_OP_EINSUM, 1, 1, f32(m, "2, 6, 3"));
  attr_str(n, "equation", "...i->i...");
  CHECK_STR(infer(n), "f32[3, 2, 6]");
  n = op(m, TCC_OP_EINSUM, 1, 1, f32(m, "5, 5"));
  attr_str(n, "equation", "ii");
  CHECK_STR(infer(n), "f32[]");
  n = op(m, TCC_OP_EINSUM, 1, 1, f32(m, "5, 5"));
  attr_str(n, "equation", "ii->i");
  CHECK_STR(infer(n), "f32[5]");
  n = op(m, TCC_OP_EINSUM, 1, 2, f32(m, "3, 4"), f32(m, "5, 6"));
  attr_str(n, "equation", "ij,jk->ik");
  CHECK_ERROR(n, "label 'j' has sizes 4 and 5");
  n = op(m, TCC_OP_EINSUM, 1, 1, f32(m, "3, 4"));
  attr_str(n, "equation", "ij,jk->ik");
  CHECK_ERROR(n, "more operands than the 1 inputs");
  n = op(m, TCC_OP_EINSUM, 1, 1, f32(m, "3, 4, 5"));
  attr_str(n, "equation", "ij->i");
  CHECK_ERROR(n, "has rank 3 but its einsum term 'ij' has 2 labels");
  n = op(m, TCC_OP_EINSUM, 1, 1, f32(m, "3, 4"));
  attr_str(n, "equation", "ij->iz");
  CHECK_ERROR(n, "output label 'z' does not appear");
  tcc_module_destroy(m);
}

TEST(det_drops_matrix_dims) {
  tcc_module_t *m = new_module();
  CHECK_STR(infer(op(m, TCC_OP_DET, 1, 1, f32(m, "B, 3, 3"))), "f32[B]");
  CHECK_ERROR(op(m, TCC_OP_DET, 1, 1, f32(m, "3, 4")), "not square");
  tcc_module_destroy(m);
}

/* ---- convolution and pooling ---- */

TEST(conv_symbolic_batch_and_spatial) {
  tcc_module_t *m = new_module();
  tcc_node_t *n = op(m, TCC_OP_CONV, 1, 3, f32(m, "N, 3, H, W"), f32(m, "64, 3, 7, 7"), f32(m, "64"));
  attr_ints(n, "strides", INTS(2, 2));
  attr_ints(n, "pads", INTS(3, 3, 3, 3));
  CHECK_STR(infer(n), "f32[N, 64, (H + 1)//2, (W + 1)//2]");
  /* kernel from the weight, dilation 2: 10 - 2*(3-1) - 1 + 1 = 6 */
  n = op(m, TCC_OP_CONV, 1, 2, f32(m, "1, 4, 10, 12"), f32(m, "8, 2, 3, 3"));
  attr_ints(n, "dilations", INTS(2, 1));
  attr_int(n, "group", 2);
  CHECK_STR(infer(n), "f32[1, 8, 6, 10]");
  n = op(m, TCC_OP_CONV, 1, 2, f32(m, "N, 3, L"), f32(m, "8, 3, 4"));
  attr_str(n, "auto_pad", "VALID");
  attr_ints(n, "strides", INTS(3));
  CHECK_STR(infer(n), "f32[N, 8, (L + 2)//3 - 1]");
  tcc_module_destroy(m);
}

TEST(conv_same_padding) {
  tcc_module_t *m = new_module();
  tcc_node_t *n = op(m, TCC_OP_CONV, 1, 2, f32(m, "N, 3, H, 15"), f32(m, "16, 3, 3, 3"));
  attr_str(n, "auto_pad", "SAME_UPPER");
  attr_ints(n, "strides", INTS(2, 2));
  CHECK_STR(infer(n), "f32[N, 16, (H + 1)//2, 8]");
  n = op(m, TCC_OP_CONV, 1, 2, f32(m, "1, 3, 5, 5"), f32(m, "16, 3, 3, 3"));
  attr_str(n, "auto_pad", "SAME_LOWER");
  CHECK_STR(infer(n), "f32[1, 16, 5, 5]");
  tcc_module_destroy(m);
}

TEST(conv_variants_and_errors) {
  tcc_module_t *m = new_module();
  tcc_value_t *x8 = tensor(m, TCC_DTYPE_U8, "1, 1, 5, 5"), *w8 = tensor(m, TCC_DTYPE_U8, "1, 1, 3, 3");
  CHECK_STR(infer(op(m, TCC_OP_CONV_INTEGER, 1, 2, x8, w8)), "i32[1, 1, 3, 3]");
  tcc_value_t *s = f32(m, ""), *z = tensor(m, TCC_DTYPE_U8, "");
  CHECK_STR(infer(op(m, TCC_OP_QLINEAR_CONV, 1, 8, x8, s, z, w8, s, z, s, z)), "u8[1, 1, 3, 3]");
  tcc_node_t *n = op(m, TCC_OP_DEFORM_CONV, 1, 3, f32(m, "2, 4, 6, 6"), f32(m, "8, 4, 3, 3"), f32(m, "2, 18, 4, 4"));
  CHECK_STR(infer(n), "f32[2, 8, 4, 4]");
  CHECK_ERROR(op(m, TCC_OP_CONV, 1, 2, f32(m, "1, 4, 8, 8"), f32(m, "8, 3, 3, 3")),
              "input has 4 channels but the weight expects 3");
  n = op(m, TCC_OP_CONV, 1, 2, f32(m, "1, 6, 8, 8"), f32(m, "8, 2, 3, 3"));
  attr_int(n, "group", 3);
  CHECK_ERROR(n, "8 output channels, not divisible by group 3");
  CHECK_ERROR(op(m, TCC_OP_CONV, 1, 3, f32(m, "1, 3, 8, 8"), f32(m, "8, 3, 3, 3"), f32(m, "4")),
              "bias has 4 elements for 8 channels");
  n = op(m, TCC_OP_CONV, 1, 2, f32(m, "1, 3, 8, 8"), f32(m, "8, 3, 3, 3"));
  attr_ints(n, "pads", INTS(1, 1));
  CHECK_ERROR(n, "attribute 'pads' has 2 values, expected 4");
  n = op(m, TCC_OP_CONV, 1, 2, f32(m, "1, 3, 8, 8"), f32(m, "8, 3, 3, 3"));
  attr_ints(n, "kernel_shape", INTS(5, 5));
  CHECK_ERROR(n, "kernel_shape differs from the weight");
  n = op(m, TCC_OP_CONV, 1, 2, f32(m, "1, 3, 8, 8"), f32(m, "8, 3, 3, 3"));
  attr_str(n, "auto_pad", "SAME");
  CHECK_ERROR(n, "invalid auto_pad 'SAME'");
  CHECK_ERROR(op(m, TCC_OP_CONV, 1, 2, f32(m, "1, 3, 2, 2"), f32(m, "8, 3, 3, 3")),
              "kernel window exceeds the padded input by 1");
  CHECK_ERROR(op(m, TCC_OP_CONV, 1, 2, f32(m, "1, 3, 8, 8"), f32(m, "8, 3, 3")), "input rank 4 and weight rank 3");
  CHECK_LIKE(infer(op(m, TCC_OP_CONV, 1, 2, f32(m, "*"), f32(m, "8, 3, 3, 3"))), "f32[?, 8, ?, ?]");
  tcc_module_destroy(m);
}

TEST(conv_transpose_output_padding_and_shape) {
  tcc_module_t *m = new_module();
  tcc_node_t *n = op(m, TCC_OP_CONV_TRANSPOSE, 1, 2, f32(m, "1, 1, 3, 3"), f32(m, "1, 2, 3, 3"));
  attr_ints(n, "strides", INTS(3, 2));
  attr_ints(n, "output_padding", INTS(1, 1));
  CHECK_STR(infer(n), "f32[1, 2, 10, 8]");
  n = op(m, TCC_OP_CONV_TRANSPOSE, 1, 2, f32(m, "N, 4, H, W"), f32(m, "4, 3, 4, 4"));
  attr_ints(n, "strides", INTS(2, 2));
  attr_ints(n, "pads", INTS(1, 1, 1, 1));
  attr_int(n, "group", 2);
  CHECK_STR(infer(n), "f32[N, 6, 2*H, 2*W]");
  n = op(m, TCC_OP_CONV_TRANSPOSE, 1, 2, f32(m, "N, 4, H, W"), f32(m, "4, 3, 3, 3"));
  attr_ints(n, "strides", INTS(2, 2));
  attr_str(n, "auto_pad", "SAME_UPPER");
  CHECK_STR(infer(n), "f32[N, 3, 2*H, 2*W]");
  n = op(m, TCC_OP_CONV_TRANSPOSE, 1, 2, f32(m, "1, 1, 3, 3"), f32(m, "1, 2, 3, 3"));
  attr_ints(n, "strides", INTS(3, 2));
  attr_ints(n, "output_shape", INTS(10, 8));
  CHECK_STR(infer(n), "f32[1, 2, 10, 8]");
  CHECK_ERROR(op(m, TCC_OP_CONV_TRANSPOSE, 1, 2, f32(m, "1, 2, 3, 3"), f32(m, "1, 2, 3, 3")),
              "input channels differ from the weight's (2 vs 1)");
  tcc_module_destroy(m);
}

TEST(pool_ceil_mode_and_indices) {
  tcc_module_t *m = new_module();
  tcc_node_t *n = op(m, TCC_OP_MAX_POOL, 2, 1, f32(m, "1, 1, 4, 4"));
  attr_ints(n, "kernel_shape", INTS(3, 3));
  attr_ints(n, "strides", INTS(2, 2));
  attr_int(n, "ceil_mode", 1);
  CHECK_STR(infer(n), "f32[1, 1, 2, 2]");
  CHECK_STR(ty(n, 1), "i64[1, 1, 2, 2]");
  /* the last window would start past the input: dropped */
  n = op(m, TCC_OP_MAX_POOL, 1, 1, f32(m, "1, 1, 2, 2"));
  attr_ints(n, "kernel_shape", INTS(1, 1));
  attr_ints(n, "strides", INTS(2, 2));
  attr_int(n, "ceil_mode", 1);
  CHECK_STR(infer(n), "f32[1, 1, 1, 1]");
  n = op(m, TCC_OP_AVERAGE_POOL, 1, 1, f32(m, "N, C, H, 32"));
  attr_ints(n, "kernel_shape", INTS(3, 3));
  attr_ints(n, "strides", INTS(2, 2));
  attr_int(n, "ceil_mode", 1);
  CHECK_STR(infer(n), "f32[N, C, (H)//2, 16]");
  n = op(m, TCC_OP_LP_POOL, 1, 1, f32(m, "N, C, H"));
  attr_ints(n, "kernel_shape", INTS(2));
  attr_ints(n, "pads", INTS(1, 1));
  CHECK_STR(infer(n), "f32[N, C, H + 1]");
  n = op(m, TCC_OP_MAX_POOL, 1, 1, f32(m, "N, C, H, W"));
  attr_ints(n, "kernel_shape", INTS(3, 3));
  attr_str(n, "auto_pad", "SAME_UPPER");
  attr_ints(n, "strides", INTS(2, 1));
  CHECK_STR(infer(n), "f32[N, C, (H + 1)//2, W]");
  CHECK_ERROR(op(m, TCC_OP_AVERAGE_POOL, 1, 1, f32(m, "1, 1, 4, 4")), "attribute 'kernel_shape' is required");
  n = op(m, TCC_OP_MAX_POOL, 1, 1, f32(m, "1, 1, 4, 4"));
  attr_ints(n, "kernel_shape", INTS(2, 2));
  attr_ints(n, "strides", INTS(0, 1));
  CHECK_ERROR(n, "attribute 'strides'[0] = 0 must be >= 1");
  CHECK_STR(infer(op(m, TCC_OP_GLOBAL_AVERAGE_POOL, 1, 1, f32(m, "N, 512, H, W"))), "f32[N, 512, 1, 1]");
  n = op(m, TCC_OP_MAX_UNPOOL, 1, 2, f32(m, "1, 1, 2, 2"), tensor(m, TCC_DTYPE_I64, "1, 1, 2, 2"));
  attr_ints(n, "kernel_shape", INTS(2, 2));
  attr_ints(n, "strides", INTS(2, 2));
  CHECK_STR(infer(n), "f32[1, 1, 4, 4]");
  n = op(m, TCC_OP_MAX_UNPOOL, 1, 3, f32(m, "1, 1, 2, 2"), tensor(m, TCC_DTYPE_I64, "1, 1, 2, 2"),
         ints(m, 1, 4, (const int64_t[]){1, 1, 5, 5}));
  attr_ints(n, "kernel_shape", INTS(2, 2));
  CHECK_STR(infer(n), "f32[1, 1, 5, 5]");
  n = op(m, TCC_OP_MAX_UNPOOL, 1, 3, f32(m, "1, 1, 2, 2"), tensor(m, TCC_DTYPE_I64, "1, 1, 2, 2"),
         tensor(m, TCC_DTYPE_I64, "4"));
  attr_ints(n, "kernel_shape", INTS(2, 2));
  CHECK_LIKE(infer(n), "f32[1, 1, ?, ?]");
  n = op(m, TCC_OP_MAX_POOL, 2, 1, tensor(m, TCC_DTYPE_F16, "*"));
  attr_ints(n, "kernel_shape", INTS(2, 2));
  CHECK_STR(infer(n), "f16[*]");
  CHECK_STR(ty(n, 1), "i64[*]");
  tcc_module_destroy(m);
}

/* ---- normalization ---- */

TEST(normalizations) {
  tcc_module_t *m = new_module();
  tcc_value_t *c = f32(m, "16");
  tcc_node_t *n = op(m, TCC_OP_BATCH_NORMALIZATION, 3, 5, f32(m, "N, 16, H, W"), c, c, c, c);
  CHECK_STR(infer(n), "f32[N, 16, H, W]");
  CHECK_STR(ty(n, 2), "f32[16]");
  tcc_value_t *c8 = f32(m, "8");
  CHECK_ERROR(op(m, TCC_OP_BATCH_NORMALIZATION, 1, 5, f32(m, "N, 16, H"), c, c8, c, c), "bias has 8 elements for 16");
  n = op(m, TCC_OP_LAYER_NORMALIZATION, 3, 3, tensor(m, TCC_DTYPE_F16, "B, S, 768"), f32(m, "768"), NULL);
  attr_int(n, "axis", -1);
  CHECK_STR(infer(n), "f16[B, S, 768]");
  CHECK_STR(ty(n, 1), "f32[B, S, 1]");
  CHECK_STR(ty(n, 2), "f32[B, S, 1]");
  n = op(m, TCC_OP_LAYER_NORMALIZATION, 3, 2, f32(m, "B, S, 4, 8"), f32(m, "4, 8"));
  attr_int(n, "axis", 2);
  attr_int(n, "stash_type", TCC_DTYPE_F64);
  CHECK_STR(infer(n), "f32[B, S, 4, 8]");
  CHECK_STR(ty(n, 1), "f64[B, S, 1, 1]");
  n = op(m, TCC_OP_LAYER_NORMALIZATION, 1, 2, f32(m, "B, 8"), f32(m, "8"));
  attr_int(n, "axis", 2);
  CHECK_ERROR(n, "axis 2 is out of range for rank 2");
  CHECK_STR(infer(op(m, TCC_OP_RMS_NORMALIZATION, 1, 2, tensor(m, TCC_DTYPE_BF16, "B, S, 64"), f32(m, "64"))),
            "bf16[B, S, 64]");
  tcc_module_destroy(m);
}

/* ---- resampling and rearrangement ---- */

TEST(resize_scales_and_sizes) {
  tcc_module_t *m = new_module();
  tcc_value_t *x = f32(m, "N, 3, H, 10");
  tcc_node_t *n = op(m, TCC_OP_RESIZE, 1, 3, x, NULL, floats(m, 4, (const float[]){1, 1, 2, 0.5f}));
  CHECK_STR(infer(n), "f32[N, 3, 2*H, 5]");
  n = op(m, TCC_OP_RESIZE, 1, 3, f32(m, "1, 1, 4, 5"), NULL, floats(m, 4, (const float[]){1, 1, 0.6f, 0.6f}));
  CHECK_STR(infer(n), "f32[1, 1, 2, 3]");
  n = op(m, TCC_OP_RESIZE, 1, 4, x, NULL, NULL, shape_of(m, "N, 3, 2*H, 64"));
  CHECK_STR(infer(n), "f32[N, 3, 2*H, 64]");
  n = op(m, TCC_OP_RESIZE, 1, 4, x, NULL, NULL, ints(m, 1, 2, (const int64_t[]){32, 32}));
  attr_ints(n, "axes", INTS(3, -2));
  CHECK_STR(infer(n), "f32[N, 3, 32, 32]");
  n = op(m, TCC_OP_RESIZE, 1, 4, f32(m, "1, 1, 3, 5"), NULL, NULL, ints(m, 1, 2, (const int64_t[]){6, 6}));
  attr_ints(n, "axes", INTS(2, 3));
  attr_str(n, "keep_aspect_ratio_policy", "not_smaller");
  CHECK_STR(infer(n), "f32[1, 1, 6, 10]");
  n = op(m, TCC_OP_RESIZE, 1, 4, f32(m, "1, 1, 3, 5"), NULL, NULL, ints(m, 1, 2, (const int64_t[]){6, 6}));
  attr_ints(n, "axes", INTS(2, 3));
  attr_str(n, "keep_aspect_ratio_policy", "not_larger");
  CHECK_STR(infer(n), "f32[1, 1, 4, 6]");
  CHECK_LIKE(infer(op(m, TCC_OP_RESIZE, 1, 3, x, NULL, f32(m, "4"))), "f32[?, ?, ?, ?]");
  CHECK_ERROR(op(m, TCC_OP_RESIZE, 1, 3, x, NULL, floats(m, 3, (const float[]){1, 2, 2})), "scales has 3 values");
  CHECK_ERROR(op(m, TCC_OP_RESIZE, 1, 4, x, NULL, floats(m, 4, (const float[]){1, 1, 2, 2}), shape_of(m, "1, 1, 2, 2")),
              "only one of 'scales' and 'sizes'");
  tcc_module_destroy(m);
}

TEST(spatial_rearrangement) {
  tcc_module_t *m = new_module();
  tcc_node_t *n = op(m, TCC_OP_DEPTH_TO_SPACE, 1, 1, f32(m, "N, 16, H, W"));
  attr_int(n, "blocksize", 2);
  CHECK_STR(infer(n), "f32[N, 4, 2*H, 2*W]");
  n = op(m, TCC_OP_SPACE_TO_DEPTH, 1, 1, f32(m, "N, 3, 8, 6"));
  attr_int(n, "blocksize", 2);
  CHECK_STR(infer(n), "f32[N, 12, 4, 3]");
  n = op(m, TCC_OP_SPACE_TO_DEPTH, 1, 1, f32(m, "N, 3, 8, 5"));
  attr_int(n, "blocksize", 2);
  CHECK_ERROR(n, "spatial dim 5 is not divisible by blocksize 2");
  n = op(m, TCC_OP_DEPTH_TO_SPACE, 1, 1, f32(m, "N, 6, 2, 2"));
  attr_int(n, "blocksize", 2);
  CHECK_ERROR(n, "channels (6) are not divisible by blocksize^2 (4)");
  CHECK_STR(infer(op(m, TCC_OP_GRID_SAMPLE, 1, 2, f32(m, "N, C, 32, 32"), f32(m, "N, 7, 9, 2"))), "f32[N, C, 7, 9]");
  CHECK_ERROR(op(m, TCC_OP_GRID_SAMPLE, 1, 2, f32(m, "N, C, 32, 32"), f32(m, "N, 7, 9, 3")), "grid's last dim is 3");
  CHECK_STR(infer(op(m, TCC_OP_AFFINE_GRID, 1, 2, f32(m, "N, 2, 3"), shape_of(m, "N, 3, H, W"))), "f32[N, H, W, 2]");
  CHECK_STR(infer(op(m, TCC_OP_AFFINE_GRID, 1, 2, f32(m, "2, 3, 4"), ints(m, 1, 5, (const int64_t[]){2, 1, 4, 5, 6}))),
            "f32[2, 4, 5, 6, 3]");
  n = op(m, TCC_OP_ROI_ALIGN, 1, 3, f32(m, "N, 256, H, W"), f32(m, "R, 4"), tensor(m, TCC_DTYPE_I64, "R"));
  attr_int(n, "output_height", 7);
  attr_int(n, "output_width", 7);
  CHECK_STR(infer(n), "f32[R, 256, 7, 7]");
  n = op(m, TCC_OP_COL2IM, 1, 3, f32(m, "1, 5, 5"), ints(m, 1, 2, (const int64_t[]){5, 5}),
         ints(m, 1, 2, (const int64_t[]){1, 5}));
  CHECK_STR(infer(n), "f32[1, 1, 5, 5]");
  n = op(m, TCC_OP_COL2IM, 1, 3, f32(m, "1, 5, 6"), ints(m, 1, 2, (const int64_t[]){5, 5}),
         ints(m, 1, 2, (const int64_t[]){1, 5}));
  CHECK_ERROR(n, "input has 6 blocks but the image holds 5");
  tcc_module_destroy(m);
}

/* ---- recurrent networks and attention ---- */

TEST(rnn_layouts) {
  tcc_module_t *m = new_module();
  tcc_node_t *n = op(m, TCC_OP_LSTM, 3, 3, f32(m, "S, B, 10"), f32(m, "2, 80, 10"), f32(m, "2, 80, 20"));
  attr_str(n, "direction", "bidirectional");
  attr_int(n, "hidden_size", 20);
  CHECK_STR(infer(n), "f32[S, 2, B, 20]");
  CHECK_STR(ty(n, 1), "f32[2, B, 20]");
  CHECK_STR(ty(n, 2), "f32[2, B, 20]");
  n = op(m, TCC_OP_GRU, 2, 3, f32(m, "B, S, 10"), f32(m, "1, 60, 10"), f32(m, "1, 60, 20"));
  attr_int(n, "layout", 1);
  CHECK_STR(infer(n), "f32[B, S, 1, 20]");
  CHECK_STR(ty(n, 1), "f32[B, 1, 20]");
  n = op(m, TCC_OP_RNN, 2, 3, f32(m, "S, B, 10"), f32(m, "1, 8, 10"), f32(m, "*"));
  n->outputs[0] = NULL;
  CHECK_STR(infer(n), "");
  CHECK_STR(ty(n, 1), "f32[1, B, 8]");
  n = op(m, TCC_OP_LSTM, 1, 3, f32(m, "S, B, 10"), f32(m, "1, 80, 10"), f32(m, "1, 80, 20"));
  attr_int(n, "hidden_size", 16);
  CHECK_ERROR(n, "hidden_size differs from R's dim 2");
  n = op(m, TCC_OP_LSTM, 1, 3, f32(m, "S, B, 10"), f32(m, "1, 80, 10"), f32(m, "1, 80, 20"));
  attr_str(n, "direction", "sideways");
  CHECK_ERROR(n, "invalid direction 'sideways'");
  tcc_module_destroy(m);
}

TEST(attention_3d_and_4d) {
  tcc_module_t *m = new_module();
  tcc_node_t *n = op(m, TCC_OP_ATTENTION, 4, 3, f32(m, "B, S, 512"), f32(m, "B, T, 128"), f32(m, "B, T, 256"));
  attr_int(n, "q_num_heads", 8);
  attr_int(n, "kv_num_heads", 2);
  CHECK_STR(infer(n), "f32[B, S, 1024]");
  CHECK_STR(ty(n, 1), "f32[B, 2, T, 64]");
  CHECK_STR(ty(n, 2), "f32[B, 2, T, 128]");
  CHECK_STR(ty(n, 3), "f32[B, 8, S, T]");
  n = op(m, TCC_OP_ATTENTION, 4, 6, f32(m, "B, 8, S, 64"), f32(m, "B, 8, S, 64"), f32(m, "B, 8, S, 32"), NULL,
         f32(m, "B, 8, P, 64"), f32(m, "B, 8, P, 32"));
  CHECK_STR(infer(n), "f32[B, 8, S, 32]");
  CHECK_STR(ty(n, 1), "f32[B, 8, P + S, 64]");
  CHECK_STR(ty(n, 2), "f32[B, 8, P + S, 32]");
  CHECK_STR(ty(n, 3), "f32[B, 8, S, P + S]");
  n = op(m, TCC_OP_ATTENTION, 1, 3, f32(m, "B, S, 512"), f32(m, "B, T, 128"), f32(m, "B, T, 256"));
  CHECK_ERROR(n, "3-D inputs need positive q_num_heads and kv_num_heads");
  CHECK_ERROR(op(m, TCC_OP_ATTENTION, 1, 3, f32(m, "B, 8, S, 64"), f32(m, "B, 8, S, 32"), f32(m, "B, 8, S, 32")),
              "Q and K head sizes differ (64 vs 32)");
  CHECK_ERROR(op(m, TCC_OP_ATTENTION, 1, 3, f32(m, "B, 8, S, 64"), f32(m, "B, S, 64"), f32(m, "B, S, 64")),
              "all have rank 3 or all rank 4");
  tcc_module_destroy(m);
}

/* ---- losses, signal processing ---- */

TEST(losses) {
  tcc_module_t *m = new_module();
  tcc_value_t *x = f32(m, "N, 10, D"), *t = tensor(m, TCC_DTYPE_I64, "N, D");
  CHECK_STR(infer(op(m, TCC_OP_NEGATIVE_LOG_LIKELIHOOD_LOSS, 1, 2, x, t)), "f32[]");
  tcc_node_t *n = op(m, TCC_OP_SOFTMAX_CROSS_ENTROPY_LOSS, 2, 3, x, t, f32(m, "10"));
  attr_str(n, "reduction", "none");
  CHECK_STR(infer(n), "f32[N, D]");
  CHECK_STR(ty(n, 1), "f32[N, 10, D]");
  CHECK_ERROR(op(m, TCC_OP_NEGATIVE_LOG_LIKELIHOOD_LOSS, 1, 2, x, tensor(m, TCC_DTYPE_I64, "N")),
              "target rank 1 should be input rank 3 minus 1");
  n = op(m, TCC_OP_NEGATIVE_LOG_LIKELIHOOD_LOSS, 1, 2, x, t);
  attr_str(n, "reduction", "avg");
  CHECK_ERROR(n, "invalid reduction 'avg'");
  tcc_module_destroy(m);
}

TEST(signal_ops) {
  tcc_module_t *m = new_module();
  tcc_node_t *n = op(m, TCC_OP_DFT, 1, 3, f32(m, "B, 16, 8, 1"), NULL, scalar(m, 1));
  attr_int(n, "onesided", 1);
  CHECK_STR(infer(n), "f32[B, 9, 8, 2]");
  CHECK_STR(infer(op(m, TCC_OP_DFT, 1, 2, f32(m, "B, N, 2"), scalar(m, 32))), "f32[B, 32, 2]");
  CHECK_STR(infer(op(m, TCC_OP_DFT, 1, 3, f32(m, "B, N, 1"), NULL, tensor(m, TCC_DTYPE_I64, ""))), "f32[B, N, 2]");
  CHECK_ERROR(op(m, TCC_OP_DFT, 1, 3, f32(m, "B, N, 1"), NULL, scalar(m, 2)), "axis 2 is out of range for rank 3");
  n = op(m, TCC_OP_STFT, 1, 4, f32(m, "1, 128, 1"), scalar(m, 8), NULL, scalar(m, 16));
  CHECK_STR(infer(n), "f32[1, 15, 9, 2]");
  n = op(m, TCC_OP_STFT, 1, 3, f32(m, "B, L, 1"), scalar(m, 4), f32(m, "16"));
  attr_int(n, "onesided", 0);
  CHECK_STR(infer(n), "f32[B, (L)//4 - 3, 16, 2]");
  n = op(m, TCC_OP_MEL_WEIGHT_MATRIX, 1, 5, scalar(m, 8), scalar(m, 16), scalar(m, 8192), f32(m, ""), f32(m, ""));
  CHECK_STR(infer(n), "f32[9, 8]");
  n = op(m, TCC_OP_HANN_WINDOW, 1, 1, scalar(m, 10));
  attr_int(n, "output_datatype", TCC_DTYPE_F64);
  CHECK_STR(infer(n), "f64[10]");
  CHECK_STR(infer(op(m, TCC_OP_BLACKMAN_WINDOW, 1, 1, shape_of(m, "L"))), "f32[L]");
  n = op(m, TCC_OP_HAMMING_WINDOW, 1, 1, tensor(m, TCC_DTYPE_I32, ""));
  attr_int(n, "output_datatype", 99);
  CHECK_ERROR(n, "invalid output_datatype 99");
  tcc_module_destroy(m);
}

/* ---- data-dependent sizes ---- */

TEST(data_dependent_sizes) {
  tcc_module_t *m = new_module();
  tcc_node_t *n = op(m, TCC_OP_TOP_K, 2, 2, f32(m, "B, 1000"), ints(m, 1, 1, (const int64_t[]){5}));
  CHECK_STR(infer(n), "f32[B, 5]");
  CHECK_STR(ty(n, 1), "i64[B, 5]");
  n = op(m, TCC_OP_TOP_K, 2, 2, f32(m, "B, 1000, 3"), shape_of(m, "K"));
  attr_int(n, "axis", 1);
  CHECK_STR(infer(n), "f32[B, K, 3]");
  CHECK_ERROR(op(m, TCC_OP_TOP_K, 2, 2, f32(m, "B, 4"), ints(m, 1, 1, (const int64_t[]){5})),
              "K = 5 exceeds the axis size 4");
  CHECK_LIKE(infer(op(m, TCC_OP_NON_ZERO, 1, 1, f32(m, "B, 4"))), "i64[2, ?]");
  CHECK_STR(infer(op(m, TCC_OP_NON_ZERO, 1, 1, ints(m, 1, 4, (const int64_t[]){0, 3, 0, 1}))), "i64[1, 2]");
  CHECK_LIKE(infer(op(m, TCC_OP_NON_MAX_SUPPRESSION, 1, 3, f32(m, "1, N, 4"), f32(m, "1, 1, N"), scalar(m, 3))),
             "i64[?, 3]");
  n = op(m, TCC_OP_UNIQUE, 4, 1, f32(m, "3, 4"));
  CHECK_LIKE(infer(n), "f32[?]");
  CHECK(n->outputs[0]->type.dims[0] == n->outputs[1]->type.dims[0]);
  CHECK(n->outputs[0]->type.dims[0] == n->outputs[3]->type.dims[0]);
  CHECK_STR(ty(n, 2), "i64[12]");
  n = op(m, TCC_OP_UNIQUE, 4, 1, f32(m, "3, 4"));
  attr_int(n, "axis", -1);
  CHECK_LIKE(infer(n), "f32[3, ?]");
  CHECK_STR(ty(n, 2), "i64[4]");
  CHECK(n->outputs[0]->type.dims[1] == n->outputs[3]->type.dims[0]);
  tcc_value_t *cond = ints(m, 1, 3, (const int64_t[]){0, 1, 1});
  n = op(m, TCC_OP_COMPRESS, 1, 2, f32(m, "3, 2"), cond);
  attr_int(n, "axis", 0);
  CHECK_STR(infer(n), "f32[2, 2]");
  CHECK_LIKE(infer(op(m, TCC_OP_COMPRESS, 1, 2, f32(m, "3, 2"), tensor(m, TCC_DTYPE_BOOL, "C"))), "f32[?]");
  n = op(m, TCC_OP_COMPRESS, 1, 2, f32(m, "3, 2"), cond);
  attr_int(n, "axis", 1);
  CHECK_ERROR(n, "condition has 3 values for 2 elements");
  tcc_module_destroy(m);
}

TEST(graph_infer_chain) {
  tcc_module_t *m = new_module();
  tcc_node_t *conv = op(m, TCC_OP_CONV, 1, 2, f32(m, "N, 3, 224, 224"), f32(m, "64, 3, 7, 7"));
  attr_ints(conv, "strides", INTS(2, 2));
  attr_ints(conv, "pads", INTS(3, 3, 3, 3));
  tcc_node_t *pool = op(m, TCC_OP_MAX_POOL, 1, 1, conv->outputs[0]);
  attr_ints(pool, "kernel_shape", INTS(3, 3));
  attr_ints(pool, "strides", INTS(2, 2));
  attr_ints(pool, "pads", INTS(1, 1, 1, 1));
  tcc_node_t *gap = op(m, TCC_OP_GLOBAL_AVERAGE_POOL, 1, 1, pool->outputs[0]);
  CHECK_OK(tcc_graph_infer(m->graph));
  CHECK_STR(ty(conv, 0), "f32[N, 64, 112, 112]");
  CHECK_STR(ty(pool, 0), "f32[N, 64, 56, 56]");
  CHECK_STR(ty(gap, 0), "f32[N, 64, 1, 1]");
  tcc_module_destroy(m);
}

RUN_TESTS(T(matmul_broadcasts_batch_dims), T(quantized_matmul_dtypes), T(gemm_transposes), T(einsum_equations),
          T(det_drops_matrix_dims), T(conv_symbolic_batch_and_spatial), T(conv_same_padding),
          T(conv_variants_and_errors), T(conv_transpose_output_padding_and_shape), T(pool_ceil_mode_and_indices),
          T(normalizations), T(resize_scales_and_sizes), T(spatial_rearrangement), T(rnn_layouts),
          T(attention_3d_and_4d), T(losses), T(signal_ops), T(data_dependent_sizes), T(graph_infer_chain))
