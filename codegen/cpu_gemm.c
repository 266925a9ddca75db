/* The CPU GEMM template (codegen/cpu_gemm.h): recognizes MatMul and "matmul+..." fused nodes, then builds
 * LLVM IR directly — a packed entry that reads sizes and fills an argument block, a task body run through
 * ctx->parallel_for, and the register-blocked micro-kernel with its fused epilogue. Loop counters and
 * accumulators live in allocas that LLVM's SROA turns into registers. */
#include "codegen/cpu_gemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/template_ir.h"
#include "ir/dim.h"

enum { MAX_OPS = 16, MAX_OPERANDS = 16, MAX_RANK = 8, MAX_MR = 16, MAX_NV = 8 };

/* ---- recognizing the node ---- */

typedef enum {
  EP_ADD, EP_SUB, EP_MUL, EP_DIV, /* binary with an operand */
  EP_RELU, EP_CLIP, EP_LEAKY_RELU, EP_SIGMOID, EP_TANH, EP_GELU_ERF, EP_GELU_TANH, EP_ELU, EP_SELU, EP_CELU,
  EP_HARD_SIGMOID, EP_HARD_SWISH, EP_NEG, EP_ABS,
} ep_kind_t;

typedef struct {
  ep_kind_t kind;
  int operand;        /* index into plan_t.operands, or -1 */
  bool operand_left;  /* the operand is the left input (sub, div) */
  float alpha, beta;  /* attributes; clip's bounds */
} ep_op_t;

typedef struct {
  int param;            /* kernel parameter, or -1 for a constant */
  float value;          /* param < 0 */
  const tcc_value_t *v; /* param >= 0: the node-level value (its dims give the broadcasting) */
} operand_t;

typedef struct {
  const tcc_node_t *node;
  const tcc_value_t *a, *b, *y; /* node-level values of A, B and the output */
  int param_a, param_b, param_y, num_params;
  int ra, rb, ry, nb; /* ranks of A, B, Y; Y's batch axes */
  int num_ops;
  ep_op_t ops[MAX_OPS];
  int num_operands;
  operand_t operands[MAX_OPERANDS];
} plan_t;

static bool is_f32_tensor(const tcc_value_t *v) {
  return v && v->type.kind == TCC_TYPE_TENSOR && v->type.dtype == TCC_DTYPE_F32 && v->type.rank >= 0 &&
         v->type.rank <= MAX_RANK;
}

static int param_of_input(const tcc_node_t *n, int input) {
  int p = 0;
  for (int i = 0; i < input; i++) p += n->inputs[i] != NULL;
  return p;
}

/* The node-level input that body value v stands for (-1 when v is not a body input). */
static int body_input(const tcc_node_t *n, const tcc_graph_t *body, const tcc_value_t *v) {
  for (size_t i = 0; i < body->num_inputs && (int)i < n->num_inputs; i++)
    if (body->inputs[i] == v) return n->inputs[i] ? (int)i : -1;
  return -1;
}

/* A scalar constant behind v (directly, or through the body input it stands for). */
static bool scalar_constant(const tcc_node_t *n, const tcc_graph_t *body, const tcc_value_t *v, float *out) {
  const tcc_tensor_t *t = v ? v->constant : NULL;
  if (!t && body && v) {
    int i = body_input(n, body, v);
    if (i >= 0) t = n->inputs[i]->constant;
  }
  if (!t || t->numel != 1 || !tcc_dtype_is_float(t->dtype)) return false;
  *out = (float)tcc_tensor_get_float(t, 0);
  return true;
}

/* Maps a body value (or, without a body, a node input) to an operand; false when it is neither a node
 * input nor a scalar constant. */
static bool add_operand(plan_t *p, const tcc_graph_t *body, const tcc_value_t *v, int *index) {
  if (p->num_operands == MAX_OPERANDS) return false;
  operand_t *o = &p->operands[p->num_operands];
  float c = 0;
  if (scalar_constant(p->node, body, v, &c)) {
    *o = (operand_t){.param = -1, .value = c};
  } else {
    int i = body ? body_input(p->node, body, v) : -1;
    if (i < 0) return false;
    const tcc_value_t *nv = p->node->inputs[i];
    if (!is_f32_tensor(nv) || nv->type.rank > p->ry) return false;
    *o = (operand_t){.param = param_of_input(p->node, i), .v = nv};
  }
  *index = p->num_operands++;
  return true;
}

static bool epilogue_op(plan_t *p, const tcc_graph_t *body, const tcc_node_t *n, const tcc_value_t *cur) {
  if (p->num_ops == MAX_OPS || n->num_outputs != 1 || !is_f32_tensor(n->outputs[0])) return false;
  for (int i = 0; i < n->num_inputs; i++)
    if (n->inputs[i] && n->inputs[i]->type.dtype != TCC_DTYPE_F32) return false;
  ep_op_t op = {.operand = -1};
  switch (n->op) {
    case TCC_OP_ADD: case TCC_OP_SUB: case TCC_OP_MUL: case TCC_OP_DIV: {
      if (n->num_inputs != 2 || !n->inputs[0] || !n->inputs[1]) return false;
      int side = n->inputs[0] == cur ? 1 : n->inputs[1] == cur ? 0 : -1;
      if (side < 0 || n->inputs[side] == cur) return false;
      op.kind = n->op == TCC_OP_ADD ? EP_ADD : n->op == TCC_OP_SUB ? EP_SUB : n->op == TCC_OP_MUL ? EP_MUL : EP_DIV;
      op.operand_left = side == 0;
      if (!add_operand(p, body, n->inputs[side], &op.operand)) return false;
      break;
    }
    case TCC_OP_CLIP: {
      op.kind = EP_CLIP, op.alpha = -INFINITY, op.beta = INFINITY;
      if (n->inputs[0] != cur) return false;
      if (n->num_inputs > 1 && n->inputs[1] && !scalar_constant(p->node, body, n->inputs[1], &op.alpha)) return false;
      if (n->num_inputs > 2 && n->inputs[2] && !scalar_constant(p->node, body, n->inputs[2], &op.beta)) return false;
      break;
    }
    case TCC_OP_GELU: {
      const char *mode = tcc_node_attr_string(n, "approximate", "none");
      if (strcmp(mode, "none") != 0 && strcmp(mode, "tanh") != 0) return false;
      op.kind = strcmp(mode, "tanh") == 0 ? EP_GELU_TANH : EP_GELU_ERF;
      break;
    }
    case TCC_OP_RELU: op.kind = EP_RELU; break;
    case TCC_OP_LEAKY_RELU: op.kind = EP_LEAKY_RELU, op.alpha = (float)tcc_node_attr_float(n, "alpha", 0.01); break;
    case TCC_OP_SIGMOID: op.kind = EP_SIGMOID; break;
    case TCC_OP_TANH: op.kind = EP_TANH; break;
    case TCC_OP_ELU: op.kind = EP_ELU, op.alpha = (float)tcc_node_attr_float(n, "alpha", 1.0); break;
    case TCC_OP_SELU:
      op.kind = EP_SELU, op.alpha = (float)tcc_node_attr_float(n, "alpha", 1.67326319217681884765625);
      op.beta = (float)tcc_node_attr_float(n, "gamma", 1.05070102214813232421875);
      break;
    case TCC_OP_CELU: op.kind = EP_CELU, op.alpha = (float)tcc_node_attr_float(n, "alpha", 1.0); break;
    case TCC_OP_HARD_SIGMOID:
      op.kind = EP_HARD_SIGMOID, op.alpha = (float)tcc_node_attr_float(n, "alpha", 0.2);
      op.beta = (float)tcc_node_attr_float(n, "beta", 0.5);
      break;
    case TCC_OP_HARD_SWISH: op.kind = EP_HARD_SWISH; break;
    case TCC_OP_NEG: op.kind = EP_NEG; break;
    case TCC_OP_ABS: op.kind = EP_ABS; break;
    default: return false;
  }
  if (op.operand < 0 && (n->num_inputs < 1 || n->inputs[0] != cur)) return false;
  if (op.kind == EP_CELU && op.alpha == 0) return false;
  p->ops[p->num_ops++] = op;
  return true;
}

