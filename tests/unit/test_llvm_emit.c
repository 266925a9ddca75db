/* The LLVM emitter (codegen/llvm_emit.h) against the reference evaluator, without ../shared: every scalar
 * operator over every dtype the verifier accepts, every cast between numeric dtypes (saturating or not),
 * on random bits and special values, JIT-compiled for the host, as PARALLEL loops run on a real thread pool
 * and again as VECTORIZED loops (sizes that leave a remainder); run-time sizes through syms; the error
 * bits (division by zero, bounds checks), also from inside parallel bodies; lazy selects; temporaries on
 * the stack and on the heap, shared or private to parallel chunks; objects for every CPU target (AArch64
 * cross-compiled). */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "codegen/llvm_emit.h"
#include "codegen/schedule_cpu.h"
#include "codegen/target.h"
#include "ir/kernel_eval.h"
#include "tcc/runtime.h"
#include "tests/jit.h"
#include "tests/kernel_ctx.h"
#include "tests/test.h"

enum { N = 101 }; /* not a multiple of any vector width */

/* A kernel context over a real pool of 2 threads (created once). */
static tcc_module_kernel_ctx_t pool_ctx(const int64_t *syms) {
  static tcc_rt_pool_t *pool;
  if (!pool) CHECK_OK(tcc_rt_pool_create(2, NULL, &pool));
  return tcc_test_pool_ctx(pool, 2, syms);
}

/* Emitter options of the JIT tests: the host's vectors; parallel chunks of any size. */
static const tcc_llvm_emit_options_t JIT_OPTIONS = {.target = "native", .parallel_min_work = 1};

/* The loop kind of the kernels elementwise() builds, and the options run_cases emits them with. */
static tcc_kloop_kind_t elementwise_kind = TCC_KLOOP_PARALLEL;
static const tcc_llvm_emit_options_t *case_options = &JIT_OPTIONS;

static const tcc_dtype_t DTYPES[] = {
    TCC_DTYPE_F32, TCC_DTYPE_F64, TCC_DTYPE_F16, TCC_DTYPE_BF16, TCC_DTYPE_F8E4M3FN, TCC_DTYPE_F8E4M3FNUZ,
    TCC_DTYPE_F8E5M2, TCC_DTYPE_F8E5M2FNUZ, TCC_DTYPE_F4E2M1, TCC_DTYPE_F8E8M0, TCC_DTYPE_I4, TCC_DTYPE_U4,
    TCC_DTYPE_I8, TCC_DTYPE_U8, TCC_DTYPE_I16, TCC_DTYPE_U16, TCC_DTYPE_I32, TCC_DTYPE_U32, TCC_DTYPE_I64,
    TCC_DTYPE_U64, TCC_DTYPE_BOOL};
