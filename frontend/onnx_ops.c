/* ONNX op table lookup and the upgrades from older opset forms to the canonical (newest) forms. */
#include "frontend/onnx_ops.h"

#include <string.h>

/* ---- building blocks of upgrades ---- */

static tcc_value_t *const_i64(tcc_graph_t *g, const int64_t *values, int64_t n, bool scalar) {
  tcc_tensor_t *t = tcc_tensor_create_i64(g->module, scalar ? 0 : 1, &n, values);
  return t ? tcc_graph_add_constant(g, NULL, t) : NULL;
}

static tcc_value_t *const_f32(tcc_graph_t *g, float value) {
  tcc_tensor_t *t = tcc_tensor_create(g->module, TCC_DTYPE_F32, 0, NULL);
  if (!t) return NULL;
  memcpy((void *)t->data, &value, sizeof value);
  return tcc_graph_add_constant(g, NULL, t);
}

static tcc_status_t set_input(tcc_node_t *node, int index, tcc_value_t *v) {
  if (!v) return tcc_status_oom();
  if (node->num_inputs <= index) TCC_RETURN_IF_ERROR(tcc_node_resize_inputs(node, index + 1));
  node->inputs[index] = v;
  return NULL;
}

/* Moves an INTS attribute to a constant 1-D int64 input. */
static tcc_status_t ints_attr_to_input(tcc_node_t *node, const char *name, int index) {
  const int64_t *values;
  int64_t n;
  if (!tcc_node_attr_ints(node, name, &values, &n)) return NULL;
  TCC_RETURN_IF_ERROR(set_input(node, index, const_i64(node->graph, values, n, false)));
  tcc_node_remove_attr(node, name);
  return NULL;
}

static tcc_status_t float_attr_to_input(tcc_node_t *node, const char *name, int index) {
  const tcc_attr_t *a = tcc_node_attr(node, name);
  if (!a) return NULL;
  TCC_RETURN_IF_ERROR(set_input(node, index, const_f32(node->graph, (float)a->f)));
  tcc_node_remove_attr(node, name);
  return NULL;
}

/* ---- upgrades ---- */

/* Reduce* (< 13/18), Squeeze/Unsqueeze (< 13): axes attribute -> input 1. */
static tcc_status_t upgrade_axes_to_input(tcc_node_t *node) { return ints_attr_to_input(node, "axes", 1); }

/* Clip < 11: min/max attributes -> inputs 1 and 2. */
static tcc_status_t upgrade_clip(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(float_attr_to_input(node, "min", 1));
  return float_attr_to_input(node, "max", 2);
}

/* Dropout < 12: ratio attribute -> input 1; is_test and seed-less forms behave as inference. */
static tcc_status_t upgrade_dropout(tcc_node_t *node) {
  tcc_node_remove_attr(node, "is_test");
  return float_attr_to_input(node, "ratio", 1);
}

/* Pad < 11: pads attribute -> input 1, value -> input 2. */
static tcc_status_t upgrade_pad(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(ints_attr_to_input(node, "pads", 1));
  if (node->num_inputs < 2) return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (Pad): missing pads", node->name);
  return float_attr_to_input(node, "value", 2);
}

/* Slice < 10: starts/ends/axes attributes -> inputs 1..3. */
static tcc_status_t upgrade_slice(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(ints_attr_to_input(node, "starts", 1));
  TCC_RETURN_IF_ERROR(ints_attr_to_input(node, "ends", 2));
  return ints_attr_to_input(node, "axes", 3);
}

/* Split < 13: split attribute -> input 1. */
static tcc_status_t upgrade_split(tcc_node_t *node) { return ints_attr_to_input(node, "split", 1); }

/* TopK < 10: k attribute -> input 1 (a 1-element 1-D tensor). */
static tcc_status_t upgrade_topk(tcc_node_t *node) {
  const tcc_attr_t *a = tcc_node_attr(node, "k");
  if (!a) return NULL;
  TCC_RETURN_IF_ERROR(set_input(node, 1, const_i64(node->graph, &a->i, 1, false)));
  tcc_node_remove_attr(node, "k");
  return NULL;
}

/* Resize 10: (X, scales) -> (X, roi = none, scales). */
static tcc_status_t upgrade_resize10(tcc_node_t *node) {
  tcc_value_t *scales = node->num_inputs > 1 ? node->inputs[1] : NULL;
  TCC_RETURN_IF_ERROR(tcc_node_resize_inputs(node, 3));
  node->inputs[1] = NULL;
  node->inputs[2] = scales;
  return NULL;
}

