/* Memory planning: liveness of the activations over the node order, in-place reuse, arena offsets
 * (contract in passes/passes.h; the method is described in docs/passes.md, "memory_planning").
 *
 * Blocks. Every activation — a tensor value written by a kernel of the main graph, not a graph input and
 * not a constant — belongs to one block, a range of the arena. A view (a node that is not a kernel, see
 * tcc_node_is_kernel, and whose output has its input's element type and count: Reshape, Flatten, Squeeze,
 * Unsqueeze, Identity) joins its input's block; an in-place pointwise kernel joins the block of an input
 * that dies there. A block lives from its first producer to its last reader (subgraph reads count; graph
 * outputs live to the end: they are computed into the arena and copied out).
 *
 * Offsets. Blocks are placed largest first; each goes into the best-fitting gap among the already placed
 * blocks whose lifetimes intersect its own (TFLite's "greedy by size"); first fit and an order by
 * breadth (the most bytes live during the block's lifetime) are tried too, keeping the smallest arena.
 * The lower bound reported with it is the largest total size of the blocks live at one program point.
 *
 * Values with no place (offset -1): graph inputs, constants and views of them; sequences and optionals,
 * tensors of unknown rank or string type (sized at run time by the runtime's host allocator); values of
 * subgraphs (their control-flow node runs them with its own memory).
 */
#include "passes/passes.h"

#include <string.h>

typedef struct {
  int64_t size;     /* bytes, rounded up to the alignment */
  int32_t first;    /* program point (node index) of the first producer */
  int32_t last;     /* last reader; num_nodes for graph outputs */
  int32_t merged;   /* -1, or the block this one was merged into (in-place) */
  int64_t offset;
} block_t;

typedef struct {
  tcc_graph_t *g;
  const tcc_pass_context_t *ctx;
  int64_t alignment;
  uint32_t num_ids;
  int32_t *block_of; /* by value id: block index or -1 */
  int64_t *bytes;    /* by value id: exact size in bytes, -1 for no place */
  block_t *blocks;
  int32_t num_blocks;
} planner_t;

/* ---- sizes ---- */

static bool lookup_or_one(void *p, const char *symbol, int64_t *value) {
  const tcc_pass_context_t *ctx = p;
  if (ctx && ctx->dim_lookup && ctx->dim_lookup(ctx->dim_ctx, symbol, value)) return true;
  *value = 1;
  return true;
}

/* The value's size in bytes with the context's symbol values; -1 when it has no fixed size (not a
 * tensor, unknown rank, string or undefined element type). */
static tcc_status_t value_bytes(const planner_t *p, const tcc_value_t *v, int64_t *out) {
  *out = -1;
  const tcc_type_t *t = &v->type;
  if (t->kind != TCC_TYPE_TENSOR || t->rank < 0) return NULL;
  int bits = tcc_dtype_bits(t->dtype);
  if (bits <= 0) return NULL;
  int64_t numel = 1;
  for (int d = 0; d < t->rank; d++) {
    int64_t n;
    if (!tcc_dim_eval(t->dims[d], lookup_or_one, (void *)p->ctx, &n))
      return tcc_status_make(TCC_INVALID_ARGUMENT, "value '%s': dim %d overflows with the given symbol values",
                             v->name ? v->name : "?", d);
    if (n <= 0) {
      numel = 0;
      break;
    }
    if (numel > INT64_MAX / 8 / n)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "value '%s': size overflows", v->name ? v->name : "?");
    numel *= n;
  }
  if (numel > (INT64_MAX - 7) / bits)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "value '%s': size overflows", v->name ? v->name : "?");
  *out = (numel * bits + 7) / 8;
  return NULL;
}

static tcc_status_t align_up(int64_t bytes, int64_t alignment, int64_t *out) {
  if (bytes > INT64_MAX - alignment) return tcc_status_make(TCC_INVALID_ARGUMENT, "tensor size overflows");
  *out = (bytes + alignment - 1) / alignment * alignment;
  return NULL;
}

