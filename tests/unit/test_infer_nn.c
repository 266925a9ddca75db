/* Shape and dtype inference of the linear-algebra, neural-network, signal and data-dependent ops. */
#include "ir/infer.h"
#include "tests/graph_builder.h"
#include "tests/test.h"

/* An f32 input of g typed from dim text (see input()). */
static tcc_value_t *f32(tcc_graph_t *g, const char *shape) { return input(g, TCC_DTYPE_F32, shape); }

/* attr_ints(n, "strides", INTS(2, 2)) */
#define INTS(...) \
  (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]) { __VA_ARGS__ }

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

/* ---- matmul, gemm, einsum, det ---- */

TEST(matmul_broadcasts_batch_dims) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  CHECK_STR(infer(node(g, TCC_OP_MATMUL, 1, 2, f32(g, "B, 1, S, 64"), f32(g, "12, 64, S"))), "f32[B, 12, S, S]");
  CHECK_STR(infer(node(g, TCC_OP_MATMUL, 1, 2, f32(g, "64"), f32(g, "3, 64, 5"))), "f32[3, 5]");
  CHECK_STR(infer(node(g, TCC_OP_MATMUL, 1, 2, f32(g, "3, 7, 64"), f32(g, "64"))), "f32[3, 7]");
  CHECK_STR(infer(node(g, TCC_OP_MATMUL, 1, 2, f32(g, "64"), f32(g, "64"))), "f32[]");
  CHECK_STR(infer(node(g, TCC_OP_MATMUL, 1, 2, f32(g, "*"), f32(g, "64, 5"))), "f32[*]");
  CHECK_ERROR(node(g, TCC_OP_MATMUL, 1, 2, f32(g, "4, 3"), f32(g, "5, 6")), "inner dimensions differ (3 vs 5)");
  CHECK_ERROR(node(g, TCC_OP_MATMUL, 1, 2, f32(g, "2, 4, 3"), f32(g, "5, 3, 6")), "cannot broadcast");
  CHECK_ERROR(node(g, TCC_OP_MATMUL, 1, 1, f32(g, "4, 3")), "expects 2 inputs, got 1");
  tcc_module_destroy(m);
}

TEST(quantized_matmul_dtypes) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *a = input(g, TCC_DTYPE_U8, "N, 16"), *b = input(g, TCC_DTYPE_I8, "16, 8");
  CHECK_STR(infer(node(g, TCC_OP_MATMUL_INTEGER, 1, 4, a, b, NULL, NULL)), "i32[N, 8]");
  tcc_value_t *sc = f32(g, ""), *zu = input(g, TCC_DTYPE_U8, ""), *zi = input(g, TCC_DTYPE_I8, "");
  CHECK_STR(infer(node(g, TCC_OP_QLINEAR_MATMUL, 1, 8, a, sc, zu, b, sc, zi, sc, zi)), "i8[N, 8]");
  tcc_module_destroy(m);
}

TEST(gemm_transposes) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_GEMM, 1, 3, f32(g, "K, M"), f32(g, "N, K"), f32(g, "N"));
  attr_int(n, "transA", 1);
  attr_int(n, "transB", 1);
  CHECK_STR(infer(n), "f32[M, N]");
  CHECK_STR(infer(node(g, TCC_OP_GEMM, 1, 2, f32(g, "B, 512"), f32(g, "512, 10"))), "f32[B, 10]");
  CHECK_ERROR(node(g, TCC_OP_GEMM, 1, 3, f32(g, "2, 5"), f32(g, "5, 10"), f32(g, "3")), "does not broadcast");
  CHECK_ERROR(node(g, TCC_OP_GEMM, 1, 2, f32(g, "2, 5, 1"), f32(g, "5, 10")), "input A must have rank 2");
  tcc_module_destroy(m);
}

TEST(einsum_equations) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_EINSUM, 1, 2, f32(g, "B, I, J"), f32(g, "B, J, 7"));
  attr_string(n, "equation", "bij, bjk -> bik");
  CHECK_STR(infer(n), "f32[B, I, 7]");
  n = node(g, TCC_OP_EINSUM, 1, 2, f32(g, "3, 4"), f32(g, "4, 5"));
  attr_string(n, "equation", "ij,jk");
  CHECK_STR(infer(n), "f32[3, 5]");
  n = node(g, TCC_OP_EINSUM, 1, 2, f32(g, "B, 1, 3, 4"), f32(g, "H, 4, 5"));
  attr_string(n, "equation", "...ij,...jk->...ik");
  CHECK_STR(infer(n), "f32[B, H, 3, 5]");
  n = node(g, TCC_OP_EINSUM, 1, 1, f32(g, "2, 6, 3"));
  attr_string(n, "equation", "...i->i...");
  CHECK_STR(infer(n), "f32[3, 2, 6]");
  n = node(g, TCC_OP_EINSUM, 1, 1, f32(g, "5, 5"));
  attr_string(n, "equation", "ii");
  CHECK_STR(infer(n), "f32[]");
  n = node(g, TCC_OP_EINSUM, 1, 1, f32(g, "5, 5"));
  attr_string(n, "equation", "ii->i");
  CHECK_STR(infer(n), "f32[5]");
  n = node(g, TCC_OP_EINSUM, 1, 2, f32(g, "3, 4"), f32(g, "5, 6"));
  attr_string(n, "equation", "ij,jk->ik");
  CHECK_ERROR(n, "label 'j' has sizes 4 and 5");
  n = node(g, TCC_OP_EINSUM, 1, 1, f32(g, "3, 4"));
  attr_string(n, "equation", "ij,jk->ik");
  CHECK_ERROR(n, "more operands than the 1 inputs");
  n = node(g, TCC_OP_EINSUM, 1, 1, f32(g, "3, 4, 5"));
  attr_string(n, "equation", "ij->i");
  CHECK_ERROR(n, "has rank 3 but its einsum term 'ij' has 2 labels");
  n = node(g, TCC_OP_EINSUM, 1, 1, f32(g, "3, 4"));
  attr_string(n, "equation", "ij->iz");
  CHECK_ERROR(n, "output label 'z' does not appear");
  tcc_module_destroy(m);
}

