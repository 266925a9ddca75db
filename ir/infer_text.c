/* Shape and dtype inference for string operators and ImageDecoder. */
#include <string.h>

#include "ir/infer.h"

static tcc_status_t set_output(tcc_node_t *node, int i, tcc_dtype_t dtype, int rank, const tcc_dim_t *const *dims) {
  if (i >= node->num_outputs || !node->outputs[i]) return NULL;
  return tcc_value_set_tensor(node->outputs[i], dtype, rank, dims);
}

static tcc_status_t require_string(const tcc_node_t *node, const tcc_value_t *x) {
  if (x->type.dtype != TCC_DTYPE_STRING && x->type.dtype != TCC_DTYPE_UNDEFINED)
    return tcc_infer_error(node, "input '%s' must be a string tensor, not %s", x->name, tcc_dtype_name(x->type.dtype));
  return NULL;
}

tcc_status_t tcc_infer_string_concat(tcc_node_t *node) {
  const tcc_value_t *a = tcc_infer_input(node, 0), *b = tcc_infer_input(node, 1);
  if (!a || !b) return set_output(node, 0, TCC_DTYPE_STRING, -1, NULL);
  TCC_RETURN_IF_ERROR(require_string(node, a));
  TCC_RETURN_IF_ERROR(require_string(node, b));
  const tcc_dim_t *dims[64];
  int rank;
  if (a->type.rank > 64 || b->type.rank > 64) return tcc_infer_unsupported(node, "rank above 64");
  TCC_RETURN_IF_ERROR(tcc_infer_broadcast(node, a->type.rank, a->type.dims, b->type.rank, b->type.dims, dims, &rank));
  return set_output(node, 0, TCC_DTYPE_STRING, rank, dims);
}

/* Y: the substrings, padded to the longest split ([..., ?]); Z: the number of substrings per element. */
tcc_status_t tcc_infer_string_split(tcc_node_t *node) {
  const tcc_value_t *x = tcc_infer_input(node, 0);
  if (!x) {
    TCC_RETURN_IF_ERROR(set_output(node, 0, TCC_DTYPE_STRING, -1, NULL));
    return set_output(node, 1, TCC_DTYPE_I64, -1, NULL);
  }
  TCC_RETURN_IF_ERROR(require_string(node, x));
  if (x->type.rank >= 64) return tcc_infer_unsupported(node, "rank above 63");
  const tcc_dim_t *dims[64];
  if (x->type.rank) memcpy(dims, x->type.dims, (size_t)x->type.rank * sizeof *dims);
  dims[x->type.rank] = tcc_dim_fresh(node->graph->module);
  TCC_RETURN_IF_ERROR(set_output(node, 0, TCC_DTYPE_STRING, x->type.rank + 1, dims));
  return set_output(node, 1, TCC_DTYPE_I64, x->type.rank, x->type.dims);
}

/* [C] or [1, C]; stopwords may remove elements, so C becomes unknown when any are given. */
tcc_status_t tcc_infer_string_normalizer(tcc_node_t *node) {
  const tcc_value_t *x = tcc_infer_input(node, 0);
  if (!x) return set_output(node, 0, TCC_DTYPE_STRING, -1, NULL);
  TCC_RETURN_IF_ERROR(require_string(node, x));
  if (x->type.rank != 1 && x->type.rank != 2)
    return tcc_infer_error(node, "input must be [C] or [1, C], got rank %d", x->type.rank);
  const tcc_attr_t *stop = tcc_node_attr(node, "stopwords");
  const tcc_dim_t *dims[2] = {x->type.dims[0], x->type.rank == 2 ? x->type.dims[1] : NULL};
  if (stop && stop->count > 0) dims[x->type.rank - 1] = tcc_dim_fresh(node->graph->module);
  return set_output(node, 0, TCC_DTYPE_STRING, x->type.rank, dims);
}

tcc_status_t tcc_infer_regex_full_match(tcc_node_t *node) {
  const tcc_value_t *x = tcc_infer_input(node, 0);
  if (!x) return set_output(node, 0, TCC_DTYPE_BOOL, -1, NULL);
  TCC_RETURN_IF_ERROR(require_string(node, x));
  return set_output(node, 0, TCC_DTYPE_BOOL, x->type.rank, x->type.dims);
}

/* [C] -> [K] and [N, C] -> [N, K] with K = max(ngram_indexes) + 1. */
tcc_status_t tcc_infer_tfidf_vectorizer(tcc_node_t *node) {
  const tcc_value_t *x = tcc_infer_input(node, 0);
  const int64_t *indexes;
  int64_t n, k = 0;
  if (!tcc_node_attr_ints(node, "ngram_indexes", &indexes, &n) || n == 0)
    return tcc_infer_error(node, "attribute 'ngram_indexes' is required");
  for (int64_t i = 0; i < n; i++) {
    if (indexes[i] < 0) return tcc_infer_error(node, "ngram_indexes has negative entry %lld", (long long)indexes[i]);
    if (indexes[i] + 1 > k) k = indexes[i] + 1;
  }
  if (!x) return set_output(node, 0, TCC_DTYPE_F32, -1, NULL);
  if (x->type.rank != 1 && x->type.rank != 2)
    return tcc_infer_error(node, "input must be [C] or [N, C], got rank %d", x->type.rank);
  const tcc_dim_t *dims[2] = {x->type.dims[0], tcc_dim_const(node->graph->module, k)};
  return x->type.rank == 1 ? set_output(node, 0, TCC_DTYPE_F32, 1, dims + 1) : set_output(node, 0, TCC_DTYPE_F32, 2, dims);
}

/* An encoded image (u8 bytes) -> u8 [H, W, C]; H and W are known only after decoding. */
tcc_status_t tcc_infer_image_decoder(tcc_node_t *node) {
  const char *format = tcc_node_attr_string(node, "pixel_format", "RGB");
  int channels = strcmp(format, "Grayscale") == 0 ? 1 : (strcmp(format, "RGB") == 0 || strcmp(format, "BGR") == 0) ? 3 : 0;
  if (!channels) return tcc_infer_error(node, "unknown pixel_format '%s' (RGB, BGR or Grayscale)", format);
  tcc_module_t *m = node->graph->module;
  const tcc_dim_t *dims[3] = {tcc_dim_fresh(m), tcc_dim_fresh(m), tcc_dim_const(m, channels)};
  return set_output(node, 0, TCC_DTYPE_U8, 3, dims);
}
