/* Compute-definition dispatch, and the helpers the definitions share (declared in ir/compute_defs.h). */
#include "ir/compute.h"

#include "ir/compute_defs.h"

#include <stdarg.h>
#include <stdio.h>

#include "ir/infer.h"

static const tcc_compute_entry_t *const families[] = {
    tcc_compute_elementwise_defs, tcc_compute_reduce_defs, tcc_compute_shape_defs, tcc_compute_loss_defs,
    tcc_compute_image_defs,       tcc_compute_quant_defs,  tcc_compute_sequence_defs, tcc_compute_ml_defs,
};

static tcc_compute_fn_t find(tcc_op_t op) {
  if (op == TCC_OP_FUSED) return tcc_compute_fused;
  for (size_t f = 0; f < sizeof families / sizeof *families; f++)
    for (const tcc_compute_entry_t *e = families[f]; e->fn; e++)
      if (e->op == op) return e->fn;
  return NULL;
}

bool tcc_compute_has(tcc_op_t op) { return find(op) != NULL; }

/* A parameter for a node operand, typed from the value. */
static tcc_status_t add_param(tcc_kernel_t *k, const tcc_node_t *node, const tcc_value_t *v, tcc_kbuf_scope_t scope,
                              const char *name, tcc_kbuf_t **out) {
  if (v->type.kind != TCC_TYPE_TENSOR || v->type.rank < 0 || v->type.dtype == TCC_DTYPE_UNDEFINED)
    return tcc_compute_unsupported(node, "operands must be tensors of known rank and element type");
  *out = tcc_kernel_add_param(k, name, scope, v->type.dtype, v->type.rank, v->type.dims);
  return *out ? NULL : tcc_status_oom();
}

tcc_status_t tcc_compute_build(const tcc_node_t *node, tcc_kernel_t **out) {
  *out = NULL;
  tcc_compute_fn_t fn = find(node->op);
  if (!fn) return tcc_compute_unsupported(node, "no compute definition yet");
  tcc_module_t *m = node->graph->module;
  tcc_kernel_t *k = tcc_kernel_create(m, node->name);
  tcc_kbuf_t **in = tcc_module_alloc(m, (size_t)(node->num_inputs + 1) * sizeof *in);
  tcc_kbuf_t **res = tcc_module_alloc(m, (size_t)(node->num_outputs + 1) * sizeof *res);
  if (!k || !in || !res) return tcc_status_oom();
  char name[16];
  for (int i = 0; i < node->num_inputs; i++) {
    if (!node->inputs[i]) continue;
    snprintf(name, sizeof name, "x%d", i);
    TCC_RETURN_IF_ERROR(add_param(k, node, node->inputs[i], TCC_KBUF_INPUT, name, &in[i]));
  }
  for (int i = 0; i < node->num_outputs; i++) {
    if (!node->outputs[i]) continue;
    snprintf(name, sizeof name, "y%d", i);
    TCC_RETURN_IF_ERROR(add_param(k, node, node->outputs[i], TCC_KBUF_OUTPUT, name, &res[i]));
  }
  /* the definitions write output 0; only the recurrent ops may leave their Y out */
  if (!res[0] && node->op != TCC_OP_RNN && node->op != TCC_OP_GRU && node->op != TCC_OP_LSTM)
    return tcc_infer_error(node, "output 0 is missing");
  TCC_RETURN_IF_ERROR(fn(k, node, in, res));
  TCC_RETURN_IF_ERROR(tcc_module_check(m));
#ifndef NDEBUG
  TCC_RETURN_IF_ERROR(tcc_kernel_verify(k));
#endif
  *out = k;
  return NULL;
}

tcc_kblock_t *tcc_compute_loops(tcc_kernel_t *k, tcc_kblock_t *block, int rank, const tcc_dim_t *const *shape,
                                const tcc_kexpr_t ***index) {
  const tcc_kexpr_t **idx = exprs(k, rank);
  *index = idx;
  if (!idx) return NULL;
  char name[16];
  for (int d = 0; d < rank && block; d++) {
    snprintf(name, sizeof name, "i%d", d);
    block = loop(k, block, name, kdim(k, shape[d]), &idx[d]);
  }
  return block;
}

