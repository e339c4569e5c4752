/* CPU kernels: activation family (see registry.h). */
#include "backends/cpu/registry.h"

const kiln_op_def kiln_cpu_ops_activation[] = {
    {0},
};
