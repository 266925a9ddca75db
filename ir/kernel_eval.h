/* The reference evaluator: runs a kernel IR program directly (an interpreter — clarity before speed).
 *
 * Semantics, shared with code generation: integers wrap in two's complement at their width; f32/f64
 * arithmetic in that precision; f16, bf16 and the float8/float4 types are computed in f32 and rounded
 * (to nearest even) when stored; casts follow ONNX Cast (float -> int truncates toward zero, out-of-range
 * and NaN give the target's minimum for signed and 0 for unsigned types; -> bool is != 0; -> float8 with
 * `saturate` clamps to the largest finite value). Integer division or modulo by zero is an error status.
 * Every load and store is bounds-checked: an out-of-range index is TCC_INTERNAL naming the kernel and
 * buffer, never a memory error. */
#ifndef TCC_IR_KERNEL_EVAL_H
#define TCC_IR_KERNEL_EVAL_H

#include "ir/kernel.h"

/* Runs k once. buffers[i] is the memory of parameter i: dense, row-major, little-endian elements of the
 * parameter's dtype (4-bit types two per byte, low nibble first; bool one byte 0/1), of the size its dims
 * give when evaluated with lookup (symbols of the model, bound by the caller); parameters do not overlap
 * (in-place evaluation is not supported). Temporaries are allocated and freed by the evaluator.
 * Thread-safety: concurrent calls on the same kernel are safe. */
TCC_MUST_USE tcc_status_t tcc_kernel_eval(const tcc_kernel_t *k, void *const *buffers, tcc_dim_lookup_fn_t lookup,
                                          void *ctx);

#endif
