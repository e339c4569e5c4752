/* Shape inference through run-time shape computations (data propagation of small integer tensors: exact values,
 * symbols, arithmetic, Range, Size, Constant value_ints) and the index / padding / tiling rules (GatherND,
 * GatherElements, Tile, Pad, TopK, OneHot), on hand-built graphs with a symbolic batch. */
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

static int init(const char *name, kiln_dtype dt, int rank, const int64_t *dims, const int64_t *vals) {
    int v = kiln_graph_add_value(g, name);
    kiln_tensor *t = calloc(1, sizeof *t);
    kiln_tensor_alloc(t, dt, rank, dims);
    for (int64_t i = 0; vals && i < kiln_tensor_numel(t); i++) {
        if (dt == KILN_INT64) ((int64_t *)t->data)[i] = vals[i];
        else if (dt == KILN_FLOAT) ((float *)t->data)[i] = (float)vals[i];
    }
    g->values[v].init = t;
    return v;
}

static int vec(const char *name, int n, const int64_t *vals) { return init(name, KILN_INT64, 1, (int64_t[]){n}, vals); }
static int scalar(const char *name, int64_t x) { return init(name, KILN_INT64, 0, NULL, &x); }

static int node_n(const char *op, int n_in, const int *ins, const char *out, int n_out) {
    int id = kiln_graph_add_node(g, out, op, "", 18, n_in, n_out);
    for (int i = 0; i < n_in; i++) g->nodes[id].in[i] = ins[i];
    int v = -1;
    for (int j = 0; j < n_out; j++) {
        char nm[64];
        snprintf(nm, sizeof nm, j ? "%s_%d" : "%s", out, j);
        int o = kiln_graph_add_value(g, nm);
        g->nodes[id].out[j] = o;
        if (!j) v = o;
    }
    return v;
}

static int node(const char *op, int n_in, const int *ins, const char *out) { return node_n(op, n_in, ins, out, 1); }

static kiln_attr *new_attr(int v, const char *name) {
    kiln_node *nd = &g->nodes[g->values[v].producer >= 0 ? g->values[v].producer : g->n_nodes - 1];
    kiln_attr *a = kiln_arena_alloc(&g->arena, sizeof(kiln_attr) * (size_t)(nd->n_attrs + 1));
    if (nd->n_attrs) memcpy(a, nd->attrs, sizeof(kiln_attr) * (size_t)nd->n_attrs);
    kiln_attr *x = &a[nd->n_attrs];
    memset(x, 0, sizeof *x);
    x->name = kiln_arena_strdup(&g->arena, name);
    nd->attrs = a;
    nd->n_attrs++;
    return x;
}

static void attr_ints(int v, const char *name, int n, const int64_t *vals) {
    kiln_attr *x = new_attr(v, name);
    x->type = KILN_ATTR_INTS;
    x->n = n;
    x->ints = kiln_arena_alloc(&g->arena, sizeof(int64_t) * (size_t)n);
    memcpy(x->ints, vals, sizeof(int64_t) * (size_t)n);
}

static void attr_int(int v, const char *name, int64_t i) {
    kiln_attr *x = new_attr(v, name);
    x->type = KILN_ATTR_INT;
    x->i = i;
}

static const char *ty(int v) {
    static char buf[256];
    return kiln_type_str(&g->values[v].type, buf, sizeof buf);
}

#define EXPECT_TYPE(v, want)                                                                                   \
    do {                                                                                                       \
        if (strcmp(ty(v), want)) fprintf(stderr, "  %s: %s, want %s\n", g->values[v].name, ty(v), want);      \
        CHECK(!strcmp(ty(v), want));                                                                           \
    } while (0)

