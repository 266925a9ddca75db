/* The compute definition of a fused node (TCC_OP_FUSED, made by passes/fusion.c): ONE kernel computing what
 * its body computes, with the usual parameters of ir/compute.h (the node's inputs, then its outputs).
 *
 * Each body node's own compute definition is built, then copied into the fused kernel (statements cloned,
 * loop variables and temporaries renewed, parameters mapped to where the values live). Body nodes fall in
 * two classes:
 *   - pointwise: the definition is one loop nest over the output's shape with a single store y0[i] = e(i)
 *     (elementwise ops, casts, and any op whose definition has that form). Such a value is never stored
 *     for its readers: a reader computes it as an expression at the index it reads, e(index) with e's own
 *     loads substituted in turn — so broadcasting is exactly each node's own index arithmetic. Outside a
 *     select's arms a value is built once per index and shared by its readers (x in gelu), as the
 *     definitions share subexpressions; a large one is computed into a register instead, so nothing is
 *     repeated more than a bounded amount.
 *   - anything else (conv, matmul, pooling, reductions, softmax, normalizations, ...): its statements are
 *     copied as they are. When its output y0 has a *final store* — exactly one store, never read back, in
 *     loops only, whose index is one loop variable per dim ranging over that dim, so each element is
 *     written once with its final value — the pointwise nodes after it that read it at that same index
 *     (an epilogue: bias, residual add, activations, scales) are applied right there: the stored value
 *     feeds their expressions, and the values that must be kept are stored from it, each element once. The
 *     epilogue's other operands are loaded at their broadcast index; they must be available before the
 *     anchor runs (kernel inputs, constants, values of earlier nodes, expressions over those).
 * Values that must be kept — body outputs, inputs of non-pointwise nodes, values read by nodes that could
 * not join an epilogue — are stored in their output parameter or in a LOCAL temporary of their shape.
 * Pointwise values that must be kept and did not join an epilogue get their own loop nest over their
 * shape, shared by consecutive ones of the same shape (an elementwise group with several outputs is one
 * nest). So conv+bias+add+relu and matmul+bias+gelu become one loop nest with one store per output
 * element, an elementwise group one nest, and other groups (softmax, layer norm, attention bodies, several
 * anchors) a sequence of nests over temporaries.
 *
 * Every operation is the one the body's definitions perform, in the same order and types, so results are
 * bit-identical to evaluating the body node by node (ir/graph_eval.c). Body constants must be single
 * elements (fusion puts only scalar constants in bodies); nodes without a compute definition (host
 * operators, control flow) make the whole node TCC_UNSUPPORTED. */
#include <stdlib.h>

#include "ir/compute_defs.h"
#include "ir/infer.h"

/* Where a body value comes from while the fused kernel is written. */
typedef enum {
  SRC_NONE,     /* not computed yet, or consumed */
  SRC_BUFFER,   /* in memory: a kernel input, an output parameter or a temporary */
  SRC_CONSTANT, /* a one-element constant: an expression */
  SRC_INLINE,   /* a pointwise node's expression, computed where it is read */
  SRC_SITE,     /* the anchor's value at the final store being rewritten */
} source_kind_t;

typedef struct {
  source_kind_t kind;
  const tcc_kbuf_t *buf; /* BUFFER */
  expr_t expr;           /* CONSTANT, SITE: the value */
  int member;            /* INLINE: the producing member */
} source_t;

/* A body node and its own compute definition. */
typedef struct {
  const tcc_node_t *node;
  tcc_kernel_t *kernel;
  tcc_kbuf_t **in, **out;      /* the kernel's parameter of each node input / output (NULL: absent) */
  bool pointwise;
  const tcc_kstmt_t *store;    /* pointwise: the store of y0 */
  const tcc_kvar_t **vars;     /* pointwise: the loop variable of each output dim */
  bool done;
} member_t;

/* A value built at an index in the current block: its expression, or the register holding it. */
typedef struct {
  uint32_t value;
  const expr_t *index;
  int rank;
  expr_t expr;
} memo_t;

typedef struct {
  tcc_kernel_t *k;
  const tcc_node_t *fused;
  const tcc_graph_t *body;
  member_t *members;
  int count;
  uint32_t nvalues;
  source_t *src;            /* by value id */
  const tcc_kbuf_t **home;  /* by value id: the buffer a value is stored in, NULL while it needs none */
  bool *kept;               /* by value id: must be stored (a body output, or read by a non-pointwise node) */
  bool *in_site;            /* by value id: part of the epilogue being planned */
  int *producer;            /* by value id: the member producing it, -1 for inputs and constants */
  /* the block instantiated values are computed in, and what it already holds */
  tcc_kblock_t *block;
  memo_t *memo;
  size_t num_memo, cap_memo;
  /* the pointwise nest last opened (reused by the next pointwise store of the same shape) */
  bool nest_open;
  int nest_rank;
  const tcc_dim_t *const *nest_dims;
  const expr_t *nest_index;
  int *nest_members; /* the pointwise members stored in the open nest */
  int num_nest_members;
  const expr_t *site_index;
  int site_rank;
  int temps;
  tcc_status_t st;
} fuse_t;

