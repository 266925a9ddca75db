/* External tensor data: files beside the model, mapped read-only.
 *
 * Locations are resolved relative to the model's directory only: an absolute location, one containing
 * a ".." component, or one that resolves (after symlinks) outside that directory is refused. Each file
 * is mapped once per module and unmapped when the module is destroyed. */
#ifndef TCC_FRONTEND_EXTERNAL_DATA_H
#define TCC_FRONTEND_EXTERNAL_DATA_H

#include <stdint.h>

#include "base/hash.h"
#include "ir/graph.h"

/* Returns in *data the `length` bytes at `offset` of the file `location` (length < 0: to the end of the
 * file; *size gets the length). `cache` maps resolved paths to mappings and must live in m's arena. */
TCC_MUST_USE tcc_status_t tcc_external_data_map(tcc_module_t *m, tcc_strmap_t *cache, const char *model_dir,
                                                const char *location, int64_t offset, int64_t length,
                                                const void **data, size_t *size);

#endif
