/* The GPU GEMM and convolution template: tensor cores for halves, FMAs for float32 (contract in
 * codegen/gpu_gemm.h). */
#include "codegen/gpu_gemm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "autotune/space.h"
#include "codegen/template_ir.h"

/* The most accumulators a thread holds (4 per 16 x 8 mma tile of its warp's tile). */
enum { MAX_ACC = 256, MAX_SHARED = 227 << 10 };
/* The most batch dims of a batched product with a residual. */
enum { MAX_BATCH_RANK = 14 };

/* The tile shape derived from the knobs: a block of (bm / wm) x (bn / wn) warps computes bm x bn of C,
 * each warp wm x wn (mi x ni mma tiles of 16 x 8); K goes through shared memory in bk slices, `stages`
 * of them in flight. Shared rows are padded by 8 elements (16 bytes) so that the 8 rows an ldmatrix
 * reads fall in different banks. */
typedef struct {
  int bm, bn, bk, wm, wn, stages, group, split;
  int threads, warps_n, mi, ni, row_step; /* a thread's accumulators: mi x ni tiles of 16 x 8, row_step apart */
  /* warps_n: warps across bn (float32: threads, each wm x wn) */
  int chunk;                              /* elements in 16 bytes */
  int a_stride, b_stride, a_bytes, stage_bytes, shared_bytes; /* elements per shared row; bytes */
  bool wgmma; /* the warpgroup path: swizzled slices of 64, no padding (see tile_offset) */
  bool simt;  /* the float32 path: each thread computes wm x wn of C with FMAs (see compute_stage_simt) */
} tile_t;

/* A convolution as a GEMM (NHWC): M = batch * OH * OW output pixels, N = output channels, K = KH * KW * C;
 * A is the im2col of the input, never materialized (its rows are gathered by the copies), B the weights
 * [N, KH, KW, C], i.e. [N][K]. */
typedef struct {
  int64_t c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
} conv_t;

typedef struct {
  const tcc_value_t *a, *b, *c, *bias, *residual;
  int param_a, param_b, param_c, param_bias, param_residual, num_params;
  bool batched; /* B has A's batch dims (else B is 2-D and A's leading dims fold into M) */
  bool b_nk;    /* B is stored [N][K] (conv weights) instead of [K][N] */
  bool is_conv;
  conv_t cv;
  tcc_dtype_t dtype; /* of A, B and C: f16, bf16 or f32 */
  bool bf16;
  bool tf32; /* f32 on the mma.sync path in TF32 (the product's attribute tf32 = 1, from --allow-tf32) */
  enum { ACT_NONE, ACT_RELU, ACT_CLIP, ACT_GELU_ERF, ACT_GELU_TANH } act; /* after the bias and the residual */
  double clip_lo, clip_hi;
  double scale; /* the product (+ bias + residual) times this, before the activation */
  bool res_rows; /* the residual varies along the rows (else it is broadcast over them: one row) */
  int64_t n, k;
} plan_t;

static bool typed_tensor(const tcc_value_t *v, tcc_dtype_t dtype) {
  return v && v->type.kind == TCC_TYPE_TENSOR && v->type.dtype == dtype && v->type.rank >= 1;
}

static bool const_dim(const tcc_value_t *v, int d, int64_t *out) {
  if (d < 0 || d >= v->type.rank || !tcc_dim_is_const(v->type.dims[d])) return false;
  *out = tcc_dim_value(v->type.dims[d]);
  return true;
}

/* The parameter index of node input i (absent inputs take none). */
static int param_of(const tcc_node_t *n, int input) {
  int p = 0;
  for (int i = 0; i < input; i++) p += n->inputs[i] != NULL;
  return p;
}

static int body_input(const tcc_node_t *n, const tcc_graph_t *body, const tcc_value_t *v) {
  for (int i = 0; i < n->num_inputs; i++)
    if ((size_t)i < body->num_inputs && body->inputs[i] == v && n->inputs[i]) return i;
  return -1;
}

static bool gemm_dtype(tcc_dtype_t t) { return t == TCC_DTYPE_F16 || t == TCC_DTYPE_BF16 || t == TCC_DTYPE_F32; }

/* The product's TF32 permission (float32 only). */
static void plan_tf32(const tcc_node_t *product, plan_t *p) {
  p->tf32 = p->dtype == TCC_DTYPE_F32 && tcc_node_attr_int(product, "tf32", 0) == 1;
}

static bool plan_shapes(plan_t *p) {
  tcc_dtype_t t = p->a->type.dtype;
  if (!gemm_dtype(t)) return false;
  p->dtype = t, p->bf16 = t == TCC_DTYPE_BF16;
  if (!typed_tensor(p->a, t) || !typed_tensor(p->b, t) || !typed_tensor(p->c, t)) return false;
  int ra = p->a->type.rank, rb = p->b->type.rank;
  if (ra < 2 || rb < 2 || p->c->type.rank != ra || (rb != 2 && rb != ra)) return false;
  if (!const_dim(p->a, ra - 1, &p->k) || !const_dim(p->b, rb - 1, &p->n)) return false;
  int64_t kb;
  if (!const_dim(p->b, rb - 2, &kb) || kb != p->k || p->n % 8 || p->k <= 0 || p->n <= 0) return false;
  p->batched = rb == ra && ra > 2;
  for (int d = 0; p->batched && d < ra - 2; d++)
    if (p->a->type.dims[d] != p->b->type.dims[d]) return false; /* dims are interned */
  return true;
}

static bool attr_pair(const tcc_node_t *n, const char *name, int64_t fallback, int64_t *a, int64_t *b) {
  const int64_t *v = NULL;
  int64_t count = 0;
  if (!tcc_node_attr_ints(n, name, &v, &count)) return *a = *b = fallback, true;
  if (count != 2) return false;
  return *a = v[0], *b = v[1], true;
}

/* conv: a 2-D NHWC convolution of one group whose output channels are a multiple of 8. */
static bool plan_conv(const tcc_node_t *cv, plan_t *p) {
  if (cv->op != TCC_OP_CONV || cv->num_outputs != 1 || cv->num_inputs < 2 || !cv->inputs[0] || !cv->inputs[1]) return false;
  if (strcmp(tcc_node_attr_string(cv, "layout", ""), "NHWC") != 0 || tcc_node_attr_int(cv, "group", 1) != 1) return false;
  const char *ap = tcc_node_attr_string(cv, "auto_pad", "NOTSET");
  if (strcmp(ap, "NOTSET") != 0 && strcmp(ap, "VALID") != 0) return false;
  tcc_dtype_t t = cv->inputs[0]->type.dtype;
  if (!gemm_dtype(t)) return false;
  const tcc_value_t *x = cv->inputs[0], *w = cv->inputs[1], *y = cv->outputs[0];
  if (!typed_tensor(x, t) || !typed_tensor(w, t) || !typed_tensor(y, t) || x->type.rank != 4 || w->type.rank != 4 ||
      y->type.rank != 4 || x->type.dims[0] != y->type.dims[0])
    return false;
  conv_t *c = &p->cv;
  int64_t oc, wkc;
  if (!const_dim(x, 1, &c->h) || !const_dim(x, 2, &c->w) || !const_dim(x, 3, &c->c) || !const_dim(w, 0, &oc) ||
      !const_dim(w, 1, &c->kh) || !const_dim(w, 2, &c->kw) || !const_dim(w, 3, &wkc) || !const_dim(y, 1, &c->oh) ||
      !const_dim(y, 2, &c->ow) || !const_dim(y, 3, &p->n) || wkc != c->c || oc != p->n)
    return false;
  int64_t pads[4] = {0, 0, 0, 0};
  const int64_t *pv = NULL;
  int64_t np = 0;
  if (strcmp(ap, "VALID") != 0 && tcc_node_attr_ints(cv, "pads", &pv, &np)) {
    if (np != 4) return false;
    memcpy(pads, pv, sizeof pads);
  }
  c->ph = pads[0], c->pw = pads[1];
  if (!attr_pair(cv, "strides", 1, &c->sh, &c->sw) || !attr_pair(cv, "dilations", 1, &c->dh, &c->dw)) return false;
  if (c->sh < 1 || c->sw < 1 || c->dh < 1 || c->dw < 1 || c->ph < 0 || c->pw < 0 || c->c < 1 || p->n % 8 ||
      c->oh != (c->h + pads[0] + pads[2] - c->dh * (c->kh - 1) - 1) / c->sh + 1 ||
      c->ow != (c->w + pads[1] + pads[3] - c->dw * (c->kw - 1) - 1) / c->sw + 1)
    return false;
  p->is_conv = p->b_nk = true;
  p->dtype = t, p->bf16 = t == TCC_DTYPE_BF16;
  plan_tf32(cv, p);
  p->k = c->kh * c->kw * c->c;
  if (cv->num_inputs > 2 && cv->inputs[2]) {
    int64_t nb;
    p->bias = cv->inputs[2];
    if (!typed_tensor(p->bias, t) || p->bias->type.rank != 1 || !const_dim(p->bias, 0, &nb) || nb != p->n) return false;
  }
  return true;
}

/* A scalar float constant: a constant value of the body, or a node input that is one; absent: fallback. */
static bool scalar_constant(const tcc_node_t *node, const tcc_graph_t *body, const tcc_value_t *v, double fallback,
                            double *out) {
  if (!v) return *out = fallback, true;
  const tcc_tensor_t *t = v->constant;
  int i = t ? -1 : body_input(node, body, v);
  if (i >= 0) t = node->inputs[i]->constant;
  if (!t || t->numel != 1 || !tcc_dtype_is_float(t->dtype)) return false;
  *out = tcc_tensor_get_float(t, 0);
  return true;
}

/* The epilogue of a fused node after its product `cur` (body->nodes[from] on): the add of a bias of N
 * elements (matmul only: a conv's bias is its third input), the add of a residual of the output's shape
 * (for batched products, or broadcast from 1 along the batch dims and the rows),
 * a multiplication or division by a scalar constant, then Relu, Clip with constant bounds (ReLU6) or
 * Gelu, each optional and in that order. */
static bool plan_epilogue(const tcc_node_t *node, const tcc_graph_t *body, size_t from, const tcc_value_t *cur,
                          plan_t *p) {
  size_t i = from;
  for (int pass = 0; pass < 2 && i < body->num_nodes && body->nodes[i]->op == TCC_OP_ADD; pass++) {
    const tcc_node_t *add = body->nodes[i];
    if (add->num_inputs != 2 || (add->inputs[0] == cur) == (add->inputs[1] == cur)) return false;
    const tcc_value_t *o = add->inputs[0] == cur ? add->inputs[1] : add->inputs[0];
    int io = body_input(node, body, o);
    if (io < 0 || !typed_tensor(o, cur->type.dtype)) return false;
    int64_t nb;
    if (!p->bias && !p->residual && !p->is_conv && o->type.rank == 1 && const_dim(o, 0, &nb) && nb == p->n) {
      p->bias = node->inputs[io], p->param_bias = param_of(node, io);
    } else if (!p->residual && o->type.rank == cur->type.rank) {
      int r = o->type.rank;
      if (p->batched && r - 2 > MAX_BATCH_RANK) return false;
      for (int d = 0; d < r; d++) {
        bool one = p->batched && d < r - 1 && tcc_dim_is_const(o->type.dims[d]) && tcc_dim_value(o->type.dims[d]) == 1;
        if (o->type.dims[d] != cur->type.dims[d] && !one) return false;
      }
      p->residual = node->inputs[io], p->param_residual = param_of(node, io);
      p->res_rows = o->type.dims[r - 2] == cur->type.dims[r - 2];
    } else {
      return false;
    }
    cur = add->outputs[0], i++;
  }
  const tcc_node_t *sc = i < body->num_nodes ? body->nodes[i] : NULL;
  double by;
  if (sc && (sc->op == TCC_OP_MUL || sc->op == TCC_OP_DIV) && sc->num_inputs == 2 &&
      (sc->inputs[0] == cur || (sc->op == TCC_OP_MUL && sc->inputs[1] == cur)) &&
      scalar_constant(node, body, sc->inputs[sc->inputs[0] == cur], 1, &by) && (sc->op == TCC_OP_MUL || by != 0)) {
    p->scale = sc->op == TCC_OP_MUL ? by : 1 / by;
    cur = sc->outputs[0], i++;
  }
  if (i < body->num_nodes && body->nodes[i]->inputs[0] == cur) {
    const tcc_node_t *n = body->nodes[i];
    const char *approximate = tcc_node_attr_string(n, "approximate", "none");
    if (n->op == TCC_OP_RELU) p->act = ACT_RELU;
    else if (n->op == TCC_OP_CLIP && scalar_constant(node, body, n->num_inputs > 1 ? n->inputs[1] : NULL, -INFINITY, &p->clip_lo) &&
             scalar_constant(node, body, n->num_inputs > 2 ? n->inputs[2] : NULL, INFINITY, &p->clip_hi))
      p->act = ACT_CLIP;
    else if (n->op == TCC_OP_GELU && strcmp(approximate, "none") == 0) p->act = ACT_GELU_ERF;
    else if (n->op == TCC_OP_GELU && strcmp(approximate, "tanh") == 0) p->act = ACT_GELU_TANH;
    if (p->act != ACT_NONE) cur = n->outputs[0], i++;
  }
  return i == body->num_nodes && body->outputs[0] == cur && typed_tensor(cur, p->c->type.dtype);
}

