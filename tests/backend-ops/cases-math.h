/* backend-ops cases: eltwise, matmul, conv, pool families (included by backend_ops.c). */

static const kiln_dtype FLOATS[] = {KILN_FLOAT, KILN_FLOAT16, KILN_BFLOAT16};
static const kiln_dtype NUMERIC[] = {KILN_FLOAT, KILN_FLOAT16, KILN_BFLOAT16, KILN_INT32, KILN_INT64};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *dn(kiln_dtype t) { return kiln_dtype_name(t); }

/* ---------------------------------------------------------------- eltwise --------------------------------------- */
typedef struct bshape {
    const char *what;
    int ra, rb;
    int64_t a[4], b[4];
} bshape;
static const bshape BSHAPES[] = {
    {"same [3,7,5]", 3, 3, {3, 7, 5}, {3, 7, 5}},
    {"scalar [4,9]+[]", 2, 0, {4, 9}, {0}},
    {"scalar-first []+[5,3]", 0, 2, {0}, {5, 3}},
    {"row [6,33]+[33]", 2, 1, {6, 33}, {33}},
    {"channel [2,3,4,5]+[3,1,1]", 4, 3, {2, 3, 4, 5}, {3, 1, 1}},
    {"outer [4,1,6]+[1,5,1]", 3, 3, {4, 1, 6}, {1, 5, 1}},
    {"col [7,1]+[7,300]", 2, 2, {7, 1}, {7, 300}},
    {"big [1000,37]+[37]", 2, 1, {1000, 37}, {37}},
};

static void bin_cases(const char *op, int opset, const kiln_dtype *dts, int ndt, int gen_a, double lo_a, double hi_a,
                      int gen_b, double lo_b, double hi_b, int all_shapes) {
    for (int t = 0; t < ndt; t++)
        for (int s = 0; s < COUNT(BSHAPES); s++) {
            if (!all_shapes && s != 0 && s != 3 && s != 5) continue;
            const bshape *b = &BSHAPES[s];
            int ints = dts[t] == KILN_INT32 || dts[t] == KILN_INT64;
            begin(op, opset, "%s %s", dn(dts[t]), b->what);
            add_in(dts[t], ints && gen_a != G_INT ? G_INT : gen_a, ints && gen_a != G_INT ? -50 : lo_a,
                   ints && gen_a != G_INT ? 50 : hi_a, b->ra, b->a);
            add_in(dts[t], ints && gen_b != G_INT ? G_INT : gen_b, ints && gen_b != G_INT ? -9 : lo_b,
                   ints && gen_b != G_INT ? 9 : hi_b, b->rb, b->b);
            run_case();
        }
}

