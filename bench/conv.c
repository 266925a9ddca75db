/* The CPU convolution template (codegen/cpu_conv.h) against the generic kernel of the same plan node (its
 * compute definition, ir/compute.h, scheduled by codegen/schedule_cpu.h: parallel and vectorized loops),
 * both JIT-compiled for the host and run on a pool of threads, for every conv kernel of a model's
 * x86-64-v4 plan at batch 1. Per layer: the useful work (2 * MACs of the model's NCHW conv, so channel
 * padding counts for nothing), median times and GFLOP/s; outputs of the two are compared first.
 *
 *   bench_conv [--model resnet18] [--models-dir DIR] [--threads 2] [--runs 9] [--no-generic]
 *              [--best] [--layer NAME] [--ow-block N] [--oc-tile N] [--loop-order N] [--row-merge N]
 * The knob options replace the defaults (autotune/spaces/cpu_conv.lua) for every layer; --layer keeps one.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/cpu_conv.h"
#include "codegen/schedule_cpu.h"
#include "frontend/onnx_import.h"
#include "ir/compute.h"
#include "passes/pipeline.h"
#include "tcc/runtime.h"
#include "tests/jit.h"
#include "tools/timing.h"

/* Seconds on the monotonic clock. */
static double now(void) { return tcc_now_ms() / 1e3; }

static bool fail(tcc_status_t st, const char *what) {
  if (!st) return false;
  fprintf(stderr, "bench_conv: %s: %s\n", what, tcc_status_message(st));
  tcc_status_free(st);
  return true;
}

/* Elements of v with the batch at 1. */
static int64_t numel(const tcc_value_t *v) {
  int64_t n = 1;
  for (int i = 0; i < v->type.rank; i++) n *= tcc_dim_is_const(v->type.dims[i]) ? tcc_dim_value(v->type.dims[i]) : 1;
  return n;
}

/* The two kernels of one plan node in one JIT. */
typedef struct {
  tcc_test_jit_t jit;
  tcc_module_kernel_fn_t tmpl, generic;
  int64_t syms[8];
} jit_t;

static tcc_module_kernel_fn_t lookup(jit_t *j, const char *sym) {
  tcc_module_kernel_fn_t fn = NULL;
  return fail(tcc_test_jit_lookup(&j->jit, sym, &fn), "jit") ? NULL : fn;
}

static tcc_cpu_conv_knobs_t knobs; /* 0: defaults */

static bool jit_build(jit_t *j, const tcc_node_t *node, int threads, bool with_generic) {
  memset(j, 0, sizeof *j);
  tcc_llvm_emit_options_t eo = {.target = "x86-64-v4"};
  if (fail(tcc_test_jit_begin(&j->jit, "bench", &eo), "emitter")) return false;
  tcc_llvm_emitter_t *e = j->jit.emitter;
  const char *tsym = NULL, *gsym = NULL;
  bool applied = false;
  if (fail(tcc_cpu_conv_emit(e, node, "x86-64-v4", &knobs, &tsym, &applied), "template") || !applied) return false;
  if (with_generic) {
    tcc_kernel_t *k = NULL;
    tcc_status_t st = tcc_compute_build(node, &k);
    if (st) { /* no fused definition: the conv alone */
      tcc_status_free(st);
      const tcc_attr_t *a = tcc_node_attr(node, "body");
      st = a && a->g ? tcc_compute_build(a->g->nodes[0], &k) : tcc_status_make(TCC_UNSUPPORTED, "no kernel");
    }
    tcc_cpu_schedule_options_t so = tcc_cpu_schedule_defaults("x86-64-v4");
    so.threads = threads;
    if (!st) st = tcc_schedule_cpu(k, &so);
    if (!st) st = tcc_llvm_emit_kernel(e, k, &gsym);
    if (fail(st, "generic kernel")) gsym = NULL;
  }
  for (int i = 0; i < tcc_llvm_emitter_num_symbols(e) && i < 8; i++) j->syms[i] = 1;
  if (fail(tcc_test_jit_finish(&j->jit, "x86-64-v4"), "finish")) return false;
  j->tmpl = lookup(j, tsym);
  if (gsym) j->generic = lookup(j, gsym);
  return j->tmpl != NULL;
}