const tcc_kexpr_t *const *tcc_compute_broadcast_index(tcc_kernel_t *k, const tcc_kbuf_t *buf, int out_rank,
                                                      const tcc_dim_t *const *out_shape,
                                                      const tcc_kexpr_t *const *out_index) {
  const tcc_kexpr_t **idx = exprs(k, buf->rank);
  if (!idx) return NULL;
  for (int d = 0; d < buf->rank; d++) {
    int o = out_rank - buf->rank + d;
    idx[d] = tcc_compute_broadcast_dim(k, buf->dims[d], out_shape[o], out_index[o]);
  }
  return idx;
}

/* ---- helpers of the definitions (ir/compute_defs.h) ----------------------------------------------- */

tcc_status_t tcc_compute_unsupported(const tcc_node_t *node, const char *fmt, ...) {
  char why[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (%s): %s", node->name, node->op_type, why);
}

tcc_status_t tcc_compute_need_type(const tcc_node_t *node, tcc_dtype_t dt, bool ints_ok) {
  if (tcc_dtype_is_float(dt) || (ints_ok && tcc_dtype_is_int(dt) && tcc_dtype_bits(dt) >= 8)) return NULL;
  return tcc_infer_unsupported(node, "element type %s has no compute definition", tcc_dtype_name(dt));
}

tcc_status_t tcc_compute_need_float(const tcc_node_t *node, const tcc_kbuf_t *b, const char *what) {
  if (b && tcc_dtype_is_float(b->dtype)) return NULL;
  return tcc_infer_unsupported(node, "%s of element type %s has no compute definition", what,
                               b ? tcc_dtype_name(b->dtype) : "?");
}

tcc_kblock_t *tcc_compute_nest(tcc_kernel_t *k, tcc_kblock_t *block, const char *prefix, int n,
                               const expr_t *extents, expr_t *vars) {
  char name[24];
  for (int i = 0; i < n && block; i++) {
    snprintf(name, sizeof name, "%s%d", prefix, i);
    block = loop(k, block, name, extents[i], &vars[i]);
  }
  return block;
}

expr_t tcc_compute_broadcast_dim(tcc_kernel_t *k, const tcc_dim_t *in, const tcc_dim_t *out, expr_t o) {
  if (in == out) return o;
  if (tcc_dim_is_const(in) && tcc_dim_value(in) == 1) return kint(k, 0);
  return ksel(k, kbin(k, TCC_KOP_EQ, kdim(k, in), kint(k, 1)), kint(k, 0), o); /* 0 when it is 1 at run time */
}

void tcc_compute_matmul_index(tcc_kernel_t *k, const tcc_kbuf_t *a, const tcc_kbuf_t *b, const tcc_kbuf_t *y,
                              const expr_t *o, expr_t r, expr_t *ai, expr_t *bi) {
  int ra = a->rank, rb = b->rank, ry = y->rank;
  int nb = ry - (ra >= 2) - (rb >= 2); /* output batch dims */
  for (int d = 0; d < ra - 2; d++)
    ai[d] = tcc_compute_broadcast_dim(k, a->dims[d], y->dims[nb - (ra - 2) + d], o[nb - (ra - 2) + d]);
  for (int d = 0; d < rb - 2; d++)
    bi[d] = tcc_compute_broadcast_dim(k, b->dims[d], y->dims[nb - (rb - 2) + d], o[nb - (rb - 2) + d]);
  if (ra >= 2) ai[ra - 2] = o[nb];
  ai[ra - 1] = r;
  bi[rb >= 2 ? rb - 2 : 0] = r;
  if (rb >= 2) bi[rb - 1] = o[ry - 1];
}

/* ---- attributes and windows ----------------------------------------------------------------------- */

tcc_status_t tcc_compute_ints_attr(tcc_kernel_t *k, const tcc_node_t *node, const char *name, int n, int64_t def,
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

/* SAME_UPPER / SAME_LOWER padding of spatial dim i: the total max(0, (out - 1) * stride + (kernel - 1) *
 * dilation + 1 - in) split in halves, the odd element at the end (upper) or the beginning (lower). */
static void same_pads(tcc_kernel_t *k, tcc_compute_window_t *w, int i, const tcc_dim_t *out, bool upper) {
  expr_t span = kmul(k, ksub(k, w->kernel[i], kint(k, 1)), kint(k, w->dilations[i]));
  span = kadd(k, span, kint(k, 1));
  expr_t total = kmul(k, ksub(k, kdim(k, out), kint(k, 1)), kint(k, w->strides[i]));
  total = kbin(k, TCC_KOP_MAX, ksub(k, kadd(k, total, span), w->in_size[i]), kint(k, 0));
  expr_t half = kbin(k, TCC_KOP_FLOORDIV, total, kint(k, 2));
  w->pad_begin[i] = upper ? half : ksub(k, total, half);
  w->pad_end[i] = ksub(k, total, w->pad_begin[i]);
}

tcc_status_t tcc_compute_window_read(tcc_kernel_t *k, const tcc_node_t *node, const tcc_kbuf_t *x,
                                     const tcc_kbuf_t *y, const tcc_dim_t *const *kdims, tcc_compute_window_t *w) {
  int n = w->n = x->rank - 2;
  const int64_t *ks = NULL, *pads;
  w->kernel = exprs(k, n), w->in_size = exprs(k, n), w->pad_begin = exprs(k, n), w->pad_end = exprs(k, n);
  if (!w->kernel || !w->in_size || !w->pad_begin || !w->pad_end) return tcc_status_oom();
  if (!kdims) TCC_RETURN_IF_ERROR(tcc_compute_ints_attr(k, node, "kernel_shape", n, 1, &ks));
  TCC_RETURN_IF_ERROR(tcc_compute_ints_attr(k, node, "strides", n, 1, &w->strides));
  TCC_RETURN_IF_ERROR(tcc_compute_ints_attr(k, node, "dilations", n, 1, &w->dilations));
  TCC_RETURN_IF_ERROR(tcc_compute_ints_attr(k, node, "pads", 2 * n, 0, &pads));
  const char *ap = tcc_node_attr_string(node, "auto_pad", "NOTSET");
  bool same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER"), valid = !strcmp(ap, "VALID");
  w->padded = tcc_node_attr_int(node, "ceil_mode", 0) != 0 || same;
  for (int i = 0; i < n; i++) {
    w->kernel[i] = kdims ? kdim(k, kdims[i]) : kint(k, ks[i]);
    w->in_size[i] = kdim(k, x->dims[2 + i]);
    if (same) {
      same_pads(k, w, i, y->dims[2 + i], ap[5] == 'U');
    } else {
      w->pad_begin[i] = kint(k, valid ? 0 : pads[i]);
      w->pad_end[i] = kint(k, valid ? 0 : pads[n + i]);
      if (!valid && (pads[i] || pads[n + i])) w->padded = true;
    }
  }
  return NULL;
}

expr_t tcc_compute_window_at(tcc_kernel_t *k, const tcc_compute_window_t *w, const expr_t *o, const expr_t *kk,
                             expr_t *pos) {
  expr_t valid = NULL;
  for (int i = 0; i < w->n; i++) {
    expr_t at = kmul(k, o[2 + i], kint(k, w->strides[i]));
    pos[i] = kadd(k, ksub(k, at, w->pad_begin[i]), kmul(k, kk[i], kint(k, w->dilations[i])));
    if (w->padded) valid = kand(k, valid, in_range(k, pos[i], kint(k, 0), w->in_size[i]));
  }
  return valid;
}
