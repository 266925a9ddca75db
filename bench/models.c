/* bench/models.c — end-to-end latency of compiled tcc modules against ONNX Runtime (CPU), in one process.
 *
 * For each model (resnet18, mobilenet_v2, bert_mini, gpt_mini; with --all also squeezenet1_1, convnet3x3
 * and mlp) it compiles MODEL.onnx with `tcc compile -target T` into a module (or takes an existing one with
 * --no-compile), loads it with the runtime (tcc/runtime.h) on a pool of --threads threads, loads the same
 * model into ONNX Runtime through its C API (libonnxruntime.so opened with dlopen: intra-op threads =
 * --threads, inter-op 1, all graph optimizations), feeds both the model's test_data_set_0 inputs, checks
 * that their outputs agree (|tcc - ort| <= atol + rtol |ort| per element), then times --runs runs of each
 * in --rounds rounds: each round runs a block of tcc's runs and a block of ONNX Runtime's, each after a
 * 0.2 s pause, the side going first alternating from round to round, so that each runs in its steady
 * state without the other's idle threads spinning on the same cores and load that comes and goes on the
 * machine falls on both (with --alternate the two alternate run by run instead), and prints per model the
 * median and min milliseconds of each and the ratios ORT / tcc of the medians and of the minimums (> 1: tcc
 * is faster; the minimums are the less sensitive to other load on the machine).
 *
 *   bench_models [--all] [--models a,b,...] [--runs N] [--warmup N] [--threads N] [--target T]
 *                [--models-dir DIR] [--module-dir DIR] [--tcc PATH] [--ort-lib PATH] [--no-compile]
 *                [--compile-flag ARG]... [--tcc-only] [--ort-no-spin] [--rounds R] [--alternate] [--rtol R]
 *                [--atol A] [--markdown]
 *
 * Models come from --models-dir, else TCC_MODELS, else ../shared/models (relative to the working
 * directory, then to the source tree). libonnxruntime.so comes from --ort-lib, else TCC_ORT_LIB, else
 * the onnxruntime-node package that scripts/bench_deps.sh installs under bench/.deps. When a model does
 * not compile with the default pipeline and no --compile-flag was given, it is compiled again with
 * `--disable-pass fusion` and the table says so. Exit status: 0 when every model ran and matched, 1
 * otherwise (the table names what failed), 2 on bad usage.
 *
 * ONNX Runtime ships no C header in the npm package, so the few entries of its C API used here are
 * declared below at their positions in the function table (struct OrtApi of onnxruntime_c_api.h), which
 * only ever grows at the end: the layout of these first 131 entries is that of every release since 1.13.
 */
#include <dlfcn.h>
#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frontend/tensor_io.h"
#include "ir/graph.h"
#include "tcc/runtime.h"
#include "tools/timing.h"

#ifndef TCC_BENCH_TCC_PATH
#define TCC_BENCH_TCC_PATH "tcc"
#endif
#ifndef TCC_BENCH_SOURCE_DIR
#define TCC_BENCH_SOURCE_DIR "."
#endif
#ifndef TCC_BENCH_MODULE_DIR
#define TCC_BENCH_MODULE_DIR "bench-modules"
#endif

enum { MAX_MODELS = 16, MAX_FLAGS = 16, MAX_IO = 16, WARMUP_MS = 20 };

/* ---- the part of ONNX Runtime's C API this program uses ---- */

typedef struct ort_status ort_status_t;
typedef struct ort_env ort_env_t;
typedef struct ort_session ort_session_t;
typedef struct ort_session_options ort_session_options_t;
typedef struct ort_memory_info ort_memory_info_t;
typedef struct ort_value ort_value_t;
typedef struct ort_shape_info ort_shape_info_t;
typedef void (*ort_unused_fn_t)(void);

enum { ORT_LOGGING_LEVEL_ERROR = 3, ORT_ENABLE_ALL = 99, ORT_ARENA_ALLOCATOR = 1, ORT_MEM_TYPE_DEFAULT = 0 };

