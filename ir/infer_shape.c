/* Shape and dtype inference for shape manipulation, data movement, generators, sequences, optionals and
 * control flow (If, Loop, Scan, SequenceMap). Known integer contents (shape data) flow through Shape, Size,
 * Gather, Slice, Concat, (Un)Squeeze, Reshape and friends, so the shape subgraphs of dynamic exports
 * (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) keep their symbolic dims. */
#include <math.h>
#include <string.h>

#include "ir/infer.h"

/* MAX_DATA: longest integer constant read as shape data, and longest shape data computed from scratch. */
enum { MAX_DATA = 64, MAX_RANK = 4096, MAX_LOOP_PASSES = 4 };
/* Slice indices at or beyond +-BIG_INDEX mean "past the end" whatever the dim. */
#define BIG_INDEX ((int64_t)INT32_MAX)

static const tcc_type_t unknown_tensor = {TCC_TYPE_TENSOR, TCC_DTYPE_UNDEFINED, -1, NULL, NULL};

/* ---- helpers ---------------------------------------------------------------------------------------- */

static tcc_module_t *module_of(const tcc_node_t *node) { return node->graph->module; }

static tcc_value_t *in(const tcc_node_t *node, int i) { return i < node->num_inputs ? node->inputs[i] : NULL; }

static bool is_tensor(const tcc_value_t *v) { return v && v->type.kind == TCC_TYPE_TENSOR; }

static tcc_dtype_t dtype_of(const tcc_value_t *v) { return is_tensor(v) ? v->type.dtype : TCC_DTYPE_UNDEFINED; }

static const tcc_dim_t **new_dims(tcc_module_t *m, int64_t n) {
  return tcc_module_alloc(m, (size_t)(n > 0 ? n : 1) * sizeof(const tcc_dim_t *));
}

/* memcpy of n dims that tolerates n == 0 with NULL arrays (rank-0 types have no dims array). */
static void copy_dims(const tcc_dim_t **dst, const tcc_dim_t *const *src, int64_t n) {
  if (n > 0) memcpy(dst, src, (size_t)n * sizeof *dst);
}

static bool dim_is(const tcc_dim_t *d, int64_t v) { return tcc_dim_is_const(d) && tcc_dim_value(d) == v; }

static const char *dim_str(const tcc_dim_t *d, char *buf, size_t size) {
  tcc_dim_format(d, buf, size);
  return buf;
}

/* Checks the input count and that the first `required` inputs are present (max -1: variadic). */
static tcc_status_t check_inputs(const tcc_node_t *node, int required, int max) {
  if (node->num_inputs < required || (max >= 0 && node->num_inputs > max)) {
    if (max < 0) return tcc_infer_error(node, "expects at least %d inputs, got %d", required, node->num_inputs);
    if (max == required) return tcc_infer_error(node, "expects %d inputs, got %d", required, node->num_inputs);
    return tcc_infer_error(node, "expects %d to %d inputs, got %d", required, max, node->num_inputs);
  }
  for (int i = 0; i < required; i++)
    if (!node->inputs[i]) return tcc_infer_error(node, "required input %d is missing", i);
  return NULL;
}

static tcc_status_t check_rank(const tcc_node_t *node, int64_t rank) {
  if (rank > MAX_RANK)
    return tcc_infer_unsupported(node, "rank %lld is above the limit of %d", (long long)rank, MAX_RANK);
  return NULL;
}

static tcc_value_t *out(const tcc_node_t *node, int i) { return i < node->num_outputs ? node->outputs[i] : NULL; }

/* Types output i (forgetting any old shape data); an omitted output is skipped. */
static tcc_status_t set_out_type(tcc_node_t *node, int i, const tcc_type_t *type) {
  tcc_value_t *v = out(node, i);
  if (!v) return NULL;
  v->shape_data_len = -1;
  v->shape_data = NULL;
  return tcc_value_set_type(v, type ? type : &unknown_tensor);
}

static tcc_status_t set_out(tcc_node_t *node, int i, tcc_dtype_t dtype, int rank, const tcc_dim_t *const *dims) {
  tcc_type_t t = {TCC_TYPE_TENSOR, dtype, rank, rank > 0 ? dims : NULL, NULL};
  return set_out_type(node, i, &t);
}

static tcc_status_t set_out_wrapped(tcc_node_t *node, int i, tcc_type_kind_t kind, const tcc_type_t *elem) {
  tcc_type_t t = {kind, TCC_DTYPE_UNDEFINED, -1, NULL, elem};
  return set_out_type(node, i, &t);
}

static tcc_status_t set_out_data(tcc_node_t *node, int i, int64_t len, const tcc_dim_t *const *data) {
  static const tcc_dim_t *const none[1];
  tcc_value_t *v = out(node, i);
  return v && len >= 0 ? tcc_value_set_shape_data(v, len, len ? data : none) : NULL;
}

/* Contents of a small integer tensor of rank <= 1 as constant dims. */
static bool tensor_data(tcc_module_t *m, const tcc_tensor_t *t, const tcc_dim_t *const **data, int64_t *len) {
  if (!t || t->rank > 1 || t->numel > MAX_DATA || !tcc_dtype_is_int(t->dtype)) return false;
  const tcc_dim_t **d = new_dims(m, t->numel);
  if (!d) return false;
  for (int64_t i = 0; i < t->numel; i++) d[i] = tcc_dim_const(m, tcc_tensor_get_int(t, i));
  *data = d;
  *len = t->numel;
  return true;
}

/* Known contents of v as dims: its shape data, or those of a small integer constant. */
static bool known_data(tcc_module_t *m, const tcc_value_t *v, const tcc_dim_t *const **data, int64_t *len) {
  if (!v) return false;
  if (v->shape_data_len >= 0) {
    *data = v->shape_data;
    *len = v->shape_data_len;
    return true;
  }
  return tensor_data(m, v->constant, data, len);
}

/* Output i holds the same elements as v (Identity, Reshape, Squeeze ...). */
static tcc_status_t forward_data(tcc_node_t *node, int i, const tcc_value_t *v) {
  const tcc_dim_t *const *data;
  int64_t len;
  if (!out(node, i) || !known_data(module_of(node), v, &data, &len)) return NULL;
  const tcc_type_t *t = &out(node, i)->type;
  if (t->kind != TCC_TYPE_TENSOR || t->rank < 0 || t->rank > 1 || (t->rank == 1 && !dim_is(t->dims[0], len)) ||
      (t->rank == 0 && len != 1))
    return NULL;
  return set_out_data(node, i, len, data);
}

/* A one-element integer operand as a dim (constant or symbolic), float constants truncated when allowed;
 * NULL when unknown. */
static const tcc_dim_t *scalar_dim(tcc_module_t *m, const tcc_value_t *v, bool allow_float) {
  const tcc_dim_t *const *data;
  int64_t len;
  if (known_data(m, v, &data, &len) && len == 1) return data[0];
  if (allow_float && v && v->constant && v->constant->numel == 1 && tcc_dtype_is_float(v->constant->dtype)) {
    double f = tcc_tensor_get_float(v->constant, 0);
    if (f == f && fabs(f) < 9e18) return tcc_dim_const(m, (int64_t)f);
  }
  return NULL;
}

/* A shape operand (Reshape, Expand, ConstantOfShape): input `index`, or the "shape" attribute the importer
 * may fold it into. len -1: unknown; dims NULL: only the length is known. */
typedef struct {
  bool present;
  int64_t len;
  const tcc_dim_t *const *dims;
} shape_arg_t;

static tcc_status_t get_shape_arg(const tcc_node_t *node, int index, shape_arg_t *s) {
  tcc_module_t *m = module_of(node);
  const tcc_value_t *v = in(node, index);
  *s = (shape_arg_t){v != NULL, -1, NULL};
  if (!v) {
    const tcc_attr_t *a = tcc_node_attr(node, "shape");
    if (a && a->kind == TCC_ATTR_DIMS) {
      *s = (shape_arg_t){true, a->count, a->dims};
    } else if (a && a->kind == TCC_ATTR_INTS) {
      const tcc_dim_t **d = new_dims(m, a->count);
      if (!d) return tcc_status_oom();
      for (int64_t i = 0; i < a->count; i++) d[i] = tcc_dim_const(m, a->ints[i]);
      *s = (shape_arg_t){true, a->count, d};
    }
    return check_rank(node, s->len);
  }
  if (is_tensor(v) && v->type.rank >= 0 && v->type.rank != 1)
    return tcc_infer_error(node, "the shape input must be 1-D, got rank %d", v->type.rank);
  if (!known_data(m, v, &s->dims, &s->len)) {
    s->dims = NULL;
    if (is_tensor(v) && v->type.rank == 1 && tcc_dim_is_const(v->type.dims[0])) s->len = tcc_dim_value(v->type.dims[0]);
  }
  return check_rank(node, s->len);
}

static const tcc_dim_t **fresh_dims(tcc_module_t *m, int64_t n) {
  const tcc_dim_t **d = new_dims(m, n);
  if (d)
    for (int64_t i = 0; i < n; i++) d[i] = tcc_dim_fresh(m);
  return d;
}

/* Normalizes a list of axes against rank into `axes`, refusing duplicates. */
static tcc_status_t normalize_axes(const tcc_node_t *node, const int64_t *values, int64_t n, int rank, int *axes) {
  for (int64_t i = 0; i < n; i++) {
    TCC_RETURN_IF_ERROR(tcc_infer_axis(node, values[i], rank, &axes[i]));
    for (int64_t j = 0; j < i; j++)
      if (axes[j] == axes[i]) return tcc_infer_error(node, "axis %d appears more than once", axes[i]);
  }
  return NULL;
}

/* ---- identity and constants ------------------------------------------------------------------------- */

tcc_status_t tcc_infer_identity(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 1));
  const tcc_value_t *x = node->inputs[0];
  TCC_RETURN_IF_ERROR(set_out_type(node, 0, &x->type));
  return forward_data(node, 0, x);
}

static tcc_status_t set_out_tensor_value(tcc_node_t *node, int i, const tcc_tensor_t *t) {
  tcc_module_t *m = module_of(node);
  const tcc_dim_t **dims = new_dims(m, t->rank);
  if (!dims) return tcc_status_oom();
  for (int k = 0; k < t->rank; k++) dims[k] = tcc_dim_const(m, t->dims[k]);
  TCC_RETURN_IF_ERROR(set_out(node, i, t->dtype, t->rank, dims));
  const tcc_dim_t *const *data;
  int64_t len;
  return tensor_data(m, t, &data, &len) ? set_out_data(node, i, len, data) : NULL;
}

tcc_status_t tcc_infer_constant(tcc_node_t *node) {
  static const char *const names[] = {"value",     "sparse_value", "value_float",  "value_floats",
                                      "value_int", "value_ints",   "value_string", "value_strings"};
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 0, 0));
  const tcc_attr_t *a = NULL;
  int found = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const tcc_attr_t *b = tcc_node_attr(node, names[i]);
    if (b) a = b, found++;
  }
  if (found > 1) return tcc_infer_error(node, "expects exactly one value attribute, got %d", found);
  if (!a) {
    const tcc_value_t *y = out(node, 0);
    if (y && y->constant) return set_out_tensor_value(node, 0, y->constant);
    return tcc_infer_error(node, "missing the value attribute");
  }
  const tcc_dim_t *n = tcc_dim_const(m, a->count);
  switch (a->kind) {
    case TCC_ATTR_TENSOR:
      if (!a->t) return tcc_infer_error(node, "attribute '%s' holds no tensor", a->name);
      return set_out_tensor_value(node, 0, a->t);
    case TCC_ATTR_FLOAT: return set_out(node, 0, TCC_DTYPE_F32, 0, NULL);
    case TCC_ATTR_FLOATS: return set_out(node, 0, TCC_DTYPE_F32, 1, &n);
    case TCC_ATTR_STRING: return set_out(node, 0, TCC_DTYPE_STRING, 0, NULL);
    case TCC_ATTR_STRINGS: return set_out(node, 0, TCC_DTYPE_STRING, 1, &n);
    case TCC_ATTR_INT: {
      const tcc_dim_t *v = tcc_dim_const(m, a->i);
      TCC_RETURN_IF_ERROR(set_out(node, 0, TCC_DTYPE_I64, 0, NULL));
      return set_out_data(node, 0, 1, &v);
    }
    case TCC_ATTR_INTS: {
      TCC_RETURN_IF_ERROR(set_out(node, 0, TCC_DTYPE_I64, 1, &n));
      if (a->count > MAX_DATA) return NULL;
      const tcc_dim_t **d = new_dims(m, a->count);
      if (!d) return tcc_status_oom();
      for (int64_t i = 0; i < a->count; i++) d[i] = tcc_dim_const(m, a->ints[i]);
      return set_out_data(node, 0, a->count, d);
    }
    default:
      return tcc_infer_error(node, "attribute '%s' has unexpected kind %s", a->name, tcc_attr_kind_name(a->kind));
  }
}

