/* Compute definitions: reductions and the ops built on them — matmul, gemm, convolution, pooling, softmax,
 * normalizations, reduce_*, argmax/argmin, cumsum, LRN. Reductions accumulate in a REGISTER buffer (f32 for
 * half and float8 types, cast back on the final store); conv and pooling share the window helpers of
 * ir/compute.c for input positions and padding (attribute pads, or auto_pad SAME computed from run-time sizes). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/compute_defs.h"
#include "ir/infer.h"

/* ---- dtypes --------------------------------------------------------------------------------------- */

/* The lowest (or highest) value of dt: infinities for floats, the integer limits otherwise. */
static const tcc_kexpr_t *extreme(tcc_kernel_t *k, tcc_dtype_t dt, bool lowest) {
  if (dt == TCC_DTYPE_BOOL) return kc(k, dt, !lowest);
  if (tcc_dtype_is_float(dt)) return kc(k, dt, lowest ? -INFINITY : INFINITY);
  if (!tcc_dtype_is_signed_int(dt)) return lowest ? kc(k, dt, 0) : kun(k, TCC_KOP_BITNOT, kc(k, dt, 0));
  const tcc_kexpr_t *min = kc(k, dt, -ldexp(1.0, tcc_dtype_bits(dt) - 1));
  return lowest ? min : kun(k, TCC_KOP_BITNOT, min);
}

/* ---- accumulators and loops ----------------------------------------------------------------------- */

/* A reduction: accumulator `acc` (= init) allocated in block, then loops over extents; `body` is the innermost
 * loop body and r its variables. The accumulator stays live after the loops, in block. */
typedef struct {
  tcc_kbuf_t *acc;
  tcc_kblock_t *body;
  const tcc_kexpr_t **r;
} reduce_t;

static reduce_t reduce_begin(tcc_kernel_t *k, tcc_kblock_t *block, const char *name, const tcc_kexpr_t *init, int n,
                             const tcc_kexpr_t *const *extents) {
  reduce_t r = {reg_new(k, block, name, init), NULL, exprs(k, n)};
  if (r.r) r.body = tcc_compute_nest(k, block, "r", n, extents, r.r);
  return r;
}

/* Loops over every dim of x but axis, appended to the kernel's body; idx[d] is the variable of dim d, NULL at
 * axis. */
static tcc_kblock_t *loops_except(tcc_kernel_t *k, const tcc_kbuf_t *x, int axis, const tcc_kexpr_t ***idx) {
  const tcc_kexpr_t **ix = exprs(k, x->rank);
  *idx = ix;
  if (!ix) return NULL;
  tcc_kblock_t *block = tcc_kernel_body(k);
  char name[16];
  for (int d = 0; d < x->rank && block; d++) {
    if (d == axis) continue;
    snprintf(name, sizeof name, "i%d", d);
    block = loop(k, block, name, kdim(k, x->dims[d]), &ix[d]);
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

/* A mask of rank dims (in k's arena), true at the given axes (negative ones count from the end), and at every
 * dim when there are none and empty_is_all. */
static tcc_status_t axes_mask(tcc_kernel_t *k, const tcc_node_t *node, int rank, const int64_t *axes, int64_t naxes,
                              bool empty_is_all, bool **mask) {
  bool *m = *mask = tcc_module_alloc(k->module, (size_t)rank + 1);
  if (!m) return tcc_status_oom();
  for (int d = 0; d < rank; d++) m[d] = naxes == 0 && empty_is_all;
  for (int64_t i = 0; i < naxes; i++) {
    int a;
    TCC_RETURN_IF_ERROR(tcc_infer_axis(node, axes[i], rank, &a));
    m[a] = true;
  }
  return NULL;
}

/* An axis attribute (default def) normalized against rank. */
static tcc_status_t axis_attr(const tcc_node_t *node, const char *name, int64_t def, int rank, int *axis) {
  return tcc_infer_axis(node, tcc_node_attr_int(node, name, def), rank, axis);
}

/* ---- matmul, gemm --------------------------------------------------------------------------------- */

/* y[..., m, n] = sum_k a[..., m, k] * b[..., k, n], batch dims broadcast; a 1-D operand has its m (or n) dropped. */
static tcc_status_t matmul(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *a = in[0], *b = in[1], *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, a->dtype, true));
  tcc_dtype_t dt = acc_type(y->dtype);
  const tcc_kexpr_t **o, **ai = exprs(k, a->rank), **bi = exprs(k, b->rank);
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body || !ai || !bi) return tcc_status_oom();
  const tcc_kexpr_t *ext[] = {kdim(k, a->dims[a->rank - 1])};
  reduce_t r = reduce_begin(k, body, "acc", kc(k, dt, 0), 1, ext);
  if (!r.r) return tcc_status_oom();
  tcc_compute_matmul_index(k, a, b, y, o, r.r[0], ai, bi);
  reg_update(k, r.body, r.acc, TCC_KOP_ADD, kmul(k, kload(k, a, ai, dt), kload(k, b, bi, dt)));
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, reg_get(k, r.acc)));
  return NULL;
}

