/* TIFF through libtiff, first directory only, read from memory.
 *
 * 8- and 16-bit RGB and gray with interleaved samples (what nearly every TIFF is) are unpacked here so that the
 * colour values stay the stored ones, as Pillow returns them (extra alpha samples dropped, 16-bit samples keep
 * their high byte, min-is-white inverted). Everything else (palettes, bilevel, planar, YCbCr, CMYK, LogLuv, ...)
 * goes through libtiff's TIFFReadRGBAImage, which premultiplies unassociated alpha: such images may then differ
 * from Pillow where alpha < 255.
 *
 * libtiff's default error handlers print to stderr; with libtiff >= 4.5 ours collect the message per open file
 * (no global state), and the last one goes into kiln's error. */
#include "image/image-internal.h"

#if KILN_HAVE_TIFF

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#if defined(TIFFLIB_VERSION) && TIFFLIB_VERSION >= 20221213
#define KILN_TIFF_OPTIONS 1
#else
#define KILN_TIFF_OPTIONS 0
#endif

typedef struct tiff_mem {
    const uint8_t *data;
    toff_t size, pos;
    char message[256];
} tiff_mem;

static tmsize_t mem_read(thandle_t h, void *buf, tmsize_t n) {
    tiff_mem *m = (tiff_mem *)h;
    if (n <= 0 || m->pos >= m->size) return 0;
    toff_t left = m->size - m->pos;
    if ((toff_t)n > left) n = (tmsize_t)left;
    memcpy(buf, m->data + m->pos, (size_t)n);
    m->pos += (toff_t)n;
    return n;
}

static tmsize_t mem_write(thandle_t h, void *buf, tmsize_t n) { return (void)h, (void)buf, (void)n, -1; }

static toff_t mem_seek(thandle_t h, toff_t off, int whence) {
    tiff_mem *m = (tiff_mem *)h;
    toff_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->size : 0;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return (toff_t)-1;
    /* offsets are unsigned here: a negative relative seek wraps, which this sum undoes */
    toff_t to = base + off;
    if (to > m->size) return (toff_t)-1;
    m->pos = to;
    return to;
}

static int mem_close(thandle_t h) { return (void)h, 0; }
static toff_t mem_size(thandle_t h) { return ((tiff_mem *)h)->size; }
static int mem_map(thandle_t h, void **base, toff_t *size) { return (void)h, (void)base, (void)size, 0; }
static void mem_unmap(thandle_t h, void *base, toff_t size) { (void)h, (void)base, (void)size; }

#if KILN_TIFF_OPTIONS
static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif;
    tiff_mem *m = user;
    int k = snprintf(m->message, sizeof m->message, "%s: ", module ? module : "libtiff");
    if (k < 0 || (size_t)k >= sizeof m->message) k = 0;
    vsnprintf(m->message + k, sizeof m->message - (size_t)k, fmt, ap);
    return 1;
}
static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
    return 1;
}
#endif

static kiln_status tiff_fail(const tiff_mem *m, const char *what) {
    return kiln_error(KILN_ERR_RUNTIME, "TIFF: %s%s%s", what, m->message[0] ? ": " : "", m->message);
}

/* The interleaved 8/16-bit RGB / gray layouts unpacked here; 0 when another path must read the image. */
static int simple_layout(TIFF *tif, int *channels, int *bits, int *spp, int *invert) {
    uint16_t bps = 0, s = 0, photo = 0, planar = PLANARCONFIG_CONTIG, fmt = SAMPLEFORMAT_UINT;
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &s);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo)) return 0;
    if ((bps != 8 && bps != 16) || planar != PLANARCONFIG_CONTIG || fmt != SAMPLEFORMAT_UINT) return 0;
    if (photo == PHOTOMETRIC_RGB && s >= 3) *channels = 3;
    else if ((photo == PHOTOMETRIC_MINISBLACK || photo == PHOTOMETRIC_MINISWHITE) && s >= 1) *channels = 1;
    else return 0;
    *bits = bps;
    *spp = s;
    *invert = photo == PHOTOMETRIC_MINISWHITE;
    return 1;
}

/* Copies a decoded block (strip or tile) of `bw` x `bh` pixels at (x0, y0) into the image, clipped to it. */
static void put_block(kiln_image *out, const uint8_t *buf, uint32_t x0, uint32_t y0, uint32_t bw, uint32_t bh,
                      int bits, int spp, int invert) {
    int ch = out->channels, bytes = bits / 8;
    size_t pixel = (size_t)spp * (size_t)bytes;
    for (uint32_t y = 0; y < bh && y0 + y < (uint32_t)out->height; y++) {
        const uint8_t *s = buf + (size_t)y * bw * pixel;
        uint8_t *d = out->data + ((size_t)(y0 + y) * (size_t)out->width + x0) * (size_t)ch;
        for (uint32_t x = 0; x < bw && x0 + x < (uint32_t)out->width; x++, s += pixel, d += ch)
            for (int c = 0; c < ch; c++) {
                /* libtiff hands 16-bit samples over in host order */
                uint8_t v = bytes == 1 ? s[c] : (uint8_t)(((const uint16_t *)(const void *)s)[c] >> 8);
                d[c] = invert ? (uint8_t)(255 - v) : v;
            }
    }
}

