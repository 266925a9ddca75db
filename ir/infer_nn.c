/* Shape and dtype inference for linear algebra, neural-network, signal-processing and data-dependent ops.
 * Spatial sizes use symbolic dim arithmetic, so dynamic batch and image dims stay symbolic. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/infer.h"

/* ---- helpers -------------------------------------------------------------------------------------- */

static tcc_module_t *mod(const tcc_node_t *n) { return n->graph->module; }

static const tcc_value_t *in_value(const tcc_node_t *n, int i) {
  return i >= 0 && i < n->num_inputs ? n->inputs[i] : NULL;
}

static tcc_dtype_t in_dtype(const tcc_node_t *n, int i) {
  const tcc_value_t *v = in_value(n, i);
  return v && v->type.kind == TCC_TYPE_TENSOR ? v->type.dtype : TCC_DTYPE_UNDEFINED;
}

static int in_rank(const tcc_node_t *n, int i) {
  const tcc_value_t *v = tcc_infer_input(n, i);
  return v ? v->type.rank : -1;
}

static bool has_output(const tcc_node_t *n, int i) { return i < n->num_outputs && n->outputs[i]; }

static tcc_status_t set_out(tcc_node_t *n, int i, tcc_dtype_t dt, int rank, const tcc_dim_t *const *dims) {
  if (!has_output(n, i)) return NULL;
  return tcc_value_set_tensor(n->outputs[i], dt, rank, dims);
}

static tcc_status_t set_unknown(tcc_node_t *n, int i, tcc_dtype_t dt) { return set_out(n, i, dt, -1, NULL); }

static const tcc_dim_t **new_dims(tcc_module_t *m, int n) {
  return tcc_module_alloc(m, (size_t)(n > 0 ? n : 1) * sizeof(const tcc_dim_t *));
}

static const tcc_dim_t *cdim(tcc_module_t *m, int64_t v) { return tcc_dim_const(m, v); }

static bool is_const(const tcc_dim_t *d) { return d && tcc_dim_is_const(d); }

static bool dim_is(const tcc_dim_t *d, int64_t v) { return is_const(d) && tcc_dim_value(d) == v; }

static long long val(const tcc_dim_t *d) { return (long long)tcc_dim_value(d); }

/* Checks the input and output counts; the first min_in inputs are required. */
static tcc_status_t check_arity(const tcc_node_t *n, int min_in, int max_in, int max_out) {
  if (n->num_inputs < min_in || n->num_inputs > max_in) {
    if (min_in == max_in) return tcc_infer_error(n, "expects %d inputs, got %d", min_in, n->num_inputs);
    return tcc_infer_error(n, "expects %d to %d inputs, got %d", min_in, max_in, n->num_inputs);
  }
  for (int i = 0; i < min_in; i++)
    if (!n->inputs[i]) return tcc_infer_error(n, "required input %d is missing", i);
  if (n->num_outputs < 1 || n->num_outputs > max_out)
    return tcc_infer_error(n, "expects 1 to %d outputs, got %d", max_out, n->num_outputs);
  return NULL;
}

/* Error when two dims that must be equal are different constants. */
static tcc_status_t same_dim(const tcc_node_t *n, const tcc_dim_t *a, const tcc_dim_t *b, const char *what) {
  if (is_const(a) && is_const(b) && a != b) return tcc_infer_error(n, "%s (%lld vs %lld)", what, val(a), val(b));
  return NULL;
}

/* Of two dims known to be equal, the more informative one. */
static const tcc_dim_t *pick(const tcc_dim_t *a, const tcc_dim_t *b) {
  if (!a) return b;
  if (!b || is_const(a)) return a;
  return is_const(b) ? b : a;
}

/* INTS attribute of exactly `count` values into a fresh array, or `def` everywhere when absent.
 * min_value: values below it are an error. */
static tcc_status_t ints_attr(const tcc_node_t *n, const char *name, int count, int64_t def, int64_t min_value,
                              int64_t **out) {
  const int64_t *v;
  int64_t c;
  int64_t *a = tcc_module_alloc(mod(n), (size_t)(count > 0 ? count : 1) * sizeof *a);
  if (!a) return tcc_status_oom();
  if (tcc_node_attr_ints(n, name, &v, &c)) {
    if (c != count) return tcc_infer_error(n, "attribute '%s' has %lld values, expected %d", name, (long long)c, count);
    for (int i = 0; i < count; i++) {
      if (v[i] < min_value)
        return tcc_infer_error(n, "attribute '%s'[%d] = %lld must be >= %lld", name, i, (long long)v[i],
                               (long long)min_value);
      a[i] = v[i];
    }
  } else {
    for (int i = 0; i < count; i++) a[i] = def;
  }
  *out = a;
  return NULL;
}

/* The contents of a scalar or one-element integer input as a dim, else NULL. */
static const tcc_dim_t *scalar_dim(const tcc_node_t *n, int i) {
  const tcc_value_t *v = in_value(n, i);
  if (!v) return NULL;
  if (v->shape_data_len == 1) return v->shape_data[0];
  const tcc_tensor_t *t = v->constant;
  if (t && t->numel == 1 && (tcc_dtype_is_int(t->dtype) || t->dtype == TCC_DTYPE_BOOL))
    return cdim(mod(n), tcc_tensor_get_int(t, 0));
  return NULL;
}

/* The known contents of a 1-D integer input as dims (*len of them), else NULL. */
static const tcc_dim_t *const *vector_dims(const tcc_node_t *n, int i, int64_t *len) {
  const tcc_value_t *v = in_value(n, i);
  if (!v) return NULL;
  if (v->shape_data_len >= 0) {
    *len = v->shape_data_len;
    return v->shape_data;
  }
  const int64_t *vals;
  int64_t c;
  if (!v->constant || !tcc_value_const_ints(v, &vals, &c)) return NULL;
  const tcc_dim_t **d = new_dims(mod(n), (int)c);
  if (!d) return NULL;
  for (int64_t k = 0; k < c; k++) d[k] = cdim(mod(n), vals[k]);
  *len = c;
  return d;
}

/* Number of elements of a 1-D input known from its type or contents, else -1. */
static int64_t vector_len(const tcc_node_t *n, int i) {
  const tcc_value_t *v = in_value(n, i);
  if (!v) return -1;
  if (v->constant) return v->constant->numel;
  if (v->shape_data_len >= 0) return v->shape_data_len;
  if (v->type.kind != TCC_TYPE_TENSOR) return -1;
  if (v->type.rank == 0) return 1;
  return v->type.rank == 1 && is_const(v->type.dims[0]) ? tcc_dim_value(v->type.dims[0]) : -1;
}

/* An omitted optional input, or one known to hold no elements (older exporters wrote empty tensors). */
static bool input_empty(const tcc_node_t *n, int i) { return !in_value(n, i) || vector_len(n, i) == 0; }

/* Number of nonzero elements of a constant tensor (-1 when not constant). */
static int64_t count_nonzero(const tcc_value_t *v) {
  const tcc_tensor_t *t = v ? v->constant : NULL;
  if (!t || t->dtype == TCC_DTYPE_STRING) return -1;
  int64_t n = 0;
  for (int64_t i = 0; i < t->numel; i++) n += tcc_tensor_get_float(t, i) != 0.0;
  return n;
}

/* ---- matmul, gemm, einsum, det -------------------------------------------------------------------- */

tcc_status_t tcc_infer_matmul(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  int ia = 0, ib = 1;
  tcc_dtype_t dt = TCC_DTYPE_UNDEFINED;
  if (node->op == TCC_OP_MATMUL_INTEGER) {
    TCC_RETURN_IF_ERROR(check_arity(node, 2, 4, 1));
    dt = TCC_DTYPE_I32;
  } else if (node->op == TCC_OP_QLINEAR_MATMUL) {
    TCC_RETURN_IF_ERROR(check_arity(node, 8, 8, 1));
    ib = 3;
    dt = in_dtype(node, 7) ? in_dtype(node, 7) : in_dtype(node, 0);
  } else {
    TCC_RETURN_IF_ERROR(check_arity(node, 2, 2, 1));
    dt = in_dtype(node, 0);
  }
  const tcc_value_t *a = tcc_infer_input(node, ia), *b = tcc_infer_input(node, ib);
  if (!a || !b) return set_unknown(node, 0, dt);
  int ra = a->type.rank, rb = b->type.rank;
  if (ra == 0 || rb == 0) return tcc_infer_error(node, "operands must have rank >= 1 (got %d and %d)", ra, rb);
  const tcc_dim_t *ka = a->type.dims[ra - 1], *kb = b->type.dims[rb >= 2 ? rb - 2 : 0];
  TCC_RETURN_IF_ERROR(same_dim(node, ka, kb, "inner dimensions differ"));
  int ba = ra > 2 ? ra - 2 : 0, bb = rb > 2 ? rb - 2 : 0;
  const tcc_dim_t **out = new_dims(m, (ba > bb ? ba : bb) + 2);
  if (!out) return tcc_status_oom();
  int r = 0;
  TCC_RETURN_IF_ERROR(tcc_infer_broadcast(node, ba, a->type.dims, bb, b->type.dims, out, &r));
  if (ra >= 2) out[r++] = a->type.dims[ra - 2];
  if (rb >= 2) out[r++] = b->type.dims[rb - 1];
  return set_out(node, 0, dt, r, out);
}

tcc_status_t tcc_infer_gemm(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 2, 3, 1));
  tcc_dtype_t dt = in_dtype(node, 0);
  const tcc_value_t *a = tcc_infer_input(node, 0), *b = tcc_infer_input(node, 1), *c = tcc_infer_input(node, 2);
  if (a && a->type.rank != 2) return tcc_infer_error(node, "input A must have rank 2, got %d", a->type.rank);
  if (b && b->type.rank != 2) return tcc_infer_error(node, "input B must have rank 2, got %d", b->type.rank);
  int ta = tcc_node_attr_int(node, "transA", 0) != 0, tb = tcc_node_attr_int(node, "transB", 0) != 0;
  const tcc_dim_t *rows = a ? a->type.dims[ta] : tcc_dim_fresh(m), *cols = b ? b->type.dims[1 - tb] : tcc_dim_fresh(m);
  if (a && b) TCC_RETURN_IF_ERROR(same_dim(node, a->type.dims[1 - ta], b->type.dims[tb], "inner dimensions differ"));
  if (c) {
    int rc = c->type.rank;
    if (rc > 2) return tcc_infer_error(node, "input C must have rank <= 2, got %d", rc);
    const tcc_dim_t *target[2] = {rows, cols};
    for (int i = 0; i < rc; i++) {
      const tcc_dim_t *d = c->type.dims[i], *t = target[2 - rc + i];
      if (is_const(d) && !dim_is(d, 1) && is_const(t) && d != t)
        return tcc_infer_error(node, "input C dim %d (%lld) does not broadcast to %lld", i, val(d), val(t));
    }
  }
  const tcc_dim_t *out[2] = {rows, cols};
  return set_out(node, 0, dt, 2, out);
}

