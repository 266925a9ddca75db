/* Memory planning (passes/memory_planning.c): hand-built graphs with known answers (in-place chains,
 * views, residuals, broadcasting, subgraph reads, fused epilogues, symbols, alignment), random graphs, and
 * the shared models imported and through the pipeline. Every plan is checked by an execution simulation
 * that knows nothing of the planner: nodes run in order, each kernel writes its outputs' arena ranges, and
 * every read must find the bytes of the value it reads still there; a kernel may write over an input of
 * its own only where that is legal in place. */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "frontend/onnx_import.h"
#include "frontend/tensor_io.h"
#include "passes/pipeline.h"
#include "tests/graph_builder.h"

/* ---- building ---- */

static void set_type(tcc_value_t *v, tcc_dtype_t dtype, const char *shape) {
  const tcc_dim_t *dims[16];
  int rank = 0;
  for (const char *p = shape; *p;) {
    char tok[64];
    size_t len = strcspn(p, ",");
    snprintf(tok, sizeof tok, "%.*s", (int)len, p);
    const char *end;
    dims[rank++] = tcc_dim_parse(v->graph->module, tok + strspn(tok, " "), &end);
    p += len + (p[len] == ',');
  }
  CHECK_OK(tcc_value_set_tensor(v, dtype, rank, dims));
}

/* A node over the given inputs (b may be NULL) whose single output has the given type. */
static tcc_value_t *op1_as(tcc_graph_t *g, tcc_op_t op, tcc_dtype_t dtype, const char *shape, tcc_value_t *a,
                           tcc_value_t *b) {
  tcc_node_t *n = b ? node(g, op, 1, 2, a, b) : node(g, op, 1, 1, a);
  set_type(n->outputs[0], dtype, shape);
  return n->outputs[0];
}

static tcc_value_t *op1(tcc_graph_t *g, tcc_op_t op, const char *shape, tcc_value_t *a, tcc_value_t *b) {
  return op1_as(g, op, TCC_DTYPE_F32, shape, a, b);
}

/* The count values after it become outputs of g, in order. */
static void outputs(tcc_graph_t *g, int count, ...) {
  va_list ap;
  va_start(ap, count);
  for (int i = 0; i < count; i++) tcc_graph_add_output(g, va_arg(ap, tcc_value_t *));
  va_end(ap);
}

static tcc_value_t *reshape(tcc_graph_t *g, tcc_value_t *x, const char *shape) {
  int64_t dummy = -1;
  return op1(g, TCC_OP_RESHAPE, shape, x, const_i64(g, 1, 1, &dummy));
}

/* The op the fusion pass gives its groups, or NULL when there is none yet. */
static bool fused_op(tcc_op_t *op) { return tcc_op_from_name("fused", op); }

/* ---- the simulation ---- */

typedef struct {
  const char *symbol;
  int64_t value;
} binding_t;

typedef struct {
  binding_t b[16];
  int n;
} bindings_t;

static bool lookup(void *ctx, const char *symbol, int64_t *value) {
  const bindings_t *bs = ctx;
  for (int i = 0; bs && i < bs->n; i++)
    if (strcmp(bs->b[i].symbol, symbol) == 0) return *value = bs->b[i].value, true;
  return false;
}

static bool lookup_or_one(void *ctx, const char *symbol, int64_t *value) {
  if (!lookup(ctx, symbol, value)) *value = 1;
  return true;
}

static int64_t bytes_of(const tcc_value_t *v, const bindings_t *bs) {
  if (v->type.kind != TCC_TYPE_TENSOR || v->type.rank < 0 || tcc_dtype_bits(v->type.dtype) <= 0) return -1;
  int64_t numel = 1;
  for (int d = 0; d < v->type.rank; d++) {
    int64_t n = 0;
    CHECK(tcc_dim_eval(v->type.dims[d], lookup_or_one, (void *)bs, &n));
    numel *= n > 0 ? n : 0;
  }
  return (numel * tcc_dtype_bits(v->type.dtype) + 7) / 8;
}

/* An allowed in-place pair that the simulation's own rule does not know (fused epilogues). */
typedef struct {
  const tcc_node_t *node;
  int input;
} allowed_t;

static bool simple_pointwise(const tcc_node_t *n, const tcc_value_t *in, const tcc_value_t *out) {
  switch (n->op) {
    case TCC_OP_RELU: case TCC_OP_EXP: case TCC_OP_NEG: case TCC_OP_SIGMOID: case TCC_OP_TANH: case TCC_OP_ADD:
    case TCC_OP_SUB: case TCC_OP_MUL: case TCC_OP_DIV: case TCC_OP_CLIP: case TCC_OP_ERF: case TCC_OP_SQRT:
    case TCC_OP_POW: case TCC_OP_CAST: case TCC_OP_WHERE: case TCC_OP_MAX: case TCC_OP_MIN:
      break;
    default:
      return false;
  }
  if (in->type.rank != out->type.rank || tcc_dtype_bits(in->type.dtype) != tcc_dtype_bits(out->type.dtype)) return false;
  for (int d = 0; d < in->type.rank; d++)
    if (in->type.dims[d] != out->type.dims[d]) return false;
  return true;
}

