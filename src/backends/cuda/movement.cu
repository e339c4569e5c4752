// CUDA kernels: movement family (see registry.h). This file: the family table, the reshape-likes (Reshape,
// Flatten, Squeeze, Unsqueeze: outputs alias the input, no copy), Transpose, Concat, Split, Slice, Expand and
// Tile; movement-index.cu holds Gather and Pad. Every op moves bits, so any fixed-size dtype works.
//
// Shape arguments (Reshape's shape, Slice's starts/ends/axes/steps, axes of Squeeze/Unsqueeze-13, Split's sizes,
// Expand's shape, Tile's repeats) are host inputs. Transpose collapses dims that stay adjacent; a batched 2-D
// transpose (the last dim moves) runs through 32x32 shared-memory tiles, every other permutation through a
// strided gather.
#include <stdlib.h>

#include "backends/cuda/broadcast.cuh"
#include "backends/cuda/movement.cuh"

namespace kc {

// ---------------------------------------------------------------- shared kernels ----------------------------------
// y[i] = x[base + offset(i)] over a collapsed iteration shape with (possibly negative) input strides.
template <typename B> __global__ void sgather_k(int64_t n, strided<1> s, int64_t base, const B *x, B *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off;
        strided_offsets(s, i, &off);
        y[i] = x[base + off];
    }
}

