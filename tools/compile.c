/* `tcc compile`: a model, after the optimization pipeline, as a loadable module (model.so + model.h,
 * codegen/package.h), or its kernels as one LLVM module written as LLVM IR, assembly or an object for a
 * CPU target (--emit, codegen/llvm_emit.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codegen/llvm_emit.h"
#include "codegen/package.h"
#include "codegen/target.h"
#include "frontend/onnx_import.h"
#include "codegen/schedule_cpu.h"
#include "ir/compute.h"
#include "ir/host_ops.h"
#include "passes/pipeline.h"
#include "tools/tcc.h"

static void usage(FILE *out) {
  int n;
  const tcc_cpu_target_t *t = tcc_cpu_targets(&n);
  fprintf(out,
          "usage: tcc compile MODEL.onnx [-target T] -o model.so [--name N] [--weights=external] [--emit K]\n"
          "                  [--precision fp32|fp16|bf16] [--allow-tf32] [-O0] [--bounds-check] [--keep-temps]\n"
          "                  [--verbose]\n"
          "\n"
          "Runs the optimization pipeline for the target and packages the model as one self-contained module:\n"
          "model.so (kernels, host plan, weights and the runtime; needs only libc, libm and libpthread) and\n"
          "model.h beside it (the API: <name>_create, <name>_run, <name>_destroy). Load it with 'tcc run model.so'\n"
          "or link it into an application (samples/README.md).\n"
          "\n"
          "  -target T       the target (default native); CPU targets:\n");
  for (int i = 0; i < n; i++) fprintf(out, "                    %-16s %s\n", t[i].name, t[i].description);
  const tcc_gpu_target_t *gt = tcc_gpu_targets(&n);
  fprintf(out, "                  GPU targets (PTX through LLVM's NVPTX backend, cubins through the CUDA toolkit's\n"
               "                  ptxas when present); a comma list (sm_80,sm_90) builds one module for each of them:\n");
  for (int i = 0; i < n; i++) fprintf(out, "                    %-16s %s\n", gt[i].name, gt[i].description);
  fprintf(out,
          "  -o FILE         the module (model.so; the header is written beside it as model.h), or with --emit\n"
          "                  the single output file\n"
          "  --name N        the API prefix, a C identifier (default: the output file's name up to the first '.')\n"
          "  --weights=external  write the weights to N.weights beside the module (mapped at load) instead of\n"
          "                  embedding them\n"
          "  --emit K        instead of a module, write the kernels as llvm (LLVM IR text), asm or obj (ELF object),\n"
          "                  or for a GPU target ptx (PTX assembly: one kernel entry SYM_gpu per kernel)\n"
          "  --precision P   the compute precision (passes/precision.c): fp32 (default), or fp16 / bf16 for the\n"
          "                  activations and weights, with float32 accumulation and float32 model inputs/outputs\n"
          "  --allow-tf32    GPU targets: float32 matrix products and convolutions on tensor cores in TF32 (10\n"
          "                  bits of mantissa, float32 accumulation; like PyTorch's allow_tf32); default: FMAs\n"
          "  -O0             skip LLVM's optimization pipeline (default: default<O3>)\n"
          "  --bounds-check  check every index at run time (slower; errors are returned)\n"
          "  --keep-temps    keep the generated C, weights and object files (the directory is printed)\n"
          "  --verbose       print the kernels and the link command\n"
          "Exit status: 0 built, 1 the model cannot be compiled (the message names the node), 2 usage.\n");
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

/* Emits the kernel of one plan node as `tcc compile` does for a module; control flow, sequences and host
 * operators are listed as not emitted. */
static tcc_status_t emit_node(tcc_llvm_emitter_t *e, const tcc_node_t *node, const char *target, counts_t *c) {
  if (is_control_or_sequence(node->op) || (!tcc_compute_has(node->op) && tcc_host_op_find(node->op))) {
    printf("  not emitted  %-20s %s: %s\n", node->op_type, node->name,
           is_control_or_sequence(node->op) ? "control flow / sequences are not kernels yet"
                                            : "host operator (ir/host_ops.h), not in modules yet");
    c->skipped++;
    return NULL;
  }
  const char *sym;
  if (tcc_gpu_target_find(target)) {
    tcc_gpu_kernel_t kernels[TCC_GPU_MAX_PARTS];
    int count;
    TCC_RETURN_IF_ERROR(tcc_package_emit_gpu_kernel(e, node, target, NULL, false, kernels, &count));
    for (int k = 0; k < count; k++) {
      tcc_gpu_launch_t l = kernels[k].launch;
      const char *params[64];
      int num_params = 0;
      for (int i = 0; i < node->num_inputs && num_params < 64; i++)
        if (node->inputs[i]) params[num_params++] = node->inputs[i]->name;
      int num_in = num_params;
      for (int i = 0; i < node->num_outputs && num_params < 64; i++)
        if (node->outputs[i]) params[num_params++] = node->outputs[i]->name;
      printf("  kernel %s <- %s (%s; %d threads x %d blocks%s, %d bytes shared", kernels[k].entry, node->name,
             tcc_node_kernel_kind(node), l.block, l.grid, l.grid ? "" : " (as many as fit)", l.shared_bytes);
      for (int i = 0; i < l.num_maps; i++)
        printf("%s%s", i ? " " : ", TMA copies of ", l.maps[i].arg < num_params ? params[l.maps[i].arg] : "?");
      if (l.size && l.size_max == INT64_MAX) printf(", for M >= %lld", (long long)l.size_min);
      else if (l.size) printf(", for M in %lld..%lld", (long long)l.size_min, (long long)l.size_max);
      printf("): params");
      for (int i = 0; i < num_params; i++) printf(" %s%s", i == num_in ? "-> " : "", params[i]);
      if (num_in == num_params) printf(" ->");
      printf("\n");
    }
  } else {
    TCC_RETURN_IF_ERROR(tcc_package_emit_kernel(e, node, target, true, &sym));
  }
  c->emitted++;
  return NULL;
}

