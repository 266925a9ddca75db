/* The CPU channel-block template (codegen/cpu_blocks.h): recognizes the transpose, then builds an entry
 * that computes the sizes and dispatches tasks of tiles, and a task body that moves B x B tiles through
 * registers. */
#include "codegen/cpu_blocks.h"

#include <string.h>

#include "codegen/template_ir.h"
#include "ir/dim.h"

enum { TILES_PER_TASK = 64 };

typedef struct {
  const tcc_value_t *x;
  bool to_blocks; /* [outer, B, S] -> [outer, S, B]; else [outer, S, B] -> [outer, B, S] */
  int axis;       /* to blocks: the axis of B; from blocks: the first axis of S */
} blocks_t;

static bool identity_before(const int64_t *perm, int a) {
  for (int d = 0; d < a; d++)
    if (perm[d] != d) return false;
  return true;
}

static bool recognize(const tcc_node_t *n, int lanes, blocks_t *p) {
  if (n->op != TCC_OP_TRANSPOSE || n->num_inputs != 1 || n->num_outputs != 1 || !n->inputs[0] || !n->outputs[0])
    return false;
  const tcc_value_t *x = n->inputs[0];
  int r = x->type.rank;
  if (x->type.kind != TCC_TYPE_TENSOR || r < 2 || x->type.dtype == TCC_DTYPE_STRING ||
      tcc_dtype_bits(x->type.dtype) != 32)
    return false;
  const int64_t *perm;
  int64_t count;
  if (!tcc_node_attr_ints(n, "perm", &perm, &count) || count != r) return false;
  p->x = x;
  for (int a = 0; a < r - 1; a++) {
    if (!identity_before(perm, a)) break;
    bool to = perm[r - 1] == a, from = perm[a] == r - 1;
    for (int d = a; d < r - 1; d++) to = to && perm[d] == d + 1, from = from && perm[d + 1] == d;
    const tcc_dim_t *b_to = x->type.dims[a], *b_from = x->type.dims[r - 1];
    to = to && tcc_dim_is_const(b_to) && tcc_dim_value(b_to) == lanes;
    from = from && tcc_dim_is_const(b_from) && tcc_dim_value(b_from) == lanes;
    if (to || from) {
      p->to_blocks = to, p->axis = a;
      return true;
    }
  }
  return false;
}

/* ---- emission ---- */

/* The argument block: X, Y, S, tiles per outer index, tasks per outer index (i64 slots). */
enum { S_X, S_Y, S_S, S_TILES, S_TASKS, S_COUNT };

typedef struct {
  tcc_tir_t t;
  const blocks_t *p;
} gen_t;

static LLVMValueRef slot(gen_t *g, LLVMValueRef args, int i) {
  LLVMValueRef idx = tcc_tir_i64c(&g->t, i);
  return LLVMBuildGEP2(g->t.b, g->t.i64, args, &idx, 1, "");
}

/* v[0..L) := their transpose, as lanes x lanes matrix rows: at each scale d the off-diagonal d x d blocks
 * of every 2d x 2d block swap. */
static void transpose_in_registers(gen_t *g, LLVMValueRef *v) {
  tcc_tir_t *t = &g->t;
  int L = t->lanes;
  for (int d = 1; d < L; d <<= 1)
    for (int i = 0; i < L; i++) {
      if (i & d) continue;
      LLVMValueRef lo[64], hi[64];
      for (int k = 0; k < L; k++) {
        lo[k] = tcc_tir_i32c(t, (k & d) ? L + k - d : k);
        hi[k] = tcc_tir_i32c(t, (k & d) ? L + k : k + d);
      }
      LLVMValueRef a = v[i], b = v[i + d];
      v[i] = LLVMBuildShuffleVector(t->b, a, b, LLVMConstVector(lo, (unsigned)L), "");
      v[i + d] = LLVMBuildShuffleVector(t->b, a, b, LLVMConstVector(hi, (unsigned)L), "");
    }
}

/* One tile at s0 of the matrices at x and y (outer index applied): count = the valid S positions (full:
 * count == lanes, no masks). Rows of S-major memory are `lanes` apart, rows of B-major memory S apart. */
