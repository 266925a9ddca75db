/* Compute-definition dispatch and the helpers definitions share. */
#include "ir/compute.h"

#include "ir/compute_defs.h"

#include <stdio.h>

static const tcc_compute_entry_t *const families[] = {
    tcc_compute_elementwise_defs, tcc_compute_reduce_defs, tcc_compute_shape_defs, tcc_compute_loss_defs,
    tcc_compute_image_defs,       tcc_compute_quant_defs,  tcc_compute_sequence_defs, tcc_compute_ml_defs,
};

static tcc_compute_fn_t find(tcc_op_t op) {
  for (size_t f = 0; f < sizeof families / sizeof *families; f++)
    for (const tcc_compute_entry_t *e = families[f]; e->fn; e++)
      if (e->op == op) return e->fn;
  return NULL;
}

bool tcc_compute_has(tcc_op_t op) { return find(op) != NULL; }

static tcc_status_t unsupported(const tcc_node_t *node, const char *why) {
  return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (%s): %s", node->name, node->op_type, why);
}

/* A parameter for a node operand, typed from the value. */
static tcc_status_t add_param(tcc_kernel_t *k, const tcc_node_t *node, const tcc_value_t *v, tcc_kbuf_scope_t scope,
                              const char *name, tcc_kbuf_t **out) {
  if (v->type.kind != TCC_TYPE_TENSOR || v->type.rank < 0 || v->type.dtype == TCC_DTYPE_UNDEFINED)
    return unsupported(node, "operands must be tensors of known rank and element type");
  *out = tcc_kernel_add_param(k, name, scope, v->type.dtype, v->type.rank, v->type.dims);
  return *out ? NULL : tcc_status_oom();
}

tcc_status_t tcc_compute_build(const tcc_node_t *node, tcc_kernel_t **out) {
  *out = NULL;
  tcc_compute_fn_t fn = find(node->op);
  if (!fn) return unsupported(node, "no compute definition yet");
  tcc_module_t *m = node->graph->module;
  tcc_kernel_t *k = tcc_kernel_create(m, node->name);
  tcc_kbuf_t **in = tcc_module_alloc(m, (size_t)(node->num_inputs + 1) * sizeof *in);
  tcc_kbuf_t **res = tcc_module_alloc(m, (size_t)(node->num_outputs + 1) * sizeof *res);
  if (!k || !in || !res) return tcc_status_oom();
  char name[16];
  for (int i = 0; i < node->num_inputs; i++) {
    if (!node->inputs[i]) continue;
    snprintf(name, sizeof name, "x%d", i);
    TCC_RETURN_IF_ERROR(add_param(k, node, node->inputs[i], TCC_KBUF_INPUT, name, &in[i]));
  }
  for (int i = 0; i < node->num_outputs; i++) {
    if (!node->outputs[i]) continue;
    snprintf(name, sizeof name, "y%d", i);
    TCC_RETURN_IF_ERROR(add_param(k, node, node->outputs[i], TCC_KBUF_OUTPUT, name, &res[i]));
  }
  TCC_RETURN_IF_ERROR(fn(k, node, in, res));
  TCC_RETURN_IF_ERROR(tcc_module_check(m));
#ifndef NDEBUG
  TCC_RETURN_IF_ERROR(tcc_kernel_verify(k));
#endif
  *out = k;
  return NULL;
}

tcc_kblock_t *tcc_compute_loops(tcc_kernel_t *k, tcc_kblock_t *block, int rank, const tcc_dim_t *const *shape,
                                const tcc_kexpr_t ***index) {
  const tcc_kexpr_t **idx = tcc_module_alloc(k->module, (size_t)(rank > 0 ? rank : 1) * sizeof *idx);
  *index = idx;
  if (!idx) return NULL;
  for (int d = 0; d < rank && block; d++) {
    const tcc_kvar_t *var;
    char name[16];
    snprintf(name, sizeof name, "i%d", d);
    block = tcc_k_for(k, block, name, tcc_k_dim(k, shape[d]), TCC_KLOOP_SERIAL, &var);
    idx[d] = tcc_k_var(k, var);
  }
  return block;
}

const tcc_kexpr_t *const *tcc_compute_broadcast_index(tcc_kernel_t *k, const tcc_kbuf_t *buf, int out_rank,
                                                      const tcc_dim_t *const *out_shape,
                                                      const tcc_kexpr_t *const *out_index) {
  const tcc_kexpr_t **idx = tcc_module_alloc(k->module, (size_t)(buf->rank > 0 ? buf->rank : 1) * sizeof *idx);
  if (!idx) return NULL;
  for (int d = 0; d < buf->rank; d++) {
    int o = out_rank - buf->rank + d;
    const tcc_dim_t *bd = buf->dims[d];
    if (bd == out_shape[o]) idx[d] = out_index[o];
    else if (tcc_dim_is_const(bd) && tcc_dim_value(bd) == 1) idx[d] = tcc_k_int(k, 0);
    else /* known only at run time: 0 when this dim is 1 */
      idx[d] = tcc_k_select(k, tcc_k_binary(k, TCC_KOP_EQ, tcc_k_dim(k, bd), tcc_k_int(k, 1)), tcc_k_int(k, 0), out_index[o]);
  }
  return idx;
}
