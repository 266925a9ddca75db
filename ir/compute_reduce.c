/* Compute definitions: reduce ops. */
#include "ir/compute_defs.h"

const tcc_compute_entry_t tcc_compute_reduce_defs[] = {
    {TCC_OP_UNSUPPORTED, NULL},
};
