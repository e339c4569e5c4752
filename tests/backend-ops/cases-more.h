/* backend-ops cases: resize, index, layout, scan, einsum, attention families, IsNaN / IsInf and LRN (included
 * by backend_ops.c after cases-data.h). */

/* The last input added takes the given shape (same element count): multi-dim index tensors from add_vals. */
static void reshape_last(int rank, const int64_t *dims) {
    tin *t = &C.in[C.n_in - 1];
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
}

static void float_tol(kiln_dtype dt) {
    if (dt == KILN_FLOAT) tol(1e-4, 1e-4);
    else if (dt == KILN_FLOAT16) tol(4e-3, 4e-3);
    else tol(2e-2, 2e-2);
}

/* ---------------------------------------------------------------- resize ---------------------------------------- */
/* Resize-11+ with scales (roi absent). */
static void rz_scales(int opset, kiln_dtype dt, int rank, const int64_t *dims, const double *sc, const char *mode,
                      const char *coord, const char *nearest, const char *what) {
    begin("Resize", opset, "%s %s %s %s %s", dn(dt), mode, coord ? coord : "default", nearest ? nearest : "", what);
    if (dt == KILN_INT64 || dt == KILN_INT32 || dt == KILN_UINT8) add_in(dt, G_INT, -100, 100, rank, dims);
    else add_in(dt, G_UNI, -3, 3, rank, dims);
    add_absent();
    add_fvals(KILN_FLOAT, rank, sc);
    a_str("mode", mode);
    if (coord) a_str("coordinate_transformation_mode", coord);
    if (nearest) a_str("nearest_mode", nearest);
    float_tol(dt);
}