static expr_t fail(fuse_t *f, tcc_status_t st) {
  if (!f->st) f->st = st;
  else tcc_status_free(st);
  return NULL;
}

static tcc_status_t internal(const tcc_node_t *node, const char *what) {
  return tcc_status_make(TCC_INTERNAL, "fused node '%s': %s", node->name, what);
}

/* ---- expressions ---------------------------------------------------------------------------------- */

/* Whether e loads from buf. */
static bool reads(expr_t e, const tcc_kbuf_t *buf) {
  if (!e) return false;
  if (e->kind == TCC_KEXPR_LOAD) {
    if (e->buf == buf) return true;
    for (int d = 0; d < e->buf->rank; d++)
      if (reads(e->index[d], buf)) return true;
    return false;
  }
  return reads(e->a, buf) || reads(e->b, buf) || reads(e->c, buf);
}

static bool block_reads(const tcc_kblock_t *b, const tcc_kbuf_t *buf);

static bool stmt_reads(const tcc_kstmt_t *s, const tcc_kbuf_t *buf) {
  switch (s->kind) {
    case TCC_KSTMT_FOR: return reads(s->extent, buf) || block_reads(&s->body, buf);
    case TCC_KSTMT_STORE:
      for (int d = 0; d < s->buf->rank; d++)
        if (reads(s->index[d], buf)) return true;
      return reads(s->value, buf);
    case TCC_KSTMT_IF: return reads(s->cond, buf) || block_reads(&s->body, buf) || block_reads(&s->orelse, buf);
    case TCC_KSTMT_CALL:
      for (int i = 0; i < s->num_args; i++)
        if (s->args[i] == buf) return true;
      for (int i = 0; i < s->num_scalars; i++)
        if (reads(s->scalars[i], buf)) return true;
      return false;
    default: return false;
  }
}

static bool block_reads(const tcc_kblock_t *b, const tcc_kbuf_t *buf) {
  for (size_t i = 0; i < b->count; i++)
    if (stmt_reads(b->stmts[i], buf)) return true;
  return false;
}

/* Whether every load of buf in e has exactly the index vars[0..rank). */
static bool reads_at(expr_t e, const tcc_kbuf_t *buf, const tcc_kvar_t *const *vars) {
  if (!e) return true;
  if (e->kind == TCC_KEXPR_LOAD) {
    if (e->buf == buf)
      for (int d = 0; d < buf->rank; d++)
        if (e->index[d]->kind != TCC_KEXPR_VAR || e->index[d]->var != vars[d]) return false;
    for (int d = 0; d < e->buf->rank; d++)
      if (!reads_at(e->index[d], buf, vars)) return false;
    return true;
  }
  return reads_at(e->a, buf, vars) && reads_at(e->b, buf, vars) && reads_at(e->c, buf, vars);
}

/* Whether extent is the size dim. */
static bool extent_is(expr_t extent, const tcc_dim_t *dim) {
  if (extent->kind == TCC_KEXPR_DIM) return extent->dim == dim;
  return extent->kind == TCC_KEXPR_INT && tcc_dim_is_const(dim) && extent->i == tcc_dim_value(dim);
}

/* ---- classifying the body's definitions ----------------------------------------------------------- */

/* The store statements of buf in block (and nested blocks): counted, the last one kept with the loops around it
 * (path, innermost last; an IF on the way makes *conditional). */
typedef struct {
  int count;
  const tcc_kstmt_t *store;
  const tcc_kstmt_t *path[64];
  int depth;
  bool conditional;
} store_search_t;

static void find_stores(const tcc_kblock_t *b, const tcc_kbuf_t *buf, store_search_t *s, const tcc_kstmt_t **path,
                        int depth, bool conditional) {
  for (size_t i = 0; i < b->count; i++) {
    const tcc_kstmt_t *st = b->stmts[i];
    if (st->kind == TCC_KSTMT_STORE && st->buf == buf) {
      s->count++;
      s->store = st;
      s->depth = depth;
      s->conditional = conditional;
      if (depth > 0) memcpy(s->path, path, (size_t)depth * sizeof *path);
    } else if (st->kind == TCC_KSTMT_CALL) {
      for (int a = 0; a < st->num_args; a++) s->count += st->args[a] == buf ? 2 : 0; /* written by a callee */
    } else if (st->kind == TCC_KSTMT_FOR) {
      if (depth == 64) {
        s->count += 2; /* too deep to follow */
        continue;
      }
      path[depth] = st;
      find_stores(&st->body, buf, s, path, depth + 1, conditional);
    } else if (st->kind == TCC_KSTMT_IF) {
      find_stores(&st->body, buf, s, path, depth, true);
      find_stores(&st->orelse, buf, s, path, depth, true);
    }
  }
}