/* struct OrtApi, entries 0..100; the number after each named entry is its index in the table. */
typedef struct {
  ort_status_t *(*CreateStatus)(int code, const char *message); /* 0 */
  int (*GetErrorCode)(const ort_status_t *status);              /* 1 */
  const char *(*GetErrorMessage)(const ort_status_t *status);   /* 2 */
  ort_status_t *(*CreateEnv)(int log_level, const char *log_id, ort_env_t **out); /* 3 */
  ort_unused_fn_t unused_4_6[3];
  ort_status_t *(*CreateSession)(const ort_env_t *env, const char *path, const ort_session_options_t *options,
                                 ort_session_t **out); /* 7 */
  ort_unused_fn_t unused_8;
  ort_status_t *(*Run)(ort_session_t *session, const void *run_options, const char *const *input_names,
                       const ort_value_t *const *inputs, size_t num_inputs, const char *const *output_names,
                       size_t num_outputs, ort_value_t **outputs); /* 9 */
  ort_status_t *(*CreateSessionOptions)(ort_session_options_t **out); /* 10 */
  ort_unused_fn_t unused_11_22[12];
  ort_status_t *(*SetSessionGraphOptimizationLevel)(ort_session_options_t *options, int level); /* 23 */
  ort_status_t *(*SetIntraOpNumThreads)(ort_session_options_t *options, int threads);           /* 24 */
  ort_status_t *(*SetInterOpNumThreads)(ort_session_options_t *options, int threads);           /* 25 */
  ort_unused_fn_t unused_26_29[4];
  ort_status_t *(*SessionGetInputCount)(const ort_session_t *session, size_t *out);  /* 30 */
  ort_status_t *(*SessionGetOutputCount)(const ort_session_t *session, size_t *out); /* 31 */
  ort_unused_fn_t unused_32_48[17];
  ort_status_t *(*CreateTensorWithDataAsOrtValue)(const ort_memory_info_t *info, void *data, size_t bytes,
                                                  const int64_t *dims, size_t rank, int dtype,
                                                  ort_value_t **out); /* 49 */
  ort_unused_fn_t unused_50;
  ort_status_t *(*GetTensorMutableData)(ort_value_t *value, void **out); /* 51 */
  ort_unused_fn_t unused_52_59[8];
  ort_status_t *(*GetTensorElementType)(const ort_shape_info_t *info, int *out);                 /* 60 */
  ort_status_t *(*GetDimensionsCount)(const ort_shape_info_t *info, size_t *out);                /* 61 */
  ort_status_t *(*GetDimensions)(const ort_shape_info_t *info, int64_t *dims, size_t rank);      /* 62 */
  ort_unused_fn_t unused_63;
  ort_status_t *(*GetTensorShapeElementCount)(const ort_shape_info_t *info, size_t *out);        /* 64 */
  ort_status_t *(*GetTensorTypeAndShape)(const ort_value_t *value, ort_shape_info_t **out);      /* 65 */
  ort_unused_fn_t unused_66_68[3];
  ort_status_t *(*CreateCpuMemoryInfo)(int allocator_type, int mem_type, ort_memory_info_t **out); /* 69 */
  ort_unused_fn_t unused_70_91[22];
  void (*ReleaseEnv)(ort_env_t *env);                         /* 92 */
  void (*ReleaseStatus)(ort_status_t *status);                /* 93 */
  void (*ReleaseMemoryInfo)(ort_memory_info_t *info);         /* 94 */
  void (*ReleaseSession)(ort_session_t *session);             /* 95 */
  void (*ReleaseValue)(ort_value_t *value);                   /* 96 */
  ort_unused_fn_t unused_97_98[2];
  void (*ReleaseTensorTypeAndShapeInfo)(ort_shape_info_t *info); /* 99 */
  void (*ReleaseSessionOptions)(ort_session_options_t *options); /* 100 */
  ort_unused_fn_t unused_101_129[29];
  ort_status_t *(*AddSessionConfigEntry)(ort_session_options_t *options, const char *key, const char *value); /* 130 */
} ort_api_t;

#define ORT_SLOT(field, index) _Static_assert(offsetof(ort_api_t, field) == (index) * sizeof(void *), #field)
ORT_SLOT(CreateEnv, 3);
ORT_SLOT(CreateSession, 7);
ORT_SLOT(Run, 9);
ORT_SLOT(CreateSessionOptions, 10);
ORT_SLOT(SetSessionGraphOptimizationLevel, 23);
ORT_SLOT(SessionGetInputCount, 30);
ORT_SLOT(CreateTensorWithDataAsOrtValue, 49);
ORT_SLOT(GetTensorMutableData, 51);
ORT_SLOT(GetTensorElementType, 60);
ORT_SLOT(GetTensorShapeElementCount, 64);
ORT_SLOT(GetTensorTypeAndShape, 65);
ORT_SLOT(CreateCpuMemoryInfo, 69);
ORT_SLOT(ReleaseEnv, 92);
ORT_SLOT(ReleaseValue, 96);
ORT_SLOT(ReleaseSessionOptions, 100);
ORT_SLOT(AddSessionConfigEntry, 130);

typedef struct {
  const ort_api_t *(*GetApi)(uint32_t version);
  const char *(*GetVersionString)(void);
} ort_api_base_t;

typedef struct {
  void *library;
  const ort_api_t *api;
  const char *version;
  ort_env_t *env;
  ort_memory_info_t *cpu;
} ort_t;

/* ---- options ---- */

typedef struct {
  const char *models[MAX_MODELS];
  int num_models;
  bool all;
  int runs, warmup, threads, rounds;
  const char *target, *models_dir, *module_dir, *tcc, *ort_lib;
  const char *compile_flags[MAX_FLAGS];
  int num_compile_flags;
  bool no_compile, tcc_only, markdown, ort_no_spin, alternate;
  double rtol, atol;
} options_t;

/* The measurements of one model. */
typedef struct {
  const char *name;
  char inputs[128];   /* the input shapes, e.g. "1x3x224x224" */
  char plan[64];      /* how the module was compiled ("default", "no fusion", or the flags) */
  char failure[256];  /* empty when it ran */
  double tcc_median, tcc_min, ort_median, ort_min;
  double max_abs, rel_l2;
} result_t;

