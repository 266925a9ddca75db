/* Search spaces: Lua 5.4 scripts that give a template's default knobs, its knob domains and the
 * constraints between knobs, for one workload on one target.
 *
 *   tcc_space_query_t q;
 *   TCC_RETURN_IF_ERROR(tcc_space_query_init(&q, "matmul", "x86-64-v4"));   // op kind + target caps
 *   TCC_RETURN_IF_ERROR(tcc_space_query_set(&q, "m", 128));                  // the workload's integers
 *   TCC_RETURN_IF_ERROR(tcc_space_query_set(&q, "n", 256));
 *   TCC_RETURN_IF_ERROR(tcc_space_query_set(&q, "k", 1024));
 *   tcc_space_knobs_t knobs;
 *   TCC_RETURN_IF_ERROR(tcc_space_defaults("cpu_gemm", &q, &knobs));
 *   int64_t mr = tcc_space_knob(&knobs, "mr", 6);
 *
 * A space called S is the script autotune/spaces/S.lua, embedded into the binary at build time. It
 * defines global functions over a query table
 *     q = { op = "matmul", dtype = "f32", layout = "row_major", m = 128, n = 256, k = 1024, ...,
 *           target = { name = "x86-64-v4", lanes = 16, registers = 32, cores = 2,
 *                      l1 = 32768, l2 = 1048576, l3 = 33554432, fma = true } }
 * (every integer set with tcc_space_query_set is a field of q):
 *     defaults(q)      -> { knob = integer, ... }            the heuristic choice (required)
 *     knobs(q)         -> { knob = { integer, ... }, ... }   each knob's domain (optional)
 *     valid(q, knobs)  -> boolean                            whether a combination is legal (optional)
 *
 * Each call runs in a fresh lua_State with only the base library (without dofile and loadfile), math,
 * string and table, a memory cap and an instruction budget, so a script cannot touch files or hang the
 * compiler. Any script error (syntax, run time, a wrong result type) is a TCC_INVALID_ARGUMENT status
 * whose message starts with the script's file:line ("autotune/spaces/cpu_gemm.lua:12: ..."). A space
 * that is not embedded is TCC_NOT_FOUND.
 *
 * Thread-safety: every function is reentrant (no shared state; each call owns its Lua state).
 */
#ifndef TCC_AUTOTUNE_SPACE_H
#define TCC_AUTOTUNE_SPACE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"

enum {
  TCC_SPACE_NAME_MAX = 32,   /* longest knob / field name, with its terminating zero */
  TCC_SPACE_MAX_FIELDS = 32, /* workload integers of one query */
  TCC_SPACE_MAX_KNOBS = 32,  /* knobs of one result */
  TCC_SPACE_MAX_VALUES = 64, /* values of one knob's domain */
};

/* What a script knows of the target. */
typedef struct {
  char name[TCC_SPACE_NAME_MAX]; /* the -target name: "x86-64-v4", "aarch64", "native", "sm_90" ... */
  int lanes;                     /* f32 lanes of one vector register: 16 (AVX-512), 8 (AVX2), 4 (NEON);
                                  * GPUs: the threads of a warp, 32 */
  int registers;                 /* vector registers: 32 or 16; GPUs: a thread's registers */
  int cores;                     /* threads the kernels may use */
  int64_t l1, l2, l3;            /* data cache sizes in bytes (per core for l1 and l2); GPUs: l1 the shared
                                  * memory one block may take, l2 the device's L2, no l3 */
  bool fma;                      /* fused multiply-add available */
} tcc_space_target_t;

typedef struct {
  char name[TCC_SPACE_NAME_MAX];
  int64_t value;
} tcc_space_field_t;