/* ---- which nodes are views, which may run in place ---- */

/* Whether v is an activation: computed by a node of the main graph (not a constant, not an input). */
static bool is_activation(const planner_t *p, const tcc_value_t *v) {
  return v && v->graph == p->g && v->producer && !v->constant && !v->is_input;
}

/* A view: not a kernel, and its first output has its first input's element type and count, so it can
 * share the input's bytes. Other non-kernels get their own block (conservative). */
static bool is_view(const tcc_node_t *n) {
  if (tcc_node_is_kernel(n) || n->num_inputs < 1 || n->num_outputs < 1) return false;
  const tcc_value_t *in = n->inputs[0], *out = n->outputs[0];
  if (!in || !out || in->type.kind != TCC_TYPE_TENSOR || out->type.kind != TCC_TYPE_TENSOR) return false;
  if (in->type.dtype != out->type.dtype || in->type.rank < 0 || out->type.rank < 0) return false;
  for (int i = 1; i < n->num_outputs; i++)
    if (n->outputs[i]) return false;
  tcc_module_t *m = n->graph->module;
  return tcc_type_numel(m, &in->type) == tcc_type_numel(m, &out->type);
}

/* Ops whose output element i depends on element i of each same-sized input only, so a kernel can write
 * element i over the input after reading it. */
static bool is_pointwise_op(tcc_op_t op) {
  switch (op) {
    case TCC_OP_ABS: case TCC_OP_NEG: case TCC_OP_SQRT: case TCC_OP_EXP: case TCC_OP_LOG:
    case TCC_OP_RECIPROCAL: case TCC_OP_TANH: case TCC_OP_SIGMOID: case TCC_OP_RELU: case TCC_OP_CEIL:
    case TCC_OP_FLOOR: case TCC_OP_ROUND: case TCC_OP_SIGN: case TCC_OP_ERF: case TCC_OP_COS: case TCC_OP_SIN:
    case TCC_OP_TAN: case TCC_OP_ACOS: case TCC_OP_ASIN: case TCC_OP_ATAN: case TCC_OP_COSH: case TCC_OP_SINH:
    case TCC_OP_ACOSH: case TCC_OP_ASINH: case TCC_OP_ATANH: case TCC_OP_SOFTPLUS: case TCC_OP_SOFTSIGN:
    case TCC_OP_ELU: case TCC_OP_SELU: case TCC_OP_CELU: case TCC_OP_LEAKY_RELU: case TCC_OP_THRESHOLDED_RELU:
    case TCC_OP_HARD_SIGMOID: case TCC_OP_HARD_SWISH: case TCC_OP_MISH: case TCC_OP_GELU: case TCC_OP_SHRINK:
    case TCC_OP_BITWISE_NOT: case TCC_OP_NOT: case TCC_OP_CLIP: case TCC_OP_IS_NAN: case TCC_OP_IS_INF:
    case TCC_OP_BINARIZER:
    case TCC_OP_ADD: case TCC_OP_SUB: case TCC_OP_MUL: case TCC_OP_DIV: case TCC_OP_POW: case TCC_OP_MOD:
    case TCC_OP_BIT_SHIFT: case TCC_OP_BITWISE_AND: case TCC_OP_BITWISE_OR: case TCC_OP_BITWISE_XOR:
    case TCC_OP_PRELU: case TCC_OP_EQUAL: case TCC_OP_LESS: case TCC_OP_GREATER: case TCC_OP_LESS_OR_EQUAL:
    case TCC_OP_GREATER_OR_EQUAL: case TCC_OP_AND: case TCC_OP_OR: case TCC_OP_XOR: case TCC_OP_SUM:
    case TCC_OP_MEAN: case TCC_OP_MAX: case TCC_OP_MIN: case TCC_OP_WHERE: case TCC_OP_CAST:
    case TCC_OP_CAST_LIKE:
      return true;
    default:
      return false;
  }
}

