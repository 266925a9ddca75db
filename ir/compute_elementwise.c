/* Compute definitions: elementwise ops (unary, broadcasting binary, comparisons, variadic, where, casts,
 * dropout, identity), ONNX semantics of the newest opset. One loop nest over the output's shape; inputs are
 * read at their (multidirectional) broadcast index. f32/f64 and integers compute natively; the other float
 * types (f16, bf16, float8, float4) load as f32, compute and round back on store. */
#include <math.h>
#include <string.h>

#include "ir/compute_defs.h"

/* Element-type classes a definition accepts. */
enum { FLT = 1, SINT = 2, UINT = 4, BOOL = 8, NUM = FLT | SINT | UINT, INT = SINT | UINT, ANY = NUM | BOOL };

/* One elementwise loop nest under construction. */
typedef struct {
  tcc_kernel_t *k;
  const tcc_node_t *node;
  tcc_kbuf_t *const *in, *const *out;
  int rank; /* of the output */
  const tcc_dim_t *const *shape;
  const tcc_kexpr_t **index; /* the output index */
  tcc_kblock_t *body;        /* innermost loop body */
  tcc_dtype_t ct;            /* compute type */
} ew_t;

static unsigned dtype_class(tcc_dtype_t dt) {
  if (dt == TCC_DTYPE_BOOL) return BOOL;
  if (tcc_dtype_is_float(dt)) return FLT;
  if (tcc_dtype_is_signed_int(dt)) return SINT;
  return tcc_dtype_is_int(dt) ? UINT : 0;
}

static tcc_status_t check_dtype(const tcc_node_t *node, tcc_dtype_t dt, unsigned classes) {
  if (dtype_class(dt) & classes) return NULL;
  return tcc_compute_unsupported(node, "element type %s is not supported", tcc_dtype_name(dt));
}

/* Opens the loops over output 0's shape; the compute type follows input `like`'s element type. */
static tcc_status_t begin(ew_t *e, tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                          tcc_kbuf_t *const *out, int like) {
  *e = (ew_t){.k = k, .node = node, .in = in, .out = out, .rank = out[0]->rank, .shape = out[0]->dims};
  e->ct = acc_type(in[like]->dtype); /* f16, bf16 and the 8- and 4-bit floats compute in f32 */
  e->body = tcc_compute_loops(k, tcc_kernel_body(k), e->rank, e->shape, &e->index);
  return e->body ? NULL : tcc_status_oom();
}

/* ---- expression helpers --------------------------------------------------------------------------- */

static const tcc_kexpr_t *load(ew_t *e, int i) {
  const tcc_kexpr_t *const *idx = tcc_compute_broadcast_index(e->k, e->in[i], e->rank, e->shape, e->index);
  return idx ? tcc_k_load(e->k, e->in[i], idx) : NULL;
}

/* Input i at the broadcast index, in the compute type. */
static const tcc_kexpr_t *loadc(ew_t *e, int i) { return kcast(e->k, e->ct, load(e, i)); }

/* Element 0 of input i (a scalar operand such as Clip's bounds), in the compute type. */
static const tcc_kexpr_t *load_scalar(ew_t *e, int i) { return kcast(e->k, e->ct, first(e->k, e->in[i])); }

/* Stores v into output i at the output index, converted to its element type. */
static void store(ew_t *e, int i, const tcc_kexpr_t *v) {
  tcc_k_store(e->k, e->body, e->out[i], e->index, kcast(e->k, e->out[i]->dtype, v));
}

static const tcc_kexpr_t *c(ew_t *e, double v) { return kc(e->k, e->ct, v); }
static double attr_f(ew_t *e, const char *name, double fallback) {
  return tcc_node_attr_float(e->node, name, fallback);
}

