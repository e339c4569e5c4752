/* Layer-by-layer network building. Each layer becomes the ONNX (opset 17) node(s) an exported model would hold,
 * with the same attributes, so the same kernels run it. Output types are inferred where the inputs allow it, so
 * shape errors surface when the layer is added rather than at run time. Tensor ids are root-graph value ids. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/build.h"
#include "core/dtype.h"

#define LAYER_OPSET 17

static kiln_status fail(kiln_network *n, kiln_status s) { return kiln_build_fail(n->builder, n, s); }

static kiln_status ensure_opset(kiln_graph *g) {
    if (g->n_opsets) return KILN_OK;
    g->opsets = kiln_arena_alloc(&g->arena, sizeof(kiln_opset));
    KILN_FAIL_IF(!g->opsets, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    g->opsets[0].domain = "";
    g->opsets[0].version = LAYER_OPSET;
    g->n_opsets = 1;
    return KILN_OK;
}

static kiln_status check_tensor(const kiln_graph *g, int id, const char *what) {
    KILN_FAIL_IF(id < 0 || id >= g->n_values, KILN_ERR_INVALID_ARGUMENT,
                 "%s: tensor id %d is not a tensor of this network (it has %d)", what, id, g->n_values);
    return KILN_OK;
}

static const kiln_type *type_of(const kiln_graph *g, int id) { return &g->values[id].type; }

/* A name not yet used by a value or node: base, else base_1, base_2, ... */
static kiln_status unique_name(const kiln_graph *g, const char *base, char *out, size_t n) {
    snprintf(out, n, "%s", base);
    for (int k = 1; kiln_graph_find_value(g, out) >= 0; k++) {
        KILN_FAIL_IF(k > 1000000, KILN_ERR_INTERNAL, "cannot find a free name for '%s'", base);
        snprintf(out, n, "%s_%d", base, k);
    }
    return KILN_OK;
}

/* Adds node `op` reading `ins` with one fresh output value; returns the node and the output value ids. */
static kiln_status add_node(kiln_graph *g, const char *op, int n_in, const int *ins, int *node, int *out) {
    KILN_TRY(ensure_opset(g));
    char name[96], vname[112];
    snprintf(name, sizeof name, "%s_%d", op, g->n_nodes);
    KILN_TRY(unique_name(g, name, vname, sizeof vname));
    int v = kiln_graph_add_value(g, vname);
    if (v < 0) return KILN_ERR_OUT_OF_MEMORY;
    int k = kiln_graph_add_node(g, vname, op, "", LAYER_OPSET, n_in, 1);
    if (k < 0) return KILN_ERR_OUT_OF_MEMORY;
    for (int i = 0; i < n_in; i++) g->nodes[k].in[i] = ins[i];
    g->nodes[k].out[0] = v;
    g->values[v].producer = k;
    *node = k;
    *out = v;
    return KILN_OK;
}

static kiln_attr *attrs(kiln_graph *g, int node, int n) {
    kiln_attr *a = kiln_graph_node_alloc_attrs(g, node, n);
    return a;
}

