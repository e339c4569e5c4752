// CUDA kernels: eltwise family (see registry.h). This file: binary arithmetic / comparison / logic with
// broadcasting, Where, and the family table; eltwise-unary.cu: unary math, activations, Clip, Cast, Identity.
// 16-bit floats compute in float; integer division by zero gives 0 and wraps like the CPU reference.
#include "backends/cuda/broadcast.cuh"
#include "backends/cuda/eltwise.cuh"

namespace kc {

enum bop {
    B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_PRELU, B_MOD, B_FMOD, // arithmetic: output dtype = input dtype
    B_EQ, B_LT, B_GT, B_LE, B_GE,                                         // comparisons: bool output
    B_AND, B_OR, B_XOR,                                                   // bool x bool -> bool
};
static inline bool bop_is_cmp(int op) { return op >= B_EQ; }

template <typename A> __device__ __forceinline__ A int_div(A x, A w) {
    if (w == 0) return 0;
    if (w == (A)-1) return (A)(0 - (typename std::make_unsigned<A>::type)x);
    return x / w;
}
template <typename A> __device__ __forceinline__ A int_mod(A x, A w) { // sign of the divisor (Python / numpy)
    if (w == 0 || w == (A)-1) return 0;
    A r = x % w;
    return (r != 0 && ((r < 0) != (w < 0))) ? r + w : r;
}
template <typename A> __device__ __forceinline__ A int_fmod(A x, A w) { // sign of the dividend (C)
    return (w == 0 || w == (A)-1) ? 0 : x % w;
}
__device__ __forceinline__ float py_modf(float x, float w) {
    float r = fmodf(x, w);
    if (r != 0) {
        if ((r < 0) != (w < 0)) r += w;
    } else {
        r = copysignf(0.0f, w);
    }
    return r;
}

// Integer arithmetic wraps: it runs on the unsigned type of the same width.
template <typename A, bool is_int> struct wrap_type { typedef A type; };
template <typename A> struct wrap_type<A, true> { typedef typename std::make_unsigned<A>::type type; };

// One element of a binary op in the accumulation type A of the input dtype.
template <int OP, typename A> __device__ __forceinline__ A barith(A x, A w) {
    constexpr bool is_int = std::is_integral<A>::value;
    typedef typename wrap_type<A, is_int>::type U;
    if constexpr (OP == B_ADD) return (A)((U)x + (U)w);
    else if constexpr (OP == B_SUB) return (A)((U)x - (U)w);
    else if constexpr (OP == B_MUL) return (A)((U)x * (U)w);
    else if constexpr (OP == B_DIV) {
        if constexpr (is_int) return int_div(x, w);
        else return x / w;
    } else if constexpr (OP == B_POW) return powf(x, w);
    else if constexpr (OP == B_MAX) {
        if constexpr (is_int) return x > w ? x : w;
        else return (x > w || x != x) ? x : w;
    } else if constexpr (OP == B_MIN) {
        if constexpr (is_int) return x < w ? x : w;
        else return (x < w || x != x) ? x : w;
    } else if constexpr (OP == B_PRELU) return x < 0 ? x * w : x;
    else if constexpr (OP == B_MOD) {
        if constexpr (is_int) return int_mod(x, w);
        else return py_modf(x, w);
    } else {
        if constexpr (is_int) return int_fmod(x, w);
        else return fmodf(x, w);
    }
}
template <int OP, typename A> __device__ __forceinline__ uint8_t bcmp(A x, A w) {
    if constexpr (OP == B_EQ) return x == w;
    else if constexpr (OP == B_LT) return x < w;
    else if constexpr (OP == B_GT) return x > w;
    else if constexpr (OP == B_LE) return x <= w;
    else if constexpr (OP == B_GE) return x >= w;
    else if constexpr (OP == B_AND) return (x != 0) & (w != 0);
    else if constexpr (OP == B_OR) return (x != 0) | (w != 0);
    else return (x != 0) ^ (w != 0);
}

template <int OP, typename T> struct bin_f {
    const T *a, *b;
    void *y;
    __device__ __forceinline__ void operator()(int64_t i, const int64_t *off) const {
        auto x = load(a, off[0]), w = load(b, off[1]);
        if constexpr (OP >= B_EQ) ((uint8_t *)y)[i] = bcmp<OP>(x, w);
        else ((T *)y)[i] = store_as<T>(barith<OP>(x, w));
    }
};

template <int OP, typename T>
static kiln_status bin_launch(const bplan<2> &p, const void *a, const void *b, void *y, cudaStream_t st) {
    return bplan_launch<2>(p, bin_f<OP, T>{(const T *)a, (const T *)b, y}, st);
}

// Which dtypes each op accepts (checked in supports and again at run time).
static bool bop_accepts(int op, kiln_dtype t) {
    switch (op) {
    case B_POW: case B_PRELU: case B_FMOD: return is_float3(t);
    case B_MOD: return is_float3(t) || t == KILN_INT32 || t == KILN_INT64;
    case B_AND: case B_OR: case B_XOR: return t == KILN_BOOL;
    case B_EQ: return is_float3(t) || t == KILN_INT32 || t == KILN_INT64 || t == KILN_BOOL;
    default: return is_float3(t) || t == KILN_INT32 || t == KILN_INT64;
    }
}

#define KC_BIN_NUMERIC(OP)                                                                                        \
    case OP:                                                                                                      \
        ok = with_numeric(t, [&](auto v) { s = bin_launch<OP, decltype(v)>(p, a, b, y, st); });                    \
        break;
#define KC_BIN_FLOAT(OP)                                                                                          \
    case OP:                                                                                                      \
        ok = with_float(t, [&](auto v) { s = bin_launch<OP, decltype(v)>(p, a, b, y, st); });                      \
        break;

static kiln_status bin_dispatch(int op, kiln_dtype t, const bplan<2> &p, const void *a, const void *b, void *y,
                                cudaStream_t st) {
    kiln_status s = KILN_OK;
    bool ok = false;
    switch (op) {
        KC_BIN_NUMERIC(B_ADD) KC_BIN_NUMERIC(B_SUB) KC_BIN_NUMERIC(B_MUL) KC_BIN_NUMERIC(B_DIV)
        KC_BIN_NUMERIC(B_MAX) KC_BIN_NUMERIC(B_MIN) KC_BIN_NUMERIC(B_MOD) KC_BIN_NUMERIC(B_LT)
        KC_BIN_NUMERIC(B_GT) KC_BIN_NUMERIC(B_LE) KC_BIN_NUMERIC(B_GE)
        KC_BIN_FLOAT(B_POW) KC_BIN_FLOAT(B_PRELU) KC_BIN_FLOAT(B_FMOD)
    case B_EQ:
        if (t == KILN_BOOL) ok = true, s = bin_launch<B_EQ, uint8_t>(p, a, b, y, st);
        else ok = with_numeric(t, [&](auto v) { s = bin_launch<B_EQ, decltype(v)>(p, a, b, y, st); });
        break;
    case B_AND: ok = t == KILN_BOOL, s = ok ? bin_launch<B_AND, uint8_t>(p, a, b, y, st) : KILN_OK; break;
    case B_OR: ok = t == KILN_BOOL, s = ok ? bin_launch<B_OR, uint8_t>(p, a, b, y, st) : KILN_OK; break;
    case B_XOR: ok = t == KILN_BOOL, s = ok ? bin_launch<B_XOR, uint8_t>(p, a, b, y, st) : KILN_OK; break;
    default: break;
    }
    if (!ok) return kiln_error(KILN_ERR_UNSUPPORTED, "binary op %d: dtype %s not supported on CUDA", op,
                               kiln_dtype_name(t));
    return s;
}
#undef KC_BIN_NUMERIC
#undef KC_BIN_FLOAT

static const struct {
    const char *name;
    int op;
} bin_names[] = {
    {"Add", B_ADD}, {"Sub", B_SUB}, {"Mul", B_MUL}, {"Div", B_DIV}, {"Pow", B_POW}, {"Max", B_MAX},
    {"Min", B_MIN}, {"PRelu", B_PRELU}, {"Mod", B_MOD}, {"Equal", B_EQ}, {"Less", B_LT}, {"Greater", B_GT},
    {"LessOrEqual", B_LE}, {"GreaterOrEqual", B_GE}, {"And", B_AND}, {"Or", B_OR}, {"Xor", B_XOR},
};

static int bop_of(const kiln_node *n) {
    for (size_t i = 0; i < sizeof bin_names / sizeof bin_names[0]; i++)
        if (!strcmp(bin_names[i].name, n->op_type)) {
            int op = bin_names[i].op;
            if (op == B_MOD && kiln_attr_int(n, "fmod", 0)) op = B_FMOD;
            return op;
        }
    return -1;
}

static kiln_status bin_supports(const kiln_node *n, const kiln_graph *g) {
    int op = bop_of(n);
    KILN_FAIL_IF(op < 0, KILN_ERR_INTERNAL, "%s is not a binary eltwise op", n->op_type);
    // Variadic Max/Min take 1..N inputs; the device kernel handles exactly two.
    KILN_FAIL_IF(n->n_in != 2 || !has_in(n, 0) || !has_in(n, 1), KILN_ERR_UNSUPPORTED,
                 "%s: only the two-input form runs on CUDA (node has %d inputs)", n->op_type, n->n_in);
    KILN_TRY(need_dtype(n, g, 0, [&](kiln_dtype t) { return bop_accepts(op, t); }, "binary op dtypes"));
    KILN_TRY(need_same_dtype(n, g, 0, 1));
    KILN_FAIL_IF(op == B_MOD && kiln_dtype_is_float(in_dtype(n, g, 0)), KILN_ERR_UNSUPPORTED,
                 "Mod on floats needs fmod=1");
    return KILN_OK;
}

static kiln_status bin_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    int op = bop_of(n);
    KILN_FAIL_IF(op < 0, KILN_ERR_INTERNAL, "%s is not a binary eltwise op", n->op_type);
    *params = (void *)(intptr_t)(op + 1); // the op code is the whole state
    return KILN_OK;
}

