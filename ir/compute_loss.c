/* Compute definitions: losses (negative_log_likelihood_loss, softmax_cross_entropy_loss), attention and
 * rotary_embedding. Arithmetic runs in f32 for half and float8 types (f64 stays f64), with the result cast
 * back on store. Class indices are loaded from the target tensor at run time; an ignored target never
 * reads the scores. Attention computes one query row at a time: scores over the whole (past + current)
 * key sequence in a LOCAL row buffer, bias, softcap and softmax on that row, then the product with the
 * values; its 3-D inputs and GQA head mapping follow the ONNX 1.18 reference (see attention()). */
#include <math.h>
#include <string.h>

#include "ir/compute_defs.h"
#include "ir/infer.h"

/* ---- losses --------------------------------------------------------------------------------------- */

/* negative_log_likelihood_loss over scores x [N, C, d...] and softmax_cross_entropy_loss (the same over
 * log_softmax(x, axis 1), optionally stored as output 1). Per position p = (n, d...), with t = target[p]:
 * loss[p] = t == ignore_index ? 0 : -x[n, t, d...] * w[t] (w = 1 without weights); reduction none stores
 * loss, sum adds it up, mean divides that sum by the sum of the weights of the positions not ignored. */
static tcc_status_t loss(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *t = in[1], *w = node->num_inputs > 2 ? in[2] : NULL, *y = out[0];
  const tcc_kbuf_t *lp = node->num_outputs > 1 ? out[1] : NULL;
  bool sce = node->op == TCC_OP_SOFTMAX_CROSS_ENTROPY_LOSS;
  TCC_RETURN_IF_ERROR(tcc_compute_need_float(node, x, "input"));
  if (!tcc_dtype_is_int(t->dtype))
    return tcc_infer_unsupported(node, "target of element type %s has no compute definition", tcc_dtype_name(t->dtype));
  if (w) TCC_RETURN_IF_ERROR(tcc_compute_need_float(node, w, "weight"));
  if (x->rank < 2 || t->rank != x->rank - 1)
    return tcc_infer_error(node, "input must be [N, C, d...] and target [N, d...], got ranks %d and %d", x->rank,
                           t->rank);
  const char *red = tcc_node_attr_string(node, "reduction", "mean");
  bool none = !strcmp(red, "none"), mean = !strcmp(red, "mean");
  if (!none && !mean && strcmp(red, "sum")) return tcc_infer_error(node, "invalid reduction '%s'", red);
  const tcc_attr_t *ii_attr = tcc_node_attr(node, "ignore_index");
  bool has_ii = ii_attr && ii_attr->kind == TCC_ATTR_INT;
  int64_t ii = has_ii ? ii_attr->i : 0;
  tcc_dtype_t dt = acc_type(x->dtype);
  int r = t->rank;

  tcc_kblock_t *top = tcc_kernel_body(k);
  tcc_kbuf_t *sum = NULL, *wsum = NULL;
  if (!none) {
    sum = reg_new(k, top, "sum", kc(k, dt, 0));
    wsum = reg_new(k, top, "wsum", kc(k, dt, 0));
  }
  const tcc_kexpr_t **p;
  tcc_kblock_t *body = tcc_compute_loops(k, top, r, t->dims, &p);
  expr_t *xi = exprs(k, x->rank);
  if (!body || !xi) return tcc_status_oom();
  /* x's index for class c at position p */
  xi[0] = p[0];
  for (int d = 1; d < r; d++) xi[d + 1] = p[d];

  expr_t shift = NULL; /* softmax cross entropy: x - max - log(sum exp(x - max)) over the classes */
  if (sce) {
    expr_t c;
    tcc_kbuf_t *mx = reg_new(k, body, "max", kc(k, dt, -INFINITY));
    tcc_kblock_t *lb = loop(k, body, "c", kdim(k, x->dims[1]), &c);
    xi[1] = c;
    reg_update(k, lb, mx, TCC_KOP_MAX, kload(k, x, xi, dt));
    tcc_kbuf_t *se = reg_new(k, body, "sumexp", kc(k, dt, 0));
    lb = loop(k, body, "c", kdim(k, x->dims[1]), &c);
    expr_t *xc = copy_index(k, x->rank, xi);
    if (!xc) return tcc_status_oom();
    xc[1] = c;
    reg_update(k, lb, se, TCC_KOP_ADD, kun(k, TCC_KOP_EXP, ksub(k, kload(k, x, xc, dt), reg_get(k, mx))));
    shift = reg_get(k, reg_new(k, body, "shift", kadd(k, reg_get(k, mx), kun(k, TCC_KOP_LOG, reg_get(k, se)))));
    if (lp) {
      lb = loop(k, body, "c", kdim(k, x->dims[1]), &c);
      expr_t *xl = copy_index(k, x->rank, xi);
      if (!xl) return tcc_status_oom();
      xl[1] = c;
      tcc_k_store(k, lb, lp, xl, kcast(k, lp->dtype, ksub(k, kload(k, x, xl, dt), shift)));
    }
  }

  expr_t cls = kload(k, t, p, TCC_DTYPE_I64);
  tcc_kblock_t *kept = body, *ignored = NULL;
  if (has_ii) kept = tcc_k_if(k, body, kbin(k, TCC_KOP_NE, cls, kint(k, ii)), &ignored);
  expr_t *xt = copy_index(k, x->rank, xi);
  if (!kept || !xt) return tcc_status_oom();
  xt[1] = cls;
  expr_t v = kload(k, x, xt, dt);
  if (shift) v = ksub(k, v, shift);
  v = kun(k, TCC_KOP_NEG, v);
  expr_t wt = w ? kload(k, w, &cls, dt) : NULL;
  if (wt) v = kmul(k, v, wt);
  if (none) {
    tcc_k_store(k, kept, y, p, kcast(k, y->dtype, v));
    if (ignored) tcc_k_store(k, ignored, y, p, kc(k, y->dtype, 0));
    return NULL;
  }
  reg_update(k, kept, sum, TCC_KOP_ADD, v);
  reg_update(k, kept, wsum, TCC_KOP_ADD, wt ? wt : kc(k, dt, 1));
  expr_t res = reg_get(k, sum);
  if (mean) res = kbin(k, TCC_KOP_DIV, res, reg_get(k, wsum));
  tcc_k_store(k, top, y, exprs(k, 0), kcast(k, y->dtype, res));
  return NULL;
}