static void cases_resize(void) {
    static const char *coords[] = {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel",
                                   "tf_half_pixel_for_nn"};
    static const char *nearests[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    const double up[] = {1, 1, 1.7, 2.5}, down[] = {1, 1, 0.6, 0.45};
    for (int c = 0; c < 5; c++)
        for (int m = 0; m < 4; m++) {
            rz_scales(13, KILN_FLOAT, SHAPE(2, 3, 5, 7), up, "nearest", coords[c], nearests[m], "up [2,3,5,7]");
            run_case();
            rz_scales(19, KILN_FLOAT, SHAPE(1, 2, 11, 9), down, "nearest", coords[c], nearests[m], "down [1,2,11,9]");
            run_case();
        }
    for (int c = 0; c < 4; c++) {
        for (int t = 0; t < 3; t++) {
            rz_scales(13, FLOATS[t], SHAPE(2, 3, 5, 7), up, "linear", coords[c], NULL, "up [2,3,5,7]");
            run_case();
        }
        rz_scales(13, KILN_FLOAT, SHAPE(1, 2, 11, 9), down, "linear", coords[c], NULL, "down [1,2,11,9]");
        run_case();
        rz_scales(13, KILN_FLOAT, SHAPE(1, 2, 6, 5), up, "cubic", coords[c], NULL, "up [1,2,6,5]");
        tol(2e-4, 2e-4);
        run_case();
        rz_scales(13, KILN_FLOAT, SHAPE(1, 2, 11, 9), down, "cubic", coords[c], NULL, "down [1,2,11,9]");
        tol(2e-4, 2e-4);
        run_case();
    }
    rz_scales(11, KILN_INT64, SHAPE(2, 3, 4), (double[]){1, 2, 1.5}, "nearest", NULL, NULL, "3-D");
    run_case();
    rz_scales(13, KILN_FLOAT16, SHAPE(1, 3, 8, 8), (double[]){1, 1, 2, 2}, "nearest", "asymmetric", "floor",
              "x2 (YOLO upsample)");
    run_case();
    rz_scales(13, KILN_UINT8, SHAPE(1, 4, 6, 5), (double[]){1, 1, 0.5, 3}, "nearest", NULL, "round_prefer_ceil",
              "uint8");
    run_case();
    rz_scales(13, KILN_FLOAT, SHAPE(2, 3, 4, 5, 6), (double[]){1, 2, 0.5, 1.5, 1}, "linear", NULL, NULL,
              "5-D three axes");
    run_case();
    rz_scales(13, KILN_FLOAT, SHAPE(4, 33), (double[]){1, 3}, "linear", NULL, NULL, "one axis (single pass)");
    run_case();
    rz_scales(13, KILN_FLOAT, SHAPE(3, 7), (double[]){1, 1}, "linear", NULL, NULL, "identity scales (copy)");
    run_case();
    rz_scales(13, KILN_FLOAT, SHAPE(1, 2, 6, 7), (double[]){1, 1, 0.5, 0.5}, "cubic", NULL, NULL,
              "exclude_outside a=-0.5");
    a_int("exclude_outside", 1);
    a_float("cubic_coeff_a", -0.5f);
    tol(2e-4, 2e-4);
    run_case();
    rz_scales(13, KILN_FLOAT, SHAPE(1, 1, 5, 9), (double[]){1, 1, 3, 2}, "linear", NULL, NULL, "exclude_outside");
    a_int("exclude_outside", 1);
    run_case();
    rz_scales(18, KILN_FLOAT, SHAPE(1, 2, 17, 13), (double[]){1, 1, 0.4, 0.6}, "linear", NULL, NULL, "antialias");
    a_int("antialias", 1);
    run_case();
    rz_scales(18, KILN_FLOAT, SHAPE(1, 2, 16, 12), (double[]){1, 1, 0.3, 0.5}, "cubic", NULL, NULL, "antialias");
    a_int("antialias", 1);
    tol(2e-4, 2e-4);
    run_case();
    rz_scales(19, KILN_FLOAT, SHAPE(1, 2, 7, 6), (double[]){1, 1, 1.6, 0.7}, "linear", "half_pixel_symmetric", NULL,
              "opset 19");
    run_case();
    rz_scales(19, KILN_FLOAT, SHAPE(1, 2, 7, 6), (double[]){1, 1, 2.2, 0.5}, "nearest", "half_pixel_symmetric", NULL,
              "opset 19");
    run_case();

    /* sizes: pytorch_half_pixel to length 1, keep_aspect_ratio_policy, axes */
    begin("Resize", 13, "f32 linear pytorch_half_pixel sizes [1,2,1,5]");
    add_in(KILN_FLOAT, G_UNI, -3, 3, SHAPE(1, 2, 6, 7));
    add_absent();
    add_absent();
    add_vals(KILN_INT64, 4, (int64_t[]){1, 2, 1, 5});
    a_str("mode", "linear");
    a_str("coordinate_transformation_mode", "pytorch_half_pixel");
    run_case();
    static const char *keeps[] = {"stretch", "not_larger", "not_smaller"};
    for (int q = 0; q < 3; q++) {
        begin("Resize", 18, "f32 linear sizes [9,4] axes [2,3] %s", keeps[q]);
        add_in(KILN_FLOAT, G_UNI, -3, 3, SHAPE(1, 3, 6, 7));
        add_absent();
        add_absent();
        add_vals(KILN_INT64, 2, (int64_t[]){9, 4});
        a_str("mode", "linear");
        a_ints("axes", 2, (int64_t[]){2, 3});
        a_str("keep_aspect_ratio_policy", keeps[q]);
        run_case();
    }
    begin("Resize", 18, "f32 nearest scales axes [-1]");
    add_in(KILN_FLOAT, G_UNI, -3, 3, SHAPE(2, 3, 5));
    add_absent();
    add_fvals(KILN_FLOAT, 1, (double[]){2.6});
    a_ints("axes", 1, (int64_t[]){-1});
    run_case();
    for (int m = 0; m < 2; m++) {
        begin("Resize", 13, "f32 %s tf_crop_and_resize roi, extrapolation 2", m ? "linear" : "nearest");
        add_in(KILN_FLOAT, G_UNI, -3, 3, SHAPE(1, 2, 6, 7));
        add_fvals(KILN_FLOAT, 8, (double[]){0, 0, -0.2, 0.3, 1, 1, 0.8, 1.4});
        add_fvals(KILN_FLOAT, 4, (double[]){1, 1, 1.5, 1.2});
        a_str("mode", m ? "linear" : "nearest");
        a_str("coordinate_transformation_mode", "tf_crop_and_resize");
        a_float("extrapolation_value", 2.0f);
        run_case();
    }
    /* opset 10: scales is input 1, asymmetric, legacy nearest rounding (ceil when shrinking) */
    for (int s = 0; s < 2; s++) {
        begin("Resize", 10, "f32 nearest opset 10 %s", s ? "down" : "up");
        add_in(KILN_FLOAT, G_UNI, -3, 3, SHAPE(1, 2, 7, 9));
        add_fvals(KILN_FLOAT, 4, s ? (double[]){1, 1, 0.5, 0.7} : (double[]){1, 1, 2, 3});
        run_case();
    }
    begin("Resize", 10, "f32 linear opset 10");
    add_in(KILN_FLOAT, G_UNI, -3, 3, SHAPE(1, 2, 7, 9));
    add_fvals(KILN_FLOAT, 4, (double[]){1, 1, 1.5, 0.7});
    a_str("mode", "linear");
    run_case();
    for (int m = 0; m < 2; m++) {
        begin("Upsample", 9, "f32 %s [1,3,4,5] x [1,1,2,3]", m ? "linear" : "nearest");
        add_in(KILN_FLOAT, G_UNI, -3, 3, SHAPE(1, 3, 4, 5));
        add_fvals(KILN_FLOAT, 4, (double[]){1, 1, 2, 3});
        a_str("mode", m ? "linear" : "nearest");
        run_case();
    }
    /* opset 7: scales is an attribute; 1.5 and 0.5 leave fractional sizes (6 * 1.5 = 9, 7 * 0.5 floors to 3) */
    for (int m = 0; m < 2; m++)
        for (int s = 0; s < 2; s++) {
            begin("Upsample", 7, "f32 %s scales attribute %s", m ? "linear" : "nearest",
                  s ? "[2,3,6,7] x [1,1,1.5,0.5]" : "[1,3,4,5] x [1,1,2,3]");
            add_in(KILN_FLOAT, G_UNI, -3, 3, 4, s ? (int64_t[]){2, 3, 6, 7} : (int64_t[]){1, 3, 4, 5});
            a_floats("scales", 4, s ? (float[]){1, 1, 1.5f, 0.5f} : (float[]){1, 1, 2, 3});
            a_str("mode", m ? "linear" : "nearest");
            run_case();
        }
    begin("Upsample", 7, "f32 no scales attribute refused");
    add_in(KILN_FLOAT, G_UNI, -3, 3, SHAPE(1, 1, 2, 2));
    C.expect_unsupported = 1;
    run_case();
    begin("Resize", 13, "i32 linear refused");
    add_in(KILN_INT32, G_INT, -5, 5, SHAPE(1, 1, 4, 4));
    add_absent();
    add_fvals(KILN_FLOAT, 4, (double[]){1, 1, 2, 2});
    a_str("mode", "linear");
    C.expect_unsupported = 1;
    run_case();
    begin("Resize", 13, "f32 unknown coordinate mode refused");
    add_in(KILN_FLOAT, G_UNI, -5, 5, SHAPE(1, 1, 4, 4));
    add_absent();
    add_fvals(KILN_FLOAT, 4, (double[]){1, 1, 2, 2});
    a_str("coordinate_transformation_mode", "bogus");
    C.expect_unsupported = 1;
    run_case();
}

/* ---------------------------------------------------------------- index ----------------------------------------- */
static void cases_index(void) {
    const kiln_dtype dts[] = {KILN_FLOAT, KILN_FLOAT16, KILN_INT64};
    for (int t = 0; t < 3; t++) {
        begin("GatherElements", 13, "%s axis 1 [3,7,4] idx [3,5,4]", dn(dts[t]));
        add_in(dts[t], dts[t] == KILN_INT64 ? G_INT : G_UNI, -9, 9, SHAPE(3, 7, 4));
        add_in(KILN_INT64, G_INT, -7, 6, SHAPE(3, 5, 4));
        a_int("axis", 1);
        run_case();
    }
    begin("GatherElements", 11, "f32 axis 0 int32, indices smaller on other dims");
    add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(6, 5));
    add_in(KILN_INT32, G_INT, -6, 5, SHAPE(9, 3));
    run_case();
    begin("GatherElements", 13, "f32 axis -1 [2,3,50]");
    add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(2, 3, 50));
    add_in(KILN_INT64, G_INT, 0, 49, SHAPE(2, 3, 17));
    a_int("axis", -1);
    run_case();

    begin("GatherND", 13, "f32 k=2 [4,5,6] idx [3,2]");
    add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(4, 5, 6));
    add_vals(KILN_INT64, 6, (int64_t[]){0, 1, 3, -1, -4, 4});
    reshape_last(SHAPE(3, 2));
    run_case();
    begin("GatherND", 13, "f16 k=1 idx [2,2,1]");
    add_in(KILN_FLOAT16, G_UNI, -9, 9, SHAPE(5, 7));
    add_vals(KILN_INT32, 4, (int64_t[]){4, 0, -2, 1});
    reshape_last(SHAPE(2, 2, 1));
    run_case();
    begin("GatherND", 13, "i64 batch_dims 1 k=2 [2,3,4,5] idx [2,3,2]");
    add_in(KILN_INT64, G_INT, -99, 99, SHAPE(2, 3, 4, 5));
    add_vals(KILN_INT64, 12, (int64_t[]){0, 1, 2, 3, 1, 0, 1, 0, 2, 2, 0, -1});
    reshape_last(SHAPE(2, 3, 2));
    a_int("batch_dims", 1);
    run_case();
    begin("GatherND", 13, "f32 full tuples k=3 [3,4,5] idx [4,3]");
    add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(3, 4, 5));
    add_vals(KILN_INT64, 12, (int64_t[]){0, 0, 0, 2, 3, 4, 1, 2, 3, -1, -1, -1});
    reshape_last(SHAPE(4, 3));
    run_case();

    /* reduction none: distinct indices along the axis, so the result does not depend on update order */
    begin("ScatterElements", 13, "f32 none axis 0 [5,4] idx [3,4]");
    add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(5, 4));
    add_vals(KILN_INT64, 12, (int64_t[]){0, 4, 2, 1, 3, -2, 0, 2, -4, 2, 4, 3});
    reshape_last(SHAPE(3, 4));
    add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(3, 4));
    run_case();
    begin("ScatterElements", 13, "f16 none axis 1 int32 [3,6] idx [2,3]");
    add_in(KILN_FLOAT16, G_UNI, -9, 9, SHAPE(3, 6));
    add_vals(KILN_INT32, 6, (int64_t[]){5, 0, 2, -1, 1, 3});
    reshape_last(SHAPE(2, 3));
    add_in(KILN_FLOAT16, G_UNI, -9, 9, SHAPE(2, 3));
    a_int("axis", 1);
    run_case();
    begin("Scatter", 9, "f32 opset 9 axis 1");
    add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(2, 5));
    add_vals(KILN_INT64, 4, (int64_t[]){1, 3, 4, 0});
    reshape_last(SHAPE(2, 2));
    add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(2, 2));
    a_int("axis", 1);
    run_case();
    static const char *reds[] = {"add", "mul", "max", "min"};
    const kiln_dtype rdts[] = {KILN_FLOAT, KILN_INT32, KILN_INT64};
    for (int r = 0; r < 4; r++)
        for (int t = 0; t < 3; t++) {
            int fl = rdts[t] == KILN_FLOAT;
            begin("ScatterElements", 18, "%s %s duplicates axis 0 [4,33] idx [40,33]", dn(rdts[t]), reds[r]);
            add_in(rdts[t], fl ? G_UNI : G_INT, fl ? 0.9 : -9, fl ? 1.1 : 9, SHAPE(4, 33));
            add_in(KILN_INT64, G_INT, -4, 3, SHAPE(40, 33));
            add_in(rdts[t], fl ? G_UNI : G_INT, fl ? (r == 1 ? 0.95 : -3) : -9, fl ? (r == 1 ? 1.05 : 3) : 9,
                   SHAPE(40, 33));
            a_str("reduction", reds[r]);
            tol(1e-4, 1e-4);
            run_case();
        }
    begin("ScatterElements", 13, "f32 max at opset 13 refused");
    add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(4, 3));
    add_in(KILN_INT64, G_INT, 0, 3, SHAPE(2, 3));
    add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(2, 3));
    a_str("reduction", "max");
    C.expect_unsupported = 1;
    run_case();
    begin("ScatterElements", 18, "f16 add refused");
    add_in(KILN_FLOAT16, G_UNI, -9, 9, SHAPE(4, 3));
    add_in(KILN_INT64, G_INT, 0, 3, SHAPE(2, 3));
    add_in(KILN_FLOAT16, G_UNI, -9, 9, SHAPE(2, 3));
    a_str("reduction", "add");
    C.expect_unsupported = 1;
    run_case();

    begin("ScatterND", 13, "f32 none k=1 rows [6,5] idx [3,1]");
    add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(6, 5));
    add_vals(KILN_INT64, 3, (int64_t[]){4, 0, -1});
    reshape_last(SHAPE(3, 1));
    add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(3, 5));
    run_case();
    begin("ScatterND", 13, "i64 none k=2 elements [4,5] idx [2,3,2]");
    add_in(KILN_INT64, G_INT, -99, 99, SHAPE(4, 5));
    add_vals(KILN_INT64, 12, (int64_t[]){0, 0, 1, 4, 3, 2, -1, -1, 2, 0, 1, 1});
    reshape_last(SHAPE(2, 3, 2));
    add_in(KILN_INT64, G_INT, -99, 99, SHAPE(2, 3));
    run_case();
    for (int r = 0; r < 4; r++) {
        begin("ScatterND", 18, "f32 %s duplicates k=1 [3,8] idx [7,1]", reds[r]);
        add_in(KILN_FLOAT, G_UNI, 0.9, 1.1, SHAPE(3, 8));
        add_vals(KILN_INT64, 7, (int64_t[]){0, 2, 0, 1, 2, -3, 0});
        reshape_last(SHAPE(7, 1));
        add_in(KILN_FLOAT, G_UNI, r == 1 ? 0.95 : -3, r == 1 ? 1.05 : 3, SHAPE(7, 8));
        a_str("reduction", reds[r]);
        run_case();
    }

    begin("OneHot", 11, "f32 values, i64 indices with negatives and out of range, axis -1");
    add_in(KILN_INT64, G_INT, -12, 12, SHAPE(3, 7));
    add_scalar(KILN_INT64, 10);
    add_vals(KILN_FLOAT, 2, (int64_t[]){-1, 3});
    run_case();
    begin("OneHot", 11, "i64 values, i32 indices, axis 0, float depth");
    add_in(KILN_INT32, G_INT, -5, 5, SHAPE(4, 3));
    add_scalar(KILN_FLOAT, 5);
    add_vals(KILN_INT64, 2, (int64_t[]){0, 1});
    a_int("axis", 0);
    run_case();
    begin("OneHot", 11, "f16 values, float indices (halves never hit), axis 1");
    add_in(KILN_FLOAT, G_HALVES, -4, 4, SHAPE(2, 9));
    add_scalar(KILN_INT32, 6);
    add_vals(KILN_FLOAT16, 2, (int64_t[]){2, 7});
    a_int("axis", 1);
    run_case();
}

