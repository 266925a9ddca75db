/* Host operators of ai.onnx.ml (contract in ir/host_ops.h): LabelEncoder (a lookup keyed by strings or
 * numbers), TreeEnsemble (tree walks) and ArrayFeatureExtractor over strings (numbers have a compute
 * definition in ir/compute_ml.c). Semantics of ai.onnx.ml opset 5 / onnxruntime. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir/host_util.h"

static tcc_status_t invalid(const char *what) { return tcc_status_make(TCC_INVALID_MODEL, "%s", what); }

/* Element i of t (an integer, bool or float dtype) set to v; false for other dtypes. */
static bool set_number(tcc_tensor_t *t, int64_t i, double v) {
  char *p = (char *)t->data;
  switch (t->dtype) {
  case TCC_DTYPE_F32: { float f = (float)v; memcpy(p + 4 * i, &f, 4); return true; }
  case TCC_DTYPE_F64: memcpy(p + 8 * i, &v, 8); return true;
  case TCC_DTYPE_I64: { int64_t x = (int64_t)v; memcpy(p + 8 * i, &x, 8); return true; }
  case TCC_DTYPE_U64: { uint64_t x = (uint64_t)(int64_t)v; memcpy(p + 8 * i, &x, 8); return true; }
  case TCC_DTYPE_I32: case TCC_DTYPE_U32: { int32_t x = (int32_t)(int64_t)v; memcpy(p + 4 * i, &x, 4); return true; }
  case TCC_DTYPE_I16: case TCC_DTYPE_U16: { int16_t x = (int16_t)(int64_t)v; memcpy(p + 2 * i, &x, 2); return true; }
  case TCC_DTYPE_I8: case TCC_DTYPE_U8: case TCC_DTYPE_BOOL: p[i] = (char)(int64_t)v; return true;
  default: return false;
  }
}

/* ---- ArrayFeatureExtractor ------------------------------------------------------------------------- */

/* Z[r, j] = X[r, Y.flat[j]] over the rows r of X's leading dims (any dtype, strings included). */
tcc_status_t tcc_host_array_feature_extractor(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                              tcc_tensor_t **out) {
  const tcc_tensor_t *x = in[0], *y = in[1];
  if (!x || !y || x->rank < 1 || x->rank > 64 || y->dtype != TCC_DTYPE_I64)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "expects X of rank 1 to 64 and int64 indices Y");
  int64_t dims[64], c = x->dims[x->rank - 1], rows = tcc_host_span(x->dims, 0, x->rank - 1);
  int rank = x->rank == 1 ? 2 : x->rank;
  if (x->rank == 1) dims[0] = 1;
  else memcpy(dims, x->dims, (size_t)(rank - 1) * sizeof *dims);
  dims[rank - 1] = y->numel;
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 0, x->dtype, rank, dims));
  for (int64_t j = 0; j < y->numel; j++) {
    int64_t f = tcc_tensor_get_int(y, j);
    if (f < -c || f >= c)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "index %lld is out of range for %lld features", (long long)f, (long long)c);
    if (f < 0) f += c;
    for (int64_t r = 0; r < rows && out[0]; r++)
      if (!tcc_host_copy_elem(m, out[0], r * y->numel + j, x, r * c + f)) return tcc_status_oom();
  }
  return NULL;
}

/* ---- LabelEncoder ---------------------------------------------------------------------------------- */

/* The keys_* or values_* attribute (prefix "keys" / "values") as a 1-D tensor; inference checked that
 * exactly one is set. keys_floats / values_floats become f32 (their ONNX type). */
