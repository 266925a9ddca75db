/* tcc-module-runner: runs a compiled module (model.so) through the runtime alone, reading its inputs from
 * raw files and writing its outputs as raw files — a small program of the runtime and base/ only, built for
 * the host and cross-compiled for AArch64, so that `tcc run --runner` (tools/run.c) can run a module of
 * another architecture under an emulator (qemu-aarch64) or on another machine.
 *
 *   tcc-module-runner MODULE.so --signature
 *   tcc-module-runner MODULE.so [IN_SPEC]... -o OUT_DIR [--bench N] [--threads N] [--device cuda:N]
 *
 * IN_SPEC is DTYPE:D0,D1,...:PATH, one per module input in the module's order: DTYPE a runtime dtype name
 * (tcc_rt_dtype_name: f32, i64, bool ...), the dims in decimal (none for a scalar: `f32::x.bin`), PATH a
 * file of exactly the tensor's bytes, dense row-major, little-endian (the only byte order of the targets).
 *
 * --signature prints the module's signature as text, one line each:
 *   model NAME
 *   target TARGET
 *   input NAME DTYPE [DIM,...]      (a dim is a decimal constant or a symbol's name)
 *   output NAME DTYPE [DIM,...]
 * Names and symbols are written with every byte outside '!'..'~', and '%' ',' '[' ']', as %XX (two hex
 * digits); a symbol's leading digit or '-' is written so too, so a dim that starts with a digit is a
 * constant. A run writes OUT_DIR/output_K.bin (the K-th output's bytes) and OUT_DIR/output_K.txt (its
 * `output NAME DTYPE [DIM,...]` line with the dims of this run) for each output, and prints
 * `time: T ms (first run)`; --bench N then times N more runs and prints `runs:`, `median_ms:` and
 * `min_ms:`. --threads N sizes the thread pool (default: TCC_NUM_THREADS, else the online cores). A GPU
 * module runs on CUDA device 0 or the one --device names (printed as `device: NAME`); its --bench times
 * are CUDA events around the input copies, the kernels and the output copies. --profile times each
 * kernel call and prints its mean over all runs.
 *
 * Exit status: 0 on success, 1 when loading, reading, running or writing fails (the runtime's message on
 * stderr), 2 for bad usage. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tcc/runtime.h"
#include "tools/timing.h"

enum { MAX_INPUTS = 256, ALIGNMENT = 64 };

static void usage(FILE *out) {
  fprintf(out,
          "usage: tcc-module-runner MODULE.so --signature\n"
          "       tcc-module-runner MODULE.so [DTYPE:D0,D1,...:PATH]... -o OUT_DIR [--bench N] [--threads N]\n"
          "                         [--device cuda:N] [--profile]\n"
          "Runs a compiled tcc module on raw little-endian input files (one spec per module input, in order)\n"
          "and writes OUT_DIR/output_K.bin with OUT_DIR/output_K.txt (name, dtype, dims) for each output.\n"
          "  --signature   print the module's inputs and outputs (name, dtype, dims with symbols) and exit\n"
          "  --bench N     after the first run, time N runs and print median_ms: and min_ms:\n"
          "  --threads N   threads of the pool (default TCC_NUM_THREADS, else the online cores)\n"
          "  --device cuda:N  the CUDA device of a GPU module (default cuda:0)\n"
          "  --profile     time every kernel call (a GPU module's by CUDA events, without a CUDA graph) and\n"
          "                print `call I NAME: mean_ms T over R runs` for each\n");
}

static int fail(tcc_status_t st) {
  fprintf(stderr, "tcc-module-runner: error: %s\n", tcc_status_message(st));
  tcc_status_free(st);
  return 1;
}

/* ---- the text form of names and signatures ---- */

static bool plain_byte(unsigned char c) {
  return c > ' ' && c <= '~' && c != '%' && c != ',' && c != '[' && c != ']';
}

/* Writes s with the escapes of the header comment; `symbol` also escapes a leading digit or '-'. */
static void put_name(FILE *f, const char *s, bool symbol) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    bool leading_number = symbol && p == (const unsigned char *)s && ((*p >= '0' && *p <= '9') || *p == '-');
    if (plain_byte(*p) && !leading_number) fputc(*p, f);
    else fprintf(f, "%%%02X", *p);
  }
  if (!*s) fputs("%00", f); /* an empty name is still a token; it decodes to "" */
}

