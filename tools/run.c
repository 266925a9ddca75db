/* `tcc run`: evaluate a model with the reference evaluator, or run a compiled module (model.so, through
 * the runtime), save or compare its outputs, time it (--bench).
 *
 * A module's signature (runtime/include/tcc/runtime.h) is turned into a graph with typed inputs and
 * outputs and no nodes, so both paths share how inputs are found (files, --compare's data sets, random
 * values), printed, compared and written.
 *
 * Inputs and outputs are run-time values (ir/graph_eval.h): tensors, sequences and optionals. Test data
 * files are read as the model declares the input or output they belong to (frontend/tensor_io.h): a
 * TensorProto or .npy for a tensor, a SequenceProto for a sequence, an OptionalProto for an optional;
 * --output-dir writes each output back in the same form. A uint16 tensor where the model declares
 * bfloat16 is taken as bfloat16 bits (the ONNX test suite stores bfloat16 tensors so), for inputs and
 * for --compare's expected outputs alike. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codegen/package.h"
#include "codegen/target.h"
#include "frontend/onnx_import.h"
#include "frontend/tensor_io.h"
#include "ir/graph_eval.h"
#include "passes/constant_folding.h"
#include "passes/pipeline.h"
#include "tcc/runtime.h"
#include "tools/tcc.h"
#include "tools/timing.h"

enum { MAX_ARGS = 64 };

typedef struct {
  const char *model, *output_dir, *compare_dir;
  const char *inputs[MAX_ARGS]; /* NAME=FILE */
  int num_inputs;
  const char *dims[MAX_ARGS]; /* NAME=VALUE */
  int num_dims;
  double rtol, atol;
  unsigned long long seed;
  bool fold_constants;
  bool pipeline;               /* --pipeline: the optimization pipeline before evaluating */
  bool compile;                /* --compile: the pipeline, then a module built and run in a temporary directory */
  const char *target, *precision, *dump_after;
  const char *disabled[MAX_ARGS]; /* --disable-pass */
  int num_disabled;
  int bench;                   /* --bench N: timed runs of a module */
  bool profile;                /* --profile: per-kernel times of a module */
  const char *device;          /* --device cuda:N: the GPU of a GPU module */
  int gpu_device;
  const char *runner;          /* --runner CMD: run the module through this program (tools/module_runner.c) */
} options_t;

static void usage(FILE *out) {
  fprintf(out,
          "usage: tcc run MODEL.onnx|MODULE.so [--input NAME=FILE]... [--compare DIR] [--output-dir DIR]\n"
          "                          [--rtol R] [--atol A] [--dim SYMBOL=N]... [--seed N] [--fold-constants]\n"
          "                          [--pipeline [-target T] [--precision fp16|bf16] [--disable-pass NAME]...\n"
          "                                      [--dump-after PASS|all]] [--compile] [--bench N] [--profile]\n"
          "                                      [--runner CMD] [--device cuda:N]\n"
          "MODEL.onnx runs on the reference evaluator; a module built by 'tcc compile' (a .so) runs compiled.\n"
          "  --input NAME=FILE  feed input NAME from a TensorProto .pb or a .npy file (a SequenceProto or\n"
          "                     OptionalProto .pb for a sequence or optional input)\n"
          "  --compare DIR      feed DIR/input_K.pb, compare the outputs with DIR/output_K.pb; exit 1 on a mismatch\n"
          "  --output-dir DIR   write each output as DIR/<output_name>.pb (a TensorProto, SequenceProto or\n"
          "                     OptionalProto, as the output is)\n"
          "  --rtol, --atol     tolerance of --compare: |got - ref| <= atol + rtol * |ref| (defaults 1e-3, 1e-7)\n"
          "  --dim SYMBOL=N     size of a symbolic dim for random inputs (default 1)\n"
          "  --seed N           seed of the random inputs given to inputs without a file (default 0)\n"
          "  --fold-constants   fold all-constant subgraphs (passes/constant_folding.c) before evaluating\n"
          "  --pipeline         run the optimization pipeline (passes/pipeline.c, docs/passes.md) before evaluating\n"
          "  -target T          the pipeline's target (default generic: layouts unchanged)\n"
          "  --precision P      fp32 (default), fp16 or bf16: the pipeline's compute precision\n"
          "  --disable-pass P   skip pipeline pass P (repeatable; ablations)\n"
          "  --dump-after P     print the IR after pipeline pass P (or after each, 'all') to stderr\n"
          "  --compile          compile the model (the pipeline, then 'tcc compile' for -target, default native)\n"
          "                     into a temporary module and run that instead of the evaluator\n"
          "  --bench N          (modules) after a warm-up run, time N runs and print median_ms: and min_ms:\n"
          "  --profile          (modules) time every kernel call and print the kernels by total time\n"
          "  --device cuda:N    (GPU modules) the CUDA device to run on (default cuda:0); --bench then times with\n"
          "                     CUDA events (input copies, kernels, output copies)\n"
          "  --runner CMD       (modules) run the module with CMD, a tcc-module-runner command split on spaces,\n"
          "                     e.g. \"qemu-aarch64 -L /usr/aarch64-linux-gnu build/lib/aarch64/tcc-module-runner\"\n"
          "                     for an aarch64 module; inputs and outputs go through raw files (docs/cross.md)\n"
          "Options that take a value also accept --opt=VALUE.\n"
          "Files are read as the model declares each input and output; where it declares bfloat16, a uint16\n"
          "TensorProto is taken as bfloat16 bits (as the ONNX test suite stores them).\n");
}

/* Exit status 3 for what tcc does not support yet, 4 for other errors (1 is a --compare mismatch). */
static int fail(tcc_status_t st, const char *what) {
  int rc = tcc_status_code(st) == TCC_UNSUPPORTED ? 3 : 4;
  fprintf(stderr, "tcc run: error: %s%s\n", what, tcc_status_message(st));
  tcc_status_free(st);
  return rc;
}

