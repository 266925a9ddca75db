/* The CPU channel-block template (codegen/cpu_blocks.h) against the reference evaluator: the layout
 * conversions to and from NCHW<b>c (b = the target's f32 lanes) with and without an outer batch, S a
 * multiple of b, with a tail, below b and symbolic; JIT-compiled for the host's x86-64-v4 / x86-64-v3
 * targets, run on a 2-thread pool and serially, compared bit for bit. Also the transposes it declines. */
#include <stdlib.h>

#include "codegen/cpu_blocks.h"
#include "codegen/target.h"
#include "tcc/runtime.h"
#include "tests/graph_builder.h"
#include "tests/jit.h"
#include "tests/kernel_ctx.h"

static tcc_rt_pool_t *pool;
static const int64_t BATCH = 3; /* the symbol "batch" */

static bool lookup(void *ctx, const char *symbol, int64_t *value) {
  (void)ctx;
  if (strcmp(symbol, "batch") != 0) return false;
  *value = BATCH;
  return true;
}

/* Transpose(x of shape, perm) through the evaluator and the template for target (lanes b). */
static void check(const char *target, const char *shape, const int64_t *perm, int rank) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  tcc_node_t *n = node(g, TCC_OP_TRANSPOSE, 1, 1, input(g, TCC_DTYPE_F32, shape));
  attr_ints(n, "perm", rank, perm);
  CHECK(tcc_graph_add_output(g, n->outputs[0]));
  CHECK_OK(tcc_graph_infer(g));
  const tcc_value_t *v = g->inputs[0];
  int64_t dims[8];
  for (int d = 0; d < v->type.rank; d++) CHECK(tcc_dim_eval(v->type.dims[d], lookup, NULL, &dims[d]));
  tcc_tensor_t *x = tcc_tensor_create(m, TCC_DTYPE_F32, v->type.rank, dims), *ref = NULL;
  for (int64_t e = 0; e < x->numel; e++) ((float *)x->data)[e] = (float)e * 0.5f - 7.0f;
  CHECK_OK(tcc_graph_eval(g, (const tcc_tensor_t *const *)&x, m, &ref));
  float *got = malloc((size_t)ref->numel * sizeof(float) + 4);
  void *params[2] = {(void *)x->data, got};

  tcc_test_jit_t j;
  CHECK_OK(tcc_test_jit_begin(&j, "blocks", NULL));
  const char *sym = NULL;
  bool applied = false;
  CHECK_OK(tcc_cpu_blocks_emit(j.emitter, n, target, &sym, &applied));
  CHECK(applied && sym);
  char name[256];
  snprintf(name, sizeof name, "%s", sym ? sym : "");
  int64_t symvals[1] = {BATCH};
  tcc_module_kernel_fn_t fn = NULL;
  if (applied && tcc_test_jit_ok(tcc_test_jit_finish(&j, "native"), "jit"))
    CHECK_OK(tcc_test_jit_lookup(&j, name, &fn));
  for (int mode = 0; fn && mode < 2; mode++) {
    tcc_module_kernel_ctx_t ctx = mode == 0 ? tcc_test_pool_ctx(pool, 2, symvals) : tcc_test_kernel_ctx(symvals);
    memset(got, 0xff, (size_t)ref->numel * sizeof(float));
    CHECK(fn(params, &ctx) == 0);
    bool same = memcmp(got, ref->data, ref->nbytes) == 0;
    if (!same) fprintf(stderr, "transpose [%s] on %s (%s) differs\n", shape, target, mode ? "serial" : "pool");
    CHECK(same);
  }
  tcc_test_jit_free(&j);
  free(got);
  tcc_module_destroy(m);
}

TEST(conversions) {
  const char *cls = tcc_cpu_target_class("native");
  const char *targets[2] = {NULL, NULL};
  if (cls && strcmp(cls, "x86-64-v4") == 0) targets[0] = "x86-64-v4", targets[1] = "x86-64-v3";
  else if (cls && strcmp(cls, "x86-64-v3") == 0) targets[0] = "x86-64-v3";
  if (!targets[0]) {
    printf("skipped: the host is not x86-64-v3 or v4\n");
    return;
  }
  static const int64_t to_blocks[] = {0, 1, 3, 4, 2}, from_blocks[] = {0, 1, 4, 2, 3}, swap[] = {1, 0},
                       to_last[] = {0, 2, 3, 1};
  for (int t = 0; t < 2 && targets[t]; t++) {
    int b = strcmp(targets[t], "x86-64-v4") == 0 ? 16 : 8;
    char shape[96];
    const int s_sizes[][2] = {{4, 8}, {5, 7}, {1, 3}, {16, 16}};
    for (size_t i = 0; i < sizeof s_sizes / sizeof s_sizes[0]; i++) {
      snprintf(shape, sizeof shape, "batch, 2, %d, %d, %d", b, s_sizes[i][0], s_sizes[i][1]);
      check(targets[t], shape, to_blocks, 5);
      snprintf(shape, sizeof shape, "2, 3, %d, %d, %d", s_sizes[i][0], s_sizes[i][1], b);
      check(targets[t], shape, from_blocks, 5);
    }
    snprintf(shape, sizeof shape, "%d, 37", b);
    check(targets[t], shape, swap, 2);
    snprintf(shape, sizeof shape, "53, %d", b);
    check(targets[t], shape, swap, 2);
    snprintf(shape, sizeof shape, "2, %d, batch, 9", b);
    check(targets[t], shape, to_last, 4);
  }
}

TEST(declined) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  static const int64_t to_blocks[] = {0, 1, 3, 4, 2}, other[] = {1, 0, 2, 3, 4};
  tcc_node_t *cases[3] = {
      node(g, TCC_OP_TRANSPOSE, 1, 1, input(g, TCC_DTYPE_F32, "1, 2, 8, 4, 4")),  /* B is not 16 */
      node(g, TCC_OP_TRANSPOSE, 1, 1, input(g, TCC_DTYPE_F32, "1, 2, 16, 4, 4")), /* another permutation */
      node(g, TCC_OP_TRANSPOSE, 1, 1, input(g, TCC_DTYPE_F64, "1, 2, 16, 4, 4")), /* 64-bit elements */
  };
  attr_ints(cases[0], "perm", 5, to_blocks);
  attr_ints(cases[1], "perm", 5, other);
  attr_ints(cases[2], "perm", 5, to_blocks);
  CHECK_OK(tcc_graph_infer(g));
  tcc_llvm_emitter_t *e = NULL;
  CHECK_OK(tcc_llvm_emitter_create("x", NULL, NULL, &e));
  for (int i = 0; i < 3; i++) {
    const char *sym = "unset";
    bool applied = true;
    CHECK_OK(tcc_cpu_blocks_emit(e, cases[i], "x86-64-v4", &sym, &applied));
    CHECK(!applied && sym == NULL);
  }
  CHECK(LLVMGetFirstFunction(tcc_llvm_emitter_module(e)) == NULL);
  tcc_llvm_emitter_destroy(e);
  tcc_module_destroy(m);
}

TEST(start) { CHECK_OK(tcc_rt_pool_create(2, NULL, &pool)); }
TEST(stop) { tcc_rt_pool_destroy(pool); pool = NULL; }

RUN_TESTS(T(start), T(conversions), T(declined), T(stop))
