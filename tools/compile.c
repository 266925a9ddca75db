/* `tcc compile`: the kernels of a model, after the optimization pipeline, as one LLVM module written as
 * LLVM IR, assembly or an object for a CPU target (codegen/llvm_emit.h). Packaging into a .so (host plan,
 * weights, runtime) is the next step and not done here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/llvm_emit.h"
#include "codegen/target.h"
#include "frontend/onnx_import.h"
#include "ir/compute.h"
#include "ir/host_ops.h"
#include "passes/pipeline.h"
#include "tools/tcc.h"

static void usage(FILE *out) {
  int n;
  const tcc_cpu_target_t *t = tcc_cpu_targets(&n);
  fprintf(out,
          "usage: tcc compile MODEL.onnx --emit llvm|asm|obj [-target T] -o FILE [-O0] [--bounds-check]\n"
          "\n"
          "Runs the optimization pipeline for the target, lowers every kernel of the plan to LLVM IR and writes\n"
          "one module holding them all. Packaging into a loadable .so comes next; --emit is required for now.\n"
          "\n"
          "  --emit K        llvm (LLVM IR text), asm (assembly) or obj (ELF object)\n"
          "  -target T       CPU target (default native):\n");
  for (int i = 0; i < n; i++) fprintf(out, "                    %-16s %s\n", t[i].name, t[i].description);
  fprintf(out,
          "  -o FILE         output file\n"
          "  -O0             skip LLVM's optimization pipeline (default: default<O3>)\n"
          "  --bounds-check  check every index at run time (slower; errors are returned)\n");
}

static bool is_control_or_sequence(tcc_op_t op) {
  switch (op) {
    case TCC_OP_IF: case TCC_OP_LOOP: case TCC_OP_SCAN: case TCC_OP_SEQUENCE_MAP: case TCC_OP_SEQUENCE_EMPTY:
    case TCC_OP_SEQUENCE_CONSTRUCT: case TCC_OP_SEQUENCE_INSERT: case TCC_OP_SEQUENCE_ERASE: case TCC_OP_SEQUENCE_AT:
    case TCC_OP_SEQUENCE_LENGTH: case TCC_OP_SPLIT_TO_SEQUENCE: case TCC_OP_CONCAT_FROM_SEQUENCE: case TCC_OP_OPTIONAL:
    case TCC_OP_OPTIONAL_HAS_ELEMENT: case TCC_OP_OPTIONAL_GET_ELEMENT: return true;
    default: return false;
  }
}

typedef struct {
  int emitted, skipped;
} counts_t;

/* Emits the kernel of one node (a fused node: one kernel per node of its body, for now). */
static tcc_status_t emit_node(tcc_llvm_emitter_t *e, const tcc_node_t *node, const char *kind, counts_t *c) {
  if (node->op == TCC_OP_FUSED) {
    const tcc_attr_t *body = tcc_node_attr(node, "body");
    if (!body || body->kind != TCC_ATTR_GRAPH || !body->g)
      return tcc_status_make(TCC_INTERNAL, "fused node '%s' has no body", node->name);
    printf("  fused %-24s %s: one kernel per body node (fused lowering comes later)\n", kind, node->name);
    for (size_t i = 0; i < body->g->num_nodes; i++) TCC_RETURN_IF_ERROR(emit_node(e, body->g->nodes[i], "", c));
    return NULL;
  }
  if (is_control_or_sequence(node->op)) {
    printf("  not emitted  %-20s %s: control flow / sequences are not kernels the emitter handles yet\n",
           node->op_type, node->name);
    c->skipped++;
    return NULL;
  }
  tcc_kernel_t *k = NULL;
  tcc_status_t st = tcc_compute_build(node, &k);
  if (st && tcc_status_code(st) == TCC_UNSUPPORTED && tcc_host_op_find(node->op)) {
    printf("  not emitted  %-20s %s: host operator (ir/host_ops.h), to be called by the runtime\n", node->op_type,
           node->name);
    tcc_status_free(st);
    c->skipped++;
    return NULL;
  }
  if (st) return tcc_status_annotate(st, "node '%s' (%s): ", node->name, node->op_type);
  const char *sym;
  st = tcc_llvm_emit_kernel(e, k, &sym);
  if (st) return tcc_status_annotate(st, "node '%s' (%s): ", node->name, node->op_type);
  printf("  kernel %-28s <- %s (%s)\n", sym, node->name, node->op_type);
  c->emitted++;
  return NULL;
}

