/* Host operators whose output sizes depend on the input data: TopK, NonZero, Unique, Compress and
 * NonMaxSuppression (ONNX semantics of the newest opsets; contract in ir/host_ops.h). Elements are
 * moved in their own dtype (strings copied into the output module's arena), so every dtype the ops
 * accept works; orders follow numpy (NaN above every number, stable ties by lower index). */
#include <math.h>
#include <string.h>

#include "ir/host_util.h"

static tcc_status_t need_inputs(const tcc_tensor_t *const *in, int count) {
  for (int i = 0; i < count; i++)
    if (!in[i]) return tcc_status_make(TCC_INVALID_ARGUMENT, "input %d is missing", i);
  return NULL;
}

/* axis in [-rank, rank) to [0, rank). */
static tcc_status_t norm_axis(int64_t axis, int rank, int *out) {
  if (axis < -rank || axis >= rank)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "axis %lld is out of range for rank %d", (long long)axis, rank);
  *out = (int)(axis < 0 ? axis + rank : axis);
  return NULL;
}

/* ---- TopK ------------------------------------------------------------------------------------------ */

typedef struct {
  const tcc_tensor_t *x;
  int64_t base, stride;
  bool largest;
} topk_ctx_t;

static int topk_cmp(void *ctx, int64_t a, int64_t b) {
  const topk_ctx_t *c = ctx;
  int r = tcc_host_compare(c->x, c->base + a * c->stride, c->x, c->base + b * c->stride);
  if (c->largest) r = -r;
  return r ? r : (a > b) - (a < b);
}

/* Values and indices of the K largest (or smallest) elements along axis, sorted, ties by lower index. */
tcc_status_t tcc_host_top_k(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m, tcc_tensor_t **out) {
  TCC_RETURN_IF_ERROR(need_inputs(in, 2));
  const tcc_tensor_t *x = in[0];
  if (!tcc_host_orderable(x->dtype))
    return tcc_status_make(TCC_UNSUPPORTED, "element type %s has no order", tcc_dtype_name(x->dtype));
  if (in[1]->numel != 1 || !tcc_dtype_is_int(in[1]->dtype))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "K must be one integer, got %lld values", (long long)in[1]->numel);
  if (x->rank == 0) return tcc_status_make(TCC_INVALID_ARGUMENT, "the input must have rank 1 or more");
  int axis = 0;
  TCC_RETURN_IF_ERROR(norm_axis(tcc_node_attr_int(node, "axis", -1), x->rank, &axis));
  int64_t k = tcc_tensor_get_int(in[1], 0), n = x->dims[axis];
  if (k < 0 || k > n)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "K = %lld is outside [0, %lld] (the axis size)", (long long)k,
                           (long long)n);
  int64_t dims[64];
  if (x->rank > 64) return tcc_status_make(TCC_UNSUPPORTED, "rank %d is above 64", x->rank);
  memcpy(dims, x->dims, (size_t)x->rank * sizeof *dims);
  dims[axis] = k;
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 0, x->dtype, x->rank, dims));
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 1, TCC_DTYPE_I64, x->rank, dims));
  int64_t outer = tcc_host_span(x->dims, 0, axis), inner = tcc_host_span(x->dims, axis + 1, x->rank);
  int64_t *idx = tcc_host_scratch(m, n, sizeof *idx);
  if (!idx) return tcc_status_oom();
  topk_ctx_t ctx = {x, 0, inner, tcc_node_attr_int(node, "largest", 1) != 0};
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      for (int64_t j = 0; j < n; j++) idx[j] = j;
      ctx.base = o * n * inner + i;
      if (!tcc_host_sort(idx, n, topk_cmp, &ctx)) return tcc_status_oom();
      for (int64_t j = 0; j < k; j++) {
        int64_t dst = (o * k + j) * inner + i;
        if (out[0] && !tcc_host_copy_elem(m, out[0], dst, x, ctx.base + idx[j] * inner)) return tcc_status_oom();
        if (node->num_outputs > 1 && out[1]) ((int64_t *)out[1]->data)[dst] = idx[j];
      }
    }
  return NULL;
}

/* ---- NonZero --------------------------------------------------------------------------------------- */

