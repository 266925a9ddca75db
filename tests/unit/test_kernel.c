/* Kernel IR: building, printing and verifying loop nests. */
#include "ir/kernel.h"
#include "tests/graph_builder.h"
#include "tests/test.h"

/* Prints k into a static buffer. */
static const char *printed(const tcc_kernel_t *k) {
  static char buf[4096];
  FILE *f = fmemopen(buf, sizeof buf, "w");
  CHECK_OK(tcc_kernel_print(k, f));
  fclose(f);
  return buf;
}

static bool fails_with(tcc_status_t st, const char *text) {
  bool ok = st && tcc_status_code(st) == TCC_INTERNAL && strstr(tcc_status_message(st), text);
  if (!ok) fprintf(stderr, "got: %s\n", st ? tcc_status_message(st) : "OK");
  tcc_status_free(st);
  return ok;
}

typedef struct {
  tcc_module_t *m;
  tcc_kernel_t *k;
  tcc_kbuf_t *x, *y, *z;
} fixture_t;

/* z[i, j] = x[i, j] + y[j] over x: f32[n, 4]. */
static fixture_t broadcast_add(void) {
  fixture_t f = {.m = new_module()};
  tcc_module_t *m = f.m;
  const tcc_dim_t *n4[] = {tcc_dim_symbol(m, "n"), tcc_dim_const(m, 4)};
  f.k = tcc_kernel_create(m, "add");
  f.x = tcc_kernel_add_param(f.k, "x", TCC_KBUF_INPUT, TCC_DTYPE_F32, 2, n4);
  f.y = tcc_kernel_add_param(f.k, "y", TCC_KBUF_INPUT, TCC_DTYPE_F32, 1, n4 + 1);
  f.z = tcc_kernel_add_param(f.k, "z", TCC_KBUF_OUTPUT, TCC_DTYPE_F32, 2, n4);
  const tcc_kvar_t *i, *j;
  tcc_kblock_t *outer = tcc_k_for(f.k, tcc_kernel_body(f.k), "i", tcc_k_dim(f.k, n4[0]), TCC_KLOOP_PARALLEL, &i);
  tcc_kblock_t *inner = tcc_k_for(f.k, outer, "j", tcc_k_dim(f.k, n4[1]), TCC_KLOOP_SERIAL, &j);
  const tcc_kexpr_t *ij[] = {tcc_k_var(f.k, i), tcc_k_var(f.k, j)}, *jj[] = {tcc_k_var(f.k, j)};
  tcc_k_store(f.k, inner, f.z, ij, tcc_k_binary(f.k, TCC_KOP_ADD, tcc_k_load(f.k, f.x, ij), tcc_k_load(f.k, f.y, jj)));
  return f;
}

TEST(build_print_verify) {
  fixture_t f = broadcast_add();
  CHECK_OK(tcc_module_check(f.m));
  CHECK_OK(tcc_kernel_verify(f.k));
  CHECK_STR(printed(f.k), "kernel add(in x: f32[n, 4], in y: f32[4], out z: f32[n, 4]) {\n"
                          "  for i in 0..dim(n) parallel {\n"
                          "    for j in 0..4 {\n"
                          "      z[i, j] = add(x[i, j], y[j])\n"
                          "    }\n"
                          "  }\n"
                          "}\n");
  tcc_module_destroy(f.m);
}

/* out[i] = sum_j x[i, j] through a register accumulator; also a select and a cast. */
TEST(reduction_with_register_accumulator) {
  fixture_t f = broadcast_add();
  tcc_kernel_t *k = tcc_kernel_create(f.m, "row_sum");
  const tcc_dim_t *n4[] = {tcc_dim_symbol(f.m, "n"), tcc_dim_const(f.m, 4)}, *one[] = {tcc_dim_const(f.m, 1)};
  tcc_kbuf_t *x = tcc_kernel_add_param(k, "x", TCC_KBUF_INPUT, TCC_DTYPE_F16, 2, n4);
  tcc_kbuf_t *out = tcc_kernel_add_param(k, "out", TCC_KBUF_OUTPUT, TCC_DTYPE_F16, 1, n4);
  tcc_kbuf_t *acc = tcc_kernel_add_local(k, "acc", TCC_KBUF_REGISTER, TCC_DTYPE_F32, 1, one);
  const tcc_kvar_t *i, *j;
  tcc_kblock_t *row = tcc_k_for(k, tcc_kernel_body(k), "i", tcc_k_dim(k, n4[0]), TCC_KLOOP_SERIAL, &i);
  const tcc_kexpr_t *zero[] = {tcc_k_int(k, 0)}, *ii[] = {tcc_k_var(k, i)};
  tcc_k_alloc(k, row, acc);
  tcc_k_store(k, row, acc, zero, tcc_k_const(k, TCC_DTYPE_F32, 0));
  tcc_kblock_t *col = tcc_k_for(k, row, "j", tcc_k_int(k, 4), TCC_KLOOP_UNROLLED, &j);
  const tcc_kexpr_t *ij[] = {tcc_k_var(k, i), tcc_k_var(k, j)};
  const tcc_kexpr_t *xv = tcc_k_cast(k, TCC_DTYPE_F32, tcc_k_load(k, x, ij), false);
  const tcc_kexpr_t *positive = tcc_k_select(k, tcc_k_binary(k, TCC_KOP_GT, xv, tcc_k_const(k, TCC_DTYPE_F32, 0)), xv,
                                             tcc_k_const(k, TCC_DTYPE_F32, 0));
  tcc_k_store(k, col, acc, zero, tcc_k_binary(k, TCC_KOP_ADD, tcc_k_load(k, acc, zero), positive));
  tcc_k_store(k, row, out, ii, tcc_k_cast(k, TCC_DTYPE_F16, tcc_k_load(k, acc, zero), false));
  CHECK_OK(tcc_kernel_verify(k));
  CHECK(strstr(printed(k), "alloc register acc: f32[1]\n") != NULL);
  CHECK(strstr(printed(k), "acc[0] = add(acc[0], select(gt(cast<f32>(x[i, j]), 0:f32), cast<f32>(x[i, j]), 0:f32))") != NULL);
  CHECK(strstr(printed(k), "for j in 0..4 unrolled {") != NULL);
  tcc_module_destroy(f.m);
}

