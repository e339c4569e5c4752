/* PNM: PBM (P1 plain, P4 raw), PGM (P2, P5) and PPM (P3, P6), with '#' comments in the header (and, as Pillow
 * accepts, between plain samples).
 *
 * Values as Pillow gives them: bitmaps are 1 = black (0) and 0 = white (255); samples with maxval != 255 scale as
 * Python's round(v / maxval * 255) (double arithmetic, ties to even: rint); raw samples above maxval clip to 255,
 * plain ones are an error.
 * One exception: Pillow opens 16-bit PGM as 32-bit integers that its RGB/L conversion clips at 255; kiln scales
 * them like every other maxval. */
#include <math.h>
#include <string.h>

#include "image/image-internal.h"

typedef struct pnm_reader {
    const uint8_t *p, *end;
} pnm_reader;

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static void skip_space_and_comments(pnm_reader *r) {
    while (r->p < r->end) {
        if (is_space(*r->p)) {
            r->p++;
        } else if (*r->p == '#') {
            while (r->p < r->end && *r->p != '\n' && *r->p != '\r') r->p++;
        } else {
            break;
        }
    }
}

/* A decimal number; -1 at end of data, -2 for something else (or more than 65535*65535). */
static int64_t read_number(pnm_reader *r) {
    skip_space_and_comments(r);
    if (r->p >= r->end) return -1;
    if (*r->p < '0' || *r->p > '9') return -2;
    int64_t v = 0;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
        v = v * 10 + (*r->p++ - '0');
        if (v > (int64_t)1 << 32) return -2;
    }
    return v;
}

static uint8_t scale(uint32_t v, uint32_t maxval) {
    if (maxval == 255) return (uint8_t)v;
    return (uint8_t)rint((double)v / (double)maxval * 255.0);
}

kiln_status kiln_image_decode_pnm(const uint8_t *data, size_t size, kiln_image *out) {
    pnm_reader r = {data + 2, data + size};
    int kind = data[1] - '0'; /* 1..6, checked by the format detection */
    int bitmap = kind == 1 || kind == 4, plain = kind <= 3, colour = kind == 3 || kind == 6;
    int64_t w = read_number(&r), h = read_number(&r), maxval = bitmap ? 1 : read_number(&r);
    KILN_FAIL_IF(w == -1 || h == -1 || maxval == -1, KILN_ERR_RUNTIME, "PNM: truncated header");
    KILN_FAIL_IF(w < 0 || h < 0 || maxval < 0, KILN_ERR_RUNTIME, "PNM: malformed P%d header", kind);
    KILN_FAIL_IF(maxval < 1 || maxval > 65535, KILN_ERR_RUNTIME, "PNM: maxval %lld outside 1..65535",
                 (long long)maxval);
    int channels = colour ? 3 : 1;
    KILN_TRY(kiln_image_check_size(h, w, "PNM"));
    size_t n = (size_t)(w * h) * (size_t)channels;
    /* Size checks come before the allocation, so that a short file cannot claim a huge image: a plain sample
     * takes at least one byte, a raw one exactly its bytes. */
    size_t avail = (size_t)(r.end - r.p);
    KILN_FAIL_IF(plain && avail < n, KILN_ERR_RUNTIME, "PNM: truncated: %zu bytes for %zu samples", avail, n);
    if (!plain) {
        KILN_FAIL_IF(r.p >= r.end || !is_space(*r.p), KILN_ERR_RUNTIME, "PNM: truncated header");
        r.p++, avail--; /* exactly one whitespace byte between the header and the samples */
        size_t need = bitmap ? (size_t)(w + 7) / 8 * (size_t)h : n * (maxval > 255 ? 2 : 1);
        KILN_FAIL_IF(avail < need, KILN_ERR_RUNTIME, "PNM: truncated: %zu bytes of sample data, %zu needed", avail,
                     need);
    }
    KILN_TRY(kiln_image_alloc(out, h, w, channels, "PNM"));
    uint8_t *dst = out->data;

    if (plain) {
        for (size_t i = 0; i < n; i++) {
            skip_space_and_comments(&r);
            KILN_FAIL_IF(r.p >= r.end, KILN_ERR_RUNTIME, "PNM: truncated: %zu of %zu samples present", i, n);
            if (bitmap) { /* P1 samples are single digits, separated or not */
                KILN_FAIL_IF(*r.p != '0' && *r.p != '1', KILN_ERR_RUNTIME, "PNM: invalid P1 sample '%c'", *r.p);
                dst[i] = *r.p++ == '1' ? 0 : 255;
                continue;
            }
            int64_t v = read_number(&r);
            KILN_FAIL_IF(v < 0, KILN_ERR_RUNTIME, "PNM: invalid sample %zu", i);
            KILN_FAIL_IF(v > maxval, KILN_ERR_RUNTIME, "PNM: sample %zu is %lld, above maxval %lld", i, (long long)v,
                         (long long)maxval);
            dst[i] = scale((uint32_t)v, (uint32_t)maxval);
        }
        return KILN_OK;
    }

    if (bitmap) {
        size_t stride = (size_t)(w + 7) / 8;
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++)
                dst[y * w + x] = (r.p[(size_t)y * stride + (size_t)x / 8] >> (7 - x % 8)) & 1 ? 0 : 255;
        return KILN_OK;
    }
    size_t bps = maxval > 255 ? 2 : 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = bps == 1 ? r.p[i] : (uint32_t)r.p[2 * i] << 8 | r.p[2 * i + 1];
        dst[i] = v >= (uint32_t)maxval ? 255 : scale(v, (uint32_t)maxval); /* Pillow clips raw samples */
    }
    return KILN_OK;
}
