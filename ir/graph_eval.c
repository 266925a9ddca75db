/* Whole-graph reference evaluation: tensor nodes through the compute definitions and the kernel evaluator;
 * control flow, sequences and optionals on run-time values (contract in ir/graph_eval.h). */
#include "ir/graph_eval.h"

#include <stdio.h>
#include <string.h>

#include "ir/compute.h"
#include "ir/host_ops.h"
#include "ir/infer.h"
#include "ir/kernel_eval.h"

/* MAX_STEPS bounds one evaluation's work (node evaluations plus Loop iterations, subgraphs included): a
 * malformed or adversarial model (a Loop whose trip count is 2^60) gets a status instead of running for
 * ever with memory that grows every step (contract in ir/graph_eval.h). */
enum { MAX_RANK = 64, MAX_STEPS = 1 << 18 };

typedef struct {
  tcc_module_t *scratch;
  const tcc_eval_value_t **values; /* by value id of the graph's module: subgraph values included */
  tcc_strmap_t symbols;            /* symbol name -> bound value (int64 boxed in the scratch arena) */
  int64_t steps;                   /* node evaluations and Loop iterations so far, at most MAX_STEPS */
} evaluator_t;

/* Counts one step of work against MAX_STEPS. */
static tcc_status_t spend_step(evaluator_t *e, const tcc_node_t *node) {
  if (++e->steps <= MAX_STEPS) return NULL;
  return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (%s): the evaluation exceeds its limit of %d steps (node "
                         "evaluations and loop iterations)", node->name, node->op_type, MAX_STEPS);
}

/* ---- values ---------------------------------------------------------------------------------------- */

tcc_eval_value_t *tcc_eval_value_tensor(tcc_module_t *m, const tcc_tensor_t *t) {
  tcc_eval_value_t *v = t ? tcc_module_alloc(m, sizeof *v) : NULL;
  if (v) *v = (tcc_eval_value_t){.kind = TCC_TYPE_TENSOR, .tensor = t};
  return v;
}

tcc_eval_value_t *tcc_eval_value_sequence(tcc_module_t *m, int64_t count, const tcc_eval_value_t *const *items) {
  tcc_eval_value_t *v = tcc_module_alloc(m, sizeof *v);
  const tcc_eval_value_t **copy = tcc_module_alloc(m, (size_t)(count + 1) * sizeof *copy);
  if (!v || !copy) return NULL;
  if (count) memcpy(copy, items, (size_t)count * sizeof *copy);
  *v = (tcc_eval_value_t){.kind = TCC_TYPE_SEQUENCE, .count = count, .items = copy};
  return v;
}

tcc_eval_value_t *tcc_eval_value_optional(tcc_module_t *m, const tcc_eval_value_t *elem) {
  tcc_eval_value_t *v = tcc_module_alloc(m, sizeof *v);
  if (v) *v = (tcc_eval_value_t){.kind = TCC_TYPE_OPTIONAL, .elem = elem};
  return v;
}

static tcc_tensor_t *copy_tensor(tcc_module_t *m, const tcc_tensor_t *t) {
  tcc_tensor_t *c = tcc_tensor_create(m, t->dtype, t->rank, t->dims);
  if (c && t->nbytes) memcpy((void *)c->data, t->data, t->nbytes);
  if (c && t->dtype == TCC_DTYPE_STRING) { /* the strings themselves stay with their owner; copy them too */
    tcc_bytes_t *dst = (tcc_bytes_t *)c->data;
    for (int64_t i = 0; i < t->numel; i++)
      if (!(dst[i].data = tcc_arena_memdup(&m->arena, dst[i].data, dst[i].size + 1))) return NULL;
  }
  return c;
}

tcc_eval_value_t *tcc_eval_value_copy(tcc_module_t *m, const tcc_eval_value_t *v) {
  switch (v->kind) {
    case TCC_TYPE_TENSOR: {
      tcc_tensor_t *t = copy_tensor(m, v->tensor);
      return t ? tcc_eval_value_tensor(m, t) : NULL;
    }
    case TCC_TYPE_SEQUENCE: {
      tcc_eval_value_t *s = tcc_eval_value_sequence(m, v->count, v->items);
      for (int64_t i = 0; s && i < v->count; i++)
        if (!(((const tcc_eval_value_t **)s->items)[i] = tcc_eval_value_copy(m, v->items[i]))) return NULL;
      return s;
    }
    case TCC_TYPE_OPTIONAL: {
      const tcc_eval_value_t *elem = v->elem ? tcc_eval_value_copy(m, v->elem) : NULL;
      return v->elem && !elem ? NULL : tcc_eval_value_optional(m, elem);
    }
    default: return NULL;
  }
}

static const char *kind_name(tcc_type_kind_t kind) {
  return kind == TCC_TYPE_TENSOR ? "a tensor" : kind == TCC_TYPE_SEQUENCE ? "a sequence" : kind == TCC_TYPE_OPTIONAL ? "an optional" : "unknown";
}

/* ---- symbols and inputs ---------------------------------------------------------------------------- */

static bool no_symbols(void *ctx, const char *name, int64_t *v) {
  (void)ctx, (void)name, (void)v;
  return false;
}

static bool bound_symbol(void *ctx, const char *name, int64_t *v) {
  const int64_t *bound = tcc_strmap_get(ctx, name);
  if (bound) *v = *bound;
  return bound != NULL;
}

/* The node's attributes for the scratch copy: DIMS attributes (folded shapes over the model's symbols)
 * become constants with the symbols' bound values. */
static tcc_status_t concrete_attrs(evaluator_t *e, const tcc_node_t *node, tcc_node_t *copy) {
  copy->num_attrs = node->num_attrs;
  copy->attrs = tcc_module_alloc(e->scratch, (size_t)(node->num_attrs + 1) * sizeof *copy->attrs);
  if (!copy->attrs) return tcc_status_oom();
  for (int i = 0; i < node->num_attrs; i++) {
    tcc_attr_t a = node->attrs[i];
    if (a.kind == TCC_ATTR_DIMS) {
      const tcc_dim_t **dims = tcc_module_alloc(e->scratch, (size_t)(a.count + 1) * sizeof *dims);
      if (!dims) return tcc_status_oom();
      for (int64_t d = 0; d < a.count; d++) {
        int64_t v;
        if (!tcc_dim_eval(a.dims[d], bound_symbol, &e->symbols, &v)) {
          char text[128];
          tcc_dim_format(a.dims[d], text, sizeof text);
          return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (%s): dimension '%s' of attribute '%s' is not known from "
                                 "the inputs", node->name, node->op_type, text, a.name);
        }
        dims[d] = tcc_dim_const(e->scratch, v);
      }
      a.dims = dims;
    }
    copy->attrs[i] = a;
  }
  return NULL;
}

static const char *type_text(const tcc_type_t *t, char *buf, size_t size) {
  tcc_type_format(t, buf, size);
  return buf;
}

/* Checks a tensor against a declared tensor type; binds the type's symbols on first sight when bind. */
static tcc_status_t check_tensor(evaluator_t *e, const char *name, const tcc_type_t *want, const tcc_tensor_t *t,
                                 bool bind) {
  char buf[256], got[256];
  snprintf(got, sizeof got, "%s[", tcc_dtype_name(t->dtype));
  for (int i = 0; i < t->rank; i++)
    snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "", (long long)t->dims[i]);
  strncat(got, "]", sizeof got - strlen(got) - 1);
  if ((want->dtype && want->dtype != t->dtype) || (want->rank >= 0 && want->rank != t->rank))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s': expected %s, got %s", name,
                           type_text(want, buf, sizeof buf), got);
  for (int i = 0; i < want->rank; i++) {
    const tcc_dim_t *d = want->dims[i];
    if (tcc_dim_is_const(d)) {
      if (tcc_dim_value(d) != t->dims[i])
        return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s': expected %s, got %s (dimension %d)", name,
                               type_text(want, buf, sizeof buf), got, i);
    } else if (bind && tcc_dim_is_symbol(d) && !tcc_dim_is_fresh(d)) {
      tcc_dim_format(d, buf, sizeof buf);
      int64_t *bound = tcc_strmap_get(&e->symbols, buf);
      if (bound && *bound != t->dims[i])
        return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s': dimension %d is %s = %lld elsewhere, got %lld",
                               name, i, buf, (long long)*bound, (long long)t->dims[i]);
      if (!bound) {
        int64_t *box = tcc_module_alloc(e->scratch, sizeof *box);
        char *key = tcc_module_strdup(e->scratch, buf);
        if (!box || !key || !tcc_strmap_put(&e->symbols, key, box)) return tcc_status_oom();
        *box = t->dims[i];
      }
    }
  }
  return NULL;
}