/* [rank, count]: the coordinates of the non-zero elements in row-major order. */
tcc_status_t tcc_host_non_zero(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                               tcc_tensor_t **out) {
  TCC_RETURN_IF_ERROR(need_inputs(in, 1));
  const tcc_tensor_t *x = in[0];
  int64_t count = 0;
  for (int64_t i = 0; i < x->numel; i++) count += tcc_host_nonzero(x, i);
  int64_t dims[2] = {x->rank, count};
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 0, TCC_DTYPE_I64, 2, dims));
  if (!out[0]) return NULL;
  int64_t *y = (int64_t *)out[0]->data, c = 0;
  for (int64_t i = 0; i < x->numel; i++) {
    if (!tcc_host_nonzero(x, i)) continue;
    for (int64_t d = x->rank - 1, rest = i; d >= 0; d--) {
      y[d * count + c] = rest % x->dims[d];
      rest /= x->dims[d];
    }
    c++;
  }
  return NULL;
}

/* ---- Unique ---------------------------------------------------------------------------------------- */

typedef struct {
  const tcc_tensor_t *x;
  int64_t outer, n, inner; /* slices along the axis: n slices of outer * inner elements */
} slices_t;

static int slice_cmp(void *ctx, int64_t a, int64_t b) {
  const slices_t *s = ctx;
  for (int64_t o = 0; o < s->outer; o++)
    for (int64_t i = 0; i < s->inner; i++) {
      int r = tcc_host_compare(s->x, (o * s->n + a) * s->inner + i, s->x, (o * s->n + b) * s->inner + i);
      if (r) return r;
    }
  return 0;
}

static int stable_slice_cmp(void *ctx, int64_t a, int64_t b) {
  int r = slice_cmp(ctx, a, b);
  return r ? r : (a > b) - (a < b);
}

static int by_first_index(void *ctx, int64_t a, int64_t b) {
  const int64_t *first = ctx;
  return (first[a] > first[b]) - (first[a] < first[b]);
}

/* Y (unique elements or slices along axis), indices (first occurrences), inverse_indices, counts; sorted
 * ascending (slices lexicographically) or in order of first occurrence. */
tcc_status_t tcc_host_unique(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m, tcc_tensor_t **out) {
  TCC_RETURN_IF_ERROR(need_inputs(in, 1));
  const tcc_tensor_t *x = in[0];
  if (!tcc_host_orderable(x->dtype))
    return tcc_status_make(TCC_UNSUPPORTED, "element type %s has no order", tcc_dtype_name(x->dtype));
  const tcc_attr_t *axis_attr = tcc_node_attr(node, "axis");
  slices_t s = {x, 1, x->numel, 1};
  int axis = -1;
  if (axis_attr) {
    TCC_RETURN_IF_ERROR(norm_axis(axis_attr->i, x->rank, &axis));
    s = (slices_t){x, tcc_host_span(x->dims, 0, axis), x->dims[axis], tcc_host_span(x->dims, axis + 1, x->rank)};
  }
  int64_t n = s.n;
  int64_t *idx = tcc_host_scratch(m, n, sizeof *idx), *group = tcc_host_scratch(m, n, sizeof *group);
  int64_t *first = tcc_host_scratch(m, n, sizeof *first), *count = tcc_host_scratch(m, n, sizeof *count);
  int64_t *order = tcc_host_scratch(m, n, sizeof *order), *pos = tcc_host_scratch(m, n, sizeof *pos);
  if (!idx || !group || !first || !count || !order || !pos) return tcc_status_oom();
  for (int64_t j = 0; j < n; j++) idx[j] = j;
  if (!tcc_host_sort(idx, n, stable_slice_cmp, &s)) return tcc_status_oom();
  int64_t u = 0;
  for (int64_t j = 0; j < n; j++) {
    if (j == 0 || slice_cmp(&s, idx[j - 1], idx[j]) != 0) first[u++] = idx[j];
    group[idx[j]] = u - 1;
    count[u - 1]++;
  }
  for (int64_t g = 0; g < u; g++) order[g] = g;
  if (tcc_node_attr_int(node, "sorted", 1) == 0 && !tcc_host_sort(order, u, by_first_index, first)) return tcc_status_oom();
  for (int64_t p = 0; p < u; p++) pos[order[p]] = p;

  int64_t dims[64];
  if (x->rank > 64) return tcc_status_make(TCC_UNSUPPORTED, "rank %d is above 64", x->rank);
  if (axis_attr) memcpy(dims, x->dims, (size_t)x->rank * sizeof *dims), dims[axis] = u;
  else dims[0] = u;
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 0, x->dtype, axis_attr ? x->rank : 1, dims));
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 1, TCC_DTYPE_I64, 1, &u));
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 2, TCC_DTYPE_I64, 1, &n));
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 3, TCC_DTYPE_I64, 1, &u));
  for (int64_t p = 0; p < u; p++) {
    int64_t g = order[p];
    if (out[0])
      for (int64_t o = 0; o < s.outer; o++)
        for (int64_t i = 0; i < s.inner; i++)
          if (!tcc_host_copy_elem(m, out[0], (o * u + p) * s.inner + i, x, (o * n + first[g]) * s.inner + i))
            return tcc_status_oom();
    if (node->num_outputs > 1 && out[1]) ((int64_t *)out[1]->data)[p] = first[g];
    if (node->num_outputs > 3 && out[3]) ((int64_t *)out[3]->data)[p] = count[g];
  }
  if (node->num_outputs > 2 && out[2])
    for (int64_t j = 0; j < n; j++) ((int64_t *)out[2]->data)[j] = pos[group[j]];
  return NULL;
}