/* y = alpha * A' B' + beta * C, A' = transA ? A^T : A (likewise B'), C broadcast to [M, N]. */
static tcc_status_t gemm(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *a = in[0], *b = in[1], *c = node->num_inputs > 2 ? in[2] : NULL, *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, a->dtype, true));
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
  reg_update(k, r.body, r.acc, TCC_KOP_ADD, kmul(k, kload(k, a, ai, dt), kload(k, b, bi, dt)));
  const tcc_kexpr_t *v = reg_get(k, r.acc);
  if (alpha != 1.0) v = kmul(k, kc(k, dt, alpha), v);
  if (c && beta != 0.0) {
    const tcc_kexpr_t *cv = kload(k, c, tcc_compute_broadcast_index(k, c, 2, y->dims, o), dt);
    v = kadd(k, v, beta == 1.0 ? cv : kmul(k, kc(k, dt, beta), cv));
  }
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, v));
  return NULL;
}

/* ---- windows: convolution and pooling ------------------------------------------------------------- */

/* The block a window's update goes into: block itself, or an if on valid. */
static tcc_kblock_t *when(tcc_kernel_t *k, tcc_kblock_t *block, const tcc_kexpr_t *valid) {
  return valid ? tcc_k_if(k, block, valid, NULL) : block;
}

/* The channel loop of a convolution's reduction, innermost: `for c in 0..extent` inside `block` when valid
 * holds (NULL: always). The window's padding test then runs once per kernel position rather than once per
 * multiply-add, and the innermost loop is a plain dot product over channels. */
static tcc_kblock_t *channel_loop(tcc_kernel_t *k, tcc_kblock_t *block, const tcc_kexpr_t *valid,
                                  const tcc_kexpr_t *extent, const tcc_kexpr_t **c) {
  return loop(k, when(k, block, valid), "c", extent, c);
}

/* ---- re-laid-out convolution and pooling (the `layout` attribute, set by passes/layout.c) ------------ */

/* A view of an activation buffer in a layout as [N, C, spatial...] for the window helpers, which read the
 * rank and the spatial dims only. */
static tcc_kbuf_t *logical_view(tcc_kernel_t *k, const tcc_kbuf_t *b, int block) {
  int n = b->rank - (block > 0 ? 3 : 2);
  tcc_kbuf_t *v = tcc_module_alloc(k->module, sizeof *v);
  const tcc_dim_t **dims = tcc_module_alloc(k->module, (size_t)(n + 2) * sizeof *dims);
  if (!v || !dims) return NULL;
  *v = *b;
  v->rank = n + 2;
  dims[0] = b->dims[0];
  dims[1] = block > 0 ? b->dims[1] : b->dims[b->rank - 1];
  for (int i = 0; i < n; i++) dims[2 + i] = b->dims[(block > 0 ? 2 : 1) + i];
  v->dims = dims;
  return v;
}

/* The index of activation element (n, channel, spatial...) in a layout. */
static const tcc_kexpr_t **activation_index(tcc_kernel_t *k, int rank, int block, const tcc_kexpr_t *n,
                                            const tcc_kexpr_t *channel, int ns, const tcc_kexpr_t *const *sp) {
  const tcc_kexpr_t **ix = exprs(k, rank);
  if (!ix) return NULL;
  ix[0] = n;
  for (int i = 0; i < ns; i++) ix[(block > 0 ? 2 : 1) + i] = sp[i];
  if (block > 0) {
    ix[1] = kbin(k, TCC_KOP_FLOORDIV, channel, kint(k, block));
    ix[rank - 1] = kbin(k, TCC_KOP_FLOORMOD, channel, kint(k, block));
  } else {
    ix[rank - 1] = channel;
  }
  return ix;
}

/* conv with layout NHWC (x [N, H, W, C], w [M, kh, kw, C/group], y [N, OH, OW, M]) or NCHW<b>c (x [N, C/b, H,
 * W, b], w [M/b, (C/group)/ci, kh, kw, ci, b] with ci = b, or 1 for one channel per group, y [N, M/b, OH, OW,
 * b]); bias [M]. The same sums as conv, over the layout's indices. */
