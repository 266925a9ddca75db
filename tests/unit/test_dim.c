/* Symbolic dims: normalization, interning, division, printing and parsing. */
#include "ir/graph.h"
#include "tests/graph_builder.h"
#include "tests/test.h"

static const char *fmt(const tcc_dim_t *d) {
  static char buf[8][128];
  static int k;
  char *b = buf[k++ % 8];
  tcc_dim_format(d, b, 128);
  return b;
}

TEST(constants_and_interning) {
  tcc_module_t *m = new_module();
  CHECK(tcc_dim_const(m, 7) == tcc_dim_const(m, 7));
  CHECK(tcc_dim_is_const(tcc_dim_const(m, 0)) && tcc_dim_value(tcc_dim_const(m, 0)) == 0);
  const tcc_dim_t *b = tcc_dim_symbol(m, "batch"), *s = tcc_dim_symbol(m, "seq");
  CHECK(tcc_dim_mul(m, b, s) == tcc_dim_mul(m, s, b));
  CHECK(tcc_dim_add(m, b, s) == tcc_dim_add(m, s, b));
  CHECK(tcc_dim_sub(m, tcc_dim_add(m, b, s), s) == b);
  CHECK(tcc_dim_is_symbol(b) && !tcc_dim_is_symbol(tcc_dim_mul(m, b, tcc_dim_const(m, 2))));
  CHECK(tcc_dim_fresh(m) != tcc_dim_fresh(m));
  tcc_module_destroy(m);
}

TEST(printing) {
  tcc_module_t *m = new_module();
  const tcc_dim_t *b = tcc_dim_symbol(m, "batch"), *s = tcc_dim_symbol(m, "seq");
  CHECK_STR(fmt(tcc_dim_mul(m, tcc_dim_mul(m, s, b), tcc_dim_const(m, 256))), "256*batch*seq");
  CHECK_STR(fmt(tcc_dim_add(m, tcc_dim_mul(m, s, tcc_dim_const(m, 2)), tcc_dim_const(m, 1))), "2*seq + 1");
  CHECK_STR(fmt(tcc_dim_sub(m, tcc_dim_const(m, 3), s)), "-seq + 3");
  CHECK_STR(fmt(tcc_dim_symbol(m, "sequence length")), "\"sequence length\"");
  tcc_module_destroy(m);
}

TEST(floor_division) {
  tcc_module_t *m = new_module();
  const tcc_dim_t *s = tcc_dim_symbol(m, "seq");
  CHECK(tcc_dim_value(tcc_dim_floordiv(m, tcc_dim_const(m, -7), 2)) == -4);
  CHECK(tcc_dim_floordiv(m, tcc_dim_mul(m, s, tcc_dim_const(m, 6)), 3) == tcc_dim_mul(m, s, tcc_dim_const(m, 2)));
  /* (2*seq + 3)//2 = seq + 1 */
  const tcc_dim_t *e = tcc_dim_add(m, tcc_dim_mul(m, s, tcc_dim_const(m, 2)), tcc_dim_const(m, 3));
  CHECK(tcc_dim_floordiv(m, e, 2) == tcc_dim_add(m, s, tcc_dim_const(m, 1)));
  const tcc_dim_t *conv = tcc_dim_add(m, tcc_dim_floordiv(m, tcc_dim_sub(m, s, tcc_dim_const(m, 1)), 2), tcc_dim_const(m, 1));
  CHECK_STR(fmt(conv), "(seq + 1)//2"); /* remainders are normalized into [0, divisor) */
  CHECK(tcc_dim_ceildiv(m, tcc_dim_const(m, 7), 2) == tcc_dim_const(m, 4));
  CHECK(tcc_dim_floordiv(m, s, 0) == tcc_dim_invalid());
  tcc_module_destroy(m);
}

TEST(exact_division) {
  tcc_module_t *m = new_module();
  const tcc_dim_t *b = tcc_dim_symbol(m, "batch"), *s = tcc_dim_symbol(m, "seq");
  const tcc_dim_t *total = tcc_dim_mul(m, tcc_dim_mul(m, b, s), tcc_dim_const(m, 256));
  CHECK(tcc_dim_div_exact(m, total, tcc_dim_mul(m, s, tcc_dim_const(m, 4))) == tcc_dim_mul(m, b, tcc_dim_const(m, 64)));
  CHECK(tcc_dim_div_exact(m, total, tcc_dim_const(m, 3)) == NULL);
  CHECK(tcc_dim_div_exact(m, b, s) == NULL);
  const tcc_dim_t *s1 = tcc_dim_add(m, s, tcc_dim_const(m, 1));
  CHECK(tcc_dim_div_exact(m, tcc_dim_mul(m, s1, b), s1) == b);
  tcc_module_destroy(m);
}

TEST(parse_round_trip) {
  tcc_module_t *m = new_module();
  const char *texts[] = {"batch", "256*batch*seq", "2*seq + 1", "(seq + 1)//2", "(2*seq + 1)//4 + batch", "\"a b\"", "?3", "-seq + 3", "0"};
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
    const char *end;
    const tcc_dim_t *d = tcc_dim_parse(m, texts[i], &end);
    CHECK(d && *end == 0);
    if (d) CHECK_STR(fmt(d), texts[i]);
  }
  const char *end;
  CHECK(tcc_dim_parse(m, "(seq - 1)//2 + 1", &end) == tcc_dim_parse(m, "(seq + 1)//2", &end));
  const tcc_dim_t *half = tcc_dim_parse(m, "(seq + 1)//2", &end);
  CHECK_STR(fmt(tcc_dim_mul(m, half, tcc_dim_const(m, 2))), "2*((seq + 1)//2)");
  CHECK_STR(fmt(tcc_dim_sub(m, tcc_dim_const(m, 0), half)), "-((seq + 1)//2)");
  CHECK(tcc_dim_parse(m, "2*((seq + 1)//2)", &end) == tcc_dim_mul(m, half, tcc_dim_const(m, 2)));
  CHECK(tcc_dim_parse(m, "-((seq + 1)//2)", &end) == tcc_dim_sub(m, tcc_dim_const(m, 0), half));
  CHECK(tcc_dim_parse(m, "2*", &end) == NULL);
  CHECK(tcc_dim_parse(m, "(a", &end) == NULL);
  tcc_module_destroy(m);
}

static bool lookup(void *ctx, const char *name, int64_t *v) {
  (void)ctx;
  if (strcmp(name, "seq") == 0) return *v = 7, true;
  if (strcmp(name, "batch") == 0) return *v = 3, true;
  return false;
}

TEST(evaluation) {
  tcc_module_t *m = new_module();
  const char *end;
  int64_t v = -1;
  CHECK(tcc_dim_eval(tcc_dim_parse(m, "(2*seq + 1)//4 + batch", &end), lookup, NULL, &v) && v == 6);
  CHECK(tcc_dim_eval(tcc_dim_parse(m, "256*batch*seq - 5", &end), lookup, NULL, &v) && v == 256 * 21 - 5);
  CHECK(tcc_dim_eval(tcc_dim_const(m, 9), lookup, NULL, &v) && v == 9);
  v = -1;
  CHECK(!tcc_dim_eval(tcc_dim_parse(m, "seq + unknown", &end), lookup, NULL, &v) && v == -1);
  tcc_module_destroy(m);
}

RUN_TESTS(T(evaluation), T(constants_and_interning), T(printing), T(floor_division), T(exact_division), T(parse_round_trip))
