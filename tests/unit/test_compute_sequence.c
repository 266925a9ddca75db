/* Compute definitions of signal processing and recurrent networks (ir/compute_sequence.c): kernels build and
 * verify (symbolic dims, half types, every option), unsupported operands name the node, and kernels run by
 * the reference evaluator match direct C references: DFT with zero-padding / truncation, onesided and complex
 * inverse; LSTM bidirectional with sequence lengths, peepholes, initial states, clip and input_forget; GRU
 * both linear_before_reset forms, reverse and batch-major; RNN with parameterized activations. */
#include <math.h>
#include <stdlib.h>

#include "ir/compute.h"
#include "ir/kernel_eval.h"
#include "tests/graph_builder.h"
#include "tests/kernel_runner.h"
#include "tests/test.h"

/* ---- building ------------------------------------------------------------------------------------- */

TEST(every_op_builds_and_verifies) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_dtype_t f32 = TCC_DTYPE_F32, f16 = TCC_DTYPE_F16;
  build_kernel(node(g, TCC_OP_DFT, 1, 3, input(g, f32, "batch, n, 1"), NULL, scalar(g, 1)));
  tcc_node_t *n = node(g, TCC_OP_DFT, 1, 3, input(g, f16, "2, n, 3, 2"), input(g, TCC_DTYPE_I64, ""), scalar(g, -3));
  attr_int(n, "inverse", 1);
  build_kernel(n);
  n = node(g, TCC_OP_DFT, 1, 1, input(g, f32, "2, 8, 1"));
  attr_int(n, "onesided", 1);
  build_kernel(n);
  build_kernel(node(g, TCC_OP_STFT, 1, 3, input(g, f32, "batch, 64, 2"), scalar(g, 8), input(g, f32, "16")));
  build_kernel(node(g, TCC_OP_STFT, 1, 4, input(g, f32, "1, 64, 1"), scalar(g, 4), NULL, scalar(g, 16)));
  static const tcc_op_t windows[] = {TCC_OP_HANN_WINDOW, TCC_OP_HAMMING_WINDOW, TCC_OP_BLACKMAN_WINDOW};
  for (int i = 0; i < 3; i++) {
    n = node(g, windows[i], 1, 1, input(g, TCC_DTYPE_I64, ""));
    attr_int(n, "periodic", 0), attr_int(n, "output_datatype", TCC_DTYPE_F64);
    build_kernel(n);
  }
  build_kernel(node(g, TCC_OP_MEL_WEIGHT_MATRIX, 1, 5, scalar(g, 8), scalar(g, 16), scalar(g, 8000),
                    input(g, f32, ""), input(g, f32, "")));
  /* recurrences over symbolic sequence and batch, every optional input */
  n = node(g, TCC_OP_LSTM, 3, 8, input(g, f32, "seq, batch, 2"), input(g, f32, "2, 12, 2"), input(g, f32, "2, 12, 3"),
           input(g, f32, "2, 24"), input(g, TCC_DTYPE_I32, "batch"), input(g, f32, "2, batch, 3"),
           input(g, f32, "2, batch, 3"), input(g, f32, "2, 9"));
  attr_string(n, "direction", "bidirectional"), attr_float(n, "clip", 3), attr_int(n, "input_forget", 1);
  build_kernel(n);
  n = node(g, TCC_OP_GRU, 2, 3, input(g, f16, "batch, seq, 2"), input(g, f16, "1, 9, 2"), input(g, f16, "1, 9, 3"));
  attr_int(n, "layout", 1), attr_int(n, "linear_before_reset", 1);
  build_kernel(n);
  n = node(g, TCC_OP_RNN, 1, 3, input(g, f32, "seq, 1, 2"), input(g, f32, "1, 4, 2"), input(g, f32, "1, 4, 4"));
  attr_strings(n, "activations", 1, (const char *[]){"softplus"}), attr_string(n, "direction", "reverse");
  build_kernel(n);
  n = node(g, TCC_OP_BATCH_NORMALIZATION, 3, 5, input(g, f32, "batch, 3, h"), input(g, f32, "3"), input(g, f32, "3"),
           input(g, f32, "3"), input(g, f32, "3"));
  attr_int(n, "training_mode", 1);
  build_kernel(n);
  tcc_module_destroy(m);
}

