/* ONNX ModelProto -> graph IR: structure checks, tensors, types, attributes, functions, node order. */
#include "frontend/onnx_import.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/onnx.pb-c.h"
#include "frontend/onnx_ops.h"
#include "frontend/onnx_tensor.h"
#include "frontend/onnx_wire.h"
#include "frontend/expand_training.h"
#include "frontend/shape_folding.h"
#include "ir/infer.h"
#include "ir/verify.h"

enum { MAX_FUNCTION_DEPTH = 16, MAX_GRAPH_DEPTH = 32 };

typedef struct {
  tcc_module_t *m;
  const tcc_onnx_import_options_t *options;
  tcc_onnx_tensor_source_t src; /* raw-data references into the model, external data */
  tcc_strmap_t functions;        /* "domain::name" -> FunctionProto */
  tcc_strmap_t mapped;           /* external data mappings */
  int graph_depth;
  uint32_t next_inline;
} ctx_t;

/* A node to import after function inlining: names already renamed into the graph's namespace. */
typedef struct {
  const Onnx__NodeProto *proto;
  const char *name;
  const char **inputs, **outputs;
  size_t num_inputs, num_outputs;
  tcc_strmap_t *attr_env; /* a function's attributes for ref_attr_name, or NULL */
} node_inst_t;

typedef struct {
  node_inst_t *items;
  size_t count, capacity;
} inst_list_t;

static const char *str(const char *s) { return s ? s : ""; }

static const char *domain_of(const char *d) { return (!d || strcmp(d, "ai.onnx") == 0) ? "" : d; }

static tcc_status_t model_error(const char *fmt, ...) TCC_PRINTF(1, 2);
static tcc_status_t model_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tcc_status_t st = tcc_status_makev(TCC_INVALID_MODEL, fmt, ap);
  va_end(ap);
  return st;
}

/* ---- types ---- */

static tcc_status_t import_type(ctx_t *c, const Onnx__TypeProto *tp, tcc_type_t *out, int depth) {
  memset(out, 0, sizeof *out);
  out->rank = -1;
  if (!tp || depth > 8) return NULL;
  switch (tp->value_case) {
    case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE: {
      const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
      out->kind = TCC_TYPE_TENSOR;
      int code = tt->has_elem_type ? tt->elem_type : 0;
      if (code && !tcc_dtype_is_valid(code)) return tcc_status_make(TCC_UNSUPPORTED, "unknown element type %d", code);
      out->dtype = (tcc_dtype_t)code;
      if (!tt->shape) return NULL;
      if (tt->shape->n_dim > 64) return model_error("a declared type has rank %zu", tt->shape->n_dim);
      const tcc_dim_t **dims = tcc_module_alloc(c->m, (tt->shape->n_dim + 1) * sizeof *dims);
      if (!dims) return tcc_status_oom();
      for (size_t i = 0; i < tt->shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
          if (d->dim_value < 0) return model_error("a declared type has negative dim %lld", (long long)d->dim_value);
          dims[i] = tcc_dim_const(c->m, d->dim_value);
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param[0]) {
          dims[i] = tcc_dim_symbol(c->m, d->dim_param);
        } else {
          dims[i] = tcc_dim_fresh(c->m);
        }
      }
      out->rank = (int)tt->shape->n_dim;
      out->dims = dims;
      return NULL;
    }
    case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE:
    case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: {
      bool seq = tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
      out->kind = seq ? TCC_TYPE_SEQUENCE : TCC_TYPE_OPTIONAL;
      tcc_type_t elem;
      TCC_RETURN_IF_ERROR(import_type(c, seq ? tp->sequence_type->elem_type : tp->optional_type->elem_type, &elem, depth + 1));
      if (!(out->elem = tcc_type_copy(c->m, &elem))) return tcc_status_oom();
      return NULL;
    }
    default: return NULL; /* maps and sparse tensors: unknown */
  }
}

static tcc_status_t declare(ctx_t *c, tcc_value_t *v, const Onnx__ValueInfoProto *vi) {
  if (!vi->type) return NULL;
  tcc_type_t t;
  TCC_RETURN_IF_ERROR(import_type(c, vi->type, &t, 0));
  if (!(v->declared = tcc_type_copy(c->m, &t))) return tcc_status_oom();
  return NULL;
}

/* ---- attributes ---- */

static tcc_status_t import_graph(ctx_t *c, const Onnx__GraphProto *gp, tcc_graph_t *g);

static tcc_status_t import_subgraph(ctx_t *c, tcc_graph_t *parent, const Onnx__GraphProto *gp, tcc_graph_t **out) {
  if (c->graph_depth >= MAX_GRAPH_DEPTH) return model_error("subgraphs nested more than %d deep", MAX_GRAPH_DEPTH);
  tcc_graph_t *g = tcc_graph_create(c->m, parent, str(gp->name));
  if (!g) return tcc_status_oom();
  c->graph_depth++;
  tcc_status_t st = import_graph(c, gp, g);
  c->graph_depth--;
  *out = g;
  return st;
}

