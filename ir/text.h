/* The textual form of the graph IR: a printer and a parser that round-trip (docs/ir-text.md).
 *
 * Tutorial:
 *   tcc_status_t st = tcc_text_print(m, stdout, NULL);        // NULL options: the defaults
 *
 *   tcc_module_t *m2;
 *   st = tcc_text_parse(text, tcc_allocator_system(), &m2);  // "line 3, col 14: expected ..." on error
 *   ...
 *   tcc_module_destroy(m2);
 *
 * A module prints as:
 *   module {ir_version = 8, producer_name = "pytorch"}
 *   opsets {"": 17, "com.microsoft": 1}
 *   graph main(%x: f32[batch, 64], %w: f32[64, 64] = dense<elided, 16384 bytes>) -> (%y) {
 *     %c = const i64[2] dense<[1, -1]>
 *     %y = matmul(%x, %w) : f32[batch, 64] @MatMul_0 [op_type = "MatMul", opset = 17]
 *     %a, _ = split(%y, _) {axis = 1, num_outputs = 2} : f32[batch, 32] @split0
 *   }
 * Values are %name (quoted, %"onnx::Add_3", when not made of letters, digits, '_', '.', '%'), `_` is an
 * omitted optional input or output, types are tcc_type_format's ("f32[batch, 3]", "f32[*]", "?",
 * "seq<f32[?1]>"), `@name` is the node's name and `[...]` its origin (domain, op_type, opset) and, for
 * unsupported nodes, the reason. Subgraph attributes print nested: `then_branch = graph then(...) ... {`.
 *
 * Round trip: print(parse(print(M))) == print(M) byte for byte. Not kept: value->shape_data (re-derived
 * by inference), values that no input, constant or node defines, NaN payloads, and the contents of
 * constants over max_inline_constant_elems elements (`dense<elided, N bytes>` parses as zeros).
 * Thread-safety: both functions only touch the module they are given.
 */
#ifndef TCC_IR_TEXT_H
#define TCC_IR_TEXT_H

#include <stddef.h>
#include <stdio.h>

#include "base/alloc.h"
#include "base/status.h"
#include "ir/graph.h"

#define TCC_TEXT_DEFAULT_INLINE_ELEMS 16

typedef struct {
  /* Constants with more elements print as `dense<elided, N bytes>` (default 16). */
  size_t max_inline_constant_elems;
} tcc_text_options_t;

/* Writes m (header lines, then its main graph) to out. opts may be NULL. Errors: TCC_INVALID_ARGUMENT
 * for IR the syntax cannot express (an invalid dtype or attribute kind, a malformed tensor), TCC_IO when
 * writing fails. Output is complete either way. */
TCC_MUST_USE tcc_status_t tcc_text_print(const tcc_module_t *m, FILE *out, const tcc_text_options_t *opts);
/* Writes one graph (e.g. a subgraph) as `graph NAME(...) -> (...) {...}`. */
TCC_MUST_USE tcc_status_t tcc_text_print_graph(const tcc_graph_t *g, FILE *out, const tcc_text_options_t *opts);

/* Parses text (NUL-terminated) into a new module owned by the caller (*out, NULL on failure). Errors are
 * TCC_INVALID_ARGUMENT "line L, col C: expected WHAT, found 'TEXT'" (or OOM); nothing leaks. Outer-scope
 * references in subgraphs resolve by name (tcc_graph_find). Shape inference is not run. */
TCC_MUST_USE tcc_status_t tcc_text_parse(const char *text, tcc_allocator_t allocator, tcc_module_t **out);

#endif