static kiln_status strided_gather(kiln_dtype dt, strided<1> s, int64_t base, const void *x, void *y, int64_t n,
                                  cudaStream_t st) {
    if (n == 0) return KILN_OK;
    strided_collapse(s);
    with_bits(dt, [&](auto t) {
        typedef decltype(t) B;
        sgather_k<B><<<grid_for(n, 256), 256, 0, st>>>(n, s, base, (const B *)x, (B *)y);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

// rows x len block copy between row pitches (elements): Concat writes into, Split reads from, a wider tensor.
template <typename B>
__global__ void rows_k(int64_t rows, int64_t len, const B *x, int64_t xp, B *y, int64_t yp) {
    int64_t n = rows * len;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = i / len, c = i - r * len;
        y[r * yp + c] = x[r * xp + c];
    }
}

static kiln_status copy_rows(kiln_dtype dt, int64_t rows, int64_t len, const void *x, int64_t xp, void *y, int64_t yp,
                             cudaStream_t st) {
    if (rows * len == 0) return KILN_OK;
    if (xp == len && yp == len) {
        KILN_CUDA_CHECK(cudaMemcpyAsync(y, x, (size_t)(rows * len) * kiln_dtype_size(dt), cudaMemcpyDeviceToDevice, st));
        return KILN_OK;
    }
    with_bits(dt, [&](auto t) {
        typedef decltype(t) B;
        rows_k<B><<<grid_for(rows * len, 256), 256, 0, st>>>(rows, len, (const B *)x, xp, (B *)y, yp);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

static kiln_status bits_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_FAIL_IF(has_in(n, 0) && g->values[n->in[0]].type.kind != KILN_KIND_TENSOR, KILN_ERR_UNSUPPORTED,
                 "%s: only tensors run on CUDA", n->op_type);
    return need_dtype(n, g, 0, is_bits_dtype, "fixed-size dtypes");
}

static int norm_axis(int64_t a, int r) { return (int)(a < 0 ? a + r : a); }

// ---------------------------------------------------------------- Reshape / Flatten / Squeeze / Unsqueeze -----------
static kiln_status reshape_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x, *ts;
    KILN_TRY(in_req(k, 0, &x));
    KILN_TRY(in_req(k, 1, &ts));
    int64_t dims[KILN_MAX_DIMS];
    int n = 0;
    KILN_TRY(host_ints(k, ts, "shape (input 1)", dims, KILN_MAX_DIMS, &n));
    bool allowzero = kiln_attr_int(k->node, "allowzero", 0) != 0;
    int infer = -1;
    int64_t known = 1, total = numel(x);
    char s1[256];
    for (int i = 0; i < n; i++) {
        if (dims[i] == 0 && !allowzero) {
            KILN_FAIL_IF(i >= x->rank, KILN_ERR_SHAPE, "Reshape: shape[%d] = 0 copies a dim the input %s lacks", i,
                         shape_str(x, s1, sizeof s1));
            dims[i] = x->dims[i];
        }
        if (dims[i] == -1) {
            KILN_FAIL_IF(infer >= 0, KILN_ERR_SHAPE, "Reshape: more than one -1 in the shape");
            infer = i;
        } else {
            KILN_FAIL_IF(dims[i] < 0, KILN_ERR_SHAPE, "Reshape: negative dim %lld", (long long)dims[i]);
            known *= dims[i];
        }
    }
    if (infer >= 0) {
        KILN_FAIL_IF(known == 0 || total % known, KILN_ERR_SHAPE, "Reshape: cannot infer -1 for input %s",
                     shape_str(x, s1, sizeof s1));
        dims[infer] = total / known;
        known *= dims[infer];
    }
    KILN_FAIL_IF(known != total, KILN_ERR_SHAPE, "Reshape: input %s has %lld elements, the new shape %lld",
                 shape_str(x, s1, sizeof s1), (long long)total, (long long)known);
    return kiln_cuda_kout_alias(k, 0, x, n, dims);
}

static kiln_status flatten_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    int64_t axis = kiln_attr_int(k->node, "axis", 1);
    if (axis < 0) axis += x->rank;
    KILN_FAIL_IF(axis < 0 || axis > x->rank, KILN_ERR_SHAPE, "Flatten: axis out of range for rank %d", x->rank);
    int64_t dims[2] = {kiln_numel((int)axis, x->dims), kiln_numel(x->rank - (int)axis, x->dims + axis)};
    return kiln_cuda_kout_alias(k, 0, x, 2, dims);
}

// Squeeze / Unsqueeze axes: the attribute before opset 13, host input 1 from 13. *n = -1 when absent.
static kiln_status get_axes(const kiln_cuda_kctx *k, int64_t *axes, int *n) {
    *n = -1;
    if (k->node->opset < 13) {
        int c = 0;
        const int64_t *a = kiln_attr_ints(k->node, "axes", &c);
        if (!kiln_node_attr(k->node, "axes")) return KILN_OK;
        KILN_FAIL_IF(c > KILN_MAX_DIMS, KILN_ERR_SHAPE, "%s: too many axes", k->node->op_type);
        for (int i = 0; i < c; i++) axes[i] = a[i];
        *n = c;
        return KILN_OK;
    }
    const kiln_cuda_tensor *t = in(k, 1);
    if (t) KILN_TRY(host_ints(k, t, "axes (input 1)", axes, KILN_MAX_DIMS, n));
    return KILN_OK;
}

static kiln_status squeeze_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    int64_t axes[KILN_MAX_DIMS], dims[KILN_MAX_DIMS];
    int n = 0, r = 0;
    KILN_TRY(get_axes(k, axes, &n));
    bool drop[KILN_MAX_DIMS] = {false};
    if (n < 0) {
        for (int i = 0; i < x->rank; i++) drop[i] = x->dims[i] == 1;
    } else {
        for (int i = 0; i < n; i++) {
            int a = norm_axis(axes[i], x->rank);
            KILN_FAIL_IF(a < 0 || a >= x->rank || x->dims[a] != 1, KILN_ERR_SHAPE,
                         "Squeeze: axis %lld is not a size-1 dim of the rank-%d input", (long long)axes[i], x->rank);
            drop[a] = true;
        }
    }
    for (int i = 0; i < x->rank; i++)
        if (!drop[i]) dims[r++] = x->dims[i];
    return kiln_cuda_kout_alias(k, 0, x, r, dims);
}

static kiln_status unsqueeze_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    int64_t axes[KILN_MAX_DIMS], dims[KILN_MAX_DIMS];
    int n = 0;
    KILN_TRY(get_axes(k, axes, &n));
    KILN_FAIL_IF(n < 0, KILN_ERR_INVALID_GRAPH, "Unsqueeze needs axes");
    int r = x->rank + n;
    KILN_FAIL_IF(r > KILN_MAX_DIMS, KILN_ERR_SHAPE, "Unsqueeze: output rank %d too large", r);
    bool ins[KILN_MAX_DIMS] = {false};
    for (int i = 0; i < n; i++) {
        int a = norm_axis(axes[i], r);
        KILN_FAIL_IF(a < 0 || a >= r || ins[a], KILN_ERR_SHAPE, "Unsqueeze: bad or repeated axis %lld",
                     (long long)axes[i]);
        ins[a] = true;
    }
    for (int i = 0, j = 0; i < r; i++) dims[i] = ins[i] ? 1 : x->dims[j++];
    return kiln_cuda_kout_alias(k, 0, x, r, dims);
}

