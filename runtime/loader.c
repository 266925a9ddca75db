/* The loader: opens a module (dlopen), finds its one query symbol, checks the ABI version and the
 * descriptor, maps external weights; plus the signature queries and the runtime's dtype table. */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"

/* ---- dtypes (ONNX codes; the same table as ir/dtype.def, which the runtime does not link) ---- */

static const struct {
  const char *name;
  int bits;
} dtypes[] = {
    {"undefined", 0}, {"f32", 32}, {"u8", 8}, {"i8", 8}, {"u16", 16}, {"i16", 16}, {"i32", 32}, {"i64", 64},
    {"string", 0}, {"bool", 8}, {"f16", 16}, {"f64", 64}, {"u32", 32}, {"u64", 64}, {"c64", 64}, {"c128", 128},
    {"bf16", 16}, {"f8e4m3fn", 8}, {"f8e4m3fnuz", 8}, {"f8e5m2", 8}, {"f8e5m2fnuz", 8}, {"u4", 4}, {"i4", 4},
    {"f4e2m1", 4}, {"f8e8m0", 8},
};
#define NUM_DTYPES ((int32_t)(sizeof dtypes / sizeof dtypes[0]))

const char *tcc_rt_dtype_name(int32_t dtype) { return dtype >= 0 && dtype < NUM_DTYPES ? dtypes[dtype].name : "?"; }
int tcc_rt_dtype_bits(int32_t dtype) { return dtype >= 0 && dtype < NUM_DTYPES ? dtypes[dtype].bits : 0; }

int64_t tcc_rt_dtype_bytes(int32_t dtype, int64_t n) {
  int bits = tcc_rt_dtype_bits(dtype);
  if (!bits || n < 0) return -1;
  if (bits < 8) return n / 2 + (n & 1);
  int64_t size = bits / 8;
  if (n > INT64_MAX / size) return -1;
  return n * size;
}

tcc_rt_tensor_t tcc_rt_tensor(const void *data, size_t bytes, int32_t dtype, int32_t rank, const int64_t *dims) {
  tcc_rt_tensor_t t;
  memset(&t, 0, sizeof t);
  t.data = (void *)data;
  t.bytes = bytes;
  t.dtype = dtype;
  t.rank = rank;
  int n = rank < 0 ? 0 : rank > TCC_RT_MAX_RANK ? TCC_RT_MAX_RANK : rank;
  if (n && dims) memcpy(t.dims, dims, sizeof(int64_t) * (size_t)n);
  return t;
}

/* ---- descriptor validation ---- */

