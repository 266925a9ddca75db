/* The CPU convolution template (contract in codegen/cpu_conv.h): recognizes an NCHW<b>c conv and its
 * epilogue (describe), picks the knobs (tcc_cpu_conv_default_knobs), and writes the kernel as LLVM IR with
 * <b x float> vectors: SYM_packed calls ctx->parallel_for over (batch, oc tile, output row) items with the
 * outlined SYM_body; each item computes one output row of one oc tile in register tiles (emit_row). Loop
 * counters are phis; accumulators live in allocas that LLVM promotes to registers. */
#include "codegen/cpu_conv.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autotune/space.h"
#include "codegen/target.h"
#include "ir/infer.h"

enum { MAX_EPILOGUE = 16, MAX_TILE = 64, MAX_OW_BLOCK = 64, MAX_OC_TILE = 16 };

/* ---- what the template computes ------------------------------------------------------------------- */

typedef enum {
  EP_RELU, EP_CLIP, EP_LEAKY_RELU, EP_HARD_SIGMOID, EP_HARD_SWISH,
  EP_ADD, EP_SUB, EP_MUL, EP_DIV, EP_MAX, EP_MIN,
} ep_kind_t;

/* The dims of y [N, M/b, OH, OW, b] an operand is indexed by. */
enum { D_N, D_OCB, D_OH, D_OW, D_LANE, NDIMS };

/* An operand of a binary epilogue op broadcast against y: a scalar constant, or elements of a parameter
 * or of embedded constant data with a stride per y dim. */
typedef struct {
  bool is_scalar;
  float scalar;
  int param;                /* parameter index, or -1: `data` */
  const tcc_tensor_t *data; /* f32 constant */
  int64_t stride[NDIMS];    /* row-major strides of the operand's dims (0 where broadcast) */
  bool broadcast[NDIMS];    /* the operand's dim is 1 (or absent) where y's is not */
} operand_t;

typedef struct {
  ep_kind_t kind;
  float a, b;   /* clip: bounds; leaky_relu: alpha in a; hard_sigmoid: alpha, beta */
  bool swapped; /* binary: the operand is the left-hand side */
  operand_t opnd;
} ep_t;

typedef struct {
  int b; /* lanes of a channel block */
  bool depthwise;
  const tcc_dim_t *batch;
  int64_t CB, H, W, MB, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw;
  int64_t c_active; /* input channels that can reach the output */
  int x, w, bias, y, num_params;
  int num_ep;
  ep_t ep[MAX_EPILOGUE];
  const char *target;
} conv_t;

static bool const_dim(const tcc_dim_t *d, int64_t *v) {
  if (!d || !tcc_dim_is_const(d)) return false;
  *v = tcc_dim_value(d);
  return true;
}

static bool is_f32_tensor(const tcc_value_t *v, int rank) {
  return v && v->type.kind == TCC_TYPE_TENSOR && v->type.dtype == TCC_DTYPE_F32 &&
         (rank < 0 || v->type.rank == rank);
}

/* The parameter index of body value v (a body input), or -1. */
static int body_param(const tcc_graph_t *body, const tcc_value_t *v) {
  for (size_t i = 0; body && i < body->num_inputs; i++)
    if (body->inputs[i] == v) return (int)i;
  return -1;
}

/* The constant contents of v: its own, or those of the node input a body input stands for. */
static const tcc_tensor_t *constant_of(const tcc_node_t *node, const tcc_graph_t *body, const tcc_value_t *v) {
  if (!v) return NULL;
  if (v->constant) return v->constant;
  int p = body_param(body, v);
  return p >= 0 && node->inputs[p] ? node->inputs[p]->constant : NULL;
}

static bool scalar_constant(const tcc_node_t *node, const tcc_graph_t *body, const tcc_value_t *v, float *out) {
  const tcc_tensor_t *t = constant_of(node, body, v);
  if (!t || t->numel != 1 || t->dtype != TCC_DTYPE_F32) return false;
  *out = (float)tcc_tensor_get_float(t, 0);
  return true;
}

/* Operand v of an epilogue op, broadcast against y. */
static const char *describe_operand(const tcc_node_t *node, const tcc_graph_t *body, const tcc_value_t *v,
                                    const tcc_value_t *y, operand_t *o) {
  memset(o, 0, sizeof *o);
  if (!is_f32_tensor(v, -1) || v->type.rank > NDIMS) return "an epilogue operand that is not f32 of rank <= 5";
  if (scalar_constant(node, body, v, &o->scalar)) {
    o->is_scalar = true;
    return NULL;
  }
  o->param = body_param(body, v);
  if (o->param < 0) {
    if (!v->constant) return "an epilogue operand computed inside the body";
    o->data = v->constant;
  }
  int r = v->type.rank;
  int64_t stride = 1;
  for (int d = 0; d < NDIMS - r; d++) o->broadcast[d] = true;
  for (int d = r - 1; d >= 0; d--) {
    int yd = NDIMS - r + d;
    const tcc_dim_t *od = v->type.dims[d];
    int64_t ov = 0, yv = 0;
    if (const_dim(od, &ov) && ov == 1 && !(const_dim(y->type.dims[yd], &yv) && yv == 1)) {
      o->broadcast[yd] = true;
      continue;
    }
    if (od != y->type.dims[yd]) return "an epilogue operand whose shape does not broadcast to the output";
    o->stride[yd] = stride;
    if (d > 0 && !const_dim(od, &ov)) return "an epilogue operand with a symbolic dim after its first";
    if (d > 0) stride *= ov;
  }
  return NULL;
}

/* The epilogue op of body node n whose chained input is cur. */
static const char *describe_epilogue(const tcc_node_t *node, const tcc_graph_t *body, const tcc_node_t *n,
                                     const tcc_value_t *cur, const tcc_value_t *y, ep_t *ep) {
  memset(ep, 0, sizeof *ep);
  switch (n->op) {
    case TCC_OP_RELU: ep->kind = EP_RELU; break;
    case TCC_OP_LEAKY_RELU:
      ep->kind = EP_LEAKY_RELU, ep->a = (float)tcc_node_attr_float(n, "alpha", 0.01);
      break;
    case TCC_OP_HARD_SIGMOID:
      ep->kind = EP_HARD_SIGMOID;
      ep->a = (float)tcc_node_attr_float(n, "alpha", 0.2), ep->b = (float)tcc_node_attr_float(n, "beta", 0.5);
      break;
    case TCC_OP_HARD_SWISH: ep->kind = EP_HARD_SWISH; break;
    case TCC_OP_CLIP:
      ep->kind = EP_CLIP, ep->a = -INFINITY, ep->b = INFINITY;
      if (n->num_inputs > 1 && n->inputs[1] && !scalar_constant(node, body, n->inputs[1], &ep->a))
        return "a clip whose bounds are not constant";
      if (n->num_inputs > 2 && n->inputs[2] && !scalar_constant(node, body, n->inputs[2], &ep->b))
        return "a clip whose bounds are not constant";
      if (n->inputs[0] != cur) return "an epilogue that does not chain through the activation's input";
      return NULL;
    case TCC_OP_ADD: ep->kind = EP_ADD; break;
    case TCC_OP_SUB: ep->kind = EP_SUB; break;
    case TCC_OP_MUL: ep->kind = EP_MUL; break;
    case TCC_OP_DIV: ep->kind = EP_DIV; break;
    case TCC_OP_MAX: ep->kind = EP_MAX; break;
    case TCC_OP_MIN: ep->kind = EP_MIN; break;
    default: return "an epilogue op the template does not handle (only bias/add/sub/mul/div/max/min, relu, clip, "
                    "leaky_relu, hard_sigmoid, hard_swish)";
  }
  if (ep->kind < EP_ADD) {
    if (n->num_inputs != 1 || n->inputs[0] != cur) return "an epilogue that does not chain through the activation";
    return NULL;
  }
  if (n->num_inputs != 2 || !n->inputs[0] || !n->inputs[1] || (n->inputs[0] == cur) == (n->inputs[1] == cur))
    return "a binary epilogue op that does not read the chain exactly once";
  ep->swapped = n->inputs[1] == cur;
  return describe_operand(node, body, n->inputs[ep->swapped ? 0 : 1], y, &ep->opnd);
}