/* Fills the plan's shapes from the MatMul's operand types; false when they do not fit. */
static bool plan_shapes(plan_t *p) {
  if (!is_f32_tensor(p->a) || !is_f32_tensor(p->b) || !is_f32_tensor(p->y)) return false;
  p->ra = p->a->type.rank, p->rb = p->b->type.rank, p->ry = p->y->type.rank;
  if (p->ra < 1 || p->rb < 1) return false;
  p->nb = p->ry - (p->ra > 1) - (p->rb > 1);
  if (p->nb < 0 || p->ra - 2 > p->nb || p->rb - 2 > p->nb) return false;
  return true;
}

/* Recognizes node; false when the template does not handle it. */
static bool plan_node(const tcc_node_t *node, plan_t *p) {
  memset(p, 0, sizeof *p);
  p->node = node;
  if (node->num_outputs != 1 || !node->outputs[0]) return false;
  int present = 0;
  for (int i = 0; i < node->num_inputs; i++) present += node->inputs[i] != NULL;
  p->num_params = present + 1;
  p->param_y = present;
  p->y = node->outputs[0];
  if (node->op == TCC_OP_MATMUL) {
    if (node->num_inputs != 2 || !node->inputs[0] || !node->inputs[1]) return false;
    p->a = node->inputs[0], p->b = node->inputs[1], p->param_a = 0, p->param_b = 1;
    return plan_shapes(p);
  }
  if (node->op != TCC_OP_FUSED || strncmp(tcc_node_attr_string(node, "kind", ""), "matmul", 6) != 0) return false;
  const tcc_attr_t *ba = tcc_node_attr(node, "body");
  const tcc_graph_t *body = ba && ba->kind == TCC_ATTR_GRAPH ? ba->g : NULL;
  if (!body || body->num_nodes < 1 || body->num_outputs != 1 || (int)body->num_inputs != node->num_inputs) return false;
  const tcc_node_t *mm = body->nodes[0];
  if (mm->op != TCC_OP_MATMUL || mm->num_inputs != 2 || mm->num_outputs != 1) return false;
  int ia = body_input(node, body, mm->inputs[0]), ib = body_input(node, body, mm->inputs[1]);
  if (ia < 0 || ib < 0) return false;
  p->a = node->inputs[ia], p->b = node->inputs[ib];
  p->param_a = param_of_input(node, ia), p->param_b = param_of_input(node, ib);
  if (!plan_shapes(p)) return false;
  const tcc_value_t *cur = mm->outputs[0];
  if (!is_f32_tensor(cur) || cur->type.rank != p->ry) return false;
  for (size_t i = 1; i < body->num_nodes; i++) {
    const tcc_node_t *n = body->nodes[i];
    if (!epilogue_op(p, body, n, cur)) return false;
    cur = n->outputs[0];
    if (cur->type.rank != p->ry) return false;
  }
  return body->outputs[0] == cur;
}

tcc_status_t tcc_cpu_gemm_shape(const tcc_node_t *node, tcc_cpu_gemm_shape_t *shape, bool *handled) {
  plan_t p;
  *handled = plan_node(node, &p);
  *shape = (tcc_cpu_gemm_shape_t){-1, -1, -1, -1};
  if (!*handled) return NULL;
  const tcc_dim_t *const *ad = p.a->type.dims, *const *bd = p.b->type.dims, *const *yd = p.y->type.dims;
  const tcc_dim_t *m = p.ra > 1 ? ad[p.ra - 2] : NULL, *k = ad[p.ra - 1], *n = p.rb > 1 ? bd[p.rb - 1] : NULL;
  shape->m = !m ? 1 : tcc_dim_is_const(m) ? tcc_dim_value(m) : -1;
  shape->n = !n ? 1 : tcc_dim_is_const(n) ? tcc_dim_value(n) : -1;
  shape->k = tcc_dim_is_const(k) ? tcc_dim_value(k) : -1;
  shape->batch = 1;
  for (int d = 0; d < p.nb; d++) {
    if (!tcc_dim_is_const(yd[d])) {
      shape->batch = -1;
      break;
    }
    shape->batch *= tcc_dim_value(yd[d]);
  }
  return NULL;
}

/* ---- knobs ---- */

tcc_status_t tcc_cpu_gemm_knobs_from_space(const tcc_space_knobs_t *space, int lanes, tcc_cpu_gemm_knobs_t *out) {
  out->mr = (int)tcc_space_knob(space, "mr", out->mr);
  out->nv = (int)tcc_space_knob(space, "nv", out->nv);
  out->kc = (int)tcc_space_knob(space, "kc", out->kc);
  out->mc = (int)tcc_space_knob(space, "mc", out->mc);
  out->nc = (int)tcc_space_knob(space, "nc", out->nc);
  out->pack_a = (int)tcc_space_knob(space, "pack_a", out->pack_a);
  out->pack_b = (int)tcc_space_knob(space, "pack_b", out->pack_b);
  out->ku = (int)tcc_space_knob(space, "ku", out->ku);
  int nr = out->nv * lanes;
  if (out->mr < 1 || out->mr > MAX_MR || out->nv < 1 || out->nv > MAX_NV || out->kc < 1 || out->kc > (1 << 16) ||
      out->mc < out->mr || out->mc % out->mr || out->mc > (1 << 16) || out->nc < nr || out->nc % nr ||
      out->nc > (1 << 20) || out->ku < 1 || out->ku > 16 || (out->pack_a & ~1) || out->pack_b < 0 || out->pack_b > 2)
    return tcc_status_make(TCC_INVALID_ARGUMENT,
                           "invalid GEMM knobs: mr=%d nv=%d kc=%d mc=%d nc=%d pack_a=%d pack_b=%d ku=%d (lanes %d)",
                           out->mr, out->nv, out->kc, out->mc, out->nc, out->pack_a, out->pack_b, out->ku, lanes);
  return NULL;
}

tcc_status_t tcc_cpu_gemm_default_knobs(const tcc_cpu_gemm_shape_t *shape, const char *target,
                                        tcc_cpu_gemm_knobs_t *out) {
  tcc_space_query_t q;
  TCC_RETURN_IF_ERROR(tcc_space_query_init(&q, "matmul", target));
  TCC_RETURN_IF_ERROR(tcc_space_query_set(&q, "m", shape->m));
  TCC_RETURN_IF_ERROR(tcc_space_query_set(&q, "n", shape->n > 0 ? shape->n : 256));
  TCC_RETURN_IF_ERROR(tcc_space_query_set(&q, "k", shape->k > 0 ? shape->k : 256));
  TCC_RETURN_IF_ERROR(tcc_space_query_set(&q, "batch", shape->batch));
  tcc_space_knobs_t knobs;
  TCC_RETURN_IF_ERROR(tcc_space_defaults("cpu_gemm", &q, &knobs));
  *out = (tcc_cpu_gemm_knobs_t){.mr = 6, .nv = 2, .kc = 256, .mc = 96, .nc = 512, .ku = 1};
  out->nc = 32 * q.target.lanes;
  return tcc_cpu_gemm_knobs_from_space(&knobs, q.target.lanes, out);
}

/* ---- B packed at compile time ---- */

/* pack_b = 2 applies to a B that is a 2-D f32 constant of the node (its dims are then known). */
static bool b_prepackable(const plan_t *p) {
  const tcc_tensor_t *t = p->b->constant;
  return t && p->rb == 2 && t->rank == 2 && t->dtype == TCC_DTYPE_F32;
}

tcc_status_t tcc_cpu_gemm_node_knobs(const tcc_node_t *node, const char *target, tcc_cpu_gemm_knobs_t *out,
                                     bool *handled) {
  tcc_cpu_gemm_shape_t shape;
  TCC_RETURN_IF_ERROR(tcc_cpu_gemm_shape(node, &shape, handled));
  if (!*handled) return NULL;
  TCC_RETURN_IF_ERROR(tcc_cpu_gemm_default_knobs(&shape, target, out));
  plan_t p;
  if (plan_node(node, &p) && b_prepackable(&p)) out->pack_b = 2;
  return NULL;
}

