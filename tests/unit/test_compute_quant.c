/* Compute definitions of the quantization family (ir/compute_quant.c): kernels build and verify over symbolic
 * shapes, unsupported operands name the node, and the evaluator matches C references on the tricky parts —
 * round half to even and saturation, blocked and per-axis parameters, dynamic quantization, per-row zero
 * points, per-channel requantization, einsum diagonals / broadcast ellipsis / implicit outputs, and
 * determinants that need pivoting or are singular. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "ir/compute.h"
#include "ir/kernel_eval.h"
#include "tests/graph_builder.h"
#include "tests/kernel_runner.h"
#include "tests/test.h"

#define INTS(...) (int64_t)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

static double rnd(void) { return 2.0 * rand() / RAND_MAX - 1.0; }

/* ---- building ------------------------------------------------------------------------------------- */

TEST(every_op_builds_and_verifies) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_dtype_t f32 = TCC_DTYPE_F32, u8 = TCC_DTYPE_U8, i8 = TCC_DTYPE_I8;
  /* quantize: per tensor, per axis over a symbolic dim, blocked, float8 without saturation, int4 */
  build_kernel(node(g, TCC_OP_QUANTIZE_LINEAR, 1, 3, input(g, f32, "batch, 4"), input(g, f32, ""),
                    input(g, i8, "")));
  tcc_node_t *n =
      node(g, TCC_OP_QUANTIZE_LINEAR, 1, 3, input(g, f32, "2, c, 4"), input(g, f32, "c"), input(g, u8, "c"));
  build_kernel(n);
  n = node(g, TCC_OP_QUANTIZE_LINEAR, 1, 2, input(g, f32, "n, 8"), input(g, f32, "n, 3"));
  attr_int(n, "axis", -1), attr_int(n, "block_size", 3), attr_int(n, "output_dtype", TCC_DTYPE_I16);
  build_kernel(n);
  n = node(g, TCC_OP_QUANTIZE_LINEAR, 1, 3, input(g, TCC_DTYPE_F16, "5"), input(g, TCC_DTYPE_F16, ""),
           input(g, TCC_DTYPE_F8E5M2, ""));
  attr_int(n, "saturate", 0);
  build_kernel(n);
  build_kernel(node(g, TCC_OP_QUANTIZE_LINEAR, 1, 3, input(g, f32, "3, 4"), input(g, f32, "4"),
                    input(g, TCC_DTYPE_I4, "4")));
  /* dequantize: int4 per axis, float8, blocked, output_dtype */
  n = node(g, TCC_OP_DEQUANTIZE_LINEAR, 1, 3, input(g, TCC_DTYPE_U4, "3, seq"), input(g, f32, "3"),
           input(g, TCC_DTYPE_U4, "3"));
  attr_int(n, "axis", 0);
  build_kernel(n);
  build_kernel(node(g, TCC_OP_DEQUANTIZE_LINEAR, 1, 2, input(g, TCC_DTYPE_F8E4M3FN, "5"), input(g, TCC_DTYPE_F16, "")));
  n = node(g, TCC_OP_DEQUANTIZE_LINEAR, 1, 3, input(g, i8, "4, 6"), input(g, f32, "4, 2"), input(g, i8, "4, 2"));
  attr_int(n, "axis", 1), attr_int(n, "block_size", 3), attr_int(n, "output_dtype", TCC_DTYPE_F16);
  build_kernel(n);
  build_kernel(node(g, TCC_OP_DYNAMIC_QUANTIZE_LINEAR, 3, 1, input(g, f32, "batch, 7")));
  /* integer linear algebra */
  build_kernel(node(g, TCC_OP_MATMUL_INTEGER, 1, 4, input(g, u8, "b, 1, m, 4"), input(g, i8, "3, 4, n"),
                    input(g, u8, "m"), input(g, i8, "n")));
  build_kernel(node(g, TCC_OP_MATMUL_INTEGER, 1, 2, input(g, i8, "4"), input(g, i8, "4, 2")));
  build_kernel(node(g, TCC_OP_QLINEAR_MATMUL, 1, 8, input(g, u8, "b, 2, 4"), input(g, f32, ""), input(g, u8, ""),
                    input(g, u8, "4, 3"), input(g, f32, "3"), input(g, u8, "3"), input(g, f32, ""), input(g, u8, "")));
  n = node(g, TCC_OP_CONV_INTEGER, 1, 4, input(g, u8, "batch, 4, h, w"), input(g, i8, "6, 2, 3, 3"), input(g, u8, ""),
           input(g, i8, "6"));
  attr_int(n, "group", 2), attr_string(n, "auto_pad", "SAME_LOWER"), attr_ints(n, "strides", INTS(2, 2));
  build_kernel(n);
  n = node(g, TCC_OP_QLINEAR_CONV, 1, 9, input(g, i8, "1, 2, 5"), input(g, f32, ""), input(g, i8, ""),
           input(g, i8, "3, 2, 2"), input(g, f32, "3"), input(g, i8, "3"), input(g, f32, ""), input(g, i8, ""),
           input(g, TCC_DTYPE_I32, "3"));
  attr_ints(n, "pads", INTS(1, 0)), attr_ints(n, "dilations", INTS(2));
  build_kernel(n);
  /* einsum and det */
  n = node(g, TCC_OP_EINSUM, 1, 2, input(g, f32, "batch, 3, 4"), input(g, f32, "4, 5"));
  attr_string(n, "equation", "...ij,jk->...ik");
  build_kernel(n);
  n = node(g, TCC_OP_EINSUM, 1, 1, input(g, TCC_DTYPE_I32, "n, n"));
  attr_string(n, "equation", "ii");
  build_kernel(n);
  build_kernel(node(g, TCC_OP_DET, 1, 1, input(g, f32, "batch, n, n")));
  build_kernel(node(g, TCC_OP_DET, 1, 1, input(g, TCC_DTYPE_F16, "3, 3")));
  tcc_module_destroy(m);
}

