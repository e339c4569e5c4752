/* Shape inference with symbolic dims on hand-built graphs. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "shape/infer.h"

static kiln_graph *g;

static int input(const char *name, kiln_dtype dt, int rank, const char *const *syms, const int64_t *dims) {
    int v = kiln_graph_add_value(g, name);
    kiln_type *t = &g->values[v].type;
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank; i++) {
        t->dims[i].v = syms && syms[i] ? -1 : dims[i];
        t->dims[i].sym = syms && syms[i] ? kiln_arena_strdup(&g->arena, syms[i]) : NULL;
    }
    kiln_graph_add_input(g, v);
    return v;
}

static int init_i64(const char *name, int rank, int64_t n, const int64_t *vals) {
    int v = kiln_graph_add_value(g, name);
    kiln_tensor *t = calloc(1, sizeof *t);
    int64_t d[1] = {n};
    kiln_tensor_alloc(t, KILN_INT64, rank, d);
    memcpy(t->data, vals, sizeof(int64_t) * (size_t)n);
    g->values[v].init = t;
    return v;
}

static int init_f32(const char *name, int rank, const int64_t *dims) {
    int v = kiln_graph_add_value(g, name);
    kiln_tensor *t = calloc(1, sizeof *t);
    kiln_tensor_alloc(t, KILN_FLOAT, rank, dims);
    g->values[v].init = t;
    return v;
}

static int node(const char *op, int n_in, const int *ins, const char *out) {
    int id = kiln_graph_add_node(g, out, op, "", 17, n_in, 1);
    for (int i = 0; i < n_in; i++) g->nodes[id].in[i] = ins[i];
    int v = kiln_graph_add_value(g, out);
    g->nodes[id].out[0] = v;
    return v;
}

static void attr_ints(int v, const char *name, int n, const int64_t *vals) {
    kiln_node *nd = &g->nodes[g->values[v].producer >= 0 ? g->values[v].producer : g->n_nodes - 1];
    kiln_attr *old = nd->attrs;
    kiln_attr *a = kiln_arena_alloc(&g->arena, sizeof(kiln_attr) * (size_t)(nd->n_attrs + 1));
    if (nd->n_attrs) memcpy(a, old, sizeof(kiln_attr) * (size_t)nd->n_attrs);
    kiln_attr *x = &a[nd->n_attrs];
    x->name = kiln_arena_strdup(&g->arena, name);
    x->type = KILN_ATTR_INTS;
    x->n = n;
    x->ints = kiln_arena_alloc(&g->arena, sizeof(int64_t) * (size_t)n);
    memcpy(x->ints, vals, sizeof(int64_t) * (size_t)n);
    nd->attrs = a;
    nd->n_attrs++;
}

static const char *ty(int v) {
    static char buf[256];
    return kiln_type_str(&g->values[v].type, buf, sizeof buf);
}

int main(void) {
    g = kiln_graph_create(NULL);
    const char *xs[] = {"batch", NULL, NULL, NULL};
    int64_t xd[] = {0, 3, 224, 224};
    int x = input("x", KILN_FLOAT, 4, xs, xd);
    int64_t wd[] = {64, 3, 7, 7};
    int w = init_f32("w", 4, wd);
    int conv = node("Conv", 2, (int[]){x, w}, "conv");
    int64_t k7[] = {7, 7}, s2[] = {2, 2}, p3[] = {3, 3, 3, 3};
    attr_ints(conv, "kernel_shape", 2, k7);
    attr_ints(conv, "strides", 2, s2);
    attr_ints(conv, "pads", 4, p3);
    int relu = node("Relu", 1, (int[]){conv}, "relu");
    int pool = node("MaxPool", 1, (int[]){relu}, "pool");
    int64_t k3[] = {3, 3}, p1[] = {1, 1, 1, 1};
    attr_ints(pool, "kernel_shape", 2, k3);
    attr_ints(pool, "strides", 2, s2);
    attr_ints(pool, "pads", 4, p1);
    int gap = node("GlobalAveragePool", 1, (int[]){pool}, "gap");
    int shp = node("Shape", 1, (int[]){gap}, "shape");
    int zero = init_i64("zero", 1, 1, (int64_t[]){0});
    int bat = node("Gather", 2, (int[]){shp, zero}, "batch_dim");
    int m1 = init_i64("minus1", 1, 1, (int64_t[]){-1});
    int cat = node("Concat", 2, (int[]){bat, m1}, "newshape");
    int rs = node("Reshape", 2, (int[]){gap, cat}, "flat");
    int64_t fd[] = {64, 10};
    int fcw = init_f32("fcw", 2, fd);
    int mm = node("MatMul", 2, (int[]){rs, fcw}, "logits");
    int64_t bd[] = {10};
    int b = init_f32("fcb", 1, bd);
    int add = node("Add", 2, (int[]){mm, b}, "biased");
    int red = node("ReduceMax", 1, (int[]){add}, "maxv");
    attr_ints(red, "axes", 1, (int64_t[]){-1});
    int eq = node("Equal", 2, (int[]){add, red}, "is_max");
    int tr = node("Transpose", 1, (int[]){eq}, "tr");

    kiln_graph_add_output(g, tr);
    CHECK(kiln_graph_toposort(g) == KILN_OK);
    CHECK(kiln_infer_shapes(g) == KILN_OK);
    CHECK(!strcmp(ty(conv), "float32[batch,64,112,112]"));
    CHECK(!strcmp(ty(pool), "float32[batch,64,56,56]"));
    CHECK(!strcmp(ty(gap), "float32[batch,64,1,1]"));
    CHECK(!strcmp(ty(shp), "int64[4]"));
    CHECK(!strcmp(ty(rs), "float32[batch,64]"));
    CHECK(!strcmp(ty(mm), "float32[batch,10]"));
    CHECK(!strcmp(ty(add), "float32[batch,10]"));
    CHECK(!strcmp(ty(red), "float32[batch,1]"));
    CHECK(!strcmp(ty(eq), "bool[batch,10]"));
    CHECK(!strcmp(ty(tr), "bool[10,batch]"));
    fprintf(stderr, "%s %s %s\n", ty(conv), ty(rs), ty(tr));
    kiln_graph_destroy(g);

    /* a provable broadcast contradiction names the node */
    g = kiln_graph_create(NULL);
    int a1 = input("a", KILN_FLOAT, 2, NULL, (int64_t[]){2, 3});
    int a2 = input("b", KILN_FLOAT, 2, NULL, (int64_t[]){4, 3});
    int bad = node("Add", 2, (int[]){a1, a2}, "bad_add");
    kiln_graph_add_output(g, bad);
    CHECK(kiln_infer_shapes(g) == KILN_ERR_SHAPE);
    CHECK(strstr(kiln_error_text(), "bad_add") != NULL);
    kiln_graph_destroy(g);
    return CHECK_DONE();
}