/* A fused conv node: conv(x, w[, bias]) and its epilogue. */
static bool plan_fused_conv(const tcc_node_t *node, const tcc_graph_t *body, plan_t *p) {
  const tcc_node_t *cv = body->nodes[0];
  if (!plan_conv(cv, p) || !plan_epilogue(node, body, 1, cv->outputs[0], p)) return false;
  int ix = body_input(node, body, cv->inputs[0]), iw = body_input(node, body, cv->inputs[1]);
  int ib = p->bias ? body_input(node, body, p->bias) : -1;
  if (ix < 0 || iw < 0 || (p->bias && ib < 0)) return false;
  p->a = node->inputs[ix], p->b = node->inputs[iw];
  p->param_a = param_of(node, ix), p->param_b = param_of(node, iw);
  if (p->bias) p->bias = node->inputs[ib], p->param_bias = param_of(node, ib);
  return true;
}

static bool plan_node(const tcc_node_t *node, plan_t *p) {
  memset(p, 0, sizeof *p);
  p->param_bias = p->param_residual = -1;
  p->scale = 1;
  if (node->num_outputs != 1 || !node->outputs[0]) return false;
  for (int i = 0; i < node->num_inputs; i++) p->num_params += node->inputs[i] != NULL;
  p->c = node->outputs[0];
  p->param_c = p->num_params++;
  if (node->op == TCC_OP_CONV) {
    if (!plan_conv(node, p)) return false;
    p->a = node->inputs[0], p->b = node->inputs[1], p->param_a = 0, p->param_b = 1;
    if (p->bias) p->param_bias = param_of(node, 2);
    return true;
  }
  if (node->op == TCC_OP_MATMUL) {
    if (node->num_inputs != 2 || !node->inputs[0] || !node->inputs[1]) return false;
    p->a = node->inputs[0], p->b = node->inputs[1], p->param_a = 0, p->param_b = 1;
    if (!plan_shapes(p)) return false;
    plan_tf32(node, p);
    return true;
  }
  const char *kind = tcc_node_attr_string(node, "kind", "");
  const tcc_attr_t *ba = tcc_node_attr(node, "body");
  const tcc_graph_t *body = ba && ba->kind == TCC_ATTR_GRAPH ? ba->g : NULL;
  if (node->op != TCC_OP_FUSED || !body || body->num_nodes < 1 || body->num_outputs != 1 ||
      (int)body->num_inputs != node->num_inputs)
    return false;
  if (strncmp(kind, "conv2d", 6) == 0) return plan_fused_conv(node, body, p);
  if (strncmp(kind, "matmul", 6) != 0) return false;
  const tcc_node_t *mm = body->nodes[0];
  if (mm->op != TCC_OP_MATMUL || mm->num_inputs != 2) return false;
  int ia = body_input(node, body, mm->inputs[0]), ib = body_input(node, body, mm->inputs[1]);
  if (ia < 0 || ib < 0) return false;
  p->a = node->inputs[ia], p->b = node->inputs[ib];
  p->param_a = param_of(node, ia), p->param_b = param_of(node, ib);
  if (!plan_shapes(p)) return false;
  plan_tf32(mm, p);
  return typed_tensor(mm->outputs[0], p->a->type.dtype) && plan_epilogue(node, body, 1, mm->outputs[0], p);
}

/* ---- IR helpers ---- */

typedef struct {
  tcc_tir_t t;
  const plan_t *p;
  tile_t k;
  LLVMTypeRef elem, half, p1; /* elem: the operands' type in memory (i16 for halves, float) */
  int esize;                   /* its bytes */
  LLVMValueRef smem;                  /* the dynamic shared memory (addrspace 3) */
  LLVMValueRef smem_address;          /* its shared address (i32) */
  LLVMValueRef tid, lane;
  LLVMValueRef warp_m, warp_n; /* the warp's first row and column in the tile; float32: see stream_tiles */
  LLVMValueRef wg_a; /* wgmma: the byte offset of the warpgroup's first A row in a stage */
  LLVMValueRef loader; int loaders; /* the copying thread's index among `loaders` threads */
  /* the warpgroup path's operands copied by the TMA unit (see tensor_maps), and the kernel parameters
   * holding their tensor maps */
  bool tma_a, tma_b;
  char map_a[300], map_b[300];
  /* batched products with a residual: C's batch dims and the residual's (i64), innermost last */
  LLVMValueRef c_batch[MAX_BATCH_RANK], r_batch[MAX_BATCH_RANK];
} gen_t;

static LLVMValueRef i32c(gen_t *g, int64_t v) { return tcc_tir_i32c(&g->t, (int32_t)v); }
static LLVMValueRef i64c(gen_t *g, int64_t v) { return tcc_tir_i64c(&g->t, v); }

static LLVMValueRef sreg(gen_t *g, const char *name) { return tcc_tir_sreg(&g->t, name); }
static void barrier(gen_t *g) { tcc_tir_barrier(&g->t); }

/* Shared memory at a byte offset (i32). */
static LLVMValueRef shared_at(gen_t *g, LLVMValueRef offset) {
  return LLVMBuildGEP2(g->t.b, LLVMInt8TypeInContext(g->t.ctx), g->smem, &offset, 1, "");
}

/* Global memory (addrspace 1) at element `index` (i64) of the operands' elements from base. */
static LLVMValueRef global_at(gen_t *g, LLVMValueRef base, LLVMValueRef index) {
  LLVMValueRef p1 = LLVMBuildAddrSpaceCast(g->t.b, base, g->p1, "");
  return LLVMBuildGEP2(g->t.b, g->elem, p1, &index, 1, "");
}

static LLVMValueRef mul(gen_t *g, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildMul(g->t.b, a, b, ""); }
static LLVMValueRef add(gen_t *g, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(g->t.b, a, b, ""); }
static LLVMValueRef lt(gen_t *g, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildICmp(g->t.b, LLVMIntSLT, a, b, ""); }
static LLVMValueRef sext(gen_t *g, LLVMValueRef v) { return LLVMBuildSExt(g->t.b, v, g->t.i64, ""); }

static LLVMValueRef inline_ptx(gen_t *g, const char *text, const char *constraints, LLVMTypeRef ret, LLVMValueRef *args,
                               int n) {
  return tcc_tir_ptx(&g->t, text, constraints, ret, args, n);
}

static void ptx_statement(gen_t *g, const char *text) { tcc_tir_ptx_statement(&g->t, text); }

/* Stores a chunk (16 bytes of elements) at shared byte offset dst: one cp.async from element `at` of src
 * when `vector` (the chunk is contiguous and 16-byte aligned; zero-filled unless ok), else element by
 * element, at_of(g, ctx, e, &ok_e) giving each one's index (loaded where ok_e, 0 elsewhere). */
typedef LLVMValueRef (*element_at_fn)(gen_t *g, const void *ctx, int e, LLVMValueRef *ok);
static void put_chunk(gen_t *g, LLVMValueRef src, LLVMValueRef dst, bool vector, element_at_fn at_of, const void *ctx) {
  LLVMBuilderRef bd = g->t.b;
  if (vector) {
    LLVMValueRef ok, at = at_of(g, ctx, 0, &ok);
    tcc_tir_cp_async16(&g->t, add(g, g->smem_address, dst), global_at(g, src, LLVMBuildSelect(bd, ok, at, i64c(g, 0), "")),
                       LLVMBuildSelect(bd, ok, i32c(g, 16), i32c(g, 0), ""));
    return;
  }
  for (int e = 0; e < g->k.chunk; e++) {
    LLVMValueRef ok, at = at_of(g, ctx, e, &ok);
    LLVMValueRef v = LLVMBuildLoad2(bd, g->elem, global_at(g, src, LLVMBuildSelect(bd, ok, at, i64c(g, 0), "")), "");
    LLVMBuildStore(bd, LLVMBuildSelect(bd, ok, v, LLVMConstNull(g->elem), ""), shared_at(g, add(g, dst, i32c(g, g->esize * e))));
  }
}

/* A row-major matrix with `ld` elements per row, read at (row, col + e) within (rows_end, cols_end). */
typedef struct {
  LLVMValueRef row, col, rows_end, cols_end;
  int64_t ld;
} matrix_at_t;

static LLVMValueRef matrix_at(gen_t *g, const void *ctx, int e, LLVMValueRef *ok) {
  const matrix_at_t *m = ctx;
  LLVMValueRef col = add(g, m->col, i64c(g, e));
  *ok = LLVMBuildAnd(g->t.b, lt(g, m->row, m->rows_end), lt(g, col, m->cols_end), "");
  return add(g, mul(g, m->row, i64c(g, m->ld)), col);
}

/* The byte offset in a stage's operand tile of element (row, col), col a multiple of a chunk: rows padded
 * to `stride` elements; on the warpgroup path rows of 64 elements (128 bytes) whose 16-byte chunks are
 * permuted by the row's index mod 8 (the 128-byte swizzle of the tensor cores' descriptors), and an
 * N-major B ([K][N] rows of bn) cut into 64-column blocks of bk rows each. */
static LLVMValueRef tile_offset(gen_t *g, LLVMValueRef row, LLVMValueRef col, int stride, bool n_major) {
  LLVMBuilderRef bd = g->t.b;
  if (!g->k.wgmma) return mul(g, add(g, mul(g, row, i32c(g, stride)), col), i32c(g, g->esize));
  LLVMValueRef block = n_major ? mul(g, LLVMBuildLShr(bd, col, i32c(g, 6), ""), i32c(g, g->k.bk * 128)) : i32c(g, 0);
  LLVMValueRef chunk = LLVMBuildXor(bd, LLVMBuildAnd(bd, LLVMBuildLShr(bd, col, i32c(g, 3), ""), i32c(g, 7), ""),
                                    LLVMBuildAnd(bd, row, i32c(g, 7), ""), "");
  return add(g, block, add(g, mul(g, row, i32c(g, 128)), mul(g, chunk, i32c(g, 16))));
}

/* Chunk c of a rows x cols tile at (r0, c0) of such a matrix, into shared memory at `dst` +
 * tile_offset(row, col); zero past the edges. */
static void copy_chunk(gen_t *g, LLVMValueRef src_base, LLVMValueRef c, int cols, LLVMValueRef r0, LLVMValueRef c0,
                       LLVMValueRef rows_end, LLVMValueRef cols_end, int64_t ld, LLVMValueRef dst, int stride,
                       bool n_major) {
  LLVMBuilderRef bd = g->t.b;
  int chunk = g->k.chunk, per_row = cols / chunk;
  LLVMValueRef row = LLVMBuildUDiv(bd, c, i32c(g, per_row), ""), col = mul(g, LLVMBuildURem(bd, c, i32c(g, per_row), ""), i32c(g, chunk));
  matrix_at_t at = {add(g, r0, sext(g, row)), add(g, c0, sext(g, col)), rows_end, cols_end, ld};
  put_chunk(g, src_base, add(g, dst, tile_offset(g, row, col, stride, n_major)), ld % chunk == 0, matrix_at, &at);
}

/* A conv's implicit A: output pixel gm's input pixel for column gk + e (tap kh, kw and channel ic). */
typedef struct {
  const conv_t *cv;
  LLVMValueRef gm, gk, m, n, oh, ow;
} im2col_at_t;

static LLVMValueRef im2col_at(gen_t *g, const void *ctx, int e, LLVMValueRef *ok) {
  const im2col_at_t *q = ctx;
  const conv_t *cv = q->cv;
  LLVMBuilderRef bd = g->t.b;
  LLVMValueRef gk = add(g, q->gk, i64c(g, e)), tap = i64c(g, cv->kw * cv->c);
  LLVMValueRef kh = LLVMBuildSDiv(bd, gk, tap, ""), r2 = LLVMBuildSRem(bd, gk, tap, "");
  LLVMValueRef kw = LLVMBuildSDiv(bd, r2, i64c(g, cv->c), ""), ic = LLVMBuildSRem(bd, r2, i64c(g, cv->c), "");
  LLVMValueRef ih = add(g, LLVMBuildSub(bd, mul(g, q->oh, i64c(g, cv->sh)), i64c(g, cv->ph), ""), mul(g, kh, i64c(g, cv->dh)));
  LLVMValueRef iw = add(g, LLVMBuildSub(bd, mul(g, q->ow, i64c(g, cv->sw)), i64c(g, cv->pw), ""), mul(g, kw, i64c(g, cv->dw)));
  *ok = LLVMBuildAnd(bd, lt(g, q->gm, q->m), lt(g, gk, i64c(g, g->p->k)), "");
  *ok = LLVMBuildAnd(bd, *ok, LLVMBuildICmp(bd, LLVMIntULT, ih, i64c(g, cv->h), ""), ""); /* unsigned: ih >= 0 too */
  *ok = LLVMBuildAnd(bd, *ok, LLVMBuildICmp(bd, LLVMIntULT, iw, i64c(g, cv->w), ""), "");
  return add(g, mul(g, add(g, mul(g, add(g, mul(g, q->n, i64c(g, cv->h)), ih), i64c(g, cv->w)), iw), i64c(g, cv->c)), ic);
}

/* Chunk c of a conv's implicit A tile: the columns k0 + col .. (taps and input channels) of output pixel
 * m0 + row, read from the input pixels they stand for; zero in the padding and past the edges. With C a
 * multiple of the chunk they are one tap's contiguous channels (one 16-byte copy). */
