/* layout: data layouts per target (contract in passes/passes.h).
 *
 * "generic" keeps NCHW. GPU targets (sm_*) run convolutions in NHWC (channels last), CPU targets in NCHW<b>c
 * (channels in blocks of b innermost, [N, C/b, H, W, b]), b from the vector width (8 f32 lanes for AVX2 and
 * NEON targets, 16 for AVX-512 ones) unless options->channel_block sets it. The re-laid-out ops carry a
 * `layout` attribute that their compute definitions and inference read (ir/compute_reduce.c,
 * ir/infer_nn.c):
 *   - conv (2-D, constant weights, one group or one channel per group): weights re-laid out at compile time,
 *     NHWC [M, kh, kw, C/group], NCHW<b>c [M/b, C/b, kh, kw, b, b] (depthwise [M/b, 1, kh, kw, 1, b]);
 *     channel counts not a multiple of b are padded with zero weights and bias, so padded channels stay 0;
 *     in NHWC a one-group conv whose input pixels are not whole 16-byte units (3 channels of an image)
 *     reads its input padded with zero channels up to them (a Pad after the conversion; zero weights
 *     there), so that the GPU GEMM template copies whole 16-byte units instead of element by element;
 *   - max_pool / average_pool: a `layout` attribute;
 *   - global average / max pooling: a reduce_mean / reduce_max over the layout's spatial axes;
 *   - layout-agnostic ops between them: unary activations, Add/Sub/Mul/Max/Min of same-layout operands or of
 *     per-channel constants (re-laid out), Div by such constants, Concat along channels (NCHW<b>c: when every
 *     input's channels are whole blocks). None of them turns the padded channels' finite values into
 *     non-finite ones, and the padded channels only ever meet zero weights.
 * A conv is converted whenever it can be; an agnostic op when one of its operands already is in the layout.
 * Conversions are therefore placed only at the edges of these regions: into the layout before the first op
 * (Transpose; for NCHW<b>c Pad (when C % b != 0) + Reshape + Transpose), back where an unconverted op or a
 * graph output reads a value (the reverse, Slice dropping padded channels). A transpose that only moves
 * size-1 dims is written as a Reshape (e.g. after a global pool). Each value is converted once per direction.
 */
#include <stdio.h>
#include <string.h>

#include "ir/infer.h"
#include "passes/passes.h"
#include "passes/rewrite.h"

/* ---- targets -------------------------------------------------------------------------------------- */

/* The block for a target: -1 for NHWC, b for NCHW<b>c, 0 for no change; false for an unknown target. */
static bool target_block(const char *target, int option, int *block) {
  static const char *const cpu8[] = {"x86-64-v3", "native", "aarch64", "aarch64+dotprod", "neoverse-n1", NULL};
  static const char *const cpu16[] = {"x86-64-v4", "znver4", NULL};
  *block = 0;
  if (!target || !strcmp(target, "generic")) return true;
  if (!strncmp(target, "sm_", 3)) {
    *block = -1;
    return true;
  }
  for (int i = 0; cpu8[i]; i++)
    if (!strcmp(target, cpu8[i])) *block = 8;
  for (int i = 0; cpu16[i]; i++)
    if (!strcmp(target, cpu16[i])) *block = 16;
  if (*block && option > 0) *block = option;
  return *block != 0;
}

/* ---- helpers -------------------------------------------------------------------------------------- */

typedef struct {
  tcc_graph_t *g;
  int block;            /* -1 NHWC, b > 0 NCHW<b>c */
  int precision_bits;   /* of the type the pipeline runs activations in (ctx->precision; 32 if unset) */
  const char *name;     /* "NHWC", "NCHW8c" */
  uint32_t size;        /* ids below it are the values present when the pass started */
  tcc_value_t **in_layout; /* by original value id: the value in the layout */
} state_t;

static bool is_float_tensor(const tcc_value_t *v, int rank) {
  return v && v->type.kind == TCC_TYPE_TENSOR && v->type.rank == rank && tcc_dtype_is_float(v->type.dtype) &&
         tcc_dtype_bits(v->type.dtype) >= 8;
}

