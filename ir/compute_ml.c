/* Compute definitions of the ai.onnx.ml operators that are plain loops over numbers: Binarizer and
 * ArrayFeatureExtractor. LabelEncoder and TreeEnsemble are host operators (ir/host_ml.c), as is
 * ArrayFeatureExtractor over strings (this definition reports TCC_UNSUPPORTED for them). */
#include "ir/compute_defs.h"

/* Y = X > threshold ? 1 : 0 in X's type. The comparison runs in X's type for f32/f64 (the threshold is an
 * f32 attribute, exact in both), in f32 for the narrower floats and in f64 for integers. */
static tcc_status_t compute_binarizer(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                      tcc_kbuf_t *const *out) {
  tcc_dtype_t dt = in[0]->dtype;
  if (!tcc_dtype_is_float(dt) && !tcc_dtype_is_int(dt))
    return tcc_compute_unsupported(node, "Binarizer takes numeric tensors only");
  tcc_dtype_t cmp = dt == TCC_DTYPE_F32 || dt == TCC_DTYPE_F64 ? dt : tcc_dtype_is_float(dt) ? TCC_DTYPE_F32 : TCC_DTYPE_F64;
  double threshold = tcc_node_attr_float(node, "threshold", 0.0);
  const tcc_kexpr_t **idx;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), out[0]->rank, out[0]->dims, &idx);
  if (!body) return tcc_status_oom();
  expr_t x = tcc_k_load(k, in[0], idx);
  if (cmp != dt) x = kcast(k, cmp, x);
  expr_t above = kbin(k, TCC_KOP_GT, x, kc(k, cmp, threshold));
  tcc_k_store(k, body, out[0], idx, ksel(k, above, kc(k, dt, 1), kc(k, dt, 0)));
  return tcc_module_check(k->module);
}

/* Z[..., j] = X[..., Y.flat[j]] (negative indices count from the end); a 1-D X is read as [1, C]. */
static tcc_status_t compute_array_feature_extractor(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                                    tcc_kbuf_t *const *out) {
  const tcc_kbuf_t *x = in[0], *y = in[1], *z = out[0];
  if (x->dtype == TCC_DTYPE_STRING)
    return tcc_compute_unsupported(node, "string tensors are handled by the host operator");
  if (y->dtype != TCC_DTYPE_I64) return tcc_compute_unsupported(node, "indices must be int64");
  const tcc_kexpr_t **idx;
  tcc_kblock_t *body = tcc_compute_loops(k, tcc_kernel_body(k), z->rank, z->dims, &idx);
  expr_t *yi = exprs(k, y->rank), *xi = exprs(k, x->rank);
  if (!body || !yi || !xi) return tcc_status_oom();
  expr_t j = idx[z->rank - 1]; /* row-major position in Y */
  for (int d = y->rank - 1; d > 0; d--) {
    expr_t size = kdim(k, y->dims[d]);
    yi[d] = kbin(k, TCC_KOP_FLOORMOD, j, size);
    j = kbin(k, TCC_KOP_FLOORDIV, j, size);
  }
  if (y->rank > 0) yi[0] = j;
  expr_t v = tcc_k_load(k, y, yi), c = kdim(k, x->dims[x->rank - 1]);
  for (int d = 0; d < x->rank - 1; d++) xi[d] = idx[d];
  xi[x->rank - 1] = ksel(k, kbin(k, TCC_KOP_LT, v, kint(k, 0)), kbin(k, TCC_KOP_ADD, v, c), v);
  tcc_k_store(k, body, z, idx, tcc_k_load(k, x, xi));
  return tcc_module_check(k->module);
}

const tcc_compute_entry_t tcc_compute_ml_defs[] = {
    {TCC_OP_BINARIZER, compute_binarizer},
    {TCC_OP_ARRAY_FEATURE_EXTRACTOR, compute_array_feature_extractor},
    {TCC_OP_COUNT, NULL},
};