static bool report_best; /* --best: the fastest run instead of the median (a loaded machine) */

/* Median (or best) seconds of runs calls (after one warm-up). */
static double time_kernel(tcc_module_kernel_fn_t fn, void *const *params, const tcc_module_kernel_ctx_t *ctx, int runs) {
  double t[64];
  if (runs > 64) runs = 64;
  fn(params, ctx);
  for (int r = 0; r < runs; r++) {
    double t0 = now();
    fn(params, ctx);
    t[r] = now() - t0;
  }
  qsort(t, (size_t)runs, sizeof t[0], tcc_compare_double);
  return report_best ? t[0] : t[runs / 2];
}

/* 2 * MACs of the model's conv called name (NCHW, before layout and padding). */
static double conv_flops(const tcc_graph_t *g, const char *name) {
  for (size_t i = 0; i < g->num_nodes; i++) {
    const tcc_node_t *n = g->nodes[i];
    if (n->op != TCC_OP_CONV || strcmp(n->name, name) != 0) continue;
    double per_output = 1;
    const tcc_value_t *w = n->inputs[1];
    for (int d = 1; d < w->type.rank; d++) per_output *= (double)tcc_dim_value(w->type.dims[d]);
    return 2.0 * per_output * (double)numel(n->outputs[0]);
  }
  return 0;
}

/* The conv inside a plan node (itself, or its fused body's first node). */
static const tcc_node_t *conv_of(const tcc_node_t *n) {
  if (n->op == TCC_OP_CONV) return n;
  const tcc_attr_t *a = n->op == TCC_OP_FUSED ? tcc_node_attr(n, "body") : NULL;
  return a && a->g && a->g->num_nodes && a->g->nodes[0]->op == TCC_OP_CONV ? a->g->nodes[0] : NULL;
}