/* Input channels c (of C = CB * b) with a nonzero weight; the rest are skipped. */
static int64_t active_channels(const tcc_tensor_t *wt, const conv_t *c) {
  int64_t channels = c->CB * c->b;
  if (!wt || wt->dtype != TCC_DTYPE_F32 || wt->numel != c->MB * c->CB * c->KH * c->KW * c->b * c->b) return channels;
  int64_t last = -1, taps = c->KH * c->KW;
  const char *data = wt->data;
  for (int64_t e = 0; e < wt->numel; e++) {
    int64_t ci = (e / c->b) % c->b, cb = (e / (c->b * c->b * taps)) % c->CB, ch = cb * c->b + ci;
    if (ch <= last) continue;
    float v;
    memcpy(&v, data + e * 4, 4);
    if (v != 0.0f) last = ch;
  }
  return last < 0 ? 1 : last + 1;
}

#define DECLINE(msg) \
  do {               \
    *why = (msg);    \
    return false;    \
  } while (0)

/* Whether the template handles node on target; fills c. */
static bool describe(const tcc_node_t *node, const char *target, conv_t *c, const char **why) {
  memset(c, 0, sizeof *c);
  c->bias = -1;
  if (!target || !tcc_cpu_target_find(target)) DECLINE("not a CPU target");
  const tcc_node_t *cv = node;
  const tcc_graph_t *body = NULL;
  if (node->op == TCC_OP_FUSED) {
    const tcc_attr_t *a = tcc_node_attr(node, "body");
    if (!a || a->kind != TCC_ATTR_GRAPH || !a->g) DECLINE("a fused node without a body");
    body = a->g;
    if (body->num_nodes < 1 || body->nodes[0]->op != TCC_OP_CONV) DECLINE("a fused node that is not a conv epilogue");
    if (node->num_outputs != 1 || body->num_outputs != 1 || !node->outputs[0]) DECLINE("a fused node with several outputs");
    if (body->num_inputs != (size_t)node->num_inputs) DECLINE("a fused node whose body does not match its inputs");
    for (int i = 0; i < node->num_inputs; i++)
      if (!node->inputs[i]) DECLINE("a fused node with an omitted input");
    cv = body->nodes[0];
  } else if (node->op != TCC_OP_CONV) {
    DECLINE("not a convolution");
  }
  int block = 0;
  tcc_status_t st = tcc_infer_layout(cv, &block);
  if (st) {
    tcc_status_free(st);
    DECLINE("an unknown layout");
  }
  if (block != 4 && block != 8 && block != 16) DECLINE("a layout other than NCHW4c / NCHW8c / NCHW16c");
  c->b = block;
  if (cv->num_outputs != 1 || cv->num_inputs < 2) DECLINE("a conv with several outputs or too few inputs");
  const tcc_value_t *x = cv->inputs[0], *w = cv->inputs[1];
  const tcc_value_t *bias = cv->num_inputs > 2 ? cv->inputs[2] : NULL;
  const tcc_value_t *y = cv->outputs[0];
  if (!is_f32_tensor(x, 5) || !is_f32_tensor(w, 6) || !is_f32_tensor(y, 5) || (bias && !is_f32_tensor(bias, 1)))
    DECLINE("not a 2-D f32 convolution");
  int64_t xb, yb, wd[6], bl = 0;
  for (int i = 0; i < 6; i++)
    if (!const_dim(w->type.dims[i], &wd[i])) DECLINE("symbolic weight dims");
  if (!const_dim(x->type.dims[1], &c->CB) || !const_dim(x->type.dims[2], &c->H) || !const_dim(x->type.dims[3], &c->W) ||
      !const_dim(x->type.dims[4], &xb) || !const_dim(y->type.dims[1], &c->MB) || !const_dim(y->type.dims[2], &c->OH) ||
      !const_dim(y->type.dims[3], &c->OW) || !const_dim(y->type.dims[4], &yb) || (bias && !const_dim(bias->type.dims[0], &bl)))
    DECLINE("symbolic sizes other than the batch");
  if (x->type.dims[0] != y->type.dims[0]) DECLINE("input and output batches differ");
  c->batch = y->type.dims[0];
  if (xb != block || yb != block || wd[5] != block || wd[0] != c->MB) DECLINE("blocks that do not match the layout");
  c->KH = wd[2], c->KW = wd[3];
  if (bias && bl != c->MB * block) DECLINE("a bias that does not cover the padded output channels");
  const char *ap = tcc_node_attr_string(cv, "auto_pad", "NOTSET");
  bool valid_pad = !strcmp(ap, "VALID");
  if (strcmp(ap, "NOTSET") && !valid_pad) DECLINE("auto_pad SAME");
  const int64_t *s = NULL, *d = NULL, *p = NULL, *ks = NULL;
  int64_t ns = 0, nd = 0, np = 0, nk = 0;
  bool has_s = tcc_node_attr_ints(cv, "strides", &s, &ns), has_d = tcc_node_attr_ints(cv, "dilations", &d, &nd);
  bool has_p = tcc_node_attr_ints(cv, "pads", &p, &np);
  if ((has_s && ns != 2) || (has_d && nd != 2) || (has_p && np != 4)) DECLINE("malformed window attributes");
  if (tcc_node_attr_ints(cv, "kernel_shape", &ks, &nk) && (nk != 2 || ks[0] != c->KH || ks[1] != c->KW))
    DECLINE("a kernel_shape that differs from the weights");
  c->sh = has_s ? s[0] : 1, c->sw = has_s ? s[1] : 1, c->dh = has_d ? d[0] : 1, c->dw = has_d ? d[1] : 1;
  int64_t ph1 = 0, pw1 = 0;
  if (has_p && !valid_pad) c->ph = p[0], c->pw = p[1], ph1 = p[2], pw1 = p[3];
  if (c->sh < 1 || c->sw < 1 || c->dh < 1 || c->dw < 1 || c->ph < 0 || c->pw < 0 || ph1 < 0 || pw1 < 0 || c->KH < 1 ||
      c->KW < 1)
    DECLINE("negative or zero window attributes");
  if (c->OH != (c->H + c->ph + ph1 - c->dh * (c->KH - 1) - 1) / c->sh + 1 ||
      c->OW != (c->W + c->pw + pw1 - c->dw * (c->KW - 1) - 1) / c->sw + 1 || c->OH < 1 || c->OW < 1)
    DECLINE("output sizes that do not match the window");
  int64_t group = tcc_node_attr_int(cv, "group", 1);
  if (group == 1 && wd[1] == c->CB && wd[4] == block) {
    c->depthwise = false;
  } else if (group > 1 && wd[1] == 1 && wd[4] == 1 && c->CB == c->MB && (c->MB * block) / group == 1) {
    c->depthwise = true;
  } else {
    DECLINE("a grouped convolution that is not depthwise");
  }
  if (c->OW > 1 << 20 || c->CB * c->H * c->W > (int64_t)1 << 40) DECLINE("sizes beyond the template's range");

  /* parameters: the node's present inputs, then the output */
  if (body) {
    c->x = body_param(body, x), c->w = body_param(body, w), c->bias = bias ? body_param(body, bias) : -1;
    if (c->x < 0 || c->w < 0 || (bias && c->bias < 0)) DECLINE("a conv whose operands are not inputs of the fused node");
    c->y = node->num_inputs, c->num_params = node->num_inputs + 1;
    const tcc_value_t *cur = y;
    for (size_t i = 1; i < body->num_nodes; i++) {
      const tcc_node_t *n = body->nodes[i];
      if (c->num_ep == MAX_EPILOGUE) DECLINE("an epilogue longer than the template's");
      const tcc_value_t *o = n->num_outputs == 1 ? n->outputs[0] : NULL;
      if (!is_f32_tensor(o, 5)) DECLINE("an epilogue op whose result is not f32 of the conv's shape");
      for (int k = 0; k < 5; k++)
        if (o->type.dims[k] != y->type.dims[k]) DECLINE("an epilogue op whose result is not of the conv's shape");
      const char *bad = describe_epilogue(node, body, n, cur, y, &c->ep[c->num_ep]);
      if (bad) DECLINE(bad);
      c->num_ep++;
      cur = o;
    }
    if (body->outputs[0] != cur) DECLINE("a body whose output is not the end of the epilogue");
  } else {
    c->x = 0, c->w = 1, c->bias = bias ? 2 : -1;
    c->y = bias ? 3 : 2;
    c->num_params = c->y + 1;
  }
  c->c_active = c->depthwise ? c->CB * block : active_channels(constant_of(node, body, w), c);
  c->target = target;
  return true;
}

