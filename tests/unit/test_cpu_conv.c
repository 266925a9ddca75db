/* The CPU convolution template (codegen/cpu_conv.h) against the reference evaluator: small NCHW graphs go
 * through the real pipeline for x86-64-v4 (layout NCHW16c, epilogue fusion); the planned conv kernel is
 * emitted by the template, JIT-compiled for the host and run on a real thread pool (2 threads), and its
 * output is compared with the evaluator's (the body's compute definitions node by node) on random inputs
 * with a relative tolerance. Cases: 3x3 stride 1 and 2 with padding, asymmetric pads, dilation, odd
 * widths, 1x1 (merged rows too), 7x7 stride 2 on a 3-channel image, depthwise 3x3 stride 1 and 2, channel
 * counts padded to the block, residual add + relu, relu6, leaky_relu, batch 1 and a symbolic batch of 2,
 * explicit knobs; cases the template declines; knob errors. With ../shared/models (or TCC_MODELS) present,
 * every conv kernel of resnet18, mobilenet_v2, squeezenet1_1 and convnet3x3 is either applied (and then
 * checked against the evaluator at batch 1) or declined with its reason, printed. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "codegen/cpu_conv.h"
#include "frontend/onnx_import.h"
#include "ir/kernel_eval.h"
#include "passes/pipeline.h"
#include "tcc/runtime.h"
#include "tests/graph_builder.h"
#include "tests/jit.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float uniform(void) { /* [-1, 1) */
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (float)((double)(rng >> 11) / 4503599627370496.0 - 1.0);
}

static tcc_rt_pool_t *pool;

static bool lookup_batch(void *ctx, const char *symbol, int64_t *value) {
  if (strcmp(symbol, "batch") != 0) return false;
  *value = *(const int64_t *)ctx;
  return true;
}

static int64_t numel(const tcc_value_t *v, int64_t batch) {
  int64_t n = 1, d;
  for (int i = 0; i < v->type.rank; i++) {
    CHECK(tcc_dim_eval(v->type.dims[i], lookup_batch, &batch, &d));
    n *= d;
  }
  return n;
}

/* ---- reference: the node's compute definitions (its body's nodes, in order) on the evaluator ---- */

typedef struct {
  const tcc_value_t *v[64];
  void *buf[64];
  bool owned[64];
  int n;
} buffers_t;

static void *buffer_of(buffers_t *b, const tcc_value_t *v, int64_t batch) {
  for (int i = 0; i < b->n; i++)
    if (b->v[i] == v) return b->buf[i];
  if (v->constant) return (void *)v->constant->data;
  CHECK(b->n < 64);
  b->v[b->n] = v, b->owned[b->n] = true;
  b->buf[b->n] = calloc((size_t)numel(v, batch) + 1, sizeof(float));
  return b->buf[b->n++];
}

static bool reference(const tcc_node_t *node, void *const *params, int64_t batch) {
  const tcc_attr_t *a = tcc_node_attr(node, "body");
  const tcc_graph_t *body = node->op == TCC_OP_FUSED ? a->g : NULL;
  buffers_t b = {.n = 0};
  int nin = 0;
  for (int i = 0; i < node->num_inputs; i++)
    if (node->inputs[i]) {
      b.v[b.n] = body ? body->inputs[i] : node->inputs[i], b.buf[b.n++] = params[nin++];
    }
  b.v[b.n] = body ? body->outputs[0] : node->outputs[0], b.buf[b.n++] = params[nin];
  size_t count = body ? body->num_nodes : 1;
  bool ok = true;
  for (size_t s = 0; s < count && ok; s++) {
    const tcc_node_t *n = body ? body->nodes[s] : node;
    tcc_kernel_t *k = NULL;
    tcc_status_t st = tcc_compute_build(n, &k);
    void *bufs[16];
    int np = 0;
    for (int i = 0; i < n->num_inputs; i++)
      if (n->inputs[i]) bufs[np++] = buffer_of(&b, n->inputs[i], batch);
    for (int i = 0; i < n->num_outputs; i++)
      if (n->outputs[i]) bufs[np++] = buffer_of(&b, n->outputs[i], batch);
    if (!st) st = tcc_kernel_eval(k, bufs, lookup_batch, &batch);
    if (st) {
      fprintf(stderr, "reference of '%s': %s\n", n->name, tcc_status_message(st));
      tcc_status_free(st);
      ok = false;
    }
  }
  for (int i = 0; i < b.n; i++)
    if (b.owned[i]) free(b.buf[i]);
  return ok;
}

