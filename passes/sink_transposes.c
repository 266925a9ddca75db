/* sink_transposes: Transposes and Reshapes moved later through elementwise ops, merged, and cancelled when
 * they compose to the identity (contract in passes/passes.h).
 *
 * Rewrites, repeated until none applies:
 *   - transpose(constant)                      -> a constant (the data permuted at compile time)
 *   - transpose(transpose(x, p1), p2)          -> transpose(x, p1[p2[i]])
 *   - transpose(x, identity), reshape(x) to x's own shape -> x
 *   - reshape(reshape(x))                      -> reshape(x) (when the outer shape has no 0 "copy" entries)
 *   - u(transpose(x, p))                       -> transpose(u(x), p)          u elementwise unary (or clip)
 *   - b(transpose(x, p), transpose(y, p))      -> transpose(b(x, y), p)       b elementwise binary
 *   - b(transpose(x, p), c)                    -> transpose(b(x, c'), p)      c constant, c' = c permuted back
 *   - the same three with reshape in place of transpose (both operands reshaped from the same shape, or a
 *     one-element constant)
 * A transpose or reshape is only moved when the elementwise op is its only reader, so the number of
 * data-movement ops never grows: moving them later lets them meet and cancel. Unread transposes and
 * reshapes left behind are removed.
 */
#include <string.h>

#include "ir/infer.h"
#include "passes/passes.h"
#include "passes/rewrite.h"

enum { MAX_RANK = 16 };

/* ---- values -------------------------------------------------------------------------------------- */

static bool is_tensor(const tcc_value_t *v) {
  return v && v->type.kind == TCC_TYPE_TENSOR && v->type.rank >= 0 && v->type.rank <= MAX_RANK;
}

/* ---- transposes ----------------------------------------------------------------------------------- */

/* The perm of a transpose node (its default reverses the dims); false when malformed or unknown rank. */
static bool get_perm(const tcc_node_t *n, int64_t *perm, int *rank) {
  const tcc_value_t *x = n->inputs[0];
  if (n->op != TCC_OP_TRANSPOSE || n->num_inputs != 1 || !is_tensor(x)) return false;
  int r = *rank = x->type.rank;
  const int64_t *p;
  int64_t count;
  if (tcc_node_attr_ints(n, "perm", &p, &count)) {
    if (count != r) return false;
    for (int i = 0; i < r; i++) perm[i] = p[i];
  } else {
    for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
  }
  bool seen[MAX_RANK] = {false};
  for (int i = 0; i < r; i++) {
    if (perm[i] < 0 || perm[i] >= r || seen[perm[i]]) return false;
    seen[perm[i]] = true;
  }
  return true;
}

static bool is_identity(const int64_t *perm, int rank) {
  for (int i = 0; i < rank; i++)
    if (perm[i] != i) return false;
  return true;
}

/* t permuted: out.dims[i] = t.dims[perm[i]]; NULL for types without whole bytes per element. */
static tcc_tensor_t *permute(tcc_module_t *m, const tcc_tensor_t *t, const int64_t *perm) {
  int bits = tcc_dtype_bits(t->dtype), r = t->rank;
  if (bits < 8 || bits % 8 || t->dtype == TCC_DTYPE_STRING || r > MAX_RANK) return NULL;
  size_t es = (size_t)bits / 8;
  int64_t dims[MAX_RANK], in_stride[MAX_RANK], idx[MAX_RANK] = {0};
  for (int i = 0; i < r; i++) dims[i] = t->dims[perm[i]];
  for (int i = r - 1, s = 1; i >= 0; i--) in_stride[i] = s, s *= t->dims[i];
  tcc_tensor_t *o = tcc_tensor_create(m, t->dtype, r, dims);
  if (!o) return NULL;
  for (int64_t e = 0; e < o->numel; e++) {
    int64_t src = 0;
    for (int i = 0; i < r; i++) src += idx[i] * in_stride[perm[i]];
    memcpy((char *)o->data + e * es, (const char *)t->data + src * es, es);
    for (int i = r - 1; i >= 0; i--) {
      if (++idx[i] < dims[i]) break;
      idx[i] = 0;
    }
  }
  return o;
}

/* ---- reshapes ------------------------------------------------------------------------------------- */