static int64_t dim_or(const tcc_value_t *v, int d, int64_t fallback) {
  return tcc_dim_is_const(v->type.dims[d]) ? tcc_dim_value(v->type.dims[d]) : fallback;
}

static int64_t round_up(int64_t c, int b) { return (c + b - 1) / b * b; }

static const char *value_name(tcc_graph_t *g, const char *base, const char *suffix) {
  char stem[256];
  snprintf(stem, sizeof stem, "%s.%s", base ? base : "v", suffix);
  return tcc_rewrite_name_unique(g, stem, "");
}

/* A node of op reading inputs, writing `into` (or a new value named base.suffix); inferred. */
static tcc_status_t emit(state_t *s, tcc_op_t op, const char *op_type, tcc_value_t *const *inputs, int num_inputs,
                         tcc_value_t *into, const char *base, const char *suffix, tcc_node_t **out) {
  tcc_graph_t *g = s->g;
  char name[256];
  snprintf(name, sizeof name, "%s/%s", base ? base : "v", suffix);
  tcc_node_t *n = tcc_rewrite_node_add(g, op, op_type, name, NULL, inputs, num_inputs);
  if (!into) into = tcc_graph_add_value(g, value_name(g, base, suffix));
  if (!n || !into) return tcc_status_oom();
  tcc_node_set_output(n, 0, into);
  *out = n;
  return NULL;
}

/* Moving dims by perm keeps the order of the dims that are not 1 (so the data does not move). */
static bool perm_is_view(const tcc_value_t *x, const int64_t *perm, int rank) {
  int last = -1;
  for (int i = 0; i < rank; i++) {
    if (tcc_dim_is_const(x->type.dims[perm[i]]) && tcc_dim_value(x->type.dims[perm[i]]) == 1) continue;
    if (perm[i] < last) return false;
    last = (int)perm[i];
  }
  return true;
}

/* transpose(x, perm) into `into` (or a new value), as a Reshape when it only moves size-1 dims. */
static tcc_status_t permute_value(state_t *s, tcc_value_t *x, const int64_t *perm, int rank, tcc_value_t *into,
                                  const char *base, const char *suffix, tcc_value_t **out) {
  tcc_node_t *n;
  tcc_module_t *m = s->g->module;
  if (perm_is_view(x, perm, rank)) {
    const tcc_dim_t **dims = tcc_module_alloc(m, (size_t)rank * sizeof *dims);
    if (!dims) return tcc_status_oom();
    for (int i = 0; i < rank; i++) dims[i] = x->type.dims[perm[i]];
    TCC_RETURN_IF_ERROR(emit(s, TCC_OP_RESHAPE, "Reshape", &x, 1, into, base, suffix, &n));
    TCC_RETURN_IF_ERROR(tcc_node_set_attr_dims(n, "shape", dims, rank));
  } else {
    int64_t *p = tcc_module_alloc(m, (size_t)rank * sizeof *p);
    if (!p) return tcc_status_oom();
    memcpy(p, perm, (size_t)rank * sizeof *p);
    TCC_RETURN_IF_ERROR(emit(s, TCC_OP_TRANSPOSE, "Transpose", &x, 1, into, base, suffix, &n));
    TCC_RETURN_IF_ERROR(tcc_node_set_attr_ints(n, "perm", p, rank));
  }
  TCC_RETURN_IF_ERROR(tcc_node_infer(n));
  *out = n->outputs[0];
  return NULL;
}

static tcc_status_t reshape_value(state_t *s, tcc_value_t *x, const tcc_dim_t *const *dims, int rank,
                                  tcc_value_t *into, const char *base, const char *suffix, tcc_value_t **out) {
  tcc_node_t *n;
  TCC_RETURN_IF_ERROR(emit(s, TCC_OP_RESHAPE, "Reshape", &x, 1, into, base, suffix, &n));
  TCC_RETURN_IF_ERROR(tcc_node_set_attr_dims(n, "shape", dims, rank));
  TCC_RETURN_IF_ERROR(tcc_node_infer(n));
  *out = n->outputs[0];
  return NULL;
}

