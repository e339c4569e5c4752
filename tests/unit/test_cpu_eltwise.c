/* Binary and variadic eltwise kernels (Add ... BitShift, Sum/Mean/Max/Min, Where, Clip) against references
 * computed here in double / int64 with explicit broadcast index math, on fresh random inputs. */
#include "test_cpu_eltwise_util.h"

static trng rng = {12345};

typedef struct shape_pair {
    int ra;
    int64_t a[4];
    int rb;
    int64_t b[4];
} shape_pair;

static const shape_pair shapes[] = {
    {3, {2, 3, 4}, 2, {3, 1}},
    {3, {2, 3, 4}, 1, {1}},
    {3, {2, 3, 4}, 0, {0}},
    {1, {0}, 1, {1}},
    {3, {5, 1, 7}, 3, {1, 6, 1}},
    {1, {37}, 1, {37}},
    {2, {3, 1}, 3, {2, 3, 4}},
    {0, {0}, 0, {0}},
    {1, {40001}, 1, {40001}},
    {2, {1000, 33}, 1, {33}},
    {4, {2, 3, 4, 5}, 4, {2, 1, 4, 1}},
    {2, {12000, 3}, 2, {12000, 1}},
    {3, {0, 3, 1}, 2, {1, 5}},
};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])

static const kiln_dtype numeric[] = {KILN_INT8,   KILN_INT16,  KILN_INT32, KILN_INT64,  KILN_UINT8,   KILN_UINT16,
                                     KILN_UINT32, KILN_UINT64, KILN_FLOAT, KILN_DOUBLE, KILN_FLOAT16, KILN_BFLOAT16};
#define N_NUMERIC (int)(sizeof numeric / sizeof numeric[0])

enum {
    OP_Add,
    OP_Sub,
    OP_Mul,
    OP_Div,
    OP_Pow,
    OP_Mod,
    OP_Max,
    OP_Min,
    OP_Equal,
    OP_Less,
    OP_Greater,
    OP_LessOrEqual,
    OP_GreaterOrEqual,
    OP_BitwiseAnd,
    OP_BitwiseOr,
    OP_BitwiseXor,
    OP_ShiftL,
    OP_ShiftR,
    OP_And,
    OP_Or,
    OP_Xor,
    OP_COUNT
};
static const char *const op_names[] = {"Add",
                                       "Sub",
                                       "Mul",
                                       "Div",
                                       "Pow",
                                       "Mod",
                                       "Max",
                                       "Min",
                                       "Equal",
                                       "Less",
                                       "Greater",
                                       "LessOrEqual",
                                       "GreaterOrEqual",
                                       "BitwiseAnd",
                                       "BitwiseOr",
                                       "BitwiseXor",
                                       "ShiftL",
                                       "ShiftR",
                                       "And",
                                       "Or",
                                       "Xor"};

static int op_code(const char *op) {
    for (int i = 0; i < OP_COUNT; i++)
        if (!strcmp(op_names[i], op)) return i;
    return -1;
}

