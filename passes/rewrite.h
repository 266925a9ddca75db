/* Graph-rewrite helpers shared by the passes: reads (counting, redirecting), graph outputs, new nodes,
 * new constants and unique names, and the op and node classes several passes test for.
 *
 * Tutorial (a pass replacing y = f(x) by y = g(x, c)):
 *   uint32_t *uses = tcc_rewrite_reads_count(g);             // by value id; graph outputs count twice
 *   if (!uses) return tcc_status_oom();
 *   if (uses[x->id] == 1 && !tcc_rewrite_value_is_output(g, x)) { ... x is read once, by f ... }
 *   char stem[512];
 *   snprintf(stem, sizeof stem, "%s/scale", f->name);
 *   tcc_value_t *c = tcc_graph_add_constant(g, tcc_rewrite_name_unique(g, stem, "_"), t);   // "stem_1" ...
 *   tcc_value_t *in[2] = {x, c};
 *   tcc_node_t *n = tcc_rewrite_node_add(g, TCC_OP_MUL, "Mul", "scale", NULL, in, 2);
 *   if (!c || !n) return tcc_status_oom();
 *   tcc_node_set_output(n, 0, tcc_graph_add_value(g, NULL));
 *   tcc_rewrite_reads_replace(g, y, n->outputs[0], false);   // y's readers read the new value
 *   TCC_RETURN_IF_ERROR(tcc_node_infer(n));                  // then drop f, tcc_graph_sort(g)
 *
 * Everything allocated lives in g's module arena (NULL on allocation failure, with the module marked
 * failed: see tcc_module_check). Reads are followed into the subgraphs of control-flow nodes, which may
 * read values of the graphs around them. Thread-safety: as the graph (one thread at a time).
 */
#ifndef TCC_PASSES_REWRITE_H
#define TCC_PASSES_REWRITE_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/graph.h"

/* ---- values --------------------------------------------------------------------------------------- */

/* Whether v is present and holds constant data that is not an (overridable) graph input. */
bool tcc_rewrite_value_is_constant(const tcc_value_t *v);
/* Whether v is one of g's outputs. */
bool tcc_rewrite_value_is_output(const tcc_graph_t *g, const tcc_value_t *v);

/* ---- reads ---------------------------------------------------------------------------------------- */

/* The reads of each value of g, by value id (an array of module->next_id + 1 counters in the arena): node
 * inputs, in g and in the nested subgraphs of its nodes, plus 2 for each graph output of g (so that a
 * single-read test never moves or removes an output). Subgraph outputs are not counted. NULL on
 * allocation failure. */
uint32_t *tcc_rewrite_reads_count(tcc_graph_t *g);
/* Every read of `from` by the nodes of g and of their nested subgraphs (subgraph outputs included) becomes
 * a read of `to`; g's own outputs too when outputs_too (otherwise the caller made sure none is `from`). */
void tcc_rewrite_reads_replace(tcc_graph_t *g, const tcc_value_t *from, tcc_value_t *to, bool outputs_too);

/* ---- nodes ---------------------------------------------------------------------------------------- */

/* A new node appended to g (the caller sorts the graph): op, with ONNX op type op_type, named `name`
 * (copied into the arena), reading inputs[0 .. num_inputs), with one output slot, still empty (set it with
 * tcc_node_set_output; the node is not inferred). Domain and opset are those of `origin` (the node it
 * replaces) or, when origin is NULL, the default domain at the module's opset. NULL on allocation
 * failure. */
tcc_node_t *tcc_rewrite_node_add(tcc_graph_t *g, tcc_op_t op, const char *op_type, const char *name,
                                 const tcc_node_t *origin, tcc_value_t *const *inputs, int num_inputs);
/* Whether n computes a function of its inputs that a pass may evaluate or share: false for random ops
 * (each run draws new numbers), unsupported ops and nodes with subgraphs. */
bool tcc_rewrite_node_is_pure(const tcc_node_t *n);
/* Whether op is an elementwise unary math op over floats (Abs, Neg, Sqrt, Exp, ..., Mish, Gelu): one
 * output element from the input element at the same place, whatever the layout. */
bool tcc_rewrite_op_is_unary_math(tcc_op_t op);

/* ---- constants and names -------------------------------------------------------------------------- */

/* A name no value of g (or of the graphs around it) has: stem itself, else stem<sep>1 ... stem<sep>999;
 * in the arena. NULL when all are taken (tcc_graph_add_value and tcc_graph_add_constant then pick a
 * "%N" name) or on allocation failure. */
const char *tcc_rewrite_name_unique(tcc_graph_t *g, const char *stem, const char *sep);
/* Element i of t, an F32 or F64 tensor, set to v (rounded to F32 for F32). */
void tcc_rewrite_tensor_put_float(tcc_tensor_t *t, int64_t i, double v);

#endif
