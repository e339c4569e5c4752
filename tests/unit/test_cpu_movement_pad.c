/* Pad (constant / reflect / edge / wrap, attribute and input forms, axes) and CenterCropPad against references
 * written here: each output index maps back to an input index by bouncing / wrapping / clamping. */
#include "test_cpu_movement_util.h"

static const kiln_dtype dtypes[] = {KILN_FLOAT, KILN_INT32, KILN_UINT8, KILN_STRING, KILN_DOUBLE};
#define N_DTYPES (int)(sizeof dtypes / sizeof dtypes[0])
static const char *const modes[] = {"constant", "reflect", "edge", "wrap"};

/* Input index for input-coordinate i on an axis of size d, or -1 for the constant. */
static int64_t ref_source(int mode, int64_t i, int64_t d) {
    if (i >= 0 && i < d) return i;
    if (mode == 0) return -1;
    if (mode == 2) return i < 0 ? 0 : d - 1;
    if (mode == 3) {
        while (i < 0) i += d;
        while (i >= d) i -= d;
        return i;
    }
    if (d == 1) return 0;
    while (i < 0 || i >= d) { /* mirror at both ends until inside */
        if (i < 0) i = -i;
        if (i >= d) i = 2 * (d - 1) - i;
    }
    return i;
}

static void test_pad(void) {
    for (int iter = 0; iter < 160; iter++) {
        int mode = iter % 4, r = (int)mvt_int(1, 4), opset = iter % 3 == 0 ? 11 : iter % 3 == 1 ? 18 : 2;
        int64_t dims[KILN_MAX_DIMS], pads[2 * KILN_MAX_DIMS], axes[KILN_MAX_DIMS], od[KILN_MAX_DIMS];
        int64_t pb[KILN_MAX_DIMS] = {0}, pe[KILN_MAX_DIMS] = {0}, idx[KILN_MAX_DIMS];
        for (int d = 0; d < r; d++) dims[d] = mvt_int(1, 5);
        int na = opset == 18 ? (int)mvt_int(1, r) : r;
        for (int i = 0; i < na; i++) {
            int a = opset == 18 ? (int)((i + iter) % r) : i;
            axes[i] = opset == 18 && mvt_int(0, 1) ? a - r : a;
            int64_t lo = mode == 0 ? -dims[a] / 2 : 0; /* negative pads (crops) only in constant mode */
            pads[i] = mvt_int(lo, 6);
            pads[na + i] = mvt_int(lo, 6);
            pb[a] = pads[i];
            pe[a] = pads[na + i];
        }
        kiln_dtype dt = dtypes[iter % N_DTYPES];
        kiln_tensor in[4] = {mvt_random(dt, r, dims), mvt_vec(2 * na, pads), mvt_random(dt, 0, NULL),
                             mvt_vec(na, axes)};
        oneop o;
        double attr_value = 2.5;
        if (opset == 2) {
            oneop_begin(&o, "Pad", "", 2, 1, 1);
            oneop_attr_ints(&o, "pads", pads, 2 * na);
            oneop_attr_float(&o, "value", (float)attr_value);
        } else {
            oneop_begin(&o, "Pad", "", opset, opset == 18 ? 4 : 3, 1);
        }
        if (mode == 3 && opset != 18) mode = 2; /* wrap exists from opset 19: test it with the axes form */
        if (mode == 3) {
            oneop_end(&o);
            oneop_begin(&o, "Pad", "", 19, 4, 1);
        }
        oneop_attr_string(&o, "mode", modes[mode]);
        CHECK(oneop_run(&o, in) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        for (int d = 0; d < r; d++) od[d] = dims[d] + pb[d] + pe[d];
        CHECK(mvt_same_shape(y, r, od) && y->dtype == dt);
        int ok = 1;
        for (int64_t i = 0; ok && i < kiln_tensor_numel(y); i++) {
            mvt_unravel(i, r, od, idx);
            int fill = 0;
            for (int d = 0; d < r; d++) {
                idx[d] = ref_source(mode, idx[d] - pb[d], dims[d]);
                fill |= idx[d] < 0;
            }
            if (!fill)
                ok = mvt_elem_eq(y, i, &in[0], mvt_ravel(r, dims, idx));
            else if (opset == 2)
                ok = dt == KILN_STRING ? ((char **)y->data)[i][0] == 0
                                       : kiln_load_f64(dt, y->data, i) == (kiln_dtype_is_float(dt) ? 2.5 : 2);
            else
                ok = mvt_elem_eq(y, i, &in[2], 0);
        }
        CHECK(ok);
        oneop_end(&o);
        for (int i = 0; i < 4; i++) kiln_tensor_release(&in[i]);
    }
    /* errors: pads of the wrong length; a crop below zero */
    int64_t d[] = {3, 4}, p3[] = {1, 1, 1}, neg[] = {-2, 0, -2, 0};
    kiln_tensor in[2] = {mvt_random(KILN_FLOAT, 2, d), mvt_vec(3, p3)};
    oneop o;
    oneop_begin(&o, "Pad", "", 13, 2, 1);
    CHECK(oneop_run(&o, in) == KILN_ERR_SHAPE);
    oneop_end(&o);
    kiln_tensor_release(&in[1]);
    in[1] = mvt_vec(4, neg);
    oneop_begin(&o, "Pad", "", 13, 2, 1);
    CHECK(oneop_run(&o, in) == KILN_ERR_SHAPE);
    oneop_end(&o);
    kiln_tensor_release(&in[0]);
    kiln_tensor_release(&in[1]);
}

static void test_center_crop_pad(void) {
    for (int iter = 0; iter < 60; iter++) {
        int r = (int)mvt_int(1, 4);
        int64_t dims[KILN_MAX_DIMS], shape[KILN_MAX_DIMS], axes[KILN_MAX_DIMS], od[KILN_MAX_DIMS], idx[KILN_MAX_DIMS];
        for (int d = 0; d < r; d++) dims[d] = mvt_int(1, 6);
        int na = iter % 2 ? (int)mvt_int(1, r) : r;
        memcpy(od, dims, sizeof od);
        for (int i = 0; i < na; i++) {
            int a = iter % 2 ? (int)((i + iter) % r) : i;
            axes[i] = mvt_int(0, 1) ? a : a - r;
            shape[i] = mvt_int(0, 8);
            od[a] = shape[i];
        }
        kiln_dtype dt = dtypes[iter % N_DTYPES];
        kiln_tensor in[2] = {mvt_random(dt, r, dims), mvt_vec(na, shape)};
        oneop o;
        oneop_begin(&o, "CenterCropPad", "", 18, 2, 1);
        if (iter % 2) oneop_attr_ints(&o, "axes", axes, na);
        CHECK(oneop_run(&o, in) == KILN_OK);
        const kiln_tensor *y = oneop_out(&o, 0);
        CHECK(mvt_same_shape(y, r, od));
        int ok = 1;
        for (int64_t i = 0; ok && i < kiln_tensor_numel(y); i++) {
            mvt_unravel(i, r, od, idx);
            int zero = 0;
            for (int d = 0; d < r; d++) {
                /* crop: the window starts floor((in - out) / 2) into the input; pad: the input starts
                 * floor((out - in) / 2) into the output */
                int64_t off = dims[d] >= od[d] ? (dims[d] - od[d]) / 2 : -((od[d] - dims[d]) / 2);
                idx[d] += off;
                zero |= idx[d] < 0 || idx[d] >= dims[d];
            }
            if (zero)
                ok = dt == KILN_STRING ? ((char **)y->data)[i][0] == 0 : kiln_load_f64(dt, y->data, i) == 0;
            else
                ok = mvt_elem_eq(y, i, &in[0], mvt_ravel(r, dims, idx));
        }
        CHECK(ok);
        oneop_end(&o);
        kiln_tensor_release(&in[0]);
        kiln_tensor_release(&in[1]);
    }
}

int main(void) {
    test_pad();
    test_center_crop_pad();
    return CHECK_DONE();
}