int tcc_cmd_compile(int argc, char **argv) {
  const char *model = NULL, *emit = NULL, *target = "native", *out = NULL;
  bool optimize = true;
  tcc_llvm_emit_options_t eo = {0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool takes = strcmp(a, "--emit") == 0 || strcmp(a, "-target") == 0 || strcmp(a, "--target") == 0 ||
                 strcmp(a, "-o") == 0;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    }
    if (takes && i + 1 >= argc) {
      fprintf(stderr, "tcc compile: %s needs a value\n", a);
      return 2;
    }
    if (strcmp(a, "--emit") == 0) emit = argv[++i];
    else if (strncmp(a, "--emit=", 7) == 0) emit = a + 7;
    else if (strcmp(a, "-target") == 0 || strcmp(a, "--target") == 0) target = argv[++i];
    else if (strncmp(a, "--target=", 9) == 0) target = a + 9;
    else if (strcmp(a, "-o") == 0) out = argv[++i];
    else if (strcmp(a, "-O0") == 0) optimize = false;
    else if (strcmp(a, "--bounds-check") == 0) eo.bounds_check = true;
    else if (a[0] == '-' || model) {
      fprintf(stderr, "tcc compile: unexpected argument '%s'\n\n", a);
      usage(stderr);
      return 2;
    } else model = a;
  }
  if (!model || !out) {
    usage(stderr);
    return 2;
  }
  tcc_emit_kind_t kind;
  if (!emit) {
    fprintf(stderr, "tcc compile: packaging into a .so is not implemented yet; use --emit llvm|asm|obj\n");
    return 2;
  }
  if (strcmp(emit, "llvm") == 0) kind = TCC_EMIT_LLVM;
  else if (strcmp(emit, "asm") == 0) kind = TCC_EMIT_ASM;
  else if (strcmp(emit, "obj") == 0) kind = TCC_EMIT_OBJ;
  else {
    fprintf(stderr, "tcc compile: --emit takes llvm, asm or obj, not '%s'\n", emit);
    return 2;
  }
  if (!tcc_cpu_target_find(target)) {
    fprintf(stderr, "tcc compile: '%s' is not a CPU target (run 'tcc compile --help' for the list)\n", target);
    return 2;
  }
  tcc_module_t *m = NULL;
  tcc_llvm_emitter_t *e = NULL;
  tcc_onnx_import_options_t io = {0};
  tcc_status_t st = tcc_onnx_import_file(model, &io, tcc_allocator_system(), &m);
  tcc_plan_t plan;
  if (!st) {
    tcc_pipeline_options_t o = tcc_pipeline_defaults();
    o.context.target = target;
    st = tcc_pipeline_run(m->graph, &o, &plan);
  }
  if (!st) st = tcc_llvm_emitter_create(m->graph->name ? m->graph->name : "model", NULL, &eo, &e);
  counts_t c = {0, 0};
  if (!st) {
    printf("plan: %d kernels (target %s)\n", plan.num_kernels, target);
    for (int i = 0; i < plan.num_kernels && !st; i++) st = emit_node(e, plan.kernels[i].node, plan.kernels[i].kind, &c);
  }
  if (!st) st = tcc_llvm_emitter_finish(e, target, optimize);
  if (!st) st = tcc_llvm_emitter_write(e, target, kind, out);
  int rc = 0;
  if (st) {
    fprintf(stderr, "tcc compile: %s: %s\n", tcc_status_code_name(tcc_status_code(st)), tcc_status_message(st));
    tcc_status_free(st);
    rc = 1;
  } else {
    for (int i = 0; i < tcc_llvm_emitter_num_symbols(e); i++)
      printf("syms[%d] = %s\n", i, tcc_llvm_emitter_symbol(e, i));
    printf("kernels emitted: %d, not emitted: %d\nwrote %s (%s, %s)\n", c.emitted, c.skipped, out, emit, target);
    if (c.skipped) printf("note: the module is incomplete: the nodes marked 'not emitted' have no kernel yet\n");
  }
  tcc_llvm_emitter_destroy(e);
  tcc_module_destroy(m);
  return rc;
}