tcc_status_t tcc_infer_constant_of_shape(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 0, 1));
  tcc_dtype_t dt = TCC_DTYPE_F32;
  const tcc_attr_t *va = tcc_node_attr(node, "value");
  if (va && va->kind == TCC_ATTR_TENSOR && va->t) {
    if (va->t->numel != 1)
      return tcc_infer_error(node, "value must hold exactly one element, got %lld", (long long)va->t->numel);
    dt = va->t->dtype;
  }
  shape_arg_t s;
  TCC_RETURN_IF_ERROR(get_shape_arg(node, 0, &s));
  if (!s.present) return tcc_infer_error(node, "missing the shape input");
  if (s.len < 0) return set_out(node, 0, dt, -1, NULL);
  if (!s.dims) {
    const tcc_dim_t **d = fresh_dims(m, s.len);
    return d ? set_out(node, 0, dt, (int)s.len, d) : tcc_status_oom();
  }
  for (int64_t i = 0; i < s.len; i++)
    if (tcc_dim_is_const(s.dims[i]) && tcc_dim_value(s.dims[i]) < 0)
      return tcc_infer_error(node, "negative dimension %lld in the shape", (long long)tcc_dim_value(s.dims[i]));
  TCC_RETURN_IF_ERROR(set_out(node, 0, dt, (int)s.len, s.dims));
  /* small integer fills (e.g. the ones of PyTorch's Expand shape computations) are known contents */
  int64_t n = s.len == 0 ? 1 : s.len == 1 && tcc_dim_is_const(s.dims[0]) ? tcc_dim_value(s.dims[0]) : -1;
  if (!tcc_dtype_is_int(dt) || n < 0 || n > MAX_DATA) return NULL;
  const tcc_dim_t **d = new_dims(m, n);
  if (!d) return tcc_status_oom();
  const tcc_dim_t *fill = tcc_dim_const(m, va && va->t ? tcc_tensor_get_int(va->t, 0) : 0);
  for (int64_t i = 0; i < n; i++) d[i] = fill;
  return set_out_data(node, 0, n, d);
}

/* ---- Shape, Size ------------------------------------------------------------------------------------ */

tcc_status_t tcc_infer_shape(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 1));
  const tcc_value_t *x = tcc_infer_input(node, 0);
  if (!x) {
    const tcc_dim_t *n = tcc_dim_fresh(m);
    return set_out(node, 0, TCC_DTYPE_I64, 1, &n);
  }
  int64_t r = x->type.rank, start = tcc_node_attr_int(node, "start", 0), end = tcc_node_attr_int(node, "end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = start < 0 ? 0 : start > r ? r : start;
  end = end < 0 ? 0 : end > r ? r : end;
  int64_t len = end > start ? end - start : 0;
  const tcc_dim_t *n = tcc_dim_const(m, len);
  TCC_RETURN_IF_ERROR(set_out(node, 0, TCC_DTYPE_I64, 1, &n));
  return set_out_data(node, 0, len, len ? x->type.dims + start : NULL);
}

tcc_status_t tcc_infer_size(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 1));
  TCC_RETURN_IF_ERROR(set_out(node, 0, TCC_DTYPE_I64, 0, NULL));
  const tcc_value_t *x = tcc_infer_input(node, 0);
  if (!x) return NULL;
  const tcc_dim_t *n = tcc_type_numel(module_of(node), &x->type);
  return set_out_data(node, 0, 1, &n);
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze, Transpose ------------------------------------------------ */

tcc_status_t tcc_infer_reshape(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  char b1[64], b2[64];
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 2));
  const tcc_value_t *x = node->inputs[0];
  tcc_dtype_t dt = dtype_of(x);
  shape_arg_t s;
  TCC_RETURN_IF_ERROR(get_shape_arg(node, 1, &s));
  if (!s.present) return tcc_infer_error(node, "missing the target shape (input 1 or a 'shape' attribute)");
  if (s.len < 0) return set_out(node, 0, dt, -1, NULL);
  int rank = (int)s.len;
  if (!s.dims) {
    const tcc_dim_t **d = fresh_dims(m, rank);
    return d ? set_out(node, 0, dt, rank, d) : tcc_status_oom();
  }
  const tcc_dim_t **dims = new_dims(m, rank);
  if (!dims) return tcc_status_oom();
  bool allowzero = tcc_node_attr_int(node, "allowzero", 0) != 0;
  int in_rank = is_tensor(x) ? x->type.rank : -1, infer_at = -1;
  for (int i = 0; i < rank; i++) {
    const tcc_dim_t *d = s.dims[i];
    dims[i] = d;
    if (!tcc_dim_is_const(d)) continue;
    int64_t v = tcc_dim_value(d);
    if (v == -1) {
      if (infer_at >= 0) return tcc_infer_error(node, "the target shape has more than one -1");
      infer_at = i;
    } else if (v < -1) {
      return tcc_infer_error(node, "invalid target dimension %lld", (long long)v);
    } else if (v == 0 && !allowzero) {
      if (in_rank >= 0 && i >= in_rank)
        return tcc_infer_error(node, "target dimension %d is 0 (copy) but the input has rank %d", i, in_rank);
      dims[i] = in_rank >= 0 ? x->type.dims[i] : tcc_dim_fresh(m);
    }
  }
  const tcc_dim_t *numel = in_rank >= 0 ? tcc_type_numel(m, &x->type) : NULL;
  if (infer_at >= 0) {
    dims[infer_at] = tcc_dim_const(m, 1);
    const tcc_dim_t *rest = tcc_dim_product(m, dims, rank), *q = numel ? tcc_dim_div_exact(m, numel, rest) : NULL;
    if (numel && tcc_dim_is_const(numel) && tcc_dim_is_const(rest) && tcc_dim_value(rest) != 0 &&
        tcc_dim_value(numel) % tcc_dim_value(rest) != 0)
      return tcc_infer_error(node, "cannot reshape %s elements into a shape with -1 and %s other elements",
                             dim_str(numel, b1, sizeof b1), dim_str(rest, b2, sizeof b2));
    dims[infer_at] = q ? q : tcc_dim_fresh(m);
  } else if (numel) {
    const tcc_dim_t *total = tcc_dim_product(m, dims, rank);
    if (tcc_dim_is_const(numel) && tcc_dim_is_const(total) && numel != total)
      return tcc_infer_error(node, "cannot reshape %s elements into a shape of %s elements",
                             dim_str(numel, b1, sizeof b1), dim_str(total, b2, sizeof b2));
  }
  TCC_RETURN_IF_ERROR(set_out(node, 0, dt, rank, dims));
  return forward_data(node, 0, x);
}

tcc_status_t tcc_infer_flatten(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 1));
  const tcc_value_t *x = tcc_infer_input(node, 0);
  int64_t axis = tcc_node_attr_int(node, "axis", 1);
  const tcc_dim_t *dims[2];
  if (!x) {
    dims[0] = axis == 0 ? tcc_dim_const(m, 1) : tcc_dim_fresh(m);
    dims[1] = tcc_dim_fresh(m);
    return set_out(node, 0, dtype_of(node->inputs[0]), 2, dims);
  }
  int r = x->type.rank;
  if (axis < -r || axis > r) return tcc_infer_error(node, "axis %lld is out of range for rank %d", (long long)axis, r);
  if (axis < 0) axis += r;
  dims[0] = tcc_dim_product(m, x->type.dims, axis);
  dims[1] = tcc_dim_product(m, x->type.dims + axis, r - axis);
  return set_out(node, 0, x->type.dtype, 2, dims);
}

/* Squeeze by axes known only at run time: when their count is known, the rank is; and when exactly that many
 * dims are 1 (and none symbolic), they are the ones removed. */
static tcc_status_t squeeze_unknown_axes(tcc_node_t *node, const tcc_value_t *x, const tcc_value_t *axes_v) {
  tcc_module_t *m = module_of(node);
  int r = x->type.rank, ones = 0, symbolic = 0;
  if (!is_tensor(axes_v) || axes_v->type.rank != 1 || !tcc_dim_is_const(axes_v->type.dims[0]) ||
      tcc_dim_value(axes_v->type.dims[0]) < 0)
    return set_out(node, 0, x->type.dtype, -1, NULL);
  int64_t n = tcc_dim_value(axes_v->type.dims[0]);
  if (n > r) return tcc_infer_error(node, "squeezes %lld axes of a rank-%d input", (long long)n, r);
  for (int i = 0; i < r; i++) {
    ones += dim_is(x->type.dims[i], 1);
    symbolic += !tcc_dim_is_const(x->type.dims[i]);
  }
  const tcc_dim_t **dims = new_dims(m, r);
  if (!dims) return tcc_status_oom();
  int k = 0;
  for (int i = 0; i < r; i++)
    if (ones != n || symbolic || !dim_is(x->type.dims[i], 1)) dims[k++] = x->type.dims[i];
  if (k != r - n)
    for (k = 0; k < r - n; k++) dims[k] = tcc_dim_fresh(m);
  return set_out(node, 0, x->type.dtype, (int)(r - n), dims);
}

tcc_status_t tcc_infer_squeeze(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  char b[64];
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 2));
  const tcc_value_t *x = tcc_infer_input(node, 0), *axes_v = in(node, 1);
  tcc_dtype_t dt = dtype_of(node->inputs[0]);
  const int64_t *axes = NULL;
  int64_t n = 0;
  if (!x) return set_out(node, 0, dt, -1, NULL);
  if (axes_v && !tcc_value_const_ints(axes_v, &axes, &n)) return squeeze_unknown_axes(node, x, axes_v);
  int r = x->type.rank, k = 0;
  bool *drop = tcc_module_alloc(m, (size_t)r + 1);
  const tcc_dim_t **dims = new_dims(m, r);
  int *ax = tcc_module_alloc(m, (size_t)(n + 1) * sizeof *ax);
  if (!drop || !dims || !ax) return tcc_status_oom();
  TCC_RETURN_IF_ERROR(normalize_axes(node, axes, n, r, ax));
  for (int64_t i = 0; i < n; i++) {
    const tcc_dim_t *d = x->type.dims[ax[i]];
    if (tcc_dim_is_const(d) && tcc_dim_value(d) != 1)
      return tcc_infer_error(node, "cannot squeeze axis %d of size %s", ax[i], dim_str(d, b, sizeof b));
    drop[ax[i]] = true;
  }
  if (!axes_v)
    for (int i = 0; i < r; i++) drop[i] = dim_is(x->type.dims[i], 1); /* symbolic dims are assumed not 1 */
  for (int i = 0; i < r; i++)
    if (!drop[i]) dims[k++] = x->type.dims[i];
  TCC_RETURN_IF_ERROR(set_out(node, 0, dt, k, dims));
  return forward_data(node, 0, node->inputs[0]);
}

