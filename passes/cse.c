/* Common subexpression elimination (contract in passes/passes.h).
 *
 * First identical small constants (same type, same bytes, at most MAX_MERGED_CONSTANT_BYTES) become one,
 * so that nodes reading equal constants read the same value. Then, in graph order, a node with the same
 * op, attributes, inputs (the same values) and present outputs as an earlier node is dropped and its
 * outputs' readers read the earlier node's outputs. Inputs are compared by identity, and the graph is in
 * topological order, so one walk merges whole repeated chains. Never merged: random ops (each draws new
 * numbers), nodes with subgraphs, unsupported nodes, nodes without outputs.
 *
 * Graph outputs keep their names: when the dropped node writes a graph output, the earlier node is
 * dropped instead and the later one moves to its place (its inputs are the same, so the order stays
 * topological); when both write graph outputs, both stay.
 */
#include "passes/passes.h"

#include <string.h>

#include "passes/rewrite.h"

enum { MAX_MERGED_CONSTANT_BYTES = 4096 };

/* ---- constants ---- */

static bool is_plain_constant(const tcc_value_t *v) { return v->constant && !v->producer && !v->is_input; }

static bool same_constant(const tcc_value_t *a, const tcc_value_t *b) {
  const tcc_tensor_t *x = a->constant, *y = b->constant;
  if (x->dtype != y->dtype || x->rank != y->rank || x->nbytes != y->nbytes || x->dtype == TCC_DTYPE_STRING) return false;
  if (memcmp(x->dims, y->dims, (size_t)x->rank * sizeof *x->dims) != 0) return false;
  if (!tcc_type_equal(&a->type, &b->type)) return false;
  return x->nbytes == 0 || memcmp(x->data, y->data, x->nbytes) == 0;
}

static uint64_t constant_hash(const tcc_tensor_t *t) {
  uint64_t h = 1469598103934665603ULL ^ (uint64_t)t->dtype;
  const unsigned char *p = t->data;
  for (size_t i = 0; i < t->nbytes; i++) h = (h ^ p[i]) * 1099511628211ULL;
  for (int i = 0; i < t->rank; i++) h = (h ^ (uint64_t)t->dims[i]) * 1099511628211ULL;
  return h;
}

static tcc_status_t merge_constants(tcc_graph_t *g, bool *changed) {
  tcc_module_t *m = g->module;
  size_t cap = 64;
  while (cap < 2 * g->num_values) cap *= 2;
  tcc_value_t **table = tcc_module_alloc(m, cap * sizeof *table);
  bool *gone = tcc_module_alloc(m, g->num_values + 1);
  if (!table || !gone) return tcc_status_oom();
  memset(table, 0, cap * sizeof *table);
  memset(gone, 0, g->num_values + 1);
  for (size_t i = 0; i < g->num_values; i++) {
    tcc_value_t *v = g->values[i];
    if (!is_plain_constant(v) || v->constant->nbytes > MAX_MERGED_CONSTANT_BYTES) continue;
    size_t slot = (size_t)constant_hash(v->constant) & (cap - 1);
    while (table[slot] && !same_constant(table[slot], v)) slot = (slot + 1) & (cap - 1);
    if (!table[slot]) {
      table[slot] = v;
    } else if (!tcc_rewrite_value_is_output(g, v)) {
      tcc_rewrite_reads_replace(g, v, table[slot], false);
      gone[i] = true;
      *changed = true;
    }
  }
  size_t kept = 0;
  for (size_t i = 0; i < g->num_values; i++)
    if (!gone[i]) g->values[kept++] = g->values[i];
  g->num_values = kept;
  return NULL;
}

/* ---- nodes ---- */

static bool mergeable(const tcc_node_t *n) {
  if (!tcc_rewrite_node_is_pure(n)) return false;
  for (int i = 0; i < n->num_outputs; i++)
    if (n->outputs[i]) return true;
  return false;
}

