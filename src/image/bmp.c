/* BMP (Windows and OS/2 bitmaps): 1/2/4/8-bit palettes, RLE4/RLE8, 16/24/32-bit direct colour with default or
 * BI_BITFIELDS masks, bottom-up and top-down rows. Every read is checked against the buffer.
 *
 * Values as Pillow gives them: a channel of n mask bits scales as v * 255 / (2^n - 1), truncated (5-5-5 and
 * 5-6-5 in Pillow's own unpackers); palette indices past the palette give black; alpha is dropped. RLE follows
 * the format's definition (pixels the stream skips are palette index 0). */
#include <stdlib.h>
#include <string.h>

#include "image/image-internal.h"

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | rd16(p + 2) << 16; }

typedef struct bmp_info {
    int64_t width, height; /* height > 0 */
    int top_down, bpp;
    uint32_t compression, offset, masks[3];
    int shift[3];      /* of each mask's lowest bit */
    uint32_t max[3];   /* each mask shifted down: the channel's largest value */
    const uint8_t *palette; /* n_colors entries of pal_entry bytes (B, G, R[, X]) */
    int n_colors, pal_entry;
} bmp_info;

enum { BI_RGB = 0, BI_RLE8 = 1, BI_RLE4 = 2, BI_BITFIELDS = 3, BI_ALPHABITFIELDS = 6 };

static kiln_status bmp_header(const uint8_t *d, size_t n, bmp_info *b) {
    KILN_FAIL_IF(n < 26, KILN_ERR_RUNTIME, "BMP: truncated header (%zu bytes)", n);
    uint32_t hsize = rd32(d + 14);
    b->offset = rd32(d + 10);
    KILN_FAIL_IF(hsize != 12 && hsize < 16, KILN_ERR_RUNTIME, "BMP: invalid header size %u", hsize);
    KILN_FAIL_IF(hsize > n - 14, KILN_ERR_RUNTIME, "BMP: truncated header (%u bytes declared, %zu present)", hsize,
                 n - 14);
    const uint8_t *h = d + 14;
    int64_t height;
    if (hsize == 12) { /* OS/2 1.x core header: 16-bit sizes, 3-byte palette entries */
        b->width = rd16(h + 4);
        height = rd16(h + 6);
        b->bpp = (int)rd16(h + 10);
        b->compression = BI_RGB;
        b->pal_entry = 3;
    } else {
        b->width = (int32_t)rd32(h + 4);
        height = (int32_t)rd32(h + 8);
        b->bpp = (int)rd16(h + 14);
        b->compression = hsize >= 20 ? rd32(h + 16) : BI_RGB;
        b->pal_entry = 4;
    }
    b->top_down = height < 0;
    b->height = height < 0 ? -height : height;
    KILN_FAIL_IF(b->width <= 0 || b->height <= 0, KILN_ERR_RUNTIME, "BMP: invalid size %lld x %lld",
                 (long long)b->width, (long long)height);

    int ncomp_ok = 0;
    switch (b->compression) {
    case BI_RGB: ncomp_ok = b->bpp == 1 || b->bpp == 2 || b->bpp == 4 || b->bpp == 8 || b->bpp == 16 ||
                            b->bpp == 24 || b->bpp == 32; break;
    case BI_RLE8: ncomp_ok = b->bpp == 8; break;
    case BI_RLE4: ncomp_ok = b->bpp == 4; break;
    case BI_BITFIELDS:
    case BI_ALPHABITFIELDS: ncomp_ok = b->bpp == 16 || b->bpp == 32; break;
    default: break;
    }
    KILN_FAIL_IF(!ncomp_ok, KILN_ERR_UNSUPPORTED, "BMP: unsupported compression %u with %d bits per pixel",
                 b->compression, b->bpp);

    if (b->compression == BI_BITFIELDS || b->compression == BI_ALPHABITFIELDS) {
        /* in the header from V2 (52 bytes) on; right after a 40-byte header otherwise */
        size_t at = hsize >= 52 ? 14 + 40 : 14 + (size_t)hsize;
        KILN_FAIL_IF(at + 12 > n, KILN_ERR_RUNTIME, "BMP: truncated colour masks");
        for (int c = 0; c < 3; c++) b->masks[c] = rd32(d + at + 4 * (size_t)c);
    } else if (b->bpp == 16) {
        b->masks[0] = 0x7c00, b->masks[1] = 0x03e0, b->masks[2] = 0x001f;
    } else if (b->bpp >= 24) {
        b->masks[0] = 0xff0000, b->masks[1] = 0xff00, b->masks[2] = 0xff;
    }
    for (int c = 0; c < 3 && b->bpp >= 16; c++) {
        uint32_t m = b->masks[c];
        KILN_FAIL_IF(!m, KILN_ERR_UNSUPPORTED, "BMP: colour mask %d is empty", c);
        while (!(m & 1)) m >>= 1;
        KILN_FAIL_IF(m & (m + 1), KILN_ERR_RUNTIME, "BMP: colour mask 0x%x is not contiguous", b->masks[c]);
        b->max[c] = m;
        b->shift[c] = __builtin_ctz(b->masks[c]);
        KILN_FAIL_IF(b->bpp == 16 && b->masks[c] > 0xffff, KILN_ERR_RUNTIME,
                     "BMP: colour mask 0x%x wider than 16 bits per pixel", b->masks[c]);
    }

    if (b->bpp <= 8) {
        uint32_t used = hsize >= 36 ? rd32(h + 32) : 0;
        uint32_t max = 1u << b->bpp;
        uint32_t count = used && used < max ? used : max;
        size_t at = 14 + (size_t)hsize;
        /* Writers that claim the full table sometimes store less; keep what lies before the pixels. */
        size_t room = b->offset > at ? (b->offset - at) / (size_t)b->pal_entry : 0;
        if (count > room) count = (uint32_t)room;
        KILN_FAIL_IF(at + (size_t)count * (size_t)b->pal_entry > n, KILN_ERR_RUNTIME, "BMP: truncated palette");
        KILN_FAIL_IF(count == 0, KILN_ERR_RUNTIME, "BMP: %d-bit image without a palette", b->bpp);
        b->palette = d + at;
        b->n_colors = (int)count;
    }
    KILN_FAIL_IF(b->offset >= n, KILN_ERR_RUNTIME, "BMP: pixel data offset %u is past the end (%zu bytes)",
                 b->offset, n);
    return KILN_OK;
}

