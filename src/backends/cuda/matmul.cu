// CUDA kernels: matmul family (see registry.h): MatMul and Gemm through cuBLASLt.
//
// Row-major C[M,N] = op(A) op(B) is computed as the column-major C^T = op(B)^T op(A)^T, so no data is transposed.
// FP32 uses CUBLAS_COMPUTE_32F (no TF32: results match the CPU reference to ~1e-5 relative); FP16/BF16 accumulate
// in FP32. Algorithms come from cuBLASLt's heuristic and are cached per problem in the node's params (a small
// mutex-guarded table: the only state run() mutates, and it never changes results).
#include <cublasLt.h>
#include <stdio.h>
#include <stdlib.h>

#include <mutex>

#include "backends/cuda/broadcast.cuh"

namespace kc {

// cuBLASLt's workspace recommendation for Hopper; a workspace limit below it caps the node's workspace
// (KILN_CUDA_ATTR_WORKSPACE), which only narrows the heuristic's choice: cuBLASLt runs with no workspace at all.
static const size_t MM_WORKSPACE = (size_t)32 << 20;

// Compared with memcmp: six 32-bit fields, then 64-bit ones, so the struct has no padding.
struct gemm_problem {
    int32_t dt, trans_a, trans_b;
    int32_t align; // smallest alignment in bytes of A, B, C
    int32_t beta_nonzero, unused;
    int64_t m, n, k, lda, ldb, ldc;
    int64_t batch, sa, sb, sc; // strided batch (element strides; 0 broadcasts)
    bool operator==(const gemm_problem &o) const { return !memcmp(this, &o, sizeof o); }
};
static_assert(sizeof(gemm_problem) == 24 + 10 * 8, "gemm_problem must have no padding");

struct mm_params {
    int gemm;
    int trans_a, trans_b;
    float alpha, beta;
    size_t ws;           // workspace bytes this node may use
    std::mutex mu;
    static const int CACHE = 8;
    int n_cached, next;
    gemm_problem key[CACHE];
    cublasLtMatmulAlgo_t algo[CACHE];
};

static cudaDataType_t lt_type(kiln_dtype t) {
    return t == KILN_FLOAT16 ? CUDA_R_16F : t == KILN_BFLOAT16 ? CUDA_R_16BF : CUDA_R_32F;
}

static int ptr_align(const void *p) {
    uintptr_t a = (uintptr_t)p;
    int al = 256;
    while (al > 1 && (a % (uintptr_t)al)) al >>= 1;
    return al;
}

#define KC_LT(call) KILN_CUDA_CHECK_LT(call, #call)
static kiln_status lt_fail(const char *what, int code) {
    return kiln_cuda_error(__FILE__, __LINE__, what, code, cublasLtGetStatusString((cublasStatus_t)code));
}
#define KILN_CUDA_CHECK_LT(call, text)                                                                            \
    do {                                                                                                          \
        cublasStatus_t kc_st_ = (call);                                                                           \
        if (kc_st_ != CUBLAS_STATUS_SUCCESS) {                                                                    \
            st = lt_fail(text, (int)kc_st_);                                                                      \
            goto done;                                                                                            \
        }                                                                                                         \
    } while (0)

// C = alpha op(A) op(B) + beta C for row-major matrices (see the file comment for the mapping).
static kiln_status lt_gemm(kiln_cuda_kctx *k, mm_params *p, const gemm_problem &g, const void *a, const void *b,
                           void *c, float alpha, float beta) {
    kiln_status st = KILN_OK;
    cublasLtHandle_t h = (cublasLtHandle_t)k->cublaslt;
    cublasLtMatmulDesc_t op = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    cudaDataType_t dt = lt_type((kiln_dtype)g.dt);
    cublasOperation_t ta = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, tb = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasLtMatmulAlgo_t algo;
    bool have = false;
    void *ws = NULL;
    int32_t batch = (int32_t)g.batch;
    KILN_FAIL_IF(!h, KILN_ERR_INTERNAL, "%s: no cuBLASLt handle in the context", k->node->op_type);
    KILN_FAIL_IF(g.batch > INT32_MAX, KILN_ERR_UNSUPPORTED, "%s: batch %lld too large", k->node->op_type,
                 (long long)g.batch);
    if (p->ws) KILN_TRY(kiln_cuda_scratch(k, p->ws, &ws));
    KC_LT(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    KC_LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    KC_LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    // Lt's A is our B: op(B)^T is N x K.
    KC_LT(cublasLtMatrixLayoutCreate(&la, dt, g.trans_b ? g.k : g.n, g.trans_b ? g.n : g.k, g.ldb));
    KC_LT(cublasLtMatrixLayoutCreate(&lb, dt, g.trans_a ? g.m : g.k, g.trans_a ? g.k : g.m, g.lda));
    KC_LT(cublasLtMatrixLayoutCreate(&lc, dt, g.n, g.m, g.ldc));
    if (g.batch > 1) {
        KC_LT(cublasLtMatrixLayoutSetAttribute(la, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch));
        KC_LT(cublasLtMatrixLayoutSetAttribute(lb, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch));
        KC_LT(cublasLtMatrixLayoutSetAttribute(lc, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch));
        KC_LT(cublasLtMatrixLayoutSetAttribute(la, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &g.sb, sizeof g.sb));
        KC_LT(cublasLtMatrixLayoutSetAttribute(lb, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &g.sa, sizeof g.sa));
        KC_LT(cublasLtMatrixLayoutSetAttribute(lc, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &g.sc, sizeof g.sc));
    }
    {
        std::lock_guard<std::mutex> lock(p->mu);
        for (int i = 0; i < p->n_cached && !have; i++)
            if (p->key[i] == g) algo = p->algo[i], have = true;
    }
    if (!have) {
        cublasLtMatmulHeuristicResult_t res[8];
        int nres = 0;
        uint64_t wsb = p->ws;
        uint32_t al = (uint32_t)g.align;
        KC_LT(cublasLtMatmulPreferenceCreate(&pref));
        KC_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof wsb));
        KC_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al, sizeof al));
        KC_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al, sizeof al));
        KC_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al, sizeof al));
        KC_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al, sizeof al));
        KC_LT(cublasLtMatmulAlgoGetHeuristic(h, op, la, lb, lc, lc, pref, 8, res, &nres));
        for (int i = 0; i < nres && !have; i++)
            if (res[i].state == CUBLAS_STATUS_SUCCESS) algo = res[i].algo, have = true;
        if (!have) {
            st = kiln_error(KILN_ERR_UNSUPPORTED, "%s: cuBLASLt has no algorithm for M=%lld N=%lld K=%lld batch %lld",
                            k->node->op_type, (long long)g.m, (long long)g.n, (long long)g.k, (long long)g.batch);
            goto done;
        }
        std::lock_guard<std::mutex> lock(p->mu);
        int slot = p->n_cached < mm_params::CACHE ? p->n_cached++ : (p->next++ % mm_params::CACHE);
        p->key[slot] = g;
        p->algo[slot] = algo;
    }
    KC_LT(cublasLtMatmul(h, op, &alpha, b, la, a, lb, &beta, c, lc, c, lc, &algo, ws, p->ws, stream(k)));
