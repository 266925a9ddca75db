/* The GPU GEMM template's knobs (codegen/gpu_gemm.h): the defaults of autotune/spaces/gpu_gemm.lua, the
 * agreement of the script's valid() with what the template builds, and knob parsing. The kernels
 * themselves are checked by ptxas in cli.ptx and on a GPU by tests/gpu (docs/gpu-testing.md). */
#include <string.h>

#include "codegen/gpu_gemm.h"
#include "tests/test.h"

static tcc_space_query_t query(const char *target, int64_t m) {
  tcc_space_query_t q;
  CHECK_OK(tcc_space_query_init(&q, "matmul", target));
  CHECK_OK(tcc_space_query_set(&q, "m", m));
  return q;
}

TEST(defaults) {
  static const struct {
    const char *target;
    int64_t m, n;
    int bm, bn, bk, wgmma;
  } cases[] = {{"sm_80", 1, 4096, 16, 32, 128, 0},      {"sm_80", 16, 4096, 16, 32, 128, 0},
               {"sm_80", 32, 4096, 16, 32, 128, 0},     {"sm_80", 33, 4096, 64, 64, 32, 0},
               {"sm_80", 256, 4096, 64, 64, 32, 0},     {"sm_80", 257, 4096, 128, 128, 32, 0},
               {"sm_80", 8192, 4096, 128, 128, 32, 0},  {"sm_80", -1, -1, 128, 128, 32, 0},
               {"sm_90", 8192, 4096, 128, 128, 32, 0},  {"sm_90a", 16, 4096, 16, 32, 128, 0},
               /* sm_90a: the largest tiles that still make tiles for 45% of the 132 SMs */
               {"sm_90a", 33, 4096, 64, 64, 64, 1},     {"sm_90a", 128, 4096, 64, 128, 64, 1},
               {"sm_90a", 256, 64, 64, 64, 64, 1},      {"sm_90a", 257, 4096, 256, 128, 64, 1},
               {"sm_90a", 4096, 4096, 256, 128, 64, 1}, {"sm_90a", -1, -1, 256, 128, 64, 1},
               {"sm_90a", 3136, 256, 64, 128, 64, 1},   {"sm_90a", 3136, 120, 64, 64, 64, 1},
               {"sm_90a", 784, 128, 64, 64, 64, 1},     {"sm_90a", 49, 512, 64, 64, 64, 1}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tcc_gpu_gemm_knobs_t k;
    CHECK_OK(tcc_gpu_gemm_default_knobs(cases[i].m, cases[i].n, 4096, TCC_DTYPE_F16, false, cases[i].target, &k));
    CHECK(k.bm == cases[i].bm && k.bn == cases[i].bn && k.bk == cases[i].bk && k.wgmma == cases[i].wgmma);
    tcc_space_query_t q = query(cases[i].target, cases[i].m);
    CHECK_OK(tcc_space_query_set(&q, "n", cases[i].n));
    tcc_space_knobs_t s;
    CHECK_OK(tcc_space_defaults("gpu_gemm", &q, &s));
    bool valid = false;
    CHECK_OK(tcc_space_valid("gpu_gemm", &q, &s, &valid));
    CHECK(valid);
  }
  /* split-K while the SMs hold twice the tiles and each part keeps 12 slices of K: ResNet-50's 7 x 7
   * stage (8 tiles, 72 slices), the 128-row inference shape (64 tiles) */
  static const struct {
    int64_t m, n, k;
    int split;
  } splits[] = {{49, 512, 4608, 4}, {196, 256, 2304, 2}, {128, 4096, 4096, 2}, {784, 128, 1152, 1},
                {49, 512, 128, 1},  {4096, 4096, 4096, 1}};
  for (size_t i = 0; i < sizeof splits / sizeof splits[0]; i++) {
    tcc_gpu_gemm_knobs_t k;
    CHECK_OK(tcc_gpu_gemm_default_knobs(splits[i].m, splits[i].n, splits[i].k, TCC_DTYPE_F16, false, "sm_90a", &k));
    CHECK(k.split == splits[i].split);
  }
  /* float32 on any target: the simt path, the largest tile that makes tiles for 90% of the SMs (132 on
   * sm_90a), narrowed to n */
  static const struct {
    const char *target;
    int64_t m, n;
    int bm, bn, wm, wn;
  } simt[] = {{"sm_90a", 4096, 4096, 128, 128, 8, 8}, {"sm_80", -1, -1, 64, 64, 4, 4},
              {"sm_90a", 1, 4096, 16, 64, 2, 4},      {"sm_90a", 4096, 512, 128, 128, 8, 8},
              {"sm_90a", 128, 4096, 64, 64, 4, 4},    {"sm_90a", 784, 256, 32, 64, 2, 4}, 
              {"sm_90a", 12544, 16, 64, 32, 4, 4},    {"sm_90a", 49, 512, 16, 32, 1, 4}};
  for (size_t i = 0; i < sizeof simt / sizeof simt[0]; i++) {
    tcc_gpu_gemm_knobs_t k;
    CHECK_OK(tcc_gpu_gemm_default_knobs(simt[i].m, simt[i].n, 1024, TCC_DTYPE_F32, false, simt[i].target, &k));
    CHECK(k.simt == 1 && k.wgmma == 0 && k.bm == simt[i].bm && k.bn == simt[i].bn && k.wm == simt[i].wm &&
          k.wn == simt[i].wn);
  }
  tcc_space_target_t caps;
  CHECK_OK(tcc_space_target_caps("sm_90", &caps));
  CHECK(caps.lanes == 32 && caps.l1 == 227 << 10);
}

