/* Shape and dtype inference for the traditional-ML operators of ai.onnx.ml (ArrayFeatureExtractor,
 * LabelEncoder, TreeEnsemble; Binarizer uses tcc_infer_unary). */
#include <stdio.h>
#include <string.h>

#include "ir/infer.h"

static tcc_status_t set_output(tcc_node_t *node, tcc_dtype_t dtype, int rank, const tcc_dim_t *const *dims) {
  if (node->num_outputs < 1 || !node->outputs[0]) return NULL;
  return tcc_value_set_tensor(node->outputs[0], dtype, rank, dims);
}

static tcc_dtype_t input_dtype(const tcc_node_t *node, int i) {
  const tcc_value_t *v = i < node->num_inputs ? node->inputs[i] : NULL;
  return v && v->type.kind == TCC_TYPE_TENSOR ? v->type.dtype : TCC_DTYPE_UNDEFINED;
}

/* Z = X[..., Y] with Y flattened: [X.dims[:-1], numel(Y)]; a 1-D X gives [1, numel(Y)] (onnxruntime's and
 * the reference's behaviour). */
tcc_status_t tcc_infer_array_feature_extractor(tcc_node_t *node) {
  if (node->num_inputs != 2 || !node->inputs[0] || !node->inputs[1])
    return tcc_infer_error(node, "expects 2 inputs (X and Y), got %d", node->num_inputs);
  tcc_dtype_t dt = input_dtype(node, 0), it = input_dtype(node, 1);
  if (it != TCC_DTYPE_UNDEFINED && it != TCC_DTYPE_I64)
    return tcc_infer_error(node, "indices Y must be int64, not %s", tcc_dtype_name(it));
  const tcc_value_t *x = tcc_infer_input(node, 0), *y = tcc_infer_input(node, 1);
  if (!x) return set_output(node, dt, -1, NULL);
  if (x->type.rank < 1) return tcc_infer_error(node, "X must have at least one dimension");
  if (x->type.rank > 64) return tcc_infer_unsupported(node, "rank above 64");
  tcc_module_t *m = node->graph->module;
  const tcc_dim_t *dims[64];
  int rank = x->type.rank == 1 ? 2 : x->type.rank;
  if (x->type.rank == 1) dims[0] = tcc_dim_const(m, 1);
  else memcpy(dims, x->type.dims, (size_t)(rank - 1) * sizeof *dims);
  dims[rank - 1] = y ? tcc_dim_product(m, y->type.dims, y->type.rank) : tcc_dim_fresh(m);
  return set_output(node, dt, rank, dims);
}

/* The element type and length of the one keys_* (prefix "keys") or values_* attribute that is set. */
static tcc_status_t mapping_attr(const tcc_node_t *node, const char *prefix, tcc_dtype_t *dtype, int64_t *count) {
  static const struct {
    const char *suffix;
    tcc_attr_kind_t kind;
    tcc_dtype_t dtype;
  } forms[] = {{"tensor", TCC_ATTR_TENSOR, TCC_DTYPE_UNDEFINED},
               {"strings", TCC_ATTR_STRINGS, TCC_DTYPE_STRING},
               {"int64s", TCC_ATTR_INTS, TCC_DTYPE_I64},
               {"floats", TCC_ATTR_FLOATS, TCC_DTYPE_F32}};
  int found = 0;
  *dtype = TCC_DTYPE_UNDEFINED, *count = 0;
  for (size_t f = 0; f < sizeof forms / sizeof *forms; f++) {
    char name[32];
    snprintf(name, sizeof name, "%s_%s", prefix, forms[f].suffix);
    const tcc_attr_t *a = tcc_node_attr(node, name);
    if (!a) continue;
    if (a->kind != forms[f].kind) return tcc_infer_error(node, "attribute '%s' has kind %s", name, tcc_attr_kind_name(a->kind));
    if (a->kind == TCC_ATTR_TENSOR && (!a->t || a->t->rank != 1))
      return tcc_infer_error(node, "attribute '%s' must be a 1-D tensor", name);
    found++;
    *dtype = a->kind == TCC_ATTR_TENSOR ? a->t->dtype : forms[f].dtype;
    *count = a->kind == TCC_ATTR_TENSOR ? a->t->numel : a->count;
  }
  if (found != 1) return tcc_infer_error(node, "exactly one of the %s_* attributes must be set (%d are)", prefix, found);
  return NULL;
}

