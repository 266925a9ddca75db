/* sgemm: tcc's CPU GEMM template (codegen/cpu_gemm.h, JIT-compiled) against OpenBLAS cblas_sgemm, in one
 * process, on the same inputs and the same number of threads.
 *
 *   bench_sgemm [--target T] [--threads N] [--min-time S] [--shape MxNxK ...] [--knobs mr=6,nv=4,...]
 *
 * For each shape (default: square 64 ... 2048 and the GEMMs of the shared models), C = A * B in row-major
 * f32 with A, B uniform in [-1, 1): both results are checked against each other (|tcc - blas| <= 1e-3 +
 * 1e-3 |blas| + 2e-6 K) before anything is timed; then each side is warmed up (3 runs) and timed in two
 * rounds of (0.2 s pause, tcc runs, OpenBLAS runs), each block at least --min-time / 2 seconds and 3 runs;
 * the table prints the median GFLOP/s of each and the ratio tcc / OpenBLAS (above 1: tcc faster),
 * then the same from the fastest run of each (less sensitive to other load on the machine).
 * tcc's kernel runs on a runtime thread pool of --threads threads (default 2), OpenBLAS with
 * openblas_set_num_threads(--threads). --knobs overrides knobs of the template's defaults (from
 * autotune/spaces/cpu_gemm.lua) for every shape, for tuning by hand. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "codegen/cpu_gemm.h"
#include "ir/infer.h"
#include "tcc/runtime.h"
#include "tests/jit.h"
#include "tools/timing.h"

void openblas_set_num_threads(int num_threads);

typedef struct {
  const char *label;
  int64_t m, n, k;
} shape_t;

static const shape_t DEFAULT_SHAPES[] = {
    {"square", 64, 64, 64},         {"square", 128, 128, 128},     {"square", 256, 256, 256},
    {"square", 512, 512, 512},      {"square", 1024, 1024, 1024},  {"square", 2048, 2048, 2048},
    {"resnet18 fc", 1, 1000, 512},  {"bert qkv", 128, 768, 256},   {"bert/gpt attn out", 128, 256, 256},
    {"bert/gpt ffn1", 128, 1024, 256}, {"bert/gpt ffn2", 128, 256, 1024}, {"mlp fc1", 8, 512, 784},
    {"mlp fc2", 8, 256, 512},       {"mlp fc3", 8, 10, 256},
};

/* Seconds on the monotonic clock. */
static double now(void) { return tcc_now_ms() / 1e3; }

static tcc_rt_pool_t *pool;

static bool fail(tcc_status_t st, const char *what) {
  if (!st) return false;
  fprintf(stderr, "bench_sgemm: %s: %s\n", what, tcc_status_message(st));
  tcc_status_free(st);
  return true;
}

/* A JIT-compiled GEMM for one shape. */
typedef struct {
  tcc_test_jit_t jit;
  tcc_module_kernel_fn_t fn;
  tcc_cpu_gemm_knobs_t knobs;
} compiled_t;

static bool parse_knobs(const char *text, tcc_space_knobs_t *out) {
  memset(out, 0, sizeof *out);
  char buf[512];
  snprintf(buf, sizeof buf, "%s", text);
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    char *eq = strchr(tok, '=');
    if (!eq) return false;
    *eq = 0;
    if (fail(tcc_space_knobs_set(out, tok, strtoll(eq + 1, NULL, 10)), "--knobs")) return false;
  }
  return true;
}

