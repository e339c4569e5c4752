/* CPU kernels: ImageDecoder (see registry.h). The decoding itself is src/image, shared with the sample app. */
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/registry.h"
#include "core/dtype.h"
#include "image/image.h"

typedef struct decoder_params {
    kiln_pixel_format pf;
} decoder_params;

static kiln_status decoder_prepare(const kiln_node *n, const kiln_graph *g, void **out) {
    (void)g;
    const char *fmt = kiln_attr_string(n, "pixel_format", "RGB");
    kiln_pixel_format pf;
    KILN_FAIL_IF(kiln_pixel_format_parse(fmt, &pf) != 0, KILN_ERR_UNSUPPORTED,
                 "ImageDecoder: pixel_format '%s' is not one of RGB, BGR, Grayscale", fmt);
    decoder_params *p = malloc(sizeof *p);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->pf = pf;
    *out = p;
    return KILN_OK;
}

static void decoder_release(void *p) { free(p); }

static kiln_status decoder_run(kiln_kctx *k) {
    const decoder_params *p = k->params;
    const kiln_tensor *x;
    KILN_TRY(kiln_kin_req(k, 0, &x));
    KILN_FAIL_IF(x->dtype != KILN_UINT8, KILN_ERR_TYPE, "ImageDecoder: encoded_stream must be uint8, got %s",
                 kiln_dtype_name(x->dtype));
    KILN_FAIL_IF(x->rank != 1, KILN_ERR_SHAPE, "ImageDecoder: encoded_stream must be 1-D, got rank %d", x->rank);
    kiln_image img;
    KILN_TRY(kiln_image_decode(x->data, (size_t)x->dims[0], p->pf, &img));
    int64_t dims[3] = {img.height, img.width, img.channels};
    kiln_tensor *y;
    kiln_status s = kiln_kout(k, 0, KILN_UINT8, 3, dims, &y);
    if (s == KILN_OK) memcpy(y->data, img.data, (size_t)img.height * (size_t)img.width * (size_t)img.channels);
    kiln_image_free(&img);
    return s;
}

const kiln_op_def kiln_cpu_ops_image[] = {
    {"ImageDecoder", "", 20, decoder_prepare, decoder_release, decoder_run},
    {0},
};
