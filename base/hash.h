/* A string-keyed hash map (open addressing) whose keys and table live in an arena.
 * Keys are not copied: they must outlive the map (arena strings do). Not thread-safe. */
#ifndef TCC_BASE_HASH_H
#define TCC_BASE_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"

uint64_t tcc_hash_bytes(const void *data, size_t n, uint64_t seed);

typedef struct {
  const char **keys;
  void **values;
  size_t count, capacity;
  tcc_arena_t *arena;
} tcc_strmap_t;

void tcc_strmap_init(tcc_strmap_t *map, tcc_arena_t *arena);
void *tcc_strmap_get(const tcc_strmap_t *map, const char *key);
/* Inserts or replaces. Returns false when out of memory. */
bool tcc_strmap_put(tcc_strmap_t *map, const char *key, void *value);

#endif
