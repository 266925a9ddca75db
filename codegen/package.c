/* Packaging: the optimized graph as model.so + model.h (contract in codegen/package.h).
 *
 * The steps, in order: register the inputs' symbols; walk the nodes in execution order, giving every
 * value a place (a module input, the weights blob, or an arena buffer; views take their source's
 * place) and every kernel node one call with its compiled kernel; emit the per-shape buffer sizes as an
 * LLVM function; write the kernels' object, the weights and the generated C (the descriptor of
 * runtime/module_abi.h, the plan function and the model's API); link them with the runtime archive. */
#include "codegen/package.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen/cpu_conv.h"
#include "codegen/cpu_blocks.h"
#include "codegen/cpu_gemm.h"
#include "codegen/cpu_rows.h"
#include "codegen/gpu_rows.h"
#include "codegen/gpu_flash.h"
#include "codegen/gpu_gemm.h"
#include "codegen/llvm_emit.h"
#include "codegen/schedule_cpu.h"
#include "codegen/schedule_gpu.h"
#include "codegen/target.h"
#include "ir/compute.h"
#include "passes/passes.h"
#include "runtime/module_abi.h"
#include "base/version.h"

tcc_package_options_t tcc_package_defaults(void) {
  return (tcc_package_options_t){.target = "native", .name = "model", .optimize = true};
}

void tcc_package_default_name(const char *path, char *buf, size_t size) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t n = 0;
  if (size < 2) return;
  if (isdigit((unsigned char)*base)) buf[n++] = '_';
  for (; *base && *base != '.' && n + 1 < size; base++) buf[n++] = isalnum((unsigned char)*base) ? *base : '_';
  if (n == 0) buf[n++] = 'm';
  buf[n] = 0;
}

/* Where a value's bytes are: kind < 0 while it has no place. */
typedef struct {
  int32_t kind, index;
  int64_t offset;
} place_t;

typedef struct {
  const char *name, *symbol;
  int num_args;
  place_t *args;
  tcc_gpu_launch_t launch; /* GPU modules: symbol is the kernel's entry */
  /* GPU modules: where its tensor maps' dims start in tcc_call_dims's output, and its condition's size
   * there plus 1 (0: none) */
  int dims_at, if_dim;
} call_t;

enum { MAX_GPU_TARGETS = 8 };

typedef struct {
  const tcc_value_t *value;
  int32_t first, last; /* calls */
} buffer_t;

typedef struct {
  tcc_graph_t *g;
  const tcc_package_options_t *o;
  tcc_llvm_emitter_t *e; /* the host code: CPU kernels, or for a GPU module only the buffer sizes */
  const char *host_target;
  tcc_llvm_emitter_t *gpu_e[MAX_GPU_TARGETS]; /* GPU modules: the kernels for each GPU target */
  const char *gpu_target[MAX_GPU_TARGETS];
  int num_gpus;
  int64_t image_bytes[2 * MAX_GPU_TARGETS]; /* per GPU target: PTX (NUL included), then cubin (0: none) */
  place_t *place; /* by value id */
  const tcc_value_t **inputs; /* the module's inputs (graph inputs without a constant) */
  int num_inputs;
  const tcc_tensor_t **weights; /* constants in blob order */
  int64_t *weight_offset;
  int num_weights, cap_weights;
  int64_t weights_bytes;
  buffer_t *buffers;
  int num_buffers, cap_buffers;
  call_t *calls;
  int num_calls, cap_calls;
  int bound_symbols; /* the emitter's first symbols: those the inputs' dims bind */
  int num_call_dims; /* the sizes the GPU calls' tensor maps and conditions refer to (tcc_call_dims) */
  char dir[64]; /* the temporary directory */
} pack_t;

static bool grow(void **items, int *cap, int count, size_t item) {
  if (count < *cap) return true;
  int n = *cap ? 2 * *cap : 16;
  void *p = realloc(*items, (size_t)n * item);
  if (!p) return false;
  *items = p, *cap = n;
  return true;
}

/* ---- places ---- */

/* The place of constant t in the weights blob (added on first use). */
static tcc_status_t weight_place(pack_t *p, const tcc_tensor_t *t, const char *name, place_t *out) {
  if (t->dtype == TCC_DTYPE_STRING)
    return tcc_status_make(TCC_UNSUPPORTED, "constant '%s' is a string tensor: compiled modules hold numbers only",
                           name);
  for (int i = 0; i < p->num_weights; i++)
    if (p->weights[i] == t) return *out = (place_t){TCC_MODULE_ARG_WEIGHT, 0, p->weight_offset[i]}, NULL;
  if (!grow((void **)&p->weights, &p->cap_weights, p->num_weights, sizeof *p->weights)) return tcc_status_oom();
  int64_t *offs = realloc(p->weight_offset, (size_t)p->cap_weights * sizeof *offs);
  if (!offs) return tcc_status_oom();
  p->weight_offset = offs;
  p->weights_bytes = (p->weights_bytes + 63) & ~(int64_t)63;
  p->weights[p->num_weights] = t;
  p->weight_offset[p->num_weights++] = p->weights_bytes;
  *out = (place_t){TCC_MODULE_ARG_WEIGHT, 0, p->weights_bytes};
  p->weights_bytes += (int64_t)t->nbytes;
  return NULL;
}

/* The place of a value a call reads (extending its buffer's life to call `at`). */
static tcc_status_t read_place(pack_t *p, const tcc_value_t *v, int32_t at, place_t *out) {
  if (v->constant) return weight_place(p, v->constant, v->name, out);
  *out = p->place[v->id];
  if (out->kind < 0) return tcc_status_make(TCC_INTERNAL, "value '%s' is read before it is computed", v->name);
  if (out->kind == TCC_MODULE_ARG_ARENA && p->buffers[out->index].last < at) p->buffers[out->index].last = at;
  return NULL;
}

static tcc_status_t new_buffer(pack_t *p, const tcc_value_t *v, int32_t at) {
  if (v->type.kind != TCC_TYPE_TENSOR || v->type.rank < 0 || tcc_dtype_bits(v->type.dtype) <= 0)
    return tcc_status_make(TCC_UNSUPPORTED, "value '%s' is not a tensor of numbers with a known shape", v->name);
  if (!grow((void **)&p->buffers, &p->cap_buffers, p->num_buffers, sizeof *p->buffers)) return tcc_status_oom();
  p->buffers[p->num_buffers] = (buffer_t){v, at, at};
  p->place[v->id] = (place_t){TCC_MODULE_ARG_ARENA, p->num_buffers++, 0};
  return NULL;
}

/* ---- kernels ---- */