static tcc_status_t bad(const tcc_rt_module_t *m, const char *fmt, ...) TCC_PRINTF(2, 3);
static tcc_status_t bad(const tcc_rt_module_t *m, const char *fmt, ...) {
  char detail[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  return tcc_status_make(TCC_INVALID_MODEL, "module '%s': invalid descriptor: %s", m->path, detail);
}

static tcc_status_t check_tensor(tcc_rt_module_t *m, const tcc_module_tensor_t *t, const char *kind, int index) {
  const tcc_module_desc_t *d = m->desc;
  char what[64];
  snprintf(what, sizeof what, "%s %d", kind, index);
  if (!t->name) return bad(m, "%s has no name", what);
  if (tcc_rt_dtype_bits(t->dtype) == 0) return bad(m, "%s has dtype code %d", what, (int)t->dtype);
  if (t->rank < 0 || t->rank > TCC_MODULE_MAX_RANK)
    return bad(m, "%s has rank %d (at most %d)", what, (int)t->rank, TCC_MODULE_MAX_RANK);
  if (t->rank && !t->dims) return bad(m, "%s has rank %d but no dims", what, (int)t->rank);
  for (int i = 0; i < t->rank; i++) {
    const tcc_module_dim_t *dim = &t->dims[i];
    if (dim->symbol >= d->num_symbols) return bad(m, "%s dim %d names symbol %d of %d", what, i, (int)dim->symbol, (int)d->num_symbols);
    if (dim->symbol < 0 && dim->value < 0) return bad(m, "%s dim %d is %lld", what, i, (long long)dim->value);
  }
  return NULL;
}

static tcc_status_t check_arg(tcc_rt_module_t *m, const tcc_module_arg_t *arg, const char *what) {
  const tcc_module_desc_t *d = m->desc;
  if (arg->offset < 0) return bad(m, "%s has offset %lld", what, (long long)arg->offset);
  switch (arg->kind) {
    case TCC_MODULE_ARG_INPUT:
      if (arg->index < 0 || arg->index >= d->num_inputs)
        return bad(m, "%s reads input %d of %d", what, (int)arg->index, (int)d->num_inputs);
      return NULL;
    case TCC_MODULE_ARG_WEIGHT:
      if (arg->offset > d->weights_bytes)
        return bad(m, "%s reads weights at %lld of %lld bytes", what, (long long)arg->offset, (long long)d->weights_bytes);
      return NULL;
    case TCC_MODULE_ARG_ARENA:
      if (arg->index < 0 || arg->index >= d->num_arena_buffers)
        return bad(m, "%s uses arena buffer %d of %d", what, (int)arg->index, (int)d->num_arena_buffers);
      return NULL;
    default:
      return bad(m, "%s has argument kind %d", what, (int)arg->kind);
  }
}

/* A GPU call's tensor map: an argument of the call, dims the module computes, boxes the TMA unit takes. */
static tcc_status_t check_tensor_map(tcc_rt_module_t *m, const tcc_module_call_t *call, int32_t i, const char *what) {
  const tcc_module_tensor_map_t *t = &call->tensor_maps[i];
  int32_t dims = m->desc->num_call_dims;
  bool dtype_ok = t->dtype == 1 || t->dtype == 10 || t->dtype == 16; /* float32, float16, bfloat16 */
  if (t->arg < 0 || t->arg >= call->num_args || t->rank < 1 || t->rank > TCC_MODULE_MAX_MAP_RANK || !dtype_ok ||
      t->dims < 0 || t->dims > dims - t->rank || !m->desc->call_dims ||
      (t->swizzle != 0 && t->swizzle != 32 && t->swizzle != 64 && t->swizzle != 128))
    return bad(m, "%s: tensor map %d is invalid (argument %d of %d, rank %d, dtype %d, dims %d of %d, swizzle %d)",
               what, (int)i, (int)t->arg, (int)call->num_args, (int)t->rank, (int)t->dtype, (int)t->dims, (int)dims,
               (int)t->swizzle);
  for (int32_t d = 0; d < t->rank; d++)
    if (t->box[d] < 1 || t->box[d] > 256) return bad(m, "%s: tensor map %d has a box of %d elements", what, (int)i, (int)t->box[d]);
  return NULL;
}

static tcc_status_t check_desc(tcc_rt_module_t *m) {
  const tcc_module_desc_t *d = m->desc;
  if (d->magic != TCC_MODULE_MAGIC)
    return tcc_status_make(TCC_INVALID_MODEL, "'%s' is not a tcc module: bad magic 0x%08x", m->path, d->magic);
  if (d->abi_version != TCC_MODULE_ABI_VERSION)
    return tcc_status_make(TCC_UNSUPPORTED,
                           "module '%s' was built for tcc module ABI version %u, but this runtime supports "
                           "version %u: recompile the model with this tcc",
                           m->path, d->abi_version, TCC_MODULE_ABI_VERSION);
  if (d->struct_size < sizeof(tcc_module_desc_t))
    return bad(m, "descriptor is %u bytes, expected at least %zu", d->struct_size, sizeof(tcc_module_desc_t));
  if (!d->name || !d->target) return bad(m, "no model name or target");
  if (d->num_symbols < 0 || d->num_inputs < 0 || d->num_outputs < 0 || d->num_calls < 0 ||
      d->num_arena_buffers < 0 || d->weights_bytes < 0)
    return bad(m, "a negative count or size");
  if ((d->num_symbols && !d->symbols) || (d->num_inputs && !d->inputs) || (d->num_outputs && !d->outputs) ||
      (d->num_outputs && !d->output_sources) || (d->num_calls && !d->calls) ||
      (d->num_arena_buffers && !d->plan && !d->arena_offsets))
    return bad(m, "a count without its table");
  if (d->arena_alignment < 1 || d->arena_alignment > 4096 || (d->arena_alignment & (d->arena_alignment - 1)))
    return bad(m, "arena alignment %lld is not a power of two up to 4096", (long long)d->arena_alignment);
  if (d->weights_bytes > 0 && !d->weights && !d->weights_file)
    return bad(m, "weights neither embedded nor in a file");
  for (int32_t i = 0; i < d->num_symbols; i++)
    if (!d->symbols[i] || !*d->symbols[i]) return bad(m, "symbol %d has no name", (int)i);
  for (int32_t i = 0; i < d->num_inputs; i++) TCC_RETURN_IF_ERROR(check_tensor(m, &d->inputs[i], "input", i));
  for (int32_t i = 0; i < d->num_outputs; i++) {
    TCC_RETURN_IF_ERROR(check_tensor(m, &d->outputs[i], "output", i));
    char what[64];
    snprintf(what, sizeof what, "output %d's source", i);
    TCC_RETURN_IF_ERROR(check_arg(m, &d->output_sources[i], what));
  }
  if (d->device != TCC_MODULE_DEVICE_CPU && d->device != TCC_MODULE_DEVICE_CUDA)
    return bad(m, "unknown device %d", (int)d->device);
  bool gpu = d->device == TCC_MODULE_DEVICE_CUDA;
  if (gpu && (d->num_gpu_images <= 0 || !d->gpu_images)) return bad(m, "a GPU module without kernel images");
  for (int32_t i = 0; gpu && i < d->num_gpu_images; i++) {
    const tcc_module_gpu_image_t *im = &d->gpu_images[i];
    if (!im->arch || !im->data || im->bytes <= 0 || (im->kind != TCC_MODULE_IMAGE_PTX && im->kind != TCC_MODULE_IMAGE_CUBIN))
      return bad(m, "GPU image %d is incomplete", (int)i);
  }
  if (d->num_call_dims < 0) return bad(m, "a negative count or size");
  m->max_args = m->max_tensor_maps = 0;
  for (int32_t c = 0; c < d->num_calls; c++) {
    const tcc_module_call_t *call = &d->calls[c];
    char what[96];
    snprintf(what, sizeof what, "call %d (%.40s)", c, call->name ? call->name : "?");
    bool has_code = gpu ? call->gpu_entry && *call->gpu_entry && call->gpu_block >= 0 && call->gpu_block <= 1024 &&
                              call->gpu_grid >= 0 && call->gpu_shared >= 0
                        : call->fn != NULL;
    if (!has_code || call->num_args < 0 || (call->num_args && !call->args))
      return bad(m, "%s has no %s or no argument table", what, gpu ? "valid GPU kernel entry" : "function");
    if (call->num_args > m->max_args) m->max_args = call->num_args;
    if (call->num_tensor_maps < 0 || call->num_tensor_maps > 8 || (call->num_tensor_maps && (!gpu || !call->tensor_maps)))
      return bad(m, "%s has %d tensor maps", what, (int)call->num_tensor_maps);
    for (int32_t i = 0; i < call->num_tensor_maps; i++) TCC_RETURN_IF_ERROR(check_tensor_map(m, call, i, what));
    if (call->if_dim < 0 || (call->if_dim > 0 && (call->if_dim > d->num_call_dims || !d->call_dims || call->if_min > call->if_max)))
      return bad(m, "%s runs if size %d of %d is in [%lld, %lld]", what, (int)call->if_dim - 1, (int)d->num_call_dims,
                 (long long)call->if_min, (long long)call->if_max);
    if (call->num_tensor_maps > m->max_tensor_maps) m->max_tensor_maps = call->num_tensor_maps;
    for (int32_t a = 0; a < call->num_args; a++) {
      char arg_what[128];
      snprintf(arg_what, sizeof arg_what, "%s argument %d", what, a);
      TCC_RETURN_IF_ERROR(check_arg(m, &call->args[a], arg_what));
    }
  }
  /* Which input dim binds each symbol; the others must be derived. */
  for (int32_t s = 0; s < d->num_symbols; s++) m->symbol_input[s] = m->symbol_dim[s] = -1;
  for (int32_t i = 0; i < d->num_inputs; i++)
    for (int32_t k = 0; k < d->inputs[i].rank; k++) {
      int32_t s = d->inputs[i].dims[k].symbol;
      if (s >= 0 && m->symbol_input[s] < 0) {
        m->symbol_input[s] = i;
        m->symbol_dim[s] = k;
      }
    }
  if (!d->derive)
    for (int32_t s = 0; s < d->num_symbols; s++)
      if (m->symbol_input[s] < 0)
        return tcc_status_make(TCC_INVALID_MODEL,
                               "module '%s': invalid descriptor: symbol '%s' is in no input and the module has no "
                               "derive function",
                               m->path, d->symbols[s]);
  return NULL;
}

/* ---- external weights ---- */

static tcc_status_t map_weights(tcc_rt_module_t *m, const char *dir) {
  const tcc_module_desc_t *d = m->desc;
  if (d->weights_bytes == 0 || d->weights) {
    m->weights = d->weights;
    return NULL;
  }
  const char *f = d->weights_file;
  bool dotdot = false;
  for (const char *p = f; *p;) {
    const char *e = strchr(p, '/');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == 2 && p[0] == '.' && p[1] == '.') dotdot = true;
    p += len + (e ? 1 : 0);
  }
  if (!*f || f[0] == '/' || dotdot)
    return tcc_status_make(TCC_PERMISSION,
                           "module '%s': weights file '%s' must be a relative path inside the module's directory",
                           m->path, f);
  size_t n = strlen(dir) + strlen(f) + 2;
  char *path = tcc_alloc(m->allocator, n);
  if (!path) return tcc_status_oom();
  snprintf(path, n, "%s/%s", dir, f);
  tcc_status_t st = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat sb;
  if (fd < 0) {
    st = tcc_status_make(errno == ENOENT ? TCC_NOT_FOUND : TCC_IO, "module '%s': cannot open weights file '%s': %s",
                         m->path, path, strerror(errno));
  } else if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    st = tcc_status_make(TCC_IO, "module '%s': weights file '%s' is not a regular file", m->path, path);
  } else if ((int64_t)sb.st_size != d->weights_bytes) {
    st = tcc_status_make(TCC_INVALID_MODEL, "module '%s': weights file '%s' has %lld bytes, the module expects %lld",
                         m->path, path, (long long)sb.st_size, (long long)d->weights_bytes);
  } else if ((uint64_t)d->weights_bytes > SIZE_MAX) {
    st = tcc_status_make(TCC_UNSUPPORTED, "module '%s': weights file '%s' is too large to map", m->path, path);
  } else {
    void *map = mmap(NULL, (size_t)d->weights_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      st = tcc_status_make(TCC_IO, "module '%s': cannot map weights file '%s': %s", m->path, path, strerror(errno));
    } else {
      m->weights = m->weights_map = map;
      m->weights_map_bytes = d->weights_bytes;
    }
  }
  if (fd >= 0) close(fd);
  tcc_free(m->allocator, path);
  return st;
}