bool tcc_cpu_conv_check(const tcc_node_t *node, const char *target, const char **reason) {
  conv_t c;
  const char *why = NULL;
  bool ok = describe(node, target, &c, &why);
  if (reason) *reason = ok ? NULL : why;
  return ok;
}

/* ---- knobs ---------------------------------------------------------------------------------------- */

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

static bool is_pointwise(const conv_t *c) {
  return c->KH == 1 && c->KW == 1 && c->sh == 1 && c->sw == 1 && c->ph == 0 && c->pw == 0 && c->H == c->OH &&
         c->W == c->OW;
}

/* Whether output rows can be merged: every operand is broadcast in both spatial dims or in neither (then
 * its rows are contiguous, like y's). */
static bool rows_mergeable(const conv_t *c) {
  if (!is_pointwise(c)) return false;
  for (int i = 0; i < c->num_ep; i++) {
    const operand_t *o = &c->ep[i].opnd;
    if (c->ep[i].kind >= EP_ADD && !o->is_scalar && o->broadcast[D_OH] != o->broadcast[D_OW]) return false;
  }
  return true;
}

/* Balanced column blocks of at most max_width. */
static int balanced_block(int64_t width, int64_t max_width) {
  int64_t nb = ceil_div(width, max_width);
  return (int)ceil_div(width, nb);
}

/* Vector registers of b lanes on the target. */
static tcc_status_t vector_registers(const conv_t *c, int *out) {
  tcc_space_target_t caps;
  TCC_RETURN_IF_ERROR(tcc_space_target_caps(c->target, &caps));
  *out = c->b <= caps.lanes ? caps.registers : caps.registers * caps.lanes / c->b;
  return NULL;
}

/* The widest tile of oct oc blocks whose accumulators, oct weight vectors and one broadcast input fit in
 * vregs registers (as the space script computes it). */
static int max_ow_block(int vregs, int oct) {
  int owb = (vregs - 1 - oct) / oct;
  if (owb > MAX_TILE / oct) owb = MAX_TILE / oct;
  if (owb > MAX_OW_BLOCK) owb = MAX_OW_BLOCK;
  return owb < 1 ? 1 : owb;
}

static tcc_status_t space_query(const conv_t *c, tcc_space_query_t *q) {
  TCC_RETURN_IF_ERROR(tcc_space_query_init(q, c->depthwise ? "depthwise_conv2d" : "conv2d", c->target));
  snprintf(q->layout, sizeof q->layout, "nchw%dc", c->b);
  int64_t batch = -1;
  if (tcc_dim_is_const(c->batch)) batch = tcc_dim_value(c->batch);
  const struct {
    const char *name;
    int64_t value;
  } fields[] = {
      {"batch", batch},  {"block", c->b},   {"cb", c->CB},         {"mb", c->MB},   {"h", c->H},
      {"w", c->W},       {"oh", c->OH},     {"ow", c->OW},         {"kh", c->KH},   {"kw", c->KW},
      {"sh", c->sh},     {"sw", c->sw},     {"ph", c->ph},         {"pw", c->pw},   {"dh", c->dh},
      {"dw", c->dw},     {"depthwise", c->depthwise}, {"pointwise", is_pointwise(c)},
      {"mergeable", rows_mergeable(c)}, {"c_active", c->c_active},
  };
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    TCC_RETURN_IF_ERROR(tcc_space_query_set(q, fields[i].name, fields[i].value));
  return NULL;
}

/* The defaults of autotune/spaces/cpu_conv.lua. */
static tcc_status_t default_knobs(const conv_t *c, tcc_cpu_conv_knobs_t *k) {
  tcc_space_query_t q;
  tcc_space_knobs_t kn;
  TCC_RETURN_IF_ERROR(space_query(c, &q));
  TCC_RETURN_IF_ERROR(tcc_space_defaults("cpu_conv", &q, &kn));
  k->ow_block = (int)tcc_space_knob(&kn, "ow_block", 0);
  k->oc_tile = (int)tcc_space_knob(&kn, "oc_tile", 1);
  k->loop_order = (int)tcc_space_knob(&kn, "loop_order", TCC_CPU_CONV_ORDER_CHANNELS_OUTER);
  k->row_merge = (int)tcc_space_knob(&kn, "row_merge", 1);
  return NULL;
}

tcc_status_t tcc_cpu_conv_space_query(const tcc_node_t *node, const char *target, tcc_space_query_t *q, bool *applies) {
  conv_t c;
  const char *why;
  *applies = describe(node, target, &c, &why);
  return *applies ? space_query(&c, q) : NULL;
}

tcc_status_t tcc_cpu_conv_default_knobs(const tcc_node_t *node, const char *target, tcc_cpu_conv_knobs_t *out) {
  conv_t c;
  const char *why;
  memset(out, 0, sizeof *out);
  return describe(node, target, &c, &why) ? default_knobs(&c, out) : NULL;
}