done:
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (lc) cublasLtMatrixLayoutDestroy(lc);
    if (lb) cublasLtMatrixLayoutDestroy(lb);
    if (la) cublasLtMatrixLayoutDestroy(la);
    if (op) cublasLtMatmulDescDestroy(op);
    return st;
}

static gemm_problem problem(kiln_dtype dt, int ta, int tb, int64_t m, int64_t n, int64_t kk, const void *a,
                            const void *b, const void *c, int beta_nonzero) {
    gemm_problem g;
    memset(&g, 0, sizeof g); // padding too: problems compare with memcmp
    g.dt = dt, g.trans_a = ta, g.trans_b = tb, g.m = m, g.n = n, g.k = kk;
    g.lda = ta ? m : kk, g.ldb = tb ? kk : n, g.ldc = n;
    g.batch = 1;
    int al = ptr_align(a);
    if (ptr_align(b) < al) al = ptr_align(b);
    if (ptr_align(c) < al) al = ptr_align(c);
    g.align = al;
    g.beta_nonzero = beta_nonzero;
    return g;
}

static kiln_status mm_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_TRY(need_dtype(n, g, 0, is_float3, "float, float16 or bfloat16"));
    KILN_TRY(need_same_dtype(n, g, 0, 1));
    if (has_in(n, 2)) KILN_TRY(need_same_dtype(n, g, 0, 2));
    return KILN_OK;
}

