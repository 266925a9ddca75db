/* The CPU GEMM template (codegen/cpu_gemm.h): recognizes MatMul and "matmul+..." fused nodes, then builds
 * LLVM IR directly — a packed entry that reads sizes and fills an argument block, a task body run through
 * ctx->parallel_for, and the register-blocked micro-kernel with its fused epilogue. Loop counters and
 * accumulators live in allocas that LLVM's SROA turns into registers. */
#include "codegen/cpu_gemm.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/target.h"
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
      out->nc > (1 << 20) || out->ku < 1 || out->ku > 16 || (out->pack_a & ~1) || (out->pack_b & ~1))
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

/* ---- IR building helpers ---- */

typedef struct {
  tcc_llvm_emitter_t *e;
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  LLVMValueRef fn;
  LLVMBasicBlockRef entry;
  LLVMTypeRef i32, i64, f32, ptr, vf, vi, void_t;
  int lanes;
  tcc_cpu_gemm_knobs_t k;
  const tcc_cpu_target_t *target;
  plan_t *p;
} gen_t;

static LLVMValueRef i64c(gen_t *g, int64_t v) { return LLVMConstInt(g->i64, (unsigned long long)v, v < 0); }
static LLVMValueRef i32c(gen_t *g, int32_t v) { return LLVMConstInt(g->i32, (unsigned long long)(int64_t)v, v < 0); }
static LLVMValueRef f32c(gen_t *g, double v) { return LLVMConstReal(g->f32, v); }

static LLVMValueRef splat(gen_t *g, LLVMValueRef scalar) {
  if (LLVMIsConstant(scalar) && LLVMTypeOf(scalar) == g->f32) {
    LLVMValueRef elems[64];
    for (int i = 0; i < g->lanes; i++) elems[i] = scalar;
    return LLVMConstVector(elems, (unsigned)g->lanes);
  }
  LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(scalar), (unsigned)g->lanes);
  LLVMValueRef one = LLVMBuildInsertElement(g->b, LLVMGetPoison(vt), scalar, i32c(g, 0), "");
  return LLVMBuildShuffleVector(g->b, one, LLVMGetPoison(vt), LLVMConstNull(LLVMVectorType(g->i32, (unsigned)g->lanes)),
                                "splat");
}
static LLVMValueRef vc(gen_t *g, double v) { return splat(g, f32c(g, v)); }

static LLVMValueRef intrinsic(gen_t *g, const char *name, LLVMTypeRef *tys, int ntys, LLVMValueRef *args, int nargs) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMValueRef fn = LLVMGetIntrinsicDeclaration(g->mod, id, tys, (size_t)ntys);
  LLVMTypeRef fty = LLVMIntrinsicGetType(g->ctx, id, tys, (size_t)ntys);
  return LLVMBuildCall2(g->b, fty, fn, args, (unsigned)nargs, "");
}
static LLVMValueRef vcall1(gen_t *g, const char *name, LLVMValueRef x) {
  LLVMTypeRef t = LLVMTypeOf(x);
  return intrinsic(g, name, &t, 1, &x, 1);
}
static LLVMValueRef vcall2(gen_t *g, const char *name, LLVMValueRef x, LLVMValueRef y) {
  LLVMTypeRef t = LLVMTypeOf(x);
  LLVMValueRef a[2] = {x, y};
  return intrinsic(g, name, &t, 1, a, 2);
}
static LLVMValueRef fma3(gen_t *g, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
  LLVMTypeRef t = LLVMTypeOf(a);
  LLVMValueRef args[3] = {a, b, c};
  return intrinsic(g, "llvm.fma", &t, 1, args, 3);
}

static LLVMValueRef gep_f32(gen_t *g, LLVMValueRef base, LLVMValueRef index) {
  return LLVMBuildGEP2(g->b, g->f32, base, &index, 1, "");
}
static LLVMValueRef load_aligned(gen_t *g, LLVMTypeRef t, LLVMValueRef p, unsigned align) {
  LLVMValueRef v = LLVMBuildLoad2(g->b, t, p, "");
  LLVMSetAlignment(v, align);
  return v;
}
static void store_aligned(gen_t *g, LLVMValueRef v, LLVMValueRef p, unsigned align) {
  LLVMSetAlignment(LLVMBuildStore(g->b, v, p), align);
}
static LLVMValueRef masked_load(gen_t *g, LLVMValueRef p, LLVMValueRef mask) {
  LLVMTypeRef tys[2] = {g->vf, g->ptr};
  LLVMValueRef args[4] = {p, i32c(g, 4), mask, LLVMConstNull(g->vf)};
  return intrinsic(g, "llvm.masked.load", tys, 2, args, 4);
}
static void masked_store(gen_t *g, LLVMValueRef v, LLVMValueRef p, LLVMValueRef mask) {
  LLVMTypeRef tys[2] = {g->vf, g->ptr};
  LLVMValueRef args[4] = {v, p, i32c(g, 4), mask};
  intrinsic(g, "llvm.masked.store", tys, 2, args, 4);
}
/* Lanes [0, count) of a vector: iota < count (count may be negative or above the width). */
static LLVMValueRef lane_mask(gen_t *g, LLVMValueRef count64) {
  LLVMValueRef c = LLVMBuildTrunc(g->b, vcall2(g, "llvm.smin", vcall2(g, "llvm.smax", count64, i64c(g, 0)),
                                                  i64c(g, g->lanes)), g->i32, "");
  LLVMValueRef iota[64];
  for (int i = 0; i < g->lanes; i++) iota[i] = i32c(g, i);
  return LLVMBuildICmp(g->b, LLVMIntSLT, LLVMConstVector(iota, (unsigned)g->lanes), splat(g, c), "mask");
}
static LLVMValueRef smin(gen_t *g, LLVMValueRef a, LLVMValueRef b) { return vcall2(g, "llvm.smin", a, b); }

static LLVMValueRef entry_alloca(gen_t *g, LLVMTypeRef t, const char *name) {
  LLVMBuilderRef eb = LLVMCreateBuilderInContext(g->ctx);
  LLVMValueRef first = LLVMGetFirstInstruction(g->entry);
  if (first) LLVMPositionBuilderBefore(eb, first);
  else LLVMPositionBuilderAtEnd(eb, g->entry);
  LLVMValueRef a = LLVMBuildAlloca(eb, t, name);
  LLVMDisposeBuilder(eb);
  return a;
}

static LLVMBasicBlockRef block(gen_t *g, const char *name) { return LLVMAppendBasicBlockInContext(g->ctx, g->fn, name); }

/* for (var = start; var < end; var += step) — the builder is left in the body; loop_end closes it. */
typedef struct {
  LLVMValueRef var, step;
  LLVMBasicBlockRef cond, exit;
} loop_t;