tcc_status_t tcc_package_emit_kernel(tcc_llvm_emitter_t *e, const tcc_node_t *n, const char *target, bool verbose,
                                     const char **symbol) {
  bool applied = false;
  const char *how = "template gemm";
  tcc_cpu_gemm_knobs_t gemm;
  TCC_RETURN_IF_ERROR(tcc_cpu_gemm_node_knobs(n, target, &gemm, &applied));
  if (applied) TCC_RETURN_IF_ERROR(tcc_cpu_gemm_emit(e, n, target, &gemm, symbol, &applied));
  if (!applied) {
    how = "template conv";
    TCC_RETURN_IF_ERROR(tcc_cpu_conv_emit(e, n, target, NULL, symbol, &applied));
  }
  if (!applied) {
    how = "template rows";
    TCC_RETURN_IF_ERROR(tcc_cpu_rows_emit(e, n, target, symbol, &applied));
  }
  if (!applied) {
    how = "template blocks";
    TCC_RETURN_IF_ERROR(tcc_cpu_blocks_emit(e, n, target, symbol, &applied));
  }
  if (!applied) {
    how = "generic";
    tcc_kernel_t *k = NULL;
    TCC_RETURN_IF_ERROR(tcc_compute_build(n, &k));
    tcc_cpu_schedule_options_t so = tcc_cpu_schedule_defaults(target);
    TCC_RETURN_IF_ERROR(tcc_schedule_cpu(k, &so));
    TCC_RETURN_IF_ERROR(tcc_llvm_emit_kernel(e, k, symbol));
  }
  if (verbose) printf("  kernel %-40s %-14s <- %s (%s)\n", *symbol, how, n->name, tcc_node_kernel_kind(n));
  return NULL;
}

/* The parts a generic GPU kernel runs as: one launch per top-level statement (adjacent ones that are not
 * loops together) when the top level holds no temporaries, so that each loop nest gets the whole grid
 * (Concat's inputs, Split's outputs) and the stream orders them; else the kernel whole. starts[i] is part
 * i's first statement; returns the count. */
static int kernel_parts(const tcc_kernel_t *k, size_t starts[TCC_GPU_MAX_PARTS + 1]) {
  int n = 0;
  for (size_t i = 0; i < k->body.count; i++) {
    const tcc_kstmt_t *s = k->body.stmts[i];
    if (s->kind == TCC_KSTMT_ALLOC || n == TCC_GPU_MAX_PARTS) return starts[0] = 0, starts[1] = k->body.count, 1;
    bool joins = i > 0 && s->kind != TCC_KSTMT_FOR && k->body.stmts[i - 1]->kind != TCC_KSTMT_FOR;
    if (!joins) starts[n++] = i;
  }
  if (n == 0) starts[n++] = 0;
  starts[n] = k->body.count;
  return n;
}

tcc_status_t tcc_package_emit_gpu_kernel(tcc_llvm_emitter_t *e, const tcc_node_t *n, const char *target,
                                         const tcc_gpu_gemm_knobs_t *gemm_knobs, bool verbose,
                                         tcc_gpu_kernel_t out[TCC_GPU_MAX_PARTS], int *count) {
  bool applied;
  const char *how = "template gemm";
  TCC_RETURN_IF_ERROR(tcc_gpu_gemm_emit(e, n, target, gemm_knobs, out, count, &applied));
  if (!applied) {
    *count = 1;
    how = "template flash";
    TCC_RETURN_IF_ERROR(tcc_gpu_flash_attention_emit(e, n, target, out[0].entry, &out[0].launch, &applied));
  }
  if (!applied) {
    how = "template attn";
    TCC_RETURN_IF_ERROR(tcc_gpu_attention_emit(e, n, out[0].entry, &out[0].launch, &applied));
  }
  if (!applied) {
    how = "template rows";
    TCC_RETURN_IF_ERROR(tcc_gpu_rows_emit(e, n, out[0].entry, &out[0].launch, &applied));
  }
  if (applied) {
    for (int i = 0; verbose && i < *count; i++) {
      char rows[80] = "";
      if (out[i].launch.size && out[i].launch.size_max == INT64_MAX)
        snprintf(rows, sizeof rows, ", M >= %lld", (long long)out[i].launch.size_min);
      else if (out[i].launch.size)
        snprintf(rows, sizeof rows, ", M in %lld..%lld", (long long)out[i].launch.size_min, (long long)out[i].launch.size_max);
      printf("  kernel %-40s %-14s <- %s (%s%s)\n", out[i].entry, how, n->name, tcc_node_kernel_kind(n), rows);
    }
    return NULL;
  }
  tcc_kernel_t *k = NULL;
  TCC_RETURN_IF_ERROR(tcc_compute_build(n, &k));
  size_t starts[TCC_GPU_MAX_PARTS + 1];
  *count = kernel_parts(k, starts);
  for (int i = 0; i < *count; i++) {
    tcc_kernel_t part = *k;
    char name[200];
    if (*count > 1) snprintf(name, sizeof name, "%.180s_part%d", k->name, i), part.name = name;
    part.body.stmts = k->body.stmts + starts[i];
    part.body.count = part.body.capacity = starts[i + 1] - starts[i];
    TCC_RETURN_IF_ERROR(tcc_schedule_gpu(&part));
    bool strides = tcc_llvm_gpu_kernel_strides(&part);
    const char *symbol;
    TCC_RETURN_IF_ERROR(tcc_llvm_emit_kernel(e, &part, &symbol));
    snprintf(out[i].entry, sizeof out[i].entry, "%s_gpu", symbol);
    /* a grid-stride loop: blocks of 256 threads, as many as fit; else one thread */
    out[i].launch = strides ? (tcc_gpu_launch_t){.block = 256} : (tcc_gpu_launch_t){.block = 1, .grid = 1};
    if (verbose)
      printf("  kernel %-40s %-14s <- %s (%s)\n", out[i].entry, strides ? "grid-stride" : "one thread", n->name,
             tcc_node_kernel_kind(n));
  }
  return NULL;
}

/* The kernels of n in every GPU emitter (the same entries and launches in each, so made for the least of
 * the targets): call c, then one more call with c's arguments per further part, the buffers it touches
 * kept alive through them. */
static tcc_status_t emit_gpu_kernels(pack_t *p, const tcc_node_t *n, int32_t at) {
  tcc_gpu_kernel_t first[TCC_GPU_MAX_PARTS], kernels[TCC_GPU_MAX_PARTS];
  int count = 0;
  const char *least = p->gpu_target[0]; /* "sm_80" < "sm_86" < "sm_90" < "sm_90a" */
  for (int t = 1; t < p->num_gpus; t++)
    if (strcmp(p->gpu_target[t], least) < 0) least = p->gpu_target[t];
  for (int t = 0; t < p->num_gpus; t++) {
    int got;
    TCC_RETURN_IF_ERROR(tcc_package_emit_gpu_kernel(p->gpu_e[t], n, least, p->o->gpu_gemm_knobs,
                                                    p->o->verbose && t == 0, t ? kernels : first, &got));
    for (int i = 0; t && i < got; i++)
      if (got != count || strcmp(kernels[i].entry, first[i].entry) != 0)
        return tcc_status_make(TCC_INTERNAL, "node '%s': kernel '%s' for %s but '%s' for %s", n->name,
                               kernels[i].entry, p->gpu_target[t], i < count ? first[i].entry : "none", p->gpu_target[0]);
    if (!t) count = got;
  }
  for (int i = 0; i < count; i++) {
    if (i) {
      if (!grow((void **)&p->calls, &p->cap_calls, p->num_calls, sizeof *p->calls)) return tcc_status_oom();
      call_t *c0 = &p->calls[at], *c = &p->calls[p->num_calls];
      *c = *c0;
      c->args = malloc(((size_t)c0->num_args + 1) * sizeof *c->args);
      if (!c->args) return tcc_status_oom();
      memcpy(c->args, c0->args, (size_t)c0->num_args * sizeof *c->args);
      p->num_calls++;
      for (int a = 0; a < c->num_args; a++)
        if (c->args[a].kind == TCC_MODULE_ARG_ARENA && p->buffers[c->args[a].index].last < p->num_calls - 1)
          p->buffers[c->args[a].index].last = p->num_calls - 1;
    }
    call_t *c = &p->calls[at + i];
    c->launch = first[i].launch;
    if (!(c->symbol = strdup(first[i].entry))) return tcc_status_oom();
  }
  return NULL;
}