static kiln_status mm_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    mm_params *p = new (std::nothrow) mm_params();
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->gemm = !strcmp(n->op_type, "Gemm");
    p->trans_a = p->gemm && kiln_attr_int(n, "transA", 0) != 0;
    p->trans_b = p->gemm && kiln_attr_int(n, "transB", 0) != 0;
    p->alpha = p->gemm ? kiln_attr_float(n, "alpha", 1.0f) : 1.0f;
    p->beta = p->gemm ? kiln_attr_float(n, "beta", 1.0f) : 0.0f;
    p->ws = MM_WORKSPACE;
    int nw = 0;
    const int64_t *w = kiln_attr_ints(n, KILN_CUDA_ATTR_WORKSPACE, &nw);
    if (w && (nw != 1 || w[0] < 0 || (uint64_t)w[0] > MM_WORKSPACE)) {
        delete p;
        return kiln_error(KILN_ERR_INVALID_GRAPH, "%s: %s attribute must be [bytes <= %zu]", n->op_type,
                          KILN_CUDA_ATTR_WORKSPACE, MM_WORKSPACE);
    }
    if (w) p->ws = (size_t)w[0];
    *params = p;
    return KILN_OK;
}

static size_t mm_scratch(const kiln_node *n, const kiln_graph *g, const kiln_type *types, const char **what,
                         int *known) {
    *what = "cuBLASLt workspace";
    int nw = 0;
    const int64_t *w = kiln_attr_ints(n, KILN_CUDA_ATTR_WORKSPACE, &nw);
    return w && nw == 1 && w[0] >= 0 && (uint64_t)w[0] <= MM_WORKSPACE ? (size_t)w[0] : MM_WORKSPACE;
}

// Nothing to time: cuBLASLt's heuristic is good for GEMMs. Under a workspace limit below MM_WORKSPACE the node's
// workspace is capped.
static kiln_status mm_tune(kiln_graph *g, int node, const kiln_type *opt, const kiln_type *max,
                           const kiln_cuda_tune_env *env, char *choice, size_t choice_cap) {
    choice[0] = 0;
    if (!env->limit || env->limit >= MM_WORKSPACE) return KILN_OK;
    int64_t w = (int64_t)env->limit;
    KILN_TRY(kiln_graph_node_set_ints(g, node, KILN_CUDA_ATTR_WORKSPACE, &w, 1));
    snprintf(choice, choice_cap, "cuBLASLt workspace capped at %lld bytes", (long long)w);
    return KILN_OK;
}

static void mm_release(void *params) { delete (mm_params *)params; }