static LLVMValueRef loop_begin(gen_t *g, loop_t *l, LLVMValueRef start, LLVMValueRef end, LLVMValueRef step,
                               const char *name) {
  l->var = entry_alloca(g, g->i64, name);
  l->step = step;
  LLVMBuildStore(g->b, start, l->var);
  l->cond = block(g, name);
  LLVMBasicBlockRef body = block(g, "body");
  l->exit = block(g, "done");
  LLVMBuildBr(g->b, l->cond);
  LLVMPositionBuilderAtEnd(g->b, l->cond);
  LLVMValueRef iv = LLVMBuildLoad2(g->b, g->i64, l->var, name);
  LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, iv, end, ""), body, l->exit);
  LLVMPositionBuilderAtEnd(g->b, body);
  return iv;
}
static void loop_end(gen_t *g, loop_t *l) {
  LLVMValueRef iv = LLVMBuildLoad2(g->b, g->i64, l->var, "");
  LLVMBuildStore(g->b, LLVMBuildAdd(g->b, iv, l->step, ""), l->var);
  LLVMBuildBr(g->b, l->cond);
  LLVMPositionBuilderAtEnd(g->b, l->exit);
}

/* if (cond) { ... } — if_end joins. */
static LLVMBasicBlockRef if_begin(gen_t *g, LLVMValueRef cond) {
  LLVMBasicBlockRef then = block(g, "then"), join = block(g, "join");
  LLVMBuildCondBr(g->b, cond, then, join);
  LLVMPositionBuilderAtEnd(g->b, then);
  return join;
}
static void if_end(gen_t *g, LLVMBasicBlockRef join) {
  LLVMBuildBr(g->b, join);
  LLVMPositionBuilderAtEnd(g->b, join);
}

static LLVMValueRef new_function(gen_t *g, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n,
                                 bool internal) {
  LLVMValueRef fn = LLVMAddFunction(g->mod, name, LLVMFunctionType(ret, params, (unsigned)n, 0));
  if (internal) LLVMSetLinkage(fn, LLVMInternalLinkage);
  unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(g->ctx, nounwind, 0));
  char width[16];
  snprintf(width, sizeof width, "%d", g->lanes * 32);
  const char *attrs[][2] = {{"min-legal-vector-width", width}, {"prefer-vector-width", width},
                            {"target-cpu", g->target && g->target->cpu ? g->target->cpu : NULL},
                            {"target-features", g->target && g->target->features && *g->target->features
                                                    ? g->target->features : NULL}};
  for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
    if (attrs[i][1])
      LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                              LLVMCreateStringAttribute(g->ctx, attrs[i][0], (unsigned)strlen(attrs[i][0]), attrs[i][1],
                                                        (unsigned)strlen(attrs[i][1])));
  return fn;
}

static void begin_function(gen_t *g, LLVMValueRef fn) {
  g->fn = fn;
  g->entry = LLVMAppendBasicBlockInContext(g->ctx, fn, "entry");
  LLVMBasicBlockRef start = block(g, "start");
  LLVMPositionBuilderAtEnd(g->b, g->entry);
  LLVMBuildBr(g->b, start);
  LLVMPositionBuilderAtEnd(g->b, start);
}

static LLVMValueRef libc_function(gen_t *g, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n,
                                  LLVMTypeRef *fty) {
  *fty = LLVMFunctionType(ret, params, (unsigned)n, 0);
  LLVMValueRef fn = LLVMGetNamedFunction(g->mod, name);
  return fn ? fn : LLVMAddFunction(g->mod, name, *fty);
}

/* ---- vector math for the epilogue ---- */

static LLVMValueRef vadd(gen_t *g, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(g->b, a, b, ""); }
static LLVMValueRef vsub(gen_t *g, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFSub(g->b, a, b, ""); }
static LLVMValueRef vmul(gen_t *g, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(g->b, a, b, ""); }
static LLVMValueRef vdiv(gen_t *g, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFDiv(g->b, a, b, ""); }
static LLVMValueRef fsel(gen_t *g, LLVMRealPredicate pred, LLVMValueRef x, LLVMValueRef y, LLVMValueRef then,
                         LLVMValueRef otherwise) {
  return LLVMBuildSelect(g->b, LLVMBuildFCmp(g->b, pred, x, y, ""), then, otherwise, "");
}
static LLVMValueRef fmax_(gen_t *g, LLVMValueRef a, LLVMValueRef b) { return vcall2(g, "llvm.maxnum", a, b); }
static LLVMValueRef fmin_(gen_t *g, LLVMValueRef a, LLVMValueRef b) { return vcall2(g, "llvm.minnum", a, b); }
static LLVMValueRef clamp01(gen_t *g, LLVMValueRef x) { return fmin_(g, fmax_(g, x, vc(g, 0)), vc(g, 1)); }

/* exp: range reduction by ln 2 (Cody-Waite), a degree-6 polynomial, scaling through the exponent bits. */
static LLVMValueRef vexp(gen_t *g, LLVMValueRef x) {
  x = fmin_(g, fmax_(g, x, vc(g, -87.3365447504)), vc(g, 88.3762626647949));
  LLVMValueRef n = vcall1(g, "llvm.roundeven", vmul(g, x, vc(g, 1.44269504088896341)));
  LLVMValueRef r = fma3(g, n, vc(g, -0.693359375), x);
  r = fma3(g, n, vc(g, 2.12194440e-4), r);
  static const double coef[] = {1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                                1.6666665459e-1, 5.0000001201e-1};
  LLVMValueRef poly = vc(g, coef[0]);
  for (size_t i = 1; i < sizeof coef / sizeof coef[0]; i++) poly = fma3(g, poly, r, vc(g, coef[i]));
  LLVMValueRef y = vadd(g, fma3(g, poly, vmul(g, r, r), r), vc(g, 1));
  LLVMValueRef ni = LLVMBuildFPToSI(g->b, n, g->vi, "");
  LLVMValueRef bits = LLVMBuildShl(g->b, LLVMBuildAdd(g->b, ni, splat(g, i32c(g, 127)), ""), splat(g, i32c(g, 23)), "");
  return vmul(g, y, LLVMBuildBitCast(g->b, bits, g->vf, ""));
}

static LLVMValueRef vtanh(gen_t *g, LLVMValueRef x) {
  LLVMValueRef ax = vcall1(g, "llvm.fabs", x);
  /* |x| >= 0.625: 1 - 2 / (exp(2|x|) + 1), with the sign of x */
  LLVMValueRef e2 = vexp(g, vmul(g, fmin_(g, ax, vc(g, 10)), vc(g, 2)));
  LLVMValueRef big = vcall2(g, "llvm.copysign", vsub(g, vc(g, 1), vdiv(g, vc(g, 2), vadd(g, e2, vc(g, 1)))), x);
  /* |x| < 0.625: x + x^3 P(x^2) */
  LLVMValueRef z = vmul(g, x, x);
  static const double coef[] = {-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1,
                                -3.33332819422e-1};
  LLVMValueRef poly = vc(g, coef[0]);
  for (size_t i = 1; i < sizeof coef / sizeof coef[0]; i++) poly = fma3(g, poly, z, vc(g, coef[i]));
  LLVMValueRef small = fma3(g, vmul(g, poly, z), x, x);
  return fsel(g, LLVMRealOLT, ax, vc(g, 0.625), small, big);
}