static kiln_status attr_ints(kiln_graph *g, kiln_attr *a, const char *name, const int64_t *v, int n) {
    a->name = name;
    a->type = KILN_ATTR_INTS;
    a->n = n;
    a->ints = kiln_arena_alloc(&g->arena, sizeof(int64_t) * (size_t)(n + 1));
    KILN_FAIL_IF(!a->ints, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
    return KILN_OK;
}

static void set_type(kiln_graph *g, int v, kiln_dtype dt, int rank, const int64_t *dims) {
    kiln_type *t = &g->values[v].type;
    t->kind = KILN_KIND_TENSOR;
    t->dtype = dt;
    t->rank = rank;
    for (int d = 0; d < rank && d < KILN_MAX_DIMS; d++) {
        t->dims[d].v = dims[d] >= 0 ? dims[d] : -1;
        t->dims[d].sym = NULL;
    }
}

static void copy_type(kiln_graph *g, int dst, int src) {
    kiln_type t = g->values[src].type;
    for (int d = 0; d < t.rank; d++) t.dims[d].sym = NULL; /* names of the source's dims do not carry over */
    g->values[dst].type = t;
}

static void dims_of(const kiln_type *t, int64_t *dims) {
    for (int d = 0; d < t->rank; d++) dims[d] = t->dims[d].v;
}

/* An initializer value holding `data` (copied). */
static kiln_status add_const(kiln_graph *g, kiln_dtype dt, int rank, const int64_t *dims, const void *data, int *out) {
    char name[64], vname[80];
    snprintf(name, sizeof name, "const_%d", g->n_values);
    KILN_TRY(unique_name(g, name, vname, sizeof vname));
    kiln_tensor *t = calloc(1, sizeof *t);
    KILN_FAIL_IF(!t, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = kiln_tensor_alloc(t, dt, rank, dims);
    int64_t numel = st == KILN_OK ? kiln_tensor_numel(t) : 0;
    if (st == KILN_OK && dt == KILN_STRING) {
        const char *const *s = data;
        for (int64_t i = 0; i < numel && st == KILN_OK; i++)
            st = kiln_tensor_set_string(t, i, s[i] ? s[i] : "", s[i] ? strlen(s[i]) : 0);
    } else if (st == KILN_OK && numel) {
        memcpy(t->data, data, kiln_tensor_nbytes(t));
    }
    int v = st == KILN_OK ? kiln_graph_add_value(g, vname) : -1;
    if (v < 0) {
        kiln_tensor_release(t);
        free(t);
        return st != KILN_OK ? st : KILN_ERR_OUT_OF_MEMORY;
    }
    g->values[v].init = t;
    set_type(g, v, dt, rank, dims);
    *out = v;
    return KILN_OK;
}

/* A scalar constant of dtype dt (a float type) with value x. */
static kiln_status add_scalar(kiln_graph *g, kiln_dtype dt, double x, int *out) {
    uint8_t buf[16] = {0};
    kiln_store_f64(dt, buf, 0, x);
    return add_const(g, dt, 0, NULL, buf, out);
}

/* ------------------------------------------------------------------------------------------- public API ---- */

#define BEGIN(n, out)                                                                                            \
    KILN_CHECK_HANDLE(n, KILN_MAGIC_NETWORK, "network");                                                         \
    if (!(out)) return fail(n, kiln_error(KILN_ERR_INVALID_ARGUMENT, "%s: out_tensor is NULL", __func__));       \
    *(out) = -1

kiln_status kiln_network_add_input(kiln_network *n, const char *name, kiln_dtype dtype, int rank,
                                   const int64_t *dims, int *out_tensor) {
    BEGIN(n, out_tensor);
    kiln_graph *g = n->graph;
    kiln_status st = KILN_OK;
    if (!name || !*name)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_network_add_input: name is NULL or empty");
    else if (!kiln_dtype_is_valid(dtype))
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "input '%s': invalid dtype %d", name, (int)dtype);
    else if (rank < 0 || rank > KILN_MAX_DIMS)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "input '%s': rank %d is outside 0..%d", name, rank, KILN_MAX_DIMS);
    else if (rank > 0 && !dims)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "input '%s': dims is NULL", name);
    else if (kiln_graph_find_value(g, name) >= 0)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "input '%s': the network already has a tensor of that name", name);
    for (int d = 0; st == KILN_OK && d < rank; d++)
        if (dims[d] < -1)
            st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "input '%s' dim %d is %lld (use -1 for a dynamic dim)", name, d,
                            (long long)dims[d]);
    if (st == KILN_OK) st = ensure_opset(g);
    int v = st == KILN_OK ? kiln_graph_add_value(g, name) : -1;
    if (st == KILN_OK && v < 0) st = KILN_ERR_OUT_OF_MEMORY;
    if (st == KILN_OK) st = kiln_graph_add_input(g, v);
    if (st != KILN_OK) return fail(n, st);
    set_type(g, v, dtype, rank, dims);
    *out_tensor = v;
    return KILN_OK;
}

kiln_status kiln_network_add_constant(kiln_network *n, kiln_dtype dtype, int rank, const int64_t *dims,
                                      const void *data, int *out_tensor) {
    BEGIN(n, out_tensor);
    kiln_status st = KILN_OK;
    if (!kiln_dtype_is_valid(dtype))
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "constant: invalid dtype %d", (int)dtype);
    else if (rank < 0 || rank > KILN_MAX_DIMS)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "constant: rank %d is outside 0..%d", rank, KILN_MAX_DIMS);
    else if (rank > 0 && !dims)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "constant: dims is NULL");
    for (int d = 0; st == KILN_OK && d < rank; d++)
        if (dims[d] < 0)
            st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "constant dim %d is %lld; constants have fixed dims", d,
                            (long long)dims[d]);
    if (st == KILN_OK && kiln_numel(rank, dims) < 0)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "constant: the element count overflows");
    if (st == KILN_OK && kiln_numel(rank, dims) > 0 && !data)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "constant: data is NULL");
    if (st == KILN_OK) st = add_const(n->graph, dtype, rank, dims, data, out_tensor);
    return st == KILN_OK ? st : fail(n, st);
}

