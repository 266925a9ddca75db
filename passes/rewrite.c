/* Graph-rewrite helpers shared by the passes (contract in passes/rewrite.h). */
#include "passes/rewrite.h"

#include <stdio.h>
#include <string.h>

bool tcc_rewrite_value_is_constant(const tcc_value_t *v) { return v && v->constant && !v->is_input; }

bool tcc_rewrite_value_is_output(const tcc_graph_t *g, const tcc_value_t *v) {
  for (size_t i = 0; i < g->num_outputs; i++)
    if (g->outputs[i] == v) return true;
  return false;
}

static void count_reads_in(const tcc_graph_t *g, const tcc_graph_t *root, uint32_t *uses) {
  for (size_t i = 0; i < g->num_nodes; i++) {
    const tcc_node_t *n = g->nodes[i];
    for (int k = 0; k < n->num_inputs; k++)
      if (n->inputs[k] && n->inputs[k]->graph == root) uses[n->inputs[k]->id]++;
    for (int a = 0; a < n->num_attrs; a++) {
      const tcc_attr_t *at = &n->attrs[a];
      if (at->kind == TCC_ATTR_GRAPH && at->g) count_reads_in(at->g, root, uses);
      if (at->kind == TCC_ATTR_GRAPHS)
        for (int64_t j = 0; j < at->count; j++) count_reads_in(at->graphs[j], root, uses);
    }
  }
}

uint32_t *tcc_rewrite_reads_count(tcc_graph_t *g) {
  size_t size = (g->module->next_id + 1) * sizeof(uint32_t);
  uint32_t *uses = tcc_module_alloc(g->module, size);
  if (!uses) return NULL;
  memset(uses, 0, size);
  count_reads_in(g, g, uses);
  for (size_t i = 0; i < g->num_outputs; i++) uses[g->outputs[i]->id] += 2;
  return uses;
}

void tcc_rewrite_reads_replace(tcc_graph_t *g, const tcc_value_t *from, tcc_value_t *to, bool outputs_too) {
  if (outputs_too)
    for (size_t i = 0; i < g->num_outputs; i++)
      if (g->outputs[i] == from) g->outputs[i] = to;
  for (size_t i = 0; i < g->num_nodes; i++) {
    tcc_node_t *n = g->nodes[i];
    for (int k = 0; k < n->num_inputs; k++)
      if (n->inputs[k] == from) n->inputs[k] = to;
    for (int k = 0; k < n->num_attrs; k++) {
      const tcc_attr_t *a = &n->attrs[k];
      if (a->kind == TCC_ATTR_GRAPH && a->g) tcc_rewrite_reads_replace(a->g, from, to, true);
      for (int64_t j = 0; a->kind == TCC_ATTR_GRAPHS && j < a->count; j++)
        tcc_rewrite_reads_replace(a->graphs[j], from, to, true);
    }
  }
}

tcc_node_t *tcc_rewrite_node_add(tcc_graph_t *g, tcc_op_t op, const char *op_type, const char *name,
                                 const tcc_node_t *origin, tcc_value_t *const *inputs, int num_inputs) {
  tcc_module_t *m = g->module;
  tcc_node_t *n = tcc_graph_add_node(g, op, tcc_module_strdup(m, name), num_inputs, 1);
  if (!n) return NULL;
  n->domain = origin ? origin->domain : "";
  n->op_type = op_type;
  n->opset = origin ? origin->opset : tcc_module_opset(m, "");
  for (int i = 0; i < num_inputs; i++) n->inputs[i] = inputs[i];
  return n;
}

bool tcc_rewrite_node_is_pure(const tcc_node_t *n) {
  switch (n->op) {
    case TCC_OP_RANDOM_UNIFORM: case TCC_OP_RANDOM_NORMAL: case TCC_OP_RANDOM_UNIFORM_LIKE:
    case TCC_OP_RANDOM_NORMAL_LIKE: case TCC_OP_BERNOULLI: case TCC_OP_MULTINOMIAL: case TCC_OP_UNSUPPORTED:
      return false;
    default: break;
  }
  for (int i = 0; i < n->num_attrs; i++)
    if (n->attrs[i].kind == TCC_ATTR_GRAPH || n->attrs[i].kind == TCC_ATTR_GRAPHS) return false;
  return true;
}

bool tcc_rewrite_op_is_unary_math(tcc_op_t op) {
  switch (op) {
    case TCC_OP_ABS: case TCC_OP_NEG: case TCC_OP_SQRT: case TCC_OP_EXP: case TCC_OP_LOG: case TCC_OP_RECIPROCAL:
    case TCC_OP_TANH: case TCC_OP_SIGMOID: case TCC_OP_RELU: case TCC_OP_CEIL: case TCC_OP_FLOOR: case TCC_OP_ROUND:
    case TCC_OP_SIGN: case TCC_OP_ERF: case TCC_OP_COS: case TCC_OP_SIN: case TCC_OP_TAN: case TCC_OP_ACOS:
    case TCC_OP_ASIN: case TCC_OP_ATAN: case TCC_OP_COSH: case TCC_OP_SINH: case TCC_OP_ACOSH: case TCC_OP_ASINH:
    case TCC_OP_ATANH: case TCC_OP_SOFTPLUS: case TCC_OP_SOFTSIGN: case TCC_OP_ELU: case TCC_OP_SELU: case TCC_OP_CELU:
    case TCC_OP_LEAKY_RELU: case TCC_OP_THRESHOLDED_RELU: case TCC_OP_HARD_SIGMOID: case TCC_OP_HARD_SWISH:
    case TCC_OP_MISH: case TCC_OP_GELU:
      return true;
    default: return false;
  }
}

const char *tcc_rewrite_name_unique(tcc_graph_t *g, const char *stem, const char *sep) {
  char name[512];
  snprintf(name, sizeof name, "%s", stem);
  for (int k = 1; tcc_graph_find(g, name) && k < 1000; k++) snprintf(name, sizeof name, "%s%s%d", stem, sep, k);
  return tcc_graph_find(g, name) ? NULL : tcc_module_strdup(g->module, name);
}

void tcc_rewrite_tensor_put_float(tcc_tensor_t *t, int64_t i, double v) {
  if (t->dtype == TCC_DTYPE_F32) {
    float f = (float)v;
    memcpy((char *)t->data + 4 * i, &f, 4);
  } else {
    memcpy((char *)t->data + 8 * i, &v, 8);
  }
}