tcc_status_t tcc_infer_unsqueeze(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 2, 2));
  const tcc_value_t *x = tcc_infer_input(node, 0), *axes_v = node->inputs[1];
  tcc_dtype_t dt = dtype_of(node->inputs[0]);
  const int64_t *axes;
  int64_t n;
  if (!tcc_value_const_ints(axes_v, &axes, &n)) {
    if (!x || !is_tensor(axes_v) || axes_v->type.rank != 1 || !tcc_dim_is_const(axes_v->type.dims[0]) ||
        tcc_dim_value(axes_v->type.dims[0]) < 0)
      return set_out(node, 0, dt, -1, NULL);
    int64_t r = x->type.rank + tcc_dim_value(axes_v->type.dims[0]);
    TCC_RETURN_IF_ERROR(check_rank(node, r));
    const tcc_dim_t **d = fresh_dims(m, r);
    return d ? set_out(node, 0, dt, (int)r, d) : tcc_status_oom();
  }
  if (!x) return set_out(node, 0, dt, -1, NULL);
  TCC_RETURN_IF_ERROR(check_rank(node, x->type.rank + n));
  int r = x->type.rank + (int)n;
  int *ax = tcc_module_alloc(m, (size_t)(n + 1) * sizeof *ax);
  bool *added = tcc_module_alloc(m, (size_t)r + 1);
  const tcc_dim_t **dims = new_dims(m, r);
  if (!ax || !added || !dims) return tcc_status_oom();
  TCC_RETURN_IF_ERROR(normalize_axes(node, axes, n, r, ax));
  for (int64_t i = 0; i < n; i++) added[ax[i]] = true;
  for (int i = 0, j = 0; i < r; i++) dims[i] = added[i] ? tcc_dim_const(m, 1) : x->type.dims[j++];
  TCC_RETURN_IF_ERROR(set_out(node, 0, dt, r, dims));
  return forward_data(node, 0, node->inputs[0]);
}

tcc_status_t tcc_infer_transpose(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 1));
  const tcc_value_t *x = tcc_infer_input(node, 0);
  tcc_dtype_t dt = dtype_of(node->inputs[0]);
  const int64_t *perm;
  int64_t n;
  bool has_perm = tcc_node_attr_ints(node, "perm", &perm, &n);
  if (!x) {
    if (!has_perm) return set_out(node, 0, dt, -1, NULL);
    TCC_RETURN_IF_ERROR(check_rank(node, n));
    const tcc_dim_t **d = fresh_dims(m, n);
    return d ? set_out(node, 0, dt, (int)n, d) : tcc_status_oom();
  }
  int r = x->type.rank;
  if (has_perm && n != r) return tcc_infer_error(node, "perm has %lld entries for rank %d", (long long)n, r);
  const tcc_dim_t **dims = new_dims(m, r);
  bool *seen = tcc_module_alloc(m, (size_t)r + 1);
  if (!dims || !seen) return tcc_status_oom();
  for (int i = 0; i < r; i++) {
    int64_t p = has_perm ? perm[i] : r - 1 - i;
    if (p < 0 || p >= r || seen[p]) return tcc_infer_error(node, "perm is not a permutation of 0..%d", r - 1);
    seen[p] = true;
    dims[i] = x->type.dims[p];
  }
  return set_out(node, 0, dt, r, dims);
}

/* ---- Concat, Split, Slice --------------------------------------------------------------------------- */

/* Unifies dim *a with b where both must be equal: constants win over symbols; two constants must agree. */
static tcc_status_t unify_dim(const tcc_node_t *node, const tcc_dim_t **a, const tcc_dim_t *b, int axis, int input) {
  char b1[64], b2[64];
  if (*a == b) return NULL;
  if (tcc_dim_is_const(*a) && tcc_dim_is_const(b))
    return tcc_infer_error(node, "dimension %d of input %d is %s, expected %s", axis, input, dim_str(b, b1, sizeof b1),
                           dim_str(*a, b2, sizeof b2));
  if (tcc_dim_is_const(b)) *a = b;
  return NULL;
}

tcc_status_t tcc_infer_concat(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, -1));
  const tcc_attr_t *axis_attr = tcc_node_attr(node, "axis");
  if (!axis_attr || axis_attr->kind != TCC_ATTR_INT) return tcc_infer_error(node, "missing the 'axis' attribute");
  const tcc_value_t *first = NULL;
  tcc_dtype_t dt = TCC_DTYPE_UNDEFINED;
  for (int i = 0; i < node->num_inputs; i++) {
    const tcc_value_t *v = node->inputs[i];
    if (!v) return tcc_infer_error(node, "input %d is missing", i);
    tcc_dtype_t vdt = dtype_of(v);
    if (dt != TCC_DTYPE_UNDEFINED && vdt != TCC_DTYPE_UNDEFINED && vdt != dt)
      return tcc_infer_error(node, "input %d has dtype %s, expected %s", i, tcc_dtype_name(vdt), tcc_dtype_name(dt));
    if (vdt != TCC_DTYPE_UNDEFINED) dt = vdt;
    if (!first && tcc_infer_input(node, i)) first = v;
  }
  if (!first) return set_out(node, 0, dt, -1, NULL);
  int r = first->type.rank, axis;
  TCC_RETURN_IF_ERROR(tcc_infer_axis(node, axis_attr->i, r, &axis));
  const tcc_dim_t **dims = new_dims(m, r);
  if (!dims) return tcc_status_oom();
  copy_dims(dims, first->type.dims, r);
  const tcc_dim_t *total = tcc_dim_const(m, 0);
  for (int i = 0; i < node->num_inputs; i++) {
    const tcc_value_t *v = tcc_infer_input(node, i);
    if (!v) {
      total = NULL;
      continue;
    }
    if (v->type.rank != r) return tcc_infer_error(node, "input %d has rank %d, expected %d", i, v->type.rank, r);
    for (int j = 0; j < r; j++)
      if (j != axis) TCC_RETURN_IF_ERROR(unify_dim(node, &dims[j], v->type.dims[j], j, i));
    if (total) total = tcc_dim_add(m, total, v->type.dims[axis]);
  }
  dims[axis] = total ? total : tcc_dim_fresh(m);
  TCC_RETURN_IF_ERROR(set_out(node, 0, dt, r, dims));
  if (r != 1) return NULL;
  /* shape data: the concatenation of the inputs' contents when all are known */
  int64_t len = 0;
  for (int i = 0; i < node->num_inputs; i++) {
    const tcc_dim_t *const *part;
    int64_t n;
    if (!known_data(m, node->inputs[i], &part, &n)) return NULL;
    len += n;
  }
  const tcc_dim_t **data = new_dims(m, len);
  if (!data) return tcc_status_oom();
  for (int i = 0, k = 0; i < node->num_inputs; i++) {
    const tcc_dim_t *const *part;
    int64_t n;
    if (!known_data(m, node->inputs[i], &part, &n)) return NULL;
    copy_dims(data + k, part, n);
    k += (int)n;
  }
  return dim_is(dims[0], len) ? set_out_data(node, 0, len, data) : NULL;
}

tcc_status_t tcc_infer_split(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  char b1[64];
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 2));
  const tcc_value_t *x = tcc_infer_input(node, 0), *split_v = in(node, 1);
  tcc_dtype_t dt = dtype_of(node->inputs[0]);
  int n = node->num_outputs;
  const tcc_attr_t *num_attr = tcc_node_attr(node, "num_outputs");
  if (num_attr && split_v) return tcc_infer_error(node, "the split input and the num_outputs attribute are exclusive");
  if (num_attr && num_attr->i != n)
    return tcc_infer_error(node, "num_outputs is %lld but the node has %d outputs", (long long)num_attr->i, n);
  if (n < 1) return tcc_infer_error(node, "expects at least one output");
  if (!x) {
    for (int i = 0; i < n; i++) TCC_RETURN_IF_ERROR(set_out(node, i, dt, -1, NULL));
    return NULL;
  }
  int r = x->type.rank, axis;
  TCC_RETURN_IF_ERROR(tcc_infer_axis(node, tcc_node_attr_int(node, "axis", 0), r, &axis));
  const tcc_dim_t *d = x->type.dims[axis];
  const tcc_dim_t **sizes = new_dims(m, n);
  if (!sizes) return tcc_status_oom();
  const tcc_dim_t *const *split;
  int64_t count;
  if (split_v && known_data(m, split_v, &split, &count)) {
    if (count != n) return tcc_infer_error(node, "split has %lld entries for %d outputs", (long long)count, n);
    for (int i = 0; i < n; i++) {
      if (tcc_dim_is_const(split[i]) && tcc_dim_value(split[i]) < 0)
        return tcc_infer_error(node, "negative split size %lld", (long long)tcc_dim_value(split[i]));
      sizes[i] = split[i];
    }
    const tcc_dim_t *sum = tcc_dim_const(m, 0);
    for (int i = 0; i < n; i++) sum = tcc_dim_add(m, sum, split[i]);
    if (tcc_dim_is_const(sum) && tcc_dim_is_const(d) && sum != d)
      return tcc_infer_error(node, "split sizes sum to %lld but axis %d has size %s", (long long)tcc_dim_value(sum),
                             axis, dim_str(d, b1, sizeof b1));
  } else if (split_v) {
    for (int i = 0; i < n; i++) sizes[i] = tcc_dim_fresh(m);
  } else if (tcc_dim_is_const(d)) {
    int64_t v = tcc_dim_value(d), chunk = num_attr ? (v + n - 1) / n : v / n, last = v - chunk * (n - 1);
    if ((!num_attr && v % n != 0) || last < 0)
      return tcc_infer_error(node, "cannot split axis %d of size %lld into %d outputs", axis, (long long)v, n);
    for (int i = 0; i < n; i++) sizes[i] = tcc_dim_const(m, i == n - 1 ? last : chunk);
  } else {
    const tcc_dim_t *chunk = tcc_dim_div_exact(m, d, tcc_dim_const(m, n));
    if (!chunk) chunk = num_attr ? tcc_dim_ceildiv(m, d, n) : tcc_dim_floordiv(m, d, n);
    for (int i = 0; i < n; i++) sizes[i] = chunk;
    sizes[n - 1] = tcc_dim_sub(m, d, tcc_dim_mul(m, chunk, tcc_dim_const(m, n - 1)));
  }
  const tcc_dim_t **dims = new_dims(m, r);
  if (!dims) return tcc_status_oom();
  copy_dims(dims, x->type.dims, r);
  const tcc_dim_t *const *data;
  int64_t len, offset = 0;
  bool has_data = r == 1 && known_data(m, x, &data, &len) && dim_is(d, len);
  for (int i = 0; i < n; i++) {
    dims[axis] = sizes[i];
    TCC_RETURN_IF_ERROR(set_out(node, i, dt, r, dims));
    if (!has_data || !tcc_dim_is_const(sizes[i])) {
      has_data = false;
      continue;
    }
    TCC_RETURN_IF_ERROR(set_out_data(node, i, tcc_dim_value(sizes[i]), data + offset));
    offset += tcc_dim_value(sizes[i]);
  }
  return NULL;
}

/* A Slice start or end against dim d after ONNX's clamping; NULL when unknown. Symbolic indices and constant
 * negative indices on symbolic dims are assumed in range (x[:-1] has d - 1 elements, x[1:] d - 1). */
static const tcc_dim_t *slice_bound(tcc_module_t *m, const tcc_dim_t *d, const tcc_dim_t *x, bool forward,
                                    bool is_end) {
  int64_t lo = forward || !is_end ? 0 : -1; /* a backward end may stop before the first element */
  if (!tcc_dim_is_const(x)) return x;
  int64_t v = tcc_dim_value(x);
  if (tcc_dim_is_const(d)) {
    int64_t n = tcc_dim_value(d), hi = forward ? n : n - 1;
    if (v < 0) v += n;
    return tcc_dim_const(m, v < lo ? lo : v > hi ? hi : v);
  }
  if (v >= BIG_INDEX) return forward ? d : tcc_dim_sub(m, d, tcc_dim_const(m, 1));
  if (v <= -BIG_INDEX) return tcc_dim_const(m, lo);
  if (v < 0) return tcc_dim_add(m, d, x);
  if (v == 0 || forward != is_end) return x; /* forward starts and backward ends */
  return NULL;                               /* min(v, d): unknown */
}

