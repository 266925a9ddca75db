/* Internal header of the compute definitions (ir/compute_*.c): the table each op family registers (collected by
 * ir/compute.c; each table ends with an entry whose fn is NULL), the expression and statement shorthands the
 * definitions are written with, and the helpers they share (defined in ir/compute.c).
 *
 * The shorthands are thin static inline wrappers over ir/kernel.h; like the tcc_k_* functions they take and
 * return NULL freely (a NULL operand gives a NULL result, the module records allocation failure), so a
 * definition checks once, at the end or where it must, rather than after every step. */
#ifndef TCC_IR_COMPUTE_DEFS_H
#define TCC_IR_COMPUTE_DEFS_H

#include <string.h>

#include "ir/compute.h"

typedef struct {
  tcc_op_t op;
  tcc_compute_fn_t fn;
} tcc_compute_entry_t;

extern const tcc_compute_entry_t tcc_compute_elementwise_defs[];
extern const tcc_compute_entry_t tcc_compute_reduce_defs[];
extern const tcc_compute_entry_t tcc_compute_shape_defs[];
extern const tcc_compute_entry_t tcc_compute_loss_defs[];      /* losses, attention, rotary embedding */
extern const tcc_compute_entry_t tcc_compute_image_defs[];     /* resize, grid sampling, ROI ops */
extern const tcc_compute_entry_t tcc_compute_quant_defs[];     /* quantization, integer linear algebra, einsum */
extern const tcc_compute_entry_t tcc_compute_sequence_defs[];  /* signal processing and recurrent networks */
extern const tcc_compute_entry_t tcc_compute_ml_defs[];        /* ai.onnx.ml: Binarizer, ArrayFeatureExtractor */

/* BatchNormalization with training_mode = 1 (ir/compute_sequence.c), called by the inference-mode definition. */
tcc_status_t tcc_compute_batch_norm_training(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                             tcc_kbuf_t *const *out);

/* ---- expression shorthands ------------------------------------------------------------------------ */

typedef const tcc_kexpr_t *expr_t;

static inline expr_t kint(tcc_kernel_t *k, int64_t v) { return tcc_k_int(k, v); }
static inline expr_t kdim(tcc_kernel_t *k, const tcc_dim_t *d) { return tcc_k_dim(k, d); }
/* v as a constant of dtype dt. */
static inline expr_t kc(tcc_kernel_t *k, tcc_dtype_t dt, double v) { return tcc_k_const(k, dt, v); }
static inline expr_t kun(tcc_kernel_t *k, tcc_kop_t op, expr_t a) { return tcc_k_unary(k, op, a); }
static inline expr_t kbin(tcc_kernel_t *k, tcc_kop_t op, expr_t a, expr_t b) { return tcc_k_binary(k, op, a, b); }
static inline expr_t kadd(tcc_kernel_t *k, expr_t a, expr_t b) { return tcc_k_binary(k, TCC_KOP_ADD, a, b); }
static inline expr_t ksub(tcc_kernel_t *k, expr_t a, expr_t b) { return tcc_k_binary(k, TCC_KOP_SUB, a, b); }
static inline expr_t kmul(tcc_kernel_t *k, expr_t a, expr_t b) { return tcc_k_binary(k, TCC_KOP_MUL, a, b); }
static inline expr_t kdiv(tcc_kernel_t *k, expr_t a, expr_t b) { return tcc_k_binary(k, TCC_KOP_DIV, a, b); }
/* a and b, where a NULL side stands for true (so conditions can be built up from NULL). */
static inline expr_t kand(tcc_kernel_t *k, expr_t a, expr_t b) {
  return !a ? b : !b ? a : tcc_k_binary(k, TCC_KOP_AND, a, b);
}
/* a or b, where a NULL side stands for false. */
static inline expr_t kor(tcc_kernel_t *k, expr_t a, expr_t b) {
  return !a ? b : !b ? a : tcc_k_binary(k, TCC_KOP_OR, a, b);
}
static inline expr_t ksel(tcc_kernel_t *k, expr_t cond, expr_t a, expr_t b) { return tcc_k_select(k, cond, a, b); }
/* e converted to dt (e itself when it has that type). */
static inline expr_t kcast(tcc_kernel_t *k, tcc_dtype_t dt, expr_t e) { return tcc_k_cast(k, dt, e, false); }
/* buf[index] converted to dt. */
static inline expr_t kload(tcc_kernel_t *k, const tcc_kbuf_t *buf, const expr_t *index, tcc_dtype_t dt) {
  return kcast(k, dt, tcc_k_load(k, buf, index));
}
/* lo <= v < hi (bool). */
static inline expr_t in_range(tcc_kernel_t *k, expr_t v, expr_t lo, expr_t hi) {
  return kand(k, kbin(k, TCC_KOP_GE, v, lo), kbin(k, TCC_KOP_LT, v, hi));
}

