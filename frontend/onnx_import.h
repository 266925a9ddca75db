/* ONNX import: a ModelProto (file or memory) -> a typed graph IR module.
 *
 *   tcc_module_t *m;
 *   tcc_onnx_import_options_t opts = {0};
 *   TCC_RETURN_IF_ERROR(tcc_onnx_import_file("model.onnx", &opts, tcc_allocator_system(), &m));
 *
 * The importer validates the model (structure, names, data sizes, external-data paths), maps each node
 * to a canonical op through the op table (frontend/onnx_ops.def), inlines model-local functions, sorts
 * the nodes topologically, infers every value's type, and folds shape-computing subgraphs into symbolic
 * dims. Weights are not copied: they point into the mapped model or external-data files, which the
 * module keeps mapped until tcc_module_destroy. Thread-safety: independent calls may run concurrently.
 */
#ifndef TCC_FRONTEND_ONNX_IMPORT_H
#define TCC_FRONTEND_ONNX_IMPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/alloc.h"
#include "base/status.h"
#include "ir/graph.h"

typedef struct {
  /* Keep nodes tcc cannot handle as TCC_OP_UNSUPPORTED (reason in node->unsupported) instead of failing;
   * for coverage reports. */
  bool keep_unsupported;
  /* Do not fill what inference cannot know (unknown ranks, fresh dims) from the types the model declares;
   * for testing inference itself. */
  bool ignore_declared_types;
} tcc_onnx_import_options_t;

TCC_MUST_USE tcc_status_t tcc_onnx_import_file(const char *path, const tcc_onnx_import_options_t *options,
                                               tcc_allocator_t allocator, tcc_module_t **out);
/* model_dir: where external data lives (NULL refuses external data). The bytes are copied. */
TCC_MUST_USE tcc_status_t tcc_onnx_import_memory(const void *data, size_t size, const char *model_dir,
                                                 const tcc_onnx_import_options_t *options,
                                                 tcc_allocator_t allocator, tcc_module_t **out);

#endif
