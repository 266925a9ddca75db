/* The generic CPU schedule (codegen/schedule_cpu.h): which loops its rules mark on hand-built kernels
 * (independent elementwise nests, reductions into shared accumulators, read-backs of other iterations'
 * elements, transposed stores, calls, private temporaries, small sizes), and kernels of real compute
 * definitions (add with broadcast over a symbolic size, relu, softmax, cumsum, matmul, transpose, cast to
 * f16) scheduled, JIT-compiled for the host and run on a 2-thread pool, bit-identical to the evaluator. */
#include <stdlib.h>

#include "codegen/llvm_emit.h"
#include "codegen/schedule_cpu.h"
#include "ir/kernel_eval.h"
#include "tcc/runtime.h"
#include "tests/graph_builder.h"
#include "tests/jit.h"
#include "tests/test.h"

/* ---- hand-built kernels ---- */

typedef struct {
  tcc_module_t *m;
  tcc_kernel_t *k;
  const tcc_dim_t *r, *c;
} kb_t;

static kb_t kb_begin(const char *name, int64_t rows, int64_t cols) {
  kb_t b;
  CHECK_OK(tcc_module_create(tcc_allocator_system(), &b.m));
  b.k = tcc_kernel_create(b.m, name);
  b.r = rows > 0 ? tcc_dim_const(b.m, rows) : tcc_dim_symbol(b.m, "r");
  b.c = cols > 0 ? tcc_dim_const(b.m, cols) : tcc_dim_symbol(b.m, "c");
  return b;
}

static tcc_cpu_schedule_options_t small_tasks(void) {
  tcc_cpu_schedule_options_t o = tcc_cpu_schedule_defaults("x86-64-v4");
  o.threads = 2, o.min_task_elements = 64;
  return o;
}

/* The kind of the loop reached by following the first FOR of each block `depth` times. */
static tcc_kloop_kind_t kind_at(const tcc_kblock_t *blk, int depth) {
  for (;;) {
    const tcc_kstmt_t *loop = NULL;
    for (size_t i = 0; i < blk->count && !loop; i++)
      if (blk->stmts[i]->kind == TCC_KSTMT_FOR) loop = blk->stmts[i];
    if (!loop) return TCC_KLOOP_KIND_COUNT;
    if (depth-- == 0) return loop->loop;
    blk = &loop->body;
  }
}

/* z[i, j] = x[i, j] + y[j] (f32): rows PARALLEL, columns VECTORIZED; too small: nothing. */
TEST(elementwise_nests_get_parallel_rows_and_vector_columns) {
  for (int small = 0; small < 2; small++) {
    kb_t b = kb_begin("add", small ? 2 : -1, small ? 3 : -1);
    const tcc_dim_t *rc[2] = {b.r, b.c}, *c1[1] = {b.c};
    tcc_kbuf_t *x = tcc_kernel_add_param(b.k, "x", TCC_KBUF_INPUT, TCC_DTYPE_F32, 2, rc);
    tcc_kbuf_t *y = tcc_kernel_add_param(b.k, "y", TCC_KBUF_INPUT, TCC_DTYPE_F32, 1, c1);
    tcc_kbuf_t *z = tcc_kernel_add_param(b.k, "z", TCC_KBUF_OUTPUT, TCC_DTYPE_F32, 2, rc);
    const tcc_kvar_t *i, *j;
    tcc_kblock_t *blk = tcc_k_for(b.k, tcc_kernel_body(b.k), "i", tcc_k_dim(b.k, b.r), TCC_KLOOP_SERIAL, &i);
    blk = tcc_k_for(b.k, blk, "j", tcc_k_dim(b.k, b.c), TCC_KLOOP_SERIAL, &j);
    const tcc_kexpr_t *ij[2] = {tcc_k_var(b.k, i), tcc_k_var(b.k, j)}, *jj[1] = {tcc_k_var(b.k, j)};
    tcc_k_store(b.k, blk, z, ij, tcc_k_binary(b.k, TCC_KOP_ADD, tcc_k_load(b.k, x, ij), tcc_k_load(b.k, y, jj)));
    tcc_cpu_schedule_options_t o = small_tasks();
    CHECK_OK(tcc_schedule_cpu(b.k, &o));
    CHECK(kind_at(&b.k->body, 0) == (small ? TCC_KLOOP_SERIAL : TCC_KLOOP_PARALLEL));
    CHECK(kind_at(&b.k->body, 1) == (small ? TCC_KLOOP_SERIAL : TCC_KLOOP_VECTORIZED));
    tcc_module_destroy(b.m);
  }
}