// ---------------------------------------------------------------- Transpose ---------------------------------------
// x: [batch, R, C] -> y: [batch, C, R], one 32x32 tile per block (32 x 8 threads).
template <typename B> __global__ void transpose_tile_k(int64_t batch, int64_t R, int64_t C, const B *x, B *y) {
    __shared__ B tile[32][33];
    int64_t r0 = (int64_t)blockIdx.y * 32, c0 = (int64_t)blockIdx.x * 32;
    for (int64_t b = blockIdx.z; b < batch; b += gridDim.z) {
        const B *xb = x + b * R * C;
        B *yb = y + b * R * C;
        for (int j = threadIdx.y; j < 32; j += 8) {
            int64_t r = r0 + j, c = c0 + threadIdx.x;
            if (r < R && c < C) tile[j][threadIdx.x] = xb[r * C + c];
        }
        __syncthreads();
        for (int j = threadIdx.y; j < 32; j += 8) {
            int64_t c = c0 + j, r = r0 + threadIdx.x;
            if (r < R && c < C) yb[c * R + r] = tile[threadIdx.x][j];
        }
        __syncthreads();
    }
}

static kiln_status transpose_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    int r = x->rank, np = 0;
    int64_t perm[KILN_MAX_DIMS];
    const int64_t *pa = kiln_attr_ints(k->node, "perm", &np);
    if (!kiln_node_attr(k->node, "perm")) {
        for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
    } else {
        KILN_FAIL_IF(np != r, KILN_ERR_SHAPE, "Transpose: perm has %d values for rank %d", np, r);
        bool seen[KILN_MAX_DIMS] = {false};
        for (int i = 0; i < r; i++) {
            int a = norm_axis(pa[i], r);
            KILN_FAIL_IF(a < 0 || a >= r || seen[a], KILN_ERR_SHAPE, "Transpose: perm is not a permutation");
            seen[a] = true;
            perm[i] = a;
        }
    }
    int64_t dims[KILN_MAX_DIMS], ist[KILN_MAX_DIMS];
    for (int i = 0; i < r; i++) dims[i] = x->dims[perm[i]];
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, r, dims, &y));
    int64_t n = numel(x);
    if (n == 0) return KILN_OK;
    contiguous_strides(r, x->dims, ist);
    strided<1> s;
    s.rank = r;
    for (int i = 0; i < r; i++) s.dims[i] = dims[i], s.st[0][i] = ist[perm[i]];
    strided_collapse(s);
    cudaStream_t st = stream(k);
    // Batched 2-D transpose: output [batch, C, R] reading input [batch, R, C] (strides R*C, 1, C).
    int q = s.rank;
    if (q >= 2 && s.st[0][q - 2] == 1 && s.st[0][q - 1] == s.dims[q - 2] &&
        (q == 2 || (q == 3 && s.st[0][0] == s.dims[1] * s.dims[2])) && s.dims[q - 1] <= 65535LL * 32) {
        int64_t C = s.dims[q - 2], R = s.dims[q - 1], batch = q == 3 ? s.dims[0] : 1;
        dim3 grid((unsigned)((C + 31) / 32), (unsigned)((R + 31) / 32), (unsigned)(batch < 65535 ? batch : 65535));
        with_bits(x->dtype, [&](auto t) {
            typedef decltype(t) B;
            transpose_tile_k<B><<<grid, dim3(32, 8), 0, st>>>(batch, R, C, (const B *)x->data, (B *)y->data);
        });
        KC_LAUNCHED();
        return KILN_OK;
    }
    return strided_gather(x->dtype, s, 0, x->data, y->data, n, st);
}

// ---------------------------------------------------------------- Concat / Split ----------------------------------
static kiln_status concat_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_TRY(bits_supports(n, g));
    for (int i = 1; i < n->n_in; i++) KILN_TRY(need_same_dtype(n, g, 0, i));
    return KILN_OK;
}

