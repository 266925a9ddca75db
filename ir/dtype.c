/* Element type table. */
#include "ir/dtype.h"

#include <string.h>

typedef struct {
  const char *name;
  int bits;
  char cls;
} dtype_info_t;

static const dtype_info_t infos[] = {
#define TCC_DTYPE(id, code, name, bits, cls) [code] = {name, bits, cls},
#include "ir/dtype.def"
#undef TCC_DTYPE
};
_Static_assert(sizeof infos / sizeof infos[0] == TCC_DTYPE_COUNT, "dtype table out of step");

bool tcc_dtype_is_valid(int code) { return code > 0 && code < TCC_DTYPE_COUNT; }

const char *tcc_dtype_name(tcc_dtype_t dt) {
  return (unsigned)dt < TCC_DTYPE_COUNT ? infos[dt].name : "?";
}

bool tcc_dtype_from_name(const char *name, tcc_dtype_t *out) {
  for (int i = 1; i < TCC_DTYPE_COUNT; i++)
    if (strcmp(infos[i].name, name) == 0) {
      *out = (tcc_dtype_t)i;
      return true;
    }
  return false;
}

int tcc_dtype_bits(tcc_dtype_t dt) { return (unsigned)dt < TCC_DTYPE_COUNT ? infos[dt].bits : 0; }
bool tcc_dtype_is_float(tcc_dtype_t dt) { return (unsigned)dt < TCC_DTYPE_COUNT && infos[dt].cls == 'F'; }
bool tcc_dtype_is_signed_int(tcc_dtype_t dt) { return (unsigned)dt < TCC_DTYPE_COUNT && infos[dt].cls == 'I'; }
bool tcc_dtype_is_int(tcc_dtype_t dt) {
  return (unsigned)dt < TCC_DTYPE_COUNT && (infos[dt].cls == 'I' || infos[dt].cls == 'U');
}

int64_t tcc_dtype_storage_bytes(tcc_dtype_t dt, int64_t n) {
  int bits = tcc_dtype_bits(dt);
  if (bits == 0 || n < 0) return -1;
  if (bits == 4) return n / 2 + n % 2;
  if (n > INT64_MAX / (bits / 8)) return -1;
  return n * (bits / 8);
}
