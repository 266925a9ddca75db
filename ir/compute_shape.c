/* Compute definitions: data movement (reshape, transpose, concat, slice, gather, scatter, pad ...) and the
 * generators of ir/infer_shape.c (shape, range, trilu, one_hot, eye_like ...). Each output element is
 * computed from its own index: the loops run over the output shape and map that index to an input index,
 * with sizes as run-time dims; build-time operands (perm, axes, starts, pads ...) come from attributes or
 * constant inputs. Values are loaded and stored in their own dtype (strings are not supported yet). */
#include <string.h>

#include "ir/compute_defs.h"

/* ---- helpers ---------------------------------------------------------------------------------------- */

/* b's dim d as an i64 expression. */
static expr_t dim(tcc_kernel_t *k, const tcc_kbuf_t *b, int d) { return kdim(k, b->dims[d]); }

/* ONNX's negative indices: v < 0 ? v + size : v. */
static expr_t wrap(tcc_kernel_t *k, expr_t v, expr_t size) {
  return ksel(k, kbin(k, TCC_KOP_LT, v, kint(k, 0)), kadd(k, v, size), v);
}

/* A constant of dtype dt holding v (integers exactly, through an i64 cast). */
static expr_t constant(tcc_kernel_t *k, tcc_dtype_t dt, int64_t iv, double fv) {
  if (tcc_dtype_is_float(dt)) return kc(k, dt, fv);
  if (dt == TCC_DTYPE_BOOL) return kc(k, dt, iv != 0);
  return dt == TCC_DTYPE_I64 ? kint(k, iv) : kcast(k, dt, kint(k, iv));
}

/* Row-major linear index of idx over b's dims. */
static expr_t linearize(tcc_kernel_t *k, const tcc_kbuf_t *b, const expr_t *idx) {
  expr_t lin = kint(k, 0);
  for (int d = 0; d < b->rank; d++) lin = d ? kadd(k, kmul(k, lin, dim(k, b, d)), idx[d]) : idx[0];
  return lin;
}

/* The row-major index over b's dims of linear index lin. */
static expr_t *delinearize(tcc_kernel_t *k, const tcc_kbuf_t *b, expr_t lin) {
  expr_t *idx = exprs(k, b->rank);
  if (!idx) return NULL;
  for (int d = b->rank - 1; d > 0; d--) {
    idx[d] = kbin(k, TCC_KOP_FLOORMOD, lin, dim(k, b, d));
    lin = kbin(k, TCC_KOP_FLOORDIV, lin, dim(k, b, d));
  }
  if (b->rank > 0) idx[0] = lin;
  return idx;
}

/* An index map: fills src (src->rank entries) from the destination index, and *inside with a bool
 * condition (or leaves it NULL) under which src is valid; elsewhere the fill value is stored. */
typedef tcc_status_t (*index_map_t)(tcc_kernel_t *k, const void *ctx, const expr_t *dst_idx, expr_t *src_idx,
                                    expr_t *inside);

/* dst[i] = inside(i) ? src[map(i)] : fill, over every index i of dst, appended to block. */
static tcc_status_t copy_mapped(tcc_kernel_t *k, tcc_kblock_t *block, const tcc_kbuf_t *dst, const tcc_kbuf_t *src,
                                expr_t fill, index_map_t map, const void *ctx) {
  const tcc_kexpr_t **idx;
  tcc_kblock_t *body = tcc_compute_loops(k, block, dst->rank, dst->dims, &idx);
  expr_t *src_idx = exprs(k, src->rank), inside = NULL;
  if (!body || !src_idx) return tcc_status_oom();
  TCC_RETURN_IF_ERROR(map(k, ctx, idx, src_idx, &inside));
  if (inside) {
    tcc_kblock_t *orelse;
    body = tcc_k_if(k, body, inside, &orelse);
    if (!body) return tcc_status_oom();
    tcc_k_store(k, orelse, dst, idx, fill);
  }
  tcc_k_store(k, body, dst, idx, tcc_k_load(k, src, src_idx));
  return tcc_module_check(k->module);
}

/* Refuses strings (not loaded or stored by kernels yet) among the node's operands. */
static tcc_status_t check_dtypes(const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  for (int i = 0; i < node->num_inputs; i++)
    if (in[i] && in[i]->dtype == TCC_DTYPE_STRING)
      return tcc_compute_unsupported(node, "string tensors are not supported yet");
  for (int i = 0; i < node->num_outputs; i++)
    if (out[i] && out[i]->dtype == TCC_DTYPE_STRING)
      return tcc_compute_unsupported(node, "string tensors are not supported yet");
  return NULL;
}

/* The constant integer contents of input i; *present false (and no error) when the input is omitted. */
static tcc_status_t const_input(const tcc_node_t *node, int i, const char *what, bool *present, const int64_t **v,
                                int64_t *n) {
  *present = i < node->num_inputs && node->inputs[i];
  *v = NULL;
  *n = 0;
  if (!*present || tcc_value_const_ints(node->inputs[i], v, n)) return NULL;
  return tcc_compute_unsupported(node, "%s must be a constant", what);
}