static tcc_attr_kind_t attr_kind(const Onnx__AttributeProto *a) {
  switch (a->has_type ? a->type : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return TCC_ATTR_FLOAT;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return TCC_ATTR_INT;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return TCC_ATTR_STRING;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: return TCC_ATTR_TENSOR;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH: return TCC_ATTR_GRAPH;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR: return TCC_ATTR_TENSOR;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO: return TCC_ATTR_TYPE;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return TCC_ATTR_FLOATS;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return TCC_ATTR_INTS;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: return TCC_ATTR_STRINGS;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS: return TCC_ATTR_TENSORS;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS: return TCC_ATTR_GRAPHS;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS: return TCC_ATTR_TENSORS;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS: return TCC_ATTR_TYPES;
    default: /* old models leave the type out: go by the field that is set */
      if (a->n_floats) return TCC_ATTR_FLOATS;
      if (a->n_ints) return TCC_ATTR_INTS;
      if (a->n_strings) return TCC_ATTR_STRINGS;
      if (a->n_tensors) return TCC_ATTR_TENSORS;
      if (a->n_graphs) return TCC_ATTR_GRAPHS;
      if (a->t || a->sparse_tensor) return TCC_ATTR_TENSOR;
      if (a->g) return TCC_ATTR_GRAPH;
      if (a->tp) return TCC_ATTR_TYPE;
      if (a->has_s) return TCC_ATTR_STRING;
      if (a->has_f) return TCC_ATTR_FLOAT;
      return TCC_ATTR_INT;
  }
}

static tcc_status_t import_attr(ctx_t *c, tcc_graph_t *g, const Onnx__AttributeProto *a, tcc_attr_t *out) {
  tcc_module_t *m = c->m;
  memset(out, 0, sizeof *out);
  out->name = tcc_module_strdup(m, str(a->name));
  out->kind = attr_kind(a);
  switch (out->kind) {
    case TCC_ATTR_INT: out->i = a->i; break;
    case TCC_ATTR_FLOAT: out->f = a->f; break;
    case TCC_ATTR_STRING: {
      char *s = tcc_arena_strndup(&m->arena, (const char *)a->s.data ? (const char *)a->s.data : "", a->s.len);
      if (!s) return tcc_status_oom();
      out->s = (tcc_bytes_t){s, a->s.len};
      break;
    }
    case TCC_ATTR_TENSOR: {
      tcc_tensor_t *t = NULL;
      if (a->t) TCC_RETURN_IF_ERROR(tcc_onnx_tensor_convert(&c->src, a->t, &t));
      else if (a->sparse_tensor) TCC_RETURN_IF_ERROR(tcc_onnx_sparse_convert(&c->src, a->sparse_tensor, &t));
      else return model_error("tensor attribute '%s' has no tensor", out->name);
      out->t = t;
      break;
    }
    case TCC_ATTR_GRAPH:
      if (!a->g) return model_error("graph attribute '%s' has no graph", out->name);
      TCC_RETURN_IF_ERROR(import_subgraph(c, g, a->g, &out->g));
      break;
    case TCC_ATTR_TYPE: {
      tcc_type_t t;
      TCC_RETURN_IF_ERROR(import_type(c, a->tp, &t, 0));
      tcc_type_t *copy = tcc_type_copy(m, &t);
      if (!copy) return tcc_status_oom();
      out->type = *copy;
      break;
    }
    case TCC_ATTR_FLOATS: {
      double *f = tcc_module_alloc(m, (a->n_floats + 1) * sizeof *f);
      if (!f) return tcc_status_oom();
      for (size_t i = 0; i < a->n_floats; i++) f[i] = a->floats[i];
      out->floats = f;
      out->count = (int64_t)a->n_floats;
      break;
    }
    case TCC_ATTR_INTS:
    {
      int64_t *ints = tcc_module_alloc(m, (a->n_ints + 1) * sizeof *ints);
      if (!ints) return tcc_status_oom();
      if (a->n_ints) memcpy(ints, a->ints, a->n_ints * sizeof *ints);
      out->ints = ints;
      out->count = (int64_t)a->n_ints;
      break;
    }
    case TCC_ATTR_STRINGS: {
      tcc_bytes_t *s = tcc_module_alloc(m, (a->n_strings + 1) * sizeof *s);
      if (!s) return tcc_status_oom();
      for (size_t i = 0; i < a->n_strings; i++) {
        char *d = tcc_arena_strndup(&m->arena, (const char *)a->strings[i].data ? (const char *)a->strings[i].data : "", a->strings[i].len);
        if (!d) return tcc_status_oom();
        s[i] = (tcc_bytes_t){d, a->strings[i].len};
      }
      out->strings = s;
      out->count = (int64_t)a->n_strings;
      break;
    }
    case TCC_ATTR_TENSORS: {
      size_t n = a->n_tensors + a->n_sparse_tensors;
      const tcc_tensor_t **ts = tcc_module_alloc(m, (n + 1) * sizeof *ts);
      if (!ts) return tcc_status_oom();
      for (size_t i = 0; i < a->n_tensors; i++) TCC_RETURN_IF_ERROR(tcc_onnx_tensor_convert(&c->src, a->tensors[i], (tcc_tensor_t **)&ts[i]));
      for (size_t i = 0; i < a->n_sparse_tensors; i++)
        TCC_RETURN_IF_ERROR(tcc_onnx_sparse_convert(&c->src, a->sparse_tensors[i], (tcc_tensor_t **)&ts[a->n_tensors + i]));
      out->tensors = ts;
      out->count = (int64_t)n;
      break;
    }
    case TCC_ATTR_GRAPHS: {
      tcc_graph_t **gs = tcc_module_alloc(m, (a->n_graphs + 1) * sizeof *gs);
      if (!gs) return tcc_status_oom();
      for (size_t i = 0; i < a->n_graphs; i++) TCC_RETURN_IF_ERROR(import_subgraph(c, g, a->graphs[i], &gs[i]));
      out->graphs = gs;
      out->count = (int64_t)a->n_graphs;
      break;
    }
    case TCC_ATTR_TYPES: {
      tcc_type_t *ts = tcc_module_alloc(m, (a->n_type_protos + 1) * sizeof *ts);
      if (!ts) return tcc_status_oom();
      for (size_t i = 0; i < a->n_type_protos; i++) TCC_RETURN_IF_ERROR(import_type(c, a->type_protos[i], &ts[i], 0));
      out->types = ts;
      out->count = (int64_t)a->n_type_protos;
      break;
    }
    default: break;
  }
  return tcc_module_check(m);
}