typedef struct uspec {
    const char *op;
    int opset, gen;
    double lo, hi;
    const char *attr;
    float av;
    int ints; /* also int32 / int64 */
} uspec;
static const uspec UNARY[] = {
    {"Abs", 13, G_UNI, -4, 4, NULL, 0, 1},        {"Neg", 13, G_UNI, -4, 4, NULL, 0, 1},
    {"Sign", 13, G_INT, -2, 2, NULL, 0, 1},       {"Relu", 14, G_UNI, -4, 4, NULL, 0, 1},
    {"Sqrt", 13, G_UNI, 0.01, 9, NULL, 0, 0},     {"Exp", 13, G_UNI, -6, 6, NULL, 0, 0},
    {"Log", 13, G_UNI, 0.01, 9, NULL, 0, 0},      {"Reciprocal", 13, G_NZ, 0, 0, NULL, 0, 0},
    {"Erf", 13, G_UNI, -3, 3, NULL, 0, 0},        {"Tanh", 13, G_UNI, -5, 5, NULL, 0, 0},
    {"Sigmoid", 13, G_UNI, -9, 9, NULL, 0, 0},    {"LeakyRelu", 16, G_UNI, -4, 4, "alpha", 0.13f, 0},
    {"Gelu", 20, G_UNI, -5, 5, NULL, 0, 0},       {"HardSigmoid", 22, G_UNI, -5, 5, "alpha", 0.3f, 0},
    {"HardSwish", 22, G_UNI, -5, 5, NULL, 0, 0},  {"Softplus", 22, G_UNI, -9, 9, NULL, 0, 0},
    {"Elu", 22, G_UNI, -4, 4, "alpha", 0.7f, 0},  {"Selu", 22, G_UNI, -4, 4, NULL, 0, 0},
    {"Celu", 12, G_UNI, -4, 4, "alpha", 1.5f, 0}, {"Softsign", 22, G_UNI, -4, 4, NULL, 0, 0},
    {"ThresholdedRelu", 22, G_UNI, -2, 2, "alpha", 0.5f, 0}, {"Mish", 22, G_UNI, -5, 5, NULL, 0, 0},
    {"Swish", 24, G_UNI, -5, 5, "alpha", 1.3f, 0}, {"Floor", 13, G_UNI, -9, 9, NULL, 0, 0},
    {"Ceil", 13, G_UNI, -9, 9, NULL, 0, 0},       {"Round", 22, G_HALVES, -6, 6, NULL, 0, 0},
    {"Sin", 7, G_UNI, -6, 6, NULL, 0, 0},         {"Cos", 7, G_UNI, -6, 6, NULL, 0, 0},
};

