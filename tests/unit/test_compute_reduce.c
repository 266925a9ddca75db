/* Compute definitions of the reduction family (ir/compute_reduce.c): kernels build and verify for every op
 * (attributes, symbolic dims, half types), unsupported operands name the node, and kernels run by the
 * reference evaluator match straightforward C references on seeded random inputs. */
#include <math.h>
#include <stdlib.h>

#include "ir/compute.h"
#include "ir/kernel_eval.h"
#include "tests/graph_builder.h"
#include "tests/kernel_runner.h"
#include "tests/test.h"

/* ---- helpers -------------------------------------------------------------------------------------- */

#define INTS(...) (int64_t)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

/* ---- building ------------------------------------------------------------------------------------- */

TEST(every_op_builds_and_verifies) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_dtype_t f32 = TCC_DTYPE_F32, f16 = TCC_DTYPE_F16;
  /* matmul: batched, broadcast, 1-D operands, symbolic, half, int */
  build_kernel(node(g, TCC_OP_MATMUL, 1, 2, input(g, f32, "2, 3, 4"), input(g, f32, "4, 5")));
  build_kernel(node(g, TCC_OP_MATMUL, 1, 2, input(g, f32, "batch, 1, 3, 4"), input(g, f32, "6, 4, 5")));
  build_kernel(node(g, TCC_OP_MATMUL, 1, 2, input(g, f32, "4"), input(g, f32, "2, 4, 5")));
  build_kernel(node(g, TCC_OP_MATMUL, 1, 2, input(g, f16, "seq, 4"), input(g, f16, "4")));
  build_kernel(node(g, TCC_OP_MATMUL, 1, 2, input(g, TCC_DTYPE_I32, "3, 4"), input(g, TCC_DTYPE_I32, "4, 2")));
  tcc_node_t *n = node(g, TCC_OP_GEMM, 1, 3, input(g, f32, "4, 3"), input(g, f32, "5, 4"), input(g, f32, "5"));
  attr_int(n, "transA", 1), attr_int(n, "transB", 1), attr_float(n, "alpha", 0.5);
  build_kernel(n);
  build_kernel(node(g, TCC_OP_GEMM, 1, 2, input(g, TCC_DTYPE_BF16, "n, 4"), input(g, TCC_DTYPE_BF16, "4, 2")));
  /* conv: 1-D, 2-D grouped + SAME, 3-D, symbolic */
  build_kernel(node(g, TCC_OP_CONV, 1, 2, input(g, f32, "1, 2, 7"), input(g, f32, "3, 2, 3")));
  n = node(g, TCC_OP_CONV, 1, 3, input(g, f32, "batch, 4, h, w"), input(g, f32, "6, 2, 3, 3"), input(g, f32, "6"));
  attr_int(n, "group", 2), attr_string(n, "auto_pad", "SAME_LOWER"), attr_ints(n, "strides", INTS(2, 2));
  build_kernel(n);
  build_kernel(node(g, TCC_OP_CONV, 1, 2, input(g, f16, "1, 2, 3, 4, 5"), input(g, f16, "2, 2, 1, 2, 2")));
  /* pools */
  n = node(g, TCC_OP_MAX_POOL, 2, 1, input(g, f32, "1, 2, 5, 5"));
  attr_ints(n, "kernel_shape", INTS(2, 2)), attr_int(n, "ceil_mode", 1), attr_ints(n, "strides", INTS(2, 2));
  build_kernel(n);
  n = node(g, TCC_OP_MAX_POOL, 1, 1, input(g, TCC_DTYPE_U8, "1, 2, 5"));
  attr_ints(n, "kernel_shape", INTS(3)), attr_string(n, "auto_pad", "SAME_UPPER");
  build_kernel(n);
  n = node(g, TCC_OP_AVERAGE_POOL, 1, 1, input(g, f32, "1, 2, 5, 5"));
  attr_ints(n, "kernel_shape", INTS(3, 3)), attr_ints(n, "pads", INTS(1, 1, 1, 1)), attr_int(n, "count_include_pad", 1);
  build_kernel(n);
  n = node(g, TCC_OP_LP_POOL, 1, 1, input(g, f32, "1, 2, 5, 5"));
  attr_ints(n, "kernel_shape", INTS(2, 2)), attr_int(n, "p", 3);
  build_kernel(n);
  build_kernel(node(g, TCC_OP_GLOBAL_AVERAGE_POOL, 1, 1, input(g, f32, "batch, 3, 7, 7")));
  build_kernel(node(g, TCC_OP_GLOBAL_MAX_POOL, 1, 1, input(g, f16, "1, 3, 7")));
  /* softmax family */
  build_kernel(node(g, TCC_OP_SOFTMAX, 1, 1, input(g, f32, "batch, seq, 8")));
  build_kernel(node(g, TCC_OP_LOG_SOFTMAX, 1, 1, input(g, f16, "2, 8")));
  n = node(g, TCC_OP_HARDMAX, 1, 1, input(g, f32, "2, 3, 4"));
  attr_int(n, "axis", 1);
  build_kernel(n);
  /* normalizations */
  n = node(g, TCC_OP_LAYER_NORMALIZATION, 3, 3, input(g, f32, "batch, seq, 8"), input(g, f32, "8"), input(g, f32, "8"));
  build_kernel(n);
  build_kernel(node(g, TCC_OP_LAYER_NORMALIZATION, 1, 2, input(g, f16, "2, 8"), input(g, f16, "8")));
  build_kernel(node(g, TCC_OP_RMS_NORMALIZATION, 1, 2, input(g, f32, "2, 3, 8"), input(g, f32, "8")));
  build_kernel(node(g, TCC_OP_BATCH_NORMALIZATION, 1, 5, input(g, f32, "batch, 3, 4, 4"), input(g, f32, "3"),
             input(g, f32, "3"), input(g, f32, "3"), input(g, f32, "3")));
  build_kernel(node(g, TCC_OP_INSTANCE_NORMALIZATION, 1, 3, input(g, f32, "2, 3, 4, 4"), input(g, f32, "3"),
             input(g, f32, "3")));
  n = node(g, TCC_OP_GROUP_NORMALIZATION, 1, 3, input(g, f32, "2, 4, 3"), input(g, f32, "4"), input(g, f32, "4"));
  attr_int(n, "num_groups", 2);
  build_kernel(n);
  build_kernel(node(g, TCC_OP_MEAN_VARIANCE_NORMALIZATION, 1, 1, input(g, f32, "2, 3, 4, 4")));
  n = node(g, TCC_OP_LP_NORMALIZATION, 1, 1, input(g, f32, "2, 5"));
  attr_int(n, "p", 1);
  build_kernel(n);
  n = node(g, TCC_OP_LRN, 1, 1, input(g, f32, "1, 5, 3, 3"));
  attr_int(n, "size", 3);
  build_kernel(n);
  /* reductions */
  static const tcc_op_t reduce_ops[] = {TCC_OP_REDUCE_SUM,  TCC_OP_REDUCE_MEAN,    TCC_OP_REDUCE_MAX,
                                        TCC_OP_REDUCE_MIN,  TCC_OP_REDUCE_PROD,    TCC_OP_REDUCE_L1,
                                        TCC_OP_REDUCE_L2,   TCC_OP_REDUCE_LOG_SUM, TCC_OP_REDUCE_LOG_SUM_EXP,
                                        TCC_OP_REDUCE_SUM_SQUARE};
  for (size_t i = 0; i < sizeof reduce_ops / sizeof *reduce_ops; i++) {
    n = node(g, reduce_ops[i], 1, 2, input(g, f32, "batch, 3, 4"), const_i64(g, 1, 2, (int64_t[]){0, -1}));
    attr_int(n, "keepdims", 0);
    build_kernel(n);
    build_kernel(node(g, reduce_ops[i], 1, 1, input(g, TCC_DTYPE_I32, "2, 3")));
  }
  n = node(g, TCC_OP_REDUCE_SUM, 1, 2, input(g, f32, "2, 3"), const_i64(g, 1, 0, NULL));
  attr_int(n, "noop_with_empty_axes", 1);
  build_kernel(n);
  n = node(g, TCC_OP_ARGMIN, 1, 1, input(g, TCC_DTYPE_I64, "2, 3, 4"));
  attr_int(n, "axis", -1), attr_int(n, "select_last_index", 1), attr_int(n, "keepdims", 0);
  build_kernel(n);
  n = node(g, TCC_OP_CUMSUM, 1, 2, input(g, f32, "2, 3"), scalar(g, 1));
  attr_int(n, "exclusive", 1), attr_int(n, "reverse", 1);
  build_kernel(n);
  tcc_module_destroy(m);
}