/* Checks a value against a declared type (tensors at the top level bind symbols; tensors inside
 * sequences and optionals are checked for their dtype). *out is the value to use: a tensor or sequence
 * given for an optional type is wrapped into an optional. */
static tcc_status_t check_value(evaluator_t *e, const char *name, const tcc_type_t *want, const tcc_eval_value_t *v,
                                bool top, const tcc_eval_value_t **out) {
  *out = v;
  if (!want || want->kind == TCC_TYPE_UNKNOWN) return NULL;
  if (want->kind == TCC_TYPE_OPTIONAL && v->kind != TCC_TYPE_OPTIONAL) {
    TCC_RETURN_IF_ERROR(check_value(e, name, want->elem, v, false, &v));
    return (*out = tcc_eval_value_optional(e->scratch, v)) ? NULL : tcc_status_oom();
  }
  if (want->kind != v->kind)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s': expected %s, got %s", name, kind_name(want->kind),
                           kind_name(v->kind));
  const tcc_eval_value_t *unused = NULL;
  switch (v->kind) {
    case TCC_TYPE_TENSOR: {
      const tcc_tensor_t *t = v->tensor;
      if (top) return check_tensor(e, name, want, t, true);
      if (want->dtype && want->dtype != t->dtype) /* element shapes vary: only the dtype is checked */
        return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s': an element is %s, expected %s", name,
                               tcc_dtype_name(t->dtype), tcc_dtype_name(want->dtype));
      return NULL;
    }
    case TCC_TYPE_SEQUENCE:
      for (int64_t i = 0; i < v->count; i++)
        TCC_RETURN_IF_ERROR(check_value(e, name, want->elem, v->items[i], false, &unused));
      return NULL;
    default: return v->elem ? check_value(e, name, want->elem, v->elem, false, &unused) : NULL;
  }
}

/* ---- tensor nodes ---------------------------------------------------------------------------------- */

static tcc_status_t set_output(evaluator_t *e, const tcc_node_t *node, int i, const tcc_eval_value_t *v) {
  if (!v) return tcc_status_oom();
  if (i < node->num_outputs && node->outputs[i]) e->values[node->outputs[i]->id] = v;
  return NULL;
}

static tcc_status_t set_tensor_output(evaluator_t *e, const tcc_node_t *node, int i, const tcc_tensor_t *t) {
  if (!t) return tcc_status_oom();
  return set_output(e, node, i, tcc_eval_value_tensor(e->scratch, t));
}

/* The run-time value of input i (NULL when omitted). */
static tcc_status_t input_value(evaluator_t *e, const tcc_node_t *node, int i, const tcc_eval_value_t **out) {
  *out = NULL;
  const tcc_value_t *v = i < node->num_inputs ? node->inputs[i] : NULL;
  if (!v) return NULL;
  if (!(*out = e->values[v->id]))
    return tcc_status_make(TCC_INTERNAL, "node '%s' (%s): input '%s' has no value", node->name, node->op_type, v->name);
  return NULL;
}

/* Input i as a tensor (NULL when omitted). */
static tcc_status_t input_tensor(evaluator_t *e, const tcc_node_t *node, int i, const tcc_tensor_t **out) {
  const tcc_eval_value_t *v = NULL;
  *out = NULL;
  TCC_RETURN_IF_ERROR(input_value(e, node, i, &v));
  if (v && v->kind != TCC_TYPE_TENSOR)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (%s): input %d ('%s') is %s, expected a tensor", node->name,
                           node->op_type, i, node->inputs[i]->name, kind_name(v->kind));
  *out = v ? v->tensor : NULL;
  return NULL;
}

/* Runs a host operator over the copy's constant inputs; it creates the outputs in the scratch module. */
static tcc_status_t eval_host(evaluator_t *e, const tcc_node_t *node, const tcc_node_t *copy, tcc_host_fn_t host) {
  const tcc_tensor_t **in = tcc_module_alloc(e->scratch, (size_t)(copy->num_inputs + 1) * sizeof *in);
  tcc_tensor_t **out = tcc_module_alloc(e->scratch, (size_t)(copy->num_outputs + 1) * sizeof *out);
  if (!in || !out) return tcc_status_oom();
  for (int i = 0; i < copy->num_inputs; i++) in[i] = copy->inputs[i] ? copy->inputs[i]->constant : NULL;
  tcc_status_t st = host(copy, in, e->scratch, out);
  if (st) return tcc_status_annotate(st, "evaluating node '%s' (%s): ", node->name, node->op_type);
  for (int i = 0; i < node->num_outputs; i++) {
    if (!node->outputs[i]) continue;
    if (!out[i]) return tcc_status_make(TCC_INTERNAL, "node '%s' (%s): output %d was not produced", node->name,
                                        node->op_type, i);
    TCC_RETURN_IF_ERROR(set_tensor_output(e, node, i, out[i]));
  }
  return NULL;
}

/* A node over tensors: re-inferred on its actual inputs, then its compute definition (or host operator). */
static tcc_status_t eval_kernel(evaluator_t *e, const tcc_node_t *node) {
  tcc_module_t *s = e->scratch;
  tcc_node_t *copy = tcc_graph_add_node(s->graph, node->op, node->name, node->num_inputs, node->num_outputs);
  if (!copy) return tcc_status_oom();
  copy->domain = node->domain;
  copy->op_type = node->op_type;
  copy->opset = node->opset;
  TCC_RETURN_IF_ERROR(concrete_attrs(e, node, copy));
  for (int i = 0; i < node->num_inputs; i++) {
    const tcc_tensor_t *t = NULL;
    TCC_RETURN_IF_ERROR(input_tensor(e, node, i, &t));
    if (t && !(copy->inputs[i] = tcc_graph_add_constant(s->graph, NULL, t))) return tcc_status_oom();
  }
  for (int i = 0; i < node->num_outputs; i++)
    if (node->outputs[i]) tcc_node_set_output(copy, i, tcc_graph_add_value(s->graph, NULL));
  TCC_RETURN_IF_ERROR(tcc_module_check(s));
  TCC_RETURN_IF_ERROR(tcc_node_infer(copy));
  tcc_kernel_t *k = NULL;
  tcc_status_t built = tcc_compute_build(copy, &k);
  tcc_host_fn_t host = tcc_host_op_find(node->op);
  if (built && host && tcc_status_code(built) == TCC_UNSUPPORTED) {
    tcc_status_free(built);
    return eval_host(e, node, copy, host);
  }
  TCC_RETURN_IF_ERROR(built);
  void **buffers = tcc_module_alloc(s, (size_t)(k->num_params + 1) * sizeof *buffers);
  if (!buffers) return tcc_status_oom();
  int p = 0;
  for (int i = 0; i < copy->num_inputs; i++)
    if (copy->inputs[i]) buffers[p++] = (void *)copy->inputs[i]->constant->data;
  for (int i = 0; i < copy->num_outputs; i++) {
    const tcc_value_t *out = copy->outputs[i];
    if (!out) continue;
    int64_t dims[MAX_RANK];
    if (out->type.kind != TCC_TYPE_TENSOR || out->type.rank < 0 || out->type.rank > MAX_RANK)
      return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (%s): output %d is not a tensor of known rank", node->name,
                             node->op_type, i);
    for (int d = 0; d < out->type.rank; d++) {
      if (!tcc_dim_is_const(out->type.dims[d]))
        return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (%s): the size of output %d depends on data the "
                               "evaluator cannot see yet", node->name, node->op_type, i);
      dims[d] = tcc_dim_value(out->type.dims[d]);
    }
    tcc_tensor_t *t = tcc_tensor_create(s, out->type.dtype, out->type.rank, dims);
    if (!t) return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (%s): output %d is too large", node->name, node->op_type, i);
    buffers[p++] = (void *)t->data;
    TCC_RETURN_IF_ERROR(set_tensor_output(e, node, i, t));
  }
  tcc_status_t st = tcc_kernel_eval(k, buffers, no_symbols, NULL);
  return st ? tcc_status_annotate(st, "evaluating node '%s' (%s): ", node->name, node->op_type) : NULL;
}

