/* Shape and dtype inference of the elementwise, broadcasting, cast, reduction and quantization ops, with
 * known integer contents (shape data) carried through the arithmetic of shape subgraphs. */
#include <math.h>

#include "ir/infer.h"

#define MAX_CONTENTS 1024 /* longest constant read as contents */

/* ---- inputs and outputs --------------------------------------------------------------------------- */

static bool has_input(const tcc_node_t *node, int i) { return i < node->num_inputs && node->inputs[i]; }

/* Inputs 0..min-1 must be present and none from max on (max < 0: no limit). */
static tcc_status_t check_inputs(const tcc_node_t *node, int min, int max) {
  for (int i = 0; i < min; i++)
    if (!has_input(node, i)) return tcc_infer_error(node, "input %d is missing (expects at least %d)", i, min);
  if (max >= 0)
    for (int i = max; i < node->num_inputs; i++)
      if (node->inputs[i]) return tcc_infer_error(node, "expects at most %d inputs, got %d", max, node->num_inputs);
  return NULL;
}

/* Input i as a tensor type: absent inputs and unknown types read as a tensor of unknown dtype and rank. */
static tcc_status_t input_type(const tcc_node_t *node, int i, tcc_type_t *t) {
  *t = (tcc_type_t){TCC_TYPE_TENSOR, TCC_DTYPE_UNDEFINED, -1, NULL, NULL};
  if (!has_input(node, i)) return NULL;
  const tcc_type_t *vt = &node->inputs[i]->type;
  if (vt->kind == TCC_TYPE_TENSOR) {
    *t = *vt;
  } else if (vt->kind != TCC_TYPE_UNKNOWN) {
    char buf[128];
    tcc_type_format(vt, buf, sizeof buf);
    return tcc_infer_error(node, "input %d ('%s') must be a tensor, got %s", i, node->inputs[i]->name, buf);
  }
  return NULL;
}

static tcc_status_t same_dtype(const tcc_node_t *node, int i, const tcc_type_t *a, int j, const tcc_type_t *b) {
  if (a->dtype && b->dtype && a->dtype != b->dtype)
    return tcc_infer_error(node, "inputs %d and %d have different element types (%s, %s)", i, j,
                           tcc_dtype_name(a->dtype), tcc_dtype_name(b->dtype));
  return NULL;
}

static const tcc_dim_t **alloc_dims(tcc_module_t *m, int64_t n) {
  return tcc_module_alloc(m, (size_t)(n > 0 ? n : 1) * sizeof(const tcc_dim_t *));
}

/* Types output i (skipped when omitted) and forgets any contents it had. */
static tcc_status_t set_output(tcc_node_t *node, int i, tcc_dtype_t dtype, int rank, const tcc_dim_t *const *dims) {
  if (i >= node->num_outputs || !node->outputs[i]) return NULL;
  node->outputs[i]->shape_data_len = -1;
  return tcc_value_set_tensor(node->outputs[i], dtype, rank, rank > 0 ? dims : NULL);
}

static tcc_status_t set_output_like(tcc_node_t *node, int i, tcc_dtype_t dtype, const tcc_type_t *shape) {
  return set_output(node, i, dtype, shape->rank, shape->dims);
}

/* Broadcasts a and b into *out (which may alias either); rank -1 when either rank is unknown. */
static tcc_status_t broadcast2(const tcc_node_t *node, const tcc_type_t *a, const tcc_type_t *b, tcc_type_t *out) {
  tcc_type_t x = *a, y = *b;
  *out = (tcc_type_t){TCC_TYPE_TENSOR, x.dtype, -1, NULL, NULL};
  if (x.rank < 0 || y.rank < 0) return NULL;
  const tcc_dim_t **dims = alloc_dims(node->graph->module, x.rank > y.rank ? x.rank : y.rank);
  if (!dims) return tcc_status_oom();
  TCC_RETURN_IF_ERROR(tcc_infer_broadcast(node, x.rank, x.dims, y.rank, y.dims, dims, &out->rank));
  out->dims = dims;
  return NULL;
}

