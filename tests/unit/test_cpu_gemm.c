/* The CPU GEMM template (codegen/cpu_gemm.h) against the reference evaluator: MatMul and fused
 * "matmul+..." nodes of many shapes (1x1x1, primes, M = 1, K = 1, larger ones, batched with numpy
 * broadcasting, 1-D operands, symbolic M) and epilogues, JIT-compiled for this host with the default knobs
 * of x86-64-v4 and x86-64-v3 and with hand-picked knobs that force every path (packed and unpacked
 * operands, several K slices, blocks and micro-tile remainders), run on a real 2-thread pool and on a
 * serial context, compared with a relative tolerance. Also the search-space scripts (autotune/space.h):
 * the embedded cpu_gemm space, and script errors reported at file:line. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "autotune/space.h"
#include "codegen/cpu_gemm.h"
#include "codegen/target.h"
#include "passes/pipeline.h"
#include "tcc/runtime.h"
#include "tests/graph_builder.h"
#include "tests/jit.h"
#include "tests/kernel_ctx.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float next_float(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (float)((double)(rng >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
}

/* Run-time values of the symbols the cases use. */
static const struct {
  const char *name;
  int64_t value;
} SYMBOLS[] = {{"batch", 3}, {"seq", 5}, {"n", 37}};

static bool lookup(void *ctx, const char *symbol, int64_t *value) {
  (void)ctx;
  for (size_t i = 0; i < sizeof SYMBOLS / sizeof SYMBOLS[0]; i++)
    if (strcmp(SYMBOLS[i].name, symbol) == 0) return *value = SYMBOLS[i].value, true;
  return false;
}

static tcc_rt_pool_t *pool;

/* ---- a model: MatMul(A, B) then epilogue nodes ---- */

typedef struct {
  tcc_module_t *m;
  tcc_graph_t *g;
  tcc_value_t *cur;
  int64_t k; /* for the tolerance */
} model_t;

static void model_begin(model_t *t, const char *a_shape, const char *b_shape, int64_t k) {
  t->m = new_module();
  t->g = t->m->graph;
  t->k = k;
  tcc_value_t *a = input(t->g, TCC_DTYPE_F32, a_shape), *b = input(t->g, TCC_DTYPE_F32, b_shape);
  tcc_node_t *mm = node(t->g, TCC_OP_MATMUL, 1, 2, a, b);
  mm->name = "mm";
  t->cur = mm->outputs[0];
  CHECK_OK(tcc_graph_infer(t->g));
}

/* cur = op(cur, operand) (or op(operand, cur) when left); operand NULL for unary ops. */
static tcc_node_t *model_op(model_t *t, tcc_op_t op, tcc_value_t *operand, bool left) {
  tcc_node_t *n = operand ? (left ? node(t->g, op, 1, 2, operand, t->cur) : node(t->g, op, 1, 2, t->cur, operand))
                          : node(t->g, op, 1, 1, t->cur);
  t->cur = n->outputs[0];
  return n;
}

/* Finishes the graph (fused by the fusion pass when fuse) and returns the kernel node. */
static const tcc_node_t *model_finish(model_t *t, bool fuse) {
  CHECK(tcc_graph_add_output(t->g, t->cur));
  CHECK_OK(tcc_graph_infer(t->g));
  if (fuse) {
    bool changed = false;
    CHECK_OK(tcc_pipeline_run_pass(t->g, "fusion", NULL, &changed));
    CHECK(changed);
  }
  for (size_t i = 0; i < t->g->num_nodes; i++)
    if (t->g->nodes[i]->op == TCC_OP_MATMUL || t->g->nodes[i]->op == TCC_OP_FUSED) return t->g->nodes[i];
  CHECK(false);
  return NULL;
}

/* ---- running a case ---- */

enum { MAX_VARIANTS = 8 };

typedef struct {
  const char *target;
  bool has_knobs;
  tcc_cpu_gemm_knobs_t knobs;
} variant_t;

/* The default knobs of x86-64-v4 and x86-64-v3, and one of four hand-picked sets (rotating from case to
 * case) that force every path: packed and unpacked operands, several K slices, several blocks, micro-tile
 * remainders, K unrolling with a remainder loop. A node whose B is a 2-D constant also gets the knobs of
 * `tcc compile` (B packed at compile time) and a hand-picked set with B pre-packed. */
