/* Targets of code generation: the tables of `-target` names (CPUs, and NVIDIA GPUs through LLVM's NVPTX
 * backend) and the LLVM target machines they give.
 *
 *   LLVMTargetMachineRef tm;
 *   TCC_RETURN_IF_ERROR(tcc_target_machine_create("x86-64-v4", &tm));
 *   ... LLVMTargetMachineEmitToFile(tm, module, path, LLVMObjectFile, &msg) ...
 *   LLVMDisposeTargetMachine(tm);
 *
 * Every target is emitted from this host: AArch64 objects are cross-compiled. "native" is the host's
 * triple, CPU and features as LLVM detects them. Machines are position independent (the kernels go into
 * shared libraries) and optimize at the aggressive code generation level.
 * GPU targets (sm_80 ... sm_90a) give PTX: triple nvptx64-nvidia-cuda, the SM as the CPU and the PTX ISA
 * version as a feature.
 * Thread-safety: the first call initializes LLVM's X86, AArch64 and NVPTX backends (guarded by pthread_once);
 * target machines are independent objects afterwards.
 */
#ifndef TCC_CODEGEN_TARGET_H
#define TCC_CODEGEN_TARGET_H

#include <llvm-c/TargetMachine.h>

#include "base/status.h"

typedef struct {
  const char *name;        /* the -target name */
  const char *triple;      /* NULL: the host's */
  const char *cpu;         /* NULL: the host's */
  const char *features;    /* NULL: the host's */
  const char *description;
} tcc_cpu_target_t;

/* The CPU target called name, or NULL (GPU targets such as sm_80 are not CPU targets). */
const tcc_cpu_target_t *tcc_cpu_target_find(const char *name);
/* The table, *count entries, in a stable order (for help texts and tests). */
const tcc_cpu_target_t *tcc_cpu_targets(int *count);

/* The named target the graph passes plan for (layouts, vector blocks): name itself, except "native",
 * which is the host's class — "x86-64-v4" with AVX-512, "x86-64-v3" with AVX2 + FMA, "aarch64" on AArch64
 * hosts — or "native" for other hosts. */
const char *tcc_cpu_target_class(const char *name);

/* The NVIDIA GPU targets: name (sm_80, sm_86, sm_89, sm_90, sm_90a), the LLVM CPU and PTX feature. */
typedef struct {
  const char *name, *features, *description;
} tcc_gpu_target_t;
const tcc_gpu_target_t *tcc_gpu_target_find(const char *name);
const tcc_gpu_target_t *tcc_gpu_targets(int *count);

/* Creates the LLVM target machine of the CPU or GPU target called name; the caller disposes it with
 * LLVMDisposeTargetMachine. TCC_INVALID_ARGUMENT naming the target (and listing the known ones) when
 * unknown; TCC_UNSUPPORTED when this LLVM lacks the backend. */
TCC_MUST_USE tcc_status_t tcc_target_machine_create(const char *name, LLVMTargetMachineRef *out);

#endif
