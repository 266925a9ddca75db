/* Compute definitions: signal processing and recurrent networks — DFT, STFT, the Hann / Hamming / Blackman
 * windows, MelWeightMatrix, RNN / GRU / LSTM, and BatchNormalization's training mode (reached through the
 * inference-mode definition of ir/compute_reduce.c).
 *
 * Fourier sums, windows and mel filters are computed in f64 whatever the element type, with DFT angles
 * reduced exactly as 2*pi*((k*n) mod N)/N, so bins that are zero in exact arithmetic stay within ONNX's
 * absolute tolerance. Recurrences unroll their directions at build time (each may have its own activations),
 * keep the hidden (and cell) state in LOCAL buffers, and run a serial loop over time steps: first the gate
 * pre-activations of every (batch, gate unit) from the old state, then the elementwise state update. */
#include <math.h>
#include <string.h>

#include "ir/compute_defs.h"
#include "ir/infer.h"

/* ---- loads and temporaries ------------------------------------------------------------------------ */

/* b[i0, i1] and b[i0, i1, i2] converted to dt. */
static expr_t load2(tcc_kernel_t *k, const tcc_kbuf_t *b, expr_t i0, expr_t i1, tcc_dtype_t dt) {
  const expr_t idx[] = {i0, i1};
  return kload(k, b, idx, dt);
}
static expr_t load3(tcc_kernel_t *k, const tcc_kbuf_t *b, expr_t i0, expr_t i1, expr_t i2, tcc_dtype_t dt) {
  const expr_t idx[] = {i0, i1, i2};
  return kload(k, b, idx, dt);
}

/* A LOCAL temporary of the given dims, allocated (zero-filled) in block. */
static tcc_kbuf_t *local_new(tcc_kernel_t *k, tcc_kblock_t *block, const char *name, tcc_dtype_t dt, int rank,
                             const tcc_dim_t *const *dims) {
  tcc_kbuf_t *b = tcc_kernel_add_local(k, name, TCC_KBUF_LOCAL, dt, rank, dims);
  tcc_k_alloc(k, block, b);
  return b;
}

#define F64 TCC_DTYPE_F64
#define I64 TCC_DTYPE_I64

/* ---- Fourier transforms --------------------------------------------------------------------------- */

/* Accumulates into re/im (f64 registers) the term x * e^(sign * 2 pi i * ((kk * n) mod len) / len), x = a + ib. */
static void fourier_term(tcc_kernel_t *k, tcc_kblock_t *block, const tcc_kbuf_t *re, const tcc_kbuf_t *im, expr_t a,
                         expr_t b, expr_t kk, expr_t n, expr_t len, bool inverse) {
  expr_t phase = kbin(k, TCC_KOP_FLOORMOD, kmul(k, kk, n), len);
  expr_t theta = kdiv(k, kmul(k, kc(k, F64, 2 * M_PI), kcast(k, F64, phase)), kcast(k, F64, len));
  theta = let(k, block, "theta", theta);
  expr_t c = let(k, block, "cos", kun(k, TCC_KOP_COS, theta)), s = let(k, block, "sin", kun(k, TCC_KOP_SIN, theta));
  if (inverse) { /* (a + ib)(c + is) */
    reg_update(k, block, re, TCC_KOP_ADD, b ? ksub(k, kmul(k, a, c), kmul(k, b, s)) : kmul(k, a, c));
    reg_update(k, block, im, TCC_KOP_ADD, b ? kadd(k, kmul(k, a, s), kmul(k, b, c)) : kmul(k, a, s));
  } else { /* (a + ib)(c - is) */
    reg_update(k, block, re, TCC_KOP_ADD, b ? kadd(k, kmul(k, a, c), kmul(k, b, s)) : kmul(k, a, c));
    reg_update(k, block, im, TCC_KOP_ADD,
               b ? ksub(k, kmul(k, b, c), kmul(k, a, s)) : kun(k, TCC_KOP_NEG, kmul(k, a, s)));
  }
}

/* Whether the last dim of x says real (1) or complex (2) samples. */
static tcc_status_t complex_dim(const tcc_node_t *node, const tcc_kbuf_t *x, bool *is_complex) {
  const tcc_dim_t *last = x->dims[x->rank - 1];
  if (!tcc_dim_is_const(last) || (tcc_dim_value(last) != 1 && tcc_dim_value(last) != 2))
    return tcc_infer_unsupported(node, "the input's last dim must be 1 (real) or 2 (complex) when the kernel is built");
  *is_complex = tcc_dim_value(last) == 2;
  return NULL;
}

/* DFT along `axis` (input 2, a constant; -2 when omitted) over dft_length samples (input 1, read at run time;
 * the axis size when omitted): zero-padded or truncated input, onesided keeps the first N/2 + 1 bins, inverse
 * uses e^(+i...) and divides by N. */
