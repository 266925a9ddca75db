/* The kernel IR reference evaluator (contract in kernel_eval.h).
 *
 * Each run first compiles the kernel into a private tree (node_t / cstmt_t) in which everything that does
 * not change per element is resolved: dims are evaluated, buffers get dims and strides in a table indexed
 * by buffer id, loop variables live in an array indexed by var id, and each node carries a flat opcode
 * for its value class. The tree is then walked by three typed evaluators: eval_i (integers and bool, held
 * in int64 and wrapped to the dtype's width after every operation), eval_f (f32, and f16/bf16/float8/
 * float4 computed in f32) and eval_d (f64). Errors inside expressions (index out of range, integer
 * division by zero) are recorded in the context and checked after each statement.
 *
 * Three steps keep the walk fast enough for real models (resnet18 in seconds) without changing any result:
 * integer subexpressions that cannot fail are hoisted to the loop level they depend on (loop-invariant
 * code motion); the accesses of innermost loops whose indices are affine in the loop variable are proven
 * in range once per entry of the loop and then addressed by base + v * step; and an innermost f32 reduction
 * t = t + x * y runs as a tight C loop, in the same order of operations. Each step falls back to the plain
 * walk wherever it cannot prove itself exact. */
#include "ir/kernel_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"

enum { MAX_DEPTH = 512 };

/* ---- small float formats ---- */

/* A binary float format: exponent and mantissa bits, bias, the largest finite magnitude code, the codes of
 * +inf (0: none) and NaN, uz (NaN is 0x80, no negative zero), always_sat (overflow always clamps). */
typedef struct {
  int eb, mb, bias;
  unsigned maxcode, inf, nan;
  bool uz, always_sat, ieee; /* ieee: ONNX's saturate does not apply (f16, bf16) */
} mini_t;

static const mini_t FMT_F16 = {5, 10, 15, 0x7bff, 0x7c00, 0x7e00, false, false, true};
static const mini_t FMT_BF16 = {8, 7, 127, 0x7f7f, 0x7f80, 0x7fc0, false, false, true};
static const mini_t FMT_E4M3FN = {4, 3, 7, 0x7e, 0, 0x7f, false, false, false};
static const mini_t FMT_E4M3FNUZ = {4, 3, 8, 0x7f, 0, 0x80, true, false, false};
static const mini_t FMT_E5M2 = {5, 2, 15, 0x7b, 0x7c, 0x7f, false, false, false};
static const mini_t FMT_E5M2FNUZ = {5, 2, 16, 0x7f, 0, 0x80, true, false, false};
static const mini_t FMT_E2M1 = {2, 1, 1, 0x7, 0, 0x7, false, true, false};

static const mini_t *mini_format(tcc_dtype_t dt) {
  switch (dt) {
    case TCC_DTYPE_F16: return &FMT_F16;
    case TCC_DTYPE_BF16: return &FMT_BF16;
    case TCC_DTYPE_F8E4M3FN: return &FMT_E4M3FN;
    case TCC_DTYPE_F8E4M3FNUZ: return &FMT_E4M3FNUZ;
    case TCC_DTYPE_F8E5M2: return &FMT_E5M2;
    case TCC_DTYPE_F8E5M2FNUZ: return &FMT_E5M2FNUZ;
    case TCC_DTYPE_F4E2M1: return &FMT_E2M1;
    default: return NULL;
  }
}

/* Rounds x to nearest even in format f; overflow gives inf, NaN or the largest finite value per ONNX Cast. */
static unsigned encode_mini(double x, const mini_t *f, bool saturate) {
  unsigned sign = signbit(x) ? 1u << (f->eb + f->mb) : 0;
  if (isnan(x)) return f->uz ? f->nan : sign | f->nan;
  saturate = f->always_sat || (saturate && !f->ieee);
  unsigned overflow = saturate ? sign | f->maxcode : f->uz ? f->nan : sign | (f->inf ? f->inf : f->nan);
  double a = fabs(x);
  if (isinf(a)) return overflow;
  if (a == 0) return f->uz ? 0 : sign;
  int e, emin = 1 - f->bias;
  frexp(a, &e);
  e = e - 1 < emin ? emin : e - 1;                /* exponent of the quantum's binade */
  double n = rint(ldexp(a, f->mb - e));           /* quanta of 2^(e - mb), round to nearest even */
  if (n >= ldexp(1, f->mb + 1)) n /= 2, e++;      /* carried into the next binade */
  if (n == 0) return f->uz ? 0 : sign;
  int64_t code = n < ldexp(1, f->mb) ? (int64_t)n : ((int64_t)(e + f->bias) << f->mb) | ((int64_t)n - (1 << f->mb));
  if (e > 4 * f->bias + 8 || code > (int64_t)f->maxcode) return overflow;
  return sign | (unsigned)code;
}

static double decode_mini(unsigned bits, const mini_t *f) {
  unsigned sbit = 1u << (f->eb + f->mb), mag = bits & (sbit - 1);
  if (f->uz ? bits == f->nan : mag > f->maxcode) {
    if (!f->uz && f->inf && mag == f->inf) return bits & sbit ? -INFINITY : INFINITY;
    return bits & sbit && !f->uz ? -NAN : NAN;
  }
  unsigned exp = mag >> f->mb, mant = mag & ((1u << f->mb) - 1);
  double v = exp == 0 ? ldexp(mant, 1 - f->bias - f->mb) : ldexp(mant | (1u << f->mb), (int)exp - f->bias - f->mb);
  return bits & sbit ? -v : v;
}

/* f8e8m0 (scales): no sign or zero; rounds up in magnitude like ONNX's default round_mode. */
static unsigned encode_e8m0(double x, bool saturate) {
  if (isnan(x) || (isinf(x) && !saturate)) return 0xff;
  double a = fabs(x);
  if (isinf(a)) return 0xfe;
  if (a == 0) return 0;
  int e;
  double m = frexp(a, &e);
  e = m == 0.5 ? e - 1 : e;
  if (e + 127 > 254) return saturate ? 0xfe : 0xff;
  return e + 127 < 0 ? 0 : (unsigned)(e + 127);
}

static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, em = h & 0x7fff, w;
  if (em >= 0x7c00) w = sign | 0x7f800000 | (em & 0x3ff) << 13;
  else if (em >= 0x400) w = sign | ((em << 13) + 0x38000000);
  else return sign ? -ldexpf((float)em, -24) : ldexpf((float)em, -24);
  float f;
  memcpy(&f, &w, 4);
  return f;
}

static uint16_t float_to_half(float v) {
  uint32_t x;
  memcpy(&x, &v, 4);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  x &= 0x7fffffff;
  if (x > 0x7f800000) return sign | 0x7e00 | ((x >> 13) & 0x3ff);
  if (x >= 0x477ff000) return sign | 0x7c00; /* >= 65520 rounds to inf */
  if (x < 0x38800000) return sign | (uint16_t)rintf(fabsf(v) * 0x1p24f); /* subnormal (or the smallest normal) */
  return sign | (uint16_t)((x + 0xfff + ((x >> 13) & 1) - 0x38000000) >> 13);
}

static float bf16_to_float(uint16_t h) {
  uint32_t w = (uint32_t)h << 16;
  float f;
  memcpy(&f, &w, 4);
  return f;
}