/* Reference for integer inputs (as int64; unsigned values stay below 2^62 in these tests). */
static int64_t ref_int(int op, int fmod_, int64_t a, int64_t b, int bits, int sgn) {
    uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
    if (op == OP_Add) return (int64_t)(ua + ub);
    if (op == OP_Sub) return (int64_t)(ua - ub);
    if (op == OP_Mul) return (int64_t)(ua * ub);
    if (op == OP_Div) return a / b; /* C truncates toward zero, as ONNX requires */
    if (op == OP_Mod) {
        int64_t r = a % b;
        if (!fmod_ && r != 0 && ((r < 0) != (b < 0))) r += b;
        return r;
    }
    if (op == OP_Max) return a > b ? a : b;
    if (op == OP_Min) return a < b ? a : b;
    if (op == OP_Equal) return a == b;
    if (op == OP_Less) return a < b;
    if (op == OP_Greater) return a > b;
    if (op == OP_LessOrEqual) return a <= b;
    if (op == OP_GreaterOrEqual) return a >= b;
    if (op == OP_BitwiseAnd) return a & b;
    if (op == OP_BitwiseOr) return a | b;
    if (op == OP_BitwiseXor) return a ^ b;
    if (op == OP_ShiftL) {
        if (b < 0 || b >= bits) return 0;
        for (int i = 0; i < b; i++) ua *= 2; /* multiply: the obvious, overflow-free-in-unsigned reference */
        return (int64_t)ua;
    }
    if (op == OP_ShiftR) {
        if (b < 0 || b >= bits) return sgn && a < 0 ? -1 : 0;
        int64_t v = a;
        for (int i = 0; i < b; i++) v = (v - (((v % 2) + 2) % 2)) / 2; /* floor division by 2 */
        return v;
    }
    if (op == OP_And) return (a != 0) && (b != 0);
    if (op == OP_Or) return (a != 0) || (b != 0);
    if (op == OP_Xor) return (a != 0) != (b != 0);
    return 0;
}

static double ref_float(int op, int fmod_, double a, double b) {
    if (op == OP_Add) return a + b;
    if (op == OP_Sub) return a - b;
    if (op == OP_Mul) return a * b;
    if (op == OP_Div) return a / b;
    if (op == OP_Pow) return pow(a, b);
    if (op == OP_Mod) {
        if (fmod_) return fmod(a, b);
        return a - floor(a / b) * b;
    }
    if (op == OP_Max) return a > b ? a : b;
    if (op == OP_Min) return a < b ? a : b;
    if (op == OP_Equal) return a == b;
    if (op == OP_Less) return a < b;
    if (op == OP_Greater) return a > b;
    if (op == OP_LessOrEqual) return a <= b;
    if (op == OP_GreaterOrEqual) return a >= b;
    return NAN;
}

static int is_cmp(const char *op) {
    return !strcmp(op, "Equal") || !strcmp(op, "Less") || !strcmp(op, "Greater") || !strcmp(op, "LessOrEqual") ||
           !strcmp(op, "GreaterOrEqual") || !strcmp(op, "And") || !strcmp(op, "Or") || !strcmp(op, "Xor");
}

/* Value ranges that keep every op defined (no integer division by zero, pow of small values). */
static void fill_for(const char *op, kiln_tensor *x, int which) {
    kiln_dtype t = x->dtype;
    int64_t n = kiln_tensor_numel(x);
    int divisor = which == 1 && (!strcmp(op, "Div") || !strcmp(op, "Mod"));
    if (!strcmp(op, "ShiftL") || !strcmp(op, "ShiftR")) {
        int bits = (int)kiln_dtype_size(t) * 8;
        if (which == 1) {
            tfill(x, &rng, kiln_dtype_is_signed(t) ? -2 : 0, bits + 2);
            return;
        }
        for (int64_t i = 0; i < n; i++) kiln_store_i64(t, x->data, i, (int64_t)trng_next(&rng));
        if (t == KILN_UINT64) /* keep below 2^62 for the int64 reference */
            for (int64_t i = 0; i < n; i++) ((uint64_t *)x->data)[i] >>= 2;
        return;
    }
    if (t_is_float(t)) {
        if (!strcmp(op, "Pow"))
            tfill(x, &rng, which ? -2 : 0.1, which ? 2 : 3);
        else
            tfill(x, &rng, -10, 10);
        if (divisor)
            for (int64_t i = 0; i < n; i++)
                if (fabs(tget(x, i)) < 0.5) kiln_store_f64(t, x->data, i, 1.5);
        return;
    }
    double lo = kiln_dtype_is_signed(t) ? -100 : 0, hi = 200;
    if (t == KILN_INT64 || t == KILN_UINT64 || t == KILN_INT32 || t == KILN_UINT32) hi = 3e9;
    if (t == KILN_INT64 || t == KILN_INT32) lo = -3e9;
    if (divisor) {
        lo = kiln_dtype_is_signed(t) ? -9 : 1;
        hi = 9;
    }
    tfill(x, &rng, lo, hi);
    if (divisor)
        for (int64_t i = 0; i < n; i++)
            if (tgeti(x, i) == 0) kiln_store_i64(t, x->data, i, 3);
}