enum { NUM_DTYPES = sizeof DTYPES / sizeof DTYPES[0] };

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_random(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

/* Fills n elements of dt: random bits, with special values mixed in for floats. */
static void fill(void *p, tcc_dtype_t dt, int64_t n) {
  int64_t bytes = tcc_dtype_storage_bytes(dt, n);
  unsigned char *b = p;
  for (int64_t i = 0; i < bytes; i++) b[i] = (unsigned char)next_random();
  if (dt == TCC_DTYPE_BOOL)
    for (int64_t i = 0; i < n; i++) b[i] &= 1;
  if (dt == TCC_DTYPE_F32) {
    static const float special[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1.0f, -1.0f, 0.5f, 2.5f, -3.5f, 1e-40f,
                                    65504.0f, 65520.0f, 448.0f, 1e30f, -7.0f, 3.0f};
    float *f = p;
    for (int64_t i = 0; i < n; i++)
      if (i % 3 == 0) f[i] = special[(i / 3) % (sizeof special / sizeof special[0])];
      else if (i % 3 == 1) f[i] = (float)((int64_t)(next_random() % 2000) - 1000) / 64.0f;
  }
  if (dt == TCC_DTYPE_F64) {
    double *f = p;
    for (int64_t i = 0; i < n; i++)
      if (i % 2 == 0) f[i] = (double)((int64_t)(next_random() % 200000) - 100000) / 1024.0 + (i % 4 ? 1e-9 : 0);
    f[4] = NAN, f[6] = -INFINITY, f[8] = 0x1p60 + 1, f[10] = -0.0, f[12] = 65519.99, f[14] = 1e300;
  }
}

static bool same(const void *a, const void *b, tcc_dtype_t dt, int64_t n) {
  int bits = tcc_dtype_bits(dt);
  if (dt == TCC_DTYPE_F32 || dt == TCC_DTYPE_F64) {
    for (int64_t i = 0; i < n; i++) {
      uint64_t x = 0, y = 0;
      memcpy(&x, (const char *)a + i * bits / 8, (size_t)bits / 8);
      memcpy(&y, (const char *)b + i * bits / 8, (size_t)bits / 8);
      bool xn = dt == TCC_DTYPE_F32 ? (x & 0x7fffffff) > 0x7f800000 : (x & ~(1ull << 63)) > 0x7ff0000000000000ull;
      bool yn = dt == TCC_DTYPE_F32 ? (y & 0x7fffffff) > 0x7f800000 : (y & ~(1ull << 63)) > 0x7ff0000000000000ull;
      if (x != y && !(xn && yn)) return false;
    }
    return true;
  }
  return memcmp(a, b, (size_t)tcc_dtype_storage_bytes(dt, n)) == 0;
}

static bool lookup_rc(void *ctx, const char *symbol, int64_t *value) {
  if (strcmp(symbol, "r") != 0 && strcmp(symbol, "c") != 0) return false;
  *value = symbol[0] == 'r' ? 37 : 45;
  return true;
}

static bool lookup_n(void *ctx, const char *symbol, int64_t *value) {
  if (strcmp(symbol, "n") != 0) return false;
  *value = N;
  return true;
}

/* Starts a JIT of the tests' emitter, with options o. */
static void jit_begin(tcc_test_jit_t *j, const tcc_llvm_emit_options_t *o) {
  CHECK_OK(tcc_test_jit_begin(j, "unit", o));
}

/* Compiles what was emitted for the host; false (reported) on an error. */
static bool jit_end_emission(tcc_test_jit_t *j) { return tcc_test_jit_ok(tcc_test_jit_finish(j, "native"), "jit"); }

/* The packed entry point of kernel sym, NULL (reported) when missing. */
static tcc_module_kernel_fn_t jit_lookup(tcc_test_jit_t *j, const char *sym) {
  tcc_module_kernel_fn_t fn = NULL;
  tcc_test_jit_ok(tcc_test_jit_lookup(j, sym, &fn), "jit");
  return fn;
}

/* Runs kernels (each with `arity` inputs and one output of n elements) through the evaluator and the JIT. */
typedef struct {
  tcc_kernel_t *k;
  const char *sym;
  void *bufs[4], *got;
  bool eval_ok;
} case_t;

static int run_cases(case_t *cases, int n, int arity, int *compared) {
  tcc_test_jit_t j;
  jit_begin(&j, case_options);
  for (int i = 0; i < n; i++) CHECK_OK(tcc_llvm_emit_kernel(j.emitter, cases[i].k, &cases[i].sym));
  int bad = 0;
  if (!jit_end_emission(&j)) {
    tcc_test_jit_free(&j);
    CHECK(false);
    return 1;
  }
  int nsym = tcc_llvm_emitter_num_symbols(j.emitter);
  int64_t syms[4] = {N, N, N, N};
  CHECK(nsym <= 1);
  for (int i = 0; i < n; i++) {
    case_t *c = &cases[i];
    if (!c->eval_ok || !c->sym) continue;
    tcc_module_kernel_fn_t fn = jit_lookup(&j, c->sym);
    CHECK(fn != NULL);
    if (!fn) continue;
    void *params[4];
    for (int p = 0; p < arity; p++) params[p] = c->bufs[p];
    params[arity] = c->got;
    tcc_module_kernel_ctx_t kctx = pool_ctx(syms);
    int32_t rc = fn(params, &kctx);
    const tcc_kbuf_t *out = c->k->params[arity];
    (*compared)++;
    if (rc != 0 || !same(c->bufs[arity], c->got, out->dtype, N)) {
      if (bad++ < 10) {
        fprintf(stderr, "mismatch: kernel %s (rc %d)\n", c->k->name, rc);
        CHECK(tcc_kernel_print(c->k, stderr) == NULL);
      }
    }
  }
  tcc_test_jit_free(&j);
  return bad;
}

static tcc_kernel_t *elementwise(tcc_module_t *m, const char *name, tcc_dtype_t in, tcc_dtype_t out, int arity,
                                 const tcc_kexpr_t *(*body)(tcc_kernel_t *, const tcc_kexpr_t *, const tcc_kexpr_t *, void *),
                                 void *ctx) {
  const tcc_dim_t *dims[1] = {tcc_dim_symbol(m, "n")};
  tcc_kernel_t *k = tcc_kernel_create(m, name);
  tcc_kbuf_t *x[3] = {NULL, NULL, NULL};
  for (int i = 0; i < arity; i++) {
    char pname[16];
    snprintf(pname, sizeof pname, "x%d", i);
    x[i] = tcc_kernel_add_param(k, tcc_module_strdup(m, pname), TCC_KBUF_INPUT, in, 1, dims);
  }
  tcc_kbuf_t *y = tcc_kernel_add_param(k, "y", TCC_KBUF_OUTPUT, out, 1, dims);
  const tcc_kvar_t *i;
  /* parallel chunks must not share bytes: 4-bit outputs stay serial, as the schedule keeps them */
  tcc_kloop_kind_t kind = elementwise_kind == TCC_KLOOP_PARALLEL && tcc_dtype_bits(out) < 8 ? TCC_KLOOP_SERIAL : elementwise_kind;
  tcc_kblock_t *b = tcc_k_for(k, tcc_kernel_body(k), "i", tcc_k_dim(k, dims[0]), kind, &i);
  const tcc_kexpr_t *ix[1] = {tcc_k_var(k, i)};
  const tcc_kexpr_t *a = tcc_k_load(k, x[0], ix), *c = arity > 1 ? tcc_k_load(k, x[1], ix) : NULL;
  tcc_k_store(k, b, y, ix, body(k, a, c, ctx));
  return k;
}

static const tcc_kexpr_t *op_body(tcc_kernel_t *k, const tcc_kexpr_t *a, const tcc_kexpr_t *b, void *ctx) {
  tcc_kop_t op = (tcc_kop_t)(intptr_t)ctx;
  return b ? tcc_k_binary(k, op, a, b) : tcc_k_unary(k, op, a);
}

typedef struct {
  tcc_dtype_t to;
  bool saturate;
} cast_t;

static const tcc_kexpr_t *cast_body(tcc_kernel_t *k, const tcc_kexpr_t *a, const tcc_kexpr_t *b, void *ctx) {
  const cast_t *c = ctx;
  return tcc_k_cast(k, c->to, a, c->saturate);
}

/* Prepares buffers and the evaluator's result for a case whose kernel verifies; false otherwise. */
static bool prepare(case_t *c, tcc_kernel_t *k, int arity, bool nonzero_divisor) {
  tcc_status_t st = k ? tcc_kernel_verify(k) : tcc_status_oom();
  if (st) {
    tcc_status_free(st);
    return false;
  }
  c->k = k;
  for (int p = 0; p <= arity; p++) {
    tcc_dtype_t dt = k->params[p]->dtype;
    size_t bytes = (size_t)tcc_dtype_storage_bytes(dt, N) + 8;
    c->bufs[p] = calloc(1, bytes);
    if (p < arity) fill(c->bufs[p], dt, N);
  }
  c->got = calloc(1, (size_t)tcc_dtype_storage_bytes(k->params[arity]->dtype, N) + 8);
  if (nonzero_divisor) { /* integer division by zero stops the evaluator; tested separately */
    tcc_dtype_t dt = k->params[1]->dtype;
    for (int64_t i = 0; i < tcc_dtype_storage_bytes(dt, N); i++)
      if (((unsigned char *)c->bufs[1])[i] == 0) ((unsigned char *)c->bufs[1])[i] = 3;
    if (dt == TCC_DTYPE_I4 || dt == TCC_DTYPE_U4)
      for (int64_t i = 0; i < tcc_dtype_storage_bytes(dt, N); i++) {
        unsigned char *q = (unsigned char *)c->bufs[1] + i;
        if ((*q & 15) == 0) *q |= 1;
        if ((*q >> 4) == 0) *q |= 0x10;
      }
  }
  st = tcc_kernel_eval(k, c->bufs, lookup_n, NULL);
  c->eval_ok = st == NULL;
  tcc_status_free(st);
  return true;
}

static void free_cases(case_t *cases, int n) {
  for (int i = 0; i < n; i++) {
    for (int p = 0; p < 4; p++) free(cases[i].bufs[p]);
    free(cases[i].got);
  }
  free(cases);
}

static void check_every_operator(void) {
  tcc_module_t *m;
  CHECK_OK(tcc_module_create(tcc_allocator_system(), &m));
  case_t *cases = calloc((size_t)TCC_KOP_COUNT * NUM_DTYPES + 1, sizeof *cases);
  int ncases[2] = {0, 0}, compared = 0, bad = 0;
  for (int arity = 1; arity <= 2; arity++) {
    int n = 0;
    for (int op = 0; op < TCC_KOP_COUNT; op++) {
      if (tcc_kop_is_unary((tcc_kop_t)op) != (arity == 1)) continue;
      for (int d = 0; d < NUM_DTYPES; d++) {
        tcc_dtype_t dt = DTYPES[d];
        tcc_dtype_t out = tcc_kop_is_comparison((tcc_kop_t)op) || op == TCC_KOP_IS_NAN || op == TCC_KOP_IS_INF ||
                                  op == TCC_KOP_NOT ? TCC_DTYPE_BOOL : dt;
        char name[64];
        snprintf(name, sizeof name, "%s_%s", tcc_kop_name((tcc_kop_t)op), tcc_dtype_name(dt));
        tcc_kernel_t *k = elementwise(m, tcc_module_strdup(m, name), dt, out, arity, op_body, (void *)(intptr_t)op);
        bool division = op == TCC_KOP_DIV || op == TCC_KOP_FMOD || op == TCC_KOP_FLOORDIV || op == TCC_KOP_FLOORMOD;
        if (prepare(&cases[n], k, arity, arity == 2 && division && !tcc_dtype_is_float(dt))) n++;
      }
    }
    ncases[arity - 1] = n;
    bad += run_cases(cases, n, arity, &compared);
    free_cases(cases, n);
    cases = calloc((size_t)TCC_KOP_COUNT * NUM_DTYPES + 1, sizeof *cases);
  }
  free(cases);
  printf("operators: %d unary and %d binary kernels verified, %d compared, %d mismatches\n", ncases[0], ncases[1],
         compared, bad);
  CHECK(ncases[0] > 60 && ncases[1] > 150);
  CHECK(compared > 200);
  CHECK(bad == 0);
  tcc_module_destroy(m);
}

static void check_every_cast(void) {
  tcc_module_t *m;
  CHECK_OK(tcc_module_create(tcc_allocator_system(), &m));
  case_t *cases = calloc(2 * NUM_DTYPES * NUM_DTYPES + 1, sizeof *cases);
  cast_t *how = calloc(2 * NUM_DTYPES * NUM_DTYPES + 1, sizeof *how);
  int n = 0, compared = 0;
  for (int s = 0; s < 2; s++)
    for (int a = 0; a < NUM_DTYPES; a++)
      for (int b = 0; b < NUM_DTYPES; b++) {
        how[n] = (cast_t){DTYPES[b], s == 1};
        char name[64];
        snprintf(name, sizeof name, "cast_%s_%s%s", tcc_dtype_name(DTYPES[a]), tcc_dtype_name(DTYPES[b]), s ? "_sat" : "");
        tcc_kernel_t *k = elementwise(m, tcc_module_strdup(m, name), DTYPES[a], DTYPES[b], 1, cast_body, &how[n]);
        if (prepare(&cases[n], k, 1, false)) n++;
      }
  int bad = run_cases(cases, n, 1, &compared);
  printf("casts: %d kernels, %d compared, %d mismatches\n", n, compared, bad);
  CHECK(n == 2 * NUM_DTYPES * NUM_DTYPES);
  CHECK(bad == 0);
  free_cases(cases, n);
  free(how);
  tcc_module_destroy(m);
}

TEST(every_operator_and_dtype_matches_the_evaluator) {
  elementwise_kind = TCC_KLOOP_PARALLEL;
  check_every_operator();
}

TEST(every_cast_matches_the_evaluator) {
  elementwise_kind = TCC_KLOOP_PARALLEL;
  check_every_cast();
}

/* The PARALLEL loops above are innermost, so their chunks already run with the host's vectors. The
 * operators again as VECTORIZED loops of the kernel itself, 4 lanes: vector memory operations, lane-by-lane
 * libm calls and divisions, and a scalar remainder (N is not a multiple of the lanes). */
TEST(vectorized_operators_match_the_evaluator) {
  static const tcc_llvm_emit_options_t four = {.vector_lanes = 4};
  elementwise_kind = TCC_KLOOP_VECTORIZED, case_options = &four;
  check_every_operator();
  elementwise_kind = TCC_KLOOP_PARALLEL, case_options = &JIT_OPTIONS;
}

/* y[i, j] = x[i, j] / d[j] (i32) over symbolic [r, c]: rows PARALLEL on the pool, columns VECTORIZED;
 * zero divisors inside the parallel bodies give DIV_ZERO with every other element computed. Also a shared
 * temporary (written by one loop, read by a parallel one) and a private one (allocated inside). */
TEST(parallel_bodies_report_errors_and_share_temporaries) {
  tcc_module_t *m;
  CHECK_OK(tcc_module_create(tcc_allocator_system(), &m));
  const tcc_dim_t *r = tcc_dim_symbol(m, "r"), *c = tcc_dim_symbol(m, "c");
  const tcc_dim_t *drc[2] = {r, c}, *dc[1] = {c}, *d1[1] = {tcc_dim_const(m, 1)};
  tcc_kernel_t *k = tcc_kernel_create(m, "pdiv");
  tcc_kbuf_t *x = tcc_kernel_add_param(k, "x", TCC_KBUF_INPUT, TCC_DTYPE_I32, 2, drc);
  tcc_kbuf_t *d = tcc_kernel_add_param(k, "d", TCC_KBUF_INPUT, TCC_DTYPE_I32, 1, dc);
  tcc_kbuf_t *y = tcc_kernel_add_param(k, "y", TCC_KBUF_OUTPUT, TCC_DTYPE_I32, 2, drc);
  tcc_kbuf_t *z = tcc_kernel_add_param(k, "z", TCC_KBUF_OUTPUT, TCC_DTYPE_I32, 2, drc);
  tcc_kbuf_t *shared = tcc_kernel_add_local(k, "shared", TCC_KBUF_LOCAL, TCC_DTYPE_I32, 1, dc);
  tcc_kbuf_t *priv = tcc_kernel_add_local(k, "priv", TCC_KBUF_REGISTER, TCC_DTYPE_I32, 1, d1);
  tcc_kblock_t *body = tcc_kernel_body(k);
  tcc_k_alloc(k, body, shared);
  const tcc_kvar_t *i, *j, *t;
  tcc_kblock_t *b = tcc_k_for(k, body, "t", tcc_k_dim(k, c), TCC_KLOOP_VECTORIZED, &t);
  const tcc_kexpr_t *tx[1] = {tcc_k_var(k, t)}, *z0[1] = {tcc_k_int(k, 0)};
  tcc_k_store(k, b, shared, tx, tcc_k_binary(k, TCC_KOP_MUL, tcc_k_load(k, d, tx), tcc_k_const(k, TCC_DTYPE_I32, 3)));
  b = tcc_k_for(k, body, "i", tcc_k_dim(k, r), TCC_KLOOP_PARALLEL, &i);
  tcc_k_alloc(k, b, priv);
  tcc_k_store(k, b, priv, z0, tcc_k_cast(k, TCC_DTYPE_I32, tcc_k_var(k, i), false));
  tcc_kblock_t *inner = tcc_k_for(k, b, "j", tcc_k_dim(k, c), TCC_KLOOP_VECTORIZED, &j);
  const tcc_kexpr_t *ij[2] = {tcc_k_var(k, i), tcc_k_var(k, j)}, *jx[1] = {tcc_k_var(k, j)};
  tcc_k_store(k, inner, y, ij, tcc_k_binary(k, TCC_KOP_DIV, tcc_k_load(k, x, ij), tcc_k_load(k, d, jx)));
  tcc_k_store(k, inner, z, ij, tcc_k_binary(k, TCC_KOP_ADD, tcc_k_load(k, shared, jx), tcc_k_load(k, priv, z0)));
  CHECK_OK(tcc_kernel_verify(k));
  CHECK(tcc_schedule_loop_vectorizable(b->stmts[b->count - 1]));

  enum { R = 37, C = 45 };
  static int32_t xs[R * C], ds[C], ys[R * C], zs[R * C];
  for (int a = 0; a < R * C; a++) xs[a] = (int32_t)(next_random() % 20001) - 10000;
  for (int a = 0; a < C; a++) {
    ds[a] = (int32_t)(next_random() % 13) - 6;
    if (a % 11 == 5) ds[a] = 0;
    else if (ds[a] == 0) ds[a] = 7;
  }
  tcc_test_jit_t jt;
  jit_begin(&jt, &JIT_OPTIONS);
  const char *sym;
  CHECK_OK(tcc_llvm_emit_kernel(jt.emitter, k, &sym));
  CHECK(jit_end_emission(&jt));
  int64_t syms[2] = {0, 0};
  for (int s = 0; s < tcc_llvm_emitter_num_symbols(jt.emitter); s++)
    syms[s] = strcmp(tcc_llvm_emitter_symbol(jt.emitter, s), "r") == 0 ? R : C;
  tcc_module_kernel_fn_t f = jit_lookup(&jt, sym);
  void *params[4] = {xs, ds, ys, zs};
  tcc_module_kernel_ctx_t kctx = pool_ctx(syms);
  CHECK(f && f(params, &kctx) == TCC_KERNEL_ERR_DIV_ZERO);
  int bad = 0;
  for (int a = 0; a < R * C; a++) {
    int32_t dv = ds[a % C];
    if (ys[a] != (dv ? xs[a] / dv : 0) || zs[a] != dv * 3 + a / C) bad++;
  }
  CHECK(bad == 0);
  /* no zero divisor: 0, and the same results as the evaluator */
  for (int a = 0; a < C; a++) ds[a] = ds[a] ? ds[a] : 1;
  static int32_t ry[R * C], rz[R * C];
  void *ref[4] = {xs, ds, ry, rz};
  syms[0] = R, syms[1] = C;
  CHECK_OK(tcc_kernel_eval(k, ref, lookup_rc, NULL));
  for (int s = 0; s < tcc_llvm_emitter_num_symbols(jt.emitter); s++)
    syms[s] = strcmp(tcc_llvm_emitter_symbol(jt.emitter, s), "r") == 0 ? R : C;
  CHECK(f && f(params, &kctx) == 0);
  CHECK(memcmp(ry, ys, sizeof ys) == 0 && memcmp(rz, zs, sizeof zs) == 0);
  tcc_test_jit_free(&jt);
  tcc_module_destroy(m);
}

/* y[i] = x[i] / d[i] over i32, and (bounds checked) z[i] = x[i + 1] guarded or not by a select. */
TEST(errors_are_returned_and_selects_are_lazy) {
  tcc_module_t *m;
  CHECK_OK(tcc_module_create(tcc_allocator_system(), &m));
  const tcc_dim_t *dims[1] = {tcc_dim_const(m, 8)};
  tcc_kernel_t *div = tcc_kernel_create(m, "div");
  tcc_kbuf_t *x = tcc_kernel_add_param(div, "x", TCC_KBUF_INPUT, TCC_DTYPE_I32, 1, dims);
  tcc_kbuf_t *d = tcc_kernel_add_param(div, "d", TCC_KBUF_INPUT, TCC_DTYPE_I32, 1, dims);
  tcc_kbuf_t *y = tcc_kernel_add_param(div, "y", TCC_KBUF_OUTPUT, TCC_DTYPE_I32, 1, dims);
  const tcc_kvar_t *i;
  tcc_kblock_t *b = tcc_k_for(div, tcc_kernel_body(div), "i", tcc_k_int(div, 8), TCC_KLOOP_SERIAL, &i);
  const tcc_kexpr_t *ix[1] = {tcc_k_var(div, i)};
  tcc_k_store(div, b, y, ix, tcc_k_binary(div, TCC_KOP_DIV, tcc_k_load(div, x, ix), tcc_k_load(div, d, ix)));

  /* shift[i] = i + 1 < 8 ? x[i + 1] : -1 (lazy), and bad[i] = x[i + 1] (out of range at i = 7) */
  tcc_kernel_t *ks[2];
  for (int v = 0; v < 2; v++) {
    tcc_kernel_t *k = ks[v] = tcc_kernel_create(m, v ? "bad" : "shift");
    tcc_kbuf_t *kx = tcc_kernel_add_param(k, "x", TCC_KBUF_INPUT, TCC_DTYPE_I32, 1, dims);
    tcc_kbuf_t *ky = tcc_kernel_add_param(k, "y", TCC_KBUF_OUTPUT, TCC_DTYPE_I32, 1, dims);
    const tcc_kvar_t *j;
    tcc_kblock_t *kb = tcc_k_for(k, tcc_kernel_body(k), "j", tcc_k_int(k, 8), TCC_KLOOP_SERIAL, &j);
    const tcc_kexpr_t *jx[1] = {tcc_k_var(k, j)};
    const tcc_kexpr_t *j1[1] = {tcc_k_binary(k, TCC_KOP_ADD, tcc_k_var(k, j), tcc_k_int(k, 1))};
    const tcc_kexpr_t *val = tcc_k_load(k, kx, j1);
    if (!v) val = tcc_k_select(k, tcc_k_binary(k, TCC_KOP_LT, j1[0], tcc_k_int(k, 8)), val, tcc_k_const(k, TCC_DTYPE_I32, -1));
    tcc_k_store(k, kb, ky, jx, val);
  }
  tcc_test_jit_t j;
  tcc_llvm_emit_options_t o = {.bounds_check = true};
  jit_begin(&j, &o);
  const char *s_div, *s_shift, *s_bad;
  CHECK_OK(tcc_llvm_emit_kernel(j.emitter, div, &s_div));
  CHECK_OK(tcc_llvm_emit_kernel(j.emitter, ks[0], &s_shift));
  CHECK_OK(tcc_llvm_emit_kernel(j.emitter, ks[1], &s_bad));
  CHECK(jit_end_emission(&j));
  int32_t xs[8] = {7, -7, 9, INT32_MIN, 5, 6, 7, 8}, ds[8] = {2, 2, 0, -1, 1, 1, 1, 1}, ys[8];
  void *p3[3] = {xs, ds, ys};
  tcc_module_kernel_ctx_t kctx = tcc_test_kernel_ctx(NULL);
  tcc_module_kernel_fn_t f = jit_lookup(&j, s_div);
  CHECK(f && f(p3, &kctx) == TCC_KERNEL_ERR_DIV_ZERO);
  CHECK(ys[0] == 3 && ys[1] == -3 && ys[2] == 0 && ys[3] == INT32_MIN);
  void *p2[2] = {xs, ys};
  f = jit_lookup(&j, s_shift);
  CHECK(f && f(p2, &kctx) == 0);
  CHECK(ys[0] == -7 && ys[6] == 8 && ys[7] == -1);
  f = jit_lookup(&j, s_bad);
  CHECK(f && f(p2, &kctx) == TCC_KERNEL_ERR_BOUNDS);
  CHECK(ys[6] == 8);
  tcc_test_jit_free(&j);
  tcc_module_destroy(m);
}

/* Temporaries (a small one on the stack, a symbolic-size one on the heap), IF/else, nested loops, a dim
 * expression (2*n + 1)//3 evaluated at run time. */
TEST(temporaries_ifs_and_symbolic_sizes) {
  tcc_module_t *m;
  CHECK_OK(tcc_module_create(tcc_allocator_system(), &m));
  const tcc_dim_t *n = tcc_dim_symbol(m, "n");
  const tcc_dim_t *q = tcc_dim_floordiv(m, tcc_dim_add(m, tcc_dim_mul(m, n, tcc_dim_const(m, 2)), tcc_dim_const(m, 1)), 3);
  const tcc_dim_t *dn[1] = {n}, *dq[1] = {q}, *d4[1] = {tcc_dim_const(m, 4)};
  tcc_kernel_t *k = tcc_kernel_create(m, "temps");
  tcc_kbuf_t *x = tcc_kernel_add_param(k, "x", TCC_KBUF_INPUT, TCC_DTYPE_F32, 1, dn);
  tcc_kbuf_t *y = tcc_kernel_add_param(k, "y", TCC_KBUF_OUTPUT, TCC_DTYPE_F32, 1, dq);
  tcc_kbuf_t *small = tcc_kernel_add_local(k, "small", TCC_KBUF_REGISTER, TCC_DTYPE_F32, 1, d4);
  tcc_kbuf_t *big = tcc_kernel_add_local(k, "big", TCC_KBUF_LOCAL, TCC_DTYPE_F16, 1, dn);
  tcc_kblock_t *body = tcc_kernel_body(k);
  tcc_k_alloc(k, body, big);
  const tcc_kvar_t *i, *j, *t;
  tcc_kblock_t *b = tcc_k_for(k, body, "i", tcc_k_dim(k, n), TCC_KLOOP_VECTORIZED, &i);
  const tcc_kexpr_t *ix[1] = {tcc_k_var(k, i)};
  tcc_k_store(k, b, big, ix, tcc_k_cast(k, TCC_DTYPE_F16, tcc_k_load(k, x, ix), false));
  b = tcc_k_for(k, body, "j", tcc_k_dim(k, q), TCC_KLOOP_PARALLEL, &j);
  tcc_k_alloc(k, b, small);
  tcc_kblock_t *inner = tcc_k_for(k, b, "t", tcc_k_int(k, 4), TCC_KLOOP_UNROLLED, &t);
  const tcc_kexpr_t *tx[1] = {tcc_k_var(k, t)}, *jx[1] = {tcc_k_var(k, j)}, *z[1] = {tcc_k_int(k, 0)};
  tcc_kblock_t *orelse;
  tcc_kblock_t *then = tcc_k_if(k, inner, tcc_k_binary(k, TCC_KOP_LT, tcc_k_var(k, j), tcc_k_var(k, t)), &orelse);
  tcc_k_store(k, then, small, z, tcc_k_binary(k, TCC_KOP_ADD, tcc_k_load(k, small, z), tcc_k_cast(k, TCC_DTYPE_F32, tcc_k_load(k, big, jx), false)));
  tcc_k_store(k, orelse, small, tx, tcc_k_const(k, TCC_DTYPE_F32, 0.1));
  tcc_k_store(k, b, y, jx, tcc_k_binary(k, TCC_KOP_MUL, tcc_k_load(k, small, z), tcc_k_load(k, small, (const tcc_kexpr_t *[]){tcc_k_int(k, 3)})));
  CHECK_OK(tcc_kernel_verify(k));
  float xs[N], ref[N], got[N];
  fill(xs, TCC_DTYPE_F32, N);
  for (int a = 0; a < N; a++) xs[a] = isfinite(xs[a]) ? xs[a] : 1.5f;
  void *bufs[2] = {xs, ref};
  CHECK_OK(tcc_kernel_eval(k, bufs, lookup_n, NULL));
  tcc_test_jit_t jt;
  jit_begin(&jt, &JIT_OPTIONS);
  const char *sym;
  CHECK_OK(tcc_llvm_emit_kernel(jt.emitter, k, &sym));
  CHECK(tcc_llvm_emitter_num_symbols(jt.emitter) == 1);
  CHECK_STR(tcc_llvm_emitter_symbol(jt.emitter, 0), "n");
  CHECK(jit_end_emission(&jt));
  int64_t syms[1] = {N};
  void *params[2] = {xs, got};
  tcc_module_kernel_fn_t f = jit_lookup(&jt, sym);
  tcc_module_kernel_ctx_t kctx = pool_ctx(syms);
  CHECK(f && f(params, &kctx) == 0);
  CHECK(memcmp(ref, got, sizeof(float) * ((2 * N + 1) / 3)) == 0);
  kctx = tcc_test_kernel_ctx(syms); /* the same with a serial parallel_for */
  memset(got, 0, sizeof got);
  CHECK(f && f(params, &kctx) == 0);
  CHECK(memcmp(ref, got, sizeof(float) * ((2 * N + 1) / 3)) == 0);
  tcc_test_jit_free(&jt);
  tcc_module_destroy(m);
}

TEST(objects_for_every_cpu_target) {
  tcc_module_t *m;
  CHECK_OK(tcc_module_create(tcc_allocator_system(), &m));
  int count;
  const tcc_cpu_target_t *targets = tcc_cpu_targets(&count);
  CHECK(count == 6);
  for (int t = 0; t < count; t++) {
    tcc_kernel_t *k = elementwise(m, "exp", TCC_DTYPE_F32, TCC_DTYPE_F32, 1, op_body, (void *)(intptr_t)TCC_KOP_EXP);
    tcc_llvm_emitter_t *e;
    CHECK_OK(tcc_llvm_emitter_create("objects", NULL, NULL, &e));
    CHECK_OK(tcc_llvm_emit_kernel(e, k, NULL));
    CHECK_OK(tcc_llvm_emitter_finish(e, targets[t].name, true));
    char path[64];
    snprintf(path, sizeof path, "/tmp/tcc_emit_%d_%d.o", (int)getpid(), t);
    CHECK_OK(tcc_llvm_emitter_write(e, targets[t].name, TCC_EMIT_OBJ, path));
    FILE *f = fopen(path, "rb");
    unsigned char h[20] = {0};
    CHECK(f && fread(h, 1, 20, f) == 20);
    if (f) fclose(f);
    remove(path);
    CHECK(memcmp(h, "\x7f" "ELF", 4) == 0);
    int machine = h[18] | h[19] << 8;
    CHECK(machine == (strncmp(targets[t].name, "aarch64", 7) == 0 ? 183 : 62) || strcmp(targets[t].name, "native") == 0);
    tcc_llvm_emitter_destroy(e);
  }
  LLVMTargetMachineRef tm;
  tcc_status_t st = tcc_target_machine_create("sm_70", &tm); /* not a target */
  CHECK(st && tcc_status_code(st) == TCC_INVALID_ARGUMENT);
  tcc_status_free(st);
  CHECK_OK(tcc_target_machine_create("sm_90a", &tm)); /* GPUs: PTX through NVPTX */
  char *triple = LLVMGetTargetMachineTriple(tm);
  CHECK(strcmp(triple, "nvptx64-nvidia-cuda") == 0);
  LLVMDisposeMessage(triple);
  LLVMDisposeTargetMachine(tm);
  tcc_module_destroy(m);
}

/* Whether the PTX of kernel entry `name` (up to the next entry) mentions `what`; -1 without the entry. */
static int entry_uses(const char *ptx, const char *name, const char *what) {
  char head[96];
  snprintf(head, sizeof head, ".entry %s(", name);
  const char *at = strstr(ptx, head);
  if (!at) return -1;
  const char *next = strstr(at + 1, ".entry "), *hit = strstr(at, what);
  return hit && (!next || hit < next);
}

/* GPU mode: PTX with one kernel entry per kernel; a PARALLEL loop spread over the grid (its stride is the
 * grid's size), a kernel without one guarded to thread 0; exp from libdevice, or a clear error without it. */
TEST(ptx_for_gpu_targets) {
  tcc_module_t *m;
  CHECK_OK(tcc_module_create(tcc_allocator_system(), &m));
  int count;
  const tcc_gpu_target_t *targets = tcc_gpu_targets(&count);
  CHECK(count == 5);
  bool libdevice = access(getenv("TCC_LIBDEVICE") ? getenv("TCC_LIBDEVICE") : "/usr/local/cuda/nvvm/libdevice/libdevice.10.bc",
                          R_OK) == 0;
  for (int t = 0; t < count; t++) {
    tcc_kernel_t *grid = elementwise(m, "neg", TCC_DTYPE_F32, TCC_DTYPE_F32, 1, op_body, (void *)(intptr_t)TCC_KOP_NEG);
    tcc_kernel_t *serial = elementwise(m, "abs", TCC_DTYPE_F32, TCC_DTYPE_F32, 1, op_body, (void *)(intptr_t)TCC_KOP_ABS);
    tcc_cpu_schedule_options_t so = {.parallel = true, .threads = 1, .min_task_elements = 1, .vector_lanes = 1};
    CHECK_OK(tcc_schedule_cpu(grid, &so));
    for (size_t i = 0; i < serial->body.count; i++) serial->body.stmts[i]->loop = TCC_KLOOP_SERIAL;
    tcc_llvm_emit_options_t o = {.gpu = true, .target = targets[t].name};
    tcc_llvm_emitter_t *e;
    CHECK_OK(tcc_llvm_emitter_create("gpu", NULL, &o, &e));
    CHECK_OK(tcc_llvm_emit_kernel(e, grid, NULL));
    CHECK_OK(tcc_llvm_emit_kernel(e, serial, NULL));
    CHECK_OK(tcc_llvm_emitter_finish(e, targets[t].name, true));
    char path[64];
    snprintf(path, sizeof path, "/tmp/tcc_emit_%d_%d.ptx", (int)getpid(), t);
    CHECK_OK(tcc_llvm_emitter_write(e, targets[t].name, TCC_EMIT_ASM, path));
    FILE *f = fopen(path, "rb");
    static char ptx[1 << 16];
    size_t n = f ? fread(ptx, 1, sizeof ptx - 1, f) : 0;
    ptx[n] = 0;
    if (f) fclose(f);
    remove(path);
    char target_line[32];
    snprintf(target_line, sizeof target_line, ".target %s", targets[t].name);
    CHECK(strstr(ptx, target_line) != NULL);
    CHECK(entry_uses(ptx, "neg_gpu", "nctaid") == 1); /* the grid-stride loop */
    CHECK(entry_uses(ptx, "abs_gpu", "nctaid") == 0); /* thread 0 only */
    tcc_llvm_emitter_destroy(e);

    tcc_kernel_t *ex = elementwise(m, "exp", TCC_DTYPE_F32, TCC_DTYPE_F32, 1, op_body, (void *)(intptr_t)TCC_KOP_EXP);
    CHECK_OK(tcc_llvm_emitter_create("gpu_exp", NULL, &o, &e));
    CHECK_OK(tcc_llvm_emit_kernel(e, ex, NULL));
    tcc_status_t st = tcc_llvm_emitter_finish(e, targets[t].name, true);
    if (libdevice) CHECK_OK(st);
    else CHECK(st && tcc_status_code(st) == TCC_UNSUPPORTED && strstr(tcc_status_message(st), "libdevice"));
    tcc_status_free(libdevice ? NULL : st);
    tcc_llvm_emitter_destroy(e);
  }
  tcc_module_destroy(m);
}

RUN_TESTS(T(every_operator_and_dtype_matches_the_evaluator), T(every_cast_matches_the_evaluator),
          T(vectorized_operators_match_the_evaluator), T(parallel_bodies_report_errors_and_share_temporaries),
          T(errors_are_returned_and_selects_are_lazy), T(temporaries_ifs_and_symbolic_sizes),
          T(objects_for_every_cpu_target), T(ptx_for_gpu_targets))