static tcc_status_t conv_layout(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                tcc_kbuf_t *const *out, int block) {
  const tcc_kbuf_t *x = in[0], *wt = in[1], *bias = node->num_inputs > 2 ? in[2] : NULL, *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, false));
  tcc_dtype_t dt = acc_type(y->dtype);
  int ns = x->rank - (block > 0 ? 3 : 2), r = y->rank, sp0 = block > 0 ? 2 : 1;
  tcc_kbuf_t *xl = logical_view(k, x, block), *yl = logical_view(k, y, block);
  if (!xl || !yl) return tcc_status_oom();
  tcc_compute_window_t w;
  TCC_RETURN_IF_ERROR(tcc_compute_window_read(k, node, xl, yl, wt->dims + sp0, &w));
  int64_t group = tcc_node_attr_int(node, "group", 1);
  const tcc_kexpr_t **o, **ol = exprs(k, ns + 2), **kk = exprs(k, ns), **pos = exprs(k, ns),
                         **wi = exprs(k, wt->rank);
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), r, y->dims, &o);
  if (!body || !ol || !kk || !pos || !wi) return tcc_status_oom();
  const tcc_kexpr_t *m = block > 0 ? kadd(k, kmul(k, o[1], kint(k, block)), o[r - 1]) : o[r - 1];
  const tcc_kexpr_t *mch = block > 0 ? kmul(k, kdim(k, wt->dims[0]), kint(k, block)) : kdim(k, wt->dims[0]);
  ol[0] = o[0], ol[1] = m;
  for (int i = 0; i < ns; i++) ol[2 + i] = o[sp0 + i];
  tcc_kbuf_t *acc = reg_new(k, body, "acc", bias ? kload(k, bias, &m, dt) : kc(k, dt, 0));
  tcc_kblock_t *window = tcc_compute_nest(k, body, "k", ns, w.kernel, kk);
  if (!window) return tcc_status_oom();
  const tcc_kexpr_t *valid = tcc_compute_window_at(k, &w, ol, kk, pos), *c = NULL, *cb = NULL, *ci = NULL;
  tcc_kblock_t *inner;
  const tcc_kexpr_t *cpg;
  if (block > 0) { /* channel blocks, then channels inside a block */
    const tcc_kexpr_t *cin = kdim(k, wt->dims[wt->rank - 2]);
    cpg = kmul(k, kdim(k, wt->dims[1]), cin);
    inner = channel_loop(k, window, valid, kdim(k, wt->dims[1]), &cb);
    inner = inner ? loop(k, inner, "ci", cin, &ci) : NULL;
    if (!inner) return tcc_status_oom();
    c = kadd(k, kmul(k, cb, cin), ci);
    wi[0] = o[1], wi[1] = cb, wi[wt->rank - 2] = ci, wi[wt->rank - 1] = o[r - 1];
    for (int i = 0; i < ns; i++) wi[2 + i] = kk[i];
  } else {
    cpg = kdim(k, wt->dims[wt->rank - 1]);
    inner = channel_loop(k, window, valid, cpg, &c);
    if (!inner) return tcc_status_oom();
    wi[0] = m, wi[wt->rank - 1] = c;
    for (int i = 0; i < ns; i++) wi[1 + i] = kk[i];
  }
  const tcc_kexpr_t *channel = c;
  if (group != 1) {
    const tcc_kexpr_t *g = kbin(k, TCC_KOP_FLOORDIV, m, kbin(k, TCC_KOP_FLOORDIV, mch, kint(k, group)));
    channel = kadd(k, kmul(k, g, cpg), c);
  }
  const tcc_kexpr_t **xi = activation_index(k, x->rank, block, o[0], channel, ns, pos);
  if (!xi) return tcc_status_oom();
  if (block > 0 && group == 1 && tcc_dim_is_const(wt->dims[wt->rank - 2]) &&
      tcc_dim_value(wt->dims[wt->rank - 2]) == block)
    xi[1] = cb, xi[x->rank - 1] = ci; /* channel = cb * b + ci */
  reg_update(k, inner, acc, TCC_KOP_ADD, kmul(k, kload(k, x, xi, dt), kload(k, wt, wi, dt)));
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, reg_get(k, acc)));
  return NULL;
}

/* max_pool / average_pool (no Indices output) in a layout: a window of each (n, channel) as in pool. */
static tcc_status_t pool_layout(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                tcc_kbuf_t *const *out, int block) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  bool is_max = node->op == TCC_OP_MAX_POOL, is_avg = node->op == TCC_OP_AVERAGE_POOL;
  if ((!is_max && !is_avg) || (node->num_outputs > 1 && out[1]))
    return tcc_infer_unsupported(node, "a layout other than NCHW for this pooling");
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, is_max));
  tcc_dtype_t dt = acc_type(y->dtype);
  int ns = x->rank - (block > 0 ? 3 : 2), sp0 = block > 0 ? 2 : 1;
  tcc_kbuf_t *xl = logical_view(k, x, block), *yl = logical_view(k, y, block);
  if (!xl || !yl) return tcc_status_oom();
  tcc_compute_window_t w;
  TCC_RETURN_IF_ERROR(tcc_compute_window_read(k, node, xl, yl, NULL, &w));
  const tcc_kexpr_t **o, **ol = exprs(k, ns + 2), **pos = exprs(k, ns), **xi = exprs(k, x->rank);
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body || !ol || !pos || !xi) return tcc_status_oom();
  ol[0] = o[0], ol[1] = o[1];
  for (int i = 0; i < ns; i++) ol[2 + i] = o[sp0 + i];
  tcc_kbuf_t *count = is_avg ? reg_new(k, body, "count", kc(k, dt, 0)) : NULL;
  reduce_t r = reduce_begin(k, body, "acc", is_max ? extreme(k, dt, true) : kc(k, dt, 0), ns, w.kernel);
  if (!r.r) return tcc_status_oom();
  const tcc_kexpr_t *valid = tcc_compute_window_at(k, &w, ol, r.r, pos);
  for (int d = 0; d < x->rank; d++) xi[d] = o[d];
  for (int i = 0; i < ns; i++) xi[sp0 + i] = pos[i];
  tcc_kblock_t *inside = when(k, r.body, valid);
  const tcc_kexpr_t *xv = kload(k, x, xi, dt), *result = reg_get(k, r.acc);
  if (is_max) {
    reg_update(k, inside, r.acc, TCC_KOP_MAX, xv);
  } else {
    reg_update(k, inside, r.acc, TCC_KOP_ADD, xv);
    const tcc_kexpr_t *counted = valid;
    if (tcc_node_attr_int(node, "count_include_pad", 0)) {
      counted = NULL;
      for (int i = 0; i < ns; i++)
        counted = kand(k, counted, in_range(k, pos[i], kun(k, TCC_KOP_NEG, w.pad_begin[i]),
                                            kadd(k, w.in_size[i], w.pad_end[i])));
    }
    reg_update(k, when(k, r.body, counted), count, TCC_KOP_ADD, kc(k, dt, 1));
    result = kbin(k, TCC_KOP_DIV, result, reg_get(k, count));
  }
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, result));
  return NULL;
}