static void copy_im2col_chunk(gen_t *g, LLVMValueRef x, LLVMValueRef c, LLVMValueRef m0, LLVMValueRef k0,
                              LLVMValueRef m, LLVMValueRef dst) {
  LLVMBuilderRef bd = g->t.b;
  const conv_t *cv = &g->p->cv;
  int chunk = g->k.chunk, per_row = g->k.bk / chunk;
  LLVMValueRef row = LLVMBuildUDiv(bd, c, i32c(g, per_row), ""), col = mul(g, LLVMBuildURem(bd, c, i32c(g, per_row), ""), i32c(g, chunk));
  im2col_at_t q = {.cv = cv, .gm = add(g, m0, sext(g, row)), .gk = add(g, k0, sext(g, col)), .m = m};
  LLVMValueRef pixels = i64c(g, cv->oh * cv->ow);
  q.n = LLVMBuildSDiv(bd, q.gm, pixels, "");
  LLVMValueRef rem = LLVMBuildSRem(bd, q.gm, pixels, "");
  q.oh = LLVMBuildSDiv(bd, rem, i64c(g, cv->ow), ""), q.ow = LLVMBuildSRem(bd, rem, i64c(g, cv->ow), "");
  put_chunk(g, x, add(g, dst, tile_offset(g, row, col, g->k.a_stride, false)), cv->c % chunk == 0, im2col_at, &q);
}

/* Copies slice kt of K (A: bm x bk at rows m0; B: bk x bn at cols n0, or bn x bk when stored [N][K]) into
 * shared stage `stage`, the 16-byte chunks dealt out to the loading threads in turn; operands the TMA
 * unit copies are left out. */
static void load_stage(gen_t *g, LLVMValueRef a, LLVMValueRef b, LLVMValueRef m, LLVMValueRef m0, LLVMValueRef n0,
                       LLVMValueRef kt, LLVMValueRef stage) {
  const tile_t *k = &g->k;
  LLVMValueRef k0 = mul(g, kt, i64c(g, k->bk)), base = mul(g, stage, i32c(g, k->stage_bytes));
  LLVMValueRef K = i64c(g, g->p->k), N = i64c(g, g->p->n);
  int a_chunks = g->tma_a ? 0 : k->bm * k->bk / k->chunk, b_chunks = g->tma_b ? 0 : k->bk * k->bn / k->chunk;
  int n = g->loaders;
  for (int i = 0; i * n < a_chunks || i * n < b_chunks; i++) {
    LLVMValueRef c = add(g, g->loader, i32c(g, i * n));
    for (int which = 0; which < 2; which++) {
      int chunks = which ? b_chunks : a_chunks;
      if (i * n >= chunks) continue;
      LLVMBasicBlockRef join = (i + 1) * n > chunks ? tcc_tir_if_begin(&g->t, LLVMBuildICmp(g->t.b, LLVMIntULT, c, i32c(g, chunks), "")) : NULL;
      LLVMValueRef b_dst = add(g, base, i32c(g, k->a_bytes));
      if (which == 0 && g->p->is_conv) copy_im2col_chunk(g, a, c, m0, k0, m, base);
      else if (which == 0) copy_chunk(g, a, c, k->bk, m0, k0, m, K, g->p->k, base, k->a_stride, false);
      else if (g->p->b_nk) copy_chunk(g, b, c, k->bk, n0, k0, N, K, g->p->k, b_dst, k->b_stride, false);
      else copy_chunk(g, b, c, k->bn, k0, n0, K, N, g->p->n, b_dst, k->b_stride, true);
      if (join) tcc_tir_if_end(&g->t, join);
    }
  }
}

static void commit(gen_t *g) { tcc_tir_cp_async_commit(&g->t); }
static void wait_groups(gen_t *g, int pending) { tcc_tir_cp_async_wait(&g->t, pending); }

/* A float32 (as i32) rounded to TF32, to nearest (the tensor cores would drop the low bits: a bias toward
 * zero that adds up over a network's layers). */
static LLVMValueRef to_tf32(gen_t *g, LLVMValueRef x) {
  return inline_ptx(g, "cvt.rna.tf32.f32 $0, $1;", "=r,r", g->t.i32, &x, 1);
}

/* acc (4 floats in allocas) += A fragment (4 x i32) * B fragment (2 x i32): m16n8k16 on halves, m16n8k8 on
 * TF32. */
static void mma(gen_t *g, LLVMValueRef *a, LLVMValueRef *b, LLVMValueRef *acc) {
  LLVMValueRef v[4];
  for (int i = 0; i < 4; i++) v[i] = LLVMBuildLoad2(g->t.b, g->t.f32, acc[i], "");
  if (g->p->tf32) tcc_tir_mma_1688_tf32(&g->t, a, b, v);
  else tcc_tir_mma_16816(&g->t, g->p->bf16, a, b, v);
  for (int i = 0; i < 4; i++) LLVMBuildStore(g->t.b, v[i], acc[i]);
}

/* The warp's wm x wn product of the slice in shared stage `stage`; acc[(i * ni + j) * 4 + e]. K goes in
 * steps of two 16-byte chunks (16 halves, 8 TF32 floats), one mma each; ldmatrix reads the fragments
 * (lanes 8 q .. 8 q + 7 address the rows of its q-th 8 x 8 matrix of 16-bit pairs), except TF32's B from
 * [K][N], which needs 32-bit elements transposed: two loads a lane. */
static void compute_stage(gen_t *g, LLVMValueRef stage, LLVMValueRef *acc) {
  const tile_t *k = &g->k;
  LLVMBuilderRef bd = g->t.b;
  int c = k->chunk, step = 2 * c;
  LLVMValueRef base = mul(g, stage, i32c(g, k->stage_bytes)), b_base = add(g, base, i32c(g, k->a_bytes));
  LLVMValueRef j = LLVMBuildLShr(bd, g->lane, i32c(g, 3), ""), r = LLVMBuildAnd(bd, g->lane, i32c(g, 7), "");
  LLVMValueRef low = LLVMBuildAnd(bd, j, i32c(g, 1), ""), high = LLVMBuildLShr(bd, j, i32c(g, 1), "");
  LLVMValueRef row16 = add(g, mul(g, low, i32c(g, 8)), r); /* A (and [K][N] B): the row among 16 */
  LLVMValueRef chunk_hi = mul(g, high, i32c(g, c));         /* A: the chunk of the step */
  LLVMValueRef n_hi = mul(g, high, i32c(g, 8));             /* B: the 8 columns of the pair of n tiles */
  LLVMValueRef chunk_lo = mul(g, low, i32c(g, c));          /* [N][K] B: the chunk of the step */
  LLVMValueRef group = LLVMBuildLShr(bd, g->lane, i32c(g, 2), ""), thread = LLVMBuildAnd(bd, g->lane, i32c(g, 3), "");
  for (int ks = 0; ks < k->bk / step; ks++) {
    LLVMValueRef af[8][4], bf[16][2];
    for (int mi = 0; mi < k->mi; mi++) {
      LLVMValueRef row = add(g, add(g, g->warp_m, i32c(g, mi * 16)), row16);
      LLVMValueRef col = add(g, i32c(g, ks * step), chunk_hi);
      tcc_tir_ldmatrix_x4(&g->t, shared_at(g, add(g, base, mul(g, add(g, mul(g, row, i32c(g, k->a_stride)), col), i32c(g, g->esize)))), false, af[mi]);
      for (int e = 0; g->p->tf32 && e < 4; e++) af[mi][e] = to_tf32(g, af[mi][e]);
    }
    for (int nj = 0; nj < k->ni / 2; nj++) {
      if (g->p->tf32 && !g->p->b_nk) { /* b0 = B(k = thread, n = group), b1 = B(k = thread + 4, n = group) */
        for (int h = 0; h < 2; h++) {
          LLVMValueRef n = add(g, add(g, g->warp_n, i32c(g, nj * 16 + h * 8)), group);
          for (int e = 0; e < 2; e++) {
            LLVMValueRef krow = add(g, i32c(g, ks * step + 4 * e), thread);
            LLVMValueRef at = add(g, mul(g, krow, i32c(g, k->b_stride)), n);
            bf[2 * nj + h][e] = LLVMBuildLoad2(bd, g->t.i32, shared_at(g, add(g, b_base, mul(g, at, i32c(g, 4)))), "");
          }
        }
        continue;
      }
      /* [K][N]: the lane's k row and n column, read transposed; [N][K]: its n row and k column as is; in
       * both, v = b0, b1 of n tile 2 nj, then b0, b1 of n tile 2 nj + 1 */
      LLVMValueRef at;
      if (g->p->b_nk) {
        LLVMValueRef nrow = add(g, add(g, g->warp_n, i32c(g, nj * 16)), add(g, n_hi, r));
        at = add(g, mul(g, nrow, i32c(g, k->b_stride)), add(g, i32c(g, ks * step), chunk_lo));
      } else {
        LLVMValueRef krow = add(g, i32c(g, ks * step), row16);
        at = add(g, mul(g, krow, i32c(g, k->b_stride)), add(g, add(g, g->warp_n, i32c(g, nj * 16)), n_hi));
      }
      LLVMValueRef v[4];
      tcc_tir_ldmatrix_x4(&g->t, shared_at(g, add(g, b_base, mul(g, at, i32c(g, g->esize)))), !g->p->b_nk, v);
      bf[2 * nj][0] = v[0], bf[2 * nj][1] = v[1], bf[2 * nj + 1][0] = v[2], bf[2 * nj + 1][1] = v[3];
    }
    for (int ni = 0; g->p->tf32 && ni < k->ni; ni++)
      for (int e = 0; e < 2; e++) bf[ni][e] = to_tf32(g, bf[ni][e]);
    for (int mi = 0; mi < k->mi; mi++)
      for (int ni = 0; ni < k->ni; ni++) mma(g, af[mi], bf[ni], &acc[(mi * k->ni + ni) * 4]);
  }
}

/* ---- the float32 path ---- */

/* Column j (0 .. wn) of this thread's share of the tile. B [K][N] is read 4 columns at a time, so a thread
 * takes groups of 4 adjacent columns, bn / wn * 4 apart (the 8 threads of a quarter warp read 128
 * contiguous bytes); B [N][K] is read 4 of K at a time, so it takes single columns bn / wn apart (the
 * quarter warp reads 8 consecutive rows, a_stride = bk + 4 words apart: all 32 banks). */
static LLVMValueRef simt_col(gen_t *g, int j) {
  int across = g->k.warps_n;
  if (g->p->b_nk) return add(g, g->warp_n, i32c(g, j * across));
  return add(g, mul(g, g->warp_n, i32c(g, 4)), i32c(g, j % 4 + j / 4 * 4 * across));
}

/* A 4-float vector of shared memory at element `at` (i32) of the stage at byte `base`. */
static LLVMValueRef shared_v4(gen_t *g, LLVMValueRef base, LLVMValueRef at) {
  LLVMValueRef v = LLVMBuildLoad2(g->t.b, LLVMVectorType(g->t.f32, 4), shared_at(g, add(g, base, mul(g, at, i32c(g, 4)))), "");
  LLVMSetAlignment(v, 16);
  return v;
}

/* The thread's wm x wn product of the slice in shared stage `stage` (rows warp_m .., columns simt_col),
 * 4 of K at a time: A as float4s along K, B as float4s along N ([K][N]) or along K ([N][K]);
 * acc[i * wn + j]. */
static void compute_stage_simt(gen_t *g, LLVMValueRef stage, LLVMValueRef *acc) {
  const tile_t *k = &g->k;
  LLVMBuilderRef bd = g->t.b;
  LLVMValueRef base = mul(g, stage, i32c(g, k->stage_bytes)), b_base = add(g, base, i32c(g, k->a_bytes));
  bool b_nk = g->p->b_nk;
  int step = b_nk ? 1 : 4; /* the thread's columns a B vector covers */
  LLVMValueRef cols[16];
  for (int j = 0; j < k->wn; j += step) cols[j] = simt_col(g, j);
  for (int kk = 0; kk < k->bk; kk += 4) {
    LLVMValueRef a[16], b[16][4]; /* b[j][q]: B at (kk + q, column j) */
    for (int i = 0; i < k->wm; i++) a[i] = shared_v4(g, base, add(g, mul(g, add(g, g->warp_m, i32c(g, i)), i32c(g, k->a_stride)), i32c(g, kk)));
    for (int j = 0; j < k->wn; j += step)
      for (int q = 0; q < step; q++) { /* [N][K]: column j's 4 of K; [K][N]: row kk + q's 4 columns */
        LLVMValueRef at = b_nk ? add(g, mul(g, cols[j], i32c(g, k->b_stride)), i32c(g, kk))
                               : add(g, mul(g, i32c(g, kk + q), i32c(g, k->b_stride)), cols[j]);
        LLVMValueRef v = shared_v4(g, b_base, at);
        for (int e = 0; e < 4; e++) *(b_nk ? &b[j][e] : &b[j + e][q]) = LLVMBuildExtractElement(bd, v, i32c(g, e), "");
      }
    for (int q = 0; q < 4; q++)
      for (int i = 0; i < k->wm; i++) {
        LLVMValueRef aq = LLVMBuildExtractElement(bd, a[i], i32c(g, q), "");
        for (int j = 0; j < k->wn; j++) {
          LLVMValueRef *c = &acc[i * k->wn + j];
          LLVMBuildStore(bd, tcc_tir_fma3(&g->t, aq, b[j][q], LLVMBuildLoad2(bd, g->t.f32, *c, "")), *c);
        }
      }
  }
}

