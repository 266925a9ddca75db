/* The device side of a GPU module's session: context and stream, the image that fits the device, weights
 * uploaded once, device memory for the inputs and the arena, and the plan captured into a CUDA graph per
 * binding of the symbols and replayed (contract in runtime/runtime_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cuda_driver.h"
#include "runtime/runtime_internal.h"

/* The device heap that kernels with temporaries of run-time size (malloc in device code, one block per
 * thread that runs them) get; the driver's default is 8 MB. */
enum { GRAPH_CACHE_SIZE = 8, DEVICE_ALIGNMENT = 256, MALLOC_HEAP_BYTES = 256 << 20 };

typedef struct {
  int64_t *symbols; /* the key: num_symbols values */
  CUgraphExec exec;
  uint64_t last_used;
} graph_entry_t;

/* Device memory that grows on demand (contents are not kept). */
typedef struct {
  CUdeviceptr ptr;
  int64_t bytes;
} device_block_t;

struct tcc_rt_gpu {
  const tcc_cuda_t *cu;
  const tcc_rt_module_t *m;
  CUdevice device;
  CUcontext ctx;
  CUstream stream;
  CUmodule module;
  CUfunction *functions; /* per call */
  int *grids;            /* per call: blocks launched */
  int sm_count, threads_per_sm;
  char name[128];
  device_block_t weights, inputs, arena, ctx_block; /* ctx_block: kernel ctx + symbols + error word */
  void *host_outputs;    /* session-owned output buffer */
  int64_t host_output_bytes;
  uintptr_t *input_addr; /* per input */
  uintptr_t *args;       /* the arguments of the launch being built (max_args + 2) */
  tcc_cu_tensor_map_t *maps; /* ... its tensor maps (max_tensor_maps) */
  void **params;         /* pointers to both, as cuLaunchKernel takes them */
  int64_t *call_dims;    /* the sizes the calls' tensor maps and conditions refer to, this run's */
  uint8_t *head;         /* the host copy of ctx_block */
  graph_entry_t graphs[GRAPH_CACHE_SIZE];
  int num_graphs;
  uint64_t clock;
  CUevent start, end;    /* the last run's span */
  CUevent *call_events;  /* when profiling: each call's start and end (2 x num_calls) */
  bool *ran;             /* ... and whether it ran in the last run (its condition held) */
  double *call_ms;
  double last_ms;
};

#define CU(g, call, what) TCC_RETURN_IF_ERROR(tcc_cuda_check((g)->cu, (call), (what)))

static int64_t align_up(int64_t n, int64_t a) { return (n + a - 1) / a * a; }

/* ctx_block: the kernel context, the symbols' values, the error word the kernels OR their codes into. */
static size_t error_word_offset(const tcc_module_desc_t *d) {
  return sizeof(tcc_module_kernel_ctx_t) + 8 * (size_t)d->num_symbols;
}

static void drop_graphs(tcc_rt_gpu_t *g) {
  for (int i = 0; i < g->num_graphs; i++) {
    g->cu->GraphExecDestroy(g->graphs[i].exec);
    free(g->graphs[i].symbols);
  }
  g->num_graphs = 0;
}

/* Makes block hold at least `bytes`; a new allocation invalidates the captured graphs. */
static tcc_status_t reserve(tcc_rt_gpu_t *g, device_block_t *block, int64_t bytes, const char *what) {
  if (bytes <= block->bytes) return NULL;
  drop_graphs(g);
  if (block->ptr) g->cu->MemFree(block->ptr);
  block->ptr = 0, block->bytes = 0;
  char label[96];
  snprintf(label, sizeof label, "cuMemAlloc of %lld bytes for the %s", (long long)bytes, what);
  CU(g, g->cu->MemAlloc(&block->ptr, (size_t)bytes), label);
  block->bytes = bytes;
  return NULL;
}

/* ---- images ---- */