static kiln_status concat_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x0;
    KILN_TRY(in_req(k, 0, &x0));
    int r = x0->rank;
    int64_t axis = kiln_attr_int(k->node, "axis", 0);
    if (axis < 0) axis += r;
    KILN_FAIL_IF(axis < 0 || axis >= r, KILN_ERR_SHAPE, "Concat: axis out of range for rank %d", r);
    int64_t dims[KILN_MAX_DIMS];
    memcpy(dims, x0->dims, sizeof dims);
    dims[axis] = 0;
    char s1[256], s2[256];
    for (int i = 0; i < k->n_in; i++) {
        const kiln_cuda_tensor *xi;
        KILN_TRY(in_req(k, i, &xi));
        KILN_FAIL_IF(xi->dtype != x0->dtype || xi->rank != r, KILN_ERR_SHAPE, "Concat: input %d differs in dtype or rank",
                     i);
        for (int d = 0; d < r; d++)
            KILN_FAIL_IF(d != axis && xi->dims[d] != x0->dims[d], KILN_ERR_SHAPE, "Concat: inputs %s and %s differ",
                         shape_str(x0, s1, sizeof s1), shape_str(xi, s2, sizeof s2));
        dims[axis] += xi->dims[axis];
    }
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x0->dtype, r, dims, &y));
    int64_t outer = kiln_numel((int)axis, dims), inner = kiln_numel(r - (int)axis - 1, dims + axis + 1), at = 0;
    size_t es = kiln_dtype_size(x0->dtype);
    for (int i = 0; i < k->n_in; i++) {
        const kiln_cuda_tensor *xi = k->in[i];
        int64_t len = xi->dims[axis] * inner;
        KILN_TRY(copy_rows(x0->dtype, outer, len, xi->data, len, (char *)y->data + (size_t)(at * inner) * es,
                           dims[axis] * inner, stream(k)));
        at += xi->dims[axis];
    }
    return KILN_OK;
}

static kiln_status split_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x, *ts = k->node->opset >= 13 ? in(k, 1) : NULL;
    KILN_TRY(in_req(k, 0, &x));
    int r = x->rank, n = k->n_out;
    int64_t axis = kiln_attr_int(k->node, "axis", 0);
    if (axis < 0) axis += r;
    KILN_FAIL_IF(axis < 0 || axis >= r, KILN_ERR_SHAPE, "Split: axis out of range for rank %d", r);
    KILN_FAIL_IF(n > 64, KILN_ERR_UNSUPPORTED, "Split: %d outputs (at most 64 on CUDA)", n);
    int64_t dim = x->dims[axis], sizes[64];
    int ns = -1;
    if (ts) {
        KILN_TRY(host_ints(k, ts, "split (input 1)", sizes, 64, &ns));
    } else if (k->node->opset < 13 && kiln_node_attr(k->node, "split")) {
        const int64_t *s = kiln_attr_ints(k->node, "split", &ns);
        KILN_FAIL_IF(ns > 64, KILN_ERR_SHAPE, "Split: %d sizes", ns);
        for (int i = 0; i < ns; i++) sizes[i] = s[i];
    }
    if (ns >= 0) {
        KILN_FAIL_IF(ns != n, KILN_ERR_SHAPE, "Split has %d sizes for %d outputs", ns, n);
        int64_t sum = 0;
        for (int i = 0; i < n; i++) {
            KILN_FAIL_IF(sizes[i] < 0, KILN_ERR_SHAPE, "Split size %d is negative", i);
            sum += sizes[i];
        }
        KILN_FAIL_IF(sum != dim, KILN_ERR_SHAPE, "Split sizes sum to %lld, axis has %lld", (long long)sum,
                     (long long)dim);
    } else if (kiln_attr_int(k->node, "num_outputs", 0)) {
        int64_t chunk = (dim + n - 1) / n;
        for (int i = 0; i < n; i++) {
            int64_t left = dim - chunk * i;
            sizes[i] = left < 0 ? 0 : left < chunk ? left : chunk;
        }
    } else {
        KILN_FAIL_IF(dim % n, KILN_ERR_SHAPE, "Split cannot divide %lld into %d equal parts", (long long)dim, n);
        for (int i = 0; i < n; i++) sizes[i] = dim / n;
    }
    int64_t outer = kiln_numel((int)axis, x->dims), inner = kiln_numel(r - (int)axis - 1, x->dims + axis + 1), at = 0;
    size_t es = kiln_dtype_size(x->dtype);
    for (int i = 0; i < n; i++) {
        int64_t dims[KILN_MAX_DIMS];
        memcpy(dims, x->dims, sizeof dims);
        dims[axis] = sizes[i];
        kiln_cuda_tensor *y;
        KILN_TRY(kiln_cuda_kout(k, i, x->dtype, r, dims, &y));
        int64_t len = sizes[i] * inner;
        KILN_TRY(copy_rows(x->dtype, outer, len, (const char *)x->data + (size_t)(at * inner) * es, dim * inner,
                           y->data, len, stream(k)));
        at += sizes[i];
    }
    return KILN_OK;
}

