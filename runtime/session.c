/* Sessions: check and bind the inputs, take the memory plan for the shape, run the host plan's kernel
 * calls in order, hand the outputs out. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "runtime/runtime_internal.h"

struct tcc_rt_session {
  tcc_allocator_t allocator;
  tcc_rt_module_t *module;
  tcc_rt_pool_t *pool;
  tcc_rt_arena_t arena;
  int64_t *symbols;     /* num_symbols: the current run's values */
  int64_t *last;        /* num_symbols: the last successful run's values */
  bool have_last;
  int32_t *bound_by;    /* num_symbols: input binding each symbol in this run, -1: not yet */
  int32_t *bound_dim;
  void **args;          /* max_args pointers */
  int64_t *in_bytes;    /* num_inputs: the bytes each input's shape needs in this run */
  uintptr_t *in_addr;   /* num_inputs: the caller's input data ... */
  int64_t *in_given;    /* ... and its size in bytes */
  int64_t *out_bytes;   /* num_outputs */
  tcc_rt_gpu_t *gpu;    /* GPU modules: the device side */
  int64_t *call_ns;     /* num_calls, when profiling */
  int64_t profiled_runs;
};

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

tcc_status_t tcc_rt_session_create(tcc_rt_module_t *m, const tcc_rt_session_options_t *options,
                                   tcc_rt_session_t **out) {
  *out = NULL;
  if (!m) return tcc_status_make(TCC_INVALID_ARGUMENT, "tcc_rt_session_create: no module");
  tcc_allocator_t a = options && options->allocator ? *options->allocator : tcc_allocator_system();
  tcc_rt_pool_t *pool = options ? options->pool : NULL;
  if (!pool) TCC_RETURN_IF_ERROR(tcc_rt_pool_default(&pool));
  const tcc_module_desc_t *d = m->desc;
  tcc_rt_session_t *s = tcc_alloc(a, sizeof *s);
  if (!s) return tcc_status_oom();
  memset(s, 0, sizeof *s);
  s->allocator = a;
  s->pool = pool;
  tcc_rt_arena_init(&s->arena, a);
  size_t ns = (size_t)d->num_symbols;
  s->symbols = tcc_alloc(a, sizeof(int64_t) * ns);
  s->last = tcc_alloc(a, sizeof(int64_t) * ns);
  s->bound_by = tcc_alloc(a, sizeof(int32_t) * ns);
  s->bound_dim = tcc_alloc(a, sizeof(int32_t) * ns);
  s->args = tcc_alloc(a, sizeof(void *) * (size_t)m->max_args);
  s->in_bytes = tcc_alloc(a, sizeof(int64_t) * ((size_t)d->num_inputs + 1));
  s->in_addr = tcc_alloc(a, sizeof(uintptr_t) * ((size_t)d->num_inputs + 1));
  s->in_given = tcc_alloc(a, sizeof(int64_t) * ((size_t)d->num_inputs + 1));
  s->out_bytes = tcc_alloc(a, sizeof(int64_t) * ((size_t)d->num_outputs + 1));
  if (options && options->profile) {
    s->call_ns = tcc_alloc(a, sizeof(int64_t) * ((size_t)d->num_calls + 1));
    if (s->call_ns) memset(s->call_ns, 0, sizeof(int64_t) * ((size_t)d->num_calls + 1));
  }
  atomic_fetch_add(&m->refs, 1);
  s->module = m;
  if (!s->symbols || !s->last || !s->bound_by || !s->bound_dim || !s->args || !s->in_bytes || !s->in_addr || !s->in_given || !s->out_bytes ||
      (options && options->profile && !s->call_ns)) {
    tcc_rt_session_destroy(s);
    return tcc_status_make(TCC_OUT_OF_MEMORY, "module '%s': cannot allocate a session", d->name);
  }
  if (d->device == TCC_MODULE_DEVICE_CUDA) {
    tcc_status_t st = tcc_rt_gpu_create(m, options ? options->gpu_device : 0, options && options->profile, &s->gpu);
    if (st) {
      tcc_rt_session_destroy(s);
      return st;
    }
  }
  *out = s;
  return NULL;
}

void tcc_rt_session_destroy(tcc_rt_session_t *s) {
  if (!s) return;
  tcc_allocator_t a = s->allocator;
  tcc_rt_gpu_destroy(s->gpu);
  tcc_rt_arena_deinit(&s->arena);
  tcc_free(a, s->symbols);
  tcc_free(a, s->in_bytes);
  tcc_free(a, s->in_addr);
  tcc_free(a, s->in_given);
  tcc_free(a, s->last);
  tcc_free(a, s->bound_by);
  tcc_free(a, s->bound_dim);
  tcc_free(a, s->call_ns);
  tcc_free(a, s->args);
  tcc_free(a, s->out_bytes);
  tcc_rt_module_t *m = s->module;
  tcc_free(a, s);
  if (m) tcc_rt_module_release(m);
}

