/* Block arena. */
#include "base/arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct tcc_arena_block {
  tcc_arena_block_t *next;
  size_t size, used;
  _Alignas(16) unsigned char data[];
};

enum { BLOCK_SIZE = 64 * 1024 };

void tcc_arena_init(tcc_arena_t *arena, tcc_allocator_t allocator) {
  arena->allocator = allocator;
  arena->head = NULL;
  arena->used_bytes = 0;
}

void tcc_arena_deinit(tcc_arena_t *arena) {
  tcc_arena_block_t *b = arena->head;
  while (b) {
    tcc_arena_block_t *next = b->next;
    tcc_free(arena->allocator, b);
    b = next;
  }
  arena->head = NULL;
}

void *tcc_arena_alloc(tcc_arena_t *arena, size_t size) {
  if (size > SIZE_MAX / 2) return NULL;
  size = (size + 15) & ~(size_t)15;
  tcc_arena_block_t *b = arena->head;
  if (!b || b->size - b->used < size) {
    size_t cap = size > BLOCK_SIZE / 4 ? size : BLOCK_SIZE;
    tcc_arena_block_t *nb = tcc_alloc(arena->allocator, sizeof *nb + cap);
    if (!nb) return NULL;
    nb->size = cap;
    nb->used = 0;
    if (b && size > BLOCK_SIZE / 4) { /* keep the partly used block at the head */
      nb->next = b->next;
      b->next = nb;
    } else {
      nb->next = b;
      arena->head = nb;
    }
    b = nb;
  }
  void *p = b->data + b->used;
  b->used += size;
  arena->used_bytes += size;
  return p;
}

void *tcc_arena_calloc(tcc_arena_t *arena, size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return NULL;
  void *p = tcc_arena_alloc(arena, count * size);
  if (p) memset(p, 0, count * size);
  return p;
}

void *tcc_arena_memdup(tcc_arena_t *arena, const void *src, size_t size) {
  void *p = tcc_arena_alloc(arena, size);
  if (p && size) memcpy(p, src, size);
  return p;
}

char *tcc_arena_strndup(tcc_arena_t *arena, const char *s, size_t n) {
  char *p = tcc_arena_alloc(arena, n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *tcc_arena_strdup(tcc_arena_t *arena, const char *s) { return tcc_arena_strndup(arena, s, strlen(s)); }

char *tcc_arena_sprintf(tcc_arena_t *arena, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *p = tcc_arena_alloc(arena, (size_t)n + 1);
  if (!p) return NULL;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

void *tcc_arena_grow(tcc_arena_t *arena, void *array, size_t elem_size, size_t count, size_t *capacity,
                     size_t need) {
  if (need <= *capacity) return array;
  size_t cap = *capacity ? *capacity * 2 : 8;
  while (cap < need) cap *= 2;
  void *p = tcc_arena_calloc(arena, cap, elem_size);
  if (!p) return NULL;
  if (count) memcpy(p, array, count * elem_size);
  *capacity = cap;
  return p;
}