static void put_index(const bmp_info *b, uint8_t *px, unsigned idx) {
    if ((int)idx < b->n_colors) {
        const uint8_t *e = b->palette + (size_t)idx * (size_t)b->pal_entry;
        px[0] = e[2], px[1] = e[1], px[2] = e[0];
    } else {
        px[0] = px[1] = px[2] = 0;
    }
}

static uint8_t scale_mask(const bmp_info *b, uint32_t v, int c) {
    return (uint8_t)((uint64_t)((v & b->masks[c]) >> b->shift[c]) * 255 / b->max[c]);
}

/* Destination row of stored row r (files store bottom-up unless the height was negative). */
static uint8_t *row_ptr(const bmp_info *b, kiln_image *out, int64_t r) {
    int64_t y = b->top_down ? r : b->height - 1 - r;
    return out->data + (size_t)y * (size_t)b->width * 3;
}

static size_t raw_stride(const bmp_info *b) { return (size_t)((b->width * b->bpp + 31) / 32) * 4; }

static kiln_status bmp_raw(const uint8_t *d, const bmp_info *b, kiln_image *out) {
    size_t stride = raw_stride(b);
    for (int64_t r = 0; r < b->height; r++) {
        const uint8_t *s = d + b->offset + (size_t)r * stride;
        uint8_t *px = row_ptr(b, out, r);
        for (int64_t x = 0; x < b->width; x++, px += 3) {
            if (b->bpp <= 8) {
                int per = 8 / b->bpp;
                unsigned byte = s[x / per], sh = (unsigned)(8 - b->bpp * (int)(x % per + 1));
                put_index(b, px, (byte >> sh) & ((1u << b->bpp) - 1));
            } else if (b->bpp == 24) { /* always B, G, R bytes (no masks with 24 bits) */
                px[0] = s[3 * x + 2], px[1] = s[3 * x + 1], px[2] = s[3 * x];
            } else {
                uint32_t v = b->bpp == 16 ? rd16(s + 2 * x) : rd32(s + 4 * x);
                for (int c = 0; c < 3; c++) px[c] = scale_mask(b, v, c);
            }
        }
    }
    return KILN_OK;
}

