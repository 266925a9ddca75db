/* The graph passes and the pipeline that runs them (passes/pipeline.c is THE ordered list).
 *
 *   tcc_pipeline_options_t o = tcc_pipeline_defaults();
 *   o.context.target = "x86-64-v4";
 *   tcc_plan_t plan;
 *   TCC_RETURN_IF_ERROR(tcc_pipeline_run(m->graph, &o, &plan));   // m->graph is rewritten in place
 *   // plan.num_kernels, plan.kernels[i].kind ("conv2d+bias+relu"), plan.memory.peak_bytes
 *
 * Every pass has one entry point, tcc_pass_<name>(graph, context, options), and one options struct with
 * defaults (TCC_<NAME>_DEFAULTS); it rewrites the graph in place, keeps it typed (re-inferring what it
 * changes) and in topological order, and sets *changed. Passes work on the main graph; subgraphs of
 * control-flow nodes are left as imported. Thread-safety: a graph is rewritten by one thread at a time.
 */
#ifndef TCC_PASSES_PASSES_H
#define TCC_PASSES_PASSES_H

#include <stdbool.h>
#include <stdio.h>

#include "ir/graph.h"
#include "passes/constant_folding.h"

/* What every pass may consult. */
typedef struct {
  const char *target;     /* "generic" (default; layout stays NCHW), x86-64-v3, x86-64-v4, znver4, native,
                           * aarch64, aarch64+dotprod, sm_80, sm_86, sm_89, sm_90, sm_90a */
  tcc_dtype_t precision;  /* TCC_DTYPE_F32 (default), TCC_DTYPE_F16 or TCC_DTYPE_BF16 */
  /* Sizes for symbolic dims where a pass needs numbers (memory planning): symbol -> value; NULL or an
   * unbound symbol: 1. */
  tcc_dim_lookup_fn_t dim_lookup;
  void *dim_ctx;
} tcc_pass_context_t;

/* ---- the passes, in pipeline order ---- */

typedef struct {
  bool gemm_to_matmul; /* Gemm -> MatMul (+ Add) with transposes folded into constant weights */
} tcc_canonicalize_options_t;
#define TCC_CANONICALIZE_DEFAULTS {.gemm_to_matmul = true}
/* Canonical forms: Flatten/Squeeze/Unsqueeze as Reshape, Gemm and MatMul+Add normal form, no-ops
 * removed (Identity, inference Dropout, Cast to the same type, Reshape/Expand to the same shape ...). */
TCC_MUST_USE tcc_status_t tcc_pass_canonicalize(tcc_graph_t *g, const tcc_pass_context_t *ctx,
                                                const tcc_canonicalize_options_t *options, bool *changed);

/* Constant folding (passes/constant_folding.h) runs as tcc_pass_constant_folding. */
TCC_MUST_USE tcc_status_t tcc_pass_constant_folding(tcc_graph_t *g, const tcc_pass_context_t *ctx,
                                                    const tcc_constant_folding_options_t *options, bool *changed);

typedef struct {
  int unused; /* no options */
} tcc_dce_options_t;
#define TCC_DCE_DEFAULTS {0}
/* Dead code elimination: nodes none of whose outputs is read (graph outputs and subgraph reads count),
 * and constants nothing reads. */
TCC_MUST_USE tcc_status_t tcc_pass_dce(tcc_graph_t *g, const tcc_pass_context_t *ctx, const tcc_dce_options_t *options,
                                       bool *changed);

typedef struct {
  int unused; /* no options */
} tcc_cse_options_t;
#define TCC_CSE_DEFAULTS {0}
/* Common subexpression elimination: nodes with the same op, attributes and inputs computed once (random
 * ops never merged); identical small constants merged. */
TCC_MUST_USE tcc_status_t tcc_pass_cse(tcc_graph_t *g, const tcc_pass_context_t *ctx, const tcc_cse_options_t *options,
                                       bool *changed);

typedef struct {
  int unused; /* no options */
} tcc_fold_batch_norm_options_t;
#define TCC_FOLD_BATCH_NORM_DEFAULTS {0}
/* Inference BatchNormalization, and Mul/Add by per-channel constants, folded into the weights and bias
 * of the Conv / MatMul / Gemm that feeds them. */
TCC_MUST_USE tcc_status_t tcc_pass_fold_batch_norm(tcc_graph_t *g, const tcc_pass_context_t *ctx,
                                                   const tcc_fold_batch_norm_options_t *options, bool *changed);

typedef struct {
  int unused; /* no options */
} tcc_sink_transposes_options_t;
#define TCC_SINK_TRANSPOSES_DEFAULTS {0}
/* Transposes and reshapes moved through elementwise ops, merged, and cancelled when they compose to the
 * identity. */