/* "sm_90a" -> 90, *specific = true; -1 when not an sm_ name. */
static int arch_number(const char *arch, bool *specific) {
  int n = 0, digits = 0;
  if (!arch || strncmp(arch, "sm_", 3) != 0) return -1;
  const char *p = arch + 3;
  for (; *p >= '0' && *p <= '9'; p++, digits++) n = n * 10 + (*p - '0');
  *specific = *p == 'a';
  return digits ? n : -1;
}

/* The image to load on a device of compute capability cc (major * 10 + minor): the cubin of exactly that
 * architecture, else a cubin of the same major and an older minor (arch-specific ones only on their
 * own), else the PTX of the newest architecture up to cc. */
static const tcc_module_gpu_image_t *pick_image(const tcc_module_desc_t *d, int cc) {
  const tcc_module_gpu_image_t *best = NULL;
  int best_rank = 0;
  for (int32_t i = 0; i < d->num_gpu_images; i++) {
    const tcc_module_gpu_image_t *im = &d->gpu_images[i];
    bool specific;
    int arch = arch_number(im->arch, &specific);
    if (arch < 0 || arch > cc || (specific && arch != cc)) continue;
    int rank = 0;
    if (im->kind == TCC_MODULE_IMAGE_CUBIN && arch == cc) rank = 3000 + specific;
    else if (im->kind == TCC_MODULE_IMAGE_CUBIN && arch / 10 == cc / 10 && !specific) rank = 2000 + arch;
    else if (im->kind == TCC_MODULE_IMAGE_PTX) rank = 1000 + arch;
    if (rank > best_rank) best = im, best_rank = rank;
  }
  return best;
}

static tcc_status_t load_image(tcc_rt_gpu_t *g, int cc) {
  const tcc_module_desc_t *d = g->m->desc;
  const tcc_module_gpu_image_t *im = pick_image(d, cc);
  if (!im) {
    char have[256] = "";
    for (int32_t i = 0; i < d->num_gpu_images; i++)
      snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s %s", i ? ", " : "", d->gpu_images[i].arch,
               d->gpu_images[i].kind == TCC_MODULE_IMAGE_CUBIN ? "cubin" : "PTX");
    return tcc_status_make(TCC_UNSUPPORTED, "module '%s' has no code for this GPU (%s, sm_%d): it holds %s; compile "
                           "it with -target sm_%d", d->name, g->name, cc, have[0] ? have : "nothing", cc);
  }
  char log[4096] = "";
  int options[] = {TCC_CU_JIT_ERROR_LOG_BUFFER, TCC_CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {log, (void *)(uintptr_t)sizeof log};
  CUresult rc = g->cu->ModuleLoadDataEx(&g->module, im->data, 2, options, values);
  if (rc) {
    tcc_status_t st = tcc_cuda_check(g->cu, rc, im->kind == TCC_MODULE_IMAGE_PTX ? "loading the module's PTX" : "loading the module's cubin");
    return log[0] ? tcc_status_annotate(st, "module '%s' (%s): %s: ", d->name, im->arch, log) : st;
  }
  if (memmem(im->data, (size_t)im->bytes, "malloc", 6)) { /* before any launch of the context */
    size_t heap = 0;
    CU(g, g->cu->CtxGetLimit(&heap, TCC_CU_LIMIT_MALLOC_HEAP_SIZE), "cuCtxGetLimit");
    if (heap < MALLOC_HEAP_BYTES)
      CU(g, g->cu->CtxSetLimit(TCC_CU_LIMIT_MALLOC_HEAP_SIZE, MALLOC_HEAP_BYTES), "setting the GPU's malloc heap size");
  }
  for (int32_t c = 0; c < d->num_calls; c++) {
    const tcc_module_call_t *call = &d->calls[c];
    char what[300];
    snprintf(what, sizeof what, "module '%.80s': kernel '%.150s' (cuModuleGetFunction)", d->name, call->gpu_entry);
    CU(g, g->cu->ModuleGetFunction(&g->functions[c], g->module, call->gpu_entry), what);
    snprintf(what, sizeof what, "kernel '%.150s': %d bytes of shared memory", call->gpu_entry, (int)call->gpu_shared);
    if (call->gpu_shared > 48 << 10) /* above 48 KB only on request */
      CU(g, g->cu->FuncSetAttribute(g->functions[c], TCC_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, call->gpu_shared), what);
    /* the blocks of a grid-stride launch: as many as the device holds at once */
    int per_sm = 0;
    int block = call->gpu_block > 0 ? call->gpu_block : 256;
    if (call->gpu_grid == 0)
      CU(g, g->cu->OccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, g->functions[c], block, (size_t)call->gpu_shared), what);
    g->grids[c] = call->gpu_grid > 0 ? call->gpu_grid : g->sm_count * (per_sm > 0 ? per_sm : 1);
    /* a kernel made for clusters (.reqnctapercluster) takes whole clusters */
    int cluster = 0;
    CU(g, g->cu->FuncGetAttribute(&cluster, TCC_CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH, g->functions[c]), what);
    if (cluster > 1 && call->gpu_grid == 0) g->grids[c] = g->grids[c] / cluster > 0 ? g->grids[c] / cluster * cluster : cluster;
  }
  return NULL;
}

