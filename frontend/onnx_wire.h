/* Protobuf wire-level preprocessing of ONNX models.
 *
 * Weights make up almost all of a model's bytes, and protobuf-c would copy every raw_data field into
 * its own allocation. tcc_onnx_wire_slim copies the model's message structure without those fields:
 * each TensorProto.raw_data is replaced by a varint field TCC_ONNX_RAW_REF_FIELD holding an index into
 * `refs`, which records where the bytes are in the original buffer. Constant data then points straight
 * into the (mapped) file: weights are never held twice and pages are touched only when read.
 */
#ifndef TCC_FRONTEND_ONNX_WIRE_H
#define TCC_FRONTEND_ONNX_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "base/alloc.h"
#include "base/status.h"

#define TCC_ONNX_RAW_REF_FIELD 1000

typedef struct {
  size_t offset, size;
} tcc_onnx_raw_ref_t;

typedef struct {
  uint8_t *data; /* the slimmed ModelProto */
  size_t size, capacity;
  tcc_onnx_raw_ref_t *refs;
  size_t num_refs, cap_refs;
  tcc_allocator_t allocator;
} tcc_onnx_slim_t;

/* Validates the wire format of a ModelProto along the paths that can hold tensors and writes the slim
 * copy. On success the caller owns `slim` and releases it with tcc_onnx_slim_free. */
TCC_MUST_USE tcc_status_t tcc_onnx_wire_slim(const uint8_t *data, size_t size, tcc_allocator_t allocator,
                                             tcc_onnx_slim_t *slim);
void tcc_onnx_slim_free(tcc_onnx_slim_t *slim);

#endif
