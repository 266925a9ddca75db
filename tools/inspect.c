/* `tcc inspect`: what a model is, and what of it tcc can compile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx_import.h"
#include "ir/text.h"
#include "passes/pipeline.h"
#include "tools/tcc.h"

typedef struct {
  const char *key;
  int count;
} histogram_entry_t;

typedef struct {
  histogram_entry_t *items;
  int count, capacity;
  int64_t param_count, param_bytes;
  int unsupported;
} summary_t;

static void count_op(summary_t *s, const char *key) {
  for (int i = 0; i < s->count; i++)
    if (strcmp(s->items[i].key, key) == 0) {
      s->items[i].count++;
      return;
    }
  if (s->count == s->capacity) {
    s->capacity = s->capacity ? 2 * s->capacity : 64;
    s->items = realloc(s->items, (size_t)s->capacity * sizeof *s->items);
    if (!s->items) abort();
  }
  s->items[s->count++] = (histogram_entry_t){key, 1};
}

static void summarize(const tcc_graph_t *g, summary_t *s) {
  for (size_t i = 0; i < g->num_values; i++) {
    const tcc_value_t *v = g->values[i];
    if (v->constant && !v->producer) {
      s->param_count += v->constant->numel;
      s->param_bytes += (int64_t)v->constant->nbytes;
    }
  }
  for (size_t i = 0; i < g->num_nodes; i++) {
    const tcc_node_t *n = g->nodes[i];
    count_op(s, n->op_type);
    if (n->op == TCC_OP_UNSUPPORTED) s->unsupported++;
    for (int k = 0; k < n->num_attrs; k++) {
      const tcc_attr_t *a = &n->attrs[k];
      if (a->kind == TCC_ATTR_GRAPH) summarize(a->g, s);
      for (int64_t j = 0; a->kind == TCC_ATTR_GRAPHS && j < a->count; j++) summarize(a->graphs[j], s);
    }
  }
}

static int by_count(const void *a, const void *b) {
  const histogram_entry_t *x = a, *y = b;
  return x->count != y->count ? y->count - x->count : strcmp(x->key, y->key);
}

static void json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') fprintf(out, "\\%c", ch);
    else if (ch < 0x20) fprintf(out, "\\u%04x", ch);
    else fputc(ch, out);
  }
  fputc('"', out);
}

static const char *first_input_dtype(const tcc_node_t *n) {
  for (int k = 0; k < n->num_inputs; k++)
    if (n->inputs[k] && n->inputs[k]->type.kind == TCC_TYPE_TENSOR && n->inputs[k]->type.dtype)
      return tcc_dtype_name(n->inputs[k]->type.dtype);
  return "-";
}

/* Visits unsupported nodes of g and its subgraphs. */
static void each_unsupported(const tcc_graph_t *g, void (*fn)(const tcc_node_t *, void *), void *ctx) {
  for (size_t i = 0; i < g->num_nodes; i++) {
    const tcc_node_t *n = g->nodes[i];
    if (n->op == TCC_OP_UNSUPPORTED) fn(n, ctx);
    for (int k = 0; k < n->num_attrs; k++) {
      const tcc_attr_t *a = &n->attrs[k];
      if (a->kind == TCC_ATTR_GRAPH) each_unsupported(a->g, fn, ctx);
      for (int64_t j = 0; a->kind == TCC_ATTR_GRAPHS && j < a->count; j++) each_unsupported(a->graphs[j], fn, ctx);
    }
  }
}

static void print_unsupported_text(const tcc_node_t *n, void *ctx) {
  (void)ctx;
  printf("  node '%s' (%s%s%s, opset %lld, dtype %s): %s\n", n->name, n->domain, n->domain[0] ? "::" : "",
         n->op_type, (long long)n->opset, first_input_dtype(n), n->unsupported ? n->unsupported : "unsupported");
}

static void print_unsupported_json(const tcc_node_t *n, void *ctx) {
  int *first = ctx;
  printf("%s\n    {\"node\": ", *first ? "" : ",");
  *first = 0;
  json_string(stdout, n->name);
  printf(", \"domain\": ");
  json_string(stdout, n->domain);
  printf(", \"op\": ");
  json_string(stdout, n->op_type);
  printf(", \"opset\": %lld, \"dtype\": \"%s\", \"reason\": ", (long long)n->opset, first_input_dtype(n));
  json_string(stdout, n->unsupported ? n->unsupported : "unsupported");
  printf("}");
}

static void print_values_text(const char *title, tcc_value_t *const *values, size_t n) {
  printf("%s:\n", title);
  for (size_t i = 0; i < n; i++) {
    char type[1024];
    tcc_type_format(&values[i]->type, type, sizeof type);
    printf("  %-24s %s\n", values[i]->name, type);
  }
}

static void print_values_json(const char *title, tcc_value_t *const *values, size_t n) {
  printf("  \"%s\": [", title);
  for (size_t i = 0; i < n; i++) {
    char type[1024];
    tcc_type_format(&values[i]->type, type, sizeof type);
    printf("%s\n    {\"name\": ", i ? "," : "");
    json_string(stdout, values[i]->name);
    printf(", \"type\": ");
    json_string(stdout, type);
    printf("}");
  }
  printf("\n  ],\n");
}