/* xorshift64*: reproducible across platforms. */
static double next_uniform(unsigned long long *s) {
  *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
  return (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static bool lookup_dim(const options_t *o, const char *symbol, int64_t *v) {
  size_t n = strlen(symbol);
  for (int i = 0; i < o->num_dims; i++)
    if (strncmp(o->dims[i], symbol, n) == 0 && o->dims[i][n] == '=') {
      *v = atoll(o->dims[i] + n + 1);
      return true;
    }
  return false;
}

/* Seeded random values for an input without a file: floats in [-1, 1) without zeros, integers in [0, 4),
 * bools; symbolic dims from --dim (or 1). */
static tcc_status_t random_input(tcc_module_t *m, const tcc_value_t *v, const options_t *o, unsigned long long *state,
                                 tcc_tensor_t **out) {
  const tcc_type_t *t = &v->type;
  if (t->kind != TCC_TYPE_TENSOR || t->rank < 0 || !t->dtype)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s' %s: give it with --input", v->name,
                           t->kind == TCC_TYPE_SEQUENCE   ? "is a sequence (random values are for tensors)"
                           : t->kind == TCC_TYPE_OPTIONAL ? "is an optional (random values are for tensors)"
                                                          : "has no known tensor type");
  int64_t dims[64];
  for (int i = 0; i < t->rank && i < 64; i++) {
    char sym[128];
    tcc_dim_format(t->dims[i], sym, sizeof sym);
    dims[i] = tcc_dim_is_const(t->dims[i]) ? tcc_dim_value(t->dims[i]) : lookup_dim(o, sym, &dims[i]) ? dims[i] : 1;
  }
  tcc_tensor_t *x = tcc_tensor_create(m, t->dtype, t->rank, dims);
  if (!x) return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s' is too large", v->name);
  for (int64_t i = 0; i < x->numel; i++) {
    double r = next_uniform(state);
    unsigned char *p = (unsigned char *)x->data;
    switch (x->dtype) {
      case TCC_DTYPE_F32: { float f = (float)(2 * r - 1); if (f == 0) f = 0.5f; memcpy(p + 4 * i, &f, 4); break; }
      case TCC_DTYPE_F64: { double d = 2 * r - 1; if (d == 0) d = 0.5; memcpy(p + 8 * i, &d, 8); break; }
      case TCC_DTYPE_I64: { int64_t k = (int64_t)(r * 4); memcpy(p + 8 * i, &k, 8); break; }
      case TCC_DTYPE_I32: { int32_t k = (int32_t)(r * 4); memcpy(p + 4 * i, &k, 4); break; }
      case TCC_DTYPE_BOOL:
      case TCC_DTYPE_U8:
      case TCC_DTYPE_I8: p[i] = (unsigned char)(r * (x->dtype == TCC_DTYPE_BOOL ? 2 : 4)); break;
      default:
        return tcc_status_make(TCC_UNSUPPORTED, "random values for input '%s' of %s: give it with --input", v->name,
                               tcc_dtype_name(x->dtype));
    }
  }
  *out = x;
  return NULL;
}

static bool file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static int find_input(const tcc_graph_t *g, const char *name) {
  for (size_t i = 0; i < g->num_inputs; i++)
    if (strcmp(g->inputs[i]->name, name) == 0) return (int)i;
  return -1;
}

/* The type a file for v is read as: the model's declaration, else what inference found. */
static const tcc_type_t *declared_type(const tcc_value_t *v) {
  return v->declared && v->declared->kind != TCC_TYPE_UNKNOWN ? v->declared : &v->type;
}

/* The first input at or after `from` without a default and without a value yet, or -1. */
static int next_free_input(const tcc_graph_t *g, const tcc_eval_value_t **inputs, int from) {
  for (int i = from; i < (int)g->num_inputs; i++)
    if (!g->inputs[i]->constant && !inputs[i]) return i;
  return -1;
}

/* Fills inputs[]: --compare's input_K.pb (by name, else in the order of the inputs without defaults),
 * then --input files, then random values for the rest. */
static tcc_status_t gather_inputs(tcc_module_t *m, const options_t *o, tcc_module_t *data, const tcc_eval_value_t **inputs) {
  const tcc_graph_t *g = m->graph;
  char path[4096];
  int next_plain = 0;
  for (int k = 0; o->compare_dir; k++) {
    snprintf(path, sizeof path, "%s/input_%d.pb", o->compare_dir, k);
    if (!file_exists(path)) break;
    /* read as the input it feeds by position; again as the named one when its name says otherwise */
    int guess = next_free_input(g, inputs, next_plain);
    const tcc_eval_value_t *v = NULL;
    const char *name;
    TCC_RETURN_IF_ERROR(tcc_tensor_read_value_file(data, path, guess >= 0 ? declared_type(g->inputs[guess]) : NULL, &v, &name));
    int slot = name[0] ? find_input(g, name) : -1;
    if (slot < 0) slot = guess, next_plain = guess + 1;
    if (slot < 0) return tcc_status_make(TCC_INVALID_ARGUMENT, "%s matches no input of the model", path);
    if (slot != guess) TCC_RETURN_IF_ERROR(tcc_tensor_read_value_file(data, path, declared_type(g->inputs[slot]), &v, NULL));
    inputs[slot] = v;
  }
  for (int i = 0; i < o->num_inputs; i++) {
    const char *eq = strchr(o->inputs[i], '=');
    if (!eq) return tcc_status_make(TCC_INVALID_ARGUMENT, "--input expects NAME=FILE, got '%s'", o->inputs[i]);
    snprintf(path, sizeof path, "%.*s", (int)(eq - o->inputs[i]), o->inputs[i]);
    int slot = find_input(g, path);
    if (slot < 0) return tcc_status_make(TCC_INVALID_ARGUMENT, "the model has no input '%s'", path);
    const tcc_eval_value_t *v = NULL;
    TCC_RETURN_IF_ERROR(tcc_tensor_read_value_file(data, eq + 1, declared_type(g->inputs[slot]), &v, NULL));
    inputs[slot] = v;
  }
  unsigned long long state = o->seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
  for (size_t i = 0; i < g->num_inputs; i++) {
    if (inputs[i] || g->inputs[i]->constant) continue;
    tcc_tensor_t *t = NULL;
    TCC_RETURN_IF_ERROR(random_input(data, g->inputs[i], o, &state, &t));
    if (!(inputs[i] = tcc_eval_value_tensor(data, t))) return tcc_status_oom();
  }
  return NULL;
}

static void print_tensor(const char *label, const tcc_tensor_t *t) {
  printf("%s: %s[", label, tcc_dtype_name(t->dtype));
  for (int i = 0; i < t->rank; i++) printf("%s%lld", i ? ", " : "", (long long)t->dims[i]);
  printf("]");
  if (t->dtype == TCC_DTYPE_STRING || t->numel == 0) {
    printf("\n");
    return;
  }
  double lo = INFINITY, hi = -INFINITY, sum = 0;
  for (int64_t i = 0; i < t->numel; i++) {
    double x = tcc_tensor_get_float(t, i);
    lo = fmin(lo, x), hi = fmax(hi, x), sum += x;
  }
  printf("  min %.6g  max %.6g  mean %.6g  first", lo, hi, sum / (double)t->numel);
  for (int64_t i = 0; i < t->numel && i < 4; i++) printf(" %.6g", tcc_tensor_get_float(t, i));
  printf("\n");
}

/* One line per tensor: "y: f32[2]  min ...", a sequence's items as "y[0]: ...", an optional's value as
 * "y.value: ...". */
static void print_value(const char *label, const tcc_eval_value_t *v) {
  char sub[1100];
  if (v->kind == TCC_TYPE_TENSOR) {
    print_tensor(label, v->tensor);
  } else if (v->kind == TCC_TYPE_SEQUENCE) {
    printf("%s: sequence of %lld\n", label, (long long)v->count);
    for (int64_t i = 0; i < v->count; i++) {
      snprintf(sub, sizeof sub, "%.1000s[%lld]", label, (long long)i);
      print_value(sub, v->items[i]);
    }
  } else {
    printf("%s: optional, %s\n", label, v->elem ? "holding a value" : "empty");
    snprintf(sub, sizeof sub, "%.1000s.value", label);
    if (v->elem) print_value(sub, v->elem);
  }
}

/* ONNX's runner: |got - ref| <= atol + rtol * |ref|, NaN matches NaN, infinities match exactly. */
static bool compare_tensor(const char *label, const tcc_tensor_t *got, const tcc_tensor_t *ref, const options_t *o) {
  tcc_tensor_t ref_bf16;
  if (got->dtype == TCC_DTYPE_BF16 && ref->dtype == TCC_DTYPE_U16) { /* bfloat16 stored as uint16 */
    ref_bf16 = *ref;
    ref_bf16.dtype = TCC_DTYPE_BF16;
    ref = &ref_bf16;
  }
  if (got->dtype != ref->dtype || got->rank != ref->rank || memcmp(got->dims, ref->dims, (size_t)got->rank * sizeof *got->dims)) {
    printf("compare %s: FAIL shape or dtype differs (got %s rank %d, expected %s rank %d)\n", label,
           tcc_dtype_name(got->dtype), got->rank, tcc_dtype_name(ref->dtype), ref->rank);
    return false;
  }
  double max_abs = 0, max_rel = 0;
  int64_t bad = 0;
  for (int64_t i = 0; i < got->numel && got->dtype != TCC_DTYPE_STRING; i++) {
    double a = tcc_tensor_get_float(got, i), b = tcc_tensor_get_float(ref, i);
    if (isnan(a) || isnan(b)) {
      bad += isnan(a) != isnan(b);
      continue;
    }
    if (isinf(a) || isinf(b)) {
      bad += a != b;
      continue;
    }
    double diff = fabs(a - b);
    max_abs = fmax(max_abs, diff);
    if (b != 0) max_rel = fmax(max_rel, diff / fabs(b));
    bad += diff > o->atol + o->rtol * fabs(b);
  }
  if (got->dtype == TCC_DTYPE_STRING)
    for (int64_t i = 0; i < got->numel; i++) {
      const tcc_bytes_t *x = (const tcc_bytes_t *)got->data + i, *y = (const tcc_bytes_t *)ref->data + i;
      bad += x->size != y->size || memcmp(x->data, y->data, x->size) != 0;
    }
  printf("compare %s: %s max_abs_err %.3g max_rel_err %.3g (%lld of %lld elements outside tolerance)\n", label,
         bad ? "FAIL" : "ok", max_abs, max_rel, (long long)bad, (long long)got->numel);
  return bad == 0;
}

static const char *kind_text(const tcc_eval_value_t *v) {
  return v->kind == TCC_TYPE_TENSOR ? "a tensor" : v->kind == TCC_TYPE_SEQUENCE ? "a sequence" : "an optional";
}

/* Compares values structurally (kinds, sequence lengths, optional presence), tensors element-wise. */
static bool compare_value(const char *label, const tcc_eval_value_t *got, const tcc_eval_value_t *ref, const options_t *o) {
  char sub[1100];
  if (got->kind != ref->kind) {
    printf("compare %s: FAIL got %s, expected %s\n", label, kind_text(got), kind_text(ref));
    return false;
  }
  if (got->kind == TCC_TYPE_TENSOR) return compare_tensor(label, got->tensor, ref->tensor, o);
  if (got->kind == TCC_TYPE_OPTIONAL) {
    if (!got->elem != !ref->elem) {
      printf("compare %s: FAIL got %s optional, expected %s one\n", label, got->elem ? "a full" : "an empty",
             ref->elem ? "a full" : "an empty");
      return false;
    }
    snprintf(sub, sizeof sub, "%.1000s.value", label);
    if (got->elem) return compare_value(sub, got->elem, ref->elem, o);
    printf("compare %s: ok (empty optional)\n", label);
    return true;
  }
  if (got->count != ref->count) {
    printf("compare %s: FAIL got a sequence of %lld, expected %lld\n", label, (long long)got->count,
           (long long)ref->count);
    return false;
  }
  bool ok = true;
  for (int64_t i = 0; i < got->count; i++) {
    snprintf(sub, sizeof sub, "%.1000s[%lld]", label, (long long)i);
    ok &= compare_value(sub, got->items[i], ref->items[i], o);
  }
  if (got->count == 0) printf("compare %s: ok (empty sequence)\n", label);
  return ok;
}

static int parse_options(int argc, char **argv, options_t *o) {
  *o = (options_t){.rtol = 1e-3, .atol = 1e-7};
  static const char *const with_value[] = {"--input", "--compare", "--output-dir", "--rtol", "--atol", "--dim",
                                           "--seed", "-target", "--target", "--precision", "--disable-pass",
                                           "--dump-after", "--bench", "--runner", "--device", NULL};
  for (int i = 1; i < argc; i++) {
    tcc_cli_option_t opt;
    if (tcc_cli_option(&opt, "run", argc, argv, &i, with_value)) return usage(stderr), 2;
    const char *a = opt.name, *value = opt.value;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return usage(stdout), 0;
    if (strcmp(a, "--input") == 0 && o->num_inputs < MAX_ARGS) o->inputs[o->num_inputs++] = value;
    else if (strcmp(a, "--dim") == 0 && o->num_dims < MAX_ARGS) o->dims[o->num_dims++] = value;
    else if (strcmp(a, "--compare") == 0) o->compare_dir = value;
    else if (strcmp(a, "--output-dir") == 0) o->output_dir = value;
    else if (strcmp(a, "--rtol") == 0) o->rtol = atof(value);
    else if (strcmp(a, "--atol") == 0) o->atol = atof(value);
    else if (strcmp(a, "--seed") == 0) o->seed = strtoull(value, NULL, 10);
    else if (strcmp(a, "--fold-constants") == 0) o->fold_constants = true;
    else if (strcmp(a, "--pipeline") == 0) o->pipeline = true;
    else if (strcmp(a, "--compile") == 0) o->compile = o->pipeline = true;
    else if (strcmp(a, "-target") == 0 || strcmp(a, "--target") == 0) o->target = value;
    else if (strcmp(a, "--precision") == 0) o->precision = value;
    else if (strcmp(a, "--dump-after") == 0) o->dump_after = value;
    else if (strcmp(a, "--bench") == 0) o->bench = atoi(value);
    else if (strcmp(a, "--profile") == 0) o->profile = true;
    else if (strcmp(a, "--runner") == 0) o->runner = value;
    else if (strcmp(a, "--device") == 0) o->device = value;
    else if (strcmp(a, "--disable-pass") == 0 && o->num_disabled < MAX_ARGS) o->disabled[o->num_disabled++] = value;
    else if (a[0] == '-' || o->model) return fprintf(stderr, "tcc run: unexpected argument '%s'\n", a), usage(stderr), 2;
    else o->model = a;
  }
  if (!o->model) return usage(stderr), 2;
  if (o->precision && !tcc_pipeline_parse_precision(o->precision))
    return fprintf(stderr, "tcc run: --precision must be fp32, fp16 or bf16, not '%s'\n", o->precision), 2;
  if (!o->pipeline && (o->target || o->precision || o->dump_after || o->num_disabled))
    return fprintf(stderr, "tcc run: -target, --precision, --disable-pass and --dump-after go with --pipeline\n"), 2;
  if (o->bench < 0) return fprintf(stderr, "tcc run: --bench takes a positive count\n"), 2;
  if (o->device && !tcc_parse_cuda_device(o->device, &o->gpu_device))
    return fprintf(stderr, "tcc run: --device takes cuda or cuda:N, not '%s'\n", o->device), 2;
  return -1;
}

static bool pipeline_dim(void *ctx, const char *symbol, int64_t *value) {
  return lookup_dim(ctx, symbol, value);
}

/* --pipeline: every pass of passes/pipeline.c on the imported graph, in place. */
static tcc_status_t run_pipeline(tcc_module_t *m, const options_t *o) {
  tcc_pipeline_options_t p = tcc_pipeline_defaults();
  if (o->target) p.context.target = o->target;
  if (o->compile) p.context.target = tcc_cpu_target_class(o->target ? o->target : "native");
  if (o->precision) p.context.precision = tcc_pipeline_parse_precision(o->precision);
  p.context.dim_lookup = pipeline_dim;
  p.context.dim_ctx = (void *)o;
  p.dump_after = o->dump_after;
  p.disabled = o->disabled;
  p.num_disabled = o->num_disabled;
  tcc_plan_t plan;
  TCC_RETURN_IF_ERROR(tcc_pipeline_run(m->graph, &p, &plan));
  printf("pipeline: %d kernels\n", plan.num_kernels);
  return NULL;
}

/* ---- compiled modules ---- */

/* A module by its contents: an ELF shared object (anything else is taken for an ONNX model). */
static bool is_module_file(const char *path) {
  FILE *f = fopen(path, "rb");
  unsigned char magic[4] = {0};
  bool elf = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, "\177ELF", 4) == 0;
  if (f) fclose(f);
  return elf;
}

