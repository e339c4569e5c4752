/* Helpers shared by the data-movement kernel families: strided copies, index-map gathers, input parsing. */
#include "backends/cpu/movement-common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/parallel.h"

/* Tile repeats a rank-r tensor through a rank-2r view, so copies may exceed KILN_MAX_DIMS. */
#define ND_MAX (2 * KILN_MAX_DIMS + 2)
/* Elements per parallel chunk: below this the pool costs more than it saves. */
#define PAR_GRAIN 32768
#define TILE 32

void kiln_mv_strides(int rank, const int64_t *dims, int64_t *st) {
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        st[i] = s;
        s *= dims[i] > 0 ? dims[i] : 1;
    }
}

const char *kiln_mv_shape_str(int rank, const int64_t *dims, char *buf, size_t n) {
    size_t o = 0;
    if (n == 0) return buf;
    o += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < rank && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, i ? ",%lld" : "%lld", (long long)dims[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
    return buf;
}

static int set_str(char **slot, const char *s) {
    size_t len = s ? strlen(s) : 0;
    char *c = malloc(len + 1);
    if (!c) return 0;
    if (len) memcpy(c, s, len);
    c[len] = 0;
    free(*slot);
    *slot = c;
    return 1;
}

/* ---------------------------------------------------------------- strided N-D copy ------------------------------ */

enum { K_ROWS = 0, K_ELEMS = 1, K_TILE = 2 };

typedef struct nd_plan {
    int rank;
    int64_t dims[ND_MAX], ss[ND_MAX], ds[ND_MAX];
    int kind, ta;
    int n_outer, outer[ND_MAX];
    size_t es;
    char *dst;
    const char *src;
} nd_plan;

static void copy_elems(char *d, const char *s, int64_t n, int64_t dstr, int64_t sstr, size_t es) {
    switch (es) {
    case 1:
        for (int64_t i = 0; i < n; i++) d[i * dstr] = s[i * sstr];
        break;
    case 2:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)(void *)d)[i * dstr] = ((const uint16_t *)(const void *)s)[i * sstr];
        break;
    case 4:
        for (int64_t i = 0; i < n; i++) ((uint32_t *)(void *)d)[i * dstr] = ((const uint32_t *)(const void *)s)[i * sstr];
        break;
    case 8:
        for (int64_t i = 0; i < n; i++) ((uint64_t *)(void *)d)[i * dstr] = ((const uint64_t *)(const void *)s)[i * sstr];
        break;
    default:
        for (int64_t i = 0; i < n; i++) memcpy(d + i * dstr * (int64_t)es, s + i * sstr * (int64_t)es, es);
        break;
    }
}

/* A 2-D block transpose: dst is contiguous along b, src along a. */
static void copy_tile(const nd_plan *p, char *d, const char *s) {
    int last = p->rank - 1, a = p->ta;
    int64_t na = p->dims[a], nb = p->dims[last], dsa = p->ds[a], ssb = p->ss[last];
    size_t es = p->es;
    for (int64_t i0 = 0; i0 < na; i0 += TILE) {
        int64_t i1 = i0 + TILE < na ? i0 + TILE : na;
        for (int64_t j0 = 0; j0 < nb; j0 += TILE) {
            int64_t j1 = j0 + TILE < nb ? j0 + TILE : nb;
            for (int64_t i = i0; i < i1; i++)
                copy_elems(d + (i * dsa + j0) * (int64_t)es, s + (i + j0 * ssb) * (int64_t)es, j1 - j0, 1, ssb, es);
        }
    }
}

static void nd_row(const nd_plan *p, char *d, const char *s) {
    int last = p->rank - 1;
    switch (p->kind) {
    case K_ROWS: memcpy(d, s, (size_t)p->dims[last] * p->es); break;
    case K_ELEMS: copy_elems(d, s, p->dims[last], p->ds[last], p->ss[last], p->es); break;
    default: copy_tile(p, d, s); break;
    }
}

static void nd_range(void *ctx, int64_t b, int64_t e) {
    const nd_plan *p = ctx;
    int64_t idx[ND_MAX], so = 0, dof = 0, rem = b;
    for (int q = p->n_outer - 1; q >= 0; q--) {
        int k = p->outer[q];
        idx[q] = rem % p->dims[k];
        rem /= p->dims[k];
        so += idx[q] * p->ss[k];
        dof += idx[q] * p->ds[k];
    }
    int64_t es = (int64_t)p->es;
    for (int64_t r = b; r < e; r++) {
        nd_row(p, p->dst + dof * es, p->src + so * es);
        for (int q = p->n_outer - 1; q >= 0; q--) {
            int k = p->outer[q];
            so += p->ss[k];
            dof += p->ds[k];
            if (++idx[q] < p->dims[k]) break;
            so -= p->ss[k] * p->dims[k];
            dof -= p->ds[k] * p->dims[k];
            idx[q] = 0;
        }
    }
}

