/* The generic GPU schedule: marks the loops of a kernel built by a compute definition (ir/compute.h,
 * every loop SERIAL) that the GPU emitter (codegen/llvm_emit.h, options.gpu) spreads over the grid.
 *
 *   tcc_kernel_t *k;
 *   TCC_RETURN_IF_ERROR(tcc_compute_build(node, &k));
 *   TCC_RETURN_IF_ERROR(tcc_schedule_gpu(k));
 *   TCC_RETURN_IF_ERROR(tcc_llvm_emit_kernel(gpu_emitter, k, &symbol));
 *
 * The rule: when the kernel's top level is temporaries and one loop, the perfect nest that starts there
 * is walked from the outside in; each loop that is parallelizable (tcc_schedule_loop_parallelizable) and
 * whose extent uses no variable of the loops above it is marked PARALLEL, and the walk goes on into its
 * body while that body is exactly one loop. The emitter runs such a chain of PARALLEL loops as one flat
 * grid-stride loop over the product of their extents (the innermost loop's index varying fastest, so
 * neighbouring threads touch neighbouring elements); the rest of each iteration runs in its thread. A
 * kernel with no marked loop runs on one thread.
 * Thread-safety: kernels are modified in place; as for the module that owns them.
 */
#ifndef TCC_CODEGEN_SCHEDULE_GPU_H
#define TCC_CODEGEN_SCHEDULE_GPU_H

#include "base/status.h"
#include "ir/kernel.h"

/* Rewrites k's loop kinds by the rule above; k must verify. */
TCC_MUST_USE tcc_status_t tcc_schedule_gpu(tcc_kernel_t *k);

#endif