/* A fused node's input k may be written over when, in the body, everything computed from it goes
 * through the pointwise ops above with unchanged shapes (the kernels of these kinds apply such epilogues
 * element by element after their main loop). */
static bool fused_pointwise(const tcc_node_t *n, int k) {
  const tcc_attr_t *body_attr = tcc_node_attr(n, "body");
  const char *kind = tcc_node_attr_string(n, "kind", "");
  if (!body_attr || !body_attr->g || n->num_outputs != 1) return false;
  if (strcmp(kind, "elementwise") != 0 && strncmp(kind, "conv2d+", 7) != 0 && strncmp(kind, "matmul+", 7) != 0)
    return false;
  const tcc_graph_t *body = body_attr->g;
  const tcc_value_t *from[64];
  int num = 0;
  from[num++] = body->inputs[k];
  for (size_t i = 0; i < body->num_nodes; i++) {
    const tcc_node_t *bn = body->nodes[i];
    for (int j = 0; j < bn->num_inputs; j++) {
      bool derived = false;
      for (int t = 0; t < num; t++) derived |= bn->inputs[j] == from[t];
      if (!derived) continue;
      if (bn->num_outputs != 1 || !simple_pointwise(bn, bn->inputs[j], bn->outputs[0]) || num == 64) return false;
      from[num++] = bn->outputs[0];
      break;
    }
  }
  return true;
}

typedef struct {
  const tcc_memory_plan_t *plan;
  int64_t align;
  uint32_t *tag;   /* by granule: the value id + 1 whose bytes are there, 0 = none */
  uint32_t *root;  /* by value id: the value whose bytes it is (itself, or a view's source's root) */
  int reads_checked;
} sim_t;

static int64_t granules(const sim_t *s, uint32_t id, int64_t *first) {
  *first = s->plan->offset[id] / s->align;
  return (s->plan->size[id] + s->align - 1) / s->align;
}

static void sim_read(sim_t *s, const tcc_value_t *u, const char *where) {
  if (!u || u->id >= s->plan->num_values || s->plan->offset[u->id] < 0) return;
  int64_t first, count = granules(s, u->id, &first);
  for (int64_t k = 0; k < count; k++)
    if (s->tag[first + k] != s->root[u->id] + 1) {
      fprintf(stderr, "  %s: value '%s' (offset %lld) was overwritten before this read\n", where, u->name,
              (long long)s->plan->offset[u->id]);
      CHECK(!"a live value was overwritten");
      return;
    }
  s->reads_checked++;
}

static void sim_subgraph_reads(sim_t *s, const tcc_graph_t *g, const tcc_node_t *n) {
  for (int a = 0; a < n->num_attrs; a++) {
    if (n->attrs[a].kind != TCC_ATTR_GRAPH) continue;
    const tcc_graph_t *sg = n->attrs[a].g;
    for (size_t j = 0; j < sg->num_nodes; j++) {
      for (int k = 0; k < sg->nodes[j]->num_inputs; k++)
        if (sg->nodes[j]->inputs[k] && sg->nodes[j]->inputs[k]->graph == g) sim_read(s, sg->nodes[j]->inputs[k], n->name);
      sim_subgraph_reads(s, g, sg->nodes[j]);
    }
    for (size_t j = 0; j < sg->num_outputs; j++)
      if (sg->outputs[j]->graph == g) sim_read(s, sg->outputs[j], n->name);
  }
}

static bool overlap(const tcc_memory_plan_t *p, uint32_t a, uint32_t b) {
  return p->size[a] > 0 && p->size[b] > 0 && p->offset[a] < p->offset[b] + p->size[b] &&
         p->offset[b] < p->offset[a] + p->size[a];
}