static void cases_eltwise(void) {
    bin_cases("Add", 14, NUMERIC, COUNT(NUMERIC), G_UNI, -2, 2, G_UNI, -2, 2, 1);
    bin_cases("Sub", 14, NUMERIC, COUNT(NUMERIC), G_UNI, -2, 2, G_UNI, -2, 2, 1);
    bin_cases("Mul", 14, NUMERIC, COUNT(NUMERIC), G_UNI, -2, 2, G_UNI, -2, 2, 1);
    bin_cases("Div", 14, NUMERIC, COUNT(NUMERIC), G_UNI, -2, 2, G_NZ, 0, 0, 1);
    bin_cases("Max", 13, NUMERIC, COUNT(NUMERIC), G_UNI, -2, 2, G_UNI, -2, 2, 0);
    bin_cases("Min", 13, NUMERIC, COUNT(NUMERIC), G_UNI, -2, 2, G_UNI, -2, 2, 0);
    bin_cases("Pow", 15, FLOATS, COUNT(FLOATS), G_UNI, 0.1, 3, G_UNI, -2, 2, 0);
    static const kiln_dtype CMP[] = {KILN_FLOAT, KILN_FLOAT16, KILN_BFLOAT16, KILN_INT32, KILN_INT64};
    const char *cmps[] = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"};
    for (int c = 0; c < 5; c++) bin_cases(cmps[c], c == 0 ? 19 : 16, CMP, COUNT(CMP), G_INT, -3, 3, G_INT, -3, 3, 0);
    static const kiln_dtype B[] = {KILN_BOOL};
    bin_cases("Equal", 19, B, 1, G_BOOL, 0, 0, G_BOOL, 0, 0, 0);
    bin_cases("And", 7, B, 1, G_BOOL, 0, 0, G_BOOL, 0, 0, 1);
    bin_cases("Or", 7, B, 1, G_BOOL, 0, 0, G_BOOL, 0, 0, 0);
    bin_cases("Xor", 7, B, 1, G_BOOL, 0, 0, G_BOOL, 0, 0, 0);
    static const kiln_dtype INTS[] = {KILN_INT32, KILN_INT64};
    bin_cases("Mod", 13, INTS, 2, G_INT, -40, 40, G_INT, -7, 7, 0);
    for (int t = 0; t < 3; t++) {
        begin("Mod", 13, "%s fmod=1 row", dn(FLOATS[t]));
        add_in(FLOATS[t], G_UNI, -10, 10, SHAPE(5, 17));
        add_in(FLOATS[t], G_NZ, 0, 0, SHAPE(17));
        a_int("fmod", 1);
        run_case();
        begin("PRelu", 16, "%s slope [3,1,1]", dn(FLOATS[t]));
        add_in(FLOATS[t], G_UNI, -3, 3, SHAPE(2, 3, 4, 5));
        add_in(FLOATS[t], G_UNI, 0, 1, SHAPE(3, 1, 1));
        run_case();
    }
    begin("Max", 13, "three inputs refused");
    for (int i = 0; i < 3; i++) add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(4));
    C.expect_unsupported = 1;
    run_case();
    begin("Add", 14, "mixed dtypes refused");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(4));
    add_in(KILN_FLOAT16, G_UNI, -1, 1, SHAPE(4));
    C.expect_unsupported = 1;
    run_case();

    static const kiln_dtype WH[] = {KILN_FLOAT, KILN_FLOAT16, KILN_INT64, KILN_BOOL, KILN_INT8};
    for (int t = 0; t < COUNT(WH); t++) {
        int g = WH[t] == KILN_BOOL ? G_BOOL : G_INT;
        begin("Where", 16, "%s [3,1,5] ? [1,4,5] : [3,4,1]", dn(WH[t]));
        add_in(KILN_BOOL, G_BOOL, 0, 0, SHAPE(3, 1, 5));
        add_in(WH[t], g, -100, 100, SHAPE(1, 4, 5));
        add_in(WH[t], g, -100, 100, SHAPE(3, 4, 1));
        run_case();
    }
    begin("Where", 16, "f32 same [257,3]");
    add_in(KILN_BOOL, G_BOOL, 0, 0, SHAPE(257, 3));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(257, 3));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(257, 3));
    run_case();

    for (int u = 0; u < COUNT(UNARY); u++) {
        const uspec *s = &UNARY[u];
        for (int t = 0; t < (s->ints ? 5 : 3); t++) {
            kiln_dtype dt = NUMERIC[t];
            int ints = dt == KILN_INT32 || dt == KILN_INT64;
            begin(s->op, s->opset, "%s [3,1001]%s", dn(dt), s->attr ? " attr" : "");
            add_in(dt, ints ? G_INT : s->gen, ints ? -100 : s->lo, ints ? 100 : s->hi, SHAPE(3, 1001));
            if (s->attr) a_float(s->attr, s->av);
            run_case();
        }
    }
    for (int t = 0; t < 3; t++) {
        begin("Gelu", 20, "%s tanh", dn(FLOATS[t]));
        add_in(FLOATS[t], G_UNI, -5, 5, SHAPE(7, 131));
        a_str("approximate", "tanh");
        run_case();
        begin("HardSigmoid", 6, "%s defaults", dn(FLOATS[t]));
        add_in(FLOATS[t], G_UNI, -5, 5, SHAPE(64));
        run_case();
    }
    begin("LeakyRelu", 16, "f32 scalar input");
    add_in(KILN_FLOAT, G_UNI, -5, 5, 0, NULL);
    run_case();
    begin("Not", 1, "bool [5,77]");
    add_in(KILN_BOOL, G_BOOL, 0, 0, SHAPE(5, 77));
    run_case();
    begin("Sqrt", 13, "int32 refused");
    add_in(KILN_INT32, G_INT, 0, 9, SHAPE(4));
    C.expect_unsupported = 1;
    run_case();

    for (int t = 0; t < 3; t++) {
        begin("Clip", 13, "%s min and max", dn(FLOATS[t]));
        add_in(FLOATS[t], G_UNI, -3, 3, SHAPE(4, 250));
        add_scalar(FLOATS[t], -0.75);
        add_scalar(FLOATS[t], 1.25);
        run_case();
        begin("Clip", 13, "%s max only", dn(FLOATS[t]));
        add_in(FLOATS[t], G_UNI, -3, 3, SHAPE(33));
        add_absent();
        add_scalar(FLOATS[t], 0.5);
        run_case();
    }
    begin("Clip", 6, "f32 attributes");
    add_in(KILN_FLOAT, G_UNI, -3, 3, SHAPE(5, 9));
    a_float("min", -1.0f);
    a_float("max", 2.0f);
    run_case();
    begin("Clip", 13, "f32 no bounds");
    add_in(KILN_FLOAT, G_UNI, -3, 3, SHAPE(5, 9));
    run_case();
    for (int t = 0; t < 2; t++) {
        begin("Clip", 13, "%s bounds", dn(INTS[t]));
        add_in(INTS[t], G_INT, -100, 100, SHAPE(300));
        add_scalar(INTS[t], -20);
        add_scalar(INTS[t], 35);
        run_case();
    }

    static const kiln_dtype CASTS[] = {KILN_FLOAT, KILN_FLOAT16, KILN_BFLOAT16, KILN_INT32,
                                      KILN_INT64, KILN_BOOL,    KILN_UINT8,    KILN_INT8};
    for (int a = 0; a < COUNT(CASTS); a++)
        for (int b = 0; b < COUNT(CASTS); b++) {
            kiln_dtype from = CASTS[a], to = CASTS[b];
            begin("Cast", 21, "%s -> %s [5,201]", dn(from), dn(to));
            int g = from == KILN_BOOL ? G_BOOL : kiln_dtype_is_float(from) ? G_UNI : G_INT;
            double lo = from == KILN_UINT8 ? 0 : from == KILN_INT8 ? -128 : -300;
            double hi = from == KILN_UINT8 ? 255 : from == KILN_INT8 ? 127 : 300;
            add_in(from, g, lo, hi, SHAPE(5, 201));
            a_int("to", to);
            run_case();
        }
    begin("Cast", 21, "f32 -> f16 overflow to inf");
    add_in(KILN_FLOAT, G_UNI, -1e5, 1e5, SHAPE(64));
    a_int("to", KILN_FLOAT16);
    run_case();
    begin("Cast", 21, "f32 -> string refused");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(4));
    a_int("to", KILN_STRING);
    C.expect_unsupported = 1;
    run_case();

    static const kiln_dtype IDS[] = {KILN_FLOAT, KILN_INT64, KILN_BOOL, KILN_FLOAT16};
    for (int t = 0; t < COUNT(IDS); t++) {
        begin("Identity", 21, "%s [3,4,5]", dn(IDS[t]));
        add_in(IDS[t], IDS[t] == KILN_BOOL ? G_BOOL : G_INT, -9, 9, SHAPE(3, 4, 5));
        run_case();
    }
    begin("Dropout", 13, "f32 inference with mask");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(6, 7));
    C.n_out = 2;
    run_case();
    begin("Dropout", 13, "f16 ratio and training_mode=false");
    add_in(KILN_FLOAT16, G_UNI, -1, 1, SHAPE(10));
    add_scalar(KILN_FLOAT, 0.5);
    add_scalar(KILN_BOOL, 0);
    run_case();
    begin("Dropout", 10, "f32 opset 10");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(10));
    run_case();
}