/* The final store of y (see the header comment) in m's kernel, or NULL. */
static const tcc_kstmt_t *final_store(const member_t *m, const tcc_kbuf_t *y) {
  store_search_t s = {0};
  const tcc_kstmt_t *path[64];
  find_stores(&m->kernel->body, y, &s, path, 0, false);
  if (s.count != 1 || s.conditional || block_reads(&m->kernel->body, y)) return NULL;
  bool *used = calloc((size_t)s.depth + 1, 1);
  if (!used) return NULL;
  bool ok = true;
  for (int d = 0; d < y->rank && ok; d++) {
    expr_t ix = s.store->index[d];
    ok = false;
    for (int l = 0; l < s.depth && !ok; l++)
      if (ix->kind == TCC_KEXPR_VAR && ix->var == s.path[l]->var && !used[l] && extent_is(s.path[l]->extent, y->dims[d]))
        used[l] = ok = true;
  }
  for (int l = 0; l < s.depth && ok; l++) ok = used[l]; /* every enclosing loop picks the element */
  free(used);
  return ok ? s.store : NULL;
}

/* Whether m's kernel is one loop nest over y0's shape around a single store y0[i0, i1, ...] = e; sets store, vars. */
static bool classify_pointwise(fuse_t *f, member_t *m) {
  const tcc_node_t *n = m->node;
  for (int i = 1; i < n->num_outputs; i++)
    if (n->outputs[i]) return false;
  const tcc_kbuf_t *y = m->out[0];
  if (!y || m->kernel->num_locals) return false;
  const tcc_kblock_t *b = &m->kernel->body;
  const tcc_kvar_t **vars = tcc_module_alloc(f->k->module, (size_t)(y->rank + 1) * sizeof *vars);
  if (!vars) return false;
  for (int d = 0; d < y->rank; d++) {
    if (b->count != 1 || b->stmts[0]->kind != TCC_KSTMT_FOR || !extent_is(b->stmts[0]->extent, y->dims[d]))
      return false;
    vars[d] = b->stmts[0]->var;
    b = &b->stmts[0]->body;
  }
  if (b->count != 1 || b->stmts[0]->kind != TCC_KSTMT_STORE || b->stmts[0]->buf != y) return false;
  const tcc_kstmt_t *s = b->stmts[0];
  for (int d = 0; d < y->rank; d++)
    if (s->index[d]->kind != TCC_KEXPR_VAR || s->index[d]->var != vars[d]) return false;
  if (reads(s->value, y)) return false;
  m->store = s;
  m->vars = vars;
  return true;
}

/* ---- cloning -------------------------------------------------------------------------------------- */

/* The copy of one member's kernel being made: its variables and buffers by id (they share one counter). */
typedef struct {
  fuse_t *f;
  const member_t *m;
  expr_t *vars;              /* by id: the expression a variable stands for */
  const tcc_kbuf_t **bufs;   /* by id: the buffer a buffer becomes (temporaries, outputs) */
  const tcc_value_t **values; /* by id: the body value an input parameter holds */
  bool conditional;          /* inside a select's arm: computed only if taken, so nothing is hoisted */
} clone_t;

static expr_t instantiate(fuse_t *f, const tcc_value_t *v, const expr_t *index, bool conditional);

static bool clone_init(fuse_t *f, const member_t *m, clone_t *c) {
  uint32_t n = m->kernel->next_id + 1;
  *c = (clone_t){.f = f, .m = m};
  c->vars = tcc_module_alloc(f->k->module, n * sizeof *c->vars);
  c->bufs = tcc_module_alloc(f->k->module, n * sizeof *c->bufs);
  c->values = tcc_module_alloc(f->k->module, n * sizeof *c->values);
  if (!c->vars || !c->bufs || !c->values) return false;
  for (int i = 0; i < m->node->num_inputs; i++)
    if (m->in[i]) c->values[m->in[i]->id] = m->node->inputs[i];
  for (int i = 0; i < m->node->num_outputs; i++)
    if (m->out[i]) c->bufs[m->out[i]->id] = f->home[m->node->outputs[i]->id];
  return true;
}

static expr_t clone_expr(clone_t *c, expr_t e);

static expr_t *clone_index(clone_t *c, const expr_t *index, int n) {
  expr_t *ix = exprs(c->f->k, n);
  for (int d = 0; ix && d < n; d++)
    if (!(ix[d] = clone_expr(c, index[d]))) return NULL;
  return ix;
}