/* ---- tensor pieces: slicing and concatenation along an axis ----------------------------------------- */

static tcc_status_t element_size(const tcc_node_t *node, tcc_dtype_t dt, size_t *size) {
  int bits = tcc_dtype_bits(dt);
  *size = dt == TCC_DTYPE_STRING ? sizeof(tcc_bytes_t) : bits > 0 && bits % 8 == 0 ? (size_t)bits / 8 : 0;
  if (!*size)
    return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (%s): slicing and stacking %s tensors is not supported",
                           node->name, node->op_type, tcc_dtype_name(dt));
  return NULL;
}

static int64_t product(const int64_t *dims, int from, int to) {
  int64_t p = 1;
  for (int i = from; i < to; i++) p *= dims[i];
  return p;
}

/* x[..., start : start + len, ...] along axis; the axis is dropped when !keep (len must be 1). */
static tcc_status_t slice_axis(evaluator_t *e, const tcc_node_t *node, const tcc_tensor_t *x, int axis, int64_t start,
                               int64_t len, bool keep, const tcc_tensor_t **out) {
  size_t es;
  TCC_RETURN_IF_ERROR(element_size(node, x->dtype, &es));
  int64_t dims[MAX_RANK];
  int r = 0;
  for (int i = 0; i < x->rank; i++)
    if (i != axis || keep) dims[r++] = i == axis ? len : x->dims[i];
  tcc_tensor_t *t = tcc_tensor_create(e->scratch, x->dtype, r, dims);
  if (!t) return tcc_status_oom();
  int64_t outer = product(x->dims, 0, axis), n = x->dims[axis];
  size_t inner = (size_t)product(x->dims, axis + 1, x->rank) * es, chunk = (size_t)len * inner;
  for (int64_t o = 0; o < outer && chunk; o++)
    memcpy((char *)t->data + (size_t)o * chunk, (const char *)x->data + ((size_t)(o * n + start)) * inner, chunk);
  *out = t;
  return NULL;
}

/* Concatenates items along axis (an axis of the output); with new_axis, stacks them on a new axis there
 * (the items then have equal shapes). */
static tcc_status_t concat_axis(evaluator_t *e, const tcc_node_t *node, const tcc_tensor_t *const *items, int64_t n,
                                int axis, bool new_axis, const tcc_tensor_t **out) {
  if (n == 0)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (%s): nothing to concatenate", node->name, node->op_type);
  const tcc_tensor_t *x0 = items[0];
  size_t es;
  TCC_RETURN_IF_ERROR(element_size(node, x0->dtype, &es));
  int r = x0->rank + (new_axis ? 1 : 0);
  if (r > MAX_RANK || axis < 0 || axis >= r)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (%s): axis %d is out of range", node->name, node->op_type, axis);
  int64_t dims[MAX_RANK], total = 0;
  for (int64_t k = 0; k < n; k++) {
    const tcc_tensor_t *x = items[k];
    bool same = x->dtype == x0->dtype && x->rank == x0->rank;
    for (int i = 0; same && i < x->rank; i++) same = x->dims[i] == x0->dims[i] || (!new_axis && i == axis);
    if (!same)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (%s): tensor %lld has a %s of %s[rank %d] that does not "
                             "%s with tensor 0 (%s[rank %d])", node->name, node->op_type, (long long)k,
                             x->dtype == x0->dtype ? "shape" : "dtype", tcc_dtype_name(x->dtype), x->rank,
                             new_axis ? "stack" : "concatenate", tcc_dtype_name(x0->dtype), x0->rank);
    total += new_axis ? 1 : x->dims[axis];
  }
  for (int i = 0, j = 0; i < r; i++) {
    if (i != axis) dims[i] = x0->dims[j++];
    else dims[i] = total, j += !new_axis;
  }
  tcc_tensor_t *t = tcc_tensor_create(e->scratch, x0->dtype, r, dims);
  if (!t) return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (%s): the result is too large", node->name, node->op_type);
  int64_t outer = product(dims, 0, axis);
  size_t inner = (size_t)product(dims, axis + 1, r) * es;
  char *dst = (char *)t->data;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t k = 0; k < n; k++) {
      size_t chunk = (size_t)(new_axis ? 1 : items[k]->dims[axis]) * inner;
      if (chunk) memcpy(dst, (const char *)items[k]->data + (size_t)o * chunk, chunk);
      dst += chunk;
    }
  *out = t;
  return NULL;
}

/* An empty stack of slices typed like `slice` (the declared type of a body output): [0, dims...]. */
static tcc_status_t empty_stack(evaluator_t *e, const tcc_node_t *node, const tcc_type_t *slice, int64_t axis,
                                const tcc_tensor_t **out) {
  int64_t dims[MAX_RANK];
  int r = 1;
  dims[0] = 0;
  if (!slice || slice->kind != TCC_TYPE_TENSOR || !slice->dtype)
    return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (%s): no iterations ran and the scan output's element type "
                           "is unknown", node->name, node->op_type);
  bool known = slice->rank >= 0 && slice->rank < MAX_RANK;
  for (int i = 0; known && i < slice->rank; i++) known = tcc_dim_is_const(slice->dims[i]);
  if (known) {
    r = slice->rank + 1;
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r) axis = 0;
    for (int i = 0, j = 0; i < r; i++) dims[i] = i == axis ? 0 : tcc_dim_value(slice->dims[j++]);
  }
  return (*out = tcc_tensor_create(e->scratch, slice->dtype, r, dims)) ? NULL : tcc_status_oom();
}

/* A growable list of values in the scratch arena. */
typedef struct {
  const tcc_eval_value_t **items;
  int64_t count, cap;
} value_list_t;

static bool list_push(tcc_module_t *m, value_list_t *l, const tcc_eval_value_t *v) {
  if (l->count == l->cap) {
    int64_t cap = l->cap ? 2 * l->cap : 8;
    const tcc_eval_value_t **items = tcc_module_alloc(m, (size_t)cap * sizeof *items);
    if (!items) return false;
    if (l->count) memcpy(items, l->items, (size_t)l->count * sizeof *items);
    l->items = items, l->cap = cap;
  }
  l->items[l->count++] = v;
  return true;
}

/* Stacks the tensors of l (in reverse when reverse) on a new axis (of the output's rank), or an empty
 * stack typed like `slice` when l is empty. */
