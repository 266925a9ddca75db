/* The graph IR: a module owns an arena holding graphs, values, nodes, attributes, constants and dims.
 *
 * Tutorial:
 *   tcc_module_t *m;
 *   TCC_RETURN_IF_ERROR(tcc_module_create(tcc_allocator_system(), &m));
 *   tcc_graph_t *g = m->graph;
 *   tcc_value_t *x = tcc_graph_add_input(g, "x");              // typed with tcc_value_set_tensor
 *   tcc_node_t *n = tcc_graph_add_node(g, TCC_OP_RELU, "relu0", 1, 1);
 *   n->inputs[0] = x;  n->outputs[0] = tcc_graph_add_value(g, "y");  ... tcc_graph_add_output(g, y);
 *   TCC_RETURN_IF_ERROR(tcc_graph_infer(g));                     // ir/infer.h
 *   tcc_module_destroy(m);
 *
 * Ownership: everything reachable from a module belongs to its arena and dies with tcc_module_destroy.
 * Pointers stay valid until then (arrays grow by copying, so never keep `g->nodes` itself across an
 * append). Functions returning pointers return NULL on allocation failure and mark the module failed.
 * Thread-safety: a module and everything in it is used by one thread at a time.
 */
#ifndef TCC_IR_GRAPH_H
#define TCC_IR_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/hash.h"
#include "base/status.h"
#include "ir/dim.h"
#include "ir/dtype.h"
#include "ir/ops.h"

typedef struct tcc_graph tcc_graph_t;
typedef struct tcc_node tcc_node_t;
typedef struct tcc_value tcc_value_t;
typedef struct tcc_dim_table tcc_dim_table_t;

/* ---- types ---------------------------------------------------------------------------------------- */

typedef enum { TCC_TYPE_UNKNOWN = 0, TCC_TYPE_TENSOR, TCC_TYPE_SEQUENCE, TCC_TYPE_OPTIONAL } tcc_type_kind_t;

typedef struct tcc_type {
  tcc_type_kind_t kind;
  tcc_dtype_t dtype;           /* TENSOR: element type; TCC_DTYPE_UNDEFINED when unknown */
  int rank;                    /* TENSOR: -1 when the rank is unknown */
  const tcc_dim_t *const *dims; /* TENSOR: `rank` dims */
  const struct tcc_type *elem; /* SEQUENCE / OPTIONAL: element type (may itself be unknown) */
} tcc_type_t;

/* ---- constant data -------------------------------------------------------------------------------- */

typedef struct {
  const char *data;
  size_t size;
} tcc_bytes_t;

typedef struct tcc_tensor {
  tcc_dtype_t dtype;
  int rank;
  const int64_t *dims;
  int64_t numel;
  /* Little-endian elements, densely packed (4-bit types two per byte, low nibble first, bool one byte).
   * STRING tensors: an array of numel tcc_bytes_t. The data may be unaligned and may point into a
   * read-only mapped file: read elements with tcc_tensor_get_* or memcpy. */
  const void *data;
  size_t nbytes;
} tcc_tensor_t;

/* Element i of an integer or bool tensor as int64 (float types are truncated). */
int64_t tcc_tensor_get_int(const tcc_tensor_t *t, int64_t i);
/* Element i of any numeric tensor as double (half and float8 types decoded). */
double tcc_tensor_get_float(const tcc_tensor_t *t, int64_t i);
/* A new tensor with its own zeroed storage in the module's arena. */
tcc_tensor_t *tcc_tensor_create(tcc_module_t *m, tcc_dtype_t dtype, int rank, const int64_t *dims);
/* A new int64 tensor (rank 0 when dims == NULL and rank == 0) holding values. */
tcc_tensor_t *tcc_tensor_create_i64(tcc_module_t *m, int rank, const int64_t *dims, const int64_t *values);

/* ---- attributes ----------------------------------------------------------------------------------- */

typedef enum {
  TCC_ATTR_INT, TCC_ATTR_FLOAT, TCC_ATTR_STRING, TCC_ATTR_TENSOR, TCC_ATTR_GRAPH, TCC_ATTR_TYPE,
  TCC_ATTR_INTS, TCC_ATTR_FLOATS, TCC_ATTR_STRINGS, TCC_ATTR_TENSORS, TCC_ATTR_GRAPHS, TCC_ATTR_TYPES,
  TCC_ATTR_DIMS, /* tcc's own: a list of dims, e.g. a Reshape target folded from a shape subgraph */
  TCC_ATTR_KIND_COUNT
} tcc_attr_kind_t;