/* ---------------------------------------------------------------- matmul ---------------------------------------- */
static void mm_case(kiln_dtype dt, int ra, const int64_t *a, int rb, const int64_t *b, const char *what) {
    begin("MatMul", 13, "%s %s", dn(dt), what);
    add_in(dt, G_UNI, -1, 1, ra, a);
    add_in(dt, G_UNI, -1, 1, rb, b);
    if (dt == KILN_FLOAT) tol(1e-3, 1e-4);
    else tol(1e-2, 1e-2);
    run_case();
}

static void cases_matmul(void) {
    for (int t = 0; t < 3; t++) {
        kiln_dtype dt = FLOATS[t];
        mm_case(dt, SHAPE(7, 13), SHAPE(13, 9), "[7,13]x[13,9]");
        mm_case(dt, SHAPE(2, 3, 5, 64), SHAPE(64, 6), "folded batch [2,3,5,64]x[64,6]");
        mm_case(dt, SHAPE(3, 4, 33), SHAPE(3, 33, 5), "batched [3,4,33]x[3,33,5]");
        mm_case(dt, SHAPE(4, 33), SHAPE(3, 33, 5), "broadcast A [4,33]x[3,33,5]");
        mm_case(dt, SHAPE(2, 1, 4, 6), SHAPE(3, 6, 5), "broadcast batch [2,1,4,6]x[3,6,5]");
        mm_case(dt, SHAPE(6), SHAPE(6, 4), "1-D A [6]x[6,4]");
        mm_case(dt, SHAPE(3, 5, 6), SHAPE(6), "1-D B [3,5,6]x[6]");
        mm_case(dt, SHAPE(17), SHAPE(17), "dot [17]x[17]");
        mm_case(dt, SHAPE(128, 256), SHAPE(256, 96), "[128,256]x[256,96]");
    }
    mm_case(KILN_FLOAT, SHAPE(1, 1024), SHAPE(1024, 1000), "K=1024 [1,1024]x[1024,1000]");
    begin("MatMul", 13, "int32 refused");
    add_in(KILN_INT32, G_INT, -3, 3, SHAPE(2, 2));
    add_in(KILN_INT32, G_INT, -3, 3, SHAPE(2, 2));
    C.expect_unsupported = 1;
    run_case();

    for (int t = 0; t < 3; t++) {
        kiln_dtype dt = FLOATS[t];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                begin("Gemm", 13, "%s transA=%d transB=%d alpha beta C[N]", dn(dt), ta, tb);
                add_in(dt, G_UNI, -1, 1, 2, ta ? (int64_t[]){40, 11} : (int64_t[]){11, 40});
                add_in(dt, G_UNI, -1, 1, 2, tb ? (int64_t[]){23, 40} : (int64_t[]){40, 23});
                add_in(dt, G_UNI, -1, 1, SHAPE(23));
                a_int("transA", ta);
                a_int("transB", tb);
                a_float("alpha", 0.75f);
                a_float("beta", 1.5f);
                if (dt == KILN_FLOAT) tol(1e-3, 1e-4);
                else tol(1e-2, 1e-2);
                run_case();
            }
        begin("Gemm", 13, "%s C [M,1]", dn(dt));
        add_in(dt, G_UNI, -1, 1, SHAPE(9, 16));
        add_in(dt, G_UNI, -1, 1, SHAPE(16, 5));
        add_in(dt, G_UNI, -1, 1, SHAPE(9, 1));
        if (dt == KILN_FLOAT) tol(1e-3, 1e-4);
        else tol(1e-2, 1e-2);
        run_case();
    }
    begin("Gemm", 13, "f32 no C");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(12, 30));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(30, 7));
    tol(1e-3, 1e-4);
    run_case();
    begin("Gemm", 13, "f32 scalar C, transB, [1,2048]x[1000,2048]^T");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(1, 2048));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(1000, 2048));
    add_in(KILN_FLOAT, G_UNI, -1, 1, 0, NULL);
    a_int("transB", 1);
    tol(1e-3, 1e-4);
    run_case();
    begin("Gemm", 11, "f32 full C [8,6] beta=0");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(8, 4));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(4, 6));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(8, 6));
    a_float("beta", 0.0f);
    tol(1e-3, 1e-4);
    run_case();
}