/* Runs op on a fresh random pair of every shape case and compares with the reference. */
static void check_binary(const char *op, kiln_dtype t, int fmod_) {
    const int code = op_code(op), cmp = is_cmp(op);
    const char *onnx_op = !strcmp(op, "ShiftL") || !strcmp(op, "ShiftR") ? "BitShift" : op;
    for (int s = 0; s < N_SHAPES; s++) {
        const shape_pair *sp = &shapes[s];
        kiln_tensor in[2] = {tmake(t, sp->ra, sp->a), tmake(t, sp->rb, sp->b)};
        fill_for(op, &in[0], 0);
        fill_for(op, &in[1], 1);
        oneop o;
        oneop_begin(&o, onnx_op, "", 28, 2, 1);
        if (!strcmp(op, "Mod")) oneop_attr_int(&o, "fmod", fmod_);
        if (!strcmp(op, "ShiftL")) oneop_attr_string(&o, "direction", "LEFT");
        if (!strcmp(op, "ShiftR")) oneop_attr_string(&o, "direction", "RIGHT");
        kiln_status st = oneop_run(&o, in);
        CHECK(st == KILN_OK);
        if (st != KILN_OK) {
            fprintf(stderr, "  %s %s shape case %d: %s\n", op, kiln_dtype_name(t), s, kiln_error_text());
        } else {
            const kiln_tensor *y = oneop_out(&o, 0);
            int64_t odims[KILN_MAX_DIMS];
            int orank = sp->ra > sp->rb ? sp->ra : sp->rb;
            for (int d = 0; d < orank; d++) {
                int da = d - (orank - sp->ra), db = d - (orank - sp->rb);
                int64_t xa = da >= 0 ? sp->a[da] : 1, xb = db >= 0 ? sp->b[db] : 1;
                odims[d] = xa == 1 ? xb : xa;
            }
            kiln_dtype yt = is_cmp(op) ? KILN_BOOL : t;
            CHECK(y->dtype == yt && y->rank == orank);
            for (int d = 0; d < orank && d < y->rank; d++) CHECK(y->dims[d] == odims[d]);
            int64_t n = kiln_numel(orank, odims), bad = 0;
            for (int64_t i = 0; i < n && y->dtype == yt; i++) {
                int64_t ia = bc_index(&in[0], orank, odims, i), ib = bc_index(&in[1], orank, odims, i);
                double want, got = tget(y, i);
                if (t_is_float(t)) {
                    want = ref_float(code, fmod_, tget(&in[0], ia), tget(&in[1], ib));
                    if (!cmp) want = t_round(t, want);
                } else {
                    int64_t r = ref_int(code, fmod_, tgeti(&in[0], ia), tgeti(&in[1], ib), (int)kiln_dtype_size(t) * 8,
                                        kiln_dtype_is_signed(t));
                    int64_t buf = 0;
                    kiln_store_i64(yt, &buf, 0, r); /* wrap to the output type */
                    want = kiln_load_f64(yt, &buf, 0);
                    if (yt == KILN_UINT64 || yt == KILN_INT64) {
                        want = (double)kiln_load_i64(yt, &buf, 0);
                        got = (double)tgeti(y, i);
                        if (kiln_load_i64(yt, &buf, 0) != tgeti(y, i)) bad++;
                        continue;
                    }
                }
                double tol = (!strcmp(op, "Mod") || !strcmp(op, "Pow")) && t_is_float(t) ? 1e-4 : 0;
                if (t == KILN_FLOAT16 || t == KILN_BFLOAT16) tol = !strcmp(op, "Mod") ? 0.1 : 1e-3;
                if (!t_close(yt, got, want, tol)) {
                    if (bad++ < 3)
                        fprintf(stderr, "  %s %s case %d elem %lld: got %.9g want %.9g (a %.9g b %.9g)\n", op,
                                kiln_dtype_name(t), s, (long long)i, got, want, tget(&in[0], ia), tget(&in[1], ib));
                }
            }
            CHECK(bad == 0);
        }
        oneop_end(&o);
        kiln_tensor_release(&in[0]);
        kiln_tensor_release(&in[1]);
    }
}

