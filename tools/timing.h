/* Timing and the --device option shared by `tcc run`, tcc-module-runner and the benchmarks (header only:
 * the runner links the runtime alone). */
#ifndef TCC_TOOLS_TIMING_H
#define TCC_TOOLS_TIMING_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Milliseconds on the monotonic clock. */
static inline double tcc_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static inline int tcc_compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Sorts v[0..n) ascending (v[0] is then the minimum) and returns the median; n >= 1. */
static inline double tcc_sorted_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, tcc_compare_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The lines `tcc run --bench` and the runner print for n timed runs (v is sorted). */
static inline void tcc_print_bench(double *v, int n) {
  double median = tcc_sorted_median(v, n);
  printf("runs: %d\nmedian_ms: %.4f\nmin_ms: %.4f\n", n, median, v[0]);
}

/* `--device cuda:N` (or `cuda`: device 0) -> *ordinal; false for anything else. */
static inline bool tcc_parse_cuda_device(const char *s, int *ordinal) {
  if (strcmp(s, "cuda") == 0) return *ordinal = 0, true;
  if (strncmp(s, "cuda:", 5) != 0 || s[5] < '0' || s[5] > '9') return false;
  char *end = NULL;
  long n = strtol(s + 5, &end, 10);
  if (*end || n > 1024) return false;
  *ordinal = (int)n;
  return true;
}

#endif
