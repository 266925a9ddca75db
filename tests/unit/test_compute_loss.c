/* Compute definitions of losses, attention and rotary embedding (ir/compute_loss.c): kernels build and
 * verify over symbolic dims, unsupported operands name the node, and the reference evaluator matches
 * straightforward C references on the tricky parts — ignored targets (out of range) with weights and
 * every reduction, log_prob, attention with a past cache, GQA, a bool mask, causal, softcap and the
 * qk_matmul_output modes, 3-D attention layouts, partial and interleaved rotation with position ids. */
#include <math.h>
#include <stdlib.h>

#include "ir/compute.h"
#include "ir/kernel_eval.h"
#include "tests/graph_builder.h"
#include "tests/kernel_runner.h"
#include "tests/test.h"

/* ---- helpers -------------------------------------------------------------------------------------- */

/* Buffer i of a params_t as int64 (F(p, i) is its float view). */
#define I64(p, i) ((int64_t *)(p).buf[i])

/* ---- building ------------------------------------------------------------------------------------- */

TEST(every_op_builds_and_verifies) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_dtype_t f32 = TCC_DTYPE_F32, i64 = TCC_DTYPE_I64;
  tcc_node_t *n = node(g, TCC_OP_NEGATIVE_LOG_LIKELIHOOD_LOSS, 1, 3, input(g, f32, "batch, 5, d"),
                       input(g, i64, "batch, d"), input(g, f32, "5"));
  attr_string(n, "reduction", "none"), attr_int(n, "ignore_index", -1);
  build_kernel(n);
  build_kernel(node(g, TCC_OP_NEGATIVE_LOG_LIKELIHOOD_LOSS, 1, 2, input(g, TCC_DTYPE_F16, "n, 3"),
                    input(g, TCC_DTYPE_I32, "n")));
  n = node(g, TCC_OP_SOFTMAX_CROSS_ENTROPY_LOSS, 2, 3, input(g, f32, "batch, 3, h, w"), input(g, i64, "batch, h, w"),
           input(g, f32, "3"));
  attr_string(n, "reduction", "sum"), attr_int(n, "ignore_index", 2);
  build_kernel(n);
  /* attention: 4-D GQA with past, bool mask, causal, softcap, every output */
  n = node(g, TCC_OP_ATTENTION, 4, 6, input(g, f32, "batch, 8, seq, 16"), input(g, f32, "batch, 2, kv, 16"),
           input(g, f32, "batch, 2, kv, 12"), input(g, TCC_DTYPE_BOOL, "seq, past + kv"),
           input(g, f32, "batch, 2, past, 16"), input(g, f32, "batch, 2, past, 12"));
  attr_int(n, "is_causal", 1), attr_float(n, "softcap", 3), attr_int(n, "qk_matmul_output_mode", 3);
  build_kernel(n);
  CHECK_STR(ty(n->outputs[3]), "f32[batch, 8, seq, kv + past]");
  /* 3-D with a float mask shorter than the key sequence, broadcast over heads */
  n = node(g, TCC_OP_ATTENTION, 1, 4, input(g, f32, "batch, seq, 64"), input(g, f32, "batch, kv, 32"),
           input(g, f32, "batch, kv, 32"), input(g, f32, "batch, 1, seq, 3"));
  attr_int(n, "q_num_heads", 4), attr_int(n, "kv_num_heads", 2), attr_float(n, "scale", 0.25);
  build_kernel(n);
  build_kernel(node(g, TCC_OP_ATTENTION, 1, 3, input(g, TCC_DTYPE_F16, "1, 2, 3, 4"),
                    input(g, TCC_DTYPE_F16, "1, 2, 5, 4"), input(g, TCC_DTYPE_F16, "1, 2, 5, 4")));
  /* rotary: 3-D with position ids, 4-D without */
  n = node(g, TCC_OP_ROTARY_EMBEDDING, 1, 4, input(g, f32, "batch, seq, 32"), input(g, f32, "max, 4"),
           input(g, f32, "max, 4"), input(g, i64, "batch, seq"));
  attr_int(n, "num_heads", 4), attr_int(n, "interleaved", 1);
  build_kernel(n);
  n = node(g, TCC_OP_ROTARY_EMBEDDING, 1, 3, input(g, f32, "batch, 2, seq, 8"), input(g, f32, "batch, seq, 2"),
           input(g, f32, "batch, seq, 2"));
  attr_int(n, "rotary_embedding_dim", 4);
  build_kernel(n);
  tcc_module_destroy(m);
}

