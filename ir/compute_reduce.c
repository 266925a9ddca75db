/* Compute definitions: reductions and the ops built on them — matmul, gemm, convolution, pooling, softmax,
 * normalizations, reduce_*, argmax/argmin, cumsum, LRN. Reductions accumulate in a REGISTER buffer (f32 for
 * half and float8 types, cast back on the final store); conv and pooling share one window helper for input
 * positions and padding (attribute pads, or auto_pad SAME computed from run-time sizes). */
#include <math.h>
#include <string.h>

#include "ir/compute_defs.h"
#include "ir/infer.h"

/* ---- expression shorthands ------------------------------------------------------------------------ */

static const tcc_kexpr_t *kint(tcc_kernel_t *k, int64_t v) { return tcc_k_int(k, v); }
static const tcc_kexpr_t *kdim(tcc_kernel_t *k, const tcc_dim_t *d) { return tcc_k_dim(k, d); }
static const tcc_kexpr_t *kc(tcc_kernel_t *k, tcc_dtype_t dt, double v) { return tcc_k_const(k, dt, v); }
static const tcc_kexpr_t *kbin(tcc_kernel_t *k, tcc_kop_t op, const tcc_kexpr_t *a, const tcc_kexpr_t *b) {
  return tcc_k_binary(k, op, a, b);
}
static const tcc_kexpr_t *kadd(tcc_kernel_t *k, const tcc_kexpr_t *a, const tcc_kexpr_t *b) {
  return tcc_k_binary(k, TCC_KOP_ADD, a, b);
}
static const tcc_kexpr_t *ksub(tcc_kernel_t *k, const tcc_kexpr_t *a, const tcc_kexpr_t *b) {
  return tcc_k_binary(k, TCC_KOP_SUB, a, b);
}
static const tcc_kexpr_t *kmul(tcc_kernel_t *k, const tcc_kexpr_t *a, const tcc_kexpr_t *b) {
  return tcc_k_binary(k, TCC_KOP_MUL, a, b);
}
static const tcc_kexpr_t *kand(tcc_kernel_t *k, const tcc_kexpr_t *a, const tcc_kexpr_t *b) {
  return !a ? b : !b ? a : tcc_k_binary(k, TCC_KOP_AND, a, b);
}
/* lo <= v < hi (bool). */
static const tcc_kexpr_t *in_range(tcc_kernel_t *k, const tcc_kexpr_t *v, const tcc_kexpr_t *lo,
                                   const tcc_kexpr_t *hi) {
  return kand(k, kbin(k, TCC_KOP_GE, v, lo), kbin(k, TCC_KOP_LT, v, hi));
}
static const tcc_kexpr_t *cast(tcc_kernel_t *k, tcc_dtype_t dt, const tcc_kexpr_t *e) {
  return tcc_k_cast(k, dt, e, false);
}
/* buf[index] converted to dt. */
static const tcc_kexpr_t *load(tcc_kernel_t *k, const tcc_kbuf_t *buf, const tcc_kexpr_t *const *index,
                               tcc_dtype_t dt) {
  return cast(k, dt, tcc_k_load(k, buf, index));
}
/* An arena array of n expression slots (NULL-filled). */
static const tcc_kexpr_t **exprs(tcc_kernel_t *k, int n) {
  const tcc_kexpr_t **e = tcc_module_alloc(k->module, (size_t)(n > 0 ? n : 1) * sizeof *e);
  if (e) memset(e, 0, (size_t)(n > 0 ? n : 1) * sizeof *e);
  return e;
}

/* ---- dtypes --------------------------------------------------------------------------------------- */

/* The type arithmetic runs in: f32 for half and float8 types, else dt itself. */
static tcc_dtype_t acc_type(tcc_dtype_t dt) {
  return tcc_dtype_is_float(dt) && dt != TCC_DTYPE_F64 ? TCC_DTYPE_F32 : dt;
}
static tcc_status_t need_type(const tcc_node_t *node, tcc_dtype_t dt, bool ints_ok) {
  if (tcc_dtype_is_float(dt) || (ints_ok && tcc_dtype_is_int(dt) && tcc_dtype_bits(dt) >= 8)) return NULL;
  return tcc_infer_unsupported(node, "element type %s has no compute definition", tcc_dtype_name(dt));
}
/* The lowest (or highest) value of dt: infinities for floats, the integer limits otherwise. */
static const tcc_kexpr_t *extreme(tcc_kernel_t *k, tcc_dtype_t dt, bool lowest) {
  if (dt == TCC_DTYPE_BOOL) return kc(k, dt, !lowest);
  if (tcc_dtype_is_float(dt)) return kc(k, dt, lowest ? -INFINITY : INFINITY);
  if (!tcc_dtype_is_signed_int(dt)) return lowest ? kc(k, dt, 0) : tcc_k_unary(k, TCC_KOP_BITNOT, kc(k, dt, 0));
  const tcc_kexpr_t *min = kc(k, dt, -ldexp(1.0, tcc_dtype_bits(dt) - 1));
  return lowest ? min : tcc_k_unary(k, TCC_KOP_BITNOT, min);
}

/* ---- accumulators and loops ----------------------------------------------------------------------- */

/* A one-element REGISTER buffer allocated in block and set to init. */
static tcc_kbuf_t *acc_new(tcc_kernel_t *k, tcc_kblock_t *block, const char *name, const tcc_kexpr_t *init) {
  const tcc_dim_t *one = tcc_dim_const(k->module, 1);
  tcc_kbuf_t *acc = init ? tcc_kernel_add_local(k, name, TCC_KBUF_REGISTER, init->dtype, 1, &one) : NULL;
  const tcc_kexpr_t *at[] = {kint(k, 0)};
  tcc_k_alloc(k, block, acc);
  tcc_k_store(k, block, acc, at, init);
  return acc;
}
static const tcc_kexpr_t *acc_get(tcc_kernel_t *k, const tcc_kbuf_t *acc) {
  const tcc_kexpr_t *at[] = {kint(k, 0)};
  return tcc_k_load(k, acc, at);
}
static void acc_set(tcc_kernel_t *k, tcc_kblock_t *block, const tcc_kbuf_t *acc, const tcc_kexpr_t *v) {
  const tcc_kexpr_t *at[] = {kint(k, 0)};
  tcc_k_store(k, block, acc, at, v);
}
/* acc = op(acc, v) */
static void acc_update(tcc_kernel_t *k, tcc_kblock_t *block, const tcc_kbuf_t *acc, tcc_kop_t op,
                       const tcc_kexpr_t *v) {
  acc_set(k, block, acc, kbin(k, op, acc_get(k, acc), v));
}

/* Serial loops named prefix0, prefix1... over extents[0..n), nested in block; vars get the loop variables. */
static tcc_kblock_t *nest(tcc_kernel_t *k, tcc_kblock_t *block, const char *prefix, int n,
                          const tcc_kexpr_t *const *extents, const tcc_kexpr_t **vars) {
  char name[24];
  for (int i = 0; i < n && block; i++) {
    const tcc_kvar_t *v;
    snprintf(name, sizeof name, "%s%d", prefix, i);
    block = tcc_k_for(k, block, name, extents[i], TCC_KLOOP_SERIAL, &v);
    vars[i] = tcc_k_var(k, v);
  }
  return block;
}

/* A reduction: accumulator `acc` (= init) allocated in block, then loops over extents; `body` is the innermost
 * loop body and r its variables. The accumulator stays live after the loops, in block. */
typedef struct {
  tcc_kbuf_t *acc;
  tcc_kblock_t *body;
  const tcc_kexpr_t **r;
} reduce_t;

static reduce_t reduce_begin(tcc_kernel_t *k, tcc_kblock_t *block, const char *name, const tcc_kexpr_t *init, int n,
                             const tcc_kexpr_t *const *extents) {
  reduce_t r = {acc_new(k, block, name, init), NULL, exprs(k, n)};
  if (r.r) r.body = nest(k, block, "r", n, extents, r.r);
  return r;
}