static expr_t clone_expr(clone_t *c, expr_t e) {
  fuse_t *f = c->f;
  if (!e || f->st) return NULL;
  switch (e->kind) {
    case TCC_KEXPR_INT: case TCC_KEXPR_FLOAT: case TCC_KEXPR_DIM: return e;
    case TCC_KEXPR_VAR:
      if (e->var->id > c->m->kernel->next_id || !c->vars[e->var->id])
        return fail(f, internal(f->fused, "a loop variable outside its loop"));
      return c->vars[e->var->id];
    case TCC_KEXPR_LOAD: {
      expr_t *ix = clone_index(c, e->index, e->buf->rank);
      if (!ix) return NULL;
      uint32_t id = e->buf->id;
      if (c->bufs[id]) return tcc_k_load(f->k, c->bufs[id], ix);
      if (c->values[id]) return instantiate(f, c->values[id], ix, c->conditional);
      return fail(f, internal(f->fused, "a load of an unknown buffer"));
    }
    default: break;
  }
  tcc_kexpr_t *x = tcc_module_alloc(f->k->module, sizeof *x);
  if (!x) return NULL;
  *x = *e;
  x->a = clone_expr(c, e->a);
  if (e->kind == TCC_KEXPR_SELECT) { /* the arms: evaluated only when taken */
    bool was = c->conditional;
    c->conditional = true;
    x->b = clone_expr(c, e->b);
    x->c = clone_expr(c, e->c);
    c->conditional = was;
  } else {
    x->b = e->b ? clone_expr(c, e->b) : NULL;
  }
  if (!x->a || (e->b && !x->b) || (e->c && !x->c)) return NULL;
  return x;
}

/* ---- computing values where they are read --------------------------------------------------------- */

static void memo_reset(fuse_t *f, tcc_kblock_t *block) {
  f->block = block;
  f->num_memo = 0;
}

static expr_t memo_find(const fuse_t *f, const tcc_value_t *v, const expr_t *index, int rank) {
  for (size_t i = 0; i < f->num_memo; i++)
    if (f->memo[i].value == v->id && f->memo[i].rank == rank && tcc_kindex_equal(f->memo[i].index, index, rank))
      return f->memo[i].expr;
  return NULL;
}

static void memo_add(fuse_t *f, const tcc_value_t *v, const expr_t *index, int rank, expr_t e) {
  if (f->num_memo == f->cap_memo) {
    size_t cap = f->cap_memo ? 2 * f->cap_memo : 32;
    memo_t *grown = realloc(f->memo, cap * sizeof *grown);
    if (!grown) return; /* only a lost reuse */
    f->memo = grown, f->cap_memo = cap;
  }
  f->memo[f->num_memo++] = (memo_t){v->id, index, rank, e};
}

/* The operations in e counted as a tree (a shared subexpression once per use), up to limit + 1. */
static int tree_size(expr_t e, int limit) {
  if (!e || limit < 0) return 0;
  int n = 1;
  if (e->kind == TCC_KEXPR_LOAD)
    for (int d = 0; d < e->buf->rank && n <= limit; d++) n += tree_size(e->index[d], limit - n);
  if (n <= limit) n += tree_size(e->a, limit - n);
  if (n <= limit) n += tree_size(e->b, limit - n);
  if (n <= limit) n += tree_size(e->c, limit - n);
  return n;
}

/* A value's expression larger than this (as a tree) is computed into a register rather than repeated where
 * it is read again. Smaller ones stay expressions, shared by their readers, so a nest of them is only
 * stores (which the CPU schedule can vectorize). */
enum { MAX_SHARED_TREE = 48 };

/* e held for reuse in the current block: e itself, or a register set to it when it is large. */
static expr_t hold(fuse_t *f, expr_t e) {
  return tree_size(e, MAX_SHARED_TREE) > MAX_SHARED_TREE ? let(f->k, f->block, "t", e) : e;
}

/* Pointwise member p's expression at index, its loads substituted. */
static expr_t expression_at(fuse_t *f, int p, const expr_t *index, bool conditional) {
  const member_t *m = &f->members[p];
  clone_t c;
  if (!clone_init(f, m, &c)) return NULL;
  c.conditional = conditional;
  for (int d = 0; d < m->out[0]->rank; d++) c.vars[m->vars[d]->id] = index[d];
  return clone_expr(&c, m->store->value);
}

/* Value v at index (v's rank expressions over the current loops). A pointwise value is its expression at
 * index, built once per index in the current block outside a select's arms (see hold). */
static expr_t instantiate(fuse_t *f, const tcc_value_t *v, const expr_t *index, bool conditional) {
  if (f->st) return NULL;
  if (v->id >= f->nvalues) return fail(f, internal(f->fused, "a value outside the body"));
  const source_t *s = &f->src[v->id];
  int rank = v->type.rank;
  switch (s->kind) {
    case SRC_BUFFER: return tcc_k_load(f->k, s->buf, index);
    case SRC_CONSTANT: return s->expr;
    case SRC_SITE:
      if (rank != f->site_rank || !tcc_kindex_equal(index, f->site_index, rank))
        return fail(f, internal(f->fused, "an epilogue reads the anchor at another element"));
      return s->expr;
    case SRC_INLINE: {
      expr_t have = !conditional ? memo_find(f, v, index, rank) : NULL;
      if (have) return have;
      expr_t e = expression_at(f, s->member, index, conditional);
      if (!e || conditional) return e;
      e = hold(f, e);
      if (e) memo_add(f, v, index, rank, e);
      return e;
    }
    default: {
      if (v->constant)
        return fail(f, tcc_compute_unsupported(f->fused, "body constant '%s' has more than one element", v->name));
      char what[512];
      snprintf(what, sizeof what, "value '%s' is read before it is computed", v->name);
      return fail(f, internal(f->fused, what));
    }
  }
}

