/* Image decoding of the small files in tests/models/images (JPEG, PNG, BMP, TIFF, WebP, JPEG 2000 in the layouts
 * listed in make_images.py) against what Pillow decodes them to, byte for byte; the other pixel formats against
 * the RGB result; and every file cut short or with bytes overwritten: an error or a complete image, never a
 * crash. A format this build lacks must fail with KILN_ERR_UNSUPPORTED naming its library. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "image/image.h"

#define DIR "tests/models/images/"

static uint8_t *slurp(const char *path, size_t *n) {
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *d = NULL;
    size_t cap = 0;
    *n = 0;
    for (;;) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 4096;
            uint8_t *t = realloc(d, cap);
            if (!t) break;
            d = t;
        }
        size_t got = fread(d + *n, 1, cap - *n, f);
        if (!got) break;
        *n += got;
    }
    fclose(f);
    return d;
}

/* The expected pixels: a binary PPM as make_images.py writes it ("P6\n<w> <h>\n255\n" + data). */
static uint8_t *read_ppm(const char *path, int *w, int *h) {
    size_t n;
    uint8_t *d = slurp(path, &n);
    if (!d) return NULL;
    int off = 0;
    char head[64] = {0};
    memcpy(head, d, n < 63 ? n : 63);
    if (sscanf(head, "P6 %d %d 255%n", w, h, &off) != 2 || off <= 0 || (size_t)off + 1 + (size_t)(*w * *h * 3) != n) {
        free(d);
        return NULL;
    }
    memmove(d, d + off + 1, (size_t)(*w * *h * 3));
    return d;
}

static int differ_report(const char *name, const uint8_t *got, const uint8_t *want, size_t n) {
    size_t bad = 0, first = 0;
    int maxd = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            if (!bad++) first = i;
            int dd = abs((int)got[i] - (int)want[i]);
            if (dd > maxd) maxd = dd;
        }
    if (bad)
        fprintf(stderr, "  %s: %zu of %zu bytes differ from Pillow (first at %zu: %d vs %d, max diff %d)\n", name, bad,
                n, first, got[first], want[first], maxd);
    return bad == 0;
}

static int n_checked_exact;

static void check_file(const char *name) {
    char path[256], ppm[256];
    snprintf(path, sizeof path, DIR "%s", name);
    snprintf(ppm, sizeof ppm, DIR "%.*s.ppm", (int)(strrchr(name, '.') - name), name);
    size_t n = 0;
    uint8_t *data = slurp(path, &n);
    int w = 0, h = 0;
    uint8_t *want = read_ppm(ppm, &w, &h);
    CHECK(data && want);
    if (!data || !want) {
        fprintf(stderr, "  cannot read %s or %s (run from the source root)\n", path, ppm);
        free(data), free(want);
        return;
    }
    kiln_image_format f = kiln_image_detect(data, n);
    CHECK(f != KILN_IMAGE_UNKNOWN);
    kiln_image rgb, img;
    if (!kiln_image_format_available(f)) {
        CHECK(kiln_image_decode(data, n, KILN_PIXEL_RGB, &rgb) == KILN_ERR_UNSUPPORTED);
        CHECK(strstr(kiln_error_text(), "built without") != NULL);
        fprintf(stderr, "  %s: %s decoding not built in: %s\n", name, kiln_image_format_name(f), kiln_error_text());
        free(data), free(want);
        return;
    }
    kiln_status s = kiln_image_decode(data, n, KILN_PIXEL_RGB, &rgb);
    CHECK(s == KILN_OK);
    if (s != KILN_OK) {
        fprintf(stderr, "  %s: %s\n", name, kiln_error_text());
        free(data), free(want);
        return;
    }
    CHECK(rgb.width == w && rgb.height == h && rgb.channels == 3);
    size_t np = (size_t)w * (size_t)h;
    if (rgb.width == w && rgb.height == h) {
        CHECK(differ_report(name, rgb.data, want, np * 3));
        n_checked_exact++;
    }

    /* BGR is RGB reversed; Grayscale is Pillow's luma of RGB (for gray sources, RGB replicates the gray) */
    if (kiln_image_decode(data, n, KILN_PIXEL_BGR, &img) == KILN_OK) {
        int ok = img.channels == 3;
        for (size_t i = 0; ok && i < np; i++)
            ok = img.data[3 * i] == rgb.data[3 * i + 2] && img.data[3 * i + 1] == rgb.data[3 * i + 1] &&
                 img.data[3 * i + 2] == rgb.data[3 * i];
        CHECK(ok);
        kiln_image_free(&img);
    } else {
        CHECK(0);
    }
    if (kiln_image_decode(data, n, KILN_PIXEL_GRAY, &img) == KILN_OK) {
        int ok = img.channels == 1 && img.width == w && img.height == h;
        for (size_t i = 0; ok && i < np; i++) {
            const uint8_t *p = rgb.data + 3 * i;
            ok = img.data[i] == (uint8_t)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
        }
        CHECK(ok);
        kiln_image_free(&img);
    } else {
        CHECK(0);
    }

    /* Cut short anywhere: an error, or (when only trailing metadata is missing) the complete image. */
    int prefix_ok = 1;
    for (size_t cut = 0; cut < n; cut++) {
        s = kiln_image_decode(data, cut, KILN_PIXEL_RGB, &img);
        if (s == KILN_OK) {
            if (img.width != w || img.height != h || memcmp(img.data, rgb.data, np * 3) != 0) {
                fprintf(stderr, "  %s cut to %zu of %zu bytes decodes without error to other pixels\n", name, cut, n);
                prefix_ok = 0;
            }
            kiln_image_free(&img);
        } else if (img.data || !kiln_error_text()[0]) {
            prefix_ok = 0; /* a failure leaves no image behind and says why */
        }
    }
    CHECK(prefix_ok);

    /* Overwritten bytes (the first 16 kept so that the format is still recognized): anything but a crash. */
    uint8_t *bad = malloc(n);
    uint32_t seed = 0x9e3779b9u ^ (uint32_t)n;
    int ok_count = 0;
    for (int iter = 0; bad && n > 16 && iter < 300; iter++) {
        memcpy(bad, data, n);
        for (int k = 0; k <= iter % 8; k++) {
            seed = seed * 1664525u + 1013904223u;
            bad[16 + (seed >> 8) % (n - 16)] = (uint8_t)(seed >> 24);
        }
        if (kiln_image_decode(bad, n, KILN_PIXEL_RGB, &img) == KILN_OK) {
            ok_count++;
            CHECK(img.width > 0 && img.height > 0 && img.data != NULL);
            kiln_image_free(&img);
        }
    }
    free(bad);
    kiln_image_free(&rgb);
    free(data), free(want);
}

int main(void) {
    size_t n;
    char *manifest = (char *)slurp(DIR "manifest.txt", &n);
    CHECK(manifest != NULL);
    if (!manifest) {
        fprintf(stderr, "cannot read " DIR "manifest.txt (run from the source root)\n");
        return CHECK_DONE();
    }
    manifest = realloc(manifest, n + 1);
    manifest[n] = 0;
    int files = 0;
    for (char *line = strtok(manifest, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#' || !line[0]) continue;
        check_file(line);
        files++;
    }
    free(manifest);
    CHECK(files >= 15);
    fprintf(stderr, "%d files, %d compared exactly with Pillow\n", files, n_checked_exact);
    return CHECK_DONE();
}