/* erf (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7). */
static LLVMValueRef verf(gen_t *g, LLVMValueRef x) {
  LLVMValueRef ax = vcall1(g, "llvm.fabs", x);
  LLVMValueRef t = vdiv(g, vc(g, 1), fma3(g, ax, vc(g, 0.3275911), vc(g, 1)));
  static const double coef[] = {1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592};
  LLVMValueRef poly = vc(g, coef[0]);
  for (size_t i = 1; i < sizeof coef / sizeof coef[0]; i++) poly = fma3(g, poly, t, vc(g, coef[i]));
  LLVMValueRef e = vexp(g, LLVMBuildFNeg(g->b, vmul(g, ax, ax), ""));
  LLVMValueRef y = vsub(g, vc(g, 1), vmul(g, vmul(g, poly, t), e));
  return vcall2(g, "llvm.copysign", y, x);
}

static LLVMValueRef vexpm1_times(gen_t *g, LLVMValueRef x, double alpha) {
  return vmul(g, vc(g, alpha), vsub(g, vexp(g, x), vc(g, 1)));
}

static LLVMValueRef apply_op(gen_t *g, const ep_op_t *op, LLVMValueRef x, LLVMValueRef o) {
  switch (op->kind) {
    case EP_ADD: return op->operand_left ? vadd(g, o, x) : vadd(g, x, o);
    case EP_SUB: return op->operand_left ? vsub(g, o, x) : vsub(g, x, o);
    case EP_MUL: return op->operand_left ? vmul(g, o, x) : vmul(g, x, o);
    case EP_DIV: return op->operand_left ? vdiv(g, o, x) : vdiv(g, x, o);
    case EP_RELU: return fmax_(g, x, vc(g, 0));
    case EP_CLIP: {
      if (op->alpha != -INFINITY) x = fmax_(g, x, vc(g, op->alpha));
      if (op->beta != INFINITY) x = fmin_(g, x, vc(g, op->beta));
      return x;
    }
    case EP_LEAKY_RELU: return fsel(g, LLVMRealOLT, x, vc(g, 0), vmul(g, vc(g, op->alpha), x), x);
    case EP_SIGMOID: return vdiv(g, vc(g, 1), vadd(g, vc(g, 1), vexp(g, LLVMBuildFNeg(g->b, x, ""))));
    case EP_TANH: return vtanh(g, x);
    case EP_GELU_ERF:
      return vmul(g, vmul(g, vc(g, 0.5), x), vadd(g, vc(g, 1), verf(g, vmul(g, x, vc(g, 0.70710678118654752440)))));
    case EP_GELU_TANH: {
      LLVMValueRef cube = vmul(g, x, vmul(g, x, x));
      LLVMValueRef inner = vmul(g, vc(g, 0.79788456080286535588), vadd(g, x, vmul(g, vc(g, 0.044715), cube)));
      return vmul(g, vmul(g, vc(g, 0.5), x), vadd(g, vc(g, 1), vtanh(g, inner)));
    }
    case EP_ELU: return fsel(g, LLVMRealOLT, x, vc(g, 0), vexpm1_times(g, x, op->alpha), x);
    case EP_SELU: return vmul(g, vc(g, op->beta), fsel(g, LLVMRealOLE, x, vc(g, 0), vexpm1_times(g, x, op->alpha), x));
    case EP_CELU: {
      LLVMValueRef neg = vexpm1_times(g, vdiv(g, x, vc(g, op->alpha)), op->alpha);
      return vadd(g, fmax_(g, x, vc(g, 0)), fmin_(g, neg, vc(g, 0)));
    }
    case EP_HARD_SIGMOID: return clamp01(g, vadd(g, vmul(g, vc(g, op->alpha), x), vc(g, op->beta)));
    case EP_HARD_SWISH: return vmul(g, x, clamp01(g, vadd(g, vmul(g, vc(g, 1.0 / 6), x), vc(g, 0.5))));
    case EP_NEG: return LLVMBuildFNeg(g->b, x, "");
    case EP_ABS: return vcall1(g, "llvm.fabs", x);
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
  LLVMValueRef idx = i64c(g, slot);
  return LLVMBuildGEP2(g->b, g->i64, args, &idx, 1, "");
}
static LLVMValueRef load_slot(gen_t *g, LLVMValueRef args, int slot, LLVMTypeRef t) {
  return LLVMBuildLoad2(g->b, t, slot_ptr(g, args, slot), "");
}

static bool dim_is_one(const tcc_dim_t *d) { return tcc_dim_is_const(d) && tcc_dim_value(d) == 1; }

/* The element stride of axis `axis` of value v (0 when that dim is a broadcast 1), from suffix products. */
static tcc_status_t axis_stride(gen_t *g, LLVMValueRef syms, const tcc_value_t *v, int axis, LLVMValueRef *out) {
  if (dim_is_one(v->type.dims[axis])) {
    *out = i64c(g, 0);
    return NULL;
  }
  LLVMValueRef s = i64c(g, 1);
  for (int j = axis + 1; j < v->type.rank; j++) {
    LLVMValueRef d;
    TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(g->e, g->b, syms, v->type.dims[j], &d));
    s = LLVMBuildMul(g->b, s, d, "");
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
  int mr = g->k.mr, nv = g->k.nv, L = g->lanes;
  LLVMValueRef brow = gep_f32(g, ms->b, LLVMBuildMul(g->b, k, g->k.pack_b ? i64c(g, nv * L) : ms->ldb, ""));
  LLVMValueRef bv[MAX_NV];
  for (int v = 0; v < nv; v++) {
    LLVMValueRef ptr = gep_f32(g, brow, i64c(g, v * L));
    bv[v] = ms->masked_b ? masked_load(g, ptr, ms->bmask[v]) : load_aligned(g, g->vf, ptr, ms->b_align);
  }
  for (int r = 0; r < mr; r++) {
    LLVMValueRef ap = g->k.pack_a
                          ? gep_f32(g, ms->a, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, k, i64c(g, mr), ""), i64c(g, r), ""))
                          : gep_f32(g, ms->arow[r], k);
    LLVMValueRef av = splat(g, load_aligned(g, g->f32, ap, 4));
    for (int v = 0; v < nv; v++)
      LLVMBuildStore(g->b, fma3(g, av, bv[v], LLVMBuildLoad2(g->b, g->vf, ms->acc[r][v], "")), ms->acc[r][v]);
  }
}