/* A reshape whose target does not depend on its input's dims (no 0 "copy this dim" entries). */
static bool is_plain_reshape(const tcc_node_t *n) {
  if (n->op != TCC_OP_RESHAPE || n->num_inputs < 1 || !is_tensor(n->inputs[0])) return false;
  if (n->num_inputs >= 2 && n->inputs[1]) {
    const int64_t *v;
    int64_t count;
    if (!tcc_value_const_ints(n->inputs[1], &v, &count)) return false;
    if (tcc_node_attr_int(n, "allowzero", 0)) return true;
    for (int64_t i = 0; i < count; i++)
      if (v[i] == 0) return false;
    return true;
  }
  const tcc_attr_t *a = tcc_node_attr(n, "shape");
  if (!a || a->kind != TCC_ATTR_DIMS) return false;
  for (int64_t i = 0; i < a->count; i++)
    if (tcc_dim_is_const(a->dims[i]) && tcc_dim_value(a->dims[i]) == 0) return false;
  return true;
}

/* ---- elementwise ops ------------------------------------------------------------------------------ */

static bool is_unary(tcc_op_t op) {
  switch (op) {
    case TCC_OP_SHRINK: case TCC_OP_BITWISE_NOT: case TCC_OP_NOT: case TCC_OP_IS_NAN: case TCC_OP_IS_INF:
    case TCC_OP_CAST: case TCC_OP_CLIP:
      return true;
    default: return tcc_rewrite_op_is_unary_math(op);
  }
}

static bool is_binary(tcc_op_t op) {
  switch (op) {
    case TCC_OP_ADD: case TCC_OP_SUB: case TCC_OP_MUL: case TCC_OP_DIV: case TCC_OP_POW: case TCC_OP_MOD:
    case TCC_OP_BITWISE_AND: case TCC_OP_BITWISE_OR: case TCC_OP_BITWISE_XOR: case TCC_OP_EQUAL: case TCC_OP_LESS:
    case TCC_OP_GREATER: case TCC_OP_LESS_OR_EQUAL: case TCC_OP_GREATER_OR_EQUAL: case TCC_OP_AND: case TCC_OP_OR:
    case TCC_OP_XOR: case TCC_OP_MAX: case TCC_OP_MIN: case TCC_OP_SUM: case TCC_OP_MEAN:
      return true;
    default: return false;
  }
}

/* ---- the rewrites --------------------------------------------------------------------------------- */

typedef struct {
  tcc_graph_t *g;
  uint32_t *uses;
  bool *drop; /* by node id */
} state_t;

/* The node producing v in g when v is read only once, else NULL. */
static tcc_node_t *single_read_producer(const state_t *s, const tcc_value_t *v) {
  if (!v || !v->producer || v->producer->graph != s->g || s->uses[v->id] != 1 || s->drop[v->producer->id])
    return NULL;
  return v->producer;
}

/* Moves data-movement node t (transpose or reshape, reading x, read only by n) after n: n reads x in place of
 * t's output (and `other` in place of input `other_index` when other_index >= 0), writes t's old output
 * (only n read it), and t turns that into n's old output. */
static tcc_status_t swap(tcc_node_t *t, tcc_node_t *n, int t_index, int other_index, tcc_value_t *other) {
  tcc_value_t *y = n->outputs[0], *z = t->outputs[0]; /* t's old output, read only by n, is reused */
  n->inputs[t_index] = t->inputs[0];
  if (other_index >= 0) n->inputs[other_index] = other;
  tcc_node_set_output(n, 0, z);
  t->inputs[0] = z;
  tcc_node_set_output(t, 0, y);
  TCC_RETURN_IF_ERROR(tcc_node_infer(n));
  return tcc_node_infer(t);
}

/* A constant operand c of a binary op whose other operand is transpose(x, perm) (rank r): c permuted back,
 * after padding its dims to rank r; NULL when c cannot be permuted. */
static tcc_value_t *unpermuted_constant(state_t *s, const tcc_value_t *c, const int64_t *perm, int r) {
  const tcc_tensor_t *t = c->constant;
  if (t->rank > r) return NULL;
  if (t->numel == 1 && t->rank == 0) return (tcc_value_t *)c;
  int64_t dims[MAX_RANK], inverse[MAX_RANK];
  for (int i = 0; i < r; i++) dims[i] = i < r - t->rank ? 1 : t->dims[i - (r - t->rank)];
  for (int i = 0; i < r; i++) inverse[perm[i]] = i;
  tcc_tensor_t padded = *t;
  padded.rank = r;
  padded.dims = dims;
  tcc_tensor_t *o = permute(s->g->module, &padded, inverse);
  return o ? tcc_graph_add_constant(s->g, NULL, o) : NULL;
}