static const tcc_dim_t *slice_dim(tcc_module_t *m, const tcc_dim_t *d, const tcc_dim_t *start, const tcc_dim_t *end,
                                  int64_t step) {
  bool forward = step > 0;
  const tcc_dim_t *lo = slice_bound(m, d, start, forward, false), *hi = slice_bound(m, d, end, forward, true);
  if (!lo || !hi) return tcc_dim_fresh(m);
  const tcc_dim_t *span = forward ? tcc_dim_sub(m, hi, lo) : tcc_dim_sub(m, lo, hi);
  int64_t mag = forward ? step : step == INT64_MIN ? INT64_MAX : -step;
  if (tcc_dim_is_const(span)) {
    int64_t s = tcc_dim_value(span);
    return tcc_dim_const(m, s <= 0 ? 0 : 1 + (s - 1) / mag);
  }
  return tcc_dim_ceildiv(m, span, mag);
}

tcc_status_t tcc_infer_slice(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 3, 5));
  const tcc_value_t *x = tcc_infer_input(node, 0), *axes_v = in(node, 3), *steps_v = in(node, 4);
  tcc_dtype_t dt = dtype_of(node->inputs[0]);
  if (!x) return set_out(node, 0, dt, -1, NULL);
  int r = x->type.rank;
  const tcc_dim_t **dims = new_dims(m, r);
  if (!dims) return tcc_status_oom();
  copy_dims(dims, x->type.dims, r);
  const tcc_dim_t *const *starts, *const *ends;
  const int64_t *axes = NULL, *steps = NULL;
  int64_t ns, ne, na = 0, nt = 0;
  bool axes_known = !axes_v || tcc_value_const_ints(axes_v, &axes, &na);
  bool known = known_data(m, node->inputs[1], &starts, &ns) && known_data(m, node->inputs[2], &ends, &ne) &&
               axes_known && (!steps_v || tcc_value_const_ints(steps_v, &steps, &nt));
  if (known && ns != ne)
    return tcc_infer_error(node, "starts has %lld entries but ends has %lld", (long long)ns, (long long)ne);
  if (known && axes_v && na != ns)
    return tcc_infer_error(node, "axes has %lld entries but starts has %lld", (long long)na, (long long)ns);
  if (known && steps_v && nt != ns)
    return tcc_infer_error(node, "steps has %lld entries but starts has %lld", (long long)nt, (long long)ns);
  int64_t n = known ? ns : axes_known && axes_v ? na : r;
  int *ax = tcc_module_alloc(m, (size_t)(n + 1) * sizeof *ax);
  if (!ax) return tcc_status_oom();
  if (axes) TCC_RETURN_IF_ERROR(normalize_axes(node, axes, n, r, ax));
  else if (n > r) return tcc_infer_error(node, "slices %lld axes of a rank-%d input", (long long)n, r);
  else
    for (int i = 0; i < n; i++) ax[i] = i;
  for (int64_t i = 0; i < n; i++) {
    if (!known) {
      dims[ax[i]] = tcc_dim_fresh(m);
      continue;
    }
    int64_t step = steps ? steps[i] : 1;
    if (step == 0) return tcc_infer_error(node, "step %lld is 0", (long long)i);
    dims[ax[i]] = slice_dim(m, x->type.dims[ax[i]], starts[i], ends[i], step);
  }
  TCC_RETURN_IF_ERROR(set_out(node, 0, dt, r, dims));
  /* shape data: a constant slice of known 1-D contents */
  const tcc_dim_t *const *data;
  int64_t len;
  if (!known || r != 1 || n != 1 || !known_data(m, x, &data, &len) || !dim_is(x->type.dims[0], len) ||
      !tcc_dim_is_const(dims[0]) || !tcc_dim_is_const(starts[0]))
    return NULL;
  int64_t step = steps ? steps[0] : 1, count = tcc_dim_value(dims[0]);
  int64_t first = tcc_dim_value(slice_bound(m, x->type.dims[0], starts[0], step > 0, false));
  const tcc_dim_t **sliced = new_dims(m, count);
  if (!sliced) return tcc_status_oom();
  for (int64_t i = 0; i < count; i++) sliced[i] = data[first + i * step];
  return set_out_data(node, 0, count, sliced);
}

/* ---- gathers and scatters --------------------------------------------------------------------------- */

static bool is_index_dtype(tcc_dtype_t dt) {
  return dt == TCC_DTYPE_UNDEFINED || dt == TCC_DTYPE_I32 || dt == TCC_DTYPE_I64;
}

tcc_status_t tcc_infer_gather(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  char b[64];
  TCC_RETURN_IF_ERROR(check_inputs(node, 2, 2));
  const tcc_value_t *x = tcc_infer_input(node, 0), *idx = tcc_infer_input(node, 1);
  tcc_dtype_t dt = dtype_of(node->inputs[0]);
  if (!is_index_dtype(dtype_of(node->inputs[1])))
    return tcc_infer_error(node, "indices must be i32 or i64, got %s", tcc_dtype_name(dtype_of(node->inputs[1])));
  int axis;
  if (x) TCC_RETURN_IF_ERROR(tcc_infer_axis(node, tcc_node_attr_int(node, "axis", 0), x->type.rank, &axis));
  if (!x || !idx) return set_out(node, 0, dt, -1, NULL);
  int r = x->type.rank, q = idx->type.rank, rank = r - 1 + q;
  const tcc_dim_t **dims = new_dims(m, rank);
  if (!dims) return tcc_status_oom();
  copy_dims(dims, x->type.dims, axis);
  copy_dims(dims + axis, idx->type.dims, q);
  copy_dims(dims + axis + q, x->type.dims + axis + 1, r - axis - 1);
  TCC_RETURN_IF_ERROR(set_out(node, 0, dt, rank, dims));
  /* shape data: constant indices into known 1-D contents */
  const tcc_dim_t *const *data;
  const int64_t *indices;
  int64_t len, count;
  if (r != 1 || q > 1 || !known_data(m, x, &data, &len) || !dim_is(x->type.dims[0], len) ||
      !tcc_value_const_ints(idx, &indices, &count))
    return NULL;
  const tcc_dim_t **picked = new_dims(m, count);
  if (!picked) return tcc_status_oom();
  for (int64_t i = 0; i < count; i++) {
    int64_t k = indices[i] < 0 ? indices[i] + len : indices[i];
    if (k < 0 || k >= len)
      return tcc_infer_error(node, "index %lld is out of range for a dimension of size %s", (long long)indices[i],
                             dim_str(x->type.dims[0], b, sizeof b));
    picked[i] = data[k];
  }
  return set_out_data(node, 0, count, picked);
}

tcc_status_t tcc_infer_gather_elements(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 2, 2));
  const tcc_value_t *x = tcc_infer_input(node, 0), *idx = tcc_infer_input(node, 1);
  tcc_dtype_t dt = dtype_of(node->inputs[0]);
  if (!is_index_dtype(dtype_of(node->inputs[1])))
    return tcc_infer_error(node, "indices must be i32 or i64, got %s", tcc_dtype_name(dtype_of(node->inputs[1])));
  int axis;
  if (x) TCC_RETURN_IF_ERROR(tcc_infer_axis(node, tcc_node_attr_int(node, "axis", 0), x->type.rank, &axis));
  if (x && idx && x->type.rank != idx->type.rank)
    return tcc_infer_error(node, "data has rank %d but indices rank %d", x->type.rank, idx->type.rank);
  if (!idx) return set_out(node, 0, dt, x ? x->type.rank : -1, NULL);
  return set_out(node, 0, dt, idx->type.rank, idx->type.dims);
}

tcc_status_t tcc_infer_gather_nd(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 2, 2));
  const tcc_value_t *x = tcc_infer_input(node, 0), *idx = tcc_infer_input(node, 1);
  tcc_dtype_t dt = dtype_of(node->inputs[0]);
  int64_t b = tcc_node_attr_int(node, "batch_dims", 0);
  if (!x || !idx) return set_out(node, 0, dt, -1, NULL);
  int r = x->type.rank, q = idx->type.rank;
  if (q < 1) return tcc_infer_error(node, "indices must have rank >= 1");
  if (b < 0 || b >= q || b >= r)
    return tcc_infer_error(node, "batch_dims %lld is out of range for ranks %d and %d", (long long)b, r, q);
  const tcc_dim_t *last = idx->type.dims[q - 1];
  if (!tcc_dim_is_const(last)) return set_out(node, 0, dt, -1, NULL);
  int64_t k = tcc_dim_value(last);
  if (k < 1 || k > r - b)
    return tcc_infer_error(node, "indices address %lld dims of a rank-%d input with %lld batch dims", (long long)k, r,
                           (long long)b);
  int rank = (int)(q - 1 + r - k - b);
  const tcc_dim_t **dims = new_dims(m, rank);
  if (!dims) return tcc_status_oom();
  copy_dims(dims, idx->type.dims, q - 1);
  copy_dims(dims + q - 1, x->type.dims + b + k, r - b - k);
  return set_out(node, 0, dt, rank, dims);
}

tcc_status_t tcc_infer_scatter(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 3, 3));
  const tcc_value_t *x = tcc_infer_input(node, 0), *idx = tcc_infer_input(node, 1), *upd = tcc_infer_input(node, 2);
  if (node->op == TCC_OP_SCATTER_ELEMENTS && x) {
    int axis;
    TCC_RETURN_IF_ERROR(tcc_infer_axis(node, tcc_node_attr_int(node, "axis", 0), x->type.rank, &axis));
    if (idx && idx->type.rank != x->type.rank)
      return tcc_infer_error(node, "data has rank %d but indices rank %d", x->type.rank, idx->type.rank);
  }
  if (node->op == TCC_OP_SCATTER_ELEMENTS && idx && upd && idx->type.rank != upd->type.rank)
    return tcc_infer_error(node, "indices have rank %d but updates rank %d", idx->type.rank, upd->type.rank);
  return set_out_type(node, 0, &node->inputs[0]->type);
}

/* ---- Expand, Tile, Pad, CenterCropPad --------------------------------------------------------------- */

tcc_status_t tcc_infer_expand(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 2));
  const tcc_value_t *x = tcc_infer_input(node, 0);
  tcc_dtype_t dt = dtype_of(node->inputs[0]);
  shape_arg_t s;
  TCC_RETURN_IF_ERROR(get_shape_arg(node, 1, &s));
  if (!s.present) return tcc_infer_error(node, "missing the shape input");
  if (!x || s.len < 0) return set_out(node, 0, dt, -1, NULL);
  int r = x->type.rank, rank = r > s.len ? r : (int)s.len;
  const tcc_dim_t **dims = new_dims(m, rank);
  if (!dims) return tcc_status_oom();
  if (s.dims) {
    TCC_RETURN_IF_ERROR(tcc_infer_broadcast(node, r, x->type.dims, (int)s.len, s.dims, dims, &rank));
  } else {
    /* only the shape's length is known: an input dim other than 1, or one the shape does not reach, stays */
    for (int i = 0; i < rank; i++) {
      int j = i - (rank - r);
      bool keep = j >= 0 && (!dim_is(x->type.dims[j], 1) || i < rank - s.len);
      dims[i] = keep ? x->type.dims[j] : tcc_dim_fresh(m);
    }
  }
  TCC_RETURN_IF_ERROR(set_out(node, 0, dt, rank, dims));
  const tcc_dim_t *const *data;
  int64_t len, n = rank == 0 ? 1 : rank == 1 && tcc_dim_is_const(dims[0]) ? tcc_dim_value(dims[0]) : -1;
  if (n < 0 || n > MAX_DATA || !known_data(m, node->inputs[0], &data, &len) || (len != 1 && len != n)) return NULL;
  const tcc_dim_t **d = new_dims(m, n);
  if (!d) return tcc_status_oom();
  for (int64_t i = 0; i < n; i++) d[i] = data[len == 1 ? 0 : i];
  return set_out_data(node, 0, n, d);
}

