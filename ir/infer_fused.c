/* Inference of fused nodes (TCC_OP_FUSED, made by passes/fusion.c): the body subgraph's inputs take the
 * node's input types, the body is inferred, and the node's outputs take the body outputs' types. */
#include "ir/infer.h"

tcc_status_t tcc_infer_fused(tcc_node_t *node) {
  const tcc_attr_t *a = tcc_node_attr(node, "body");
  if (!a || a->kind != TCC_ATTR_GRAPH || !a->g) return tcc_infer_error(node, "missing the 'body' graph attribute");
  const tcc_attr_t *kind = tcc_node_attr(node, "kind");
  if (kind && kind->kind != TCC_ATTR_STRING) return tcc_infer_error(node, "attribute 'kind' must be a string");
  tcc_graph_t *body = a->g;
  if (body->num_inputs != (size_t)node->num_inputs)
    return tcc_infer_error(node, "the body has %zu inputs, expected %d", body->num_inputs, node->num_inputs);
  if (body->num_outputs != (size_t)node->num_outputs)
    return tcc_infer_error(node, "the body has %zu outputs, expected %d", body->num_outputs, node->num_outputs);
  for (int i = 0; i < node->num_inputs; i++) {
    const tcc_value_t *x = node->inputs[i];
    if (!x) return tcc_infer_error(node, "input %d is missing (a fused node has no optional inputs)", i);
    tcc_value_t *v = body->inputs[i];
    v->shape_data_len = -1;
    v->shape_data = NULL;
    if (x->type.kind == TCC_TYPE_UNKNOWN) continue; /* keep the declared type */
    TCC_RETURN_IF_ERROR(tcc_value_set_type(v, &x->type));
    if (x->shape_data_len >= 0) TCC_RETURN_IF_ERROR(tcc_value_set_shape_data(v, x->shape_data_len, x->shape_data));
  }
  tcc_status_t st = tcc_graph_infer(body);
  if (st) return tcc_status_annotate(st, "in the body of fused node '%s': ", node->name);
  for (int i = 0; i < node->num_outputs; i++) {
    tcc_value_t *out = node->outputs[i];
    if (!out) continue;
    const tcc_value_t *b = body->outputs[i];
    out->shape_data_len = -1;
    out->shape_data = NULL;
    TCC_RETURN_IF_ERROR(tcc_value_set_type(out, &b->type));
    if (b->shape_data_len >= 0) TCC_RETURN_IF_ERROR(tcc_value_set_shape_data(out, b->shape_data_len, b->shape_data));
  }
  return tcc_module_check(node->graph->module);
}