/* acc (allocated outside) += x[i, j], then y[0] = acc: the loops carry a dependence — nothing marked. */
TEST(reductions_into_shared_accumulators_stay_serial) {
  kb_t b = kb_begin("sum", -1, -1);
  const tcc_dim_t *rc[2] = {b.r, b.c}, *one[1] = {tcc_dim_const(b.m, 1)};
  tcc_kbuf_t *x = tcc_kernel_add_param(b.k, "x", TCC_KBUF_INPUT, TCC_DTYPE_F32, 2, rc);
  tcc_kbuf_t *y = tcc_kernel_add_param(b.k, "y", TCC_KBUF_OUTPUT, TCC_DTYPE_F32, 1, one);
  tcc_kbuf_t *acc = tcc_kernel_add_local(b.k, "acc", TCC_KBUF_REGISTER, TCC_DTYPE_F32, 1, one);
  tcc_kblock_t *body = tcc_kernel_body(b.k);
  tcc_k_alloc(b.k, body, acc);
  const tcc_kvar_t *i, *j;
  tcc_kblock_t *blk = tcc_k_for(b.k, body, "i", tcc_k_dim(b.k, b.r), TCC_KLOOP_SERIAL, &i);
  blk = tcc_k_for(b.k, blk, "j", tcc_k_dim(b.k, b.c), TCC_KLOOP_SERIAL, &j);
  const tcc_kexpr_t *ij[2] = {tcc_k_var(b.k, i), tcc_k_var(b.k, j)}, *z[1] = {tcc_k_int(b.k, 0)};
  tcc_k_store(b.k, blk, acc, z, tcc_k_binary(b.k, TCC_KOP_ADD, tcc_k_load(b.k, acc, z), tcc_k_load(b.k, x, ij)));
  tcc_k_store(b.k, body, y, z, tcc_k_load(b.k, acc, z));
  tcc_cpu_schedule_options_t o = small_tasks();
  CHECK_OK(tcc_schedule_cpu(b.k, &o));
  CHECK(kind_at(&b.k->body, 0) == TCC_KLOOP_SERIAL && kind_at(&b.k->body, 1) == TCC_KLOOP_SERIAL);
  tcc_module_destroy(b.m);
}

/* y[i, j] = y[i, j - 1] + x[i, j] (reads another iteration's element): rows parallel, columns serial;
 * t[j, i] = x[i, j] (transposed): rows parallel, columns not contiguous, serial. */
