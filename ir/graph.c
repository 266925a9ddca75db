/* Graph IR construction, attributes and typing. */
#include "ir/graph.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct tcc_cleanup {
  struct tcc_cleanup *next;
  void (*fn)(void *ctx);
  void *ctx;
};

/* ---- modules ---- */

tcc_status_t tcc_module_create(tcc_allocator_t allocator, tcc_module_t **out) {
  *out = NULL;
  tcc_module_t *m = tcc_alloc(allocator, sizeof *m);
  if (!m) return tcc_status_oom();
  memset(m, 0, sizeof *m);
  m->allocator = allocator;
  tcc_arena_init(&m->arena, allocator);
  if (!tcc_dim_table_init(m) || !(m->graph = tcc_graph_create(m, NULL, "main"))) {
    tcc_module_destroy(m);
    return tcc_status_oom();
  }
  *out = m;
  return NULL;
}

void tcc_module_destroy(tcc_module_t *m) {
  if (!m) return;
  for (struct tcc_cleanup *c = m->cleanups; c; c = c->next) c->fn(c->ctx);
  tcc_allocator_t allocator = m->allocator;
  tcc_arena_deinit(&m->arena);
  tcc_free(allocator, m);
}

tcc_status_t tcc_module_on_destroy(tcc_module_t *m, void (*fn)(void *ctx), void *ctx) {
  struct tcc_cleanup *c = tcc_module_alloc(m, sizeof *c);
  if (!c) return tcc_status_oom();
  *c = (struct tcc_cleanup){m->cleanups, fn, ctx};
  m->cleanups = c;
  return NULL;
}

tcc_status_t tcc_module_check(tcc_module_t *m) { return m->failed ? tcc_status_oom() : NULL; }

void *tcc_module_alloc(tcc_module_t *m, size_t size) {
  void *p = tcc_arena_calloc(&m->arena, 1, size);
  if (!p) m->failed = true;
  return p;
}

char *tcc_module_strdup(tcc_module_t *m, const char *s) {
  char *p = tcc_arena_strdup(&m->arena, s ? s : "");
  if (!p) m->failed = true;
  return p;
}

int64_t tcc_module_opset(const tcc_module_t *m, const char *domain) {
  for (size_t i = 0; i < m->num_opsets; i++)
    if (strcmp(m->opsets[i].domain, domain) == 0) return m->opsets[i].version;
  return 0;
}

/* Appends item to an arena array described by (items, count, capacity). */
#define PUSH(m, items, count, capacity, item)                                                            \
  ((items) = tcc_arena_grow(&(m)->arena, (items), sizeof *(items), (count), &(capacity), (count) + 1), \
   (items) ? ((items)[(count)++] = (item), true) : ((m)->failed = true, false))

/* ---- graphs ---- */

tcc_graph_t *tcc_graph_create(tcc_module_t *m, tcc_graph_t *parent, const char *name) {
  tcc_graph_t *g = tcc_module_alloc(m, sizeof *g);
  if (!g) return NULL;
  g->module = m;
  g->parent = parent;
  g->name = tcc_module_strdup(m, name);
  tcc_strmap_init(&g->by_name, &m->arena);
  return g->name ? g : NULL;
}

tcc_value_t *tcc_graph_add_value(tcc_graph_t *g, const char *name) {
  tcc_module_t *m = g->module;
  tcc_value_t *v = tcc_module_alloc(m, sizeof *v);
  if (!v) return NULL;
  v->id = m->next_id++;
  v->graph = g;
  v->shape_data_len = -1;
  v->type.rank = -1;
  v->name = name ? tcc_module_strdup(m, name) : tcc_arena_sprintf(&m->arena, "%%%u", v->id);
  if (!v->name) return m->failed = true, NULL;
  if (tcc_strmap_get(&g->by_name, v->name)) return NULL;
  if (!tcc_strmap_put(&g->by_name, v->name, v)) return m->failed = true, NULL;
  return PUSH(m, g->values, g->num_values, g->cap_values, v) ? v : NULL;
}

tcc_value_t *tcc_graph_add_input(tcc_graph_t *g, const char *name) {
  tcc_value_t *v = tcc_graph_add_value(g, name);
  if (!v || !PUSH(g->module, g->inputs, g->num_inputs, g->cap_inputs, v)) return NULL;
  v->is_input = true;
  return v;
}

