/* Compute definitions: each canonical op's semantics, written once as a kernel IR program.
 *
 * tcc_compute_build turns a typed node into a kernel whose parameters are the node's present inputs (in
 * order, named x0, x1, ...; omitted optional inputs have no parameter) followed by its present outputs
 * (y0, y1, ...), with the dtypes and (possibly symbolic) shapes inference gave them. Values the
 * definition needs at build time — axes, perms, pads given as inputs — are read from the inputs'
 * constant data (value->constant / tcc_value_const_ints); when such an input is not constant the
 * result is TCC_UNSUPPORTED. The reference evaluator builds kernels for concrete shapes; code generation
 * builds the same kernels over symbolic ones, so definitions use tcc_k_dim for sizes, never constants
 * read from a type.
 *
 * Each op family lives in one file (ir/compute_*.c) and registers its functions in the table of
 * ir/compute.c. A definition writes the body into k using the parameter buffers it is given, with the
 * expression shorthands and shared helpers of ir/compute_defs.h.
 */
#ifndef TCC_IR_COMPUTE_H
#define TCC_IR_COMPUTE_H

#include "ir/graph.h"
#include "ir/kernel.h"

/* in[i] is the parameter of node input i (NULL when omitted); out[i] likewise for outputs. */
typedef tcc_status_t (*tcc_compute_fn_t)(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                         tcc_kbuf_t *const *out);

/* Builds the kernel for node in node->graph->module's arena. TCC_UNSUPPORTED (naming the node) when the
 * op, a dtype or a non-constant operand has no definition yet. */
TCC_MUST_USE tcc_status_t tcc_compute_build(const tcc_node_t *node, tcc_kernel_t **out);
/* Whether op has a compute definition. */
bool tcc_compute_has(tcc_op_t op);
/* The definition of a fused node (TCC_OP_FUSED, ir/compute_fused.c): one kernel computing its whole body —
 * epilogues applied at the anchor's final store, elementwise chains as one loop nest, other nodes in sequence
 * over temporaries — with the results of evaluating the body node by node. Reached through tcc_compute_build. */
TCC_MUST_USE tcc_status_t tcc_compute_fused(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                            tcc_kbuf_t *const *out);

/* Helpers for definitions. */
/* Loops over every index of `shape` (rank dims), appended to block; returns the innermost block and the
 * index expressions (one per dim, in an arena array). Rank 0 returns block itself. */
tcc_kblock_t *tcc_compute_loops(tcc_kernel_t *k, tcc_kblock_t *block, int rank, const tcc_dim_t *const *shape,
                                const tcc_kexpr_t ***index);
/* The index into `buf` that numpy-style broadcasting maps the output index `out_index` (out_rank dims)
 * to: trailing alignment, and 0 wherever buf's dim is 1 while the output's is not. */
const tcc_kexpr_t *const *tcc_compute_broadcast_index(tcc_kernel_t *k, const tcc_kbuf_t *buf, int out_rank,
                                                      const tcc_dim_t *const *out_shape,
                                                      const tcc_kexpr_t *const *out_index);

#endif