/* max(x, 0) + log(1 + exp(-|x|)): no overflow for large |x|. */
static const tcc_kexpr_t *softplus(ew_t *e, const tcc_kexpr_t *x) {
  const tcc_kexpr_t *exp_neg_abs = kun(e->k, TCC_KOP_EXP, kun(e->k, TCC_KOP_NEG, kun(e->k, TCC_KOP_ABS, x)));
  const tcc_kexpr_t *tail = kun(e->k, TCC_KOP_LOG, kadd(e->k, c(e, 1), exp_neg_abs));
  return kadd(e->k, kbin(e->k, TCC_KOP_MAX, x, c(e, 0)), tail);
}

/* min(max(x, lo), hi) */
static const tcc_kexpr_t *clamp(ew_t *e, const tcc_kexpr_t *x, double lo, double hi) {
  return kbin(e->k, TCC_KOP_MIN, kbin(e->k, TCC_KOP_MAX, x, c(e, lo)), c(e, hi));
}

/* ---- unary ---------------------------------------------------------------------------------------- */

typedef const tcc_kexpr_t *(*unary_body_t)(ew_t *e, const tcc_kexpr_t *x);

static const tcc_kexpr_t *relu(ew_t *e, const tcc_kexpr_t *x) { return kbin(e->k, TCC_KOP_MAX, x, c(e, 0)); }
static const tcc_kexpr_t *softsign(ew_t *e, const tcc_kexpr_t *x) {
  return kbin(e->k, TCC_KOP_DIV, x, kadd(e->k, c(e, 1), kun(e->k, TCC_KOP_ABS, x)));
}
static const tcc_kexpr_t *expm1_times(ew_t *e, const tcc_kexpr_t *x, double alpha) {
  return kmul(e->k, c(e, alpha), kbin(e->k, TCC_KOP_SUB, kun(e->k, TCC_KOP_EXP, x), c(e, 1)));
}
static const tcc_kexpr_t *elu(ew_t *e, const tcc_kexpr_t *x) {
  return ksel(e->k, kbin(e->k, TCC_KOP_LT, x, c(e, 0)), expm1_times(e, x, attr_f(e, "alpha", 1.0)), x);
}
static const tcc_kexpr_t *selu(ew_t *e, const tcc_kexpr_t *x) {
  double alpha = attr_f(e, "alpha", 1.67326319217681884765625);
  double gamma = attr_f(e, "gamma", 1.05070102214813232421875);
  return kmul(e->k, c(e, gamma), ksel(e->k, kbin(e->k, TCC_KOP_LE, x, c(e, 0)), expm1_times(e, x, alpha), x));
}
static const tcc_kexpr_t *celu(ew_t *e, const tcc_kexpr_t *x) {
  double alpha = attr_f(e, "alpha", 1.0);
  const tcc_kexpr_t *neg = expm1_times(e, kbin(e->k, TCC_KOP_DIV, x, c(e, alpha)), alpha);
  return kadd(e->k, kbin(e->k, TCC_KOP_MAX, x, c(e, 0)), kbin(e->k, TCC_KOP_MIN, neg, c(e, 0)));
}
static const tcc_kexpr_t *leaky_relu(ew_t *e, const tcc_kexpr_t *x) {
  return ksel(e->k, kbin(e->k, TCC_KOP_LT, x, c(e, 0)), kmul(e->k, c(e, attr_f(e, "alpha", 0.01)), x), x);
}
static const tcc_kexpr_t *thresholded_relu(ew_t *e, const tcc_kexpr_t *x) {
  return ksel(e->k, kbin(e->k, TCC_KOP_GT, x, c(e, attr_f(e, "alpha", 1.0))), x, c(e, 0));
}
static const tcc_kexpr_t *hard_sigmoid(ew_t *e, const tcc_kexpr_t *x) {
  return clamp(e, kadd(e->k, kmul(e->k, c(e, attr_f(e, "alpha", 0.2)), x), c(e, attr_f(e, "beta", 0.5))), 0, 1);
}
static const tcc_kexpr_t *hard_swish(ew_t *e, const tcc_kexpr_t *x) {
  return kmul(e->k, x, clamp(e, kadd(e->k, kmul(e->k, c(e, 1.0 / 6), x), c(e, 0.5)), 0, 1));
}
static const tcc_kexpr_t *mish(ew_t *e, const tcc_kexpr_t *x) {
  return kmul(e->k, x, kun(e->k, TCC_KOP_TANH, softplus(e, x)));
}
static const tcc_kexpr_t *gelu(ew_t *e, const tcc_kexpr_t *x) {
  const tcc_kexpr_t *inner;
  if (strcmp(tcc_node_attr_string(e->node, "approximate", "none"), "tanh") == 0) {
    const tcc_kexpr_t *cube = kmul(e->k, x, kmul(e->k, x, x));
    const tcc_kexpr_t *sqrt_2_pi = c(e, 0.79788456080286535588); /* sqrt(2 / pi) */
    inner = kun(e->k, TCC_KOP_TANH, kmul(e->k, sqrt_2_pi, kadd(e->k, x, kmul(e->k, c(e, 0.044715), cube))));
  } else {
    inner = kun(e->k, TCC_KOP_ERF, kmul(e->k, x, c(e, 0.70710678118654752440 /* 1 / sqrt(2) */)));
  }
  return kmul(e->k, kmul(e->k, c(e, 0.5), x), kadd(e->k, c(e, 1), inner));
}
static const tcc_kexpr_t *shrink(ew_t *e, const tcc_kexpr_t *x) {
  double lambd = attr_f(e, "lambd", 0.5), bias = attr_f(e, "bias", 0);
  const tcc_kexpr_t *above = kbin(e->k, TCC_KOP_GT, x, c(e, lambd));
  const tcc_kexpr_t *hi = ksel(e->k, above, kbin(e->k, TCC_KOP_SUB, x, c(e, bias)), c(e, 0));
  return ksel(e->k, kbin(e->k, TCC_KOP_LT, x, c(e, -lambd)), kadd(e->k, x, c(e, bias)), hi);
}
static const tcc_kexpr_t *is_inf(ew_t *e, const tcc_kexpr_t *x) {
  bool pos = tcc_node_attr_int(e->node, "detect_positive", 1) != 0;
  bool neg = tcc_node_attr_int(e->node, "detect_negative", 1) != 0;
  const tcc_kexpr_t *inf = kun(e->k, TCC_KOP_IS_INF, x);
  if (pos && neg) return inf;
  if (!pos && !neg) return kc(e->k, TCC_DTYPE_BOOL, 0);
  return kbin(e->k, TCC_KOP_AND, inf, kbin(e->k, pos ? TCC_KOP_GT : TCC_KOP_LT, x, c(e, 0)));
}

