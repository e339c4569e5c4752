/* Shape-family CPU kernels against references written here: Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze,
 * Identity, Constant, ConstantOfShape, Range, EyeLike, Expand, Dropout. */
#include <math.h>

#include "test_cpu_movement_util.h"

static const kiln_dtype dtypes[] = {KILN_FLOAT, KILN_INT64, KILN_UINT8, KILN_BOOL, KILN_STRING, KILN_INT16};
#define N_DTYPES (int)(sizeof dtypes / sizeof dtypes[0])

static void test_shape_size(void) {
    int64_t dims[] = {2, 3, 4, 5};
    kiln_tensor x = mvt_random(KILN_FLOAT, 4, dims);
    for (int64_t s = -6; s <= 6; s++) {
        for (int64_t e = -6; e <= 7; e++) {
            oneop o;
            oneop_begin(&o, "Shape", "", 15, 1, 1);
            oneop_attr_int(&o, "start", s);
            if (e != 7) oneop_attr_int(&o, "end", e);
            CHECK(oneop_run(&o, &x) == KILN_OK);
            const kiln_tensor *y = oneop_out(&o, 0);
            int64_t rs = s < 0 ? s + 4 : s, re = e == 7 ? 4 : e < 0 ? e + 4 : e;
            rs = rs < 0 ? 0 : rs > 4 ? 4 : rs;
            re = re < 0 ? 0 : re > 4 ? 4 : re;
            int64_t n = re > rs ? re - rs : 0;
            CHECK(y->dtype == KILN_INT64 && y->rank == 1 && y->dims[0] == n);
            for (int64_t i = 0; i < n && y->dims[0] == n; i++) CHECK(((int64_t *)y->data)[i] == dims[rs + i]);
            oneop_end(&o);
        }
    }
    kiln_tensor_release(&x);
    /* rank 0 and empty tensors */
    int64_t ed[] = {3, 0};
    kiln_tensor sc = mvt_random(KILN_STRING, 0, NULL), em = mvt_random(KILN_FLOAT, 2, ed);
    oneop o;
    oneop_begin(&o, "Shape", "", 13, 1, 1);
    CHECK(oneop_run(&o, &sc) == KILN_OK);
    CHECK(oneop_out(&o, 0)->rank == 1 && oneop_out(&o, 0)->dims[0] == 0);
    oneop_end(&o);
    oneop_begin(&o, "Size", "", 13, 1, 1);
    CHECK(oneop_run(&o, &sc) == KILN_OK);
    CHECK(oneop_out(&o, 0)->rank == 0 && *(int64_t *)oneop_out(&o, 0)->data == 1);
    CHECK(oneop_run(&o, &em) == KILN_OK);
    CHECK(*(int64_t *)oneop_out(&o, 0)->data == 0);
    oneop_end(&o);
    kiln_tensor_release(&sc);
    kiln_tensor_release(&em);
}

/* Reshape/Flatten/Squeeze/Unsqueeze keep the elements in order; only the shape changes. */
static void check_view(const kiln_tensor *x, const kiln_tensor *y, int rank, const int64_t *dims) {
    CHECK(mvt_same_shape(y, rank, dims));
    CHECK(y->dtype == x->dtype);
    if (x->dtype != KILN_STRING) CHECK(y->data == x->data); /* an alias, not a copy */
    int64_t n = kiln_tensor_numel(x);
    int ok = kiln_tensor_numel(y) == n;
    for (int64_t i = 0; ok && i < n; i++) ok = mvt_elem_eq(x, i, y, i);
    CHECK(ok);
}