/* ---- load / release ---- */

static void destroy_module(tcc_rt_module_t *m) {
  if (m->weights_map) munmap(m->weights_map, (size_t)m->weights_map_bytes);
  if (m->dl_handle) dlclose(m->dl_handle);
  tcc_free(m->allocator, m->symbol_input);
  tcc_free(m->allocator, m->symbol_dim);
  tcc_free(m->allocator, m->path);
  tcc_free(m->allocator, m);
}

void tcc_rt_module_release(tcc_rt_module_t *m) {
  if (m && atomic_fetch_sub(&m->refs, 1) == 1) destroy_module(m);
}

static tcc_rt_module_t *new_module(tcc_allocator_t a, const char *path) {
  tcc_rt_module_t *m = tcc_alloc(a, sizeof *m);
  if (!m) return NULL;
  memset(m, 0, sizeof *m);
  m->allocator = a;
  atomic_init(&m->refs, 1);
  size_t n = strlen(path) + 1;
  m->path = tcc_alloc(a, n);
  if (!m->path) {
    tcc_free(a, m);
    return NULL;
  }
  memcpy(m->path, path, n);
  return m;
}

/* Checks the descriptor and prepares m; on failure the caller destroys m. */
/* A module built for a named x86-64 level runs only where the CPU has its instructions (a "native" module
 * trusts the machine it was built on). */
