/* The kernel IR reference evaluator: arithmetic semantics, casts, memory, errors. TCC_EVAL_BENCH=N also times
 * an NxNxN f32 matmul and prints its MFLOP/s. */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "ir/kernel_eval.h"
#include "tests/graph_builder.h"
#include "tests/test.h"

typedef struct {
  const char *name;
  int64_t value;
} binding_t;

static bool lookup(void *ctx, const char *symbol, int64_t *value) {
  for (const binding_t *b = ctx; b->name; b++)
    if (strcmp(b->name, symbol) == 0) return *value = b->value, true;
  return false;
}

static bool fails_with(tcc_status_t st, tcc_status_code_t code, const char *text) {
  bool ok = st && tcc_status_code(st) == code && strstr(tcc_status_message(st), text);
  if (!ok) fprintf(stderr, "got: %s\n", st ? tcc_status_message(st) : "OK");
  tcc_status_free(st);
  return ok;
}

enum { UNARY, BINARY, CAST };

/* out[i] = op(a[i]) / op(a[i], b[i]) / cast<out_dt>(a[i]) over n elements. */
static tcc_status_t run_elementwise(int kind, tcc_kop_t op, tcc_dtype_t in_dt, tcc_dtype_t out_dt, bool saturate,
                                   int64_t n, const void *a, const void *b, void *out) {
  tcc_module_t *m = new_module();
  const tcc_dim_t *dims[] = {tcc_dim_const(m, n)};
  tcc_kernel_t *k = tcc_kernel_create(m, "elementwise");
  tcc_kbuf_t *x = tcc_kernel_add_param(k, "a", TCC_KBUF_INPUT, in_dt, 1, dims);
  tcc_kbuf_t *y = tcc_kernel_add_param(k, "b", TCC_KBUF_INPUT, in_dt, 1, dims);
  tcc_kbuf_t *z = tcc_kernel_add_param(k, "out", TCC_KBUF_OUTPUT, out_dt, 1, dims);
  const tcc_kvar_t *i;
  tcc_kblock_t *body = tcc_k_for(k, tcc_kernel_body(k), "i", tcc_k_int(k, n), TCC_KLOOP_VECTORIZED, &i);
  const tcc_kexpr_t *ii[] = {tcc_k_var(k, i)}, *xa = tcc_k_load(k, x, ii), *yb = tcc_k_load(k, y, ii);
  const tcc_kexpr_t *e = kind == UNARY ? tcc_k_unary(k, op, xa) : kind == BINARY ? tcc_k_binary(k, op, xa, yb)
                                                                                 : tcc_k_cast(k, out_dt, xa, saturate);
  tcc_k_store(k, body, z, ii, e);
  tcc_status_t st = tcc_module_check(m);
  void *buffers[] = {(void *)a, (void *)(b ? b : a), out};
  if (!st) st = tcc_kernel_eval(k, buffers, NULL, NULL);
  tcc_module_destroy(m);
  return st;
}

static uint16_t f16_bits(float v) {
  uint16_t h;
  float in[] = {v};
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_F32, TCC_DTYPE_F16, false, 1, in, NULL, &h));
  return h;
}

TEST(broadcast_add_with_symbolic_dim) {
  tcc_module_t *m = new_module();
  const tcc_dim_t *n4[] = {tcc_dim_symbol(m, "n"), tcc_dim_const(m, 4)};
  tcc_kernel_t *k = tcc_kernel_create(m, "add");
  tcc_kbuf_t *x = tcc_kernel_add_param(k, "x", TCC_KBUF_INPUT, TCC_DTYPE_F32, 2, n4);
  tcc_kbuf_t *y = tcc_kernel_add_param(k, "y", TCC_KBUF_INPUT, TCC_DTYPE_F32, 1, n4 + 1);
  tcc_kbuf_t *z = tcc_kernel_add_param(k, "z", TCC_KBUF_OUTPUT, TCC_DTYPE_F32, 2, n4);
  const tcc_kvar_t *i, *j;
  tcc_kblock_t *outer = tcc_k_for(k, tcc_kernel_body(k), "i", tcc_k_dim(k, n4[0]), TCC_KLOOP_GPU_BLOCK_X, &i);
  tcc_kblock_t *inner = tcc_k_for(k, outer, "j", tcc_k_dim(k, n4[1]), TCC_KLOOP_GPU_THREAD_X, &j);
  const tcc_kexpr_t *ij[] = {tcc_k_var(k, i), tcc_k_var(k, j)}, *jj[] = {tcc_k_var(k, j)};
  tcc_k_store(k, inner, z, ij, tcc_k_binary(k, TCC_KOP_ADD, tcc_k_load(k, x, ij), tcc_k_load(k, y, jj)));
  tcc_k_barrier(k, tcc_kernel_body(k));
  CHECK_OK(tcc_module_check(m));
  float xs[12], ys[4] = {0.5f, -1, 100, 0}, zs[12] = {0};
  for (int e = 0; e < 12; e++) xs[e] = (float)e;
  binding_t bind[] = {{"n", 3}, {NULL, 0}};
  void *bufs[] = {xs, ys, zs};
  CHECK_OK(tcc_kernel_eval(k, bufs, lookup, bind));
  for (int e = 0; e < 12; e++) CHECK(zs[e] == xs[e] + ys[e % 4]);
  /* an unbound symbol is a status naming it */
  CHECK(fails_with(tcc_kernel_eval(k, bufs, NULL, NULL), TCC_INVALID_ARGUMENT, "dim 'n' of buffer 'x'"));
  binding_t other[] = {{"m", 3}, {NULL, 0}};
  CHECK(fails_with(tcc_kernel_eval(k, bufs, lookup, other), TCC_INVALID_ARGUMENT, "'n'"));
  tcc_module_destroy(m);
}