/* ---- Constant nodes become constant values ---- */

/* The value_* attribute's type must match its name: the data is read from the field the name implies. */
static tcc_status_t constant_kind(const node_inst_t *inst, const char *name, const tcc_attr_t *a, tcc_attr_kind_t want) {
  if (a->kind == want) return NULL;
  return model_error("Constant node '%s': attribute '%s' has type %s, not %s", inst->name, name,
                     tcc_attr_kind_name(a->kind), tcc_attr_kind_name(want));
}

static tcc_status_t constant_tensor(ctx_t *c, tcc_graph_t *g, const node_inst_t *inst, tcc_tensor_t **out) {
  const Onnx__NodeProto *p = inst->proto;
  if (p->n_attribute != 1) return model_error("Constant node '%s' must have exactly one value attribute", inst->name);
  tcc_attr_t a;
  const Onnx__AttributeProto *ap = p->attribute[0];
  if (ap->ref_attr_name && inst->attr_env) {
    const Onnx__AttributeProto *bound = tcc_strmap_get(inst->attr_env, ap->ref_attr_name);
    if (!bound) return model_error("Constant node '%s': function attribute '%s' is not bound", inst->name, ap->ref_attr_name);
    TCC_RETURN_IF_ERROR(import_attr(c, g, bound, &a));
  } else {
    TCC_RETURN_IF_ERROR(import_attr(c, g, ap, &a));
  }
  const char *n = str(ap->name);
  tcc_module_t *m = c->m;
  int64_t count = a.count;
  if (strcmp(n, "value") == 0 || strcmp(n, "sparse_value") == 0) {
    if (a.kind != TCC_ATTR_TENSOR) return model_error("Constant node '%s': '%s' is not a tensor", inst->name, n);
    *out = (tcc_tensor_t *)a.t;
    return NULL;
  }
  tcc_tensor_t *t = NULL;
  if (strcmp(n, "value_float") == 0 || strcmp(n, "value_floats") == 0) {
    bool scalar = n[11] == 0;
    TCC_RETURN_IF_ERROR(constant_kind(inst, n, &a, scalar ? TCC_ATTR_FLOAT : TCC_ATTR_FLOATS));
    if (!(t = tcc_tensor_create(m, TCC_DTYPE_F32, scalar ? 0 : 1, &count))) return tcc_status_oom();
    for (int64_t i = 0; i < (scalar ? 1 : count); i++) ((float *)t->data)[i] = (float)(scalar ? a.f : a.floats[i]);
  } else if (strcmp(n, "value_int") == 0 || strcmp(n, "value_ints") == 0) {
    bool scalar = n[9] == 0;
    TCC_RETURN_IF_ERROR(constant_kind(inst, n, &a, scalar ? TCC_ATTR_INT : TCC_ATTR_INTS));
    if (!(t = tcc_tensor_create_i64(m, scalar ? 0 : 1, &count, scalar ? &a.i : a.ints))) return tcc_status_oom();
  } else if (strcmp(n, "value_string") == 0 || strcmp(n, "value_strings") == 0) {
    bool scalar = n[12] == 0;
    TCC_RETURN_IF_ERROR(constant_kind(inst, n, &a, scalar ? TCC_ATTR_STRING : TCC_ATTR_STRINGS));
    if (!(t = tcc_tensor_create(m, TCC_DTYPE_STRING, scalar ? 0 : 1, &count))) return tcc_status_oom();
    for (int64_t i = 0; i < (scalar ? 1 : count); i++) ((tcc_bytes_t *)t->data)[i] = scalar ? a.s : a.strings[i];
  } else {
    return model_error("Constant node '%s' has unknown attribute '%s'", inst->name, n);
  }
  *out = t;
  return NULL;
}

/* ---- function inlining ---- */

static const char *function_key(tcc_module_t *m, const char *domain, const char *name) {
  return tcc_arena_sprintf(&m->arena, "%s::%s", domain_of(domain), name);
}

static const char *translate(ctx_t *c, tcc_strmap_t *rename, const char *prefix, const char *name) {
  if (!rename || !name[0]) return name;
  const char *actual = tcc_strmap_get(rename, name);
  return actual ? actual : tcc_arena_sprintf(&c->m->arena, "%s%s", prefix, name);
}