/* ---------------------------------------------------------------- layout, scan, IsNaN / IsInf -------------------- */
static void cases_layout_scan(void) {
    static const char *modes[] = {"DCR", "CRD"};
    for (int m = 0; m < 2; m++)
        for (int t = 0; t < 2; t++) {
            begin("DepthToSpace", 13, "%s %s [2,12,3,5] b 2", dn(FLOATS[t]), modes[m]);
            add_in(FLOATS[t], G_UNI, -9, 9, SHAPE(2, 12, 3, 5));
            a_int("blocksize", 2);
            a_str("mode", modes[m]);
            run_case();
        }
    begin("DepthToSpace", 13, "i64 DCR [1,18,2,3] b 3");
    add_in(KILN_INT64, G_INT, -99, 99, SHAPE(1, 18, 2, 3));
    a_int("blocksize", 3);
    run_case();
    begin("SpaceToDepth", 13, "f32 [2,3,6,4] b 2");
    add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(2, 3, 6, 4));
    a_int("blocksize", 2);
    run_case();
    begin("SpaceToDepth", 13, "f16 [1,5,9,3] b 3");
    add_in(KILN_FLOAT16, G_UNI, -9, 9, SHAPE(1, 5, 9, 3));
    a_int("blocksize", 3);
    run_case();
    begin("DepthToSpace", 13, "bad mode refused");
    add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(1, 4, 2, 2));
    a_int("blocksize", 2);
    a_str("mode", "XYZ");
    C.expect_unsupported = 1;
    run_case();

    const int64_t ks[] = {0, -1, 2, 9};
    for (int u = 0; u < 2; u++)
        for (int q = 0; q < 4; q++) {
            begin("Trilu", 14, "f32 %s k=%lld [2,3,5,4]", u ? "upper" : "lower", (long long)ks[q]);
            add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(2, 3, 5, 4));
            add_scalar(KILN_INT64, (double)ks[q]);
            a_int("upper", u);
            run_case();
        }
    begin("Trilu", 14, "i64 upper, no k [6,3]");
    add_in(KILN_INT64, G_INT, -99, 99, SHAPE(6, 3));
    run_case();
    begin("Trilu", 14, "bool lower, no k [4,7] (causal mask)");
    add_in(KILN_BOOL, G_BOOL, 0, 1, SHAPE(4, 7));
    a_int("upper", 0);
    run_case();

    for (int ex = 0; ex < 2; ex++)
        for (int rv = 0; rv < 2; rv++) {
            begin("CumSum", 14, "f32 axis 1 [3,17,5] exclusive=%d reverse=%d", ex, rv);
            add_in(KILN_FLOAT, G_UNI, -3, 3, SHAPE(3, 17, 5));
            add_scalar(KILN_INT64, 1);
            a_int("exclusive", ex);
            a_int("reverse", rv);
            run_case();
        }
    const kiln_dtype cdts[] = {KILN_FLOAT16, KILN_BFLOAT16, KILN_INT32, KILN_INT64};
    for (int t = 0; t < 4; t++) {
        begin("CumSum", 14, "%s last axis [4,300] (axis int32 -1)", dn(cdts[t]));
        add_in(cdts[t], t >= 2 ? G_INT : G_UNI, -3, 3, SHAPE(4, 300));
        add_scalar(KILN_INT32, -1);
        float_tol(cdts[t]);
        run_case();
    }
    begin("CumSum", 11, "i64 axis 0 [1000] (position ids)");
    add_in(KILN_INT64, G_INT, 0, 1, SHAPE(1000));
    add_scalar(KILN_INT64, 0);
    run_case();
    begin("CumProd", 26, "f32 axis 0 [20,6]");
    add_in(KILN_FLOAT, G_UNI, 0.9, 1.1, SHAPE(20, 6));
    add_scalar(KILN_INT64, 0);
    run_case();
    begin("CumProd", 26, "i64 exclusive reverse [3,9]");
    add_in(KILN_INT64, G_INT, -3, 3, SHAPE(3, 9));
    add_scalar(KILN_INT64, 1);
    a_int("exclusive", 1);
    a_int("reverse", 1);
    run_case();

    for (int l = 0; l < 2; l++)
        for (int t = 0; t < 3; t++) {
            begin("TopK", 11, "%s k=5 %s [3,37]", dn(FLOATS[t]), l ? "largest" : "smallest");
            add_in(FLOATS[t], G_UNI, -9, 9, SHAPE(3, 37));
            add_vals(KILN_INT64, 1, (int64_t[]){5});
            a_int("largest", l);
            C.n_out = 2;
            run_case();
        }
    begin("TopK", 11, "i64 ties axis 0 [40,6] k=7");
    add_in(KILN_INT64, G_INT, -3, 3, SHAPE(40, 6));
    add_vals(KILN_INT64, 1, (int64_t[]){7});
    a_int("axis", 0);
    C.n_out = 2;
    run_case();
    begin("TopK", 11, "f32 halves ties smallest, middle axis [2,30,3] k=30");
    add_in(KILN_FLOAT, G_HALVES, -2, 2, SHAPE(2, 30, 3));
    add_vals(KILN_INT64, 1, (int64_t[]){30});
    a_int("axis", 1);
    a_int("largest", 0);
    C.n_out = 2;
    run_case();
    begin("TopK", 11, "f32 long rows [2,5000] k=10");
    add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(2, 5000));
    add_vals(KILN_INT64, 1, (int64_t[]){10});
    C.n_out = 2;
    run_case();
    begin("TopK", 11, "i32 k=0");
    add_in(KILN_INT32, G_INT, -9, 9, SHAPE(3, 4));
    add_vals(KILN_INT64, 1, (int64_t[]){0});
    C.n_out = 2;
    run_case();
    begin("TopK", 1, "f32 opset 1 k attribute 3");
    add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(4, 9));
    a_int("k", 3);
    C.n_out = 2;
    run_case();
    begin("TopK", 11, "f32 NaN and infinities");
    add_fvals(KILN_FLOAT, 8, (double[]){1, NAN, -INFINITY, 3, INFINITY, NAN, 0, -2});
    add_vals(KILN_INT64, 1, (int64_t[]){4});
    C.n_out = 2;
    run_case();

    const double special[] = {1, NAN, -INFINITY, 3, INFINITY, -NAN, 0, -2, 1e30, -1e-30};
    for (int t = 0; t < 3; t++) {
        begin("IsNaN", 20, "%s special values", dn(FLOATS[t]));
        add_fvals(FLOATS[t], 10, special);
        run_case();
        begin("IsInf", 20, "%s special values", dn(FLOATS[t]));
        add_fvals(FLOATS[t], 10, special);
        run_case();
    }
    for (int s = 0; s < 2; s++) {
        begin("IsInf", 20, "f32 detect %s only", s ? "positive" : "negative");
        add_fvals(KILN_FLOAT, 10, special);
        a_int(s ? "detect_negative" : "detect_positive", 0);
        run_case();
    }
    begin("IsNaN", 13, "f32 random [5,7]");
    add_in(KILN_FLOAT, G_UNI, -9, 9, SHAPE(5, 7));
    run_case();
}

