/* `tcc inspect`: what a model is, and what of it tcc can compile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx_import.h"
#include "ir/text.h"
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
               "  --ir    print the whole graph IR (textual form)\n"
               "  --json  machine-readable output\n");
}

int tcc_cmd_inspect(int argc, char **argv) {
  const char *path = NULL;
  bool json = false, ir = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) json = true;
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
  tcc_onnx_import_options_t options = {.keep_unsupported = true};
  tcc_module_t *m;
  tcc_status_t st = tcc_onnx_import_file(path, &options, tcc_allocator_system(), &m);
  if (st) {
    fprintf(stderr, "tcc inspect: error: %s\n", tcc_status_message(st));
    tcc_status_free(st);
    return 1;
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
