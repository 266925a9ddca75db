/* The generic CPU schedule: marks the loops of a kernel built by a compute definition (ir/compute.h,
 * every loop SERIAL) as PARALLEL or VECTORIZED for the LLVM emitter (codegen/llvm_emit.h).
 *
 *   tcc_kernel_t *k;
 *   TCC_RETURN_IF_ERROR(tcc_compute_build(node, &k));
 *   tcc_cpu_schedule_options_t opts = tcc_cpu_schedule_defaults("x86-64-v4");
 *   TCC_RETURN_IF_ERROR(tcc_schedule_cpu(k, &opts));
 *   TCC_RETURN_IF_ERROR(tcc_llvm_emit_kernel(emitter, k, &symbol));
 *
 * The rules (only loop kinds change; loops that are not SERIAL are left as they are):
 * - PARALLEL: walking from the outside in, the first loops L on each path that
 *   (a) are parallelizable (tcc_schedule_loop_parallelizable below), and
 *   (b) are worth it: L's extent is unknown at compile time or at least `threads`, and the innermost
 *       iterations under L (unknown extents counted as large) are at least threads * min_task_elements.
 *   Loops inside a PARALLEL loop get no PARALLEL mark; a loop that fails (a) or (b) is looked into. A
 *   loop whose extent is unknown (a symbol: often a batch of 1 at run time) is marked only when no loop
 *   inside it is: an inner loop of known extent (at least 2 there) runs in parallel whatever the symbol's
 *   value.
 * - VECTORIZED: each innermost loop (no loop inside) that is still SERIAL, passes
 *   tcc_schedule_loop_vectorizable, and whose extent is unknown or at least vector_lanes. A loop that
 *   would be both (a one-loop kernel) is PARALLEL; the emitter then runs each of its chunks with vectors.
 * The emitter stays correct for any marking it can prove nothing about: it emits such VECTORIZED loops
 * serially; PARALLEL marks are trusted, which is why only provably independent loops get them.
 *
 * Thread-safety: kernels are modified in place; as for the module that owns them.
 */
#ifndef TCC_CODEGEN_SCHEDULE_CPU_H
#define TCC_CODEGEN_SCHEDULE_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "ir/kernel.h"

typedef struct {
  bool parallel;             /* mark PARALLEL loops */
  bool vectorize;            /* mark VECTORIZED loops */
  int threads;               /* threads the schedule plans for (the run-time pool may differ) */
  int64_t min_task_elements; /* innermost iterations worth one parallel task */
  int vector_lanes;          /* lanes of the target's vectors (32-bit elements) */
} tcc_cpu_schedule_options_t;

/* Defaults for a CPU target of codegen/target.h (NULL or unknown: 4 lanes): parallel and vectorize on,
 * 8 threads, 4096 elements per task, the target's lanes (tcc_llvm_target_vector_lanes). */
tcc_cpu_schedule_options_t tcc_cpu_schedule_defaults(const char *target);

/* Rewrites k's loop kinds by the rules above. k must verify; TCC_INVALID_ARGUMENT for bad options. */
TCC_MUST_USE tcc_status_t tcc_schedule_cpu(tcc_kernel_t *k, const tcc_cpu_schedule_options_t *o);

/* Whether the iterations of `loop` (a FOR of k) may run in any order and at once: no CALL or BARRIER
 * inside; every store inside goes either to a temporary allocated inside the loop (private to an
 * iteration, and not referenced outside the loop) or to a buffer of 8-bit or wider elements that all
 * stores inside address with one and the same expression `v` or `v + c` in some dim d (v the loop's
 * variable, c free of v, of loads and of variables bound inside), and every load of such a buffer inside
 * reads dim d with that same expression: iterations then write disjoint elements and read back only
 * their own. */
bool tcc_schedule_loop_parallelizable(const tcc_kernel_t *k, const tcc_kstmt_t *loop);

/* Whether `loop` (a FOR) may run as vectors (codegen/llvm_emit.h): its body is only stores, each indexing
 * its buffer contiguously in the loop's variable v (the last index v or u + v, u and the other indices free
 * of v); all stores to one buffer use the same index, and every load of a stored buffer (anywhere in the
 * body) uses that index too — no iteration reads an element another iteration writes. */
bool tcc_schedule_loop_vectorizable(const tcc_kstmt_t *loop);

#endif