static tcc_status_t check_cpu(const tcc_rt_module_t *m) {
  if (m->desc->device != TCC_MODULE_DEVICE_CPU) return NULL;
#if defined(__x86_64__)
  const char *t = m->desc->target ? m->desc->target : "";
  bool v4 = strcmp(t, "x86-64-v4") == 0 || strcmp(t, "znver4") == 0, v3 = v4 || strcmp(t, "x86-64-v3") == 0;
  __builtin_cpu_init();
  if (v4 && !(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
              __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")))
    return tcc_status_make(TCC_UNSUPPORTED, "module '%s' is built for %s, which needs AVX-512 (F, BW, DQ, VL): this CPU "
                           "lacks it (compile for x86-64-v3 or native)", m->path, t);
  if (v3 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
    return tcc_status_make(TCC_UNSUPPORTED, "module '%s' is built for %s, which needs AVX2 and FMA: this CPU lacks them",
                           m->path, t);
#else
  (void)m;
#endif
  return NULL;
}

static tcc_status_t finish_module(tcc_rt_module_t *m, const char *weights_dir) {
  /* The header is read before anything else: a module of another ABI may have another layout. */
  const tcc_module_desc_t *d = m->desc;
  if (d->magic == TCC_MODULE_MAGIC && d->abi_version == TCC_MODULE_ABI_VERSION && d->num_symbols > 0) {
    m->symbol_input = tcc_alloc(m->allocator, sizeof(int32_t) * (size_t)d->num_symbols);
    m->symbol_dim = tcc_alloc(m->allocator, sizeof(int32_t) * (size_t)d->num_symbols);
    if (!m->symbol_input || !m->symbol_dim) return tcc_status_oom();
  }
  TCC_RETURN_IF_ERROR(check_desc(m));
  TCC_RETURN_IF_ERROR(check_cpu(m));
  return map_weights(m, weights_dir);
}

tcc_status_t tcc_rt_module_from_desc(const tcc_module_desc_t *desc, const char *weights_dir,
                                     const tcc_allocator_t *allocator, tcc_rt_module_t **out) {
  *out = NULL;
  if (!desc) return tcc_status_make(TCC_INVALID_ARGUMENT, "tcc_rt_module_from_desc: no descriptor");
  char label[96];
  snprintf(label, sizeof label, "<%.80s>", desc->magic == TCC_MODULE_MAGIC && desc->abi_version == TCC_MODULE_ABI_VERSION && desc->name ? desc->name : "in-process module");
  tcc_rt_module_t *m = new_module(allocator ? *allocator : tcc_allocator_system(), label);
  if (!m) return tcc_status_oom();
  m->desc = desc;
  tcc_status_t st = finish_module(m, weights_dir ? weights_dir : ".");
  if (st) {
    destroy_module(m);
    return st;
  }
  *out = m;
  return NULL;
}

/* dlopen trusts the file: a truncated one faults when a segment past its end is touched. Checks that
 * it is a 64-bit ELF shared object for this machine whose headers and loaded segments lie inside it. */
static tcc_status_t check_elf(const char *path, int64_t size) {
#if defined(__x86_64__)
  const int machine = EM_X86_64;
  const char *host = "x86_64";
#elif defined(__aarch64__)
  const int machine = EM_AARCH64;
  const char *host = "aarch64";
#else
  const int machine = -1;
  const char *host = "this machine";
#endif
  FILE *f = fopen(path, "rb");
  if (!f) return tcc_status_make(TCC_IO, "cannot open module '%s': %s", path, strerror(errno));
  Elf64_Ehdr eh;
  tcc_status_t st = NULL;
  if (fread(&eh, sizeof eh, 1, f) != 1 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
    st = tcc_status_make(TCC_INVALID_MODEL, "'%s' is not a module: not an ELF file", path);
  else if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_type != ET_DYN)
    st = tcc_status_make(TCC_INVALID_MODEL, "'%s' is not a module: not a 64-bit shared object", path);
  else if (machine >= 0 && eh.e_machine != machine)
    st = tcc_status_make(TCC_UNSUPPORTED, "module '%s' is for another architecture (ELF machine %d), not %s", path,
                         eh.e_machine, host);
  else if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > (uint64_t)size ||
           (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > (uint64_t)size - eh.e_phoff ||
           (eh.e_shnum && (eh.e_shoff > (uint64_t)size || (uint64_t)eh.e_shnum * eh.e_shentsize > (uint64_t)size - eh.e_shoff)))
    st = tcc_status_make(TCC_INVALID_MODEL, "module '%s' is truncated or corrupt (headers past its end)", path);
  for (int i = 0; !st && i < eh.e_phnum; i++) {
    Elf64_Phdr ph;
    if (fseek(f, (long)(eh.e_phoff + (uint64_t)i * sizeof ph), SEEK_SET) != 0 || fread(&ph, sizeof ph, 1, f) != 1)
      st = tcc_status_make(TCC_INVALID_MODEL, "module '%s': cannot read its program headers", path);
    else if (ph.p_type == PT_LOAD && (ph.p_offset > (uint64_t)size || ph.p_filesz > (uint64_t)size - ph.p_offset))
      st = tcc_status_make(TCC_INVALID_MODEL, "module '%s' is truncated or corrupt (a segment past its end)", path);
  }
  fclose(f);
  return st;
}

tcc_status_t tcc_rt_module_load(const char *path, const tcc_allocator_t *allocator, tcc_rt_module_t **out) {
  *out = NULL;
  if (!path || !*path) return tcc_status_make(TCC_INVALID_ARGUMENT, "tcc_rt_module_load: no path");
  struct stat sb;
  if (stat(path, &sb) != 0)
    return tcc_status_make(errno == ENOENT ? TCC_NOT_FOUND : TCC_IO, "cannot open module '%s': %s", path,
                           strerror(errno));
  TCC_RETURN_IF_ERROR(check_elf(path, (int64_t)sb.st_size));
  tcc_rt_module_t *m = new_module(allocator ? *allocator : tcc_allocator_system(), path);
  if (!m) return tcc_status_oom();
  /* dlopen searches the library path for a name without '/': make it a path. */
  char *dir = NULL, *file = NULL;
  size_t n = strlen(path);
  const char *slash = strrchr(path, '/');
  tcc_status_t st = NULL;
  file = tcc_alloc(m->allocator, n + 3);
  dir = tcc_alloc(m->allocator, n + 2);
  if (!file || !dir) {
    st = tcc_status_oom();
    goto done;
  }
  snprintf(file, n + 3, "%s%s", slash ? "" : "./", path);
  if (!slash)
    snprintf(dir, n + 2, ".");
  else if (slash == path)
    snprintf(dir, n + 2, "/");
  else
    snprintf(dir, n + 2, "%.*s", (int)(slash - path), path);

  dlerror();
  m->dl_handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
  if (!m->dl_handle) {
    const char *err = dlerror();
    st = tcc_status_make(TCC_INVALID_MODEL, "cannot load module '%s': %s", path, err ? err : "dlopen failed");
    goto done;
  }
  dlerror();
  tcc_module_query_fn_t query;
  void *sym = dlsym(m->dl_handle, TCC_MODULE_QUERY_SYMBOL);
  memcpy(&query, &sym, sizeof query);
  if (!sym) {
    st = tcc_status_make(TCC_INVALID_MODEL, "'%s' is not a tcc module: it has no symbol '%s'", path,
                         TCC_MODULE_QUERY_SYMBOL);
    goto done;
  }
  m->desc = query();
  if (!m->desc) {
    st = tcc_status_make(TCC_INVALID_MODEL, "module '%s': %s() returned no descriptor", path,
                         TCC_MODULE_QUERY_SYMBOL);
    goto done;
  }
  st = finish_module(m, dir);
done:
  tcc_free(m->allocator, file);
  tcc_free(m->allocator, dir);
  if (st) {
    destroy_module(m);
    return st;
  }
  *out = m;
  return NULL;
}

/* ---- queries ---- */

const char *tcc_rt_module_name(const tcc_rt_module_t *m) { return m->desc->name; }
const char *tcc_rt_module_target(const tcc_rt_module_t *m) { return m->desc->target; }
const tcc_module_desc_t *tcc_rt_module_desc(const tcc_rt_module_t *m) { return m->desc; }
int tcc_rt_module_num_inputs(const tcc_rt_module_t *m) { return m->desc->num_inputs; }
int tcc_rt_module_num_outputs(const tcc_rt_module_t *m) { return m->desc->num_outputs; }

static void fill_info(const tcc_rt_module_t *m, const tcc_module_tensor_t *t, tcc_rt_tensor_info_t *info) {
  memset(info, 0, sizeof *info);
  info->name = t->name;
  info->dtype = t->dtype;
  info->rank = t->rank;
  for (int i = 0; i < t->rank; i++) {
    int32_t s = t->dims[i].symbol;
    info->dims[i] = s >= 0 ? -1 : t->dims[i].value;
    info->dim_symbols[i] = s >= 0 ? m->desc->symbols[s] : NULL;
  }
}

bool tcc_rt_module_input(const tcc_rt_module_t *m, int i, tcc_rt_tensor_info_t *info) {
  if (i < 0 || i >= m->desc->num_inputs) return false;
  fill_info(m, &m->desc->inputs[i], info);
  return true;
}

bool tcc_rt_module_output(const tcc_rt_module_t *m, int i, tcc_rt_tensor_info_t *info) {
  if (i < 0 || i >= m->desc->num_outputs) return false;
  fill_info(m, &m->desc->outputs[i], info);
  return true;
}

static int find_tensor(const tcc_module_tensor_t *t, int n, const char *name) {
  for (int i = 0; name && i < n; i++)
    if (strcmp(t[i].name, name) == 0) return i;
  return -1;
}

int tcc_rt_module_input_index(const tcc_rt_module_t *m, const char *name) {
  return find_tensor(m->desc->inputs, m->desc->num_inputs, name);
}

int tcc_rt_module_output_index(const tcc_rt_module_t *m, const char *name) {
  return find_tensor(m->desc->outputs, m->desc->num_outputs, name);
}