/* An arena array of n expression slots (NULL-filled). */
static inline expr_t *exprs(tcc_kernel_t *k, int n) {
  return tcc_module_alloc(k->module, (size_t)(n > 0 ? n : 1) * sizeof(expr_t));
}
/* A copy of the n index expressions idx, to be modified. */
static inline expr_t *copy_index(tcc_kernel_t *k, int n, const expr_t *idx) {
  expr_t *e = exprs(k, n);
  if (e && n > 0) memcpy(e, idx, (size_t)n * sizeof *e);
  return e;
}
/* Element 0 of b (a scalar operand given as a tensor of any rank), in b's type. */
static inline expr_t first(tcc_kernel_t *k, const tcc_kbuf_t *b) {
  expr_t *zeros = exprs(k, b->rank);
  if (!zeros) return NULL;
  for (int d = 0; d < b->rank; d++) zeros[d] = kint(k, 0);
  return tcc_k_load(k, b, zeros);
}

/* The type arithmetic on elements of dt runs in: f32 for the floats narrower than f32 (f16, bf16, float8,
 * float4), dt itself otherwise (f32, f64, integers, bool). */
static inline tcc_dtype_t acc_type(tcc_dtype_t dt) {
  return tcc_dtype_is_float(dt) && dt != TCC_DTYPE_F64 ? TCC_DTYPE_F32 : dt;
}

/* ---- registers and loops -------------------------------------------------------------------------- */

/* One-element REGISTER buffers: reg_alloc declares one of dtype dt in block, reg_new one set to init (of
 * init's type; NULL when init is NULL); reg_get reads it, reg_set writes v, reg_update writes op(r, v). */
static inline tcc_kbuf_t *reg_alloc(tcc_kernel_t *k, tcc_kblock_t *block, const char *name, tcc_dtype_t dt) {
  const tcc_dim_t *one = tcc_dim_const(k->module, 1);
  tcc_kbuf_t *r = one ? tcc_kernel_add_local(k, name, TCC_KBUF_REGISTER, dt, 1, &one) : NULL;
  tcc_k_alloc(k, block, r);
  return r;
}
static inline expr_t reg_get(tcc_kernel_t *k, const tcc_kbuf_t *r) {
  const expr_t at[] = {kint(k, 0)};
  return tcc_k_load(k, r, at);
}
static inline void reg_set(tcc_kernel_t *k, tcc_kblock_t *block, const tcc_kbuf_t *r, expr_t v) {
  const expr_t at[] = {kint(k, 0)};
  tcc_k_store(k, block, r, at, v);
}
static inline tcc_kbuf_t *reg_new(tcc_kernel_t *k, tcc_kblock_t *block, const char *name, expr_t init) {
  tcc_kbuf_t *r = init ? reg_alloc(k, block, name, init->dtype) : NULL;
  reg_set(k, block, r, init);
  return r;
}
static inline void reg_update(tcc_kernel_t *k, tcc_kblock_t *block, const tcc_kbuf_t *r, tcc_kop_t op, expr_t v) {
  reg_set(k, block, r, kbin(k, op, reg_get(k, r), v));
}
/* The value of e computed once into a register of block (so later expressions reuse it rather than repeat it). */
static inline expr_t let(tcc_kernel_t *k, tcc_kblock_t *block, const char *name, expr_t e) {
  return reg_get(k, reg_new(k, block, name, e));
}

