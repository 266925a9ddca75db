/* Helpers shared by the host operators (ir/host_data.c, ir/host_string.c, ir/host_ml.c; defined in
 * ir/host_ops.c): element access over any dtype (strings, 4-bit types, unsigned 64-bit), a total order for
 * sorting, a stable sort of index arrays, output creation and string storage in a module's arena, and dtype
 * conversion with the kernel evaluator's casts.
 *
 * Statuses from host functions carry no node name: the evaluator annotates them with the node. */
#ifndef TCC_IR_HOST_UTIL_H
#define TCC_IR_HOST_UTIL_H

#include "ir/host_ops.h"

/* Element i of a STRING tensor. */
tcc_bytes_t tcc_host_str(const tcc_tensor_t *t, int64_t i);
/* Stores a copy of (data, size) in m's arena, NUL-terminated, as element i of the STRING tensor t.
 * false on allocation failure. */
bool tcc_host_set_str(tcc_module_t *m, tcc_tensor_t *t, int64_t i, const char *data, size_t size);
/* dst[di] = src[si] for tensors of the same dtype (strings are copied into m's arena). */
bool tcc_host_copy_elem(tcc_module_t *m, tcc_tensor_t *dst, int64_t di, const tcc_tensor_t *src, int64_t si);
/* Whether t's dtype has an order tcc_host_compare implements (numbers, bool, strings; not complex). */
bool tcc_host_orderable(tcc_dtype_t dtype);
/* <0, 0, >0 as a[i] is below, equal to or above b[j] (same dtype). NaN sorts above every number and
 * equals NaN, as numpy's sort places it; strings compare bytewise (code point order for UTF-8). */
int tcc_host_compare(const tcc_tensor_t *a, int64_t i, const tcc_tensor_t *b, int64_t j);
/* Whether element i of t is non-zero (non-empty for strings). */
bool tcc_host_nonzero(const tcc_tensor_t *t, int64_t i);

/* Stable merge sort of idx[0..n) by cmp(ctx, x, y) (< 0 when x goes first). false on allocation failure. */
typedef int (*tcc_host_cmp_fn_t)(void *ctx, int64_t x, int64_t y);
bool tcc_host_sort(int64_t *idx, int64_t n, tcc_host_cmp_fn_t cmp, void *ctx);

/* Creates output i of node in m (when the node has that output) with the given type: *out set to the
 * tensor, or NULL when the output is omitted. An error status when the tensor cannot be created. */
TCC_MUST_USE tcc_status_t tcc_host_output(const tcc_node_t *node, tcc_module_t *m, tcc_tensor_t **out, int i,
                                          tcc_dtype_t dtype, int rank, const int64_t *dims);
/* Zeroed scratch memory of n elements of size bytes in m's arena (never NULL for n == 0). */
void *tcc_host_scratch(tcc_module_t *m, int64_t n, size_t size);

/* Converts every element of src into dst (same element count, numeric dtypes) by a kernel run through the
 * kernel evaluator, so its casts apply ONNX's rounding, and saturation to float8 when saturate. */
TCC_MUST_USE tcc_status_t tcc_host_convert(tcc_module_t *m, const tcc_tensor_t *src, tcc_tensor_t *dst,
                                           bool saturate);

/* Row-major strides helpers: the product of dims[from..to). */
int64_t tcc_host_span(const int64_t *dims, int from, int to);
/* The broadcast source offset of flat output index o (out_rank dims) in a tensor of `rank` dims. */
int64_t tcc_host_broadcast_offset(int64_t o, int out_rank, const int64_t *out_dims, int rank, const int64_t *dims);
/* The numpy broadcast of two shapes into out (rank max); false when they do not broadcast. */
bool tcc_host_broadcast_shape(int ra, const int64_t *a, int rb, const int64_t *b, int *rank, int64_t *out);

/* Host functions (ir/host_data.c). */
tcc_status_t tcc_host_top_k(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m, tcc_tensor_t **out);
tcc_status_t tcc_host_non_zero(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                               tcc_tensor_t **out);
tcc_status_t tcc_host_unique(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m, tcc_tensor_t **out);
tcc_status_t tcc_host_compress(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                               tcc_tensor_t **out);
tcc_status_t tcc_host_non_max_suppression(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                          tcc_tensor_t **out);
/* Host functions (ir/host_string.c). */
tcc_status_t tcc_host_string_concat(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                    tcc_tensor_t **out);
tcc_status_t tcc_host_string_split(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                   tcc_tensor_t **out);
tcc_status_t tcc_host_string_normalizer(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                        tcc_tensor_t **out);
tcc_status_t tcc_host_regex_full_match(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                       tcc_tensor_t **out);
tcc_status_t tcc_host_cast(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m, tcc_tensor_t **out);
tcc_status_t tcc_host_equal(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m, tcc_tensor_t **out);
tcc_status_t tcc_host_tfidf_vectorizer(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                       tcc_tensor_t **out);

#endif
