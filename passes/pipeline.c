/* THE ordered list of graph passes (contract in passes/pipeline.h). */
#include "passes/pipeline.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir/text.h"
#include "ir/verify.h"

typedef tcc_status_t (*pass_fn_t)(tcc_graph_t *g, const tcc_pipeline_options_t *o, bool *changed);

#define ADAPT(name)                                                                          \
  static tcc_status_t run_##name(tcc_graph_t *g, const tcc_pipeline_options_t *o, bool *changed) { \
    return tcc_pass_##name(g, &o->context, &o->name, changed);                               \
  }
ADAPT(canonicalize)
ADAPT(constant_folding)
ADAPT(dce)
ADAPT(cse)
ADAPT(fold_batch_norm)
ADAPT(sink_transposes)
ADAPT(layout)
ADAPT(precision)
ADAPT(fusion)
#undef ADAPT

typedef struct {
  const char *name;
  pass_fn_t run;
} pass_t;

static const pass_t passes[] = {
    {"canonicalize", run_canonicalize},         /* one form per construct: reshapes, Gemm, no-ops gone */
    {"constant_folding", run_constant_folding}, /* all-constant subgraphs evaluated once */
    {"dce", run_dce},                           /* what nothing reads */
    {"cse", run_cse},                           /* what is computed twice */
    {"fold_batch_norm", run_fold_batch_norm},   /* BatchNorm / per-channel scale and shift into weights */
    {"sink_transposes", run_sink_transposes},   /* transposes and reshapes moved, merged, cancelled */
    {"layout", run_layout},                     /* NHWC / NCHWc per target, weights re-laid out */
    {"precision", run_precision},               /* half types with f32 accumulation, when asked */
    {"constant_folding", run_constant_folding}, /* what layout and precision made constant */
    {"dce", run_dce},                           /* ... and left unread */
    {"fusion", run_fusion},                     /* patterns into ops, groups into fused kernels */
};
enum { NUM_PASSES = sizeof passes / sizeof passes[0] };

/* memory_planning runs last, on the kernels, and is not a graph rewrite. */
static const char *const pass_names[] = {"canonicalize", "constant_folding", "dce", "cse", "fold_batch_norm",
                                         "sink_transposes", "layout", "precision", "fusion", "memory_planning",
                                         NULL};

const char *const *tcc_pipeline_pass_names(void) { return pass_names; }

tcc_dtype_t tcc_pipeline_parse_precision(const char *name) {
  return strcmp(name, "fp32") == 0 ? TCC_DTYPE_F32
         : strcmp(name, "fp16") == 0 ? TCC_DTYPE_F16
         : strcmp(name, "bf16") == 0 ? TCC_DTYPE_BF16
                                     : TCC_DTYPE_UNDEFINED;
}

tcc_pipeline_options_t tcc_pipeline_defaults(void) {
  return (tcc_pipeline_options_t){
      .context = {.target = "generic", .precision = TCC_DTYPE_F32},
      .canonicalize = TCC_CANONICALIZE_DEFAULTS,
      .constant_folding = TCC_CONSTANT_FOLDING_DEFAULTS,
      .dce = TCC_DCE_DEFAULTS,
      .cse = TCC_CSE_DEFAULTS,
      .fold_batch_norm = TCC_FOLD_BATCH_NORM_DEFAULTS,
      .sink_transposes = TCC_SINK_TRANSPOSES_DEFAULTS,
      .layout = TCC_LAYOUT_DEFAULTS,
      .precision = TCC_PRECISION_DEFAULTS,
      .fusion = TCC_FUSION_DEFAULTS,
      .memory_planning = TCC_MEMORY_PLANNING_DEFAULTS,
  };
}

static bool is_pass_name(const char *name) {
  for (const char *const *p = pass_names; *p; p++)
    if (strcmp(*p, name) == 0) return true;
  return false;
}

