/* CPU kernels: conv family (see registry.h). */
#include "backends/cpu/registry.h"

const kiln_op_def kiln_cpu_ops_conv[] = {
    {0},
};