/* ---- create / destroy ---- */

void tcc_rt_gpu_destroy(tcc_rt_gpu_t *g) {
  if (!g) return;
  const tcc_cuda_t *cu = g->cu;
  if (g->ctx) {
    cu->CtxSetCurrent(g->ctx);
    drop_graphs(g);
    if (g->stream) cu->StreamSynchronize(g->stream);
    device_block_t *blocks[] = {&g->weights, &g->inputs, &g->arena, &g->ctx_block};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
      if (blocks[i]->ptr) cu->MemFree(blocks[i]->ptr);
    if (g->call_events)
      for (int32_t c = 0; c < 2 * g->m->desc->num_calls; c++)
        if (g->call_events[c]) cu->EventDestroy(g->call_events[c]);
    if (g->start) cu->EventDestroy(g->start);
    if (g->end) cu->EventDestroy(g->end);
    if (g->module) cu->ModuleUnload(g->module);
    if (g->stream) cu->StreamDestroy(g->stream);
    cu->DevicePrimaryCtxRelease(g->device);
  }
  free(g->functions), free(g->grids), free(g->input_addr), free(g->args), free(g->params), free(g->head);
  free(g->maps), free(g->call_dims);
  free(g->call_events), free(g->ran), free(g->call_ms);
  free(g->host_outputs);
  free(g);
}

