/* Tensor files: serialized ONNX TensorProto (.pb, as in ONNX test_data_set_N/input_K.pb) and NumPy .npy;
 * value files: a TensorProto, SequenceProto or OptionalProto holding a run-time value (ir/graph_eval.h).
 *
 *   tcc_tensor_t *x;
 *   const char *name;
 *   TCC_RETURN_IF_ERROR(tcc_tensor_read_file(m, "test_data_set_0/input_0.pb", &x, &name));
 *   TCC_RETURN_IF_ERROR(tcc_tensor_write_npy(x, "input_0.npy"));
 *
 * Tensors read live in a module's arena (their own copy of the data: nothing points into the file) and
 * die with tcc_module_destroy. A .pb may hold every ONNX dtype, as raw_data or typed fields; external
 * data is refused (only a model has a directory to resolve it against). A .npy holds the dtypes NumPy
 * has: <f2 <f4 <f8 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 |b1 <c8 <c16 (big-endian '>' variants are read and
 * swapped); bf16, float8, 4-bit and string tensors are refused. Malformed files are statuses
 * (TCC_INVALID_MODEL; TCC_UNSUPPORTED for valid files tcc does not handle, e.g. Fortran order), never
 * crashes. Thread-safety: calls on different modules may run concurrently; writers only read the tensor.
 *
 * Value files: as ONNX's backend test runner, the reader goes by the declared type of what it reads (the
 * bytes alone do not tell a SequenceProto from a TensorProto): a sequence type reads a SequenceProto, an
 * optional type an OptionalProto, anything else a tensor file. Sequences of sequences and optionals of
 * sequences are read; sparse tensors and maps are TCC_UNSUPPORTED. Where the declared type says bfloat16 and
 * the file holds uint16 (the ONNX test suite stores bfloat16 tensors so), the bits are taken as bfloat16.
 */
#ifndef TCC_FRONTEND_TENSOR_IO_H
#define TCC_FRONTEND_TENSOR_IO_H

#include <stddef.h>

#include "base/status.h"
#include "ir/graph.h"
#include "ir/graph_eval.h"

/* Reads the tensor file at path: a .npy when it starts with "\x93NUMPY", else a TensorProto. On success
 * *out is a new tensor in m's arena and *name (when name != NULL) the TensorProto's name, "" for .npy,
 * also in m's arena. On failure *out is NULL and the status names the path. */
TCC_MUST_USE tcc_status_t tcc_tensor_read_file(tcc_module_t *m, const char *path, tcc_tensor_t **out,
                                               const char **name);
/* Reads a serialized TensorProto from memory; the bytes are not retained. */
TCC_MUST_USE tcc_status_t tcc_tensor_read_pb(tcc_module_t *m, const void *data, size_t size, tcc_tensor_t **out,
                                             const char **name);
/* Reads a .npy file image (format versions 1.0, 2.0, 3.0, C order) from memory; the bytes are not retained. */
TCC_MUST_USE tcc_status_t tcc_tensor_read_npy(tcc_module_t *m, const void *data, size_t size, tcc_tensor_t **out);

/* Writes t as a TensorProto called name (NULL: unnamed) to path, replacing it: data in raw_data, strings
 * in string_data. A partial file is removed on failure. */
TCC_MUST_USE tcc_status_t tcc_tensor_write_pb(const tcc_tensor_t *t, const char *name, const char *path);
/* Writes t as a .npy (format 1.0, little-endian, C order) to path, replacing it. TCC_INVALID_ARGUMENT,
 * naming the dtype, for dtypes NumPy cannot hold (bf16, float8, 4-bit, string). */
TCC_MUST_USE tcc_status_t tcc_tensor_write_npy(const tcc_tensor_t *t, const char *path);

/* Reads the value file at path as `type` declares it (NULL: a tensor); *out and *name (when name != NULL:
 * the proto's name, "" when absent) live in m's arena. On failure *out is NULL and the status names the
 * path. */
TCC_MUST_USE tcc_status_t tcc_tensor_read_value_file(tcc_module_t *m, const char *path, const tcc_type_t *type,
                                                     const tcc_eval_value_t **out, const char **name);
/* The same over a serialized message in memory (a TensorProto for tensors: no .npy); bytes not retained. */
TCC_MUST_USE tcc_status_t tcc_tensor_read_value_pb(tcc_module_t *m, const void *data, size_t size,
                                                   const tcc_type_t *type, const tcc_eval_value_t **out,
                                                   const char **name);
/* Writes v to path as a TensorProto, SequenceProto or OptionalProto called name (NULL: unnamed), nested
 * values unnamed. type (may be NULL) is v's declared type: it gives the elem_type of an empty sequence
 * (an empty optional is written with elem_type UNDEFINED, as ONNX does). */
TCC_MUST_USE tcc_status_t tcc_tensor_write_value_pb(const tcc_eval_value_t *v, const tcc_type_t *type,
                                                    const char *name, const char *path);

#endif
