/* Canonical op names, generated from ir/ops.def. */
#include "ir/ops.h"

#include <string.h>

static const char *const op_names[] = {
#define TCC_OP(id, name, infer) name,
#include "ir/ops.def"
#undef TCC_OP
};
_Static_assert(sizeof op_names / sizeof op_names[0] == TCC_OP_COUNT, "op table out of step");

const char *tcc_op_name(tcc_op_t op) { return (unsigned)op < TCC_OP_COUNT ? op_names[op] : "?"; }

bool tcc_op_from_name(const char *name, tcc_op_t *out) {
  for (int i = 0; i < TCC_OP_COUNT; i++)
    if (strcmp(op_names[i], name) == 0) {
      *out = (tcc_op_t)i;
      return true;
    }
  return false;
}
