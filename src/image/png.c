/* PNG through libpng, transformed as Pillow presents it: palettes expanded to their colours (transparency
 * ignored), 1/2/4-bit gray scaled to 0..255, alpha dropped, no gamma correction (Pillow ignores gAMA/sRGB/iCCP).
 * 16-bit samples keep their high byte, as Pillow does for 16-bit colour; for 16-bit gray Pillow's own "I;16"
 * mode would clip at 255, which is no use to a network, so the high byte is kept there too.
 *
 * libpng reports errors by longjmp to png_jmpbuf (its default would abort when no jmp_buf is set). As in jpeg.c,
 * the setjmp is in png_run and the state it needs afterwards is in the caller's png_job. */
#include "image/image-internal.h"

#if KILN_HAVE_PNG

#include <stdlib.h>
#include <string.h>

#include <png.h>

typedef struct png_job {
    const uint8_t *data;
    size_t size, pos;
    kiln_image *out;
    png_structp png;
    png_infop info;
    png_bytep *rows;
    char message[256];
} png_job;

static void png_fail(png_structp png, png_const_charp msg) {
    png_job *job = png_get_error_ptr(png);
    snprintf(job->message, sizeof job->message, "%s", msg ? msg : "unknown error");
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static void png_read_mem(png_structp png, png_bytep dst, size_t n) {
    png_job *job = png_get_io_ptr(png);
    if (n > job->size - job->pos) png_error(png, "truncated image data");
    memcpy(dst, job->data + job->pos, n);
    job->pos += n;
}

static kiln_status png_run(png_job *job) {
    if (setjmp(png_jmpbuf(job->png)))
        return kiln_error(KILN_ERR_RUNTIME, "PNG: %s (at byte %zu of %zu)", job->message, job->pos, job->size);
    png_structp png = job->png;
    png_infop info = job->info;
    png_set_read_fn(png, job, png_read_mem);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    int gray = !(color & PNG_COLOR_MASK_COLOR);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (gray && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);
    png_set_strip_alpha(png); /* also the alpha that palette expansion makes from tRNS */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = gray ? 1 : 3;
    if (png_get_channels(png, info) != channels || png_get_rowbytes(png, info) != (size_t)w * (size_t)channels)
        return kiln_error(KILN_ERR_INTERNAL, "PNG: libpng gave %d channels, %zu bytes a row for a %ux%u image",
                          png_get_channels(png, info), png_get_rowbytes(png, info), w, h);
    KILN_TRY(kiln_image_alloc(job->out, h, w, channels, "PNG"));
    job->rows = malloc(sizeof(png_bytep) * h);
    if (!job->rows) return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory decoding a PNG image");
    for (png_uint_32 y = 0; y < h; y++) job->rows[y] = job->out->data + (size_t)y * w * (size_t)channels;
    png_read_image(png, job->rows);
    /* The chunks after the image data (text, time, IEND) do not change the pixels: not read. */
    return KILN_OK;
}

kiln_status kiln_image_decode_png(const uint8_t *data, size_t size, kiln_image *out) {
    png_job job = {.data = data, .size = size, .out = out};
    job.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, png_fail, png_warn);
    if (job.png) job.info = png_create_info_struct(job.png);
    if (!job.png || !job.info) {
        png_destroy_read_struct(job.png ? &job.png : NULL, NULL, NULL);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory decoding a PNG image");
    }
    kiln_status s = png_run(&job);
    png_destroy_read_struct(&job.png, &job.info, NULL);
    free(job.rows);
    return s;
}

#else

kiln_status kiln_image_decode_png(const uint8_t *data, size_t size, kiln_image *out) {
    (void)data, (void)size, (void)out;
    return kiln_error(KILN_ERR_UNSUPPORTED, "PNG: kiln was built without libpng");
}

#endif
