/* The CPU and GPU target tables and LLVM target machines (contract in codegen/target.h). */
#include "codegen/target.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>

static const tcc_cpu_target_t TARGETS[] = {
    {"x86-64-v3", "x86_64-unknown-linux-gnu", "x86-64-v3", "", "x86-64 with AVX2 and FMA"},
    {"x86-64-v4", "x86_64-unknown-linux-gnu", "x86-64-v4", "", "x86-64 with AVX-512 (F, BW, CD, DQ, VL)"},
    {"znver4", "x86_64-unknown-linux-gnu", "znver4", "", "AMD Zen 4"},
    {"native", NULL, NULL, NULL, "this host (triple, CPU and features detected by LLVM)"},
    {"aarch64", "aarch64-unknown-linux-gnu", "generic", "+neon", "AArch64 with NEON"},
    {"aarch64+dotprod", "aarch64-unknown-linux-gnu", "generic", "+v8.2a,+neon,+dotprod",
     "AArch64 v8.2 with NEON and the dot-product instructions"},
};

/* PTX ISA versions: the oldest that has the SM (7.0: sm_80, 7.1: sm_86, 7.8: sm_89 and sm_90, 8.0: sm_90a). */
static const tcc_gpu_target_t GPU_TARGETS[] = {
    {"sm_80", "+ptx70", "NVIDIA Ampere A100 (compute capability 8.0)"},
    {"sm_86", "+ptx71", "NVIDIA Ampere GA10x (8.6)"},
    {"sm_89", "+ptx78", "NVIDIA Ada (8.9)"},
    {"sm_90", "+ptx78", "NVIDIA Hopper H100/H200 (9.0)"},
    {"sm_90a", "+ptx80", "NVIDIA Hopper with its architecture-specific instructions (wgmma, setmaxnreg)"},
};

const tcc_gpu_target_t *tcc_gpu_targets(int *count) {
  *count = (int)(sizeof GPU_TARGETS / sizeof GPU_TARGETS[0]);
  return GPU_TARGETS;
}

const tcc_gpu_target_t *tcc_gpu_target_find(const char *name) {
  for (size_t i = 0; name && i < sizeof GPU_TARGETS / sizeof GPU_TARGETS[0]; i++)
    if (strcmp(GPU_TARGETS[i].name, name) == 0) return &GPU_TARGETS[i];
  return NULL;
}

const tcc_cpu_target_t *tcc_cpu_targets(int *count) {
  *count = (int)(sizeof TARGETS / sizeof TARGETS[0]);
  return TARGETS;
}

const tcc_cpu_target_t *tcc_cpu_target_find(const char *name) {
  for (size_t i = 0; name && i < sizeof TARGETS / sizeof TARGETS[0]; i++)
    if (strcmp(TARGETS[i].name, name) == 0) return &TARGETS[i];
  return NULL;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_backends(void) {
  LLVMInitializeX86TargetInfo();
  LLVMInitializeX86Target();
  LLVMInitializeX86TargetMC();
  LLVMInitializeX86AsmPrinter();
  LLVMInitializeX86AsmParser();
  LLVMInitializeAArch64TargetInfo();
  LLVMInitializeAArch64Target();
  LLVMInitializeAArch64TargetMC();
  LLVMInitializeAArch64AsmPrinter();
  LLVMInitializeAArch64AsmParser();
  LLVMInitializeNVPTXTargetInfo();
  LLVMInitializeNVPTXTarget();
  LLVMInitializeNVPTXTargetMC();
  LLVMInitializeNVPTXAsmPrinter();
}

tcc_status_t tcc_target_machine_create(const char *name, LLVMTargetMachineRef *out) {
  *out = NULL;
  const tcc_gpu_target_t *gpu = tcc_gpu_target_find(name);
  tcc_cpu_target_t gpu_as_cpu = {name, "nvptx64-nvidia-cuda", name, gpu ? gpu->features : NULL, NULL};
  const tcc_cpu_target_t *t = gpu ? &gpu_as_cpu : tcc_cpu_target_find(name);
  if (!t) {
    char known[256] = "";
    for (size_t i = 0; i < sizeof TARGETS / sizeof TARGETS[0]; i++) {
      strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
      strncat(known, TARGETS[i].name, sizeof known - strlen(known) - 1);
    }
    for (size_t i = 0; i < sizeof GPU_TARGETS / sizeof GPU_TARGETS[0]; i++) {
      strncat(known, ", ", sizeof known - strlen(known) - 1);
      strncat(known, GPU_TARGETS[i].name, sizeof known - strlen(known) - 1);
    }
    return tcc_status_make(TCC_INVALID_ARGUMENT, "unknown target '%s' (known: %s)", name ? name : "(null)", known);
  }
  pthread_once(&init_once, init_backends);
  char *host_triple = NULL, *host_cpu = NULL, *host_features = NULL;
  const char *triple = t->triple, *cpu = t->cpu, *features = t->features;
  if (!triple) triple = host_triple = LLVMGetDefaultTargetTriple();
  if (!cpu) cpu = host_cpu = LLVMGetHostCPUName();
  if (!features) features = host_features = LLVMGetHostCPUFeatures();
  LLVMTargetRef target;
  char *msg = NULL;
  tcc_status_t st = NULL;
  if (LLVMGetTargetFromTriple(triple, &target, &msg)) {
    st = tcc_status_make(TCC_UNSUPPORTED, "target '%s': LLVM has no backend for '%s': %s", name, triple, msg ? msg : "");
  } else {
    *out = LLVMCreateTargetMachine(target, triple, cpu, features, LLVMCodeGenLevelAggressive, LLVMRelocPIC,
                                   LLVMCodeModelDefault);
    if (!*out) st = tcc_status_make(TCC_UNSUPPORTED, "target '%s': LLVM cannot create a machine for %s/%s", name, triple, cpu);
  }
  LLVMDisposeMessage(msg);
  LLVMDisposeMessage(host_triple);
  LLVMDisposeMessage(host_cpu);
  LLVMDisposeMessage(host_features);
  return st;
}

const char *tcc_cpu_target_class(const char *name) {
  if (!name || strcmp(name, "native") != 0) return name;
  char *triple = LLVMGetDefaultTargetTriple(), *features = LLVMGetHostCPUFeatures();
  const char *cls = "native";
  if (triple && strncmp(triple, "aarch64", 7) == 0) cls = "aarch64";
  else if (features && strstr(features, "+avx512f")) cls = "x86-64-v4";
  else if (features && strstr(features, "+avx2") && strstr(features, "+fma")) cls = "x86-64-v3";
  LLVMDisposeMessage(triple);
  LLVMDisposeMessage(features);
  return cls;
}