/* Broadcast of two types' shapes, with unknown dims where the inputs leave it open. */
static kiln_status broadcast_types(const kiln_type *a, const kiln_type *b, int *rank, int64_t *dims) {
    if (a->rank < 0 || b->rank < 0) {
        *rank = -1;
        return KILN_OK;
    }
    int r = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t x = ia >= 0 ? a->dims[ia].v : 1, y = ib >= 0 ? b->dims[ib].v : 1;
        if (x == 1) dims[i] = y;
        else if (y == 1) dims[i] = x;
        else if (x < 0 || y < 0) dims[i] = x < 0 ? y : x; /* unknown vs known k: k (or an error at run time) */
        else if (x == y) dims[i] = x;
        else
            return kiln_error(KILN_ERR_SHAPE, "cannot broadcast dim %d: %lld vs %lld", i, (long long)x, (long long)y);
    }
    *rank = r;
    return KILN_OK;
}

static const char *const eltwise_ops[] = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow"};
_Static_assert(sizeof eltwise_ops / sizeof eltwise_ops[0] == KILN_ELTWISE_OP_COUNT, "eltwise op table");

static kiln_status binary(kiln_graph *g, const char *op, int a, int b, int *out) {
    const kiln_type *ta = type_of(g, a), *tb = type_of(g, b);
    KILN_FAIL_IF(ta->dtype && tb->dtype && ta->dtype != tb->dtype && strcmp(op, "Pow") != 0, KILN_ERR_TYPE,
                 "%s: operands are %s and %s; they must have the same dtype", op, kiln_dtype_name(ta->dtype),
                 kiln_dtype_name(tb->dtype));
    int rank;
    int64_t dims[KILN_MAX_DIMS];
    kiln_status st = broadcast_types(ta, tb, &rank, dims);
    if (st != KILN_OK) return kiln_error_wrap(st, "%s of tensors %d and %d", op, a, b);
    kiln_dtype dt = ta->dtype;
    int node, ins[2] = {a, b};
    KILN_TRY(add_node(g, op, 2, ins, &node, out));
    if (rank >= 0) set_type(g, *out, dt, rank, dims);
    else g->values[*out].type.dtype = dt;
    return KILN_OK;
}

kiln_status kiln_network_add_elementwise(kiln_network *n, kiln_eltwise_op op, int a, int b, int *out_tensor) {
    BEGIN(n, out_tensor);
    kiln_status st = (unsigned)op >= KILN_ELTWISE_OP_COUNT
                         ? kiln_error(KILN_ERR_INVALID_ARGUMENT, "unknown elementwise op %d", (int)op)
                         : KILN_OK;
    if (st == KILN_OK) st = check_tensor(n->graph, a, "elementwise input a");
    if (st == KILN_OK) st = check_tensor(n->graph, b, "elementwise input b");
    if (st == KILN_OK) st = binary(n->graph, eltwise_ops[op], a, b, out_tensor);
    return st == KILN_OK ? st : fail(n, st);
}

kiln_status kiln_network_add_matmul(kiln_network *n, int a, int b, int *out_tensor) {
    BEGIN(n, out_tensor);
    kiln_graph *g = n->graph;
    kiln_status st = check_tensor(g, a, "matmul input a");
    if (st == KILN_OK) st = check_tensor(g, b, "matmul input b");
    if (st != KILN_OK) return fail(n, st);
    const kiln_type *ta = type_of(g, a), *tb = type_of(g, b);
    if (ta->dtype && tb->dtype && ta->dtype != tb->dtype)
        return fail(n, kiln_error(KILN_ERR_TYPE, "matmul: operands are %s and %s", kiln_dtype_name(ta->dtype),
                                  kiln_dtype_name(tb->dtype)));
    int rank = -1;
    int64_t dims[KILN_MAX_DIMS];
    if (ta->rank >= 1 && tb->rank >= 1) {
        /* numpy matmul: 1-D operands are promoted (and the promoted dim dropped afterwards) */
        int64_t k_a = ta->dims[ta->rank - 1].v, k_b = tb->rank >= 2 ? tb->dims[tb->rank - 2].v : tb->dims[0].v;
        if (k_a >= 0 && k_b >= 0 && k_a != k_b)
            return fail(n, kiln_error(KILN_ERR_SHAPE, "matmul: inner dims differ (%lld vs %lld)", (long long)k_a,
                                      (long long)k_b));
        kiln_type ba = *ta, bb = *tb;
        ba.rank = ta->rank >= 2 ? ta->rank - 2 : 0;
        bb.rank = tb->rank >= 2 ? tb->rank - 2 : 0;
        st = broadcast_types(&ba, &bb, &rank, dims);
        if (st != KILN_OK) return fail(n, kiln_error_wrap(st, "matmul batch dims"));
        if (ta->rank >= 2) dims[rank++] = ta->dims[ta->rank - 2].v;
        if (tb->rank >= 2) dims[rank++] = tb->dims[tb->rank - 1].v;
    }
    int node, ins[2] = {a, b};
    kiln_dtype dt = ta->dtype;
    st = add_node(g, "MatMul", 2, ins, &node, out_tensor);
    if (st != KILN_OK) return fail(n, st);
    if (rank >= 0) set_type(g, *out_tensor, dt, rank, dims);
    else g->values[*out_tensor].type.dtype = dt;
    return KILN_OK;
}