/* Loops over the dims of a shape whose mask entry is false (mask NULL: every dim); idx[d] is the variable of
 * dim d, NULL for masked dims. */
static tcc_kblock_t *loops_except(tcc_kernel_t *k, tcc_kblock_t *block, int rank, const tcc_dim_t *const *dims,
                                  const bool *mask, const tcc_kexpr_t ***idx) {
  const tcc_kexpr_t **ix = exprs(k, rank);
  *idx = ix;
  if (!ix) return NULL;
  char name[16];
  for (int d = 0; d < rank && block; d++) {
    if (mask && mask[d]) continue;
    const tcc_kvar_t *v;
    snprintf(name, sizeof name, "i%d", d);
    block = tcc_k_for(k, block, name, kdim(k, dims[d]), TCC_KLOOP_SERIAL, &v);
    ix[d] = tcc_k_var(k, v);
  }
  return block;
}

/* A copy of idx (rank entries) whose NULL slots are filled, in order, from fill. */
static const tcc_kexpr_t **fill_index(tcc_kernel_t *k, int rank, const tcc_kexpr_t *const *idx,
                                      const tcc_kexpr_t *const *fill) {
  const tcc_kexpr_t **out = exprs(k, rank);
  for (int d = 0, j = 0; out && d < rank; d++) out[d] = idx[d] ? idx[d] : fill[j++];
  return out;
}

/* Copies the extents of the masked dims of a shape. */
static int masked_extents(tcc_kernel_t *k, int rank, const tcc_dim_t *const *dims, const bool *mask,
                          const tcc_kexpr_t **ext) {
  int n = 0;
  for (int d = 0; d < rank; d++)
    if (mask[d]) ext[n++] = kdim(k, dims[d]);
  return n;
}

/* An axis attribute (default def) normalized against rank. */
static tcc_status_t axis_attr(const tcc_node_t *node, const char *name, int64_t def, int rank, int *axis) {
  return tcc_infer_axis(node, tcc_node_attr_int(node, name, def), rank, axis);
}

/* ---- matmul, gemm --------------------------------------------------------------------------------- */

/* Index of a batch dim `in` of an operand for the output batch index o over `out` (numpy broadcasting). */
static const tcc_kexpr_t *bcast_dim(tcc_kernel_t *k, const tcc_dim_t *in, const tcc_dim_t *out, const tcc_kexpr_t *o) {
  if (in == out) return o;
  if (tcc_dim_is_const(in) && tcc_dim_value(in) == 1) return kint(k, 0);
  return tcc_k_select(k, kbin(k, TCC_KOP_EQ, kdim(k, in), kint(k, 1)), kint(k, 0), o);
}

/* y[..., m, n] = sum_k a[..., m, k] * b[..., k, n], batch dims broadcast; a 1-D operand has its m (or n) dropped. */
static tcc_status_t matmul(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *a = in[0], *b = in[1], *y = out[0];
  TCC_RETURN_IF_ERROR(need_type(node, a->dtype, true));
  tcc_dtype_t dt = acc_type(y->dtype);
  int ra = a->rank, rb = b->rank, ry = y->rank;
  int nb = ry - (ra >= 2) - (rb >= 2); /* output batch dims */
  const tcc_kexpr_t **o, **ai = exprs(k, ra), **bi = exprs(k, rb);
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), ry, y->dims, &o);
  if (!body || !ai || !bi) return tcc_status_oom();
  const tcc_kexpr_t *ext[] = {kdim(k, a->dims[ra - 1])};
  reduce_t r = reduce_begin(k, body, "acc", kc(k, dt, 0), 1, ext);
  if (!r.r) return tcc_status_oom();
  for (int d = 0; d < ra - 2; d++) ai[d] = bcast_dim(k, a->dims[d], y->dims[nb - (ra - 2) + d], o[nb - (ra - 2) + d]);
  for (int d = 0; d < rb - 2; d++) bi[d] = bcast_dim(k, b->dims[d], y->dims[nb - (rb - 2) + d], o[nb - (rb - 2) + d]);
  if (ra >= 2) ai[ra - 2] = o[nb];
  ai[ra - 1] = r.r[0];
  bi[rb >= 2 ? rb - 2 : 0] = r.r[0];
  if (rb >= 2) bi[rb - 1] = o[ry - 1];
  acc_update(k, r.body, r.acc, TCC_KOP_ADD, kmul(k, load(k, a, ai, dt), load(k, b, bi, dt)));
  tcc_k_store(k, body, y, o, cast(k, y->dtype, acc_get(k, r.acc)));
  return NULL;
}

/* y = alpha * A' B' + beta * C, A' = transA ? A^T : A (likewise B'), C broadcast to [M, N]. */
static tcc_status_t gemm(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *a = in[0], *b = in[1], *c = node->num_inputs > 2 ? in[2] : NULL, *y = out[0];
  TCC_RETURN_IF_ERROR(need_type(node, a->dtype, true));
  tcc_dtype_t dt = acc_type(y->dtype);
  bool ta = tcc_node_attr_int(node, "transA", 0) != 0, tb = tcc_node_attr_int(node, "transB", 0) != 0;
  double alpha = tcc_node_attr_float(node, "alpha", 1.0), beta = tcc_node_attr_float(node, "beta", 1.0);
  const tcc_kexpr_t **o;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), 2, y->dims, &o);
  if (!body) return tcc_status_oom();
  const tcc_kexpr_t *ext[] = {kdim(k, a->dims[ta ? 0 : 1])};
  reduce_t r = reduce_begin(k, body, "acc", kc(k, dt, 0), 1, ext);
  if (!r.r) return tcc_status_oom();
  const tcc_kexpr_t *ai[] = {ta ? r.r[0] : o[0], ta ? o[0] : r.r[0]};
  const tcc_kexpr_t *bi[] = {tb ? o[1] : r.r[0], tb ? r.r[0] : o[1]};
  acc_update(k, r.body, r.acc, TCC_KOP_ADD, kmul(k, load(k, a, ai, dt), load(k, b, bi, dt)));
  const tcc_kexpr_t *v = acc_get(k, r.acc);
  if (alpha != 1.0) v = kmul(k, kc(k, dt, alpha), v);
  if (c && beta != 0.0) {
    const tcc_kexpr_t *cv = load(k, c, tcc_compute_broadcast_index(k, c, 2, y->dims, o), dt);
    v = kadd(k, v, beta == 1.0 ? cv : kmul(k, kc(k, dt, beta), cv));
  }
  tcc_k_store(k, body, y, o, cast(k, y->dtype, v));
  return NULL;
}

/* ---- windows: convolution and pooling ------------------------------------------------------------- */

/* A sliding window over the n spatial dims (2..) of x producing y. */
typedef struct {
  int n;
  const tcc_kexpr_t **kernel, **in_size, **pad_begin, **pad_end; /* i64 expressions per spatial dim */
  const int64_t *strides, *dilations;
  bool padded; /* some window may leave the input: positions need bounds checks */
} window_t;

/* An INTS attribute of n values, or def everywhere. */
static tcc_status_t ints_or(const tcc_node_t *node, tcc_kernel_t *k, const char *name, int n, int64_t def,
                            const int64_t **out) {
  int64_t count;
  if (tcc_node_attr_ints(node, name, out, &count)) {
    if (count != n)
      return tcc_infer_error(node, "attribute '%s' has %lld values, expected %d", name, (long long)count, n);
    return NULL;
  }
  int64_t *v = tcc_module_alloc(k->module, (size_t)(n > 0 ? n : 1) * sizeof *v);
  if (!v) return tcc_status_oom();
  for (int i = 0; i < n; i++) v[i] = def;
  *out = v;
  return NULL;
}

/* Reads strides, dilations, pads / auto_pad and ceil_mode; kernel sizes come from kdims (a weight's spatial
 * dims) or, when NULL, the kernel_shape attribute. */
