/* Search-space scripts (autotune/space.h): one sandboxed Lua 5.4 state per call, the query as a table,
 * the results converted back to named integers with errors located at the script's file:line. */
#include "autotune/space.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "autotune/space_embedded.h"

enum {
  MEMORY_CAP = 64 << 20,        /* bytes one script may allocate */
  HOOK_PERIOD = 10000,          /* instructions between budget checks */
  INSTRUCTION_BUDGET = 1000,    /* hook periods: 10 million instructions per call */
};

/* ---- targets ---- */

typedef struct {
  const char *name;
  int lanes, registers;
  int64_t l1, l2, l3;
} target_row_t;

static const target_row_t TARGETS[] = {
    {"x86-64-v3", 8, 16, 32 << 10, 1 << 20, 32 << 20},
    {"x86-64-v4", 16, 32, 32 << 10, 1 << 20, 32 << 20},
    {"znver4", 16, 32, 32 << 10, 1 << 20, 32 << 20},
    {"aarch64", 4, 32, 64 << 10, 1 << 20, 32 << 20},
    {"aarch64+dotprod", 4, 32, 64 << 10, 1 << 20, 32 << 20},
};

static int online_cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static int64_t host_cache(int name, int64_t fallback) {
  long v = sysconf(name);
  return v > 0 ? (int64_t)v : fallback;
}

static tcc_status_t copy_name(char *dst, const char *src, const char *what) {
  size_t n = strlen(src);
  if (n >= TCC_SPACE_NAME_MAX) return tcc_status_make(TCC_INVALID_ARGUMENT, "%s '%s' is too long", what, src);
  memcpy(dst, src, n + 1);
  return NULL;
}

tcc_status_t tcc_space_target_caps(const char *target, tcc_space_target_t *out) {
  memset(out, 0, sizeof *out);
  if (!target) target = "native";
  TCC_RETURN_IF_ERROR(copy_name(out->name, target, "target"));
  out->cores = online_cores();
  out->fma = true;
  if (strcmp(target, "native") == 0) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    bool v4 = __builtin_cpu_supports("avx512f");
    bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    out->lanes = v4 ? 16 : v3 ? 8 : 4;
    out->registers = v4 ? 32 : 16;
    out->fma = v3 || v4;
#else
    out->lanes = 4, out->registers = 32;
#endif
    out->l1 = host_cache(_SC_LEVEL1_DCACHE_SIZE, 32 << 10);
    out->l2 = host_cache(_SC_LEVEL2_CACHE_SIZE, 1 << 20);
    out->l3 = host_cache(_SC_LEVEL3_CACHE_SIZE, 32 << 20);
    return NULL;
  }
  if (strncmp(target, "sm_", 3) == 0 && target[3] >= '0' && target[3] <= '9') {
    /* an NVIDIA GPU: lanes are a warp's threads, registers a thread's, cores the SMs and l1 the shared
     * memory a block may take (227 KB on sm_90, 163 KB on sm_80), l2 the L2 (50 MB on an H100), of the
     * architecture's data-center part (H100 SXM: 132 SMs; A100: 108) */
    bool hopper = strncmp(target, "sm_9", 4) == 0;
    out->lanes = 32, out->registers = 255, out->cores = hopper ? 132 : 108;
    out->l1 = hopper ? 227 << 10 : 163 << 10;
    out->l2 = hopper ? 50 << 20 : 40 << 20;
    return NULL;
  }
  for (size_t i = 0; i < sizeof TARGETS / sizeof TARGETS[0]; i++)
    if (strcmp(TARGETS[i].name, target) == 0) {
      out->lanes = TARGETS[i].lanes, out->registers = TARGETS[i].registers;
      out->l1 = TARGETS[i].l1, out->l2 = TARGETS[i].l2, out->l3 = TARGETS[i].l3;
      return NULL;
    }
  return tcc_status_make(TCC_INVALID_ARGUMENT, "unknown target '%s' for a search space", target);
}

tcc_status_t tcc_space_query_init(tcc_space_query_t *q, const char *op, const char *target) {
  memset(q, 0, sizeof *q);
  TCC_RETURN_IF_ERROR(copy_name(q->op, op ? op : "", "op"));
  memcpy(q->dtype, "f32", 4);
  memcpy(q->layout, "row_major", 10);
  return tcc_space_target_caps(target, &q->target);
}

