/* Compute definitions: resampling and geometry — resize, grid_sample, affine_grid, roi_align, max_unpool,
 * col2im, deform_conv. Sample positions are computed per output element in floating point; interpolation
 * is a nest of tap loops (one per interpolated axis) accumulating weight products times input values, with
 * every load index clamped into the input so that padding and out-of-range taps never read outside it.
 * Numerics follow the ONNX reference implementation: Resize positions and weights in f64, GridSample
 * positions in f32. */
#include <math.h>
#include <string.h>

#include "ir/compute_defs.h"
#include "ir/infer.h"

/* ---- indices and sizes ---------------------------------------------------------------------------- */

/* An i64 index clamped into [0, n). */
static const tcc_kexpr_t *clamp_index(tcc_kernel_t *k, const tcc_kexpr_t *i, const tcc_kexpr_t *n) {
  return kbin(k, TCC_KOP_MAX, kbin(k, TCC_KOP_MIN, i, ksub(k, n, kint(k, 1))), kint(k, 0));
}
/* An i64 dim as a value of float type dt. */
static const tcc_kexpr_t *kfdim(tcc_kernel_t *k, tcc_dtype_t dt, const tcc_dim_t *d) {
  return kcast(k, dt, kdim(k, d));
}

/* ---- attributes ----------------------------------------------------------------------------------- */

/* Index of a string attribute's value among names (NULL-terminated), or an unsupported status. */
static tcc_status_t choice(const tcc_node_t *node, const char *attr, const char *def, const char *const *names,
                           int *out) {
  const char *v = tcc_node_attr_string(node, attr, def);
  for (int i = 0; names[i]; i++)
    if (!strcmp(v, names[i])) {
      *out = i;
      return NULL;
    }
  return tcc_infer_unsupported(node, "%s '%s' is not supported", attr, v);
}

/* Whether optional input i is present with at least one element (opset 11-12 pass empty tensors). */
static bool input_given(const tcc_node_t *node, int i) {
  const tcc_value_t *v = i < node->num_inputs ? node->inputs[i] : NULL;
  if (!v || v->type.kind != TCC_TYPE_TENSOR) return false;
  for (int d = 0; d < v->type.rank; d++)
    if (tcc_dim_is_const(v->type.dims[d]) && tcc_dim_value(v->type.dims[d]) == 0) return false;
  return true;
}

/* ---- shared interpolation pieces ------------------------------------------------------------------ */

/* The cubic convolution kernel of Keys with coefficient a at distance d >= 0 (type of d). */
static const tcc_kexpr_t *cubic_weight(tcc_kernel_t *k, const tcc_kexpr_t *d, double a) {
  tcc_dtype_t dt = d->dtype;
  const tcc_kexpr_t *near = kadd(k, kmul(k, kmul(k, ksub(k, kmul(k, kc(k, dt, a + 2), d), kc(k, dt, a + 3)), d), d),
                                 kc(k, dt, 1)); /* ((a+2)d - (a+3)) d^2 + 1 */
  const tcc_kexpr_t *far = kadd(k, kmul(k, ksub(k, kmul(k, kc(k, dt, a), d), kc(k, dt, 5 * a)), d), kc(k, dt, 8 * a));
  far = ksub(k, kmul(k, far, d), kc(k, dt, 4 * a)); /* ((a d - 5a) d + 8a) d - 4a */
  return ksel(k, kbin(k, TCC_KOP_LE, d, kc(k, dt, 1)), near,
              ksel(k, kbin(k, TCC_KOP_LT, d, kc(k, dt, 2)), far, kc(k, dt, 0)));
}

/* x reflected by the nearer border, repeatedly, into [lo, hi] (ONNX GridSample); lo when the range is empty. */
static const tcc_kexpr_t *reflect(tcc_kernel_t *k, const tcc_kexpr_t *x, const tcc_kexpr_t *lo,
                                  const tcc_kexpr_t *hi) {
  tcc_dtype_t dt = x->dtype;
  const tcc_kexpr_t *rng = ksub(k, hi, lo), *two = kc(k, dt, 2);
  const tcc_kexpr_t *v[2];
  for (int side = 0; side < 2; side++) {
    const tcc_kexpr_t *dx = side ? ksub(k, x, hi) : ksub(k, lo, x);
    const tcc_kexpr_t *n = kun(k, TCC_KOP_FLOOR, kdiv(k, dx, rng));
    const tcc_kexpr_t *r = ksub(k, dx, kmul(k, n, rng));
    const tcc_kexpr_t *even = kbin(k, TCC_KOP_EQ, ksub(k, n, kmul(k, two, kun(k, TCC_KOP_FLOOR, kdiv(k, n, two)))),
                                   kc(k, dt, 0));
    const tcc_kexpr_t *from_lo = kadd(k, lo, r), *from_hi = ksub(k, hi, r);
    v[side] = side ? ksel(k, even, from_hi, from_lo) : ksel(k, even, from_lo, from_hi);
  }
  const tcc_kexpr_t *res = ksel(k, kbin(k, TCC_KOP_LT, x, lo), v[0], ksel(k, kbin(k, TCC_KOP_GT, x, hi), v[1], x));
  return ksel(k, kbin(k, TCC_KOP_LE, rng, kc(k, dt, 0)), lo, res);
}

/* ---- resize --------------------------------------------------------------------------------------- */

enum { RS_NEAREST, RS_LINEAR, RS_CUBIC };
enum { CT_HALF_PIXEL, CT_HALF_PIXEL_SYM, CT_PYTORCH, CT_ALIGN, CT_ASYM, CT_TF_CROP };
enum { NM_ROUND_FLOOR, NM_ROUND_CEIL, NM_FLOOR, NM_CEIL };

/* One interpolated axis of a resize, for the current output element: the interpolation window starts at
 * base + start (taps of i64 indices), ratio in (0, 1] is the position's distance past base. */
typedef struct {
  int dim;
  const tcc_kexpr_t *scale;          /* f64 */
  const tcc_kexpr_t *pos;            /* x_original, f64 */
  const tcc_kexpr_t *base, *ratio;   /* f64 */
  const tcc_kexpr_t *fscale;         /* filter scale: min(scale, 1) with antialias, else 1 (f64) */
  const tcc_kexpr_t *start, *ntaps;  /* i64 */
  const tcc_kexpr_t *norm;           /* sum of the weights (f64), NULL when 1 */
} rs_axis_t;

/* The weight of tap t (i64) of axis a, before normalization; zero outside the input with exclude_outside. */
static const tcc_kexpr_t *rs_weight(tcc_kernel_t *k, const rs_axis_t *a, const tcc_kexpr_t *t, int mode, double cubic_a,
                                    bool exclude, const tcc_kexpr_t *in_size) {
  const tcc_kexpr_t *off = kadd(k, a->start, t);
  const tcc_kexpr_t *d = kun(k, TCC_KOP_ABS, ksub(k, kcast(k, TCC_DTYPE_F64, off), a->ratio));
  if (a->fscale) d = kmul(k, d, a->fscale);
  const tcc_kexpr_t *w = mode == RS_LINEAR
                             ? kbin(k, TCC_KOP_MAX, ksub(k, kc(k, TCC_DTYPE_F64, 1), d), kc(k, TCC_DTYPE_F64, 0))
                             : cubic_weight(k, d, cubic_a);
  if (exclude) {
    const tcc_kexpr_t *idx = kadd(k, kcast(k, TCC_DTYPE_I64, a->base), off);
    w = ksel(k, in_range(k, idx, kint(k, 0), in_size), w, kc(k, TCC_DTYPE_F64, 0));
  }
  return w;
}

