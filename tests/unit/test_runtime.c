/* The runtime: loading hand-written modules (tests/runtime/test_module.c), running them, the ABI check,
 * input/output checks, descriptor validation, the thread pool, allocation failure. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "ir/dtype.h"
#include "runtime/module_abi.h"
#include "tcc/runtime.h"
#include "tests/test.h"

#define MODULE(variant) TCC_TEST_MODULE_DIR "/rt_module_" variant ".so"

static const float W[4] = {1, -2, 3, -4};
static const float BIAS = 0.5f;

static bool contains(const char *s, const char *part) { return s && strstr(s, part) != NULL; }

/* Expects st to fail with `code` and a message containing each of the parts; frees it. */
#define CHECK_FAIL(expr, code_, ...)                                                          \
  do {                                                                                        \
    tcc_status_t st__ = (expr);                                                               \
    CHECK(st__ != NULL);                                                                      \
    if (st__) {                                                                               \
      const char *parts__[] = {__VA_ARGS__};                                                  \
      if (tcc_status_code(st__) != (code_)) {                                                 \
        fprintf(stderr, "%s:%d: code %s, expected %s (%s)\n", __FILE__, __LINE__,              \
                tcc_status_code_name(tcc_status_code(st__)), tcc_status_code_name(code_),     \
                tcc_status_message(st__));                                                    \
        test_current_failed_ = 1;                                                             \
      }                                                                                       \
      for (size_t p__ = 0; p__ < sizeof parts__ / sizeof parts__[0]; p__++)                   \
        if (!contains(tcc_status_message(st__), parts__[p__])) {                              \
          fprintf(stderr, "%s:%d: message '%s' lacks '%s'\n", __FILE__, __LINE__,              \
                  tcc_status_message(st__), parts__[p__]);                                    \
          test_current_failed_ = 1;                                                           \
        }                                                                                     \
      tcc_status_free(st__);                                                                  \
    }                                                                                         \
  } while (0)

/* Fills x and z for `batch` rows; checks y and t against the module's definition. */
static void fill_inputs(float *x, float *z, int64_t batch, float seed) {
  for (int64_t i = 0; i < batch * 4; i++) {
    x[i] = seed * (float)(i % 7) - 3.0f;
    z[i] = 0.25f * (float)(i % 5) - seed;
  }
}

static bool outputs_match(const float *x, const float *z, int64_t batch, const float *y, const float *t) {
  for (int64_t i = 0; i < batch * 4; i++) {
    float tv = x[i] + z[i] + W[i % 4];
    float yv = tv + BIAS > 0 ? tv + BIAS : 0;
    if (t[i] != tv || y[i] != yv) {
      fprintf(stderr, "element %lld: t %g (want %g), y %g (want %g)\n", (long long)i, t[i], tv, y[i], yv);
      return false;
    }
  }
  return true;
}

/* Runs the module on `batch` rows with caller output buffers; true when the results are right. */
static bool run_batch(tcc_rt_session_t *s, int64_t batch, float seed) {
  size_t bytes = (size_t)batch * 4 * sizeof(float);
  float *x = malloc(bytes + 1), *z = malloc(bytes + 1), *y = malloc(bytes + 1), *t = malloc(bytes + 1);
  fill_inputs(x, z, batch, seed);
  int64_t dims[] = {batch, 4};
  tcc_rt_tensor_t in[2] = {tcc_rt_tensor(x, bytes, TCC_RT_F32, 2, dims), tcc_rt_tensor(z, bytes, TCC_RT_F32, 2, dims)};
  tcc_rt_tensor_t out[2] = {{.data = y, .bytes = bytes}, {.data = t, .bytes = bytes}};
  tcc_status_t st = tcc_rt_session_run(s, in, 2, out, 2);
  bool ok = !st && out[0].rank == 2 && out[0].dims[0] == batch && out[0].dims[1] == 4 && out[1].rank == 1 &&
            out[1].dims[0] == 4 * batch && out[0].data == y && out[0].bytes == bytes &&
            outputs_match(x, z, batch, y, t);
  if (st) fprintf(stderr, "run: %s\n", tcc_status_message(st));
  tcc_status_free(st);
  free(x), free(z), free(y), free(t);
  return ok;
}