/* ---- the warpgroup path (sm_90a) ---- */

/* The matrix descriptor of an operand at shared byte offset `at` (see tcc_tir_wgmma_descriptor). */
static LLVMValueRef descriptor(gen_t *g, LLVMValueRef at, int leading_bytes, int stride_bytes) {
  return tcc_tir_wgmma_descriptor(&g->t, shared_at(g, at), leading_bytes, stride_bytes);
}

/* acc[0 .. n/2) (floats in allocas) += A (64 x 16, descriptor da) * B (16 x n, descriptor db). */
static void wgmma(gen_t *g, LLVMValueRef da, LLVMValueRef db, int n, bool n_major, LLVMValueRef *acc) {
  LLVMValueRef v[MAX_ACC];
  for (int i = 0; i < n / 2; i++) v[i] = LLVMBuildLoad2(g->t.b, g->t.f32, acc[i], "");
  tcc_tir_wgmma(&g->t, g->p->bf16, n, da, NULL, db, n_major, true, v);
  for (int i = 0; i < n / 2; i++) LLVMBuildStore(g->t.b, v[i], acc[i]);
}

/* Ties the accumulators (allocas) to this point, after wgmma.wait_group. */
static void pin_accumulators(gen_t *g, LLVMValueRef *acc, int count) {
  LLVMValueRef v[MAX_ACC];
  for (int i = 0; i < count; i++) v[i] = LLVMBuildLoad2(g->t.b, g->t.f32, acc[i], "");
  tcc_tir_pin(&g->t, v, count);
  for (int i = 0; i < count; i++) LLVMBuildStore(g->t.b, v[i], acc[i]);
}

/* The warpgroup's wm x bn product of the slice in shared stage `stage`, issued as one wgmma group:
 * per 16 of K, (wm / 64) x (bn / wn) instructions; B's descriptor N-major (trans-b) when it is [K][N]. */
static void compute_stage_wgmma(gen_t *g, LLVMValueRef stage, LLVMValueRef *acc) {
  const tile_t *k = &g->k;
  bool n_major = !g->p->b_nk;
  LLVMValueRef base = mul(g, stage, i32c(g, k->stage_bytes));
  LLVMValueRef a_base = add(g, base, g->wg_a), b_base = add(g, base, i32c(g, k->a_bytes));
  ptx_statement(g, "wgmma.fence.sync.aligned;");
  for (int ks = 0; ks < k->bk / 16; ks++)
    for (int i = 0; i < k->mi; i++) {
      LLVMValueRef da = descriptor(g, add(g, a_base, i32c(g, i * 64 * 128 + ks * 32)), 16, 1024);
      for (int j = 0; j < k->bn / k->wn; j++) {
        int b_at = n_major ? ks * 16 * 128 + j * (k->wn / 64) * k->bk * 128 : j * k->wn * 128 + ks * 32;
        LLVMValueRef db = descriptor(g, add(g, b_base, i32c(g, b_at)), n_major ? k->bk * 128 : 16, 1024);
        wgmma(g, da, db, k->wn, n_major, &acc[(i * k->ni + j * (k->wn / 8)) * 4]);
      }
    }
  ptx_statement(g, "wgmma.commit_group.sync.aligned;");
}

/* x after the plan's activation: relu, clip, or gelu 0.5 x (1 + erf(x / sqrt 2)) or its tanh form
 * 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), erf and tanh from libdevice. */
static LLVMValueRef activation(gen_t *g, LLVMValueRef x) {
  LLVMBuilderRef bd = g->t.b;
  LLVMValueRef zero = tcc_tir_f32c(&g->t, 0), half = tcc_tir_f32c(&g->t, 0.5), one = tcc_tir_f32c(&g->t, 1);
  LLVMTypeRef f = g->t.f32;
  switch (g->p->act) {
    case ACT_RELU: return LLVMBuildSelect(bd, LLVMBuildFCmp(bd, LLVMRealOGT, x, zero, ""), x, zero, "");
    case ACT_CLIP: { /* NaN stays NaN */
      LLVMValueRef lo = tcc_tir_f32c(&g->t, g->p->clip_lo), hi = tcc_tir_f32c(&g->t, g->p->clip_hi);
      x = LLVMBuildSelect(bd, LLVMBuildFCmp(bd, LLVMRealOLT, x, lo, ""), lo, x, "");
      return LLVMBuildSelect(bd, LLVMBuildFCmp(bd, LLVMRealOGT, x, hi, ""), hi, x, "");
    }
    case ACT_GELU_ERF: {
      LLVMValueRef arg = LLVMBuildFMul(bd, x, tcc_tir_f32c(&g->t, 0.70710678118654752), "");
      LLVMValueRef e = tcc_tir_call(&g->t, "__nv_erff", f, &f, 1, &arg);
      return LLVMBuildFMul(bd, LLVMBuildFMul(bd, half, x, ""), LLVMBuildFAdd(bd, one, e, ""), "");
    }
    case ACT_GELU_TANH: {
      LLVMValueRef x3 = LLVMBuildFMul(bd, LLVMBuildFMul(bd, x, x, ""), x, "");
      LLVMValueRef inner = LLVMBuildFAdd(bd, x, LLVMBuildFMul(bd, tcc_tir_f32c(&g->t, 0.044715), x3, ""), "");
      LLVMValueRef arg = LLVMBuildFMul(bd, tcc_tir_f32c(&g->t, 0.79788456080286536), inner, "");
      LLVMValueRef t = tcc_tir_call(&g->t, "__nv_tanhf", f, &f, 1, &arg);
      return LLVMBuildFMul(bd, LLVMBuildFMul(bd, half, x, ""), LLVMBuildFAdd(bd, one, t, ""), "");
    }
    default: return x;
  }
}

/* An output element: the accumulator x + the bias + the residual (either NULL: none), scaled, activated, in
 * float32. */
static LLVMValueRef epilogue(gen_t *g, LLVMValueRef x, LLVMValueRef bias, LLVMValueRef residual) {
  LLVMBuilderRef bd = g->t.b;
  if (bias) x = LLVMBuildFAdd(bd, x, bias, "");
  if (residual) x = LLVMBuildFAdd(bd, x, g->p->dtype == TCC_DTYPE_F32 ? residual : LLVMBuildFPExt(bd, residual, g->t.f32, ""), "");
  if (g->p->scale != 1) x = LLVMBuildFMul(bd, x, tcc_tir_f32c(&g->t, g->p->scale), "");
  return activation(g, x);
}

/* The bias at column col (i64; loaded at 0 when !ok, to stay in range), in float32. */
static LLVMValueRef bias_at(gen_t *g, LLVMValueRef bias, LLVMValueRef col, LLVMValueRef ok, LLVMTypeRef type) {
  LLVMValueRef at = LLVMBuildSelect(g->t.b, ok, col, i64c(g, 0), "");
  LLVMValueRef v = LLVMBuildLoad2(g->t.b, type, global_at(g, bias, at), "");
  return type == g->t.f32 ? v : LLVMBuildFPExt(g->t.b, v, g->t.f32, "");
}

/* The float32 path's tile: per row of the thread, its columns in vectors (4 adjacent for B [K][N], single
 * otherwise), stored where row < m (N % 8 == 0: a group is wholly in or out). */
static void store_tile_simt(gen_t *g, LLVMValueRef c, LLVMValueRef bias, LLVMValueRef residual, LLVMValueRef m,
                            LLVMValueRef m0, LLVMValueRef n0, LLVMValueRef *acc) {
  LLVMBuilderRef bd = g->t.b;
  const tile_t *k = &g->k;
  int v = g->p->b_nk ? 1 : 4;
  LLVMTypeRef vt = LLVMVectorType(g->t.f32, (unsigned)v);
  LLVMValueRef N = i64c(g, g->p->n);
  for (int j = 0; j < k->wn; j += v) {
    LLVMValueRef col = add(g, n0, sext(g, simt_col(g, j))), col_ok = lt(g, col, N);
    LLVMValueRef bias_v[4] = {NULL, NULL, NULL, NULL};
    for (int e = 0; bias && e < v; e++) bias_v[e] = bias_at(g, bias, add(g, col, i64c(g, e)), col_ok, g->t.f32);
    for (int i = 0; i < k->wm; i++) {
      LLVMValueRef row = add(g, m0, sext(g, add(g, g->warp_m, i32c(g, i))));
      LLVMBasicBlockRef join = tcc_tir_if_begin(&g->t, LLVMBuildAnd(bd, col_ok, lt(g, row, m), ""));
      LLVMValueRef out_at = add(g, mul(g, row, N), col), out = LLVMGetUndef(vt);
      LLVMValueRef res = residual ? LLVMBuildLoad2(bd, vt, global_at(g, residual, g->p->res_rows ? out_at : col), "") : NULL;
      if (res) LLVMSetAlignment(res, (unsigned)(4 * v));
      for (int e = 0; e < v; e++) {
        LLVMValueRef x = LLVMBuildLoad2(bd, g->t.f32, acc[i * k->wn + j + e], "");
        x = epilogue(g, x, bias_v[e], res ? LLVMBuildExtractElement(bd, res, i32c(g, e), "") : NULL);
        out = LLVMBuildInsertElement(bd, out, x, i32c(g, e), "");
      }
      LLVMSetAlignment(LLVMBuildStore(bd, out, global_at(g, c, out_at)), (unsigned)(4 * v));
      tcc_tir_if_end(&g->t, join);
    }
  }
}

/* The mma fragments' C tile (+ bias ...) in the output type (rounded once for halves), pairs of columns
 * stored where row < m (columns: N % 8 == 0). */
static void store_tile(gen_t *g, LLVMValueRef c, LLVMValueRef bias, LLVMValueRef residual, LLVMValueRef m,
                       LLVMValueRef m0, LLVMValueRef n0, LLVMValueRef *acc) {
  LLVMBuilderRef bd = g->t.b;
  LLVMTypeRef ht = g->p->tf32 ? g->t.f32 : g->p->bf16 ? LLVMBFloatTypeInContext(g->t.ctx) : g->half;
  LLVMTypeRef v2 = LLVMVectorType(ht, 2);
  unsigned pair_bytes = (unsigned)(2 * g->esize);
  LLVMValueRef N = i64c(g, g->p->n);
  LLVMValueRef group = LLVMBuildLShr(bd, g->lane, i32c(g, 2), ""), pair = mul(g, LLVMBuildAnd(bd, g->lane, i32c(g, 3), ""), i32c(g, 2));
  for (int mi = 0; mi < g->k.mi; mi++)
    for (int ni = 0; ni < g->k.ni; ni++) {
      LLVMValueRef *tile = &acc[(mi * g->k.ni + ni) * 4];
      LLVMValueRef col = add(g, n0, sext(g, add(g, add(g, g->warp_n, i32c(g, ni * 8)), pair)));
      LLVMValueRef col_ok = lt(g, col, N);
      LLVMValueRef bias_v[2] = {NULL, NULL};
      for (int e = 0; bias && e < 2; e++) bias_v[e] = bias_at(g, bias, add(g, col, i64c(g, e)), col_ok, ht);
      for (int h = 0; h < 2; h++) {
        LLVMValueRef row = add(g, m0, sext(g, add(g, add(g, g->warp_m, i32c(g, mi * g->k.row_step + 8 * h)), group)));
        LLVMBasicBlockRef join = tcc_tir_if_begin(&g->t, LLVMBuildAnd(bd, col_ok, lt(g, row, m), ""));
        LLVMValueRef pairv = LLVMGetUndef(v2), out_at = add(g, mul(g, row, N), col);
        LLVMValueRef res = residual ? LLVMBuildLoad2(bd, v2, global_at(g, residual, g->p->res_rows ? out_at : col), "") : NULL;
        if (res) LLVMSetAlignment(res, pair_bytes);
        for (int e = 0; e < 2; e++) {
          LLVMValueRef x = LLVMBuildLoad2(bd, g->t.f32, tile[2 * h + e], "");
          x = epilogue(g, x, bias_v[e], res ? LLVMBuildExtractElement(bd, res, i32c(g, e), "") : NULL);
          pairv = LLVMBuildInsertElement(bd, pairv, ht == g->t.f32 ? x : LLVMBuildFPTrunc(bd, x, ht, ""), i32c(g, e), "");
        }
        LLVMValueRef dst = global_at(g, c, out_at);
        LLVMValueRef st = LLVMBuildStore(bd, ht == g->t.f32 ? pairv : LLVMBuildBitCast(bd, pairv, g->t.i32, ""), dst);
        LLVMSetAlignment(st, pair_bytes);
        tcc_tir_if_end(&g->t, join);
      }
    }
}

/* The element count of v's dims [from, to) as an i64 (symbols from syms). */
static tcc_status_t dims_product(gen_t *g, LLVMValueRef syms, const tcc_value_t *v, int from, int to, LLVMValueRef *out) {
  *out = i64c(g, 1);
  for (int d = from; d < to; d++) {
    LLVMValueRef x;
    TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(g->t.e, g->t.b, syms, v->type.dims[d], &x));
    *out = mul(g, *out, x);
  }
  return NULL;
}