static int variants(const tcc_node_t *kn, variant_t *v) {
  static const variant_t explicit_sets[4] = {
      {"x86-64-v4", true, {.mr = 5, .nv = 2, .kc = 7, .mc = 10, .nc = 32, .pack_a = 1, .pack_b = 1, .ku = 3}},
      {"x86-64-v4", true, {.mr = 3, .nv = 1, .kc = 16, .mc = 6, .nc = 16, .pack_a = 0, .pack_b = 0, .ku = 2}},
      {"x86-64-v3", true, {.mr = 4, .nv = 3, .kc = 5, .mc = 8, .nc = 48, .pack_a = 1, .pack_b = 0, .ku = 4}},
      {"x86-64-v3", true, {.mr = 2, .nv = 2, .kc = 9, .mc = 4, .nc = 16, .pack_a = 0, .pack_b = 1, .ku = 1}},
  };
  static int rotation;
  int n = 0;
  v[n++] = (variant_t){"x86-64-v4", false, {0}};
  v[n++] = (variant_t){"x86-64-v3", false, {0}};
  v[n++] = explicit_sets[rotation % 4];
  rotation++;
  /* a constant B: also as `tcc compile` takes it (packed at compile time), and packed with small blocks */
  for (int i = 0; i < 2; i++) {
    bool handled = false;
    tcc_cpu_gemm_knobs_t k;
    CHECK_OK(tcc_cpu_gemm_node_knobs(kn, v[i].target, &k, &handled));
    if (handled && k.pack_b == 2) v[n++] = (variant_t){v[i].target, true, k};
  }
  if (n > 3)
    v[n++] = (variant_t){
        "x86-64-v4", true, {.mr = 5, .nv = 2, .kc = 7, .mc = 10, .nc = 32, .pack_a = 1, .pack_b = 2, .ku = 3}};
  return n;
}

/* Evaluates the model with the reference evaluator and with the template (every variant, pooled and
 * serial); returns whether all agree. */
