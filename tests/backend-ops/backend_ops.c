/* backend-ops: every registered CUDA kernel against the CPU reference, on fresh random inputs.
 *
 *   backend_ops [--json FILE] [--filter OP[,OP...]]
 *
 * Prints one line per case (verdict, op, opset, case, max abs / rel error) and a per-op summary; every op in the
 * CUDA registry must have at least one case. Exits 0 when everything passes, 1 otherwise, and 77 (CTest's skip
 * code for this test) when there is no CUDA device. */
#include "harness.h"

#include "backends/cuda/registry.h"

static cudaStream_t g_stream;
static cublasLtHandle_t g_lt;
static cudnnHandle_t g_dnn;
static const char *g_filter;
static int g_dry; /* --dry-run: CPU reference, supports() and prepare() only (no device needed) */
static int n_cases;

static void fill_input(kiln_tensor *t, const tin *s) {
    int64_t n = kiln_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double u = urand(), v;
        switch (s->gen) {
        case G_UNI: v = s->lo + (s->hi - s->lo) * u; break;
        case G_NZ: v = (0.5 + 1.5 * u) * (urand() < 0.5 ? -1 : 1); break;
        case G_INT: v = floor(s->lo + (s->hi - s->lo + 1) * u); break;
        case G_HALVES: v = floor(2 * s->lo + (2 * (s->hi - s->lo) + 1) * u) / 2; break;
        case G_BOOL: v = u < 0.5; break;
        case G_FVALS: v = s->fvals[i]; break;
        default: v = s->rank == 0 ? s->lo : (double)s->vals[i]; break;
        }
        if (s->gen == G_VALS && s->rank > 0 && !kiln_dtype_is_float(t->dtype)) /* exact, e.g. INT64_MAX ends */
            kiln_store_i64(t->dtype, t->data, i, s->vals[i]);
        else if (t->dtype == KILN_BOOL) ((uint8_t *)t->data)[i] = v != 0;
        else if (t->dtype == KILN_INT64 || t->dtype == KILN_INT32) kiln_store_i64(t->dtype, t->data, i, (int64_t)v);
        else kiln_store_f64(t->dtype, t->data, i, v);
    }
}

static void out_tol(kiln_dtype dt, double *rtol, double *atol) {
    *rtol = C.rtol, *atol = C.atol;
    if (dt == KILN_FLOAT16) *rtol = fmax(*rtol, 2e-3), *atol = fmax(*atol, 1e-3);
    if (dt == KILN_BFLOAT16) *rtol = fmax(*rtol, 1.6e-2), *atol = fmax(*atol, 1e-2);
}

/* 0 when got matches ref within the case's tolerance; detail says why not. */
static int compare(const kiln_tensor *ref, const kiln_cuda_tensor *got, double *max_abs, double *max_rel, char *detail,
                   size_t dn) {
    char s1[256], s2[256];
    if (ref->dtype != got->dtype || ref->rank != got->rank ||
        memcmp(ref->dims, got->dims, sizeof(int64_t) * (size_t)ref->rank)) {
        snprintf(detail, dn, "expected %s%s, got %s%s", kiln_dtype_name(ref->dtype),
                 kiln_shape_str(ref->rank, ref->dims, s1, sizeof s1), kiln_dtype_name(got->dtype),
                 kiln_shape_str(got->rank, got->dims, s2, sizeof s2));
        return 1;
    }
    int64_t n = kiln_tensor_numel(ref);
    size_t bytes = (size_t)n * kiln_dtype_size(ref->dtype);
    void *h = malloc(bytes ? bytes : 1);
    if (!h || (bytes && cudaMemcpy(h, got->data, bytes, cudaMemcpyDeviceToHost) != cudaSuccess)) {
        snprintf(detail, dn, "copy back failed");
        free(h);
        return 1;
    }
    double rtol, atol;
    out_tol(ref->dtype, &rtol, &atol);
    int64_t bad = 0, first = -1;
    double fa = 0, fb = 0;
    for (int64_t i = 0; i < n; i++) {
        if (kiln_dtype_is_float(ref->dtype)) {
            double a = kiln_load_f64(ref->dtype, h, i), b = kiln_load_f64(ref->dtype, ref->data, i);
            if ((a != a && b != b) || a == b) continue;
            double e = fabs(a - b);
            if (e > *max_abs) *max_abs = e;
            if (fabs(b) > 1e-6 && e / fabs(b) > *max_rel) *max_rel = e / fabs(b);
            if (!(e <= atol + rtol * fabs(b))) {
                if (!bad++) first = i, fa = a, fb = b;
            }
        } else if (ref->dtype == KILN_BOOL) {
            int a = ((uint8_t *)h)[i] != 0, b = ((uint8_t *)ref->data)[i] != 0;
            if (a != b && !bad++) first = i, fa = a, fb = b;
        } else {
            int64_t a = kiln_load_i64(ref->dtype, h, i), b = kiln_load_i64(ref->dtype, ref->data, i);
            if (a != b) {
                double e = fabs((double)a - (double)b);
                if (e > *max_abs) *max_abs = e;
                if (!bad++) first = i, fa = (double)a, fb = (double)b;
            }
        }
    }
    free(h);
    if (bad) snprintf(detail, dn, "%lld of %lld elements differ; first at %lld: cuda %.9g, cpu %.9g", (long long)bad,
                      (long long)n, (long long)first, fa, fb);
    return bad != 0;
}