TEST(det_drops_matrix_dims) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  CHECK_STR(infer(node(g, TCC_OP_DET, 1, 1, f32(g, "B, 3, 3"))), "f32[B]");
  CHECK_ERROR(node(g, TCC_OP_DET, 1, 1, f32(g, "3, 4")), "not square");
  tcc_module_destroy(m);
}

/* ---- convolution and pooling ---- */

TEST(conv_symbolic_batch_and_spatial) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_CONV, 1, 3, f32(g, "N, 3, H, W"), f32(g, "64, 3, 7, 7"), f32(g, "64"));
  attr_ints(n, "strides", INTS(2, 2));
  attr_ints(n, "pads", INTS(3, 3, 3, 3));
  CHECK_STR(infer(n), "f32[N, 64, (H + 1)//2, (W + 1)//2]");
  /* kernel from the weight, dilation 2: 10 - 2*(3-1) - 1 + 1 = 6 */
  n = node(g, TCC_OP_CONV, 1, 2, f32(g, "1, 4, 10, 12"), f32(g, "8, 2, 3, 3"));
  attr_ints(n, "dilations", INTS(2, 1));
  attr_int(n, "group", 2);
  CHECK_STR(infer(n), "f32[1, 8, 6, 10]");
  n = node(g, TCC_OP_CONV, 1, 2, f32(g, "N, 3, L"), f32(g, "8, 3, 4"));
  attr_string(n, "auto_pad", "VALID");
  attr_ints(n, "strides", INTS(3));
  CHECK_STR(infer(n), "f32[N, 8, (L + 2)//3 - 1]");
  tcc_module_destroy(m);
}

TEST(conv_same_padding) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_CONV, 1, 2, f32(g, "N, 3, H, 15"), f32(g, "16, 3, 3, 3"));
  attr_string(n, "auto_pad", "SAME_UPPER");
  attr_ints(n, "strides", INTS(2, 2));
  CHECK_STR(infer(n), "f32[N, 16, (H + 1)//2, 8]");
  n = node(g, TCC_OP_CONV, 1, 2, f32(g, "1, 3, 5, 5"), f32(g, "16, 3, 3, 3"));
  attr_string(n, "auto_pad", "SAME_LOWER");
  CHECK_STR(infer(n), "f32[1, 16, 5, 5]");
  tcc_module_destroy(m);
}