static bool check_model(model_t *t, const tcc_node_t *kn, const char *label) {
  tcc_graph_t *g = t->g;
  tcc_module_t *results = new_module();
  tcc_tensor_t *ins[8] = {0};
  void *data_of[8] = {0};
  for (size_t i = 0; i < g->num_inputs; i++) {
    const tcc_value_t *v = g->inputs[i];
    int64_t dims[8];
    for (int d = 0; d < v->type.rank; d++) CHECK(tcc_dim_eval(v->type.dims[d], lookup, NULL, &dims[d]));
    ins[i] = tcc_tensor_create(results, TCC_DTYPE_F32, v->type.rank, dims);
    float *f = (float *)ins[i]->data;
    for (int64_t e = 0; e < ins[i]->numel; e++) f[e] = next_float();
    data_of[i] = f;
  }
  tcc_tensor_t *ref = NULL;
  CHECK_OK(tcc_graph_eval(g, (const tcc_tensor_t *const *)ins, results, &ref));
  if (!ref) {
    tcc_module_destroy(results);
    return false;
  }
  /* the kernel's parameters: the node's present inputs, then its output */
  void *params[16];
  int np = 0, param_of_input[8] = {0};
  for (int i = 0; i < kn->num_inputs; i++) {
    if (!kn->inputs[i]) continue;
    void *p = NULL;
    for (size_t j = 0; j < g->num_inputs; j++)
      if (g->inputs[j] == kn->inputs[i]) p = data_of[j];
    if (!p && kn->inputs[i]->constant) p = (void *)kn->inputs[i]->constant->data;
    CHECK(p != NULL);
    param_of_input[i] = np;
    params[np++] = p;
  }
  float *got = malloc((size_t)(ref->numel ? ref->numel : 1) * sizeof(float));
  params[np++] = got;

  variant_t vs[MAX_VARIANTS];
  int nv = variants(kn, vs);
  tcc_test_jit_t j;
  CHECK_OK(tcc_test_jit_begin(&j, "gemm", NULL));
  char syms[MAX_VARIANTS][256];
  bool ok = true;
  for (int i = 0; i < nv; i++) {
    const char *sym = NULL;
    bool applied = false;
    CHECK_OK(tcc_cpu_gemm_emit(j.emitter, kn, vs[i].target, vs[i].has_knobs ? &vs[i].knobs : NULL, &sym, &applied));
    CHECK(applied && sym);
    snprintf(syms[i], sizeof syms[i], "%s", sym ? sym : "");
    if (!applied) ok = false;
  }
  int64_t symvals[8] = {0};
  int nsyms = tcc_llvm_emitter_num_symbols(j.emitter);
  for (int s = 0; s < nsyms && s < 8; s++) CHECK(lookup(NULL, tcc_llvm_emitter_symbol(j.emitter, s), &symvals[s]));
  if (ok && tcc_test_jit_ok(tcc_test_jit_finish(&j, "native"), "jit")) {
    for (int i = 0; i < nv && ok; i++) {
      tcc_module_kernel_fn_t fn = NULL;
      CHECK_OK(tcc_test_jit_lookup(&j, syms[i], &fn));
      if (!fn) {
        ok = false;
        break;
      }
      void *vparams[16], *aligned = NULL;
      memcpy(vparams, params, sizeof params);
      if (vs[i].knobs.pack_b == 2) { /* as in a module's weights: 64-byte aligned */
        int input = -1;
        tcc_tensor_t *packed = NULL;
        CHECK_OK(tcc_cpu_gemm_pack_b(results, kn, vs[i].target, &vs[i].knobs, &input, &packed));
        CHECK(input >= 0 && input < kn->num_inputs && packed);
        aligned = aligned_alloc(64, (packed->nbytes + 63) & ~(size_t)63);
        memcpy(aligned, packed->data, packed->nbytes);
        vparams[param_of_input[input]] = aligned;
      }
      for (int mode = 0; mode < 2 && ok; mode++) {
        tcc_module_kernel_ctx_t ctx = mode == 0 ? tcc_test_pool_ctx(pool, 2, symvals) : tcc_test_kernel_ctx(symvals);
        for (int64_t e = 0; e < ref->numel; e++) got[e] = NAN;
        int32_t rc = fn(vparams, &ctx);
        CHECK(rc == 0);
        const float *want = (const float *)ref->data;
        int64_t bad = 0, first_bad = -1;
        for (int64_t e = 0; e < ref->numel; e++) {
          double tol = 2e-6 * (double)t->k + 1e-4 * fabs(want[e]) + 1e-5;
          if (!(fabs((double)got[e] - (double)want[e]) <= tol)) {
            if (first_bad < 0) first_bad = e;
            bad++;
          }
        }
        if (bad || rc) {
          const tcc_cpu_gemm_knobs_t *k = &vs[i].knobs;
          fprintf(stderr, "%s: %s %s knobs(mr=%d nv=%d kc=%d mc=%d nc=%d pa=%d pb=%d ku=%d) %s: %lld of %lld differ",
                  label, vs[i].target, vs[i].has_knobs ? "explicit" : "default", k->mr, k->nv, k->kc, k->mc, k->nc,
                  k->pack_a, k->pack_b, k->ku, mode == 0 ? "pool" : "serial", (long long)bad, (long long)ref->numel);
          if (first_bad >= 0)
            fprintf(stderr, ", first at %lld: got %g want %g", (long long)first_bad, got[first_bad], want[first_bad]);
          fprintf(stderr, "\n");
          ok = false;
        }
      }
      free(aligned);
    }
  } else {
    ok = false;
  }
  CHECK(ok);
  tcc_test_jit_free(&j);
  free(got);
  tcc_module_destroy(results);
  return ok;
}

static void plain_case(const char *a, const char *b, int64_t k) {
  model_t t;
  model_begin(&t, a, b, k);
  const tcc_node_t *kn = model_finish(&t, false);
  char label[128];
  snprintf(label, sizeof label, "matmul [%s] x [%s]", a, b);
  if (kn) check_model(&t, kn, label);
  tcc_module_destroy(t.m);
}

