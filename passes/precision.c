/* precision: with ctx->precision f16 or bf16, f32 computation moves to the half type (contract in
 * passes/passes.h).
 *
 * Ops are of three kinds:
 *   - half: elementwise arithmetic and activations, matmul / gemm / conv / conv_transpose (their compute
 *     definitions accumulate half operands in f32 and round once on the store), pooling, and data movement;
 *     every f32 input becomes the half type and so do their outputs;
 *   - kept in f32 (each group per option): softmax / log-softmax, the normalizations, the reductions;
 *   - everything else, whose typing is not "all float operands alike" (Resize's scales, quantization,
 *     control flow ...): untouched.
 * A kept or untouched op that reads a value now in the half type reads a Cast of it back to f32; a half op
 * reading an f32 value that is not a constant reads a Cast to the half type. f32 constants read by half ops
 * are converted at compile time (round to nearest even) into new constants. Graph inputs and outputs keep
 * their types: an output computed in the half type gets a final Cast. Values read inside subgraphs stay f32.
 * Each value is cast at most once per direction.
 * With f32 and allow_tf32 on a GPU target, the float32 products are only marked (attribute tf32 = 1).
 */
#include <string.h>

#include "ir/infer.h"
#include "passes/passes.h"
#include "passes/rewrite.h"

/* ---- conversions ---------------------------------------------------------------------------------- */

static uint16_t f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000, mant = x & 0x7fffff;
  int32_t e = (int32_t)((x >> 23) & 0xff);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)(sign | 0x7e00); /* NaN */
  if (e == 0xff) return (uint16_t)(sign | 0x7c00);                       /* infinity */
  int32_t exp = e - 127 + 15;
  if (exp >= 31) return (uint16_t)(sign | 0x7c00); /* overflow */
  if (exp <= 0) {                                  /* subnormal or zero */
    if (exp < -10) return (uint16_t)sign;
    mant |= 0x800000;
    int shift = 14 - exp;
    uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (h & 1))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = ((uint32_t)exp << 10) | (mant >> 13), rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* a carry rounds up into the exponent, or to inf */
  return (uint16_t)(sign | h);
}

static uint16_t f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return (uint16_t)(x >> 16);
}

static tcc_tensor_t *convert(tcc_module_t *m, const tcc_tensor_t *t, tcc_dtype_t to) {
  tcc_tensor_t *o = tcc_tensor_create(m, to, t->rank, t->dims);
  if (!o) return NULL;
  for (int64_t i = 0; i < t->numel; i++) {
    float f;
    memcpy(&f, (const char *)t->data + 4 * i, 4);
    uint16_t h = to == TCC_DTYPE_F16 ? f32_to_f16(f) : f32_to_bf16(f);
    memcpy((char *)o->data + 2 * i, &h, 2);
  }
  return o;
}

/* ---- op kinds ------------------------------------------------------------------------------------- */

typedef enum { OTHER, HALF, KEEP } kind_t;