static tcc_status_t mapping(const tcc_node_t *node, tcc_module_t *m, const char *prefix, tcc_tensor_t *t) {
  char name[32];
  const tcc_attr_t *a;
  int64_t *dims = tcc_host_scratch(m, 1, sizeof *dims);
  if (!dims) return tcc_status_oom();
  memset(t, 0, sizeof *t);
  t->rank = 1, t->dims = dims;
  snprintf(name, sizeof name, "%s_tensor", prefix);
  if ((a = tcc_node_attr(node, name)) && a->kind == TCC_ATTR_TENSOR && a->t) {
    *t = *a->t;
    return NULL;
  }
  snprintf(name, sizeof name, "%s_strings", prefix);
  if ((a = tcc_node_attr(node, name)) && a->kind == TCC_ATTR_STRINGS) {
    t->dtype = TCC_DTYPE_STRING, t->data = a->strings;
  } else if (snprintf(name, sizeof name, "%s_int64s", prefix), (a = tcc_node_attr(node, name)) && a->kind == TCC_ATTR_INTS) {
    t->dtype = TCC_DTYPE_I64, t->data = a->ints;
  } else if (snprintf(name, sizeof name, "%s_floats", prefix), (a = tcc_node_attr(node, name)) && a->kind == TCC_ATTR_FLOATS) {
    float *f = tcc_host_scratch(m, a->count, sizeof *f);
    if (!f) return tcc_status_oom();
    for (int64_t i = 0; i < a->count; i++) f[i] = (float)a->floats[i];
    t->dtype = TCC_DTYPE_F32, t->data = f;
  } else {
    return tcc_status_make(TCC_INVALID_MODEL, "none of the %s_* attributes is set", prefix);
  }
  dims[0] = t->numel = a->count;
  return NULL;
}

/* The value of unmatched inputs: default_tensor when given, else default_string ("_Unused"),
 * default_int64 (-1) or default_float (-0.0) by the values' type. */
static tcc_status_t default_value(const tcc_node_t *node, tcc_module_t *m, tcc_dtype_t dt, const tcc_tensor_t **out) {
  const tcc_attr_t *a = tcc_node_attr(node, "default_tensor");
  if (a && a->kind == TCC_ATTR_TENSOR && a->t) {
    if (a->t->dtype != dt || a->t->numel < 1) return tcc_status_make(TCC_INVALID_MODEL, "default_tensor must hold one %s value", tcc_dtype_name(dt));
    *out = a->t;
    return NULL;
  }
  tcc_tensor_t *t = tcc_tensor_create(m, dt, 0, NULL);
  if (!t) return tcc_status_oom();
  *out = t;
  if (dt == TCC_DTYPE_STRING) {
    const char *s = tcc_node_attr_string(node, "default_string", "_Unused");
    return tcc_host_set_str(m, t, 0, s, strlen(s)) ? NULL : tcc_status_oom();
  }
  bool ok = tcc_dtype_is_float(dt) ? set_number(t, 0, tcc_node_attr_float(node, "default_float", -0.0))
                                   : set_number(t, 0, (double)tcc_node_attr_int(node, "default_int64", -1));
  if (!ok) return tcc_status_make(TCC_UNSUPPORTED, "%s values need a default_tensor", tcc_dtype_name(dt));
  return NULL;
}

static int compare_keys(void *ctx, int64_t a, int64_t b) {
  const tcc_tensor_t *keys = ctx;
  return tcc_host_compare(keys, a, keys, b);
}

/* Y[i] = values[k] for the last key k equal to X[i] (NaN keys match NaN), else the default. */
tcc_status_t tcc_host_label_encoder(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                    tcc_tensor_t **out) {
  const tcc_tensor_t *x = in[0], *def = NULL;
  tcc_tensor_t keys, values;
  TCC_RETURN_IF_ERROR(mapping(node, m, "keys", &keys));
  TCC_RETURN_IF_ERROR(mapping(node, m, "values", &values));
  if (keys.numel != values.numel) return invalid("the keys and values differ in length");
  if (!x || x->dtype != keys.dtype || !tcc_host_orderable(keys.dtype))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "input X must have the keys' type %s", tcc_dtype_name(keys.dtype));
  TCC_RETURN_IF_ERROR(default_value(node, m, values.dtype, &def));
  int64_t *order = tcc_host_scratch(m, keys.numel, sizeof *order);
  if (!order) return tcc_status_oom();
  for (int64_t k = 0; k < keys.numel; k++) order[k] = k;
  if (!tcc_host_sort(order, keys.numel, compare_keys, &keys)) return tcc_status_oom(); /* stable: equal keys keep order */
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 0, values.dtype, x->rank, x->dims));
  for (int64_t i = 0; i < x->numel && out[0]; i++) {
    int64_t lo = 0, hi = keys.numel; /* first sorted key above X[i] */
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (tcc_host_compare(x, i, &keys, order[mid]) >= 0) lo = mid + 1;
      else hi = mid;
    }
    bool found = lo > 0 && tcc_host_compare(x, i, &keys, order[lo - 1]) == 0;
    bool ok = found ? tcc_host_copy_elem(m, out[0], i, &values, order[lo - 1]) : tcc_host_copy_elem(m, out[0], i, def, 0);
    if (!ok) return tcc_status_oom();
  }
  return NULL;
}

