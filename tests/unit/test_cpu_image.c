/* Image decoding without external libraries: BMP and PNM files built here byte by byte (every layout the decoders
 * handle), pixel-format conversion, defective input, and the ImageDecoder kernel. tests/unit/test_cpu_image_files.c
 * covers the library-backed formats against Pillow's output. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "image/image.h"
#include "oneop.h"

/* ------------------------------------------------------------------------------------------------ builders */

typedef struct bytes {
    uint8_t d[4096];
    size_t n;
} bytes;

static void put8(bytes *b, unsigned v) { b->d[b->n++] = (uint8_t)v; }
static void put16(bytes *b, unsigned v) { put8(b, v & 255), put8(b, v >> 8); }
static void put32(bytes *b, uint32_t v) { put16(b, v & 0xffff), put16(b, v >> 16); }
static void put_str(bytes *b, const char *s) {
    size_t n = strlen(s);
    memcpy(b->d + b->n, s, n);
    b->n += n;
}

/* A BMP with a 40-byte info header (or the 12-byte core one), masks after the header when given, a palette of
 * `ncolors` entries (BGRX, or BGR for the core header), then `npix` bytes of pixel data. */
static void make_bmp(bytes *b, int core, int32_t w, int32_t h, int bpp, uint32_t compression, const uint32_t *masks,
                     const uint8_t *palette, int ncolors, const uint8_t *pix, size_t npix) {
    int hsize = core ? 12 : 40, entry = core ? 3 : 4;
    size_t offset = 14 + (size_t)hsize + (masks ? 12 : 0) + (size_t)ncolors * (size_t)entry;
    b->n = 0;
    put_str(b, "BM");
    put32(b, (uint32_t)(offset + npix));
    put32(b, 0);
    put32(b, (uint32_t)offset);
    put32(b, (uint32_t)hsize);
    if (core) {
        put16(b, (unsigned)w), put16(b, (unsigned)h), put16(b, 1), put16(b, (unsigned)bpp);
    } else {
        put32(b, (uint32_t)w), put32(b, (uint32_t)h), put16(b, 1), put16(b, (unsigned)bpp);
        put32(b, compression), put32(b, (uint32_t)npix), put32(b, 2835), put32(b, 2835);
        put32(b, (uint32_t)ncolors), put32(b, 0);
    }
    for (int i = 0; masks && i < 3; i++) put32(b, masks[i]);
    if (ncolors) memcpy(b->d + b->n, palette, (size_t)ncolors * (size_t)entry);
    b->n += (size_t)ncolors * (size_t)entry;
    memcpy(b->d + b->n, pix, npix);
    b->n += npix;
}

static uint8_t luma(const uint8_t *p) { /* Pillow's ITU-R 601-2 luma in 16-bit fixed point */
    return (uint8_t)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
}

static int decode(const bytes *b, kiln_pixel_format pf, kiln_image *img) {
    kiln_status s = kiln_image_decode(b->d, b->n, pf, img);
    if (s != KILN_OK) fprintf(stderr, "  decode: %s\n", kiln_error_text());
    return s == KILN_OK;
}

static const uint8_t *px(const kiln_image *img, int x, int y) {
    return img->data + ((size_t)y * (size_t)img->width + (size_t)x) * (size_t)img->channels;
}

static int is_rgb(const kiln_image *img, int x, int y, int r, int g, int b) {
    const uint8_t *p = px(img, x, y);
    return p[0] == r && p[1] == g && p[2] == b;
}

/* ------------------------------------------------------------------------------------------------ BMP */

/* 24-bit, bottom-up, 3 x 2 (rows padded to 12 bytes): pixel (x, y) is (10x + y, 50 + x, 200 - y). */
static void bmp24(bytes *b) {
    uint8_t pix[24] = {0};
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 3; x++) {
            uint8_t *q = pix + (1 - y) * 12 + 3 * x; /* stored bottom row first */
            q[0] = (uint8_t)(200 - y), q[1] = (uint8_t)(50 + x), q[2] = (uint8_t)(10 * x + y);
        }
    make_bmp(b, 0, 3, 2, 24, 0, NULL, NULL, 0, pix, sizeof pix);
}