/* The knobs to use: defaults filled in, each checked. */
static tcc_status_t resolve_knobs(const conv_t *c, const tcc_cpu_conv_knobs_t *given, tcc_cpu_conv_knobs_t *k) {
  tcc_status_t st = NULL;
  tcc_cpu_conv_knobs_t d, none = {0};
  TCC_RETURN_IF_ERROR(default_knobs(c, &d));
  *k = given ? *given : none;
  bool same_tile = !k->oc_tile || k->oc_tile == d.oc_tile;
  if (!k->oc_tile) k->oc_tile = d.oc_tile;
  if (!k->loop_order) k->loop_order = d.loop_order;
  if (!k->row_merge) k->row_merge = same_tile ? d.row_merge : 1;
  if (!k->ow_block && k->oc_tile >= 1) {
    int vregs = 0;
    if (same_tile && k->row_merge == d.row_merge) k->ow_block = d.ow_block;
    else if (!(st = vector_registers(c, &vregs)))
      k->ow_block = balanced_block(c->OW * k->row_merge, max_ow_block(vregs, k->oc_tile));
    TCC_RETURN_IF_ERROR(st);
  }
  if (k->oc_tile < 1 || k->oc_tile > MAX_OC_TILE || c->MB % k->oc_tile || (c->depthwise && k->oc_tile != 1))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "cpu_conv: oc_tile %d must divide %lld output-channel blocks%s",
                           k->oc_tile, (long long)c->MB, c->depthwise ? " (and be 1 for a depthwise conv)" : "");
  if (k->ow_block < 1 || k->ow_block > MAX_OW_BLOCK || k->ow_block * k->oc_tile > MAX_TILE)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "cpu_conv: ow_block %d x oc_tile %d exceeds the tile limit (%d)",
                           k->ow_block, k->oc_tile, MAX_TILE);
  if (k->loop_order != TCC_CPU_CONV_ORDER_CHANNELS_OUTER && k->loop_order != TCC_CPU_CONV_ORDER_TAPS_OUTER)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "cpu_conv: unknown loop_order %d", k->loop_order);
  if (k->row_merge < 1 || (k->row_merge > 1 && (!rows_mergeable(c) || c->OH % k->row_merge)))
    return tcc_status_make(TCC_INVALID_ARGUMENT,
                           "cpu_conv: row_merge %d needs a 1x1 stride-1 unpadded conv with rows divisible by it",
                           k->row_merge);
  return NULL;
}

/* ---- emission ------------------------------------------------------------------------------------- */

typedef struct {
  LLVMContextRef cx;
  LLVMModuleRef mod;
  LLVMBuilderRef bld;
  LLVMTypeRef i32, i64, f32, ptr, vec, fma_ty;
  LLVMValueRef fn, fma;
  const conv_t *c;
  int owb, oct, order;
  int64_t H, W, OH, OW; /* the geometry after merging rows */
  int64_t stride[MAX_EPILOGUE][NDIMS];
  LLVMValueRef *params;            /* by parameter index */
  LLVMValueRef data[MAX_EPILOGUE];      /* embedded operand data */
  LLVMValueRef acc[MAX_TILE];
  LLVMValueRef n, ocb, oh, kh_lo, kh_hi; /* the current row */
} gen_t;

typedef struct {
  LLVMValueRef iv;
  LLVMBasicBlockRef header, exit;
} loop_t;

static LLVMValueRef k64(gen_t *g, int64_t v) { return LLVMConstInt(g->i64, (unsigned long long)v, 1); }
static LLVMValueRef add(gen_t *g, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(g->bld, a, b, ""); }
static LLVMValueRef mul(gen_t *g, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildMul(g->bld, a, b, ""); }
static LLVMValueRef addk(gen_t *g, LLVMValueRef a, int64_t v) { return v ? add(g, a, k64(g, v)) : a; }
static LLVMValueRef mulk(gen_t *g, LLVMValueRef a, int64_t v) { return v == 1 ? a : mul(g, a, k64(g, v)); }

static LLVMBasicBlockRef new_block(gen_t *g, const char *name) {
  return LLVMAppendBasicBlockInContext(g->cx, g->fn, name);
}

/* for (iv = start; iv < end; iv++): the builder is left in the body. */
static LLVMValueRef loop_begin(gen_t *g, loop_t *l, LLVMValueRef start, LLVMValueRef end, const char *name) {
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(g->bld);
  l->header = new_block(g, name);
  LLVMBasicBlockRef body = new_block(g, "body");
  l->exit = new_block(g, "done");
  LLVMBuildBr(g->bld, l->header);
  LLVMPositionBuilderAtEnd(g->bld, l->header);
  l->iv = LLVMBuildPhi(g->bld, g->i64, name);
  LLVMAddIncoming(l->iv, &start, &pre, 1);
  LLVMBuildCondBr(g->bld, LLVMBuildICmp(g->bld, LLVMIntSLT, l->iv, end, ""), body, l->exit);
  LLVMPositionBuilderAtEnd(g->bld, body);
  return l->iv;
}

static void loop_end(gen_t *g, loop_t *l) {
  LLVMValueRef next = addk(g, l->iv, 1);
  LLVMBasicBlockRef latch = LLVMGetInsertBlock(g->bld);
  LLVMBuildBr(g->bld, l->header);
  LLVMAddIncoming(l->iv, &next, &latch, 1);
  LLVMPositionBuilderAtEnd(g->bld, l->exit);
}

static LLVMValueRef at(gen_t *g, LLVMValueRef base, LLVMValueRef off) {
  return LLVMBuildInBoundsGEP2(g->bld, g->f32, base, &off, 1, "");
}

static LLVMValueRef load_vec(gen_t *g, LLVMValueRef base, LLVMValueRef off) {
  LLVMValueRef v = LLVMBuildLoad2(g->bld, g->vec, at(g, base, off), "");
  LLVMSetAlignment(v, 4);
  return v;
}

static LLVMValueRef splat(gen_t *g, LLVMValueRef s) {
  LLVMValueRef v = LLVMBuildInsertElement(g->bld, LLVMGetPoison(g->vec), s, LLVMConstInt(g->i32, 0, 0), "");
  return LLVMBuildShuffleVector(g->bld, v, LLVMGetPoison(g->vec),
                                LLVMConstNull(LLVMVectorType(g->i32, (unsigned)g->c->b)), "");
}

static LLVMValueRef splat_const(gen_t *g, double v) { return splat(g, LLVMConstReal(g->f32, v)); }

static LLVMValueRef load_splat(gen_t *g, LLVMValueRef base, LLVMValueRef off) {
  LLVMValueRef s = LLVMBuildLoad2(g->bld, g->f32, at(g, base, off), "");
  LLVMSetAlignment(s, 4);
  return splat(g, s);
}

static void store_vec(gen_t *g, LLVMValueRef v, LLVMValueRef base, LLVMValueRef off) {
  LLVMSetAlignment(LLVMBuildStore(g->bld, v, at(g, base, off)), 4);
}

static LLVMValueRef load_acc(gen_t *g, int i) { return LLVMBuildLoad2(g->bld, g->vec, g->acc[i], ""); }
static void store_acc(gen_t *g, int i, LLVMValueRef v) { LLVMBuildStore(g->bld, v, g->acc[i]); }

static LLVMValueRef fma3(gen_t *g, LLVMValueRef a, LLVMValueRef b, LLVMValueRef acc) {
  LLVMValueRef args[3] = {a, b, acc};
  return LLVMBuildCall2(g->bld, g->fma_ty, g->fma, args, 3, "");
}