/* Normalizes axis against rank; TCC_UNSUPPORTED when out of range (inference normally rejects it first). */
static tcc_status_t get_axis(const tcc_node_t *node, int64_t axis, int rank, int *out) {
  if (axis < -rank || axis >= rank) return tcc_compute_unsupported(node, "axis out of range");
  *out = (int)(axis < 0 ? axis + rank : axis);
  return NULL;
}

/* The kernel's top-level block. */
static tcc_kblock_t *body(tcc_kernel_t *k) { return tcc_kernel_body(k); }

/* ---- reshape family: row-major order kept --------------------------------------------------------- */

typedef struct {
  const tcc_kbuf_t *src, *dst;
} pair_t;

/* dst index -> the src index of the same row-major position */
static tcc_status_t map_linear(tcc_kernel_t *k, const void *ctx, const expr_t *di, expr_t *si, expr_t *inside) {
  const pair_t *p = ctx;
  (void)inside;
  bool same = p->src->rank == p->dst->rank;
  for (int d = 0; same && d < p->src->rank; d++) same = p->src->dims[d] == p->dst->dims[d];
  if (same) {
    if (p->src->rank) memcpy(si, di, (size_t)p->src->rank * sizeof *si);
    return NULL;
  }
  expr_t *idx = delinearize(k, p->src, linearize(k, p->dst, di));
  if (!idx) return tcc_status_oom();
  if (p->src->rank) memcpy(si, idx, (size_t)p->src->rank * sizeof *si);
  return NULL;
}

static tcc_status_t compute_reshape(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                    tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtypes(node, in, out));
  pair_t p = {in[0], out[0]};
  return copy_mapped(k, body(k), out[0], in[0], NULL, map_linear, &p);
}

/* ---- transpose ---------------------------------------------------------------------------------------- */

typedef struct {
  const int64_t *perm;
} perm_t;

static tcc_status_t map_transpose(tcc_kernel_t *k, const void *ctx, const expr_t *di, expr_t *si, expr_t *inside) {
  const perm_t *p = ctx;
  (void)k, (void)inside;
  for (int64_t d = 0; p->perm[d] >= 0; d++) si[p->perm[d]] = di[d];
  return NULL;
}

static tcc_status_t compute_transpose(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                      tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtypes(node, in, out));
  int r = in[0]->rank;
  const int64_t *given;
  int64_t n;
  bool has = tcc_node_attr_ints(node, "perm", &given, &n);
  if (has && n != r) return tcc_compute_unsupported(node, "perm does not match the input rank");
  int64_t *perm = tcc_module_alloc(k->module, (size_t)(r + 1) * sizeof *perm);
  if (!perm) return tcc_status_oom();
  for (int d = 0; d < r; d++) {
    perm[d] = has ? given[d] : r - 1 - d;
    if (perm[d] < 0 || perm[d] >= r) return tcc_compute_unsupported(node, "perm is not a permutation");
  }
  perm[r] = -1;
  perm_t p = {perm};
  return copy_mapped(k, body(k), out[0], in[0], NULL, map_transpose, &p);
}

/* ---- concat, split: shifted copies along one axis ----------------------------------------------------- */

/* dst[i with i[axis] + offset] = src[i] over every index of src (concat), or the reverse (split). */
static tcc_status_t copy_shifted(tcc_kernel_t *k, const tcc_kbuf_t *src, const tcc_kbuf_t *dst, int axis,
                                 expr_t offset, bool shift_dst) {
  const tcc_kbuf_t *loop = shift_dst ? src : dst;
  const tcc_kexpr_t **idx;
  tcc_kblock_t *b = tcc_compute_loops(k, body(k), loop->rank, loop->dims, &idx);
  expr_t *shifted = exprs(k, loop->rank);
  if (!b || !shifted) return tcc_status_oom();
  for (int d = 0; d < loop->rank; d++) shifted[d] = d == axis ? kadd(k, idx[d], offset) : idx[d];
  if (shift_dst) tcc_k_store(k, b, dst, shifted, tcc_k_load(k, src, idx));
  else tcc_k_store(k, b, dst, idx, tcc_k_load(k, src, shifted));
  return tcc_module_check(k->module);
}

static tcc_status_t compute_concat(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                   tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtypes(node, in, out));
  int axis = 0;
  TCC_RETURN_IF_ERROR(get_axis(node, tcc_node_attr_int(node, "axis", 0), out[0]->rank, &axis));
  expr_t offset = kint(k, 0);
  for (int i = 0; i < node->num_inputs; i++) {
    if (!in[i]) return tcc_compute_unsupported(node, "missing input");
    TCC_RETURN_IF_ERROR(copy_shifted(k, in[i], out[0], axis, offset, true));
    offset = kadd(k, offset, dim(k, in[i], axis));
  }
  return NULL;
}