TEST(unsupported_operands_name_the_node) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_REDUCE_SUM, 1, 2, input(g, TCC_DTYPE_F32, "2, 3"), input(g, TCC_DTYPE_I64, "1"));
  n->name = "dyn_axes";
  CHECK(build_unsupported(n, "axes input must be a constant"));
  n = node(g, TCC_OP_CONV, 1, 2, input(g, TCC_DTYPE_I32, "1, 1, 3"), input(g, TCC_DTYPE_I32, "1, 1, 1"));
  n->name = "int_conv";
  CHECK(build_unsupported(n, "element type i32"));
  n = node(g, TCC_OP_CUMSUM, 1, 2, input(g, TCC_DTYPE_F32, "2, 3"), input(g, TCC_DTYPE_I64, ""));
  n->name = "dyn_cumsum";
  CHECK(build_unsupported(n, "axis input must be a constant"));
  tcc_module_destroy(m);
}

/* ---- running -------------------------------------------------------------------------------------- */

/* matmul [2,3,4] x [4,5] and a broadcast batch [2,1,3,4] x [3,4,2]. */
TEST(matmul_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_kernel_t *k =
      build_kernel(node(g, TCC_OP_MATMUL, 1, 2, input(g, TCC_DTYPE_F32, "2, 3, 4"), input(g, TCC_DTYPE_F32, "4, 5")));
  params_t p = params(k, 1);
  if (run(k, p.buf)) {
    double want[30] = {0};
    for (int b = 0; b < 2; b++)
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 5; j++)
          for (int r = 0; r < 4; r++) want[(b * 3 + i) * 5 + j] += F(p, 0)[(b * 3 + i) * 4 + r] * F(p, 1)[r * 5 + j];
    CHECK_CLOSE(F(p, 2), want, 30);
  }
  params_free(&p);
  k = build_kernel(node(g, TCC_OP_MATMUL, 1, 2, input(g, TCC_DTYPE_F32, "2, 1, 3, 4"), input(g, TCC_DTYPE_F32, "3, 4, 2")));
  p = params(k, 2);
  if (run(k, p.buf)) {
    double want[2 * 3 * 3 * 2] = {0};
    for (int a = 0; a < 2; a++)
      for (int b = 0; b < 3; b++)
        for (int i = 0; i < 3; i++)
          for (int j = 0; j < 2; j++)
            for (int r = 0; r < 4; r++)
              want[((a * 3 + b) * 3 + i) * 2 + j] += F(p, 0)[(a * 3 + i) * 4 + r] * F(p, 1)[(b * 4 + r) * 2 + j];
    CHECK_CLOSE(F(p, 2), want, 36);
  }
  params_free(&p);
  tcc_module_destroy(m);
}