/* ---- the template, JIT-compiled ---- */

typedef struct {
  tcc_test_jit_t jit;
  tcc_module_kernel_fn_t fn;
  int64_t syms[4];
} conv_jit_t;

/* Emits node with the template; false (nothing to run) when declined or on an error. */
static const char *target = "x86-64-v4"; /* of the plans and the emitted kernels (run on the host) */

static bool jit_conv(conv_jit_t *j, const tcc_node_t *node, const tcc_cpu_conv_knobs_t *knobs, int64_t batch) {
  memset(j, 0, sizeof *j);
  CHECK_OK(tcc_test_jit_begin(&j->jit, "conv", NULL));
  tcc_llvm_emitter_t *e = j->jit.emitter;
  const char *sym = NULL;
  bool applied = false;
  CHECK_OK(tcc_cpu_conv_emit(e, node, target, knobs, &sym, &applied));
  if (!applied) return false;
  for (int i = 0; i < tcc_llvm_emitter_num_symbols(e) && i < 4; i++) {
    CHECK_STR(tcc_llvm_emitter_symbol(e, i), "batch");
    j->syms[i] = batch;
  }
  /* AArch64 kernels (NEON-sized tiles) run here as x86 code of the same IR */
  tcc_status_t st = tcc_test_jit_finish(&j->jit, strncmp(target, "aarch64", 7) ? target : "x86-64-v3");
  if (!st) st = tcc_test_jit_lookup(&j->jit, sym, &j->fn);
  bool compiled = tcc_test_jit_ok(st, "jit");
  CHECK(compiled);
  return compiled;
}

/* Runs node through the template and the evaluator on random inputs (constants keep their data);
 * returns whether the template applied. */
static bool check_node(const tcc_node_t *node, const tcc_cpu_conv_knobs_t *knobs, int64_t batch) {
  conv_jit_t j;
  bool applied = jit_conv(&j, node, knobs, batch);
  if (!applied || !j.fn) {
    tcc_test_jit_free(&j.jit);
    return applied;
  }
  void *params[32], *got = NULL;
  int np = 0;
  for (int i = 0; i < node->num_inputs; i++) {
    const tcc_value_t *v = node->inputs[i];
    if (!v) continue;
    if (v->constant) {
      params[np++] = (void *)v->constant->data;
      continue;
    }
    int64_t n = numel(v, batch);
    float *x = malloc((size_t)n * sizeof *x + 4);
    for (int64_t e = 0; e < n; e++) x[e] = uniform();
    params[np++] = x;
  }
  int64_t ny = numel(node->outputs[0], batch);
  float *ref = calloc((size_t)ny + 1, sizeof *ref);
  got = malloc((size_t)ny * sizeof(float) + 4);
  memset(got, 0xff, (size_t)ny * sizeof(float)); /* NaN: an output the kernel leaves unwritten fails */
  params[np] = ref;
  bool ref_ok = reference(node, params, batch);
  CHECK(ref_ok);
  params[np] = got;
  tcc_module_kernel_ctx_t ctx = tcc_test_pool_ctx(pool, 2, j.syms);
  CHECK(j.fn(params, &ctx) == 0);
  double maxabs = 0, maxerr = 0;
  for (int64_t e = 0; e < ny; e++) maxabs = fmax(maxabs, fabs(ref[e]));
  int64_t bad = 0;
  for (int64_t e = 0; e < ny; e++) {
    double d = fabs((double)((float *)got)[e] - ref[e]);
    if (!(d <= 2e-5 * maxabs + 1e-6)) bad++;
    if (!(d <= maxerr)) maxerr = d;
  }
  if (bad || !ref_ok) fprintf(stderr, "'%s': %lld of %lld outputs differ (max error %g, max |y| %g)\n", node->name,
                              (long long)bad, (long long)ny, maxerr, maxabs);
  CHECK(bad == 0);
  np = 0;
  for (int i = 0; i < node->num_inputs; i++)
    if (node->inputs[i] && !node->inputs[i]->constant) free(params[np++]);
    else if (node->inputs[i]) np++;
  free(ref), free(got);
  tcc_test_jit_free(&j.jit);
  return true;
}

/* ---- small graphs ---- */

enum { EPI_NONE, EPI_RELU, EPI_RESIDUAL_RELU, EPI_RELU6, EPI_LEAKY, EPI_SIGMOID, EPI_SCALE_RESIDUAL_HSWISH };

