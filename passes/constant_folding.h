/* Constant folding: nodes whose inputs are all constant are evaluated once, by the reference evaluator
 * (ir/graph_eval.h — the same compute definitions as everything else), and their outputs become
 * constants. Folding runs in graph order, so whole all-constant subgraphs collapse; the graph is
 * re-inferred afterwards so consumers see the now-concrete types.
 *
 * Not folded: nodes with an input that is not constant (or is an overridable graph input), random ops,
 * nodes with subgraphs, nodes with no outputs, and nodes whose outputs would exceed max_output_bytes
 * (large constants are cheaper to compute at load time than to store). A node the evaluator cannot
 * handle (TCC_UNSUPPORTED, or an error such as an out-of-range index that the runtime reports later) is
 * left in place; only out-of-memory fails the pass. */
#ifndef TCC_PASSES_CONSTANT_FOLDING_H
#define TCC_PASSES_CONSTANT_FOLDING_H

#include "ir/graph.h"

typedef struct {
  int64_t max_output_bytes; /* default 64 MiB */
} tcc_constant_folding_options_t;

#define TCC_CONSTANT_FOLDING_DEFAULTS {.max_output_bytes = 64 << 20}

/* Folds g (not its subgraphs) in place; *num_folded (may be NULL) receives the number of nodes folded. */
TCC_MUST_USE tcc_status_t tcc_fold_constants(tcc_graph_t *g, const tcc_constant_folding_options_t *options,
                                             int *num_folded);

#endif