/* Whether a pointwise member not yet emitted reads v. */
static bool read_later_pointwise(const fuse_t *f, const tcc_value_t *v) {
  for (int j = 0; j < f->count; j++) {
    const member_t *m = &f->members[j];
    for (int i = 0; m->pointwise && !m->done && i < m->node->num_inputs; i++)
      if (m->node->inputs[i] == v) return true;
  }
  return false;
}

/* The value v stores at index: instantiate's, but a pointwise value nothing else computes from is its
 * expression as it is (never a register: a nest of stores stays vectorizable). */
static expr_t stored_value(fuse_t *f, const tcc_value_t *v, const expr_t *index) {
  if (v->id < f->nvalues && f->src[v->id].kind == SRC_INLINE && !read_later_pointwise(f, v))
    return expression_at(f, f->src[v->id].member, index, false);
  return instantiate(f, v, index, false);
}

/* ---- emitting ------------------------------------------------------------------------------------- */

/* Ends the open pointwise nest: what it stored is read from memory from now on. */
static void close_nest(fuse_t *f) {
  for (int i = 0; i < f->num_nest_members; i++) {
    const tcc_value_t *y = f->members[f->nest_members[i]].node->outputs[0];
    f->src[y->id] = (source_t){.kind = SRC_BUFFER, .buf = f->home[y->id]};
  }
  f->num_nest_members = 0;
  f->nest_open = false;
}

/* A LOCAL temporary holding v, allocated in the kernel's body (before what is emitted next). */
static tcc_status_t add_temp(fuse_t *f, const tcc_value_t *v) {
  if (f->home[v->id]) return NULL;
  if (v->type.kind != TCC_TYPE_TENSOR || v->type.rank < 0 || v->type.dtype == TCC_DTYPE_UNDEFINED)
    return tcc_compute_unsupported(f->fused, "value '%s' of the body has no tensor type", v->name);
  char name[32];
  snprintf(name, sizeof name, "tmp%d", f->temps++);
  tcc_kbuf_t *t = tcc_kernel_add_local(f->k, name, TCC_KBUF_LOCAL, v->type.dtype, v->type.rank, v->type.dims);
  if (!t || !tcc_k_alloc(f->k, tcc_kernel_body(f->k), t)) return tcc_status_oom();
  f->home[v->id] = t;
  return NULL;
}

/* Whether every read of v is by a member in the set `absorbed` (by member index). */
static bool read_only_by(const fuse_t *f, const tcc_value_t *v, const bool *absorbed) {
  for (int j = 0; j < f->count; j++) {
    const tcc_node_t *n = f->members[j].node;
    for (int i = 0; i < n->num_inputs; i++)
      if (n->inputs[i] == v && !absorbed[j]) return false;
  }
  return true;
}

/* Whether v can be computed before the anchor being planned runs: in memory, a constant, or a pointwise
 * expression over such values, and not depending on the anchor's own result. */
static bool ready(const fuse_t *f, const tcc_value_t *v, int depth) {
  if (!v || v->id >= f->nvalues || f->in_site[v->id] || depth > 64) return false;
  const source_t *s = &f->src[v->id];
  if (s->kind == SRC_BUFFER || s->kind == SRC_CONSTANT) return true;
  if (s->kind != SRC_INLINE) return false;
  const tcc_node_t *n = f->members[s->member].node;
  for (int i = 0; i < n->num_inputs; i++)
    if (n->inputs[i] && !ready(f, n->inputs[i], depth + 1)) return false;
  return true;
}

/* Whether pointwise member p can join the epilogue at the final store of `anchor` (value v): same shape as v,
 * reads some epilogue value, each at its own element, and everything else it reads is ready. */
static bool joins_epilogue(const fuse_t *f, const member_t *p, const tcc_value_t *v) {
  const tcc_value_t *y = p->node->outputs[0];
  if (!p->pointwise || p->done || y->type.rank != v->type.rank) return false;
  for (int d = 0; d < y->type.rank; d++)
    if (y->type.dims[d] != v->type.dims[d]) return false;
  bool reads_site = false;
  for (int i = 0; i < p->node->num_inputs; i++) {
    const tcc_value_t *u = p->node->inputs[i];
    if (!u) continue;
    if (u->id < f->nvalues && f->in_site[u->id]) {
      if (!reads_at(p->store->value, p->in[i], p->vars)) return false;
      reads_site = true;
    } else if (!ready(f, u, 0)) {
      return false;
    }
  }
  return reads_site;
}

static void clone_block(clone_t *c, const tcc_kblock_t *from, tcc_kblock_t *to, const tcc_kstmt_t *site,
                        const bool *absorbed);

/* The rewritten final store of an anchor: its value (held, see hold) feeds the epilogue, and every value of the
 * site that must be kept is stored at the same element. */
