/* CPU kernels: object-detection ops (NonMaxSuppression, RoiAlign; see registry.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/registry.h"
#include "core/dtype.h"

/* ---------------------------------------------------------------- NonMaxSuppression --------------------------- */

typedef struct nms_box {
    double score;
    int64_t idx;
} nms_box;

/* Highest score first; equal scores keep the lower box index first. */
static int nms_cmp(const void *a, const void *b) {
    const nms_box *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

/* Corners (ymin, xmin, ymax, xmax) of box i, whichever encoding. */
static void corners(const kiln_tensor *boxes, int64_t base, int center, double c[4]) {
    double v[4];
    for (int i = 0; i < 4; i++) v[i] = kiln_load_f64(boxes->dtype, boxes->data, base + i);
    if (center) {
        c[0] = v[1] - v[3] / 2, c[2] = v[1] + v[3] / 2;
        c[1] = v[0] - v[2] / 2, c[3] = v[0] + v[2] / 2;
    } else {
        c[0] = fmin(v[0], v[2]), c[2] = fmax(v[0], v[2]);
        c[1] = fmin(v[1], v[3]), c[3] = fmax(v[1], v[3]);
    }
}

static int suppressed(const double a[4], const double b[4], double iou_thr) {
    double ih = fmin(a[2], b[2]) - fmax(a[0], b[0]), iw = fmin(a[3], b[3]) - fmax(a[1], b[1]);
    if (ih <= 0 || iw <= 0) return 0;
    double inter = ih * iw, aa = (a[2] - a[0]) * (a[3] - a[1]), ab = (b[2] - b[0]) * (b[3] - b[1]);
    double uni = aa + ab - inter;
    if (aa <= 0 || ab <= 0 || uni <= 0) return 0;
    return inter / uni > iou_thr;
}

static kiln_status nms_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    *out = (void *)(intptr_t)kiln_attr_int(n, "center_point_box", 0);
    return KILN_OK;
}

static kiln_status nms_run(kiln_kctx *k) {
    int center = (int)(intptr_t)k->params;
    const kiln_tensor *boxes, *scores;
    KILN_TRY(kiln_kin_req(k, 0, &boxes));
    KILN_TRY(kiln_kin_req(k, 1, &scores));
    const kiln_tensor *mo = kiln_kin(k, 2), *it = kiln_kin(k, 3), *stt = kiln_kin(k, 4);
    KILN_FAIL_IF(boxes->rank != 3 || boxes->dims[2] != 4, KILN_ERR_SHAPE, "boxes must be [batches, boxes, 4]");
    KILN_FAIL_IF(scores->rank != 3 || scores->dims[0] != boxes->dims[0] || scores->dims[2] != boxes->dims[1],
                 KILN_ERR_SHAPE, "scores must be [batches, classes, boxes] matching boxes");
    int64_t max_out = mo && kiln_tensor_numel(mo) ? kiln_load_i64(mo->dtype, mo->data, 0) : 0;
    double iou = it && kiln_tensor_numel(it) ? kiln_load_f64(it->dtype, it->data, 0) : 0;
    int has_st = stt && kiln_tensor_numel(stt);
    double sthr = has_st ? kiln_load_f64(stt->dtype, stt->data, 0) : 0;
    if (max_out < 0) max_out = 0;
    int64_t B = boxes->dims[0], C = scores->dims[1], N = boxes->dims[1];
    nms_box *cand = malloc(sizeof *cand * (size_t)(N + 1));
    int64_t *sel = malloc(sizeof(int64_t) * (size_t)(N + 1));
    double *cs = malloc(sizeof(double) * 4 * (size_t)(N + 1));
    int64_t cap = 64, cnt = 0;
    int64_t *res = malloc(sizeof(int64_t) * 3 * (size_t)cap);
    kiln_status st = KILN_OK;
    if (!cand || !sel || !cs || !res) st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t b = 0; b < B && st == KILN_OK; b++) {
        for (int64_t i = 0; i < N; i++) corners(boxes, (b * N + i) * 4, center, cs + 4 * i);
        for (int64_t c = 0; c < C && st == KILN_OK; c++) {
            int64_t nc = 0, ns = 0;
            for (int64_t i = 0; i < N; i++) {
                double s = kiln_load_f64(scores->dtype, scores->data, (b * C + c) * N + i);
                if (!has_st || s > sthr) cand[nc].score = s, cand[nc].idx = i, nc++;
            }
            qsort(cand, (size_t)nc, sizeof *cand, nms_cmp);
            for (int64_t q = 0; q < nc && ns < max_out; q++) {
                int keep = 1;
                for (int64_t j = 0; j < ns && keep; j++) keep = !suppressed(cs + 4 * cand[q].idx, cs + 4 * sel[j], iou);
                if (!keep) continue;
                sel[ns++] = cand[q].idx;
                if (cnt == cap) {
                    int64_t *nr = realloc(res, sizeof(int64_t) * 3 * (size_t)(cap * 2));
                    if (!nr) {
                        st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
                        break;
                    }
                    res = nr, cap *= 2;
                }
                res[3 * cnt] = b, res[3 * cnt + 1] = c, res[3 * cnt + 2] = cand[q].idx;
                cnt++;
            }
        }
    }
    if (st == KILN_OK) {
        int64_t dims[2] = {cnt, 3};
        kiln_tensor *y;
        st = kiln_kout(k, 0, KILN_INT64, 2, dims, &y);
        if (st == KILN_OK && cnt) memcpy(y->data, res, sizeof(int64_t) * 3 * (size_t)cnt);
    }
    free(cand), free(sel), free(cs), free(res);
    return st;
}

