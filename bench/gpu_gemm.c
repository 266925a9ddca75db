/* gpu_gemm: builds one GPU module per GEMM shape, C[M, N] = A[M, K] * B[K, N] with A and B module inputs,
 * for bench/gpu_gemm.py to time on the GPU against cuBLAS (torch.matmul) in one process.
 *
 *   bench_gpu_gemm OUT_DIR [-target sm_90] [--dtype f16|bf16] [--shape MxNxK ...] [--knobs bm=128,...]
 *                  [--keep-temps]
 *
 * Each shape goes through the optimization pipeline and packaging like `tcc compile` (the MatMul takes
 * the tensor-core template, codegen/gpu_gemm.h) into OUT_DIR/gemm_MxNxK_DTYPE/model.so, and the kernel
 * line is printed; --knobs overrides the template's knobs (codegen/gpu_gemm.h) and is appended to the
 * folder's name; --keep-temps keeps the PTX and the other intermediate files. Default shapes: square 1024 ... 8192 and the inference shapes M = 1, 16, 128 by
 * 4096 x 4096. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codegen/gpu_gemm.h"
#include "codegen/package.h"
#include "ir/infer.h"
#include "passes/pipeline.h"

typedef struct {
  int64_t m, n, k;
} shape_t;

static const shape_t DEFAULT_SHAPES[] = {
    {1024, 1024, 1024}, {2048, 2048, 2048}, {4096, 4096, 4096}, {8192, 8192, 8192},
    {1, 4096, 4096},    {16, 4096, 4096},   {128, 4096, 4096},
};

static tcc_status_t matrix_input(tcc_graph_t *g, const char *name, tcc_dtype_t dtype, int64_t rows, int64_t cols,
                                 tcc_value_t **out) {
  *out = tcc_graph_add_input(g, name);
  if (!*out) return tcc_status_oom();
  const tcc_dim_t *dims[2] = {tcc_dim_const(g->module, rows), tcc_dim_const(g->module, cols)};
  return tcc_value_set_tensor(*out, dtype, 2, dims);
}

static tcc_status_t build(const shape_t *s, tcc_dtype_t dtype, const char *target, const tcc_gpu_gemm_knobs_t *knobs,
                          bool keep_temps, const char *dir) {
  tcc_module_t *m = NULL;
  TCC_RETURN_IF_ERROR(tcc_module_create(tcc_allocator_system(), &m));
  tcc_graph_t *g = m->graph;
  tcc_value_t *a, *b;
  tcc_status_t st = matrix_input(g, "a", dtype, s->m, s->k, &a);
  if (!st) st = matrix_input(g, "b", dtype, s->k, s->n, &b);
  tcc_node_t *mm = st ? NULL : tcc_graph_add_node(g, TCC_OP_MATMUL, "gemm", 2, 1);
  if (!st && !mm) st = tcc_status_oom();
  if (!st) {
    mm->inputs[0] = a, mm->inputs[1] = b;
    tcc_node_set_output(mm, 0, tcc_graph_add_value(g, "c"));
    if (!tcc_graph_add_output(g, mm->outputs[0])) st = tcc_status_oom();
  }
  if (!st) st = tcc_graph_infer(g);
  tcc_plan_t plan;
  tcc_pipeline_options_t o = tcc_pipeline_defaults();
  o.context.target = target;
  if (!st) st = tcc_pipeline_run(g, &o, &plan);
  char path[4200];
  snprintf(path, sizeof path, "%.4096s/model.so", dir);
  tcc_package_options_t po = tcc_package_defaults();
  po.target = target;
  po.name = "gemm";
  po.verbose = true;
  po.gpu_gemm_knobs = knobs;
  po.keep_temps = keep_temps;
  if (!st) st = tcc_package_build(g, &po, path, NULL);
  tcc_module_destroy(m);
  return st;
}

int main(int argc, char **argv) {
  const char *out = NULL, *target = "sm_90", *label = "";
  tcc_gpu_gemm_knobs_t knobs;
  bool has_knobs = false, keep_temps = false;
  tcc_dtype_t dtype = TCC_DTYPE_F16;
  shape_t shapes[64];
  int num_shapes = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-target") == 0 && i + 1 < argc) target = argv[++i];
    else if (strcmp(argv[i], "--keep-temps") == 0) keep_temps = true;
    else if (strcmp(argv[i], "--knobs") == 0 && i + 1 < argc) {
      tcc_status_t st = tcc_gpu_gemm_parse_knobs(argv[++i], &knobs);
      if (st) return fprintf(stderr, "bench_gpu_gemm: %s\n", tcc_status_message(st)), tcc_status_free(st), 2;
      has_knobs = true, label = argv[i];
    } else if (strcmp(argv[i], "--dtype") == 0 && i + 1 < argc) {
      const char *d = argv[++i];
      if (strcmp(d, "f16") == 0) dtype = TCC_DTYPE_F16;
      else if (strcmp(d, "bf16") == 0) dtype = TCC_DTYPE_BF16;
      else return fprintf(stderr, "bench_gpu_gemm: --dtype takes f16 or bf16\n"), 2;
    } else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc && num_shapes < 64) {
      shape_t s;
      if (sscanf(argv[++i], "%ldx%ldx%ld", &s.m, &s.n, &s.k) != 3 || s.m < 1 || s.n < 1 || s.k < 1)
        return fprintf(stderr, "bench_gpu_gemm: --shape takes MxNxK\n"), 2;
      shapes[num_shapes++] = s;
    } else if (argv[i][0] != '-' && !out) out = argv[i];
    else return fprintf(stderr, "usage: bench_gpu_gemm OUT_DIR [-target sm_90] [--dtype f16|bf16] [--shape MxNxK]... [--knobs K] [--keep-temps]\n"), 2;
  }
  if (!out) return fprintf(stderr, "usage: bench_gpu_gemm OUT_DIR [-target sm_90] [--dtype f16|bf16] [--shape MxNxK]...\n"), 2;
  if (!num_shapes) {
    num_shapes = (int)(sizeof DEFAULT_SHAPES / sizeof DEFAULT_SHAPES[0]);
    memcpy(shapes, DEFAULT_SHAPES, sizeof DEFAULT_SHAPES);
  }
  mkdir(out, 0777);
  for (int i = 0; i < num_shapes; i++) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/gemm_%ldx%ldx%ld_%s%s%s", out, (long)shapes[i].m, (long)shapes[i].n, (long)shapes[i].k,
             dtype == TCC_DTYPE_F16 ? "f16" : "bf16", has_knobs ? "_" : "", label);
    mkdir(dir, 0777);
    printf("%s\n", dir);
    tcc_status_t st = build(&shapes[i], dtype, target, has_knobs ? &knobs : NULL, keep_temps, dir);
    if (st) {
      fprintf(stderr, "bench_gpu_gemm: %s: %s\n", dir, tcc_status_message(st));
      tcc_status_free(st);
      return 1;
    }
  }
  return 0;
}