static void test_reshape(void) {
    struct {
        int rin;
        int64_t in[4];
        int n;
        int64_t shape[4];
        int allowzero;
        int rout;
        int64_t out[4];
    } cases[] = {
        {3, {2, 3, 4}, 2, {6, -1}, 0, 2, {6, 4}},
        {3, {2, 3, 4}, 3, {0, -1, 2}, 0, 3, {2, 6, 2}},
        {3, {2, 3, 4}, 1, {-1}, 0, 1, {24}},
        {1, {1}, 0, {0}, 0, 0, {0}},
        {0, {0}, 3, {1, 1, 1}, 0, 3, {1, 1, 1}},
        {2, {0, 3}, 3, {3, 0, 5}, 1, 3, {3, 0, 5}},
        {2, {0, 3}, 2, {0, 3}, 0, 2, {0, 3}},
        {2, {4, 3}, 3, {2, -1, 3}, 1, 3, {2, 2, 3}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int t = 0; t < N_DTYPES; t++) {
            kiln_tensor in[2] = {mvt_random(dtypes[t], cases[c].rin, cases[c].in),
                                 mvt_vec(cases[c].n, cases[c].shape)};
            oneop o;
            oneop_begin(&o, "Reshape", "", 14, 2, 1);
            if (cases[c].allowzero) oneop_attr_int(&o, "allowzero", 1);
            CHECK(oneop_run(&o, in) == KILN_OK);
            check_view(&in[0], oneop_out(&o, 0), cases[c].rout, cases[c].out);
            oneop_end(&o);
            kiln_tensor_release(&in[0]);
            kiln_tensor_release(&in[1]);
        }
    }
    /* opset 1: the shape is an attribute */
    int64_t d[] = {2, 6}, s[] = {3, 4};
    kiln_tensor x = mvt_random(KILN_FLOAT, 2, d);
    oneop o;
    oneop_begin(&o, "Reshape", "", 1, 1, 1);
    oneop_attr_ints(&o, "shape", s, 2);
    CHECK(oneop_run(&o, &x) == KILN_OK);
    check_view(&x, oneop_out(&o, 0), 2, s);
    oneop_end(&o);
    /* errors: element count, two -1, 0 past the input rank */
    int64_t bad[][3] = {{5, -1, 0}, {-1, -1, 1}, {0, 0, 0}};
    int nb[] = {2, 3, 3};
    for (int b = 0; b < 3; b++) {
        kiln_tensor in[2] = {x, mvt_vec(nb[b], bad[b])};
        oneop_begin(&o, "Reshape", "", 14, 2, 1);
        CHECK(oneop_run(&o, in) == KILN_ERR_SHAPE);
        oneop_end(&o);
        kiln_tensor_release(&in[1]);
    }
    kiln_tensor_release(&x);
}