tcc_status_t tcc_infer_tile(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 2, 2));
  const tcc_value_t *x = tcc_infer_input(node, 0);
  tcc_dtype_t dt = dtype_of(node->inputs[0]);
  if (!x) return set_out(node, 0, dt, -1, NULL);
  int r = x->type.rank;
  const tcc_dim_t **dims = new_dims(m, r);
  if (!dims) return tcc_status_oom();
  const tcc_dim_t *const *reps;
  int64_t n;
  if (!known_data(m, node->inputs[1], &reps, &n)) {
    for (int i = 0; i < r; i++) dims[i] = dim_is(x->type.dims[i], 0) ? x->type.dims[i] : tcc_dim_fresh(m);
    return set_out(node, 0, dt, r, dims);
  }
  if (n != r) return tcc_infer_error(node, "repeats has %lld entries for rank %d", (long long)n, r);
  for (int i = 0; i < r; i++) {
    if (tcc_dim_is_const(reps[i]) && tcc_dim_value(reps[i]) < 0)
      return tcc_infer_error(node, "negative repeat count %lld", (long long)tcc_dim_value(reps[i]));
    dims[i] = tcc_dim_mul(m, x->type.dims[i], reps[i]);
  }
  TCC_RETURN_IF_ERROR(set_out(node, 0, dt, r, dims));
  const tcc_dim_t *const *data;
  int64_t len;
  if (r != 1 || !tcc_dim_is_const(dims[0]) || tcc_dim_value(dims[0]) > MAX_DATA || !known_data(m, x, &data, &len) ||
      !dim_is(x->type.dims[0], len))
    return NULL;
  int64_t count = tcc_dim_value(dims[0]);
  const tcc_dim_t **d = new_dims(m, count);
  if (!d) return tcc_status_oom();
  for (int64_t i = 0; i < count; i++) d[i] = data[i % len];
  return set_out_data(node, 0, count, d);
}

tcc_status_t tcc_infer_pad(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  char b[64];
  TCC_RETURN_IF_ERROR(check_inputs(node, 2, 4));
  const tcc_value_t *x = tcc_infer_input(node, 0), *axes_v = in(node, 3);
  tcc_dtype_t dt = dtype_of(node->inputs[0]);
  if (!x) return set_out(node, 0, dt, -1, NULL);
  int r = x->type.rank;
  const tcc_dim_t **dims = new_dims(m, r);
  int *ax = tcc_module_alloc(m, (size_t)(r + 1) * sizeof *ax);
  if (!dims || !ax) return tcc_status_oom();
  copy_dims(dims, x->type.dims, r);
  const int64_t *axes;
  int64_t na = r;
  if (axes_v && !tcc_value_const_ints(axes_v, &axes, &na)) {
    for (int i = 0; i < r; i++) dims[i] = tcc_dim_fresh(m);
    return set_out(node, 0, dt, r, dims);
  }
  if (axes_v) {
    if (na > r) return tcc_infer_error(node, "axes has %lld entries for rank %d", (long long)na, r);
    TCC_RETURN_IF_ERROR(normalize_axes(node, axes, na, r, ax));
  } else {
    for (int i = 0; i < r; i++) ax[i] = i;
  }
  const tcc_dim_t *const *pads;
  int64_t np;
  bool known = known_data(m, node->inputs[1], &pads, &np);
  if (known && np != 2 * na)
    return tcc_infer_error(node, "pads has %lld entries, expected %lld", (long long)np, (long long)(2 * na));
  for (int64_t i = 0; i < na; i++) {
    const tcc_dim_t *x_dim = x->type.dims[ax[i]];
    const tcc_dim_t *d = known ? tcc_dim_add(m, x_dim, tcc_dim_add(m, pads[i], pads[i + na])) : tcc_dim_fresh(m);
    if (tcc_dim_is_const(d) && tcc_dim_value(d) < 0)
      return tcc_infer_error(node, "padding makes axis %d of size %s negative", ax[i], dim_str(x_dim, b, sizeof b));
    dims[ax[i]] = d;
  }
  return set_out(node, 0, dt, r, dims);
}

tcc_status_t tcc_infer_center_crop_pad(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 2, 2));
  const tcc_value_t *x = tcc_infer_input(node, 0);
  tcc_dtype_t dt = dtype_of(node->inputs[0]);
  if (!x) return set_out(node, 0, dt, -1, NULL);
  int r = x->type.rank;
  const int64_t *axes;
  int64_t na = r;
  bool has_axes = tcc_node_attr_ints(node, "axes", &axes, &na);
  if (!has_axes) na = r;
  const tcc_dim_t **dims = new_dims(m, r);
  int *ax = tcc_module_alloc(m, (size_t)(na + 1) * sizeof *ax);
  if (!dims || !ax) return tcc_status_oom();
  copy_dims(dims, x->type.dims, r);
  if (has_axes) TCC_RETURN_IF_ERROR(normalize_axes(node, axes, na, r, ax));
  else
    for (int i = 0; i < r; i++) ax[i] = i;
  const tcc_dim_t *const *shape;
  int64_t ns;
  bool known = known_data(m, node->inputs[1], &shape, &ns);
  if (known && ns != na)
    return tcc_infer_error(node, "shape has %lld entries for %lld axes", (long long)ns, (long long)na);
  for (int64_t i = 0; i < na; i++) dims[ax[i]] = known ? shape[i] : tcc_dim_fresh(m);
  return set_out(node, 0, dt, r, dims);
}

/* ---- generators: Range, OneHot, Trilu, EyeLike, ReverseSequence, random ----------------------------- */

tcc_status_t tcc_infer_range(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 3, 3));
  tcc_dtype_t dt = TCC_DTYPE_UNDEFINED;
  for (int i = 0; i < 3; i++) {
    tcc_dtype_t d = dtype_of(node->inputs[i]);
    if (dt != TCC_DTYPE_UNDEFINED && d != TCC_DTYPE_UNDEFINED && d != dt)
      return tcc_infer_error(node, "input %d has dtype %s, expected %s", i, tcc_dtype_name(d), tcc_dtype_name(dt));
    if (d != TCC_DTYPE_UNDEFINED) dt = d;
  }
  const tcc_tensor_t *ts = node->inputs[0]->constant, *tl = node->inputs[1]->constant, *td = node->inputs[2]->constant;
  const tcc_dim_t *n = NULL;
  if (ts && tl && td && tcc_dtype_is_float(dt) && ts->numel == 1 && tl->numel == 1 && td->numel == 1) {
    double s = tcc_tensor_get_float(ts, 0), l = tcc_tensor_get_float(tl, 0), d = tcc_tensor_get_float(td, 0);
    if (d == 0) return tcc_infer_error(node, "delta is 0");
    double c = ceil((l - s) / d);
    n = c == c && c < 9e18 ? tcc_dim_const(m, c > 0 ? (int64_t)c : 0) : NULL;
  } else if (!tcc_dtype_is_float(dt)) {
    const tcc_dim_t *s = scalar_dim(m, node->inputs[0], false), *l = scalar_dim(m, node->inputs[1], false);
    const tcc_dim_t *d = scalar_dim(m, node->inputs[2], false);
    if (d && tcc_dim_is_const(d) && tcc_dim_value(d) == 0) return tcc_infer_error(node, "delta is 0");
    if (s && l && d && tcc_dim_is_const(d)) {
      int64_t dv = tcc_dim_value(d), mag = dv > 0 ? dv : dv == INT64_MIN ? INT64_MAX : -dv;
      const tcc_dim_t *span = dv > 0 ? tcc_dim_sub(m, l, s) : tcc_dim_sub(m, s, l);
      int64_t sv = tcc_dim_value(span);
      n = tcc_dim_is_const(span) ? tcc_dim_const(m, sv <= 0 ? 0 : 1 + (sv - 1) / mag) : tcc_dim_ceildiv(m, span, mag);
    }
  }
  if (!n) n = tcc_dim_fresh(m);
  TCC_RETURN_IF_ERROR(set_out(node, 0, dt, 1, &n));
  /* shape data: small constant integer ranges */
  const tcc_dim_t *s = scalar_dim(m, node->inputs[0], false), *d = scalar_dim(m, node->inputs[2], false);
  if (!tcc_dtype_is_int(dt) || !tcc_dim_is_const(n) || tcc_dim_value(n) > MAX_DATA || !s || !d || !tcc_dim_is_const(d))
    return NULL;
  int64_t count = tcc_dim_value(n);
  const tcc_dim_t **data = new_dims(m, count);
  if (!data) return tcc_status_oom();
  for (int64_t i = 0; i < count; i++) data[i] = tcc_dim_add(m, s, tcc_dim_const(m, i * tcc_dim_value(d)));
  return set_out_data(node, 0, count, data);
}

tcc_status_t tcc_infer_one_hot(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 3, 3));
  const tcc_value_t *idx = tcc_infer_input(node, 0), *values = tcc_infer_input(node, 2);
  tcc_dtype_t dt = dtype_of(node->inputs[2]);
  if (values && (values->type.rank != 1 ||
                 (tcc_dim_is_const(values->type.dims[0]) && !dim_is(values->type.dims[0], 2))))
    return tcc_infer_error(node, "values must be a 1-D tensor of two elements");
  if (!idx) return set_out(node, 0, dt, -1, NULL);
  const tcc_dim_t *depth = scalar_dim(m, node->inputs[1], true);
  if (depth && tcc_dim_is_const(depth) && tcc_dim_value(depth) < 1)
    return tcc_infer_error(node, "depth %lld is not positive", (long long)tcc_dim_value(depth));
  int r = idx->type.rank + 1, axis;
  TCC_RETURN_IF_ERROR(tcc_infer_axis(node, tcc_node_attr_int(node, "axis", -1), r, &axis));
  const tcc_dim_t **dims = new_dims(m, r);
  if (!dims) return tcc_status_oom();
  for (int i = 0, j = 0; i < r; i++) dims[i] = i == axis ? (depth ? depth : tcc_dim_fresh(m)) : idx->type.dims[j++];
  return set_out(node, 0, dt, r, dims);
}

/* The input's type, for ops that keep it (Trilu, ReverseSequence); min_rank checked when known. */
static tcc_status_t same_as_input(tcc_node_t *node, int min_rank) {
  const tcc_value_t *x = tcc_infer_input(node, 0);
  if (x && x->type.rank < min_rank)
    return tcc_infer_error(node, "expects an input of rank >= %d, got rank %d", min_rank, x->type.rank);
  return set_out_type(node, 0, &node->inputs[0]->type);
}

tcc_status_t tcc_infer_trilu(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 2));
  return same_as_input(node, 2);
}

tcc_status_t tcc_infer_reverse_sequence(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 2, 2));
  return same_as_input(node, 2);
}

static tcc_status_t dtype_attr(const tcc_node_t *node, tcc_dtype_t fallback, tcc_dtype_t *dt) {
  if (!tcc_node_attr(node, "dtype")) {
    *dt = fallback;
    return NULL;
  }
  int64_t code = tcc_node_attr_int(node, "dtype", fallback);
  if (code != (int)code || !tcc_dtype_is_valid((int)code))
    return tcc_infer_error(node, "unknown dtype %lld", (long long)code);
  *dt = (tcc_dtype_t)code;
  return NULL;
}

tcc_status_t tcc_infer_eye_like(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 1));
  const tcc_value_t *x = tcc_infer_input(node, 0);
  tcc_dtype_t dt = TCC_DTYPE_UNDEFINED;
  TCC_RETURN_IF_ERROR(dtype_attr(node, dtype_of(node->inputs[0]), &dt));
  if (x && x->type.rank != 2) return tcc_infer_error(node, "expects a 2-D input, got rank %d", x->type.rank);
  return set_out(node, 0, dt, x ? 2 : -1, x ? x->type.dims : NULL);
}

tcc_status_t tcc_infer_random(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 0, 0));
  tcc_dtype_t dt = TCC_DTYPE_UNDEFINED;
  TCC_RETURN_IF_ERROR(dtype_attr(node, TCC_DTYPE_F32, &dt));
  const int64_t *shape;
  int64_t n;
  if (!tcc_node_attr_ints(node, "shape", &shape, &n)) return tcc_infer_error(node, "missing the 'shape' attribute");
  TCC_RETURN_IF_ERROR(check_rank(node, n));
  const tcc_dim_t **dims = new_dims(m, n);
  if (!dims) return tcc_status_oom();
  for (int64_t i = 0; i < n; i++) {
    if (shape[i] < 0) return tcc_infer_error(node, "negative dimension %lld in the shape", (long long)shape[i]);
    dims[i] = tcc_dim_const(m, shape[i]);
  }
  return set_out(node, 0, dt, (int)n, dims);
}