TEST(load_and_run) {
  tcc_rt_module_t *m = NULL;
  CHECK_OK(tcc_rt_module_load(MODULE("ok"), NULL, &m));
  if (!m) return;
  CHECK_STR(tcc_rt_module_name(m), "rt_test");
  CHECK_STR(tcc_rt_module_target(m), "host-c");
  CHECK(tcc_rt_module_num_inputs(m) == 2 && tcc_rt_module_num_outputs(m) == 2);
  tcc_rt_tensor_info_t info;
  CHECK(tcc_rt_module_input(m, 1, &info));
  CHECK_STR(info.name, "z");
  CHECK(info.dtype == TCC_RT_F32 && info.rank == 2 && info.dims[0] == -1 && info.dims[1] == 4);
  CHECK_STR(info.dim_symbols[0], "batch");
  CHECK(info.dim_symbols[1] == NULL);
  CHECK(tcc_rt_module_output(m, 1, &info));
  CHECK_STR(info.dim_symbols[0], "n4");
  CHECK(!tcc_rt_module_input(m, 2, &info));
  CHECK(tcc_rt_module_input_index(m, "z") == 1 && tcc_rt_module_input_index(m, "nope") == -1);
  CHECK(tcc_rt_module_output_index(m, "t") == 1);

  tcc_rt_session_t *s = NULL;
  CHECK_OK(tcc_rt_session_create(m, NULL, &s));
  tcc_rt_module_release(m); /* the session keeps the module loaded */
  if (!s) return;
  CHECK(run_batch(s, 3, 1.5f));
  int64_t v = 0;
  CHECK(tcc_rt_session_symbol(s, "batch", &v) && v == 3);
  CHECK(tcc_rt_session_symbol(s, "n4", &v) && v == 12);
  CHECK(!tcc_rt_session_symbol(s, "seq", &v));
  CHECK(run_batch(s, 1000, -0.5f)); /* enough elements for several chunks on the pool */
  CHECK(run_batch(s, 3, 2.0f));
  CHECK(run_batch(s, 0, 2.0f)); /* empty tensors */
  CHECK(run_batch(s, 1000, 0.75f));
  CHECK(tcc_rt_session_plans_computed(s) == 3); /* batch 3, 1000 and 0: one plan per shape */
  CHECK(tcc_rt_session_arena_bytes(s) >= 2 * 16000);

  /* Session-owned outputs: data NULL. */
  float x[8], z[8];
  fill_inputs(x, z, 2, 3.0f);
  int64_t dims[] = {2, 4};
  tcc_rt_tensor_t in[2] = {tcc_rt_tensor(x, sizeof x, TCC_RT_F32, 2, dims), tcc_rt_tensor(z, sizeof z, TCC_RT_F32, 2, dims)};
  tcc_rt_tensor_t out[2] = {{0}};
  CHECK_OK(tcc_rt_session_run(s, in, 2, out, 2));
  CHECK(out[0].data && out[1].data && out[0].bytes == 32 && out[1].dims[0] == 8);
  if (out[0].data && out[1].data) CHECK(outputs_match(x, z, 2, out[0].data, out[1].data));
  CHECK(((uintptr_t)out[0].data & 63) == 0);
  tcc_rt_session_destroy(s);
}

static tcc_status_t write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return tcc_status_make(TCC_IO, "cannot write %s", path);
  size_t w = fwrite(data, 1, n, f);
  fclose(f);
  return w == n ? NULL : tcc_status_make(TCC_IO, "short write to %s", path);
}

TEST(static_plan_external_weights) {
  const char *wpath = TCC_TEST_MODULE_DIR "/rt_module_static_ext.weights";
  float weights[5] = {1, -2, 3, -4, 0.5f};
  tcc_rt_module_t *m = NULL;
  unlink(wpath);
  CHECK_FAIL(tcc_rt_module_load(MODULE("static_ext"), NULL, &m), TCC_NOT_FOUND, "rt_module_static_ext.weights");
  CHECK(m == NULL);
  CHECK_OK(write_file(wpath, weights, 12));
  CHECK_FAIL(tcc_rt_module_load(MODULE("static_ext"), NULL, &m), TCC_INVALID_MODEL, "has 12 bytes", "expects 20");
  CHECK_OK(write_file(wpath, weights, sizeof weights));
  CHECK_OK(tcc_rt_module_load(MODULE("static_ext"), NULL, &m));
  if (!m) return;
  tcc_rt_tensor_info_t info;
  CHECK(tcc_rt_module_input(m, 0, &info) && info.dims[0] == 2 && info.dim_symbols[0] == NULL);
  tcc_rt_pool_t *pool = NULL;
  CHECK_OK(tcc_rt_pool_create(1, NULL, &pool));
  tcc_rt_session_options_t opt = {.pool = pool};
  tcc_rt_session_t *s = NULL;
  CHECK_OK(tcc_rt_session_create(m, &opt, &s));
  if (s) {
    CHECK(run_batch(s, 2, 1.0f));
    CHECK(run_batch(s, 2, -1.0f));
    CHECK(tcc_rt_session_plans_computed(s) == 1);
    /* A batch the static module does not take. */
    float buf[12] = {0};
    int64_t dims[] = {3, 4};
    tcc_rt_tensor_t in[2] = {tcc_rt_tensor(buf, sizeof buf, TCC_RT_F32, 2, dims),
                             tcc_rt_tensor(buf, sizeof buf, TCC_RT_F32, 2, dims)};
    tcc_rt_tensor_t out[2] = {{0}};
    CHECK_FAIL(tcc_rt_session_run(s, in, 2, out, 2), TCC_INVALID_ARGUMENT, "input 'x'", "dim 0 is 3",
               "expects 2", "[2, 4]");
  }
  tcc_rt_session_destroy(s);
  tcc_rt_module_release(m);
  tcc_rt_pool_destroy(pool);
  unlink(wpath);
}

static void call_dims_of_test(const int64_t *symbols, int64_t *out) {
  out[0] = 64, out[1] = symbols[0], out[2] = 1, out[3] = symbols[0];
}

TEST(abi_mismatch) {
  tcc_rt_module_t *m = (tcc_rt_module_t *)1;
  CHECK_FAIL(tcc_rt_module_load(MODULE("abi"), NULL, &m), TCC_UNSUPPORTED, "rt_module_abi.so", "ABI version 999",
             "supports version 4");
  CHECK(m == NULL);
}