static tcc_status_t stack_list(evaluator_t *e, const tcc_node_t *node, const value_list_t *l, int64_t axis,
                               bool reverse, const tcc_type_t *slice, const tcc_tensor_t **out) {
  if (l->count == 0) return empty_stack(e, node, slice, axis, out);
  const tcc_tensor_t **t = tcc_module_alloc(e->scratch, (size_t)l->count * sizeof *t);
  if (!t) return tcc_status_oom();
  for (int64_t k = 0; k < l->count; k++) {
    const tcc_eval_value_t *v = l->items[reverse ? l->count - 1 - k : k];
    if (v->kind != TCC_TYPE_TENSOR)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (%s): a scan output is %s, expected a tensor", node->name,
                             node->op_type, kind_name(v->kind));
    t[k] = v->tensor;
  }
  int r = t[0]->rank + 1;
  if (axis < -r || axis >= r)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (%s): scan output axis %lld is out of range for rank %d",
                           node->name, node->op_type, (long long)axis, r);
  return concat_axis(e, node, t, l->count, (int)(axis < 0 ? axis + r : axis), true, out);
}

/* ---- control flow ---------------------------------------------------------------------------------- */

static tcc_status_t eval_graph(evaluator_t *e, const tcc_graph_t *g);

static tcc_status_t graph_attr(const tcc_node_t *node, const char *name, const tcc_graph_t **g) {
  const tcc_attr_t *a = tcc_node_attr(node, name);
  if (!a || a->kind != TCC_ATTR_GRAPH || !a->g)
    return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (%s): missing the '%s' graph attribute", node->name,
                           node->op_type, name);
  *g = a->g;
  return NULL;
}

static tcc_status_t check_arity(const tcc_node_t *node, const tcc_graph_t *body, size_t inputs, size_t outputs) {
  if (body->num_inputs != inputs || body->num_outputs != outputs)
    return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (%s): subgraph '%s' has %zu inputs and %zu outputs, expected "
                           "%zu and %zu", node->name, node->op_type, body->name ? body->name : "", body->num_inputs,
                           body->num_outputs, inputs, outputs);
  return NULL;
}

/* Runs subgraph g with its inputs bound to args; results[i] receives output i. */
static tcc_status_t call_graph(evaluator_t *e, const tcc_node_t *node, const tcc_graph_t *g,
                               const tcc_eval_value_t *const *args, const tcc_eval_value_t **results, int64_t iteration) {
  for (size_t i = 0; i < g->num_inputs; i++) e->values[g->inputs[i]->id] = args[i];
  tcc_status_t st = eval_graph(e, g);
  for (size_t i = 0; i < g->num_outputs && !st; i++)
    if (!(results[i] = e->values[g->outputs[i]->id]))
      st = tcc_status_make(TCC_INTERNAL, "output '%s' was not computed", g->outputs[i]->name);
  if (st && iteration >= 0)
    return tcc_status_annotate(st, "node '%s' (%s), iteration %lld: ", node->name, node->op_type, (long long)iteration);
  return st ? tcc_status_annotate(st, "node '%s' (%s): ", node->name, node->op_type) : NULL;
}

/* The single element of a tensor input as an integer (bool, integer types). */
static tcc_status_t scalar_int(const tcc_node_t *node, const char *what, const tcc_eval_value_t *v, int64_t *out) {
  if (v->kind != TCC_TYPE_TENSOR || v->tensor->numel != 1)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (%s): %s must be a tensor of one element", node->name,
                           node->op_type, what);
  *out = tcc_tensor_get_int(v->tensor, 0);
  return NULL;
}

static const tcc_eval_value_t **new_values(evaluator_t *e, size_t n) {
  return tcc_module_alloc(e->scratch, (n + 1) * sizeof(const tcc_eval_value_t *));
}

static tcc_status_t eval_if(evaluator_t *e, const tcc_node_t *node) {
  const tcc_eval_value_t *cond = NULL;
  const tcc_graph_t *branch = NULL;
  int64_t c = 0;
  TCC_RETURN_IF_ERROR(input_value(e, node, 0, &cond));
  if (!cond) return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (If): the condition is missing", node->name);
  TCC_RETURN_IF_ERROR(scalar_int(node, "the condition", cond, &c));
  TCC_RETURN_IF_ERROR(graph_attr(node, c ? "then_branch" : "else_branch", &branch));
  TCC_RETURN_IF_ERROR(check_arity(node, branch, 0, (size_t)node->num_outputs));
  const tcc_eval_value_t **results = new_values(e, branch->num_outputs);
  if (!results) return tcc_status_oom();
  TCC_RETURN_IF_ERROR(call_graph(e, node, branch, NULL, results, -1));
  for (int i = 0; i < node->num_outputs; i++) TCC_RETURN_IF_ERROR(set_output(e, node, i, results[i]));
  return NULL;
}

static const tcc_eval_value_t *bool_scalar(evaluator_t *e, bool b) {
  tcc_tensor_t *t = tcc_tensor_create(e->scratch, TCC_DTYPE_BOOL, 0, NULL);
  if (t) *(uint8_t *)t->data = b;
  return tcc_eval_value_tensor(e->scratch, t);
}

/* Loop: M (optional max trip count), cond (optional), N loop-carried values; outputs the N final values
 * and K scan outputs stacked over the iterations. */
static tcc_status_t eval_loop(evaluator_t *e, const tcc_node_t *node) {
  const tcc_graph_t *body = NULL;
  TCC_RETURN_IF_ERROR(graph_attr(node, "body", &body));
  int n = node->num_inputs - 2, k = node->num_outputs - n;
  if (n < 0 || k < 0)
    return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (Loop): %d inputs and %d outputs do not fit M, cond and "
                           "loop-carried values", node->name, node->num_inputs, node->num_outputs);
  TCC_RETURN_IF_ERROR(check_arity(node, body, (size_t)n + 2, (size_t)(1 + n + k)));
  const tcc_eval_value_t *m_value = NULL, *cond = NULL;
  int64_t max_trips = INT64_MAX, go = 1;
  TCC_RETURN_IF_ERROR(input_value(e, node, 0, &m_value));
  TCC_RETURN_IF_ERROR(input_value(e, node, 1, &cond));
  if (m_value) TCC_RETURN_IF_ERROR(scalar_int(node, "the trip count M", m_value, &max_trips));
  if (cond) TCC_RETURN_IF_ERROR(scalar_int(node, "the condition", cond, &go));
  if (!cond && !(cond = bool_scalar(e, true))) return tcc_status_oom();
  const tcc_eval_value_t **args = new_values(e, (size_t)n + 2), **results = new_values(e, (size_t)(1 + n + k));
  value_list_t *scans = tcc_module_alloc(e->scratch, (size_t)(k + 1) * sizeof *scans);
  if (!args || !results || !scans) return tcc_status_oom();
  for (int i = 0; i < n; i++) {
    TCC_RETURN_IF_ERROR(input_value(e, node, 2 + i, &args[2 + i]));
    if (!args[2 + i])
      return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (Loop): loop-carried input %d is missing", node->name, i);
  }
  bool cond_given = node->inputs[1] != NULL;
  for (int64_t it = 0; it < max_trips && go; it++) {
    TCC_RETURN_IF_ERROR(spend_step(e, node));
    tcc_tensor_t *iter = tcc_tensor_create_i64(e->scratch, 0, NULL, &it);
    if (!iter || !(args[0] = tcc_eval_value_tensor(e->scratch, iter))) return tcc_status_oom();
    args[1] = cond;
    TCC_RETURN_IF_ERROR(call_graph(e, node, body, args, results, it));
    if (cond_given) { /* without a cond input the body's condition is ignored (ONNX's for-loop form) */
      TCC_RETURN_IF_ERROR(scalar_int(node, "the body's condition output", results[0], &go));
      cond = results[0];
    }
    for (int i = 0; i < n; i++) args[2 + i] = results[1 + i];
    for (int j = 0; j < k; j++)
      if (!list_push(e->scratch, &scans[j], results[1 + n + j])) return tcc_status_oom();
  }
  for (int i = 0; i < n; i++) TCC_RETURN_IF_ERROR(set_output(e, node, i, args[2 + i]));
  for (int j = 0; j < k; j++) {
    const tcc_tensor_t *t = NULL;
    TCC_RETURN_IF_ERROR(stack_list(e, node, &scans[j], 0, false, &body->outputs[1 + n + j]->type, &t));
    TCC_RETURN_IF_ERROR(set_tensor_output(e, node, n + j, t));
  }
  return NULL;
}

