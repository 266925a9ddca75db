/* Conformance runner: evaluates every test case of an ONNX backend-test suite with `tcc run --compare`
 * and reports pass / fail (wrong numbers, errors, crashes, timeouts) / unsupported, with a per-op table.
 *
 *   conformance TCC_BINARY SUITE_DIR [--expected FILE] [--write-expected FILE] [--filter SUBSTRING]
 *                                    [--every N] [--timeout SECONDS] [--verbose] [-- TCC_RUN_OPTIONS...]
 * --every N runs every Nth test (by name order; a quick mode of a slow configuration, e.g. under qemu).
 *
 * Each test data set runs in its own `tcc run` process under a timeout, so a crash or a hang is a
 * failure of that test, never of the runner. Options after `--` are passed on to `tcc run` (e.g. --atol 1e-4). --expected names a file listing the tests that must pass
 * (one per line): any of them not passing fails the run (a regression). --write-expected writes the
 * current pass list. Exit 77 when SUITE_DIR is missing (ctest: skipped). */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frontend/onnx_import.h"

typedef enum { PASS, FAIL, UNSUPPORTED, OUTCOME_COUNT } outcome_t;
static const char *const outcome_names[] = {"pass", "fail", "unsupported"};

typedef struct {
  char op[64];
  int counts[OUTCOME_COUNT];
} op_row_t;

static op_row_t rows[512];
static int num_rows;

static void count_op(const char *op, outcome_t o) {
  int i = 0;
  while (i < num_rows && strcmp(rows[i].op, op) != 0) i++;
  if (i == num_rows) {
    if (num_rows == 512) return;
    snprintf(rows[num_rows++].op, sizeof rows[0].op, "%s", op);
  }
  rows[i].counts[o]++;
}

/* The distinct op types of a model (main graph), as a comma list; "?" when it does not import. */
static void model_ops(const char *path, char *out, size_t size) {
  tcc_onnx_import_options_t options = {.keep_unsupported = true};
  tcc_module_t *m;
  tcc_status_t st = tcc_onnx_import_file(path, &options, tcc_allocator_system(), &m);
  snprintf(out, size, "%s", st ? "?" : "");
  tcc_status_free(st);
  if (st) return;
  for (size_t i = 0; i < m->graph->num_nodes; i++) {
    const char *op = m->graph->nodes[i]->op_type;
    size_t n = strlen(op), len = strlen(out);
    bool seen = false;
    for (const char *p = out; (p = strstr(p, op)) && !seen; p++)
      seen = (p == out || p[-1] == ',') && (p[n] == ',' || p[n] == 0);
    if (!seen && len + n + 2 < size) {
      if (len) out[len++] = ',';
      memcpy(out + len, op, n + 1);
    }
  }
  tcc_module_destroy(m);
}