/* Whether op is selected by --filter (a comma-separated list of op types; none: every op). */
static int selected(const char *op) {
    if (!g_filter) return 1;
    size_t n = strlen(op);
    for (const char *p = g_filter; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, op, n)) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

static void run_case(void) {
    if (!selected(C.op)) return;
    n_cases++;
    rng_state = 0x9e3779b97f4a7c15ull ^ ((uint64_t)n_cases * 0x100000001b3ull);
    kiln_tensor hin[MAX_IN];
    memset(hin, 0, sizeof hin);
    for (int i = 0; i < C.n_in; i++) {
        if (C.in[i].gen == G_ABSENT) continue;
        kiln_tensor_alloc(&hin[i], C.in[i].dt, C.in[i].rank, C.in[i].dims);
        fill_input(&hin[i], &C.in[i]);
    }
    char detail[512] = "";
    double max_abs = 0, max_rel = 0;
    const char *verdict = "FAIL";

    /* The one-node graph, with input types declared as a builder would have inferred them. */
    kiln_graph *g = kiln_graph_create(NULL);
    g->opsets = kiln_arena_alloc(&g->arena, sizeof(kiln_opset));
    g->opsets[0].domain = "";
    g->opsets[0].version = C.opset;
    g->n_opsets = 1;
    int node = kiln_graph_add_node(g, "n0", C.op, "", C.opset, C.n_in, C.n_out);
    kiln_attr *attrs = kiln_graph_node_alloc_attrs(g, node, C.n_attrs);
    if (C.n_attrs) memcpy(attrs, C.attrs, sizeof(kiln_attr) * (size_t)C.n_attrs);
    char name[16];
    for (int i = 0; i < C.n_in; i++) {
        if (C.in[i].gen == G_ABSENT) continue;
        snprintf(name, sizeof name, "x%d", i);
        int v = kiln_graph_add_value(g, name);
        kiln_type *t = &g->values[v].type;
        t->kind = KILN_KIND_TENSOR;
        t->dtype = C.in[i].dt;
        t->rank = C.in[i].rank;
        for (int d = 0; d < t->rank; d++) t->dims[d].v = C.in[i].dims[d];
        g->nodes[node].in[i] = v;
        if (C.in[i].is_const) {
            kiln_tensor *init = calloc(1, sizeof *init); /* owned by the graph from here */
            if (init) kiln_tensor_copy(init, &hin[i]);
            g->values[v].init = init;
        } else {
            kiln_graph_add_input(g, v);
        }
    }
    for (int i = 0; i < C.n_out; i++) {
        snprintf(name, sizeof name, "y%d", i);
        int v = kiln_graph_add_value(g, name);
        g->nodes[node].out[i] = v;
        kiln_graph_add_output(g, v);
    }
    kiln_program *prog = NULL;
    kiln_exec *ex = NULL;
    kiln_status st = kiln_graph_toposort(g);
    if (st == KILN_OK) st = kiln_program_create(g, &prog);
    if (st == KILN_OK) st = kiln_exec_create(prog, NULL, &ex);
    for (int i = 0, k = 0; st == KILN_OK && i < C.n_in; i++) {
        if (C.in[i].gen == G_ABSENT || C.in[i].is_const) continue;
        kiln_value *v = kiln_exec_input(ex, k++);
        kiln_tensor_borrow(&v->t, &hin[i]);
        v->kind = KILN_V_TENSOR;
    }
    if (st == KILN_OK) st = kiln_exec_run(ex);
    const kiln_cuda_op_def *def = kiln_cuda_find_op(C.op, "", C.opset);
    void *params = NULL;
    kiln_cuda_tensor din[MAX_IN];
    const kiln_cuda_tensor *dinp[MAX_IN];
    memset(dinp, 0, sizeof dinp);
    int prepared = 0;
    if (st != KILN_OK && !C.expect_unsupported) {
        snprintf(detail, sizeof detail, "CPU reference failed: %s", kiln_error_text());
        goto done;
    }
    if (!def) {
        snprintf(detail, sizeof detail, "no CUDA kernel registered");
        goto done;
    }
    kiln_status sup = def->supports ? def->supports(&g->nodes[node], g) : KILN_OK;
    if (C.expect_unsupported) {
        if (sup != KILN_OK) verdict = "PASS", snprintf(detail, sizeof detail, "refused: %s", kiln_error_text());
        else snprintf(detail, sizeof detail, "supports() accepted a case it cannot run");
        goto done;
    }
    if (sup != KILN_OK) {
        snprintf(detail, sizeof detail, "supports() refused: %s", kiln_error_text());
        goto done;
    }
    if (def->prepare && (st = def->prepare(&g->nodes[node], g, &params)) != KILN_OK) {
        snprintf(detail, sizeof detail, "prepare failed: %s", kiln_error_text());
        goto done;
    }
    prepared = 1;
    if (g_dry) {
        verdict = "PASS";
        snprintf(detail, sizeof detail, "dry run: CUDA kernel not executed");
        goto done;
    }
    for (int i = 0; i < C.n_in; i++) {
        if (C.in[i].gen == G_ABSENT) continue;
        kiln_cuda_tensor *t = &din[i];
        memset(t, 0, sizeof *t);
        t->dtype = hin[i].dtype;
        t->rank = hin[i].rank;
        memcpy(t->dims, hin[i].dims, sizeof t->dims);
        size_t bytes = kiln_tensor_nbytes(&hin[i]);
        if (def->host_inputs & (1u << i)) {
            t->data = hin[i].data;
        } else {
            cudaMalloc(&t->data, bytes ? bytes : 1);
            if (bytes) cudaMemcpy(t->data, hin[i].data, bytes, cudaMemcpyHostToDevice);
        }
        dinp[i] = t;
    }
    kiln_cuda_kctx k;
    memset(&k, 0, sizeof k);
    k.node = &g->nodes[node];
    k.params = params;
    k.n_in = C.n_in;
    k.n_out = C.n_out;
    k.in = dinp;
    k.stream = g_stream;
    k.cublaslt = g_lt;
    k.cudnn = g_dnn;
    k.exec = (struct kiln_cuda_exec *)&H;
    memset(H.outs, 0, sizeof H.outs);
    st = def->run(&k);
    cudaError_t ce = cudaStreamSynchronize(g_stream);
    if (st != KILN_OK) {
        snprintf(detail, sizeof detail, "CUDA run failed: %s", kiln_error_text());
        goto done;
    }
    if (ce != cudaSuccess || (ce = cudaGetLastError()) != cudaSuccess) {
        snprintf(detail, sizeof detail, "CUDA error: %s", cudaGetErrorString(ce));
        goto done;
    }
    if (kiln_cuda_take_kernel_errors() != KILN_OK) {
        snprintf(detail, sizeof detail, "unexpected kernel error: %s", kiln_error_text());
        goto done;
    }
    int bad = 0;
    for (int i = 0; i < C.n_out && !bad; i++) {
        const kiln_tensor *ref = &kiln_exec_output(ex, i)->t;
        if (!H.outs[i].data && kiln_tensor_numel(ref) > 0) {
            snprintf(detail, sizeof detail, "output %d not produced", i);
            bad = 1;
            break;
        }
        char d2[400] = "";
        if (compare(ref, &H.outs[i], &max_abs, &max_rel, d2, sizeof d2)) {
            snprintf(detail, sizeof detail, "output %d: %s", i, d2);
            bad = 1;
        }
    }
    if (!bad) verdict = "PASS";
done:
    report(verdict, max_abs, max_rel, detail);
    for (int i = 0; i < C.n_in; i++)
        if (dinp[i] && !(def && (def->host_inputs & (1u << i)))) cudaFree(din[i].data);
    if (prepared && def->release) def->release(params);
    kiln_exec_destroy(ex);
    kiln_program_destroy(prog);
    kiln_graph_destroy(g);
    for (int i = 0; i < C.n_in; i++) kiln_tensor_release(&hin[i]);
    kiln_error_clear();
}