TEST(conv_variants_and_errors) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x8 = input(g, TCC_DTYPE_U8, "1, 1, 5, 5"), *w8 = input(g, TCC_DTYPE_U8, "1, 1, 3, 3");
  CHECK_STR(infer(node(g, TCC_OP_CONV_INTEGER, 1, 2, x8, w8)), "i32[1, 1, 3, 3]");
  tcc_value_t *s = f32(g, ""), *z = input(g, TCC_DTYPE_U8, "");
  CHECK_STR(infer(node(g, TCC_OP_QLINEAR_CONV, 1, 8, x8, s, z, w8, s, z, s, z)), "u8[1, 1, 3, 3]");
  tcc_node_t *n = node(g, TCC_OP_DEFORM_CONV, 1, 3, f32(g, "2, 4, 6, 6"), f32(g, "8, 4, 3, 3"), f32(g, "2, 18, 4, 4"));
  CHECK_STR(infer(n), "f32[2, 8, 4, 4]");
  CHECK_ERROR(node(g, TCC_OP_CONV, 1, 2, f32(g, "1, 4, 8, 8"), f32(g, "8, 3, 3, 3")),
              "input has 4 channels but the weight expects 3");
  n = node(g, TCC_OP_CONV, 1, 2, f32(g, "1, 6, 8, 8"), f32(g, "8, 2, 3, 3"));
  attr_int(n, "group", 3);
  CHECK_ERROR(n, "8 output channels, not divisible by group 3");
  CHECK_ERROR(node(g, TCC_OP_CONV, 1, 3, f32(g, "1, 3, 8, 8"), f32(g, "8, 3, 3, 3"), f32(g, "4")),
              "bias has 4 elements for 8 channels");
  n = node(g, TCC_OP_CONV, 1, 2, f32(g, "1, 3, 8, 8"), f32(g, "8, 3, 3, 3"));
  attr_ints(n, "pads", INTS(1, 1));
  CHECK_ERROR(n, "attribute 'pads' has 2 values, expected 4");
  n = node(g, TCC_OP_CONV, 1, 2, f32(g, "1, 3, 8, 8"), f32(g, "8, 3, 3, 3"));
  attr_ints(n, "kernel_shape", INTS(5, 5));
  CHECK_ERROR(n, "kernel_shape differs from the weight");
  n = node(g, TCC_OP_CONV, 1, 2, f32(g, "1, 3, 8, 8"), f32(g, "8, 3, 3, 3"));
  attr_string(n, "auto_pad", "SAME");
  CHECK_ERROR(n, "invalid auto_pad 'SAME'");
  CHECK_ERROR(node(g, TCC_OP_CONV, 1, 2, f32(g, "1, 3, 2, 2"), f32(g, "8, 3, 3, 3")),
              "kernel window exceeds the padded input by 1");
  CHECK_ERROR(node(g, TCC_OP_CONV, 1, 2, f32(g, "1, 3, 8, 8"), f32(g, "8, 3, 3")), "input rank 4 and weight rank 3");
  CHECK_LIKE(infer(node(g, TCC_OP_CONV, 1, 2, f32(g, "*"), f32(g, "8, 3, 3, 3"))), "f32[?, 8, ?, ?]");
  tcc_module_destroy(m);
}

TEST(conv_transpose_output_padding_and_shape) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_CONV_TRANSPOSE, 1, 2, f32(g, "1, 1, 3, 3"), f32(g, "1, 2, 3, 3"));
  attr_ints(n, "strides", INTS(3, 2));
  attr_ints(n, "output_padding", INTS(1, 1));
  CHECK_STR(infer(n), "f32[1, 2, 10, 8]");
  n = node(g, TCC_OP_CONV_TRANSPOSE, 1, 2, f32(g, "N, 4, H, W"), f32(g, "4, 3, 4, 4"));
  attr_ints(n, "strides", INTS(2, 2));
  attr_ints(n, "pads", INTS(1, 1, 1, 1));
  attr_int(n, "group", 2);
  CHECK_STR(infer(n), "f32[N, 6, 2*H, 2*W]");
  n = node(g, TCC_OP_CONV_TRANSPOSE, 1, 2, f32(g, "N, 4, H, W"), f32(g, "4, 3, 3, 3"));
  attr_ints(n, "strides", INTS(2, 2));
  attr_string(n, "auto_pad", "SAME_UPPER");
  CHECK_STR(infer(n), "f32[N, 3, 2*H, 2*W]");
  n = node(g, TCC_OP_CONV_TRANSPOSE, 1, 2, f32(g, "1, 1, 3, 3"), f32(g, "1, 2, 3, 3"));
  attr_ints(n, "strides", INTS(3, 2));
  attr_ints(n, "output_shape", INTS(10, 8));
  CHECK_STR(infer(n), "f32[1, 2, 10, 8]");
  CHECK_ERROR(node(g, TCC_OP_CONV_TRANSPOSE, 1, 2, f32(g, "1, 2, 3, 3"), f32(g, "1, 2, 3, 3")),
              "input channels differ from the weight's (2 vs 1)");
  tcc_module_destroy(m);
}

