/* fuse-gemm: MatMul + Add(bias) becomes Gemm (2-D), or Reshape -> Gemm -> Reshape for a 3-D activation (also
 * with a dynamic leading dim), computing the same outputs; patterns whose bias is not along the last axis, whose
 * product has other readers, whose B is not a constant, or whose A has an unknown rank stay as they are. */
#include "fuse_testutil.h"

/* x[xd] @ W[k, n] + bias[bd]; bias_first puts the bias as the Add's first input. */
static kiln_graph *mm_add(int rank, const int64_t *xd, int64_t k, int64_t n, int bias_rank, const int64_t *bd,
                          int bias_first) {
    kiln_graph *g = ft_graph(17);
    int64_t wd[2] = {k, n};
    int x = ft_input(g, "x", rank, xd);
    int w = ft_const(g, "W", 2, wd, 0.5f, 0.0f), b = ft_const(g, "bias", bias_rank, bd, 1.0f, 0.0f);
    int p = ft_tmp(g, "p"), y = ft_tmp(g, "y"), z = ft_tmp(g, "z");
    int min[2] = {x, w}, ain[2] = {bias_first ? b : p, bias_first ? p : b}, tin[1] = {y};
    ft_node(g, "proj/MatMul", "MatMul", 2, min, p);
    ft_node(g, "proj/Add", "Add", 2, ain, y);
    ft_node(g, "act", "Tanh", 1, tin, z);
    kiln_graph_add_output(g, z);
    return g;
}

static void test_2d(void) {
    int64_t xd[2] = {5, 8}, bd[1] = {6};
    kiln_graph *g = mm_add(2, xd, 8, 6, 1, bd, 0);
    ft_io io = {0};
    ft_io_add(&io, 2, xd);
    kiln_graph *after = NULL;
    CHECK(ft_check_pass(g, kiln_pass_fuse_gemm, &io, 1, 1e-5, &after) == 1);
    CHECK(strstr(ft_log_text, "fuse-gemm: fused 1 MatMul+Add pair into Gemm") != NULL);
    if (after) {
        CHECK(ft_count_op(after, "MatMul") == 0 && ft_count_op(after, "Add") == 0);
        CHECK(ft_count_op(after, "Gemm") == 1 && ft_count_op(after, "Reshape") == 0 && after->n_nodes == 2);
    }
    kiln_graph_destroy(after);
    ft_io_free(&io);
    kiln_graph_destroy(g);
}

/* The transformer case: x[b, s, h] @ W[h, o] + bias[1, 1, o], bias first; then the same with b dynamic. */
static void test_3d(void) {
    for (int dynamic = 0; dynamic < 2; dynamic++) {
        int64_t xd[3] = {dynamic ? -1 : 2, 7, 16}, feed[3] = {3, 7, 16}, bd[3] = {1, 1, 12};
        kiln_graph *g = mm_add(3, xd, 16, 12, 3, bd, 1);
        ft_io io = {0};
        ft_io_add(&io, 3, dynamic ? feed : xd);
        kiln_graph *after = NULL;
        CHECK(ft_check_pass(g, kiln_pass_fuse_gemm, &io, 1, 1e-5, &after) == 1);
        if (after) {
            CHECK(ft_count_op(after, "MatMul") == 0 && ft_count_op(after, "Add") == 0);
            CHECK(ft_count_op(after, "Gemm") == 1 && ft_count_op(after, "Reshape") == 2);
        }
        kiln_graph_destroy(after);
        ft_io_free(&io);
        kiln_graph_destroy(g);
    }
}