#include "cases-math.h"
#include "cases-data.h"
#include "cases-more.h"

/* Every registered op must have been exercised. */
static int coverage(void) {
    int missing = 0;
#define KC_COVER(fam)                                                                                              \
    for (const kiln_cuda_op_def *d = kiln_cuda_ops_##fam; d->op_type; d++) {                                       \
        int seen = 0;                                                                                              \
        for (int i = 0; i < n_stats; i++) seen |= !strcmp(stats[i].name, d->op_type);                              \
        if (!seen && selected(d->op_type)) {                                                                       \
            printf("FAIL %-22s (family " #fam "): registered but no backend-ops case\n", d->op_type);              \
            missing++;                                                                                             \
        }                                                                                                          \
    }
    KILN_CUDA_FAMILIES(KC_COVER)
#undef KC_COVER
    return missing;
}

int main(int argc, char **argv) {
    const char *json_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json") && i + 1 < argc) json_path = argv[++i];
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc) g_filter = argv[++i];
        else if (!strcmp(argv[i], "--dry-run")) g_dry = 1;
    }
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        cudaGetLastError();
        if (!g_dry) {
            printf("SKIPPED: no CUDA device\n");
            return 77;
        }
    }
    struct cudaDeviceProp prop;
    memset(&prop, 0, sizeof prop);
    snprintf(prop.name, sizeof prop.name, "none (dry run)");
    if (g_dry) {
        printf("dry run: CPU reference, supports() and prepare() only\n");
    } else if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess ||
               cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking) != cudaSuccess ||
               cublasLtCreate(&g_lt) != CUBLAS_STATUS_SUCCESS || cudnnCreate(&g_dnn) != CUDNN_STATUS_SUCCESS ||
               cudnnSetStream(g_dnn, g_stream) != CUDNN_STATUS_SUCCESS) {
        printf("FAIL: could not create the CUDA stream / cuBLASLt / cuDNN handles\n");
        return 1;
    }
    if (!g_dry) {
        printf("device: %s (sm_%d%d), cuDNN %zu, cuBLASLt %zu\n", prop.name, prop.major, prop.minor,
               cudnnGetVersion(), cublasLtGetVersion());
        kiln_cuda_take_kernel_errors(); /* start from a clean record */
    }
    if (json_path && !(json = fopen(json_path, "w"))) fprintf(stderr, "cannot write %s\n", json_path);
    if (json) fprintf(json, "{\n  \"device\": \"%s\",\n  \"cases\": [", prop.name);

    cases_eltwise();
    cases_matmul();
    cases_conv();
    cases_pool();
    cases_norm();
    cases_reduce();
    cases_movement();
    cases_resize();
    cases_index();
    cases_layout_scan();
    cases_einsum_lrn();
    cases_attention();

    int missing = coverage(), pass = 0, fail = 0;
    printf("\n%-22s %5s %5s %12s %12s\n", "op", "pass", "fail", "max_abs", "max_rel");
    for (int i = 0; i < n_stats; i++) {
        printf("%-22s %5d %5d %12.3g %12.3g\n", stats[i].name, stats[i].pass, stats[i].fail, stats[i].max_abs,
               stats[i].max_rel);
        pass += stats[i].pass;
        fail += stats[i].fail;
    }
    printf("\nbackend-ops: %d ops, %d cases: %d passed, %d failed, %d registered ops without cases\n", n_stats,
           pass + fail, pass, fail, missing);
    if (json) {
        fprintf(json, "\n  ],\n  \"ops\": [");
        for (int i = 0; i < n_stats; i++)
            fprintf(json, "%s\n    {\"op\": \"%s\", \"pass\": %d, \"fail\": %d, \"max_abs\": %.6g, \"max_rel\": %.6g}",
                    i ? "," : "", stats[i].name, stats[i].pass, stats[i].fail, stats[i].max_abs, stats[i].max_rel);
        fprintf(json, "\n  ],\n  \"passed\": %d,\n  \"failed\": %d,\n  \"untested_ops\": %d\n}\n", pass, fail, missing);
        fclose(json);
    }
    for (int i = 0; i < MAX_OUT; i++)
        if (H.buf[i]) cudaFree(H.buf[i]);
    if (H.scratch) cudaFree(H.scratch);
    if (!g_dry) {
        cudnnDestroy(g_dnn);
        cublasLtDestroy(g_lt);
        cudaStreamDestroy(g_stream);
    }
    return fail || missing ? 1 : 0;
}