typedef struct {
  const char *batch; /* "batch" or "1" */
  int64_t c, h, w, m, kh, kw, sh, sw, dh, dw, group;
  int64_t pads[4];
  bool bias;
  int epilogue;
} conv_case_t;

static tcc_value_t *const_random(tcc_graph_t *g, int rank, const int64_t *dims, float scale) {
  tcc_tensor_t *t = tcc_tensor_create(g->module, TCC_DTYPE_F32, rank, dims);
  float *f = (float *)t->data;
  for (int64_t i = 0; i < t->numel; i++) f[i] = uniform() * scale;
  return tcc_graph_add_constant(g, NULL, t);
}

static tcc_value_t *const_scalar(tcc_graph_t *g, float v) {
  tcc_tensor_t *t = tcc_tensor_create(g->module, TCC_DTYPE_F32, 0, NULL);
  memcpy((void *)t->data, &v, 4);
  return tcc_graph_add_constant(g, NULL, t);
}

/* An NCHW graph conv (+ epilogue) -> pipeline for x86-64-v4; *conv is the planned conv kernel. */
static tcc_module_t *plan_case(const conv_case_t *cc, const tcc_node_t **conv) {
  tcc_module_t *m = new_module();
  tcc_graph_t *g = m->graph;
  char shape[128];
  snprintf(shape, sizeof shape, "%s, %lld, %lld, %lld", cc->batch, (long long)cc->c, (long long)cc->h, (long long)cc->w);
  tcc_value_t *x = input(g, TCC_DTYPE_F32, shape);
  int64_t wd[4] = {cc->m, cc->c / cc->group, cc->kh, cc->kw};
  float scale = 1.0f / sqrtf((float)(wd[1] * cc->kh * cc->kw));
  tcc_value_t *w = const_random(g, 4, wd, scale), *b = cc->bias ? const_random(g, 1, &cc->m, 1.0f) : NULL;
  tcc_node_t *n = node(g, TCC_OP_CONV, 1, cc->bias ? 3 : 2, x, w, b);
  attr_ints(n, "strides", 2, (int64_t[]){cc->sh, cc->sw});
  attr_ints(n, "dilations", 2, (int64_t[]){cc->dh, cc->dw});
  attr_ints(n, "pads", 4, cc->pads);
  attr_int(n, "group", cc->group);
  CHECK_OK(tcc_graph_infer(g));
  tcc_value_t *y = n->outputs[0];
  switch (cc->epilogue) {
    case EPI_RELU: y = node(g, TCC_OP_RELU, 1, 1, y)->outputs[0]; break;
    case EPI_SCALE_RESIDUAL_HSWISH:
    case EPI_RESIDUAL_RELU: {
      if (cc->epilogue == EPI_SCALE_RESIDUAL_HSWISH) { /* a per-channel scale, then a scalar one */
        tcc_value_t *scale = const_random(g, 3, (int64_t[]){cc->m, 1, 1}, 2.0f);
        y = node(g, TCC_OP_MUL, 1, 2, y, scale)->outputs[0];
        y = node(g, TCC_OP_MUL, 1, 2, const_scalar(g, 1.5f), y)->outputs[0];
        CHECK_OK(tcc_graph_infer(g));
      }
      const tcc_value_t *yy = y;
      char dims[128] = "";
      for (int i = 0; i < 4; i++) {
        char d[48];
        tcc_dim_format(yy->type.dims[i], d, sizeof d);
        strcat(dims, d);
        if (i < 3) strcat(dims, ", ");
      }
      tcc_value_t *r = input(g, TCC_DTYPE_F32, dims);
      y = node(g, TCC_OP_ADD, 1, 2, r, y)->outputs[0];
      y = node(g, cc->epilogue == EPI_RESIDUAL_RELU ? TCC_OP_RELU : TCC_OP_HARD_SWISH, 1, 1, y)->outputs[0];
      break;
    }
    case EPI_RELU6: y = node(g, TCC_OP_CLIP, 1, 3, y, const_scalar(g, 0), const_scalar(g, 6))->outputs[0]; break;
    case EPI_LEAKY: {
      tcc_node_t *l = node(g, TCC_OP_LEAKY_RELU, 1, 1, y);
      attr_float(l, "alpha", 0.1);
      y = l->outputs[0];
      break;
    }
    case EPI_SIGMOID: y = node(g, TCC_OP_SIGMOID, 1, 1, y)->outputs[0]; break;
    default: break;
  }
  tcc_graph_add_output(g, y);
  CHECK_OK(tcc_graph_infer(g));
  tcc_pipeline_options_t o = tcc_pipeline_defaults();
  o.context.target = target;
  tcc_plan_t plan;
  *conv = NULL;
  CHECK_OK(tcc_pipeline_run(g, &o, &plan));
  for (int i = 0; i < plan.num_kernels; i++)
    if (!strncmp(plan.kernels[i].kind, "conv", 4)) *conv = plan.kernels[i].node;
  CHECK(*conv != NULL);
  return m;
}