static kiln_status nd_strings(const nd_plan *p) {
    int64_t idx[ND_MAX] = {0}, so = 0, dof = 0, total = 1;
    for (int k = 0; k < p->rank; k++) total *= p->dims[k];
    char **d = (char **)(void *)p->dst;
    const char *const *s = (const char *const *)(const void *)p->src;
    for (int64_t i = 0; i < total; i++) {
        KILN_FAIL_IF(!set_str(&d[dof], s[so]), KILN_ERR_OUT_OF_MEMORY, "out of memory copying strings");
        for (int k = p->rank - 1; k >= 0; k--) {
            so += p->ss[k];
            dof += p->ds[k];
            if (++idx[k] < p->dims[k]) break;
            so -= p->ss[k] * p->dims[k];
            dof -= p->ds[k] * p->dims[k];
            idx[k] = 0;
        }
    }
    return KILN_OK;
}

kiln_status kiln_mv_copy_nd(kiln_dtype dt, void *dst, const int64_t *dst_st, const void *src, const int64_t *src_st,
                            int rank, const int64_t *dims) {
    KILN_FAIL_IF(rank < 0 || rank > ND_MAX, KILN_ERR_INTERNAL, "strided copy of rank %d", rank);
    nd_plan p;
    p.es = kiln_dtype_size(dt);
    p.dst = dst;
    p.src = src;
    int m = 0;
    for (int k = 0; k < rank; k++) {
        if (dims[k] == 0) return KILN_OK;
        if (dims[k] == 1) continue;
        if (m > 0 && p.ss[m - 1] == src_st[k] * dims[k] && p.ds[m - 1] == dst_st[k] * dims[k]) {
            p.dims[m - 1] *= dims[k];
            p.ss[m - 1] = src_st[k];
            p.ds[m - 1] = dst_st[k];
            continue;
        }
        p.dims[m] = dims[k];
        p.ss[m] = src_st[k];
        p.ds[m] = dst_st[k];
        m++;
    }
    if (m == 0) { /* a single element */
        p.dims[0] = 1;
        p.ss[0] = p.ds[0] = 1;
        m = 1;
    }
    p.rank = m;
    if (dt == KILN_STRING) return nd_strings(&p);
    int last = m - 1;
    p.kind = K_ELEMS;
    p.ta = -1;
    if (p.ss[last] == 1 && p.ds[last] == 1) {
        p.kind = K_ROWS;
    } else if (p.ds[last] == 1 && p.ss[last] > 1 && p.dims[last] >= 4) {
        for (int k = 0; k < last; k++)
            if (p.ss[k] == 1 && p.dims[k] >= 4) p.ta = k;
        if (p.ta >= 0) p.kind = K_TILE;
    }
    p.n_outer = 0;
    int64_t rows = 1, inner = p.dims[last];
    for (int k = 0; k < last; k++) {
        if (k == p.ta) {
            inner *= p.dims[k];
            continue;
        }
        p.outer[p.n_outer++] = k;
        rows *= p.dims[k];
    }
    int64_t grain = PAR_GRAIN / (inner > 0 ? inner : 1);
    kiln_parallel_for(rows, grain > 0 ? grain : 1, nd_range, &p);
    return KILN_OK;
}

/* ---------------------------------------------------------------- index-map gather ------------------------------ */

typedef struct gm_plan {
    int rank;
    const int64_t *out_dims;
    int64_t in_st[KILN_MAX_DIMS];
    int64_t *const *maps;
    size_t es;
    char *out;
    const char *in;
    const char *fill; /* es bytes */
} gm_plan;