/* Checks plan against g by simulating its execution; returns the number of reads checked. */
static int check_plan(tcc_graph_t *g, const tcc_memory_plan_t *plan, int64_t align, const bindings_t *bs,
                      const allowed_t *allowed, int num_allowed) {
  tcc_module_t *m = g->module;
  CHECK(plan->num_values >= m->next_id || plan->num_values == 0);
  CHECK(plan->live_bytes_bound >= 0 && plan->peak_bytes >= plan->live_bytes_bound);
  if (plan->num_values < m->next_id) return 0;
  sim_t s = {plan, align, calloc((size_t)(plan->peak_bytes / align + 2), sizeof(uint32_t)),
             calloc(plan->num_values + 1, sizeof(uint32_t)), 0};
  for (uint32_t i = 0; i < plan->num_values; i++) s.root[i] = i;
  /* coverage and sizes: every kernel output of the main graph has a place; nothing else does but views */
  for (size_t i = 0; i < g->num_values; i++) {
    const tcc_value_t *v = g->values[i];
    if (plan->offset[v->id] < 0) {
      CHECK(plan->size[v->id] == 0);
      continue;
    }
    CHECK(v->producer && !v->constant && !v->is_input);
    CHECK(plan->offset[v->id] % align == 0);
    CHECK(plan->size[v->id] == bytes_of(v, bs));
    CHECK(plan->offset[v->id] + plan->size[v->id] <= plan->peak_bytes);
  }
  int missing = 0;
  for (size_t i = 0; i < g->num_nodes; i++)
    for (int o = 0; o < g->nodes[i]->num_outputs; o++) {
      const tcc_value_t *v = g->nodes[i]->outputs[o];
      if (v && !v->constant && tcc_node_is_kernel(g->nodes[i]) && bytes_of(v, bs) >= 0 && plan->offset[v->id] < 0 &&
          missing++ < 5)
        fprintf(stderr, "  activation '%s' has no place\n", v->name);
    }
  CHECK(missing == 0);
  for (size_t i = 0; i < g->num_nodes; i++) {
    const tcc_node_t *n = g->nodes[i];
    for (int k = 0; k < n->num_inputs; k++) sim_read(&s, n->inputs[k], n->name);
    sim_subgraph_reads(&s, g, n);
    bool kernel = tcc_node_is_kernel(n);
    for (int o = 0; o < n->num_outputs; o++) {
      const tcc_value_t *v = n->outputs[o];
      if (!v || plan->offset[v->id] < 0) continue;
      if (!kernel) { /* a view: its source's bytes */
        const tcc_value_t *src = n->inputs[0];
        CHECK(o == 0 && src && plan->offset[src->id] == plan->offset[v->id] && plan->size[src->id] == plan->size[v->id]);
        if (src) s.root[v->id] = s.root[src->id];
        continue;
      }
      for (int o2 = 0; o2 < o; o2++)
        if (n->outputs[o2] && plan->offset[n->outputs[o2]->id] >= 0) CHECK(!overlap(plan, v->id, n->outputs[o2]->id));
      for (int k = 0; k < n->num_inputs; k++) {
        const tcc_value_t *u = n->inputs[k];
        if (!u || plan->offset[u->id] < 0 || !overlap(plan, u->id, v->id)) continue;
        bool ok = plan->offset[u->id] == plan->offset[v->id] && plan->size[u->id] == plan->size[v->id] &&
                  (simple_pointwise(n, u, v) || (n->op == TCC_OP_FUSED && fused_pointwise(n, k)));
        for (int a = 0; a < num_allowed; a++)
          if (allowed[a].node == n && allowed[a].input == k) ok = plan->offset[u->id] == plan->offset[v->id];
        if (!ok) fprintf(stderr, "  %s: output '%s' written over input '%s' illegally\n", n->name, v->name, u->name);
        CHECK(ok);
      }
      int64_t first, count = granules(&s, v->id, &first);
      for (int64_t k = 0; k < count; k++) s.tag[first + k] = v->id + 1;
    }
  }
  for (size_t i = 0; i < g->num_outputs; i++) sim_read(&s, g->outputs[i], "graph output");
  free(s.tag), free(s.root);
  return s.reads_checked;
}

static tcc_memory_plan_t plan_of(tcc_graph_t *g, bool in_place, int64_t align, const bindings_t *bs) {
  tcc_pass_context_t ctx = {.target = "generic", .precision = TCC_DTYPE_F32, .dim_lookup = bs ? lookup : NULL,
                            .dim_ctx = (void *)bs};
  tcc_memory_planning_options_t o = {.in_place = in_place, .alignment = align};
  tcc_memory_plan_t plan;
  CHECK_OK(tcc_pass_memory_planning(g, &ctx, &o, &plan));
  return plan;
}

/* ---- hand-built graphs ---- */

/* x -> relu -> exp -> neg -> y: with in-place one block (the first kernel's output; x is an input);
 * without, two blocks alternate. */
TEST(chain_in_place) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "256");
  tcc_value_t *a = op1(g, TCC_OP_RELU, "256", x, NULL), *b = op1(g, TCC_OP_EXP, "256", a, NULL);
  tcc_value_t *y = op1(g, TCC_OP_NEG, "256", b, NULL);
  tcc_graph_add_output(g, y);
  tcc_memory_plan_t p = plan_of(g, true, 64, NULL);
  CHECK(p.peak_bytes == 1024 && p.live_bytes_bound == 1024);
  CHECK(p.offset[a->id] == 0 && p.offset[b->id] == 0 && p.offset[y->id] == 0 && p.offset[x->id] == -1);
  CHECK(p.size[a->id] == 1024 && p.size[x->id] == 0);
  CHECK(check_plan(g, &p, 64, NULL, NULL, 0) == 3);
  p = plan_of(g, false, 64, NULL);
  CHECK(p.peak_bytes == 2048 && p.live_bytes_bound == 2048);
  CHECK(p.offset[a->id] != p.offset[b->id] && p.offset[a->id] == p.offset[y->id]);
  CHECK(check_plan(g, &p, 64, NULL, NULL, 0) == 3);
  tcc_module_destroy(m);
}

