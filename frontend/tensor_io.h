/* Tensor files: serialized ONNX TensorProto (.pb, as in ONNX test_data_set_N/input_K.pb) and NumPy .npy.
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
 */
#ifndef TCC_FRONTEND_TENSOR_IO_H
#define TCC_FRONTEND_TENSOR_IO_H

#include <stddef.h>

#include "base/status.h"
#include "ir/graph.h"

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

#endif