static void test_binary_all(void) {
    const char *arith[] = {"Add",   "Sub",  "Mul",     "Div",         "Max",           "Min",
                           "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"};
    for (size_t o = 0; o < sizeof arith / sizeof arith[0]; o++)
        for (int i = 0; i < N_NUMERIC; i++) check_binary(arith[o], numeric[i], 0);
    for (int f = 0; f < 2; f++)
        for (int i = 0; i < N_NUMERIC; i++) check_binary("Mod", numeric[i], f);
    const char *bits[] = {"BitwiseAnd", "BitwiseOr", "BitwiseXor", "ShiftL", "ShiftR"};
    for (size_t o = 0; o < sizeof bits / sizeof bits[0]; o++)
        for (int i = 0; i < 8; i++) check_binary(bits[o], numeric[i], 0);
    const char *logic[] = {"And", "Or", "Xor", "Equal"};
    for (size_t o = 0; o < sizeof logic / sizeof logic[0]; o++) check_binary(logic[o], KILN_BOOL, 0);
    check_binary("Pow", KILN_FLOAT, 0);
    check_binary("Pow", KILN_DOUBLE, 0);
    check_binary("Pow", KILN_FLOAT16, 0);
}

/* Runs a 2-input node on small fixed tensors; returns the status, output copied to *y (caller releases). */
static kiln_status run2(const char *op, int opset, const kiln_tensor *a, const kiln_tensor *b, kiln_tensor *y,
                        const char *attr, int64_t attr_v) {
    oneop o;
    oneop_begin(&o, op, "", opset, 2, 1);
    if (attr) oneop_attr_int(&o, attr, attr_v);
    kiln_tensor in[2] = {*a, *b};
    kiln_status st = oneop_run(&o, in);
    if (st == KILN_OK) kiln_tensor_copy(y, oneop_out(&o, 0));
    oneop_end(&o);
    return st;
}

static void test_mod_signs_and_edges(void) {
    int64_t d4[] = {4};
    int32_t a[] = {-7, 7, -7, 7}, b[] = {3, -3, -3, 3};
    kiln_tensor ta = oneop_tensor(KILN_INT32, 1, d4, a), tb = oneop_tensor(KILN_INT32, 1, d4, b), y = {0};
    CHECK(run2("Mod", 13, &ta, &tb, &y, "fmod", 0) == KILN_OK);
    const int32_t *r = y.data;
    CHECK(r[0] == 2 && r[1] == -2 && r[2] == -1 && r[3] == 1);
    CHECK(run2("Mod", 13, &ta, &tb, &y, "fmod", 1) == KILN_OK);
    r = y.data;
    CHECK(r[0] == -1 && r[1] == 1 && r[2] == -1 && r[3] == 1);
    /* float fmod=0 special cases from the spec */
    float fa[] = {0.0f, -0.0f, INFINITY, 5.0f, 5.0f, -5.0f, NAN},
          fb[] = {-3.0f, 3.0f, 2.0f, 0.0f, -INFINITY, -INFINITY, 1.0f};
    int64_t d7[] = {7};
    kiln_tensor xa = oneop_tensor(KILN_FLOAT, 1, d7, fa), xb = oneop_tensor(KILN_FLOAT, 1, d7, fb);
    CHECK(run2("Mod", 13, &xa, &xb, &y, "fmod", 0) == KILN_OK);
    const float *f = y.data;
    CHECK(f[0] == 0 && signbit(f[0]) && f[1] == 0 && !signbit(f[1]));
    CHECK(isnan(f[2]) && isnan(f[3]) && isnan(f[6]));
    CHECK(f[4] == -INFINITY && f[5] == -5.0f);
    /* integer division by zero is defined as 0 here rather than trapping */
    int32_t z[] = {0, 0, 0, 0}, mn[] = {INT32_MIN, 5, -5, 0}, m1[] = {-1, -1, 0, 2};
    kiln_tensor tz = oneop_tensor(KILN_INT32, 1, d4, z), tm = oneop_tensor(KILN_INT32, 1, d4, mn),
                t1 = oneop_tensor(KILN_INT32, 1, d4, m1);
    CHECK(run2("Div", 14, &ta, &tz, &y, NULL, 0) == KILN_OK);
    CHECK(((int32_t *)y.data)[0] == 0);
    CHECK(run2("Div", 14, &tm, &t1, &y, NULL, 0) == KILN_OK);
    r = y.data;
    CHECK(r[0] == INT32_MIN && r[1] == -5 && r[2] == 0 && r[3] == 0);
    kiln_tensor_release(&y);
}

