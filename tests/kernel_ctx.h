/* A module kernel context (runtime/module_abi.h) for tests that call compiled kernels directly:
 * parallel_for runs the whole range on the calling thread. */
#ifndef TCC_TESTS_KERNEL_CTX_H
#define TCC_TESTS_KERNEL_CTX_H

#include "runtime/module_abi.h"

static inline int tcc_test_serial_for(void *pool, int64_t n, int64_t grain, tcc_module_body_fn_t body, void *arg) {
  (void)pool, (void)grain;
  return n > 0 ? body(arg, 0, n) : 0;
}

static inline tcc_module_kernel_ctx_t tcc_test_kernel_ctx(const int64_t *syms) {
  return (tcc_module_kernel_ctx_t){.symbols = syms, .parallel_for = tcc_test_serial_for, .num_threads = 1};
}

#endif