TEST(not_a_module) {
  tcc_rt_module_t *m = NULL;
  CHECK_FAIL(tcc_rt_module_load(MODULE("noquery"), NULL, &m), TCC_INVALID_MODEL, "is not a tcc module",
             "tcc_module_query");
  CHECK_FAIL(tcc_rt_module_load(TCC_TEST_MODULE_DIR "/no_such_module.so", NULL, &m), TCC_NOT_FOUND,
             "no_such_module.so");
  const char *text = TCC_TEST_MODULE_DIR "/rt_not_elf.so";
  CHECK_OK(write_file(text, "hello\n", 6));
  CHECK_FAIL(tcc_rt_module_load(text, NULL, &m), TCC_INVALID_MODEL, "not an ELF file", "rt_not_elf.so");
  /* a truncated module: its segments past the end of the file would fault inside dlopen */
  FILE *f = fopen(MODULE("noquery"), "rb");
  char head[2048];
  size_t got = f ? fread(head, 1, sizeof head, f) : 0;
  if (f) fclose(f);
  CHECK(got == sizeof head);
  CHECK_OK(write_file(text, head, got));
  CHECK_FAIL(tcc_rt_module_load(text, NULL, &m), TCC_INVALID_MODEL, "truncated or corrupt", "rt_not_elf.so");
  unlink(text);
  CHECK(m == NULL);
}

TEST(input_errors) {
  tcc_rt_module_t *m = NULL;
  CHECK_OK(tcc_rt_module_load(MODULE("ok"), NULL, &m));
  tcc_rt_session_t *s = NULL;
  if (m) CHECK_OK(tcc_rt_session_create(m, NULL, &s));
  tcc_rt_module_release(m);
  if (!s) return;
  float x[12], z[12], y[12], t[12];
  fill_inputs(x, z, 3, 1.0f);
  for (int i = 0; i < 12; i++) y[i] = t[i] = 777.0f;
  int64_t d3[] = {3, 4}, d2[] = {2, 4}, d35[] = {3, 5}, d3x[] = {3, 4, 1};
  tcc_rt_tensor_t out[2] = {{.data = y, .bytes = sizeof y}, {.data = t, .bytes = sizeof t}};
#define INPUTS(zt) {tcc_rt_tensor(x, sizeof x, TCC_RT_F32, 2, d3), zt}
  {
    tcc_rt_tensor_t in[2] = INPUTS(tcc_rt_tensor(z, sizeof z, TCC_RT_I32, 2, d3));
    CHECK_FAIL(tcc_rt_session_run(s, in, 2, out, 2), TCC_INVALID_ARGUMENT, "input 'z' (1)", "dtype is i32",
               "expects f32");
  }
  {
    tcc_rt_tensor_t in[2] = INPUTS(tcc_rt_tensor(z, sizeof z, TCC_RT_F32, 3, d3x));
    CHECK_FAIL(tcc_rt_session_run(s, in, 2, out, 2), TCC_INVALID_ARGUMENT, "input 'z'", "rank is 3", "expects 2",
               "[batch, 4]");
  }
  {
    tcc_rt_tensor_t in[2] = INPUTS(tcc_rt_tensor(z, sizeof z, TCC_RT_F32, 2, d35));
    CHECK_FAIL(tcc_rt_session_run(s, in, 2, out, 2), TCC_INVALID_ARGUMENT, "input 'z'", "dim 1 is 5", "expects 4");
  }
  {
    tcc_rt_tensor_t in[2] = INPUTS(tcc_rt_tensor(z, sizeof z, TCC_RT_F32, 2, d2));
    CHECK_FAIL(tcc_rt_session_run(s, in, 2, out, 2), TCC_INVALID_ARGUMENT, "input 'z'", "dim 0 is 2",
               "symbol 'batch' is 3", "from input 'x' dim 0");
  }
  {
    tcc_rt_tensor_t in[2] = INPUTS(tcc_rt_tensor(z, sizeof z - 4, TCC_RT_F32, 2, d3));
    CHECK_FAIL(tcc_rt_session_run(s, in, 2, out, 2), TCC_INVALID_ARGUMENT, "input 'z'", "needs 48 bytes, 44 were given");
  }
  {
    tcc_rt_tensor_t in[2] = INPUTS(tcc_rt_tensor(NULL, 48, TCC_RT_F32, 2, d3));
    CHECK_FAIL(tcc_rt_session_run(s, in, 2, out, 2), TCC_INVALID_ARGUMENT, "input 'z'", "no data");
  }
  {
    int64_t neg[] = {-1, 4};
    tcc_rt_tensor_t in[2] = {tcc_rt_tensor(x, sizeof x, TCC_RT_F32, 2, neg), tcc_rt_tensor(z, sizeof z, TCC_RT_F32, 2, neg)};
    CHECK_FAIL(tcc_rt_session_run(s, in, 2, out, 2), TCC_INVALID_ARGUMENT, "input 'x'", "negative");
  }
  {
    int64_t huge[] = {(int64_t)1 << 41, 4};
    tcc_rt_tensor_t in[2] = {tcc_rt_tensor(x, SIZE_MAX, TCC_RT_F32, 2, huge),
                             tcc_rt_tensor(z, SIZE_MAX, TCC_RT_F32, 2, huge)};
    CHECK_FAIL(tcc_rt_session_run(s, in, 2, out, 2), TCC_INVALID_ARGUMENT, "invalid for this model");
  }
  {
    tcc_rt_tensor_t in[2] = INPUTS(tcc_rt_tensor(z, sizeof z, TCC_RT_F32, 2, d3));
    CHECK_FAIL(tcc_rt_session_run(s, in, 1, out, 2), TCC_INVALID_ARGUMENT, "takes 2 inputs, 1 were given");
    CHECK_FAIL(tcc_rt_session_run(s, in, 2, out, 1), TCC_INVALID_ARGUMENT, "has 2 outputs");
    tcc_rt_tensor_t small[2] = {{.data = y, .bytes = 40}, {.data = t, .bytes = sizeof t}};
    CHECK_FAIL(tcc_rt_session_run(s, in, 2, small, 2), TCC_INVALID_ARGUMENT, "output 'y' (0)", "needs 48 bytes",
               "holds 40");
  }
  /* Nothing ran: the caller's output buffers are untouched. */
  bool untouched = true;
  for (int i = 0; i < 12; i++) untouched &= y[i] == 777.0f && t[i] == 777.0f;
  CHECK(untouched);
  /* A kernel's failure code. */
  {
    x[5] = -12345.0f - z[5] - W[1];
    tcc_rt_tensor_t in[2] = INPUTS(tcc_rt_tensor(z, sizeof z, TCC_RT_F32, 2, d3));
    CHECK_FAIL(tcc_rt_session_run(s, in, 2, out, 2), TCC_INVALID_ARGUMENT, "kernel 'relu_bias'", "call 2 of 2",
               "code 42");
  }
#undef INPUTS
  CHECK(run_batch(s, 3, 1.0f)); /* the session still works */
  tcc_rt_session_destroy(s);
}