static void usage(FILE *out) {
  fprintf(out,
          "usage: bench_models [--all] [--models a,b,...] [--runs N] [--warmup N] [--threads N] [--target T]\n"
          "                    [--models-dir DIR] [--module-dir DIR] [--tcc PATH] [--ort-lib PATH] [--no-compile]\n"
          "                    [--compile-flag ARG]... [--tcc-only] [--ort-no-spin] [--rounds R] [--alternate]\n"
          "                    [--rtol R] [--atol A] [--markdown]\n"
          "Times compiled tcc modules against ONNX Runtime (CPU) on the same inputs, in one process.\n"
          "  --all              also squeezenet1_1, convnet3x3 and mlp (default: resnet18, mobilenet_v2,\n"
          "                     bert_mini, gpt_mini)\n"
          "  --models a,b       exactly these models (directories of the models directory)\n"
          "  --runs N           timed runs of each side (default 20), after --warmup N runs (default 3)\n"
          "  --threads N        threads of the tcc pool and ORT's intra-op pool (default 2)\n"
          "  --target T         tcc compile's target (default x86-64-v4)\n"
          "  --models-dir DIR   default: $TCC_MODELS, else ../shared/models\n"
          "  --module-dir DIR   where modules are written/read as NAME.so (default: in the build tree)\n"
          "  --tcc PATH         the tcc binary that compiles (default: the one built with this program)\n"
          "  --ort-lib PATH     libonnxruntime.so (default: $TCC_ORT_LIB, else bench/.deps from\n"
          "                     scripts/bench_deps.sh)\n"
          "  --no-compile       use the modules already in --module-dir\n"
          "  --compile-flag A   pass A to tcc compile (repeatable), e.g. --compile-flag=--disable-pass=fusion\n"
          "  --tcc-only         time tcc alone (no ONNX Runtime, no output check)\n"
          "  --ort-no-spin      ONNX Runtime's intra-op threads block when idle instead of spinning a while\n"
          "  --rounds R         time in R rounds (default 4): each round runs a block of each side (warm-up\n"
          "                     runs for 20 ms at least, then timed ones) after a 0.2 s pause, the side going\n"
          "                     first alternating\n"
          "  --alternate        alternate the two run by run instead of in rounds of blocks\n"
          "  --rtol, --atol     tolerance of the output check (defaults 1e-3, 1e-4)\n"
          "  --markdown         print the table in Markdown too\n");
}

static int parse_options(int argc, char **argv, options_t *o) {
  *o = (options_t){.runs = 20, .warmup = 3, .threads = 2, .rounds = 4, .target = "x86-64-v4", .rtol = 1e-3,
                   .atol = 1e-4};
  static const char *const with_value[] = {"--models",  "--runs",       "--warmup", "--threads", "--rounds",
                                           "--target",  "--models-dir", "--module-dir", "--tcc", "--ort-lib",
                                           "--compile-flag", "--rtol",  "--atol",   NULL};
  for (int i = 1; i < argc; i++) {
    char opt[64];
    const char *a = argv[i], *value = NULL, *eq = strchr(a, '=');
    if (a[0] == '-' && eq && (size_t)(eq - a) < sizeof opt) {
      snprintf(opt, sizeof opt, "%.*s", (int)(eq - a), a);
      a = opt, value = eq + 1;
    }
    bool takes_value = false;
    for (int k = 0; with_value[k]; k++) takes_value |= strcmp(a, with_value[k]) == 0;
    if (takes_value && !value) {
      if (i + 1 >= argc) return fprintf(stderr, "bench_models: %s needs a value\n", a), 2;
      value = argv[++i];
    }
    if (!takes_value && value) return fprintf(stderr, "bench_models: unexpected argument '%s'\n", argv[i]), 2;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return usage(stdout), 0;
    else if (strcmp(a, "--all") == 0) o->all = true;
    else if (strcmp(a, "--no-compile") == 0) o->no_compile = true;
    else if (strcmp(a, "--tcc-only") == 0) o->tcc_only = true;
    else if (strcmp(a, "--markdown") == 0) o->markdown = true;
    else if (strcmp(a, "--ort-no-spin") == 0) o->ort_no_spin = true;
    else if (strcmp(a, "--alternate") == 0) o->alternate = true;
    else if (strcmp(a, "--models") == 0) {
      char *list = strdup(value), *save = NULL;
      if (!list) return fprintf(stderr, "bench_models: out of memory\n"), 2;
      for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (o->num_models < MAX_MODELS) o->models[o->num_models++] = t;
    } else if (strcmp(a, "--runs") == 0) o->runs = atoi(value);
    else if (strcmp(a, "--warmup") == 0) o->warmup = atoi(value);
    else if (strcmp(a, "--threads") == 0) o->threads = atoi(value);
    else if (strcmp(a, "--rounds") == 0) o->rounds = atoi(value);
    else if (strcmp(a, "--target") == 0) o->target = value;
    else if (strcmp(a, "--models-dir") == 0) o->models_dir = value;
    else if (strcmp(a, "--module-dir") == 0) o->module_dir = value;
    else if (strcmp(a, "--tcc") == 0) o->tcc = value;
    else if (strcmp(a, "--ort-lib") == 0) o->ort_lib = value;
    else if (strcmp(a, "--compile-flag") == 0 && o->num_compile_flags < MAX_FLAGS)
      o->compile_flags[o->num_compile_flags++] = value;
    else if (strcmp(a, "--rtol") == 0) o->rtol = atof(value);
    else if (strcmp(a, "--atol") == 0) o->atol = atof(value);
    else return fprintf(stderr, "bench_models: unexpected argument '%s'\n\n", argv[i]), usage(stderr), 2;
  }
  if (o->runs < 1 || o->warmup < 0 || o->threads < 1 || o->rounds < 1)
    return fprintf(stderr, "bench_models: --runs, --threads and --rounds take positive counts\n"), 2;
  if (o->num_models == 0) {
    static const char *const main_models[] = {"resnet18", "mobilenet_v2", "bert_mini", "gpt_mini"};
    static const char *const more_models[] = {"squeezenet1_1", "convnet3x3", "mlp"};
    for (int i = 0; i < 4; i++) o->models[o->num_models++] = main_models[i];
    for (int i = 0; o->all && i < 3; i++) o->models[o->num_models++] = more_models[i];
  }
  return -1;
}

/* ---- small helpers ---- */


static bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void set_failure(result_t *r, const char *fmt, ...) TCC_PRINTF(2, 3);
static void set_failure(result_t *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->failure, sizeof r->failure, fmt, ap);
  va_end(ap);
  for (char *c = r->failure; *c; c++)
    if (*c == '\n') *c = ' ';
}