/* ---- known contents ------------------------------------------------------------------------------- */

typedef struct {
  int64_t len;
  const tcc_dim_t *const *d;
} contents_t;

/* Known contents of input i: its shape data, or a small integer or bool constant of rank <= 1 (float
 * constants too when `floats`, truncated toward zero as a cast to an integer does). */
static bool input_contents(const tcc_node_t *node, int i, bool floats, contents_t *c) {
  if (!has_input(node, i)) return false;
  const tcc_value_t *v = node->inputs[i];
  if (v->shape_data_len >= 0) {
    c->len = v->shape_data_len;
    c->d = v->shape_data;
    return true;
  }
  const tcc_tensor_t *t = v->constant;
  if (!t || t->rank > 1 || t->numel > MAX_CONTENTS) return false;
  bool is_float = tcc_dtype_is_float(t->dtype);
  if (!tcc_dtype_is_int(t->dtype) && t->dtype != TCC_DTYPE_BOOL && !(floats && is_float)) return false;
  tcc_module_t *m = node->graph->module;
  const tcc_dim_t **d = alloc_dims(m, t->numel);
  if (!d) return false;
  for (int64_t k = 0; k < t->numel; k++) {
    int64_t x;
    if (is_float) {
      double f = trunc(tcc_tensor_get_float(t, k));
      if (!(f >= -9.2e18 && f <= 9.2e18)) return false;
      x = (int64_t)f;
    } else {
      x = tcc_tensor_get_int(t, k);
    }
    d[k] = tcc_dim_const(m, x);
  }
  c->len = t->numel;
  c->d = d;
  return true;
}

/* Records the contents of output 0 when it is an integer or bool scalar, or 1-D of length len. */
static tcc_status_t set_contents(tcc_node_t *node, int64_t len, const tcc_dim_t *const *d) {
  if (node->num_outputs < 1 || !node->outputs[0]) return NULL;
  tcc_value_t *v = node->outputs[0];
  const tcc_type_t *t = &v->type;
  if (t->kind != TCC_TYPE_TENSOR || !(tcc_dtype_is_int(t->dtype) || t->dtype == TCC_DTYPE_BOOL)) return NULL;
  bool fits = t->rank == 0 ? len == 1
                           : t->rank == 1 && tcc_dim_is_const(t->dims[0]) && tcc_dim_value(t->dims[0]) == len;
  if (!fits) return NULL;
  for (int64_t k = 0; k < len; k++)
    if (!d[k] || d[k] == tcc_dim_invalid()) return NULL;
  return tcc_value_set_shape_data(v, len, d);
}

static bool contents_output_dtype(const tcc_node_t *node, bool allow_bool) {
  if (node->num_outputs < 1 || !node->outputs[0]) return false;
  tcc_dtype_t dt = node->outputs[0]->type.dtype;
  return dt == TCC_DTYPE_I64 || dt == TCC_DTYPE_I32 || (allow_bool && dt == TCC_DTYPE_BOOL);
}

/* The known range of sign(a - b) as [*lo, *hi] within [-1, 1]. Symbols are sizes, hence >= 0. */
static void sign_range(tcc_module_t *m, const tcc_dim_t *a, const tcc_dim_t *b, int *lo, int *hi) {
  *lo = -1, *hi = 1;
  const tcc_dim_t *diff = tcc_dim_sub(m, a, b);
  if (tcc_dim_is_const(diff)) {
    int64_t x = tcc_dim_value(diff);
    *lo = *hi = x > 0 ? 1 : x < 0 ? -1 : 0;
  } else if (tcc_dim_is_symbol(a) && tcc_dim_is_const(b) && tcc_dim_value(b) <= 0) {
    *lo = tcc_dim_value(b) < 0 ? 1 : 0; /* a - b >= -b */
  } else if (tcc_dim_is_const(a) && tcc_dim_is_symbol(b) && tcc_dim_value(a) <= 0) {
    *hi = tcc_dim_value(a) < 0 ? -1 : 0;
  }
}

