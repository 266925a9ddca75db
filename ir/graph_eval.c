/* Whole-graph reference evaluation over the compute definitions and the kernel evaluator. */
#include "ir/graph_eval.h"

#include <stdio.h>
#include <string.h>

#include "ir/compute.h"
#include "ir/host_ops.h"
#include "ir/infer.h"
#include "ir/kernel_eval.h"

typedef struct {
  const tcc_graph_t *g;
  tcc_module_t *scratch;
  const tcc_tensor_t **tensors; /* by value id of g's module */
  tcc_strmap_t symbols;         /* symbol name -> bound value (int64 boxed in the scratch arena) */
} evaluator_t;

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

/* Checks a tensor against a declared type, binding the type's symbols on first sight. */
static tcc_status_t check_input(evaluator_t *e, const tcc_value_t *v, const tcc_tensor_t *t) {
  const tcc_type_t *want = &v->type;
  char buf[256], got[256];
  snprintf(got, sizeof got, "%s[", tcc_dtype_name(t->dtype));
  for (int i = 0; i < t->rank; i++)
    snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "", (long long)t->dims[i]);
  strncat(got, "]", sizeof got - strlen(got) - 1);
  if (want->kind != TCC_TYPE_TENSOR) return NULL;
  if ((want->dtype && want->dtype != t->dtype) || (want->rank >= 0 && want->rank != t->rank))
    return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s': expected %s, got %s", v->name,
                           type_text(want, buf, sizeof buf), got);
  for (int i = 0; i < want->rank; i++) {
    const tcc_dim_t *d = want->dims[i];
    if (tcc_dim_is_const(d)) {
      if (tcc_dim_value(d) != t->dims[i])
        return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s': expected %s, got %s (dimension %d)", v->name,
                               type_text(want, buf, sizeof buf), got, i);
    } else if (tcc_dim_is_symbol(d) && !tcc_dim_is_fresh(d)) {
      tcc_dim_format(d, buf, sizeof buf);
      int64_t *bound = tcc_strmap_get(&e->symbols, buf);
      if (bound && *bound != t->dims[i])
        return tcc_status_make(TCC_INVALID_ARGUMENT, "input '%s': dimension %d is %s = %lld elsewhere, got %lld",
                               v->name, i, buf, (long long)*bound, (long long)t->dims[i]);
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
    e->tensors[node->outputs[i]->id] = out[i];
  }
  return NULL;
}

static tcc_status_t eval_node(evaluator_t *e, const tcc_node_t *node) {
  tcc_module_t *s = e->scratch;
  tcc_node_t *copy = tcc_graph_add_node(s->graph, node->op, node->name, node->num_inputs, node->num_outputs);
  if (!copy) return tcc_status_oom();
  copy->domain = node->domain;
  copy->op_type = node->op_type;
  copy->opset = node->opset;
  TCC_RETURN_IF_ERROR(concrete_attrs(e, node, copy));
  for (int i = 0; i < node->num_inputs; i++) {
    const tcc_value_t *v = node->inputs[i];
    if (!v) continue;
    const tcc_tensor_t *t = e->tensors[v->id];
    if (!t)
      return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (%s): input '%s' has no value (not a tensor?)", node->name,
                             node->op_type, v->name);
    if (!(copy->inputs[i] = tcc_graph_add_constant(s->graph, NULL, t))) return tcc_status_oom();
  }
  for (int i = 0; i < node->num_outputs; i++)
    if (node->outputs[i]) tcc_node_set_output(copy, i, tcc_graph_add_value(s->graph, NULL));
  TCC_RETURN_IF_ERROR(tcc_module_check(s));
  TCC_RETURN_IF_ERROR(tcc_node_infer(copy));
  tcc_kernel_t *k;
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
    int64_t dims[64];
    if (out->type.kind != TCC_TYPE_TENSOR || out->type.rank < 0 || out->type.rank > 64)
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
    e->tensors[node->outputs[i]->id] = t;
  }
  tcc_status_t st = tcc_kernel_eval(k, buffers, no_symbols, NULL);
  return st ? tcc_status_annotate(st, "evaluating node '%s' (%s): ", node->name, node->op_type) : NULL;
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

tcc_status_t tcc_graph_eval(const tcc_graph_t *g, const tcc_tensor_t *const *inputs, tcc_module_t *results,
                            tcc_tensor_t **outputs) {
  evaluator_t e = {g, NULL, NULL, {0}};
  TCC_RETURN_IF_ERROR(tcc_module_create(tcc_allocator_system(), &e.scratch));
  tcc_strmap_init(&e.symbols, &e.scratch->arena);
  tcc_status_t st = NULL;
  e.tensors = tcc_module_alloc(e.scratch, (g->module->next_id + 1) * sizeof *e.tensors);
  if (!e.tensors) st = tcc_status_oom();
  for (size_t i = 0; i < g->num_values && !st; i++)
    if (g->values[i]->constant) e.tensors[g->values[i]->id] = g->values[i]->constant;
  for (size_t i = 0; i < g->num_inputs && !st; i++) {
    const tcc_value_t *v = g->inputs[i];
    const tcc_tensor_t *t = inputs && inputs[i] ? inputs[i] : v->constant;
    if (!t) st = tcc_status_make(TCC_INVALID_ARGUMENT, "no value given for input '%s'", v->name);
    else if (!(st = check_input(&e, v, t))) e.tensors[v->id] = t;
  }
  for (size_t i = 0; i < g->num_nodes && !st; i++) st = eval_node(&e, g->nodes[i]);
  for (size_t i = 0; i < g->num_outputs && !st; i++) {
    const tcc_tensor_t *t = e.tensors[g->outputs[i]->id];
    if (!t) st = tcc_status_make(TCC_INTERNAL, "output '%s' was not computed", g->outputs[i]->name);
    else if (!(outputs[i] = copy_tensor(results, t))) st = tcc_status_oom();
  }
  tcc_module_destroy(e.scratch);
  return st;
}