tcc_status_t tcc_infer_random_like(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 1));
  const tcc_value_t *x = node->inputs[0];
  tcc_dtype_t dt = TCC_DTYPE_UNDEFINED;
  TCC_RETURN_IF_ERROR(dtype_attr(node, dtype_of(x), &dt));
  return set_out(node, 0, dt, is_tensor(x) ? x->type.rank : -1, is_tensor(x) ? x->type.dims : NULL);
}

tcc_status_t tcc_infer_multinomial(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 1));
  const tcc_value_t *x = tcc_infer_input(node, 0);
  tcc_dtype_t dt = TCC_DTYPE_UNDEFINED;
  TCC_RETURN_IF_ERROR(dtype_attr(node, TCC_DTYPE_I32, &dt));
  if (dt != TCC_DTYPE_I32 && dt != TCC_DTYPE_I64) return tcc_infer_error(node, "dtype must be i32 or i64");
  if (x && x->type.rank != 2) return tcc_infer_error(node, "expects a 2-D input, got rank %d", x->type.rank);
  int64_t samples = tcc_node_attr_int(node, "sample_size", 1);
  if (samples < 1) return tcc_infer_error(node, "sample_size %lld is not positive", (long long)samples);
  const tcc_dim_t *dims[2] = {x ? x->type.dims[0] : tcc_dim_fresh(m), tcc_dim_const(m, samples)};
  return set_out(node, 0, dt, 2, dims);
}

/* ---- type merging (sequences, If, Loop, Scan) ------------------------------------------------------- */

/* Dims introduced by generalizing loop-carried types: kept as they are in later passes. */
typedef struct {
  const tcc_dim_t **items;
  int count, cap;
} dim_set_t;

static bool dim_set_has(const dim_set_t *s, const tcc_dim_t *d) {
  for (int i = 0; s && i < s->count; i++)
    if (s->items[i] == d) return true;
  return false;
}

static void dim_set_add(tcc_module_t *m, dim_set_t *s, const tcc_dim_t *d) {
  if (s->count == s->cap) {
    int cap = s->cap ? 2 * s->cap : 16;
    const tcc_dim_t **items = new_dims(m, cap);
    if (!items) return;
    if (s->count) memcpy(items, s->items, (size_t)s->count * sizeof *items);
    s->items = items;
    s->cap = cap;
  }
  s->items[s->count++] = d;
}

/* The least common type of a and b (a copy in m): equal dims kept, other dims fresh (dims of a found in
 * `keep` stay, and new fresh dims are added to it), differing ranks unknown. Unknown types yield the other.
 * NULL on allocation failure. */
static const tcc_type_t *merge_type(tcc_module_t *m, const tcc_type_t *a, const tcc_type_t *b, dim_set_t *keep) {
  if (!a || a->kind == TCC_TYPE_UNKNOWN) return b ? tcc_type_copy(m, b) : NULL;
  if (!b || b->kind == TCC_TYPE_UNKNOWN || a == b) return tcc_type_copy(m, a);
  tcc_type_t t = *a;
  if (a->kind != b->kind) return tcc_type_copy(m, &(tcc_type_t){TCC_TYPE_UNKNOWN, TCC_DTYPE_UNDEFINED, -1, NULL, NULL});
  if (a->kind != TCC_TYPE_TENSOR) {
    t.elem = merge_type(m, a->elem, b->elem, keep);
    return tcc_type_copy(m, &t);
  }
  if (a->dtype != b->dtype) /* one side unknown: the other; a conflict: unknown */
    t.dtype = a->dtype == TCC_DTYPE_UNDEFINED   ? b->dtype
              : b->dtype == TCC_DTYPE_UNDEFINED ? a->dtype
                                                : TCC_DTYPE_UNDEFINED;
  if (a->rank < 0 || a->rank != b->rank) {
    t.rank = -1;
    t.dims = NULL;
    return tcc_type_copy(m, &t);
  }
  const tcc_dim_t **dims = new_dims(m, a->rank);
  if (!dims) return NULL;
  for (int i = 0; i < a->rank; i++) {
    if (a->dims[i] == b->dims[i] || dim_set_has(keep, a->dims[i])) {
      dims[i] = a->dims[i];
    } else {
      dims[i] = tcc_dim_fresh(m);
      if (keep) dim_set_add(m, keep, dims[i]);
    }
  }
  t.dims = dims;
  return tcc_type_copy(m, &t);
}

/* t with every tensor rank forgotten (dtypes kept). */
static const tcc_type_t *widen_type(tcc_module_t *m, const tcc_type_t *t) {
  tcc_type_t w = *t;
  if (t->kind == TCC_TYPE_TENSOR) w.rank = -1, w.dims = NULL;
  if (t->elem && !(w.elem = widen_type(m, t->elem))) return NULL;
  return tcc_type_copy(m, &w);
}

static const tcc_type_t *elem_of(const tcc_value_t *v) {
  return v && (v->type.kind == TCC_TYPE_SEQUENCE || v->type.kind == TCC_TYPE_OPTIONAL) ? v->type.elem : NULL;
}

/* ---- sequences -------------------------------------------------------------------------------------- */

/* The SequenceConstruct node that made v, whose inputs are then exactly its elements; NULL otherwise. */
static const tcc_node_t *construct_of(const tcc_value_t *v) {
  return v->producer && v->producer->op == TCC_OP_SEQUENCE_CONSTRUCT ? v->producer : NULL;
}

static bool is_empty_sequence(const tcc_value_t *v) {
  return v && v->producer && v->producer->op == TCC_OP_SEQUENCE_EMPTY;
}

tcc_status_t tcc_infer_sequence_construct(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, -1));
  const tcc_type_t *elem = NULL;
  for (int i = 0; i < node->num_inputs; i++) {
    const tcc_value_t *v = node->inputs[i];
    if (!v) return tcc_infer_error(node, "input %d is missing", i);
    if (v->type.kind != TCC_TYPE_TENSOR && v->type.kind != TCC_TYPE_UNKNOWN)
      return tcc_infer_error(node, "input %d is not a tensor", i);
    if (elem && elem->kind == TCC_TYPE_TENSOR && is_tensor(v) && elem->dtype != TCC_DTYPE_UNDEFINED &&
        v->type.dtype != TCC_DTYPE_UNDEFINED && v->type.dtype != elem->dtype)
      return tcc_infer_error(node, "input %d has dtype %s, expected %s", i, tcc_dtype_name(v->type.dtype),
                             tcc_dtype_name(elem->dtype));
    const tcc_type_t *vt = v->type.kind == TCC_TYPE_UNKNOWN ? &unknown_tensor : &v->type;
    if (!(elem = i == 0 ? vt : merge_type(m, elem, vt, NULL))) return tcc_status_oom();
  }
  return set_out_wrapped(node, 0, TCC_TYPE_SEQUENCE, elem);
}

tcc_status_t tcc_infer_sequence_empty(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 0, 0));
  tcc_dtype_t dt = TCC_DTYPE_UNDEFINED;
  TCC_RETURN_IF_ERROR(dtype_attr(node, TCC_DTYPE_F32, &dt));
  tcc_type_t elem = {TCC_TYPE_TENSOR, dt, -1, NULL, NULL};
  return set_out_wrapped(node, 0, TCC_TYPE_SEQUENCE, &elem);
}

static tcc_status_t check_sequence(const tcc_node_t *node, int i) {
  const tcc_value_t *v = node->inputs[i];
  if (v->type.kind != TCC_TYPE_SEQUENCE && v->type.kind != TCC_TYPE_UNKNOWN)
    return tcc_infer_error(node, "input %d is not a sequence", i);
  return NULL;
}

tcc_status_t tcc_infer_sequence_insert(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 2, 3));
  TCC_RETURN_IF_ERROR(check_sequence(node, 0));
  const tcc_type_t *se = elem_of(node->inputs[0]), *xt = &node->inputs[1]->type;
  if (se && se->kind == TCC_TYPE_TENSOR && xt->kind == TCC_TYPE_TENSOR && se->dtype != TCC_DTYPE_UNDEFINED &&
      xt->dtype != TCC_DTYPE_UNDEFINED && se->dtype != xt->dtype)
    return tcc_infer_error(node, "inserting a %s tensor into a sequence of %s", tcc_dtype_name(xt->dtype),
                           tcc_dtype_name(se->dtype));
  const tcc_type_t *elem = se && !is_empty_sequence(node->inputs[0]) ? merge_type(m, se, xt, NULL) : xt;
  if (!elem) return tcc_status_oom();
  return set_out_wrapped(node, 0, TCC_TYPE_SEQUENCE, elem);
}

tcc_status_t tcc_infer_sequence_erase(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 2));
  TCC_RETURN_IF_ERROR(check_sequence(node, 0));
  return set_out_type(node, 0, &node->inputs[0]->type);
}

tcc_status_t tcc_infer_sequence_at(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 2, 2));
  TCC_RETURN_IF_ERROR(check_sequence(node, 0));
  const tcc_node_t *c = construct_of(node->inputs[0]);
  const int64_t *pos;
  int64_t n;
  if (c && tcc_value_const_ints(node->inputs[1], &pos, &n) && n == 1) {
    int64_t k = pos[0] < 0 ? pos[0] + c->num_inputs : pos[0];
    if (k < 0 || k >= c->num_inputs)
      return tcc_infer_error(node, "position %lld is out of range for a sequence of %d tensors", (long long)pos[0],
                             c->num_inputs);
    TCC_RETURN_IF_ERROR(set_out_type(node, 0, &c->inputs[k]->type));
    return forward_data(node, 0, c->inputs[k]);
  }
  return set_out_type(node, 0, elem_of(node->inputs[0]));
}

tcc_status_t tcc_infer_sequence_length(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 1));
  TCC_RETURN_IF_ERROR(check_sequence(node, 0));
  TCC_RETURN_IF_ERROR(set_out(node, 0, TCC_DTYPE_I64, 0, NULL));
  const tcc_node_t *c = construct_of(node->inputs[0]);
  int64_t n = c ? c->num_inputs : is_empty_sequence(node->inputs[0]) ? 0 : -1;
  const tcc_dim_t *d = tcc_dim_const(module_of(node), n);
  return n >= 0 ? set_out_data(node, 0, 1, &d) : NULL;
}

tcc_status_t tcc_infer_split_to_sequence(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  char b[64];
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 2));
  const tcc_value_t *x = tcc_infer_input(node, 0), *split_v = in(node, 1);
  tcc_type_t elem = {TCC_TYPE_TENSOR, dtype_of(node->inputs[0]), -1, NULL, NULL};
  if (!x) return set_out_wrapped(node, 0, TCC_TYPE_SEQUENCE, &elem);
  int r = x->type.rank, axis;
  TCC_RETURN_IF_ERROR(tcc_infer_axis(node, tcc_node_attr_int(node, "axis", 0), r, &axis));
  const tcc_dim_t **dims = new_dims(m, r);
  if (!dims) return tcc_status_oom();
  copy_dims(dims, x->type.dims, r);
  elem.rank = r;
  elem.dims = dims;
  const tcc_dim_t *d = x->type.dims[axis], *const *split;
  int64_t n;
  if (!split_v) {
    if (tcc_node_attr_int(node, "keepdims", 1)) {
      dims[axis] = tcc_dim_const(m, 1);
    } else {
      memmove(dims + axis, dims + axis + 1, (size_t)(r - axis - 1) * sizeof *dims);
      elem.rank = r - 1;
    }
  } else if (!known_data(m, split_v, &split, &n)) {
    dims[axis] = tcc_dim_fresh(m);
  } else if (is_tensor(split_v) && split_v->type.rank == 0) {
    /* chunks of split[0] elements, the last one possibly shorter */
    const tcc_dim_t *c = split[0];
    if (tcc_dim_is_const(c) && tcc_dim_value(c) < 1)
      return tcc_infer_error(node, "split size %lld is not positive", (long long)tcc_dim_value(c));
    bool even = tcc_dim_is_const(c) && tcc_dim_is_const(d) && tcc_dim_value(d) % tcc_dim_value(c) == 0;
    dims[axis] = even || c == d ? c : tcc_dim_fresh(m);
  } else {
    const tcc_dim_t *sum = tcc_dim_const(m, 0);
    bool same = true;
    for (int64_t i = 0; i < n; i++) {
      sum = tcc_dim_add(m, sum, split[i]);
      same = same && split[i] == split[0];
    }
    if (tcc_dim_is_const(sum) && tcc_dim_is_const(d) && sum != d)
      return tcc_infer_error(node, "split sizes sum to %lld but axis %d has size %s", (long long)tcc_dim_value(sum),
                             axis, dim_str(d, b, sizeof b));
    dims[axis] = same && n > 0 ? split[0] : tcc_dim_fresh(m);
  }
  return set_out_wrapped(node, 0, TCC_TYPE_SEQUENCE, &elem);
}

