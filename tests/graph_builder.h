/* Graph-building helpers shared by the unit tests: modules, typed inputs from dim text ("batch, 3"),
 * int64/f32 constants, tensors from C arrays (numbers or strings), nodes with fresh outputs, attributes,
 * and the text of types, inferred results, shape data and evaluated values for CHECK_STR. Failures are
 * reported through tests/test.h. Strings returned here live in small rotating buffers: valid until the same
 * helper has been called eight more times. */
#ifndef TCC_TESTS_GRAPH_BUILDER_H
#define TCC_TESTS_GRAPH_BUILDER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ir/compute.h"
#include "ir/graph_eval.h"
#include "ir/host_util.h"
#include "ir/infer.h"
#include "tests/test.h"

/* A fresh module on the system allocator; destroy it with tcc_module_destroy. */
static inline tcc_module_t *new_module(void) {
  tcc_module_t *m = NULL;
  CHECK_OK(tcc_module_create(tcc_allocator_system(), &m));
  return m;
}

/* An unnamed tensor input of g typed from dim text: "batch, 3, 2*seq" (comma-separated dims), "" for a
 * scalar, "*" for an unknown rank. */
static inline tcc_value_t *input(tcc_graph_t *g, tcc_dtype_t dtype, const char *shape) {
  tcc_value_t *v = tcc_graph_add_input(g, NULL);
  const tcc_dim_t *dims[16];
  int rank = 0;
  if (strcmp(shape, "*") == 0) {
    rank = -1;
  } else {
    for (const char *p = shape; *p;) {
      char tok[64];
      size_t len = strcspn(p, ",");
      snprintf(tok, sizeof tok, "%.*s", (int)len, p);
      const char *end;
      dims[rank++] = tcc_dim_parse(g->module, tok + strspn(tok, " "), &end);
      p += len + (p[len] == ',');
    }
  }
  CHECK_OK(tcc_value_set_tensor(v, dtype, rank, dims));
  return v;
}

/* A 1-D int64 input of g whose contents are known symbolically, e.g. "batch, 1, 2*seq, 64". */
static inline tcc_value_t *shape_input(tcc_graph_t *g, const char *contents) {
  tcc_value_t *src = input(g, TCC_DTYPE_I64, contents), *v = tcc_graph_add_input(g, NULL);
  const tcc_dim_t *len = tcc_dim_const(g->module, src->type.rank);
  CHECK_OK(tcc_value_set_tensor(v, TCC_DTYPE_I64, 1, &len));
  CHECK_OK(tcc_value_set_shape_data(v, src->type.rank, src->type.dims));
  return v;
}

/* A constant int64 tensor of g: rank 0 holds values[0], rank 1 holds n values. */
static inline tcc_value_t *const_i64(tcc_graph_t *g, int rank, int64_t n, const int64_t *values) {
  return tcc_graph_add_constant(g, NULL, tcc_tensor_create_i64(g->module, rank, &n, values));
}

/* A constant int64 scalar of g. */
static inline tcc_value_t *scalar(tcc_graph_t *g, int64_t value) { return const_i64(g, 0, 1, &value); }

/* A constant 1-D f32 tensor of g holding n values. */
static inline tcc_value_t *const_f32(tcc_graph_t *g, int64_t n, const float *values) {
  tcc_tensor_t *t = tcc_tensor_create(g->module, TCC_DTYPE_F32, 1, &n);
  memcpy((void *)t->data, values, t->nbytes);
  return tcc_graph_add_constant(g, NULL, t);
}

/* A tensor of m of the given type holding a copy of data (its nbytes bytes). */
static inline tcc_tensor_t *tensor_from(tcc_module_t *m, tcc_dtype_t dt, int rank, const int64_t *dims,
                                        const void *data) {
  tcc_tensor_t *t = tcc_tensor_create(m, dt, rank, dims);
  if (t->nbytes) memcpy((void *)t->data, data, t->nbytes);
  return t;
}

