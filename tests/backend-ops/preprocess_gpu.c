/* kiln_preprocess_image's CUDA kernel against its CPU reference, on fresh random images of odd sizes (up and
 * down, 1/3/4 channels, padded rows, RGB/BGR, float32 and float16), through the public API only. Both targets
 * evaluate the same float32 operations without contraction, so float32 results are expected to match bit for
 * bit; the test allows 1e-5 and reports how many matched exactly. float16 may then differ by at most one unit in
 * the last place. Exit 77 (CTest skip) without a GPU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln.h"

static int failures;

#define EXPECT(cond, ...)                                                                                        \
    do {                                                                                                         \
        if (!(cond)) {                                                                                           \
            failures++;                                                                                          \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                                 \
            fprintf(stderr, __VA_ARGS__);                                                                        \
            fprintf(stderr, "\n");                                                                               \
        }                                                                                                        \
    } while (0)

static uint64_t rng_state;

static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static float half_bits_to_float(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(m | 1024), e - 25);
    return h & 0x8000 ? -v : v;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef struct pp_case {
    int sh, sw, sc, pad, dh, dw, dc, swap, half;
} pp_case;

/* Runs one case on both targets; returns 0 when they agree. */
static int run_case(const pp_case *k, void *stream, size_t *exact, size_t *total) {
    size_t stride = (size_t)k->sw * k->sc + k->pad, src_bytes = stride * k->sh;
    size_t n_out = (size_t)k->dc * k->dh * k->dw, esz = k->half ? 2 : 4, out_bytes = n_out * esz;
    uint8_t *src = malloc(src_bytes);
    void *ref = malloc(out_bytes), *got = malloc(out_bytes);
    void *d_src = NULL, *d_dst = NULL;
    int rc = -1;
    if (!src || !ref || !got) goto done;
    for (size_t i = 0; i < src_bytes; i++) src[i] = (uint8_t)rnd();
    kiln_preprocess_desc d = {.src = src, .src_height = k->sh, .src_width = k->sw, .src_channels = k->sc,
                              .src_row_stride = stride, .dst = ref, .dst_dtype = k->half ? KILN_FLOAT16 : KILN_FLOAT,
                              .dst_height = k->dh, .dst_width = k->dw, .dst_channels = k->dc, .swap_rb = k->swap,
                              .mean = {0.485f, 0.456f, 0.406f}, .std = {0.229f, 0.224f, 0.225f}};
    if (kiln_preprocess_image(&d, KILN_BACKEND_CPU, NULL) != KILN_OK ||
        kiln_device_alloc(src_bytes, &d_src) != KILN_OK || kiln_device_alloc(out_bytes, &d_dst) != KILN_OK ||
        kiln_device_copy(d_src, src, src_bytes, KILN_COPY_HOST_TO_DEVICE, stream) != KILN_OK) {
        EXPECT(0, "setup: %s", kiln_last_error(NULL));
        goto done;
    }
    d.src = d_src;
    d.dst = d_dst;
    if (kiln_preprocess_image(&d, KILN_BACKEND_CUDA, stream) != KILN_OK ||
        kiln_device_copy(got, d_dst, out_bytes, KILN_COPY_DEVICE_TO_HOST, stream) != KILN_OK ||
        kiln_stream_synchronize(stream) != KILN_OK) {
        EXPECT(0, "GPU run: %s", kiln_last_error(NULL));
        goto done;
    }
    double worst = 0;
    size_t bad = 0, same = 0;
    for (size_t i = 0; i < n_out; i++) {
        if (k->half) {
            uint16_t a = ((uint16_t *)ref)[i], b = ((uint16_t *)got)[i];
            same += a == b;
            int ulps = abs((int)(a & 0x7fff) - (int)(b & 0x7fff));
            double err = fabs(half_bits_to_float(a) - half_bits_to_float(b));
            worst = err > worst ? err : worst;
            bad += (a != b && ((a ^ b) & 0x8000)) || ulps > 1;
        } else {
            float a = ((float *)ref)[i], b = ((float *)got)[i];
            same += memcmp(&a, &b, 4) == 0;
            double err = fabs((double)a - b);
            worst = err > worst ? err : worst;
            bad += !(err <= 1e-5);
        }
    }
    *exact += same;
    *total += n_out;
    printf("%s %4dx%-4d c%d pad%d -> %4dx%-4d c%d %s %s: %zu/%zu exact, max |diff| %.3g\n", bad ? "FAIL" : "PASS",
           k->sh, k->sw, k->sc, k->pad, k->dh, k->dw, k->dc, k->swap ? "BGR" : "RGB", k->half ? "f16" : "f32", same,
           n_out, worst);
    EXPECT(bad == 0, "%zu elements differ beyond tolerance", bad);
    rc = bad ? -1 : 0;
done:
    kiln_device_free(d_src);
    kiln_device_free(d_dst);
    free(src);
    free(ref);
    free(got);
    return rc;
}