static const struct {
  tcc_op_t op;
  unsigned types;
  tcc_kop_t kop;     /* the kernel operator, or TCC_KOP_COUNT when body builds it */
  unary_body_t body;
} unary_ops[] = {
    {TCC_OP_ABS, NUM, TCC_KOP_ABS, NULL},          {TCC_OP_NEG, NUM, TCC_KOP_NEG, NULL},
    {TCC_OP_SQRT, FLT, TCC_KOP_SQRT, NULL},        {TCC_OP_EXP, FLT, TCC_KOP_EXP, NULL},
    {TCC_OP_LOG, FLT, TCC_KOP_LOG, NULL},          {TCC_OP_RECIPROCAL, FLT, TCC_KOP_RECIPROCAL, NULL},
    {TCC_OP_TANH, FLT, TCC_KOP_TANH, NULL},        {TCC_OP_SIGMOID, FLT, TCC_KOP_SIGMOID, NULL},
    {TCC_OP_CEIL, FLT, TCC_KOP_CEIL, NULL},        {TCC_OP_FLOOR, FLT, TCC_KOP_FLOOR, NULL},
    {TCC_OP_ROUND, FLT, TCC_KOP_ROUND_EVEN, NULL}, {TCC_OP_SIGN, NUM, TCC_KOP_SIGN, NULL},
    {TCC_OP_ERF, FLT, TCC_KOP_ERF, NULL},          {TCC_OP_COS, FLT, TCC_KOP_COS, NULL},
    {TCC_OP_SIN, FLT, TCC_KOP_SIN, NULL},          {TCC_OP_TAN, FLT, TCC_KOP_TAN, NULL},
    {TCC_OP_ACOS, FLT, TCC_KOP_ACOS, NULL},        {TCC_OP_ASIN, FLT, TCC_KOP_ASIN, NULL},
    {TCC_OP_ATAN, FLT, TCC_KOP_ATAN, NULL},        {TCC_OP_COSH, FLT, TCC_KOP_COSH, NULL},
    {TCC_OP_SINH, FLT, TCC_KOP_SINH, NULL},        {TCC_OP_ACOSH, FLT, TCC_KOP_ACOSH, NULL},
    {TCC_OP_ASINH, FLT, TCC_KOP_ASINH, NULL},      {TCC_OP_ATANH, FLT, TCC_KOP_ATANH, NULL},
    {TCC_OP_BITWISE_NOT, INT, TCC_KOP_BITNOT, NULL}, {TCC_OP_NOT, BOOL, TCC_KOP_NOT, NULL},
    {TCC_OP_IS_NAN, FLT, TCC_KOP_IS_NAN, NULL},    {TCC_OP_IS_INF, FLT, TCC_KOP_COUNT, is_inf},
    {TCC_OP_RELU, NUM, TCC_KOP_COUNT, relu},       {TCC_OP_SOFTPLUS, FLT, TCC_KOP_COUNT, softplus},
    {TCC_OP_SOFTSIGN, FLT, TCC_KOP_COUNT, softsign}, {TCC_OP_ELU, FLT, TCC_KOP_COUNT, elu},
    {TCC_OP_SELU, FLT, TCC_KOP_COUNT, selu},       {TCC_OP_CELU, FLT, TCC_KOP_COUNT, celu},
    {TCC_OP_LEAKY_RELU, FLT, TCC_KOP_COUNT, leaky_relu},
    {TCC_OP_THRESHOLDED_RELU, FLT, TCC_KOP_COUNT, thresholded_relu},
    {TCC_OP_HARD_SIGMOID, FLT, TCC_KOP_COUNT, hard_sigmoid},
    {TCC_OP_HARD_SWISH, FLT, TCC_KOP_COUNT, hard_swish},
    {TCC_OP_MISH, FLT, TCC_KOP_COUNT, mish},       {TCC_OP_GELU, FLT, TCC_KOP_COUNT, gelu},
    {TCC_OP_SHRINK, NUM, TCC_KOP_COUNT, shrink},
};