/* Unifies an einsum label's size with another occurrence; size-1 dims broadcast. */
static tcc_status_t einsum_label(const tcc_node_t *node, const tcc_dim_t **slot, const tcc_dim_t *d, char c) {
  const tcc_dim_t *s = *slot;
  if (!s || dim_is(s, 1))
    *slot = d;
  else if (s == d || dim_is(d, 1))
    return NULL;
  else if (is_const(s) && is_const(d))
    return tcc_infer_error(node, "einsum label '%c' has sizes %lld and %lld", c, val(s), val(d));
  else if (is_const(d))
    *slot = d;
  return NULL;
}

/* Parses one einsum term: counts its letters and whether it holds an ellipsis. */
static tcc_status_t einsum_term(const tcc_node_t *node, const char *t, size_t len, int *letters, bool *ell) {
  *letters = 0;
  *ell = false;
  for (size_t j = 0; j < len; j++) {
    if ((t[j] >= 'a' && t[j] <= 'z') || (t[j] >= 'A' && t[j] <= 'Z')) {
      (*letters)++;
    } else if (t[j] == '.' && j + 2 < len && t[j + 1] == '.' && t[j + 2] == '.' && !*ell) {
      *ell = true;
      j += 2;
    } else {
      return tcc_infer_error(node, "invalid einsum term '%.*s'", (int)len, t);
    }
  }
  return NULL;
}

tcc_status_t tcc_infer_einsum(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  if (node->num_inputs < 1 || node->num_outputs != 1)
    return tcc_infer_error(node, "expects at least 1 input and 1 output");
  for (int i = 0; i < node->num_inputs; i++)
    if (!node->inputs[i]) return tcc_infer_error(node, "input %d is missing", i);
  tcc_dtype_t dt = in_dtype(node, 0);
  const char *eq = tcc_node_attr_string(node, "equation", NULL);
  if (!eq) return tcc_infer_error(node, "attribute 'equation' is required");
  char *s = tcc_module_alloc(m, strlen(eq) + 1);
  if (!s) return tcc_status_oom();
  size_t len = 0;
  for (const char *p = eq; *p; p++)
    if (!isspace((unsigned char)*p)) s[len++] = *p;
  s[len] = 0;
  char *rhs = strstr(s, "->");
  if (rhs) {
    *rhs = 0;
    rhs += 2;
  }

  const tcc_dim_t *label[128] = {0};
  int count[128] = {0};
  int max_rank = 0;
  for (int i = 0; i < node->num_inputs; i++) {
    const tcc_value_t *v = tcc_infer_input(node, i);
    if (v && v->type.rank > max_rank) max_rank = v->type.rank;
  }
  const tcc_dim_t **ell = new_dims(m, max_rank), **tmp = new_dims(m, max_rank);
  if (!ell || !tmp) return tcc_status_oom();
  int ell_rank = 0;
  bool ell_known = true;
  const char *p = s;
  for (int t = 0;; t++) {
    const char *end = strchr(p, ',');
    size_t tlen = end ? (size_t)(end - p) : strlen(p);
    if (t >= node->num_inputs)
      return tcc_infer_error(node, "equation '%s' has more operands than the %d inputs", eq, node->num_inputs);
    int letters;
    bool has_ell;
    TCC_RETURN_IF_ERROR(einsum_term(node, p, tlen, &letters, &has_ell));
    const tcc_value_t *v = tcc_infer_input(node, t);
    int er = 0, d = 0;
    if (v) {
      er = has_ell ? v->type.rank - letters : 0;
      if (has_ell ? er < 0 : v->type.rank != letters)
        return tcc_infer_error(node, "input %d has rank %d but its einsum term '%.*s' has %d labels", t, v->type.rank,
                               (int)tlen, p, letters);
    } else if (has_ell) {
      ell_known = false;
    }
    for (size_t j = 0; j < tlen; j++) {
      unsigned char c = (unsigned char)p[j];
      if (c == '.') {
        j += 2;
        if (v) {
          int r;
          TCC_RETURN_IF_ERROR(tcc_infer_broadcast(node, ell_rank, ell, er, v->type.dims + d, tmp, &r));
          memcpy(ell, tmp, (size_t)r * sizeof *ell);
          ell_rank = r;
          d += er;
        }
        continue;
      }
      count[c]++;
      if (v) TCC_RETURN_IF_ERROR(einsum_label(node, &label[c], v->type.dims[d++], (char)c));
    }
    if (!end) {
      if (t + 1 != node->num_inputs)
        return tcc_infer_error(node, "equation '%s' has %d operands but the node has %d inputs", eq, t + 1,
                               node->num_inputs);
      break;
    }
    p = end + 1;
  }

  const tcc_dim_t **out = new_dims(m, max_rank + 128);
  if (!out) return tcc_status_oom();
  int r = 0;
  if (rhs) {
    int letters;
    bool has_ell;
    TCC_RETURN_IF_ERROR(einsum_term(node, rhs, strlen(rhs), &letters, &has_ell));
    int seen[128] = {0};
    for (const char *q = rhs; *q; q++) {
      unsigned char c = (unsigned char)*q;
      if (c == '.') continue;
      if (!count[c]) return tcc_infer_error(node, "einsum output label '%c' does not appear in the inputs", c);
      if (seen[c]++) return tcc_infer_error(node, "einsum output label '%c' appears more than once", c);
    }
    if (has_ell && !ell_known) return set_unknown(node, 0, dt);
    for (const char *q = rhs; *q; q++) {
      unsigned char c = (unsigned char)*q;
      if (c == '.') {
        for (int k = 0; k < ell_rank; k++) out[r++] = ell[k];
        q += 2;
        continue;
      }
      if (!label[c]) label[c] = tcc_dim_fresh(m);
      out[r++] = label[c];
    }
  } else {
    if (!ell_known) return set_unknown(node, 0, dt);
    for (int k = 0; k < ell_rank; k++) out[r++] = ell[k];
    for (int c = 0; c < 128; c++) {
      if (count[c] != 1) continue;
      if (!label[c]) label[c] = tcc_dim_fresh(m);
      out[r++] = label[c];
    }
  }
  return set_out(node, 0, dt, r, out);
}

tcc_status_t tcc_infer_det(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_arity(node, 1, 1, 1));
  tcc_dtype_t dt = in_dtype(node, 0);
  const tcc_value_t *x = tcc_infer_input(node, 0);
  if (!x) return set_unknown(node, 0, dt);
  int r = x->type.rank;
  if (r < 2) return tcc_infer_error(node, "input must have rank >= 2, got %d", r);
  TCC_RETURN_IF_ERROR(same_dim(node, x->type.dims[r - 2], x->type.dims[r - 1], "matrices are not square"));
  return set_out(node, 0, dt, r - 2, x->type.dims);
}

/* ---- convolution and pooling windows -------------------------------------------------------------- */

enum { PAD_NOTSET, PAD_VALID, PAD_SAME_UPPER, PAD_SAME_LOWER };

typedef struct {
  int n;                    /* spatial rank */
  const tcc_dim_t **kernel; /* kernel sizes (undilated); NULL entries when unknown */
  int64_t *strides, *dilations, *pads;
  int auto_pad;
  bool ceil_mode;
} window_t;

static tcc_status_t read_auto_pad(const tcc_node_t *node, int *out) {
  const char *s = tcc_node_attr_string(node, "auto_pad", "NOTSET");
  if (!strcmp(s, "NOTSET") || !*s)
    *out = PAD_NOTSET;
  else if (!strcmp(s, "VALID"))
    *out = PAD_VALID;
  else if (!strcmp(s, "SAME_UPPER"))
    *out = PAD_SAME_UPPER;
  else if (!strcmp(s, "SAME_LOWER"))
    *out = PAD_SAME_LOWER;
  else
    return tcc_infer_error(node, "invalid auto_pad '%s'", s);
  return NULL;
}

/* Reads kernel_shape (checked against wkernel, the weight's spatial dims, when both are known), strides,
 * dilations, pads, auto_pad and ceil_mode for n spatial dims. */
static tcc_status_t read_window(const tcc_node_t *node, int n, const tcc_dim_t *const *wkernel, bool need_kernel,
                                window_t *w) {
  tcc_module_t *m = mod(node);
  w->n = n;
  w->kernel = new_dims(m, n);
  if (!w->kernel) return tcc_status_oom();
  const int64_t *ks;
  int64_t kc;
  if (tcc_node_attr_ints(node, "kernel_shape", &ks, &kc)) {
    if (kc != n)
      return tcc_infer_error(node, "attribute 'kernel_shape' has %lld values for %d spatial dims", (long long)kc, n);
    for (int i = 0; i < n; i++) {
      if (ks[i] <= 0) return tcc_infer_error(node, "kernel_shape[%d] = %lld must be positive", i, (long long)ks[i]);
      w->kernel[i] = cdim(m, ks[i]);
      if (wkernel)
        TCC_RETURN_IF_ERROR(same_dim(node, w->kernel[i], wkernel[i], "kernel_shape differs from the weight"));
    }
  } else if (wkernel) {
    for (int i = 0; i < n; i++) w->kernel[i] = wkernel[i];
  } else if (need_kernel) {
    return tcc_infer_error(node, "attribute 'kernel_shape' is required");
  }
  TCC_RETURN_IF_ERROR(ints_attr(node, "strides", n, 1, 1, &w->strides));
  TCC_RETURN_IF_ERROR(ints_attr(node, "dilations", n, 1, 1, &w->dilations));
  TCC_RETURN_IF_ERROR(ints_attr(node, "pads", 2 * n, 0, 0, &w->pads));
  TCC_RETURN_IF_ERROR(read_auto_pad(node, &w->auto_pad));
  w->ceil_mode = tcc_node_attr_int(node, "ceil_mode", 0) != 0;
  return NULL;
}

/* (k - 1) * dilation + 1 */
static const tcc_dim_t *dilated(tcc_module_t *m, const tcc_dim_t *k, int64_t dilation) {
  return tcc_dim_add(m, tcc_dim_mul(m, cdim(m, dilation), tcc_dim_sub(m, k, cdim(m, 1))), cdim(m, 1));
}

