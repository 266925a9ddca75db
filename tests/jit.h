/* In-process JIT of emitted kernels for tests and benchmarks: an LLVM emitter (codegen/llvm_emit.h) on its own
 * thread-safe context, its finished module compiled by ORC's LLJIT (process symbols, e.g. libm, resolvable),
 * and SYM_packed looked up as a module kernel (runtime/module_abi.h). Also a kernel context whose
 * parallel_for runs on a real runtime thread pool (tests/kernel_ctx.h has the serial one).
 *
 *   tcc_test_jit_t j;
 *   st = tcc_test_jit_begin(&j, "unit", &options);            // j.emitter: emit kernels into it
 *   st = tcc_test_jit_finish(&j, "native");                  // verify, optimize for target, compile
 *   st = tcc_test_jit_lookup(&j, sym, &fn);                  // fn(params, &ctx)
 *   tcc_test_jit_free(&j);                                   // always, whatever failed
 *
 * Errors are statuses for the caller to report; tcc_test_jit_free is safe after any of them. */
#ifndef TCC_TESTS_JIT_H
#define TCC_TESTS_JIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>

#include "base/status.h"
#include "codegen/llvm_emit.h"
#include "runtime/module_abi.h"
#include "tcc/runtime.h"

typedef struct {
  LLVMOrcThreadSafeContextRef tsc;
  tcc_llvm_emitter_t *emitter; /* NULL when its creation failed */
  LLVMOrcLLJITRef jit;         /* NULL until tcc_test_jit_finish succeeds */
} tcc_test_jit_t;

/* A status from an LLVM error (consumed), its message prefixed with what. */
static inline tcc_status_t tcc_test_jit_error(LLVMErrorRef err, const char *what) {
  char *msg = LLVMGetErrorMessage(err);
  tcc_status_t st = tcc_status_make(TCC_INTERNAL, "%s: %s", what, msg);
  LLVMDisposeErrorMessage(msg);
  return st;
}

/* Whether st is success; otherwise prints "what: its message" to stderr and frees it. */
static inline bool tcc_test_jit_ok(tcc_status_t st, const char *what) {
  if (!st) return true;
  fprintf(stderr, "%s: %s\n", what, tcc_status_message(st));
  tcc_status_free(st);
  return false;
}

/* A fresh context and an emitter named module_name on it (options may be NULL: the defaults). */
static inline tcc_status_t tcc_test_jit_begin(tcc_test_jit_t *j, const char *module_name,
                                              const tcc_llvm_emit_options_t *options) {
  memset(j, 0, sizeof *j);
  j->tsc = LLVMOrcCreateNewThreadSafeContext();
  return tcc_llvm_emitter_create(module_name, LLVMOrcThreadSafeContextGetContext(j->tsc), options, &j->emitter);
}

/* Finishes the emitter's module for target (verified, optimized) and compiles it with a new LLJIT. */
static inline tcc_status_t tcc_test_jit_finish(tcc_test_jit_t *j, const char *target) {
  TCC_RETURN_IF_ERROR(tcc_llvm_emitter_finish(j->emitter, target, true));
  LLVMModuleRef mod = tcc_llvm_emitter_take_module(j->emitter);
  LLVMErrorRef err = LLVMOrcCreateLLJIT(&j->jit, NULL);
  LLVMOrcDefinitionGeneratorRef process_symbols = NULL;
  if (!err)
    err = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&process_symbols, LLVMOrcLLJITGetGlobalPrefix(j->jit),
                                                               NULL, NULL);
  if (err) {
    LLVMDisposeModule(mod);
    return tcc_test_jit_error(err, "JIT");
  }
  LLVMOrcJITDylibRef main_dylib = LLVMOrcLLJITGetMainJITDylib(j->jit);
  LLVMOrcJITDylibAddGenerator(main_dylib, process_symbols);
  err = LLVMOrcLLJITAddLLVMIRModule(j->jit, main_dylib, LLVMOrcCreateNewThreadSafeModule(mod, j->tsc));
  return err ? tcc_test_jit_error(err, "JIT") : NULL;
}

/* *fn = the kernel sym's packed entry point (SYM_packed) of the compiled module. */
static inline tcc_status_t tcc_test_jit_lookup(tcc_test_jit_t *j, const char *sym, tcc_module_kernel_fn_t *fn) {
  *fn = NULL;
  if (!j->jit) return tcc_status_make(TCC_INTERNAL, "JIT lookup of '%s': no compiled module", sym);
  size_t len = strlen(sym);
  char *name = malloc(len + sizeof "_packed");
  if (!name) return tcc_status_oom();
  memcpy(name, sym, len);
  memcpy(name + len, "_packed", sizeof "_packed");
  LLVMOrcJITTargetAddress addr = 0;
  LLVMErrorRef err = LLVMOrcLLJITLookup(j->jit, &addr, name);
  tcc_status_t st = NULL;
  if (err) {
    char *msg = LLVMGetErrorMessage(err);
    st = tcc_status_make(TCC_INTERNAL, "JIT lookup of '%s': %s", name, msg);
    LLVMDisposeErrorMessage(msg);
  } else {
    *fn = (tcc_module_kernel_fn_t)(uintptr_t)addr;
  }
  free(name);
  return st;
}

static inline void tcc_test_jit_free(tcc_test_jit_t *j) {
  if (j->jit) LLVMOrcDisposeLLJIT(j->jit);
  tcc_llvm_emitter_destroy(j->emitter); /* its module, when not taken, lives in tsc's context */
  if (j->tsc) LLVMOrcDisposeThreadSafeContext(j->tsc);
  memset(j, 0, sizeof *j);
}

static inline int tcc_test_pool_for(void *pool, int64_t n, int64_t grain, tcc_module_body_fn_t body, void *arg) {
  return tcc_rt_parallel_for(pool, n, grain, body, arg);
}

/* A kernel context running parallel_for on pool's threads (num_threads of them), with symbol values syms. */
static inline tcc_module_kernel_ctx_t tcc_test_pool_ctx(tcc_rt_pool_t *pool, int num_threads, const int64_t *syms) {
  return (tcc_module_kernel_ctx_t){
      .symbols = syms, .parallel_for = tcc_test_pool_for, .pool = pool, .num_threads = num_threads};
}

#endif