static bool same_tensor(const tcc_tensor_t *x, const tcc_tensor_t *y) {
  if (x == y) return true;
  if (!x || !y || x->dtype != y->dtype || x->rank != y->rank || x->nbytes != y->nbytes) return false;
  if (memcmp(x->dims, y->dims, (size_t)x->rank * sizeof *x->dims) != 0) return false;
  if (x->dtype == TCC_DTYPE_STRING) {
    for (int64_t i = 0; i < x->numel; i++) {
      const tcc_bytes_t *a = (const tcc_bytes_t *)x->data + i, *b = (const tcc_bytes_t *)y->data + i;
      if (a->size != b->size || (a->size && memcmp(a->data, b->data, a->size) != 0)) return false;
    }
    return true;
  }
  return x->nbytes == 0 || memcmp(x->data, y->data, x->nbytes) == 0;
}

static bool same_bytes(tcc_bytes_t a, tcc_bytes_t b) {
  return a.size == b.size && (a.size == 0 || memcmp(a.data, b.data, a.size) == 0);
}

/* Attribute values, compared exactly (floats by bits, so -0.0 and NaN payloads count). */
static bool same_attr(const tcc_attr_t *a, const tcc_attr_t *b) {
  if (a->kind != b->kind) return false;
  switch (a->kind) {
    case TCC_ATTR_INT: return a->i == b->i;
    case TCC_ATTR_FLOAT: return memcmp(&a->f, &b->f, sizeof a->f) == 0;
    case TCC_ATTR_STRING: return same_bytes(a->s, b->s);
    case TCC_ATTR_TENSOR: return same_tensor(a->t, b->t);
    case TCC_ATTR_TYPE: return tcc_type_equal(&a->type, &b->type);
    default: break;
  }
  if (a->count != b->count) return false;
  for (int64_t i = 0; i < a->count; i++) {
    switch (a->kind) {
      case TCC_ATTR_INTS: if (a->ints[i] != b->ints[i]) return false; break;
      case TCC_ATTR_FLOATS: if (memcmp(&a->floats[i], &b->floats[i], sizeof(double)) != 0) return false; break;
      case TCC_ATTR_STRINGS: if (!same_bytes(a->strings[i], b->strings[i])) return false; break;
      case TCC_ATTR_TENSORS: if (!same_tensor(a->tensors[i], b->tensors[i])) return false; break;
      case TCC_ATTR_TYPES: if (!tcc_type_equal(&a->types[i], &b->types[i])) return false; break;
      case TCC_ATTR_DIMS: if (a->dims[i] != b->dims[i]) return false; break; /* dims are interned */
      default: return false;
    }
  }
  return true;
}

static bool same_computation(const tcc_node_t *a, const tcc_node_t *b) {
  if (a->op != b->op || a->num_inputs != b->num_inputs || a->num_outputs != b->num_outputs ||
      a->num_attrs != b->num_attrs)
    return false;
  for (int i = 0; i < a->num_inputs; i++)
    if (a->inputs[i] != b->inputs[i]) return false;
  for (int i = 0; i < a->num_outputs; i++)
    if (!a->outputs[i] != !b->outputs[i]) return false;
  for (int i = 0; i < a->num_attrs; i++) {
    const tcc_attr_t *other = tcc_node_attr(b, a->attrs[i].name);
    if (!other || !same_attr(&a->attrs[i], other)) return false;
  }
  /* the same op over the same inputs; inference agrees unless the types were annotated differently */
  for (int i = 0; i < a->num_outputs; i++)
    if (a->outputs[i] && !tcc_type_equal(&a->outputs[i]->type, &b->outputs[i]->type)) return false;
  return true;
}

