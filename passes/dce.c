/* Dead code elimination (contract in passes/passes.h).
 *
 * A value is read when it is a graph output or an input of a live node — reads from inside a subgraph
 * of a live node (outer-scope references, subgraph outputs) included. Walking the nodes backwards, a node
 * none of whose outputs is read is dead, and its inputs lose that read; so whole unread chains go in one
 * walk. Then constants nothing reads, and the outputs of the removed nodes, leave the graph's value list
 * (graph inputs always stay: they are the model's interface).
 */
#include "passes/passes.h"

#include <string.h>

static void add_subgraph_uses(const tcc_graph_t *g, int32_t *uses, int delta);

/* uses[id] += delta for the reads of node n itself: its inputs and everything its subgraphs read. */
static void add_node_uses(const tcc_node_t *n, int32_t *uses, int delta) {
  for (int k = 0; k < n->num_inputs; k++)
    if (n->inputs[k]) uses[n->inputs[k]->id] += delta;
  for (int k = 0; k < n->num_attrs; k++) {
    const tcc_attr_t *a = &n->attrs[k];
    if (a->kind == TCC_ATTR_GRAPH && a->g) add_subgraph_uses(a->g, uses, delta);
    for (int64_t j = 0; a->kind == TCC_ATTR_GRAPHS && j < a->count; j++) add_subgraph_uses(a->graphs[j], uses, delta);
  }
}

/* The same for every node of subgraph g, nested subgraphs included, and for every output of g (its
 * outputs may be outer values). */
static void add_subgraph_uses(const tcc_graph_t *g, int32_t *uses, int delta) {
  for (size_t i = 0; i < g->num_outputs; i++) uses[g->outputs[i]->id] += delta;
  for (size_t i = 0; i < g->num_nodes; i++) add_node_uses(g->nodes[i], uses, delta);
}

tcc_status_t tcc_pass_dce(tcc_graph_t *g, const tcc_pass_context_t *ctx, const tcc_dce_options_t *options,
                          bool *changed) {
  (void)ctx, (void)options;
  *changed = false;
  tcc_module_t *m = g->module;
  int32_t *uses = tcc_module_alloc(m, ((size_t)m->next_id + 1) * sizeof *uses);
  bool *dead = tcc_module_alloc(m, g->num_nodes + 1);
  bool *live_node_output = tcc_module_alloc(m, (size_t)m->next_id + 1);
  if (!uses || !dead || !live_node_output) return tcc_status_oom();
  memset(uses, 0, ((size_t)m->next_id + 1) * sizeof *uses);
  memset(dead, 0, g->num_nodes + 1);
  memset(live_node_output, 0, (size_t)m->next_id + 1);
  for (size_t i = 0; i < g->num_outputs; i++) uses[g->outputs[i]->id]++;
  for (size_t i = 0; i < g->num_nodes; i++) add_node_uses(g->nodes[i], uses, 1);

  size_t removed = 0;
  for (size_t i = g->num_nodes; i-- > 0;) {
    const tcc_node_t *n = g->nodes[i];
    bool read = false;
    for (int k = 0; k < n->num_outputs; k++) read |= n->outputs[k] && uses[n->outputs[k]->id] > 0;
    if (read) continue;
    dead[i] = true;
    removed++;
    add_node_uses(n, uses, -1);
  }
  size_t kept = 0;
  for (size_t i = 0; i < g->num_nodes; i++) {
    if (dead[i]) continue;
    const tcc_node_t *n = g->nodes[i];
    for (int k = 0; k < n->num_outputs; k++)
      if (n->outputs[k]) live_node_output[n->outputs[k]->id] = true;
    g->nodes[kept++] = g->nodes[i];
  }
  g->num_nodes = kept;

  /* the value list: inputs, read values and the outputs of live nodes stay */
  size_t constants_removed = 0, kept_values = 0;
  for (size_t i = 0; i < g->num_values; i++) {
    tcc_value_t *v = g->values[i];
    bool keep = v->is_input || uses[v->id] > 0 || live_node_output[v->id];
    if (!keep && v->constant && !v->producer) constants_removed++;
    if (keep) g->values[kept_values++] = v;
  }
  g->num_values = kept_values;
  *changed = removed > 0 || constants_removed > 0;
  return NULL;
}
