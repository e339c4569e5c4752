/* CPU kernels: reduce family (see registry.h). */
#include "backends/cpu/registry.h"

const kiln_op_def kiln_cpu_ops_reduce[] = {
    {0},
};