/* micro(a, b, c, kcur, mrem, nrem, flags, lda, ldb, ldc, epi): the mr x nr tile of C at c, from A rows at a
 * (packed: a[k * mr + r]; else a[r * lda + k]) and B at b (packed: b[k * nr + j]; else b[k * ldb + j]).
 * flags: 1 = first K slice (C is not accumulated), 2 = last slice (apply the epilogue). epi holds, per
 * operand, its pointer at this tile and its row stride. masked_b: B columns beyond nrem are not read. */
static LLVMValueRef emit_micro(gen_t *g, const char *name, bool masked_b) {
  const plan_t *p = g->p;
  int mr = g->k.mr, nv = g->k.nv, L = g->lanes, nr = nv * L;
  LLVMTypeRef params[11] = {g->ptr, g->ptr, g->ptr, g->i64, g->i64, g->i64, g->i32, g->i64, g->i64, g->i64, g->ptr};
  LLVMValueRef fn = new_function(g, name, g->void_t, params, 11, true);
  begin_function(g, fn);
  LLVMValueRef a = LLVMGetParam(fn, 0), bp = LLVMGetParam(fn, 1), c = LLVMGetParam(fn, 2);
  LLVMValueRef kcur = LLVMGetParam(fn, 3), mrem = LLVMGetParam(fn, 4), nrem = LLVMGetParam(fn, 5);
  LLVMValueRef flags = LLVMGetParam(fn, 6), lda = LLVMGetParam(fn, 7), ldb = LLVMGetParam(fn, 8);
  LLVMValueRef ldc = LLVMGetParam(fn, 9), epi = LLVMGetParam(fn, 10);

  micro_state_t ms = {.a = a, .b = bp, .ldb = ldb, .masked_b = masked_b};
  ms.b_align = g->k.pack_b ? (unsigned)(L * 4 > 64 ? 64 : L * 4) : 4;
  for (int r = 0; r < mr; r++)
    for (int v = 0; v < nv; v++) {
      ms.acc[r][v] = entry_alloca(g, g->vf, "acc");
      LLVMBuildStore(g->b, vc(g, 0), ms.acc[r][v]);
    }
  if (!g->k.pack_a)
    for (int r = 0; r < mr; r++) {
      LLVMValueRef row = smin(g, i64c(g, r), LLVMBuildSub(g->b, mrem, i64c(g, 1), ""));
      ms.arow[r] = gep_f32(g, a, LLVMBuildMul(g->b, row, lda, ""));
    }
  if (masked_b)
    for (int v = 0; v < nv; v++) ms.bmask[v] = lane_mask(g, LLVMBuildSub(g->b, nrem, i64c(g, v * L), ""));

  int ku = g->k.ku;
  LLVMValueRef kmain = LLVMBuildSub(g->b, kcur, LLVMBuildSRem(g->b, kcur, i64c(g, ku), ""), "");
  loop_t lk;
  LLVMValueRef k0 = loop_begin(g, &lk, i64c(g, 0), kmain, i64c(g, ku), "k");
  for (int u = 0; u < ku; u++) k_step(g, &ms, LLVMBuildAdd(g->b, k0, i64c(g, u), ""));
  loop_end(g, &lk);
  if (ku > 1) {
    loop_t lr;
    LLVMValueRef k1 = loop_begin(g, &lr, kmain, kcur, i64c(g, 1), "krem");
    k_step(g, &ms, k1);
    loop_end(g, &lr);
  }

  LLVMValueRef first = LLVMBuildICmp(g->b, LLVMIntNE, LLVMBuildAnd(g->b, flags, i32c(g, 1), ""), i32c(g, 0), "first");
  LLVMValueRef last = LLVMBuildICmp(g->b, LLVMIntNE, LLVMBuildAnd(g->b, flags, i32c(g, 2), ""), i32c(g, 0), "last");
  LLVMValueRef full = LLVMBuildAnd(g->b, LLVMBuildICmp(g->b, LLVMIntEQ, mrem, i64c(g, mr), ""),
                                   LLVMBuildICmp(g->b, LLVMIntEQ, nrem, i64c(g, nr), ""), "full");
  /* the operands' pointers and row strides at this tile */
  LLVMValueRef optr[MAX_OPERANDS] = {0}, ors[MAX_OPERANDS] = {0};
  for (int q = 0; q < p->num_operands; q++) {
    if (p->operands[q].param < 0) continue;
    optr[q] = load_slot(g, epi, 2 * q, g->ptr);
    ors[q] = load_slot(g, epi, 2 * q + 1, g->i64);
  }
  LLVMBasicBlockRef full_bb = block(g, "full"), edge_bb = block(g, "edge"), done = block(g, "ret");
  LLVMBuildCondBr(g->b, full, full_bb, edge_bb);
  for (int edge = 0; edge < 2; edge++) {
    LLVMPositionBuilderAtEnd(g->b, edge ? edge_bb : full_bb);
    LLVMValueRef cmask[MAX_NV] = {0};
    if (edge)
      for (int v = 0; v < nv; v++) cmask[v] = lane_mask(g, LLVMBuildSub(g->b, nrem, i64c(g, v * L), ""));
    for (int phase = 0; phase < 3; phase++) { /* accumulate C, epilogue, store */
      LLVMBasicBlockRef phase_join = NULL;
      if (phase == 0) phase_join = if_begin(g, LLVMBuildNot(g->b, first, ""));
      if (phase == 1) phase_join = if_begin(g, last);
      for (int r = 0; r < mr; r++) {
        LLVMBasicBlockRef row_join = edge ? if_begin(g, LLVMBuildICmp(g->b, LLVMIntSLT, i64c(g, r), mrem, "")) : NULL;
        LLVMValueRef crow = gep_f32(g, c, LLVMBuildMul(g->b, i64c(g, r), ldc, ""));
        for (int v = 0; v < nv; v++) {
          LLVMValueRef cptr = gep_f32(g, crow, i64c(g, v * L));
          LLVMValueRef x = LLVMBuildLoad2(g->b, g->vf, ms.acc[r][v], "");
          if (phase == 0) {
            LLVMValueRef old = edge ? masked_load(g, cptr, cmask[v]) : load_aligned(g, g->vf, cptr, 4);
            LLVMBuildStore(g->b, vadd(g, x, old), ms.acc[r][v]);
          } else if (phase == 1) {
            for (int i = 0; i < p->num_ops; i++) {
              const ep_op_t *op = &p->ops[i];
              LLVMValueRef o = NULL;
              if (op->operand >= 0) {
                const operand_t *od = &p->operands[op->operand];
                if (od->param < 0) {
                  o = vc(g, od->value);
                } else {
                  LLVMValueRef rowp = gep_f32(g, optr[op->operand], LLVMBuildMul(g->b, i64c(g, r), ors[op->operand], ""));
                  if (operand_cols(p, od)) {
                    LLVMValueRef vp = gep_f32(g, rowp, i64c(g, v * L));
                    o = edge ? masked_load(g, vp, cmask[v]) : load_aligned(g, g->vf, vp, 4);
                  } else {
                    o = splat(g, load_aligned(g, g->f32, rowp, 4));
                  }
                }
              }
              x = apply_op(g, op, x, o);
            }
            LLVMBuildStore(g->b, x, ms.acc[r][v]);
          } else {
            if (edge) masked_store(g, x, cptr, cmask[v]);
            else store_aligned(g, x, cptr, 4);
          }
        }
        if (row_join) if_end(g, row_join);
      }
      if (phase_join) if_end(g, phase_join);
    }
    LLVMBuildBr(g->b, done);
  }
  LLVMPositionBuilderAtEnd(g->b, done);
  LLVMBuildRetVoid(g->b);
  return fn;
}

