/* Build-time side of the CUDA backend: device identity for the plan and the placement report. */
#ifndef KILN_CUDA_LOWER_H
#define KILN_CUDA_LOWER_H

#include "ir/graph.h"
#include "plan/plan.h"

/* Fills meta's device record from the current GPU and logs where each node will run: a WARNING per node that
 * falls back to the CPU (with the reason), INFO for shape computations kept on the host, and a summary. Then
 * chooses the kernels' tactics on this GPU within `workspace` bytes of scratch per node (0: no limit), recording them
 * as node attributes of g, and fails with the numbers when a node cannot run within the limit; then logs the
 * device memory plan at the profiles' max shapes (arena and scratch sizes, values left to on-demand buffers). */
kiln_status kiln_cuda_lower(kiln_graph *g, const kiln_profile_data *profiles, int n_profiles, size_t workspace,
                            const kiln_logger *lg, kiln_plan_meta *meta);

/* Converts between the plan's device record and the running device's identity and compares them. */
kiln_status kiln_cuda_check_plan_device(const kiln_plan_device *recorded);

#endif