/* Entry i of an optional INTS attribute (0 past its end or when absent). */
static int64_t attr_entry(const tcc_node_t *node, const char *name, int64_t i) {
  const int64_t *v;
  int64_t count;
  return tcc_node_attr_ints(node, name, &v, &count) && i < count ? v[i] : 0;
}

/* t ([len, ...]) padded with zeros (empty strings) to [steps, ...]. */
static tcc_status_t pad_steps(evaluator_t *e, const tcc_node_t *node, const tcc_tensor_t *t, int64_t steps,
                              const tcc_tensor_t **out) {
  size_t es;
  TCC_RETURN_IF_ERROR(element_size(node, t->dtype, &es));
  if (t->rank < 1 || t->rank > MAX_RANK || t->dims[0] > steps)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (Scan): a scan output does not stack to %lld steps",
                           node->name, (long long)steps);
  int64_t dims[MAX_RANK];
  memcpy(dims, t->dims, (size_t)t->rank * sizeof *dims);
  dims[0] = steps;
  tcc_tensor_t *p = tcc_tensor_create(e->scratch, t->dtype, t->rank, dims);
  if (!p) return tcc_status_oom();
  if (t->numel) memcpy((void *)p->data, t->data, (size_t)t->numel * es);
  *out = p;
  return NULL;
}

/* Scan-8, the batched form: inputs sequence_lens (optional int64 [B]), N states [B, ...] and M scan
 * inputs [B, T, ...] (scan axis 1, reversed where `directions` says 1). Each batch entry b runs its own
 * scan over its first sequence_lens[b] steps (all T when absent); outputs are the final states [B, ...]
 * and the scan outputs [B, T, ...], zero past the end of a shorter sequence (as onnxruntime fills them). */
static tcc_status_t eval_scan8(evaluator_t *e, const tcc_node_t *node) {
  const tcc_graph_t *body = NULL;
  TCC_RETURN_IF_ERROR(graph_attr(node, "body", &body));
  int64_t ns = tcc_node_attr_int(node, "num_scan_inputs", -1);
  if (ns < 1 || ns > node->num_inputs - 1)
    return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (Scan): num_scan_inputs %lld is out of range for %d inputs",
                           node->name, (long long)ns, node->num_inputs);
  int n = node->num_inputs - 1 - (int)ns, k = node->num_outputs - n;
  if (k < 0)
    return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (Scan): %d state values but %d outputs", node->name, n,
                           node->num_outputs);
  TCC_RETURN_IF_ERROR(check_arity(node, body, (size_t)(n + ns), (size_t)node->num_outputs));
  const tcc_eval_value_t **args = new_values(e, (size_t)(n + ns));
  const tcc_eval_value_t **results = new_values(e, (size_t)node->num_outputs);
  const tcc_tensor_t **ins = tcc_module_alloc(e->scratch, (size_t)(n + ns + 1) * sizeof *ins);
  const tcc_tensor_t **rows = tcc_module_alloc(e->scratch, (size_t)(ns + 1) * sizeof *rows);
  value_list_t *per_batch = tcc_module_alloc(e->scratch, (size_t)(n + k + 1) * sizeof *per_batch);
  value_list_t *steps = tcc_module_alloc(e->scratch, (size_t)(k + 1) * sizeof *steps);
  if (!args || !results || !ins || !rows || !per_batch || !steps) return tcc_status_oom();
  const tcc_tensor_t *lens = NULL;
  TCC_RETURN_IF_ERROR(input_tensor(e, node, 0, &lens));
  int64_t batch = -1, len = -1;
  for (int i = 0; i < n + ns; i++) {
    TCC_RETURN_IF_ERROR(input_tensor(e, node, 1 + i, &ins[i]));
    const tcc_tensor_t *t = ins[i];
    int need = i < n ? 1 : 2;
    if (!t || t->rank < need)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (Scan): %s %d must be a tensor with %s", node->name,
                             i < n ? "state" : "scan input", i < n ? i : i - n,
                             i < n ? "a batch axis" : "batch and sequence axes");
    if ((batch >= 0 && t->dims[0] != batch) || (i >= n && len >= 0 && t->dims[1] != len))
      return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (Scan): input %d's batch or sequence size differs from "
                             "the other inputs'", node->name, 1 + i);
    batch = t->dims[0];
    if (i >= n) len = t->dims[1];
  }
  if (batch == 0 && k > 0)
    return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (Scan): scan outputs of an empty batch are not supported",
                           node->name);
  if (lens && (lens->dtype != TCC_DTYPE_I64 || lens->numel != batch))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (Scan): sequence_lens must be int64 [%lld]", node->name,
                           (long long)batch);
  for (int64_t b = 0; b < batch; b++) {
    int64_t steps_b = lens ? tcc_tensor_get_int(lens, b) : len;
    if (steps_b < 0 || steps_b > len)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (Scan): sequence_lens[%lld] = %lld is outside [0, %lld]",
                             node->name, (long long)b, (long long)steps_b, (long long)len);
    for (int i = 0; i < n + ns; i++) {
      const tcc_tensor_t *row = NULL;
      TCC_RETURN_IF_ERROR(slice_axis(e, node, ins[i], 0, b, 1, false, &row));
      if (i >= n) rows[i - n] = row;
      else if (!(args[i] = tcc_eval_value_tensor(e->scratch, row))) return tcc_status_oom();
    }
    memset(steps, 0, (size_t)(k + 1) * sizeof *steps);
    for (int64_t t = 0; t < steps_b; t++) {
      for (int j = 0; j < ns; j++) {
        const tcc_tensor_t *slice = NULL;
        int64_t at = attr_entry(node, "directions", j) ? steps_b - 1 - t : t;
        TCC_RETURN_IF_ERROR(slice_axis(e, node, rows[j], 0, at, 1, false, &slice));
        if (!(args[n + j] = tcc_eval_value_tensor(e->scratch, slice))) return tcc_status_oom();
      }
      TCC_RETURN_IF_ERROR(call_graph(e, node, body, args, results, t));
      for (int i = 0; i < n; i++) args[i] = results[i];
      for (int j = 0; j < k; j++)
        if (!list_push(e->scratch, &steps[j], results[n + j])) return tcc_status_oom();
    }
    for (int i = 0; i < n; i++)
      if (!list_push(e->scratch, &per_batch[i], args[i])) return tcc_status_oom();
    for (int j = 0; j < k; j++) {
      const tcc_tensor_t *t = NULL;
      TCC_RETURN_IF_ERROR(stack_list(e, node, &steps[j], 0, false, &body->outputs[n + j]->type, &t));
      if (t->rank < 1 || t->dims[0] != len) TCC_RETURN_IF_ERROR(pad_steps(e, node, t, len, &t));
      const tcc_eval_value_t *v = tcc_eval_value_tensor(e->scratch, t);
      if (!v || !list_push(e->scratch, &per_batch[n + j], v)) return tcc_status_oom();
    }
  }
  for (int i = 0; i < n + k; i++) {
    const tcc_tensor_t *t = NULL;
    TCC_RETURN_IF_ERROR(stack_list(e, node, &per_batch[i], 0, false, &body->outputs[i]->type, &t));
    TCC_RETURN_IF_ERROR(set_tensor_output(e, node, i, t));
  }
  return NULL;
}