static void test_flatten_squeeze(void) {
    int64_t dims[] = {2, 1, 3, 1};
    for (int t = 0; t < N_DTYPES; t++) {
        kiln_tensor x = mvt_random(dtypes[t], 4, dims);
        for (int64_t axis = -4; axis <= 4; axis++) {
            oneop o;
            oneop_begin(&o, "Flatten", "", 13, 1, 1);
            oneop_attr_int(&o, "axis", axis);
            CHECK(oneop_run(&o, &x) == KILN_OK);
            int a = (int)(axis < 0 ? axis + 4 : axis);
            int64_t out[2] = {kiln_numel(a, dims), kiln_numel(4 - a, dims + a)};
            check_view(&x, oneop_out(&o, 0), 2, out);
            oneop_end(&o);
        }
        /* squeeze all / given (negative) axes, attribute (opset 11) and input (opset 13) forms */
        int64_t all[] = {2, 3}, ax[] = {-1}, only_last[] = {2, 1, 3};
        for (int opset = 11; opset <= 13; opset += 2) {
            oneop o;
            oneop_begin(&o, "Squeeze", "", opset, 2, 1);
            kiln_tensor in[2] = {x, mvt_absent()};
            CHECK(oneop_run(&o, in) == KILN_OK);
            check_view(&x, oneop_out(&o, 0), 2, all);
            oneop_end(&o);
            oneop_begin(&o, "Squeeze", "", opset, 2, 1);
            if (opset < 13)
                oneop_attr_ints(&o, "axes", ax, 1);
            else
                in[1] = mvt_vec(1, ax);
            CHECK(oneop_run(&o, in) == KILN_OK);
            check_view(&x, oneop_out(&o, 0), 3, only_last);
            oneop_end(&o);
            kiln_tensor_release(&in[1]);
            /* unsqueeze at (unsorted, negative) axes of the output */
            int64_t uax[] = {-1, 0, 3}, uout[] = {1, 2, 1, 1, 3, 1, 1};
            oneop_begin(&o, "Unsqueeze", "", opset, 2, 1);
            in[1] = mvt_absent();
            if (opset < 13)
                oneop_attr_ints(&o, "axes", uax, 3);
            else
                in[1] = mvt_vec(3, uax);
            CHECK(oneop_run(&o, in) == KILN_OK);
            check_view(&x, oneop_out(&o, 0), 7, uout);
            oneop_end(&o);
            kiln_tensor_release(&in[1]);
        }
        /* squeezing a dim that is not 1 fails */
        int64_t bad[] = {0};
        kiln_tensor in[2] = {x, mvt_vec(1, bad)};
        oneop o;
        oneop_begin(&o, "Squeeze", "", 13, 2, 1);
        CHECK(oneop_run(&o, in) == KILN_ERR_SHAPE);
        oneop_end(&o);
        kiln_tensor_release(&in[1]);
        kiln_tensor_release(&x);
    }
    /* rank 0 -> rank 1 and back */
    kiln_tensor s = mvt_random(KILN_FLOAT, 0, NULL);
    int64_t z[] = {0}, one[] = {1};
    kiln_tensor in[2] = {s, mvt_vec(1, z)};
    oneop o;
    oneop_begin(&o, "Unsqueeze", "", 13, 2, 1);
    CHECK(oneop_run(&o, in) == KILN_OK);
    check_view(&s, oneop_out(&o, 0), 1, one);
    oneop_end(&o);
    kiln_tensor_release(&in[1]);
    kiln_tensor_release(&s);
}

