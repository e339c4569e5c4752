/* Graph passes: constant folding (chains, random ops and subgraph ops left alone, size cap) and dead-code
 * elimination (dead chains, unused initializers, values read only by subgraphs), and what they log. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "ir/graph.h"
#include "passes/passes.h"
#include "runtime/exec.h"

static char log_text[8192];
static void capture(void *user, kiln_severity sev, const char *msg) {
    (void)user;
    if (sev > KILN_SEV_INFO) return;
    size_t k = strlen(log_text);
    snprintf(log_text + k, sizeof log_text - k, "%s\n", msg);
}
static const kiln_logger lg = {capture, NULL};

static kiln_graph *new_graph(void) {
    kiln_graph *g = kiln_graph_create(NULL);
    g->opsets = kiln_arena_alloc(&g->arena, sizeof(kiln_opset));
    g->opsets[0].domain = "";
    g->opsets[0].version = 17;
    g->n_opsets = 1;
    return g;
}

static int value(kiln_graph *g, const char *name, kiln_dtype dt, int rank, const int64_t *dims) {
    int v = kiln_graph_add_value(g, name);
    g->values[v].type.dtype = dt;
    g->values[v].type.rank = rank;
    for (int i = 0; i < rank; i++) g->values[v].type.dims[i].v = dims[i];
    return v;
}

static int const_f32(kiln_graph *g, const char *name, int64_t r, int64_t c, float base) {
    int64_t d[2] = {r, c};
    int v = value(g, name, KILN_FLOAT, 2, d);
    kiln_tensor *t = calloc(1, sizeof *t);
    kiln_tensor_alloc(t, KILN_FLOAT, 2, d);
    float *p = t->data;
    for (int64_t i = 0; i < r * c; i++) p[i] = base + (float)i;
    g->values[v].init = t;
    return v;
}

static int node2(kiln_graph *g, const char *name, const char *op, int a, int b, int out) {
    int k = kiln_graph_add_node(g, name, op, "", 17, b >= 0 ? 2 : (a >= 0 ? 1 : 0), 1);
    if (a >= 0) g->nodes[k].in[0] = a;
    if (b >= 0) g->nodes[k].in[1] = b;
    g->nodes[k].out[0] = out;
    return k;
}

static const kiln_node *find_node(const kiln_graph *g, const char *name) {
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, name)) return &g->nodes[i];
    return NULL;
}

static void test_fold(void) {
    if (!kiln_cpu_find_op("MatMul", "", 17)) {
        fprintf(stderr, "no MatMul kernel: skipping folding tests\n");
        return;
    }
    kiln_graph *g = new_graph();
    int64_t xd[2] = {-1, 2};
    int x = value(g, "x", KILN_FLOAT, 2, xd);
    kiln_graph_add_input(g, x);
    int a = const_f32(g, "a", 2, 3, 1.0f);  /* [[1,2,3],[4,5,6]] */
    int b = const_f32(g, "b", 3, 2, 0.0f);  /* [[0,1],[2,3],[4,5]] */
    int c = const_f32(g, "c", 2, 2, -1.0f); /* [[-1,0],[1,2]] */
    int ab = value(g, "ab", KILN_FLOAT, 0, NULL), abc = value(g, "abc", KILN_FLOAT, 0, NULL);
    int y = value(g, "y", KILN_FLOAT, 0, NULL);
    node2(g, "mm_ab", "MatMul", a, b, ab);    /* constant */
    node2(g, "mm_abc", "MatMul", ab, c, abc); /* constant once mm_ab is folded */
    node2(g, "mm_y", "MatMul", x, abc, y);    /* depends on the input: stays */
    kiln_graph_add_output(g, y);
    /* a random op has no inputs but must not fold */
    int r = value(g, "r", KILN_FLOAT, 0, NULL);
    int k = kiln_graph_add_node(g, "rand", "RandomNormal", "", 17, 0, 1);
    g->nodes[k].out[0] = r;
    kiln_attr *ra = kiln_graph_node_alloc_attrs(g, k, 1);
    ra[0].name = "shape";
    ra[0].type = KILN_ATTR_INTS;
    ra[0].n = 1;
    ra[0].ints = kiln_arena_alloc(&g->arena, sizeof(int64_t));
    ra[0].ints[0] = 4;
    kiln_graph_add_output(g, r);
    /* a folded output larger than the cap stays a node: [4096,1] x [1,4097] floats = 64 MiB + 16 KiB */
    int big_a = const_f32(g, "big_a", 4096, 1, 0.0f), big_b = const_f32(g, "big_b", 1, 4097, 0.0f);
    int big = value(g, "big", KILN_FLOAT, 0, NULL);
    node2(g, "mm_big", "MatMul", big_a, big_b, big);
    kiln_graph_add_output(g, big);
    CHECK(kiln_graph_toposort(g) == KILN_OK);

    int folded = -1;
    log_text[0] = 0;
    CHECK(kiln_pass_fold_constants(g, &lg, &folded) == KILN_OK);
    CHECK(folded == 2);
    CHECK(strstr(log_text, "fold-constants: folded 2 nodes") != NULL);
    CHECK(g->n_nodes == 3 && find_node(g, "mm_y") && find_node(g, "rand") && find_node(g, "mm_big"));
    const kiln_tensor *t = g->values[abc].init;
    CHECK(t && t->owned && t->dtype == KILN_FLOAT && t->rank == 2 && t->dims[0] == 2 && t->dims[1] == 2);
    /* ab = [[16,22],[34,49]]; abc = ab @ c = [[6,44],[15,98]] */
    if (t) {
        const float *p = t->data;
        CHECK(p[0] == 6.0f && p[1] == 44.0f && p[2] == 15.0f && p[3] == 98.0f);
    }
    CHECK(g->values[abc].type.rank == 2 && g->values[abc].type.dims[1].v == 2);
    CHECK(g->values[ab].init != NULL);
    CHECK(kiln_graph_toposort(g) == KILN_OK); /* still a valid graph */

    int dn = -1, di = -1;
    log_text[0] = 0;
    CHECK(kiln_pass_dce(g, &lg, &dn, &di) == KILN_OK);
    /* a, b, ab and c are no longer read by anything */
    CHECK(dn == 0 && di == 4);
    CHECK(strstr(log_text, "dce: removed 0 nodes and 4 initializers") != NULL);
    CHECK(kiln_graph_find_value(g, "a") < 0 && kiln_graph_find_value(g, "ab") < 0);
    CHECK(kiln_graph_find_value(g, "abc") >= 0);
    CHECK(kiln_graph_toposort(g) == KILN_OK);

    /* the rewritten graph still runs and computes x @ abc */
    kiln_program *p = NULL;
    kiln_exec *e = NULL;
    CHECK(kiln_program_create(g, &p) == KILN_OK);
    CHECK(kiln_exec_create(p, NULL, &e) == KILN_OK);
    if (e) {
        float xv[2] = {1.0f, -1.0f};
        kiln_value *in = kiln_exec_input(e, 0);
        int64_t d[2] = {1, 2};
        CHECK(kiln_tensor_alloc(&in->t, KILN_FLOAT, 2, d) == KILN_OK);
        memcpy(in->t.data, xv, sizeof xv);
        in->kind = KILN_V_TENSOR;
        CHECK(kiln_exec_run(e) == KILN_OK);
        const float *yv = kiln_exec_output(e, 0)->t.data;
        CHECK(yv[0] == -9.0f && yv[1] == -54.0f);
    }
    kiln_exec_destroy(e);
    kiln_program_destroy(p);
    kiln_graph_destroy(g);
}

