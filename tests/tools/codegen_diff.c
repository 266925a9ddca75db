/* codegen_diff: the differential test of code generation against the reference evaluator.
 *
 *   codegen_diff NODE_DIR --tests node.pass --expected codegen.pass [--write-expected FILE] [--only TEST] [-v]
 *                [--schedule]
 *
 * For each ONNX node test listed in --tests (the ones the evaluator passes), the model's nodes are
 * evaluated in order exactly as ir/graph_eval.c does (each node re-inferred with its actual inputs as
 * constants, so every shape is concrete; its kernel built by tcc_compute_build and run by tcc_kernel_eval;
 * host operators run as host functions). Every kernel is also emitted with codegen/llvm_emit.h into one
 * LLVM module per test, optimized (default<O3>) for the host, JIT-compiled with ORC's LLJIT and run on the
 * same inputs; its outputs are compared with the evaluator's:
 *   - integers and bool bitwise;
 *   - floats bitwise, any NaN equal to any NaN. The emitter adds no fast-math flags, so LLVM neither
 *     reassociates nor contracts, and it calls the same libm functions as the evaluator: equality is
 *     expected everywhere. A kernel within 2 units in the last place (of its output format) of the
 *     evaluator counts as "close" (libm calls that LLVM folds or rewrites, e.g. constant arguments folded
 *     by the compiler's own libm); further is "differ".
 * A test "passes" when it has at least one kernel and all of them are equal or close. Each test runs in a
 * child process (a crash or hang of generated code is that test's failure, not the harness's). Tests on
 * the --expected list that do not pass are regressions (exit 1); tests that pass but are not listed are
 * reported so the list can be extended (--write-expected writes the passing tests). Exit 77 when NODE_DIR
 * does not exist (../shared is optional).
 *
 * --schedule: every kernel first goes through the generic CPU schedule (codegen/schedule_cpu.h, the host's
 * defaults but planning for 2 threads, tasks of any size and 4-lane vectors, so the small shapes of the node
 * tests get PARALLEL and VECTORIZED loops, with remainders, too), is emitted with 4-lane vectors and parallel
 * chunks of any size, and runs on a real 2-thread pool (tcc/runtime.h); the summary counts the loops marked. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/hash.h"
#include "codegen/llvm_emit.h"
#include "frontend/onnx_import.h"
#include "frontend/tensor_io.h"
#include "ir/compute.h"
#include "ir/host_ops.h"
#include "ir/infer.h"
#include "ir/kernel_eval.h"
#include "codegen/schedule_cpu.h"
#include "tcc/runtime.h"
#include "tests/jit.h"
#include "tests/kernel_ctx.h"

enum { MAX_TESTS = 8192, MAX_KERNELS = 4096 };

static bool schedule; /* --schedule */

typedef struct {
  int kernels, equal, close, differ, unsupported, host;
  int parallel_loops, vector_loops; /* --schedule: loops marked */
  bool stopped; /* control flow, sequences or an evaluator failure ended the walk early */
  char note[512];
} result_t;

/* One node's kernel: its evaluator outputs and the buffers the compiled code gets. */
typedef struct {
  const tcc_kernel_t *k;
  const char *symbol; /* NULL: the emitter refused it */
  void **params;      /* inputs (shared with the evaluator) then the compiled code's outputs */
  const tcc_tensor_t **ref; /* per output parameter */
  int first_output;
  const char *node;
} run_t;

static void note(result_t *r, const char *fmt, const char *a, const char *b) {
  char text[2048];
  if (r->note[0]) return;
  snprintf(text, sizeof text, fmt, a, b);
  memcpy(r->note, text, sizeof r->note - 1);
  r->note[sizeof r->note - 1] = 0;
}

/* ---- comparison ---- */

static bool is_nan_bits(tcc_dtype_t dt, uint64_t v) {
  switch (dt) {
    case TCC_DTYPE_F32: return (v & 0x7fffffff) > 0x7f800000;
    case TCC_DTYPE_F64: return (v & 0x7fffffffffffffffull) > 0x7ff0000000000000ull;
    case TCC_DTYPE_F16: return (v & 0x7fff) > 0x7c00;
    case TCC_DTYPE_BF16: return (v & 0x7fff) > 0x7f80;
    default: return false;
  }
}