static void format_dims(char *buf, size_t size, int rank, const int64_t *dims) {
  size_t n = (size_t)snprintf(buf, size, "[");
  for (int i = 0; i < rank && n < size; i++)
    n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? ", " : "", (long long)dims[i]);
  if (n < size) snprintf(buf + n, size - n, "]");
}

static void format_module_dims(char *buf, size_t size, const tcc_module_desc_t *d, const tcc_module_tensor_t *t) {
  size_t n = (size_t)snprintf(buf, size, "[");
  for (int i = 0; i < t->rank && n < size; i++) {
    const tcc_module_dim_t *dim = &t->dims[i];
    if (dim->symbol >= 0)
      n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", d->symbols[dim->symbol]);
    else
      n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? ", " : "", (long long)dim->value);
  }
  if (n < size) snprintf(buf + n, size - n, "]");
}

/* Element count of dims, or -1 on overflow. */
static int64_t count_elements(int rank, const int64_t *dims) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 0) return -1;
    if (dims[i] && n > INT64_MAX / dims[i]) return -1;
    n *= dims[i];
  }
  return n;
}

/* Checks input i's dtype, rank and dims, binding the symbols it mentions first. */
static tcc_status_t bind_input(tcc_rt_session_t *s, int i, const tcc_rt_tensor_t *in) {
  const tcc_module_desc_t *d = s->module->desc;
  const tcc_module_tensor_t *t = &d->inputs[i];
  char want[320], got[320];
  if (in->dtype != t->dtype)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s' (%d): dtype is %s, the model expects %s", t->name, i,
                           tcc_rt_dtype_name(in->dtype), tcc_rt_dtype_name(t->dtype));
  if (in->rank != t->rank) {
    format_module_dims(want, sizeof want, d, t);
    return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s' (%d): rank is %d, the model expects %d %s", t->name, i,
                           (int)in->rank, (int)t->rank, want);
  }
  for (int k = 0; k < t->rank; k++) {
    const tcc_module_dim_t *dim = &t->dims[k];
    int64_t v = in->dims[k];
    if (v < 0)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s' (%d): dim %d is negative (%lld)", t->name, i, k,
                             (long long)v);
    if (dim->symbol < 0) {
      if (v != dim->value) {
        format_module_dims(want, sizeof want, d, t);
        format_dims(got, sizeof got, in->rank, in->dims);
        return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s' (%d): dim %d is %lld, the model expects %lld (shape %s, expected %s)",
                               t->name, i, k, (long long)v, (long long)dim->value, got, want);
      }
      continue;
    }
    int32_t sym = dim->symbol;
    if (s->bound_by[sym] < 0) {
      s->symbols[sym] = v;
      s->bound_by[sym] = i;
      s->bound_dim[sym] = k;
    } else if (s->symbols[sym] != v) {
      const tcc_module_tensor_t *b = &d->inputs[s->bound_by[sym]];
      return tcc_status_make(TCC_INVALID_ARGUMENT,
                             "input '%s' (%d): dim %d is %lld, but symbol '%s' is %lld (from input '%s' dim %d)",
                             t->name, i, k, (long long)v, d->symbols[sym], (long long)s->symbols[sym], b->name,
                             (int)s->bound_dim[sym]);
    }
  }
  int64_t n = count_elements(in->rank, in->dims);
  int64_t need = n < 0 ? -1 : tcc_rt_dtype_bytes(in->dtype, n);
  if (need < 0) {
    format_dims(got, sizeof got, in->rank, in->dims);
    return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s' (%d): shape %s is too large", t->name, i, got);
  }
  if ((uint64_t)need > in->bytes || (need > 0 && !in->data)) {
    format_dims(got, sizeof got, in->rank, in->dims);
    if (!in->data)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s' (%d): %s %s needs %lld bytes, no data was given",
                             t->name, i, tcc_rt_dtype_name(in->dtype), got, (long long)need);
    return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s' (%d): %s %s needs %lld bytes, %zu were given", t->name,
                           i, tcc_rt_dtype_name(in->dtype), got, (long long)need, in->bytes);
  }
  s->in_bytes[i] = need;
  s->in_addr[i] = (uintptr_t)in->data;
  s->in_given[i] = (int64_t)in->bytes;
  return NULL;
}