static uint16_t float_to_bf16(float v) {
  uint32_t x;
  memcpy(&x, &v, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);
  return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

/* Storage bits of a value of class f32 (or f64 for precision) in a small float dtype. */
static unsigned encode_small(tcc_dtype_t dt, double v, bool saturate) {
  if (dt == TCC_DTYPE_F8E8M0) return encode_e8m0(v, saturate);
  return encode_mini(v, mini_format(dt), saturate);
}

static float decode_small(tcc_dtype_t dt, unsigned bits) {
  if (dt == TCC_DTYPE_F8E8M0) return bits == 0xff ? NAN : ldexpf(1, (int)bits - 127);
  return (float)decode_mini(bits, mini_format(dt));
}

/* ---- the compiled program ---- */

enum { CLS_I, CLS_F, CLS_D }; /* value classes: int64, float, double */

/* Opcodes. Arithmetic is OP_ARITH + kop; comparisons are OP_CMP_<operand class> + (kop - EQ). */
enum {
  OP_CONST, OP_VAR, OP_LOAD, OP_LOAD_F32, OP_SELECT, OP_CAST_I, OP_CAST_F, OP_CAST_D, OP_ISNAN_F, OP_ISNAN_D,
  OP_ISINF_F, OP_ISINF_D, OP_CMP_I, OP_CMP_F = OP_CMP_I + 6, OP_CMP_D = OP_CMP_F + 6, OP_ARITH = OP_CMP_D + 6,
  OP_COUNT = OP_ARITH + TCC_KOP_COUNT
};
_Static_assert(TCC_KOP_GE - TCC_KOP_EQ == 5, "comparison operators out of step");
_Static_assert(OP_COUNT < 256, "opcodes must fit a byte");

typedef struct node node_t;
typedef struct affine affine_t;
struct node {
  uint8_t op;
  bool total;        /* an integer expression that cannot fail (see hoist_operands) */
  uint16_t level;    /* depth of the innermost loop whose variable it reads (0: none) */
  uint8_t sh;        /* integer results: 64 - width, for sign extension */
  uint8_t width;     /* integer results: bits */
  bool uns;          /* integer result (comparisons: operands) is unsigned */
  bool saturate;     /* CAST */
  tcc_dtype_t dt;    /* result dtype */
  uint32_t slot;     /* VAR: var id (or a hoisted value's slot, from next_id on); LOAD: buffer id */
  uint64_t mask;     /* unsigned results: width mask */
  int64_t i;         /* CONST */
  float f;
  double d, lo, hi;  /* CONST; float -> int casts: the valid range [lo, hi) */
  const node_t *a, *b, *c;
  const node_t **idx; /* LOAD (and store targets): one per dimension */
  affine_t *aff;      /* LOAD (and store targets) in an innermost loop: the affine form of its offset, or NULL */
};

/* An access of an innermost loop whose every index is affine in the loop variable v: index[k] = inv[k] +
 * coef[k] * v, inv[k] invariant while the loop runs and coef[k] known when compiling. Its flat offset is
 * then base + v * step; base is set on each entry of the loop (see enter_inner). */
struct affine {
  const node_t *node;
  uint32_t var;       /* v's id */
  int64_t *coef;      /* per dimension */
  int64_t step, base; /* elements */
  affine_t *next;     /* the loop's other affine accesses */
};

/* An innermost loop (its body holds no loop): its affine accesses, and the reduction its body may be. */
typedef struct {
  uint32_t var;
  affine_t *accesses;
  /* The body is the single statement t = t + x * y (y NULL: t = t + x) over f32, where t is one element
   * (step 0) and x, y are affine loads of other buffers: it runs as a tight C loop. */
  const affine_t *t, *t_load, *x, *y;
} inner_t;

typedef struct cstmt cstmt_t;
typedef struct {
  cstmt_t *stmts;
  size_t count;
} cblock_t;

/* Loop-invariant expressions, evaluated into vars[slot] on each iteration of a loop (or once per run). */
typedef struct hoist hoist_t;
struct hoist {
  uint32_t slot;
  const node_t *e;
  hoist_t *next;
};
typedef struct {
  hoist_t *first, *last;
} hoists_t;

struct cstmt {
  tcc_kstmt_kind_t kind;
  int cls;               /* STORE: class of the value */
  uint32_t var;          /* FOR */
  const node_t *e;       /* FOR extent, IF condition, STORE value */
  const node_t *target;  /* STORE: an OP_LOAD node naming the element */
  const tcc_kstmt_t *src;
  cblock_t body, orelse;
  inner_t *inner;        /* FOR: set when the body holds no loop */
  hoists_t hoists;       /* FOR: evaluated at the start of each iteration */
};

typedef struct {
  const char *name;
  char *data;
  tcc_dtype_t dtype;
  int rank;
  int64_t *dims, *strides;
  int64_t numel, bytes;
  bool owned; /* a temporary, allocated by the evaluator */
} rtbuf_t;

typedef struct {
  const tcc_kernel_t *k;
  tcc_dim_lookup_fn_t lookup;
  void *lookup_ctx;
  tcc_arena_t arena;
  rtbuf_t *bufs; /* by id */
  int64_t *vars; /* by id, then the slots of hoisted values */
  tcc_status_t st;
  /* compiling: the innermost loop whose body is being compiled, and the buffers that body writes (by id) */
  inner_t *loop;
  bool *written;
  /* compiling: loop nesting (loop_depth loops enclose the statement being compiled; loops[d] is the one at
   * depth d, var_depth[id] the depth of a loop variable), hoisted slots so far, and the run-level hoists */
  int loop_depth;
  cstmt_t *loops[MAX_DEPTH + 2];
  int *var_depth;
  uint32_t num_slots;
  hoists_t top;
  /* running: an innermost loop runs with its affine accesses proven in range (element() takes base + v * step) */
  bool affine_on;
} ctx_t;

static int dtype_class(tcc_dtype_t dt) {
  return dt == TCC_DTYPE_F64 ? CLS_D : tcc_dtype_is_float(dt) ? CLS_F : CLS_I;
}

static bool supported_dtype(tcc_dtype_t dt) {
  return dt == TCC_DTYPE_BOOL || tcc_dtype_is_int(dt) || tcc_dtype_is_float(dt);
}

static bool lookup_none(void *ctx, const char *symbol, int64_t *value) { return false; }

static tcc_status_t dim_error(const ctx_t *c, const tcc_dim_t *d, const char *buf) {
  char text[128];
  tcc_dim_format(d, text, sizeof text);
  return tcc_status_make(TCC_INVALID_ARGUMENT,
                         "kernel '%s': cannot evaluate dim '%s'%s%s%s (unbound symbol or overflow)",
                         c->k->name, text, buf ? " of buffer '" : "", buf ? buf : "", buf ? "'" : "");
}

/* Fills the run-time description of b (data stays NULL for temporaries until their ALLOC). */
static tcc_status_t setup_buffer(ctx_t *c, const tcc_kbuf_t *b, void *data) {
  if (b->id >= c->k->next_id || b->rank < 0)
    return tcc_status_make(TCC_INTERNAL, "kernel '%s': bad buffer '%s'", c->k->name, b->name);
  rtbuf_t *r = &c->bufs[b->id];
  r->name = b->name;
  r->dtype = b->dtype;
  r->rank = b->rank;
  r->dims = tcc_arena_calloc(&c->arena, (size_t)b->rank + 1, sizeof *r->dims);
  r->strides = tcc_arena_calloc(&c->arena, (size_t)b->rank + 1, sizeof *r->strides);
  if (!r->dims || !r->strides) return tcc_status_oom();
  int64_t n = 1;
  for (int i = b->rank - 1; i >= 0; i--) {
    int64_t d;
    if (!tcc_dim_eval(b->dims[i], c->lookup, c->lookup_ctx, &d)) return dim_error(c, b->dims[i], b->name);
    if (d < 0)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "kernel '%s': dimension %d of buffer '%s' is negative (%lld)",
                                      c->k->name, i, b->name, (long long)d);
    r->dims[i] = d;
    r->strides[i] = n;
    if (__builtin_mul_overflow(n, d, &n))
      return tcc_status_make(TCC_INVALID_ARGUMENT, "kernel '%s': buffer '%s' is too large", c->k->name, b->name);
  }
  r->numel = n;
  r->bytes = tcc_dtype_storage_bytes(b->dtype, n);
  if (r->bytes < 0 || !supported_dtype(b->dtype))
    return tcc_status_make(TCC_UNSUPPORTED, "kernel '%s': buffer '%s' of %s", c->k->name, b->name,
                           tcc_dtype_name(b->dtype));
  if (data == NULL && r->bytes > 0 && (b->scope == TCC_KBUF_INPUT || b->scope == TCC_KBUF_OUTPUT))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "kernel '%s': no memory for parameter '%s'", c->k->name, b->name);
  r->data = data;
  r->owned = data == NULL && b->scope != TCC_KBUF_INPUT && b->scope != TCC_KBUF_OUTPUT;
  return NULL;
}

static void int_shape(node_t *n, tcc_dtype_t dt) {
  int bits = dt == TCC_DTYPE_BOOL ? 1 : tcc_dtype_bits(dt);
  n->width = (uint8_t)bits;
  n->uns = dt == TCC_DTYPE_BOOL || !tcc_dtype_is_signed_int(dt);
  n->sh = (uint8_t)(64 - bits);
  n->mask = bits >= 64 ? ~0ull : (1ull << bits) - 1;
}