/* ONNX integer Div truncates toward zero; a symbolic dividend is taken as >= 0, where floor == trunc. */
static const tcc_dim_t *div_dims(tcc_module_t *m, const tcc_dim_t *a, const tcc_dim_t *b) {
  if (!tcc_dim_is_const(b)) return tcc_dim_div_exact(m, a, b);
  int64_t y = tcc_dim_value(b);
  if (tcc_dim_is_const(a)) {
    int64_t x = tcc_dim_value(a);
    if (y == 0 || (x == INT64_MIN && y == -1)) return NULL;
    return tcc_dim_const(m, x / y);
  }
  return y > 0 ? tcc_dim_floordiv(m, a, y) : NULL;
}

static const tcc_dim_t *bool_dim(tcc_module_t *m, bool b) { return tcc_dim_const(m, b ? 1 : 0); }

/* op applied to one element of each operand; NULL when the result is not known. */
static const tcc_dim_t *combine(tcc_module_t *m, tcc_op_t op, const tcc_dim_t *a, const tcc_dim_t *b) {
  int lo, hi;
  switch (op) {
  case TCC_OP_ADD:
  case TCC_OP_SUM: return tcc_dim_add(m, a, b);
  case TCC_OP_SUB: return tcc_dim_sub(m, a, b);
  case TCC_OP_MUL: return tcc_dim_mul(m, a, b);
  case TCC_OP_DIV: return div_dims(m, a, b);
  case TCC_OP_AND:
  case TCC_OP_OR:
  case TCC_OP_XOR: {
    if (!tcc_dim_is_const(a) || !tcc_dim_is_const(b)) return NULL;
    bool x = tcc_dim_value(a) != 0, y = tcc_dim_value(b) != 0;
    return bool_dim(m, op == TCC_OP_AND ? x && y : op == TCC_OP_OR ? x || y : x != y);
  }
  default: break;
  }
  sign_range(m, a, b, &lo, &hi);
  switch (op) {
  case TCC_OP_EQUAL: return lo == 0 && hi == 0 ? bool_dim(m, true) : lo > 0 || hi < 0 ? bool_dim(m, false) : NULL;
  case TCC_OP_LESS: return hi < 0 ? bool_dim(m, true) : lo >= 0 ? bool_dim(m, false) : NULL;
  case TCC_OP_GREATER: return lo > 0 ? bool_dim(m, true) : hi <= 0 ? bool_dim(m, false) : NULL;
  case TCC_OP_LESS_OR_EQUAL: return hi <= 0 ? bool_dim(m, true) : lo > 0 ? bool_dim(m, false) : NULL;
  case TCC_OP_GREATER_OR_EQUAL: return lo >= 0 ? bool_dim(m, true) : hi < 0 ? bool_dim(m, false) : NULL;
  case TCC_OP_MAX: return lo >= 0 ? a : hi <= 0 ? b : NULL;
  case TCC_OP_MIN: return lo >= 0 ? b : hi <= 0 ? a : NULL;
  default: return NULL;
  }
}

static bool broadcast_len(int64_t a, int64_t b, int64_t *out) {
  if (a != b && a != 1 && b != 1) return false;
  *out = a == 1 ? b : a;
  return true;
}

static const tcc_dim_t *elem(const contents_t *c, int64_t k) { return c->d[c->len == 1 ? 0 : k]; }

