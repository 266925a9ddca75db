/* Compute definitions of the elementwise ops: kernels build and verify for every op and supported dtype,
 * a broadcast add prints as expected, unsupported dtypes name the node, and kernels run by the reference
 * evaluator match C references on seeded random inputs. */
#include <math.h>
#include <stdlib.h>

#include "ir/compute.h"
#include "ir/kernel_eval.h"
#include "tests/graph_builder.h"
#include "tests/kernel_runner.h"
#include "tests/test.h"

/* ---- helpers -------------------------------------------------------------------------------------- */

static const char *printed(const tcc_kernel_t *k) {
  static char buf[8192];
  FILE *f = fmemopen(buf, sizeof buf, "w");
  CHECK_OK(tcc_kernel_print(k, f));
  fclose(f);
  return buf;
}

/* ---- building ------------------------------------------------------------------------------------- */

TEST(broadcast_add_prints) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_ADD, 1, 2, input(g, TCC_DTYPE_F32, "2, 3, 4"), input(g, TCC_DTYPE_F32, "3, 1"));
  n->name = "bcast_add";
  tcc_kernel_t *k = build_kernel(n);
  if (k)
    CHECK_STR(printed(k), "kernel bcast_add(in x0: f32[2, 3, 4], in x1: f32[3, 1], out y0: f32[2, 3, 4]) {\n"
                          "  for i0 in 0..2 {\n"
                          "    for i1 in 0..3 {\n"
                          "      for i2 in 0..4 {\n"
                          "        y0[i0, i1, i2] = add(x0[i0, i1, i2], x1[i1, 0])\n"
                          "      }\n"
                          "    }\n"
                          "  }\n"
                          "}\n");
  tcc_module_destroy(m);
}

TEST(half_and_symbolic_broadcast) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_MUL, 1, 2, input(g, TCC_DTYPE_F16, "n, 3"), input(g, TCC_DTYPE_F16, "m, 3"));
  tcc_kernel_t *k = build_kernel(n);
  if (k) {
    CHECK(strstr(printed(k), "cast<f16>(mul(cast<f32>(") != NULL);
    CHECK(strstr(printed(k), "select(eq(dim(n), 1), 0, i0)") != NULL);
  }
  tcc_module_destroy(m);
}

static const tcc_op_t float_unary[] = {
    TCC_OP_ABS, TCC_OP_NEG, TCC_OP_SQRT, TCC_OP_EXP, TCC_OP_LOG, TCC_OP_RECIPROCAL, TCC_OP_TANH, TCC_OP_SIGMOID,
    TCC_OP_RELU, TCC_OP_CEIL, TCC_OP_FLOOR, TCC_OP_ROUND, TCC_OP_SIGN, TCC_OP_ERF, TCC_OP_COS, TCC_OP_SIN, TCC_OP_TAN,
    TCC_OP_ACOS, TCC_OP_ASIN, TCC_OP_ATAN, TCC_OP_COSH, TCC_OP_SINH, TCC_OP_ACOSH, TCC_OP_ASINH, TCC_OP_ATANH,
    TCC_OP_SOFTPLUS, TCC_OP_SOFTSIGN, TCC_OP_ELU, TCC_OP_SELU, TCC_OP_CELU, TCC_OP_LEAKY_RELU, TCC_OP_THRESHOLDED_RELU,
    TCC_OP_HARD_SIGMOID, TCC_OP_HARD_SWISH, TCC_OP_MISH, TCC_OP_GELU, TCC_OP_SHRINK, TCC_OP_CLIP, TCC_OP_IS_NAN,
    TCC_OP_IS_INF, TCC_OP_IDENTITY, TCC_OP_DROPOUT,
};
static const tcc_op_t numeric_binary[] = {
    TCC_OP_ADD, TCC_OP_SUB, TCC_OP_MUL, TCC_OP_DIV, TCC_OP_POW, TCC_OP_MOD, TCC_OP_PRELU, TCC_OP_EQUAL, TCC_OP_LESS,
    TCC_OP_GREATER, TCC_OP_LESS_OR_EQUAL, TCC_OP_GREATER_OR_EQUAL, TCC_OP_SUM, TCC_OP_MEAN, TCC_OP_MAX, TCC_OP_MIN,
};