tcc_value_t *tcc_graph_add_constant(tcc_graph_t *g, const char *name, const tcc_tensor_t *t) {
  tcc_value_t *v = tcc_graph_add_value(g, name);
  return v && tcc_value_set_constant(v, t) ? v : NULL;
}

bool tcc_value_set_constant(tcc_value_t *v, const tcc_tensor_t *t) {
  tcc_module_t *m = v->graph->module;
  const tcc_dim_t **dims = tcc_module_alloc(m, (size_t)(t->rank ? t->rank : 1) * sizeof *dims);
  if (!dims) return false;
  for (int i = 0; i < t->rank; i++) dims[i] = tcc_dim_const(m, t->dims[i]);
  v->constant = t;
  v->type = (tcc_type_t){TCC_TYPE_TENSOR, t->dtype, t->rank, dims, NULL};
  v->producer = NULL;
  v->producer_output = 0;
  return true;
}

bool tcc_graph_add_output(tcc_graph_t *g, tcc_value_t *v) {
  return PUSH(g->module, g->outputs, g->num_outputs, g->cap_outputs, v);
}

tcc_value_t *tcc_graph_find(const tcc_graph_t *g, const char *name) {
  for (; g; g = g->parent) {
    tcc_value_t *v = tcc_strmap_get(&g->by_name, name);
    if (v) return v;
  }
  return NULL;
}

tcc_node_t *tcc_graph_add_node(tcc_graph_t *g, tcc_op_t op, const char *name, int num_inputs, int num_outputs) {
  tcc_module_t *m = g->module;
  tcc_node_t *n = tcc_module_alloc(m, sizeof *n);
  if (!n) return NULL;
  n->id = m->next_id++;
  n->op = op;
  n->graph = g;
  n->name = name ? tcc_module_strdup(m, name) : tcc_arena_sprintf(&m->arena, "node%u", n->id);
  n->domain = "";
  n->op_type = tcc_op_name(op);
  n->num_inputs = num_inputs;
  n->num_outputs = num_outputs;
  n->inputs = tcc_module_alloc(m, (size_t)(num_inputs + 1) * sizeof *n->inputs);
  n->outputs = tcc_module_alloc(m, (size_t)(num_outputs + 1) * sizeof *n->outputs);
  if (!n->name || !n->inputs || !n->outputs) return m->failed = true, NULL;
  return PUSH(m, g->nodes, g->num_nodes, g->cap_nodes, n) ? n : NULL;
}

void tcc_node_set_output(tcc_node_t *n, int i, tcc_value_t *v) {
  n->outputs[i] = v;
  if (v) {
    v->producer = n;
    v->producer_output = i;
  }
}

tcc_status_t tcc_node_resize_inputs(tcc_node_t *n, int num_inputs) {
  if (num_inputs > n->num_inputs) {
    tcc_value_t **inputs = tcc_module_alloc(n->graph->module, (size_t)num_inputs * sizeof *inputs);
    if (!inputs) return tcc_status_oom();
    memcpy(inputs, n->inputs, (size_t)n->num_inputs * sizeof *inputs);
    n->inputs = inputs;
  }
  n->num_inputs = num_inputs;
  return NULL;
}

/* ---- attributes ---- */

static const char *const attr_kind_names[TCC_ATTR_KIND_COUNT] = {
    "int", "float", "string", "tensor", "graph", "type", "ints", "floats", "strings", "tensors", "graphs", "types", "dims",
};

const char *tcc_attr_kind_name(tcc_attr_kind_t kind) {
  return (unsigned)kind < TCC_ATTR_KIND_COUNT ? attr_kind_names[kind] : "?";
}

const tcc_attr_t *tcc_node_attr(const tcc_node_t *n, const char *name) {
  for (int i = 0; i < n->num_attrs; i++)
    if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
  return NULL;
}

int64_t tcc_node_attr_int(const tcc_node_t *n, const char *name, int64_t fallback) {
  const tcc_attr_t *a = tcc_node_attr(n, name);
  return a && a->kind == TCC_ATTR_INT ? a->i : fallback;
}

double tcc_node_attr_float(const tcc_node_t *n, const char *name, double fallback) {
  const tcc_attr_t *a = tcc_node_attr(n, name);
  if (a && a->kind == TCC_ATTR_FLOAT) return a->f;
  if (a && a->kind == TCC_ATTR_INT) return (double)a->i;
  return fallback;
}