/* Descriptor validation through tcc_rt_module_from_desc on edited copies of the test module's. */
TEST(invalid_descriptors) {
  tcc_rt_module_t *m = NULL;
  CHECK_OK(tcc_rt_module_load(MODULE("ok"), NULL, &m));
  if (!m) return;
  const tcc_module_desc_t *good = tcc_rt_module_desc(m);
  tcc_rt_module_t *m2 = NULL;
  CHECK_OK(tcc_rt_module_from_desc(good, NULL, NULL, &m2));
  if (m2) {
    tcc_rt_session_t *s = NULL;
    CHECK_OK(tcc_rt_session_create(m2, NULL, &s));
    if (s) CHECK(run_batch(s, 4, 1.0f));
    tcc_rt_session_destroy(s);
    tcc_rt_module_release(m2);
  }
  tcc_module_desc_t d;
#define EDIT(stmt) (d = *good, stmt, &d)
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT(d.magic = 1), NULL, NULL, &m2), TCC_INVALID_MODEL, "not a tcc module");
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT(d.abi_version = 0), NULL, NULL, &m2), TCC_UNSUPPORTED, "ABI version 0",
             "supports version 4");
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT(d.struct_size = 16), NULL, NULL, &m2), TCC_INVALID_MODEL, "16 bytes");
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT(d.arena_alignment = 48), NULL, NULL, &m2), TCC_INVALID_MODEL,
             "alignment 48");
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT(d.derive = NULL), NULL, NULL, &m2), TCC_INVALID_MODEL, "symbol 'n4'",
             "no derive function");
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT(d.num_symbols = 1), NULL, NULL, &m2), TCC_INVALID_MODEL,
             "output 1 dim 0 names symbol 1 of 1");
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT(d.num_arena_buffers = 1), NULL, NULL, &m2), TCC_INVALID_MODEL,
             "output 0's source uses arena buffer 1 of 1");
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT(d.num_inputs = 1), NULL, NULL, &m2), TCC_INVALID_MODEL,
             "call 0 (add3) argument 1 reads input 1 of 1");
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT(d.weights_bytes = 8), NULL, NULL, &m2), TCC_INVALID_MODEL,
             "call 1 (relu_bias) argument 1 reads weights at 16 of 8 bytes");
  tcc_module_tensor_t inputs[2];
  memcpy(inputs, good->inputs, sizeof inputs);
  inputs[1].dtype = 8; /* string */
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT(d.inputs = inputs), NULL, NULL, &m2), TCC_INVALID_MODEL,
             "input 1 has dtype code 8");
  inputs[1].dtype = 1;
  inputs[1].rank = 17;
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT(d.inputs = inputs), NULL, NULL, &m2), TCC_INVALID_MODEL,
             "input 1 has rank 17");
  tcc_module_call_t calls[2];
  memcpy(calls, good->calls, sizeof calls);
  calls[1].fn = NULL;
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT(d.calls = calls), NULL, NULL, &m2), TCC_INVALID_MODEL,
             "call 1 (relu_bias) has no function");
  /* GPU modules: kernel entries and images instead of functions */
  static const char ptx[] = ".version 7.8\n.target sm_90\n.address_size 64\n";
  static const tcc_module_gpu_image_t image = {"sm_90", TCC_MODULE_IMAGE_PTX, ptx, sizeof ptx};
  calls[0].fn = calls[1].fn = NULL;
  calls[0].gpu_entry = "add3_gpu", calls[1].gpu_entry = "relu_bias_gpu";
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT(d.device = 7), NULL, NULL, &m2), TCC_INVALID_MODEL, "unknown device 7");
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT((d.device = TCC_MODULE_DEVICE_CUDA, d.calls = calls)), NULL, NULL, &m2),
             TCC_INVALID_MODEL, "a GPU module without kernel images");
  calls[1].gpu_entry = NULL;
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT((d.device = TCC_MODULE_DEVICE_CUDA, d.calls = calls, d.num_gpu_images = 1,
                                           d.gpu_images = &image)), NULL, NULL, &m2),
             TCC_INVALID_MODEL, "call 1 (relu_bias) has no valid GPU kernel entry");
  calls[1].gpu_entry = "relu_bias_gpu";
  /* tensor maps (TMA): over an argument of the call, with dims from call_dims and boxes of 1 to 256 */
  tcc_module_tensor_map_t maps[1] = {{.arg = 0, .dtype = 10, .rank = 3, .swizzle = 128, .dims = 0, .box = {64, 128, 1}}};
  calls[1].num_tensor_maps = 1, calls[1].tensor_maps = maps;
