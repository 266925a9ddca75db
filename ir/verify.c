/* Structural verification of the graph IR (see verify.h). */
#include "ir/verify.h"

#include <stdlib.h>

/* Per value id: defined yet (by a graph input, a constant or an earlier node)? */
typedef struct {
  uint8_t *defined;
  uint32_t count;
} walk_t;

static tcc_status_t violation(const tcc_graph_t *g, const char *fmt, const char *a, const char *b) {
  return tcc_status_make(TCC_INTERNAL, "IR verification failed in graph '%s': %s%s%s", g->name, fmt, a, b ? b : "");
}

static tcc_status_t check_type(const tcc_graph_t *g, const tcc_value_t *v, const tcc_type_t *t, int depth) {
  if (depth > 16) return violation(g, "type nested too deeply: ", v->name, NULL);
  switch (t->kind) {
    case TCC_TYPE_UNKNOWN: return NULL;
    case TCC_TYPE_TENSOR:
      if (t->rank < -1 || t->rank > 1024 || (t->rank > 0 && !t->dims))
        return violation(g, "malformed tensor rank or dims: ", v->name, NULL);
      if ((unsigned)t->dtype >= TCC_DTYPE_COUNT) return violation(g, "invalid element type: ", v->name, NULL);
      for (int i = 0; i < t->rank; i++)
        if (!t->dims[i] || t->dims[i] == tcc_dim_invalid()) return violation(g, "invalid dim: ", v->name, NULL);
      return NULL;
    case TCC_TYPE_SEQUENCE:
    case TCC_TYPE_OPTIONAL:
      return t->elem ? check_type(g, v, t->elem, depth + 1) : violation(g, "container type without element: ", v->name, NULL);
  }
  return violation(g, "invalid type kind: ", v->name, NULL);
}

/* Values of enclosing graphs share the table: a subgraph may read what its parents defined before it. */
static bool defined_before(const walk_t *w, const tcc_value_t *v) { return v->id < w->count && w->defined[v->id]; }

/* The body contract of a fused node: one body input per node input and one body output per node output,
 * and the body reads only its own values (its inputs, its constants, its nodes' outputs). */
static tcc_status_t verify_fused(const tcc_graph_t *g, const tcc_node_t *n) {
  const tcc_attr_t *a = tcc_node_attr(n, "body");
  if (!a || a->kind != TCC_ATTR_GRAPH || !a->g) return violation(g, "fused node without a body graph: ", n->name, NULL);
  const tcc_graph_t *body = a->g;
  if (body->num_inputs != (size_t)n->num_inputs || body->num_outputs != (size_t)n->num_outputs)
    return violation(g, "fused node's body does not match its inputs and outputs: ", n->name, NULL);
  for (size_t i = 0; i < body->num_nodes; i++)
    for (int k = 0; k < body->nodes[i]->num_inputs; k++) {
      const tcc_value_t *v = body->nodes[i]->inputs[k];
      if (v && v->graph != body) return violation(g, "fused node's body reads a value from outside it: ", n->name, NULL);
    }
  for (size_t i = 0; i < body->num_outputs; i++)
    if (body->outputs[i]->graph != body)
      return violation(g, "fused node's body outputs a value from outside it: ", n->name, NULL);
  return NULL;
}

static tcc_status_t verify_graph(const tcc_graph_t *g, walk_t *w, int depth) {
  if (depth > 64) return violation(g, "subgraphs nested too deeply", "", NULL);
  for (size_t i = 0; i < g->num_values; i++) {
    const tcc_value_t *v = g->values[i];
    if (v->graph != g) return violation(g, "value listed in a graph it does not belong to: ", v->name, NULL);
    if (v->id >= w->count) return violation(g, "value id out of range: ", v->name, NULL);
    TCC_RETURN_IF_ERROR(check_type(g, v, &v->type, 0));
    if (v->is_input || (v->constant && !v->producer)) w->defined[v->id] = 1;
  }
  for (size_t i = 0; i < g->num_inputs; i++)
    if (g->inputs[i]->graph != g || !g->inputs[i]->is_input) return violation(g, "bad graph input: ", g->inputs[i]->name, NULL);
  for (size_t i = 0; i < g->num_nodes; i++) {
    const tcc_node_t *n = g->nodes[i];
    if ((unsigned)n->op >= TCC_OP_COUNT) return violation(g, "invalid op in node ", n->name, NULL);
    if (n->graph != g) return violation(g, "node listed in a graph it does not belong to: ", n->name, NULL);
    if (n->op == TCC_OP_UNSUPPORTED && !n->unsupported) return violation(g, "unsupported node without a reason: ", n->name, NULL);
    if (n->op == TCC_OP_FUSED) TCC_RETURN_IF_ERROR(verify_fused(g, n));
    for (int k = 0; k < n->num_inputs; k++) {
      const tcc_value_t *v = n->inputs[k];
      if (v && !defined_before(w, v))
        return violation(g, "node reads a value not defined before it: ", n->name, v->name);
    }
    for (int k = 0; k < n->num_attrs; k++) {
      const tcc_attr_t *a = &n->attrs[k];
      if ((unsigned)a->kind >= TCC_ATTR_KIND_COUNT || !a->name) return violation(g, "malformed attribute in node ", n->name, NULL);
      if (a->kind == TCC_ATTR_GRAPH || a->kind == TCC_ATTR_GRAPHS) {
        for (int64_t j = 0; j < (a->kind == TCC_ATTR_GRAPH ? 1 : a->count); j++) {
          const tcc_graph_t *sub = a->kind == TCC_ATTR_GRAPH ? a->g : a->graphs[j];
          if (!sub || sub->parent != g) return violation(g, "subgraph without this graph as parent in node ", n->name, NULL);
          TCC_RETURN_IF_ERROR(verify_graph(sub, w, depth + 1));
        }
      }
    }
    for (int k = 0; k < n->num_outputs; k++) {
      const tcc_value_t *v = n->outputs[k];
      if (!v) continue;
      if (v->producer != n || v->producer_output != k) return violation(g, "output's producer link is wrong: ", v->name, NULL);
      if (v->graph != g) return violation(g, "node output belongs to another graph: ", v->name, NULL);
      if (w->defined[v->id]) return violation(g, "value defined twice: ", v->name, NULL);
      w->defined[v->id] = 1;
    }
  }
  for (size_t i = 0; i < g->num_outputs; i++)
    if (!defined_before(w, g->outputs[i])) return violation(g, "graph output is not defined: ", g->outputs[i]->name, NULL);
  return NULL;
}

tcc_status_t tcc_graph_verify(const tcc_graph_t *g) {
  walk_t w = {calloc(g->module->next_id + 1, 1), g->module->next_id + 1};
  if (!w.defined) return tcc_status_oom();
  tcc_status_t st = verify_graph(g, &w, 0);
  free(w.defined);
  return st;
}

tcc_status_t tcc_module_verify(const tcc_module_t *m) { return tcc_graph_verify(m->graph); }