/* The only non-NULL output of n, or NULL. */
static const tcc_value_t *single_output(const tcc_node_t *n) {
  const tcc_value_t *out = NULL;
  for (int i = 0; i < n->num_outputs; i++) {
    if (!n->outputs[i]) continue;
    if (out) return NULL;
    out = n->outputs[i];
  }
  return out;
}

/* Same element count (symbolically, so for every binding of the symbols: no broadcasting) and, when
 * bits, the same element width. */
static bool same_elements(tcc_module_t *m, const tcc_value_t *a, const tcc_value_t *b, bool bits) {
  if (a->type.kind != TCC_TYPE_TENSOR || b->type.kind != TCC_TYPE_TENSOR || a->type.rank < 0 || b->type.rank < 0)
    return false;
  if (bits && tcc_dtype_bits(a->type.dtype) != tcc_dtype_bits(b->type.dtype)) return false;
  const tcc_dim_t *na = tcc_type_numel(m, &a->type), *nb = tcc_type_numel(m, &b->type);
  return na && na == nb && na != tcc_dim_invalid();
}

/* The body of a fused node: its one graph attribute, with one input per node input. NULL otherwise. */
static const tcc_graph_t *fused_body(const tcc_node_t *n) {
  const tcc_graph_t *body = NULL;
  for (int i = 0; i < n->num_attrs; i++) {
    if (n->attrs[i].kind == TCC_ATTR_GRAPHS) return NULL;
    if (n->attrs[i].kind != TCC_ATTR_GRAPH) continue;
    if (body) return NULL;
    body = n->attrs[i].g;
  }
  if (!body || body->num_inputs != (size_t)n->num_inputs || body->num_outputs != 1) return NULL;
  return body;
}

/* Whether the fused node's input k is read pointwise: every value of the body derived from body input k
 * is read only by pointwise ops without broadcasting, up to the output. The body may read nothing from
 * outside but constants (an outer read could alias the input). */
static bool fused_input_pointwise(const tcc_graph_t *body, int k) {
  tcc_module_t *m = body->module;
  const tcc_value_t *start = body->inputs[k];
  if (!start) return false;
  /* tainted values: at most one per body node output plus the input, tracked by id in a small list */
  size_t cap = 1, num = 1;
  for (size_t i = 0; i < body->num_nodes; i++) cap += (size_t)body->nodes[i]->num_outputs;
  const tcc_value_t **tainted = tcc_module_alloc(m, cap * sizeof *tainted);
  if (!tainted) return false;
  tainted[0] = start;
  for (size_t i = 0; i < body->num_nodes; i++) {
    const tcc_node_t *bn = body->nodes[i];
    bool reads = false;
    for (int j = 0; j < bn->num_inputs; j++) {
      const tcc_value_t *v = bn->inputs[j];
      if (!v) continue;
      if (v->graph != body && !v->constant) return false;
      for (size_t t = 0; t < num; t++)
        if (tainted[t] == v) reads = true;
    }
    for (int a = 0; a < bn->num_attrs; a++)
      if (bn->attrs[a].kind == TCC_ATTR_GRAPH || bn->attrs[a].kind == TCC_ATTR_GRAPHS) return false;
    if (!reads) continue;
    const tcc_value_t *out = single_output(bn);
    if (!is_pointwise_op(bn->op) || !out) return false;
    for (int j = 0; j < bn->num_inputs; j++) {
      const tcc_value_t *v = bn->inputs[j];
      bool is_tainted = false;
      for (size_t t = 0; v && t < num; t++)
        if (tainted[t] == v) is_tainted = true;
      if (is_tainted && !same_elements(m, v, out, false)) return false;
    }
    tainted[num++] = out;
  }
  return true;
}