static tcc_status_t compute_split(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                  tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtypes(node, in, out));
  int axis = 0;
  TCC_RETURN_IF_ERROR(get_axis(node, tcc_node_attr_int(node, "axis", 0), in[0]->rank, &axis));
  expr_t offset = kint(k, 0);
  for (int i = 0; i < node->num_outputs; i++) {
    if (!out[i]) return tcc_compute_unsupported(node, "omitted split output");
    TCC_RETURN_IF_ERROR(copy_shifted(k, in[0], out[i], axis, offset, false));
    offset = kadd(k, offset, dim(k, out[i], axis));
  }
  return NULL;
}

/* ---- slice ------------------------------------------------------------------------------------------------ */

typedef struct {
  expr_t *first; /* per input axis: the first index taken */
  int64_t *step;
} affine_t;

/* src[d] = first[d] + dst[d] * step[d] */
static tcc_status_t map_affine(tcc_kernel_t *k, const void *ctx, const expr_t *di, expr_t *si, expr_t *inside) {
  const affine_t *a = ctx;
  (void)inside;
  for (int d = 0; a->step[d]; d++) si[d] = a->step[d] == 1 && !a->first[d] ? di[d]
                                            : kadd(k, a->first[d], kmul(k, di[d], kint(k, a->step[d])));
  return NULL;
}

static tcc_status_t compute_slice(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                  tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtypes(node, in, out));
  const tcc_kbuf_t *x = in[0];
  int r = x->rank;
  const int64_t *starts, *axes, *steps, *ends;
  int64_t ns, na, nt, ne;
  bool present;
  TCC_RETURN_IF_ERROR(const_input(node, 1, "starts", &present, &starts, &ns));
  TCC_RETURN_IF_ERROR(const_input(node, 2, "ends", &present, &ends, &ne));
  TCC_RETURN_IF_ERROR(const_input(node, 3, "axes", &present, &axes, &na));
  if (present && na != ns) return tcc_compute_unsupported(node, "axes and starts differ in length");
  TCC_RETURN_IF_ERROR(const_input(node, 4, "steps", &present, &steps, &nt));
  if (present && nt != ns) return tcc_compute_unsupported(node, "steps and starts differ in length");
  if (ns > r) return tcc_compute_unsupported(node, "more starts than axes");
  affine_t a = {exprs(k, r), tcc_module_alloc(k->module, (size_t)(r + 1) * sizeof(int64_t))};
  if (!a.first || !a.step) return tcc_status_oom();
  for (int d = 0; d < r; d++) a.first[d] = NULL, a.step[d] = 1;
  for (int64_t i = 0; i < ns; i++) {
    int ax = 0;
    TCC_RETURN_IF_ERROR(get_axis(node, axes ? axes[i] : i, r, &ax));
    int64_t step = steps ? steps[i] : 1, s = starts[i];
    if (step == 0) return tcc_compute_unsupported(node, "step 0");
    /* ONNX clamping: [0, dim] forward, [0, dim - 1] backward, after adding dim to negative starts */
    expr_t d = dim(k, x, ax), hi = step > 0 ? d : ksub(k, d, kint(k, 1));
    expr_t v = s < 0 ? kadd(k, d, kint(k, s)) : kint(k, s);
    a.first[ax] = kbin(k, TCC_KOP_MAX, kint(k, 0), kbin(k, TCC_KOP_MIN, v, hi));
    a.step[ax] = step;
  }
  a.step[r] = 0; /* end marker */
  return copy_mapped(k, body(k), out[0], x, NULL, map_affine, &a);
}

/* ---- gathers ------------------------------------------------------------------------------------------ */

typedef struct {
  const tcc_kbuf_t *data, *indices;
  int axis, batch_dims;
} gather_t;

/* Gather: out = data[:axis] ++ indices ++ data[axis + 1:]. */
static tcc_status_t map_gather(tcc_kernel_t *k, const void *ctx, const expr_t *di, expr_t *si, expr_t *inside) {
  const gather_t *g = ctx;
  int q = g->indices->rank;
  (void)inside;
  for (int d = 0; d < g->data->rank; d++)
    si[d] = d < g->axis ? di[d] : d > g->axis ? di[d - 1 + q] : NULL;
  expr_t v = kload(k, g->indices, di + g->axis, TCC_DTYPE_I64);
  si[g->axis] = wrap(k, v, dim(k, g->data, g->axis));
  return NULL;
}

/* GatherElements: out index with the axis entry replaced by indices[out index]. */
static tcc_status_t map_gather_elements(tcc_kernel_t *k, const void *ctx, const expr_t *di, expr_t *si,
                                        expr_t *inside) {
  const gather_t *g = ctx;
  (void)inside;
  for (int d = 0; d < g->data->rank; d++) si[d] = di[d];
  si[g->axis] = wrap(k, kload(k, g->indices, di, TCC_DTYPE_I64), dim(k, g->data, g->axis));
  return NULL;
}