static tcc_status_t compile_expr(ctx_t *c, const tcc_kexpr_t *e, int depth, const node_t **out);

/* ---- innermost loops: affine accesses ----
 *
 * An interpreter spends most of its time on index arithmetic in innermost loops. When a loop's body holds no
 * loop, every access (load or store target) of the body whose indices are all affine in the loop variable v
 * (index = invariant + coef * v, coef known now) gets a flat offset base + v * step. On each entry of the
 * loop, enter_inner evaluates the invariant parts once (at v = 0) and checks every index in range at both
 * ends of the loop: an affine index is monotonic in v, so that proves every iteration in range. The
 * iterations then take offsets with one multiply-add and no index evaluation. When a check fails, or the
 * evaluation of an invariant part records an error, that entry of the loop runs the plain per-element path,
 * which reports exactly what the program does (a guarded access may be out of range where its guard is
 * false, and is never evaluated there). Invariant means: mentions neither v nor a buffer the body writes. */

/* Whether e may change while the innermost loop being compiled runs. */
static bool varies(const ctx_t *c, const node_t *e) {
  if (!e) return false;
  if (e->op == OP_VAR) return e->slot == c->loop->var;
  if (e->op == OP_LOAD || e->op == OP_LOAD_F32) {
    if (c->written[e->slot]) return true;
    for (int k = 0; k < c->bufs[e->slot].rank; k++)
      if (varies(c, e->idx[k])) return true;
    return false;
  }
  return varies(c, e->a) || varies(c, e->b) || varies(c, e->c);
}

/* Whether the i64 expression e is invariant + *coef * v with *coef known now. i64 arithmetic wraps, and
 * wrapping is a ring homomorphism, so a sum or product of affine terms stays affine with the same
 * coefficient modulo 2^64; enter_inner then proves the values exact (no overflow over the loop's range). */
static bool affine_index(const ctx_t *c, const node_t *e, int64_t *coef) {
  int64_t ca, cb;
  if (!varies(c, e)) {
    *coef = 0;
    return true;
  }
  if (e->dt != TCC_DTYPE_I64) return false;
  switch (e->op) {
    case OP_VAR: *coef = 1; return true; /* v itself: varies() holds */
    case OP_ARITH + TCC_KOP_NEG: return affine_index(c, e->a, &ca) && !__builtin_sub_overflow(0, ca, coef);
    case OP_ARITH + TCC_KOP_ADD:
      return affine_index(c, e->a, &ca) && affine_index(c, e->b, &cb) && !__builtin_add_overflow(ca, cb, coef);
    case OP_ARITH + TCC_KOP_SUB:
      return affine_index(c, e->a, &ca) && affine_index(c, e->b, &cb) && !__builtin_sub_overflow(ca, cb, coef);
    case OP_ARITH + TCC_KOP_MUL:
      if (!affine_index(c, e->a, &ca) || !affine_index(c, e->b, &cb)) return false;
      if (ca == 0 && cb == 0) return *coef = 0, true; /* both constant in v */
      if (cb == 0 && e->b->op == OP_CONST) return !__builtin_mul_overflow(ca, e->b->i, coef);
      if (ca == 0 && e->a->op == OP_CONST) return !__builtin_mul_overflow(cb, e->a->i, coef);
      return false;
    default: return false;
  }
}

/* Gives access n of the innermost loop being compiled its affine form, when it has one. */
static tcc_status_t try_affine(ctx_t *c, node_t *n) {
  const rtbuf_t *b = &c->bufs[n->slot];
  int64_t *coef = tcc_arena_calloc(&c->arena, (size_t)b->rank + 1, sizeof *coef), step = 0, t;
  if (!coef) return tcc_status_oom();
  for (int k = 0; k < b->rank; k++)
    if (!affine_index(c, n->idx[k], &coef[k]) || __builtin_mul_overflow(coef[k], b->strides[k], &t) ||
        __builtin_add_overflow(step, t, &step))
      return NULL;
  affine_t *a = tcc_arena_calloc(&c->arena, 1, sizeof *a);
  if (!a) return tcc_status_oom();
  *a = (affine_t){.node = n, .var = c->loop->var, .coef = coef, .step = step, .next = c->loop->accesses};
  c->loop->accesses = n->aff = a;
  return NULL;
}

static bool block_has_loop(const tcc_kblock_t *b) {
  for (size_t i = 0; i < b->count; i++) {
    const tcc_kstmt_t *s = b->stmts[i];
    if (s->kind == TCC_KSTMT_FOR) return true;
    if (s->kind == TCC_KSTMT_IF && (block_has_loop(&s->body) || block_has_loop(&s->orelse))) return true;
  }
  return false;
}

/* Sets (or clears) written[] for the buffers the statements of b store to or allocate. */
static void mark_written(ctx_t *c, const tcc_kblock_t *b, bool on) {
  for (size_t i = 0; i < b->count; i++) {
    const tcc_kstmt_t *s = b->stmts[i];
    if ((s->kind == TCC_KSTMT_STORE || s->kind == TCC_KSTMT_ALLOC) && s->buf->id < c->k->next_id)
      c->written[s->buf->id] = on;
    if (s->kind == TCC_KSTMT_IF) mark_written(c, &s->body, on), mark_written(c, &s->orelse, on);
  }
}

/* An f32 load of the loop that streams through another buffer than `slot`. */
static bool stream_load(const node_t *n, uint32_t slot) { return n->op == OP_LOAD_F32 && n->aff && n->slot != slot; }

/* Recognizes the reduction t = t + x * y (or t = t + x) of an innermost loop over f32 (see inner_t). */
static void find_reduction(const ctx_t *c, const cstmt_t *loop) {
  inner_t *in = loop->inner;
  if (loop->body.count != 1 || loop->body.stmts[0].kind != TCC_KSTMT_STORE) return;
  const node_t *t = loop->body.stmts[0].target, *v = loop->body.stmts[0].e, *x, *y = NULL;
  if (c->bufs[t->slot].dtype != TCC_DTYPE_F32 || !t->aff || t->aff->step != 0) return;
  if (v->op != OP_ARITH + TCC_KOP_ADD || v->a->op != OP_LOAD_F32 || v->a->slot != t->slot || !v->a->aff ||
      v->a->aff->step != 0)
    return;
  x = v->b;
  if (x->op == OP_ARITH + TCC_KOP_MUL) y = x->b, x = x->a;
  if (!stream_load(x, t->slot) || (y && !stream_load(y, t->slot))) return;
  in->t = t->aff, in->t_load = v->a->aff, in->x = x->aff, in->y = y ? y->aff : NULL;
}

/* ---- loop-invariant code motion ----
 *
 * An expression that cannot fail — integer arithmetic on constants and loop variables, without loads, dividing
 * only by nonzero constants — and whose variables all belong to loops outside the statement using it, has
 * the same value for every iteration of the loops inside its level (the depth of the innermost loop whose
 * variable it reads). It is evaluated once per iteration of that loop (level 0: once per run) into a slot
 * of vars[], and the statement reads the slot. Index arithmetic like o * stride - pad then runs once per
 * output position instead of once per multiply-add. Evaluating such an expression where the program would
 * not (under a false condition, or in a loop of no iterations) is unobservable. The largest such
 * subexpressions are hoisted; innermost loops never receive hoists (their bodies hold no deeper statement). */

/* Replaces *p, a total expression of a level outside the current statement's loop, by a read of its slot. */
static tcc_status_t hoist(ctx_t *c, const node_t **p) {
  const node_t *e = *p;
  if (!e->total || e->op == OP_CONST || e->op == OP_VAR || e->level >= c->loop_depth) return NULL;
  node_t *v = tcc_arena_calloc(&c->arena, 1, sizeof *v);
  hoist_t *h = tcc_arena_calloc(&c->arena, 1, sizeof *h);
  if (!v || !h) return tcc_status_oom();
  *v = *e; /* dtype and integer shape, as its readers expect */
  v->op = OP_VAR;
  v->slot = c->k->next_id + c->num_slots++;
  v->a = v->b = v->c = NULL;
  *h = (hoist_t){.slot = v->slot, .e = e};
  hoists_t *list = e->level ? &c->loops[e->level]->hoists : &c->top;
  if (list->last) list->last->next = h;
  else list->first = h;
  list->last = h;
  *p = v;
  return NULL;
}

