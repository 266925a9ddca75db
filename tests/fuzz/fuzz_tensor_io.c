/* libFuzzer target for tensor files: arbitrary bytes read as .npy, as a TensorProto and as the value
 * files of sequence and optional inputs (a SequenceProto of tensors, an OptionalProto of a sequence)
 * must give a value or a status, never crash, leak or hit undefined behaviour. Built with -DTCC_FUZZ=ON
 * (clang). */
#include <stddef.h>
#include <stdint.h>

#include "frontend/tensor_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tcc_module_t *m = NULL;
  if (tcc_module_create(tcc_allocator_system(), &m)) return 0;
  for (int npy = 0; npy < 2; npy++) {
    tcc_tensor_t *t = NULL;
    tcc_status_t st = npy ? tcc_tensor_read_npy(m, data, size, &t) : tcc_tensor_read_pb(m, data, size, &t, NULL);
    if (!st && t) /* touch every element */
      for (int64_t i = 0; i < t->numel && i < 4096 && t->dtype != TCC_DTYPE_STRING; i++) (void)tcc_tensor_get_float(t, i);
    tcc_status_free(st);
  }
  static const tcc_type_t tensor = {TCC_TYPE_TENSOR, TCC_DTYPE_UNDEFINED, -1, NULL, NULL};
  static const tcc_type_t sequence = {TCC_TYPE_SEQUENCE, TCC_DTYPE_UNDEFINED, -1, NULL, &tensor};
  static const tcc_type_t optional = {TCC_TYPE_OPTIONAL, TCC_DTYPE_UNDEFINED, -1, NULL, &sequence};
  const tcc_type_t *const kinds[] = {&sequence, &optional};
  for (int k = 0; k < 2; k++) {
    const tcc_eval_value_t *v = NULL;
    tcc_status_free(tcc_tensor_read_value_pb(m, data, size, kinds[k], &v, NULL));
  }
  tcc_module_destroy(m);
  return 0;
}
