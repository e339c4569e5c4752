/* Shared by the per-format decoders of src/image (not for use outside it).
 *
 * Every decoder fills a kiln_image with 3-channel RGB, or with 1-channel L when the source has no colour (gray
 * JPEG/PNG/PNM/...), in a buffer of height * width * 3 bytes from kiln_image_alloc, so that image.c can convert
 * to the requested pixel format in place. Errors are KILN_ERR_RUNTIME for defective input, KILN_ERR_UNSUPPORTED
 * for valid input kiln does not handle (e.g. 12-bit JPEG), KILN_ERR_OUT_OF_MEMORY. */
#ifndef KILN_IMAGE_INTERNAL_H
#define KILN_IMAGE_INTERNAL_H

#include "image/image.h"

typedef kiln_status (*kiln_image_decoder)(const uint8_t *data, size_t size, kiln_image *out);

kiln_status kiln_image_decode_jpeg(const uint8_t *data, size_t size, kiln_image *out);
kiln_status kiln_image_decode_png(const uint8_t *data, size_t size, kiln_image *out);
kiln_status kiln_image_decode_bmp(const uint8_t *data, size_t size, kiln_image *out);
kiln_status kiln_image_decode_pnm(const uint8_t *data, size_t size, kiln_image *out);
kiln_status kiln_image_decode_tiff(const uint8_t *data, size_t size, kiln_image *out);
kiln_status kiln_image_decode_webp(const uint8_t *data, size_t size, kiln_image *out);
kiln_status kiln_image_decode_jp2(const uint8_t *data, size_t size, kiln_image *out);

/* Fails (naming `what`, the format) for non-positive dimensions or more than KILN_IMAGE_MAX_PIXELS pixels. */
kiln_status kiln_image_check_size(int64_t height, int64_t width, const char *what);
/* Checks the size limits and allocates height * width * 3 bytes; sets out->height/width/channels. Fails
 * (naming `what`, the format) for non-positive or too large dimensions. */
kiln_status kiln_image_alloc(kiln_image *out, int64_t height, int64_t width, int channels, const char *what);

/* Pillow's RGB -> L. */
static inline uint8_t kiln_image_luma(unsigned r, unsigned g, unsigned b) {
    return (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

#endif