TEST(verifier_rejects_malformed_kernels) {
  fixture_t f = broadcast_add();
  tcc_kernel_t *k = f.k;
  const tcc_kvar_t *i;
  tcc_kblock_t *body = tcc_kernel_body(k);
  const tcc_kexpr_t *zero_zero[] = {tcc_k_int(k, 0), tcc_k_int(k, 0)};
  /* each case appends one bad statement, checks, then removes it */
  tcc_k_store(k, body, f.x, zero_zero, tcc_k_const(k, TCC_DTYPE_F32, 1));
  CHECK(fails_with(tcc_kernel_verify(k), "store to input 'x'"));
  body->count--;
  tcc_k_store(k, body, f.z, zero_zero, tcc_k_const(k, TCC_DTYPE_F64, 1));
  CHECK(fails_with(tcc_kernel_verify(k), "store of f64 into 'z' of f32"));
  body->count--;
  tcc_k_for(k, body, "i2", tcc_k_int(k, 2), TCC_KLOOP_SERIAL, &i);
  body->count--; /* the loop is gone, its variable stays out of scope */
  const tcc_kexpr_t *stray[] = {tcc_k_var(k, i), tcc_k_int(k, 0)};
  tcc_k_store(k, body, f.z, stray, tcc_k_const(k, TCC_DTYPE_F32, 1));
  CHECK(fails_with(tcc_kernel_verify(k), "loop variable 'i2' used outside its loop"));
  body->count--;
  const tcc_kexpr_t *narrow[] = {tcc_k_const(k, TCC_DTYPE_I32, 0), tcc_k_int(k, 0)};
  tcc_k_store(k, body, f.z, narrow, tcc_k_const(k, TCC_DTYPE_F32, 1));
  CHECK(fails_with(tcc_kernel_verify(k), "index 0 of 'z' is i32, not i64"));
  body->count--;
  tcc_kbuf_t *tmp = tcc_kernel_add_local(k, "tmp", TCC_KBUF_LOCAL, TCC_DTYPE_F32, 2, f.x->dims);
  tcc_k_store(k, body, tmp, zero_zero, tcc_k_const(k, TCC_DTYPE_F32, 1));
  CHECK(fails_with(tcc_kernel_verify(k), "temporary 'tmp' is used outside the block that allocates it"));
  body->count--;
  tcc_k_store(k, body, f.z, zero_zero, tcc_k_int(k, 4));
  CHECK(fails_with(tcc_kernel_verify(k), "store of i64 into 'z' of f32"));
  body->count--;
  tcc_k_store(k, body, f.z, zero_zero, tcc_k_cast(k, TCC_DTYPE_F32, tcc_k_unary(k, TCC_KOP_SQRT, tcc_k_int(k, 4)), false));
  CHECK(fails_with(tcc_kernel_verify(k), "sqrt needs a float type, got i64"));
  body->count--;
  tcc_k_if(k, body, tcc_k_int(k, 1), NULL);
  CHECK(fails_with(tcc_kernel_verify(k), "if condition is i64, not bool"));
  body->count--;
  CHECK_OK(tcc_kernel_verify(k));
  tcc_module_destroy(f.m);
}

TEST(builders_propagate_failure) {
  tcc_module_t *m = new_module();
  tcc_kernel_t *k = tcc_kernel_create(m, "k");
  CHECK(tcc_k_binary(k, TCC_KOP_ADD, NULL, tcc_k_int(k, 1)) == NULL);
  CHECK(tcc_k_store(k, tcc_kernel_body(k), NULL, NULL, tcc_k_int(k, 1)) == NULL);
  CHECK(tcc_k_for(k, NULL, "i", tcc_k_int(k, 1), TCC_KLOOP_SERIAL, NULL) == NULL);
  CHECK(tcc_kernel_body(k)->count == 0);
  tcc_module_destroy(m);
}

RUN_TESTS(T(build_print_verify), T(reduction_with_register_accumulator), T(verifier_rejects_malformed_kernels),
          T(builders_propagate_failure))