static tcc_status_t emit_kernels(tcc_graph_t *g, const tcc_plan_t *plan, const char *target, bool optimize,
                                 const tcc_llvm_emit_options_t *eo, tcc_emit_kind_t kind, const char *out) {
  tcc_llvm_emitter_t *e = NULL;
  tcc_llvm_emit_options_t options = *eo;
  options.target = target;
  options.gpu = tcc_gpu_target_find(target) != NULL;
  TCC_RETURN_IF_ERROR(tcc_llvm_emitter_create(g->name ? g->name : "model", NULL, &options, &e));
  counts_t c = {0, 0};
  tcc_status_t st = NULL;
  printf("plan: %d kernels (target %s)\n", plan->num_kernels, target);
  for (int i = 0; i < plan->num_kernels && !st; i++) st = emit_node(e, plan->kernels[i].node, target, &c);
  if (!st) st = tcc_llvm_emitter_finish(e, target, optimize);
  if (!st) st = tcc_llvm_emitter_write(e, target, kind, out);
  if (!st) {
    for (int i = 0; i < tcc_llvm_emitter_num_symbols(e); i++) printf("syms[%d] = %s\n", i, tcc_llvm_emitter_symbol(e, i));
    printf("kernels emitted: %d, not emitted: %d\nwrote %s (%s)\n", c.emitted, c.skipped, out, target);
    if (c.skipped) printf("note: the module is incomplete: the nodes marked 'not emitted' have no kernel yet\n");
  }
  tcc_llvm_emitter_destroy(e);
  return st;
}

/* model.so -> model.h (the same path with its extension replaced, or .h appended). */
static void header_path(const char *out, char *buf, size_t size) {
  const char *slash = strrchr(out, '/'), *dot = strrchr(out, '.');
  size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - out) : strlen(out);
  snprintf(buf, size, "%.*s.h", (int)stem, out);
}

enum { MAX_DISABLED = 32 };