static tcc_status_t expand(ctx_t *c, Onnx__NodeProto *const *nodes, size_t n, tcc_strmap_t *rename, const char *prefix,
                           tcc_strmap_t *env, int depth, inst_list_t *out) {
  tcc_module_t *m = c->m;
  for (size_t i = 0; i < n; i++) {
    const Onnx__NodeProto *p = nodes[i];
    node_inst_t inst = {p, NULL, NULL, NULL, p->n_input, p->n_output, env};
    inst.inputs = tcc_module_alloc(m, (p->n_input + 1) * sizeof(char *));
    inst.outputs = tcc_module_alloc(m, (p->n_output + 1) * sizeof(char *));
    if (!inst.inputs || !inst.outputs) return tcc_status_oom();
    for (size_t k = 0; k < p->n_input; k++) inst.inputs[k] = translate(c, rename, prefix, str(p->input[k]));
    for (size_t k = 0; k < p->n_output; k++) inst.outputs[k] = translate(c, rename, prefix, str(p->output[k]));
    const char *node_name = str(p->name)[0] ? str(p->name) : (p->n_output ? str(p->output[0]) : str(p->op_type));
    inst.name = rename ? tcc_arena_sprintf(&m->arena, "%s%s", prefix, node_name) : node_name;
    if (tcc_module_check(m)) return tcc_status_oom();

    const Onnx__FunctionProto *fn = tcc_strmap_get(&c->functions, function_key(m, str(p->domain), str(p->op_type)));
    if (!fn) {
      out->items = tcc_arena_grow(&m->arena, out->items, sizeof *out->items, out->count, &out->capacity, out->count + 1);
      if (!out->items) return tcc_status_oom();
      out->items[out->count++] = inst;
      continue;
    }
    if (depth >= MAX_FUNCTION_DEPTH)
      return model_error("function '%s' calls nest more than %d deep (recursive functions?)", str(fn->name), MAX_FUNCTION_DEPTH);
    tcc_strmap_t *inner = tcc_module_alloc(m, sizeof *inner), *inner_env = tcc_module_alloc(m, sizeof *inner_env);
    if (!inner || !inner_env) return tcc_status_oom();
    tcc_strmap_init(inner, &m->arena);
    tcc_strmap_init(inner_env, &m->arena);
    if (p->n_input > fn->n_input || p->n_output > fn->n_output)
      return model_error("node '%s' calls function '%s' with too many inputs or outputs", inst.name, str(fn->name));
    for (size_t k = 0; k < fn->n_input; k++)
      if (!tcc_strmap_put(inner, str(fn->input[k]), (void *)(k < p->n_input ? inst.inputs[k] : ""))) return tcc_status_oom();
    for (size_t k = 0; k < fn->n_output; k++) {
      const char *actual = k < p->n_output ? inst.outputs[k] : tcc_arena_sprintf(&m->arena, "%s/unused%zu", inst.name, k);
      if (!actual || !tcc_strmap_put(inner, str(fn->output[k]), (void *)actual)) return tcc_status_oom();
    }
    for (size_t k = 0; k < p->n_attribute; k++) {
      const Onnx__AttributeProto *a = p->attribute[k];
      if (a->ref_attr_name) a = env ? tcc_strmap_get(env, a->ref_attr_name) : NULL;
      if (a && !tcc_strmap_put(inner_env, str(p->attribute[k]->name), (void *)a)) return tcc_status_oom();
    }
    for (size_t k = 0; k < fn->n_attribute_proto; k++) {
      const Onnx__AttributeProto *a = fn->attribute_proto[k];
      if (!tcc_strmap_get(inner_env, str(a->name)) && !tcc_strmap_put(inner_env, str(a->name), (void *)a))
        return tcc_status_oom();
    }
    const char *inner_prefix = tcc_arena_sprintf(&m->arena, "%s/%u/", inst.name, c->next_inline++);
    if (!inner_prefix) return tcc_status_oom();
    TCC_RETURN_IF_ERROR(expand(c, fn->node, fn->n_node, inner, inner_prefix, inner_env, depth + 1, out));
  }
  return NULL;
}

/* ---- node order ---- */

/* Names a subgraph reads (node inputs and outputs it refers to), to order outer nodes before it. */
static tcc_status_t collect_graph_reads(ctx_t *c, const Onnx__GraphProto *gp, tcc_strmap_t *names, int depth) {
  if (depth > MAX_GRAPH_DEPTH) return model_error("subgraphs nested more than %d deep", MAX_GRAPH_DEPTH);
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *p = gp->node[i];
    for (size_t k = 0; k < p->n_input; k++)
      if (str(p->input[k])[0] && !tcc_strmap_put(names, str(p->input[k]), (void *)1)) return tcc_status_oom();
    for (size_t k = 0; k < p->n_attribute; k++) {
      const Onnx__AttributeProto *a = p->attribute[k];
      if (a->g) TCC_RETURN_IF_ERROR(collect_graph_reads(c, a->g, names, depth + 1));
      for (size_t j = 0; j < a->n_graphs; j++) TCC_RETURN_IF_ERROR(collect_graph_reads(c, a->graphs[j], names, depth + 1));
    }
  }
  for (size_t i = 0; i < gp->n_output; i++)
    if (!tcc_strmap_put(names, str(gp->output[i]->name), (void *)1)) return tcc_status_oom();
  return NULL;
}

static tcc_status_t dependencies(ctx_t *c, const node_inst_t *inst, const tcc_strmap_t *producer, size_t **deps,
                                 size_t *num_deps) {
  tcc_module_t *m = c->m;
  tcc_strmap_t reads;
  tcc_strmap_init(&reads, &m->arena);
  for (size_t k = 0; k < inst->num_inputs; k++)
    if (inst->inputs[k][0] && !tcc_strmap_put(&reads, inst->inputs[k], (void *)1)) return tcc_status_oom();
  for (size_t k = 0; k < inst->proto->n_attribute; k++) {
    const Onnx__AttributeProto *a = inst->proto->attribute[k];
    if (a->g) TCC_RETURN_IF_ERROR(collect_graph_reads(c, a->g, &reads, 0));
    for (size_t j = 0; j < a->n_graphs; j++) TCC_RETURN_IF_ERROR(collect_graph_reads(c, a->graphs[j], &reads, 0));
  }
  *deps = tcc_module_alloc(m, (reads.count + 1) * sizeof **deps);
  if (!*deps) return tcc_status_oom();
  *num_deps = 0;
  for (size_t i = 0; i < reads.capacity; i++) {
    if (!reads.keys[i]) continue;
    uintptr_t p = (uintptr_t)tcc_strmap_get(producer, reads.keys[i]);
    if (p) (*deps)[(*num_deps)++] = p - 1;
  }
  return NULL;
}