TEST(every_op_builds_for_its_types) {
  static const tcc_dtype_t floats[] = {TCC_DTYPE_F32, TCC_DTYPE_F64, TCC_DTYPE_F16, TCC_DTYPE_BF16,
                                       TCC_DTYPE_F8E4M3FN};
  static const tcc_dtype_t ints[] = {TCC_DTYPE_I8, TCC_DTYPE_I32, TCC_DTYPE_I64, TCC_DTYPE_U8, TCC_DTYPE_U64};
  for (size_t d = 0; d < sizeof floats / sizeof *floats; d++) {
    for (size_t i = 0; i < sizeof float_unary / sizeof *float_unary; i++) {
      tcc_module_t *m = new_module();
      tcc_node_t *n = node(m->graph, float_unary[i], 1, 1, input(m->graph, floats[d], "2, 3"));
      CHECK(build_kernel(n) != NULL);
      tcc_module_destroy(m);
    }
  }
  const tcc_dtype_t numeric[] = {TCC_DTYPE_F32, TCC_DTYPE_F16, TCC_DTYPE_I32, TCC_DTYPE_U8, TCC_DTYPE_I64};
  for (size_t d = 0; d < sizeof numeric / sizeof *numeric; d++) {
    for (size_t i = 0; i < sizeof numeric_binary / sizeof *numeric_binary; i++) {
      tcc_module_t *m = new_module();
      tcc_graph_t *g = m->graph;
      tcc_node_t *n = node(g, numeric_binary[i], 1, 2, input(g, numeric[d], "2, 3"), input(g, numeric[d], "3"));
      if (numeric_binary[i] == TCC_OP_MOD && tcc_dtype_is_float(numeric[d])) attr_int(n, "fmod", 1);
      CHECK(build_kernel(n) != NULL);
      tcc_module_destroy(m);
    }
  }
  static const tcc_op_t int_ops[] = {TCC_OP_BITWISE_AND, TCC_OP_BITWISE_OR, TCC_OP_BITWISE_XOR, TCC_OP_BIT_SHIFT,
                                     TCC_OP_BITWISE_NOT, TCC_OP_ABS, TCC_OP_NEG, TCC_OP_RELU, TCC_OP_SIGN,
                                     TCC_OP_CLIP, TCC_OP_SHRINK};
  for (size_t d = 0; d < sizeof ints / sizeof *ints; d++) {
    for (size_t i = 0; i < sizeof int_ops / sizeof *int_ops; i++) {
      tcc_module_t *m = new_module();
      tcc_graph_t *g = m->graph;
      bool unary = int_ops[i] == TCC_OP_BITWISE_NOT || (int_ops[i] >= TCC_OP_ABS && int_ops[i] <= TCC_OP_CLIP);
      tcc_node_t *n = unary ? node(g, int_ops[i], 1, 1, input(g, ints[d], "4"))
                            : node(g, int_ops[i], 1, 2, input(g, ints[d], "4"), input(g, ints[d], "4"));
      if (int_ops[i] == TCC_OP_BIT_SHIFT) attr_string(n, "direction", "RIGHT");
      CHECK(build_kernel(n) != NULL);
      tcc_module_destroy(m);
    }
  }
  static const tcc_op_t bool_ops[] = {TCC_OP_AND, TCC_OP_OR, TCC_OP_XOR, TCC_OP_EQUAL};
  for (size_t i = 0; i < sizeof bool_ops / sizeof *bool_ops; i++) {
    tcc_module_t *m = new_module();
    tcc_graph_t *g = m->graph;
    CHECK(build_kernel(node(g, bool_ops[i], 1, 2, input(g, TCC_DTYPE_BOOL, "2, 1"), input(g, TCC_DTYPE_BOOL, "3"))) != NULL);
    tcc_module_destroy(m);
  }
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  CHECK(build_kernel(node(g, TCC_OP_NOT, 1, 1, input(g, TCC_DTYPE_BOOL, "2"))) != NULL);
  CHECK(build_kernel(node(g, TCC_OP_WHERE, 1, 3, input(g, TCC_DTYPE_BOOL, "2, 1"), input(g, TCC_DTYPE_I64, "3"),
                   input(g, TCC_DTYPE_I64, ""))) != NULL);
  tcc_node_t *cast = node(g, TCC_OP_CAST, 1, 1, input(g, TCC_DTYPE_F16, "2"));
  attr_int(cast, "to", TCC_DTYPE_F8E5M2);
  CHECK(build_kernel(cast) != NULL);
  CHECK(build_kernel(node(g, TCC_OP_CAST_LIKE, 1, 2, input(g, TCC_DTYPE_BOOL, "2"), input(g, TCC_DTYPE_BF16, "1"))) != NULL);
  tcc_module_destroy(m);
}