/* Scan (opset 9+): N state values, then num_scan_inputs tensors sliced along their scan axes. */
static tcc_status_t eval_scan(evaluator_t *e, const tcc_node_t *node) {
  if (node->opset > 0 && node->opset < 9) return eval_scan8(e, node);
  const tcc_graph_t *body = NULL;
  TCC_RETURN_IF_ERROR(graph_attr(node, "body", &body));
  int64_t ns = tcc_node_attr_int(node, "num_scan_inputs", -1);
  if (ns < 1 || ns > node->num_inputs)
    return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (Scan): num_scan_inputs %lld is out of range for %d inputs",
                           node->name, (long long)ns, node->num_inputs);
  int n = node->num_inputs - (int)ns, k = node->num_outputs - n;
  if (k < 0)
    return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (Scan): %d state values but %d outputs", node->name, n,
                           node->num_outputs);
  TCC_RETURN_IF_ERROR(check_arity(node, body, (size_t)node->num_inputs, (size_t)node->num_outputs));
  const tcc_eval_value_t **args = new_values(e, (size_t)node->num_inputs);
  const tcc_eval_value_t **results = new_values(e, (size_t)node->num_outputs);
  const tcc_tensor_t **xs = tcc_module_alloc(e->scratch, (size_t)(ns + 1) * sizeof *xs);
  int *axes = tcc_module_alloc(e->scratch, (size_t)(ns + 1) * sizeof *axes);
  value_list_t *scans = tcc_module_alloc(e->scratch, (size_t)(k + 1) * sizeof *scans);
  if (!args || !results || !xs || !axes || !scans) return tcc_status_oom();
  for (int i = 0; i < n; i++) {
    TCC_RETURN_IF_ERROR(input_value(e, node, i, &args[i]));
    if (!args[i]) return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (Scan): state input %d is missing", node->name, i);
  }
  int64_t len = -1;
  for (int j = 0; j < ns; j++) {
    TCC_RETURN_IF_ERROR(input_tensor(e, node, n + j, &xs[j]));
    if (!xs[j]) return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (Scan): scan input %d is missing", node->name, j);
    int64_t axis = attr_entry(node, "scan_input_axes", j), r = xs[j]->rank;
    if (axis < -r || axis >= r)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (Scan): scan input axis %lld is out of range for rank "
                             "%lld", node->name, (long long)axis, (long long)r);
    axes[j] = (int)(axis < 0 ? axis + r : axis);
    int64_t d = xs[j]->dims[axes[j]];
    if (len >= 0 && d != len)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (Scan): scan input %d has %lld iterations, scan input 0 "
                             "has %lld", node->name, j, (long long)d, (long long)len);
    len = d;
  }
  for (int64_t t = 0; t < len; t++) {
    for (int j = 0; j < ns; j++) {
      int64_t at = attr_entry(node, "scan_input_directions", j) ? len - 1 - t : t;
      const tcc_tensor_t *slice = NULL;
      TCC_RETURN_IF_ERROR(slice_axis(e, node, xs[j], axes[j], at, 1, false, &slice));
      if (!(args[n + j] = tcc_eval_value_tensor(e->scratch, slice))) return tcc_status_oom();
    }
    TCC_RETURN_IF_ERROR(call_graph(e, node, body, args, results, t));
    for (int i = 0; i < n; i++) args[i] = results[i];
    for (int j = 0; j < k; j++)
      if (!list_push(e->scratch, &scans[j], results[n + j])) return tcc_status_oom();
  }
  for (int i = 0; i < n; i++) TCC_RETURN_IF_ERROR(set_output(e, node, i, args[i]));
  for (int j = 0; j < k; j++) {
    const tcc_tensor_t *t = NULL;
    TCC_RETURN_IF_ERROR(stack_list(e, node, &scans[j], attr_entry(node, "scan_output_axes", j),
                                   attr_entry(node, "scan_output_directions", j) != 0, &body->outputs[n + j]->type, &t));
    TCC_RETURN_IF_ERROR(set_tensor_output(e, node, n + j, t));
  }
  return NULL;
}

/* SequenceMap: the body over the items of input 0 (and of the other sequence inputs, in step; tensor
 * inputs are passed whole); output j is the sequence of the body's output j. */
static tcc_status_t eval_sequence_map(evaluator_t *e, const tcc_node_t *node) {
  const tcc_graph_t *body = NULL;
  TCC_RETURN_IF_ERROR(graph_attr(node, "body", &body));
  TCC_RETURN_IF_ERROR(check_arity(node, body, (size_t)node->num_inputs, (size_t)node->num_outputs));
  const tcc_eval_value_t **in = new_values(e, (size_t)node->num_inputs), **args = new_values(e, (size_t)node->num_inputs);
  const tcc_eval_value_t **results = new_values(e, (size_t)node->num_outputs);
  value_list_t *outs = tcc_module_alloc(e->scratch, (size_t)(node->num_outputs + 1) * sizeof *outs);
  if (!in || !args || !results || !outs) return tcc_status_oom();
  int64_t count = 0;
  for (int i = 0; i < node->num_inputs; i++) {
    TCC_RETURN_IF_ERROR(input_value(e, node, i, &in[i]));
    if (!in[i]) return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (SequenceMap): input %d is missing", node->name, i);
    if (i == 0 && in[0]->kind != TCC_TYPE_SEQUENCE)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (SequenceMap): input 0 is %s, expected a sequence",
                             node->name, kind_name(in[0]->kind));
    if (i == 0) count = in[0]->count;
    else if (in[i]->kind == TCC_TYPE_SEQUENCE && in[i]->count != count)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (SequenceMap): input %d has %lld items, input 0 has %lld",
                             node->name, i, (long long)in[i]->count, (long long)count);
  }
  for (int64_t t = 0; t < count; t++) {
    for (int i = 0; i < node->num_inputs; i++) args[i] = in[i]->kind == TCC_TYPE_SEQUENCE ? in[i]->items[t] : in[i];
    TCC_RETURN_IF_ERROR(call_graph(e, node, body, args, results, t));
    for (int j = 0; j < node->num_outputs; j++)
      if (!list_push(e->scratch, &outs[j], results[j])) return tcc_status_oom();
  }
  for (int j = 0; j < node->num_outputs; j++)
    TCC_RETURN_IF_ERROR(set_output(e, node, j, tcc_eval_value_sequence(e->scratch, outs[j].count, outs[j].items)));
  return NULL;
}

/* A fused node (passes/fusion.c): its body evaluated on the node's inputs. */
static tcc_status_t eval_fused(evaluator_t *e, const tcc_node_t *node) {
  const tcc_graph_t *body = NULL;
  TCC_RETURN_IF_ERROR(graph_attr(node, "body", &body));
  TCC_RETURN_IF_ERROR(check_arity(node, body, (size_t)node->num_inputs, (size_t)node->num_outputs));
  const tcc_eval_value_t **args = new_values(e, (size_t)node->num_inputs);
  const tcc_eval_value_t **results = new_values(e, (size_t)node->num_outputs);
  if (!args || !results) return tcc_status_oom();
  for (int i = 0; i < node->num_inputs; i++) {
    TCC_RETURN_IF_ERROR(input_value(e, node, i, &args[i]));
    if (!args[i]) return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (fused): input %d is missing", node->name, i);
  }
  TCC_RETURN_IF_ERROR(call_graph(e, node, body, args, results, -1));
  for (int i = 0; i < node->num_outputs; i++) TCC_RETURN_IF_ERROR(set_output(e, node, i, results[i]));
  return NULL;
}

/* ---- sequences and optionals ----------------------------------------------------------------------- */

static tcc_status_t input_sequence(evaluator_t *e, const tcc_node_t *node, int i, const tcc_eval_value_t **out) {
  TCC_RETURN_IF_ERROR(input_value(e, node, i, out));
  if (!*out || (*out)->kind != TCC_TYPE_SEQUENCE)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (%s): input %d is %s, expected a sequence", node->name,
                           node->op_type, i, *out ? kind_name((*out)->kind) : "missing");
  return NULL;
}

/* An optional position input (a scalar) normalized against count; valid positions are
 * [-count, count - 1], or [-count, count] when at_end_ok. *pos = fallback when the input is omitted. */