TEST(unsupported_operands_name_the_node) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_DFT, 1, 3, input(g, TCC_DTYPE_F32, "2, 8, 1"), NULL, input(g, TCC_DTYPE_I64, ""));
  n->name = "dyn_axis";
  CHECK(build_unsupported(n, "axis input must be a constant"));
  n = node(g, TCC_OP_RNN, 1, 3, input(g, TCC_DTYPE_F32, "3, 1, 2"), input(g, TCC_DTYPE_F32, "1, 4, 2"),
           input(g, TCC_DTYPE_F32, "1, 4, 4"));
  attr_strings(n, "activations", 1, (const char *[]){"Swish"});
  n->name = "odd_act";
  CHECK(build_unsupported(n, "activation function 'Swish'"));
  n = node(g, TCC_OP_DFT, 1, 1, input(g, TCC_DTYPE_I32, "2, 8, 1"));
  n->name = "int_dft";
  CHECK(build_unsupported(n, "element type i32"));
  tcc_module_destroy(m);
}

/* ---- DFT ------------------------------------------------------------------------------------------ */

/* y[b, k] = sum_{n < min(len, size)} x[b, n] e^(-+2 pi i k n / len) (/ len when inverse); x is [B, size, c]. */
static void dft_ref(const float *x, int batch, int size, int c, int len, int bins, bool inverse, double *y) {
  for (int b = 0; b < batch; b++)
    for (int kk = 0; kk < bins; kk++) {
      double re = 0, im = 0;
      for (int n = 0; n < size && n < len; n++) {
        double a = x[(b * size + n) * c], bb = c == 2 ? x[(b * size + n) * c + 1] : 0;
        double th = 2 * M_PI * (double)((int64_t)kk * n % len) / len, s = inverse ? sin(th) : -sin(th);
        re += a * cos(th) - bb * s, im += a * s + bb * cos(th);
      }
      y[(b * bins + kk) * 2] = inverse ? re / len : re;
      y[(b * bins + kk) * 2 + 1] = inverse ? im / len : im;
    }
}

TEST(dft_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  /* real input truncated to 4 samples, onesided: 3 bins */
  tcc_node_t *n;
  n = node(g, TCC_OP_DFT, 1, 3, input(g, TCC_DTYPE_F32, "2, 6, 1"), scalar(g, 4), scalar(g, 1));
  attr_int(n, "onesided", 1);
  tcc_kernel_t *k = build_kernel(n);
  CHECK_STR(ty(n->outputs[0]), "f32[2, 3, 2]");
  params_t p = params(k, 1);
  ((int64_t *)p.buf[1])[0] = 4;
  if (run(k, p.buf)) {
    double want[12];
    dft_ref(F(p, 0), 2, 6, 1, 4, 3, false, want);
    CHECK_CLOSE(F(p, 3), want, 12);
  }
  params_free(&p);
  /* complex inverse zero-padded from 5 to 7 samples along axis 0 of [5, 2] (as [1, 5, 2] batches) */
  n = node(g, TCC_OP_DFT, 1, 3, input(g, TCC_DTYPE_F32, "5, 2"), scalar(g, 7), scalar(g, 0));
  attr_int(n, "inverse", 1);
  k = build_kernel(n);
  CHECK_STR(ty(n->outputs[0]), "f32[7, 2]");
  p = params(k, 2);
  ((int64_t *)p.buf[1])[0] = 7;
  if (run(k, p.buf)) {
    double want[14];
    dft_ref(F(p, 0), 1, 5, 2, 7, 7, true, want);
    CHECK_CLOSE(F(p, 3), want, 14);
  }
  params_free(&p);
  tcc_module_destroy(m);
}

/* ---- recurrences ---------------------------------------------------------------------------------- */

