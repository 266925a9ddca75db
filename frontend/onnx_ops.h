/* The ONNX op table (frontend/onnx_ops.def): which (domain, op type, opset) tcc imports, as what. */
#ifndef TCC_FRONTEND_ONNX_OPS_H
#define TCC_FRONTEND_ONNX_OPS_H

#include <stdint.h>

#include "ir/graph.h"

typedef tcc_status_t (*tcc_onnx_upgrade_fn_t)(tcc_node_t *node);

typedef struct {
  const char *domain, *op_type;
  int64_t since_version;
  tcc_op_t op;
  tcc_onnx_upgrade_fn_t upgrade; /* NULL: the newest form already */
  const char *upgrade_name;
} tcc_onnx_op_entry_t;

/* Newest opset per domain that the table describes. */
#define TCC_ONNX_MAX_OPSET 23

/* The entry for a node, or NULL. *known_op tells whether the op type exists at some other opset (so
 * the caller can say "opset too old" rather than "unknown op"); *min_version gets its first version. */
const tcc_onnx_op_entry_t *tcc_onnx_op_lookup(const char *domain, const char *op_type, int64_t opset,
                                              int64_t *min_version);
/* All entries, sorted by op type then version. */
const tcc_onnx_op_entry_t *tcc_onnx_op_table(int *count);

#endif
