/* Shape inference bounds every device value of a transformer export: the BERT-like models of
 * tests/models/onnx/make_bert_like.py (run-time shape chains Shape -> Slice/Gather -> Unsqueeze -> Concat ->
 * Reshape/Expand, torchlib's attention, Constant nodes, MatMul+Add fused into Gemm, Erf-GELU) get a CUDA memory
 * plan with no on-demand buffer, and every inferred shape equals the one the CPU executor produces when the
 * graph runs at the profile's maximum shapes (static model: its declared shapes). No GPU needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln.h"

#ifdef KILN_HAVE_CUDA
#include "backends/cuda/exec-cuda.h"
#include "backends/cuda/mem-plan.h"
#include "check.h"
#include "core/dtype.h"
#include "plan/plan.h"
#include "runtime/exec.h"
#include "shape/infer.h"

#define MAXB 3
#define MAXS 24

static kiln_status build(const char *path, int dynamic, kiln_blob **blob) {
    kiln_builder *b = NULL;
    kiln_network *n = NULL;
    kiln_onnx_parser *ps = NULL;
    kiln_config *cfg = NULL;
    kiln_profile *p = NULL;
    static const char *const inputs[] = {"input_ids", "attention_mask", "token_type_ids"};
    kiln_status st = kiln_builder_create(NULL, &b);
    if (st == KILN_OK) st = kiln_network_create(b, &n);
    if (st == KILN_OK) st = kiln_onnx_parser_create(n, &ps);
    if (st == KILN_OK) st = kiln_onnx_parse_file(ps, path);
    if (st == KILN_OK) st = kiln_config_create(b, &cfg);
    if (st == KILN_OK) st = kiln_config_set_backend(cfg, KILN_BACKEND_CPU);
    if (st == KILN_OK && dynamic) {
        int64_t lo[2] = {1, 1}, opt[2] = {2, 8}, hi[2] = {MAXB, MAXS};
        st = kiln_profile_create(b, &p);
        for (int i = 0; i < 3 && st == KILN_OK; i++) {
            st = kiln_profile_set_shape(p, inputs[i], KILN_PROFILE_MIN, 2, lo);
            if (st == KILN_OK) st = kiln_profile_set_shape(p, inputs[i], KILN_PROFILE_OPT, 2, opt);
            if (st == KILN_OK) st = kiln_profile_set_shape(p, inputs[i], KILN_PROFILE_MAX, 2, hi);
        }
        if (st == KILN_OK) st = kiln_config_add_profile(cfg, p);
    }
    if (st == KILN_OK) st = kiln_build_serialized(b, n, cfg, blob);
    if (st != KILN_OK) fprintf(stderr, "%s: %s\n", path, kiln_error_text());
    kiln_onnx_parser_destroy(ps);
    kiln_profile_destroy(p);
    kiln_config_destroy(cfg);
    kiln_network_destroy(n);
    kiln_builder_destroy(b);
    return st;
}

static int aliasing(const kiln_node *n) {
    static const char *const ops[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        if (!strcmp(n->op_type, ops[k]) && !n->domain[0]) return 1;
    return 0;
}

/* Runs the plan's graph node by node on the CPU at (b, s) and checks each node output's shape against `types`. */
static void check_against_run(const kiln_graph *g, const kiln_type *types, int64_t b, int64_t s) {
    kiln_program *prog = NULL;
    kiln_exec *e = NULL;
    CHECK(kiln_program_create(g, &prog) == KILN_OK);
    if (prog) CHECK(kiln_exec_create(prog, NULL, &e) == KILN_OK);
    if (!e) {
        kiln_program_destroy(prog);
        return;
    }
    int64_t dims[2] = {b, s};
    for (int i = 0; i < g->n_inputs; i++) {
        kiln_value *v = kiln_exec_input(e, i);
        v->kind = KILN_V_TENSOR;
        CHECK(kiln_tensor_alloc(&v->t, KILN_INT64, 2, dims) == KILN_OK);
        int64_t *d = v->t.data;
        int ids = strstr(g->values[g->inputs[i]].name, "ids") != NULL;
        for (int64_t k = 0; k < b * s; k++) d[k] = ids ? (k * 7) % 2 : k % s < s - 2; /* the mask pads 2 */
    }
    int mismatches = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        CHECK(kiln_exec_run_node(e, i) == KILN_OK);
        const kiln_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_out; j++) {
            if (n->out[j] < 0) continue;
            const kiln_value *v = kiln_exec_value(e, n->out[j]);
            const kiln_type *t = &types[n->out[j]];
            int same = v->kind == KILN_V_TENSOR && t->rank == v->t.rank && t->dtype == v->t.dtype;
            for (int d = 0; same && d < t->rank; d++) same = t->dims[d].v == v->t.dims[d];
            if (!same && mismatches++ < 8) {
                char buf[128];
                fprintf(stderr, "  node %d (%s) output '%s': inferred %s, the run gives rank %d\n", i, n->op_type,
                        g->values[n->out[j]].name, kiln_type_str(t, buf, sizeof buf), v->t.rank);
            }
        }
    }
    CHECK(mismatches == 0);
    kiln_exec_destroy(e);
    kiln_program_destroy(prog);
}