TEST(integer_wraparound_and_division) {
  int8_t a8[] = {100, -100, 5, -128}, b8[] = {100, -100, 3, -1}, o8[4];
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_ADD, TCC_DTYPE_I8, TCC_DTYPE_I8, false, 4, a8, b8, o8));
  CHECK(o8[0] == -56 && o8[1] == 56 && o8[2] == 8 && o8[3] == 127);
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_DIV, TCC_DTYPE_I8, TCC_DTYPE_I8, false, 4, a8, b8, o8));
  CHECK(o8[0] == 1 && o8[1] == 1 && o8[2] == 1 && o8[3] == -128); /* -128 / -1 wraps */
  uint8_t au[] = {3, 0, 200}, bu[] = {5, 1, 100}, ou[3];
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_SUB, TCC_DTYPE_U8, TCC_DTYPE_U8, false, 3, au, bu, ou));
  CHECK(ou[0] == 254 && ou[1] == 255 && ou[2] == 100);
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_MUL, TCC_DTYPE_U8, TCC_DTYPE_U8, false, 3, au, bu, ou));
  CHECK(ou[0] == 15 && ou[1] == 0 && ou[2] == (uint8_t)(200 * 100));

  int32_t a[] = {-7, 7, -7, 7, 6}, b[] = {2, -2, -2, 2, 3}, o[5];
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_DIV, TCC_DTYPE_I32, TCC_DTYPE_I32, false, 5, a, b, o));
  CHECK(o[0] == -3 && o[1] == -3 && o[2] == 3 && o[3] == 3 && o[4] == 2);
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_FLOORDIV, TCC_DTYPE_I32, TCC_DTYPE_I32, false, 5, a, b, o));
  CHECK(o[0] == -4 && o[1] == -4 && o[2] == 3 && o[3] == 3 && o[4] == 2);
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_FLOORMOD, TCC_DTYPE_I32, TCC_DTYPE_I32, false, 5, a, b, o));
  CHECK(o[0] == 1 && o[1] == -1 && o[2] == -1 && o[3] == 1 && o[4] == 0);
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_FMOD, TCC_DTYPE_I32, TCC_DTYPE_I32, false, 5, a, b, o));
  CHECK(o[0] == -1 && o[1] == 1 && o[2] == -1 && o[3] == 1 && o[4] == 0);

  int64_t big[] = {INT64_MIN, INT64_MIN}, minus1[] = {-1, -1}, o64[2];
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_DIV, TCC_DTYPE_I64, TCC_DTYPE_I64, false, 2, big, minus1, o64));
  CHECK(o64[0] == INT64_MIN);
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_FLOORMOD, TCC_DTYPE_I64, TCC_DTYPE_I64, false, 2, big, minus1, o64));
  CHECK(o64[0] == 0);
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_FMOD, TCC_DTYPE_I64, TCC_DTYPE_I64, false, 2, big, minus1, o64));
  CHECK(o64[0] == 0);

  int32_t zero[] = {1, 0, 2, 3, 4};
  CHECK(fails_with(run_elementwise(BINARY, TCC_KOP_DIV, TCC_DTYPE_I32, TCC_DTYPE_I32, false, 5, a, zero, o),
                   TCC_INVALID_ARGUMENT, "integer division by zero in kernel 'elementwise'"));
  CHECK(fails_with(run_elementwise(BINARY, TCC_KOP_FLOORMOD, TCC_DTYPE_I32, TCC_DTYPE_I32, false, 5, a, zero, o),
                   TCC_INVALID_ARGUMENT, "division by zero"));

  int32_t pa[] = {3, 2, -2, 5}, pb[] = {4, 31, 3, 0}, po[4];
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_POW, TCC_DTYPE_I32, TCC_DTYPE_I32, false, 4, pa, pb, po));
  CHECK(po[0] == 81 && po[1] == INT32_MIN && po[2] == -8 && po[3] == 1);
  uint8_t sa[] = {1, 1, 1, 0x80}, sb[] = {7, 8, 200, 7}, so[4];
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_SHL, TCC_DTYPE_U8, TCC_DTYPE_U8, false, 4, sa, sb, so));
  CHECK(so[0] == 128 && so[1] == 0 && so[2] == 0 && so[3] == 0);
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_SHR, TCC_DTYPE_U8, TCC_DTYPE_U8, false, 4, sa, sb, so));
  CHECK(so[0] == 0 && so[1] == 0 && so[2] == 0 && so[3] == 1);
  int32_t ra[] = {-16, -16}, rb[] = {2, 40}, ro[2];
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_SHR, TCC_DTYPE_I32, TCC_DTYPE_I32, false, 2, ra, rb, ro));
  CHECK(ro[0] == -4 && ro[1] == 0);

  uint64_t ua[] = {UINT64_MAX, 1}, ub[] = {1, 2};
  bool gt[2];
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_GT, TCC_DTYPE_U64, TCC_DTYPE_BOOL, false, 2, ua, ub, gt));
  CHECK(gt[0] && !gt[1]);
  uint64_t umax[2];
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_MAX, TCC_DTYPE_U64, TCC_DTYPE_U64, false, 2, ua, ub, umax));
  CHECK(umax[0] == UINT64_MAX && umax[1] == 2);
  int16_t na[] = {INT16_MIN, -5}, no[2];
  CHECK_OK(run_elementwise(UNARY, TCC_KOP_ABS, TCC_DTYPE_I16, TCC_DTYPE_I16, false, 2, na, NULL, no));
  CHECK(no[0] == INT16_MIN && no[1] == 5);
  CHECK_OK(run_elementwise(UNARY, TCC_KOP_NEG, TCC_DTYPE_I16, TCC_DTYPE_I16, false, 2, na, NULL, no));
  CHECK(no[0] == INT16_MIN && no[1] == 5);
}