// ---------------------------------------------------------------- Slice -------------------------------------------
static kiln_status slice_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    int r = x->rank, n = 0, na = -1, ns = -1;
    int64_t starts[KILN_MAX_DIMS], ends[KILN_MAX_DIMS], axes[KILN_MAX_DIMS], steps[KILN_MAX_DIMS];
    if (k->node->opset < 10) {
        int ne = 0;
        const int64_t *s = kiln_attr_ints(k->node, "starts", &n), *e = kiln_attr_ints(k->node, "ends", &ne);
        KILN_FAIL_IF(n != ne || n > KILN_MAX_DIMS, KILN_ERR_INVALID_GRAPH, "Slice: %d starts, %d ends", n, ne);
        for (int i = 0; i < n; i++) starts[i] = s[i], ends[i] = e[i];
        if (kiln_node_attr(k->node, "axes")) {
            const int64_t *a = kiln_attr_ints(k->node, "axes", &na);
            KILN_FAIL_IF(na > KILN_MAX_DIMS, KILN_ERR_INVALID_GRAPH, "Slice: %d axes", na);
            for (int i = 0; i < na; i++) axes[i] = a[i];
        }
    } else {
        const kiln_cuda_tensor *ts, *te, *ta = in(k, 3), *tp = in(k, 4);
        int ne = 0;
        KILN_TRY(in_req(k, 1, &ts));
        KILN_TRY(in_req(k, 2, &te));
        KILN_TRY(host_ints(k, ts, "starts", starts, KILN_MAX_DIMS, &n));
        KILN_TRY(host_ints(k, te, "ends", ends, KILN_MAX_DIMS, &ne));
        KILN_FAIL_IF(ne != n, KILN_ERR_SHAPE, "Slice has %d starts but %d ends", n, ne);
        if (ta) KILN_TRY(host_ints(k, ta, "axes", axes, KILN_MAX_DIMS, &na));
        if (tp) KILN_TRY(host_ints(k, tp, "steps", steps, KILN_MAX_DIMS, &ns));
    }
    KILN_FAIL_IF((na >= 0 && na != n) || (ns >= 0 && ns != n) || (na < 0 && n > r), KILN_ERR_SHAPE,
                 "Slice: starts/ends/axes/steps lengths disagree for rank %d", r);
    int64_t b[KILN_MAX_DIMS], step[KILN_MAX_DIMS], dims[KILN_MAX_DIMS], ist[KILN_MAX_DIMS];
    bool seen[KILN_MAX_DIMS] = {false};
    for (int d = 0; d < r; d++) b[d] = 0, step[d] = 1, dims[d] = x->dims[d];
    for (int i = 0; i < n; i++) {
        int a = na >= 0 ? norm_axis(axes[i], r) : i;
        KILN_FAIL_IF(a < 0 || a >= r || seen[a], KILN_ERR_SHAPE, "Slice: bad or repeated axis");
        seen[a] = true;
        int64_t d = x->dims[a], s = starts[i], e = ends[i], st = ns >= 0 ? steps[i] : 1;
        KILN_FAIL_IF(st == 0, KILN_ERR_SHAPE, "Slice: step 0 on axis %d", a);
        if (st == INT64_MIN) st = -INT64_MAX;
        if (s < 0) s += d;
        if (e < 0) e += d;
        if (st > 0) {
            s = s < 0 ? 0 : s > d ? d : s;
            e = e < 0 ? 0 : e > d ? d : e;
            dims[a] = e > s ? 1 + (e - s - 1) / st : 0;
        } else {
            s = s < 0 ? 0 : s > d - 1 ? d - 1 : s;
            e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
            dims[a] = s > e && d > 0 ? 1 + (s - e - 1) / -st : 0;
        }
        b[a] = dims[a] ? s : 0;
        step[a] = st;
    }
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, r, dims, &y));
    contiguous_strides(r, x->dims, ist);
    strided<1> s;
    s.rank = r;
    int64_t base = 0;
    for (int d = 0; d < r; d++) {
        base += b[d] * ist[d];
        s.dims[d] = dims[d], s.st[0][d] = step[d] * ist[d];
    }
    return strided_gather(x->dtype, s, base, x->data, y->data, numel(y), stream(k));
}