static tcc_value_t *i64_constant(tcc_graph_t *g, int64_t n, const int64_t *values, const char *base, const char *what) {
  tcc_tensor_t *t = tcc_tensor_create_i64(g->module, 1, &n, values);
  return t ? tcc_graph_add_constant(g, value_name(g, base, what), t) : NULL;
}

/* ---- conversions ---------------------------------------------------------------------------------- */

/* v (NCHW, rank 4, constant C) in the layout, made once. */
static tcc_status_t to_layout(state_t *s, tcc_value_t *v, tcc_value_t **out) {
  if (v->id < s->size && s->in_layout[v->id]) {
    *out = s->in_layout[v->id];
    return NULL;
  }
  tcc_module_t *m = s->g->module;
  const char *base = v->name;
  tcc_value_t *x = v;
  if (s->block < 0) {
    static const int64_t perm[] = {0, 2, 3, 1};
    TCC_RETURN_IF_ERROR(permute_value(s, x, perm, 4, NULL, base, "to_nhwc", &x));
  } else {
    int b = s->block;
    int64_t c = tcc_dim_value(v->type.dims[1]), cp = round_up(c, b);
    if (cp != c) {
      int64_t pads[8] = {0, 0, 0, 0, 0, cp - c, 0, 0};
      tcc_value_t *in[] = {x, i64_constant(s->g, 8, pads, base, "pads")};
      tcc_node_t *n;
      if (!in[1]) return tcc_status_oom();
      TCC_RETURN_IF_ERROR(emit(s, TCC_OP_PAD, "Pad", in, 2, NULL, base, "pad_channels", &n));
      TCC_RETURN_IF_ERROR(tcc_node_infer(n));
      x = n->outputs[0];
    }
    const tcc_dim_t *dims[] = {v->type.dims[0], tcc_dim_const(m, cp / b), tcc_dim_const(m, b), v->type.dims[2],
                               v->type.dims[3]};
    TCC_RETURN_IF_ERROR(reshape_value(s, x, dims, 5, NULL, base, "split_channels", &x));
    static const int64_t perm[] = {0, 1, 3, 4, 2};
    TCC_RETURN_IF_ERROR(permute_value(s, x, perm, 5, NULL, base, s->name, &x));
  }
  if (v->id < s->size) s->in_layout[v->id] = x;
  *out = x;
  return NULL;
}

/* The conversion of l (the layout's form of v) back to NCHW, written into v. */
static tcc_status_t from_layout(state_t *s, tcc_value_t *l, tcc_value_t *v) {
  tcc_module_t *m = s->g->module;
  const char *base = v->name;
  tcc_value_t *x;
  if (s->block < 0) {
    static const int64_t perm[] = {0, 3, 1, 2};
    return permute_value(s, l, perm, 4, v, base, "to_nchw", &x);
  }
  int b = s->block;
  int64_t c = tcc_dim_value(v->type.dims[1]), cp = round_up(c, b);
  static const int64_t perm[] = {0, 1, 4, 2, 3};
  TCC_RETURN_IF_ERROR(permute_value(s, l, perm, 5, NULL, base, "from_blocks", &x));
  const tcc_dim_t *dims[] = {v->type.dims[0], tcc_dim_const(m, cp), v->type.dims[2], v->type.dims[3]};
  if (cp == c) return reshape_value(s, x, dims, 4, v, base, "to_nchw", &x);
  TCC_RETURN_IF_ERROR(reshape_value(s, x, dims, 4, NULL, base, "merge_channels", &x));
  int64_t zero = 0, one = 1;
  tcc_value_t *in[] = {x, i64_constant(s->g, 1, &zero, base, "starts"), i64_constant(s->g, 1, &c, base, "ends"),
                    i64_constant(s->g, 1, &one, base, "axes")};
  if (!in[1] || !in[2] || !in[3]) return tcc_status_oom();
  tcc_node_t *n;
  TCC_RETURN_IF_ERROR(emit(s, TCC_OP_SLICE, "Slice", in, 4, v, base, "to_nchw", &n));
  return tcc_node_infer(n);
}

/* ---- constants ------------------------------------------------------------------------------------ */

