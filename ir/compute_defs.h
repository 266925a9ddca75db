/* Internal: the compute-definition tables of each op family (ir/compute_*.c), collected by ir/compute.c.
 * Each table ends with an entry whose fn is NULL. */
#ifndef TCC_IR_COMPUTE_DEFS_H
#define TCC_IR_COMPUTE_DEFS_H

#include "ir/compute.h"

typedef struct {
  tcc_op_t op;
  tcc_compute_fn_t fn;
} tcc_compute_entry_t;

extern const tcc_compute_entry_t tcc_compute_elementwise_defs[];
extern const tcc_compute_entry_t tcc_compute_reduce_defs[];
extern const tcc_compute_entry_t tcc_compute_shape_defs[];
extern const tcc_compute_entry_t tcc_compute_loss_defs[];      /* losses, attention, rotary embedding */
extern const tcc_compute_entry_t tcc_compute_image_defs[];     /* resize, grid sampling, ROI ops */
extern const tcc_compute_entry_t tcc_compute_quant_defs[];     /* quantization, integer linear algebra, einsum */
extern const tcc_compute_entry_t tcc_compute_sequence_defs[];  /* signal processing and recurrent networks */
extern const tcc_compute_entry_t tcc_compute_ml_defs[];        /* ai.onnx.ml: Binarizer, ArrayFeatureExtractor */

/* BatchNormalization with training_mode = 1 (ir/compute_sequence.c), called by the inference-mode definition. */
tcc_status_t tcc_compute_batch_norm_training(tcc_kernel_t *k, const tcc_node_t *node, tcc_kbuf_t *const *in,
                                             tcc_kbuf_t *const *out);

#endif