/* Resize (opset 10-19; Upsample is imported as resize): nearest / linear / cubic over any axes. */
static tcc_status_t resize(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  const tcc_dtype_t f64 = TCC_DTYPE_F64;
  int r = x->rank;
  static const char *const modes[] = {"nearest", "linear", "cubic", "bilinear", "bicubic", NULL};
  static const char *const coords[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                                       "asymmetric", "tf_crop_and_resize", NULL};
  static const char *const nearest_modes[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil", NULL};
  static const char *const policies[] = {"stretch", "not_larger", "not_smaller", NULL};
  int mode, ct, nm, policy;
  TCC_RETURN_IF_ERROR(choice(node, "mode", "nearest", modes, &mode));
  if (mode == 3) mode = RS_LINEAR;
  if (mode == 4) mode = RS_CUBIC;
  /* Resize-10 had neither attribute: asymmetric positions, nearest flooring when upsampling and rounding up
   * when downsampling (as onnxruntime) */
  bool v10 = node->opset > 0 && node->opset < 11 && node->op_type && !strcmp(node->op_type, "Resize");
  TCC_RETURN_IF_ERROR(choice(node, "coordinate_transformation_mode", v10 ? "asymmetric" : "half_pixel", coords, &ct));
  TCC_RETURN_IF_ERROR(choice(node, "nearest_mode", "round_prefer_floor", nearest_modes, &nm));
  v10 = v10 && !tcc_node_attr(node, "nearest_mode");
  TCC_RETURN_IF_ERROR(choice(node, "keep_aspect_ratio_policy", "stretch", policies, &policy));
  if (mode != RS_NEAREST) TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, true));
  bool antialias = mode != RS_NEAREST && tcc_node_attr_int(node, "antialias", 0) != 0;
  bool exclude = mode != RS_NEAREST && tcc_node_attr_int(node, "exclude_outside", 0) != 0;
  double cubic_a = tcc_node_attr_float(node, "cubic_coeff_a", -0.75);
  double extrapolation = tcc_node_attr_float(node, "extrapolation_value", 0.0);

  /* axes */
  const int64_t *axes_attr = NULL;
  int64_t naxes = r;
  bool has_axes = tcc_node_attr_ints(node, "axes", &axes_attr, &naxes);
  if (!has_axes) naxes = r;
  int *axes = tcc_module_alloc(k->module, (size_t)(r + 1) * sizeof *axes);
  const tcc_kexpr_t **scale = exprs(k, r);
  bool *active = tcc_module_alloc(k->module, (size_t)r + 1);
  double *roi = tcc_module_alloc(k->module, (size_t)(2 * r + 1) * sizeof *roi);
  if (!axes || !scale || !active || !roi) return tcc_status_oom();
  if (naxes > r) return tcc_infer_error(node, "'axes' has %lld values for rank %d", (long long)naxes, r);
  for (int i = 0; i < naxes; i++) {
    if (has_axes) TCC_RETURN_IF_ERROR(tcc_infer_axis(node, axes_attr[i], r, &axes[i]));
    else axes[i] = i;
  }
  for (int d = 0; d < r; d++) active[d] = false, roi[d] = 0, roi[r + d] = 1;

  /* scales per axis: constants from `scales`, or output / input sizes */
  bool has_scales = input_given(node, 2), has_sizes = input_given(node, 3);
  if (has_scales) {
    const tcc_tensor_t *t = node->inputs[2]->constant;
    if (!t) return tcc_infer_unsupported(node, "'scales' must be a constant");
    if (t->numel != naxes) return tcc_infer_error(node, "'scales' has %lld values for %lld axes", (long long)t->numel,
                                                  (long long)naxes);
    for (int i = 0; i < naxes; i++) {
      double s = tcc_tensor_get_float(t, i);
      if (!(s > 0)) return tcc_infer_error(node, "scales[%d] = %g must be positive", i, s);
      if (s != 1.0) scale[axes[i]] = kc(k, f64, s), active[axes[i]] = true;
    }
  } else if (has_sizes) {
    if (policy == 0) {
      for (int i = 0; i < naxes; i++) {
        int d = axes[i];
        if (y->dims[d] == x->dims[d]) continue;
        scale[d] = kdiv(k, kfdim(k, f64, y->dims[d]), kfdim(k, f64, x->dims[d]));
        active[d] = true;
      }
    } else { /* one scale for every axis: the smallest (not_larger) or largest (not_smaller) ratio */
      const int64_t *sizes;
      int64_t n;
      if (!tcc_value_const_ints(node->inputs[3], &sizes, &n))
        return tcc_infer_unsupported(node, "'sizes' must be a constant with keep_aspect_ratio_policy");
      if (n != naxes)
        return tcc_infer_error(node, "'sizes' has %lld values for %lld axes", (long long)n, (long long)naxes);
      const tcc_kexpr_t *s = NULL;
      for (int i = 0; i < naxes; i++) {
        const tcc_kexpr_t *ratio = kdiv(k, kc(k, f64, (double)sizes[i]), kfdim(k, f64, x->dims[axes[i]]));
        s = !s ? ratio : kbin(k, policy == 1 ? TCC_KOP_MIN : TCC_KOP_MAX, s, ratio);
      }
      for (int i = 0; i < naxes; i++) scale[axes[i]] = s, active[axes[i]] = true;
    }
  } else {
    return tcc_infer_error(node, "one of 'scales' and 'sizes' must be given");
  }
  if (ct == CT_TF_CROP) {
    const tcc_tensor_t *t = input_given(node, 1) ? node->inputs[1]->constant : NULL;
    if (!t) return tcc_infer_unsupported(node, "'roi' must be a constant with tf_crop_and_resize");
    int64_t nroi = has_axes ? naxes : r;
    if (t->numel != 2 * nroi)
      return tcc_infer_error(node, "'roi' has %lld values, expected %lld", (long long)t->numel, (long long)(2 * nroi));
    for (int i = 0; i < nroi; i++) {
      int d = has_axes ? axes[i] : i;
      roi[d] = tcc_tensor_get_float(t, i), roi[r + d] = tcc_tensor_get_float(t, nroi + i);
      if (roi[d] != 0 || roi[r + d] != 1) active[d] = true;
    }
  }

  const tcc_kexpr_t **o;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  rs_axis_t *ax = tcc_module_alloc(k->module, (size_t)(r + 1) * sizeof *ax);
  if (!body || !ax) return tcc_status_oom();
  int nact = 0;
  const tcc_kexpr_t *outside = NULL; /* tf_crop_and_resize: some position is outside the input */
  const tcc_kexpr_t *one = kc(k, f64, 1), *half = kc(k, f64, 0.5), *zero = kc(k, f64, 0);
  char name[24];
  for (int d = 0; d < r; d++) {
    if (!active[d]) continue;
    rs_axis_t *a = &ax[nact++];
    memset(a, 0, sizeof *a);
    a->dim = d;
    a->scale = scale[d] ? scale[d] : one;
    const tcc_kexpr_t *xo = kcast(k, f64, o[d]), *len = kfdim(k, f64, x->dims[d]);
    const tcc_kexpr_t *out_len = kmul(k, a->scale, len); /* the reference's (fractional) output length */
    const tcc_kexpr_t *centered = ksub(k, kdiv(k, kadd(k, xo, half), a->scale), half), *pos;
    switch (ct) {
      case CT_HALF_PIXEL: pos = centered; break;
      case CT_HALF_PIXEL_SYM: {
        const tcc_kexpr_t *adjust = kdiv(k, kfdim(k, f64, y->dims[d]), out_len);
        pos = kadd(k, kmul(k, kdiv(k, len, kc(k, f64, 2)), ksub(k, one, adjust)), centered);
        break;
      }
      case CT_PYTORCH: pos = ksel(k, kbin(k, TCC_KOP_EQ, out_len, one), kc(k, f64, -0.5), centered); break;
      case CT_ALIGN:
        pos = ksel(k, kbin(k, TCC_KOP_EQ, out_len, one), zero,
                   kdiv(k, kmul(k, xo, ksub(k, len, one)), ksub(k, out_len, one)));
        break;
      case CT_ASYM: pos = kdiv(k, xo, a->scale); break;
      default: { /* tf_crop_and_resize: roi differences and starts in f32 as the reference computes them */
        const tcc_kexpr_t *lm1 = ksub(k, len, one);
        const tcc_kexpr_t *span = kc(k, f64, (double)((float)roi[r + d] - (float)roi[d]));
        const tcc_kexpr_t *first = kcast(k, f64, kmul(k, kc(k, TCC_DTYPE_F32, roi[d]), kcast(k, TCC_DTYPE_F32, lm1)));
        pos = ksel(k, kbin(k, TCC_KOP_EQ, out_len, one), kdiv(k, kmul(k, span, lm1), kc(k, f64, 2)),
                   kdiv(k, kmul(k, kmul(k, xo, span), lm1), ksub(k, out_len, one)));
        pos = kadd(k, pos, first);
        break;
      }
    }
    snprintf(name, sizeof name, "pos%d", d);
    a->pos = let(k, body, name, pos);
    if (!a->pos) return tcc_status_oom();
    if (ct == CT_TF_CROP)
      outside = kor(k, outside, kor(k, kbin(k, TCC_KOP_LT, a->pos, zero),
                                    kbin(k, TCC_KOP_GT, a->pos, ksub(k, len, one))));
    const tcc_kexpr_t *fl = kun(k, TCC_KOP_FLOOR, a->pos);
    a->base = ksel(k, kbin(k, TCC_KOP_EQ, fl, a->pos), ksub(k, fl, one), fl);
    a->ratio = ksub(k, a->pos, a->base);
    if (mode == RS_NEAREST) continue;
    if (antialias) { /* window widened by 1 / scale when downsampling */
      a->fscale = kbin(k, TCC_KOP_MIN, a->scale, one);
      const tcc_kexpr_t *support = kc(k, f64, mode == RS_LINEAR ? 1 : 2);
      const tcc_kexpr_t *st = kadd(k, kun(k, TCC_KOP_FLOOR, kdiv(k, kun(k, TCC_KOP_NEG, support), a->fscale)), one);
      snprintf(name, sizeof name, "start%d", d);
      a->start = let(k, body, name, kcast(k, TCC_DTYPE_I64, st));
      if (!a->start) return tcc_status_oom();
      a->ntaps = ksub(k, kint(k, 2), kmul(k, kint(k, 2), a->start));
    } else {
      a->start = kint(k, mode == RS_LINEAR ? 0 : -1);
      a->ntaps = kint(k, mode == RS_LINEAR ? 2 : 4);
    }
    if (antialias || exclude) { /* weights are normalized to sum 1 */
      snprintf(name, sizeof name, "norm%d", d);
      tcc_kbuf_t *sum = reg_new(k, body, name, zero);
      const tcc_kexpr_t *t;
      snprintf(name, sizeof name, "n%d", d);
      tcc_kblock_t *nb = loop(k, body, name, a->ntaps, &t);
      if (!sum || !nb) return tcc_status_oom();
      reg_update(k, nb, sum, TCC_KOP_ADD, rs_weight(k, a, t, mode, cubic_a, exclude, kdim(k, x->dims[d])));
      a->norm = reg_get(k, sum);
    }
  }

  const tcc_kexpr_t **xi = copy_index(k, r, o);
  if (!xi) return tcc_status_oom();
  const tcc_kexpr_t *v;
  if (mode == RS_NEAREST) {
    for (int i = 0; i < nact; i++) {
      const rs_axis_t *a = &ax[i];
      const tcc_kexpr_t *up = kadd(k, a->base, one), *pick;
      switch (nm) {
        case NM_ROUND_FLOOR: pick = ksel(k, kbin(k, TCC_KOP_LE, a->ratio, half), a->base, up); break;
        case NM_ROUND_CEIL: pick = ksel(k, kbin(k, TCC_KOP_LT, a->ratio, half), a->base, up); break;
        case NM_FLOOR: pick = kun(k, TCC_KOP_FLOOR, a->pos); break;
        default: pick = kun(k, TCC_KOP_CEIL, a->pos); break;
      }
      if (v10)
        pick = ksel(k, kbin(k, TCC_KOP_LT, a->scale, one), kun(k, TCC_KOP_CEIL, a->pos), kun(k, TCC_KOP_FLOOR, a->pos));
      xi[a->dim] = clamp_index(k, kcast(k, TCC_DTYPE_I64, pick), kdim(k, x->dims[a->dim]));
    }
    v = tcc_k_load(k, x, xi);
    if (outside) v = ksel(k, outside, kc(k, y->dtype, extrapolation), v);
    tcc_k_store(k, body, y, o, v);
    return NULL;
  }
  tcc_kbuf_t *acc = reg_new(k, body, "acc", zero);
  tcc_kblock_t *taps = body;
  const tcc_kexpr_t *w = NULL;
  for (int i = 0; i < nact; i++) {
    const rs_axis_t *a = &ax[i];
    const tcc_kexpr_t *t;
    snprintf(name, sizeof name, "t%d", a->dim);
    taps = loop(k, taps, name, a->ntaps, &t);
    if (!taps) return tcc_status_oom();
    const tcc_kexpr_t *wa = rs_weight(k, a, t, mode, cubic_a, exclude, kdim(k, x->dims[a->dim]));
    if (a->norm) wa = kdiv(k, wa, a->norm);
    w = w ? kmul(k, w, wa) : wa;
    xi[a->dim] = clamp_index(k, kadd(k, kcast(k, TCC_DTYPE_I64, a->base), kadd(k, a->start, t)),
                             kdim(k, x->dims[a->dim]));
  }
  v = kload(k, x, xi, f64);
  reg_update(k, taps, acc, TCC_KOP_ADD, w ? kmul(k, w, v) : v);
  v = reg_get(k, acc);
  if (outside) v = ksel(k, outside, kc(k, f64, extrapolation), v);
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, v));
  return NULL;
}

