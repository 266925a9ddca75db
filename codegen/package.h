/* Packaging: an optimized graph -> one self-contained model.so (kernels + host plan + weights + the
 * runtime) and the model.h that applications include.
 *
 *   tcc_package_options_t o = tcc_package_defaults();
 *   o.target = "x86-64-v4";
 *   o.name = "resnet18";
 *   TCC_RETURN_IF_ERROR(tcc_package_build(g, &o, "resnet18.so", "resnet18.h"));
 *
 * g has been through the pipeline (passes/pipeline.h) for o.target. Each kernel node becomes one call of
 * the host plan: a template (GEMM, convolution) when one applies, else its compute definition scheduled
 * for the CPU; views (Reshape ...) become offsets into their source. Activations get arena buffers placed
 * per shape by the runtime (tcc_rt_plan_buffers over the calls' lifetimes). Constants go into one weights
 * blob, embedded read-only or written beside the module (external). The module is linked by the system C
 * compiler (cc, or TCC_CC; aarch64-linux-gnu-gcc for AArch64 targets) with the runtime archive built
 * with tcc (lib/<arch>/libtcc_module_runtime.a beside the tcc executable, or TCC_RUNTIME_DIR), hidden
 * visibility except tcc_module_query and the model's API, and needs only libc, libm and libpthread.
 *
 * GPU modules (target "sm_90", or a comma list "sm_80,sm_90a"): every kernel is compiled for each GPU
 * target to PTX, and to a cubin when ptxas is found (TCC_PTXAS, else /usr/local/cuda/bin/ptxas); the
 * images are embedded, the host part (buffer sizes, descriptor, API) is built for x86-64-v3 (aarch64 on
 * AArch64 hosts), and the runtime runs the module on a CUDA device (runtime/module_abi.h).
 *
 * What a module cannot hold yet is TCC_UNSUPPORTED naming the node: control flow and sequences, host
 * operators (TopK, NonZero ...), shapes that depend on data, string tensors.
 * Thread-safety: none (one build at a time per graph); builds of different graphs may run concurrently.
 */
#ifndef TCC_CODEGEN_PACKAGE_H
#define TCC_CODEGEN_PACKAGE_H

#include <stdbool.h>

#include "base/status.h"
#include "codegen/llvm_emit.h"
#include "ir/graph.h"

typedef struct {
  const char *target;      /* a CPU target (codegen/target.h), or GPU targets "sm_80,sm_90"; default "native" */
  const char *name;        /* the API prefix, a C identifier; default "model" */
  bool external_weights;   /* weights in OUT.weights beside the module instead of inside it */
  bool optimize;           /* LLVM's default<O3> (default true) */
  bool bounds_check;       /* check every kernel index at run time */
  bool keep_temps;         /* keep the intermediate files (their directory is printed) */
  bool verbose;            /* one line per kernel and the link command on stdout */
  const struct tcc_gpu_gemm_knobs *gpu_gemm_knobs; /* GPU modules: these knobs for every GEMM (benchmarks) */
} tcc_package_options_t;

tcc_package_options_t tcc_package_defaults(void);

/* Builds module_path (and header_path when not NULL). TCC_INVALID_ARGUMENT for a bad name or target,
 * TCC_UNSUPPORTED naming the node for what modules cannot hold, TCC_IO when a file cannot be
 * written or the linker fails (its output in the message). */
TCC_MUST_USE tcc_status_t tcc_package_build(tcc_graph_t *g, const tcc_package_options_t *options,
                                            const char *module_path, const char *header_path);

/* Emits the kernel of one plan node into e: a template when one applies (codegen/cpu_gemm.h,
 * codegen/cpu_conv.h, codegen/cpu_rows.h, codegen/cpu_blocks.h; knobs from autotune/spaces/), else the node's compute
 * definition — one kernel for a fused group — with the generic CPU schedule (codegen/schedule_cpu.h).
 * A GEMM with a constant B takes it packed (tcc_cpu_gemm_node_knobs, tcc_cpu_gemm_pack_b), as the module
 * stores it. *symbol: the function's name (SYM_packed is the module kernel). verbose: one line naming the
 * kernel and how it was made. */
TCC_MUST_USE tcc_status_t tcc_package_emit_kernel(tcc_llvm_emitter_t *e, const tcc_node_t *n, const char *target,
                                                  bool verbose, const char **symbol);

/* Emits the kernels of one plan node for a GPU emitter (options.gpu): a template when one applies
 * (codegen/gpu_gemm.h for `target`, gemm_knobs NULL: its defaults, with a kernel per range of rows when
 * they are known only at run time; codegen/gpu_rows.h), else its compute definition — one kernel for a
 * fused group — with the generic GPU schedule (codegen/schedule_gpu.h). A generic kernel whose top level
 * is several statements and no temporaries runs as one launch per statement (adjacent statements that
 * are not loops share one), in order, so that each loop nest of a Concat or Split gets the whole grid.
 * out[0 .. *count): each launch's entry and shape (a grid-stride kernel: blocks of 256 threads, as many as
 * fit; one without parallel loops: one thread). */
enum { TCC_GPU_MAX_PARTS = 16 };
TCC_MUST_USE tcc_status_t tcc_package_emit_gpu_kernel(tcc_llvm_emitter_t *e, const tcc_node_t *n, const char *target,
                                                      const struct tcc_gpu_gemm_knobs *gemm_knobs, bool verbose,
                                                      tcc_gpu_kernel_t out[TCC_GPU_MAX_PARTS], int *count);

/* The API prefix made from a file name: its base name up to the first '.', characters outside
 * [A-Za-z0-9_] replaced by '_', prefixed by '_' when it starts with a digit (buf of size bytes). */
void tcc_package_default_name(const char *path, char *buf, size_t size);

#endif