/* Output 0's contents as the fold of op over inputs first..first+n-1, when all their contents are known. */
static tcc_status_t fold_contents(tcc_node_t *node, int first, int n, bool allow_bool) {
  if (!contents_output_dtype(node, allow_bool) || n < 1) return NULL;
  tcc_module_t *m = node->graph->module;
  contents_t acc;
  if (!input_contents(node, first, false, &acc)) return NULL;
  for (int i = first + 1; i < first + n; i++) {
    contents_t c;
    int64_t len;
    if (!input_contents(node, i, false, &c) || !broadcast_len(acc.len, c.len, &len)) return NULL;
    const tcc_dim_t **d = alloc_dims(m, len);
    if (!d) return tcc_status_oom();
    for (int64_t k = 0; k < len; k++)
      if (!(d[k] = combine(m, node->op, elem(&acc, k), elem(&c, k)))) return NULL;
    acc.len = len, acc.d = d;
  }
  return set_contents(node, acc.len, acc.d);
}

/* ---- unary ---------------------------------------------------------------------------------------- */

/* Neg, Abs and Not of known contents. */
static tcc_status_t unary_contents(tcc_node_t *node) {
  tcc_op_t op = node->op;
  if ((op != TCC_OP_NEG && op != TCC_OP_ABS && op != TCC_OP_NOT) || !contents_output_dtype(node, op == TCC_OP_NOT))
    return NULL;
  tcc_module_t *m = node->graph->module;
  contents_t c;
  if (!input_contents(node, 0, false, &c)) return NULL;
  const tcc_dim_t **d = alloc_dims(m, c.len);
  if (!d) return tcc_status_oom();
  for (int64_t k = 0; k < c.len; k++) {
    const tcc_dim_t *x = c.d[k];
    bool is_const = tcc_dim_is_const(x);
    int64_t v = is_const ? tcc_dim_value(x) : 0;
    if (op == TCC_OP_NEG) d[k] = tcc_dim_sub(m, tcc_dim_const(m, 0), x);
    else if (op == TCC_OP_NOT && is_const) d[k] = bool_dim(m, v == 0);
    else if (op == TCC_OP_ABS && is_const && v != INT64_MIN) d[k] = tcc_dim_const(m, v < 0 ? -v : v);
    else if (op == TCC_OP_ABS && tcc_dim_is_symbol(x)) d[k] = x;
    else return NULL;
  }
  return set_contents(node, c.len, d);
}

tcc_status_t tcc_infer_unary(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, -1));
  tcc_type_t x;
  TCC_RETURN_IF_ERROR(input_type(node, 0, &x));
  if (x.rank >= 0) {
    int axis;
    switch (node->op) {
    case TCC_OP_SOFTMAX:
    case TCC_OP_LOG_SOFTMAX:
    case TCC_OP_HARDMAX:
    case TCC_OP_LP_NORMALIZATION:
      TCC_RETURN_IF_ERROR(tcc_infer_axis(node, tcc_node_attr_int(node, "axis", -1), x.rank, &axis));
      break;
    default: break;
    }
  }
  TCC_RETURN_IF_ERROR(set_output_like(node, 0, x.dtype, &x));
  return unary_contents(node);
}

tcc_status_t tcc_infer_unary_to_bool(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 1));
  tcc_type_t x;
  TCC_RETURN_IF_ERROR(input_type(node, 0, &x));
  return set_output_like(node, 0, TCC_DTYPE_BOOL, &x);
}

/* ---- broadcasting --------------------------------------------------------------------------------- */

/* PRelu: slope broadcasts to X in one direction, the result has X's shape. */
static tcc_status_t prelu(tcc_node_t *node, const tcc_type_t *x, const tcc_type_t *slope) {
  if (x->rank >= 0 && slope->rank >= 0) {
    if (slope->rank > x->rank)
      return tcc_infer_error(node, "slope of rank %d does not broadcast to X of rank %d", slope->rank, x->rank);
    for (int i = 0; i < slope->rank; i++) {
      const tcc_dim_t *s = slope->dims[i], *d = x->dims[x->rank - slope->rank + i];
      if (s != d && tcc_dim_is_const(s) && tcc_dim_value(s) != 1 && tcc_dim_is_const(d))
        return tcc_infer_error(node, "slope dimension %lld does not broadcast to X dimension %lld (axis %d)",
                               (long long)tcc_dim_value(s), (long long)tcc_dim_value(d), x->rank - slope->rank + i);
    }
  }
  return set_output_like(node, 0, x->dtype, x);
}

