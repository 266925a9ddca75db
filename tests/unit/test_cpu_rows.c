/* The CPU row template (codegen/cpu_rows.h) against the reference evaluator: Softmax, LogSoftmax,
 * LayerNormalization (with and without bias, over one or two trailing axes) and RMSNormalization on rows
 * shorter than a vector, of exact vector multiples, with tails, long rows split into several tasks, and
 * symbolic dims; random inputs in [-4, 4); JIT-compiled for x86-64-v4 and x86-64-v3 (what this host runs),
 * run on a real 2-thread pool and on a serial context, compared with a relative tolerance. Also the cases
 * it declines. */
#include <math.h>
#include <stdlib.h>

#include "codegen/cpu_rows.h"
#include "codegen/target.h"
#include "tcc/runtime.h"
#include "tests/graph_builder.h"
#include "tests/jit.h"
#include "tests/kernel_ctx.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float next_float(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (float)((double)(rng >> 11) / (double)(1ull << 53) * 8.0 - 4.0);
}

static const struct {
  const char *name;
  int64_t value;
} SYMBOLS[] = {{"batch", 3}, {"seq", 37}};

static bool lookup(void *ctx, const char *symbol, int64_t *value) {
  (void)ctx;
  for (size_t i = 0; i < sizeof SYMBOLS / sizeof SYMBOLS[0]; i++)
    if (strcmp(SYMBOLS[i].name, symbol) == 0) return *value = SYMBOLS[i].value, true;
  return false;
}

static tcc_rt_pool_t *pool;

/* The host's targets among x86-64-v4 and x86-64-v3 (aarch64 hosts: native). */
static int host_targets(const char **out) {
  int n = 0;
  const char *cls = tcc_cpu_target_class("native");
  if (cls && strcmp(cls, "x86-64-v4") == 0) out[n++] = "x86-64-v4";
  if (cls && (strcmp(cls, "x86-64-v4") == 0 || strcmp(cls, "x86-64-v3") == 0)) out[n++] = "x86-64-v3";
  if (n == 0) out[n++] = "native";
  return n;
}

/* Runs node n of graph g (its inputs are g's inputs, random) through the evaluator and the template. */
static void check(tcc_module_t *m, tcc_node_t *n, const char *label) {
  tcc_graph_t *g = m->graph;
  CHECK(tcc_graph_add_output(g, n->outputs[0]));
  CHECK_OK(tcc_graph_infer(g));
  tcc_module_t *results = new_module();
  tcc_tensor_t *ins[4] = {0};
  for (size_t i = 0; i < g->num_inputs; i++) {
    const tcc_value_t *v = g->inputs[i];
    int64_t dims[8];
    for (int d = 0; d < v->type.rank; d++) CHECK(tcc_dim_eval(v->type.dims[d], lookup, NULL, &dims[d]));
    ins[i] = tcc_tensor_create(results, TCC_DTYPE_F32, v->type.rank, dims);
    for (int64_t e = 0; e < ins[i]->numel; e++) ((float *)ins[i]->data)[e] = next_float();
  }
  tcc_tensor_t *ref = NULL;
  CHECK_OK(tcc_graph_eval(g, (const tcc_tensor_t *const *)ins, results, &ref));
  void *params[5];
  int np = 0;
  for (int i = 0; i < n->num_inputs; i++)
    if (n->inputs[i])
      for (size_t j = 0; j < g->num_inputs; j++)
        if (g->inputs[j] == n->inputs[i]) params[np++] = (void *)ins[j]->data;
  CHECK(np == (int)g->num_inputs);
  float *got = malloc((size_t)ref->numel * sizeof(float) + 4);
  params[np++] = got;

  const char *targets[2];
  int nt = host_targets(targets);
  for (int ti = 0; ti < nt; ti++) {
    tcc_test_jit_t j;
    CHECK_OK(tcc_test_jit_begin(&j, "rows", NULL));
    const char *sym = NULL;
    bool applied = false;
    CHECK_OK(tcc_cpu_rows_emit(j.emitter, n, targets[ti], &sym, &applied));
    CHECK(applied && sym);
    char name[256];
    snprintf(name, sizeof name, "%s", sym ? sym : "");
    int64_t symvals[8] = {0};
    for (int s = 0; s < tcc_llvm_emitter_num_symbols(j.emitter) && s < 8; s++)
      CHECK(lookup(NULL, tcc_llvm_emitter_symbol(j.emitter, s), &symvals[s]));
    tcc_module_kernel_fn_t fn = NULL;
    if (applied && tcc_test_jit_ok(tcc_test_jit_finish(&j, "native"), "jit"))
      CHECK_OK(tcc_test_jit_lookup(&j, name, &fn));
    for (int mode = 0; fn && mode < 2; mode++) {
      tcc_module_kernel_ctx_t ctx = mode == 0 ? tcc_test_pool_ctx(pool, 2, symvals) : tcc_test_kernel_ctx(symvals);
      for (int64_t e = 0; e < ref->numel; e++) got[e] = NAN;
      CHECK(fn(params, &ctx) == 0);
      const float *want = ref->data;
      int64_t bad = 0, first = -1;
      for (int64_t e = 0; e < ref->numel; e++)
        if (!(fabs((double)got[e] - want[e]) <= 1e-5 + 1e-5 * fabs(want[e]))) bad++, first = first < 0 ? e : first;
      if (bad)
        fprintf(stderr, "%s on %s (%s): %lld of %lld differ, first at %lld: got %g want %g\n", label, targets[ti],
                mode == 0 ? "pool" : "serial", (long long)bad, (long long)ref->numel, (long long)first, got[first],
                want[first]);
      CHECK(bad == 0);
    }
    tcc_test_jit_free(&j);
  }
  free(got);
  tcc_module_destroy(results);
}