TEST(unsupported_types_name_the_node) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  CHECK(build_unsupported(node(g, TCC_OP_ADD, 1, 2, input(g, TCC_DTYPE_STRING, "2"), input(g, TCC_DTYPE_STRING, "2")),
                          "element type string"));
  CHECK(build_unsupported(node(g, TCC_OP_SQRT, 1, 1, input(g, TCC_DTYPE_I32, "2")), "element type i32"));
  CHECK(build_unsupported(node(g, TCC_OP_EQUAL, 1, 2, input(g, TCC_DTYPE_STRING, "2"), input(g, TCC_DTYPE_STRING, "2")),
                          "string"));
  tcc_node_t *gelu = node(g, TCC_OP_GELU, 1, 1, input(g, TCC_DTYPE_F32, "2"));
  attr_string(gelu, "approximate", "cubic");
  CHECK(build_unsupported(gelu, "approximate='cubic'"));
  tcc_node_t *dropout = node(g, TCC_OP_DROPOUT, 1, 3, input(g, TCC_DTYPE_F32, "2"), NULL, input(g, TCC_DTYPE_BOOL, ""));
  CHECK(build_unsupported(dropout, "training_mode"));
  tcc_module_destroy(m);
}

/* ---- running -------------------------------------------------------------------------------------- */

static uint64_t rng_state;
static double uniform(double lo, double hi) {
  rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
  return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

/* A value of n elements away from zero, in [lo, hi]. */
static double nonzero(double lo, double hi) {
  double x;
  do x = uniform(lo, hi);
  while (fabs(x) < 1e-3);
  return x;
}

static float *rand_f32(int64_t n, double lo, double hi) {
  float *p = malloc((size_t)n * sizeof *p);
  for (int64_t i = 0; i < n; i++) p[i] = (float)nonzero(lo, hi);
  return p;
}

/* IEEE half from float, round to nearest even (normal range only, as the tests use). */
static uint16_t to_half(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  uint32_t sign = (b >> 16) & 0x8000u, exp = (b >> 23) & 0xff, mant = b & 0x7fffffu;
  if (exp == 0) return (uint16_t)sign;
  uint32_t h = ((exp - 112) << 10) | (mant >> 13), rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1))) h++;
  return (uint16_t)(sign | h);
}
static float from_half(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ffu;
  uint32_t b = exp ? sign | ((exp + 112) << 23) | (mant << 13) : sign; /* no subnormals needed */
  float f;
  memcpy(&f, &b, 4);
  return f;
}

static bool close_to(double got, double want, double tol) {
  if (isnan(want)) return isnan(got);
  if (isinf(want)) return got == want;
  return fabs(got - want) <= tol * (1 + fabs(want));
}

/* A scalar CHECK_CLOSE (element i of what; NaN and infinities must match exactly) in place of the array one
 * of tests/kernel_runner.h. */
#undef CHECK_CLOSE
#define CHECK_CLOSE(got, want, tol, what, i)                                                                   \
  do {                                                                                                         \
    double g_ = (got), w_ = (want);                                                                            \
    if (!close_to(g_, w_, tol)) {                                                                              \
      fprintf(stderr, "%s:%d: %s[%d]: got %.9g, want %.9g\n", __FILE__, __LINE__, what, (int)(i), g_, w_);  \
      test_current_failed_ = 1;                                                                                \
    }                                                                                                          \
  } while (0)

static double sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double softplus(double x) { return log1p(exp(x)); }