int main(int argc, char **argv) {
  const char *model = "resnet18", *dir = getenv("TCC_MODELS"), *layer = NULL;
  int threads = 2, runs = 9;
  bool with_generic = true;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
    else if (!strcmp(argv[i], "--models-dir") && i + 1 < argc) dir = argv[++i];
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-generic")) with_generic = false;
    else if (!strcmp(argv[i], "--layer") && i + 1 < argc) layer = argv[++i];
    else if (!strcmp(argv[i], "--best")) report_best = true;
    else if (!strcmp(argv[i], "--ow-block") && i + 1 < argc) knobs.ow_block = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--oc-tile") && i + 1 < argc) knobs.oc_tile = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--loop-order") && i + 1 < argc) knobs.loop_order = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--row-merge") && i + 1 < argc) knobs.row_merge = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_conv [--model NAME] [--models-dir DIR] [--threads N] [--runs N] [--no-generic]\n"
                      "                  [--best] [--layer NAME] [--ow-block N] [--oc-tile N] [--loop-order N] [--row-merge N]\n");
      return 2;
    }
  }
  char path[1024];
  snprintf(path, sizeof path, "%s/%s/model.onnx", dir ? dir : "../shared/models", model);
  tcc_onnx_import_options_t io = {0};
  tcc_module_t *m = NULL, *orig = NULL;
  if (fail(tcc_onnx_import_file(path, &io, tcc_allocator_system(), &m), path) ||
      fail(tcc_onnx_import_file(path, &io, tcc_allocator_system(), &orig), path))
    return 1;
  tcc_pipeline_options_t o = tcc_pipeline_defaults();
  o.context.target = "x86-64-v4";
  tcc_plan_t plan;
  if (fail(tcc_pipeline_run(m->graph, &o, &plan), "pipeline")) return 1;
  tcc_rt_pool_t *pool = NULL;
  if (fail(tcc_rt_pool_create(threads, NULL, &pool), "pool")) return 1;

  printf("%s, batch 1, %d threads, %s of %d runs; template vs generic (compute definition + schedule_cpu)\n",
         model, threads, report_best ? "best" : "median", runs);
  printf("| layer | kind | y | MFLOP | template ms | GFLOP/s | generic ms | GFLOP/s | speedup | max rel diff |\n");
  printf("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  double total_flops = 0, total_t = 0, total_g = 0;
  bool all_generic = true;
  int status = 0;
  for (int k = 0; k < plan.num_kernels; k++) {
    const tcc_node_t *node = plan.kernels[k].node, *cv = conv_of(node);
    if (!cv || (layer && strcmp(cv->name, layer) != 0)) continue;
    double flops = conv_flops(orig->graph, cv->name);
    jit_t j;
    if (!jit_build(&j, node, threads, with_generic)) {
      printf("| %s | %s | declined or failed | | | | | | | |\n", cv->name, plan.kernels[k].kind);
      tcc_test_jit_free(&j.jit);
      continue;
    }
    void *params[32];
    int np = 0;
    for (int i = 0; i < node->num_inputs && np < 31; i++) {
      const tcc_value_t *v = node->inputs[i];
      if (!v) continue;
      if (v->constant) {
        params[np++] = (void *)v->constant->data;
        continue;
      }
      int64_t n = numel(v);
      float *x = malloc((size_t)n * sizeof *x + 64);
      for (int64_t e = 0; e < n; e++) x[e] = (float)((e * 2654435761u) % 2001) / 1000.0f - 1.0f;
      params[np++] = x;
    }
    int64_t ny = numel(node->outputs[0]);
    float *yt = calloc((size_t)ny + 16, sizeof *yt), *yg = calloc((size_t)ny + 16, sizeof *yg);
    tcc_module_kernel_ctx_t ctx = tcc_test_pool_ctx(pool, threads, j.syms);
    params[np] = yt;
    double tt = time_kernel(j.tmpl, params, &ctx, runs), tg = 0, diff = 0;
    if (j.generic) {
      params[np] = yg;
      tg = time_kernel(j.generic, params, &ctx, runs > 3 ? 3 : runs);
      double maxabs = 0;
      for (int64_t e = 0; e < ny; e++) maxabs = fmax(maxabs, fabs(yg[e]));
      for (int64_t e = 0; e < ny; e++) diff = fmax(diff, fabs(yt[e] - yg[e]) / (maxabs > 0 ? maxabs : 1));
      if (!(diff < 1e-4)) status = 1;
    } else {
      all_generic = false;
    }
    char shape[96];
    tcc_type_format(&node->outputs[0]->type, shape, sizeof shape);
    printf("| %s | %s | %s | %.1f | %.3f | %.1f |", cv->name, plan.kernels[k].kind, shape, flops / 1e6, tt * 1e3,
           flops / tt / 1e9);
    if (j.generic) printf(" %.2f | %.2f | %.1fx | %.1e |\n", tg * 1e3, flops / tg / 1e9, tg / tt, diff);
    else printf(" - | - | - | - |\n");
    total_flops += flops, total_t += tt, total_g += tg;
    for (int i = 0, p = 0; i < node->num_inputs; i++)
      if (node->inputs[i] && !node->inputs[i]->constant) free(params[p++]);
      else if (node->inputs[i]) p++;
    free(yt), free(yg);
    tcc_test_jit_free(&j.jit);
  }
  printf("| all conv layers | | | %.1f | %.3f | %.1f |", total_flops / 1e6, total_t * 1e3, total_flops / total_t / 1e9);
  if (all_generic && total_g > 0)
    printf(" %.2f | %.2f | %.1fx | |\n", total_g * 1e3, total_flops / total_g / 1e9, total_g / total_t);
  else printf(" | | | |\n");
  if (status) fprintf(stderr, "bench_conv: template and generic outputs differ (see max rel diff)\n");
  tcc_rt_pool_destroy(pool);
  tcc_module_destroy(m);
  tcc_module_destroy(orig);
  return status;
}