/* ---------------------------------------------------------------- RoiAlign ------------------------------------ */

typedef struct roi_params {
    int half_pixel, max_mode;
    int64_t oh, ow, sampling;
    double scale;
} roi_params;

static kiln_status roi_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    roi_params *p = calloc(1, sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = p;
    const char *ct = kiln_attr_string(n, "coordinate_transformation_mode", n->opset >= 16 ? "half_pixel" : "output_half_pixel");
    p->half_pixel = !strcmp(ct, "half_pixel");
    const char *mode = kiln_attr_string(n, "mode", "avg");
    KILN_FAIL_IF(strcmp(mode, "avg") && strcmp(mode, "max"), KILN_ERR_INVALID_GRAPH, "RoiAlign mode '%s'", mode);
    p->max_mode = !strcmp(mode, "max");
    p->oh = kiln_attr_int(n, "output_height", 1);
    p->ow = kiln_attr_int(n, "output_width", 1);
    p->sampling = kiln_attr_int(n, "sampling_ratio", 0);
    p->scale = kiln_attr_float(n, "spatial_scale", 1.0f);
    KILN_FAIL_IF(p->oh <= 0 || p->ow <= 0 || p->sampling < 0, KILN_ERR_INVALID_GRAPH, "RoiAlign output size / sampling "
                 "ratio out of range");
    return KILN_OK;
}