/* Conv weights [M, C/group, kh, kw] in the layout (see the top of the file; NHWC: cp >= C channels, the
 * others zero); NULL on allocation failure. */
static tcc_tensor_t *layout_weights(state_t *s, const tcc_tensor_t *w, bool depthwise, int64_t cp) {
  tcc_module_t *m = s->g->module;
  size_t es = (size_t)tcc_dtype_bits(w->dtype) / 8;
  int64_t M = w->dims[0], C = w->dims[1], kh = w->dims[2], kw = w->dims[3];
  if (s->block < 0) {
    int64_t dims[] = {M, kh, kw, cp};
    tcc_tensor_t *o = tcc_tensor_create(m, w->dtype, 4, dims); /* zeroed */
    if (!o) return NULL;
    for (int64_t mm = 0; mm < M; mm++)
      for (int64_t c = 0; c < C; c++)
        for (int64_t y = 0; y < kh; y++)
          for (int64_t x = 0; x < kw; x++)
            memcpy((char *)o->data + (((mm * kh + y) * kw + x) * cp + c) * es,
                   (const char *)w->data + (((mm * C + c) * kh + y) * kw + x) * es, es);
    return o;
  }
  int64_t b = s->block, ci = depthwise ? 1 : b, mb = round_up(M, (int)b) / b, cb = depthwise ? 1 : round_up(C, (int)b) / b;
  int64_t dims[] = {mb, cb, kh, kw, ci, b};
  tcc_tensor_t *o = tcc_tensor_create(m, w->dtype, 6, dims); /* zeroed: padded channels weigh 0 */
  if (!o) return NULL;
  for (int64_t mm = 0; mm < M; mm++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t y = 0; y < kh; y++)
        for (int64_t x = 0; x < kw; x++) {
          int64_t at = ((((mm / b * cb + c / ci) * kh + y) * kw + x) * ci + c % ci) * b + mm % b;
          memcpy((char *)o->data + at * es, (const char *)w->data + (((mm * C + c) * kh + y) * kw + x) * es, es);
        }
  return o;
}

/* A per-channel constant (rank <= 4, dims 1 but for C at axis 1) or one-element constant in the layout:
 * NHWC [C], NCHW<b>c [C/b, 1, 1, b] padded with `fill`; one element: unchanged. NULL when k is not of that
 * form. */
static tcc_value_t *layout_constant(state_t *s, tcc_value_t *k, int64_t channels, double fill) {
  const tcc_tensor_t *t = k->constant;
  if (t->numel == 1 && t->rank <= 4) return k;
  if (t->rank > 4 || t->numel != channels || tcc_dtype_bits(t->dtype) < 8) return NULL;
  for (int d = 0; d < t->rank; d++)
    if (t->dims[d] != 1 && !(4 - t->rank + d == 1 && t->dims[d] == channels)) return NULL;
  size_t es = (size_t)tcc_dtype_bits(t->dtype) / 8;
  tcc_tensor_t *o;
  if (s->block < 0) {
    o = tcc_tensor_create(s->g->module, t->dtype, 1, &channels);
    if (!o) return NULL;
    memcpy((void *)o->data, t->data, t->nbytes);
  } else {
    if (fill != 0 && t->dtype != TCC_DTYPE_F32) return NULL;
    int64_t cp = round_up(channels, s->block), dims[] = {cp / s->block, 1, 1, s->block};
    o = tcc_tensor_create(s->g->module, t->dtype, 4, dims);
    if (!o) return NULL;
    memcpy((void *)o->data, t->data, t->nbytes);
    float f = (float)fill;
    for (int64_t c = channels; c < cp; c++) memcpy((char *)o->data + c * es, &f, es);
  }
  return tcc_graph_add_constant(s->g, value_name(s->g, k->name, s->name), o);
}

/* ---- which ops ------------------------------------------------------------------------------------ */