static void gm_range(void *ctx, int64_t b, int64_t e) {
    const gm_plan *p = ctx;
    int last = p->rank - 1;
    int64_t n = p->out_dims[last], es = (int64_t)p->es;
    const int64_t *ml = p->maps[last];
    int64_t idx[KILN_MAX_DIMS], rem = b;
    for (int k = last - 1; k >= 0; k--) {
        idx[k] = rem % p->out_dims[k];
        rem /= p->out_dims[k];
    }
    for (int64_t r = b; r < e; r++) {
        char *d = p->out + r * n * es;
        int64_t so = 0;
        int outside = 0;
        for (int k = 0; k < last; k++) {
            int64_t m = p->maps[k][idx[k]];
            if (m < 0) outside = 1;
            so += m * p->in_st[k];
        }
        if (outside) {
            for (int64_t j = 0; j < n; j++) memcpy(d + j * es, p->fill, (size_t)es);
        } else {
            const char *s = p->in + so * es;
            switch (es) {
            case 1:
                for (int64_t j = 0; j < n; j++) d[j] = ml[j] < 0 ? p->fill[0] : s[ml[j]];
                break;
            case 4: {
                uint32_t f, *d4 = (uint32_t *)(void *)d;
                const uint32_t *s4 = (const uint32_t *)(const void *)s;
                memcpy(&f, p->fill, 4);
                for (int64_t j = 0; j < n; j++) d4[j] = ml[j] < 0 ? f : s4[ml[j]];
                break;
            }
            default:
                for (int64_t j = 0; j < n; j++) memcpy(d + j * es, ml[j] < 0 ? p->fill : s + ml[j] * es, (size_t)es);
                break;
            }
        }
        for (int k = last - 1; k >= 0; k--) {
            if (++idx[k] < p->out_dims[k]) break;
            idx[k] = 0;
        }
    }
}

kiln_status kiln_mv_gather_maps(kiln_dtype dt, void *out, const int64_t *out_dims, const void *in,
                                const int64_t *in_dims, int rank, int64_t *const *maps, const void *fill) {
    int64_t total = kiln_numel(rank, out_dims);
    if (total <= 0) return KILN_OK;
    if (rank == 0) return kiln_mv_copy(dt, out, in, 1);
    char zero[16] = {0};
    gm_plan p;
    p.rank = rank;
    p.out_dims = out_dims;
    kiln_mv_strides(rank, in_dims, p.in_st);
    p.maps = maps;
    p.es = kiln_dtype_size(dt);
    p.out = out;
    p.in = in;
    p.fill = fill ? fill : zero;
    if (dt == KILN_STRING) {
        int64_t idx[KILN_MAX_DIMS] = {0};
        char **o = out;
        const char *const *s = in;
        const char *f = fill ? *(const char *const *)fill : "";
        for (int64_t i = 0; i < total; i++) {
            int64_t so = 0;
            int outside = 0;
            for (int k = 0; k < rank; k++) {
                int64_t m = maps[k][idx[k]];
                if (m < 0) outside = 1;
                so += m * p.in_st[k];
            }
            KILN_FAIL_IF(!set_str(&o[i], outside ? f : s[so]), KILN_ERR_OUT_OF_MEMORY, "out of memory");
            for (int k = rank - 1; k >= 0; k--) {
                if (++idx[k] < out_dims[k]) break;
                idx[k] = 0;
            }
        }
        return KILN_OK;
    }
    int64_t rows = total / out_dims[rank - 1];
    int64_t grain = PAR_GRAIN / out_dims[rank - 1];
    kiln_parallel_for(rows, grain > 0 ? grain : 1, gm_range, &p);
    return KILN_OK;
}

/* ---------------------------------------------------------------- fill / copy ----------------------------------- */

kiln_status kiln_mv_fill(kiln_dtype dt, void *dst, int64_t n, const void *one) {
    if (n <= 0) return KILN_OK;
    if (dt == KILN_STRING) {
        char **d = dst;
        const char *s = one ? *(const char *const *)one : "";
        for (int64_t i = 0; i < n; i++) KILN_FAIL_IF(!set_str(&d[i], s), KILN_ERR_OUT_OF_MEMORY, "out of memory");
        return KILN_OK;
    }
    size_t es = kiln_dtype_size(dt), total = (size_t)n * es;
    int zero = 1;
    for (size_t b = 0; one && b < es; b++) zero &= ((const char *)one)[b] == 0;
    if (zero) {
        memset(dst, 0, total);
        return KILN_OK;
    }
    memcpy(dst, one, es);
    for (size_t have = es; have < total;) { /* doubling copies */
        size_t c = have < total - have ? have : total - have;
        memcpy((char *)dst + have, dst, c);
        have += c;
    }
    return KILN_OK;
}

kiln_status kiln_mv_copy(kiln_dtype dt, void *dst, const void *src, int64_t n) {
    if (n <= 0 || dst == src) return KILN_OK;
    if (dt == KILN_STRING) {
        char **d = dst;
        const char *const *s = src;
        for (int64_t i = 0; i < n; i++) KILN_FAIL_IF(!set_str(&d[i], s[i]), KILN_ERR_OUT_OF_MEMORY, "out of memory");
        return KILN_OK;
    }
    memcpy(dst, src, (size_t)n * kiln_dtype_size(dt));
    return KILN_OK;
}

/* ---------------------------------------------------------------- input parsing --------------------------------- */