/* GatherND: out = indices[:-1] ++ data[b + m:]; data index = batch ++ indices[out[:q-1], :] ++ rest. */
static tcc_status_t map_gather_nd(tcc_kernel_t *k, const void *ctx, const expr_t *di, expr_t *si, expr_t *inside) {
  const gather_t *g = ctx;
  int q = g->indices->rank, b = g->batch_dims, m = (int)tcc_dim_value(g->indices->dims[q - 1]);
  expr_t *ii = exprs(k, q);
  if (!ii) return tcc_status_oom();
  (void)inside;
  for (int d = 0; d < q - 1; d++) ii[d] = di[d];
  for (int d = 0; d < b; d++) si[d] = di[d];
  for (int j = 0; j < m; j++) {
    ii[q - 1] = kint(k, j);
    si[b + j] = wrap(k, kload(k, g->indices, ii, TCC_DTYPE_I64), dim(k, g->data, b + j));
  }
  for (int d = b + m; d < g->data->rank; d++) si[d] = di[q - 1 + d - b - m];
  return NULL;
}

static tcc_status_t compute_gather(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                   tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtypes(node, in, out));
  gather_t g = {in[0], in[1], 0, 0};
  index_map_t map = node->op == TCC_OP_GATHER ? map_gather : map_gather_elements;
  if (node->op == TCC_OP_GATHER_ND) {
    map = map_gather_nd;
    g.batch_dims = (int)tcc_node_attr_int(node, "batch_dims", 0);
    int q = g.indices->rank;
    if (q < 1 || !tcc_dim_is_const(g.indices->dims[q - 1]))
      return tcc_compute_unsupported(node, "the last dim of indices must be a constant");
    int64_t m = tcc_dim_value(g.indices->dims[q - 1]);
    if (g.batch_dims < 0 || m < 1 || g.batch_dims + m > g.data->rank)
      return tcc_compute_unsupported(node, "bad index depth");
  } else {
    TCC_RETURN_IF_ERROR(get_axis(node, tcc_node_attr_int(node, "axis", 0), g.data->rank, &g.axis));
  }
  return copy_mapped(k, body(k), out[0], g.data, NULL, map, &g);
}

/* ---- scatters: copy data, then apply the updates in order --------------------------------------------- */

static expr_t reduce(tcc_kernel_t *k, const char *reduction, expr_t old, expr_t upd) {
  bool is_bool = old->dtype == TCC_DTYPE_BOOL;
  if (!strcmp(reduction, "add")) return kbin(k, is_bool ? TCC_KOP_OR : TCC_KOP_ADD, old, upd);
  if (!strcmp(reduction, "mul")) return kbin(k, is_bool ? TCC_KOP_AND : TCC_KOP_MUL, old, upd);
  if (!strcmp(reduction, "max")) return kbin(k, is_bool ? TCC_KOP_OR : TCC_KOP_MAX, old, upd);
  if (!strcmp(reduction, "min")) return kbin(k, is_bool ? TCC_KOP_AND : TCC_KOP_MIN, old, upd);
  return upd;
}

static tcc_status_t compute_scatter(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                    tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtypes(node, in, out));
  const tcc_kbuf_t *data = in[0], *indices = in[1], *updates = in[2], *y = out[0];
  const char *reduction = tcc_node_attr_string(node, "reduction", "none");
  if (strcmp(reduction, "none") && strcmp(reduction, "add") && strcmp(reduction, "mul") && strcmp(reduction, "max") &&
      strcmp(reduction, "min"))
    return tcc_compute_unsupported(node, "unknown reduction");
  pair_t p = {data, y};
  TCC_RETURN_IF_ERROR(copy_mapped(k, body(k), y, data, NULL, map_linear, &p));
  const tcc_kexpr_t **idx;
  tcc_kblock_t *b;
  expr_t *dst = exprs(k, y->rank), *ui;
  if (!dst) return tcc_status_oom();
  if (node->op == TCC_OP_SCATTER_ELEMENTS) {
    int axis = 0;
    TCC_RETURN_IF_ERROR(get_axis(node, tcc_node_attr_int(node, "axis", 0), y->rank, &axis));
    if (!(b = tcc_compute_loops(k, body(k), indices->rank, indices->dims, &idx))) return tcc_status_oom();
    for (int d = 0; d < y->rank; d++) dst[d] = idx[d];
    dst[axis] = wrap(k, kload(k, indices, idx, TCC_DTYPE_I64), dim(k, y, axis));
    ui = (expr_t *)idx;
  } else {
    /* loops over indices[:-1] ++ data[m:], the shape of updates */
    int q = indices->rank;
    if (q < 1 || !tcc_dim_is_const(indices->dims[q - 1]))
      return tcc_compute_unsupported(node, "the last dim of indices must be a constant");
    int m = (int)tcc_dim_value(indices->dims[q - 1]);
    if (m > y->rank || updates->rank != q - 1 + y->rank - m) return tcc_compute_unsupported(node, "bad updates rank");
    if (!(b = tcc_compute_loops(k, body(k), updates->rank, updates->dims, &idx))) return tcc_status_oom();
    expr_t *ii = exprs(k, q);
    if (!ii) return tcc_status_oom();
    for (int d = 0; d < q - 1; d++) ii[d] = idx[d];
    for (int j = 0; j < m; j++) {
      ii[q - 1] = kint(k, j);
      dst[j] = wrap(k, kload(k, indices, ii, TCC_DTYPE_I64), dim(k, y, j));
    }
    for (int d = m; d < y->rank; d++) dst[d] = idx[q - 1 + d - m];
    ui = (expr_t *)idx;
  }
  tcc_k_store(k, b, y, dst, reduce(k, reduction, tcc_k_load(k, y, dst), tcc_k_load(k, updates, ui)));
  return tcc_module_check(k->module);
}