static kind_t op_kind(const tcc_node_t *n, const tcc_precision_options_t *o) {
  for (int a = 0; a < n->num_attrs; a++)
    if (n->attrs[a].kind == TCC_ATTR_GRAPH || n->attrs[a].kind == TCC_ATTR_GRAPHS) return OTHER;
  switch (n->op) {
    case TCC_OP_SOFTMAX: case TCC_OP_LOG_SOFTMAX:
      return o->keep_softmax_f32 ? KEEP : HALF;
    case TCC_OP_LAYER_NORMALIZATION: case TCC_OP_RMS_NORMALIZATION: case TCC_OP_GROUP_NORMALIZATION:
    case TCC_OP_INSTANCE_NORMALIZATION: case TCC_OP_BATCH_NORMALIZATION: case TCC_OP_LP_NORMALIZATION:
    case TCC_OP_MEAN_VARIANCE_NORMALIZATION: case TCC_OP_LRN:
      return o->keep_normalization_f32 ? KEEP : HALF;
    case TCC_OP_REDUCE_SUM: case TCC_OP_REDUCE_MEAN: case TCC_OP_REDUCE_MAX: case TCC_OP_REDUCE_MIN:
    case TCC_OP_REDUCE_PROD: case TCC_OP_REDUCE_L1: case TCC_OP_REDUCE_L2: case TCC_OP_REDUCE_LOG_SUM:
    case TCC_OP_REDUCE_LOG_SUM_EXP: case TCC_OP_REDUCE_SUM_SQUARE: case TCC_OP_GLOBAL_AVERAGE_POOL:
    case TCC_OP_GLOBAL_MAX_POOL: case TCC_OP_GLOBAL_LP_POOL: case TCC_OP_CUMSUM:
      return o->keep_reductions_f32 ? KEEP : HALF;
    /* elementwise (and the unary math ops: default) */
    case TCC_OP_CLIP: case TCC_OP_ADD: case TCC_OP_SUB: case TCC_OP_MUL: case TCC_OP_DIV: case TCC_OP_POW: case TCC_OP_MAX: case TCC_OP_MIN: case TCC_OP_SUM: case TCC_OP_MEAN:
    case TCC_OP_WHERE: case TCC_OP_PRELU:
    /* contractions and windows: f32 accumulators in their compute definitions */
    case TCC_OP_MATMUL: case TCC_OP_GEMM: case TCC_OP_CONV: case TCC_OP_CONV_TRANSPOSE: case TCC_OP_MAX_POOL:
    case TCC_OP_AVERAGE_POOL:
    /* data movement */
    case TCC_OP_IDENTITY: case TCC_OP_RESHAPE: case TCC_OP_FLATTEN: case TCC_OP_SQUEEZE: case TCC_OP_UNSQUEEZE:
    case TCC_OP_TRANSPOSE: case TCC_OP_CONCAT: case TCC_OP_SPLIT: case TCC_OP_SLICE: case TCC_OP_GATHER:
    case TCC_OP_EXPAND: case TCC_OP_TILE: case TCC_OP_PAD: case TCC_OP_DEPTH_TO_SPACE: case TCC_OP_SPACE_TO_DEPTH:
      return HALF;
    default: return tcc_rewrite_op_is_unary_math(n->op) ? HALF : OTHER;
  }
}

/* ---- the rewrite ---------------------------------------------------------------------------------- */

typedef struct {
  tcc_graph_t *g;
  tcc_dtype_t half;
  tcc_value_t **as_half, **as_f32; /* by value id: the converted version, once made */
  uint32_t size;
  bool *pinned; /* by value id: read inside a subgraph, stays f32 */
  bool *ours;   /* by value id: turned into the half type by this pass */
} state_t;

static void mark_subgraph_reads(const tcc_graph_t *g, const tcc_graph_t *root, bool *pinned, bool nested) {
  for (size_t i = 0; i < g->num_nodes; i++) {
    const tcc_node_t *n = g->nodes[i];
    if (nested)
      for (int k = 0; k < n->num_inputs; k++)
        if (n->inputs[k] && n->inputs[k]->graph == root) pinned[n->inputs[k]->id] = true;
    for (int a = 0; a < n->num_attrs; a++) {
      const tcc_attr_t *at = &n->attrs[a];
      if (at->kind == TCC_ATTR_GRAPH && at->g) mark_subgraph_reads(at->g, root, pinned, true);
      if (at->kind == TCC_ATTR_GRAPHS)
        for (int64_t j = 0; j < at->count; j++) mark_subgraph_reads(at->graphs[j], root, pinned, true);
    }
  }
}

static bool is_dtype(const tcc_value_t *v, tcc_dtype_t dt) {
  return v && v->type.kind == TCC_TYPE_TENSOR && v->type.dtype == dt;
}

/* A Cast of v to `to`, appended to the graph (the caller sorts). */
static tcc_status_t cast(state_t *s, tcc_value_t *v, tcc_dtype_t to, tcc_value_t **out) {
  char name[256];
  snprintf(name, sizeof name, "%s.%s", v->name ? v->name : "v", tcc_dtype_name(to));
  tcc_value_t *o = tcc_graph_find(s->g, name) ? tcc_graph_add_value(s->g, NULL) : tcc_graph_add_value(s->g, name);
  snprintf(name, sizeof name, "cast_%s_%s", tcc_dtype_name(to), v->name ? v->name : "v");
  tcc_node_t *n = tcc_rewrite_node_add(s->g, TCC_OP_CAST, "Cast", name, NULL, &v, 1);
  if (!o || !n) return tcc_status_oom();
  tcc_node_set_output(n, 0, o);
  TCC_RETURN_IF_ERROR(tcc_node_set_attr_int(n, "to", to));
  TCC_RETURN_IF_ERROR(tcc_node_infer(n));
  *out = o;
  return NULL;
}