/* n (an identity transpose or reshape, reading x, writing y) is dropped: readers of y read x, or, when y is
 * a graph output, x's producer writes y in place of x (when only n reads x). */
static bool bypass(state_t *s, tcc_node_t *n, tcc_value_t *x, tcc_value_t *y) {
  if (s->uses[y->id] < 2) {
    tcc_rewrite_reads_replace(s->g, y, x, false);
  } else {
    tcc_node_t *p = single_read_producer(s, x);
    if (!p) return false;
    bool typed = tcc_type_equal(&x->type, &y->type);
    if (!typed) return false;
    tcc_node_set_output(p, x->producer_output, y);
  }
  s->drop[n->id] = true;
  return true;
}

/* Tries every rewrite on n; *done when one applied. */
static tcc_status_t rewrite(state_t *s, tcc_node_t *n, bool *done) {
  *done = false;
  tcc_graph_t *g = s->g;
  int64_t perm[MAX_RANK], perm2[MAX_RANK];
  int rank, rank2;
  if (n->num_outputs != 1 || !n->outputs[0]) return NULL;
  tcc_value_t *y = n->outputs[0];
  if (n->op == TCC_OP_TRANSPOSE && get_perm(n, perm, &rank)) {
    tcc_value_t *x = n->inputs[0];
    if (tcc_rewrite_value_is_constant(x)) {
      tcc_tensor_t *t = permute(g->module, x->constant, perm);
      if (!t) return NULL;
      if (!tcc_value_set_constant(y, t)) return tcc_status_oom();
      s->drop[n->id] = *done = true;
      return NULL;
    }
    if (is_identity(perm, rank) && bypass(s, n, x, y)) {
      *done = true;
      return NULL;
    }
    tcc_node_t *inner = x->producer;
    if (inner && inner->graph == g && !s->drop[inner->id] && get_perm(inner, perm2, &rank2)) {
      int64_t composed[MAX_RANK];
      for (int i = 0; i < rank; i++) composed[i] = perm2[perm[i]];
      n->inputs[0] = inner->inputs[0];
      int64_t *stored = tcc_module_alloc(g->module, (size_t)rank * sizeof *stored + 1);
      if (!stored) return tcc_status_oom();
      memcpy(stored, composed, (size_t)rank * sizeof *stored);
      TCC_RETURN_IF_ERROR(tcc_node_set_attr_ints(n, "perm", stored, rank));
      *done = true;
      return tcc_node_infer(n);
    }
    return NULL;
  }
  if (n->op == TCC_OP_RESHAPE && n->num_inputs >= 1 && is_tensor(n->inputs[0]) && is_tensor(y)) {
    tcc_value_t *x = n->inputs[0];
    if (tcc_type_equal(&x->type, &y->type) && bypass(s, n, x, y)) {
      *done = true;
      return NULL;
    }
    tcc_node_t *inner = x->producer;
    if (inner && inner->graph == g && !s->drop[inner->id] && inner->op == TCC_OP_RESHAPE && is_plain_reshape(n) &&
        is_tensor(inner->inputs[0])) {
      n->inputs[0] = inner->inputs[0];
      *done = true;
      return tcc_node_infer(n);
    }
    return NULL;
  }
  if (!is_tensor(y)) return NULL;
  if (is_unary(n->op) && n->num_inputs >= 1) {
    tcc_node_t *t = single_read_producer(s, n->inputs[0]);
    if (!t || (!get_perm(t, perm, &rank) && !(is_plain_reshape(t) && t->num_inputs == 1))) return NULL;
    if (n->op == TCC_OP_CLIP) /* min and max must be scalars */
      for (int k = 1; k < n->num_inputs; k++)
        if (n->inputs[k] && (!is_tensor(n->inputs[k]) || n->inputs[k]->type.rank != 0)) return NULL;
    TCC_RETURN_IF_ERROR(swap(t, n, 0, -1, NULL));
    *done = true;
    return NULL;
  }
  if (!is_binary(n->op) || n->num_inputs != 2 || !is_tensor(n->inputs[0]) || !is_tensor(n->inputs[1])) return NULL;
  for (int side = 0; side < 2; side++) {
    tcc_node_t *t = single_read_producer(s, n->inputs[side]);
    if (!t) continue;
    tcc_value_t *other = n->inputs[1 - side];
    tcc_node_t *t2 = single_read_producer(s, other);
    if (get_perm(t, perm, &rank)) {
      if (rank != y->type.rank) continue;
      if (t2 && t2 != t && get_perm(t2, perm2, &rank2) && rank2 == rank && !memcmp(perm, perm2, sizeof(int64_t) * rank)) {
        s->drop[t2->id] = true;
        TCC_RETURN_IF_ERROR(swap(t, n, side, 1 - side, t2->inputs[0]));
        *done = true;
        return NULL;
      }
      if (tcc_rewrite_value_is_constant(other)) {
        tcc_value_t *c = unpermuted_constant(s, other, perm, rank);
        if (!c) continue;
        TCC_RETURN_IF_ERROR(swap(t, n, side, 1 - side, c));
        *done = true;
        return NULL;
      }
    } else if (is_plain_reshape(t) && t->num_inputs == 1) {
      const tcc_value_t *x = t->inputs[0];
      if (t2 && t2 != t && is_plain_reshape(t2) && t2->num_inputs == 1 && is_tensor(t2->inputs[0]) &&
          tcc_type_equal(&t2->inputs[0]->type, &x->type) && tcc_type_equal(&other->type, &n->inputs[side]->type)) {
        s->drop[t2->id] = true;
        TCC_RETURN_IF_ERROR(swap(t, n, side, 1 - side, t2->inputs[0]));
        *done = true;
        return NULL;
      }
      if (tcc_rewrite_value_is_constant(other) && other->constant->numel == 1 && other->type.rank <= x->type.rank &&
          other->type.rank <= y->type.rank) {
        TCC_RETURN_IF_ERROR(swap(t, n, side, -1, NULL));
        *done = true;
        return NULL;
      }
    }
  }
  return NULL;
}