/* The walk of a kernel over the tiles of all products, strided over the grid. */
typedef struct {
  LLVMValueRef a, b, c, m, batch, tiles_n, per_product, total, k_tiles;
  LLVMValueRef first, stride; /* this block's (or cluster's) first tile and the step (i64) */
  tcc_tir_loop_t loop;
  LLVMValueRef r; /* the residual (NULL: none) */
  LLVMValueRef prod, ta, tb, tc, tr, m0, n0; /* the current tile: its product, its operands and its corner */
} walk_t;

/* The element offset of product `prod`'s residual: its index in C's batch dims, each index times the
 * residual's stride there (0 where the residual's dim is 1). */
static LLVMValueRef residual_offset(gen_t *g, const walk_t *w, LLVMValueRef prod) {
  const plan_t *p = g->p;
  LLVMBuilderRef bd = g->t.b;
  LLVMValueRef offset = i64c(g, 0), rest = prod;
  LLVMValueRef stride = mul(g, p->res_rows ? w->m : i64c(g, 1), i64c(g, p->n)); /* one product's */
  for (int d = p->c->type.rank - 3; p->batched && d >= 0; d--) {
    LLVMValueRef index = LLVMBuildSRem(bd, rest, g->c_batch[d], "");
    rest = LLVMBuildSDiv(bd, rest, g->c_batch[d], "");
    offset = add(g, offset, mul(g, index, LLVMBuildSelect(bd, LLVMBuildICmp(bd, LLVMIntEQ, g->r_batch[d], i64c(g, 1), ""),
                                                          i64c(g, 0), stride, "")));
    stride = mul(g, stride, g->r_batch[d]);
  }
  return offset;
}

static void walk_begin(gen_t *g, walk_t *w) {
  tcc_tir_t *t = &g->t;
  LLVMBuilderRef bd = t->b;
  const tile_t *k = &g->k;
  const plan_t *p = g->p;
  LLVMValueRef tiles_m = LLVMBuildSDiv(bd, add(g, w->m, i64c(g, k->bm - 1)), i64c(g, k->bm), "");
  LLVMValueRef tile = tcc_tir_loop_begin(t, &w->loop, w->first, w->total, w->stride, "tile");
  LLVMValueRef prod = w->prod = LLVMBuildSDiv(bd, tile, w->per_product, ""), rest = LLVMBuildSRem(bd, tile, w->per_product, "");
  /* tiles in groups of `group` rows of tiles, column by column within a group: the blocks running
   * together share panels of both A and B in L2 */
  LLVMValueRef span = mul(g, i64c(g, k->group), w->tiles_n), within = LLVMBuildSRem(bd, rest, span, "");
  LLVMValueRef first = mul(g, LLVMBuildSDiv(bd, rest, span, ""), i64c(g, k->group));
  LLVMValueRef left = LLVMBuildSub(bd, tiles_m, first, "");
  LLVMValueRef rows = LLVMBuildSelect(bd, lt(g, left, i64c(g, k->group)), left, i64c(g, k->group), "");
  w->m0 = mul(g, add(g, first, LLVMBuildSRem(bd, within, rows, "")), i64c(g, k->bm));
  w->n0 = mul(g, LLVMBuildSDiv(bd, within, rows, ""), i64c(g, k->bn));
  w->ta = LLVMBuildGEP2(bd, g->elem, w->a, (LLVMValueRef[]){mul(g, prod, mul(g, w->m, i64c(g, p->k)))}, 1, "");
  w->tb = p->batched ? LLVMBuildGEP2(bd, g->elem, w->b, (LLVMValueRef[]){mul(g, prod, i64c(g, p->k * p->n))}, 1, "") : w->b;
  w->tc = LLVMBuildGEP2(bd, g->elem, w->c, (LLVMValueRef[]){mul(g, prod, mul(g, w->m, i64c(g, p->n)))}, 1, "");
  w->tr = w->r ? LLVMBuildGEP2(bd, g->elem, w->r, (LLVMValueRef[]){residual_offset(g, w, prod)}, 1, "") : NULL;
}

/* The mma.sync and float32 paths: every thread copies and multiplies; slices are copied stages - 1 ahead
 * of the one multiplied, a barrier per slice. */
static void stream_tiles(gen_t *g, walk_t *w, LLVMValueRef bias, LLVMValueRef *acc, int num_acc) {
  tcc_tir_t *t = &g->t;
  LLVMBuilderRef bd = t->b;
  const tile_t *k = &g->k;
  if (k->simt) { /* the thread's first row, and its place across the columns (simt_col) */
    g->warp_m = mul(g, LLVMBuildUDiv(bd, g->tid, i32c(g, k->warps_n), ""), i32c(g, k->wm));
    g->warp_n = LLVMBuildURem(bd, g->tid, i32c(g, k->warps_n), "");
  } else {
    LLVMValueRef warp = LLVMBuildLShr(bd, g->tid, i32c(g, 5), "");
    g->warp_m = mul(g, LLVMBuildUDiv(bd, warp, i32c(g, k->warps_n), ""), i32c(g, k->wm));
    g->warp_n = mul(g, LLVMBuildURem(bd, warp, i32c(g, k->warps_n), ""), i32c(g, k->wn));
  }
  g->loader = g->tid, g->loaders = k->threads;
  walk_begin(g, w);
  for (int i = 0; i < num_acc; i++) LLVMBuildStore(bd, tcc_tir_f32c(t, 0), acc[i]);
  int ahead = k->stages - 1;
  for (int s = 0; s < ahead; s++) { /* prologue: a group per slice, empty past K */
    LLVMBasicBlockRef join = tcc_tir_if_begin(t, lt(g, i64c(g, s), w->k_tiles));
    load_stage(g, w->ta, w->tb, w->m, w->m0, w->n0, i64c(g, s), i32c(g, s));
    tcc_tir_if_end(t, join);
    commit(g);
  }
  tcc_tir_loop_t ks;
  LLVMValueRef kt = tcc_tir_loop_begin(t, &ks, i64c(g, 0), w->k_tiles, i64c(g, 1), "kt");
  wait_groups(g, ahead - 1); /* slice kt has landed (this thread's copies) */
  barrier(g);                /* ... everyone's; and slice kt-1's stage is free again */
  LLVMValueRef next = add(g, kt, i64c(g, ahead));
  LLVMBasicBlockRef join = tcc_tir_if_begin(t, lt(g, next, w->k_tiles));
  load_stage(g, w->ta, w->tb, w->m, w->m0, w->n0, next, LLVMBuildTrunc(bd, LLVMBuildSRem(bd, next, i64c(g, k->stages), ""), t->i32, ""));
  tcc_tir_if_end(t, join);
  commit(g);
  LLVMValueRef stage = LLVMBuildTrunc(bd, LLVMBuildSRem(bd, kt, i64c(g, k->stages), ""), t->i32, "");
  if (k->simt) compute_stage_simt(g, stage, acc);
  else compute_stage(g, stage, acc);
  tcc_tir_loop_end(t, &ks);
  wait_groups(g, 0);
  if (k->simt) store_tile_simt(g, w->tc, bias, w->tr, w->m, w->m0, w->n0, acc);
  else store_tile(g, w->tc, bias, w->tr, w->m, w->m0, w->n0, acc);
  barrier(g); /* the next tile's prologue reuses the stages */
  tcc_tir_loop_end(t, &w->loop);
}

/* mbarrier operations on the barrier at shared byte offset `at` (inline PTX). */
static LLVMValueRef mbarrier_addr(gen_t *g, LLVMValueRef at) { return LLVMBuildPtrToInt(g->t.b, shared_at(g, at), g->t.i64, ""); }

static void mbarrier_init(gen_t *g, LLVMValueRef at, int count) {
  LLVMValueRef args[2] = {mbarrier_addr(g, at), i32c(g, count)};
  inline_ptx(g, "mbarrier.init.shared.b64 [$0], $1;", "l,r,~{memory}", g->t.void_t, args, 2);
}

static void mbarrier_arrive(gen_t *g, LLVMValueRef at) {
  LLVMValueRef addr = mbarrier_addr(g, at);
  inline_ptx(g, "{\n.reg .b64 state;\nmbarrier.arrive.shared.b64 state, [$0];\n}", "l,~{memory}", g->t.void_t, &addr, 1);
}

/* The barrier's phase of parity `parity` (i32 0 or 1) has completed; `cluster`: arrivals from the other
 * blocks of the cluster are acquired too. */
static void mbarrier_wait_in(gen_t *g, LLVMValueRef at, LLVMValueRef parity, bool cluster) {
  LLVMValueRef args[2] = {mbarrier_addr(g, at), parity};
  inline_ptx(g, cluster ? "{\n.reg .pred done;\nWAIT${:uid}:\nmbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 done, [$0], $1;\n@!done bra WAIT${:uid};\n}"
                        : "{\n.reg .pred done;\nWAIT${:uid}:\nmbarrier.try_wait.parity.shared.b64 done, [$0], $1;\n@!done bra WAIT${:uid};\n}",
             "l,r,~{memory}", g->t.void_t, args, 2);
}

static void mbarrier_wait(gen_t *g, LLVMValueRef at, LLVMValueRef parity) { mbarrier_wait_in(g, at, parity, false); }

/* The shared address (i32) `at` of this block, in block `rank` of the cluster (mapa). */
static LLVMValueRef in_block(gen_t *g, LLVMValueRef at, LLVMValueRef rank) {
  LLVMValueRef args[2] = {add(g, g->smem_address, at), rank};
  return inline_ptx(g, "mapa.shared::cluster.u32 $0, $1, $2;", "=r,r,r", g->t.i32, args, 2);
}

/* An arrival on the barrier at cluster shared address `remote`, releasing this thread's writes. */
static void mbarrier_arrive_remote(gen_t *g, LLVMValueRef remote) {
  inline_ptx(g, "mbarrier.arrive.release.cluster.shared::cluster.b64 _, [$0];", "r,~{memory}", g->t.void_t, &remote, 1);
}

/* ---- the TMA unit's copies (sm_90a) ---- */

/* The generic address of the tensor map the kernel takes by value in parameter `name`. */
static LLVMValueRef map_address(gen_t *g, const char *name) {
  char text[400];
  snprintf(text, sizeof text, "{\n.reg .b64 at;\nmov.b64 at, %s;\ncvta.param.u64 $0, at;\n}", name);
  return inline_ptx(g, text, "=l", g->t.i64, NULL, 0);
}

static LLVMValueRef i32_of(gen_t *g, LLVMValueRef v) { return LLVMBuildTrunc(g->t.b, v, g->t.i32, ""); }

/* The box at coordinates (c0, c1, c2) (i32, innermost first) of the tensor map at `map` into shared byte
 * offset dst, its bytes counted on the mbarrier at shared byte offset bar. */
static void tma_copy(gen_t *g, LLVMValueRef map, LLVMValueRef dst, LLVMValueRef c0, LLVMValueRef c1, LLVMValueRef c2,
                     LLVMValueRef bar) {
  LLVMValueRef args[6] = {add(g, g->smem_address, dst), map, c0, c1, c2, add(g, g->smem_address, bar)};
  inline_ptx(g, "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [$0], [$1, {$2, $3, $4}], [$5];",
             "r,l,r,r,r,r,~{memory}", g->t.void_t, args, 6);
}

/* Slice kt of the operands the TMA unit copies into stage `stage`, announced on its `full` barrier (an
 * arrival expecting their bytes): A as one box of bm rows x 64 of K, B [N][K] as one of bn rows, B
 * [K][N] as bn / 64 boxes of 64 rows of K x 64 columns, each in the 128-byte swizzle the descriptors
 * of compute_stage_wgmma read (tile_offset). */
static void tma_stage(gen_t *g, const walk_t *w, LLVMValueRef map_a, LLVMValueRef map_b, LLVMValueRef kt,
                      LLVMValueRef stage, LLVMValueRef full) {
  const tile_t *k = &g->k;
  int bytes = (g->tma_a ? k->bm * 128 : 0) + (g->tma_b ? k->bn * 128 : 0);
  LLVMValueRef args[2] = {add(g, g->smem_address, full), i32c(g, bytes)};
  inline_ptx(g, "mbarrier.arrive.expect_tx.shared::cta.b64 _, [$0], $1;", "r,r,~{memory}", g->t.void_t, args, 2);
  LLVMValueRef base = mul(g, stage, i32c(g, k->stage_bytes)), b_base = add(g, base, i32c(g, k->a_bytes));
  LLVMValueRef k0 = i32_of(g, mul(g, kt, i64c(g, k->bk))), prod = i32_of(g, w->prod);
  LLVMValueRef b_prod = g->p->batched ? prod : i32c(g, 0);
  if (g->tma_a) tma_copy(g, map_a, base, k0, i32_of(g, w->m0), prod, full);
  if (g->tma_b && g->p->b_nk) tma_copy(g, map_b, b_base, k0, i32_of(g, w->n0), b_prod, full);
  for (int j = 0; g->tma_b && !g->p->b_nk && j < k->bn / 64; j++)
    tma_copy(g, map_b, add(g, b_base, i32c(g, j * k->bk * 128)), i32_of(g, add(g, w->n0, i64c(g, 64 * j))), k0, b_prod, full);
}