/* ---- the task body ---- */

static LLVMValueRef ceil_div(gen_t *g, LLVMValueRef a, int64_t b) {
  return LLVMBuildSDiv(g->b, LLVMBuildAdd(g->b, a, i64c(g, b - 1), ""), i64c(g, b), "");
}

/* body(args, begin, end): tasks [begin, end) of batch x mblocks x nblocks (m fastest). */
static LLVMValueRef emit_body(gen_t *g, const char *name, LLVMValueRef micro, LLVMValueRef micro_masked) {
  const plan_t *p = g->p;
  int mr = g->k.mr, L = g->lanes, nr = g->k.nv * L;
  int64_t kc = g->k.kc, mc = g->k.mc, nc = g->k.nc;
  LLVMTypeRef params[3] = {g->ptr, g->i64, g->i64};
  LLVMValueRef fn = new_function(g, name, g->i32, params, 3, true);
  begin_function(g, fn);
  LLVMValueRef args = LLVMGetParam(fn, 0), begin = LLVMGetParam(fn, 1), end = LLVMGetParam(fn, 2);
  LLVMValueRef A = load_slot(g, args, S_A, g->ptr), B = load_slot(g, args, S_B, g->ptr);
  LLVMValueRef Y = load_slot(g, args, S_Y, g->ptr);
  LLVMValueRef M = load_slot(g, args, S_M, g->i64), N = load_slot(g, args, S_N, g->i64);
  LLVMValueRef K = load_slot(g, args, S_K, g->i64);
  LLVMValueRef mblocks = load_slot(g, args, S_MBLOCKS, g->i64), nblocks = load_slot(g, args, S_NBLOCKS, g->i64);

  /* packing buffers: A block mc x kc, then B block kc x nc, 64-byte aligned */
  int64_t a_bytes = g->k.pack_a ? ((mc * kc * 4 + 63) & ~(int64_t)63) : 0;
  int64_t b_bytes = g->k.pack_b ? kc * (int64_t)((nc + nr - 1) / nr) * nr * 4 : 0;
  LLVMValueRef raw = NULL, Ap = NULL, Bp = NULL;
  LLVMTypeRef malloc_ty, free_ty;
  LLVMValueRef malloc_fn = libc_function(g, "malloc", g->ptr, &g->i64, 1, &malloc_ty);
  LLVMValueRef free_fn = libc_function(g, "free", g->void_t, &g->ptr, 1, &free_ty);
  if (a_bytes + b_bytes > 0) {
    LLVMValueRef size = i64c(g, a_bytes + b_bytes + 64);
    raw = LLVMBuildCall2(g->b, malloc_ty, malloc_fn, &size, 1, "buffers");
    LLVMBasicBlockRef oom = block(g, "nomem"), ok = block(g, "alloc_ok");
    LLVMBuildCondBr(g->b, LLVMBuildIsNull(g->b, raw, ""), oom, ok);
    LLVMPositionBuilderAtEnd(g->b, oom);
    LLVMBuildRet(g->b, i32c(g, TCC_KERNEL_ERR_NOMEM));
    LLVMPositionBuilderAtEnd(g->b, ok);
    LLVMValueRef addr = LLVMBuildPtrToInt(g->b, raw, g->i64, "");
    addr = LLVMBuildAnd(g->b, LLVMBuildAdd(g->b, addr, i64c(g, 63), ""), i64c(g, ~(int64_t)63), "");
    Ap = LLVMBuildIntToPtr(g->b, addr, g->ptr, "Ap");
    Bp = gep_f32(g, Ap, i64c(g, a_bytes / 4));
  }
  LLVMValueRef epi = entry_alloca(g, LLVMArrayType(g->i64, (unsigned)(2 * p->num_operands + 1)), "epi");

  loop_t lt;
  LLVMValueRef t = loop_begin(g, &lt, begin, end, i64c(g, 1), "task");
  LLVMValueRef mb = LLVMBuildSRem(g->b, t, mblocks, "");
  LLVMValueRef rest = LLVMBuildSDiv(g->b, t, mblocks, "");
  LLVMValueRef nbk = LLVMBuildSRem(g->b, rest, nblocks, "");
  LLVMValueRef bi = LLVMBuildSDiv(g->b, rest, nblocks, "bi");
  LLVMValueRef m0 = LLVMBuildMul(g->b, mb, i64c(g, mc), "m0"), n0 = LLVMBuildMul(g->b, nbk, i64c(g, nc), "n0");
  LLVMValueRef mcur = smin(g, i64c(g, mc), LLVMBuildSub(g->b, M, m0, ""));
  LLVMValueRef ncur = smin(g, i64c(g, nc), LLVMBuildSub(g->b, N, n0, ""));
  /* batch offsets */
  LLVMValueRef offA = i64c(g, 0), offB = i64c(g, 0), offO[MAX_OPERANDS];
  for (int q = 0; q < p->num_operands; q++) offO[q] = i64c(g, 0);
  LLVMValueRef rem = bi;
  for (int d = p->nb - 1; d >= 0; d--) {
    LLVMValueRef size = load_slot(g, args, slot_batch(p, d, 0), g->i64);
    LLVMValueRef idx = LLVMBuildSRem(g->b, rem, size, "");
    rem = LLVMBuildSDiv(g->b, rem, size, "");
    offA = LLVMBuildAdd(g->b, offA, LLVMBuildMul(g->b, idx, load_slot(g, args, slot_batch(p, d, 1), g->i64), ""), "");
    offB = LLVMBuildAdd(g->b, offB, LLVMBuildMul(g->b, idx, load_slot(g, args, slot_batch(p, d, 2), g->i64), ""), "");
    for (int q = 0; q < p->num_operands; q++)
      if (p->operands[q].param >= 0)
        offO[q] = LLVMBuildAdd(g->b, offO[q],
                               LLVMBuildMul(g->b, idx, load_slot(g, args, slot_operand_batch(p, q, d), g->i64), ""), "");
  }
  LLVMValueRef Ab = gep_f32(g, A, offA), Bb = gep_f32(g, B, offB);
  LLVMValueRef Yb = gep_f32(g, Y, LLVMBuildMul(g->b, bi, LLVMBuildMul(g->b, M, N, ""), ""));

  /* K slices: at least one, so that K == 0 still writes epilogue(0) */
  loop_t lp;
  LLVMValueRef kslices = vcall2(g, "llvm.smax", ceil_div(g, K, kc), i64c(g, 1));
  LLVMValueRef ps = loop_begin(g, &lp, i64c(g, 0), kslices, i64c(g, 1), "slice");
  LLVMValueRef pc = LLVMBuildMul(g->b, ps, i64c(g, kc), "pc");
  LLVMValueRef kcur = smin(g, i64c(g, kc), LLVMBuildSub(g->b, K, pc, ""));
  kcur = vcall2(g, "llvm.smax", kcur, i64c(g, 0));
  LLVMValueRef flags = LLVMBuildOr(
      g->b, LLVMBuildZExt(g->b, LLVMBuildICmp(g->b, LLVMIntEQ, ps, i64c(g, 0), ""), g->i32, ""),
      LLVMBuildShl(g->b, LLVMBuildZExt(g->b, LLVMBuildICmp(g->b, LLVMIntEQ, ps, LLVMBuildSub(g->b, kslices, i64c(g, 1), ""), ""),
                                       g->i32, ""),
                   i32c(g, 1), ""),
      "flags");
  if (g->k.pack_b) {
    /* Bp[(jp * kc + k) * nr + j] = B[pc + k, n0 + jp * nr + j], zero beyond ncur */
    loop_t lj, lk;
    LLVMValueRef jp = loop_begin(g, &lj, i64c(g, 0), ceil_div(g, ncur, nr), i64c(g, 1), "packb_j");
    LLVMValueRef col = LLVMBuildMul(g->b, jp, i64c(g, nr), "");
    LLVMValueRef masks[MAX_NV];
    for (int v = 0; v < g->k.nv; v++)
      masks[v] = lane_mask(g, LLVMBuildSub(g->b, ncur, LLVMBuildAdd(g->b, col, i64c(g, v * L), ""), ""));
    LLVMValueRef src0 = gep_f32(g, Bb, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, pc, N, ""), LLVMBuildAdd(g->b, n0, col, ""), ""));
    LLVMValueRef dst0 = gep_f32(g, Bp, LLVMBuildMul(g->b, jp, i64c(g, kc * nr), ""));
    LLVMValueRef kk = loop_begin(g, &lk, i64c(g, 0), kcur, i64c(g, 1), "packb_k");
    LLVMValueRef src = gep_f32(g, src0, LLVMBuildMul(g->b, kk, N, ""));
    LLVMValueRef dst = gep_f32(g, dst0, LLVMBuildMul(g->b, kk, i64c(g, nr), ""));
    for (int v = 0; v < g->k.nv; v++)
      store_aligned(g, masked_load(g, gep_f32(g, src, i64c(g, v * L)), masks[v]), gep_f32(g, dst, i64c(g, v * L)),
                    (unsigned)(L * 4 > 64 ? 64 : L * 4));
    loop_end(g, &lk);
    loop_end(g, &lj);
  }
  if (g->k.pack_a) {
    /* Ap[(ip * kc + k) * mr + r] = A[m0 + ip * mr + r, pc + k], zero beyond mcur */
    loop_t li, lk;
    LLVMValueRef ip = loop_begin(g, &li, i64c(g, 0), ceil_div(g, mcur, mr), i64c(g, 1), "packa_i");
    LLVMValueRef row0 = LLVMBuildMul(g->b, ip, i64c(g, mr), "");
    LLVMValueRef dst0 = gep_f32(g, Ap, LLVMBuildMul(g->b, ip, i64c(g, kc * mr), ""));
    LLVMValueRef srcs[MAX_MR], valid[MAX_MR];
    for (int r = 0; r < mr; r++) {
      LLVMValueRef row = LLVMBuildAdd(g->b, row0, i64c(g, r), "");
      valid[r] = LLVMBuildICmp(g->b, LLVMIntSLT, row, mcur, "");
      LLVMValueRef safe = smin(g, row, LLVMBuildSub(g->b, mcur, i64c(g, 1), ""));
      srcs[r] = gep_f32(g, Ab, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, LLVMBuildAdd(g->b, m0, safe, ""), K, ""), pc, ""));
    }
    LLVMValueRef kk = loop_begin(g, &lk, i64c(g, 0), kcur, i64c(g, 1), "packa_k");
    LLVMValueRef dst = gep_f32(g, dst0, LLVMBuildMul(g->b, kk, i64c(g, mr), ""));
    for (int r = 0; r < mr; r++) {
      LLVMValueRef x = load_aligned(g, g->f32, gep_f32(g, srcs[r], kk), 4);
      x = LLVMBuildSelect(g->b, valid[r], x, f32c(g, 0), "");
      store_aligned(g, x, gep_f32(g, dst, i64c(g, r)), 4);
    }
    loop_end(g, &lk);
    loop_end(g, &li);
  }
  /* micro-tiles: B panels outer (their kc x nr panel stays in L1), A panels inner */
  loop_t lj, li;
  LLVMValueRef jr = loop_begin(g, &lj, i64c(g, 0), ncur, i64c(g, nr), "jr");
  LLVMValueRef nrem = smin(g, i64c(g, nr), LLVMBuildSub(g->b, ncur, jr, ""));
  LLVMValueRef col = LLVMBuildAdd(g->b, n0, jr, "col");
  LLVMValueRef bptr = g->k.pack_b ? gep_f32(g, Bp, LLVMBuildMul(g->b, jr, i64c(g, kc), ""))
                                  : gep_f32(g, Bb, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, pc, N, ""), col, ""));
  LLVMValueRef ir = loop_begin(g, &li, i64c(g, 0), mcur, i64c(g, mr), "ir");
  LLVMValueRef mrem = smin(g, i64c(g, mr), LLVMBuildSub(g->b, mcur, ir, ""));
  LLVMValueRef row = LLVMBuildAdd(g->b, m0, ir, "row");
  LLVMValueRef aptr = g->k.pack_a ? gep_f32(g, Ap, LLVMBuildMul(g->b, ir, i64c(g, kc), ""))
                                  : gep_f32(g, Ab, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, row, K, ""), pc, ""));
  LLVMValueRef cptr = gep_f32(g, Yb, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, row, N, ""), col, ""));
  for (int q = 0; q < p->num_operands; q++) {
    if (p->operands[q].param < 0) continue;
    LLVMValueRef base = gep_f32(g, load_slot(g, args, slot_operand(p, q, 0), g->ptr), offO[q]);
    LLVMValueRef rs = load_slot(g, args, slot_operand(p, q, 1), g->i64);
    LLVMValueRef off = LLVMBuildMul(g->b, row, rs, "");
    if (operand_cols(p, &p->operands[q])) off = LLVMBuildAdd(g->b, off, col, "");
    LLVMBuildStore(g->b, gep_f32(g, base, off), slot_ptr(g, epi, 2 * q));
    LLVMBuildStore(g->b, rs, slot_ptr(g, epi, 2 * q + 1));
  }
  LLVMValueRef call_args[11] = {aptr, bptr, cptr, kcur, mrem, nrem, flags, K, N, N, epi};
  LLVMTypeRef micro_ty = LLVMGlobalGetValueType(micro);
  if (micro_masked) {
    LLVMValueRef edge = LLVMBuildICmp(g->b, LLVMIntSLT, nrem, i64c(g, nr), "");
    LLVMBasicBlockRef masked_bb = block(g, "masked"), plain_bb = block(g, "plain"), next = block(g, "next");
    LLVMBuildCondBr(g->b, edge, masked_bb, plain_bb);
    LLVMPositionBuilderAtEnd(g->b, masked_bb);
    LLVMBuildCall2(g->b, micro_ty, micro_masked, call_args, 11, "");
    LLVMBuildBr(g->b, next);
    LLVMPositionBuilderAtEnd(g->b, plain_bb);
    LLVMBuildCall2(g->b, micro_ty, micro, call_args, 11, "");
    LLVMBuildBr(g->b, next);
    LLVMPositionBuilderAtEnd(g->b, next);
  } else {
    LLVMBuildCall2(g->b, micro_ty, micro, call_args, 11, "");
  }
  loop_end(g, &li);
  loop_end(g, &lj);
  loop_end(g, &lp);
  loop_end(g, &lt);
  if (raw) LLVMBuildCall2(g->b, free_ty, free_fn, &raw, 1, "");
  LLVMBuildRet(g->b, i32c(g, 0));
  return fn;
}