// ---------------------------------------------------------------- Expand / Tile -----------------------------------
static kiln_status expand_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x, *ts;
    KILN_TRY(in_req(k, 0, &x));
    KILN_TRY(in_req(k, 1, &ts));
    int64_t shape[KILN_MAX_DIMS], dims[KILN_MAX_DIMS];
    int n = 0, r = 0;
    KILN_TRY(host_ints(k, ts, "shape (input 1)", shape, KILN_MAX_DIMS, &n));
    KILN_TRY(kiln_broadcast_shape(x->rank, x->dims, n, shape, &r, dims));
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, r, dims, &y));
    return broadcast_copy(x->dtype, x->data, x->rank, x->dims, y->data, r, dims, stream(k));
}

struct tile_geom {
    int rank;
    int64_t odims[KILN_MAX_DIMS], idims[KILN_MAX_DIMS], ist[KILN_MAX_DIMS];
};

template <typename B> __global__ void tile_k(int64_t n, tile_geom g, const B *x, B *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t rem = i, src = 0;
        for (int d = g.rank - 1; d >= 0; d--) {
            int64_t o = rem % g.odims[d];
            rem /= g.odims[d];
            src += (o % g.idims[d]) * g.ist[d];
        }
        y[i] = x[src];
    }
}

static kiln_status tile_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x, *tr;
    KILN_TRY(in_req(k, 0, &x));
    KILN_TRY(in_req(k, 1, &tr));
    int64_t rep[KILN_MAX_DIMS];
    int n = 0;
    KILN_TRY(host_ints(k, tr, "repeats (input 1)", rep, KILN_MAX_DIMS, &n));
    KILN_FAIL_IF(n != x->rank, KILN_ERR_SHAPE, "Tile: %d repeats for rank %d", n, x->rank);
    tile_geom g;
    g.rank = x->rank;
    contiguous_strides(x->rank, x->dims, g.ist);
    for (int d = 0; d < x->rank; d++) {
        KILN_FAIL_IF(rep[d] < 0, KILN_ERR_SHAPE, "Tile: negative repeat");
        g.idims[d] = x->dims[d], g.odims[d] = x->dims[d] * rep[d];
    }
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, x->rank, g.odims, &y));
    int64_t total = numel(y);
    if (total == 0) return KILN_OK;
    cudaStream_t st = stream(k);
    with_bits(x->dtype, [&](auto t) {
        typedef decltype(t) B;
        tile_k<B><<<grid_for(total, 256), 256, 0, st>>>(total, g, (const B *)x->data, (B *)y->data);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

} // namespace kc

using namespace kc;

#define KC_MV(name, since, host, run) {name, "", since, host, bits_supports, nullptr, nullptr, run}
extern "C" const kiln_cuda_op_def kiln_cuda_ops_movement[] = {
    KC_MV("Reshape", 5, 1u << 1, reshape_run),
    KC_MV("Flatten", 1, 0, flatten_run),
    KC_MV("Squeeze", 1, 0, squeeze_run),
    KC_MV("Squeeze", 13, 1u << 1, squeeze_run),
    KC_MV("Unsqueeze", 1, 0, unsqueeze_run),
    KC_MV("Unsqueeze", 13, 1u << 1, unsqueeze_run),
    KC_MV("Transpose", 1, 0, transpose_run),
    {"Concat", "", 4, 0, concat_supports, nullptr, nullptr, concat_run},
    KC_MV("Split", 2, 0, split_run),
    KC_MV("Split", 13, 1u << 1, split_run),
    KC_MV("Slice", 1, 0, slice_run),
    KC_MV("Slice", 10, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4), slice_run),
    KC_MV("Expand", 8, 1u << 1, expand_run),
    KC_MV("Tile", 6, 1u << 1, tile_run),
    KC_MOVEMENT_INDEX_ENTRIES
    {nullptr, nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr},
};
#undef KC_MV
