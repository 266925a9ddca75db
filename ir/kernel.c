/* Kernel IR construction. */
#include "ir/kernel.h"

#include <string.h>

static const char *const kop_names[] = {
#define TCC_KUNARY(id, name) name,
#define TCC_KBINARY(id, name) name,
#include "ir/kernel_ops.def"
#undef TCC_KUNARY
#undef TCC_KBINARY
};
_Static_assert(sizeof kop_names / sizeof kop_names[0] == TCC_KOP_COUNT, "kernel op table out of step");

enum {
#define TCC_KUNARY(id, name) UNARY_##id,
#include "ir/kernel_ops.def"
#undef TCC_KUNARY
  NUM_UNARY
};

static const char *const loop_names[TCC_KLOOP_KIND_COUNT] = {
    "serial", "parallel", "vectorized", "unrolled", "block.x", "block.y", "block.z", "thread.x", "thread.y", "thread.z",
};
static const char *const scope_names[TCC_KBUF_SCOPE_COUNT] = {"in", "out", "local", "shared", "register"};

const char *tcc_kop_name(tcc_kop_t op) { return (unsigned)op < TCC_KOP_COUNT ? kop_names[op] : "?"; }
bool tcc_kop_is_unary(tcc_kop_t op) { return (unsigned)op < NUM_UNARY; }
bool tcc_kop_is_comparison(tcc_kop_t op) { return op >= TCC_KOP_EQ && op <= TCC_KOP_GE; }
const char *tcc_kloop_kind_name(tcc_kloop_kind_t kind) {
  return (unsigned)kind < TCC_KLOOP_KIND_COUNT ? loop_names[kind] : "?";
}
const char *tcc_kbuf_scope_name(tcc_kbuf_scope_t scope) {
  return (unsigned)scope < TCC_KBUF_SCOPE_COUNT ? scope_names[scope] : "?";
}

tcc_kernel_t *tcc_kernel_create(tcc_module_t *m, const char *name) {
  tcc_kernel_t *k = tcc_module_alloc(m, sizeof *k);
  if (!k) return NULL;
  k->module = m;
  k->name = tcc_module_strdup(m, name);
  return k->name ? k : NULL;
}

tcc_kblock_t *tcc_kernel_body(tcc_kernel_t *k) { return &k->body; }

static tcc_kbuf_t *new_buf(tcc_kernel_t *k, const char *name, tcc_kbuf_scope_t scope, tcc_dtype_t dtype, int rank,
                           const tcc_dim_t *const *dims, tcc_kbuf_t ***list, int *count, int *capacity) {
  tcc_module_t *m = k->module;
  tcc_kbuf_t *b = tcc_module_alloc(m, sizeof *b);
  const tcc_dim_t **copy = tcc_module_alloc(m, (size_t)(rank > 0 ? rank : 1) * sizeof *copy);
  if (!b || !copy) return NULL;
  if (rank > 0) memcpy(copy, dims, (size_t)rank * sizeof *copy);
  *b = (tcc_kbuf_t){tcc_module_strdup(m, name), k->next_id++, scope, dtype, rank, copy};
  size_t cap = (size_t)*capacity;
  tcc_kbuf_t **grown = tcc_arena_grow(&m->arena, *list, sizeof **list, (size_t)*count, &cap, (size_t)*count + 1);
  if (!grown || !b->name) return m->failed = true, NULL;
  *list = grown;
  *capacity = (int)cap;
  grown[(*count)++] = b;
  return b;
}

tcc_kbuf_t *tcc_kernel_add_param(tcc_kernel_t *k, const char *name, tcc_kbuf_scope_t scope, tcc_dtype_t dtype,
                                 int rank, const tcc_dim_t *const *dims) {
  return new_buf(k, name, scope, dtype, rank, dims, &k->params, &k->num_params, &k->cap_params);
}

tcc_kbuf_t *tcc_kernel_add_local(tcc_kernel_t *k, const char *name, tcc_kbuf_scope_t scope, tcc_dtype_t dtype,
                                 int rank, const tcc_dim_t *const *dims) {
  return new_buf(k, name, scope, dtype, rank, dims, &k->locals, &k->num_locals, &k->cap_locals);
}