/* Whether n's own operation cannot fail on integer operands (its operands are checked separately). */
static bool total_op(const node_t *n) {
  if (dtype_class(n->dt) != CLS_I) return false;
  if (n->op >= OP_CMP_I && n->op < OP_CMP_I + 6) return true;
  switch (n->op) {
    case OP_CONST: case OP_VAR: case OP_SELECT: case OP_CAST_I: return true;
    case OP_ARITH + TCC_KOP_DIV: case OP_ARITH + TCC_KOP_FMOD: case OP_ARITH + TCC_KOP_FLOORDIV:
    case OP_ARITH + TCC_KOP_FLOORMOD: return n->b->op == OP_CONST && n->b->i != 0;
    case OP_ARITH + TCC_KOP_NEG: case OP_ARITH + TCC_KOP_ABS: case OP_ARITH + TCC_KOP_SIGN:
    case OP_ARITH + TCC_KOP_NOT: case OP_ARITH + TCC_KOP_BITNOT: case OP_ARITH + TCC_KOP_ADD:
    case OP_ARITH + TCC_KOP_SUB: case OP_ARITH + TCC_KOP_MUL: case OP_ARITH + TCC_KOP_POW:
    case OP_ARITH + TCC_KOP_MIN: case OP_ARITH + TCC_KOP_MAX: case OP_ARITH + TCC_KOP_AND:
    case OP_ARITH + TCC_KOP_OR: case OP_ARITH + TCC_KOP_XOR: case OP_ARITH + TCC_KOP_SHL:
    case OP_ARITH + TCC_KOP_SHR: return true;
    default: return false;
  }
}

/* Sets n's level and totality from its operands (compiled already), and hoists the operands that are total
 * but n is not, or that n reads at an outer level. */
static tcc_status_t hoist_operands(ctx_t *c, node_t *n) {
  const node_t **ops[3] = {&n->a, &n->b, &n->c};
  int level = n->op == OP_VAR && n->slot < c->k->next_id ? c->var_depth[n->slot] : 0;
  bool total = total_op(n);
  for (int i = 0; i < 3; i++)
    if (*ops[i]) level = (*ops[i])->level > level ? (*ops[i])->level : level, total = total && (*ops[i])->total;
  if (n->idx) total = false; /* a load */
  n->level = (uint16_t)level;
  n->total = total;
  for (int i = 0; i < 3; i++)
    if (*ops[i] && (!total || (*ops[i])->level < level)) TCC_RETURN_IF_ERROR(hoist(c, ops[i]));
  return NULL;
}

static tcc_status_t compile_access(ctx_t *c, node_t *n, const tcc_kbuf_t *b, const tcc_kexpr_t *const *index,
                                   int depth) {
  if (b->id >= c->k->next_id || !c->bufs[b->id].name || c->bufs[b->id].rank != b->rank)
    return tcc_status_make(TCC_INTERNAL, "kernel '%s': buffer '%s' is not part of the kernel", c->k->name, b->name);
  n->op = OP_LOAD;
  n->slot = b->id;
  n->idx = tcc_arena_calloc(&c->arena, (size_t)b->rank + 1, sizeof *n->idx);
  if (!n->idx) return tcc_status_oom();
  for (int i = 0; i < b->rank; i++) {
    TCC_RETURN_IF_ERROR(compile_expr(c, index[i], depth + 1, &n->idx[i]));
    TCC_RETURN_IF_ERROR(hoist(c, &n->idx[i]));
  }
  return c->loop ? try_affine(c, n) : NULL;
}


static int64_t wrap(const node_t *n, uint64_t v) {
  return n->uns ? (int64_t)(v & n->mask) : (int64_t)(v << n->sh) >> n->sh;
}

/* A value of class f32 rounded to dtype dt (f32 itself or a smaller float). */
static float round_to(tcc_dtype_t dt, double v, bool saturate) {
  switch (dt) {
    case TCC_DTYPE_F32: return (float)v;
    case TCC_DTYPE_F16:
      if ((double)(float)v == v || isnan(v)) return half_to_float(float_to_half((float)v));
      return (float)decode_mini(encode_mini(v, &FMT_F16, false), &FMT_F16); /* an f64: round once */
    case TCC_DTYPE_BF16:
      if ((double)(float)v == v || isnan(v)) return bf16_to_float(float_to_bf16((float)v));
      return (float)decode_mini(encode_mini(v, &FMT_BF16, false), &FMT_BF16);
    default: return decode_small(dt, encode_small(dt, v, saturate));
  }
}

static tcc_status_t compile_node(ctx_t *c, const tcc_kexpr_t *e, int depth, node_t *n) {
  n->dt = e->dtype;
  int cls = dtype_class(e->dtype);
  if (cls == CLS_I) int_shape(n, e->dtype);
  switch (e->kind) {
    case TCC_KEXPR_INT:
    case TCC_KEXPR_FLOAT: {
      n->op = OP_CONST;
      double v = e->kind == TCC_KEXPR_INT ? (double)e->i : e->f;
      if (cls == CLS_I && e->kind == TCC_KEXPR_INT)
        n->i = e->dtype == TCC_DTYPE_BOOL ? e->i != 0 : wrap(n, (uint64_t)e->i);
      else if (cls == CLS_I)
        return tcc_status_make(TCC_INTERNAL, "kernel '%s': float constant of %s", c->k->name, tcc_dtype_name(e->dtype));
      n->f = round_to(cls == CLS_F ? e->dtype : TCC_DTYPE_F32, v, true);
      n->d = v;
      return NULL;
    }
    case TCC_KEXPR_VAR:
      if (!e->var || e->var->id >= c->k->next_id)
        return tcc_status_make(TCC_INTERNAL, "kernel '%s': bad variable", c->k->name);
      n->op = OP_VAR;
      n->slot = e->var->id;
      return NULL;
    case TCC_KEXPR_DIM:
      n->op = OP_CONST;
      if (!tcc_dim_eval(e->dim, c->lookup, c->lookup_ctx, &n->i)) return dim_error(c, e->dim, NULL);
      return NULL;
    case TCC_KEXPR_LOAD:
      TCC_RETURN_IF_ERROR(compile_access(c, n, e->buf, e->index, depth));
      if (e->buf->dtype == TCC_DTYPE_F32) n->op = OP_LOAD_F32;
      return NULL;
    case TCC_KEXPR_UNARY:
      if ((unsigned)e->op >= TCC_KOP_COUNT) break;
      TCC_RETURN_IF_ERROR(compile_expr(c, e->a, depth + 1, &n->a));
      if (e->op == TCC_KOP_IS_NAN || e->op == TCC_KOP_IS_INF) {
        int acls = dtype_class(e->a->dtype);
        if (acls == CLS_I) n->op = OP_CONST; /* integers are never NaN or infinite */
        else n->op = (uint8_t)(e->op == TCC_KOP_IS_NAN ? (acls == CLS_F ? OP_ISNAN_F : OP_ISNAN_D)
                                                       : (acls == CLS_F ? OP_ISINF_F : OP_ISINF_D));
        return NULL;
      }
      n->op = (uint8_t)(OP_ARITH + e->op);
      return NULL;
    case TCC_KEXPR_BINARY:
      if ((unsigned)e->op >= TCC_KOP_COUNT) break;
      TCC_RETURN_IF_ERROR(compile_expr(c, e->a, depth + 1, &n->a));
      TCC_RETURN_IF_ERROR(compile_expr(c, e->b, depth + 1, &n->b));
      if (tcc_kop_is_comparison(e->op)) {
        int acls = dtype_class(e->a->dtype);
        n->op = (uint8_t)((acls == CLS_I ? OP_CMP_I : acls == CLS_F ? OP_CMP_F : OP_CMP_D) + (e->op - TCC_KOP_EQ));
        n->uns = acls == CLS_I && (e->a->dtype == TCC_DTYPE_BOOL || !tcc_dtype_is_signed_int(e->a->dtype));
      } else {
        n->op = (uint8_t)(OP_ARITH + e->op);
      }
      return NULL;
    case TCC_KEXPR_SELECT:
      n->op = OP_SELECT;
      TCC_RETURN_IF_ERROR(compile_expr(c, e->a, depth + 1, &n->a));
      TCC_RETURN_IF_ERROR(compile_expr(c, e->b, depth + 1, &n->b));
      return compile_expr(c, e->c, depth + 1, &n->c);
    case TCC_KEXPR_CAST: {
      TCC_RETURN_IF_ERROR(compile_expr(c, e->a, depth + 1, &n->a));
      int acls = dtype_class(e->a->dtype);
      n->op = acls == CLS_I ? OP_CAST_I : acls == CLS_F ? OP_CAST_F : OP_CAST_D;
      n->saturate = e->saturate;
      if (cls == CLS_I && n->width == 4) { /* ONNX: 4-bit integers saturate */
        n->lo = n->uns ? 0 : -8;
        n->hi = n->uns ? 15 : 7;
      } else if (cls == CLS_I) {
        n->lo = n->uns ? 0 : -ldexp(1, n->width - 1);
        n->hi = n->uns ? ldexp(1, n->width) : ldexp(1, n->width - 1);
      }
      return NULL;
    }
    default: break;
  }
  return tcc_status_make(TCC_INTERNAL, "kernel '%s': unknown expression (kind %d)", c->k->name, (int)e->kind);
}