/* ---- attention ------------------------------------------------------------------------------------ */

/* A view of Q, K or V as [batch, heads, seq, head_size]. A 3-D tensor [batch, seq, heads * head_size] is
 * viewed the way ONNX 1.18's reference and function body do (and its conformance data encodes): a plain
 * row-major reshape of each batch's elements to [heads, seq, head_size], without a transpose. */
typedef struct {
  const tcc_kbuf_t *buf;
  expr_t heads, seq, head; /* i64 sizes */
} view_t;

static view_t view_of(tcc_kernel_t *k, const tcc_kbuf_t *b, int64_t heads_attr) {
  view_t v = {.buf = b};
  if (b->rank == 4) {
    v.heads = kdim(k, b->dims[1]), v.seq = kdim(k, b->dims[2]), v.head = kdim(k, b->dims[3]);
  } else {
    v.heads = kint(k, heads_attr), v.seq = kdim(k, b->dims[1]);
    v.head = kbin(k, TCC_KOP_FLOORDIV, kdim(k, b->dims[2]), v.heads);
  }
  return v;
}

/* The element (b, h, s, d) of a view, converted to dt. */
static expr_t view_load(tcc_kernel_t *k, const view_t *v, expr_t b, expr_t h, expr_t s, expr_t d, tcc_dtype_t dt) {
  if (v->buf->rank == 4) {
    expr_t idx[] = {b, h, s, d};
    return kload(k, v->buf, idx, dt);
  }
  expr_t hidden = kdim(k, v->buf->dims[2]);
  expr_t flat = kadd(k, kmul(k, kadd(k, kmul(k, h, v->seq), s), v->head), d);
  expr_t idx[] = {b, kbin(k, TCC_KOP_FLOORDIV, flat, hidden), kbin(k, TCC_KOP_FLOORMOD, flat, hidden)};
  return kload(k, v->buf, idx, dt);
}

