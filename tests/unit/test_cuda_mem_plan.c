/* The CUDA activation memory planner (no GPU needed): sizes at the profile's max shapes, lifetimes, aliasing,
 * reuse, and validation that catches slots outside the arena or overlapping while alive. */
#include <stdio.h>
#include <string.h>

#include "kiln.h"

/* Without the CUDA backend the test only reports the skip: the helpers below would be unused (-Werror). */
#ifdef KILN_HAVE_CUDA
#include "check.h"
#include "cuda_testnet.h"
#include "plan/plan.h"
#include "backends/cuda/mem-plan.h"

static int node_of(const kiln_graph *g, const char *op) {
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].op_type, op)) return i;
    return -1;
}

static void plan_nodes(const kiln_graph *g, kiln_cuda_plan_node *nodes) {
    memset(nodes, 0, sizeof *nodes * (size_t)g->n_nodes);
    for (int i = 0; i < g->n_nodes; i++) {
        nodes[i].device = 1;
        nodes[i].op = kiln_cuda_find_op(g->nodes[i].op_type, g->nodes[i].domain, g->nodes[i].opset);
        if (!strcmp(g->nodes[i].op_type, "Reshape")) nodes[i].aliases = 1, nodes[i].host_inputs = 1u << 1;
    }
}

static void test_plan(void) {
    kiln_blob *blob = NULL;
    CHECK(tn_build(KILN_BACKEND_CPU, &blob) == KILN_OK);
    if (!blob) return;
    kiln_plan plan;
    CHECK(kiln_plan_read(kiln_blob_data(blob), kiln_blob_size(blob), &plan) == KILN_OK);
    const kiln_graph *g = plan.graph;
    kiln_cuda_plan_node nodes[64];
    CHECK(g->n_nodes <= 64);
    plan_nodes(g, nodes);
    kiln_cuda_mem_plan m;
    CHECK(kiln_cuda_mem_plan_build(g, nodes, plan.profiles, plan.n_profiles, &m) == KILN_OK);
    int conv = node_of(g, "Conv"), relu = node_of(g, "Relu"), pool = node_of(g, "MaxPool"),
        rs = node_of(g, "Reshape");
    CHECK(conv >= 0 && relu >= 0 && pool >= 0 && rs >= 0);
    if (conv < 0 || relu < 0 || pool < 0 || rs < 0) goto out;
    int vc = g->nodes[conv].out[0], vr = g->nodes[relu].out[0], vp = g->nodes[pool].out[0],
        vf = g->nodes[rs].out[0], vy = g->outputs[0];
    /* sized at the max batch: 8 x 8 x 16 x 16 floats */
    CHECK(m.size[vc] == (size_t)TN_MAXB * 8 * TN_HW * TN_HW * 4);
    CHECK(m.size[vp] == (size_t)TN_MAXB * 8 * 8 * 8 * 4);
    CHECK(m.offset[vc] >= 0 && m.offset[vr] >= 0 && m.offset[vp] >= 0 && m.offset[vy] >= 0);
    /* the Reshape output shares the pool output's slot, which then lives until the Reshape's reader */
    CHECK(m.alias[vf] == 1 && m.offset[vf] == -1);
    int reader = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (g->nodes[i].in[j] == vf) reader = i;
    CHECK(reader > rs && m.last[vp] >= reader);
    CHECK(m.last[vy] == g->n_nodes); /* graph outputs are read after the run */
    /* conv and relu are alive together: disjoint; conv is dead before the pool output is written: reuse */
    CHECK(m.offset[vc] + (int64_t)m.size[vc] <= m.offset[vr] || m.offset[vr] + (int64_t)m.size[vr] <= m.offset[vc]);
    size_t sum = 0;
    for (int v = 0; v < g->n_values; v++)
        if (m.offset[v] >= 0) {
            sum += m.size[v];
            CHECK(m.offset[v] % KILN_CUDA_ARENA_ALIGN == 0);
        }
    CHECK(m.arena_size < sum);
    CHECK(m.arena_size >= m.size[vc] + m.size[vr]);
    CHECK(m.scratch_size > 0); /* Conv and the GEMM reserve workspace */
    CHECK(m.n_unbounded == 0);
    CHECK(kiln_cuda_mem_plan_validate(&m) == KILN_OK);
    /* a slot past the arena, or two live values sharing memory, is refused */
    int64_t keep = m.offset[vy];
    m.offset[vy] = (int64_t)m.arena_size;
    CHECK(kiln_cuda_mem_plan_validate(&m) == KILN_ERR_INTERNAL);
    m.offset[vy] = keep;
    keep = m.offset[vr];
    m.offset[vr] = m.offset[vc];
    CHECK(kiln_cuda_mem_plan_validate(&m) == KILN_ERR_INTERNAL);
    m.offset[vr] = keep;
    CHECK(kiln_cuda_mem_plan_validate(&m) == KILN_OK);
out:
    kiln_cuda_mem_plan_free(&m);
    /* without a profile the batch is unbounded: nothing batch-dependent gets a slot */
    CHECK(kiln_cuda_mem_plan_build(g, nodes, NULL, 0, &m) == KILN_OK);
    CHECK(m.n_planned == 0 && m.n_unbounded > 0 && m.unbounded && strstr(m.unbounded, "'"));
    kiln_cuda_mem_plan_free(&m);
    kiln_plan_release(&plan);
    kiln_blob_destroy(blob);
}

int main(void) {
    test_plan();
    return CHECK_DONE();
}
#else
int main(void) {
    printf("skipped: this build has no CUDA backend\n");
    return 77;
}
#endif