static void test_pow_mixed(void) {
    /* base int32 ^ float exponent, float ^ int64, int64 ^ int64 (as test_pow_types_*) */
    int64_t d3[] = {3};
    int32_t bi[] = {1, 2, 3};
    float ef[] = {1.0f, 2.0f, 3.0f}, bf[] = {1.0f, 2.0f, 3.0f};
    int64_t ei[] = {4, 5, 6}, bl[] = {-2, 3, 10};
    uint64_t eu[] = {4, 5, 6};
    kiln_tensor y = {0};
    kiln_tensor tb = oneop_tensor(KILN_INT32, 1, d3, bi), te = oneop_tensor(KILN_FLOAT, 1, d3, ef);
    CHECK(run2("Pow", 15, &tb, &te, &y, NULL, 0) == KILN_OK);
    CHECK(y.dtype == KILN_INT32 && ((int32_t *)y.data)[0] == 1 && ((int32_t *)y.data)[1] == 4 &&
          ((int32_t *)y.data)[2] == 27);
    kiln_tensor fb = oneop_tensor(KILN_FLOAT, 1, d3, bf), fe = oneop_tensor(KILN_INT64, 1, d3, ei);
    CHECK(run2("Pow", 15, &fb, &fe, &y, NULL, 0) == KILN_OK);
    CHECK(y.dtype == KILN_FLOAT && ((float *)y.data)[1] == 32.0f && ((float *)y.data)[2] == 729.0f);
    kiln_tensor ue = oneop_tensor(KILN_UINT64, 1, d3, eu);
    CHECK(run2("Pow", 15, &fb, &ue, &y, NULL, 0) == KILN_OK);
    CHECK(((float *)y.data)[2] == 729.0f);
    kiln_tensor lb = oneop_tensor(KILN_INT64, 1, d3, bl), le = oneop_tensor(KILN_INT64, 1, d3, ei);
    CHECK(run2("Pow", 15, &lb, &le, &y, NULL, 0) == KILN_OK);
    const int64_t *r = y.data;
    CHECK(r[0] == 16 && r[1] == 243 && r[2] == 1000000);
    kiln_tensor_release(&y);
}