tcc_status_t tcc_rt_resolve(const tcc_module_desc_t *d, const tcc_rt_places_t *places, const tcc_rt_plan_entry_t *plan,
                            const tcc_module_arg_t *arg, int64_t bytes, const char *what, uintptr_t *out) {
  uintptr_t base;
  int64_t size, start;
  switch (arg->kind) {
    case TCC_MODULE_ARG_INPUT:
      base = places->input[arg->index];
      size = places->input_bytes[arg->index];
      break;
    case TCC_MODULE_ARG_WEIGHT:
      base = places->weights;
      size = d->weights_bytes;
      break;
    default: /* TCC_MODULE_ARG_ARENA; kinds were checked at load */
      start = plan->offsets[arg->index];
      base = places->arena ? places->arena + (uintptr_t)start : 0; /* 0: an empty arena */
      size = plan->arena_bytes - start;
      break;
  }
  if (arg->offset > size || bytes > size - arg->offset)
    return tcc_status_make(TCC_INVALID_MODEL, "module '%s': %s lies outside its buffer (offset %lld, %lld bytes of %lld)",
                           d->name, what, (long long)arg->offset, (long long)bytes, (long long)size);
  *out = base ? base + (uintptr_t)arg->offset : 0;
  return NULL;
}

/* The host address of `bytes` at arg in a CPU run: the caller's inputs, the weights, the session's arena. */
static tcc_status_t resolve(tcc_rt_session_t *s, const tcc_rt_plan_entry_t *plan, const tcc_module_arg_t *arg,
                            int64_t bytes, const char *what, void **out) {
  tcc_rt_places_t places = {s->in_addr, s->in_given, (uintptr_t)s->module->weights, (uintptr_t)s->arena.base};
  uintptr_t p;
  TCC_RETURN_IF_ERROR(tcc_rt_resolve(s->module->desc, &places, plan, arg, bytes, what, &p));
  *out = (void *)p;
  return NULL;
}

/* Fills in the outputs' sizes, dtypes and shapes and records the run's symbols. */
static tcc_status_t finish_run(tcc_rt_session_t *s, tcc_rt_tensor_t *outputs) {
  const tcc_module_desc_t *d = s->module->desc;
  for (int i = 0; i < d->num_outputs; i++) {
    const tcc_module_tensor_t *t = &d->outputs[i];
    outputs[i].bytes = (size_t)s->out_bytes[i];
    outputs[i].dtype = t->dtype;
    outputs[i].rank = t->rank;
    memset(outputs[i].dims, 0, sizeof outputs[i].dims);
    for (int k = 0; k < t->rank; k++)
      outputs[i].dims[k] = t->dims[k].symbol >= 0 ? s->symbols[t->dims[k].symbol] : t->dims[k].value;
  }
  if (d->num_symbols) memcpy(s->last, s->symbols, sizeof(int64_t) * (size_t)d->num_symbols);
  s->have_last = true;
  s->profiled_runs += s->call_ns != NULL;
  return NULL;
}