/* ---- expand, tile ------------------------------------------------------------------------------------- */

static tcc_status_t map_expand(tcc_kernel_t *k, const void *ctx, const expr_t *di, expr_t *si, expr_t *inside) {
  const pair_t *p = ctx;
  (void)inside;
  const tcc_kexpr_t *const *idx = tcc_compute_broadcast_index(k, p->src, p->dst->rank, p->dst->dims, di);
  if (!idx) return tcc_status_oom();
  for (int d = 0; d < p->src->rank; d++) si[d] = idx[d];
  return NULL;
}

static tcc_status_t map_tile(tcc_kernel_t *k, const void *ctx, const expr_t *di, expr_t *si, expr_t *inside) {
  const pair_t *p = ctx;
  (void)inside;
  for (int d = 0; d < p->src->rank; d++) si[d] = kbin(k, TCC_KOP_FLOORMOD, di[d], dim(k, p->src, d));
  return NULL;
}

static tcc_status_t compute_expand(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                   tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtypes(node, in, out));
  if (out[0]->rank < in[0]->rank) return tcc_compute_unsupported(node, "output rank below the input's");
  pair_t p = {in[0], out[0]};
  return copy_mapped(k, body(k), out[0], in[0], NULL, node->op == TCC_OP_TILE ? map_tile : map_expand, &p);
}

/* ---- pad, center_crop_pad ----------------------------------------------------------------------------- */

typedef enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } pad_mode_t;

typedef struct {
  const tcc_kbuf_t *src;
  expr_t *before; /* per axis: elements added before (negative: removed); NULL = none */
  pad_mode_t mode;
} pad_t;

static tcc_status_t map_pad(tcc_kernel_t *k, const void *ctx, const expr_t *di, expr_t *si, expr_t *inside) {
  const pad_t *p = ctx;
  for (int d = 0; d < p->src->rank; d++) {
    if (!p->before[d]) {
      si[d] = di[d];
      continue;
    }
    expr_t i = ksub(k, di[d], p->before[d]), n = dim(k, p->src, d), last = ksub(k, n, kint(k, 1));
    switch (p->mode) {
      case PAD_CONSTANT: {
        si[d] = i;
        expr_t ok = in_range(k, i, kint(k, 0), n);
        *inside = *inside ? kbin(k, TCC_KOP_AND, *inside, ok) : ok;
        break;
      }
      case PAD_EDGE: si[d] = kbin(k, TCC_KOP_MAX, kint(k, 0), kbin(k, TCC_KOP_MIN, i, last)); break;
      case PAD_WRAP: si[d] = kbin(k, TCC_KOP_FLOORMOD, i, n); break;
      case PAD_REFLECT: {
        /* period 2 (n - 1); a dim of 1 reflects onto itself */
        expr_t period = kbin(k, TCC_KOP_MAX, kmul(k, last, kint(k, 2)), kint(k, 1));
        expr_t r = kbin(k, TCC_KOP_FLOORMOD, i, period);
        si[d] = ksel(k, kbin(k, TCC_KOP_LT, r, n), r, ksub(k, period, r));
        break;
      }
    }
  }
  return NULL;
}

static tcc_status_t compute_pad(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtypes(node, in, out));
  const tcc_kbuf_t *x = in[0];
  int r = x->rank;
  const char *mode = tcc_node_attr_string(node, "mode", "constant");
  pad_t p = {x, exprs(k, r), PAD_CONSTANT};
  if (!p.before) return tcc_status_oom();
  if (!strcmp(mode, "reflect")) p.mode = PAD_REFLECT;
  else if (!strcmp(mode, "edge")) p.mode = PAD_EDGE;
  else if (!strcmp(mode, "wrap")) p.mode = PAD_WRAP;
  else if (strcmp(mode, "constant")) return tcc_compute_unsupported(node, "unknown pad mode");
  const int64_t *pads, *axes;
  int64_t np, na;
  bool present, has_axes;
  TCC_RETURN_IF_ERROR(const_input(node, 1, "pads", &present, &pads, &np));
  TCC_RETURN_IF_ERROR(const_input(node, 3, "axes", &has_axes, &axes, &na));
  if (!has_axes) na = r;
  if (np != 2 * na) return tcc_compute_unsupported(node, "pads does not match the axes");
  for (int d = 0; d < r; d++) p.before[d] = NULL;
  for (int64_t i = 0; i < na; i++) {
    int ax = 0;
    TCC_RETURN_IF_ERROR(get_axis(node, has_axes ? axes[i] : i, r, &ax));
    if (pads[i] || pads[i + na]) p.before[ax] = kint(k, pads[i]);
  }
  expr_t fill = in[2] ? first(k, in[2]) : constant(k, x->dtype, 0, 0);
  return copy_mapped(k, body(k), out[0], x, fill, map_pad, &p);
}