static const tcc_dim_t *info_dim(tcc_module_t *m, const tcc_rt_tensor_info_t *t, int d) {
  return t->dims[d] >= 0 ? tcc_dim_const(m, t->dims[d]) : tcc_dim_symbol(m, t->dim_symbols[d]);
}

static tcc_status_t typed_value(tcc_module_t *m, tcc_value_t *v, const tcc_rt_tensor_info_t *t) {
  if (!v) return tcc_status_make(TCC_INVALID_MODEL, "the module names two tensors '%s'", t->name);
  const tcc_dim_t **dims = tcc_module_alloc(m, ((size_t)t->rank + 1) * sizeof *dims);
  if (!dims) return tcc_status_oom();
  for (int d = 0; d < t->rank; d++) dims[d] = info_dim(m, t, d);
  v->type = (tcc_type_t){TCC_TYPE_TENSOR, (tcc_dtype_t)t->dtype, t->rank, dims, NULL};
  return tcc_module_check(m);
}

/* A graph with the module's signature: its inputs and outputs, typed, and no nodes. */
static tcc_status_t signature_graph(const tcc_rt_module_t *rm, tcc_module_t **out) {
  TCC_RETURN_IF_ERROR(tcc_module_create(tcc_allocator_system(), out));
  tcc_module_t *m = *out;
  tcc_rt_tensor_info_t t;
  for (int i = 0; tcc_rt_module_input(rm, i, &t); i++) TCC_RETURN_IF_ERROR(typed_value(m, tcc_graph_add_input(m->graph, t.name), &t));
  for (int i = 0; tcc_rt_module_output(rm, i, &t); i++) {
    tcc_value_t *v = tcc_graph_find(m->graph, t.name);
    if (!v) TCC_RETURN_IF_ERROR(typed_value(m, v = tcc_graph_add_value(m->graph, t.name), &t));
    if (!tcc_graph_add_output(m->graph, v)) return tcc_status_oom();
  }
  return NULL;
}