static tcc_status_t read_position(evaluator_t *e, const tcc_node_t *node, int i, int64_t count, bool at_end_ok,
                                  int64_t fallback, int64_t *pos) {
  const tcc_eval_value_t *v = NULL;
  *pos = fallback;
  TCC_RETURN_IF_ERROR(input_value(e, node, i, &v));
  if (!v) return NULL;
  int64_t p = 0;
  TCC_RETURN_IF_ERROR(scalar_int(node, "the position", v, &p));
  if (p < -count || p > count || (p == count && !at_end_ok))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (%s): position %lld is out of range for a sequence of "
                           "%lld", node->name, node->op_type, (long long)p, (long long)count);
  *pos = p < 0 ? p + count : p;
  return NULL;
}

/* A tensor to put into a sequence of items: its dtype must match theirs. */
static tcc_status_t check_item(const tcc_node_t *node, const tcc_eval_value_t *seq, const tcc_eval_value_t *x) {
  if (!x || x->kind != TCC_TYPE_TENSOR)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (%s): the item is %s, expected a tensor", node->name,
                           node->op_type, x ? kind_name(x->kind) : "missing");
  if (seq && seq->count && seq->items[0]->kind == TCC_TYPE_TENSOR && seq->items[0]->tensor->dtype != x->tensor->dtype)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (%s): a %s tensor does not fit a sequence of %s",
                           node->name, node->op_type, tcc_dtype_name(x->tensor->dtype),
                           tcc_dtype_name(seq->items[0]->tensor->dtype));
  return NULL;
}

static tcc_status_t eval_sequence_op(evaluator_t *e, const tcc_node_t *node) {
  tcc_module_t *s = e->scratch;
  const tcc_eval_value_t *seq = NULL, *x = NULL;
  int64_t pos = 0;
  switch (node->op) {
    case TCC_OP_SEQUENCE_EMPTY: return set_output(e, node, 0, tcc_eval_value_sequence(s, 0, NULL));
    case TCC_OP_SEQUENCE_CONSTRUCT: {
      const tcc_eval_value_t **items = new_values(e, (size_t)node->num_inputs);
      if (!items) return tcc_status_oom();
      tcc_eval_value_t partial = {.kind = TCC_TYPE_SEQUENCE, .items = items};
      for (int i = 0; i < node->num_inputs; i++) {
        TCC_RETURN_IF_ERROR(input_value(e, node, i, &items[i]));
        TCC_RETURN_IF_ERROR(check_item(node, &partial, items[i]));
        partial.count = i + 1;
      }
      return set_output(e, node, 0, tcc_eval_value_sequence(s, node->num_inputs, items));
    }
    case TCC_OP_SEQUENCE_INSERT: {
      TCC_RETURN_IF_ERROR(input_sequence(e, node, 0, &seq));
      TCC_RETURN_IF_ERROR(input_value(e, node, 1, &x));
      TCC_RETURN_IF_ERROR(check_item(node, seq, x));
      TCC_RETURN_IF_ERROR(read_position(e, node, 2, seq->count, true, seq->count, &pos));
      const tcc_eval_value_t **items = new_values(e, (size_t)seq->count + 1);
      if (!items) return tcc_status_oom();
      for (int64_t i = 0, j = 0; i <= seq->count; i++) items[i] = i == pos ? x : seq->items[j++];
      return set_output(e, node, 0, tcc_eval_value_sequence(s, seq->count + 1, items));
    }
    case TCC_OP_SEQUENCE_ERASE: {
      TCC_RETURN_IF_ERROR(input_sequence(e, node, 0, &seq));
      if (seq->count == 0)
        return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (SequenceErase): the sequence is empty", node->name);
      TCC_RETURN_IF_ERROR(read_position(e, node, 1, seq->count, false, seq->count - 1, &pos));
      const tcc_eval_value_t **items = new_values(e, (size_t)seq->count);
      if (!items) return tcc_status_oom();
      for (int64_t i = 0, j = 0; i < seq->count; i++)
        if (i != pos) items[j++] = seq->items[i];
      return set_output(e, node, 0, tcc_eval_value_sequence(s, seq->count - 1, items));
    }
    case TCC_OP_SEQUENCE_AT:
      TCC_RETURN_IF_ERROR(input_sequence(e, node, 0, &seq));
      if (!node->inputs[1] || seq->count == 0)
        return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (SequenceAt): %s", node->name,
                               seq->count ? "the position is missing" : "the sequence is empty");
      TCC_RETURN_IF_ERROR(read_position(e, node, 1, seq->count, false, 0, &pos));
      return set_output(e, node, 0, seq->items[pos]);
    case TCC_OP_SEQUENCE_LENGTH: {
      TCC_RETURN_IF_ERROR(input_sequence(e, node, 0, &seq));
      return set_tensor_output(e, node, 0, tcc_tensor_create_i64(s, 0, NULL, &seq->count));
    }
    default: return tcc_status_make(TCC_INTERNAL, "node '%s': not a sequence op", node->name);
  }
}

static tcc_status_t eval_concat_from_sequence(evaluator_t *e, const tcc_node_t *node) {
  const tcc_eval_value_t *seq = NULL;
  TCC_RETURN_IF_ERROR(input_sequence(e, node, 0, &seq));
  const tcc_attr_t *axis_attr = tcc_node_attr(node, "axis");
  if (!axis_attr || axis_attr->kind != TCC_ATTR_INT)
    return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (ConcatFromSequence): missing the 'axis' attribute", node->name);
  bool new_axis = tcc_node_attr_int(node, "new_axis", 0) != 0;
  if (seq->count == 0)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (ConcatFromSequence): the sequence is empty", node->name);
  const tcc_tensor_t **items = tcc_module_alloc(e->scratch, (size_t)seq->count * sizeof *items);
  if (!items) return tcc_status_oom();
  for (int64_t i = 0; i < seq->count; i++) {
    TCC_RETURN_IF_ERROR(check_item(node, seq, seq->items[i]));
    items[i] = seq->items[i]->tensor;
  }
  int64_t r = items[0]->rank + (new_axis ? 1 : 0), axis = axis_attr->i;
  if (axis < -r || axis >= r)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (ConcatFromSequence): axis %lld is out of range for rank "
                           "%lld", node->name, (long long)axis, (long long)r);
  const tcc_tensor_t *t = NULL;
  TCC_RETURN_IF_ERROR(concat_axis(e, node, items, seq->count, (int)(axis < 0 ? axis + r : axis), new_axis, &t));
  return set_tensor_output(e, node, 0, t);
}

static tcc_status_t eval_split_to_sequence(evaluator_t *e, const tcc_node_t *node) {
  const tcc_tensor_t *x = NULL, *split = NULL;
  TCC_RETURN_IF_ERROR(input_tensor(e, node, 0, &x));
  TCC_RETURN_IF_ERROR(input_tensor(e, node, 1, &split));
  if (!x) return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (SplitToSequence): the input is missing", node->name);
  int64_t r = x->rank, axis = tcc_node_attr_int(node, "axis", 0);
  if (axis < -r || axis >= r)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (SplitToSequence): axis %lld is out of range for rank %lld",
                           node->name, (long long)axis, (long long)r);
  if (axis < 0) axis += r;
  int64_t d = x->dims[axis], n, chunk = 1;
  bool keep = true;
  if (!split) { /* pieces of one, the axis kept or dropped by keepdims */
    n = d;
    keep = tcc_node_attr_int(node, "keepdims", 1) != 0;
  } else if (split->rank == 0) { /* pieces of `chunk`, the last one possibly shorter */
    chunk = tcc_tensor_get_int(split, 0);
    if (chunk < 1)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (SplitToSequence): split size %lld is not positive",
                             node->name, (long long)chunk);
    n = (d + chunk - 1) / chunk;
  } else { /* the listed sizes */
    n = split->numel;
    int64_t sum = 0;
    for (int64_t i = 0; i < n; i++) {
      int64_t v = tcc_tensor_get_int(split, i);
      if (v < 0)
        return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (SplitToSequence): split size %lld is negative",
                               node->name, (long long)v);
      sum += v;
    }
    if (sum != d)
      return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (SplitToSequence): split sizes sum to %lld but axis %lld "
                             "has size %lld", node->name, (long long)sum, (long long)axis, (long long)d);
  }
  const tcc_eval_value_t **items = new_values(e, (size_t)n);
  if (!items) return tcc_status_oom();
  for (int64_t i = 0, start = 0; i < n; i++) {
    int64_t len = split && split->rank > 0 ? tcc_tensor_get_int(split, i) : chunk < d - start ? chunk : d - start;
    const tcc_tensor_t *piece = NULL;
    TCC_RETURN_IF_ERROR(slice_axis(e, node, x, (int)axis, start, len, keep, &piece));
    if (!(items[i] = tcc_eval_value_tensor(e->scratch, piece))) return tcc_status_oom();
    start += len;
  }
  return set_output(e, node, 0, tcc_eval_value_sequence(e->scratch, n, items));
}

