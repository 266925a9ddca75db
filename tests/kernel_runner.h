/* Kernel-running helpers shared by the compute unit tests: a buffer for every parameter of a built kernel
 * (f32 inputs seeded random, the rest zeroed), running a kernel by the reference evaluator, and comparing its
 * float results with double references (CHECK_CLOSE). Failures are reported through tests/test.h. */
#ifndef TCC_TESTS_KERNEL_RUNNER_H
#define TCC_TESTS_KERNEL_RUNNER_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ir/kernel_eval.h"
#include "tests/test.h"

/* The number of elements of kernel buffer b (its dims are constant). */
static inline int64_t numel(const tcc_kbuf_t *b) {
  int64_t n = 1;
  for (int d = 0; d < b->rank; d++) n *= tcc_dim_value(b->dims[d]);
  return n;
}

/* Buffers for the parameters of a kernel, in its parameter order (inputs then outputs); F(p, i) is buffer i
 * as floats. */
typedef struct {
  int count;
  void *buf[16];
} params_t;

#define F(p, i) ((float *)(p).buf[i])

/* Buffers for every parameter of k (none when k is NULL): f32 inputs seeded random in +-[0.1, 1], everything
 * else zeroed, each with a spare element. Free them with params_free. */
static inline params_t params(const tcc_kernel_t *k, unsigned seed) {
  params_t p = {.count = k ? k->num_params : 0};
  const int cap = (int)(sizeof p.buf / sizeof *p.buf);
  CHECK(p.count <= cap);
  srand(seed);
  for (int i = 0; i < p.count && i < cap; i++) {
    const tcc_kbuf_t *b = k->params[i];
    int64_t n = numel(b);
    p.buf[i] = calloc((size_t)n + 1, 8);
    if (b->scope == TCC_KBUF_INPUT && b->dtype == TCC_DTYPE_F32)
      for (int64_t j = 0; j < n; j++) {
        float v = 0.1f + 0.9f * (float)rand() / (float)RAND_MAX;
        ((float *)p.buf[i])[j] = rand() & 1 ? v : -v;
      }
  }
  return p;
}

static inline void params_free(params_t *p) {
  for (int i = 0; i < p->count && i < (int)(sizeof p->buf / sizeof *p->buf); i++) free(p->buf[i]);
}

/* Runs k over bufs, its parameter buffers in order (p.buf for a params_t); false when k is NULL (its build
 * failure is already reported) or when it fails (reported). */
static inline bool run(tcc_kernel_t *k, void *const *bufs) {
  if (!k) return false;
  tcc_status_t st = tcc_kernel_eval(k, bufs, NULL, NULL);
  if (st) {
    fprintf(stderr, "running %s: %s\n", k->name, tcc_status_message(st));
    tcc_status_free(st);
    test_current_failed_ = 1;
  }
  return !st;
}

/* Every element of got (n floats) is within tol (relative) of want; the first that is not is reported as
 * file:line: what[i]. */
static inline void check_close(const float *got, const double *want, int64_t n, double tol, const char *what,
                               const char *file, int line) {
  for (int64_t i = 0; i < n; i++)
    if (!(fabs(got[i] - want[i]) <= tol * (1 + fabs(want[i])))) {
      fprintf(stderr, "%s:%d: %s[%lld]: got %.9g, want %.9g\n", file, line, what, (long long)i, got[i], want[i]);
      test_current_failed_ = 1;
      return;
    }
}
#define CHECK_CLOSE(got, want, n) check_close(got, want, n, 1e-5, #got, __FILE__, __LINE__)

#endif
