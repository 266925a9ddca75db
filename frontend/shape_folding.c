/* Shape operands known symbolically -> "shape" attributes, then removal of the subgraphs left unread. */
#include "frontend/shape_folding.h"

#include <string.h>

/* Counts, per value id, the reads by nodes of g and of all its subgraphs, plus graph outputs. */
static void count_uses(const tcc_graph_t *g, uint32_t *uses) {
  for (size_t i = 0; i < g->num_outputs; i++) uses[g->outputs[i]->id]++;
  for (size_t i = 0; i < g->num_nodes; i++) {
    const tcc_node_t *n = g->nodes[i];
    for (int k = 0; k < n->num_inputs; k++)
      if (n->inputs[k]) uses[n->inputs[k]->id]++;
    for (int k = 0; k < n->num_attrs; k++) {
      const tcc_attr_t *a = &n->attrs[k];
      if (a->kind == TCC_ATTR_GRAPH) count_uses(a->g, uses);
      for (int64_t j = 0; a->kind == TCC_ATTR_GRAPHS && j < a->count; j++) count_uses(a->graphs[j], uses);
    }
  }
}

static int shape_operand(tcc_op_t op) {
  switch (op) {
    case TCC_OP_RESHAPE:
    case TCC_OP_EXPAND: return 1;
    case TCC_OP_CONSTANT_OF_SHAPE: return 0;
    default: return -1;
  }
}

tcc_status_t tcc_onnx_fold_shapes(tcc_graph_t *g) {
  tcc_module_t *m = g->module;
  bool folded = false;
  for (size_t i = 0; i < g->num_nodes; i++) {
    tcc_node_t *n = g->nodes[i];
    int k = shape_operand(n->op);
    if (k < 0 || k >= n->num_inputs || !n->inputs[k]) continue;
    const tcc_value_t *shape = n->inputs[k];
    if (shape->constant || shape->shape_data_len < 0) continue;
    TCC_RETURN_IF_ERROR(tcc_node_set_attr_dims(n, "shape", shape->shape_data, shape->shape_data_len));
    n->inputs[k] = NULL;
    if (k == n->num_inputs - 1) n->num_inputs--;
    folded = true;
  }
  if (!folded) return NULL;
  uint32_t *uses = tcc_module_alloc(m, (m->next_id + 1) * sizeof *uses);
  bool *dead = tcc_module_alloc(m, g->num_nodes + 1);
  if (!uses || !dead) return tcc_status_oom();
  count_uses(g, uses);
  /* Reverse order: a node is removed once all its outputs are unread, releasing its inputs. Only pure
   * shape-computing ops are candidates, so dead code the model itself contains stays visible. */
  for (size_t i = g->num_nodes; i-- > 0;) {
    tcc_node_t *n = g->nodes[i];
    switch (n->op) {
      case TCC_OP_SHAPE: case TCC_OP_GATHER: case TCC_OP_UNSQUEEZE: case TCC_OP_SQUEEZE: case TCC_OP_CONCAT:
      case TCC_OP_SLICE: case TCC_OP_CAST: case TCC_OP_ADD: case TCC_OP_SUB: case TCC_OP_MUL: case TCC_OP_DIV:
      case TCC_OP_RESHAPE: case TCC_OP_IDENTITY: case TCC_OP_SIZE: break;
      default: continue;
    }
    bool used = false;
    for (int k = 0; k < n->num_outputs; k++) used |= n->outputs[k] && uses[n->outputs[k]->id] > 0;
    if (used || n->num_outputs == 0 || !n->outputs[0] || n->outputs[0]->shape_data_len < 0) continue;
    dead[i] = true;
    for (int k = 0; k < n->num_inputs; k++)
      if (n->inputs[k]) uses[n->inputs[k]->id]--;
  }
  size_t kept = 0;
  for (size_t i = 0; i < g->num_nodes; i++)
    if (!dead[i]) g->nodes[kept++] = g->nodes[i];
  g->num_nodes = kept;
  return NULL;
}
