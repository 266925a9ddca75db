/* FNV-1a hashing and an open-addressing string map. */
#include "base/hash.h"

#include <string.h>

uint64_t tcc_hash_bytes(const void *data, size_t n, uint64_t seed) {
  const unsigned char *p = data;
  uint64_t h = 1469598103934665603ULL ^ seed;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

void tcc_strmap_init(tcc_strmap_t *map, tcc_arena_t *arena) {
  memset(map, 0, sizeof *map);
  map->arena = arena;
}

static size_t slot_of(const tcc_strmap_t *map, const char *key) {
  size_t mask = map->capacity - 1;
  size_t i = (size_t)tcc_hash_bytes(key, strlen(key), 0) & mask;
  while (map->keys[i] && strcmp(map->keys[i], key) != 0) i = (i + 1) & mask;
  return i;
}

void *tcc_strmap_get(const tcc_strmap_t *map, const char *key) {
  if (!map->capacity) return NULL;
  size_t i = slot_of(map, key);
  return map->keys[i] ? map->values[i] : NULL;
}

bool tcc_strmap_put(tcc_strmap_t *map, const char *key, void *value) {
  if ((map->count + 1) * 2 > map->capacity) {
    size_t cap = map->capacity ? map->capacity * 2 : 64;
    tcc_strmap_t grown = {tcc_arena_calloc(map->arena, cap, sizeof(char *)),
                          tcc_arena_calloc(map->arena, cap, sizeof(void *)), 0, cap, map->arena};
    if (!grown.keys || !grown.values) return false;
    for (size_t i = 0; i < map->capacity; i++) {
      if (!map->keys[i]) continue;
      size_t j = slot_of(&grown, map->keys[i]);
      grown.keys[j] = map->keys[i];
      grown.values[j] = map->values[i];
      grown.count++;
    }
    *map = grown;
  }
  size_t i = slot_of(map, key);
  if (!map->keys[i]) {
    map->keys[i] = key;
    map->count++;
  }
  map->values[i] = value;
  return true;
}