tcc_status_t tcc_infer_concat_from_sequence(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 1));
  TCC_RETURN_IF_ERROR(check_sequence(node, 0));
  const tcc_attr_t *axis_attr = tcc_node_attr(node, "axis");
  if (!axis_attr || axis_attr->kind != TCC_ATTR_INT) return tcc_infer_error(node, "missing the 'axis' attribute");
  const tcc_type_t *e = elem_of(node->inputs[0]);
  tcc_dtype_t dt = e && e->kind == TCC_TYPE_TENSOR ? e->dtype : TCC_DTYPE_UNDEFINED;
  if (!e || e->kind != TCC_TYPE_TENSOR || e->rank < 0) return set_out(node, 0, dt, -1, NULL);
  bool new_axis = tcc_node_attr_int(node, "new_axis", 0) != 0;
  int r = e->rank + (new_axis ? 1 : 0), axis;
  TCC_RETURN_IF_ERROR(tcc_infer_axis(node, axis_attr->i, r, &axis));
  const tcc_dim_t **dims = new_dims(m, r);
  if (!dims) return tcc_status_oom();
  /* the length of the axis: known when the elements are (a SequenceConstruct of known ranks) */
  const tcc_node_t *c = construct_of(node->inputs[0]);
  const tcc_dim_t *len = c && new_axis ? tcc_dim_const(m, c->num_inputs) : c ? tcc_dim_const(m, 0) : NULL;
  for (int k = 0; c && !new_axis && len && k < c->num_inputs; k++) {
    const tcc_value_t *v = c->inputs[k];
    len = is_tensor(v) && v->type.rank == e->rank ? tcc_dim_add(m, len, v->type.dims[axis]) : NULL;
  }
  for (int i = 0, j = 0; i < r; i++) {
    if (i == axis) dims[i] = len ? len : tcc_dim_fresh(m), j += !new_axis;
    else dims[i] = e->dims[j++];
  }
  return set_out(node, 0, dt, r, dims);
}

/* ---- optionals -------------------------------------------------------------------------------------- */

tcc_status_t tcc_infer_optional(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 0, 1));
  const tcc_value_t *x = in(node, 0);
  if (x) return set_out_wrapped(node, 0, TCC_TYPE_OPTIONAL, &x->type);
  const tcc_attr_t *a = tcc_node_attr(node, "type");
  if (!a || a->kind != TCC_ATTR_TYPE)
    return tcc_infer_error(node, "an Optional without input needs a 'type' attribute");
  return set_out_wrapped(node, 0, TCC_TYPE_OPTIONAL, &a->type);
}

tcc_status_t tcc_infer_optional_has_element(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 0, 1));
  return set_out(node, 0, TCC_DTYPE_BOOL, 0, NULL);
}

tcc_status_t tcc_infer_optional_get_element(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 1));
  const tcc_value_t *x = node->inputs[0];
  if (x->type.kind == TCC_TYPE_OPTIONAL) return set_out_type(node, 0, x->type.elem);
  TCC_RETURN_IF_ERROR(set_out_type(node, 0, &x->type));
  return forward_data(node, 0, x);
}

/* ---- control flow ----------------------------------------------------------------------------------- */

static tcc_status_t graph_attr(const tcc_node_t *node, const char *name, tcc_graph_t **g) {
  const tcc_attr_t *a = tcc_node_attr(node, name);
  if (!a || a->kind != TCC_ATTR_GRAPH || !a->g) return tcc_infer_error(node, "missing the '%s' graph attribute", name);
  *g = a->g;
  return NULL;
}

static tcc_status_t set_body_input(tcc_graph_t *body, size_t i, const tcc_type_t *t) {
  if (!t || t->kind == TCC_TYPE_UNKNOWN) return NULL; /* keep the declared type */
  tcc_value_t *v = body->inputs[i];
  v->shape_data_len = -1;
  v->shape_data = NULL;
  return tcc_value_set_type(v, t);
}

tcc_status_t tcc_infer_if(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, 1));
  tcc_graph_t *br[2];
  TCC_RETURN_IF_ERROR(graph_attr(node, "then_branch", &br[0]));
  TCC_RETURN_IF_ERROR(graph_attr(node, "else_branch", &br[1]));
  for (int b = 0; b < 2; b++)
    if (br[b]->num_outputs != (size_t)node->num_outputs)
      return tcc_infer_error(node, "%s has %zu outputs but the node has %d", b ? "else_branch" : "then_branch",
                             br[b]->num_outputs, node->num_outputs);
  const int64_t *cond;
  int64_t n;
  int taken = tcc_value_const_ints(node->inputs[0], &cond, &n) && n == 1 ? (cond[0] ? 0 : 1) : -1;
  /* A branch whose shapes contradict its ops cannot run with these inputs (e.g. the rank-2 path of an
   * expanded AffineGrid fed a rank-3 size): the outputs follow the other branch. */
  tcc_status_t err[2];
  for (int b = 0; b < 2; b++) err[b] = tcc_graph_infer(br[b]);
  for (int b = 0; b < 2; b++) {
    bool fatal = err[b] && (tcc_status_code(err[b]) != TCC_INVALID_MODEL || b == taken || (taken < 0 && err[1 - b]));
    if (fatal) {
      tcc_status_free(err[1 - b]);
      return err[b];
    }
  }
  for (int b = 0; b < 2; b++) {
    if (!err[b]) continue;
    tcc_status_free(err[b]);
    if (taken < 0) taken = 1 - b;
  }
  for (int i = 0; i < node->num_outputs; i++) {
    const tcc_type_t *a = &br[0]->outputs[i]->type, *b = &br[1]->outputs[i]->type;
    if (taken >= 0) {
      TCC_RETURN_IF_ERROR(set_out_type(node, i, &br[taken]->outputs[i]->type));
      TCC_RETURN_IF_ERROR(forward_data(node, i, br[taken]->outputs[i]));
      continue;
    }
    if (a->kind == TCC_TYPE_TENSOR && b->kind == TCC_TYPE_TENSOR && a->dtype != TCC_DTYPE_UNDEFINED &&
        b->dtype != TCC_DTYPE_UNDEFINED && a->dtype != b->dtype)
      return tcc_infer_error(node, "output %d is %s in then_branch but %s in else_branch", i, tcc_dtype_name(a->dtype),
                             tcc_dtype_name(b->dtype));
    const tcc_type_t *t = merge_type(m, a, b, NULL);
    if (!t) return tcc_status_oom();
    TCC_RETURN_IF_ERROR(set_out_type(node, i, t));
  }
  return NULL;
}

/* Infers body with n loop-carried states (body inputs in_base + i, body outputs out_base + i), generalizing the
 * state types until they are stable across iterations. states[i] holds the entry types and receives the
 * stable ones. */
static tcc_status_t infer_carried(const tcc_node_t *node, tcc_graph_t *body, int n, int in_base, int out_base,
                                  const tcc_type_t **states) {
  tcc_module_t *m = module_of(node);
  dim_set_t keep = {0};
  for (int pass = 0;; pass++) {
    for (int i = 0; i < n; i++) TCC_RETURN_IF_ERROR(set_body_input(body, (size_t)(in_base + i), states[i]));
    TCC_RETURN_IF_ERROR(tcc_graph_infer(body));
    if (pass == MAX_LOOP_PASSES) return NULL;
    bool stable = true;
    for (int i = 0; i < n; i++) {
      const tcc_type_t *next = merge_type(m, states[i], &body->outputs[out_base + i]->type, &keep);
      if (!next) return tcc_status_oom();
      if (states[i] && tcc_type_equal(next, states[i])) continue;
      stable = false;
      states[i] = pass + 1 == MAX_LOOP_PASSES ? widen_type(m, next) : next;
      if (!states[i]) return tcc_status_oom();
    }
    if (stable) return NULL;
  }
}

/* The entry type of a loop-carried state: the outer value's type, else the body's declared one. A sequence
 * that starts empty has no element type yet (elem NULL): the body's inserts decide it. */
static const tcc_type_t *initial_state(tcc_module_t *m, const tcc_value_t *outer, const tcc_value_t *body_in) {
  if (is_empty_sequence(outer)) return tcc_type_copy(m, &(tcc_type_t){TCC_TYPE_SEQUENCE, 0, -1, NULL, NULL});
  return tcc_type_copy(m, outer && outer->type.kind != TCC_TYPE_UNKNOWN ? &outer->type : &body_in->type);
}

/* Types the state outputs from the stable states; a sequence the body never fills keeps its entry type. */
static tcc_status_t set_state_outputs(tcc_node_t *node, int n, int first_input, const tcc_type_t **states) {
  for (int i = 0; i < n; i++) {
    bool unfilled = states[i]->kind == TCC_TYPE_SEQUENCE && !states[i]->elem;
    const tcc_value_t *v = node->inputs[first_input + i];
    TCC_RETURN_IF_ERROR(set_out_type(node, i, unfilled && v ? &v->type : states[i]));
  }
  return NULL;
}

/* t (a tensor type) with dim d inserted at axis (normalized against rank + 1); unknown rank kept. */
static tcc_status_t set_out_stacked(tcc_node_t *node, int i, const tcc_type_t *t, const tcc_dim_t *d, int64_t axis) {
  tcc_module_t *m = module_of(node);
  if (!t || t->kind != TCC_TYPE_TENSOR) return set_out(node, i, TCC_DTYPE_UNDEFINED, -1, NULL);
  if (t->rank < 0) return set_out(node, i, t->dtype, -1, NULL);
  int r = t->rank + 1, ax;
  TCC_RETURN_IF_ERROR(tcc_infer_axis(node, axis, r, &ax));
  const tcc_dim_t **dims = new_dims(m, r);
  if (!dims) return tcc_status_oom();
  for (int k = 0, j = 0; k < r; k++) dims[k] = k == ax ? d : t->dims[j++];
  return set_out(node, i, t->dtype, r, dims);
}

static bool is_true(const tcc_value_t *v) {
  const int64_t *c;
  int64_t n;
  return tcc_value_const_ints(v, &c, &n) && n == 1 && c[0];
}

/* Whether the loop condition may end a Loop before its trip count: not when it starts true (or absent) and
 * the body passes it through unchanged or returns true. */
static bool stops_early(const tcc_node_t *node, const tcc_graph_t *body) {
  const tcc_value_t *cond = in(node, 1), *next = body->outputs[0];
  if (cond && !is_true(cond)) return true;
  while (next && next->producer && next->producer->op == TCC_OP_IDENTITY) next = next->producer->inputs[0];
  return !next || (next != body->inputs[1] && !is_true(next));
}