/* Compiles e into a fresh node (*out), then hoists its invariant operands. */
static tcc_status_t compile_expr(ctx_t *c, const tcc_kexpr_t *e, int depth, const node_t **out) {
  if (depth > MAX_DEPTH) return tcc_status_make(TCC_INTERNAL, "kernel '%s': expression nested too deep", c->k->name);
  if (!supported_dtype(e->dtype))
    return tcc_status_make(TCC_UNSUPPORTED, "kernel '%s': expression of %s", c->k->name, tcc_dtype_name(e->dtype));
  node_t *n = tcc_arena_calloc(&c->arena, 1, sizeof *n);
  if (!n) return tcc_status_oom();
  *out = n;
  TCC_RETURN_IF_ERROR(compile_node(c, e, depth, n));
  return hoist_operands(c, n);
}

static tcc_status_t compile_block(ctx_t *c, const tcc_kblock_t *b, int depth, cblock_t *out) {
  if (depth > MAX_DEPTH) return tcc_status_make(TCC_INTERNAL, "kernel '%s': statements nested too deep", c->k->name);
  out->count = b->count;
  out->stmts = tcc_arena_calloc(&c->arena, b->count + 1, sizeof *out->stmts);
  if (!out->stmts) return tcc_status_oom();
  for (size_t i = 0; i < b->count; i++) {
    const tcc_kstmt_t *s = b->stmts[i];
    cstmt_t *cs = &out->stmts[i];
    cs->kind = s->kind;
    cs->src = s;
    switch (s->kind) {
      case TCC_KSTMT_FOR:
        if (s->var->id >= c->k->next_id) return tcc_status_make(TCC_INTERNAL, "kernel '%s': bad loop", c->k->name);
        cs->var = s->var->id;
        TCC_RETURN_IF_ERROR(compile_expr(c, s->extent, 0, &cs->e));
        TCC_RETURN_IF_ERROR(hoist(c, &cs->e));
        c->loops[++c->loop_depth] = cs;
        c->var_depth[cs->var] = c->loop_depth;
        if (!c->loop && !block_has_loop(&s->body)) { /* an innermost loop */
          if (!(cs->inner = tcc_arena_calloc(&c->arena, 1, sizeof *cs->inner))) return tcc_status_oom();
          cs->inner->var = cs->var;
          c->loop = cs->inner;
          mark_written(c, &s->body, true);
          TCC_RETURN_IF_ERROR(compile_block(c, &s->body, depth + 1, &cs->body));
          mark_written(c, &s->body, false);
          c->loop = NULL;
          find_reduction(c, cs);
        } else {
          TCC_RETURN_IF_ERROR(compile_block(c, &s->body, depth + 1, &cs->body));
        }
        c->loop_depth--;
        break;
      case TCC_KSTMT_STORE: {
        node_t *t = tcc_arena_calloc(&c->arena, 1, sizeof *t);
        if (!t) return tcc_status_oom();
        t->dt = s->buf->dtype;
        TCC_RETURN_IF_ERROR(compile_access(c, t, s->buf, s->index, 0));
        cs->target = t;
        cs->cls = dtype_class(s->buf->dtype);
        TCC_RETURN_IF_ERROR(compile_expr(c, s->value, 0, &cs->e));
        TCC_RETURN_IF_ERROR(hoist(c, &cs->e));
        break;
      }
      case TCC_KSTMT_IF:
        TCC_RETURN_IF_ERROR(compile_expr(c, s->cond, 0, &cs->e));
        TCC_RETURN_IF_ERROR(hoist(c, &cs->e));
        TCC_RETURN_IF_ERROR(compile_block(c, &s->body, depth + 1, &cs->body));
        TCC_RETURN_IF_ERROR(compile_block(c, &s->orelse, depth + 1, &cs->orelse));
        break;
      case TCC_KSTMT_ALLOC:
        if (s->buf->id >= c->k->next_id || !c->bufs[s->buf->id].owned)
          return tcc_status_make(TCC_INTERNAL, "kernel '%s': alloc of '%s', not a temporary", c->k->name, s->buf->name);
        cs->var = s->buf->id;
        break;
      default: break;
    }
  }
  return NULL;
}

/* ---- evaluation ---- */

static int64_t eval_i(ctx_t *c, const node_t *n);
static float eval_f(ctx_t *c, const node_t *n);
static double eval_d(ctx_t *c, const node_t *n);

static void set_error(ctx_t *c, tcc_status_t st) {
  if (!c->st) c->st = st;
  else tcc_status_free(st);
}

static inline int64_t index_value(ctx_t *c, const node_t *n) {
  if (n->op == OP_VAR) return c->vars[n->slot];
  if (n->op == OP_CONST) return n->i;
  return eval_i(c, n);
}

/* The element offset named by an access node; false (and an error recorded) when an index is out of range. */
static inline bool element(ctx_t *c, const node_t *n, int64_t *offset) {
  if (c->affine_on && n->aff) { /* proven in range on entry of the loop */
    *offset = n->aff->base + c->vars[n->aff->var] * n->aff->step;
    return true;
  }
  const rtbuf_t *b = &c->bufs[n->slot];
  int64_t off = 0;
  for (int k = 0; k < b->rank; k++) {
    int64_t i = index_value(c, n->idx[k]);
    if ((uint64_t)i >= (uint64_t)b->dims[k]) {
      if (!c->st)
        c->st = tcc_status_make(TCC_INTERNAL,
                                "kernel '%s': index %lld out of range [0, %lld) in dimension %d of buffer '%s'",
                                c->k->name, (long long)i, (long long)b->dims[k], k, b->name);
      return false;
    }
    off += i * b->strides[k];
  }
  *offset = off;
  return true;
}

static int64_t load_int(const rtbuf_t *b, int64_t off) {
  const char *p = b->data;
  switch (b->dtype) {
    case TCC_DTYPE_BOOL:
    case TCC_DTYPE_U8: { uint8_t v; memcpy(&v, p + off, 1); return v; }
    case TCC_DTYPE_I8: { int8_t v; memcpy(&v, p + off, 1); return v; }
    case TCC_DTYPE_U16: { uint16_t v; memcpy(&v, p + off * 2, 2); return v; }
    case TCC_DTYPE_I16: { int16_t v; memcpy(&v, p + off * 2, 2); return v; }
    case TCC_DTYPE_U32: { uint32_t v; memcpy(&v, p + off * 4, 4); return v; }
    case TCC_DTYPE_I32: { int32_t v; memcpy(&v, p + off * 4, 4); return v; }
    case TCC_DTYPE_U4:
    case TCC_DTYPE_I4: {
      unsigned byte = (uint8_t)p[off >> 1], v = off & 1 ? byte >> 4 : byte & 15;
      return b->dtype == TCC_DTYPE_I4 && v >= 8 ? (int64_t)v - 16 : (int64_t)v;
    }
    default: { int64_t v; memcpy(&v, p + off * 8, 8); return v; }
  }
}