/* ---- expressions ---- */

static tcc_kexpr_t *new_expr(tcc_kernel_t *k, tcc_kexpr_kind_t kind, tcc_dtype_t dtype) {
  tcc_kexpr_t *e = tcc_module_alloc(k->module, sizeof *e);
  if (e) {
    e->kind = kind;
    e->dtype = dtype;
  }
  return e;
}

const tcc_kexpr_t *tcc_k_int(tcc_kernel_t *k, int64_t v) {
  tcc_kexpr_t *e = new_expr(k, TCC_KEXPR_INT, TCC_DTYPE_I64);
  if (e) e->i = v;
  return e;
}

const tcc_kexpr_t *tcc_k_const(tcc_kernel_t *k, tcc_dtype_t dtype, double v) {
  bool is_float = tcc_dtype_is_float(dtype);
  tcc_kexpr_t *e = new_expr(k, is_float ? TCC_KEXPR_FLOAT : TCC_KEXPR_INT, dtype);
  if (e && is_float) e->f = v;
  else if (e) e->i = (int64_t)v;
  return e;
}

const tcc_kexpr_t *tcc_k_var(tcc_kernel_t *k, const tcc_kvar_t *var) {
  if (!var) return NULL;
  tcc_kexpr_t *e = new_expr(k, TCC_KEXPR_VAR, TCC_DTYPE_I64);
  if (e) e->var = var;
  return e;
}

const tcc_kexpr_t *tcc_k_dim(tcc_kernel_t *k, const tcc_dim_t *dim) {
  if (tcc_dim_is_const(dim)) return tcc_k_int(k, tcc_dim_value(dim));
  tcc_kexpr_t *e = new_expr(k, TCC_KEXPR_DIM, TCC_DTYPE_I64);
  if (e) e->dim = dim;
  return e;
}

bool tcc_kexpr_equal(const tcc_kexpr_t *a, const tcc_kexpr_t *b) {
  if (a == b) return true;
  if (!a || !b || a->kind != b->kind || a->dtype != b->dtype) return false;
  switch (a->kind) {
    case TCC_KEXPR_INT: return a->i == b->i;
    case TCC_KEXPR_FLOAT: return memcmp(&a->f, &b->f, sizeof a->f) == 0;
    case TCC_KEXPR_VAR: return a->var == b->var;
    case TCC_KEXPR_DIM: return a->dim == b->dim;
    case TCC_KEXPR_LOAD: return a->buf == b->buf && tcc_kindex_equal(a->index, b->index, a->buf->rank);
    case TCC_KEXPR_UNARY: return a->op == b->op && tcc_kexpr_equal(a->a, b->a);
    case TCC_KEXPR_BINARY: return a->op == b->op && tcc_kexpr_equal(a->a, b->a) && tcc_kexpr_equal(a->b, b->b);
    case TCC_KEXPR_SELECT:
      return tcc_kexpr_equal(a->a, b->a) && tcc_kexpr_equal(a->b, b->b) && tcc_kexpr_equal(a->c, b->c);
    case TCC_KEXPR_CAST: return a->saturate == b->saturate && tcc_kexpr_equal(a->a, b->a);
    default: return false;
  }
}

bool tcc_kindex_equal(const tcc_kexpr_t *const *a, const tcc_kexpr_t *const *b, int rank) {
  for (int i = 0; i < rank; i++)
    if (!tcc_kexpr_equal(a[i], b[i])) return false;
  return true;
}

bool tcc_kexpr_uses_var(const tcc_kexpr_t *x, const tcc_kvar_t *v) {
  if (!x) return false;
  if (x->kind == TCC_KEXPR_VAR) return x->var == v;
  if (x->kind == TCC_KEXPR_LOAD)
    for (int i = 0; i < x->buf->rank; i++)
      if (tcc_kexpr_uses_var(x->index[i], v)) return true;
  return tcc_kexpr_uses_var(x->a, v) || tcc_kexpr_uses_var(x->b, v) || tcc_kexpr_uses_var(x->c, v);
}