/* ---- Compress -------------------------------------------------------------------------------------- */

/* The slices along axis (or elements of the flattened input) whose condition is true; a condition
 * shorter than the axis selects nothing past its end. */
tcc_status_t tcc_host_compress(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                               tcc_tensor_t **out) {
  TCC_RETURN_IF_ERROR(need_inputs(in, 2));
  const tcc_tensor_t *x = in[0], *cond = in[1];
  const tcc_attr_t *axis_attr = tcc_node_attr(node, "axis");
  int64_t outer = 1, n = x->numel, inner = 1;
  int axis = 0;
  if (axis_attr) {
    TCC_RETURN_IF_ERROR(norm_axis(axis_attr->i, x->rank, &axis));
    outer = tcc_host_span(x->dims, 0, axis), n = x->dims[axis], inner = tcc_host_span(x->dims, axis + 1, x->rank);
  }
  if (cond->numel > n)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "condition has %lld values for %lld slices", (long long)cond->numel,
                           (long long)n);
  int64_t *sel = tcc_host_scratch(m, n, sizeof *sel), count = 0;
  if (!sel) return tcc_status_oom();
  for (int64_t j = 0; j < cond->numel; j++)
    if (tcc_host_nonzero(cond, j)) sel[count++] = j;
  int64_t dims[64];
  if (x->rank > 64) return tcc_status_make(TCC_UNSUPPORTED, "rank %d is above 64", x->rank);
  if (axis_attr) memcpy(dims, x->dims, (size_t)x->rank * sizeof *dims), dims[axis] = count;
  else dims[0] = count;
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 0, x->dtype, axis_attr ? x->rank : 1, dims));
  if (!out[0]) return NULL;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < count; j++)
      for (int64_t i = 0; i < inner; i++)
        if (!tcc_host_copy_elem(m, out[0], (o * count + j) * inner + i, x, (o * n + sel[j]) * inner + i))
          return tcc_status_oom();
  return NULL;
}

/* ---- NonMaxSuppression ----------------------------------------------------------------------------- */

typedef struct {
  float lo_x, hi_x, lo_y, hi_y;
} box_t;

static box_t read_box(const tcc_tensor_t *boxes, int64_t at, bool center) {
  float v[4];
  for (int i = 0; i < 4; i++) v[i] = (float)tcc_tensor_get_float(boxes, at + i);
  if (center) {
    float hw = v[2] / 2, hh = v[3] / 2;
    return (box_t){v[0] - hw, v[0] + hw, v[1] - hh, v[1] + hh};
  }
  /* [y1, x1, y2, x2], corners in either order */
  return (box_t){fminf(v[1], v[3]), fmaxf(v[1], v[3]), fminf(v[0], v[2]), fmaxf(v[0], v[2])};
}

/* Whether b suppresses a: IoU strictly above the threshold (degenerate boxes never suppress). */
static bool suppresses(box_t a, box_t b, float iou_threshold) {
  float ix0 = fmaxf(a.lo_x, b.lo_x), ix1 = fminf(a.hi_x, b.hi_x);
  if (ix1 <= ix0) return false;
  float iy0 = fmaxf(a.lo_y, b.lo_y), iy1 = fminf(a.hi_y, b.hi_y);
  if (iy1 <= iy0) return false;
  float inter = (ix1 - ix0) * (iy1 - iy0);
  if (inter <= 0) return false;
  float area_a = (a.hi_x - a.lo_x) * (a.hi_y - a.lo_y), area_b = (b.hi_x - b.lo_x) * (b.hi_y - b.lo_y);
  float uni = area_a + area_b - inter;
  if (area_a <= 0 || area_b <= 0 || uni <= 0) return false;
  return inter / uni > iou_threshold;
}

