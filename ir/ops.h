/* Canonical ops: the enum, names and inference dispatch, generated from ir/ops.def. */
#ifndef TCC_IR_OPS_H
#define TCC_IR_OPS_H

#include <stdbool.h>

typedef enum {
#define TCC_OP(id, name, infer) TCC_OP_##id,
#include "ir/ops.def"
#undef TCC_OP
  TCC_OP_COUNT
} tcc_op_t;

const char *tcc_op_name(tcc_op_t op);
bool tcc_op_from_name(const char *name, tcc_op_t *out);

#endif