typedef struct {
  const char *name;
  double ms;
} call_time_t;

static int by_time_desc(const void *a, const void *b) {
  double x = ((const call_time_t *)a)->ms, y = ((const call_time_t *)b)->ms;
  return x > y ? -1 : x < y;
}

/* --profile: the kernels by their share of the time, the costliest first. */
static void print_profile(const tcc_rt_session_t *s) {
  int n = 0;
  const char *name;
  double ms, total = 0;
  int64_t runs = 0;
  while (tcc_rt_session_call_profile(s, n, &name, &ms, &runs)) n++;
  call_time_t *t = calloc((size_t)n + 1, sizeof *t);
  if (!t || runs == 0) return free(t);
  for (int i = 0; i < n; i++) {
    if (!tcc_rt_session_call_profile(s, i, &t[i].name, &t[i].ms, &runs)) t[i] = (call_time_t){"?", 0};
    t[i].ms /= (double)runs;
    total += t[i].ms;
  }
  qsort(t, (size_t)n, sizeof *t, by_time_desc);
  printf("profile: %d kernels, %.4f ms per run (mean of %lld runs)\n", n, total, (long long)runs);
  enum { SHOWN = 20 };
  double rest = 0;
  for (int i = 0; i < n; i++)
    if (i < SHOWN) printf("  %9.4f ms %5.1f%%  %s\n", t[i].ms, total > 0 ? 100 * t[i].ms / total : 0, t[i].name);
    else rest += t[i].ms;
  if (n > SHOWN) printf("  %9.4f ms %5.1f%%  (%d more kernels)\n", rest, total > 0 ? 100 * rest / total : 0, n - SHOWN);
  free(t);
}