static tcc_status_t dft(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  const tcc_kbuf_t *len_in = node->num_inputs > 1 ? in[1] : NULL;
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, false));
  int r = x->rank;
  if (r < 2) return tcc_infer_error(node, "input must have rank >= 2, got %d", r);
  bool cplx = false;
  TCC_RETURN_IF_ERROR(complex_dim(node, x, &cplx));
  int64_t axis = -2;
  if (node->num_inputs > 2 && node->inputs[2]) {
    const int64_t *v = NULL;
    int64_t n = 0;
    if (!tcc_value_const_ints(node->inputs[2], &v, &n) || n != 1)
      return tcc_infer_unsupported(node, "axis input must be a constant scalar");
    axis = v[0];
  }
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r - 1)
    return tcc_infer_error(node, "axis %lld is out of range for rank %d", (long long)axis, r);
  bool inverse = tcc_node_attr_int(node, "inverse", 0) != 0;
  expr_t len = len_in ? kcast(k, I64, first(k, len_in)) : kdim(k, x->dims[axis]);
  expr_t *o = NULL, *xi = exprs(k, r), *yi = exprs(k, r);
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), r - 1, y->dims, &o);
  if (!body || !xi || !yi) return tcc_status_oom();
  tcc_kbuf_t *re = reg_new(k, body, "re", kc(k, F64, 0)), *im = reg_new(k, body, "im", kc(k, F64, 0));
  expr_t n;
  expr_t used = kbin(k, TCC_KOP_MIN, len, kdim(k, x->dims[axis])); /* samples past the input are zeros */
  tcc_kblock_t *sum = loop(k, body, "n", used, &n);
  memcpy(xi, o, (size_t)(r - 1) * sizeof *xi);
  xi[axis] = n;
  xi[r - 1] = kint(k, 0);
  expr_t a = kload(k, x, xi, F64), b = NULL;
  if (cplx) {
    expr_t *xj = copy_index(k, r, xi);
    if (!xj) return tcc_status_oom();
    xj[r - 1] = kint(k, 1);
    b = kload(k, x, xj, F64);
  }
  fourier_term(k, sum, re, im, a, b, o[axis], n, len, inverse);
  expr_t vr = reg_get(k, re), vi = reg_get(k, im);
  if (inverse) {
    expr_t fl = kcast(k, F64, len);
    vr = kdiv(k, vr, fl), vi = kdiv(k, vi, fl);
  }
  memcpy(yi, o, (size_t)(r - 1) * sizeof *yi);
  yi[r - 1] = kint(k, 0);
  tcc_k_store(k, body, y, yi, kcast(k, y->dtype, vr));
  expr_t *yj = copy_index(k, r, yi);
  if (!yj) return tcc_status_oom();
  yj[r - 1] = kint(k, 1);
  tcc_k_store(k, body, y, yj, kcast(k, y->dtype, vi));
  return NULL;
}

/* STFT: y[b, f, w] = sum_n signal[b, f * frame_step + n] * window[n] * e^(-2 pi i w n / frame_length). */
static tcc_status_t stft(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  const tcc_kbuf_t *win = node->num_inputs > 2 ? in[2] : NULL, *flen_in = node->num_inputs > 3 ? in[3] : NULL;
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, false));
  if (x->rank != 3) return tcc_infer_error(node, "signal must have rank 3, got %d", x->rank);
  if (!win && !flen_in) return tcc_infer_error(node, "either window or frame_length is required");
  bool cplx = false;
  TCC_RETURN_IF_ERROR(complex_dim(node, x, &cplx));
  expr_t step = kcast(k, I64, first(k, in[1]));
  expr_t flen = flen_in ? kcast(k, I64, first(k, flen_in)) : kdim(k, win->dims[0]);
  expr_t *o = NULL;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), 3, y->dims, &o);
  if (!body) return tcc_status_oom();
  tcc_kbuf_t *re = reg_new(k, body, "re", kc(k, F64, 0)), *im = reg_new(k, body, "im", kc(k, F64, 0));
  expr_t n;
  tcc_kblock_t *sum = loop(k, body, "n", flen, &n);
  expr_t pos = kadd(k, kmul(k, o[1], step), n);
  expr_t w = win ? kload(k, win, &n, F64) : NULL;
  expr_t a = load3(k, x, o[0], pos, kint(k, 0), F64), b = cplx ? load3(k, x, o[0], pos, kint(k, 1), F64) : NULL;
  if (w) {
    a = kmul(k, a, w);
    if (b) b = kmul(k, b, w);
  }
  fourier_term(k, sum, re, im, a, b, o[2], n, flen, false);
  const expr_t yr[] = {o[0], o[1], o[2], kint(k, 0)}, yi[] = {o[0], o[1], o[2], kint(k, 1)};
  tcc_k_store(k, body, y, yr, kcast(k, y->dtype, reg_get(k, re)));
  tcc_k_store(k, body, y, yi, kcast(k, y->dtype, reg_get(k, im)));
  return NULL;
}