/* Y has X's shape and the values' element type; X's element type must be the keys'. */
tcc_status_t tcc_infer_label_encoder(tcc_node_t *node) {
  if (node->num_inputs != 1 || !node->inputs[0]) return tcc_infer_error(node, "expects 1 input, got %d", node->num_inputs);
  tcc_dtype_t kt, vt;
  int64_t nk, nv;
  TCC_RETURN_IF_ERROR(mapping_attr(node, "keys", &kt, &nk));
  TCC_RETURN_IF_ERROR(mapping_attr(node, "values", &vt, &nv));
  if (nk != nv) return tcc_infer_error(node, "%lld keys but %lld values", (long long)nk, (long long)nv);
  const tcc_attr_t *def = tcc_node_attr(node, "default_tensor");
  if (def && (def->kind != TCC_ATTR_TENSOR || !def->t || def->t->numel != 1 || def->t->dtype != vt))
    return tcc_infer_error(node, "default_tensor must be a one-element %s tensor", tcc_dtype_name(vt));
  tcc_dtype_t xt = input_dtype(node, 0);
  if (xt != TCC_DTYPE_UNDEFINED && xt != kt)
    return tcc_infer_error(node, "input X is %s but the keys are %s", tcc_dtype_name(xt), tcc_dtype_name(kt));
  const tcc_value_t *x = tcc_infer_input(node, 0);
  return set_output(node, vt, x ? x->type.rank : -1, x ? x->type.dims : NULL);
}

/* X: [N, F] -> Y: [N, n_targets] of X's element type (n_targets defaults to max(leaf_targetids) + 1). */
tcc_status_t tcc_infer_tree_ensemble(tcc_node_t *node) {
  if (node->num_inputs != 1 || !node->inputs[0]) return tcc_infer_error(node, "expects 1 input, got %d", node->num_inputs);
  tcc_dtype_t dt = input_dtype(node, 0);
  if (dt != TCC_DTYPE_UNDEFINED && dt != TCC_DTYPE_F32 && dt != TCC_DTYPE_F64 && dt != TCC_DTYPE_F16)
    return tcc_infer_error(node, "input X must be f32, f64 or f16, not %s", tcc_dtype_name(dt));
  const int64_t *targets;
  int64_t count, n_targets = 0;
  if (!tcc_node_attr_ints(node, "leaf_targetids", &targets, &count))
    return tcc_infer_error(node, "attribute 'leaf_targetids' is required");
  for (int64_t i = 0; i < count; i++)
    if (targets[i] + 1 > n_targets) n_targets = targets[i] + 1;
  const tcc_attr_t *nt = tcc_node_attr(node, "n_targets");
  if (nt) {
    if (nt->kind != TCC_ATTR_INT || nt->i < 0) return tcc_infer_error(node, "n_targets must be a non-negative int");
    if (nt->i < n_targets)
      return tcc_infer_error(node, "leaf_targetids has target %lld, beyond n_targets %lld", (long long)n_targets - 1,
                             (long long)nt->i);
    n_targets = nt->i;
  }
  const tcc_value_t *x = tcc_infer_input(node, 0);
  if (x && x->type.rank != 2) return tcc_infer_error(node, "input X must be [N, F], got rank %d", x->type.rank);
  tcc_module_t *m = node->graph->module;
  const tcc_dim_t *dims[2] = {x ? x->type.dims[0] : tcc_dim_fresh(m), tcc_dim_const(m, n_targets)};
  return set_output(node, dt, 2, dims);
}