tcc_status_t tcc_cpu_gemm_pack_b(tcc_module_t *m, const tcc_node_t *node, const char *target,
                                 const tcc_cpu_gemm_knobs_t *knobs, int *input, tcc_tensor_t **packed) {
  plan_t p;
  if (!plan_node(node, &p) || !b_prepackable(&p))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s': the GEMM's B is not a 2-D f32 constant", node->name);
  tcc_space_target_t caps;
  TCC_RETURN_IF_ERROR(tcc_space_target_caps(target, &caps));
  const tcc_tensor_t *b = p.b->constant;
  int64_t k = b->dims[0], n = b->dims[1], nr = (int64_t)knobs->nv * caps.lanes;
  int64_t dims[3] = {(n + nr - 1) / nr, k, nr};
  tcc_tensor_t *t = tcc_tensor_create(m, TCC_DTYPE_F32, 3, dims);
  if (!t) return tcc_status_oom();
  float *dst = (float *)t->data;
  const char *src = b->data;
  for (int64_t panel = 0; panel < dims[0]; panel++) {
    int64_t col = panel * nr, width = n - col < nr ? n - col : nr;
    for (int64_t kk = 0; kk < k; kk++)
      memcpy(dst + (panel * k + kk) * nr, src + (size_t)(kk * n + col) * 4, (size_t)width * 4);
  }
  for (*input = 0; *input < node->num_inputs; ++*input)
    if (node->inputs[*input] && param_of_input(node, *input) == p.param_b) break;
  *packed = t;
  return NULL;
}

/* ---- IR building ---- */

typedef struct {
  tcc_tir_t t;
  tcc_cpu_gemm_knobs_t k;
  plan_t *p;
} gen_t;

static LLVMValueRef clamp01(gen_t *g, LLVMValueRef x) {
  return tcc_tir_fmin(&g->t, tcc_tir_fmax(&g->t, x, tcc_tir_vc(&g->t, 0)), tcc_tir_vc(&g->t, 1));
}

static LLVMValueRef vexpm1_times(gen_t *g, LLVMValueRef x, double alpha) {
  tcc_tir_t *t = &g->t;
  return tcc_tir_vmul(t, tcc_tir_vc(t, alpha), tcc_tir_vsub(t, tcc_tir_vexp(t, x), tcc_tir_vc(t, 1)));
}

static LLVMValueRef apply_op(gen_t *g, const ep_op_t *op, LLVMValueRef x, LLVMValueRef o) {
  tcc_tir_t *t = &g->t;
  switch (op->kind) {
    case EP_ADD: return op->operand_left ? tcc_tir_vadd(t, o, x) : tcc_tir_vadd(t, x, o);
    case EP_SUB: return op->operand_left ? tcc_tir_vsub(t, o, x) : tcc_tir_vsub(t, x, o);
    case EP_MUL: return op->operand_left ? tcc_tir_vmul(t, o, x) : tcc_tir_vmul(t, x, o);
    case EP_DIV: return op->operand_left ? tcc_tir_vdiv(t, o, x) : tcc_tir_vdiv(t, x, o);
    case EP_RELU: return tcc_tir_fmax(t, x, tcc_tir_vc(t, 0));
    case EP_CLIP: {
      if (op->alpha != -INFINITY) x = tcc_tir_fmax(t, x, tcc_tir_vc(t, op->alpha));
      if (op->beta != INFINITY) x = tcc_tir_fmin(t, x, tcc_tir_vc(t, op->beta));
      return x;
    }
    case EP_LEAKY_RELU:
      return tcc_tir_fsel(t, LLVMRealOLT, x, tcc_tir_vc(t, 0), tcc_tir_vmul(t, tcc_tir_vc(t, op->alpha), x), x);
    case EP_SIGMOID:
      return tcc_tir_vdiv(t, tcc_tir_vc(t, 1),
                          tcc_tir_vadd(t, tcc_tir_vc(t, 1), tcc_tir_vexp(t, LLVMBuildFNeg(g->t.b, x, ""))));
    case EP_TANH: return tcc_tir_vtanh(t, x);
    case EP_GELU_ERF:
      return tcc_tir_vmul(t, tcc_tir_vmul(t, tcc_tir_vc(t, 0.5), x),
                          tcc_tir_vadd(t, tcc_tir_vc(t, 1),
                                       tcc_tir_verf(t, tcc_tir_vmul(t, x, tcc_tir_vc(t, 0.70710678118654752440)))));
    case EP_GELU_TANH: {
      LLVMValueRef cube = tcc_tir_vmul(t, x, tcc_tir_vmul(t, x, x));
      LLVMValueRef inner = tcc_tir_vmul(t, tcc_tir_vc(t, 0.79788456080286535588),
                                        tcc_tir_vadd(t, x, tcc_tir_vmul(t, tcc_tir_vc(t, 0.044715), cube)));
      return tcc_tir_vmul(t, tcc_tir_vmul(t, tcc_tir_vc(t, 0.5), x),
                          tcc_tir_vadd(t, tcc_tir_vc(t, 1), tcc_tir_vtanh(t, inner)));
    }
    case EP_ELU: return tcc_tir_fsel(t, LLVMRealOLT, x, tcc_tir_vc(t, 0), vexpm1_times(g, x, op->alpha), x);
    case EP_SELU:
      return tcc_tir_vmul(t, tcc_tir_vc(t, op->beta),
                          tcc_tir_fsel(t, LLVMRealOLE, x, tcc_tir_vc(t, 0), vexpm1_times(g, x, op->alpha), x));
    case EP_CELU: {
      LLVMValueRef neg = vexpm1_times(g, tcc_tir_vdiv(t, x, tcc_tir_vc(t, op->alpha)), op->alpha);
      return tcc_tir_vadd(t, tcc_tir_fmax(t, x, tcc_tir_vc(t, 0)), tcc_tir_fmin(t, neg, tcc_tir_vc(t, 0)));
    }
    case EP_HARD_SIGMOID:
      return clamp01(g, tcc_tir_vadd(t, tcc_tir_vmul(t, tcc_tir_vc(t, op->alpha), x), tcc_tir_vc(t, op->beta)));
    case EP_HARD_SWISH:
      return tcc_tir_vmul(t, x,
                          clamp01(g, tcc_tir_vadd(t, tcc_tir_vmul(t, tcc_tir_vc(t, 1.0 / 6), x), tcc_tir_vc(t, 0.5))));
    case EP_NEG: return LLVMBuildFNeg(g->t.b, x, "");
    case EP_ABS: return tcc_tir_vcall1(t, "llvm.fabs", x);
  }
  return x;
}

/* ---- the argument block shared by the entry and the task body ---- */

/* Slots (i64 each; pointers stored as pointers): fixed ones, then 3 per batch axis (size, A stride,
 * B stride), then per operand one per batch axis (its stride), then per operand its pointer and its
 * stride along the rows. */
enum { S_A, S_B, S_Y, S_M, S_N, S_K, S_MBLOCKS, S_NBLOCKS, S_FIXED };

static int slot_batch(const plan_t *p, int d, int which) { (void)p; return S_FIXED + 3 * d + which; }
static int slot_operand_batch(const plan_t *p, int q, int d) { return S_FIXED + 3 * p->nb + q * p->nb + d; }
static int slot_operand(const plan_t *p, int q, int which) {
  return S_FIXED + 3 * p->nb + p->num_operands * p->nb + 2 * q + which;
}
static int num_slots(const plan_t *p) { return slot_operand(p, p->num_operands, 0); }

static LLVMValueRef slot_ptr(gen_t *g, LLVMValueRef args, int slot) {
  LLVMValueRef idx = tcc_tir_i64c(&g->t, slot);
  return LLVMBuildGEP2(g->t.b, g->t.i64, args, &idx, 1, "");
}
static LLVMValueRef load_slot(gen_t *g, LLVMValueRef args, int slot, LLVMTypeRef t) {
  return LLVMBuildLoad2(g->t.b, t, slot_ptr(g, args, slot), "");
}

