/* The fused-node compute definition (ir/compute_fused.c): graphs run through the real pipeline (targets
 * x86-64-v4, whose layout pass makes NCHW16c convolutions, and generic) and hand-written fused nodes; every
 * fused node's ONE kernel is verified, run by the kernel evaluator on seeded random inputs and compared with
 * evaluating its body node by node (tcc_graph_eval) — bit for bit. The structure is checked too: an
 * epilogue or elementwise group is one loop nest storing each output element once, with no temporaries.
 * When the shared models are present (TCC_MODELS, else ../shared/models), every fused node of their plans
 * for both targets is built and checked the same way with batch = 1, seq = 8, and the kinds are listed
 * with the structure each kernel got. TCC_PRINT_KERNELS=1 prints every fused kernel built. */
#include <math.h>
#include <stdlib.h>

#include "frontend/onnx_import.h"
#include "ir/kernel_eval.h"
#include "ir/text.h"
#include "passes/pipeline.h"
#include "tests/graph_builder.h"

/* ---- symbols and random data ---------------------------------------------------------------------- */

typedef struct {
  int64_t batch, seq;
} sizes_t;

static bool lookup(void *ctx, const char *symbol, int64_t *value) {
  const sizes_t *s = ctx;
  *value = strcmp(symbol, "batch") == 0 ? s->batch : strcmp(symbol, "seq") == 0 ? s->seq : 1;
  return true;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static double uniform(void) { /* [-1, 1) */
  rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
  return (double)(rng_state >> 11) / (double)(1ull << 52) - 1.0;
}

/* A tensor of m of type t (dims evaluated with s): floats uniform in [-1, 1)
 * (f16 and bf16 of magnitude [1/16, 1)), integers 0 or 1, bools random. */
static tcc_tensor_t *random_tensor(tcc_module_t *m, const tcc_type_t *t, sizes_t *s) {
  int64_t dims[16];
  CHECK(t->kind == TCC_TYPE_TENSOR && t->rank >= 0 && t->rank <= 16);
  for (int d = 0; d < t->rank && d < 16; d++) CHECK(tcc_dim_eval(t->dims[d], lookup, s, &dims[d]));
  tcc_tensor_t *x = tcc_tensor_create(m, t->dtype, t->rank, dims);
  if (!x) return NULL;
  for (int64_t i = 0; i < x->numel; i++) {
    double v = uniform();
    switch (x->dtype) {
      case TCC_DTYPE_F32: ((float *)x->data)[i] = (float)v; break;
      case TCC_DTYPE_F64: ((double *)x->data)[i] = v; break;
      case TCC_DTYPE_I64: ((int64_t *)x->data)[i] = v > 0; break;
      case TCC_DTYPE_I32: ((int32_t *)x->data)[i] = v > 0; break;
      case TCC_DTYPE_BOOL: ((uint8_t *)x->data)[i] = v > 0; break;
      case TCC_DTYPE_F16: /* magnitudes in [1/16, 1) */
        ((uint16_t *)x->data)[i] = (uint16_t)((v < 0) << 15 | (11 + (rng_state >> 20) % 4) << 10 | (rng_state >> 30 & 0x3ff));
        break;
      case TCC_DTYPE_BF16:
        ((uint16_t *)x->data)[i] = (uint16_t)((v < 0) << 15 | (123 + (rng_state >> 20) % 4) << 7 | (rng_state >> 30 & 0x7f));
        break;
      default: break; /* zeros */
    }
  }
  return x;
}

/* ---- checking one fused node ---------------------------------------------------------------------- */

/* What the kernel of a fused node looks like. */
typedef struct {
  int nests;    /* top-level loop nests (statements other than allocations) */
  int temps;    /* LOCAL temporaries */
  int stores;   /* stores to output parameters */
  bool checked; /* built, run and compared */
  bool repeated; /* the same kernel as one checked before: not run again */
} shape_t;

/* Kernel texts seen (without the kernel's name): fused nodes of the same computation are run once. */
typedef struct {
  char *text[512];
  int count;
} seen_t;

static void seen_free(seen_t *s) {
  for (int i = 0; i < s->count; i++) free(s->text[i]);
  s->count = 0;
}

/* Whether k's computation is in s; adds it when not. */
static bool seen_before(seen_t *s, const tcc_kernel_t *k) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return false;
  tcc_status_t st = tcc_kernel_print(k, f);
  fclose(f);
  tcc_status_free(st);
  const char *params = strchr(text, '(');
  for (int i = 0; params && i < s->count; i++)
    if (strcmp(strchr(s->text[i], '('), params) == 0) {
      free(text);
      return true;
    }
  if (params && s->count < 512) s->text[s->count++] = text;
  else free(text);
  return false;
}

