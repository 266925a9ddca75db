/* Constant folding through the reference evaluator (contract in passes/constant_folding.h). */
#include "passes/constant_folding.h"

#include "passes/passes.h"

#include "ir/graph_eval.h"
#include "ir/infer.h"
#include "passes/rewrite.h"

static bool is_foldable_op(const tcc_node_t *n) { return tcc_rewrite_node_is_pure(n) && n->num_outputs > 0; }

static bool has_constant_inputs(const tcc_node_t *n) {
  for (int i = 0; i < n->num_inputs; i++) {
    const tcc_value_t *v = n->inputs[i];
    if (v && (!v->constant || v->is_input)) return false;
  }
  return true;
}

/* Whether every output has a known size within the cap (unknown sizes are decided after evaluation). */
static bool outputs_within(const tcc_node_t *n, int64_t max_bytes) {
  for (int i = 0; i < n->num_outputs; i++) {
    const tcc_value_t *v = n->outputs[i];
    if (!v) continue;
    if (v->type.kind != TCC_TYPE_TENSOR) return false;
    int64_t numel = 1;
    for (int d = 0; d < v->type.rank; d++) {
      if (!tcc_dim_is_const(v->type.dims[d])) return true;
      int64_t size = tcc_dim_value(v->type.dims[d]);
      if (size > 0 && numel > max_bytes / size) return false;
      numel *= size;
    }
    if (v->type.rank >= 0 && numel > max_bytes / 16) {
      size_t bits = tcc_dtype_bits(v->type.dtype);
      if ((double)numel * (double)(bits ? bits : 128) / 8 > (double)max_bytes) return false;
    }
  }
  return true;
}

/* Evaluates n in a scratch module whose graph is n alone over its constant inputs. On success the
 * outputs (in g's module) are in out; *folded is false when the evaluator could not handle the node. */
static tcc_status_t evaluate(const tcc_node_t *n, int64_t max_bytes, tcc_tensor_t **out, bool *folded) {
  *folded = false;
  tcc_module_t *s;
  TCC_RETURN_IF_ERROR(tcc_module_create(tcc_allocator_system(), &s));
  tcc_node_t *copy = tcc_graph_add_node(s->graph, n->op, n->name, n->num_inputs, n->num_outputs);
  if (copy) {
    copy->domain = n->domain, copy->op_type = n->op_type, copy->opset = n->opset;
    copy->num_attrs = n->num_attrs, copy->attrs = n->attrs; /* read only, outlives s */
    for (int i = 0; i < n->num_inputs; i++)
      if (n->inputs[i]) copy->inputs[i] = tcc_graph_add_constant(s->graph, NULL, n->inputs[i]->constant);
    for (int i = 0; i < n->num_outputs; i++) {
      if (!n->outputs[i]) continue;
      tcc_node_set_output(copy, i, tcc_graph_add_value(s->graph, NULL));
      tcc_graph_add_output(s->graph, copy->outputs[i]);
    }
  }
  tcc_status_t st = tcc_module_check(s);
  if (!st) st = tcc_graph_infer(s->graph);
  tcc_tensor_t **results = tcc_module_alloc(s, (size_t)(n->num_outputs + 1) * sizeof *results);
  if (!st && !results) st = tcc_status_oom();
  if (!st) st = tcc_graph_eval(s->graph, NULL, n->graph->module, results);
  if (!st) {
    *folded = true;
    for (size_t i = 0, k = 0; i < (size_t)n->num_outputs; i++) {
      if (!n->outputs[i]) continue;
      out[i] = results[k++];
      *folded &= out[i]->nbytes <= (size_t)max_bytes;
    }
  } else if (tcc_status_code(st) != TCC_OUT_OF_MEMORY) {
    tcc_status_free(st); /* left for the runtime, which reports it with the inputs at hand */
    st = NULL;
  }
  tcc_module_destroy(s);
  return st;
}

tcc_status_t tcc_fold_constants(tcc_graph_t *g, const tcc_constant_folding_options_t *options, int *num_folded) {
  tcc_constant_folding_options_t defaults = TCC_CONSTANT_FOLDING_DEFAULTS;
  if (!options) options = &defaults;
  int count = 0;
  size_t kept = 0;
  for (size_t i = 0; i < g->num_nodes; i++) {
    tcc_node_t *n = g->nodes[i];
    bool folded = false;
    if (is_foldable_op(n) && has_constant_inputs(n) && outputs_within(n, options->max_output_bytes)) {
      tcc_tensor_t **out = tcc_module_alloc(g->module, (size_t)(n->num_outputs + 1) * sizeof *out);
      if (!out) return tcc_status_oom();
      TCC_RETURN_IF_ERROR(evaluate(n, options->max_output_bytes, out, &folded));
      for (int k = 0; folded && k < n->num_outputs; k++) {
        tcc_value_t *v = n->outputs[k];
        if (!v) continue;
        if (!tcc_value_set_constant(v, out[k])) return tcc_status_oom();
      }
    }
    if (folded) count++;
    else g->nodes[kept++] = n;
  }
  g->num_nodes = kept;
  if (num_folded) *num_folded = count;
  return count ? tcc_graph_infer(g) : NULL;
}

tcc_status_t tcc_pass_constant_folding(tcc_graph_t *g, const tcc_pass_context_t *ctx,
                                       const tcc_constant_folding_options_t *options, bool *changed) {
  (void)ctx;
  int folded = 0;
  TCC_RETURN_IF_ERROR(tcc_fold_constants(g, options, &folded));
  *changed = folded > 0;
  return NULL;
}
