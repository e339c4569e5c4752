/* WebP (lossy and lossless) through libwebp's still-image decoder, alpha dropped; libwebp's defaults (fancy
 * upsampling) as Pillow uses them. Animated WebP (where Pillow gives the first frame) is not decoded. */
#include "image/image-internal.h"

#if KILN_HAVE_WEBP

#include <webp/decode.h>

static const char *webp_status(VP8StatusCode s) {
    switch (s) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "corrupt bitstream";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "truncated image data";
    default: return "decoding failed";
    }
}

kiln_status kiln_image_decode_webp(const uint8_t *data, size_t size, kiln_image *out) {
    WebPBitstreamFeatures f;
    VP8StatusCode st = WebPGetFeatures(data, size, &f);
    KILN_FAIL_IF(st != VP8_STATUS_OK, st == VP8_STATUS_UNSUPPORTED_FEATURE ? KILN_ERR_UNSUPPORTED : KILN_ERR_RUNTIME,
                 "WebP: %s (%zu bytes)", webp_status(st), size);
    KILN_FAIL_IF(f.has_animation, KILN_ERR_UNSUPPORTED, "WebP: animated images are not supported");
    KILN_TRY(kiln_image_alloc(out, f.height, f.width, 3, "WebP"));
    size_t stride = (size_t)f.width * 3;
    /* WebPDecodeRGBInto only says NULL on failure: WebPDecode with a config says why */
    WebPDecoderConfig cfg;
    KILN_FAIL_IF(!WebPInitDecoderConfig(&cfg), KILN_ERR_INTERNAL, "WebP: libwebp version mismatch");
    cfg.output.colorspace = MODE_RGB;
    cfg.output.is_external_memory = 1;
    cfg.output.u.RGBA.rgba = out->data;
    cfg.output.u.RGBA.stride = (int)stride;
    cfg.output.u.RGBA.size = stride * (size_t)f.height;
    st = WebPDecode(data, size, &cfg);
    WebPFreeDecBuffer(&cfg.output); /* external memory: frees nothing of ours */
    KILN_FAIL_IF(st != VP8_STATUS_OK, st == VP8_STATUS_UNSUPPORTED_FEATURE ? KILN_ERR_UNSUPPORTED : KILN_ERR_RUNTIME,
                 "WebP: %s (%zu bytes)", webp_status(st), size);
    return KILN_OK;
}

#else

kiln_status kiln_image_decode_webp(const uint8_t *data, size_t size, kiln_image *out) {
    (void)data, (void)size, (void)out;
    return kiln_error(KILN_ERR_UNSUPPORTED, "WebP: kiln was built without libwebp");
}

#endif
