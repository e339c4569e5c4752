/* Format detection, dispatch to the per-format decoders, and the final pixel-format conversion. */
#include <stdlib.h>
#include <string.h>

#include "image/image-internal.h"

static int starts_with(const uint8_t *d, size_t n, const void *magic, size_t m) {
    return n >= m && memcmp(d, magic, m) == 0;
}

kiln_image_format kiln_image_detect(const uint8_t *d, size_t n) {
    if (!d) return KILN_IMAGE_UNKNOWN;
    if (starts_with(d, n, "\xff\xd8\xff", 3)) return KILN_IMAGE_JPEG;
    if (starts_with(d, n, "\x89PNG\r\n\x1a\n", 8)) return KILN_IMAGE_PNG;
    if (starts_with(d, n, "BM", 2)) return KILN_IMAGE_BMP;
    if (n >= 3 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6' && strchr(" \t\r\n#", d[2]) && d[2]) return KILN_IMAGE_PNM;
    if (starts_with(d, n, "II*\0", 4) || starts_with(d, n, "MM\0*", 4) || starts_with(d, n, "II+\0", 4) ||
        starts_with(d, n, "MM\0+", 4))
        return KILN_IMAGE_TIFF;
    if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4)) return KILN_IMAGE_WEBP;
    if (starts_with(d, n, "\0\0\0\x0cjP  \r\n\x87\n", 12) || starts_with(d, n, "\xff\x4f\xff\x51", 4))
        return KILN_IMAGE_JP2;
    return KILN_IMAGE_UNKNOWN;
}

static const char *const format_names[] = {"unknown", "JPEG", "PNG", "BMP", "PNM", "TIFF", "WebP", "JPEG 2000"};
_Static_assert(sizeof format_names / sizeof format_names[0] == KILN_IMAGE_FORMAT_COUNT, "format_names");

const char *kiln_image_format_name(kiln_image_format f) {
    return (unsigned)f < KILN_IMAGE_FORMAT_COUNT ? format_names[f] : "invalid";
}

#ifndef KILN_HAVE_JPEG
#define KILN_HAVE_JPEG 0
#endif
#ifndef KILN_HAVE_PNG
#define KILN_HAVE_PNG 0
#endif
#ifndef KILN_HAVE_TIFF
#define KILN_HAVE_TIFF 0
#endif
#ifndef KILN_HAVE_WEBP
#define KILN_HAVE_WEBP 0
#endif
#ifndef KILN_HAVE_OPENJPEG
#define KILN_HAVE_OPENJPEG 0
#endif

static const struct {
    kiln_image_decoder decode;
    int available;
    const char *library; /* what a build without it is missing */
} decoders[] = {
    {NULL, 0, NULL},
    {kiln_image_decode_jpeg, KILN_HAVE_JPEG, "libjpeg"},
    {kiln_image_decode_png, KILN_HAVE_PNG, "libpng"},
    {kiln_image_decode_bmp, 1, NULL},
    {kiln_image_decode_pnm, 1, NULL},
    {kiln_image_decode_tiff, KILN_HAVE_TIFF, "libtiff"},
    {kiln_image_decode_webp, KILN_HAVE_WEBP, "libwebp"},
    {kiln_image_decode_jp2, KILN_HAVE_OPENJPEG, "OpenJPEG (libopenjp2)"},
};
_Static_assert(sizeof decoders / sizeof decoders[0] == KILN_IMAGE_FORMAT_COUNT, "decoders");

int kiln_image_format_available(kiln_image_format f) {
    return (unsigned)f < KILN_IMAGE_FORMAT_COUNT && decoders[f].available;
}

int kiln_pixel_format_parse(const char *s, kiln_pixel_format *out) {
    if (!s) return -1;
    if (!strcmp(s, "RGB")) *out = KILN_PIXEL_RGB;
    else if (!strcmp(s, "BGR")) *out = KILN_PIXEL_BGR;
    else if (!strcmp(s, "Grayscale")) *out = KILN_PIXEL_GRAY;
    else return -1;
    return 0;
}