typedef struct {
  int gates, ndir;
  bool reverse, lbr, input_forget;
  double clip; /* < 0: none */
  const char *act[6];
  double alpha[6], beta[6];
} ref_opt_t;

static double ref_act(const ref_opt_t *o, int i, double x) {
  const char *a = o->act[i];
  if (o->clip >= 0) x = fmax(-o->clip, fmin(o->clip, x));
  if (!strcmp(a, "Sigmoid")) return 1 / (1 + exp(-x));
  if (!strcmp(a, "Tanh")) return tanh(x);
  if (!strcmp(a, "Relu")) return x > 0 ? x : 0;
  if (!strcmp(a, "LeakyRelu")) return x >= 0 ? x : o->alpha[i] * x;
  if (!strcmp(a, "HardSigmoid")) return fmax(0, fmin(1, o->alpha[i] * x + o->beta[i]));
  if (!strcmp(a, "ScaledTanh")) return o->alpha[i] * tanh(o->beta[i] * x);
  return NAN;
}

/* RNN / GRU / LSTM in layout 0 over X [S, N, I]; NULL optional inputs are zeros. Y [S, D, N, H], Yh / Yc [D, N, H]. */
static void rnn_ref(const ref_opt_t *o, const float *X, const float *W, const float *R, const float *B,
                    const int32_t *lens, const float *h0, const float *c0, const float *P, int S, int N, int I, int H,
                    double *Y, double *Yh, double *Yc) {
  int G = o->gates, GH = G * H, per = G == 4 ? 3 : G == 3 ? 2 : 1;
  for (int d = 0; d < o->ndir; d++) {
    const float *w = W + d * GH * I, *r = R + d * GH * H, *b = B ? B + d * 2 * GH : NULL, *p = P ? P + d * 3 * H : NULL;
    ref_opt_t od = *o;
    for (int i = 0; i < per; i++)
      od.act[i] = o->act[d * per + i], od.alpha[i] = o->alpha[d * per + i], od.beta[i] = o->beta[d * per + i];
    double h[8][8] = {{0}}, c[8][8] = {{0}};
    for (int n = 0; n < N; n++)
      for (int j = 0; j < H; j++) {
        h[n][j] = h0 ? h0[(d * N + n) * H + j] : 0;
        c[n][j] = c0 ? c0[(d * N + n) * H + j] : 0;
      }
    bool rev = o->reverse || d == 1;
    for (int s = 0; s < S; s++) {
      int t = rev ? S - 1 - s : s;
      for (int n = 0; n < N; n++) {
        double *y = Y + ((t * o->ndir + d) * N + n) * H;
        if (lens && t >= lens[n]) {
          for (int j = 0; j < H; j++) y[j] = 0;
          continue;
        }
        double gx[32], gr[32], hn[8], cn[8], rv[8];
        for (int j = 0; j < GH; j++) {
          gx[j] = b ? b[j] : 0, gr[j] = b ? b[GH + j] : 0;
          for (int i = 0; i < I; i++) gx[j] += X[(t * N + n) * I + i] * w[j * I + i];
          for (int q = 0; q < H; q++) gr[j] += h[n][q] * r[j * H + q];
        }
        for (int j = 0; j < H; j++) {
          if (G == 1) {
            hn[j] = ref_act(&od, 0, gx[j] + gr[j]);
          } else if (G == 3) {
            for (int q = 0; q < H; q++) rv[q] = ref_act(&od, 0, gx[H + q] + gr[H + q]);
            double z = ref_act(&od, 0, gx[j] + gr[j]), pre;
            if (o->lbr) {
              pre = gx[2 * H + j] + rv[j] * gr[2 * H + j];
            } else {
              pre = gx[2 * H + j] + (b ? b[GH + 2 * H + j] : 0);
              for (int q = 0; q < H; q++) pre += rv[q] * h[n][q] * r[(2 * H + j) * H + q];
            }
            hn[j] = (1 - z) * ref_act(&od, 1, pre) + z * h[n][j];
          } else {
            double pi = p ? p[j] : 0, po = p ? p[H + j] : 0, pf = p ? p[2 * H + j] : 0;
            double ig = ref_act(&od, 0, gx[j] + gr[j] + pi * c[n][j]);
            double fg = o->input_forget ? 1 - ig : ref_act(&od, 0, gx[2 * H + j] + gr[2 * H + j] + pf * c[n][j]);
            cn[j] = fg * c[n][j] + ig * ref_act(&od, 1, gx[3 * H + j] + gr[3 * H + j]);
            double og = ref_act(&od, 0, gx[H + j] + gr[H + j] + po * cn[j]);
            ref_opt_t noclip = od;
            noclip.clip = -1;
            hn[j] = og * ref_act(&noclip, 2, cn[j]);
          }
        }
        for (int j = 0; j < H; j++) {
          h[n][j] = hn[j], y[j] = hn[j];
          if (G == 4) c[n][j] = cn[j];
        }
      }
    }
    for (int n = 0; n < N; n++)
      for (int j = 0; j < H; j++) {
        Yh[(d * N + n) * H + j] = h[n][j];
        if (Yc) Yc[(d * N + n) * H + j] = c[n][j];
      }
  }
}