/* a = relu(x); b = exp(a); c = add(a, b): b cannot take a's block (a is read later), c can. */
TEST(residual) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "4, 64");
  tcc_value_t *a = op1(g, TCC_OP_RELU, "4, 64", x, NULL), *b = op1(g, TCC_OP_EXP, "4, 64", a, NULL);
  tcc_value_t *c = op1(g, TCC_OP_ADD, "4, 64", a, b), *d = op1(g, TCC_OP_SOFTMAX, "4, 64", c, NULL);
  tcc_graph_add_output(g, d);
  tcc_memory_plan_t p = plan_of(g, true, 64, NULL);
  CHECK(p.offset[a->id] != p.offset[b->id]);
  CHECK(p.offset[c->id] == p.offset[a->id] || p.offset[c->id] == p.offset[b->id]);
  CHECK(p.offset[d->id] != p.offset[c->id]); /* softmax reads a whole row before writing */
  CHECK(p.peak_bytes == 2048 && p.live_bytes_bound == 2048);
  check_plan(g, &p, 64, NULL, NULL, 0);
  tcc_module_destroy(m);
}

/* Broadcasting, a changed element width, matmul and two outputs never run in place. */
TEST(not_in_place) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "1, 64"), *w = input(g, TCC_DTYPE_F32, "64, 64");
  tcc_value_t *r = op1(g, TCC_OP_RELU, "1, 64", x, NULL);
  tcc_value_t *q = op1(g, TCC_OP_RELU, "64, 1", x, NULL); /* types only matter here */
  tcc_value_t *bc = op1(g, TCC_OP_ADD, "64, 64", r, q);   /* both operands broadcast */
  tcc_value_t *e = op1(g, TCC_OP_EXP, "64, 64", bc, NULL);
  tcc_value_t *h = op1_as(g, TCC_OP_CAST, TCC_DTYPE_F16, "64, 64", e, NULL);
  tcc_value_t *mm = op1(g, TCC_OP_MATMUL, "64, 64", e, w);
  tcc_node_t *split = node(g, TCC_OP_SPLIT, 2, 1, mm);
  set_type(split->outputs[0], TCC_DTYPE_F32, "32, 64");
  set_type(split->outputs[1], TCC_DTYPE_F32, "32, 64");
  outputs(g, 3, h, split->outputs[0], split->outputs[1]);
  tcc_memory_plan_t p = plan_of(g, true, 64, NULL);
  CHECK(p.offset[bc->id] != p.offset[r->id] && p.offset[bc->id] != p.offset[q->id]);
  CHECK(p.offset[e->id] == p.offset[bc->id]); /* the one legal in-place step */
  CHECK(p.offset[h->id] != p.offset[e->id] && p.offset[mm->id] != p.offset[e->id]);
  CHECK(p.offset[split->outputs[0]->id] != p.offset[mm->id] && p.offset[split->outputs[1]->id] != p.offset[mm->id]);
  check_plan(g, &p, 64, NULL, NULL, 0);
  tcc_module_destroy(m);
}

/* A view shares its source's offset and keeps it alive: a's block cannot be reused while v is read. */
TEST(views_extend_lifetime) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "8, 32");
  tcc_value_t *a = op1(g, TCC_OP_RELU, "8, 32", x, NULL);
  tcc_value_t *v = reshape(g, a, "256");
  tcc_value_t *b = op1(g, TCC_OP_SOFTMAX, "8, 32", x, NULL);
  tcc_value_t *c = op1(g, TCC_OP_SOFTMAX, "8, 32", b, NULL);
  tcc_value_t *d = op1(g, TCC_OP_SOFTMAX, "256", v, NULL);
  tcc_value_t *xv = reshape(g, x, "256"); /* a view of an input: no place */
  outputs(g, 3, c, d, xv);
  tcc_memory_plan_t p = plan_of(g, true, 64, NULL);
  CHECK(p.offset[v->id] == p.offset[a->id] && p.size[v->id] == 1024);
  CHECK(p.offset[xv->id] == -1 && p.size[xv->id] == 0);
  CHECK(p.offset[b->id] != p.offset[a->id] && p.offset[c->id] != p.offset[a->id] && p.offset[c->id] != p.offset[b->id]);
  /* at c's node: a (through v), b and c live */
  CHECK(p.live_bytes_bound == 3 * 1024 && p.peak_bytes == 3 * 1024);
  check_plan(g, &p, 64, NULL, NULL, 0);
  tcc_module_destroy(m);
}

/* Graph outputs live to the end: a later value cannot reuse an output's block, and no output is written
 * over in place. */
