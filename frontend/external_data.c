/* Safe resolution and mapping of ONNX external data files. */
#include "frontend/external_data.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
  void *addr;
  size_t size;
} mapping_t;

static void unmap(void *ctx) {
  mapping_t *mp = ctx;
  if (mp->addr && mp->size) munmap(mp->addr, mp->size);
}

static bool has_dotdot_component(const char *path) {
  for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2) {
    bool starts = p == path || p[-1] == '/' || p[-1] == '\\';
    bool ends = p[2] == 0 || p[2] == '/' || p[2] == '\\';
    if (starts && ends) return true;
  }
  return false;
}

static tcc_status_t map_file(tcc_module_t *m, tcc_strmap_t *cache, const char *model_dir, const char *location,
                             mapping_t **out) {
  if (!model_dir)
    return tcc_status_make(TCC_PERMISSION, "external data '%s' needs the model's directory (model loaded from memory)",
                           location);
  if (location[0] == '/' || location[0] == '\\' || strchr(location, ':'))
    return tcc_status_make(TCC_PERMISSION, "external data location '%s' is absolute; it must be relative to the "
                           "model's directory", location);
  if (has_dotdot_component(location))
    return tcc_status_make(TCC_PERMISSION, "external data location '%s' contains '..'; it must stay inside the "
                           "model's directory", location);
  char joined[PATH_MAX], resolved[PATH_MAX];
  if ((size_t)snprintf(joined, sizeof joined, "%s/%s", model_dir, location) >= sizeof joined)
    return tcc_status_make(TCC_INVALID_MODEL, "external data location '%s' is too long", location);
  if (!realpath(joined, resolved))
    return tcc_status_make(errno == ENOENT ? TCC_NOT_FOUND : TCC_IO, "external data file '%s': %s", joined,
                           strerror(errno));
  size_t dir_len = strlen(model_dir);
  if (strncmp(resolved, model_dir, dir_len) != 0 || (resolved[dir_len] != '/' && strcmp(model_dir, "/") != 0))
    return tcc_status_make(TCC_PERMISSION, "external data location '%s' resolves to '%s', outside the model's "
                           "directory '%s'", location, resolved, model_dir);
  mapping_t *mp = tcc_strmap_get(cache, resolved);
  if (mp) {
    *out = mp;
    return NULL;
  }
  int fd = open(resolved, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block the import */
  if (fd < 0) return tcc_status_make(TCC_IO, "cannot open external data file '%s': %s", resolved, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return tcc_status_make(TCC_INVALID_MODEL, "external data '%s' is not a regular file", resolved);
  }
  mp = tcc_module_alloc(m, sizeof *mp);
  char *key = tcc_module_strdup(m, resolved);
  if (!mp || !key) {
    close(fd);
    return tcc_status_oom();
  }
  mp->size = (size_t)st.st_size;
  if (mp->size) {
    mp->addr = mmap(NULL, mp->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mp->addr == MAP_FAILED) {
      close(fd);
      return tcc_status_make(TCC_IO, "cannot map external data file '%s': %s", resolved, strerror(errno));
    }
  }
  close(fd);
  TCC_RETURN_IF_ERROR(tcc_module_on_destroy(m, unmap, mp));
  if (!tcc_strmap_put(cache, key, mp)) return tcc_status_oom();
  *out = mp;
  return NULL;
}

tcc_status_t tcc_external_data_map(tcc_module_t *m, tcc_strmap_t *cache, const char *model_dir, const char *location,
                                   int64_t offset, int64_t length, const void **data, size_t *size) {
  mapping_t *mp;
  TCC_RETURN_IF_ERROR(map_file(m, cache, model_dir, location, &mp));
  if (offset < 0 || (uint64_t)offset > mp->size)
    return tcc_status_make(TCC_INVALID_MODEL, "external data offset %lld is beyond the end of '%s' (%zu bytes)",
                           (long long)offset, location, mp->size);
  if (length < 0) length = (int64_t)(mp->size - (size_t)offset);
  if ((uint64_t)length > mp->size - (size_t)offset)
    return tcc_status_make(TCC_INVALID_MODEL, "external data range [%lld, %lld) runs past the end of '%s' (%zu bytes)",
                           (long long)offset, (long long)(offset + length), location, mp->size);
  *data = (const char *)mp->addr + offset;
  *size = (size_t)length;
  return NULL;
}