/* The "model name" line of /proc/cpuinfo, and the number of online cores. */
static void machine_description(char *out, size_t size) {
  char line[4096], model[160] = "unknown CPU";
  bool avx512 = false, avx2 = false, have_model = false;
  FILE *f = fopen("/proc/cpuinfo", "r");
  while (f && fgets(line, sizeof line, f)) {
    const char *colon = strchr(line, ':');
    if (!have_model && colon && strncmp(line, "model name", 10) == 0) {
      snprintf(model, sizeof model, "%s", colon + 2);
      model[strcspn(model, "\n")] = 0;
      have_model = true;
    }
    if (colon && strncmp(line, "flags", 5) == 0) {
      avx512 |= strstr(colon, " avx512f") != NULL;
      avx2 |= strstr(colon, " avx2") != NULL;
    }
  }
  if (f) fclose(f);
  snprintf(out, size, "%s (%s), %ld online cores", model, avx512 ? "AVX-512" : avx2 ? "AVX2" : "no AVX2",
           sysconf(_SC_NPROCESSORS_ONLN));
}

static const char *models_dir(const options_t *o) {
  static char fallback[4096];
  if (o->models_dir) return o->models_dir;
  const char *env = getenv("TCC_MODELS");
  if (env && *env) return env;
  if (is_dir("../shared/models")) return "../shared/models";
  snprintf(fallback, sizeof fallback, "%.3900s/../shared/models", TCC_BENCH_SOURCE_DIR);
  return fallback;
}

/* ---- compiling a module ---- */

/* Runs argv (argv[0] a path) with stdout and stderr appended to log; returns its exit status, -1 when it
 * could not run. */
static int run_command(char *const *argv, const char *log) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    FILE *f = freopen(log, "a", stdout);
    if (f) dup2(fileno(stdout), STDERR_FILENO);
    execv(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The last non-empty line of a file (a compile error's message). */
static void last_line(const char *path, char *out, size_t size) {
  char line[512];
  out[0] = 0;
  FILE *f = fopen(path, "r");
  while (f && fgets(line, sizeof line, f))
    if (line[0] != '\n') snprintf(out, size, "%s", line);
  if (f) fclose(f);
  out[strcspn(out, "\n")] = 0;
}

/* tcc compile MODEL -target T -o SO [flags...] [extra]; the log goes to SO.log. */
static int compile_module(const options_t *o, const char *model, const char *so, const char *extra, char *error,
                          size_t error_size) {
  char log[4200];
  snprintf(log, sizeof log, "%.4100s.log", so);
  unlink(log);
  char *argv[MAX_FLAGS + 12];
  int n = 0;
  argv[n++] = (char *)(o->tcc ? o->tcc : TCC_BENCH_TCC_PATH);
  argv[n++] = "compile";
  argv[n++] = (char *)model;
  argv[n++] = "-target";
  argv[n++] = (char *)o->target;
  argv[n++] = "-o";
  argv[n++] = (char *)so;
  for (int i = 0; i < o->num_compile_flags; i++) argv[n++] = (char *)o->compile_flags[i];
  if (extra) argv[n++] = (char *)extra;
  argv[n] = NULL;
  int rc = run_command(argv, log);
  if (rc != 0) last_line(log, error, error_size);
  if (rc != 0 && !error[0]) snprintf(error, error_size, "tcc compile exited with status %d (log: %.300s)", rc, log);
  return rc;
}

/* ---- inputs ---- */

typedef struct {
  int count;
  const char *names[MAX_IO];
  const tcc_tensor_t *tensors[MAX_IO];
} inputs_t;

/* test_data_set_0/input_K.pb, in the module's input order (matched by name, else by position). */
static tcc_status_t read_inputs(tcc_module_t *arena, const char *dir, const tcc_rt_module_t *m, inputs_t *in) {
  int n = tcc_rt_module_num_inputs(m);
  if (n > MAX_IO) return tcc_status_make(TCC_UNSUPPORTED, "%d inputs (at most %d)", n, MAX_IO);
  in->count = n;
  for (int k = 0; k < n; k++) {
    char path[4200];
    snprintf(path, sizeof path, "%.4000s/test_data_set_0/input_%d.pb", dir, k);
    tcc_tensor_t *t = NULL;
    const char *name = NULL;
    TCC_RETURN_IF_ERROR(tcc_tensor_read_file(arena, path, &t, &name));
    int index = name && *name ? tcc_rt_module_input_index(m, name) : k;
    if (index < 0) return tcc_status_make(TCC_INVALID_MODEL, "%s: the module has no input '%s'", path, name);
    in->tensors[index] = t;
  }
  for (int k = 0; k < n; k++) {
    tcc_rt_tensor_info_t info;
    if (!in->tensors[k] || !tcc_rt_module_input(m, k, &info))
      return tcc_status_make(TCC_INVALID_MODEL, "no test input for the module's input %d", k);
    in->names[k] = info.name;
  }
  return NULL;
}

static void describe_inputs(const inputs_t *in, char *out, size_t size) {
  size_t used = 0;
  out[0] = 0;
  for (int k = 0; k < in->count && used < size; k++) {
    const tcc_tensor_t *t = in->tensors[k];
    used += (size_t)snprintf(out + used, size - used, "%s", k ? ", " : "");
    for (int d = 0; d < t->rank && used < size; d++)
      used += (size_t)snprintf(out + used, size - used, "%s%lld", d ? "x" : "", (long long)t->dims[d]);
  }
}

/* ---- ONNX Runtime ---- */

static bool ort_failed(const ort_t *ort, ort_status_t *st, result_t *r, const char *what) {
  if (!st) return false;
  set_failure(r, "onnxruntime %s: %s", what, ort->api->GetErrorMessage(st));
  ort->api->ReleaseStatus(st);
  return true;
}

static const char *find_ort_library(const options_t *o, char *buf, size_t size) {
  if (o->ort_lib) return o->ort_lib;
  const char *env = getenv("TCC_ORT_LIB");
  if (env && *env) return env;
  char pattern[4096];
  snprintf(pattern, sizeof pattern,
           "%s/bench/.deps/node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime.so*",
           TCC_BENCH_SOURCE_DIR);
  glob_t g;
  const char *found = NULL;
  if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
    snprintf(buf, size, "%s", g.gl_pathv[g.gl_pathc - 1]);
    found = buf;
  }
  globfree(&g);
  return found;
}

/* dlopens ONNX Runtime, takes its API table (the library's own version), checks the table's first
 * entries with a probe status, creates the environment and the CPU memory description. */
static bool ort_open(const char *path, ort_t *ort, char *error, size_t size) {
  *ort = (ort_t){0};
  ort->library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!ort->library) return snprintf(error, size, "cannot load %.300s: %.150s", path, dlerror()), false;
  const ort_api_base_t *(*get_base)(void) = NULL;
  *(void **)&get_base = dlsym(ort->library, "OrtGetApiBase");
  const ort_api_base_t *base = get_base ? get_base() : NULL;
  if (!base) return snprintf(error, size, "%.300s has no OrtGetApiBase", path), false;
  ort->version = base->GetVersionString();
  int major = 0, minor = 0;
  if (sscanf(ort->version, "%d.%d", &major, &minor) != 2 || major != 1 || minor < 13)
    return snprintf(error, size, "onnxruntime %s: version 1.13 or later expected", ort->version), false;
  ort->api = base->GetApi((uint32_t)minor);
  if (!ort->api) return snprintf(error, size, "onnxruntime %s refuses API version %d", ort->version, minor), false;
  ort_status_t *probe = ort->api->CreateStatus(2, "probe");
  bool layout_ok = probe && ort->api->GetErrorCode(probe) == 2 && strcmp(ort->api->GetErrorMessage(probe), "probe") == 0;
  if (probe) ort->api->ReleaseStatus(probe);
  if (!layout_ok) return snprintf(error, size, "onnxruntime %s: unexpected C API table", ort->version), false;
  ort_status_t *st = ort->api->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "tcc-bench", &ort->env);
  if (!st) st = ort->api->CreateCpuMemoryInfo(ORT_ARENA_ALLOCATOR, ORT_MEM_TYPE_DEFAULT, &ort->cpu);
  if (st) {
    snprintf(error, size, "onnxruntime: %s", ort->api->GetErrorMessage(st));
    ort->api->ReleaseStatus(st);
    return false;
  }
  return true;
}