int main(void) {
    g = kiln_graph_create(NULL);
    const char *xs[] = {"batch", NULL, NULL};
    int x = input("x", KILN_FLOAT, 3, xs, (int64_t[]){0, 16, 32});
    int shp = node("Shape", 1, (int[]){x}, "shape");
    int b = node("Gather", 2, (int[]){shp, scalar("i0", 0)}, "b");
    int s = node("Gather", 2, (int[]){shp, scalar("i1", 1)}, "s");
    int h = node("Gather", 2, (int[]){shp, scalar("i2", 2)}, "h");
    /* [b, s * h] through Mul on the shape values, with the axes as a Constant value_ints */
    int ax0 = node("Constant", 0, NULL, "ax0");
    attr_ints(ax0, "value_ints", 1, (int64_t[]){0});
    int sh = node("Mul", 2, (int[]){s, h}, "s_times_h");
    int cat = node("Concat", 2,
                   (int[]){node("Unsqueeze", 2, (int[]){b, ax0}, "ub"), node("Unsqueeze", 2, (int[]){sh, ax0}, "ush")},
                   "flat_shape");
    attr_int(cat, "axis", 0);
    int flat = node("Reshape", 2, (int[]){x, cat}, "flat");
    /* b + 0 keeps the symbol; s - 4 is exact */
    int b0 = node("Add", 2, (int[]){b, scalar("zero", 0)}, "b_plus_0");
    int s4 = node("Sub", 2, (int[]){s, scalar("four", 4)}, "s_minus_4");
    int cos_shape = node("Concat", 2, (int[]){node("Unsqueeze", 2, (int[]){b0, ax0}, "ub0"),
                                              node("Unsqueeze", 2, (int[]){s4, ax0}, "us4")}, "cos_shape");
    attr_int(cos_shape, "axis", 0);
    int cos = node("ConstantOfShape", 1, (int[]){cos_shape}, "cos");
    /* Range over exact and symbolic limits */
    int r1 = node("Range", 3, (int[]){scalar("r0", 0), s, scalar("r1", 1)}, "range_s");
    int r2 = node("Range", 3, (int[]){scalar("r0b", 0), b, scalar("r1b", 1)}, "range_b");
    int r3 = node("Range", 3, (int[]){scalar("r2", 2), scalar("r11", 11), scalar("r3", 3)}, "range_3");
    /* Range output used as a Reshape shape: its elements are exact */
    int y = input("y", KILN_FLOAT, 1, NULL, (int64_t[]){2});
    int ry = node("Reshape", 2, (int[]){y, node("Add", 2, (int[]){node("Range", 3, (int[]){scalar("q0", 2),
                  scalar("q1", 4), scalar("q2", 1)}, "range_23"), scalar("q3", -1)}, "shape_12")}, "y12");
    /* x[:, :b] style slice to a run-time end */
    int pos = init("pos", KILN_FLOAT, 2, (int64_t[]){1, 64}, NULL);
    int sl = node("Slice", 4, (int[]){pos, vec("st", 1, (int64_t[]){0}), node("Unsqueeze", 2, (int[]){b, ax0}, "ub2"),
                                      vec("ax", 1, (int64_t[]){1})}, "pos_slice");
    int size = node("Size", 1, (int[]){y}, "size");
    int rsz = node("Reshape", 2, (int[]){y, node("Unsqueeze", 2, (int[]){size, ax0}, "usize")}, "y_by_size");
    /* index ops */
    int mask = input("mask", KILN_BOOL, 2, NULL, (int64_t[]){2, 16});
    int idx = init("idx", KILN_INT64, 5, (int64_t[]){2, 1, 1, 16, 2}, NULL);
    int gnd = node("GatherND", 2, (int[]){mask, idx}, "gnd");
    int gel = node("GatherElements", 2, (int[]){x, init("gidx", KILN_INT64, 3, (int64_t[]){1, 4, 32}, NULL)}, "gel");
    int tl = node("Tile", 2, (int[]){x, vec("rep", 3, (int64_t[]){1, 2, 1})}, "tile");
    int pd = node("Pad", 2, (int[]){x, vec("pads", 6, (int64_t[]){0, 1, 0, 0, 2, 3})}, "pad");
    int tk = node_n("TopK", 2, (int[]){x, vec("k", 1, (int64_t[]){5})}, "topk", 2);
    int oh = node("OneHot", 3, (int[]){init("ids", KILN_INT64, 2, (int64_t[]){2, 3}, NULL), scalar("depth", 7),
                                       init("vals", KILN_FLOAT, 1, (int64_t[]){2}, NULL)}, "onehot");
    kiln_graph_add_output(g, flat);
    CHECK(kiln_graph_toposort(g) == KILN_OK);
    CHECK(kiln_infer_shapes(g) == KILN_OK);
    EXPECT_TYPE(flat, "float32[batch,512]");
    EXPECT_TYPE(cos, "float32[batch,12]");
    EXPECT_TYPE(r1, "int64[16]");
    EXPECT_TYPE(r2, "int64[batch]");
    EXPECT_TYPE(r3, "int64[3]");
    EXPECT_TYPE(ry, "float32[1,2]");
    EXPECT_TYPE(sl, "float32[1,batch]");
    EXPECT_TYPE(rsz, "float32[2]");
    EXPECT_TYPE(gnd, "bool[2,1,1,16]");
    EXPECT_TYPE(gel, "float32[1,4,32]");
    EXPECT_TYPE(tl, "float32[batch,32,32]");
    EXPECT_TYPE(pd, "float32[batch,19,35]");
    EXPECT_TYPE(tk, "float32[batch,16,5]");
    EXPECT_TYPE(g->nodes[g->values[tk].producer].out[1], "int64[batch,16,5]");
    EXPECT_TYPE(oh, "float32[2,3,7]");
    kiln_graph_destroy(g);
    return CHECK_DONE();
}
