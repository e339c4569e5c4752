/* fuse-conv-bn: Conv -> BatchNormalization folds into one Conv that computes the same outputs (with and without
 * a Conv bias, grouped and strided convs, weights shared by two convs), and is left alone when the BN is not a
 * plain inference BN over constants or the Conv output has other readers. */
#include "fuse_testutil.h"

/* BN over m channels with random constant parameters (variance in [0.5, 1.5)). Returns the node index. */
static int add_bn(kiln_graph *g, const char *name, int x, int y, int64_t m) {
    char nm[4][64];
    static const char *const what[4] = {"scale", "B", "mean", "var"};
    int p[4];
    for (int j = 0; j < 4; j++) {
        snprintf(nm[j], sizeof nm[j], "%s.%s", name, what[j]);
        p[j] = ft_const(g, nm[j], 1, &m, j == 3 ? 0.5f : 1.0f, j == 3 ? 1.0f : 0.0f);
    }
    int in[5] = {x, p[0], p[1], p[2], p[3]};
    int k = ft_node(g, name, "BatchNormalization", 5, in, y);
    ft_attr_float(g, k, "epsilon", 1e-3f);
    return k;
}

static void test_basic(void) {
    kiln_graph *g = ft_graph(17);
    int64_t xd[4] = {2, 3, 9, 9}, wd[4] = {8, 3, 3, 3};
    int x = ft_input(g, "x", 4, xd);
    int w = ft_const(g, "w", 4, wd, 0.5f, 0.0f);
    int c = ft_tmp(g, "c"), b = ft_tmp(g, "b"), y = ft_tmp(g, "y");
    int cin[2] = {x, w};
    int k = ft_node(g, "conv", "Conv", 2, cin, c);
    int64_t pads[4] = {1, 1, 1, 1};
    ft_attr_ints(g, k, "pads", 4, pads);
    add_bn(g, "bn", c, b, 8);
    int rin[1] = {b};
    ft_node(g, "relu", "Relu", 1, rin, y);
    kiln_graph_add_output(g, y);

    ft_io io = {0};
    ft_io_add(&io, 4, xd);
    kiln_graph *after = NULL;
    int n = ft_check_pass(g, kiln_pass_fuse_conv_bn, &io, 1, 1e-5, &after);
    CHECK(n == 1);
    CHECK(strstr(ft_log_text, "fuse-conv-bn: folded 1 BatchNormalization node into Conv") != NULL);
    if (after) {
        CHECK(ft_count_op(after, "BatchNormalization") == 0);
        CHECK(ft_count_op(after, "Conv") == 1 && ft_count_op(after, "Relu") == 1);
        const kiln_node *cv = &after->nodes[0];
        CHECK(!strcmp(cv->op_type, "Conv") && cv->n_in == 3 && cv->in[2] >= 0 && after->values[cv->in[2]].init);
        /* the original weights and BN parameters are gone after DCE */
        CHECK(kiln_graph_find_value(after, "w") < 0 && kiln_graph_find_value(after, "bn.var") < 0);
    }
    kiln_graph_destroy(after);
    ft_io_free(&io);
    kiln_graph_destroy(g);
}

/* Conv with a bias, two groups, stride 2, whose weights are shared with a second Conv + BN; the BN output is a
 * graph output. */
static void test_bias_groups_shared(void) {
    kiln_graph *g = ft_graph(15);
    int64_t xd[4] = {1, 4, 11, 10}, wd[4] = {6, 2, 3, 3};
    int64_t m = 6;
    int x = ft_input(g, "x", 4, xd);
    int w = ft_const(g, "w", 4, wd, 0.5f, 0.0f), bias = ft_const(g, "bias", 1, &m, 1.0f, 0.0f);
    int c1 = ft_tmp(g, "c1"), c2 = ft_tmp(g, "c2"), y1 = ft_tmp(g, "y1"), y2 = ft_tmp(g, "y2");
    int in1[3] = {x, w, bias}, in2[2] = {x, w};
    int64_t strides[2] = {2, 2};
    int k1 = ft_node(g, "conv1", "Conv", 3, in1, c1);
    ft_attr_int(g, k1, "group", 2);
    ft_attr_ints(g, k1, "strides", 2, strides);
    int k2 = ft_node(g, "conv2", "Conv", 2, in2, c2);
    ft_attr_int(g, k2, "group", 2);
    add_bn(g, "bn1", c1, y1, 6);
    add_bn(g, "bn2", c2, y2, 6);
    kiln_graph_add_output(g, y1);
    kiln_graph_add_output(g, y2);

    ft_io io = {0};
    ft_io_add(&io, 4, xd);
    kiln_graph *after = NULL;
    CHECK(ft_check_pass(g, kiln_pass_fuse_conv_bn, &io, 2, 1e-5, &after) == 2);
    if (after) {
        CHECK(ft_count_op(after, "BatchNormalization") == 0 && ft_count_op(after, "Conv") == 2);
        /* each conv got its own folded weights: the shared original is not modified */
        CHECK(after->nodes[0].in[1] != after->nodes[1].in[1]);
    }
    CHECK(((float *)g->values[w].init->data)[0] != 0.0f);
    kiln_graph_destroy(after);
    ft_io_free(&io);
    kiln_graph_destroy(g);
}