static bool is_activation_op(tcc_op_t op) {
  switch (op) {
    case TCC_OP_RELU: case TCC_OP_LEAKY_RELU: case TCC_OP_CLIP: case TCC_OP_SIGMOID: case TCC_OP_TANH:
    case TCC_OP_HARD_SIGMOID: case TCC_OP_HARD_SWISH: case TCC_OP_ELU: case TCC_OP_SELU: case TCC_OP_CELU:
    case TCC_OP_GELU: case TCC_OP_NEG: case TCC_OP_ABS: case TCC_OP_MISH: case TCC_OP_SOFTSIGN: case TCC_OP_ERF:
    case TCC_OP_IDENTITY:
      return true;
    default: return false;
  }
}

/* A conv this pass can re-lay out: 2-D, constant weights (and bias), one group or one channel per group. */
static bool conv_ok(const tcc_node_t *n) {
  if (n->op != TCC_OP_CONV || tcc_node_attr(n, "layout") || n->num_inputs < 2 || n->num_outputs != 1) return false;
  const tcc_value_t *x = n->inputs[0], *w = n->inputs[1], *b = n->num_inputs > 2 ? n->inputs[2] : NULL;
  if (!is_float_tensor(x, 4) || !tcc_rewrite_value_is_constant(w) || w->constant->rank != 4 || (b && !tcc_rewrite_value_is_constant(b))) return false;
  if (w->constant->dtype != x->type.dtype || !is_float_tensor(n->outputs[0], 4)) return false;
  int64_t c = dim_or(x, 1, -1), group = tcc_node_attr_int(n, "group", 1);
  if (c < 0) return false;
  return group == 1 || (group == c && w->constant->dims[0] == c && w->constant->dims[1] == 1);
}

/* ---- rewriting ------------------------------------------------------------------------------------ */

static bool in_layout(const state_t *s, const tcc_value_t *v) { return v && v->id < s->size && s->in_layout[v->id]; }

/* n's output 0 now lives in the layout: a new value, recorded for the original. */
static tcc_status_t relabel_output(state_t *s, tcc_node_t *n) {
  tcc_value_t *v = n->outputs[0], *l = tcc_graph_add_value(s->g, value_name(s->g, v->name, s->name));
  if (!l) return tcc_status_oom();
  tcc_node_set_output(n, 0, l);
  v->producer = NULL; /* defined again by a conversion back, when something reads it */
  s->in_layout[v->id] = l;
  return tcc_node_infer(n);
}

static tcc_status_t set_layout_attr(state_t *s, tcc_node_t *n) {
  tcc_attr_t a = {.name = "layout", .kind = TCC_ATTR_STRING, .s = {s->name, strlen(s->name)}};
  return tcc_node_set_attr(n, &a);
}

static tcc_status_t convert_conv(state_t *s, tcc_node_t *n) {
  tcc_module_t *m = s->g->module;
  int64_t c = tcc_dim_value(n->inputs[0]->type.dims[1]), group = tcc_node_attr_int(n, "group", 1);
  bool depthwise = group != 1;
  /* NHWC: whole 16-byte pixels in the narrower of the input's type and the one it will run in */
  int bits = tcc_dtype_bits(n->inputs[0]->type.dtype);
  if (s->precision_bits < bits) bits = s->precision_bits;
  int64_t cp = s->block < 0 && !depthwise ? round_up(c, 128 / bits) : c;
  TCC_RETURN_IF_ERROR(to_layout(s, n->inputs[0], &n->inputs[0]));
  if (cp != c) {
    int64_t pads[8] = {0, 0, 0, 0, 0, 0, 0, cp - c};
    tcc_value_t *in[] = {n->inputs[0], i64_constant(s->g, 8, pads, n->inputs[0]->name, "pads")};
    tcc_node_t *pad;
    if (!in[1]) return tcc_status_oom();
    TCC_RETURN_IF_ERROR(emit(s, TCC_OP_PAD, "Pad", in, 2, NULL, n->inputs[0]->name, "pad_channels", &pad));
    TCC_RETURN_IF_ERROR(tcc_node_infer(pad));
    n->inputs[0] = pad->outputs[0];
  }
  const tcc_tensor_t *w = n->inputs[1]->constant;
  tcc_tensor_t *nw = layout_weights(s, w, depthwise, depthwise ? w->dims[1] : cp);
  if (!nw) return tcc_status_oom();
  n->inputs[1] = tcc_graph_add_constant(s->g, value_name(s->g, n->inputs[1]->name, s->name), nw);
  if (!n->inputs[1]) return tcc_status_oom();
  if (s->block > 0) {
    int64_t mp = round_up(w->dims[0], s->block);
    if (n->num_inputs > 2 && n->inputs[2] && mp != w->dims[0]) {
      const tcc_tensor_t *b = n->inputs[2]->constant;
      tcc_tensor_t *nb = tcc_tensor_create(m, b->dtype, 1, &mp);
      if (!nb) return tcc_status_oom();
      memcpy((void *)nb->data, b->data, b->nbytes);
      n->inputs[2] = tcc_graph_add_constant(s->g, value_name(s->g, n->inputs[2]->name, s->name), nb);
      if (!n->inputs[2]) return tcc_status_oom();
    }
    if (depthwise) TCC_RETURN_IF_ERROR(tcc_node_set_attr_int(n, "group", round_up(c, s->block)));
  }
  TCC_RETURN_IF_ERROR(set_layout_attr(s, n));
  return relabel_output(s, n);
}

