/* backend-ops cases: norm, reduce, movement families (included by backend_ops.c after cases-math.h). */

/* ---------------------------------------------------------------- norm ------------------------------------------ */
static void norm_tol(kiln_dtype dt) {
    if (dt == KILN_FLOAT) tol(1e-4, 1e-4);
    else if (dt == KILN_FLOAT16) tol(4e-3, 4e-3);
    else tol(2e-2, 2e-2);
}

static void cases_norm(void) {
    for (int t = 0; t < 3; t++) {
        kiln_dtype dt = FLOATS[t];
        begin("BatchNormalization", 15, "%s [2,5,7,3]", dn(dt));
        add_in(dt, G_UNI, -2, 2, SHAPE(2, 5, 7, 3));
        add_in(dt, G_UNI, 0.5, 1.5, SHAPE(5));
        add_in(dt, G_UNI, -1, 1, SHAPE(5));
        add_in(dt, G_UNI, -0.5, 0.5, SHAPE(5));
        add_in(dt, G_UNI, 0.2, 2, SHAPE(5));
        norm_tol(dt);
        run_case();
        if (dt != KILN_FLOAT) {
            begin("BatchNormalization", 15, "%s input, float params", dn(dt));
            add_in(dt, G_UNI, -2, 2, SHAPE(3, 4, 9));
            add_in(KILN_FLOAT, G_UNI, 0.5, 1.5, SHAPE(4));
            add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(4));
            add_in(KILN_FLOAT, G_UNI, -0.5, 0.5, SHAPE(4));
            add_in(KILN_FLOAT, G_UNI, 0.2, 2, SHAPE(4));
            norm_tol(dt);
            run_case();
        }
        begin("LayerNormalization", 17, "%s [4,7,33] axis -1 bias", dn(dt));
        add_in(dt, G_UNI, -2, 3, SHAPE(4, 7, 33));
        add_in(dt, G_UNI, 0.5, 1.5, SHAPE(33));
        add_in(dt, G_UNI, -1, 1, SHAPE(33));
        norm_tol(dt);
        run_case();
        begin("Softmax", 13, "%s last axis [5,37]", dn(dt));
        add_in(dt, G_UNI, -5, 5, SHAPE(5, 37));
        norm_tol(dt);
        run_case();
        begin("LogSoftmax", 13, "%s last axis [5,37]", dn(dt));
        add_in(dt, G_UNI, -5, 5, SHAPE(5, 37));
        norm_tol(dt);
        run_case();
        begin("InstanceNormalization", 22, "%s [2,3,5,7]", dn(dt));
        add_in(dt, G_UNI, -2, 2, SHAPE(2, 3, 5, 7));
        add_in(dt, G_UNI, 0.5, 1.5, SHAPE(3));
        add_in(dt, G_UNI, -1, 1, SHAPE(3));
        norm_tol(dt);
        run_case();
    }
    begin("BatchNormalization", 9, "f32 opset 9 [2,3]");
    add_in(KILN_FLOAT, G_UNI, -2, 2, SHAPE(2, 3));
    add_in(KILN_FLOAT, G_UNI, 0.5, 1.5, SHAPE(3));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(3));
    add_in(KILN_FLOAT, G_UNI, -0.5, 0.5, SHAPE(3));
    add_in(KILN_FLOAT, G_UNI, 0.2, 2, SHAPE(3));
    a_float("epsilon", 1e-3f);
    norm_tol(KILN_FLOAT);
    run_case();
    begin("BatchNormalization", 15, "training_mode refused");
    for (int i = 0; i < 5; i++) add_in(KILN_FLOAT, G_UNI, 0.5, 1, SHAPE(2, 3));
    a_int("training_mode", 1);
    C.n_out = 3;
    C.expect_unsupported = 1;
    run_case();

    begin("LayerNormalization", 17, "f32 axis 1 no bias [3,6,10]");
    add_in(KILN_FLOAT, G_UNI, -2, 2, SHAPE(3, 6, 10));
    add_in(KILN_FLOAT, G_UNI, 0.5, 1.5, SHAPE(6, 10));
    norm_tol(KILN_FLOAT);
    a_int("axis", 1);
    run_case();
    begin("LayerNormalization", 17, "f32 Mean and InvStdDev outputs");
    add_in(KILN_FLOAT, G_UNI, -2, 2, SHAPE(5, 64));
    add_in(KILN_FLOAT, G_UNI, 0.5, 1.5, SHAPE(64));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(64));
    a_float("epsilon", 1e-3f);
    C.n_out = 3;
    norm_tol(KILN_FLOAT);
    run_case();
    begin("LayerNormalization", 17, "f32 long rows [3,5000]");
    add_in(KILN_FLOAT, G_UNI, -2, 2, SHAPE(3, 5000));
    add_in(KILN_FLOAT, G_UNI, 0.5, 1.5, SHAPE(5000));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(5000));
    norm_tol(KILN_FLOAT);
    run_case();
    for (int t = 0; t < 2; t++) {
        begin("RMSNormalization", 23, "%s [3,5,64]", dn(FLOATS[t]));
        add_in(FLOATS[t], G_UNI, -2, 2, SHAPE(3, 5, 64));
        add_in(FLOATS[t], G_UNI, 0.5, 1.5, SHAPE(64));
        norm_tol(FLOATS[t]);
        run_case();
    }
    begin("GroupNormalization", 21, "f32 [2,6,4,5] 3 groups");
    add_in(KILN_FLOAT, G_UNI, -2, 2, SHAPE(2, 6, 4, 5));
    add_in(KILN_FLOAT, G_UNI, 0.5, 1.5, SHAPE(6));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(6));
    a_int("num_groups", 3);
    norm_tol(KILN_FLOAT);
    run_case();
    begin("GroupNormalization", 18, "f32 opset 18 per-group scale");
    add_in(KILN_FLOAT, G_UNI, -2, 2, SHAPE(2, 6, 3));
    add_in(KILN_FLOAT, G_UNI, 0.5, 1.5, SHAPE(2));
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(2));
    a_int("num_groups", 2);
    norm_tol(KILN_FLOAT);
    run_case();
    begin("GroupNormalization", 21, "f16 [1,32,8,8] 8 groups");
    add_in(KILN_FLOAT16, G_UNI, -2, 2, SHAPE(1, 32, 8, 8));
    add_in(KILN_FLOAT16, G_UNI, 0.5, 1.5, SHAPE(32));
    add_in(KILN_FLOAT16, G_UNI, -1, 1, SHAPE(32));
    a_int("num_groups", 8);
    norm_tol(KILN_FLOAT16);
    run_case();

    const char *sm[] = {"Softmax", "LogSoftmax"};
    for (int s = 0; s < 2; s++) {
        begin(sm[s], 13, "f32 long rows [3,3000]");
        add_in(KILN_FLOAT, G_UNI, -8, 8, SHAPE(3, 3000));
        norm_tol(KILN_FLOAT);
        run_case();
        begin(sm[s], 13, "f32 axis 1 of [2,7,5] (columns)");
        add_in(KILN_FLOAT, G_UNI, -5, 5, SHAPE(2, 7, 5));
        a_int("axis", 1);
        norm_tol(KILN_FLOAT);
        run_case();
        begin(sm[s], 11, "f32 opset 11 coerce at axis 1 [2,3,4]");
        add_in(KILN_FLOAT, G_UNI, -5, 5, SHAPE(2, 3, 4));
        norm_tol(KILN_FLOAT);
        run_case();
        begin(sm[s], 13, "f16 [64,128]");
        add_in(KILN_FLOAT16, G_UNI, -5, 5, SHAPE(64, 128));
        norm_tol(KILN_FLOAT16);
        run_case();
        begin(sm[s], 13, "f32 axis 0 of [300,3]");
        add_in(KILN_FLOAT, G_UNI, -5, 5, SHAPE(300, 3));
        a_int("axis", 0);
        norm_tol(KILN_FLOAT);
        run_case();
    }
}