static LLVMValueRef fsel(gen_t *g, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b, LLVMValueRef t, LLVMValueRef f) {
  return LLVMBuildSelect(g->bld, LLVMBuildFCmp(g->bld, p, a, b, ""), t, f, "");
}

/* max(v, lo) and min(v, hi) as the evaluator orders them (a NaN v passes through). */
static LLVMValueRef clamp(gen_t *g, LLVMValueRef v, double lo, double hi) {
  if (lo > -INFINITY) {
    LLVMValueRef l = splat_const(g, lo);
    v = fsel(g, LLVMRealOLT, v, l, l, v);
  }
  if (hi < INFINITY) {
    LLVMValueRef h = splat_const(g, hi);
    v = fsel(g, LLVMRealOGT, v, h, h, v);
  }
  return v;
}

/* Whether input column (ow0 + j) * sw - pw + kw * dw lies inside the row. */
static bool tap_valid(const gen_t *g, int64_t ow0, int64_t j, int64_t kw) {
  int64_t iw = (ow0 + j) * g->c->sw - g->c->pw + kw * g->c->dw;
  return iw >= 0 && iw < g->W;
}

static bool block_clean(const gen_t *g, int64_t ow0, int64_t width) {
  for (int64_t j = 0; j < width; j++)
    for (int64_t kw = 0; kw < g->c->KW; kw++)
      if (!tap_valid(g, ow0, j, kw)) return false;
  return true;
}

/* The epilogue operand of op i at output vector (n, ocb, oh, ow). */
static LLVMValueRef operand_at(gen_t *g, int i, LLVMValueRef ocb, LLVMValueRef ow) {
  const operand_t *o = &g->c->ep[i].opnd;
  if (o->is_scalar) return splat_const(g, o->scalar);
  const int64_t *s = g->stride[i];
  LLVMValueRef off = k64(g, 0);
  if (s[D_N]) off = add(g, off, mulk(g, g->n, s[D_N]));
  if (s[D_OCB]) off = add(g, off, mulk(g, ocb, s[D_OCB]));
  if (s[D_OH]) off = add(g, off, mulk(g, g->oh, s[D_OH]));
  if (s[D_OW]) off = add(g, off, mulk(g, ow, s[D_OW]));
  LLVMValueRef base = o->param >= 0 ? g->params[o->param] : g->data[i];
  return s[D_LANE] ? load_vec(g, base, off) : load_splat(g, base, off);
}

static LLVMValueRef apply_epilogue(gen_t *g, int i, LLVMValueRef v, LLVMValueRef ocb, LLVMValueRef ow) {
  const ep_t *ep = &g->c->ep[i];
  LLVMBuilderRef b = g->bld;
  switch (ep->kind) {
    case EP_RELU: return clamp(g, v, 0.0, INFINITY);
    case EP_CLIP: return clamp(g, v, ep->a, ep->b);
    case EP_LEAKY_RELU:
      return fsel(g, LLVMRealOLT, v, splat_const(g, 0.0), LLVMBuildFMul(b, splat_const(g, ep->a), v, ""), v);
    case EP_HARD_SIGMOID:
      return clamp(g, LLVMBuildFAdd(b, LLVMBuildFMul(b, splat_const(g, ep->a), v, ""), splat_const(g, ep->b), ""), 0, 1);
    case EP_HARD_SWISH: {
      LLVMValueRef t = LLVMBuildFAdd(b, LLVMBuildFMul(b, splat_const(g, (float)(1.0 / 6)), v, ""), splat_const(g, 0.5), "");
      return LLVMBuildFMul(b, v, clamp(g, t, 0, 1), "");
    }
    default: break;
  }
  LLVMValueRef o = operand_at(g, i, ocb, ow), l = ep->swapped ? o : v, r = ep->swapped ? v : o;
  switch (ep->kind) {
    case EP_ADD: return LLVMBuildFAdd(b, l, r, "");
    case EP_SUB: return LLVMBuildFSub(b, l, r, "");
    case EP_MUL: return LLVMBuildFMul(b, l, r, "");
    case EP_DIV: return LLVMBuildFDiv(b, l, r, "");
    case EP_MAX: return fsel(g, LLVMRealOLT, l, r, r, l);
    default: return fsel(g, LLVMRealOGT, l, r, r, l);
  }
}

/* ---- the direct convolution: one channel segment (cnt channels of input block icb) at one tap ---- */

/* acc[t][j] += x[n, icb, ih, iw_j, ci] * w[ocb + t, icb, kh, kw, ci, :] for ci < cnt and the columns j with
 * valid[j] (NULL: all). */
static void direct_channels(gen_t *g, LLVMValueRef ow0, int width, LLVMValueRef icb, LLVMValueRef kh, LLVMValueRef kw,
                            int64_t cnt, const bool *valid) {
  const conv_t *c = g->c;
  int b = c->b;
  LLVMValueRef ih = add(g, addk(g, mulk(g, g->oh, c->sh), -c->ph), mulk(g, kh, c->dh));
  LLVMValueRef xrow = mulk(g, add(g, mulk(g, add(g, mulk(g, g->n, c->CB), icb), g->H), ih), g->W);
  LLVMValueRef col = add(g, addk(g, mulk(g, ow0, c->sw), -c->pw), mulk(g, kw, c->dw));
  LLVMValueRef xbase = mulk(g, add(g, xrow, col), b);
  LLVMValueRef tap = add(g, mulk(g, add(g, mulk(g, icb, c->KH), kh), c->KW), kw);
  LLVMValueRef wbase[MAX_OC_TILE];
  for (int t = 0; t < g->oct; t++) {
    LLVMValueRef blk = mulk(g, addk(g, g->ocb, t), c->CB * c->KH * c->KW);
    wbase[t] = mulk(g, add(g, blk, tap), (int64_t)b * b);
  }
  loop_t l;
  LLVMValueRef ci = loop_begin(g, &l, k64(g, 0), k64(g, cnt), "ci");
  LLVMValueRef wv[MAX_OC_TILE];
  for (int t = 0; t < g->oct; t++) wv[t] = load_vec(g, g->params[c->w], add(g, wbase[t], mulk(g, ci, b)));
  for (int j = 0; j < width; j++) {
    if (valid && !valid[j]) continue;
    LLVMValueRef xs = load_splat(g, g->params[c->x], add(g, addk(g, xbase, (int64_t)j * c->sw * b), ci));
    for (int t = 0; t < g->oct; t++) {
      int a = t * g->owb + j;
      store_acc(g, a, fma3(g, xs, wv[t], load_acc(g, a)));
    }
  }
  loop_end(g, &l);
}

/* The taps of one kernel row kh for input block icb: a run-time kw loop when every tap is valid (ow0s < 0),
 * else each kw with its valid columns. */
static void direct_row_taps(gen_t *g, LLVMValueRef ow0, int64_t ow0s, int width, LLVMValueRef icb, LLVMValueRef kh,
                            int64_t cnt) {
  if (ow0s < 0) {
    loop_t l;
    LLVMValueRef kw = loop_begin(g, &l, k64(g, 0), k64(g, g->c->KW), "kw");
    direct_channels(g, ow0, width, icb, kh, kw, cnt, NULL);
    loop_end(g, &l);
    return;
  }
  for (int64_t kw = 0; kw < g->c->KW; kw++) {
    bool valid[MAX_OW_BLOCK], any = false;
    for (int j = 0; j < width; j++) any |= valid[j] = tap_valid(g, ow0s, j, kw);
    if (any) direct_channels(g, ow0, width, icb, kh, k64(g, kw), cnt, valid);
  }
}

