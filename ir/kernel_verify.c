/* Kernel IR verifier (contract in kernel.h). */
#include "ir/kernel.h"

#include <stdarg.h>
#include <stdlib.h>

enum { MAX_DEPTH = 256 };

typedef struct {
  const tcc_kernel_t *k;
  const tcc_kvar_t *vars[MAX_DEPTH]; /* loop variables bound around the current statement */
  int num_vars;
  const tcc_kbuf_t **allocated; /* temporaries visible at the current statement */
  int num_allocated;
  uint8_t *bound; /* per id: variable bound once already */
} verifier_t;

static tcc_status_t fail(const verifier_t *v, const char *fmt, ...) TCC_PRINTF(2, 3);
static tcc_status_t fail(const verifier_t *v, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return tcc_status_make(TCC_INTERNAL, "kernel '%s' is malformed: %s", v->k->name, msg);
}

static bool is_numeric(tcc_dtype_t dt) { return tcc_dtype_is_float(dt) || tcc_dtype_is_int(dt); }

static tcc_status_t check_buffer(const verifier_t *v, const tcc_kbuf_t *b, bool write) {
  if (b->scope == TCC_KBUF_INPUT || b->scope == TCC_KBUF_OUTPUT) {
    for (int i = 0; i < v->k->num_params; i++)
      if (v->k->params[i] == b) return write && b->scope == TCC_KBUF_INPUT ? fail(v, "store to input '%s'", b->name) : NULL;
    return fail(v, "buffer '%s' is not a parameter of this kernel", b->name);
  }
  for (int i = 0; i < v->num_allocated; i++)
    if (v->allocated[i] == b) return NULL;
  return fail(v, "temporary '%s' is used outside the block that allocates it", b->name);
}

static tcc_status_t check_expr(const verifier_t *v, const tcc_kexpr_t *e, int depth);

static tcc_status_t check_index(const verifier_t *v, const tcc_kbuf_t *b, const tcc_kexpr_t *const *index, int depth) {
  for (int i = 0; i < b->rank; i++) {
    TCC_RETURN_IF_ERROR(check_expr(v, index[i], depth + 1));
    if (index[i]->dtype != TCC_DTYPE_I64) return fail(v, "index %d of '%s' is %s, not i64", i, b->name, tcc_dtype_name(index[i]->dtype));
  }
  return NULL;
}

static tcc_status_t check_operator(const verifier_t *v, tcc_kop_t op, tcc_dtype_t dt) {
  const char *name = tcc_kop_name(op);
  switch (op) {
    case TCC_KOP_NOT: return dt == TCC_DTYPE_BOOL ? NULL : fail(v, "%s needs bool, got %s", name, tcc_dtype_name(dt));
    case TCC_KOP_BITNOT: case TCC_KOP_SHL: case TCC_KOP_SHR: case TCC_KOP_FLOORDIV: case TCC_KOP_FLOORMOD:
      return tcc_dtype_is_int(dt) ? NULL : fail(v, "%s needs integers, got %s", name, tcc_dtype_name(dt));
    case TCC_KOP_AND: case TCC_KOP_OR: case TCC_KOP_XOR:
      return dt == TCC_DTYPE_BOOL || tcc_dtype_is_int(dt) ? NULL : fail(v, "%s needs bool or integers, got %s", name, tcc_dtype_name(dt));
    case TCC_KOP_EQ: case TCC_KOP_NE:
      return dt == TCC_DTYPE_BOOL || is_numeric(dt) ? NULL : fail(v, "%s on %s", name, tcc_dtype_name(dt));
    case TCC_KOP_NEG: case TCC_KOP_ABS: case TCC_KOP_SIGN: case TCC_KOP_ADD: case TCC_KOP_SUB: case TCC_KOP_MUL:
    case TCC_KOP_DIV: case TCC_KOP_POW: case TCC_KOP_MIN: case TCC_KOP_MAX: case TCC_KOP_LT: case TCC_KOP_LE:
    case TCC_KOP_GT: case TCC_KOP_GE: case TCC_KOP_FMOD:
      return is_numeric(dt) ? NULL : fail(v, "%s needs numbers, got %s", name, tcc_dtype_name(dt));
    default: /* the transcendental and rounding operators */
      return tcc_dtype_is_float(dt) ? NULL : fail(v, "%s needs a float type, got %s", name, tcc_dtype_name(dt));
  }
}