static tcc_status_t unary(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  size_t t = 0;
  while (unary_ops[t].op != node->op) t++;
  TCC_RETURN_IF_ERROR(check_dtype(node, in[0]->dtype, unary_ops[t].types));
  if (node->op == TCC_OP_GELU) {
    const char *mode = tcc_node_attr_string(node, "approximate", "none");
    if (strcmp(mode, "none") != 0 && strcmp(mode, "tanh") != 0)
      return tcc_compute_unsupported(node, "approximate='%s'", mode);
  }
  ew_t e;
  TCC_RETURN_IF_ERROR(begin(&e, k, node, in, out, 0));
  const tcc_kexpr_t *x = loadc(&e, 0);
  store(&e, 0, unary_ops[t].body ? unary_ops[t].body(&e, x) : kun(e.k, unary_ops[t].kop, x));
  return NULL;
}

/* Clip: min and max (inputs 1 and 2) are optional scalars. */
static tcc_status_t clip(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtype(node, in[0]->dtype, NUM));
  ew_t e;
  TCC_RETURN_IF_ERROR(begin(&e, k, node, in, out, 0));
  const tcc_kexpr_t *x = loadc(&e, 0);
  if (node->num_inputs > 1 && in[1]) x = kbin(e.k, TCC_KOP_MAX, x, load_scalar(&e, 1));
  if (node->num_inputs > 2 && in[2]) x = kbin(e.k, TCC_KOP_MIN, x, load_scalar(&e, 2));
  store(&e, 0, x);
  return NULL;
}

/* ---- binary --------------------------------------------------------------------------------------- */

typedef const tcc_kexpr_t *(*binary_body_t)(ew_t *e, const tcc_kexpr_t *a, const tcc_kexpr_t *b);

