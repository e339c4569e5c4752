// CUDA kernels: eltwise family, unary half (see eltwise.cu for the table): math and activations, Clip, Cast,
// Identity, inference-mode Dropout, IsNaN and IsInf. Float formulas follow the CPU reference (numerically stable
// Sigmoid / Softplus, Round half to even, Sign keeps zeros and NaN); 16-bit floats compute in float.
#include <math.h>
#include <stdlib.h>

#include "backends/cuda/eltwise.cuh"

namespace kc {

enum uop {
    U_ABS, U_NEG, U_SIGN, U_RELU,                                                    // float and int32/int64
    U_SQRT, U_EXP, U_LOG, U_RECIP, U_ERF, U_TANH, U_SIGMOID, U_LEAKY, U_GELU, U_GELU_TANH, U_HSIG, U_HSWISH,
    U_SOFTPLUS, U_ELU, U_SELU, U_CELU, U_SOFTSIGN, U_THRELU, U_MISH, U_SWISH, U_FLOOR, U_CEIL, U_ROUND, U_SIN,
    U_COS,                                                                           // float only
    U_NOT,                                                                           // bool
};

struct uparams {
    int op;
    float alpha, beta, gamma;
};

__device__ __forceinline__ float sigmoid_f(float x) {
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
__device__ __forceinline__ float softplus_f(float x) { return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x)); }

template <int OP> __device__ __forceinline__ float ufloat(float x, float a, float b, float g) {
    if constexpr (OP == U_ABS) return fabsf(x);
    else if constexpr (OP == U_NEG) return -x;
    else if constexpr (OP == U_SIGN) return x > 0 ? 1.0f : (x < 0 ? -1.0f : x);
    else if constexpr (OP == U_RELU) return x > 0 ? x : (x != x ? x : 0.0f);
    else if constexpr (OP == U_SQRT) return sqrtf(x);
    else if constexpr (OP == U_EXP) return expf(x);
    else if constexpr (OP == U_LOG) return logf(x);
    else if constexpr (OP == U_RECIP) return 1.0f / x;
    else if constexpr (OP == U_ERF) return erff(x);
    else if constexpr (OP == U_TANH) return tanhf(x);
    else if constexpr (OP == U_SIGMOID) return sigmoid_f(x);
    else if constexpr (OP == U_LEAKY) return x < 0 ? a * x : x;
    else if constexpr (OP == U_GELU) return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f));
    else if constexpr (OP == U_GELU_TANH)
        return 0.5f * x * (1.0f + tanhf(0.79788456080286535588f * (x + 0.044715f * x * x * x)));
    else if constexpr (OP == U_HSIG) return fmaxf(0.0f, fminf(1.0f, a * x + b));
    else if constexpr (OP == U_HSWISH) return x * fmaxf(0.0f, fminf(1.0f, x / 6.0f + 0.5f));
    else if constexpr (OP == U_SOFTPLUS) return softplus_f(x);
    else if constexpr (OP == U_ELU) return x < 0 ? a * expm1f(x) : x;
    else if constexpr (OP == U_SELU) return x > 0 ? g * x : g * a * expm1f(x);
    else if constexpr (OP == U_CELU) return fmaxf(0.0f, x) + fminf(0.0f, a * expm1f(x / a));
    else if constexpr (OP == U_SOFTSIGN) return x / (1.0f + fabsf(x));
    else if constexpr (OP == U_THRELU) return x > a ? x : 0.0f;
    else if constexpr (OP == U_MISH) return x * tanhf(softplus_f(x));
    else if constexpr (OP == U_SWISH) return x * sigmoid_f(a * x);
    else if constexpr (OP == U_FLOOR) return floorf(x);
    else if constexpr (OP == U_CEIL) return ceilf(x);
    else if constexpr (OP == U_ROUND) return rintf(x);
    else if constexpr (OP == U_SIN) return sinf(x);
    else return cosf(x);
}

template <int OP, typename I> __device__ __forceinline__ I uint_op(I x) {
    typedef typename std::make_unsigned<I>::type U;
    if constexpr (OP == U_ABS) return x < 0 ? (I)(0 - (U)x) : x;
    else if constexpr (OP == U_NEG) return (I)(0 - (U)x);
    else if constexpr (OP == U_SIGN) return x > 0 ? 1 : (x < 0 ? -1 : 0);
    else return x > 0 ? x : 0;
}