/* ---------------------------------------------------------------- conv ------------------------------------------ */
static void conv_tol(kiln_dtype dt) {
    if (dt == KILN_FLOAT) tol(1e-3, 1e-4);
    else if (dt == KILN_FLOAT16) tol(1e-2, 1e-2);
    else tol(3e-2, 3e-2);
}

static void cases_conv(void) {
    for (int t = 0; t < 3; t++) {
        kiln_dtype dt = FLOATS[t];
        begin("Conv", 11, "%s 3x3 pad 1 bias [2,3,9,11]", dn(dt));
        add_in(dt, G_UNI, -1, 1, SHAPE(2, 3, 9, 11));
        add_in(dt, G_UNI, -1, 1, SHAPE(4, 3, 3, 3));
        add_in(dt, G_UNI, -1, 1, SHAPE(4));
        a_ints("pads", SHAPE(1, 1, 1, 1));
        conv_tol(dt);
        run_case();
        begin("Conv", 11, "%s [2,8,12,12]x[16,8,3,3] stride 2", dn(dt));
        add_in(dt, G_UNI, -1, 1, SHAPE(2, 8, 12, 12));
        add_in(dt, G_UNI, -1, 1, SHAPE(16, 8, 3, 3));
        a_ints("strides", SHAPE(2, 2));
        a_ints("pads", SHAPE(1, 1, 1, 1));
        conv_tol(dt);
        run_case();
        begin("Conv", 11, "%s depthwise [2,8,10,10] group 8 bias", dn(dt));
        add_in(dt, G_UNI, -1, 1, SHAPE(2, 8, 10, 10));
        add_in(dt, G_UNI, -1, 1, SHAPE(8, 1, 3, 3));
        add_in(dt, G_UNI, -1, 1, SHAPE(8));
        a_int("group", 8);
        a_ints("pads", SHAPE(1, 1, 1, 1));
        conv_tol(dt);
        run_case();
    }
    begin("Conv", 11, "f32 stride 2 dilation 2 asym pads [0,1,1,2]");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(1, 3, 13, 12));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(5, 3, 3, 2));
    a_ints("strides", SHAPE(2, 2));
    a_ints("dilations", SHAPE(2, 2));
    a_ints("pads", SHAPE(0, 1, 1, 2));
    conv_tol(KILN_FLOAT);
    run_case();
    begin("Conv", 11, "f32 groups 2 [1,4,8,8]x[6,2,3,3]");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(1, 4, 8, 8));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(6, 2, 3, 3));
    a_int("group", 2);
    conv_tol(KILN_FLOAT);
    run_case();
    begin("Conv", 11, "f32 SAME_UPPER stride 2 (asymmetric)");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(2, 3, 10, 10));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(4, 3, 4, 4));
    a_str("auto_pad", "SAME_UPPER");
    a_ints("strides", SHAPE(2, 2));
    conv_tol(KILN_FLOAT);
    run_case();
    begin("Conv", 11, "f32 SAME_LOWER kernel_shape attr");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(1, 2, 7, 9));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(3, 2, 2, 2));
    a_str("auto_pad", "SAME_LOWER");
    a_ints("kernel_shape", SHAPE(2, 2));
    conv_tol(KILN_FLOAT);
    run_case();
    begin("Conv", 11, "f32 1x1 [4,64,7,7]x[32,64,1,1] bias");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(4, 64, 7, 7));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(32, 64, 1, 1));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(32));
    conv_tol(KILN_FLOAT);
    run_case();
    begin("Conv", 11, "f32 1-D [2,4,17]x[5,4,3] pad 1 stride 2");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(2, 4, 17));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(5, 4, 3));
    a_ints("pads", SHAPE(1, 1));
    a_ints("strides", SHAPE(2));
    conv_tol(KILN_FLOAT);
    run_case();
    begin("Conv", 11, "f32 3-D [1,2,5,6,7]x[3,2,3,3,3] pad 1");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(1, 2, 5, 6, 7));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(3, 2, 3, 3, 3));
    a_ints("pads", SHAPE(1, 1, 1, 1, 1, 1));
    conv_tol(KILN_FLOAT);
    run_case();
    begin("Conv", 11, "f32 7x7 stride 2 pad 3 [1,3,56,56]x[16,3,7,7]");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(1, 3, 56, 56));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(16, 3, 7, 7));
    a_ints("strides", SHAPE(2, 2));
    a_ints("pads", SHAPE(3, 3, 3, 3));
    conv_tol(KILN_FLOAT);
    run_case();
    begin("Conv", 11, "int refused");
    add_in(KILN_INT32, G_INT, -1, 1, SHAPE(1, 1, 3, 3));
    add_in(KILN_INT32, G_INT, -1, 1, SHAPE(1, 1, 1, 1));
    C.expect_unsupported = 1;
    run_case();

    for (int t = 0; t < 3; t++) {
        kiln_dtype dt = FLOATS[t];
        begin("ConvTranspose", 11, "%s stride 2 bias [1,3,5,5]x[3,2,3,3]", dn(dt));
        add_in(dt, G_UNI, -1, 1, SHAPE(1, 3, 5, 5));
        add_in(dt, G_UNI, -1, 1, SHAPE(3, 2, 3, 3));
        add_in(dt, G_UNI, -1, 1, SHAPE(2));
        a_ints("strides", SHAPE(2, 2));
        conv_tol(dt);
        run_case();
    }
    begin("ConvTranspose", 11, "f32 stride 2 pads 1 output_padding 1");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(2, 4, 6, 7));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(4, 3, 3, 3));
    a_ints("strides", SHAPE(2, 2));
    a_ints("pads", SHAPE(1, 1, 1, 1));
    a_ints("output_padding", SHAPE(1, 1));
    conv_tol(KILN_FLOAT);
    run_case();
    begin("ConvTranspose", 11, "f32 asym pads [0,1,1,0] group 2");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(1, 4, 5, 6));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(4, 3, 3, 2));
    a_ints("pads", SHAPE(0, 1, 1, 0));
    a_int("group", 2);
    conv_tol(KILN_FLOAT);
    run_case();
    begin("ConvTranspose", 11, "f32 output_shape [10,9] stride 2");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(1, 2, 4, 4));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(2, 3, 3, 3));
    a_ints("strides", SHAPE(2, 2));
    a_ints("output_shape", SHAPE(10, 9));
    conv_tol(KILN_FLOAT);
    run_case();
    begin("ConvTranspose", 11, "f32 SAME_UPPER stride 2 dilation 2");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(1, 2, 5, 5));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(2, 2, 3, 3));
    a_ints("strides", SHAPE(2, 2));
    a_ints("dilations", SHAPE(2, 2));
    a_str("auto_pad", "SAME_UPPER");
    conv_tol(KILN_FLOAT);
    run_case();
    begin("ConvTranspose", 11, "f32 1-D [2,3,9]x[3,4,4] stride 3");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(2, 3, 9));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(3, 4, 4));
    a_ints("strides", SHAPE(3));
    conv_tol(KILN_FLOAT);
    run_case();
}