TEST(unsupported_operands_name_the_node) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_ATTENTION, 1, 3, input(g, TCC_DTYPE_I32, "1, 2, 3, 4"),
                       input(g, TCC_DTYPE_I32, "1, 2, 3, 4"), input(g, TCC_DTYPE_I32, "1, 2, 3, 4"));
  n->name = "int_attention";
  CHECK(build_unsupported(n, "element type i32"));
  n = node(g, TCC_OP_NEGATIVE_LOG_LIKELIHOOD_LOSS, 1, 2, input(g, TCC_DTYPE_I64, "2, 3"),
           input(g, TCC_DTYPE_I64, "2"));
  n->name = "int_nll";
  CHECK(build_unsupported(n, "element type i64"));
  tcc_module_destroy(m);
}

/* ---- losses --------------------------------------------------------------------------------------- */

/* NLL over x [2, 3, 2] with weights and ignore_index -1 (an out-of-range class that must not be read),
 * every reduction. */
TEST(nll_loss_numeric) {
  static const char *const reductions[] = {"none", "sum", "mean"};
  static const int64_t target[4] = {0, 2, -1, 1};
  for (int r = 0; r < 3; r++) {
    tcc_module_t *m = new_module();
    tcc_graph_t *g = m->graph;
    tcc_node_t *n = node(g, TCC_OP_NEGATIVE_LOG_LIKELIHOOD_LOSS, 1, 3, input(g, TCC_DTYPE_F32, "2, 3, 2"),
                         input(g, TCC_DTYPE_I64, "2, 2"), input(g, TCC_DTYPE_F32, "3"));
    attr_string(n, "reduction", reductions[r]), attr_int(n, "ignore_index", -1);
    tcc_kernel_t *k = build_kernel(n);
    params_t p = params(k, 1);
    if (k) memcpy(p.buf[1], target, sizeof target);
    if (run(k, p.buf)) {
      const float *x = F(p, 0), *w = F(p, 2);
      double loss[4], sum = 0, wsum = 0;
      for (int b = 0; b < 2; b++)
        for (int d = 0; d < 2; d++) {
          int64_t t = target[b * 2 + d];
          loss[b * 2 + d] = t == -1 ? 0 : -x[(b * 3 + t) * 2 + d] * w[t];
          sum += loss[b * 2 + d], wsum += t == -1 ? 0 : w[t];
        }
      double mean = sum / wsum;
      if (r == 0) CHECK_CLOSE(F(p, 3), loss, 4);
      else CHECK_CLOSE(F(p, 3), r == 1 ? &sum : &mean, 1);
    }
    params_free(&p);
    tcc_module_destroy(m);
  }
}

/* softmax cross entropy, mean without weights but with an ignored target, and its log_prob output. */
TEST(softmax_cross_entropy_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_SOFTMAX_CROSS_ENTROPY_LOSS, 2, 2, input(g, TCC_DTYPE_F32, "3, 4"),
                       input(g, TCC_DTYPE_I32, "3"));
  attr_int(n, "ignore_index", 7);
  tcc_kernel_t *k = build_kernel(n);
  CHECK_STR(ty(n->outputs[0]), "f32[]");
  params_t p = params(k, 2);
  static const int32_t target[3] = {3, 7, 0};
  if (k) memcpy(p.buf[1], target, sizeof target);
  if (run(k, p.buf)) {
    double lp[12], loss = 0;
    for (int b = 0; b < 3; b++) {
      double mx = -INFINITY, s = 0;
      for (int c = 0; c < 4; c++) mx = fmax(mx, F(p, 0)[b * 4 + c]);
      for (int c = 0; c < 4; c++) s += exp(F(p, 0)[b * 4 + c] - mx);
      for (int c = 0; c < 4; c++) lp[b * 4 + c] = log(exp(F(p, 0)[b * 4 + c] - mx) / s);
      if (target[b] != 7) loss -= lp[b * 4 + target[b]];
    }
    loss /= 2;
    CHECK_CLOSE(F(p, 2), &loss, 1);
    CHECK_CLOSE(F(p, 3), lp, 12);
  }
  params_free(&p);
  tcc_module_destroy(m);
}