/* ---- TreeEnsemble ---------------------------------------------------------------------------------- */

enum { BRANCH_LEQ, BRANCH_LT, BRANCH_GTE, BRANCH_GT, BRANCH_EQ, BRANCH_NEQ, BRANCH_MEMBER };
enum { AGG_AVERAGE, AGG_SUM, AGG_MIN, AGG_MAX };
enum { POST_NONE, POST_SOFTMAX, POST_LOGISTIC, POST_SOFTMAX_ZERO, POST_PROBIT };

typedef struct {
  int64_t num_nodes, num_leaves, num_trees, num_targets, aggregate, post;
  const int64_t *feature, *true_id, *false_id, *true_leaf, *false_leaf, *missing_true, *roots, *target;
  const tcc_tensor_t *splits, *modes, *weights, *members;
  int64_t *set_begin, *set_end; /* BRANCH_MEMBER nodes: their run of membership_values */
} forest_t;

static const int64_t *ints_attr(const tcc_node_t *node, const char *name, int64_t want, bool required, tcc_status_t *st) {
  const int64_t *v = NULL;
  int64_t n = 0;
  if (*st) return NULL;
  if (!tcc_node_attr_ints(node, name, &v, &n)) {
    if (required) *st = tcc_status_make(TCC_INVALID_MODEL, "attribute '%s' is required", name);
    return NULL;
  }
  if (want >= 0 && n != want)
    *st = tcc_status_make(TCC_INVALID_MODEL, "attribute '%s' has %lld entries, expected %lld", name, (long long)n,
                          (long long)want);
  return v;
}

static const tcc_tensor_t *tensor_attr(const tcc_node_t *node, const char *name, bool required, tcc_status_t *st) {
  const tcc_attr_t *a = tcc_node_attr(node, name);
  if (*st) return NULL;
  if (!a || a->kind != TCC_ATTR_TENSOR || !a->t) {
    if (required || a) *st = tcc_status_make(TCC_INVALID_MODEL, "attribute '%s' must be a tensor", name);
    return NULL;
  }
  if (a->t->dtype == TCC_DTYPE_STRING || a->t->dtype == TCC_DTYPE_C64 || a->t->dtype == TCC_DTYPE_C128)
    *st = tcc_status_make(TCC_INVALID_MODEL, "attribute '%s' must hold numbers", name);
  return a->t;
}

/* Reads and checks the ensemble's attributes: every index in range, one run of membership values per
 * BRANCH_MEMBER node (in node order, NaN-separated). */
