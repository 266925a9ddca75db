/* Compute definitions: quantization (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear), integer and
 * quantized linear algebra (MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv), Einsum and Det.
 *
 * Numerics follow ONNX's reference: quantization divides in the input's float type, rounds half to even,
 * adds the zero point and saturates; integer products accumulate in i32; quantized outputs requantize with
 * a multiplier (scale products rounded to the scales' type) applied in f64. Scales and zero points are
 * per tensor (a scalar or one element), per axis (1-D) or blocked (x's rank, block_size along axis).
 * Einsum accumulates in f32 (f64 for f64, the integer type itself for integers); Det runs an LU
 * factorization with partial pivoting in an f64 temporary per matrix. */
#include <math.h>
#include <string.h>

#include "ir/compute_defs.h"
#include "ir/infer.h"

/* ---- small helpers -------------------------------------------------------------------------------- */

/* lo <= v <= hi, clamped (float or integer). */
static const tcc_kexpr_t *clamp(tcc_kernel_t *k, const tcc_kexpr_t *v, double lo, double hi) {
  return kbin(k, TCC_KOP_MAX, kbin(k, TCC_KOP_MIN, v, kc(k, v->dtype, hi)), kc(k, v->dtype, lo));
}
static bool is_one(const tcc_dim_t *d) { return tcc_dim_is_const(d) && tcc_dim_value(d) == 1; }

/* ---- dtypes --------------------------------------------------------------------------------------- */

/* 8- or 16-bit integers (4-bit too when small_ok). */
static tcc_status_t need_quant_int(const tcc_node_t *node, const tcc_kbuf_t *b, const char *what, bool small_ok) {
  if (!b) return NULL;
  int bits = tcc_dtype_bits(b->dtype);
  if (tcc_dtype_is_int(b->dtype) && (bits == 8 || bits == 16 || (small_ok && bits == 4))) return NULL;
  return tcc_infer_unsupported(node, "%s of element type %s has no compute definition", what,
                               tcc_dtype_name(b->dtype));
}

/* The saturation range of integer dtype dt. */
static void int_range(tcc_dtype_t dt, double *lo, double *hi) {
  int bits = tcc_dtype_bits(dt);
  if (tcc_dtype_is_signed_int(dt)) {
    *lo = -ldexp(1.0, bits - 1);
    *hi = ldexp(1.0, bits - 1) - 1;
  } else {
    *lo = 0;
    *hi = ldexp(1.0, bits) - 1;
  }
}

/* A float value v (f32 or f64) rounded half to even and saturated into integer dtype dt; NaN gives the low
 * end, as ONNX's reference does. */
static const tcc_kexpr_t *saturate_int(tcc_kernel_t *k, tcc_dtype_t dt, const tcc_kexpr_t *v) {
  double lo, hi;
  int_range(dt, &lo, &hi);
  const tcc_kexpr_t *r = clamp(k, kun(k, TCC_KOP_ROUND_EVEN, v), lo, hi);
  r = ksel(k, kun(k, TCC_KOP_IS_NAN, v), kc(k, v->dtype, lo), r);
  return kcast(k, dt, r);
}

/* ---- quantization parameters ---------------------------------------------------------------------- */

/* Index into a quantization parameter p (scale or zero point) for the element xi of x: per tensor (rank 0,
 * or one element), per axis (1-D along x's axis) or blocked (x's rank, block_size elements of x's axis per
 * entry). */
static tcc_status_t qparam_index(tcc_kernel_t *k, const tcc_node_t *node, const tcc_kbuf_t *p, const tcc_kbuf_t *x,
                                 int axis, int64_t block, const tcc_kexpr_t *const *xi, const tcc_kexpr_t ***out) {
  const tcc_kexpr_t **idx = exprs(k, p->rank);
  *out = idx;
  if (!idx) return tcc_status_oom();
  if (p->rank == 0) return NULL;
  if (block <= 0) {
    if (p->rank != 1) return tcc_infer_unsupported(node, "a scale or zero point of rank %d needs block_size", p->rank);
    if (is_one(p->dims[0]) || x->rank == 0) {
      idx[0] = kint(k, 0);
    } else {
      if (axis < 0) return tcc_infer_error(node, "axis is out of range for per-axis quantization");
      idx[0] = tcc_compute_broadcast_dim(k, p->dims[0], x->dims[axis], xi[axis]);
    }
    return NULL;
  }
  if (p->rank != x->rank || axis < 0)
    return tcc_infer_error(node, "blocked quantization needs parameters of the input's rank (%d), got %d", x->rank,
                           p->rank);
  for (int d = 0; d < p->rank; d++)
    idx[d] = d == axis ? kbin(k, TCC_KOP_FLOORDIV, xi[d], kint(k, block))
                       : tcc_compute_broadcast_dim(k, p->dims[d], x->dims[d], xi[d]);
  return NULL;
}

/* The axis attribute (default 1) normalized against x's rank, or -1 when x is a scalar. */
static tcc_status_t quant_axis(const tcc_node_t *node, const tcc_kbuf_t *x, int *axis) {
  *axis = -1;
  if (x->rank == 0) return NULL;
  int64_t a = tcc_node_attr_int(node, "axis", 1);
  if (a < -(int64_t)x->rank || a >= x->rank) { /* only an error when a parameter is per axis */
    *axis = -1;
    return NULL;
  }
  return tcc_infer_axis(node, a, x->rank, axis);
}

/* The loop nest of QuantizeLinear / DequantizeLinear over every element of x (index o, innermost body) and the
 * indices there of the scale (si) and of the optional zero point (zi, NULL without one). */
typedef struct {
  tcc_kblock_t *body;
  const tcc_kexpr_t **o, **si, **zi;
} qloop_t;