tcc_status_t tcc_rt_session_run(tcc_rt_session_t *s, const tcc_rt_tensor_t *inputs, int num_inputs,
                                tcc_rt_tensor_t *outputs, int num_outputs) {
  const tcc_rt_module_t *m = s->module;
  const tcc_module_desc_t *d = m->desc;
  if (num_inputs != d->num_inputs || (num_inputs && !inputs))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "model '%s' takes %d inputs, %d were given", d->name,
                           (int)d->num_inputs, num_inputs);
  if (num_outputs != d->num_outputs || (num_outputs && !outputs))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "model '%s' has %d outputs, %d were asked for", d->name,
                           (int)d->num_outputs, num_outputs);

  /* Bind and check every input, then derive the remaining symbols. */
  for (int32_t k = 0; k < d->num_symbols; k++) {
    s->bound_by[k] = -1;
    s->symbols[k] = -1;
  }
  for (int i = 0; i < num_inputs; i++) TCC_RETURN_IF_ERROR(bind_input(s, i, &inputs[i]));
  if (d->derive) {
    int rc = d->derive(s->symbols);
    if (rc) return tcc_status_make(TCC_INVALID_ARGUMENT, "model '%s': the input shapes are invalid for this model (code %d)", d->name, rc);
  }
  for (int32_t k = 0; k < d->num_symbols; k++)
    if (s->symbols[k] < 0)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "model '%s': symbol '%s' %s for these inputs", d->name,
                             d->symbols[k], s->symbols[k] == -1 ? "has no value" : "is negative");

  /* Output shapes and caller buffers. */
  for (int i = 0; i < num_outputs; i++) {
    const tcc_module_tensor_t *t = &d->outputs[i];
    int64_t dims[TCC_MODULE_MAX_RANK];
    for (int k = 0; k < t->rank; k++) dims[k] = t->dims[k].symbol >= 0 ? s->symbols[t->dims[k].symbol] : t->dims[k].value;
    int64_t n = count_elements(t->rank, dims);
    int64_t bytes = n < 0 ? -1 : tcc_rt_dtype_bytes(t->dtype, n);
    char shape[320];
    format_dims(shape, sizeof shape, t->rank, dims);
    if (bytes < 0)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "output '%s' (%d): shape %s is too large", t->name, i, shape);
    if (outputs[i].data && (uint64_t)bytes > outputs[i].bytes)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "output '%s' (%d): %s %s needs %lld bytes, the buffer holds %zu",
                             t->name, i, tcc_rt_dtype_name(t->dtype), shape, (long long)bytes, outputs[i].bytes);
    s->out_bytes[i] = bytes;
  }

  /* The memory plan for this shape, and the arena it needs. */
  const tcc_rt_plan_entry_t *plan;
  TCC_RETURN_IF_ERROR(tcc_rt_arena_plan(&s->arena, m, s->symbols, &plan));
  if (!s->gpu) TCC_RETURN_IF_ERROR(tcc_rt_arena_reserve(&s->arena, plan->arena_bytes, d->arena_alignment));

  /* Where each output will be read from, checked before anything runs. */
  for (int i = 0; i < num_outputs; i++) {
    char what[96];
    void *p;
    snprintf(what, sizeof what, "output '%.60s'", d->outputs[i].name);
    TCC_RETURN_IF_ERROR(resolve(s, plan, &d->output_sources[i], s->out_bytes[i], what, &p));
  }

  if (s->gpu) {
    TCC_RETURN_IF_ERROR(tcc_rt_gpu_run(s->gpu, plan, s->symbols, inputs, s->in_bytes, outputs, s->out_bytes));
    return finish_run(s, outputs);
  }

  tcc_module_kernel_ctx_t ctx = {
      .symbols = s->symbols,
      .parallel_for = tcc_rt_pool_parallel_for_ctx,
      .pool = s->pool,
      .num_threads = tcc_rt_pool_num_threads(s->pool),
  };
  for (int32_t c = 0; c < d->num_calls; c++) {
    const tcc_module_call_t *call = &d->calls[c];
    for (int32_t a = 0; a < call->num_args; a++) {
      char what[128];
      snprintf(what, sizeof what, "kernel '%.60s' argument %d", call->name ? call->name : "?", a);
      TCC_RETURN_IF_ERROR(resolve(s, plan, &call->args[a], 0, what, &s->args[a]));
    }
    int64_t start = s->call_ns ? now_ns() : 0;
    int rc = call->fn(s->args, &ctx);
    if (s->call_ns) s->call_ns[c] += now_ns() - start;
    if (rc)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "model '%s': kernel '%s' (call %d of %d) failed with code %d",
                             d->name, call->name ? call->name : "?", c + 1, (int)d->num_calls, rc);
  }

  for (int i = 0; i < num_outputs; i++) {
    void *src;
    TCC_RETURN_IF_ERROR(resolve(s, plan, &d->output_sources[i], s->out_bytes[i], "output", &src));
    if (outputs[i].data) {
      if (s->out_bytes[i]) memmove(outputs[i].data, src, (size_t)s->out_bytes[i]);
    } else {
      outputs[i].data = src;
    }
  }
  return finish_run(s, outputs);
}

bool tcc_rt_session_symbol(const tcc_rt_session_t *s, const char *symbol, int64_t *value) {
  const tcc_module_desc_t *d = s->module->desc;
  if (!s->have_last || !symbol) return false;
  for (int32_t k = 0; k < d->num_symbols; k++)
    if (strcmp(d->symbols[k], symbol) == 0) {
      *value = s->last[k];
      return true;
    }
  return false;
}

bool tcc_rt_session_call_profile(const tcc_rt_session_t *s, int i, const char **name, double *total_ms, int64_t *runs) {
  const tcc_module_desc_t *d = s->module->desc;
  if (!s->call_ns || i < 0 || i >= d->num_calls) return false;
  *name = d->calls[i].name ? d->calls[i].name : "?";
  *total_ms = s->gpu ? tcc_rt_gpu_call_ms(s->gpu, i) : (double)s->call_ns[i] / 1e6;
  *runs = s->profiled_runs;
  return true;
}

int64_t tcc_rt_session_plans_computed(const tcc_rt_session_t *s) { return s->arena.plans_computed; }
int64_t tcc_rt_session_arena_bytes(const tcc_rt_session_t *s) { return s->arena.capacity; }

bool tcc_rt_session_gpu_ms(const tcc_rt_session_t *s, double *ms) {
  if (!s->gpu || !s->have_last) return false;
  *ms = tcc_rt_gpu_last_ms(s->gpu);
  return true;
}

const char *tcc_rt_session_device(const tcc_rt_session_t *s) { return s->gpu ? tcc_rt_gpu_device_name(s->gpu) : "cpu"; }
