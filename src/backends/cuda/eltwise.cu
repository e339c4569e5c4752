// CUDA kernels: eltwise family (see registry.h).
#include "backends/cuda/registry.h"

extern "C" const kiln_cuda_op_def kiln_cuda_ops_eltwise[] = {
    {nullptr, nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr},
};