static tcc_status_t window_read(tcc_kernel_t *k, const tcc_node_t *node, const tcc_kbuf_t *x, const tcc_kbuf_t *y,
                                const tcc_dim_t *const *kdims, window_t *w) {
  int n = w->n = x->rank - 2;
  const int64_t *ks = NULL, *pads;
  w->kernel = exprs(k, n), w->in_size = exprs(k, n), w->pad_begin = exprs(k, n), w->pad_end = exprs(k, n);
  if (!w->kernel || !w->in_size || !w->pad_begin || !w->pad_end) return tcc_status_oom();
  if (!kdims) TCC_RETURN_IF_ERROR(ints_or(node, k, "kernel_shape", n, 1, &ks));
  TCC_RETURN_IF_ERROR(ints_or(node, k, "strides", n, 1, &w->strides));
  TCC_RETURN_IF_ERROR(ints_or(node, k, "dilations", n, 1, &w->dilations));
  TCC_RETURN_IF_ERROR(ints_or(node, k, "pads", 2 * n, 0, &pads));
  const char *ap = tcc_node_attr_string(node, "auto_pad", "NOTSET");
  bool same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER"), valid = !strcmp(ap, "VALID");
  w->padded = tcc_node_attr_int(node, "ceil_mode", 0) != 0 || same;
  for (int i = 0; i < n; i++) {
    w->kernel[i] = kdims ? kdim(k, kdims[i]) : kint(k, ks[i]);
    w->in_size[i] = kdim(k, x->dims[2 + i]);
    if (same) { /* total = max(0, (out - 1) * stride + (kernel - 1) * dilation + 1 - in) */
      const tcc_kexpr_t *span = kmul(k, ksub(k, w->kernel[i], kint(k, 1)), kint(k, w->dilations[i]));
      span = kadd(k, span, kint(k, 1));
      const tcc_kexpr_t *total = kmul(k, ksub(k, kdim(k, y->dims[2 + i]), kint(k, 1)), kint(k, w->strides[i]));
      total = kbin(k, TCC_KOP_MAX, ksub(k, kadd(k, total, span), w->in_size[i]), kint(k, 0));
      const tcc_kexpr_t *half = kbin(k, TCC_KOP_FLOORDIV, total, kint(k, 2));
      w->pad_begin[i] = ap[5] == 'U' ? half : ksub(k, total, half);
      w->pad_end[i] = ksub(k, total, w->pad_begin[i]);
    } else {
      w->pad_begin[i] = kint(k, valid ? 0 : pads[i]);
      w->pad_end[i] = kint(k, valid ? 0 : pads[n + i]);
      if (!valid && (pads[i] || pads[n + i])) w->padded = true;
    }
  }
  return NULL;
}

/* Input position of spatial dim i for output index o and kernel offset kk: o * stride - pad + kk * dilation. */
static const tcc_kexpr_t *window_pos(tcc_kernel_t *k, const window_t *w, int i, const tcc_kexpr_t *o,
                                     const tcc_kexpr_t *kk) {
  return kadd(k, ksub(k, kmul(k, o, kint(k, w->strides[i])), w->pad_begin[i]), kmul(k, kk, kint(k, w->dilations[i])));
}

/* Positions of every spatial dim (pos[i]) for output index o (spatial from o[2]) and kernel offsets kk; returns
 * the condition that all lie inside the input, or NULL when the window never leaves it. */
static const tcc_kexpr_t *window_at(tcc_kernel_t *k, const window_t *w, const tcc_kexpr_t *const *o,
                                    const tcc_kexpr_t *const *kk, const tcc_kexpr_t **pos) {
  const tcc_kexpr_t *valid = NULL;
  for (int i = 0; i < w->n; i++) {
    pos[i] = window_pos(k, w, i, o[2 + i], kk[i]);
    if (w->padded) valid = kand(k, valid, in_range(k, pos[i], kint(k, 0), w->in_size[i]));
  }
  return valid;
}

/* The block a window's update goes into: block itself, or an if on valid. */
static tcc_kblock_t *when(tcc_kernel_t *k, tcc_kblock_t *block, const tcc_kexpr_t *valid) {
  return valid ? tcc_k_if(k, block, valid, NULL) : block;
}

/* The channel loop of a convolution's reduction, innermost: `for c in 0..extent` inside `block` when valid
 * holds (NULL: always). The window's padding test then runs once per kernel position rather than once per
 * multiply-add, and the innermost loop is a plain dot product over channels. */
static tcc_kblock_t *channel_loop(tcc_kernel_t *k, tcc_kblock_t *block, const tcc_kexpr_t *valid,
                                  const tcc_kexpr_t *extent, const tcc_kexpr_t **c) {
  const tcc_kvar_t *v = NULL;
  tcc_kblock_t *inner = tcc_k_for(k, when(k, block, valid), "c", extent, TCC_KLOOP_SERIAL, &v);
  *c = v ? tcc_k_var(k, v) : NULL;
  return inner;
}

/* y[n, m, o...] = b[m] + sum_{kk, c} x[n, g * C/group + c, o * s - pad + kk * d] * w[m, c, kk], g = m / (M/group):
 * loops over the kernel positions kk, an if on the position lying inside the input (when padded), then the
 * channel loop c. */
static tcc_status_t conv(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *wt = in[1], *bias = node->num_inputs > 2 ? in[2] : NULL, *y = out[0];
  TCC_RETURN_IF_ERROR(need_type(node, x->dtype, false));
  tcc_dtype_t dt = acc_type(y->dtype);
  window_t w;
  TCC_RETURN_IF_ERROR(window_read(k, node, x, y, wt->dims + 2, &w));
  int64_t group = tcc_node_attr_int(node, "group", 1);
  const tcc_kexpr_t **o, **kk = exprs(k, w.n), **pos = exprs(k, w.n), **xi = exprs(k, x->rank),
                         **wi = exprs(k, wt->rank), *c = NULL;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body || !kk || !pos || !xi || !wi) return tcc_status_oom();
  const tcc_kexpr_t *cpg = kdim(k, wt->dims[1]);
  tcc_kbuf_t *acc = acc_new(k, body, "acc", bias ? load(k, bias, &o[1], dt) : kc(k, dt, 0));
  tcc_kblock_t *window = nest(k, body, "k", w.n, w.kernel, kk);
  tcc_kblock_t *inner = channel_loop(k, window, window_at(k, &w, o, kk, pos), cpg, &c);
  if (!inner) return tcc_status_oom();
  const tcc_kexpr_t *channel = c;
  if (group != 1) {
    const tcc_kexpr_t *mpg = kbin(k, TCC_KOP_FLOORDIV, kdim(k, wt->dims[0]), kint(k, group));
    const tcc_kexpr_t *g = kbin(k, TCC_KOP_FLOORDIV, o[1], mpg);
    channel = kadd(k, kmul(k, g, cpg), c);
  }
  xi[0] = o[0], xi[1] = channel, wi[0] = o[1], wi[1] = c;
  for (int i = 0; i < w.n; i++) xi[2 + i] = pos[i], wi[2 + i] = kk[i];
  acc_update(k, inner, acc, TCC_KOP_ADD, kmul(k, load(k, x, xi, dt), load(k, wt, wi, dt)));
  tcc_k_store(k, body, y, o, cast(k, y->dtype, acc_get(k, acc)));
  return NULL;
}

/* y[n, m, o...] = b[m] + sum_{kk, c} x[n, g * C/group + c, i] * w[g * C/group + c, m % (M/group), kk] over the
 * input positions i with i * stride - pad + kk * dilation = o (the transpose of conv's gather); loops as in
 * conv: kernel positions, the test that one hits an input position, then channels. */