/* ---- grid_sample ---------------------------------------------------------------------------------- */

enum { GS_LINEAR, GS_NEAREST, GS_CUBIC };
enum { PAD_ZEROS, PAD_BORDER, PAD_REFLECTION };

/* Input value at integer position idx (per spatial dim, i64) of x[n, c] under a padding mode; dt result. */
static const tcc_kexpr_t *gs_pixel(tcc_kernel_t *k, const tcc_kbuf_t *x, const tcc_kexpr_t *n, const tcc_kexpr_t *c,
                                   const tcc_kexpr_t *const *idx, int pad, const tcc_kexpr_t *const *lo,
                                   const tcc_kexpr_t *const *hi, tcc_dtype_t dt) {
  int ns = x->rank - 2;
  const tcc_kexpr_t **xi = exprs(k, x->rank), *inside = NULL;
  if (!xi) return NULL;
  xi[0] = n, xi[1] = c;
  for (int i = 0; i < ns; i++) {
    const tcc_kexpr_t *size = kdim(k, x->dims[2 + i]), *p = idx[i];
    if (pad == PAD_ZEROS) inside = kand(k, inside, in_range(k, p, kint(k, 0), size));
    if (pad == PAD_REFLECTION) p = kcast(k, TCC_DTYPE_I64, reflect(k, kcast(k, lo[i]->dtype, p), lo[i], hi[i]));
    xi[2 + i] = clamp_index(k, p, size);
  }
  const tcc_kexpr_t *v = kload(k, x, xi, dt);
  return inside ? ksel(k, inside, v, kc(k, dt, 0)) : v;
}