/* Output size of spatial axis i of a convolution or pooling window over an input of size `in`. */
static tcc_status_t window_out(const tcc_node_t *node, const window_t *w, int i, const tcc_dim_t *in,
                               const tcc_dim_t **out) {
  tcc_module_t *m = mod(node);
  int64_t s = w->strides[i];
  if (w->auto_pad == PAD_SAME_UPPER || w->auto_pad == PAD_SAME_LOWER) {
    *out = tcc_dim_ceildiv(m, in, s);
    return NULL;
  }
  if (!w->kernel[i]) {
    *out = tcc_dim_fresh(m);
    return NULL;
  }
  int64_t pb = w->auto_pad == PAD_VALID ? 0 : w->pads[i], pe = w->auto_pad == PAD_VALID ? 0 : w->pads[i + w->n];
  const tcc_dim_t *effk = dilated(m, w->kernel[i], w->dilations[i]);
  const tcc_dim_t *span = tcc_dim_sub(m, tcc_dim_add(m, in, cdim(m, pb + pe)), effk);
  if (is_const(span) && tcc_dim_value(span) < 0)
    return tcc_infer_error(node, "the kernel window exceeds the padded input by %lld on spatial axis %d", -val(span),
                           i);
  if (!w->ceil_mode) {
    *out = tcc_dim_add(m, tcc_dim_floordiv(m, span, s), cdim(m, 1));
    return NULL;
  }
  /* ceil mode; the last window must start inside the input or its leading padding */
  const tcc_dim_t *o = tcc_dim_add(m, tcc_dim_ceildiv(m, span, s), cdim(m, 1));
  if (is_const(o) && is_const(in)) {
    if ((tcc_dim_value(o) - 1) * s >= tcc_dim_value(in) + pb) o = cdim(m, tcc_dim_value(o) - 1);
  } else if (!(is_const(effk) && pe + s - 1 < tcc_dim_value(effk))) {
    o = tcc_dim_fresh(m);
  }
  *out = o;
  return NULL;
}

/* Checks a 1-D per-channel input (bias, scale, mean...) against the channel count. */
static tcc_status_t check_channels(const tcc_node_t *node, int i, const tcc_dim_t *channels, const char *what) {
  const tcc_value_t *v = tcc_infer_input(node, i);
  if (!v) return NULL;
  if (v->type.rank != 1) return tcc_infer_error(node, "%s must have rank 1, got %d", what, v->type.rank);
  if (is_const(v->type.dims[0]) && is_const(channels) && v->type.dims[0] != channels)
    return tcc_infer_error(node, "%s has %lld elements for %lld channels", what, val(v->type.dims[0]), val(channels));
  return NULL;
}

/* The checks conv and conv_transpose share: ranks of X and W (weight layout named in `w_layout`), the
 * group, and the number of spatial dims (*n = -1 when neither rank is known). */
static tcc_status_t conv_ranks(const tcc_node_t *node, const tcc_value_t *x, const tcc_value_t *w,
                               const char *w_layout, int64_t *group, int *n) {
  int rx = x ? x->type.rank : -1, rw = w ? w->type.rank : -1;
  if (rx >= 0 && rx < 3) return tcc_infer_error(node, "input X must have rank >= 3 (N, C, spatial...), got %d", rx);
  if (rw >= 0 && rw < 3) return tcc_infer_error(node, "weight W must have rank >= 3 (%s), got %d", w_layout, rw);
  if (rx >= 0 && rw >= 0 && rx != rw) return tcc_infer_error(node, "input rank %d and weight rank %d differ", rx, rw);
  *group = tcc_node_attr_int(node, "group", 1);
  if (*group < 1) return tcc_infer_error(node, "group %lld must be positive", (long long)*group);
  *n = rx >= 0 ? rx - 2 : rw >= 0 ? rw - 2 : -1;
  return NULL;
}

/* Conv (and max/average pooling when w is NULL) in a layout other than NCHW: NHWC (x [N, spatial..., C],
 * w [M, k..., C/group]) or NCHW<b>c (x [N, C/b, spatial..., b], w [M/b, (C/group)/ci, k..., ci, b]); the
 * output in the same layout. */
static tcc_status_t infer_in_layout(tcc_node_t *node, int block, bool is_conv) {
  tcc_module_t *m = mod(node);
  tcc_dtype_t dt = in_dtype(node, 0);
  const tcc_value_t *x = tcc_infer_input(node, 0), *w = is_conv ? tcc_infer_input(node, 1) : NULL;
  if (!x || (is_conv && !w)) return set_unknown(node, 0, dt);
  int extra = block > 0 ? 3 : 2, r = x->type.rank, n = r - extra, sp0 = block > 0 ? 2 : 1;
  if (n < 1) return tcc_infer_error(node, "input must have rank >= %d in its layout, got %d", extra + 1, r);
  if (block > 0 && !dim_is(x->type.dims[r - 1], block))
    return tcc_infer_error(node, "the input's last dim is not the layout's block %d", block);
  if (is_conv && w->type.rank != n + (block > 0 ? 4 : 2))
    return tcc_infer_error(node, "weight rank %d does not match the layout", w->type.rank);
  window_t win;
  TCC_RETURN_IF_ERROR(read_window(node, n, is_conv ? w->type.dims + sp0 : NULL, !is_conv, &win));
  const tcc_dim_t **out = new_dims(m, r);
  if (!out) return tcc_status_oom();
  out[0] = x->type.dims[0];
  if (block > 0) out[1] = is_conv ? w->type.dims[0] : x->type.dims[1], out[r - 1] = x->type.dims[r - 1];
  else out[r - 1] = is_conv ? w->type.dims[0] : x->type.dims[r - 1];
  for (int i = 0; i < n; i++) TCC_RETURN_IF_ERROR(window_out(node, &win, i, x->type.dims[sp0 + i], &out[sp0 + i]));
  return set_out(node, 0, dt, r, out);
}

tcc_status_t tcc_infer_conv(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  int iw = 1, ib = 2, block;
  TCC_RETURN_IF_ERROR(tcc_infer_layout(node, &block));
  if (block) {
    if (node->op != TCC_OP_CONV) return tcc_infer_error(node, "a layout other than NCHW is for conv only");
    TCC_RETURN_IF_ERROR(check_arity(node, 2, 3, 1));
    return infer_in_layout(node, block, true);
  }
  tcc_dtype_t dt = in_dtype(node, 0);
  switch (node->op) {
    case TCC_OP_CONV_INTEGER:
      TCC_RETURN_IF_ERROR(check_arity(node, 2, 4, 1));
      dt = TCC_DTYPE_I32;
      ib = -1;
      break;
    case TCC_OP_QLINEAR_CONV:
      TCC_RETURN_IF_ERROR(check_arity(node, 8, 9, 1));
      iw = 3;
      ib = 8;
      if (in_dtype(node, 7)) dt = in_dtype(node, 7);
      break;
    case TCC_OP_DEFORM_CONV:
      TCC_RETURN_IF_ERROR(check_arity(node, 3, 5, 1));
      ib = 3;
      break;
    default:
      TCC_RETURN_IF_ERROR(check_arity(node, 2, 3, 1));
  }
  const tcc_value_t *x = tcc_infer_input(node, 0), *w = tcc_infer_input(node, iw);
  int64_t group;
  int n;
  TCC_RETURN_IF_ERROR(conv_ranks(node, x, w, "M, C/group, k...", &group, &n));
  if (n < 0) return set_unknown(node, 0, dt);
  window_t win;
  TCC_RETURN_IF_ERROR(read_window(node, n, w ? w->type.dims + 2 : NULL, false, &win));
  const tcc_dim_t *mch = w ? w->type.dims[0] : tcc_dim_fresh(m);
  if (x && w) {
    const tcc_dim_t *c = x->type.dims[1], *wc = w->type.dims[1];
    if (is_const(c) && is_const(wc) && val(c) != val(wc) * group)
      return tcc_infer_error(node, "input has %lld channels but the weight expects %lld (%lld per group x %lld groups)",
                             val(c), val(wc) * group, val(wc), (long long)group);
  }
  if (is_const(mch) && tcc_dim_value(mch) % group)
    return tcc_infer_error(node, "weight has %lld output channels, not divisible by group %lld", val(mch),
                           (long long)group);
  if (ib >= 0) TCC_RETURN_IF_ERROR(check_channels(node, ib, mch, "bias"));
  const tcc_dim_t **out = new_dims(m, n + 2);
  if (!out) return tcc_status_oom();
  out[0] = x ? x->type.dims[0] : tcc_dim_fresh(m);
  out[1] = mch;
  for (int i = 0; i < n; i++) {
    if (x)
      TCC_RETURN_IF_ERROR(window_out(node, &win, i, x->type.dims[2 + i], &out[2 + i]));
    else
      out[2 + i] = tcc_dim_fresh(m);
  }
  return set_out(node, 0, dt, n + 2, out);
}

tcc_status_t tcc_infer_conv_transpose(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 2, 3, 1));
  tcc_dtype_t dt = in_dtype(node, 0);
  const tcc_value_t *x = tcc_infer_input(node, 0), *w = tcc_infer_input(node, 1);
  int64_t group;
  int n;
  TCC_RETURN_IF_ERROR(conv_ranks(node, x, w, "C, M/group, k...", &group, &n));
  if (n < 0) return set_unknown(node, 0, dt);
  window_t win;
  TCC_RETURN_IF_ERROR(read_window(node, n, w ? w->type.dims + 2 : NULL, false, &win));
  int64_t *opad;
  TCC_RETURN_IF_ERROR(ints_attr(node, "output_padding", n, 0, 0, &opad));
  if (x && w)
    TCC_RETURN_IF_ERROR(same_dim(node, x->type.dims[1], w->type.dims[0], "input channels differ from the weight's"));
  const tcc_dim_t *cin = x ? x->type.dims[1] : w ? w->type.dims[0] : NULL;
  if (is_const(cin) && tcc_dim_value(cin) % group)
    return tcc_infer_error(node, "%lld input channels are not divisible by group %lld", val(cin), (long long)group);
  const tcc_dim_t *mch = w ? tcc_dim_mul(m, w->type.dims[1], cdim(m, group)) : tcc_dim_fresh(m);
  TCC_RETURN_IF_ERROR(check_channels(node, 2, mch, "bias"));
  const tcc_dim_t **out = new_dims(m, n + 2);
  if (!out) return tcc_status_oom();
  out[0] = x ? x->type.dims[0] : tcc_dim_fresh(m);
  out[1] = mch;
  const int64_t *os;
  int64_t oc;
  if (tcc_node_attr_ints(node, "output_shape", &os, &oc)) {
    if (oc != n && oc != n + 2)
      return tcc_infer_error(node, "attribute 'output_shape' has %lld values for %d spatial dims", (long long)oc, n);
    for (int i = 0; i < n; i++) {
      if (os[oc - n + i] <= 0)
        return tcc_infer_error(node, "output_shape[%d] = %lld must be positive", i, (long long)os[oc - n + i]);
      out[2 + i] = cdim(m, os[oc - n + i]);
    }
    return set_out(node, 0, dt, n + 2, out);
  }
  for (int i = 0; i < n; i++) {
    if (!x) {
      out[2 + i] = tcc_dim_fresh(m);
      continue;
    }
    const tcc_dim_t *in = x->type.dims[2 + i];
    int64_t s = win.strides[i];
    if (win.auto_pad == PAD_SAME_UPPER || win.auto_pad == PAD_SAME_LOWER) {
      out[2 + i] = tcc_dim_mul(m, in, cdim(m, s));
      continue;
    }
    if (!win.kernel[i]) {
      out[2 + i] = tcc_dim_fresh(m);
      continue;
    }
    int64_t pads = win.auto_pad == PAD_VALID ? 0 : win.pads[i] + win.pads[i + n];
    /* stride * (in - 1) + output_padding + (k - 1) * dilation + 1 - pads */
    const tcc_dim_t *o = tcc_dim_mul(m, cdim(m, s), tcc_dim_sub(m, in, cdim(m, 1)));
    o = tcc_dim_add(m, o, dilated(m, win.kernel[i], win.dilations[i]));
    o = tcc_dim_add(m, o, cdim(m, opad[i] - pads));
    if (is_const(o) && tcc_dim_value(o) <= 0)
      return tcc_infer_error(node, "output spatial axis %d would have size %lld", i, val(o));
    out[2 + i] = o;
  }
  return set_out(node, 0, dt, n + 2, out);
}