const char *tcc_node_attr_string(const tcc_node_t *n, const char *name, const char *fallback) {
  const tcc_attr_t *a = tcc_node_attr(n, name);
  return a && a->kind == TCC_ATTR_STRING ? a->s.data : fallback;
}

bool tcc_node_attr_ints(const tcc_node_t *n, const char *name, const int64_t **values, int64_t *count) {
  const tcc_attr_t *a = tcc_node_attr(n, name);
  if (!a || a->kind != TCC_ATTR_INTS) {
    *values = NULL;
    *count = 0;
    return false;
  }
  *values = a->ints;
  *count = a->count;
  return true;
}

tcc_status_t tcc_node_set_attr(tcc_node_t *n, const tcc_attr_t *attr) {
  for (int i = 0; i < n->num_attrs; i++)
    if (strcmp(n->attrs[i].name, attr->name) == 0) {
      n->attrs[i] = *attr;
      return NULL;
    }
  tcc_attr_t *attrs = tcc_module_alloc(n->graph->module, (size_t)(n->num_attrs + 1) * sizeof *attrs);
  if (!attrs) return tcc_status_oom();
  if (n->num_attrs) memcpy(attrs, n->attrs, (size_t)n->num_attrs * sizeof *attrs);
  attrs[n->num_attrs++] = *attr;
  n->attrs = attrs;
  return NULL;
}

tcc_status_t tcc_node_set_attr_int(tcc_node_t *n, const char *name, int64_t v) {
  tcc_attr_t a = {.name = name, .kind = TCC_ATTR_INT, .i = v};
  return tcc_node_set_attr(n, &a);
}

tcc_status_t tcc_node_set_attr_ints(tcc_node_t *n, const char *name, const int64_t *v, int64_t count) {
  int64_t *copy = tcc_arena_memdup(&n->graph->module->arena, v, (size_t)count * sizeof *v);
  if (!copy) return tcc_status_oom();
  tcc_attr_t a = {.name = name, .kind = TCC_ATTR_INTS, .count = count, .ints = copy};
  return tcc_node_set_attr(n, &a);
}

tcc_status_t tcc_node_set_attr_dims(tcc_node_t *n, const char *name, const tcc_dim_t *const *dims, int64_t count) {
  const tcc_dim_t **copy = tcc_arena_memdup(&n->graph->module->arena, dims, (size_t)count * sizeof *dims);
  if (!copy) return tcc_status_oom();
  tcc_attr_t a = {.name = name, .kind = TCC_ATTR_DIMS, .count = count, .dims = copy};
  return tcc_node_set_attr(n, &a);
}

void tcc_node_remove_attr(tcc_node_t *n, const char *name) {
  for (int i = 0; i < n->num_attrs; i++)
    if (strcmp(n->attrs[i].name, name) == 0) {
      memmove(&n->attrs[i], &n->attrs[i + 1], (size_t)(n->num_attrs - i - 1) * sizeof *n->attrs);
      n->num_attrs--;
      return;
    }
}

/* ---- types ---- */

tcc_type_t *tcc_type_copy(tcc_module_t *m, const tcc_type_t *type) {
  tcc_type_t *t = tcc_module_alloc(m, sizeof *t);
  if (!t) return NULL;
  *t = *type;
  if (type->kind == TCC_TYPE_TENSOR && type->rank >= 0) { /* never NULL dims, even for scalars */
    const tcc_dim_t **dims = tcc_module_alloc(m, (size_t)(type->rank + 1) * sizeof *dims);
    if (!dims) return NULL;
    for (int i = 0; i < type->rank; i++) dims[i] = type->dims ? type->dims[i] : tcc_dim_fresh(m); /* rank only */
    t->dims = dims;
  } else {
    t->dims = NULL;
  }
  if (type->elem && !(t->elem = tcc_type_copy(m, type->elem))) return NULL;
  return t;
}

tcc_status_t tcc_value_set_type(tcc_value_t *v, const tcc_type_t *type) {
  tcc_type_t *t = tcc_type_copy(v->graph->module, type);
  if (!t) return tcc_status_oom();
  v->type = *t;
  return NULL;
}

tcc_status_t tcc_value_set_tensor(tcc_value_t *v, tcc_dtype_t dtype, int rank, const tcc_dim_t *const *dims) {
  tcc_type_t t = {TCC_TYPE_TENSOR, dtype, rank, dims, NULL};
  return tcc_value_set_type(v, &t);
}

