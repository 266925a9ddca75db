/* The pipeline (passes/pipeline.c) and the plan's kernels (passes/plan.c): pass names, errors for unknown
 * names, dumps, timing, ablation, kernel kinds; and canonicalize, dce and cse reaching a fixed point (a
 * second run changes nothing, and the verifier passes after each) on the sample model and, when present,
 * the shared models. */
#include <stdlib.h>

#include "frontend/onnx_import.h"
#include "ir/infer.h"
#include "ir/text.h"
#include "ir/verify.h"
#include "passes/pipeline.h"
#include "tests/test.h"

static const char *const kSmall =
    "graph main(%x: f32[batch, 4]) -> (%y) {\n"
    "  %w = const f32[4, 2] dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]>\n"
    "  %b = const f32[2] dense<[0.5, -0.5]>\n"
    "  %i = identity(%x) : f32[batch, 4] @id0\n"
    "  %m = matmul(%i, %w) : f32[batch, 2] @mm\n"
    "  %a = add(%b, %m) : f32[batch, 2] @add0\n"
    "  %dead = exp(%a) : f32[batch, 2] @dead\n"
    "  %y = relu(%a) : f32[batch, 2] @relu0\n"
    "}\n";

static tcc_module_t *parse(const char *text) {
  tcc_module_t *m = NULL;
  CHECK_OK(tcc_text_parse(text, tcc_allocator_system(), &m));
  if (m) CHECK_OK(tcc_graph_infer(m->graph));
  return m;
}

static char *print(const tcc_module_t *m) {
  char *s = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&s, &n);
  CHECK_OK(tcc_text_print(m, f, NULL));
  fclose(f);
  return s;
}

TEST(pass_names_in_order) {
  const char *const want[] = {"canonicalize", "constant_folding", "dce", "cse", "fold_batch_norm", "sink_transposes",
                              "layout", "precision", "fusion", "memory_planning"};
  const char *const *names = tcc_pipeline_pass_names();
  int i = 0;
  for (; names[i]; i++) CHECK(i < 10 && strcmp(names[i], want[i]) == 0);
  CHECK(i == 10);
  CHECK(tcc_pipeline_parse_precision("fp16") == TCC_DTYPE_F16);
  CHECK(tcc_pipeline_parse_precision("bf16") == TCC_DTYPE_BF16);
  CHECK(tcc_pipeline_parse_precision("fp32") == TCC_DTYPE_F32);
  CHECK(tcc_pipeline_parse_precision("f16") == TCC_DTYPE_UNDEFINED);
}

TEST(unknown_names_are_errors) {
  tcc_module_t *m = parse(kSmall);
  if (!m) return;
  bool changed;
  tcc_status_t st = tcc_pipeline_run_pass(m->graph, "frobnicate", NULL, &changed);
  CHECK(st && tcc_status_code(st) == TCC_INVALID_ARGUMENT && strstr(tcc_status_message(st), "frobnicate"));
  tcc_status_free(st);
  tcc_pipeline_options_t o = tcc_pipeline_defaults();
  const char *disabled[] = {"fusion", "nope"};
  o.disabled = disabled, o.num_disabled = 2;
  tcc_plan_t plan;
  st = tcc_pipeline_run(m->graph, &o, &plan);
  CHECK(st && tcc_status_code(st) == TCC_INVALID_ARGUMENT && strstr(tcc_status_message(st), "'nope'"));
  tcc_status_free(st);
  o = tcc_pipeline_defaults();
  o.dump_after = "fusoin";
  st = tcc_pipeline_run(m->graph, &o, &plan);
  CHECK(st && tcc_status_code(st) == TCC_INVALID_ARGUMENT && strstr(tcc_status_message(st), "'fusoin'"));
  tcc_status_free(st);
  tcc_module_destroy(m);
}

TEST(dump_and_time) {
  tcc_module_t *m = parse(kSmall);
  if (!m) return;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  tcc_pipeline_options_t o = tcc_pipeline_defaults();
  o.dump = f, o.dump_after = "all", o.time_passes = true;
  const char *disabled[] = {"cse"};
  o.disabled = disabled, o.num_disabled = 1;
  tcc_plan_t plan;
  CHECK_OK(tcc_pipeline_run(m->graph, &o, &plan));
  fclose(f);
  CHECK(strstr(text, "// ---- after canonicalize\n") != NULL);   /* changed: the IR follows */
  CHECK(strstr(text, "// ---- after canonicalize\nmodule") || strstr(text, "// ---- after canonicalize\ngraph"));
  CHECK(strstr(text, "// ---- after layout (unchanged)\n") != NULL); /* generic target */
  CHECK(strstr(text, "// ---- after cse (disabled)\n") != NULL);
  CHECK(strstr(text, "// ---- after memory_planning\n") != NULL);
  CHECK(strstr(text, "pass fusion ") != NULL && strstr(text, "pass memory_planning ") != NULL);
  CHECK(strstr(text, "pass cse") && strstr(strstr(text, "pass cse"), "(disabled)"));
  free(text);
  tcc_module_destroy(m);

  /* one pass named: only its dump */
  m = parse(kSmall);
  if (!m) return;
  f = open_memstream(&text, &len);
  o = tcc_pipeline_defaults();
  o.dump = f, o.dump_after = "dce";
  CHECK_OK(tcc_pipeline_run(m->graph, &o, &plan));
  fclose(f);
  CHECK(strstr(text, "// ---- after dce") == text);
  CHECK(strstr(text, "after canonicalize") == NULL && strstr(text, "after fusion") == NULL);
  free(text);
  tcc_module_destroy(m);
}