/* Distance in units in the last place between two values of a float format given as bits. */
static uint64_t ulp_distance(uint64_t a, uint64_t b, int bits) {
  uint64_t sign = 1ull << (bits - 1), mag = sign - 1;
  int64_t ka = (int64_t)(a & mag), kb = (int64_t)(b & mag);
  if (a & sign) ka = -ka;
  if (b & sign) kb = -kb;
  return ka > kb ? (uint64_t)(ka - kb) : (uint64_t)(kb - ka);
}

/* 0 equal, 1 close, 2 differ; *where gets the first differing element. */
static int compare(const tcc_tensor_t *ref, const void *got, int64_t *where) {
  tcc_dtype_t dt = ref->dtype;
  if (!tcc_dtype_is_float(dt) || tcc_dtype_bits(dt) < 8) {
    if (memcmp(ref->data, got, ref->nbytes) == 0) return 0;
    for (size_t i = 0; i < ref->nbytes; i++)
      if (((const unsigned char *)ref->data)[i] != ((const unsigned char *)got)[i]) {
        *where = (int64_t)i;
        break;
      }
    return 2;
  }
  int bits = tcc_dtype_bits(dt), size = bits / 8, worst = 0;
  for (int64_t i = 0; i < ref->numel; i++) {
    uint64_t a = 0, b = 0;
    memcpy(&a, (const char *)ref->data + i * size, (size_t)size);
    memcpy(&b, (const char *)got + i * size, (size_t)size);
    if (a == b || (is_nan_bits(dt, a) && is_nan_bits(dt, b))) continue;
    int level = is_nan_bits(dt, a) || is_nan_bits(dt, b) || ulp_distance(a, b, bits) > 2 ? 2 : 1;
    if (level > worst) worst = level, *where = i;
  }
  return worst;
}

/* ---- one test, in a child process ---- */

static bool bound_symbol(void *ctx, const char *name, int64_t *v) {
  const int64_t *bound = tcc_strmap_get(ctx, name);
  if (bound) *v = *bound;
  return bound != NULL;
}

static bool is_kernel_op(const tcc_node_t *node) {
  for (int i = 0; i < node->num_attrs; i++)
    if (node->attrs[i].kind == TCC_ATTR_GRAPH || node->attrs[i].kind == TCC_ATTR_GRAPHS) return false;
  switch (node->op) {
    case TCC_OP_IF: case TCC_OP_LOOP: case TCC_OP_SCAN: case TCC_OP_SEQUENCE_MAP: case TCC_OP_FUSED:
    case TCC_OP_SEQUENCE_EMPTY: case TCC_OP_SEQUENCE_CONSTRUCT: case TCC_OP_SEQUENCE_INSERT:
    case TCC_OP_SEQUENCE_ERASE: case TCC_OP_SEQUENCE_AT: case TCC_OP_SEQUENCE_LENGTH: case TCC_OP_SPLIT_TO_SEQUENCE:
    case TCC_OP_CONCAT_FROM_SEQUENCE: case TCC_OP_OPTIONAL: case TCC_OP_OPTIONAL_HAS_ELEMENT:
    case TCC_OP_OPTIONAL_GET_ELEMENT: return false;
    default: return true;
  }
}

typedef struct {
  tcc_module_t *data;                 /* inputs, bound symbols */
  tcc_module_t **scratch;             /* one per node, alive until the compiled code ran */
  int num_scratch;
  const tcc_tensor_t **values;        /* by value id */
  tcc_strmap_t symbols;
  tcc_llvm_emitter_t *emitter;
  run_t *runs;
  int num_runs;
} walk_t;

