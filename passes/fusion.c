/* Operator fusion (contract in passes/passes.h), in four sweeps over the main graph:
 *   1. reductions: the decomposed GELU (erf and tanh forms), LayerNorm and RMSNorm patterns become the ops
 *      gelu, layer_normalization and rms_normalization;
 *   2. attention: MatMul(Q, K^T) -> scale -> (+ mask) -> Softmax(last axis) -> MatMul(., V) becomes one
 *      attention op (4-D [batch, heads, seq, head] inputs; a Trilu(-inf) upper mask becomes is_causal);
 *   3. epilogues: Conv / MatMul / Gemm followed by single-reader bias adds, activations, residual adds
 *      and scales becomes one `fused` node ("conv2d+bias+add+relu");
 *   4. elementwise: maximal groups of elementwise ops of one output shape whose intermediates are read
 *      only inside the group become one `fused` node ("elementwise").
 * A value is an intermediate of a group only when every read of it is by the group's nodes: graph outputs
 * and reads from subgraphs count as outside reads. Each rewrite re-infers what it creates and is dropped
 * when the types of the values it replaces would change. */
#include "passes/passes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/infer.h"

enum { MAX_GROUP = 64, MAX_EPILOGUE = 8 };

typedef struct {
  tcc_graph_t *g;
  uint32_t cap;          /* ids below cap are indexed */
  int *uses;             /* by value id: reads by main-graph nodes, subgraphs and graph outputs */
  uint8_t *escapes;      /* by value id: read by a graph output or from a subgraph */
  tcc_node_t **reader;   /* by value id: a main-graph node reading it (the only one when uses == 1) */
  int *pos;              /* by node id: index in g->nodes */
  tcc_value_t **touched; /* values read by removed nodes: candidates for the final cleanup */
  size_t num_touched, cap_touched;
  int rewrites;
} fusion_t;

typedef struct {
  tcc_node_t *n[MAX_GROUP];
  int count;
} group_t;

/* ---- reads ------------------------------------------------------------------------------------------ */

static void count_subgraph_reads(fusion_t *f, const tcc_graph_t *sg, int depth) {
  if (depth > 64) return;
  for (size_t i = 0; i < sg->num_nodes; i++) {
    const tcc_node_t *n = sg->nodes[i];
    for (int k = 0; k < n->num_inputs; k++) {
      const tcc_value_t *v = n->inputs[k];
      if (v && v->id < f->cap) f->uses[v->id]++, f->escapes[v->id] = 1;
    }
    for (int k = 0; k < n->num_attrs; k++) {
      const tcc_attr_t *a = &n->attrs[k];
      if (a->kind == TCC_ATTR_GRAPH && a->g) count_subgraph_reads(f, a->g, depth + 1);
      if (a->kind == TCC_ATTR_GRAPHS)
        for (int64_t j = 0; j < a->count; j++)
          if (a->graphs[j]) count_subgraph_reads(f, a->graphs[j], depth + 1);
    }
  }
  for (size_t i = 0; i < sg->num_outputs; i++) {
    const tcc_value_t *v = sg->outputs[i];
    if (v && v->id < f->cap) f->uses[v->id]++, f->escapes[v->id] = 1;
  }
}

static void uses_free(fusion_t *f) {
  free(f->uses), free(f->escapes), free(f->reader), free(f->pos);
  f->uses = NULL, f->escapes = NULL, f->reader = NULL, f->pos = NULL;
}

static tcc_status_t uses_build(fusion_t *f) {
  uses_free(f);
  tcc_graph_t *g = f->g;
  f->cap = g->module->next_id + 1;
  f->uses = calloc(f->cap, sizeof *f->uses);
  f->escapes = calloc(f->cap, 1);
  f->reader = calloc(f->cap, sizeof *f->reader);
  f->pos = calloc(f->cap, sizeof *f->pos);
  if (!f->uses || !f->escapes || !f->reader || !f->pos) return tcc_status_oom();
  for (size_t i = 0; i < g->num_nodes; i++) {
    tcc_node_t *n = g->nodes[i];
    f->pos[n->id] = (int)i;
    for (int k = 0; k < n->num_inputs; k++) {
      const tcc_value_t *v = n->inputs[k];
      if (v) f->uses[v->id]++, f->reader[v->id] = n;
    }
    for (int k = 0; k < n->num_attrs; k++) {
      const tcc_attr_t *a = &n->attrs[k];
      if (a->kind == TCC_ATTR_GRAPH && a->g) count_subgraph_reads(f, a->g, 1);
      if (a->kind == TCC_ATTR_GRAPHS)
        for (int64_t j = 0; j < a->count; j++)
          if (a->graphs[j]) count_subgraph_reads(f, a->graphs[j], 1);
    }
  }
  for (size_t i = 0; i < g->num_outputs; i++) f->uses[g->outputs[i]->id]++, f->escapes[g->outputs[i]->id] = 1;
  return NULL;
}

static int uses_of(const fusion_t *f, const tcc_value_t *v) { return v && v->id < f->cap ? f->uses[v->id] : 0; }

/* The one node that reads v, when exactly one main-graph node reads it exactly once. */
static tcc_node_t *only_reader(const fusion_t *f, const tcc_value_t *v) {
  if (!v || v->id >= f->cap || f->escapes[v->id] || f->uses[v->id] != 1) return NULL;
  return f->reader[v->id];
}

/* v's producer when it is a main-graph node with op `op` and one output (for TCC_OP_ADD, also a Sum of
 * two inputs, as ONNX function bodies write it). */
static tcc_node_t *producer_op(const fusion_t *f, const tcc_value_t *v, tcc_op_t op) {
  if (!v || !v->producer || v->producer->graph != f->g || v->producer->num_outputs != 1) return NULL;
  tcc_node_t *p = v->producer;
  return p->op == op || (op == TCC_OP_ADD && p->op == TCC_OP_SUM && p->num_inputs == 2) ? p : NULL;
}

static bool group_has(const group_t *gr, const tcc_node_t *n) {
  for (int i = 0; i < gr->count; i++)
    if (gr->n[i] == n) return true;
  return false;
}

static bool group_add(group_t *gr, tcc_node_t *n) {
  if (!n) return false;
  if (group_has(gr, n)) return true;
  if (gr->count == MAX_GROUP) return false;
  gr->n[gr->count++] = n;
  return true;
}

/* Whether every read of v is by a node of the group. */
static bool internal_only(const fusion_t *f, const group_t *gr, const tcc_value_t *v) {
  if (!v || v->id >= f->cap || f->escapes[v->id]) return false;
  int reads = 0;
  for (int i = 0; i < gr->count; i++)
    for (int k = 0; k < gr->n[i]->num_inputs; k++) reads += gr->n[i]->inputs[k] == v;
  return reads == f->uses[v->id];
}

/* Whether the group's outputs other than root's are read only inside the group. */
static bool closed_except_root(const fusion_t *f, const group_t *gr, const tcc_node_t *root) {
  for (int i = 0; i < gr->count; i++) {
    const tcc_node_t *n = gr->n[i];
    if (n == root) continue;
    for (int k = 0; k < n->num_outputs; k++)
      if (n->outputs[k] && !internal_only(f, gr, n->outputs[k])) return false;
  }
  return true;
}

/* Orders the group as the graph does (insertion sort: groups are small). */
static void group_sort(const fusion_t *f, group_t *gr) {
  for (int i = 1; i < gr->count; i++) {
    tcc_node_t *n = gr->n[i];
    int j = i;
    for (; j > 0 && f->pos[gr->n[j - 1]->id] > f->pos[n->id]; j--) gr->n[j] = gr->n[j - 1];
    gr->n[j] = n;
  }
}