/* ---- the entry points ---- */

static tcc_status_t emit_packed(gen_t *g, const char *name, LLVMValueRef body, LLVMValueRef *out) {
  const plan_t *p = g->p;
  LLVMTypeRef params[2] = {g->ptr, g->ptr};
  LLVMValueRef fn = new_function(g, name, g->i32, params, 2, false);
  *out = fn;
  begin_function(g, fn);
  LLVMValueRef pv = LLVMGetParam(fn, 0), ctx = LLVMGetParam(fn, 1);
  LLVMValueRef syms = LLVMBuildLoad2(g->b, g->ptr, ctx, "syms");
  LLVMValueRef args = entry_alloca(g, LLVMArrayType(g->i64, (unsigned)num_slots(p)), "args");
#define PARAM(i) LLVMBuildLoad2(g->b, g->ptr, LLVMBuildGEP2(g->b, g->ptr, pv, (LLVMValueRef[]){i64c(g, (i))}, 1, ""), "")
  LLVMBuildStore(g->b, PARAM(p->param_a), slot_ptr(g, args, S_A));
  LLVMBuildStore(g->b, PARAM(p->param_b), slot_ptr(g, args, S_B));
  LLVMBuildStore(g->b, PARAM(p->param_y), slot_ptr(g, args, S_Y));
  const tcc_dim_t *const *ad = p->a->type.dims, *const *bd = p->b->type.dims, *const *yd = p->y->type.dims;
  LLVMValueRef M = i64c(g, 1), N = i64c(g, 1), K;
  if (p->ra > 1) TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(g->e, g->b, syms, ad[p->ra - 2], &M));
  if (p->rb > 1) TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(g->e, g->b, syms, bd[p->rb - 1], &N));
  TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(g->e, g->b, syms, ad[p->ra - 1], &K));
  LLVMBuildStore(g->b, M, slot_ptr(g, args, S_M));
  LLVMBuildStore(g->b, N, slot_ptr(g, args, S_N));
  LLVMBuildStore(g->b, K, slot_ptr(g, args, S_K));
  LLVMValueRef mblocks = ceil_div(g, M, g->k.mc), nblocks = ceil_div(g, N, g->k.nc);
  LLVMBuildStore(g->b, mblocks, slot_ptr(g, args, S_MBLOCKS));
  LLVMBuildStore(g->b, nblocks, slot_ptr(g, args, S_NBLOCKS));
  LLVMValueRef batch = i64c(g, 1);
  int nbA = p->ra > 1 ? p->ra - 2 : 0, nbB = p->rb > 1 ? p->rb - 2 : 0;
  for (int d = 0; d < p->nb; d++) {
    LLVMValueRef size, sa = i64c(g, 0), sb = i64c(g, 0);
    TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(g->e, g->b, syms, yd[d], &size));
    batch = LLVMBuildMul(g->b, batch, size, "");
    int ja = d - (p->nb - nbA), jb = d - (p->nb - nbB);
    if (ja >= 0) TCC_RETURN_IF_ERROR(axis_stride(g, syms, p->a, ja, &sa));
    if (jb >= 0) TCC_RETURN_IF_ERROR(axis_stride(g, syms, p->b, jb, &sb));
    LLVMBuildStore(g->b, size, slot_ptr(g, args, slot_batch(p, d, 0)));
    LLVMBuildStore(g->b, sa, slot_ptr(g, args, slot_batch(p, d, 1)));
    LLVMBuildStore(g->b, sb, slot_ptr(g, args, slot_batch(p, d, 2)));
  }
  for (int q = 0; q < p->num_operands; q++) {
    const operand_t *o = &p->operands[q];
    if (o->param < 0) continue;
    int ro = o->v->type.rank, shift = p->ry - ro;
    for (int d = 0; d < p->nb; d++) {
      LLVMValueRef s = i64c(g, 0);
      if (d - shift >= 0) TCC_RETURN_IF_ERROR(axis_stride(g, syms, o->v, d - shift, &s));
      LLVMBuildStore(g->b, s, slot_ptr(g, args, slot_operand_batch(p, q, d)));
    }
    LLVMValueRef rs = i64c(g, 0);
    int row_axis = p->ra > 1 ? p->nb : -1;
    if (row_axis >= 0 && row_axis - shift >= 0) TCC_RETURN_IF_ERROR(axis_stride(g, syms, o->v, row_axis - shift, &rs));
    LLVMBuildStore(g->b, PARAM(o->param), slot_ptr(g, args, slot_operand(p, q, 0)));
    LLVMBuildStore(g->b, rs, slot_ptr(g, args, slot_operand(p, q, 1)));
  }