static int count_output_stores(const tcc_kblock_t *b) {
  int n = 0;
  for (size_t i = 0; i < b->count; i++) {
    const tcc_kstmt_t *s = b->stmts[i];
    if (s->kind == TCC_KSTMT_STORE && s->buf->scope == TCC_KBUF_OUTPUT) n++;
    if (s->kind == TCC_KSTMT_FOR || s->kind == TCC_KSTMT_IF) n += count_output_stores(&s->body);
    if (s->kind == TCC_KSTMT_IF) n += count_output_stores(&s->orelse);
  }
  return n;
}

static shape_t kernel_shape(const tcc_kernel_t *k) {
  shape_t sh = {0};
  for (size_t i = 0; i < k->body.count; i++) sh.nests += k->body.stmts[i]->kind != TCC_KSTMT_ALLOC;
  for (int i = 0; i < k->num_locals; i++) sh.temps += k->locals[i]->scope == TCC_KBUF_LOCAL;
  sh.stores = count_output_stores(&k->body);
  return sh;
}

/* Builds node's kernel, runs it on random inputs and compares every output with the body's evaluation (not
 * again for a kernel already in seen, when given). */
static shape_t check_fused(const tcc_node_t *node, sizes_t sizes, seen_t *seen) {
  shape_t sh = {0};
  const tcc_attr_t *a = tcc_node_attr(node, "body");
  CHECK(node->op == TCC_OP_FUSED && a && a->kind == TCC_ATTR_GRAPH);
  if (!a || a->kind != TCC_ATTR_GRAPH) return sh;
  tcc_kernel_t *k = NULL;
  tcc_status_t st = tcc_compute_build(node, &k);
  if (st) {
    fprintf(stderr, "fused node '%s' (%s): %s\n", node->name, tcc_node_attr_string(node, "kind", "?"),
            tcc_status_message(st));
    tcc_status_free(st);
    test_current_failed_ = 1;
    return sh;
  }
  CHECK_OK(tcc_kernel_verify(k));
  if (getenv("TCC_PRINT_KERNELS")) CHECK_OK(tcc_kernel_print(k, stdout)); /* to look at what was built */
  sh = kernel_shape(k);
  if (seen && seen_before(seen, k)) {
    sh.checked = sh.repeated = true;
    return sh;
  }
  tcc_module_t *data = new_module();
  int n_in = node->num_inputs, n_out = node->num_outputs;
  const tcc_tensor_t **inputs = calloc((size_t)n_in + 1, sizeof *inputs);
  tcc_tensor_t **want = calloc((size_t)n_out + 1, sizeof *want);
  tcc_tensor_t **got = calloc((size_t)n_out + 1, sizeof *got);
  void **bufs = calloc((size_t)(n_in + n_out) + 1, sizeof *bufs);
  for (int i = 0; i < n_in; i++) bufs[i] = (void *)(inputs[i] = random_tensor(data, &node->inputs[i]->type, &sizes))->data;
  for (int i = 0; i < n_out; i++) {
    got[i] = random_tensor(data, &node->outputs[i]->type, &sizes); /* overwritten: every element is stored */
    bufs[n_in + i] = (void *)got[i]->data;
  }
  st = tcc_kernel_eval(k, bufs, lookup, &sizes);
  tcc_status_t ref = tcc_graph_eval(a->g, inputs, data, want);
  if (st || ref) {
    fprintf(stderr, "fused node '%s': kernel: %s; body: %s\n", node->name, st ? tcc_status_message(st) : "ok",
            ref ? tcc_status_message(ref) : "ok");
    test_current_failed_ = 1;
  } else {
    sh.checked = true;
    for (int i = 0; i < n_out; i++) {
      CHECK(want[i]->nbytes == got[i]->nbytes);
      if (want[i]->nbytes != got[i]->nbytes || memcmp(want[i]->data, got[i]->data, want[i]->nbytes) == 0) continue;
      int64_t bad = 0, first = -1;
      for (int64_t j = 0; j < got[i]->numel; j++)
        if (tcc_tensor_get_float(got[i], j) != tcc_tensor_get_float(want[i], j) && bad++ == 0) first = j;
      if (!bad) continue; /* equal values, other bits (NaN payloads) */
      fprintf(stderr, "fused node '%s' (%s) output %d: %lld of %lld elements differ, first [%lld] %.9g vs %.9g\n",
              node->name, tcc_node_attr_string(node, "kind", "?"), i, (long long)bad, (long long)got[i]->numel,
              (long long)first, tcc_tensor_get_float(got[i], first), tcc_tensor_get_float(want[i], first));
      test_current_failed_ = 1;
    }
  }
  tcc_status_free(st), tcc_status_free(ref);
  free(inputs), free(want), free(got), free(bufs);
  tcc_module_destroy(data);
  return sh;
}