tcc_status_t tcc_infer_pool(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 1, 1, node->op == TCC_OP_MAX_POOL ? 2 : 1));
  int block;
  TCC_RETURN_IF_ERROR(tcc_infer_layout(node, &block));
  if (block) {
    if (node->op == TCC_OP_LP_POOL || (node->num_outputs > 1 && node->outputs[1]))
      return tcc_infer_error(node, "a layout other than NCHW is for max_pool without Indices and average_pool only");
    return infer_in_layout(node, block, false);
  }
  tcc_dtype_t dt = in_dtype(node, 0);
  const tcc_value_t *x = tcc_infer_input(node, 0);
  if (!x) {
    TCC_RETURN_IF_ERROR(set_unknown(node, 0, dt));
    return set_unknown(node, 1, TCC_DTYPE_I64);
  }
  int r = x->type.rank;
  if (r < 3) return tcc_infer_error(node, "input must have rank >= 3 (N, C, spatial...), got %d", r);
  window_t win;
  TCC_RETURN_IF_ERROR(read_window(node, r - 2, NULL, true, &win));
  const tcc_dim_t **out = new_dims(m, r);
  if (!out) return tcc_status_oom();
  out[0] = x->type.dims[0];
  out[1] = x->type.dims[1];
  for (int i = 0; i < r - 2; i++) TCC_RETURN_IF_ERROR(window_out(node, &win, i, x->type.dims[2 + i], &out[2 + i]));
  TCC_RETURN_IF_ERROR(set_out(node, 0, dt, r, out));
  return set_out(node, 1, TCC_DTYPE_I64, r, out);
}

tcc_status_t tcc_infer_global_pool(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 1, 1, 1));
  tcc_dtype_t dt = in_dtype(node, 0);
  const tcc_value_t *x = tcc_infer_input(node, 0);
  if (!x) return set_unknown(node, 0, dt);
  int r = x->type.rank;
  if (r < 2) return tcc_infer_error(node, "input must have rank >= 2 (N, C, spatial...), got %d", r);
  const tcc_dim_t **out = new_dims(m, r);
  if (!out) return tcc_status_oom();
  for (int i = 0; i < r; i++) out[i] = i < 2 ? x->type.dims[i] : cdim(m, 1);
  return set_out(node, 0, dt, r, out);
}

tcc_status_t tcc_infer_max_unpool(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 2, 3, 1));
  tcc_dtype_t dt = in_dtype(node, 0);
  const tcc_value_t *x = tcc_infer_input(node, 0);
  int r = x ? x->type.rank : -1;
  if (r >= 0 && r < 3) return tcc_infer_error(node, "input must have rank >= 3 (N, C, spatial...), got %d", r);
  if (in_value(node, 2)) {
    int64_t len = -1;
    const tcc_dim_t *const *shape = vector_dims(node, 2, &len);
    if (!shape) len = vector_len(node, 2);
    if (len >= 0 && r >= 0 && len != r)
      return tcc_infer_error(node, "output_shape has %lld values for an input of rank %d", (long long)len, r);
    if (shape) return set_out(node, 0, dt, (int)len, shape);
    if (len < 0) return set_unknown(node, 0, dt);
    const tcc_dim_t **out = new_dims(m, (int)len);
    if (!out) return tcc_status_oom();
    for (int i = 0; i < len; i++) out[i] = x && i < 2 ? x->type.dims[i] : tcc_dim_fresh(m);
    return set_out(node, 0, dt, (int)len, out);
  }
  if (!x) return set_unknown(node, 0, dt);
  window_t win;
  TCC_RETURN_IF_ERROR(read_window(node, r - 2, NULL, true, &win));
  const tcc_dim_t **out = new_dims(m, r);
  if (!out) return tcc_status_oom();
  out[0] = x->type.dims[0];
  out[1] = x->type.dims[1];
  for (int i = 0; i < r - 2; i++) {
    /* (in - 1) * stride + kernel - pads */
    const tcc_dim_t *o = tcc_dim_mul(m, tcc_dim_sub(m, x->type.dims[2 + i], cdim(m, 1)), cdim(m, win.strides[i]));
    o = tcc_dim_add(m, tcc_dim_add(m, o, win.kernel[i]), cdim(m, -win.pads[i] - win.pads[i + r - 2]));
    if (is_const(o) && tcc_dim_value(o) <= 0)
      return tcc_infer_error(node, "output spatial axis %d would have size %lld", i, val(o));
    out[2 + i] = o;
  }
  return set_out(node, 0, dt, r, out);
}

/* ---- normalization -------------------------------------------------------------------------------- */

tcc_status_t tcc_infer_batch_normalization(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_arity(node, 5, 5, 3));
  tcc_dtype_t dt = in_dtype(node, 0);
  const tcc_value_t *x = tcc_infer_input(node, 0);
  if (!x) {
    TCC_RETURN_IF_ERROR(set_unknown(node, 0, dt));
    TCC_RETURN_IF_ERROR(set_out(node, 1, in_dtype(node, 3), 1, (const tcc_dim_t *[]){tcc_dim_fresh(mod(node))}));
    return set_out(node, 2, in_dtype(node, 4), 1, (const tcc_dim_t *[]){tcc_dim_fresh(mod(node))});
  }
  if (x->type.rank < 2) return tcc_infer_error(node, "input must have rank >= 2 (N, C, ...), got %d", x->type.rank);
  const tcc_dim_t *c = x->type.dims[1];
  static const char *const names[] = {"", "scale", "bias", "mean", "var"};
  for (int i = 1; i < 5; i++) TCC_RETURN_IF_ERROR(check_channels(node, i, c, names[i]));
  TCC_RETURN_IF_ERROR(set_out(node, 0, dt, x->type.rank, x->type.dims));
  TCC_RETURN_IF_ERROR(set_out(node, 1, in_dtype(node, 3), 1, &c));
  return set_out(node, 2, in_dtype(node, 4), 1, &c);
}

tcc_status_t tcc_infer_layer_normalization(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  bool rms = node->op == TCC_OP_RMS_NORMALIZATION;
  TCC_RETURN_IF_ERROR(rms ? check_arity(node, 2, 2, 1) : check_arity(node, 2, 3, 3));
  tcc_dtype_t dt = in_dtype(node, 0);
  int64_t stash = tcc_node_attr_int(node, "stash_type", TCC_DTYPE_F32);
  if (!tcc_dtype_is_valid((int)stash) || !tcc_dtype_is_float((tcc_dtype_t)stash))
    return tcc_infer_error(node, "invalid stash_type %lld", (long long)stash);
  const tcc_value_t *x = tcc_infer_input(node, 0);
  if (!x) {
    TCC_RETURN_IF_ERROR(set_unknown(node, 0, dt));
    TCC_RETURN_IF_ERROR(set_unknown(node, 1, (tcc_dtype_t)stash));
    return set_unknown(node, 2, (tcc_dtype_t)stash);
  }
  int r = x->type.rank, axis;
  TCC_RETURN_IF_ERROR(tcc_infer_axis(node, tcc_node_attr_int(node, "axis", -1), r, &axis));
  TCC_RETURN_IF_ERROR(set_out(node, 0, dt, r, x->type.dims));
  const tcc_dim_t **red = new_dims(m, r);
  if (!red) return tcc_status_oom();
  for (int i = 0; i < r; i++) red[i] = i < axis ? x->type.dims[i] : cdim(m, 1);
  TCC_RETURN_IF_ERROR(set_out(node, 1, (tcc_dtype_t)stash, r, red));
  return set_out(node, 2, (tcc_dtype_t)stash, r, red);
}

/* ---- resampling and spatial rearrangement --------------------------------------------------------- */

/* A computed output size as a constant dim: an error naming the node when it is not a size in [0, 2^62). */
static tcc_status_t size_dim(tcc_node_t *node, double v, int axis, const tcc_dim_t **out) {
  if (!(v >= 0 && v < 0x1p62)) return tcc_infer_error(node, "output size %g along axis %d is out of range", v, axis);
  *out = cdim(mod(node), (int64_t)v);
  return NULL;
}

/* floor(in * scale) as a dim: exact for constant inputs, integral scales and reciprocal powers of two. */
static tcc_status_t scaled_dim(tcc_node_t *node, const tcc_dim_t *in, double scale, int axis, const tcc_dim_t **out) {
  tcc_module_t *m = mod(node);
  if (is_const(in)) return size_dim(node, floor((double)tcc_dim_value(in) * scale), axis, out);
  if (scale >= 1 && scale == floor(scale) && scale < 1e9) {
    *out = tcc_dim_mul(m, in, cdim(m, (int64_t)scale));
    return NULL;
  }
  double inv = 1.0 / scale;
  if (scale < 1 && inv == floor(inv) && inv < 1e9 && ((int64_t)inv & ((int64_t)inv - 1)) == 0)
    *out = tcc_dim_floordiv(m, in, (int64_t)inv);
  else
    *out = tcc_dim_fresh(m);
  return NULL;
}