static kiln_status matmul_run(kiln_cuda_kctx *k) {
    mm_params *p = (mm_params *)k->params;
    const kiln_cuda_tensor *a, *b;
    KILN_TRY(in_req(k, 0, &a));
    KILN_TRY(in_req(k, 1, &b));
    char s1[256], s2[256];
    KILN_FAIL_IF(a->dtype != b->dtype || !is_float3(a->dtype), KILN_ERR_TYPE, "MatMul: dtypes %s x %s on CUDA",
                 kiln_dtype_name(a->dtype), kiln_dtype_name(b->dtype));
    KILN_FAIL_IF(a->rank < 1 || b->rank < 1, KILN_ERR_SHAPE, "MatMul: scalar operands");
    // 1-D operands: A [K] is [1, K], B [K] is [K, 1]; the added dim is dropped from the output.
    int64_t m = a->rank == 1 ? 1 : a->dims[a->rank - 2], kk = a->dims[a->rank - 1];
    int64_t kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2], n = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    KILN_FAIL_IF(kk != kb, KILN_ERR_SHAPE, "MatMul: %s x %s: inner dims differ", shape_str(a, s1, sizeof s1),
                 shape_str(b, s2, sizeof s2));
    int rba = a->rank > 2 ? a->rank - 2 : 0, rbb = b->rank > 2 ? b->rank - 2 : 0, rb;
    int64_t bdims[KILN_MAX_DIMS];
    KILN_TRY(kiln_broadcast_shape(rba, a->dims, rbb, b->dims, &rb, bdims));
    int64_t odims[KILN_MAX_DIMS];
    int orank = 0;
    for (int i = 0; i < rb; i++) odims[orank++] = bdims[i];
    if (a->rank > 1) odims[orank++] = m;
    if (b->rank > 1) odims[orank++] = n;
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, a->dtype, orank, odims, &y));
    int64_t total = kiln_numel(orank, odims);
    if (total == 0) return KILN_OK;
    size_t es = kiln_dtype_size(a->dtype);
    if (kk == 0) {
        KILN_CUDA_CHECK(cudaMemsetAsync(y->data, 0, (size_t)total * es, stream(k)));
        return KILN_OK;
    }
    int64_t nb_b = kiln_numel(rbb, b->dims);
    if (nb_b == 1) { // B is one matrix: fold A's batch into M
        int64_t mm = kiln_numel(rba, a->dims) * m;
        gemm_problem g = problem(a->dtype, 0, 0, mm, n, kk, a->data, b->data, y->data, 0);
        return lt_gemm(k, p, g, a->data, b->data, y->data, 1.0f, 0.0f);
    }
    // Batch strides (in matrices) of A, B and the output over the broadcast batch shape; the innermost collapsed
    // batch dim goes to cuBLASLt as a strided batch, the rest loop here.
    strided<3> s;
    int64_t sta[KILN_MAX_DIMS], stb[KILN_MAX_DIMS];
    kiln_broadcast_strides(rba, a->dims, rb, bdims, sta);
    kiln_broadcast_strides(rbb, b->dims, rb, bdims, stb);
    s.rank = rb;
    for (int d = 0; d < rb; d++) s.dims[d] = bdims[d], s.st[0][d] = sta[d], s.st[1][d] = stb[d];
    contiguous_strides(rb, bdims, s.st[2]);
    strided_collapse(s);
    int last = s.rank - 1;
    int64_t outer = kiln_numel(last, s.dims);
    gemm_problem g = problem(a->dtype, 0, 0, m, n, kk, a->data, b->data, y->data, 0);
    g.batch = s.dims[last];
    g.sa = s.st[0][last] * m * kk, g.sb = s.st[1][last] * kk * n, g.sc = s.st[2][last] * m * n;
    for (int64_t o = 0; o < outer; o++) {
        int64_t off[3] = {0, 0, 0}, rem = o;
        for (int d = last - 1; d >= 0; d--) {
            int64_t q = rem / s.dims[d], r = rem - q * s.dims[d];
            for (int j = 0; j < 3; j++) off[j] += r * s.st[j][d];
            rem = q;
        }
        const char *pa = (const char *)a->data + off[0] * m * kk * es;
        const char *pb = (const char *)b->data + off[1] * kk * n * es;
        char *pc = (char *)y->data + off[2] * m * n * es;
        gemm_problem gi = g;
        gi.align = ptr_align(pa);
        if (ptr_align(pb) < gi.align) gi.align = ptr_align(pb);
        if (ptr_align(pc) < gi.align) gi.align = ptr_align(pc);
        KILN_TRY(lt_gemm(k, p, gi, pa, pb, pc, 1.0f, 0.0f));
    }
    return KILN_OK;
}

