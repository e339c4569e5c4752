/* CPU kernels: GridSample (opsets 16, 20) and AffineGrid (20) (movement family, listed in movement.c).
 *
 * GridSample follows the ONNX reference (itself PyTorch's grid_sampler): normalized grid coordinates are
 * denormalized per spatial dim, out-of-range coordinates are clamped or reflected per padding_mode, then the
 * value is a tensor product of 1-D kernels (nearest: 1 tap, linear: 2, cubic: 4 per dim), with neighbours outside
 * the input read as 0 (zeros), clamped (border) or reflected (reflection). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/movement-common.h"
#include "core/dtype.h"
#include "core/parallel.h"
#include "runtime/op.h"

#define GS_MAX_SPATIAL 3

enum { G_LINEAR = 0, G_NEAREST = 1, G_CUBIC = 2 };
enum { P_ZEROS = 0, P_BORDER = 1, P_REFLECTION = 2 };

typedef struct grid_params {
    int mode, padding, align;
} grid_params;

kiln_status kiln_mv_grid_sample_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    grid_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    const char *mode = kiln_attr_string(n, "mode", n->opset >= 20 ? "linear" : "bilinear");
    if (!strcmp(mode, "linear") || !strcmp(mode, "bilinear"))
        p->mode = G_LINEAR;
    else if (!strcmp(mode, "nearest"))
        p->mode = G_NEAREST;
    else if (!strcmp(mode, "cubic") || !strcmp(mode, "bicubic"))
        p->mode = G_CUBIC;
    else
        return kiln_error(KILN_ERR_UNSUPPORTED, "GridSample mode '%s' is not supported", mode);
    const char *pad = kiln_attr_string(n, "padding_mode", "zeros");
    if (!strcmp(pad, "zeros"))
        p->padding = P_ZEROS;
    else if (!strcmp(pad, "border"))
        p->padding = P_BORDER;
    else if (!strcmp(pad, "reflection"))
        p->padding = P_REFLECTION;
    else
        return kiln_error(KILN_ERR_UNSUPPORTED, "GridSample padding_mode '%s' is not supported", pad);
    p->align = kiln_attr_int(n, "align_corners", 0) != 0;
    return KILN_OK;
}

static double reflect(double x, double lo, double hi) {
    double rng = hi - lo;
    if (rng <= 0) return lo;
    if (x < lo) {
        double dx = lo - x;
        int64_t n = (int64_t)(dx / rng);
        double r = dx - (double)n * rng;
        return n % 2 == 0 ? lo + r : hi - r;
    }
    if (x > hi) {
        double dx = x - hi;
        int64_t n = (int64_t)(dx / rng);
        double r = dx - (double)n * rng;
        return n % 2 == 0 ? hi - r : lo + r;
    }
    return x;
}

static void cubic_coeffs(double t, double *c) {
    const double a = -0.75;
    t = fabs(t);
    c[0] = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a;
    c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
    c[2] = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1;
    c[3] = ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a;
}

typedef struct gs_ctx {
    const grid_params *p;
    const kiln_tensor *x, *grid;
    kiln_tensor *y;
    int ns;                          /* spatial dims */
    int64_t C, in_sp, out_sp;        /* channels, input / output spatial sizes */
    int64_t dims[GS_MAX_SPATIAL];    /* input spatial dims */
} gs_ctx;

/* Maps a neighbour index into the input per padding mode; -1 reads as zero. */
static int64_t gs_index(const gs_ctx *c, int64_t i, int d) {
    int64_t D = c->dims[d];
    if (i >= 0 && i < D) return i;
    switch (c->p->padding) {
    case P_BORDER: return i < 0 ? 0 : D - 1;
    case P_REFLECTION: {
        double lo = c->p->align ? 0 : -0.5, hi = c->p->align ? (double)D - 1 : (double)D - 0.5;
        int64_t r = (int64_t)reflect((double)i, lo, hi);
        return r < 0 ? 0 : r >= D ? D - 1 : r;
    }
    default: return -1;
    }
}

