/* The kernel IR: loop-nest programs over buffers.
 *
 * A kernel has buffer parameters (inputs and outputs, with dtypes and symbolic shapes from the graph IR)
 * and a body: a block of statements — loops, stores, conditionals, buffer allocations, barriers and
 * calls to extern functions. Expressions are trees of constants, loop variables, dims (sizes known at
 * run time), loads, scalar operators (ir/kernel_ops.def), selects and casts. Each canonical op has one
 * compute definition in this IR, shared by the reference evaluator, constant folding and code
 * generation; schedules later rewrite loop kinds and structure.
 *
 * Tutorial — z[i, j] = x[i, j] + y[j] over x: f32[n, 4]:
 *   tcc_kernel_t *k = tcc_kernel_create(m, "add");
 *   tcc_kbuf_t *x = tcc_kernel_add_param(k, "x", TCC_KBUF_INPUT, TCC_DTYPE_F32, 2, dims_n4), *y = ..., *z = ...;
 *   tcc_kvar_t *i, *j;
 *   tcc_kblock_t *inner = tcc_k_for(k, tcc_kernel_body(k), "i", tcc_k_dim(k, dims_n4[0]), TCC_KLOOP_PARALLEL, &i);
 *   inner = tcc_k_for(k, inner, "j", tcc_k_int(k, 4), TCC_KLOOP_SERIAL, &j);
 *   const tcc_kexpr_t *ij[] = {tcc_k_var(k, i), tcc_k_var(k, j)}, *jj[] = {tcc_k_var(k, j)};
 *   tcc_k_store(k, inner, z, ij, tcc_k_binary(k, TCC_KOP_ADD, tcc_k_load(k, x, ij), tcc_k_load(k, y, jj)));
 *   TCC_RETURN_IF_ERROR(tcc_kernel_verify(k));
 *
 * Ownership: kernels live in the arena of the module whose dims they use. Builder functions return NULL
 * on allocation failure and mark the module failed (tcc_module_check); they do not check types — the
 * verifier does. Index expressions are i64. Thread-safety: as for the module.
 */
#ifndef TCC_IR_KERNEL_H
#define TCC_IR_KERNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ir/graph.h"

typedef enum {
#define TCC_KUNARY(id, name) TCC_KOP_##id,
#define TCC_KBINARY(id, name) TCC_KOP_##id,
#include "ir/kernel_ops.def"
#undef TCC_KUNARY
#undef TCC_KBINARY
  TCC_KOP_COUNT
} tcc_kop_t;

const char *tcc_kop_name(tcc_kop_t op);
bool tcc_kop_is_unary(tcc_kop_t op);
bool tcc_kop_is_comparison(tcc_kop_t op);

typedef enum {
  TCC_KBUF_INPUT,    /* parameter, read only */
  TCC_KBUF_OUTPUT,   /* parameter, written (and may be read back) */
  TCC_KBUF_LOCAL,    /* temporary in memory, allocated by an ALLOC statement */
  TCC_KBUF_SHARED,   /* GPU shared memory, allocated by an ALLOC statement */
  TCC_KBUF_REGISTER, /* small temporary (accumulators), allocated by an ALLOC statement */
  TCC_KBUF_SCOPE_COUNT
} tcc_kbuf_scope_t;

typedef enum {
  TCC_KLOOP_SERIAL, TCC_KLOOP_PARALLEL, TCC_KLOOP_VECTORIZED, TCC_KLOOP_UNROLLED,
  TCC_KLOOP_GPU_BLOCK_X, TCC_KLOOP_GPU_BLOCK_Y, TCC_KLOOP_GPU_BLOCK_Z,
  TCC_KLOOP_GPU_THREAD_X, TCC_KLOOP_GPU_THREAD_Y, TCC_KLOOP_GPU_THREAD_Z,
  TCC_KLOOP_KIND_COUNT
} tcc_kloop_kind_t;

typedef struct tcc_kbuf {
  const char *name;
  uint32_t id;
  tcc_kbuf_scope_t scope;
  tcc_dtype_t dtype;
  int rank;
  const tcc_dim_t *const *dims; /* symbolic sizes; LOCAL/SHARED/REGISTER buffers use constants or symbols */
} tcc_kbuf_t;

typedef struct tcc_kvar {
  const char *name;
  uint32_t id;
} tcc_kvar_t;

