/* Host operator dispatch (contract in ir/host_ops.h) and the helpers of ir/host_util.h. */
#include "ir/host_ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/host_util.h"
#include "ir/kernel_eval.h"

typedef struct {
  tcc_op_t op;
  tcc_host_fn_t fn;
} host_entry_t;

/* ir/host_ml.c */
tcc_status_t tcc_host_array_feature_extractor(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                              tcc_tensor_t **out);
tcc_status_t tcc_host_label_encoder(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                    tcc_tensor_t **out);
tcc_status_t tcc_host_tree_ensemble(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                    tcc_tensor_t **out);

static const host_entry_t host_ops[] = {
    {TCC_OP_TOP_K, tcc_host_top_k},
    {TCC_OP_NON_ZERO, tcc_host_non_zero},
    {TCC_OP_UNIQUE, tcc_host_unique},
    {TCC_OP_COMPRESS, tcc_host_compress},
    {TCC_OP_NON_MAX_SUPPRESSION, tcc_host_non_max_suppression},
    {TCC_OP_STRING_CONCAT, tcc_host_string_concat},
    {TCC_OP_STRING_SPLIT, tcc_host_string_split},
    {TCC_OP_STRING_NORMALIZER, tcc_host_string_normalizer},
    {TCC_OP_REGEX_FULL_MATCH, tcc_host_regex_full_match},
    {TCC_OP_CAST, tcc_host_cast},
    {TCC_OP_CAST_LIKE, tcc_host_cast},
    {TCC_OP_EQUAL, tcc_host_equal},
    {TCC_OP_TFIDF_VECTORIZER, tcc_host_tfidf_vectorizer},
    {TCC_OP_ARRAY_FEATURE_EXTRACTOR, tcc_host_array_feature_extractor},
    {TCC_OP_LABEL_ENCODER, tcc_host_label_encoder},
    {TCC_OP_TREE_ENSEMBLE, tcc_host_tree_ensemble},
    {TCC_OP_COUNT, NULL},
};

tcc_host_fn_t tcc_host_op_find(tcc_op_t op) {
  for (const host_entry_t *e = host_ops; e->fn; e++)
    if (e->op == op) return e->fn;
  return NULL;
}

/* ---- element access -------------------------------------------------------------------------------- */

tcc_bytes_t tcc_host_str(const tcc_tensor_t *t, int64_t i) {
  tcc_bytes_t b;
  memcpy(&b, (const char *)t->data + (size_t)i * sizeof b, sizeof b);
  if (!b.data) b.data = "", b.size = 0;
  return b;
}

bool tcc_host_set_str(tcc_module_t *m, tcc_tensor_t *t, int64_t i, const char *data, size_t size) {
  char *copy = tcc_module_alloc(m, size + 1);
  if (!copy) return false;
  if (size) memcpy(copy, data, size);
  copy[size] = 0;
  tcc_bytes_t b = {copy, size};
  memcpy((char *)t->data + (size_t)i * sizeof b, &b, sizeof b);
  return true;
}

bool tcc_host_copy_elem(tcc_module_t *m, tcc_tensor_t *dst, int64_t di, const tcc_tensor_t *src, int64_t si) {
  if (src->dtype == TCC_DTYPE_STRING) {
    tcc_bytes_t b = tcc_host_str(src, si);
    return tcc_host_set_str(m, dst, di, b.data, b.size);
  }
  int bits = tcc_dtype_bits(src->dtype);
  if (bits == 4) {
    const uint8_t *s = src->data;
    uint8_t *d = (uint8_t *)dst->data;
    unsigned nib = (si & 1) ? s[si / 2] >> 4 : s[si / 2] & 15;
    d[di / 2] = (di & 1) ? (uint8_t)((d[di / 2] & 0x0f) | (nib << 4)) : (uint8_t)((d[di / 2] & 0xf0) | nib);
    return true;
  }
  size_t size = (size_t)bits / 8;
  memcpy((char *)dst->data + (size_t)di * size, (const char *)src->data + (size_t)si * size, size);
  return true;
}

