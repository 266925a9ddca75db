/* Diagnostics on stderr. The level comes from TCC_DEBUG (0 = warnings, 1 = info, 2 = debug). */
#ifndef TCC_BASE_LOG_H
#define TCC_BASE_LOG_H

typedef enum { TCC_LOG_WARN = 0, TCC_LOG_INFO = 1, TCC_LOG_DEBUG = 2 } tcc_log_level_t;

int tcc_log_level(void);
void tcc_log(tcc_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