/* ---------------------------------------------------------------- reduce ---------------------------------------- */
static void red_case(const char *op, int opset, kiln_dtype dt, int rank, const int64_t *dims, int na,
                     const int64_t *axes, int keep, const char *what) {
    begin(op, opset, "%s %s", dn(dt), what);
    int ints = dt == KILN_INT32 || dt == KILN_INT64;
    int prod = !strcmp(op, "ReduceProd");
    add_in(dt, ints ? G_INT : G_UNI, ints ? (prod ? -2 : -100) : (prod ? 0.8 : -2), ints ? (prod ? 2 : 100) : (prod ? 1.2 : 2),
           rank, dims);
    int from_input = opset >= (!strcmp(op, "ReduceSum") ? 13 : 18);
    if (na >= 0) {
        if (from_input) add_vals(KILN_INT64, na, axes);
        else a_ints("axes", na, axes);
    }
    if (keep >= 0) a_int("keepdims", keep);
    if (dt == KILN_FLOAT) tol(prod ? 1e-3 : 1e-4, 1e-4);
    else if (dt == KILN_FLOAT16) tol(4e-3, 4e-3);
    else tol(2e-2, 2e-2);
    run_case();
}

static void cases_reduce(void) {
    const char *ops[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare",
                         "ReduceL1", "ReduceL2"};
    for (int o = 0; o < 8; o++) {
        int int_ok = o == 0 || o == 2 || o == 3 || o == 4;
        for (int t = 0; t < (int_ok ? 5 : 3); t++) {
            kiln_dtype dt = NUMERIC[t];
            red_case(ops[o], 18, dt, SHAPE(3, 4, 5), SHAPE(1), 1, "[3,4,5] axes [1] keep");
            red_case(ops[o], 18, dt, SHAPE(3, 4, 5), SHAPE(-1), 0, "[3,4,5] axes [-1]");
        }
        red_case(ops[o], 18, KILN_FLOAT, SHAPE(3, 4, 5, 6), SHAPE(0, 2), 0, "[3,4,5,6] axes [0,2] (general)");
        red_case(ops[o], 18, KILN_FLOAT, SHAPE(6, 7, 8), -1, NULL, -1, "[6,7,8] all axes");
        red_case(ops[o], 13, KILN_FLOAT, SHAPE(6, 7, 8), SHAPE(1, 2), 1, "opset 13 attr axes [1,2]");
        red_case(ops[o], 18, KILN_FLOAT, SHAPE(4, 5000), SHAPE(1), 1, "long rows [4,5000]");
        red_case(ops[o], 18, KILN_FLOAT, SHAPE(3000, 5), SHAPE(0), 1, "long columns [3000,5] axis 0");
    }
    begin("ReduceSum", 13, "f32 noop_with_empty_axes");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(3, 4));
    a_int("noop_with_empty_axes", 1);
    run_case();
    begin("ReduceSum", 11, "f32 opset 11 attr axes [0]");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(9, 4));
    a_ints("axes", SHAPE(0));
    tol(1e-4, 1e-4);
    run_case();
    begin("ReduceMean", 18, "f32 [1,64,7,7] axes [2,3] (global pool)");
    add_in(KILN_FLOAT, G_UNI, -1, 1, SHAPE(1, 64, 7, 7));
    add_vals(KILN_INT64, SHAPE(2, 3));
    tol(1e-4, 1e-4);
    run_case();
    begin("ReduceMean", 18, "int32 refused");
    add_in(KILN_INT32, G_INT, -1, 1, SHAPE(3, 4));
    C.expect_unsupported = 1;
    run_case();

    const char *args[] = {"ArgMax", "ArgMin"};
    for (int a = 0; a < 2; a++) {
        for (int t = 0; t < 5; t++) {
            kiln_dtype dt = NUMERIC[t];
            int ints = dt == KILN_INT32 || dt == KILN_INT64;
            begin(args[a], 13, "%s axis 1 of [3,70,4]", dn(dt));
            add_in(dt, ints ? G_INT : G_UNI, -1000, 1000, SHAPE(3, 70, 4));
            a_int("axis", 1);
            run_case();
            begin(args[a], 13, "%s last axis [5,100] keepdims 0", dn(dt));
            add_in(dt, ints ? G_INT : G_UNI, -1000, 1000, SHAPE(5, 100));
            a_int("axis", -1);
            a_int("keepdims", 0);
            run_case();
        }
        for (int last = 0; last < 2; last++) {
            begin(args[a], 13, "int32 ties rows [6,200] select_last_index=%d", last);
            add_in(KILN_INT32, G_INT, -3, 3, SHAPE(6, 200));
            a_int("axis", 1);
            a_int("select_last_index", last);
            run_case();
            begin(args[a], 13, "f32 ties columns [9,5] select_last_index=%d", last);
            add_in(KILN_FLOAT, G_INT, -2, 2, SHAPE(9, 5));
            a_int("select_last_index", last);
            run_case();
        }
    }
}