TEST(float_operators) {
  float a[] = {0, 4, 2.5f, -3.5f, -3, NAN}, o[6];
  CHECK_OK(run_elementwise(UNARY, TCC_KOP_SIGMOID, TCC_DTYPE_F32, TCC_DTYPE_F32, false, 6, a, NULL, o));
  CHECK(o[0] == 0.5f && fabsf(o[1] - 0.98201379f) < 1e-6f);
  CHECK_OK(run_elementwise(UNARY, TCC_KOP_RSQRT, TCC_DTYPE_F32, TCC_DTYPE_F32, false, 6, a, NULL, o));
  CHECK(isinf(o[0]) && o[1] == 0.5f);
  CHECK_OK(run_elementwise(UNARY, TCC_KOP_ROUND_EVEN, TCC_DTYPE_F32, TCC_DTYPE_F32, false, 6, a, NULL, o));
  CHECK(o[2] == 2 && o[3] == -4 && o[4] == -3);
  CHECK_OK(run_elementwise(UNARY, TCC_KOP_SIGN, TCC_DTYPE_F32, TCC_DTYPE_F32, false, 6, a, NULL, o));
  CHECK(o[0] == 0 && o[1] == 1 && o[3] == -1 && isnan(o[5]));
  CHECK_OK(run_elementwise(UNARY, TCC_KOP_ERF, TCC_DTYPE_F32, TCC_DTYPE_F32, false, 6, a, NULL, o));
  CHECK(o[0] == 0 && fabsf(o[2] - 0.999593048f) < 1e-6f);
  bool isnan_out[6];
  CHECK_OK(run_elementwise(UNARY, TCC_KOP_IS_NAN, TCC_DTYPE_F32, TCC_DTYPE_BOOL, false, 6, a, NULL, isnan_out));
  CHECK(!isnan_out[0] && !isnan_out[4] && isnan_out[5]);
  float fa[] = {5.5f, -5.5f}, fb[] = {2, 2}, fo[2];
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_FMOD, TCC_DTYPE_F32, TCC_DTYPE_F32, false, 2, fa, fb, fo));
  CHECK(fo[0] == 1.5f && fo[1] == -1.5f);
  double da[] = {1.0 / 3, 2}, db[] = {3, 0.5}, dout[2];
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_MUL, TCC_DTYPE_F64, TCC_DTYPE_F64, false, 2, da, db, dout));
  CHECK(dout[0] == 1.0 / 3 * 3 && dout[1] == 1);
}

TEST(nan_in_compare_select_min_max) {
  float a[] = {NAN, 1, 2, NAN}, b[] = {1, NAN, 3, NAN}, o[4];
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_MIN, TCC_DTYPE_F32, TCC_DTYPE_F32, false, 4, a, b, o));
  CHECK(isnan(o[0]) && isnan(o[1]) && o[2] == 2 && isnan(o[3]));
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_MAX, TCC_DTYPE_F32, TCC_DTYPE_F32, false, 4, a, b, o));
  CHECK(isnan(o[0]) && isnan(o[1]) && o[2] == 3 && isnan(o[3]));
  bool r[4];
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_LT, TCC_DTYPE_F32, TCC_DTYPE_BOOL, false, 4, a, b, r));
  CHECK(!r[0] && !r[1] && r[2] && !r[3]);
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_EQ, TCC_DTYPE_F32, TCC_DTYPE_BOOL, false, 4, a, b, r));
  CHECK(!r[0] && !r[1] && !r[2] && !r[3]);
  CHECK_OK(run_elementwise(BINARY, TCC_KOP_NE, TCC_DTYPE_F32, TCC_DTYPE_BOOL, false, 4, a, b, r));
  CHECK(r[0] && r[1] && r[2] && r[3]);

  /* out = select(a < b, a, b), and the select only evaluates the chosen side: q = b != 0 ? a / b : -1 */
  tcc_module_t *m = new_module();
  const tcc_dim_t *d4[] = {tcc_dim_const(m, 4)};
  tcc_kernel_t *k = tcc_kernel_create(m, "select");
  tcc_kbuf_t *x = tcc_kernel_add_param(k, "x", TCC_KBUF_INPUT, TCC_DTYPE_F32, 1, d4);
  tcc_kbuf_t *y = tcc_kernel_add_param(k, "y", TCC_KBUF_INPUT, TCC_DTYPE_F32, 1, d4);
  tcc_kbuf_t *z = tcc_kernel_add_param(k, "z", TCC_KBUF_OUTPUT, TCC_DTYPE_F32, 1, d4);
  tcc_kbuf_t *p = tcc_kernel_add_param(k, "p", TCC_KBUF_INPUT, TCC_DTYPE_I32, 1, d4);
  tcc_kbuf_t *q = tcc_kernel_add_param(k, "q", TCC_KBUF_OUTPUT, TCC_DTYPE_I32, 1, d4);
  const tcc_kvar_t *i;
  tcc_kblock_t *body = tcc_k_for(k, tcc_kernel_body(k), "i", tcc_k_int(k, 4), TCC_KLOOP_PARALLEL, &i);
  const tcc_kexpr_t *ii[] = {tcc_k_var(k, i)}, *xi = tcc_k_load(k, x, ii), *yi = tcc_k_load(k, y, ii);
  tcc_k_store(k, body, z, ii, tcc_k_select(k, tcc_k_binary(k, TCC_KOP_LT, xi, yi), xi, yi));
  const tcc_kexpr_t *pi = tcc_k_load(k, p, ii), *zero = tcc_k_const(k, TCC_DTYPE_I32, 0);
  const tcc_kexpr_t *quotient = tcc_k_binary(k, TCC_KOP_DIV, tcc_k_const(k, TCC_DTYPE_I32, 12), pi);
  tcc_k_store(k, body, q, ii,
              tcc_k_select(k, tcc_k_binary(k, TCC_KOP_NE, pi, zero), quotient, tcc_k_const(k, TCC_DTYPE_I32, -1)));
  int32_t ps[] = {3, 0, -4, 0}, qs[4];
  void *bufs[] = {a, b, o, ps, qs};
  CHECK_OK(tcc_kernel_eval(k, bufs, NULL, NULL));
  CHECK(o[0] == 1 && isnan(o[1]) && o[2] == 2 && isnan(o[3]));
  CHECK(qs[0] == 4 && qs[1] == -1 && qs[2] == -3 && qs[3] == -1);
  tcc_module_destroy(m);
}