TEST(pool_ceil_mode_and_indices) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_MAX_POOL, 2, 1, f32(g, "1, 1, 4, 4"));
  attr_ints(n, "kernel_shape", INTS(3, 3));
  attr_ints(n, "strides", INTS(2, 2));
  attr_int(n, "ceil_mode", 1);
  CHECK_STR(infer(n), "f32[1, 1, 2, 2]");
  CHECK_STR(ty(n->outputs[1]), "i64[1, 1, 2, 2]");
  /* the last window would start past the input: dropped */
  n = node(g, TCC_OP_MAX_POOL, 1, 1, f32(g, "1, 1, 2, 2"));
  attr_ints(n, "kernel_shape", INTS(1, 1));
  attr_ints(n, "strides", INTS(2, 2));
  attr_int(n, "ceil_mode", 1);
  CHECK_STR(infer(n), "f32[1, 1, 1, 1]");
  n = node(g, TCC_OP_AVERAGE_POOL, 1, 1, f32(g, "N, C, H, 32"));
  attr_ints(n, "kernel_shape", INTS(3, 3));
  attr_ints(n, "strides", INTS(2, 2));
  attr_int(n, "ceil_mode", 1);
  CHECK_STR(infer(n), "f32[N, C, (H)//2, 16]");
  n = node(g, TCC_OP_LP_POOL, 1, 1, f32(g, "N, C, H"));
  attr_ints(n, "kernel_shape", INTS(2));
  attr_ints(n, "pads", INTS(1, 1));
  CHECK_STR(infer(n), "f32[N, C, H + 1]");
  n = node(g, TCC_OP_MAX_POOL, 1, 1, f32(g, "N, C, H, W"));
  attr_ints(n, "kernel_shape", INTS(3, 3));
  attr_string(n, "auto_pad", "SAME_UPPER");
  attr_ints(n, "strides", INTS(2, 1));
  CHECK_STR(infer(n), "f32[N, C, (H + 1)//2, W]");
  CHECK_ERROR(node(g, TCC_OP_AVERAGE_POOL, 1, 1, f32(g, "1, 1, 4, 4")), "attribute 'kernel_shape' is required");
  n = node(g, TCC_OP_MAX_POOL, 1, 1, f32(g, "1, 1, 4, 4"));
  attr_ints(n, "kernel_shape", INTS(2, 2));
  attr_ints(n, "strides", INTS(0, 1));
  CHECK_ERROR(n, "attribute 'strides'[0] = 0 must be >= 1");
  CHECK_STR(infer(node(g, TCC_OP_GLOBAL_AVERAGE_POOL, 1, 1, f32(g, "N, 512, H, W"))), "f32[N, 512, 1, 1]");
  n = node(g, TCC_OP_MAX_UNPOOL, 1, 2, f32(g, "1, 1, 2, 2"), input(g, TCC_DTYPE_I64, "1, 1, 2, 2"));
  attr_ints(n, "kernel_shape", INTS(2, 2));
  attr_ints(n, "strides", INTS(2, 2));
  CHECK_STR(infer(n), "f32[1, 1, 4, 4]");
  n = node(g, TCC_OP_MAX_UNPOOL, 1, 3, f32(g, "1, 1, 2, 2"), input(g, TCC_DTYPE_I64, "1, 1, 2, 2"),
         const_i64(g, 1, 4, (const int64_t[]){1, 1, 5, 5}));
  attr_ints(n, "kernel_shape", INTS(2, 2));
  CHECK_STR(infer(n), "f32[1, 1, 5, 5]");
  n = node(g, TCC_OP_MAX_UNPOOL, 1, 3, f32(g, "1, 1, 2, 2"), input(g, TCC_DTYPE_I64, "1, 1, 2, 2"),
         input(g, TCC_DTYPE_I64, "4"));
  attr_ints(n, "kernel_shape", INTS(2, 2));
  CHECK_LIKE(infer(n), "f32[1, 1, ?, ?]");
  n = node(g, TCC_OP_MAX_POOL, 2, 1, input(g, TCC_DTYPE_F16, "*"));
  attr_ints(n, "kernel_shape", INTS(2, 2));
  CHECK_STR(infer(n), "f16[*]");
  CHECK_STR(ty(n->outputs[1]), "i64[*]");
  tcc_module_destroy(m);
}

/* ---- normalization ---- */

TEST(normalizations) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *c = f32(g, "16");
  tcc_node_t *n = node(g, TCC_OP_BATCH_NORMALIZATION, 3, 5, f32(g, "N, 16, H, W"), c, c, c, c);
  CHECK_STR(infer(n), "f32[N, 16, H, W]");
  CHECK_STR(ty(n->outputs[2]), "f32[16]");
  tcc_value_t *c8 = f32(g, "8");
  CHECK_ERROR(node(g, TCC_OP_BATCH_NORMALIZATION, 1, 5, f32(g, "N, 16, H"), c, c8, c, c), "bias has 8 elements for 16");
  n = node(g, TCC_OP_LAYER_NORMALIZATION, 3, 3, input(g, TCC_DTYPE_F16, "B, S, 768"), f32(g, "768"), NULL);
  attr_int(n, "axis", -1);
  CHECK_STR(infer(n), "f16[B, S, 768]");
  CHECK_STR(ty(n->outputs[1]), "f32[B, S, 1]");
  CHECK_STR(ty(n->outputs[2]), "f32[B, S, 1]");
  n = node(g, TCC_OP_LAYER_NORMALIZATION, 3, 2, f32(g, "B, S, 4, 8"), f32(g, "4, 8"));
  attr_int(n, "axis", 2);
  attr_int(n, "stash_type", TCC_DTYPE_F64);
  CHECK_STR(infer(n), "f32[B, S, 4, 8]");
  CHECK_STR(ty(n->outputs[1]), "f64[B, S, 1, 1]");
  n = node(g, TCC_OP_LAYER_NORMALIZATION, 1, 2, f32(g, "B, 8"), f32(g, "8"));
  attr_int(n, "axis", 2);
  CHECK_ERROR(n, "axis 2 is out of range for rank 2");
  CHECK_STR(infer(node(g, TCC_OP_RMS_NORMALIZATION, 1, 2, input(g, TCC_DTYPE_BF16, "B, S, 64"), f32(g, "64"))),
            "bf16[B, S, 64]");
  tcc_module_destroy(m);
}