static tcc_status_t conv_transpose(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                   tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *wt = in[1], *bias = node->num_inputs > 2 ? in[2] : NULL, *y = out[0];
  TCC_RETURN_IF_ERROR(need_type(node, x->dtype, false));
  tcc_dtype_t dt = acc_type(y->dtype);
  window_t w;
  TCC_RETURN_IF_ERROR(window_read(k, node, x, y, wt->dims + 2, &w));
  const int64_t *opad, *os;
  int64_t num_os;
  TCC_RETURN_IF_ERROR(ints_or(node, k, "output_padding", w.n, 0, &opad));
  const char *ap = tcc_node_attr_string(node, "auto_pad", "NOTSET");
  if (tcc_node_attr_ints(node, "output_shape", &os, &num_os) || !strncmp(ap, "SAME", 4)) {
    for (int i = 0; i < w.n; i++) { /* total = stride * (in - 1) + output_padding + (k - 1) * dilation + 1 - out */
      const tcc_kexpr_t *total = kmul(k, kint(k, w.strides[i]), ksub(k, w.in_size[i], kint(k, 1)));
      total = kadd(k, total, kmul(k, ksub(k, w.kernel[i], kint(k, 1)), kint(k, w.dilations[i])));
      total = ksub(k, kadd(k, total, kint(k, opad[i] + 1)), kdim(k, y->dims[2 + i]));
      total = kbin(k, TCC_KOP_MAX, total, kint(k, 0));
      const tcc_kexpr_t *half = kbin(k, TCC_KOP_FLOORDIV, total, kint(k, 2));
      w.pad_begin[i] = !strcmp(ap, "SAME_UPPER") ? half : ksub(k, total, half);
    }
  }
  int64_t group = tcc_node_attr_int(node, "group", 1);
  const tcc_kexpr_t **o, **kk = exprs(k, w.n), **xi = exprs(k, x->rank), **wi = exprs(k, wt->rank), *c = NULL;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body || !kk || !xi || !wi) return tcc_status_oom();
  const tcc_kexpr_t *cpg = kbin(k, TCC_KOP_FLOORDIV, kdim(k, x->dims[1]), kint(k, group)), *mpg = kdim(k, wt->dims[1]);
  tcc_kbuf_t *acc = acc_new(k, body, "acc", bias ? load(k, bias, &o[1], dt) : kc(k, dt, 0));
  tcc_kblock_t *window = nest(k, body, "k", w.n, w.kernel, kk);
  if (!window) return tcc_status_oom();
  const tcc_kexpr_t *valid = NULL;
  for (int i = 0; i < w.n; i++) {
    const tcc_kexpr_t *t = ksub(k, kadd(k, o[2 + i], w.pad_begin[i]), kmul(k, kk[i], kint(k, w.dilations[i])));
    const tcc_kexpr_t *s = kint(k, w.strides[i]);
    xi[2 + i] = kbin(k, TCC_KOP_FLOORDIV, t, s), wi[2 + i] = kk[i];
    valid = kand(k, valid, kand(k, kbin(k, TCC_KOP_EQ, kbin(k, TCC_KOP_FLOORMOD, t, s), kint(k, 0)),
                                in_range(k, t, kint(k, 0), kmul(k, w.in_size[i], s))));
  }
  tcc_kblock_t *inner = channel_loop(k, window, valid, cpg, &c);
  if (!inner) return tcc_status_oom();
  const tcc_kexpr_t *channel = kadd(k, kmul(k, kbin(k, TCC_KOP_FLOORDIV, o[1], mpg), cpg), c);
  xi[0] = o[0], xi[1] = channel, wi[0] = channel, wi[1] = kbin(k, TCC_KOP_FLOORMOD, o[1], mpg);
  acc_update(k, inner, acc, TCC_KOP_ADD, kmul(k, load(k, x, xi, dt), load(k, wt, wi, dt)));
  tcc_k_store(k, body, y, o, cast(k, y->dtype, acc_get(k, acc)));
  return NULL;
}

/* max_pool (with optional Indices), average_pool, lp_pool over a window of each (n, c). */
static tcc_status_t pool(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0], *indices = node->num_outputs > 1 ? out[1] : NULL;
  TCC_RETURN_IF_ERROR(need_type(node, x->dtype, node->op == TCC_OP_MAX_POOL));
  tcc_dtype_t dt = acc_type(y->dtype);
  window_t w;
  TCC_RETURN_IF_ERROR(window_read(k, node, x, y, NULL, &w));
  const tcc_kexpr_t **o, **pos = exprs(k, w.n), **xi = exprs(k, x->rank);
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body || !pos || !xi) return tcc_status_oom();
  bool is_max = node->op == TCC_OP_MAX_POOL, is_avg = node->op == TCC_OP_AVERAGE_POOL;
  tcc_kbuf_t *count = is_avg ? acc_new(k, body, "count", kc(k, dt, 0)) : NULL;
  tcc_kbuf_t *arg = indices ? acc_new(k, body, "arg", kint(k, 0)) : NULL;
  reduce_t r = reduce_begin(k, body, "acc", is_max ? extreme(k, dt, true) : kc(k, dt, 0), w.n, w.kernel);
  if (!r.r) return tcc_status_oom();
  const tcc_kexpr_t *valid = window_at(k, &w, o, r.r, pos);
  xi[0] = o[0], xi[1] = o[1];
  for (int i = 0; i < w.n; i++) xi[2 + i] = pos[i];
  tcc_kblock_t *inside = when(k, r.body, valid);
  const tcc_kexpr_t *xv = load(k, x, xi, dt), *result = acc_get(k, r.acc);
  if (is_max && arg) { /* first maximum; the flat index is row-major, or column-major over spatial dims */
    tcc_kblock_t *better = tcc_k_if(k, inside, kbin(k, TCC_KOP_GT, xv, acc_get(k, r.acc)), NULL);
    acc_set(k, better, r.acc, xv);
    bool column = tcc_node_attr_int(node, "storage_order", 0) != 0;
    const tcc_kexpr_t *flat = kadd(k, kmul(k, o[0], kdim(k, x->dims[1])), o[1]), *spatial = kint(k, 0);
    for (int j = 0; j < w.n; j++) {
      int i = column ? w.n - 1 - j : j;
      flat = kmul(k, flat, w.in_size[i]);
      spatial = kadd(k, kmul(k, spatial, w.in_size[i]), pos[i]);
    }
    acc_set(k, better, arg, kadd(k, flat, spatial));
    tcc_k_store(k, body, indices, o, acc_get(k, arg));
  } else if (is_max) {
    acc_update(k, inside, r.acc, TCC_KOP_MAX, xv);
  } else if (is_avg) {
    acc_update(k, inside, r.acc, TCC_KOP_ADD, xv);
    const tcc_kexpr_t *counted = valid;
    if (tcc_node_attr_int(node, "count_include_pad", 0)) { /* positions inside the padded input */
      counted = NULL;
      for (int i = 0; i < w.n; i++)
        counted = kand(k, counted, in_range(k, pos[i], tcc_k_unary(k, TCC_KOP_NEG, w.pad_begin[i]),
                                            kadd(k, w.in_size[i], w.pad_end[i])));
    }
    acc_update(k, when(k, r.body, counted), count, TCC_KOP_ADD, kc(k, dt, 1));
    result = kbin(k, TCC_KOP_DIV, result, acc_get(k, count));
  } else { /* lp_pool: (sum |x|^p)^(1/p) */
    double p = (double)tcc_node_attr_int(node, "p", 2);
    acc_update(k, inside, r.acc, TCC_KOP_ADD, kbin(k, TCC_KOP_POW, tcc_k_unary(k, TCC_KOP_ABS, xv), kc(k, dt, p)));
    result = kbin(k, TCC_KOP_POW, result, kc(k, dt, 1.0 / p));
  }
  tcc_k_store(k, body, y, o, cast(k, y->dtype, result));
  return NULL;
}

/* ---- reduce_*, global pools, argmax/argmin -------------------------------------------------------- */

