/* Image decoding: encoded bytes (JPEG, PNG, BMP, PNM, TIFF, WebP, JPEG 2000) -> uint8 HWC pixels in RGB, BGR
 * or grayscale. Used by the ImageDecoder op (backends/cpu/image.c) and by the sample app's pre-processing.
 *
 * Pixel values match what Pillow produces for the same file (`np.array(Image.open(f).convert(mode))`), since the
 * ONNX ImageDecoder reference is defined that way: JPEG through libjpeg(-turbo) with its defaults (ISLOW IDCT,
 * fancy upsampling), grayscale as Pillow's RGB->L (L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16), alpha
 * dropped, palettes expanded, no gamma or colour management, first frame only.
 *
 * TIFF, WebP and JPEG 2000 (and JPEG, PNG) need their libraries at build time; a format kiln was built without
 * fails with KILN_ERR_UNSUPPORTED and says which library is missing. Malformed or truncated input fails with
 * KILN_ERR_RUNTIME and a message naming the format and the defect; it never crashes or exits. Thread-safe: no
 * global state. */
#ifndef KILN_IMAGE_IMAGE_H
#define KILN_IMAGE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef enum kiln_image_format {
    KILN_IMAGE_UNKNOWN = 0,
    KILN_IMAGE_JPEG = 1,
    KILN_IMAGE_PNG = 2,
    KILN_IMAGE_BMP = 3,
    KILN_IMAGE_PNM = 4,
    KILN_IMAGE_TIFF = 5,
    KILN_IMAGE_WEBP = 6,
    KILN_IMAGE_JP2 = 7, /* JPEG 2000: JP2 container or raw J2K codestream */
    KILN_IMAGE_FORMAT_COUNT
} kiln_image_format;

typedef enum kiln_pixel_format {
    KILN_PIXEL_RGB = 0,
    KILN_PIXEL_BGR = 1,
    KILN_PIXEL_GRAY = 2,
    KILN_PIXEL_FORMAT_COUNT
} kiln_pixel_format;

/* A decoded image: height x width x channels bytes, row-major, channels interleaved (3, or 1 for GRAY).
 * `data` is owned by the image: free it with kiln_image_free. */
typedef struct kiln_image {
    int height, width, channels;
    uint8_t *data;
} kiln_image;

/* Decoding refuses images with more pixels than this before allocating anything (a 40-byte header can claim
 * 4 billion pixels). 2^28 pixels is 16384 x 16384; larger inputs are not images a network consumes. */
#define KILN_IMAGE_MAX_PIXELS ((int64_t)1 << 28)

/* Which format the bytes start like (magic numbers only; nothing else is validated). */
kiln_image_format kiln_image_detect(const uint8_t *data, size_t size);
const char *kiln_image_format_name(kiln_image_format f);
/* 1 when this build can decode format f. */
int kiln_image_format_available(kiln_image_format f);
/* Parses "RGB", "BGR", "Grayscale" (the ONNX attribute values); returns 0 on success, -1 otherwise. */
int kiln_pixel_format_parse(const char *s, kiln_pixel_format *out);

/* Decodes `data` into `out` (which the caller then owns; on failure `out` is left empty). */
kiln_status kiln_image_decode(const uint8_t *data, size_t size, kiln_pixel_format pf, kiln_image *out);
void kiln_image_free(kiln_image *img);

#endif