/* ---- attention ------------------------------------------------------------------------------------ */

enum { B = 1, HQ = 4, HKV = 2, S = 3, P = 2, L = 2, T = P + L, D = 4, DV = 3 };

/* 4-D GQA attention with a past cache, a bool mask, is_causal, softcap and output 3 in mode 1 (s + bias). */
TEST(attention_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_ATTENTION, 4, 6, input(g, TCC_DTYPE_F32, "1, 4, 3, 4"),
                       input(g, TCC_DTYPE_F32, "1, 2, 2, 4"), input(g, TCC_DTYPE_F32, "1, 2, 2, 3"),
                       input(g, TCC_DTYPE_BOOL, "3, 4"), input(g, TCC_DTYPE_F32, "1, 2, 2, 4"),
                       input(g, TCC_DTYPE_F32, "1, 2, 2, 3"));
  attr_int(n, "is_causal", 1), attr_float(n, "softcap", 2), attr_int(n, "qk_matmul_output_mode", 1);
  tcc_kernel_t *k = build_kernel(n);
  params_t p = params(k, 3);
  bool mask[S][T];
  for (int i = 0; i < S; i++)
    for (int j = 0; j < T; j++) mask[i][j] = j == 0 || (i + j) % 3 != 1;
  if (k) memcpy(p.buf[3], mask, sizeof mask);
  if (run(k, p.buf)) {
    const float *q = F(p, 0), *kc = F(p, 1), *vc = F(p, 2), *pk = F(p, 4), *pv = F(p, 5);
    double key[HKV][T][D], val[HKV][T][DV], y[HQ][S][DV], qk[HQ][S][T];
    for (int g2 = 0; g2 < HKV; g2++)
      for (int t = 0; t < T; t++) {
        for (int d = 0; d < D; d++) key[g2][t][d] = t < P ? pk[(g2 * P + t) * D + d] : kc[(g2 * L + t - P) * D + d];
        for (int d = 0; d < DV; d++) val[g2][t][d] = t < P ? pv[(g2 * P + t) * DV + d] : vc[(g2 * L + t - P) * DV + d];
      }
    for (int h = 0; h < HQ; h++)
      for (int i = 0; i < S; i++) {
        int kvh = h % HKV; /* the 1.18 function body tiles the kv heads */
        double s[T], mx = -INFINITY, sum = 0;
        for (int j = 0; j < T; j++) {
          double dot = 0;
          for (int d = 0; d < D; d++) dot += q[(h * S + i) * D + d] * key[kvh][j][d];
          dot *= 0.5; /* 1 / sqrt(D) */
          double bias = (j > i ? -INFINITY : 0) + (mask[i][j] ? 0 : -INFINITY);
          qk[h][i][j] = dot + bias;
          s[j] = 2 * tanh((dot + bias) / 2);
          mx = fmax(mx, s[j]);
        }
        for (int j = 0; j < T; j++) sum += exp(s[j] - mx);
        for (int d = 0; d < DV; d++) {
          y[h][i][d] = 0;
          for (int j = 0; j < T; j++) y[h][i][d] += exp(s[j] - mx) / sum * val[kvh][j][d];
        }
      }
    CHECK_CLOSE(F(p, 6), &y[0][0][0], HQ * S * DV);
    CHECK_CLOSE(F(p, 7), &key[0][0][0], HKV * T * D);
    CHECK_CLOSE(F(p, 8), &val[0][0][0], HKV * T * DV);
    /* -inf entries compare equal, finite ones close */
    for (int e = 0; e < HQ * S * T; e++) {
      double want = (&qk[0][0][0])[e];
      float got = F(p, 9)[e];
      CHECK(isinf(want) ? got == (float)want : fabs(got - want) <= 1e-5 * (1 + fabs(want)));
    }
  }
  params_free(&p);
  tcc_module_destroy(m);
}

/* 3-D attention: Q [1, 2, 8] with 2 query heads over 1 kv head; each batch's Q is viewed as [heads, seq,
 * head] by a plain reshape (ONNX 1.18), and Y [1, seq, heads * v_head] is the transposed result. */
