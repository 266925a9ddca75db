/* The kernels of the plan: which nodes of an optimized graph are kernels, and their kinds (contract in
 * passes/passes.h). */
#include "passes/passes.h"

#include <string.h>

/* Views: the output is the input's bytes under another shape, so nothing runs and the memory plan lets
 * the output share its source's storage. */
static bool is_view(tcc_op_t op) {
  return op == TCC_OP_RESHAPE || op == TCC_OP_SQUEEZE || op == TCC_OP_UNSQUEEZE || op == TCC_OP_FLATTEN ||
         op == TCC_OP_IDENTITY;
}

bool tcc_node_is_kernel(const tcc_node_t *n) {
  if (is_view(n->op)) return false;
  for (int i = 0; i < n->num_outputs; i++)
    if (n->outputs[i]) return true;
  return false;
}

/* The spatial rank of a convolution-like node: its weight's rank - 2, else its data's rank - 2, or 0. */
static int spatial_rank(const tcc_node_t *n) {
  for (int k = 1; k >= 0; k--) {
    const tcc_value_t *v = k < n->num_inputs ? n->inputs[k] : NULL;
    if (v && v->type.kind == TCC_TYPE_TENSOR && v->type.rank >= 3) return v->type.rank - 2;
  }
  return 0;
}

static const char *by_rank(int rank, const char *r1, const char *r2, const char *r3, const char *other) {
  return rank == 1 ? r1 : rank == 2 ? r2 : rank == 3 ? r3 : other;
}

const char *tcc_node_kernel_kind(const tcc_node_t *n) {
  switch (n->op) {
    case TCC_OP_FUSED: {
      const tcc_attr_t *a = tcc_node_attr(n, "kind");
      return a && a->kind == TCC_ATTR_STRING ? tcc_node_attr_string(n, "kind", "fused") : "fused";
    }
    case TCC_OP_CONV: return by_rank(spatial_rank(n), "conv1d", "conv2d", "conv3d", "conv");
    case TCC_OP_CONV_TRANSPOSE:
      return by_rank(spatial_rank(n), "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv_transpose");
    case TCC_OP_MATMUL: return "matmul";
    case TCC_OP_GEMM: return "gemm";
    case TCC_OP_MAX_POOL: return "maxpool";
    case TCC_OP_AVERAGE_POOL: return "avgpool";
    case TCC_OP_LP_POOL: return "lppool";
    case TCC_OP_GLOBAL_AVERAGE_POOL: return "globalavgpool";
    case TCC_OP_GLOBAL_MAX_POOL: return "globalmaxpool";
    case TCC_OP_GLOBAL_LP_POOL: return "globallppool";
    case TCC_OP_LAYER_NORMALIZATION: return "layernorm";
    case TCC_OP_RMS_NORMALIZATION: return "rmsnorm";
    case TCC_OP_GROUP_NORMALIZATION: return "groupnorm";
    case TCC_OP_INSTANCE_NORMALIZATION: return "instancenorm";
    case TCC_OP_BATCH_NORMALIZATION: return "batchnorm";
    case TCC_OP_SOFTMAX: return "softmax";
    case TCC_OP_LOG_SOFTMAX: return "logsoftmax";
    case TCC_OP_ATTENTION: return "attention";
    case TCC_OP_GELU: return "gelu";
    default: return tcc_op_name(n->op); /* elementwise and the rest: the op's own name ("add", "relu") */
  }
}