/* A serial loop named name over [0, extent) appended to block (NULL: none); *var gets its variable. */
static inline tcc_kblock_t *loop(tcc_kernel_t *k, tcc_kblock_t *block, const char *name, expr_t extent, expr_t *var) {
  const tcc_kvar_t *v = NULL;
  tcc_kblock_t *body = block ? tcc_k_for(k, block, name, extent, TCC_KLOOP_SERIAL, &v) : NULL;
  *var = v ? tcc_k_var(k, v) : NULL;
  return body;
}

/* ---- helpers (ir/compute.c) ----------------------------------------------------------------------- */

/* A TCC_UNSUPPORTED status naming node: "node 'NAME' (OP): " and the formatted reason. */
TCC_MUST_USE tcc_status_t tcc_compute_unsupported(const tcc_node_t *node, const char *fmt, ...) TCC_PRINTF(2, 3);
/* TCC_UNSUPPORTED (naming the element type) unless dt is a float type, or an integer of 8 bits or more when
 * ints_ok. */
TCC_MUST_USE tcc_status_t tcc_compute_need_type(const tcc_node_t *node, tcc_dtype_t dt, bool ints_ok);
/* TCC_UNSUPPORTED ("WHAT of element type ...") unless operand b is present and of a float type. */
TCC_MUST_USE tcc_status_t tcc_compute_need_float(const tcc_node_t *node, const tcc_kbuf_t *b, const char *what);

/* Serial loops named prefix0, prefix1... over extents[0..n) nested in block; vars[i] gets loop i's variable.
 * Returns the innermost body (block itself when n is 0). */
tcc_kblock_t *tcc_compute_nest(tcc_kernel_t *k, tcc_kblock_t *block, const char *prefix, int n,
                               const expr_t *extents, expr_t *vars);

/* The index along a dim `in` of an operand for the index o over the output dim `out` under numpy
 * broadcasting: o, or 0 where `in` is 1 (a test at run time when that is known only then). */
expr_t tcc_compute_broadcast_dim(tcc_kernel_t *k, const tcc_dim_t *in, const tcc_dim_t *out, expr_t o);
/* The operand indices ai, bi (a->rank and b->rank slots) of a matmul y = a @ b at y's index o with reduction
 * variable r: batch dims broadcast, a's row and b's column from o, r on both reduced dims; an operand of rank
 * 1 has no row (or column). */
void tcc_compute_matmul_index(tcc_kernel_t *k, const tcc_kbuf_t *a, const tcc_kbuf_t *b, const tcc_kbuf_t *y,
                              const expr_t *o, expr_t r, expr_t *ai, expr_t *bi);

/* The INTS attribute name of node, which must have n values, or n copies of def when it is absent (in k's
 * arena). */
TCC_MUST_USE tcc_status_t tcc_compute_ints_attr(tcc_kernel_t *k, const tcc_node_t *node, const char *name, int n,
                                                int64_t def, const int64_t **out);

/* The sliding window of a convolution or pooling over the n spatial dims (2..) of x producing y. */
typedef struct {
  int n;
  expr_t *kernel, *in_size, *pad_begin, *pad_end; /* i64 expressions per spatial dim */
  const int64_t *strides, *dilations;
  bool padded; /* some window may leave the input: positions need bounds checks */
} tcc_compute_window_t;

/* Reads strides, dilations, pads / auto_pad (SAME_UPPER / SAME_LOWER pads computed from the run-time sizes of
 * x and y, VALID none) and ceil_mode into w; kernel sizes come from kdims (a weight's spatial dims) or, when
 * NULL, the kernel_shape attribute. */
TCC_MUST_USE tcc_status_t tcc_compute_window_read(tcc_kernel_t *k, const tcc_node_t *node, const tcc_kbuf_t *x,
                                                  const tcc_kbuf_t *y, const tcc_dim_t *const *kdims,
                                                  tcc_compute_window_t *w);
/* The input positions pos[i] of every spatial dim for output index o (spatial dims from o[2]) and kernel
 * offsets kk: o * stride - pad + kk * dilation. Returns the condition that all lie inside the input, or NULL
 * when the window never leaves it. */
expr_t tcc_compute_window_at(tcc_kernel_t *k, const tcc_compute_window_t *w, const expr_t *o, const expr_t *kk,
                             expr_t *pos);

#endif
