/* gpu_kernels: builds one GPU module per workload, for bench/gpu_kernels.py, which times them on the GPU
 * against PyTorch in one process: GEMMs C[M, N] = A[M, K] * B[K, N], or batched over a leading dim of
 * both (against cuBLAS), and attention
 * Y = softmax(Q K^T / sqrt(D)) V over [B, H, S, D] (against scaled_dot_product_attention); every
 * operand is a module input.
 *
 *   bench_gpu_kernels OUT_DIR [-target sm_90] [--dtype f16|bf16|f32|tf32] [--shape [Bx]MxNxK]... [--knobs bm=128,...]
 *                     [--attention BxHxSxD[c][kN]]... [--keep-temps]
 *
 * Each workload goes through the optimization pipeline and packaging like `tcc compile` into
 * OUT_DIR/gemm_[Bx]MxNxK_DTYPE/model.so or OUT_DIR/attention_BxHxSxD[c][kN]_DTYPE/model.so (c: causal; kN: N
 * key/value heads, grouped-query attention), and the
 * kernel line is printed. --knobs overrides the GEMM template's knobs (codegen/gpu_gemm.h) and is
 * appended to the folder's name; --keep-temps keeps the PTX and the other intermediate files. With no
 * workload named: square GEMMs 1024 ... 8192 and the inference shapes M = 1, 16, 128 by 4096 x 4096. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codegen/gpu_gemm.h"
#include "codegen/package.h"
#include "ir/infer.h"
#include "passes/pipeline.h"

typedef struct {
  bool attention, causal;
  int64_t d[4];     /* GEMM: M, N, K; attention: B, H, S, D */
  int64_t batch;    /* GEMM: the products of a batched one (0: a 2-D product) */
  int64_t kv_heads; /* attention: the heads of K and V (0: H) */
} workload_t;

static const workload_t DEFAULT_WORKLOADS[] = {
    {.d = {1024, 1024, 1024}}, {.d = {2048, 2048, 2048}}, {.d = {4096, 4096, 4096}}, {.d = {8192, 8192, 8192}},
    {.d = {1, 4096, 4096}},    {.d = {16, 4096, 4096}},   {.d = {128, 4096, 4096}},
};

static tcc_status_t tensor_input(tcc_graph_t *g, const char *name, tcc_dtype_t dtype, int rank, const int64_t *dims,
                                 tcc_value_t **out) {
  *out = tcc_graph_add_input(g, name);
  if (!*out) return tcc_status_oom();
  const tcc_dim_t *d[4];
  for (int i = 0; i < rank; i++) d[i] = tcc_dim_const(g->module, dims[i]);
  return tcc_value_set_tensor(*out, dtype, rank, d);
}

/* The workload's graph: MatMul(a, b), or Attention(q, k, v) with is_causal. */
static tcc_status_t make_graph(tcc_graph_t *g, const workload_t *w, tcc_dtype_t dtype) {
  tcc_value_t *in[3];
  if (w->attention) {
    int64_t kv[4] = {w->d[0], w->kv_heads ? w->kv_heads : w->d[1], w->d[2], w->d[3]};
    for (int i = 0; i < 3; i++)
      TCC_RETURN_IF_ERROR(tensor_input(g, (const char *[]){"q", "k", "v"}[i], dtype, 4, i ? kv : w->d, &in[i]));
  } else {
    int batched = w->batch > 0;
    TCC_RETURN_IF_ERROR(tensor_input(g, "a", dtype, 2 + batched, (int64_t[]){w->batch, w->d[0], w->d[2]} + !batched, &in[0]));
    TCC_RETURN_IF_ERROR(tensor_input(g, "b", dtype, 2 + batched, (int64_t[]){w->batch, w->d[2], w->d[1]} + !batched, &in[1]));
  }
  int inputs = w->attention ? 3 : 2;
  tcc_node_t *n = tcc_graph_add_node(g, w->attention ? TCC_OP_ATTENTION : TCC_OP_MATMUL, w->attention ? "attention" : "gemm",
                                     inputs, 1);
  if (!n) return tcc_status_oom();
  for (int i = 0; i < inputs; i++) n->inputs[i] = in[i];
  if (w->attention && w->causal) TCC_RETURN_IF_ERROR(tcc_node_set_attr_int(n, "is_causal", 1));
  tcc_node_set_output(n, 0, tcc_graph_add_value(g, "y"));
  if (!n->outputs[0] || !tcc_graph_add_output(g, n->outputs[0])) return tcc_status_oom();
  return tcc_graph_infer(g);
}

static tcc_status_t build(const workload_t *w, tcc_dtype_t dtype, bool tf32, const char *target,
                          const tcc_gpu_gemm_knobs_t *knobs,
                          bool keep_temps, const char *dir) {
  tcc_module_t *m = NULL;
  TCC_RETURN_IF_ERROR(tcc_module_create(tcc_allocator_system(), &m));
  tcc_graph_t *g = m->graph;
  tcc_status_t st = make_graph(g, w, dtype);
  tcc_plan_t plan;
  tcc_pipeline_options_t o = tcc_pipeline_defaults();
  o.context.target = target;
  o.precision.allow_tf32 = tf32;
  if (!st) st = tcc_pipeline_run(g, &o, &plan);
  char path[4200];
  snprintf(path, sizeof path, "%.4096s/model.so", dir);
  tcc_package_options_t po = tcc_package_defaults();
  po.target = target;
  po.name = w->attention ? "attention" : "gemm";
  po.verbose = true;
  po.gpu_gemm_knobs = knobs;
  po.keep_temps = keep_temps;
  if (!st) st = tcc_package_build(g, &po, path, NULL);
  tcc_module_destroy(m);
  return st;
}