tcc_status_t tcc_infer_loop(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  TCC_RETURN_IF_ERROR(check_inputs(node, 0, -1));
  if (node->num_inputs < 2)
    return tcc_infer_error(node, "expects at least 2 inputs (M and cond), got %d", node->num_inputs);
  tcc_graph_t *body = NULL;
  TCC_RETURN_IF_ERROR(graph_attr(node, "body", &body));
  int n = node->num_inputs - 2, k = node->num_outputs - n;
  if (k < 0) return tcc_infer_error(node, "has %d loop-carried inputs but only %d outputs", n, node->num_outputs);
  if (body->num_inputs != (size_t)n + 2)
    return tcc_infer_error(node, "the body has %zu inputs, expected %d", body->num_inputs, n + 2);
  if (body->num_outputs != (size_t)(1 + n + k))
    return tcc_infer_error(node, "the body has %zu outputs, expected %d", body->num_outputs, 1 + n + k);
  const tcc_type_t iter = {TCC_TYPE_TENSOR, TCC_DTYPE_I64, 0, NULL, NULL};
  const tcc_type_t cond = {TCC_TYPE_TENSOR, TCC_DTYPE_BOOL, 0, NULL, NULL};
  TCC_RETURN_IF_ERROR(set_body_input(body, 0, &iter));
  TCC_RETURN_IF_ERROR(set_body_input(body, 1, &cond));
  /* the iteration number is an unknown but fixed value: x[i:i+1] then has one element */
  const tcc_dim_t *i_dim = tcc_dim_fresh(m);
  TCC_RETURN_IF_ERROR(tcc_value_set_shape_data(body->inputs[0], 1, &i_dim));
  const tcc_type_t **states = tcc_module_alloc(m, (size_t)(n + 1) * sizeof *states);
  if (!states) return tcc_status_oom();
  for (int i = 0; i < n; i++)
    if (!(states[i] = initial_state(m, node->inputs[2 + i], body->inputs[2 + i]))) return tcc_status_oom();
  TCC_RETURN_IF_ERROR(infer_carried(node, body, n, 2, 1, states));
  TCC_RETURN_IF_ERROR(set_state_outputs(node, n, 2, states));
  /* scan outputs stack one slice per iteration: M of them when M is known and nothing stops the loop early */
  const tcc_dim_t *trip = in(node, 0) && !stops_early(node, body) ? scalar_dim(m, node->inputs[0], false) : NULL;
  if (trip && tcc_dim_is_const(trip) && tcc_dim_value(trip) < 0) trip = tcc_dim_const(m, 0);
  for (int j = 0; j < k; j++) {
    const tcc_dim_t *d = trip ? trip : tcc_dim_fresh(m);
    TCC_RETURN_IF_ERROR(set_out_stacked(node, n + j, &body->outputs[1 + n + j]->type, d, 0));
  }
  return NULL;
}

/* t (a tensor type) without its first `drop` dims, or NULL when its rank is unknown or too small. */
static const tcc_type_t *drop_leading(tcc_module_t *m, const tcc_type_t *t, int drop) {
  if (!t || t->kind != TCC_TYPE_TENSOR || t->rank < drop) return NULL;
  tcc_type_t inner = {TCC_TYPE_TENSOR, t->dtype, t->rank - drop, t->rank > drop ? t->dims + drop : NULL, NULL};
  return tcc_type_copy(m, &inner);
}

/* Output i typed as t (a body output) with the leading dims lead[0..n) in front; unknown rank kept. */
static tcc_status_t set_out_batched(tcc_node_t *node, int i, const tcc_type_t *t, const tcc_dim_t *const *lead, int n) {
  if (!t || t->kind != TCC_TYPE_TENSOR) return set_out(node, i, TCC_DTYPE_UNDEFINED, -1, NULL);
  if (t->rank < 0) return set_out(node, i, t->dtype, -1, NULL);
  TCC_RETURN_IF_ERROR(check_rank(node, t->rank + n));
  const tcc_dim_t **dims = new_dims(module_of(node), t->rank + n);
  if (!dims) return tcc_status_oom();
  copy_dims(dims, lead, n);
  copy_dims(dims + n, t->dims, t->rank);
  return set_out(node, i, t->dtype, t->rank + n, dims);
}

/* Scan-8, the batched form: (sequence_lens?, N states [batch, ...], ns scan inputs [batch, seq, ...]) ->
 * (N final states [batch, ...], scan outputs [batch, seq, ...]); the body sees one batch entry of each
 * state and one step of each scan input. */
static tcc_status_t infer_scan8(tcc_node_t *node, tcc_graph_t *body, int64_t ns) {
  tcc_module_t *m = module_of(node);
  if (ns < 1 || ns > node->num_inputs - 1)
    return tcc_infer_error(node, "num_scan_inputs %lld is out of range for %d inputs", (long long)ns, node->num_inputs);
  int n = node->num_inputs - 1 - (int)ns, k = node->num_outputs - n;
  if (k < 0) return tcc_infer_error(node, "has %d state variables but only %d outputs", n, node->num_outputs);
  if (body->num_inputs != (size_t)(n + ns) || body->num_outputs != (size_t)node->num_outputs)
    return tcc_infer_error(node, "the body has %zu inputs and %zu outputs, expected %lld and %d", body->num_inputs,
                           body->num_outputs, (long long)(n + ns), node->num_outputs);
  const tcc_dim_t *lead[2] = {NULL, NULL}; /* batch, seq */
  for (int j = 0; j < ns; j++) {
    const tcc_value_t *x = tcc_infer_input(node, 1 + n + j);
    if (!node->inputs[1 + n + j]) return tcc_infer_error(node, "scan input %d is missing", j);
    if (!x) continue;
    if (x->type.rank < 2) return tcc_infer_error(node, "scan input %d must be [batch, seq, ...], got rank %d", j, x->type.rank);
    if (!lead[0]) lead[0] = x->type.dims[0], lead[1] = x->type.dims[1];
    TCC_RETURN_IF_ERROR(set_body_input(body, (size_t)(n + j), drop_leading(m, &x->type, 2)));
  }
  const tcc_type_t **states = tcc_module_alloc(m, (size_t)(n + 1) * sizeof *states);
  if (!states) return tcc_status_oom();
  for (int i = 0; i < n; i++) {
    const tcc_value_t *v = node->inputs[1 + i];
    if (!v) return tcc_infer_error(node, "state input %d is missing", i);
    if (v->type.kind == TCC_TYPE_TENSOR && v->type.rank == 0) return tcc_infer_error(node, "state %d has no batch axis", i);
    if (!lead[0] && v->type.kind == TCC_TYPE_TENSOR && v->type.rank > 0) lead[0] = v->type.dims[0];
    const tcc_type_t *inner = drop_leading(m, &v->type, 1);
    if (!(states[i] = inner ? inner : tcc_type_copy(m, &body->inputs[i]->type))) return tcc_status_oom();
  }
  if (!lead[0]) lead[0] = tcc_dim_fresh(m);
  if (!lead[1]) lead[1] = tcc_dim_fresh(m);
  TCC_RETURN_IF_ERROR(infer_carried(node, body, n, 0, 0, states));
  for (int i = 0; i < n; i++) TCC_RETURN_IF_ERROR(set_out_batched(node, i, states[i], lead, 1));
  for (int j = 0; j < k; j++) TCC_RETURN_IF_ERROR(set_out_batched(node, n + j, &body->outputs[n + j]->type, lead, 2));
  return NULL;
}

tcc_status_t tcc_infer_scan(tcc_node_t *node) {
  tcc_module_t *m = module_of(node);
  char b1[64], b2[64];
  bool batched = node->opset > 0 && node->opset < 9; /* Scan-8: input 0 is the optional sequence_lens */
  TCC_RETURN_IF_ERROR(check_inputs(node, batched ? 0 : 1, -1));
  tcc_graph_t *body = NULL;
  TCC_RETURN_IF_ERROR(graph_attr(node, "body", &body));
  const tcc_attr_t *ns_attr = tcc_node_attr(node, "num_scan_inputs");
  if (!ns_attr || ns_attr->kind != TCC_ATTR_INT)
    return tcc_infer_error(node, "missing the 'num_scan_inputs' attribute");
  int64_t ns = ns_attr->i;
  if (batched) return infer_scan8(node, body, ns);
  if (ns < 1 || ns > node->num_inputs)
    return tcc_infer_error(node, "num_scan_inputs %lld is out of range for %d inputs", (long long)ns, node->num_inputs);
  int n = node->num_inputs - (int)ns, k = node->num_outputs - n;
  if (k < 0) return tcc_infer_error(node, "has %d state variables but only %d outputs", n, node->num_outputs);
  if (body->num_inputs != (size_t)node->num_inputs)
    return tcc_infer_error(node, "the body has %zu inputs, expected %d", body->num_inputs, node->num_inputs);
  if (body->num_outputs != (size_t)node->num_outputs)
    return tcc_infer_error(node, "the body has %zu outputs, expected %d", body->num_outputs, node->num_outputs);
  const int64_t *in_axes, *out_axes;
  int64_t nia, noa;
  if (tcc_node_attr_ints(node, "scan_input_axes", &in_axes, &nia) && nia != ns)
    return tcc_infer_error(node, "scan_input_axes has %lld entries for %lld scan inputs", (long long)nia,
                           (long long)ns);
  if (tcc_node_attr_ints(node, "scan_output_axes", &out_axes, &noa) && noa != k)
    return tcc_infer_error(node, "scan_output_axes has %lld entries for %d scan outputs", (long long)noa, k);
  /* scan inputs: the body sees one slice, the scanned axis removed */
  const tcc_dim_t *len = NULL;
  for (int j = 0; j < ns; j++) {
    const tcc_value_t *x = tcc_infer_input(node, n + j);
    if (!node->inputs[n + j]) return tcc_infer_error(node, "scan input %d is missing", j);
    if (!x) continue;
    int r = x->type.rank, axis;
    TCC_RETURN_IF_ERROR(tcc_infer_axis(node, nia ? in_axes[j] : 0, r, &axis));
    const tcc_dim_t *d = x->type.dims[axis], **dims = new_dims(m, r);
    if (!dims) return tcc_status_oom();
    if (len && tcc_dim_is_const(len) && tcc_dim_is_const(d) && len != d)
      return tcc_infer_error(node, "scan input %d has %s iterations, expected %s", j, dim_str(d, b1, sizeof b1),
                             dim_str(len, b2, sizeof b2));
    if (!len || (!tcc_dim_is_const(len) && tcc_dim_is_const(d))) len = d;
    for (int i = 0, c = 0; i < r; i++)
      if (i != axis) dims[c++] = x->type.dims[i];
    tcc_type_t slice = {TCC_TYPE_TENSOR, x->type.dtype, r - 1, dims, NULL};
    TCC_RETURN_IF_ERROR(set_body_input(body, (size_t)(n + j), &slice));
  }
  const tcc_type_t **states = tcc_module_alloc(m, (size_t)(n + 1) * sizeof *states);
  if (!states) return tcc_status_oom();
  for (int i = 0; i < n; i++)
    if (!(states[i] = initial_state(m, node->inputs[i], body->inputs[i]))) return tcc_status_oom();
  TCC_RETURN_IF_ERROR(infer_carried(node, body, n, 0, 0, states));
  TCC_RETURN_IF_ERROR(set_state_outputs(node, n, 0, states));
  for (int j = 0; j < k; j++)
    TCC_RETURN_IF_ERROR(
        set_out_stacked(node, n + j, &body->outputs[n + j]->type, len ? len : tcc_dim_fresh(m), noa ? out_axes[j] : 0));
  return NULL;
}

tcc_status_t tcc_infer_sequence_map(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_inputs(node, 1, -1));
  TCC_RETURN_IF_ERROR(check_sequence(node, 0));
  tcc_graph_t *body = NULL;
  TCC_RETURN_IF_ERROR(graph_attr(node, "body", &body));
  if (body->num_inputs != (size_t)node->num_inputs)
    return tcc_infer_error(node, "the body has %zu inputs, expected %d", body->num_inputs, node->num_inputs);
  if (body->num_outputs != (size_t)node->num_outputs)
    return tcc_infer_error(node, "the body has %zu outputs, expected %d", body->num_outputs, node->num_outputs);
  for (int i = 0; i < node->num_inputs; i++) {
    const tcc_value_t *v = node->inputs[i];
    if (!v) return tcc_infer_error(node, "input %d is missing", i);
    TCC_RETURN_IF_ERROR(set_body_input(body, (size_t)i, v->type.kind == TCC_TYPE_SEQUENCE ? v->type.elem : &v->type));
  }
  TCC_RETURN_IF_ERROR(tcc_graph_infer(body));
  for (int i = 0; i < node->num_outputs; i++)
    TCC_RETURN_IF_ERROR(set_out_wrapped(node, i, TCC_TYPE_SEQUENCE, &body->outputs[i]->type));
  return NULL;
}
