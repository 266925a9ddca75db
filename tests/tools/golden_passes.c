/* Golden tests of the graph passes: IR text in, one pass, IR text out (docs/passes.md, "Testing").
 *
 * usage: golden_passes [--update] [-v] PATH...
 *   PATH is a case file or a directory: the .txt files in it and in its subdirectories (one level) run,
 *   in name order.
 *
 * A case file:
 *   # <one line: what the case checks>
 *   # pass: canonicalize            (a pass name of tcc_pipeline_run_pass; "a,b" runs a then b)
 *   # target: sm_80                 (optional: the pass context's target; default "generic")
 *   # precision: fp16               (optional: fp16 | bf16 | fp32 | tf32, i.e. fp32 with allow_tf32)
 *   # atol: 1e-2                    (optional: the differential tolerance, below; default 1e-5)
 *   # eval: no                      (optional: skip the differential check)
 *   <input IR text (ir/text.h)>
 *   # expect
 *   <expected IR text after the pass>
 *
 * Each case: the input is parsed and inferred, the pass runs, the result is printed with tcc_text_print
 * (the verifier runs after each pass) and compared byte for byte with the expectation (--update rewrites it instead: review the diff). Then,
 * unless `# eval: no`, the differential check: the unoptimized input graph and the rewritten graph are
 * both evaluated by the reference evaluator on the same seeded random inputs (symbolic dims = 2) and
 * their outputs must agree within atol + 1e-4 * |ref|. When the input graph itself cannot be evaluated
 * (an op the evaluator lacks, inputs whose values the random data violates) the check is skipped and
 * said so with -v; when only the rewritten graph fails, the case fails. Exit status: 0 when every case
 * passes, 1 otherwise (and when no case was found).
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ir/graph_eval.h"
#include "ir/infer.h"
#include "ir/text.h"
#include "ir/verify.h"
#include "passes/pipeline.h"

typedef struct {
  bool update, verbose;
  int passed, failed, updated;
} runner_t;

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
    free(s);
    s = NULL;
  }
  if (s) s[n] = 0;
  fclose(f);
  return s;
}

/* The value of header line "# KEY: VALUE" before the expectation, into buf; false when absent. */
static bool header(const char *text, const char *key, char *buf, size_t size) {
  size_t klen = strlen(key);
  for (const char *line = text; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line)) {
    if (strncmp(line, "# expect", 8) == 0) break;
    if (line[0] != '#') continue;
    const char *p = line + 1;
    while (*p == ' ') p++;
    if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
      p += klen + 1;
      while (*p == ' ') p++;
      size_t n = strcspn(p, "\r\n");
      while (n && p[n - 1] == ' ') n--;
      snprintf(buf, size, "%.*s", (int)n, p);
      return true;
    }
  }
  return false;
}

/* The line "# expect" (start of it), or NULL. */
static char *find_expect(char *text) {
  for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    size_t n = strcspn(line, "\r\n");
    if (n >= 8 && strncmp(line, "# expect", 8) == 0 && strspn(line + 8, " \t") == n - 8) return line;
  }
  return NULL;
}

static size_t trimmed_len(const char *s, size_t n) {
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ')) n--;
  return n;
}

static tcc_status_t print_to_string(const tcc_module_t *m, char **out, size_t *len) {
  FILE *f = open_memstream(out, len);
  if (!f) return tcc_status_oom();
  tcc_status_t st = tcc_text_print(m, f, NULL);
  fclose(f);
  return st;
}

/* ---- the differential check ---- */