/* gemm with transA, transB, alpha, beta and a row-broadcast C. */
TEST(gemm_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_GEMM, 1, 3, input(g, TCC_DTYPE_F32, "4, 3"), input(g, TCC_DTYPE_F32, "5, 4"),
                       input(g, TCC_DTYPE_F32, "5"));
  attr_int(n, "transA", 1), attr_int(n, "transB", 1), attr_float(n, "alpha", 0.5), attr_float(n, "beta", 2);
  tcc_kernel_t *k = build_kernel(n);
  params_t p = params(k, 3);
  if (run(k, p.buf)) {
    double want[15];
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 5; j++) {
        double s = 0;
        for (int r = 0; r < 4; r++) s += F(p, 0)[r * 3 + i] * F(p, 1)[j * 4 + r];
        want[i * 5 + j] = 0.5 * s + 2 * F(p, 2)[j];
      }
    CHECK_CLOSE(F(p, 3), want, 15);
  }
  params_free(&p);
  tcc_module_destroy(m);
}

/* Reference 2-D convolution (NCHW, OIHW), pads (top, left), output oh x ow. */
static void conv_ref(const float *x, const float *w, const float *b, double *y, int n, int c, int h, int wd, int mo,
                     int kh, int kw, int group, int stride, int dil, int pt, int pl, int oh, int ow) {
  int cpg = c / group, mpg = mo / group;
  for (int in = 0; in < n; in++)
    for (int m = 0; m < mo; m++)
      for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++) {
          double s = b ? b[m] : 0;
          for (int cc = 0; cc < cpg; cc++)
            for (int u = 0; u < kh; u++)
              for (int v = 0; v < kw; v++) {
                int yy = i * stride - pt + u * dil, xx = j * stride - pl + v * dil;
                if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
                int ch = (m / mpg) * cpg + cc;
                s += x[((in * c + ch) * h + yy) * wd + xx] * w[((m * cpg + cc) * kh + u) * kw + v];
              }
          y[((in * mo + m) * oh + i) * ow + j] = s;
        }
}