tcc_status_t tcc_infer_binary(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 2, 2));
  tcc_type_t a, b, out;
  TCC_RETURN_IF_ERROR(input_type(node, 0, &a));
  TCC_RETURN_IF_ERROR(input_type(node, 1, &b));
  if (node->op != TCC_OP_POW) {
    TCC_RETURN_IF_ERROR(same_dtype(node, 0, &a, 1, &b));
    if (!a.dtype) a.dtype = b.dtype;
  }
  if (node->op == TCC_OP_PRELU) return prelu(node, &a, &b);
  TCC_RETURN_IF_ERROR(broadcast2(node, &a, &b, &out));
  TCC_RETURN_IF_ERROR(set_output_like(node, 0, a.dtype, &out));
  switch (node->op) {
  case TCC_OP_ADD:
  case TCC_OP_SUB:
  case TCC_OP_MUL:
  case TCC_OP_DIV: return fold_contents(node, 0, 2, false);
  default: return NULL;
  }
}

tcc_status_t tcc_infer_compare(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 2, 2));
  tcc_type_t a, b, out;
  TCC_RETURN_IF_ERROR(input_type(node, 0, &a));
  TCC_RETURN_IF_ERROR(input_type(node, 1, &b));
  TCC_RETURN_IF_ERROR(same_dtype(node, 0, &a, 1, &b));
  TCC_RETURN_IF_ERROR(broadcast2(node, &a, &b, &out));
  TCC_RETURN_IF_ERROR(set_output_like(node, 0, TCC_DTYPE_BOOL, &out));
  return fold_contents(node, 0, 2, true);
}

tcc_status_t tcc_infer_variadic(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, node->num_inputs > 1 ? node->num_inputs : 1, -1));
  tcc_type_t out;
  TCC_RETURN_IF_ERROR(input_type(node, 0, &out));
  for (int i = 1; i < node->num_inputs; i++) {
    tcc_type_t t;
    TCC_RETURN_IF_ERROR(input_type(node, i, &t));
    TCC_RETURN_IF_ERROR(same_dtype(node, 0, &out, i, &t));
    tcc_dtype_t dtype = out.dtype ? out.dtype : t.dtype;
    TCC_RETURN_IF_ERROR(broadcast2(node, &out, &t, &out));
    out.dtype = dtype;
  }
  TCC_RETURN_IF_ERROR(set_output_like(node, 0, out.dtype, &out));
  if (node->op == TCC_OP_MEAN) return NULL;
  return fold_contents(node, 0, node->num_inputs, false);
}

static tcc_status_t where_contents(tcc_node_t *node) {
  if (!contents_output_dtype(node, true)) return NULL;
  contents_t c, x, y;
  int64_t len;
  if (!input_contents(node, 0, false, &c) || !input_contents(node, 1, false, &x) ||
      !input_contents(node, 2, false, &y) || !broadcast_len(c.len, x.len, &len) || !broadcast_len(len, y.len, &len))
    return NULL;
  const tcc_dim_t **d = alloc_dims(node->graph->module, len);
  if (!d) return tcc_status_oom();
  for (int64_t k = 0; k < len; k++) {
    const tcc_dim_t *cond = elem(&c, k);
    if (!tcc_dim_is_const(cond)) return NULL;
    d[k] = tcc_dim_value(cond) ? elem(&x, k) : elem(&y, k);
  }
  return set_contents(node, len, d);
}