kiln_status kiln_network_add_activation(kiln_network *n, kiln_activation act, int x, float alpha, float beta,
                                        int *out_tensor) {
    BEGIN(n, out_tensor);
    kiln_graph *g = n->graph;
    kiln_status st = (unsigned)act >= KILN_ACTIVATION_COUNT
                         ? kiln_error(KILN_ERR_INVALID_ARGUMENT, "unknown activation %d", (int)act)
                         : check_tensor(g, x, "activation input");
    kiln_dtype dt = st == KILN_OK ? type_of(g, x)->dtype : KILN_UNDEFINED;
    if (st == KILN_OK && (act == KILN_ACT_GELU || act == KILN_ACT_CLIP) && !kiln_dtype_is_float(dt) &&
        !(act == KILN_ACT_CLIP && kiln_dtype_is_int(dt)))
        st = kiln_error(KILN_ERR_TYPE, "activation %d needs an input of known numeric dtype, tensor %d is %s",
                        (int)act, x, kiln_dtype_name(dt));
    if (st != KILN_OK) return fail(n, st);
    int node = -1;
    switch (act) {
    case KILN_ACT_RELU: st = add_node(g, "Relu", 1, &x, &node, out_tensor); break;
    case KILN_ACT_SIGMOID: st = add_node(g, "Sigmoid", 1, &x, &node, out_tensor); break;
    case KILN_ACT_TANH: st = add_node(g, "Tanh", 1, &x, &node, out_tensor); break;
    case KILN_ACT_SOFTPLUS: st = add_node(g, "Softplus", 1, &x, &node, out_tensor); break;
    case KILN_ACT_HARD_SWISH: st = add_node(g, "HardSwish", 1, &x, &node, out_tensor); break;
    case KILN_ACT_LEAKY_RELU:
    case KILN_ACT_ELU:
    case KILN_ACT_HARD_SIGMOID: {
        const char *op = act == KILN_ACT_LEAKY_RELU ? "LeakyRelu" : act == KILN_ACT_ELU ? "Elu" : "HardSigmoid";
        st = add_node(g, op, 1, &x, &node, out_tensor);
        kiln_attr *a = st == KILN_OK ? attrs(g, node, act == KILN_ACT_HARD_SIGMOID ? 2 : 1) : NULL;
        if (st == KILN_OK && !a) st = KILN_ERR_OUT_OF_MEMORY;
        if (st == KILN_OK) {
            a[0] = (kiln_attr){.name = "alpha", .type = KILN_ATTR_FLOAT, .f = alpha};
            if (act == KILN_ACT_HARD_SIGMOID) a[1] = (kiln_attr){.name = "beta", .type = KILN_ATTR_FLOAT, .f = beta};
        }
        break;
    }
    case KILN_ACT_CLIP: { /* Clip-11+: bounds are inputs of the input's dtype */
        int lo = -1, hi = -1;
        st = add_scalar(g, dt, alpha, &lo);
        if (st == KILN_OK) st = add_scalar(g, dt, beta, &hi);
        int ins[3] = {x, lo, hi};
        if (st == KILN_OK) st = add_node(g, "Clip", 3, ins, &node, out_tensor);
        break;
    }
    case KILN_ACT_GELU: { /* Gelu is opset 20: written as its opset-17 definition 0.5 x (1 + erf(x / sqrt 2)) */
        int c_sqrt2, c_one, c_half, t1, t2, t3, t4;
        int ins[2];
        st = add_scalar(g, dt, sqrt(2.0), &c_sqrt2);
        if (st == KILN_OK) st = add_scalar(g, dt, 1.0, &c_one);
        if (st == KILN_OK) st = add_scalar(g, dt, 0.5, &c_half);
        if (st == KILN_OK) ins[0] = x, ins[1] = c_sqrt2, st = add_node(g, "Div", 2, ins, &node, &t1);
        if (st == KILN_OK) copy_type(g, t1, x), st = add_node(g, "Erf", 1, &t1, &node, &t2);
        if (st == KILN_OK) copy_type(g, t2, x), ins[0] = t2, ins[1] = c_one, st = add_node(g, "Add", 2, ins, &node, &t3);
        if (st == KILN_OK) copy_type(g, t3, x), ins[0] = x, ins[1] = t3, st = add_node(g, "Mul", 2, ins, &node, &t4);
        if (st == KILN_OK) copy_type(g, t4, x), ins[0] = t4, ins[1] = c_half, st = add_node(g, "Mul", 2, ins, &node, out_tensor);
        break;
    }
    default: break;
    }
    if (st != KILN_OK) return fail(n, st);
    copy_type(g, *out_tensor, x);
    return KILN_OK;
}