/* conv 2-D with pads, stride 2, dilation 2, group 2 and bias; then depthwise with SAME_UPPER. */
TEST(conv_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_CONV, 1, 3, input(g, TCC_DTYPE_F32, "2, 4, 7, 6"),
                       input(g, TCC_DTYPE_F32, "6, 2, 3, 2"), input(g, TCC_DTYPE_F32, "6"));
  attr_int(n, "group", 2), attr_ints(n, "strides", INTS(2, 2)), attr_ints(n, "dilations", INTS(2, 2));
  attr_ints(n, "pads", INTS(2, 1, 1, 1));
  tcc_kernel_t *k = build_kernel(n);
  CHECK_STR(ty(n->outputs[0]), "f32[2, 6, 3, 3]");
  params_t p = params(k, 4);
  if (run(k, p.buf)) {
    double want[2 * 6 * 3 * 3];
    conv_ref(F(p, 0), F(p, 1), F(p, 2), want, 2, 4, 7, 6, 6, 3, 2, 2, 2, 2, 2, 1, 3, 3);
    CHECK_CLOSE(F(p, 3), want, 2 * 6 * 3 * 3);
  }
  params_free(&p);
  n = node(g, TCC_OP_CONV, 1, 2, input(g, TCC_DTYPE_F32, "1, 3, 5, 5"), input(g, TCC_DTYPE_F32, "3, 1, 3, 3"));
  attr_int(n, "group", 3), attr_string(n, "auto_pad", "SAME_UPPER"), attr_ints(n, "strides", INTS(2, 2));
  k = build_kernel(n);
  CHECK_STR(ty(n->outputs[0]), "f32[1, 3, 3, 3]");
  p = params(k, 5);
  if (run(k, p.buf)) {
    double want[27]; /* total pad = (3-1)*2 + 3 - 5 = 2: 1 before, 1 after */
    conv_ref(F(p, 0), F(p, 1), NULL, want, 1, 3, 5, 5, 3, 3, 3, 3, 2, 1, 1, 1, 3, 3);
    CHECK_CLOSE(F(p, 2), want, 27);
  }
  params_free(&p);
  tcc_module_destroy(m);
}

/* maxpool 2x2 stride 2 ceil_mode over 5x5 (with Indices); averagepool 3x3 pads 1 both count_include_pad ways. */
TEST(pool_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_MAX_POOL, 2, 1, input(g, TCC_DTYPE_F32, "1, 2, 5, 5"));
  attr_ints(n, "kernel_shape", INTS(2, 2)), attr_int(n, "ceil_mode", 1), attr_ints(n, "strides", INTS(2, 2));
  tcc_kernel_t *k = build_kernel(n);
  CHECK_STR(ty(n->outputs[0]), "f32[1, 2, 3, 3]");
  params_t p = params(k, 6);
  if (run(k, p.buf)) {
    double want[18];
    for (int c = 0; c < 2; c++)
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
          double best = -INFINITY;
          int64_t arg = 0;
          for (int u = 0; u < 2; u++)
            for (int v = 0; v < 2; v++) {
              int yy = 2 * i + u, xx = 2 * j + v;
              if (yy >= 5 || xx >= 5) continue;
              int64_t at = (c * 5 + yy) * 5 + xx;
              if (F(p, 0)[at] > best) best = F(p, 0)[at], arg = at;
            }
          want[(c * 3 + i) * 3 + j] = best;
          CHECK(((int64_t *)p.buf[2])[(c * 3 + i) * 3 + j] == arg);
        }
    CHECK_CLOSE(F(p, 1), want, 18);
  }
  params_free(&p);
  for (int include = 0; include < 2; include++) {
    n = node(g, TCC_OP_AVERAGE_POOL, 1, 1, input(g, TCC_DTYPE_F32, "1, 2, 5, 5"));
    attr_ints(n, "kernel_shape", INTS(3, 3)), attr_ints(n, "pads", INTS(1, 1, 1, 1));
    attr_int(n, "count_include_pad", include), attr_ints(n, "strides", INTS(2, 2));
    k = build_kernel(n);
    p = params(k, 7);
    if (run(k, p.buf)) {
      double want[18];
      for (int c = 0; c < 2; c++)
        for (int i = 0; i < 3; i++)
          for (int j = 0; j < 3; j++) {
            double s = 0;
            int cnt = 0;
            for (int u = 0; u < 3; u++)
              for (int v = 0; v < 3; v++) {
                int yy = 2 * i - 1 + u, xx = 2 * j - 1 + v;
                if (yy < 0 || yy >= 5 || xx < 0 || xx >= 5) continue;
                s += F(p, 0)[(c * 5 + yy) * 5 + xx], cnt++;
              }
            want[(c * 3 + i) * 3 + j] = s / (include ? 9 : cnt);
          }
      CHECK_CLOSE(F(p, 1), want, 18);
    }
    params_free(&p);
  }
  tcc_module_destroy(m);
}