/* out[i] = f16(sum_j max(x[i, j], 0)) with an f32 register accumulator that relies on ALLOC zeroing it. */
TEST(row_sum_f16_with_register_accumulator) {
  tcc_module_t *m = new_module();
  const tcc_dim_t *n4[] = {tcc_dim_symbol(m, "n"), tcc_dim_const(m, 4)}, *one[] = {tcc_dim_const(m, 1)};
  tcc_kernel_t *k = tcc_kernel_create(m, "row_sum");
  tcc_kbuf_t *x = tcc_kernel_add_param(k, "x", TCC_KBUF_INPUT, TCC_DTYPE_F16, 2, n4);
  tcc_kbuf_t *out = tcc_kernel_add_param(k, "out", TCC_KBUF_OUTPUT, TCC_DTYPE_F16, 1, n4);
  tcc_kbuf_t *acc = tcc_kernel_add_local(k, "acc", TCC_KBUF_REGISTER, TCC_DTYPE_F32, 1, one);
  const tcc_kvar_t *i, *j;
  tcc_kblock_t *row = tcc_k_for(k, tcc_kernel_body(k), "i", tcc_k_dim(k, n4[0]), TCC_KLOOP_SERIAL, &i);
  const tcc_kexpr_t *zero[] = {tcc_k_int(k, 0)}, *ii[] = {tcc_k_var(k, i)};
  tcc_k_alloc(k, row, acc);
  tcc_kblock_t *col = tcc_k_for(k, row, "j", tcc_k_int(k, 4), TCC_KLOOP_UNROLLED, &j);
  const tcc_kexpr_t *ij[] = {tcc_k_var(k, i), tcc_k_var(k, j)};
  const tcc_kexpr_t *xv = tcc_k_cast(k, TCC_DTYPE_F32, tcc_k_load(k, x, ij), false);
  const tcc_kexpr_t *positive = tcc_k_select(k, tcc_k_binary(k, TCC_KOP_GT, xv, tcc_k_const(k, TCC_DTYPE_F32, 0)), xv,
                                             tcc_k_const(k, TCC_DTYPE_F32, 0));
  tcc_k_store(k, col, acc, zero, tcc_k_binary(k, TCC_KOP_ADD, tcc_k_load(k, acc, zero), positive));
  tcc_k_store(k, row, out, ii, tcc_k_cast(k, TCC_DTYPE_F16, tcc_k_load(k, acc, zero), false));
  CHECK_OK(tcc_module_check(m));
  /* 1 + 2^-11 ties to 1; 1 + 2^-10 is exact; 1 + 0.75 * 2^-10 rounds up; 70000 overflows; negatives drop */
  uint16_t xs[] = {0x3c00, 0x1000, 0, 0,       0x3c00, 0x1000, 0x1000, 0xbc00,
                   0x3c00, 0x1200, 0, 0x8000,  0x7b53, 0x70e2, 0, 0,
                   0xbc00, 0xc000, 0, 0};
  uint16_t outs[5];
  binding_t bind[] = {{"n", 5}, {NULL, 0}};
  void *bufs[] = {xs, outs};
  CHECK_OK(tcc_kernel_eval(k, bufs, lookup, bind));
  CHECK(outs[0] == 0x3c00 && outs[1] == 0x3c01 && outs[2] == 0x3c01 && outs[3] == 0x7c00 && outs[4] == 0);
  tcc_module_destroy(m);
}

TEST(casts_to_half_and_bfloat) {
  CHECK(f16_bits(1.0f / 3) == 0x3555);
  CHECK(f16_bits(65504) == 0x7bff && f16_bits(65519) == 0x7bff && f16_bits(65520) == 0x7c00);
  CHECK(f16_bits(-INFINITY) == 0xfc00 && f16_bits(-0.0f) == 0x8000);
  uint16_t nan = f16_bits(NAN);
  CHECK((nan & 0x7c00) == 0x7c00 && (nan & 0x3ff) != 0);
  CHECK(f16_bits(0x1p-24f) == 1 && f16_bits(0x1p-25f) == 0 && f16_bits(0x1.8p-25f) == 1 && f16_bits(0x1p-14f) == 0x400);
  float in[] = {1.0f / 3, 3.4e38f, NAN, -1.5f};
  uint16_t bf[4];
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_F32, TCC_DTYPE_BF16, false, 4, in, NULL, bf));
  CHECK(bf[0] == 0x3eab && bf[1] == 0x7f80 && (bf[2] & 0x7f80) == 0x7f80 && (bf[2] & 0x7f) && bf[3] == 0xbfc0);
  /* f64 -> f16 rounds once */
  double d[] = {1.0 / 3, 1 + 0x1p-11 + 0x1p-40};
  uint16_t h[2];
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_F64, TCC_DTYPE_F16, false, 2, d, NULL, h));
  CHECK(h[0] == 0x3555 && h[1] == 0x3c01);
  /* f16 -> f32 -> back */
  uint16_t hs[] = {0x3555, 0x0001, 0xfc00};
  float fs[3];
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_F16, TCC_DTYPE_F32, false, 3, hs, NULL, fs));
  CHECK(fs[0] == 0.333251953125f && fs[1] == 0x1p-24f && fs[2] == -INFINITY);
}