static void put_tensor_line(FILE *f, const char *kind, const char *name, int32_t dtype, int32_t rank,
                            const int64_t *dims, const char *const *symbols) {
  fprintf(f, "%s ", kind);
  put_name(f, name, false);
  fprintf(f, " %s [", tcc_rt_dtype_name(dtype));
  for (int d = 0; d < rank; d++) {
    if (d) fputc(',', f);
    if (symbols && dims[d] < 0) put_name(f, symbols[d] ? symbols[d] : "?", true);
    else fprintf(f, "%lld", (long long)dims[d]);
  }
  fputs("]\n", f);
}

static int print_signature(const tcc_rt_module_t *m) {
  printf("model ");
  put_name(stdout, tcc_rt_module_name(m), false);
  printf("\ntarget ");
  put_name(stdout, tcc_rt_module_target(m), false);
  printf("\n");
  tcc_rt_tensor_info_t t;
  for (int i = 0; tcc_rt_module_input(m, i, &t); i++)
    put_tensor_line(stdout, "input", t.name, t.dtype, t.rank, t.dims, t.dim_symbols);
  for (int i = 0; tcc_rt_module_output(m, i, &t); i++)
    put_tensor_line(stdout, "output", t.name, t.dtype, t.rank, t.dims, t.dim_symbols);
  return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- inputs ---- */

static int32_t dtype_from_name(const char *name, size_t length) {
  for (int32_t code = 1; code < 256; code++) {
    const char *n = tcc_rt_dtype_name(code);
    if (strcmp(n, "?") == 0) break;
    if (strlen(n) == length && strncmp(n, name, length) == 0) return code;
  }
  return -1;
}

/* Zeroed memory of at least `bytes` (one alignment unit when 0) at an ALIGNMENT-aligned address. */
static void *alloc_aligned(int64_t bytes) {
  size_t size = ((size_t)bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
  void *p = aligned_alloc(ALIGNMENT, size ? size : ALIGNMENT);
  if (p) memset(p, 0, size ? size : ALIGNMENT);
  return p;
}

/* Parses DTYPE:D0,D1,...:PATH and reads PATH, which must hold exactly the tensor's bytes. */
static tcc_status_t read_input(const char *spec, int index, tcc_rt_tensor_t *out, void **data) {
  *data = NULL;
  const char *colon1 = strchr(spec, ':');
  const char *colon2 = colon1 ? strchr(colon1 + 1, ':') : NULL;
  if (!colon2)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "input spec %d '%s' is not DTYPE:D0,D1,...:PATH", index, spec);
  int32_t dtype = dtype_from_name(spec, (size_t)(colon1 - spec));
  if (dtype < 0 || tcc_rt_dtype_bits(dtype) <= 0)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "input spec %d: '%.*s' is not a dtype of fixed size (f32, i64, ...)",
                           index, (int)(colon1 - spec), spec);
  int64_t dims[TCC_RT_MAX_RANK] = {0};
  int32_t rank = 0;
  int64_t numel = 1;
  for (const char *p = colon1 + 1; p < colon2;) {
    char *end = NULL;
    errno = 0;
    long long d = strtoll(p, &end, 10);
    if (end == p || errno || d < 0 || (end != colon2 && *end != ',') || rank == TCC_RT_MAX_RANK)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "input spec %d: bad dims '%.*s' (at most %d non-negative integers)",
                             index, (int)(colon2 - colon1 - 1), colon1 + 1, TCC_RT_MAX_RANK);
    dims[rank++] = d;
    numel = d && numel > INT64_MAX / d ? -1 : numel * d;
    if (numel < 0) return tcc_status_make(TCC_INVALID_ARGUMENT, "input spec %d: the dims overflow", index);
    p = *end == ',' ? end + 1 : end;
  }
  const char *path = colon2 + 1;
  int64_t bytes = tcc_rt_dtype_bytes(dtype, numel);
  if (bytes < 0) return tcc_status_make(TCC_INVALID_ARGUMENT, "input spec %d: the tensor is too large", index);
  FILE *f = fopen(path, "rb");
  if (!f) return tcc_status_make(TCC_IO, "cannot open input %d '%s': %s", index, path, strerror(errno));
  struct stat st = {0};
  if (fstat(fileno(f), &st) != 0 || st.st_size != bytes) {
    fclose(f);
    return tcc_status_make(TCC_INVALID_ARGUMENT, "input %d '%s' holds %lld bytes, its spec needs %lld", index, path,
                           (long long)st.st_size, (long long)bytes);
  }
  *data = alloc_aligned(bytes);
  bool ok = *data && (bytes == 0 || fread(*data, (size_t)bytes, 1, f) == 1);
  fclose(f);
  if (!ok) return *data ? tcc_status_make(TCC_IO, "cannot read input %d '%s'", index, path) : tcc_status_oom();
  *out = tcc_rt_tensor(*data, (size_t)bytes, dtype, rank, dims);
  return NULL;
}