/* Whether input k of kernel n is read pointwise with n's single output of the same element count and
 * width, so that the output may be written over it. Fused nodes: those whose kernels apply epilogues
 * element by element after their main loop ("elementwise", "conv2d+...", "matmul+..."; the contract of
 * cuDNN's fused convolution with z == y and of GEMM with C == D). */
static bool input_pointwise(const tcc_node_t *n, int k) {
  tcc_module_t *m = n->graph->module;
  const tcc_value_t *out = single_output(n), *in = n->inputs[k];
  if (!out || !in || !same_elements(m, in, out, true)) return false;
  if (is_pointwise_op(n->op)) return true;
  const char *kind = tcc_node_attr_string(n, "kind", NULL);
  if (!kind) return false;
  if (strcmp(kind, "elementwise") != 0 && strncmp(kind, "conv2d+", 7) != 0 && strncmp(kind, "matmul+", 7) != 0)
    return false;
  const tcc_graph_t *body = fused_body(n);
  return body && fused_input_pointwise(body, k);
}

/* ---- liveness ---- */

static tcc_status_t new_block(planner_t *p, int32_t point, int64_t bytes, int32_t *out) {
  int64_t size = 0;
  TCC_RETURN_IF_ERROR(align_up(bytes, p->alignment, &size));
  p->blocks[p->num_blocks] = (block_t){size, point, point, -1, 0};
  *out = p->num_blocks++;
  return NULL;
}

static void read_at(planner_t *p, const tcc_value_t *v, int32_t point) {
  if (!v || v->id >= p->num_ids || p->block_of[v->id] < 0) return;
  block_t *b = &p->blocks[p->block_of[v->id]];
  if (point > b->last) b->last = point;
}

/* Reads of main-graph values from inside the subgraphs of node n (at any depth) count at point. */
static void subgraph_reads(planner_t *p, const tcc_node_t *n, int32_t point) {
  for (int a = 0; a < n->num_attrs; a++) {
    const tcc_attr_t *attr = &n->attrs[a];
    int64_t count = attr->kind == TCC_ATTR_GRAPH ? 1 : attr->kind == TCC_ATTR_GRAPHS ? attr->count : 0;
    for (int64_t i = 0; i < count; i++) {
      const tcc_graph_t *sg = attr->kind == TCC_ATTR_GRAPH ? attr->g : attr->graphs[i];
      if (!sg) continue;
      for (size_t j = 0; j < sg->num_nodes; j++) {
        const tcc_node_t *sn = sg->nodes[j];
        for (int k = 0; k < sn->num_inputs; k++)
          if (sn->inputs[k] && sn->inputs[k]->graph == p->g) read_at(p, sn->inputs[k], point);
        subgraph_reads(p, sn, point);
      }
      for (size_t j = 0; j < sg->num_outputs; j++)
        if (sg->outputs[j] && sg->outputs[j]->graph == p->g) read_at(p, sg->outputs[j], point);
    }
  }
}

/* Blocks of every activation, views sharing their source's, and their lifetimes. */
static tcc_status_t build_blocks(planner_t *p) {
  tcc_graph_t *g = p->g;
  for (size_t i = 0; i < g->num_nodes; i++) {
    const tcc_node_t *n = g->nodes[i];
    int32_t point = (int32_t)i;
    for (int k = 0; k < n->num_inputs; k++) read_at(p, n->inputs[k], point);
    subgraph_reads(p, n, point);
    bool view = is_view(n);
    for (int o = 0; o < n->num_outputs; o++) {
      const tcc_value_t *v = n->outputs[o];
      if (!v || v->id >= p->num_ids || !is_activation(p, v)) continue;
      int64_t bytes;
      TCC_RETURN_IF_ERROR(value_bytes(p, v, &bytes));
      if (bytes < 0) continue;
      p->bytes[v->id] = bytes;
      if (view && o == 0) {
        /* the view shares its source's block; a view of an input, a constant or a value with no place
         * has none either */
        const tcc_value_t *src = n->inputs[0];
        bool placed = src->id < p->num_ids && p->block_of[src->id] >= 0 && p->bytes[src->id] == bytes;
        p->block_of[v->id] = placed ? p->block_of[src->id] : -1;
        if (!placed) p->bytes[v->id] = -1;
        continue;
      }
      TCC_RETURN_IF_ERROR(new_block(p, point, bytes, &p->block_of[v->id]));
    }
  }
  for (size_t i = 0; i < g->num_outputs; i++) read_at(p, g->outputs[i], (int32_t)g->num_nodes);
  return NULL;
}