/* v in the half type: a converted constant, or a Cast (made once). */
static tcc_status_t to_half(state_t *s, tcc_value_t *v, tcc_value_t **out) {
  if (s->as_half[v->id]) {
    *out = s->as_half[v->id];
    return NULL;
  }
  const tcc_node_t *p = v->producer;
  if (p && p->op == TCC_OP_CAST && is_dtype(p->inputs[0], s->half)) { /* a cast from the half type: its input */
    *out = s->as_half[v->id] = p->inputs[0];
    return NULL;
  }
  if (v->constant && !v->is_input && v->constant->dtype == TCC_DTYPE_F32) {
    tcc_tensor_t *t = convert(s->g->module, v->constant, s->half);
    char name[256];
    snprintf(name, sizeof name, "%s.%s", v->name ? v->name : "c", tcc_dtype_name(s->half));
    tcc_value_t *c = t ? tcc_graph_add_constant(s->g, tcc_graph_find(s->g, name) ? NULL : name, t) : NULL;
    if (!c) return tcc_status_oom();
    *out = s->as_half[v->id] = c;
    s->ours[c->id] = true;
    return NULL;
  }
  TCC_RETURN_IF_ERROR(cast(s, v, s->half, out));
  s->as_half[v->id] = *out;
  s->ours[(*out)->id] = true;
  return NULL;
}

static tcc_status_t to_f32(state_t *s, tcc_value_t *v, tcc_value_t **out) {
  if (!s->as_f32[v->id]) TCC_RETURN_IF_ERROR(cast(s, v, TCC_DTYPE_F32, &s->as_f32[v->id]));
  *out = s->as_f32[v->id];
  return NULL;
}

/* allow_tf32: float32 products that the GPU may run in TF32 (attribute tf32 = 1). */
static tcc_status_t mark_tf32(tcc_graph_t *g, bool *changed) {
  for (size_t i = 0; i < g->num_nodes; i++) {
    tcc_node_t *n = g->nodes[i];
    bool product = n->op == TCC_OP_MATMUL || n->op == TCC_OP_GEMM || n->op == TCC_OP_CONV;
    if (!product || n->num_inputs < 2 || !is_dtype(n->inputs[0], TCC_DTYPE_F32) || tcc_node_attr(n, "tf32")) continue;
    TCC_RETURN_IF_ERROR(tcc_node_set_attr_int(n, "tf32", 1));
    *changed = true;
  }
  return NULL;
}