/* Plans the case and checks the template on it at the given batch; returns whether it applied. */
static bool run_case(const conv_case_t *cc, const tcc_cpu_conv_knobs_t *knobs, int64_t batch) {
  const tcc_node_t *conv;
  tcc_module_t *m = plan_case(cc, &conv);
  bool applied = conv && check_node(conv, knobs, batch);
  tcc_module_destroy(m);
  return applied;
}

#define P(a, b, c, d) {a, b, c, d}

TEST(conv3x3_stride1_relu_symbolic_batch) {
  conv_case_t cc = {"batch", 32, 10, 10, 32, 3, 3, 1, 1, 1, 1, 1, P(1, 1, 1, 1), true, EPI_RELU};
  CHECK(run_case(&cc, NULL, 2));
  CHECK(run_case(&cc, NULL, 1));
}

TEST(conv3x3_stride2_odd_sizes_plain) {
  conv_case_t cc = {"1", 16, 11, 13, 32, 3, 3, 2, 2, 1, 1, 1, P(1, 1, 1, 1), false, EPI_NONE};
  CHECK(run_case(&cc, NULL, 1));
}

TEST(conv3x3_asymmetric_pads_dilation_leaky) {
  conv_case_t cc = {"batch", 16, 9, 12, 16, 3, 3, 1, 2, 2, 1, 1, P(0, 2, 2, 1), true, EPI_LEAKY};
  CHECK(run_case(&cc, NULL, 2));
}

TEST(conv1x1_residual_relu) {
  conv_case_t cc = {"batch", 64, 7, 7, 48, 1, 1, 1, 1, 1, 1, 1, P(0, 0, 0, 0), true, EPI_RESIDUAL_RELU};
  CHECK(run_case(&cc, NULL, 2));
  tcc_cpu_conv_knobs_t merged = {.row_merge = 7, .oc_tile = 1};
  CHECK(run_case(&cc, &merged, 1));
}

TEST(conv1x1_stride2_downsample) {
  conv_case_t cc = {"1", 32, 14, 14, 64, 1, 1, 2, 2, 1, 1, 1, P(0, 0, 0, 0), false, EPI_NONE};
  CHECK(run_case(&cc, NULL, 1));
}

TEST(conv7x7_stride2_rgb_input) {
  conv_case_t cc = {"batch", 3, 30, 30, 64, 7, 7, 2, 2, 1, 1, 1, P(3, 3, 3, 3), true, EPI_RELU};
  CHECK(run_case(&cc, NULL, 1));
}

TEST(padded_channels_residual) {
  conv_case_t cc = {"batch", 24, 8, 9, 40, 3, 3, 1, 1, 1, 1, 1, P(1, 1, 1, 1), true, EPI_RESIDUAL_RELU};
  CHECK(run_case(&cc, NULL, 2));
}

TEST(scale_residual_hard_swish) {
  conv_case_t cc = {"batch", 16, 6, 7, 32, 3, 3, 1, 1, 1, 1, 1, P(1, 1, 1, 1), true, EPI_SCALE_RESIDUAL_HSWISH};
  CHECK(run_case(&cc, NULL, 2));
}