TEST(read_backs_and_transposed_stores_are_not_vectorized) {
  for (int v = 0; v < 2; v++) {
    kb_t b = kb_begin(v ? "transpose" : "scan", -1, -1);
    const tcc_dim_t *rc[2] = {b.r, b.c}, *cr[2] = {b.c, b.r};
    tcc_kbuf_t *x = tcc_kernel_add_param(b.k, "x", TCC_KBUF_INPUT, TCC_DTYPE_F32, 2, rc);
    tcc_kbuf_t *y = tcc_kernel_add_param(b.k, "y", TCC_KBUF_OUTPUT, TCC_DTYPE_F32, 2, v ? cr : rc);
    const tcc_kvar_t *i, *j;
    tcc_kblock_t *blk = tcc_k_for(b.k, tcc_kernel_body(b.k), "i", tcc_k_dim(b.k, b.r), TCC_KLOOP_SERIAL, &i);
    blk = tcc_k_for(b.k, blk, "j", tcc_k_dim(b.k, b.c), TCC_KLOOP_SERIAL, &j);
    const tcc_kexpr_t *ij[2] = {tcc_k_var(b.k, i), tcc_k_var(b.k, j)}, *ji[2] = {ij[1], ij[0]};
    const tcc_kexpr_t *prev[2] = {ij[0], tcc_k_binary(b.k, TCC_KOP_SUB, ij[1], tcc_k_int(b.k, 1))};
    if (v) tcc_k_store(b.k, blk, y, ji, tcc_k_load(b.k, x, ij));
    else tcc_k_store(b.k, blk, y, ij, tcc_k_binary(b.k, TCC_KOP_ADD, tcc_k_load(b.k, y, prev), tcc_k_load(b.k, x, ij)));
    tcc_cpu_schedule_options_t o = small_tasks();
    CHECK_OK(tcc_schedule_cpu(b.k, &o));
    CHECK(kind_at(&b.k->body, 0) == TCC_KLOOP_PARALLEL);
    CHECK(kind_at(&b.k->body, 1) == TCC_KLOOP_SERIAL);
    tcc_module_destroy(b.m);
  }
}

/* Rows that read the previous row (y[i, j] = y[i - 1, j] + 1) or call an extern: not parallel; a row
 * temporary allocated inside the loop is private (parallel), unless read after the loop. */
TEST(dependences_calls_and_temporaries_decide_parallel_loops) {
  for (int v = 0; v < 4; v++) {
    kb_t b = kb_begin("rows", -1, -1);
    const tcc_dim_t *rc[2] = {b.r, b.c}, *c1[1] = {b.c};
    tcc_kbuf_t *x = tcc_kernel_add_param(b.k, "x", TCC_KBUF_INPUT, TCC_DTYPE_F32, 2, rc);
    tcc_kbuf_t *y = tcc_kernel_add_param(b.k, "y", TCC_KBUF_OUTPUT, TCC_DTYPE_F32, 2, rc);
    tcc_kbuf_t *row = tcc_kernel_add_local(b.k, "row", TCC_KBUF_LOCAL, TCC_DTYPE_F32, 1, c1);
    tcc_kblock_t *body = tcc_kernel_body(b.k);
    const tcc_kvar_t *i, *j, *j2;
    tcc_kblock_t *outer = tcc_k_for(b.k, body, "i", tcc_k_dim(b.k, b.r), TCC_KLOOP_SERIAL, &i);
    if (v >= 2) tcc_k_alloc(b.k, outer, row);
    tcc_kblock_t *blk = tcc_k_for(b.k, outer, "j", tcc_k_dim(b.k, b.c), TCC_KLOOP_SERIAL, &j);
    const tcc_kexpr_t *ij[2] = {tcc_k_var(b.k, i), tcc_k_var(b.k, j)}, *jj[1] = {ij[1]};
    if (v == 0) {
      const tcc_kexpr_t *up[2] = {tcc_k_binary(b.k, TCC_KOP_SUB, ij[0], tcc_k_int(b.k, 1)), ij[1]};
      tcc_k_store(b.k, blk, y, ij, tcc_k_binary(b.k, TCC_KOP_ADD, tcc_k_load(b.k, y, up), tcc_k_const(b.k, TCC_DTYPE_F32, 1)));
    } else if (v == 1) {
      tcc_k_store(b.k, blk, y, ij, tcc_k_load(b.k, x, ij));
      const tcc_kbuf_t *args[1] = {y};
      tcc_k_call(b.k, outer, "tcc_test_extern", args, 1, NULL, 0);
    } else {
      tcc_k_store(b.k, blk, row, jj, tcc_k_load(b.k, x, ij));
      blk = tcc_k_for(b.k, outer, "j2", tcc_k_dim(b.k, b.c), TCC_KLOOP_SERIAL, &j2);
      const tcc_kexpr_t *ij2[2] = {ij[0], tcc_k_var(b.k, j2)}, *jj2[1] = {ij2[1]};
      tcc_k_store(b.k, blk, y, ij2, tcc_k_load(b.k, row, jj2));
      if (v == 3) {
        const tcc_kexpr_t *z[1] = {tcc_k_int(b.k, 0)}, *zz[2] = {z[0], z[0]};
        tcc_k_store(b.k, body, y, zz, tcc_k_load(b.k, row, z));
      }
    }
    tcc_cpu_schedule_options_t o = small_tasks();
    CHECK_OK(tcc_schedule_cpu(b.k, &o));
    tcc_kloop_kind_t want = v == 2 ? TCC_KLOOP_PARALLEL : TCC_KLOOP_SERIAL;
    if (kind_at(&b.k->body, 0) != want) fprintf(stderr, "case %d: outer loop %s\n", v, tcc_kloop_kind_name(kind_at(&b.k->body, 0)));
    CHECK(kind_at(&b.k->body, 0) == want);
    tcc_module_destroy(b.m);
  }
  tcc_cpu_schedule_options_t bad = small_tasks();
  bad.threads = 0;
  kb_t b = kb_begin("empty", 1, 1);
  tcc_status_t st = tcc_schedule_cpu(b.k, &bad);
  CHECK(st && tcc_status_code(st) == TCC_INVALID_ARGUMENT);
  tcc_status_free(st);
  tcc_module_destroy(b.m);
}

