/* A hand-written tcc module for tests/unit/test_runtime.c: what code generation will emit, by hand.
 *
 *   inputs  x: f32[batch, 4], z: f32[batch, 4]      weights w: f32[4] at 0, bias: f32 at 16
 *   t = x + z + w          (kernel add3, arena buffer 0)
 *   y = relu(t + bias)     (kernel relu_bias, arena buffer 1, on the thread pool)
 *   outputs y: f32[batch, 4] (arena 1), t: f32[n4] (arena 0; n4 = 4*batch, a derived symbol)
 *
 * relu_bias fails with code 42 when t holds -12345 (a stand-in for a kernel error such as an integer
 * division by zero). Variants (one compile definition each, built by tests/CMakeLists.txt):
 *   TEST_VARIANT_OK          dynamic batch, memory plan computed per shape, embedded weights
 *   TEST_VARIANT_ABI         as OK but built for ABI version 999
 *   TEST_VARIANT_STATIC_EXT  batch fixed at 2 (no symbols), static memory plan, weights in the file
 *                            rt_module_static_ext.weights beside the module (the test writes it)
 *   TEST_VARIANT_NOQUERY     exports no query symbol
 */
#include <stddef.h>

#include "runtime/module_abi.h"

#if defined(TEST_VARIANT_STATIC_EXT)
#define STATIC_SHAPES 1
#else
#define STATIC_SHAPES 0
#endif

typedef struct {
  const float *t;
  float bias;
  float *y;
} relu_args_t;

static int relu_body(void *arg, int64_t begin, int64_t end) {
  relu_args_t *a = arg;
  for (int64_t i = begin; i < end; i++) {
    if (a->t[i] == -12345.0f) return 42;
    float v = a->t[i] + a->bias;
    a->y[i] = v > 0 ? v : 0;
  }
  return 0;
}

static int64_t batch_of(const tcc_module_kernel_ctx_t *ctx) { return STATIC_SHAPES ? 2 : ctx->symbols[0]; }

static int add3(void *const *args, const tcc_module_kernel_ctx_t *ctx) {
  const float *x = args[0], *z = args[1], *w = args[2];
  float *t = args[3];
  int64_t batch = batch_of(ctx);
  for (int64_t i = 0; i < batch; i++)
    for (int j = 0; j < 4; j++) t[i * 4 + j] = x[i * 4 + j] + z[i * 4 + j] + w[j];
  return 0;
}

static int relu_bias(void *const *args, const tcc_module_kernel_ctx_t *ctx) {
  relu_args_t a = {args[0], *(const float *)args[1], args[2]};
  return ctx->parallel_for(ctx->pool, batch_of(ctx) * 4, 16, relu_body, &a);
}

#if STATIC_SHAPES
static const tcc_module_dim_t dims_b4[] = {{2, -1}, {4, -1}};
static const tcc_module_dim_t dims_n4[] = {{8, -1}};
#define SYMBOLS NULL
#define NUM_SYMBOLS 0
#define DERIVE NULL
#define PLAN NULL
static const int64_t arena_offsets[] = {0, 64};
#define ARENA_OFFSETS arena_offsets
#define ARENA_BYTES 128
#else
static const tcc_module_dim_t dims_b4[] = {{0, 0}, {4, -1}};
static const tcc_module_dim_t dims_n4[] = {{0, 1}};
static const char *const symbols[] = {"batch", "n4"};
#define SYMBOLS symbols
#define NUM_SYMBOLS 2
static int derive(int64_t *s) {
  if (s[0] > ((int64_t)1 << 40)) return 1;
  s[1] = 4 * s[0];
  return 0;
}
static int plan(const int64_t *s, int64_t *offsets, int64_t *arena_bytes) {
  if (s[0] > ((int64_t)1 << 40)) return 1;
  int64_t block = (s[0] * 16 + 63) / 64 * 64;
  offsets[0] = 0;
  offsets[1] = block;
  *arena_bytes = 2 * block;
  return 0;
}
#define DERIVE derive
#define PLAN plan
#define ARENA_OFFSETS NULL
#define ARENA_BYTES 0
#endif

static const tcc_module_tensor_t inputs[] = {
    {"x", 1, 2, dims_b4},
    {"z", 1, 2, dims_b4},
};
static const tcc_module_tensor_t outputs[] = {
    {"y", 1, 2, dims_b4},
    {"t", 1, 1, dims_n4},
};
static const tcc_module_arg_t output_sources[] = {
    {TCC_MODULE_ARG_ARENA, 1, 0},
    {TCC_MODULE_ARG_ARENA, 0, 0},
};
static const tcc_module_arg_t add3_args[] = {
    {TCC_MODULE_ARG_INPUT, 0, 0}, {TCC_MODULE_ARG_INPUT, 1, 0}, {TCC_MODULE_ARG_WEIGHT, 0, 0}, {TCC_MODULE_ARG_ARENA, 0, 0}};
static const tcc_module_arg_t relu_args[] = {
    {TCC_MODULE_ARG_ARENA, 0, 0}, {TCC_MODULE_ARG_WEIGHT, 0, 16}, {TCC_MODULE_ARG_ARENA, 1, 0}};
static const tcc_module_call_t calls[] = {
    {.name = "add3", .fn = add3, .num_args = 4, .args = add3_args},
    {.name = "relu_bias", .fn = relu_bias, .num_args = 3, .args = relu_args},
};

static const float weights[5] = {1, -2, 3, -4, 0.5f};

static const tcc_module_desc_t desc = {
    .magic = TCC_MODULE_MAGIC,
#if defined(TEST_VARIANT_ABI)
    .abi_version = 999,
#else
    .abi_version = TCC_MODULE_ABI_VERSION,
#endif
    .struct_size = sizeof(tcc_module_desc_t),
    .name = "rt_test",
    .target = "host-c",
    .producer = "tests/runtime/test_module.c",
    .num_symbols = NUM_SYMBOLS,
    .symbols = SYMBOLS,
    .derive = DERIVE,
    .num_inputs = 2,
    .num_outputs = 2,
    .inputs = inputs,
    .outputs = outputs,
    .output_sources = output_sources,
    .num_calls = 2,
    .calls = calls,
    .num_arena_buffers = 2,
    .arena_offsets = ARENA_OFFSETS,
    .arena_bytes = ARENA_BYTES,
    .arena_alignment = 64,
    .plan = PLAN,
#if defined(TEST_VARIANT_STATIC_EXT)
    .weights = NULL,
    .weights_file = "rt_module_static_ext.weights",
#else
    .weights = weights,
#endif
    .weights_bytes = sizeof weights,
};

#if !defined(TEST_VARIANT_NOQUERY)
TCC_MODULE_EXPORT const tcc_module_desc_t *tcc_module_query(void);
TCC_MODULE_EXPORT const tcc_module_desc_t *tcc_module_query(void) { return &desc; }
#else
/* Keeps desc referenced so the module is otherwise identical. */
TCC_MODULE_EXPORT const void *not_the_query_symbol(void);
TCC_MODULE_EXPORT const void *not_the_query_symbol(void) { return &desc; }
#endif