static tcc_status_t add_call(pack_t *p, const tcc_node_t *n) {
  int32_t at = p->num_calls;
  if (!grow((void **)&p->calls, &p->cap_calls, p->num_calls, sizeof *p->calls)) return tcc_status_oom();
  call_t *c = &p->calls[p->num_calls];
  *c = (call_t){.name = n->name ? n->name : tcc_op_name(n->op)};
  c->args = calloc((size_t)(n->num_inputs + n->num_outputs) + 1, sizeof *c->args);
  if (!c->args) return tcc_status_oom();
  p->num_calls++;
  /* a GEMM's constant B is stored packed for its kernel (tcc_package_emit_kernel makes the same choice) */
  tcc_cpu_gemm_knobs_t gemm;
  bool is_gemm;
  int packed_input = -1;
  tcc_tensor_t *packed = NULL;
  is_gemm = false;
  if (!p->num_gpus) TCC_RETURN_IF_ERROR(tcc_cpu_gemm_node_knobs(n, p->o->target, &gemm, &is_gemm));
  if (is_gemm && gemm.pack_b == 2)
    TCC_RETURN_IF_ERROR(tcc_cpu_gemm_pack_b(p->g->module, n, p->o->target, &gemm, &packed_input, &packed));
  for (int i = 0; i < n->num_inputs; i++) {
    if (!n->inputs[i]) continue;
    place_t *arg = &c->args[c->num_args++];
    if (i == packed_input) TCC_RETURN_IF_ERROR(weight_place(p, packed, n->inputs[i]->name, arg));
    else TCC_RETURN_IF_ERROR(read_place(p, n->inputs[i], at, arg));
  }
  for (int i = 0; i < n->num_outputs; i++) {
    if (!n->outputs[i]) continue;
    TCC_RETURN_IF_ERROR(new_buffer(p, n->outputs[i], at));
    c->args[c->num_args++] = p->place[n->outputs[i]->id];
  }
  if (p->num_gpus) return emit_gpu_kernels(p, n, at);
  const char *symbol = NULL;
  TCC_RETURN_IF_ERROR(tcc_package_emit_kernel(p->e, n, p->o->target, p->o->verbose, &symbol));
  /* the name may live in the LLVM module: keep a copy */
  return (c->symbol = strdup(symbol)) ? NULL : tcc_status_oom();
}

/* A node that is not a kernel: a view shares its input's place; nothing else is expected here. */
static tcc_status_t add_view(pack_t *p, const tcc_node_t *n) {
  const tcc_value_t *in = n->num_inputs > 0 ? n->inputs[0] : NULL, *out = n->outputs[0];
  if (!out || out->constant) return NULL;
  tcc_module_t *m = p->g->module;
  if (!in || out->type.kind != TCC_TYPE_TENSOR || in->type.dtype != out->type.dtype ||
      tcc_type_numel(m, &in->type) != tcc_type_numel(m, &out->type))
    return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (%s) is neither a kernel nor a view of its input", n->name,
                           n->op_type);
  return read_place(p, in, p->num_calls, &p->place[out->id]);
}

static tcc_status_t plan_calls(pack_t *p) {
  tcc_graph_t *g = p->g;
  for (size_t i = 0; i < g->num_inputs; i++) {
    const tcc_value_t *v = g->inputs[i];
    if (v->constant) continue;
    if (v->type.kind != TCC_TYPE_TENSOR || v->type.rank < 0 || v->type.rank > TCC_MODULE_MAX_RANK ||
        tcc_dtype_bits(v->type.dtype) <= 0)
      return tcc_status_make(TCC_UNSUPPORTED, "input '%s' is not a tensor of numbers with a known rank", v->name);
    p->place[v->id] = (place_t){TCC_MODULE_ARG_INPUT, p->num_inputs, 0};
    p->inputs[p->num_inputs++] = v;
    for (int d = 0; d < v->type.rank; d++) {
      const tcc_dim_t *dim = v->type.dims[d];
      char text[256];
      tcc_dim_format(dim, text, sizeof text);
      if (!tcc_dim_is_const(dim) && !tcc_dim_is_symbol(dim))
        return tcc_status_make(TCC_UNSUPPORTED, "input '%s': dim %d is '%s'; module inputs take constants or symbols",
                               v->name, d, text);
      if (tcc_dim_is_symbol(dim) && tcc_llvm_emitter_add_symbol(p->e, text) < 0) return tcc_status_oom();
      for (int t = 0; t < p->num_gpus; t++)
        if (tcc_dim_is_symbol(dim) && tcc_llvm_emitter_add_symbol(p->gpu_e[t], text) < 0) return tcc_status_oom();
    }
  }
  p->bound_symbols = tcc_llvm_emitter_num_symbols(p->e);
  for (size_t i = 0; i < g->num_nodes; i++) {
    const tcc_node_t *n = g->nodes[i];
    tcc_status_t st = tcc_node_is_kernel(n) ? add_call(p, n) : add_view(p, n);
    if (st && n->name && strstr(tcc_status_message(st), n->name)) return st; /* already names the node */
    if (st) return tcc_status_annotate(st, "node '%s' (%s): ", n->name ? n->name : "", n->op_type ? n->op_type : "");
  }
  for (size_t i = 0; i < g->num_outputs; i++) {
    place_t where;
    TCC_RETURN_IF_ERROR(read_place(p, g->outputs[i], p->num_calls, &where));
  }
  return NULL;
}

/* Every symbol a size uses must be bound by an input's dim (the runtime binds no other). */
static tcc_status_t check_symbols(pack_t *p, tcc_llvm_emitter_t *e) {
  if (tcc_llvm_emitter_num_symbols(e) <= p->bound_symbols) return NULL;
  const char *sym = tcc_llvm_emitter_symbol(e, p->bound_symbols);
  return tcc_status_make(TCC_UNSUPPORTED,
                         "a size depends on '%s', which no input dim gives (a shape computed from data): compiled "
                         "modules need shapes that follow from the inputs' shapes",
                         sym);
}

/* Makes every function the module defines hidden: only the generated C exports symbols. */
static void hide_functions(LLVMModuleRef mod) {
  for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f))
    if (!LLVMIsDeclaration(f)) LLVMSetVisibility(f, LLVMHiddenVisibility);
}

/* ---- files ---- */