/* GridSample (opset 16-22): linear / nearest / cubic sampling of x at the grid's normalized positions,
 * any number of spatial dims; the grid's last dim lists coordinates innermost spatial dim first. */
static tcc_status_t grid_sample(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *grid = in[1], *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, false));
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, grid->dtype, false));
  static const char *const modes[] = {"linear", "nearest", "cubic", "bilinear", "bicubic", NULL};
  static const char *const pads[] = {"zeros", "border", "reflection", NULL};
  int mode, pad;
  TCC_RETURN_IF_ERROR(choice(node, "mode", node->opset && node->opset < 20 ? "bilinear" : "linear", modes, &mode));
  if (mode == 3) mode = GS_LINEAR;
  if (mode == 4) mode = GS_CUBIC;
  TCC_RETURN_IF_ERROR(choice(node, "padding_mode", "zeros", pads, &pad));
  bool align = tcc_node_attr_int(node, "align_corners", 0) != 0;
  int ns = x->rank - 2;
  if (ns < 1 || grid->rank != x->rank || y->rank != x->rank)
    return tcc_infer_error(node, "input, grid and output ranks do not agree");
  tcc_dtype_t dt = acc_type(x->dtype), ft = TCC_DTYPE_F32; /* positions are f32 in the reference */
  const tcc_kexpr_t **o;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  const tcc_kexpr_t **gi = exprs(k, grid->rank), **pos = exprs(k, ns), **lo = exprs(k, ns), **hi = exprs(k, ns);
  const tcc_kexpr_t **idx = exprs(k, ns);
  if (!body || !gi || !pos || !lo || !hi || !idx) return tcc_status_oom();
  gi[0] = o[0];
  for (int i = 0; i < ns; i++) gi[1 + i] = o[2 + i];
  const tcc_kexpr_t *one = kc(k, ft, 1), *half = kc(k, ft, 0.5), *zero = kc(k, ft, 0);
  char name[24];
  for (int i = 0; i < ns; i++) {
    const tcc_kexpr_t **g = copy_index(k, grid->rank, gi);
    if (!g) return tcc_status_oom();
    g[grid->rank - 1] = kint(k, ns - 1 - i);
    const tcc_kexpr_t *gv = kload(k, grid, g, ft), *len = kfdim(k, ft, x->dims[2 + i]), *p;
    if (align) p = kmul(k, kdiv(k, kadd(k, gv, one), kc(k, ft, 2)), ksub(k, len, one));
    else p = kdiv(k, ksub(k, kmul(k, kadd(k, gv, one), len), one), kc(k, ft, 2));
    lo[i] = align ? zero : kc(k, ft, -0.5);
    hi[i] = align ? ksub(k, len, one) : ksub(k, len, half);
    if (mode == GS_NEAREST) p = kun(k, TCC_KOP_ROUND_EVEN, p); /* halves to even, in every rank */
    snprintf(name, sizeof name, "g%d", i);
    p = let(k, body, name, p);
    if (!p) return tcc_status_oom();
    const tcc_kexpr_t *outside = kor(k, kbin(k, TCC_KOP_LT, p, lo[i]), kbin(k, TCC_KOP_GT, p, hi[i]));
    if (pad == PAD_BORDER)
      p = ksel(k, outside, kbin(k, TCC_KOP_MAX, kbin(k, TCC_KOP_MIN, p, ksub(k, len, one)), zero), p);
    else if (pad == PAD_REFLECTION)
      p = reflect(k, p, lo[i], hi[i]);
    snprintf(name, sizeof name, "p%d", i);
    pos[i] = let(k, body, name, p);
    if (!pos[i]) return tcc_status_oom();
  }
  if (mode == GS_NEAREST) {
    for (int i = 0; i < ns; i++) idx[i] = kcast(k, TCC_DTYPE_I64, pos[i]);
    const tcc_kexpr_t *v = gs_pixel(k, x, o[0], o[1], idx, pad, lo, hi, dt);
    if (!v) return tcc_status_oom();
    tcc_k_store(k, body, y, o, kcast(k, y->dtype, v));
    return NULL;
  }
  tcc_kbuf_t *acc = reg_new(k, body, "acc", kc(k, dt, 0));
  tcc_kblock_t *taps = body;
  const tcc_kexpr_t *w = NULL;
  for (int i = 0; i < ns; i++) {
    const tcc_kexpr_t *fl = kun(k, TCC_KOP_FLOOR, pos[i]), *t;
    const tcc_kexpr_t *frac = kcast(k, dt, ksub(k, pos[i], fl));
    snprintf(name, sizeof name, "t%d", i);
    taps = loop(k, taps, name, kint(k, mode == GS_LINEAR ? 2 : 4), &t);
    if (!taps) return tcc_status_oom();
    const tcc_kexpr_t *off = mode == GS_LINEAR ? t : ksub(k, t, kint(k, 1)), *wi;
    if (mode == GS_LINEAR) wi = ksel(k, kbin(k, TCC_KOP_EQ, t, kint(k, 0)), ksub(k, kc(k, dt, 1), frac), frac);
    else wi = cubic_weight(k, kun(k, TCC_KOP_ABS, ksub(k, kcast(k, dt, off), frac)), -0.75);
    w = w ? kmul(k, w, wi) : wi;
    idx[i] = kadd(k, kcast(k, TCC_DTYPE_I64, fl), off);
  }
  const tcc_kexpr_t *v = gs_pixel(k, x, o[0], o[1], idx, pad, lo, hi, dt);
  if (!v) return tcc_status_oom();
  reg_update(k, taps, acc, TCC_KOP_ADD, kmul(k, w, v));
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, reg_get(k, acc)));
  return NULL;
}