TEST(unsupported_operands_name_the_node) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_QUANTIZE_LINEAR, 1, 3, input(g, TCC_DTYPE_F32, "4"), input(g, TCC_DTYPE_F32, ""),
                       input(g, TCC_DTYPE_I32, ""));
  n->name = "q32";
  CHECK(build_unsupported(n, "quantization to i32"));
  n = node(g, TCC_OP_MATMUL_INTEGER, 1, 2, input(g, TCC_DTYPE_I32, "2, 2"), input(g, TCC_DTYPE_I32, "2, 2"));
  n->name = "mm32";
  CHECK(build_unsupported(n, "element type i32"));
  n = node(g, TCC_OP_DET, 1, 1, input(g, TCC_DTYPE_I64, "2, 2"));
  n->name = "det_int";
  CHECK(build_unsupported(n, "element type i64"));
  tcc_module_destroy(m);
}

/* ---- running -------------------------------------------------------------------------------------- */

/* Blocked int8 quantization with a remainder block: ties round to even, then the zero point, then saturation. */
TEST(quantize_blocked_round_even_saturate) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_QUANTIZE_LINEAR, 1, 3, input(g, TCC_DTYPE_F32, "2, 5"),
                       input(g, TCC_DTYPE_F32, "2, 3"), input(g, TCC_DTYPE_I8, "2, 3"));
  attr_int(n, "axis", 1), attr_int(n, "block_size", 2);
  tcc_kernel_t *k = build_kernel(n);
  float x[10] = {1.25f, 1.75f, -1.25f, 500, -500, 5, 7, -5, 0.5f, 1.5f};
  float scale[6] = {0.5f, 0.5f, 1, 2, 1, 1};
  int8_t zp[6] = {0, 3, -128, 1, 0, 127}, y[10];
  void *bufs[] = {x, scale, zp, y};
  if (run(k, bufs)) {
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 5; j++) {
        int p = i * 3 + j / 2;
        double q = nearbyint(x[i * 5 + j] / scale[p]) + zp[p];
        q = q < -128 ? -128 : q > 127 ? 127 : q;
        CHECK(y[i * 5 + j] == (int8_t)q);
      }
    CHECK(y[0] == 2 && y[1] == 4); /* 2.5 -> 2, 3.5 -> 4 */
    CHECK(y[3] == 127 && y[4] == -128);
  }
  /* uint4 per axis 0: results saturate to [0, 15] and pack two per byte */
  n = node(g, TCC_OP_QUANTIZE_LINEAR, 1, 3, input(g, TCC_DTYPE_F32, "2, 3"), input(g, TCC_DTYPE_F32, "2"),
           input(g, TCC_DTYPE_U4, "2"));
  attr_int(n, "axis", 0);
  k = build_kernel(n);
  float x4[6] = {-3, 2.5f, 100, 0, 6.5f, 7.5f}, s4[2] = {1, 0.5f};
  uint8_t z4[1] = {0x21}, y4[3] = {0}; /* zero points 1 and 2 */
  void *bufs4[] = {x4, s4, z4, y4};
  if (run(k, bufs4)) {
    int want[6] = {0, 3, 15, 2, 15, 15};
    for (int i = 0; i < 6; i++) CHECK(((y4[i / 2] >> (i % 2 * 4)) & 15) == want[i]);
  }
  tcc_module_destroy(m);
}