/* Orders instances so producers come first, keeping the given order where it is already valid. */
static tcc_status_t sort_nodes(ctx_t *c, tcc_graph_t *g, inst_list_t *list, size_t **order_out) {
  tcc_module_t *m = c->m;
  size_t n = list->count;
  tcc_strmap_t producer;
  tcc_strmap_init(&producer, &m->arena);
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < list->items[i].num_outputs; k++) {
      const char *name = list->items[i].outputs[k];
      if (!name[0]) continue;
      uintptr_t prev = (uintptr_t)tcc_strmap_get(&producer, name);
      if (prev)
        return model_error("value '%s' is produced by both node '%s' and node '%s'", name, list->items[prev - 1].name,
                           list->items[i].name);
      if (tcc_strmap_get(&g->by_name, name))
        return model_error("node '%s' produces '%s', which is already a graph input or initializer", list->items[i].name, name);
      if (!tcc_strmap_put(&producer, name, (void *)(uintptr_t)(i + 1))) return tcc_status_oom();
    }
  size_t **deps = tcc_module_alloc(m, (n + 1) * sizeof *deps), *num_deps = tcc_module_alloc(m, (n + 1) * sizeof *num_deps);
  uint8_t *state = tcc_module_alloc(m, n + 1); /* 0 new, 1 on the stack, 2 done */
  size_t *order = tcc_module_alloc(m, (n + 1) * sizeof *order), *stack = tcc_module_alloc(m, (n + 1) * sizeof *stack);
  size_t *next_dep = tcc_module_alloc(m, (n + 1) * sizeof *next_dep);
  if (!deps || !num_deps || !state || !order || !stack || !next_dep) return tcc_status_oom();
  for (size_t i = 0; i < n; i++) TCC_RETURN_IF_ERROR(dependencies(c, &list->items[i], &producer, &deps[i], &num_deps[i]));
  size_t emitted = 0;
  for (size_t root = 0; root < n; root++) {
    if (state[root]) continue;
    size_t top = 0;
    stack[top++] = root;
    state[root] = 1;
    next_dep[root] = 0;
    while (top) {
      size_t v = stack[top - 1];
      if (next_dep[v] < num_deps[v]) {
        size_t d = deps[v][next_dep[v]++];
        if (state[d] == 1)
          return model_error("the graph has a cycle: node '%s' depends on itself through '%s'", list->items[d].name,
                             list->items[v].name);
        if (state[d] == 0) {
          state[d] = 1;
          next_dep[d] = 0;
          stack[top++] = d;
        }
      } else {
        state[v] = 2;
        order[emitted++] = v;
        top--;
      }
    }
  }
  *order_out = order;
  return NULL;
}

/* ---- nodes ---- */

static tcc_status_t unsupported(ctx_t *c, const node_inst_t *inst, const char *domain, int64_t opset, tcc_op_t *op,
                                const char **reason, const char *why) {
  if (!c->options->keep_unsupported)
    return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (%s%s%s, opset %lld): %s", inst->name, domain,
                           domain[0] ? "::" : "", str(inst->proto->op_type), (long long)opset, why);
  *op = TCC_OP_UNSUPPORTED;
  *reason = tcc_module_strdup(c->m, why);
  return NULL;
}

