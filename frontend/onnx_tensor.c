/* ONNX TensorProto / SparseTensorProto -> tcc_tensor_t: dtype and shape checks, raw data (slim
 * references, unpacked bytes, external files), typed fields, strings, sparse densification. */
#include "frontend/onnx_tensor.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/external_data.h"

static const char *str(const char *s) { return s ? s : ""; }

static tcc_status_t model_error(const char *fmt, ...) TCC_PRINTF(1, 2);
static tcc_status_t model_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tcc_status_t st = tcc_status_makev(TCC_INVALID_MODEL, fmt, ap);
  va_end(ap);
  return st;
}

/* Raw bytes of tp, if it has any: a slim reference (pointing into the model, *copy = false) or the
 * raw_data protobuf-c unpacked (owned by the message, *copy = true). */
static bool raw_bytes(const tcc_onnx_tensor_source_t *src, const Onnx__TensorProto *tp, const void **data,
                      size_t *size, bool *copy) {
  for (unsigned i = 0; src->slim && i < tp->base.n_unknown_fields; i++) {
    const ProtobufCMessageUnknownField *f = &tp->base.unknown_fields[i];
    if (f->tag != TCC_ONNX_RAW_REF_FIELD || f->wire_type != PROTOBUF_C_WIRE_TYPE_VARINT) continue;
    uint64_t index = 0;
    for (size_t k = 0; k < f->len && k < 10; k++) index |= (uint64_t)(f->data[k] & 0x7f) << (7 * k);
    if (index >= src->slim->num_refs) return false;
    *data = src->bytes + src->slim->refs[index].offset;
    *size = src->slim->refs[index].size;
    *copy = false;
    return true;
  }
  if (tp->has_raw_data) {
    *data = tp->raw_data.data;
    *size = tp->raw_data.len;
    *copy = true;
    return true;
  }
  return false;
}

static tcc_status_t external_bytes(const tcc_onnx_tensor_source_t *src, const Onnx__TensorProto *tp,
                                   const void **data, size_t *size) {
  const char *location = NULL;
  int64_t offset = 0, length = -1;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const char *k = str(tp->external_data[i]->key), *v = str(tp->external_data[i]->value);
    char *end;
    if (strcmp(k, "location") == 0) location = v;
    else if (strcmp(k, "offset") == 0 || strcmp(k, "length") == 0) {
      errno = 0;
      long long n = strtoll(v, &end, 10);
      if (*v == 0 || *end || errno || n < 0)
        return model_error("tensor '%s': external data %s '%s' is not a non-negative integer", str(tp->name), k, v);
      *(strcmp(k, "offset") == 0 ? &offset : &length) = n;
    }
  }
  if (!location) return model_error("tensor '%s' is stored externally but has no location", str(tp->name));
  if (!src->mapped)
    return tcc_status_make(TCC_UNSUPPORTED, "tensor '%s' keeps its data in the external file '%s'; a standalone "
                           "tensor file must hold its data (external data is read only for tensors of a model)",
                           str(tp->name), location);
  tcc_status_t st = tcc_external_data_map(src->m, src->mapped, src->model_dir, location, offset, length, data, size);
  return st ? tcc_status_annotate(st, "tensor '%s': ", str(tp->name)) : NULL;
}

/* Copies n typed elements of `elem` bytes each (the low bytes of wider protobuf fields, little-endian). */
static void *narrow_copy(tcc_module_t *m, const void *src, size_t src_elem, size_t n, size_t elem) {
  uint8_t *dst = tcc_module_alloc(m, n > 0 ? n * elem : 1);
  if (!dst) return NULL;
  for (size_t i = 0; i < n; i++) memcpy(dst + i * elem, (const uint8_t *)src + i * src_elem, elem);
  return dst;
}