tcc_status_t tcc_infer_where(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 3, 3));
  tcc_type_t c, x, y, out;
  TCC_RETURN_IF_ERROR(input_type(node, 0, &c));
  TCC_RETURN_IF_ERROR(input_type(node, 1, &x));
  TCC_RETURN_IF_ERROR(input_type(node, 2, &y));
  if (c.dtype && c.dtype != TCC_DTYPE_BOOL)
    return tcc_infer_error(node, "condition must be bool, got %s", tcc_dtype_name(c.dtype));
  TCC_RETURN_IF_ERROR(same_dtype(node, 1, &x, 2, &y));
  tcc_dtype_t dtype = x.dtype ? x.dtype : y.dtype;
  TCC_RETURN_IF_ERROR(broadcast2(node, &c, &x, &out));
  TCC_RETURN_IF_ERROR(broadcast2(node, &out, &y, &out));
  TCC_RETURN_IF_ERROR(set_output_like(node, 0, dtype, &out));
  return where_contents(node);
}

/* ---- casts and dropout ---------------------------------------------------------------------------- */

static bool fits_dtype(int64_t x, tcc_dtype_t dt) {
  int bits = tcc_dtype_bits(dt);
  if (bits >= 64) return tcc_dtype_is_signed_int(dt) || x >= 0;
  if (tcc_dtype_is_signed_int(dt)) return x >= -(INT64_C(1) << (bits - 1)) && x < INT64_C(1) << (bits - 1);
  return x >= 0 && x < INT64_C(1) << bits;
}

/* Input 0's contents converted to `to`: symbolic sizes survive into integer types of 32 bits or more. */
static tcc_status_t cast_contents(tcc_node_t *node, tcc_dtype_t to) {
  bool to_bool = to == TCC_DTYPE_BOOL;
  if (!tcc_dtype_is_int(to) && !to_bool) return NULL;
  tcc_module_t *m = node->graph->module;
  contents_t c;
  if (!input_contents(node, 0, !to_bool, &c)) return NULL;
  const tcc_dim_t **d = alloc_dims(m, c.len);
  if (!d) return tcc_status_oom();
  for (int64_t k = 0; k < c.len; k++) {
    const tcc_dim_t *x = c.d[k];
    if (tcc_dim_is_const(x)) {
      int64_t v = tcc_dim_value(x);
      if (to_bool) x = bool_dim(m, v != 0);
      else if (!fits_dtype(v, to)) return NULL;
    } else if (to_bool || tcc_dtype_bits(to) < 32) {
      return NULL;
    }
    d[k] = x;
  }
  return set_contents(node, c.len, d);
}

tcc_status_t tcc_infer_cast(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 1));
  const tcc_attr_t *to = tcc_node_attr(node, "to");
  if (!to || to->kind != TCC_ATTR_INT) return tcc_infer_error(node, "missing integer attribute 'to'");
  if (to->i <= 0 || to->i > INT32_MAX || !tcc_dtype_is_valid((int)to->i))
    return tcc_infer_error(node, "attribute 'to' is not a known element type (%lld)", (long long)to->i);
  tcc_type_t x;
  TCC_RETURN_IF_ERROR(input_type(node, 0, &x));
  TCC_RETURN_IF_ERROR(set_output_like(node, 0, (tcc_dtype_t)to->i, &x));
  return cast_contents(node, (tcc_dtype_t)to->i);
}

tcc_status_t tcc_infer_cast_like(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 2, 2));
  tcc_type_t x, target;
  TCC_RETURN_IF_ERROR(input_type(node, 0, &x));
  TCC_RETURN_IF_ERROR(input_type(node, 1, &target));
  TCC_RETURN_IF_ERROR(set_output_like(node, 0, target.dtype, &x));
  return target.dtype ? cast_contents(node, target.dtype) : NULL;
}

tcc_status_t tcc_infer_dropout(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 3));
  tcc_type_t x;
  TCC_RETURN_IF_ERROR(input_type(node, 0, &x));
  TCC_RETURN_IF_ERROR(set_output_like(node, 0, x.dtype, &x));
  return set_output_like(node, 1, TCC_DTYPE_BOOL, &x);
}

/* ---- reductions ----------------------------------------------------------------------------------- */