static tcc_status_t check_expr(const verifier_t *v, const tcc_kexpr_t *e, int depth) {
  if (depth > MAX_DEPTH) return fail(v, "expression nested more than %d deep", MAX_DEPTH);
  switch (e->kind) {
    case TCC_KEXPR_INT:
      return tcc_dtype_is_int(e->dtype) || e->dtype == TCC_DTYPE_BOOL ? NULL : fail(v, "integer constant of type %s", tcc_dtype_name(e->dtype));
    case TCC_KEXPR_FLOAT:
      return tcc_dtype_is_float(e->dtype) ? NULL : fail(v, "float constant of type %s", tcc_dtype_name(e->dtype));
    case TCC_KEXPR_VAR:
      for (int i = 0; i < v->num_vars; i++)
        if (v->vars[i] == e->var) return NULL;
      return fail(v, "loop variable '%s' used outside its loop", e->var->name);
    case TCC_KEXPR_DIM: return e->dim && e->dim != tcc_dim_invalid() ? NULL : fail(v, "invalid dim expression");
    case TCC_KEXPR_LOAD:
      TCC_RETURN_IF_ERROR(check_buffer(v, e->buf, false));
      if (e->dtype != e->buf->dtype) return fail(v, "load from '%s' typed %s", e->buf->name, tcc_dtype_name(e->dtype));
      return check_index(v, e->buf, e->index, depth);
    case TCC_KEXPR_UNARY:
      TCC_RETURN_IF_ERROR(check_expr(v, e->a, depth + 1));
      return check_operator(v, e->op, e->a->dtype);
    case TCC_KEXPR_BINARY:
      TCC_RETURN_IF_ERROR(check_expr(v, e->a, depth + 1));
      TCC_RETURN_IF_ERROR(check_expr(v, e->b, depth + 1));
      if (e->a->dtype != e->b->dtype)
        return fail(v, "%s of %s and %s", tcc_kop_name(e->op), tcc_dtype_name(e->a->dtype), tcc_dtype_name(e->b->dtype));
      return check_operator(v, e->op, e->a->dtype);
    case TCC_KEXPR_SELECT:
      TCC_RETURN_IF_ERROR(check_expr(v, e->a, depth + 1));
      TCC_RETURN_IF_ERROR(check_expr(v, e->b, depth + 1));
      TCC_RETURN_IF_ERROR(check_expr(v, e->c, depth + 1));
      if (e->a->dtype != TCC_DTYPE_BOOL) return fail(v, "select condition is %s, not bool", tcc_dtype_name(e->a->dtype));
      return e->b->dtype == e->c->dtype ? NULL : fail(v, "select of %s and %s", tcc_dtype_name(e->b->dtype), tcc_dtype_name(e->c->dtype));
    case TCC_KEXPR_CAST:
      TCC_RETURN_IF_ERROR(check_expr(v, e->a, depth + 1));
      return e->dtype != TCC_DTYPE_STRING && e->a->dtype != TCC_DTYPE_STRING ? NULL : fail(v, "cast involving strings");
    default: return fail(v, "unknown expression kind %d", (int)e->kind);
  }
}

static tcc_status_t check_block(verifier_t *v, const tcc_kblock_t *block, int depth) {
  if (depth > MAX_DEPTH) return fail(v, "statements nested more than %d deep", MAX_DEPTH);
  int allocated_before = v->num_allocated;
  tcc_status_t st = NULL;
  for (size_t n = 0; n < block->count && !st; n++) {
    const tcc_kstmt_t *s = block->stmts[n];
    switch (s->kind) {
      case TCC_KSTMT_FOR:
        if ((st = check_expr(v, s->extent, 0))) break;
        if (s->extent->dtype != TCC_DTYPE_I64) { st = fail(v, "extent of loop '%s' is not i64", s->var->name); break; }
        if ((unsigned)s->loop >= TCC_KLOOP_KIND_COUNT) { st = fail(v, "loop '%s' has an unknown kind", s->var->name); break; }
        if (v->bound[s->var->id]) { st = fail(v, "loop variable '%s' is bound twice", s->var->name); break; }
        if (v->num_vars == MAX_DEPTH) { st = fail(v, "loops nested more than %d deep", MAX_DEPTH); break; }
        v->bound[s->var->id] = 1;
        v->vars[v->num_vars++] = s->var;
        st = check_block(v, &s->body, depth + 1);
        v->num_vars--;
        break;
      case TCC_KSTMT_STORE:
        if ((st = check_buffer(v, s->buf, true)) || (st = check_index(v, s->buf, s->index, 0)) || (st = check_expr(v, s->value, 0))) break;
        if (s->value->dtype != s->buf->dtype)
          st = fail(v, "store of %s into '%s' of %s", tcc_dtype_name(s->value->dtype), s->buf->name, tcc_dtype_name(s->buf->dtype));
        break;
      case TCC_KSTMT_IF:
        if ((st = check_expr(v, s->cond, 0))) break;
        if (s->cond->dtype != TCC_DTYPE_BOOL) { st = fail(v, "if condition is %s, not bool", tcc_dtype_name(s->cond->dtype)); break; }
        if (!(st = check_block(v, &s->body, depth + 1))) st = check_block(v, &s->orelse, depth + 1);
        break;
      case TCC_KSTMT_ALLOC:
        if (s->buf->scope == TCC_KBUF_INPUT || s->buf->scope == TCC_KBUF_OUTPUT) { st = fail(v, "alloc of parameter '%s'", s->buf->name); break; }
        bool owned = false;
        for (int i = 0; i < v->k->num_locals; i++) owned |= v->k->locals[i] == s->buf;
        if (!owned) { st = fail(v, "'%s' is not a temporary of this kernel", s->buf->name); break; }
        for (int i = 0; i < v->num_allocated && !st; i++)
          if (v->allocated[i] == s->buf) st = fail(v, "'%s' is allocated twice", s->buf->name);
        if (!st) v->allocated[v->num_allocated++] = s->buf;
        break;
      case TCC_KSTMT_BARRIER: break;
      case TCC_KSTMT_CALL:
        for (int i = 0; i < s->num_args && !st; i++) st = check_buffer(v, s->args[i], false);
        for (int i = 0; i < s->num_scalars && !st; i++)
          if (!(st = check_expr(v, s->scalars[i], 0)) && s->scalars[i]->dtype != TCC_DTYPE_I64)
            st = fail(v, "scalar argument %d of call '%s' is not i64", i, s->callee);
        break;
      default: st = fail(v, "unknown statement kind %d", (int)s->kind);
    }
  }
  v->num_allocated = allocated_before; /* temporaries are block-scoped */
  return st;
}

tcc_status_t tcc_kernel_verify(const tcc_kernel_t *k) {
  verifier_t v = {.k = k};
  v.allocated = calloc((size_t)k->num_locals + 1, sizeof *v.allocated);
  v.bound = calloc((size_t)k->next_id + 1, 1);
  tcc_status_t st = v.allocated && v.bound ? check_block(&v, &k->body, 0) : tcc_status_oom();
  free(v.allocated);
  free(v.bound);
  return st;
}