TEST(outputs_live_to_end) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "16");
  tcc_value_t *a = op1(g, TCC_OP_RELU, "16", x, NULL), *b = op1(g, TCC_OP_EXP, "16", a, NULL);
  tcc_value_t *c = op1(g, TCC_OP_SOFTMAX, "16", b, NULL);
  outputs(g, 2, a, c);
  tcc_memory_plan_t p = plan_of(g, true, 64, NULL);
  CHECK(p.offset[b->id] != p.offset[a->id] && p.offset[c->id] != p.offset[a->id] && p.offset[c->id] != p.offset[b->id]);
  CHECK(p.size[a->id] == 64 && p.live_bytes_bound == 3 * 64 && p.peak_bytes == 3 * 64);
  check_plan(g, &p, 64, NULL, NULL, 0);
  tcc_module_destroy(m);
}

/* Sizes: symbols bound by the lookup (unbound: 1), sub-byte and bool types, rounding to the alignment. */
TEST(sizes_and_alignment) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "batch, seq, 3");
  tcc_value_t *a = op1(g, TCC_OP_RELU, "batch, seq, 3", x, NULL);
  tcc_value_t *eq = op1_as(g, TCC_OP_IS_NAN, TCC_DTYPE_BOOL, "batch, seq, 3", a, NULL);
  tcc_value_t *q = op1_as(g, TCC_OP_CAST, TCC_DTYPE_I4, "batch, seq, 3", a, NULL);
  tcc_value_t *z = op1(g, TCC_OP_RELU, "batch, 0", x, NULL); /* empty */
  outputs(g, 3, eq, q, z);
  bindings_t bs = {{{"batch", 2}, {"seq", 5}}, 2};
  tcc_memory_plan_t p = plan_of(g, true, 64, &bs);
  CHECK(p.size[a->id] == 120 && p.size[eq->id] == 30 && p.size[q->id] == 15);
  CHECK(p.size[z->id] == 0);
  CHECK(p.live_bytes_bound == 128 + 64 + 64 && p.peak_bytes == 256);
  check_plan(g, &p, 64, &bs, NULL, 0);
  p = plan_of(g, true, 1, &bs);
  CHECK(p.live_bytes_bound == 120 + 30 + 15 && p.peak_bytes == 165);
  check_plan(g, &p, 1, &bs, NULL, 0);
  p = plan_of(g, true, 64, NULL); /* batch = seq = 1 */
  CHECK(p.size[a->id] == 12 && p.size[q->id] == 2 && p.peak_bytes == 192);
  check_plan(g, &p, 64, NULL, NULL, 0);
  tcc_memory_planning_options_t bad = {.in_place = true, .alignment = 0};
  tcc_memory_plan_t plan;
  tcc_status_t st = tcc_pass_memory_planning(g, NULL, &bad, &plan);
  CHECK(tcc_status_code(st) == TCC_INVALID_ARGUMENT);
  tcc_status_free(st);
  tcc_module_destroy(m);
}

/* A value read inside a subgraph (an If branch) stays live until that node. */
TEST(subgraph_reads) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "32"), *cond = input(g, TCC_DTYPE_BOOL, "");
  tcc_value_t *a = op1(g, TCC_OP_RELU, "32", x, NULL);
  tcc_value_t *b = op1(g, TCC_OP_SOFTMAX, "32", x, NULL);
  tcc_value_t *c = op1(g, TCC_OP_SOFTMAX, "32", b, NULL);
  tcc_graph_t *then_g = tcc_graph_create(m, g, "then"), *else_g = tcc_graph_create(m, g, "else");
  tcc_value_t *inner = op1(then_g, TCC_OP_NEG, "32", a, NULL);
  tcc_graph_add_output(then_g, inner);
  tcc_graph_add_output(else_g, c); /* an outer value as a branch output */
  tcc_node_t *if_node = node(g, TCC_OP_IF, 1, 1, cond);
  attr_graph(if_node, "then_branch", then_g);
  attr_graph(if_node, "else_branch", else_g);
  set_type(if_node->outputs[0], TCC_DTYPE_F32, "32");
  tcc_graph_add_output(g, if_node->outputs[0]);
  tcc_memory_plan_t p = plan_of(g, true, 64, NULL);
  /* a, b live together; then a, c (read by the If) and the If's output */
  CHECK(p.offset[a->id] != p.offset[c->id] && p.offset[a->id] != p.offset[if_node->outputs[0]->id]);
  CHECK(p.offset[c->id] != p.offset[if_node->outputs[0]->id]);
  CHECK(p.offset[inner->id] == -1);
  CHECK(p.live_bytes_bound == 3 * 128 && p.peak_bytes == 3 * 128);
  check_plan(g, &p, 64, NULL, NULL, 0);
  tcc_module_destroy(m);
}

/* Fused kernels: a conv epilogue's residual input dies there and is read element by element -> the output
 * takes its block; the convolution's own input never; a fused elementwise group whose input is broadcast
 * inside the body does not run in place over it. */