typedef struct tcc_attr {
  const char *name;
  tcc_attr_kind_t kind;
  int64_t i;
  double f;
  tcc_bytes_t s;
  const tcc_tensor_t *t;
  tcc_graph_t *g;
  tcc_type_t type;
  int64_t count; /* list kinds: number of elements in the one array that applies */
  const int64_t *ints;
  const double *floats;
  const tcc_bytes_t *strings;
  const tcc_tensor_t *const *tensors;
  tcc_graph_t *const *graphs;
  const tcc_type_t *types;
  const tcc_dim_t *const *dims;
} tcc_attr_t;

const char *tcc_attr_kind_name(tcc_attr_kind_t kind);

/* ---- values, nodes, graphs, modules --------------------------------------------------------------- */

struct tcc_value {
  uint32_t id;
  const char *name;
  tcc_graph_t *graph;
  tcc_type_t type;
  tcc_node_t *producer; /* NULL for graph inputs and constants */
  int producer_output;
  const tcc_tensor_t *constant; /* known contents: initializers, Constant outputs, folded values */
  /* Known contents of a small integer scalar or 1-D tensor as dims (e.g. the output of Shape), or
   * shape_data_len == -1 when unknown. This is how Shape -> Gather -> Concat -> Reshape chains keep a
   * symbolic shape. */
  int64_t shape_data_len;
  const tcc_dim_t *const *shape_data;
  bool is_input; /* a graph input (an initializer listed as input too is an overridable constant) */
  const tcc_type_t *declared; /* the type the model declared for it (input, output, value_info), or NULL */
};

struct tcc_node {
  uint32_t id;
  const char *name;
  tcc_op_t op;
  tcc_graph_t *graph;
  const char *domain, *op_type; /* origin: ONNX domain ("" = default) and op type */
  int64_t opset;                /* origin: opset version of the domain */
  int num_inputs;
  tcc_value_t **inputs; /* an omitted optional input is NULL */
  int num_outputs;
  tcc_value_t **outputs; /* an omitted optional output is NULL */
  int num_attrs;
  tcc_attr_t *attrs;
  const char *unsupported; /* TCC_OP_UNSUPPORTED: why */
};

struct tcc_graph {
  tcc_module_t *module;
  tcc_graph_t *parent; /* the enclosing graph of a subgraph (If/Loop/Scan body), else NULL */
  const char *name;
  size_t num_nodes, cap_nodes;
  tcc_node_t **nodes; /* in topological order */
  size_t num_inputs, cap_inputs;
  tcc_value_t **inputs;
  size_t num_outputs, cap_outputs;
  tcc_value_t **outputs;
  size_t num_values, cap_values;
  tcc_value_t **values; /* every value owned by this graph, in creation order */
  tcc_strmap_t by_name;
};

typedef struct {
  const char *key, *value;
} tcc_string_pair_t;

typedef struct {
  const char *domain;
  int64_t version;
} tcc_opset_t;

struct tcc_module {
  tcc_allocator_t allocator;
  tcc_arena_t arena;
  tcc_graph_t *graph;
  /* model metadata */
  int64_t ir_version, model_version;
  const char *producer_name, *producer_version, *domain, *doc;
  size_t num_opsets;
  tcc_opset_t *opsets;
  size_t num_metadata;
  tcc_string_pair_t *metadata;
  /* internals */
  tcc_dim_table_t *dims;
  struct tcc_cleanup *cleanups;
  uint32_t next_id, next_fresh_dim;
  bool failed; /* an allocation failed somewhere: see tcc_module_check */
};

/* Creates an empty module with an empty main graph named "main". */
TCC_MUST_USE tcc_status_t tcc_module_create(tcc_allocator_t allocator, tcc_module_t **out);
void tcc_module_destroy(tcc_module_t *m);
/* Registers fn(ctx) to run at tcc_module_destroy (in reverse order), e.g. to unmap a weights file. */
TCC_MUST_USE tcc_status_t tcc_module_on_destroy(tcc_module_t *m, void (*fn)(void *ctx), void *ctx);
/* Out-of-memory status when an allocation inside the module failed, else NULL. */
TCC_MUST_USE tcc_status_t tcc_module_check(tcc_module_t *m);
/* Arena allocation that marks the module failed on NULL. */
void *tcc_module_alloc(tcc_module_t *m, size_t size);
char *tcc_module_strdup(tcc_module_t *m, const char *s);
int64_t tcc_module_opset(const tcc_module_t *m, const char *domain); /* 0 when not imported */

tcc_graph_t *tcc_graph_create(tcc_module_t *m, tcc_graph_t *parent, const char *name);
/* A new value owned by g. name == NULL picks a unique one ("%7"). Names are unique within a graph:
 * adding an existing name returns NULL (use tcc_graph_find). */