static tcc_status_t qloop_begin(tcc_kernel_t *k, const tcc_node_t *node, const tcc_kbuf_t *x, const tcc_kbuf_t *scale,
                                const tcc_kbuf_t *zp, qloop_t *l) {
  int64_t block = tcc_node_attr_int(node, "block_size", 0);
  int axis;
  TCC_RETURN_IF_ERROR(quant_axis(node, x, &axis));
  l->zi = NULL;
  l->body = tcc_compute_loops(k, tcc_kernel_body(k), x->rank, x->dims, &l->o);
  if (!l->body) return tcc_status_oom();
  TCC_RETURN_IF_ERROR(qparam_index(k, node, scale, x, axis, block, l->o, &l->si));
  return zp ? qparam_index(k, node, zp, x, axis, block, l->o, &l->zi) : NULL;
}

static bool quant_out_type(tcc_dtype_t dt) {
  switch (dt) {
    case TCC_DTYPE_U8: case TCC_DTYPE_I8: case TCC_DTYPE_U16: case TCC_DTYPE_I16: case TCC_DTYPE_U4:
    case TCC_DTYPE_I4: case TCC_DTYPE_F8E4M3FN: case TCC_DTYPE_F8E4M3FNUZ: case TCC_DTYPE_F8E5M2:
    case TCC_DTYPE_F8E5M2FNUZ: case TCC_DTYPE_F4E2M1:
      return true;
    default: return false;
  }
}

/* y = saturate(round_even(x / scale) + zero_point) for integer y; y = kcast(x / scale + zero_point) with the
 * saturate attribute for float8 / float4 y. The division runs in x's type (or the precision attribute's). */
static tcc_status_t quantize_linear(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                    tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *scale = in[1], *zp = node->num_inputs > 2 ? in[2] : NULL, *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_float(node, x, "input"));
  TCC_RETURN_IF_ERROR(tcc_compute_need_float(node, scale, "scale"));
  if (!quant_out_type(y->dtype))
    return tcc_infer_unsupported(node, "quantization to %s has no compute definition", tcc_dtype_name(y->dtype));
  tcc_dtype_t prec = (tcc_dtype_t)tcc_node_attr_int(node, "precision", 0);
  if (prec && !(tcc_dtype_is_valid((int)prec) && tcc_dtype_is_float(prec)))
    return tcc_infer_unsupported(node, "precision %d has no compute definition", (int)prec);
  /* numpy: x / scale in the promoted type of the two */
  tcc_dtype_t div = prec                          ? prec
                     : x->dtype == scale->dtype ? x->dtype
                     : x->dtype == TCC_DTYPE_F64 || scale->dtype == TCC_DTYPE_F64 ? TCC_DTYPE_F64
                                                                                   : TCC_DTYPE_F32;
  tcc_dtype_t at = acc_type(div);
  bool saturate = tcc_node_attr_int(node, "saturate", 1) != 0;
  qloop_t l;
  TCC_RETURN_IF_ERROR(qloop_begin(k, node, x, scale, zp, &l));
  const tcc_kexpr_t *q = kbin(k, TCC_KOP_DIV, kload(k, x, l.o, at), kload(k, scale, l.si, at));
  if (div != at) q = kcast(k, at, kcast(k, div, q));
  const tcc_kexpr_t *zv = zp ? kload(k, zp, l.zi, at) : NULL;
  const tcc_kexpr_t *v;
  if (tcc_dtype_is_int(y->dtype)) {
    const tcc_kexpr_t *r = kun(k, TCC_KOP_ROUND_EVEN, q);
    if (zv) r = kadd(k, r, zv);
    double lo, hi;
    int_range(y->dtype, &lo, &hi);
    r = ksel(k, kun(k, TCC_KOP_IS_NAN, r), kc(k, at, lo), clamp(k, r, lo, hi));
    v = kcast(k, y->dtype, r);
  } else {
    v = tcc_k_cast(k, y->dtype, zv ? kadd(k, q, zv) : q, saturate);
  }
  tcc_k_store(k, l.body, y, l.o, v);
  return NULL;
}

/* y = (x - zero_point) * scale, in f32 (f64 for f64 scales), converted to y's type. */
static tcc_status_t dequantize_linear(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                      tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *scale = in[1], *zp = node->num_inputs > 2 ? in[2] : NULL, *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_float(node, scale, "scale"));
  TCC_RETURN_IF_ERROR(tcc_compute_need_float(node, y, "output"));
  if (!tcc_dtype_is_int(x->dtype) && !tcc_dtype_is_float(x->dtype))
    return tcc_infer_unsupported(node, "input of element type %s has no compute definition", tcc_dtype_name(x->dtype));
  if (zp && zp->dtype != x->dtype)
    return tcc_infer_error(node, "zero point type %s differs from the input's %s", tcc_dtype_name(zp->dtype),
                           tcc_dtype_name(x->dtype));
  tcc_dtype_t at = acc_type(scale->dtype) == TCC_DTYPE_F64 || y->dtype == TCC_DTYPE_F64 ? TCC_DTYPE_F64
                                                                                         : TCC_DTYPE_F32;
  qloop_t l;
  TCC_RETURN_IF_ERROR(qloop_begin(k, node, x, scale, zp, &l));
  const tcc_kexpr_t *dx = kload(k, x, l.o, at);
  if (zp) dx = ksub(k, dx, kload(k, zp, l.zi, at));
  tcc_k_store(k, l.body, y, l.o, kcast(k, y->dtype, kmul(k, dx, kload(k, scale, l.si, at))));
  return NULL;
}

/* scale = (max(0, max x) - min(0, min x)) / 255 (1 when the range is empty), zero_point =
 * round_even(clamp(-min / scale, 0, 255)), y = saturate(round_even(x / scale) + zero_point) as u8. */