/* ---- compute definitions, scheduled and run ---- */

static bool lookup_r(void *ctx, const char *symbol, int64_t *value) {
  if (strcmp(symbol, "r") != 0) return false;
  *value = *(const int64_t *)ctx;
  return true;
}

/* Builds node's kernel, schedules it, runs evaluator and JIT (2-thread pool) on random inputs with
 * symbol r = rows; returns whether every output is bit-identical. */
static bool scheduled_matches(tcc_node_t *n, int64_t rows, int want_parallel, int want_vector) {
  CHECK_STR(infer(n), ty(n->outputs[0]));
  tcc_kernel_t *k = NULL;
  CHECK_OK(tcc_compute_build(n, &k));
  if (!k) return false;
  tcc_cpu_schedule_options_t o = small_tasks();
  CHECK_OK(tcc_schedule_cpu(k, &o));
  int par = tcc_kblock_count_loops(&k->body, TCC_KLOOP_PARALLEL);
  int vec = tcc_kblock_count_loops(&k->body, TCC_KLOOP_VECTORIZED);
  if (par != want_parallel || vec != want_vector) {
    fprintf(stderr, "%s: %d parallel and %d vectorized loops, expected %d and %d\n", k->name, par, vec, want_parallel,
            want_vector);
    CHECK(tcc_kernel_print(k, stderr) == NULL);
    CHECK(false);
  }
  void *ref[8] = {0}, *got[8] = {0};
  size_t bytes[8] = {0};
  CHECK(k->num_params <= 8);
  srand(7);
  for (int p = 0; p < k->num_params && p < 8; p++) {
    const tcc_kbuf_t *b = k->params[p];
    int64_t count = 1;
    for (int d = 0; d < b->rank; d++) {
      int64_t v = 0;
      CHECK(tcc_dim_eval(b->dims[d], lookup_r, &rows, &v));
      count *= v;
    }
    bytes[p] = (size_t)tcc_dtype_storage_bytes(b->dtype, count) + 8;
    ref[p] = calloc(1, bytes[p]);
    got[p] = calloc(1, bytes[p]);
    if (b->scope == TCC_KBUF_INPUT && b->dtype == TCC_DTYPE_F32)
      for (int64_t e = 0; e < count; e++) ((float *)ref[p])[e] = (float)(rand() % 20001 - 10000) / 997.0f;
    if (b->scope == TCC_KBUF_INPUT) memcpy(got[p], ref[p], bytes[p]);
  }
  CHECK_OK(tcc_kernel_eval(k, ref, lookup_r, &rows));

  tcc_test_jit_t jit;
  tcc_llvm_emit_options_t eo = {.target = "native", .parallel_min_work = 64};
  CHECK_OK(tcc_test_jit_begin(&jit, "sched", &eo));
  const char *sym = NULL;
  CHECK_OK(tcc_llvm_emit_kernel(jit.emitter, k, &sym));
  int64_t syms[4] = {rows, rows, rows, rows};
  CHECK(tcc_llvm_emitter_num_symbols(jit.emitter) <= 1);
  tcc_module_kernel_fn_t fn = NULL;
  tcc_status_t st = tcc_test_jit_finish(&jit, "native");
  if (!st) st = tcc_test_jit_lookup(&jit, sym ? sym : "", &fn);
  CHECK_OK(st);
  bool same = false;
  if (fn) {
    tcc_rt_pool_t *pool = NULL;
    CHECK_OK(tcc_rt_pool_create(2, NULL, &pool));
    tcc_module_kernel_ctx_t ctx = tcc_test_pool_ctx(pool, 2, syms);
    CHECK(fn(got, &ctx) == 0);
    same = true;
    for (int p = 0; p < k->num_params && p < 8; p++)
      if (memcmp(ref[p], got[p], bytes[p]) != 0) {
        fprintf(stderr, "%s: output %s differs\n", k->name, k->params[p]->name);
        same = false;
      }
    tcc_rt_pool_destroy(pool);
  }
  tcc_test_jit_free(&jit);
  for (int p = 0; p < 8; p++) free(ref[p]), free(got[p]);
  return same;
}