TEST(fused_in_place) {
  tcc_op_t fused;
  if (!fused_op(&fused)) {
    printf("note: no `fused` op yet (the fusion pass adds it): skipping fused_in_place\n");
    return;
  }
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "1, 8, 4, 4");
  tcc_value_t *w = input(g, TCC_DTYPE_F32, "8, 8, 3, 3"), *bias = input(g, TCC_DTYPE_F32, "8, 1, 1");
  tcc_value_t *a = op1(g, TCC_OP_RELU, "1, 8, 4, 4", x, NULL);
  tcc_value_t *r = op1(g, TCC_OP_SOFTMAX, "1, 8, 4, 4", x, NULL);
  /* body: relu(conv(a, w) + bias + r) */
  tcc_graph_t *body = tcc_graph_create(m, g, "body");
  tcc_value_t *ba = input(body, TCC_DTYPE_F32, "1, 8, 4, 4"), *bw = input(body, TCC_DTYPE_F32, "8, 8, 3, 3");
  tcc_value_t *bb = input(body, TCC_DTYPE_F32, "8, 1, 1"), *br = input(body, TCC_DTYPE_F32, "1, 8, 4, 4");
  tcc_value_t *t = op1(body, TCC_OP_CONV, "1, 8, 4, 4", ba, bw);
  t = op1(body, TCC_OP_ADD, "1, 8, 4, 4", t, bb);
  t = op1(body, TCC_OP_ADD, "1, 8, 4, 4", t, br);
  t = op1(body, TCC_OP_RELU, "1, 8, 4, 4", t, NULL);
  tcc_graph_add_output(body, t);
  tcc_node_t *conv = node(g, fused, 1, 4, a, w, bias, r);
  conv->name = "conv_fused";
  attr_graph(conv, "body", body);
  attr_string(conv, "kind", "conv2d+bias+add+relu");
  set_type(conv->outputs[0], TCC_DTYPE_F32, "1, 8, 4, 4");
  tcc_value_t *y = conv->outputs[0];
  /* an elementwise group: out = exp(y) * s where s [1, 8, 1, 1] broadcasts; and one over y with s2 of
   * y's size that broadcasts inside the body against a bigger intermediate */
  tcc_value_t *s = op1(g, TCC_OP_SOFTMAX, "1, 8, 1, 1", y, NULL);
  tcc_graph_t *eb = tcc_graph_create(m, g, "ew");
  tcc_value_t *ey = input(eb, TCC_DTYPE_F32, "1, 8, 4, 4"), *es = input(eb, TCC_DTYPE_F32, "1, 8, 1, 1");
  tcc_value_t *et = op1(eb, TCC_OP_EXP, "1, 8, 4, 4", ey, NULL);
  tcc_graph_add_output(eb, op1(eb, TCC_OP_MUL, "1, 8, 4, 4", et, es));
  tcc_node_t *ew = node(g, fused, 1, 2, y, s);
  ew->name = "ew_fused";
  attr_graph(ew, "body", eb);
  attr_string(ew, "kind", "elementwise");
  set_type(ew->outputs[0], TCC_DTYPE_F32, "1, 8, 4, 4");
  tcc_graph_add_output(g, ew->outputs[0]);
  tcc_memory_plan_t p = plan_of(g, true, 64, NULL);
  CHECK(p.offset[y->id] == p.offset[r->id] && p.offset[y->id] != p.offset[a->id]);
  CHECK(p.offset[ew->outputs[0]->id] == p.offset[y->id]);
  allowed_t allowed[] = {{ew, 0}, {conv, 3}};
  check_plan(g, &p, 64, NULL, allowed, 2);
  /* the same with the residual also fed to the convolution: not in place */
  conv->inputs[0] = r;
  p = plan_of(g, true, 64, NULL);
  CHECK(p.offset[y->id] != p.offset[r->id]);
  check_plan(g, &p, 64, NULL, allowed, 1);
  /* a kind whose kernel may accumulate into its output: never in place */
  conv->inputs[0] = a;
  attr_string(conv, "kind", "attention");
  p = plan_of(g, true, 64, NULL);
  CHECK(p.offset[y->id] != p.offset[r->id]);
  tcc_module_destroy(m);
}