/* ---- windows and mel filters ---------------------------------------------------------------------- */

/* Hann, Hamming, Blackman: sum_j a_j cos(2 pi j n / N), N = size when periodic, else size - 1. */
static tcc_status_t window(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *y = out[0];
  static const double hann[] = {0.5, -0.5, 0}, hamming[] = {25.0 / 46.0, -21.0 / 46.0, 0},
                      blackman[] = {0.42, -0.5, 0.08};
  const double *a = node->op == TCC_OP_HANN_WINDOW ? hann : node->op == TCC_OP_HAMMING_WINDOW ? hamming : blackman;
  bool periodic = tcc_node_attr_int(node, "periodic", 1) != 0;
  expr_t n;
  tcc_kblock_t *body = loop(k, tcc_kernel_body(k), "n", kdim(k, y->dims[0]), &n);
  expr_t size = kdim(k, y->dims[0]);
  if (!periodic) size = ksub(k, size, kint(k, 1));
  expr_t base = kdiv(k, kmul(k, kc(k, F64, 2 * M_PI), kcast(k, F64, n)), kcast(k, F64, size));
  base = let(k, body, "angle", base);
  expr_t v = kc(k, F64, a[0]);
  for (int j = 1; j < 3; j++)
    if (a[j] != 0) v = kadd(k, v, kmul(k, kc(k, F64, a[j]), kun(k, TCC_KOP_COS, kmul(k, kc(k, F64, j), base))));
  tcc_k_store(k, body, y, &n, kcast(k, y->dtype, v));
  return NULL;
}

/* 2595 log10(1 + hz / 700) and its inverse 700 (10^(mel / 2595) - 1), in f64. */
static expr_t hz_to_mel(tcc_kernel_t *k, expr_t hz) {
  expr_t ln = kun(k, TCC_KOP_LOG, kadd(k, kc(k, F64, 1), kdiv(k, hz, kc(k, F64, 700))));
  return kmul(k, kc(k, F64, 2595 / log(10.0)), ln);
}
static expr_t mel_to_hz(tcc_kernel_t *k, expr_t mel) {
  expr_t p = kun(k, TCC_KOP_EXP, kmul(k, mel, kc(k, F64, log(10.0) / 2595)));
  return kmul(k, kc(k, F64, 700), ksub(k, p, kc(k, F64, 1)));
}

/* MelWeightMatrix: triangular filters between mel-spaced FFT bins. With mel(f) = 2595 log10(1 + f / 700),
 * edge m (0 <= m < bins + 2) is floor((dft_length + 1) * hz(mel(lower) + m * step) / sample_rate) with
 * step = (mel(upper) - mel(lower)) / (bins + 2); filter i rises over [edge i, edge i+1] and falls over
 * [edge i+1, edge i+2). */
static tcc_status_t mel_weight_matrix(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                      tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *y = out[0];
  expr_t *o = NULL;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), 2, y->dims, &o);
  if (!body) return tcc_status_oom();
  expr_t bins = kcast(k, F64, first(k, in[0])), len = kcast(k, F64, first(k, in[1]));
  expr_t rate = kcast(k, F64, first(k, in[2]));
  expr_t lo = let(k, body, "mel_lo", hz_to_mel(k, kcast(k, F64, first(k, in[3]))));
  expr_t hi = hz_to_mel(k, kcast(k, F64, first(k, in[4])));
  expr_t step = let(k, body, "mel_step", kdiv(k, ksub(k, hi, lo), kadd(k, bins, kc(k, F64, 2))));
  expr_t edge[3];
  expr_t i = kcast(k, F64, o[1]);
  for (int m = 0; m < 3; m++) {
    expr_t mel = kadd(k, kmul(k, kadd(k, i, kc(k, F64, m)), step), lo);
    expr_t e = kun(k, TCC_KOP_FLOOR, kdiv(k, kmul(k, kadd(k, len, kc(k, F64, 1)), mel_to_hz(k, mel)), rate));
    edge[m] = let(k, body, "edge", e);
  }
  expr_t j = kcast(k, F64, o[0]), zero = kc(k, F64, 0);
  /* rising side [left, center]: 1 at the center (also when left == center) */
  expr_t rise = ksel(k, kbin(k, TCC_KOP_EQ, edge[1], edge[0]), kc(k, F64, 1),
                     kdiv(k, ksub(k, j, edge[0]), ksub(k, edge[1], edge[0])));
  expr_t in_rise = kbin(k, TCC_KOP_AND, kbin(k, TCC_KOP_GE, j, edge[0]), kbin(k, TCC_KOP_LE, j, edge[1]));
  expr_t fall = kdiv(k, ksub(k, edge[2], j), ksub(k, edge[2], edge[1]));
  expr_t in_fall = kbin(k, TCC_KOP_AND, kbin(k, TCC_KOP_GE, j, edge[1]), kbin(k, TCC_KOP_LT, j, edge[2]));
  expr_t v = ksel(k, in_fall, fall, ksel(k, in_rise, rise, zero));
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, v));
  return NULL;
}