/* MatMul(A, B) with B a constant [k, n] of random values. */
static void constant_b_case(const char *a, int64_t k, int64_t n, tcc_op_t epilogue) {
  model_t t = {.m = new_module(), .k = k};
  t.g = t.m->graph;
  int64_t dims[2] = {k, n};
  tcc_tensor_t *b = tcc_tensor_create(t.m, TCC_DTYPE_F32, 2, dims);
  for (int64_t e = 0; e < b->numel; e++) ((float *)b->data)[e] = next_float();
  tcc_node_t *mm = node(t.g, TCC_OP_MATMUL, 1, 2, input(t.g, TCC_DTYPE_F32, a), tcc_graph_add_constant(t.g, NULL, b));
  mm->name = "mm";
  t.cur = mm->outputs[0];
  CHECK_OK(tcc_graph_infer(t.g));
  if (epilogue != TCC_OP_MATMUL) model_op(&t, epilogue, NULL, false);
  const tcc_node_t *kn = model_finish(&t, epilogue != TCC_OP_MATMUL);
  char label[128];
  snprintf(label, sizeof label, "matmul [%s] x constant [%lld, %lld]", a, (long long)k, (long long)n);
  if (kn) check_model(&t, kn, label);
  tcc_module_destroy(t.m);
}

/* ---- tests ---- */

TEST(constant_b_packed_at_compile_time) {
  constant_b_case("batch, seq, 45", 45, 70, TCC_OP_MATMUL);
  constant_b_case("37, 300", 300, 129, TCC_OP_RELU);
  constant_b_case("1, 64", 64, 1000, TCC_OP_MATMUL);
  constant_b_case("n, 19", 19, 16, TCC_OP_TANH);
}

TEST(shapes_2d) {
  static const struct {
    const char *a, *b;
    int64_t k;
  } cases[] = {
      {"1, 1", "1, 1", 1},       {"7, 5", "5, 3", 5},         {"13, 11", "11, 17", 11},   {"1, 64", "64, 100", 64},
      {"31, 1", "1, 47", 1},     {"64, 64", "64, 64", 64},    {"97, 89", "89, 83", 89},   {"128, 256", "256, 200", 256},
      {"1, 512", "512, 1000", 512}, {"200, 300", "300, 1", 300}, {"2, 3", "3, 260", 3}, {"9, 0", "0, 21", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) plain_case(cases[i].a, cases[i].b, cases[i].k);
}

TEST(shapes_batched_and_vectors) {
  plain_case("2, 1, 5, 7", "3, 7, 4", 7);      /* both operands broadcast */
  plain_case("4, 9, 6", "6, 20", 6);           /* batched A, 2-D B */
  plain_case("6, 11", "2, 11, 19", 11);        /* 2-D A, batched B */
  plain_case("3, 17, 8", "3, 8, 33", 8);       /* equal batches */
  plain_case("23", "23, 41", 23);              /* 1-D A */
  plain_case("3, 10, 23", "23", 23);           /* 1-D B */
  plain_case("19", "19", 19);                  /* dot product */
}

TEST(shapes_symbolic) {
  plain_case("n, 17", "17, 40", 17);           /* symbolic M */
  plain_case("batch, seq, 32", "32, 48", 32);  /* batch x seq rows */
  plain_case("batch, 7, 9", "batch, 9, 5", 9); /* symbolic batch */
  plain_case("5, n", "n, 6", 37);              /* symbolic K */
}

TEST(epilogues) {
  /* bias + residual add + gelu (erf), as in a transformer block; fused by the fusion pass */
  {
    model_t t;
    model_begin(&t, "batch, seq, 24", "24, 40", 24);
    model_op(&t, TCC_OP_ADD, input(t.g, TCC_DTYPE_F32, "40"), false);
    model_op(&t, TCC_OP_GELU, NULL, false);
    model_op(&t, TCC_OP_ADD, input(t.g, TCC_DTYPE_F32, "batch, seq, 40"), true);
    const tcc_node_t *kn = model_finish(&t, true);
    CHECK(kn && kn->op == TCC_OP_FUSED);
    if (kn) check_model(&t, kn, "matmul+bias+gelu+add");
    tcc_module_destroy(t.m);
  }
  /* constant bias + relu (an MLP layer) */
  {
    model_t t;
    model_begin(&t, "n, 30", "30, 21", 30);
    float bias[21];
    for (int i = 0; i < 21; i++) bias[i] = next_float();
    model_op(&t, TCC_OP_ADD, const_f32(t.g, 21, bias), false);
    model_op(&t, TCC_OP_RELU, NULL, false);
    const tcc_node_t *kn = model_finish(&t, true);
    CHECK(kn && kn->op == TCC_OP_FUSED);
    if (kn) check_model(&t, kn, "matmul+bias+relu");
    tcc_module_destroy(t.m);
  }
  /* every activation, after a bias */
  static const tcc_op_t acts[] = {TCC_OP_SIGMOID, TCC_OP_TANH, TCC_OP_LEAKY_RELU, TCC_OP_ELU, TCC_OP_SELU,
                                  TCC_OP_CELU, TCC_OP_HARD_SIGMOID, TCC_OP_HARD_SWISH, TCC_OP_GELU};
  for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
    model_t t;
    model_begin(&t, "13, 9", "9, 35", 9);
    model_op(&t, TCC_OP_ADD, input(t.g, TCC_DTYPE_F32, "35"), false);
    tcc_node_t *act = model_op(&t, acts[i], NULL, false);
    if (acts[i] == TCC_OP_GELU) attr_string(act, "approximate", "tanh");
    const tcc_node_t *kn = model_finish(&t, true);
    CHECK(kn && kn->op == TCC_OP_FUSED);
    char label[64];
    snprintf(label, sizeof label, "matmul+bias+%s", tcc_op_name(acts[i]));
    if (kn) check_model(&t, kn, label);
    tcc_module_destroy(t.m);
  }
  /* clip with constant bounds, per-row broadcast residual, scale */
  {
    model_t t;
    model_begin(&t, "2, 11, 6", "6, 18", 6);
    float scale[18];
    for (int i = 0; i < 18; i++) scale[i] = next_float();
    model_op(&t, TCC_OP_ADD, input(t.g, TCC_DTYPE_F32, "11, 1"), false);
    model_op(&t, TCC_OP_MUL, const_f32(t.g, 18, scale), false);
    float lo = -0.25f, hi = 0.5f;
    tcc_node_t *clip = node(t.g, TCC_OP_CLIP, 1, 3, t.cur, const_f32(t.g, 1, &lo), const_f32(t.g, 1, &hi));
    t.cur = clip->outputs[0];
    const tcc_node_t *kn = model_finish(&t, true);
    CHECK(kn && kn->op == TCC_OP_FUSED);
    if (kn) check_model(&t, kn, "matmul+add+scale+clip");
    tcc_module_destroy(t.m);
  }
}