TEST(casts_to_float8_and_float4) {
  float in[] = {448, 500, INFINITY, -1000, NAN, 1, 464, 0x1p-9f, -0.0f, 0x1p-10f};
  uint8_t o[10];
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_F32, TCC_DTYPE_F8E4M3FN, true, 10, in, NULL, o));
  CHECK(o[0] == 0x7e && o[1] == 0x7e && o[2] == 0x7e && o[3] == 0xfe && (o[4] & 0x7f) == 0x7f && o[5] == 0x38);
  CHECK(o[6] == 0x7e && o[7] == 0x01 && o[8] == 0x80 && o[9] == 0);
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_F32, TCC_DTYPE_F8E4M3FN, false, 10, in, NULL, o));
  CHECK(o[0] == 0x7e && o[1] == 0x7f && o[2] == 0x7f && o[3] == 0xff && o[6] == 0x7e);
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_F32, TCC_DTYPE_F8E4M3FNUZ, false, 10, in, NULL, o));
  CHECK(o[1] == 0x80 && o[4] == 0x80 && o[5] == 0x40 && o[8] == 0);
  float e5[] = {1e6f, -1e6f, 57344, 1.5f};
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_F32, TCC_DTYPE_F8E5M2, false, 4, e5, NULL, o));
  CHECK(o[0] == 0x7c && o[1] == 0xfc && o[2] == 0x7b && o[3] == 0x3e);
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_F32, TCC_DTYPE_F8E5M2, true, 4, e5, NULL, o));
  CHECK(o[0] == 0x7b && o[1] == 0xfb);
  /* decoding back */
  uint8_t codes[] = {0x7e, 0x7f, 0x01, 0xb8};
  float back[4];
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_F8E4M3FN, TCC_DTYPE_F32, false, 4, codes, NULL, back));
  CHECK(back[0] == 448 && isnan(back[1]) && back[2] == 0x1p-9f && back[3] == -1);
  /* float4 e2m1 (ONNX's test_cast_FLOAT_to_FLOAT4E2M1): always saturates, NaN -> 0x7 */
  float f4[] = {0.48f, 0.25f, 1.05f, -3.5f, -8, 9, 1e6f, 1e-7f, NAN, INFINITY, INFINITY, -INFINITY, -4, 0.01f, -0.0f};
  uint8_t packed[8] = {0};
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_F32, TCC_DTYPE_F4E2M1, false, 15, f4, NULL, packed));
  uint8_t want[] = {0x01, 0xe2, 0x7f, 0x07, 0x77, 0xf7, 0x0e, 0x08};
  CHECK(memcmp(packed, want, 8) == 0);
}

TEST(casts_to_and_from_integers) {
  float in[] = {-2.7f, 2.7f, NAN, 3e9f, -0.5f, 255.9f, 300, -1};
  int32_t i32[8];
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_F32, TCC_DTYPE_I32, false, 8, in, NULL, i32));
  CHECK(i32[0] == -2 && i32[1] == 2 && i32[2] == INT32_MIN && i32[3] == INT32_MIN && i32[4] == 0 && i32[5] == 255);
  uint8_t u8[8];
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_F32, TCC_DTYPE_U8, false, 8, in, NULL, u8));
  CHECK(u8[0] == 0 && u8[1] == 2 && u8[2] == 0 && u8[3] == 0 && u8[4] == 0 && u8[5] == 255 && u8[6] == 0 && u8[7] == 0);
  double huge[] = {9.3e18, -9.3e18, 1.8e19, -1};
  int64_t i64[4];
  uint64_t u64[4];
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_F64, TCC_DTYPE_I64, false, 4, huge, NULL, i64));
  CHECK(i64[0] == INT64_MIN && i64[1] == INT64_MIN && i64[3] == -1);
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_F64, TCC_DTYPE_U64, false, 4, huge, NULL, u64));
  CHECK(u64[0] == 9300000000000000000ull && u64[2] == 18000000000000000000ull && u64[3] == 0);
  int64_t bools_in[] = {0, 5, -1, INT64_MIN};
  bool bools[4];
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_I64, TCC_DTYPE_BOOL, false, 4, bools_in, NULL, bools));
  CHECK(!bools[0] && bools[1] && bools[2] && bools[3]);
  float from_bool[4];
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_BOOL, TCC_DTYPE_F32, false, 4, bools, NULL, from_bool));
  CHECK(from_bool[0] == 0 && from_bool[1] == 1 && from_bool[3] == 1);
  int32_t wide[] = {300, -129, 127};
  int8_t narrow[3];
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_I32, TCC_DTYPE_I8, false, 3, wide, NULL, narrow));
  CHECK(narrow[0] == 44 && narrow[1] == 127 && narrow[2] == 127);
  uint64_t ubig[] = {UINT64_MAX};
  float fbig[1];
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_U64, TCC_DTYPE_F32, false, 1, ubig, NULL, fbig));
  CHECK(fbig[0] == 0x1p64f);
  /* 4-bit integers saturate (float: clip, then round half to even) */
  float f4[] = {-9, 7.6f, 2.5f, -3.5f, NAN, 0.4f};
  uint8_t i4[3], u4[3];
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_F32, TCC_DTYPE_I4, false, 6, f4, NULL, i4));
  CHECK(i4[0] == 0x78 && i4[1] == 0xc2 && i4[2] == 0x00);
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_F32, TCC_DTYPE_U4, false, 6, f4, NULL, u4));
  CHECK(u4[0] == 0x80 && u4[1] == 0x02 && u4[2] == 0x00); /* 7.6 -> 8 */
  int32_t ints[] = {100, -100, 5, -3};
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_I32, TCC_DTYPE_I4, false, 4, ints, NULL, i4));
  CHECK(i4[0] == 0x87 && i4[1] == 0xd5);
  CHECK_OK(run_elementwise(CAST, 0, TCC_DTYPE_I32, TCC_DTYPE_U4, false, 4, ints, NULL, u4));
  CHECK(u4[0] == 0x0f && u4[1] == 0x05);
}