static tcc_status_t import_node(ctx_t *c, tcc_graph_t *g, const node_inst_t *inst) {
  tcc_module_t *m = c->m;
  const Onnx__NodeProto *p = inst->proto;
  const char *domain = domain_of(p->domain), *op_type = str(p->op_type);
  for (size_t k = 0; k < inst->num_inputs; k++)
    if (inst->inputs[k][0] && !tcc_graph_find(g, inst->inputs[k]))
      return model_error("node '%s' (%s) reads '%s', which no node produces and is not a graph input or initializer",
                         inst->name, op_type, inst->inputs[k]);
  if (!domain[0] && strcmp(op_type, "Constant") == 0) {
    if (inst->num_outputs != 1) return model_error("Constant node '%s' must have one output", inst->name);
    tcc_tensor_t *t = NULL;
    TCC_RETURN_IF_ERROR(constant_tensor(c, g, inst, &t));
    return tcc_graph_add_constant(g, inst->outputs[0], t) ? NULL : tcc_status_oom();
  }
  int64_t opset = tcc_module_opset(m, domain);
  tcc_op_t op = TCC_OP_UNSUPPORTED;
  const char *reason = NULL;
  const tcc_onnx_op_entry_t *entry = NULL;
  char why[256];
  if (!opset && domain[0] && strcmp(domain, "ai.onnx.ml") != 0 && strcmp(domain, "ai.onnx.preview.training") != 0) {
    snprintf(why, sizeof why, "domain '%s' is not imported by the model (no opset_import entry)", domain);
    TCC_RETURN_IF_ERROR(unsupported(c, inst, domain, opset, &op, &reason, why));
  } else {
    int64_t min_version;
    entry = tcc_onnx_op_lookup(domain, op_type, opset, &min_version);
    if (entry) op = entry->op;
    else {
      if (min_version) snprintf(why, sizeof why, "%s-%lld is not supported (tcc imports %s from opset %lld)", op_type,
                                (long long)opset, op_type, (long long)min_version);
      else if (domain[0]) snprintf(why, sizeof why, "operators of domain '%s' are not supported", domain);
      else snprintf(why, sizeof why, "operator %s is not supported", op_type);
      TCC_RETURN_IF_ERROR(unsupported(c, inst, domain, opset, &op, &reason, why));
    }
  }
  tcc_node_t *node = tcc_graph_add_node(g, op, inst->name, (int)inst->num_inputs, (int)inst->num_outputs);
  if (!node) return tcc_status_oom();
  node->domain = tcc_module_strdup(m, domain);
  node->op_type = tcc_module_strdup(m, op_type);
  node->opset = opset;
  node->unsupported = reason;
  for (size_t k = 0; k < inst->num_inputs; k++) node->inputs[k] = inst->inputs[k][0] ? tcc_graph_find(g, inst->inputs[k]) : NULL;
  for (size_t k = 0; k < inst->num_outputs; k++) {
    if (!inst->outputs[k][0]) continue;
    tcc_value_t *v = tcc_graph_add_value(g, inst->outputs[k]);
    if (!v) return tcc_module_check(m) ? tcc_status_oom() : model_error("value '%s' is produced twice", inst->outputs[k]);
    tcc_node_set_output(node, (int)k, v);
  }
  for (size_t k = 0; k < p->n_attribute; k++) {
    const Onnx__AttributeProto *a = p->attribute[k];
    if (a->ref_attr_name) {
      a = inst->attr_env ? tcc_strmap_get(inst->attr_env, a->ref_attr_name) : NULL;
      if (!a) continue; /* an unbound optional function attribute */
    }
    tcc_attr_t attr;
    tcc_status_t st = import_attr(c, g, a, &attr);
    if (st) return tcc_status_annotate(st, "node '%s' (%s), attribute '%s': ", inst->name, op_type, str(p->attribute[k]->name));
    attr.name = tcc_module_strdup(m, str(p->attribute[k]->name));
    TCC_RETURN_IF_ERROR(tcc_node_set_attr(node, &attr));
  }
  tcc_node_remove_attr(node, "consumed_inputs"); /* an opset < 6 memory hint with no meaning today */
  if (entry && entry->upgrade) {
    tcc_status_t st = entry->upgrade(node);
    if (st) return tcc_status_annotate(st, "node '%s' (%s-%lld): ", inst->name, op_type, (long long)opset);
  }
  return tcc_module_check(m);
}

/* ---- graphs ---- */

static tcc_status_t import_graph(ctx_t *c, const Onnx__GraphProto *gp, tcc_graph_t *g) {
  tcc_module_t *m = c->m;
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *tp = gp->initializer[i];
    if (!str(tp->name)[0]) return model_error("graph '%s' has an initializer without a name", g->name);
    tcc_tensor_t *t = NULL;
    TCC_RETURN_IF_ERROR(tcc_onnx_tensor_convert(&c->src, tp, &t));
    if (tcc_strmap_get(&g->by_name, tp->name)) return model_error("initializer '%s' is defined twice", tp->name);
    if (!tcc_graph_add_constant(g, tp->name, t)) return tcc_status_oom();
  }
  for (size_t i = 0; i < gp->n_sparse_initializer; i++) {
    const Onnx__SparseTensorProto *sp = gp->sparse_initializer[i];
    const char *name = sp->values ? str(sp->values->name) : "";
    if (!name[0]) return model_error("graph '%s' has a sparse initializer without a name", g->name);
    tcc_tensor_t *t = NULL;
    TCC_RETURN_IF_ERROR(tcc_onnx_sparse_convert(&c->src, sp, &t));
    if (tcc_strmap_get(&g->by_name, name)) return model_error("initializer '%s' is defined twice", name);
    if (!tcc_graph_add_constant(g, name, t)) return tcc_status_oom();
  }
  for (size_t i = 0; i < gp->n_input; i++) {
    const char *name = str(gp->input[i]->name);
    if (!name[0]) return model_error("graph '%s' has an input without a name", g->name);
    tcc_value_t *v = tcc_strmap_get(&g->by_name, name);
    if (v && (v->is_input || !v->constant)) return model_error("graph input '%s' is listed twice", name);
    if (v) { /* an initializer that callers may override */
      v->is_input = true;
      if (!(g->inputs = tcc_arena_grow(&m->arena, g->inputs, sizeof *g->inputs, g->num_inputs, &g->cap_inputs, g->num_inputs + 1)))
        return tcc_status_oom();
      g->inputs[g->num_inputs++] = v;
    } else if (!(v = tcc_graph_add_input(g, name))) {
      return tcc_status_oom();
    }
    TCC_RETURN_IF_ERROR(declare(c, v, gp->input[i]));
    if (!v->constant && v->declared) v->type = *v->declared;
  }
  inst_list_t list = {0};
  TCC_RETURN_IF_ERROR(expand(c, gp->node, gp->n_node, NULL, NULL, NULL, 0, &list));
  size_t *order = NULL;
  TCC_RETURN_IF_ERROR(sort_nodes(c, g, &list, &order));
  for (size_t i = 0; i < list.count; i++) TCC_RETURN_IF_ERROR(import_node(c, g, &list.items[order[i]]));
  for (size_t i = 0; i < gp->n_value_info; i++) {
    tcc_value_t *v = tcc_strmap_get(&g->by_name, str(gp->value_info[i]->name));
    if (v) TCC_RETURN_IF_ERROR(declare(c, v, gp->value_info[i]));
  }
  for (size_t i = 0; i < gp->n_output; i++) {
    const char *name = str(gp->output[i]->name);
    tcc_value_t *v = tcc_graph_find(g, name);
    if (!v) return model_error("graph output '%s' is not produced by any node, input or initializer", name);
    for (size_t k = 0; k < g->num_outputs; k++)
      if (g->outputs[k] == v) return model_error("graph output '%s' is listed twice", name);
    if (!tcc_graph_add_output(g, v)) return tcc_status_oom();
    if (v->graph == g) TCC_RETURN_IF_ERROR(declare(c, v, gp->output[i]));
  }
  return NULL;
}