static bool is_disabled(const tcc_pipeline_options_t *o, const char *name) {
  for (int i = 0; i < o->num_disabled; i++)
    if (strcmp(o->disabled[i], name) == 0) return true;
  return false;
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* After a pass: the verifier in debug builds, the dump when asked, the time when asked. */
static tcc_status_t after_pass(tcc_graph_t *g, const tcc_pipeline_options_t *o, const char *name, bool changed,
                               bool skipped, double seconds) {
  FILE *out = o->dump ? o->dump : stderr;
#ifndef NDEBUG
  tcc_status_t st = tcc_module_verify(g->module);
  if (st) return tcc_status_annotate(st, "after pass %s: ", name);
#endif
  if (o->time_passes) fprintf(out, "pass %-18s %9.3f ms%s\n", name, seconds * 1e3, skipped ? " (disabled)" : "");
  if (o->dump_after && (strcmp(o->dump_after, "all") == 0 || strcmp(o->dump_after, name) == 0)) {
    fprintf(out, "// ---- after %s%s\n", name, skipped ? " (disabled)" : changed ? "" : " (unchanged)");
    if (changed) TCC_RETURN_IF_ERROR(tcc_text_print(g->module, out, NULL));
  }
  return NULL;
}

/* The memory plan as text: the arena, then each kernel's outputs with their offsets and sizes. */
static void dump_memory_plan(const tcc_plan_t *plan, bool skipped, FILE *out) {
  const tcc_memory_plan_t *mp = &plan->memory;
  fprintf(out, "// ---- after memory_planning%s\n", skipped ? " (disabled)" : "");
  if (skipped) return;
  fprintf(out, "arena %lld bytes (live bound %lld)\n", (long long)mp->peak_bytes, (long long)mp->live_bytes_bound);
  for (int i = 0; i < plan->num_kernels; i++) {
    const tcc_node_t *n = plan->kernels[i].node;
    for (int k = 0; k < n->num_outputs; k++) {
      const tcc_value_t *v = n->outputs[k];
      if (!v || v->id >= mp->num_values || !mp->offset || mp->offset[v->id] < 0) continue;
      fprintf(out, "  %-32s offset %10lld  size %10lld  (%s)\n", v->name, (long long)mp->offset[v->id],
              (long long)mp->size[v->id], plan->kernels[i].kind);
    }
  }
}

tcc_status_t tcc_pipeline_run(tcc_graph_t *g, const tcc_pipeline_options_t *options, tcc_plan_t *plan) {
  tcc_pipeline_options_t o = options ? *options : tcc_pipeline_defaults();
  memset(plan, 0, sizeof *plan);
  if (o.dump_after && strcmp(o.dump_after, "all") != 0 && !is_pass_name(o.dump_after))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "--dump-after: no pass named '%s'", o.dump_after);
  for (int i = 0; i < o.num_disabled; i++)
    if (!is_pass_name(o.disabled[i]))
      return tcc_status_make(TCC_INVALID_ARGUMENT, "--disable-pass: no pass named '%s'", o.disabled[i]);
  const char *env = getenv("TCC_TIME_PASSES");
  o.time_passes |= env && env[0] == '1';
  const char *debug = getenv("TCC_DEBUG"); /* TCC_DEBUG=2: the IR after every pass (DESIGN.md ③) */
  if (!o.dump_after && debug && atoi(debug) >= 2) o.dump_after = "all";
  for (int i = 0; i < NUM_PASSES; i++) {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool changed = false, skipped = is_disabled(&o, passes[i].name);
    if (!skipped) {
      tcc_status_t st = passes[i].run(g, &o, &changed);
      if (st) return tcc_status_annotate(st, "pass %s: ", passes[i].name);
    }
    TCC_RETURN_IF_ERROR(after_pass(g, &o, passes[i].name, changed, skipped, seconds_since(&t0)));
  }
  /* the plan: kernels in order, then their memory */
  plan->kernels = tcc_module_alloc(g->module, (g->num_nodes + 1) * sizeof *plan->kernels);
  if (!plan->kernels) return tcc_status_oom();
  for (size_t i = 0; i < g->num_nodes; i++)
    if (tcc_node_is_kernel(g->nodes[i]))
      plan->kernels[plan->num_kernels++] = (tcc_plan_kernel_t){g->nodes[i], tcc_node_kernel_kind(g->nodes[i])};
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  bool skipped = is_disabled(&o, "memory_planning");
  if (!skipped) {
    tcc_status_t st = tcc_pass_memory_planning(g, &o.context, &o.memory_planning, &plan->memory);
    if (st) return tcc_status_annotate(st, "pass memory_planning: ");
  }
  FILE *out = o.dump ? o.dump : stderr;
  if (o.time_passes) fprintf(out, "pass %-18s %9.3f ms%s\n", "memory_planning", seconds_since(&t0) * 1e3,
                             skipped ? " (disabled)" : "");
  if (o.dump_after && (strcmp(o.dump_after, "all") == 0 || strcmp(o.dump_after, "memory_planning") == 0))
    dump_memory_plan(plan, skipped, out);
  return NULL;
}

tcc_status_t tcc_pipeline_run_pass(tcc_graph_t *g, const char *name, const tcc_pipeline_options_t *options,
                                   bool *changed) {
  tcc_pipeline_options_t o = options ? *options : tcc_pipeline_defaults();
  *changed = false;
  for (int i = 0; i < NUM_PASSES; i++)
    if (strcmp(passes[i].name, name) == 0) return passes[i].run(g, &o, changed);
  return tcc_status_make(TCC_INVALID_ARGUMENT, "no graph pass named '%s'", name);
}