/* Shared by reduce_* and the global pools: y[o] = final(fold over the masked dims of x). */
static tcc_status_t reduce_masked(tcc_kernel_t *k, tcc_op_t op, const tcc_kbuf_t *x, const tcc_kbuf_t *y,
                                  const bool *mask, bool keepdims) {
  bool needs_float = op == TCC_OP_REDUCE_L2 || op == TCC_OP_REDUCE_LOG_SUM || op == TCC_OP_REDUCE_LOG_SUM_EXP;
  tcc_dtype_t dt = needs_float && !tcc_dtype_is_float(y->dtype) ? TCC_DTYPE_F64 : acc_type(y->dtype);
  const tcc_kexpr_t **o, **ext = exprs(k, x->rank), **outer = exprs(k, x->rank);
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body || !ext || !outer) return tcc_status_oom();
  for (int d = 0, j = 0; d < x->rank; d++) {
    if (!mask[d]) outer[d] = o[j++];
    else if (keepdims) j++;
  }
  int n = masked_extents(k, x->rank, x->dims, mask, ext);
  const tcc_kexpr_t *shift = NULL; /* log_sum_exp: the maximum, subtracted before exp */
  if (op == TCC_OP_REDUCE_LOG_SUM_EXP) {
    reduce_t m = reduce_begin(k, body, "max", extreme(k, dt, true), n, ext);
    if (!m.r) return tcc_status_oom();
    acc_update(k, m.body, m.acc, TCC_KOP_MAX, load(k, x, fill_index(k, x->rank, outer, m.r), dt));
    shift = acc_get(k, m.acc);
    shift = tcc_k_select(k, tcc_k_unary(k, TCC_KOP_IS_INF, shift), kc(k, dt, 0), shift);
  }
  bool is_max = op == TCC_OP_REDUCE_MAX || op == TCC_OP_GLOBAL_MAX_POOL, is_min = op == TCC_OP_REDUCE_MIN;
  const tcc_kexpr_t *init = is_max ? extreme(k, dt, true) : is_min ? extreme(k, dt, false)
                          : op == TCC_OP_REDUCE_PROD ? kc(k, dt, 1) : kc(k, dt, 0);
  reduce_t r = reduce_begin(k, body, "acc", init, n, ext);
  if (!r.r) return tcc_status_oom();
  const tcc_kexpr_t *v = load(k, x, fill_index(k, x->rank, outer, r.r), dt);
  bool logical = dt == TCC_DTYPE_BOOL; /* max / min of bool: or / and */
  tcc_kop_t fold = op == TCC_OP_REDUCE_PROD ? TCC_KOP_MUL : TCC_KOP_ADD;
  if (is_max) fold = logical ? TCC_KOP_OR : TCC_KOP_MAX;
  if (is_min) fold = logical ? TCC_KOP_AND : TCC_KOP_MIN;
  if (op == TCC_OP_REDUCE_L1) v = tcc_k_unary(k, TCC_KOP_ABS, v);
  if (op == TCC_OP_REDUCE_L2 || op == TCC_OP_REDUCE_SUM_SQUARE) v = kmul(k, v, v);
  if (shift) v = tcc_k_unary(k, TCC_KOP_EXP, ksub(k, v, shift));
  acc_update(k, r.body, r.acc, fold, v);
  const tcc_kexpr_t *res = acc_get(k, r.acc);
  if (op == TCC_OP_REDUCE_MEAN || op == TCC_OP_GLOBAL_AVERAGE_POOL) {
    const tcc_kexpr_t *count = kint(k, 1);
    for (int i = 0; i < n; i++) count = kmul(k, count, ext[i]);
    res = kbin(k, TCC_KOP_DIV, res, cast(k, dt, count));
  }
  if (op == TCC_OP_REDUCE_L2) res = tcc_k_unary(k, TCC_KOP_SQRT, res);
  if (op == TCC_OP_REDUCE_LOG_SUM) res = tcc_k_unary(k, TCC_KOP_LOG, res);
  if (shift) res = kadd(k, tcc_k_unary(k, TCC_KOP_LOG, res), shift);
  tcc_k_store(k, body, y, o, cast(k, y->dtype, res));
  return NULL;
}

/* reduce_*: axes from the constant input 1 (or a legacy attribute); empty axes reduce everything unless
 * noop_with_empty_axes, which makes the op an identity. */
static tcc_status_t reduce(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  bool logical = x->dtype == TCC_DTYPE_BOOL && (node->op == TCC_OP_REDUCE_MAX || node->op == TCC_OP_REDUCE_MIN);
  if (!logical) TCC_RETURN_IF_ERROR(need_type(node, x->dtype, true));
  const int64_t *axes = NULL;
  int64_t naxes = 0;
  if (node->num_inputs > 1 && node->inputs[1]) {
    if (!tcc_value_const_ints(node->inputs[1], &axes, &naxes))
      return tcc_infer_unsupported(node, "the axes input must be a constant");
  } else {
    tcc_node_attr_ints(node, "axes", &axes, &naxes);
  }
  bool *mask = tcc_module_alloc(k->module, (size_t)x->rank + 1);
  if (!mask) return tcc_status_oom();
  bool noop = naxes == 0 && tcc_node_attr_int(node, "noop_with_empty_axes", 0);
  for (int d = 0; d < x->rank; d++) mask[d] = naxes == 0 && !noop;
  for (int64_t i = 0; i < naxes; i++) {
    int a;
    TCC_RETURN_IF_ERROR(tcc_infer_axis(node, axes[i], x->rank, &a));
    mask[a] = true;
  }
  if (noop) { /* identity */
    const tcc_kexpr_t **o;
    tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
    tcc_k_store(k, body, y, o, tcc_k_load(k, x, o));
    return NULL;
  }
  return reduce_masked(k, node->op, x, y, mask, tcc_node_attr_int(node, "keepdims", 1) != 0);
}

/* global_average_pool / global_max_pool: reduce every spatial dim, kept as 1. */
static tcc_status_t global_pool(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0];
  TCC_RETURN_IF_ERROR(need_type(node, x->dtype, node->op == TCC_OP_GLOBAL_MAX_POOL));
  bool *mask = tcc_module_alloc(k->module, (size_t)x->rank + 1);
  if (!mask) return tcc_status_oom();
  for (int d = 0; d < x->rank; d++) mask[d] = d >= 2;
  return reduce_masked(k, node->op, x, out[0], mask, true);
}

/* Index along `axis` of the first (or, select_last_index, last) maximum or minimum. */
static tcc_status_t arg_reduce(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                               tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  TCC_RETURN_IF_ERROR(need_type(node, x->dtype, true));
  tcc_dtype_t dt = acc_type(x->dtype);
  int axis;
  TCC_RETURN_IF_ERROR(axis_attr(node, "axis", 0, x->rank, &axis));
  bool keepdims = tcc_node_attr_int(node, "keepdims", 1) != 0, last = tcc_node_attr_int(node, "select_last_index", 0);
  bool is_max = node->op == TCC_OP_ARGMAX;
  const tcc_kexpr_t **o, **xi = exprs(k, x->rank);
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body || !xi) return tcc_status_oom();
  tcc_kbuf_t *arg = acc_new(k, body, "arg", kint(k, 0));
  const tcc_kexpr_t *ext[] = {kdim(k, x->dims[axis])};
  reduce_t r = reduce_begin(k, body, "best", extreme(k, dt, is_max), 1, ext);
  if (!r.r) return tcc_status_oom();
  for (int d = 0, j = 0; d < x->rank; d++) xi[d] = d == axis ? (j += keepdims, r.r[0]) : o[j++];
  const tcc_kexpr_t *xv = load(k, x, xi, dt);
  tcc_kop_t cmp = is_max ? (last ? TCC_KOP_GE : TCC_KOP_GT) : (last ? TCC_KOP_LE : TCC_KOP_LT);
  tcc_kblock_t *better = tcc_k_if(k, r.body, kbin(k, cmp, xv, acc_get(k, r.acc)), NULL);
  acc_set(k, better, r.acc, xv);
  acc_set(k, better, arg, r.r[0]);
  tcc_k_store(k, body, y, o, acc_get(k, arg));
  return NULL;
}