/* ---- values --------------------------------------------------------------------------------------- */

static bool is_tensor(const tcc_value_t *v) { return v && v->type.kind == TCC_TYPE_TENSOR && v->type.rank >= 0; }

static bool is_float(const tcc_value_t *v) { return is_tensor(v) && tcc_dtype_is_float(v->type.dtype); }

/* A constant of the graph (an initializer or a folded value, not an overridable input). */
static bool is_constant(const tcc_value_t *v) { return v && v->constant && !v->is_input && !v->producer; }

/* The value of a one-element numeric constant. */
static bool scalar_of(const tcc_value_t *v, double *out) {
  if (!is_constant(v) || v->constant->numel != 1 || v->constant->dtype == TCC_DTYPE_STRING) return false;
  *out = tcc_tensor_get_float(v->constant, 0);
  return true;
}

static bool near(double a, double b, double rel) { return fabs(a - b) <= rel * fabs(b); }

/* A one-element constant equal to want within rel, or within a unit in the last place of its own type (an
 * f16 graph holds sqrt(2) as 1.4140625). */
static bool scalar_near(const tcc_value_t *v, double want, double rel) {
  double c;
  if (!scalar_of(v, &c)) return false;
  if (rel > 0 && v->constant->dtype == TCC_DTYPE_F16) rel = fmax(rel, 1.0 / 1024);
  if (rel > 0 && v->constant->dtype == TCC_DTYPE_BF16) rel = fmax(rel, 1.0 / 128);
  return near(c, want, rel);
}

/* For a binary node: the operand that is not `x` (NULL when both or neither are x). */
static tcc_value_t *other_operand(const tcc_node_t *n, const tcc_value_t *x) {
  if (n->num_inputs != 2) return NULL;
  if (n->inputs[0] == x && n->inputs[1] != x) return n->inputs[1];
  if (n->inputs[1] == x && n->inputs[0] != x) return n->inputs[0];
  return NULL;
}

/* For a binary node with one scalar-constant operand: the other operand, and the constant in *c. */
static tcc_value_t *with_scalar(const tcc_node_t *n, double *c) {
  if (!n || n->num_inputs != 2) return NULL;
  if (scalar_of(n->inputs[1], c) && !is_constant(n->inputs[0])) return n->inputs[0];
  if (scalar_of(n->inputs[0], c) && !is_constant(n->inputs[1])) return n->inputs[1];
  return NULL;
}

