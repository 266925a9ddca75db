/* Shape and dtype inference for the training-domain ops: optimizers and Gradient. */
#include "ir/infer.h"

/* Adagrad (R, T, X..., G..., H...) -> (X_new..., H_new...); Momentum (R, T, X..., G..., V...) -> (X_new...,
 * V_new...); Adam (R, T, X..., G..., V..., H...) -> (X_new..., V_new..., H_new...). Each output group
 * has the types of one input group. */
tcc_status_t tcc_infer_optimizer(tcc_node_t *node) {
  int groups_in = node->op == TCC_OP_ADAM ? 4 : 3;
  static const int adam_sources[] = {0, 2, 3}, other_sources[] = {0, 2};
  const int *sources = node->op == TCC_OP_ADAM ? adam_sources : other_sources;
  int groups_out = groups_in - 1, n = (node->num_inputs - 2) / groups_in;
  if (n < 1 || node->num_inputs != 2 + groups_in * n || node->num_outputs != groups_out * n)
    return tcc_infer_error(node, "expected 2 + %d*N inputs and %d*N outputs, got %d and %d", groups_in, groups_out,
                           node->num_inputs, node->num_outputs);
  for (int i = 0; i < node->num_inputs; i++)
    if (!tcc_infer_input(node, i)) return tcc_infer_error(node, "input %d must be a tensor of known rank", i);
  if (node->inputs[1]->type.dtype != TCC_DTYPE_I64) return tcc_infer_error(node, "T must be int64");
  for (int j = 0; j < groups_out; j++)
    for (int i = 0; i < n; i++)
      if (node->outputs[j * n + i])
        TCC_RETURN_IF_ERROR(tcc_value_set_type(node->outputs[j * n + i], &node->inputs[2 + sources[j] * n + i]->type));
  return NULL;
}

/* Gradient (xs..., zs...) -> (dy/dx...): each output has the type of its x. */
tcc_status_t tcc_infer_gradient(tcc_node_t *node) {
  if (node->num_outputs > node->num_inputs)
    return tcc_infer_error(node, "%d gradients requested for %d inputs", node->num_outputs, node->num_inputs);
  for (int i = 0; i < node->num_outputs; i++) {
    if (!node->outputs[i]) continue;
    if (!tcc_infer_input(node, i)) return tcc_infer_error(node, "input %d must be a tensor of known rank", i);
    TCC_RETURN_IF_ERROR(tcc_value_set_type(node->outputs[i], &node->inputs[i]->type));
  }
  return NULL;
}