/* ---- softmax family, cumsum, lp_normalization, lrn ------------------------------------------------ */

/* softmax, log_softmax, hardmax along one axis (newest semantics); softmax subtracts the maximum first. */
static tcc_status_t softmax(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  TCC_RETURN_IF_ERROR(need_type(node, x->dtype, false));
  tcc_dtype_t dt = acc_type(x->dtype);
  int axis;
  TCC_RETURN_IF_ERROR(axis_attr(node, "axis", -1, x->rank, &axis));
  bool *mask = tcc_module_alloc(k->module, (size_t)x->rank + 1);
  if (!mask) return tcc_status_oom();
  for (int d = 0; d < x->rank; d++) mask[d] = d == axis;
  const tcc_kexpr_t **outer, *ext[] = {kdim(k, x->dims[axis])};
  tcc_kblock_t *body = loops_except(k, tcc_kernel_body(k), x->rank, x->dims, mask, &outer);
  tcc_kbuf_t *arg = node->op == TCC_OP_HARDMAX ? acc_new(k, body, "arg", kint(k, 0)) : NULL;
  reduce_t m = reduce_begin(k, body, "max", extreme(k, dt, true), 1, ext);
  if (!m.r) return tcc_status_oom();
  const tcc_kexpr_t *xm = load(k, x, fill_index(k, x->rank, outer, m.r), dt);
  if (arg) { /* first maximum */
    tcc_kblock_t *better = tcc_k_if(k, m.body, kbin(k, TCC_KOP_GT, xm, acc_get(k, m.acc)), NULL);
    acc_set(k, better, m.acc, xm);
    acc_set(k, better, arg, m.r[0]);
  } else {
    acc_update(k, m.body, m.acc, TCC_KOP_MAX, xm);
  }
  const tcc_kexpr_t *max = acc_get(k, m.acc), *sum = NULL;
  if (!arg) {
    reduce_t s = reduce_begin(k, body, "sum", kc(k, dt, 0), 1, ext);
    if (!s.r) return tcc_status_oom();
    const tcc_kexpr_t *xs = load(k, x, fill_index(k, x->rank, outer, s.r), dt);
    acc_update(k, s.body, s.acc, TCC_KOP_ADD, tcc_k_unary(k, TCC_KOP_EXP, ksub(k, xs, max)));
    sum = acc_get(k, s.acc);
  }
  const tcc_kexpr_t *j[1];
  tcc_kblock_t *store = nest(k, body, "j", 1, ext, j);
  const tcc_kexpr_t **yi = fill_index(k, x->rank, outer, j), *v;
  if (!yi) return tcc_status_oom();
  if (arg) v = tcc_k_select(k, kbin(k, TCC_KOP_EQ, j[0], acc_get(k, arg)), kc(k, dt, 1), kc(k, dt, 0));
  else if (node->op == TCC_OP_SOFTMAX)
    v = kbin(k, TCC_KOP_DIV, tcc_k_unary(k, TCC_KOP_EXP, ksub(k, load(k, x, yi, dt), max)), sum);
  else
    v = ksub(k, ksub(k, load(k, x, yi, dt), max), tcc_k_unary(k, TCC_KOP_LOG, sum));
  tcc_k_store(k, store, y, yi, cast(k, y->dtype, v));
  return NULL;
}

/* Running sum along a constant axis (input 1): exclusive and reverse as attributes. */
static tcc_status_t cumsum(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  TCC_RETURN_IF_ERROR(need_type(node, x->dtype, true));
  tcc_dtype_t dt = acc_type(x->dtype);
  const int64_t *axv;
  int64_t count;
  if (node->num_inputs < 2 || !node->inputs[1] || !tcc_value_const_ints(node->inputs[1], &axv, &count) || count != 1)
    return tcc_infer_unsupported(node, "the axis input must be a constant scalar");
  int axis;
  TCC_RETURN_IF_ERROR(tcc_infer_axis(node, axv[0], x->rank, &axis));
  bool exclusive = tcc_node_attr_int(node, "exclusive", 0), reverse = tcc_node_attr_int(node, "reverse", 0);
  bool *mask = tcc_module_alloc(k->module, (size_t)x->rank + 1);
  if (!mask) return tcc_status_oom();
  for (int d = 0; d < x->rank; d++) mask[d] = d == axis;
  const tcc_kexpr_t **outer, *ext[] = {kdim(k, x->dims[axis])};
  tcc_kblock_t *body = loops_except(k, tcc_kernel_body(k), x->rank, x->dims, mask, &outer);
  reduce_t r = reduce_begin(k, body, "acc", kc(k, dt, 0), 1, ext);
  if (!r.r) return tcc_status_oom();
  const tcc_kexpr_t *t = reverse ? ksub(k, ksub(k, ext[0], kint(k, 1)), r.r[0]) : r.r[0];
  const tcc_kexpr_t **xi = fill_index(k, x->rank, outer, &t);
  if (!xi) return tcc_status_oom();
  if (exclusive) tcc_k_store(k, r.body, y, xi, cast(k, y->dtype, acc_get(k, r.acc)));
  acc_update(k, r.body, r.acc, TCC_KOP_ADD, load(k, x, xi, dt));
  if (!exclusive) tcc_k_store(k, r.body, y, xi, cast(k, y->dtype, acc_get(k, r.acc)));
  return NULL;
}

/* x / ||x||_p along axis, p = 1 or 2. */
static tcc_status_t lp_normalization(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                     tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  TCC_RETURN_IF_ERROR(need_type(node, x->dtype, false));
  tcc_dtype_t dt = acc_type(x->dtype);
  int axis;
  TCC_RETURN_IF_ERROR(axis_attr(node, "axis", -1, x->rank, &axis));
  int64_t p = tcc_node_attr_int(node, "p", 2);
  if (p != 1 && p != 2) return tcc_infer_unsupported(node, "p = %lld (only 1 and 2)", (long long)p);
  bool *mask = tcc_module_alloc(k->module, (size_t)x->rank + 1);
  if (!mask) return tcc_status_oom();
  for (int d = 0; d < x->rank; d++) mask[d] = d == axis;
  const tcc_kexpr_t **outer, *ext[] = {kdim(k, x->dims[axis])}, *j[1];
  tcc_kblock_t *body = loops_except(k, tcc_kernel_body(k), x->rank, x->dims, mask, &outer);
  reduce_t r = reduce_begin(k, body, "norm", kc(k, dt, 0), 1, ext);
  if (!r.r) return tcc_status_oom();
  const tcc_kexpr_t *xv = load(k, x, fill_index(k, x->rank, outer, r.r), dt);
  acc_update(k, r.body, r.acc, TCC_KOP_ADD, p == 1 ? tcc_k_unary(k, TCC_KOP_ABS, xv) : kmul(k, xv, xv));
  const tcc_kexpr_t *norm = acc_get(k, r.acc);
  if (p == 2) norm = tcc_k_unary(k, TCC_KOP_SQRT, norm);
  tcc_kblock_t *store = nest(k, body, "j", 1, ext, j);
  const tcc_kexpr_t **yi = fill_index(k, x->rank, outer, j);
  tcc_k_store(k, store, y, yi, cast(k, y->dtype, kbin(k, TCC_KOP_DIV, load(k, x, yi, dt), norm)));
  return NULL;
}