static void test_dce(void) {
    kiln_graph *g = new_graph();
    int64_t d[1] = {4};
    int x = value(g, "x", KILN_FLOAT, 1, d), unused_in = value(g, "unused_in", KILN_FLOAT, 1, d);
    kiln_graph_add_input(g, x);
    kiln_graph_add_input(g, unused_in);
    int w = const_f32(g, "w", 1, 4, 0.0f), dead_w = const_f32(g, "dead_w", 1, 4, 0.0f);
    const_f32(g, "orphan", 1, 1, 0.0f);
    int t1 = value(g, "t1", KILN_FLOAT, 0, NULL), t2 = value(g, "t2", KILN_FLOAT, 0, NULL);
    int d1 = value(g, "d1", KILN_FLOAT, 0, NULL), d2 = value(g, "d2", KILN_FLOAT, 0, NULL);
    int s = value(g, "s", KILN_FLOAT, 0, NULL), y = value(g, "y", KILN_FLOAT, 0, NULL);
    node2(g, "live1", "Add", x, w, t1);
    node2(g, "dead1", "Mul", x, dead_w, d1);  /* feeds only dead2 */
    node2(g, "dead2", "Relu", d1, -1, d2);    /* output unused */
    node2(g, "sub_src", "Neg", x, -1, s);     /* read only inside the If's branch, by name */
    int k = kiln_graph_add_node(g, "if", "If", "", 17, 1, 1);
    g->nodes[k].in[0] = t1;
    g->nodes[k].out[0] = t2;
    kiln_graph *br = kiln_graph_create(g);
    int s_outer = kiln_graph_add_value(br, "s");
    br->values[s_outer].is_outer = 1;
    kiln_graph_add_output(br, s_outer);
    kiln_attr *a = kiln_graph_node_alloc_attrs(g, k, 1);
    a[0].name = "then_branch";
    a[0].type = KILN_ATTR_GRAPH;
    a[0].g = br;
    node2(g, "live2", "Relu", t2, -1, y);
    kiln_graph_add_output(g, y);
    CHECK(kiln_graph_toposort(g) == KILN_OK);
    int dn = -1, di = -1;
    log_text[0] = 0;
    CHECK(kiln_pass_dce(g, &lg, &dn, &di) == KILN_OK);
    CHECK(dn == 2 && di == 2); /* dead1, dead2; dead_w, orphan */
    CHECK(strstr(log_text, "dce: removed 2 nodes and 2 initializers") != NULL);
    CHECK(g->n_nodes == 4 && !find_node(g, "dead1") && !find_node(g, "dead2") && find_node(g, "sub_src"));
    CHECK(kiln_graph_find_value(g, "unused_in") >= 0 && g->n_inputs == 2); /* inputs are kept */
    CHECK(kiln_graph_find_value(g, "dead_w") < 0 && kiln_graph_find_value(g, "d2") < 0);
    CHECK(kiln_graph_toposort(g) == KILN_OK);
    /* ids were renumbered consistently */
    const kiln_node *l2 = find_node(g, "live2");
    CHECK(l2 && !strcmp(g->values[l2->out[0]].name, "y") && !strcmp(g->values[g->outputs[0]].name, "y"));
    CHECK(!strcmp(g->values[find_node(g, "live1")->in[1]].name, "w"));
    kiln_graph_destroy(g);
}

