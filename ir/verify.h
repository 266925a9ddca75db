/* The IR verifier: structural invariants every pass must preserve.
 *
 * Checks, for a graph and (recursively) its subgraphs: every node input is a value of this graph or an
 * enclosing one that is defined before the node (an input, a constant, or an earlier node's output);
 * every output's producer link points back at its node and no value is produced twice; graph outputs
 * are defined; ops and attribute kinds are in range and subgraph attributes have this graph as parent;
 * types are well formed (tensor ranks >= -1 with non-null dims, element types valid, sequence and
 * optional types with element types); unsupported nodes carry a reason. It does not re-run inference.
 * Runs between passes in debug builds; returns TCC_INTERNAL naming the first violation. */
#ifndef TCC_IR_VERIFY_H
#define TCC_IR_VERIFY_H

#include "ir/graph.h"

TCC_MUST_USE tcc_status_t tcc_graph_verify(const tcc_graph_t *g);
TCC_MUST_USE tcc_status_t tcc_module_verify(const tcc_module_t *m);

#endif