/* Mod with fmod=0: the result takes the divisor's sign (floor semantics). */
static const tcc_kexpr_t *mod(ew_t *e, const tcc_kexpr_t *a, const tcc_kexpr_t *b) {
  if (tcc_node_attr_int(e->node, "fmod", 0)) return kbin(e->k, TCC_KOP_FMOD, a, b);
  if (!tcc_dtype_is_float(e->ct)) return kbin(e->k, TCC_KOP_FLOORMOD, a, b);
  const tcc_kexpr_t *r = kbin(e->k, TCC_KOP_FMOD, a, b), *zero = c(e, 0);
  const tcc_kexpr_t *r_neg = kbin(e->k, TCC_KOP_LT, r, zero), *b_neg = kbin(e->k, TCC_KOP_LT, b, zero);
  const tcc_kexpr_t *signs_differ = kbin(e->k, TCC_KOP_NE, r_neg, b_neg);
  const tcc_kexpr_t *fix = kbin(e->k, TCC_KOP_AND, kbin(e->k, TCC_KOP_NE, r, zero), signs_differ);
  return ksel(e->k, fix, kadd(e->k, r, b), r);
}
static const tcc_kexpr_t *bit_shift(ew_t *e, const tcc_kexpr_t *a, const tcc_kexpr_t *b) {
  bool right = strcmp(tcc_node_attr_string(e->node, "direction", ""), "RIGHT") == 0;
  return kbin(e->k, right ? TCC_KOP_SHR : TCC_KOP_SHL, a, b);
}
static const tcc_kexpr_t *prelu(ew_t *e, const tcc_kexpr_t *x, const tcc_kexpr_t *slope) {
  return ksel(e->k, kbin(e->k, TCC_KOP_LT, x, c(e, 0)), kmul(e->k, slope, x), x);
}

static const struct {
  tcc_op_t op;
  unsigned types;
  tcc_kop_t kop;
  binary_body_t body;
} binary_ops[] = {
    {TCC_OP_ADD, NUM, TCC_KOP_ADD, NULL},
    {TCC_OP_SUB, NUM, TCC_KOP_SUB, NULL},
    {TCC_OP_MUL, NUM, TCC_KOP_MUL, NULL},
    {TCC_OP_DIV, NUM, TCC_KOP_DIV, NULL},
    {TCC_OP_MOD, NUM, TCC_KOP_COUNT, mod},
    {TCC_OP_BIT_SHIFT, INT, TCC_KOP_COUNT, bit_shift},
    {TCC_OP_BITWISE_AND, INT, TCC_KOP_AND, NULL},
    {TCC_OP_BITWISE_OR, INT, TCC_KOP_OR, NULL},
    {TCC_OP_BITWISE_XOR, INT, TCC_KOP_XOR, NULL},
    {TCC_OP_PRELU, NUM, TCC_KOP_COUNT, prelu},
    {TCC_OP_EQUAL, ANY, TCC_KOP_EQ, NULL},
    {TCC_OP_LESS, NUM, TCC_KOP_LT, NULL},
    {TCC_OP_GREATER, NUM, TCC_KOP_GT, NULL},
    {TCC_OP_LESS_OR_EQUAL, NUM, TCC_KOP_LE, NULL},
    {TCC_OP_GREATER_OR_EQUAL, NUM, TCC_KOP_GE, NULL},
    {TCC_OP_AND, BOOL, TCC_KOP_AND, NULL},
    {TCC_OP_OR, BOOL, TCC_KOP_OR, NULL},
    {TCC_OP_XOR, BOOL, TCC_KOP_XOR, NULL},
};

static tcc_status_t binary(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  size_t t = 0;
  while (binary_ops[t].op != node->op) t++;
  TCC_RETURN_IF_ERROR(check_dtype(node, in[0]->dtype, binary_ops[t].types));
  if (in[1]->dtype != in[0]->dtype) return tcc_compute_unsupported(node, "inputs of different element types");
  ew_t e;
  TCC_RETURN_IF_ERROR(begin(&e, k, node, in, out, 0));
  const tcc_kexpr_t *a = loadc(&e, 0), *b = loadc(&e, 1);
  store(&e, 0, binary_ops[t].body ? binary_ops[t].body(&e, a, b) : kbin(e.k, binary_ops[t].kop, a, b));
  return NULL;
}