/* Host pointers are refused with a message, not handed to the kernel. */
static void test_host_pointer_refused(void) {
    uint8_t src[12] = {0};
    float dst[12];
    kiln_preprocess_desc d = {.src = src, .src_height = 2, .src_width = 2, .src_channels = 3, .dst = dst,
                              .dst_dtype = KILN_FLOAT, .dst_height = 2, .dst_width = 2, .dst_channels = 3};
    kiln_status s = kiln_preprocess_image(&d, KILN_BACKEND_CUDA, NULL);
    EXPECT(s == KILN_ERR_INVALID_ARGUMENT && strstr(kiln_last_error(NULL), "host memory"),
           "host pointers: status %d, '%s'", (int)s, kiln_last_error(NULL));
    printf("%s host pointers refused: %s\n", s == KILN_ERR_INVALID_ARGUMENT ? "PASS" : "FAIL", kiln_last_error(NULL));
}

/* A camera frame to a classifier input: kernel time alone, median of 50 after warm-up. */
static void time_1080p(void *stream) {
    size_t src_bytes = 1080 * 1920 * 3, out_bytes = 3 * 224 * 224 * 4;
    void *d_src = NULL, *d_dst = NULL;
    if (kiln_device_alloc(src_bytes, &d_src) != KILN_OK || kiln_device_alloc(out_bytes, &d_dst) != KILN_OK) {
        EXPECT(0, "alloc: %s", kiln_last_error(NULL));
        kiln_device_free(d_src);
        return;
    }
    kiln_preprocess_desc d = {.src = d_src, .src_height = 1080, .src_width = 1920, .src_channels = 3, .dst = d_dst,
                              .dst_dtype = KILN_FLOAT, .dst_height = 224, .dst_width = 224, .dst_channels = 3,
                              .mean = {0.485f, 0.456f, 0.406f}, .std = {0.229f, 0.224f, 0.225f}};
    double t[50];
    for (int i = 0; i < 60; i++) {
        double t0 = now_ms();
        if (kiln_preprocess_image(&d, KILN_BACKEND_CUDA, stream) != KILN_OK ||
            kiln_stream_synchronize(stream) != KILN_OK) {
            EXPECT(0, "timing run: %s", kiln_last_error(NULL));
            break;
        }
        if (i >= 10) t[i - 10] = now_ms() - t0;
    }
    for (int i = 1; i < 50; i++)
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    printf("timing: 1080x1920 RGB -> 3x224x224 f32, launch + sync, median %.4f ms, min %.4f ms\n", t[25], t[0]);
    kiln_device_free(d_src);
    kiln_device_free(d_dst);
}

int main(int argc, char **argv) {
    if (kiln_device_count() == 0) {
        printf("SKIP: no CUDA device (kiln_preprocess_image GPU test needs one)\n");
        return 77;
    }
    rng_state = argc > 1 ? strtoull(argv[1], NULL, 10) : (uint64_t)time(NULL);
    printf("seed %llu\n", (unsigned long long)rng_state);
    void *stream = NULL;
    if (kiln_stream_create(&stream) != KILN_OK) {
        fprintf(stderr, "FAIL: kiln_stream_create: %s\n", kiln_last_error(NULL));
        return 1;
    }
    static const pp_case fixed[] = {
        {7, 5, 3, 0, 7, 5, 3, 0, 0},        {1, 1, 3, 0, 3, 3, 3, 0, 0},       {13, 11, 3, 1, 224, 224, 3, 1, 0},
        {481, 641, 3, 3, 224, 224, 3, 0, 0}, {481, 641, 4, 0, 223, 225, 3, 1, 1}, {333, 97, 1, 2, 57, 299, 1, 0, 0},
        {99, 77, 1, 0, 31, 33, 3, 0, 1},    {1080, 1921, 3, 0, 299, 299, 3, 1, 1},
    };
    size_t exact = 0, total = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) run_case(&fixed[i], stream, &exact, &total);
    for (int i = 0; i < 12; i++) { /* fresh random geometry, odd sizes */
        int sc = (int[]){1, 3, 4}[rnd() % 3];
        pp_case k = {1 + 2 * (int)(rnd() % 400), 1 + 2 * (int)(rnd() % 400), sc, (int)(rnd() % 4),
                     1 + 2 * (int)(rnd() % 150), 1 + 2 * (int)(rnd() % 150), sc == 1 && rnd() % 2 ? 1 : 3,
                     (int)(rnd() % 2), (int)(rnd() % 2)};
        run_case(&k, stream, &exact, &total);
    }
    test_host_pointer_refused();
    time_1080p(stream);
    kiln_stream_destroy(stream);
    printf("preprocess-gpu: %zu/%zu elements bit-identical to the CPU reference, %d failure(s)\n", exact, total,
           failures);
    return failures ? 1 : 0;
}