/* y[n, m, o...] = b[m] + sum_{kk, c} x[n, g * C/group + c, o * s - pad + kk * d] * w[m, c, kk], g = m / (M/group):
 * loops over the kernel positions kk, an if on the position lying inside the input (when padded), then the
 * channel loop c. */
static tcc_status_t conv(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  int block;
  TCC_RETURN_IF_ERROR(tcc_infer_layout(node, &block));
  if (block) return conv_layout(k, node, in, out, block);
  const tcc_kbuf_t *x = in[0], *wt = in[1], *bias = node->num_inputs > 2 ? in[2] : NULL, *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, false));
  tcc_dtype_t dt = acc_type(y->dtype);
  tcc_compute_window_t w;
  TCC_RETURN_IF_ERROR(tcc_compute_window_read(k, node, x, y, wt->dims + 2, &w));
  int64_t group = tcc_node_attr_int(node, "group", 1);
  const tcc_kexpr_t **o, **kk = exprs(k, w.n), **pos = exprs(k, w.n), **xi = exprs(k, x->rank),
                         **wi = exprs(k, wt->rank), *c = NULL;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body || !kk || !pos || !xi || !wi) return tcc_status_oom();
  const tcc_kexpr_t *cpg = kdim(k, wt->dims[1]);
  tcc_kbuf_t *acc = reg_new(k, body, "acc", bias ? kload(k, bias, &o[1], dt) : kc(k, dt, 0));
  tcc_kblock_t *window = tcc_compute_nest(k, body, "k", w.n, w.kernel, kk);
  tcc_kblock_t *inner = channel_loop(k, window, tcc_compute_window_at(k, &w, o, kk, pos), cpg, &c);
  if (!inner) return tcc_status_oom();
  const tcc_kexpr_t *channel = c;
  if (group != 1) {
    const tcc_kexpr_t *mpg = kbin(k, TCC_KOP_FLOORDIV, kdim(k, wt->dims[0]), kint(k, group));
    const tcc_kexpr_t *g = kbin(k, TCC_KOP_FLOORDIV, o[1], mpg);
    channel = kadd(k, kmul(k, g, cpg), c);
  }
  xi[0] = o[0], xi[1] = channel, wi[0] = o[1], wi[1] = c;
  for (int i = 0; i < w.n; i++) xi[2 + i] = pos[i], wi[2 + i] = kk[i];
  reg_update(k, inner, acc, TCC_KOP_ADD, kmul(k, kload(k, x, xi, dt), kload(k, wt, wi, dt)));
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, reg_get(k, acc)));
  return NULL;
}

/* y[n, m, o...] = b[m] + sum_{kk, c} x[n, g * C/group + c, i] * w[g * C/group + c, m % (M/group), kk] over the
 * input positions i with i * stride - pad + kk * dilation = o (the transpose of conv's gather); loops as in
 * conv: kernel positions, the test that one hits an input position, then channels. */
static tcc_status_t conv_transpose(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                   tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *wt = in[1], *bias = node->num_inputs > 2 ? in[2] : NULL, *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, false));
  tcc_dtype_t dt = acc_type(y->dtype);
  tcc_compute_window_t w;
  TCC_RETURN_IF_ERROR(tcc_compute_window_read(k, node, x, y, wt->dims + 2, &w));
  const int64_t *opad, *os;
  int64_t num_os;
  TCC_RETURN_IF_ERROR(tcc_compute_ints_attr(k, node, "output_padding", w.n, 0, &opad));
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
  tcc_kbuf_t *acc = reg_new(k, body, "acc", bias ? kload(k, bias, &o[1], dt) : kc(k, dt, 0));
  tcc_kblock_t *window = tcc_compute_nest(k, body, "k", w.n, w.kernel, kk);
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
  reg_update(k, inner, acc, TCC_KOP_ADD, kmul(k, kload(k, x, xi, dt), kload(k, wt, wi, dt)));
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, reg_get(k, acc)));
  return NULL;
}

