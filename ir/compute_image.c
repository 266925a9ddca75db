/* Compute definitions: see ir/compute_defs.h for the family. */
#include "ir/compute_defs.h"

const tcc_compute_entry_t tcc_compute_image_defs[] = {
    {TCC_OP_COUNT, NULL},
};