/* ---- recurrent networks --------------------------------------------------------------------------- */

typedef enum {
  ACT_RELU, ACT_TANH, ACT_SIGMOID, ACT_AFFINE, ACT_LEAKY_RELU, ACT_THRESHOLDED_RELU, ACT_SCALED_TANH,
  ACT_HARD_SIGMOID, ACT_ELU, ACT_SOFTSIGN, ACT_SOFTPLUS, ACT_COUNT
} act_kind_t;

/* Names (lower case), how many of alpha/beta each takes, and their defaults (those of the ONNX operators). */
static const struct {
  const char *name;
  int params;
  double alpha, beta;
} act_info[ACT_COUNT] = {
    [ACT_RELU] = {"relu", 0, 0, 0},
    [ACT_TANH] = {"tanh", 0, 0, 0},
    [ACT_SIGMOID] = {"sigmoid", 0, 0, 0},
    [ACT_AFFINE] = {"affine", 2, 1.0, 0.0},
    [ACT_LEAKY_RELU] = {"leakyrelu", 1, 0.01, 0},
    [ACT_THRESHOLDED_RELU] = {"thresholdedrelu", 1, 1.0, 0},
    [ACT_SCALED_TANH] = {"scaledtanh", 2, 1.0, 1.0},
    [ACT_HARD_SIGMOID] = {"hardsigmoid", 2, 0.2, 0.5},
    [ACT_ELU] = {"elu", 1, 1.0, 0},
    [ACT_SOFTSIGN] = {"softsign", 0, 0, 0},
    [ACT_SOFTPLUS] = {"softplus", 0, 0, 0},
};

typedef struct {
  act_kind_t kind;
  double alpha, beta;
} act_t;

