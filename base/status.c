/* Status objects: code + message, heap-allocated, NULL meaning success. */
#include "base/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tcc_status {
  tcc_status_code_t code;
  char *message;
};

static struct tcc_status oom_status = {TCC_OUT_OF_MEMORY, (char *)"out of memory"};

static const char *const code_names[TCC_STATUS_CODE_COUNT] = {
    "ok", "invalid argument", "invalid model", "unsupported", "not found",
    "permission denied", "i/o error", "out of memory", "internal error",
};

tcc_status_t tcc_status_oom(void) { return &oom_status; }

tcc_status_t tcc_status_makev(tcc_status_code_t code, const char *fmt, va_list ap) {
  if (code == TCC_OK) return NULL;
  struct tcc_status *st = malloc(sizeof *st);
  if (!st) return &oom_status;
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  st->code = code;
  st->message = malloc(n > 0 ? (size_t)n + 1 : 1);
  if (!st->message) {
    free(st);
    return &oom_status;
  }
  vsnprintf(st->message, (size_t)n + 1, fmt, ap);
  return st;
}

tcc_status_t tcc_status_make(tcc_status_code_t code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tcc_status_t st = tcc_status_makev(code, fmt, ap);
  va_end(ap);
  return st;
}

tcc_status_t tcc_status_annotate(tcc_status_t st, const char *fmt, ...) {
  if (!st || st == &oom_status) return st;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return st;
  size_t old = strlen(st->message);
  char *msg = malloc((size_t)n + old + 1);
  if (!msg) return st;
  va_start(ap, fmt);
  vsnprintf(msg, (size_t)n + 1, fmt, ap);
  va_end(ap);
  memcpy(msg + n, st->message, old + 1);
  free(st->message);
  st->message = msg;
  return st;
}

tcc_status_code_t tcc_status_code(tcc_status_t st) { return st ? st->code : TCC_OK; }
const char *tcc_status_message(tcc_status_t st) { return st ? st->message : ""; }

const char *tcc_status_code_name(tcc_status_code_t code) {
  return (unsigned)code < TCC_STATUS_CODE_COUNT ? code_names[code] : "unknown";
}

void tcc_status_free(tcc_status_t st) {
  if (!st || st == &oom_status) return;
  free(st->message);
  free(st);
}

void tcc_assert_fail(const char *cond, const char *file, int line) {
  fprintf(stderr, "tcc: internal error: assertion '%s' failed at %s:%d\n", cond, file, line);
  abort();
}