#define GPU_EDIT(stmt) EDIT((d.device = TCC_MODULE_DEVICE_CUDA, d.calls = calls, d.num_gpu_images = 1, d.gpu_images = &image, \
                             d.num_call_dims = 4, d.call_dims = call_dims_of_test, stmt))
  CHECK_FAIL(tcc_rt_module_from_desc(GPU_EDIT(d.call_dims = NULL), NULL, NULL, &m2), TCC_INVALID_MODEL,
             "call 1 (relu_bias): tensor map 0 is invalid");
  maps[0].arg = 5;
  CHECK_FAIL(tcc_rt_module_from_desc(GPU_EDIT((void)0), NULL, NULL, &m2), TCC_INVALID_MODEL, "argument 5 of");
  maps[0].arg = 0, maps[0].dims = 2;
  CHECK_FAIL(tcc_rt_module_from_desc(GPU_EDIT((void)0), NULL, NULL, &m2), TCC_INVALID_MODEL, "dims 2 of 4");
  maps[0].dims = 0, maps[0].box[1] = 512;
  CHECK_FAIL(tcc_rt_module_from_desc(GPU_EDIT((void)0), NULL, NULL, &m2), TCC_INVALID_MODEL, "a box of 512 elements");
  maps[0].box[1] = 128, maps[0].swizzle = 100;
  CHECK_FAIL(tcc_rt_module_from_desc(GPU_EDIT((void)0), NULL, NULL, &m2), TCC_INVALID_MODEL, "swizzle 100");
  maps[0].swizzle = 128;
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT((d.calls = good->calls, d.num_call_dims = -1)), NULL, NULL, &m2),
             TCC_INVALID_MODEL, "a negative count");
  /* a condition on a size of call_dims (one of a node's kernels for a range of rows) */
  calls[1].if_dim = 5, calls[1].if_min = 1, calls[1].if_max = 64;
  CHECK_FAIL(tcc_rt_module_from_desc(GPU_EDIT((void)0), NULL, NULL, &m2), TCC_INVALID_MODEL,
             "call 1 (relu_bias) runs if size 4 of 4 is in [1, 64]");
  calls[1].if_dim = 4, calls[1].if_min = 65;
  CHECK_FAIL(tcc_rt_module_from_desc(GPU_EDIT((void)0), NULL, NULL, &m2), TCC_INVALID_MODEL, "is in [65, 64]");
  calls[1].if_min = 1;
  CHECK_OK(tcc_rt_module_from_desc(GPU_EDIT((void)0), NULL, NULL, &m2));
  tcc_rt_module_release(m2);
  calls[1].num_tensor_maps = 0, calls[1].tensor_maps = NULL, calls[1].if_dim = 0;
#undef GPU_EDIT
  CHECK_OK(tcc_rt_module_from_desc(EDIT((d.device = TCC_MODULE_DEVICE_CUDA, d.calls = calls, d.num_gpu_images = 1,
                                         d.gpu_images = &image)), NULL, NULL, &m2));
  if (m2) {
    /* without a CUDA driver (this names a library that does not exist) a session is a clear error */
    setenv("TCC_CUDA_DRIVER", "libtcc-test-no-such-driver.so.1", 1);
    tcc_rt_session_t *s = NULL;
    CHECK_FAIL(tcc_rt_session_create(m2, NULL, &s), TCC_UNSUPPORTED, "module 'rt_test' is built for the GPU",
               "no CUDA driver: cannot open libtcc-test-no-such-driver.so.1");
    CHECK(s == NULL);
    tcc_rt_module_release(m2);
    m2 = NULL;
  }
  tcc_module_arg_t args[3];
  memcpy(args, good->calls[1].args, sizeof args);
  args[2].kind = 7;
  memcpy(calls, good->calls, sizeof calls);
  calls[1].args = args;
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT(d.calls = calls), NULL, NULL, &m2), TCC_INVALID_MODEL,
             "argument 2 has argument kind 7");
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT((d.weights = NULL, d.weights_file = "../w.bin")), NULL, NULL, &m2),
             TCC_PERMISSION, "'../w.bin'", "inside the module's directory");
  CHECK_FAIL(tcc_rt_module_from_desc(EDIT((d.weights = NULL, d.weights_file = "/etc/passwd")), NULL, NULL, &m2),
             TCC_PERMISSION, "'/etc/passwd'");
  CHECK(m2 == NULL);

  /* A plan that puts a buffer outside the arena is caught at run time, before any kernel. */
  static const int64_t bad_offsets[] = {0, 1024};
  m2 = NULL;
  CHECK_OK(tcc_rt_module_from_desc(EDIT((d.plan = NULL, d.arena_offsets = bad_offsets, d.arena_bytes = 512)), NULL,
                                   NULL, &m2));
  if (m2) {
    tcc_rt_session_t *s = NULL;
    CHECK_OK(tcc_rt_session_create(m2, NULL, &s));
    float x[4] = {0}, z[4] = {0};
    int64_t dims[] = {1, 4};
    tcc_rt_tensor_t in[2] = {tcc_rt_tensor(x, sizeof x, TCC_RT_F32, 2, dims), tcc_rt_tensor(z, sizeof z, TCC_RT_F32, 2, dims)};
    tcc_rt_tensor_t out[2] = {{0}};
    if (s)
      CHECK_FAIL(tcc_rt_session_run(s, in, 2, out, 2), TCC_INVALID_MODEL, "arena buffer 1 at offset 1024",
                 "arena 512 bytes");
    tcc_rt_session_destroy(s);
    tcc_rt_module_release(m2);
  }