/* max_pool (with optional Indices), average_pool, lp_pool over a window of each (n, c). */
static tcc_status_t pool(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  int block;
  TCC_RETURN_IF_ERROR(tcc_infer_layout(node, &block));
  if (block) return pool_layout(k, node, in, out, block);
  const tcc_kbuf_t *x = in[0], *y = out[0], *indices = node->num_outputs > 1 ? out[1] : NULL;
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, node->op == TCC_OP_MAX_POOL));
  tcc_dtype_t dt = acc_type(y->dtype);
  tcc_compute_window_t w;
  TCC_RETURN_IF_ERROR(tcc_compute_window_read(k, node, x, y, NULL, &w));
  const tcc_kexpr_t **o, **pos = exprs(k, w.n), **xi = exprs(k, x->rank);
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body || !pos || !xi) return tcc_status_oom();
  bool is_max = node->op == TCC_OP_MAX_POOL, is_avg = node->op == TCC_OP_AVERAGE_POOL;
  tcc_kbuf_t *count = is_avg ? reg_new(k, body, "count", kc(k, dt, 0)) : NULL;
  tcc_kbuf_t *arg = indices ? reg_new(k, body, "arg", kint(k, 0)) : NULL;
  reduce_t r = reduce_begin(k, body, "acc", is_max ? extreme(k, dt, true) : kc(k, dt, 0), w.n, w.kernel);
  if (!r.r) return tcc_status_oom();
  const tcc_kexpr_t *valid = tcc_compute_window_at(k, &w, o, r.r, pos);
  xi[0] = o[0], xi[1] = o[1];
  for (int i = 0; i < w.n; i++) xi[2 + i] = pos[i];
  tcc_kblock_t *inside = when(k, r.body, valid);
  const tcc_kexpr_t *xv = kload(k, x, xi, dt), *result = reg_get(k, r.acc);
  if (is_max && arg) { /* first maximum; the flat index is row-major, or column-major over spatial dims */
    tcc_kblock_t *better = tcc_k_if(k, inside, kbin(k, TCC_KOP_GT, xv, reg_get(k, r.acc)), NULL);
    reg_set(k, better, r.acc, xv);
    bool column = tcc_node_attr_int(node, "storage_order", 0) != 0;
    const tcc_kexpr_t *flat = kadd(k, kmul(k, o[0], kdim(k, x->dims[1])), o[1]), *spatial = kint(k, 0);
    for (int j = 0; j < w.n; j++) {
      int i = column ? w.n - 1 - j : j;
      flat = kmul(k, flat, w.in_size[i]);
      spatial = kadd(k, kmul(k, spatial, w.in_size[i]), pos[i]);
    }
    reg_set(k, better, arg, kadd(k, flat, spatial));
    tcc_k_store(k, body, indices, o, reg_get(k, arg));
  } else if (is_max) {
    reg_update(k, inside, r.acc, TCC_KOP_MAX, xv);
  } else if (is_avg) {
    reg_update(k, inside, r.acc, TCC_KOP_ADD, xv);
    const tcc_kexpr_t *counted = valid;
    if (tcc_node_attr_int(node, "count_include_pad", 0)) { /* positions inside the padded input */
      counted = NULL;
      for (int i = 0; i < w.n; i++)
        counted = kand(k, counted, in_range(k, pos[i], kun(k, TCC_KOP_NEG, w.pad_begin[i]),
                                            kadd(k, w.in_size[i], w.pad_end[i])));
    }
    reg_update(k, when(k, r.body, counted), count, TCC_KOP_ADD, kc(k, dt, 1));
    result = kbin(k, TCC_KOP_DIV, result, reg_get(k, count));
  } else { /* lp_pool: (sum |x|^p)^(1/p) */
    double p = (double)tcc_node_attr_int(node, "p", 2);
    reg_update(k, inside, r.acc, TCC_KOP_ADD, kbin(k, TCC_KOP_POW, kun(k, TCC_KOP_ABS, xv), kc(k, dt, p)));
    result = kbin(k, TCC_KOP_POW, result, kc(k, dt, 1.0 / p));
  }
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, result));
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
    reg_update(k, m.body, m.acc, TCC_KOP_MAX, kload(k, x, fill_index(k, x->rank, outer, m.r), dt));
    shift = reg_get(k, m.acc);
    shift = ksel(k, kun(k, TCC_KOP_IS_INF, shift), kc(k, dt, 0), shift);
  }
  bool is_max = op == TCC_OP_REDUCE_MAX || op == TCC_OP_GLOBAL_MAX_POOL, is_min = op == TCC_OP_REDUCE_MIN;
  const tcc_kexpr_t *init = is_max ? extreme(k, dt, true) : is_min ? extreme(k, dt, false)
                          : op == TCC_OP_REDUCE_PROD ? kc(k, dt, 1) : kc(k, dt, 0);
  reduce_t r = reduce_begin(k, body, "acc", init, n, ext);
  if (!r.r) return tcc_status_oom();
  const tcc_kexpr_t *v = kload(k, x, fill_index(k, x->rank, outer, r.r), dt);
  bool logical = dt == TCC_DTYPE_BOOL; /* max / min of bool: or / and */
  tcc_kop_t fold = op == TCC_OP_REDUCE_PROD ? TCC_KOP_MUL : TCC_KOP_ADD;
  if (is_max) fold = logical ? TCC_KOP_OR : TCC_KOP_MAX;
  if (is_min) fold = logical ? TCC_KOP_AND : TCC_KOP_MIN;
  if (op == TCC_OP_REDUCE_L1) v = kun(k, TCC_KOP_ABS, v);
  if (op == TCC_OP_REDUCE_L2 || op == TCC_OP_REDUCE_SUM_SQUARE) v = kmul(k, v, v);
  if (shift) v = kun(k, TCC_KOP_EXP, ksub(k, v, shift));
  reg_update(k, r.body, r.acc, fold, v);
  const tcc_kexpr_t *res = reg_get(k, r.acc);
  if (op == TCC_OP_REDUCE_MEAN || op == TCC_OP_GLOBAL_AVERAGE_POOL) {
    const tcc_kexpr_t *count = kint(k, 1);
    for (int i = 0; i < n; i++) count = kmul(k, count, ext[i]);
    res = kbin(k, TCC_KOP_DIV, res, kcast(k, dt, count));
  }
  if (op == TCC_OP_REDUCE_L2) res = kun(k, TCC_KOP_SQRT, res);
  if (op == TCC_OP_REDUCE_LOG_SUM) res = kun(k, TCC_KOP_LOG, res);
  if (shift) res = kadd(k, kun(k, TCC_KOP_LOG, res), shift);
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, res));
  return NULL;
}

/* reduce_*: axes from the constant input 1 (or a legacy attribute); empty axes reduce everything unless
 * noop_with_empty_axes, which makes the op an identity. */