TEST(packed_4bit_round_trip) {
  tcc_module_t *m = new_module();
  const tcc_dim_t *d5[] = {tcc_dim_const(m, 5)};
  tcc_kernel_t *k = tcc_kernel_create(m, "nibbles");
  tcc_kbuf_t *x = tcc_kernel_add_param(k, "x", TCC_KBUF_INPUT, TCC_DTYPE_I4, 1, d5);
  tcc_kbuf_t *y = tcc_kernel_add_param(k, "y", TCC_KBUF_OUTPUT, TCC_DTYPE_I4, 1, d5);
  tcc_kbuf_t *w = tcc_kernel_add_param(k, "w", TCC_KBUF_OUTPUT, TCC_DTYPE_I32, 1, d5);
  tcc_kbuf_t *tmp = tcc_kernel_add_local(k, "tmp", TCC_KBUF_LOCAL, TCC_DTYPE_I4, 1, d5);
  tcc_k_alloc(k, tcc_kernel_body(k), tmp);
  const tcc_kvar_t *i, *j;
  tcc_kblock_t *b1 = tcc_k_for(k, tcc_kernel_body(k), "i", tcc_k_int(k, 5), TCC_KLOOP_SERIAL, &i);
  const tcc_kexpr_t *ii[] = {tcc_k_var(k, i)};
  /* reversed through a packed temporary, then copied and widened */
  const tcc_kexpr_t *rev[] = {tcc_k_binary(k, TCC_KOP_SUB, tcc_k_int(k, 4), tcc_k_var(k, i))};
  tcc_k_store(k, b1, tmp, rev, tcc_k_load(k, x, ii));
  tcc_kblock_t *b2 = tcc_k_for(k, tcc_kernel_body(k), "j", tcc_k_int(k, 5), TCC_KLOOP_SERIAL, &j);
  const tcc_kexpr_t *jj[] = {tcc_k_var(k, j)};
  tcc_k_store(k, b2, y, jj, tcc_k_load(k, tmp, jj));
  tcc_k_store(k, b2, w, jj, tcc_k_cast(k, TCC_DTYPE_I32, tcc_k_load(k, tmp, jj), false));
  CHECK_OK(tcc_module_check(m));
  uint8_t xs[] = {0x8f, 0x71, 0x03}; /* -1, -8, 1, 7, 3 */
  uint8_t ys[] = {0xff, 0xff, 0xff};
  int32_t ws[5];
  void *bufs[] = {xs, ys, ws};
  CHECK_OK(tcc_kernel_eval(k, bufs, NULL, NULL));
  CHECK(ws[0] == 3 && ws[1] == 7 && ws[2] == 1 && ws[3] == -8 && ws[4] == -1);
  CHECK(ys[0] == 0x73 && ys[1] == 0x81 && ys[2] == 0xff); /* the unused high nibble is untouched */
  tcc_module_destroy(m);
}