#undef EDIT
  tcc_rt_module_release(m);
}

/* ---- thread pool ---- */

typedef struct {
  atomic_int *hits;
  int64_t grain;
  atomic_int chunks_too_small;
  tcc_rt_pool_t *pool;
  bool nested;
} cover_t;

static int nested_body(void *arg, int64_t begin, int64_t end) {
  atomic_int *hits = arg;
  for (int64_t i = begin; i < end; i++) atomic_fetch_add(&hits[i], 1);
  return 0;
}

static int cover_body(void *arg, int64_t begin, int64_t end) {
  cover_t *c = arg;
  (void)c->grain;
  for (int64_t i = begin; i < end; i++) {
    if (c->nested) {
      /* Each index runs an inner loop over 8 cells of its own. */
      int rc = tcc_rt_parallel_for(c->pool, 8, 1, nested_body, c->hits + i * 8);
      if (rc) return rc;
    } else {
      atomic_fetch_add(&c->hits[i], 1);
    }
  }
  return 0;
}

typedef struct {
  tcc_rt_pool_t *pool;
  unsigned seed;
  atomic_int failures;
} contend_t;

static void *contend_thread(void *arg) {
  contend_t *ct = arg;
  unsigned seed = ct->seed;
  for (int round = 0; round < 60; round++) {
    int64_t n = rand_r(&seed) % 3000;
    bool nested = round % 10 == 9;
    int64_t cells = nested ? n * 8 : n;
    if (nested) n /= 10;
    cover_t c = {.grain = 1 + rand_r(&seed) % 40, .pool = ct->pool, .nested = nested};
    c.hits = calloc((size_t)(cells ? cells : 1), sizeof(atomic_int));
    int rc = tcc_rt_parallel_for(ct->pool, n, c.grain, cover_body, &c);
    int64_t used = nested ? n * 8 : n;
    bool ok = rc == 0;
    for (int64_t i = 0; i < used; i++) ok &= atomic_load(&c.hits[i]) == 1;
    for (int64_t i = used; i < cells; i++) ok &= atomic_load(&c.hits[i]) == 0;
    if (!ok) atomic_fetch_add(&ct->failures, 1);
    free(c.hits);
  }
  return NULL;
}

TEST(pool_covers_every_index_once_under_contention) {
  tcc_rt_pool_t *pool = NULL;
  CHECK_OK(tcc_rt_pool_create(4, NULL, &pool));
  if (!pool) return;
  CHECK(tcc_rt_pool_num_threads(pool) == 4);
  enum { CALLERS = 6 };
  pthread_t th[CALLERS];
  contend_t ct[CALLERS];
  for (int i = 0; i < CALLERS; i++) {
    ct[i].pool = pool;
    ct[i].seed = 1234u + (unsigned)i;
    atomic_init(&ct[i].failures, 0);
    CHECK(pthread_create(&th[i], NULL, contend_thread, &ct[i]) == 0);
  }
  for (int i = 0; i < CALLERS; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < CALLERS; i++) CHECK(atomic_load(&ct[i].failures) == 0);
  tcc_rt_pool_destroy(pool);
}

typedef struct {
  int64_t grain, n;
  atomic_int bad_chunks, chunks;
} chunk_t;

static int chunk_body(void *arg, int64_t begin, int64_t end) {
  chunk_t *c = arg;
  atomic_fetch_add(&c->chunks, 1);
  if (begin < 0 || end > c->n || end <= begin || (end - begin < c->grain && end != c->n)) atomic_fetch_add(&c->bad_chunks, 1);
  return 0;
}

static int fail_body(void *arg, int64_t begin, int64_t end) {
  (void)arg;
  return begin <= 500 && 500 < end ? 9 : 0;
}