/* Output size of a sliding window along one dim (floor mode); -1 when the input dim is unknown. */
static int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe, int64_t dil) {
    if (in < 0) return -1;
    int64_t span = dil * (k - 1) + 1;
    int64_t num = in + pb + pe - span;
    return num < 0 ? 0 : num / s + 1;
}

static kiln_status check_window(int ns, const int64_t *k, const int64_t *s, const int64_t *pb, const int64_t *pe,
                                const int64_t *dil, const char *what) {
    KILN_FAIL_IF(ns < 1 || ns > 3, KILN_ERR_INVALID_ARGUMENT, "%s: n_spatial %d is not 1, 2 or 3", what, ns);
    for (int i = 0; i < ns; i++) {
        KILN_FAIL_IF(k[i] <= 0, KILN_ERR_INVALID_ARGUMENT, "%s: kernel[%d] = %lld must be > 0", what, i, (long long)k[i]);
        KILN_FAIL_IF(s[i] < 0 || pb[i] < 0 || pe[i] < 0 || (dil && dil[i] < 0), KILN_ERR_INVALID_ARGUMENT,
                     "%s: negative stride, pad or dilation in spatial dim %d", what, i);
    }
    return KILN_OK;
}

kiln_status kiln_network_add_conv(kiln_network *n, int input, int weight, int bias, const kiln_conv_desc *d,
                                  int *out_tensor) {
    BEGIN(n, out_tensor);
    kiln_graph *g = n->graph;
    kiln_status st = d ? KILN_OK : kiln_error(KILN_ERR_INVALID_ARGUMENT, "conv: desc is NULL");
    if (st == KILN_OK) st = check_tensor(g, input, "conv input");
    if (st == KILN_OK) st = check_tensor(g, weight, "conv weight");
    if (st == KILN_OK && bias != -1) st = check_tensor(g, bias, "conv bias");
    if (st == KILN_OK) st = check_window(d->n_spatial, d->kernel, d->strides, d->pads_begin, d->pads_end, d->dilations,
                                         "conv");
    if (st != KILN_OK) return fail(n, st);
    int ns = d->n_spatial;
    int64_t groups = d->groups ? d->groups : 1;
    int64_t strides[3], dil[3], pads[6];
    for (int i = 0; i < ns; i++) {
        strides[i] = d->strides[i] ? d->strides[i] : 1;
        dil[i] = d->dilations[i] ? d->dilations[i] : 1;
        pads[i] = d->pads_begin[i];
        pads[ns + i] = d->pads_end[i];
    }
    /* copies: adding values below may move the values array */
    const kiln_type tx_ = *type_of(g, input), tw_ = *type_of(g, weight), *tx = &tx_, *tw = &tw_;
    if (d->out_channels <= 0 || groups < 0)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "conv: out_channels %lld and groups %lld must be positive",
                        (long long)d->out_channels, (long long)groups);
    else if (d->out_channels % groups)
        st = kiln_error(KILN_ERR_SHAPE, "conv: out_channels %lld is not a multiple of groups %lld",
                        (long long)d->out_channels, (long long)groups);
    else if (tx->rank >= 0 && tx->rank != ns + 2)
        st = kiln_error(KILN_ERR_SHAPE, "conv: input has rank %d, a %dD conv needs rank %d", tx->rank, ns, ns + 2);
    else if (tw->rank >= 0 && tw->rank != ns + 2)
        st = kiln_error(KILN_ERR_SHAPE, "conv: weight has rank %d, a %dD conv needs rank %d", tw->rank, ns, ns + 2);
    else if (tw->rank >= 0 && tw->dims[0].v >= 0 && tw->dims[0].v != d->out_channels)
        st = kiln_error(KILN_ERR_SHAPE, "conv: weight dim 0 is %lld, out_channels is %lld", (long long)tw->dims[0].v,
                        (long long)d->out_channels);
    else if (tx->rank >= 0 && tx->dims[1].v >= 0 && tw->rank >= 0 && tw->dims[1].v >= 0 &&
             tx->dims[1].v != tw->dims[1].v * groups)
        st = kiln_error(KILN_ERR_SHAPE, "conv: input has %lld channels, weight expects %lld x %lld groups",
                        (long long)tx->dims[1].v, (long long)tw->dims[1].v, (long long)groups);
    for (int i = 0; st == KILN_OK && tw->rank >= 0 && i < ns; i++)
        if (tw->dims[2 + i].v >= 0 && tw->dims[2 + i].v != d->kernel[i])
            st = kiln_error(KILN_ERR_SHAPE, "conv: weight spatial dim %d is %lld, kernel[%d] is %lld", i,
                            (long long)tw->dims[2 + i].v, i, (long long)d->kernel[i]);
    if (st == KILN_OK && bias != -1) {
        const kiln_type *tb = type_of(g, bias);
        if (tb->rank >= 0 && (tb->rank != 1 || (tb->dims[0].v >= 0 && tb->dims[0].v != d->out_channels)))
            st = kiln_error(KILN_ERR_SHAPE, "conv: bias must be 1-D of out_channels (%lld) elements",
                            (long long)d->out_channels);
    }
    int ins[3] = {input, weight, bias}, node;
    if (st == KILN_OK) st = add_node(g, "Conv", bias == -1 ? 2 : 3, ins, &node, out_tensor);
    kiln_attr *a = st == KILN_OK ? attrs(g, node, 5) : NULL;
    if (st == KILN_OK && !a) st = KILN_ERR_OUT_OF_MEMORY;
    if (st == KILN_OK) st = attr_ints(g, &a[0], "kernel_shape", d->kernel, ns);
    if (st == KILN_OK) st = attr_ints(g, &a[1], "strides", strides, ns);
    if (st == KILN_OK) st = attr_ints(g, &a[2], "pads", pads, 2 * ns);
    if (st == KILN_OK) st = attr_ints(g, &a[3], "dilations", dil, ns);
    if (st != KILN_OK) return fail(n, st);
    a[4] = (kiln_attr){.name = "group", .type = KILN_ATTR_INT, .i = groups};
    if (tx->rank == ns + 2) {
        int64_t dims[5];
        dims[0] = tx->dims[0].v;
        dims[1] = d->out_channels;
        for (int i = 0; i < ns; i++)
            dims[2 + i] = window_out(tx->dims[2 + i].v, d->kernel[i], strides[i], pads[i], pads[ns + i], dil[i]);
        set_type(g, *out_tensor, tx->dtype, ns + 2, dims);
    } else {
        g->values[*out_tensor].type.dtype = tx->dtype;
    }
    return KILN_OK;
}

