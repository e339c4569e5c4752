/* Movement-family CPU kernels against index-by-index references written here: Transpose, Concat, Split, Slice,
 * Tile, DepthToSpace, SpaceToDepth, Trilu, ReverseSequence. */
#include "test_cpu_movement_util.h"

static const kiln_dtype dtypes[] = {KILN_FLOAT, KILN_INT64, KILN_UINT8, KILN_FLOAT16, KILN_STRING, KILN_BOOL};
#define N_DTYPES (int)(sizeof dtypes / sizeof dtypes[0])

static void random_dims(int rank, int64_t *dims, int64_t max) {
    for (int d = 0; d < rank; d++) dims[d] = mvt_int(1, max);
}

static void test_transpose(void) {
    for (int iter = 0; iter < 120; iter++) {
        int r = (int)mvt_int(0, 6);
        int64_t dims[KILN_MAX_DIMS], perm[KILN_MAX_DIMS], od[KILN_MAX_DIMS];
        random_dims(r, dims, r > 4 ? 4 : 9);
        if (iter % 7 == 0 && r > 0) dims[mvt_int(0, r - 1)] = 0;
        for (int d = 0; d < r; d++) perm[d] = d;
        for (int d = r - 1; d > 0; d--) { /* Fisher-Yates */
            int j = (int)mvt_int(0, d);
            int64_t t = perm[d];
            perm[d] = perm[j];
            perm[j] = t;
        }
        kiln_dtype dt = dtypes[iter % N_DTYPES];
        kiln_tensor x = mvt_random(dt, r, dims);
        oneop o;
        oneop_begin(&o, "Transpose", "", 13, 1, 1);
        int use_default = iter % 5 == 0;
        if (use_default)
            for (int d = 0; d < r; d++) perm[d] = r - 1 - d;
        else
            oneop_attr_ints(&o, "perm", perm, r);
        CHECK(oneop_run(&o, &x) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        for (int d = 0; d < r; d++) od[d] = dims[perm[d]];
        CHECK(mvt_same_shape(y, r, od) && y->dtype == dt);
        int64_t n = kiln_tensor_numel(y), oi[KILN_MAX_DIMS], ii[KILN_MAX_DIMS];
        int ok = 1;
        for (int64_t i = 0; ok && i < n; i++) {
            mvt_unravel(i, r, od, oi);
            for (int d = 0; d < r; d++) ii[perm[d]] = oi[d];
            ok = mvt_elem_eq(y, i, &x, mvt_ravel(r, dims, ii));
        }
        CHECK(ok);
        oneop_end(&o);
        kiln_tensor_release(&x);
    }
    /* large 2-D and NCHW->NHWC copies take the blocked path */
    int64_t shapes[][4] = {{1, 1, 517, 389}, {2, 67, 33, 35}};
    int64_t perms[][4] = {{0, 1, 3, 2}, {0, 2, 3, 1}};
    static const kiln_dtype big_types[] = {KILN_FLOAT, KILN_FLOAT16, KILN_UINT8, KILN_INT64};
    for (int c = 0; c < 8; c++) {
        kiln_tensor x = mvt_random(big_types[c / 2], 4, shapes[c % 2]);
        oneop o;
        oneop_begin(&o, "Transpose", "", 13, 1, 1);
        oneop_attr_ints(&o, "perm", perms[c % 2], 4);
        CHECK(oneop_run(&o, &x) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        int64_t n = kiln_tensor_numel(y), oi[4], ii[4];
        int ok = 1;
        for (int64_t i = 0; ok && i < n; i++) {
            mvt_unravel(i, 4, y->dims, oi);
            for (int d = 0; d < 4; d++) ii[perms[c % 2][d]] = oi[d];
            ok = mvt_elem_eq(y, i, &x, mvt_ravel(4, shapes[c % 2], ii));
        }
        CHECK(ok);
        oneop_end(&o);
        kiln_tensor_release(&x);
    }
    int64_t d2[] = {2, 3}, bad[] = {0, 0};
    kiln_tensor x = mvt_random(KILN_FLOAT, 2, d2);
    oneop o;
    oneop_begin(&o, "Transpose", "", 13, 1, 1);
    oneop_attr_ints(&o, "perm", bad, 2);
    CHECK(oneop_run(&o, &x) == KILN_ERR_INVALID_ARGUMENT);
    oneop_end(&o);
    kiln_tensor_release(&x);
}

static void test_concat_split(void) {
    for (int iter = 0; iter < 60; iter++) {
        int r = (int)mvt_int(1, 4), n_in = (int)mvt_int(1, 4);
        int64_t base[KILN_MAX_DIMS];
        random_dims(r, base, 5);
        int64_t axis = mvt_int(-r, r - 1);
        int a = (int)(axis < 0 ? axis + r : axis);
        kiln_dtype dt = dtypes[iter % N_DTYPES];
        kiln_tensor in[4];
        int64_t sizes[4], total = 0;
        for (int i = 0; i < n_in; i++) {
            int64_t d[KILN_MAX_DIMS];
            memcpy(d, base, sizeof d);
            d[a] = sizes[i] = mvt_int(0, 4); /* empty inputs included */
            total += sizes[i];
            in[i] = mvt_random(dt, r, d);
        }
        oneop o;
        oneop_begin(&o, "Concat", "", 13, n_in, 1);
        oneop_attr_int(&o, "axis", axis);
        CHECK(oneop_run(&o, in) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        int64_t od[KILN_MAX_DIMS], idx[KILN_MAX_DIMS];
        memcpy(od, base, sizeof od);
        od[a] = total;
        CHECK(mvt_same_shape(y, r, od));
        int ok = 1;
        for (int64_t i = 0; ok && i < kiln_tensor_numel(y); i++) {
            mvt_unravel(i, r, od, idx);
            int j = 0;
            while (idx[a] >= sizes[j]) idx[a] -= sizes[j++];
            ok = mvt_elem_eq(y, i, &in[j], mvt_ravel(r, in[j].dims, idx));
        }
        CHECK(ok);
        /* Split the result back: explicit sizes (input, opset 13) must give the inputs again */
        kiln_tensor cat = mvt_alloc(dt, r, od);
        kiln_tensor_copy(&cat, y);
        oneop_end(&o);
        kiln_tensor sin[2] = {cat, mvt_vec(n_in, sizes)};
        oneop_begin(&o, "Split", "", 13, 2, n_in);
        oneop_attr_int(&o, "axis", axis);
        CHECK(oneop_run(&o, sin) == KILN_OK);
        for (int i = 0; i < n_in; i++) CHECK(mvt_equal(oneop_out(&o, i), &in[i]));
        oneop_end(&o);
        /* opset 11: sizes as an attribute */
        oneop_begin(&o, "Split", "", 11, 1, n_in);
        oneop_attr_int(&o, "axis", axis);
        oneop_attr_ints(&o, "split", sizes, n_in);
        CHECK(oneop_run(&o, sin) == KILN_OK);
        for (int i = 0; i < n_in; i++) CHECK(mvt_equal(oneop_out(&o, i), &in[i]));
        oneop_end(&o);
        /* opset 18 num_outputs: ceil-sized chunks, the last one smaller */
        int nout = (int)mvt_int(1, 3);
        int64_t chunk = (total + nout - 1) / nout;
        if (chunk * (nout - 1) <= total) {
            oneop_begin(&o, "Split", "", 18, 1, nout);
            oneop_attr_int(&o, "axis", axis);
            oneop_attr_int(&o, "num_outputs", nout);
            CHECK(oneop_run(&o, sin) == KILN_OK);
            int64_t at = 0;
            for (int i = 0; i < nout; i++) {
                const kiln_tensor *s = oneop_out(&o, i);
                int64_t want = i < nout - 1 ? chunk : total - chunk * (nout - 1);
                CHECK(s->dims[a] == want);
                ok = 1;
                for (int64_t e = 0; ok && e < kiln_tensor_numel(s); e++) {
                    mvt_unravel(e, r, s->dims, idx);
                    idx[a] += at;
                    ok = mvt_elem_eq(s, e, &cat, mvt_ravel(r, od, idx));
                }
                CHECK(ok);
                at += want;
            }
            oneop_end(&o);
        }
        kiln_tensor_release(&sin[1]);
        kiln_tensor_release(&cat);
        for (int i = 0; i < n_in; i++) kiln_tensor_release(&in[i]);
    }
    /* a few long rows are copied in parallel pieces */
    int64_t ld[2][2] = {{3, 70001}, {3, 50003}};
    kiln_tensor big[2] = {mvt_random(KILN_FLOAT, 2, ld[0]), mvt_random(KILN_FLOAT, 2, ld[1])};
    oneop bo;
    oneop_begin(&bo, "Concat", "", 13, 2, 1);
    oneop_attr_int(&bo, "axis", 1);
    CHECK(oneop_run(&bo, big) == KILN_OK);
    const kiln_tensor *by = oneop_out(&bo, 0);
    int bok = by->dims[0] == 3 && by->dims[1] == 120004;
    for (int64_t i = 0; bok && i < 3 * 120004; i++) {
        int64_t r = i / 120004, c = i % 120004;
        bok = c < 70001 ? mvt_elem_eq(by, i, &big[0], r * 70001 + c) : mvt_elem_eq(by, i, &big[1], r * 50003 + c - 70001);
    }
    CHECK(bok);
    oneop_end(&bo);
    kiln_tensor_release(&big[0]);
    kiln_tensor_release(&big[1]);
    /* sizes that do not add up */
    int64_t d[] = {5}, s[] = {2, 2};
    kiln_tensor in[2] = {mvt_random(KILN_FLOAT, 1, d), mvt_vec(2, s)};
    oneop o;
    oneop_begin(&o, "Split", "", 13, 2, 2);
    CHECK(oneop_run(&o, in) == KILN_ERR_SHAPE);
    oneop_end(&o);
    kiln_tensor_release(&in[0]);
    kiln_tensor_release(&in[1]);
}

/* The spec's clamping (start to [0, d-1] for negative steps, unlike numpy), then the positions visited by
 * range(start, end, step). */
static int64_t ref_slice_count(int64_t d, int64_t *s, int64_t *e, int64_t step) {
    if (*s < 0) *s += d;
    if (*e < 0) *e += d;
    if (step > 0) {
        if (*s < 0) *s = 0;
        if (*s > d) *s = d;
        if (*e < 0) *e = 0;
        if (*e > d) *e = d;
    } else {
        if (*s < 0) *s = 0;
        if (*s > d - 1) *s = d - 1;
        if (*e < -1) *e = -1;
        if (*e > d - 1) *e = d - 1;
    }
    int64_t n = 0;
    for (int64_t i = *s; step > 0 ? i < *e : i > *e; i += step) n++;
    return n;
}

static void test_slice(void) {
    for (int iter = 0; iter < 150; iter++) {
        int r = (int)mvt_int(1, 4);
        int64_t dims[KILN_MAX_DIMS];
        random_dims(r, dims, 7);
        if (iter % 11 == 0) dims[0] = 0;
        int n = (int)mvt_int(1, r);
        int64_t starts[4], ends[4], axes[4], steps[4], perm[4] = {0, 1, 2, 3};
        for (int i = r - 1; i > 0; i--) {
            int j = (int)mvt_int(0, i);
            int64_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (int i = 0; i < n; i++) {
            axes[i] = mvt_int(0, 1) ? perm[i] : perm[i] - r;
            starts[i] = mvt_int(-10, 10);
            ends[i] = mvt_int(-10, 10);
            steps[i] = mvt_int(1, 3) * (mvt_int(0, 1) ? 1 : -1);
            if (iter % 13 == 0) ends[i] = steps[i] > 0 ? INT64_MAX : INT64_MIN;
        }
        kiln_dtype dt = dtypes[iter % N_DTYPES];
        kiln_tensor x = mvt_random(dt, r, dims);
        kiln_tensor in[5] = {x, mvt_vec(n, starts), mvt_vec(n, ends), mvt_vec(n, axes), mvt_vec(n, steps)};
        oneop o;
        oneop_begin(&o, "Slice", "", 13, 5, 1);
        CHECK(oneop_run(&o, in) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        int64_t b[KILN_MAX_DIMS], st[KILN_MAX_DIMS], od[KILN_MAX_DIMS], idx[KILN_MAX_DIMS];
        for (int d = 0; d < r; d++) {
            b[d] = 0;
            st[d] = 1;
            od[d] = dims[d];
        }
        for (int i = 0; i < n; i++) {
            int a = (int)(axes[i] < 0 ? axes[i] + r : axes[i]);
            int64_t s = starts[i], e = ends[i];
            od[a] = ref_slice_count(dims[a], &s, &e, steps[i]);
            b[a] = s;
            st[a] = steps[i];
        }
        CHECK(mvt_same_shape(y, r, od));
        int ok = 1;
        for (int64_t i = 0; ok && i < kiln_tensor_numel(y); i++) {
            mvt_unravel(i, r, od, idx);
            for (int d = 0; d < r; d++) idx[d] = b[d] + idx[d] * st[d];
            ok = mvt_elem_eq(y, i, &x, mvt_ravel(r, dims, idx));
        }
        CHECK(ok);
        oneop_end(&o);
        /* opset 1 attribute form, steps of 1, default axes */
        if (n == r) {
            oneop_begin(&o, "Slice", "", 1, 1, 1);
            oneop_attr_ints(&o, "starts", starts, n);
            oneop_attr_ints(&o, "ends", ends, n);
            CHECK(oneop_run(&o, &x) == KILN_OK);
            y = oneop_out(&o, 0);
            for (int d = 0; d < r; d++) {
                int64_t s = starts[d], e = ends[d];
                od[d] = ref_slice_count(dims[d], &s, &e, 1);
                b[d] = s;
            }
            CHECK(mvt_same_shape(y, r, od));
            ok = 1;
            for (int64_t i = 0; ok && i < kiln_tensor_numel(y); i++) {
                mvt_unravel(i, r, od, idx);
                for (int d = 0; d < r; d++) idx[d] += b[d];
                ok = mvt_elem_eq(y, i, &x, mvt_ravel(r, dims, idx));
            }
            CHECK(ok);
            oneop_end(&o);
        }
        for (int i = 0; i < 5; i++) kiln_tensor_release(&in[i]);
    }
}

static void test_tile(void) {
    for (int iter = 0; iter < 40; iter++) {
        int r = (int)mvt_int(0, 4);
        int64_t dims[KILN_MAX_DIMS], reps[KILN_MAX_DIMS], od[KILN_MAX_DIMS], idx[KILN_MAX_DIMS];
        random_dims(r, dims, 4);
        for (int d = 0; d < r; d++) reps[d] = mvt_int(0, 3);
        kiln_dtype dt = dtypes[iter % N_DTYPES];
        kiln_tensor in[2] = {mvt_random(dt, r, dims), mvt_vec(r, reps)};
        oneop o;
        oneop_begin(&o, "Tile", "", 13, 2, 1);
        CHECK(oneop_run(&o, in) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        for (int d = 0; d < r; d++) od[d] = dims[d] * reps[d];
        CHECK(mvt_same_shape(y, r, od));
        int ok = 1;
        for (int64_t i = 0; ok && i < kiln_tensor_numel(y); i++) {
            mvt_unravel(i, r, od, idx);
            for (int d = 0; d < r; d++) idx[d] %= dims[d];
            ok = mvt_elem_eq(y, i, &in[0], mvt_ravel(r, dims, idx));
        }
        CHECK(ok);
        oneop_end(&o);
        kiln_tensor_release(&in[0]);
        kiln_tensor_release(&in[1]);
    }
}

static void test_overflow(void) {
    /* output dims or element counts that overflow int64 are refused before any allocation */
    int64_t reps[2][2] = {{INT64_MAX, 1}, {(int64_t)1 << 61, (int64_t)1 << 61}};
    kiln_tensor in[2] = {mvt_alloc(KILN_UINT8, 2, (int64_t[]){2, 2}), mvt_absent()};
    for (int c = 0; c < 2; c++) {
        in[1] = mvt_vec(2, reps[c]);
        oneop o;
        oneop_begin(&o, "Tile", "", 13, 2, 1);
        CHECK(oneop_run(&o, in) == KILN_ERR_SHAPE);
        oneop_end(&o);
        kiln_tensor_release(&in[1]);
    }
    in[1] = mvt_vec(4, (int64_t[]){INT64_MAX, 0, INT64_MAX, 0});
    oneop o;
    oneop_begin(&o, "Pad", "", 13, 2, 1);
    CHECK(oneop_run(&o, in) == KILN_ERR_SHAPE);
    oneop_end(&o);
    kiln_tensor_release(&in[0]);
    kiln_tensor_release(&in[1]);
}

static void test_depth_space(void) {
    for (int iter = 0; iter < 24; iter++) {
        int64_t b = mvt_int(1, 3), N = mvt_int(1, 2), c = mvt_int(1, 3), H = mvt_int(1, 4), W = mvt_int(1, 4);
        int crd = iter % 2;
        kiln_dtype dt = dtypes[iter % N_DTYPES];
        int64_t xd[4] = {N, c * b * b, H, W}, yd[4] = {N, c, H * b, W * b}, idx[4];
        kiln_tensor x = mvt_random(dt, 4, xd);
        oneop o;
        oneop_begin(&o, "DepthToSpace", "", 13, 1, 1);
        oneop_attr_int(&o, "blocksize", b);
        oneop_attr_string(&o, "mode", crd ? "CRD" : "DCR");
        CHECK(oneop_run(&o, &x) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        CHECK(mvt_same_shape(y, 4, yd));
        int ok = 1;
        for (int64_t i = 0; ok && i < kiln_tensor_numel(y); i++) {
            mvt_unravel(i, 4, yd, idx);
            int64_t h = idx[2] / b, bh = idx[2] % b, w = idx[3] / b, bw = idx[3] % b;
            int64_t ch = crd ? idx[1] * b * b + bh * b + bw : (bh * b + bw) * c + idx[1];
            int64_t src[4] = {idx[0], ch, h, w};
            ok = mvt_elem_eq(y, i, &x, mvt_ravel(4, xd, src));
        }
        CHECK(ok);
        /* SpaceToDepth with the same mode inverts it */
        kiln_tensor y2 = mvt_alloc(dt, 4, yd);
        kiln_tensor_copy(&y2, y);
        oneop_end(&o);
        oneop_begin(&o, "SpaceToDepth", "", 13, 1, 1);
        oneop_attr_int(&o, "blocksize", b);
        if (crd) oneop_attr_string(&o, "mode", "CRD");
        CHECK(oneop_run(&o, &y2) == KILN_OK);
        CHECK(mvt_equal(oneop_out(&o, 0), &x));
        oneop_end(&o);
        kiln_tensor_release(&y2);
        kiln_tensor_release(&x);
    }
}

static void test_trilu_revseq(void) {
    for (int iter = 0; iter < 40; iter++) {
        int r = (int)mvt_int(2, 4);
        int64_t dims[KILN_MAX_DIMS], idx[KILN_MAX_DIMS];
        random_dims(r, dims, 6);
        int64_t k = mvt_int(-7, 7);
        int upper = iter % 2;
        kiln_dtype dt = dtypes[iter % N_DTYPES];
        kiln_tensor in[2] = {mvt_random(dt, r, dims), mvt_scalar_i64(k)};
        if (iter % 5 == 0) {
            kiln_tensor_release(&in[1]);
            in[1] = mvt_absent();
            k = 0;
        }
        oneop o;
        oneop_begin(&o, "Trilu", "", 14, 2, 1);
        oneop_attr_int(&o, "upper", upper);
        CHECK(oneop_run(&o, in) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        CHECK(mvt_same_shape(y, r, dims));
        int ok = 1;
        for (int64_t i = 0; ok && i < kiln_tensor_numel(y); i++) {
            mvt_unravel(i, r, dims, idx);
            int64_t rel = idx[r - 1] - idx[r - 2];
            int keep = upper ? rel >= k : rel <= k;
            if (keep)
                ok = mvt_elem_eq(y, i, &in[0], i);
            else if (dt == KILN_STRING)
                ok = ((char **)y->data)[i][0] == 0;
            else
                ok = !kiln_load_f64(dt, y->data, i);
        }
        CHECK(ok);
        oneop_end(&o);
        kiln_tensor_release(&in[0]);
        kiln_tensor_release(&in[1]);
    }
    for (int iter = 0; iter < 20; iter++) {
        int64_t T = mvt_int(1, 5), B = mvt_int(1, 4), E = mvt_int(1, 3);
        int time_axis = iter % 2;
        int64_t dims[3] = {time_axis ? B : T, time_axis ? T : B, E}, idx[3], lens[8];
        for (int b = 0; b < B; b++) lens[b] = mvt_int(0, T);
        kiln_dtype dt = dtypes[iter % N_DTYPES];
        kiln_tensor in[2] = {mvt_random(dt, 3, dims), mvt_vec(B, lens)};
        oneop o;
        oneop_begin(&o, "ReverseSequence", "", 10, 2, 1);
        oneop_attr_int(&o, "time_axis", time_axis);
        oneop_attr_int(&o, "batch_axis", 1 - time_axis);
        CHECK(oneop_run(&o, in) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        int ok = mvt_same_shape(y, 3, dims);
        for (int64_t i = 0; ok && i < kiln_tensor_numel(y); i++) {
            mvt_unravel(i, 3, dims, idx);
            int64_t t = idx[time_axis], b = idx[1 - time_axis];
            if (t < lens[b]) idx[time_axis] = lens[b] - 1 - t;
            ok = mvt_elem_eq(y, i, &in[0], mvt_ravel(3, dims, idx));
        }
        CHECK(ok);
        oneop_end(&o);
        kiln_tensor_release(&in[0]);
        kiln_tensor_release(&in[1]);
    }
}

int main(void) {
    test_transpose();
    test_concat_split();
    test_slice();
    test_tile();
    test_overflow();
    test_depth_space();
    test_trilu_revseq();
    return CHECK_DONE();
}