tcc_status_t tcc_onnx_tensor_convert(const tcc_onnx_tensor_source_t *src, const Onnx__TensorProto *tp,
                                     tcc_tensor_t **out) {
  tcc_module_t *m = src->m;
  const char *name = str(tp->name);
  int code = tp->has_data_type ? tp->data_type : 0;
  if (!tcc_dtype_is_valid(code))
    return tcc_status_make(code == 0 ? TCC_INVALID_MODEL : TCC_UNSUPPORTED, "tensor '%s' has %s data type %d", name,
                           code == 0 ? "an undefined" : "an unknown", code);
  tcc_dtype_t dt = (tcc_dtype_t)code;
  if (tp->n_dims > 64) return model_error("tensor '%s' has rank %zu (more than 64)", name, tp->n_dims);
  for (size_t i = 0; i < tp->n_dims; i++)
    if (tp->dims[i] < 0) return model_error("tensor '%s' has negative dim %lld", name, (long long)tp->dims[i]);
  if (tp->segment) return tcc_status_make(TCC_UNSUPPORTED, "tensor '%s' is segmented", name);
  /* Shape first, storage attached below. */
  tcc_tensor_t *t = tcc_module_alloc(m, sizeof *t);
  int64_t *dims = tcc_module_alloc(m, (tp->n_dims + 1) * sizeof *dims);
  if (!t || !dims) return tcc_status_oom();
  int64_t numel = 1;
  for (size_t i = 0; i < tp->n_dims; i++) {
    if (tp->dims[i] && numel > INT64_MAX / tp->dims[i]) return model_error("tensor '%s' has too many elements", name);
    numel *= tp->dims[i];
    dims[i] = tp->dims[i];
  }
  *t = (tcc_tensor_t){dt, (int)tp->n_dims, dims, numel, NULL, 0};
  int64_t want = dt == TCC_DTYPE_STRING ? -1 : tcc_dtype_storage_bytes(dt, numel);
  if (dt != TCC_DTYPE_STRING && want < 0) return model_error("tensor '%s' is too large", name);

  const void *raw = NULL;
  size_t raw_size = 0;
  bool copy = false;
  bool external = tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  if (external) TCC_RETURN_IF_ERROR(external_bytes(src, tp, &raw, &raw_size));
  if (external || raw_bytes(src, tp, &raw, &raw_size, &copy)) {
    if (dt == TCC_DTYPE_STRING) return model_error("string tensor '%s' cannot use raw data", name);
    if (raw_size != (size_t)want)
      return model_error("tensor '%s': data has %zu bytes but %s[%lld elements] needs %lld", name, raw_size,
                         tcc_dtype_name(dt), (long long)numel, (long long)want);
    if (copy) {
      void *data = tcc_module_alloc(m, raw_size ? raw_size : 1);
      if (!data) return tcc_status_oom();
      if (raw_size) memcpy(data, raw, raw_size);
      raw = data;
    }
    t->data = raw;
    t->nbytes = raw_size;
    *out = t;
    return NULL;
  }

  /* Typed fields: which one carries the data, and how many protobuf values per element. */
  const void *data = NULL;
  size_t count = 0, src_elem = 0, elem = (size_t)(tcc_dtype_bits(dt) / 8);
  int64_t expect = numel;
  switch (dt) {
    case TCC_DTYPE_F32: data = tp->float_data; count = tp->n_float_data; src_elem = 4; break;
    case TCC_DTYPE_C64: data = tp->float_data; count = tp->n_float_data; src_elem = 4; elem = 4; expect = 2 * numel; break;
    case TCC_DTYPE_F64: data = tp->double_data; count = tp->n_double_data; src_elem = 8; break;
    case TCC_DTYPE_C128: data = tp->double_data; count = tp->n_double_data; src_elem = 8; elem = 8; expect = 2 * numel; break;
    case TCC_DTYPE_I64: data = tp->int64_data; count = tp->n_int64_data; src_elem = 8; break;
    case TCC_DTYPE_U32:
    case TCC_DTYPE_U64: data = tp->uint64_data; count = tp->n_uint64_data; src_elem = 8; break;
    case TCC_DTYPE_I4:
    case TCC_DTYPE_U4:
    case TCC_DTYPE_F4E2M1: /* int32_data holds the packed bytes */
      data = tp->int32_data; count = tp->n_int32_data; src_elem = 4; elem = 1; expect = numel / 2 + numel % 2; break;
    case TCC_DTYPE_STRING: {
      if (tp->n_string_data != (size_t)numel)
        return model_error("tensor '%s' has %zu strings for %lld elements", name, tp->n_string_data, (long long)numel);
      tcc_bytes_t *s = tcc_module_alloc(m, (size_t)(numel ? numel : 1) * sizeof *s);
      if (!s) return tcc_status_oom();
      for (int64_t i = 0; i < numel; i++) {
        const char *bytes = (const char *)tp->string_data[i].data;
        char *dup = tcc_arena_strndup(&m->arena, bytes ? bytes : "", tp->string_data[i].len);
        if (!dup) return tcc_status_oom();
        s[i] = (tcc_bytes_t){dup, tp->string_data[i].len};
      }
      t->data = s;
      t->nbytes = (size_t)numel * sizeof *s;
      *out = t;
      return NULL;
    }
    default: data = tp->int32_data; count = tp->n_int32_data; src_elem = 4; break; /* 8/16-bit types */
  }
  if (count != (size_t)expect) {
    if (count == 0 && numel > 0) return model_error("tensor '%s' (%s, %lld elements) has no data", name, tcc_dtype_name(dt), (long long)numel);
    return model_error("tensor '%s' has %zu values for %lld elements of %s", name, count, (long long)numel, tcc_dtype_name(dt));
  }
  t->data = narrow_copy(m, data, src_elem, count, elem);
  t->nbytes = count * elem;
  if (!t->data) return tcc_status_oom();
  *out = t;
  return NULL;
}