tcc_status_t tcc_infer_resize(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 1, 4, 1));
  tcc_dtype_t dt = in_dtype(node, 0);
  bool has_scales = !input_empty(node, 2), has_sizes = !input_empty(node, 3);
  if (has_scales && has_sizes) return tcc_infer_error(node, "only one of 'scales' and 'sizes' may be given");
  const char *policy = tcc_node_attr_string(node, "keep_aspect_ratio_policy", "stretch");
  int keep = !strcmp(policy, "stretch")       ? 0
             : !strcmp(policy, "not_larger")  ? 1
             : !strcmp(policy, "not_smaller") ? 2
                                              : -1;
  if (keep < 0) return tcc_infer_error(node, "invalid keep_aspect_ratio_policy '%s'", policy);
  const tcc_value_t *x = tcc_infer_input(node, 0);
  int64_t given = has_scales ? vector_len(node, 2) : has_sizes ? vector_len(node, 3) : -1;
  const int64_t *axes_attr;
  int64_t naxes;
  bool has_axes = tcc_node_attr_ints(node, "axes", &axes_attr, &naxes);
  int r = x ? x->type.rank : !has_axes && given >= 0 ? (int)given : -1;
  if (r < 0) return set_unknown(node, 0, dt);
  if (!has_axes) naxes = r;
  int *axes = tcc_module_alloc(m, (size_t)(naxes > 0 ? naxes : 1) * sizeof *axes);
  if (!axes) return tcc_status_oom();
  for (int i = 0; i < naxes; i++) {
    if (has_axes)
      TCC_RETURN_IF_ERROR(tcc_infer_axis(node, axes_attr[i], r, &axes[i]));
    else
      axes[i] = i;
    for (int j = 0; j < i; j++)
      if (axes[j] == axes[i]) return tcc_infer_error(node, "axis %d appears twice in 'axes'", axes[i]);
  }
  if (given >= 0 && given != naxes)
    return tcc_infer_error(node, "%s has %lld values for %lld axes", has_scales ? "scales" : "sizes", (long long)given,
                           (long long)naxes);
  const tcc_dim_t **out = new_dims(m, r);
  if (!out) return tcc_status_oom();
  for (int i = 0; i < r; i++) out[i] = x ? x->type.dims[i] : tcc_dim_fresh(m);
  if (has_sizes) {
    int64_t len = -1;
    const tcc_dim_t *const *sizes = vector_dims(node, 3, &len);
    if (sizes && len != naxes)
      return tcc_infer_error(node, "sizes has %lld values for %lld axes", (long long)len, (long long)naxes);
    if (sizes && keep) {
      /* one scale for every axis: the smallest (not_larger) or largest (not_smaller) ratio */
      double scale = keep == 1 ? INFINITY : 0;
      bool known = true;
      for (int i = 0; i < naxes && known; i++) {
        const tcc_dim_t *in = out[axes[i]];
        known = is_const(sizes[i]) && is_const(in) && tcc_dim_value(in) > 0;
        if (!known) break;
        double ratio = (double)tcc_dim_value(sizes[i]) / (double)tcc_dim_value(in);
        scale = keep == 1 ? fmin(scale, ratio) : fmax(scale, ratio);
      }
      for (int i = 0; i < naxes; i++) {
        if (known)
          TCC_RETURN_IF_ERROR(
              size_dim(node, floor(scale * (double)tcc_dim_value(out[axes[i]]) + 0.5), axes[i], &out[axes[i]]));
        else
          out[axes[i]] = tcc_dim_fresh(m);
      }
    } else {
      for (int i = 0; i < naxes; i++) {
        if (sizes && is_const(sizes[i]) && tcc_dim_value(sizes[i]) < 0)
          return tcc_infer_error(node, "sizes[%d] = %lld is negative", i, val(sizes[i]));
        out[axes[i]] = sizes ? sizes[i] : tcc_dim_fresh(m);
      }
    }
  } else if (has_scales) {
    const tcc_tensor_t *t = in_value(node, 2)->constant;
    for (int i = 0; i < naxes; i++) {
      if (!t) {
        out[axes[i]] = tcc_dim_fresh(m);
        continue;
      }
      double scale = tcc_tensor_get_float(t, i);
      if (!(scale > 0)) return tcc_infer_error(node, "scales[%d] = %g must be positive", i, scale);
      TCC_RETURN_IF_ERROR(scaled_dim(node, out[axes[i]], scale, axes[i], &out[axes[i]]));
    }
  } else {
    for (int i = 0; i < naxes; i++) out[axes[i]] = tcc_dim_fresh(m);
  }
  return set_out(node, 0, dt, r, out);
}

tcc_status_t tcc_infer_grid_sample(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 2, 2, 1));
  tcc_dtype_t dt = in_dtype(node, 0);
  const tcc_value_t *x = tcc_infer_input(node, 0), *g = tcc_infer_input(node, 1);
  int rx = x ? x->type.rank : -1, rg = g ? g->type.rank : -1;
  if (rx >= 0 && rx < 3) return tcc_infer_error(node, "input X must have rank >= 3 (N, C, spatial...), got %d", rx);
  if (rg >= 0 && rg < 3) return tcc_infer_error(node, "grid must have rank >= 3 (N, spatial..., n), got %d", rg);
  if (rx >= 0 && rg >= 0 && rx != rg) return tcc_infer_error(node, "input rank %d and grid rank %d differ", rx, rg);
  int r = rx >= 0 ? rx : rg;
  if (r < 0) return set_unknown(node, 0, dt);
  if (g && is_const(g->type.dims[r - 1]) && val(g->type.dims[r - 1]) != r - 2)
    return tcc_infer_error(node, "grid's last dim is %lld, expected %d", val(g->type.dims[r - 1]), r - 2);
  if (x && g) TCC_RETURN_IF_ERROR(same_dim(node, x->type.dims[0], g->type.dims[0], "batch sizes differ"));
  const tcc_dim_t **out = new_dims(m, r);
  if (!out) return tcc_status_oom();
  out[0] = pick(x ? x->type.dims[0] : NULL, g ? g->type.dims[0] : NULL);
  out[1] = x ? x->type.dims[1] : tcc_dim_fresh(m);
  for (int i = 2; i < r; i++) out[i] = g ? g->type.dims[i - 1] : tcc_dim_fresh(m);
  return set_out(node, 0, dt, r, out);
}

tcc_status_t tcc_infer_affine_grid(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 2, 2, 1));
  tcc_dtype_t dt = in_dtype(node, 0);
  const tcc_value_t *theta = tcc_infer_input(node, 0);
  if (theta && theta->type.rank != 3)
    return tcc_infer_error(node, "theta must have rank 3 (N, 2, 3) or (N, 3, 4), got %d", theta->type.rank);
  int64_t len = -1;
  const tcc_dim_t *const *size = vector_dims(node, 1, &len);
  if (!size) len = vector_len(node, 1);
  if (len < 0 && theta && is_const(theta->type.dims[1])) len = tcc_dim_value(theta->type.dims[1]) + 2;
  if (len < 0) return set_unknown(node, 0, dt);
  if (len != 4 && len != 5) return tcc_infer_error(node, "size must have 4 or 5 values, got %lld", (long long)len);
  int n = (int)len - 2;
  if (theta) {
    TCC_RETURN_IF_ERROR(same_dim(node, theta->type.dims[1], cdim(m, n), "theta's dim 1 does not match the size"));
    TCC_RETURN_IF_ERROR(same_dim(node, theta->type.dims[2], cdim(m, n + 1), "theta's dim 2 does not match the size"));
    if (size) TCC_RETURN_IF_ERROR(same_dim(node, theta->type.dims[0], size[0], "batch sizes differ"));
  }
  const tcc_dim_t *out[5];
  out[0] = pick(size ? size[0] : NULL, theta ? theta->type.dims[0] : NULL);
  if (!out[0]) out[0] = tcc_dim_fresh(m);
  for (int i = 0; i < n; i++) out[1 + i] = size ? size[2 + i] : tcc_dim_fresh(m);
  out[n + 1] = cdim(m, n);
  return set_out(node, 0, dt, n + 2, out);
}

tcc_status_t tcc_infer_roi_align(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 3, 3, 1));
  tcc_dtype_t dt = in_dtype(node, 0);
  const tcc_value_t *x = tcc_infer_input(node, 0), *rois = tcc_infer_input(node, 1), *bi = tcc_infer_input(node, 2);
  if (x && x->type.rank != 4)
    return tcc_infer_error(node, "input X must have rank 4 (N, C, H, W), got %d", x->type.rank);
  if (rois && rois->type.rank != 2) return tcc_infer_error(node, "rois must have rank 2, got %d", rois->type.rank);
  if (rois) TCC_RETURN_IF_ERROR(same_dim(node, rois->type.dims[1], cdim(m, 4), "rois must have 4 coordinates"));
  if (bi && bi->type.rank != 1) return tcc_infer_error(node, "batch_indices must have rank 1, got %d", bi->type.rank);
  if (rois && bi) TCC_RETURN_IF_ERROR(same_dim(node, rois->type.dims[0], bi->type.dims[0], "roi counts differ"));
  int64_t oh = tcc_node_attr_int(node, "output_height", 1), ow = tcc_node_attr_int(node, "output_width", 1);
  if (oh <= 0 || ow <= 0)
    return tcc_infer_error(node, "output size %lldx%lld must be positive", (long long)oh, (long long)ow);
  const tcc_dim_t *nr = pick(rois ? rois->type.dims[0] : NULL, bi ? bi->type.dims[0] : NULL);
  const tcc_dim_t *out[4] = {nr ? nr : tcc_dim_fresh(m), x ? x->type.dims[1] : tcc_dim_fresh(m), cdim(m, oh),
                             cdim(m, ow)};
  return set_out(node, 0, dt, 4, out);
}