/* NCHW8c (x86-64-v3 and AArch64): <8 x float> kernels, run on the host through the JIT */
TEST(nchw8c_blocks) {
  target = "x86-64-v3";
  conv_case_t direct = {"batch", 24, 9, 10, 40, 3, 3, 2, 1, 1, 1, 1, P(1, 1, 1, 1), true, EPI_RESIDUAL_RELU};
  conv_case_t depthwise = {"batch", 24, 9, 10, 24, 3, 3, 1, 1, 1, 1, 24, P(1, 1, 1, 1), true, EPI_RELU6};
  conv_case_t pointwise = {"1", 16, 5, 5, 32, 1, 1, 1, 1, 1, 1, 1, P(0, 0, 0, 0), false, EPI_NONE};
  CHECK(run_case(&direct, NULL, 2));
  CHECK(run_case(&depthwise, NULL, 1));
  CHECK(run_case(&pointwise, NULL, 1));
  target = "aarch64";
  CHECK(run_case(&direct, NULL, 1));
  /* and an AArch64 object */
  const tcc_node_t *conv;
  tcc_module_t *m = plan_case(&depthwise, &conv);
  tcc_llvm_emitter_t *e;
  CHECK_OK(tcc_llvm_emitter_create("conv", NULL, NULL, &e));
  bool applied = false;
  CHECK_OK(tcc_cpu_conv_emit(e, conv, "aarch64", NULL, NULL, &applied));
  CHECK(applied);
  char path[64];
  snprintf(path, sizeof path, "/tmp/tcc_test_cpu_conv_%d.o", (int)getpid());
  CHECK_OK(tcc_llvm_emitter_finish(e, "aarch64", true));
  CHECK_OK(tcc_llvm_emitter_write(e, "aarch64", TCC_EMIT_OBJ, path));
  FILE *f = fopen(path, "rb");
  unsigned char elf[20] = {0};
  CHECK(f && fread(elf, 1, 20, f) == 20 && elf[0] == 0x7f && elf[18] == 183); /* EM_AARCH64 */
  if (f) fclose(f);
  remove(path);
  tcc_llvm_emitter_destroy(e);
  tcc_module_destroy(m);
  target = "x86-64-v4";
}

TEST(depthwise3x3_stride1_relu6) {
  conv_case_t cc = {"batch", 32, 15, 15, 32, 3, 3, 1, 1, 1, 1, 32, P(1, 1, 1, 1), true, EPI_RELU6};
  CHECK(run_case(&cc, NULL, 1));
}

TEST(depthwise3x3_stride2_batch2) {
  conv_case_t cc = {"batch", 48, 14, 14, 48, 3, 3, 2, 2, 1, 1, 48, P(1, 1, 1, 1), true, EPI_RELU6};
  CHECK(run_case(&cc, NULL, 2));
}

TEST(depthwise_padded_channels) {
  conv_case_t cc = {"1", 24, 9, 10, 24, 3, 3, 1, 1, 1, 1, 24, P(1, 1, 1, 1), true, EPI_RELU};
  CHECK(run_case(&cc, NULL, 1));
}

TEST(explicit_knobs) {
  conv_case_t cc = {"batch", 32, 10, 11, 64, 3, 3, 1, 1, 1, 1, 1, P(1, 1, 1, 1), true, EPI_RESIDUAL_RELU};
  tcc_cpu_conv_knobs_t taps = {.loop_order = TCC_CPU_CONV_ORDER_TAPS_OUTER, .ow_block = 3, .oc_tile = 4};
  CHECK(run_case(&cc, &taps, 2));
  tcc_cpu_conv_knobs_t narrow = {.ow_block = 1, .oc_tile = 1};
  CHECK(run_case(&cc, &narrow, 1));
  tcc_cpu_conv_knobs_t wide = {.ow_block = 11, .oc_tile = 2, .loop_order = TCC_CPU_CONV_ORDER_CHANNELS_OUTER};
  CHECK(run_case(&cc, &wide, 1));
}

TEST(knob_errors) {
  conv_case_t cc = {"1", 16, 6, 6, 32, 3, 3, 1, 1, 1, 1, 1, P(1, 1, 1, 1), true, EPI_NONE};
  const tcc_node_t *conv;
  tcc_module_t *m = plan_case(&cc, &conv);
  tcc_llvm_emitter_t *e;
  CHECK_OK(tcc_llvm_emitter_create("conv", NULL, NULL, &e));
  static const tcc_cpu_conv_knobs_t bad[] = {{.oc_tile = 3}, {.ow_block = 65}, {.loop_order = 9}, {.row_merge = 2}};
  for (int i = 0; i < 4; i++) {
    bool applied = true;
    const char *sym = "x";
    tcc_status_t st = tcc_cpu_conv_emit(e, conv, "x86-64-v4", &bad[i], &sym, &applied);
    CHECK(tcc_status_code(st) == TCC_INVALID_ARGUMENT && !applied && !sym);
    tcc_status_free(st);
  }
  tcc_cpu_conv_knobs_t d;
  CHECK_OK(tcc_cpu_conv_default_knobs(conv, "x86-64-v4", &d));
  CHECK(d.oc_tile >= 1 && 2 % d.oc_tile == 0 && d.ow_block >= 1 && d.row_merge == 1);
  const char *why = "x";
  CHECK(tcc_cpu_conv_check(conv, "x86-64-v4", &why) && why == NULL);
  CHECK(!tcc_cpu_conv_check(conv, "sm_80", &why) && why != NULL);
  tcc_llvm_emitter_destroy(e);
  tcc_module_destroy(m);
}