tcc_status_t tcc_pass_precision(tcc_graph_t *g, const tcc_pass_context_t *ctx, const tcc_precision_options_t *options,
                                bool *changed) {
  *changed = false;
  tcc_precision_options_t defaults = TCC_PRECISION_DEFAULTS;
  if (!options) options = &defaults;
  if (ctx->precision == TCC_DTYPE_F32)
    return options->allow_tf32 && ctx->target && strncmp(ctx->target, "sm_", 3) == 0 ? mark_tf32(g, changed) : NULL;
  if (ctx->precision != TCC_DTYPE_F16 && ctx->precision != TCC_DTYPE_BF16)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "precision %s: expected f32, f16 or bf16",
                           tcc_dtype_name(ctx->precision));
  tcc_module_t *m = g->module;
  /* room for the ids made here: per input at most a constant or a cast each way (a node and a value), and
   * a cast per output */
  size_t extra = 4 * g->num_outputs + 16;
  for (size_t i = 0; i < g->num_nodes; i++) extra += 6 * (size_t)g->nodes[i]->num_inputs;
  uint32_t size = m->next_id + (uint32_t)extra + 1;
  state_t s = {g, ctx->precision, tcc_module_alloc(m, size * sizeof(tcc_value_t *)),
               tcc_module_alloc(m, size * sizeof(tcc_value_t *)), size, tcc_module_alloc(m, size),
               tcc_module_alloc(m, size)};
  if (!s.as_half || !s.as_f32 || !s.pinned || !s.ours) return tcc_status_oom();
  memset(s.ours, 0, size);
  memset(s.as_half, 0, size * sizeof(tcc_value_t *));
  memset(s.as_f32, 0, size * sizeof(tcc_value_t *));
  memset(s.pinned, 0, size);
  mark_subgraph_reads(g, g, s.pinned, false);
  /* the original f32 graph outputs */
  bool *was_f32 = tcc_module_alloc(m, g->num_outputs + 1);
  if (!was_f32) return tcc_status_oom();
  for (size_t i = 0; i < g->num_outputs; i++) was_f32[i] = is_dtype(g->outputs[i], TCC_DTYPE_F32);

  size_t num_nodes = g->num_nodes;
  for (size_t i = 0; i < num_nodes; i++) {
    tcc_node_t *n = g->nodes[i];
    kind_t kind = op_kind(n, options);
    if (kind == HALF) {
      bool any = false;
      for (int k = 0; k < n->num_inputs; k++)
        any |= is_dtype(n->inputs[k], TCC_DTYPE_F32) || (n->inputs[k] && s.ours[n->inputs[k]->id]);
      for (int k = 0; k < n->num_outputs; k++)
        if (n->outputs[k] && s.pinned[n->outputs[k]->id]) kind = OTHER;
      if (kind == HALF && any) {
        for (int k = 0; k < n->num_inputs; k++)
          if (is_dtype(n->inputs[k], TCC_DTYPE_F32)) TCC_RETURN_IF_ERROR(to_half(&s, n->inputs[k], &n->inputs[k]));
        TCC_RETURN_IF_ERROR(tcc_node_infer(n));
        for (int k = 0; k < n->num_outputs; k++)
          if (is_dtype(n->outputs[k], s.half)) s.ours[n->outputs[k]->id] = true;
        *changed = true;
        continue;
      }
      if (kind == HALF) continue;
    }
    /* kept and other ops read f32 */
    bool touched = false;
    for (int k = 0; k < n->num_inputs; k++)
      if (n->inputs[k] && s.ours[n->inputs[k]->id]) { /* half values of the model itself stay */
        TCC_RETURN_IF_ERROR(to_f32(&s, n->inputs[k], &n->inputs[k]));
        touched = true;
      }
    if (touched) {
      TCC_RETURN_IF_ERROR(tcc_node_infer(n));
      *changed = true;
    }
  }
  /* graph outputs keep their types: the half value gets a new name, the output is a cast of it (the cast
   * back to f32 made for an op kept in f32, when there is one) */
  for (size_t i = 0; i < g->num_outputs; i++) {
    tcc_value_t *o = g->outputs[i];
    if (!was_f32[i] || !is_dtype(o, s.half) || !o->producer) continue;
    char name[256];
    snprintf(name, sizeof name, "%s.%s", o->name, tcc_dtype_name(s.half));
    tcc_value_t *h = tcc_graph_add_value(g, tcc_graph_find(g, name) ? NULL : name);
    if (!h) return tcc_status_oom();
    TCC_RETURN_IF_ERROR(tcc_value_set_type(h, &o->type));
    for (size_t j = 0; j < g->num_nodes; j++)
      for (int k = 0; k < g->nodes[j]->num_inputs; k++)
        if (g->nodes[j]->inputs[k] == o) g->nodes[j]->inputs[k] = h;
    tcc_node_set_output(o->producer, o->producer_output, h);
    tcc_value_t *back = s.as_f32[o->id];
    if (back) {
      for (size_t j = 0; j < g->num_nodes; j++)
        for (int k = 0; k < g->nodes[j]->num_inputs; k++)
          if (g->nodes[j]->inputs[k] == back) g->nodes[j]->inputs[k] = o;
      tcc_node_set_output(back->producer, 0, o);
      TCC_RETURN_IF_ERROR(tcc_node_infer(o->producer));
    } else {
      TCC_RETURN_IF_ERROR(cast(&s, h, TCC_DTYPE_F32, &back));
      tcc_node_t *c = back->producer;
      snprintf(name, sizeof name, "cast_f32_%s", o->name);
      c->name = tcc_module_strdup(m, name);
      tcc_node_set_output(c, 0, o);
      TCC_RETURN_IF_ERROR(tcc_node_infer(c));
    }
    *changed = true;
  }
  TCC_RETURN_IF_ERROR(tcc_module_check(m));
  return *changed ? tcc_graph_sort(g) : NULL;
}