/* Whether n can run in the layout (given which operands are in it); *any when one already is. */
static bool agnostic(const state_t *s, const tcc_node_t *n, bool *any) {
  *any = false;
  if (n->num_outputs != 1 || !is_float_tensor(n->outputs[0], 4)) return false;
  const tcc_value_t *y = n->outputs[0];
  int64_t c = dim_or(y, 1, -1);
  if (c < 0) return false;
  if (is_activation_op(n->op)) {
    if (!is_float_tensor(n->inputs[0], 4)) return false;
    for (int k = 1; k < n->num_inputs; k++)
      if (n->inputs[k] && (n->inputs[k]->type.kind != TCC_TYPE_TENSOR || n->inputs[k]->type.rank != 0)) return false;
    *any = in_layout(s, n->inputs[0]);
    return true;
  }
  switch (n->op) {
    case TCC_OP_MAX_POOL: case TCC_OP_AVERAGE_POOL: case TCC_OP_GLOBAL_AVERAGE_POOL: case TCC_OP_GLOBAL_MAX_POOL:
      if (n->num_inputs != 1 || !is_float_tensor(n->inputs[0], 4)) return false;
      *any = in_layout(s, n->inputs[0]);
      return true;
    case TCC_OP_CONCAT: {
      int64_t axis = tcc_node_attr_int(n, "axis", 0);
      if (axis != 1 && axis != -3) return false;
      for (int k = 0; k < n->num_inputs; k++) {
        const tcc_value_t *v = n->inputs[k];
        if (!is_float_tensor(v, 4) || tcc_rewrite_value_is_constant(v) || dim_or(v, 1, -1) < 0) return false;
        if (s->block > 0 && dim_or(v, 1, -1) % s->block) return false;
        *any |= in_layout(s, v);
      }
      return true;
    }
    case TCC_OP_ADD: case TCC_OP_SUB: case TCC_OP_MUL: case TCC_OP_MAX: case TCC_OP_MIN: case TCC_OP_DIV:
      if (n->num_inputs != 2) return false;
      for (int k = 0; k < 2; k++) {
        const tcc_value_t *v = n->inputs[k];
        if (!v || v->type.kind != TCC_TYPE_TENSOR) return false;
        if (tcc_rewrite_value_is_constant(v)) {
          const tcc_tensor_t *t = v->constant;
          bool ok = t->rank <= 4 && (t->numel == 1 || t->numel == c);
          for (int d = 0; ok && d < t->rank; d++) ok = t->dims[d] == 1 || (4 - t->rank + d == 1 && t->dims[d] == c);
          if (!ok) return false;
        } else {
          if (n->op == TCC_OP_DIV && k == 1) return false; /* constant divisors only: padded channels stay finite */
          if (!is_float_tensor(v, 4) || dim_or(v, 1, -1) != c) return false;
          *any |= in_layout(s, v);
        }
      }
      return true;
    default: return false;
  }
}