static int usage(void) {
  fprintf(stderr, "usage: bench_gpu_kernels OUT_DIR [-target sm_90] [--dtype f16|bf16|f32|tf32] [--shape [Bx]MxNxK]... [--knobs K]\n"
                  "                         [--attention BxHxSxD[c][kN]]... [--keep-temps]\n");
  return 2;
}

int main(int argc, char **argv) {
  const char *out = NULL, *target = "sm_90", *label = "";
  tcc_gpu_gemm_knobs_t knobs;
  bool has_knobs = false, keep_temps = false;
  tcc_dtype_t dtype = TCC_DTYPE_F16;
  bool tf32 = false; /* f32 products in TF32 (tcc compile --allow-tf32) */
  workload_t work[64];
  int count = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-target") == 0 && i + 1 < argc) target = argv[++i];
    else if (strcmp(argv[i], "--keep-temps") == 0) keep_temps = true;
    else if (strcmp(argv[i], "--knobs") == 0 && i + 1 < argc) {
      tcc_status_t st = tcc_gpu_gemm_parse_knobs(argv[++i], &knobs);
      if (st) return fprintf(stderr, "bench_gpu_kernels: %s\n", tcc_status_message(st)), tcc_status_free(st), 2;
      has_knobs = true, label = argv[i];
    } else if (strcmp(argv[i], "--dtype") == 0 && i + 1 < argc) {
      const char *d = argv[++i];
      if (strcmp(d, "f16") == 0) dtype = TCC_DTYPE_F16;
      else if (strcmp(d, "bf16") == 0) dtype = TCC_DTYPE_BF16;
      else if (strcmp(d, "f32") == 0 || strcmp(d, "tf32") == 0) dtype = TCC_DTYPE_F32, tf32 = d[0] == 't';
      else return fprintf(stderr, "bench_gpu_kernels: --dtype takes f16, bf16, f32 or tf32\n"), 2;
    } else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc && count < 64) {
      workload_t w = {0};
      int64_t v[4];
      int n = sscanf(argv[++i], "%ldx%ldx%ldx%ld", &v[0], &v[1], &v[2], &v[3]);
      if (n == 4) w.batch = v[0];
      for (int j = 0; j < 3 && n >= 3; j++) w.d[j] = v[j + (n == 4)];
      if (n < 3 || w.d[0] < 1 || w.d[1] < 1 || w.d[2] < 1 || (n == 4 && w.batch < 1))
        return fprintf(stderr, "bench_gpu_kernels: --shape takes MxNxK or BxMxNxK (batched)\n"), 2;
      work[count++] = w;
    } else if (strcmp(argv[i], "--attention") == 0 && i + 1 < argc && count < 64) {
      workload_t w = {.attention = true};
      const char *a = argv[++i];
      int used = 0;
      bool ok = sscanf(a, "%ldx%ldx%ldx%ld%n", &w.d[0], &w.d[1], &w.d[2], &w.d[3], &used) == 4;
      if (ok && a[used] == 'c') w.causal = true, used++;
      if (ok && a[used] == 'k') {
        int more = 0;
        ok = sscanf(a + used + 1, "%ld%n", &w.kv_heads, &more) == 1 && w.kv_heads > 0;
        used += 1 + more;
      }
      if (!ok || a[used] || w.d[0] < 1 || w.d[1] < 1 || w.d[2] < 1 || w.d[3] < 1 || (w.kv_heads && w.d[1] % w.kv_heads))
        return fprintf(stderr, "bench_gpu_kernels: --attention takes BxHxSxD, then c for causal, then kN for N key/value heads\n"), 2;
      work[count++] = w;
    } else if (argv[i][0] != '-' && !out) out = argv[i];
    else return usage();
  }
  if (!out) return usage();
  if (!count) {
    count = (int)(sizeof DEFAULT_WORKLOADS / sizeof DEFAULT_WORKLOADS[0]);
    memcpy(work, DEFAULT_WORKLOADS, sizeof DEFAULT_WORKLOADS);
  }
  mkdir(out, 0777);
  for (int i = 0; i < count; i++) {
    const workload_t *w = &work[i];
    const char *type = dtype == TCC_DTYPE_F16 ? "f16" : dtype == TCC_DTYPE_BF16 ? "bf16" : tf32 ? "tf32" : "f32";
    char dir[4096];
    if (w->attention) {
      char kv[32] = "";
      if (w->kv_heads) snprintf(kv, sizeof kv, "k%ld", (long)w->kv_heads);
      snprintf(dir, sizeof dir, "%s/attention_%ldx%ldx%ldx%ld%s%s_%s", out, (long)w->d[0], (long)w->d[1], (long)w->d[2],
               (long)w->d[3], w->causal ? "c" : "", kv, type);
    }
    else {
      char batch[32] = "";
      if (w->batch) snprintf(batch, sizeof batch, "%ldx", (long)w->batch);
      snprintf(dir, sizeof dir, "%s/gemm_%s%ldx%ldx%ld_%s%s%s", out, batch, (long)w->d[0], (long)w->d[1], (long)w->d[2],
               type, has_knobs ? "_" : "", label);
    }
    mkdir(dir, 0777);
    printf("%s\n", dir);
    tcc_status_t st = build(w, dtype, tf32, target, has_knobs && !w->attention ? &knobs : NULL, keep_temps, dir);
    if (st) {
      fprintf(stderr, "bench_gpu_kernels: %s: %s\n", dir, tcc_status_message(st));
      tcc_status_free(st);
      return 1;
    }
  }
  return 0;
}
