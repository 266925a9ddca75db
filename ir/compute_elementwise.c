/* Compute definitions: elementwise ops. */
#include "ir/compute_defs.h"

const tcc_compute_entry_t tcc_compute_elementwise_defs[] = {
    {TCC_OP_UNSUPPORTED, NULL},
};