static kiln_status read_simple(TIFF *tif, tiff_mem *m, kiln_image *out, int bits, int spp, int invert) {
    uint32_t w = (uint32_t)out->width, h = (uint32_t)out->height;
    int tiled = TIFFIsTiled(tif);
    tmsize_t cap = tiled ? TIFFTileSize(tif) : TIFFStripSize(tif);
    if (cap <= 0) return tiff_fail(m, "invalid strip or tile size");
    uint8_t *buf = malloc((size_t)cap);
    KILN_FAIL_IF(!buf, KILN_ERR_OUT_OF_MEMORY, "out of memory decoding a TIFF image");
    kiln_status s = KILN_OK;
    if (tiled) {
        uint32_t tw = 0, th = 0;
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
        if (!tw || !th || (tmsize_t)tw * th * spp * (bits / 8) > cap) s = tiff_fail(m, "invalid tile size");
        for (uint32_t y = 0; s == KILN_OK && y < h; y += th)
            for (uint32_t x = 0; s == KILN_OK && x < w; x += tw) {
                if (TIFFReadEncodedTile(tif, TIFFComputeTile(tif, x, y, 0, 0), buf, cap) < 0)
                    s = tiff_fail(m, "cannot decode a tile");
                else put_block(out, buf, x, y, tw, th, bits, spp, invert);
            }
    } else {
        uint32_t rps = 0;
        TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
        if (rps == 0 || rps > h) rps = h;
        for (uint32_t y = 0; s == KILN_OK && y < h; y += rps) {
            uint32_t rows = h - y < rps ? h - y : rps;
            tmsize_t need = (tmsize_t)rows * w * spp * (bits / 8);
            if (need > cap) s = tiff_fail(m, "invalid strip size");
            else if (TIFFReadEncodedStrip(tif, TIFFComputeStrip(tif, y, 0), buf, need) < need)
                s = tiff_fail(m, "truncated or undecodable strip");
            else put_block(out, buf, 0, y, w, rows, bits, spp, invert);
        }
    }
    free(buf);
    return s;
}

static kiln_status read_rgba(TIFF *tif, tiff_mem *m, kiln_image *out) {
    char emsg[1024] = "";
    if (!TIFFRGBAImageOK(tif, emsg)) return kiln_error(KILN_ERR_UNSUPPORTED, "TIFF: %s", emsg);
    size_t n = (size_t)out->width * (size_t)out->height;
    uint32_t *px = malloc(n * sizeof *px);
    KILN_FAIL_IF(!px, KILN_ERR_OUT_OF_MEMORY, "out of memory decoding a TIFF image");
    /* Pillow keeps the stored row order whatever the Orientation tag says: ask libtiff for the file's own one */
    uint16_t orient = ORIENTATION_TOPLEFT;
    TIFFGetFieldDefaulted(tif, TIFFTAG_ORIENTATION, &orient);
    if (!TIFFReadRGBAImageOriented(tif, (uint32_t)out->width, (uint32_t)out->height, px, orient, 1)) {
        free(px);
        return tiff_fail(m, "cannot decode the image");
    }
    for (size_t i = 0; i < n; i++) {
        out->data[3 * i] = (uint8_t)TIFFGetR(px[i]);
        out->data[3 * i + 1] = (uint8_t)TIFFGetG(px[i]);
        out->data[3 * i + 2] = (uint8_t)TIFFGetB(px[i]);
    }
    free(px);
    return KILN_OK;
}

kiln_status kiln_image_decode_tiff(const uint8_t *data, size_t size, kiln_image *out) {
    tiff_mem m = {.data = data, .size = (toff_t)size};
    TIFF *tif;
#if KILN_TIFF_OPTIONS
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    KILN_FAIL_IF(!opts, KILN_ERR_OUT_OF_MEMORY, "out of memory decoding a TIFF image");
    TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, &m);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, &m);
    /* a strip or tile larger than the largest image kiln decodes is a lie of the header */
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, (tmsize_t)(KILN_IMAGE_MAX_PIXELS * 8));
    tif = TIFFClientOpenExt("memory", "rm", (thandle_t)&m, mem_read, mem_write, mem_seek, mem_close, mem_size,
                            mem_map, mem_unmap, opts);
    TIFFOpenOptionsFree(opts);
#else
    tif = TIFFClientOpen("memory", "rm", (thandle_t)&m, mem_read, mem_write, mem_seek, mem_close, mem_size, mem_map,
                         mem_unmap);
#endif
    if (!tif) return tiff_fail(&m, "cannot read the header");
    uint32_t w = 0, h = 0;
    kiln_status s = KILN_OK;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h))
        s = tiff_fail(&m, "no image size");
    int channels = 3, bits = 8, spp = 3, invert = 0;
    int simple = s == KILN_OK && simple_layout(tif, &channels, &bits, &spp, &invert);
    if (s == KILN_OK) s = kiln_image_alloc(out, h, w, simple ? channels : 3, "TIFF");
    if (s == KILN_OK) s = simple ? read_simple(tif, &m, out, bits, spp, invert) : read_rgba(tif, &m, out);
    TIFFClose(tif);
    return s;
}

#else

kiln_status kiln_image_decode_tiff(const uint8_t *data, size_t size, kiln_image *out) {
    (void)data, (void)size, (void)out;
    return kiln_error(KILN_ERR_UNSUPPORTED, "TIFF: kiln was built without libtiff");
}

#endif