typedef enum {
  TCC_KEXPR_INT, TCC_KEXPR_FLOAT, TCC_KEXPR_VAR, TCC_KEXPR_DIM, TCC_KEXPR_LOAD, TCC_KEXPR_UNARY,
  TCC_KEXPR_BINARY, TCC_KEXPR_SELECT, TCC_KEXPR_CAST, TCC_KEXPR_KIND_COUNT
} tcc_kexpr_kind_t;

typedef struct tcc_kexpr tcc_kexpr_t;
struct tcc_kexpr {
  tcc_kexpr_kind_t kind;
  tcc_dtype_t dtype;          /* of the result */
  int64_t i;                  /* INT */
  double f;                   /* FLOAT */
  const tcc_kvar_t *var;      /* VAR */
  const tcc_dim_t *dim;       /* DIM: a size evaluated at run time (i64) */
  const tcc_kbuf_t *buf;      /* LOAD */
  const tcc_kexpr_t *const *index; /* LOAD: buf->rank index expressions */
  tcc_kop_t op;               /* UNARY / BINARY */
  const tcc_kexpr_t *a, *b, *c; /* operands; SELECT: a ? b : c; CAST: a */
  bool saturate;              /* CAST to float8: ONNX's saturate attribute */
};

typedef struct tcc_kstmt tcc_kstmt_t;

typedef struct tcc_kblock {
  tcc_kstmt_t **stmts;
  size_t count, capacity;
} tcc_kblock_t;

typedef enum { TCC_KSTMT_FOR, TCC_KSTMT_STORE, TCC_KSTMT_IF, TCC_KSTMT_ALLOC, TCC_KSTMT_BARRIER, TCC_KSTMT_CALL,
               TCC_KSTMT_KIND_COUNT } tcc_kstmt_kind_t;

struct tcc_kstmt {
  tcc_kstmt_kind_t kind;
  /* FOR: var from 0 to extent - 1 */
  const tcc_kvar_t *var;
  const tcc_kexpr_t *extent;
  tcc_kloop_kind_t loop;
  tcc_kblock_t body; /* FOR body; IF then-block */
  /* STORE */
  const tcc_kbuf_t *buf; /* also ALLOC */
  const tcc_kexpr_t *const *index;
  const tcc_kexpr_t *value;
  /* IF */
  const tcc_kexpr_t *cond;
  tcc_kblock_t orelse;
  /* CALL: an extern C function of the runtime over buffers and i64 scalars */
  const char *callee;
  const tcc_kbuf_t *const *args;
  int num_args;
  const tcc_kexpr_t *const *scalars;
  int num_scalars;
};

typedef struct tcc_kernel {
  const char *name;
  tcc_module_t *module;
  tcc_kbuf_t **params; /* inputs and outputs, in call order */
  int num_params, cap_params;
  tcc_kbuf_t **locals; /* every LOCAL/SHARED/REGISTER buffer created */
  int num_locals, cap_locals;
  tcc_kblock_t body;
  uint32_t next_id;
} tcc_kernel_t;

tcc_kernel_t *tcc_kernel_create(tcc_module_t *m, const char *name);
/* Appends a parameter (scope INPUT or OUTPUT); dims are copied. */
tcc_kbuf_t *tcc_kernel_add_param(tcc_kernel_t *k, const char *name, tcc_kbuf_scope_t scope, tcc_dtype_t dtype,
                                 int rank, const tcc_dim_t *const *dims);
/* A temporary buffer (LOCAL, SHARED or REGISTER); it must be allocated with tcc_k_alloc before use. */
tcc_kbuf_t *tcc_kernel_add_local(tcc_kernel_t *k, const char *name, tcc_kbuf_scope_t scope, tcc_dtype_t dtype,
                                 int rank, const tcc_dim_t *const *dims);
tcc_kblock_t *tcc_kernel_body(tcc_kernel_t *k);

