/* CPU kernel: Unique (index family, listed in index.c), numpy.unique semantics.
 *
 * Items are the elements of the flattened input, or with `axis` the slices along it (compared lexicographically).
 * A stable merge sort of the item numbers groups equal items; each group gives one unique item, its first
 * occurrence (the group's first member, by stability) and its count. sorted=0 reorders the groups by first
 * occurrence. NaNs sort last and compare equal to each other (numpy's equal_nan). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/index-common.h"
#include "backends/cpu/movement-common.h"
#include "core/dtype.h"

typedef struct unique_params {
    int has_axis, sorted;
    int64_t axis;
} unique_params;

kiln_status kiln_ix_unique_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    unique_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    p->has_axis = kiln_node_attr(n, "axis") != NULL;
    p->axis = kiln_attr_int(n, "axis", 0);
    p->sorted = kiln_attr_int(n, "sorted", 1) != 0;
    return KILN_OK;
}

typedef struct items {
    kiln_dtype dt;
    const void *data;
    int64_t outer, n, inner; /* item i covers elements (o * n + i) * inner + j */
} items;

static int cmp_f64(double a, double b) {
    int na = isnan(a), nb = isnan(b);
    if (na || nb) return na - nb;
    return a < b ? -1 : a > b;
}

static int cmp_elem(kiln_dtype dt, const void *d, int64_t i, int64_t j) {
    switch (dt) {
    case KILN_FLOAT: return cmp_f64(((const float *)d)[i], ((const float *)d)[j]);
    case KILN_DOUBLE: return cmp_f64(((const double *)d)[i], ((const double *)d)[j]);
    case KILN_INT64: {
        int64_t a = ((const int64_t *)d)[i], b = ((const int64_t *)d)[j];
        return a < b ? -1 : a > b;
    }
    case KILN_UINT64: {
        uint64_t a = ((const uint64_t *)d)[i], b = ((const uint64_t *)d)[j];
        return a < b ? -1 : a > b;
    }
    case KILN_INT32: {
        int32_t a = ((const int32_t *)d)[i], b = ((const int32_t *)d)[j];
        return a < b ? -1 : a > b;
    }
    case KILN_STRING: {
        const char *a = ((const char *const *)d)[i], *b = ((const char *const *)d)[j];
        int c = strcmp(a ? a : "", b ? b : "");
        return c < 0 ? -1 : c > 0;
    }
    default:
        if (kiln_dtype_is_float(dt)) return cmp_f64(kiln_load_f64(dt, d, i), kiln_load_f64(dt, d, j));
        int64_t a = kiln_load_i64(dt, d, i), b = kiln_load_i64(dt, d, j);
        return a < b ? -1 : a > b;
    }
}

static int cmp_items(const items *it, int64_t a, int64_t b) {
    for (int64_t o = 0; o < it->outer; o++)
        for (int64_t j = 0; j < it->inner; j++) {
            int c = cmp_elem(it->dt, it->data, (o * it->n + a) * it->inner + j, (o * it->n + b) * it->inner + j);
            if (c) return c;
        }
    return 0;
}

/* Stable bottom-up merge sort of perm[0..n) by item. */
static void merge_sort(const items *it, int64_t *perm, int64_t *tmp, int64_t n) {
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) tmp[o++] = cmp_items(it, perm[j], perm[i]) < 0 ? perm[j++] : perm[i++];
            while (i < mid) tmp[o++] = perm[i++];
            while (j < hi) tmp[o++] = perm[j++];
        }
        memcpy(perm, tmp, sizeof(int64_t) * (size_t)n);
    }
}

kiln_status kiln_ix_unique_run(kiln_kctx *k) {
    const unique_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    items it = {x->dtype, x->data, 1, kiln_tensor_numel(x), 1};
    int axis = 0;
    if (p->has_axis) {
        KILN_TRY(kiln_mv_axis(p->axis, x->rank, "Unique axis", &axis));
        it.outer = kiln_numel(axis, x->dims);
        it.n = x->dims[axis];
        it.inner = kiln_numel(x->rank - axis - 1, x->dims + axis + 1);
    }
    int64_t n = it.n;
    /* perm, tmp, group of each sorted position, first occurrence / count / order per group */
    int64_t *buf = malloc(sizeof(int64_t) * (size_t)(6 * n + 1));
    KILN_FAIL_IF(!buf, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    int64_t *perm = buf, *tmp = buf + n, *first = buf + 2 * n, *count = buf + 3 * n, *rank = buf + 4 * n,
            *inv = buf + 5 * n;
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    merge_sort(&it, perm, tmp, n);
    int64_t u = 0;
    for (int64_t s = 0; s < n; s++) {
        if (s == 0 || cmp_items(&it, perm[s - 1], perm[s]) != 0) {
            first[u] = perm[s];
            count[u] = 0;
            u++;
        }
        count[u - 1]++;
        inv[perm[s]] = u - 1;
    }
    /* order[g]: output slot of group g */
    int64_t *order = tmp;
    for (int64_t g = 0; g < u; g++) order[g] = g;
    if (!p->sorted) { /* groups by first occurrence: sort group numbers by first[] */
        int64_t *byfirst = perm; /* perm is no longer needed */
        for (int64_t i = 0; i < n; i++) byfirst[i] = -1;
        for (int64_t g = 0; g < u; g++) byfirst[first[g]] = g;
        int64_t slot = 0;
        for (int64_t i = 0; i < n; i++)
            if (byfirst[i] >= 0) order[byfirst[i]] = slot++;
    }
    for (int64_t g = 0; g < u; g++) rank[order[g]] = g; /* rank[slot] = group */
    kiln_status st = KILN_OK;
    int64_t dims[KILN_MAX_DIMS];
    int r = 1;
    if (p->has_axis) {
        memcpy(dims, x->dims, sizeof dims);
        dims[axis] = u;
        r = x->rank;
    } else {
        dims[0] = u;
    }
    kiln_tensor *y, *ti, *tinv, *tc;
    st = kiln_kout(k, 0, x->dtype, r, dims, &y);
    if (st == KILN_OK && k->n_out > 1) st = kiln_kout(k, 1, KILN_INT64, 1, &u, &ti);
    if (st == KILN_OK && k->n_out > 2) st = kiln_kout(k, 2, KILN_INT64, 1, &n, &tinv);
    if (st == KILN_OK && k->n_out > 3) st = kiln_kout(k, 3, KILN_INT64, 1, &u, &tc);
    if (st != KILN_OK) {
        free(buf);
        return st;
    }
    size_t es = kiln_dtype_size(x->dtype);
    for (int64_t o = 0; o < it.outer && st == KILN_OK; o++)
        for (int64_t s = 0; s < u && st == KILN_OK; s++)
            st = kiln_mv_copy(x->dtype, (char *)y->data + (size_t)((o * u + s) * it.inner) * es,
                              (const char *)x->data + (size_t)((o * n + first[rank[s]]) * it.inner) * es, it.inner);
    for (int64_t s = 0; s < u; s++) {
        if (k->n_out > 1) ((int64_t *)ti->data)[s] = first[rank[s]];
        if (k->n_out > 3) ((int64_t *)tc->data)[s] = count[rank[s]];
    }
    if (k->n_out > 2)
        for (int64_t i = 0; i < n; i++) ((int64_t *)tinv->data)[i] = order[inv[i]];
    free(buf);
    return st;
}
