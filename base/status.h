/* Status values: how every fallible tcc function reports failure.
 *
 * A tcc_status_t is NULL on success; otherwise it owns a code and a message with context. The caller
 * that receives a non-NULL status either returns it upward (TCC_RETURN_IF_ERROR), annotates it, or
 * consumes it with tcc_status_free. Statuses are plain heap objects: safe to pass between threads.
 */
#ifndef TCC_BASE_STATUS_H
#define TCC_BASE_STATUS_H

#include <stdarg.h>

#define TCC_MUST_USE __attribute__((warn_unused_result))
#define TCC_PRINTF(f, a) __attribute__((format(printf, f, a)))

typedef enum {
  TCC_OK = 0,
  TCC_INVALID_ARGUMENT, /* bad call or command-line usage */
  TCC_INVALID_MODEL,    /* the model is malformed or inconsistent */
  TCC_UNSUPPORTED,      /* valid input that tcc does not handle (yet) */
  TCC_NOT_FOUND,        /* a file, name or symbol that does not exist */
  TCC_PERMISSION,       /* refused for safety, e.g. a path escaping the model directory */
  TCC_IO,               /* the operating system failed a read, map or write */
  TCC_OUT_OF_MEMORY,
  TCC_INTERNAL,         /* a bug in tcc */
  TCC_STATUS_CODE_COUNT
} tcc_status_code_t;

typedef struct tcc_status *tcc_status_t;

/* Creates a status with a printf-style message. Never returns NULL for code != TCC_OK (falls back to a
 * static out-of-memory status when the message cannot be allocated). */
TCC_MUST_USE tcc_status_t tcc_status_make(tcc_status_code_t code, const char *fmt, ...) TCC_PRINTF(2, 3);
TCC_MUST_USE tcc_status_t tcc_status_makev(tcc_status_code_t code, const char *fmt, va_list ap);
/* The shared out-of-memory status (freeing it is a no-op). */
TCC_MUST_USE tcc_status_t tcc_status_oom(void);

/* Prefixes context ("while importing node 'x': ") to the message; returns the same status. */
TCC_MUST_USE tcc_status_t tcc_status_annotate(tcc_status_t status, const char *fmt, ...) TCC_PRINTF(2, 3);

tcc_status_code_t tcc_status_code(tcc_status_t status);
const char *tcc_status_message(tcc_status_t status); /* "" for NULL */
const char *tcc_status_code_name(tcc_status_code_t code);
void tcc_status_free(tcc_status_t status);

#define TCC_RETURN_IF_ERROR(expr)            \
  do {                                       \
    tcc_status_t tcc_status_tmp_ = (expr);   \
    if (tcc_status_tmp_) return tcc_status_tmp_; \
  } while (0)

/* Internal invariants only: input and environment problems are statuses. */
#define TCC_ASSERT(cond)                                                        \
  do {                                                                          \
    if (!(cond)) tcc_assert_fail(#cond, __FILE__, __LINE__);                    \
  } while (0)
_Noreturn void tcc_assert_fail(const char *cond, const char *file, int line);

#endif