kiln_status kiln_network_add_pooling(kiln_network *n, kiln_pool_type type, int x, const kiln_pool_desc *d,
                                     int *out_tensor) {
    BEGIN(n, out_tensor);
    kiln_graph *g = n->graph;
    kiln_status st = d ? KILN_OK : kiln_error(KILN_ERR_INVALID_ARGUMENT, "pooling: desc is NULL");
    if (st == KILN_OK && (unsigned)type >= KILN_POOL_TYPE_COUNT)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "unknown pooling type %d", (int)type);
    if (st == KILN_OK) st = check_tensor(g, x, "pooling input");
    if (st == KILN_OK && !d->global)
        st = check_window(d->n_spatial, d->kernel, d->strides, d->pads_begin, d->pads_end, NULL, "pooling");
    kiln_type tx_ = {0};
    if (st == KILN_OK) tx_ = *type_of(g, x); /* a copy: adding values may move the values array */
    const kiln_type *tx = &tx_;
    if (st == KILN_OK && tx->rank >= 0 && (tx->rank < 3 || (!d->global && tx->rank != d->n_spatial + 2)))
        st = kiln_error(KILN_ERR_SHAPE, "pooling: input has rank %d, expected %d", tx->rank,
                        d->global ? 3 : d->n_spatial + 2);
    if (st != KILN_OK) return fail(n, st);
    int node;
    kiln_dtype dt = tx->dtype;
    if (d->global) {
        st = add_node(g, type == KILN_POOL_MAX ? "GlobalMaxPool" : "GlobalAveragePool", 1, &x, &node, out_tensor);
        if (st != KILN_OK) return fail(n, st);
        if (tx->rank >= 0) {
            int64_t dims[KILN_MAX_DIMS];
            dims_of(tx, dims);
            for (int i = 2; i < tx->rank; i++) dims[i] = 1;
            set_type(g, *out_tensor, dt, tx->rank, dims);
        } else {
            g->values[*out_tensor].type.dtype = dt;
        }
        return KILN_OK;
    }
    int ns = d->n_spatial;
    int64_t strides[3], pads[6];
    for (int i = 0; i < ns; i++) {
        strides[i] = d->strides[i] ? d->strides[i] : 1;
        pads[i] = d->pads_begin[i];
        pads[ns + i] = d->pads_end[i];
    }
    int avg = type == KILN_POOL_AVERAGE;
    st = add_node(g, avg ? "AveragePool" : "MaxPool", 1, &x, &node, out_tensor);
    kiln_attr *a = st == KILN_OK ? attrs(g, node, avg ? 4 : 3) : NULL;
    if (st == KILN_OK && !a) st = KILN_ERR_OUT_OF_MEMORY;
    if (st == KILN_OK) st = attr_ints(g, &a[0], "kernel_shape", d->kernel, ns);
    if (st == KILN_OK) st = attr_ints(g, &a[1], "strides", strides, ns);
    if (st == KILN_OK) st = attr_ints(g, &a[2], "pads", pads, 2 * ns);
    if (st != KILN_OK) return fail(n, st);
    if (avg) a[3] = (kiln_attr){.name = "count_include_pad", .type = KILN_ATTR_INT, .i = d->count_include_pad ? 1 : 0};
    if (tx->rank == ns + 2) {
        int64_t dims[5];
        dims[0] = tx->dims[0].v;
        dims[1] = tx->dims[1].v;
        for (int i = 0; i < ns; i++)
            dims[2 + i] = window_out(tx->dims[2 + i].v, d->kernel[i], strides[i], pads[i], pads[ns + i], 1);
        set_type(g, *out_tensor, dt, ns + 2, dims);
    } else {
        g->values[*out_tensor].type.dtype = dt;
    }
    return KILN_OK;
}