TCC_MUST_USE tcc_status_t tcc_pass_sink_transposes(tcc_graph_t *g, const tcc_pass_context_t *ctx,
                                                   const tcc_sink_transposes_options_t *options, bool *changed);

typedef struct {
  int channel_block; /* NCHWc block for CPU targets; 0: chosen from the target's vector width */
} tcc_layout_options_t;
#define TCC_LAYOUT_DEFAULTS {.channel_block = 0}
/* Layout assignment per target: NHWC for GPUs, NCHWc for CPUs, none for "generic"; weights re-laid out
 * at compile time; conversions placed at the edges of runs of convolutions and minimized. */
TCC_MUST_USE tcc_status_t tcc_pass_layout(tcc_graph_t *g, const tcc_pass_context_t *ctx,
                                          const tcc_layout_options_t *options, bool *changed);

typedef struct {
  bool keep_softmax_f32;       /* softmax / log-softmax computed in f32 (default true) */
  bool keep_normalization_f32; /* layer/group/instance/RMS normalization in f32 (default true) */
  bool keep_reductions_f32;    /* reductions in f32 (default true) */
  bool allow_tf32;             /* float32 products on tensor cores in TF32 on GPU targets (default false) */
} tcc_precision_options_t;
#define TCC_PRECISION_DEFAULTS {.keep_softmax_f32 = true, .keep_normalization_f32 = true, .keep_reductions_f32 = true}
/* ctx->precision f16/bf16: f32 weights and activations become half types with f32 accumulation; the ops
 * kept in f32 are wrapped in casts. f32 with allow_tf32 on a GPU target: the float32 MatMul, Gemm and
 * Conv nodes get the attribute tf32 = 1 (their operands may be rounded to TF32, 10 bits of mantissa, by
 * the GPU templates; the evaluator and the CPU ignore it). No other change for f32. */
TCC_MUST_USE tcc_status_t tcc_pass_precision(tcc_graph_t *g, const tcc_pass_context_t *ctx,
                                             const tcc_precision_options_t *options, bool *changed);

typedef struct {
  bool elementwise;  /* chains of elementwise ops into one kernel */
  bool epilogues;    /* conv/matmul + bias + activation + residual add */
  bool reductions;   /* LayerNorm / RMSNorm / GELU patterns into their ops */
  bool attention;    /* MatMul -> (scale, mask, causal) -> Softmax -> MatMul into one attention op (generic and
                      * GPU targets: CPU targets run the two matmuls with the GEMM template) */
} tcc_fusion_options_t;
#define TCC_FUSION_DEFAULTS {.elementwise = true, .epilogues = true, .reductions = true, .attention = true}
/* Operator fusion: recognized patterns become their canonical ops (gelu, layer_normalization,
 * rms_normalization, attention); groups become `fused` nodes whose body subgraph holds the group's ops
 * and whose `kind` names the kernel ("conv2d+bias+relu", "matmul+bias+gelu", "elementwise"). */
TCC_MUST_USE tcc_status_t tcc_pass_fusion(tcc_graph_t *g, const tcc_pass_context_t *ctx,
                                          const tcc_fusion_options_t *options, bool *changed);

typedef struct {
  bool in_place;   /* an elementwise kernel may write over an input that dies there (default true) */
  int64_t alignment; /* bytes, default 64 */
} tcc_memory_planning_options_t;
#define TCC_MEMORY_PLANNING_DEFAULTS {.in_place = true, .alignment = 64}

/* The memory plan: every activation (a value a kernel writes, graph inputs excluded) gets an offset in
 * one arena; views (Reshape) share their source's offset. Sizes use ctx's symbol values. */
typedef struct {
  int64_t peak_bytes;       /* the arena size */
  int64_t live_bytes_bound; /* the largest total of simultaneously live activations: no plan does better */
  int64_t *offset;          /* by value id; -1 for values with no place in the arena */
  int64_t *size;            /* by value id; bytes (0 when none) */
  uint32_t num_values;      /* length of offset and size (the module's value-id count when planned) */
} tcc_memory_plan_t;
TCC_MUST_USE tcc_status_t tcc_pass_memory_planning(tcc_graph_t *g, const tcc_pass_context_t *ctx,
                                                   const tcc_memory_planning_options_t *options,
                                                   tcc_memory_plan_t *plan);

/* ---- kernels ---- */

/* Whether node n is a kernel of the plan (views, Identity and constants are not) and its kind: the
 * `kind` attribute of a fused node, else a short name of the op ("conv2d", "matmul", "layernorm",
 * "attention", "maxpool", ...). */
bool tcc_node_is_kernel(const tcc_node_t *n);
const char *tcc_node_kernel_kind(const tcc_node_t *n);

#endif
