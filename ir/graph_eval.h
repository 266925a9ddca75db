/* The reference evaluator for whole graphs: runs each node's compute definition on concrete tensors.
 *
 *   tcc_tensor_t *outputs[2];
 *   TCC_RETURN_IF_ERROR(tcc_graph_eval(m->graph, inputs, results, outputs));
 *
 * Node by node, in order: the node is re-inferred with its actual input tensors as constants, so every
 * shape is concrete (data-dependent shapes included), its kernel is built by tcc_compute_build and run by
 * tcc_kernel_eval. Inputs are checked against the graph's declared input types first (dtype, rank, dims;
 * symbols such as `batch` must agree across inputs). Intermediate tensors live in a scratch module freed
 * before returning; output tensors are copied into `results`' arena. Clarity before speed: this is the
 * oracle that differential tests and constant folding use. Thread-safety: the graph is only read.
 */
#ifndef TCC_IR_GRAPH_EVAL_H
#define TCC_IR_GRAPH_EVAL_H

#include "ir/graph.h"

/* inputs[i] feeds g->inputs[i] (NULL: the initializer's default value, when it has one); outputs[i]
 * receives g->outputs[i]. */
TCC_MUST_USE tcc_status_t tcc_graph_eval(const tcc_graph_t *g, const tcc_tensor_t *const *inputs, tcc_module_t *results,
                                         tcc_tensor_t **outputs);

#endif
