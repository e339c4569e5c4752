/* kiln_preprocess_image (kiln.h "image pre-processing"): validation, the CPU reference, and the dispatch to the
 * CUDA kernel; plus kiln_decode_image, the public face of image/image.h for applications. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/status.h"
#include "image/image.h"
#include "image/preprocess-internal.h"

#define PP_MAX_SIDE 65536

static kiln_status resolve(const kiln_preprocess_desc *d, kiln_pp_params *p) {
    KILN_FAIL_IF(!d, KILN_ERR_INVALID_ARGUMENT, "kiln_preprocess_image: descriptor is NULL");
    KILN_FAIL_IF(!d->src || !d->dst, KILN_ERR_INVALID_ARGUMENT, "kiln_preprocess_image: %s is NULL",
                 !d->src ? "src" : "dst");
    KILN_FAIL_IF(d->src_height < 1 || d->src_width < 1 || d->src_height > PP_MAX_SIDE || d->src_width > PP_MAX_SIDE,
                 KILN_ERR_INVALID_ARGUMENT, "kiln_preprocess_image: source size %d x %d is outside 1..%d",
                 d->src_height, d->src_width, PP_MAX_SIDE);
    KILN_FAIL_IF(d->dst_height < 1 || d->dst_width < 1 || d->dst_height > PP_MAX_SIDE || d->dst_width > PP_MAX_SIDE,
                 KILN_ERR_INVALID_ARGUMENT, "kiln_preprocess_image: destination size %d x %d is outside 1..%d",
                 d->dst_height, d->dst_width, PP_MAX_SIDE);
    KILN_FAIL_IF(d->src_channels != 1 && d->src_channels != 3 && d->src_channels != 4, KILN_ERR_INVALID_ARGUMENT,
                 "kiln_preprocess_image: src_channels is %d (1, 3 or 4)", d->src_channels);
    KILN_FAIL_IF(d->dst_channels != 1 && d->dst_channels != 3, KILN_ERR_INVALID_ARGUMENT,
                 "kiln_preprocess_image: dst_channels is %d (1 or 3)", d->dst_channels);
    KILN_FAIL_IF(d->dst_channels == 1 && d->src_channels != 1, KILN_ERR_UNSUPPORTED,
                 "kiln_preprocess_image: 1 destination channel needs a 1-channel source, not %d channels (decode "
                 "as gray instead)", d->src_channels);
    KILN_FAIL_IF(d->dst_dtype != KILN_FLOAT && d->dst_dtype != KILN_FLOAT16, KILN_ERR_TYPE,
                 "kiln_preprocess_image: dst_dtype is %s (FLOAT or FLOAT16)", kiln_dtype_name(d->dst_dtype));
    size_t row = (size_t)d->src_width * (size_t)d->src_channels;
    size_t stride = d->src_row_stride ? d->src_row_stride : row;
    KILN_FAIL_IF(stride < row, KILN_ERR_INVALID_ARGUMENT,
                 "kiln_preprocess_image: src_row_stride %zu is less than a row (%d pixels x %d channels)", stride,
                 d->src_width, d->src_channels);
    KILN_FAIL_IF(!isfinite(d->scale), KILN_ERR_INVALID_ARGUMENT, "kiln_preprocess_image: scale is not finite");
    memset(p, 0, sizeof *p);
    p->src = d->src;
    p->src_stride = stride;
    p->src_h = d->src_height;
    p->src_w = d->src_width;
    p->src_c = d->src_channels;
    p->dst = d->dst;
    p->dst_h = d->dst_height;
    p->dst_w = d->dst_width;
    p->dst_c = d->dst_channels;
    p->dst_half = d->dst_dtype == KILN_FLOAT16;
    p->scale_y = (float)d->src_height / (float)d->dst_height;
    p->scale_x = (float)d->src_width / (float)d->dst_width;
    p->vscale = d->scale != 0.0f ? d->scale : 1.0f / 255.0f;
    for (int c = 0; c < d->dst_channels; c++) {
        KILN_FAIL_IF(!isfinite(d->mean[c]) || !isfinite(d->std[c]), KILN_ERR_INVALID_ARGUMENT,
                     "kiln_preprocess_image: mean[%d] or std[%d] is not finite", c, c);
        p->chan[c] = d->src_channels == 1 ? 0 : d->swap_rb ? 2 - c : c;
        p->mean[c] = d->mean[c];
        p->std[c] = d->std[c] != 0.0f ? d->std[c] : 1.0f;
    }
    return KILN_OK;
}

/* The reference: per destination row, per pixel, per channel, the shared arithmetic of preprocess-internal.h. */
static kiln_status preprocess_cpu(const kiln_pp_params *p) {
    int *x0 = malloc((size_t)p->dst_w * 2 * sizeof(int));
    float *wx = malloc((size_t)p->dst_w * sizeof(float));
    if (!x0 || !wx) {
        free(x0);
        free(wx);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "kiln_preprocess_image: out of memory for %d columns", p->dst_w);
    }
    int *x1 = x0 + p->dst_w;
    for (int x = 0; x < p->dst_w; x++) kiln_pp_coord(x, p->scale_x, p->src_w, &x0[x], &x1[x], &wx[x]);
    size_t plane = (size_t)p->dst_h * (size_t)p->dst_w;
    float *df = p->dst;
    uint16_t *dh = p->dst;
    for (int y = 0; y < p->dst_h; y++) {
        int y0, y1;
        float wy;
        kiln_pp_coord(y, p->scale_y, p->src_h, &y0, &y1, &wy);
        const uint8_t *r0 = p->src + (size_t)y0 * p->src_stride, *r1 = p->src + (size_t)y1 * p->src_stride;
        for (int x = 0; x < p->dst_w; x++) {
            size_t a = (size_t)x0[x] * p->src_c, b = (size_t)x1[x] * p->src_c;
            size_t o = (size_t)y * p->dst_w + x;
            for (int c = 0; c < p->dst_c; c++) {
                int k = p->chan[c];
                float v = kiln_pp_value(r0[a + k], r0[b + k], r1[a + k], r1[b + k], wx[x], wy, p->vscale, p->mean[c],
                                        p->std[c]);
                if (p->dst_half)
                    dh[c * plane + o] = kiln_float_to_half(v);
                else
                    df[c * plane + o] = v;
            }
        }
    }
    free(x0);
    free(wx);
    return KILN_OK;
}