static void test_bmp_direct(void) {
    bytes b;
    kiln_image img;
    bmp24(&b);
    CHECK(kiln_image_detect(b.d, b.n) == KILN_IMAGE_BMP);
    if (decode(&b, KILN_PIXEL_RGB, &img)) {
        CHECK(img.width == 3 && img.height == 2 && img.channels == 3);
        int ok = 1;
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 3; x++) ok &= is_rgb(&img, x, y, 10 * x + y, 50 + x, 200 - y);
        CHECK(ok);
        kiln_image_free(&img);
    }
    if (decode(&b, KILN_PIXEL_BGR, &img)) {
        CHECK(img.channels == 3 && is_rgb(&img, 2, 1, 199, 52, 21));
        kiln_image_free(&img);
    }
    if (decode(&b, KILN_PIXEL_GRAY, &img)) {
        uint8_t want[3] = {21, 52, 199};
        CHECK(img.channels == 1 && px(&img, 2, 1)[0] == luma(want));
        kiln_image_free(&img);
    }

    /* the same pixels under a 12-byte OS/2 core header */
    uint8_t pix24[24];
    memcpy(pix24, b.d + 54, 24);
    make_bmp(&b, 1, 3, 2, 24, 0, NULL, NULL, 0, pix24, sizeof pix24);
    if (decode(&b, KILN_PIXEL_RGB, &img)) {
        CHECK(is_rgb(&img, 1, 0, 10, 51, 200) && is_rgb(&img, 0, 1, 1, 50, 199));
        kiln_image_free(&img);
    }

    /* 32-bit BGRX, top-down (negative height): the X byte is ignored */
    uint8_t pix32[] = {1, 2, 3, 99, 4, 5, 6, 0, 7, 8, 9, 255, 10, 11, 12, 7};
    make_bmp(&b, 0, 2, -2, 32, 0, NULL, NULL, 0, pix32, sizeof pix32);
    if (decode(&b, KILN_PIXEL_RGB, &img)) {
        CHECK(is_rgb(&img, 0, 0, 3, 2, 1) && is_rgb(&img, 1, 0, 6, 5, 4) && is_rgb(&img, 0, 1, 9, 8, 7) &&
              is_rgb(&img, 1, 1, 12, 11, 10));
        kiln_image_free(&img);
    }

    /* 16-bit default 5-5-5: channels scale as v * 255 / 31, truncated */
    uint8_t pix555[] = {0xff, 0x7f, 0x00, 0x7c, 0x01, 0x00, 0x10, 0x02}; /* 4 x 1, row = 8 bytes */
    make_bmp(&b, 0, 4, 1, 16, 0, NULL, NULL, 0, pix555, sizeof pix555);
    if (decode(&b, KILN_PIXEL_RGB, &img)) {
        /* 0x7fff white; 0x7c00 red; 0x0001 blue 1 -> 8; 0x0210: green 16 -> 131, blue 16 -> 131 */
        CHECK(is_rgb(&img, 0, 0, 255, 255, 255) && is_rgb(&img, 1, 0, 255, 0, 0) && is_rgb(&img, 2, 0, 0, 0, 8) &&
              is_rgb(&img, 3, 0, 0, 131, 131));
        kiln_image_free(&img);
    }

    /* 16-bit 5-6-5 through BI_BITFIELDS masks after the header */
    uint32_t m565[3] = {0xf800, 0x07e0, 0x001f};
    uint8_t pix565[] = {0xe0, 0x07, 0x20, 0x00}; /* 2 x 1: green 63 -> 255, green 1 -> 4 */
    make_bmp(&b, 0, 2, 1, 16, 3, m565, NULL, 0, pix565, sizeof pix565);
    if (decode(&b, KILN_PIXEL_RGB, &img)) {
        CHECK(is_rgb(&img, 0, 0, 0, 255, 0) && is_rgb(&img, 1, 0, 0, 4, 0));
        kiln_image_free(&img);
    }

    /* 32-bit with masks in an unusual order (R in the low byte) */
    uint32_t mrgb[3] = {0x000000ff, 0x0000ff00, 0x00ff0000};
    uint8_t pixm[] = {11, 22, 33, 44};
    make_bmp(&b, 0, 1, 1, 32, 3, mrgb, NULL, 0, pixm, sizeof pixm);
    if (decode(&b, KILN_PIXEL_RGB, &img)) {
        CHECK(is_rgb(&img, 0, 0, 11, 22, 33));
        kiln_image_free(&img);
    }
    uint32_t holes[3] = {0x00f0f000, 0xff00, 0xff};
    make_bmp(&b, 0, 1, 1, 32, 3, holes, NULL, 0, pixm, sizeof pixm);
    CHECK(kiln_image_decode(b.d, b.n, KILN_PIXEL_RGB, &img) == KILN_ERR_RUNTIME);
    CHECK(strstr(kiln_error_text(), "contiguous") != NULL);
}