static kiln_status bin_run(kiln_cuda_kctx *k) {
    int op = (int)(intptr_t)k->params - 1;
    const kiln_cuda_tensor *a, *b;
    KILN_TRY(in_req(k, 0, &a));
    KILN_TRY(in_req(k, 1, &b));
    KILN_FAIL_IF(a->dtype != b->dtype || !bop_accepts(op, a->dtype), KILN_ERR_TYPE,
                 "%s: input dtypes %s and %s not supported on CUDA", k->node->op_type, kiln_dtype_name(a->dtype),
                 kiln_dtype_name(b->dtype));
    int r;
    int64_t dims[KILN_MAX_DIMS];
    KILN_TRY(kiln_broadcast_shape(a->rank, a->dims, b->rank, b->dims, &r, dims));
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, bop_is_cmp(op) ? KILN_BOOL : a->dtype, r, dims, &y));
    bplan<2> p;
    int ranks[2] = {a->rank, b->rank};
    const int64_t *ds[2] = {a->dims, b->dims};
    bplan_make<2>(p, r, dims, ranks, ds);
    return bin_dispatch(op, a->dtype, p, a->data, b->data, y->data, stream(k));
}

// ---------------------------------------------------------------- Where --------------------------------------------
template <typename B> struct where_f {
    const uint8_t *c;
    const B *x, *w;
    B *y;
    __device__ __forceinline__ void operator()(int64_t i, const int64_t *off) const {
        y[i] = c[off[0]] ? x[off[1]] : w[off[2]];
    }
};