/* Evaluates one node as graph_eval's eval_kernel does; records its kernel for compilation. */
static tcc_status_t walk_node(walk_t *w, const tcc_node_t *node, result_t *r) {
  tcc_module_t *s;
  TCC_RETURN_IF_ERROR(tcc_module_create(tcc_allocator_system(), &s));
  w->scratch[w->num_scratch++] = s;
  tcc_node_t *copy = tcc_graph_add_node(s->graph, node->op, node->name, node->num_inputs, node->num_outputs);
  if (!copy) return tcc_status_oom();
  copy->domain = node->domain, copy->op_type = node->op_type, copy->opset = node->opset;
  copy->num_attrs = node->num_attrs;
  copy->attrs = tcc_module_alloc(s, (size_t)(node->num_attrs + 1) * sizeof *copy->attrs);
  if (!copy->attrs) return tcc_status_oom();
  for (int i = 0; i < node->num_attrs; i++) {
    tcc_attr_t a = node->attrs[i];
    if (a.kind == TCC_ATTR_DIMS) {
      const tcc_dim_t **dims = tcc_module_alloc(s, (size_t)(a.count + 1) * sizeof *dims);
      if (!dims) return tcc_status_oom();
      for (int64_t d = 0; d < a.count; d++) {
        int64_t v;
        if (!tcc_dim_eval(a.dims[d], bound_symbol, &w->symbols, &v))
          return tcc_status_make(TCC_UNSUPPORTED, "node '%s': dims attribute '%s' not known", node->name, a.name);
        dims[d] = tcc_dim_const(s, v);
      }
      a.dims = dims;
    }
    copy->attrs[i] = a;
  }
  for (int i = 0; i < node->num_inputs; i++) {
    if (!node->inputs[i]) continue;
    const tcc_tensor_t *t = w->values[node->inputs[i]->id];
    if (!t) return tcc_status_make(TCC_UNSUPPORTED, "node '%s': input %d is not a tensor here", node->name, i);
    if (!(copy->inputs[i] = tcc_graph_add_constant(s->graph, NULL, t))) return tcc_status_oom();
  }
  for (int i = 0; i < node->num_outputs; i++)
    if (node->outputs[i]) tcc_node_set_output(copy, i, tcc_graph_add_value(s->graph, NULL));
  TCC_RETURN_IF_ERROR(tcc_module_check(s));
  TCC_RETURN_IF_ERROR(tcc_node_infer(copy));
  tcc_kernel_t *k = NULL;
  tcc_status_t built = tcc_compute_build(copy, &k);
  tcc_host_fn_t host = tcc_host_op_find(node->op);
  if (built && host && tcc_status_code(built) == TCC_UNSUPPORTED) {
    tcc_status_free(built);
    const tcc_tensor_t **in = tcc_module_alloc(s, (size_t)(copy->num_inputs + 1) * sizeof *in);
    tcc_tensor_t **out = tcc_module_alloc(s, (size_t)(copy->num_outputs + 1) * sizeof *out);
    if (!in || !out) return tcc_status_oom();
    for (int i = 0; i < copy->num_inputs; i++) in[i] = copy->inputs[i] ? copy->inputs[i]->constant : NULL;
    TCC_RETURN_IF_ERROR(host(copy, in, s, out));
    for (int i = 0; i < node->num_outputs; i++)
      if (node->outputs[i]) w->values[node->outputs[i]->id] = out[i];
    r->host++;
    return NULL;
  }
  TCC_RETURN_IF_ERROR(built);
  run_t *run = &w->runs[w->num_runs];
  *run = (run_t){.k = k, .node = node->name};
  run->params = tcc_module_alloc(s, (size_t)(k->num_params + 1) * sizeof *run->params);
  void **ref_buffers = tcc_module_alloc(s, (size_t)(k->num_params + 1) * sizeof *ref_buffers);
  run->ref = tcc_module_alloc(s, (size_t)(k->num_params + 1) * sizeof *run->ref);
  if (!run->params || !ref_buffers || !run->ref) return tcc_status_oom();
  int p = 0;
  for (int i = 0; i < copy->num_inputs; i++)
    if (copy->inputs[i]) run->params[p] = ref_buffers[p] = (void *)copy->inputs[i]->constant->data, p++;
  run->first_output = p;
  for (int i = 0; i < copy->num_outputs; i++) {
    const tcc_value_t *out = copy->outputs[i];
    if (!out) continue;
    int64_t dims[64];
    if (out->type.kind != TCC_TYPE_TENSOR || out->type.rank < 0 || out->type.rank > 64)
      return tcc_status_make(TCC_UNSUPPORTED, "node '%s': output %d of unknown rank", node->name, i);
    for (int d = 0; d < out->type.rank; d++) {
      if (!tcc_dim_is_const(out->type.dims[d]))
        return tcc_status_make(TCC_UNSUPPORTED, "node '%s': output %d has a data-dependent size", node->name, i);
      dims[d] = tcc_dim_value(out->type.dims[d]);
    }
    tcc_tensor_t *ref = tcc_tensor_create(s, out->type.dtype, out->type.rank, dims);
    tcc_tensor_t *got = tcc_tensor_create(s, out->type.dtype, out->type.rank, dims);
    if (!ref || !got) return tcc_status_oom();
    run->ref[p] = ref;
    ref_buffers[p] = (void *)ref->data;
    run->params[p++] = (void *)got->data;
    if (node->outputs[i]) w->values[node->outputs[i]->id] = ref;
  }
  TCC_RETURN_IF_ERROR(tcc_kernel_eval(k, ref_buffers, NULL, NULL));
  if (schedule) {
    tcc_cpu_schedule_options_t so = tcc_cpu_schedule_defaults("native");
    so.threads = 2, so.min_task_elements = 1, so.vector_lanes = 4;
    TCC_RETURN_IF_ERROR(tcc_schedule_cpu(k, &so));
    r->parallel_loops += tcc_kblock_count_loops(&k->body, TCC_KLOOP_PARALLEL);
    r->vector_loops += tcc_kblock_count_loops(&k->body, TCC_KLOOP_VECTORIZED);
  }
  tcc_status_t st = tcc_llvm_emit_kernel(w->emitter, k, &run->symbol);
  if (st) {
    r->unsupported++;
    note(r, "emitter: %s%s", tcc_status_message(st), "");
    tcc_status_free(st);
  }
  w->num_runs++;
  return NULL;
}

