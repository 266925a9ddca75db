/* Element types of tensors (values equal ONNX TensorProto.DataType codes). */
#ifndef TCC_IR_DTYPE_H
#define TCC_IR_DTYPE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
#define TCC_DTYPE(id, code, name, bits, cls) TCC_DTYPE_##id = code,
#include "ir/dtype.def"
#undef TCC_DTYPE
  TCC_DTYPE_COUNT
} tcc_dtype_t;

bool tcc_dtype_is_valid(int code);          /* a known ONNX code */
const char *tcc_dtype_name(tcc_dtype_t dt); /* "f32"; "?" for unknown codes */
bool tcc_dtype_from_name(const char *name, tcc_dtype_t *out);
int tcc_dtype_bits(tcc_dtype_t dt);         /* 0 for string/undefined */
bool tcc_dtype_is_float(tcc_dtype_t dt);    /* incl. f16, bf16, float8, float4 */
bool tcc_dtype_is_int(tcc_dtype_t dt);      /* signed or unsigned integers, not bool */
bool tcc_dtype_is_signed_int(tcc_dtype_t dt);
/* Bytes needed for n packed elements (4-bit types pack two per byte); -1 on overflow or string. */
int64_t tcc_dtype_storage_bytes(tcc_dtype_t dt, int64_t n);

#endif