static bool dim_is_one(const tcc_dim_t *d) { return tcc_dim_is_const(d) && tcc_dim_value(d) == 1; }

/* The element stride of axis `axis` of value v (0 when that dim is a broadcast 1), from suffix products. */
static tcc_status_t axis_stride(gen_t *g, LLVMValueRef syms, const tcc_value_t *v, int axis, LLVMValueRef *out) {
  if (dim_is_one(v->type.dims[axis])) {
    *out = tcc_tir_i64c(&g->t, 0);
    return NULL;
  }
  LLVMValueRef s = tcc_tir_i64c(&g->t, 1);
  for (int j = axis + 1; j < v->type.rank; j++) {
    LLVMValueRef d;
    TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(g->t.e, g->t.b, syms, v->type.dims[j], &d));
    s = LLVMBuildMul(g->t.b, s, d, "");
  }
  *out = s;
  return NULL;
}

/* Whether operand q varies along the columns (N), i.e. its last axis is aligned with a real column axis. */
static bool operand_cols(const plan_t *p, const operand_t *o) {
  if (o->param < 0 || p->rb < 2 || o->v->type.rank < 1) return false;
  return !dim_is_one(o->v->type.dims[o->v->type.rank - 1]);
}

/* ---- the micro-kernel ---- */

/* What one step of the micro-kernel's K loop reads and updates. */
typedef struct {
  LLVMValueRef a, b, ldb;            /* A panel (packed) or row 0; B panel or row pc; B's row stride */
  LLVMValueRef arow[MAX_MR];         /* unpacked A: the rows, clamped to the last valid one */
  LLVMValueRef bmask[MAX_NV];        /* masked_b: the valid lanes of each B vector */
  LLVMValueRef acc[MAX_MR][MAX_NV];  /* accumulator allocas */
  bool masked_b;
  unsigned b_align;
} micro_state_t;

/* acc[r][v] += A[r, k] * B[k, v * lanes ...] for every r, v. */
static void k_step(gen_t *g, const micro_state_t *ms, LLVMValueRef k) {
  int mr = g->k.mr, nv = g->k.nv, L = g->t.lanes;
  LLVMValueRef brow =
      tcc_tir_gep_f32(&g->t, ms->b, LLVMBuildMul(g->t.b, k, g->k.pack_b ? tcc_tir_i64c(&g->t, nv * L) : ms->ldb, ""));
  LLVMValueRef bv[MAX_NV];
  for (int v = 0; v < nv; v++) {
    LLVMValueRef ptr = tcc_tir_gep_f32(&g->t, brow, tcc_tir_i64c(&g->t, v * L));
    bv[v] = ms->masked_b ? tcc_tir_masked_load(&g->t, ptr, ms->bmask[v], NULL)
                         : tcc_tir_load_aligned(&g->t, g->t.vf, ptr, ms->b_align);
  }
  for (int r = 0; r < mr; r++) {
    LLVMValueRef ap = g->k.pack_a
                          ? tcc_tir_gep_f32(&g->t, ms->a,
                                            LLVMBuildAdd(g->t.b, LLVMBuildMul(g->t.b, k, tcc_tir_i64c(&g->t, mr), ""),
                                                         tcc_tir_i64c(&g->t, r), ""))
                          : tcc_tir_gep_f32(&g->t, ms->arow[r], k);
    LLVMValueRef av = tcc_tir_splat(&g->t, tcc_tir_load_aligned(&g->t, g->t.f32, ap, 4));
    for (int v = 0; v < nv; v++)
      LLVMBuildStore(g->t.b, tcc_tir_fma3(&g->t, av, bv[v], LLVMBuildLoad2(g->t.b, g->t.vf, ms->acc[r][v], "")),
                     ms->acc[r][v]);
  }
}

/* micro(a, b, c, kcur, mrem, nrem, flags, lda, ldb, ldc, epi): the mr x nr tile of C at c, from A rows at a
 * (packed: a[k * mr + r]; else a[r * lda + k]) and B at b (packed: b[k * nr + j]; else b[k * ldb + j]).
 * flags: 1 = first K slice (C is not accumulated), 2 = last slice (apply the epilogue). epi holds, per
 * operand, its pointer at this tile and its row stride. masked_b: B columns beyond nrem are not read. */