static bool same_dims(const tcc_type_t *a, const tcc_type_t *b) {
  if (a->kind != TCC_TYPE_TENSOR || b->kind != TCC_TYPE_TENSOR || a->rank < 0 || a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return true;
}

/* ---- rewriting -------------------------------------------------------------------------------------- */

static bool touch(fusion_t *f, tcc_value_t *v) {
  if (f->num_touched == f->cap_touched) {
    size_t cap = f->cap_touched ? 2 * f->cap_touched : 64;
    tcc_value_t **t = realloc(f->touched, cap * sizeof *t);
    if (!t) return false;
    f->touched = t, f->cap_touched = cap;
  }
  f->touched[f->num_touched++] = v;
  return true;
}

/* Removes v from its graph's value list (a value nothing defines or reads any more). */
static void drop_value(tcc_value_t *v) {
  tcc_graph_t *g = v->graph;
  for (size_t i = g->num_values; i-- > 0;)
    if (g->values[i] == v) {
      memmove(&g->values[i], &g->values[i + 1], (g->num_values - i - 1) * sizeof *g->values);
      g->num_values--;
      return;
    }
}

/* Removes the group's nodes and moves the last nfresh nodes of g (just added) to where `at` was. */
static tcc_status_t splice(fusion_t *f, const group_t *dead, const tcc_node_t *at, int nfresh) {
  tcc_graph_t *g = f->g;
  size_t old = g->num_nodes - (size_t)nfresh;
  tcc_node_t **out = malloc((g->num_nodes + 1) * sizeof *out);
  if (!out) return tcc_status_oom();
  size_t k = 0;
  for (size_t i = 0; i < old; i++) {
    tcc_node_t *n = g->nodes[i];
    if (n == at)
      for (int j = 0; j < nfresh; j++) out[k++] = g->nodes[old + (size_t)j];
    if (!group_has(dead, n)) out[k++] = n;
  }
  memcpy(g->nodes, out, k * sizeof *out);
  g->num_nodes = k;
  free(out);
  return NULL;
}

/* Commits a rewrite: fresh (the last nfresh nodes of g, in order; the last one replaces root) are inferred;
 * when the replacement's outputs have root's output types, it takes over root's output values, the group's
 * nodes go, and the fresh nodes take root's place. Otherwise everything fresh is undone and *ok is false. */
static tcc_status_t commit(fusion_t *f, const group_t *dead, tcc_node_t *root, int nfresh, bool *ok) {
  tcc_graph_t *g = f->g;
  tcc_node_t *repl = g->nodes[g->num_nodes - 1];
  *ok = repl->num_outputs == root->num_outputs;
  for (int j = 0; j < nfresh && *ok; j++) {
    tcc_status_t st = tcc_node_infer(g->nodes[g->num_nodes - (size_t)nfresh + (size_t)j]);
    if (st && tcc_status_code(st) == TCC_OUT_OF_MEMORY) return st;
    if (st) tcc_status_free(st), *ok = false;
  }
  for (int i = 0; i < repl->num_outputs && *ok; i++)
    *ok = root->outputs[i] && repl->outputs[i] && tcc_type_equal(&root->outputs[i]->type, &repl->outputs[i]->type);
  if (!*ok) {
    for (int j = 0; j < nfresh; j++) {
      tcc_node_t *n = g->nodes[--g->num_nodes];
      for (int i = 0; i < n->num_outputs; i++)
        if (n->outputs[i]) drop_value(n->outputs[i]);
    }
    return NULL;
  }
  for (int i = 0; i < repl->num_outputs; i++) {
    tcc_value_t *tmp = repl->outputs[i];
    tcc_node_set_output(repl, i, root->outputs[i]);
    drop_value(tmp);
  }
  for (int i = 0; i < dead->count; i++)
    for (int k = 0; k < dead->n[i]->num_inputs; k++)
      if (dead->n[i]->inputs[k] && !touch(f, dead->n[i]->inputs[k])) return tcc_status_oom();
  TCC_RETURN_IF_ERROR(splice(f, dead, root, nfresh));
  f->rewrites++;
  return uses_build(f);
}

/* A new value of g named base, or base_N when that is taken. */
static tcc_value_t *named_value(tcc_graph_t *g, const char *base) {
  char name[256];
  snprintf(name, sizeof name, "%s", base);
  for (int i = 1; i < 1000 && tcc_graph_find(g, name); i++) snprintf(name, sizeof name, "%s_%d", base, i);
  return tcc_graph_add_value(g, name);
}

/* A new node of g with fresh outputs: output_name for its first (NULL: a temporary "%N"). */
static tcc_node_t *new_node(tcc_graph_t *g, tcc_op_t op, const char *name, int num_inputs, int num_outputs,
                            const char *output_name) {
  tcc_node_t *n = tcc_graph_add_node(g, op, name, num_inputs, num_outputs);
  if (!n) return NULL;
  for (int i = 0; i < num_outputs; i++) {
    tcc_value_t *v = i == 0 && output_name ? named_value(g, output_name) : tcc_graph_add_value(g, NULL);
    if (!v) return NULL;
    tcc_node_set_output(n, i, v);
  }
  return n;
}

/* Replaces the group (root last) by one new node of op over the given inputs. */
static tcc_status_t replace_by_op(fusion_t *f, const group_t *gr, tcc_node_t *root, tcc_op_t op,
                                  tcc_value_t *const *inputs, int num_inputs, const tcc_attr_t *attrs, int num_attrs,
                                  bool *ok) {
  tcc_node_t *n = new_node(f->g, op, root->name, num_inputs, 1, NULL);
  if (!n) return tcc_status_oom();
  for (int i = 0; i < num_inputs; i++) n->inputs[i] = inputs[i];
  for (int i = 0; i < num_attrs; i++) TCC_RETURN_IF_ERROR(tcc_node_set_attr(n, &attrs[i]));
  return commit(f, gr, root, 1, ok);
}

/* The group (its root the last node in graph order, the only one whose output is read outside) becomes one
 * fused node: values from outside become its inputs, except one-element constants, copied into the body. */
static tcc_status_t fuse_group(fusion_t *f, group_t *gr, const char *name, const char *kind, bool *ok) {
  *ok = false;
  tcc_graph_t *g = f->g;
  tcc_module_t *m = g->module;
  group_sort(f, gr);
  tcc_node_t *root = gr->n[gr->count - 1];
  if (root->num_outputs != 1 || !root->outputs[0] || !closed_except_root(f, gr, root)) return NULL;
  for (int i = 0; i < gr->count; i++)
    for (int k = 0; k < gr->n[i]->num_attrs; k++)
      if (gr->n[i]->attrs[k].kind == TCC_ATTR_GRAPH || gr->n[i]->attrs[k].kind == TCC_ATTR_GRAPHS) return NULL;
  /* old value -> body value */
  size_t cap = 4 * MAX_GROUP + 8, nmap = 0, next = 0;
  const tcc_value_t **from = calloc(cap, sizeof *from);
  tcc_value_t **to = calloc(cap, sizeof *to), **ext = calloc(cap, sizeof *ext);
  tcc_status_t st = NULL;
  tcc_graph_t *body = NULL;
  if (!from || !to || !ext) st = tcc_status_oom();
  /* the outside values read, in order of first read */
  for (int i = 0; i < gr->count && !st; i++)
    for (int k = 0; k < gr->n[i]->num_inputs; k++) {
      tcc_value_t *v = gr->n[i]->inputs[k];
      if (!v || (v->producer && group_has(gr, v->producer))) continue;
      bool seen = false;
      for (size_t j = 0; j < next && !seen; j++) seen = ext[j] == v;
      if (!seen && next < cap) ext[next++] = v;
    }
  if (!st && !(body = tcc_graph_create(m, g, "body"))) st = tcc_status_oom();
  size_t ninputs = 0;
  for (size_t j = 0; j < next && !st; j++) {
    tcc_value_t *v = ext[j], *b;
    double c;
    if (scalar_of(v, &c)) {
      b = tcc_graph_add_constant(body, v->name, v->constant);
    } else {
      b = tcc_graph_add_input(body, v->name);
      if (b) st = tcc_value_set_type(b, &v->type);
      ext[ninputs++] = v;
    }
    if (!st && !b) st = tcc_status_oom();
    if (!st) from[nmap] = v, to[nmap++] = b;
  }
  for (int i = 0; i < gr->count && !st; i++) {
    const tcc_node_t *n = gr->n[i];
    tcc_node_t *bn = tcc_graph_add_node(body, n->op, n->name, n->num_inputs, n->num_outputs);
    if (!bn) {
      st = tcc_status_oom();
      break;
    }
    bn->domain = n->domain, bn->op_type = n->op_type, bn->opset = n->opset;
    if (n->num_attrs) {
      tcc_attr_t *attrs = tcc_module_alloc(m, (size_t)n->num_attrs * sizeof *attrs);
      if (!attrs) {
        st = tcc_status_oom();
        break;
      }
      memcpy(attrs, n->attrs, (size_t)n->num_attrs * sizeof *attrs);
      bn->attrs = attrs, bn->num_attrs = n->num_attrs;
    }
    for (int k = 0; k < n->num_inputs; k++) {
      if (!n->inputs[k]) continue;
      for (size_t j = 0; j < nmap && !bn->inputs[k]; j++)
        if (from[j] == n->inputs[k]) bn->inputs[k] = to[j];
      if (!bn->inputs[k]) st = tcc_status_make(TCC_INTERNAL, "fusion: value '%s' missing from the body", n->inputs[k]->name);
    }
    for (int k = 0; k < n->num_outputs && !st; k++) {
      if (!n->outputs[k]) continue;
      tcc_value_t *b = tcc_graph_add_value(body, n->outputs[k]->name);
      if (!b || nmap == cap) {
        st = tcc_status_oom();
        break;
      }
      tcc_node_set_output(bn, k, b);
      from[nmap] = n->outputs[k], to[nmap++] = b;
    }
  }
  tcc_node_t *fn = NULL;
  if (!st) {
    tcc_value_t *bout = to[nmap - 1]; /* root's only output, mapped last */
    if (!tcc_graph_add_output(body, bout)) st = tcc_status_oom();
  }
  if (!st && !(fn = new_node(g, TCC_OP_FUSED, name, (int)ninputs, 1, NULL))) st = tcc_status_oom();
  if (!st) {
    for (size_t j = 0; j < ninputs; j++) fn->inputs[j] = ext[j];
    char *kcopy = tcc_module_strdup(m, kind);
    tcc_attr_t ka = {.name = "kind", .kind = TCC_ATTR_STRING, .s = {kcopy, strlen(kind)}};
    tcc_attr_t ba = {.name = "body", .kind = TCC_ATTR_GRAPH, .g = body};
    if (!kcopy) st = tcc_status_oom();
    if (!st) st = tcc_node_set_attr(fn, &ka);
    if (!st) st = tcc_node_set_attr(fn, &ba);
  }
  free(from), free(to), free(ext);
  if (st) return st;
  return commit(f, gr, root, 1, ok);
}

/* ---- 1. GELU, LayerNorm, RMSNorm ------------------------------------------------------------------ */

/* From a = (1 + erf(...)) or (1 + tanh(...)): the Mul nodes that multiply it by x and 0.5, in any order and
 * association (x * 0.5 premultiplied included), added to the group; the last Mul, or NULL. */
static tcc_node_t *half_x_times(const fusion_t *f, group_t *gr, const tcc_node_t *a, const tcc_value_t *x) {
  const tcc_value_t *cur = a->outputs[0];
  int have_x = 0;
  double k = 1;
  for (int step = 0; step < 3; step++) {
    tcc_node_t *m = only_reader(f, cur);
    if (!m || m->op != TCC_OP_MUL) return NULL;
    const tcc_value_t *o = other_operand(m, cur);
    double c;
    tcc_node_t *p;
    if (!o) return NULL;
    if (o == x) {
      have_x++;
    } else if (scalar_of(o, &c)) {
      k *= c;
    } else if ((p = producer_op(f, o, TCC_OP_MUL)) && only_reader(f, o) == m && with_scalar(p, &c) == x) {
      have_x++, k *= c;
      if (!group_add(gr, p)) return NULL;
    } else {
      return NULL;
    }
    if (!group_add(gr, m)) return NULL;
    cur = m->outputs[0];
    if (have_x > 1) return NULL;
    if (have_x == 1 && near(k, 0.5, 1e-6)) return m;
  }
  return NULL;
}

/* 1 + t, t the output of n: the Add node. */
static tcc_node_t *one_plus(const fusion_t *f, const tcc_node_t *n) {
  tcc_node_t *a = only_reader(f, n->outputs[0]);
  if (!a || a->num_outputs != 1 || producer_op(f, a->outputs[0], TCC_OP_ADD) != a) return NULL;
  return scalar_near(other_operand(a, n->outputs[0]), 1.0, 1e-6) ? a : NULL;
}

static tcc_status_t finish_gelu(fusion_t *f, group_t *gr, tcc_node_t *root, tcc_value_t *x, bool tanh_form, bool *ok) {
  *ok = false;
  if (!root || !is_float(x) || !closed_except_root(f, gr, root)) return NULL;
  if (!same_dims(&x->type, &root->outputs[0]->type) || x->type.dtype != root->outputs[0]->type.dtype) return NULL;
  group_sort(f, gr);
  if (gr->n[gr->count - 1] != root) return NULL;
  tcc_attr_t a = {.name = "approximate", .kind = TCC_ATTR_STRING, .s = {"tanh", 4}};
  return replace_by_op(f, gr, root, TCC_OP_GELU, &x, 1, &a, tanh_form ? 1 : 0, ok);
}

/* x * 0.5 * (1 + erf(x / sqrt(2))), x / sqrt(2) also as x * (1 / sqrt(2)). */
static tcc_status_t try_gelu_erf(fusion_t *f, tcc_node_t *e, bool *ok) {
  *ok = false;
  group_t gr = {.count = 0};
  tcc_value_t *u = e->inputs[0], *x = NULL;
  tcc_node_t *p;
  double c;
  if ((p = producer_op(f, u, TCC_OP_DIV)) && scalar_near(p->inputs[1], sqrt(2.0), 2e-5)) x = p->inputs[0];
  else if ((p = producer_op(f, u, TCC_OP_MUL)) && (x = with_scalar(p, &c)) && !scalar_near(other_operand(p, x), 1 / sqrt(2.0), 2e-5))
    x = NULL;
  if (!x) return NULL;
  tcc_node_t *a = one_plus(f, e);
  if (!a || !group_add(&gr, p) || !group_add(&gr, e) || !group_add(&gr, a)) return NULL;
  return finish_gelu(f, &gr, half_x_times(f, &gr, a, x), x, false, ok);
}

/* v == x^2 (x * x or Pow(x, 2)); its node added to the group. */
static bool square_of(const fusion_t *f, group_t *gr, const tcc_value_t *v, const tcc_value_t *x) {
  tcc_node_t *p = producer_op(f, v, TCC_OP_MUL);
  if (p && p->inputs[0] == x && p->inputs[1] == x) return group_add(gr, p);
  p = producer_op(f, v, TCC_OP_POW);
  return p && p->inputs[0] == x && scalar_near(p->inputs[1], 2.0, 0) && group_add(gr, p);
}

/* v == x^3 (x * x^2, x^2 * x or Pow(x, 3)). */
static bool cube_of(const fusion_t *f, group_t *gr, const tcc_value_t *v, const tcc_value_t *x) {
  tcc_node_t *p = producer_op(f, v, TCC_OP_POW);
  if (p) return p->inputs[0] == x && scalar_near(p->inputs[1], 3.0, 0) && group_add(gr, p);
  p = producer_op(f, v, TCC_OP_MUL);
  if (!p) return false;
  const tcc_value_t *o = other_operand(p, x);
  return o && square_of(f, gr, o, x) && group_add(gr, p);
}

/* 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))). */
static tcc_status_t try_gelu_tanh(fusion_t *f, tcc_node_t *t, bool *ok) {
  *ok = false;
  group_t gr = {.count = 0};
  double c;
  tcc_node_t *scale = producer_op(f, t->inputs[0], TCC_OP_MUL), *inner;
  tcc_value_t *iv = scale ? with_scalar(scale, &c) : NULL;
  if (!iv || !scalar_near(other_operand(scale, iv), sqrt(2.0 / 3.14159265358979323846), 1e-5) ||
      !(inner = producer_op(f, iv, TCC_OP_ADD)))
    return NULL;
  for (int side = 0; side < 2; side++) {
    gr.count = 0;
    tcc_value_t *x = inner->inputs[side];
    tcc_node_t *term = producer_op(f, inner->inputs[1 - side], TCC_OP_MUL);
    tcc_value_t *cube = term ? with_scalar(term, &c) : NULL;
    if (!cube || !scalar_near(other_operand(term, cube), 0.044715, 1e-5) || !cube_of(f, &gr, cube, x)) continue;
    tcc_node_t *a = one_plus(f, t);
    if (!a || !group_add(&gr, term) || !group_add(&gr, inner) || !group_add(&gr, scale) || !group_add(&gr, t) ||
        !group_add(&gr, a))
      return NULL;
    return finish_gelu(f, &gr, half_x_times(f, &gr, a, x), x, true, ok);
  }
  return NULL;
}

/* The reduced axes of a keepdims ReduceMean over a rank-r input as the first axis k of a trailing run
 * [k, r); -1 when they are not such a run. */
static int trailing_axes(const tcc_node_t *r, int rank) {
  if (tcc_node_attr_int(r, "keepdims", 1) == 0 || rank <= 0 || rank > 64) return -1;
  const int64_t *axes = NULL;
  int64_t n = 0;
  if (r->num_inputs > 1 && r->inputs[1]) {
    if (!tcc_value_const_ints(r->inputs[1], &axes, &n)) return -1;
  } else {
    tcc_node_attr_ints(r, "axes", &axes, &n);
  }
  if (n <= 0 || n > rank) return -1;
  bool mask[64] = {false};
  for (int64_t i = 0; i < n; i++) {
    int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
    if (a < 0 || a >= rank || mask[a]) return -1;
    mask[a] = true;
  }
  int k = rank - (int)n;
  for (int d = k; d < rank; d++)
    if (!mask[d]) return -1;
  return k;
}

/* v == 1 / sqrt(s + eps) as Reciprocal(Sqrt(.)) or Pow(., -0.5) (inverse) or v == sqrt(s + eps) as Sqrt(.) or
 * Pow(., 0.5) (!inverse): s and eps, the nodes added to the group. */
static tcc_value_t *root_of_sum(const fusion_t *f, group_t *gr, const tcc_value_t *v, bool inverse, double *eps) {
  tcc_node_t *p;
  if (inverse) {
    if ((p = producer_op(f, v, TCC_OP_POW)) && scalar_near(p->inputs[1], -0.5, 0)) {
      /* Pow(s + eps, -0.5) */
    } else if ((p = producer_op(f, v, TCC_OP_RECIPROCAL))) {
      if (!group_add(gr, p)) return NULL;
      p = producer_op(f, p->inputs[0], TCC_OP_SQRT);
    } else {
      return NULL;
    }
  } else if (!(p = producer_op(f, v, TCC_OP_SQRT)) &&
             !((p = producer_op(f, v, TCC_OP_POW)) && scalar_near(p->inputs[1], 0.5, 0))) {
    return NULL;
  }
  if (!p || !group_add(gr, p)) return NULL;
  tcc_node_t *add = producer_op(f, p->inputs[0], TCC_OP_ADD);
  tcc_value_t *s = add ? with_scalar(add, eps) : NULL;
  if (!s || *eps < 0 || !group_add(gr, add)) return NULL;
  return s;
}

/* n == x normalized: x / root or x * inverse root; the root's operand (the mean of squares) and eps. */
static tcc_value_t *normalized(const fusion_t *f, group_t *gr, const tcc_node_t *n, tcc_value_t **x, double *eps) {
  tcc_value_t *s = NULL;
  if (n->op == TCC_OP_DIV) {
    *x = n->inputs[0];
    s = root_of_sum(f, gr, n->inputs[1], false, eps);
  } else if (n->op == TCC_OP_MUL) {
    for (int side = 0; side < 2 && !s; side++) {
      group_t save = *gr;
      *x = n->inputs[side];
      if (!(s = root_of_sum(f, gr, n->inputs[1 - side], true, eps))) *gr = save;
    }
  }
  return s && group_add(gr, (tcc_node_t *)n) ? s : NULL;
}

/* A per-element scale or shift over the normalized dims [k, r) of x: does not broadcast x's shape. */
static bool affine_operand(const tcc_value_t *p, const tcc_value_t *x, int k) {
  if (!is_tensor(p) || p->type.dtype != x->type.dtype || p->type.rank > x->type.rank) return false;
  int off = x->type.rank - p->type.rank;
  for (int d = 0; d < p->type.rank; d++) {
    const tcc_dim_t *pd = p->type.dims[d], *xd = x->type.dims[d + off];
    bool one = tcc_dim_is_const(pd) && tcc_dim_value(pd) == 1;
    if (d + off < k ? !one : !(one || pd == xd)) return false;
  }
  return true;
}

/* A constant of ones over dims [k, r) of x (the scale of a normalization that has none). */
static tcc_value_t *ones_like_tail(tcc_graph_t *g, const tcc_value_t *x, int k) {
  int64_t dims[64];
  int r = x->type.rank - k;
  for (int d = 0; d < r; d++) {
    if (!tcc_dim_is_const(x->type.dims[k + d])) return NULL;
    dims[d] = tcc_dim_value(x->type.dims[k + d]);
  }
  tcc_dtype_t dt = x->type.dtype;
  if (dt != TCC_DTYPE_F32 && dt != TCC_DTYPE_F64) return NULL;
  tcc_tensor_t *t = tcc_tensor_create(g->module, dt, r, dims);
  if (!t) return NULL;
  for (int64_t i = 0; i < t->numel; i++) {
    if (dt == TCC_DTYPE_F32) ((float *)t->data)[i] = 1.0f;
    else ((double *)t->data)[i] = 1.0;
  }
  tcc_value_t *v = named_value(g, "ones");
  return v && tcc_value_set_constant(v, t) ? v : NULL;
}

/* ReduceMean over the trailing axes of a square of x: the axis, the node added to the group; -1 if not. */
static int mean_square_axis(const fusion_t *f, group_t *gr, const tcc_value_t *ms, const tcc_value_t *x) {
  tcc_node_t *r = producer_op(f, ms, TCC_OP_REDUCE_MEAN);
  if (!r || !is_tensor(x) || !square_of(f, gr, r->inputs[0], x)) return -1;
  int k = trailing_axes(r, x->type.rank);
  return k >= 0 && group_add(gr, r) ? k : -1;
}

/* (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) [* gamma] [+ beta] -> LayerNormalization, and
 * x / sqrt(mean(x^2) + eps) [* gamma] -> RMSNormalization (also with Reciprocal or Pow(-0.5) forms). */
static tcc_status_t try_norm(fusion_t *f, tcc_node_t *n, bool *ok) {
  *ok = false;
  group_t gr = {.count = 0};
  tcc_value_t *d = NULL, *x = NULL;
  double eps = 0;
  tcc_value_t *ms = normalized(f, &gr, n, &d, &eps);
  if (!ms || !is_float(d)) return NULL;
  int k = mean_square_axis(f, &gr, ms, d);
  if (k < 0) return NULL;
  /* LayerNorm when d = x - mean(x) over the same axes */
  tcc_node_t *sub = producer_op(f, d, TCC_OP_SUB), *mean = sub ? producer_op(f, sub->inputs[1], TCC_OP_REDUCE_MEAN) : NULL;
  bool layer = mean && mean->inputs[0] == sub->inputs[0] && trailing_axes(mean, d->type.rank) == k;
  if (layer) {
    group_t save = gr;
    x = sub->inputs[0];
    if (!group_add(&gr, sub) || !group_add(&gr, mean) || !internal_only(f, &gr, d) || !internal_only(f, &gr, mean->outputs[0]))
      gr = save, layer = false, x = NULL;
  }
  if (!layer) x = d;
  if (!is_float(x) || !same_dims(&x->type, &n->outputs[0]->type)) return NULL;
  tcc_node_t *root = n;
  tcc_value_t *in[3] = {x, NULL, NULL};
  tcc_node_t *m = only_reader(f, n->outputs[0]);
  tcc_value_t *o;
  if (m && m->op == TCC_OP_MUL && (o = other_operand(m, n->outputs[0])) && affine_operand(o, x, k) &&
      same_dims(&m->outputs[0]->type, &x->type)) {
    in[1] = o, root = m;
    if (!group_add(&gr, m)) return NULL;
    tcc_node_t *a = layer ? only_reader(f, m->outputs[0]) : NULL;
    if (a && a->op == TCC_OP_ADD && (o = other_operand(a, m->outputs[0])) && affine_operand(o, x, k) &&
        same_dims(&a->outputs[0]->type, &x->type)) {
      in[2] = o, root = a;
      if (!group_add(&gr, a)) return NULL;
    }
  }
  if (!closed_except_root(f, &gr, root)) return NULL;
  group_sort(f, &gr);
  if (gr.n[gr.count - 1] != root) return NULL;
  if (!in[1] && !(in[1] = ones_like_tail(f->g, x, k))) return NULL;
  tcc_attr_t attrs[2] = {{.name = "axis", .kind = TCC_ATTR_INT, .i = k},
                         {.name = "epsilon", .kind = TCC_ATTR_FLOAT, .f = (double)(float)eps}};
  return replace_by_op(f, &gr, root, layer ? TCC_OP_LAYER_NORMALIZATION : TCC_OP_RMS_NORMALIZATION, in,
                       in[2] ? 3 : 2, attrs, 2, ok);
}

/* ---- 2. attention --------------------------------------------------------------------------------- */

/* Follows v back through single-reader Mul/Div by scalar constants, multiplying *scale; the nodes passed
 * are added to the group. */
static const tcc_value_t *through_scale(const fusion_t *f, group_t *gr, const tcc_value_t *v, double *scale) {
  for (int i = 0; i < 4; i++) {
    tcc_node_t *p = v->producer && v->producer->graph == f->g ? v->producer : NULL;
    double c;
    const tcc_value_t *w;
    if (!p || (p->op != TCC_OP_MUL && p->op != TCC_OP_DIV) || p->num_outputs != 1) break;
    if (!only_reader(f, v)) break;
    if (p->op == TCC_OP_DIV) {
      if (!scalar_of(p->inputs[1], &c) || c == 0 || is_constant(p->inputs[0])) break;
      w = p->inputs[0], c = 1 / c;
    } else if (!(w = with_scalar(p, &c))) {
      break;
    }
    if (!same_dims(&w->type, &v->type) || !group_add(gr, p)) break;
    *scale *= c;
    v = w;
  }
  return v;
}

/* Trilu(all -inf [S, S], k = 1, upper): the additive form of a causal mask. */
static bool is_causal_mask(const fusion_t *f, const tcc_value_t *mask, const tcc_dim_t *sq, const tcc_dim_t *skv) {
  tcc_node_t *t = producer_op(f, mask, TCC_OP_TRILU);
  if (!t || sq != skv || tcc_node_attr_int(t, "upper", 1) != 1 || t->num_inputs < 2 || !scalar_near(t->inputs[1], 1, 0))
    return false;
  const tcc_type_t *ty = &mask->type;
  if (ty->rank < 2 || ty->dims[ty->rank - 2] != sq || ty->dims[ty->rank - 1] != skv) return false;
  for (int d = 0; d < ty->rank - 2; d++)
    if (!tcc_dim_is_const(ty->dims[d]) || tcc_dim_value(ty->dims[d]) != 1) return false;
  const tcc_value_t *src = t->inputs[0];
  const tcc_tensor_t *fill = NULL;
  tcc_node_t *cos = producer_op(f, src, TCC_OP_CONSTANT_OF_SHAPE);
  if (cos) {
    const tcc_attr_t *a = tcc_node_attr(cos, "value");
    if (!a || a->kind != TCC_ATTR_TENSOR || !a->t || a->t->numel != 1) return false;
    fill = a->t;
  } else if (is_constant(src)) {
    fill = src->constant;
  } else {
    return false;
  }
  if (!tcc_dtype_is_float(fill->dtype)) return false;
  for (int64_t i = 0; i < fill->numel; i++) {
    double x = tcc_tensor_get_float(fill, i);
    if (!(isinf(x) && x < 0)) return false;
  }
  return true;
}

/* MatMul(Softmax(scale * MatMul(Q, K^T) [+ mask]), V) over 4-D [batch, heads, seq, head] -> attention. */
static tcc_status_t try_attention(fusion_t *f, tcc_node_t *m2, bool *ok) {
  *ok = false;
  group_t gr = {.count = 0};
  tcc_value_t *v = m2->inputs[1];
  /* the precision pass's form: Cast(Softmax(Cast(s, f32)), half) */
  tcc_node_t *post = producer_op(f, m2->inputs[0], TCC_OP_CAST), *pre = NULL;
  tcc_node_t *sm = producer_op(f, post ? post->inputs[0] : m2->inputs[0], TCC_OP_SOFTMAX);
  if (!sm || !is_float(v) || v->type.rank != 4 || sm->outputs[0]->type.rank != 4) return NULL;
  int64_t axis = tcc_node_attr_int(sm, "axis", -1);
  if (axis != -1 && axis != 3) return NULL;
  if (!group_add(&gr, m2) || !group_add(&gr, sm)) return NULL;
  const tcc_value_t *s = sm->inputs[0];
  if (post) {
    if (!(pre = producer_op(f, s, TCC_OP_CAST)) || !is_float(pre->inputs[0]) || !is_float(s) ||
        pre->inputs[0]->type.dtype != v->type.dtype || post->outputs[0]->type.dtype != v->type.dtype ||
        tcc_dtype_bits(s->type.dtype) <= tcc_dtype_bits(v->type.dtype) || !group_add(&gr, post) || !group_add(&gr, pre))
      return NULL;
    s = pre->inputs[0];
  }
  double scale = 1;
  tcc_value_t *mask = NULL;
  tcc_node_t *m1 = NULL;
  tcc_node_t *add = producer_op(f, s, TCC_OP_ADD);
  if (add) {
    for (int side = 0; side < 2 && !m1; side++) {
      group_t save = gr;
      double sc = 1;
      const tcc_value_t *w = through_scale(f, &gr, add->inputs[side], &sc);
      if ((m1 = producer_op(f, w, TCC_OP_MATMUL))) mask = add->inputs[1 - side], scale = sc;
      else gr = save;
    }
    if (m1 && !group_add(&gr, add)) return NULL;
  }
  if (!m1) m1 = producer_op(f, through_scale(f, &gr, s, &scale), TCC_OP_MATMUL);
  if (!m1 || !group_add(&gr, m1)) return NULL;
  const tcc_value_t *q = through_scale(f, &gr, m1->inputs[0], &scale);
  const tcc_value_t *kt = through_scale(f, &gr, m1->inputs[1], &scale);
  if (!is_float(q) || !is_float(kt) || q->type.rank != 4 || kt->type.rank != 4 || !(scale > 0) || !isfinite(scale))
    return NULL;
  const tcc_dim_t *const *qd = q->type.dims, *const *kd = kt->type.dims, *const *vd = v->type.dims;
  const tcc_type_t *st = &s->type;
  /* no broadcasting between Q, K and V: one batch and head count, K^T = [b, h, d, skv], V = [b, h, skv, dv] */
  if (qd[0] != kd[0] || qd[0] != vd[0] || qd[1] != kd[1] || qd[1] != vd[1] || qd[3] != kd[2] || kd[3] != vd[2])
    return NULL;
  if (q->type.dtype != kt->type.dtype || q->type.dtype != v->type.dtype || st->rank != 4 || st->dims[2] != qd[2] ||
      st->dims[3] != kd[3])
    return NULL;
  bool causal = false;
  if (mask) {
    const tcc_type_t *mt = &mask->type;
    if (!is_float(mask) || mt->dtype != st->dtype || mt->rank < 1 || mt->rank > 4) return NULL;
    const tcc_dim_t *last = mt->dims[mt->rank - 1];
    if (last != kd[3] && !(tcc_dim_is_const(last) && tcc_dim_value(last) == 1)) return NULL;
    if (!same_dims(&add->outputs[0]->type, st)) return NULL;
    causal = is_causal_mask(f, mask, qd[2], kd[3]);
  }
  /* K from K^T: a transpose of some X is folded into one transpose of X */
  tcc_graph_t *g = f->g;
  tcc_value_t *key = NULL;
  int nfresh = 0;
  tcc_node_t *tr = producer_op(f, kt, TCC_OP_TRANSPOSE);
  const int64_t *perm = NULL;
  int64_t np = 0;
  int64_t p2[4] = {0, 1, 3, 2};
  if (tr && tcc_node_attr_ints(tr, "perm", &perm, &np) && np == 4 && is_tensor(tr->inputs[0])) {
    p2[0] = perm[0], p2[1] = perm[1], p2[2] = perm[3], p2[3] = perm[2];
    if (only_reader(f, kt) && !group_add(&gr, tr)) return NULL;
    if (p2[0] == 0 && p2[1] == 1 && p2[2] == 2 && p2[3] == 3) key = tr->inputs[0];
    else kt = tr->inputs[0];
  }
  if (!closed_except_root(f, &gr, m2)) return NULL;
  group_sort(f, &gr);
  if (gr.n[gr.count - 1] != m2) return NULL;
  if (!key) {
    char tname[256];
    snprintf(tname, sizeof tname, "%s.key", m1->name);
    tcc_node_t *t = new_node(g, TCC_OP_TRANSPOSE, tr && group_has(&gr, tr) ? tr->name : tname, 1, 1, "key");
    if (!t) return tcc_status_oom();
    t->inputs[0] = (tcc_value_t *)kt;
    TCC_RETURN_IF_ERROR(tcc_node_set_attr_ints(t, "perm", p2, 4));
    key = t->outputs[0];
    nfresh++;
  }
  tcc_node_t *at = new_node(g, TCC_OP_ATTENTION, m2->name, mask && !causal ? 4 : 3, 1, NULL);
  if (!at) return tcc_status_oom();
  at->inputs[0] = (tcc_value_t *)q, at->inputs[1] = key, at->inputs[2] = v;
  if (mask && !causal) at->inputs[3] = mask;
  tcc_attr_t sa = {.name = "scale", .kind = TCC_ATTR_FLOAT, .f = (double)(float)scale};
  TCC_RETURN_IF_ERROR(tcc_node_set_attr(at, &sa));
  if (causal) TCC_RETURN_IF_ERROR(tcc_node_set_attr_int(at, "is_causal", 1));
  if (pre) TCC_RETURN_IF_ERROR(tcc_node_set_attr_int(at, "softmax_precision", sm->outputs[0]->type.dtype));
  return commit(f, &gr, m2, nfresh + 1, ok);
}

/* ---- 3. epilogues --------------------------------------------------------------------------------- */

/* A constant that varies along at most one axis (a per-channel bias or scale). */
static bool per_channel_constant(const tcc_value_t *v) {
  if (!is_constant(v) || !is_tensor(v)) return false;
  int big = 0;
  for (int d = 0; d < v->type.rank; d++) big += !(tcc_dim_is_const(v->type.dims[d]) && tcc_dim_value(v->type.dims[d]) == 1);
  return big <= 1;
}

/* The name of an activation that an epilogue may end in, or NULL. */
static const char *activation_name(const tcc_node_t *n) {
  switch (n->op) {
    case TCC_OP_RELU: return "relu";
    case TCC_OP_SIGMOID: return "sigmoid";
    case TCC_OP_TANH: return "tanh";
    case TCC_OP_GELU: return "gelu";
    case TCC_OP_LEAKY_RELU: return "leaky_relu";
    case TCC_OP_ELU: return "elu";
    case TCC_OP_SELU: return "selu";
    case TCC_OP_CELU: return "celu";
    case TCC_OP_HARD_SIGMOID: return "hard_sigmoid";
    case TCC_OP_HARD_SWISH: return "hard_swish";
    case TCC_OP_SOFTPLUS: return "softplus";
    case TCC_OP_MISH: return "mish";
    case TCC_OP_CLIP: {
      double lo = -INFINITY, hi = INFINITY;
      for (int i = 1; i < n->num_inputs; i++)
        if (n->inputs[i] && !scalar_of(n->inputs[i], i == 1 ? &lo : &hi)) return NULL;
      if (lo == 0 && hi == 6) return "relu6";
      if (lo == 0 && hi == INFINITY) return "relu";
      return "clip";
    }
    default: return NULL;
  }
}

static const char *anchor_name(const tcc_node_t *n, bool *has_bias) {
  *has_bias = false;
  switch (n->op) {
    case TCC_OP_CONV: {
      *has_bias = n->num_inputs > 2 && n->inputs[2];
      int r = n->outputs[0] && is_tensor(n->outputs[0]) ? n->outputs[0]->type.rank : -1;
      return r == 3 ? "conv1d" : r == 4 ? "conv2d" : r == 5 ? "conv3d" : "conv";
    }
    case TCC_OP_MATMUL: return "matmul";
    case TCC_OP_GEMM: *has_bias = n->num_inputs > 2 && n->inputs[2]; return "gemm";
    default: return NULL;
  }
}

/* Conv / MatMul / Gemm and the chain of single-reader bias adds, activations, residual adds and per-channel
 * scales after it -> one fused node. */
static tcc_status_t try_epilogue(fusion_t *f, tcc_node_t *anchor, bool *ok) {
  *ok = false;
  bool has_bias;
  const char *base = anchor_name(anchor, &has_bias);
  if (!base || anchor->num_outputs != 1 || !is_float(anchor->outputs[0])) return NULL;
  group_t gr = {.count = 0};
  char kind[256];
  snprintf(kind, sizeof kind, "%s%s", base, has_bias ? "+bias" : "");
  if (!group_add(&gr, anchor)) return NULL;
  const tcc_value_t *cur = anchor->outputs[0];
  bool after_anchor = true;
  for (int step = 0; step < MAX_EPILOGUE; step++) {
    tcc_node_t *n = only_reader(f, cur);
    if (!n || n->num_outputs != 1 || !n->outputs[0] || !same_dims(&n->outputs[0]->type, &cur->type) ||
        n->outputs[0]->type.dtype != cur->type.dtype)
      break;
    const char *label = NULL;
    const tcc_value_t *o;
    if (n->op == TCC_OP_ADD && (o = other_operand(n, cur)) && is_tensor(o) && o->type.dtype == cur->type.dtype) {
      label = per_channel_constant(o) && !has_bias && after_anchor ? "bias" : "add";
      has_bias |= strcmp(label, "bias") == 0;
    } else if (n->op == TCC_OP_MUL && (o = other_operand(n, cur)) && per_channel_constant(o) &&
               o->type.dtype == cur->type.dtype) {
      label = "scale";
    } else if (n->op == TCC_OP_BATCH_NORMALIZATION && anchor->op == TCC_OP_CONV && n->inputs[0] == cur) {
      label = "batchnorm";
      for (int i = 1; i < n->num_inputs; i++)
        if (!n->inputs[i] || n->inputs[i] == cur) label = NULL;
    } else if ((label = activation_name(n)) && n->inputs[0] != cur) {
      label = NULL;
    }
    if (!label) break;
    if (n->op == TCC_OP_CLIP || n->op == TCC_OP_BATCH_NORMALIZATION)
      for (int i = 1; i < n->num_inputs; i++)
        if (n->inputs[i] == cur) label = NULL;
    if (!label || !group_add(&gr, n)) break;
    size_t len = strlen(kind);
    snprintf(kind + len, sizeof kind - len, "+%s", label);
    after_anchor = false;
    cur = n->outputs[0];
  }
  if (gr.count < 2) return NULL;
  return fuse_group(f, &gr, anchor->name, kind, ok);
}

/* ---- 4. elementwise groups ----------------------------------------------------------------------- */

static bool is_elementwise(const tcc_node_t *n) {
  if (n->num_outputs != 1 || !n->outputs[0] || !is_tensor(n->outputs[0])) return false;
  switch (n->op) {
    case TCC_OP_ABS: case TCC_OP_NEG: case TCC_OP_SQRT: case TCC_OP_EXP: case TCC_OP_LOG: case TCC_OP_RECIPROCAL:
    case TCC_OP_TANH: case TCC_OP_SIGMOID: case TCC_OP_RELU: case TCC_OP_CEIL: case TCC_OP_FLOOR: case TCC_OP_ROUND:
    case TCC_OP_SIGN: case TCC_OP_ERF: case TCC_OP_COS: case TCC_OP_SIN: case TCC_OP_TAN: case TCC_OP_ACOS:
    case TCC_OP_ASIN: case TCC_OP_ATAN: case TCC_OP_COSH: case TCC_OP_SINH: case TCC_OP_ACOSH: case TCC_OP_ASINH:
    case TCC_OP_ATANH: case TCC_OP_SOFTPLUS: case TCC_OP_SOFTSIGN: case TCC_OP_ELU: case TCC_OP_SELU:
    case TCC_OP_CELU: case TCC_OP_LEAKY_RELU: case TCC_OP_THRESHOLDED_RELU: case TCC_OP_HARD_SIGMOID:
    case TCC_OP_HARD_SWISH: case TCC_OP_MISH: case TCC_OP_GELU: case TCC_OP_SHRINK: case TCC_OP_BITWISE_NOT:
    case TCC_OP_NOT: case TCC_OP_CLIP: case TCC_OP_IS_NAN: case TCC_OP_IS_INF:
    case TCC_OP_ADD: case TCC_OP_SUB: case TCC_OP_MUL: case TCC_OP_DIV: case TCC_OP_POW: case TCC_OP_MOD:
    case TCC_OP_BIT_SHIFT: case TCC_OP_BITWISE_AND: case TCC_OP_BITWISE_OR: case TCC_OP_BITWISE_XOR:
    case TCC_OP_PRELU: case TCC_OP_EQUAL: case TCC_OP_LESS: case TCC_OP_GREATER: case TCC_OP_LESS_OR_EQUAL:
    case TCC_OP_GREATER_OR_EQUAL: case TCC_OP_AND: case TCC_OP_OR: case TCC_OP_XOR: case TCC_OP_WHERE:
    case TCC_OP_CAST: case TCC_OP_SUM: case TCC_OP_MEAN: case TCC_OP_MAX: case TCC_OP_MIN:
      return true;
    default: return false;
  }
}

/* The largest group ending in root: producers of same-shape elementwise ops whose outputs are read only
 * inside the group, added until nothing more qualifies. */
static tcc_status_t try_elementwise(fusion_t *f, tcc_node_t *root, bool *ok) {
  *ok = false;
  if (!is_elementwise(root)) return NULL;
  group_t gr = {.count = 0};
  group_add(&gr, root);
  const tcc_type_t *shape = &root->outputs[0]->type;
  for (bool grew = true; grew;) {
    grew = false;
    for (int i = 0; i < gr.count; i++)
      for (int k = 0; k < gr.n[i]->num_inputs; k++) {
        tcc_value_t *v = gr.n[i]->inputs[k];
        tcc_node_t *p = v ? v->producer : NULL;
        if (!p || p->graph != f->g || group_has(&gr, p) || !is_elementwise(p) || !same_dims(&v->type, shape)) continue;
        group_add(&gr, p);
        if (internal_only(f, &gr, v)) {
          grew = true;
        } else {
          gr.count--;
        }
      }
  }
  if (gr.count < 2) return NULL;
  return fuse_group(f, &gr, root->name, "elementwise", ok);
}

/* ---- driver --------------------------------------------------------------------------------------- */

typedef tcc_status_t (*pattern_fn_t)(fusion_t *f, tcc_node_t *n, bool *ok);

/* Tries fn at every node of g (first to last, or last to first), again after each rewrite. */
static tcc_status_t sweep(fusion_t *f, pattern_fn_t fn, bool backward) {
  for (int64_t guard = 0, i = backward ? (int64_t)f->g->num_nodes - 1 : 0;
       backward ? i >= 0 : i < (int64_t)f->g->num_nodes; guard++) {
    if (guard > 1000000) return tcc_status_make(TCC_INTERNAL, "fusion: no fixed point");
    tcc_node_t *n = f->g->nodes[i];
    bool ok = false;
    TCC_RETURN_IF_ERROR(fn(f, n, &ok));
    if (!ok) {
      i += backward ? -1 : 1;
    } else if (!backward) {
      i = 0;
    } else if (i >= (int64_t)f->g->num_nodes) {
      i = (int64_t)f->g->num_nodes - 1;
    }
  }
  return NULL;
}

static tcc_status_t at_erf(fusion_t *f, tcc_node_t *n, bool *ok) {
  *ok = false;
  return n->op == TCC_OP_ERF ? try_gelu_erf(f, n, ok) : NULL;
}
static tcc_status_t at_tanh(fusion_t *f, tcc_node_t *n, bool *ok) {
  *ok = false;
  return n->op == TCC_OP_TANH ? try_gelu_tanh(f, n, ok) : NULL;
}
static tcc_status_t at_norm(fusion_t *f, tcc_node_t *n, bool *ok) {
  *ok = false;
  return n->op == TCC_OP_DIV || n->op == TCC_OP_MUL ? try_norm(f, n, ok) : NULL;
}
static tcc_status_t at_matmul(fusion_t *f, tcc_node_t *n, bool *ok) {
  *ok = false;
  return n->op == TCC_OP_MATMUL ? try_attention(f, n, ok) : NULL;
}

/* Removes what the rewrites left unread: constants and side-effect-free nodes whose outputs nothing reads. */
static tcc_status_t cleanup(fusion_t *f) {
  tcc_graph_t *g = f->g;
  for (bool again = true; again;) {
    again = false;
    TCC_RETURN_IF_ERROR(uses_build(f));
    group_t dead = {.count = 0};
    size_t n = f->num_touched;
    for (size_t i = 0; i < n; i++) {
      tcc_value_t *v = f->touched[i];
      if (!v) continue;
      if (v->graph != g || uses_of(f, v) || v->is_input) {
        f->touched[i] = NULL;
        continue;
      }
      if (is_constant(v)) {
        drop_value(v);
        f->touched[i] = NULL;
        continue;
      }
      tcc_node_t *p = v->producer;
      if (!p || p->graph != g || group_has(&dead, p)) {
        f->touched[i] = NULL;
        continue;
      }
      bool unread = true;
      for (int k = 0; k < p->num_outputs; k++) unread &= !p->outputs[k] || !uses_of(f, p->outputs[k]);
      for (int k = 0; k < p->num_attrs; k++) unread &= p->attrs[k].kind != TCC_ATTR_GRAPH && p->attrs[k].kind != TCC_ATTR_GRAPHS;
      if (!unread) f->touched[i] = NULL;
      if (!unread || !group_add(&dead, p)) continue;
      f->touched[i] = NULL;
      for (int k = 0; k < p->num_inputs; k++)
        if (p->inputs[k] && !touch(f, p->inputs[k])) return tcc_status_oom();
    }
    if (dead.count) {
      TCC_RETURN_IF_ERROR(splice(f, &dead, NULL, 0));
      again = true;
    }
    size_t kept = 0;
    for (size_t i = 0; i < f->num_touched; i++)
      if (f->touched[i]) f->touched[kept++] = f->touched[i];
    f->num_touched = kept;
  }
  return NULL;
}

/* CPU targets have no attention kernel: there the two batched matmuls take the GEMM template
 * (codegen/cpu_gemm.h), faster than the attention op's loop nest. */
static bool attention_kernel(const char *target) {
  return !target || strcmp(target, "generic") == 0 || strncmp(target, "sm_", 3) == 0;
}

tcc_status_t tcc_pass_fusion(tcc_graph_t *g, const tcc_pass_context_t *ctx, const tcc_fusion_options_t *options,
                             bool *changed) {
  tcc_fusion_options_t defaults = TCC_FUSION_DEFAULTS;
  if (!options) options = &defaults;
  bool attention = options->attention && attention_kernel(ctx ? ctx->target : NULL);
  *changed = false;
  fusion_t f = {.g = g};
  tcc_status_t st = uses_build(&f);
  if (!st && options->reductions) st = sweep(&f, at_erf, false);
  if (!st && options->reductions) st = sweep(&f, at_tanh, false);
  if (!st && options->reductions) st = sweep(&f, at_norm, false);
  if (!st && attention) st = sweep(&f, at_matmul, false);
  if (!st && options->epilogues) st = sweep(&f, try_epilogue, false);
  if (!st && options->elementwise) st = sweep(&f, try_elementwise, true);
  if (!st && f.rewrites) st = cleanup(&f);
  if (!st) st = tcc_module_check(g->module);
  *changed = f.rewrites > 0;
  uses_free(&f);
  free(f.touched);
  return st;
}