/* Allocation failure at every point of the pass is an out-of-memory status with an empty plan. */
TEST(allocation_failure) {
  int failures = 0;
  for (long k = 0;; k++) {
    long budget = 1L << 40;
    tcc_module_t *m = NULL;
    CHECK_OK(tcc_module_create(tcc_allocator_failing(&budget), &m));
    tcc_graph_t *g = m->graph;
    tcc_value_t *x = input(g, TCC_DTYPE_F32, "batch, 64");
    tcc_value_t *a = op1(g, TCC_OP_RELU, "batch, 64", x, NULL), *b = op1(g, TCC_OP_EXP, "batch, 64", a, NULL);
    tcc_graph_add_output(g, op1(g, TCC_OP_ADD, "batch, 64", a, b));
    budget = k;
    tcc_memory_planning_options_t o = TCC_MEMORY_PLANNING_DEFAULTS;
    tcc_memory_plan_t plan;
    tcc_status_t st = tcc_pass_memory_planning(g, NULL, &o, &plan);
    if (!st) {
      CHECK(plan.peak_bytes == 2 * 256 && plan.offset);
      tcc_module_destroy(m);
      break;
    }
    CHECK(tcc_status_code(st) == TCC_OUT_OF_MEMORY && plan.offset == NULL && plan.peak_bytes == 0);
    tcc_status_free(st);
    tcc_module_destroy(m);
    failures++;
    if (k > 1000) {
      CHECK(!"the pass never succeeds");
      break;
    }
  }
  CHECK(failures >= 9); /* one per scratch array at least */
}

/* Random graphs of pointwise, non-pointwise, view and two-output nodes over 1-D tensors of a few sizes:
 * every plan passes the simulation, the bound never exceeds the arena, and in-place never costs. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n) {
  rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state % n);
}

TEST(random_graphs) {
  static const char *const sizes[] = {"16", "24", "40", "64", "100"};
  static const int64_t aligns[] = {1, 16, 64, 256};
  int reads = 0;
  double worst = 1.0;
  for (int trial = 0; trial < 300; trial++) {
    tcc_module_t *m = new_module();
    tcc_graph_t *g = m->graph;
    tcc_value_t *vals[64];
    int nv = 0;
    vals[nv++] = input(g, TCC_DTYPE_F32, sizes[rnd(5)]);
    vals[nv++] = input(g, TCC_DTYPE_F32, sizes[rnd(5)]);
    int num_nodes = 5 + (int)rnd(40);
    for (int i = 0; i < num_nodes && nv < 62; i++) {
      tcc_value_t *a = vals[rnd((uint32_t)nv)];
      char shape[32];
      int64_t len = tcc_dim_value(a->type.dims[0]);
      snprintf(shape, sizeof shape, "%lld", (long long)len);
      switch (rnd(6)) {
        case 0: vals[nv++] = op1(g, TCC_OP_RELU, shape, a, NULL); break;
        case 1: vals[nv++] = op1(g, TCC_OP_SOFTMAX, shape, a, NULL); break;
        case 2: vals[nv++] = reshape(g, a, shape); break;
        case 3: { /* a two-output node */
          tcc_node_t *n = node(g, TCC_OP_SPLIT, 2, 1, a);
          set_type(n->outputs[0], TCC_DTYPE_F32, shape);
          set_type(n->outputs[1], TCC_DTYPE_F32, sizes[rnd(5)]);
          vals[nv++] = n->outputs[0], vals[nv++] = n->outputs[1];
          break;
        }
        default: { /* add with an operand of the same size when there is one */
          tcc_value_t *b = a;
          for (int tries = 0; tries < 8; tries++) {
            tcc_value_t *c = vals[rnd((uint32_t)nv)];
            if (c->type.dims[0] == a->type.dims[0]) b = c;
          }
          vals[nv++] = op1(g, TCC_OP_ADD, shape, a, b);
        }
      }
    }
    for (int k = 0, outs = 1 + (int)rnd(3); k < outs; k++) tcc_graph_add_output(g, vals[rnd((uint32_t)nv)]);
    tcc_graph_add_output(g, vals[nv - 1]);
    int64_t align = aligns[rnd(4)];
    tcc_memory_plan_t with = plan_of(g, true, align, NULL), without = plan_of(g, false, align, NULL);
    reads += check_plan(g, &with, align, NULL, NULL, 0);
    reads += check_plan(g, &without, align, NULL, NULL, 0);
    CHECK(with.live_bytes_bound <= without.live_bytes_bound);
    if (with.live_bytes_bound > 0 && (double)with.peak_bytes / (double)with.live_bytes_bound > worst)
      worst = (double)with.peak_bytes / (double)with.live_bytes_bound;
    tcc_module_destroy(m);
  }
  printf("random graphs: %d reads checked, worst peak / bound %.3f\n", reads, worst);
  CHECK(reads > 1000);
}

/* ---- the shared models ---- */

static const char *models_dir(char *buf, size_t size) {
  const char *root = getenv("TCC_MODELS");
  snprintf(buf, size, "%s/resnet18/model.onnx", root && root[0] ? root : "../shared/models");
  if (access(buf, R_OK) != 0) return NULL;
  snprintf(buf, size, "%s", root && root[0] ? root : "../shared/models");
  return buf;
}

