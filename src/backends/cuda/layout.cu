// CUDA kernels: layout family (see registry.h): DepthToSpace, SpaceToDepth (DCR / CRD) and Trilu. Every op moves
// bits, so any fixed-size dtype works. Trilu's k is a host input.
#include <stdlib.h>

#include "backends/cuda/common.cuh"

namespace kc {

// y[i] = x[offset(i)] over a 6-D view of the output (contiguous) with the input's strides per view dim.
template <typename B> __global__ void view_gather_k(int64_t n, strided<1> s, const B *x, B *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off;
        strided_offsets(s, i, &off);
        y[i] = x[off];
    }
}

static int d2s_mode(const kiln_node *n) {
    const char *mode = kiln_attr_string(n, "mode", "DCR");
    return !strcmp(mode, "DCR") ? 0 : !strcmp(mode, "CRD") ? 1 : -1;
}

static kiln_status d2s_supports(const kiln_node *n, const kiln_graph *g) {
    int64_t b = kiln_attr_int(n, "blocksize", 0);
    KILN_FAIL_IF(b <= 0 || b > (1 << 20), KILN_ERR_UNSUPPORTED, "%s: blocksize %lld is not in [1, 2^20]", n->op_type,
                 (long long)b);
    KILN_FAIL_IF(d2s_mode(n) < 0, KILN_ERR_UNSUPPORTED, "%s mode '%s' is not supported", n->op_type,
                 kiln_attr_string(n, "mode", "DCR"));
    return need_dtype(n, g, 0, is_bits_dtype, "fixed-size dtypes");
}

static kiln_status d2s_common(kiln_cuda_kctx *k, int to_space) {
    const char *op = k->node->op_type;
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    char buf[256];
    KILN_FAIL_IF(x->rank != 4, KILN_ERR_SHAPE, "%s: input must be 4-D, got %s", op, shape_str(x, buf, sizeof buf));
    KILN_FAIL_IF(!is_bits_dtype(x->dtype), KILN_ERR_TYPE, "%s: dtype %s not supported on CUDA", op,
                 kiln_dtype_name(x->dtype));
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], b = kiln_attr_int(k->node, "blocksize", 0);
    int crd = d2s_mode(k->node) == 1;
    KILN_FAIL_IF(b <= 0, KILN_ERR_INVALID_GRAPH, "%s: blocksize must be positive", op);
    int64_t od[4], HW = H * W;
    strided<1> s;
    memset(&s, 0, sizeof s);
    s.rank = 6;
    if (to_space) {
        KILN_FAIL_IF(C % (b * b) != 0, KILN_ERR_SHAPE, "%s: channels %lld are not a multiple of blocksize^2 = %lld",
                     op, (long long)C, (long long)(b * b));
        int64_t c = C / (b * b);
        od[0] = N, od[1] = c, od[2] = H * b, od[3] = W * b;
        // output viewed as [N, c, H, b1, W, b2]
        int64_t vd[6] = {N, c, H, b, W, b};
        int64_t dcr[6] = {C * HW, HW, W, b * c * HW, 1, c * HW}, crds[6] = {C * HW, b * b * HW, W, b * HW, 1, HW};
        for (int d = 0; d < 6; d++) s.dims[d] = vd[d], s.st[0][d] = crd ? crds[d] : dcr[d];
    } else {
        KILN_FAIL_IF(H % b || W % b, KILN_ERR_SHAPE, "%s: spatial dims %s are not multiples of blocksize %lld", op,
                     shape_str(x, buf, sizeof buf), (long long)b);
        int64_t h = H / b, w = W / b;
        od[0] = N, od[1] = C * b * b, od[2] = h, od[3] = w;
        // DCR output viewed as [N, b1, b2, C, h, w]; CRD as [N, C, b1, b2, h, w]
        int64_t dcr_d[6] = {N, b, b, C, h, w}, dcr_s[6] = {C * HW, W, 1, HW, b * W, b};
        int64_t crd_d[6] = {N, C, b, b, h, w}, crd_s[6] = {C * HW, HW, W, 1, b * W, b};
        for (int d = 0; d < 6; d++) s.dims[d] = crd ? crd_d[d] : dcr_d[d], s.st[0][d] = crd ? crd_s[d] : dcr_s[d];
    }
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, 4, od, &y));
    int64_t n = numel(y);
    if (n == 0) return KILN_OK;
    strided_collapse(s);
    cudaStream_t st = stream(k);
    with_bits(x->dtype, [&](auto t) {
        typedef decltype(t) B;
        view_gather_k<B><<<grid_for(n, 256), 256, 0, st>>>(n, s, (const B *)x->data, (B *)y->data);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

static kiln_status d2s_run(kiln_cuda_kctx *k) { return d2s_common(k, 1); }
static kiln_status s2d_run(kiln_cuda_kctx *k) { return d2s_common(k, 0); }

// ---------------------------------------------------------------- Trilu ------------------------------------------
// upper keeps j >= i + k; lower keeps j <= i + k; the rest is zero.
template <typename B>
__global__ void trilu_k(int64_t n, int64_t rows, int64_t cols, int64_t kk, int upper, const B *x, B *y) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x) {
        int64_t j = t % cols, i = (t / cols) % rows;
        bool keep = upper ? j >= i + kk : j <= i + kk;
        y[t] = keep ? x[t] : B(0);
    }
}

static kiln_status trilu_supports(const kiln_node *n, const kiln_graph *g) {
    return need_dtype(n, g, 0, is_bits_dtype, "fixed-size dtypes");
}

static kiln_status trilu_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x, *tk = in(k, 1);
    KILN_TRY(in_req(k, 0, &x));
    KILN_FAIL_IF(x->rank < 2, KILN_ERR_SHAPE, "Trilu: input must have rank >= 2, got %d", x->rank);
    KILN_FAIL_IF(!is_bits_dtype(x->dtype), KILN_ERR_TYPE, "Trilu: dtype %s not supported on CUDA",
                 kiln_dtype_name(x->dtype));
    int64_t kk = 0;
    if (tk) {
        int64_t v[1] = {0};
        int nv = 0;
        KILN_TRY(host_ints(k, tk, "k (input 1)", v, 1, &nv));
        KILN_FAIL_IF(nv != 1, KILN_ERR_SHAPE, "Trilu: k must hold one value, has %d", nv);
        kk = v[0];
    }
    int64_t R = x->dims[x->rank - 2], C = x->dims[x->rank - 1];
    if (kk > R + C) kk = R + C;
    if (kk < -(R + C)) kk = -(R + C);
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    int64_t n = numel(y);
    if (n == 0) return KILN_OK;
    int upper = kiln_attr_int(k->node, "upper", 1) != 0;
    cudaStream_t st = stream(k);
    with_bits(x->dtype, [&](auto t) {
        typedef decltype(t) B;
        trilu_k<B><<<grid_for(n, 256), 256, 0, st>>>(n, R, C, kk, upper, (const B *)x->data, (B *)y->data);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

} // namespace kc

extern "C" const kiln_cuda_op_def kiln_cuda_ops_layout[] = {
    {"DepthToSpace", "", 1, 0, kc::d2s_supports, nullptr, nullptr, kc::d2s_run},
    {"SpaceToDepth", "", 1, 0, kc::d2s_supports, nullptr, nullptr, kc::s2d_run},
    {"Trilu", "", 14, 1u << 1, kc::trilu_supports, nullptr, nullptr, kc::trilu_run},
    {nullptr, nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr},
};