/* Upsample: Resize with asymmetric coordinates and floor rounding (scales from the input or attribute). */
static tcc_status_t upgrade_upsample(tcc_node_t *node) {
  const tcc_attr_t *a = tcc_node_attr(node, "scales");
  tcc_value_t *scales = node->num_inputs > 1 ? node->inputs[1] : NULL;
  if (a && a->kind == TCC_ATTR_FLOATS) {
    int64_t n = a->count;
    tcc_tensor_t *t = tcc_tensor_create(node->graph->module, TCC_DTYPE_F32, 1, &n);
    if (!t) return tcc_status_oom();
    for (int64_t i = 0; i < n; i++) ((float *)t->data)[i] = (float)a->floats[i];
    if (!(scales = tcc_graph_add_constant(node->graph, NULL, t))) return tcc_status_oom();
    tcc_node_remove_attr(node, "scales");
  }
  TCC_RETURN_IF_ERROR(tcc_node_resize_inputs(node, 3));
  node->inputs[1] = NULL;
  node->inputs[2] = scales;
  const char *mode = tcc_node_attr_string(node, "mode", "nearest");
  tcc_attr_t ctm = {.name = "coordinate_transformation_mode", .kind = TCC_ATTR_STRING, .s = {"asymmetric", 10}};
  TCC_RETURN_IF_ERROR(tcc_node_set_attr(node, &ctm));
  if (strcmp(mode, "nearest") == 0) {
    tcc_attr_t nm = {.name = "nearest_mode", .kind = TCC_ATTR_STRING, .s = {"floor", 5}};
    TCC_RETURN_IF_ERROR(tcc_node_set_attr(node, &nm));
  }
  return NULL;
}

/* DFT 17: axis attribute (default 1) -> input 2. */
static tcc_status_t upgrade_dft(tcc_node_t *node) {
  int64_t axis = tcc_node_attr_int(node, "axis", 1);
  tcc_node_remove_attr(node, "axis");
  return set_input(node, 2, const_i64(node->graph, &axis, 1, true));
}

static tcc_value_t *add_single_output_node(tcc_graph_t *g, tcc_op_t op, const char *name, tcc_value_t *a,
                                           tcc_value_t *b, tcc_node_t **out) {
  tcc_node_t *n = tcc_graph_add_node(g, op, tcc_arena_sprintf(&g->module->arena, "%s/%s", name, tcc_op_name(op)),
                                     b ? 2 : 1, 1);
  tcc_value_t *v = tcc_graph_add_value(g, NULL);
  if (!n || !v) return NULL;
  n->inputs[0] = a;
  if (b) n->inputs[1] = b;
  tcc_node_set_output(n, 0, v);
  if (out) *out = n;
  return v;
}

/* Softmax/LogSoftmax/Hardmax < 13 coerce the input to 2-D at `axis` (default 1):
 * y = reshape(op(flatten(x, axis), axis = 1), shape(x)). The node must be the last one of its graph. */
static tcc_status_t upgrade_softmax_family(tcc_node_t *node) {
  tcc_graph_t *g = node->graph;
  TCC_ASSERT(g->nodes[g->num_nodes - 1] == node);
  int64_t axis = tcc_node_attr_int(node, "axis", 1);
  tcc_value_t *x = node->inputs[0], *y = node->outputs[0];
  g->num_nodes--; /* re-appended after its new producers */
  tcc_node_t *flatten = NULL;
  tcc_value_t *shape = add_single_output_node(g, TCC_OP_SHAPE, node->name, x, NULL, NULL);
  tcc_value_t *flat = add_single_output_node(g, TCC_OP_FLATTEN, node->name, x, NULL, &flatten);
  tcc_value_t *out2d = tcc_graph_add_value(g, NULL);
  if (!shape || !flat || !out2d) return tcc_status_oom();
  TCC_RETURN_IF_ERROR(tcc_node_set_attr_int(flatten, "axis", axis));
  g->nodes[g->num_nodes++] = node; /* capacity: the slot it left */
  node->inputs[0] = flat;
  tcc_node_set_output(node, 0, out2d);
  TCC_RETURN_IF_ERROR(tcc_node_set_attr_int(node, "axis", 1));
  tcc_node_t *reshape = tcc_graph_add_node(g, TCC_OP_RESHAPE, tcc_arena_sprintf(&g->module->arena, "%s/reshape", node->name), 2, 1);
  if (!reshape) return tcc_status_oom();
  reshape->inputs[0] = out2d;
  reshape->inputs[1] = shape;
  tcc_node_set_output(reshape, 0, y);
  return NULL;
}

/* Inserts an Unsqueeze so that B (input 1), aligned at `axis` of A, broadcasts numpy-style (trailing
 * dims). Needs both ranks at import time: the node's inputs must be graph inputs or constants. */