kiln_status kiln_network_add_softmax(kiln_network *n, int x, int axis, int *out_tensor) {
    BEGIN(n, out_tensor);
    kiln_graph *g = n->graph;
    kiln_status st = check_tensor(g, x, "softmax input");
    int r = st == KILN_OK ? type_of(g, x)->rank : -1;
    if (st == KILN_OK && r >= 0 && (axis < -r || axis >= (r ? r : 1)))
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "softmax: axis %d is outside [%d, %d] for a rank-%d input", axis, -r,
                        r - 1, r);
    int node;
    if (st == KILN_OK) st = add_node(g, "Softmax", 1, &x, &node, out_tensor);
    kiln_attr *a = st == KILN_OK ? attrs(g, node, 1) : NULL;
    if (st == KILN_OK && !a) st = KILN_ERR_OUT_OF_MEMORY;
    if (st != KILN_OK) return fail(n, st);
    a[0] = (kiln_attr){.name = "axis", .type = KILN_ATTR_INT, .i = axis};
    copy_type(g, *out_tensor, x);
    return KILN_OK;
}

kiln_status kiln_network_add_reshape(kiln_network *n, int x, int rank, const int64_t *dims, int *out_tensor) {
    BEGIN(n, out_tensor);
    kiln_graph *g = n->graph;
    kiln_status st = check_tensor(g, x, "reshape input");
    if (st == KILN_OK && (rank < 0 || rank > KILN_MAX_DIMS))
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "reshape: rank %d is outside 0..%d", rank, KILN_MAX_DIMS);
    if (st == KILN_OK && rank > 0 && !dims) st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "reshape: dims is NULL");
    int n_infer = 0, infer_at = -1;
    for (int i = 0; st == KILN_OK && i < rank; i++) {
        if (dims[i] < -1) st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "reshape: dim %d is %lld", i, (long long)dims[i]);
        if (dims[i] == -1) n_infer++, infer_at = i;
    }
    if (st == KILN_OK && n_infer > 1) st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "reshape: more than one -1 dim");
    kiln_type tx_ = {0};
    if (st == KILN_OK) tx_ = *type_of(g, x); /* a copy: adding values may move the values array */
    const kiln_type *tx = &tx_;
    int64_t out[KILN_MAX_DIMS];
    for (int i = 0; st == KILN_OK && i < rank; i++) {
        out[i] = dims[i];
        if (dims[i] == 0) {
            if (tx->rank >= 0 && i >= tx->rank)
                st = kiln_error(KILN_ERR_SHAPE, "reshape: dim %d is 0 (copy) but the input has rank %d", i, tx->rank);
            else
                out[i] = tx->rank >= 0 ? tx->dims[i].v : -1;
        }
    }
    if (st == KILN_OK && infer_at >= 0) { /* infer the -1 when every other size is known */
        int64_t total = tx->rank >= 0 ? 1 : -1, rest = 1;
        for (int i = 0; total >= 0 && i < tx->rank; i++) total = tx->dims[i].v >= 0 ? total * tx->dims[i].v : -1;
        for (int i = 0; i < rank; i++)
            if (i != infer_at) rest = out[i] >= 0 && rest >= 0 ? rest * out[i] : -1;
        out[infer_at] = total >= 0 && rest > 0 && total % rest == 0 ? total / rest : -1;
        if (total >= 0 && rest > 0 && total % rest)
            st = kiln_error(KILN_ERR_SHAPE, "reshape: %lld elements cannot be split by %lld", (long long)total,
                            (long long)rest);
    }
    int shape = -1, node;
    int64_t sdims[1] = {rank};
    if (st == KILN_OK) st = add_const(g, KILN_INT64, 1, sdims, dims, &shape);
    int ins[2] = {x, shape};
    if (st == KILN_OK) st = add_node(g, "Reshape", 2, ins, &node, out_tensor);
    kiln_attr *a = st == KILN_OK ? attrs(g, node, 1) : NULL;
    if (st == KILN_OK && !a) st = KILN_ERR_OUT_OF_MEMORY;
    if (st != KILN_OK) return fail(n, st);
    a[0] = (kiln_attr){.name = "allowzero", .type = KILN_ATTR_INT, .i = 0};
    set_type(g, *out_tensor, tx->dtype, rank, out);
    return KILN_OK;
}