static void ort_close(ort_t *ort) {
  if (ort->api && ort->cpu) ort->api->ReleaseMemoryInfo(ort->cpu);
  if (ort->api && ort->env) ort->api->ReleaseEnv(ort->env);
  /* The library stays loaded: its thread pools and static destructors outlive the session objects. */
}

/* One model's ORT session and its input values (over the same memory tcc reads). */
typedef struct {
  ort_session_t *session;
  ort_value_t *inputs[MAX_IO], *outputs[MAX_IO];
  const char *output_names[MAX_IO];
  int num_inputs, num_outputs;
} ort_model_t;

static bool ort_model_open(const ort_t *ort, const options_t *o, const char *path, const inputs_t *in,
                           const tcc_rt_module_t *m, ort_model_t *om, result_t *r) {
  const ort_api_t *api = ort->api;
  ort_session_options_t *so = NULL;
  if (ort_failed(ort, api->CreateSessionOptions(&so), r, "session options")) return false;
  bool ok = !ort_failed(ort, api->SetIntraOpNumThreads(so, o->threads), r, "intra-op threads") &&
            !ort_failed(ort, api->SetInterOpNumThreads(so, 1), r, "inter-op threads") &&
            !ort_failed(ort, api->SetSessionGraphOptimizationLevel(so, ORT_ENABLE_ALL), r, "optimization level") &&
            !(o->ort_no_spin &&
              ort_failed(ort, api->AddSessionConfigEntry(so, "session.intra_op.allow_spinning", "0"), r, "spinning")) &&
            !ort_failed(ort, api->CreateSession(ort->env, path, so, &om->session), r, "session");
  api->ReleaseSessionOptions(so);
  if (!ok) return false;
  size_t ni = 0, no = 0;
  if (ort_failed(ort, api->SessionGetInputCount(om->session, &ni), r, "input count") ||
      ort_failed(ort, api->SessionGetOutputCount(om->session, &no), r, "output count"))
    return false;
  om->num_inputs = in->count;
  om->num_outputs = tcc_rt_module_num_outputs(m);
  if ((int)ni != om->num_inputs || (int)no != om->num_outputs || om->num_outputs > MAX_IO)
    return set_failure(r, "onnxruntime sees %zu inputs and %zu outputs, the module %d and %d", ni, no,
                       om->num_inputs, om->num_outputs), false;
  for (int k = 0; k < in->count; k++) {
    const tcc_tensor_t *t = in->tensors[k];
    if (ort_failed(ort, api->CreateTensorWithDataAsOrtValue(ort->cpu, (void *)t->data, t->nbytes, t->dims,
                                                            (size_t)t->rank, (int)t->dtype, &om->inputs[k]),
                   r, "input tensor"))
      return false;
  }
  for (int k = 0; k < om->num_outputs; k++) {
    tcc_rt_tensor_info_t info;
    if (!tcc_rt_module_output(m, k, &info)) return set_failure(r, "module output %d", k), false;
    om->output_names[k] = info.name;
  }
  return true;
}

static void ort_model_release_outputs(const ort_t *ort, ort_model_t *om) {
  for (int k = 0; k < om->num_outputs; k++) {
    if (om->outputs[k]) ort->api->ReleaseValue(om->outputs[k]);
    om->outputs[k] = NULL;
  }
}