/* Runs the session on inputs, copies its outputs into data; with --bench, times o->bench more runs. */
static tcc_status_t run_module(tcc_rt_session_t *s, const tcc_graph_t *g, const tcc_eval_value_t **inputs,
                               tcc_module_t *data, const tcc_eval_value_t **outputs, const options_t *o) {
  int ni = (int)g->num_inputs, no = (int)g->num_outputs;
  tcc_rt_tensor_t *in = tcc_module_alloc(data, (size_t)(ni + 1) * sizeof *in);
  tcc_rt_tensor_t *out = tcc_module_alloc(data, (size_t)(no + 1) * sizeof *out);
  double *times = tcc_module_alloc(data, (size_t)(o->bench + 1) * sizeof *times);
  if (!in || !out || !times) return tcc_status_oom();
  for (int i = 0; i < ni; i++) {
    if (inputs[i]->kind != TCC_TYPE_TENSOR) return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s' is not a tensor", g->inputs[i]->name);
    const tcc_tensor_t *t = inputs[i]->tensor;
    in[i] = tcc_rt_tensor(t->data, t->nbytes, t->dtype, t->rank, t->dims);
  }
  memset(out, 0, (size_t)no * sizeof *out);
  double t0 = tcc_now_ms();
  TCC_RETURN_IF_ERROR(tcc_rt_session_run(s, in, ni, out, no));
  printf("time: %.3f ms (compiled module, first run)\n", tcc_now_ms() - t0);
  for (int i = 0; i < no; i++) {
    tcc_tensor_t *t = tcc_tensor_create(data, (tcc_dtype_t)out[i].dtype, out[i].rank, out[i].dims);
    if (!t || !(outputs[i] = tcc_eval_value_tensor(data, t))) return tcc_status_oom();
    if (t->nbytes) memcpy((void *)t->data, out[i].data, t->nbytes);
  }
  double gpu_ms;
  for (int r = 0; r < o->bench; r++) {
    for (int i = 0; i < no; i++) out[i].data = NULL;
    double start = tcc_now_ms();
    TCC_RETURN_IF_ERROR(tcc_rt_session_run(s, in, ni, out, no));
    times[r] = tcc_rt_session_gpu_ms(s, &gpu_ms) ? gpu_ms : tcc_now_ms() - start;
  }
  if (o->bench) {
    if (tcc_rt_session_gpu_ms(s, &gpu_ms)) printf("timed with CUDA events (inputs in, kernels, outputs out)\n");
    tcc_print_bench(times, o->bench);
  }
  if (o->profile) print_profile(s);
  return NULL;
}

/* Loads a module and makes its signature graph and a session. */
static tcc_status_t open_module(const char *path, const options_t *o, tcc_rt_module_t **rm, tcc_rt_session_t **rs,
                                tcc_module_t **m) {
  TCC_RETURN_IF_ERROR(tcc_rt_module_load(path, NULL, rm));
  printf("module %s: model '%s', target %s\n", path, tcc_rt_module_name(*rm), tcc_rt_module_target(*rm));
  TCC_RETURN_IF_ERROR(signature_graph(*rm, m));
  tcc_rt_session_options_t so = {.profile = o->profile, .gpu_device = o->gpu_device};
  TCC_RETURN_IF_ERROR(tcc_rt_session_create(*rm, &so, rs));
  if (strcmp(tcc_rt_session_device(*rs), "cpu") != 0) printf("device: %s\n", tcc_rt_session_device(*rs));
  return NULL;
}

/* --compile: packages the optimized graph as DIR/model.so in a new temporary directory; *m is
 * destroyed (the module's signature replaces it). */