/* Every point that valid() accepts, the template builds, over every 7th point of the domains (all
 * 376320 take minutes); on sm_90 no wgmma point is accepted, on sm_90a some are; simt points on both. */
TEST(valid_agrees_with_the_template) {
  static const char *const targets[] = {"sm_90", "sm_90a"};
  for (int t = 0; t < 2; t++) {
    tcc_space_query_t q = query(targets[t], -1);
    tcc_space_domains_t d;
    CHECK_OK(tcc_space_domains("gpu_gemm", &q, &d));
    CHECK(d.count == 10);
    int index[TCC_SPACE_MAX_KNOBS] = {0}, accepted = 0, points = 0, accepted_wgmma = 0, accepted_simt = 0;
    for (;;) {
      if (points++ % 7 == 0) {
        tcc_space_knobs_t s = {0};
        for (int i = 0; i < d.count; i++) CHECK_OK(tcc_space_knobs_set(&s, d.names[i], d.values[i][index[i]]));
        bool valid = false;
        CHECK_OK(tcc_space_valid("gpu_gemm", &q, &s, &valid));
        tcc_gpu_gemm_knobs_t k = {0};
        tcc_status_t st = tcc_gpu_gemm_knobs_from_space(&s, &k);
        /* the script reserves shared memory for either layout of B: what it accepts always builds */
        if (valid) CHECK(st == NULL);
        accepted += valid;
        accepted_wgmma += valid && k.wgmma;
        accepted_simt += valid && k.simt;
        tcc_status_free(st);
      }
      int i = 0;
      while (i < d.count && ++index[i] == d.num_values[i]) index[i++] = 0;
      if (i == d.count) break;
    }
    CHECK(points == 5 * 4 * 4 * 7 * 7 * 4 * 2 * 3 * 4 * 2 && accepted > 100);
    CHECK(t == 0 ? accepted_wgmma == 0 : accepted_wgmma > 10);
    CHECK(accepted_simt > 100);
  }
}

TEST(parse) {
  tcc_gpu_gemm_knobs_t k;
  CHECK_OK(tcc_gpu_gemm_parse_knobs("bm=128,bn=256,wn=64", &k));
  CHECK(k.bm == 128 && k.bn == 256 && k.wn == 64 && k.wm == 64 && k.stages == 4);
  tcc_status_t st = tcc_gpu_gemm_parse_knobs("bm=128,tile=3", &k);
  CHECK(st && strstr(tcc_status_message(st), "unknown knob 'tile'"));
  tcc_status_free(st);
  st = tcc_gpu_gemm_parse_knobs("wm=24", &k);
  CHECK(st && tcc_status_code(st) == TCC_INVALID_ARGUMENT);
  tcc_status_free(st);
  st = tcc_gpu_gemm_parse_knobs("bm=256,bn=256,bk=128,stages=8", &k); /* too much shared memory */
  CHECK(st && strstr(tcc_status_message(st), "bytes of shared memory"));
  tcc_status_free(st);
  CHECK_OK(tcc_gpu_gemm_parse_knobs("wgmma=1,bk=64,bn=128,wn=128,stages=3,split=4", &k));
  CHECK(k.wgmma == 1 && k.wn == 128 && k.bm == 128 && k.bn == 128 && k.split == 4);
  st = tcc_gpu_gemm_parse_knobs("split=2", &k); /* mma.sync: no split */
  CHECK(st && strstr(tcc_status_message(st), "split=2"));
  tcc_status_free(st);
  st = tcc_gpu_gemm_parse_knobs("wgmma=1,bk=32", &k);
  CHECK(st && strstr(tcc_status_message(st), "warpgroup path needs"));
  tcc_status_free(st);
  CHECK_OK(tcc_gpu_gemm_parse_knobs("simt=1,bm=64,bn=64,bk=16,wm=4,wn=4,stages=3", &k));
  CHECK(k.simt == 1 && k.wm == 4 && k.wn == 4);
  st = tcc_gpu_gemm_parse_knobs("simt=1,bm=64,bn=64,bk=16,wm=4,wn=6", &k); /* wn not a multiple of 4 */
  CHECK(st && strstr(tcc_status_message(st), "float32 path needs"));
  tcc_status_free(st);
  st = tcc_gpu_gemm_parse_knobs("simt=1,bm=8,bn=16,bk=16,wm=4,wn=4", &k); /* 8 threads: not a warp */
  CHECK(st && strstr(tcc_status_message(st), "float32 path needs"));
  tcc_status_free(st);
}

RUN_TESTS(T(defaults), T(valid_agrees_with_the_template), T(parse))
