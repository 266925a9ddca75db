/* Imports every <dir>/<case>/model.onnx of a test suite and checks each inferred graph output type
 * against the type the model declares. Prints one line per case that is not a clean pass, then a summary.
 *
 *   import_suite DIR [--min-pass FRACTION] [--verbose] [--filter SUBSTRING]
 *
 * Declared types are not used to fill gaps here, so the checks measure inference alone.
 * Outcomes: pass (imported, outputs agree with the declared types), weak (imported, but some dim or rank
 * tcc left symbolic where the model declares a constant), unsupported (a clear TCC_UNSUPPORTED status),
 * mismatch (an inferred dtype/rank/constant dim contradicts the declaration), error (any other status).
 * Exit 0 when (pass + weak) / cases >= FRACTION and there is no mismatch or error; 77 when DIR is
 * missing (ctest reports the suite as skipped). */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx_import.h"
#include "ir/verify.h"

typedef enum { PASS, WEAK, UNSUPPORTED, MISMATCH, ERROR, OUTCOME_COUNT } outcome_t;
static const char *const outcome_names[] = {"pass", "weak", "unsupported", "mismatch", "error"};

/* PASS, WEAK (tcc knows less than declared) or MISMATCH (they disagree). */
static outcome_t compare(const tcc_type_t *got, const tcc_type_t *want, char *why, size_t size) {
  if (want->kind == TCC_TYPE_UNKNOWN) return PASS;
  if (got->kind == TCC_TYPE_UNKNOWN) return snprintf(why, size, "type unknown"), WEAK;
  if (got->kind != want->kind) return snprintf(why, size, "kind differs"), MISMATCH;
  if (got->kind != TCC_TYPE_TENSOR) {
    if (!got->elem || !want->elem) return PASS;
    return compare(got->elem, want->elem, why, size);
  }
  if (want->dtype && got->dtype && got->dtype != want->dtype) return snprintf(why, size, "dtype differs"), MISMATCH;
  if (want->dtype && !got->dtype) return snprintf(why, size, "dtype unknown"), WEAK;
  if (want->rank < 0) return PASS;
  if (got->rank < 0) return snprintf(why, size, "rank unknown"), WEAK;
  if (got->rank != want->rank) return snprintf(why, size, "rank differs"), MISMATCH;
  outcome_t o = PASS;
  for (int i = 0; i < got->rank; i++) {
    if (!tcc_dim_is_const(want->dims[i])) continue;
    if (!tcc_dim_is_const(got->dims[i])) {
      snprintf(why, size, "dim %d symbolic", i);
      o = WEAK;
    } else if (tcc_dim_value(got->dims[i]) != tcc_dim_value(want->dims[i])) {
      snprintf(why, size, "dim %d differs", i);
      return MISMATCH;
    }
  }
  return o;
}

static void describe(char *detail, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void describe(char *detail, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, size, fmt, ap); /* long paths are cut, which is fine for a report line */
  va_end(ap);
}

static outcome_t run_case(const char *path, char *detail, size_t size) {
  tcc_onnx_import_options_t options = {.ignore_declared_types = true};
  tcc_module_t *m;
  tcc_status_t st = tcc_onnx_import_file(path, &options, tcc_allocator_system(), &m);
  if (st) {
    outcome_t o = tcc_status_code(st) == TCC_UNSUPPORTED ? UNSUPPORTED : ERROR;
    describe(detail, size, "%s", tcc_status_message(st));
    tcc_status_free(st);
    return o;
  }
  if ((st = tcc_module_verify(m))) {
    describe(detail, size, "%s: %s", path, tcc_status_message(st));
    tcc_status_free(st);
    tcc_module_destroy(m);
    return ERROR;
  }
  outcome_t worst = PASS;
  for (size_t i = 0; i < m->graph->num_outputs; i++) {
    const tcc_value_t *v = m->graph->outputs[i];
    if (!v->declared) continue;
    char why[64] = "", got[512], want[512];
    outcome_t o = compare(&v->type, v->declared, why, sizeof why);
    if (o > worst) {
      worst = o;
      tcc_type_format(&v->type, got, sizeof got);
      tcc_type_format(v->declared, want, sizeof want);
      describe(detail, size, "%s: output '%s': %s: inferred %s, declared %s", path, v->name, why, got, want);
    }
  }
  tcc_module_destroy(m);
  return worst;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
  const char *dir = NULL, *filter = NULL;
  double min_pass = 0;
  bool verbose = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--min-pass") == 0 && i + 1 < argc) min_pass = atof(argv[++i]);
    else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) filter = argv[++i];
    else if (strcmp(argv[i], "--verbose") == 0) verbose = true;
    else dir = argv[i];
  }
  if (!dir) {
    fprintf(stderr, "usage: import_suite DIR [--min-pass FRACTION] [--verbose] [--filter SUBSTRING]\n");
    return 2;
  }
  DIR *d = opendir(dir);
  if (!d) {
    printf("import_suite: %s not found: suite skipped (set TCC_ONNX_TESTS / TCC_MODELS)\n", dir);
    return 77;
  }
  char **names = NULL;
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.' || (filter && !strstr(e->d_name, filter))) continue;
    names = realloc(names, (n + 1) * sizeof *names);
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, by_name);
  int counts[OUTCOME_COUNT] = {0}, cases = 0;
  for (size_t i = 0; i < n; i++) {
    char path[4096], detail[1024] = "";
    size_t len = strlen(names[i]);
    bool file = len > 5 && strcmp(names[i] + len - 5, ".onnx") == 0;
    snprintf(path, sizeof path, file ? "%s/%s" : "%s/%s/model.onnx", dir, names[i]);
    FILE *f = fopen(path, "rb");
    free(names[i]);
    if (!f) continue;
    fclose(f);
    outcome_t o = run_case(path, detail, sizeof detail);
    counts[o]++;
    cases++;
    if (o != PASS && (verbose || o != WEAK)) printf("%-11s %s\n", outcome_names[o], detail);
  }
  free(names);
  double rate = cases ? (double)(counts[PASS] + counts[WEAK]) / cases : 0;
  printf("cases %d: pass %d, weak %d, unsupported %d, mismatch %d, error %d; imported %.1f%%\n", cases, counts[PASS],
         counts[WEAK], counts[UNSUPPORTED], counts[MISMATCH], counts[ERROR], 100 * rate);
  bool ok = rate >= min_pass && counts[MISMATCH] == 0 && counts[ERROR] == 0;
  printf("%d passed, %d failed\n", counts[PASS] + counts[WEAK], ok ? 0 : counts[MISMATCH] + counts[ERROR] + counts[UNSUPPORTED]);
  return ok ? 0 : 1;
}