static void test_identity_constant(void) {
    int64_t dims[] = {3, 2};
    for (int t = 0; t < N_DTYPES; t++) {
        kiln_tensor x = mvt_random(dtypes[t], 2, dims);
        oneop o;
        oneop_begin(&o, "Identity", "", 16, 1, 1);
        CHECK(oneop_run(&o, &x) == KILN_OK);
        check_view(&x, oneop_out(&o, 0), 2, dims);
        oneop_end(&o);
        /* Constant 'value' tensor */
        oneop_begin(&o, "Constant", "", 13, 0, 1);
        kiln_attr *a = oneop_new_attr(&o, "value", KILN_ATTR_TENSOR);
        a->t = calloc(1, sizeof(kiln_tensor));
        kiln_tensor_copy(a->t, &x);
        CHECK(oneop_run(&o, NULL) == KILN_OK);
        CHECK(mvt_equal(oneop_out(&o, 0), &x));
        CHECK(oneop_run(&o, NULL) == KILN_OK); /* runs again on reused buffers */
        CHECK(mvt_equal(oneop_out(&o, 0), &x));
        oneop_end(&o);
        kiln_tensor_release(&x);
    }
    oneop o;
    float fs[] = {1.5f, -2.0f, 3.25f};
    int64_t is[] = {7, -8};
    oneop_begin(&o, "Constant", "", 13, 0, 1);
    oneop_attr_floats(&o, "value_floats", fs, 3);
    CHECK(oneop_run(&o, NULL) == KILN_OK);
    const kiln_tensor *y = oneop_out(&o, 0);
    CHECK(y->dtype == KILN_FLOAT && y->rank == 1 && y->dims[0] == 3 && !memcmp(y->data, fs, sizeof fs));
    oneop_end(&o);
    oneop_begin(&o, "Constant", "", 13, 0, 1);
    oneop_attr_ints(&o, "value_ints", is, 2);
    CHECK(oneop_run(&o, NULL) == KILN_OK);
    y = oneop_out(&o, 0);
    CHECK(y->dtype == KILN_INT64 && y->rank == 1 && y->dims[0] == 2 && !memcmp(y->data, is, sizeof is));
    oneop_end(&o);
    oneop_begin(&o, "Constant", "", 13, 0, 1);
    oneop_attr_float(&o, "value_float", 0.5f);
    CHECK(oneop_run(&o, NULL) == KILN_OK);
    CHECK(oneop_out(&o, 0)->rank == 0 && *(float *)oneop_out(&o, 0)->data == 0.5f);
    oneop_end(&o);
    oneop_begin(&o, "Constant", "", 13, 0, 1);
    oneop_attr_int(&o, "value_int", -3);
    CHECK(oneop_run(&o, NULL) == KILN_OK);
    CHECK(oneop_out(&o, 0)->dtype == KILN_INT64 && *(int64_t *)oneop_out(&o, 0)->data == -3);
    oneop_end(&o);
    oneop_begin(&o, "Constant", "", 13, 0, 1);
    oneop_attr_string(&o, "value_string", "hello");
    CHECK(oneop_run(&o, NULL) == KILN_OK);
    CHECK(oneop_out(&o, 0)->dtype == KILN_STRING && !strcmp(*(char **)oneop_out(&o, 0)->data, "hello"));
    oneop_end(&o);
    oneop_begin(&o, "Constant", "", 13, 0, 1);
    kiln_attr *a = oneop_new_attr(&o, "value_strings", KILN_ATTR_STRINGS);
    const char *strs[] = {"a", "", "xyz"};
    a->n = 3;
    a->strings = strs;
    CHECK(oneop_run(&o, NULL) == KILN_OK);
    y = oneop_out(&o, 0);
    CHECK(y->dims[0] == 3 && !strcmp(((char **)y->data)[0], "a") && !strcmp(((char **)y->data)[1], "") &&
          !strcmp(((char **)y->data)[2], "xyz"));
    oneop_end(&o);
    oneop_begin(&o, "Constant", "", 13, 0, 1); /* no value at all */
    CHECK(oneop_run(&o, NULL) == KILN_ERR_INVALID_GRAPH);
    oneop_end(&o);
}