tcc_status_t tcc_value_set_shape_data(tcc_value_t *v, int64_t len, const tcc_dim_t *const *data) {
  const tcc_dim_t **copy = tcc_arena_memdup(&v->graph->module->arena, data, (size_t)(len > 0 ? len : 1) * sizeof *data);
  if (!copy) return tcc_status_oom();
  v->shape_data = copy;
  v->shape_data_len = len;
  return NULL;
}

bool tcc_type_equal(const tcc_type_t *a, const tcc_type_t *b) {
  if (a->kind != b->kind) return false;
  if (a->kind == TCC_TYPE_TENSOR) {
    if (a->dtype != b->dtype || a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
      if (a->dims[i] != b->dims[i]) return false;
    return true;
  }
  if (a->kind == TCC_TYPE_UNKNOWN) return true;
  if (!a->elem || !b->elem) return a->elem == b->elem;
  return tcc_type_equal(a->elem, b->elem);
}

int tcc_type_format(const tcc_type_t *type, char *buf, size_t size) {
  size_t len = 0;
#define OUT(...) (len += (size_t)snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0, __VA_ARGS__))
  if (size) buf[0] = 0;
  switch (type->kind) {
    case TCC_TYPE_UNKNOWN: OUT("?"); break;
    case TCC_TYPE_SEQUENCE:
    case TCC_TYPE_OPTIONAL: {
      OUT(type->kind == TCC_TYPE_SEQUENCE ? "seq<" : "opt<");
      if (type->elem) len += (size_t)tcc_type_format(type->elem, len < size ? buf + len : NULL, len < size ? size - len : 0);
      else OUT("?");
      OUT(">");
      break;
    }
    case TCC_TYPE_TENSOR:
      OUT("%s", type->dtype == TCC_DTYPE_UNDEFINED ? "?" : tcc_dtype_name(type->dtype));
      if (type->rank < 0) {
        OUT("[*]");
        break;
      }
      OUT("[");
      for (int i = 0; i < type->rank; i++) {
        if (i) OUT(", ");
        len += (size_t)tcc_dim_format(type->dims[i], len < size ? buf + len : NULL, len < size ? size - len : 0);
      }
      OUT("]");
      break;
  }
#undef OUT
  return (int)len;
}

const tcc_dim_t *tcc_type_numel(tcc_module_t *m, const tcc_type_t *type) {
  if (type->kind != TCC_TYPE_TENSOR || type->rank < 0) return NULL;
  return tcc_dim_product(m, type->dims, type->rank);
}

/* ---- tensors ---- */

static float half_to_float(uint16_t h) {
  int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
  float v = exp == 0 ? ldexpf((float)mant, -24) : exp == 31 ? (mant ? NAN : INFINITY) : ldexpf((float)(mant | 1024), exp - 25);
  return sign ? -v : v;
}

/* Decodes the small float formats: (exponent bits, mantissa bits, bias, has_inf, nan encodings). */
static double minifloat(unsigned bits, int eb, int mb, int bias, bool fn, bool uz) {
  int sign = (bits >> (eb + mb)) & 1, exp = (bits >> mb) & ((1 << eb) - 1), mant = bits & ((1 << mb) - 1);
  if (uz && bits == 0x80u) return NAN;
  if (fn && !uz && exp == (1 << eb) - 1 && mant == (1 << mb) - 1) return NAN;
  if (!fn && !uz && exp == (1 << eb) - 1) return mant ? NAN : (sign ? -INFINITY : INFINITY);
  double v = exp == 0 ? ldexp(mant, 1 - bias - mb) : ldexp(mant | (1 << mb), exp - bias - mb);
  return sign ? -v : v;
}

static void read_bytes(const tcc_tensor_t *t, int64_t i, void *out, size_t size) {
  memcpy(out, (const char *)t->data + (size_t)i * size, size);
}

int64_t tcc_tensor_get_int(const tcc_tensor_t *t, int64_t i) {
  union {
    int8_t i8; uint8_t u8; int16_t i16; uint16_t u16; int32_t i32; uint32_t u32; int64_t i64; uint64_t u64;
  } u;
  switch (t->dtype) {
    case TCC_DTYPE_BOOL:
    case TCC_DTYPE_U8: read_bytes(t, i, &u.u8, 1); return u.u8;
    case TCC_DTYPE_I8: read_bytes(t, i, &u.i8, 1); return u.i8;
    case TCC_DTYPE_U16: read_bytes(t, i, &u.u16, 2); return u.u16;
    case TCC_DTYPE_I16: read_bytes(t, i, &u.i16, 2); return u.i16;
    case TCC_DTYPE_U32: read_bytes(t, i, &u.u32, 4); return u.u32;
    case TCC_DTYPE_I32: read_bytes(t, i, &u.i32, 4); return u.i32;
    case TCC_DTYPE_U64: read_bytes(t, i, &u.u64, 8); return (int64_t)u.u64;
    case TCC_DTYPE_I64: read_bytes(t, i, &u.i64, 8); return u.i64;
    case TCC_DTYPE_U4:
    case TCC_DTYPE_I4: {
      uint8_t byte = ((const uint8_t *)t->data)[i / 2];
      int v = (i & 1) ? byte >> 4 : byte & 15;
      return t->dtype == TCC_DTYPE_I4 && v >= 8 ? v - 16 : v;
    }
    default: {
      double d = tcc_tensor_get_float(t, i);
      return d != d ? 0 : d >= 9.2e18 ? INT64_MAX : d <= -9.2e18 ? INT64_MIN : (int64_t)d;
    }
  }
}

double tcc_tensor_get_float(const tcc_tensor_t *t, int64_t i) {
  const uint8_t *bytes = t->data;
  switch (t->dtype) {
    case TCC_DTYPE_F32: { float f; read_bytes(t, i, &f, 4); return f; }
    case TCC_DTYPE_F64: { double d; read_bytes(t, i, &d, 8); return d; }
    case TCC_DTYPE_F16: { uint16_t h; read_bytes(t, i, &h, 2); return half_to_float(h); }
    case TCC_DTYPE_BF16: {
      uint16_t h; read_bytes(t, i, &h, 2);
      uint32_t w = (uint32_t)h << 16; float f; memcpy(&f, &w, 4); return f;
    }
    case TCC_DTYPE_F8E4M3FN: return minifloat(bytes[i], 4, 3, 7, true, false);
    case TCC_DTYPE_F8E4M3FNUZ: return minifloat(bytes[i], 4, 3, 8, true, true);
    case TCC_DTYPE_F8E5M2: return minifloat(bytes[i], 5, 2, 15, false, false);
    case TCC_DTYPE_F8E5M2FNUZ: return minifloat(bytes[i], 5, 2, 16, true, true);
    case TCC_DTYPE_F8E8M0: return bytes[i] == 0xff ? NAN : ldexp(1.0, (int)bytes[i] - 127);
    case TCC_DTYPE_F4E2M1: {
      unsigned nib = (i & 1) ? bytes[i / 2] >> 4 : bytes[i / 2] & 15;
      return minifloat(nib, 2, 1, 1, true, true); /* no inf or nan encodings */
    }
    case TCC_DTYPE_STRING:
    case TCC_DTYPE_C64:
    case TCC_DTYPE_C128:
    case TCC_DTYPE_UNDEFINED: return 0;
    default: return (double)tcc_tensor_get_int(t, i);
  }
}

tcc_tensor_t *tcc_tensor_create(tcc_module_t *m, tcc_dtype_t dtype, int rank, const int64_t *dims) {
  tcc_tensor_t *t = tcc_module_alloc(m, sizeof *t);
  int64_t *d = tcc_module_alloc(m, (size_t)(rank > 0 ? rank : 1) * sizeof *d);
  if (!t || !d) return NULL;
  int64_t numel = 1;
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 0 || (dims[i] && numel > INT64_MAX / dims[i])) return NULL;
    numel *= dims[i];
    d[i] = dims[i];
  }
  int64_t nbytes = dtype == TCC_DTYPE_STRING ? numel * (int64_t)sizeof(tcc_bytes_t) : tcc_dtype_storage_bytes(dtype, numel);
  if (nbytes < 0) return NULL;
  void *data = tcc_module_alloc(m, (size_t)nbytes);
  if (!data) return NULL;
  *t = (tcc_tensor_t){dtype, rank, d, numel, data, (size_t)nbytes};
  return t;
}