static void emit_tile(gen_t *g, LLVMValueRef x, LLVMValueRef y, LLVMValueRef S, LLVMValueRef s0, LLVMValueRef count,
                      bool full) {
  tcc_tir_t *t = &g->t;
  int L = t->lanes;
  LLVMValueRef v[64], lanes_mask = full ? NULL : tcc_tir_lane_mask(t, count);
  bool to = g->p->to_blocks;
  for (int k = 0; k < L; k++) {
    LLVMValueRef ptr, mask = lanes_mask;
    if (to) { /* row k of B: x[k * S + s0 ...] */
      ptr = tcc_tir_gep_f32(t, x, LLVMBuildAdd(t->b, LLVMBuildMul(t->b, tcc_tir_i64c(t, k), S, ""), s0, ""));
    } else { /* row s0 + k of S: x[(s0 + k) * L ...], present when k < count */
      ptr = tcc_tir_gep_f32(t, x,
                            LLVMBuildMul(t->b, LLVMBuildAdd(t->b, s0, tcc_tir_i64c(t, k), ""), tcc_tir_i64c(t, L), ""));
      if (!full) mask = tcc_tir_splat(t, LLVMBuildICmp(t->b, LLVMIntSLT, tcc_tir_i64c(t, k), count, ""));
    }
    v[k] = mask ? tcc_tir_masked_load(t, ptr, mask, NULL) : tcc_tir_load_aligned(t, t->vf, ptr, 4);
  }
  transpose_in_registers(g, v);
  for (int k = 0; k < L; k++) {
    LLVMValueRef ptr, mask = lanes_mask;
    if (to) {
      ptr = tcc_tir_gep_f32(t, y,
                            LLVMBuildMul(t->b, LLVMBuildAdd(t->b, s0, tcc_tir_i64c(t, k), ""), tcc_tir_i64c(t, L), ""));
      if (!full) mask = tcc_tir_splat(t, LLVMBuildICmp(t->b, LLVMIntSLT, tcc_tir_i64c(t, k), count, ""));
    } else {
      ptr = tcc_tir_gep_f32(t, y, LLVMBuildAdd(t->b, LLVMBuildMul(t->b, tcc_tir_i64c(t, k), S, ""), s0, ""));
    }
    if (mask) tcc_tir_masked_store(t, v[k], ptr, mask);
    else tcc_tir_store_aligned(t, v[k], ptr, 4);
  }
}

static LLVMValueRef emit_body(tcc_tir_t *t, void *ctx, const char *name) {
  gen_t *g = ctx;
  int L = t->lanes;
  LLVMTypeRef params[3] = {t->ptr, t->i64, t->i64};
  LLVMValueRef fn = tcc_tir_function(t, name, t->i32, params, 3, true);
  tcc_tir_begin(t, fn);
  LLVMValueRef args = LLVMGetParam(fn, 0), begin = LLVMGetParam(fn, 1), end = LLVMGetParam(fn, 2);
  LLVMValueRef X = LLVMBuildLoad2(t->b, t->ptr, slot(g, args, S_X), "");
  LLVMValueRef Y = LLVMBuildLoad2(t->b, t->ptr, slot(g, args, S_Y), "");
  LLVMValueRef S = LLVMBuildLoad2(t->b, t->i64, slot(g, args, S_S), "S");
  LLVMValueRef tiles = LLVMBuildLoad2(t->b, t->i64, slot(g, args, S_TILES), "tiles");
  LLVMValueRef tasks = LLVMBuildLoad2(t->b, t->i64, slot(g, args, S_TASKS), "tasks");
  tcc_tir_loop_t lt, li;
  LLVMValueRef task = tcc_tir_loop_begin(t, &lt, begin, end, tcc_tir_i64c(t, 1), "task");
  LLVMValueRef o = LLVMBuildSDiv(t->b, task, tasks, "o");
  LLVMValueRef first = LLVMBuildMul(t->b, LLVMBuildSRem(t->b, task, tasks, ""), tcc_tir_i64c(t, TILES_PER_TASK), "");
  LLVMValueRef last = tcc_tir_smin(t, LLVMBuildAdd(t->b, first, tcc_tir_i64c(t, TILES_PER_TASK), ""), tiles);
  LLVMValueRef base = LLVMBuildMul(t->b, o, LLVMBuildMul(t->b, S, tcc_tir_i64c(t, L), ""), "");
  LLVMValueRef x = tcc_tir_gep_f32(t, X, base), y = tcc_tir_gep_f32(t, Y, base);
  LLVMValueRef tile = tcc_tir_loop_begin(t, &li, first, last, tcc_tir_i64c(t, 1), "tile");
  LLVMValueRef s0 = LLVMBuildMul(t->b, tile, tcc_tir_i64c(t, L), "s0");
  LLVMValueRef count = tcc_tir_smin(t, LLVMBuildSub(t->b, S, s0, ""), tcc_tir_i64c(t, L));
  LLVMBasicBlockRef full = tcc_tir_block(t, "full"), part = tcc_tir_block(t, "part"), next = tcc_tir_block(t, "next");
  LLVMBuildCondBr(t->b, LLVMBuildICmp(t->b, LLVMIntEQ, count, tcc_tir_i64c(t, L), ""), full, part);
  LLVMPositionBuilderAtEnd(t->b, full);
  emit_tile(g, x, y, S, s0, count, true);
  LLVMBuildBr(t->b, next);
  LLVMPositionBuilderAtEnd(t->b, part);
  emit_tile(g, x, y, S, s0, count, false);
  LLVMBuildBr(t->b, next);
  LLVMPositionBuilderAtEnd(t->b, next);
  tcc_tir_loop_end(t, &li);
  tcc_tir_loop_end(t, &lt);
  LLVMBuildRet(t->b, tcc_tir_i32c(t, 0));
  return fn;
}