static LLVMValueRef emit_micro(gen_t *g, const char *name, bool masked_b) {
  const plan_t *p = g->p;
  int mr = g->k.mr, nv = g->k.nv, L = g->t.lanes, nr = nv * L;
  LLVMTypeRef params[11] = {g->t.ptr, g->t.ptr, g->t.ptr, g->t.i64, g->t.i64, g->t.i64,
                            g->t.i32, g->t.i64, g->t.i64, g->t.i64, g->t.ptr};
  LLVMValueRef fn = tcc_tir_function(&g->t, name, g->t.void_t, params, 11, true);
  tcc_tir_begin(&g->t, fn);
  LLVMValueRef a = LLVMGetParam(fn, 0), bp = LLVMGetParam(fn, 1), c = LLVMGetParam(fn, 2);
  LLVMValueRef kcur = LLVMGetParam(fn, 3), mrem = LLVMGetParam(fn, 4), nrem = LLVMGetParam(fn, 5);
  LLVMValueRef flags = LLVMGetParam(fn, 6), lda = LLVMGetParam(fn, 7), ldb = LLVMGetParam(fn, 8);
  LLVMValueRef ldc = LLVMGetParam(fn, 9), epi = LLVMGetParam(fn, 10);

  micro_state_t ms = {.a = a, .b = bp, .ldb = ldb, .masked_b = masked_b};
  ms.b_align = g->k.pack_b ? (unsigned)(L * 4 > 64 ? 64 : L * 4) : 4;
  for (int r = 0; r < mr; r++)
    for (int v = 0; v < nv; v++) {
      ms.acc[r][v] = tcc_tir_alloca(&g->t, g->t.vf, "acc");
      LLVMBuildStore(g->t.b, tcc_tir_vc(&g->t, 0), ms.acc[r][v]);
    }
  if (!g->k.pack_a)
    for (int r = 0; r < mr; r++) {
      LLVMValueRef row =
          tcc_tir_smin(&g->t, tcc_tir_i64c(&g->t, r), LLVMBuildSub(g->t.b, mrem, tcc_tir_i64c(&g->t, 1), ""));
      ms.arow[r] = tcc_tir_gep_f32(&g->t, a, LLVMBuildMul(g->t.b, row, lda, ""));
    }
  if (masked_b)
    for (int v = 0; v < nv; v++)
      ms.bmask[v] = tcc_tir_lane_mask(&g->t, LLVMBuildSub(g->t.b, nrem, tcc_tir_i64c(&g->t, v * L), ""));

  int ku = g->k.ku;
  LLVMValueRef kmain = LLVMBuildSub(g->t.b, kcur, LLVMBuildSRem(g->t.b, kcur, tcc_tir_i64c(&g->t, ku), ""), "");
  tcc_tir_loop_t lk;
  LLVMValueRef k0 = tcc_tir_loop_begin(&g->t, &lk, tcc_tir_i64c(&g->t, 0), kmain, tcc_tir_i64c(&g->t, ku), "k");
  for (int u = 0; u < ku; u++) k_step(g, &ms, LLVMBuildAdd(g->t.b, k0, tcc_tir_i64c(&g->t, u), ""));
  tcc_tir_loop_end(&g->t, &lk);
  if (ku > 1) {
    tcc_tir_loop_t lr;
    LLVMValueRef k1 = tcc_tir_loop_begin(&g->t, &lr, kmain, kcur, tcc_tir_i64c(&g->t, 1), "krem");
    k_step(g, &ms, k1);
    tcc_tir_loop_end(&g->t, &lr);
  }

  LLVMValueRef first = LLVMBuildICmp(g->t.b, LLVMIntNE, LLVMBuildAnd(g->t.b, flags, tcc_tir_i32c(&g->t, 1), ""),
                                     tcc_tir_i32c(&g->t, 0), "first");
  LLVMValueRef last = LLVMBuildICmp(g->t.b, LLVMIntNE, LLVMBuildAnd(g->t.b, flags, tcc_tir_i32c(&g->t, 2), ""),
                                    tcc_tir_i32c(&g->t, 0), "last");
  LLVMValueRef full = LLVMBuildAnd(g->t.b, LLVMBuildICmp(g->t.b, LLVMIntEQ, mrem, tcc_tir_i64c(&g->t, mr), ""),
                                   LLVMBuildICmp(g->t.b, LLVMIntEQ, nrem, tcc_tir_i64c(&g->t, nr), ""), "full");
  /* the operands' pointers and row strides at this tile */
  LLVMValueRef optr[MAX_OPERANDS] = {0}, ors[MAX_OPERANDS] = {0};
  for (int q = 0; q < p->num_operands; q++) {
    if (p->operands[q].param < 0) continue;
    optr[q] = load_slot(g, epi, 2 * q, g->t.ptr);
    ors[q] = load_slot(g, epi, 2 * q + 1, g->t.i64);
  }
  LLVMBasicBlockRef full_bb = tcc_tir_block(&g->t, "full"), edge_bb = tcc_tir_block(&g->t, "edge"),
                    done = tcc_tir_block(&g->t, "ret");
  LLVMBuildCondBr(g->t.b, full, full_bb, edge_bb);
  for (int edge = 0; edge < 2; edge++) {
    LLVMPositionBuilderAtEnd(g->t.b, edge ? edge_bb : full_bb);
    LLVMValueRef cmask[MAX_NV] = {0};
    if (edge)
      for (int v = 0; v < nv; v++)
        cmask[v] = tcc_tir_lane_mask(&g->t, LLVMBuildSub(g->t.b, nrem, tcc_tir_i64c(&g->t, v * L), ""));
    for (int phase = 0; phase < 3; phase++) { /* accumulate C, epilogue, store */
      LLVMBasicBlockRef phase_join = NULL;
      if (phase == 0) phase_join = tcc_tir_if_begin(&g->t, LLVMBuildNot(g->t.b, first, ""));
      if (phase == 1) phase_join = tcc_tir_if_begin(&g->t, last);
      for (int r = 0; r < mr; r++) {
        LLVMBasicBlockRef row_join =
            edge ? tcc_tir_if_begin(&g->t, LLVMBuildICmp(g->t.b, LLVMIntSLT, tcc_tir_i64c(&g->t, r), mrem, "")) : NULL;
        LLVMValueRef crow = tcc_tir_gep_f32(&g->t, c, LLVMBuildMul(g->t.b, tcc_tir_i64c(&g->t, r), ldc, ""));
        for (int v = 0; v < nv; v++) {
          LLVMValueRef cptr = tcc_tir_gep_f32(&g->t, crow, tcc_tir_i64c(&g->t, v * L));
          LLVMValueRef x = LLVMBuildLoad2(g->t.b, g->t.vf, ms.acc[r][v], "");
          if (phase == 0) {
            LLVMValueRef old =
                edge ? tcc_tir_masked_load(&g->t, cptr, cmask[v], NULL) : tcc_tir_load_aligned(&g->t, g->t.vf, cptr, 4);
            LLVMBuildStore(g->t.b, tcc_tir_vadd(&g->t, x, old), ms.acc[r][v]);
          } else if (phase == 1) {
            for (int i = 0; i < p->num_ops; i++) {
              const ep_op_t *op = &p->ops[i];
              LLVMValueRef o = NULL;
              if (op->operand >= 0) {
                const operand_t *od = &p->operands[op->operand];
                if (od->param < 0) {
                  o = tcc_tir_vc(&g->t, od->value);
                } else {
                  LLVMValueRef rowp = tcc_tir_gep_f32(
                      &g->t, optr[op->operand], LLVMBuildMul(g->t.b, tcc_tir_i64c(&g->t, r), ors[op->operand], ""));
                  if (operand_cols(p, od)) {
                    LLVMValueRef vp = tcc_tir_gep_f32(&g->t, rowp, tcc_tir_i64c(&g->t, v * L));
                    o = edge ? tcc_tir_masked_load(&g->t, vp, cmask[v], NULL)
                             : tcc_tir_load_aligned(&g->t, g->t.vf, vp, 4);
                  } else {
                    o = tcc_tir_splat(&g->t, tcc_tir_load_aligned(&g->t, g->t.f32, rowp, 4));
                  }
                }
              }
              x = apply_op(g, op, x, o);
            }
            LLVMBuildStore(g->t.b, x, ms.acc[r][v]);
          } else {
            if (edge) tcc_tir_masked_store(&g->t, x, cptr, cmask[v]);
            else tcc_tir_store_aligned(&g->t, x, cptr, 4);
          }
        }
        if (row_join) tcc_tir_if_end(&g->t, row_join);
      }
      if (phase_join) tcc_tir_if_end(&g->t, phase_join);
    }
    LLVMBuildBr(g->t.b, done);
  }
  LLVMPositionBuilderAtEnd(g->t.b, done);
  LLVMBuildRetVoid(g->t.b);
  return fn;
}

/* ---- the task body ---- */

static LLVMValueRef ceil_div(gen_t *g, LLVMValueRef a, int64_t b) {
  return LLVMBuildSDiv(g->t.b, LLVMBuildAdd(g->t.b, a, tcc_tir_i64c(&g->t, b - 1), ""), tcc_tir_i64c(&g->t, b), "");
}