tcc_status_t tcc_space_query_set(tcc_space_query_t *q, const char *name, int64_t value) {
  for (int i = 0; i < q->num_fields; i++)
    if (strcmp(q->fields[i].name, name) == 0) {
      q->fields[i].value = value;
      return NULL;
    }
  if (q->num_fields == TCC_SPACE_MAX_FIELDS)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "more than %d query fields", TCC_SPACE_MAX_FIELDS);
  static const char *const reserved[] = {"op", "dtype", "layout", "target"};
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
    if (strcmp(name, reserved[i]) == 0) return tcc_status_make(TCC_INVALID_ARGUMENT, "'%s' is not an integer field", name);
  TCC_RETURN_IF_ERROR(copy_name(q->fields[q->num_fields].name, name, "query field"));
  q->fields[q->num_fields++].value = value;
  return NULL;
}

int64_t tcc_space_knob(const tcc_space_knobs_t *knobs, const char *name, int64_t fallback) {
  if (!knobs) return fallback;
  for (int i = 0; i < knobs->count; i++)
    if (strcmp(knobs->names[i], name) == 0) return knobs->values[i];
  return fallback;
}

tcc_status_t tcc_space_knobs_set(tcc_space_knobs_t *knobs, const char *name, int64_t value) {
  for (int i = 0; i < knobs->count; i++)
    if (strcmp(knobs->names[i], name) == 0) {
      knobs->values[i] = value;
      return NULL;
    }
  if (knobs->count == TCC_SPACE_MAX_KNOBS)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "more than %d knobs", TCC_SPACE_MAX_KNOBS);
  TCC_RETURN_IF_ERROR(copy_name(knobs->names[knobs->count], name, "knob"));
  knobs->values[knobs->count++] = value;
  return NULL;
}

const char *tcc_space_script(const char *space, const char **path) {
  for (int i = 0; i < tcc_space_embedded_count; i++)
    if (strcmp(tcc_space_embedded[i].name, space) == 0) {
      if (path) *path = tcc_space_embedded[i].path;
      return tcc_space_embedded[i].text;
    }
  if (path) *path = NULL;
  return NULL;
}

/* ---- the sandbox ---- */

typedef struct {
  size_t used;
  int periods;
} sandbox_t;

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  sandbox_t *s = ud;
  if (!ptr) osize = 0;
  if (nsize == 0) {
    free(ptr);
    s->used -= osize;
    return NULL;
  }
  if (nsize > osize && s->used + (nsize - osize) > MEMORY_CAP) return NULL;
  void *p = realloc(ptr, nsize);
  if (p) s->used = s->used - osize + nsize;
  return p;
}

static void budget_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  sandbox_t *s = NULL;
  lua_getallocf(L, (void **)&s);
  if (++s->periods > INSTRUCTION_BUDGET) luaL_error(L, "instruction budget exhausted (an endless loop?)");
}

/* Message handler: errors raised by C functions (bad arguments to string.format ...) carry no position;
 * give them the innermost Lua line. */
static int locate_error(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = luaL_tolstring(L, 1, NULL);
  lua_Debug ar;
  for (int level = 0; lua_getstack(L, level, &ar); level++) {
    if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0) continue;
    size_t n = strlen(ar.short_src);
    if (strncmp(msg, ar.short_src, n) == 0 && msg[n] == ':') break; /* already located */
    lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, msg);
    return 1;
  }
  lua_pushstring(L, msg);
  return 1;
}

typedef struct {
  lua_State *L;
  sandbox_t sandbox;
  const char *path; /* chunk name without '@' */
} script_t;

static tcc_status_t lua_failure(script_t *s, const char *what) {
  const char *msg = lua_tostring(s->L, -1);
  return tcc_status_make(TCC_INVALID_ARGUMENT, "%s%s%s", msg ? msg : "(error object is not a string)",
                         what ? " " : "", what ? what : "");
}

static void script_close(script_t *s) {
  if (s->L) lua_close(s->L);
  s->L = NULL;
}

static tcc_status_t script_open(script_t *s, const char *chunkname, const char *source) {
  memset(s, 0, sizeof *s);
  s->path = chunkname;
  s->L = lua_newstate(capped_alloc, &s->sandbox);
  if (!s->L) return tcc_status_oom();
  lua_State *L = s->L;
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  lua_pop(L, 4);
  lua_pushnil(L), lua_setglobal(L, "dofile");
  lua_pushnil(L), lua_setglobal(L, "loadfile");
  lua_sethook(L, budget_hook, LUA_MASKCOUNT, HOOK_PERIOD);
  lua_pushcfunction(L, locate_error);
  size_t n = strlen(chunkname);
  char *at = malloc(n + 2);
  if (!at) {
    script_close(s);
    return tcc_status_oom();
  }
  at[0] = '@';
  memcpy(at + 1, chunkname, n + 1);
  int rc = luaL_loadbufferx(L, source, strlen(source), at, "t");
  free(at);
  if (rc == LUA_OK) rc = lua_pcall(L, 0, 0, 1);
  if (rc != LUA_OK) {
    tcc_status_t st = rc == LUA_ERRMEM ? tcc_status_make(TCC_INVALID_ARGUMENT, "%s: out of memory (%d MiB cap)",
                                                         chunkname, MEMORY_CAP >> 20)
                                       : lua_failure(s, NULL);
    script_close(s);
    return st;
  }
  return NULL;
}