static void test_errors_and_legacy(void) {
    int64_t d3[] = {3}, d2[] = {2}, d23[] = {2, 3};
    float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {10, 20, 30};
    double c[2] = {0};
    kiln_tensor y = {0};
    kiln_tensor ta = oneop_tensor(KILN_FLOAT, 1, d3, a), tc = oneop_tensor(KILN_DOUBLE, 1, d2, c),
                tf2 = oneop_tensor(KILN_FLOAT, 1, d2, a);
    CHECK(run2("Add", 14, &ta, &tc, &y, NULL, 0) == KILN_ERR_TYPE);
    CHECK(strstr(kiln_error_text(), "float64") != NULL);
    CHECK(run2("Add", 14, &ta, &tf2, &y, NULL, 0) == KILN_ERR_SHAPE);
    CHECK(strstr(kiln_error_text(), "[3]") != NULL && strstr(kiln_error_text(), "[2]") != NULL);
    CHECK(run2("And", 7, &ta, &ta, &y, NULL, 0) == KILN_ERR_UNSUPPORTED);
    CHECK(run2("BitShift", 11, &ta, &ta, &y, NULL, 0) != KILN_OK); /* no direction */
    /* opset 6: broadcast=1 with axis 0 aligns b ([2]) to a's first dim */
    kiln_tensor m = oneop_tensor(KILN_FLOAT, 2, d23, a), v = oneop_tensor(KILN_FLOAT, 1, d2, b);
    oneop o;
    oneop_begin(&o, "Add", "", 6, 2, 1);
    oneop_attr_int(&o, "broadcast", 1);
    oneop_attr_int(&o, "axis", 0);
    kiln_tensor in[2] = {m, v};
    CHECK(oneop_run(&o, in) == KILN_OK);
    const float *r = oneop_out(&o, 0)->data;
    CHECK(r[0] == 11 && r[2] == 13 && r[3] == 24 && r[5] == 26);
    oneop_end(&o);
    kiln_tensor_release(&y);
}

/* Sum / Mean / Max / Min over three broadcast inputs, one input, and NaN propagation in Max/Min. */
static void test_variadic(void) {
    const char *ops[] = {"Sum", "Mean", "Max", "Min"};
    const kiln_dtype types[] = {KILN_FLOAT, KILN_DOUBLE, KILN_FLOAT16, KILN_BFLOAT16, KILN_INT32, KILN_UINT8};
    int64_t s0[] = {2, 3, 4}, s1[] = {3, 1}, s2[] = {4}, big[] = {50000};
    for (size_t oi = 0; oi < 4; oi++) {
        for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
            kiln_dtype t = types[ti];
            int is_sum = oi < 2;
            if (is_sum && !t_is_float(t)) continue;
            for (int variant = 0; variant < 3; variant++) {
                kiln_tensor in[3];
                int n_in = variant == 1 ? 1 : 3;
                if (variant == 2) {
                    for (int i = 0; i < 3; i++) in[i] = tmake(t, 1, big);
                } else {
                    in[0] = tmake(t, 3, s0);
                    in[1] = tmake(t, 2, s1);
                    in[2] = tmake(t, 1, s2);
                }
                for (int i = 0; i < n_in; i++) tfill(&in[i], &rng, t_is_float(t) ? -5 : 0, 100);
                oneop o;
                oneop_begin(&o, ops[oi], "", 13, n_in, 1);
                CHECK(oneop_run(&o, in) == KILN_OK);
                const kiln_tensor *y = oneop_out(&o, 0);
                int64_t *od = variant == 2 ? big : s0;
                int orank = variant == 2 ? 1 : 3;
                CHECK(y->rank == orank && y->dtype == t);
                int64_t n = kiln_numel(orank, od), bad = 0;
                for (int64_t e = 0; e < n; e++) {
                    double acc = tget(&in[0], bc_index(&in[0], orank, od, e));
                    for (int i = 1; i < n_in; i++) {
                        double v = tget(&in[i], bc_index(&in[i], orank, od, e));
                        if (is_sum)
                            acc = t_round(t, acc + v); /* kernels accumulate in the tensor's type */
                        else
                            acc = oi == 2 ? (v > acc ? v : acc) : (v < acc ? v : acc);
                    }
                    if (oi == 1) acc /= n_in;
                    if (!t_close(t, tget(y, e), t_round(t, acc), 1e-6)) bad++;
                }
                CHECK(bad == 0);
                if (bad)
                    fprintf(stderr, "  %s %s variant %d: %lld bad\n", ops[oi], kiln_dtype_name(t), variant,
                            (long long)bad);
                oneop_end(&o);
                for (int i = 0; i < 3; i++) kiln_tensor_release(&in[i]);
            }
        }
    }
    float a[] = {1, NAN, 3}, b[] = {NAN, 2, 1};
    int64_t d3[] = {3};
    kiln_tensor y = {0}, ta = oneop_tensor(KILN_FLOAT, 1, d3, a), tb = oneop_tensor(KILN_FLOAT, 1, d3, b);
    CHECK(run2("Max", 13, &ta, &tb, &y, NULL, 0) == KILN_OK);
    CHECK(isnan(((float *)y.data)[0]) && isnan(((float *)y.data)[1]) && ((float *)y.data)[2] == 3);
    CHECK(run2("Min", 13, &ta, &tb, &y, NULL, 0) == KILN_OK);
    CHECK(isnan(((float *)y.data)[0]) && isnan(((float *)y.data)[1]) && ((float *)y.data)[2] == 1);
    kiln_tensor_release(&y);
}

