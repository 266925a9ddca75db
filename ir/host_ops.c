/* Host operator dispatch (contract in ir/host_ops.h). */
#include "ir/host_ops.h"

typedef struct {
  tcc_op_t op;
  tcc_host_fn_t fn;
} host_entry_t;

static const host_entry_t host_ops[] = {
    {TCC_OP_COUNT, NULL},
};

tcc_host_fn_t tcc_host_op_find(tcc_op_t op) {
  for (const host_entry_t *e = host_ops; e->fn; e++)
    if (e->op == op) return e->fn;
  return NULL;
}
