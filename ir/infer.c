/* The inference driver and the helpers shared by the per-op inference functions. */
#include "ir/infer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const tcc_infer_fn_t infer_fns[] = {
#define TCC_OP(id, name, infer) tcc_infer_##infer,
#include "ir/ops.def"
#undef TCC_OP
};
_Static_assert(sizeof infer_fns / sizeof infer_fns[0] == TCC_OP_COUNT, "inference table out of step");

static tcc_status_t node_status(tcc_status_code_t code, const tcc_node_t *node, const char *fmt, va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  return tcc_status_make(code, "node '%s' (%s%s%s): %s", node->name, node->domain[0] ? node->domain : "",
                         node->domain[0] ? "::" : "", node->op_type, msg);
}

tcc_status_t tcc_infer_error(const tcc_node_t *node, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tcc_status_t st = node_status(TCC_INVALID_MODEL, node, fmt, ap);
  va_end(ap);
  return st;
}

tcc_status_t tcc_infer_unsupported(const tcc_node_t *node, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tcc_status_t st = node_status(TCC_UNSUPPORTED, node, fmt, ap);
  va_end(ap);
  return st;
}

tcc_status_t tcc_node_infer(tcc_node_t *node) {
  TCC_RETURN_IF_ERROR(infer_fns[node->op](node));
  return tcc_module_check(node->graph->module);
}

tcc_status_t tcc_graph_infer(tcc_graph_t *g) {
  for (size_t i = 0; i < g->num_nodes; i++) TCC_RETURN_IF_ERROR(tcc_node_infer(g->nodes[i]));
  return NULL;
}

const tcc_value_t *tcc_infer_input(const tcc_node_t *node, int i) {
  if (i >= node->num_inputs || !node->inputs[i]) return NULL;
  const tcc_value_t *v = node->inputs[i];
  return v->type.kind == TCC_TYPE_TENSOR && v->type.rank >= 0 ? v : NULL;
}

tcc_status_t tcc_infer_broadcast(const tcc_node_t *node, int ra, const tcc_dim_t *const *a, int rb,
                                 const tcc_dim_t *const *b, const tcc_dim_t **out, int *rank_out) {
  tcc_module_t *m = node->graph->module;
  int r = ra > rb ? ra : rb;
  for (int i = 0; i < r; i++) {
    const tcc_dim_t *da = i >= r - ra ? a[i - (r - ra)] : NULL, *db = i >= r - rb ? b[i - (r - rb)] : NULL;
    bool a1 = !da || (tcc_dim_is_const(da) && tcc_dim_value(da) == 1);
    bool b1 = !db || (tcc_dim_is_const(db) && tcc_dim_value(db) == 1);
    if (a1) out[i] = db ? db : da;
    else if (b1 || da == db) out[i] = da;
    else if (tcc_dim_is_const(da) && tcc_dim_is_const(db))
      return tcc_infer_error(node, "cannot broadcast dimension %lld with %lld (axis %d of the result)",
                             (long long)tcc_dim_value(da), (long long)tcc_dim_value(db), i);
    else if (tcc_dim_is_const(da)) out[i] = da; /* the symbol must be 1 or equal */
    else if (tcc_dim_is_const(db)) out[i] = db;
    else out[i] = tcc_dim_fresh(m); /* two different symbols: known only at run time */
  }
  *rank_out = r;
  return NULL;
}

tcc_status_t tcc_infer_axis(const tcc_node_t *node, int64_t axis, int rank, int *out) {
  if (axis < -(int64_t)rank || axis >= rank)
    return tcc_infer_error(node, "axis %lld is out of range for rank %d", (long long)axis, rank);
  *out = (int)(axis < 0 ? axis + rank : axis);
  return NULL;
}

tcc_status_t tcc_infer_layout(const tcc_node_t *node, int *block) {
  const char *l = tcc_node_attr_string(node, "layout", "NCHW");
  *block = 0;
  if (!strcmp(l, "NCHW")) return NULL;
  if (!strcmp(l, "NHWC")) {
    *block = -1;
    return NULL;
  }
  char *end;
  long b = strncmp(l, "NCHW", 4) ? 0 : strtol(l + 4, &end, 10);
  if (b <= 0 || b > 1024 || strcmp(end, "c")) return tcc_infer_error(node, "unknown layout '%s'", l);
  *block = (int)b;
  return NULL;
}

/* Unsupported nodes keep untyped outputs: the importer has already recorded why. */
tcc_status_t tcc_infer_opaque(tcc_node_t *node) {
  (void)node;
  return NULL;
}