static kiln_status roi_run(kiln_kctx *k) {
    const roi_params *p = k->params;
    const kiln_tensor *x, *rois, *bi;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_TRY(kiln_kin_req(k, 1, &rois));
    KILN_TRY(kiln_kin_req(k, 2, &bi));
    KILN_FAIL_IF(x->rank != 4, KILN_ERR_SHAPE, "RoiAlign X must be 4-D");
    KILN_FAIL_IF(rois->rank != 2 || rois->dims[1] != 4, KILN_ERR_SHAPE, "rois must be [num_rois, 4]");
    int64_t R = rois->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    KILN_FAIL_IF(kiln_tensor_numel(bi) != R, KILN_ERR_SHAPE, "batch_indices must have one entry per roi");
    int64_t dims[4] = {R, C, p->oh, p->ow};
    kiln_tensor *y;
    KILN_TRY(kiln_kout(k, 0, x->dtype, 4, dims, &y));
    double off = p->half_pixel ? 0.5 : 0;
    for (int64_t r = 0; r < R; r++) {
        int64_t b = kiln_load_i64(bi->dtype, bi->data, r);
        KILN_FAIL_IF(b < 0 || b >= x->dims[0], KILN_ERR_RUNTIME, "batch index %lld of roi %lld is outside [0, %lld)",
                     (long long)b, (long long)r, (long long)x->dims[0]);
        double sw = kiln_load_f64(rois->dtype, rois->data, r * 4) * p->scale - off;
        double sh = kiln_load_f64(rois->dtype, rois->data, r * 4 + 1) * p->scale - off;
        double ew = kiln_load_f64(rois->dtype, rois->data, r * 4 + 2) * p->scale - off;
        double eh = kiln_load_f64(rois->dtype, rois->data, r * 4 + 3) * p->scale - off;
        double rw = ew - sw, rh = eh - sh;
        if (!p->half_pixel) rw = fmax(rw, 1), rh = fmax(rh, 1);
        double bh = rh / (double)p->oh, bw = rw / (double)p->ow;
        int64_t gh = p->sampling > 0 ? p->sampling : (int64_t)ceil(rh / (double)p->oh);
        int64_t gw = p->sampling > 0 ? p->sampling : (int64_t)ceil(rw / (double)p->ow);
        double count = (double)(gh * gw > 1 ? gh * gw : 1);
        for (int64_t c = 0; c < C; c++) {
            int64_t plane = (b * C + c) * H * W;
            for (int64_t ph = 0; ph < p->oh; ph++)
                for (int64_t pw = 0; pw < p->ow; pw++) {
                    double acc = 0;
                    int first = 1;
                    for (int64_t iy = 0; iy < gh; iy++) {
                        double yy = sh + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;
                        for (int64_t ix = 0; ix < gw; ix++) {
                            double xx = sw + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw;
                            double w[4] = {0, 0, 0, 0};
                            int64_t pos[4] = {0, 0, 0, 0};
                            if (!(yy < -1.0 || yy > (double)H || xx < -1.0 || xx > (double)W)) {
                                double y0 = fmax(yy, 0), x0 = fmax(xx, 0);
                                int64_t yl = (int64_t)y0, xl = (int64_t)x0, yh, xh;
                                if (yl >= H - 1) yh = yl = H - 1, y0 = (double)yl;
                                else yh = yl + 1;
                                if (xl >= W - 1) xh = xl = W - 1, x0 = (double)xl;
                                else xh = xl + 1;
                                double ly = y0 - (double)yl, lx = x0 - (double)xl, hy = 1 - ly, hx = 1 - lx;
                                w[0] = hy * hx, w[1] = hy * lx, w[2] = ly * hx, w[3] = ly * lx;
                                pos[0] = yl * W + xl, pos[1] = yl * W + xh, pos[2] = yh * W + xl, pos[3] = yh * W + xh;
                            }
                            double v[4];
                            for (int q = 0; q < 4; q++) v[q] = w[q] * kiln_load_f64(x->dtype, x->data, plane + pos[q]);
                            if (p->max_mode) {
                                double m = fmax(fmax(v[0], v[1]), fmax(v[2], v[3]));
                                acc = first ? m : fmax(acc, m);
                                first = 0;
                            } else {
                                acc += v[0] + v[1] + v[2] + v[3];
                            }
                        }
                    }
                    if (!p->max_mode) acc /= count;
                    kiln_store_f64(x->dtype, y->data, ((r * C + c) * p->oh + ph) * p->ow + pw, acc);
                }
        }
    }
    return KILN_OK;
}

const kiln_op_def kiln_cpu_ops_detection[] = {
    {"NonMaxSuppression", "", 10, nms_prepare, NULL, nms_run},
    {"RoiAlign", "", 10, roi_prepare, free, roi_run},
    {0},
};
