/* JPEG 2000 (JP2 container or raw J2K codestream) through OpenJPEG, read from memory.
 *
 * Samples map to 8 bits as Pillow's unpackers do: signed components are offset by 2^(prec-1); more than 8 bits
 * shift right with rounding, fewer shift left; kiln clamps where Pillow would wrap. Subsampled components are
 * replicated (nearest sample). Gray (+alpha) and sRGB (+alpha) are exact; sYCC converts with the JFIF equations,
 * which can differ from Pillow's table-driven conversion by one. e-YCC and CMYK are refused. Truncated
 * codestreams are errors (OpenJPEG's strict mode) where Pillow would return a partly decoded image. */
#include "image/image-internal.h"

#if KILN_HAVE_OPENJPEG

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <openjpeg.h>
#include <opj_config.h> /* OPJ_VERSION_* */

typedef struct jp2_mem {
    const uint8_t *data;
    OPJ_SIZE_T size, pos;
    char message[256];
} jp2_mem;

static OPJ_SIZE_T mem_read(void *buf, OPJ_SIZE_T n, void *user) {
    jp2_mem *m = user;
    if (m->pos >= m->size) return (OPJ_SIZE_T)-1;
    if (n > m->size - m->pos) n = m->size - m->pos;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return n;
}

static OPJ_OFF_T mem_skip(OPJ_OFF_T n, void *user) {
    jp2_mem *m = user;
    if (n < 0 ? (OPJ_SIZE_T)-n > m->pos : (OPJ_SIZE_T)n > m->size - m->pos) {
        m->pos = n < 0 ? 0 : m->size;
        return -1;
    }
    m->pos = n < 0 ? m->pos - (OPJ_SIZE_T)-n : m->pos + (OPJ_SIZE_T)n;
    return n;
}

static OPJ_BOOL mem_seek(OPJ_OFF_T to, void *user) {
    jp2_mem *m = user;
    if (to < 0 || (OPJ_SIZE_T)to > m->size) return OPJ_FALSE;
    m->pos = (OPJ_SIZE_T)to;
    return OPJ_TRUE;
}

static void on_error(const char *msg, void *user) {
    jp2_mem *m = user;
    if (m->message[0]) return; /* the first error is the cause; later ones are consequences */
    snprintf(m->message, sizeof m->message, "%s", msg);
    size_t n = strlen(m->message);
    while (n && (m->message[n - 1] == '\n' || m->message[n - 1] == ' ')) m->message[--n] = 0;
}

static void quiet(const char *msg, void *user) { (void)msg, (void)user; }

static kiln_status jp2_fail(const jp2_mem *m, const char *what) {
    return kiln_error(KILN_ERR_RUNTIME, "JPEG 2000: %s%s%s", what, m->message[0] ? ": " : "", m->message);
}

/* Sample of component c at image pixel (x, y), mapped to 8 bits. */
static int sample8(const opj_image_t *img, const opj_image_comp_t *c, uint32_t x, uint32_t y) {
    int64_t cx = (int64_t)((img->x0 + x) / c->dx) - c->x0, cy = (int64_t)((img->y0 + y) / c->dy) - c->y0;
    if (cx < 0) cx = 0;
    if (cy < 0) cy = 0;
    if (cx >= c->w) cx = c->w - 1;
    if (cy >= c->h) cy = c->h - 1;
    int64_t v = c->data[cy * c->w + cx];
    int prec = (int)c->prec;
    if (c->sgnd) v += (int64_t)1 << (prec - 1);
    if (prec > 8) v = (v + ((int64_t)1 << (prec - 9))) >> (prec - 8);
    else v <<= 8 - prec;
    return v < 0 ? 0 : v > 255 ? 255 : (int)v;
}

static uint8_t clamp8(double v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrint(v)); }