/* Binds every graph input dim that is a symbol to the size of the reference input with that name. */
static void bind_reference_sizes(tcc_module_t *m, const char *dir, bindings_t *bs) {
  for (int k = 0; k < 8; k++) {
    char path[1200];
    snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, k);
    if (access(path, R_OK) != 0) break;
    tcc_tensor_t *t = NULL;
    const char *name = NULL;
    CHECK_OK(tcc_tensor_read_file(m, path, &t, &name));
    const tcc_value_t *in = name ? tcc_graph_find(m->graph, name) : NULL;
    if (!t || !in || in->type.rank != t->rank) continue;
    for (int d = 0; d < t->rank; d++) {
      if (!tcc_dim_is_symbol(in->type.dims[d])) continue;
      char sym[64];
      tcc_dim_format(in->type.dims[d], sym, sizeof sym);
      int64_t known;
      if (lookup(bs, sym, &known) || bs->n == 16) continue;
      bs->b[bs->n].symbol = tcc_module_strdup(m, sym);
      bs->b[bs->n++].value = t->dims[d];
    }
  }
}

TEST(shared_models) {
  static const char *const names[] = {"mlp", "convnet3x3", "resnet18", "mobilenet_v2", "squeezenet1_1",
                                      "bert_mini", "gpt_mini"};
  char root[1024];
  if (!models_dir(root, sizeof root)) {
    printf("note: ../shared/models absent (or TCC_MODELS unset): skipping the model plans\n");
    return;
  }
  printf("%-14s %-22s %14s %16s %6s\n", "model", "graph", "peak_bytes", "live_bytes_bound", "ratio");
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char dir[1100], path[1300];
    snprintf(dir, sizeof dir, "%s/%s", root, names[i]);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    for (int piped = 0; piped < 2; piped++) {
      tcc_module_t *m = NULL;
      tcc_onnx_import_options_t io = {0};
      CHECK_OK(tcc_onnx_import_file(path, &io, tcc_allocator_system(), &m));
      if (!m) continue;
      bindings_t bs = {.n = 0};
      bind_reference_sizes(m, dir, &bs);
      tcc_memory_plan_t p;
      const char *what = "imported";
      if (piped) {
        tcc_pipeline_options_t o = tcc_pipeline_defaults();
        o.context.dim_lookup = lookup, o.context.dim_ctx = &bs;
        tcc_plan_t plan;
        tcc_status_t st = tcc_pipeline_run(m->graph, &o, &plan);
        CHECK_OK(st);
        p = plan.memory;
        what = "pipeline";
      } else {
        p = plan_of(m->graph, true, 64, &bs);
      }
      int reads = check_plan(m->graph, &p, 64, &bs, NULL, 0);
      double ratio = p.live_bytes_bound ? (double)p.peak_bytes / (double)p.live_bytes_bound : 1.0;
      printf("%-14s %-22s %14lld %16lld %6.3f\n", names[i], what, (long long)p.peak_bytes,
             (long long)p.live_bytes_bound, ratio);
      CHECK(reads > 0 && p.live_bytes_bound > 0);
      CHECK(ratio <= 1.2);
      if (piped) { /* the optimized graph without in-place */
        tcc_memory_plan_t plain = plan_of(m->graph, false, 64, &bs);
        check_plan(m->graph, &plain, 64, &bs, NULL, 0);
        CHECK(plain.peak_bytes <= 1.2 * (double)plain.live_bytes_bound && plain.peak_bytes >= p.peak_bytes);
        printf("%-14s %-22s %14lld %16lld %6.3f\n", names[i], "pipeline, no in-place", (long long)plain.peak_bytes,
               (long long)plain.live_bytes_bound, (double)plain.peak_bytes / (double)plain.live_bytes_bound);
      } else { /* with every symbol 1 (what `tcc inspect --plan` shows) and without in-place too */
        tcc_memory_plan_t ones = plan_of(m->graph, true, 64, NULL), plain = plan_of(m->graph, false, 64, &bs);
        check_plan(m->graph, &ones, 64, NULL, NULL, 0);
        check_plan(m->graph, &plain, 64, &bs, NULL, 0);
        CHECK(ones.peak_bytes <= 1.2 * (double)ones.live_bytes_bound);
        CHECK(plain.peak_bytes <= 1.2 * (double)plain.live_bytes_bound);
        printf("%-14s %-22s %14lld %16lld %6.3f\n", names[i], "imported, symbols = 1", (long long)ones.peak_bytes,
               (long long)ones.live_bytes_bound, (double)ones.peak_bytes / (double)ones.live_bytes_bound);
        printf("%-14s %-22s %14lld %16lld %6.3f\n", names[i], "imported, no in-place", (long long)plain.peak_bytes,
               (long long)plain.live_bytes_bound, (double)plain.peak_bytes / (double)plain.live_bytes_bound);
      }
      tcc_module_destroy(m);
    }
  }
}

RUN_TESTS(T(chain_in_place), T(residual), T(not_in_place), T(views_extend_lifetime), T(outputs_live_to_end),
          T(sizes_and_alignment), T(subgraph_reads), T(fused_in_place), T(allocation_failure), T(random_graphs), T(shared_models))