/* Conv -> BN -> BN: the Conv that absorbed the first BN absorbs the second too. */
static void test_chain(void) {
    kiln_graph *g = ft_graph(17);
    int64_t xd[4] = {1, 2, 5, 5}, wd[4] = {3, 2, 3, 3};
    int x = ft_input(g, "x", 4, xd);
    int w = ft_const(g, "w", 4, wd, 0.5f, 0.0f);
    int c = ft_tmp(g, "c"), b1 = ft_tmp(g, "b1"), b2 = ft_tmp(g, "b2");
    int cin[2] = {x, w};
    ft_node(g, "conv", "Conv", 2, cin, c);
    add_bn(g, "bn1", c, b1, 3);
    add_bn(g, "bn2", b1, b2, 3);
    kiln_graph_add_output(g, b2);
    ft_io io = {0};
    ft_io_add(&io, 4, xd);
    kiln_graph *after = NULL;
    CHECK(ft_check_pass(g, kiln_pass_fuse_conv_bn, &io, 1, 1e-5, &after) == 2);
    if (after) CHECK(after->n_nodes == 1 && ft_count_op(after, "Conv") == 1);
    kiln_graph_destroy(after);
    ft_io_free(&io);
    kiln_graph_destroy(g);
}

/* Patterns that must stay: Conv output also read elsewhere, BN in training mode, BN statistics from an input,
 * Conv weights from an input, 1-D conv is fine (rank 3) but BN with the wrong channel count is not. */
static void test_left_alone(void) {
    int64_t xd[4] = {1, 3, 6, 6}, wd[4] = {4, 3, 1, 1}, m = 4;
    for (int variant = 0; variant < 4; variant++) {
        kiln_graph *g = ft_graph(17);
        int x = ft_input(g, "x", 4, xd);
        int w = variant == 2 ? ft_input(g, "w", 4, wd) : ft_const(g, "w", 4, wd, 0.5f, 0.0f);
        int c = ft_tmp(g, "c"), y = ft_tmp(g, "y");
        int cin[2] = {x, w};
        ft_node(g, "conv", "Conv", 2, cin, c);
        int bn = add_bn(g, "bn", c, y, 4);
        if (variant == 1) ft_attr_int(g, bn, "training_mode", 1);
        if (variant == 3) { /* the running mean comes from the caller */
            int mean = ft_input(g, "mean", 1, &m);
            g->nodes[bn].in[3] = mean;
        }
        kiln_graph_add_output(g, y);
        if (variant == 0) kiln_graph_add_output(g, c); /* the Conv output is read twice */

        ft_io io = {0};
        ft_io_add(&io, 4, xd);
        if (variant == 2) ft_io_add(&io, 4, wd);
        if (variant == 3) ft_io_add(&io, 1, &m);
        kiln_graph *after = NULL;
        int n = ft_check_pass(g, kiln_pass_fuse_conv_bn, &io, variant == 0 ? 2 : 1, 1e-6,
                              variant == 1 ? NULL : &after);
        CHECK(n == 0);
        if (after) CHECK(ft_count_op(after, "BatchNormalization") == 1);
        kiln_graph_destroy(after);
        ft_io_free(&io);
        kiln_graph_destroy(g);
    }
}

int main(void) {
    if (!kiln_cpu_find_op("Conv", "", 17) || !kiln_cpu_find_op("BatchNormalization", "", 17)) {
        fprintf(stderr, "no Conv / BatchNormalization kernel: nothing to test\n");
        return 0;
    }
    test_basic();
    test_bias_groups_shared();
    test_chain();
    test_left_alone();
    return CHECK_DONE();
}