/* body(args, begin, end): tasks [begin, end) of batch x mblocks x nblocks (m fastest). */
static LLVMValueRef emit_body(gen_t *g, const char *name, LLVMValueRef micro, LLVMValueRef micro_masked) {
  const plan_t *p = g->p;
  int mr = g->k.mr, L = g->t.lanes, nr = g->k.nv * L;
  int64_t kc = g->k.kc, mc = g->k.mc, nc = g->k.nc;
  LLVMTypeRef params[3] = {g->t.ptr, g->t.i64, g->t.i64};
  LLVMValueRef fn = tcc_tir_function(&g->t, name, g->t.i32, params, 3, true);
  tcc_tir_begin(&g->t, fn);
  LLVMValueRef args = LLVMGetParam(fn, 0), begin = LLVMGetParam(fn, 1), end = LLVMGetParam(fn, 2);
  LLVMValueRef A = load_slot(g, args, S_A, g->t.ptr), B = load_slot(g, args, S_B, g->t.ptr);
  LLVMValueRef Y = load_slot(g, args, S_Y, g->t.ptr);
  LLVMValueRef M = load_slot(g, args, S_M, g->t.i64), N = load_slot(g, args, S_N, g->t.i64);
  LLVMValueRef K = load_slot(g, args, S_K, g->t.i64);
  LLVMValueRef mblocks = load_slot(g, args, S_MBLOCKS, g->t.i64), nblocks = load_slot(g, args, S_NBLOCKS, g->t.i64);

  /* packing buffers: A block mc x kc, then B block kc x nc, 64-byte aligned */
  int64_t a_bytes = g->k.pack_a ? ((mc * kc * 4 + 63) & ~(int64_t)63) : 0;
  int64_t b_bytes = g->k.pack_b == 1 ? kc * (int64_t)((nc + nr - 1) / nr) * nr * 4 : 0;
  LLVMValueRef raw = NULL, Ap = NULL, Bp = NULL;
  LLVMTypeRef malloc_ty, free_ty;
  LLVMValueRef malloc_fn = tcc_tir_libc(&g->t, "malloc", g->t.ptr, &g->t.i64, 1, &malloc_ty);
  LLVMValueRef free_fn = tcc_tir_libc(&g->t, "free", g->t.void_t, &g->t.ptr, 1, &free_ty);
  if (a_bytes + b_bytes > 0) {
    LLVMValueRef size = tcc_tir_i64c(&g->t, a_bytes + b_bytes + 64);
    raw = LLVMBuildCall2(g->t.b, malloc_ty, malloc_fn, &size, 1, "buffers");
    LLVMBasicBlockRef oom = tcc_tir_block(&g->t, "nomem"), ok = tcc_tir_block(&g->t, "alloc_ok");
    LLVMBuildCondBr(g->t.b, LLVMBuildIsNull(g->t.b, raw, ""), oom, ok);
    LLVMPositionBuilderAtEnd(g->t.b, oom);
    LLVMBuildRet(g->t.b, tcc_tir_i32c(&g->t, TCC_KERNEL_ERR_NOMEM));
    LLVMPositionBuilderAtEnd(g->t.b, ok);
    LLVMValueRef addr = LLVMBuildPtrToInt(g->t.b, raw, g->t.i64, "");
    addr = LLVMBuildAnd(g->t.b, LLVMBuildAdd(g->t.b, addr, tcc_tir_i64c(&g->t, 63), ""),
                        tcc_tir_i64c(&g->t, ~(int64_t)63), "");
    Ap = LLVMBuildIntToPtr(g->t.b, addr, g->t.ptr, "Ap");
    Bp = tcc_tir_gep_f32(&g->t, Ap, tcc_tir_i64c(&g->t, a_bytes / 4));
  }
  LLVMValueRef epi = tcc_tir_alloca(&g->t, LLVMArrayType(g->t.i64, (unsigned)(2 * p->num_operands + 1)), "epi");

  tcc_tir_loop_t lt;
  LLVMValueRef t = tcc_tir_loop_begin(&g->t, &lt, begin, end, tcc_tir_i64c(&g->t, 1), "task");
  LLVMValueRef mb = LLVMBuildSRem(g->t.b, t, mblocks, "");
  LLVMValueRef rest = LLVMBuildSDiv(g->t.b, t, mblocks, "");
  LLVMValueRef nbk = LLVMBuildSRem(g->t.b, rest, nblocks, "");
  LLVMValueRef bi = LLVMBuildSDiv(g->t.b, rest, nblocks, "bi");
  LLVMValueRef m0 = LLVMBuildMul(g->t.b, mb, tcc_tir_i64c(&g->t, mc), "m0"),
               n0 = LLVMBuildMul(g->t.b, nbk, tcc_tir_i64c(&g->t, nc), "n0");
  LLVMValueRef mcur = tcc_tir_smin(&g->t, tcc_tir_i64c(&g->t, mc), LLVMBuildSub(g->t.b, M, m0, ""));
  LLVMValueRef ncur = tcc_tir_smin(&g->t, tcc_tir_i64c(&g->t, nc), LLVMBuildSub(g->t.b, N, n0, ""));
  /* batch offsets */
  LLVMValueRef offA = tcc_tir_i64c(&g->t, 0), offB = tcc_tir_i64c(&g->t, 0), offO[MAX_OPERANDS];
  for (int q = 0; q < p->num_operands; q++) offO[q] = tcc_tir_i64c(&g->t, 0);
  LLVMValueRef rem = bi;
  for (int d = p->nb - 1; d >= 0; d--) {
    LLVMValueRef size = load_slot(g, args, slot_batch(p, d, 0), g->t.i64);
    LLVMValueRef idx = LLVMBuildSRem(g->t.b, rem, size, "");
    rem = LLVMBuildSDiv(g->t.b, rem, size, "");
    offA = LLVMBuildAdd(g->t.b, offA, LLVMBuildMul(g->t.b, idx, load_slot(g, args, slot_batch(p, d, 1), g->t.i64), ""),
                        "");
    offB = LLVMBuildAdd(g->t.b, offB, LLVMBuildMul(g->t.b, idx, load_slot(g, args, slot_batch(p, d, 2), g->t.i64), ""),
                        "");
    for (int q = 0; q < p->num_operands; q++)
      if (p->operands[q].param >= 0)
        offO[q] =
            LLVMBuildAdd(g->t.b, offO[q],
                         LLVMBuildMul(g->t.b, idx, load_slot(g, args, slot_operand_batch(p, q, d), g->t.i64), ""), "");
  }
  LLVMValueRef Ab = tcc_tir_gep_f32(&g->t, A, offA), Bb = tcc_tir_gep_f32(&g->t, B, offB);
  LLVMValueRef Yb = tcc_tir_gep_f32(&g->t, Y, LLVMBuildMul(g->t.b, bi, LLVMBuildMul(g->t.b, M, N, ""), ""));

  /* K slices: at least one, so that K == 0 still writes epilogue(0) */
  tcc_tir_loop_t lp;
  LLVMValueRef kslices = tcc_tir_vcall2(&g->t, "llvm.smax", ceil_div(g, K, kc), tcc_tir_i64c(&g->t, 1));
  LLVMValueRef ps = tcc_tir_loop_begin(&g->t, &lp, tcc_tir_i64c(&g->t, 0), kslices, tcc_tir_i64c(&g->t, 1), "slice");
  LLVMValueRef pc = LLVMBuildMul(g->t.b, ps, tcc_tir_i64c(&g->t, kc), "pc");
  LLVMValueRef kcur = tcc_tir_smin(&g->t, tcc_tir_i64c(&g->t, kc), LLVMBuildSub(g->t.b, K, pc, ""));
  kcur = tcc_tir_vcall2(&g->t, "llvm.smax", kcur, tcc_tir_i64c(&g->t, 0));
  LLVMValueRef flags = LLVMBuildOr(
      g->t.b, LLVMBuildZExt(g->t.b, LLVMBuildICmp(g->t.b, LLVMIntEQ, ps, tcc_tir_i64c(&g->t, 0), ""), g->t.i32, ""),
      LLVMBuildShl(g->t.b,
                   LLVMBuildZExt(g->t.b,
                                 LLVMBuildICmp(g->t.b, LLVMIntEQ, ps,
                                               LLVMBuildSub(g->t.b, kslices, tcc_tir_i64c(&g->t, 1), ""), ""),
                                 g->t.i32, ""),
                   tcc_tir_i32c(&g->t, 1), ""),
      "flags");
  if (g->k.pack_b == 1) {
    /* Bp[(jp * kc + k) * nr + j] = B[pc + k, n0 + jp * nr + j], zero beyond ncur */
    tcc_tir_loop_t lj, lk;
    LLVMValueRef jp = tcc_tir_loop_begin(&g->t, &lj, tcc_tir_i64c(&g->t, 0), ceil_div(g, ncur, nr),
                                         tcc_tir_i64c(&g->t, 1), "packb_j");
    LLVMValueRef col = LLVMBuildMul(g->t.b, jp, tcc_tir_i64c(&g->t, nr), "");
    LLVMValueRef masks[MAX_NV];
    for (int v = 0; v < g->k.nv; v++)
      masks[v] = tcc_tir_lane_mask(
          &g->t, LLVMBuildSub(g->t.b, ncur, LLVMBuildAdd(g->t.b, col, tcc_tir_i64c(&g->t, v * L), ""), ""));
    LLVMValueRef src0 = tcc_tir_gep_f32(
        &g->t, Bb, LLVMBuildAdd(g->t.b, LLVMBuildMul(g->t.b, pc, N, ""), LLVMBuildAdd(g->t.b, n0, col, ""), ""));
    LLVMValueRef dst0 = tcc_tir_gep_f32(&g->t, Bp, LLVMBuildMul(g->t.b, jp, tcc_tir_i64c(&g->t, kc * nr), ""));
    LLVMValueRef kk = tcc_tir_loop_begin(&g->t, &lk, tcc_tir_i64c(&g->t, 0), kcur, tcc_tir_i64c(&g->t, 1), "packb_k");
    LLVMValueRef src = tcc_tir_gep_f32(&g->t, src0, LLVMBuildMul(g->t.b, kk, N, ""));
    LLVMValueRef dst = tcc_tir_gep_f32(&g->t, dst0, LLVMBuildMul(g->t.b, kk, tcc_tir_i64c(&g->t, nr), ""));
    for (int v = 0; v < g->k.nv; v++)
      tcc_tir_store_aligned(
          &g->t, tcc_tir_masked_load(&g->t, tcc_tir_gep_f32(&g->t, src, tcc_tir_i64c(&g->t, v * L)), masks[v], NULL),
          tcc_tir_gep_f32(&g->t, dst, tcc_tir_i64c(&g->t, v * L)), (unsigned)(L * 4 > 64 ? 64 : L * 4));
    tcc_tir_loop_end(&g->t, &lk);
    tcc_tir_loop_end(&g->t, &lj);
  }
  if (g->k.pack_a) {
    /* Ap[(ip * kc + k) * mr + r] = A[m0 + ip * mr + r, pc + k], zero beyond mcur */
    tcc_tir_loop_t li, lk;
    LLVMValueRef ip = tcc_tir_loop_begin(&g->t, &li, tcc_tir_i64c(&g->t, 0), ceil_div(g, mcur, mr),
                                         tcc_tir_i64c(&g->t, 1), "packa_i");
    LLVMValueRef row0 = LLVMBuildMul(g->t.b, ip, tcc_tir_i64c(&g->t, mr), "");
    LLVMValueRef dst0 = tcc_tir_gep_f32(&g->t, Ap, LLVMBuildMul(g->t.b, ip, tcc_tir_i64c(&g->t, kc * mr), ""));
    LLVMValueRef srcs[MAX_MR], valid[MAX_MR];
    for (int r = 0; r < mr; r++) {
      LLVMValueRef row = LLVMBuildAdd(g->t.b, row0, tcc_tir_i64c(&g->t, r), "");
      valid[r] = LLVMBuildICmp(g->t.b, LLVMIntSLT, row, mcur, "");
      LLVMValueRef safe = tcc_tir_smin(&g->t, row, LLVMBuildSub(g->t.b, mcur, tcc_tir_i64c(&g->t, 1), ""));
      srcs[r] = tcc_tir_gep_f32(
          &g->t, Ab, LLVMBuildAdd(g->t.b, LLVMBuildMul(g->t.b, LLVMBuildAdd(g->t.b, m0, safe, ""), K, ""), pc, ""));
    }
    LLVMValueRef kk = tcc_tir_loop_begin(&g->t, &lk, tcc_tir_i64c(&g->t, 0), kcur, tcc_tir_i64c(&g->t, 1), "packa_k");
    LLVMValueRef dst = tcc_tir_gep_f32(&g->t, dst0, LLVMBuildMul(g->t.b, kk, tcc_tir_i64c(&g->t, mr), ""));
    for (int r = 0; r < mr; r++) {
      LLVMValueRef x = tcc_tir_load_aligned(&g->t, g->t.f32, tcc_tir_gep_f32(&g->t, srcs[r], kk), 4);
      x = LLVMBuildSelect(g->t.b, valid[r], x, tcc_tir_f32c(&g->t, 0), "");
      tcc_tir_store_aligned(&g->t, x, tcc_tir_gep_f32(&g->t, dst, tcc_tir_i64c(&g->t, r)), 4);
    }
    tcc_tir_loop_end(&g->t, &lk);
    tcc_tir_loop_end(&g->t, &li);
  }
  /* micro-tiles: B panels outer (their kc x nr panel stays in L1), A panels inner */
  tcc_tir_loop_t lj, li;
  LLVMValueRef jr = tcc_tir_loop_begin(&g->t, &lj, tcc_tir_i64c(&g->t, 0), ncur, tcc_tir_i64c(&g->t, nr), "jr");
  LLVMValueRef nrem = tcc_tir_smin(&g->t, tcc_tir_i64c(&g->t, nr), LLVMBuildSub(g->t.b, ncur, jr, ""));
  LLVMValueRef col = LLVMBuildAdd(g->t.b, n0, jr, "col");
  LLVMValueRef bptr;
  if (g->k.pack_b == 2) /* pre-packed: panel col / nr of K x nr, from row pc */
    bptr = tcc_tir_gep_f32(
        &g->t, B,
        LLVMBuildMul(
            g->t.b,
            LLVMBuildAdd(g->t.b, LLVMBuildMul(g->t.b, LLVMBuildSDiv(g->t.b, col, tcc_tir_i64c(&g->t, nr), ""), K, ""),
                         pc, ""),
            tcc_tir_i64c(&g->t, nr), ""));
  else if (g->k.pack_b == 1)
    bptr = tcc_tir_gep_f32(&g->t, Bp, LLVMBuildMul(g->t.b, jr, tcc_tir_i64c(&g->t, kc), ""));
  else
    bptr = tcc_tir_gep_f32(&g->t, Bb, LLVMBuildAdd(g->t.b, LLVMBuildMul(g->t.b, pc, N, ""), col, ""));
  LLVMValueRef ir = tcc_tir_loop_begin(&g->t, &li, tcc_tir_i64c(&g->t, 0), mcur, tcc_tir_i64c(&g->t, mr), "ir");
  LLVMValueRef mrem = tcc_tir_smin(&g->t, tcc_tir_i64c(&g->t, mr), LLVMBuildSub(g->t.b, mcur, ir, ""));
  LLVMValueRef row = LLVMBuildAdd(g->t.b, m0, ir, "row");
  LLVMValueRef aptr = g->k.pack_a
                          ? tcc_tir_gep_f32(&g->t, Ap, LLVMBuildMul(g->t.b, ir, tcc_tir_i64c(&g->t, kc), ""))
                          : tcc_tir_gep_f32(&g->t, Ab, LLVMBuildAdd(g->t.b, LLVMBuildMul(g->t.b, row, K, ""), pc, ""));
  LLVMValueRef cptr = tcc_tir_gep_f32(&g->t, Yb, LLVMBuildAdd(g->t.b, LLVMBuildMul(g->t.b, row, N, ""), col, ""));
  for (int q = 0; q < p->num_operands; q++) {
    if (p->operands[q].param < 0) continue;
    LLVMValueRef base = tcc_tir_gep_f32(&g->t, load_slot(g, args, slot_operand(p, q, 0), g->t.ptr), offO[q]);
    LLVMValueRef rs = load_slot(g, args, slot_operand(p, q, 1), g->t.i64);
    LLVMValueRef off = LLVMBuildMul(g->t.b, row, rs, "");
    if (operand_cols(p, &p->operands[q])) off = LLVMBuildAdd(g->t.b, off, col, "");
    LLVMBuildStore(g->t.b, tcc_tir_gep_f32(&g->t, base, off), slot_ptr(g, epi, 2 * q));
    LLVMBuildStore(g->t.b, rs, slot_ptr(g, epi, 2 * q + 1));
  }
  LLVMValueRef call_args[11] = {aptr, bptr, cptr, kcur, mrem, nrem, flags, K, N, N, epi};
  LLVMTypeRef micro_ty = LLVMGlobalGetValueType(micro);
  if (micro_masked) {
    LLVMValueRef edge = LLVMBuildICmp(g->t.b, LLVMIntSLT, nrem, tcc_tir_i64c(&g->t, nr), "");
    LLVMBasicBlockRef masked_bb = tcc_tir_block(&g->t, "masked"), plain_bb = tcc_tir_block(&g->t, "plain"),
                      next = tcc_tir_block(&g->t, "next");
    LLVMBuildCondBr(g->t.b, edge, masked_bb, plain_bb);
    LLVMPositionBuilderAtEnd(g->t.b, masked_bb);
    LLVMBuildCall2(g->t.b, micro_ty, micro_masked, call_args, 11, "");
    LLVMBuildBr(g->t.b, next);
    LLVMPositionBuilderAtEnd(g->t.b, plain_bb);
    LLVMBuildCall2(g->t.b, micro_ty, micro, call_args, 11, "");
    LLVMBuildBr(g->t.b, next);
    LLVMPositionBuilderAtEnd(g->t.b, next);
  } else {
    LLVMBuildCall2(g->t.b, micro_ty, micro, call_args, 11, "");
  }
  tcc_tir_loop_end(&g->t, &li);
  tcc_tir_loop_end(&g->t, &lj);
  tcc_tir_loop_end(&g->t, &lp);
  tcc_tir_loop_end(&g->t, &lt);
  if (raw) LLVMBuildCall2(g->t.b, free_ty, free_fn, &raw, 1, "");
  LLVMBuildRet(g->t.b, tcc_tir_i32c(&g->t, 0));
  return fn;
}