/* ---------------------------------------------------------------- Einsum, LRN ------------------------------------ */
static void es_case(const char *eq, kiln_dtype dt, int ra, const int64_t *a, int rb, const int64_t *b) {
    begin("Einsum", 12, "%s '%s'", dn(dt), eq);
    add_in(dt, G_UNI, -2, 2, ra, a);
    if (rb >= 0) add_in(dt, G_UNI, -2, 2, rb, b);
    a_str("equation", eq);
    float_tol(dt);
    if (dt == KILN_FLOAT) tol(1e-4, 2e-4);
    run_case();
}

static void cases_einsum_lrn(void) {
    for (int t = 0; t < 3; t++) {
        es_case("bhid,bhjd->bhij", FLOATS[t], SHAPE(2, 3, 5, 16), SHAPE(2, 3, 7, 16));
        es_case("bhij,bhjd->bhid", FLOATS[t], SHAPE(2, 3, 5, 7), SHAPE(2, 3, 7, 16));
    }
    es_case("ij,jk->ik", KILN_FLOAT, SHAPE(13, 33), SHAPE(33, 9));
    es_case("ij,kj", KILN_FLOAT, SHAPE(6, 5), SHAPE(4, 5));
    es_case("bij,bkj->bik", KILN_FLOAT, SHAPE(3, 4, 70), SHAPE(3, 6, 70));
    es_case("...ij,...jk->...ik", KILN_FLOAT, SHAPE(2, 1, 4, 5), SHAPE(3, 5, 6));
    es_case("i,j->ij", KILN_FLOAT, SHAPE(7), SHAPE(5));
    es_case("i,i", KILN_FLOAT, SHAPE(100), SHAPE(100));
    es_case("ii->i", KILN_FLOAT, SHAPE(6, 6), -1, NULL);
    es_case("ij->ji", KILN_FLOAT, SHAPE(4, 9), -1, NULL);
    es_case("bij->b", KILN_FLOAT, SHAPE(3, 5, 7), -1, NULL);
    es_case("nchw,kc->nkhw", KILN_FLOAT, SHAPE(2, 6, 3, 4), SHAPE(5, 6));
    begin("Einsum", 12, "three operands refused");
    add_in(KILN_FLOAT, G_UNI, -2, 2, SHAPE(2, 3));
    add_in(KILN_FLOAT, G_UNI, -2, 2, SHAPE(3, 4));
    add_in(KILN_FLOAT, G_UNI, -2, 2, SHAPE(4, 5));
    a_str("equation", "ij,jk,kl->il");
    C.expect_unsupported = 1;
    run_case();

    for (int t = 0; t < 3; t++) {
        begin("LRN", 13, "%s size 5 [2,9,4,5]", dn(FLOATS[t]));
        add_in(FLOATS[t], G_UNI, -3, 3, SHAPE(2, 9, 4, 5));
        a_int("size", 5);
        a_float("alpha", 1e-3f);
        float_tol(FLOATS[t]);
        run_case();
    }
    begin("LRN", 13, "f32 size 4 (uneven window) bias 2 beta 0.6 [1,7,3]");
    add_in(KILN_FLOAT, G_UNI, -3, 3, SHAPE(1, 7, 3));
    a_int("size", 4);
    a_float("bias", 2.0f);
    a_float("beta", 0.6f);
    a_float("alpha", 0.01f);
    run_case();
}