static tcc_status_t convert_agnostic(state_t *s, tcc_node_t *n) {
  int64_t c = tcc_dim_value(n->outputs[0]->type.dims[1]);
  for (int k = 0; k < n->num_inputs; k++) {
    tcc_value_t *v = n->inputs[k];
    if (!v || v->type.kind != TCC_TYPE_TENSOR) continue;
    if (tcc_rewrite_value_is_constant(v)) { /* per-channel constants re-laid out; one-element ones stay */
      tcc_value_t *l = layout_constant(s, v, c, n->op == TCC_OP_DIV && k == 1 ? 1.0 : 0.0);
      if (!l) return tcc_status_make(TCC_INTERNAL, "layout: constant %s of %s", v->name, n->name);
      n->inputs[k] = l;
    } else if (v->type.rank == 4) {
      TCC_RETURN_IF_ERROR(to_layout(s, v, &n->inputs[k]));
    }
  }
  switch (n->op) {
    case TCC_OP_MAX_POOL: case TCC_OP_AVERAGE_POOL:
      TCC_RETURN_IF_ERROR(set_layout_attr(s, n));
      break;
    case TCC_OP_GLOBAL_AVERAGE_POOL: case TCC_OP_GLOBAL_MAX_POOL: {
      int64_t *axes = tcc_module_alloc(s->g->module, 2 * sizeof *axes);
      if (!axes) return tcc_status_oom();
      axes[0] = s->block > 0 ? 2 : 1, axes[1] = axes[0] + 1;
      n->op = n->op == TCC_OP_GLOBAL_AVERAGE_POOL ? TCC_OP_REDUCE_MEAN : TCC_OP_REDUCE_MAX;
      TCC_RETURN_IF_ERROR(tcc_node_set_attr_ints(n, "axes", axes, 2));
      break;
    }
    case TCC_OP_CONCAT:
      TCC_RETURN_IF_ERROR(tcc_node_set_attr_int(n, "axis", s->block > 0 ? 1 : 3));
      break;
    default: break;
  }
  return relabel_output(s, n);
}

tcc_status_t tcc_pass_layout(tcc_graph_t *g, const tcc_pass_context_t *ctx, const tcc_layout_options_t *options,
                             bool *changed) {
  *changed = false;
  int block;
  if (!target_block(ctx->target, options ? options->channel_block : 0, &block))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "layout: unknown target '%s'", ctx->target);
  if (!block) return NULL;
  tcc_module_t *m = g->module;
  char name[32];
  if (block < 0) snprintf(name, sizeof name, "NHWC");
  else snprintf(name, sizeof name, "NCHW%dc", block);
  int precision_bits = tcc_dtype_bits(ctx->precision);
  state_t s = {g, block, precision_bits >= 16 ? precision_bits : 32, tcc_module_strdup(m, name), m->next_id,
               tcc_module_alloc(m, (m->next_id + 1) * sizeof(tcc_value_t *))};
  if (!s.in_layout || !s.name) return tcc_status_oom();
  memset(s.in_layout, 0, (m->next_id + 1) * sizeof(tcc_value_t *));
  size_t num_nodes = g->num_nodes;
  for (size_t i = 0; i < num_nodes; i++) {
    tcc_node_t *n = g->nodes[i];
    bool any;
    if (conv_ok(n)) {
      TCC_RETURN_IF_ERROR(convert_conv(&s, n));
      *changed = true;
    } else if (agnostic(&s, n, &any) && any) {
      TCC_RETURN_IF_ERROR(convert_agnostic(&s, n));
      *changed = true;
    }
  }
  if (!*changed) return NULL;
  /* back to NCHW where an unconverted op or a graph output reads a value */
  uint32_t *uses = tcc_rewrite_reads_count(g);
  if (!uses) return tcc_status_oom();
  for (uint32_t i = 0; i < g->num_values; i++) {
    tcc_value_t *v = g->values[i];
    if (v->id < s.size && s.in_layout[v->id] && !v->producer && !v->is_input && !tcc_rewrite_value_is_constant(v) &&
        uses[v->id])
      TCC_RETURN_IF_ERROR(from_layout(&s, s.in_layout[v->id], v));
  }
  TCC_RETURN_IF_ERROR(tcc_module_check(m));
  return tcc_graph_sort(g);
}