static tcc_status_t compute_center_crop_pad(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                            tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtypes(node, in, out));
  const tcc_kbuf_t *x = in[0], *y = out[0];
  pad_t p = {x, exprs(k, x->rank), PAD_CONSTANT};
  if (!p.before) return tcc_status_oom();
  for (int d = 0; d < x->rank; d++) {
    p.before[d] = NULL;
    if (x->dims[d] == y->dims[d]) continue;
    /* crop: start at (n - s) / 2; pad: (s - n) / 2 before */
    expr_t n = dim(k, x, d), s = dim(k, y, d), two = kint(k, 2);
    p.before[d] = ksel(k, kbin(k, TCC_KOP_GE, n, s),
                               kun(k, TCC_KOP_NEG, kbin(k, TCC_KOP_FLOORDIV, ksub(k, n, s), two)),
                               kbin(k, TCC_KOP_FLOORDIV, ksub(k, s, n), two));
  }
  return copy_mapped(k, body(k), y, x, constant(k, x->dtype, 0, 0), map_pad, &p);
}

/* ---- depth_to_space, space_to_depth, reverse_sequence --------------------------------------------------- */

typedef struct {
  const tcc_kbuf_t *src, *dst;
  int64_t block;
  bool crd;
} space_t;

static tcc_status_t map_depth_to_space(tcc_kernel_t *k, const void *ctx, const expr_t *di, expr_t *si,
                                       expr_t *inside) {
  const space_t *p = ctx;
  expr_t b = kint(k, p->block), c = di[1], cout = dim(k, p->dst, 1);
  expr_t bh = kbin(k, TCC_KOP_FLOORMOD, di[2], b), bw = kbin(k, TCC_KOP_FLOORMOD, di[3], b);
  expr_t block_pos = kadd(k, kmul(k, bh, b), bw);
  (void)inside;
  si[0] = di[0];
  si[1] = p->crd ? kadd(k, kmul(k, c, kint(k, p->block * p->block)), block_pos) : kadd(k, kmul(k, block_pos, cout), c);
  si[2] = kbin(k, TCC_KOP_FLOORDIV, di[2], b);
  si[3] = kbin(k, TCC_KOP_FLOORDIV, di[3], b);
  return NULL;
}

static tcc_status_t map_space_to_depth(tcc_kernel_t *k, const void *ctx, const expr_t *di, expr_t *si,
                                       expr_t *inside) {
  const space_t *p = ctx;
  expr_t b = kint(k, p->block), cin = dim(k, p->src, 1);
  expr_t pos = kbin(k, TCC_KOP_FLOORDIV, di[1], cin);
  (void)inside;
  si[0] = di[0];
  si[1] = kbin(k, TCC_KOP_FLOORMOD, di[1], cin);
  si[2] = kadd(k, kmul(k, di[2], b), kbin(k, TCC_KOP_FLOORDIV, pos, b));
  si[3] = kadd(k, kmul(k, di[3], b), kbin(k, TCC_KOP_FLOORMOD, pos, b));
  return NULL;
}

static tcc_status_t compute_space_depth(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                        tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtypes(node, in, out));
  space_t p = {in[0], out[0], tcc_node_attr_int(node, "blocksize", 0),
               !strcmp(tcc_node_attr_string(node, "mode", "DCR"), "CRD")};
  if (p.block <= 0 || in[0]->rank != 4) return tcc_compute_unsupported(node, "expects rank 4 and a positive blocksize");
  bool to_space = node->op == TCC_OP_DEPTH_TO_SPACE;
  return copy_mapped(k, body(k), out[0], in[0], NULL, to_space ? map_depth_to_space : map_space_to_depth, &p);
}

typedef struct {
  const tcc_kbuf_t *lens;
  int rank, batch, time;
} reverse_t;

/* time index t of batch b: lens[b] - 1 - t when t < lens[b], else t */
static tcc_status_t map_reverse_sequence(tcc_kernel_t *k, const void *ctx, const expr_t *di, expr_t *si,
                                         expr_t *inside) {
  const reverse_t *p = ctx;
  (void)inside;
  for (int d = 0; d < p->rank; d++) si[d] = di[d];
  expr_t len = kcast(k, TCC_DTYPE_I64, tcc_k_load(k, p->lens, (expr_t[]){di[p->batch]})), t = di[p->time];
  si[p->time] = ksel(k, kbin(k, TCC_KOP_LT, t, len), ksub(k, ksub(k, len, kint(k, 1)), t), t);
  return NULL;
}

