/* Leveled logging to stderr. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int tcc_log_level(void) {
  static int level = -1;
  if (level < 0) {
    const char *env = getenv("TCC_DEBUG");
    level = env ? atoi(env) : 0;
  }
  return level;
}

void tcc_log(tcc_log_level_t level, const char *fmt, ...) {
  if ((int)level > tcc_log_level()) return;
  static const char *const prefix[] = {"warning", "info", "debug"};
  fprintf(stderr, "tcc: %s: ", prefix[level]);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}