static tcc_status_t dynamic_quantize_linear(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                            tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0], *ys = out[1], *yz = out[2];
  TCC_RETURN_IF_ERROR(tcc_compute_need_float(node, x, "input"));
  if (y && y->dtype != TCC_DTYPE_U8) return tcc_infer_unsupported(node, "output type must be u8");
  tcc_dtype_t at = acc_type(x->dtype);
  tcc_kblock_t *top = tcc_kernel_body(k);
  tcc_kbuf_t *lo = reg_new(k, top, "lo", kc(k, at, 0)), *hi = reg_new(k, top, "hi", kc(k, at, 0));
  const tcc_kexpr_t **o;
  tcc_kblock_t *body = tcc_compute_loops(k, top, x->rank, x->dims, &o);
  if (!lo || !hi || !body) return tcc_status_oom();
  const tcc_kexpr_t *xv = kload(k, x, o, at);
  reg_set(k, body, lo, kbin(k, TCC_KOP_MIN, reg_get(k, lo), xv));
  reg_set(k, body, hi, kbin(k, TCC_KOP_MAX, reg_get(k, hi), xv));
  const tcc_kexpr_t *mn = reg_get(k, lo), *mx = reg_get(k, hi);
  const tcc_kexpr_t *s = ksel(k, kbin(k, TCC_KOP_EQ, mx, mn), kc(k, at, 1),
                                      kbin(k, TCC_KOP_DIV, ksub(k, mx, mn), kc(k, at, 255)));
  tcc_kbuf_t *sc = reg_new(k, top, "scale", s);
  if (!sc) return tcc_status_oom();
  const tcc_kexpr_t *z = ksub(k, kc(k, at, 0), kbin(k, TCC_KOP_DIV, reg_get(k, lo), reg_get(k, sc)));
  z = kun(k, TCC_KOP_ROUND_EVEN, clamp(k, z, 0, 255));
  tcc_kbuf_t *zr = reg_new(k, top, "zero_point", z);
  if (!zr) return tcc_status_oom();
  const tcc_kexpr_t **none = exprs(k, 0);
  if (!none) return tcc_status_oom();
  if (ys) tcc_k_store(k, top, ys, none, kcast(k, ys->dtype, reg_get(k, sc)));
  if (yz) tcc_k_store(k, top, yz, none, saturate_int(k, yz->dtype, reg_get(k, zr)));
  if (!y) return NULL;
  body = tcc_compute_loops(k, top, x->rank, x->dims, &o);
  if (!body) return tcc_status_oom();
  const tcc_kexpr_t *q = kun(k, TCC_KOP_ROUND_EVEN, kbin(k, TCC_KOP_DIV, kload(k, x, o, at), reg_get(k, sc)));
  tcc_k_store(k, body, y, o, saturate_int(k, y->dtype, kadd(k, q, reg_get(k, zr))));
  return NULL;
}

/* ---- integer matmul ------------------------------------------------------------------------------- */

/* Index into a per-row / per-column operand parameter p (zero point or scale) of buffer b at index bi:
 * rank 0 or one element: per tensor; 1-D: along b's dim vec_dim (per row of A, per column of B); b's rank:
 * b's index with dim kdim (the reduced one, or -1) at 0 and size-1 dims broadcast. */
static tcc_status_t operand_param_index(tcc_kernel_t *k, const tcc_node_t *node, const tcc_kbuf_t *p,
                                        const tcc_kbuf_t *b, int vec_dim, int kdim_at, const tcc_kexpr_t *const *bi,
                                        const tcc_kexpr_t ***out) {
  const tcc_kexpr_t **idx = exprs(k, p->rank);
  *out = idx;
  if (!idx) return tcc_status_oom();
  if (p->rank == 0) return NULL;
  if (p->rank == 1 && (is_one(p->dims[0]) || vec_dim < 0)) {
    idx[0] = kint(k, 0);
    return NULL;
  }
  if (p->rank == 1 && b->rank != 1) {
    idx[0] = tcc_compute_broadcast_dim(k, p->dims[0], b->dims[vec_dim], bi[vec_dim]);
    return NULL;
  }
  if (p->rank != b->rank)
    return tcc_infer_unsupported(node, "a zero point or scale of rank %d for an operand of rank %d", p->rank, b->rank);
  for (int d = 0; d < p->rank; d++)
    idx[d] = d == kdim_at ? kint(k, 0) : tcc_compute_broadcast_dim(k, p->dims[d], b->dims[d], bi[d]);
  return NULL;
}

/* The integer product sum_k (a[..., m, k] - a_zp) * (b[..., k, n] - b_zp) of a matmul with broadcast batch dims,
 * in i32, into a register allocated in `body` (the loops over y's index o). */