/* Runs `tcc run MODEL --compare DIR` with a timeout; the exit status decides the outcome. */
static outcome_t run_data_set(const char *tcc, const char *model, const char *dir, char **extra, int num_extra,
                              int timeout, char *why, size_t size) {
  char log[] = "/tmp/tcc-conformance-XXXXXX";
  int fd = mkstemp(log);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    alarm((unsigned)timeout);
    char *args[64] = {(char *)tcc, "run", (char *)model, "--compare", (char *)dir};
    for (int i = 0; i < num_extra && i < 58; i++) args[5 + i] = extra[i];
    execv(tcc, args);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  char text[2048] = "";
  lseek(fd, 0, SEEK_SET);
  ssize_t n = read(fd, text, sizeof text - 1);
  text[n > 0 ? n : 0] = 0;
  close(fd);
  unlink(log);
  char *last = NULL;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
    if (strstr(line, "error") || strstr(line, "FAIL")) last = line;
  snprintf(why, size, "%s", last ? last : "");
  if (WIFSIGNALED(status)) {
    snprintf(why, size, "%s", WTERMSIG(status) == SIGALRM ? "timeout" : strsignal(WTERMSIG(status)));
    return FAIL;
  }
  int rc = WEXITSTATUS(status);
  return rc == 0 ? PASS : rc == 3 ? UNSUPPORTED : FAIL;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool listed(char **list, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(list[i], name) == 0) return true;
  return false;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: conformance TCC_BINARY SUITE_DIR [--expected FILE] [--write-expected FILE] "
                    "[--filter S] [--every N] [--timeout SECONDS] [--verbose] [-- TCC_RUN_OPTIONS...]\n");
    return 2;
  }
  const char *tcc = argv[1], *suite = argv[2], *expected = NULL, *write_expected = NULL, *filter = NULL;
  int timeout = 60, every = 1;
  bool verbose = false;
  char **extra = NULL;
  int num_extra = 0;
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      extra = argv + i + 1, num_extra = argc - i - 1;
      break;
    }
    if (strcmp(argv[i], "--expected") == 0 && i + 1 < argc) expected = argv[++i];
    else if (strcmp(argv[i], "--write-expected") == 0 && i + 1 < argc) write_expected = argv[++i];
    else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) filter = argv[++i];
    else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) timeout = atoi(argv[++i]);
    else if (strcmp(argv[i], "--every") == 0 && i + 1 < argc && (every = atoi(argv[++i])) < 1) every = 1;
    else if (strcmp(argv[i], "--verbose") == 0) verbose = true;
  }
  DIR *d = opendir(suite);
  if (!d) {
    printf("conformance: %s not found: suite skipped (set TCC_ONNX_TESTS)\n", suite);
    return 77;
  }
  char **names = NULL, **must_pass = NULL;
  int n = 0, num_must = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.' && (!filter || strstr(e->d_name, filter))) {
      names = realloc(names, (size_t)(n + 1) * sizeof *names);
      names[n++] = strdup(e->d_name);
    }
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, by_name);
  FILE *ef = expected ? fopen(expected, "r") : NULL;
  char line[512];
  while (ef && fgets(line, sizeof line, ef)) {
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0] || line[0] == '#') continue;
    must_pass = realloc(must_pass, (size_t)(num_must + 1) * sizeof *must_pass);
    must_pass[num_must++] = strdup(line);
  }
  if (ef) fclose(ef);
  FILE *wf = write_expected ? fopen(write_expected, "w") : NULL;
  int counts[OUTCOME_COUNT] = {0}, regressions = 0, cases = 0;
  for (int i = 0; i < n; i += every) {
    char model[4096], dir[4096], why[2048] = "", ops[4096];
    snprintf(model, sizeof model, "%s/%s/model.onnx", suite, names[i]);
    struct stat st;
    if (stat(model, &st) != 0) continue;
    outcome_t o = PASS;
    int sets = 0;
    for (int k = 0; o == PASS; k++, sets++) {
      snprintf(dir, sizeof dir, "%s/%s/test_data_set_%d", suite, names[i], k);
      if (stat(dir, &st) != 0) break;
      o = run_data_set(tcc, model, dir, extra, num_extra, timeout, why, sizeof why);
    }
    if (sets == 0) continue;
    cases++;
    counts[o]++;
    model_ops(model, ops, sizeof ops);
    for (char *op = strtok(ops, ","); op; op = strtok(NULL, ",")) count_op(op, o);
    bool regressed = o != PASS && listed(must_pass, num_must, names[i]);
    regressions += regressed;
    if (o == PASS && wf) fprintf(wf, "%s\n", names[i]);
    if (regressed || (verbose && o != PASS)) printf("%-11s %s%s: %s\n", outcome_names[o], names[i], regressed ? " (REGRESSION)" : "", why);
  }
  if (wf) fclose(wf);
  printf("\n%-28s %6s %6s %12s\n", "op", "pass", "fail", "unsupported");
  for (int i = 0; i < num_rows; i++)
    printf("%-28s %6d %6d %12d\n", rows[i].op, rows[i].counts[PASS], rows[i].counts[FAIL], rows[i].counts[UNSUPPORTED]);
  printf("\ncases %d: pass %d, fail %d, unsupported %d; regressions from the expected list: %d\n", cases, counts[PASS],
         counts[FAIL], counts[UNSUPPORTED], regressions);
  printf("%d passed, %d failed\n", counts[PASS], regressions);
  for (int i = 0; i < n; i++) free(names[i]);
  for (int i = 0; i < num_must; i++) free(must_pass[i]);
  free(names);
  free(must_pass);
  return regressions ? 1 : 0;
}