/* ---------------------------------------------------------------- pool ------------------------------------------ */
static void pool_case(const char *op, kiln_dtype dt, int rank, const int64_t *x, int nk, const int64_t *k,
                      const int64_t *strides, const int64_t *pads, int ceil, int incl, const char *autopad,
                      const char *what) {
    begin(op, op[0] == 'M' ? 12 : 22, "%s %s", dn(dt), what);
    add_in(dt, G_UNI, -2, 2, rank, x);
    a_ints("kernel_shape", nk, k);
    if (strides) a_ints("strides", nk, strides);
    if (pads) a_ints("pads", 2 * nk, pads);
    if (ceil) a_int("ceil_mode", 1);
    if (incl) a_int("count_include_pad", 1);
    if (autopad) a_str("auto_pad", autopad);
    run_case();
}

static void cases_pool(void) {
    for (int t = 0; t < 3; t++) {
        kiln_dtype dt = FLOATS[t];
        pool_case("MaxPool", dt, SHAPE(2, 3, 11, 13), SHAPE(3, 3), (int64_t[]){2, 2}, (int64_t[]){1, 1, 1, 1}, 0, 0,
                  NULL, "3x3 s2 p1");
        pool_case("AveragePool", dt, SHAPE(2, 3, 11, 13), SHAPE(3, 3), (int64_t[]){2, 2}, (int64_t[]){1, 1, 1, 1}, 0,
                  0, NULL, "3x3 s2 p1 exclude pad");
        begin("GlobalAveragePool", 1, "%s [2,16,7,7]", dn(dt));
        add_in(dt, G_UNI, -2, 2, SHAPE(2, 16, 7, 7));
        run_case();
        begin("GlobalMaxPool", 1, "%s [2,16,7,7]", dn(dt));
        add_in(dt, G_UNI, -2, 2, SHAPE(2, 16, 7, 7));
        run_case();
    }
    pool_case("MaxPool", KILN_FLOAT, SHAPE(1, 2, 10, 10), SHAPE(3, 3), (int64_t[]){2, 2}, NULL, 1, 0, NULL,
              "ceil_mode");
    pool_case("MaxPool", KILN_FLOAT, SHAPE(1, 2, 9, 8), SHAPE(2, 2), (int64_t[]){2, 2}, NULL, 0, 0, "SAME_UPPER",
              "SAME_UPPER");
    pool_case("MaxPool", KILN_FLOAT, SHAPE(2, 3, 21), SHAPE(4), (int64_t[]){3}, (int64_t[]){2, 1}, 0, 0, NULL,
              "1-D k4 s3 asym pads");
    pool_case("MaxPool", KILN_FLOAT, SHAPE(1, 2, 6, 7, 8), SHAPE(2, 3, 2), (int64_t[]){2, 2, 2}, NULL, 1, 0, NULL,
              "3-D ceil");
    pool_case("AveragePool", KILN_FLOAT, SHAPE(2, 3, 11, 13), SHAPE(3, 3), (int64_t[]){2, 2}, (int64_t[]){1, 1, 1, 1},
              0, 1, NULL, "count_include_pad");
    pool_case("AveragePool", KILN_FLOAT, SHAPE(1, 2, 10, 10), SHAPE(3, 3), (int64_t[]){2, 2}, (int64_t[]){1, 1, 1, 1},
              1, 1, NULL, "ceil_mode count_include_pad");
    pool_case("AveragePool", KILN_FLOAT, SHAPE(1, 2, 10, 10), SHAPE(3, 3), (int64_t[]){2, 2}, (int64_t[]){1, 1, 1, 1},
              1, 0, NULL, "ceil_mode exclude pad");
    pool_case("AveragePool", KILN_FLOAT, SHAPE(1, 3, 9, 9), SHAPE(2, 2), (int64_t[]){1, 1}, NULL, 0, 0, "SAME_LOWER",
              "SAME_LOWER");
    begin("MaxPool", 12, "f32 dilations 2");
    add_in(KILN_FLOAT, G_UNI, -2, 2, SHAPE(1, 2, 12, 12));
    a_ints("kernel_shape", SHAPE(3, 3));
    a_ints("dilations", SHAPE(2, 2));
    a_ints("pads", SHAPE(1, 1, 1, 1));
    run_case();
    begin("MaxPool", 12, "Indices output refused");
    add_in(KILN_FLOAT, G_UNI, -2, 2, SHAPE(1, 1, 4, 4));
    a_ints("kernel_shape", SHAPE(2, 2));
    C.n_out = 2;
    C.expect_unsupported = 1;
    run_case();
    begin("GlobalAveragePool", 1, "f32 big plane [1,3,96,96]");
    add_in(KILN_FLOAT, G_UNI, -2, 2, SHAPE(1, 3, 96, 96));
    tol(1e-4, 1e-5);
    run_case();
    begin("GlobalMaxPool", 1, "f32 big plane [2,2,80,80]");
    add_in(KILN_FLOAT, G_UNI, -2, 2, SHAPE(2, 2, 80, 80));
    run_case();
    begin("GlobalAveragePool", 1, "f32 1-D [3,5,9]");
    add_in(KILN_FLOAT, G_UNI, -2, 2, SHAPE(3, 5, 9));
    run_case();
}