static bool name_is(tcc_bytes_t s, const char *lower) {
  size_t n = strlen(lower);
  if (s.size != n) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s.data[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

/* The activations of each direction (per_dir each, direction-major) from the activations attribute, or the
 * op's defaults; activation_alpha / activation_beta are consumed in order by the functions that take them. */
static tcc_status_t read_activations(const tcc_node_t *node, int per_dir, int ndir, act_t *acts) {
  static const act_kind_t defaults[3][3] = {
      {ACT_TANH}, {ACT_SIGMOID, ACT_TANH}, {ACT_SIGMOID, ACT_TANH, ACT_TANH}};
  const act_kind_t *def = defaults[per_dir - 1];
  const tcc_attr_t *names = tcc_node_attr(node, "activations");
  const tcc_attr_t *alpha = tcc_node_attr(node, "activation_alpha"), *beta = tcc_node_attr(node, "activation_beta");
  int64_t count = names && names->kind == TCC_ATTR_STRINGS ? names->count : 0;
  if (count && count != per_dir && count != (int64_t)per_dir * ndir)
    return tcc_infer_error(node, "attribute 'activations' has %lld names, expected %d", (long long)count,
                           per_dir * ndir);
  int64_t na = alpha && alpha->kind == TCC_ATTR_FLOATS ? alpha->count : 0;
  int64_t nb = beta && beta->kind == TCC_ATTR_FLOATS ? beta->count : 0;
  int64_t ia = 0, ib = 0;
  for (int i = 0; i < per_dir * ndir; i++) {
    act_t *a = &acts[i];
    if (!count) {
      a->kind = def[i % per_dir];
    } else {
      tcc_bytes_t s = names->strings[i % count];
      int kind = 0;
      while (kind < ACT_COUNT && !name_is(s, act_info[kind].name)) kind++;
      if (kind == ACT_COUNT)
        return tcc_infer_unsupported(node, "activation function '%.*s'", (int)s.size, s.data);
      a->kind = (act_kind_t)kind;
    }
    a->alpha = act_info[a->kind].alpha, a->beta = act_info[a->kind].beta;
    if (act_info[a->kind].params >= 1 && ia < na) a->alpha = alpha->floats[ia++];
    if (act_info[a->kind].params >= 2 && ib < nb) a->beta = beta->floats[ib++];
  }
  return NULL;
}

/* act(clip(x)); clip < 0 means no clipping. */
static expr_t activate(tcc_kernel_t *k, const act_t *a, double clip, expr_t x) {
  tcc_dtype_t dt = x ? x->dtype : TCC_DTYPE_F32;
  if (clip >= 0) x = kbin(k, TCC_KOP_MAX, kbin(k, TCC_KOP_MIN, x, kc(k, dt, clip)), kc(k, dt, -clip));
  expr_t zero = kc(k, dt, 0), one = kc(k, dt, 1), al = kc(k, dt, a->alpha), be = kc(k, dt, a->beta);
  switch (a->kind) {
    case ACT_RELU: return kbin(k, TCC_KOP_MAX, x, zero);
    case ACT_TANH: return kun(k, TCC_KOP_TANH, x);
    case ACT_SIGMOID: return kun(k, TCC_KOP_SIGMOID, x);
    case ACT_AFFINE: return kadd(k, kmul(k, al, x), be);
    case ACT_LEAKY_RELU: return ksel(k, kbin(k, TCC_KOP_GE, x, zero), x, kmul(k, al, x));
    case ACT_THRESHOLDED_RELU: return ksel(k, kbin(k, TCC_KOP_GT, x, al), x, zero);
    case ACT_SCALED_TANH: return kmul(k, al, kun(k, TCC_KOP_TANH, kmul(k, be, x)));
    case ACT_HARD_SIGMOID:
      return kbin(k, TCC_KOP_MAX, zero, kbin(k, TCC_KOP_MIN, one, kadd(k, kmul(k, al, x), be)));
    case ACT_ELU: return ksel(k, kbin(k, TCC_KOP_GE, x, zero), x, kmul(k, al, ksub(k, kun(k, TCC_KOP_EXP, x), one)));
    case ACT_SOFTSIGN: return kdiv(k, x, kadd(k, one, kun(k, TCC_KOP_ABS, x)));
    case ACT_SOFTPLUS: return kun(k, TCC_KOP_LOG, kadd(k, one, kun(k, TCC_KOP_EXP, x)));
    default: return NULL;
  }
}

/* What every direction of a recurrence shares. */
typedef struct {
  tcc_op_t op;
  int gates;     /* 1 (RNN), 3 (GRU: z, r, h), 4 (LSTM: i, o, f, c) */
  bool layout;   /* 1: batch-major X, Y, states */
  bool lbr;      /* GRU linear_before_reset */
  bool input_forget;
  double clip;   /* < 0: none */
  tcc_dtype_t dt;
  const tcc_kbuf_t *x, *w, *r, *b, *lens, *h0, *c0, *p, *y, *yh, *yc;
  const tcc_dim_t *seq, *batch, *input, *hidden, *gh; /* gh = gates * hidden */
} rnn_t;

/* Index of a [directions, batch, hidden] state tensor (initial_h/c, Y_h/c) for the layout. */
static void state_index(const rnn_t *s, expr_t d, expr_t b, expr_t h, expr_t idx[3]) {
  idx[0] = s->layout ? b : d, idx[1] = s->layout ? d : b, idx[2] = h;
}

/* Loops over batch and hidden appended to block. */
static tcc_kblock_t *batch_hidden(tcc_kernel_t *k, tcc_kblock_t *block, const rnn_t *s, expr_t *b, expr_t *h) {
  block = loop(k, block, "b", kdim(k, s->batch), b);
  return loop(k, block, "h", kdim(k, s->hidden), h);
}

/* sum_i a[i] * m[d, row, i] over i < extent, added to the register acc in block; a(i) is given by a buffer
 * row: abuf[ai0, i] (rank 2) or x[t, b, i] (the input, layout-dependent). */
static void dot_into(tcc_kernel_t *k, tcc_kblock_t *block, const tcc_kbuf_t *acc, const tcc_kbuf_t *m, expr_t d,
                     expr_t row, const tcc_kbuf_t *abuf, expr_t a0, expr_t a1, bool three, const tcc_dim_t *extent,
                     tcc_dtype_t dt) {
  expr_t i;
  tcc_kblock_t *body = loop(k, block, "i", kdim(k, extent), &i);
  expr_t av = three ? load3(k, abuf, a0, a1, i, dt) : load2(k, abuf, a0, i, dt);
  reg_update(k, body, acc, TCC_KOP_ADD, kmul(k, av, load3(k, m, d, row, i, dt)));
}

/* One direction (dir; reverse walks time backwards) of RNN / GRU / LSTM with its activations acts. */
static tcc_status_t rnn_direction(tcc_kernel_t *k, const rnn_t *s, int dir, bool reverse, const act_t *acts) {
  tcc_dtype_t dt = s->dt;
  tcc_kblock_t *top = tcc_kernel_body(k);
  expr_t d = kint(k, dir), hid = kdim(k, s->hidden), gh = kdim(k, s->gh);
  const tcc_dim_t *bh[] = {s->batch, s->hidden}, *bg[] = {s->batch, s->gh};
  bool gru = s->op == TCC_OP_GRU, lstm = s->op == TCC_OP_LSTM;
  tcc_kbuf_t *hs = local_new(k, top, "H", dt, 2, bh), *cs = lstm ? local_new(k, top, "C", dt, 2, bh) : NULL;
  tcc_kbuf_t *gx = local_new(k, top, "gates", dt, 2, bg), *gr = gru ? local_new(k, top, "gates_h", dt, 2, bg) : NULL;
  tcc_kbuf_t *rh = gru && !s->lbr ? local_new(k, top, "rH", dt, 2, bh) : NULL;
  if (!hs || !gx || (lstm && !cs) || (gru && !gr) || (gru && !s->lbr && !rh)) return tcc_status_oom();
  expr_t b, h, si[3];
  /* initial state */
  const tcc_kbuf_t *init[2] = {s->h0, s->c0};
  tcc_kbuf_t *state[2] = {hs, cs};
  for (int i = 0; i < 2; i++) {
    if (!init[i] || !state[i]) continue;
    tcc_kblock_t *body = batch_hidden(k, top, s, &b, &h);
    state_index(s, d, b, h, si);
    const expr_t bhi[] = {b, h};
    tcc_k_store(k, body, state[i], bhi, kload(k, init[i], si, dt));
  }
  /* time steps */
  expr_t step, t;
  tcc_kblock_t *time = loop(k, top, "s", kdim(k, s->seq), &step);
  t = reverse ? ksub(k, ksub(k, kdim(k, s->seq), kint(k, 1)), step) : step;
  t = let(k, time, "t", t);
  /* gate pre-activations: W x + Wb (+ R H + Rb except for GRU, which keeps them apart in gates_h) */
  {
    expr_t j;
    tcc_kblock_t *body = loop(k, loop(k, time, "b", kdim(k, s->batch), &b), "j", gh, &j);
    expr_t xb0 = s->layout ? b : t, xb1 = s->layout ? t : b; /* x[t, b, i] or x[b, t, i] */
    expr_t bw = s->b ? load2(k, s->b, d, j, dt) : kc(k, dt, 0);
    expr_t br = s->b ? load2(k, s->b, d, kadd(k, gh, j), dt) : kc(k, dt, 0);
    tcc_kbuf_t *acc = reg_new(k, body, "acc", gru ? bw : kadd(k, bw, br));
    dot_into(k, body, acc, s->w, d, j, s->x, xb0, xb1, true, s->input, dt);
    if (!gru) dot_into(k, body, acc, s->r, d, j, hs, b, NULL, false, s->hidden, dt);
    const expr_t bj[] = {b, j};
    tcc_k_store(k, body, gx, bj, reg_get(k, acc));
    if (gru) {
      tcc_kbuf_t *acc2 = reg_new(k, body, "acc_h", br);
      dot_into(k, body, acc2, s->r, d, j, hs, b, NULL, false, s->hidden, dt);
      tcc_k_store(k, body, gr, bj, reg_get(k, acc2));
    }
  }
  if (gru && !s->lbr) { /* h gate: Rh (r * H) + Rbh */
    tcc_kblock_t *body = batch_hidden(k, time, s, &b, &h);
    expr_t rg = kadd(k, load2(k, gx, b, kadd(k, hid, h), dt), load2(k, gr, b, kadd(k, hid, h), dt));
    const expr_t bhi[] = {b, h};
    tcc_k_store(k, body, rh, bhi, kmul(k, activate(k, &acts[0], s->clip, rg), load2(k, hs, b, h, dt)));
    body = batch_hidden(k, time, s, &b, &h);
    expr_t row = kadd(k, kmul(k, kint(k, 2), hid), h);
    tcc_kbuf_t *acc = reg_new(k, body, "acc", s->b ? load2(k, s->b, d, kadd(k, gh, row), dt) : kc(k, dt, 0));
    dot_into(k, body, acc, s->r, d, row, rh, b, NULL, false, s->hidden, dt);
    const expr_t bj[] = {b, row};
    tcc_k_store(k, body, gr, bj, reg_get(k, acc));
  }
  /* state update */
  tcc_kblock_t *body = batch_hidden(k, time, s, &b, &h);
  const expr_t bhi[] = {b, h};
  expr_t gate[4];
  for (int g = 0; g < s->gates; g++) gate[g] = load2(k, gx, b, kadd(k, kmul(k, kint(k, g), hid), h), dt);
  expr_t hprev = load2(k, hs, b, h, dt), hnew = NULL, cnew = NULL;
  if (s->op == TCC_OP_RNN) {
    hnew = activate(k, &acts[0], s->clip, gate[0]);
  } else if (gru) {
    expr_t ghv[3];
    for (int g = 0; g < 3; g++) ghv[g] = load2(k, gr, b, kadd(k, kmul(k, kint(k, g), hid), h), dt);
    expr_t z = let(k, body, "z", activate(k, &acts[0], s->clip, kadd(k, gate[0], ghv[0])));
    expr_t hh;
    if (s->lbr) {
      expr_t r = activate(k, &acts[0], s->clip, kadd(k, gate[1], ghv[1]));
      hh = kadd(k, gate[2], kmul(k, r, ghv[2]));
    } else {
      hh = kadd(k, gate[2], ghv[2]);
    }
    hh = let(k, body, "hh", activate(k, &acts[1], s->clip, hh));
    hnew = kadd(k, kmul(k, ksub(k, kc(k, dt, 1), z), hh), kmul(k, z, hprev));
  } else { /* LSTM: gates i, o, f, c; peepholes P = [p_i, p_o, p_f] */
    expr_t cprev = let(k, body, "c_prev", load2(k, cs, b, h, dt)), peep[3] = {NULL, NULL, NULL};
    for (int q = 0; q < 3 && s->p; q++) peep[q] = load2(k, s->p, d, kadd(k, kmul(k, kint(k, q), hid), h), dt);
    expr_t pre_i = peep[0] ? kadd(k, gate[0], kmul(k, peep[0], cprev)) : gate[0];
    expr_t ig = let(k, body, "i", activate(k, &acts[0], s->clip, pre_i));
    expr_t fg;
    if (s->input_forget) {
      fg = ksub(k, kc(k, dt, 1), ig);
    } else {
      expr_t pre_f = peep[2] ? kadd(k, gate[2], kmul(k, peep[2], cprev)) : gate[2];
      fg = activate(k, &acts[0], s->clip, pre_f);
    }
    expr_t cg = activate(k, &acts[1], s->clip, gate[3]);
    cnew = let(k, body, "c", kadd(k, kmul(k, fg, cprev), kmul(k, ig, cg)));
    expr_t pre_o = peep[1] ? kadd(k, gate[1], kmul(k, peep[1], cnew)) : gate[1];
    expr_t og = activate(k, &acts[0], s->clip, pre_o);
    hnew = kmul(k, og, activate(k, &acts[2], -1, cnew));
  }
  hnew = let(k, body, "h_new", hnew);
  tcc_kblock_t *valid = body, *masked = NULL;
  if (s->lens) {
    expr_t len = kload(k, s->lens, &b, I64);
    valid = tcc_k_if(k, body, kbin(k, TCC_KOP_LT, t, len), &masked);
  }
  tcc_k_store(k, valid, hs, bhi, hnew);
  if (cs) tcc_k_store(k, valid, cs, bhi, cnew);
  if (s->y) {
    const expr_t yi0[] = {t, d, b, h}, yi1[] = {b, t, d, h};
    const expr_t *yi = s->layout ? yi1 : yi0;
    tcc_k_store(k, valid, s->y, yi, kcast(k, s->y->dtype, hnew));
    if (masked) tcc_k_store(k, masked, s->y, yi, kc(k, s->y->dtype, 0));
  }
  /* final states */
  const tcc_kbuf_t *fin[2] = {s->yh, s->yc};
  for (int i = 0; i < 2; i++) {
    if (!fin[i] || !state[i]) continue;
    tcc_kblock_t *fb = batch_hidden(k, top, s, &b, &h);
    state_index(s, d, b, h, si);
    tcc_k_store(k, fb, fin[i], si, kcast(k, fin[i]->dtype, load2(k, state[i], b, h, dt)));
  }
  return NULL;
}

/* RNN, GRU and LSTM (ONNX's newest forms: layout, sequence_lens, initial states, peepholes, activations,
 * clip, input_forget, linear_before_reset). Steps at or past a batch entry's sequence length keep its state
 * and output zeros; the reverse direction walks from the last time step down. */
static tcc_status_t rnn(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  rnn_t s = {.op = node->op};
  bool lstm = node->op == TCC_OP_LSTM;
  s.gates = lstm ? 4 : node->op == TCC_OP_GRU ? 3 : 1;
  s.x = in[0], s.w = in[1], s.r = in[2];
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, s.x->dtype, false));
  if (s.x->rank != 3 || s.w->rank != 3 || s.r->rank != 3)
    return tcc_infer_error(node, "X, W and R must have rank 3");
  s.dt = acc_type(s.x->dtype);
  s.b = node->num_inputs > 3 ? in[3] : NULL;
  s.lens = node->num_inputs > 4 ? in[4] : NULL;
  s.h0 = node->num_inputs > 5 ? in[5] : NULL;
  s.c0 = lstm && node->num_inputs > 6 ? in[6] : NULL;
  s.p = lstm && node->num_inputs > 7 ? in[7] : NULL;
  s.y = node->num_outputs > 0 ? out[0] : NULL;
  s.yh = node->num_outputs > 1 ? out[1] : NULL;
  s.yc = lstm && node->num_outputs > 2 ? out[2] : NULL;
  s.layout = tcc_node_attr_int(node, "layout", 0) != 0;
  s.lbr = tcc_node_attr_int(node, "linear_before_reset", 0) != 0;
  s.input_forget = tcc_node_attr_int(node, "input_forget", 0) != 0;
  s.clip = tcc_node_attr(node, "clip") ? tcc_node_attr_float(node, "clip", 0) : -1;
  if (tcc_node_attr(node, "clip") && !(s.clip > 0)) return tcc_infer_error(node, "attribute 'clip' must be positive");
  s.seq = s.x->dims[s.layout ? 1 : 0], s.batch = s.x->dims[s.layout ? 0 : 1], s.input = s.x->dims[2];
  s.hidden = s.r->dims[2], s.gh = s.w->dims[1];
  const char *dir = tcc_node_attr_string(node, "direction", "forward");
  bool bidi = !strcmp(dir, "bidirectional"), rev = !strcmp(dir, "reverse");
  if (!bidi && !rev && strcmp(dir, "forward")) return tcc_infer_error(node, "invalid direction '%s'", dir);
  int ndir = bidi ? 2 : 1, per_dir = lstm ? 3 : s.gates == 3 ? 2 : 1;
  act_t acts[6];
  TCC_RETURN_IF_ERROR(read_activations(node, per_dir, ndir, acts));
  for (int d = 0; d < ndir; d++) TCC_RETURN_IF_ERROR(rnn_direction(k, &s, d, rev || d == 1, acts + d * per_dir));
  return NULL;
}