static int32_t find_block(const planner_t *p, int32_t b) {
  while (p->blocks[b].merged >= 0) b = p->blocks[b].merged;
  return b;
}

/* In place: a kernel whose single output has its own fresh block takes over the block of an input that
 * dies at this node when every read of that block by the node is pointwise. */
static void merge_in_place(planner_t *p) {
  tcc_graph_t *g = p->g;
  for (size_t i = 0; i < g->num_nodes; i++) {
    const tcc_node_t *n = g->nodes[i];
    if (!tcc_node_is_kernel(n)) continue;
    const tcc_value_t *out = single_output(n);
    if (!out || out->id >= p->num_ids || p->block_of[out->id] < 0) continue;
    int32_t bo = find_block(p, p->block_of[out->id]);
    if (p->blocks[bo].first != (int32_t)i) continue;
    for (int k = 0; k < n->num_inputs; k++) {
      const tcc_value_t *in = n->inputs[k];
      if (!in || in->id >= p->num_ids || p->block_of[in->id] < 0 || p->bytes[in->id] != p->bytes[out->id]) continue;
      int32_t bi = find_block(p, p->block_of[in->id]);
      if (bi == bo || p->blocks[bi].last != (int32_t)i || p->blocks[bi].size != p->blocks[bo].size) continue;
      bool legal = true;
      for (int j = 0; j < n->num_inputs && legal; j++) {
        const tcc_value_t *w = n->inputs[j];
        if (w && w->id < p->num_ids && p->block_of[w->id] >= 0 && find_block(p, p->block_of[w->id]) == bi)
          legal = input_pointwise(n, j);
      }
      if (!legal) continue;
      p->blocks[bo].merged = bi;
      if (p->blocks[bo].last > p->blocks[bi].last) p->blocks[bi].last = p->blocks[bo].last;
      break;
    }
  }
}

/* ---- offsets ---- */

typedef struct {
  const block_t *blocks;
  const int64_t *breadth; /* NULL: order by size */
} order_ctx_t;

/* Placement order: larger first (by the total live over the block's lifetime when breadth is given,
 * then by size), then earlier first. */
static bool before(const order_ctx_t *c, int32_t a, int32_t b) {
  const block_t *x = &c->blocks[a], *y = &c->blocks[b];
  if (c->breadth && c->breadth[a] != c->breadth[b]) return c->breadth[a] > c->breadth[b];
  if (x->size != y->size) return x->size > y->size;
  if (x->first != y->first) return x->first < y->first;
  return a < b;
}

/* Stable merge sort of v[0..n) (tmp: n elements of scratch). */
static void sort_order(const order_ctx_t *c, int32_t *v, int32_t *tmp, int32_t n) {
  for (int32_t width = 1; width < n; width *= 2) {
    for (int32_t lo = 0; lo < n; lo += 2 * width) {
      int32_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
      int32_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) tmp[k++] = before(c, v[j], v[i]) ? v[j++] : v[i++];
      while (i < mid) tmp[k++] = v[i++];
      while (j < hi) tmp[k++] = v[j++];
    }
    memcpy(v, tmp, (size_t)n * sizeof *v);
  }
}

static bool intersect(const block_t *a, const block_t *b) { return a->first <= b->last && b->first <= a->last; }

