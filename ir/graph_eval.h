/* The reference evaluator for whole graphs: runs each node's compute definition on concrete tensors, and
 * control flow, sequences and optionals on run-time values.
 *
 *   const tcc_eval_value_t *in[1] = {tcc_eval_value_tensor(m, x)}, *out[2];
 *   TCC_RETURN_IF_ERROR(tcc_graph_eval_values(m->graph, in, results, out));
 *
 * A run-time value (tcc_eval_value_t) is what an ONNX value holds while a model runs: a tensor, a
 * sequence of values (tensors, or sequences for nested sequences) or an optional (empty, or holding a
 * tensor or a sequence). Values are immutable once built; they are shared freely.
 *
 * Tensor nodes run node by node, in order: the node is re-inferred with its actual input tensors as
 * constants, so every shape is concrete (data-dependent shapes included), its kernel is built by
 * tcc_compute_build and run by tcc_kernel_eval (or a host operator, ir/host_ops.h). The evaluator itself
 * runs what is not a loop nest over tensors:
 *   - If, Loop, Scan and SequenceMap, by evaluating their subgraphs (which read outer values directly),
 *     and fused nodes (passes/fusion.c), by evaluating their body on the node's inputs;
 *     Loop follows ONNX's semantics for every opset: M and cond each optional (with cond absent the body's
 *     condition output is ignored, as the spec's for-loop form says), loop-carried values of any kind,
 *     scan outputs stacked on a new axis 0; Scan (opset 9+) honours scan_input_axes/directions and
 *     scan_output_axes/directions;
 *   - the sequence ops (SequenceEmpty/Construct/Insert/At/Erase/Length, SplitToSequence,
 *     ConcatFromSequence) and the optional ops (Optional, OptionalHasElement, OptionalGetElement), and
 *     Identity of a sequence or optional.
 * Inputs are checked against the graph's declared input types first (kind; dtype, rank, dims of tensors;
 * symbols such as `batch` must agree across inputs); a tensor or sequence given for an optional input is
 * taken as an optional holding it. Intermediate values live in a scratch module freed before returning;
 * outputs are deep-copied into `results`' arena. Clarity before speed: this is the oracle that
 * differential tests and constant folding use. Thread-safety: the graph is only read.
 */
#ifndef TCC_IR_GRAPH_EVAL_H
#define TCC_IR_GRAPH_EVAL_H

#include "ir/graph.h"

typedef struct tcc_eval_value tcc_eval_value_t;

struct tcc_eval_value {
  tcc_type_kind_t kind;                 /* TCC_TYPE_TENSOR, TCC_TYPE_SEQUENCE or TCC_TYPE_OPTIONAL */
  const tcc_tensor_t *tensor;           /* TENSOR */
  int64_t count;                        /* SEQUENCE: number of items */
  const tcc_eval_value_t *const *items; /* SEQUENCE: the items */
  const tcc_eval_value_t *elem;         /* OPTIONAL: the value held, NULL when empty */
};

/* Value constructors in m's arena (NULL on allocation failure). The tensor and the items are referenced,
 * not copied (the items array is). */
tcc_eval_value_t *tcc_eval_value_tensor(tcc_module_t *m, const tcc_tensor_t *t);
tcc_eval_value_t *tcc_eval_value_sequence(tcc_module_t *m, int64_t count, const tcc_eval_value_t *const *items);
tcc_eval_value_t *tcc_eval_value_optional(tcc_module_t *m, const tcc_eval_value_t *elem);
/* A deep copy of v (tensor data and strings included) into m. */
tcc_eval_value_t *tcc_eval_value_copy(tcc_module_t *m, const tcc_eval_value_t *v);

/* inputs[i] feeds g->inputs[i] (inputs NULL or inputs[i] NULL: the initializer's default value, when it
 * has one); outputs[i] receives g->outputs[i], a deep copy in results. Intermediate values are allocated
 * with results' allocator (so a caller can bound the evaluator's memory) and freed before returning.
 * Limit: one call runs at most 262144 steps (node evaluations plus Loop iterations, subgraphs included;
 * intermediate memory grows with the steps, about 2 KB each);
 * past that it returns TCC_UNSUPPORTED naming the node, so a Loop with a trip count of 2^40 ends with a
 * status instead of running (and growing its scratch memory) for ever. */
TCC_MUST_USE tcc_status_t tcc_graph_eval_values(const tcc_graph_t *g, const tcc_eval_value_t *const *inputs,
                                                tcc_module_t *results, const tcc_eval_value_t **outputs);

/* The same for graphs whose inputs and outputs are tensors: an output that is a sequence or optional is
 * TCC_UNSUPPORTED. outputs[i] is a tensor in results' arena. */
TCC_MUST_USE tcc_status_t tcc_graph_eval(const tcc_graph_t *g, const tcc_tensor_t *const *inputs, tcc_module_t *results,
                                         tcc_tensor_t **outputs);

#endif