/* The key (or value) sequence: the past cache (when given) followed by the current input. */
typedef struct {
  int count;
  view_t part[2];
  expr_t offset[2]; /* position of each part in the whole sequence */
} kv_t;

static kv_t kv_of(tcc_kernel_t *k, const tcc_kbuf_t *past, const tcc_kbuf_t *cur, int64_t heads_attr) {
  kv_t s = {0};
  if (past) {
    s.part[0] = view_of(k, past, 0);
    s.offset[0] = kint(k, 0);
    s.count = 1;
  }
  s.part[s.count] = view_of(k, cur, heads_attr);
  s.offset[s.count] = past ? s.part[0].seq : kint(k, 0);
  s.count++;
  return s;
}

/* present = concat(past, current) along the sequence axis, over [batch, kv_heads, total, head]. */
static tcc_status_t store_present(tcc_kernel_t *k, const kv_t *s, const tcc_kbuf_t *present) {
  for (int part = 0; part < s->count; part++) {
    const view_t *v = &s->part[part];
    expr_t b, g, j, d;
    tcc_kblock_t *body = loop(k, tcc_kernel_body(k), "b", kdim(k, present->dims[0]), &b);
    body = loop(k, body, "g", kdim(k, present->dims[1]), &g);
    body = loop(k, body, "j", v->seq, &j);
    body = loop(k, body, "d", kdim(k, present->dims[3]), &d);
    if (!body) return tcc_status_oom();
    expr_t idx[] = {b, g, kadd(k, s->offset[part], j), d};
    tcc_k_store(k, body, present, idx, kcast(k, present->dtype, view_load(k, v, b, g, j, d, present->dtype)));
  }
  return NULL;
}

/* Index of a broadcast operand dim `in` against an output dim of extent `out` at index o. */
static expr_t bcast_dim(tcc_kernel_t *k, const tcc_dim_t *in, expr_t out, expr_t o) {
  if (tcc_dim_is_const(in) && tcc_dim_value(in) == 1) return kint(k, 0);
  if (out->kind == TCC_KEXPR_DIM && out->dim == in) return o;
  return ksel(k, kbin(k, TCC_KOP_EQ, kdim(k, in), kint(k, 1)), kint(k, 0), o);
}

/* attention (opset 23), following the ONNX 1.18 definition its conformance data was generated with:
 *   Q, K, V as [batch, heads, seq, head] (view_of); K and V extended by past_key / past_value (present_*);
 *   query head h reads key/value head h mod kv_heads (the function body's Tile);
 *   s = (Q * sqrt(scale)) (K * sqrt(scale))^T, scale defaulting to 1 / sqrt(head);
 *   bias: -inf above the diagonal (j > i) when is_causal, plus the mask (float: added; bool: 0 / -inf),
 *   broadcast to [batch, q_heads, q_seq, total]; a mask shorter than total is padded with -inf;
 *   s + bias, then softcap * tanh(. / softcap) when softcap > 0, softmax, times V.
 * qk_matmul_output_mode 0..3 selects s, s + bias, the softcapped value or the softmax for output 3. */