/* ---- inference with coverage reporting ---- */

static tcc_status_t mark_unsupported(tcc_node_t *node, const char *why) {
  const char *detail = strstr(why, "): "); /* drop the "node 'x' (Op): " prefix */
  if (strncmp(why, "node '", 6) == 0 && detail) why = detail + 3;
  node->op = TCC_OP_UNSUPPORTED;
  node->unsupported = tcc_module_strdup(node->graph->module, why);
  return tcc_module_check(node->graph->module);
}

/* Fills in what inference could not know from the type the model declares: an unknown type or rank, and
 * dims inference left fresh. What inference did derive is kept. */
static tcc_status_t refine_with_declared(tcc_value_t *v) {
  const tcc_type_t *d = v->declared;
  if (!d || d->kind == TCC_TYPE_UNKNOWN) return NULL;
  if (v->type.kind == TCC_TYPE_UNKNOWN || (v->type.kind == TCC_TYPE_TENSOR && v->type.rank < 0 && d->kind == TCC_TYPE_TENSOR)) {
    tcc_type_t t = *d;
    if (t.kind == TCC_TYPE_TENSOR && v->type.kind == TCC_TYPE_TENSOR && v->type.dtype) t.dtype = v->type.dtype;
    return tcc_value_set_type(v, &t);
  }
  if (v->type.kind != TCC_TYPE_TENSOR || d->kind != TCC_TYPE_TENSOR || v->type.rank != d->rank) return NULL;
  bool changed = false;
  const tcc_dim_t *dims[64];
  for (int i = 0; i < v->type.rank && v->type.rank <= 64; i++) {
    dims[i] = v->type.dims[i];
    if (tcc_dim_is_fresh(dims[i]) && !tcc_dim_is_fresh(d->dims[i])) dims[i] = d->dims[i], changed = true;
  }
  return changed ? tcc_value_set_tensor(v, v->type.dtype, v->type.rank, dims) : NULL;
}

/* Infers every node; in keep_unsupported mode a node whose inference reports TCC_UNSUPPORTED becomes an
 * unsupported node. Values left untyped take the type the model declared for them. */
static tcc_status_t infer_graph(ctx_t *c, tcc_graph_t *g) {
  for (size_t i = 0; i < g->num_nodes; i++) {
    tcc_node_t *node = g->nodes[i];
    tcc_status_t st = tcc_node_infer(node);
    if (st && c->options->keep_unsupported && tcc_status_code(st) == TCC_UNSUPPORTED) {
      tcc_status_t why = st;
      st = mark_unsupported(node, tcc_status_message(why));
      tcc_status_free(why);
    }
    if (st) return st;
    for (int k = 0; k < node->num_outputs && !c->options->ignore_declared_types; k++)
      if (node->outputs[k]) TCC_RETURN_IF_ERROR(refine_with_declared(node->outputs[k]));
  }
  return NULL;
}

/* ---- the model ---- */

static tcc_status_t import_model(ctx_t *c, const Onnx__ModelProto *mp) {
  tcc_module_t *m = c->m;
  if (!mp->graph) return model_error("the model has no graph (is this an ONNX model?)");
  m->ir_version = mp->ir_version;
  m->model_version = mp->model_version;
  m->producer_name = tcc_module_strdup(m, str(mp->producer_name));
  m->producer_version = tcc_module_strdup(m, str(mp->producer_version));
  m->domain = tcc_module_strdup(m, str(mp->domain));
  m->doc = tcc_module_strdup(m, str(mp->doc_string));
  if (mp->ir_version > 11) return tcc_status_make(TCC_UNSUPPORTED, "ONNX IR version %lld is newer than tcc supports (11)", (long long)mp->ir_version);
  m->opsets = tcc_module_alloc(m, (mp->n_opset_import + 1) * sizeof *m->opsets);
  m->metadata = tcc_module_alloc(m, (mp->n_metadata_props + 1) * sizeof *m->metadata);
  if (!m->opsets || !m->metadata) return tcc_status_oom();
  for (size_t i = 0; i < mp->n_opset_import; i++) {
    const char *domain = tcc_module_strdup(m, domain_of(mp->opset_import[i]->domain));
    int64_t version = mp->opset_import[i]->version;
    if (version <= 0) return model_error("opset_import for domain '%s' has invalid version %lld", domain, (long long)version);
    if (tcc_module_opset(m, domain)) return model_error("opset_import lists domain '%s' twice", domain);
    if (!domain[0] && version > TCC_ONNX_MAX_OPSET)
      return tcc_status_make(TCC_UNSUPPORTED, "default-domain opset %lld is newer than tcc supports (up to %d)",
                             (long long)version, TCC_ONNX_MAX_OPSET);
    m->opsets[m->num_opsets++] = (tcc_opset_t){domain, version};
  }
  if (!mp->n_opset_import && mp->ir_version >= 3) return model_error("the model imports no opset (opset_import is empty)");
  if (!mp->n_opset_import) m->opsets[m->num_opsets++] = (tcc_opset_t){"", 1};
  for (size_t i = 0; i < mp->n_metadata_props; i++)
    m->metadata[m->num_metadata++] = (tcc_string_pair_t){tcc_module_strdup(m, str(mp->metadata_props[i]->key)),
                                                          tcc_module_strdup(m, str(mp->metadata_props[i]->value))};
  for (size_t i = 0; i < mp->n_functions; i++) {
    const Onnx__FunctionProto *fn = mp->functions[i];
    const char *key = function_key(m, str(fn->domain), str(fn->name));
    if (!key || !tcc_strmap_put(&c->functions, key, (void *)fn)) return tcc_status_oom();
  }
  m->graph->name = tcc_module_strdup(m, str(mp->graph->name)[0] ? mp->graph->name : "main");
  TCC_RETURN_IF_ERROR(import_graph(c, mp->graph, m->graph));
  TCC_RETURN_IF_ERROR(infer_graph(c, m->graph));
  TCC_RETURN_IF_ERROR(tcc_onnx_expand_training(m->graph));
  TCC_RETURN_IF_ERROR(tcc_onnx_fold_shapes(m->graph));
#ifndef NDEBUG
  TCC_RETURN_IF_ERROR(tcc_module_verify(m));
#endif
  return NULL;
}