static void gs_range(void *ctx, int64_t b, int64_t e) {
    const gs_ctx *c = ctx;
    const grid_params *p = c->p;
    int ns = c->ns;
    int taps = p->mode == G_NEAREST ? 1 : p->mode == G_LINEAR ? 2 : 4;
    int64_t idx[GS_MAX_SPATIAL][4], st[GS_MAX_SPATIAL];
    double w[GS_MAX_SPATIAL][4];
    st[ns - 1] = 1;
    for (int d = ns - 2; d >= 0; d--) st[d] = st[d + 1] * c->dims[d + 1];
    const float *xf = c->x->dtype == KILN_FLOAT ? c->x->data : NULL; /* the common case, without conversions */
    float *yf = c->y->dtype == KILN_FLOAT ? c->y->data : NULL;
    int combos = 1;
    for (int d = 0; d < ns; d++) combos *= taps;
    for (int64_t q = b; q < e; q++) { /* q = n * out_sp + output point */
        int64_t n = q / c->out_sp, pt = q % c->out_sp;
        for (int d = 0; d < ns; d++) {
            /* the grid's last dim lists coordinates innermost spatial dim first (x, y, z) */
            double nx = kiln_load_f64(c->grid->dtype, c->grid->data, q * ns + (ns - 1 - d));
            double D = (double)c->dims[d];
            double x = (float)(p->align ? (nx + 1) / 2.0 * (D - 1) : ((nx + 1) * D - 1) / 2.0);
            double lo = p->align ? 0 : -0.5, hi = p->align ? D - 1 : D - 0.5;
            if (!(x > -1e15 && x < 1e15)) x = isnan(x) ? lo - 1 : x < 0 ? -1e15 : 1e15; /* NaN / inf: outside */
            if (p->mode == G_NEAREST) x = nearbyint(x);
            if (x < lo || x > hi) {
                if (p->padding == P_BORDER) x = x < 0 ? 0 : x > D - 1 ? D - 1 : x;
                else if (p->padding == P_REFLECTION) x = reflect(x, lo, hi);
            }
            if (p->mode == G_NEAREST) {
                idx[d][0] = gs_index(c, (int64_t)x, d);
                w[d][0] = 1;
            } else if (p->mode == G_LINEAR) {
                double x0 = floor(x), t = x - x0;
                idx[d][0] = gs_index(c, (int64_t)x0, d);
                idx[d][1] = gs_index(c, (int64_t)x0 + 1, d);
                w[d][0] = 1 - t;
                w[d][1] = t;
            } else {
                double x0 = floor(x);
                cubic_coeffs(x - x0, w[d]);
                for (int k = 0; k < 4; k++) idx[d][k] = gs_index(c, (int64_t)x0 - 1 + k, d);
            }
        }
        for (int64_t ch = 0; ch < c->C; ch++) {
            int64_t base = (n * c->C + ch) * c->in_sp;
            double acc = 0;
            for (int m = 0; m < combos; m++) {
                int rem = m, zero = 0;
                int64_t off = 0;
                double wt = 1;
                for (int d = ns - 1; d >= 0; d--) {
                    int k = rem % taps;
                    rem /= taps;
                    if (idx[d][k] < 0) zero = 1;
                    off += idx[d][k] * st[d];
                    wt *= w[d][k];
                }
                if (zero || wt == 0) continue;
                acc += wt * (xf ? (double)xf[base + off] : kiln_load_f64(c->x->dtype, c->x->data, base + off));
            }
            if (yf)
                yf[(n * c->C + ch) * c->out_sp + pt] = (float)acc;
            else
                kiln_store_f64(c->y->dtype, c->y->data, (n * c->C + ch) * c->out_sp + pt, acc);
        }
    }
}

kiln_status kiln_mv_grid_sample_run(kiln_kctx *k) {
    const grid_params *p = k->params;
    const kiln_tensor *x, *grid;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &grid));
    char b1[256], b2[256];
    int ns = x->rank - 2;
    KILN_FAIL_IF(ns < 1 || ns > GS_MAX_SPATIAL || grid->rank != x->rank || grid->dims[0] != x->dims[0] ||
                     grid->dims[grid->rank - 1] != ns,
                 KILN_ERR_SHAPE, "GridSample input %s and grid %s do not match (grid must be [N, out..., %d])",
                 kiln_mv_shape_str(x->rank, x->dims, b1, sizeof b1),
                 kiln_mv_shape_str(grid->rank, grid->dims, b2, sizeof b2), ns);
    KILN_FAIL_IF(!kiln_dtype_is_float(x->dtype) || !kiln_dtype_is_float(grid->dtype), KILN_ERR_TYPE,
                 "GridSample needs float input and grid, got %s and %s", kiln_dtype_name(x->dtype),
                 kiln_dtype_name(grid->dtype));
    int64_t od[KILN_MAX_DIMS];
    od[0] = x->dims[0];
    od[1] = x->dims[1];
    for (int d = 0; d < ns; d++) od[2 + d] = grid->dims[1 + d];
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, x->rank, od, &y));
    gs_ctx c = {p, x, grid, y, ns, x->dims[1], kiln_numel(ns, x->dims + 2), kiln_numel(ns, od + 2), {0}};
    for (int d = 0; d < ns; d++) c.dims[d] = x->dims[2 + d];
    if (kiln_tensor_numel(y) == 0) return KILN_OK;
    KILN_FAIL_IF(c.in_sp == 0, KILN_ERR_SHAPE, "GridSample input %s has an empty spatial dim",
                 kiln_mv_shape_str(x->rank, x->dims, b1, sizeof b1));
    kiln_parallel_for(x->dims[0] * c.out_sp, 256, gs_range, &c);
    return KILN_OK;
}

