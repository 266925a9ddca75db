/* The CUDA driver API, opened at run time: libcuda.so.1 through dlopen, so that nothing links against
 * CUDA and a machine without a GPU or driver gets a clear status instead of a loader error.
 *
 *   const tcc_cuda_t *cu;
 *   TCC_RETURN_IF_ERROR(tcc_cuda_open(&cu));       // dlopen + dlsym + cuInit, once per process
 *   TCC_RETURN_IF_ERROR(tcc_cuda_check(cu, cu->MemAlloc(&p, bytes), "cuMemAlloc"));
 *
 * Only the declarations the runtime uses are here, with the driver's ABI (cuda.h's types and values);
 * the versioned entry points (cuMemAlloc_v2 ...) are the ones cuda.h maps the plain names to.
 * Thread-safety: tcc_cuda_open is thread-safe; the table is immutable afterwards. */
#ifndef TCC_RUNTIME_CUDA_DRIVER_H
#define TCC_RUNTIME_CUDA_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef int CUresult; /* 0: CUDA_SUCCESS */
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;
/* CUtensorMap: 128 opaque bytes aligned to 64. */
typedef struct {
  _Alignas(64) uint64_t opaque[16];
} tcc_cu_tensor_map_t;

enum {
  TCC_CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
  TCC_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
  TCC_CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR = 39,
  TCC_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  TCC_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  TCC_CU_STREAM_NON_BLOCKING = 1,
  TCC_CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1,
  TCC_CU_JIT_INFO_LOG_BUFFER = 3,
  TCC_CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4,
  TCC_CU_JIT_ERROR_LOG_BUFFER = 5,
  TCC_CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
  TCC_CU_LIMIT_MALLOC_HEAP_SIZE = 2,
  TCC_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
  TCC_CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH = 11,
  TCC_CU_ERROR_NO_DEVICE = 100,
  /* CUtensorMapDataType, CUtensorMapSwizzle (NONE 0, 32B 1, 64B 2, 128B 3), CUtensorMapL2promotion */
  TCC_CU_TENSOR_MAP_DATA_TYPE_FLOAT16 = 6,
  TCC_CU_TENSOR_MAP_DATA_TYPE_FLOAT32 = 7,
  TCC_CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 = 9,
  TCC_CU_TENSOR_MAP_L2_PROMOTION_128B = 2,
};

typedef struct {
  CUresult (*Init)(unsigned flags);
  CUresult (*DriverGetVersion)(int *version);
  CUresult (*GetErrorName)(CUresult error, const char **name);
  CUresult (*GetErrorString)(CUresult error, const char **text);
  CUresult (*DeviceGetCount)(int *count);
  CUresult (*DeviceGet)(CUdevice *device, int ordinal);
  CUresult (*DeviceGetName)(char *name, int len, CUdevice device);
  CUresult (*DeviceGetAttribute)(int *value, int attribute, CUdevice device);
  CUresult (*DevicePrimaryCtxRetain)(CUcontext *ctx, CUdevice device);
  CUresult (*DevicePrimaryCtxRelease)(CUdevice device);
  CUresult (*CtxSetCurrent)(CUcontext ctx);
  CUresult (*CtxGetLimit)(size_t *value, int limit);
  CUresult (*CtxSetLimit)(int limit, size_t value);
  CUresult (*StreamCreate)(CUstream *stream, unsigned flags);
  CUresult (*StreamDestroy)(CUstream stream);
  CUresult (*StreamSynchronize)(CUstream stream);
  CUresult (*StreamBeginCapture)(CUstream stream, int mode);
  CUresult (*StreamEndCapture)(CUstream stream, CUgraph *graph);
  CUresult (*ModuleLoadDataEx)(CUmodule *module, const void *image, unsigned num_options, int *options,
                               void **values);
  CUresult (*ModuleUnload)(CUmodule module);
  CUresult (*ModuleGetFunction)(CUfunction *fn, CUmodule module, const char *name);
  CUresult (*FuncSetAttribute)(CUfunction fn, int attribute, int value);
  CUresult (*FuncGetAttribute)(int *value, int attribute, CUfunction fn);
  CUresult (*OccupancyMaxActiveBlocksPerMultiprocessor)(int *blocks, CUfunction fn, int block_size,
                                                        size_t dynamic_shared_bytes);
  CUresult (*MemAlloc)(CUdeviceptr *ptr, size_t bytes);
  CUresult (*MemFree)(CUdeviceptr ptr);
  CUresult (*MemcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t bytes, CUstream stream);
  CUresult (*MemcpyDtoHAsync)(void *dst, CUdeviceptr src, size_t bytes, CUstream stream);
  CUresult (*MemsetD32Async)(CUdeviceptr dst, unsigned value, size_t count, CUstream stream);
  CUresult (*LaunchKernel)(CUfunction fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                           unsigned bz, unsigned shared_bytes, CUstream stream, void **params, void **extra);
  CUresult (*EventCreate)(CUevent *event, unsigned flags);
  CUresult (*EventDestroy)(CUevent event);
  CUresult (*EventRecord)(CUevent event, CUstream stream);
  CUresult (*EventElapsedTime)(float *ms, CUevent start, CUevent end);
  CUresult (*GraphInstantiate)(CUgraphExec *exec, CUgraph graph, unsigned long long flags);
  CUresult (*GraphLaunch)(CUgraphExec exec, CUstream stream);
  CUresult (*GraphExecDestroy)(CUgraphExec exec);
  CUresult (*GraphDestroy)(CUgraph graph);
  CUresult (*TensorMapEncodeTiled)(tcc_cu_tensor_map_t *map, int dtype, uint32_t rank, void *address,
                                   const uint64_t *dims, const uint64_t *strides, const uint32_t *box,
                                   const uint32_t *element_strides, int interleave, int swizzle, int l2_promotion,
                                   int oob_fill);
} tcc_cuda_t;

/* The driver's table, opened and initialized once (later calls return the same table or the same error):
 * TCC_UNSUPPORTED when libcuda.so.1 cannot be opened (no NVIDIA driver) or lacks an entry point, or when
 * cuInit fails (the driver's message, e.g. no CUDA-capable device). TCC_CUDA_DRIVER names another
 * library to open instead of libcuda.so.1. */
TCC_MUST_USE tcc_status_t tcc_cuda_open(const tcc_cuda_t **out);

/* NULL for CUDA_SUCCESS, else a status (TCC_OUT_OF_MEMORY for out-of-memory, TCC_INTERNAL otherwise)
 * carrying what failed and the driver's error name and text. */
TCC_MUST_USE tcc_status_t tcc_cuda_check(const tcc_cuda_t *cu, CUresult rc, const char *what);

#endif