static tcc_status_t compile_to_temp(tcc_module_t **m, const options_t *o, char dir[64]) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, 64, "%.40s/tcc-run-XXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    dir[0] = 0;
    return tcc_status_make(TCC_IO, "cannot create a temporary directory: %s", strerror(errno));
  }
  char so[128], h[128];
  snprintf(so, sizeof so, "%s/model.so", dir);
  snprintf(h, sizeof h, "%s/model.h", dir);
  tcc_package_options_t po = tcc_package_defaults();
  if (o->target) po.target = o->target;
  tcc_status_t st = tcc_package_build((*m)->graph, &po, so, h);
  tcc_module_destroy(*m);
  *m = NULL;
  return st;
}

static tcc_status_t open_module_at(const char *dir, const options_t *o, tcc_rt_module_t **rm, tcc_rt_session_t **rs,
                                   tcc_module_t **m) {
  char so[128];
  snprintf(so, sizeof so, "%s/model.so", dir);
  return open_module(so, o, rm, rs, m);
}

static void remove_temp(const char *dir) {
  if (!dir[0]) return;
  char path[128];
  snprintf(path, sizeof path, "%s/model.so", dir), unlink(path);
  snprintf(path, sizeof path, "%s/model.h", dir), unlink(path);
  rmdir(dir);
}

/* ---- --runner: a module run by another program ----
 *
 * For a module this process cannot load (another architecture: an aarch64 module under qemu-aarch64),
 * `--runner CMD` speaks the protocol of tools/module_runner.c (its header comment): `CMD MODULE.so
 * --signature` gives the signature as text, turned into the same signature graph as a loaded module's;
 * a run writes each input as a raw file into a temporary directory, runs `CMD MODULE.so
 * DTYPE:D0,D1,...:FILE... -o DIR` and reads DIR/output_K.bin back as described by DIR/output_K.txt. */

enum { RUNNER_MAX_WORDS = 32 };

typedef struct {
  char module[4096]; /* the module file given to the runner */
  char dir[64];      /* the temporary directory of inputs, outputs and the runner's messages; "" if none */
} runner_t;

/* Decodes the %XX escapes of a runner token into buf (size bytes). */
static void runner_decode(const char *token, char *buf, size_t size) {
  size_t n = 0;
  for (const char *p = token; *p && n + 1 < size; p++) {
    unsigned hex = 0;
    if (p[0] == '%' && p[1] && p[2] && sscanf(p + 1, "%2x", &hex) == 1) buf[n++] = (char)hex, p += 2;
    else buf[n++] = *p;
  }
  buf[n] = 0;
}

static int32_t runner_dtype(const char *name) {
  for (int32_t code = 1; code < 256 && strcmp(tcc_rt_dtype_name(code), "?") != 0; code++)
    if (strcmp(tcc_rt_dtype_name(code), name) == 0) return code;
  return -1;
}

/* Parses "KIND NAME DTYPE [DIM,...]" into *t (name and symbols decoded into the given buffers). */
static bool runner_parse_tensor(char *line, char *kind, size_t kind_size, tcc_rt_tensor_info_t *t, char *name,
                                size_t name_size, char (*symbols)[256]) {
  char *save = NULL;
  const char *k = strtok_r(line, " \t\r\n", &save), *n = strtok_r(NULL, " \t\r\n", &save);
  const char *dt = strtok_r(NULL, " \t\r\n", &save);
  char *dims = strtok_r(NULL, " \t\r\n", &save);
  if (!k || !n || !dt || !dims || dims[0] != '[' || dims[strlen(dims) - 1] != ']') return false;
  snprintf(kind, kind_size, "%s", k);
  runner_decode(n, name, name_size);
  memset(t, 0, sizeof *t);
  t->name = name;
  if ((t->dtype = runner_dtype(dt)) < 0) return false;
  dims[strlen(dims) - 1] = 0;
  char *dsave = NULL;
  for (char *d = strtok_r(dims + 1, ",", &dsave); d; d = strtok_r(NULL, ",", &dsave)) {
    if (t->rank == TCC_RT_MAX_RANK) return false;
    if ((d[0] >= '0' && d[0] <= '9')) {
      t->dims[t->rank] = strtoll(d, NULL, 10);
    } else {
      runner_decode(d, symbols[t->rank], 256);
      t->dims[t->rank] = -1;
      t->dim_symbols[t->rank] = symbols[t->rank];
    }
    t->rank++;
  }
  return true;
}

static char *read_text_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *text = malloc(cap);
  for (size_t got; text && (got = fread(text + n, 1, cap - n - 1, f)) > 0;) {
    n += got;
    if (n + 1 == cap) {
      char *bigger = realloc(text, cap *= 2);
      if (!bigger) free(text);
      text = bigger;
    }
  }
  fclose(f);
  if (text) text[n] = 0;
  return text;
}

/* Runs the runner command with `args` appended, its stdout into dir/runner.out and its stderr into
 * dir/runner.err; TCC_IO with the command and its stderr when it cannot start or fails. */
static tcc_status_t runner_exec(const options_t *o, const runner_t *r, const char *const *args, int num_args) {
  char words[4096], out_path[128], err_path[128];
  snprintf(words, sizeof words, "%s", o->runner);
  char *argv[RUNNER_MAX_WORDS + 1] = {0}, *save = NULL;
  int argc = 0;
  for (char *w = strtok_r(words, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
    if (argc < RUNNER_MAX_WORDS) argv[argc++] = w;
  if (argc == 0) return tcc_status_make(TCC_INVALID_ARGUMENT, "--runner is empty");
  char **full = calloc((size_t)(argc + num_args + 1), sizeof *full);
  if (!full) return tcc_status_oom();
  memcpy(full, argv, (size_t)argc * sizeof *full);
  for (int i = 0; i < num_args; i++) full[argc + i] = (char *)args[i];
  snprintf(out_path, sizeof out_path, "%s/runner.out", r->dir);
  snprintf(err_path, sizeof err_path, "%s/runner.err", r->dir);
  fflush(stdout), fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644), err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(126);
    execvp(full[0], full);
    fprintf(stderr, "cannot run '%s': %s\n", full[0], strerror(errno));
    _exit(127);
  }
  free(full);
  if (pid < 0) return tcc_status_make(TCC_IO, "cannot start the runner '%s': %s", o->runner, strerror(errno));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return NULL;
  char *err = read_text_file(err_path);
  const char *tail = err ? err : "";
  size_t length = strlen(tail);
  while (length && tail[length - 1] == '\n') err[--length] = 0;
  if (length > 4000) tail += length - 4000;
  tcc_status_t st = tcc_status_make(TCC_IO, "the runner '%s' failed (%s %d):\n%s", o->runner,
                                    WIFEXITED(status) ? "exit status" : "signal",
                                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), tail);
  free(err);
  return st;
}