static void emit_site(clone_t *c, const tcc_kstmt_t *s, tcc_kblock_t *to, const bool *absorbed) {
  fuse_t *f = c->f;
  const tcc_value_t *v = c->m->node->outputs[0];
  expr_t *ix = clone_index(c, s->index, s->buf->rank);
  expr_t value = clone_expr(c, s->value);
  if (!ix || !value) return;
  memo_reset(f, to);
  f->site_index = ix, f->site_rank = s->buf->rank;
  expr_t reg = hold(f, value); /* read only here, before the anchor's statements go on */
  f->src[v->id] = (source_t){.kind = SRC_SITE, .expr = reg};
  if (f->home[v->id]) tcc_k_store(f->k, to, f->home[v->id], ix, reg);
  for (int j = 0; j < f->count && !f->st; j++) {
    if (!absorbed[j]) continue;
    const tcc_value_t *y = f->members[j].node->outputs[0];
    if (!f->home[y->id]) continue;
    tcc_k_store(f->k, to, f->home[y->id], ix, stored_value(f, y, ix));
  }
}

static void clone_block(clone_t *c, const tcc_kblock_t *from, tcc_kblock_t *to, const tcc_kstmt_t *site,
                        const bool *absorbed) {
  fuse_t *f = c->f;
  tcc_kernel_t *k = f->k;
  for (size_t i = 0; i < from->count && !f->st; i++) {
    const tcc_kstmt_t *s = from->stmts[i];
    switch (s->kind) {
      case TCC_KSTMT_FOR: {
        expr_t extent = clone_expr(c, s->extent);
        const tcc_kvar_t *var = NULL;
        tcc_kblock_t *body = extent ? tcc_k_for(k, to, s->var->name, extent, s->loop, &var) : NULL;
        if (!body) break;
        c->vars[s->var->id] = tcc_k_var(k, var);
        clone_block(c, &s->body, body, site, absorbed);
        break;
      }
      case TCC_KSTMT_STORE: {
        if (s == site) {
          emit_site(c, s, to, absorbed);
          break;
        }
        const tcc_kbuf_t *buf = c->bufs[s->buf->id];
        if (!buf) {
          fail(f, internal(f->fused, "a store to an unknown buffer"));
          break;
        }
        expr_t *ix = clone_index(c, s->index, s->buf->rank);
        expr_t value = clone_expr(c, s->value);
        if (ix && value) tcc_k_store(k, to, buf, ix, value);
        break;
      }
      case TCC_KSTMT_IF: {
        expr_t cond = clone_expr(c, s->cond);
        tcc_kblock_t *orelse = NULL, *then = cond ? tcc_k_if(k, to, cond, &orelse) : NULL;
        if (!then) break;
        clone_block(c, &s->body, then, site, absorbed);
        clone_block(c, &s->orelse, orelse, site, absorbed);
        break;
      }
      case TCC_KSTMT_ALLOC: {
        const tcc_kbuf_t *b = s->buf;
        tcc_kbuf_t *t = tcc_kernel_add_local(k, b->name, b->scope, b->dtype, b->rank, b->dims);
        if (t) c->bufs[b->id] = t;
        tcc_k_alloc(k, to, t);
        break;
      }
      case TCC_KSTMT_BARRIER: tcc_k_barrier(k, to); break;
      case TCC_KSTMT_CALL: {
        const tcc_kbuf_t **args = tcc_module_alloc(k->module, (size_t)(s->num_args + 1) * sizeof *args);
        expr_t *scalars = clone_index(c, s->scalars, s->num_scalars);
        if (!args || !scalars) break;
        for (int a = 0; a < s->num_args; a++) {
          uint32_t id = s->args[a]->id;
          const tcc_value_t *v = c->values[id];
          args[a] = c->bufs[id] ? c->bufs[id] : v && f->src[v->id].kind == SRC_BUFFER ? f->src[v->id].buf : NULL;
          if (!args[a]) {
            fail(f, tcc_compute_unsupported(f->fused, "an extern call of '%s' on a value not in memory", c->m->node->name));
            break;
          }
        }
        if (!f->st) tcc_k_call(k, to, s->callee, args, s->num_args, scalars, s->num_scalars);
        break;
      }
      default: fail(f, internal(f->fused, "an unknown statement")); break;
    }
  }
}

/* Member a (not pointwise): its statements, with y0's final store rewritten to apply the epilogue when one
 * joins. */