TEST(everything_disabled_changes_nothing) {
  tcc_module_t *m = parse(kSmall);
  if (!m) return;
  char *before = print(m);
  tcc_pipeline_options_t o = tcc_pipeline_defaults();
  const char *const *names = tcc_pipeline_pass_names();
  int n = 0;
  while (names[n]) n++;
  o.disabled = names, o.num_disabled = n;
  tcc_plan_t plan;
  CHECK_OK(tcc_pipeline_run(m->graph, &o, &plan));
  char *after = print(m);
  CHECK_STR(after, before);
  CHECK(plan.num_kernels == 4); /* matmul, add, exp, relu: the identity is a view */
  CHECK_STR(plan.kernels[0].kind, "matmul");
  CHECK_STR(plan.kernels[3].kind, "relu");
  free(before), free(after);
  tcc_module_destroy(m);
}

TEST(simple_passes_on_small_graph) {
  tcc_module_t *m = parse(kSmall);
  if (!m) return;
  tcc_pipeline_options_t o = tcc_pipeline_defaults();
  const char *disabled[] = {"fusion"};
  o.disabled = disabled, o.num_disabled = 1;
  tcc_plan_t plan;
  CHECK_OK(tcc_pipeline_run(m->graph, &o, &plan));
  /* identity gone, dead exp gone, bias second */
  CHECK(plan.num_kernels == 3);
  const tcc_node_t *add = plan.num_kernels == 3 ? plan.kernels[1].node : NULL;
  CHECK(add && add->op == TCC_OP_ADD && add->inputs[0]->producer && add->inputs[0]->producer->op == TCC_OP_MATMUL);
  CHECK(add && add->inputs[0]->producer->inputs[0] == m->graph->inputs[0]);
  tcc_module_destroy(m);
}

TEST(kernel_kinds) {
  tcc_module_t *m = parse("graph main(%x: f32[1, 2, 8], %v: f32[1, 2, 4, 4, 4], %i: f32[1, 2, 8, 8]) -> (%a, %b, %c, %d, %e) {\n"
                          "  %w1 = const f32[2, 2, 3] dense<elided, 48 bytes>\n"
                          "  %w3 = const f32[2, 2, 1, 1, 1] dense<[1.0, 0.0, 0.0, 1.0]>\n"
                          "  %w2 = const f32[2, 2, 1, 1] dense<[1.0, 0.0, 0.0, 1.0]>\n"
                          "  %a = conv(%x, %w1) : f32[1, 2, 6] @c1\n"
                          "  %b = conv(%v, %w3) : f32[1, 2, 4, 4, 4] @c3\n"
                          "  %c = conv(%i, %w2) : f32[1, 2, 8, 8] @c2\n"
                          "  %d = global_average_pool(%c) : f32[1, 2, 1, 1] @gap\n"
                          "  %e = flatten(%d) : f32[1, 2] @flat\n"
                          "}\n");
  if (!m) return;
  const tcc_graph_t *g = m->graph;
  CHECK_STR(tcc_node_kernel_kind(g->nodes[0]), "conv1d");
  CHECK_STR(tcc_node_kernel_kind(g->nodes[1]), "conv3d");
  CHECK_STR(tcc_node_kernel_kind(g->nodes[2]), "conv2d");
  CHECK_STR(tcc_node_kernel_kind(g->nodes[3]), "globalavgpool");
  CHECK(tcc_node_is_kernel(g->nodes[2]) && !tcc_node_is_kernel(g->nodes[4]));
  /* a fused node names its kernel */
  tcc_node_t *n = g->nodes[2];
  n->op = TCC_OP_FUSED;
  tcc_attr_t kind = {.name = "kind", .kind = TCC_ATTR_STRING, .s = {"conv2d+bias+relu", 16}};
  CHECK_OK(tcc_node_set_attr(n, &kind));
  CHECK_STR(tcc_node_kernel_kind(n), "conv2d+bias+relu");
  tcc_module_destroy(m);
}

/* canonicalize, dce and cse, run until nothing changes, must stop after one round: each pass leaves
 * nothing that it (or the others) would rewrite again. */
static void check_fixed_point(const char *path) {
  tcc_onnx_import_options_t io = {0};
  tcc_module_t *m = NULL;
  tcc_status_t st = tcc_onnx_import_file(path, &io, tcc_allocator_system(), &m);
  if (st) {
    tcc_status_free(st);
    return; /* not present */
  }
  static const char *const passes[] = {"canonicalize", "constant_folding", "dce", "cse"};
  bool changed = false;
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < 4; i++) {
      CHECK_OK(tcc_pipeline_run_pass(m->graph, passes[i], NULL, &changed));
      CHECK_OK(tcc_module_verify(m));
      if (round == 1 && changed) fprintf(stderr, "%s: %s changed the graph again\n", path, passes[i]);
      CHECK(round == 0 || !changed);
    }
  tcc_module_destroy(m);
}

TEST(simple_passes_reach_a_fixed_point) {
  check_fixed_point("samples/tiny_cnn.onnx");
  const char *models = getenv("TCC_MODELS");
  char path[1024];
  static const char *const names[] = {"mlp", "resnet18", "mobilenet_v2", "bert_mini", "gpt_mini"};
  for (int i = 0; i < 5; i++) {
    snprintf(path, sizeof path, "%s/%s/model.onnx", models ? models : "../shared/models", names[i]);
    check_fixed_point(path);
  }
}

RUN_TESTS(T(pass_names_in_order), T(unknown_names_are_errors), T(dump_and_time), T(everything_disabled_changes_nothing),
          T(simple_passes_on_small_graph), T(kernel_kinds), T(simple_passes_reach_a_fixed_point))