static tcc_status_t int_matmul(tcc_kernel_t *k, const tcc_node_t *node, const tcc_kbuf_t *a, const tcc_kbuf_t *azp,
                               const tcc_kbuf_t *b, const tcc_kbuf_t *bzp, const tcc_kbuf_t *y, tcc_kblock_t *body,
                               const tcc_kexpr_t *const *o, tcc_kbuf_t **acc) {
  TCC_RETURN_IF_ERROR(need_quant_int(node, a, "input A", false));
  TCC_RETURN_IF_ERROR(need_quant_int(node, b, "input B", false));
  TCC_RETURN_IF_ERROR(need_quant_int(node, azp, "A's zero point", false));
  TCC_RETURN_IF_ERROR(need_quant_int(node, bzp, "B's zero point", false));
  tcc_dtype_t i32 = TCC_DTYPE_I32;
  int ra = a->rank, rb = b->rank;
  const tcc_kexpr_t **ai = exprs(k, ra), **bi = exprs(k, rb), *r = NULL;
  *acc = reg_new(k, body, "acc", kc(k, i32, 0));
  if (!ai || !bi || !*acc) return tcc_status_oom();
  tcc_kblock_t *inner = loop(k, body, "r", kdim(k, a->dims[ra - 1]), &r);
  if (!inner) return tcc_status_oom();
  tcc_compute_matmul_index(k, a, b, y, o, r, ai, bi);
  const tcc_kexpr_t *av = kload(k, a, ai, i32), *bv = kload(k, b, bi, i32), **zi;
  if (azp) {
    TCC_RETURN_IF_ERROR(operand_param_index(k, node, azp, a, ra >= 2 ? ra - 2 : -1, ra - 1, ai, &zi));
    av = ksub(k, av, kload(k, azp, zi, i32));
  }
  if (bzp) {
    TCC_RETURN_IF_ERROR(operand_param_index(k, node, bzp, b, rb >= 2 ? rb - 1 : -1, rb >= 2 ? rb - 2 : 0, bi, &zi));
    bv = ksub(k, bv, kload(k, bzp, zi, i32));
  }
  reg_update(k, inner, *acc, TCC_KOP_ADD, kmul(k, av, bv));
  return NULL;
}

/* y = (a - a_zero_point) @ (b - b_zero_point) in i32. */
static tcc_status_t matmul_integer(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                   tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *y = out[0];
  const tcc_kbuf_t *azp = node->num_inputs > 2 ? in[2] : NULL, *bzp = node->num_inputs > 3 ? in[3] : NULL;
  const tcc_kexpr_t **o;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body) return tcc_status_oom();
  tcc_kbuf_t *acc;
  TCC_RETURN_IF_ERROR(int_matmul(k, node, in[0], azp, in[1], bzp, y, body, o, &acc));
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, reg_get(k, acc)));
  return NULL;
}

/* The requantization multiplier sa * sb / sy, each step rounded to the scales' type (as numpy computes it),
 * as f64. */
static const tcc_kexpr_t *multiplier(tcc_kernel_t *k, const tcc_kbuf_t *sa, const tcc_kexpr_t *const *sai,
                                     const tcc_kbuf_t *sb, const tcc_kexpr_t *const *sbi, const tcc_kbuf_t *sy,
                                     const tcc_kexpr_t *const *syi) {
  tcc_dtype_t st = sa->dtype, at = acc_type(st);
  const tcc_kexpr_t *m = kcast(k, at, kcast(k, st, kmul(k, kload(k, sa, sai, at), kload(k, sb, sbi, at))));
  m = kcast(k, st, kbin(k, TCC_KOP_DIV, m, kload(k, sy, syi, at)));
  return kcast(k, TCC_DTYPE_F64, m);
}

/* y = saturate(round_even(acc * multiplier + y_zero_point)), in f64; the zero point (optional) is yzp[zi]. */
static const tcc_kexpr_t *requantize(tcc_kernel_t *k, const tcc_kbuf_t *y, const tcc_kexpr_t *acc,
                                     const tcc_kexpr_t *mult, const tcc_kbuf_t *yzp, const tcc_kexpr_t *const *zi) {
  const tcc_kexpr_t *v = kmul(k, kcast(k, TCC_DTYPE_F64, acc), mult);
  if (yzp) v = kadd(k, v, kload(k, yzp, zi, TCC_DTYPE_F64));
  return saturate_int(k, y->dtype, v);
}

/* The types of a QLinear op: three scales of one float type, an 8- or 16-bit integer output. */
static tcc_status_t need_qlinear_types(const tcc_node_t *node, const tcc_kbuf_t *s0, const tcc_kbuf_t *s1,
                                       const tcc_kbuf_t *s2, const tcc_kbuf_t *y) {
  const tcc_kbuf_t *s[] = {s0, s1, s2};
  for (int i = 0; i < 3; i++) {
    if (!s[i]) return tcc_infer_unsupported(node, "scales are required");
    TCC_RETURN_IF_ERROR(tcc_compute_need_float(node, s[i], "scale"));
    if (s[i]->dtype != s[0]->dtype) return tcc_infer_unsupported(node, "scales of different element types");
  }
  return need_quant_int(node, y, "output", false);
}

/* QLinearMatMul: requantize((a - a_zp) @ (b - b_zp)) with multiplier a_scale * b_scale / y_scale. */
static tcc_status_t qlinear_matmul(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                   tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *a = in[0], *sa = in[1], *azp = in[2], *b = in[3], *sb = in[4], *bzp = in[5], *sy = in[6],
                   *yzp = in[7], *y = out[0];
  TCC_RETURN_IF_ERROR(need_qlinear_types(node, sa, sb, sy, y));
  const tcc_kexpr_t **o;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body) return tcc_status_oom();
  tcc_kbuf_t *acc;
  TCC_RETURN_IF_ERROR(int_matmul(k, node, a, azp, b, bzp, y, body, o, &acc));
  /* scales: per tensor, per row of a (m = o[ry-2]), per column of b and y (n = o[ry-1]) */
  int ra = a->rank, rb = b->rank, ry = y->rank;
  const tcc_kexpr_t **ai = exprs(k, ra), **bi = exprs(k, rb), **sai, **sbi, **syi, **zi = NULL;
  if (!ai || !bi) return tcc_status_oom();
  tcc_compute_matmul_index(k, a, b, y, o, kint(k, 0), ai, bi);
  TCC_RETURN_IF_ERROR(operand_param_index(k, node, sa, a, ra >= 2 ? ra - 2 : -1, ra - 1, ai, &sai));
  TCC_RETURN_IF_ERROR(operand_param_index(k, node, sb, b, rb >= 2 ? rb - 1 : -1, rb >= 2 ? rb - 2 : 0, bi, &sbi));
  TCC_RETURN_IF_ERROR(operand_param_index(k, node, sy, y, ry >= 1 ? ry - 1 : -1, -1, o, &syi));
  if (yzp) TCC_RETURN_IF_ERROR(operand_param_index(k, node, yzp, y, ry >= 1 ? ry - 1 : -1, -1, o, &zi));
  const tcc_kexpr_t *mult = multiplier(k, sa, sai, sb, sbi, sy, syi);
  tcc_k_store(k, body, y, o, requantize(k, y, reg_get(k, acc), mult, yzp, zi));
  return NULL;
}