static void test_constant_of_shape_range_eyelike(void) {
    int64_t shp[] = {2, 0, 3};
    for (int n = 0; n <= 3; n++) {
        int64_t sh[3] = {2, 3, 4};
        if (n == 3) memcpy(sh, shp, sizeof sh);
        kiln_tensor s = mvt_vec(n, sh);
        oneop o;
        oneop_begin(&o, "ConstantOfShape", "", 20, 1, 1);
        kiln_attr *a = oneop_new_attr(&o, "value", KILN_ATTR_TENSOR);
        int64_t one = 1;
        a->t = calloc(1, sizeof(kiln_tensor));
        kiln_tensor_alloc(a->t, KILN_INT32, 1, &one);
        *(int32_t *)a->t->data = -7;
        CHECK(oneop_run(&o, &s) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        CHECK(y->dtype == KILN_INT32 && mvt_same_shape(y, n, sh));
        int ok = 1;
        for (int64_t i = 0; i < kiln_tensor_numel(y); i++) ok &= ((int32_t *)y->data)[i] == -7;
        CHECK(ok);
        oneop_end(&o);
        oneop_begin(&o, "ConstantOfShape", "", 9, 1, 1); /* default: float 0 */
        CHECK(oneop_run(&o, &s) == KILN_OK);
        CHECK(oneop_out(&o, 0)->dtype == KILN_FLOAT && mvt_same_shape(oneop_out(&o, 0), n, sh));
        oneop_end(&o);
        kiln_tensor_release(&s);
    }
    /* Range: integer and float, positive / negative / empty */
    int64_t ri[][3] = {{3, 9, 3}, {10, 4, -2}, {0, 0, 1}, {5, 1, 1}, {-3, 4, 2}, {0, 10, 20}};
    for (int c = 0; c < 6; c++) {
        kiln_tensor in[3];
        for (int j = 0; j < 3; j++) {
            in[j] = mvt_alloc(KILN_INT32, 0, NULL);
            *(int32_t *)in[j].data = (int32_t)ri[c][j];
        }
        oneop o;
        oneop_begin(&o, "Range", "", 11, 3, 1);
        CHECK(oneop_run(&o, in) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        int64_t want = 0;
        for (int64_t v = ri[c][0]; ri[c][2] > 0 ? v < ri[c][1] : v > ri[c][1]; v += ri[c][2]) want++;
        CHECK(y->dtype == KILN_INT32 && y->rank == 1 && y->dims[0] == want);
        for (int64_t i = 0; i < want && y->dims[0] == want; i++)
            CHECK(((int32_t *)y->data)[i] == ri[c][0] + i * ri[c][2]);
        oneop_end(&o);
        for (int j = 0; j < 3; j++) kiln_tensor_release(&in[j]);
    }
    float rf[] = {1.0f, 2.05f, 0.25f};
    kiln_tensor in[3];
    for (int j = 0; j < 3; j++) {
        in[j] = mvt_alloc(KILN_FLOAT, 0, NULL);
        *(float *)in[j].data = rf[j];
    }
    oneop o;
    oneop_begin(&o, "Range", "", 11, 3, 1);
    CHECK(oneop_run(&o, in) == KILN_OK);
    CHECK(oneop_out(&o, 0)->dims[0] == 5 && ((float *)oneop_out(&o, 0)->data)[4] == 2.0f);
    *(float *)in[2].data = 0;
    CHECK(oneop_run(&o, in) == KILN_ERR_RUNTIME); /* delta 0 */
    oneop_end(&o);
    for (int j = 0; j < 3; j++) kiln_tensor_release(&in[j]);
    /* EyeLike with k and dtype */
    int64_t d[] = {4, 6};
    kiln_tensor x = mvt_random(KILN_INT64, 2, d);
    for (int64_t k = -5; k <= 7; k++) {
        oneop_begin(&o, "EyeLike", "", 9, 1, 1);
        oneop_attr_int(&o, "k", k);
        oneop_attr_int(&o, "dtype", KILN_DOUBLE);
        CHECK(oneop_run(&o, &x) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        CHECK(y->dtype == KILN_DOUBLE && mvt_same_shape(y, 2, d));
        int ok = 1;
        for (int64_t i = 0; i < 4; i++)
            for (int64_t j = 0; j < 6; j++) ok &= ((double *)y->data)[i * 6 + j] == (j - i == k ? 1.0 : 0.0);
        CHECK(ok);
        oneop_end(&o);
    }
    kiln_tensor_release(&x);
}

static void test_expand(void) {
    struct {
        int rin;
        int64_t in[4];
        int rs;
        int64_t shape[4];
    } cases[] = {
        {2, {3, 1}, 3, {2, 1, 6}}, {1, {4}, 2, {3, 1}}, {0, {0}, 2, {2, 2}}, {3, {2, 1, 3}, 1, {1}},
        {2, {1, 5}, 2, {0, 5}},    {4, {1, 2, 1, 3}, 4, {2, 2, 4, 3}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int t = 0; t < N_DTYPES; t++) {
            kiln_tensor in[2] = {mvt_random(dtypes[t], cases[c].rin, cases[c].in), mvt_vec(cases[c].rs, cases[c].shape)};
            oneop o;
            oneop_begin(&o, "Expand", "", 13, 2, 1);
            CHECK(oneop_run(&o, in) == KILN_OK);
            const kiln_tensor *y = oneop_out(&o, 0);
            /* reference: numpy broadcasting, index by index */
            int r = cases[c].rin > cases[c].rs ? cases[c].rin : cases[c].rs, ok = y->rank == r;
            for (int i = 0; ok && i < r; i++) {
                int ia = i - (r - cases[c].rin), ib = i - (r - cases[c].rs);
                int64_t a = ia >= 0 ? cases[c].in[ia] : 1, b = ib >= 0 ? cases[c].shape[ib] : 1;
                ok = y->dims[i] == (a == 1 ? b : a);
            }
            CHECK(ok);
            int64_t n = kiln_tensor_numel(y), idx[KILN_MAX_DIMS], src[KILN_MAX_DIMS];
            for (int64_t i = 0; ok && i < n; i++) {
                mvt_unravel(i, r, y->dims, idx);
                for (int d = 0; d < cases[c].rin; d++) {
                    int od = d + (r - cases[c].rin);
                    src[d] = cases[c].in[d] == 1 ? 0 : idx[od];
                }
                ok = mvt_elem_eq(y, i, &in[0], mvt_ravel(cases[c].rin, cases[c].in, src));
            }
            CHECK(ok);
            oneop_end(&o);
            kiln_tensor_release(&in[0]);
            kiln_tensor_release(&in[1]);
        }
    }
    int64_t d[] = {3}, s[] = {4};
    kiln_tensor in[2] = {mvt_random(KILN_FLOAT, 1, d), mvt_vec(1, s)};
    oneop o;
    oneop_begin(&o, "Expand", "", 13, 2, 1);
    CHECK(oneop_run(&o, in) == KILN_ERR_SHAPE);
    CHECK(strstr(kiln_error_text(), "[3]") != NULL);
    oneop_end(&o);
    kiln_tensor_release(&in[0]);
    kiln_tensor_release(&in[1]);
}

static void test_dropout(void) {
    int64_t d[] = {64, 33};
    kiln_tensor x = mvt_random(KILN_FLOAT, 2, d);
    /* inference: identity and a mask of ones */
    oneop o;
    oneop_begin(&o, "Dropout", "", 13, 1, 2);
    CHECK(oneop_run(&o, &x) == KILN_OK);
    check_view(&x, oneop_out(&o, 0), 2, d);
    const kiln_tensor *m = oneop_out(&o, 1);
    int ok = m->dtype == KILN_BOOL && mvt_same_shape(m, 2, d);
    for (int64_t i = 0; ok && i < kiln_tensor_numel(m); i++) ok = ((uint8_t *)m->data)[i] == 1;
    CHECK(ok);
    oneop_end(&o);
    /* training: every output is 0 or x / (1 - ratio), consistent with the mask; a seed makes it repeatable */
    kiln_tensor ratio = mvt_alloc(KILN_FLOAT, 0, NULL), train = mvt_alloc(KILN_BOOL, 0, NULL);
    *(float *)ratio.data = 0.25f;
    *(uint8_t *)train.data = 1;
    kiln_tensor in[3] = {x, ratio, train};
    oneop_begin(&o, "Dropout", "", 13, 3, 2);
    oneop_attr_int(&o, "seed", 42);
    CHECK(oneop_run(&o, in) == KILN_OK);
    const kiln_tensor *y = oneop_out(&o, 0);
    m = oneop_out(&o, 1);
    int64_t n = kiln_tensor_numel(&x), kept = 0;
    ok = 1;
    for (int64_t i = 0; i < n; i++) {
        float xv = ((float *)x.data)[i], yv = ((float *)y->data)[i];
        int mk = ((uint8_t *)m->data)[i];
        kept += mk;
        ok &= mk ? fabsf(yv - xv / 0.75f) < 1e-5f : yv == 0.0f;
    }
    CHECK(ok);
    CHECK(kept > n * 6 / 10 && kept < n * 9 / 10);
    float first = ((float *)y->data)[0];
    CHECK(oneop_run(&o, in) == KILN_OK);
    CHECK(((float *)oneop_out(&o, 0)->data)[0] == first);
    oneop_end(&o);
    kiln_tensor_release(&ratio);
    kiln_tensor_release(&train);
    kiln_tensor_release(&x);
}

int main(void) {
    test_shape_size();
    test_reshape();
    test_flatten_squeeze();
    test_identity_constant();
    test_constant_of_shape_range_eyelike();
    test_expand();
    test_dropout();
    return CHECK_DONE();
}