static kiln_status where_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_TRY(need_dtype(n, g, 0, [](kiln_dtype t) { return t == KILN_BOOL; }, "condition must be bool"));
    KILN_TRY(need_dtype(n, g, 1, is_bits_dtype, "fixed-size dtypes"));
    return need_same_dtype(n, g, 1, 2);
}

static kiln_status where_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *c, *x, *w;
    KILN_TRY(in_req(k, 0, &c));
    KILN_TRY(in_req(k, 1, &x));
    KILN_TRY(in_req(k, 2, &w));
    KILN_FAIL_IF(c->dtype != KILN_BOOL || x->dtype != w->dtype, KILN_ERR_TYPE,
                 "Where: condition must be bool and X, Y of one dtype");
    int r, r2;
    int64_t d1[KILN_MAX_DIMS], dims[KILN_MAX_DIMS];
    KILN_TRY(kiln_broadcast_shape(c->rank, c->dims, x->rank, x->dims, &r2, d1));
    KILN_TRY(kiln_broadcast_shape(r2, d1, w->rank, w->dims, &r, dims));
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, r, dims, &y));
    bplan<3> p;
    int ranks[3] = {c->rank, x->rank, w->rank};
    const int64_t *ds[3] = {c->dims, x->dims, w->dims};
    bplan_make<3>(p, r, dims, ranks, ds);
    kiln_status s = KILN_OK;
    if (!with_bits(x->dtype, [&](auto t) {
            typedef decltype(t) B;
            s = bplan_launch<3>(p, where_f<B>{(const uint8_t *)c->data, (const B *)x->data, (const B *)w->data,
                                              (B *)y->data},
                                stream(k));
        }))
        return kiln_error(KILN_ERR_TYPE, "Where: dtype %s not supported on CUDA", kiln_dtype_name(x->dtype));
    return s;
}

} // namespace kc

using namespace kc;

#define KC_BIN(name, since) {name, "", since, 0, bin_supports, bin_prepare, nullptr, bin_run}
extern "C" const kiln_cuda_op_def kiln_cuda_ops_eltwise[] = {
    // Opsets before 7 broadcast with an axis attribute: those nodes stay on the CPU.
    KC_BIN("Add", 7), KC_BIN("Sub", 7), KC_BIN("Mul", 7), KC_BIN("Div", 7), KC_BIN("Pow", 7), KC_BIN("Max", 8),
    KC_BIN("Min", 8), KC_BIN("PRelu", 7), KC_BIN("Mod", 10), KC_BIN("Equal", 7), KC_BIN("Less", 7),
    KC_BIN("Greater", 7), KC_BIN("LessOrEqual", 12), KC_BIN("GreaterOrEqual", 12), KC_BIN("And", 7),
    KC_BIN("Or", 7), KC_BIN("Xor", 7),
    {"Where", "", 9, 0, where_supports, nullptr, nullptr, where_run},
    KC_ELTWISE_UNARY_ENTRIES
    {nullptr, nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr},
};
#undef KC_BIN