static const uint8_t pal[] = {
    0, 0, 0, 0,    /* 0 black */
    255, 0, 0, 0,  /* 1 blue (B, G, R, X) */
    0, 255, 0, 0,  /* 2 green */
    0, 0, 255, 0,  /* 3 red */
    10, 20, 30, 0, /* 4 */
};

static void test_bmp_palette(void) {
    bytes b;
    kiln_image img;
    /* 8-bit, 5 x 2, rows padded to 8 bytes; index 9 is past the 5-entry palette: black */
    uint8_t p8[] = {1, 2, 3, 4, 0, 0, 0, 0, /* bottom row */ 4, 3, 2, 1, 9, 0, 0, 0};
    make_bmp(&b, 0, 5, 2, 8, 0, NULL, pal, 5, p8, sizeof p8);
    if (decode(&b, KILN_PIXEL_RGB, &img)) {
        CHECK(is_rgb(&img, 0, 0, 30, 20, 10) && is_rgb(&img, 1, 0, 255, 0, 0) && is_rgb(&img, 3, 0, 0, 0, 255) &&
              is_rgb(&img, 4, 0, 0, 0, 0));
        CHECK(is_rgb(&img, 0, 1, 0, 0, 255) && is_rgb(&img, 3, 1, 30, 20, 10) && is_rgb(&img, 4, 1, 0, 0, 0));
        kiln_image_free(&img);
    }
    /* 4-bit, 3 x 1: nibbles high first */
    uint8_t p4[] = {0x12, 0x30, 0, 0};
    make_bmp(&b, 0, 3, 1, 4, 0, NULL, pal, 5, p4, sizeof p4);
    if (decode(&b, KILN_PIXEL_RGB, &img)) {
        CHECK(is_rgb(&img, 0, 0, 0, 0, 255) && is_rgb(&img, 1, 0, 0, 255, 0) && is_rgb(&img, 2, 0, 255, 0, 0));
        kiln_image_free(&img);
    }
    /* 1-bit, 10 x 1 with a 2-entry palette (black, white) */
    uint8_t bw[] = {0, 0, 0, 0, 255, 255, 255, 0};
    uint8_t p1[] = {0xa5, 0x40, 0, 0}; /* 1010 0101 01 */
    make_bmp(&b, 0, 10, 1, 1, 0, NULL, bw, 2, p1, sizeof p1);
    if (decode(&b, KILN_PIXEL_GRAY, &img)) {
        const uint8_t want[10] = {255, 0, 255, 0, 0, 255, 0, 255, 0, 255};
        CHECK(img.channels == 1 && memcmp(img.data, want, 10) == 0);
        kiln_image_free(&img);
    }
}