/* ---- the entry points ---- */

static tcc_status_t emit_packed(gen_t *g, const char *name, LLVMValueRef body, LLVMValueRef *out) {
  const plan_t *p = g->p;
  LLVMTypeRef params[2] = {g->t.ptr, g->t.ptr};
  LLVMValueRef fn = tcc_tir_function(&g->t, name, g->t.i32, params, 2, false);
  *out = fn;
  tcc_tir_begin(&g->t, fn);
  LLVMValueRef pv = LLVMGetParam(fn, 0), ctx = LLVMGetParam(fn, 1);
  LLVMValueRef syms = LLVMBuildLoad2(g->t.b, g->t.ptr, ctx, "syms");
  LLVMValueRef args = tcc_tir_alloca(&g->t, LLVMArrayType(g->t.i64, (unsigned)num_slots(p)), "args");
#define PARAM(i)                   \
  LLVMBuildLoad2(g->t.b, g->t.ptr, \
                 LLVMBuildGEP2(g->t.b, g->t.ptr, pv, (LLVMValueRef[]){tcc_tir_i64c(&g->t, (i))}, 1, ""), "")
  LLVMBuildStore(g->t.b, PARAM(p->param_a), slot_ptr(g, args, S_A));
  LLVMBuildStore(g->t.b, PARAM(p->param_b), slot_ptr(g, args, S_B));
  LLVMBuildStore(g->t.b, PARAM(p->param_y), slot_ptr(g, args, S_Y));
  const tcc_dim_t *const *ad = p->a->type.dims, *const *bd = p->b->type.dims, *const *yd = p->y->type.dims;
  LLVMValueRef M = tcc_tir_i64c(&g->t, 1), N = tcc_tir_i64c(&g->t, 1), K;
  if (p->ra > 1) TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(g->t.e, g->t.b, syms, ad[p->ra - 2], &M));
  if (p->rb > 1) TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(g->t.e, g->t.b, syms, bd[p->rb - 1], &N));
  TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(g->t.e, g->t.b, syms, ad[p->ra - 1], &K));
  LLVMBuildStore(g->t.b, M, slot_ptr(g, args, S_M));
  LLVMBuildStore(g->t.b, N, slot_ptr(g, args, S_N));
  LLVMBuildStore(g->t.b, K, slot_ptr(g, args, S_K));
  LLVMValueRef mblocks = ceil_div(g, M, g->k.mc), nblocks = ceil_div(g, N, g->k.nc);
  LLVMBuildStore(g->t.b, mblocks, slot_ptr(g, args, S_MBLOCKS));
  LLVMBuildStore(g->t.b, nblocks, slot_ptr(g, args, S_NBLOCKS));
  LLVMValueRef batch = tcc_tir_i64c(&g->t, 1);
  int nbA = p->ra > 1 ? p->ra - 2 : 0, nbB = p->rb > 1 ? p->rb - 2 : 0;
  for (int d = 0; d < p->nb; d++) {
    LLVMValueRef size, sa = tcc_tir_i64c(&g->t, 0), sb = tcc_tir_i64c(&g->t, 0);
    TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(g->t.e, g->t.b, syms, yd[d], &size));
    batch = LLVMBuildMul(g->t.b, batch, size, "");
    int ja = d - (p->nb - nbA), jb = d - (p->nb - nbB);
    if (ja >= 0) TCC_RETURN_IF_ERROR(axis_stride(g, syms, p->a, ja, &sa));
    if (jb >= 0) TCC_RETURN_IF_ERROR(axis_stride(g, syms, p->b, jb, &sb));
    LLVMBuildStore(g->t.b, size, slot_ptr(g, args, slot_batch(p, d, 0)));
    LLVMBuildStore(g->t.b, sa, slot_ptr(g, args, slot_batch(p, d, 1)));
    LLVMBuildStore(g->t.b, sb, slot_ptr(g, args, slot_batch(p, d, 2)));
  }
  for (int q = 0; q < p->num_operands; q++) {
    const operand_t *o = &p->operands[q];
    if (o->param < 0) continue;
    int ro = o->v->type.rank, shift = p->ry - ro;
    for (int d = 0; d < p->nb; d++) {
      LLVMValueRef s = tcc_tir_i64c(&g->t, 0);
      if (d - shift >= 0) TCC_RETURN_IF_ERROR(axis_stride(g, syms, o->v, d - shift, &s));
      LLVMBuildStore(g->t.b, s, slot_ptr(g, args, slot_operand_batch(p, q, d)));
    }
    LLVMValueRef rs = tcc_tir_i64c(&g->t, 0);
    int row_axis = p->ra > 1 ? p->nb : -1;
    if (row_axis >= 0 && row_axis - shift >= 0) TCC_RETURN_IF_ERROR(axis_stride(g, syms, o->v, row_axis - shift, &rs));
    LLVMBuildStore(g->t.b, PARAM(o->param), slot_ptr(g, args, slot_operand(p, q, 0)));
    LLVMBuildStore(g->t.b, rs, slot_ptr(g, args, slot_operand(p, q, 1)));
  }