static tcc_status_t compute_reverse_sequence(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                             tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtypes(node, in, out));
  reverse_t p = {in[1], in[0]->rank, 0, 0};
  TCC_RETURN_IF_ERROR(get_axis(node, tcc_node_attr_int(node, "batch_axis", 1), in[0]->rank, &p.batch));
  TCC_RETURN_IF_ERROR(get_axis(node, tcc_node_attr_int(node, "time_axis", 0), in[0]->rank, &p.time));
  if (p.batch == p.time || in[1]->rank != 1) return tcc_compute_unsupported(node, "bad batch/time axes");
  return copy_mapped(k, body(k), out[0], in[0], NULL, map_reverse_sequence, &p);
}

/* ---- generators ---------------------------------------------------------------------------------------- */

/* out[i] = value(i) over every index of out, value built by a callback. */
typedef expr_t (*value_fn_t)(tcc_kernel_t *k, const void *ctx, const expr_t *idx);

static tcc_status_t fill(tcc_kernel_t *k, const tcc_kbuf_t *dst, value_fn_t value, const void *ctx) {
  const tcc_kexpr_t **idx;
  tcc_kblock_t *b = tcc_compute_loops(k, body(k), dst->rank, dst->dims, &idx);
  if (!b) return tcc_status_oom();
  tcc_k_store(k, b, dst, idx, value(k, ctx, idx));
  return tcc_module_check(k->module);
}

static expr_t value_const(tcc_kernel_t *k, const void *ctx, const expr_t *idx) {
  (void)k, (void)idx;
  return ctx;
}

static tcc_status_t compute_constant_of_shape(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                              tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtypes(node, in, out));
  const tcc_attr_t *a = tcc_node_attr(node, "value");
  const tcc_tensor_t *t = a && a->kind == TCC_ATTR_TENSOR ? a->t : NULL;
  if (t && t->numel != 1) return tcc_compute_unsupported(node, "value must hold one element");
  tcc_dtype_t dt = out[0]->dtype;
  bool is_float = tcc_dtype_is_float(dt);
  expr_t v = constant(k, dt, t && !is_float ? tcc_tensor_get_int(t, 0) : 0,
                      t && is_float ? tcc_tensor_get_float(t, 0) : 0);
  return fill(k, out[0], value_const, v);
}

/* Shape: y[j] = dim start + j of x, stored one by one. */
static tcc_status_t compute_shape_op(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                     tcc_kbuf_t *const *out) {
  int64_t r = in[0]->rank, start = tcc_node_attr_int(node, "start", 0), end = tcc_node_attr_int(node, "end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = start < 0 ? 0 : start > r ? r : start;
  end = end < 0 ? 0 : end > r ? r : end;
  for (int64_t j = start; j < end; j++) {
    expr_t v = dim(k, in[0], (int)j);
    tcc_k_store(k, body(k), out[0], (expr_t[]){kint(k, j - start)}, kcast(k, TCC_DTYPE_I64, v));
  }
  return tcc_module_check(k->module);
}

static tcc_status_t compute_size(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                 tcc_kbuf_t *const *out) {
  (void)node;
  expr_t n = kint(k, 1);
  for (int d = 0; d < in[0]->rank; d++) n = d ? kmul(k, n, dim(k, in[0], d)) : dim(k, in[0], 0);
  tcc_k_store(k, body(k), out[0], (expr_t[]){NULL}, n);
  return tcc_module_check(k->module);
}

/* Range: y[i] = start + i * delta, in the inputs' dtype (scalars loaded at run time). */
static expr_t value_range(tcc_kernel_t *k, const void *ctx, const expr_t *idx) {
  tcc_kbuf_t *const *in = ctx;
  expr_t start = first(k, in[0]), delta = first(k, in[2]);
  expr_t i = in[0]->dtype == TCC_DTYPE_I64 ? idx[0] : kcast(k, in[0]->dtype, idx[0]);
  return kadd(k, start, kmul(k, i, delta));
}

static tcc_status_t compute_range(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                  tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtypes(node, in, out));
  if (in[0]->dtype != out[0]->dtype || in[2]->dtype != out[0]->dtype)
    return tcc_compute_unsupported(node, "mixed dtypes");
  return fill(k, out[0], value_range, in);
}

/* Trilu: keep x where (col - row) >= k (upper) or <= k (lower), else 0; k loaded at run time. */
typedef struct {
  tcc_kbuf_t *const *in;
  bool upper;
} trilu_t;

static expr_t value_trilu(tcc_kernel_t *k, const void *ctx, const expr_t *idx) {
  const trilu_t *p = ctx;
  const tcc_kbuf_t *x = p->in[0];
  int r = x->rank;
  expr_t diag = p->in[1] ? kcast(k, TCC_DTYPE_I64, first(k, p->in[1])) : kint(k, 0);
  expr_t off = ksub(k, idx[r - 1], idx[r - 2]);
  expr_t keep = kbin(k, p->upper ? TCC_KOP_GE : TCC_KOP_LE, off, diag);
  return ksel(k, keep, tcc_k_load(k, x, idx), constant(k, x->dtype, 0, 0));
}

