/* CPU kernels: ops that belong to no larger family (Det; see registry.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/registry.h"
#include "core/dtype.h"

/* Det of [..., M, M]: LU decomposition with partial pivoting per matrix, in double. */
static kiln_status det_run(kiln_kctx *k) {
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_FAIL_IF(x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2], KILN_ERR_SHAPE,
                 "Det needs [..., M, M], got rank %d", x->rank);
    KILN_FAIL_IF(!kiln_dtype_is_float(x->dtype), KILN_ERR_TYPE, "Det needs a float type");
    int64_t m = x->dims[x->rank - 1], batch = 1;
    for (int i = 0; i < x->rank - 2; i++) batch *= x->dims[i];
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank - 2, x->dims, &y));
    double *a = malloc(sizeof(double) * (size_t)(m * m + 1));
    KILN_FAIL_IF(!a, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t b = 0; b < batch; b++) {
        for (int64_t i = 0; i < m * m; i++) a[i] = kiln_load_f64(x->dtype, x->data, b * m * m + i);
        double det = 1;
        for (int64_t c = 0; c < m && det != 0; c++) {
            int64_t piv = c;
            for (int64_t r = c + 1; r < m; r++)
                if (fabs(a[r * m + c]) > fabs(a[piv * m + c])) piv = r;
            if (a[piv * m + c] == 0) {
                det = 0;
                break;
            }
            if (piv != c) {
                for (int64_t j = 0; j < m; j++) {
                    double t = a[c * m + j];
                    a[c * m + j] = a[piv * m + j], a[piv * m + j] = t;
                }
                det = -det;
            }
            det *= a[c * m + c];
            for (int64_t r = c + 1; r < m; r++) {
                double f = a[r * m + c] / a[c * m + c];
                for (int64_t j = c; j < m; j++) a[r * m + j] -= f * a[c * m + j];
            }
        }
        kiln_store_f64(x->dtype, y->data, b, det);
    }
    free(a);
    return KILN_OK;
}

const kiln_op_def kiln_cpu_ops_misc[] = {
    {"Det", "", 11, NULL, NULL, det_run},
    {0},
};