/* RLE8 / RLE4: index plane first (zero = palette entry 0 where the stream skips), then the palette lookup. */
static kiln_status bmp_rle(const uint8_t *d, size_t n, const bmp_info *b, kiln_image *out) {
    int64_t w = b->width, h = b->height;
    uint8_t *idx = calloc((size_t)(w * h), 1);
    KILN_FAIL_IF(!idx, KILN_ERR_OUT_OF_MEMORY, "out of memory decoding a BMP image");
    const uint8_t *p = d + b->offset, *end = d + n;
    int64_t x = 0, r = 0; /* r counts stored rows */
    int rle4 = b->compression == BI_RLE4, done = 0;
    kiln_status s = KILN_OK;
    while (!done) {
        if (end - p < 2) {
            s = kiln_error(KILN_ERR_RUNTIME, "BMP: truncated RLE data at row %lld", (long long)r);
            break;
        }
        unsigned count = p[0], code = p[1];
        p += 2;
        if (count) { /* encoded run: `count` pixels of one index (RLE4: two alternating) */
            for (unsigned i = 0; i < count; i++, x++)
                if (x < w && r < h) idx[r * w + x] = (uint8_t)(rle4 ? (i & 1 ? code & 15 : code >> 4) : code);
        } else if (code == 0) { /* end of line */
            x = 0, r++;
        } else if (code == 1) { /* end of bitmap */
            done = 1;
        } else if (code == 2) { /* delta */
            if (end - p < 2) {
                s = kiln_error(KILN_ERR_RUNTIME, "BMP: truncated RLE delta at row %lld", (long long)r);
                break;
            }
            x += p[0], r += p[1];
            p += 2;
        } else { /* absolute run of `code` literal indices, padded to a 16-bit boundary */
            size_t bytes = rle4 ? (code + 1) / 2 : code;
            size_t padded = bytes + (bytes & 1);
            if ((size_t)(end - p) < bytes) {
                s = kiln_error(KILN_ERR_RUNTIME, "BMP: truncated RLE literal run at row %lld", (long long)r);
                break;
            }
            for (unsigned i = 0; i < code; i++, x++) {
                unsigned v = rle4 ? (i & 1 ? p[i / 2] & 15 : p[i / 2] >> 4) : p[i];
                if (x < w && r < h) idx[r * w + x] = (uint8_t)v;
            }
            p += (size_t)(end - p) < padded ? bytes : padded;
        }
        if (r >= h) done = 1;
    }
    if (s == KILN_OK)
        for (int64_t rr = 0; rr < h; rr++) {
            uint8_t *px = row_ptr(b, out, rr);
            for (int64_t xx = 0; xx < w; xx++, px += 3) put_index(b, px, idx[rr * w + xx]);
        }
    free(idx);
    return s;
}

kiln_status kiln_image_decode_bmp(const uint8_t *data, size_t size, kiln_image *out) {
    bmp_info b;
    memset(&b, 0, sizeof b);
    KILN_TRY(bmp_header(data, size, &b));
    KILN_TRY(kiln_image_check_size(b.height, b.width, "BMP"));
    int rle = b.compression == BI_RLE8 || b.compression == BI_RLE4;
    if (!rle) { /* before allocating: a short file cannot claim a huge image */
        size_t stride = raw_stride(&b), avail = size - b.offset;
        KILN_FAIL_IF(stride > avail / (size_t)b.height, KILN_ERR_RUNTIME,
                     "BMP: truncated pixel data (%zu bytes for %lld rows of %zu bytes)", avail, (long long)b.height,
                     stride);
    }
    KILN_TRY(kiln_image_alloc(out, b.height, b.width, 3, "BMP"));
    return rle ? bmp_rle(data, size, &b, out) : bmp_raw(data, &b, out);
}