static void ort_model_close(const ort_t *ort, ort_model_t *om) {
  ort_model_release_outputs(ort, om);
  for (int k = 0; k < om->num_inputs; k++)
    if (om->inputs[k]) ort->api->ReleaseValue(om->inputs[k]);
  if (om->session) ort->api->ReleaseSession(om->session);
}

/* One run; the outputs stay in om->outputs until the next run. */
static bool ort_model_run(const ort_t *ort, ort_model_t *om, const inputs_t *in, result_t *r) {
  ort_model_release_outputs(ort, om);
  return !ort_failed(ort,
                     ort->api->Run(om->session, NULL, in->names, (const ort_value_t *const *)om->inputs,
                                   (size_t)om->num_inputs, om->output_names, (size_t)om->num_outputs, om->outputs),
                     r, "run");
}

/* ---- tcc ---- */

static bool tcc_model_run(tcc_rt_session_t *s, const tcc_rt_tensor_t *in, int ni, tcc_rt_tensor_t *out, int no,
                          result_t *r) {
  for (int k = 0; k < no; k++) out[k] = (tcc_rt_tensor_t){0};
  tcc_status_t st = tcc_rt_session_run(s, in, ni, out, no);
  if (!st) return true;
  set_failure(r, "tcc run: %s", tcc_status_message(st));
  tcc_status_free(st);
  return false;
}

/* ---- the output check ---- */

static double element(const void *data, int32_t dtype, size_t i) {
  switch (dtype) {
    case TCC_RT_F32: { float v; memcpy(&v, (const char *)data + 4 * i, 4); return v; }
    case TCC_RT_F64: { double v; memcpy(&v, (const char *)data + 8 * i, 8); return v; }
    case TCC_RT_I64: { int64_t v; memcpy(&v, (const char *)data + 8 * i, 8); return (double)v; }
    case TCC_RT_I32: { int32_t v; memcpy(&v, (const char *)data + 4 * i, 4); return v; }
    case TCC_RT_U8: case TCC_RT_BOOL: return ((const uint8_t *)data)[i];
    case TCC_RT_I8: return ((const int8_t *)data)[i];
    default: return NAN;
  }
}

/* Compares tcc's outputs with ORT's: same dtype and shape, each element within atol + rtol |ort|. Sets
 * the largest absolute difference and the relative L2 error over all outputs. */
static bool outputs_agree(const ort_t *ort, const options_t *o, const tcc_rt_tensor_t *out, ort_model_t *om,
                          result_t *r) {
  const ort_api_t *api = ort->api;
  double diff2 = 0, ref2 = 0;
  r->max_abs = 0;
  for (int k = 0; k < om->num_outputs; k++) {
    ort_shape_info_t *info = NULL;
    int dtype = 0;
    size_t rank = 0, count = 0;
    int64_t dims[TCC_RT_MAX_RANK];
    void *data = NULL;
    if (ort_failed(ort, api->GetTensorTypeAndShape(om->outputs[k], &info), r, "output shape")) return false;
    bool ok = !ort_failed(ort, api->GetTensorElementType(info, &dtype), r, "output dtype") &&
              !ort_failed(ort, api->GetDimensionsCount(info, &rank), r, "output rank") && rank <= TCC_RT_MAX_RANK &&
              !ort_failed(ort, api->GetDimensions(info, dims, rank), r, "output dims") &&
              !ort_failed(ort, api->GetTensorShapeElementCount(info, &count), r, "output size") &&
              !ort_failed(ort, api->GetTensorMutableData(om->outputs[k], &data), r, "output data");
    api->ReleaseTensorTypeAndShapeInfo(info);
    if (!ok) return r->failure[0] ? false : (set_failure(r, "output '%s': rank %zu", om->output_names[k], rank), false);
    const tcc_rt_tensor_t *t = &out[k];
    bool same_shape = t->dtype == dtype && t->rank == (int32_t)rank;
    for (size_t d = 0; same_shape && d < rank; d++) same_shape = t->dims[d] == dims[d];
    if (!same_shape)
      return set_failure(r, "output '%s': tcc gives %s rank %d, onnxruntime %s rank %zu", om->output_names[k],
                         tcc_rt_dtype_name(t->dtype), (int)t->rank, tcc_rt_dtype_name(dtype), rank), false;
    size_t bad = 0, first_bad = 0;
    for (size_t i = 0; i < count; i++) {
      double a = element(t->data, t->dtype, i), b = element(data, dtype, i), d = fabs(a - b);
      if (!(d <= o->atol + o->rtol * fabs(b)) && bad++ == 0) first_bad = i;
      if (d > r->max_abs || d != d) r->max_abs = d;
      diff2 += d * d, ref2 += b * b;
    }
    if (bad)
      return set_failure(r, "output '%s' differs: %zu of %zu elements outside tolerance (first at %zu: tcc %g, "
                         "onnxruntime %g)", om->output_names[k], bad, count, first_bad,
                         element(t->data, t->dtype, first_bad), element(data, dtype, first_bad)), false;
  }
  r->rel_l2 = ref2 > 0 ? sqrt(diff2 / ref2) : sqrt(diff2);
  return true;
}

/* ---- one model ---- */