template <int OP, typename T>
__global__ void un_k(int64_t n, const T *__restrict__ x, T *__restrict__ y, float a, float b, float g) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        if constexpr (std::is_integral<T>::value) {
            if constexpr (OP == U_NOT) y[i] = x[i] == 0;
            else y[i] = uint_op<OP>(x[i]);
        } else {
            y[i] = store_as<T>(ufloat<OP>(load(x, i), a, b, g));
        }
    }
}

static const struct {
    const char *name;
    int op;
} un_names[] = {
    {"Abs", U_ABS}, {"Neg", U_NEG}, {"Sign", U_SIGN}, {"Relu", U_RELU}, {"Sqrt", U_SQRT}, {"Exp", U_EXP},
    {"Log", U_LOG}, {"Reciprocal", U_RECIP}, {"Erf", U_ERF}, {"Tanh", U_TANH}, {"Sigmoid", U_SIGMOID},
    {"LeakyRelu", U_LEAKY}, {"Gelu", U_GELU}, {"HardSigmoid", U_HSIG}, {"HardSwish", U_HSWISH},
    {"Softplus", U_SOFTPLUS}, {"Elu", U_ELU}, {"Selu", U_SELU}, {"Celu", U_CELU}, {"Softsign", U_SOFTSIGN},
    {"ThresholdedRelu", U_THRELU}, {"Mish", U_MISH}, {"Swish", U_SWISH}, {"Floor", U_FLOOR}, {"Ceil", U_CEIL},
    {"Round", U_ROUND}, {"Sin", U_SIN}, {"Cos", U_COS}, {"Not", U_NOT},
};

static int uop_of(const kiln_node *n) {
    for (size_t i = 0; i < sizeof un_names / sizeof un_names[0]; i++)
        if (!strcmp(un_names[i].name, n->op_type)) return un_names[i].op;
    return -1;
}

static bool uop_accepts(int op, kiln_dtype t) {
    if (op == U_NOT) return t == KILN_BOOL;
    if (op <= U_RELU) return is_float3(t) || t == KILN_INT32 || t == KILN_INT64;
    return is_float3(t);
}

kiln_status unary_supports(const kiln_node *n, const kiln_graph *g) {
    int op = uop_of(n);
    KILN_FAIL_IF(op < 0, KILN_ERR_INTERNAL, "%s is not a unary eltwise op", n->op_type);
    if (op == U_GELU) {
        const char *a = kiln_attr_string(n, "approximate", "none");
        KILN_FAIL_IF(strcmp(a, "none") && strcmp(a, "tanh"), KILN_ERR_UNSUPPORTED, "Gelu: approximate '%s'", a);
    }
    KILN_FAIL_IF(op == U_CELU && kiln_attr_float(n, "alpha", 1.0f) == 0, KILN_ERR_UNSUPPORTED, "Celu: alpha is 0");
    return need_dtype(n, g, 0, [&](kiln_dtype t) { return uop_accepts(op, t); }, "unary op dtypes");
}

kiln_status unary_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    uparams *p = (uparams *)calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->op = uop_of(n);
    const char *op = n->op_type;
    // Defaults from the ONNX schemas.
    float alpha = 0, beta = 0, gamma = 0;
    if (!strcmp(op, "LeakyRelu")) alpha = 0.01f;
    if (!strcmp(op, "Elu") || !strcmp(op, "Celu") || !strcmp(op, "ThresholdedRelu") || !strcmp(op, "Swish"))
        alpha = 1.0f;
    if (!strcmp(op, "Selu")) {
        alpha = 1.67326319217681884765625f;
        gamma = 1.05070102214813232421875f;
    }
    if (!strcmp(op, "HardSigmoid")) alpha = 0.2f, beta = 0.5f;
    p->alpha = kiln_attr_float(n, "alpha", alpha);
    p->beta = kiln_attr_float(n, "beta", beta);
    p->gamma = kiln_attr_float(n, "gamma", gamma);
    if (p->op == U_GELU && !strcmp(kiln_attr_string(n, "approximate", "none"), "tanh")) p->op = U_GELU_TANH;
    if (p->op < 0) {
        free(p);
        return kiln_error(KILN_ERR_INTERNAL, "%s is not a unary eltwise op", op);
    }
    *params = p;
    return KILN_OK;
}