static void test_left_alone(void) {
    for (int variant = 0; variant < 5; variant++) {
        int64_t xd[3] = {2, 4, 8}, bd_full[2] = {4, 6}, bd[1] = {6};
        int rank = 3;
        kiln_graph *g;
        if (variant == 0) { /* bias [4, 6] varies along rows too: not a Gemm C for the flattened product */
            g = mm_add(rank, xd, 8, 6, 2, bd_full, 0);
        } else {
            g = mm_add(rank, xd, 8, 6, 1, bd, 0);
        }
        int n_out = 1;
        if (variant == 1) { /* the raw product is a graph output too */
            kiln_graph_add_output(g, kiln_graph_find_value(g, "p"));
            n_out = 2;
        }
        if (variant == 2) { /* B comes from the caller */
            int64_t wd[2] = {8, 6};
            int w = ft_input(g, "W_in", 2, wd);
            g->nodes[0].in[1] = w;
        }
        if (variant == 3) { /* A's rank is not known */
            g->values[kiln_graph_find_value(g, "x")].type.rank = -1;
        }
        if (variant == 4) { /* two unknown leading dims */
            kiln_ir_value *v = &g->values[kiln_graph_find_value(g, "x")];
            v->type.dims[0].v = -1;
            v->type.dims[1].v = -1;
        }
        ft_io io = {0};
        ft_io_add(&io, rank, xd);
        if (variant == 2) {
            int64_t wd[2] = {8, 6};
            ft_io_add(&io, 2, wd);
        }
        kiln_graph *after = NULL;
        CHECK(ft_check_pass(g, kiln_pass_fuse_gemm, &io, n_out, 1e-6, &after) == 0);
        if (after) CHECK(ft_count_op(after, "MatMul") == 1 && ft_count_op(after, "Gemm") == 0);
        if (variant == 0) CHECK(strstr(ft_log_text, "not a bias along the last axis") != NULL);
        if (variant == 3) CHECK(strstr(ft_log_text, "rank of A is unknown") != NULL);
        kiln_graph_destroy(after);
        ft_io_free(&io);
        kiln_graph_destroy(g);
    }
}

/* Several projections reading one activation (q, k, v): each fuses on its own. */
static void test_shared_input(void) {
    kiln_graph *g = ft_graph(17);
    int64_t xd[3] = {1, 5, 8}, wd[2] = {8, 8}, bd[1] = {8};
    int x = ft_input(g, "x", 3, xd);
    int acc = -1;
    for (int i = 0; i < 3; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "W%d", i);
        int w = ft_const(g, nm, 2, wd, 0.5f, 0.0f);
        snprintf(nm, sizeof nm, "b%d", i);
        int b = ft_const(g, nm, 1, bd, 1.0f, 0.0f);
        snprintf(nm, sizeof nm, "p%d", i);
        int p = ft_tmp(g, nm);
        snprintf(nm, sizeof nm, "y%d", i);
        int y = ft_tmp(g, nm);
        int min[2] = {x, w}, ain[2] = {p, b};
        snprintf(nm, sizeof nm, "mm%d", i);
        ft_node(g, nm, "MatMul", 2, min, p);
        snprintf(nm, sizeof nm, "add%d", i);
        ft_node(g, nm, "Add", 2, ain, y);
        if (acc < 0) {
            acc = y;
        } else { /* a residual-style Add of two products is not a bias: must stay */
            snprintf(nm, sizeof nm, "sum%d", i);
            int s = ft_tmp(g, nm);
            int sin[2] = {acc, y};
            ft_node(g, nm, "Add", 2, sin, s);
            acc = s;
        }
    }
    kiln_graph_add_output(g, acc);
    ft_io io = {0};
    ft_io_add(&io, 3, xd);
    kiln_graph *after = NULL;
    CHECK(ft_check_pass(g, kiln_pass_fuse_gemm, &io, 1, 1e-5, &after) == 3);
    if (after) CHECK(ft_count_op(after, "Gemm") == 3 && ft_count_op(after, "Add") == 2);
    kiln_graph_destroy(after);
    ft_io_free(&io);
    kiln_graph_destroy(g);
}

int main(void) {
    if (!kiln_cpu_find_op("MatMul", "", 17) || !kiln_cpu_find_op("Gemm", "", 17)) {
        fprintf(stderr, "no MatMul / Gemm kernel: nothing to test\n");
        return 0;
    }
    test_2d();
    test_3d();
    test_left_alone();
    test_shared_input();
    return CHECK_DONE();
}
