/* Shape and dtype inference: one function per canonical op (named in ir/ops.def), run in topological
 * order at import and after every pass.
 *
 * An inference function reads its node's input types, attributes and known input contents
 * (value->constant, value->shape_data), then types every present output (tcc_value_set_tensor or
 * tcc_value_set_type) and, where it can, records known contents (tcc_value_set_shape_data). A size it
 * cannot know is a fresh dim (tcc_dim_fresh); an input that violates the op's contract is a status
 * from tcc_infer_error naming the node. Inference functions are pure over the IR: no I/O.
 */
#ifndef TCC_IR_INFER_H
#define TCC_IR_INFER_H

#include "ir/graph.h"

typedef tcc_status_t (*tcc_infer_fn_t)(tcc_node_t *node);

/* Infers every node of g (and, through the control-flow ops, their subgraphs). */
TCC_MUST_USE tcc_status_t tcc_graph_infer(tcc_graph_t *g);
TCC_MUST_USE tcc_status_t tcc_node_infer(tcc_node_t *node);

/* TCC_INVALID_MODEL "node 'NAME' (OpType): MESSAGE". */
TCC_MUST_USE tcc_status_t tcc_infer_error(const tcc_node_t *node, const char *fmt, ...) TCC_PRINTF(2, 3);
/* TCC_UNSUPPORTED with the same prefix. */
TCC_MUST_USE tcc_status_t tcc_infer_unsupported(const tcc_node_t *node, const char *fmt, ...) TCC_PRINTF(2, 3);

/* The node's input i when present and a tensor of known rank, else NULL. */
const tcc_value_t *tcc_infer_input(const tcc_node_t *node, int i);
/* Multidirectional (numpy) broadcast of two tensor shapes into out (capacity max(ra, rb)); returns an
 * error naming the node when the dims are incompatible constants. */
TCC_MUST_USE tcc_status_t tcc_infer_broadcast(const tcc_node_t *node, int ra, const tcc_dim_t *const *a, int rb,
                                              const tcc_dim_t *const *b, const tcc_dim_t **out, int *rank_out);
/* Normalizes a possibly negative axis against rank; error naming the node when out of range. */
TCC_MUST_USE tcc_status_t tcc_infer_axis(const tcc_node_t *node, int64_t axis, int rank, int *out);
/* The node's `layout` attribute (set by passes/layout.c on convolutions and pooling): NCHW or none (*block
 * 0), NHWC, channels last (*block -1), or NCHW<b>c, channels in blocks of b innermost: [N, C/b, spatial...,
 * b] (*block b, 1 to 1024). Error naming the node for any other layout. */
TCC_MUST_USE tcc_status_t tcc_infer_layout(const tcc_node_t *node, int *block);

/* The per-op functions. */
#define TCC_OP(id, name, infer) tcc_status_t tcc_infer_##infer(tcc_node_t *node);
#include "ir/ops.def"
#undef TCC_OP

#endif