tcc_value_t *tcc_graph_add_value(tcc_graph_t *g, const char *name);
tcc_value_t *tcc_graph_add_input(tcc_graph_t *g, const char *name);
/* A value holding constant data (an initializer), typed from the tensor. */
tcc_value_t *tcc_graph_add_constant(tcc_graph_t *g, const char *name, const tcc_tensor_t *t);
/* Makes v a constant holding t (typed from it, no producer); false on allocation failure. */
bool tcc_value_set_constant(tcc_value_t *v, const tcc_tensor_t *t);
bool tcc_graph_add_output(tcc_graph_t *g, tcc_value_t *v);
/* The value called name in g or, failing that, in its enclosing graphs. */
tcc_value_t *tcc_graph_find(const tcc_graph_t *g, const char *name);
/* Appends a node with room for the given inputs/outputs (all NULL). */
tcc_node_t *tcc_graph_add_node(tcc_graph_t *g, tcc_op_t op, const char *name, int num_inputs, int num_outputs);
/* Sets n->outputs[i] = v and v's producer. */
void tcc_node_set_output(tcc_node_t *n, int i, tcc_value_t *v);
/* Reorders g's nodes so each follows the producers of what it reads (subgraph reads included), keeping
 * the current order wherever it is already valid. TCC_INVALID_MODEL naming a node on a cycle. */
TCC_MUST_USE tcc_status_t tcc_graph_sort(tcc_graph_t *g);
/* Grows or shrinks the input list (new slots NULL). */
TCC_MUST_USE tcc_status_t tcc_node_resize_inputs(tcc_node_t *n, int num_inputs);

/* Attribute lookup; NULL when absent. */
const tcc_attr_t *tcc_node_attr(const tcc_node_t *n, const char *name);
int64_t tcc_node_attr_int(const tcc_node_t *n, const char *name, int64_t fallback);
double tcc_node_attr_float(const tcc_node_t *n, const char *name, double fallback);
/* The string as a NUL-terminated arena copy, or fallback. */
const char *tcc_node_attr_string(const tcc_node_t *n, const char *name, const char *fallback);
/* The INTS list; false (and *count = 0) when absent. */
bool tcc_node_attr_ints(const tcc_node_t *n, const char *name, const int64_t **values, int64_t *count);
/* Adds or replaces an attribute (copied shallowly; list arrays must live in the module's arena). */
TCC_MUST_USE tcc_status_t tcc_node_set_attr(tcc_node_t *n, const tcc_attr_t *attr);
TCC_MUST_USE tcc_status_t tcc_node_set_attr_int(tcc_node_t *n, const char *name, int64_t v);
TCC_MUST_USE tcc_status_t tcc_node_set_attr_ints(tcc_node_t *n, const char *name, const int64_t *v, int64_t count);
TCC_MUST_USE tcc_status_t tcc_node_set_attr_dims(tcc_node_t *n, const char *name, const tcc_dim_t *const *dims, int64_t count);
void tcc_node_remove_attr(tcc_node_t *n, const char *name);

/* ---- typing --------------------------------------------------------------------------------------- */

/* Sets a tensor type; dims are copied. rank -1 = unknown rank; dims == NULL with rank > 0 means a known
 * rank with unknown (fresh) dims. */
TCC_MUST_USE tcc_status_t tcc_value_set_tensor(tcc_value_t *v, tcc_dtype_t dtype, int rank, const tcc_dim_t *const *dims);
/* Sets any type (deep-copied into the module). */
TCC_MUST_USE tcc_status_t tcc_value_set_type(tcc_value_t *v, const tcc_type_t *type);
/* Records known integer contents (copied). */
TCC_MUST_USE tcc_status_t tcc_value_set_shape_data(tcc_value_t *v, int64_t len, const tcc_dim_t *const *data);
/* A deep copy of a type into m's arena (NULL on failure). */
tcc_type_t *tcc_type_copy(tcc_module_t *m, const tcc_type_t *type);
bool tcc_type_equal(const tcc_type_t *a, const tcc_type_t *b);
/* "f32[batch, 3, 224, 224]", "seq<f32[?1]>", "?" into buf (snprintf semantics). */
int tcc_type_format(const tcc_type_t *type, char *buf, size_t size);
/* Number of elements as a dim (NULL when rank unknown). */
const tcc_dim_t *tcc_type_numel(tcc_module_t *m, const tcc_type_t *type);

/* Reads the constant integer contents of v (constant data, or shape data whose dims are all constant)
 * into a module-arena array. false when not known. */
bool tcc_value_const_ints(const tcc_value_t *v, const int64_t **values, int64_t *count);

#endif
