/* Host operators: C functions over whole tensors for what a kernel IR program cannot express — ops whose
 * output sizes depend on the input data (NonZero, Unique, Compress, NonMaxSuppression, TopK) and ops over
 * strings. The reference evaluator calls them where an op has no compute definition for the node (or
 * its definition reports TCC_UNSUPPORTED for these dtypes); compiled modules link the same functions
 * from the runtime and reach them through kernel IR CALL statements.
 *
 * A host function receives the node (attributes concrete, inputs constant, types inferred), its input
 * tensors (in[i] NULL for an omitted optional input) and creates each present output in m. */
#ifndef TCC_IR_HOST_OPS_H
#define TCC_IR_HOST_OPS_H

#include "ir/graph.h"

typedef tcc_status_t (*tcc_host_fn_t)(const tcc_node_t *node, const tcc_tensor_t *const *in, tcc_module_t *m,
                                      tcc_tensor_t **out);

/* The host function of op, or NULL. */
tcc_host_fn_t tcc_host_op_find(tcc_op_t op);

#endif