TEST(not_applied) {
  /* f64 is not handled: nothing emitted */
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *mm = node(g, TCC_OP_MATMUL, 1, 2, input(g, TCC_DTYPE_F64, "4, 5"), input(g, TCC_DTYPE_F64, "5, 6"));
  CHECK_OK(tcc_graph_infer(g));
  tcc_llvm_emitter_t *e = NULL;
  CHECK_OK(tcc_llvm_emitter_create("x", NULL, NULL, &e));
  const char *sym = "unset";
  bool applied = true;
  CHECK_OK(tcc_cpu_gemm_emit(e, mm, "x86-64-v4", NULL, &sym, &applied));
  CHECK(!applied && sym == NULL);
  CHECK(LLVMGetFirstFunction(tcc_llvm_emitter_module(e)) == NULL);
  /* a relu node is not a GEMM */
  tcc_node_t *relu = node(g, TCC_OP_RELU, 1, 1, mm->outputs[0]);
  CHECK_OK(tcc_graph_infer(g));
  CHECK_OK(tcc_cpu_gemm_emit(e, relu, "x86-64-v4", NULL, &sym, &applied));
  CHECK(!applied);
  /* invalid knobs are an error */
  tcc_node_t *mm32 = node(g, TCC_OP_MATMUL, 1, 2, input(g, TCC_DTYPE_F32, "4, 5"), input(g, TCC_DTYPE_F32, "5, 6"));
  CHECK_OK(tcc_graph_infer(g));
  tcc_cpu_gemm_knobs_t bad = {.mr = 4, .nv = 1, .kc = 8, .mc = 6, .nc = 16, .ku = 1};
  tcc_status_t st = tcc_cpu_gemm_emit(e, mm32, "x86-64-v4", &bad, &sym, &applied);
  CHECK(st && tcc_status_code(st) == TCC_INVALID_ARGUMENT);
  tcc_status_free(st);
  tcc_llvm_emitter_destroy(e);
  tcc_module_destroy(m);
}