/* Contents of a 1-D (or scalar) input reduced to one element. */
static tcc_status_t reduce_contents(tcc_node_t *node) {
  tcc_op_t op = node->op;
  if ((op != TCC_OP_REDUCE_SUM && op != TCC_OP_REDUCE_PROD && op != TCC_OP_REDUCE_MAX && op != TCC_OP_REDUCE_MIN) ||
      !contents_output_dtype(node, false))
    return NULL;
  tcc_module_t *m = node->graph->module;
  contents_t c;
  if (!input_contents(node, 0, false, &c)) return NULL;
  const tcc_dim_t *r;
  if (op == TCC_OP_REDUCE_PROD) {
    r = tcc_dim_product(m, c.d, c.len);
  } else if (op == TCC_OP_REDUCE_SUM) {
    r = tcc_dim_const(m, 0);
    for (int64_t k = 0; k < c.len; k++) r = tcc_dim_add(m, r, c.d[k]);
  } else {
    if (c.len == 0) return NULL;
    tcc_op_t pick = op == TCC_OP_REDUCE_MAX ? TCC_OP_MAX : TCC_OP_MIN;
    r = c.d[0];
    for (int64_t k = 1; k < c.len && r; k++) r = combine(m, pick, r, c.d[k]);
    if (!r) return NULL;
  }
  return set_contents(node, 1, &r);
}

/* Reads the axes input (or a legacy `axes` attribute). *known is false when the input is not constant. */
static void reduce_axes(const tcc_node_t *node, const int64_t **axes, int64_t *n, bool *known) {
  *axes = NULL, *n = 0, *known = true;
  if (!has_input(node, 1)) {
    tcc_node_attr_ints(node, "axes", axes, n);
    return;
  }
  const tcc_value_t *v = node->inputs[1];
  if (tcc_value_const_ints(v, axes, n)) return;
  const tcc_type_t *t = &v->type;
  bool empty = t->kind == TCC_TYPE_TENSOR && t->rank == 1 && tcc_dim_is_const(t->dims[0]) && !tcc_dim_value(t->dims[0]);
  *known = empty;
}

tcc_status_t tcc_infer_reduce(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 2));
  tcc_module_t *m = node->graph->module;
  tcc_type_t x;
  TCC_RETURN_IF_ERROR(input_type(node, 0, &x));
  bool keepdims = tcc_node_attr_int(node, "keepdims", 1) != 0;
  bool noop = tcc_node_attr_int(node, "noop_with_empty_axes", 0) != 0;
  const int64_t *axes;
  int64_t naxes;
  bool known;
  reduce_axes(node, &axes, &naxes, &known);
  if (known && naxes == 0 && noop) {
    TCC_RETURN_IF_ERROR(set_output_like(node, 0, x.dtype, &x));
    contents_t c;
    return input_contents(node, 0, false, &c) ? set_contents(node, c.len, c.d) : NULL;
  }
  bool all = known && naxes == 0;
  if (x.rank < 0) return set_output(node, 0, x.dtype, all && !keepdims ? 0 : -1, NULL);
  const tcc_dim_t **dims = alloc_dims(m, x.rank);
  bool *reduced = tcc_module_alloc(m, (size_t)(x.rank > 0 ? x.rank : 1));
  if (!dims || !reduced) return tcc_status_oom();
  if (!known) {
    if (!keepdims) return set_output(node, 0, x.dtype, -1, NULL);
    /* Which axes go is known only at run time: a dim stays what it is or becomes 1. */
    for (int i = 0; i < x.rank; i++) {
      bool one = tcc_dim_is_const(x.dims[i]) && tcc_dim_value(x.dims[i]) == 1;
      dims[i] = one ? x.dims[i] : tcc_dim_fresh(m);
    }
    return set_output(node, 0, x.dtype, x.rank, dims);
  }
  for (int i = 0; i < x.rank; i++) reduced[i] = all;
  for (int64_t k = 0; k < naxes; k++) {
    int a;
    TCC_RETURN_IF_ERROR(tcc_infer_axis(node, axes[k], x.rank, &a));
    if (reduced[a]) return tcc_infer_error(node, "axis %lld is repeated in axes", (long long)axes[k]);
    reduced[a] = true;
  }
  int rank = 0;
  for (int i = 0; i < x.rank; i++) {
    if (!reduced[i]) dims[rank++] = x.dims[i];
    else if (keepdims) dims[rank++] = tcc_dim_const(m, 1);
  }
  TCC_RETURN_IF_ERROR(set_output(node, 0, x.dtype, rank, dims));
  return x.rank <= 1 ? reduce_contents(node) : NULL;
}