static void push_query(lua_State *L, const tcc_space_query_t *q) {
  lua_createtable(L, 0, q->num_fields + 4);
  lua_pushstring(L, q->op), lua_setfield(L, -2, "op");
  lua_pushstring(L, q->dtype), lua_setfield(L, -2, "dtype");
  lua_pushstring(L, q->layout), lua_setfield(L, -2, "layout");
  for (int i = 0; i < q->num_fields; i++) lua_pushinteger(L, q->fields[i].value), lua_setfield(L, -2, q->fields[i].name);
  const tcc_space_target_t *t = &q->target;
  lua_createtable(L, 0, 8);
  lua_pushstring(L, t->name), lua_setfield(L, -2, "name");
  lua_pushinteger(L, t->lanes), lua_setfield(L, -2, "lanes");
  lua_pushinteger(L, t->registers), lua_setfield(L, -2, "registers");
  lua_pushinteger(L, t->cores), lua_setfield(L, -2, "cores");
  lua_pushinteger(L, t->l1), lua_setfield(L, -2, "l1");
  lua_pushinteger(L, t->l2), lua_setfield(L, -2, "l2");
  lua_pushinteger(L, t->l3), lua_setfield(L, -2, "l3");
  lua_pushboolean(L, t->fma), lua_setfield(L, -2, "fma");
  lua_setfield(L, -2, "target");
}

static void push_knobs(lua_State *L, const tcc_space_knobs_t *k) {
  lua_createtable(L, 0, k->count);
  for (int i = 0; i < k->count; i++) lua_pushinteger(L, k->values[i]), lua_setfield(L, -2, k->names[i]);
}

/* Looks the global function up and calls it with the query (and extra, pushed by the caller when
 * nargs == 2), leaving its one result on the stack. *line gets the line where it is defined. *absent is set
 * (and nothing pushed) when the script does not define it. */
static tcc_status_t call_function(script_t *s, const char *fn, const tcc_space_query_t *q,
                                  const tcc_space_knobs_t *knobs, int *line, bool *absent) {
  lua_State *L = s->L;
  *absent = false;
  *line = 0;
  lua_settop(L, 1); /* the message handler */
  if (lua_getglobal(L, fn) != LUA_TFUNCTION) {
    bool is_nil = lua_isnil(L, -1);
    lua_pop(L, 1);
    if (is_nil) {
      *absent = true;
      return NULL;
    }
    return tcc_status_make(TCC_INVALID_ARGUMENT, "%s: '%s' is not a function", s->path, fn);
  }
  lua_Debug ar;
  lua_pushvalue(L, -1);
  if (lua_getinfo(L, ">S", &ar)) *line = ar.linedefined;
  push_query(L, q);
  if (knobs) push_knobs(L, knobs);
  s->sandbox.periods = 0;
  int rc = lua_pcall(L, knobs ? 2 : 1, 1, 1);
  if (rc == LUA_ERRMEM)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "%s:%d: %s(): out of memory (%d MiB cap)", s->path, *line, fn,
                           MEMORY_CAP >> 20);
  if (rc != LUA_OK) return lua_failure(s, NULL);
  return NULL;
}

static tcc_status_t to_integer(script_t *s, int line, const char *fn, const char *key, int idx, int64_t *out) {
  lua_State *L = s->L;
  int isnum = 0;
  lua_Integer v = lua_tointegerx(L, idx, &isnum);
  if (!isnum)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "%s:%d: %s(): '%s' is %s, not an integer", s->path, line, fn, key,
                           lua_type(L, idx) == LUA_TNUMBER ? "a fraction" : luaL_typename(L, idx));
  *out = (int64_t)v;
  return NULL;
}