static void bench_model(const options_t *o, const ort_t *ort, tcc_rt_pool_t *pool, result_t *r) {
  char dir[4096], model[4200], so[4200], error[512] = "";
  snprintf(dir, sizeof dir, "%.3800s/%.200s", models_dir(o), r->name);
  snprintf(model, sizeof model, "%.4000s/model.onnx", dir);
  snprintf(so, sizeof so, "%.3800s/%.200s.so", o->module_dir ? o->module_dir : TCC_BENCH_MODULE_DIR, r->name);
  if (access(model, R_OK) != 0) {
    set_failure(r, "no %s", model);
    return;
  }
  snprintf(r->plan, sizeof r->plan, "%s", o->num_compile_flags ? "flags" : "default");
  if (o->no_compile) {
    snprintf(r->plan, sizeof r->plan, "prebuilt");
  } else {
    double start = tcc_now_ms();
    int rc = compile_module(o, model, so, NULL, error, sizeof error);
    if (rc != 0 && o->num_compile_flags == 0) {
      fprintf(stderr, "%s: tcc compile failed (%s); again with --disable-pass fusion\n", r->name, error);
      rc = compile_module(o, model, so, "--disable-pass=fusion", error, sizeof error);
      snprintf(r->plan, sizeof r->plan, "no fusion");
    }
    if (rc != 0) {
      set_failure(r, "tcc compile: %s", error);
      return;
    }
    fprintf(stderr, "%s: compiled in %.1f s (%s)\n", r->name, (tcc_now_ms() - start) / 1e3, r->plan);
  }

  tcc_module_t *arena = NULL;
  tcc_rt_module_t *m = NULL;
  tcc_rt_session_t *s = NULL;
  ort_model_t om = {0};
  inputs_t in = {0};
  tcc_rt_tensor_t tin[MAX_IO], tout[MAX_IO];
  int ni = 0, no = 0;
  bool with_ort = !o->tcc_only;
  double *tcc_ms = calloc((size_t)o->runs, sizeof *tcc_ms), *ort_ms = calloc((size_t)o->runs, sizeof *ort_ms);
  tcc_status_t st = tcc_module_create(tcc_allocator_system(), &arena);
  if (!st) st = tcc_rt_module_load(so, NULL, &m);
  if (!st) st = tcc_rt_session_create(m, &(tcc_rt_session_options_t){.pool = pool}, &s);
  if (!st) st = read_inputs(arena, dir, m, &in);
  if (!st && tcc_rt_module_num_outputs(m) > MAX_IO) st = tcc_status_make(TCC_UNSUPPORTED, "too many outputs");
  if (st) {
    set_failure(r, "%s", tcc_status_message(st));
    tcc_status_free(st);
    goto done;
  }
  if (!tcc_ms || !ort_ms) {
    set_failure(r, "out of memory");
    goto done;
  }
  describe_inputs(&in, r->inputs, sizeof r->inputs);
  ni = in.count, no = tcc_rt_module_num_outputs(m);
  for (int k = 0; k < ni; k++) {
    const tcc_tensor_t *t = in.tensors[k];
    tin[k] = tcc_rt_tensor(t->data, t->nbytes, (int32_t)t->dtype, t->rank, t->dims);
  }
  if (with_ort && !ort_model_open(ort, o, model, &in, m, &om, r)) goto done;

  /* The check: one run of each, before any timing. */
  if (!tcc_model_run(s, tin, ni, tout, no, r)) goto done;
  if (with_ort && (!ort_model_run(ort, &om, &in, r) || !outputs_agree(ort, o, tout, &om, r))) goto done;

  /* rounds of blocks: load that comes and goes falls on both sides, and neither runs beside the other's
   * idle threads (a 0.2 s pause first: 20 ms left ORT's spinning through mlp's runs); each block warms up
   * again, for --warmup runs and WARMUP_MS at least, as the pause lets the threads fall asleep and waking
   * one took up to 4 ms on the 2-core VM (its virtual CPU halted) */
  int per_round = (o->runs + o->rounds - 1) / o->rounds;
  for (int round = 0, done = 0; !o->alternate && done < o->runs; round++, done += per_round) {
    int count = o->runs - done < per_round ? o->runs - done : per_round;
    for (int turn = 0; turn < 2; turn++) {
      int side = (turn + round) % 2; /* 0: tcc */
      if (side == 1 && !with_ort) continue;
      usleep(200000);
      double warm_until = tcc_now_ms() + WARMUP_MS;
      for (int i = -o->warmup; i < count; i++) {
        double start = tcc_now_ms();
        if (side == 0 ? !tcc_model_run(s, tin, ni, tout, no, r) : !ort_model_run(ort, &om, &in, r)) goto done;
        if (i == -1 && start < warm_until) i--; /* warm up for WARMUP_MS at least */
        else if (i >= 0) (side == 0 ? tcc_ms : ort_ms)[done + i] = tcc_now_ms() - start;
      }
    }
  }
  for (int w = 0; o->alternate && w < o->warmup; w++) {
    if (!tcc_model_run(s, tin, ni, tout, no, r)) goto done;
    if (with_ort && !ort_model_run(ort, &om, &in, r)) goto done;
  }
  for (int i = 0; o->alternate && i < o->runs; i++) {
    for (int side = 0; side < 2; side++) {
      bool tcc_turn = (side == 0) == (i % 2 == 0);
      usleep(2000); /* lets the other side's worker threads go idle (ONNX Runtime's spin a while) */
      double start = tcc_now_ms();
      if (tcc_turn) {
        if (!tcc_model_run(s, tin, ni, tout, no, r)) goto done;
        tcc_ms[i] = tcc_now_ms() - start;
      } else if (with_ort) {
        if (!ort_model_run(ort, &om, &in, r)) goto done;
        ort_ms[i] = tcc_now_ms() - start;
      }
    }
  }
  r->tcc_median = tcc_sorted_median(tcc_ms, o->runs), r->tcc_min = tcc_ms[0];
  if (with_ort) r->ort_median = tcc_sorted_median(ort_ms, o->runs), r->ort_min = ort_ms[0];

done:
  if (with_ort && ort) ort_model_close(ort, &om);
  tcc_rt_session_destroy(s);
  tcc_rt_module_release(m);
  tcc_module_destroy(arena);
  free(tcc_ms);
  free(ort_ms);
}