static tcc_status_t emit_anchor(fuse_t *f, int a) {
  member_t *m = &f->members[a];
  const tcc_node_t *n = m->node;
  close_nest(f);
  bool *absorbed = calloc((size_t)f->count + 1, 1);
  if (!absorbed) return tcc_status_oom();
  /* the epilogue: later pointwise members reading y0 (or each other) at the stored element */
  const tcc_value_t *v = n->outputs[0];
  bool single = true;
  for (int i = 1; i < n->num_outputs; i++) single &= !n->outputs[i];
  const tcc_kstmt_t *site = single && v ? final_store(m, m->out[0]) : NULL;
  int joined = 0;
  if (site) {
    f->in_site[v->id] = true;
    for (int j = a + 1; j < f->count; j++)
      if (joins_epilogue(f, &f->members[j], v)) {
        absorbed[j] = true, joined++;
        f->in_site[f->members[j].node->outputs[0]->id] = true;
      }
  }
  if (!joined) site = NULL;
  /* where the results go: every output without a site, and epilogue values read elsewhere */
  tcc_status_t st = NULL;
  for (int i = 0; i < n->num_outputs && !st; i++)
    if (n->outputs[i] && (!site || f->kept[n->outputs[i]->id] || !read_only_by(f, n->outputs[i], absorbed)))
      st = add_temp(f, n->outputs[i]);
  for (int j = 0; j < f->count && !st; j++) {
    const tcc_value_t *y = f->members[j].node->outputs[0];
    if (absorbed[j] && (f->kept[y->id] || !read_only_by(f, y, absorbed))) st = add_temp(f, y);
  }
  clone_t c;
  if (!st && !clone_init(f, m, &c)) st = tcc_status_oom();
  if (!st) {
    c.conditional = true; /* nothing hoisted out of the anchor's own statements */
    clone_block(&c, &m->kernel->body, tcc_kernel_body(f->k), site, absorbed);
    st = f->st, f->st = NULL;
  }
  /* afterwards, the values kept in memory are read from there; the others are gone */
  for (int j = 0; j < f->count; j++) {
    const tcc_node_t *done = f->members[j].node;
    if (!absorbed[j] && j != a) continue;
    f->members[j].done = true;
    for (int i = 0; i < done->num_outputs; i++) {
      const tcc_value_t *y = done->outputs[i];
      if (!y) continue;
      f->in_site[y->id] = false;
      f->src[y->id] = f->home[y->id] ? (source_t){.kind = SRC_BUFFER, .buf = f->home[y->id]} : (source_t){0};
    }
  }
  free(absorbed);
  return st;
}

/* Pointwise member p, whose value must be kept: stored from its expression in a nest over its shape (the open
 * nest when it has the same shape). */
static tcc_status_t emit_pointwise(fuse_t *f, int p) {
  member_t *m = &f->members[p];
  const tcc_value_t *y = m->node->outputs[0];
  TCC_RETURN_IF_ERROR(add_temp(f, y));
  int rank = y->type.rank;
  bool same = f->nest_open && f->nest_rank == rank;
  for (int d = 0; same && d < rank; d++) same = f->nest_dims[d] == y->type.dims[d];
  if (!same) {
    close_nest(f);
    const tcc_kexpr_t **index;
    tcc_kblock_t *block = tcc_compute_loops(f->k, tcc_kernel_body(f->k), rank, y->type.dims, &index);
    if (!block) return tcc_status_oom();
    memo_reset(f, block);
    f->nest_open = true, f->nest_rank = rank, f->nest_dims = y->type.dims, f->nest_index = index;
  }
  expr_t e = stored_value(f, y, f->nest_index);
  if (f->st) {
    tcc_status_t st = f->st;
    f->st = NULL;
    return st;
  }
  tcc_k_store(f->k, f->block, f->home[y->id], f->nest_index, e);
  f->nest_members[f->num_nest_members++] = p;
  m->done = true;
  return tcc_module_check(f->k->module);
}

/* A copy of a body output that is not a body node's own result (a body input or constant passed through, or
 * a value listed as two outputs). */
static tcc_status_t emit_copy(fuse_t *f, const tcc_value_t *v, const tcc_kbuf_t *to) {
  close_nest(f);
  const tcc_kexpr_t **index;
  tcc_kblock_t *block = tcc_compute_loops(f->k, tcc_kernel_body(f->k), to->rank, to->dims, &index);
  if (!block) return tcc_status_oom();
  memo_reset(f, block);
  expr_t e = stored_value(f, v, index);
  if (f->st) {
    tcc_status_t st = f->st;
    f->st = NULL;
    return st;
  }
  tcc_k_store(f->k, block, to, index, kcast(f->k, to->dtype, e));
  return NULL;
}

/* ---- the definition ------------------------------------------------------------------------------- */