kiln_status kiln_image_check_size(int64_t height, int64_t width, const char *what) {
    KILN_FAIL_IF(height <= 0 || width <= 0, KILN_ERR_RUNTIME, "%s image has an empty size %lld x %lld", what,
                 (long long)width, (long long)height);
    KILN_FAIL_IF(height > KILN_IMAGE_MAX_PIXELS / width, KILN_ERR_UNSUPPORTED,
                 "%s image of %lld x %lld pixels is larger than kiln decodes (%lld pixels)", what, (long long)width,
                 (long long)height, (long long)KILN_IMAGE_MAX_PIXELS);
    return KILN_OK;
}

kiln_status kiln_image_alloc(kiln_image *out, int64_t height, int64_t width, int channels, const char *what) {
    KILN_TRY(kiln_image_check_size(height, width, what));
    out->data = malloc((size_t)(height * width) * 3);
    KILN_FAIL_IF(!out->data, KILN_ERR_OUT_OF_MEMORY, "out of memory decoding a %lld x %lld %s image",
                 (long long)width, (long long)height, what);
    out->height = (int)height;
    out->width = (int)width;
    out->channels = channels;
    return KILN_OK;
}

void kiln_image_free(kiln_image *img) {
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

/* In place: the buffer holds height * width * 3 bytes whatever the decoder produced. */
static void convert(kiln_image *img, kiln_pixel_format pf) {
    size_t n = (size_t)img->height * (size_t)img->width;
    uint8_t *p = img->data;
    if (img->channels == 3) {
        if (pf == KILN_PIXEL_BGR) {
            for (size_t i = 0; i < n; i++) {
                uint8_t t = p[3 * i];
                p[3 * i] = p[3 * i + 2];
                p[3 * i + 2] = t;
            }
        } else if (pf == KILN_PIXEL_GRAY) {
            /* output i lands at or before input 3i, so a forward pass never reads what it overwrote */
            for (size_t i = 0; i < n; i++) p[i] = kiln_image_luma(p[3 * i], p[3 * i + 1], p[3 * i + 2]);
            img->channels = 1;
        }
    } else if (pf != KILN_PIXEL_GRAY) {
        /* Pillow's L -> RGB replicates; backwards so that no input is overwritten before it is read */
        for (size_t i = n; i-- > 0;) p[3 * i] = p[3 * i + 1] = p[3 * i + 2] = p[i];
        img->channels = 3;
    }
}

kiln_status kiln_image_decode(const uint8_t *data, size_t size, kiln_pixel_format pf, kiln_image *out) {
    KILN_FAIL_IF(!out, KILN_ERR_INVALID_ARGUMENT, "image decode: no output image");
    memset(out, 0, sizeof *out);
    KILN_FAIL_IF((unsigned)pf >= KILN_PIXEL_FORMAT_COUNT, KILN_ERR_INVALID_ARGUMENT, "invalid pixel format %d",
                 (int)pf);
    KILN_FAIL_IF(!data || size == 0, KILN_ERR_RUNTIME, "image decode: the encoded image is empty");
    kiln_image_format f = kiln_image_detect(data, size);
    if (f == KILN_IMAGE_UNKNOWN) {
        uint8_t head[4] = {0};
        memcpy(head, data, size < 4 ? size : 4);
        return kiln_error(KILN_ERR_RUNTIME,
                          "image decode: unrecognized image format (%zu bytes starting %02x %02x %02x %02x); kiln "
                          "reads JPEG, PNG, BMP, PNM, TIFF, WebP and JPEG 2000",
                          size, head[0], head[1], head[2], head[3]);
    }
    KILN_FAIL_IF(!decoders[f].available, KILN_ERR_UNSUPPORTED,
                 "image decode: this is a %s image and kiln was built without %s", format_names[f],
                 decoders[f].library);
    kiln_status s = decoders[f].decode(data, size, out);
    if (s != KILN_OK) {
        kiln_image_free(out);
        return s;
    }
    convert(out, pf);
    return KILN_OK;
}