static tcc_status_t read_forest(const tcc_node_t *node, tcc_module_t *m, forest_t *f) {
  tcc_status_t st = NULL;
  memset(f, 0, sizeof *f);
  f->splits = tensor_attr(node, "nodes_splits", true, &st);
  int64_t n = f->num_nodes = f->splits ? f->splits->numel : 0;
  f->modes = tensor_attr(node, "nodes_modes", true, &st);
  f->weights = tensor_attr(node, "leaf_weights", true, &st);
  f->members = tensor_attr(node, "membership_values", false, &st);
  f->feature = ints_attr(node, "nodes_featureids", n, true, &st);
  f->true_id = ints_attr(node, "nodes_truenodeids", n, true, &st);
  f->false_id = ints_attr(node, "nodes_falsenodeids", n, true, &st);
  f->true_leaf = ints_attr(node, "nodes_trueleafs", n, true, &st);
  f->false_leaf = ints_attr(node, "nodes_falseleafs", n, true, &st);
  f->missing_true = ints_attr(node, "nodes_missing_value_tracks_true", n, false, &st);
  f->num_leaves = f->weights ? f->weights->numel : 0;
  f->target = ints_attr(node, "leaf_targetids", f->num_leaves, true, &st);
  f->roots = ints_attr(node, "tree_roots", -1, true, &st);
  TCC_RETURN_IF_ERROR(st);
  if (f->modes->numel != n) return invalid("nodes_modes and nodes_splits differ in length");
  tcc_node_attr_ints(node, "tree_roots", &f->roots, &f->num_trees);
  f->aggregate = tcc_node_attr_int(node, "aggregate_function", AGG_SUM);
  f->post = tcc_node_attr_int(node, "post_transform", POST_NONE);
  if (f->aggregate < AGG_AVERAGE || f->aggregate > AGG_MAX) return invalid("aggregate_function must be 0 to 3");
  if (f->post < POST_NONE || f->post > POST_PROBIT) return invalid("post_transform must be 0 to 4");
  for (int64_t l = 0; l < f->num_leaves; l++)
    if (f->target[l] < 0) return invalid("leaf_targetids has a negative target");
  for (int64_t t = 0; t < f->num_trees; t++)
    if (f->roots[t] < 0 || f->roots[t] >= n) return invalid("tree_roots has an index outside nodes_*");
  f->set_begin = tcc_host_scratch(m, n, sizeof *f->set_begin);
  f->set_end = tcc_host_scratch(m, n, sizeof *f->set_end);
  if (!f->set_begin || !f->set_end) return tcc_status_oom();
  int64_t at = 0, num_members = f->members ? f->members->numel : 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t mode = tcc_tensor_get_int(f->modes, i);
    if (mode < BRANCH_LEQ || mode > BRANCH_MEMBER) return invalid("nodes_modes has a mode outside 0 to 6");
    if (f->feature[i] < 0) return invalid("nodes_featureids has a negative feature");
    if ((f->true_leaf[i] ? f->num_leaves : n) <= f->true_id[i] || f->true_id[i] < 0 ||
        (f->false_leaf[i] ? f->num_leaves : n) <= f->false_id[i] || f->false_id[i] < 0)
      return invalid("nodes_truenodeids / nodes_falsenodeids has an index outside the nodes or leaves");
    if (mode != BRANCH_MEMBER) continue;
    if (at >= num_members) return invalid("membership_values has fewer sets than there are BRANCH_MEMBER nodes");
    f->set_begin[i] = at;
    while (at < num_members && !isnan(tcc_tensor_get_float(f->members, at))) at++;
    f->set_end[i] = at++;
  }
  return NULL;
}

static bool branch_true(const forest_t *f, int64_t i, double v) {
  if (isnan(v) && f->missing_true && f->missing_true[i]) return true;
  double s = tcc_tensor_get_float(f->splits, i);
  switch (tcc_tensor_get_int(f->modes, i)) {
  case BRANCH_LEQ: return v <= s;
  case BRANCH_LT: return v < s;
  case BRANCH_GTE: return v >= s;
  case BRANCH_GT: return v > s;
  case BRANCH_EQ: return v == s;
  case BRANCH_NEQ: return v != s;
  default:
    for (int64_t k = f->set_begin[i]; k < f->set_end[i]; k++)
      if (tcc_tensor_get_float(f->members, k) == v) return true;
    return false;
  }
}

/* The leaf that row `row` of x reaches in the tree rooted at node `root`; -1 on a cycle. */
static int64_t find_leaf(const forest_t *f, const tcc_tensor_t *x, int64_t row, int64_t root) {
  int64_t i = root, features = x->dims[1];
  if (f->true_leaf[i] && f->false_leaf[i] && f->true_id[i] == f->false_id[i]) return f->true_id[i];
  for (int64_t steps = 0; steps <= f->num_nodes; steps++) {
    bool t = branch_true(f, i, tcc_tensor_get_float(x, row * features + f->feature[i]));
    if (t ? f->true_leaf[i] : f->false_leaf[i]) return t ? f->true_id[i] : f->false_id[i];
    i = t ? f->true_id[i] : f->false_id[i];
  }
  return -1;
}

/* onnxruntime's approximation of erf^-1 (Winitzki's, a = 0.147), which PROBIT is defined with. */
static double erf_inv(double x) {
  double sign = x < 0 ? -1 : 1, l = log((1 - x) * (1 + x));
  double a = 2 / (3.14159 * 0.147) + 0.5 * l, b = l / 0.147;
  return sign * sqrt(-a + sqrt(a * a - b));
}

