/* JPEG through libjpeg(-turbo), with the library's defaults (ISLOW IDCT, fancy upsampling), as Pillow decodes.
 *
 * libjpeg reports fatal errors through error_exit, whose default calls exit(): ours longjmps back instead. The
 * setjmp lives in jpeg_run and every piece of state it needs after a longjmp lives in the caller's jpeg_job, so
 * nothing local to the function that called setjmp changes between setjmp and longjmp. */
#include "image/image-internal.h"

#if KILN_HAVE_JPEG

#include <setjmp.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <stdlib.h>

#include <jerror.h>
#include <jpeglib.h>

typedef struct jpeg_job {
    struct jpeg_error_mgr err; /* first: libjpeg hands back a pointer to it */
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    int fatal_code;            /* the libjpeg message code that stopped decoding */
    struct jpeg_decompress_struct cinfo;
    const uint8_t *data;
    size_t size;
    kiln_image *out;
    uint8_t *row; /* CMYK scanline */
} jpeg_job;

static void jpeg_fail(j_common_ptr c) {
    jpeg_job *job = (jpeg_job *)c->err;
    job->fatal_code = c->err->msg_code;
    c->err->format_message(c, job->message);
    longjmp(job->jump, 1);
}

/* Warnings: libjpeg repairs most corrupt data and goes on, as Pillow lets it, but running out of data makes it
 * pad the image with gray, where Pillow reports the file as truncated; we do too. Other messages are dropped
 * (the default prints them to stderr). */
static void jpeg_message(j_common_ptr c, int level) {
    if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(c);
    if (level < 0) c->err->num_warnings++;
}

/* Pillow's CMYK -> RGB on Adobe-style (inverted) samples, which is what Pillow assumes CMYK JPEGs hold. */
static void cmyk_to_rgb(const uint8_t *in, uint8_t *out, int n) {
    for (int i = 0; i < n; i++, in += 4, out += 3) {
        int nk = in[3]; /* 255 - k, with k = 255 - stored */
        for (int c = 0; c < 3; c++) {
            int t = (255 - in[c]) * nk + 128;
            int v = nk - (((t >> 8) + t) >> 8);
            out[c] = (uint8_t)(v < 0 ? 0 : v);
        }
    }
}

static kiln_status jpeg_run(jpeg_job *job) {
    struct jpeg_decompress_struct *ci = &job->cinfo;
    if (setjmp(job->jump)) {
        kiln_status s = job->fatal_code == JERR_BAD_PRECISION || job->fatal_code == JERR_NOT_COMPILED
                            ? KILN_ERR_UNSUPPORTED
                            : KILN_ERR_RUNTIME;
        if (job->fatal_code == JWRN_JPEG_EOF)
            return kiln_error(s, "JPEG: truncated image data (%zu bytes): %s", job->size, job->message);
        return kiln_error(s, "JPEG: %s", job->message);
    }
    jpeg_create_decompress(ci);
    jpeg_mem_src(ci, job->data, (unsigned long)job->size);
    jpeg_read_header(ci, TRUE);
    int channels;
    switch (ci->jpeg_color_space) {
    case JCS_GRAYSCALE: ci->out_color_space = JCS_GRAYSCALE, channels = 1; break;
    case JCS_RGB:
    case JCS_YCbCr: ci->out_color_space = JCS_RGB, channels = 3; break;
    case JCS_CMYK:
    case JCS_YCCK: ci->out_color_space = JCS_CMYK, channels = 4; break;
    default:
        return kiln_error(KILN_ERR_UNSUPPORTED, "JPEG: %d-component image with an unknown colour space",
                          ci->num_components);
    }
    kiln_status s = kiln_image_alloc(job->out, ci->image_height, ci->image_width, channels == 1 ? 1 : 3, "JPEG");
    if (s != KILN_OK) return s;
    jpeg_start_decompress(ci);
    if ((int)ci->output_width != job->out->width || (int)ci->output_height != job->out->height ||
        ci->output_components != channels)
        return kiln_error(KILN_ERR_INTERNAL, "JPEG: libjpeg output %ux%ux%d, expected %dx%dx%d", ci->output_width,
                          ci->output_height, ci->output_components, job->out->width, job->out->height, channels);
    if (channels == 4) {
        job->row = malloc((size_t)ci->output_width * 4);
        if (!job->row) return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory decoding a JPEG image");
    }
    size_t stride = (size_t)ci->output_width * (size_t)job->out->channels;
    while (ci->output_scanline < ci->output_height) {
        uint8_t *dst = job->out->data + (size_t)ci->output_scanline * stride;
        JSAMPROW rows[1] = {channels == 4 ? job->row : dst};
        if (jpeg_read_scanlines(ci, rows, 1) != 1)
            return kiln_error(KILN_ERR_RUNTIME, "JPEG: no data for row %u", ci->output_scanline);
        if (channels == 4) cmyk_to_rgb(job->row, dst, (int)ci->output_width);
    }
    /* Data after the last scanline (trailing markers, garbage) does not change the pixels: not read. */
    return KILN_OK;
}

kiln_status kiln_image_decode_jpeg(const uint8_t *data, size_t size, kiln_image *out) {
    jpeg_job *job = calloc(1, sizeof *job);
    KILN_FAIL_IF(!job, KILN_ERR_OUT_OF_MEMORY, "out of memory decoding a JPEG image");
    job->cinfo.err = jpeg_std_error(&job->err);
    job->err.error_exit = jpeg_fail;
    job->err.emit_message = jpeg_message;
    job->data = data;
    job->size = size;
    job->out = out;
    kiln_status s = jpeg_run(job);
    jpeg_destroy_decompress(&job->cinfo); /* also after a longjmp: frees every libjpeg pool */
    free(job->row);
    free(job);
    return s;
}

#else

kiln_status kiln_image_decode_jpeg(const uint8_t *data, size_t size, kiln_image *out) {
    (void)data, (void)size, (void)out;
    return kiln_error(KILN_ERR_UNSUPPORTED, "JPEG: kiln was built without libjpeg");
}

#endif