TEST(pool_chunks_errors_and_shutdown) {
  for (int threads = 1; threads <= 3; threads++) {
    tcc_rt_pool_t *pool = NULL;
    CHECK_OK(tcc_rt_pool_create(threads, NULL, &pool));
    if (!pool) continue;
    chunk_t c = {.grain = 37, .n = 10000};
    atomic_init(&c.bad_chunks, 0);
    atomic_init(&c.chunks, 0);
    CHECK(tcc_rt_parallel_for(pool, c.n, c.grain, chunk_body, &c) == 0);
    CHECK(atomic_load(&c.bad_chunks) == 0);
    CHECK(atomic_load(&c.chunks) >= 1 && atomic_load(&c.chunks) <= (threads == 1 ? 1 : 4 * threads + 1));
    CHECK(tcc_rt_parallel_for(pool, 1000, 10, fail_body, NULL) == 9);
    CHECK(tcc_rt_parallel_for(pool, 0, 1, fail_body, NULL) == 0);
    CHECK(tcc_rt_parallel_for(pool, -5, 1, fail_body, NULL) == 0);
    tcc_rt_pool_destroy(pool);
  }
  /* Clean shutdown, repeatedly: every worker joined (a leak or hang would show here and under ASan). */
  for (int i = 0; i < 20; i++) {
    tcc_rt_pool_t *pool = NULL;
    CHECK_OK(tcc_rt_pool_create(3, NULL, &pool));
    chunk_t c = {.grain = 1, .n = 100};
    atomic_init(&c.bad_chunks, 0);
    atomic_init(&c.chunks, 0);
    if (pool) CHECK(tcc_rt_parallel_for(pool, c.n, 1, chunk_body, &c) == 0);
    tcc_rt_pool_destroy(pool);
  }
  tcc_rt_pool_destroy(NULL);
  tcc_rt_pool_t *pool = (tcc_rt_pool_t *)1;
  CHECK_FAIL(tcc_rt_pool_create(-1, NULL, &pool), TCC_INVALID_ARGUMENT, "-1 threads");
  CHECK(pool == NULL);
}

typedef struct {
  pthread_t seen[64];
  atomic_int count;
  pthread_mutex_t lock;
} threads_seen_t;

static int record_thread_body(void *arg, int64_t begin, int64_t end) {
  threads_seen_t *t = arg;
  (void)begin, (void)end;
  usleep(2000);
  pthread_mutex_lock(&t->lock);
  bool known = false;
  for (int i = 0; i < atomic_load(&t->count); i++) known |= pthread_equal(t->seen[i], pthread_self()) != 0;
  if (!known && atomic_load(&t->count) < 64) t->seen[atomic_fetch_add(&t->count, 1)] = pthread_self();
  pthread_mutex_unlock(&t->lock);
  return 0;
}

TEST(pool_runs_on_several_threads) {
  tcc_rt_pool_t *pool = NULL;
  CHECK_OK(tcc_rt_pool_create(4, NULL, &pool));
  threads_seen_t t = {.lock = PTHREAD_MUTEX_INITIALIZER};
  atomic_init(&t.count, 0);
  if (pool) CHECK(tcc_rt_parallel_for(pool, 32, 1, record_thread_body, &t) == 0);
  CHECK(atomic_load(&t.count) >= 2);
  tcc_rt_pool_destroy(pool);
}

TEST(pool_thread_count_from_environment) {
  const char *saved = getenv("TCC_NUM_THREADS");
  char *copy = saved ? strdup(saved) : NULL;
  tcc_rt_pool_t *pool = NULL;
  setenv("TCC_NUM_THREADS", "3", 1);
  CHECK_OK(tcc_rt_pool_create(0, NULL, &pool));
  CHECK(tcc_rt_pool_num_threads(pool) == 3);
  tcc_rt_pool_destroy(pool);
  setenv("TCC_NUM_THREADS", "many", 1);
  CHECK_FAIL(tcc_rt_pool_create(0, NULL, &pool), TCC_INVALID_ARGUMENT, "TCC_NUM_THREADS='many'");
  setenv("TCC_NUM_THREADS", "0", 1);
  CHECK_FAIL(tcc_rt_pool_create(0, NULL, &pool), TCC_INVALID_ARGUMENT, "TCC_NUM_THREADS='0'");
  unsetenv("TCC_NUM_THREADS");
  CHECK_OK(tcc_rt_pool_create(0, NULL, &pool));
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  CHECK(tcc_rt_pool_num_threads(pool) == (cores > 0 ? (int)cores : 1));
  tcc_rt_pool_destroy(pool);
  if (copy) setenv("TCC_NUM_THREADS", copy, 1);
  free(copy);
}

/* ---- sessions on several threads ---- */

typedef struct {
  tcc_rt_module_t *m;
  tcc_rt_pool_t *pool;
  int id;
  bool ok;
} session_thread_t;

static void *session_thread(void *arg) {
  session_thread_t *st = arg;
  tcc_rt_session_options_t opt = {.pool = st->pool};
  tcc_rt_session_t *s = NULL;
  tcc_status_t err = tcc_rt_session_create(st->m, &opt, &s);
  st->ok = !err;
  tcc_status_free(err);
  for (int i = 0; s && i < 40; i++) st->ok &= run_batch(s, 1 + (st->id * 7 + i * 13) % 300, (float)st->id + 0.5f);
  tcc_rt_session_destroy(s);
  return NULL;
}