/* Per-axis uint8 dequantization; DynamicQuantizeLinear's scale, zero point and values. */
TEST(dequantize_and_dynamic_quantize) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_DEQUANTIZE_LINEAR, 1, 3, input(g, TCC_DTYPE_U8, "2, 3, 2"),
                       input(g, TCC_DTYPE_F32, "3"), input(g, TCC_DTYPE_U8, "3"));
  tcc_kernel_t *k = build_kernel(n);
  uint8_t x[12] = {0, 1, 2, 255, 128, 7, 9, 10, 200, 3, 4, 5}, zp[3] = {1, 128, 255};
  float scale[3] = {0.5f, 2, 0.25f}, y[12];
  void *bufs[] = {x, scale, zp, y};
  if (run(k, bufs)) {
    double want[12];
    for (int i = 0; i < 12; i++) want[i] = (x[i] - zp[i / 2 % 3]) * (double)scale[i / 2 % 3];
    CHECK_CLOSE(y, want, 12);
  }
  k = build_kernel(node(g, TCC_OP_DYNAMIC_QUANTIZE_LINEAR, 3, 1, input(g, TCC_DTYPE_F32, "2, 3")));
  float dx[6] = {1, 2.1f, 3.5f, 0.5f, 4, 5}, ds = 0;
  uint8_t dy[6], dz = 0;
  void *dbufs[] = {dx, dy, &ds, &dz};
  if (run(k, dbufs)) { /* min adjusted to 0: scale = 5 / 255, zero point 0 */
    float s = 5.0f / 255.0f;
    CHECK(ds == s && dz == 0);
    for (int i = 0; i < 6; i++) CHECK(dy[i] == (uint8_t)fmin(255, nearbyintf(dx[i] / s)));
  }
  float ex[3] = {-1, 0, 2}, es = 0;
  uint8_t ey[3], ez = 0;
  void *ebufs[] = {ex, ey, &es, &ez};
  if (run(build_kernel(node(g, TCC_OP_DYNAMIC_QUANTIZE_LINEAR, 3, 1, input(g, TCC_DTYPE_F32, "3"))), ebufs)) {
    float s = 3.0f / 255.0f;
    CHECK(es == s && ez == (uint8_t)nearbyintf(1.0f / s) && ey[1] == ez && ey[0] == 0 && ey[2] == 255);
  }
  tcc_module_destroy(m);
}