/* The fused nodes of g after the pipeline for target (at most max, in plan order). */
static int run_pipeline_as(tcc_graph_t *g, const char *target, tcc_dtype_t precision, const tcc_node_t **fused,
                           int max) {
  tcc_pipeline_options_t o = tcc_pipeline_defaults();
  o.context.target = target;
  o.context.precision = precision;
  tcc_plan_t plan = {0};
  tcc_status_t st = tcc_pipeline_run(g, &o, &plan);
  if (st) {
    fprintf(stderr, "pipeline (%s): %s\n", target, tcc_status_message(st));
    tcc_status_free(st);
    test_current_failed_ = 1;
    return 0;
  }
  int n = 0;
  for (int i = 0; i < plan.num_kernels; i++)
    if (plan.kernels[i].node->op == TCC_OP_FUSED && n < max) fused[n++] = plan.kernels[i].node;
  return n;
}

static int run_pipeline(tcc_graph_t *g, const char *target, const tcc_node_t **fused, int max) {
  return run_pipeline_as(g, target, TCC_DTYPE_F32, fused, max);
}

static const char *kind_of(const tcc_node_t *n) { return tcc_node_attr_string(n, "kind", "?"); }

/* A constant of g with the given dims, random values. */
static tcc_value_t *weights(tcc_graph_t *g, int rank, const int64_t *dims) {
  tcc_type_t t = {.kind = TCC_TYPE_TENSOR, .dtype = TCC_DTYPE_F32, .rank = rank};
  const tcc_dim_t *d[8];
  for (int i = 0; i < rank; i++) d[i] = tcc_dim_const(g->module, dims[i]);
  t.dims = d;
  sizes_t s = {1, 1};
  return tcc_graph_add_constant(g, NULL, random_tensor(g->module, &t, &s));
}

static const char *const kTargets[] = {"x86-64-v4", "generic"};

/* ---- groups made by the pipeline ------------------------------------------------------------------ */

/* conv(x, w, b) [+ residual] -> relu: one nest, the epilogue at the convolution's final store, no temporary,
 * each output element stored once; NCHW16c on x86-64-v4. */
static void check_conv(bool residual) {
  for (int t = 0; t < 2; t++) {
    tcc_module_t *m = new_module();
    tcc_graph_t *g = m->graph;
    tcc_value_t *x = input(g, TCC_DTYPE_F32, "batch, 16, 9, 9");
    tcc_value_t *w = weights(g, 4, (int64_t[]){32, 16, 3, 3}), *b = weights(g, 1, (int64_t[]){32});
    tcc_node_t *conv = node(g, TCC_OP_CONV, 1, 3, x, w, b);
    attr_ints(conv, "pads", 4, (int64_t[]){1, 1, 1, 1});
    tcc_value_t *y = conv->outputs[0];
    if (residual) y = node(g, TCC_OP_ADD, 1, 2, y, input(g, TCC_DTYPE_F32, "batch, 32, 9, 9"))->outputs[0];
    y = node(g, TCC_OP_RELU, 1, 1, y)->outputs[0];
    tcc_graph_add_output(g, y);
    CHECK_OK(tcc_graph_infer(g));
    const tcc_node_t *fused[4];
    int n = run_pipeline(g, kTargets[t], fused, 4);
    CHECK(n == 1);
    for (int i = 0; i < n; i++) {
      CHECK_STR(kind_of(fused[i]), t == 0 ? residual ? "conv3d+bias+add+relu" : "conv3d+bias+relu"
                                          : residual ? "conv2d+bias+add+relu" : "conv2d+bias+relu");
      const tcc_graph_t *body = tcc_node_attr(fused[i], "body")->g;
      CHECK_STR(tcc_node_attr_string(body->nodes[0], "layout", "NCHW"), t == 0 ? "NCHW16c" : "NCHW");
      shape_t sh = check_fused(fused[i], (sizes_t){2, 1}, NULL);
      CHECK(sh.checked && sh.nests == 1 && sh.temps == 0 && sh.stores == 1);
    }
    tcc_module_destroy(m);
  }
}