#undef PARAM
  LLVMValueRef tasks = LLVMBuildMul(g->b, batch, LLVMBuildMul(g->b, mblocks, nblocks, ""), "tasks");
  /* one task (or one thread): run the body here; else ctx->parallel_for(ctx->pool, tasks, 1, body, args) */
  LLVMTypeRef ctx_fields[4] = {g->ptr, g->ptr, g->ptr, g->i32};
  LLVMTypeRef ctx_ty = LLVMStructTypeInContext(g->ctx, ctx_fields, 4, 0);
  LLVMValueRef pfor = LLVMBuildLoad2(g->b, g->ptr, LLVMBuildStructGEP2(g->b, ctx_ty, ctx, 1, ""), "parallel_for");
  LLVMValueRef pool = LLVMBuildLoad2(g->b, g->ptr, LLVMBuildStructGEP2(g->b, ctx_ty, ctx, 2, ""), "pool");
  LLVMValueRef threads = LLVMBuildLoad2(g->b, g->i32, LLVMBuildStructGEP2(g->b, ctx_ty, ctx, 3, ""), "threads");
  LLVMValueRef serial = LLVMBuildOr(g->b, LLVMBuildICmp(g->b, LLVMIntSLE, tasks, i64c(g, 1), ""),
                                    LLVMBuildOr(g->b, LLVMBuildICmp(g->b, LLVMIntSLE, threads, i32c(g, 1), ""),
                                                LLVMBuildIsNull(g->b, pfor, ""), ""),
                                    "serial");
  LLVMBasicBlockRef here = block(g, "here"), pooled = block(g, "pooled");
  LLVMBuildCondBr(g->b, serial, here, pooled);
  LLVMPositionBuilderAtEnd(g->b, here);
  LLVMValueRef bargs[3] = {args, i64c(g, 0), tasks};
  LLVMBuildRet(g->b, LLVMBuildCall2(g->b, LLVMGlobalGetValueType(body), body, bargs, 3, ""));
  LLVMPositionBuilderAtEnd(g->b, pooled);
  LLVMTypeRef pf_params[5] = {g->ptr, g->i64, g->i64, g->ptr, g->ptr};
  LLVMValueRef pargs[5] = {pool, tasks, i64c(g, 1), body, args};
  LLVMBuildRet(g->b, LLVMBuildCall2(g->b, LLVMFunctionType(g->i32, pf_params, 5, 0), pfor, pargs, 5, ""));
  return NULL;
}