/* ---------------------------------------------------------------- Attention -------------------------------------- */
static void at_qkv(kiln_dtype dt, int r, const int64_t *q, const int64_t *k, const int64_t *v) {
    add_in(dt, G_UNI, -1.5, 1.5, r, q);
    add_in(dt, G_UNI, -1.5, 1.5, r, k);
    add_in(dt, G_UNI, -1.5, 1.5, r, v);
    float_tol(dt);
}

static void cases_attention(void) {
    for (int t = 0; t < 3; t++) {
        begin("Attention", 23, "%s 4-D [2,4,5,8] no mask", dn(FLOATS[t]));
        at_qkv(FLOATS[t], SHAPE(2, 4, 5, 8), (int64_t[]){2, 4, 7, 8}, (int64_t[]){2, 4, 7, 6});
        run_case();
    }
    begin("Attention", 23, "f32 3-D GQA 4 q heads / 2 kv heads, causal");
    at_qkv(KILN_FLOAT, SHAPE(2, 5, 32), (int64_t[]){2, 5, 16}, (int64_t[]){2, 5, 16});
    a_int("q_num_heads", 4);
    a_int("kv_num_heads", 2);
    a_int("is_causal", 1);
    run_case();
    begin("Attention", 23, "f32 causal with past cache, present outputs");
    at_qkv(KILN_FLOAT, SHAPE(2, 4, 3, 8), (int64_t[]){2, 2, 3, 8}, (int64_t[]){2, 2, 3, 8});
    add_absent();
    add_in(KILN_FLOAT, G_UNI, -1.5, 1.5, SHAPE(2, 2, 6, 8));
    add_in(KILN_FLOAT, G_UNI, -1.5, 1.5, SHAPE(2, 2, 6, 8));
    a_int("is_causal", 1);
    C.n_out = 3;
    run_case();
    begin("Attention", 23, "f16 3-D decode step with cache, present outputs");
    at_qkv(KILN_FLOAT16, SHAPE(1, 1, 64), (int64_t[]){1, 1, 64}, (int64_t[]){1, 1, 64});
    add_absent();
    add_in(KILN_FLOAT16, G_UNI, -1.5, 1.5, SHAPE(1, 4, 9, 16));
    add_in(KILN_FLOAT16, G_UNI, -1.5, 1.5, SHAPE(1, 4, 9, 16));
    a_int("q_num_heads", 4);
    a_int("kv_num_heads", 4);
    C.n_out = 3;
    run_case();
    begin("Attention", 23, "f32 bool mask [5,7] (rows may be fully masked)");
    at_qkv(KILN_FLOAT, SHAPE(2, 2, 5, 8), (int64_t[]){2, 2, 7, 8}, (int64_t[]){2, 2, 7, 8});
    add_in(KILN_BOOL, G_BOOL, 0, 1, SHAPE(5, 7));
    run_case();
    begin("Attention", 23, "f32 additive mask [2,1,5,7], scale 0.2, softcap 3");
    at_qkv(KILN_FLOAT, SHAPE(2, 2, 5, 8), (int64_t[]){2, 2, 7, 8}, (int64_t[]){2, 2, 7, 8});
    add_in(KILN_FLOAT, G_UNI, -3, 0, SHAPE(2, 1, 5, 7));
    a_float("scale", 0.2f);
    a_float("softcap", 3.0f);
    run_case();
    begin("Attention", 23, "f32 mask shorter than the keys [5,4]");
    at_qkv(KILN_FLOAT, SHAPE(1, 2, 5, 8), (int64_t[]){1, 2, 7, 8}, (int64_t[]){1, 2, 7, 8});
    add_in(KILN_FLOAT, G_UNI, -1, 0, SHAPE(5, 4));
    run_case();
    for (int m = 0; m < 4; m++) {
        begin("Attention", 23, "f32 qk_matmul_output_mode %d, all outputs", m);
        at_qkv(KILN_FLOAT, SHAPE(1, 2, 4, 8), (int64_t[]){1, 2, 6, 8}, (int64_t[]){1, 2, 6, 8});
        add_in(KILN_FLOAT, G_UNI, -2, 0, SHAPE(4, 6));
        a_int("is_causal", 1);
        a_int("qk_matmul_output_mode", m);
        C.n_out = 4;
        run_case();
    }
    begin("Attention", 23, "f32 long keys 1000 (several chunks)");
    at_qkv(KILN_FLOAT, SHAPE(1, 2, 3, 64), (int64_t[]){1, 2, 1000, 64}, (int64_t[]){1, 2, 1000, 64});
    run_case();
    begin("Attention", 23, "f32 causal prefill with cache 700 + 300 keys");
    at_qkv(KILN_FLOAT, SHAPE(1, 2, 300, 32), (int64_t[]){1, 2, 300, 32}, (int64_t[]){1, 2, 300, 32});
    add_absent();
    add_in(KILN_FLOAT, G_UNI, -1.5, 1.5, SHAPE(1, 2, 700, 32));
    add_in(KILN_FLOAT, G_UNI, -1.5, 1.5, SHAPE(1, 2, 700, 32));
    a_int("is_causal", 1);
    run_case();
    begin("Attention", 24, "f32 sliding window left 2 right 1");
    at_qkv(KILN_FLOAT, SHAPE(1, 2, 6, 8), (int64_t[]){1, 2, 6, 8}, (int64_t[]){1, 2, 6, 8});
    a_int("left_window_size", 2);
    a_int("right_window_size", 1);
    run_case();
    begin("Attention", 24, "f32 nonpad_kv_seqlen [5,3]");
    at_qkv(KILN_FLOAT, SHAPE(2, 2, 3, 8), (int64_t[]){2, 2, 6, 8}, (int64_t[]){2, 2, 6, 8});
    add_absent();
    add_absent();
    add_absent();
    add_vals(KILN_INT64, 2, (int64_t[]){5, 3});
    a_int("is_causal", 1);
    run_case();
}