TEST(conv_bias_relu) { check_conv(false); }
TEST(conv_bias_add_relu_nchwc) { check_conv(true); }

/* matmul -> + bias -> gelu (erf and tanh forms): the epilogue at the matmul's final store; also with the
 * fp16 and bf16 precisions (half operands, f32 accumulation, rounding at each node's store). */
TEST(matmul_bias_gelu) {
  static const tcc_dtype_t precisions[] = {TCC_DTYPE_F32, TCC_DTYPE_F16, TCC_DTYPE_BF16};
  for (int t = 0; t < 2; t++)
    for (int form = 0; form < 6; form++) {
      int tanh_form = form % 2;
      tcc_module_t *m = new_module();
      tcc_graph_t *g = m->graph;
      tcc_value_t *x = input(g, TCC_DTYPE_F32, "batch, seq, 24");
      tcc_value_t *w = weights(g, 2, (int64_t[]){24, 40}), *b = weights(g, 1, (int64_t[]){40});
      tcc_value_t *y = node(g, TCC_OP_MATMUL, 1, 2, x, w)->outputs[0];
      y = node(g, TCC_OP_ADD, 1, 2, y, b)->outputs[0];
      tcc_node_t *gelu = node(g, TCC_OP_GELU, 1, 1, y);
      if (tanh_form) attr_string(gelu, "approximate", "tanh");
      tcc_graph_add_output(g, gelu->outputs[0]);
      CHECK_OK(tcc_graph_infer(g));
      const tcc_node_t *fused[4];
      int n = run_pipeline_as(g, kTargets[t], precisions[form / 2], fused, 4);
      CHECK(n == 1);
      for (int i = 0; i < n; i++) {
        CHECK_STR(kind_of(fused[i]), "matmul+bias+gelu");
        CHECK(fused[i]->outputs[0]->type.dtype == (form < 2 ? TCC_DTYPE_F32 : precisions[form / 2]));
        shape_t sh = check_fused(fused[i], (sizes_t){2, 5}, NULL);
        CHECK(sh.checked && sh.nests == 1 && sh.temps == 0 && sh.stores == 1);
      }
      tcc_module_destroy(m);
    }
}

/* An elementwise chain whose operands broadcast three ways ([batch, 3, 4] with [4], [3, 1] and a scalar
 * constant), with a value read twice: one nest, no temporary. */
TEST(elementwise_chain_broadcasting) {
  for (int t = 0; t < 2; t++) {
    tcc_module_t *m = new_module();
    tcc_graph_t *g = m->graph;
    tcc_value_t *x = input(g, TCC_DTYPE_F32, "batch, 3, 4"), *s = input(g, TCC_DTYPE_F32, "4");
    tcc_value_t *r = input(g, TCC_DTYPE_F32, "3, 1");
    float half = 0.5f;
    tcc_value_t *c = tcc_graph_add_constant(g, NULL, tensor_from(m, TCC_DTYPE_F32, 0, NULL, &half));
    tcc_value_t *a = node(g, TCC_OP_MUL, 1, 2, x, s)->outputs[0];
    tcc_value_t *b = node(g, TCC_OP_ADD, 1, 2, r, a)->outputs[0];
    tcc_value_t *e = node(g, TCC_OP_TANH, 1, 1, b)->outputs[0];
    tcc_value_t *f = node(g, TCC_OP_MUL, 1, 2, e, c)->outputs[0];
    tcc_value_t *y = node(g, TCC_OP_SUB, 1, 2, f, b)->outputs[0]; /* b read twice */
    y = node(g, TCC_OP_SIGMOID, 1, 1, y)->outputs[0];
    tcc_graph_add_output(g, y);
    CHECK_OK(tcc_graph_infer(g));
    const tcc_node_t *fused[4];
    int n = run_pipeline(g, kTargets[t], fused, 4);
    CHECK(n == 1);
    for (int i = 0; i < n; i++) {
      CHECK_STR(kind_of(fused[i]), "elementwise");
      shape_t sh = check_fused(fused[i], (sizes_t){3, 1}, NULL);
      CHECK(sh.checked && sh.nests == 1 && sh.temps == 0 && sh.stores == 1);
    }
    tcc_module_destroy(m);
  }
}