/* SYM(p0, ..., ctx): the unpacked form of the ABI, calling SYM_packed. */
static void emit_unpacked(gen_t *g, const char *name, LLVMValueRef packed) {
  int n = g->p->num_params;
  LLVMTypeRef params[64];
  for (int i = 0; i <= n; i++) params[i] = g->ptr;
  LLVMValueRef fn = new_function(g, name, g->i32, params, n + 1, false);
  begin_function(g, fn);
  LLVMValueRef arr = entry_alloca(g, LLVMArrayType(g->ptr, (unsigned)n), "params");
  for (int i = 0; i < n; i++) {
    LLVMValueRef idx = i64c(g, i);
    LLVMBuildStore(g->b, LLVMGetParam(fn, (unsigned)i), LLVMBuildGEP2(g->b, g->ptr, arr, &idx, 1, ""));
  }
  LLVMValueRef args[2] = {arr, LLVMGetParam(fn, (unsigned)n)};
  LLVMBuildRet(g->b, LLVMBuildCall2(g->b, LLVMGlobalGetValueType(packed), packed, args, 2, ""));
}

/* A function name free in the module: the node's name made an identifier, "gemm" when it has none. */
static void unique_name(LLVMModuleRef mod, const char *node_name, char out[200]) {
  const size_t cap = 200;
  char base[160];
  size_t j = 0;
  for (const char *s = node_name ? node_name : ""; *s && j + 1 < sizeof base; s++)
    base[j++] = isalnum((unsigned char)*s) || *s == '_' ? *s : '_';
  base[j] = 0;
  if (j == 0 || isdigit((unsigned char)base[0])) {
    char tmp[sizeof base + 8];
    snprintf(tmp, sizeof tmp, "gemm_%s", base);
    memcpy(base, tmp, sizeof base - 1);
    base[sizeof base - 1] = 0;
  }
  snprintf(out, cap, "%s", base);
  for (int suffix = 2;; suffix++) {
    char packed[256];
    snprintf(packed, sizeof packed, "%.200s_packed", out);
    if (!LLVMGetNamedFunction(mod, out) && !LLVMGetNamedFunction(mod, packed)) return;
    snprintf(out, cap, "%s_%d", base, suffix);
  }
}

tcc_status_t tcc_cpu_gemm_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, const char *target,
                               const tcc_cpu_gemm_knobs_t *knobs, const char **symbol, bool *applied) {
  *symbol = NULL;
  *applied = false;
  LLVMModuleRef mod = tcc_llvm_emitter_module(e);
  if (!mod) return tcc_status_make(TCC_INVALID_ARGUMENT, "the emitter's module was taken");
  plan_t p;
  if (!plan_node(node, &p) || p.num_params > 60) return NULL;
  tcc_space_target_t caps;
  TCC_RETURN_IF_ERROR(tcc_space_target_caps(target, &caps));
  gen_t g = {.e = e, .mod = mod, .ctx = LLVMGetModuleContext(mod), .p = &p, .lanes = caps.lanes};
  g.target = tcc_cpu_target_find(target ? target : "native");
  if (knobs) {
    g.k = *knobs;
    TCC_RETURN_IF_ERROR(tcc_cpu_gemm_knobs_from_space(NULL, caps.lanes, &g.k));
  } else {
    tcc_cpu_gemm_shape_t shape;
    bool handled;
    TCC_RETURN_IF_ERROR(tcc_cpu_gemm_shape(node, &shape, &handled));
    TCC_RETURN_IF_ERROR(tcc_cpu_gemm_default_knobs(&shape, target, &g.k));
  }
  if (g.lanes < 1 || g.lanes > 64) return NULL;
  g.i32 = LLVMInt32TypeInContext(g.ctx), g.i64 = LLVMInt64TypeInContext(g.ctx);
  g.f32 = LLVMFloatTypeInContext(g.ctx), g.ptr = LLVMPointerTypeInContext(g.ctx, 0);
  g.void_t = LLVMVoidTypeInContext(g.ctx);
  g.vf = LLVMVectorType(g.f32, (unsigned)g.lanes), g.vi = LLVMVectorType(g.i32, (unsigned)g.lanes);
  g.b = LLVMCreateBuilderInContext(g.ctx);

  char name[200], fname[240];
  unique_name(mod, node->name, name);
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
  if (!st) emit_unpacked(&g, name, packed);
  LLVMDisposeBuilder(g.b);
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