static tcc_status_t read_inputs(walk_t *w, const tcc_graph_t *g, const char *dir) {
  char path[8192];
  size_t next = 0;
  for (int k = 0;; k++) {
    snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, k);
    if (access(path, R_OK) != 0) break;
    while (next < g->num_inputs && g->inputs[next]->constant) next++;
    if (next >= g->num_inputs) return tcc_status_make(TCC_INVALID_ARGUMENT, "%s matches no input", path);
    const tcc_value_t *in = g->inputs[next++];
    const tcc_eval_value_t *v;
    TCC_RETURN_IF_ERROR(tcc_tensor_read_value_file(w->data, path, in->declared ? in->declared : &in->type, &v, NULL));
    if (v->kind != TCC_TYPE_TENSOR) return tcc_status_make(TCC_UNSUPPORTED, "input '%s' is not a tensor", in->name);
    w->values[in->id] = v->tensor;
    /* bind the symbols of the input's declared shape */
    const tcc_type_t *t = &in->type;
    for (int d = 0; t->kind == TCC_TYPE_TENSOR && d < t->rank && d < v->tensor->rank; d++) {
      if (!tcc_dim_is_symbol(t->dims[d])) continue;
      char name[256];
      tcc_dim_format(t->dims[d], name, sizeof name);
      int64_t *val = tcc_module_alloc(w->data, sizeof *val);
      if (!val) return tcc_status_oom();
      *val = v->tensor->dims[d];
      if (name[0] == '"') continue; /* quoted names: graph_eval binds them; rare in node tests */
      const char *key = tcc_module_strdup(w->data, name);
      if (!key || !tcc_strmap_put(&w->symbols, key, val)) return tcc_status_oom();
    }
  }
  return NULL;
}

