#include "core/broadcast.h"

#include <stdio.h>

#include "core/status.h"

const char *kiln_shape_str(int rank, const int64_t *dims, char *buf, size_t n) {
    size_t o = 0;
    if (n == 0) return buf;
    o += (size_t)snprintf(buf + o, n - o, "[");
    for (int i = 0; i < rank && o < n; i++) o += (size_t)snprintf(buf + o, n - o, i ? ",%lld" : "%lld", (long long)dims[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
    return buf;
}

kiln_status kiln_broadcast_shape(int ra, const int64_t *a, int rb, const int64_t *b, int *rout, int64_t *out) {
    int r = ra > rb ? ra : rb;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - ra), ib = i - (r - rb);
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da == db || db == 1)
            out[i] = da;
        else if (da == 1)
            out[i] = db;
        else {
            char sa[256], sb[256];
            return kiln_error(KILN_ERR_SHAPE, "shapes %s and %s cannot be broadcast", kiln_shape_str(ra, a, sa, sizeof sa),
                              kiln_shape_str(rb, b, sb, sizeof sb));
        }
    }
    *rout = r;
    return KILN_OK;
}

void kiln_broadcast_strides(int r, const int64_t *dims, int rout, const int64_t *out, int64_t *strides) {
    int64_t s = 1;
    for (int i = rout - 1; i >= 0; i--) {
        int j = i - (rout - r);
        if (j < 0 || dims[j] == 1 || out[i] == 1) {
            strides[i] = 0;
            if (j >= 0) s *= dims[j];
        } else {
            strides[i] = s;
            s *= dims[j];
        }
    }
}