/* Reference of each unary float op over f32 inputs, with its attributes and input range. */
static double ref_unary(tcc_op_t op, double x) {
  switch (op) {
  case TCC_OP_ABS: return fabs(x);
  case TCC_OP_NEG: return -x;
  case TCC_OP_SQRT: return sqrt(x);
  case TCC_OP_EXP: return exp(x);
  case TCC_OP_LOG: return log(x);
  case TCC_OP_RECIPROCAL: return 1 / x;
  case TCC_OP_TANH: return tanh(x);
  case TCC_OP_SIGMOID: return sigmoid(x);
  case TCC_OP_RELU: return x > 0 ? x : 0;
  case TCC_OP_CEIL: return ceil(x);
  case TCC_OP_FLOOR: return floor(x);
  case TCC_OP_ROUND: return nearbyint(x);
  case TCC_OP_SIGN: return (x > 0) - (x < 0);
  case TCC_OP_ERF: return erf(x);
  case TCC_OP_COS: return cos(x);
  case TCC_OP_SIN: return sin(x);
  case TCC_OP_TAN: return tan(x);
  case TCC_OP_ACOS: return acos(x);
  case TCC_OP_ASIN: return asin(x);
  case TCC_OP_ATAN: return atan(x);
  case TCC_OP_COSH: return cosh(x);
  case TCC_OP_SINH: return sinh(x);
  case TCC_OP_ACOSH: return acosh(x);
  case TCC_OP_ASINH: return asinh(x);
  case TCC_OP_ATANH: return atanh(x);
  case TCC_OP_SOFTPLUS: return softplus(x);
  case TCC_OP_SOFTSIGN: return x / (1 + fabs(x));
  case TCC_OP_ELU: return x < 0 ? 0.5 * (exp(x) - 1) : x;                          /* alpha 0.5 */
  case TCC_OP_SELU: return 1.0507009873554805 * (x <= 0 ? 1.6732632423543772 * (exp(x) - 1) : x);
  case TCC_OP_CELU: return fmax(0, x) + fmin(0, 2 * (exp(x / 2) - 1));             /* alpha 2 */
  case TCC_OP_LEAKY_RELU: return x < 0 ? 0.1 * x : x;                              /* alpha 0.1 */
  case TCC_OP_THRESHOLDED_RELU: return x > 1 ? x : 0;
  case TCC_OP_HARD_SIGMOID: return fmax(0, fmin(1, 0.2 * x + 0.5));
  case TCC_OP_HARD_SWISH: return x * fmax(0, fmin(1, x / 6 + 0.5));
  case TCC_OP_MISH: return x * tanh(softplus(x));
  case TCC_OP_GELU: return 0.5 * x * (1 + erf(x / sqrt(2)));
  case TCC_OP_SHRINK: return x < -1 ? x + 0.25 : x > 1 ? x - 0.25 : 0;             /* lambd 1, bias 0.25 */
  default: return NAN;
  }
}

TEST(unary_f32_matches_reference) {
  for (size_t t = 0; t < sizeof float_unary / sizeof *float_unary; t++) {
    tcc_op_t op = float_unary[t];
    double lo = -3, hi = 3;
    if (op == TCC_OP_SQRT || op == TCC_OP_LOG) lo = 0.01;
    if (op == TCC_OP_ACOS || op == TCC_OP_ASIN || op == TCC_OP_ATANH) lo = -0.99, hi = 0.99;
    if (op == TCC_OP_ACOSH) lo = 1.01, hi = 5;
    if (isnan(ref_unary(op, 0.5))) continue; /* tested below */
    rng_state = 42 + t;
    tcc_module_t *m = new_module();
    tcc_node_t *n = node(m->graph, op, 1, 1, input(m->graph, TCC_DTYPE_F32, "2, 3, 4"));
    if (op == TCC_OP_ELU) attr_float(n, "alpha", 0.5);
    if (op == TCC_OP_CELU) attr_float(n, "alpha", 2);
    if (op == TCC_OP_LEAKY_RELU) attr_float(n, "alpha", 0.1);
    if (op == TCC_OP_SHRINK) attr_float(n, "lambd", 1), attr_float(n, "bias", 0.25);
    float *x = rand_f32(24, lo, hi), y[24];
    if (op == TCC_OP_ROUND) x[0] = 2.5f, x[1] = -0.5f, x[2] = 3.5f;
    void *bufs[] = {x, y};
    if (run(build_kernel(n), bufs))
      for (int i = 0; i < 24; i++) CHECK_CLOSE(y[i], ref_unary(op, x[i]), 4e-6, n->op_type, i);
    free(x);
    tcc_module_destroy(m);
  }
}

