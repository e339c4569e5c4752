/* kiln_preprocess_image's CPU reference against an independent formulation, plus the public decode and
 * device-memory helpers as seen without a GPU. The expected values come from a tent filter summed over every
 * source pixel in double precision (no neighbour indexing, no shared code with the library), and from a few
 * values worked out by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/dtype.h"
#include "kiln.h"

/* Half-pixel source coordinate, clamped, and the tent weight of source index i for it. */
static double src_coord(int d, int n_src, int n_dst) {
    double s = (d + 0.5) * (double)n_src / (double)n_dst - 0.5;
    if (s < 0) s = 0;
    if (s > n_src - 1) s = n_src - 1;
    return s;
}

static double tent(double s, int i) {
    double w = 1.0 - fabs(s - i);
    return w > 0 ? w : 0;
}

/* Expected dst[c][y][x] of a descriptor, by brute force over all source pixels. */
static double expect(const kiln_preprocess_desc *d, int c, int y, int x) {
    const uint8_t *src = d->src;
    size_t stride = d->src_row_stride ? d->src_row_stride : (size_t)d->src_width * d->src_channels;
    int k = d->src_channels == 1 ? 0 : d->swap_rb ? 2 - c : c;
    double sy = src_coord(y, d->src_height, d->dst_height), sx = src_coord(x, d->src_width, d->dst_width);
    double v = 0;
    for (int i = 0; i < d->src_height; i++)
        for (int j = 0; j < d->src_width; j++)
            v += tent(sy, i) * tent(sx, j) * src[(size_t)i * stride + (size_t)j * d->src_channels + k];
    double scale = d->scale != 0 ? d->scale : 1.0 / 255.0;
    double std = d->std[c] != 0 ? d->std[c] : 1.0;
    return (v * scale - d->mean[c]) / std;
}

/* Runs the CPU target and compares every element; returns the largest error. The library computes the source
 * coordinate in float32, whose rounding (a few ulps of the coordinate) is multiplied by the difference of
 * neighbouring pixels and by scale / std: tolerances are sized to that, per case. */
static double run_and_compare(kiln_preprocess_desc *d, double tol) {
    size_t n = (size_t)d->dst_channels * d->dst_height * d->dst_width;
    int half = d->dst_dtype == KILN_FLOAT16;
    void *dst = calloc(n, half ? 2 : 4);
    d->dst = dst;
    kiln_status s = kiln_preprocess_image(d, KILN_BACKEND_CPU, NULL);
    CHECK(s == KILN_OK);
    if (s != KILN_OK) fprintf(stderr, "  %s\n", kiln_last_error(NULL));
    double worst = 0;
    for (int c = 0; c < d->dst_channels; c++)
        for (int y = 0; y < d->dst_height; y++)
            for (int x = 0; x < d->dst_width; x++) {
                size_t o = ((size_t)c * d->dst_height + y) * d->dst_width + x;
                double got = half ? kiln_half_to_float(((uint16_t *)dst)[o]) : ((float *)dst)[o];
                double want = expect(d, c, y, x);
                /* float16 keeps 11 significant bits: half an ulp of the value, plus the float32 slack */
                double t = half ? fabs(want) * (1.0 / 2048) + 1e-6 : tol;
                double err = fabs(got - want);
                if (err > worst) worst = err;
                if (err > t) {
                    CHECK_NEAR(got, want, t);
                    fprintf(stderr, "  at c=%d y=%d x=%d (%dx%d -> %dx%d)\n", c, y, x, d->src_height, d->src_width,
                            d->dst_height, d->dst_width);
                    free(dst);
                    return worst;
                }
            }
    free(dst);
    return worst;
}

