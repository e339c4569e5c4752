/* fuse-gelu: the exact-GELU subgraph (as torch exports it, and the x * 1/sqrt(2), (x * 0.5) * u variant) becomes
 * one Gelu node computing the same values; a subgraph with a wrong constant or an intermediate read elsewhere
 * stays. */
#include "fuse_testutil.h"

/* y = gelu(x) spelled out; form 0: Div(x, sqrt2), (x * u) * 0.5; form 1: Mul(x, 1/sqrt2), (x * 0.5) * u.
 * `half` replaces 0.5 (to make a near miss). Output: Tanh(y) so the Gelu's output is not a graph output. */
static kiln_graph *gelu_graph(int form, float half, int erf_is_output) {
    kiln_graph *g = ft_graph(17);
    int64_t xd[2] = {3, 37};
    int x = ft_input(g, "x", 2, xd);
    int t = ft_tmp(g, "t"), e = ft_tmp(g, "e"), u = ft_tmp(g, "u"), m = ft_tmp(g, "m"), y = ft_tmp(g, "y");
    int z = ft_tmp(g, "z");
    if (form == 0) {
        int in[2] = {x, ft_scalar(g, "sqrt2", 1.4142135f)};
        ft_node(g, "gelu/Div", "Div", 2, in, t);
    } else {
        int in[2] = {ft_scalar(g, "rsqrt2", 0.70710678f), x};
        ft_node(g, "gelu/Mul_s", "Mul", 2, in, t);
    }
    int ein[1] = {t};
    ft_node(g, "gelu/Erf", "Erf", 1, ein, e);
    int ain[2] = {ft_scalar(g, "one", 1.0f), e};
    ft_node(g, "gelu/Add", "Add", 2, ain, u);
    int h = ft_scalar(g, "half", half);
    if (form == 0) {
        int min[2] = {x, u}, yin[2] = {m, h};
        ft_node(g, "gelu/Mul", "Mul", 2, min, m);
        ft_node(g, "gelu/Mul_1", "Mul", 2, yin, y);
    } else {
        int min[2] = {h, x}, yin[2] = {u, m};
        ft_node(g, "gelu/Mul", "Mul", 2, min, m);
        ft_node(g, "gelu/Mul_1", "Mul", 2, yin, y);
    }
    int tin[1] = {y};
    ft_node(g, "after", "Tanh", 1, tin, z);
    kiln_graph_add_output(g, z);
    if (erf_is_output) kiln_graph_add_output(g, e);
    return g;
}

static void test_forms(void) {
    for (int form = 0; form < 2; form++) {
        kiln_graph *g = gelu_graph(form, 0.5f, 0);
        ft_io io = {0};
        int64_t xd[2] = {3, 37};
        ft_io_add(&io, 2, xd);
        kiln_graph *after = NULL;
        CHECK(ft_check_pass(g, kiln_pass_fuse_gelu, &io, 1, 2e-6, &after) == 1);
        CHECK(strstr(ft_log_text, "fuse-gelu: fused 1 exact-GELU subgraph into Gelu") != NULL);
        if (after) {
            CHECK(after->n_nodes == 2 && ft_count_op(after, "Gelu") == 1 && ft_count_op(after, "Erf") == 0);
            CHECK(ft_count_op(after, "Mul") == 0 && ft_count_op(after, "Add") == 0);
            /* the new node feeds the consumer through the original output value */
            int yv = kiln_graph_find_value(after, "y");
            CHECK(yv >= 0 && after->values[yv].producer >= 0 &&
                  !strcmp(after->nodes[after->values[yv].producer].op_type, "Gelu"));
        }
        kiln_graph_destroy(after);
        ft_io_free(&io);
        kiln_graph_destroy(g);
    }
}

static void test_left_alone(void) {
    for (int variant = 0; variant < 2; variant++) {
        kiln_graph *g = gelu_graph(0, variant == 0 ? 0.4f : 0.5f, variant == 1);
        ft_io io = {0};
        int64_t xd[2] = {3, 37};
        ft_io_add(&io, 2, xd);
        kiln_graph *after = NULL;
        CHECK(ft_check_pass(g, kiln_pass_fuse_gelu, &io, variant == 1 ? 2 : 1, 1e-6, &after) == 0);
        if (after) CHECK(ft_count_op(after, "Gelu") == 0 && ft_count_op(after, "Erf") == 1);
        kiln_graph_destroy(after);
        ft_io_free(&io);
        kiln_graph_destroy(g);
    }
}

int main(void) {
    if (!kiln_cpu_find_op("Gelu", "", 20) || !kiln_cpu_find_op("Erf", "", 17)) {
        fprintf(stderr, "no Gelu / Erf kernel: nothing to test\n");
        return 0;
    }
    test_forms();
    test_left_alone();
    return CHECK_DONE();
}