static void softmax_case(tcc_op_t op, const char *shape) {
  tcc_module_t *m = new_module();
  tcc_node_t *n = node(m->graph, op, 1, 1, input(m->graph, TCC_DTYPE_F32, shape));
  attr_int(n, "axis", -1);
  char label[96];
  snprintf(label, sizeof label, "%s [%s]", tcc_op_name(op), shape);
  check(m, n, label);
  tcc_module_destroy(m);
}

static void norm_case(tcc_op_t op, const char *shape, const char *scale_shape, bool bias, int64_t axis) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_value_t *x = input(g, TCC_DTYPE_F32, shape), *scale = input(g, TCC_DTYPE_F32, scale_shape);
  tcc_node_t *n =
      bias ? node(g, op, 1, 3, x, scale, input(g, TCC_DTYPE_F32, scale_shape)) : node(g, op, 1, 2, x, scale);
  attr_int(n, "axis", axis);
  attr_float(n, "epsilon", 1e-3);
  char label[96];
  snprintf(label, sizeof label, "%s [%s] axis %lld", tcc_op_name(op), shape, (long long)axis);
  check(m, n, label);
  tcc_module_destroy(m);
}

TEST(softmax) {
  static const char *const shapes[] = {"1",       "5, 3",    "4, 16", "2, 6, 96", "batch, seq, seq",
                                       "3, 1000", "9000, 7", "2, 0"};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    softmax_case(TCC_OP_SOFTMAX, shapes[i]);
    softmax_case(TCC_OP_LOG_SOFTMAX, shapes[i]);
  }
}

TEST(normalizations) {
  norm_case(TCC_OP_LAYER_NORMALIZATION, "batch, seq, 256", "256", true, -1);
  norm_case(TCC_OP_LAYER_NORMALIZATION, "7, 13", "13", false, 1);
  norm_case(TCC_OP_LAYER_NORMALIZATION, "3, 4, 20", "4, 20", true, 1);
  norm_case(TCC_OP_LAYER_NORMALIZATION, "5, 3", "1, 3", true, -1);
  norm_case(TCC_OP_RMS_NORMALIZATION, "batch, 70", "70", false, -1);
}

TEST(declined) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *cases[4];
  cases[0] = node(g, TCC_OP_SOFTMAX, 1, 1, input(g, TCC_DTYPE_F32, "4, 5")); /* not the last axis */
  attr_int(cases[0], "axis", 0);
  cases[1] = node(g, TCC_OP_SOFTMAX, 1, 1, input(g, TCC_DTYPE_F64, "4, 5")); /* f64 */
  cases[2] = node(g, TCC_OP_LAYER_NORMALIZATION, 1, 2, input(g, TCC_DTYPE_F32, "4, 6"),
                  input(g, TCC_DTYPE_F32, "4, 6")); /* scale broadcast over the rows */
  cases[3] = node(g, TCC_OP_LAYER_NORMALIZATION, 3, 2, input(g, TCC_DTYPE_F32, "4, 6"),
                  input(g, TCC_DTYPE_F32, "6")); /* Mean and InvStdDev outputs */
  CHECK_OK(tcc_graph_infer(g));
  tcc_llvm_emitter_t *e = NULL;
  CHECK_OK(tcc_llvm_emitter_create("x", NULL, NULL, &e));
  for (int i = 0; i < 4; i++) {
    const char *sym = "unset";
    bool applied = true;
    CHECK_OK(tcc_cpu_rows_emit(e, cases[i], "x86-64-v4", &sym, &applied));
    CHECK(!applied && sym == NULL);
  }
  CHECK(LLVMGetFirstFunction(tcc_llvm_emitter_module(e)) == NULL);
  tcc_llvm_emitter_destroy(e);
  tcc_module_destroy(m);
}

TEST(start) { CHECK_OK(tcc_rt_pool_create(2, NULL, &pool)); }
TEST(stop) { tcc_rt_pool_destroy(pool); pool = NULL; }

RUN_TESTS(T(start), T(softmax), T(normalizations), T(declined), T(stop))