static kiln_status convert(const opj_image_t *img, kiln_image *out) {
    int space = img->color_space, n = (int)img->numcomps;
    if (space == OPJ_CLRSPC_UNSPECIFIED || space == OPJ_CLRSPC_UNKNOWN)
        space = n >= 3 ? OPJ_CLRSPC_SRGB : OPJ_CLRSPC_GRAY;
    KILN_FAIL_IF(space != OPJ_CLRSPC_SRGB && space != OPJ_CLRSPC_GRAY && space != OPJ_CLRSPC_SYCC,
                 KILN_ERR_UNSUPPORTED, "JPEG 2000: %s colour space is not supported",
                 space == OPJ_CLRSPC_CMYK ? "CMYK" : space == OPJ_CLRSPC_EYCC ? "e-YCC" : "this");
    int need = space == OPJ_CLRSPC_GRAY ? 1 : 3;
    KILN_FAIL_IF(n < need, KILN_ERR_RUNTIME, "JPEG 2000: %d components for a %s image", n,
                 need == 1 ? "gray" : "colour");
    for (int i = 0; i < need; i++) {
        const opj_image_comp_t *c = &img->comps[i];
        KILN_FAIL_IF(!c->data || !c->w || !c->h || !c->dx || !c->dy, KILN_ERR_RUNTIME,
                     "JPEG 2000: component %d has no samples", i);
        KILN_FAIL_IF(c->prec < 1 || c->prec > 31, KILN_ERR_UNSUPPORTED, "JPEG 2000: component %d has %u bits", i,
                     c->prec);
    }
    /* known only now: decoding applies the JP2 palette and colour boxes */
    out->channels = need;
    uint32_t w = (uint32_t)out->width, h = (uint32_t)out->height;
    uint8_t *d = out->data;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            if (need == 1) {
                *d++ = (uint8_t)sample8(img, &img->comps[0], x, y);
                continue;
            }
            int a = sample8(img, &img->comps[0], x, y), b = sample8(img, &img->comps[1], x, y),
                c = sample8(img, &img->comps[2], x, y);
            if (space == OPJ_CLRSPC_SYCC) {
                double yy = a, cb = b - 128, cr = c - 128;
                d[0] = clamp8(yy + 1.402 * cr);
                d[1] = clamp8(yy - 0.344136 * cb - 0.714136 * cr);
                d[2] = clamp8(yy + 1.772 * cb);
            } else {
                d[0] = (uint8_t)a, d[1] = (uint8_t)b, d[2] = (uint8_t)c;
            }
            d += 3;
        }
    return KILN_OK;
}

kiln_status kiln_image_decode_jp2(const uint8_t *data, size_t size, kiln_image *out) {
    jp2_mem m = {.data = data, .size = size};
    int jp2 = size >= 4 && !memcmp(data, "\0\0\0\x0c", 4);
    opj_codec_t *codec = opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
    opj_stream_t *st = opj_stream_create(size < 65536 ? size : 65536, OPJ_TRUE);
    opj_image_t *img = NULL;
    kiln_status s = KILN_OK;
    if (!codec || !st) {
        s = kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory decoding a JPEG 2000 image");
        goto done;
    }
    opj_set_error_handler(codec, on_error, &m);
    opj_set_warning_handler(codec, quiet, &m);
    opj_set_info_handler(codec, quiet, &m);
    opj_dparameters_t params;
    opj_set_default_decoder_parameters(&params);
    if (!opj_setup_decoder(codec, &params)) {
        s = jp2_fail(&m, "cannot set up the decoder");
        goto done;
    }
#if OPJ_VERSION_MAJOR > 2 || (OPJ_VERSION_MAJOR == 2 && OPJ_VERSION_MINOR >= 5)
    opj_decoder_set_strict_mode(codec, OPJ_TRUE);
#endif
    opj_stream_set_user_data(st, &m, NULL);
    opj_stream_set_user_data_length(st, size);
    opj_stream_set_read_function(st, mem_read);
    opj_stream_set_skip_function(st, mem_skip);
    opj_stream_set_seek_function(st, mem_seek);
    if (!opj_read_header(st, codec, &img) || !img) {
        s = jp2_fail(&m, "cannot read the header");
        goto done;
    }
    /* size checks before opj_decode allocates the components: gray, RGB and their alpha are at most 4 */
    if (img->numcomps > 4) {
        s = kiln_error(KILN_ERR_UNSUPPORTED, "JPEG 2000: %u components (kiln reads 1 to 4)", img->numcomps);
        goto done;
    }
    s = kiln_image_alloc(out, (int64_t)img->y1 - img->y0, (int64_t)img->x1 - img->x0, 3, "JPEG 2000");
    if (s != KILN_OK) goto done;
    if (!opj_decode(codec, st, img) || !opj_end_decompress(codec, st)) {
        s = jp2_fail(&m, "cannot decode the image");
        goto done;
    }
    s = convert(img, out);
done:
    opj_image_destroy(img);
    opj_stream_destroy(st);
    opj_destroy_codec(codec);
    return s;
}

#else

kiln_status kiln_image_decode_jp2(const uint8_t *data, size_t size, kiln_image *out) {
    (void)data, (void)size, (void)out;
    return kiln_error(KILN_ERR_UNSUPPORTED, "JPEG 2000: kiln was built without OpenJPEG (libopenjp2)");
}

#endif