static double next_uniform(unsigned long long *s) {
  *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
  return (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static bool lookup_two(void *ctx, const char *symbol, int64_t *v) {
  (void)ctx, (void)symbol;
  *v = 2;
  return true;
}

/* Random tensors for the inputs without defaults; false (nothing to check) for inputs it cannot make. */
static bool make_inputs(const tcc_graph_t *g, tcc_module_t *data, const tcc_eval_value_t **inputs) {
  unsigned long long state = 0x2545F4914F6CDD1DULL;
  for (size_t i = 0; i < g->num_inputs; i++) {
    const tcc_value_t *v = g->inputs[i];
    inputs[i] = NULL;
    if (v->constant) continue;
    const tcc_type_t *t = &v->type;
    if (t->kind != TCC_TYPE_TENSOR || t->rank < 0 || t->rank > 16) return false;
    int64_t dims[16];
    for (int k = 0; k < t->rank; k++)
      if (!tcc_dim_eval(t->dims[k], lookup_two, NULL, &dims[k])) return false;
    tcc_tensor_t *x = tcc_tensor_create(data, t->dtype, t->rank, dims);
    if (!x) return false;
    unsigned char *p = (unsigned char *)x->data;
    for (int64_t e = 0; e < x->numel; e++) {
      double r = next_uniform(&state);
      switch (x->dtype) {
        case TCC_DTYPE_F32: { float f = (float)(2 * r - 1); memcpy(p + 4 * e, &f, 4); break; }
        case TCC_DTYPE_F64: { double d = 2 * r - 1; memcpy(p + 8 * e, &d, 8); break; }
        case TCC_DTYPE_I64: { int64_t k = (int64_t)(r * 4); memcpy(p + 8 * e, &k, 8); break; }
        case TCC_DTYPE_I32: { int32_t k = (int32_t)(r * 4); memcpy(p + 4 * e, &k, 4); break; }
        case TCC_DTYPE_BOOL: p[e] = r < 0.5; break;
        case TCC_DTYPE_F16: { /* sign, exponent 10..14 (2^-5 .. 1), random mantissa: in (-1, 1) */
          uint32_t bits = (uint32_t)(r * 4294967296.0);
          uint16_t h = (uint16_t)(((bits >> 31) << 15) | ((10 + (bits >> 10) % 5) << 10) | (bits & 0x3ff));
          memcpy(p + 2 * e, &h, 2);
          break;
        }
        case TCC_DTYPE_BF16: { /* the top half of an f32 in [-1, 1) */
          float f = (float)(2 * r - 1);
          uint32_t bits;
          memcpy(&bits, &f, 4);
          uint16_t h = (uint16_t)(bits >> 16);
          memcpy(p + 2 * e, &h, 2);
          break;
        }
        default: return false;
      }
    }
    if (!(inputs[i] = tcc_eval_value_tensor(data, x))) return false;
  }
  return true;
}

static bool close_enough(const tcc_tensor_t *a, const tcc_tensor_t *b, double atol, char *why, size_t size) {
  if (a->dtype != b->dtype || a->rank != b->rank || memcmp(a->dims, b->dims, (size_t)a->rank * sizeof *a->dims)) {
    snprintf(why, size, "shape or dtype differs (%s rank %d vs %s rank %d)", tcc_dtype_name(a->dtype), a->rank,
             tcc_dtype_name(b->dtype), b->rank);
    return false;
  }
  if (a->dtype == TCC_DTYPE_STRING) return true;
  for (int64_t i = 0; i < a->numel; i++) {
    double x = tcc_tensor_get_float(a, i), y = tcc_tensor_get_float(b, i);
    if (isnan(x) && isnan(y)) continue;
    if (!(fabs(x - y) <= atol + 1e-4 * fabs(y)) && x != y) {
      snprintf(why, size, "element %lld: %.9g after the pass, %.9g before", (long long)i, x, y);
      return false;
    }
  }
  return true;
}

/* NULL when the outputs agree (or the check does not apply); else a message (malloc'd). */
static char *differential(const tcc_module_t *before, const tcc_module_t *after, double atol, bool verbose,
                          const char *path) {
  const tcc_graph_t *g0 = before->graph, *g1 = after->graph;
  char why[512] = "";
  tcc_module_t *data = NULL;
  if (tcc_module_create(tcc_allocator_system(), &data)) return strdup("out of memory");
  const tcc_eval_value_t **inputs = tcc_module_alloc(data, (g0->num_inputs + 1) * sizeof *inputs);
  const tcc_eval_value_t **out0 = tcc_module_alloc(data, (g0->num_outputs + 1) * sizeof *out0);
  const tcc_eval_value_t **out1 = tcc_module_alloc(data, (g1->num_outputs + 1) * sizeof *out1);
  if (g0->num_inputs != g1->num_inputs || g0->num_outputs != g1->num_outputs) {
    snprintf(why, sizeof why, "the pass changed the number of graph inputs or outputs");
  } else if (inputs && out0 && out1 && make_inputs(g0, data, inputs)) {
    tcc_status_t st = tcc_graph_eval_values(g0, inputs, data, out0);
    if (st) {
      if (verbose) printf("  %s: differential check skipped: %s\n", path, tcc_status_message(st));
      tcc_status_free(st);
    } else if ((st = tcc_graph_eval_values(g1, inputs, data, out1))) {
      snprintf(why, sizeof why, "the rewritten graph fails to evaluate: %s", tcc_status_message(st));
      tcc_status_free(st);
    } else {
      for (size_t i = 0; i < g0->num_outputs && !why[0]; i++) {
        char sub[400];
        if (out0[i]->kind != out1[i]->kind) snprintf(why, sizeof why, "output %zu changed kind", i);
        else if (out0[i]->kind == TCC_TYPE_TENSOR && !close_enough(out1[i]->tensor, out0[i]->tensor, atol, sub, sizeof sub))
          snprintf(why, sizeof why, "output '%s': %s", g0->outputs[i]->name, sub);
      }
    }
  } else if (verbose) {
    printf("  %s: differential check skipped: inputs without random data\n", path);
  }
  tcc_module_destroy(data);
  return why[0] ? strdup(why) : NULL;
}

/* ---- one case ---- */

static tcc_status_t parse_typed(const char *text, tcc_module_t **m) {
  TCC_RETURN_IF_ERROR(tcc_text_parse(text, tcc_allocator_system(), m));
  tcc_status_t st = tcc_graph_infer((*m)->graph);
  if (st) {
    tcc_module_destroy(*m);
    *m = NULL;
  }
  return st;
}

static tcc_status_t run_passes(tcc_module_t *m, const char *list, const tcc_pipeline_options_t *o) {
  char names[512];
  snprintf(names, sizeof names, "%s", list);
  for (char *save = NULL, *name = strtok_r(names, ", ", &save); name; name = strtok_r(NULL, ", ", &save)) {
    bool changed;
    TCC_RETURN_IF_ERROR(tcc_pipeline_run_pass(m->graph, name, o, &changed));
    tcc_status_t st = tcc_module_verify(m);
    if (st) return tcc_status_annotate(st, "after pass %s: ", name);
  }
  return NULL;
}

static void fail_case(runner_t *r, const char *path, const char *fmt, const char *detail) {
  printf("FAIL %s: ", path);
  printf(fmt, detail);
  printf("\n");
  r->failed++;
}

static void run_case(runner_t *r, const char *path) {
  char *text = read_file(path);
  if (!text) return fail_case(r, path, "cannot read%s", "");
  char *expect = find_expect(text);
  char pass[256], buf[64];
  if (!expect) {
    fail_case(r, path, "no '# expect' line%s", "");
    return free(text);
  }
  if (!header(text, "pass", pass, sizeof pass)) {
    fail_case(r, path, "no '# pass: NAME' line%s", "");
    return free(text);
  }
  tcc_pipeline_options_t o = tcc_pipeline_defaults();
  char target[64] = "generic";
  header(text, "target", target, sizeof target);
  o.context.target = target;
  if (header(text, "precision", buf, sizeof buf)) {
    o.context.precision = strcmp(buf, "fp16") == 0 ? TCC_DTYPE_F16 : strcmp(buf, "bf16") == 0 ? TCC_DTYPE_BF16 : TCC_DTYPE_F32;
    o.precision.allow_tf32 = strcmp(buf, "tf32") == 0;
  }
  double atol = header(text, "atol", buf, sizeof buf) ? atof(buf) : 1e-5;
  bool eval = !(header(text, "eval", buf, sizeof buf) && strcmp(buf, "no") == 0);

  size_t input_len = (size_t)(expect - text);
  char *input = strndup(text, input_len);
  char *expected = expect + strcspn(expect, "\n");
  if (*expected) expected++;

  tcc_module_t *before = NULL, *after = NULL;
  char *got = NULL;
  size_t got_len = 0;
  tcc_status_t st = parse_typed(input, &before);
  if (!st) st = parse_typed(input, &after);
  if (!st) st = run_passes(after, pass, &o);
  if (!st) st = print_to_string(after, &got, &got_len);
  if (st) {
    fail_case(r, path, "%s", tcc_status_message(st));
    tcc_status_free(st);
  } else if (trimmed_len(got, got_len) == trimmed_len(expected, strlen(expected)) &&
             memcmp(got, expected, trimmed_len(got, got_len)) == 0) {
    char *why = eval ? differential(before, after, atol, r->verbose, path) : NULL;
    if (why) fail_case(r, path, "results change: %s", why);
    else r->passed++;
    free(why);
  } else if (r->update) {
    FILE *f = fopen(path, "wb");
    if (!f) {
      fail_case(r, path, "cannot write%s", "");
    } else {
      fwrite(text, 1, (size_t)(expected - text), f);
      fwrite(got, 1, got_len, f);
      fclose(f);
      printf("updated %s\n", path);
      r->updated++;
      char *why = eval ? differential(before, after, atol, r->verbose, path) : NULL;
      if (why) fail_case(r, path, "results change: %s", why);
      free(why);
    }
  } else {
    printf("FAIL %s: output differs\n--- expected\n%s--- got\n%s", path, expected, got);
    r->failed++;
  }
  free(got);
  free(input);
  free(text);
  tcc_module_destroy(before);
  tcc_module_destroy(after);
}

/* ---- discovery ---- */

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool is_dir(const char *path) {
  struct stat s;
  return stat(path, &s) == 0 && S_ISDIR(s.st_mode);
}

/* The .txt files of dir and, to one more level, of its subdirectories, in name order. */
static void run_dir(runner_t *r, const char *dir, int depth) {
  DIR *d = opendir(dir);
  if (!d) return;
  char **names = NULL;
  size_t n = 0, cap = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char **grown = realloc(names, cap * sizeof *names);
      if (!grown) abort();
      names = grown;
    }
    size_t len = strlen(dir) + strlen(e->d_name) + 2;
    names[n] = malloc(len);
    if (!names[n]) abort();
    snprintf(names[n++], len, "%s/%s", dir, e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(names[i]);
    if (is_dir(names[i])) {
      if (depth == 0) run_dir(r, names[i], 1);
    } else if (len > 4 && strcmp(names[i] + len - 4, ".txt") == 0) {
      run_case(r, names[i]);
    }
    free(names[i]);
  }
  free(names);
}

int main(int argc, char **argv) {
  runner_t r = {0};
  int paths = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--update") == 0) r.update = true;
    else if (strcmp(argv[i], "-v") == 0) r.verbose = true;
    else if (argv[i][0] == '-') {
      fprintf(stderr, "usage: golden_passes [--update] [-v] PATH...\n");
      return 2;
    }
  }
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] == '-') continue;
    paths++;
    if (is_dir(argv[i])) run_dir(&r, argv[i], 0);
    else run_case(&r, argv[i]);
  }
  if (!paths) {
    fprintf(stderr, "usage: golden_passes [--update] [-v] PATH...\n");
    return 2;
  }
  printf("%d passed, %d failed%s", r.passed, r.failed, r.update ? "" : "\n");
  if (r.update) printf(", %d updated\n", r.updated);
  if (r.passed + r.failed + r.updated == 0) printf("no cases found\n");
  return r.failed == 0 && r.passed + r.updated > 0 ? 0 : 1;
}