TEST(gelu_tanh_and_large_softplus) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *gelu = node(g, TCC_OP_GELU, 1, 1, input(g, TCC_DTYPE_F32, "16"));
  attr_string(gelu, "approximate", "tanh");
  tcc_node_t *sp = node(g, TCC_OP_SOFTPLUS, 1, 1, input(g, TCC_DTYPE_F32, "4"));
  rng_state = 7;
  float *x = rand_f32(16, -4, 4), y[16], big[4] = {100, -100, 30, -30}, z[4];
  if (run(build_kernel(gelu), (void *[]){x, y}))
    for (int i = 0; i < 16; i++) {
      double v = x[i], want = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
      CHECK_CLOSE(y[i], want, 2e-6, "gelu_tanh", i);
    }
  if (run(build_kernel(sp), (void *[]){big, z}))
    for (int i = 0; i < 4; i++) CHECK_CLOSE(z[i], softplus(big[i]), 2e-6, "softplus", i);
  free(x);
  tcc_module_destroy(m);
}

TEST(broadcast_binary_f32) {
  static const tcc_op_t ops[] = {TCC_OP_ADD, TCC_OP_SUB, TCC_OP_MUL, TCC_OP_DIV, TCC_OP_POW, TCC_OP_PRELU,
                                 TCC_OP_MOD};
  for (size_t t = 0; t < sizeof ops / sizeof *ops; t++) {
    tcc_module_t *m = new_module();
    tcc_graph_t *g = m->graph;
    tcc_node_t *n = node(g, ops[t], 1, 2, input(g, TCC_DTYPE_F32, "2, 3, 4"), input(g, TCC_DTYPE_F32, "3, 1"));
    rng_state = 100 + t;
    float *a = rand_f32(24, ops[t] == TCC_OP_POW ? 0.1 : -3, 3), *b = rand_f32(3, -2, 2), y[24];
    if (run(build_kernel(n), (void *[]){a, b, y}))
      for (int i = 0; i < 24; i++) {
        double x = a[i], w = b[i / 4 % 3], want = NAN;
        switch (ops[t]) {
        case TCC_OP_ADD: want = x + w; break;
        case TCC_OP_SUB: want = x - w; break;
        case TCC_OP_MUL: want = x * w; break;
        case TCC_OP_DIV: want = x / w; break;
        case TCC_OP_POW: want = pow(x, w); break;
        case TCC_OP_PRELU: want = x < 0 ? w * x : x; break;
        default: want = fmod(x, w); want += want != 0 && (want < 0) != (w < 0) ? w : 0; break; /* fmod=0 */
        }
        CHECK_CLOSE(y[i], (float)want, 1e-6, n->op_type, i);
      }
    free(a), free(b);
    tcc_module_destroy(m);
  }
}

TEST(int_mod_fmod_and_division) {
  int32_t a[8] = {7, -7, 7, -7, 5, -4, 0, 13}, b[8] = {3, 3, -3, -3, 5, 3, -2, -5};
  int32_t floor_mod[8] = {1, 2, -2, -1, 0, 2, 0, -2}, c_mod[8] = {1, -1, 1, -1, 0, -1, 0, 3};
  int32_t quot[8] = {2, -2, -2, 2, 1, -1, 0, -2};
  for (int variant = 0; variant < 3; variant++) {
    tcc_module_t *m = new_module();
    tcc_graph_t *g = m->graph;
    tcc_node_t *n = node(g, variant == 2 ? TCC_OP_DIV : TCC_OP_MOD, 1, 2, input(g, TCC_DTYPE_I32, "8"),
                         input(g, TCC_DTYPE_I32, "8"));
    if (variant == 1) attr_int(n, "fmod", 1);
    int32_t y[8];
    const int32_t *want = variant == 0 ? floor_mod : variant == 1 ? c_mod : quot;
    if (run(build_kernel(n), (void *[]){a, b, y}))
      for (int i = 0; i < 8; i++) CHECK_CLOSE(y[i], want[i], 0, n->op_type, i);
    tcc_module_destroy(m);
  }
}