TEST(concurrent_sessions) {
  tcc_rt_module_t *m = NULL;
  CHECK_OK(tcc_rt_module_load(MODULE("ok"), NULL, &m));
  tcc_rt_pool_t *pool = NULL;
  CHECK_OK(tcc_rt_pool_create(3, NULL, &pool));
  if (!m || !pool) return;
  enum { N = 4 };
  pthread_t th[N];
  session_thread_t st[N];
  for (int i = 0; i < N; i++) {
    st[i] = (session_thread_t){.m = m, .pool = pool, .id = i};
    CHECK(pthread_create(&th[i], NULL, session_thread, &st[i]) == 0);
  }
  for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < N; i++) CHECK(st[i].ok);
  tcc_rt_module_release(m);
  tcc_rt_pool_destroy(pool);
}

/* ---- allocation failure: every allocation point of load, session creation, run and pool creation ---- */

TEST(allocation_failure) {
  int succeeded_at = -1;
  for (long budget = 0; budget < 64 && succeeded_at < 0; budget++) {
    long left = budget;
    tcc_allocator_t a = tcc_allocator_failing(&left);
    tcc_rt_module_t *m = NULL;
    tcc_status_t st = tcc_rt_module_load(MODULE("ok"), &a, &m);
    tcc_rt_session_t *s = NULL;
    if (!st) {
      tcc_rt_session_options_t opt = {.allocator = &a};
      st = tcc_rt_session_create(m, &opt, &s);
    }
    float x[8], z[8];
    fill_inputs(x, z, 2, 1.0f);
    int64_t dims[] = {2, 4};
    tcc_rt_tensor_t in[2] = {tcc_rt_tensor(x, sizeof x, TCC_RT_F32, 2, dims), tcc_rt_tensor(z, sizeof z, TCC_RT_F32, 2, dims)};
    tcc_rt_tensor_t out[2] = {{0}};
    if (!st) st = tcc_rt_session_run(s, in, 2, out, 2);
    if (!st) {
      succeeded_at = (int)budget;
      CHECK(outputs_match(x, z, 2, out[0].data, out[1].data));
    } else {
      CHECK(tcc_status_code(st) == TCC_OUT_OF_MEMORY);
      if (tcc_status_code(st) != TCC_OUT_OF_MEMORY) fprintf(stderr, "budget %ld: %s\n", budget, tcc_status_message(st));
      tcc_status_free(st);
    }
    tcc_rt_session_destroy(s);
    tcc_rt_module_release(m);
  }
  CHECK(succeeded_at > 3);
  /* The arena's own failure names its size. */
  {
    long left = 1000;
    tcc_allocator_t ok = tcc_allocator_system(), fail = tcc_allocator_failing(&left);
    tcc_rt_module_t *m = NULL;
    CHECK_OK(tcc_rt_module_load(MODULE("ok"), &ok, &m));
    tcc_rt_session_options_t opt = {.allocator = &fail};
    tcc_rt_session_t *s = NULL;
    if (m) CHECK_OK(tcc_rt_session_create(m, &opt, &s));
    left = 2; /* the plan's two tables, not the arena */
    float x[8] = {0}, z[8] = {0};
    int64_t dims[] = {2, 4};
    tcc_rt_tensor_t in[2] = {tcc_rt_tensor(x, sizeof x, TCC_RT_F32, 2, dims), tcc_rt_tensor(z, sizeof z, TCC_RT_F32, 2, dims)};
    tcc_rt_tensor_t out[2] = {{0}};
    if (s) CHECK_FAIL(tcc_rt_session_run(s, in, 2, out, 2), TCC_OUT_OF_MEMORY, "arena", "128 bytes");
    left = 1000;
    if (s) CHECK_OK(tcc_rt_session_run(s, in, 2, out, 2));
    tcc_rt_session_destroy(s);
    tcc_rt_module_release(m);
  }
  for (long budget = 0; budget < 3; budget++) {
    long left = budget;
    tcc_allocator_t a = tcc_allocator_failing(&left);
    tcc_rt_pool_t *pool = NULL;
    tcc_status_t st = tcc_rt_pool_create(2, &a, &pool);
    CHECK(budget >= 2 ? st == NULL : tcc_status_code(st) == TCC_OUT_OF_MEMORY);
    tcc_status_free(st);
    tcc_rt_pool_destroy(pool);
  }
}

TEST(dtype_table_matches_ir) {
  for (int code = 0; code < TCC_DTYPE_COUNT; code++) {
    CHECK_STR(tcc_rt_dtype_name(code), tcc_dtype_name((tcc_dtype_t)code));
    CHECK(tcc_rt_dtype_bits(code) == (code == TCC_DTYPE_STRING ? 0 : tcc_dtype_bits((tcc_dtype_t)code)));
    if (tcc_rt_dtype_bits(code)) CHECK(tcc_rt_dtype_bytes(code, 5) == tcc_dtype_storage_bytes((tcc_dtype_t)code, 5));
  }
  CHECK_STR(tcc_rt_dtype_name(TCC_DTYPE_COUNT), "?");
  CHECK(tcc_rt_dtype_bytes(TCC_RT_I64, INT64_MAX / 4) == -1);
  CHECK(tcc_rt_dtype_bytes(22, 3) == 2); /* i4 */
}

RUN_TESTS(T(load_and_run), T(static_plan_external_weights), T(abi_mismatch), T(not_a_module), T(input_errors),
          T(invalid_descriptors), T(pool_covers_every_index_once_under_contention), T(pool_chunks_errors_and_shutdown), T(pool_runs_on_several_threads),
          T(pool_thread_count_from_environment), T(concurrent_sessions), T(allocation_failure),
          T(dtype_table_matches_ir))