static void test_where(void) {
    const kiln_dtype types[] = {KILN_FLOAT, KILN_INT64, KILN_FLOAT16, KILN_BOOL, KILN_UINT8, KILN_DOUBLE};
    int64_t sc[] = {2, 1, 4}, sx[] = {3, 1}, big[] = {100003};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        for (int variant = 0; variant < 2; variant++) {
            kiln_dtype t = types[ti];
            kiln_tensor in[3];
            if (variant == 0) {
                in[0] = tmake(KILN_BOOL, 3, sc);
                in[1] = tmake(t, 2, sx);
                in[2] = tmake(t, 0, NULL);
            } else {
                in[0] = tmake(KILN_BOOL, 1, big);
                in[1] = tmake(t, 1, big);
                in[2] = tmake(t, 1, big);
            }
            for (int i = 0; i < 3; i++) tfill(&in[i], &rng, 0, 100);
            oneop o;
            oneop_begin(&o, "Where", "", 16, 3, 1);
            CHECK(oneop_run(&o, in) == KILN_OK);
            const kiln_tensor *y = oneop_out(&o, 0);
            int64_t od[] = {2, 3, 4};
            int64_t *dims = variant ? big : od;
            int rank = variant ? 1 : 3;
            CHECK(y->rank == rank && y->dtype == t);
            int64_t n = kiln_numel(rank, dims), bad = 0;
            for (int64_t e = 0; e < n; e++) {
                int c = tget(&in[0], bc_index(&in[0], rank, dims, e)) != 0;
                const kiln_tensor *src = c ? &in[1] : &in[2];
                if (tget(y, e) != tget(src, bc_index(src, rank, dims, e))) bad++;
            }
            CHECK(bad == 0);
            oneop_end(&o);
            for (int i = 0; i < 3; i++) kiln_tensor_release(&in[i]);
        }
    }
    /* strings */
    int64_t d2[] = {2}, d1[] = {1};
    uint8_t c[] = {1, 0};
    const char *x[] = {"alpha", "beta"}, *w[] = {"gamma"};
    kiln_tensor in[3] = {oneop_tensor(KILN_BOOL, 1, d2, c), oneop_tensor(KILN_STRING, 1, d2, x),
                         oneop_tensor(KILN_STRING, 1, d1, w)};
    oneop o;
    oneop_begin(&o, "Where", "", 16, 3, 1);
    CHECK(oneop_run(&o, in) == KILN_OK);
    const kiln_tensor *y = oneop_out(&o, 0);
    CHECK(y->dtype == KILN_STRING && !strcmp(((char **)y->data)[0], "alpha") &&
          !strcmp(((char **)y->data)[1], "gamma"));
    oneop_end(&o);
}