TEST(errors_are_statuses) {
  tcc_module_t *m = new_module();
  const tcc_dim_t *d4[] = {tcc_dim_const(m, 4)};
  tcc_kernel_t *k = tcc_kernel_create(m, "oob");
  tcc_kbuf_t *x = tcc_kernel_add_param(k, "x", TCC_KBUF_INPUT, TCC_DTYPE_F32, 1, d4);
  tcc_kbuf_t *y = tcc_kernel_add_param(k, "y", TCC_KBUF_OUTPUT, TCC_DTYPE_F32, 1, d4);
  const tcc_kvar_t *i;
  tcc_kblock_t *body = tcc_k_for(k, tcc_kernel_body(k), "i", tcc_k_int(k, 4), TCC_KLOOP_SERIAL, &i);
  const tcc_kexpr_t *ii[] = {tcc_k_var(k, i)};
  const tcc_kexpr_t *next[] = {tcc_k_binary(k, TCC_KOP_ADD, tcc_k_var(k, i), tcc_k_int(k, 1))};
  tcc_k_store(k, body, y, ii, tcc_k_load(k, x, next));
  float xs[4] = {1, 2, 3, 4}, ys[4] = {0};
  void *bufs[] = {xs, ys};
  CHECK(fails_with(tcc_kernel_eval(k, bufs, NULL, NULL), TCC_INTERNAL,
                   "kernel 'oob': index 4 out of range [0, 4) in dimension 0 of buffer 'x'"));
  CHECK(ys[0] == 2 && ys[2] == 4 && ys[3] == 0);
  body->count = 0;
  const tcc_kexpr_t *neg[] = {tcc_k_int(k, -1)};
  tcc_k_store(k, body, y, neg, tcc_k_const(k, TCC_DTYPE_F32, 1));
  CHECK(fails_with(tcc_kernel_eval(k, bufs, NULL, NULL), TCC_INTERNAL,
                   "index -1 out of range [0, 4) in dimension 0 of buffer 'y'"));
  body->count = 0;
  tcc_k_call(k, body, "topk", (const tcc_kbuf_t *const[]){x}, 1, NULL, 0);
  CHECK(fails_with(tcc_kernel_eval(k, bufs, NULL, NULL), TCC_UNSUPPORTED,
                   "extern 'topk' is not available in the evaluator"));
  body->count = 0;
  tcc_k_store(k, body, x, ii, tcc_k_const(k, TCC_DTYPE_F32, 1)); /* malformed: the verifier's status */
  CHECK(fails_with(tcc_kernel_eval(k, bufs, NULL, NULL), TCC_INTERNAL, "store to input 'x'"));
  /* a negative extent runs nothing; IF / else */
  tcc_kernel_body(k)->count = 0;
  const tcc_kvar_t *j;
  tcc_k_for(k, tcc_kernel_body(k), "j", tcc_k_int(k, -3), TCC_KLOOP_SERIAL, &j);
  tcc_kblock_t *loop = tcc_k_for(k, tcc_kernel_body(k), "l", tcc_k_int(k, 4), TCC_KLOOP_SERIAL, &i);
  const tcc_kexpr_t *ll[] = {tcc_k_var(k, i)};
  tcc_kblock_t *orelse;
  tcc_kblock_t *then = tcc_k_if(k, loop, tcc_k_binary(k, TCC_KOP_LT, tcc_k_var(k, i), tcc_k_int(k, 2)), &orelse);
  tcc_k_store(k, then, y, ll, tcc_k_const(k, TCC_DTYPE_F32, 10));
  tcc_k_store(k, orelse, y, ll, tcc_k_const(k, TCC_DTYPE_F32, 20));
  CHECK_OK(tcc_kernel_eval(k, bufs, NULL, NULL));
  CHECK(ys[0] == 10 && ys[1] == 10 && ys[2] == 20 && ys[3] == 20);
  tcc_module_destroy(m);
}

/* Innermost loops prove affine indices in range once per entry and run f32 dot products as tight loops;
 * invariant integer arithmetic is hoisted out of loops. None of it may evaluate a guarded access that the
 * program skips, or miss an error the program makes. Here y[i] = sum_j x[2i + 2 - j] * w[j] (a reversed,
 * strided dot product), then a loop whose guarded load has an invariant index 10 / i that divides by zero
 * (i = 0) or is out of range (i = 1) but is never evaluated. */
TEST(innermost_loop_fast_paths) {
  tcc_module_t *m = new_module();
  const tcc_dim_t *d7[] = {tcc_dim_const(m, 7)}, *d3[] = {tcc_dim_const(m, 3)}, *one[] = {tcc_dim_const(m, 1)};
  tcc_kernel_t *k = tcc_kernel_create(m, "dot");
  tcc_kbuf_t *x = tcc_kernel_add_param(k, "x", TCC_KBUF_INPUT, TCC_DTYPE_F32, 1, d7);
  tcc_kbuf_t *w = tcc_kernel_add_param(k, "w", TCC_KBUF_INPUT, TCC_DTYPE_F32, 1, d3);
  tcc_kbuf_t *y = tcc_kernel_add_param(k, "y", TCC_KBUF_OUTPUT, TCC_DTYPE_F32, 1, d3);
  tcc_kbuf_t *acc = tcc_kernel_add_local(k, "acc", TCC_KBUF_REGISTER, TCC_DTYPE_F32, 1, one);
  const tcc_kvar_t *i, *j, *l;
  tcc_kblock_t *bi = tcc_k_for(k, tcc_kernel_body(k), "i", tcc_k_int(k, 3), TCC_KLOOP_SERIAL, &i);
  const tcc_kexpr_t *zero[] = {tcc_k_int(k, 0)}, *ii[] = {tcc_k_var(k, i)}, *vi = tcc_k_var(k, i);
  tcc_k_alloc(k, bi, acc);
  tcc_k_store(k, bi, acc, zero, tcc_k_const(k, TCC_DTYPE_F32, 0));
  tcc_kblock_t *bj = tcc_k_for(k, bi, "j", tcc_k_int(k, 3), TCC_KLOOP_SERIAL, &j);
  const tcc_kexpr_t *vj = tcc_k_var(k, j), *jj[] = {vj};
  const tcc_kexpr_t *xi[] = {tcc_k_binary(k, TCC_KOP_SUB, tcc_k_binary(k, TCC_KOP_ADD, tcc_k_binary(k, TCC_KOP_MUL,
                             tcc_k_int(k, 2), vi), tcc_k_int(k, 2)), vj)};
  tcc_k_store(k, bj, acc, zero, tcc_k_binary(k, TCC_KOP_ADD, tcc_k_load(k, acc, zero),
                                             tcc_k_binary(k, TCC_KOP_MUL, tcc_k_load(k, x, xi), tcc_k_load(k, w, jj))));
  tcc_kblock_t *bl = tcc_k_for(k, bi, "l", tcc_k_int(k, 4), TCC_KLOOP_SERIAL, &l);
  tcc_kblock_t *guarded = tcc_k_if(k, bl, tcc_k_binary(k, TCC_KOP_GT, tcc_k_var(k, l), tcc_k_int(k, 5)), NULL);
  const tcc_kexpr_t *bad[] = {tcc_k_binary(k, TCC_KOP_FLOORDIV, tcc_k_int(k, 10), vi)};
  tcc_k_store(k, guarded, acc, zero, tcc_k_load(k, x, bad));
  tcc_k_store(k, bi, y, ii, tcc_k_load(k, acc, zero));
  CHECK_OK(tcc_module_check(m));
  float xs[7] = {0.5f, -1.25f, 3, 0.1f, -7, 2.5f, 0.7f}, ws[3] = {1.5f, -0.3f, 2}, ys[3] = {0};
  void *bufs[] = {xs, ws, ys};
  CHECK_OK(tcc_kernel_eval(k, bufs, NULL, NULL));
  for (int a = 0; a < 3; a++) {
    float s = 0;
    for (int b = 0; b < 3; b++) s = s + xs[2 * a + 2 - b] * ws[b];
    CHECK(ys[a] == s);
  }
  /* unguarded, the same load fails on its first evaluation */
  guarded->count = 0;
  bl->count = 0;
  tcc_k_store(k, bl, acc, zero, tcc_k_load(k, x, bad));
  CHECK(fails_with(tcc_kernel_eval(k, bufs, NULL, NULL), TCC_INVALID_ARGUMENT,
                   "integer division by zero in kernel 'dot'"));
  tcc_module_destroy(m);
}

