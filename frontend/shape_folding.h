/* Folding of shape-computing subgraphs into symbolic dims.
 *
 * PyTorch exports dynamic reshapes as Shape -> Gather -> Unsqueeze -> Concat -> Reshape. Once inference
 * knows the shape operand symbolically (value->shape_data), the consuming Reshape / Expand /
 * ConstantOfShape gets it as a TCC_ATTR_DIMS attribute "shape", the operand is detached, and the
 * subgraph that computed it is removed when nothing else reads it. The graph stays dynamic: the dims
 * are expressions over the model's symbols (`batch`, `seq`), evaluated at run time. */
#ifndef TCC_FRONTEND_SHAPE_FOLDING_H
#define TCC_FRONTEND_SHAPE_FOLDING_H

#include "ir/graph.h"

TCC_MUST_USE tcc_status_t tcc_onnx_fold_shapes(tcc_graph_t *g);

#endif
