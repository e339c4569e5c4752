// Out-of-range indices read on the device (Gather in movement-index.cu; GatherElements, GatherND and the scatters
// in index.cu). The kernels clamp a bad index into its axis, so that nothing is read or written out of bounds, and
// note it in a device record that kiln_cuda_take_kernel_errors() (kernel-errors.h) reports and clears once the
// stream has synchronized. The record is static: each kernel file that includes this header has its own, and reads
// it with index_record_take().
#ifndef KILN_CUDA_INDEX_RECORD_CUH
#define KILN_CUDA_INDEX_RECORD_CUH

#include "backends/cuda/common.cuh"

namespace kc {

// The ops that record, so that the report can name the one that saw the bad index.
enum index_op { IX_GATHER, IX_GATHER_ELEMENTS, IX_GATHER_ND, IX_SCATTER, IX_SCATTER_ELEMENTS, IX_SCATTER_ND, IX_OPS };

static inline const char *index_op_name(int op) {
    static const char *const names[IX_OPS] = {"Gather",  "GatherElements",  "GatherND",
                                              "Scatter", "ScatterElements", "ScatterND"};
    return op >= 0 && op < IX_OPS ? names[op] : "an index op";
}

static inline int index_op_of(const char *op_type) {
    for (int i = 0; i < IX_OPS; i++)
        if (!strcmp(op_type, index_op_name(i))) return i;
    return IX_OPS;
}

// count: out-of-range indices since the last take; the rest describe the first one.
struct index_record {
    unsigned long long count;
    long long bad, len;
    int op, axis;
};

static __device__ index_record kc_index_rec;

static __device__ __noinline__ void index_record_error(long long idx, long long len, int op, int axis) {
    if (atomicAdd(&kc_index_rec.count, 1ULL) == 0) {
        kc_index_rec.bad = idx;
        kc_index_rec.len = len;
        kc_index_rec.op = op;
        kc_index_rec.axis = axis;
    }
}

// Resolves a possibly negative index j along `axis` (of size len) into [0, len); out of range: recorded and
// clamped (-1 when len == 0: there is nothing to clamp to).
static __device__ __forceinline__ int64_t index_resolve(int64_t j, int64_t len, int op, int axis) {
    int64_t jj = j < 0 ? j + len : j;
    if (jj < 0 || jj >= len) {
        index_record_error((long long)j, (long long)len, op, axis);
        if (len == 0) return -1;
        jj = jj < 0 ? 0 : len - 1;
    }
    return jj;
}

// Reads and clears this file's record: KILN_OK when it is empty, else KILN_ERR_RUNTIME naming the op, the first bad
// index, its axis and the axis size. handled: what became of the bad indices ("clamped", ...).
static inline kiln_status index_record_take(const char *handled) {
    index_record r;
    KILN_CUDA_CHECK(cudaMemcpyFromSymbol(&r, kc_index_rec, sizeof r));
    if (!r.count) return KILN_OK;
    const unsigned long long zero = 0;
    KILN_CUDA_CHECK(cudaMemcpyToSymbol(kc_index_rec, &zero, sizeof zero));
    return kiln_error(KILN_ERR_RUNTIME,
                      "%s: index %lld is out of range for axis %d of size %lld (%llu out-of-range indices were %s; "
                      "the outputs that used them are not valid)",
                      index_op_name(r.op), r.bad, r.axis, r.len, r.count, handled);
}

} // namespace kc

#endif