static bool compile_gemm(const shape_t *s, const char *target, const tcc_space_knobs_t *overrides, compiled_t *c) {
  memset(c, 0, sizeof *c);
  tcc_module_t *m = NULL;
  if (fail(tcc_module_create(tcc_allocator_system(), &m), "module")) return false;
  tcc_graph_t *g = m->graph;
  tcc_value_t *a = tcc_graph_add_input(g, "a"), *b = tcc_graph_add_input(g, "b");
  const tcc_dim_t *ad[2] = {tcc_dim_const(m, s->m), tcc_dim_const(m, s->k)};
  const tcc_dim_t *bd[2] = {tcc_dim_const(m, s->k), tcc_dim_const(m, s->n)};
  tcc_node_t *mm = tcc_graph_add_node(g, TCC_OP_MATMUL, "sgemm", 2, 1);
  bool ok = !fail(tcc_value_set_tensor(a, TCC_DTYPE_F32, 2, ad), "A") &&
            !fail(tcc_value_set_tensor(b, TCC_DTYPE_F32, 2, bd), "B");
  if (ok) {
    mm->inputs[0] = a, mm->inputs[1] = b;
    tcc_node_set_output(mm, 0, tcc_graph_add_value(g, "c"));
    ok = tcc_graph_add_output(g, mm->outputs[0]) && !fail(tcc_graph_infer(g), "infer");
  }
  tcc_cpu_gemm_shape_t shape;
  bool handled = false;
  if (ok) ok = !fail(tcc_cpu_gemm_shape(mm, &shape, &handled), "shape") && handled;
  if (ok) ok = !fail(tcc_cpu_gemm_default_knobs(&shape, target, &c->knobs), "knobs");
  tcc_space_target_t caps;
  if (ok) ok = !fail(tcc_space_target_caps(target, &caps), "target");
  if (ok && overrides) ok = !fail(tcc_cpu_gemm_knobs_from_space(overrides, caps.lanes, &c->knobs), "--knobs");
  if (ok) ok = !fail(tcc_test_jit_begin(&c->jit, "sgemm", NULL), "emitter");
  const char *sym = NULL;
  bool applied = false;
  if (ok) ok = !fail(tcc_cpu_gemm_emit(c->jit.emitter, mm, target, &c->knobs, &sym, &applied), "emit") && applied;
  if (ok) ok = !fail(tcc_test_jit_finish(&c->jit, target), "finish");
  if (ok) ok = !fail(tcc_test_jit_lookup(&c->jit, sym, &c->fn), "jit");
  tcc_module_destroy(m);
  return ok && c->fn;
}

static void release(compiled_t *c) { tcc_test_jit_free(&c->jit); }

typedef struct {
  compiled_t *c;
  void *params[3];
  tcc_module_kernel_ctx_t ctx;
  const float *a, *b;
  float *out;
  int64_t m, n, k;
} run_t;

static void run_tcc(run_t *r) {
  if (r->c->fn(r->params, &r->ctx) != 0) fprintf(stderr, "bench_sgemm: the kernel failed\n");
}
static void run_blas(run_t *r) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r->m, (int)r->n, (int)r->k, 1.0f, r->a, (int)r->k,
              r->b, (int)r->n, 0.0f, r->out, (int)r->n);
}