/* ---- resampling and rearrangement ---- */

TEST(resize_scales_and_sizes) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = f32(g, "N, 3, H, 10");
  tcc_node_t *n = node(g, TCC_OP_RESIZE, 1, 3, x, NULL, const_f32(g, 4, (const float[]){1, 1, 2, 0.5f}));
  CHECK_STR(infer(n), "f32[N, 3, 2*H, 5]");
  n = node(g, TCC_OP_RESIZE, 1, 3, f32(g, "1, 1, 4, 5"), NULL, const_f32(g, 4, (const float[]){1, 1, 0.6f, 0.6f}));
  CHECK_STR(infer(n), "f32[1, 1, 2, 3]");
  n = node(g, TCC_OP_RESIZE, 1, 4, x, NULL, NULL, shape_input(g, "N, 3, 2*H, 64"));
  CHECK_STR(infer(n), "f32[N, 3, 2*H, 64]");
  n = node(g, TCC_OP_RESIZE, 1, 4, x, NULL, NULL, const_i64(g, 1, 2, (const int64_t[]){32, 32}));
  attr_ints(n, "axes", INTS(3, -2));
  CHECK_STR(infer(n), "f32[N, 3, 32, 32]");
  n = node(g, TCC_OP_RESIZE, 1, 4, f32(g, "1, 1, 3, 5"), NULL, NULL, const_i64(g, 1, 2, (const int64_t[]){6, 6}));
  attr_ints(n, "axes", INTS(2, 3));
  attr_string(n, "keep_aspect_ratio_policy", "not_smaller");
  CHECK_STR(infer(n), "f32[1, 1, 6, 10]");
  n = node(g, TCC_OP_RESIZE, 1, 4, f32(g, "1, 1, 3, 5"), NULL, NULL, const_i64(g, 1, 2, (const int64_t[]){6, 6}));
  attr_ints(n, "axes", INTS(2, 3));
  attr_string(n, "keep_aspect_ratio_policy", "not_larger");
  CHECK_STR(infer(n), "f32[1, 1, 4, 6]");
  CHECK_LIKE(infer(node(g, TCC_OP_RESIZE, 1, 3, x, NULL, f32(g, "4"))), "f32[?, ?, ?, ?]");
  CHECK_ERROR(node(g, TCC_OP_RESIZE, 1, 3, x, NULL, const_f32(g, 3, (const float[]){1, 2, 2})), "scales has 3 values");
  CHECK_ERROR(node(g, TCC_OP_RESIZE, 1, 4, x, NULL, const_f32(g, 4, (const float[]){1, 1, 2, 2}),
                   shape_input(g, "1, 1, 2, 2")),
              "only one of 'scales' and 'sizes'");
  /* fuzz: floor(in * scale) beyond int64 is an error, not an overflowing conversion */
  CHECK_ERROR(node(g, TCC_OP_RESIZE, 1, 3, f32(g, "1, 1, 4, 5"), NULL,
                   const_f32(g, 4, (const float[]){1, 1, 1e30f, 1})),
              "output size 4e+30 along axis 2 is out of range");
  n = node(g, TCC_OP_RESIZE, 1, 4, f32(g, "1, 1, 1, 5"), NULL, NULL,
           const_i64(g, 1, 2, (const int64_t[]){INT64_MAX, 1}));
  attr_ints(n, "axes", INTS(2, 3));
  attr_string(n, "keep_aspect_ratio_policy", "not_smaller");
  CHECK_ERROR(n, "is out of range");
  tcc_module_destroy(m);
}