static tcc_status_t compute_trilu(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                  tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtypes(node, in, out));
  if (in[0]->rank < 2) return tcc_compute_unsupported(node, "expects rank >= 2");
  trilu_t p = {in, tcc_node_attr_int(node, "upper", 1) != 0};
  return fill(k, out[0], value_trilu, &p);
}

/* OneHot: y[..., j, ...] = values[indices[...] (wrapped by depth) == j ? 1 : 0]. */
typedef struct {
  tcc_kbuf_t *const *in;
  const tcc_kbuf_t *y;
  int axis;
} one_hot_t;

static expr_t value_one_hot(tcc_kernel_t *k, const void *ctx, const expr_t *idx) {
  const one_hot_t *p = ctx;
  expr_t *ii = exprs(k, p->in[0]->rank);
  if (!ii) return NULL;
  for (int d = 0, j = 0; d < p->y->rank; d++)
    if (d != p->axis) ii[j++] = idx[d];
  expr_t v = tcc_k_load(k, p->in[0], ii);
  if (tcc_dtype_is_float(v->dtype)) v = kun(k, TCC_KOP_FLOOR, v);
  v = wrap(k, kcast(k, TCC_DTYPE_I64, v), dim(k, p->y, p->axis));
  expr_t on = tcc_k_load(k, p->in[2], (expr_t[]){kint(k, 1)}), off = tcc_k_load(k, p->in[2], (expr_t[]){kint(k, 0)});
  return ksel(k, kbin(k, TCC_KOP_EQ, v, idx[p->axis]), on, off);
}

static tcc_status_t compute_one_hot(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                    tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtypes(node, in, out));
  one_hot_t p = {in, out[0], 0};
  TCC_RETURN_IF_ERROR(get_axis(node, tcc_node_attr_int(node, "axis", -1), out[0]->rank, &p.axis));
  if (in[2]->rank != 1 || out[0]->rank != in[0]->rank + 1)
    return tcc_compute_unsupported(node, "bad values or output rank");
  return fill(k, out[0], value_one_hot, &p);
}

/* EyeLike: 1 where col - row == k. */
typedef struct {
  tcc_dtype_t dt;
  int64_t diag;
} eye_t;

static expr_t value_eye(tcc_kernel_t *k, const void *ctx, const expr_t *idx) {
  const eye_t *p = ctx;
  expr_t on = kbin(k, TCC_KOP_EQ, ksub(k, idx[1], idx[0]), kint(k, p->diag));
  return ksel(k, on, constant(k, p->dt, 1, 1), constant(k, p->dt, 0, 0));
}

static tcc_status_t compute_eye_like(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                     tcc_kbuf_t *const *out) {
  TCC_RETURN_IF_ERROR(check_dtypes(node, in, out));
  if (out[0]->rank != 2) return tcc_compute_unsupported(node, "expects rank 2");
  eye_t p = {out[0]->dtype, tcc_node_attr_int(node, "k", 0)};
  return fill(k, out[0], value_eye, &p);
}

const tcc_compute_entry_t tcc_compute_shape_defs[] = {
    {TCC_OP_RESHAPE, compute_reshape},
    {TCC_OP_FLATTEN, compute_reshape},
    {TCC_OP_SQUEEZE, compute_reshape},
    {TCC_OP_UNSQUEEZE, compute_reshape},
    {TCC_OP_TRANSPOSE, compute_transpose},
    {TCC_OP_CONCAT, compute_concat},
    {TCC_OP_SPLIT, compute_split},
    {TCC_OP_SLICE, compute_slice},
    {TCC_OP_GATHER, compute_gather},
    {TCC_OP_GATHER_ELEMENTS, compute_gather},
    {TCC_OP_GATHER_ND, compute_gather},
    {TCC_OP_SCATTER_ELEMENTS, compute_scatter},
    {TCC_OP_SCATTER_ND, compute_scatter},
    {TCC_OP_EXPAND, compute_expand},
    {TCC_OP_TILE, compute_expand},
    {TCC_OP_PAD, compute_pad},
    {TCC_OP_CENTER_CROP_PAD, compute_center_crop_pad},
    {TCC_OP_DEPTH_TO_SPACE, compute_space_depth},
    {TCC_OP_SPACE_TO_DEPTH, compute_space_depth},
    {TCC_OP_REVERSE_SEQUENCE, compute_reverse_sequence},
    {TCC_OP_CONSTANT_OF_SHAPE, compute_constant_of_shape},
    {TCC_OP_SHAPE, compute_shape_op},
    {TCC_OP_SIZE, compute_size},
    {TCC_OP_RANGE, compute_range},
    {TCC_OP_TRILU, compute_trilu},
    {TCC_OP_ONE_HOT, compute_one_hot},
    {TCC_OP_EYE_LIKE, compute_eye_like},
    {TCC_OP_UNSUPPORTED, NULL},
};