static void test_bmp_rle(void) {
    bytes b;
    kiln_image img;
    /* RLE8, 4 x 3, bottom-up. Stored row 0: run of 3 x index 1, EOL. Row 1: literal 2,3,4 (padded), then
     * delta (+0, +1) which leaves the rest of row 1 and the start of row 2 at index 0, run 1 x 3, EOB. */
    uint8_t rle8[] = {3, 1, 0, 0, 0, 3, 2, 3, 4, 0, 0, 2, 0, 1, 1, 3, 0, 1};
    make_bmp(&b, 0, 4, 3, 8, 1, NULL, pal, 5, rle8, sizeof rle8);
    if (decode(&b, KILN_PIXEL_RGB, &img)) {
        /* image row 2 = stored row 0 */
        CHECK(is_rgb(&img, 0, 2, 0, 0, 255) && is_rgb(&img, 2, 2, 0, 0, 255) && is_rgb(&img, 3, 2, 0, 0, 0));
        CHECK(is_rgb(&img, 0, 1, 0, 255, 0) && is_rgb(&img, 1, 1, 255, 0, 0) && is_rgb(&img, 2, 1, 30, 20, 10) &&
              is_rgb(&img, 3, 1, 0, 0, 0));
        /* after the delta: x = 3 of stored row 2 (image row 0) */
        CHECK(is_rgb(&img, 0, 0, 0, 0, 0) && is_rgb(&img, 2, 0, 0, 0, 0) && is_rgb(&img, 3, 0, 255, 0, 0));
        kiln_image_free(&img);
    }
    /* RLE4, 5 x 1: run of 3 alternating 1,2; literal of 3 nibbles (3, 4, 1: the last one past the row); EOB */
    uint8_t rle4[] = {3, 0x12, 0, 3, 0x34, 0x10, 0, 1};
    make_bmp(&b, 0, 5, 1, 4, 2, NULL, pal, 5, rle4, sizeof rle4);
    if (decode(&b, KILN_PIXEL_RGB, &img)) {
        CHECK(is_rgb(&img, 0, 0, 0, 0, 255) && is_rgb(&img, 1, 0, 0, 255, 0) && is_rgb(&img, 2, 0, 0, 0, 255) &&
              is_rgb(&img, 3, 0, 255, 0, 0) && is_rgb(&img, 4, 0, 30, 20, 10));
        kiln_image_free(&img);
    }
    /* a run that overflows its row is clipped; a stream without EOB ends with its last row */
    uint8_t wide[] = {9, 2, 0, 0, 4, 3, 0, 0};
    make_bmp(&b, 0, 4, 2, 8, 1, NULL, pal, 5, wide, sizeof wide);
    if (decode(&b, KILN_PIXEL_RGB, &img)) {
        CHECK(is_rgb(&img, 3, 1, 0, 255, 0) && is_rgb(&img, 0, 0, 255, 0, 0));
        kiln_image_free(&img);
    }
    /* a literal run cut short by the end of the data */
    uint8_t cut[] = {0, 5, 1, 2};
    make_bmp(&b, 0, 8, 1, 8, 1, NULL, pal, 5, cut, sizeof cut);
    CHECK(kiln_image_decode(b.d, b.n, KILN_PIXEL_RGB, &img) == KILN_ERR_RUNTIME);
    CHECK(strstr(kiln_error_text(), "truncated") != NULL);
}

static void test_bmp_defects(void) {
    bytes b;
    kiln_image img;
    bmp24(&b);
    /* every strict prefix fails cleanly (the image is complete only with its last byte) */
    int all_fail = 1;
    for (size_t n = 0; n < b.n; n++) {
        kiln_status s = kiln_image_decode(b.d, n, KILN_PIXEL_RGB, &img);
        all_fail &= s != KILN_OK && img.data == NULL;
        if (s == KILN_OK) kiln_image_free(&img);
    }
    CHECK(all_fail);
    CHECK(kiln_image_decode(b.d, b.n - 1, KILN_PIXEL_RGB, &img) == KILN_ERR_RUNTIME);
    CHECK(strstr(kiln_error_text(), "BMP") != NULL && strstr(kiln_error_text(), "truncated") != NULL);

    /* a header that claims 2^20 x 2^20 pixels is refused before any allocation */
    uint8_t one[4] = {0};
    make_bmp(&b, 0, 1 << 20, 1 << 20, 24, 0, NULL, NULL, 0, one, sizeof one);
    CHECK(kiln_image_decode(b.d, b.n, KILN_PIXEL_RGB, &img) == KILN_ERR_UNSUPPORTED);
    CHECK(strstr(kiln_error_text(), "larger") != NULL);
    make_bmp(&b, 0, 0, 5, 24, 0, NULL, NULL, 0, one, sizeof one);
    CHECK(kiln_image_decode(b.d, b.n, KILN_PIXEL_RGB, &img) == KILN_ERR_RUNTIME);
    make_bmp(&b, 0, 1, 1, 24, 4 /* BI_JPEG */, NULL, NULL, 0, one, sizeof one);
    CHECK(kiln_image_decode(b.d, b.n, KILN_PIXEL_RGB, &img) == KILN_ERR_UNSUPPORTED);
    CHECK(strstr(kiln_error_text(), "compression 4") != NULL);
    make_bmp(&b, 0, 1, 1, 8, 0, NULL, NULL, 0, one, sizeof one);
    CHECK(kiln_image_decode(b.d, b.n, KILN_PIXEL_RGB, &img) == KILN_ERR_RUNTIME); /* palette image, no palette */

    /* "BM" then noise, many seeds: any status, never a crash (ASan builds check the reads) */
    uint32_t seed = 12345;
    for (int iter = 0; iter < 2000; iter++) {
        bmp24(&b);
        int flips = 1 + iter % 6;
        for (int f = 0; f < flips; f++) {
            seed = seed * 1664525u + 1013904223u;
            size_t at = 2 + (seed >> 8) % (b.n - 2);
            b.d[at] = (uint8_t)(seed >> 24);
        }
        if (kiln_image_decode(b.d, b.n, KILN_PIXEL_RGB, &img) == KILN_OK) {
            CHECK(img.width > 0 && img.height > 0 && img.channels == 3);
            kiln_image_free(&img);
        }
    }
}