tcc_status_t tcc_infer_col2im(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 3, 3, 1));
  tcc_dtype_t dt = in_dtype(node, 0);
  const tcc_value_t *x = tcc_infer_input(node, 0);
  if (x && x->type.rank != 3)
    return tcc_infer_error(node, "input must have rank 3 (N, C*prod(block_shape), L), got %d", x->type.rank);
  int64_t ilen = -1, blen = -1;
  const tcc_dim_t *const *image = vector_dims(node, 1, &ilen);
  if (!image) ilen = vector_len(node, 1);
  const int64_t *block = NULL;
  if (!tcc_value_const_ints(in_value(node, 2), &block, &blen)) {
    block = NULL;
    blen = vector_len(node, 2);
  }
  if (ilen >= 0 && blen >= 0 && ilen != blen)
    return tcc_infer_error(node, "image_shape has %lld values but block_shape has %lld", (long long)ilen,
                           (long long)blen);
  int n = (int)(ilen >= 0 ? ilen : blen);
  if (n < 0) return set_unknown(node, 0, dt);
  if (n == 0) return tcc_infer_error(node, "image_shape and block_shape must not be empty");
  int64_t *dil, *pads, *strides;
  TCC_RETURN_IF_ERROR(ints_attr(node, "dilations", n, 1, 1, &dil));
  TCC_RETURN_IF_ERROR(ints_attr(node, "pads", 2 * n, 0, 0, &pads));
  TCC_RETURN_IF_ERROR(ints_attr(node, "strides", n, 1, 1, &strides));
  const tcc_dim_t **out = new_dims(m, n + 2);
  if (!out) return tcc_status_oom();
  out[0] = x ? x->type.dims[0] : tcc_dim_fresh(m);
  out[1] = tcc_dim_fresh(m);
  if (block) {
    int64_t prod = 1;
    for (int i = 0; i < n; i++) {
      if (block[i] <= 0)
        return tcc_infer_error(node, "block_shape[%d] = %lld must be positive", i, (long long)block[i]);
      if (__builtin_mul_overflow(prod, block[i], &prod))
        return tcc_infer_error(node, "the product of block_shape overflows");
    }
    if (x) {
      const tcc_dim_t *cb = x->type.dims[1];
      if (is_const(cb) && tcc_dim_value(cb) % prod)
        return tcc_infer_error(node, "input dim 1 (%lld) is not divisible by the block size %lld", val(cb),
                               (long long)prod);
      const tcc_dim_t *c = tcc_dim_div_exact(m, cb, cdim(m, prod));
      out[1] = c ? c : tcc_dim_floordiv(m, cb, prod);
    }
  }
  for (int i = 0; i < n; i++) out[2 + i] = image ? image[i] : tcc_dim_fresh(m);
  /* the number of blocks L must match the image */
  if (x && image && block && is_const(x->type.dims[2])) {
    int64_t blocks = 1;
    for (int i = 0; i < n && blocks >= 0; i++) {
      int64_t span, effk;
      if (!is_const(image[i])) {
        blocks = -1;
      } else if (__builtin_mul_overflow(dil[i], block[i] - 1, &effk) ||
                 __builtin_add_overflow(tcc_dim_value(image[i]), pads[i], &span) ||
                 __builtin_add_overflow(span, pads[n + i], &span) || __builtin_sub_overflow(span, effk, &span) || __builtin_sub_overflow(span, 1, &span) ||
                 __builtin_mul_overflow(blocks, span / strides[i] + 1, &blocks)) {
        return tcc_infer_error(node, "the block count of spatial axis %d overflows", i);
      }
    }
    if (blocks >= 0 && blocks != tcc_dim_value(x->type.dims[2]))
      return tcc_infer_error(node, "input has %lld blocks but the image holds %lld", val(x->type.dims[2]),
                             (long long)blocks);
  }
  return set_out(node, 0, dt, n + 2, out);
}

static tcc_status_t space_depth(tcc_node_t *node, bool to_space) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 1, 1, 1));
  tcc_dtype_t dt = in_dtype(node, 0);
  int64_t b = tcc_node_attr_int(node, "blocksize", 0);
  if (b <= 0) return tcc_infer_error(node, "attribute 'blocksize' must be positive, got %lld", (long long)b);
  if (to_space) {
    const char *mode = tcc_node_attr_string(node, "mode", "DCR");
    if (strcmp(mode, "DCR") && strcmp(mode, "CRD")) return tcc_infer_error(node, "invalid mode '%s'", mode);
  }
  const tcc_value_t *x = tcc_infer_input(node, 0);
  if (!x) return set_unknown(node, 0, dt);
  if (x->type.rank != 4) return tcc_infer_error(node, "input must have rank 4 (N, C, H, W), got %d", x->type.rank);
  const tcc_dim_t *const *d = x->type.dims;
  const tcc_dim_t *out[4] = {d[0]};
  const tcc_dim_t *bb = cdim(m, b * b);
  if (to_space) {
    if (is_const(d[1]) && tcc_dim_value(d[1]) % (b * b))
      return tcc_infer_error(node, "channels (%lld) are not divisible by blocksize^2 (%lld)", val(d[1]),
                             (long long)(b * b));
    const tcc_dim_t *c = tcc_dim_div_exact(m, d[1], bb);
    out[1] = c ? c : tcc_dim_floordiv(m, d[1], b * b);
    out[2] = tcc_dim_mul(m, d[2], cdim(m, b));
    out[3] = tcc_dim_mul(m, d[3], cdim(m, b));
  } else {
    for (int i = 2; i < 4; i++) {
      if (is_const(d[i]) && tcc_dim_value(d[i]) % b)
        return tcc_infer_error(node, "spatial dim %lld is not divisible by blocksize %lld", val(d[i]), (long long)b);
      const tcc_dim_t *q = tcc_dim_div_exact(m, d[i], cdim(m, b));
      out[i] = q ? q : tcc_dim_floordiv(m, d[i], b);
    }
    out[1] = tcc_dim_mul(m, d[1], bb);
  }
  return set_out(node, 0, dt, 4, out);
}

tcc_status_t tcc_infer_depth_to_space(tcc_node_t *node) { return space_depth(node, true); }

tcc_status_t tcc_infer_space_to_depth(tcc_node_t *node) { return space_depth(node, false); }

/* ---- recurrent networks and attention ------------------------------------------------------------- */

tcc_status_t tcc_infer_rnn(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  bool lstm = node->op == TCC_OP_LSTM;
  int gates = lstm ? 4 : node->op == TCC_OP_GRU ? 3 : 1;
  TCC_RETURN_IF_ERROR(check_arity(node, 3, lstm ? 8 : 6, lstm ? 3 : 2));
  tcc_dtype_t dt = in_dtype(node, 0);
  const char *dir = tcc_node_attr_string(node, "direction", "forward");
  int ndir = !strcmp(dir, "forward") || !strcmp(dir, "reverse") ? 1 : !strcmp(dir, "bidirectional") ? 2 : 0;
  if (!ndir) return tcc_infer_error(node, "invalid direction '%s'", dir);
  int64_t layout = tcc_node_attr_int(node, "layout", 0);
  if (layout != 0 && layout != 1) return tcc_infer_error(node, "invalid layout %lld", (long long)layout);
  const tcc_value_t *x = tcc_infer_input(node, 0), *w = tcc_infer_input(node, 1), *r = tcc_infer_input(node, 2);
  if (x && x->type.rank != 3) return tcc_infer_error(node, "input X must have rank 3, got %d", x->type.rank);
  if (w && w->type.rank != 3) return tcc_infer_error(node, "weight W must have rank 3, got %d", w->type.rank);
  if (r && r->type.rank != 3)
    return tcc_infer_error(node, "recurrence weight R must have rank 3, got %d", r->type.rank);
  const tcc_dim_t *nd = cdim(m, ndir);
  if (w) TCC_RETURN_IF_ERROR(same_dim(node, w->type.dims[0], nd, "W's dim 0 differs from the number of directions"));
  if (r) TCC_RETURN_IF_ERROR(same_dim(node, r->type.dims[0], nd, "R's dim 0 differs from the number of directions"));
  const tcc_dim_t *hidden = NULL;
  const tcc_attr_t *hs = tcc_node_attr(node, "hidden_size");
  if (hs) {
    if (hs->kind != TCC_ATTR_INT || hs->i <= 0)
      return tcc_infer_error(node, "attribute 'hidden_size' must be positive");
    hidden = cdim(m, hs->i);
  }
  if (r) {
    TCC_RETURN_IF_ERROR(same_dim(node, hidden, r->type.dims[2], "hidden_size differs from R's dim 2"));
    hidden = pick(hidden, r->type.dims[2]);
  }
  if (w) {
    const tcc_dim_t *gh = w->type.dims[1];
    if (hidden) {
      TCC_RETURN_IF_ERROR(
          same_dim(node, gh, tcc_dim_mul(m, hidden, cdim(m, gates)), "W's dim 1 differs from gates x hidden_size"));
    } else {
      hidden = tcc_dim_div_exact(m, gh, cdim(m, gates));
    }
  }
  if (x && w)
    TCC_RETURN_IF_ERROR(same_dim(node, x->type.dims[2], w->type.dims[2], "input size differs from W's dim 2"));
  if (!hidden) hidden = tcc_dim_fresh(m);
  const tcc_dim_t *seq = x ? x->type.dims[layout ? 1 : 0] : tcc_dim_fresh(m);
  const tcc_dim_t *batch = x ? x->type.dims[layout ? 0 : 1] : tcc_dim_fresh(m);
  const tcc_dim_t *y[4], *yh[3];
  if (layout) {
    y[0] = batch, y[1] = seq, y[2] = nd, y[3] = hidden;
    yh[0] = batch, yh[1] = nd, yh[2] = hidden;
  } else {
    y[0] = seq, y[1] = nd, y[2] = batch, y[3] = hidden;
    yh[0] = nd, yh[1] = batch, yh[2] = hidden;
  }
  TCC_RETURN_IF_ERROR(set_out(node, 0, dt, 4, y));
  TCC_RETURN_IF_ERROR(set_out(node, 1, dt, 3, yh));
  return set_out(node, 2, dt, 3, yh);
}

/* a / k when exact as a polynomial, else floor(a / k), or a fresh dim when k is not a positive constant. */
static const tcc_dim_t *div_dim(tcc_module_t *m, const tcc_dim_t *a, int64_t k) {
  if (k <= 0) return tcc_dim_fresh(m);
  const tcc_dim_t *q = tcc_dim_div_exact(m, a, cdim(m, k));
  return q ? q : tcc_dim_floordiv(m, a, k);
}