TEST(spatial_rearrangement) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_DEPTH_TO_SPACE, 1, 1, f32(g, "N, 16, H, W"));
  attr_int(n, "blocksize", 2);
  CHECK_STR(infer(n), "f32[N, 4, 2*H, 2*W]");
  n = node(g, TCC_OP_SPACE_TO_DEPTH, 1, 1, f32(g, "N, 3, 8, 6"));
  attr_int(n, "blocksize", 2);
  CHECK_STR(infer(n), "f32[N, 12, 4, 3]");
  n = node(g, TCC_OP_SPACE_TO_DEPTH, 1, 1, f32(g, "N, 3, 8, 5"));
  attr_int(n, "blocksize", 2);
  CHECK_ERROR(n, "spatial dim 5 is not divisible by blocksize 2");
  n = node(g, TCC_OP_DEPTH_TO_SPACE, 1, 1, f32(g, "N, 6, 2, 2"));
  attr_int(n, "blocksize", 2);
  CHECK_ERROR(n, "channels (6) are not divisible by blocksize^2 (4)");
  CHECK_STR(infer(node(g, TCC_OP_GRID_SAMPLE, 1, 2, f32(g, "N, C, 32, 32"), f32(g, "N, 7, 9, 2"))), "f32[N, C, 7, 9]");
  CHECK_ERROR(node(g, TCC_OP_GRID_SAMPLE, 1, 2, f32(g, "N, C, 32, 32"), f32(g, "N, 7, 9, 3")), "grid's last dim is 3");
  CHECK_STR(infer(node(g, TCC_OP_AFFINE_GRID, 1, 2, f32(g, "N, 2, 3"), shape_input(g, "N, 3, H, W"))),
            "f32[N, H, W, 2]");
  CHECK_STR(
      infer(node(g, TCC_OP_AFFINE_GRID, 1, 2, f32(g, "2, 3, 4"), const_i64(g, 1, 5, (const int64_t[]){2, 1, 4, 5, 6}))),
      "f32[2, 4, 5, 6, 3]");
  n = node(g, TCC_OP_ROI_ALIGN, 1, 3, f32(g, "N, 256, H, W"), f32(g, "R, 4"), input(g, TCC_DTYPE_I64, "R"));
  attr_int(n, "output_height", 7);
  attr_int(n, "output_width", 7);
  CHECK_STR(infer(n), "f32[R, 256, 7, 7]");
  n = node(g, TCC_OP_COL2IM, 1, 3, f32(g, "1, 5, 5"), const_i64(g, 1, 2, (const int64_t[]){5, 5}),
         const_i64(g, 1, 2, (const int64_t[]){1, 5}));
  CHECK_STR(infer(n), "f32[1, 1, 5, 5]");
  n = node(g, TCC_OP_COL2IM, 1, 3, f32(g, "1, 5, 6"), const_i64(g, 1, 2, (const int64_t[]){5, 5}),
         const_i64(g, 1, 2, (const int64_t[]){1, 5}));
  CHECK_ERROR(n, "input has 6 blocks but the image holds 5");
  /* fuzz: huge block_shape / pads overflow int64 products and sums */
  n = node(g, TCC_OP_COL2IM, 1, 3, f32(g, "1, 5, 5"), const_i64(g, 1, 2, (const int64_t[]){5, 5}),
           const_i64(g, 1, 2, (const int64_t[]){INT64_MAX / 2, 5}));
  CHECK_ERROR(n, "the product of block_shape overflows");
  n = node(g, TCC_OP_COL2IM, 1, 3, f32(g, "1, 5, 5"), const_i64(g, 1, 2, (const int64_t[]){5, 5}),
           const_i64(g, 1, 2, (const int64_t[]){1, 5}));
  attr_ints(n, "pads", INTS(INT64_MAX, INT64_MAX, 0, 0));
  CHECK_ERROR(n, "the block count of spatial axis 0 overflows");
  tcc_module_destroy(m);
}

/* ---- recurrent networks and attention ---- */

TEST(rnn_layouts) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_LSTM, 3, 3, f32(g, "S, B, 10"), f32(g, "2, 80, 10"), f32(g, "2, 80, 20"));
  attr_string(n, "direction", "bidirectional");
  attr_int(n, "hidden_size", 20);
  CHECK_STR(infer(n), "f32[S, 2, B, 20]");
  CHECK_STR(ty(n->outputs[1]), "f32[2, B, 20]");
  CHECK_STR(ty(n->outputs[2]), "f32[2, B, 20]");
  n = node(g, TCC_OP_GRU, 2, 3, f32(g, "B, S, 10"), f32(g, "1, 60, 10"), f32(g, "1, 60, 20"));
  attr_int(n, "layout", 1);
  CHECK_STR(infer(n), "f32[B, S, 1, 20]");
  CHECK_STR(ty(n->outputs[1]), "f32[B, 1, 20]");
  n = node(g, TCC_OP_RNN, 2, 3, f32(g, "S, B, 10"), f32(g, "1, 8, 10"), f32(g, "*"));
  n->outputs[0] = NULL;
  CHECK_STR(infer(n), "");
  CHECK_STR(ty(n->outputs[1]), "f32[1, B, 8]");
  n = node(g, TCC_OP_LSTM, 1, 3, f32(g, "S, B, 10"), f32(g, "1, 80, 10"), f32(g, "1, 80, 20"));
  attr_int(n, "hidden_size", 16);
  CHECK_ERROR(n, "hidden_size differs from R's dim 2");
  n = node(g, TCC_OP_LSTM, 1, 3, f32(g, "S, B, 10"), f32(g, "1, 80, 10"), f32(g, "1, 80, 20"));
  attr_string(n, "direction", "sideways");
  CHECK_ERROR(n, "invalid direction 'sideways'");
  tcc_module_destroy(m);
}