static void run_test(const char *dir, result_t *r) {
  tcc_module_t *m = NULL;
  tcc_onnx_import_options_t io = {0};
  char path[8192];
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  tcc_status_t st = tcc_onnx_import_file(path, &io, tcc_allocator_system(), &m);
  walk_t w = {0};
  tcc_test_jit_t jit = {0};
  if (!st) st = tcc_module_create(tcc_allocator_system(), &w.data);
  tcc_llvm_emit_options_t eo = {.vector_lanes = 4, .parallel_min_work = 1};
  if (!st) st = tcc_test_jit_begin(&jit, "diff", schedule ? &eo : NULL);
  w.emitter = jit.emitter;
  tcc_rt_pool_t *pool = NULL;
  if (!st && schedule) st = tcc_rt_pool_create(2, NULL, &pool);
  const tcc_graph_t *g = m ? m->graph : NULL;
  if (!st) {
    tcc_strmap_init(&w.symbols, &w.data->arena);
    w.values = tcc_module_alloc(w.data, (m->next_id + 1) * sizeof *w.values);
    w.scratch = calloc(g->num_nodes + 1, sizeof *w.scratch);
    w.runs = calloc(g->num_nodes + 1, sizeof *w.runs);
    if (!w.values || !w.scratch || !w.runs) st = tcc_status_oom();
  }
  for (size_t i = 0; !st && i < g->num_values; i++)
    if (g->values[i]->constant) w.values[g->values[i]->id] = g->values[i]->constant;
  if (!st) st = read_inputs(&w, g, dir);
  for (size_t i = 0; !st && i < g->num_nodes; i++) {
    const tcc_node_t *node = g->nodes[i];
    if (!is_kernel_op(node)) {
      r->stopped = true;
      note(r, "stopped at node '%s' (%s): control flow / sequences", node->name, node->op_type);
      break;
    }
    st = walk_node(&w, node, r);
  }
  if (st) {
    r->stopped = true;
    note(r, "%s%s", tcc_status_message(st), "");
    tcc_status_free(st);
    st = NULL;
  }
  int compiled = 0;
  for (int i = 0; i < w.num_runs; i++) compiled += w.runs[i].symbol != NULL;
  if (compiled) {
    st = tcc_test_jit_finish(&jit, "native");
    if (st) {
      r->differ += compiled;
      note(r, "%s%s", tcc_status_message(st), "");
      tcc_status_free(st);
      compiled = 0;
    }
  }
  for (int i = 0; compiled && i < w.num_runs; i++) {
    run_t *run = &w.runs[i];
    if (!run->symbol) continue;
    r->kernels++;
    tcc_module_kernel_fn_t fn = NULL;
    st = tcc_test_jit_lookup(&jit, run->symbol, &fn);
    if (st) {
      note(r, "%s%s", tcc_status_message(st), "");
      tcc_status_free(st);
      st = NULL;
      r->differ++;
      continue;
    }
    tcc_module_kernel_ctx_t kctx = pool ? tcc_test_pool_ctx(pool, 2, NULL) : tcc_test_kernel_ctx(NULL);
    int32_t rc = fn(run->params, &kctx);
    int worst = rc ? 2 : 0;
    if (rc) note(r, "kernel of node '%s' returned error bits %s", run->node, rc == 1 ? "1 (division by zero)" : "!= 0");
    for (int p = run->first_output; p < run->k->num_params; p++) {
      int64_t where = -1;
      int level = compare(run->ref[p], run->params[p], &where);
      if (level == 2) {
        char at[64];
        snprintf(at, sizeof at, "%lld", (long long)where);
        note(r, "node '%s': output differs at element %s", run->node, at);
      }
      if (level > worst) worst = level;
    }
    if (worst == 0) r->equal++;
    else if (worst == 1) r->close++;
    else r->differ++;
  }
  tcc_rt_pool_destroy(pool);
  tcc_test_jit_free(&jit);
  for (int i = 0; i < w.num_scratch; i++) tcc_module_destroy(w.scratch[i]);
  free(w.scratch);
  free(w.runs);
  tcc_module_destroy(w.data);
  tcc_module_destroy(m);
}

/* ---- the driver ---- */

static int read_list(const char *path, char **names, int max) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[1024];
  int n = 0;
  while (fgets(line, sizeof line, f) && n < max) {
    line[strcspn(line, "\r\n \t#")] = 0;
    if (line[0]) names[n++] = strdup(line);
  }
  fclose(f);
  return n;
}

static bool listed(char **names, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(names[i], name) == 0) return true;
  return false;
}

/* Runs one test in a child; false when the child crashed or timed out (*r then says so). */
static void run_isolated(const char *dir, int timeout, result_t *r) {
  int fd[2];
  memset(r, 0, sizeof *r);
  if (pipe(fd) != 0) {
    snprintf(r->note, sizeof r->note, "pipe: %s", strerror(errno));
    r->stopped = true;
    return;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    alarm((unsigned)timeout);
    result_t cr;
    memset(&cr, 0, sizeof cr);
    run_test(dir, &cr);
    ssize_t wr = write(fd[1], &cr, sizeof cr);
    _exit(wr == (ssize_t)sizeof cr ? 0 : 1);
  }
  close(fd[1]);
  ssize_t got = 0, n;
  while (got < (ssize_t)sizeof *r && (n = read(fd[0], (char *)r + got, sizeof *r - (size_t)got)) > 0) got += n;
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got != (ssize_t)sizeof *r) {
    memset(r, 0, sizeof *r);
    r->differ = 1;
    snprintf(r->note, sizeof r->note, "child %s", WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "failed");
  }
}