/* ---- integer convolution -------------------------------------------------------------------------- */

/* The i32 sum over c < C/group and the kernel window of (x[n, g*C/group + c, pos] - x_zp) * (w[m, c, kk] -
 * w_zp[m]), plus bias[m], into a register allocated in body (the loops over y's index o). Positions outside
 * the input contribute 0 (padding with the zero point). */
static tcc_status_t int_conv(tcc_kernel_t *k, const tcc_node_t *node, const tcc_kbuf_t *x, const tcc_kbuf_t *xzp,
                             const tcc_kbuf_t *w, const tcc_kbuf_t *wzp, const tcc_kbuf_t *bias, const tcc_kbuf_t *y,
                             tcc_kblock_t *body, const tcc_kexpr_t *const *o, tcc_kbuf_t **acc) {
  TCC_RETURN_IF_ERROR(need_quant_int(node, x, "input", false));
  TCC_RETURN_IF_ERROR(need_quant_int(node, w, "weight", false));
  TCC_RETURN_IF_ERROR(need_quant_int(node, xzp, "input zero point", false));
  TCC_RETURN_IF_ERROR(need_quant_int(node, wzp, "weight zero point", false));
  if (bias && bias->dtype != TCC_DTYPE_I32) return tcc_infer_unsupported(node, "bias must be i32");
  tcc_dtype_t i32 = TCC_DTYPE_I32;
  tcc_compute_window_t win;
  TCC_RETURN_IF_ERROR(tcc_compute_window_read(k, node, x, y, w->dims + 2, &win));
  int64_t group = tcc_node_attr_int(node, "group", 1);
  if (group < 1) return tcc_infer_error(node, "group %lld must be positive", (long long)group);
  int n = win.n;
  const tcc_kexpr_t **ext = exprs(k, n + 1), **r = exprs(k, n + 1), **xi = exprs(k, x->rank), **wi = exprs(k, w->rank);
  if (!ext || !r || !xi || !wi) return tcc_status_oom();
  const tcc_kexpr_t *cpg = kdim(k, w->dims[1]);
  ext[0] = cpg;
  for (int i = 0; i < n; i++) ext[1 + i] = win.kernel[i];
  *acc = reg_new(k, body, "acc", bias ? kload(k, bias, &o[1], i32) : kc(k, i32, 0));
  tcc_kblock_t *inner = tcc_compute_nest(k, body, "r", n + 1, ext, r);
  if (!*acc || !inner) return tcc_status_oom();
  const tcc_kexpr_t *channel = r[0];
  if (group != 1) {
    const tcc_kexpr_t *mpg = kbin(k, TCC_KOP_FLOORDIV, kdim(k, w->dims[0]), kint(k, group));
    channel = kadd(k, kmul(k, kbin(k, TCC_KOP_FLOORDIV, o[1], mpg), cpg), r[0]);
  }
  xi[0] = o[0], xi[1] = channel, wi[0] = o[1], wi[1] = r[0];
  const tcc_kexpr_t *valid = tcc_compute_window_at(k, &win, o, r + 1, xi + 2);
  for (int i = 0; i < n; i++) wi[2 + i] = r[1 + i];
  const tcc_kexpr_t *xv = kload(k, x, xi, i32), *wv = kload(k, w, wi, i32), **zi;
  if (xzp) {
    if (xzp->rank > 1 || (xzp->rank == 1 && !is_one(xzp->dims[0])))
      return tcc_infer_unsupported(node, "the input zero point must be a scalar");
    TCC_RETURN_IF_ERROR(operand_param_index(k, node, xzp, x, -1, -1, xi, &zi));
    xv = ksub(k, xv, kload(k, xzp, zi, i32));
  }
  if (wzp) {
    if (wzp->rank > 1) return tcc_infer_unsupported(node, "the weight zero point must be a scalar or 1-D");
    TCC_RETURN_IF_ERROR(operand_param_index(k, node, wzp, w, 0, -1, wi, &zi));
    wv = ksub(k, wv, kload(k, wzp, zi, i32));
  }
  tcc_kblock_t *upd = valid ? tcc_k_if(k, inner, valid, NULL) : inner;
  reg_update(k, upd, *acc, TCC_KOP_ADD, kmul(k, xv, wv));
  return NULL;
}

static tcc_status_t need_conv_rank(const tcc_node_t *node, const tcc_kbuf_t *x, const tcc_kbuf_t *w) {
  if (x->rank < 3 || w->rank != x->rank)
    return tcc_infer_error(node, "input rank %d and weight rank %d must agree and be >= 3", x->rank, w->rank);
  return NULL;
}

/* y = conv(x - x_zero_point, w - w_zero_point) in i32. */
static tcc_status_t conv_integer(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                 tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *w = in[1], *y = out[0];
  const tcc_kbuf_t *xzp = node->num_inputs > 2 ? in[2] : NULL, *wzp = node->num_inputs > 3 ? in[3] : NULL;
  TCC_RETURN_IF_ERROR(need_conv_rank(node, x, w));
  const tcc_kexpr_t **o;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body) return tcc_status_oom();
  tcc_kbuf_t *acc;
  TCC_RETURN_IF_ERROR(int_conv(k, node, x, xzp, w, wzp, NULL, y, body, o, &acc));
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, reg_get(k, acc)));
  return NULL;
}