/* A STRING tensor of m holding copies of the strings v (one per element). */
static inline tcc_tensor_t *string_tensor(tcc_module_t *m, int rank, const int64_t *dims, const char *const *v) {
  tcc_tensor_t *t = tcc_tensor_create(m, TCC_DTYPE_STRING, rank, dims);
  for (int64_t i = 0; i < t->numel; i++) tcc_host_set_str(m, t, i, v[i], strlen(v[i]));
  return t;
}

/* A node of g over num_inputs tcc_value_t * arguments (NULL = omitted) with num_outputs fresh outputs. */
static inline tcc_node_t *node(tcc_graph_t *g, tcc_op_t op, int num_outputs, int num_inputs, ...) {
  tcc_node_t *n = tcc_graph_add_node(g, op, NULL, num_inputs, num_outputs);
  va_list ap;
  va_start(ap, num_inputs);
  for (int i = 0; i < num_inputs; i++) n->inputs[i] = va_arg(ap, tcc_value_t *);
  va_end(ap);
  for (int i = 0; i < num_outputs; i++) tcc_node_set_output(n, i, tcc_graph_add_value(g, NULL));
  return n;
}

static inline void attr_int(tcc_node_t *n, const char *name, int64_t v) {
  CHECK_OK(tcc_node_set_attr_int(n, name, v));
}

/* Sets an ints attribute from a copy of values (so a compound literal may be passed). */
static inline void attr_ints(tcc_node_t *n, const char *name, int64_t count, const int64_t *values) {
  int64_t *v = tcc_module_alloc(n->graph->module, (size_t)count * sizeof *v + 1);
  memcpy(v, values, (size_t)count * sizeof *v);
  CHECK_OK(tcc_node_set_attr_ints(n, name, v, count));
}

static inline void attr_float(tcc_node_t *n, const char *name, double v) {
  tcc_attr_t a = {.name = name, .kind = TCC_ATTR_FLOAT, .f = v};
  CHECK_OK(tcc_node_set_attr(n, &a));
}

/* Sets a floats attribute from a copy of values (so a compound literal may be passed). */
static inline void attr_floats(tcc_node_t *n, const char *name, int64_t count, const double *values) {
  double *v = tcc_module_alloc(n->graph->module, (size_t)count * sizeof *v + 1);
  memcpy(v, values, (size_t)count * sizeof *v);
  tcc_attr_t a = {.name = name, .kind = TCC_ATTR_FLOATS, .count = count, .floats = v};
  CHECK_OK(tcc_node_set_attr(n, &a));
}

/* Sets a string attribute from a copy of v (so it need not outlive the node). */
static inline void attr_string(tcc_node_t *n, const char *name, const char *v) {
  tcc_attr_t a = {.name = name, .kind = TCC_ATTR_STRING, .s = {tcc_module_strdup(n->graph->module, v), strlen(v)}};
  CHECK_OK(tcc_node_set_attr(n, &a));
}

/* Sets a strings attribute from a copy of the count pointers in v (the strings themselves are not copied). */
static inline void attr_strings(tcc_node_t *n, const char *name, int64_t count, const char *const *v) {
  tcc_bytes_t *s = tcc_module_alloc(n->graph->module, (size_t)count * sizeof *s + 1);
  for (int64_t i = 0; i < count; i++) s[i] = (tcc_bytes_t){v[i], strlen(v[i])};
  tcc_attr_t a = {.name = name, .kind = TCC_ATTR_STRINGS, .count = count, .strings = s};
  CHECK_OK(tcc_node_set_attr(n, &a));
}

/* Sets a graph attribute (a subgraph such as a Loop body or an If branch). */
static inline void attr_graph(tcc_node_t *n, const char *name, tcc_graph_t *body) {
  tcc_attr_t a = {.name = name, .kind = TCC_ATTR_GRAPH, .g = body};
  CHECK_OK(tcc_node_set_attr(n, &a));
}

/* The type of v as text: "f32[batch, 3]". */
static inline const char *ty(const tcc_value_t *v) {
  static char buf[8][256];
  static int k;
  char *b = buf[k++ % 8];
  tcc_type_format(&v->type, b, 256);
  return b;
}