static tcc_status_t attention(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                              tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *q = in[0], *kb = in[1], *vb = in[2];
  const tcc_kbuf_t *mask = node->num_inputs > 3 ? in[3] : NULL;
  const tcc_kbuf_t *pk = node->num_inputs > 4 ? in[4] : NULL, *pv = node->num_inputs > 5 ? in[5] : NULL;
  const tcc_kbuf_t *y = out[0], *qk_out = node->num_outputs > 3 ? out[3] : NULL;
  const tcc_kbuf_t *present_k = node->num_outputs > 1 ? out[1] : NULL;
  const tcc_kbuf_t *present_v = node->num_outputs > 2 ? out[2] : NULL;
  if (node->num_inputs > 6) return tcc_infer_unsupported(node, "input nonpad_kv_seqlen is not supported");
  TCC_RETURN_IF_ERROR(tcc_compute_need_float(node, q, "Q"));
  TCC_RETURN_IF_ERROR(tcc_compute_need_float(node, kb, "K"));
  TCC_RETURN_IF_ERROR(tcc_compute_need_float(node, vb, "V"));
  if (q->rank != kb->rank || q->rank != vb->rank || (q->rank != 3 && q->rank != 4))
    return tcc_infer_error(node, "Q, K and V must all have rank 3 or all rank 4");
  if (!pk != !pv) return tcc_infer_error(node, "past_key and past_value must be given together");
  if ((pk && pk->rank != 4) || (pv && pv->rank != 4))
    return tcc_infer_error(node, "past_key and past_value must have rank 4");
  if (mask && mask->dtype != TCC_DTYPE_BOOL && !tcc_dtype_is_float(mask->dtype))
    return tcc_infer_unsupported(node, "attn_mask of element type %s", tcc_dtype_name(mask->dtype));
  if (mask && (mask->rank < 1 || mask->rank > 4))
    return tcc_infer_error(node, "attn_mask must have rank 1 to 4, got %d", mask->rank);
  bool three = q->rank == 3;
  int64_t qh = tcc_node_attr_int(node, "q_num_heads", 0), kvh = tcc_node_attr_int(node, "kv_num_heads", 0);
  if (three && (qh <= 0 || kvh <= 0 || qh % kvh))
    return tcc_infer_error(node, "3-D inputs need positive q_num_heads and kv_num_heads, q a multiple of kv");
  int64_t mode = tcc_node_attr_int(node, "qk_matmul_output_mode", 0);
  if (mode < 0 || mode > 3) return tcc_infer_error(node, "invalid qk_matmul_output_mode %lld", (long long)mode);
  bool causal = tcc_node_attr_int(node, "is_causal", 0) != 0;
  double softcap = tcc_node_attr_float(node, "softcap", 0.0);
  const tcc_attr_t *scale_attr = tcc_node_attr(node, "scale");
  int64_t precision = tcc_node_attr_int(node, "softmax_precision", 0);
  tcc_dtype_t dt = acc_type(q->dtype);
  if (precision == TCC_DTYPE_F64) dt = TCC_DTYPE_F64;
  else if (precision && !tcc_dtype_is_float((tcc_dtype_t)precision))
    return tcc_infer_error(node, "softmax_precision %lld is not a floating-point type", (long long)precision);

  view_t qv = view_of(k, q, qh);
  kv_t keys = kv_of(k, pk, kb, kvh), values = kv_of(k, pv, vb, kvh);
  if (present_k) TCC_RETURN_IF_ERROR(store_present(k, &keys, present_k));
  if (present_v) TCC_RETURN_IF_ERROR(store_present(k, &values, present_v));
  expr_t kv_heads = keys.part[keys.count - 1].heads, vhead = values.part[values.count - 1].head;
  const tcc_dim_t *total = three ? kb->dims[1] : kb->dims[2];
  if (pk) total = tcc_dim_add(k->module, pk->dims[2], total);
  expr_t total_e = kdim(k, total);

  /* sqrt(scale), applied to both Q and K */
  expr_t sq;
  if (scale_attr) sq = kc(k, dt, sqrt((double)(float)tcc_node_attr_float(node, "scale", 1.0)));
  else sq = kun(k, TCC_KOP_SQRT, kun(k, TCC_KOP_RSQRT, kcast(k, dt, qv.head)));

  expr_t b, h, i;
  tcc_kblock_t *row = loop(k, tcc_kernel_body(k), "b", kdim(k, q->dims[0]), &b);
  row = loop(k, row, "h", qv.heads, &h);
  row = loop(k, row, "i", qv.seq, &i);
  tcc_kbuf_t *scores = tcc_kernel_add_local(k, "scores", TCC_KBUF_LOCAL, dt, 1, &total);
  if (!row || !scores) return tcc_status_oom();
  tcc_k_alloc(k, row, scores);
  expr_t g = kbin(k, TCC_KOP_FLOORMOD, h, kv_heads);
  tcc_kbuf_t *acc = reg_new(k, row, "acc", kc(k, dt, 0));
  sq = reg_get(k, reg_new(k, row, "sq", sq));

  /* scores[j] = (q * sq) . (k_j * sq) */
  for (int part = 0; part < keys.count; part++) {
    const view_t *kp = &keys.part[part];
    expr_t j, d;
    tcc_kblock_t *lj = loop(k, row, "j", kp->seq, &j);
    reg_set(k, lj, acc, kc(k, dt, 0));
    tcc_kblock_t *ld = loop(k, lj, "d", qv.head, &d);
    if (!ld) return tcc_status_oom();
    expr_t qe = kmul(k, view_load(k, &qv, b, h, i, d, dt), sq), ke = kmul(k, view_load(k, kp, b, g, j, d, dt), sq);
    reg_update(k, ld, acc, TCC_KOP_ADD, kmul(k, qe, ke));
    expr_t at[] = {kadd(k, keys.offset[part], j)};
    tcc_k_store(k, lj, scores, at, reg_get(k, acc));
  }

  /* bias, softcap, qk outputs of modes 0..2, and the row maximum */
  tcc_kbuf_t *mx = reg_new(k, row, "max", kc(k, dt, -INFINITY));
  expr_t j;
  tcc_kblock_t *lj = loop(k, row, "j", total_e, &j);
  if (!lj) return tcc_status_oom();
  expr_t at[] = {j}, qki[] = {b, h, i, j};
  expr_t s = tcc_k_load(k, scores, at);
  if (qk_out && mode == 0) tcc_k_store(k, lj, qk_out, qki, kcast(k, qk_out->dtype, s));
  if (causal || mask) {
    expr_t bias0 = causal ? ksel(k, kbin(k, TCC_KOP_GT, j, i), kc(k, dt, -INFINITY), kc(k, dt, 0))
                          : kc(k, dt, 0);
    tcc_kbuf_t *bias = reg_new(k, lj, "bias", bias0);
    if (mask) {
      expr_t full[] = {b, h, i, j}, ext[] = {kdim(k, q->dims[0]), qv.heads, qv.seq, total_e};
      expr_t *mi = exprs(k, mask->rank);
      if (!mi) return tcc_status_oom();
      for (int d = 0; d < mask->rank - 1; d++) {
        int o = 4 - mask->rank + d;
        mi[d] = bcast_dim(k, mask->dims[d], ext[o], full[o]);
      }
      const tcc_dim_t *last = mask->dims[mask->rank - 1];
      tcc_kblock_t *inside = lj, *pad = NULL;
      if (tcc_dim_is_const(last) && tcc_dim_value(last) == 1) {
        mi[mask->rank - 1] = kint(k, 0);
      } else {
        mi[mask->rank - 1] = j;
        if (last != total) inside = tcc_k_if(k, lj, kbin(k, TCC_KOP_LT, j, kdim(k, last)), &pad);
      }
      if (!inside) return tcc_status_oom();
      expr_t add = mask->dtype == TCC_DTYPE_BOOL
                       ? ksel(k, tcc_k_load(k, mask, mi), kc(k, dt, 0), kc(k, dt, -INFINITY))
                       : kload(k, mask, mi, dt);
      reg_update(k, inside, bias, TCC_KOP_ADD, add);
      if (pad) reg_set(k, pad, bias, kc(k, dt, -INFINITY));
    }
    s = kadd(k, s, reg_get(k, bias));
  }
  if (qk_out && mode == 1) tcc_k_store(k, lj, qk_out, qki, kcast(k, qk_out->dtype, s));
  if (softcap > 0)
    s = kmul(k, kc(k, dt, softcap), kun(k, TCC_KOP_TANH, kbin(k, TCC_KOP_DIV, s, kc(k, dt, softcap))));
  if (qk_out && mode == 2) tcc_k_store(k, lj, qk_out, qki, kcast(k, qk_out->dtype, s));
  tcc_k_store(k, lj, scores, at, s);
  reg_update(k, lj, mx, TCC_KOP_MAX, tcc_k_load(k, scores, at));

  /* softmax over the row */
  tcc_kbuf_t *sum = reg_new(k, row, "sum", kc(k, dt, 0));
  lj = loop(k, row, "j", total_e, &j);
  if (!lj) return tcc_status_oom();
  at[0] = j;
  expr_t e = kun(k, TCC_KOP_EXP, ksub(k, tcc_k_load(k, scores, at), reg_get(k, mx)));
  tcc_k_store(k, lj, scores, at, e);
  reg_update(k, lj, sum, TCC_KOP_ADD, tcc_k_load(k, scores, at));
  lj = loop(k, row, "j", total_e, &j);
  if (!lj) return tcc_status_oom();
  at[0] = j;
  tcc_k_store(k, lj, scores, at, kbin(k, TCC_KOP_DIV, tcc_k_load(k, scores, at), reg_get(k, sum)));
  if (qk_out && mode == 3) {
    expr_t qi[] = {b, h, i, j};
    tcc_k_store(k, lj, qk_out, qi, kload(k, scores, at, qk_out->dtype));
  }

  /* y = probabilities . V */
  expr_t dv;
  tcc_kblock_t *ld = loop(k, row, "dv", vhead, &dv);
  if (!ld) return tcc_status_oom();
  reg_set(k, ld, acc, kc(k, dt, 0));
  for (int part = 0; part < values.count; part++) {
    const view_t *vp = &values.part[part];
    expr_t t;
    tcc_kblock_t *lt = loop(k, ld, "t", vp->seq, &t);
    if (!lt) return tcc_status_oom();
    expr_t pt[] = {kadd(k, values.offset[part], t)};
    reg_update(k, lt, acc, TCC_KOP_ADD, kmul(k, tcc_k_load(k, scores, pt), view_load(k, vp, b, g, t, dv, dt)));
  }
  if (three) {
    expr_t yi[] = {b, i, kadd(k, kmul(k, h, vhead), dv)};
    tcc_k_store(k, ld, y, yi, kcast(k, y->dtype, reg_get(k, acc)));
  } else {
    expr_t yi[] = {b, h, i, dv};
    tcc_k_store(k, ld, y, yi, kcast(k, y->dtype, reg_get(k, acc)));
  }
  return NULL;
}