/* softmax axis=1 over [2,3,4], log_softmax, and global average pool. */
TEST(softmax_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  for (int is_log = 0; is_log < 2; is_log++) {
    tcc_node_t *n = node(g, is_log ? TCC_OP_LOG_SOFTMAX : TCC_OP_SOFTMAX, 1, 1, input(g, TCC_DTYPE_F32, "2, 3, 4"));
    attr_int(n, "axis", 1);
    tcc_kernel_t *k = build_kernel(n);
    params_t p = params(k, 8);
    if (run(k, p.buf)) {
      double want[24];
      for (int a = 0; a < 2; a++)
        for (int c = 0; c < 4; c++) {
          double s = 0;
          for (int b = 0; b < 3; b++) s += exp(F(p, 0)[(a * 3 + b) * 4 + c]);
          for (int b = 0; b < 3; b++) {
            double e = F(p, 0)[(a * 3 + b) * 4 + c];
            want[(a * 3 + b) * 4 + c] = is_log ? e - log(s) : exp(e) / s;
          }
        }
      CHECK_CLOSE(F(p, 1), want, 24);
    }
    params_free(&p);
  }
  tcc_module_destroy(m);
}

/* layer norm over the last axis with scale, bias, Mean and InvStdDev. */
TEST(layer_norm_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_LAYER_NORMALIZATION, 3, 3, input(g, TCC_DTYPE_F32, "2, 3, 8"),
                       input(g, TCC_DTYPE_F32, "8"), input(g, TCC_DTYPE_F32, "8"));
  tcc_kernel_t *k = build_kernel(n);
  params_t p = params(k, 9);
  if (run(k, p.buf)) {
    double want[48], mean[6], inv[6];
    for (int r = 0; r < 6; r++) {
      const float *x = F(p, 0) + r * 8;
      double s = 0, v = 0;
      for (int i = 0; i < 8; i++) s += x[i];
      mean[r] = s / 8;
      for (int i = 0; i < 8; i++) v += (x[i] - mean[r]) * (x[i] - mean[r]);
      inv[r] = 1 / sqrt(v / 8 + 1e-5);
      for (int i = 0; i < 8; i++) want[r * 8 + i] = (x[i] - mean[r]) * inv[r] * F(p, 1)[i] + F(p, 2)[i];
    }
    CHECK_CLOSE(F(p, 3), want, 48);
    CHECK_CLOSE(F(p, 4), mean, 6);
    CHECK_CLOSE(F(p, 5), inv, 6);
  }
  params_free(&p);
  tcc_module_destroy(m);
}

/* reduce_mean over axes {1} of [2,3,4], keepdims both ways (same data, same layout); argmax axis 2. */
TEST(reduce_and_argmax_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  for (int keep = 0; keep < 2; keep++) {
    tcc_node_t *n =
        node(g, TCC_OP_REDUCE_MEAN, 1, 2, input(g, TCC_DTYPE_F32, "2, 3, 4"), const_i64(g, 1, 1, (int64_t[]){1}));
    attr_int(n, "keepdims", keep);
    tcc_kernel_t *k = build_kernel(n);
    CHECK_STR(ty(n->outputs[0]), keep ? "f32[2, 1, 4]" : "f32[2, 4]");
    params_t p = params(k, 10);
    if (run(k, p.buf)) {
      double want[8] = {0};
      for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
          for (int c = 0; c < 4; c++) want[a * 4 + c] += F(p, 0)[(a * 3 + b) * 4 + c] / 3;
      CHECK_CLOSE(F(p, 2), want, 8); /* x1 is the axes constant */
    }
    params_free(&p);
  }
  tcc_node_t *n = node(g, TCC_OP_ARGMAX, 1, 1, input(g, TCC_DTYPE_F32, "2, 3, 4"));
  attr_int(n, "axis", 2);
  tcc_kernel_t *k = build_kernel(n);
  params_t p = params(k, 11);
  if (run(k, p.buf)) {
    for (int r = 0; r < 6; r++) {
      int best = 0;
      for (int c = 1; c < 4; c++)
        if (F(p, 0)[r * 4 + c] > F(p, 0)[r * 4 + best]) best = c;
      CHECK(((int64_t *)p.buf[1])[r] == best);
    }
  }
  params_free(&p);
  tcc_module_destroy(m);
}

RUN_TESTS(T(every_op_builds_and_verifies), T(unsupported_operands_name_the_node), T(matmul_numeric), T(gemm_numeric),
          T(conv_numeric), T(pool_numeric), T(softmax_numeric), T(layer_norm_numeric), T(reduce_and_argmax_numeric))