/* Places the blocks of order[0..n) in that order: each at the start of the smallest gap that holds it
 * (best_fit) or of the lowest one (first fit) among the placed blocks whose lifetimes intersect its own,
 * else above them all. offs: by block index. sorted: n elements of scratch (the placed blocks by offset).
 * Returns the arena size. */
static int64_t place(const block_t *blocks, const int32_t *order, int32_t n, bool best_fit, int64_t *offs,
                     int32_t *sorted) {
  int64_t peak = 0;
  for (int32_t i = 0; i < n; i++) {
    const block_t *b = &blocks[order[i]];
    int64_t end = 0, best = -1, best_gap = INT64_MAX;
    for (int32_t j = 0; j < i; j++) {
      int32_t o = sorted[j];
      if (!intersect(b, &blocks[o])) continue;
      if (offs[o] > end) {
        int64_t gap = offs[o] - end;
        if (gap >= b->size && gap < best_gap) {
          best = end, best_gap = gap;
          if (!best_fit) break;
        }
      }
      if (offs[o] + blocks[o].size > end) end = offs[o] + blocks[o].size;
    }
    int64_t off = best >= 0 ? best : end;
    offs[order[i]] = off;
    int32_t pos = i;
    for (; pos > 0 && offs[sorted[pos - 1]] > off; pos--) sorted[pos] = sorted[pos - 1];
    sorted[pos] = order[i];
    if (off + b->size > peak) peak = off + b->size;
  }
  return peak;
}

/* No two blocks live at the same time overlap (an internal invariant; as cheap as the placement). */
static tcc_status_t check_offsets(const planner_t *p, const int32_t *order, int32_t n) {
  for (int32_t i = 0; i < n; i++)
    for (int32_t j = i + 1; j < n; j++) {
      const block_t *a = &p->blocks[order[i]], *b = &p->blocks[order[j]];
      if (intersect(a, b) && a->offset < b->offset + b->size && b->offset < a->offset + a->size)
        return tcc_status_make(TCC_INTERNAL, "memory planning: live blocks overlap at [%lld, %lld) and [%lld, %lld)",
                               (long long)a->offset, (long long)(a->offset + a->size), (long long)b->offset,
                               (long long)(b->offset + b->size));
    }
  return NULL;
}

/* ---- the pass ---- */