/* The source of each body input and constant, the members' own kernels, what must be kept. */
static tcc_status_t prepare(fuse_t *f, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  tcc_module_t *mod = f->k->module;
  const tcc_graph_t *body = f->body;
  f->nvalues = mod->next_id + 1;
  f->src = calloc(f->nvalues, sizeof *f->src);
  f->home = calloc(f->nvalues, sizeof *f->home);
  f->kept = calloc(f->nvalues, sizeof *f->kept);
  f->in_site = calloc(f->nvalues, sizeof *f->in_site);
  f->producer = calloc(f->nvalues, sizeof *f->producer);
  f->count = (int)body->num_nodes;
  f->members = calloc((size_t)f->count + 1, sizeof *f->members);
  f->nest_members = calloc((size_t)f->count + 1, sizeof *f->nest_members);
  if (!f->src || !f->home || !f->kept || !f->in_site || !f->producer || !f->members || !f->nest_members)
    return tcc_status_oom();
  for (uint32_t i = 0; i < f->nvalues; i++) f->producer[i] = -1;
  for (size_t i = 0; i < body->num_inputs; i++)
    f->src[body->inputs[i]->id] = (source_t){.kind = SRC_BUFFER, .buf = in[i]};
  for (size_t i = 0; i < body->num_values; i++) {
    const tcc_value_t *v = body->values[i];
    if (!v->constant || v->is_input || v->producer) continue;
    const tcc_tensor_t *t = v->constant;
    if (t->numel != 1 || t->dtype == TCC_DTYPE_STRING) continue; /* an error if read */
    expr_t e;
    if (tcc_dtype_is_float(t->dtype)) {
      double x = tcc_tensor_get_float(t, 0);
      e = t->dtype == TCC_DTYPE_F64 ? kc(f->k, t->dtype, x) : kcast(f->k, t->dtype, kc(f->k, TCC_DTYPE_F32, x));
    } else {
      tcc_kexpr_t *c = tcc_module_alloc(mod, sizeof *c);
      if (c) *c = (tcc_kexpr_t){.kind = TCC_KEXPR_INT, .dtype = t->dtype, .i = tcc_tensor_get_int(t, 0)};
      e = c;
    }
    if (!e) return tcc_status_oom();
    f->src[v->id] = (source_t){.kind = SRC_CONSTANT, .expr = e};
  }
  /* body outputs live in the output parameters (the first one of a value listed twice) */
  for (size_t i = 0; i < body->num_outputs; i++) {
    const tcc_value_t *v = body->outputs[i];
    if (v->producer && v->producer->graph == body && !f->home[v->id]) f->home[v->id] = out[i];
    f->kept[v->id] = true;
  }
  for (int j = 0; j < f->count; j++) {
    member_t *m = &f->members[j];
    const tcc_node_t *n = m->node = body->nodes[j];
    tcc_status_t st = tcc_compute_build(n, &m->kernel);
    if (st) return tcc_status_annotate(st, "in the body of fused node '%s': ", f->fused->name);
    m->in = tcc_module_alloc(mod, (size_t)(n->num_inputs + 1) * sizeof *m->in);
    m->out = tcc_module_alloc(mod, (size_t)(n->num_outputs + 1) * sizeof *m->out);
    if (!m->in || !m->out) return tcc_status_oom();
    int p = 0;
    for (int i = 0; i < n->num_inputs; i++) m->in[i] = n->inputs[i] ? m->kernel->params[p++] : NULL;
    for (int i = 0; i < n->num_outputs; i++) m->out[i] = n->outputs[i] ? m->kernel->params[p++] : NULL;
    m->pointwise = classify_pointwise(f, m);
    for (int i = 0; i < n->num_outputs; i++)
      if (n->outputs[i]) f->producer[n->outputs[i]->id] = j;
    if (m->pointwise) f->src[n->outputs[0]->id] = (source_t){.kind = SRC_INLINE, .member = j};
  }
  /* non-pointwise nodes read their operands from memory */
  for (int j = 0; j < f->count; j++) {
    const member_t *m = &f->members[j];
    if (m->pointwise) continue;
    for (int i = 0; i < m->node->num_inputs; i++) {
      const tcc_value_t *u = m->node->inputs[i];
      if (u && f->producer[u->id] >= 0 && f->members[f->producer[u->id]].pointwise) f->kept[u->id] = true;
    }
  }
  return tcc_module_check(mod);
}

tcc_status_t tcc_compute_fused(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in, tcc_kbuf_t *const *out) {
  const tcc_attr_t *a = tcc_node_attr(node, "body");
  if (!a || a->kind != TCC_ATTR_GRAPH || !a->g) return tcc_infer_error(node, "missing the 'body' graph attribute");
  const tcc_graph_t *body = a->g;
  if (body->num_inputs != (size_t)node->num_inputs || body->num_outputs != (size_t)node->num_outputs)
    return tcc_infer_error(node, "the body's inputs and outputs do not match the node's");
  for (int i = 0; i < node->num_inputs; i++)
    if (!in[i]) return tcc_infer_error(node, "input %d is missing (a fused node has no optional inputs)", i);
  for (int i = 0; i < node->num_outputs; i++)
    if (!out[i]) return tcc_compute_unsupported(node, "output %d is omitted", i);
  fuse_t f = {.k = k, .fused = node, .body = body};
  tcc_status_t st = prepare(&f, in, out);
  for (int j = 0; j < f.count && !st; j++) {
    const member_t *m = &f.members[j];
    if (m->done) continue;
    if (!m->pointwise) st = emit_anchor(&f, j);
    else if (f.kept[m->node->outputs[0]->id]) st = emit_pointwise(&f, j);
  }
  for (size_t i = 0; i < body->num_outputs && !st; i++) {
    const tcc_value_t *v = body->outputs[i];
    if (f.home[v->id] != out[i]) st = emit_copy(&f, v, out[i]);
  }
  free(f.memo), free(f.src), free(f.home), free(f.kept), free(f.in_site), free(f.producer), free(f.members);
  free(f.nest_members);
  if (!st) st = f.st;
  else tcc_status_free(f.st);
  return st ? st : tcc_module_check(k->module);
}