/* ---- affine_grid ---------------------------------------------------------------------------------- */

/* AffineGrid (opset 20): grid[n, (d,) h, w, :] = theta[n] @ (x_w, y_h, (z_d,) 1) over normalized positions. */
static tcc_status_t affine_grid(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *theta = in[0], *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, theta->dtype, false));
  int ns = y->rank - 2;
  if (ns < 1 || theta->rank != 3) return tcc_infer_error(node, "theta must be (N, n, n + 1) for an n-d grid");
  bool align = tcc_node_attr_int(node, "align_corners", 0) != 0;
  const tcc_dtype_t f64 = TCC_DTYPE_F64;
  const tcc_kexpr_t **o;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank - 1, y->dims, &o);
  const tcc_kexpr_t **base = exprs(k, ns + 1);
  if (!body || !base) return tcc_status_oom();
  for (int j = 0; j < ns; j++) { /* component j runs along spatial dim ns - 1 - j (output dim ns - j) */
    const tcc_dim_t *size = y->dims[ns - j];
    const tcc_kexpr_t *i = kcast(k, f64, o[ns - j]), *len = kfdim(k, f64, size), *v;
    if (align) {
      const tcc_kexpr_t *step = kdiv(k, kc(k, f64, 2), ksub(k, len, kc(k, f64, 1)));
      v = ksel(k, kbin(k, TCC_KOP_LE, len, kc(k, f64, 1)), kc(k, f64, -1), kadd(k, kc(k, f64, -1), kmul(k, i, step)));
    } else {
      const tcc_kexpr_t *step = kdiv(k, kc(k, f64, 2), len);
      v = kadd(k, kadd(k, kc(k, f64, -1), kdiv(k, step, kc(k, f64, 2))), kmul(k, i, step));
    }
    base[j] = v;
  }
  base[ns] = kc(k, f64, 1);
  const tcc_kexpr_t *m;
  tcc_kblock_t *inner = loop(k, body, "m", kdim(k, y->dims[ns + 1]), &m);
  const tcc_kexpr_t **yi = exprs(k, y->rank);
  if (!inner || !yi) return tcc_status_oom();
  memcpy(yi, o, (size_t)(ns + 1) * sizeof *yi);
  yi[ns + 1] = m;
  const tcc_kexpr_t *sum = NULL;
  for (int j = 0; j <= ns; j++) {
    const tcc_kexpr_t *ti[] = {o[0], m, kint(k, j)};
    const tcc_kexpr_t *term = kmul(k, kload(k, theta, ti, f64), base[j]);
    sum = sum ? kadd(k, sum, term) : term;
  }
  tcc_k_store(k, inner, y, yi, kcast(k, y->dtype, sum));
  return NULL;
}

/* ---- roi_align ------------------------------------------------------------------------------------ */

/* Whether the sample grids of constant rois stay near the feature map: each bin takes gh x gw samples
 * (sampling_ratio, or ceil(bin size) per axis), and outside the map they only add zeros. A region whose
 * ph*gh x pw*gw samples exceed 64 (H + 2)(W + 2) (a region or sampling_ratio far beyond the map, such as
 * the coordinates 1e12 of garbage rois) is refused with a status instead of evaluated for hours. */
static tcc_status_t check_roi_grids(const tcc_node_t *node, const tcc_kbuf_t *x, const tcc_kbuf_t *y, int64_t sampling,
                                    double spatial_scale, double off, bool half_pixel) {
  const tcc_tensor_t *rois = node->inputs[1] ? node->inputs[1]->constant : NULL;
  if (!rois || rois->rank != 2 || rois->dims[1] != 4) return NULL;
  double limit = 64, samples[2];
  for (int i = 0; i < 2; i++) {
    if (!tcc_dim_is_const(x->dims[2 + i]) || !tcc_dim_is_const(y->dims[2 + i])) return NULL;
    limit *= (double)tcc_dim_value(x->dims[2 + i]) + 2;
  }
  for (int64_t r = 0; r < rois->dims[0]; r++) {
    for (int i = 0; i < 2; i++) {
      double pooled = (double)tcc_dim_value(y->dims[2 + i]);
      double lo = tcc_tensor_get_float(rois, r * 4 + 1 - i) * spatial_scale - off;
      double size = tcc_tensor_get_float(rois, r * 4 + 3 - i) * spatial_scale - off - lo;
      if (!half_pixel) size = fmax(size, 1);
      double g = sampling > 0 ? (double)sampling : ceil(size / pooled);
      samples[i] = pooled * fmax(g, 1); /* the outer loop runs even when the inner one is empty */
    }
    if (samples[0] * samples[1] > limit)
      return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (%s): region %lld takes %g x %g samples, far beyond the "
                             "%lld x %lld feature map (the evaluator's limit is 64 (H + 2)(W + 2))", node->name,
                             node->op_type, (long long)r, samples[0], samples[1],
                             (long long)tcc_dim_value(x->dims[2]), (long long)tcc_dim_value(x->dims[3]));
  }
  return NULL;
}

/* RoiAlign (opset 10-22): average or max of bilinear samples over each bin of each region. Constant rois
 * whose sample grids reach far beyond the feature map are refused (check_roi_grids). */