/* ---- rotary embedding ----------------------------------------------------------------------------- */

/* rotary_embedding (opset 23): x is [batch, heads, seq, head] or [batch, seq, heads * head] (num_heads);
 * the first rotary_embedding_dim (default head) elements of each head are rotated by the angle whose
 * cos / sin are cache[position_ids[b, s], k] (or cache[b, s, k] without position ids), k < dim / 2:
 * pairs (x[k], x[k + dim/2]), or (x[2k], x[2k+1]) when interleaved, become (c x1 - s x2, s x1 + c x2);
 * the remaining elements are copied. */
static tcc_status_t rotary_embedding(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                     tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *cosc = in[1], *sinc = in[2], *pos = node->num_inputs > 3 ? in[3] : NULL;
  const tcc_kbuf_t *y = out[0];
  TCC_RETURN_IF_ERROR(tcc_compute_need_float(node, x, "input"));
  TCC_RETURN_IF_ERROR(tcc_compute_need_float(node, cosc, "cos_cache"));
  TCC_RETURN_IF_ERROR(tcc_compute_need_float(node, sinc, "sin_cache"));
  if (x->rank != 3 && x->rank != 4) return tcc_infer_error(node, "input must have rank 3 or 4, got %d", x->rank);
  if (pos && (!tcc_dtype_is_int(pos->dtype) || pos->rank != 2))
    return tcc_infer_error(node, "position_ids must be an integer tensor [batch, seq]");
  int want = pos ? 2 : 3;
  if (cosc->rank != want || sinc->rank != want)
    return tcc_infer_error(node, "cos_cache and sin_cache must have rank %d %s position_ids", want,
                           pos ? "with" : "without");
  bool three = x->rank == 3, interleaved = tcc_node_attr_int(node, "interleaved", 0) != 0;
  int64_t heads = tcc_node_attr_int(node, "num_heads", 0), rdim = tcc_node_attr_int(node, "rotary_embedding_dim", 0);
  if (three && heads <= 0) return tcc_infer_error(node, "3-D input needs a positive num_heads");
  if (rdim < 0 || rdim % 2) return tcc_infer_error(node, "rotary_embedding_dim must be even and non-negative");
  const tcc_dim_t *hd = three ? x->dims[2] : x->dims[3];
  if (tcc_dim_is_const(hd)) {
    int64_t head_size = tcc_dim_value(hd) / (three ? heads : 1);
    if (rdim > head_size || (!rdim && head_size % 2))
      return tcc_infer_error(node, "rotary_embedding_dim %lld does not fit head size %lld", (long long)rdim,
                             (long long)head_size);
  }
  tcc_dtype_t dt = acc_type(x->dtype);
  expr_t nh = three ? kint(k, heads) : kdim(k, x->dims[1]), seq = kdim(k, x->dims[three ? 1 : 2]);
  expr_t head = three ? kbin(k, TCC_KOP_FLOORDIV, kdim(k, x->dims[2]), nh) : kdim(k, x->dims[3]);
  expr_t rot = rdim ? kint(k, rdim) : head, half = kbin(k, TCC_KOP_FLOORDIV, rot, kint(k, 2));

  expr_t b, h, s, kk, r;
  tcc_kblock_t *body = loop(k, tcc_kernel_body(k), "b", kdim(k, x->dims[0]), &b);
  body = loop(k, body, "h", nh, &h);
  body = loop(k, body, "s", seq, &s);
  if (!body) return tcc_status_oom();
  /* the index of element d of head h at (b, s) */
#define XI(d) (three ? (expr_t[]){b, s, kadd(k, kmul(k, h, head), (d))} : (expr_t[]){b, h, s, (d)})
  tcc_kblock_t *lk = loop(k, body, "k", half, &kk);
  if (!lk) return tcc_status_oom();
  expr_t ci[3];
  int nci = 0;
  if (pos) {
    expr_t pi[] = {b, s};
    ci[nci++] = kload(k, pos, pi, TCC_DTYPE_I64);
  } else {
    ci[nci++] = b, ci[nci++] = s;
  }
  ci[nci++] = kk;
  expr_t c = kload(k, cosc, ci, dt), sn = kload(k, sinc, ci, dt);
  expr_t d1 = interleaved ? kmul(k, kk, kint(k, 2)) : kk;
  expr_t d2 = interleaved ? kadd(k, d1, kint(k, 1)) : kadd(k, kk, half);
  expr_t *i1 = XI(d1), *i2 = XI(d2);
  expr_t x1 = kload(k, x, i1, dt), x2 = kload(k, x, i2, dt);
  tcc_k_store(k, lk, y, i1, kcast(k, y->dtype, ksub(k, kmul(k, c, x1), kmul(k, sn, x2))));
  tcc_k_store(k, lk, y, i2, kcast(k, y->dtype, kadd(k, kmul(k, sn, x1), kmul(k, c, x2))));
  tcc_kblock_t *lr = loop(k, body, "r", ksub(k, head, rot), &r);
  if (!lr) return tcc_status_oom();
  expr_t *ir = XI(kadd(k, rot, r));
  tcc_k_store(k, lr, y, ir, tcc_k_load(k, x, ir));
#undef XI
  return NULL;
}

const tcc_compute_entry_t tcc_compute_loss_defs[] = {
    {TCC_OP_NEGATIVE_LOG_LIKELIHOOD_LOSS, loss},
    {TCC_OP_SOFTMAX_CROSS_ENTROPY_LOSS, loss},
    {TCC_OP_ATTENTION, attention},
    {TCC_OP_ROTARY_EMBEDDING, rotary_embedding},
    {TCC_OP_COUNT, NULL},
};