static void fill(uint8_t *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

static void test_identity(void) {
    uint8_t src[3 * 4 * 3];
    fill(src, sizeof src, 1);
    kiln_preprocess_desc d = {.src = src, .src_height = 3, .src_width = 4, .src_channels = 3, .dst_dtype = KILN_FLOAT,
                              .dst_height = 3, .dst_width = 4, .dst_channels = 3,
                              .mean = {0.485f, 0.456f, 0.406f}, .std = {0.229f, 0.224f, 0.225f}};
    run_and_compare(&d, 5e-5);
    /* identity size samples exactly the source pixels: (v / 255 - mean) / std */
    float out[3 * 12];
    d.dst = out;
    CHECK(kiln_preprocess_image(&d, KILN_BACKEND_CPU, NULL) == KILN_OK);
    CHECK_NEAR(out[0], (src[0] / 255.0 - 0.485) / 0.229, 1e-5);
    CHECK_NEAR(out[12 + 5], (src[5 * 3 + 1] / 255.0 - 0.456) / 0.224, 1e-5);
    CHECK_NEAR(out[24 + 11], (src[11 * 3 + 2] / 255.0 - 0.406) / 0.225, 1e-5);
}

static void test_upscale_2x_by_hand(void) {
    /* one row [0, 255] to four columns: half-pixel coordinates -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped
     * to 1) give 0, 63.75, 191.25, 255; scale 1 keeps the raw values */
    uint8_t src[2] = {0, 255};
    float out[2 * 4];
    kiln_preprocess_desc d = {.src = src, .src_height = 1, .src_width = 2, .src_channels = 1, .dst = out,
                              .dst_dtype = KILN_FLOAT, .dst_height = 2, .dst_width = 4, .dst_channels = 1,
                              .scale = 1.0f};
    CHECK(kiln_preprocess_image(&d, KILN_BACKEND_CPU, NULL) == KILN_OK);
    const float want[4] = {0.0f, 63.75f, 191.25f, 255.0f};
    for (int i = 0; i < 8; i++) CHECK(out[i] == want[i % 4]);
    /* 2x2 -> 4x4, 3 channels, default scale and std */
    uint8_t src2[2 * 2 * 3];
    fill(src2, sizeof src2, 7);
    d = (kiln_preprocess_desc){.src = src2, .src_height = 2, .src_width = 2, .src_channels = 3,
                               .dst_dtype = KILN_FLOAT, .dst_height = 4, .dst_width = 4, .dst_channels = 3,
                               .mean = {0.5f, 0.25f, 0.0f}};
    run_and_compare(&d, 5e-5);
}

static void test_odd_downscale(void) {
    /* 7x5 RGBA with padded rows -> 3x2 (scale 7/3 and 5/2), alpha ignored */
    enum { H = 7, W = 5, C = 4, STRIDE = W * C + 3 };
    uint8_t src[H * STRIDE];
    fill(src, sizeof src, 3);
    kiln_preprocess_desc d = {.src = src, .src_height = H, .src_width = W, .src_channels = C,
                              .src_row_stride = STRIDE, .dst_dtype = KILN_FLOAT, .dst_height = 3, .dst_width = 2,
                              .dst_channels = 3, .mean = {0.1f, 0.2f, 0.3f}, .std = {0.5f, 0.25f, 2.0f}};
    run_and_compare(&d, 5e-5);
    /* and odd sizes both ways: 13x11 -> 5x17 */
    uint8_t big[13 * 11 * 3];
    fill(big, sizeof big, 11);
    d = (kiln_preprocess_desc){.src = big, .src_height = 13, .src_width = 11, .src_channels = 3,
                               .dst_dtype = KILN_FLOAT, .dst_height = 5, .dst_width = 17, .dst_channels = 3,
                               .scale = 2.0f, .mean = {1, 2, 3}, .std = {3, 2, 1}};
    run_and_compare(&d, 5e-3);
}

static void test_bgr_swap_and_gray(void) {
    uint8_t src[3 * 3 * 3];
    fill(src, sizeof src, 5);
    float out[3 * 9];
    kiln_preprocess_desc d = {.src = src, .src_height = 3, .src_width = 3, .src_channels = 3, .dst = out,
                              .dst_dtype = KILN_FLOAT, .dst_height = 3, .dst_width = 3, .dst_channels = 3,
                              .swap_rb = 1, .scale = 1.0f};
    CHECK(kiln_preprocess_image(&d, KILN_BACKEND_CPU, NULL) == KILN_OK);
    for (int i = 0; i < 9; i++) {
        CHECK(out[i] == src[3 * i + 2]);
        CHECK(out[9 + i] == src[3 * i + 1]);
        CHECK(out[18 + i] == src[3 * i]);
    }
    d.dst_height = 5;
    d.dst_width = 4;
    run_and_compare(&d, 2e-3); /* scale 1: raw 0..255 values */
    /* one gray channel replicated into three, each with its own mean */
    uint8_t gray[4 * 6];
    fill(gray, sizeof gray, 9);
    d = (kiln_preprocess_desc){.src = gray, .src_height = 4, .src_width = 6, .src_channels = 1,
                               .dst_dtype = KILN_FLOAT, .dst_height = 3, .dst_width = 3, .dst_channels = 3,
                               .mean = {0.1f, 0.5f, 0.9f}};
    run_and_compare(&d, 5e-5);
}

static void test_fp16(void) {
    uint8_t src[5 * 6 * 3];
    fill(src, sizeof src, 13);
    kiln_preprocess_desc d = {.src = src, .src_height = 5, .src_width = 6, .src_channels = 3,
                              .dst_dtype = KILN_FLOAT16, .dst_height = 9, .dst_width = 4, .dst_channels = 3,
                              .mean = {0.485f, 0.456f, 0.406f}, .std = {0.229f, 0.224f, 0.225f}};
    run_and_compare(&d, 0);
    /* exact halves by hand: 0 -> 0, 255 -> 1.0 at scale 1/255 */
    uint8_t two[2] = {0, 255};
    uint16_t out[2];
    d = (kiln_preprocess_desc){.src = two, .src_height = 1, .src_width = 2, .src_channels = 1, .dst = out,
                               .dst_dtype = KILN_FLOAT16, .dst_height = 1, .dst_width = 2, .dst_channels = 1};
    CHECK(kiln_preprocess_image(&d, KILN_BACKEND_CPU, NULL) == KILN_OK);
    CHECK(out[0] == 0x0000 && out[1] == 0x3c00);
}

static void test_errors(void) {
    uint8_t src[12] = {0};
    float dst[12];
    kiln_preprocess_desc ok = {.src = src, .src_height = 2, .src_width = 2, .src_channels = 3, .dst = dst,
                               .dst_dtype = KILN_FLOAT, .dst_height = 2, .dst_width = 2, .dst_channels = 3};
    CHECK(kiln_preprocess_image(NULL, KILN_BACKEND_CPU, NULL) == KILN_ERR_INVALID_ARGUMENT);
    kiln_preprocess_desc d = ok;
    d.src_channels = 2;
    CHECK(kiln_preprocess_image(&d, KILN_BACKEND_CPU, NULL) == KILN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(kiln_last_error(NULL), "src_channels") != NULL);
    d = ok;
    d.src_row_stride = 5;
    CHECK(kiln_preprocess_image(&d, KILN_BACKEND_CPU, NULL) == KILN_ERR_INVALID_ARGUMENT);
    d = ok;
    d.dst_dtype = KILN_INT32;
    CHECK(kiln_preprocess_image(&d, KILN_BACKEND_CPU, NULL) == KILN_ERR_TYPE);
    d = ok;
    d.dst_channels = 1;
    CHECK(kiln_preprocess_image(&d, KILN_BACKEND_CPU, NULL) == KILN_ERR_UNSUPPORTED);
    d = ok;
    d.dst_width = 0;
    CHECK(kiln_preprocess_image(&d, KILN_BACKEND_CPU, NULL) == KILN_ERR_INVALID_ARGUMENT);
    d = ok;
    d.mean[1] = NAN;
    CHECK(kiln_preprocess_image(&d, KILN_BACKEND_CPU, NULL) == KILN_ERR_INVALID_ARGUMENT);
    int dummy_stream;
    CHECK(kiln_preprocess_image(&ok, KILN_BACKEND_CPU, &dummy_stream) == KILN_ERR_INVALID_ARGUMENT);
    CHECK(kiln_preprocess_image(&ok, (kiln_backend)9, NULL) == KILN_ERR_INVALID_ARGUMENT);
    if (kiln_device_count() == 0) {
        /* no GPU: the CUDA target refuses with a reason instead of touching the pointers */
        kiln_status s = kiln_preprocess_image(&ok, KILN_BACKEND_CUDA, NULL);
        CHECK(s == KILN_ERR_DEVICE || s == KILN_ERR_UNSUPPORTED);
        CHECK(kiln_last_error(NULL)[0] != 0);
        CHECK(kiln_preprocess_image(&ok, KILN_BACKEND_AUTO, NULL) == KILN_OK); /* AUTO falls back to the CPU */
    }
}

static void test_device_helpers(void) {
    void *p = (void *)1;
    if (kiln_device_count() == 0) {
        kiln_status s = kiln_device_alloc(64, &p);
        CHECK(s == KILN_ERR_DEVICE || s == KILN_ERR_UNSUPPORTED);
        CHECK(p == NULL);
        CHECK(kiln_last_error(NULL)[0] != 0);
        void *st = (void *)1;
        s = kiln_stream_create(&st);
        CHECK(s == KILN_ERR_DEVICE || s == KILN_ERR_UNSUPPORTED);
        CHECK(st == NULL);
        kiln_device_free(NULL);
        kiln_stream_destroy(NULL);
        fprintf(stderr, "no GPU: device helpers refuse as documented\n");
        return;
    }
    /* with a GPU: a round trip through device memory on a stream */
    uint8_t host[1000], back[1000];
    fill(host, sizeof host, 17);
    void *stream = NULL;
    CHECK(kiln_device_alloc(sizeof host, &p) == KILN_OK);
    CHECK(kiln_stream_create(&stream) == KILN_OK);
    CHECK(kiln_device_copy(p, host, sizeof host, KILN_COPY_HOST_TO_DEVICE, stream) == KILN_OK);
    CHECK(kiln_device_copy(back, p, sizeof back, KILN_COPY_DEVICE_TO_HOST, stream) == KILN_OK);
    CHECK(kiln_stream_synchronize(stream) == KILN_OK);
    CHECK(memcmp(host, back, sizeof host) == 0);
    CHECK(kiln_device_copy(p, host, 4, (kiln_copy_kind)7, NULL) == KILN_ERR_INVALID_ARGUMENT);
    kiln_stream_destroy(stream);
    kiln_device_free(p);
}

/* The public decoder gives the same pixels as the reference decode next to the test image (BMP: always built). */
static void test_decode(void) {
    FILE *f = fopen("tests/models/images/bmp_pal8.bmp", "rb"), *g = fopen("tests/models/images/bmp_pal8.ppm", "rb");
    CHECK(f && g);
    if (!f || !g) {
        if (f) fclose(f);
        if (g) fclose(g);
        return;
    }
    static uint8_t enc[1 << 16], ppm[1 << 16];
    size_t n = fread(enc, 1, sizeof enc, f), m = fread(ppm, 1, sizeof ppm, g);
    fclose(f);
    fclose(g);
    int pw = 0, ph = 0, maxv = 0, off = 0;
    CHECK(sscanf((char *)ppm, "P6 %d %d %d%n", &pw, &ph, &maxv, &off) == 3);
    off++; /* the single whitespace byte after maxval */
    uint8_t *px = NULL;
    int h = 0, w = 0;
    CHECK(kiln_decode_image(enc, n, 3, 0, &px, &h, &w) == KILN_OK);
    CHECK(h == ph && w == pw && maxv == 255 && (size_t)off + (size_t)h * w * 3 <= m);
    if (px && h == ph && w == pw) CHECK(memcmp(px, ppm + off, (size_t)h * w * 3) == 0);
    kiln_image_pixels_free(px);
    /* BGR order swaps the first and last byte of each pixel */
    CHECK(kiln_decode_image(enc, n, 3, 1, &px, &h, &w) == KILN_OK);
    if (px && h == ph && w == pw) CHECK(px[0] == ppm[off + 2] && px[2] == ppm[off]);
    kiln_image_pixels_free(px);
    CHECK(kiln_decode_image(enc, n, 2, 0, &px, &h, &w) == KILN_ERR_INVALID_ARGUMENT);
    CHECK(px == NULL);
    CHECK(kiln_decode_image("nope", 4, 3, 0, &px, &h, &w) != KILN_OK);
    CHECK(px == NULL);
}

int main(void) {
    test_identity();
    test_upscale_2x_by_hand();
    test_odd_downscale();
    test_bgr_swap_and_gray();
    test_fp16();
    test_errors();
    test_device_helpers();
    test_decode();
    return CHECK_DONE();
}