kiln_status kiln_network_add_concat(kiln_network *n, const int *inputs, int n_inputs, int axis, int *out_tensor) {
    BEGIN(n, out_tensor);
    kiln_graph *g = n->graph;
    kiln_status st = !inputs ? kiln_error(KILN_ERR_INVALID_ARGUMENT, "concat: needs at least one input (inputs is NULL)")
                     : n_inputs < 1
                         ? kiln_error(KILN_ERR_INVALID_ARGUMENT, "concat: needs at least one input (got %d)", n_inputs)
                         : KILN_OK;
    for (int i = 0; st == KILN_OK && i < n_inputs; i++) st = check_tensor(g, inputs[i], "concat input");
    if (st != KILN_OK) return fail(n, st);
    const kiln_type t0_ = *type_of(g, inputs[0]), *t0 = &t0_; /* a copy: add_node may move the values array */
    int r = t0->rank;
    if (r >= 0 && (r == 0 || axis < -r || axis >= r))
        return fail(n, kiln_error(KILN_ERR_INVALID_ARGUMENT, "concat: axis %d is invalid for rank %d", axis, r));
    int ax = r >= 0 && axis < 0 ? axis + r : axis;
    int64_t dims[KILN_MAX_DIMS];
    if (r >= 0) dims_of(t0, dims);
    for (int i = 1; i < n_inputs; i++) {
        const kiln_type *t = type_of(g, inputs[i]);
        if (t->dtype && t0->dtype && t->dtype != t0->dtype)
            return fail(n, kiln_error(KILN_ERR_TYPE, "concat: input %d is %s, input 0 is %s", i,
                                      kiln_dtype_name(t->dtype), kiln_dtype_name(t0->dtype)));
        if (r < 0 || t->rank < 0) {
            r = -1;
            continue;
        }
        if (t->rank != r)
            return fail(n, kiln_error(KILN_ERR_SHAPE, "concat: input %d has rank %d, input 0 has rank %d", i, t->rank, r));
        for (int d = 0; d < r; d++) {
            int64_t v = t->dims[d].v;
            if (d == ax) dims[d] = dims[d] >= 0 && v >= 0 ? dims[d] + v : -1;
            else if (dims[d] >= 0 && v >= 0 && dims[d] != v)
                return fail(n, kiln_error(KILN_ERR_SHAPE, "concat: input %d dim %d is %lld, input 0 has %lld", i, d,
                                          (long long)v, (long long)dims[d]));
            else if (dims[d] < 0) dims[d] = v;
        }
    }
    int node;
    st = add_node(g, "Concat", n_inputs, inputs, &node, out_tensor);
    kiln_attr *a = st == KILN_OK ? attrs(g, node, 1) : NULL;
    if (st == KILN_OK && !a) st = KILN_ERR_OUT_OF_MEMORY;
    if (st != KILN_OK) return fail(n, st);
    a[0] = (kiln_attr){.name = "axis", .type = KILN_ATTR_INT, .i = axis};
    if (r >= 0) set_type(g, *out_tensor, t0->dtype, r, dims);
    else g->values[*out_tensor].type.dtype = t0->dtype;
    return KILN_OK;
}

kiln_status kiln_network_mark_output(kiln_network *n, int tensor, const char *name) {
    KILN_CHECK_HANDLE(n, KILN_MAGIC_NETWORK, "network");
    kiln_graph *g = n->graph;
    kiln_status st = check_tensor(g, tensor, "mark_output");
    if (st != KILN_OK) return fail(n, st);
    kiln_ir_value *v = &g->values[tensor];
    if (v->is_output)
        return fail(n, kiln_error(KILN_ERR_INVALID_ARGUMENT, "tensor %d ('%s') is already an output", tensor, v->name));
    if (name && strcmp(name, v->name) != 0) {
        if (!*name) return fail(n, kiln_error(KILN_ERR_INVALID_ARGUMENT, "mark_output: the name is empty"));
        if (v->is_input)
            return fail(n, kiln_error(KILN_ERR_INVALID_ARGUMENT,
                                      "tensor %d is the input '%s': an input marked as output keeps its name", tensor,
                                      v->name));
        if (kiln_graph_find_value(g, name) >= 0)
            return fail(n, kiln_error(KILN_ERR_INVALID_ARGUMENT, "mark_output: the network already has a tensor '%s'",
                                      name));
        const char *nn = kiln_arena_strdup(&g->arena, name);
        if (!nn) return fail(n, kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory"));
        v->name = nn;
    }
    st = kiln_graph_add_output(g, tensor);
    return st == KILN_OK ? st : fail(n, st);
}