/* MatMulInteger with per-row A and per-column B zero points; QLinearMatMul saturating int8 output. */
TEST(integer_matmul_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_kernel_t *k = build_kernel(node(g, TCC_OP_MATMUL_INTEGER, 1, 4, input(g, TCC_DTYPE_U8, "3, 4"),
                                      input(g, TCC_DTYPE_I8, "4, 2"), input(g, TCC_DTYPE_U8, "3"),
                                      input(g, TCC_DTYPE_I8, "2")));
  uint8_t a[12] = {255, 0, 17, 200, 1, 2, 3, 4, 128, 128, 9, 250}, az[3] = {10, 0, 128};
  int8_t b[8] = {-128, 127, 5, -6, 0, 100, -7, 8}, bz[2] = {-3, 4};
  int32_t y[6];
  void *bufs[] = {a, b, az, bz, y};
  if (run(k, bufs))
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 2; j++) {
        int32_t s = 0;
        for (int r = 0; r < 4; r++) s += (a[i * 4 + r] - az[i]) * (b[r * 2 + j] - bz[j]);
        CHECK(y[i * 2 + j] == s);
      }
  k = build_kernel(node(g, TCC_OP_QLINEAR_MATMUL, 1, 8, input(g, TCC_DTYPE_I8, "2, 2"), input(g, TCC_DTYPE_F32, ""),
                        input(g, TCC_DTYPE_I8, ""), input(g, TCC_DTYPE_I8, "2, 2"), input(g, TCC_DTYPE_F32, ""),
                        input(g, TCC_DTYPE_I8, ""), input(g, TCC_DTYPE_F32, ""), input(g, TCC_DTYPE_I8, "")));
  int8_t qa[4] = {100, -100, 3, 1}, qb[4] = {100, 1, 100, 2}, za = 0, zb = 0, zy = -9, qy[4];
  float sa = 1, sb = 1, sy = 0.5f;
  void *qbufs[] = {qa, &sa, &za, qb, &sb, &zb, &sy, &zy, qy};
  if (run(k, qbufs)) { /* [[0, -100], [400, 5]] * 2 - 9: saturates instead of wrapping */
    CHECK(qy[0] == -9 && qy[1] == -128 && qy[2] == 127 && qy[3] == 1);
  }
  tcc_module_destroy(m);
}

/* QLinearConv, grouped, padded, with per-channel weight scales and zero points and an i32 bias. */
TEST(qlinear_conv_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_QLINEAR_CONV, 1, 9, input(g, TCC_DTYPE_U8, "1, 2, 4, 4"), input(g, TCC_DTYPE_F32, ""),
                       input(g, TCC_DTYPE_U8, ""), input(g, TCC_DTYPE_I8, "2, 1, 3, 3"), input(g, TCC_DTYPE_F32, "2"),
                       input(g, TCC_DTYPE_I8, "2"), input(g, TCC_DTYPE_F32, ""), input(g, TCC_DTYPE_U8, ""),
                       input(g, TCC_DTYPE_I32, "2"));
  attr_int(n, "group", 2), attr_ints(n, "pads", INTS(1, 1, 1, 1));
  tcc_kernel_t *k = build_kernel(n);
  uint8_t x[32], xz = 100, yz = 50, y[32];
  int8_t w[18], wz[2] = {1, -2};
  float sx = 0.05f, sw[2] = {0.02f, 0.5f}, sy = 0.1f;
  int32_t bias[2] = {-50, 70};
  srand(3);
  for (int i = 0; i < 32; i++) x[i] = (uint8_t)(rand() & 255);
  for (int i = 0; i < 18; i++) w[i] = (int8_t)(rand() % 41 - 20);
  void *bufs[] = {x, &sx, &xz, w, sw, wz, &sy, &yz, bias, y};
  if (run(k, bufs))
    for (int c = 0; c < 2; c++)
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
          int32_t acc = bias[c];
          for (int u = 0; u < 3; u++)
            for (int v = 0; v < 3; v++) {
              int yy = i - 1 + u, xx = j - 1 + v;
              if (yy < 0 || yy >= 4 || xx < 0 || xx >= 4) continue;
              acc += (x[(c * 4 + yy) * 4 + xx] - xz) * (w[c * 9 + u * 3 + v] - wz[c]);
            }
          double r = nearbyint(acc * (double)(float)(sx * sw[c] / sy) + yz);
          r = r < 0 ? 0 : r > 255 ? 255 : r;
          CHECK(y[(c * 4 + i) * 4 + j] == (uint8_t)r);
        }
  tcc_module_destroy(m);
}