int tcc_cmd_compile(int argc, char **argv) {
  const char *model = NULL, *emit = NULL, *out = NULL, *precision = NULL, *disabled[MAX_DISABLED];
  bool allow_tf32 = false;
  int num_disabled = 0;
  char name[128] = "";
  tcc_package_options_t po = tcc_package_defaults();
  static const char *const with_value[] = {"--emit", "-target", "--target", "-o", "--name", "--weights", "--disable-pass",
                                           "--precision", NULL};
  for (int i = 1; i < argc; i++) {
    tcc_cli_option_t opt;
    if (tcc_cli_option(&opt, "compile", argc, argv, &i, with_value)) return usage(stderr), 2;
    const char *a = opt.name, *value = opt.value;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return usage(stdout), 0;
    if (strcmp(a, "--emit") == 0) emit = value;
    else if (strcmp(a, "-target") == 0 || strcmp(a, "--target") == 0) po.target = value;
    else if (strcmp(a, "-o") == 0) out = value;
    else if (strcmp(a, "--precision") == 0) precision = value;
    else if (strcmp(a, "--name") == 0) snprintf(name, sizeof name, "%s", value);
    else if (strcmp(a, "--weights") == 0 && strcmp(value, "external") == 0) po.external_weights = true;
    else if (strcmp(a, "--weights") == 0 && strcmp(value, "embedded") == 0) po.external_weights = false;
    else if (strcmp(a, "--disable-pass") == 0 && num_disabled < MAX_DISABLED) disabled[num_disabled++] = value;
    else if (strcmp(a, "-O0") == 0) po.optimize = false;
    else if (strcmp(a, "--bounds-check") == 0) po.bounds_check = true;
    else if (strcmp(a, "--allow-tf32") == 0) allow_tf32 = true;
    else if (strcmp(a, "--keep-temps") == 0) po.keep_temps = true;
    else if (strcmp(a, "--verbose") == 0) po.verbose = true;
    else if (a[0] == '-' || model) return fprintf(stderr, "tcc compile: unexpected argument '%s'\n\n", argv[i]), usage(stderr), 2;
    else model = a;
  }
  if (!model || !out) return usage(stderr), 2;
  if (precision && !tcc_pipeline_parse_precision(precision))
    return fprintf(stderr, "tcc compile: --precision must be fp32, fp16 or bf16, not '%s'\n", precision), 2;
  tcc_emit_kind_t kind = TCC_EMIT_OBJ;
  bool gpu = tcc_gpu_target_find(po.target) != NULL;
  if (emit && strcmp(emit, "llvm") == 0) kind = TCC_EMIT_LLVM;
  else if (emit && (strcmp(emit, "asm") == 0 || strcmp(emit, "ptx") == 0)) kind = TCC_EMIT_ASM;
  else if (emit && strcmp(emit, "obj") != 0)
    return fprintf(stderr, "tcc compile: --emit takes llvm, asm, obj or ptx, not '%s'\n", emit), 2;
  bool gpu_list = !gpu && strchr(po.target, ',') != NULL; /* sm_80,sm_90: one module for several GPUs */
  if (gpu_list) {
    char list[256];
    snprintf(list, sizeof list, "%s", po.target);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
      if (!tcc_gpu_target_find(t))
        return fprintf(stderr, "tcc compile: '%s' in -target %s is not a GPU target (run 'tcc compile --help' for "
                               "the list)\n", t, po.target), 2;
    if (emit)
      return fprintf(stderr, "tcc compile: --emit writes the kernels of one target; -target %s names several\n",
                     po.target), 2;
  }
  if (!gpu && !gpu_list && !tcc_cpu_target_find(po.target))
    return fprintf(stderr, "tcc compile: unknown target '%s' (run 'tcc compile --help' for the list)\n", po.target), 2;
  if (allow_tf32 && !gpu && !gpu_list)
    return fprintf(stderr, "tcc compile: --allow-tf32 is for GPU targets (sm_80 ... sm_90a), not %s\n", po.target), 2;
  if (gpu && emit && kind == TCC_EMIT_OBJ)
    return fprintf(stderr, "tcc compile: --emit obj is for CPU targets; for %s use --emit ptx or --emit llvm\n",
                   po.target), 2;
  if (!gpu && emit && strcmp(emit, "ptx") == 0)
    return fprintf(stderr, "tcc compile: --emit ptx needs a GPU target (-target sm_80 ... sm_90a)\n"), 2;
  char out_dir[4096];
  snprintf(out_dir, sizeof out_dir, "%s", out);
  char *slash = strrchr(out_dir, '/');
  if (slash) *slash = 0;
  if (slash && out_dir[0] && access(out_dir, W_OK) != 0)
    return fprintf(stderr, "tcc compile: cannot write into '%s' (the directory of -o): %s\n", out_dir, strerror(errno)), 1;
  if (!name[0]) tcc_package_default_name(out, name, sizeof name);
  po.name = name;

  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  tcc_module_t *m = NULL;
  tcc_onnx_import_options_t io = {0};
  tcc_status_t st = tcc_onnx_import_file(model, &io, tcc_allocator_system(), &m);
  tcc_plan_t plan;
  if (!st) {
    tcc_pipeline_options_t o = tcc_pipeline_defaults();
    /* a GPU list plans for its first GPU (the graph passes plan alike for every GPU target) */
    char first[64];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(po.target, ","), po.target);
    o.context.target = gpu || gpu_list ? first : tcc_cpu_target_class(po.target);
    o.disabled = disabled;
    if (precision) o.context.precision = tcc_pipeline_parse_precision(precision);
    o.precision.allow_tf32 = allow_tf32;
    o.num_disabled = num_disabled;
    st = tcc_pipeline_run(m->graph, &o, &plan);
  }
  char header[4096];
  header_path(out, header, sizeof header);
  if (!st && emit) {
    tcc_llvm_emit_options_t eo = {.bounds_check = po.bounds_check};
    st = emit_kernels(m->graph, &plan, po.target, po.optimize, &eo, kind, out);
  } else if (!st) {
    st = tcc_package_build(m->graph, &po, out, header);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  int rc = 0;
  if (st) {
    fprintf(stderr, "tcc compile: %s: %s\n", tcc_status_code_name(tcc_status_code(st)), tcc_status_message(st));
    tcc_status_free(st);
    rc = 1;
  } else if (!emit) {
    printf("compiled %s for %s: %d kernels -> %s, %s (%.2f s)\n", model, po.target, plan.num_kernels, out, header,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  }
  tcc_module_destroy(m);
  return rc;
}