/* The input-channel segments: full blocks [0, nfull) in a loop, then the partial block of active channels. */
static void direct_segments_at_tap(gen_t *g, LLVMValueRef ow0, int width, LLVMValueRef kh, LLVMValueRef kw,
                                   const bool *valid) {
  const conv_t *c = g->c;
  int64_t nfull = c->c_active / c->b, rem = c->c_active % c->b;
  if (nfull > 0) {
    loop_t l;
    LLVMValueRef icb = loop_begin(g, &l, k64(g, 0), k64(g, nfull), "icb");
    direct_channels(g, ow0, width, icb, kh, kw, c->b, valid);
    loop_end(g, &l);
  }
  if (rem) direct_channels(g, ow0, width, k64(g, nfull), kh, kw, rem, valid);
}

static void direct_reduction(gen_t *g, LLVMValueRef ow0, int64_t ow0s, int width) {
  const conv_t *c = g->c;
  int64_t nfull = c->c_active / c->b, rem = c->c_active % c->b;
  loop_t lk;
  if (g->order == TCC_CPU_CONV_ORDER_CHANNELS_OUTER) {
    for (int seg = 0; seg < 2; seg++) {
      if ((seg == 0 && !nfull) || (seg == 1 && !rem)) continue;
      loop_t lc;
      LLVMValueRef icb = seg == 0 ? loop_begin(g, &lc, k64(g, 0), k64(g, nfull), "icb") : k64(g, nfull);
      LLVMValueRef kh = loop_begin(g, &lk, g->kh_lo, g->kh_hi, "kh");
      direct_row_taps(g, ow0, ow0s, width, icb, kh, seg == 0 ? c->b : rem);
      loop_end(g, &lk);
      if (seg == 0) loop_end(g, &lc);
    }
    return;
  }
  LLVMValueRef kh = loop_begin(g, &lk, g->kh_lo, g->kh_hi, "kh");
  if (ow0s < 0) {
    loop_t l;
    LLVMValueRef kw = loop_begin(g, &l, k64(g, 0), k64(g, c->KW), "kw");
    direct_segments_at_tap(g, ow0, width, kh, kw, NULL);
    loop_end(g, &l);
  } else {
    for (int64_t kw = 0; kw < c->KW; kw++) {
      bool valid[MAX_OW_BLOCK], any = false;
      for (int j = 0; j < width; j++) any |= valid[j] = tap_valid(g, ow0s, j, kw);
      if (any) direct_segments_at_tap(g, ow0, width, kh, k64(g, kw), valid);
    }
  }
  loop_end(g, &lk);
}

/* ---- depthwise: acc[j] += x[n, ocb, ih, iw_j, :] * w[ocb, 0, kh, kw, 0, :] ---- */

static void depthwise_tap(gen_t *g, LLVMValueRef ow0, int width, LLVMValueRef xrow, LLVMValueRef kh, LLVMValueRef kw,
                          const bool *valid) {
  const conv_t *c = g->c;
  int b = c->b;
  LLVMValueRef woff = mulk(g, add(g, mulk(g, add(g, mulk(g, g->ocb, c->KH), kh), c->KW), kw), b);
  LLVMValueRef wv = load_vec(g, g->params[c->w], woff);
  LLVMValueRef col = add(g, addk(g, mulk(g, ow0, c->sw), -c->pw), mulk(g, kw, c->dw));
  LLVMValueRef xbase = mulk(g, add(g, xrow, col), b);
  for (int j = 0; j < width; j++) {
    if (valid && !valid[j]) continue;
    LLVMValueRef xv = load_vec(g, g->params[c->x], addk(g, xbase, (int64_t)j * c->sw * b));
    store_acc(g, j, fma3(g, xv, wv, load_acc(g, j)));
  }
}

static void depthwise_reduction(gen_t *g, LLVMValueRef ow0, int64_t ow0s, int width) {
  const conv_t *c = g->c;
  loop_t lk;
  LLVMValueRef kh = loop_begin(g, &lk, g->kh_lo, g->kh_hi, "kh");
  LLVMValueRef ih = add(g, addk(g, mulk(g, g->oh, c->sh), -c->ph), mulk(g, kh, c->dh));
  LLVMValueRef xrow = mulk(g, add(g, mulk(g, add(g, mulk(g, g->n, c->CB), g->ocb), g->H), ih), g->W);
  if (ow0s < 0) {
    loop_t l;
    LLVMValueRef kw = loop_begin(g, &l, k64(g, 0), k64(g, c->KW), "kw");
    depthwise_tap(g, ow0, width, xrow, kh, kw, NULL);
    loop_end(g, &l);
  } else {
    for (int64_t kw = 0; kw < c->KW; kw++) {
      bool valid[MAX_OW_BLOCK], any = false;
      for (int j = 0; j < width; j++) any |= valid[j] = tap_valid(g, ow0s, j, kw);
      if (any) depthwise_tap(g, ow0, width, xrow, kh, k64(g, kw), valid);
    }
  }
  loop_end(g, &lk);
}

/* One register tile: columns [ow0, ow0 + width) of oc blocks [ocb, ocb + oct) of the current row. ow0s is
 * ow0's value when known here (edge tiles), else -1 (every tap of the tile is inside the input). */
static void emit_tile(gen_t *g, LLVMValueRef ow0, int64_t ow0s, int width) {
  const conv_t *c = g->c;
  int b = c->b;
  for (int t = 0; t < g->oct; t++) {
    LLVMValueRef ocb = addk(g, g->ocb, t);
    LLVMValueRef init = c->bias >= 0 ? load_vec(g, g->params[c->bias], mulk(g, ocb, b)) : splat_const(g, 0.0);
    for (int j = 0; j < width; j++) store_acc(g, t * g->owb + j, init);
  }
  if (c->depthwise) depthwise_reduction(g, ow0, ow0s, width);
  else direct_reduction(g, ow0, ow0s, width);
  for (int t = 0; t < g->oct; t++) {
    LLVMValueRef ocb = addk(g, g->ocb, t);
    LLVMValueRef row = mulk(g, add(g, mulk(g, add(g, mulk(g, g->n, c->MB), ocb), g->OH), g->oh), g->OW);
    for (int j = 0; j < width; j++) {
      LLVMValueRef ow = addk(g, ow0, j), v = load_acc(g, t * g->owb + j);
      for (int i = 0; i < c->num_ep; i++) v = apply_epilogue(g, i, v, ocb, ow);
      store_vec(g, v, g->params[c->y], mulk(g, add(g, row, ow), b));
    }
  }
}

/* One output row: tiles of owb columns from 0 (the last one narrower); runs of at least two full tiles
 * whose taps are all inside the input become a run-time loop, the others are emitted with static columns. */