/* ---- running and outputs ---- */

static tcc_status_t write_output(const tcc_rt_module_t *m, const char *dir, int k, const tcc_rt_tensor_t *t) {
  char path[4200];
  int64_t numel = 1;
  for (int d = 0; d < t->rank; d++) numel *= t->dims[d];
  int64_t bytes = tcc_rt_dtype_bytes(t->dtype, numel);
  snprintf(path, sizeof path, "%s/output_%d.bin", dir, k);
  FILE *f = fopen(path, "wb");
  if (!f) return tcc_status_make(TCC_IO, "cannot write '%s': %s", path, strerror(errno));
  bool ok = bytes <= 0 || fwrite(t->data, (size_t)bytes, 1, f) == 1;
  ok = fclose(f) == 0 && ok;
  if (!ok) return tcc_status_make(TCC_IO, "cannot write '%s'", path);
  tcc_rt_tensor_info_t info;
  if (!tcc_rt_module_output(m, k, &info)) return tcc_status_make(TCC_INTERNAL, "the module has no output %d", k);
  snprintf(path, sizeof path, "%s/output_%d.txt", dir, k);
  if (!(f = fopen(path, "w"))) return tcc_status_make(TCC_IO, "cannot write '%s': %s", path, strerror(errno));
  put_tensor_line(f, "output", info.name, t->dtype, t->rank, t->dims, NULL);
  ok = !ferror(f);
  ok = fclose(f) == 0 && ok;
  return ok ? NULL : tcc_status_make(TCC_IO, "cannot write '%s'", path);
}

typedef struct {
  const char *module, *out_dir;
  const char *specs[MAX_INPUTS];
  int num_specs;
  bool signature;
  int bench, threads, device;
  bool profile;
} options_t;

/* Runs once (then o->bench timed runs) and writes the outputs. */
static tcc_status_t run(tcc_rt_module_t *m, tcc_rt_pool_t *pool, const options_t *o, tcc_rt_tensor_t *in,
                        tcc_rt_tensor_t *out, double *times) {
  int ni = tcc_rt_module_num_inputs(m), no = tcc_rt_module_num_outputs(m);
  if (o->num_specs != ni)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "%d input spec%s given, the module has %d input%s", o->num_specs,
                           o->num_specs == 1 ? "" : "s", ni, ni == 1 ? "" : "s");
  tcc_rt_session_t *s = NULL;
  tcc_rt_session_options_t so = {.pool = pool, .gpu_device = o->device, .profile = o->profile};
  TCC_RETURN_IF_ERROR(tcc_rt_session_create(m, &so, &s));
  if (strcmp(tcc_rt_session_device(s), "cpu") != 0) printf("device: %s\n", tcc_rt_session_device(s));
  double start = tcc_now_ms(), gpu_ms;
  tcc_status_t st = tcc_rt_session_run(s, in, ni, out, no);
  if (!st) printf("time: %.3f ms (first run)\n", tcc_now_ms() - start);
  for (int r = 0; !st && r < o->bench; r++) {
    for (int i = 0; i < no; i++) out[i].data = NULL;
    start = tcc_now_ms();
    st = tcc_rt_session_run(s, in, ni, out, no);
    times[r] = tcc_rt_session_gpu_ms(s, &gpu_ms) ? gpu_ms : tcc_now_ms() - start;
  }
  if (!st && o->bench) {
    if (tcc_rt_session_gpu_ms(s, &gpu_ms)) printf("timed with CUDA events (inputs in, kernels, outputs out)\n");
    tcc_print_bench(times, o->bench);
  }
  const char *name;
  double total_ms;
  int64_t runs;
  for (int c = 0; !st && o->profile && tcc_rt_session_call_profile(s, c, &name, &total_ms, &runs); c++)
    printf("call %d %s: mean_ms %.4f over %lld runs\n", c, name, runs ? total_ms / (double)runs : 0.0, (long long)runs);
  if (!st && mkdir(o->out_dir, 0777) != 0 && errno != EEXIST)
    st = tcc_status_make(TCC_IO, "cannot create '%s': %s", o->out_dir, strerror(errno));
  for (int k = 0; !st && k < no; k++) st = write_output(m, o->out_dir, k, &out[k]);
  tcc_rt_session_destroy(s);
  return st;
}