static void sort_names(int count, char (*names)[TCC_SPACE_NAME_MAX], void *payload, size_t payload_size) {
  char tmp_name[TCC_SPACE_NAME_MAX];
  unsigned char tmp[TCC_SPACE_MAX_VALUES * sizeof(int64_t) + sizeof(int64_t)];
  unsigned char *p = payload;
  for (int i = 1; i < count; i++)
    for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
      memcpy(tmp_name, names[j], sizeof tmp_name), memcpy(names[j], names[j - 1], sizeof tmp_name);
      memcpy(names[j - 1], tmp_name, sizeof tmp_name);
      memcpy(tmp, p + (size_t)j * payload_size, payload_size);
      memcpy(p + (size_t)j * payload_size, p + (size_t)(j - 1) * payload_size, payload_size);
      memcpy(p + (size_t)(j - 1) * payload_size, tmp, payload_size);
    }
}

/* Checks that fn() returned a table (of what) at the top of the stack and starts iterating it: lua_next(L, -2)
 * then gives each entry. */
static tcc_status_t begin_table(script_t *s, int line, const char *fn, const char *what) {
  if (!lua_istable(s->L, -1))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "%s:%d: %s() returned %s, not a table of %s", s->path, line, fn,
                           luaL_typename(s->L, -1), what);
  lua_pushnil(s->L);
  return NULL;
}

/* The knob name of the table entry at the top of the stack (its key at -2), when it is a string short enough
 * and count (the knobs read so far) leaves room for it. */
static tcc_status_t table_key(script_t *s, int line, const char *fn, int count, const char **key) {
  if (lua_type(s->L, -2) != LUA_TSTRING)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "%s:%d: %s() returned a table with a non-string key", s->path, line,
                           fn);
  *key = lua_tostring(s->L, -2);
  if (strlen(*key) >= TCC_SPACE_NAME_MAX)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "%s:%d: %s(): knob name '%s' is too long", s->path, line, fn, *key);
  if (count == TCC_SPACE_MAX_KNOBS)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "%s:%d: %s() returned more than %d knobs", s->path, line, fn,
                           TCC_SPACE_MAX_KNOBS);
  return NULL;
}

static tcc_status_t read_knobs(script_t *s, int line, const char *fn, tcc_space_knobs_t *out) {
  lua_State *L = s->L;
  memset(out, 0, sizeof *out);
  TCC_RETURN_IF_ERROR(begin_table(s, line, fn, "knobs"));
  while (lua_next(L, -2)) {
    const char *key = NULL;
    tcc_status_t st = table_key(s, line, fn, out->count, &key);
    int64_t v = 0;
    if (!st) st = to_integer(s, line, fn, key, -1, &v);
    if (st) return st;
    memcpy(out->names[out->count], key, strlen(key) + 1);
    out->values[out->count++] = v;
    lua_pop(L, 1);
  }
  sort_names(out->count, out->names, out->values, sizeof out->values[0]);
  return NULL;
}

static tcc_status_t read_domains(script_t *s, int line, const char *fn, tcc_space_domains_t *out) {
  lua_State *L = s->L;
  memset(out, 0, sizeof *out);
  TCC_RETURN_IF_ERROR(begin_table(s, line, fn, "domains"));
  while (lua_next(L, -2)) {
    const char *key = NULL;
    tcc_status_t st = table_key(s, line, fn, out->count, &key);
    if (!st && !lua_istable(L, -1))
      st = tcc_status_make(TCC_INVALID_ARGUMENT, "%s:%d: %s(): the domain of '%s' is %s, not a list", s->path, line,
                           fn, key, luaL_typename(L, -1));
    lua_Integer n = st ? 0 : (lua_Integer)lua_rawlen(L, -1);
    if (!st && (n < 1 || n > TCC_SPACE_MAX_VALUES))
      st = tcc_status_make(TCC_INVALID_ARGUMENT, "%s:%d: %s(): the domain of '%s' has %lld values (1 to %d allowed)",
                           s->path, line, fn, key, (long long)n, TCC_SPACE_MAX_VALUES);
    if (st) return st;
    int k = out->count;
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, i);
      st = to_integer(s, line, fn, key, -1, &out->values[k][i - 1]);
      lua_pop(L, 1);
      if (st) return st;
    }
    memcpy(out->names[k], key, strlen(key) + 1);
    out->num_values[k] = (int)n;
    out->count++;
    lua_pop(L, 1);
  }
  /* sort by name, moving each knob's values along */
  for (int i = 1; i < out->count; i++)
    for (int j = i; j > 0 && strcmp(out->names[j - 1], out->names[j]) > 0; j--) {
      char name[TCC_SPACE_NAME_MAX];
      int64_t values[TCC_SPACE_MAX_VALUES];
      int nv = out->num_values[j];
      memcpy(name, out->names[j], sizeof name), memcpy(values, out->values[j], sizeof values);
      memcpy(out->names[j], out->names[j - 1], sizeof name), memcpy(out->values[j], out->values[j - 1], sizeof values);
      out->num_values[j] = out->num_values[j - 1];
      memcpy(out->names[j - 1], name, sizeof name), memcpy(out->values[j - 1], values, sizeof values);
      out->num_values[j - 1] = nv;
    }
  return NULL;
}