/* C[i, j] = sum_k A[i, k] * B[k, j] over f32[n, n] through a register accumulator. */
static tcc_kernel_t *matmul_kernel(tcc_module_t *m, int64_t n) {
  const tcc_dim_t *nn[] = {tcc_dim_const(m, n), tcc_dim_const(m, n)}, *one[] = {tcc_dim_const(m, 1)};
  tcc_kernel_t *k = tcc_kernel_create(m, "matmul");
  tcc_kbuf_t *a = tcc_kernel_add_param(k, "A", TCC_KBUF_INPUT, TCC_DTYPE_F32, 2, nn);
  tcc_kbuf_t *b = tcc_kernel_add_param(k, "B", TCC_KBUF_INPUT, TCC_DTYPE_F32, 2, nn);
  tcc_kbuf_t *c = tcc_kernel_add_param(k, "C", TCC_KBUF_OUTPUT, TCC_DTYPE_F32, 2, nn);
  tcc_kbuf_t *acc = tcc_kernel_add_local(k, "acc", TCC_KBUF_REGISTER, TCC_DTYPE_F32, 1, one);
  const tcc_kvar_t *i, *j, *l;
  tcc_kblock_t *bi = tcc_k_for(k, tcc_kernel_body(k), "i", tcc_k_int(k, n), TCC_KLOOP_PARALLEL, &i);
  tcc_kblock_t *bj = tcc_k_for(k, bi, "j", tcc_k_int(k, n), TCC_KLOOP_SERIAL, &j);
  tcc_k_alloc(k, bj, acc);
  tcc_kblock_t *bl = tcc_k_for(k, bj, "k", tcc_k_int(k, n), TCC_KLOOP_SERIAL, &l);
  const tcc_kexpr_t *zero[] = {tcc_k_int(k, 0)}, *ij[] = {tcc_k_var(k, i), tcc_k_var(k, j)};
  const tcc_kexpr_t *ik[] = {tcc_k_var(k, i), tcc_k_var(k, l)}, *kj[] = {tcc_k_var(k, l), tcc_k_var(k, j)};
  tcc_k_store(k, bl, acc, zero,
              tcc_k_binary(k, TCC_KOP_ADD, tcc_k_load(k, acc, zero),
                           tcc_k_binary(k, TCC_KOP_MUL, tcc_k_load(k, a, ik), tcc_k_load(k, b, kj))));
  tcc_k_store(k, bj, c, ij, tcc_k_load(k, acc, zero));
  return k;
}

static void check_matmul(int64_t n, bool report) {
  tcc_module_t *m = new_module();
  tcc_kernel_t *k = matmul_kernel(m, n);
  CHECK_OK(tcc_module_check(m));
  size_t count = (size_t)(n * n);
  float *a = malloc(count * sizeof *a), *b = malloc(count * sizeof *b), *c = calloc(count, sizeof *c);
  for (size_t e = 0; e < count; e++) {
    a[e] = (float)((e * 7) % 13) - 6;
    b[e] = (float)((e * 5) % 11) * 0.25f;
  }
  void *bufs[] = {a, b, c};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK_OK(tcc_kernel_eval(k, bufs, NULL, NULL));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) {
      float s = 0;
      for (int64_t l = 0; l < n; l++) s += a[i * n + l] * b[l * n + j];
      CHECK(c[i * n + j] == s);
    }
  if (report) {
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double flop = 2.0 * (double)n * (double)n * (double)n;
    printf("matmul %lld^3: %.3f s, %.1f MFLOP/s\n", (long long)n, secs, flop / secs / 1e6);
  }
  free(a);
  free(b);
  free(c);
  tcc_module_destroy(m);
}

TEST(matmul_8x8x8) {
  check_matmul(8, false);
  const char *bench = getenv("TCC_EVAL_BENCH");
  if (bench && atoi(bench) > 0) check_matmul(atoi(bench), true);
}

RUN_TESTS(T(broadcast_add_with_symbolic_dim), T(integer_wraparound_and_division), T(float_operators),
          T(nan_in_compare_select_min_max), T(row_sum_f16_with_register_accumulator), T(casts_to_half_and_bfloat),
          T(casts_to_float8_and_float4), T(casts_to_and_from_integers), T(packed_4bit_round_trip),
          T(errors_are_statuses), T(innermost_loop_fast_paths), T(matmul_8x8x8))
