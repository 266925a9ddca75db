/* The CUDA driver API through dlopen (contract in runtime/cuda_driver.h). */
#include "runtime/cuda_driver.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tcc_cuda_t driver;
static char open_error[512];
static pthread_once_t open_once = PTHREAD_ONCE_INIT;

/* Each entry: the table slot and the exported names to try, newest first. */
#define ENTRY(field, ...) {(void **)&driver.field, {__VA_ARGS__, NULL}}
static const struct {
  void **slot;
  const char *names[3];
} ENTRIES[] = {
    ENTRY(Init, "cuInit"),
    ENTRY(DriverGetVersion, "cuDriverGetVersion"),
    ENTRY(GetErrorName, "cuGetErrorName"),
    ENTRY(GetErrorString, "cuGetErrorString"),
    ENTRY(DeviceGetCount, "cuDeviceGetCount"),
    ENTRY(DeviceGet, "cuDeviceGet"),
    ENTRY(DeviceGetName, "cuDeviceGetName"),
    ENTRY(DeviceGetAttribute, "cuDeviceGetAttribute"),
    ENTRY(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
    ENTRY(DevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"),
    ENTRY(CtxSetCurrent, "cuCtxSetCurrent"),
    ENTRY(CtxGetLimit, "cuCtxGetLimit"),
    ENTRY(CtxSetLimit, "cuCtxSetLimit"),
    ENTRY(StreamCreate, "cuStreamCreate"),
    ENTRY(StreamDestroy, "cuStreamDestroy_v2", "cuStreamDestroy"),
    ENTRY(StreamSynchronize, "cuStreamSynchronize"),
    ENTRY(StreamBeginCapture, "cuStreamBeginCapture_v2"),
    ENTRY(StreamEndCapture, "cuStreamEndCapture"),
    ENTRY(ModuleLoadDataEx, "cuModuleLoadDataEx"),
    ENTRY(ModuleUnload, "cuModuleUnload"),
    ENTRY(ModuleGetFunction, "cuModuleGetFunction"),
    ENTRY(FuncSetAttribute, "cuFuncSetAttribute"),
    ENTRY(FuncGetAttribute, "cuFuncGetAttribute"),
    ENTRY(OccupancyMaxActiveBlocksPerMultiprocessor, "cuOccupancyMaxActiveBlocksPerMultiprocessor"),
    ENTRY(MemAlloc, "cuMemAlloc_v2"),
    ENTRY(MemFree, "cuMemFree_v2"),
    ENTRY(MemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"),
    ENTRY(MemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"),
    ENTRY(MemsetD32Async, "cuMemsetD32Async"),
    ENTRY(LaunchKernel, "cuLaunchKernel"),
    ENTRY(EventCreate, "cuEventCreate"),
    ENTRY(EventDestroy, "cuEventDestroy_v2", "cuEventDestroy"),
    ENTRY(EventRecord, "cuEventRecord"),
    ENTRY(EventElapsedTime, "cuEventElapsedTime_v2", "cuEventElapsedTime"),
    ENTRY(GraphInstantiate, "cuGraphInstantiateWithFlags"),
    ENTRY(GraphLaunch, "cuGraphLaunch"),
    ENTRY(GraphExecDestroy, "cuGraphExecDestroy"),
    ENTRY(GraphDestroy, "cuGraphDestroy"),
    ENTRY(TensorMapEncodeTiled, "cuTensorMapEncodeTiled"),
};
#undef ENTRY

static void open_driver(void) {
  const char *lib = getenv("TCC_CUDA_DRIVER");
  if (!lib || !*lib) lib = "libcuda.so.1";
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    snprintf(open_error, sizeof open_error, "no CUDA driver: cannot open %s (%s); GPU modules need an NVIDIA GPU "
             "and its driver", lib, why ? why : "unknown error");
    return;
  }
  for (size_t i = 0; i < sizeof ENTRIES / sizeof ENTRIES[0]; i++) {
    for (int k = 0; ENTRIES[i].names[k] && !*ENTRIES[i].slot; k++) *ENTRIES[i].slot = dlsym(h, ENTRIES[i].names[k]);
    if (!*ENTRIES[i].slot) {
      snprintf(open_error, sizeof open_error, "the CUDA driver %s has no '%s': it is too old (CUDA 12 or newer is "
               "needed)", lib, ENTRIES[i].names[0]);
      return;
    }
  }
  CUresult rc = driver.Init(0);
  if (rc) {
    const char *name = NULL, *text = NULL;
    driver.GetErrorName(rc, &name);
    driver.GetErrorString(rc, &text);
    snprintf(open_error, sizeof open_error, "the CUDA driver did not start (cuInit: %s: %s)%s", name ? name : "?",
             text ? text : "?", rc == TCC_CU_ERROR_NO_DEVICE ? ": this machine has no usable NVIDIA GPU" : "");
  }
  /* the library stays open for the process's life */
}

tcc_status_t tcc_cuda_open(const tcc_cuda_t **out) {
  pthread_once(&open_once, open_driver);
  *out = open_error[0] ? NULL : &driver;
  return open_error[0] ? tcc_status_make(TCC_UNSUPPORTED, "%s", open_error) : NULL;
}

tcc_status_t tcc_cuda_check(const tcc_cuda_t *cu, CUresult rc, const char *what) {
  if (rc == 0) return NULL;
  const char *name = NULL, *text = NULL;
  cu->GetErrorName(rc, &name);
  cu->GetErrorString(rc, &text);
  return tcc_status_make(rc == 2 ? TCC_OUT_OF_MEMORY : TCC_INTERNAL, "%s failed: %s (%s)", what, name ? name : "?",
                         text ? text : "unknown CUDA error");
}