/* A workload on a target. Strings are copied in (names longer than TCC_SPACE_NAME_MAX - 1 are refused). */
typedef struct {
  char op[TCC_SPACE_NAME_MAX];     /* "matmul", "conv2d", ... */
  char dtype[TCC_SPACE_NAME_MAX];  /* "f32" (default) */
  char layout[TCC_SPACE_NAME_MAX]; /* "row_major" (default), "nchw", "nhwc" ... */
  int num_fields;
  tcc_space_field_t fields[TCC_SPACE_MAX_FIELDS]; /* m, n, k, batch / conv sizes ... */
  tcc_space_target_t target;
} tcc_space_query_t;

/* Named integer knobs, in the order the script's table gave them (sorted by name: Lua tables have no
 * order, so the result is made deterministic). */
typedef struct {
  int count;
  char names[TCC_SPACE_MAX_KNOBS][TCC_SPACE_NAME_MAX];
  int64_t values[TCC_SPACE_MAX_KNOBS];
} tcc_space_knobs_t;

/* Each knob's domain (from knobs(q)), sorted by name. */
typedef struct {
  int count;
  char names[TCC_SPACE_MAX_KNOBS][TCC_SPACE_NAME_MAX];
  int num_values[TCC_SPACE_MAX_KNOBS];
  int64_t values[TCC_SPACE_MAX_KNOBS][TCC_SPACE_MAX_VALUES];
} tcc_space_domains_t;

/* The capabilities of the target called target (codegen/target.h's names). "native" reads this host
 * (vector extensions, online cores, cache sizes); the named CPU targets use their ISA's register file and
 * the host's core count; GPU targets (sm_80 ...) a warp, a thread's registers, the shared memory of a
 * block and the L2. TCC_INVALID_ARGUMENT for an unknown name. */
TCC_MUST_USE tcc_status_t tcc_space_target_caps(const char *target, tcc_space_target_t *out);

/* Clears q, sets its op (dtype "f32", layout "row_major") and the capabilities of target. */
TCC_MUST_USE tcc_status_t tcc_space_query_init(tcc_space_query_t *q, const char *op, const char *target);
/* Sets (or replaces) the workload integer called name. */
TCC_MUST_USE tcc_status_t tcc_space_query_set(tcc_space_query_t *q, const char *name, int64_t value);

/* defaults(q) of the embedded space script. */
TCC_MUST_USE tcc_status_t tcc_space_defaults(const char *space, const tcc_space_query_t *q, tcc_space_knobs_t *out);
/* knobs(q): the domains; a script without knobs() gives count 0. */
TCC_MUST_USE tcc_status_t tcc_space_domains(const char *space, const tcc_space_query_t *q, tcc_space_domains_t *out);
/* valid(q, knobs); a script without valid() accepts everything. */
TCC_MUST_USE tcc_status_t tcc_space_valid(const char *space, const tcc_space_query_t *q,
                                          const tcc_space_knobs_t *knobs, bool *out);

/* The same three over a script given as text (a user's --schedule file): chunkname is the name errors
 * show ("my.lua"). */
TCC_MUST_USE tcc_status_t tcc_space_defaults_source(const char *chunkname, const char *source,
                                                    const tcc_space_query_t *q, tcc_space_knobs_t *out);
TCC_MUST_USE tcc_status_t tcc_space_domains_source(const char *chunkname, const char *source,
                                                   const tcc_space_query_t *q, tcc_space_domains_t *out);
TCC_MUST_USE tcc_status_t tcc_space_valid_source(const char *chunkname, const char *source,
                                                 const tcc_space_query_t *q, const tcc_space_knobs_t *knobs,
                                                 bool *out);

/* The embedded text of space (NULL when there is none); *path gets "autotune/spaces/S.lua" (may be NULL). */
const char *tcc_space_script(const char *space, const char **path);

/* The value of the knob called name, or fallback when absent. */
int64_t tcc_space_knob(const tcc_space_knobs_t *knobs, const char *name, int64_t fallback);
/* Sets (or replaces) a knob. */
TCC_MUST_USE tcc_status_t tcc_space_knobs_set(tcc_space_knobs_t *knobs, const char *name, int64_t value);

#endif