int main(int argc, char **argv) {
  const char *node_dir = NULL, *tests = NULL, *expected = NULL, *write_expected = NULL, *only = NULL;
  bool verbose = false;
  int timeout = 120;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--tests") == 0 && i + 1 < argc) tests = argv[++i];
    else if (strcmp(argv[i], "--expected") == 0 && i + 1 < argc) expected = argv[++i];
    else if (strcmp(argv[i], "--write-expected") == 0 && i + 1 < argc) write_expected = argv[++i];
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
    else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) timeout = atoi(argv[++i]);
    else if (strcmp(argv[i], "-v") == 0) verbose = true;
    else if (strcmp(argv[i], "--schedule") == 0) schedule = true;
    else if (argv[i][0] != '-' && !node_dir) node_dir = argv[i];
    else {
      fprintf(stderr, "usage: codegen_diff NODE_DIR --tests LIST [--expected LIST] [--write-expected FILE] "
                      "[--only TEST] [--timeout S] [-v] [--schedule]\n");
      return 2;
    }
  }
  struct stat sb;
  if (!node_dir || stat(node_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    printf("codegen_diff: no ONNX node tests at '%s' (set TCC_ONNX_TESTS); skipped\n", node_dir ? node_dir : "");
    return 77;
  }
  static char *names[MAX_TESTS], *want[MAX_TESTS];
  int n = tests ? read_list(tests, names, MAX_TESTS) : -1;
  int nwant = expected ? read_list(expected, want, MAX_TESTS) : 0;
  if (n < 0 || nwant < 0) {
    fprintf(stderr, "codegen_diff: cannot read %s\n", n < 0 ? tests : expected);
    return 2;
  }
  FILE *wout = write_expected ? fopen(write_expected, "w") : NULL;
  if (write_expected && !wout) {
    fprintf(stderr, "codegen_diff: cannot write %s\n", write_expected);
    return 2;
  }
  if (wout) fprintf(wout, "# ONNX node tests whose every kernel, compiled for the host, matches the evaluator "
                          "(tests/tools/codegen_diff.c)\n");
  result_t total = {0};
  int tests_run = 0, passing = 0, regressions = 0, new_passes = 0, stopped = 0, no_kernel = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < n; i++) {
    if (only && strcmp(only, names[i]) != 0) continue;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", node_dir, names[i]);
    if (stat(dir, &sb) != 0) continue;
    result_t r;
    run_isolated(dir, timeout, &r);
    tests_run++;
    total.kernels += r.kernels, total.equal += r.equal, total.close += r.close, total.differ += r.differ;
    total.unsupported += r.unsupported, total.host += r.host;
    total.parallel_loops += r.parallel_loops, total.vector_loops += r.vector_loops;
    stopped += r.stopped;
    bool pass = r.kernels > 0 && r.differ == 0 && r.unsupported == 0;
    no_kernel += r.kernels == 0 && r.differ == 0;
    passing += pass;
    if (pass && wout) fprintf(wout, "%s\n", names[i]);
    bool want_pass = listed(want, nwant, names[i]);
    if (want_pass && !pass) {
      regressions++;
      printf("REGRESSION %s: %d kernels, %d differ, %d unsupported: %s\n", names[i], r.kernels, r.differ,
             r.unsupported, r.note);
    } else if (!want_pass && pass && expected) {
      new_passes++;
      if (verbose) printf("new pass %s (not on the expected list)\n", names[i]);
    }
    if (verbose || (!pass && (r.differ || r.unsupported) && !want_pass))
      printf("%-4s %s: kernels %d equal %d close %d differ %d unsupported %d host %d%s%s\n", pass ? "ok" : "--",
             names[i], r.kernels, r.equal, r.close, r.differ, r.unsupported, r.host, r.note[0] ? ": " : "", r.note);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (wout) fclose(wout);
  printf("tests: %d (all kernels equal: %d; no kernel to compare: %d; stopped early by control flow, sequences or "
         "evaluator limits: %d)\n", tests_run, passing, no_kernel, stopped);
  printf("kernels compiled and run: %d: equal %d, close (<= 2 ulp) %d, differing %d; unsupported by the emitter: "
         "%d; host operators (not compiled): %d\n", total.kernels, total.equal, total.close, total.differ,
         total.unsupported, total.host);
  if (schedule)
    printf("scheduled (--schedule): %d PARALLEL loops, %d VECTORIZED loops\n", total.parallel_loops, total.vector_loops);
  printf("expected list: %d tests, %d regressions, %d new passes; %.1f s\n", nwant, regressions, new_passes,
         (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  return regressions ? 1 : 0;
}