/* Drops marked nodes and unread transposes / reshapes; true when any went. */
static bool sweep(state_t *s) {
  tcc_graph_t *g = s->g;
  bool any = false;
  for (bool again = true; again;) {
    again = false;
    uint32_t *uses = tcc_rewrite_reads_count(g);
    if (!uses) return any;
    size_t kept = 0;
    for (size_t i = 0; i < g->num_nodes; i++) {
      tcc_node_t *n = g->nodes[i];
      bool dead = s->drop[n->id];
      if (!dead && (n->op == TCC_OP_TRANSPOSE || n->op == TCC_OP_RESHAPE) && n->num_outputs == 1 && n->outputs[0] &&
          uses[n->outputs[0]->id] == 0)
        dead = again = true;
      if (dead) any = true;
      else g->nodes[kept++] = n;
    }
    g->num_nodes = kept;
  }
  return any;
}

tcc_status_t tcc_pass_sink_transposes(tcc_graph_t *g, const tcc_pass_context_t *ctx,
                                      const tcc_sink_transposes_options_t *options, bool *changed) {
  (void)ctx, (void)options;
  *changed = false;
  tcc_module_t *m = g->module;
  for (int round = 0; round < 1000; round++) {
    state_t s = {g, tcc_rewrite_reads_count(g), tcc_module_alloc(m, m->next_id + 1)};
    if (!s.uses || !s.drop) return tcc_status_oom();
    memset(s.drop, 0, m->next_id + 1);
    bool any = false;
    for (size_t i = 0; i < g->num_nodes; i++) {
      tcc_node_t *n = g->nodes[i];
      if (s.drop[n->id]) continue;
      bool done;
      TCC_RETURN_IF_ERROR(rewrite(&s, n, &done));
      if (done) { /* reads changed: recount before the next rewrite */
        any = true;
        s.uses = tcc_rewrite_reads_count(g);
        if (!s.uses) return tcc_status_oom();
      }
    }
    any |= sweep(&s);
    if (!any) break;
    *changed = true;
    TCC_RETURN_IF_ERROR(tcc_graph_sort(g));
  }
  return tcc_module_check(m);
}