static int parse_options(int argc, char **argv, options_t *o) {
  *o = (options_t){0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has_value = i + 1 < argc;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return usage(stdout), 0;
    if (strcmp(a, "--signature") == 0) o->signature = true;
    else if (strcmp(a, "-o") == 0 && has_value) o->out_dir = argv[++i];
    else if (strcmp(a, "--bench") == 0 && has_value) o->bench = atoi(argv[++i]);
    else if (strcmp(a, "--threads") == 0 && has_value) o->threads = atoi(argv[++i]);
    else if (strcmp(a, "--profile") == 0) o->profile = true;
    else if (strcmp(a, "--device") == 0 && has_value && tcc_parse_cuda_device(argv[i + 1], &o->device)) i++;
    else if (a[0] == '-') return fprintf(stderr, "tcc-module-runner: unexpected argument '%s'\n", a), usage(stderr), 2;
    else if (!o->module) o->module = a;
    else if (o->num_specs < MAX_INPUTS) o->specs[o->num_specs++] = a;
    else return fprintf(stderr, "tcc-module-runner: more than %d inputs\n", MAX_INPUTS), 2;
  }
  if (!o->module || (!o->signature && !o->out_dir)) return usage(stderr), 2;
  if (o->bench < 0 || o->threads < 0)
    return fprintf(stderr, "tcc-module-runner: --bench and --threads take positive counts\n"), 2;
  return -1;
}

int main(int argc, char **argv) {
  options_t o;
  int rc = parse_options(argc, argv, &o);
  if (rc >= 0) return rc;
  tcc_rt_module_t *m = NULL;
  tcc_status_t st = tcc_rt_module_load(o.module, NULL, &m);
  if (st) return fail(st);
  if (o.signature) {
    rc = print_signature(m);
    tcc_rt_module_release(m);
    return rc;
  }
  int no = tcc_rt_module_num_outputs(m);
  tcc_rt_tensor_t *in = calloc((size_t)o.num_specs + 1, sizeof *in);
  tcc_rt_tensor_t *out = calloc((size_t)no + 1, sizeof *out);
  void **data = calloc((size_t)o.num_specs + 1, sizeof *data);
  double *times = calloc((size_t)o.bench + 1, sizeof *times);
  tcc_rt_pool_t *pool = NULL;
  st = in && out && data && times ? NULL : tcc_status_oom();
  for (int i = 0; !st && i < o.num_specs; i++) st = read_input(o.specs[i], i, &in[i], &data[i]);
  if (!st && o.threads) st = tcc_rt_pool_create(o.threads, NULL, &pool);
  if (!st) st = run(m, pool, &o, in, out, times);
  rc = st ? fail(st) : 0;
  for (int i = 0; data && i < o.num_specs; i++) free(data[i]);
  free(in), free(out), free(data), free(times);
  tcc_rt_module_release(m);
  tcc_rt_pool_destroy(pool);
  return rc;
}