/* ---------------------------------------------------------------- movement -------------------------------------- */
static const kiln_dtype MOVE[] = {KILN_FLOAT, KILN_FLOAT16, KILN_INT64, KILN_BOOL, KILN_INT8};

static tin *add_data(kiln_dtype dt, int rank, const int64_t *dims) {
    return add_in(dt, dt == KILN_BOOL ? G_BOOL : kiln_dtype_is_float(dt) ? G_UNI : G_INT, -100, 100, rank, dims);
}

static void gather_oob_case(void) {
    /* The CPU refuses out-of-range indices; the CUDA kernel must clamp them, never read out of bounds, and record
     * the error for kiln_cuda_take_kernel_errors(). */
    if ((g_filter && strcmp(g_filter, "Gather")) || g_dry) return;
    begin("Gather", 13, "f32 out-of-range indices clamped and reported");
    const kiln_cuda_op_def *def = kiln_cuda_find_op("Gather", "", 13);
    float x[15];
    for (int i = 0; i < 15; i++) x[i] = (float)i;
    int64_t idx[4] = {0, 7, -9, 2}, clamped[4] = {0, 4, 0, 2};
    void *dx = NULL, *di = NULL;
    cudaMalloc(&dx, sizeof x);
    cudaMalloc(&di, sizeof idx);
    cudaMemcpy(dx, x, sizeof x, cudaMemcpyHostToDevice);
    cudaMemcpy(di, idx, sizeof idx, cudaMemcpyHostToDevice);
    kiln_cuda_tensor tx = {KILN_FLOAT, 2, {5, 3}, dx}, ti = {KILN_INT64, 1, {4}, di};
    const kiln_cuda_tensor *ins[2] = {&tx, &ti};
    kiln_node node;
    memset(&node, 0, sizeof node);
    node.name = "n0", node.op_type = "Gather", node.domain = "", node.opset = 13, node.n_in = 2, node.n_out = 1;
    kiln_cuda_kctx k;
    memset(&k, 0, sizeof k);
    k.node = &node, k.n_in = 2, k.n_out = 1, k.in = ins, k.stream = g_stream, k.exec = (struct kiln_cuda_exec *)&H;
    char detail[256] = "";
    const char *verdict = "FAIL";
    kiln_status st = def ? def->run(&k) : KILN_ERR_UNSUPPORTED;
    cudaStreamSynchronize(g_stream);
    kiln_status err = kiln_cuda_take_kernel_errors();
    float y[12] = {0};
    if (st == KILN_OK) cudaMemcpy(y, H.outs[0].data, sizeof y, cudaMemcpyDeviceToHost);
    int same = 1;
    for (int i = 0; i < 12; i++) same &= y[i] == x[clamped[i / 3] * 3 + i % 3];
    if (st != KILN_OK) snprintf(detail, sizeof detail, "run failed: %s", kiln_error_text());
    else if (err != KILN_ERR_RUNTIME) snprintf(detail, sizeof detail, "the out-of-range index was not reported");
    else if (!same) snprintf(detail, sizeof detail, "output is not the clamped gather");
    else if (kiln_cuda_take_kernel_errors() != KILN_OK) snprintf(detail, sizeof detail, "record not cleared");
    else verdict = "PASS", snprintf(detail, sizeof detail, "reported: %.150s", kiln_error_text());
    n_cases++;
    report(verdict, 0, 0, detail);
    cudaFree(dx);
    cudaFree(di);
    kiln_error_clear();
}