static tcc_status_t emit_packed(tcc_tir_t *t, void *gen, const char *name, LLVMValueRef body, LLVMValueRef *out) {
  gen_t *g = gen;
  const blocks_t *p = g->p;
  LLVMValueRef pv, ctx, syms;
  *out = tcc_tir_begin_packed(t, name, &pv, &ctx, &syms);
  LLVMValueRef args = tcc_tir_alloca(t, LLVMArrayType(t->i64, S_COUNT), "args");
  LLVMBuildStore(t->b, tcc_tir_param(t, pv, 0), slot(g, args, S_X));
  LLVMBuildStore(t->b, tcc_tir_param(t, pv, 1), slot(g, args, S_Y));
  int r = p->x->type.rank, s_first = p->to_blocks ? p->axis + 1 : p->axis, s_end = p->to_blocks ? r : r - 1;
  LLVMValueRef outer = tcc_tir_i64c(t, 1), S = tcc_tir_i64c(t, 1);
  for (int d = 0; d < r; d++) {
    if (d >= p->axis && (d < s_first || d >= s_end)) continue; /* B */
    LLVMValueRef size;
    TCC_RETURN_IF_ERROR(tcc_llvm_emit_dim(t->e, t->b, syms, p->x->type.dims[d], &size));
    if (d < p->axis) outer = LLVMBuildMul(t->b, outer, size, "");
    else S = LLVMBuildMul(t->b, S, size, "");
  }
  LLVMValueRef tiles =
      LLVMBuildSDiv(t->b, LLVMBuildAdd(t->b, S, tcc_tir_i64c(t, t->lanes - 1), ""), tcc_tir_i64c(t, t->lanes), "");
  LLVMValueRef per_outer = LLVMBuildSDiv(t->b, LLVMBuildAdd(t->b, tiles, tcc_tir_i64c(t, TILES_PER_TASK - 1), ""),
                                         tcc_tir_i64c(t, TILES_PER_TASK), "");
  LLVMBuildStore(t->b, S, slot(g, args, S_S));
  LLVMBuildStore(t->b, tiles, slot(g, args, S_TILES));
  LLVMBuildStore(t->b, per_outer, slot(g, args, S_TASKS));
  tcc_tir_dispatch(t, ctx, body, args, LLVMBuildMul(t->b, outer, per_outer, "tasks"));
  return NULL;
}

tcc_status_t tcc_cpu_blocks_emit(tcc_llvm_emitter_t *e, const tcc_node_t *node, const char *target,
                                 const char **symbol, bool *applied) {
  *symbol = NULL;
  *applied = false;
  gen_t g;
  TCC_RETURN_IF_ERROR(tcc_tir_init(&g.t, e, target));
  blocks_t p;
  if (!recognize(node, g.t.lanes, &p)) {
    tcc_tir_dispose(&g.t);
    return NULL;
  }
  g.p = &p;
  tcc_status_t st = tcc_tir_emit_kernel(&g.t, node->name, "blocks", 2, emit_body, emit_packed, &g, symbol);
  tcc_tir_dispose(&g.t);
  *applied = st == NULL;
  return st;
}