/* Passes reach into subgraphs: a branch's constants fold inside it; a branch's dead node goes, and so does the
 * enclosing node that only it read. */
static void test_subgraphs(void) {
    kiln_graph *g = new_graph();
    int64_t d[1] = {2};
    int x = value(g, "x", KILN_FLOAT, 1, d), cond = value(g, "cond", KILN_BOOL, 0, NULL);
    kiln_graph_add_input(g, x);
    kiln_graph_add_input(g, cond);
    int u = value(g, "u", KILN_FLOAT, 0, NULL), y = value(g, "y", KILN_FLOAT, 0, NULL);
    node2(g, "only_for_branch", "Neg", x, -1, u);
    int k = kiln_graph_add_node(g, "if", "If", "", 17, 1, 1);
    g->nodes[k].in[0] = cond;
    g->nodes[k].out[0] = y;
    kiln_graph_add_output(g, y);
    kiln_graph *br = kiln_graph_create(g);
    int ca = const_f32(br, "ca", 1, 2, 1.0f), cb = const_f32(br, "cb", 2, 1, 3.0f); /* [1,2] @ [3,4]^T = 11 */
    int bo = value(br, "bo", KILN_FLOAT, 0, NULL);
    node2(br, "inner_mm", "MatMul", ca, cb, bo);
    int uo = kiln_graph_add_value(br, "u");
    br->values[uo].is_outer = 1;
    int bd = value(br, "bd", KILN_FLOAT, 0, NULL);
    node2(br, "branch_dead", "Relu", uo, -1, bd);
    kiln_graph_add_output(br, bo);
    kiln_attr *a = kiln_graph_node_alloc_attrs(g, k, 1);
    a[0].name = "then_branch";
    a[0].type = KILN_ATTR_GRAPH;
    a[0].g = br;
    CHECK(kiln_graph_toposort(g) == KILN_OK);

    if (kiln_cpu_find_op("MatMul", "", 17)) {
        int folded = -1;
        CHECK(kiln_pass_fold_constants(g, &lg, &folded) == KILN_OK);
        CHECK(folded == 1 && !find_node(br, "inner_mm"));
        const kiln_tensor *t = br->values[bo].init;
        CHECK(t && t->dtype == KILN_FLOAT && kiln_tensor_numel(t) == 1 && ((const float *)t->data)[0] == 11.0f);
    }
    int dn = -1, di = -1;
    CHECK(kiln_pass_dce(g, &lg, &dn, &di) == KILN_OK);
    CHECK(!find_node(br, "branch_dead") && !find_node(g, "only_for_branch") && find_node(g, "if"));
    CHECK(kiln_graph_find_value(br, "u") < 0 && kiln_graph_find_value(g, "u") < 0);
    CHECK(dn == 2);
    CHECK(di == (kiln_cpu_find_op("MatMul", "", 17) ? 2 : 0)); /* ca, cb once inner_mm is folded */
    CHECK(kiln_graph_toposort(g) == KILN_OK);
    kiln_graph_destroy(g);
}

int main(void) {
    test_subgraphs();
    test_dce();
    test_fold();
    return CHECK_DONE();
}