static tcc_status_t eval_optional_op(evaluator_t *e, const tcc_node_t *node) {
  const tcc_eval_value_t *x = NULL;
  TCC_RETURN_IF_ERROR(input_value(e, node, 0, &x));
  switch (node->op) {
    case TCC_OP_OPTIONAL: return set_output(e, node, 0, tcc_eval_value_optional(e->scratch, x));
    case TCC_OP_OPTIONAL_HAS_ELEMENT: /* an omitted input is an empty optional; a tensor or sequence is there */
      return set_output(e, node, 0, bool_scalar(e, x && (x->kind != TCC_TYPE_OPTIONAL || x->elem)));
    case TCC_OP_OPTIONAL_GET_ELEMENT:
      if (!x || (x->kind == TCC_TYPE_OPTIONAL && !x->elem))
        return tcc_status_make(TCC_INVALID_ARGUMENT, "node '%s' (OptionalGetElement): the optional is empty", node->name);
      return set_output(e, node, 0, x->kind == TCC_TYPE_OPTIONAL ? x->elem : x);
    default: return tcc_status_make(TCC_INTERNAL, "node '%s': not an optional op", node->name);
  }
}

/* ---- graphs ---------------------------------------------------------------------------------------- */

static tcc_status_t eval_node(evaluator_t *e, const tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(spend_step(e, node));
  switch (node->op) {
    case TCC_OP_IF: return eval_if(e, node);
    case TCC_OP_LOOP: return eval_loop(e, node);
    case TCC_OP_SCAN: return eval_scan(e, node);
    case TCC_OP_SEQUENCE_MAP: return eval_sequence_map(e, node);
    case TCC_OP_FUSED: return eval_fused(e, node);
    case TCC_OP_SEQUENCE_EMPTY:
    case TCC_OP_SEQUENCE_CONSTRUCT:
    case TCC_OP_SEQUENCE_INSERT:
    case TCC_OP_SEQUENCE_ERASE:
    case TCC_OP_SEQUENCE_AT:
    case TCC_OP_SEQUENCE_LENGTH: return eval_sequence_op(e, node);
    case TCC_OP_CONCAT_FROM_SEQUENCE: return eval_concat_from_sequence(e, node);
    case TCC_OP_SPLIT_TO_SEQUENCE: return eval_split_to_sequence(e, node);
    case TCC_OP_OPTIONAL:
    case TCC_OP_OPTIONAL_HAS_ELEMENT:
    case TCC_OP_OPTIONAL_GET_ELEMENT: return eval_optional_op(e, node);
    case TCC_OP_IDENTITY: {
      const tcc_eval_value_t *x = NULL;
      TCC_RETURN_IF_ERROR(input_value(e, node, 0, &x));
      if (x && x->kind != TCC_TYPE_TENSOR) return set_output(e, node, 0, x);
      return eval_kernel(e, node);
    }
    default: return eval_kernel(e, node);
  }
}

/* Runs g's nodes; its inputs are bound by the caller. Constants of g (initializers, Constant outputs) get
 * their values here, once. */
static tcc_status_t eval_graph(evaluator_t *e, const tcc_graph_t *g) {
  for (size_t i = 0; i < g->num_values; i++) {
    const tcc_value_t *v = g->values[i];
    if (!v->constant || v->is_input) continue;
    const tcc_eval_value_t *have = e->values[v->id];
    if (have && have->kind == TCC_TYPE_TENSOR && have->tensor == v->constant) continue;
    if (!(e->values[v->id] = tcc_eval_value_tensor(e->scratch, v->constant))) return tcc_status_oom();
  }
  for (size_t i = 0; i < g->num_nodes; i++) TCC_RETURN_IF_ERROR(eval_node(e, g->nodes[i]));
  return NULL;
}

tcc_status_t tcc_graph_eval_values(const tcc_graph_t *g, const tcc_eval_value_t *const *inputs, tcc_module_t *results,
                                   const tcc_eval_value_t **outputs) {
  evaluator_t e = {NULL, NULL, {0}, 0};
  TCC_RETURN_IF_ERROR(tcc_module_create(results->allocator, &e.scratch));
  tcc_strmap_init(&e.symbols, &e.scratch->arena);
  tcc_status_t st = NULL;
  e.values = tcc_module_alloc(e.scratch, (g->module->next_id + 1) * sizeof *e.values);
  if (!e.values) st = tcc_status_oom();
  for (size_t i = 0; i < g->num_inputs && !st; i++) {
    const tcc_value_t *v = g->inputs[i];
    const tcc_eval_value_t *x = inputs && inputs[i] ? inputs[i] : NULL;
    if (!x && v->constant && !(x = tcc_eval_value_tensor(e.scratch, v->constant))) st = tcc_status_oom();
    else if (!x) st = tcc_status_make(TCC_INVALID_ARGUMENT, "no value given for input '%s'", v->name);
    else st = check_value(&e, v->name, &v->type, x, true, &e.values[v->id]);
  }
  if (!st) st = eval_graph(&e, g);
  for (size_t i = 0; i < g->num_outputs && !st; i++) {
    const tcc_eval_value_t *x = e.values[g->outputs[i]->id];
    if (!x) st = tcc_status_make(TCC_INTERNAL, "output '%s' was not computed", g->outputs[i]->name);
    else if (!(outputs[i] = tcc_eval_value_copy(results, x))) st = tcc_status_oom();
  }
  tcc_module_destroy(e.scratch);
  return st;
}

tcc_status_t tcc_graph_eval(const tcc_graph_t *g, const tcc_tensor_t *const *inputs, tcc_module_t *results,
                            tcc_tensor_t **outputs) {
  tcc_module_t *tmp;
  TCC_RETURN_IF_ERROR(tcc_module_create(results->allocator, &tmp));
  const tcc_eval_value_t **in = tcc_module_alloc(tmp, (g->num_inputs + 1) * sizeof *in);
  const tcc_eval_value_t **out = tcc_module_alloc(tmp, (g->num_outputs + 1) * sizeof *out);
  tcc_status_t st = in && out ? NULL : tcc_status_oom();
  for (size_t i = 0; i < g->num_inputs && !st && inputs; i++)
    if (inputs[i] && !(in[i] = tcc_eval_value_tensor(tmp, inputs[i]))) st = tcc_status_oom();
  if (!st) st = tcc_graph_eval_values(g, in, results, out);
  for (size_t i = 0; i < g->num_outputs && !st; i++) {
    if (out[i]->kind != TCC_TYPE_TENSOR)
      st = tcc_status_make(TCC_UNSUPPORTED, "output '%s' is %s, not a tensor", g->outputs[i]->name,
                           kind_name(out[i]->kind));
    else outputs[i] = (tcc_tensor_t *)out[i]->tensor; /* a fresh copy in results */
  }
  tcc_module_destroy(tmp);
  return st;
}