/* Bidirectional LSTM with every input, sequence lengths 4, 2, 0 (state kept, Y zeroed), clip, input_forget. */
TEST(lstm_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_dtype_t f32 = TCC_DTYPE_F32;
  for (int forget = 0; forget < 2; forget++) {
    tcc_node_t *n = node(g, TCC_OP_LSTM, 3, 8, input(g, f32, "4, 3, 2"), input(g, f32, "2, 12, 2"),
                         input(g, f32, "2, 12, 3"), input(g, f32, "2, 24"), input(g, TCC_DTYPE_I32, "3"),
                         input(g, f32, "2, 3, 3"), input(g, f32, "2, 3, 3"), input(g, f32, "2, 9"));
    attr_string(n, "direction", "bidirectional"), attr_int(n, "input_forget", forget), attr_float(n, "clip", 0.7);
    tcc_kernel_t *k = build_kernel(n);
    params_t p = params(k, 10 + forget);
    if (k) {
      int32_t *lens = p.buf[4];
      lens[0] = 4, lens[1] = 2, lens[2] = 0;
    }
    if (run(k, p.buf)) {
      ref_opt_t o = {.gates = 4, .ndir = 2, .input_forget = forget, .clip = 0.7,
                     .act = {"Sigmoid", "Tanh", "Tanh", "Sigmoid", "Tanh", "Tanh"}};
      double y[4 * 2 * 3 * 3], yh[18], yc[18];
      rnn_ref(&o, F(p, 0), F(p, 1), F(p, 2), F(p, 3), p.buf[4], F(p, 5), F(p, 6), F(p, 7), 4, 3, 2, 3, y, yh, yc);
      CHECK_CLOSE(F(p, 8), y, 72);
      CHECK_CLOSE(F(p, 9), yh, 18);
      CHECK_CLOSE(F(p, 10), yc, 18);
    }
    params_free(&p);
  }
  tcc_module_destroy(m);
}