/* Infers n alone; returns output 0's type, or "error: MESSAGE". */
static inline const char *infer(tcc_node_t *n) {
  static char buf[8][512];
  static int k;
  char *b = buf[k++ % 8];
  tcc_status_t st = tcc_node_infer(n);
  if (st) {
    snprintf(b, 512, "error: %s", tcc_status_message(st));
    tcc_status_free(st);
    return b;
  }
  return n->outputs[0] ? ty(n->outputs[0]) : "";
}

/* Inferring node n fails with a message containing substring. */
#define CHECK_ERROR(n, substring)                                                                                 \
  do {                                                                                                            \
    const char *got_ = infer(n);                                                                                  \
    if (strncmp(got_, "error: ", 7) || !strstr(got_, substring)) {                                                \
      fprintf(stderr, "%s:%d: expected an error with \"%s\", got \"%s\"\n", __FILE__, __LINE__, substring, got_); \
      test_current_failed_ = 1;                                                                                   \
    }                                                                                                             \
  } while (0)

/* The known contents of v (its shape data) as open + "batch, seq, 256" + close, or unknown. */
static inline const char *data_text(const tcc_value_t *v, const char *open, const char *close, const char *unknown) {
  static char buf[8][256];
  static int k;
  char *b = buf[k++ % 8];
  if (v->shape_data_len < 0) return unknown;
  size_t len = (size_t)snprintf(b, 256, "%s", open);
  for (int64_t i = 0; i < v->shape_data_len && len < 200; i++) {
    if (i) len += (size_t)snprintf(b + len, 256 - len, ", ");
    len += (size_t)tcc_dim_format(v->shape_data[i], b + len, 256 - len);
  }
  if (len < 256) snprintf(b + len, 256 - len, "%s", close);
  return b;
}

/* An evaluated value as text: "[d0, d1] v v v" for numbers (%g), "[d0] a|b|c" for strings. */
static inline const char *value_text(const tcc_eval_value_t *v) {
  static char buf[8][512];
  static int k;
  char *b = buf[k++ % 8];
  if (!v || v->kind != TCC_TYPE_TENSOR) return "(not a tensor)";
  const tcc_tensor_t *t = v->tensor;
  size_t len = (size_t)snprintf(b, 512, "[");
  for (int i = 0; i < t->rank; i++)
    len += (size_t)snprintf(b + len, 512 - len, "%s%lld", i ? ", " : "", (long long)t->dims[i]);
  len += (size_t)snprintf(b + len, 512 - len, "]");
  for (int64_t i = 0; i < t->numel && len < 480; i++) {
    if (t->dtype == TCC_DTYPE_STRING) {
      tcc_bytes_t s = tcc_host_str(t, i);
      len += (size_t)snprintf(b + len, 512 - len, "%s%.*s", i ? "|" : " ", (int)s.size, s.data);
    } else {
      len += (size_t)snprintf(b + len, 512 - len, " %g", tcc_tensor_get_float(t, i));
    }
  }
  return b;
}

/* Infers n's graph and builds and verifies its kernel (NULL on failure, reported as a test failure). */
static inline tcc_kernel_t *build_kernel(tcc_node_t *n) {
  tcc_kernel_t *k = NULL;
  if (!n->name) n->name = tcc_op_name(n->op);
  CHECK_OK(tcc_graph_infer(n->graph));
  tcc_status_t st = tcc_compute_build(n, &k);
  if (st) {
    fprintf(stderr, "building %s: %s\n", n->name, tcc_status_message(st));
    tcc_status_free(st);
    test_current_failed_ = 1;
    return NULL;
  }
  CHECK_OK(tcc_kernel_verify(k));
  return k;
}

/* Building n fails as unsupported with a message naming it and containing text. */
static inline bool build_unsupported(tcc_node_t *n, const char *text) {
  tcc_kernel_t *k = NULL;
  CHECK_OK(tcc_graph_infer(n->graph));
  tcc_status_t st = tcc_compute_build(n, &k);
  bool ok = st && tcc_status_code(st) == TCC_UNSUPPORTED && strstr(tcc_status_message(st), n->name) &&
            strstr(tcc_status_message(st), text);
  if (!ok) fprintf(stderr, "got: %s\n", st ? tcc_status_message(st) : "OK");
  tcc_status_free(st);
  return ok;
}

#endif