static void store_int(const rtbuf_t *b, int64_t off, int64_t v) {
  char *p = b->data;
  switch (b->dtype) {
    case TCC_DTYPE_BOOL:
    case TCC_DTYPE_U8:
    case TCC_DTYPE_I8: { uint8_t x = (uint8_t)v; memcpy(p + off, &x, 1); return; }
    case TCC_DTYPE_U16:
    case TCC_DTYPE_I16: { uint16_t x = (uint16_t)v; memcpy(p + off * 2, &x, 2); return; }
    case TCC_DTYPE_U32:
    case TCC_DTYPE_I32: { uint32_t x = (uint32_t)v; memcpy(p + off * 4, &x, 4); return; }
    case TCC_DTYPE_U4:
    case TCC_DTYPE_I4: {
      uint8_t *q = (uint8_t *)p + (off >> 1), nib = (uint8_t)(v & 15);
      *q = off & 1 ? (uint8_t)((*q & 0x0f) | nib << 4) : (uint8_t)((*q & 0xf0) | nib);
      return;
    }
    default: memcpy(p + off * 8, &v, 8); return;
  }
}

static float load_float(const rtbuf_t *b, int64_t off) {
  const char *p = b->data;
  switch (b->dtype) {
    case TCC_DTYPE_F32: { float v; memcpy(&v, p + off * 4, 4); return v; }
    case TCC_DTYPE_F16: { uint16_t v; memcpy(&v, p + off * 2, 2); return half_to_float(v); }
    case TCC_DTYPE_BF16: { uint16_t v; memcpy(&v, p + off * 2, 2); return bf16_to_float(v); }
    case TCC_DTYPE_F4E2M1: {
      unsigned byte = (uint8_t)p[off >> 1];
      return decode_small(b->dtype, off & 1 ? byte >> 4 : byte & 15);
    }
    default: return decode_small(b->dtype, (uint8_t)p[off]);
  }
}

/* Stores round to nearest even; overflow gives inf or NaN (a value cast with `saturate` is already in range). */
static void store_float(const rtbuf_t *b, int64_t off, float v) {
  char *p = b->data;
  switch (b->dtype) {
    case TCC_DTYPE_F32: memcpy(p + off * 4, &v, 4); return;
    case TCC_DTYPE_F16: { uint16_t h = float_to_half(v); memcpy(p + off * 2, &h, 2); return; }
    case TCC_DTYPE_BF16: { uint16_t h = float_to_bf16(v); memcpy(p + off * 2, &h, 2); return; }
    case TCC_DTYPE_F4E2M1: {
      uint8_t *q = (uint8_t *)p + (off >> 1), nib = (uint8_t)encode_small(b->dtype, v, false);
      *q = off & 1 ? (uint8_t)((*q & 0x0f) | nib << 4) : (uint8_t)((*q & 0xf0) | nib);
      return;
    }
    default: p[off] = (char)encode_small(b->dtype, v, false); return;
  }
}

static int64_t div_by_zero(ctx_t *c) {
  set_error(c, tcc_status_make(TCC_INVALID_ARGUMENT, "integer division by zero in kernel '%s'", c->k->name));
  return 0;
}

static int64_t int_pow(const node_t *n, int64_t a, int64_t b) {
  if (!n->uns && b < 0) return a == 1 ? 1 : a == -1 ? (b & 1 ? -1 : 1) : 0; /* truncated 1 / a^-b */
  uint64_t r = 1, x = (uint64_t)a, e = (uint64_t)b;
  for (; e; e >>= 1, x *= x)
    if (e & 1) r *= x;
  return wrap(n, r);
}

/* float -> integer per ONNX Cast: truncation; NaN and out-of-range give the minimum (signed) or 0. */
static int64_t float_to_int(const node_t *n, double x) {
  if (n->dt == TCC_DTYPE_BOOL) return x != 0;
  if (n->width == 4) return x != x ? 0 : (int64_t)rint(x < n->lo ? n->lo : x > n->hi ? n->hi : x);
  double t = trunc(x);
  if (!(t >= n->lo && t < n->hi)) return n->uns ? 0 : wrap(n, 1ull << (n->width - 1));
  return n->uns ? (int64_t)(uint64_t)t : (int64_t)t;
}

static int64_t int_to_int(const node_t *n, int64_t v, bool src_unsigned) {
  if (n->dt == TCC_DTYPE_BOOL) return v != 0;
  if (n->width == 4) {
    if (src_unsigned) return (uint64_t)v > (uint64_t)n->hi ? (int64_t)n->hi : v;
    return v < (int64_t)n->lo ? (int64_t)n->lo : v > (int64_t)n->hi ? (int64_t)n->hi : v;
  }
  return wrap(n, (uint64_t)v);
}

static int64_t eval_i(ctx_t *c, const node_t *n) {
  int64_t a, b;
  switch (n->op) {
    case OP_CONST: return n->i;
    case OP_VAR: return c->vars[n->slot];
    case OP_LOAD: {
      int64_t off;
      return element(c, n, &off) ? load_int(&c->bufs[n->slot], off) : 0;
    }
    case OP_SELECT: return eval_i(c, n->a) ? eval_i(c, n->b) : eval_i(c, n->c);
    case OP_CAST_I: return int_to_int(n, eval_i(c, n->a), n->a->uns);
    case OP_CAST_F: return float_to_int(n, eval_f(c, n->a));
    case OP_CAST_D: return float_to_int(n, eval_d(c, n->a));
    case OP_ISNAN_F: return isnan(eval_f(c, n->a));
    case OP_ISNAN_D: return isnan(eval_d(c, n->a));
    case OP_ISINF_F: return isinf(eval_f(c, n->a)) != 0;
    case OP_ISINF_D: return isinf(eval_d(c, n->a)) != 0;
#define CMP(base, T, EVAL)                                      \
  case base + 0: { T x = EVAL(c, n->a), y = EVAL(c, n->b); return x == y; } \
  case base + 1: { T x = EVAL(c, n->a), y = EVAL(c, n->b); return x != y; } \
  case base + 2: { T x = EVAL(c, n->a), y = EVAL(c, n->b); return x < y; }  \
  case base + 3: { T x = EVAL(c, n->a), y = EVAL(c, n->b); return x <= y; } \
  case base + 4: { T x = EVAL(c, n->a), y = EVAL(c, n->b); return x > y; }  \
  case base + 5: { T x = EVAL(c, n->a), y = EVAL(c, n->b); return x >= y; }
    CMP(OP_CMP_F, float, eval_f)
    CMP(OP_CMP_D, double, eval_d)
#undef CMP
    case OP_CMP_I + 0: return eval_i(c, n->a) == eval_i(c, n->b);
    case OP_CMP_I + 1: return eval_i(c, n->a) != eval_i(c, n->b);
    case OP_CMP_I + 2: a = eval_i(c, n->a), b = eval_i(c, n->b); return n->uns ? (uint64_t)a < (uint64_t)b : a < b;
    case OP_CMP_I + 3: a = eval_i(c, n->a), b = eval_i(c, n->b); return n->uns ? (uint64_t)a <= (uint64_t)b : a <= b;
    case OP_CMP_I + 4: a = eval_i(c, n->a), b = eval_i(c, n->b); return n->uns ? (uint64_t)a > (uint64_t)b : a > b;
    case OP_CMP_I + 5: a = eval_i(c, n->a), b = eval_i(c, n->b); return n->uns ? (uint64_t)a >= (uint64_t)b : a >= b;
    /* unary */
    case OP_ARITH + TCC_KOP_NEG: return wrap(n, 0 - (uint64_t)eval_i(c, n->a));
    case OP_ARITH + TCC_KOP_ABS: a = eval_i(c, n->a); return !n->uns && a < 0 ? wrap(n, 0 - (uint64_t)a) : a;
    case OP_ARITH + TCC_KOP_SIGN: a = eval_i(c, n->a); return n->uns ? a != 0 : (a > 0) - (a < 0);
    case OP_ARITH + TCC_KOP_NOT: return !eval_i(c, n->a);
    case OP_ARITH + TCC_KOP_BITNOT: return wrap(n, ~(uint64_t)eval_i(c, n->a));
    default: break;
  }
  if (n->op < OP_ARITH + TCC_KOP_ADD || n->op >= OP_COUNT) return 0; /* float-only operators: the verifier rejects */
  a = eval_i(c, n->a);
  b = eval_i(c, n->b);
  switch (n->op - OP_ARITH) {
    case TCC_KOP_ADD: return wrap(n, (uint64_t)a + (uint64_t)b);
    case TCC_KOP_SUB: return wrap(n, (uint64_t)a - (uint64_t)b);
    case TCC_KOP_MUL: return wrap(n, (uint64_t)a * (uint64_t)b);
    case TCC_KOP_DIV:
      if (b == 0) return div_by_zero(c);
      if (n->uns) return (int64_t)((uint64_t)a / (uint64_t)b);
      return b == -1 ? wrap(n, 0 - (uint64_t)a) : a / b;
    case TCC_KOP_FMOD:
      if (b == 0) return div_by_zero(c);
      if (n->uns) return (int64_t)((uint64_t)a % (uint64_t)b);
      return b == -1 ? 0 : a % b;
    case TCC_KOP_FLOORDIV: {
      if (b == 0) return div_by_zero(c);
      if (n->uns) return (int64_t)((uint64_t)a / (uint64_t)b);
      if (b == -1) return wrap(n, 0 - (uint64_t)a);
      int64_t q = a / b;
      return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
    }
    case TCC_KOP_FLOORMOD: {
      if (b == 0) return div_by_zero(c);
      if (n->uns) return (int64_t)((uint64_t)a % (uint64_t)b);
      if (b == -1) return 0;
      int64_t r = a % b;
      return (r != 0 && (r < 0) != (b < 0)) ? r + b : r;
    }
    case TCC_KOP_POW: return int_pow(n, a, b);
    case TCC_KOP_MIN: return (n->uns ? (uint64_t)a < (uint64_t)b : a < b) ? a : b;
    case TCC_KOP_MAX: return (n->uns ? (uint64_t)a > (uint64_t)b : a > b) ? a : b;
    case TCC_KOP_AND: return a & b;
    case TCC_KOP_OR: return a | b;
    case TCC_KOP_XOR: return a ^ b;
    case TCC_KOP_SHL: return (uint64_t)b >= n->width ? 0 : wrap(n, (uint64_t)a << b);
    case TCC_KOP_SHR:
      if ((uint64_t)b >= n->width) return 0;
      return n->uns ? (int64_t)((uint64_t)a >> b) : a >> b;
    default: return 0;
  }
}