TEST(objects_for_every_target) {
  /* the template compiles for every CPU target (AArch64 cross-compiled) */
  int count = 0;
  const tcc_cpu_target_t *targets = tcc_cpu_targets(&count);
  for (int i = 0; i < count; i++) {
    model_t t;
    model_begin(&t, "batch, 33", "33, 70", 33);
    model_op(&t, TCC_OP_ADD, input(t.g, TCC_DTYPE_F32, "70"), false);
    model_op(&t, TCC_OP_TANH, NULL, false);
    const tcc_node_t *kn = model_finish(&t, true);
    tcc_llvm_emitter_t *e = NULL;
    CHECK_OK(tcc_llvm_emitter_create("x", NULL, NULL, &e));
    const char *sym = NULL;
    bool applied = false;
    CHECK_OK(tcc_cpu_gemm_emit(e, kn, targets[i].name, NULL, &sym, &applied));
    CHECK(applied);
    CHECK_OK(tcc_llvm_emitter_finish(e, targets[i].name, true));
    char path[64];
    snprintf(path, sizeof path, "/tmp/tcc_gemm_%d_%d.o", (int)getpid(), i);
    CHECK_OK(tcc_llvm_emitter_write(e, targets[i].name, TCC_EMIT_OBJ, path));
    remove(path);
    tcc_llvm_emitter_destroy(e);
    tcc_module_destroy(t.m);
  }
}

/* ---- search spaces ---- */

TEST(space_cpu_gemm_defaults) {
  static const char *const targets[] = {"x86-64-v4", "x86-64-v3", "aarch64", "native"};
  static const int64_t shapes[][3] = {{2048, 2048, 2048}, {128, 256, 1024}, {1, 1000, 512}, {-1, 256, 256}, {7, 5, 3}};
  for (size_t t = 0; t < 4; t++)
    for (size_t s = 0; s < 5; s++) {
      tcc_space_query_t q;
      CHECK_OK(tcc_space_query_init(&q, "matmul", targets[t]));
      CHECK_OK(tcc_space_query_set(&q, "m", shapes[s][0]));
      CHECK_OK(tcc_space_query_set(&q, "n", shapes[s][1]));
      CHECK_OK(tcc_space_query_set(&q, "k", shapes[s][2]));
      tcc_space_knobs_t k;
      CHECK_OK(tcc_space_defaults("cpu_gemm", &q, &k));
      bool valid = false;
      CHECK_OK(tcc_space_valid("cpu_gemm", &q, &k, &valid));
      CHECK(valid);
      int64_t mr = tcc_space_knob(&k, "mr", -1), nv = tcc_space_knob(&k, "nv", -1);
      CHECK(mr >= 1 && nv >= 1 && mr * nv + nv + 1 <= q.target.registers);
      tcc_cpu_gemm_knobs_t knobs = {0};
      CHECK_OK(tcc_cpu_gemm_knobs_from_space(&k, q.target.lanes, &knobs));
    }
  tcc_space_target_t caps;
  CHECK_OK(tcc_space_target_caps("x86-64-v4", &caps));
  CHECK(caps.lanes == 16 && caps.registers == 32);
  CHECK_OK(tcc_space_target_caps("x86-64-v3", &caps));
  CHECK(caps.lanes == 8 && caps.registers == 16);
  CHECK_OK(tcc_space_target_caps("aarch64", &caps));
  CHECK(caps.lanes == 4 && caps.registers == 32);
  tcc_status_t st = tcc_space_target_caps("z80", &caps);
  CHECK(st && tcc_status_code(st) == TCC_INVALID_ARGUMENT);
  tcc_status_free(st);
  tcc_space_query_t q;
  CHECK_OK(tcc_space_query_init(&q, "matmul", "x86-64-v4"));
  tcc_space_domains_t d;
  CHECK_OK(tcc_space_domains("cpu_gemm", &q, &d));
  CHECK(d.count == 8 && strcmp(d.names[0], "kc") == 0 && d.num_values[0] > 1);
  const char *path = NULL;
  CHECK(tcc_space_script("cpu_gemm", &path) != NULL);
  CHECK_STR(path, "autotune/spaces/cpu_gemm.lua");
  tcc_space_knobs_t k;
  st = tcc_space_defaults("no_such_space", &q, &k);
  CHECK(st && tcc_status_code(st) == TCC_NOT_FOUND);
  tcc_status_free(st);
}