static void inspect_usage(FILE *out) {
  fprintf(out, "usage: tcc inspect MODEL.onnx [--ir] [--json]\n"
               "       tcc inspect MODEL.onnx --plan [-target T] [--precision fp16|bf16] [--dim SYMBOL=N]...\n"
               "                              [--disable-pass NAME]... [--dump-after PASS|all]\n"
               "  --ir            print the whole graph IR (textual form)\n"
               "  --json          machine-readable output\n"
               "  --plan          run the optimization pipeline (docs/passes.md) and print its kernels, one per\n"
               "                  line (index, kind, node), then kernels: N, peak_activation_bytes: B (the\n"
               "                  memory plan's arena) and live_bytes_bound: B (the most bytes live at once)\n"
               "  -target T       the pipeline's target (default generic)\n"
               "  --precision P   fp32 (default), fp16 or bf16\n"
               "  --dim SYMBOL=N  size of a symbolic dim for memory planning (default 1)\n"
               "  --disable-pass NAME  skip a pass (repeatable)\n"
               "  --dump-after PASS    print the IR after PASS (or after each pass: all) to stderr\n"
               "  with --plan, --ir prints the optimized IR after the kernels\n"
               "Options that take a value also accept OPTION=VALUE.\n");
}

enum { MAX_PLAN_ARGS = 64 };

typedef struct {
  const char *target, *precision, *dump_after;
  const char *disabled[MAX_PLAN_ARGS];
  int num_disabled;
  const char *dims[MAX_PLAN_ARGS]; /* SYMBOL=N */
  int num_dims;
} plan_args_t;

static bool plan_dim(void *ctx, const char *symbol, int64_t *value) {
  const plan_args_t *a = ctx;
  size_t n = strlen(symbol);
  for (int i = 0; i < a->num_dims; i++)
    if (strncmp(a->dims[i], symbol, n) == 0 && a->dims[i][n] == '=') {
      *value = atoll(a->dims[i] + n + 1);
      return true;
    }
  return false;
}

/* --plan: the pipeline on the imported graph, then its kernels and memory. */
static int print_plan(tcc_module_t *m, plan_args_t *a, bool ir) {
  tcc_pipeline_options_t o = tcc_pipeline_defaults();
  if (a->target) o.context.target = a->target;
  if (a->precision) o.context.precision = tcc_pipeline_parse_precision(a->precision);
  o.context.dim_lookup = plan_dim;
  o.context.dim_ctx = a;
  o.dump_after = a->dump_after;
  o.disabled = a->disabled;
  o.num_disabled = a->num_disabled;
  tcc_plan_t plan;
  tcc_status_t st = tcc_pipeline_run(m->graph, &o, &plan);
  if (!st) {
    for (int i = 0; i < plan.num_kernels; i++)
      printf("  %3d %-28s %s\n", i, plan.kernels[i].kind, plan.kernels[i].node->name);
    printf("kernels: %d\n", plan.num_kernels);
    printf("peak_activation_bytes: %lld\n", (long long)plan.memory.peak_bytes);
    printf("live_bytes_bound: %lld\n", (long long)plan.memory.live_bytes_bound);
    if (ir) st = tcc_text_print(m, stdout, NULL);
  }
  if (st) {
    fprintf(stderr, "tcc inspect: error: %s\n", tcc_status_message(st));
    tcc_status_free(st);
    return 1;
  }
  return 0;
}