static void free_buffer(void *ctx) { free(ctx); }

static void unmap_model(void *ctx) {
  size_t *region = ctx; /* {address, size} */
  munmap((void *)region[0], region[1]);
}

static tcc_status_t import_bytes(const uint8_t *data, size_t size, const char *model_dir,
                                 const tcc_onnx_import_options_t *options, tcc_module_t *m) {
  static const tcc_onnx_import_options_t defaults = {0};
  if (size == 0) return model_error("the model file is empty");
  ctx_t c = {m, options ? options : &defaults, {m, data, NULL, model_dir, NULL}, {0}, {0}, 0, 0};
  tcc_strmap_init(&c.functions, &m->arena);
  tcc_strmap_init(&c.mapped, &m->arena);
  c.src.mapped = &c.mapped;
  tcc_onnx_slim_t slim;
  TCC_RETURN_IF_ERROR(tcc_onnx_wire_slim(data, size, m->allocator, &slim));
  c.src.slim = &slim;
  tcc_onnx_pb_allocator_t pc;
  tcc_onnx_pb_allocator_init(&pc, m->allocator);
  ProtobufCAllocator *pba = &pc.pb;
  Onnx__ModelProto *mp = onnx__model_proto__unpack(pba, slim.size, slim.data);
  tcc_status_t st = mp ? import_model(&c, mp) : pc.failed ? tcc_status_oom() : model_error("not a valid ONNX model: the protobuf does not parse as a ModelProto");
  if (mp) onnx__model_proto__free_unpacked(mp, pba);
  tcc_onnx_slim_free(&slim);
  return st;
}

tcc_status_t tcc_onnx_import_memory(const void *data, size_t size, const char *model_dir,
                                    const tcc_onnx_import_options_t *options, tcc_allocator_t allocator,
                                    tcc_module_t **out) {
  *out = NULL;
  tcc_module_t *m;
  TCC_RETURN_IF_ERROR(tcc_module_create(allocator, &m));
  void *copy = malloc(size ? size : 1);
  tcc_status_t st = copy ? tcc_module_on_destroy(m, free_buffer, copy) : tcc_status_oom();
  if (st) free(copy);
  if (!st) {
    memcpy(copy, data, size);
    char dir[PATH_MAX];
    const char *resolved = model_dir && realpath(model_dir, dir) ? dir : NULL;
    if (model_dir && !resolved) st = tcc_status_make(TCC_NOT_FOUND, "model directory '%s': %s", model_dir, strerror(errno));
    else st = import_bytes(copy, size, resolved, options, m);
  }
  if (st) {
    tcc_module_destroy(m);
    return st;
  }
  *out = m;
  return NULL;
}

tcc_status_t tcc_onnx_import_file(const char *path, const tcc_onnx_import_options_t *options, tcc_allocator_t allocator,
                                  tcc_module_t **out) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return tcc_status_make(errno == ENOENT ? TCC_NOT_FOUND : TCC_IO, "cannot open '%s': %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return tcc_status_make(TCC_IO, "'%s' is not a regular file", path);
  }
  if (sb.st_size == 0) {
    close(fd);
    return tcc_status_make(TCC_INVALID_MODEL, "'%s' is empty", path);
  }
  void *addr = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (addr == MAP_FAILED) return tcc_status_make(TCC_IO, "cannot map '%s': %s", path, strerror(errno));
  tcc_module_t *m;
  tcc_status_t st = tcc_module_create(allocator, &m);
  size_t *region = st ? NULL : tcc_module_alloc(m, 2 * sizeof *region);
  if (!st && !region) st = tcc_status_oom();
  if (!st) {
    region[0] = (size_t)addr;
    region[1] = (size_t)sb.st_size;
    st = tcc_module_on_destroy(m, unmap_model, region);
  }
  if (st) {
    munmap(addr, (size_t)sb.st_size);
    tcc_module_destroy(m);
    return st;
  }
  char dir[PATH_MAX], resolved[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash) *(slash == dir ? slash + 1 : slash) = 0;
  else snprintf(dir, sizeof dir, ".");
  if (!realpath(dir, resolved)) st = tcc_status_make(TCC_IO, "cannot resolve the directory of '%s': %s", path, strerror(errno));
  if (!st) st = import_bytes(addr, (size_t)sb.st_size, resolved, options, m);
  if (st) {
    tcc_module_destroy(m);
    return tcc_status_annotate(st, "%s: ", path);
  }
  *out = m;
  return NULL;
}