static void emit_row(gen_t *g) {
  int64_t nb = ceil_div(g->OW, g->owb);
  for (int64_t i = 0; i < nb;) {
    int64_t run = i;
    while (run < nb && (run + 1) * g->owb <= g->OW && block_clean(g, run * g->owb, g->owb)) run++;
    if (run - i >= 2) {
      loop_t l;
      LLVMValueRef tile = loop_begin(g, &l, k64(g, i), k64(g, run), "owt");
      emit_tile(g, mulk(g, tile, g->owb), -1, g->owb);
      loop_end(g, &l);
      i = run;
      continue;
    }
    int64_t ow0 = i * g->owb, width = g->OW - ow0 < g->owb ? g->OW - ow0 : g->owb;
    emit_tile(g, k64(g, ow0), block_clean(g, ow0, width) ? -1 : ow0, (int)width);
    i++;
  }
}

/* The valid kernel rows of output row oh: [kh_lo, kh_hi). */
static void row_taps(gen_t *g) {
  const conv_t *c = g->c;
  if (c->ph == 0 && (g->OH - 1) * c->sh + (c->KH - 1) * c->dh < g->H) { /* every row sees every tap */
    g->kh_lo = k64(g, 0), g->kh_hi = k64(g, c->KH);
    return;
  }
  LLVMValueRef top = LLVMBuildSub(g->bld, k64(g, c->ph), mulk(g, g->oh, c->sh), ""); /* ph - oh * sh */
  LLVMValueRef zero = k64(g, 0), kh = k64(g, c->KH);
  LLVMValueRef lo = LLVMBuildSDiv(g->bld, addk(g, top, c->dh - 1), k64(g, c->dh), "");
  lo = LLVMBuildSelect(g->bld, LLVMBuildICmp(g->bld, LLVMIntSGT, top, zero, ""), lo, zero, "");
  LLVMValueRef bottom = addk(g, top, g->H); /* H + ph - oh * sh */
  LLVMValueRef hi = LLVMBuildSDiv(g->bld, addk(g, bottom, c->dh - 1), k64(g, c->dh), "");
  hi = LLVMBuildSelect(g->bld, LLVMBuildICmp(g->bld, LLVMIntSGT, bottom, zero, ""), hi, zero, "");
  g->kh_lo = LLVMBuildSelect(g->bld, LLVMBuildICmp(g->bld, LLVMIntSLT, lo, kh, ""), lo, kh, "kh_lo");
  g->kh_hi = LLVMBuildSelect(g->bld, LLVMBuildICmp(g->bld, LLVMIntSLT, hi, kh, ""), hi, kh, "kh_hi");
}

static void add_fn_attrs(gen_t *g, LLVMValueRef fn) {
  unsigned kind = LLVMGetEnumAttributeKindForName("nounwind", 8);
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(g->cx, kind, 0));
  char width[16];
  snprintf(width, sizeof width, "%d", 32 * g->c->b);
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                          LLVMCreateStringAttribute(g->cx, "min-legal-vector-width", 22, width, (unsigned)strlen(width)));
}

/* int32_t SYM_body(const struct {void *const *params; int64_t batch;} *arg, int64_t begin, int64_t end):
 * items [begin, end) of (n, oc tile, row). */
static LLVMValueRef emit_body(gen_t *g, const char *name, LLVMTypeRef args_ty) {
  const conv_t *c = g->c;
  LLVMTypeRef pt[3] = {g->ptr, g->i64, g->i64};
  g->fn = LLVMAddFunction(g->mod, name, LLVMFunctionType(g->i32, pt, 3, 0));
  LLVMSetLinkage(g->fn, LLVMInternalLinkage);
  add_fn_attrs(g, g->fn);
  LLVMPositionBuilderAtEnd(g->bld, new_block(g, "entry"));
  LLVMValueRef arg = LLVMGetParam(g->fn, 0);
  LLVMValueRef params = LLVMBuildLoad2(g->bld, g->ptr, LLVMBuildStructGEP2(g->bld, args_ty, arg, 0, ""), "params");
  for (int i = 0; i < c->num_params; i++) {
    LLVMValueRef idx = k64(g, i);
    g->params[i] = LLVMBuildLoad2(g->bld, g->ptr, LLVMBuildInBoundsGEP2(g->bld, g->ptr, params, &idx, 1, ""), "");
  }
  for (int i = 0; i < g->owb * g->oct; i++) g->acc[i] = LLVMBuildAlloca(g->bld, g->vec, "acc");
  int64_t tiles = c->MB / g->oct;
  loop_t l;
  LLVMValueRef item = loop_begin(g, &l, LLVMGetParam(g->fn, 1), LLVMGetParam(g->fn, 2), "item");
  g->oh = LLVMBuildSRem(g->bld, item, k64(g, g->OH), "oh");
  LLVMValueRef rest = LLVMBuildSDiv(g->bld, item, k64(g, g->OH), "");
  g->ocb = mulk(g, LLVMBuildSRem(g->bld, rest, k64(g, tiles), ""), g->oct);
  g->n = LLVMBuildSDiv(g->bld, rest, k64(g, tiles), "n");
  row_taps(g);
  emit_row(g);
  loop_end(g, &l);
  LLVMBuildRet(g->bld, LLVMConstInt(g->i32, 0, 0));
  return g->fn;
}

/* A unique function name from the node's: characters outside [A-Za-z0-9_] become '_'; SYM, SYM_packed and
 * SYM_body are all free in the module. */
static char *kernel_name(LLVMModuleRef mod, const char *node_name) {
  size_t n = strlen(node_name ? node_name : "");
  char *name = malloc(n + 48);
  if (!name) return NULL;
  size_t j = 0;
  name[j++] = 'c', name[j++] = 'o', name[j++] = 'n', name[j++] = 'v', name[j++] = '_';
  for (size_t i = 0; i < n; i++) name[j++] = isalnum((unsigned char)node_name[i]) ? node_name[i] : '_';
  name[j] = 0;
  char *probe = malloc(n + 64);
  if (!probe) {
    free(name);
    return NULL;
  }
  for (int suffix = 2;; suffix++) {
    bool taken = LLVMGetNamedFunction(mod, name) != NULL;
    snprintf(probe, n + 64, "%s_packed", name);
    taken |= LLVMGetNamedFunction(mod, probe) != NULL;
    snprintf(probe, n + 64, "%s_body", name);
    taken |= LLVMGetNamedFunction(mod, probe) != NULL;
    if (!taken) break;
    snprintf(name + j, 40, "_%d", suffix);
  }
  free(probe);
  return name;
}