static tcc_status_t reduce(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  bool logical = x->dtype == TCC_DTYPE_BOOL && (node->op == TCC_OP_REDUCE_MAX || node->op == TCC_OP_REDUCE_MIN);
  if (!logical) TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, true));
  const int64_t *axes = NULL;
  int64_t naxes = 0;
  if (node->num_inputs > 1 && node->inputs[1]) {
    if (!tcc_value_const_ints(node->inputs[1], &axes, &naxes))
      return tcc_infer_unsupported(node, "the axes input must be a constant");
  } else {
    tcc_node_attr_ints(node, "axes", &axes, &naxes);
  }
  bool noop = naxes == 0 && tcc_node_attr_int(node, "noop_with_empty_axes", 0);
  bool *mask;
  TCC_RETURN_IF_ERROR(axes_mask(k, node, x->rank, axes, naxes, !noop, &mask));
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
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, node->op == TCC_OP_GLOBAL_MAX_POOL));
  bool *mask = tcc_module_alloc(k->module, (size_t)x->rank + 1);
  if (!mask) return tcc_status_oom();
  for (int d = 0; d < x->rank; d++) mask[d] = d >= 2;
  return reduce_masked(k, node->op, x, out[0], mask, true);
}

/* Index along `axis` of the first (or, select_last_index, last) maximum or minimum. */
static tcc_status_t arg_reduce(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                               tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, true));
  tcc_dtype_t dt = acc_type(x->dtype);
  int axis;
  TCC_RETURN_IF_ERROR(axis_attr(node, "axis", 0, x->rank, &axis));
  bool keepdims = tcc_node_attr_int(node, "keepdims", 1) != 0, last = tcc_node_attr_int(node, "select_last_index", 0);
  bool is_max = node->op == TCC_OP_ARGMAX;
  const tcc_kexpr_t **o, **xi = exprs(k, x->rank);
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body || !xi) return tcc_status_oom();
  tcc_kbuf_t *arg = reg_new(k, body, "arg", kint(k, 0));
  const tcc_kexpr_t *ext[] = {kdim(k, x->dims[axis])};
  reduce_t r = reduce_begin(k, body, "best", extreme(k, dt, is_max), 1, ext);
  if (!r.r) return tcc_status_oom();
  for (int d = 0, j = 0; d < x->rank; d++) xi[d] = d == axis ? (j += keepdims, r.r[0]) : o[j++];
  const tcc_kexpr_t *xv = kload(k, x, xi, dt);
  tcc_kop_t cmp = is_max ? (last ? TCC_KOP_GE : TCC_KOP_GT) : (last ? TCC_KOP_LE : TCC_KOP_LT);
  tcc_kblock_t *better = tcc_k_if(k, r.body, kbin(k, cmp, xv, reg_get(k, r.acc)), NULL);
  reg_set(k, better, r.acc, xv);
  reg_set(k, better, arg, r.r[0]);
  tcc_k_store(k, body, y, o, reg_get(k, arg));
  return NULL;
}

/* ---- softmax family, cumsum, lp_normalization, lrn ------------------------------------------------ */

/* softmax, log_softmax, hardmax along one axis (newest semantics); softmax subtracts the maximum first. */
static tcc_status_t softmax(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, false));
  tcc_dtype_t dt = acc_type(x->dtype);
  int axis;
  TCC_RETURN_IF_ERROR(axis_attr(node, "axis", -1, x->rank, &axis));
  const tcc_kexpr_t **outer, *ext[] = {kdim(k, x->dims[axis])};
  tcc_kblock_t *body = loops_except(k, x, axis, &outer);
  tcc_kbuf_t *arg = node->op == TCC_OP_HARDMAX ? reg_new(k, body, "arg", kint(k, 0)) : NULL;
  reduce_t m = reduce_begin(k, body, "max", extreme(k, dt, true), 1, ext);
  if (!m.r) return tcc_status_oom();
  const tcc_kexpr_t *xm = kload(k, x, fill_index(k, x->rank, outer, m.r), dt);
  if (arg) { /* first maximum */
    tcc_kblock_t *better = tcc_k_if(k, m.body, kbin(k, TCC_KOP_GT, xm, reg_get(k, m.acc)), NULL);
    reg_set(k, better, m.acc, xm);
    reg_set(k, better, arg, m.r[0]);
  } else {
    reg_update(k, m.body, m.acc, TCC_KOP_MAX, xm);
  }
  const tcc_kexpr_t *max = reg_get(k, m.acc), *sum = NULL;
  /* softmax with an output of the accumulation type keeps exp(x - max) in y for the division (one exp
   * per element); otherwise the exponential is computed again there, rounded once at the store */
  bool keep_exp = node->op == TCC_OP_SOFTMAX && y->dtype == dt;
  if (!arg) {
    reduce_t s = reduce_begin(k, body, "sum", kc(k, dt, 0), 1, ext);
    if (!s.r) return tcc_status_oom();
    const tcc_kexpr_t **si = fill_index(k, x->rank, outer, s.r);
    if (!si) return tcc_status_oom();
    const tcc_kexpr_t *e = kun(k, TCC_KOP_EXP, ksub(k, kload(k, x, si, dt), max));
    if (keep_exp) tcc_k_store(k, s.body, y, si, e), e = kload(k, y, si, dt);
    reg_update(k, s.body, s.acc, TCC_KOP_ADD, e);
    sum = reg_get(k, s.acc);
  }
  const tcc_kexpr_t *j[1];
  tcc_kblock_t *store = tcc_compute_nest(k, body, "j", 1, ext, j);
  const tcc_kexpr_t **yi = fill_index(k, x->rank, outer, j), *v;
  if (!yi) return tcc_status_oom();
  if (arg) v = ksel(k, kbin(k, TCC_KOP_EQ, j[0], reg_get(k, arg)), kc(k, dt, 1), kc(k, dt, 0));
  else if (keep_exp)
    v = kbin(k, TCC_KOP_DIV, kload(k, y, yi, dt), sum);
  else if (node->op == TCC_OP_SOFTMAX)
    v = kbin(k, TCC_KOP_DIV, kun(k, TCC_KOP_EXP, ksub(k, kload(k, x, yi, dt), max)), sum);
  else
    v = ksub(k, ksub(k, kload(k, x, yi, dt), max), kun(k, TCC_KOP_LOG, sum));
  tcc_k_store(k, store, y, yi, kcast(k, y->dtype, v));
  return NULL;
}