static tcc_status_t roi_align(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                              tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *rois = in[1], *bidx = in[2], *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, false));
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, rois->dtype, false));
  if (x->rank != 4 || rois->rank != 2 || bidx->rank != 1 || y->rank != 4)
    return tcc_infer_error(node, "RoiAlign needs X (N, C, H, W), rois (R, 4) and batch_indices (R)");
  static const char *const modes[] = {"avg", "max", NULL};
  static const char *const coords[] = {"half_pixel", "output_half_pixel", NULL};
  int mode, ct;
  TCC_RETURN_IF_ERROR(choice(node, "mode", "avg", modes, &mode));
  /* opset 10 had no attribute and behaved as output_half_pixel */
  TCC_RETURN_IF_ERROR(choice(node, "coordinate_transformation_mode",
                             node->opset && node->opset < 16 ? "output_half_pixel" : "half_pixel", coords, &ct));
  bool half_pixel = ct == 0;
  int64_t sampling = tcc_node_attr_int(node, "sampling_ratio", 0);
  double spatial_scale = tcc_node_attr_float(node, "spatial_scale", 1.0);
  TCC_RETURN_IF_ERROR(check_roi_grids(node, x, y, sampling, spatial_scale, half_pixel ? 0.5 : 0.0, half_pixel));
  tcc_dtype_t dt = acc_type(x->dtype);
  const tcc_kexpr_t **o;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), 4, y->dims, &o);
  if (!body) return tcc_status_oom();
  const tcc_kexpr_t *b = clamp_index(k, kload(k, bidx, &o[0], TCC_DTYPE_I64), kdim(k, x->dims[0]));
  b = let(k, body, "batch", b);
  const tcc_kexpr_t *start[2], *bin[2], *grid[2]; /* h, w */
  char name[24];
  for (int i = 0; i < 2; i++) {
    const tcc_kexpr_t *lo_i[] = {o[0], kint(k, 1 - i)}, *hi_i[] = {o[0], kint(k, 3 - i)};
    const tcc_kexpr_t *off = kc(k, dt, half_pixel ? 0.5 : 0.0), *ss = kc(k, dt, spatial_scale);
    const tcc_kexpr_t *lo = ksub(k, kmul(k, kload(k, rois, lo_i, dt), ss), off);
    const tcc_kexpr_t *hi = ksub(k, kmul(k, kload(k, rois, hi_i, dt), ss), off);
    const tcc_kexpr_t *size = ksub(k, hi, lo);
    if (!half_pixel) size = kbin(k, TCC_KOP_MAX, size, kc(k, dt, 1)); /* malformed regions become 1x1 */
    const tcc_kexpr_t *pooled = kfdim(k, dt, y->dims[2 + i]);
    snprintf(name, sizeof name, "start%d", i);
    start[i] = let(k, body, name, lo);
    snprintf(name, sizeof name, "bin%d", i);
    bin[i] = let(k, body, name, kdiv(k, size, pooled));
    const tcc_kexpr_t *g = sampling > 0 ? kint(k, sampling)
                                        : kcast(k, TCC_DTYPE_I64, kun(k, TCC_KOP_CEIL, kdiv(k, size, pooled)));
    snprintf(name, sizeof name, "grid%d", i);
    grid[i] = let(k, body, name, g);
    if (!start[i] || !bin[i] || !grid[i]) return tcc_status_oom();
  }
  const tcc_kexpr_t *count = kcast(k, dt, kbin(k, TCC_KOP_MAX, kmul(k, grid[0], grid[1]), kint(k, 1)));
  tcc_kbuf_t *acc = reg_new(k, body, "acc", kc(k, dt, 0));
  const tcc_kexpr_t *iy, *ix;
  tcc_kblock_t *inner = loop(k, loop(k, body, "iy", grid[0], &iy), "ix", grid[1], &ix);
  if (!acc || !inner) return tcc_status_oom();
  const tcc_kexpr_t *s[2] = {iy, ix}, *low[2], *high[2], *l[2], *oob = NULL;
  for (int i = 0; i < 2; i++) {
    const tcc_kexpr_t *len = kdim(k, x->dims[2 + i]), *flen = kfdim(k, dt, x->dims[2 + i]);
    const tcc_kexpr_t *at = kmul(k, kadd(k, kcast(k, dt, s[i]), kc(k, dt, 0.5)), bin[i]);
    const tcc_kexpr_t *sub = kdiv(k, at, kcast(k, dt, grid[i]));
    const tcc_kexpr_t *p = kadd(k, kadd(k, start[i], kmul(k, kcast(k, dt, o[2 + i]), bin[i])), sub);
    snprintf(name, sizeof name, "pos%d", i);
    p = let(k, inner, name, p);
    if (!p) return tcc_status_oom();
    oob = kor(k, oob, kor(k, kbin(k, TCC_KOP_LT, p, kc(k, dt, -1)), kbin(k, TCC_KOP_GT, p, flen)));
    p = kbin(k, TCC_KOP_MAX, p, kc(k, dt, 0));
    const tcc_kexpr_t *lw = kcast(k, TCC_DTYPE_I64, p), *last = ksub(k, len, kint(k, 1));
    const tcc_kexpr_t *at_end = kbin(k, TCC_KOP_GE, lw, last);
    low[i] = ksel(k, at_end, last, lw);
    high[i] = ksel(k, at_end, last, kadd(k, lw, kint(k, 1)));
    p = ksel(k, at_end, kcast(k, dt, last), p);
    l[i] = ksub(k, p, kcast(k, dt, low[i]));
  }
  /* corner weights: (1-ly)(1-lx), (1-ly)lx, ly(1-lx), ly lx */
  const tcc_kexpr_t *one = kc(k, dt, 1), *v = NULL;
  for (int c = 0; c < 4; c++) {
    const tcc_kexpr_t *wy = c & 2 ? l[0] : ksub(k, one, l[0]), *wx = c & 1 ? l[1] : ksub(k, one, l[1]);
    const tcc_kexpr_t *xi[] = {b, o[1], c & 2 ? high[0] : low[0], c & 1 ? high[1] : low[1]};
    const tcc_kexpr_t *term = kmul(k, kmul(k, wy, wx), kload(k, x, xi, dt));
    v = !v ? term : mode == 0 ? kadd(k, v, term) : kbin(k, TCC_KOP_MAX, v, term);
  }
  v = ksel(k, oob, kc(k, dt, 0), v);
  const tcc_kexpr_t *prev = reg_get(k, acc);
  if (mode == 0) {
    reg_set(k, inner, acc, kadd(k, prev, v));
    tcc_k_store(k, body, y, o, kcast(k, y->dtype, kdiv(k, reg_get(k, acc), count)));
  } else {
    const tcc_kexpr_t *first = kand(k, kbin(k, TCC_KOP_EQ, iy, kint(k, 0)), kbin(k, TCC_KOP_EQ, ix, kint(k, 0)));
    reg_set(k, inner, acc, ksel(k, first, v, kbin(k, TCC_KOP_MAX, prev, v)));
    tcc_k_store(k, body, y, o, kcast(k, y->dtype, reg_get(k, acc)));
  }
  return NULL;
}

/* ---- max_unpool ----------------------------------------------------------------------------------- */

/* MaxUnpool (opset 9-22): zeros, then x scattered to the flat positions `indices` give in the default output
 * shape ((in - 1) * stride - pads + kernel), which sits at the origin of a larger output_shape. */