int main(int argc, char **argv) {
  const char *target = "native", *knob_text = NULL;
  int threads = 2;
  double min_time = 0.5;
  shape_t shapes[64];
  int num_shapes = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--target") == 0 && i + 1 < argc) target = argv[++i];
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
    else if (strcmp(argv[i], "--min-time") == 0 && i + 1 < argc) min_time = atof(argv[++i]);
    else if (strcmp(argv[i], "--knobs") == 0 && i + 1 < argc) knob_text = argv[++i];
    else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc && num_shapes < 64) {
      shape_t s = {"custom", 0, 0, 0};
      long long m = 0, n = 0, k = 0;
      if (sscanf(argv[++i], "%lldx%lldx%lld", &m, &n, &k) != 3 || m < 1 || n < 1 || k < 1) {
        fprintf(stderr, "bench_sgemm: --shape wants MxNxK\n");
        return 2;
      }
      s.m = m, s.n = n, s.k = k;
      shapes[num_shapes++] = s;
    } else {
      fprintf(stderr, "usage: bench_sgemm [--target T] [--threads N] [--min-time S] [--shape MxNxK ...] "
                      "[--knobs mr=6,nv=4,kc=256,mc=96,nc=512,pack_a=1,pack_b=1,ku=4]\n");
      return 2;
    }
  }
  if (num_shapes == 0) {
    num_shapes = (int)(sizeof DEFAULT_SHAPES / sizeof DEFAULT_SHAPES[0]);
    memcpy(shapes, DEFAULT_SHAPES, sizeof DEFAULT_SHAPES);
  }
  tcc_space_knobs_t overrides;
  if (knob_text && !parse_knobs(knob_text, &overrides)) {
    fprintf(stderr, "bench_sgemm: --knobs wants name=value,...\n");
    return 2;
  }
  if (fail(tcc_rt_pool_create(threads, NULL, &pool), "pool")) return 1;
  openblas_set_num_threads(threads);
  printf("sgemm, %d threads, target %s: median GFLOP/s over >= %.2f s per side\n", threads, target, min_time);
  printf("| shape | M x N x K | tcc knobs (mr nv kc mc nc pa pb ku) | tcc GFLOP/s | OpenBLAS GFLOP/s | tcc / OpenBLAS "
         "| best: tcc | best: OpenBLAS | best: ratio |\n");
  printf("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  int failures = 0;
  for (int si = 0; si < num_shapes; si++) {
    const shape_t *s = &shapes[si];
    compiled_t c;
    if (!compile_gemm(s, target, knob_text ? &overrides : NULL, &c)) {
      release(&c);
      failures++;
      continue;
    }
    size_t na = (size_t)(s->m * s->k), nb = (size_t)(s->k * s->n), nc = (size_t)(s->m * s->n);
    float *a = aligned_alloc(64, (na * 4 + 63) / 64 * 64), *b = aligned_alloc(64, (nb * 4 + 63) / 64 * 64);
    float *c_tcc = aligned_alloc(64, (nc * 4 + 63) / 64 * 64), *c_blas = aligned_alloc(64, (nc * 4 + 63) / 64 * 64);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < na + nb; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      float v = (float)((double)(x >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
      if (i < na) a[i] = v;
      else b[i - na] = v;
    }
    run_t rt = {.c = &c, .params = {a, b, c_tcc}, .a = a, .b = b, .out = c_tcc, .m = s->m, .n = s->n, .k = s->k};
    rt.ctx = tcc_test_pool_ctx(pool, threads, NULL);
    run_t rb = rt;
    rb.out = c_blas;
    run_tcc(&rt);
    run_blas(&rb);
    int64_t bad = 0;
    for (size_t i = 0; i < nc; i++)
      if (!(fabsf(c_tcc[i] - c_blas[i]) <= 1e-3f + 1e-3f * fabsf(c_blas[i]) + 2e-6f * (float)s->k)) bad++;
    if (bad) {
      printf("| %s | %lldx%lldx%lld | | MISMATCH (%lld of %zu elements) | | |\n", s->label, (long long)s->m,
             (long long)s->n, (long long)s->k, (long long)bad, nc);
      failures++;
    } else {
      /* Each side is timed in blocks of its own: OpenBLAS's idle workers spin for a while after a call and
       * would take the core from the runtime pool's worker if the two alternated run by run. Two rounds
       * of (pause, tcc block, OpenBLAS block), the pause letting OpenBLAS's threads go to sleep. */
      static double times[2][8192];
      int runs[2] = {0, 0};
      for (int w = 0; w < 3; w++) run_tcc(&rt), run_blas(&rb);
      for (int round = 0; round < 2; round++) {
        struct timespec pause = {0, 200 * 1000 * 1000};
        nanosleep(&pause, NULL);
        for (int side = 0; side < 2; side++) {
          double spent = 0;
          for (int i = 0; runs[side] < 8192 && (i < 3 || spent < min_time / 2); i++) {
            double t0 = now();
            if (side == 0) run_tcc(&rt);
            else run_blas(&rb);
            double t = now() - t0;
            times[side][runs[side]++] = t;
            spent += t;
          }
        }
      }
      double flops = 2.0 * (double)s->m * (double)s->n * (double)s->k, gf[2], best[2];
      for (int side = 0; side < 2; side++) {
        qsort(times[side], (size_t)runs[side], sizeof(double), tcc_compare_double);
        gf[side] = flops / times[side][runs[side] / 2] * 1e-9;
        best[side] = flops / times[side][0] * 1e-9;
      }
      const tcc_cpu_gemm_knobs_t *k = &c.knobs;
      printf("| %s | %lldx%lldx%lld | %d %d %d %d %d %d %d %d | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f |\n", s->label,
             (long long)s->m, (long long)s->n, (long long)s->k, k->mr, k->nv, k->kc, k->mc, k->nc, k->pack_a, k->pack_b,
             k->ku, gf[0], gf[1], gf[0] / gf[1], best[0], best[1], best[0] / best[1]);
      fflush(stdout);
    }
    free(a), free(b), free(c_tcc), free(c_blas);
    release(&c);
  }
  tcc_rt_pool_destroy(pool);
  return failures ? 1 : 0;
}
