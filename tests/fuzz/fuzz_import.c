/* libFuzzer target for the ONNX importer: arbitrary bytes must import or give a status, never crash,
 * leak or hit undefined behaviour. Built with -DTCC_FUZZ=ON (clang); run with tests/fuzz/run_fuzz.sh. */
#include <stddef.h>
#include <stdint.h>

#include "frontend/onnx_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (int keep = 0; keep < 2; keep++) {
    tcc_onnx_import_options_t options = {.keep_unsupported = keep != 0};
    tcc_module_t *m = NULL;
    tcc_status_t st = tcc_onnx_import_memory(data, size, NULL, &options, tcc_allocator_system(), &m);
    if (!st && m) { /* walk the result: every output type must format */
      char buf[256];
      for (size_t i = 0; i < m->graph->num_outputs; i++) (void)tcc_type_format(&m->graph->outputs[i]->type, buf, sizeof buf);
    }
    tcc_status_free(st);
    tcc_module_destroy(m);
  }
  return 0;
}
