/* A minimal unit-test harness: TEST(name) functions registered by RUN_TESTS, CHECK macros that record
 * failures with file:line and keep going. Each test binary prints "N passed, N failed". */
#ifndef TCC_TESTS_TEST_H
#define TCC_TESTS_TEST_H

#include <stdio.h>
#include <string.h>

#include "base/status.h"

static int test_current_failed_;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      test_current_failed_ = 1;                                              \
    }                                                                        \
  } while (0)

#define CHECK_OK(expr)                                                                              \
  do {                                                                                              \
    tcc_status_t st_ = (expr);                                                                      \
    if (st_) {                                                                                      \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, tcc_status_message(st_)); \
      tcc_status_free(st_);                                                                         \
      test_current_failed_ = 1;                                                                     \
    }                                                                                               \
  } while (0)

#define CHECK_STR(a, b)                                                                          \
  do {                                                                                           \
    const char *a_ = (a), *b_ = (b);                                                             \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                     \
      fprintf(stderr, "%s:%d: CHECK_STR failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, a_ ? a_ : "(null)", \
              b_ ? b_ : "(null)");                                                               \
      test_current_failed_ = 1;                                                                  \
    }                                                                                            \
  } while (0)

typedef struct {
  const char *name;
  void (*fn)(void);
} test_case_t;

#define TEST(name) static void name(void)

static inline int run_tests_(const test_case_t *cases, int n) {
  int passed = 0, failed = 0;
  for (int i = 0; i < n; i++) {
    test_current_failed_ = 0;
    cases[i].fn();
    if (test_current_failed_) {
      fprintf(stderr, "FAIL %s\n", cases[i].name);
      failed++;
    } else {
      passed++;
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

#define T(name) {#name, name}
#define RUN_TESTS(...)                                                   \
  int main(void) {                                                       \
    static const test_case_t cases_[] = {__VA_ARGS__};                   \
    return run_tests_(cases_, (int)(sizeof cases_ / sizeof cases_[0])); \
  }

#endif