/* QLinearConv: requantize(conv(x - x_zp, w - w_zp) + bias) with multiplier x_scale * w_scale[m] / y_scale. */
static tcc_status_t qlinear_conv(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                 tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *sx = in[1], *xzp = in[2], *w = in[3], *sw = in[4], *wzp = in[5], *sy = in[6],
                   *yzp = in[7], *bias = node->num_inputs > 8 ? in[8] : NULL, *y = out[0];
  TCC_RETURN_IF_ERROR(need_qlinear_types(node, sx, sw, sy, y));
  TCC_RETURN_IF_ERROR(need_conv_rank(node, x, w));
  bool scalar = (sx->rank == 0 || (sx->rank == 1 && is_one(sx->dims[0]))) &&
                (sy->rank == 0 || (sy->rank == 1 && is_one(sy->dims[0]))) &&
                (!yzp || yzp->rank == 0 || (yzp->rank == 1 && is_one(yzp->dims[0])));
  if (!scalar || sw->rank > 1)
    return tcc_infer_unsupported(node, "scales and zero points must be scalars (the weight's may be 1-D)");
  const tcc_kexpr_t **o;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body) return tcc_status_oom();
  tcc_kbuf_t *acc;
  TCC_RETURN_IF_ERROR(int_conv(k, node, x, xzp, w, wzp, bias, y, body, o, &acc));
  const tcc_kexpr_t **sxi, **swi, **syi, **zi = NULL;
  TCC_RETURN_IF_ERROR(operand_param_index(k, node, sx, y, -1, -1, o, &sxi));
  TCC_RETURN_IF_ERROR(operand_param_index(k, node, sy, y, -1, -1, o, &syi));
  TCC_RETURN_IF_ERROR(operand_param_index(k, node, sw, y, 1, -1, o, &swi)); /* per output channel */
  if (yzp) TCC_RETURN_IF_ERROR(operand_param_index(k, node, yzp, y, -1, -1, o, &zi));
  const tcc_kexpr_t *mult = multiplier(k, sx, sxi, sw, swi, sy, syi);
  tcc_k_store(k, body, y, o, requantize(k, y, reg_get(k, acc), mult, yzp, zi));
  return NULL;
}

/* ---- einsum --------------------------------------------------------------------------------------- */

#define EINSUM_LABELS 128

/* One operand's term: for each of its dims, a label (a letter) or -1 - e for the ellipsis dim e (counted
 * from the right end of the broadcast ellipsis). */
typedef struct {
  int *dim_label;
  int rank;
} eterm_t;

static bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Parses term text t (len chars) for a buffer of rank `rank`; *ell_rank gets its ellipsis dim count (0 without
 * one), count[] is incremented per letter. */
static tcc_status_t einsum_parse_term(tcc_kernel_t *k, const tcc_node_t *node, const char *t, size_t len, int rank,
                                      eterm_t *term, int *ell_rank, int *count) {
  int letters = 0;
  bool ell = false;
  for (size_t j = 0; j < len; j++) {
    if (is_letter(t[j])) letters++;
    else if (t[j] == '.' && j + 2 < len && t[j + 1] == '.' && t[j + 2] == '.' && !ell) ell = true, j += 2;
    else return tcc_infer_error(node, "invalid einsum term '%.*s'", (int)len, t);
  }
  int er = ell ? rank - letters : 0;
  if (er < 0 || (!ell && rank != letters))
    return tcc_infer_error(node, "an operand of rank %d does not fit the einsum term '%.*s'", rank, (int)len, t);
  term->rank = rank;
  term->dim_label = tcc_module_alloc(k->module, (size_t)(rank > 0 ? rank : 1) * sizeof *term->dim_label);
  if (!term->dim_label) return tcc_status_oom();
  int d = 0;
  for (size_t j = 0; j < len; j++) {
    if (t[j] == '.') {
      for (int e = 0; e < er; e++) term->dim_label[d++] = -1 - (er - 1 - e);
      j += 2;
    } else {
      term->dim_label[d++] = (unsigned char)t[j];
      if (count) count[(unsigned char)t[j]]++;
    }
  }
  *ell_rank = er;
  return NULL;
}

/* y = sum over the labels (and ellipsis dims) missing from the output of the product of the operands, each
 * indexed by its labels; a label repeated in one term takes its diagonal; size-1 dims broadcast. */