static void test_equal_strings(void) {
    int64_t d3[] = {3}, d1[] = {1};
    const char *a[] = {"x", "yy", ""}, *b[] = {"yy"}, *c[] = {"x", "y", ""};
    kiln_tensor y = {0}, ta = oneop_tensor(KILN_STRING, 1, d3, a), tb = oneop_tensor(KILN_STRING, 1, d1, b),
                tc = oneop_tensor(KILN_STRING, 1, d3, c);
    CHECK(run2("Equal", 19, &ta, &tb, &y, NULL, 0) == KILN_OK);
    const uint8_t *r = y.data;
    CHECK(y.dtype == KILN_BOOL && r[0] == 0 && r[1] == 1 && r[2] == 0);
    CHECK(run2("Equal", 19, &ta, &tc, &y, NULL, 0) == KILN_OK);
    r = y.data;
    CHECK(r[0] == 1 && r[1] == 0 && r[2] == 1);
    kiln_tensor_release(&y);
}

static void test_clip(void) {
    const kiln_dtype types[] = {KILN_FLOAT, KILN_DOUBLE, KILN_FLOAT16, KILN_BFLOAT16,
                                KILN_INT8,  KILN_INT64,  KILN_UINT16,  KILN_UINT64};
    int64_t d[] = {3, 37}, big[] = {80001};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        kiln_dtype t = types[ti];
        /* bounds: both, min only, max only, none, min > max */
        double los[] = {-2, 3, NAN, NAN, 5}, his[] = {4, NAN, 7, NAN, 1};
        for (int bi = 0; bi < 5; bi++) {
            for (int sz = 0; sz < 2; sz++) {
                kiln_tensor in[3] = {tmake(t, sz ? 1 : 2, sz ? big : d), tmake(t, 0, NULL), tmake(t, 0, NULL)};
                tfill(&in[0], &rng, kiln_dtype_is_int(t) && !kiln_dtype_is_signed(t) ? 0 : -10, 10);
                if (isnan(los[bi]))
                    in[1].dtype = KILN_UNDEFINED;
                else
                    kiln_store_f64(t, in[1].data, 0, los[bi]);
                if (isnan(his[bi]))
                    in[2].dtype = KILN_UNDEFINED;
                else
                    kiln_store_f64(t, in[2].data, 0, his[bi]);
                if (!kiln_dtype_is_signed(t) && !t_is_float(t) && bi == 0) kiln_store_f64(t, in[1].data, 0, 2);
                double lo = in[1].dtype ? tget(&in[1], 0) : -INFINITY, hi = in[2].dtype ? tget(&in[2], 0) : INFINITY;
                oneop o;
                oneop_begin(&o, "Clip", "", 13, 3, 1);
                CHECK(oneop_run(&o, in) == KILN_OK);
                const kiln_tensor *y = oneop_out(&o, 0);
                int64_t n = kiln_tensor_numel(&in[0]), bad = 0;
                for (int64_t e = 0; e < n; e++) {
                    double v = tget(&in[0], e);
                    v = v < lo ? lo : v;
                    v = v > hi ? hi : v;
                    if (tget(y, e) != v) bad++;
                }
                CHECK(bad == 0);
                oneop_end(&o);
                in[1].dtype = in[2].dtype = t;
                for (int i = 0; i < 3; i++) kiln_tensor_release(&in[i]);
            }
        }
    }
    /* opset 6: attributes; NaN passes through */
    float x[] = {-5, 0.5f, 5, NAN};
    int64_t d4[] = {4};
    kiln_tensor in = oneop_tensor(KILN_FLOAT, 1, d4, x);
    oneop o;
    oneop_begin(&o, "Clip", "", 6, 1, 1);
    oneop_attr_float(&o, "min", -1);
    oneop_attr_float(&o, "max", 1);
    CHECK(oneop_run(&o, &in) == KILN_OK);
    const float *r = oneop_out(&o, 0)->data;
    CHECK(r[0] == -1 && r[1] == 0.5f && r[2] == 1 && isnan(r[3]));
    oneop_end(&o);
}

int main(void) {
    test_binary_all();
    test_mod_signs_and_edges();
    test_pow_mixed();
    test_errors_and_legacy();
    test_variadic();
    test_where();
    test_equal_strings();
    test_clip();
    return CHECK_DONE();
}