/* Expressions. */
const tcc_kexpr_t *tcc_k_int(tcc_kernel_t *k, int64_t v);                     /* i64 */
const tcc_kexpr_t *tcc_k_const(tcc_kernel_t *k, tcc_dtype_t dtype, double v); /* any numeric dtype */
const tcc_kexpr_t *tcc_k_var(tcc_kernel_t *k, const tcc_kvar_t *var);
const tcc_kexpr_t *tcc_k_dim(tcc_kernel_t *k, const tcc_dim_t *dim);
const tcc_kexpr_t *tcc_k_load(tcc_kernel_t *k, const tcc_kbuf_t *buf, const tcc_kexpr_t *const *index);
const tcc_kexpr_t *tcc_k_unary(tcc_kernel_t *k, tcc_kop_t op, const tcc_kexpr_t *a);
const tcc_kexpr_t *tcc_k_binary(tcc_kernel_t *k, tcc_kop_t op, const tcc_kexpr_t *a, const tcc_kexpr_t *b);
const tcc_kexpr_t *tcc_k_select(tcc_kernel_t *k, const tcc_kexpr_t *cond, const tcc_kexpr_t *a, const tcc_kexpr_t *b);
const tcc_kexpr_t *tcc_k_cast(tcc_kernel_t *k, tcc_dtype_t dtype, const tcc_kexpr_t *a, bool saturate);

/* Statements, appended to `block`. tcc_k_for returns the loop body and sets *var; tcc_k_if returns the
 * then-block and sets *orelse (may be NULL) to the else-block. */
tcc_kblock_t *tcc_k_for(tcc_kernel_t *k, tcc_kblock_t *block, const char *var_name, const tcc_kexpr_t *extent,
                        tcc_kloop_kind_t loop, const tcc_kvar_t **var);
tcc_kstmt_t *tcc_k_store(tcc_kernel_t *k, tcc_kblock_t *block, const tcc_kbuf_t *buf, const tcc_kexpr_t *const *index,
                         const tcc_kexpr_t *value);
tcc_kblock_t *tcc_k_if(tcc_kernel_t *k, tcc_kblock_t *block, const tcc_kexpr_t *cond, tcc_kblock_t **orelse);
tcc_kstmt_t *tcc_k_alloc(tcc_kernel_t *k, tcc_kblock_t *block, const tcc_kbuf_t *buf);
tcc_kstmt_t *tcc_k_barrier(tcc_kernel_t *k, tcc_kblock_t *block);
tcc_kstmt_t *tcc_k_call(tcc_kernel_t *k, tcc_kblock_t *block, const char *callee, const tcc_kbuf_t *const *args,
                        int num_args, const tcc_kexpr_t *const *scalars, int num_scalars);

/* Expression queries. tcc_kexpr_equal: structural equality (the same computation on the same operands; NULL
 * equals only NULL); tcc_kindex_equal: the same for two indices of rank entries. tcc_kexpr_uses_var: whether
 * x (NULL: no) reads variable v, loads' indices included. tcc_kindex_contiguous: whether an index of rank
 * entries walks memory with unit stride in v: its last entry is v or u + v (either order) with u free of v,
 * and the other entries are free of v. */
bool tcc_kexpr_equal(const tcc_kexpr_t *a, const tcc_kexpr_t *b);
bool tcc_kindex_equal(const tcc_kexpr_t *const *a, const tcc_kexpr_t *const *b, int rank);
bool tcc_kexpr_uses_var(const tcc_kexpr_t *x, const tcc_kvar_t *v);
bool tcc_kindex_contiguous(const tcc_kexpr_t *const *index, int rank, const tcc_kvar_t *v);

/* The number of FOR loops of the given kind in blk, nested ones included. */
int tcc_kblock_count_loops(const tcc_kblock_t *blk, tcc_kloop_kind_t kind);

const char *tcc_kloop_kind_name(tcc_kloop_kind_t kind);
const char *tcc_kbuf_scope_name(tcc_kbuf_scope_t scope);

/* Prints the kernel (kernel NAME(in x: f32[n, 4], ...) { for i in 0..n parallel { ... } }). */
TCC_MUST_USE tcc_status_t tcc_kernel_print(const tcc_kernel_t *k, FILE *out);

/* Checks: index counts match ranks and are i64; operand dtypes agree (comparisons give bool, logical
 * operators take bool or integers, float-only operators take floats); stores go to OUTPUT or allocated
 * temporaries with the buffer's dtype; loop variables are used only inside their loop and bound once;
 * temporaries are allocated before use; extents are i64. TCC_INTERNAL naming the kernel on failure. */
TCC_MUST_USE tcc_status_t tcc_kernel_verify(const tcc_kernel_t *k);

#endif