static tcc_status_t einsum(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *y = out[0];
  int n = node->num_inputs;
  bool ok_type = tcc_dtype_is_float(y->dtype) || (tcc_dtype_is_int(y->dtype) && tcc_dtype_bits(y->dtype) >= 8);
  if (!ok_type)
    return tcc_infer_unsupported(node, "element type %s has no compute definition", tcc_dtype_name(y->dtype));
  const char *eq = tcc_node_attr_string(node, "equation", NULL);
  if (!eq) return tcc_infer_error(node, "attribute 'equation' is required");
  size_t eqlen = strlen(eq), len = 0;
  char *s = tcc_module_alloc(k->module, eqlen + 1);
  eterm_t *terms = tcc_module_alloc(k->module, (size_t)(n > 0 ? n : 1) * sizeof *terms);
  if (!s || !terms) return tcc_status_oom();
  for (size_t i = 0; i < eqlen; i++)
    if (eq[i] != ' ' && eq[i] != '\t' && eq[i] != '\n') s[len++] = eq[i];
  s[len] = 0;
  char *rhs = strstr(s, "->");
  if (rhs) *rhs = 0, rhs += 2;

  int count[EINSUM_LABELS] = {0}, ell = 0;
  const char *p = s;
  for (int t = 0; t < n; t++) {
    const char *end = strchr(p, ',');
    if ((t + 1 < n) != (end != NULL))
      return tcc_infer_error(node, "equation '%s' does not have %d operands", eq, n);
    size_t tlen = end ? (size_t)(end - p) : strlen(p);
    int er;
    TCC_RETURN_IF_ERROR(einsum_parse_term(k, node, p, tlen, in[t]->rank, &terms[t], &er, count));
    if (er > ell) ell = er;
    p = end ? end + 1 : p + tlen;
  }
  /* the output term */
  eterm_t oterm = {0};
  if (rhs) {
    int out_ell = 0;
    TCC_RETURN_IF_ERROR(einsum_parse_term(k, node, rhs, strlen(rhs), y->rank, &oterm, &out_ell, NULL));
    if (strstr(rhs, "...") && out_ell != ell)
      return tcc_infer_error(node, "the output's ellipsis has %d dims, the inputs' %d", out_ell, ell);
  } else {
    oterm.rank = y->rank;
    oterm.dim_label = tcc_module_alloc(k->module, (size_t)(y->rank > 0 ? y->rank : 1) * sizeof *oterm.dim_label);
    if (!oterm.dim_label) return tcc_status_oom();
    int d = 0;
    for (int e = 0; e < ell && d < y->rank; e++) oterm.dim_label[d++] = -1 - (ell - 1 - e);
    for (int c = 0; c < EINSUM_LABELS; c++)
      if (count[c] == 1) {
        if (d >= y->rank) return tcc_infer_error(node, "the output's rank %d does not fit equation '%s'", y->rank, eq);
        oterm.dim_label[d++] = c;
      }
    if (d != y->rank) return tcc_infer_error(node, "the output's rank %d does not fit equation '%s'", y->rank, eq);
  }

  /* variables: output dims first, then every other label or ellipsis dim as a reduction */
  const tcc_kexpr_t *lvar[EINSUM_LABELS] = {0};
  const tcc_kexpr_t **evar = exprs(k, ell);
  const tcc_dim_t *ldim[EINSUM_LABELS] = {0}, **edim = tcc_module_alloc(k->module, (size_t)(ell + 1) * sizeof *edim);
  if (!evar || !edim) return tcc_status_oom();
  memset(edim, 0, (size_t)(ell + 1) * sizeof *edim);
  /* extents from the operands: the first occurrence that is not a constant 1 */
  for (int t = 0; t < n; t++)
    for (int d = 0; d < terms[t].rank; d++) {
      int l = terms[t].dim_label[d];
      const tcc_dim_t **slot = l >= 0 ? &ldim[l] : &edim[-1 - l];
      if (!*slot || is_one(*slot)) *slot = in[t]->dims[d];
    }
  const tcc_kexpr_t **o;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), y->rank, y->dims, &o);
  if (!body) return tcc_status_oom();
  for (int d = 0; d < y->rank; d++) {
    int l = oterm.dim_label[d];
    if (l >= 0 && lvar[l]) return tcc_infer_error(node, "einsum output label '%c' appears more than once", l);
    if (l >= 0) lvar[l] = o[d], ldim[l] = y->dims[d];
    else evar[-1 - l] = o[d], edim[-1 - l] = y->dims[d];
  }
  int nred = 0;
  const tcc_kexpr_t *red_ext[EINSUM_LABELS + 64];
  int red_label[EINSUM_LABELS + 64];
  if (ell > 64) return tcc_infer_unsupported(node, "ellipsis of %d dims", ell);
  for (int e = 0; e < ell; e++)
    if (!evar[e]) red_label[nred] = -1 - e, red_ext[nred++] = kdim(k, edim[e]);
  for (int c = 0; c < EINSUM_LABELS; c++)
    if (count[c] && !lvar[c]) red_label[nred] = c, red_ext[nred++] = kdim(k, ldim[c]);
  tcc_dtype_t at = acc_type(y->dtype);
  tcc_kbuf_t *acc = reg_new(k, body, "acc", kc(k, at, 0));
  const tcc_kexpr_t **rv = exprs(k, nred);
  if (!acc || !rv) return tcc_status_oom();
  tcc_kblock_t *inner = tcc_compute_nest(k, body, "r", nred, red_ext, rv);
  if (!inner) return tcc_status_oom();
  for (int i = 0; i < nred; i++) {
    if (red_label[i] >= 0) lvar[red_label[i]] = rv[i];
    else evar[-1 - red_label[i]] = rv[i];
  }
  const tcc_kexpr_t *prod = NULL;
  for (int t = 0; t < n; t++) {
    const tcc_kexpr_t **idx = exprs(k, in[t]->rank);
    if (!idx) return tcc_status_oom();
    for (int d = 0; d < in[t]->rank; d++) {
      int l = terms[t].dim_label[d];
      const tcc_dim_t *full = l >= 0 ? ldim[l] : edim[-1 - l];
      const tcc_kexpr_t *v = l >= 0 ? lvar[l] : evar[-1 - l];
      if (!v) return tcc_infer_error(node, "einsum label without a loop");
      idx[d] = tcc_compute_broadcast_dim(k, in[t]->dims[d], full, v);
    }
    const tcc_kexpr_t *v = kload(k, in[t], idx, at);
    prod = prod ? kmul(k, prod, v) : v;
  }
  reg_update(k, inner, acc, TCC_KOP_ADD, prod ? prod : kc(k, at, 1));
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, reg_get(k, acc)));
  return NULL;
}

/* ---- det ------------------------------------------------------------------------------------------ */

/* det of each [n, n] matrix of x[..., n, n]: LU with partial pivoting in an f64 copy; each row swap negates
 * the sign, a zero pivot column makes the determinant 0. */