/* split-K across the blocks of a cluster: the blocks of rank > 0 hand their accumulators to rank 0
 * through their shared memory (`red`, each thread's num_acc floats in a row), which adds them up and
 * stores the tile. `full` (in rank 0) completes when every other block's threads have written theirs,
 * `free` (in each other block) when rank 0's threads have read them; `round` counts the tiles (i64). */
static void reduce_split(gen_t *g, walk_t *w, LLVMValueRef bias, LLVMValueRef *acc, int num_acc,
                         LLVMValueRef rank, LLVMValueRef round, int full, int free, int red, LLVMValueRef ctid) {
  tcc_tir_t *t = &g->t;
  LLVMBuilderRef bd = t->b;
  LLVMValueRef r = LLVMBuildLoad2(bd, t->i64, round, "");
  LLVMValueRef parity = LLVMBuildTrunc(bd, LLVMBuildAnd(bd, r, i64c(g, 1), ""), t->i32, "");
  LLVMValueRef mine = add(g, i32c(g, red), mul(g, ctid, i32c(g, num_acc * 4)));
  LLVMTypeRef v4 = LLVMVectorType(t->f32, 4);
  LLVMBasicBlockRef other = LLVMAppendBasicBlockInContext(t->ctx, t->fn, "hand_over");
  LLVMBasicBlockRef lead = LLVMAppendBasicBlockInContext(t->ctx, t->fn, "add_up");
  LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(t->ctx, t->fn, "reduced");
  LLVMBuildCondBr(bd, LLVMBuildICmp(bd, LLVMIntNE, rank, i32c(g, 0), ""), other, lead);

  LLVMPositionBuilderAtEnd(bd, other); /* once rank 0 has read the last tile's, write this one's */
  mbarrier_wait_in(g, i32c(g, free), LLVMBuildXor(bd, parity, i32c(g, 1), ""), true);
  for (int i = 0; i < num_acc; i += 4) {
    LLVMValueRef v = LLVMGetUndef(v4);
    for (int e = 0; e < 4; e++) v = LLVMBuildInsertElement(bd, v, LLVMBuildLoad2(bd, t->f32, acc[i + e], ""), i32c(g, e), "");
    LLVMSetAlignment(LLVMBuildStore(bd, v, shared_at(g, add(g, mine, i32c(g, 4 * i)))), 16);
  }
  mbarrier_arrive_remote(g, in_block(g, i32c(g, full), i32c(g, 0)));
  LLVMBuildBr(bd, join);

  LLVMPositionBuilderAtEnd(bd, lead);
  mbarrier_wait_in(g, i32c(g, full), parity, true);
  for (int b = 1; b < g->k.split; b++) {
    for (int i = 0; i < num_acc; i += 4) {
      LLVMValueRef remote = in_block(g, add(g, mine, i32c(g, 4 * i)), i32c(g, b));
      LLVMTypeRef f4[4] = {t->f32, t->f32, t->f32, t->f32};
      LLVMValueRef v = inline_ptx(g, "ld.shared::cluster.v4.f32 {$0, $1, $2, $3}, [$4];", "=f,=f,=f,=f,r,~{memory}",
                                  LLVMStructTypeInContext(t->ctx, f4, 4, 0), &remote, 1);
      for (int e = 0; e < 4; e++)
        LLVMBuildStore(bd, LLVMBuildFAdd(bd, LLVMBuildLoad2(bd, t->f32, acc[i + e], ""), LLVMBuildExtractValue(bd, v, (unsigned)e, ""), ""), acc[i + e]);
    }
    mbarrier_arrive_remote(g, in_block(g, i32c(g, free), i32c(g, b)));
  }
  store_tile(g, w->tc, bias, w->tr, w->m, w->m0, w->n0, acc);
  LLVMBuildBr(bd, join);
  LLVMPositionBuilderAtEnd(bd, join);
  LLVMBuildStore(bd, add(g, r, i64c(g, 1)), round);
}

/* The warpgroup path, warp-specialized: warpgroup 0 copies the slices into the ring of stages (its thread
 * 0 alone when the TMA unit copies both operands; else cp.async by all 128, thread 0 also issuing the
 * TMA copies of the other operand), the others multiply them (wgmma). Stage s has two mbarriers: `full`
 * completes when the copies into it have landed (each cp.async thread arrives once its copies are done,
 * thread 0 once more expecting the TMA copies' bytes), `empty` when every multiplying
 * warp's wgmma group that read it has completed. Each side counts the slices it has passed (`it`,
 * across tiles): slice it uses stage it % stages in phase (it / stages) & 1. The copies run ahead into
 * the next tile while the multiplying warpgroups store this one. */
static void wgmma_tiles(gen_t *g, walk_t *w, LLVMValueRef bias, LLVMValueRef *acc, int num_acc) {
  tcc_tir_t *t = &g->t;
  LLVMBuilderRef bd = t->b;
  const tile_t *k = &g->k;
  int consumers = k->threads / 128 - 1, S = k->stages;
  /* the stages start at a 1024-byte boundary, where the swizzle pattern does; the barriers follow them */
  LLVMValueRef raw = LLVMBuildPtrToInt(bd, g->smem, t->i32, "");
  g->smem = shared_at(g, LLVMBuildAnd(bd, LLVMBuildSub(bd, i32c(g, 0), raw, ""), i32c(g, 1023), ""));
  g->smem_address = LLVMBuildPtrToInt(bd, g->smem, t->i32, "");
  int bars = S * k->stage_bytes, split = k->split;
  int red_full = bars + 16 * S, red_free = red_full + 8, red = red_full + 16; /* split-K's (see reduce_split) */
#define FULL(s) add(g, i32c(g, bars), mul(g, (s), i32c(g, 8)))
#define EMPTY(s) add(g, i32c(g, bars + 8 * S), mul(g, (s), i32c(g, 8)))
  bool tma = g->tma_a || g->tma_b, cp_async = !g->tma_a || !g->tma_b;
  LLVMBasicBlockRef join = tcc_tir_if_begin(t, LLVMBuildICmp(bd, LLVMIntEQ, g->tid, i32c(g, 0), ""));
  for (int s = 0; s < S; s++) {
    mbarrier_init(g, FULL(i32c(g, s)), (cp_async ? 128 : 0) + tma);
    mbarrier_init(g, EMPTY(i32c(g, s)), 4 * consumers);
  }
  if (split > 1) {
    mbarrier_init(g, i32c(g, red_full), (split - 1) * 128 * consumers);
    mbarrier_init(g, i32c(g, red_free), 128 * consumers);
  }
  if (tma) ptx_statement(g, "fence.mbarrier_init.release.cluster;"); /* visible to the TMA unit */
  tcc_tir_if_end(t, join);
  /* split-K: the `split` blocks of a cluster take one tile, block `rank` the rank-th part of its K */
  LLVMValueRef rank = i32c(g, 0), k_begin = i64c(g, 0), k_end = w->k_tiles;
  if (split > 1) {
    LLVMValueRef cta = sreg(g, "ctaid.x");
    rank = LLVMBuildURem(bd, cta, i32c(g, split), "");
    w->first = sext(g, LLVMBuildUDiv(bd, cta, i32c(g, split), ""));
    w->stride = sext(g, LLVMBuildUDiv(bd, sreg(g, "nctaid.x"), i32c(g, split), ""));
    LLVMValueRef part = LLVMBuildSDiv(bd, add(g, w->k_tiles, i64c(g, split - 1)), i64c(g, split), "");
    k_begin = tcc_tir_smin(t, mul(g, sext(g, rank), part), w->k_tiles);
    k_end = tcc_tir_smin(t, add(g, k_begin, part), w->k_tiles);
    ptx_statement(g, "barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;"); /* barriers set up */
  } else {
    barrier(g);
  }
  LLVMValueRef it = tcc_tir_alloca(t, t->i64, "it");
  LLVMBuildStore(bd, i64c(g, 0), it);
  LLVMBasicBlockRef copy_bb = LLVMAppendBasicBlockInContext(t->ctx, t->fn, "copy");
  LLVMBasicBlockRef mul_bb = LLVMAppendBasicBlockInContext(t->ctx, t->fn, "multiply");
  LLVMBasicBlockRef done_bb = LLVMAppendBasicBlockInContext(t->ctx, t->fn, "done");
  LLVMBasicBlockRef idle_bb = cp_async ? copy_bb : LLVMAppendBasicBlockInContext(t->ctx, t->fn, "idle");
  LLVMBuildCondBr(bd, LLVMBuildICmp(bd, LLVMIntULT, g->tid, i32c(g, 128), ""), idle_bb, mul_bb);
  if (!cp_async) { /* the copying warpgroup's thread 0 alone */
    LLVMPositionBuilderAtEnd(bd, idle_bb);
    LLVMBuildCondBr(bd, LLVMBuildICmp(bd, LLVMIntEQ, g->tid, i32c(g, 0), ""), copy_bb, done_bb);
  }

  LLVMPositionBuilderAtEnd(bd, copy_bb);
  g->loader = g->tid, g->loaders = 128;
  LLVMValueRef map_a = g->tma_a ? map_address(g, g->map_a) : NULL, map_b = g->tma_b ? map_address(g, g->map_b) : NULL;
  if (map_a) inline_ptx(g, "prefetch.tensormap [$0];", "l,~{memory}", t->void_t, &map_a, 1);
  if (map_b) inline_ptx(g, "prefetch.tensormap [$0];", "l,~{memory}", t->void_t, &map_b, 1);
  walk_begin(g, w);
  tcc_tir_loop_t ks;
  LLVMValueRef kt = tcc_tir_loop_begin(t, &ks, k_begin, k_end, i64c(g, 1), "kt");
  LLVMValueRef n = LLVMBuildLoad2(bd, t->i64, it, "");
  LLVMValueRef stage = LLVMBuildTrunc(bd, LLVMBuildURem(bd, n, i64c(g, S), ""), t->i32, "");
  LLVMValueRef parity = LLVMBuildTrunc(bd, LLVMBuildAnd(bd, LLVMBuildUDiv(bd, n, i64c(g, S), ""), i64c(g, 1), ""), t->i32, "");
  mbarrier_wait(g, EMPTY(stage), LLVMBuildXor(bd, parity, i32c(g, 1), "")); /* the previous round's is done */
  if (tma) {
    join = cp_async ? tcc_tir_if_begin(t, LLVMBuildICmp(bd, LLVMIntEQ, g->tid, i32c(g, 0), "")) : NULL;
    tma_stage(g, w, map_a, map_b, kt, stage, FULL(stage));
    if (join) tcc_tir_if_end(t, join);
  }
  if (cp_async) {
    load_stage(g, w->ta, w->tb, w->m, w->m0, w->n0, kt, stage);
    LLVMValueRef full = mbarrier_addr(g, FULL(stage));
    inline_ptx(g, "cp.async.mbarrier.arrive.noinc.shared.b64 [$0];", "l,~{memory}", t->void_t, &full, 1);
  }
  LLVMBuildStore(bd, add(g, n, i64c(g, 1)), it);
  tcc_tir_loop_end(t, &ks);
  tcc_tir_loop_end(t, &w->loop);
  wait_groups(g, 0);
  LLVMBuildBr(bd, done_bb);

  LLVMPositionBuilderAtEnd(bd, mul_bb);
  LLVMValueRef ctid = LLVMBuildSub(bd, g->tid, i32c(g, 128), "");
  LLVMValueRef warp = LLVMBuildLShr(bd, ctid, i32c(g, 5), "");
  /* warpgroup w computes rows w * wm ..; its warp v rows v * 16 .. of each 64 */
  LLVMValueRef wg_row = mul(g, LLVMBuildLShr(bd, warp, i32c(g, 2), ""), i32c(g, k->wm));
  g->wg_a = mul(g, wg_row, i32c(g, 128));
  g->warp_m = add(g, wg_row, mul(g, LLVMBuildAnd(bd, warp, i32c(g, 3), ""), i32c(g, 16)));
  g->warp_n = i32c(g, 0);
  LLVMValueRef leader = LLVMBuildICmp(bd, LLVMIntEQ, g->lane, i32c(g, 0), "");
  LLVMValueRef round = tcc_tir_alloca(t, t->i64, "round");
  LLVMBuildStore(bd, i64c(g, 0), round);
  walk_begin(g, w);
  for (int i = 0; i < num_acc; i++) LLVMBuildStore(bd, tcc_tir_f32c(t, 0), acc[i]);
  kt = tcc_tir_loop_begin(t, &ks, k_begin, k_end, i64c(g, 1), "kt");
  n = LLVMBuildLoad2(bd, t->i64, it, "");
  stage = LLVMBuildTrunc(bd, LLVMBuildURem(bd, n, i64c(g, S), ""), t->i32, "");
  parity = LLVMBuildTrunc(bd, LLVMBuildAnd(bd, LLVMBuildUDiv(bd, n, i64c(g, S), ""), i64c(g, 1), ""), t->i32, "");
  mbarrier_wait(g, FULL(stage), parity);
  ptx_statement(g, "fence.proxy.async.shared::cta;"); /* the copies, visible to the tensor cores' reads */
  compute_stage_wgmma(g, stage, acc);
  ptx_statement(g, "wgmma.wait_group.sync.aligned 1;"); /* slice it - 1's group is done: free its stage */
  LLVMValueRef prev = LLVMBuildTrunc(bd, LLVMBuildURem(bd, add(g, n, i64c(g, S - 1)), i64c(g, S), ""), t->i32, "");
  join = tcc_tir_if_begin(t, LLVMBuildAnd(bd, leader, LLVMBuildICmp(bd, LLVMIntSGT, kt, k_begin, ""), ""));
  mbarrier_arrive(g, EMPTY(prev));
  tcc_tir_if_end(t, join);
  LLVMBuildStore(bd, add(g, n, i64c(g, 1)), it);
  tcc_tir_loop_end(t, &ks);
  ptx_statement(g, "wgmma.wait_group.sync.aligned 0;");
  n = LLVMBuildLoad2(bd, t->i64, it, "");
  /* the tile's last slice (a part of K may be empty when split) */
  join = tcc_tir_if_begin(t, LLVMBuildAnd(bd, leader, lt(g, k_begin, k_end), ""));
  mbarrier_arrive(g, EMPTY(LLVMBuildTrunc(bd, LLVMBuildURem(bd, add(g, n, i64c(g, S - 1)), i64c(g, S), ""), t->i32, "")));
  tcc_tir_if_end(t, join);
  pin_accumulators(g, acc, num_acc);
  if (split > 1) reduce_split(g, w, bias, acc, num_acc, rank, round, red_full, red_free, red, ctid);
  else store_tile(g, w->tc, bias, w->tr, w->m, w->m0, w->n0, acc);
  tcc_tir_loop_end(t, &w->loop);
  if (split > 1) { /* rank 0 reads this block's shared memory until it has added up the last tile */
    join = tcc_tir_if_begin(t, LLVMBuildICmp(bd, LLVMIntNE, rank, i32c(g, 0), ""));
    LLVMValueRef r = LLVMBuildLoad2(bd, t->i64, round, "");
    mbarrier_wait_in(g, i32c(g, red_free), LLVMBuildXor(bd, LLVMBuildTrunc(bd, LLVMBuildAnd(bd, r, i64c(g, 1), ""), t->i32, ""), i32c(g, 1), ""), true);
    tcc_tir_if_end(t, join);
  }
  LLVMBuildBr(bd, done_bb);
  LLVMPositionBuilderAtEnd(bd, done_bb);
#undef FULL
#undef EMPTY
}

