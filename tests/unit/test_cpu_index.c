/* Index-family CPU kernels against references written here: Gather, GatherElements, GatherND, Scatter,
 * ScatterElements, ScatterND (all reductions), OneHot, NonZero, Compress, Unique; out-of-range indices. */
#include <math.h>

#include "test_cpu_movement_util.h"

static const kiln_dtype dtypes[] = {KILN_FLOAT, KILN_INT64, KILN_UINT8, KILN_STRING, KILN_BOOL, KILN_INT32};
#define N_DTYPES (int)(sizeof dtypes / sizeof dtypes[0])

static kiln_tensor random_indices(kiln_dtype dt, int rank, const int64_t *dims, int64_t dim) {
    kiln_tensor t = mvt_alloc(dt, rank, dims);
    for (int64_t i = 0; i < kiln_tensor_numel(&t); i++) kiln_store_i64(dt, t.data, i, mvt_int(-dim, dim - 1));
    return t;
}

static int64_t wrap(int64_t v, int64_t d) { return v < 0 ? v + d : v; }

static void test_gather(void) {
    for (int iter = 0; iter < 80; iter++) {
        int r = (int)mvt_int(1, 3), q = (int)mvt_int(0, 2);
        int64_t dims[KILN_MAX_DIMS], idims[KILN_MAX_DIMS], od[KILN_MAX_DIMS], oi[KILN_MAX_DIMS], xi[KILN_MAX_DIMS];
        for (int d = 0; d < r; d++) dims[d] = mvt_int(1, 5);
        for (int d = 0; d < q; d++) idims[d] = mvt_int(0, 3);
        int64_t axis = mvt_int(-r, r - 1);
        int a = (int)(axis < 0 ? axis + r : axis);
        kiln_dtype dt = dtypes[iter % N_DTYPES];
        kiln_tensor in[2] = {mvt_random(dt, r, dims),
                             random_indices(iter % 2 ? KILN_INT32 : KILN_INT64, q, idims, dims[a])};
        oneop o;
        oneop_begin(&o, "Gather", "", 13, 2, 1);
        oneop_attr_int(&o, "axis", axis);
        CHECK(oneop_run(&o, in) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        int orank = r - 1 + q, k = 0;
        for (int d = 0; d < a; d++) od[k++] = dims[d];
        for (int d = 0; d < q; d++) od[k++] = idims[d];
        for (int d = a + 1; d < r; d++) od[k++] = dims[d];
        CHECK(mvt_same_shape(y, orank, od));
        int ok = 1;
        for (int64_t i = 0; ok && i < kiln_tensor_numel(y); i++) {
            mvt_unravel(i, orank, od, oi);
            for (int d = 0; d < a; d++) xi[d] = oi[d];
            int64_t ii = mvt_ravel(q, idims, oi + a);
            xi[a] = wrap(kiln_load_i64(in[1].dtype, in[1].data, ii), dims[a]);
            for (int d = a + 1; d < r; d++) xi[d] = oi[d - 1 + q];
            ok = mvt_elem_eq(y, i, &in[0], mvt_ravel(r, dims, xi));
        }
        CHECK(ok);
        oneop_end(&o);
        /* GatherElements on the same data: indices with the data's rank, smaller on other axes */
        int64_t ed[KILN_MAX_DIMS];
        for (int d = 0; d < r; d++) ed[d] = d == a ? mvt_int(0, 4) : mvt_int(1, dims[d]);
        kiln_tensor ein[2] = {in[0], random_indices(KILN_INT64, r, ed, dims[a])};
        oneop_begin(&o, "GatherElements", "", 13, 2, 1);
        oneop_attr_int(&o, "axis", axis);
        CHECK(oneop_run(&o, ein) == KILN_OK);
        y = oneop_out(&o, 0);
        CHECK(mvt_same_shape(y, r, ed));
        ok = 1;
        for (int64_t i = 0; ok && i < kiln_tensor_numel(y); i++) {
            mvt_unravel(i, r, ed, xi);
            xi[a] = wrap(((int64_t *)ein[1].data)[i], dims[a]);
            ok = mvt_elem_eq(y, i, &in[0], mvt_ravel(r, dims, xi));
        }
        CHECK(ok);
        oneop_end(&o);
        kiln_tensor_release(&ein[1]);
        kiln_tensor_release(&in[0]);
        kiln_tensor_release(&in[1]);
    }
    /* out of range: an error naming the index, the axis and the range, and no output written */
    int64_t d[] = {3, 4}, bad[] = {1, -5, 2};
    kiln_tensor in[2] = {mvt_random(KILN_FLOAT, 2, d), mvt_vec(3, bad)};
    oneop o;
    oneop_begin(&o, "Gather", "", 13, 2, 1);
    CHECK(oneop_run(&o, in) == KILN_ERR_RUNTIME);
    CHECK(strstr(kiln_error_text(), "-5") && strstr(kiln_error_text(), "axis 0") &&
          strstr(kiln_error_text(), "[-3, 2]"));
    oneop_end(&o);
    int64_t big[] = {4};
    kiln_tensor gi = mvt_ints(2, (int64_t[]){1, 1}, big);
    kiln_tensor ein[2] = {in[0], gi};
    oneop_begin(&o, "GatherElements", "", 13, 2, 1);
    CHECK(oneop_run(&o, ein) == KILN_ERR_RUNTIME);
    oneop_end(&o);
    kiln_tensor_release(&gi);
    kiln_tensor_release(&in[0]);
    kiln_tensor_release(&in[1]);
}

static void test_gather_nd(void) {
    for (int iter = 0; iter < 60; iter++) {
        int r = (int)mvt_int(1, 4), b = (int)mvt_int(0, r - 1), q = (int)mvt_int(b + 1, b + 2);
        int64_t dims[KILN_MAX_DIMS], idims[KILN_MAX_DIMS], xi[KILN_MAX_DIMS], oi[KILN_MAX_DIMS], od[KILN_MAX_DIMS];
        for (int d = 0; d < r; d++) dims[d] = mvt_int(1, 4);
        int64_t k = mvt_int(1, r - b);
        for (int d = 0; d < q - 1; d++) idims[d] = d < b ? dims[d] : mvt_int(0, 3);
        idims[q - 1] = k;
        kiln_dtype dt = dtypes[iter % N_DTYPES];
        kiln_tensor in[2] = {mvt_random(dt, r, dims), mvt_alloc(KILN_INT64, q, idims)};
        int64_t tuples = kiln_numel(q - 1, idims);
        for (int64_t t = 0; t < tuples; t++)
            for (int j = 0; j < k; j++) ((int64_t *)in[1].data)[t * k + j] = mvt_int(-dims[b + j], dims[b + j] - 1);
        oneop o;
        oneop_begin(&o, "GatherND", "", 13, 2, 1);
        oneop_attr_int(&o, "batch_dims", b);
        CHECK(oneop_run(&o, in) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        int orank = 0;
        for (int d = 0; d < q - 1; d++) od[orank++] = idims[d];
        for (int d = b + (int)k; d < r; d++) od[orank++] = dims[d];
        CHECK(mvt_same_shape(y, orank, od));
        int ok = 1;
        for (int64_t i = 0; ok && i < kiln_tensor_numel(y); i++) {
            mvt_unravel(i, orank, od, oi);
            int64_t t = mvt_ravel(q - 1, idims, oi);
            for (int d = 0; d < b; d++) xi[d] = oi[d];
            for (int j = 0; j < k; j++) xi[b + j] = wrap(((int64_t *)in[1].data)[t * k + j], dims[b + j]);
            for (int d = b + (int)k; d < r; d++) xi[d] = oi[q - 1 + d - b - k];
            ok = mvt_elem_eq(y, i, &in[0], mvt_ravel(r, dims, xi));
        }
        CHECK(ok);
        oneop_end(&o);
        kiln_tensor_release(&in[0]);
        kiln_tensor_release(&in[1]);
    }
}

/* Float results: equal (infinities from float16 overflow included) or within 1e-3. */
static int close(kiln_dtype dt, const kiln_tensor *a, const kiln_tensor *b, int64_t i) {
    double x = kiln_load_f64(dt, a->data, i), y = kiln_load_f64(dt, b->data, i);
    return x == y || fabs(x - y) <= 1e-3 * (1 + fabs(y));
}

static double reduce(int red, double a, double b) {
    switch (red) {
    case 1: return a + b;
    case 2: return a * b;
    case 3: return a > b ? a : b;
    case 4: return a < b ? a : b;
    default: return b;
    }
}

static void test_scatter(void) {
    static const char *const reds[] = {"none", "add", "mul", "max", "min"};
    static const kiln_dtype sdt[] = {KILN_FLOAT, KILN_INT32, KILN_INT64, KILN_DOUBLE, KILN_FLOAT16};
    for (int iter = 0; iter < 100; iter++) {
        int red = iter % 5, r = (int)mvt_int(1, 3);
        kiln_dtype dt = red == 0 && iter % 3 == 0 ? KILN_STRING : sdt[(iter / 5) % 5];
        int64_t dims[KILN_MAX_DIMS], idims[KILN_MAX_DIMS], xi[KILN_MAX_DIMS];
        for (int d = 0; d < r; d++) dims[d] = mvt_int(1, 5);
        int64_t axis = mvt_int(-r, r - 1);
        int a = (int)(axis < 0 ? axis + r : axis);
        for (int d = 0; d < r; d++) idims[d] = d == a ? mvt_int(0, 6) : mvt_int(1, dims[d]);
        kiln_tensor in[3] = {mvt_random(dt, r, dims), random_indices(KILN_INT64, r, idims, dims[a]),
                             mvt_random(dt, r, idims)};
        if (red == 0) { /* no duplicate targets: the result does not depend on the update order */
            if (idims[a] > dims[a]) idims[a] = dims[a];
            kiln_tensor_release(&in[1]);
            kiln_tensor_release(&in[2]);
            in[1] = mvt_alloc(KILN_INT64, r, idims);
            for (int64_t i = 0; i < kiln_tensor_numel(&in[1]); i++) {
                mvt_unravel(i, r, idims, xi);
                ((int64_t *)in[1].data)[i] = xi[a] - (i % 2 ? dims[a] : 0);
            }
            in[2] = mvt_random(dt, r, idims);
        }
        oneop o;
        oneop_begin(&o, iter % 10 == 0 ? "Scatter" : "ScatterElements", "", iter % 10 == 0 ? 9 : 18, 3, 1);
        oneop_attr_int(&o, "axis", axis);
        if (iter % 10) oneop_attr_string(&o, "reduction", reds[red]);
        CHECK(oneop_run(&o, in) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        CHECK(mvt_same_shape(y, r, dims) && y->dtype == dt);
        kiln_tensor want = mvt_alloc(dt, r, dims);
        kiln_tensor_copy(&want, &in[0]);
        for (int64_t i = 0; i < kiln_tensor_numel(&in[1]); i++) {
            mvt_unravel(i, r, idims, xi);
            xi[a] = wrap(((int64_t *)in[1].data)[i], dims[a]);
            int64_t t = mvt_ravel(r, dims, xi);
            if (red == 0) {
                mvt_set(&want, t, &in[2], i);
            } else {
                double v = reduce(red, kiln_load_f64(dt, want.data, t), kiln_load_f64(dt, in[2].data, i));
                if (dt == KILN_INT32) v = (double)(int32_t)(int64_t)v;
                kiln_store_f64(dt, want.data, t, v);
            }
        }
        int ok = 1;
        for (int64_t i = 0; ok && i < kiln_tensor_numel(&want); i++)
            ok = dt == KILN_STRING || dt == KILN_INT64 || dt == KILN_INT32 ? mvt_elem_eq(y, i, &want, i)
                                                                          : close(dt, y, &want, i);
        CHECK(ok);
        oneop_end(&o);
        kiln_tensor_release(&want);
        /* ScatterND: index tuples of length k select slices */
        int64_t k = mvt_int(1, r), nt = mvt_int(0, 4), ud[KILN_MAX_DIMS];
        if (red == 0) nt = nt < dims[0] ? nt : dims[0];
        int64_t nid[2] = {nt, k};
        kiln_tensor nin[3] = {in[0], mvt_alloc(KILN_INT64, 2, nid), mvt_absent()};
        for (int64_t t = 0; t < nt; t++)
            for (int j = 0; j < k; j++)
                ((int64_t *)nin[1].data)[t * k + j] = red == 0 && j == 0 ? t : mvt_int(-dims[j], dims[j] - 1);
        ud[0] = nt;
        for (int d = (int)k; d < r; d++) ud[1 + d - k] = dims[d];
        nin[2] = mvt_random(dt, 1 + r - (int)k, ud);
        oneop_begin(&o, "ScatterND", "", 18, 3, 1);
        oneop_attr_string(&o, "reduction", reds[red]);
        CHECK(oneop_run(&o, nin) == KILN_OK);
        y = oneop_out(&o, 0);
        want = mvt_alloc(dt, r, dims);
        kiln_tensor_copy(&want, &in[0]);
        int64_t inner = kiln_numel(r - (int)k, dims + k);
        for (int64_t t = 0; t < nt; t++) {
            for (int d = 0; d < r; d++) xi[d] = 0;
            for (int j = 0; j < k; j++) xi[j] = wrap(((int64_t *)nin[1].data)[t * k + j], dims[j]);
            int64_t base = mvt_ravel(r, dims, xi);
            for (int64_t e = 0; e < inner; e++) {
                if (red == 0) {
                    mvt_set(&want, base + e, &nin[2], t * inner + e);
                } else {
                    double v = reduce(red, kiln_load_f64(dt, want.data, base + e),
                                      kiln_load_f64(dt, nin[2].data, t * inner + e));
                    if (dt == KILN_INT32) v = (double)(int32_t)(int64_t)v;
                    kiln_store_f64(dt, want.data, base + e, v);
                }
            }
        }
        ok = 1;
        for (int64_t i = 0; ok && i < kiln_tensor_numel(&want); i++)
            ok = dt == KILN_STRING || dt == KILN_INT64 || dt == KILN_INT32 ? mvt_elem_eq(y, i, &want, i)
                                                                          : close(dt, y, &want, i);
        CHECK(ok);
        oneop_end(&o);
        kiln_tensor_release(&want);
        kiln_tensor_release(&nin[1]);
        kiln_tensor_release(&nin[2]);
        for (int i = 0; i < 3; i++) kiln_tensor_release(&in[i]);
    }
    /* an out-of-range index fails before anything is written */
    int64_t d[] = {4}, bad[] = {4};
    kiln_tensor in[3] = {mvt_random(KILN_FLOAT, 1, d), mvt_vec(1, bad), mvt_random(KILN_FLOAT, 1, (int64_t[]){1})};
    oneop o;
    oneop_begin(&o, "ScatterElements", "", 18, 3, 1);
    CHECK(oneop_run(&o, in) == KILN_ERR_RUNTIME);
    CHECK(strstr(kiln_error_text(), "index 4") != NULL);
    oneop_end(&o);
    kiln_tensor_release(&in[1]);
    in[1] = mvt_ints(2, (int64_t[]){1, 1}, bad);
    oneop_begin(&o, "ScatterND", "", 18, 3, 1);
    CHECK(oneop_run(&o, in) == KILN_ERR_RUNTIME);
    oneop_end(&o);
    for (int i = 0; i < 3; i++) kiln_tensor_release(&in[i]);
}

static void test_onehot_nonzero_compress(void) {
    for (int iter = 0; iter < 30; iter++) {
        int q = (int)mvt_int(0, 3);
        int64_t idims[KILN_MAX_DIMS], od[KILN_MAX_DIMS], oi[KILN_MAX_DIMS];
        for (int d = 0; d < q; d++) idims[d] = mvt_int(1, 4);
        int64_t depth = mvt_int(1, 5), axis = mvt_int(-(q + 1), q);
        int a = (int)(axis < 0 ? axis + q + 1 : axis);
        kiln_tensor idx = mvt_alloc(iter % 2 ? KILN_FLOAT : KILN_INT64, q, idims);
        for (int64_t i = 0; i < kiln_tensor_numel(&idx); i++)
            kiln_store_f64(idx.dtype, idx.data, i, (double)mvt_int(-depth - 2, depth + 2));
        kiln_tensor dep = mvt_scalar_i64(depth), vals = mvt_alloc(KILN_INT32, 1, (int64_t[]){2});
        ((int32_t *)vals.data)[0] = -1;
        ((int32_t *)vals.data)[1] = 9;
        kiln_tensor in[3] = {idx, dep, vals};
        oneop o;
        oneop_begin(&o, "OneHot", "", 11, 3, 1);
        oneop_attr_int(&o, "axis", axis);
        CHECK(oneop_run(&o, in) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        for (int d = 0, j = 0; d <= q; d++) od[d] = d == a ? depth : idims[j++];
        CHECK(mvt_same_shape(y, q + 1, od) && y->dtype == KILN_INT32);
        int ok = 1;
        for (int64_t i = 0; ok && i < kiln_tensor_numel(y); i++) {
            mvt_unravel(i, q + 1, od, oi);
            int64_t pos = oi[a], v;
            for (int d = a; d < q; d++) oi[d] = oi[d + 1];
            v = (int64_t)kiln_load_f64(idx.dtype, idx.data, mvt_ravel(q, idims, oi));
            if (v < 0) v += depth;
            ok = ((int32_t *)y->data)[i] == (v == pos ? 9 : -1);
        }
        CHECK(ok);
        oneop_end(&o);
        for (int i = 0; i < 3; i++) kiln_tensor_release(&in[i]);
    }
    for (int iter = 0; iter < 30; iter++) {
        int r = (int)mvt_int(0, 3);
        int64_t dims[KILN_MAX_DIMS], xi[KILN_MAX_DIMS];
        for (int d = 0; d < r; d++) dims[d] = mvt_int(0, 4);
        kiln_dtype dt = dtypes[iter % N_DTYPES];
        kiln_tensor x = mvt_random(dt, r, dims);
        for (int64_t i = 0; dt != KILN_STRING && i < kiln_tensor_numel(&x); i++)
            if (mvt_int(0, 1)) kiln_store_i64(dt, x.data, i, 0);
        oneop o;
        oneop_begin(&o, "NonZero", "", 13, 1, 1);
        CHECK(oneop_run(&o, &x) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        int rr = r ? r : 1;
        int64_t nnz = 0;
        int ok = y->rank == 2 && y->dims[0] == rr;
        for (int64_t i = 0; ok && i < kiln_tensor_numel(&x); i++) {
            int nz = dt == KILN_STRING ? ((char **)x.data)[i][0] != 0 : kiln_load_f64(dt, x.data, i) != 0;
            if (!nz) continue;
            mvt_unravel(i, r, dims, xi);
            if (!r) xi[0] = 0;
            for (int d = 0; ok && d < rr; d++) ok = ((int64_t *)y->data)[d * y->dims[1] + nnz] == xi[d];
            nnz++;
        }
        CHECK(ok && y->dims[1] == nnz);
        oneop_end(&o);
        /* Compress along an axis / flattened, condition possibly shorter than the axis */
        if (r > 0) {
            int has_axis = iter % 2;
            int64_t axis = mvt_int(-r, r - 1);
            int a = (int)(axis < 0 ? axis + r : axis);
            int64_t len = has_axis ? dims[a] : kiln_tensor_numel(&x);
            int64_t clen = len ? mvt_int(0, len) : 0;
            kiln_tensor cond = mvt_random(KILN_BOOL, 1, &clen), cin[2] = {x, cond};
            oneop_begin(&o, "Compress", "", 11, 2, 1);
            if (has_axis) oneop_attr_int(&o, "axis", axis);
            CHECK(oneop_run(&o, cin) == KILN_OK);
            y = oneop_out(&o, 0);
            int64_t sel[64], ns = 0;
            for (int64_t i = 0; i < clen; i++)
                if (((uint8_t *)cond.data)[i]) sel[ns++] = i;
            ok = 1;
            if (!has_axis) {
                ok = y->rank == 1 && y->dims[0] == ns;
                for (int64_t i = 0; ok && i < ns; i++) ok = mvt_elem_eq(y, i, &x, sel[i]);
            } else {
                int64_t od[KILN_MAX_DIMS];
                memcpy(od, dims, sizeof od);
                od[a] = ns;
                ok = mvt_same_shape(y, r, od);
                for (int64_t i = 0; ok && i < kiln_tensor_numel(y); i++) {
                    mvt_unravel(i, r, od, xi);
                    xi[a] = sel[xi[a]];
                    ok = mvt_elem_eq(y, i, &x, mvt_ravel(r, dims, xi));
                }
            }
            CHECK(ok);
            oneop_end(&o);
            kiln_tensor_release(&cond);
        }
        kiln_tensor_release(&x);
    }
}

static int cmp_slices(const kiln_tensor *x, int64_t outer, int64_t n, int64_t inner, int64_t a, int64_t b) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            int64_t i1 = (o * n + a) * inner + j, i2 = (o * n + b) * inner + j;
            int c;
            if (x->dtype == KILN_STRING)
                c = strcmp(((char **)x->data)[i1], ((char **)x->data)[i2]);
            else {
                double p = kiln_load_f64(x->dtype, x->data, i1), q = kiln_load_f64(x->dtype, x->data, i2);
                c = p < q ? -1 : p > q;
            }
            if (c) return c;
        }
    return 0;
}

static void test_unique(void) {
    for (int iter = 0; iter < 40; iter++) {
        int r = (int)mvt_int(1, 3), has_axis = iter % 3 != 0, sorted = iter % 2;
        int64_t dims[KILN_MAX_DIMS];
        for (int d = 0; d < r; d++) dims[d] = mvt_int(0, 5);
        int64_t axis = mvt_int(-r, r - 1);
        int a = (int)(axis < 0 ? axis + r : axis);
        kiln_dtype dt = dtypes[iter % N_DTYPES];
        kiln_tensor x = mvt_random(dt, r, dims);
        for (int64_t i = 0; dt != KILN_STRING && i < kiln_tensor_numel(&x); i++)
            kiln_store_i64(dt, x.data, i, mvt_int(0, 2)); /* many repeats */
        int64_t outer = has_axis ? kiln_numel(a, dims) : 1, n = has_axis ? dims[a] : kiln_tensor_numel(&x),
                inner = has_axis ? kiln_numel(r - a - 1, dims + a + 1) : 1;
        /* reference: O(n^2) grouping by first occurrence, then sorted if asked */
        int64_t firsts[512], counts[512], inv[512], u = 0, order[512];
        for (int64_t i = 0; i < n; i++) {
            int64_t g = -1;
            for (int64_t j = 0; j < u && g < 0; j++)
                if (!cmp_slices(&x, outer, n, inner, firsts[j], i)) g = j;
            if (g < 0) {
                g = u++;
                firsts[g] = i;
                counts[g] = 0;
            }
            counts[g]++;
            inv[i] = g;
        }
        for (int64_t g = 0; g < u; g++) order[g] = g;
        if (sorted) /* insertion sort of groups by slice value */
            for (int64_t g = 1; g < u; g++)
                for (int64_t j = g; j > 0 && cmp_slices(&x, outer, n, inner, firsts[order[j - 1]], firsts[order[j]]) > 0;
                     j--) {
                    int64_t t = order[j];
                    order[j] = order[j - 1];
                    order[j - 1] = t;
                }
        int64_t slot[512];
        for (int64_t s = 0; s < u; s++) slot[order[s]] = s;
        oneop o;
        oneop_begin(&o, "Unique", "", 11, 1, 4);
        oneop_attr_int(&o, "sorted", sorted);
        if (has_axis) oneop_attr_int(&o, "axis", axis);
        CHECK(oneop_run(&o, &x) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0), *ti = oneop_out(&o, 1), *tv = oneop_out(&o, 2), *tc = oneop_out(&o, 3);
        int64_t od[KILN_MAX_DIMS];
        memcpy(od, dims, sizeof od);
        od[has_axis ? a : 0] = u;
        int ok = mvt_same_shape(y, has_axis ? r : 1, od) && ti->dims[0] == u && tc->dims[0] == u && tv->dims[0] == n;
        for (int64_t s = 0; ok && s < u; s++) {
            ok = ((int64_t *)ti->data)[s] == firsts[order[s]] && ((int64_t *)tc->data)[s] == counts[order[s]];
            for (int64_t oo = 0; ok && oo < outer; oo++)
                for (int64_t j = 0; ok && j < inner; j++)
                    ok = mvt_elem_eq(y, (oo * u + s) * inner + j, &x, (oo * n + firsts[order[s]]) * inner + j);
        }
        for (int64_t i = 0; ok && i < n; i++) ok = ((int64_t *)tv->data)[i] == slot[inv[i]];
        CHECK(ok);
        oneop_end(&o);
        kiln_tensor_release(&x);
    }
}

int main(void) {
    test_gather();
    test_gather_nd();
    test_scatter();
    test_onehot_nonzero_compress();
    test_unique();
    return CHECK_DONE();
}