/* Running sum along a constant axis (input 1): exclusive and reverse as attributes. */
static tcc_status_t cumsum(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, true));
  tcc_dtype_t dt = acc_type(x->dtype);
  const int64_t *axv;
  int64_t count;
  if (node->num_inputs < 2 || !node->inputs[1] || !tcc_value_const_ints(node->inputs[1], &axv, &count) || count != 1)
    return tcc_infer_unsupported(node, "the axis input must be a constant scalar");
  int axis;
  TCC_RETURN_IF_ERROR(tcc_infer_axis(node, axv[0], x->rank, &axis));
  bool exclusive = tcc_node_attr_int(node, "exclusive", 0), reverse = tcc_node_attr_int(node, "reverse", 0);
  const tcc_kexpr_t **outer, *ext[] = {kdim(k, x->dims[axis])};
  tcc_kblock_t *body = loops_except(k, x, axis, &outer);
  reduce_t r = reduce_begin(k, body, "acc", kc(k, dt, 0), 1, ext);
  if (!r.r) return tcc_status_oom();
  const tcc_kexpr_t *t = reverse ? ksub(k, ksub(k, ext[0], kint(k, 1)), r.r[0]) : r.r[0];
  const tcc_kexpr_t **xi = fill_index(k, x->rank, outer, &t);
  if (!xi) return tcc_status_oom();
  if (exclusive) tcc_k_store(k, r.body, y, xi, kcast(k, y->dtype, reg_get(k, r.acc)));
  reg_update(k, r.body, r.acc, TCC_KOP_ADD, kload(k, x, xi, dt));
  if (!exclusive) tcc_k_store(k, r.body, y, xi, kcast(k, y->dtype, reg_get(k, r.acc)));
  return NULL;
}

/* x / ||x||_p along axis, p = 1 or 2. */
static tcc_status_t lp_normalization(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                     tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, false));
  tcc_dtype_t dt = acc_type(x->dtype);
  int axis;
  TCC_RETURN_IF_ERROR(axis_attr(node, "axis", -1, x->rank, &axis));
  int64_t p = tcc_node_attr_int(node, "p", 2);
  if (p != 1 && p != 2) return tcc_infer_unsupported(node, "p = %lld (only 1 and 2)", (long long)p);
  const tcc_kexpr_t **outer, *ext[] = {kdim(k, x->dims[axis])}, *j[1];
  tcc_kblock_t *body = loops_except(k, x, axis, &outer);
  reduce_t r = reduce_begin(k, body, "norm", kc(k, dt, 0), 1, ext);
  if (!r.r) return tcc_status_oom();
  const tcc_kexpr_t *xv = kload(k, x, fill_index(k, x->rank, outer, r.r), dt);
  reg_update(k, r.body, r.acc, TCC_KOP_ADD, p == 1 ? kun(k, TCC_KOP_ABS, xv) : kmul(k, xv, xv));
  const tcc_kexpr_t *norm = reg_get(k, r.acc);
  if (p == 2) norm = kun(k, TCC_KOP_SQRT, norm);
  tcc_kblock_t *store = tcc_compute_nest(k, body, "j", 1, ext, j);
  const tcc_kexpr_t **yi = fill_index(k, x->rank, outer, j);
  tcc_k_store(k, store, y, yi, kcast(k, y->dtype, kbin(k, TCC_KOP_DIV, kload(k, x, yi, dt), norm)));
  return NULL;
}