kiln_status kiln_mv_read_ints(const kiln_tensor *t, const char *what, int64_t *out, int max, int *n) {
    KILN_FAIL_IF(t->dtype != KILN_INT64 && t->dtype != KILN_INT32, KILN_ERR_TYPE, "%s must be int64 or int32, got %s",
                 what, kiln_dtype_name(t->dtype));
    KILN_FAIL_IF(t->rank > 1, KILN_ERR_SHAPE, "%s must be a scalar or 1-D tensor, got rank %d", what, t->rank);
    int64_t cnt = kiln_tensor_numel(t);
    KILN_FAIL_IF(cnt < 0 || cnt > max, KILN_ERR_UNSUPPORTED, "%s has %lld values; at most %d are supported", what,
                 (long long)cnt, max);
    for (int64_t i = 0; i < cnt; i++)
        out[i] = t->dtype == KILN_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
    *n = (int)cnt;
    return KILN_OK;
}

kiln_status kiln_mv_scalar_i64(const kiln_tensor *t, const char *what, int64_t *v) {
    KILN_FAIL_IF(kiln_tensor_numel(t) != 1, KILN_ERR_SHAPE, "%s must hold exactly one value, got %lld", what,
                 (long long)kiln_tensor_numel(t));
    KILN_FAIL_IF(!kiln_dtype_is_int(t->dtype) && !kiln_dtype_is_float(t->dtype) && t->dtype != KILN_BOOL,
                 KILN_ERR_TYPE, "%s must be numeric, got %s", what, kiln_dtype_name(t->dtype));
    *v = kiln_load_i64(t->dtype, t->data, 0);
    return KILN_OK;
}

kiln_status kiln_mv_scalar_f64(const kiln_tensor *t, const char *what, double *v) {
    KILN_FAIL_IF(kiln_tensor_numel(t) != 1, KILN_ERR_SHAPE, "%s must hold exactly one value, got %lld", what,
                 (long long)kiln_tensor_numel(t));
    KILN_FAIL_IF(!kiln_dtype_is_int(t->dtype) && !kiln_dtype_is_float(t->dtype) && t->dtype != KILN_BOOL,
                 KILN_ERR_TYPE, "%s must be numeric, got %s", what, kiln_dtype_name(t->dtype));
    *v = kiln_load_f64(t->dtype, t->data, 0);
    return KILN_OK;
}

kiln_status kiln_mv_axis(int64_t axis, int rank, const char *what, int *out) {
    KILN_FAIL_IF(axis < -rank || axis >= rank || (rank == 0 && axis != 0), KILN_ERR_INVALID_ARGUMENT,
                 "%s %lld is out of range for rank %d (valid: [%d, %d])", what, (long long)axis, rank, -rank,
                 rank - 1);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return KILN_OK;
}

kiln_status kiln_mv_attr_ints(const kiln_node *n, const char *name, int64_t *out, int max, int *count) {
    int c = 0;
    const int64_t *v = kiln_attr_ints(n, name, &c);
    KILN_FAIL_IF(c > max, KILN_ERR_UNSUPPORTED, "attribute '%s' has %d values; at most %d are supported", name, c,
                 max);
    for (int i = 0; i < c; i++) out[i] = v[i];
    *count = c;
    return KILN_OK;
}

int kiln_mv_is_nonzero(kiln_dtype dt, const void *data, int64_t i) {
    const uint8_t *b = data;
    switch (dt) {
    case KILN_FLOAT: return ((const float *)data)[i] != 0.0f;
    case KILN_DOUBLE: return ((const double *)data)[i] != 0.0;
    case KILN_FLOAT16: case KILN_BFLOAT16: return (((const uint16_t *)data)[i] & 0x7fff) != 0;
    case KILN_FLOAT8E4M3FN: case KILN_FLOAT8E5M2: return (b[i] & 0x7f) != 0;
    case KILN_FLOAT4E2M1: return (b[i] & 0x07) != 0;
    case KILN_FLOAT6E2M3: case KILN_FLOAT6E3M2: return (b[i] & 0x1f) != 0;
    case KILN_FLOAT8E8M0: return 1; /* no zero encoding */
    case KILN_COMPLEX64: return ((const float *)data)[2 * i] != 0.0f || ((const float *)data)[2 * i + 1] != 0.0f;
    case KILN_COMPLEX128: return ((const double *)data)[2 * i] != 0.0 || ((const double *)data)[2 * i + 1] != 0.0;
    case KILN_STRING: {
        const char *s = ((const char *const *)data)[i];
        return s && s[0];
    }
    default: {
        size_t es = kiln_dtype_size(dt);
        for (size_t k = 0; k < es; k++)
            if (b[(size_t)i * es + k]) return 1;
        return 0;
    }
    }
}