static void post_transform(int64_t post, double *v, int64_t n) {
  if (post == POST_SOFTMAX || post == POST_SOFTMAX_ZERO) {
    double top = -INFINITY, sum = 0;
    for (int64_t j = 0; j < n; j++) top = fmax(top, v[j]);
    for (int64_t j = 0; j < n; j++) { /* SOFTMAX_ZERO leaves (near-)zero scores at zero */
      bool zero = post == POST_SOFTMAX_ZERO && fabs(v[j]) <= 1e-7;
      sum += v[j] = zero ? 0 : exp(v[j] - top);
    }
    for (int64_t j = 0; j < n && sum > 0; j++) v[j] /= sum;
  } else if (post == POST_LOGISTIC) {
    for (int64_t j = 0; j < n; j++) v[j] = 1 / (1 + exp(-v[j]));
  } else if (post == POST_PROBIT) {
    for (int64_t j = 0; j < n; j++) v[j] = 1.41421356 * erf_inv(2 * v[j] - 1);
  }
}

/* dst = src (f64) converted to dst's float type with the kernel evaluator's rounding. */
static tcc_status_t convert_from_f64(tcc_module_t *m, const tcc_tensor_t *src, tcc_tensor_t *dst) {
  if (dst->dtype != TCC_DTYPE_F64) return tcc_host_convert(m, src, dst, false);
  if (src->numel) memcpy((void *)dst->data, src->data, src->nbytes);
  return NULL;
}

/* Y[b, t] = the aggregate over the trees of the weights of the leaves row b reaches whose target is t,
 * then post_transform over each row. */
tcc_status_t tcc_host_tree_ensemble(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                    tcc_tensor_t **out) {
  const tcc_tensor_t *x = in[0];
  if (!x || x->rank != 2 || !tcc_dtype_is_float(x->dtype))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "input X must be a float tensor [N, F]");
  forest_t f;
  TCC_RETURN_IF_ERROR(read_forest(node, m, &f));
  const tcc_value_t *y = node->num_outputs > 0 ? node->outputs[0] : NULL;
  if (!y || y->type.rank != 2 || !tcc_dim_is_const(y->type.dims[1]))
    return tcc_status_make(TCC_INTERNAL, "the output's number of targets is unknown");
  int64_t rows = x->dims[0], targets = tcc_dim_value(y->type.dims[1]);
  for (int64_t l = 0; l < f.num_leaves; l++)
    if (f.target[l] >= targets) return invalid("leaf_targetids has a target beyond n_targets");
  for (int64_t i = 0; i < f.num_nodes; i++)
    if (f.feature[i] >= x->dims[1])
      return tcc_status_make(TCC_INVALID_ARGUMENT, "node %lld reads feature %lld of %lld", (long long)i,
                             (long long)f.feature[i], (long long)x->dims[1]);
  double top = x->dtype == TCC_DTYPE_F64 ? DBL_MAX : x->dtype == TCC_DTYPE_F16 ? 65504.0 : FLT_MAX;
  int64_t dims[2] = {rows, targets};
  tcc_tensor_t *acc = tcc_tensor_create(m, TCC_DTYPE_F64, 2, dims);
  if (!acc) return tcc_status_oom();
  double *a = (double *)acc->data;
  for (int64_t b = 0; b < rows; b++) {
    double *row = a + b * targets;
    for (int64_t t = 0; t < targets; t++) row[t] = f.aggregate == AGG_MIN ? top : f.aggregate == AGG_MAX ? -top : 0;
    for (int64_t t = 0; t < f.num_trees; t++) {
      int64_t leaf = find_leaf(&f, x, b, f.roots[t]);
      if (leaf < 0)
        return tcc_status_make(TCC_INVALID_MODEL, "the tree rooted at node %lld has a cycle", (long long)f.roots[t]);
      double w = tcc_tensor_get_float(f.weights, leaf), *r = &row[f.target[leaf]];
      *r = f.aggregate == AGG_MIN ? fmin(*r, w) : f.aggregate == AGG_MAX ? fmax(*r, w) : *r + w;
    }
    if (f.aggregate == AGG_AVERAGE && f.num_trees)
      for (int64_t t = 0; t < targets; t++) row[t] /= (double)f.num_trees;
    post_transform(f.post, row, targets);
  }
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 0, x->dtype, 2, dims));
  return out[0] ? convert_from_f64(m, acc, out[0]) : NULL;
}
