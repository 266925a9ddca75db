/* Internal to the frontend: ONNX TensorProto / SparseTensorProto -> tcc_tensor_t, shared by the model
 * importer (onnx_import.c) and the tensor files (tensor_io.c). Not a public header. */
#ifndef TCC_FRONTEND_ONNX_TENSOR_H
#define TCC_FRONTEND_ONNX_TENSOR_H

#include <stdint.h>

#include "base/hash.h"
#include "frontend/onnx.pb-c.h"
#include "frontend/onnx_wire.h"
#include "ir/graph.h"

/* Where a TensorProto's bytes may come from. */
typedef struct {
  tcc_module_t *m;              /* the tensors, and any data copied, live in its arena */
  const uint8_t *bytes;         /* the original model that raw-data references point into, or NULL */
  const tcc_onnx_slim_t *slim;  /* the reference table of the slimmed model (onnx_wire.h), or NULL */
  const char *model_dir;        /* resolved directory for external data; NULL refuses external data */
  tcc_strmap_t *mapped;         /* external-data mapping cache in m's arena; NULL: not part of a model
                                 * (a standalone tensor file), external data refused as such */
} tcc_onnx_tensor_source_t;

/* Converts tp into a new tensor in src->m's arena. Raw data found through a slim reference or in an
 * external file is not copied (the tensor points into the model or the mapping, which live as long as
 * the module); raw_data unpacked by protobuf-c and typed fields are copied into the arena. */
TCC_MUST_USE tcc_status_t tcc_onnx_tensor_convert(const tcc_onnx_tensor_source_t *src, const Onnx__TensorProto *tp,
                                                  tcc_tensor_t **out);
/* protobuf-c allocation through a tcc allocator; `failed` tells an unpack that returned NULL for lack of
 * memory from one that met malformed bytes. */
typedef struct {
  tcc_allocator_t allocator;
  bool failed;
  ProtobufCAllocator pb;
} tcc_onnx_pb_allocator_t;

void tcc_onnx_pb_allocator_init(tcc_onnx_pb_allocator_t *a, tcc_allocator_t allocator);

/* Densifies a sparse tensor (values [NNZ], indices [NNZ] linear or [NNZ, rank]) into a new tensor. */
TCC_MUST_USE tcc_status_t tcc_onnx_sparse_convert(const tcc_onnx_tensor_source_t *src,
                                                  const Onnx__SparseTensorProto *sp, tcc_tensor_t **out);

#endif