/* eval_f with the commonest leaves (f32 loads, constants) inlined: saves a call per leaf on the hot path. */
static inline float eval_f_leaf(ctx_t *c, const node_t *n) {
  if (n->op == OP_LOAD_F32) {
    int64_t off;
    float v = 0;
    if (element(c, n, &off)) memcpy(&v, c->bufs[n->slot].data + off * 4, 4);
    return v;
  }
  return n->op == OP_CONST ? n->f : eval_f(c, n);
}

static inline double eval_d_leaf(ctx_t *c, const node_t *n) { return eval_d(c, n); }

/* The operators shared by f32 and f64; T is the type, S the libm suffix (f or nothing). */
#define FLOAT_OPS(T, EVAL, LEAF, S)                                                                              \
  case OP_SELECT: return eval_i(c, n->a) ? EVAL(c, n->b) : EVAL(c, n->c);                                  \
  case OP_ARITH + TCC_KOP_NEG: return -EVAL(c, n->a);                                                      \
  case OP_ARITH + TCC_KOP_ABS: return fabs##S(EVAL(c, n->a));                                               \
  case OP_ARITH + TCC_KOP_SIGN: { T x = EVAL(c, n->a); return x > 0 ? (T)1 : x < 0 ? (T)-1 : x; }           \
  case OP_ARITH + TCC_KOP_SQRT: return sqrt##S(EVAL(c, n->a));                                              \
  case OP_ARITH + TCC_KOP_RSQRT: return (T)1 / sqrt##S(EVAL(c, n->a));                                      \
  case OP_ARITH + TCC_KOP_RECIPROCAL: return (T)1 / EVAL(c, n->a);                                          \
  case OP_ARITH + TCC_KOP_EXP: return exp##S(EVAL(c, n->a));                                                \
  case OP_ARITH + TCC_KOP_LOG: return log##S(EVAL(c, n->a));                                                \
  case OP_ARITH + TCC_KOP_ERF: return erf##S(EVAL(c, n->a));                                                \
  case OP_ARITH + TCC_KOP_TANH: return tanh##S(EVAL(c, n->a));                                              \
  case OP_ARITH + TCC_KOP_SIGMOID: return (T)1 / ((T)1 + exp##S(-EVAL(c, n->a)));                           \
  case OP_ARITH + TCC_KOP_SIN: return sin##S(EVAL(c, n->a));                                                \
  case OP_ARITH + TCC_KOP_COS: return cos##S(EVAL(c, n->a));                                                \
  case OP_ARITH + TCC_KOP_TAN: return tan##S(EVAL(c, n->a));                                                \
  case OP_ARITH + TCC_KOP_ASIN: return asin##S(EVAL(c, n->a));                                              \
  case OP_ARITH + TCC_KOP_ACOS: return acos##S(EVAL(c, n->a));                                              \
  case OP_ARITH + TCC_KOP_ATAN: return atan##S(EVAL(c, n->a));                                              \
  case OP_ARITH + TCC_KOP_SINH: return sinh##S(EVAL(c, n->a));                                              \
  case OP_ARITH + TCC_KOP_COSH: return cosh##S(EVAL(c, n->a));                                              \
  case OP_ARITH + TCC_KOP_ASINH: return asinh##S(EVAL(c, n->a));                                            \
  case OP_ARITH + TCC_KOP_ACOSH: return acosh##S(EVAL(c, n->a));                                            \
  case OP_ARITH + TCC_KOP_ATANH: return atanh##S(EVAL(c, n->a));                                            \
  case OP_ARITH + TCC_KOP_FLOOR: return floor##S(EVAL(c, n->a));                                            \
  case OP_ARITH + TCC_KOP_CEIL: return ceil##S(EVAL(c, n->a));                                              \
  case OP_ARITH + TCC_KOP_ROUND_EVEN: return nearbyint##S(EVAL(c, n->a));                                   \
  case OP_ARITH + TCC_KOP_ADD: { T x = LEAF(c, n->a); return x + LEAF(c, n->b); }                           \
  case OP_ARITH + TCC_KOP_SUB: { T x = LEAF(c, n->a); return x - LEAF(c, n->b); }                           \
  case OP_ARITH + TCC_KOP_MUL: { T x = LEAF(c, n->a); return x * LEAF(c, n->b); }                           \
  case OP_ARITH + TCC_KOP_DIV: { T x = LEAF(c, n->a); return x / LEAF(c, n->b); }                           \
  case OP_ARITH + TCC_KOP_FMOD: { T x = EVAL(c, n->a); return fmod##S(x, EVAL(c, n->b)); }                  \
  case OP_ARITH + TCC_KOP_POW: { T x = EVAL(c, n->a); return pow##S(x, EVAL(c, n->b)); }                    \
  case OP_ARITH + TCC_KOP_MIN: { T x = EVAL(c, n->a), y = EVAL(c, n->b); return x != x || x < y ? x : y; }  \
  case OP_ARITH + TCC_KOP_MAX: { T x = EVAL(c, n->a), y = EVAL(c, n->b); return x != x || x > y ? x : y; }

static float eval_f(ctx_t *c, const node_t *n) {
  int64_t off;
  switch (n->op) {
    case OP_CONST: return n->f;
    case OP_LOAD_F32: {
      float v = 0;
      if (element(c, n, &off)) memcpy(&v, c->bufs[n->slot].data + off * 4, 4);
      return v;
    }
    case OP_LOAD: return element(c, n, &off) ? load_float(&c->bufs[n->slot], off) : 0;
    case OP_CAST_I: {
      int64_t v = eval_i(c, n->a);
      if (n->dt == TCC_DTYPE_F32) return n->a->uns ? (float)(uint64_t)v : (float)v;
      return round_to(n->dt, n->a->uns ? (double)(uint64_t)v : (double)v, n->saturate);
    }
    case OP_CAST_F: {
      float v = eval_f(c, n->a);
      return n->dt == TCC_DTYPE_F32 ? v : round_to(n->dt, v, n->saturate);
    }
    case OP_CAST_D: return round_to(n->dt, eval_d(c, n->a), n->saturate);
    FLOAT_OPS(float, eval_f, eval_f_leaf, f)
    default: return 0;
  }
}

static double eval_d(ctx_t *c, const node_t *n) {
  int64_t off;
  switch (n->op) {
    case OP_CONST: return n->d;
    case OP_LOAD: {
      double v = 0;
      if (element(c, n, &off)) memcpy(&v, c->bufs[n->slot].data + off * 8, 8);
      return v;
    }
    case OP_CAST_I: { int64_t v = eval_i(c, n->a); return n->a->uns ? (double)(uint64_t)v : (double)v; }
    case OP_CAST_F: return eval_f(c, n->a);
    case OP_CAST_D: return eval_d(c, n->a);
    FLOAT_OPS(double, eval_d, eval_d_leaf, )
    default: return 0;
  }
}
#undef FLOAT_OPS

static inline void exec_store(ctx_t *c, const cstmt_t *s) {
  const rtbuf_t *buf = &c->bufs[s->target->slot];
  int64_t off;
  if (!element(c, s->target, &off)) return;
  if (s->cls == CLS_F) {
    float v = eval_f_leaf(c, s->e);
    if (buf->dtype == TCC_DTYPE_F32) memcpy(buf->data + off * 4, &v, 4);
    else store_float(buf, off, v);
  } else if (s->cls == CLS_D) {
    double v = eval_d(c, s->e);
    memcpy(buf->data + off * 8, &v, 8);
  } else {
    store_int(buf, off, eval_i(c, s->e));
  }
}

static void exec_block(ctx_t *c, const cblock_t *b);

static inline void eval_hoists(ctx_t *c, const hoists_t *h) {
  for (const hoist_t *x = h->first; x; x = x->next) c->vars[x->slot] = eval_i(c, x->e);
}

static void exec_loop(ctx_t *c, const cstmt_t *s, int64_t extent) {
  const cstmt_t *only = s->body.count == 1 && s->body.stmts[0].kind == TCC_KSTMT_STORE ? s->body.stmts : NULL;
  for (int64_t v = 0; v < extent && !c->st; v++) {
    c->vars[s->var] = v;
    eval_hoists(c, &s->hoists);
    if (only) exec_store(c, only); /* the innermost loop of most kernels */
    else exec_block(c, &s->body);
  }
}

/* On entry of an innermost loop (extent > 0, no error yet): evaluates the invariant parts of its affine
 * accesses at v = 0 and proves their indices in range for v in [0, extent). False (nothing recorded) when
 * that fails; the loop then runs the plain path. */
static bool enter_inner(ctx_t *c, const inner_t *in, int64_t extent) {
  bool ok = true;
  c->vars[in->var] = 0;
  for (affine_t *a = in->accesses; a && ok; a = a->next) {
    const rtbuf_t *b = &c->bufs[a->node->slot];
    int64_t off = 0;
    for (int k = 0; k < b->rank && ok; k++) {
      int64_t first = index_value(c, a->node->idx[k]), span, last;
      ok = !__builtin_mul_overflow(a->coef[k], extent - 1, &span) && !__builtin_add_overflow(first, span, &last) &&
           (uint64_t)first < (uint64_t)b->dims[k] && (uint64_t)last < (uint64_t)b->dims[k];
      if (ok) off += first * b->strides[k];
    }
    a->base = off;
  }
  if (c->st) { /* an invariant part failed where the program may never evaluate it */
    tcc_status_free(c->st);
    c->st = NULL;
    ok = false;
  }
  return ok;
}

/* Whether the 4 bytes at t overlap the f32 elements p, p + step, ... (n of them, steps in bytes). */
static bool overlaps(const char *t, const char *p, int64_t step, int64_t n) {
  uintptr_t lo = (uintptr_t)p, hi = (uintptr_t)p + (uintptr_t)(step * (n - 1));
  if (step < 0) lo = hi, hi = (uintptr_t)p;
  return (uintptr_t)t + 4 > lo && (uintptr_t)t < hi + 4;
}

/* The f32 reduction of an innermost loop (inner_t) as a tight loop, in the program's order of operations
 * (an f32 multiply, then an f32 add: ISO C mode does not contract them). False when t overlaps x or y. */
static bool exec_reduction(ctx_t *c, const inner_t *in, int64_t n) {
  if (in->t->base != in->t_load->base) return false;
  char *t = c->bufs[in->t->node->slot].data + in->t->base * 4;
  const char *x = c->bufs[in->x->node->slot].data + in->x->base * 4;
  const char *y = in->y ? c->bufs[in->y->node->slot].data + in->y->base * 4 : NULL;
  int64_t xs = in->x->step * 4, ys = in->y ? in->y->step * 4 : 0;
  if (overlaps(t, x, xs, n) || (y && overlaps(t, y, ys, n))) return false;
  float acc, a, b;
  memcpy(&acc, t, 4);
  if (y) {
    for (int64_t i = 0; i < n; i++) {
      memcpy(&a, x + i * xs, 4);
      memcpy(&b, y + i * ys, 4);
      acc = acc + a * b;
    }
  } else {
    for (int64_t i = 0; i < n; i++) {
      memcpy(&a, x + i * xs, 4);
      acc = acc + a;
    }
  }
  memcpy(t, &acc, 4);
  c->vars[in->var] = n - 1;
  return true;
}

static void exec_block(ctx_t *c, const cblock_t *b) {
  for (size_t i = 0; i < b->count && !c->st; i++) {
    const cstmt_t *s = &b->stmts[i];
    switch (s->kind) {
      case TCC_KSTMT_FOR: {
        int64_t extent = eval_i(c, s->e);
        if (!s->inner || s->hoists.first || extent <= 0 || c->st || !enter_inner(c, s->inner, extent)) {
          exec_loop(c, s, extent);
        } else if (!s->inner->t || !exec_reduction(c, s->inner, extent)) {
          c->affine_on = true;
          exec_loop(c, s, extent);
          c->affine_on = false;
        }
        break;
      }
      case TCC_KSTMT_STORE: exec_store(c, s); break;
      case TCC_KSTMT_IF: exec_block(c, eval_i(c, s->e) ? &s->body : &s->orelse); break;
      case TCC_KSTMT_ALLOC: {
        rtbuf_t *buf = &c->bufs[s->var];
        if (!buf->data && buf->bytes > 0 && !(buf->data = malloc((size_t)buf->bytes))) {
          set_error(c, tcc_status_oom());
          break;
        }
        if (buf->bytes > 0) memset(buf->data, 0, (size_t)buf->bytes);
        break;
      }
      case TCC_KSTMT_BARRIER: break;
      case TCC_KSTMT_CALL:
        set_error(c, tcc_status_make(TCC_UNSUPPORTED, "kernel '%s': extern '%s' is not available in the evaluator",
                                     c->k->name, s->src->callee));
        break;
      default: break;
    }
  }
}

tcc_status_t tcc_kernel_eval(const tcc_kernel_t *k, void *const *buffers, tcc_dim_lookup_fn_t lookup, void *ctx) {
  TCC_RETURN_IF_ERROR(tcc_kernel_verify(k));
  ctx_t c = {.k = k, .lookup = lookup ? lookup : lookup_none, .lookup_ctx = ctx};
  tcc_arena_init(&c.arena, tcc_allocator_system());
  c.bufs = tcc_arena_calloc(&c.arena, (size_t)k->next_id + 1, sizeof *c.bufs);
  c.written = tcc_arena_calloc(&c.arena, (size_t)k->next_id + 1, sizeof *c.written);
  c.var_depth = tcc_arena_calloc(&c.arena, (size_t)k->next_id + 1, sizeof *c.var_depth);
  tcc_status_t st = c.bufs && c.written && c.var_depth ? NULL : tcc_status_oom();
  for (int i = 0; i < k->num_params && !st; i++) st = setup_buffer(&c, k->params[i], buffers ? buffers[i] : NULL);
  for (int i = 0; i < k->num_locals && !st; i++) st = setup_buffer(&c, k->locals[i], NULL);
  cblock_t body = {0};
  if (!st) st = compile_block(&c, &k->body, 0, &body);
  if (!st && !(c.vars = tcc_arena_calloc(&c.arena, (size_t)k->next_id + c.num_slots + 1, sizeof *c.vars)))
    st = tcc_status_oom();
  if (!st) {
    eval_hoists(&c, &c.top);
    exec_block(&c, &body);
    st = c.st;
  }
  for (int i = 0; c.bufs && i < k->num_locals; i++)
    if (k->locals[i]->id < k->next_id && c.bufs[k->locals[i]->id].owned) free(c.bufs[k->locals[i]->id].data);
  tcc_arena_deinit(&c.arena);
  return st;
}