TEST(f16_add_rounds_through_f32) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_ADD, 1, 2, input(g, TCC_DTYPE_F16, "4, 3"), input(g, TCC_DTYPE_F16, "3"));
  uint16_t a[12], b[3], y[12];
  rng_state = 5;
  for (int i = 0; i < 12; i++) a[i] = to_half((float)nonzero(-8, 8));
  for (int i = 0; i < 3; i++) b[i] = to_half((float)nonzero(-8, 8));
  if (run(build_kernel(n), (void *[]){a, b, y}))
    for (int i = 0; i < 12; i++) CHECK(y[i] == to_half(from_half(a[i]) + from_half(b[i % 3])));
  tcc_module_destroy(m);
}

TEST(cast_f32_to_i8_and_where) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *cast = node(g, TCC_OP_CAST, 1, 1, input(g, TCC_DTYPE_F32, "6"));
  attr_int(cast, "to", TCC_DTYPE_I8);
  float x[6] = {1.9f, -1.9f, 127.0f, -128.0f, 0.4f, -55.5f};
  int8_t yi[6], want_i[6] = {1, -1, 127, -128, 0, -55};
  if (run(build_kernel(cast), (void *[]){x, yi}))
    for (int i = 0; i < 6; i++) CHECK(yi[i] == want_i[i]);

  tcc_node_t *where = node(g, TCC_OP_WHERE, 1, 3, input(g, TCC_DTYPE_BOOL, "2, 1"), input(g, TCC_DTYPE_F32, "3"),
                           input(g, TCC_DTYPE_F32, ""));
  uint8_t cond[2] = {1, 0};
  float a[3] = {1, 2, 3}, b = -7, y[6], want[6] = {1, 2, 3, -7, -7, -7};
  if (run(build_kernel(where), (void *[]){cond, a, &b, y}))
    for (int i = 0; i < 6; i++) CHECK(y[i] == want[i]);
  tcc_module_destroy(m);
}

TEST(clip_with_and_without_bounds) {
  float x[6] = {-3, -1, 0.5f, 1, 2.5f, 4}, lo = -1.5f, hi = 2;
  for (int variant = 0; variant < 4; variant++) {
    tcc_module_t *m = new_module();
    tcc_graph_t *g = m->graph;
    bool has_lo = variant & 1, has_hi = variant & 2;
    tcc_node_t *n = node(g, TCC_OP_CLIP, 1, 3, input(g, TCC_DTYPE_F32, "2, 3"),
                         has_lo ? input(g, TCC_DTYPE_F32, "") : NULL, has_hi ? input(g, TCC_DTYPE_F32, "") : NULL);
    float y[6];
    void *bufs[4] = {x}, **p = bufs + 1;
    if (has_lo) *p++ = &lo;
    if (has_hi) *p++ = &hi;
    *p = y;
    if (run(build_kernel(n), bufs))
      for (int i = 0; i < 6; i++) {
        double want = x[i];
        if (has_lo) want = fmax(want, lo);
        if (has_hi) want = fmin(want, hi);
        CHECK_CLOSE(y[i], want, 0, "clip", i);
      }
    tcc_module_destroy(m);
  }
}