static tcc_status_t max_unpool(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                               tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *ind = in[1], *y = out[0];
  int r = x->rank, ns = r - 2;
  if (ns < 1 || y->rank != r || ind->rank != r)
    return tcc_infer_error(node, "input, indices and output ranks do not agree");
  const int64_t *ks, *strides, *pads;
  if (!tcc_node_attr_ints(node, "kernel_shape", &ks, &(int64_t){0}))
    return tcc_infer_error(node, "attribute 'kernel_shape' is required");
  TCC_RETURN_IF_ERROR(tcc_compute_ints_attr(k, node, "kernel_shape", ns, 1, &ks));
  TCC_RETURN_IF_ERROR(tcc_compute_ints_attr(k, node, "strides", ns, 1, &strides));
  TCC_RETURN_IF_ERROR(tcc_compute_ints_attr(k, node, "pads", 2 * ns, 0, &pads));
  const tcc_kexpr_t **o;
  tcc_kblock_t *zero = tcc_compute_loops(k, tcc_kernel_body(k), r, y->dims, &o);
  if (!zero) return tcc_status_oom();
  tcc_k_store(k, zero, y, o, kc(k, y->dtype, 0));
  const tcc_kexpr_t **full = exprs(k, r), **yi = exprs(k, r), **xi;
  if (!full || !yi) return tcc_status_oom();
  full[0] = kdim(k, x->dims[0]), full[1] = kdim(k, x->dims[1]);
  for (int i = 0; i < ns; i++)
    full[2 + i] = kadd(k, kmul(k, ksub(k, kdim(k, x->dims[2 + i]), kint(k, 1)), kint(k, strides[i])),
                       kint(k, ks[i] - pads[i] - pads[ns + i]));
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), r, x->dims, &xi);
  if (!body) return tcc_status_oom();
  const tcc_kexpr_t *flat = let(k, body, "flat", kload(k, ind, xi, TCC_DTYPE_I64));
  const tcc_kexpr_t *rest = flat, *ok = kbin(k, TCC_KOP_GE, flat, kint(k, 0));
  for (int d = r - 1; d >= 0; d--) {
    yi[d] = d ? kbin(k, TCC_KOP_FLOORMOD, rest, full[d]) : rest;
    rest = kbin(k, TCC_KOP_FLOORDIV, rest, full[d]);
    ok = kand(k, ok, kbin(k, TCC_KOP_LT, yi[d], kdim(k, y->dims[d])));
  }
  ok = kand(k, ok, kbin(k, TCC_KOP_LT, yi[0], full[0]));
  tcc_kblock_t *then = tcc_k_if(k, body, ok, NULL);
  if (!then) return tcc_status_oom();
  tcc_k_store(k, then, y, yi, tcc_k_load(k, x, xi));
  return NULL;
}

/* ---- col2im --------------------------------------------------------------------------------------- */

/* Col2Im (opset 18): y[n, c, p] = sum over block offsets b of x[n, c * |block| + b, l] for every sliding
 * position l whose block covers p (p = l * stride - pad + b * dilation). */
static tcc_status_t col2im(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, true));
  int ns = y->rank - 2;
  const int64_t *block, *dil, *pads, *strides;
  int64_t nb;
  if (!tcc_value_const_ints(node->inputs[2], &block, &nb))
    return tcc_infer_unsupported(node, "'block_shape' must be a constant");
  if (nb != ns || x->rank != 3) return tcc_infer_error(node, "block_shape and image_shape do not agree");
  TCC_RETURN_IF_ERROR(tcc_compute_ints_attr(k, node, "dilations", ns, 1, &dil));
  TCC_RETURN_IF_ERROR(tcc_compute_ints_attr(k, node, "pads", 2 * ns, 0, &pads));
  TCC_RETURN_IF_ERROR(tcc_compute_ints_attr(k, node, "strides", ns, 1, &strides));
  int64_t bsize = 1;
  for (int i = 0; i < ns; i++) {
    if (block[i] <= 0 || strides[i] <= 0 || dil[i] <= 0)
      return tcc_infer_error(node, "block_shape, strides and dilations must be positive");
    bsize *= block[i];
  }
  tcc_dtype_t dt = acc_type(x->dtype);
  const tcc_kexpr_t **o, **b = exprs(k, ns);
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body || !b) return tcc_status_oom();
  tcc_kbuf_t *acc = reg_new(k, body, "acc", kc(k, dt, 0));
  tcc_kblock_t *inner = body;
  char name[24];
  for (int i = 0; i < ns; i++) {
    snprintf(name, sizeof name, "b%d", i);
    inner = loop(k, inner, name, kint(k, block[i]), &b[i]);
  }
  if (!acc || !inner) return tcc_status_oom();
  const tcc_kexpr_t *ok = NULL, *col = kint(k, 0), *pos = kint(k, 0);
  for (int i = 0; i < ns; i++) {
    const tcc_kexpr_t *size = kdim(k, y->dims[2 + i]);
    const tcc_kexpr_t *nblocks = kadd(k, kint(k, pads[i] + pads[ns + i] - dil[i] * (block[i] - 1) - 1), size);
    nblocks = kadd(k, kbin(k, TCC_KOP_FLOORDIV, nblocks, kint(k, strides[i])), kint(k, 1));
    const tcc_kexpr_t *t = ksub(k, kadd(k, o[2 + i], kint(k, pads[i])), kmul(k, b[i], kint(k, dil[i])));
    const tcc_kexpr_t *l = kbin(k, TCC_KOP_FLOORDIV, t, kint(k, strides[i]));
    ok = kand(k, ok, kbin(k, TCC_KOP_GE, t, kint(k, 0)));
    if (strides[i] > 1)
      ok = kand(k, ok, kbin(k, TCC_KOP_EQ, kbin(k, TCC_KOP_FLOORMOD, t, kint(k, strides[i])), kint(k, 0)));
    ok = kand(k, ok, kbin(k, TCC_KOP_LT, l, nblocks));
    col = kadd(k, kmul(k, col, kint(k, block[i])), b[i]);
    pos = kadd(k, kmul(k, pos, nblocks), l);
  }
  col = kadd(k, kmul(k, o[1], kint(k, bsize)), col);
  tcc_kblock_t *then = tcc_k_if(k, inner, ok, NULL);
  if (!then) return tcc_status_oom();
  const tcc_kexpr_t *xi[] = {o[0], col, pos};
  reg_update(k, then, acc, TCC_KOP_ADD, kload(k, x, xi, dt));
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, reg_get(k, acc)));
  return NULL;
}

/* ---- deform_conv ---------------------------------------------------------------------------------- */

/* DeformConv (opset 19-22): convolution whose kernel taps sample x bilinearly (zero outside) at positions
 * moved by `offset`, each tap scaled by `mask`; groups and offset groups split the input channels. */