static tcc_status_t open_device(tcc_rt_gpu_t *g, int ordinal, int *cc) {
  const tcc_cuda_t *cu = g->cu;
  int count = 0;
  CU(g, cu->DeviceGetCount(&count), "cuDeviceGetCount");
  if (ordinal < 0 || ordinal >= count)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "CUDA device %d does not exist: this machine has %d", ordinal, count);
  CU(g, cu->DeviceGet(&g->device, ordinal), "cuDeviceGet");
  CU(g, cu->DeviceGetName(g->name, (int)sizeof g->name - 1, g->device), "cuDeviceGetName");
  int major = 0, minor = 0;
  CU(g, cu->DeviceGetAttribute(&major, TCC_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, g->device), "cuDeviceGetAttribute");
  CU(g, cu->DeviceGetAttribute(&minor, TCC_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, g->device), "cuDeviceGetAttribute");
  CU(g, cu->DeviceGetAttribute(&g->sm_count, TCC_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, g->device), "cuDeviceGetAttribute");
  CU(g, cu->DeviceGetAttribute(&g->threads_per_sm, TCC_CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, g->device),
     "cuDeviceGetAttribute");
  *cc = major * 10 + minor;
  CU(g, cu->DevicePrimaryCtxRetain(&g->ctx, g->device), "cuDevicePrimaryCtxRetain");
  CU(g, cu->CtxSetCurrent(g->ctx), "cuCtxSetCurrent");
  CU(g, cu->StreamCreate(&g->stream, TCC_CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  CU(g, cu->EventCreate(&g->start, 0), "cuEventCreate");
  CU(g, cu->EventCreate(&g->end, 0), "cuEventCreate");
  return NULL;
}

static tcc_status_t setup(tcc_rt_gpu_t *g, int ordinal, bool profile) {
  const tcc_module_desc_t *d = g->m->desc;
  int cc = 0;
  TCC_RETURN_IF_ERROR(open_device(g, ordinal, &cc));
  TCC_RETURN_IF_ERROR(load_image(g, cc));
  if (profile) {
    for (int32_t c = 0; c < 2 * d->num_calls; c++) CU(g, g->cu->EventCreate(&g->call_events[c], 0), "cuEventCreate");
  }
  /* the kernel context, the symbols and the error word */
  TCC_RETURN_IF_ERROR(reserve(g, &g->ctx_block, (int64_t)error_word_offset(d) + 8, "kernel context"));
  if (d->weights_bytes > 0) {
    TCC_RETURN_IF_ERROR(reserve(g, &g->weights, d->weights_bytes, "weights"));
    CU(g, g->cu->MemcpyHtoDAsync(g->weights.ptr, g->m->weights, (size_t)d->weights_bytes, g->stream), "uploading the weights");
    CU(g, g->cu->StreamSynchronize(g->stream), "uploading the weights");
  }
  return NULL;
}

tcc_status_t tcc_rt_gpu_create(const tcc_rt_module_t *m, int ordinal, bool profile, tcc_rt_gpu_t **out) {
  *out = NULL;
  const tcc_cuda_t *cu;
  TCC_RETURN_IF_ERROR(tcc_status_annotate(tcc_cuda_open(&cu), "module '%s' is built for the GPU: ", m->desc->name));
  const tcc_module_desc_t *d = m->desc;
  tcc_rt_gpu_t *g = calloc(1, sizeof *g);
  if (!g) return tcc_status_oom();
  g->cu = cu;
  g->m = m;
  g->functions = calloc((size_t)d->num_calls + 1, sizeof *g->functions);
  g->grids = calloc((size_t)d->num_calls + 1, sizeof *g->grids);
  g->input_addr = calloc((size_t)d->num_inputs + 1, sizeof *g->input_addr);
  g->args = calloc((size_t)m->max_args + 2, sizeof *g->args);
  g->params = calloc((size_t)m->max_args + 2 + (size_t)m->max_tensor_maps, sizeof *g->params);
  g->maps = aligned_alloc(64, sizeof *g->maps * ((size_t)m->max_tensor_maps + 1));
  g->call_dims = calloc((size_t)d->num_call_dims + 1, sizeof *g->call_dims);
  g->head = calloc(1, error_word_offset(d) + 8);
  if (profile) {
    g->call_events = calloc(2 * (size_t)d->num_calls + 1, sizeof *g->call_events);
    g->ran = calloc((size_t)d->num_calls + 1, sizeof *g->ran);
    g->call_ms = calloc((size_t)d->num_calls + 1, sizeof *g->call_ms);
  }
  tcc_status_t st = !g->functions || !g->grids || !g->input_addr || !g->args || !g->params || !g->maps || !g->call_dims ||
                            !g->head || (profile && (!g->call_events || !g->ran || !g->call_ms))
                        ? tcc_status_oom()
                        : setup(g, ordinal, profile);
  if (st) {
    tcc_rt_gpu_destroy(g);
    return st;
  }
  *out = g;
  return NULL;
}

/* ---- runs ---- */

/* Tensor map i of call c over its argument's device address (g->args), with this run's dims (a dim of
 * 0, an empty tensor the kernel does not read, is encoded as 1). */
static tcc_status_t encode_map(tcc_rt_gpu_t *g, const tcc_module_call_t *call, int32_t c, int32_t i) {
  const tcc_module_tensor_map_t *t = &call->tensor_maps[i];
  int dtype = t->dtype == 1 ? TCC_CU_TENSOR_MAP_DATA_TYPE_FLOAT32 : t->dtype == 10 ? TCC_CU_TENSOR_MAP_DATA_TYPE_FLOAT16
                                                                                  : TCC_CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
  uint64_t stride = t->dtype == 1 ? 4 : 2, dims[TCC_MODULE_MAX_MAP_RANK], strides[TCC_MODULE_MAX_MAP_RANK];
  uint32_t box[TCC_MODULE_MAX_MAP_RANK], steps[TCC_MODULE_MAX_MAP_RANK];
  for (int32_t d = 0; d < t->rank; d++) {
    int64_t n = g->call_dims[t->dims + d];
    dims[d] = n > 0 ? (uint64_t)n : 1;
    stride *= dims[d];
    strides[d] = stride; /* of dim d + 1 */
    box[d] = (uint32_t)t->box[d], steps[d] = 1;
  }
  int swizzle = t->swizzle == 128 ? 3 : t->swizzle == 64 ? 2 : t->swizzle == 32 ? 1 : 0;
  char what[200];
  snprintf(what, sizeof what, "kernel '%.60s' (call %d): encoding tensor map %d over argument %d at 0x%llx",
           call->name ? call->name : "?", c + 1, i, t->arg, (unsigned long long)g->args[t->arg]);
  CU(g, g->cu->TensorMapEncodeTiled(&g->maps[i], dtype, (uint32_t)t->rank, (void *)g->args[t->arg], dims, strides, box,
                                    steps, 0, swizzle, TCC_CU_TENSOR_MAP_L2_PROMOTION_128B, 0), what);
  return NULL;
}

/* Launches call c (its arguments resolved against the device places). */
static tcc_status_t launch(tcc_rt_gpu_t *g, const tcc_rt_places_t *places, const tcc_rt_plan_entry_t *plan, int32_t c) {
  const tcc_module_desc_t *d = g->m->desc;
  const tcc_module_call_t *call = &d->calls[c];
  int32_t n = call->num_args;
  for (int32_t a = 0; a < n; a++) {
    char what[128];
    snprintf(what, sizeof what, "kernel '%.60s' argument %d", call->name ? call->name : "?", a);
    TCC_RETURN_IF_ERROR(tcc_rt_resolve(d, places, plan, &call->args[a], 0, what, &g->args[a]));
  }
  g->args[n] = (uintptr_t)g->ctx_block.ptr;
  g->args[n + 1] = (uintptr_t)g->ctx_block.ptr + error_word_offset(d);
  for (int32_t a = 0; a < n + 2; a++) g->params[a] = &g->args[a];
  for (int32_t i = 0; i < call->num_tensor_maps; i++) {
    TCC_RETURN_IF_ERROR(encode_map(g, call, c, i));
    g->params[n + 2 + i] = &g->maps[i];
  }
  int block = call->gpu_block > 0 ? call->gpu_block : 256;
  char what[128];
  snprintf(what, sizeof what, "launching kernel '%.60s' (call %d)", call->name ? call->name : "?", c + 1);
  CU(g, g->cu->LaunchKernel(g->functions[c], (unsigned)g->grids[c], 1, 1, (unsigned)block, 1, 1,
                            (unsigned)call->gpu_shared, g->stream, g->params, NULL), what);
  return NULL;
}

static tcc_status_t launch_all(tcc_rt_gpu_t *g, const tcc_rt_places_t *places, const tcc_rt_plan_entry_t *plan) {
  const tcc_module_desc_t *d = g->m->desc;
  for (int32_t c = 0; c < d->num_calls; c++) {
    const tcc_module_call_t *call = &d->calls[c];
    int64_t size = call->if_dim > 0 ? g->call_dims[call->if_dim - 1] : 0;
    bool runs = !call->if_dim || (size >= call->if_min && size <= call->if_max);
    if (g->ran) g->ran[c] = runs;
    if (!runs) continue;
    if (g->call_events) CU(g, g->cu->EventRecord(g->call_events[2 * c], g->stream), "cuEventRecord");
    TCC_RETURN_IF_ERROR(launch(g, places, plan, c));
    if (g->call_events) CU(g, g->cu->EventRecord(g->call_events[2 * c + 1], g->stream), "cuEventRecord");
  }
  return NULL;
}

/* The graph of the plan for `symbols`, from the cache or captured now. */
static tcc_status_t graph_for(tcc_rt_gpu_t *g, const tcc_rt_places_t *places, const tcc_rt_plan_entry_t *plan,
                              const int64_t *symbols, CUgraphExec *out) {
  int32_t ns = g->m->desc->num_symbols;
  size_t key_bytes = sizeof(int64_t) * (size_t)ns;
  for (int i = 0; i < g->num_graphs; i++)
    if (!ns || memcmp(g->graphs[i].symbols, symbols, key_bytes) == 0) {
      g->graphs[i].last_used = ++g->clock;
      *out = g->graphs[i].exec;
      return NULL;
    }
  CU(g, g->cu->StreamBeginCapture(g->stream, TCC_CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture");
  tcc_status_t st = launch_all(g, places, plan);
  CUgraph graph = NULL;
  CUresult rc = g->cu->StreamEndCapture(g->stream, &graph);
  if (!st) st = tcc_cuda_check(g->cu, rc, "cuStreamEndCapture");
  CUgraphExec exec = NULL;
  if (!st) st = tcc_cuda_check(g->cu, g->cu->GraphInstantiate(&exec, graph, 0), "cuGraphInstantiate");
  if (graph) g->cu->GraphDestroy(graph);
  TCC_RETURN_IF_ERROR(st);
  int64_t *key = malloc(key_bytes + 1);
  if (!key) {
    g->cu->GraphExecDestroy(exec);
    return tcc_status_oom();
  }
  if (ns) memcpy(key, symbols, key_bytes);
  int slot = g->num_graphs;
  if (slot == GRAPH_CACHE_SIZE) { /* replace the least recently used */
    slot = 0;
    for (int i = 1; i < g->num_graphs; i++)
      if (g->graphs[i].last_used < g->graphs[slot].last_used) slot = i;
    g->cu->GraphExecDestroy(g->graphs[slot].exec);
    free(g->graphs[slot].symbols);
  } else {
    g->num_graphs++;
  }
  g->graphs[slot] = (graph_entry_t){key, exec, ++g->clock};
  *out = exec;
  return NULL;
}

tcc_status_t tcc_rt_gpu_run(tcc_rt_gpu_t *g, const tcc_rt_plan_entry_t *plan, const int64_t *symbols,
                            const tcc_rt_tensor_t *inputs, const int64_t *in_bytes, tcc_rt_tensor_t *outputs,
                            const int64_t *out_bytes) {
  const tcc_cuda_t *cu = g->cu;
  const tcc_module_desc_t *d = g->m->desc;
  CU(g, cu->CtxSetCurrent(g->ctx), "cuCtxSetCurrent");
  /* device memory for this shape */
  int64_t input_total = 0;
  for (int32_t i = 0; i < d->num_inputs; i++) input_total += align_up(in_bytes[i], DEVICE_ALIGNMENT);
  TCC_RETURN_IF_ERROR(reserve(g, &g->inputs, input_total, "inputs"));
  TCC_RETURN_IF_ERROR(reserve(g, &g->arena, plan->arena_bytes, "arena"));
  int64_t at = 0, host_total = 0;
  for (int32_t i = 0; i < d->num_inputs; i++) {
    g->input_addr[i] = (uintptr_t)g->inputs.ptr + (uintptr_t)at;
    at += align_up(in_bytes[i], DEVICE_ALIGNMENT);
  }
  for (int32_t i = 0; i < d->num_outputs; i++)
    if (!outputs[i].data) host_total += align_up(out_bytes[i], 64);
  if (host_total > g->host_output_bytes) {
    free(g->host_outputs);
    g->host_output_bytes = 0;
    if (!(g->host_outputs = malloc((size_t)host_total))) return tcc_status_oom();
    g->host_output_bytes = host_total;
  }
  tcc_rt_places_t places = {g->input_addr, in_bytes, (uintptr_t)g->weights.ptr, (uintptr_t)g->arena.ptr};

  /* inputs, symbols and the error word in; the plan; outputs and the error word out */
  CU(g, cu->EventRecord(g->start, g->stream), "cuEventRecord");
  for (int32_t i = 0; i < d->num_inputs; i++)
    if (in_bytes[i]) CU(g, cu->MemcpyHtoDAsync(g->input_addr[i], inputs[i].data, (size_t)in_bytes[i], g->stream), "copying an input to the GPU");
  /* pageable copies: the source is consumed when the call returns */
  tcc_module_kernel_ctx_t ctx = {.symbols = (const int64_t *)(uintptr_t)(g->ctx_block.ptr + sizeof ctx)};
  size_t head_bytes = error_word_offset(d) + 8;
  memset(g->head, 0, head_bytes); /* the error word is 0 */
  memcpy(g->head, &ctx, sizeof ctx);
  if (d->num_symbols) memcpy(g->head + sizeof ctx, symbols, 8 * (size_t)d->num_symbols);
  CU(g, cu->MemcpyHtoDAsync(g->ctx_block.ptr, g->head, head_bytes, g->stream), "copying the symbols to the GPU");
  if (d->call_dims) d->call_dims(symbols, g->call_dims);
  if (g->call_events) {
    TCC_RETURN_IF_ERROR(launch_all(g, &places, plan));
  } else {
    CUgraphExec exec = NULL;
    TCC_RETURN_IF_ERROR(graph_for(g, &places, plan, symbols, &exec));
    CU(g, cu->GraphLaunch(exec, g->stream), "cuGraphLaunch");
  }
  uint8_t *host = g->host_outputs;
  for (int32_t i = 0; i < d->num_outputs; i++) {
    uintptr_t src;
    TCC_RETURN_IF_ERROR(tcc_rt_resolve(d, &places, plan, &d->output_sources[i], out_bytes[i], "output", &src));
    if (!outputs[i].data) outputs[i].data = host, host += align_up(out_bytes[i], 64);
    if (out_bytes[i]) CU(g, cu->MemcpyDtoHAsync(outputs[i].data, (CUdeviceptr)src, (size_t)out_bytes[i], g->stream), "copying an output from the GPU");
  }
  int32_t error_word = 0;
  CU(g, cu->MemcpyDtoHAsync(&error_word, g->ctx_block.ptr + error_word_offset(d), sizeof error_word, g->stream),
     "reading the kernels' error word");
  CU(g, cu->EventRecord(g->end, g->stream), "cuEventRecord");
  CU(g, cu->StreamSynchronize(g->stream), "running the model on the GPU");
  float ms = 0;
  CU(g, cu->EventElapsedTime(&ms, g->start, g->end), "cuEventElapsedTime");
  g->last_ms = ms;
  for (int32_t c = 0; g->call_events && c < d->num_calls; c++) {
    if (!g->ran[c]) continue;
    CU(g, cu->EventElapsedTime(&ms, g->call_events[2 * c], g->call_events[2 * c + 1]), "cuEventElapsedTime");
    g->call_ms[c] += ms;
  }
  if (error_word) /* the bits of codegen/llvm_emit.h's TCC_KERNEL_ERR_ */
    return tcc_status_make(error_word & 4 ? TCC_OUT_OF_MEMORY : TCC_INVALID_ARGUMENT,
                           "model '%s': a kernel failed with code %d:%s%s%s%s", d->name, (int)error_word,
                           error_word & 1 ? " an integer division by zero" : "",
                           error_word & 2 ? " an index out of range" : "",
                           error_word & 4 ? " the GPU's malloc heap could not hold a kernel's temporaries" : "",
                           error_word & 8 ? " a runtime function failed" : "");
  return NULL;
}

double tcc_rt_gpu_last_ms(const tcc_rt_gpu_t *g) { return g->last_ms; }
double tcc_rt_gpu_call_ms(const tcc_rt_gpu_t *g, int i) { return g->call_ms ? g->call_ms[i] : 0; }
const char *tcc_rt_gpu_device_name(const tcc_rt_gpu_t *g) { return g->name; }