TEST(attention_3d_and_4d) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_ATTENTION, 4, 3, f32(g, "B, S, 512"), f32(g, "B, T, 128"), f32(g, "B, T, 256"));
  attr_int(n, "q_num_heads", 8);
  attr_int(n, "kv_num_heads", 2);
  CHECK_STR(infer(n), "f32[B, S, 1024]");
  CHECK_STR(ty(n->outputs[1]), "f32[B, 2, T, 64]");
  CHECK_STR(ty(n->outputs[2]), "f32[B, 2, T, 128]");
  CHECK_STR(ty(n->outputs[3]), "f32[B, 8, S, T]");
  n = node(g, TCC_OP_ATTENTION, 4, 6, f32(g, "B, 8, S, 64"), f32(g, "B, 8, S, 64"), f32(g, "B, 8, S, 32"), NULL,
         f32(g, "B, 8, P, 64"), f32(g, "B, 8, P, 32"));
  CHECK_STR(infer(n), "f32[B, 8, S, 32]");
  CHECK_STR(ty(n->outputs[1]), "f32[B, 8, P + S, 64]");
  CHECK_STR(ty(n->outputs[2]), "f32[B, 8, P + S, 32]");
  CHECK_STR(ty(n->outputs[3]), "f32[B, 8, S, P + S]");
  n = node(g, TCC_OP_ATTENTION, 1, 3, f32(g, "B, S, 512"), f32(g, "B, T, 128"), f32(g, "B, T, 256"));
  CHECK_ERROR(n, "3-D inputs need positive q_num_heads and kv_num_heads");
  CHECK_ERROR(node(g, TCC_OP_ATTENTION, 1, 3, f32(g, "B, 8, S, 64"), f32(g, "B, 8, S, 32"), f32(g, "B, 8, S, 32")),
              "Q and K head sizes differ (64 vs 32)");
  CHECK_ERROR(node(g, TCC_OP_ATTENTION, 1, 3, f32(g, "B, 8, S, 64"), f32(g, "B, S, 64"), f32(g, "B, S, 64")),
              "all have rank 3 or all rank 4");
  tcc_module_destroy(m);
}

/* ---- losses, signal processing ---- */

TEST(losses) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = f32(g, "N, 10, D"), *t = input(g, TCC_DTYPE_I64, "N, D");
  CHECK_STR(infer(node(g, TCC_OP_NEGATIVE_LOG_LIKELIHOOD_LOSS, 1, 2, x, t)), "f32[]");
  tcc_node_t *n = node(g, TCC_OP_SOFTMAX_CROSS_ENTROPY_LOSS, 2, 3, x, t, f32(g, "10"));
  attr_string(n, "reduction", "none");
  CHECK_STR(infer(n), "f32[N, D]");
  CHECK_STR(ty(n->outputs[1]), "f32[N, 10, D]");
  CHECK_ERROR(node(g, TCC_OP_NEGATIVE_LOG_LIKELIHOOD_LOSS, 1, 2, x, input(g, TCC_DTYPE_I64, "N")),
              "target rank 1 should be input rank 3 minus 1");
  n = node(g, TCC_OP_NEGATIVE_LOG_LIKELIHOOD_LOSS, 1, 2, x, t);
  attr_string(n, "reduction", "avg");
  CHECK_ERROR(n, "invalid reduction 'avg'");
  tcc_module_destroy(m);
}

TEST(signal_ops) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_DFT, 1, 3, f32(g, "B, 16, 8, 1"), NULL, scalar(g, 1));
  attr_int(n, "onesided", 1);
  CHECK_STR(infer(n), "f32[B, 9, 8, 2]");
  CHECK_STR(infer(node(g, TCC_OP_DFT, 1, 2, f32(g, "B, N, 2"), scalar(g, 32))), "f32[B, 32, 2]");
  CHECK_STR(infer(node(g, TCC_OP_DFT, 1, 3, f32(g, "B, N, 1"), NULL, input(g, TCC_DTYPE_I64, ""))), "f32[B, N, 2]");
  CHECK_ERROR(node(g, TCC_OP_DFT, 1, 3, f32(g, "B, N, 1"), NULL, scalar(g, 2)), "axis 2 is out of range for rank 3");
  n = node(g, TCC_OP_STFT, 1, 4, f32(g, "1, 128, 1"), scalar(g, 8), NULL, scalar(g, 16));
  CHECK_STR(infer(n), "f32[1, 15, 9, 2]");
  n = node(g, TCC_OP_STFT, 1, 3, f32(g, "B, L, 1"), scalar(g, 4), f32(g, "16"));
  attr_int(n, "onesided", 0);
  CHECK_STR(infer(n), "f32[B, (L)//4 - 3, 16, 2]");
  n = node(g, TCC_OP_MEL_WEIGHT_MATRIX, 1, 5, scalar(g, 8), scalar(g, 16), scalar(g, 8192), f32(g, ""), f32(g, ""));
  CHECK_STR(infer(n), "f32[9, 8]");
  n = node(g, TCC_OP_HANN_WINDOW, 1, 1, scalar(g, 10));
  attr_int(n, "output_datatype", TCC_DTYPE_F64);
  CHECK_STR(infer(n), "f64[10]");
  CHECK_STR(infer(node(g, TCC_OP_BLACKMAN_WINDOW, 1, 1, shape_input(g, "L"))), "f32[L]");
  n = node(g, TCC_OP_HAMMING_WINDOW, 1, 1, input(g, TCC_DTYPE_I32, ""));
  attr_int(n, "output_datatype", 99);
  CHECK_ERROR(n, "invalid output_datatype 99");
  tcc_module_destroy(m);
}