tcc_status_t tcc_infer_attention(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 3, 6, 4));
  tcc_dtype_t dt = in_dtype(node, 0);
  const tcc_value_t *q = tcc_infer_input(node, 0), *k = tcc_infer_input(node, 1), *v = tcc_infer_input(node, 2);
  const tcc_value_t *pk = tcc_infer_input(node, 4), *pv = tcc_infer_input(node, 5);
  static const char *const names[] = {"Q", "K", "V"};
  int rank = -1;
  for (int i = 0; i < 3; i++) {
    int r = in_rank(node, i);
    if (r < 0) continue;
    if (r != 3 && r != 4) return tcc_infer_error(node, "input %s must have rank 3 or 4, got %d", names[i], r);
    if (rank >= 0 && r != rank) return tcc_infer_error(node, "Q, K and V must all have rank 3 or all rank 4");
    rank = r;
  }
  if ((in_value(node, 4) != NULL) != (in_value(node, 5) != NULL))
    return tcc_infer_error(node, "past_key and past_value must be given together");
  if (pk && pk->type.rank != 4) return tcc_infer_error(node, "past_key must have rank 4, got %d", pk->type.rank);
  if (pv && pv->type.rank != 4) return tcc_infer_error(node, "past_value must have rank 4, got %d", pv->type.rank);
  int64_t qh = tcc_node_attr_int(node, "q_num_heads", 0), kvh = tcc_node_attr_int(node, "kv_num_heads", 0);
  if (rank == 3) {
    if (qh <= 0 || kvh <= 0) return tcc_infer_error(node, "3-D inputs need positive q_num_heads and kv_num_heads");
    if (qh % kvh)
      return tcc_infer_error(node, "q_num_heads %lld is not a multiple of kv_num_heads %lld", (long long)qh,
                             (long long)kvh);
    const tcc_value_t *hv[3] = {q, k, v};
    int64_t heads[3] = {qh, kvh, kvh};
    for (int i = 0; i < 3; i++)
      if (hv[i] && is_const(hv[i]->type.dims[2]) && tcc_dim_value(hv[i]->type.dims[2]) % heads[i])
        return tcc_infer_error(node, "%s hidden size %lld is not divisible by %lld heads", names[i],
                               val(hv[i]->type.dims[2]), (long long)heads[i]);
  }
  if (rank < 0) {
    TCC_RETURN_IF_ERROR(set_unknown(node, 0, dt));
    TCC_RETURN_IF_ERROR(set_unknown(node, 1, in_dtype(node, in_value(node, 4) ? 4 : 1)));
    TCC_RETURN_IF_ERROR(set_unknown(node, 2, in_dtype(node, in_value(node, 5) ? 5 : 2)));
    return set_unknown(node, 3, dt);
  }
  bool four = rank == 4;
  /* batch, heads, sequence lengths and head sizes; NULL when unknown */
  const tcc_dim_t *batch = NULL, *qheads = NULL, *kvheads = NULL, *qseq = NULL, *kvseq = NULL, *head = NULL,
                  *vhead = NULL;
  if (q) {
    batch = q->type.dims[0];
    qseq = q->type.dims[four ? 2 : 1];
    qheads = four ? q->type.dims[1] : cdim(m, qh);
    head = four ? q->type.dims[3] : div_dim(m, q->type.dims[2], qh);
  } else if (!four) {
    qheads = cdim(m, qh);
  }
  if (k) {
    TCC_RETURN_IF_ERROR(same_dim(node, batch, k->type.dims[0], "Q and K batch sizes differ"));
    batch = pick(batch, k->type.dims[0]);
    kvseq = k->type.dims[four ? 2 : 1];
    const tcc_dim_t *kh = four ? k->type.dims[3] : div_dim(m, k->type.dims[2], kvh);
    TCC_RETURN_IF_ERROR(same_dim(node, head, kh, "Q and K head sizes differ"));
    head = pick(head, kh);
    if (four) kvheads = k->type.dims[1];
  }
  if (v) {
    TCC_RETURN_IF_ERROR(same_dim(node, kvseq, v->type.dims[four ? 2 : 1], "K and V sequence lengths differ"));
    kvseq = pick(kvseq, v->type.dims[four ? 2 : 1]);
    vhead = four ? v->type.dims[3] : div_dim(m, v->type.dims[2], kvh);
    if (four) kvheads = pick(kvheads, v->type.dims[1]);
  }
  if (!four) kvheads = cdim(m, kvh);
  if (four && is_const(qheads) && is_const(kvheads) && (val(kvheads) <= 0 || val(qheads) % val(kvheads)))
    return tcc_infer_error(node, "%lld query heads are not a multiple of %lld key/value heads", val(qheads),
                           val(kvheads));
  const tcc_dim_t *past = pk ? pk->type.dims[2] : pv ? pv->type.dims[2] : NULL;
  if (pk && pv) TCC_RETURN_IF_ERROR(same_dim(node, pk->type.dims[2], pv->type.dims[2], "past sequence lengths differ"));
  const tcc_dim_t *total = kvseq ? kvseq : tcc_dim_fresh(m);
  if (in_value(node, 4)) total = past && kvseq ? tcc_dim_add(m, past, kvseq) : tcc_dim_fresh(m);
  const tcc_dim_t **unknown[] = {&batch, &qheads, &kvheads, &qseq, &head, &vhead};
  for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++)
    if (!*unknown[i]) *unknown[i] = tcc_dim_fresh(m);
  if (four) {
    const tcc_dim_t *y[4] = {batch, qheads, qseq, vhead};
    TCC_RETURN_IF_ERROR(set_out(node, 0, dt, 4, y));
  } else {
    const tcc_dim_t *hidden = qh == kvh && v ? v->type.dims[2] : tcc_dim_mul(m, cdim(m, qh), vhead);
    const tcc_dim_t *y[3] = {batch, qseq, hidden};
    TCC_RETURN_IF_ERROR(set_out(node, 0, dt, 3, y));
  }
  const tcc_dim_t *pkd[4] = {batch, kvheads, total, head}, *pvd[4] = {batch, kvheads, total, vhead};
  tcc_dtype_t kdt = in_value(node, 4) ? in_dtype(node, 4) : in_dtype(node, 1);
  tcc_dtype_t vdt = in_value(node, 5) ? in_dtype(node, 5) : in_dtype(node, 2);
  TCC_RETURN_IF_ERROR(set_out(node, 1, kdt, 4, pkd));
  TCC_RETURN_IF_ERROR(set_out(node, 2, vdt, 4, pvd));
  const tcc_dim_t *qk[4] = {batch, qheads, qseq, total};
  return set_out(node, 3, dt, 4, qk);
}

/* ---- losses --------------------------------------------------------------------------------------- */

/* Output of a loss over scores (N, C, d...) and targets (N, d...) with the node's reduction. */
static tcc_status_t loss_output(tcc_node_t *node, tcc_dtype_t dt) {
  tcc_module_t *m = mod(node);
  const char *red = tcc_node_attr_string(node, "reduction", "mean");
  if (strcmp(red, "none") && strcmp(red, "sum") && strcmp(red, "mean"))
    return tcc_infer_error(node, "invalid reduction '%s'", red);
  const tcc_value_t *x = tcc_infer_input(node, 0), *t = tcc_infer_input(node, 1), *w = tcc_infer_input(node, 2);
  if (x && x->type.rank < 2)
    return tcc_infer_error(node, "input must have rank >= 2 (N, C, ...), got %d", x->type.rank);
  if (t && t->type.rank < 1) return tcc_infer_error(node, "target must have rank >= 1 (N, ...), got %d", t->type.rank);
  if (x && t) {
    if (t->type.rank != x->type.rank - 1)
      return tcc_infer_error(node, "target rank %d should be input rank %d minus 1", t->type.rank, x->type.rank);
    for (int i = 0; i < t->type.rank; i++)
      TCC_RETURN_IF_ERROR(same_dim(node, x->type.dims[i ? i + 1 : 0], t->type.dims[i], "input and target dims differ"));
  }
  if (x)
    TCC_RETURN_IF_ERROR(check_channels(node, 2, x->type.dims[1], "weight"));
  else if (w && w->type.rank != 1)
    return tcc_infer_error(node, "weight must have rank 1, got %d", w->type.rank);
  if (strcmp(red, "none")) return set_out(node, 0, dt, 0, NULL);
  int r = t ? t->type.rank : x ? x->type.rank - 1 : -1;
  if (r < 0) return set_unknown(node, 0, dt);
  const tcc_dim_t **out = new_dims(m, r);
  if (!out) return tcc_status_oom();
  for (int i = 0; i < r; i++) out[i] = pick(t ? t->type.dims[i] : NULL, x ? x->type.dims[i ? i + 1 : 0] : NULL);
  return set_out(node, 0, dt, r, out);
}

tcc_status_t tcc_infer_nll_loss(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_arity(node, 2, 3, 1));
  return loss_output(node, in_dtype(node, 0));
}

tcc_status_t tcc_infer_softmax_cross_entropy_loss(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_arity(node, 2, 3, 2));
  tcc_dtype_t dt = in_dtype(node, 0);
  TCC_RETURN_IF_ERROR(loss_output(node, dt));
  const tcc_value_t *x = tcc_infer_input(node, 0);
  return x ? set_out(node, 1, dt, x->type.rank, x->type.dims) : set_unknown(node, 1, dt);
}

/* ---- signal processing ---------------------------------------------------------------------------- */

tcc_status_t tcc_infer_dft(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 1, 3, 1));
  tcc_dtype_t dt = in_dtype(node, 0);
  bool onesided = tcc_node_attr_int(node, "onesided", 0) != 0;
  if (onesided && tcc_node_attr_int(node, "inverse", 0))
    return tcc_infer_error(node, "onesided and inverse are exclusive");
  const tcc_value_t *x = tcc_infer_input(node, 0);
  if (!x) return set_unknown(node, 0, dt);
  int r = x->type.rank;
  if (r < 2) return tcc_infer_error(node, "input must have rank >= 2 ([batch, ..., 1 or 2]), got %d", r);
  const tcc_dim_t *last = x->type.dims[r - 1];
  if (is_const(last) && val(last) != 1 && val(last) != 2)
    return tcc_infer_error(node, "input's last dim must be 1 (real) or 2 (complex), got %lld", val(last));
  const tcc_dim_t **out = new_dims(m, r);
  if (!out) return tcc_status_oom();
  memcpy(out, x->type.dims, (size_t)r * sizeof *out);
  out[r - 1] = cdim(m, 2);
  const tcc_dim_t *len = NULL; /* the new size of the axis; NULL: unchanged */
  if (in_value(node, 1)) {
    len = scalar_dim(node, 1);
    if (!len)
      len = tcc_dim_fresh(m);
    else if (is_const(len) && val(len) <= 0)
      return tcc_infer_error(node, "dft_length %lld must be positive", val(len));
  }
  int64_t axis = tcc_node_attr_int(node, "axis", -2);
  if (in_value(node, 2)) {
    const tcc_dim_t *a = scalar_dim(node, 2);
    if (!is_const(a)) {
      /* any axis but the last may change */
      for (int i = 0; i < r - 1; i++) {
        const tcc_dim_t *d = len ? len : x->type.dims[i];
        if (onesided) d = tcc_dim_add(m, tcc_dim_floordiv(m, d, 2), cdim(m, 1));
        out[i] = d == x->type.dims[i] ? d : tcc_dim_fresh(m);
      }
      return set_out(node, 0, dt, r, out);
    }
    axis = tcc_dim_value(a);
  }
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r - 1)
    return tcc_infer_error(node, "axis %lld is out of range for rank %d", (long long)axis, r);
  if (!len) len = x->type.dims[axis];
  out[axis] = onesided ? tcc_dim_add(m, tcc_dim_floordiv(m, len, 2), cdim(m, 1)) : len;
  return set_out(node, 0, dt, r, out);
}