/* Pow: the result has the base's type. An integer base with a float exponent computes in f64. */
static tcc_status_t power(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtype(node, in[0]->dtype, NUM));
  TCC_RETURN_IF_ERROR(check_dtype(node, in[1]->dtype, NUM));
  ew_t e;
  TCC_RETURN_IF_ERROR(begin(&e, k, node, in, out, 0));
  if (!tcc_dtype_is_float(e.ct) && tcc_dtype_is_float(in[1]->dtype)) e.ct = TCC_DTYPE_F64;
  store(&e, 0, kbin(e.k, TCC_KOP_POW, loadc(&e, 0), loadc(&e, 1)));
  return NULL;
}

/* Sum, Mean, Max, Min over any number of broadcasting inputs. */
static tcc_status_t variadic(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtype(node, in[0]->dtype, NUM));
  for (int i = 1; i < node->num_inputs; i++)
    if (!in[i] || in[i]->dtype != in[0]->dtype)
      return tcc_compute_unsupported(node, "inputs of different element types");
  tcc_kop_t op = node->op == TCC_OP_MAX ? TCC_KOP_MAX : node->op == TCC_OP_MIN ? TCC_KOP_MIN : TCC_KOP_ADD;
  ew_t e;
  TCC_RETURN_IF_ERROR(begin(&e, k, node, in, out, 0));
  const tcc_kexpr_t *acc = loadc(&e, 0);
  for (int i = 1; i < node->num_inputs; i++) acc = kbin(e.k, op, acc, loadc(&e, i));
  if (node->op == TCC_OP_MEAN) acc = kbin(e.k, TCC_KOP_DIV, acc, c(&e, node->num_inputs));
  store(&e, 0, acc);
  return NULL;
}

/* ---- selection, casts, copies --------------------------------------------------------------------- */

static tcc_status_t where(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtype(node, in[1]->dtype, ANY));
  ew_t e;
  TCC_RETURN_IF_ERROR(begin(&e, k, node, in, out, 1));
  store(&e, 0, ksel(e.k, load(&e, 0), load(&e, 1), load(&e, 2)));
  return NULL;
}

/* Cast and CastLike: the output's type says where to; `saturate` matters for float8 targets only. */
static tcc_status_t cast(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  tcc_dtype_t to_dt = out[0]->dtype;
  TCC_RETURN_IF_ERROR(check_dtype(node, in[0]->dtype, ANY));
  TCC_RETURN_IF_ERROR(check_dtype(node, to_dt, ANY));
  bool f8 = tcc_dtype_is_float(to_dt) && tcc_dtype_bits(to_dt) == 8;
  bool saturate = f8 && tcc_node_attr_int(node, "saturate", 1) != 0;
  ew_t e;
  TCC_RETURN_IF_ERROR(begin(&e, k, node, in, out, 0));
  const tcc_kexpr_t *x = load(&e, 0);
  store(&e, 0, x && x->dtype != to_dt ? tcc_k_cast(k, to_dt, x, saturate) : x);
  return NULL;
}

/* A constant bool input's value; false when it is not constant. */
static bool const_bool(const tcc_value_t *v, bool *value) {
  const int64_t *vals;
  int64_t n;
  if (!tcc_value_const_ints(v, &vals, &n) || n != 1) return false;
  *value = vals[0] != 0;
  return true;
}