static tcc_status_t emit_kernel(gen_t *g, const char *entry) {
  tcc_tir_t *t = &g->t;
  const plan_t *p = g->p;
  int np = p->num_params + 2, maps = g->tma_a + g->tma_b;
  LLVMTypeRef params[16 + TCC_GPU_MAX_TENSOR_MAPS];
  for (int i = 0; i < np + maps; i++) params[i] = t->ptr;
  LLVMValueRef fn = LLVMAddFunction(t->mod, entry, LLVMFunctionType(t->void_t, params, (unsigned)(np + maps), 0));
  /* the tensor maps: 128 bytes by value, aligned to 64 (CUtensorMap) */
  LLVMTypeRef map_type = LLVMArrayType2(LLVMInt8TypeInContext(t->ctx), 128);
  for (int i = 0; i < maps; i++) {
    unsigned at = (unsigned)(np + i + 1); /* attribute indices of parameters start at 1 */
    LLVMAddAttributeAtIndex(fn, at, LLVMCreateTypeAttribute(t->ctx, LLVMGetEnumAttributeKindForName("byval", 5), map_type));
    LLVMAddAttributeAtIndex(fn, at, LLVMCreateEnumAttribute(t->ctx, LLVMGetEnumAttributeKindForName("align", 5), 64));
  }
  tcc_tir_begin(t, fn);
  LLVMBuilderRef bd = t->b;
  walk_t w = {.a = LLVMGetParam(fn, (unsigned)p->param_a), .b = LLVMGetParam(fn, (unsigned)p->param_b),
              .c = LLVMGetParam(fn, (unsigned)p->param_c)};
  LLVMValueRef ctx = LLVMGetParam(fn, (unsigned)p->num_params);
  LLVMValueRef bias = p->bias ? LLVMGetParam(fn, (unsigned)p->param_bias) : NULL;
  w.r = p->residual ? LLVMGetParam(fn, (unsigned)p->param_residual) : NULL;
  LLVMValueRef syms = LLVMBuildLoad2(bd, t->ptr, ctx, "syms"); /* ctx->symbols is the first field */
  for (int d = 0; p->residual && p->batched && d < p->c->type.rank - 2; d++) {
    TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(t->e, bd, syms, p->c->type.dims[d], &g->c_batch[d]));
    TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(t->e, bd, syms, p->residual->type.dims[d], &g->r_batch[d]));
  }
  int ra = p->a->type.rank;
  if (p->is_conv) {
    TCC_RETURN_IF_ERROR(dims_product(g, syms, p->c, 0, 3, &w.m)); /* batch * OH * OW */
    w.batch = i64c(g, 1);
  } else if (p->batched) {
    TCC_RETURN_IF_ERROR(dims_product(g, syms, p->a, ra - 2, ra - 1, &w.m));
    TCC_RETURN_IF_ERROR(dims_product(g, syms, p->a, 0, ra - 2, &w.batch));
  } else {
    TCC_RETURN_IF_ERROR(dims_product(g, syms, p->a, 0, ra - 1, &w.m));
    w.batch = i64c(g, 1);
  }
  const tile_t *k = &g->k;
  w.tiles_n = i64c(g, (p->n + k->bn - 1) / k->bn);
  w.per_product = mul(g, LLVMBuildSDiv(bd, add(g, w.m, i64c(g, k->bm - 1)), i64c(g, k->bm), ""), w.tiles_n);
  w.total = mul(g, w.per_product, w.batch);
  w.k_tiles = i64c(g, (p->k + k->bk - 1) / k->bk);
  w.first = sext(g, sreg(g, "ctaid.x")), w.stride = sext(g, sreg(g, "nctaid.x"));
  g->tid = sreg(g, "tid.x");
  g->lane = LLVMBuildAnd(bd, g->tid, i32c(g, 31), "");
  g->smem_address = LLVMBuildPtrToInt(bd, g->smem, t->i32, "");
  int num_acc = k->simt ? k->wm * k->wn : k->mi * k->ni * 4;
  LLVMValueRef acc[MAX_ACC];
  for (int i = 0; i < num_acc; i++) acc[i] = tcc_tir_alloca(t, t->f32, "acc");
  if (k->wgmma) wgmma_tiles(g, &w, bias, acc, num_acc);
  else stream_tiles(g, &w, bias, acc, num_acc);
  LLVMBuildRetVoid(bd);
  tcc_tir_gpu_kernel(t, fn, k->threads);
  if (k->split > 1) tcc_tir_gpu_cluster(t, fn, k->split);
  return NULL;
}

static tcc_status_t make_tile(const tcc_gpu_gemm_knobs_t *o, bool b_nk, bool tf32, tile_t *k);

/* The dims of v [from, to) as one (their product; tcc_dim_invalid() when out of memory). */
static const tcc_dim_t *dims_of(tcc_module_t *m, const tcc_value_t *v, int from, int to) {
  return tcc_dim_product(m, v->type.dims + from, to - from);
}

/* The warpgroup path's operands the TMA unit copies, and their tensor maps in *launch (3-D, innermost
 * first: the row, the rows, the products): A unless it is a convolution's im2col, [N][K] B, both only
 * when their rows are whole 16-byte units (the maps' strides must be), and [K][N] B (N % 8 == 0). */
static tcc_status_t tensor_maps(gen_t *g, tcc_module_t *m, tcc_gpu_launch_t *launch) {
  const plan_t *p = g->p;
  int esize = tcc_dtype_bits(p->dtype) / 8;
  bool k_whole = p->k * esize % 16 == 0;
  g->tma_a = !p->is_conv && k_whole;
  g->tma_b = !p->b_nk || k_whole;
  const tcc_dim_t *one = tcc_dim_const(m, 1), *K = tcc_dim_const(m, p->k), *N = tcc_dim_const(m, p->n);
  int ra = p->a->type.rank, rb = p->b->type.rank;
  if (g->tma_a) {
    tcc_gpu_tensor_map_t *map = &launch->maps[launch->num_maps++];
    *map = (tcc_gpu_tensor_map_t){.arg = p->param_a, .rank = 3, .swizzle = 128, .dtype = p->dtype,
                                  .box = {64, g->k.bm, 1}, .dims = {K, dims_of(m, p->a, p->batched ? ra - 2 : 0, ra - 1), one}};
    if (p->batched) map->dims[2] = dims_of(m, p->a, 0, ra - 2);
  }
  if (g->tma_b) {
    tcc_gpu_tensor_map_t *map = &launch->maps[launch->num_maps++];
    *map = (tcc_gpu_tensor_map_t){.arg = p->param_b, .rank = 3, .swizzle = 128, .dtype = p->dtype,
                                  .box = {64, p->b_nk ? g->k.bn : 64, 1}, .dims = {p->b_nk ? K : N, p->b_nk ? N : K, one}};
    if (p->batched) map->dims[2] = dims_of(m, p->b, 0, rb - 2);
  }
  for (int i = 0; i < launch->num_maps; i++)
    for (int d = 0; d < 3; d++)
      if (launch->maps[i].dims[d] == tcc_dim_invalid()) return tcc_status_oom();
  return NULL;
}

tcc_status_t tcc_gpu_gemm_default_knobs(int64_t m, int64_t n, int64_t k, tcc_dtype_t dtype, bool tf32,
                                        const char *target, tcc_gpu_gemm_knobs_t *out) {
  tcc_space_query_t q;
  TCC_RETURN_IF_ERROR(tcc_space_query_init(&q, "matmul", target ? target : "sm_80"));
  TCC_RETURN_IF_ERROR(tcc_space_query_set(&q, "m", m));
  TCC_RETURN_IF_ERROR(tcc_space_query_set(&q, "n", n));
  TCC_RETURN_IF_ERROR(tcc_space_query_set(&q, "k", k));
  TCC_RETURN_IF_ERROR(tcc_space_query_set(&q, "bits", tcc_dtype_bits(dtype)));
  TCC_RETURN_IF_ERROR(tcc_space_query_set(&q, "tf32", tf32));
  tcc_space_knobs_t knobs;
  TCC_RETURN_IF_ERROR(tcc_space_defaults("gpu_gemm", &q, &knobs));
  *out = (tcc_gpu_gemm_knobs_t){.bm = 128, .bn = 128, .bk = 32, .wm = 64, .wn = 64, .stages = 4, .group = 1, .split = 1};
  /* simt is the data type's (the space sets it for float32) */
  return tcc_gpu_gemm_knobs_from_space(&knobs, out);
}

tcc_status_t tcc_gpu_gemm_knobs_from_space(const tcc_space_knobs_t *space, tcc_gpu_gemm_knobs_t *out) {
  out->bm = (int)tcc_space_knob(space, "bm", out->bm);
  out->bn = (int)tcc_space_knob(space, "bn", out->bn);
  out->bk = (int)tcc_space_knob(space, "bk", out->bk);
  out->wm = (int)tcc_space_knob(space, "wm", out->wm);
  out->wn = (int)tcc_space_knob(space, "wn", out->wn);
  out->stages = (int)tcc_space_knob(space, "stages", out->stages);
  out->wgmma = (int)tcc_space_knob(space, "wgmma", out->wgmma);
  out->group = (int)tcc_space_knob(space, "group", out->group);
  out->split = (int)tcc_space_knob(space, "split", out->split);
  out->simt = (int)tcc_space_knob(space, "simt", out->simt);
  tile_t k;
  return make_tile(out, false, false, &k);
}

/* The warpgroup path: multiplying warpgroups of wm = 64 or 128 rows (1 to 4 of them), instructions of wn
 * = 64, 128 or 256 columns dividing bn, slices of 64, 3 to 8 stages, at most 128 accumulators per
 * thread, and room for them (+ 24) in a thread's share of the registers. */
/* The registers each thread may use with `consumers` multiplying warpgroups and the copying one in a
 * block (65536 per SM). */
static int multiplier_registers(int consumers) {
  int r = 65536 / (128 * (consumers + 1)) / 8 * 8;
  return r > 255 ? 255 : r;
}

static bool make_wgmma_tile(tile_t *k) {
  if (k->bk != 64 || (k->wm != 64 && k->wm != 128) || k->bm <= 0 || k->bm % k->wm || k->bm / k->wm > 4 ||
      k->wn % 64 || k->wn > 256 || k->bn <= 0 || k->bn % k->wn || k->stages < 3 || k->stages > 8 ||
      k->wm * k->bn / 128 > 128 || k->wm * k->bn / 128 + 24 > multiplier_registers(k->bm / k->wm))
    return false;
  k->threads = 128 * (k->bm / k->wm + 1); /* + the copying warpgroup */
  k->mi = k->wm / 64, k->ni = k->bn / 8, k->row_step = 64;
  k->a_bytes = k->bm * 128;
  k->stage_bytes = k->a_bytes + k->bn * 128;
  k->shared_bytes = k->stages * k->stage_bytes + 16 * k->stages + 1024; /* + barriers, alignment */
  if (k->split > 1) k->shared_bytes += 16 + k->bm * k->bn * 4; /* the split-K hand-over (reduce_split) */
  return k->shared_bytes <= MAX_SHARED;
}