/* GRU: reverse with both linear_before_reset forms and custom activations; then batch-major (layout 1). */
TEST(gru_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_dtype_t f32 = TCC_DTYPE_F32;
  for (int lbr = 0; lbr < 2; lbr++) {
    tcc_node_t *n = node(g, TCC_OP_GRU, 2, 6, input(g, f32, "3, 2, 2"), input(g, f32, "1, 9, 2"),
                         input(g, f32, "1, 9, 3"), input(g, f32, "1, 18"), NULL, input(g, f32, "1, 2, 3"));
    attr_string(n, "direction", "reverse"), attr_int(n, "linear_before_reset", lbr);
    attr_strings(n, "activations", 2, (const char *[]){"HardSigmoid", "LeakyRelu"});
    attr_floats(n, "activation_alpha", 2, (double[]){0.3, 0.2}), attr_floats(n, "activation_beta", 1, (double[]){0.4});
    tcc_kernel_t *k = build_kernel(n);
    params_t p = params(k, 20 + lbr);
    if (run(k, p.buf)) {
      ref_opt_t o = {.gates = 3, .ndir = 1, .reverse = true, .lbr = lbr, .clip = -1,
                     .act = {"HardSigmoid", "LeakyRelu"}, .alpha = {0.3, 0.2}, .beta = {0.4}};
      double y[3 * 2 * 3], yh[6];
      rnn_ref(&o, F(p, 0), F(p, 1), F(p, 2), F(p, 3), NULL, F(p, 4), NULL, NULL, 3, 2, 2, 3, y, yh, NULL);
      CHECK_CLOSE(F(p, 5), y, 18);
      CHECK_CLOSE(F(p, 6), yh, 6);
    }
    params_free(&p);
  }
  /* layout 1: X [N, S, I], Y [N, S, D, H], Y_h [N, D, H] */
  tcc_node_t *n =
      node(g, TCC_OP_GRU, 2, 3, input(g, f32, "2, 3, 2"), input(g, f32, "1, 9, 2"), input(g, f32, "1, 9, 3"));
  attr_int(n, "layout", 1);
  tcc_kernel_t *k = build_kernel(n);
  CHECK_STR(ty(n->outputs[0]), "f32[2, 3, 1, 3]");
  params_t p = params(k, 22);
  if (run(k, p.buf)) {
    float x[12];
    for (int b = 0; b < 2; b++)
      for (int t = 0; t < 3; t++)
        for (int i = 0; i < 2; i++) x[(t * 2 + b) * 2 + i] = F(p, 0)[(b * 3 + t) * 2 + i];
    ref_opt_t o = {.gates = 3, .ndir = 1, .clip = -1, .act = {"Sigmoid", "Tanh"}};
    double y[18], yh[6], want[18];
    rnn_ref(&o, x, F(p, 1), F(p, 2), NULL, NULL, NULL, NULL, NULL, 3, 2, 2, 3, y, yh, NULL);
    for (int b = 0; b < 2; b++)
      for (int t = 0; t < 3; t++)
        for (int j = 0; j < 3; j++) want[(b * 3 + t) * 3 + j] = y[(t * 2 + b) * 3 + j];
    CHECK_CLOSE(F(p, 3), want, 18);
    CHECK_CLOSE(F(p, 4), yh, 6);
  }
  params_free(&p);
  tcc_module_destroy(m);
}

/* Bidirectional RNN, a different activation per direction, alpha/beta consumed in order. */
TEST(rnn_numeric) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_dtype_t f32 = TCC_DTYPE_F32;
  tcc_node_t *n = node(g, TCC_OP_RNN, 2, 4, input(g, f32, "3, 2, 2"), input(g, f32, "2, 4, 2"),
                       input(g, f32, "2, 4, 4"), input(g, f32, "2, 8"));
  attr_string(n, "direction", "bidirectional");
  attr_strings(n, "activations", 2, (const char *[]){"Relu", "ScaledTanh"});
  attr_floats(n, "activation_alpha", 1, (double[]){1.5}), attr_floats(n, "activation_beta", 1, (double[]){0.5});
  tcc_kernel_t *k = build_kernel(n);
  params_t p = params(k, 30);
  if (run(k, p.buf)) {
    ref_opt_t o = {.gates = 1, .ndir = 2, .clip = -1, .act = {"Relu", "ScaledTanh"}, .alpha = {0, 1.5},
                   .beta = {0, 0.5}};
    double y[3 * 2 * 2 * 4], yh[16];
    rnn_ref(&o, F(p, 0), F(p, 1), F(p, 2), F(p, 3), NULL, NULL, NULL, NULL, 3, 2, 2, 4, y, yh, NULL);
    CHECK_CLOSE(F(p, 4), y, 48);
    CHECK_CLOSE(F(p, 5), yh, 16);
  }
  params_free(&p);
  tcc_module_destroy(m);
}

RUN_TESTS(T(every_op_builds_and_verifies), T(unsupported_operands_name_the_node), T(dft_numeric), T(lstm_numeric),
          T(gru_numeric), T(rnn_numeric))