tcc_tensor_t *tcc_tensor_create_i64(tcc_module_t *m, int rank, const int64_t *dims, const int64_t *values) {
  tcc_tensor_t *t = tcc_tensor_create(m, TCC_DTYPE_I64, rank, dims);
  if (t && t->nbytes) memcpy((void *)t->data, values, t->nbytes);
  return t;
}

bool tcc_value_const_ints(const tcc_value_t *v, const int64_t **values, int64_t *count) {
  tcc_module_t *m = v->graph->module;
  if (v->constant && (tcc_dtype_is_int(v->constant->dtype) || v->constant->dtype == TCC_DTYPE_BOOL)) {
    int64_t n = v->constant->numel;
    int64_t *out = tcc_module_alloc(m, (size_t)(n ? n : 1) * sizeof *out);
    if (!out) return false;
    for (int64_t i = 0; i < n; i++) out[i] = tcc_tensor_get_int(v->constant, i);
    *values = out;
    *count = n;
    return true;
  }
  if (v->shape_data_len >= 0) {
    int64_t n = v->shape_data_len;
    int64_t *out = tcc_module_alloc(m, (size_t)(n ? n : 1) * sizeof *out);
    if (!out) return false;
    for (int64_t i = 0; i < n; i++) {
      if (!tcc_dim_is_const(v->shape_data[i])) return false;
      out[i] = tcc_dim_value(v->shape_data[i]);
    }
    *values = out;
    *count = n;
    return true;
  }
  return false;
}