static void cases_movement(void) {
    for (int t = 0; t < COUNT(MOVE); t++) {
        kiln_dtype dt = MOVE[t];
        begin("Reshape", 21, "%s [2,3,4] -> [4,-1]", dn(dt));
        add_data(dt, SHAPE(2, 3, 4));
        add_vals(KILN_INT64, SHAPE(4, -1));
        run_case();
        begin("Transpose", 21, "%s [33,65] perm [1,0] (tiled)", dn(dt));
        add_data(dt, SHAPE(33, 65));
        a_ints("perm", SHAPE(1, 0));
        run_case();
        begin("Transpose", 21, "%s [3,40,70] perm [0,2,1] (tiled batch)", dn(dt));
        add_data(dt, SHAPE(3, 40, 70));
        a_ints("perm", SHAPE(0, 2, 1));
        run_case();
        begin("Transpose", 21, "%s [4,5,6] perm [2,0,1]", dn(dt));
        add_data(dt, SHAPE(4, 5, 6));
        a_ints("perm", SHAPE(2, 0, 1));
        run_case();
        begin("Concat", 13, "%s axis 1 of [2,3,4],[2,1,4],[2,5,4]", dn(dt));
        add_data(dt, SHAPE(2, 3, 4));
        add_data(dt, SHAPE(2, 1, 4));
        add_data(dt, SHAPE(2, 5, 4));
        a_int("axis", 1);
        run_case();
        begin("Split", 18, "%s sizes [2,3,1] axis 1", dn(dt));
        add_data(dt, SHAPE(3, 6, 2));
        add_vals(KILN_INT64, SHAPE(2, 3, 1));
        a_int("axis", 1);
        C.n_out = 3;
        run_case();
        begin("Slice", 13, "%s steps 2 and -1", dn(dt));
        add_data(dt, SHAPE(7, 9, 4));
        add_vals(KILN_INT64, SHAPE(1, 8));
        add_vals(KILN_INT64, SHAPE(7, 1));
        add_vals(KILN_INT64, SHAPE(0, 1));
        add_vals(KILN_INT64, SHAPE(2, -1));
        run_case();
        begin("Gather", 13, "%s axis 0 [10,4] idx [2,3]", dn(dt));
        add_data(dt, SHAPE(10, 4));
        add_in(KILN_INT64, G_INT, -10, 9, SHAPE(2, 3));
        run_case();
        begin("Expand", 13, "%s [3,1] -> [2,3,4]", dn(dt));
        add_data(dt, SHAPE(3, 1));
        add_vals(KILN_INT64, SHAPE(2, 3, 4));
        run_case();
        begin("Pad", 21, "%s constant [3,4] pads [1,2,0,1]", dn(dt));
        add_data(dt, SHAPE(3, 4));
        add_vals(KILN_INT64, SHAPE(1, 2, 0, 1));
        run_case();
        begin("Tile", 13, "%s [2,3] x [2,3]", dn(dt));
        add_data(dt, SHAPE(2, 3));
        add_vals(KILN_INT64, SHAPE(2, 3));
        run_case();
    }
    begin("Reshape", 21, "f32 zero copies a dim [2,3,4] -> [0,12]");
    add_data(KILN_FLOAT, SHAPE(2, 3, 4));
    add_vals(KILN_INT64, SHAPE(0, 12));
    run_case();
    begin("Reshape", 21, "f32 to scalar [1,1] -> []");
    add_data(KILN_FLOAT, SHAPE(1, 1));
    add_vals(KILN_INT64, 0, NULL);
    run_case();
    begin("Flatten", 21, "f32 axis 2 of [2,3,4,5]");
    add_data(KILN_FLOAT, SHAPE(2, 3, 4, 5));
    a_int("axis", 2);
    run_case();
    begin("Flatten", 21, "i64 axis -1 of [2,3,4]");
    add_data(KILN_INT64, SHAPE(2, 3, 4));
    a_int("axis", -1);
    run_case();
    begin("Flatten", 21, "f16 axis 0 of [3,4]");
    add_data(KILN_FLOAT16, SHAPE(3, 4));
    a_int("axis", 0);
    run_case();
    begin("Squeeze", 21, "f32 axes [1,-1] of [3,1,4,1]");
    add_data(KILN_FLOAT, SHAPE(3, 1, 4, 1));
    add_vals(KILN_INT64, SHAPE(1, -1));
    run_case();
    begin("Squeeze", 11, "i64 opset 11 all ones of [1,3,1]");
    add_data(KILN_INT64, SHAPE(1, 3, 1));
    run_case();
    begin("Unsqueeze", 21, "f32 axes [0,3] of [3,4]");
    add_data(KILN_FLOAT, SHAPE(3, 4));
    add_vals(KILN_INT64, SHAPE(0, 3));
    run_case();
    begin("Unsqueeze", 11, "bool opset 11 axes [-1]");
    add_data(KILN_BOOL, SHAPE(3, 4));
    a_ints("axes", SHAPE(-1));
    run_case();
    begin("Transpose", 21, "f32 default perm [2,3,4,5]");
    add_data(KILN_FLOAT, SHAPE(2, 3, 4, 5));
    run_case();
    begin("Transpose", 21, "f32 [2,5,7,3] perm [0,2,1,3] (collapsed gather)");
    add_data(KILN_FLOAT, SHAPE(2, 5, 7, 3));
    a_ints("perm", SHAPE(0, 2, 1, 3));
    run_case();
    begin("Transpose", 21, "f32 NCHW->NHWC [2,16,9,11]");
    add_data(KILN_FLOAT, SHAPE(2, 16, 9, 11));
    a_ints("perm", SHAPE(0, 2, 3, 1));
    run_case();
    begin("Transpose", 21, "f32 [1,1000,3] perm [2,1,0]");
    add_data(KILN_FLOAT, SHAPE(1, 1000, 3));
    a_ints("perm", SHAPE(2, 1, 0));
    run_case();
    begin("Concat", 13, "f32 axis -1, one empty input");
    add_data(KILN_FLOAT, SHAPE(3, 2));
    add_data(KILN_FLOAT, SHAPE(3, 0));
    add_data(KILN_FLOAT, SHAPE(3, 5));
    a_int("axis", -1);
    run_case();
    begin("Concat", 13, "i64 axis 0 shape vectors");
    add_vals(KILN_INT64, SHAPE(1, 2));
    add_vals(KILN_INT64, SHAPE(3));
    a_int("axis", 0);
    run_case();
    begin("Split", 13, "f32 equal split axis 0");
    add_data(KILN_FLOAT, SHAPE(6, 5));
    C.n_out = 3;
    run_case();
    begin("Split", 18, "f32 num_outputs 3 uneven [7,2]");
    add_data(KILN_FLOAT, SHAPE(7, 2));
    a_int("num_outputs", 3);
    C.n_out = 3;
    run_case();
    begin("Split", 11, "f32 opset 11 split attr axis -1");
    add_data(KILN_FLOAT, SHAPE(2, 9));
    a_ints("split", SHAPE(4, 5));
    a_int("axis", -1);
    C.n_out = 2;
    run_case();
    begin("Slice", 13, "f32 clamped ends, negative axes");
    add_data(KILN_FLOAT, SHAPE(5, 6));
    add_vals(KILN_INT64, SHAPE(-4, 2));
    add_vals(KILN_INT64, SHAPE(INT64_MAX, 1000));
    add_vals(KILN_INT64, SHAPE(-2, -1));
    run_case();
    begin("Slice", 13, "f32 reverse everything");
    add_data(KILN_FLOAT, SHAPE(4, 5));
    add_vals(KILN_INT64, SHAPE(-1, -1));
    add_vals(KILN_INT64, SHAPE(INT64_MIN, INT64_MIN));
    add_vals(KILN_INT64, SHAPE(0, 1));
    add_vals(KILN_INT64, SHAPE(-1, -1));
    run_case();
    begin("Slice", 13, "f32 empty result");
    add_data(KILN_FLOAT, SHAPE(4, 5));
    add_vals(KILN_INT64, SHAPE(3));
    add_vals(KILN_INT64, SHAPE(1));
    run_case();
    begin("Slice", 9, "f32 opset 9 attributes");
    add_data(KILN_FLOAT, SHAPE(6, 7));
    a_ints("starts", SHAPE(1, 2));
    a_ints("ends", SHAPE(5, -1));
    run_case();
    begin("Slice", 13, "i32 starts/ends int32");
    add_data(KILN_FLOAT, SHAPE(10));
    add_vals(KILN_INT32, SHAPE(2));
    add_vals(KILN_INT32, SHAPE(9));
    run_case();
    begin("Gather", 13, "f32 axis 1 int32 negative indices");
    add_data(KILN_FLOAT, SHAPE(3, 8, 2));
    add_in(KILN_INT32, G_INT, -8, 7, SHAPE(5));
    a_int("axis", 1);
    run_case();
    begin("Gather", 13, "f32 scalar index axis 0 (row pick)");
    add_data(KILN_FLOAT, SHAPE(30, 16));
    add_scalar(KILN_INT64, 17);
    run_case();
    begin("Gather", 13, "f16 embedding [1000,64] ids [2,7]");
    add_data(KILN_FLOAT16, SHAPE(1000, 64));
    add_in(KILN_INT64, G_INT, 0, 999, SHAPE(2, 7));
    run_case();
    gather_oob_case();
    begin("Expand", 13, "f32 [1] -> [5,2]");
    add_data(KILN_FLOAT, SHAPE(1));
    add_vals(KILN_INT64, SHAPE(5, 2));
    run_case();
    begin("Expand", 13, "f32 [4,1,3] with shape [2,1,5,1] (rank grows)");
    add_data(KILN_FLOAT, SHAPE(4, 1, 3));
    add_vals(KILN_INT64, SHAPE(2, 1, 5, 1));
    run_case();
    begin("Pad", 21, "f32 constant value 2.5, negative pads");
    add_data(KILN_FLOAT, SHAPE(4, 5));
    add_vals(KILN_INT64, SHAPE(2, -1, -1, 3));
    add_scalar(KILN_FLOAT, 2.5);
    run_case();
    const char *modes[] = {"edge", "reflect", "wrap"};
    for (int m = 0; m < 3; m++) {
        begin("Pad", 21, "f32 %s [3,4,5] pads [0,2,1,0,3,2]", modes[m]);
        add_data(KILN_FLOAT, SHAPE(3, 4, 5));
        add_vals(KILN_INT64, SHAPE(0, 2, 1, 0, 3, 2));
        a_str("mode", modes[m]);
        run_case();
    }
    begin("Pad", 21, "f16 axes [-1] constant");
    add_data(KILN_FLOAT16, SHAPE(3, 4));
    add_vals(KILN_INT64, SHAPE(1, 2));
    add_absent();
    add_vals(KILN_INT64, SHAPE(-1));
    run_case();
    begin("Pad", 2, "f32 opset 2 attributes value 1");
    add_data(KILN_FLOAT, SHAPE(2, 3));
    a_ints("pads", SHAPE(1, 0, 0, 2));
    a_float("value", 1.0f);
    run_case();
    begin("Tile", 13, "f32 [1,2,3] x [3,2,1]");
    add_data(KILN_FLOAT, SHAPE(1, 2, 3));
    add_vals(KILN_INT64, SHAPE(3, 2, 1));
    run_case();
}