TEST(scheduled_compute_definitions_match_the_evaluator) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  /* add with broadcast over a symbolic row count, relu, softmax over rows, cumsum (the scan stays serial),
   * matmul (rows parallel), transpose (gathers), a cast to f16 */
  tcc_value_t *x = input(g, TCC_DTYPE_F32, "r, 67"), *bias = input(g, TCC_DTYPE_F32, "67");
  CHECK(scheduled_matches(node(g, TCC_OP_ADD, 1, 2, x, bias), 45, 1, 1));
  CHECK(scheduled_matches(node(g, TCC_OP_RELU, 1, 1, x), 45, 1, 1));
  tcc_value_t *s = input(g, TCC_DTYPE_F32, "33, 130");
  tcc_node_t *sm = node(g, TCC_OP_SOFTMAX, 1, 1, s);
  attr_int(sm, "axis", -1);
  CHECK(scheduled_matches(sm, 0, 1, 1));
  int64_t one = 1;
  CHECK(scheduled_matches(node(g, TCC_OP_CUMSUM, 1, 2, s, const_i64(g, 0, 1, &one)), 0, 1, 0));
  tcc_value_t *a = input(g, TCC_DTYPE_F32, "40, 50"), *b = input(g, TCC_DTYPE_F32, "50, 70");
  CHECK(scheduled_matches(node(g, TCC_OP_MATMUL, 1, 2, a, b), 0, 1, 0));
  CHECK(scheduled_matches(node(g, TCC_OP_TRANSPOSE, 1, 1, s), 0, 1, 1));
  tcc_node_t *cast = node(g, TCC_OP_CAST, 1, 1, x);
  attr_int(cast, "to", TCC_DTYPE_F16);
  CHECK(scheduled_matches(cast, 45, 1, 1));
  tcc_module_destroy(m);
}

RUN_TESTS(T(elementwise_nests_get_parallel_rows_and_vector_columns), T(reductions_into_shared_accumulators_stay_serial),
          T(read_backs_and_transposed_stores_are_not_vectorized), T(dependences_calls_and_temporaries_decide_parallel_loops),
          T(scheduled_compute_definitions_match_the_evaluator))