/* Local response normalization across channels: x / (bias + alpha / size * sum x^2)^beta. */
static tcc_status_t lrn(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  TCC_RETURN_IF_ERROR(need_type(node, x->dtype, false));
  tcc_dtype_t dt = acc_type(x->dtype);
  int64_t size = tcc_node_attr_int(node, "size", 0);
  if (size < 1 || x->rank < 2) return tcc_infer_error(node, "LRN needs size >= 1 and an input of rank >= 2");
  double alpha = tcc_node_attr_float(node, "alpha", 1e-4), beta = tcc_node_attr_float(node, "beta", 0.75);
  double bias = tcc_node_attr_float(node, "bias", 1.0);
  const tcc_kexpr_t **o, **xi = exprs(k, x->rank);
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body || !xi) return tcc_status_oom();
  const tcc_kexpr_t *ext[] = {kint(k, size)};
  reduce_t r = reduce_begin(k, body, "sum", kc(k, dt, 0), 1, ext);
  if (!r.r) return tcc_status_oom();
  const tcc_kexpr_t *c = kadd(k, ksub(k, o[1], kint(k, (size - 1) / 2)), r.r[0]);
  memcpy(xi, o, (size_t)x->rank * sizeof *xi);
  xi[1] = c;
  tcc_kblock_t *inside = tcc_k_if(k, r.body, in_range(k, c, kint(k, 0), kdim(k, x->dims[1])), NULL);
  const tcc_kexpr_t *xv = load(k, x, xi, dt);
  acc_update(k, inside, r.acc, TCC_KOP_ADD, kmul(k, xv, xv));
  const tcc_kexpr_t *den = kadd(k, kc(k, dt, bias), kmul(k, kc(k, dt, alpha / (double)size), acc_get(k, r.acc)));
  den = kbin(k, TCC_KOP_POW, den, kc(k, dt, beta));
  tcc_k_store(k, body, y, o, cast(k, y->dtype, kbin(k, TCC_KOP_DIV, load(k, x, o, dt), den)));
  return NULL;
}

/* ---- normalizations ------------------------------------------------------------------------------- */

/* How a normalization splits x's index into outer loops (one set of statistics each) and inner loops (the
 * elements those statistics are over): dim d is outer[outer_of[d]], inner[inner_of[d]], or, when both are
 * set (group norm's channel), outer * inner extent + inner. */
typedef struct {
  int nouter, ninner;
  int *outer_of, *inner_of;
  const tcc_kexpr_t **outer_ext, **inner_ext;
} split_t;

typedef enum { NORM_STD, NORM_RMS, NORM_MVN } norm_kind_t;

static tcc_status_t split_init(tcc_kernel_t *k, int rank, split_t *s) {
  s->nouter = s->ninner = 0;
  s->outer_of = tcc_module_alloc(k->module, (size_t)(rank + 1) * sizeof(int));
  s->inner_of = tcc_module_alloc(k->module, (size_t)(rank + 1) * sizeof(int));
  s->outer_ext = exprs(k, rank + 1), s->inner_ext = exprs(k, rank + 1);
  if (!s->outer_of || !s->inner_of || !s->outer_ext || !s->inner_ext) return tcc_status_oom();
  for (int d = 0; d < rank; d++) s->outer_of[d] = s->inner_of[d] = -1;
  return NULL;
}
static void split_outer(split_t *s, int d, const tcc_kexpr_t *ext) {
  s->outer_of[d] = s->nouter, s->outer_ext[s->nouter++] = ext;
}
static void split_inner(split_t *s, int d, const tcc_kexpr_t *ext) {
  s->inner_of[d] = s->ninner, s->inner_ext[s->ninner++] = ext;
}

static const tcc_kexpr_t **split_index(tcc_kernel_t *k, const split_t *s, int rank, const tcc_kexpr_t *const *ov,
                                       const tcc_kexpr_t *const *iv) {
  const tcc_kexpr_t **idx = exprs(k, rank);
  for (int d = 0; idx && d < rank; d++) {
    int o = s->outer_of[d], i = s->inner_of[d];
    idx[d] = o >= 0 && i >= 0 ? kadd(k, kmul(k, ov[o], s->inner_ext[i]), iv[i]) : o >= 0 ? ov[o] : i >= 0 ? iv[i]
                                                                                                    : kint(k, 0);
  }
  return idx;
}

/* Shared body of the normalizations: per outer index, mean and inverse deviation over the inner elements
 * (computed in dt), then y = (x - mean) * inv * scale + bias. Scale and bias are indexed by channel (dim 1)
 * when per_channel, else broadcast against x. mean_out / inv_out (optional) get the statistics. */
static tcc_status_t normalize(tcc_kernel_t *k, const tcc_kbuf_t *x, const tcc_kbuf_t *y, const split_t *s,
                              norm_kind_t kind, double eps, tcc_dtype_t dt, const tcc_kbuf_t *scale,
                              const tcc_kbuf_t *bias, bool per_channel, const tcc_kbuf_t *mean_out,
                              const tcc_kbuf_t *inv_out) {
  const tcc_kexpr_t **ov = exprs(k, s->nouter), **iv = exprs(k, s->ninner);
  if (!ov || !iv) return tcc_status_oom();
  tcc_kblock_t *body = nest(k, tcc_kernel_body(k), "o", s->nouter, s->outer_ext, ov);
  const tcc_kexpr_t *count = kint(k, 1), *mean = kc(k, dt, 0);
  for (int i = 0; i < s->ninner; i++) count = kmul(k, count, s->inner_ext[i]);
  count = cast(k, dt, count);
  if (kind != NORM_RMS) {
    reduce_t r = reduce_begin(k, body, "sum", kc(k, dt, 0), s->ninner, s->inner_ext);
    if (!r.r) return tcc_status_oom();
    acc_update(k, r.body, r.acc, TCC_KOP_ADD, load(k, x, split_index(k, s, x->rank, ov, r.r), dt));
    tcc_kbuf_t *m = acc_new(k, body, "mean", kbin(k, TCC_KOP_DIV, acc_get(k, r.acc), count));
    mean = acc_get(k, m);
  }
  reduce_t r = reduce_begin(k, body, "sqsum", kc(k, dt, 0), s->ninner, s->inner_ext);
  if (!r.r) return tcc_status_oom();
  const tcc_kexpr_t *d = ksub(k, load(k, x, split_index(k, s, x->rank, ov, r.r), dt), mean);
  acc_update(k, r.body, r.acc, TCC_KOP_ADD, kmul(k, d, d));
  const tcc_kexpr_t *var = kbin(k, TCC_KOP_DIV, acc_get(k, r.acc), count), *inv;
  if (kind == NORM_MVN) /* 1 / (sqrt(var) + eps) */
    inv = tcc_k_unary(k, TCC_KOP_RECIPROCAL, kadd(k, tcc_k_unary(k, TCC_KOP_SQRT, var), kc(k, dt, eps)));
  else
    inv = tcc_k_unary(k, TCC_KOP_RECIPROCAL, tcc_k_unary(k, TCC_KOP_SQRT, kadd(k, var, kc(k, dt, eps))));
  inv = acc_get(k, acc_new(k, body, "inv", inv));
  if (mean_out || inv_out) {
    const tcc_kexpr_t **si = exprs(k, x->rank); /* inner dims kept as 1 */
    for (int d = 0; si && d < x->rank; d++) si[d] = s->outer_of[d] >= 0 ? ov[s->outer_of[d]] : kint(k, 0);
    if (mean_out) tcc_k_store(k, body, mean_out, si, cast(k, mean_out->dtype, mean));
    if (inv_out) tcc_k_store(k, body, inv_out, si, cast(k, inv_out->dtype, inv));
  }
  tcc_kblock_t *inner = nest(k, body, "j", s->ninner, s->inner_ext, iv);
  const tcc_kexpr_t **xi = split_index(k, s, x->rank, ov, iv);
  if (!xi) return tcc_status_oom();
  const tcc_kexpr_t *v = kmul(k, ksub(k, load(k, x, xi, dt), mean), inv);
  const tcc_kexpr_t *const *ci = per_channel ? &xi[1] : NULL;
  if (scale) v = kmul(k, v, load(k, scale, ci ? ci : tcc_compute_broadcast_index(k, scale, x->rank, x->dims, xi), dt));
  if (bias) v = kadd(k, v, load(k, bias, ci ? ci : tcc_compute_broadcast_index(k, bias, x->rank, x->dims, xi), dt));
  tcc_k_store(k, inner, y, xi, cast(k, y->dtype, v));
  return NULL;
}