/* ---- data-dependent sizes ---- */

TEST(data_dependent_sizes) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_TOP_K, 2, 2, f32(g, "B, 1000"), const_i64(g, 1, 1, (const int64_t[]){5}));
  CHECK_STR(infer(n), "f32[B, 5]");
  CHECK_STR(ty(n->outputs[1]), "i64[B, 5]");
  n = node(g, TCC_OP_TOP_K, 2, 2, f32(g, "B, 1000, 3"), shape_input(g, "K"));
  attr_int(n, "axis", 1);
  CHECK_STR(infer(n), "f32[B, K, 3]");
  CHECK_ERROR(node(g, TCC_OP_TOP_K, 2, 2, f32(g, "B, 4"), const_i64(g, 1, 1, (const int64_t[]){5})),
              "K = 5 exceeds the axis size 4");
  CHECK_LIKE(infer(node(g, TCC_OP_NON_ZERO, 1, 1, f32(g, "B, 4"))), "i64[2, ?]");
  CHECK_STR(infer(node(g, TCC_OP_NON_ZERO, 1, 1, const_i64(g, 1, 4, (const int64_t[]){0, 3, 0, 1}))), "i64[1, 2]");
  CHECK_LIKE(infer(node(g, TCC_OP_NON_MAX_SUPPRESSION, 1, 3, f32(g, "1, N, 4"), f32(g, "1, 1, N"), scalar(g, 3))),
             "i64[?, 3]");
  n = node(g, TCC_OP_UNIQUE, 4, 1, f32(g, "3, 4"));
  CHECK_LIKE(infer(n), "f32[?]");
  CHECK(n->outputs[0]->type.dims[0] == n->outputs[1]->type.dims[0]);
  CHECK(n->outputs[0]->type.dims[0] == n->outputs[3]->type.dims[0]);
  CHECK_STR(ty(n->outputs[2]), "i64[12]");
  n = node(g, TCC_OP_UNIQUE, 4, 1, f32(g, "3, 4"));
  attr_int(n, "axis", -1);
  CHECK_LIKE(infer(n), "f32[3, ?]");
  CHECK_STR(ty(n->outputs[2]), "i64[4]");
  CHECK(n->outputs[0]->type.dims[1] == n->outputs[3]->type.dims[0]);
  tcc_value_t *cond = const_i64(g, 1, 3, (const int64_t[]){0, 1, 1});
  n = node(g, TCC_OP_COMPRESS, 1, 2, f32(g, "3, 2"), cond);
  attr_int(n, "axis", 0);
  CHECK_STR(infer(n), "f32[2, 2]");
  CHECK_LIKE(infer(node(g, TCC_OP_COMPRESS, 1, 2, f32(g, "3, 2"), input(g, TCC_DTYPE_BOOL, "C"))), "f32[?]");
  n = node(g, TCC_OP_COMPRESS, 1, 2, f32(g, "3, 2"), cond);
  attr_int(n, "axis", 1);
  CHECK_ERROR(n, "condition has 3 values for 2 elements");
  tcc_module_destroy(m);
}

TEST(graph_infer_chain) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *conv = node(g, TCC_OP_CONV, 1, 2, f32(g, "N, 3, 224, 224"), f32(g, "64, 3, 7, 7"));
  attr_ints(conv, "strides", INTS(2, 2));
  attr_ints(conv, "pads", INTS(3, 3, 3, 3));
  tcc_node_t *pool = node(g, TCC_OP_MAX_POOL, 1, 1, conv->outputs[0]);
  attr_ints(pool, "kernel_shape", INTS(3, 3));
  attr_ints(pool, "strides", INTS(2, 2));
  attr_ints(pool, "pads", INTS(1, 1, 1, 1));
  tcc_node_t *gap = node(g, TCC_OP_GLOBAL_AVERAGE_POOL, 1, 1, pool->outputs[0]);
  CHECK_OK(tcc_graph_infer(g));
  CHECK_STR(ty(conv->outputs[0]), "f32[N, 64, 112, 112]");
  CHECK_STR(ty(pool->outputs[0]), "f32[N, 64, 56, 56]");
  CHECK_STR(ty(gap->outputs[0]), "f32[N, 64, 1, 1]");
  tcc_module_destroy(m);
}

RUN_TESTS(T(matmul_broadcasts_batch_dims), T(quantized_matmul_dtypes), T(gemm_transposes), T(einsum_equations),
          T(det_drops_matrix_dims), T(conv_symbolic_batch_and_spatial), T(conv_same_padding),
          T(conv_variants_and_errors), T(conv_transpose_output_padding_and_shape), T(pool_ceil_mode_and_indices),
          T(normalizations), T(resize_scales_and_sizes), T(spatial_rearrangement), T(rnn_layouts),
          T(attention_3d_and_4d), T(losses), T(signal_ops), T(data_dependent_sizes), T(graph_infer_chain))
