/* The generic GPU schedule (contract in codegen/schedule_gpu.h). */
#include "codegen/schedule_gpu.h"

#include "codegen/schedule_cpu.h"

enum { MAX_CHAIN = 16 };

tcc_status_t tcc_schedule_gpu(tcc_kernel_t *k) {
  tcc_kstmt_t *loop = NULL;
  for (size_t i = 0; i < k->body.count; i++) {
    tcc_kstmt_t *s = k->body.stmts[i];
    if (s->kind == TCC_KSTMT_ALLOC) continue;
    if (s->kind != TCC_KSTMT_FOR || loop) return NULL; /* not one loop nest: one thread */
    loop = s;
  }
  const tcc_kvar_t *above[MAX_CHAIN];
  int depth = 0;
  while (loop && depth < MAX_CHAIN && tcc_schedule_loop_parallelizable(k, loop)) {
    for (int d = 0; d < depth; d++)
      if (tcc_kexpr_uses_var(loop->extent, above[d])) return NULL;
    loop->loop = TCC_KLOOP_PARALLEL;
    above[depth++] = loop->var;
    tcc_kstmt_t *inner = loop->body.count == 1 ? loop->body.stmts[0] : NULL;
    loop = inner && inner->kind == TCC_KSTMT_FOR ? inner : NULL;
  }
  return NULL;
}
