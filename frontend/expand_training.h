/* Expansion of the training-domain ops (ai.onnx.preview.training) into ordinary ops after import:
 * Adagrad, Adam and Momentum become their elementwise update formulas, Gradient becomes the reverse-mode
 * derivative of its `y` with respect to its `xs`, built from the forward nodes between them. Later stages
 * (evaluator, passes, code generation) never see these ops. */
#ifndef TCC_FRONTEND_EXPAND_TRAINING_H
#define TCC_FRONTEND_EXPAND_TRAINING_H

#include "ir/graph.h"

/* Expands every training op of g (typed) in place, types the new nodes and restores topological order.
 * Gradient through an op without a derivative rule here is TCC_UNSUPPORTED naming both nodes. */
TCC_MUST_USE tcc_status_t tcc_onnx_expand_training(tcc_graph_t *g);

#endif