void unary_release(void *params) { free(params); }

#define KC_UN_CASE(OP)                                                                                            \
    case OP: un_k<OP, T><<<grid, 256, 0, st>>>(n, (const T *)x, (T *)y, p->alpha, p->beta, p->gamma); break;

template <typename T>
static void un_launch_float(const uparams *p, int64_t n, const void *x, void *y, cudaStream_t st) {
    unsigned grid = grid_for(n, 256);
    switch (p->op) {
        KC_UN_CASE(U_ABS) KC_UN_CASE(U_NEG) KC_UN_CASE(U_SIGN) KC_UN_CASE(U_RELU) KC_UN_CASE(U_SQRT)
        KC_UN_CASE(U_EXP) KC_UN_CASE(U_LOG) KC_UN_CASE(U_RECIP) KC_UN_CASE(U_ERF) KC_UN_CASE(U_TANH)
        KC_UN_CASE(U_SIGMOID) KC_UN_CASE(U_LEAKY) KC_UN_CASE(U_GELU) KC_UN_CASE(U_GELU_TANH) KC_UN_CASE(U_HSIG)
        KC_UN_CASE(U_HSWISH) KC_UN_CASE(U_SOFTPLUS) KC_UN_CASE(U_ELU) KC_UN_CASE(U_SELU) KC_UN_CASE(U_CELU)
        KC_UN_CASE(U_SOFTSIGN) KC_UN_CASE(U_THRELU) KC_UN_CASE(U_MISH) KC_UN_CASE(U_SWISH) KC_UN_CASE(U_FLOOR)
        KC_UN_CASE(U_CEIL) KC_UN_CASE(U_ROUND) KC_UN_CASE(U_SIN) KC_UN_CASE(U_COS)
    default: break;
    }
}
template <typename T>
static void un_launch_int(const uparams *p, int64_t n, const void *x, void *y, cudaStream_t st) {
    unsigned grid = grid_for(n, 256);
    switch (p->op) {
        KC_UN_CASE(U_ABS) KC_UN_CASE(U_NEG) KC_UN_CASE(U_SIGN) KC_UN_CASE(U_RELU)
    default: break;
    }
}
#undef KC_UN_CASE

kiln_status unary_run(kiln_cuda_kctx *k) {
    const uparams *p = (const uparams *)k->params;
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    KILN_FAIL_IF(!uop_accepts(p->op == U_GELU_TANH ? U_GELU : p->op, x->dtype), KILN_ERR_TYPE,
                 "%s: dtype %s not supported on CUDA", k->node->op_type, kiln_dtype_name(x->dtype));
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    int64_t n = numel(x);
    if (n == 0) return KILN_OK;
    cudaStream_t st = stream(k);
    if (p->op == U_NOT) {
        un_k<U_NOT, uint8_t><<<grid_for(n, 256), 256, 0, st>>>(n, (const uint8_t *)x->data, (uint8_t *)y->data, 0, 0,
                                                                0);
    } else if (x->dtype == KILN_INT32) {
        un_launch_int<int32_t>(p, n, x->data, y->data, st);
    } else if (x->dtype == KILN_INT64) {
        un_launch_int<int64_t>(p, n, x->data, y->data, st);
    } else {
        with_float(x->dtype, [&](auto t) { un_launch_float<decltype(t)>(p, n, x->data, y->data, st); });
    }
    KC_LAUNCHED();
    return KILN_OK;
}

// ---------------------------------------------------------------- Clip ---------------------------------------------
struct clip_params {
    int from_attrs; // opset < 11: bounds are the float attributes min / max
    float amin, amax;
};

template <typename T, typename A> __global__ void clip_k(int64_t n, const T *x, T *y, A lo, A hi) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        A v = load(x, i);
        v = v < lo ? lo : v;
        y[i] = store_as<T>(v > hi ? hi : v);
    }
}