/* The float32 path: thread tiles of wm (1 to 16) x wn (4, 8, 12 or 16) rows by columns, at most 128
 * accumulators, whole warps; slices of bk, a multiple of 4; rows padded by 4 floats. */
static bool make_simt_tile(tile_t *k, bool b_nk) {
  if (k->wgmma || k->split != 1 || k->wm < 1 || k->wm > 16 || k->wn < 4 || k->wn > 16 || k->wn % 4 ||
      k->wm * k->wn > 128 || k->bm <= 0 || k->bn <= 0 || k->bm % k->wm || k->bn % k->wn || k->bk < 4 || k->bk % 4 ||
      k->stages < 2 || k->stages > 8)
    return false;
  k->warps_n = k->bn / k->wn;
  k->threads = (k->bm / k->wm) * k->warps_n;
  k->chunk = 4;
  k->a_stride = k->bk + 4, k->b_stride = b_nk ? k->bk + 4 : k->bn + 4;
  k->a_bytes = k->bm * k->a_stride * 4;
  k->stage_bytes = k->a_bytes + (b_nk ? k->bn : k->bk) * k->b_stride * 4;
  k->shared_bytes = k->stages * k->stage_bytes;
  return k->threads % 32 == 0 && k->threads <= 1024 && k->shared_bytes <= MAX_SHARED;
}

/* tf32: the mma.sync path on float32 (4-byte elements, K in steps of 8). */
static tcc_status_t make_tile(const tcc_gpu_gemm_knobs_t *o, bool b_nk, bool tf32, tile_t *k) {
  *k = (tile_t){.bm = o->bm, .bn = o->bn, .bk = o->bk, .wm = o->wm, .wn = o->wn, .stages = o->stages,
                .group = o->group, .split = o->split, .wgmma = o->wgmma != 0, .simt = o->simt != 0,
                .row_step = 16, .chunk = 8};
  if (o->group < 1 || o->group > 64)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "GPU GEMM knob group=%d: 1 to 64 rows of tiles", o->group);
  if (o->split != 1 && (!o->wgmma || o->simt || (o->split != 2 && o->split != 4 && o->split != 8)))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "GPU GEMM knob split=%d: 1, or 2, 4 or 8 with wgmma=1", o->split);
  bool ok;
  if (k->simt) {
    ok = o->simt == 1 && make_simt_tile(k, b_nk);
  } else if (k->wgmma) {
    ok = o->wgmma == 1 && make_wgmma_tile(k);
  } else {
    /* rows padded by one chunk (16 bytes), TF32's B [K][N] rows by 8 floats (its lanes' loads then hit
     * 32 banks) */
    int esize = tf32 ? 4 : 2;
    if (tf32) k->chunk = 4;
    ok = k->wm >= 16 && k->wm % 16 == 0 && k->wn >= 16 && k->wn % 16 == 0 && k->bm % (k->wm ? k->wm : 1) == 0 &&
         k->bn % (k->wn ? k->wn : 1) == 0 && k->bk >= 16 && k->bk % 16 == 0 && k->stages >= 2 && k->stages <= 8 &&
         k->bm > 0 && k->bn > 0;
    if (ok) {
      k->warps_n = k->bn / k->wn;
      k->threads = 32 * (k->bm / k->wm) * k->warps_n;
      k->mi = k->wm / 16, k->ni = k->wn / 8;
      k->a_stride = k->bk + k->chunk, k->b_stride = b_nk ? k->bk + k->chunk : k->bn + 8;
      k->a_bytes = k->bm * k->a_stride * esize;
      k->stage_bytes = k->a_bytes + (b_nk ? k->bn : k->bk) * k->b_stride * esize;
      k->shared_bytes = k->stages * k->stage_bytes;
      ok = k->threads <= 1024 && k->mi <= 8 && k->ni <= 16 && k->mi * k->ni * 4 <= MAX_ACC &&
           (int64_t)k->shared_bytes <= MAX_SHARED;
    }
  }
  if (ok) return NULL;
  if (k->simt)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "GPU GEMM knobs bm=%d bn=%d bk=%d wm=%d wn=%d stages=%d simt=%d: the "
                           "float32 path needs simt=1, wgmma=0, split=1, thread tiles wm 1..16 dividing bm and wn 4, "
                           "8, 12 or 16 dividing bn (at most 128 accumulators), whole warps up to 1024 threads, bk a "
                           "multiple of 4, 2..8 stages and at most %d bytes of shared memory",
                           o->bm, o->bn, o->bk, o->wm, o->wn, o->stages, o->simt, MAX_SHARED);
  if (k->wgmma)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "GPU GEMM knobs bm=%d bn=%d bk=%d wm=%d wn=%d stages=%d wgmma=%d: the "
                           "warpgroup path needs wgmma=1, bk=64, wm 64 or 128 dividing bm (at most 4 warpgroups), wn "
                           "64, 128 or 256 dividing bn, 3..8 stages, wm*bn/128 <= 128 accumulators per thread and at "
                           "most %d bytes of shared memory for the stages (and with split 4 x bm x bn more)",
                           o->bm, o->bn, o->bk, o->wm, o->wn, o->stages, o->wgmma, MAX_SHARED);
  return tcc_status_make(TCC_INVALID_ARGUMENT, "GPU GEMM knobs bm=%d bn=%d bk=%d wm=%d wn=%d stages=%d: need wm, wn "
                         "multiples of 16 dividing bm, bn; bk a multiple of 16; 2..8 stages; at most 1024 threads, "
                         "8 x 16 mma tiles (%d accumulators) per warp and %d bytes of shared memory",
                         o->bm, o->bn, o->bk, o->wm, o->wn, o->stages, MAX_ACC, MAX_SHARED);
}

/* One kernel of the node with the given knobs, named after `name`. */
static tcc_status_t emit_variant(tcc_llvm_emitter_t *e, const tcc_node_t *node, const plan_t *p, const char *target,
                                 const tcc_gpu_gemm_knobs_t *knobs, const char *name, tcc_gpu_kernel_t *out) {
  if (knobs->wgmma && (!target || strcmp(target, "sm_90a") != 0))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s': the GPU GEMM knob wgmma=1 needs the sm_90a target, not %s",
                           node->name, target ? target : "sm_80");
  gen_t g = {.p = p};
  TCC_RETURN_IF_ERROR(make_tile(knobs, p->b_nk, p->tf32, &g.k));
  out->launch = (tcc_gpu_launch_t){.block = g.k.threads, .grid = 0, .shared_bytes = g.k.shared_bytes};
  if (g.k.wgmma) TCC_RETURN_IF_ERROR(tensor_maps(&g, node->graph->module, &out->launch));
  TCC_RETURN_IF_ERROR(tcc_tir_init(&g.t, e, NULL));
  tcc_tir_t *t = &g.t;
  g.esize = tcc_dtype_bits(p->dtype) / 8;
  g.elem = g.esize == 4 ? t->f32 : LLVMInt16TypeInContext(t->ctx);
  g.half = LLVMHalfTypeInContext(t->ctx);
  g.p1 = LLVMPointerTypeInContext(t->ctx, 1);
  g.smem = tcc_tir_gpu_dynamic_shared(t);
  tcc_tir_gpu_entry(t, name, "gemm", out->entry);
  /* LLVM names a kernel's parameters ENTRY_param_I in the PTX */
  snprintf(g.map_a, sizeof g.map_a, "%s_param_%d", out->entry, p->num_params + 2);
  snprintf(g.map_b, sizeof g.map_b, "%s_param_%d", out->entry, p->num_params + 2 + g.tma_a);
  tcc_status_t st = tcc_tir_gpu_keep(t, out->entry, emit_kernel(&g, out->entry));
  tcc_tir_dispose(t);
  return st;
}

/* M of one product (the rows of C), and the least it can be: its constant dims' product. */
static const tcc_dim_t *rows_dim(const plan_t *p, tcc_module_t *m, int64_t *least) {
  const tcc_value_t *v = p->is_conv ? p->c : p->a;
  int r = v->type.rank, from = p->is_conv || !p->batched ? 0 : r - 2, to = p->is_conv ? 3 : r - 1;
  *least = 1;
  for (int d = from; d < to; d++)
    if (tcc_dim_is_const(v->type.dims[d])) *least *= tcc_dim_value(v->type.dims[d]);
  return dims_of(m, v, from, to);
}

/* Rows known only at run time: ranges of M, [RANGE_FIRST_MAX], then up to 4 times as many each, the last
 * unbounded; a kernel per range over which the default knobs differ. */
enum { RANGE_FIRST_MAX = 64, RANGE_COUNT = TCC_GPU_GEMM_MAX_VARIANTS };

tcc_status_t tcc_gpu_gemm_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, const char *target,
                               const tcc_gpu_gemm_knobs_t *knobs, tcc_gpu_kernel_t out[TCC_GPU_GEMM_MAX_VARIANTS],
                               int *count, bool *applied) {
  *applied = false, *count = 0;
  plan_t p;
  if (!plan_node(node, &p) || p.num_params + 2 > 16) return NULL;
  bool simt = p.dtype == TCC_DTYPE_F32 && !p.tf32;
  if (knobs && (knobs->simt != 0) == simt && !(p.tf32 && knobs->wgmma)) {
    TCC_RETURN_IF_ERROR(emit_variant(e, node, &p, target, knobs, node->name, &out[0]));
    return *count = 1, *applied = true, NULL;
  }
  int64_t least;
  const tcc_dim_t *size = rows_dim(&p, node->graph->module, &least);
  if (size == tcc_dim_invalid()) return tcc_status_oom();
  tcc_gpu_gemm_knobs_t chosen[RANGE_COUNT];
  if (tcc_dim_is_const(size)) {
    TCC_RETURN_IF_ERROR(tcc_gpu_gemm_default_knobs(least, p.n, p.k, p.dtype, p.tf32, target, &chosen[0]));
    TCC_RETURN_IF_ERROR(emit_variant(e, node, &p, target, &chosen[0], node->name, &out[0]));
    return *count = 1, *applied = true, NULL;
  }
  /* per range [lo, hi] of M from `least` on: the defaults for its least M when it holds `least` (the
   * latency case: the symbols at 1), else for its middle; split-K only where it still pays at hi */
  int64_t lo = least, hi = RANGE_FIRST_MAX;
  for (int r = 0; r < RANGE_COUNT; r++, hi *= 4) {
    bool last = r == RANGE_COUNT - 1;
    if (!last && hi < lo) continue;
    int64_t top = last ? INT64_MAX : hi, at = lo == least ? lo : (lo + hi) / 2;
    tcc_gpu_gemm_knobs_t k, at_top;
    TCC_RETURN_IF_ERROR(tcc_gpu_gemm_default_knobs(at, p.n, p.k, p.dtype, p.tf32, target, &k));
    TCC_RETURN_IF_ERROR(tcc_gpu_gemm_default_knobs(last ? 4 * at : hi, p.n, p.k, p.dtype, p.tf32, target, &at_top));
    if (at_top.split == 1) k.split = 1;
    if (*count && memcmp(&k, &chosen[*count - 1], sizeof k) == 0) { /* the same kernel as the range before */
      out[*count - 1].launch.size_max = top;
    } else {
      char name[300];
      snprintf(name, sizeof name, "%.200s_m%lld", node->name, (long long)lo);
      chosen[*count] = k;
      TCC_RETURN_IF_ERROR(emit_variant(e, node, &p, target, &k, name, &out[*count]));
      out[*count].launch.size = size, out[*count].launch.size_min = lo, out[*count].launch.size_max = top;
      ++*count;
    }
    lo = hi + 1;
  }
  if (*count == 1) out[0].launch.size = NULL; /* one kernel for every M */
  *applied = true;
  return NULL;
}

tcc_status_t tcc_gpu_gemm_parse_knobs(const char *text, tcc_gpu_gemm_knobs_t *out) {
  bool simt = text && strstr(text, "simt=1"); /* over the float32 defaults */
  TCC_RETURN_IF_ERROR(tcc_gpu_gemm_default_knobs(-1, -1, -1, simt ? TCC_DTYPE_F32 : TCC_DTYPE_F16, false, NULL, out));
  for (const char *p = text; p && *p;) {
    char name[16];
    long value;
    int used = 0;
    if (sscanf(p, "%15[a-z]=%ld%n", name, &value, &used) != 2)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "GPU GEMM knobs '%s': expected name=value[,name=value...]", text);
    int *field = strcmp(name, "bm") == 0 ? &out->bm : strcmp(name, "bn") == 0 ? &out->bn : strcmp(name, "bk") == 0 ? &out->bk
               : strcmp(name, "wm") == 0 ? &out->wm : strcmp(name, "wn") == 0 ? &out->wn : strcmp(name, "stages") == 0 ? &out->stages
               : strcmp(name, "wgmma") == 0 ? &out->wgmma : strcmp(name, "group") == 0 ? &out->group
               : strcmp(name, "split") == 0 ? &out->split : strcmp(name, "simt") == 0 ? &out->simt : NULL;
    if (!field) return tcc_status_make(TCC_INVALID_ARGUMENT, "GPU GEMM knobs: unknown knob '%s' (bm, bn, bk, wm, wn, stages, wgmma, group, split, simt)", name);
    *field = (int)value;
    p += used;
    if (*p == ',') p++;
  }
  tile_t k;
  return make_tile(out, false, false, &k);
}