#undef PARAM
  LLVMValueRef tasks = LLVMBuildMul(g->t.b, batch, LLVMBuildMul(g->t.b, mblocks, nblocks, ""), "tasks");
  tcc_tir_dispatch(&g->t, ctx, body, args, tasks);
  return NULL;
}

tcc_status_t tcc_cpu_gemm_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, const char *target,
                               const tcc_cpu_gemm_knobs_t *knobs, const char **symbol, bool *applied) {
  *symbol = NULL;
  *applied = false;
  plan_t p;
  if (!plan_node(node, &p) || p.num_params > 60) return NULL;
  gen_t g = {.p = &p};
  if (knobs) {
    tcc_space_target_t caps;
    TCC_RETURN_IF_ERROR(tcc_space_target_caps(target, &caps));
    g.k = *knobs;
    TCC_RETURN_IF_ERROR(tcc_cpu_gemm_knobs_from_space(NULL, caps.lanes, &g.k));
  } else {
    tcc_cpu_gemm_shape_t shape;
    bool handled;
    TCC_RETURN_IF_ERROR(tcc_cpu_gemm_shape(node, &shape, &handled));
    TCC_RETURN_IF_ERROR(tcc_cpu_gemm_default_knobs(&shape, target, &g.k));
  }
  if (g.k.pack_b == 2 && !b_prepackable(&p))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s': pack_b=2 needs B to be a 2-D f32 constant", node->name);
  TCC_RETURN_IF_ERROR(tcc_tir_init(&g.t, e, target));
  LLVMModuleRef mod = g.t.mod;

  char name[200], fname[240];
  tcc_tir_unique_name(mod, node->name, "gemm", name);
  snprintf(fname, sizeof fname, "%s_micro", name);
  LLVMValueRef micro = emit_micro(&g, fname, false), micro_masked = NULL;
  if (!g.k.pack_b) {
    snprintf(fname, sizeof fname, "%s_micro_edge", name);
    micro_masked = emit_micro(&g, fname, true);
  }
  snprintf(fname, sizeof fname, "%s_body", name);
  LLVMValueRef body = emit_body(&g, fname, micro, micro_masked);
  snprintf(fname, sizeof fname, "%s_packed", name);
  LLVMValueRef packed = NULL;
  tcc_status_t st = emit_packed(&g, fname, body, &packed);
  if (!st) tcc_tir_emit_unpacked(&g.t, name, packed, p.num_params);
  tcc_tir_dispose(&g.t);
  if (st) {
    LLVMValueRef fns[5] = {LLVMGetNamedFunction(mod, name), packed, body, micro, micro_masked};
    for (int i = 0; i < 5; i++)
      if (fns[i]) LLVMDeleteFunction(fns[i]);
    return st;
  }
  size_t len = 0;
  *symbol = LLVMGetValueName2(LLVMGetNamedFunction(mod, name), &len);
  *applied = true;
  return NULL;
}