kiln_status clip_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_TRY(need_dtype(n, g, 0, [](kiln_dtype t) { return is_float3(t) || t == KILN_INT32 || t == KILN_INT64; },
                        "Clip dtypes"));
    for (int i = 1; i < 3; i++)
        if (has_in(n, i)) KILN_TRY(need_same_dtype(n, g, 0, i));
    return KILN_OK;
}

kiln_status clip_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    clip_params *p = (clip_params *)calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->from_attrs = n->opset < 11;
    p->amin = kiln_attr_float(n, "min", -INFINITY);
    p->amax = kiln_attr_float(n, "max", INFINITY);
    *params = p;
    return KILN_OK;
}

// A bound input (host scalar; empty means none) as double, or keeps *v.
static kiln_status clip_bound(const kiln_cuda_kctx *k, int i, kiln_dtype t, double *v) {
    const kiln_cuda_tensor *b = in(k, i);
    if (!b) return KILN_OK;
    KILN_FAIL_IF(b->dtype != t, KILN_ERR_TYPE, "Clip: input %d has dtype %s but input 0 has %s", i,
                 kiln_dtype_name(b->dtype), kiln_dtype_name(t));
    int64_t c = numel(b);
    if (c == 0) return KILN_OK;
    KILN_FAIL_IF(c != 1, KILN_ERR_SHAPE, "Clip: input %d must be a scalar, got %lld elements", i, (long long)c);
    *v = kiln_load_f64(t, b->data, 0);
    return KILN_OK;
}

kiln_status clip_run(kiln_cuda_kctx *k) {
    const clip_params *p = (const clip_params *)k->params;
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, x->dtype, x->rank, x->dims, &y));
    int64_t n = numel(x);
    cudaStream_t st = stream(k);
    if (x->dtype == KILN_INT32 || x->dtype == KILN_INT64) {
        KILN_FAIL_IF(p->from_attrs, KILN_ERR_TYPE, "Clip: integer inputs need opset >= 12");
        const kiln_cuda_tensor *b;
        int64_t lo = x->dtype == KILN_INT32 ? INT32_MIN : INT64_MIN;
        int64_t hi = x->dtype == KILN_INT32 ? INT32_MAX : INT64_MAX;
        for (int i = 1; i < 3; i++) {
            if (!(b = in(k, i)) || numel(b) == 0) continue;
            KILN_FAIL_IF(b->dtype != x->dtype || numel(b) != 1, KILN_ERR_TYPE,
                         "Clip: input %d must be a scalar of the input's dtype", i);
            (i == 1 ? lo : hi) = kiln_load_i64(b->dtype, b->data, 0);
        }
        if (n == 0) return KILN_OK;
        if (x->dtype == KILN_INT32)
            clip_k<int32_t, int32_t><<<grid_for(n, 256), 256, 0, st>>>(n, (const int32_t *)x->data,
                                                                        (int32_t *)y->data, (int32_t)lo, (int32_t)hi);
        else
            clip_k<int64_t, int64_t><<<grid_for(n, 256), 256, 0, st>>>(n, (const int64_t *)x->data,
                                                                        (int64_t *)y->data, lo, hi);
        KC_LAUNCHED();
        return KILN_OK;
    }
    double lo = p->amin, hi = p->amax;
    if (!p->from_attrs) {
        lo = -INFINITY, hi = INFINITY;
        KILN_TRY(clip_bound(k, 1, x->dtype, &lo));
        KILN_TRY(clip_bound(k, 2, x->dtype, &hi));
    }
    if (n == 0) return KILN_OK;
    if (!with_float(x->dtype, [&](auto t) {
            typedef decltype(t) T;
            clip_k<T, float><<<grid_for(n, 256), 256, 0, st>>>(n, (const T *)x->data, (T *)y->data, (float)lo,
                                                                (float)hi);
        }))
        return kiln_error(KILN_ERR_TYPE, "Clip: dtype %s not supported on CUDA", kiln_dtype_name(x->dtype));
    KC_LAUNCHED();
    return KILN_OK;
}

// ---------------------------------------------------------------- Cast ---------------------------------------------
static bool cast_dtype_ok(kiln_dtype t) {
    return is_float3(t) || t == KILN_INT32 || t == KILN_INT64 || t == KILN_BOOL || t == KILN_INT8 || t == KILN_UINT8;
}