/* ---- the three calls ---- */

/* Opens the script (chunkname, source) and calls fn(q[, knobs]), its result left on the stack; *line and
 * *absent as call_function sets them. Close s afterwards whatever this returns. */
static tcc_status_t open_and_call(script_t *s, const char *chunkname, const char *source, const char *fn,
                                  const tcc_space_query_t *q, const tcc_space_knobs_t *knobs, int *line, bool *absent) {
  *line = 0, *absent = false;
  TCC_RETURN_IF_ERROR(script_open(s, chunkname, source));
  return call_function(s, fn, q, knobs, line, absent);
}

tcc_status_t tcc_space_defaults_source(const char *chunkname, const char *source, const tcc_space_query_t *q,
                                       tcc_space_knobs_t *out) {
  memset(out, 0, sizeof *out);
  script_t s;
  int line = 0;
  bool absent = false;
  tcc_status_t st = open_and_call(&s, chunkname, source, "defaults", q, NULL, &line, &absent);
  if (!st && absent) st = tcc_status_make(TCC_INVALID_ARGUMENT, "%s: defines no function defaults(query)", chunkname);
  if (!st) st = read_knobs(&s, line, "defaults", out);
  script_close(&s);
  if (st) memset(out, 0, sizeof *out);
  return st;
}

tcc_status_t tcc_space_domains_source(const char *chunkname, const char *source, const tcc_space_query_t *q,
                                      tcc_space_domains_t *out) {
  memset(out, 0, sizeof *out);
  script_t s;
  int line = 0;
  bool absent = false;
  tcc_status_t st = open_and_call(&s, chunkname, source, "knobs", q, NULL, &line, &absent);
  if (!st && !absent) st = read_domains(&s, line, "knobs", out);
  script_close(&s);
  if (st) memset(out, 0, sizeof *out);
  return st;
}

tcc_status_t tcc_space_valid_source(const char *chunkname, const char *source, const tcc_space_query_t *q,
                                    const tcc_space_knobs_t *knobs, bool *out) {
  *out = false;
  script_t s;
  int line = 0;
  bool absent = false;
  tcc_status_t st = open_and_call(&s, chunkname, source, "valid", q, knobs, &line, &absent);
  if (!st && absent) *out = true;
  if (!st && !absent) {
    if (lua_isboolean(s.L, -1)) *out = lua_toboolean(s.L, -1);
    else
      st = tcc_status_make(TCC_INVALID_ARGUMENT, "%s:%d: valid() returned %s, not a boolean", chunkname, line,
                           luaL_typename(s.L, -1));
  }
  script_close(&s);
  return st;
}

static tcc_status_t embedded(const char *space, const char **path, const char **text) {
  *text = tcc_space_script(space, path);
  if (!*text) return tcc_status_make(TCC_NOT_FOUND, "no search space '%s' (autotune/spaces/%s.lua)", space, space);
  return NULL;
}

tcc_status_t tcc_space_defaults(const char *space, const tcc_space_query_t *q, tcc_space_knobs_t *out) {
  const char *path = NULL, *text = NULL;
  memset(out, 0, sizeof *out);
  TCC_RETURN_IF_ERROR(embedded(space, &path, &text));
  return tcc_space_defaults_source(path, text, q, out);
}

tcc_status_t tcc_space_domains(const char *space, const tcc_space_query_t *q, tcc_space_domains_t *out) {
  const char *path = NULL, *text = NULL;
  memset(out, 0, sizeof *out);
  TCC_RETURN_IF_ERROR(embedded(space, &path, &text));
  return tcc_space_domains_source(path, text, q, out);
}

tcc_status_t tcc_space_valid(const char *space, const tcc_space_query_t *q, const tcc_space_knobs_t *knobs,
                             bool *out) {
  const char *path = NULL, *text = NULL;
  *out = false;
  TCC_RETURN_IF_ERROR(embedded(space, &path, &text));
  return tcc_space_valid_source(path, text, q, knobs, out);
}
