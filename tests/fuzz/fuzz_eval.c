/* libFuzzer target for the reference evaluator: a model that imports is evaluated on small seeded inputs
 * (symbolic dims bound to 2, tensors of at most 4096 elements); evaluation must succeed or give a status,
 * never crash, leak, hit undefined behaviour or hang. A model may legitimately ask for huge tensors: the
 * evaluator's memory comes from an allocator that refuses blocks over 64 MB (an out-of-memory status).
 * Built with -DTCC_FUZZ=ON (clang). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "frontend/onnx_import.h"
#include "ir/graph_eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A tensor for a declared input type with every byte set from a counter (strings: "ab"), or NULL when
 * the type is not a small tensor of known rank and dtype. */
static tcc_tensor_t *small_input(tcc_module_t *m, const tcc_type_t *t, unsigned *seed) {
  if (t->kind != TCC_TYPE_TENSOR || t->rank < 0 || t->rank > 8 || t->dtype == TCC_DTYPE_UNDEFINED) return NULL;
  int64_t dims[8], numel = 1;
  for (int i = 0; i < t->rank; i++) {
    dims[i] = tcc_dim_is_const(t->dims[i]) ? tcc_dim_value(t->dims[i]) : 2;
    if (dims[i] < 0 || dims[i] > 4096 || (numel *= dims[i]) > 4096) return NULL;
  }
  tcc_tensor_t *x = tcc_tensor_create(m, t->dtype, t->rank, dims);
  if (!x) return NULL;
  if (t->dtype == TCC_DTYPE_STRING) {
    for (int64_t i = 0; i < numel; i++) ((tcc_bytes_t *)x->data)[i] = (tcc_bytes_t){"ab", 2};
    return x;
  }
  for (size_t i = 0; i < x->nbytes; i++) ((uint8_t *)x->data)[i] = (uint8_t)((*seed = *seed * 1103515245u + 12345u) >> 16);
  return x;
}

static void *capped_realloc(void *ctx, void *ptr, size_t size) {
  (void)ctx;
  return size > ((size_t)64 << 20) ? NULL : realloc(ptr, size);
}

static void capped_free(void *ctx, void *ptr) {
  (void)ctx;
  free(ptr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const tcc_allocator_t capped = {capped_realloc, capped_free, NULL};
  tcc_onnx_import_options_t options = {0};
  tcc_module_t *m = NULL, *results = NULL;
  tcc_status_t st = tcc_onnx_import_memory(data, size, NULL, &options, tcc_allocator_system(), &m);
  if (!st && m->graph->num_nodes <= 64 && !(st = tcc_module_create(capped, &results))) {
    const tcc_graph_t *g = m->graph;
    const tcc_eval_value_t **in = tcc_module_alloc(results, (g->num_inputs + 1) * sizeof *in);
    const tcc_eval_value_t **out = tcc_module_alloc(results, (g->num_outputs + 1) * sizeof *out);
    bool ok = in && out;
    unsigned seed = 1;
    for (size_t i = 0; ok && i < g->num_inputs; i++) {
      if (g->inputs[i]->constant) {
        in[i] = NULL;
        continue;
      }
      tcc_tensor_t *x = small_input(results, &g->inputs[i]->type, &seed);
      ok = x && (in[i] = tcc_eval_value_tensor(results, x));
    }
    if (ok) st = tcc_graph_eval_values(g, in, results, out);
  }
  tcc_status_free(st);
  tcc_module_destroy(results);
  tcc_module_destroy(m);
  return 0;
}