static kiln_status gemm_run(kiln_cuda_kctx *k) {
    mm_params *p = (mm_params *)k->params;
    const kiln_cuda_tensor *a, *b, *c = in(k, 2);
    KILN_TRY(in_req(k, 0, &a));
    KILN_TRY(in_req(k, 1, &b));
    char s1[256], s2[256];
    KILN_FAIL_IF(a->dtype != b->dtype || !is_float3(a->dtype) || (c && c->dtype != a->dtype), KILN_ERR_TYPE,
                 "Gemm: dtypes must be one of float, float16, bfloat16 and agree");
    KILN_FAIL_IF(a->rank != 2 || b->rank != 2, KILN_ERR_SHAPE, "Gemm: A %s and B %s must be 2-D",
                 shape_str(a, s1, sizeof s1), shape_str(b, s2, sizeof s2));
    int64_t m = p->trans_a ? a->dims[1] : a->dims[0], kk = p->trans_a ? a->dims[0] : a->dims[1];
    int64_t kb = p->trans_b ? b->dims[1] : b->dims[0], n = p->trans_b ? b->dims[0] : b->dims[1];
    KILN_FAIL_IF(kk != kb, KILN_ERR_SHAPE, "Gemm: A %s and B %s do not fit (transA %d, transB %d)",
                 shape_str(a, s1, sizeof s1), shape_str(b, s2, sizeof s2), p->trans_a, p->trans_b);
    int64_t dims[2] = {m, n};
    if (c) {
        int r;
        int64_t bd[KILN_MAX_DIMS];
        KILN_TRY(kiln_broadcast_shape(c->rank, c->dims, 2, dims, &r, bd));
        KILN_FAIL_IF(r != 2 || bd[0] != m || bd[1] != n, KILN_ERR_SHAPE, "Gemm: C %s does not broadcast to [%lld,%lld]",
                     shape_str(c, s1, sizeof s1), (long long)m, (long long)n);
    }
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, a->dtype, 2, dims, &y));
    if (m == 0 || n == 0) return KILN_OK;
    float beta = c ? p->beta : 0.0f;
    if (beta != 0.0f) KILN_TRY(broadcast_copy(a->dtype, c->data, c->rank, c->dims, y->data, 2, dims, stream(k)));
    if (kk == 0) { // alpha * 0 + beta * C
        if (beta == 0.0f)
            KILN_CUDA_CHECK(cudaMemsetAsync(y->data, 0, (size_t)(m * n) * kiln_dtype_size(a->dtype), stream(k)));
        else if (beta != 1.0f)
            return kiln_error(KILN_ERR_UNSUPPORTED, "Gemm: K = 0 with beta %g on CUDA", (double)beta);
        return KILN_OK;
    }
    gemm_problem g = problem(a->dtype, p->trans_a, p->trans_b, m, n, kk, a->data, b->data, y->data, beta != 0.0f);
    return lt_gemm(k, p, g, a->data, b->data, y->data, p->alpha, beta);
}

} // namespace kc

using namespace kc;

extern "C" const kiln_cuda_op_def kiln_cuda_ops_matmul[] = {
    {"MatMul", "", 1, 0, mm_supports, mm_prepare, mm_release, matmul_run, mm_scratch, mm_tune},
    {"Gemm", "", 7, 0, mm_supports, mm_prepare, mm_release, gemm_run, mm_scratch, mm_tune},
    {nullptr, nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr},
};