tcc_status_t tcc_onnx_sparse_convert(const tcc_onnx_tensor_source_t *src, const Onnx__SparseTensorProto *sp,
                                     tcc_tensor_t **out) {
  if (!sp->values || !sp->indices) return model_error("sparse tensor without values or indices");
  tcc_tensor_t *values = NULL, *indices = NULL;
  TCC_RETURN_IF_ERROR(tcc_onnx_tensor_convert(src, sp->values, &values));
  TCC_RETURN_IF_ERROR(tcc_onnx_tensor_convert(src, sp->indices, &indices));
  const char *name = str(sp->values->name);
  if (values->dtype == TCC_DTYPE_STRING || tcc_dtype_bits(values->dtype) < 8)
    return tcc_status_make(TCC_UNSUPPORTED, "sparse tensor '%s' of %s", name, tcc_dtype_name(values->dtype));
  if (sp->n_dims > 64) return model_error("sparse tensor '%s' has rank %zu", name, sp->n_dims);
  tcc_tensor_t *t = tcc_tensor_create(src->m, values->dtype, (int)sp->n_dims, sp->dims);
  if (!t) return model_error("sparse tensor '%s' has invalid dims", name);
  int64_t nnz = values->numel, rank = (int64_t)sp->n_dims;
  bool linear = indices->rank == 1;
  if (values->rank != 1 || !(linear ? indices->dims[0] == nnz : indices->rank == 2 && indices->dims[0] == nnz && indices->dims[1] == rank))
    return model_error("sparse tensor '%s': indices shape does not match %lld values of rank %lld", name, (long long)nnz, (long long)rank);
  size_t elem = (size_t)tcc_dtype_bits(values->dtype) / 8;
  for (int64_t i = 0; i < nnz; i++) {
    int64_t pos = 0;
    if (linear) pos = tcc_tensor_get_int(indices, i);
    else
      for (int64_t d = 0; d < rank; d++) {
        int64_t k = tcc_tensor_get_int(indices, i * rank + d);
        if (k < 0 || k >= t->dims[d]) return model_error("sparse tensor '%s': index out of range", name);
        pos = pos * t->dims[d] + k;
      }
    if (pos < 0 || pos >= t->numel) return model_error("sparse tensor '%s': index %lld out of range", name, (long long)pos);
    memcpy((uint8_t *)t->data + (size_t)pos * elem, (const uint8_t *)values->data + (size_t)i * elem, elem);
  }
  *out = t;
  return NULL;
}

static void *pb_alloc(void *ctx, size_t size) {
  tcc_onnx_pb_allocator_t *a = ctx;
  void *p = tcc_alloc(a->allocator, size);
  if (!p) a->failed = true;
  return p;
}

static void pb_free(void *ctx, void *p) {
  tcc_onnx_pb_allocator_t *a = ctx;
  tcc_free(a->allocator, p);
}

void tcc_onnx_pb_allocator_init(tcc_onnx_pb_allocator_t *a, tcc_allocator_t allocator) {
  *a = (tcc_onnx_pb_allocator_t){allocator, false, {pb_alloc, pb_free, a}};
}