/* ------------------------------------------------------------------------------------------------ PNM */

static int decode_str(const char *s, size_t n, kiln_pixel_format pf, kiln_image *img) {
    bytes b;
    memcpy(b.d, s, n);
    b.n = n;
    return decode(&b, pf, img);
}

static void test_pnm(void) {
    kiln_image img;
    const char p6[] = "P6\n# a comment\n2 1\n255\n\x01\x02\x03\xfa\xfb\xfc";
    CHECK(kiln_image_detect((const uint8_t *)p6, sizeof p6 - 1) == KILN_IMAGE_PNM);
    if (decode_str(p6, sizeof p6 - 1, KILN_PIXEL_BGR, &img)) {
        CHECK(img.width == 2 && img.height == 1 && is_rgb(&img, 0, 0, 3, 2, 1) && is_rgb(&img, 1, 0, 252, 251, 250));
        kiln_image_free(&img);
    }
    /* plain PPM with comments between samples */
    const char p3[] = "P3 2 2 255\n1 2 3  4 5 6 # row end\n 7 8 9\n10 11 12\n";
    if (decode_str(p3, sizeof p3 - 1, KILN_PIXEL_RGB, &img)) {
        CHECK(is_rgb(&img, 1, 0, 4, 5, 6) && is_rgb(&img, 0, 1, 7, 8, 9) && is_rgb(&img, 1, 1, 10, 11, 12));
        kiln_image_free(&img);
    }
    /* maxval 1000: round(v / 1000 * 255) with ties to even: 500 -> 127.5 -> 128, 2 -> 1, 1 -> 0, 1000 -> 255 */
    const char p2[] = "P2\n4 1\n1000\n500 2 1 1000\n";
    if (decode_str(p2, sizeof p2 - 1, KILN_PIXEL_GRAY, &img)) {
        const uint8_t want[4] = {128, 1, 0, 255};
        CHECK(img.channels == 1 && memcmp(img.data, want, 4) == 0);
        kiln_image_free(&img);
    }
    /* maxval 10: 1 -> 25.5 -> 26 (even), 3 -> 76.5 -> 76 (even) */
    const char p2b[] = "P2 2 1 10 1 3";
    if (decode_str(p2b, sizeof p2b - 1, KILN_PIXEL_GRAY, &img)) {
        CHECK(img.data[0] == 26 && img.data[1] == 76);
        kiln_image_free(&img);
    }
    /* 16-bit raw PGM, big-endian samples; gray sources replicate into RGB */
    const char p5[] = "P5 2 1 1000\n\x01\xf4\x03\xe8";
    if (decode_str(p5, sizeof p5 - 1, KILN_PIXEL_RGB, &img)) {
        CHECK(img.channels == 3 && is_rgb(&img, 0, 0, 128, 128, 128) && is_rgb(&img, 1, 0, 255, 255, 255));
        kiln_image_free(&img);
    }
    /* raw samples above maxval clip */
    const char p5c[] = "P5 2 1 100\n\x32\xc8";
    if (decode_str(p5c, sizeof p5c - 1, KILN_PIXEL_GRAY, &img)) {
        CHECK(img.data[0] == 128 && img.data[1] == 255);
        kiln_image_free(&img);
    }
    /* bitmaps: 1 is black; P1 digits need no separators; P4 rows pad to bytes */
    const char p1[] = "P1\n3 2\n010\n1 1 0";
    if (decode_str(p1, sizeof p1 - 1, KILN_PIXEL_GRAY, &img)) {
        const uint8_t want[6] = {255, 0, 255, 0, 0, 255};
        CHECK(memcmp(img.data, want, 6) == 0);
        kiln_image_free(&img);
    }
    const char p4[] = "P4 10 2\n\xa5\x40\x00\xc0";
    if (decode_str(p4, sizeof p4 - 1, KILN_PIXEL_GRAY, &img)) {
        const uint8_t want[20] = {0, 255, 0, 255, 255, 0, 255, 0, 255, 0, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0};
        CHECK(memcmp(img.data, want, 20) == 0);
        kiln_image_free(&img);
    }

    struct {
        const char *s;
        const char *msg;
    } bad[] = {
        {"P6 2 2 255\n\x01\x02\x03", "truncated"},
        {"P6 2 2", "truncated"},
        {"P3 1 1 255 1 2", "truncated"},
        {"P2 1 1 10 11", "above maxval"},
        {"P5 1 1 0\n\x00", "maxval"},
        {"P5 1 1 70000\n\x00\x00", "maxval"},
        {"P5 x 1 255\n\x00", "malformed"},
        {"P1 2 1 0 2", "P1"},
        {"P6 100000 100000 255\n", "larger"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bytes b;
        b.n = strlen(bad[i].s);
        memcpy(b.d, bad[i].s, b.n);
        kiln_status s = kiln_image_decode(b.d, b.n, KILN_PIXEL_RGB, &img);
        CHECK(s != KILN_OK && img.data == NULL);
        if (!strstr(kiln_error_text(), bad[i].msg)) {
            fprintf(stderr, "  '%s': error '%s' lacks '%s'\n", bad[i].s, kiln_error_text(), bad[i].msg);
            CHECK(0);
        }
    }
}

/* ------------------------------------------------------------------------------------------------ misc */

static void test_detect_and_errors(void) {
    kiln_image img;
    static const struct {
        const char *magic;
        size_t n;
        kiln_image_format f;
    } magic[] = {
        {"\xff\xd8\xff\xe0", 4, KILN_IMAGE_JPEG},
        {"\x89PNG\r\n\x1a\n", 8, KILN_IMAGE_PNG},
        {"II*\0", 4, KILN_IMAGE_TIFF},
        {"MM\0*", 4, KILN_IMAGE_TIFF},
        {"RIFF\0\0\0\0WEBPVP8 ", 16, KILN_IMAGE_WEBP},
        {"\0\0\0\x0cjP  \r\n\x87\n", 12, KILN_IMAGE_JP2},
        {"\xff\x4f\xff\x51", 4, KILN_IMAGE_JP2},
        {"GIF89a", 6, KILN_IMAGE_UNKNOWN},
        {"P7 ", 3, KILN_IMAGE_UNKNOWN},
        {"RIFF\0\0\0\0WAVE", 12, KILN_IMAGE_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof magic / sizeof magic[0]; i++)
        CHECK(kiln_image_detect((const uint8_t *)magic[i].magic, magic[i].n) == magic[i].f);
    CHECK(!strcmp(kiln_image_format_name(KILN_IMAGE_JP2), "JPEG 2000"));
    CHECK(kiln_image_format_available(KILN_IMAGE_BMP) && kiln_image_format_available(KILN_IMAGE_PNM));
    CHECK(!kiln_image_format_available(KILN_IMAGE_UNKNOWN));

    CHECK(kiln_image_decode((const uint8_t *)"GIF89a....", 10, KILN_PIXEL_RGB, &img) == KILN_ERR_RUNTIME);
    CHECK(strstr(kiln_error_text(), "unrecognized") != NULL && strstr(kiln_error_text(), "47 49 46 38") != NULL);
    CHECK(kiln_image_decode((const uint8_t *)"", 0, KILN_PIXEL_RGB, &img) == KILN_ERR_RUNTIME);
    CHECK(strstr(kiln_error_text(), "empty") != NULL);
    CHECK(kiln_image_decode((const uint8_t *)"P6", 2, KILN_PIXEL_RGB, &img) == KILN_ERR_RUNTIME);
    CHECK(kiln_image_decode((const uint8_t *)"BM", 2, (kiln_pixel_format)7, &img) == KILN_ERR_INVALID_ARGUMENT);

    kiln_pixel_format pf;
    CHECK(kiln_pixel_format_parse("Grayscale", &pf) == 0 && pf == KILN_PIXEL_GRAY);
    CHECK(kiln_pixel_format_parse("BGR", &pf) == 0 && pf == KILN_PIXEL_BGR);
    CHECK(kiln_pixel_format_parse("gray", &pf) != 0 && kiln_pixel_format_parse(NULL, &pf) != 0);

    /* Pillow's luma on pure colours: R 76, G 150, B 29 */
    const char prim[] = "P6 4 1 255\n\xff\x00\x00\x00\xff\x00\x00\x00\xff\xff\xff\xff";
    if (decode_str(prim, sizeof prim - 1, KILN_PIXEL_GRAY, &img)) {
        CHECK(img.data[0] == 76 && img.data[1] == 150 && img.data[2] == 29 && img.data[3] == 255);
        kiln_image_free(&img);
    }
}

/* ------------------------------------------------------------------------------------------------ kernel */

static kiln_tensor bytes_tensor(const bytes *b, int64_t *dim) {
    *dim = (int64_t)b->n;
    return oneop_tensor(KILN_UINT8, 1, dim, b->d);
}

static void test_kernel(void) {
    bytes b;
    int64_t dim;
    bmp24(&b);
    kiln_tensor in = bytes_tensor(&b, &dim);

    oneop o;
    oneop_begin(&o, "ImageDecoder", "", 20, 1, 1); /* pixel_format defaults to RGB */
    CHECK(oneop_run(&o, &in) == KILN_OK);
    const kiln_tensor *y = oneop_out(&o, 0);
    CHECK(y->dtype == KILN_UINT8 && y->rank == 3 && y->dims[0] == 2 && y->dims[1] == 3 && y->dims[2] == 3);
    const uint8_t *d = y->data;
    CHECK(d[0] == 0 && d[1] == 50 && d[2] == 200 && d[17] == 199);
    /* the same context on an image of another size */
    const char p5[] = "P5 1 4 255\n\x01\x02\x03\x04";
    bytes g;
    g.n = sizeof p5 - 1;
    memcpy(g.d, p5, g.n);
    kiln_tensor gin = bytes_tensor(&g, &dim);
    CHECK(oneop_run(&o, &gin) == KILN_OK);
    y = oneop_out(&o, 0);
    CHECK(y->rank == 3 && y->dims[0] == 4 && y->dims[1] == 1 && y->dims[2] == 3);
    CHECK(((const uint8_t *)y->data)[11] == 4);
    /* garbage bytes: a clear error naming the problem */
    bytes junk = {.n = 16};
    memset(junk.d, 0x5a, junk.n);
    kiln_tensor jin = bytes_tensor(&junk, &dim);
    CHECK(oneop_run(&o, &jin) == KILN_ERR_RUNTIME);
    CHECK(strstr(kiln_error_text(), "unrecognized image format") != NULL);
    oneop_end(&o);

    oneop_begin(&o, "ImageDecoder", "", 20, 1, 1);
    oneop_attr_string(&o, "pixel_format", "Grayscale");
    in = bytes_tensor(&b, &dim);
    CHECK(oneop_run(&o, &in) == KILN_OK);
    y = oneop_out(&o, 0);
    uint8_t c0[3] = {0, 50, 200};
    CHECK(y->rank == 3 && y->dims[2] == 1 && ((const uint8_t *)y->data)[0] == luma(c0));
    oneop_end(&o);

    oneop_begin(&o, "ImageDecoder", "", 20, 1, 1);
    oneop_attr_string(&o, "pixel_format", "HSV");
    CHECK(oneop_run(&o, &in) == KILN_ERR_UNSUPPORTED);
    CHECK(strstr(kiln_error_text(), "HSV") != NULL);
    oneop_end(&o);

    float f[4] = {0};
    int64_t d4 = 4, d22[2] = {2, 2};
    kiln_tensor fin = oneop_tensor(KILN_FLOAT, 1, &d4, f);
    oneop_begin(&o, "ImageDecoder", "", 20, 1, 1);
    CHECK(oneop_run(&o, &fin) == KILN_ERR_TYPE);
    oneop_end(&o);
    kiln_tensor r2 = oneop_tensor(KILN_UINT8, 2, d22, b.d);
    oneop_begin(&o, "ImageDecoder", "", 20, 1, 1);
    CHECK(oneop_run(&o, &r2) == KILN_ERR_SHAPE);
    oneop_end(&o);
}

int main(void) {
    test_bmp_direct();
    test_bmp_palette();
    test_bmp_rle();
    test_bmp_defects();
    test_pnm();
    test_detect_and_errors();
    test_kernel();
    return CHECK_DONE();
}