/* Identity, and Dropout in inference: output = input; Dropout's optional mask is all true. */
static tcc_status_t copy(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtype(node, in[0]->dtype, ANY));
  if (node->op == TCC_OP_DROPOUT && node->num_inputs > 2 && node->inputs[2]) {
    bool training, zero_ratio = false;
    const tcc_value_t *ratio = node->num_inputs > 1 ? node->inputs[1] : NULL;
    if (ratio && ratio->constant && ratio->constant->numel == 1)
      zero_ratio = tcc_tensor_get_float(ratio->constant, 0) == 0;
    if (!const_bool(node->inputs[2], &training)) return tcc_compute_unsupported(node, "training_mode is not constant");
    if (training && !zero_ratio) return tcc_compute_unsupported(node, "training mode (random dropout)");
  }
  ew_t e;
  TCC_RETURN_IF_ERROR(begin(&e, k, node, in, out, 0));
  store(&e, 0, load(&e, 0));
  if (node->num_outputs > 1 && out[1]) store(&e, 1, kc(k, TCC_DTYPE_BOOL, 1));
  return NULL;
}

const tcc_compute_entry_t tcc_compute_elementwise_defs[] = {
    {TCC_OP_ABS, unary},         {TCC_OP_NEG, unary},          {TCC_OP_SQRT, unary},
    {TCC_OP_EXP, unary},         {TCC_OP_LOG, unary},          {TCC_OP_RECIPROCAL, unary},
    {TCC_OP_TANH, unary},        {TCC_OP_SIGMOID, unary},      {TCC_OP_RELU, unary},
    {TCC_OP_CEIL, unary},        {TCC_OP_FLOOR, unary},        {TCC_OP_ROUND, unary},
    {TCC_OP_SIGN, unary},        {TCC_OP_ERF, unary},          {TCC_OP_COS, unary},
    {TCC_OP_SIN, unary},         {TCC_OP_TAN, unary},          {TCC_OP_ACOS, unary},
    {TCC_OP_ASIN, unary},        {TCC_OP_ATAN, unary},         {TCC_OP_COSH, unary},
    {TCC_OP_SINH, unary},        {TCC_OP_ACOSH, unary},        {TCC_OP_ASINH, unary},
    {TCC_OP_ATANH, unary},       {TCC_OP_SOFTPLUS, unary},     {TCC_OP_SOFTSIGN, unary},
    {TCC_OP_ELU, unary},         {TCC_OP_SELU, unary},         {TCC_OP_CELU, unary},
    {TCC_OP_LEAKY_RELU, unary},  {TCC_OP_THRESHOLDED_RELU, unary}, {TCC_OP_HARD_SIGMOID, unary},
    {TCC_OP_HARD_SWISH, unary},  {TCC_OP_MISH, unary},         {TCC_OP_GELU, unary},
    {TCC_OP_SHRINK, unary},      {TCC_OP_BITWISE_NOT, unary},  {TCC_OP_NOT, unary},
    {TCC_OP_IS_NAN, unary},      {TCC_OP_IS_INF, unary},       {TCC_OP_CLIP, clip},
    {TCC_OP_ADD, binary},        {TCC_OP_SUB, binary},         {TCC_OP_MUL, binary},
    {TCC_OP_DIV, binary},        {TCC_OP_MOD, binary},         {TCC_OP_BIT_SHIFT, binary},
    {TCC_OP_BITWISE_AND, binary}, {TCC_OP_BITWISE_OR, binary}, {TCC_OP_BITWISE_XOR, binary},
    {TCC_OP_PRELU, binary},      {TCC_OP_EQUAL, binary},       {TCC_OP_LESS, binary},
    {TCC_OP_GREATER, binary},    {TCC_OP_LESS_OR_EQUAL, binary}, {TCC_OP_GREATER_OR_EQUAL, binary},
    {TCC_OP_AND, binary},        {TCC_OP_OR, binary},          {TCC_OP_XOR, binary},
    {TCC_OP_POW, power},         {TCC_OP_SUM, variadic},       {TCC_OP_MEAN, variadic},
    {TCC_OP_MAX, variadic},      {TCC_OP_MIN, variadic},       {TCC_OP_WHERE, where},
    {TCC_OP_CAST, cast},         {TCC_OP_CAST_LIKE, cast},     {TCC_OP_DROPOUT, copy},
    {TCC_OP_IDENTITY, copy},
    {TCC_OP_UNSUPPORTED, NULL},
};