/* Makes the temporary directory, asks the runner for the module's signature and builds its graph. */
static tcc_status_t runner_open(const options_t *o, const char *module, runner_t *r, tcc_module_t **out) {
  snprintf(r->module, sizeof r->module, "%s", module);
  const char *tmp = getenv("TMPDIR");
  snprintf(r->dir, sizeof r->dir, "%.40s/tcc-runner-XXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
  if (!mkdtemp(r->dir)) {
    r->dir[0] = 0;
    return tcc_status_make(TCC_IO, "cannot create a temporary directory: %s", strerror(errno));
  }
  const char *args[] = {r->module, "--signature"};
  TCC_RETURN_IF_ERROR(runner_exec(o, r, args, 2));
  char path[128];
  snprintf(path, sizeof path, "%s/runner.out", r->dir);
  char *text = read_text_file(path);
  if (!text) return tcc_status_make(TCC_IO, "cannot read the runner's signature '%s'", path);
  tcc_status_t st = tcc_module_create(tcc_allocator_system(), out);
  char model[256] = "?", target[256] = "?";
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); !st && line; line = strtok_r(NULL, "\n", &save)) {
    char kind[16], name[1024], symbols[TCC_RT_MAX_RANK][256], value[256];
    tcc_rt_tensor_info_t t;
    if (sscanf(line, "model %255s", value) == 1) runner_decode(value, model, sizeof model);
    else if (sscanf(line, "target %255s", value) == 1) runner_decode(value, target, sizeof target);
    else if (!runner_parse_tensor(line, kind, sizeof kind, &t, name, sizeof name, symbols))
      st = tcc_status_make(TCC_INVALID_MODEL, "the runner's signature has a bad line '%s'", line);
    else if (strcmp(kind, "input") == 0)
      st = typed_value(*out, tcc_graph_add_input((*out)->graph, t.name), &t);
    else if (strcmp(kind, "output") == 0) {
      tcc_value_t *v = tcc_graph_find((*out)->graph, t.name);
      if (!v) st = typed_value(*out, v = tcc_graph_add_value((*out)->graph, t.name), &t);
      if (!st && !tcc_graph_add_output((*out)->graph, v)) st = tcc_status_oom();
    }
  }
  free(text);
  if (!st) printf("module %s: model '%s', target %s (through the runner)\n", module, model, target);
  return st;
}

/* One run through the runner: inputs written as raw files, outputs read back into data. */
static tcc_status_t runner_run(const options_t *o, const runner_t *r, const tcc_graph_t *g,
                               const tcc_eval_value_t **inputs, tcc_module_t *data, const tcc_eval_value_t **outputs) {
  int ni = (int)g->num_inputs, no = (int)g->num_outputs;
  const char **args = tcc_module_alloc(data, (size_t)(ni + 8) * sizeof *args);
  char *out_dir = tcc_module_alloc(data, 128), *bench = tcc_module_alloc(data, 32);
  if (!args || !out_dir || !bench) return tcc_status_oom();
  int n = 0;
  args[n++] = r->module;
  for (int i = 0; i < ni; i++) {
    if (inputs[i]->kind != TCC_TYPE_TENSOR)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s' is not a tensor", g->inputs[i]->name);
    const tcc_tensor_t *t = inputs[i]->tensor;
    size_t size = 128 + (size_t)t->rank * 24;
    char *spec = tcc_module_alloc(data, size);
    if (!spec) return tcc_status_oom();
    int used = snprintf(spec, size, "%s:", tcc_rt_dtype_name((int32_t)t->dtype));
    for (int d = 0; d < t->rank; d++) used += snprintf(spec + used, size - (size_t)used, "%s%lld", d ? "," : "", (long long)t->dims[d]);
    char *path = spec + used + 1; /* the file name, also written after the ':' below */
    snprintf(path, size - (size_t)used - 1, "%s/input_%d.bin", r->dir, i);
    FILE *f = fopen(path, "wb");
    bool ok = f && (t->nbytes == 0 || fwrite(t->data, t->nbytes, 1, f) == 1);
    if (f) ok = fclose(f) == 0 && ok;
    if (!ok) return tcc_status_make(TCC_IO, "cannot write the runner's input '%s'", path);
    spec[used] = ':';
    args[n++] = spec;
  }
  snprintf(out_dir, 128, "%s/out", r->dir);
  args[n++] = "-o", args[n++] = out_dir;
  if (o->bench) snprintf(bench, 32, "%d", o->bench), args[n++] = "--bench", args[n++] = bench;
  if (o->device) args[n++] = "--device", args[n++] = o->device;
  TCC_RETURN_IF_ERROR(runner_exec(o, r, args, n));
  char path[256];
  snprintf(path, sizeof path, "%s/runner.out", r->dir);
  char *said = read_text_file(path);
  if (said) fputs(said, stdout);
  free(said);
  for (int k = 0; k < no; k++) {
    snprintf(path, sizeof path, "%s/output_%d.txt", out_dir, k);
    char *line = read_text_file(path);
    char kind[16], name[1024], symbols[TCC_RT_MAX_RANK][256];
    tcc_rt_tensor_info_t info;
    bool ok = line && runner_parse_tensor(line, kind, sizeof kind, &info, name, sizeof name, symbols);
    free(line);
    for (int d = 0; ok && d < info.rank; d++) ok = info.dims[d] >= 0;
    if (!ok) return tcc_status_make(TCC_IO, "the runner wrote no valid '%s'", path);
    tcc_tensor_t *t = tcc_tensor_create(data, (tcc_dtype_t)info.dtype, info.rank, info.dims);
    if (!t || !(outputs[k] = tcc_eval_value_tensor(data, t))) return tcc_status_oom();
    snprintf(path, sizeof path, "%s/output_%d.bin", out_dir, k);
    FILE *f = fopen(path, "rb");
    struct stat st = {0};
    ok = f && fstat(fileno(f), &st) == 0 && (size_t)st.st_size == t->nbytes &&
         (t->nbytes == 0 || fread((void *)t->data, t->nbytes, 1, f) == 1);
    if (f) fclose(f);
    if (!ok) return tcc_status_make(TCC_IO, "the runner's output '%s' is missing or not %zu bytes", path, t->nbytes);
  }
  return NULL;
}