/* ---------------------------------------------------------------- AffineGrid ------------------------------------ */

typedef struct affine_params {
    int align;
} affine_params;

kiln_status kiln_mv_affine_grid_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    affine_params *p;
    KILN_TRY(kiln_mv_alloc_params(out, sizeof *p));
    p = *out;
    p->align = kiln_attr_int(n, "align_corners", 0) != 0;
    return KILN_OK;
}

static double base_coord(int64_t i, int64_t S, int align) {
    if (align) return S > 1 ? -1.0 + (double)i * (2.0 / (double)(S - 1)) : -1.0;
    double step = 2.0 / (double)S;
    return -1.0 + step / 2 + (double)i * step;
}

kiln_status kiln_mv_affine_grid_run(kiln_kctx *k) {
    const affine_params *p = k->params;
    const kiln_tensor *theta, *ts;
    KILN_TRY(kiln_kin_req(k, 0, &theta));
    KILN_TRY(kiln_kin_req(k, 1, &ts));
    int64_t size[5];
    int n;
    KILN_TRY(kiln_mv_read_ints(ts, "AffineGrid size", size, 5, &n));
    KILN_FAIL_IF(n != 4 && n != 5, KILN_ERR_SHAPE, "AffineGrid size must have 4 or 5 values, got %d", n);
    int ns = n - 2;
    char b[256];
    KILN_FAIL_IF(theta->rank != 3 || theta->dims[0] != size[0] || theta->dims[1] != ns || theta->dims[2] != ns + 1,
                 KILN_ERR_SHAPE, "AffineGrid theta %s does not match size (need [%lld, %d, %d])",
                 kiln_mv_shape_str(theta->rank, theta->dims, b, sizeof b), (long long)size[0], ns, ns + 1);
    KILN_FAIL_IF(!kiln_dtype_is_float(theta->dtype), KILN_ERR_TYPE, "AffineGrid theta must be float, got %s",
                 kiln_dtype_name(theta->dtype));
    for (int i = 0; i < n; i++)
        KILN_FAIL_IF(size[i] < 0, KILN_ERR_SHAPE, "AffineGrid size[%d] is negative", i);
    int64_t od[5];
    od[0] = size[0];
    for (int i = 0; i < ns; i++) od[1 + i] = size[2 + i];
    od[1 + ns] = ns;
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, theta->dtype, ns + 2, od, &y));
    int64_t pts = kiln_numel(ns, size + 2);
    for (int64_t bi = 0; bi < size[0]; bi++) {
        double th[3][4];
        for (int r = 0; r < ns; r++)
            for (int c = 0; c <= ns; c++)
                th[r][c] = kiln_load_f64(theta->dtype, theta->data, (bi * ns + r) * (ns + 1) + c);
        for (int64_t q = 0; q < pts; q++) {
            /* homogeneous base point: (x along the last dim, y, z) */
            double v[4];
            int64_t rem = q;
            for (int d = ns - 1; d >= 0; d--) {
                int64_t S = size[2 + d], i = rem % S;
                rem /= S;
                v[ns - 1 - d] = base_coord(i, S, p->align);
            }
            v[ns] = 1;
            for (int r = 0; r < ns; r++) {
                double acc = 0;
                for (int c = 0; c <= ns; c++) acc += th[r][c] * v[c];
                kiln_store_f64(theta->dtype, y->data, (bi * pts + q) * ns + r, acc);
            }
        }
    }
    return KILN_OK;
}