static void c_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 32 || c >= 127) fprintf(f, "\\%03o", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static tcc_status_t write_weights(pack_t *p, const char *path) {
  FILE *f = fopen(path, "wb");
  if (!f) return tcc_status_make(TCC_IO, "cannot write '%s': %s", path, strerror(errno));
  static const char zeros[64];
  int64_t at = 0;
  bool ok = true;
  for (int i = 0; i < p->num_weights && ok; i++) {
    ok = fwrite(zeros, 1, (size_t)(p->weight_offset[i] - at), f) == (size_t)(p->weight_offset[i] - at);
    const tcc_tensor_t *t = p->weights[i];
    ok = ok && (t->nbytes == 0 || fwrite(t->data, 1, t->nbytes, f) == t->nbytes);
    at = p->weight_offset[i] + (int64_t)t->nbytes;
  }
  ok = fclose(f) == 0 && ok;
  return ok ? NULL : tcc_status_make(TCC_IO, "cannot write '%s'", path);
}

/* The index of the module symbol that dim is, or -1 (a constant, or an expression of symbols). */
static int symbol_of(pack_t *p, const tcc_dim_t *dim) {
  if (tcc_dim_is_const(dim)) return -1;
  char text[256];
  tcc_dim_format(dim, text, sizeof text);
  for (int s = 0; s < tcc_llvm_emitter_num_symbols(p->e); s++)
    if (strcmp(tcc_llvm_emitter_symbol(p->e, s), text) == 0) return s;
  return -1;
}

static void write_dims(FILE *f, const char *label, const tcc_value_t *v, pack_t *p) {
  fprintf(f, "static const tcc_module_dim_t %s[] = {", label);
  for (int d = 0; d < v->type.rank; d++) {
    const tcc_dim_t *dim = v->type.dims[d];
    fprintf(f, "%s{%lld, %d}", d ? ", " : "", tcc_dim_is_const(dim) ? (long long)tcc_dim_value(dim) : 0LL,
            symbol_of(p, dim));
  }
  fprintf(f, "%s};\n", v->type.rank ? "" : "{0, -1}");
}

static void write_tensor(FILE *f, const tcc_value_t *v, const char *dims) {
  fprintf(f, "  {");
  c_string(f, v->name);
  fprintf(f, ", %d, %d, %s},\n", (int)v->type.dtype, v->type.rank, dims);
}

static void write_place(FILE *f, place_t w) {
  fprintf(f, "{%d, %d, %lld}", w.kind, w.index, (long long)w.offset);
}

static tcc_status_t check_output_dims(pack_t *p, const tcc_value_t *v) {
  for (int d = 0; d < v->type.rank; d++) {
    const tcc_dim_t *dim = v->type.dims[d];
    char text[256];
    tcc_dim_format(dim, text, sizeof text);
    if (!tcc_dim_is_const(dim) && symbol_of(p, dim) < 0)
      return tcc_status_make(TCC_UNSUPPORTED, "output '%s': dim %d is '%s'; module outputs take constants or input symbols",
                             v->name, d, text);
  }
  return NULL;
}

/* The descriptor, the plan function and the model's API. */
static tcc_status_t write_module_c(pack_t *p, const char *path) {
  tcc_graph_t *g = p->g;
  for (size_t i = 0; i < g->num_outputs; i++) TCC_RETURN_IF_ERROR(check_output_dims(p, g->outputs[i]));
  FILE *f = fopen(path, "w");
  if (!f) return tcc_status_make(TCC_IO, "cannot write '%s': %s", path, strerror(errno));
  const char *N = p->o->name;
  fprintf(f, "/* Generated by tcc %s: the module descriptor and the API of model '%s'. */\n", TCC_VERSION, N);
  fprintf(f, "#define _GNU_SOURCE /* dladdr */\n#include <dlfcn.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n");
  fprintf(f, "#include \"runtime/module_abi.h\"\n#include \"tcc/runtime.h\"\n\n");
  for (int i = 0; i < p->num_calls && !p->num_gpus; i++)
    fprintf(f, "extern int k%d(void *const *, const tcc_module_kernel_ctx_t *) __asm__(\"%s_packed\");\n", i,
            p->calls[i].symbol);
  for (int i = 0; i < 2 * p->num_gpus; i++)
    if (p->image_bytes[i]) fprintf(f, "extern const unsigned char image%d[] __asm__(\"tcc_image_%d\");\n", i, i);
  fprintf(f, "extern void buffer_numel(const int64_t *, int64_t *) __asm__(\"tcc_buffer_numel\");\n");
  if (p->num_call_dims) fprintf(f, "extern void call_dims(const int64_t *, int64_t *) __asm__(\"tcc_call_dims\");\n");
  if (!p->o->external_weights) fprintf(f, "extern const unsigned char weights[] __asm__(\"tcc_weights\");\n");
  fprintf(f, "\nstatic const char *const symbols[] = {");
  int num_syms = tcc_llvm_emitter_num_symbols(p->e);
  for (int s = 0; s < num_syms; s++) c_string(f, tcc_llvm_emitter_symbol(p->e, s)), fputs(", ", f);
  fprintf(f, "NULL};\n");
  char label[32];
  for (int i = 0; i < p->num_inputs; i++) snprintf(label, sizeof label, "in%d", i), write_dims(f, label, p->inputs[i], p);
  for (size_t i = 0; i < g->num_outputs; i++) snprintf(label, sizeof label, "out%zu", i), write_dims(f, label, g->outputs[i], p);
  fprintf(f, "static const tcc_module_tensor_t inputs[] = {\n");
  for (int i = 0; i < p->num_inputs; i++) snprintf(label, sizeof label, "in%d", i), write_tensor(f, p->inputs[i], label);
  fprintf(f, "  {0}};\nstatic const tcc_module_tensor_t outputs[] = {\n");
  for (size_t i = 0; i < g->num_outputs; i++) snprintf(label, sizeof label, "out%zu", i), write_tensor(f, g->outputs[i], label);
  fprintf(f, "  {0}};\nstatic const tcc_module_arg_t output_sources[] = {");
  for (size_t i = 0; i < g->num_outputs; i++) {
    place_t w;
    TCC_RETURN_IF_ERROR(read_place(p, g->outputs[i], p->num_calls, &w));
    write_place(f, w), fputs(", ", f);
  }
  fprintf(f, "{0}};\n");
  for (int i = 0; i < p->num_calls; i++) {
    fprintf(f, "static const tcc_module_arg_t a%d[] = {", i);
    for (int a = 0; a < p->calls[i].num_args; a++) write_place(f, p->calls[i].args[a]), fputs(a + 1 < p->calls[i].num_args ? ", " : "", f);
    fprintf(f, "};\n");
    const tcc_gpu_launch_t *l = &p->calls[i].launch;
    if (!l->num_maps) continue;
    fprintf(f, "static const tcc_module_tensor_map_t tm%d[] = {", i);
    for (int t = 0, dims = p->calls[i].dims_at; t < l->num_maps; t++) {
      const tcc_gpu_tensor_map_t *m = &l->maps[t];
      fprintf(f, "{%d, %d, %d, %d, %d, {", m->arg, (int)m->dtype, m->rank, m->swizzle, dims);
      for (int d = 0; d < m->rank; d++) fprintf(f, "%d, ", m->box[d]);
      fprintf(f, "}}, ");
      dims += m->rank;
    }
    fprintf(f, "};\n");
  }
  fprintf(f, "static const tcc_module_call_t calls[] = {\n");
  for (int i = 0; i < p->num_calls; i++) {
    fprintf(f, "  {");
    c_string(f, p->calls[i].name);
    if (p->num_gpus) {
      const tcc_gpu_launch_t *l = &p->calls[i].launch;
      char maps[32] = "NULL";
      if (l->num_maps) snprintf(maps, sizeof maps, "tm%d", i);
      fprintf(f, ", NULL, %d, a%d, \"%s\", %d, %d, %d, %d, %s, %d, %lldLL, %lldLL},\n", p->calls[i].num_args, i,
              p->calls[i].symbol, l->block, l->grid, l->shared_bytes, l->num_maps, maps, p->calls[i].if_dim,
              (long long)l->size_min, (long long)l->size_max);
    } else {
      fprintf(f, ", k%d, %d, a%d},\n", i, p->calls[i].num_args, i);
    }
  }
  if (p->num_gpus) {
    fprintf(f, "  {0}};\nstatic const tcc_module_gpu_image_t gpu_images[] = {\n");
    for (int i = 0; i < 2 * p->num_gpus; i++)
      if (p->image_bytes[i])
        fprintf(f, "  {\"%s\", %s, image%d, %lld},\n", p->gpu_target[i / 2],
                i % 2 ? "TCC_MODULE_IMAGE_CUBIN" : "TCC_MODULE_IMAGE_PTX", i, (long long)p->image_bytes[i]);
  }
  fprintf(f, "  {0}};\n\n/* arena buffers: element bits, first and last call */\n");
  fprintf(f, "static const int32_t buffer_bits[] = {");
  for (int b = 0; b < p->num_buffers; b++) fprintf(f, "%d, ", tcc_dtype_bits(p->buffers[b].value->type.dtype));
  fprintf(f, "0};\nstatic const int32_t buffer_first[] = {");
  for (int b = 0; b < p->num_buffers; b++) fprintf(f, "%d, ", p->buffers[b].first);
  fprintf(f, "0};\nstatic const int32_t buffer_last[] = {");
  for (int b = 0; b < p->num_buffers; b++) fprintf(f, "%d, ", p->buffers[b].last);
  fprintf(f,
          "0};\n\n"
          "static int plan(const int64_t *symbols, int64_t *offsets, int64_t *arena_bytes) {\n"
          "  enum { n = %d };\n"
          "  int64_t sizes[n + 1];\n"
          "  buffer_numel(symbols, sizes);\n"
          "  for (int i = 0; i < n; i++) {\n"
          "    if (sizes[i] < 0 || sizes[i] > INT64_MAX / 64) return 1;\n"
          "    sizes[i] = (sizes[i] * buffer_bits[i] + 7) / 8;\n"
          "  }\n"
          "  return tcc_rt_plan_buffers(n, sizes, buffer_first, buffer_last, 64, offsets, arena_bytes) != 0;\n"
          "}\n\n",
          p->num_buffers);
  fprintf(f, "static const tcc_module_desc_t desc = {\n  TCC_MODULE_MAGIC, TCC_MODULE_ABI_VERSION, sizeof(tcc_module_desc_t), 0,\n  ");
  c_string(f, N);
  fprintf(f, ", ");
  c_string(f, p->o->target);
  fprintf(f, ", \"tcc %s\",\n  %d, symbols, NULL,\n  %d, %zu, inputs, outputs, output_sources,\n  %d, calls,\n",
          TCC_VERSION, num_syms, p->num_inputs, g->num_outputs, p->num_calls);
  fprintf(f, "  %d, NULL, 0, 64, plan,\n", p->num_buffers);
  if (p->o->external_weights) fprintf(f, "  NULL, \"%s.weights\", %lld,\n", N, (long long)p->weights_bytes);
  else fprintf(f, "  %s, NULL, %lld,\n", p->weights_bytes ? "weights" : "NULL", (long long)p->weights_bytes);
  int num_images = 0;
  for (int i = 0; i < 2 * p->num_gpus; i++) num_images += p->image_bytes[i] > 0;
  if (p->num_gpus) fprintf(f, "  TCC_MODULE_DEVICE_CUDA, %d, gpu_images,\n", num_images);
  else fprintf(f, "  TCC_MODULE_DEVICE_CPU, 0, NULL,\n");
  fprintf(f, "  %d, %s,\n};\n\n", p->num_call_dims, p->num_call_dims ? "call_dims" : "NULL");
  fprintf(f,
          "TCC_MODULE_EXPORT const tcc_module_desc_t *tcc_module_query(void) { return &desc; }\n\n"
          "/* ---- the model's API (model.h) ---- */\n"
          "#define API __attribute__((visibility(\"default\")))\n"
          "_Static_assert(sizeof(tcc_rt_tensor_t) == sizeof(void *) + sizeof(size_t) + 8 + 8 * TCC_RT_MAX_RANK,\n"
          "               \"the header's tensor struct mirrors tcc_rt_tensor_t\");\n"
          "struct %s { tcc_rt_module_t *module; tcc_rt_session_t *session; };\n"
          "static _Thread_local char error_text[1024];\n"
          "static int fail(tcc_status_t st) {\n"
          "  snprintf(error_text, sizeof error_text, \"%%s: %%s\", tcc_status_code_name(tcc_status_code(st)), tcc_status_message(st));\n"
          "  int code = (int)tcc_status_code(st);\n"
          "  tcc_status_free(st);\n"
          "  return code;\n"
          "}\n"
          "API const char *%s_last_error(void) { return error_text; }\n"
          "API const char *%s_input_name(int i) { return i >= 0 && i < %d ? inputs[i].name : NULL; }\n"
          "API const char *%s_output_name(int i) { return i >= 0 && i < %zu ? outputs[i].name : NULL; }\n"
          "API void %s_destroy(struct %s *m) {\n"
          "  if (!m) return;\n"
          "  tcc_rt_session_destroy(m->session);\n"
          "  tcc_rt_module_release(m->module);\n"
          "  free(m);\n"
          "}\n"
          "API int %s_create(struct %s **out) {\n"
          "  *out = NULL;\n"
          "  char dir[4096] = \".\";\n"
          "  Dl_info info;\n"
          "  if (dladdr((const void *)&desc, &info) && info.dli_fname && strrchr(info.dli_fname, '/'))\n"
          "    snprintf(dir, sizeof dir, \"%%.*s\", (int)(strrchr(info.dli_fname, '/') - info.dli_fname), info.dli_fname);\n"
          "  struct %s *m = calloc(1, sizeof *m);\n"
          "  if (!m) return fail(tcc_status_oom());\n"
          "  tcc_status_t st = tcc_rt_module_from_desc(&desc, dir, NULL, &m->module);\n"
          "  if (!st) st = tcc_rt_session_create(m->module, NULL, &m->session);\n"
          "  if (st) {\n"
          "    %s_destroy(m);\n"
          "    return fail(st);\n"
          "  }\n"
          "  *out = m;\n"
          "  return 0;\n"
          "}\n"
          "API int %s_run(struct %s *m, const void *inputs, void *outputs) {\n"
          "  tcc_status_t st = tcc_rt_session_run(m->session, inputs, %d, outputs, %zu);\n"
          "  return st ? fail(st) : 0;\n"
          "}\n",
          N, N, N, p->num_inputs, N, g->num_outputs, N, N, N, N, N, N, N, N, p->num_inputs, g->num_outputs);
  bool ok = !ferror(f);
  ok = fclose(f) == 0 && ok;
  return ok ? NULL : tcc_status_make(TCC_IO, "cannot write '%s'", path);
}

static void type_comment(FILE *f, const char *what, int i, const tcc_value_t *v) {
  char text[512];
  tcc_type_format(&v->type, text, sizeof text);
  fprintf(f, " *   %s %d  %-24s %s\n", what, i, v->name, text);
}

static tcc_status_t write_header(pack_t *p, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) return tcc_status_make(TCC_IO, "cannot write '%s': %s", path, strerror(errno));
  const char *N = p->o->name;
  char U[256];
  size_t n = 0;
  for (const char *s = N; *s && n + 1 < sizeof U; s++) U[n++] = (char)toupper((unsigned char)*s);
  U[n] = 0;
  tcc_graph_t *g = p->g;
  fprintf(f, "/* %s.h — generated by tcc %s for target %s: the API of the compiled model '%s'.\n *\n", N, TCC_VERSION,
          p->o->target, N);
  fprintf(f, " * Signature (dims in brackets; names are symbols bound by the inputs at run time):\n");
  for (int i = 0; i < p->num_inputs; i++) type_comment(f, "input ", i, p->inputs[i]);
  for (size_t i = 0; i < g->num_outputs; i++) type_comment(f, "output", (int)i, g->outputs[i]);
  fprintf(f,
          " *\n"
          " * Usage:\n"
          " *   %s_t *m;\n"
          " *   if (%s_create(&m)) { fprintf(stderr, \"%%s\\n\", %s_last_error()); return 1; }\n"
          " *   %s_tensor_t in[%s_NUM_INPUTS] = {{.data = x, .bytes = sizeof x, .dtype = %s_F32, .rank = 4, .dims = {1, 3, 224, 224}}};\n"
          " *   %s_tensor_t out[%s_NUM_OUTPUTS] = {{.data = y, .bytes = sizeof y}};  // .data = NULL: a buffer the model owns\n"
          " *   if (%s_run(m, in, out)) { fprintf(stderr, \"%%s\\n\", %s_last_error()); }\n"
          " *   %s_destroy(m);\n"
          " * Link: cc app.c -o app ./%s.so  (or -L. -l:%s.so with -Wl,-rpath,'$ORIGIN')\n"
          " *\n"
          " * Inputs are checked before anything runs (count, dtype, rank, dims, bytes); a failure returns a\n"
          " * status code below and %s_last_error() (per thread) says which tensor and why. out[i].dtype, rank and\n"
          " * dims are filled in by run. Thread-safety: one %s_t is used by one thread at a time; create one\n"
          " * per thread to run concurrently (they share the weights). TCC_NUM_THREADS sets the thread pool's size.\n"
          " */\n",
          N, N, N, N, U, U, N, U, N, N, N, N, N, N, N);
  fprintf(f, "#ifndef %s_MODEL_H\n#define %s_MODEL_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n", U, U);
  fprintf(f, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
  fprintf(f, "#define %s_NUM_INPUTS %d\n#define %s_NUM_OUTPUTS %zu\n\n", U, p->num_inputs, U, g->num_outputs);
  fprintf(f,
          "/* Status codes. */\nenum { %s_OK = 0, %s_INVALID_ARGUMENT, %s_INVALID_MODEL, %s_UNSUPPORTED, %s_NOT_FOUND,\n"
          "       %s_PERMISSION, %s_IO, %s_OUT_OF_MEMORY, %s_INTERNAL };\n",
          U, U, U, U, U, U, U, U, U);
  fprintf(f,
          "/* Element types (ONNX TensorProto codes). */\nenum { %s_F32 = 1, %s_U8 = 2, %s_I8 = 3, %s_U16 = 4, %s_I16 = 5, "
          "%s_I32 = 6, %s_I64 = 7, %s_BOOL = 9,\n       %s_F16 = 10, %s_F64 = 11, %s_U32 = 12, %s_U64 = 13, %s_BF16 = 16 };\n\n",
          U, U, U, U, U, U, U, U, U, U, U, U, U);
  fprintf(f,
          "/* A dense row-major tensor (the layout of tcc_rt_tensor_t). */\n"
          "typedef struct {\n  void *data;\n  size_t bytes;\n  int32_t dtype;\n  int32_t rank;\n  int64_t dims[16];\n} %s_tensor_t;\n\n"
          "typedef struct %s %s_t;\n\n"
          "/* Loads the model (weights included) and makes a session; 0 or a status code. */\n"
          "int %s_create(%s_t **out);\n"
          "/* Runs the model: inputs[%s_NUM_INPUTS] in, outputs[%s_NUM_OUTPUTS] out; 0 or a status code. */\n"
          "int %s_run(%s_t *m, const %s_tensor_t *inputs, %s_tensor_t *outputs);\n"
          "void %s_destroy(%s_t *m);\n"
          "/* The message of this thread's last failure. */\n"
          "const char *%s_last_error(void);\n"
          "/* Input/output names (NULL out of range). */\n"
          "const char *%s_input_name(int i);\n"
          "const char *%s_output_name(int i);\n\n",
          N, N, N, N, N, U, U, N, N, N, N, N, N, N, N, N);
  fprintf(f, "#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
  bool ok = !ferror(f);
  ok = fclose(f) == 0 && ok;
  return ok ? NULL : tcc_status_make(TCC_IO, "cannot write '%s'", path);
}

/* ---- linking ---- */

/* The directory holding include/ and <arch>/libtcc_module_runtime.a. */
static tcc_status_t runtime_dir(char *buf, size_t size) {
  const char *env = getenv("TCC_RUNTIME_DIR");
  if (env && *env) return snprintf(buf, size, "%s", env), NULL;
  char exe[3900]; /* with "/lib", within the caller's 4096 */
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return tcc_status_make(TCC_NOT_FOUND, "cannot find tcc's own path to locate its runtime (set TCC_RUNTIME_DIR)");
  exe[n] = 0;
  char *slash = strrchr(exe, '/');
  if (slash) *slash = 0;
  snprintf(buf, size, "%s/lib", exe);
  return NULL;
}

/* Runs argv, its output into log_path; TCC_IO with the log's tail when it fails. */
static tcc_status_t run_tool(char *const *argv, const char *log_path, bool verbose) {
  if (verbose) {
    for (int i = 0; argv[i]; i++) printf("%s%s", i ? " " : "", argv[i]);
    printf("\n");
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return tcc_status_make(TCC_IO, "cannot start %s: %s", argv[0], strerror(errno));
  if (pid == 0) {
    FILE *log = freopen(log_path, "w", stdout);
    if (log) dup2(fileno(stdout), 2);
    execvp(argv[0], argv);
    fprintf(stderr, "cannot run '%s': %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return NULL;
  char tail[2048] = "";
  FILE *log = fopen(log_path, "r");
  if (log) {
    size_t got = fread(tail, 1, sizeof tail - 1, log);
    tail[got] = 0;
    fclose(log);
  }
  return tcc_status_make(TCC_IO, "%s failed (%s %d):\n%s", argv[0], WIFEXITED(status) ? "exit status" : "signal",
                         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), tail);
}

static tcc_status_t link_module(pack_t *p, const char *out) {
  const tcc_cpu_target_t *t = tcc_cpu_target_find(p->host_target);
  bool arm = t && t->triple && strncmp(t->triple, "aarch64", 7) == 0;
#if defined(__aarch64__)
  arm = arm || (t && !t->triple);
#endif
  const char *cc = getenv(arm ? "TCC_CC_AARCH64" : "TCC_CC");
#if defined(__aarch64__)
  if (!cc || !*cc) cc = "cc";
#else
  if (!cc || !*cc) cc = arm ? "aarch64-linux-gnu-gcc" : "cc";
#endif
  char rt[4096], include[4200], archive[4300], src[128], wasm[128], obj[128], images[128], log[128], soname[4200];
  TCC_RETURN_IF_ERROR(runtime_dir(rt, sizeof rt));
  snprintf(include, sizeof include, "-I%s/include", rt);
  snprintf(archive, sizeof archive, "%s/%s/libtcc_module_runtime.a", rt, arm ? "aarch64" : "x86_64");
  if (access(archive, R_OK) != 0)
    return tcc_status_make(TCC_NOT_FOUND, "the runtime for %s is not built: '%s' is missing%s", arm ? "aarch64" : "x86_64",
                           archive, arm ? " (install gcc-aarch64-linux-gnu and rebuild tcc)" : "");
  snprintf(src, sizeof src, "%s/module.c", p->dir);
  snprintf(wasm, sizeof wasm, "%s/weights.s", p->dir);
  snprintf(obj, sizeof obj, "%s/kernels.o", p->dir);
  snprintf(images, sizeof images, "%s/images.s", p->dir);
  snprintf(log, sizeof log, "%s/link.log", p->dir);
  char *argv[32];
  int n = 0;
  argv[n++] = (char *)cc;
  argv[n++] = "-shared", argv[n++] = "-fPIC", argv[n++] = "-O2", argv[n++] = "-fvisibility=hidden";
  argv[n++] = "-std=gnu17", argv[n++] = include;
  /* the soname is the file's name: an application linked with it finds it through its rpath */
  const char *base = strrchr(out, '/');
  snprintf(soname, sizeof soname, "-Wl,-soname,%s", base ? base + 1 : out);
  argv[n++] = soname;
  argv[n++] = "-o", argv[n++] = (char *)out, argv[n++] = src;
  if (!p->o->external_weights && p->weights_bytes) argv[n++] = wasm;
  if (p->num_gpus) argv[n++] = images;
  argv[n++] = obj, argv[n++] = archive;
  argv[n++] = "-lm", argv[n++] = "-lpthread", argv[n++] = "-Wl,--no-undefined", argv[n++] = "-Wl,--exclude-libs,ALL";
  argv[n] = NULL;
  return run_tool(argv, log, p->o->verbose);
}

static tcc_status_t write_weights_asm(pack_t *p, const char *blob) {
  char path[128];
  snprintf(path, sizeof path, "%s/weights.s", p->dir);
  FILE *f = fopen(path, "w");
  if (!f) return tcc_status_make(TCC_IO, "cannot write '%s': %s", path, strerror(errno));
  fprintf(f, "  .section .rodata\n  .balign 64\n  .globl tcc_weights\n  .hidden tcc_weights\ntcc_weights:\n  .incbin \"%s\"\n",
          blob);
  fprintf(f, "  .section .note.GNU-stack,\"\",%%progbits\n");
  return fclose(f) == 0 ? NULL : tcc_status_make(TCC_IO, "cannot write '%s'", path);
}

static void remove_dir(const char *dir) {
  static const char *const files[] = {"module.c", "weights.s", "weights.bin", "kernels.o", "link.log", "images.s",
                                      "ptxas.log", NULL};
  char path[128];
  for (const char *const *f = files; *f; f++) snprintf(path, sizeof path, "%s/%s", dir, *f), unlink(path);
  for (int t = 0; t < MAX_GPU_TARGETS; t++) {
    snprintf(path, sizeof path, "%s/kernels_%d.ptx", dir, t), unlink(path);
    snprintf(path, sizeof path, "%s/kernels_%d.cubin", dir, t), unlink(path);
  }
  rmdir(dir);
}

/* ---- GPU images ---- */

/* ptxas of the CUDA toolkit (TCC_PTXAS, else /usr/local/cuda/bin/ptxas), or NULL when absent. */
/* TCC_PTXAS, "none" for PTX alone, else the CUDA toolkit's when it is there. */
static const char *find_ptxas(void) {
  const char *env = getenv("TCC_PTXAS");
  if (env && strcmp(env, "none") == 0) return NULL;
  if (env && *env) return env;
  return access("/usr/local/cuda/bin/ptxas", X_OK) == 0 ? "/usr/local/cuda/bin/ptxas" : NULL;
}

static int64_t file_size(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

/* The PTX of GPU target t, and its cubin when ptxas is there; image_bytes[2t], [2t + 1]. */
static tcc_status_t write_gpu_images(pack_t *p, int t, const char *ptxas) {
  char ptx[128], cubin[128], log[128], arch[64];
  snprintf(ptx, sizeof ptx, "%s/kernels_%d.ptx", p->dir, t);
  snprintf(cubin, sizeof cubin, "%s/kernels_%d.cubin", p->dir, t);
  snprintf(log, sizeof log, "%s/ptxas.log", p->dir);
  TCC_RETURN_IF_ERROR(tcc_llvm_emitter_finish(p->gpu_e[t], p->gpu_target[t], p->o->optimize));
  TCC_RETURN_IF_ERROR(tcc_llvm_emitter_write(p->gpu_e[t], p->gpu_target[t], TCC_EMIT_ASM, ptx));
  p->image_bytes[2 * t] = file_size(ptx) + 1; /* the NUL the embedding adds */
  if (!ptxas) return NULL;
  snprintf(arch, sizeof arch, "-arch=%s", p->gpu_target[t]);
  char *argv[] = {(char *)ptxas, arch, "-o", cubin, ptx, NULL};
  tcc_status_t st = run_tool(argv, log, p->o->verbose);
  if (st) return tcc_status_annotate(st, "the PTX for %s does not assemble: ", p->gpu_target[t]);
  p->image_bytes[2 * t + 1] = file_size(cubin);
  return NULL;
}

static tcc_status_t write_images_asm(pack_t *p) {
  char path[128];
  snprintf(path, sizeof path, "%s/images.s", p->dir);
  FILE *f = fopen(path, "w");
  if (!f) return tcc_status_make(TCC_IO, "cannot write '%s': %s", path, strerror(errno));
  for (int i = 0; i < 2 * p->num_gpus; i++) {
    if (!p->image_bytes[i]) continue;
    fprintf(f, "  .section .rodata\n  .balign 64\n  .globl tcc_image_%d\n  .hidden tcc_image_%d\ntcc_image_%d:\n", i, i, i);
    fprintf(f, "  .incbin \"%s/kernels_%d.%s\"\n%s", p->dir, i / 2, i % 2 ? "cubin" : "ptx", i % 2 ? "" : "  .byte 0\n");
  }
  fprintf(f, "  .section .note.GNU-stack,\"\",%%progbits\n");
  return fclose(f) == 0 ? NULL : tcc_status_make(TCC_IO, "cannot write '%s'", path);
}

/* The sizes the GPU calls' tensor maps and conditions refer to for a run, call by call (each call's maps'
 * dims, then its condition's size; call->dims_at and if_dim say where): the host function tcc_call_dims. */
static tcc_status_t emit_call_dims(pack_t *p) {
  p->num_call_dims = 0;
  for (int c = 0; c < p->num_calls; c++) {
    const tcc_gpu_launch_t *l = &p->calls[c].launch;
    p->calls[c].dims_at = p->num_call_dims;
    for (int i = 0; i < l->num_maps; i++) p->num_call_dims += l->maps[i].rank;
    p->calls[c].if_dim = l->size ? ++p->num_call_dims : 0;
  }
  if (!p->num_call_dims) return NULL;
  const tcc_dim_t **dims = calloc((size_t)p->num_call_dims, sizeof *dims);
  if (!dims) return tcc_status_oom();
  int at = 0;
  for (int c = 0; c < p->num_calls; c++) {
    const tcc_gpu_launch_t *l = &p->calls[c].launch;
    for (int i = 0; i < l->num_maps; i++)
      for (int d = 0; d < l->maps[i].rank; d++) dims[at++] = l->maps[i].dims[d];
    if (l->size) dims[at++] = l->size;
  }
  tcc_status_t st = tcc_llvm_emit_dims_fn(p->e, "tcc_call_dims", p->num_call_dims, dims);
  free(dims);
  return st;
}

static tcc_status_t build(pack_t *p, const char *module_path, const char *header_path) {
  tcc_llvm_emit_options_t host = {.bounds_check = p->o->bounds_check, .target = p->host_target};
  TCC_RETURN_IF_ERROR(tcc_llvm_emitter_create(p->o->name, NULL, &host, &p->e));
  for (int t = 0; t < p->num_gpus; t++) {
    tcc_llvm_emit_options_t gpu = {.bounds_check = p->o->bounds_check, .target = p->gpu_target[t], .gpu = true};
    TCC_RETURN_IF_ERROR(tcc_llvm_emitter_create(p->o->name, NULL, &gpu, &p->gpu_e[t]));
  }
  TCC_RETURN_IF_ERROR(plan_calls(p));
  /* per-shape sizes of the arena buffers */
  const tcc_dim_t **numel = calloc((size_t)p->num_buffers + 1, sizeof *numel);
  if (!numel) return tcc_status_oom();
  for (int b = 0; b < p->num_buffers; b++) numel[b] = tcc_type_numel(p->g->module, &p->buffers[b].value->type);
  tcc_status_t st = tcc_llvm_emit_dims_fn(p->e, "tcc_buffer_numel", p->num_buffers, numel);
  free(numel);
  TCC_RETURN_IF_ERROR(st);
  TCC_RETURN_IF_ERROR(emit_call_dims(p));
  TCC_RETURN_IF_ERROR(check_symbols(p, p->e));
  for (int t = 0; t < p->num_gpus; t++) TCC_RETURN_IF_ERROR(check_symbols(p, p->gpu_e[t]));
  hide_functions(tcc_llvm_emitter_module(p->e));
  TCC_RETURN_IF_ERROR(tcc_llvm_emitter_finish(p->e, p->host_target, p->o->optimize));
  char path[128], blob[4200];
  snprintf(path, sizeof path, "%s/kernels.o", p->dir);
  TCC_RETURN_IF_ERROR(tcc_llvm_emitter_write(p->e, p->host_target, TCC_EMIT_OBJ, path));
  const char *ptxas = p->num_gpus ? find_ptxas() : NULL, *env = getenv("TCC_PTXAS");
  if (p->num_gpus && !ptxas)
    printf("note: %s: the module holds PTX only, which the driver compiles when it loads\n",
           env && strcmp(env, "none") == 0 ? "TCC_PTXAS=none" : "ptxas was not found (TCC_PTXAS, /usr/local/cuda/bin/ptxas)");
  for (int t = 0; t < p->num_gpus; t++) TCC_RETURN_IF_ERROR(write_gpu_images(p, t, ptxas));
  if (p->num_gpus) TCC_RETURN_IF_ERROR(write_images_asm(p));
  if (p->o->external_weights) {
    snprintf(blob, sizeof blob, "%s", module_path);
    char *slash = strrchr(blob, '/');
    snprintf(slash ? slash + 1 : blob, sizeof blob - (size_t)(slash ? slash + 1 - blob : 0), "%s.weights", p->o->name);
  } else {
    snprintf(blob, sizeof blob, "%s/weights.bin", p->dir);
  }
  TCC_RETURN_IF_ERROR(write_weights(p, blob));
  if (!p->o->external_weights) TCC_RETURN_IF_ERROR(write_weights_asm(p, blob));
  snprintf(path, sizeof path, "%s/module.c", p->dir);
  TCC_RETURN_IF_ERROR(write_module_c(p, path));
  if (header_path) TCC_RETURN_IF_ERROR(write_header(p, header_path));
  return link_module(p, module_path);
}

/* o->target: a CPU target, or one or more GPU targets separated by commas (p's GPU targets; the host
 * part of such a module is built for a baseline of the host's architecture). */
static tcc_status_t parse_targets(pack_t *p, char *list) {
  p->host_target = p->o->target;
  if (tcc_cpu_target_find(p->o->target)) return NULL;
  for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (!tcc_gpu_target_find(t))
      return tcc_status_make(TCC_INVALID_ARGUMENT, "'%s' is neither a CPU target nor a list of GPU targets (%s is not a "
                             "GPU target)", p->o->target, t);
    for (int i = 0; i < p->num_gpus; i++)
      if (strcmp(p->gpu_target[i], t) == 0) return tcc_status_make(TCC_INVALID_ARGUMENT, "target '%s' is listed twice", t);
    if (p->num_gpus == MAX_GPU_TARGETS)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "at most %d GPU targets in one module", MAX_GPU_TARGETS);
    p->gpu_target[p->num_gpus++] = t;
  }
  if (!p->num_gpus) return tcc_status_make(TCC_INVALID_ARGUMENT, "'%s' is not a target", p->o->target);
#if defined(__aarch64__)
  p->host_target = "aarch64";
#else
  p->host_target = "x86-64-v3";
#endif
  return NULL;
}

tcc_status_t tcc_package_build(tcc_graph_t *g, const tcc_package_options_t *options, const char *module_path,
                               const char *header_path) {
  tcc_package_options_t o = options ? *options : tcc_package_defaults();
  if (!o.target) o.target = "native";
  if (!o.name) o.name = "model";
  bool ident = (isalpha((unsigned char)o.name[0]) || o.name[0] == '_') && strlen(o.name) < 128;
  for (const char *s = o.name; ident && *s; s++) ident = isalnum((unsigned char)*s) || *s == '_';
  if (!ident) return tcc_status_make(TCC_INVALID_ARGUMENT, "the model name '%s' is not a C identifier", o.name);
  pack_t p = {.g = g, .o = &o};
  char targets[256];
  snprintf(targets, sizeof targets, "%s", o.target);
  TCC_RETURN_IF_ERROR(parse_targets(&p, targets));
  p.place = malloc((size_t)(g->module->next_id + 1) * sizeof *p.place);
  p.inputs = calloc(g->num_inputs + 1, sizeof *p.inputs);
  if (!p.place || !p.inputs) {
    free(p.place), free(p.inputs);
    return tcc_status_oom();
  }
  for (uint32_t i = 0; i <= g->module->next_id; i++) p.place[i] = (place_t){-1, 0, 0};
  const char *tmp = getenv("TMPDIR");
  snprintf(p.dir, sizeof p.dir, "%.40s/tcc-XXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
  tcc_status_t st = mkdtemp(p.dir) ? NULL : tcc_status_make(TCC_IO, "cannot create a temporary directory: %s", strerror(errno));
  if (!st) st = build(&p, module_path, header_path);
  if (!st && o.keep_temps) printf("intermediate files kept in %s\n", p.dir);
  else if (p.dir[0] && !strstr(p.dir, "XXXXXX")) remove_dir(p.dir);
  tcc_llvm_emitter_destroy(p.e);
  for (int t = 0; t < p.num_gpus; t++) tcc_llvm_emitter_destroy(p.gpu_e[t]);
  for (int i = 0; i < p.num_calls; i++) free(p.calls[i].args), free((char *)p.calls[i].symbol);
  free(p.calls), free(p.buffers), free(p.weights), free(p.weight_offset), free(p.place), free(p.inputs);
  return st;
}