/* ---- batch normalization, training mode ----------------------------------------------------------- */

tcc_status_t tcc_compute_batch_norm_training(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                             tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  const tcc_kbuf_t *run_mean = node->num_outputs > 1 ? out[1] : NULL, *run_var = node->num_outputs > 2 ? out[2] : NULL;
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, false));
  if (x->rank < 2) return tcc_infer_error(node, "input must have rank >= 2 (N, C, ...), got %d", x->rank);
  tcc_dtype_t dt = acc_type(x->dtype);
  double eps = tcc_node_attr_float(node, "epsilon", 1e-5), momentum = tcc_node_attr_float(node, "momentum", 0.9);
  int r = x->rank;
  /* per channel c: statistics over every other dim */
  expr_t c;
  tcc_kblock_t *chan = loop(k, tcc_kernel_body(k), "c", kdim(k, x->dims[1]), &c);
  expr_t count = kint(k, 1);
  for (int d = 0; d < r; d++)
    if (d != 1) count = kmul(k, count, kdim(k, x->dims[d]));
  count = let(k, chan, "count", kcast(k, dt, count));
  expr_t *idx = exprs(k, r);
  if (!idx) return tcc_status_oom();
  /* three passes over the channel's elements: sum, squared deviations, output */
  expr_t stat[2] = {NULL, NULL};
  for (int pass = 0; pass < 3; pass++) {
    tcc_kbuf_t *acc = pass < 2 ? reg_new(k, chan, pass ? "sqsum" : "sum", kc(k, dt, 0)) : NULL;
    tcc_kblock_t *body = chan;
    char name[16];
    for (int d = 0; d < r; d++) {
      if (d == 1) {
        idx[d] = c;
        continue;
      }
      snprintf(name, sizeof name, "i%d", d);
      body = loop(k, body, name, kdim(k, x->dims[d]), &idx[d]);
    }
    expr_t xv = kload(k, x, idx, dt);
    if (pass == 0) {
      reg_update(k, body, acc, TCC_KOP_ADD, xv);
      stat[0] = let(k, chan, "mean", kdiv(k, reg_get(k, acc), count));
    } else if (pass == 1) {
      expr_t dv = ksub(k, xv, stat[0]);
      reg_update(k, body, acc, TCC_KOP_ADD, kmul(k, dv, dv));
      stat[1] = let(k, chan, "var", kdiv(k, reg_get(k, acc), count));
    } else {
      expr_t inv = kun(k, TCC_KOP_RSQRT, kadd(k, stat[1], kc(k, dt, eps)));
      expr_t v = kadd(k, kmul(k, kmul(k, ksub(k, xv, stat[0]), inv), kload(k, in[1], &c, dt)), kload(k, in[2], &c, dt));
      tcc_k_store(k, body, y, idx, kcast(k, y->dtype, v));
    }
  }
  const tcc_kbuf_t *outs[2] = {run_mean, run_var}, *prev[2] = {in[3], in[4]};
  for (int i = 0; i < 2; i++) {
    if (!outs[i]) continue;
    expr_t v = kmul(k, kload(k, prev[i], &c, dt), kc(k, dt, momentum));
    v = kadd(k, v, kmul(k, stat[i], kc(k, dt, 1 - momentum)));
    tcc_k_store(k, chan, outs[i], &c, kcast(k, outs[i]->dtype, v));
  }
  return NULL;
}

const tcc_compute_entry_t tcc_compute_sequence_defs[] = {
    {TCC_OP_DFT, dft},
    {TCC_OP_STFT, stft},
    {TCC_OP_HANN_WINDOW, window},
    {TCC_OP_HAMMING_WINDOW, window},
    {TCC_OP_BLACKMAN_WINDOW, window},
    {TCC_OP_MEL_WEIGHT_MATRIX, mel_weight_matrix},
    {TCC_OP_RNN, rnn},
    {TCC_OP_GRU, rnn},
    {TCC_OP_LSTM, rnn},
    {TCC_OP_COUNT, NULL},
};