static void expect_script_error(const char *source, const char *expected) {
  tcc_space_query_t q;
  CHECK_OK(tcc_space_query_init(&q, "matmul", "x86-64-v4"));
  CHECK_OK(tcc_space_query_set(&q, "m", 8));
  tcc_space_knobs_t k;
  tcc_status_t st = tcc_space_defaults_source("my.lua", source, &q, &k);
  CHECK(st && tcc_status_code(st) == TCC_INVALID_ARGUMENT);
  if (st && !strstr(tcc_status_message(st), expected)) {
    fprintf(stderr, "got '%s', want '%s'\n", tcc_status_message(st), expected);
    CHECK(false);
  }
  tcc_status_free(st);
}

TEST(space_script_errors) {
  expect_script_error("x = 1\nfunction defaults(q)\n  return {a = q.nope + 1}\nend\n",
                      "my.lua:3: attempt to perform arithmetic");
  expect_script_error("function defaults(q)\n  return {a = string.format('%d', nil)}\nend\n", "my.lua:2: bad argument");
  expect_script_error("function defaults(q\n", "my.lua:2:");
  expect_script_error("\nfunction defaults(q)\n  return {a = 1.5}\nend\n", "my.lua:2: defaults(): 'a' is a fraction");
  expect_script_error("function defaults(q)\n  while true do end\nend\n", "my.lua:2: instruction budget");
  expect_script_error("function defaults(q)\n  return dofile('/etc/passwd')\nend\n",
                      "my.lua:2: attempt to call a nil value (global 'dofile')");
  expect_script_error("function defaults(q)\n  return io.open('x')\nend\n",
                      "my.lua:2: attempt to index a nil value (global 'io')");
  expect_script_error("function defaults(q)\n  return 3\nend\n", "my.lua:1: defaults() returned number");
  expect_script_error("error('boom')\n", "my.lua:1: boom");
  expect_script_error("function knobs(q) return {} end\n", "my.lua: defines no function defaults");
  /* a good script, reading the query */
  tcc_space_query_t q;
  CHECK_OK(tcc_space_query_init(&q, "matmul", "x86-64-v3"));
  CHECK_OK(tcc_space_query_set(&q, "m", 8));
  tcc_space_knobs_t k;
  CHECK_OK(tcc_space_defaults_source("ok.lua",
                                     "function defaults(q) return {m2 = q.m * 2, lanes = q.target.lanes, "
                                     "big = math.max(q.m, 100), op = #q.op} end\n",
                                     &q, &k));
  CHECK(k.count == 4 && tcc_space_knob(&k, "m2", 0) == 16 && tcc_space_knob(&k, "lanes", 0) == 8 &&
        tcc_space_knob(&k, "big", 0) == 100 && tcc_space_knob(&k, "op", 0) == 6);
  CHECK_STR(k.names[0], "big"); /* sorted */
  bool valid = true;
  CHECK_OK(tcc_space_valid_source("ok.lua", "function defaults(q) return {} end\n"
                                            "function valid(q, k) return k.m2 < 10 end\n", &q, &k, &valid));
  CHECK(!valid);
}

static void setup_pool(void) {
  tcc_status_t st = tcc_rt_pool_create(2, NULL, &pool);
  if (st) {
    fprintf(stderr, "pool: %s\n", tcc_status_message(st));
    tcc_status_free(st);
  }
}

TEST(start) { setup_pool(); CHECK(pool != NULL); }
TEST(stop) { tcc_rt_pool_destroy(pool); pool = NULL; }

RUN_TESTS(T(start), T(space_cpu_gemm_defaults), T(space_script_errors), T(not_applied), T(shapes_2d),
          T(constant_b_packed_at_compile_time), T(shapes_batched_and_vectors), T(shapes_symbolic), T(epilogues),
          T(objects_for_every_target), T(stop))