/* Removes the temporary directory and everything in it (only what the runner protocol puts there). */
static void runner_remove(runner_t *r) {
  if (!r->dir[0]) return;
  char sub[128];
  snprintf(sub, sizeof sub, "%s/out", r->dir);
  const char *dirs[] = {sub, r->dir};
  for (int i = 0; i < 2; i++) {
    DIR *d = opendir(dirs[i]);
    for (struct dirent *e; d && (e = readdir(d));) {
      char path[512];
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, "out") == 0) continue;
      snprintf(path, sizeof path, "%s/%s", dirs[i], e->d_name);
      unlink(path);
    }
    if (d) closedir(d);
    rmdir(dirs[i]);
  }
  r->dir[0] = 0;
}

int tcc_cmd_run(int argc, char **argv) {
  options_t o;
  int rc = parse_options(argc, argv, &o);
  if (rc >= 0) return rc;
  bool compiled = is_module_file(o.model);
  if (compiled && (o.pipeline || o.fold_constants))
    return fprintf(stderr, "tcc run: --pipeline and --fold-constants are for ONNX models, not compiled modules\n"), 2;
  if (!compiled && o.bench && !o.compile)
    return fprintf(stderr, "tcc run: --bench times compiled modules: 'tcc compile' the model first, or --compile\n"), 2;
  if (!compiled && o.runner && !o.compile)
    return fprintf(stderr, "tcc run: --runner runs compiled modules: 'tcc compile' the model first, or --compile\n"), 2;
  runner_t runner = {.dir = ""};
  tcc_onnx_import_options_t import_options = {0};
  tcc_module_t *m = NULL, *data = NULL;
  tcc_rt_module_t *rm = NULL;
  tcc_rt_session_t *rs = NULL;
  tcc_status_t st = compiled && o.runner ? runner_open(&o, o.model, &runner, &m)
                    : compiled           ? open_module(o.model, &o, &rm, &rs, &m)
                                         : tcc_onnx_import_file(o.model, &import_options, tcc_allocator_system(), &m);
  int folded = 0;
  if (!st && o.fold_constants && !(st = tcc_fold_constants(m->graph, NULL, &folded)))
    printf("constant folding: %d nodes folded\n", folded);
  if (!st && o.pipeline) st = run_pipeline(m, &o);
  char temp_dir[64] = "";
  if (!st && o.compile) {
    compiled = true;
    st = compile_to_temp(&m, &o, temp_dir);
    char temp_module[128];
    snprintf(temp_module, sizeof temp_module, "%s/model.so", temp_dir);
    if (!st) st = o.runner ? runner_open(&o, temp_module, &runner, &m) : open_module_at(temp_dir, &o, &rm, &rs, &m);
  }
  if (!st) st = tcc_module_create(tcc_allocator_system(), &data);
  if (st) {
    tcc_rt_session_destroy(rs);
    tcc_rt_module_release(rm);
    tcc_module_destroy(m);
    remove_temp(temp_dir);
    runner_remove(&runner);
    return fail(st, "");
  }
  const tcc_graph_t *g = m->graph;
  const tcc_eval_value_t **inputs = tcc_module_alloc(data, (g->num_inputs + 1) * sizeof *inputs);
  const tcc_eval_value_t **outputs = tcc_module_alloc(data, (g->num_outputs + 1) * sizeof *outputs);
  struct timespec t0, t1;
  if (!inputs || !outputs) st = tcc_status_oom();
  if (!st) st = gather_inputs(m, &o, data, inputs);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (!st)
    st = !compiled  ? tcc_graph_eval_values(g, inputs, data, outputs)
         : o.runner ? runner_run(&o, &runner, g, inputs, data, outputs)
                    : run_module(rs, g, inputs, data, outputs, &o);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  rc = st ? fail(st, "") : 0;
  for (size_t i = 0; !rc && i < g->num_outputs; i++) print_value(g->outputs[i]->name, outputs[i]);
  if (!rc && !compiled)
    printf("time: %.1f ms (reference evaluator)\n", (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
  for (size_t i = 0; !rc && o.output_dir && i < g->num_outputs; i++) {
    char path[4096], name[1024];
    snprintf(name, sizeof name, "%s", g->outputs[i]->name);
    for (char *p = name; *p; p++)
      if (*p == '/' || *p == '\\') *p = '_';
    snprintf(path, sizeof path, "%s/%s.pb", o.output_dir, name);
    if ((st = tcc_tensor_write_value_pb(outputs[i], declared_type(g->outputs[i]), g->outputs[i]->name, path)))
      rc = fail(st, "");
  }
  for (size_t i = 0; !rc && o.compare_dir && i < g->num_outputs; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/output_%zu.pb", o.compare_dir, i);
    /* read as declared; an output whose declaration says nothing is read as what was computed */
    const tcc_type_t *type = declared_type(g->outputs[i]);
    tcc_type_t as_computed = {outputs[i]->kind, TCC_DTYPE_UNDEFINED, -1, NULL, NULL};
    if (type->kind == TCC_TYPE_UNKNOWN) type = &as_computed;
    const tcc_eval_value_t *ref = NULL;
    if ((st = tcc_tensor_read_value_file(data, path, type, &ref, NULL))) {
      rc = fail(st, "");
      break;
    }
    if (!compare_value(g->outputs[i]->name, outputs[i], ref, &o)) rc = 1;
  }
  tcc_rt_session_destroy(rs);
  tcc_rt_module_release(rm);
  tcc_module_destroy(data);
  tcc_module_destroy(m);
  remove_temp(temp_dir);
  runner_remove(&runner);
  return rc;
}