/* ---- hand-written fused nodes --------------------------------------------------------------------- */

/* Parses a one-node graph text, infers it, checks its fused node; returns the kernel's structure. */
static shape_t check_text(const char *text, sizes_t sizes) {
  tcc_module_t *m = NULL;
  shape_t sh = {0};
  CHECK_OK(tcc_text_parse(text, tcc_allocator_system(), &m));
  if (!m) return sh;
  CHECK_OK(tcc_graph_infer(m->graph));
  for (size_t i = 0; i < m->graph->num_nodes; i++)
    if (m->graph->nodes[i]->op == TCC_OP_FUSED) sh = check_fused(m->graph->nodes[i], sizes, NULL);
  tcc_module_destroy(m);
  return sh;
}

/* Two outputs of one shape and one of another; an intermediate ([4]) broadcast inside the group, read by
 * three nodes: a nest per output shape, the two same-shape outputs in one. */
TEST(elementwise_several_outputs) {
  shape_t sh = check_text(
      "graph main(%x: f32[batch, 3, 4], %s: f32[4]) -> (%y0, %y1, %u) {\n"
      "  %y0, %y1, %u = fused(%x, %s) {kind = \"elementwise\", body = graph body(%x: f32[batch, 3, 4], %s: f32[4]) -> (%y0, %y1, %u) {\n"
      "    %two = const f32[] dense<[2.0]>\n"
      "    %u = mul(%s, %two) : f32[4] @scale\n"
      "    %a = add(%x, %u) : f32[batch, 3, 4] @shift\n"
      "    %y0 = relu(%a) : f32[batch, 3, 4] @act0\n"
      "    %y1 = sigmoid(%a) : f32[batch, 3, 4] @act1\n"
      "  }} : f32[batch, 3, 4], f32[batch, 3, 4], f32[4] @group\n"
      "}\n",
      (sizes_t){2, 1});
  CHECK(sh.checked && sh.temps == 0 && sh.stores == 3 && sh.nests == 2);
}

/* layer_normalization then a residual add and relu: the epilogue at the normalization's final store. */
TEST(layernorm_epilogue) {
  shape_t sh = check_text(
      "graph main(%x: f32[batch, seq, 16], %g: f32[16], %b: f32[16], %r: f32[batch, seq, 16]) -> (%y) {\n"
      "  %y = fused(%x, %g, %b, %r) {kind = \"layernorm+add+relu\", body = graph body(%x: f32[batch, seq, 16], %g: f32[16], %b: f32[16], %r: f32[batch, seq, 16]) -> (%y) {\n"
      "    %n = layer_normalization(%x, %g, %b) {axis = -1, epsilon = 1e-5} : f32[batch, seq, 16] @ln\n"
      "    %a = add(%n, %r) : f32[batch, seq, 16] @res\n"
      "    %y = relu(%a) : f32[batch, seq, 16] @act\n"
      "  }} : f32[batch, seq, 16] @group\n"
      "}\n",
      (sizes_t){2, 3});
  CHECK(sh.checked && sh.temps == 0 && sh.stores == 1);
}

/* Attention written out: matmul, scale (the first matmul's epilogue), softmax (a second anchor; it writes
 * its output twice — the exponentials, then the quotients — so the mask multiply is a nest of its own),
 * matmul: a sequence over temporaries. */