static tcc_status_t emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, const conv_t *c,
                         const tcc_cpu_conv_knobs_t *k, const char **symbol) {
  LLVMModuleRef mod = tcc_llvm_emitter_module(e);
  if (!mod) return tcc_status_make(TCC_INVALID_ARGUMENT, "the emitter's module was taken");
  LLVMContextRef cx = LLVMGetModuleContext(mod);
  gen_t g = {.cx = cx, .mod = mod, .c = c, .owb = k->ow_block, .oct = k->oc_tile, .order = k->loop_order};
  int rm = k->row_merge;
  g.OH = c->OH / rm, g.OW = c->OW * rm, g.H = c->H / rm, g.W = c->W * rm; /* rm > 1: H == OH, W == OW */
  for (int i = 0; i < c->num_ep; i++) {
    memcpy(g.stride[i], c->ep[i].opnd.stride, sizeof g.stride[i]);
    if (rm > 1) g.stride[i][D_OH] *= rm;
  }
  g.i32 = LLVMInt32TypeInContext(cx), g.i64 = LLVMInt64TypeInContext(cx), g.f32 = LLVMFloatTypeInContext(cx);
  g.ptr = LLVMPointerTypeInContext(cx, 0), g.vec = LLVMVectorType(g.f32, (unsigned)c->b);
  unsigned fma_id = LLVMLookupIntrinsicID("llvm.fma", 8);
  g.fma = LLVMGetIntrinsicDeclaration(mod, fma_id, &g.vec, 1);
  g.fma_ty = LLVMIntrinsicGetType(cx, fma_id, &g.vec, 1);
  char *name = kernel_name(mod, node->name);
  LLVMValueRef *params = calloc((size_t)c->num_params + 1, sizeof *params);
  char *aux = name ? malloc(strlen(name) + 16) : NULL;
  if (!name || !params || !aux) {
    free(name), free(params), free(aux);
    return tcc_status_oom();
  }
  g.params = params;
  g.bld = LLVMCreateBuilderInContext(cx);

  /* embedded constant operands */
  for (int i = 0; i < c->num_ep; i++) {
    const operand_t *o = &c->ep[i].opnd;
    if (c->ep[i].kind < EP_ADD || o->is_scalar || o->param >= 0) continue;
    LLVMValueRef *vals = malloc((size_t)o->data->numel * sizeof *vals + 1);
    if (!vals) {
      LLVMDisposeBuilder(g.bld);
      free(name), free(params), free(aux);
      return tcc_status_oom();
    }
    for (int64_t v = 0; v < o->data->numel; v++) vals[v] = LLVMConstReal(g.f32, tcc_tensor_get_float(o->data, v));
    snprintf(aux, strlen(name) + 16, "%s_c%d", name, i);
    LLVMValueRef init = LLVMConstArray2(g.f32, vals, (uint64_t)o->data->numel);
    free(vals);
    g.data[i] = LLVMAddGlobal(mod, LLVMTypeOf(init), aux);
    LLVMSetInitializer(g.data[i], init);
    LLVMSetGlobalConstant(g.data[i], 1);
    LLVMSetLinkage(g.data[i], LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(g.data[i], LLVMGlobalUnnamedAddr);
  }

  LLVMTypeRef fields[2] = {g.ptr, g.i64};
  LLVMTypeRef args_ty = LLVMStructTypeInContext(cx, fields, 2, 0);
  snprintf(aux, strlen(name) + 16, "%s_body", name);
  LLVMValueRef body = emit_body(&g, aux, args_ty);

  /* SYM_packed(params, ctx): parallel_for(pool, N * tiles * rows, 1, SYM_body, &{params, N}) */
  snprintf(aux, strlen(name) + 16, "%s_packed", name);
  LLVMTypeRef pt[2] = {g.ptr, g.ptr};
  LLVMValueRef packed = LLVMAddFunction(mod, aux, LLVMFunctionType(g.i32, pt, 2, 0));
  add_fn_attrs(&g, packed);
  g.fn = packed;
  LLVMPositionBuilderAtEnd(g.bld, new_block(&g, "entry"));
  LLVMValueRef ctx = LLVMGetParam(packed, 1);
  LLVMTypeRef ctx_fields[4] = {g.ptr, g.ptr, g.ptr, g.i32};
  LLVMTypeRef ctx_ty = LLVMStructTypeInContext(cx, ctx_fields, 4, 0);
  LLVMValueRef syms = LLVMBuildLoad2(g.bld, g.ptr, LLVMBuildStructGEP2(g.bld, ctx_ty, ctx, 0, ""), "syms");
  LLVMValueRef batch = NULL;
  tcc_status_t st = tcc_llvm_emit_dim(e, g.bld, syms, c->batch, &batch);
  if (!st) {
    LLVMValueRef args = LLVMBuildAlloca(g.bld, args_ty, "args");
    LLVMBuildStore(g.bld, LLVMGetParam(packed, 0), LLVMBuildStructGEP2(g.bld, args_ty, args, 0, ""));
    LLVMBuildStore(g.bld, batch, LLVMBuildStructGEP2(g.bld, args_ty, args, 1, ""));
    LLVMValueRef pfor = LLVMBuildLoad2(g.bld, g.ptr, LLVMBuildStructGEP2(g.bld, ctx_ty, ctx, 1, ""), "parallel_for");
    LLVMValueRef pool = LLVMBuildLoad2(g.bld, g.ptr, LLVMBuildStructGEP2(g.bld, ctx_ty, ctx, 2, ""), "pool");
    LLVMValueRef items = mulk(&g, batch, (c->MB / g.oct) * g.OH);
    LLVMTypeRef pfor_pt[5] = {g.ptr, g.i64, g.i64, g.ptr, g.ptr};
    LLVMValueRef call_args[5] = {pool, items, k64(&g, 1), body, args};
    LLVMBuildRet(g.bld, LLVMBuildCall2(g.bld, LLVMFunctionType(g.i32, pfor_pt, 5, 0), pfor, call_args, 5, ""));

    /* SYM(p0, ..., ctx): the unpacked form */
    LLVMTypeRef *ps = calloc((size_t)c->num_params + 1, sizeof *ps);
    if (!ps) {
      st = tcc_status_oom();
    } else {
      for (int i = 0; i <= c->num_params; i++) ps[i] = g.ptr;
      LLVMValueRef unpacked = LLVMAddFunction(mod, name, LLVMFunctionType(g.i32, ps, (unsigned)c->num_params + 1, 0));
      free(ps);
      add_fn_attrs(&g, unpacked);
      g.fn = unpacked;
      LLVMPositionBuilderAtEnd(g.bld, new_block(&g, "entry"));
      LLVMValueRef arr = LLVMBuildArrayAlloca(g.bld, g.ptr, k64(&g, c->num_params), "params");
      for (int i = 0; i < c->num_params; i++) {
        LLVMValueRef idx = k64(&g, i);
        LLVMBuildStore(g.bld, LLVMGetParam(unpacked, (unsigned)i), LLVMBuildInBoundsGEP2(g.bld, g.ptr, arr, &idx, 1, ""));
      }
      LLVMValueRef pargs[2] = {arr, LLVMGetParam(unpacked, (unsigned)c->num_params)};
      LLVMBuildRet(g.bld, LLVMBuildCall2(g.bld, LLVMGlobalGetValueType(packed), packed, pargs, 2, ""));
      size_t len;
      if (symbol) *symbol = LLVMGetValueName2(unpacked, &len);
    }
  }
  if (st) {
    LLVMDeleteFunction(packed);
    LLVMDeleteFunction(body);
    for (int i = 0; i < c->num_ep; i++)
      if (g.data[i]) LLVMDeleteGlobal(g.data[i]);
  }
  LLVMDisposeBuilder(g.bld);
  free(name), free(params), free(aux);
  return st;
}

tcc_status_t tcc_cpu_conv_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, const char *target,
                               const tcc_cpu_conv_knobs_t *knobs, const char **symbol, bool *applied) {
  if (symbol) *symbol = NULL;
  *applied = false;
  conv_t *c = malloc(sizeof *c);
  if (!c) return tcc_status_oom();
  const char *why = NULL;
  tcc_status_t st = NULL;
  if (describe(node, target, c, &why)) {
    tcc_cpu_conv_knobs_t k;
    st = resolve_knobs(c, knobs, &k);
    if (!st) st = emit(e, node, c, &k, symbol);
    if (!st) *applied = true;
  }
  free(c);
  return st;
}
