/* The space scripts (autotune/spaces/NAME.lua) as embedded at build time (the build generates the table from
 * the files; see CMakeLists.txt). Internal to autotune/space.c. */
#ifndef TCC_AUTOTUNE_SPACE_EMBEDDED_H
#define TCC_AUTOTUNE_SPACE_EMBEDDED_H

#include <stddef.h>

typedef struct {
  const char *name; /* "cpu_gemm" */
  const char *path; /* "autotune/spaces/cpu_gemm.lua" */
  const char *text; /* the script, zero-terminated */
  size_t size;      /* bytes, without the terminating zero */
} tcc_space_embedded_t;

extern const tcc_space_embedded_t tcc_space_embedded[];
extern const int tcc_space_embedded_count;

#endif
