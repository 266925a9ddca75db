/* Allocators: every constructor takes one, so tests can inject allocation failure. */
#ifndef TCC_BASE_ALLOC_H
#define TCC_BASE_ALLOC_H

#include <stddef.h>

typedef struct {
  /* Returns NULL on failure. realloc(ctx, NULL, n) allocates; size 0 is never requested. */
  void *(*realloc)(void *ctx, void *ptr, size_t size);
  void (*free)(void *ctx, void *ptr);
  void *ctx;
} tcc_allocator_t;

/* malloc/realloc/free. */
tcc_allocator_t tcc_allocator_system(void);

/* An allocator that fails every allocation after the first `budget` succeed (tests). The counter
 * lives in *budget, which must outlive the allocator. */
tcc_allocator_t tcc_allocator_failing(long *budget);

static inline void *tcc_alloc(tcc_allocator_t a, size_t n) { return a.realloc(a.ctx, NULL, n ? n : 1); }
static inline void tcc_free(tcc_allocator_t a, void *p) { if (p) a.free(a.ctx, p); }

#endif