int tcc_cmd_inspect(int argc, char **argv) {
  const char *path = NULL;
  bool json = false, ir = false, plan = false;
  plan_args_t pa = {0};
  for (int i = 1; i < argc; i++) {
    char opt[64];
    const char *a = argv[i], *value = NULL, *eq = a[0] == '-' ? strchr(a, '=') : NULL;
    if (eq && eq - a < (int)sizeof opt) { /* OPTION=VALUE */
      snprintf(opt, sizeof opt, "%.*s", (int)(eq - a), a);
      a = opt, value = eq + 1;
    }
    bool takes_value = strcmp(a, "-target") == 0 || strcmp(a, "--target") == 0 || strcmp(a, "--precision") == 0 ||
                       strcmp(a, "--dim") == 0 || strcmp(a, "--disable-pass") == 0 || strcmp(a, "--dump-after") == 0;
    if (takes_value && !value) {
      if (i + 1 >= argc) {
        fprintf(stderr, "tcc inspect: %s needs a value\n", a);
        return 2;
      }
      value = argv[++i];
    }
    if (takes_value) {
      if (strcmp(a, "--precision") == 0) pa.precision = value;
      else if (strcmp(a, "--dump-after") == 0) pa.dump_after = value;
      else if (strcmp(a, "--dim") == 0 && pa.num_dims < MAX_PLAN_ARGS) pa.dims[pa.num_dims++] = value;
      else if (strcmp(a, "--disable-pass") == 0 && pa.num_disabled < MAX_PLAN_ARGS) pa.disabled[pa.num_disabled++] = value;
      else if (strcmp(a, "-target") == 0 || strcmp(a, "--target") == 0) pa.target = value;
      else {
        fprintf(stderr, "tcc inspect: too many %s options\n", a);
        return 2;
      }
      continue;
    }
    if (value) {
      fprintf(stderr, "tcc inspect: unexpected argument '%s'\n", argv[i]);
      inspect_usage(stderr);
      return 2;
    }
    if (strcmp(argv[i], "--plan") == 0) plan = true;
    else if (strcmp(argv[i], "--json") == 0) json = true;
    else if (strcmp(argv[i], "--ir") == 0) ir = true;
    else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      inspect_usage(stdout);
      return 0;
    } else if (argv[i][0] == '-' || path) {
      fprintf(stderr, "tcc inspect: unexpected argument '%s'\n", argv[i]);
      inspect_usage(stderr);
      return 2;
    } else path = argv[i];
  }
  if (!path) {
    inspect_usage(stderr);
    return 2;
  }
  if (!plan && (pa.target || pa.precision || pa.dump_after || pa.num_disabled || pa.num_dims)) {
    fprintf(stderr, "tcc inspect: -target, --precision, --dim, --disable-pass and --dump-after go with --plan\n");
    return 2;
  }
  if (plan && json) {
    fprintf(stderr, "tcc inspect: --plan has no --json form\n");
    return 2;
  }
  if (pa.precision && !tcc_pipeline_parse_precision(pa.precision)) {
    fprintf(stderr, "tcc inspect: --precision must be fp32, fp16 or bf16, not '%s'\n", pa.precision);
    return 2;
  }
  /* the pipeline needs a complete graph: no unsupported nodes kept for --plan */
  tcc_onnx_import_options_t options = {.keep_unsupported = !plan};
  tcc_module_t *m;
  tcc_status_t st = tcc_onnx_import_file(path, &options, tcc_allocator_system(), &m);
  if (st) {
    fprintf(stderr, "tcc inspect: error: %s\n", tcc_status_message(st));
    tcc_status_free(st);
    return 1;
  }
  if (plan) {
    int rc = print_plan(m, &pa, ir);
    tcc_module_destroy(m);
    return rc;
  }
  if (ir) {
    st = tcc_text_print(m, stdout, NULL);
    int rc = st ? 1 : 0;
    if (st) fprintf(stderr, "tcc inspect: error: %s\n", tcc_status_message(st));
    tcc_status_free(st);
    tcc_module_destroy(m);
    return rc;
  }
  const tcc_graph_t *g = m->graph;
  summary_t s = {0};
  summarize(g, &s);
  qsort(s.items, (size_t)s.count, sizeof *s.items, by_count);
  if (json) {
    printf("{\n  \"model\": ");
    json_string(stdout, path);
    printf(",\n  \"ir_version\": %lld,\n  \"producer\": ", (long long)m->ir_version);
    json_string(stdout, m->producer_name);
    printf(",\n  \"opsets\": {");
    for (size_t i = 0; i < m->num_opsets; i++) {
      printf("%s", i ? ", " : "");
      json_string(stdout, m->opsets[i].domain);
      printf(": %lld", (long long)m->opsets[i].version);
    }
    printf("},\n");
    print_values_json("inputs", g->inputs, g->num_inputs);
    print_values_json("outputs", g->outputs, g->num_outputs);
    printf("  \"ops\": {");
    for (int i = 0; i < s.count; i++) {
      printf("%s", i ? ", " : "");
      json_string(stdout, s.items[i].key);
      printf(": %d", s.items[i].count);
    }
    printf("},\n  \"parameters\": %lld,\n  \"parameter_bytes\": %lld,\n  \"unsupported\": [",
           (long long)s.param_count, (long long)s.param_bytes);
    int first = 1;
    each_unsupported(g, print_unsupported_json, &first);
    printf("\n  ]\n}\n");
  } else {
    printf("model: %s\n", path);
    printf("ir_version: %lld  producer: %s %s  opsets:", (long long)m->ir_version, m->producer_name, m->producer_version);
    for (size_t i = 0; i < m->num_opsets; i++)
      printf(" %s%s%lld", m->opsets[i].domain[0] ? m->opsets[i].domain : "ai.onnx", "=", (long long)m->opsets[i].version);
    printf("\n");
    print_values_text("inputs", g->inputs, g->num_inputs);
    print_values_text("outputs", g->outputs, g->num_outputs);
    int total = 0;
    for (int i = 0; i < s.count; i++) total += s.items[i].count;
    printf("ops: %d nodes\n", total);
    for (int i = 0; i < s.count; i++) printf("  %-28s %d\n", s.items[i].key, s.items[i].count);
    printf("parameters: %lld (%lld bytes)\n", (long long)s.param_count, (long long)s.param_bytes);
    if (s.unsupported) {
      printf("unsupported: %d node%s\n", s.unsupported, s.unsupported == 1 ? "" : "s");
      each_unsupported(g, print_unsupported_text, NULL);
    } else {
      printf("unsupported: none\n");
    }
  }
  free(s.items);
  tcc_module_destroy(m);
  return 0;
}