static uint64_t node_hash(const tcc_node_t *n) {
  uint64_t h = 1469598103934665603ULL ^ (uint64_t)n->op;
  h = (h ^ (uint64_t)n->num_inputs) * 1099511628211ULL;
  for (int i = 0; i < n->num_inputs; i++) h = (h ^ (n->inputs[i] ? n->inputs[i]->id + 1u : 0u)) * 1099511628211ULL;
  return (h ^ (uint64_t)n->num_attrs) * 1099511628211ULL;
}

static bool writes_graph_output(const tcc_graph_t *g, const tcc_node_t *n) {
  for (int i = 0; i < n->num_outputs; i++)
    if (n->outputs[i] && tcc_rewrite_value_is_output(g, n->outputs[i])) return true;
  return false;
}

static tcc_status_t merge_nodes(tcc_graph_t *g, bool *changed) {
  tcc_module_t *m = g->module;
  size_t cap = 64;
  while (cap < 2 * g->num_nodes) cap *= 2;
  size_t *table = tcc_module_alloc(m, cap * sizeof *table); /* node index + 1; 0 = empty */
  bool *gone = tcc_module_alloc(m, g->num_nodes + 1);
  if (!table || !gone) return tcc_status_oom();
  memset(table, 0, cap * sizeof *table);
  memset(gone, 0, g->num_nodes + 1);
  for (size_t i = 0; i < g->num_nodes; i++) {
    tcc_node_t *n = g->nodes[i];
    if (!mergeable(n)) continue;
    size_t slot = (size_t)node_hash(n) & (cap - 1);
    while (table[slot] && !same_computation(g->nodes[table[slot] - 1], n)) slot = (slot + 1) & (cap - 1);
    if (!table[slot]) {
      table[slot] = i + 1;
      continue;
    }
    size_t j = table[slot] - 1;
    tcc_node_t *first = g->nodes[j];
    bool out_n = writes_graph_output(g, n);
    if (out_n && writes_graph_output(g, first)) continue;
    if (out_n) { /* keep n, in first's place */
      for (int k = 0; k < n->num_outputs; k++)
        if (n->outputs[k]) tcc_rewrite_reads_replace(g, first->outputs[k], n->outputs[k], false);
      g->nodes[j] = n;
      g->nodes[i] = first;
    } else {
      for (int k = 0; k < n->num_outputs; k++)
        if (n->outputs[k]) tcc_rewrite_reads_replace(g, n->outputs[k], first->outputs[k], false);
    }
    gone[i] = true;
    *changed = true;
  }
  size_t kept = 0;
  for (size_t i = 0; i < g->num_nodes; i++)
    if (!gone[i]) g->nodes[kept++] = g->nodes[i];
  g->num_nodes = kept;
  return NULL;
}

/* The outputs of dropped nodes leave the value list. */
static tcc_status_t drop_orphans(tcc_graph_t *g) {
  tcc_module_t *m = g->module;
  bool *live = tcc_module_alloc(m, (size_t)m->next_id + 1);
  if (!live) return tcc_status_oom();
  memset(live, 0, (size_t)m->next_id + 1);
  for (size_t i = 0; i < g->num_nodes; i++)
    for (int k = 0; k < g->nodes[i]->num_outputs; k++)
      if (g->nodes[i]->outputs[k]) live[g->nodes[i]->outputs[k]->id] = true;
  size_t kept = 0;
  for (size_t i = 0; i < g->num_values; i++) {
    tcc_value_t *v = g->values[i];
    if (!v->producer || live[v->id]) g->values[kept++] = v;
  }
  g->num_values = kept;
  return NULL;
}

tcc_status_t tcc_pass_cse(tcc_graph_t *g, const tcc_pass_context_t *ctx, const tcc_cse_options_t *options,
                          bool *changed) {
  (void)ctx, (void)options;
  *changed = false;
  TCC_RETURN_IF_ERROR(merge_constants(g, changed));
  bool merged = false;
  TCC_RETURN_IF_ERROR(merge_nodes(g, &merged));
  if (merged) TCC_RETURN_IF_ERROR(drop_orphans(g));
  *changed |= merged;
  return NULL;
}