tcc_status_t tcc_pass_memory_planning(tcc_graph_t *g, const tcc_pass_context_t *ctx,
                                      const tcc_memory_planning_options_t *options, tcc_memory_plan_t *plan) {
  memset(plan, 0, sizeof *plan);
  tcc_memory_planning_options_t o = options ? *options : (tcc_memory_planning_options_t)TCC_MEMORY_PLANNING_DEFAULTS;
  tcc_pass_context_t default_ctx = {.target = "generic", .precision = TCC_DTYPE_F32};
  if (o.alignment <= 0) return tcc_status_make(TCC_INVALID_ARGUMENT, "memory planning: alignment must be positive");
  if (g->num_nodes >= INT32_MAX / 2) return tcc_status_make(TCC_UNSUPPORTED, "memory planning: too many nodes");
  tcc_module_t *m = g->module;
  planner_t p = {.g = g, .ctx = ctx ? ctx : &default_ctx, .alignment = o.alignment, .num_ids = m->next_id};

  size_t max_blocks = 1;
  for (size_t i = 0; i < g->num_nodes; i++) max_blocks += (size_t)g->nodes[i]->num_outputs;
  plan->num_values = p.num_ids;
  plan->offset = tcc_module_alloc(m, (p.num_ids + 1) * sizeof *plan->offset);
  plan->size = tcc_module_alloc(m, (p.num_ids + 1) * sizeof *plan->size);
  tcc_allocator_t al = m->allocator;
  p.bytes = tcc_alloc(al, (p.num_ids + 1) * sizeof *p.bytes);
  p.block_of = tcc_alloc(al, (p.num_ids + 1) * sizeof *p.block_of);
  p.blocks = tcc_alloc(al, max_blocks * sizeof *p.blocks);
  int32_t *order = tcc_alloc(al, max_blocks * sizeof *order), *scratch = tcc_alloc(al, max_blocks * sizeof *scratch);
  int64_t *best = tcc_alloc(al, max_blocks * sizeof *best), *trial = tcc_alloc(al, max_blocks * sizeof *trial);
  int64_t *breadth = tcc_alloc(al, max_blocks * sizeof *breadth);
  int64_t *live = tcc_alloc(al, (g->num_nodes + 2) * sizeof *live);
  tcc_status_t st = NULL;
  if (!plan->offset || !plan->size || !p.bytes || !p.block_of || !p.blocks || !order || !scratch || !best || !trial ||
      !breadth || !live) {
    st = tcc_status_oom();
    goto done;
  }
  for (uint32_t i = 0; i < p.num_ids; i++) p.bytes[i] = -1, p.block_of[i] = -1;

  st = build_blocks(&p);
  if (st) goto done;
  if (o.in_place) merge_in_place(&p);

  /* the blocks that remain, and the lower bound: the largest total live at one point */
  int32_t n = 0;
  int32_t points = (int32_t)g->num_nodes + 1;
  memset(live, 0, (size_t)(points + 1) * sizeof *live);
  for (int32_t b = 0; b < p.num_blocks; b++) {
    const block_t *blk = &p.blocks[b];
    if (blk->merged >= 0 || blk->size == 0) continue;
    order[n++] = b;
    live[blk->first] += blk->size;
    live[blk->last + 1] -= blk->size;
  }
  int64_t running = 0;
  for (int32_t t = 0; t < points; t++) {
    running += live[t];
    live[t] = running;
    if (running > plan->live_bytes_bound) plan->live_bytes_bound = running;
  }
  for (int32_t i = 0; i < n; i++) {
    const block_t *blk = &p.blocks[order[i]];
    breadth[order[i]] = 0;
    for (int32_t t = blk->first; t <= blk->last; t++)
      if (live[t] > breadth[order[i]]) breadth[order[i]] = live[t];
  }

  /* offsets: the best of greedy by size / by breadth, best fit / first fit */
  int64_t peak = -1;
  for (int trial_no = 0; trial_no < 4; trial_no++) {
    order_ctx_t c = {p.blocks, trial_no >= 2 ? breadth : NULL};
    sort_order(&c, order, scratch, n);
    int64_t size = place(p.blocks, order, n, trial_no % 2 == 0, trial, scratch);
    if (peak < 0 || size < peak) {
      peak = size;
      for (int32_t i = 0; i < n; i++) best[order[i]] = trial[order[i]];
    }
  }
  plan->peak_bytes = peak < 0 ? 0 : peak;
  for (int32_t b = 0; b < p.num_blocks; b++) p.blocks[b].offset = 0;
  for (int32_t i = 0; i < n; i++) p.blocks[order[i]].offset = best[order[i]];
  st = check_offsets(&p, order, n);
  if (st) goto done;

  for (uint32_t id = 0; id < p.num_ids; id++) {
    if (p.block_of[id] < 0) {
      plan->offset[id] = -1, plan->size[id] = 0;
      continue;
    }
    plan->offset[id] = p.blocks[find_block(&p, p.block_of[id])].offset;
    plan->size[id] = p.bytes[id];
  }
  st = tcc_module_check(m); /* dim arithmetic (element counts) allocates in the module */
done:
  tcc_free(al, p.bytes), tcc_free(al, p.block_of), tcc_free(al, p.blocks), tcc_free(al, order), tcc_free(al, scratch);
  tcc_free(al, best), tcc_free(al, trial), tcc_free(al, breadth), tcc_free(al, live);
  if (st) memset(plan, 0, sizeof *plan);
  return st;
}