bool tcc_host_orderable(tcc_dtype_t dtype) {
  return dtype == TCC_DTYPE_STRING || dtype == TCC_DTYPE_BOOL || tcc_dtype_is_int(dtype) || tcc_dtype_is_float(dtype);
}

static uint64_t get_u64(const tcc_tensor_t *t, int64_t i) {
  uint64_t v;
  memcpy(&v, (const char *)t->data + (size_t)i * 8, 8);
  return v;
}

int tcc_host_compare(const tcc_tensor_t *a, int64_t i, const tcc_tensor_t *b, int64_t j) {
  if (a->dtype == TCC_DTYPE_STRING) {
    tcc_bytes_t x = tcc_host_str(a, i), y = tcc_host_str(b, j);
    size_t n = x.size < y.size ? x.size : y.size;
    int c = n ? memcmp(x.data, y.data, n) : 0;
    return c ? c : (x.size > y.size) - (x.size < y.size);
  }
  if (a->dtype == TCC_DTYPE_U64) {
    uint64_t x = get_u64(a, i), y = get_u64(b, j);
    return (x > y) - (x < y);
  }
  if (tcc_dtype_is_float(a->dtype)) {
    double x = tcc_tensor_get_float(a, i), y = tcc_tensor_get_float(b, j);
    if (isnan(x) || isnan(y)) return isnan(x) - isnan(y);
    return (x > y) - (x < y);
  }
  int64_t x = tcc_tensor_get_int(a, i), y = tcc_tensor_get_int(b, j);
  return (x > y) - (x < y);
}

bool tcc_host_nonzero(const tcc_tensor_t *t, int64_t i) {
  if (t->dtype == TCC_DTYPE_STRING) return tcc_host_str(t, i).size != 0;
  if (t->dtype == TCC_DTYPE_C64 || t->dtype == TCC_DTYPE_C128) {
    size_t size = (size_t)tcc_dtype_bits(t->dtype) / 8;
    const unsigned char *p = (const unsigned char *)t->data + (size_t)i * size;
    if (t->dtype == TCC_DTYPE_C64) {
      float re, im;
      memcpy(&re, p, 4), memcpy(&im, p + 4, 4);
      return re != 0 || im != 0;
    }
    double re, im;
    memcpy(&re, p, 8), memcpy(&im, p + 8, 8);
    return re != 0 || im != 0;
  }
  if (tcc_dtype_is_float(t->dtype)) return tcc_tensor_get_float(t, i) != 0;
  if (t->dtype == TCC_DTYPE_U64) return get_u64(t, i) != 0;
  return tcc_tensor_get_int(t, i) != 0;
}

/* ---- sorting --------------------------------------------------------------------------------------- */

static void merge_sort(int64_t *idx, int64_t *tmp, int64_t n, tcc_host_cmp_fn_t cmp, void *ctx) {
  if (n < 2) return;
  if (n <= 12) { /* insertion sort: stable */
    for (int64_t i = 1; i < n; i++) {
      int64_t x = idx[i], j = i;
      while (j > 0 && cmp(ctx, x, idx[j - 1]) < 0) idx[j] = idx[j - 1], j--;
      idx[j] = x;
    }
    return;
  }
  int64_t h = n / 2;
  merge_sort(idx, tmp, h, cmp, ctx);
  merge_sort(idx + h, tmp, n - h, cmp, ctx);
  int64_t a = 0, b = h, o = 0;
  while (a < h && b < n) tmp[o++] = cmp(ctx, idx[b], idx[a]) < 0 ? idx[b++] : idx[a++];
  while (a < h) tmp[o++] = idx[a++];
  while (b < n) tmp[o++] = idx[b++];
  memcpy(idx, tmp, (size_t)n * sizeof *idx);
}

bool tcc_host_sort(int64_t *idx, int64_t n, tcc_host_cmp_fn_t cmp, void *ctx) {
  if (n < 2) return true;
  int64_t *tmp = malloc((size_t)n * sizeof *tmp);
  if (!tmp) return false;
  merge_sort(idx, tmp, n, cmp, ctx);
  free(tmp);
  return true;
}

/* ---- outputs and shapes ---------------------------------------------------------------------------- */