// Float -> integer as the CPU reference: truncate toward zero, keep the low bits (NaN gives 0).
__device__ __forceinline__ uint64_t f2bits(double v) {
    if (v != v) return 0;
    if (v > -9223372036854775809.0 && v < 9223372036854775808.0) return (uint64_t)(int64_t)v;
    if (v >= 0) return v < 18446744073709551616.0 ? (uint64_t)v : UINT64_MAX;
    return (uint64_t)INT64_MIN;
}

// bool is a tag type here: stored as one byte holding 0 or 1.
template <typename T> struct storage_of { typedef T type; };
template <> struct storage_of<bool> { typedef uint8_t type; };

template <typename From, typename To>
__device__ __forceinline__ typename storage_of<To>::type cast1(typename storage_of<From>::type v) {
    constexpr bool src_int = std::is_integral<From>::value, dst_int = std::is_integral<To>::value;
    if constexpr (std::is_same<From, To>::value) return v;
    else if constexpr (std::is_same<To, bool>::value) {
        if constexpr (src_int) return v != 0;
        else return to_f(v) != 0.0f;
    } else if constexpr (!src_int && !dst_int) return from_f<To>(to_f(v)); // float/half/bf16 via float: exact
    else if constexpr (!src_int) return (To)f2bits((double)to_f(v));        // float -> integer
    else if constexpr (std::is_same<To, float>::value) return (float)v;
    else if constexpr (std::is_same<To, half>::value) return __double2half((double)v);
    else if constexpr (std::is_same<To, bf16>::value) return __double2bfloat16((double)v);
    else return (To)v; // integer -> integer keeps the low bits
}

template <typename From, typename To> __global__ void cast_k(int64_t n, const void *xv, void *yv) {
    typedef typename storage_of<From>::type SF;
    typedef typename storage_of<To>::type ST;
    const SF *x = (const SF *)xv;
    ST *y = (ST *)yv;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = cast1<From, To>(x[i]);
}

template <typename F> static bool with_cast_type(kiln_dtype t, F &&f) {
    switch (t) {
    case KILN_BOOL: f(bool()); return true;
    case KILN_INT8: f(int8_t()); return true;
    case KILN_UINT8: f(uint8_t()); return true;
    default: return with_numeric(t, f);
    }
}

kiln_status cast_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_TRY(need_dtype(n, g, 0, cast_dtype_ok, "Cast between float/float16/bfloat16/int8/uint8/int32/int64/bool"));
    kiln_dtype to = (kiln_dtype)kiln_attr_int(n, "to", 0);
    KILN_FAIL_IF(!cast_dtype_ok(to), KILN_ERR_UNSUPPORTED, "Cast to %s is not supported on CUDA",
                 kiln_dtype_name(to));
    return KILN_OK;
}

kiln_status cast_prepare(const kiln_node *n, const kiln_graph *g, void **params) {
    int64_t to = kiln_attr_int(n, "to", 0);
    KILN_FAIL_IF(!cast_dtype_ok((kiln_dtype)to), KILN_ERR_UNSUPPORTED, "Cast to dtype %lld not supported on CUDA",
                 (long long)to);
    *params = (void *)(intptr_t)to;
    return KILN_OK;
}

kiln_status cast_run(kiln_cuda_kctx *k) {
    kiln_dtype to = (kiln_dtype)(intptr_t)k->params;
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    KILN_FAIL_IF(!cast_dtype_ok(x->dtype), KILN_ERR_TYPE, "Cast from %s not supported on CUDA",
                 kiln_dtype_name(x->dtype));
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, to, x->rank, x->dims, &y));
    int64_t n = numel(x);
    if (n == 0) return KILN_OK;
    cudaStream_t st = stream(k);
    with_cast_type(x->dtype, [&](auto f) {
        with_cast_type(to, [&](auto t) {
            typedef decltype(f) From;
            typedef decltype(t) To;
            cast_k<From, To><<<grid_for(n, 256), 256, 0, st>>>(n, x->data, y->data);
        });
    });
    KC_LAUNCHED();
    return KILN_OK;
}