kiln_status kiln_preprocess_image(const kiln_preprocess_desc *d, kiln_backend target, void *stream) {
    kiln_pp_params p;
    KILN_TRY(resolve(d, &p));
    if (target == KILN_BACKEND_AUTO) target = kiln_device_count() > 0 ? KILN_BACKEND_CUDA : KILN_BACKEND_CPU;
    switch (target) {
    case KILN_BACKEND_CPU:
        KILN_FAIL_IF(stream != NULL, KILN_ERR_INVALID_ARGUMENT,
                     "kiln_preprocess_image: the CPU target runs synchronously and takes no stream");
        return preprocess_cpu(&p);
    case KILN_BACKEND_CUDA:
#ifdef KILN_HAVE_CUDA
        KILN_FAIL_IF(kiln_device_count() == 0, KILN_ERR_DEVICE,
                     "kiln_preprocess_image: the CUDA target needs a GPU and none is available");
        return kiln_cuda_preprocess(&p, stream);
#else
        return kiln_error(KILN_ERR_UNSUPPORTED, "kiln_preprocess_image: kiln was built without CUDA");
#endif
    default:
        return kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_preprocess_image: unknown target %d", (int)target);
    }
}

kiln_status kiln_decode_image(const void *data, size_t size, int channels, int bgr, uint8_t **pixels, int *height,
                              int *width) {
    KILN_FAIL_IF(!pixels || !height || !width, KILN_ERR_INVALID_ARGUMENT,
                 "kiln_decode_image: pixels, height and width must not be NULL");
    *pixels = NULL;
    *height = *width = 0;
    KILN_FAIL_IF(channels != 1 && channels != 3, KILN_ERR_INVALID_ARGUMENT,
                 "kiln_decode_image: channels is %d (1 for gray, 3 for colour)", channels);
    kiln_pixel_format pf = channels == 1 ? KILN_PIXEL_GRAY : bgr ? KILN_PIXEL_BGR : KILN_PIXEL_RGB;
    kiln_image img;
    KILN_TRY(kiln_image_decode(data, size, pf, &img));
    *pixels = img.data;
    *height = img.height;
    *width = img.width;
    return KILN_OK;
}

void kiln_image_pixels_free(uint8_t *pixels) { free(pixels); }
