/* Dimensions: integer constants or symbolic expressions over named symbols.
 *
 * A dim is a polynomial with int64 coefficients over atoms; an atom is a named symbol (`batch`, `seq`,
 * an unknown dim `?3`) or a floor division of a dim by a positive constant. Dims are interned per
 * module: two dims are equal exactly when their pointers are equal. Dims are immutable and live as long
 * as the module. On allocation failure the functions return tcc_dim_invalid() and mark the module
 * failed (tcc_module_failed), so expressions can be chained and checked once.
 *
 *   const tcc_dim_t *n = tcc_dim_mul(m, tcc_dim_symbol(m, "batch"), tcc_dim_const(m, 4));
 *   tcc_dim_to_string(n) -> "4*batch"
 */
#ifndef TCC_IR_DIM_H
#define TCC_IR_DIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tcc_dim tcc_dim_t;
typedef struct tcc_module tcc_module_t;

const tcc_dim_t *tcc_dim_const(tcc_module_t *m, int64_t value);
const tcc_dim_t *tcc_dim_symbol(tcc_module_t *m, const char *name);
/* A new symbol that equals no other: an unknown or data-dependent size. Named "?N". */
const tcc_dim_t *tcc_dim_fresh(tcc_module_t *m);
const tcc_dim_t *tcc_dim_add(tcc_module_t *m, const tcc_dim_t *a, const tcc_dim_t *b);
const tcc_dim_t *tcc_dim_sub(tcc_module_t *m, const tcc_dim_t *a, const tcc_dim_t *b);
const tcc_dim_t *tcc_dim_mul(tcc_module_t *m, const tcc_dim_t *a, const tcc_dim_t *b);
/* floor(a / divisor); divisor must be > 0 (otherwise tcc_dim_invalid()). */
const tcc_dim_t *tcc_dim_floordiv(tcc_module_t *m, const tcc_dim_t *a, int64_t divisor);
/* ceil(a / divisor) = floor((a + divisor - 1) / divisor). */
const tcc_dim_t *tcc_dim_ceildiv(tcc_module_t *m, const tcc_dim_t *a, int64_t divisor);
/* a / b when the division is exact as polynomials (e.g. 8*batch*seq / (2*seq) = 4*batch), else NULL.
 * Used for Reshape's -1. */
const tcc_dim_t *tcc_dim_div_exact(tcc_module_t *m, const tcc_dim_t *a, const tcc_dim_t *b);
/* Product of n dims (1 for n == 0). */
const tcc_dim_t *tcc_dim_product(tcc_module_t *m, const tcc_dim_t *const *dims, int64_t n);

/* The sentinel returned after a failure; never equal to a valid dim. */
const tcc_dim_t *tcc_dim_invalid(void);

bool tcc_dim_is_const(const tcc_dim_t *d);
/* The constant value; only meaningful when tcc_dim_is_const. */
int64_t tcc_dim_value(const tcc_dim_t *d);
/* True when d is a single named symbol (not a constant or expression). */
bool tcc_dim_is_symbol(const tcc_dim_t *d);

/* True when d is a symbol made by tcc_dim_fresh (a size nothing is known about). */
bool tcc_dim_is_fresh(const tcc_dim_t *d);

/* Writes a parseable form ("batch", "2*seq + 1", "(seq - 1)//2") to buf; returns the length that the
 * full text needs, like snprintf. */
int tcc_dim_format(const tcc_dim_t *d, char *buf, size_t size);
/* Parses the form written by tcc_dim_format (also accepts quoted symbol names "..."). On error returns
 * NULL and sets *end to the offending position. */
const tcc_dim_t *tcc_dim_parse(tcc_module_t *m, const char *text, const char **end);



/* Looks up a symbol's run-time value; returns false when unbound. */
typedef bool (*tcc_dim_lookup_fn_t)(void *ctx, const char *symbol, int64_t *value);
/* Evaluates d with symbol values from lookup. false (and *value untouched) when a symbol is unbound or
 * the arithmetic overflows. */
bool tcc_dim_eval(const tcc_dim_t *d, tcc_dim_lookup_fn_t lookup, void *ctx, int64_t *value);

/* Internal: creates the module's dim table (called by tcc_module_create). */
bool tcc_dim_table_init(tcc_module_t *m);
#endif