static tcc_status_t deform_conv(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *w = in[1], *offset = in[2], *y = out[0];
  const tcc_kbuf_t *bias = node->num_inputs > 3 ? in[3] : NULL, *mask = node->num_inputs > 4 ? in[4] : NULL;
  TCC_RETURN_IF_ERROR(tcc_compute_need_type(node, x->dtype, false));
  int ns = x->rank - 2;
  if (ns < 1 || w->rank != x->rank || offset->rank != x->rank || y->rank != x->rank)
    return tcc_infer_error(node, "X, W, offset and the output must have the same rank");
  int64_t group = tcc_node_attr_int(node, "group", 1), ogroup = tcc_node_attr_int(node, "offset_group", 1);
  if (group < 1 || ogroup < 1) return tcc_infer_error(node, "group and offset_group must be positive");
  const int64_t *strides, *dil, *pads;
  TCC_RETURN_IF_ERROR(tcc_compute_ints_attr(k, node, "strides", ns, 1, &strides));
  TCC_RETURN_IF_ERROR(tcc_compute_ints_attr(k, node, "dilations", ns, 1, &dil));
  TCC_RETURN_IF_ERROR(tcc_compute_ints_attr(k, node, "pads", 2 * ns, 0, &pads));
  /* channel counts, where known at build time: C = group * W's dim 1, offset = offset_group * |kernel| * n,
   * mask = offset_group * |kernel| */
  bool known = tcc_dim_is_const(x->dims[1]) && tcc_dim_is_const(w->dims[0]) && tcc_dim_is_const(w->dims[1]) &&
               tcc_dim_is_const(offset->dims[1]) && (!mask || tcc_dim_is_const(mask->dims[1]));
  int64_t ksize = 1;
  for (int i = 0; i < ns; i++) {
    known = known && tcc_dim_is_const(w->dims[2 + i]);
    if (known) ksize *= tcc_dim_value(w->dims[2 + i]);
  }
  if (known && (tcc_dim_value(x->dims[1]) != group * tcc_dim_value(w->dims[1]) ||
                tcc_dim_value(w->dims[0]) % group || tcc_dim_value(x->dims[1]) % ogroup ||
                tcc_dim_value(offset->dims[1]) != ogroup * ksize * ns ||
                (mask && tcc_dim_value(mask->dims[1]) != ogroup * ksize)))
    return tcc_infer_error(node, "channels of X, W, offset and mask do not match group %lld and offset_group %lld",
                           (long long)group, (long long)ogroup);
  tcc_dtype_t dt = acc_type(x->dtype);
  const tcc_kexpr_t **o, **q = exprs(k, ns);
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body || !q) return tcc_status_oom();
  /* channel bookkeeping: oc's group g, its input channels g * C/group + icg; ic's offset group */
  const tcc_kexpr_t *cpg = kdim(k, w->dims[1]);
  const tcc_kexpr_t *ocpg = kbin(k, TCC_KOP_FLOORDIV, kdim(k, w->dims[0]), kint(k, group));
  const tcc_kexpr_t *cpog = kbin(k, TCC_KOP_FLOORDIV, kdim(k, x->dims[1]), kint(k, ogroup));
  const tcc_kexpr_t *g = kbin(k, TCC_KOP_FLOORDIV, o[1], ocpg);
  tcc_kbuf_t *acc = reg_new(k, body, "acc", bias ? kload(k, bias, &o[1], dt) : kc(k, dt, 0));
  const tcc_kexpr_t *icg;
  tcc_kblock_t *inner = loop(k, body, "icg", cpg, &icg);
  char name[24];
  const tcc_kexpr_t *ktotal = kint(k, 1), *kflat = kint(k, 0);
  for (int i = 0; i < ns; i++) {
    snprintf(name, sizeof name, "q%d", i);
    inner = loop(k, inner, name, kdim(k, w->dims[2 + i]), &q[i]);
    ktotal = kmul(k, ktotal, kdim(k, w->dims[2 + i]));
    kflat = kadd(k, kmul(k, kflat, kdim(k, w->dims[2 + i])), q[i]);
  }
  if (!acc || !inner) return tcc_status_oom();
  const tcc_kexpr_t *ic = kadd(k, kmul(k, g, cpg), icg);
  const tcc_kexpr_t *og = kbin(k, TCC_KOP_FLOORDIV, ic, cpog);
  const tcc_kexpr_t *tap = kadd(k, kmul(k, og, ktotal), kflat); /* (offset group, kernel position) */
  const tcc_kexpr_t **wi = exprs(k, w->rank), **oi = copy_index(k, offset->rank, o);
  if (!wi || !oi) return tcc_status_oom();
  wi[0] = o[1], wi[1] = icg;
  for (int i = 0; i < ns; i++) wi[2 + i] = q[i];
  const tcc_kexpr_t *scale = kload(k, w, wi, dt);
  if (mask) {
    const tcc_kexpr_t **mi = copy_index(k, mask->rank, o);
    if (!mi) return tcc_status_oom();
    mi[1] = tap;
    scale = kmul(k, scale, kload(k, mask, mi, dt));
  }
  scale = let(k, inner, "scale", scale);
  const tcc_kexpr_t **pos = exprs(k, ns);
  if (!pos || !scale) return tcc_status_oom();
  for (int i = 0; i < ns; i++) {
    oi[1] = kadd(k, kmul(k, tap, kint(k, ns)), kint(k, i));
    const tcc_kexpr_t *p = kint(k, -pads[i]);
    p = kadd(k, kadd(k, p, kmul(k, o[2 + i], kint(k, strides[i]))), kmul(k, q[i], kint(k, dil[i])));
    p = kadd(k, kcast(k, dt, p), kload(k, offset, oi, dt));
    snprintf(name, sizeof name, "p%d", i);
    pos[i] = let(k, inner, name, p);
    if (!pos[i]) return tcc_status_oom();
  }
  /* bilinear taps, zero outside the input */
  const tcc_kexpr_t **xi = exprs(k, x->rank), *wt = NULL, *inside = NULL;
  if (!xi) return tcc_status_oom();
  xi[0] = o[0], xi[1] = ic;
  tcc_kblock_t *tb = inner;
  for (int i = 0; i < ns; i++) {
    const tcc_kexpr_t *fl = kun(k, TCC_KOP_FLOOR, pos[i]), *frac = ksub(k, pos[i], fl), *t;
    snprintf(name, sizeof name, "t%d", i);
    tb = loop(k, tb, name, kint(k, 2), &t);
    if (!tb) return tcc_status_oom();
    const tcc_kexpr_t *wi_ = ksel(k, kbin(k, TCC_KOP_EQ, t, kint(k, 0)), ksub(k, kc(k, dt, 1), frac), frac);
    wt = wt ? kmul(k, wt, wi_) : wi_;
    const tcc_kexpr_t *idx = kadd(k, kcast(k, TCC_DTYPE_I64, fl), t), *size = kdim(k, x->dims[2 + i]);
    inside = kand(k, inside, in_range(k, idx, kint(k, 0), size));
    xi[2 + i] = clamp_index(k, idx, size);
  }
  const tcc_kexpr_t *v = ksel(k, inside, kmul(k, wt, kload(k, x, xi, dt)), kc(k, dt, 0));
  reg_update(k, tb, acc, TCC_KOP_ADD, kmul(k, scale, v));
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, reg_get(k, acc)));
  return NULL;
}

const tcc_compute_entry_t tcc_compute_image_defs[] = {
    {TCC_OP_RESIZE, resize},
    {TCC_OP_GRID_SAMPLE, grid_sample},
    {TCC_OP_AFFINE_GRID, affine_grid},
    {TCC_OP_ROI_ALIGN, roi_align},
    {TCC_OP_MAX_UNPOOL, max_unpool},
    {TCC_OP_COL2IM, col2im},
    {TCC_OP_DEFORM_CONV, deform_conv},
    {TCC_OP_COUNT, NULL},
};