static void test_model(const char *path, int dynamic) {
    kiln_blob *blob = NULL;
    CHECK(build(path, dynamic, &blob) == KILN_OK);
    if (!blob) return;
    kiln_plan plan;
    CHECK(kiln_plan_read(kiln_blob_data(blob), kiln_blob_size(blob), &plan) == KILN_OK);
    const kiln_graph *g = plan.graph;
    CHECK(plan.n_profiles == (dynamic ? 1 : 0));
    int n_gemm = 0, n_gelu = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        n_gemm += !strcmp(g->nodes[i].op_type, "Gemm");
        n_gelu += !strcmp(g->nodes[i].op_type, "Gelu");
    }
    if (n_gelu != 2 || (!dynamic && n_gemm != 13)) fprintf(stderr, "%s: %d Gemm, %d Gelu\n", path, n_gemm, n_gelu);
    /* the passes ran: GELU fused; the 6 projections a layer and the pooler became Gemm (fuse-gemm needs A with at
     * most one dynamic leading dim: not so with batch and sequence both dynamic) */
    CHECK(n_gelu == 2 && (dynamic || n_gemm == 13));
    /* symbolically too (the build's inference, no profile bound): every dim a number or "batch" / "seq" */
    int n_sym = 0, n_open = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_out; j++) {
            const kiln_type *t = g->nodes[i].out[j] >= 0 ? &g->values[g->nodes[i].out[j]].type : NULL;
            int open = !t || t->rank < 0 || t->dtype == KILN_UNDEFINED;
            for (int d = 0; t && d < t->rank; d++) {
                open |= t->dims[d].v < 0 && !t->dims[d].sym;
                n_sym += t->dims[d].sym != NULL;
            }
            if (open && n_open++ < 4 && !dynamic) {
                char buf[128];
                fprintf(stderr, "%s: node %d (%s) has type %s\n", path, i, g->nodes[i].op_type,
                        t ? kiln_type_str(t, buf, sizeof buf) : "-");
            }
        }
    /* except the key's 3-D view in each layer ([batch * heads, seq, head dim] and its transpose): no dim names a
     * product of symbols */
    CHECK(n_open == (dynamic ? 4 : 0));
    CHECK(dynamic ? n_sym > 100 : n_sym == 0);
    kiln_cuda_program *p = NULL;
    CHECK(kiln_cuda_program_create(g, 0, &p) == KILN_OK);
    kiln_cuda_plan_node *nodes = calloc((size_t)g->n_nodes + 1, sizeof *nodes);
    kiln_type *types = calloc((size_t)g->n_values + 1, sizeof *types);
    CHECK(nodes && types);
    if (!p || !nodes || !types) goto out;
    int n_dev = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const char *why = NULL;
        nodes[i].device = kiln_cuda_program_place(p, i, &why) == KILN_PLACE_DEVICE;
        nodes[i].aliases = nodes[i].device && aliasing(&g->nodes[i]);
        nodes[i].op = kiln_cuda_program_op(p, i);
        nodes[i].host_inputs = nodes[i].op ? nodes[i].op->host_inputs : 0;
        n_dev += nodes[i].device;
    }
    CHECK(n_dev > g->n_nodes / 2);
    kiln_cuda_mem_plan m;
    CHECK(kiln_cuda_mem_plan_build(g, nodes, plan.profiles, plan.n_profiles, &m) == KILN_OK);
    if (m.n_unbounded) fprintf(stderr, "%s: %d unbounded values: %s\n", path, m.n_unbounded, m.unbounded);
    CHECK(m.n_unbounded == 0);
    CHECK(m.n_planned > 50 && m.arena_size > 0);
    /* the sizes are those of the run at the maximum shapes */
    CHECK(kiln_cuda_profile_types(g, plan.profiles, plan.n_profiles, 0, types) == KILN_OK);
    int64_t b = dynamic ? MAXB : 2, s = dynamic ? MAXS : 16;
    int n_checked = 0;
    for (int v = 0; v < g->n_values; v++) {
        if (m.offset[v] < 0) continue;
        size_t bytes = kiln_dtype_size(types[v].dtype);
        for (int d = 0; d < types[v].rank; d++) bytes *= (size_t)(types[v].dims[d].v < 0 ? 0 : types[v].dims[d].v);
        CHECK(bytes > 0 && m.size[v] >= bytes && m.size[v] < bytes + KILN_CUDA_ARENA_ALIGN);
        n_checked++;
    }
    CHECK(n_checked == m.n_planned);
    check_against_run(g, types, b, s);
    kiln_cuda_mem_plan_free(&m);
out:
    free(nodes);
    free(types);
    kiln_cuda_program_destroy(p);
    kiln_plan_release(&plan);
    kiln_blob_destroy(blob);
}

int main(void) {
    test_model("tests/models/onnx/bert_like_static.onnx", 0);
    test_model("tests/models/onnx/bert_like_dynamic.onnx", 1);
    return CHECK_DONE();
}
#else
int main(void) {
    printf("skipped: this build has no CUDA backend\n");
    return 77;
}
#endif