/* The computation type of a normalization with a stash_type attribute. */
static tcc_dtype_t stash_type(const tcc_node_t *node, tcc_dtype_t x) {
  return tcc_node_attr_int(node, "stash_type", TCC_DTYPE_F32) == TCC_DTYPE_F64 || x == TCC_DTYPE_F64 ? TCC_DTYPE_F64
                                                                                                    : TCC_DTYPE_F32;
}

/* layer_normalization (optional Mean / InvStdDev outputs) and rms_normalization over dims axis.. */
static tcc_status_t layer_norm(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                               tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0];
  TCC_RETURN_IF_ERROR(need_type(node, x->dtype, false));
  int axis;
  TCC_RETURN_IF_ERROR(axis_attr(node, "axis", -1, x->rank, &axis));
  split_t s;
  TCC_RETURN_IF_ERROR(split_init(k, x->rank, &s));
  for (int d = 0; d < x->rank; d++) {
    if (d < axis) split_outer(&s, d, kdim(k, x->dims[d]));
    else split_inner(&s, d, kdim(k, x->dims[d]));
  }
  bool rms = node->op == TCC_OP_RMS_NORMALIZATION;
  const tcc_kbuf_t *bias = !rms && node->num_inputs > 2 ? in[2] : NULL;
  const tcc_kbuf_t *mean = node->num_outputs > 1 ? out[1] : NULL, *inv = node->num_outputs > 2 ? out[2] : NULL;
  return normalize(k, x, out[0], &s, rms ? NORM_RMS : NORM_STD, tcc_node_attr_float(node, "epsilon", 1e-5),
                   stash_type(node, x->dtype), in[1], bias, false, mean, inv);
}

/* instance_normalization: statistics per (n, c); group_normalization: per (n, group), channel-wise affine. */
static tcc_status_t instance_group_norm(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                        tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0];
  TCC_RETURN_IF_ERROR(need_type(node, x->dtype, false));
  if (x->rank < 2) return tcc_infer_error(node, "input must have rank >= 2 (N, C, ...), got %d", x->rank);
  split_t s;
  TCC_RETURN_IF_ERROR(split_init(k, x->rank, &s));
  split_outer(&s, 0, kdim(k, x->dims[0]));
  bool group = node->op == TCC_OP_GROUP_NORMALIZATION;
  if (group) {
    int64_t g = tcc_node_attr_int(node, "num_groups", 0);
    if (g < 1) return tcc_infer_error(node, "attribute 'num_groups' must be positive");
    split_outer(&s, 1, kint(k, g));
    split_inner(&s, 1, kbin(k, TCC_KOP_FLOORDIV, kdim(k, x->dims[1]), kint(k, g)));
  } else {
    split_outer(&s, 1, kdim(k, x->dims[1]));
  }
  for (int d = 2; d < x->rank; d++) split_inner(&s, d, kdim(k, x->dims[d]));
  tcc_dtype_t dt = group ? stash_type(node, x->dtype) : acc_type(x->dtype);
  return normalize(k, x, out[0], &s, NORM_STD, tcc_node_attr_float(node, "epsilon", 1e-5), dt, in[1], in[2], true,
                   NULL, NULL);
}

/* mean_variance_normalization: (x - mean) / (sqrt(var) + 1e-9) over `axes` (default 0, 2, 3). */
static tcc_status_t mvn(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0];
  TCC_RETURN_IF_ERROR(need_type(node, x->dtype, false));
  static const int64_t def_axes[] = {0, 2, 3};
  const int64_t *axes = def_axes;
  int64_t naxes = 3;
  if (!tcc_node_attr_ints(node, "axes", &axes, &naxes)) axes = def_axes, naxes = 3;
  bool *mask = tcc_module_alloc(k->module, (size_t)x->rank + 1);
  if (!mask) return tcc_status_oom();
  memset(mask, 0, (size_t)x->rank + 1);
  for (int64_t i = 0; i < naxes; i++) {
    int a;
    TCC_RETURN_IF_ERROR(tcc_infer_axis(node, axes[i], x->rank, &a));
    mask[a] = true;
  }
  split_t s;
  TCC_RETURN_IF_ERROR(split_init(k, x->rank, &s));
  for (int d = 0; d < x->rank; d++) {
    if (mask[d]) split_inner(&s, d, kdim(k, x->dims[d]));
    else split_outer(&s, d, kdim(k, x->dims[d]));
  }
  return normalize(k, x, out[0], &s, NORM_MVN, 1e-9, acc_type(x->dtype), NULL, NULL, false, NULL, NULL);
}

/* batch_normalization, inference mode: (x - mean) / sqrt(var + eps) * scale + bias per channel. */
static tcc_status_t batch_norm(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                               tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  TCC_RETURN_IF_ERROR(need_type(node, x->dtype, false));
  if (tcc_node_attr_int(node, "training_mode", 0)) return tcc_compute_batch_norm_training(k, node, in, out);
  tcc_dtype_t dt = acc_type(x->dtype);
  double eps = tcc_node_attr_float(node, "epsilon", 1e-5);
  const tcc_kexpr_t **o;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body) return tcc_status_oom();
  const tcc_kexpr_t *c = o[1];
  const tcc_kexpr_t *inv = tcc_k_unary(k, TCC_KOP_SQRT, kadd(k, load(k, in[4], &c, dt), kc(k, dt, eps)));
  const tcc_kexpr_t *v = kbin(k, TCC_KOP_DIV, ksub(k, load(k, x, o, dt), load(k, in[3], &c, dt)), inv);
  v = kadd(k, kmul(k, v, load(k, in[1], &c, dt)), load(k, in[2], &c, dt));
  tcc_k_store(k, body, y, o, cast(k, y->dtype, v));
  return NULL;
}

const tcc_compute_entry_t tcc_compute_reduce_defs[] = {
    {TCC_OP_MATMUL, matmul},
    {TCC_OP_GEMM, gemm},
    {TCC_OP_CONV, conv},
    {TCC_OP_CONV_TRANSPOSE, conv_transpose},
    {TCC_OP_MAX_POOL, pool},
    {TCC_OP_AVERAGE_POOL, pool},
    {TCC_OP_LP_POOL, pool},
    {TCC_OP_GLOBAL_AVERAGE_POOL, global_pool},
    {TCC_OP_GLOBAL_MAX_POOL, global_pool},
    {TCC_OP_SOFTMAX, softmax},
    {TCC_OP_LOG_SOFTMAX, softmax},
    {TCC_OP_HARDMAX, softmax},
    {TCC_OP_LAYER_NORMALIZATION, layer_norm},
    {TCC_OP_RMS_NORMALIZATION, layer_norm},
    {TCC_OP_BATCH_NORMALIZATION, batch_norm},
    {TCC_OP_INSTANCE_NORMALIZATION, instance_group_norm},
    {TCC_OP_GROUP_NORMALIZATION, instance_group_norm},
    {TCC_OP_MEAN_VARIANCE_NORMALIZATION, mvn},
    {TCC_OP_REDUCE_SUM, reduce},
    {TCC_OP_REDUCE_MEAN, reduce},
    {TCC_OP_REDUCE_MAX, reduce},
    {TCC_OP_REDUCE_MIN, reduce},
    {TCC_OP_REDUCE_PROD, reduce},
    {TCC_OP_REDUCE_L1, reduce},
    {TCC_OP_REDUCE_L2, reduce},
    {TCC_OP_REDUCE_LOG_SUM, reduce},
    {TCC_OP_REDUCE_LOG_SUM_EXP, reduce},
    {TCC_OP_REDUCE_SUM_SQUARE, reduce},
    {TCC_OP_ARGMAX, arg_reduce},
    {TCC_OP_ARGMIN, arg_reduce},
    {TCC_OP_CUMSUM, cumsum},
    {TCC_OP_LP_NORMALIZATION, lp_normalization},
    {TCC_OP_LRN, lrn},
    {TCC_OP_UNSUPPORTED, NULL},
};
