/* Symbolic dims: interned polynomials over atoms (symbols and floor divisions). */
#include "ir/dim.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "ir/graph.h"

enum { MAX_DEGREE = 4, MAX_TERMS = 64 };

typedef struct atom {
  const char *key;        /* printed form; also the sort key */
  const tcc_dim_t *num;   /* floor division: numerator (NULL for a symbol) */
  int64_t divisor;
} atom_t;

typedef struct {
  int64_t coeff;
  int degree;
  const atom_t *atoms[MAX_DEGREE]; /* sorted by key */
} term_t;

struct tcc_dim {
  uint64_t hash;
  int num_terms; /* sorted: higher degree first, then by atom keys; the constant term last */
  term_t terms[];
};

struct tcc_dim_table {
  const tcc_dim_t **slots;
  size_t count, capacity;
  tcc_strmap_t symbols; /* name -> atom_t */
};

static const tcc_dim_t invalid_dim = {0, -1};
const tcc_dim_t *tcc_dim_invalid(void) { return &invalid_dim; }

static const tcc_dim_t *fail(tcc_module_t *m) {
  m->failed = true;
  return &invalid_dim;
}

bool tcc_dim_table_init(tcc_module_t *m) {
  tcc_dim_table_t *t = tcc_arena_calloc(&m->arena, 1, sizeof *t);
  if (!t) return false;
  tcc_strmap_init(&t->symbols, &m->arena);
  m->dims = t;
  return true;
}

/* ---- term algebra ---- */

static int compare_terms(const term_t *a, const term_t *b) {
  if (a->degree != b->degree) return a->degree > b->degree ? -1 : 1;
  for (int i = 0; i < a->degree; i++) {
    int c = strcmp(a->atoms[i]->key, b->atoms[i]->key);
    if (c) return c;
  }
  return 0;
}

static bool same_monomial(const term_t *a, const term_t *b) { return compare_terms(a, b) == 0; }

static uint64_t hash_terms(const term_t *terms, int n) {
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)n;
  for (int i = 0; i < n; i++) {
    h = tcc_hash_bytes(&terms[i].coeff, sizeof terms[i].coeff, h);
    for (int j = 0; j < terms[i].degree; j++) h = tcc_hash_bytes(&terms[i].atoms[j], sizeof(void *), h);
  }
  return h;
}

static bool equal_terms(const tcc_dim_t *d, const term_t *terms, int n) {
  if (d->num_terms != n) return false;
  for (int i = 0; i < n; i++) {
    const term_t *a = &d->terms[i], *b = &terms[i];
    if (a->coeff != b->coeff || a->degree != b->degree) return false;
    for (int j = 0; j < a->degree; j++)
      if (a->atoms[j] != b->atoms[j]) return false;
  }
  return true;
}

/* Interns a normalized term list (sorted, merged, no zero coefficients). */
static const tcc_dim_t *intern(tcc_module_t *m, const term_t *terms, int n) {
  tcc_dim_table_t *t = m->dims;
  uint64_t h = hash_terms(terms, n);
  if ((t->count + 1) * 2 > t->capacity) {
    size_t cap = t->capacity ? t->capacity * 2 : 256;
    const tcc_dim_t **slots = tcc_arena_calloc(&m->arena, cap, sizeof *slots);
    if (!slots) return fail(m);
    for (size_t i = 0; i < t->capacity; i++) {
      if (!t->slots[i]) continue;
      size_t j = t->slots[i]->hash & (cap - 1);
      while (slots[j]) j = (j + 1) & (cap - 1);
      slots[j] = t->slots[i];
    }
    t->slots = slots;
    t->capacity = cap;
  }
  size_t i = h & (t->capacity - 1);
  for (; t->slots[i]; i = (i + 1) & (t->capacity - 1))
    if (t->slots[i]->hash == h && equal_terms(t->slots[i], terms, n)) return t->slots[i];
  tcc_dim_t *d = tcc_arena_alloc(&m->arena, sizeof *d + (size_t)n * sizeof(term_t));
  if (!d) return fail(m);
  d->hash = h;
  d->num_terms = n;
  memcpy(d->terms, terms, (size_t)n * sizeof(term_t));
  t->slots[i] = d;
  t->count++;
  return d;
}