TEST(softmax_attention_group) {
  shape_t sh = check_text(
      "graph main(%q: f32[batch, 6, 8], %k: f32[batch, 8, 6], %v: f32[batch, 6, 8], %m: f32[6]) -> (%y) {\n"
      "  %y = fused(%q, %k, %v, %m) {kind = \"attention\", body = graph body(%q: f32[batch, 6, 8], %k: f32[batch, 8, 6], %v: f32[batch, 6, 8], %m: f32[6]) -> (%y) {\n"
      "    %c = const f32[] dense<[0.35]>\n"
      "    %s = matmul(%q, %k) : f32[batch, 6, 6] @qk\n"
      "    %t = mul(%s, %c) : f32[batch, 6, 6] @scale\n"
      "    %p = softmax(%t) {axis = -1} : f32[batch, 6, 6] @sm\n"
      "    %pm = mul(%p, %m) : f32[batch, 6, 6] @mask\n"
      "    %y = matmul(%pm, %v) : f32[batch, 6, 8] @pv\n"
      "  }} : f32[batch, 6, 8] @group\n"
      "}\n",
      (sizes_t){2, 1});
  CHECK(sh.checked && sh.temps == 3 && sh.nests == 4 && sh.stores == 1);
}

/* A pointwise value read by a reduction (kept in a temporary), a reduction whose output is broadcast back
 * (read by an elementwise node of a larger shape: kept too), and a body output that is a body input. */
TEST(reduction_inside_group) {
  shape_t sh = check_text(
      "graph main(%x: f32[batch, 5, 7]) -> (%y, %z) {\n"
      "  %y, %z = fused(%x) {kind = \"mixed\", body = graph body(%x: f32[batch, 5, 7]) -> (%y, %x) {\n"
      "    %e = exp(%x) : f32[batch, 5, 7] @ex\n"
      "    %s = reduce_sum(%e) {axes = [2], keepdims = 1} : f32[batch, 5, 1] @sum\n"
      "    %y = div(%e, %s) : f32[batch, 5, 7] @norm\n"
      "  }} : f32[batch, 5, 7], f32[batch, 5, 7] @group\n"
      "}\n",
      (sizes_t){2, 1});
  CHECK(sh.checked && sh.temps == 2 && sh.stores == 2);
}

/* Two anchors whose results meet in one epilogue: the add cannot run at the first matmul's final store (the
 * second result does not exist yet), so the first result is kept in a temporary and the add joins the second
 * matmul's final store. */
TEST(two_anchors_one_epilogue) {
  shape_t sh = check_text(
      "graph main(%x: f32[batch, 8], %w1: f32[8, 6], %w2: f32[8, 6]) -> (%y) {\n"
      "  %y = fused(%x, %w1, %w2) {kind = \"two matmuls\", body = graph body(%x: f32[batch, 8], %w1: f32[8, 6], %w2: f32[8, 6]) -> (%y) {\n"
      "    %a = matmul(%x, %w1) : f32[batch, 6] @m1\n"
      "    %b = matmul(%x, %w2) : f32[batch, 6] @m2\n"
      "    %s = add(%a, %b) : f32[batch, 6] @sum\n"
      "    %y = tanh(%s) : f32[batch, 6] @act\n"
      "  }} : f32[batch, 6] @group\n"
      "}\n",
      (sizes_t){3, 1});
  CHECK(sh.checked && sh.temps == 1 && sh.nests == 2 && sh.stores == 1);
}

/* What cannot be one kernel is a TCC_UNSUPPORTED status naming the node and the reason, never a crash: a body
 * constant of several elements (fused nodes take those as inputs), a body node without a compute definition. */