TEST(variadic_compare_logic_and_flags) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  static const tcc_op_t ops[] = {TCC_OP_SUM, TCC_OP_MEAN, TCC_OP_MAX, TCC_OP_MIN};
  rng_state = 9;
  float *a = rand_f32(6, -2, 2), *b = rand_f32(3, -2, 2), c = 0.25f, y[6];
  for (int t = 0; t < 4; t++) {
    tcc_node_t *n = node(g, ops[t], 1, 3, input(g, TCC_DTYPE_F32, "2, 3"), input(g, TCC_DTYPE_F32, "3"),
                         input(g, TCC_DTYPE_F32, "1"));
    if (run(build_kernel(n), (void *[]){a, b, &c, y}))
      for (int i = 0; i < 6; i++) {
        double x = a[i], w = b[i % 3];
        double want = t == 0   ? x + w + c
                      : t == 1 ? (x + w + c) / 3
                      : t == 2 ? fmax(fmax(x, w), c)
                               : fmin(fmin(x, w), c);
        CHECK_CLOSE(y[i], (float)want, 1e-6, n->op_type, i);
      }
  }
  tcc_node_t *less = node(g, TCC_OP_LESS_OR_EQUAL, 1, 2, input(g, TCC_DTYPE_I64, "2, 1"), input(g, TCC_DTYPE_I64, "3"));
  int64_t li[2] = {-1, 2}, ri[3] = {-1, 0, 3};
  uint8_t le[6], want_le[6] = {1, 1, 1, 0, 0, 1};
  if (run(build_kernel(less), (void *[]){li, ri, le}))
    for (int i = 0; i < 6; i++) CHECK(le[i] == want_le[i]);
  tcc_node_t *xor = node(g, TCC_OP_XOR, 1, 2, input(g, TCC_DTYPE_BOOL, "4"), input(g, TCC_DTYPE_BOOL, "4"));
  uint8_t p[4] = {0, 0, 1, 1}, q[4] = {0, 1, 0, 1}, r[4], want_xor[4] = {0, 1, 1, 0};
  if (run(build_kernel(xor), (void *[]){p, q, r}))
    for (int i = 0; i < 4; i++) CHECK(r[i] == want_xor[i]);
  tcc_node_t *isinf = node(g, TCC_OP_IS_INF, 1, 1, input(g, TCC_DTYPE_F32, "4"));
  attr_int(isinf, "detect_negative", 0);
  float special[4] = {INFINITY, -INFINITY, NAN, 1};
  uint8_t inf[4], want_inf[4] = {1, 0, 0, 0};
  if (run(build_kernel(isinf), (void *[]){special, inf}))
    for (int i = 0; i < 4; i++) CHECK(inf[i] == want_inf[i]);
  tcc_node_t *shift = node(g, TCC_OP_BIT_SHIFT, 1, 2, input(g, TCC_DTYPE_U8, "3"), input(g, TCC_DTYPE_U8, "3"));
  attr_string(shift, "direction", "LEFT");
  uint8_t s1[3] = {1, 3, 255}, s2[3] = {1, 2, 1}, s3[3];
  if (run(build_kernel(shift), (void *[]){s1, s2, s3}))
    CHECK(s3[0] == 2 && s3[1] == 12 && s3[2] == 254);
  tcc_node_t *dropout = node(g, TCC_OP_DROPOUT, 2, 1, input(g, TCC_DTYPE_F32, "3"));
  uint8_t mask[3] = {0};
  float dy[3];
  if (run(build_kernel(dropout), (void *[]){b, dy, mask}))
    for (int i = 0; i < 3; i++) CHECK(dy[i] == b[i] && mask[i] == 1);
  tcc_node_t *ipow = node(g, TCC_OP_POW, 1, 2, input(g, TCC_DTYPE_I32, "3"), input(g, TCC_DTYPE_F32, "3"));
  int32_t base[3] = {2, 3, -2}, pw[3];
  float ex[3] = {3, 0.5f, 2};
  if (run(build_kernel(ipow), (void *[]){base, ex, pw}))
    CHECK(pw[0] == 8 && pw[1] == 1 && pw[2] == 4);
  free(a), free(b);
  tcc_module_destroy(m);
}

RUN_TESTS(T(broadcast_add_prints), T(half_and_symbolic_broadcast), T(every_op_builds_for_its_types),
          T(unsupported_types_name_the_node), T(unary_f32_matches_reference), T(gelu_tanh_and_large_softplus),
          T(broadcast_binary_f32), T(int_mod_fmod_and_division), T(f16_add_rounds_through_f32),
          T(cast_f32_to_i8_and_where), T(clip_with_and_without_bounds), T(variadic_compare_logic_and_flags))