/* x is the variable v */
static bool is_var(const tcc_kexpr_t *x, const tcc_kvar_t *v) { return x->kind == TCC_KEXPR_VAR && x->var == v; }

bool tcc_kindex_contiguous(const tcc_kexpr_t *const *index, int rank, const tcc_kvar_t *v) {
  if (rank < 1) return false;
  for (int i = 0; i < rank - 1; i++)
    if (tcc_kexpr_uses_var(index[i], v)) return false;
  const tcc_kexpr_t *last = index[rank - 1];
  if (last->kind == TCC_KEXPR_VAR) return last->var == v;
  if (last->kind != TCC_KEXPR_BINARY || last->op != TCC_KOP_ADD) return false;
  return (is_var(last->a, v) && !tcc_kexpr_uses_var(last->b, v)) ||
         (is_var(last->b, v) && !tcc_kexpr_uses_var(last->a, v));
}

static bool all_present(const tcc_kexpr_t *const *xs, int n) {
  for (int i = 0; i < n; i++)
    if (!xs[i]) return false;
  return true;
}

static const tcc_kexpr_t *const *copy_exprs(tcc_kernel_t *k, const tcc_kexpr_t *const *xs, int n) {
  if (n < 0 || !all_present(xs, n)) return NULL;
  const tcc_kexpr_t **copy = tcc_module_alloc(k->module, (size_t)(n ? n : 1) * sizeof *copy);
  if (copy && n) memcpy(copy, xs, (size_t)n * sizeof *copy);
  return copy;
}

const tcc_kexpr_t *tcc_k_load(tcc_kernel_t *k, const tcc_kbuf_t *buf, const tcc_kexpr_t *const *index) {
  if (!buf) return NULL;
  const tcc_kexpr_t *const *idx = copy_exprs(k, index, buf->rank);
  tcc_kexpr_t *e = idx ? new_expr(k, TCC_KEXPR_LOAD, buf->dtype) : NULL;
  if (e) {
    e->buf = buf;
    e->index = idx;
  }
  return e;
}

const tcc_kexpr_t *tcc_k_unary(tcc_kernel_t *k, tcc_kop_t op, const tcc_kexpr_t *a) {
  if (!a) return NULL;
  tcc_dtype_t dt = (op == TCC_KOP_IS_NAN || op == TCC_KOP_IS_INF) ? TCC_DTYPE_BOOL : a->dtype;
  tcc_kexpr_t *e = new_expr(k, TCC_KEXPR_UNARY, dt);
  if (e) {
    e->op = op;
    e->a = a;
  }
  return e;
}

const tcc_kexpr_t *tcc_k_binary(tcc_kernel_t *k, tcc_kop_t op, const tcc_kexpr_t *a, const tcc_kexpr_t *b) {
  if (!a || !b) return NULL;
  tcc_kexpr_t *e = new_expr(k, TCC_KEXPR_BINARY, tcc_kop_is_comparison(op) ? TCC_DTYPE_BOOL : a->dtype);
  if (e) {
    e->op = op;
    e->a = a;
    e->b = b;
  }
  return e;
}

const tcc_kexpr_t *tcc_k_select(tcc_kernel_t *k, const tcc_kexpr_t *cond, const tcc_kexpr_t *a, const tcc_kexpr_t *b) {
  if (!cond || !a || !b) return NULL;
  tcc_kexpr_t *e = new_expr(k, TCC_KEXPR_SELECT, a->dtype);
  if (e) {
    e->a = cond;
    e->b = a;
    e->c = b;
  }
  return e;
}

const tcc_kexpr_t *tcc_k_cast(tcc_kernel_t *k, tcc_dtype_t dtype, const tcc_kexpr_t *a, bool saturate) {
  if (!a) return NULL;
  if (a->dtype == dtype) return a;
  tcc_kexpr_t *e = new_expr(k, TCC_KEXPR_CAST, dtype);
  if (e) {
    e->a = a;
    e->saturate = saturate;
  }
  return e;
}

/* ---- statements ---- */