static tcc_status_t det(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_float(node, x, "input"));
  int r = x->rank;
  if (r < 2) return tcc_infer_error(node, "input must have rank >= 2, got %d", r);
  tcc_dtype_t f64 = TCC_DTYPE_F64;
  const tcc_dim_t *mdims[] = {x->dims[r - 2], x->dims[r - 1]};
  const tcc_kexpr_t *nn = kdim(k, x->dims[r - 1]);
  const tcc_kexpr_t **o, **xi = exprs(k, r);
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), r - 2, x->dims, &o);
  tcc_kbuf_t *a = tcc_kernel_add_local(k, "lu", TCC_KBUF_LOCAL, f64, 2, mdims);
  if (!body || !xi || !a) return tcc_status_oom();
  tcc_k_alloc(k, body, a);
  const tcc_kexpr_t *i, *j;
  tcc_kblock_t *copy = loop(k, loop(k, body, "i", nn, &i), "j", nn, &j);
  if (!copy) return tcc_status_oom();
  for (int d = 0; d < r - 2; d++) xi[d] = o[d];
  xi[r - 2] = i, xi[r - 1] = j;
  const tcc_kexpr_t *ij[] = {i, j};
  tcc_k_store(k, copy, a, ij, kload(k, x, xi, f64));
  tcc_kbuf_t *dt = reg_new(k, body, "det", kc(k, f64, 1)), *piv = reg_alloc(k, body, "piv", TCC_DTYPE_I64);
  tcc_kbuf_t *best = reg_alloc(k, body, "best", f64), *tmp = reg_alloc(k, body, "tmp", f64);
  tcc_kbuf_t *f = reg_alloc(k, body, "f", f64);
  const tcc_kexpr_t *c, *rr, *jj;
  tcc_kblock_t *col = loop(k, body, "c", nn, &c);
  if (!dt || !piv || !best || !tmp || !f || !col) return tcc_status_oom();
  /* pivot: the row >= c with the largest |a[row, c]| */
  const tcc_kexpr_t *cc[] = {c, c};
  reg_set(k, col, piv, c);
  reg_set(k, col, best, kun(k, TCC_KOP_ABS, tcc_k_load(k, a, cc)));
  const tcc_kexpr_t *below = ksub(k, ksub(k, nn, c), kint(k, 1));
  tcc_kblock_t *scan = loop(k, col, "p", below, &rr);
  if (!scan) return tcc_status_oom();
  const tcc_kexpr_t *row = kadd(k, kadd(k, c, kint(k, 1)), rr), *rc[] = {row, c};
  const tcc_kexpr_t *mag = kun(k, TCC_KOP_ABS, tcc_k_load(k, a, rc));
  tcc_kblock_t *better = tcc_k_if(k, scan, kbin(k, TCC_KOP_GT, mag, reg_get(k, best)), NULL);
  if (!better) return tcc_status_oom();
  reg_set(k, better, best, mag);
  reg_set(k, better, piv, row);
  /* swap rows c and piv */
  tcc_kblock_t *swap = tcc_k_if(k, col, kbin(k, TCC_KOP_NE, reg_get(k, piv), c), NULL);
  tcc_kblock_t *sw = loop(k, swap, "s", nn, &jj);
  if (!swap || !sw) return tcc_status_oom();
  const tcc_kexpr_t *cj[] = {c, jj}, *pj[] = {reg_get(k, piv), jj};
  reg_set(k, sw, tmp, tcc_k_load(k, a, cj));
  tcc_k_store(k, sw, a, cj, tcc_k_load(k, a, pj));
  tcc_k_store(k, sw, a, pj, reg_get(k, tmp));
  reg_set(k, swap, dt, kun(k, TCC_KOP_NEG, reg_get(k, dt)));
  /* det *= pivot; eliminate below it */
  const tcc_kexpr_t *pv = tcc_k_load(k, a, cc);
  reg_set(k, col, dt, kmul(k, reg_get(k, dt), pv));
  tcc_kblock_t *nz = tcc_k_if(k, col, kbin(k, TCC_KOP_NE, pv, kc(k, f64, 0)), NULL);
  tcc_kblock_t *elim = loop(k, nz, "e", below, &rr);
  if (!nz || !elim) return tcc_status_oom();
  row = kadd(k, kadd(k, c, kint(k, 1)), rr);
  const tcc_kexpr_t *rc2[] = {row, c};
  reg_set(k, elim, f, kbin(k, TCC_KOP_DIV, tcc_k_load(k, a, rc2), pv));
  tcc_kblock_t *upd = loop(k, elim, "u", below, &jj);
  if (!upd) return tcc_status_oom();
  const tcc_kexpr_t *col_j = kadd(k, kadd(k, c, kint(k, 1)), jj), *rj[] = {row, col_j}, *cj2[] = {c, col_j};
  tcc_k_store(k, upd, a, rj, ksub(k, tcc_k_load(k, a, rj), kmul(k, reg_get(k, f), tcc_k_load(k, a, cj2))));
  tcc_k_store(k, body, y, o, kcast(k, y->dtype, reg_get(k, dt)));
  return NULL;
}

const tcc_compute_entry_t tcc_compute_quant_defs[] = {
    {TCC_OP_QUANTIZE_LINEAR, quantize_linear},
    {TCC_OP_DEQUANTIZE_LINEAR, dequantize_linear},
    {TCC_OP_DYNAMIC_QUANTIZE_LINEAR, dynamic_quantize_linear},
    {TCC_OP_MATMUL_INTEGER, matmul_integer},
    {TCC_OP_QLINEAR_MATMUL, qlinear_matmul},
    {TCC_OP_CONV_INTEGER, conv_integer},
    {TCC_OP_QLINEAR_CONV, qlinear_conv},
    {TCC_OP_EINSUM, einsum},
    {TCC_OP_DET, det},
    {TCC_OP_COUNT, NULL},
};