TEST(declined_cases) {
  /* a grouped conv that is not depthwise stays NCHW; a sigmoid epilogue is not handled */
  conv_case_t grouped = {"1", 32, 6, 6, 32, 3, 3, 1, 1, 1, 1, 2, P(1, 1, 1, 1), true, EPI_RELU};
  conv_case_t sigmoid = {"1", 16, 6, 6, 16, 3, 3, 1, 1, 1, 1, 1, P(1, 1, 1, 1), true, EPI_SIGMOID};
  const conv_case_t *cases[] = {&grouped, &sigmoid};
  for (int i = 0; i < 2; i++) {
    const tcc_node_t *conv;
    tcc_module_t *m = plan_case(cases[i], &conv);
    const char *why = NULL;
    CHECK(conv && !tcc_cpu_conv_check(conv, "x86-64-v4", &why) && why);
    CHECK(!run_case(cases[i], NULL, 1));
    tcc_module_destroy(m);
  }
}

/* ---- the models' conv kernels ---- */

static bool is_conv_kernel(const tcc_node_t *n) {
  if (n->op == TCC_OP_CONV) return true;
  const tcc_attr_t *a = n->op == TCC_OP_FUSED ? tcc_node_attr(n, "body") : NULL;
  return a && a->g && a->g->num_nodes > 0 && a->g->nodes[0]->op == TCC_OP_CONV;
}

TEST(model_conv_kernels) {
  const char *models = getenv("TCC_MODELS");
  static const char *const names[] = {"resnet18", "mobilenet_v2", "squeezenet1_1", "convnet3x3"};
  for (int i = 0; i < 4; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/model.onnx", models ? models : "../shared/models", names[i]);
    tcc_onnx_import_options_t io = {0};
    tcc_module_t *m = NULL;
    tcc_status_t st = tcc_onnx_import_file(path, &io, tcc_allocator_system(), &m);
    if (st) {
      printf("model_conv_kernels: %s not found: skipped\n", path);
      tcc_status_free(st);
      continue;
    }
    tcc_pipeline_options_t o = tcc_pipeline_defaults();
    o.context.target = "x86-64-v4";
    tcc_plan_t plan;
    CHECK_OK(tcc_pipeline_run(m->graph, &o, &plan));
    int applied = 0, declined = 0;
    for (int k = 0; k < plan.num_kernels; k++) {
      const tcc_node_t *n = plan.kernels[k].node;
      if (!is_conv_kernel(n)) continue;
      const char *why = NULL;
      if (tcc_cpu_conv_check(n, "x86-64-v4", &why)) {
        CHECK(check_node(n, NULL, 1));
        applied++;
      } else {
        printf("  %s: declined %s (%s): %s\n", names[i], n->name, plan.kernels[k].kind, why);
        declined++;
      }
    }
    printf("model_conv_kernels: %s: %d conv kernels applied, %d declined\n", names[i], applied, declined);
    tcc_module_destroy(m);
  }
}

static void setup(void) { CHECK_OK(tcc_rt_pool_create(2, NULL, &pool)); }
static void teardown(void) { tcc_rt_pool_destroy(pool); }

RUN_TESTS(T(setup), T(conv3x3_stride1_relu_symbolic_batch), T(conv3x3_stride2_odd_sizes_plain),
          T(conv3x3_asymmetric_pads_dilation_leaky), T(conv1x1_residual_relu), T(conv1x1_stride2_downsample),
          T(conv7x7_stride2_rgb_input), T(padded_channels_residual), T(depthwise3x3_stride1_relu6),
          T(depthwise3x3_stride2_batch2), T(depthwise_padded_channels), T(scale_residual_hard_swish), T(nchw8c_blocks), T(explicit_knobs), T(knob_errors),
          T(declined_cases), T(model_conv_kernels), T(teardown))