/* ---- topological order ---- */

typedef struct {
  const tcc_graph_t *g;
  uint8_t *state; /* by node id: 0 unvisited, 1 on the stack, 2 placed */
  tcc_node_t **order;
  size_t placed;
} sorter_t;

static tcc_status_t place_node(sorter_t *s, tcc_node_t *n);

/* Places the producer in s->g of value v (v may belong to g or be read from inside a subgraph). */
static tcc_status_t place_producer(sorter_t *s, const tcc_value_t *v) {
  if (!v || !v->producer || v->producer->graph != s->g) return NULL;
  return place_node(s, v->producer);
}

/* Places the producers of everything n reads: its inputs and, through its subgraphs (nested too), the
 * values of s->g they read. */
static tcc_status_t place_reads(sorter_t *s, const tcc_node_t *n) {
  for (int k = 0; k < n->num_inputs; k++) TCC_RETURN_IF_ERROR(place_producer(s, n->inputs[k]));
  for (int k = 0; k < n->num_attrs; k++) {
    const tcc_attr_t *a = &n->attrs[k];
    int64_t count = a->kind == TCC_ATTR_GRAPH ? 1 : a->kind == TCC_ATTR_GRAPHS ? a->count : 0;
    for (int64_t j = 0; j < count; j++) {
      const tcc_graph_t *sub = a->kind == TCC_ATTR_GRAPH ? a->g : a->graphs[j];
      for (size_t i = 0; i < sub->num_nodes; i++) TCC_RETURN_IF_ERROR(place_reads(s, sub->nodes[i]));
      for (size_t i = 0; i < sub->num_outputs; i++) TCC_RETURN_IF_ERROR(place_producer(s, sub->outputs[i]));
    }
  }
  return NULL;
}

/* Depth-first: a node is placed after everything it reads. Recursion depth is bounded by the longest
 * dependency chain, which the importer already sorted; passes add short chains. */
static tcc_status_t place_node(sorter_t *s, tcc_node_t *n) {
  if (s->state[n->id] == 2) return NULL;
  if (s->state[n->id] == 1)
    return tcc_status_make(TCC_INVALID_MODEL, "graph '%s' has a cycle through node '%s'", s->g->name, n->name);
  s->state[n->id] = 1;
  TCC_RETURN_IF_ERROR(place_reads(s, n));
  s->state[n->id] = 2;
  s->order[s->placed++] = n;
  return NULL;
}

tcc_status_t tcc_graph_sort(tcc_graph_t *g) {
  tcc_module_t *m = g->module;
  sorter_t s = {g, tcc_module_alloc(m, m->next_id + 1), tcc_module_alloc(m, (g->num_nodes + 1) * sizeof *s.order), 0};
  if (!s.state || !s.order) return tcc_status_oom();
  memset(s.state, 0, m->next_id + 1);
  for (size_t i = 0; i < g->num_nodes; i++) TCC_RETURN_IF_ERROR(place_node(&s, g->nodes[i]));
  memcpy(g->nodes, s.order, g->num_nodes * sizeof *g->nodes);
  return NULL;
}