/* ---- the table ---- */

static void print_table(const options_t *o, const result_t *results, int n, bool markdown) {
  if (markdown) {
    printf("\n| model | inputs | tcc median ms | tcc min ms | ORT median ms | ORT min ms | ORT / tcc (medians) | "
           "ORT / tcc (mins) | rel L2 diff | tcc plan |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  } else {
    printf("\n%-14s %-22s %12s %10s %12s %10s %9s %9s %9s  %s\n", "model", "inputs", "tcc_med_ms", "tcc_min",
           "ort_med_ms", "ort_min", "ort/tcc", "(mins)", "rel_l2", "plan");
  }
  for (int i = 0; i < n; i++) {
    const result_t *r = &results[i];
    if (r->failure[0]) {
      if (markdown) printf("| %s | %s | failed: %s | | | | | | | %s |\n", r->name, r->inputs, r->failure, r->plan);
      else printf("%-14s %-22s FAILED: %s\n", r->name, r->inputs, r->failure);
      continue;
    }
    bool ort = !o->tcc_only;
    double ratio = ort ? r->ort_median / r->tcc_median : 0, min_ratio = ort ? r->ort_min / r->tcc_min : 0;
    if (markdown)
      printf("| %s | %s | %.3f | %.3f | %s%.3f | %s%.3f | %s%.2f | %s%.2f | %s%.1e | %s |\n", r->name, r->inputs,
             r->tcc_median, r->tcc_min, ort ? "" : "-", ort ? r->ort_median : 0, ort ? "" : "-",
             ort ? r->ort_min : 0, ort ? "" : "-", ratio, ort ? "" : "-", min_ratio, ort ? "" : "-", r->rel_l2,
             r->plan);
    else if (ort)
      printf("%-14s %-22s %12.3f %10.3f %12.3f %10.3f %9.2f %9.2f %9.1e  %s\n", r->name, r->inputs, r->tcc_median,
             r->tcc_min, r->ort_median, r->ort_min, ratio, min_ratio, r->rel_l2, r->plan);
    else
      printf("%-14s %-22s %12.3f %10.3f %12s %10s %9s %9s %9s  %s\n", r->name, r->inputs, r->tcc_median,
             r->tcc_min, "-", "-", "-", "-", "-", r->plan);
  }
}

int main(int argc, char **argv) {
  options_t o;
  int rc = parse_options(argc, argv, &o);
  if (rc >= 0) return rc;
  const char *module_dir = o.module_dir ? o.module_dir : TCC_BENCH_MODULE_DIR;
  if (!o.no_compile && mkdir(module_dir, 0777) != 0 && errno != EEXIST)
    return fprintf(stderr, "bench_models: cannot create %s: %s\n", module_dir, strerror(errno)), 1;

  ort_t ort = {0};
  char ort_path[4096], error[512];
  if (!o.tcc_only) {
    const char *lib = find_ort_library(&o, ort_path, sizeof ort_path);
    if (!lib)
      return fprintf(stderr, "bench_models: libonnxruntime.so not found: run scripts/bench_deps.sh, or give "
                             "--ort-lib / TCC_ORT_LIB (or --tcc-only)\n"), 1;
    if (!ort_open(lib, &ort, error, sizeof error)) return fprintf(stderr, "bench_models: %s\n", error), 1;
  }
  tcc_rt_pool_t *pool = NULL;
  tcc_status_t st = tcc_rt_pool_create(o.threads, NULL, &pool);
  if (st) {
    fprintf(stderr, "bench_models: thread pool: %s\n", tcc_status_message(st));
    tcc_status_free(st);
    return 1;
  }

  char machine[256], date[64];
  machine_description(machine, sizeof machine);
  time_t now = time(NULL);
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  printf("machine: %s\ndate: %s\n", machine, date);
  printf("tcc: target %s, %d threads; ", o.target, o.threads);
  if (o.tcc_only) printf("onnxruntime: not run\n");
  else printf("onnxruntime %s: intra-op %d threads, inter-op 1, all graph optimizations\n", ort.version, o.threads);
  char how[64];
  snprintf(how, sizeof how, o.alternate ? "alternating" : "in %d rounds of blocks", o.rounds);
  printf("runs: %d timed per side (%s), after %d warm-up; times in ms; ort/tcc (of the medians, and of\n"
         "the fastest runs) > 1: tcc faster\n",
         o.runs, how, o.warmup);
  fflush(stdout);

  result_t results[MAX_MODELS];
  bool all_ok = true;
  for (int i = 0; i < o.num_models; i++) {
    results[i] = (result_t){.name = o.models[i]};
    bench_model(&o, o.tcc_only ? NULL : &ort, pool, &results[i]);
    all_ok &= !results[i].failure[0];
    const result_t *r = &results[i];
    if (r->failure[0]) fprintf(stderr, "%s: %s\n", r->name, r->failure);
    else fprintf(stderr, "%s: tcc %.3f ms, onnxruntime %.3f ms\n", r->name, r->tcc_median, r->ort_median);
  }
  char load[64] = "";
  FILE *f = fopen("/proc/loadavg", "r");
  if (f && fgets(load, sizeof load, f)) load[strcspn(load, "\n")] = 0;
  if (f) fclose(f);
  printf("load average at the end (1, 5, 15 min; other processes share the cores): %.14s\n", load);
  print_table(&o, results, o.num_models, false);
  if (o.markdown) print_table(&o, results, o.num_models, true);
  tcc_rt_pool_destroy(pool);
  if (!o.tcc_only) ort_close(&ort);
  return all_ok ? 0 : 1;
}