static int cmp_term_qsort(const void *a, const void *b) { return compare_terms(a, b); }

/* Sorts, merges equal monomials and drops zeros, then interns. */
static const tcc_dim_t *normalize(tcc_module_t *m, term_t *terms, int n) {
  qsort(terms, (size_t)n, sizeof *terms, cmp_term_qsort);
  int out = 0;
  for (int i = 0; i < n; i++) {
    if (out > 0 && same_monomial(&terms[out - 1], &terms[i])) {
      if (__builtin_add_overflow(terms[out - 1].coeff, terms[i].coeff, &terms[out - 1].coeff))
        return tcc_dim_fresh(m);
    } else {
      terms[out++] = terms[i];
    }
    if (terms[out - 1].coeff == 0) out--;
  }
  return intern(m, terms, out);
}

static bool valid(const tcc_dim_t *d) { return d && d->num_terms >= 0; }

const tcc_dim_t *tcc_dim_const(tcc_module_t *m, int64_t value) {
  term_t t = {.coeff = value};
  return intern(m, &t, value ? 1 : 0);
}

static const tcc_dim_t *from_atom(tcc_module_t *m, const atom_t *a) {
  term_t t = {.coeff = 1, .degree = 1, .atoms = {a}};
  return intern(m, &t, 1);
}

const tcc_dim_t *tcc_dim_symbol(tcc_module_t *m, const char *name) {
  atom_t *a = tcc_strmap_get(&m->dims->symbols, name);
  if (!a) {
    a = tcc_arena_calloc(&m->arena, 1, sizeof *a);
    if (!a || !(a->key = tcc_arena_strdup(&m->arena, name)) || !tcc_strmap_put(&m->dims->symbols, a->key, a))
      return fail(m);
  }
  return from_atom(m, a);
}

const tcc_dim_t *tcc_dim_fresh(tcc_module_t *m) {
  char name[32];
  snprintf(name, sizeof name, "?%u", ++m->next_fresh_dim);
  return tcc_dim_symbol(m, name);
}

const tcc_dim_t *tcc_dim_add(tcc_module_t *m, const tcc_dim_t *a, const tcc_dim_t *b) {
  if (!valid(a) || !valid(b)) return &invalid_dim;
  int n = a->num_terms + b->num_terms;
  if (n > MAX_TERMS) return tcc_dim_fresh(m);
  term_t terms[MAX_TERMS];
  memcpy(terms, a->terms, (size_t)a->num_terms * sizeof(term_t));
  memcpy(terms + a->num_terms, b->terms, (size_t)b->num_terms * sizeof(term_t));
  return normalize(m, terms, n);
}

static const tcc_dim_t *scale(tcc_module_t *m, const tcc_dim_t *a, int64_t k) {
  term_t terms[MAX_TERMS];
  for (int i = 0; i < a->num_terms; i++) {
    terms[i] = a->terms[i];
    if (__builtin_mul_overflow(terms[i].coeff, k, &terms[i].coeff)) return tcc_dim_fresh(m);
  }
  return normalize(m, terms, a->num_terms);
}

const tcc_dim_t *tcc_dim_sub(tcc_module_t *m, const tcc_dim_t *a, const tcc_dim_t *b) {
  if (!valid(a) || !valid(b)) return &invalid_dim;
  return tcc_dim_add(m, a, scale(m, b, -1));
}

static bool multiply_terms(const term_t *a, const term_t *b, term_t *out) {
  if (a->degree + b->degree > MAX_DEGREE) return false;
  if (__builtin_mul_overflow(a->coeff, b->coeff, &out->coeff)) return false;
  int i = 0, j = 0, k = 0;
  while (i < a->degree || j < b->degree) {
    if (j >= b->degree || (i < a->degree && strcmp(a->atoms[i]->key, b->atoms[j]->key) <= 0))
      out->atoms[k++] = a->atoms[i++];
    else
      out->atoms[k++] = b->atoms[j++];
  }
  out->degree = k;
  return true;
}