tcc_status_t tcc_host_output(const tcc_node_t *node, tcc_module_t *m, tcc_tensor_t **out, int i, tcc_dtype_t dtype,
                             int rank, const int64_t *dims) {
  if (i >= node->num_outputs) return NULL;
  out[i] = NULL;
  if (!node->outputs[i]) return NULL;
  if (!(out[i] = tcc_tensor_create(m, dtype, rank, dims)))
    return m->failed ? tcc_status_oom() : tcc_status_make(TCC_INVALID_ARGUMENT, "output %d is too large", i);
  if (dtype == TCC_DTYPE_STRING)
    for (int64_t e = 0; e < out[i]->numel; e++)
      if (!tcc_host_set_str(m, out[i], e, "", 0)) return tcc_status_oom();
  return NULL;
}

void *tcc_host_scratch(tcc_module_t *m, int64_t n, size_t size) {
  if (n < 0 || (size && (uint64_t)n > SIZE_MAX / 2 / size)) return NULL;
  size_t bytes = (size_t)(n > 0 ? n : 1) * size;
  void *p = tcc_module_alloc(m, bytes);
  if (p) memset(p, 0, bytes);
  return p;
}

int64_t tcc_host_span(const int64_t *dims, int from, int to) {
  int64_t n = 1;
  for (int d = from; d < to; d++) n *= dims[d];
  return n;
}

int64_t tcc_host_broadcast_offset(int64_t o, int out_rank, const int64_t *out_dims, int rank, const int64_t *dims) {
  int64_t off = 0, stride = 1;
  for (int d = out_rank - 1; d >= 0; d--) {
    int64_t coord = o % out_dims[d];
    o /= out_dims[d];
    int sd = d - (out_rank - rank);
    if (sd < 0) continue;
    if (dims[sd] != 1) off += coord * stride;
    stride *= dims[sd];
  }
  return off;
}

bool tcc_host_broadcast_shape(int ra, const int64_t *a, int rb, const int64_t *b, int *rank, int64_t *out) {
  int r = ra > rb ? ra : rb;
  for (int d = 0; d < r; d++) {
    int64_t x = d - (r - ra) >= 0 ? a[d - (r - ra)] : 1, y = d - (r - rb) >= 0 ? b[d - (r - rb)] : 1;
    if (x != y && x != 1 && y != 1) return false;
    out[d] = x == 1 ? y : x;
  }
  *rank = r;
  return true;
}

/* ---- conversion ------------------------------------------------------------------------------------ */

static bool no_symbols(void *ctx, const char *name, int64_t *v) {
  (void)ctx, (void)name, (void)v;
  return false;
}

tcc_status_t tcc_host_convert(tcc_module_t *m, const tcc_tensor_t *src, tcc_tensor_t *dst, bool saturate) {
  if (src->numel == 0) return NULL;
  tcc_kernel_t *k = tcc_kernel_create(m, "host_convert");
  const tcc_dim_t *n = tcc_dim_const(m, src->numel);
  tcc_kbuf_t *a = k ? tcc_kernel_add_param(k, "x0", TCC_KBUF_INPUT, src->dtype, 1, &n) : NULL;
  tcc_kbuf_t *b = a ? tcc_kernel_add_param(k, "y0", TCC_KBUF_OUTPUT, dst->dtype, 1, &n) : NULL;
  const tcc_kvar_t *v = NULL;
  tcc_kblock_t *body = b ? tcc_k_for(k, tcc_kernel_body(k), "i", tcc_k_dim(k, n), TCC_KLOOP_SERIAL, &v) : NULL;
  if (body) {
    const tcc_kexpr_t *idx[1] = {tcc_k_var(k, v)};
    tcc_k_store(k, body, b, idx, tcc_k_cast(k, dst->dtype, tcc_k_load(k, a, idx), saturate));
  }
  TCC_RETURN_IF_ERROR(tcc_module_check(m));
  TCC_RETURN_IF_ERROR(tcc_kernel_verify(k));
  void *buffers[2] = {(void *)src->data, (void *)dst->data};
  return tcc_kernel_eval(k, buffers, no_symbols, NULL);
}