static tcc_kstmt_t *append(tcc_kernel_t *k, tcc_kblock_t *block, tcc_kstmt_kind_t kind) {
  if (!block) return NULL;
  tcc_kstmt_t *s = tcc_module_alloc(k->module, sizeof *s);
  if (!s) return NULL;
  s->kind = kind;
  tcc_kstmt_t **grown =
      tcc_arena_grow(&k->module->arena, block->stmts, sizeof *grown, block->count, &block->capacity, block->count + 1);
  if (!grown) return k->module->failed = true, NULL;
  block->stmts = grown;
  grown[block->count++] = s;
  return s;
}

tcc_kblock_t *tcc_k_for(tcc_kernel_t *k, tcc_kblock_t *block, const char *var_name, const tcc_kexpr_t *extent,
                        tcc_kloop_kind_t loop, const tcc_kvar_t **var) {
  tcc_kvar_t *v = tcc_module_alloc(k->module, sizeof *v);
  tcc_kstmt_t *s = extent && v ? append(k, block, TCC_KSTMT_FOR) : NULL;
  if (var) *var = s ? v : NULL;
  if (!s || !(v->name = tcc_module_strdup(k->module, var_name))) return NULL;
  v->id = k->next_id++;
  s->var = v;
  s->extent = extent;
  s->loop = loop;
  return &s->body;
}

tcc_kstmt_t *tcc_k_store(tcc_kernel_t *k, tcc_kblock_t *block, const tcc_kbuf_t *buf, const tcc_kexpr_t *const *index,
                         const tcc_kexpr_t *value) {
  const tcc_kexpr_t *const *idx = buf && value ? copy_exprs(k, index, buf->rank) : NULL;
  tcc_kstmt_t *s = idx ? append(k, block, TCC_KSTMT_STORE) : NULL;
  if (s) {
    s->buf = buf;
    s->index = idx;
    s->value = value;
  }
  return s;
}

tcc_kblock_t *tcc_k_if(tcc_kernel_t *k, tcc_kblock_t *block, const tcc_kexpr_t *cond, tcc_kblock_t **orelse) {
  tcc_kstmt_t *s = cond ? append(k, block, TCC_KSTMT_IF) : NULL;
  if (orelse) *orelse = s ? &s->orelse : NULL;
  if (!s) return NULL;
  s->cond = cond;
  return &s->body;
}

int tcc_kblock_count_loops(const tcc_kblock_t *blk, tcc_kloop_kind_t kind) {
  int n = 0;
  for (size_t i = 0; i < blk->count; i++) {
    const tcc_kstmt_t *s = blk->stmts[i];
    n += s->kind == TCC_KSTMT_FOR && s->loop == kind;
    n += tcc_kblock_count_loops(&s->body, kind) + tcc_kblock_count_loops(&s->orelse, kind);
  }
  return n;
}

tcc_kstmt_t *tcc_k_alloc(tcc_kernel_t *k, tcc_kblock_t *block, const tcc_kbuf_t *buf) {
  tcc_kstmt_t *s = buf ? append(k, block, TCC_KSTMT_ALLOC) : NULL;
  if (s) s->buf = buf;
  return s;
}

tcc_kstmt_t *tcc_k_barrier(tcc_kernel_t *k, tcc_kblock_t *block) { return append(k, block, TCC_KSTMT_BARRIER); }

tcc_kstmt_t *tcc_k_call(tcc_kernel_t *k, tcc_kblock_t *block, const char *callee, const tcc_kbuf_t *const *args,
                        int num_args, const tcc_kexpr_t *const *scalars, int num_scalars) {
  const tcc_kbuf_t **a = tcc_module_alloc(k->module, (size_t)(num_args > 0 ? num_args : 1) * sizeof *a);
  const tcc_kexpr_t *const *s_copy = copy_exprs(k, scalars, num_scalars);
  if (!a || !s_copy || num_args < 0) return NULL;
  for (int i = 0; i < num_args; i++)
    if (!(a[i] = args[i])) return NULL;
  tcc_kstmt_t *s = append(k, block, TCC_KSTMT_CALL);
  if (!s || !(s->callee = tcc_module_strdup(k->module, callee))) return NULL;
  s->args = a;
  s->num_args = num_args;
  s->scalars = s_copy;
  s->num_scalars = num_scalars;
  return s;
}