static tcc_status_t align_second_input(tcc_node_t *node, int64_t axis) {
  const tcc_value_t *a = node->inputs[0], *b = node->inputs[1];
  if (!a || !b || a->type.kind != TCC_TYPE_TENSOR || a->type.rank < 0 || b->type.kind != TCC_TYPE_TENSOR || b->type.rank < 0)
    return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (%s): legacy broadcasting along an axis needs the input ranks "
                           "at import", node->name, node->op_type);
  int64_t trailing = a->type.rank - (axis < 0 ? axis + a->type.rank : axis) - b->type.rank;
  if (trailing < 0 || trailing > 64)
    return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (%s): broadcast axis %lld does not fit ranks %d and %d",
                           node->name, node->op_type, (long long)axis, a->type.rank, b->type.rank);
  if (trailing == 0) return NULL;
  int64_t axes[64];
  for (int64_t i = 0; i < trailing; i++) axes[i] = b->type.rank + i;
  tcc_graph_t *g = node->graph;
  TCC_ASSERT(g->nodes[g->num_nodes - 1] == node);
  g->num_nodes--; /* re-appended after the new producer */
  tcc_value_t *aligned = add_single_output_node(g, TCC_OP_UNSQUEEZE, node->name, node->inputs[1],
                                                const_i64(g, axes, trailing, false), NULL);
  if (!aligned) return tcc_status_oom();
  g->nodes[g->num_nodes++] = node;
  node->inputs[1] = aligned;
  return NULL;
}

/* Opset < 7 elementwise ops: B broadcasts to A only with broadcast = 1, aligned at `axis` (default: the
 * trailing dims, as numpy-style broadcasting does). */
static tcc_status_t upgrade_legacy_broadcast(tcc_node_t *node) {
  const tcc_attr_t *axis = tcc_node_attr(node, "axis");
  if (axis && tcc_node_attr_int(node, "broadcast", 0) && node->num_inputs == 2)
    TCC_RETURN_IF_ERROR(align_second_input(node, axis->i));
  tcc_node_remove_attr(node, "broadcast");
  tcc_node_remove_attr(node, "axis");
  return NULL;
}

/* PRelu < 7: a 1-D slope of C > 1 values applies per channel (axis 1). */
static tcc_status_t upgrade_prelu_legacy(tcc_node_t *node) {
  const tcc_value_t *slope = node->num_inputs == 2 ? node->inputs[1] : NULL;
  if (!slope || slope->type.rank != 1 || (tcc_dim_is_const(slope->type.dims[0]) && tcc_dim_value(slope->type.dims[0]) == 1))
    return NULL;
  return align_second_input(node, 1);
}

/* Gemm < 7: C broadcasts only with broadcast = 1; the newest form always broadcasts it. */
static tcc_status_t upgrade_gemm_legacy(tcc_node_t *node) {
  tcc_node_remove_attr(node, "broadcast");
  return NULL;
}

/* BatchNormalization < 9: is_test and spatial (only spatial = 1, per-channel statistics, has a newer form). */
static tcc_status_t upgrade_batch_norm_legacy(tcc_node_t *node) {
  if (tcc_node_attr_int(node, "spatial", 1) != 1)
    return tcc_status_make(TCC_UNSUPPORTED, "node '%s' (BatchNormalization): spatial = 0 is not supported", node->name);
  tcc_node_remove_attr(node, "spatial");
  tcc_node_remove_attr(node, "is_test");
  return NULL;
}

/* Cast < 6: `to` is a type name ("FLOAT") rather than a code. */
static tcc_status_t upgrade_cast_legacy(tcc_node_t *node) {
  static const char *const names[] = {"", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING",
                                      "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128"};
  const tcc_attr_t *to = tcc_node_attr(node, "to");
  if (!to || to->kind != TCC_ATTR_STRING) return NULL;
  for (int code = 1; code < (int)(sizeof names / sizeof *names); code++)
    if (strcmp(to->s.data, names[code]) == 0) return tcc_node_set_attr_int(node, "to", code);
  return tcc_status_make(TCC_INVALID_MODEL, "node '%s' (Cast): unknown type name '%s'", node->name, to->s.data);
}

/* Concat < 4: axis defaults to 1. */
static tcc_status_t upgrade_concat_legacy(tcc_node_t *node) {
  return tcc_node_attr(node, "axis") ? NULL : tcc_node_set_attr_int(node, "axis", 1);
}

/* Reshape < 5: the target shape is an attribute. */
static tcc_status_t upgrade_reshape_legacy(tcc_node_t *node) { return ints_attr_to_input(node, "shape", 1); }

/* ---- the table ---- */

static const tcc_onnx_op_entry_t table[] = {
#define ONNX_OP(domain, op_type, since, op, upgrade) {domain, op_type, since, TCC_OP_##op, upgrade, #upgrade},
#include "frontend/onnx_ops.def"
#undef ONNX_OP
};

const tcc_onnx_op_entry_t *tcc_onnx_op_table(int *count) {
  *count = (int)(sizeof table / sizeof table[0]);
  return table;
}

const tcc_onnx_op_entry_t *tcc_onnx_op_lookup(const char *domain, const char *op_type, int64_t opset,
                                              int64_t *min_version) {
  const tcc_onnx_op_entry_t *best = NULL;
  *min_version = 0;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    const tcc_onnx_op_entry_t *e = &table[i];
    if (strcmp(e->op_type, op_type) != 0 || strcmp(e->domain, domain) != 0) continue;
    if (!*min_version || e->since_version < *min_version) *min_version = e->since_version;
    if (e->since_version <= opset && (!best || e->since_version > best->since_version)) best = e;
  }
  return best;
}
