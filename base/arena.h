/* Arenas: bump allocation from large blocks, everything freed at once by tcc_arena_deinit.
 * Not thread-safe; one arena per module. Allocation functions return NULL on failure. */
#ifndef TCC_BASE_ARENA_H
#define TCC_BASE_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "base/alloc.h"

typedef struct tcc_arena_block tcc_arena_block_t;

typedef struct {
  tcc_allocator_t allocator;
  tcc_arena_block_t *head;
  size_t used_bytes; /* statistics: bytes handed out */
} tcc_arena_t;

void tcc_arena_init(tcc_arena_t *arena, tcc_allocator_t allocator);
void tcc_arena_deinit(tcc_arena_t *arena);

/* 16-byte aligned. */
void *tcc_arena_alloc(tcc_arena_t *arena, size_t size);
void *tcc_arena_calloc(tcc_arena_t *arena, size_t count, size_t size);
void *tcc_arena_memdup(tcc_arena_t *arena, const void *src, size_t size);
char *tcc_arena_strdup(tcc_arena_t *arena, const char *s);
char *tcc_arena_strndup(tcc_arena_t *arena, const char *s, size_t n);
char *tcc_arena_sprintf(tcc_arena_t *arena, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Grows an arena array of `count` elements to hold at least `need`; the old storage is abandoned to
 * the arena. *capacity is updated. Returns the (possibly moved) array or NULL. */
void *tcc_arena_grow(tcc_arena_t *arena, void *array, size_t elem_size, size_t count, size_t *capacity,
                     size_t need);

#endif
