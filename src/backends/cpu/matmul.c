/* CPU kernels: matmul family (see registry.h). */
#include "backends/cpu/registry.h"

const kiln_op_def kiln_cpu_ops_matmul[] = {
    {0},
};