tcc_status_t tcc_infer_arg_reduce(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 1));
  tcc_module_t *m = node->graph->module;
  tcc_type_t x;
  TCC_RETURN_IF_ERROR(input_type(node, 0, &x));
  if (x.rank < 0) return set_output(node, 0, TCC_DTYPE_I64, -1, NULL);
  bool keepdims = tcc_node_attr_int(node, "keepdims", 1) != 0;
  int axis;
  TCC_RETURN_IF_ERROR(tcc_infer_axis(node, tcc_node_attr_int(node, "axis", 0), x.rank, &axis));
  const tcc_dim_t **dims = alloc_dims(m, x.rank);
  if (!dims) return tcc_status_oom();
  int rank = 0;
  for (int i = 0; i < x.rank; i++) {
    if (i != axis) dims[rank++] = x.dims[i];
    else if (keepdims) dims[rank++] = tcc_dim_const(m, 1);
  }
  return set_output(node, 0, TCC_DTYPE_I64, rank, dims);
}

/* ---- quantization --------------------------------------------------------------------------------- */

static tcc_status_t output_dtype_attr(const tcc_node_t *node, tcc_dtype_t *out) {
  int64_t dt = tcc_node_attr_int(node, "output_dtype", 0);
  if (dt && (dt < 0 || dt > INT32_MAX || !tcc_dtype_is_valid((int)dt)))
    return tcc_infer_error(node, "attribute 'output_dtype' is not a known element type (%lld)", (long long)dt);
  *out = (tcc_dtype_t)dt;
  return NULL;
}

tcc_status_t tcc_infer_quantize_linear(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 2, 3));
  tcc_type_t x, zero_point;
  TCC_RETURN_IF_ERROR(input_type(node, 0, &x));
  TCC_RETURN_IF_ERROR(input_type(node, 2, &zero_point));
  tcc_dtype_t attr = TCC_DTYPE_UNDEFINED;
  TCC_RETURN_IF_ERROR(output_dtype_attr(node, &attr));
  if (attr && zero_point.dtype && attr != zero_point.dtype)
    return tcc_infer_error(node, "output_dtype %s differs from the zero point's element type %s", tcc_dtype_name(attr),
                           tcc_dtype_name(zero_point.dtype));
  tcc_dtype_t dtype = zero_point.dtype ? zero_point.dtype : attr ? attr : TCC_DTYPE_U8;
  return set_output_like(node, 0, dtype, &x);
}

tcc_status_t tcc_infer_dequantize_linear(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 2, 3));
  tcc_type_t x, scale;
  TCC_RETURN_IF_ERROR(input_type(node, 0, &x));
  TCC_RETURN_IF_ERROR(input_type(node, 1, &scale));
  tcc_dtype_t attr = TCC_DTYPE_UNDEFINED;
  TCC_RETURN_IF_ERROR(output_dtype_attr(node, &attr));
  return set_output_like(node, 0, attr ? attr : scale.dtype, &x);
}

tcc_status_t tcc_infer_dynamic_quantize_linear(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 1));
  tcc_type_t x;
  TCC_RETURN_IF_ERROR(input_type(node, 0, &x));
  TCC_RETURN_IF_ERROR(set_output_like(node, 0, TCC_DTYPE_U8, &x));
  TCC_RETURN_IF_ERROR(set_output(node, 1, TCC_DTYPE_F32, 0, NULL));
  return set_output(node, 2, TCC_DTYPE_U8, 0, NULL);
}