TEST(attention_3d_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_ATTENTION, 1, 3, input(g, TCC_DTYPE_F32, "1, 2, 8"),
                       input(g, TCC_DTYPE_F32, "1, 3, 4"), input(g, TCC_DTYPE_F32, "1, 3, 4"));
  attr_int(n, "q_num_heads", 2), attr_int(n, "kv_num_heads", 1), attr_float(n, "scale", 0.5);
  tcc_kernel_t *k = build_kernel(n);
  CHECK_STR(ty(n->outputs[0]), "f32[1, 2, 8]");
  params_t p = params(k, 4);
  if (run(k, p.buf)) {
    const float *q = F(p, 0), *kk = F(p, 1), *v = F(p, 2);
    double y[2][2][4]; /* [seq][head][d] */
    for (int h = 0; h < 2; h++)
      for (int i = 0; i < 2; i++) {
        double s[3], mx = -INFINITY, sum = 0;
        for (int j = 0; j < 3; j++) {
          s[j] = 0;
          for (int d = 0; d < 4; d++) s[j] += q[(h * 2 + i) * 4 + d] * kk[j * 4 + d];
          s[j] *= 0.5;
          mx = fmax(mx, s[j]);
        }
        for (int j = 0; j < 3; j++) sum += exp(s[j] - mx);
        for (int d = 0; d < 4; d++) {
          y[i][h][d] = 0;
          for (int j = 0; j < 3; j++) y[i][h][d] += exp(s[j] - mx) / sum * v[j * 4 + d];
        }
      }
    CHECK_CLOSE(F(p, 3), &y[0][0][0], 16);
  }
  params_free(&p);
  tcc_module_destroy(m);
}

/* ---- rotary embedding ----------------------------------------------------------------------------- */

/* 3-D input [2, 3, 2 heads * 8] with position ids, rotary_embedding_dim 4 (the rest copied) and caches
 * wider than dim / 2, in both pairings. */
TEST(rotary_embedding_numeric) {
  static const int64_t pos[6] = {4, 0, 2, 1, 1, 3};
  for (int inter = 0; inter < 2; inter++) {
    tcc_module_t *m = new_module();
    tcc_graph_t *g = m->graph;
    tcc_node_t *n = node(g, TCC_OP_ROTARY_EMBEDDING, 1, 4, input(g, TCC_DTYPE_F32, "2, 3, 16"),
                         input(g, TCC_DTYPE_F32, "5, 3"), input(g, TCC_DTYPE_F32, "5, 3"),
                         input(g, TCC_DTYPE_I64, "2, 3"));
    attr_int(n, "num_heads", 2), attr_int(n, "rotary_embedding_dim", 4), attr_int(n, "interleaved", inter);
    tcc_kernel_t *k = build_kernel(n);
    params_t p = params(k, 5);
    if (k) memcpy(p.buf[3], pos, sizeof pos);
    if (run(k, p.buf)) {
      const float *x = F(p, 0), *c = F(p, 1), *s = F(p, 2);
      double want[96];
      for (int bs = 0; bs < 6; bs++)
        for (int h = 0; h < 2; h++) {
          const float *xh = x + bs * 16 + h * 8;
          double *yh = want + bs * 16 + h * 8;
          for (int d = 4; d < 8; d++) yh[d] = xh[d];
          for (int kk = 0; kk < 2; kk++) {
            int a = inter ? 2 * kk : kk, b = inter ? 2 * kk + 1 : kk + 2;
            double cv = c[pos[bs] * 3 + kk], sv = s[pos[bs] * 3 + kk];
            yh[a] = cv * xh[a] - sv * xh[b];
            yh[b] = sv * xh[a] + cv * xh[b];
          }
        }
      CHECK_CLOSE(F(p, 4), want, 96);
    }
    params_free(&p);
    tcc_module_destroy(m);
  }
}

RUN_TESTS(T(every_op_builds_and_verifies), T(unsupported_operands_name_the_node), T(nll_loss_numeric),
          T(softmax_cross_entropy_numeric), T(attention_numeric), T(attention_3d_numeric),
          T(rotary_embedding_numeric))