typedef struct {
  const tcc_tensor_t *scores;
  int64_t base;
} nms_ctx_t;

/* Higher score first; equal scores by lower box index. */
static int nms_cmp(void *ctx, int64_t a, int64_t b) {
  const nms_ctx_t *c = ctx;
  double x = tcc_tensor_get_float(c->scores, c->base + a), y = tcc_tensor_get_float(c->scores, c->base + b);
  if (x != y) return x > y ? -1 : 1;
  return (a > b) - (a < b);
}

/* selected_indices [num, 3] of (batch, class, box), per batch and class in order of selection. */
tcc_status_t tcc_host_non_max_suppression(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                          tcc_tensor_t **out) {
  TCC_RETURN_IF_ERROR(need_inputs(in, 2));
  const tcc_tensor_t *boxes = in[0], *scores = in[1];
  const tcc_tensor_t *max_t = node->num_inputs > 2 ? in[2] : NULL, *iou_t = node->num_inputs > 3 ? in[3] : NULL;
  const tcc_tensor_t *score_t = node->num_inputs > 4 ? in[4] : NULL;
  if (!tcc_dtype_is_float(boxes->dtype) || !tcc_dtype_is_float(scores->dtype))
    return tcc_status_make(TCC_UNSUPPORTED, "boxes and scores must be floating point");
  if (boxes->rank != 3 || scores->rank != 3 || boxes->dims[2] != 4 || boxes->dims[0] != scores->dims[0] ||
      boxes->dims[1] != scores->dims[2])
    return tcc_status_make(TCC_INVALID_ARGUMENT, "boxes must be [B, N, 4] and scores [B, C, N]");
  int64_t center = tcc_node_attr_int(node, "center_point_box", 0);
  if (center != 0 && center != 1)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "center_point_box must be 0 or 1, got %lld", (long long)center);
  int64_t max_out = max_t && max_t->numel ? tcc_tensor_get_int(max_t, 0) : 0;
  if (max_out < 0) max_out = 0;
  float iou = iou_t && iou_t->numel ? (float)tcc_tensor_get_float(iou_t, 0) : 0.0f;
  bool has_score = score_t && score_t->numel;
  float score_threshold = has_score ? (float)tcc_tensor_get_float(score_t, 0) : 0.0f;
  int64_t nb = boxes->dims[0], nc = scores->dims[1], n = boxes->dims[1];
  int64_t per_class = max_out < n ? max_out : n;
  int64_t *cand = tcc_host_scratch(m, n, sizeof *cand), *chosen = tcc_host_scratch(m, per_class, sizeof *chosen);
  int64_t *result = tcc_host_scratch(m, nb * nc * per_class * 3, sizeof *result);
  if (!cand || !chosen || !result) return tcc_status_oom();
  int64_t total = 0;
  for (int64_t b = 0; b < nb; b++)
    for (int64_t c = 0; c < nc && per_class > 0; c++) {
      nms_ctx_t ctx = {scores, (b * nc + c) * n};
      int64_t nc_cand = 0;
      for (int64_t i = 0; i < n; i++)
        if (!has_score || (float)tcc_tensor_get_float(scores, ctx.base + i) > score_threshold) cand[nc_cand++] = i;
      if (!tcc_host_sort(cand, nc_cand, nms_cmp, &ctx)) return tcc_status_oom();
      int64_t kept = 0;
      for (int64_t j = 0; j < nc_cand && kept < per_class; j++) {
        box_t a = read_box(boxes, (b * n + cand[j]) * 4, center);
        bool keep = true;
        for (int64_t s = 0; s < kept && keep; s++)
          keep = !suppresses(a, read_box(boxes, (b * n + chosen[s]) * 4, center), iou);
        if (!keep) continue;
        chosen[kept++] = cand[j];
        result[total * 3] = b, result[total * 3 + 1] = c, result[total * 3 + 2] = cand[j];
        total++;
      }
    }
  int64_t dims[2] = {total, 3};
  TCC_RETURN_IF_ERROR(tcc_host_output(node, m, out, 0, TCC_DTYPE_I64, 2, dims));
  if (out[0] && total) memcpy((void *)out[0]->data, result, (size_t)total * 3 * sizeof *result);
  return NULL;
}