// ---------------------------------------------------------------- Identity / Dropout ---------------------------------
kiln_status identity_supports(const kiln_node *n, const kiln_graph *g) {
    KILN_FAIL_IF(has_in(n, 0) && g->values[n->in[0]].type.kind != KILN_KIND_TENSOR, KILN_ERR_UNSUPPORTED,
                 "%s: only tensors run on CUDA", n->op_type);
    return need_dtype(n, g, 0, is_bits_dtype, "fixed-size dtypes");
}

kiln_status identity_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    return kiln_cuda_kout_alias(k, 0, x, x->rank, x->dims);
}

// training_mode (opset 12+) must be a constant false (or absent): a training Dropout runs on the CPU.
kiln_status dropout_supports(const kiln_node *n, const kiln_graph *g) {
    if (has_in(n, 2)) {
        const kiln_tensor *t = g->values[n->in[2]].init;
        KILN_FAIL_IF(!t || t->dtype != KILN_BOOL || kiln_tensor_numel(t) != 1 || ((const uint8_t *)t->data)[0],
                     KILN_ERR_UNSUPPORTED, "Dropout: training_mode is not a constant false");
    }
    return identity_supports(n, g);
}

// Inference: the output is the input and the mask all true; training_mode = true is refused.
kiln_status dropout_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x, *tm = in(k, 2);
    KILN_TRY(in_req(k, 0, &x));
    if (tm && numel(tm) > 0) {
        KILN_FAIL_IF(tm->dtype != KILN_BOOL, KILN_ERR_TYPE, "Dropout: training_mode must be bool");
        KILN_FAIL_IF(((const uint8_t *)tm->data)[0] != 0, KILN_ERR_UNSUPPORTED,
                     "Dropout: training_mode = true is not supported on CUDA");
    }
    KILN_TRY(kiln_cuda_kout_alias(k, 0, x, x->rank, x->dims));
    if (k->n_out > 1 && has_out(k->node, 1)) {
        kiln_cuda_tensor *m;
        KILN_TRY(kiln_cuda_kout(k, 1, KILN_BOOL, x->rank, x->dims, &m));
        if (numel(x) > 0) KILN_CUDA_CHECK(cudaMemsetAsync(m->data, 1, (size_t)numel(x), stream(k)));
    }
    return KILN_OK;
}

// ---------------------------------------------------------------- IsNaN / IsInf ------------------------------------
// Bool output; IsInf's detect_negative / detect_positive select the signs.
template <typename T>
__global__ void isclass_k(int64_t n, const T *__restrict__ x, uint8_t *__restrict__ y, int mode) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = load(x, i);
        y[i] = mode == 0 ? v != v : ((mode & 1) && v == -INFINITY) || ((mode & 2) && v == INFINITY);
    }
}

kiln_status isclass_supports(const kiln_node *n, const kiln_graph *g) {
    return need_dtype(n, g, 0, is_float3, "float formats");
}

kiln_status isclass_run(kiln_cuda_kctx *k) {
    const kiln_cuda_tensor *x;
    KILN_TRY(in_req(k, 0, &x));
    KILN_FAIL_IF(!is_float3(x->dtype), KILN_ERR_TYPE, "%s: dtype %s not supported on CUDA", k->node->op_type,
                 kiln_dtype_name(x->dtype));
    int mode = 0; // IsNaN
    if (!strcmp(k->node->op_type, "IsInf"))
        mode = (kiln_attr_int(k->node, "detect_negative", 1) != 0) |
               (kiln_attr_int(k->node, "detect_positive", 1) != 0) << 1;
    kiln_cuda_tensor *y;
    KILN_TRY(kiln_cuda_kout(k, 0, KILN_BOOL, x->rank, x->dims, &y));
    int64_t n = numel(x);
    if (n == 0) return KILN_OK;
    cudaStream_t st = stream(k);
    with_float(x->dtype, [&](auto t) {
        typedef decltype(t) T;
        isclass_k<T><<<grid_for(n, 256), 256, 0, st>>>(n, (const T *)x->data, (uint8_t *)y->data, mode);
    });
    KC_LAUNCHED();
    return KILN_OK;
}

} // namespace kc
