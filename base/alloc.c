/* System and failure-injecting allocators. */
#include "base/alloc.h"

#include <stdlib.h>

static void *system_realloc(void *ctx, void *p, size_t n) { (void)ctx; return realloc(p, n); }
static void system_free(void *ctx, void *p) { (void)ctx; free(p); }

tcc_allocator_t tcc_allocator_system(void) {
  return (tcc_allocator_t){system_realloc, system_free, NULL};
}

static void *failing_realloc(void *ctx, void *p, size_t n) {
  long *budget = ctx;
  if (*budget <= 0) return NULL;
  --*budget;
  return realloc(p, n);
}

tcc_allocator_t tcc_allocator_failing(long *budget) {
  return (tcc_allocator_t){failing_realloc, system_free, budget};
}