/* Local response normalization across channels: x / (bias + alpha / size * sum x^2)^beta. */
static tcc_status_t lrn(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, false));
  tcc_dtype_t dt = acc_type(x->dtype);
  int64_t size = tcc_node_attr_int(node, "size", 0);
  if (size < 1 || x->rank < 2) return tcc_infer_error(node, "LRN needs size >= 1 and an input of rank >= 2");
  double alpha = tcc_node_attr_float(node, "alpha", 1e-4), beta = tcc_node_attr_float(node, "beta", 0.75);
  double bias = tcc_node_attr_float(node, "bias", 1.0);
  const tcc_kexpr_t **o;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body) return tcc_status_oom();
  const tcc_kexpr_t *ext[] = {kint(k, size)};
  reduce_t r = reduce_begin(k, body, "sum", kc(k, dt, 0), 1, ext);
  const tcc_kexpr_t **xi = copy_index(k, x->rank, o);
  if (!r.r || !xi) return tcc_status_oom();
  const tcc_kexpr_t *c = kadd(k, ksub(k, o[1], kint(k, (size - 1) / 2)), r.r[0]);
  xi[1] = c;
  tcc_kblock_t *inside = tcc_k_if(k, r.body, in_range(k, c, kint(k, 0), kdim(k, x->dims[1])), NULL);
  const tcc_kexpr_t *xv = kload(k, x, xi, dt);
  reg_update(k, inside, r.acc, TCC_KOP_ADD, kmul(k, xv, xv));
  const tcc_kexpr_t *den = kadd(k, kc(k, dt, bias), kmul(k, kc(k, dt, alpha / (double)size), reg_get(k, r.acc)));
  den = kbin(k, TCC_KOP_POW, den, kc(k, dt, beta));
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, kbin(k, TCC_KOP_DIV, kload(k, x, o, dt), den)));
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
  tcc_kblock_t *body = tcc_compute_nest(k, tcc_kernel_body(k), "o", s->nouter, s->outer_ext, ov);
  const tcc_kexpr_t *count = kint(k, 1), *mean = kc(k, dt, 0);
  for (int i = 0; i < s->ninner; i++) count = kmul(k, count, s->inner_ext[i]);
  count = kcast(k, dt, count);
  if (kind != NORM_RMS) {
    reduce_t r = reduce_begin(k, body, "sum", kc(k, dt, 0), s->ninner, s->inner_ext);
    if (!r.r) return tcc_status_oom();
    reg_update(k, r.body, r.acc, TCC_KOP_ADD, kload(k, x, split_index(k, s, x->rank, ov, r.r), dt));
    tcc_kbuf_t *m = reg_new(k, body, "mean", kbin(k, TCC_KOP_DIV, reg_get(k, r.acc), count));
    mean = reg_get(k, m);
  }
  reduce_t r = reduce_begin(k, body, "sqsum", kc(k, dt, 0), s->ninner, s->inner_ext);
  if (!r.r) return tcc_status_oom();
  const tcc_kexpr_t *d = ksub(k, kload(k, x, split_index(k, s, x->rank, ov, r.r), dt), mean);
  reg_update(k, r.body, r.acc, TCC_KOP_ADD, kmul(k, d, d));
  const tcc_kexpr_t *var = kbin(k, TCC_KOP_DIV, reg_get(k, r.acc), count), *inv;
  if (kind == NORM_MVN) /* 1 / (sqrt(var) + eps) */
    inv = kun(k, TCC_KOP_RECIPROCAL, kadd(k, kun(k, TCC_KOP_SQRT, var), kc(k, dt, eps)));
  else
    inv = kun(k, TCC_KOP_RECIPROCAL, kun(k, TCC_KOP_SQRT, kadd(k, var, kc(k, dt, eps))));
  inv = reg_get(k, reg_new(k, body, "inv", inv));
  if (mean_out || inv_out) {
    const tcc_kexpr_t **si = exprs(k, x->rank); /* inner dims kept as 1 */
    for (int d = 0; si && d < x->rank; d++) si[d] = s->outer_of[d] >= 0 ? ov[s->outer_of[d]] : kint(k, 0);
    if (mean_out) tcc_k_store(k, body, mean_out, si, kcast(k, mean_out->dtype, mean));
    if (inv_out) tcc_k_store(k, body, inv_out, si, kcast(k, inv_out->dtype, inv));
  }
  tcc_kblock_t *inner = tcc_compute_nest(k, body, "j", s->ninner, s->inner_ext, iv);
  const tcc_kexpr_t **xi = split_index(k, s, x->rank, ov, iv);
  if (!xi) return tcc_status_oom();
  const tcc_kexpr_t *v = kmul(k, ksub(k, kload(k, x, xi, dt), mean), inv);
  const tcc_kexpr_t *const *ci = per_channel ? &xi[1] : NULL;
  if (scale) v = kmul(k, v, kload(k, scale, ci ? ci : tcc_compute_broadcast_index(k, scale, x->rank, x->dims, xi), dt));
  if (bias) v = kadd(k, v, kload(k, bias, ci ? ci : tcc_compute_broadcast_index(k, bias, x->rank, x->dims, xi), dt));
  tcc_k_store(k, inner, y, xi, kcast(k, y->dtype, v));
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
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, false));
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
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, false));
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
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, false));
  static const int64_t def_axes[] = {0, 2, 3};
  const int64_t *axes = def_axes;
  int64_t naxes = 3;
  if (!tcc_node_attr_ints(node, "axes", &axes, &naxes)) axes = def_axes, naxes = 3;
  bool *mask;
  TCC_RETURN_IF_ERROR(axes_mask(k, node, x->rank, axes, naxes, false, &mask));
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
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, false));
  if (tcc_node_attr_int(node, "training_mode", 0)) return tcc_compute_batch_norm_training(k, node, in, out);
  tcc_dtype_t dt = acc_type(x->dtype);
  double eps = tcc_node_attr_float(node, "epsilon", 1e-5);
  const tcc_kexpr_t **o;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body) return tcc_status_oom();
  const tcc_kexpr_t *c = o[1];
  const tcc_kexpr_t *inv = kun(k, TCC_KOP_SQRT, kadd(k, kload(k, in[4], &c, dt), kc(k, dt, eps)));
  const tcc_kexpr_t *v = kbin(k, TCC_KOP_DIV, ksub(k, kload(k, x, o, dt), kload(k, in[3], &c, dt)), inv);
  v = kadd(k, kmul(k, v, kload(k, in[1], &c, dt)), kload(k, in[2], &c, dt));
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, v));
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