/* Einsum: broadcast ellipsis batch matmul, diagonal, trace, implicit outer product, reduction of a label. */
TEST(einsum_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n =
      node(g, TCC_OP_EINSUM, 1, 2, input(g, TCC_DTYPE_F32, "2, 1, 3, 4"), input(g, TCC_DTYPE_F32, "5, 4, 2"));
  attr_string(n, "equation", "...ij,...jk->...ik");
  tcc_kernel_t *k = build_kernel(n);
  CHECK_STR(ty(n->outputs[0]), "f32[2, 5, 3, 2]");
  float a[24], b[40], y[60];
  srand(5);
  for (int i = 0; i < 24; i++) a[i] = (float)rnd();
  for (int i = 0; i < 40; i++) b[i] = (float)rnd();
  void *bufs[] = {a, b, y};
  if (run(k, bufs)) {
    double want[60] = {0};
    for (int p = 0; p < 2; p++)
      for (int q = 0; q < 5; q++)
        for (int i = 0; i < 3; i++)
          for (int kk = 0; kk < 2; kk++)
            for (int j = 0; j < 4; j++)
              want[((p * 5 + q) * 3 + i) * 2 + kk] += a[(p * 3 + i) * 4 + j] * b[(q * 4 + j) * 2 + kk];
    CHECK_CLOSE(y, want, 60);
  }
  /* "ii->i" (diagonal) and "ii" (trace) over [3, 3]; "i,j" is implicitly "ij"; "ijk->ki" sums j */
  n = node(g, TCC_OP_EINSUM, 1, 1, input(g, TCC_DTYPE_F32, "3, 3"));
  attr_string(n, "equation", "ii -> i");
  k = build_kernel(n);
  float d[3], tr = 0;
  void *dbufs[] = {a, d};
  if (run(k, dbufs)) CHECK(d[0] == a[0] && d[1] == a[4] && d[2] == a[8]);
  n = node(g, TCC_OP_EINSUM, 1, 1, input(g, TCC_DTYPE_F32, "3, 3"));
  attr_string(n, "equation", "ii");
  k = build_kernel(n);
  CHECK_STR(ty(n->outputs[0]), "f32[]");
  void *tbufs[] = {a, &tr};
  if (run(k, tbufs)) CHECK(fabs(tr - (a[0] + a[4] + a[8])) < 1e-6);
  n = node(g, TCC_OP_EINSUM, 1, 2, input(g, TCC_DTYPE_F32, "3"), input(g, TCC_DTYPE_F32, "2"));
  attr_string(n, "equation", "j,i");
  k = build_kernel(n);
  CHECK_STR(ty(n->outputs[0]), "f32[2, 3]");
  float o[6];
  void *obufs[] = {a, b, o};
  if (run(k, obufs))
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++) CHECK(o[i * 3 + j] == a[j] * b[i]);
  n = node(g, TCC_OP_EINSUM, 1, 1, input(g, TCC_DTYPE_F32, "2, 3, 4"));
  attr_string(n, "equation", "ijk->ki");
  k = build_kernel(n);
  float s[8];
  void *sbufs[] = {a, s};
  if (run(k, sbufs)) {
    double want[8] = {0};
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++)
        for (int kk = 0; kk < 4; kk++) want[kk * 2 + i] += a[(i * 3 + j) * 4 + kk];
    CHECK_CLOSE(s, want, 8);
  }
  tcc_module_destroy(m);
}

/* Det of a batch: a matrix whose first pivot is 0 (needs a row swap), a singular one, and a random 3x3. */
TEST(det_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_kernel_t *k = build_kernel(node(g, TCC_OP_DET, 1, 1, input(g, TCC_DTYPE_F32, "3, 3, 3")));
  float x[27] = {0, 2, 1, 1, 1, 1, 3, 0, 2, /* det = 0*(2-0) - 2*(2-3) + 1*(0-3) = -1 */
                 1, 2, 3, 2, 4, 6, 0, 1, 1, /* rows 0 and 1 dependent */
                 0};
  srand(9);
  for (int i = 18; i < 27; i++) x[i] = (float)rnd();
  float y[3];
  void *bufs[] = {x, y};
  if (run(k, bufs)) {
    const float *r = x + 18;
    double want[3] = {-1, 0,
                      r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) +
                          r[2] * (r[3] * r[7] - r[4] * r[6])};
    CHECK_CLOSE(y, want, 3);
  }
  tcc_module_destroy(m);
}

RUN_TESTS(T(every_op_builds_and_verifies), T(unsupported_operands_name_the_node),
          T(quantize_blocked_round_even_saturate), T(dequantize_and_dynamic_quantize), T(integer_matmul_numeric),
          T(qlinear_conv_numeric), T(einsum_numeric), T(det_numeric))