TEST(unsupported_bodies) {
  static const char *const cases[][2] = {
      {"graph main(%x: f32[2]) -> (%y) {\n"
       "  %y = fused(%x) {kind = \"elementwise\", body = graph body(%x: f32[2]) -> (%y) {\n"
       "    %c = const f32[2] dense<[1.0, 2.0]>\n"
       "    %a = add(%x, %c) : f32[2] @a\n"
       "    %y = relu(%a) : f32[2] @r\n"
       "  }} : f32[2] @group\n"
       "}\n",
       "more than one element"},
      {"graph main(%x: f32[4]) -> (%y) {\n"
       "  %y = fused(%x) {kind = \"mixed\", body = graph body(%x: f32[4]) -> (%y) {\n"
       "    %a = exp(%x) : f32[4] @a\n"
       "    %y = non_zero(%a) : i64[1, ?1] @nz\n"
       "  }} : i64[1, ?1] @group\n"
       "}\n",
       "'nz'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    tcc_module_t *m = NULL;
    CHECK_OK(tcc_text_parse(cases[i][0], tcc_allocator_system(), &m));
    if (!m) continue;
    CHECK_OK(tcc_graph_infer(m->graph));
    tcc_kernel_t *k = NULL;
    tcc_status_t st = tcc_compute_build(m->graph->nodes[0], &k);
    CHECK(st && tcc_status_code(st) == TCC_UNSUPPORTED && !k);
    if (st && !strstr(tcc_status_message(st), cases[i][1])) {
      fprintf(stderr, "case %zu: \"%s\" does not say \"%s\"\n", i, tcc_status_message(st), cases[i][1]);
      test_current_failed_ = 1;
    }
    tcc_status_free(st);
    tcc_module_destroy(m);
  }
}

/* ---- the shared models ---------------------------------------------------------------------------- */

typedef struct {
  char kind[64];
  int count;
  shape_t shape; /* of the first one */
} kind_count_t;

static void tally(kind_count_t *kinds, int *n, const char *kind, shape_t sh) {
  for (int i = 0; i < *n; i++)
    if (strcmp(kinds[i].kind, kind) == 0) {
      kinds[i].count++;
      return;
    }
  if (*n == 64) return;
  snprintf(kinds[*n].kind, sizeof kinds[*n].kind, "%s", kind);
  kinds[*n].count = 1;
  kinds[*n].shape = sh;
  (*n)++;
}

TEST(shared_models) {
  const char *dir = getenv("TCC_MODELS");
  if (!dir) dir = "../shared/models";
  static const char *const names[] = {"mlp", "convnet3x3", "squeezenet1_1", "mobilenet_v2", "resnet18", "bert_mini",
                                      "gpt_mini"};
  int found = 0;
  for (int t = 0; t < 2; t++) {
    kind_count_t kinds[64];
    int nkinds = 0, total = 0, run = 0;
    seen_t seen = {.count = 0};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
      char path[1024];
      snprintf(path, sizeof path, "%s/%s/model.onnx", dir, names[i]);
      tcc_onnx_import_options_t io = {0};
      tcc_module_t *m = NULL;
      tcc_status_t st = tcc_onnx_import_file(path, &io, tcc_allocator_system(), &m);
      if (st) {
        tcc_status_free(st);
        continue;
      }
      found++;
      const tcc_node_t *fused[256];
      int n = run_pipeline(m->graph, kTargets[t], fused, 256);
      for (int j = 0; j < n; j++) {
        shape_t sh = check_fused(fused[j], (sizes_t){1, 8}, &seen);
        CHECK(sh.checked);
        run += !sh.repeated;
        tally(kinds, &nkinds, kind_of(fused[j]), sh);
        total++;
      }
      tcc_module_destroy(m);
    }
    seen_free(&seen);
    if (nkinds)
      printf("fused nodes of the shared models, -target %s: %d, all built, %d distinct kernels run and compared\n",
             kTargets[t], total, run);
    for (int i = 0; i < nkinds; i++) {
      const shape_t *s = &kinds[i].shape;
      printf("  %3d  %-24s %s: %d nest%s, %d temporar%s, %d output store%s\n", kinds[i].count, kinds[i].kind,
             s->temps ? "in sequence" : s->nests == 1 ? "one nest" : "nests", s->nests, s->nests == 1 ? "" : "s",
             s->temps, s->temps == 1 ? "y" : "ies", s->stores, s->stores == 1 ? "" : "s");
    }
  }
  if (!found) printf("shared models not found under %s: skipped\n", dir);
}

RUN_TESTS(T(conv_bias_relu), T(conv_bias_add_relu_nchwc), T(matmul_bias_gelu), T(elementwise_chain_broadcasting),
          T(elementwise_several_outputs), T(layernorm_epilogue), T(softmax_attention_group), T(reduction_inside_group),
          T(two_anchors_one_epilogue), T(unsupported_bodies), T(shared_models))