tcc_status_t tcc_infer_stft(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 2, 4, 1));
  tcc_dtype_t dt = in_dtype(node, 0);
  const tcc_value_t *x = tcc_infer_input(node, 0), *win = tcc_infer_input(node, 2);
  if (x && x->type.rank != 3)
    return tcc_infer_error(node, "signal must have rank 3 ([batch, length, 1 or 2]), got %d", x->type.rank);
  if (win && win->type.rank != 1) return tcc_infer_error(node, "window must have rank 1, got %d", win->type.rank);
  if (!in_value(node, 2) && !in_value(node, 3))
    return tcc_infer_error(node, "either window or frame_length is required");
  const tcc_dim_t *step = scalar_dim(node, 1), *flen = NULL;
  if (is_const(step) && val(step) <= 0) return tcc_infer_error(node, "frame_step %lld must be positive", val(step));
  if (in_value(node, 3)) {
    flen = scalar_dim(node, 3);
    if (is_const(flen) && val(flen) <= 0) return tcc_infer_error(node, "frame_length %lld must be positive", val(flen));
    if (win)
      TCC_RETURN_IF_ERROR(same_dim(node, flen, win->type.dims[0], "frame_length differs from the window length"));
  }
  if (!flen && win) flen = win->type.dims[0];
  const tcc_dim_t *frames = tcc_dim_fresh(m), *bins = tcc_dim_fresh(m);
  if (flen && x && is_const(step)) {
    const tcc_dim_t *span = tcc_dim_sub(m, x->type.dims[1], flen);
    if (is_const(span) && val(span) < 0)
      return tcc_infer_error(node, "frame_length exceeds the signal length by %lld", -val(span));
    frames = tcc_dim_add(m, tcc_dim_floordiv(m, span, val(step)), cdim(m, 1));
  }
  if (flen)
    bins = tcc_node_attr_int(node, "onesided", 1) ? tcc_dim_add(m, tcc_dim_floordiv(m, flen, 2), cdim(m, 1)) : flen;
  const tcc_dim_t *out[4] = {x ? x->type.dims[0] : tcc_dim_fresh(m), frames, bins, cdim(m, 2)};
  return set_out(node, 0, dt, 4, out);
}

static tcc_status_t output_datatype(const tcc_node_t *node, tcc_dtype_t *dt) {
  int64_t code = tcc_node_attr_int(node, "output_datatype", TCC_DTYPE_F32);
  if (!tcc_dtype_is_valid((int)code) || code == TCC_DTYPE_UNDEFINED)
    return tcc_infer_error(node, "invalid output_datatype %lld", (long long)code);
  *dt = (tcc_dtype_t)code;
  return NULL;
}

tcc_status_t tcc_infer_mel_weight_matrix(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 5, 5, 1));
  tcc_dtype_t dt = TCC_DTYPE_UNDEFINED;
  TCC_RETURN_IF_ERROR(output_datatype(node, &dt));
  const tcc_dim_t *bins = scalar_dim(node, 0), *len = scalar_dim(node, 1);
  if (is_const(bins) && val(bins) <= 0) return tcc_infer_error(node, "num_mel_bins %lld must be positive", val(bins));
  if (is_const(len) && val(len) <= 0) return tcc_infer_error(node, "dft_length %lld must be positive", val(len));
  const tcc_dim_t *out[2] = {len ? tcc_dim_add(m, tcc_dim_floordiv(m, len, 2), cdim(m, 1)) : tcc_dim_fresh(m),
                             bins ? bins : tcc_dim_fresh(m)};
  return set_out(node, 0, dt, 2, out);
}

tcc_status_t tcc_infer_window(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(check_arity(node, 1, 1, 1));
  tcc_dtype_t dt = TCC_DTYPE_UNDEFINED;
  TCC_RETURN_IF_ERROR(output_datatype(node, &dt));
  const tcc_value_t *size = tcc_infer_input(node, 0);
  if (size && size->type.rank > 1) return tcc_infer_error(node, "size must be a scalar, got rank %d", size->type.rank);
  const tcc_dim_t *n = scalar_dim(node, 0);
  if (is_const(n) && val(n) < 0) return tcc_infer_error(node, "window size %lld is negative", val(n));
  if (!n) n = tcc_dim_fresh(mod(node));
  return set_out(node, 0, dt, 1, &n);
}

/* ---- data-dependent sizes ------------------------------------------------------------------------- */

tcc_status_t tcc_infer_top_k(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 2, 2, 2));
  tcc_dtype_t dt = in_dtype(node, 0);
  const tcc_value_t *x = tcc_infer_input(node, 0);
  int64_t klen = vector_len(node, 1);
  if (klen >= 0 && klen != 1) return tcc_infer_error(node, "K must hold exactly one value, got %lld", (long long)klen);
  const tcc_dim_t *k = scalar_dim(node, 1);
  if (is_const(k) && val(k) < 0) return tcc_infer_error(node, "K = %lld must not be negative", val(k));
  if (!x) {
    TCC_RETURN_IF_ERROR(set_unknown(node, 0, dt));
    return set_unknown(node, 1, TCC_DTYPE_I64);
  }
  int r = x->type.rank, axis;
  TCC_RETURN_IF_ERROR(tcc_infer_axis(node, tcc_node_attr_int(node, "axis", -1), r, &axis));
  const tcc_dim_t *d = x->type.dims[axis];
  if (is_const(k) && is_const(d) && val(k) > val(d))
    return tcc_infer_error(node, "K = %lld exceeds the axis size %lld", val(k), val(d));
  const tcc_dim_t **out = new_dims(m, r);
  if (!out) return tcc_status_oom();
  memcpy(out, x->type.dims, (size_t)r * sizeof *out);
  out[axis] = k ? k : tcc_dim_fresh(m);
  TCC_RETURN_IF_ERROR(set_out(node, 0, dt, r, out));
  return set_out(node, 1, TCC_DTYPE_I64, r, out);
}

tcc_status_t tcc_infer_non_max_suppression(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 2, 5, 1));
  const tcc_value_t *boxes = tcc_infer_input(node, 0), *scores = tcc_infer_input(node, 1);
  if (boxes && boxes->type.rank != 3) return tcc_infer_error(node, "boxes must have rank 3, got %d", boxes->type.rank);
  if (scores && scores->type.rank != 3)
    return tcc_infer_error(node, "scores must have rank 3, got %d", scores->type.rank);
  if (boxes) TCC_RETURN_IF_ERROR(same_dim(node, boxes->type.dims[2], cdim(m, 4), "boxes must have 4 coordinates"));
  if (boxes && scores) {
    TCC_RETURN_IF_ERROR(same_dim(node, boxes->type.dims[0], scores->type.dims[0], "batch sizes differ"));
    TCC_RETURN_IF_ERROR(same_dim(node, boxes->type.dims[1], scores->type.dims[2], "box counts differ"));
  }
  const tcc_dim_t *max = in_value(node, 2) ? scalar_dim(node, 2) : cdim(m, 0);
  const tcc_dim_t *out[2] = {dim_is(max, 0) ? max : tcc_dim_fresh(m), cdim(m, 3)};
  return set_out(node, 0, TCC_DTYPE_I64, 2, out);
}

tcc_status_t tcc_infer_non_zero(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 1, 1, 1));
  const tcc_value_t *x = tcc_infer_input(node, 0);
  int64_t count = count_nonzero(in_value(node, 0));
  const tcc_dim_t *numel = x ? tcc_type_numel(m, &x->type) : NULL;
  const tcc_dim_t *out[2] = {x ? cdim(m, x->type.rank) : tcc_dim_fresh(m), count >= 0         ? cdim(m, count)
                                                                           : dim_is(numel, 0) ? numel
                                                                                              : tcc_dim_fresh(m)};
  return set_out(node, 0, TCC_DTYPE_I64, 2, out);
}

tcc_status_t tcc_infer_unique(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 1, 1, 4));
  tcc_dtype_t dt = in_dtype(node, 0);
  const tcc_value_t *x = tcc_infer_input(node, 0);
  const tcc_dim_t *u = tcc_dim_fresh(m);
  TCC_RETURN_IF_ERROR(set_out(node, 1, TCC_DTYPE_I64, 1, &u));
  TCC_RETURN_IF_ERROR(set_out(node, 3, TCC_DTYPE_I64, 1, &u));
  const tcc_attr_t *axis_attr = tcc_node_attr(node, "axis");
  if (!axis_attr) {
    const tcc_dim_t *numel = x ? tcc_type_numel(m, &x->type) : tcc_dim_fresh(m);
    TCC_RETURN_IF_ERROR(set_out(node, 0, dt, 1, &u));
    return set_out(node, 2, TCC_DTYPE_I64, 1, &numel);
  }
  if (!x) {
    TCC_RETURN_IF_ERROR(set_unknown(node, 0, dt));
    const tcc_dim_t *inv = tcc_dim_fresh(m);
    return set_out(node, 2, TCC_DTYPE_I64, 1, &inv);
  }
  int r = x->type.rank, axis;
  TCC_RETURN_IF_ERROR(tcc_infer_axis(node, axis_attr->i, r, &axis));
  const tcc_dim_t **out = new_dims(m, r);
  if (!out) return tcc_status_oom();
  memcpy(out, x->type.dims, (size_t)r * sizeof *out);
  out[axis] = u;
  TCC_RETURN_IF_ERROR(set_out(node, 0, dt, r, out));
  return set_out(node, 2, TCC_DTYPE_I64, 1, &x->type.dims[axis]);
}

tcc_status_t tcc_infer_compress(tcc_node_t *node) {
  tcc_module_t *m = mod(node);
  TCC_RETURN_IF_ERROR(check_arity(node, 2, 2, 1));
  tcc_dtype_t dt = in_dtype(node, 0);
  const tcc_value_t *x = tcc_infer_input(node, 0), *cond = tcc_infer_input(node, 1);
  if (cond && cond->type.rank != 1) return tcc_infer_error(node, "condition must have rank 1, got %d", cond->type.rank);
  const tcc_attr_t *axis_attr = tcc_node_attr(node, "axis");
  int axis = -1;
  if (axis_attr && x) TCC_RETURN_IF_ERROR(tcc_infer_axis(node, axis_attr->i, x->type.rank, &axis));
  const tcc_dim_t *len = !x ? NULL : axis >= 0 ? x->type.dims[axis] : tcc_type_numel(m, &x->type);
  int64_t clen = vector_len(node, 1);
  if (is_const(len) && clen > val(len))
    return tcc_infer_error(node, "condition has %lld values for %lld elements", (long long)clen, val(len));
  int64_t count = count_nonzero(in_value(node, 1));
  const tcc_dim_t *n = count >= 0 ? cdim(m, count) : tcc_dim_fresh(m);
  if (!axis_attr) return set_out(node, 0, dt, 1, &n);
  if (!x) return set_unknown(node, 0, dt);
  const tcc_dim_t **out = new_dims(m, x->type.rank);
  if (!out) return tcc_status_oom();
  memcpy(out, x->type.dims, (size_t)x->type.rank * sizeof *out);
  out[axis] = n;
  return set_out(node, 0, dt, x->type.rank, out);
}
