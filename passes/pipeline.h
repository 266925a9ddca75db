/* The optimization pipeline: every graph pass in order (passes/pipeline.c), then the plan — the kernels
 * that remain and the memory plan.
 *
 *   tcc_pipeline_options_t o = tcc_pipeline_defaults();
 *   o.dump_after = "fusion";               // or "all"; the IR after that pass goes to o.dump
 *   tcc_plan_t plan;
 *   TCC_RETURN_IF_ERROR(tcc_pipeline_run(g, &o, &plan));
 *
 * Debug builds run the verifier after every pass. TCC_TIME_PASSES=1 in the environment (or
 * o.time_passes) prints each pass's time to o.dump; TCC_DEBUG=2 dumps after every pass when dump_after
 * is not set. A dump is "// ---- after PASS" then the IR text, or the header alone with "(unchanged)" or
 * "(disabled)"; after memory_planning it lists each kernel output's arena offset and size. Pass names: canonicalize, constant_folding, dce, cse,
 * fold_batch_norm, sink_transposes, layout, precision, fusion, memory_planning.
 */
#ifndef TCC_PASSES_PIPELINE_H
#define TCC_PASSES_PIPELINE_H

#include "passes/passes.h"

typedef struct {
  tcc_pass_context_t context;
  const char *dump_after;       /* NULL, a pass name, or "all" */
  FILE *dump;                   /* NULL: stderr */
  const char *const *disabled;  /* pass names to skip (ablations) */
  int num_disabled;
  bool time_passes;
  tcc_canonicalize_options_t canonicalize;
  tcc_constant_folding_options_t constant_folding;
  tcc_dce_options_t dce;
  tcc_cse_options_t cse;
  tcc_fold_batch_norm_options_t fold_batch_norm;
  tcc_sink_transposes_options_t sink_transposes;
  tcc_layout_options_t layout;
  tcc_precision_options_t precision;
  tcc_fusion_options_t fusion;
  tcc_memory_planning_options_t memory_planning;
} tcc_pipeline_options_t;

tcc_pipeline_options_t tcc_pipeline_defaults(void);

typedef struct {
  const tcc_node_t *node; /* in the rewritten graph */
  const char *kind;       /* tcc_node_kernel_kind */
} tcc_plan_kernel_t;

typedef struct {
  int num_kernels;
  tcc_plan_kernel_t *kernels; /* in execution order, in the graph's module arena */
  tcc_memory_plan_t memory;
} tcc_plan_t;

/* Runs every enabled pass on g in order, then lists the kernels. A pass name in dump_after or disabled
 * that is not a pass is TCC_INVALID_ARGUMENT naming it. */
TCC_MUST_USE tcc_status_t tcc_pipeline_run(tcc_graph_t *g, const tcc_pipeline_options_t *options, tcc_plan_t *plan);

/* Runs the one graph pass called name (golden tests, ablations); options NULL: the defaults. */
TCC_MUST_USE tcc_status_t tcc_pipeline_run_pass(tcc_graph_t *g, const char *name, const tcc_pipeline_options_t *options,
                                                bool *changed);

/* "fp32", "fp16" or "bf16" (the --precision option) as TCC_DTYPE_F32/F16/BF16; TCC_DTYPE_UNDEFINED (0)
 * for anything else. */
tcc_dtype_t tcc_pipeline_parse_precision(const char *name);

/* The pass names in order, NULL-terminated. */
const char *const *tcc_pipeline_pass_names(void);

#endif