const tcc_dim_t *tcc_dim_mul(tcc_module_t *m, const tcc_dim_t *a, const tcc_dim_t *b) {
  if (!valid(a) || !valid(b)) return &invalid_dim;
  if (a->num_terms * b->num_terms > MAX_TERMS) return tcc_dim_fresh(m);
  term_t terms[MAX_TERMS];
  int n = 0;
  for (int i = 0; i < a->num_terms; i++)
    for (int j = 0; j < b->num_terms; j++)
      if (!multiply_terms(&a->terms[i], &b->terms[j], &terms[n++])) return tcc_dim_fresh(m);
  return normalize(m, terms, n);
}

const tcc_dim_t *tcc_dim_product(tcc_module_t *m, const tcc_dim_t *const *dims, int64_t n) {
  const tcc_dim_t *p = tcc_dim_const(m, 1);
  for (int64_t i = 0; i < n; i++) p = tcc_dim_mul(m, p, dims[i]);
  return p;
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

const tcc_dim_t *tcc_dim_floordiv(tcc_module_t *m, const tcc_dim_t *a, int64_t divisor) {
  if (!valid(a) || divisor <= 0) return &invalid_dim;
  if (divisor == 1) return a;
  /* a = divisor*q + r with r's coefficients in [0, divisor): floor(a/d) = q + floor(r/d). */
  term_t q[MAX_TERMS], r[MAX_TERMS];
  int nq = 0, nr = 0;
  int64_t r_const = 0;
  for (int i = 0; i < a->num_terms; i++) {
    const term_t *t = &a->terms[i];
    int64_t qc = floor_div(t->coeff, divisor), rc = t->coeff - qc * divisor;
    if (qc) { q[nq] = *t; q[nq++].coeff = qc; }
    if (rc && t->degree == 0) r_const = rc;
    else if (rc) { r[nr] = *t; r[nr++].coeff = rc; }
  }
  const tcc_dim_t *quotient = normalize(m, q, nq);
  if (nr == 0) return tcc_dim_add(m, quotient, tcc_dim_const(m, floor_div(r_const, divisor)));
  if (r_const) { r[nr].coeff = r_const; r[nr++].degree = 0; }
  const tcc_dim_t *num = normalize(m, r, nr);
  char buf[512];
  int len = tcc_dim_format(num, buf, sizeof buf);
  if (len < 0 || (size_t)len >= sizeof buf) return tcc_dim_add(m, quotient, tcc_dim_fresh(m));
  char *key = tcc_arena_sprintf(&m->arena, "(%s)//%lld", buf, (long long)divisor);
  if (!key) return fail(m);
  atom_t *at = tcc_strmap_get(&m->dims->symbols, key);
  if (!at) {
    at = tcc_arena_calloc(&m->arena, 1, sizeof *at);
    if (!at || !tcc_strmap_put(&m->dims->symbols, key, at)) return fail(m);
    at->key = key;
    at->num = num;
    at->divisor = divisor;
  }
  return tcc_dim_add(m, quotient, from_atom(m, at));
}

const tcc_dim_t *tcc_dim_ceildiv(tcc_module_t *m, const tcc_dim_t *a, int64_t divisor) {
  if (divisor <= 0) return &invalid_dim;
  return tcc_dim_floordiv(m, tcc_dim_add(m, a, tcc_dim_const(m, divisor - 1)), divisor);
}

/* t / d for single terms when exact (d's atoms a sub-multiset of t's, coefficient divisible). */
static bool divide_term(const term_t *t, const term_t *d, term_t *out) {
  if (d->coeff == 0 || t->coeff % d->coeff != 0) return false;
  out->coeff = t->coeff / d->coeff;
  out->degree = 0;
  int j = 0;
  for (int i = 0; i < t->degree; i++) {
    if (j < d->degree && t->atoms[i] == d->atoms[j]) j++;
    else out->atoms[out->degree++] = t->atoms[i];
  }
  return j == d->degree;
}

const tcc_dim_t *tcc_dim_div_exact(tcc_module_t *m, const tcc_dim_t *a, const tcc_dim_t *b) {
  if (!valid(a) || !valid(b) || b->num_terms == 0) return NULL;
  if (a == b) return tcc_dim_const(m, 1);
  if (a->num_terms == 0) return a;
  if (b->num_terms == 1) {
    term_t q[MAX_TERMS];
    for (int i = 0; i < a->num_terms; i++)
      if (!divide_term(&a->terms[i], &b->terms[0], &q[i])) return NULL;
    return normalize(m, q, a->num_terms);
  }
  term_t lead;
  if (!divide_term(&a->terms[0], &b->terms[0], &lead)) return NULL;
  const tcc_dim_t *q = intern(m, &lead, 1);
  return tcc_dim_mul(m, b, q) == a ? q : NULL;
}

bool tcc_dim_is_const(const tcc_dim_t *d) {
  return valid(d) && (d->num_terms == 0 || (d->num_terms == 1 && d->terms[0].degree == 0));
}

int64_t tcc_dim_value(const tcc_dim_t *d) { return tcc_dim_is_const(d) && d->num_terms ? d->terms[0].coeff : 0; }

bool tcc_dim_is_symbol(const tcc_dim_t *d) {
  return valid(d) && d->num_terms == 1 && d->terms[0].degree == 1 && d->terms[0].coeff == 1 &&
         !d->terms[0].atoms[0]->num;
}

bool tcc_dim_is_fresh(const tcc_dim_t *d) { return tcc_dim_is_symbol(d) && d->terms[0].atoms[0]->key[0] == '?'; }

bool tcc_dim_eval(const tcc_dim_t *d, tcc_dim_lookup_fn_t lookup, void *ctx, int64_t *value) {
  if (!valid(d)) return false;
  int64_t sum = 0;
  for (int i = 0; i < d->num_terms; i++) {
    const term_t *t = &d->terms[i];
    int64_t product = t->coeff;
    for (int j = 0; j < t->degree; j++) {
      const atom_t *a = t->atoms[j];
      int64_t v;
      if (a->num) {
        if (!tcc_dim_eval(a->num, lookup, ctx, &v)) return false;
        v = floor_div(v, a->divisor);
      } else if (!lookup(ctx, a->key, &v)) {
        return false;
      }
      if (__builtin_mul_overflow(product, v, &product)) return false;
    }
    if (__builtin_add_overflow(sum, product, &sum)) return false;
  }
  *value = sum;
  return true;
}

/* ---- text ---- */

static bool is_plain_name(const char *s) {
  if (s[0] == '?') {
    if (!s[1]) return false;
    for (const char *p = s + 1; *p; p++)
      if (!isdigit((unsigned char)*p)) return false;
    return true;
  }
  if (!isalpha((unsigned char)s[0]) && s[0] != '_') return false;
  for (const char *p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_') return false;
  return true;
}

typedef struct {
  char *buf;
  size_t size, len;
} out_t;

static void emit(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(out_t *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(o->len < o->size ? o->buf + o->len : NULL, o->len < o->size ? o->size - o->len : 0, fmt, ap);
  va_end(ap);
  if (n > 0) o->len += (size_t)n;
}

static void emit_atom(out_t *o, const atom_t *a) {
  if (a->num || is_plain_name(a->key)) {
    emit(o, "%s", a->key);
    return;
  }
  emit(o, "\"");
  for (const char *p = a->key; *p; p++) emit(o, (*p == '"' || *p == '\\') ? "\\%c" : "%c", *p);
  emit(o, "\"");
}

int tcc_dim_format(const tcc_dim_t *d, char *buf, size_t size) {
  out_t o = {buf, size, 0};
  if (size) buf[0] = 0;
  if (!valid(d)) {
    emit(&o, "<invalid>");
    return (int)o.len;
  }
  if (d->num_terms == 0) emit(&o, "0");
  for (int i = 0; i < d->num_terms; i++) {
    const term_t *t = &d->terms[i];
    int64_t c = t->coeff;
    if (i > 0) {
      emit(&o, c < 0 ? " - " : " + ");
      if (c < 0) c = -c;
    }
    bool negated = i == 0 && c == -1 && t->degree > 0;
    if (negated) {
      emit(&o, "-");
      c = 1;
    }
    bool first = true;
    if (c != 1 || t->degree == 0) {
      emit(&o, "%lld", (long long)c);
      first = false;
    }
    for (int j = 0; j < t->degree; j++) {
      if (!first) emit(&o, "*");
      bool wrap = t->atoms[j]->num && (!first || negated); /* 2*((x)//2) is not (2*x)//2 */
      emit(&o, wrap ? "(" : "");
      emit_atom(&o, t->atoms[j]);
      emit(&o, wrap ? ")" : "");
      first = false;
    }
  }
  return (int)o.len;
}

/* Recursive-descent parser: expr := term (('+'|'-') term)*; term := factor (('*' factor)|('//' int))*;
 * factor := int | name | "quoted" | '(' expr ')' | '-' factor. */
typedef struct {
  tcc_module_t *m;
  const char *p;
  bool error;
} parser_t;

static const tcc_dim_t *parse_expr(parser_t *ps);

static void skip_space(parser_t *ps) {
  while (*ps->p == ' ') ps->p++;
}

static const tcc_dim_t *parse_factor(parser_t *ps) {
  skip_space(ps);
  const char *s = ps->p;
  if (*s == '-') {
    ps->p++;
    const tcc_dim_t *f = parse_factor(ps);
    return f ? scale(ps->m, f, -1) : NULL;
  }
  if (*s == '(') {
    ps->p++;
    const tcc_dim_t *e = parse_expr(ps);
    skip_space(ps);
    if (!e || *ps->p != ')') return NULL;
    ps->p++;
    return e;
  }
  if (isdigit((unsigned char)*s)) {
    char *end;
    long long v = strtoll(s, &end, 10);
    ps->p = end;
    return tcc_dim_const(ps->m, v);
  }
  if (*s == '"') {
    char name[256];
    size_t n = 0;
    for (s++; *s && *s != '"'; s++) {
      if (*s == '\\' && s[1]) s++;
      if (n + 1 >= sizeof name) return NULL;
      name[n++] = *s;
    }
    if (*s != '"') return NULL;
    name[n] = 0;
    ps->p = s + 1;
    return tcc_dim_symbol(ps->m, name);
  }
  if (*s == '?' || isalpha((unsigned char)*s) || *s == '_') {
    const char *e = s + 1;
    while (isalnum((unsigned char)*e) || *e == '_') e++;
    char name[256];
    if ((size_t)(e - s) >= sizeof name) return NULL;
    memcpy(name, s, (size_t)(e - s));
    name[e - s] = 0;
    ps->p = e;
    return tcc_dim_symbol(ps->m, name);
  }
  return NULL;
}

static const tcc_dim_t *parse_term(parser_t *ps) {
  const tcc_dim_t *t = parse_factor(ps);
  for (;;) {
    if (!t) return NULL;
    skip_space(ps);
    if (ps->p[0] == '/' && ps->p[1] == '/') {
      ps->p += 2;
      skip_space(ps);
      char *end;
      long long v = strtoll(ps->p, &end, 10);
      if (end == ps->p || v <= 0) return NULL;
      ps->p = end;
      t = tcc_dim_floordiv(ps->m, t, v);
    } else if (ps->p[0] == '*') {
      ps->p++;
      const tcc_dim_t *f = parse_factor(ps);
      if (!f) return NULL;
      t = tcc_dim_mul(ps->m, t, f);
    } else {
      return t;
    }
  }
}

static const tcc_dim_t *parse_expr(parser_t *ps) {
  const tcc_dim_t *e = parse_term(ps);
  for (;;) {
    if (!e) return NULL;
    skip_space(ps);
    char op = *ps->p;
    if (op != '+' && op != '-') return e;
    ps->p++;
    const tcc_dim_t *t = parse_term(ps);
    if (!t) return NULL;
    e = op == '+' ? tcc_dim_add(ps->m, e, t) : tcc_dim_sub(ps->m, e, t);
  }
}

const tcc_dim_t *tcc_dim_parse(tcc_module_t *m, const char *text, const char **end) {
  parser_t ps = {m, text, false};
  const tcc_dim_t *d = parse_expr(&ps);
  if (end) *end = ps.p;
  return valid(d) ? d : NULL;
}
