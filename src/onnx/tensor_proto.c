#include "onnx/tensor_proto.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/status.h"

/* The wire reader copies packed fixed-width arrays with memcpy and raw_data is used in place: both assume a
 * little-endian host. Big-endian hosts are not supported. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "kiln's ONNX reader assumes a little-endian host"
#endif

/* No host can densify more than this; refusing early gives an error instead of a failed giant allocation. */
#define MAX_DENSE_BYTES ((uint64_t)1 << 40)

void kiln_onnx_extdata_free(kiln_onnx_extdata *ext) {
    if (!ext) return;
    for (int i = 0; i < ext->n_maps; i++) {
        kiln_file_unmap(&ext->maps[i]);
        free(ext->paths[i]);
    }
    for (int i = 0; i < ext->n_locs; i++) free(ext->locs[i]);
    free(ext->maps);
    free(ext->paths);
    free(ext->locs);
    free(ext->loc_map);
    free(ext->base_real);
    memset(ext, 0, sizeof *ext);
}

size_t kiln_onnx_packed_size(kiln_dtype t, int64_t n) {
    int bits = kiln_dtype_wire_bits(t);
    return (size_t)(((uint64_t)n * (uint64_t)bits + 7) / 8);
}

void kiln_onnx_unpack_bits(kiln_dtype t, const uint8_t *src, int64_t n, uint8_t *dst) {
    int bits = kiln_dtype_wire_bits(t);
    int sign = kiln_dtype_is_signed(t);
    uint8_t mask = (uint8_t)((1u << bits) - 1);
    for (int64_t i = 0; i < n; i++) {
        uint64_t bit = (uint64_t)i * (uint64_t)bits;
        unsigned w = src[bit / 8];
        if (bit % 8 + (uint64_t)bits > 8) w |= (unsigned)src[bit / 8 + 1] << 8; /* 6-bit codes straddle bytes */
        uint8_t v = (uint8_t)((w >> (bit % 8)) & mask);
        if (sign && (v & (1u << (bits - 1)))) v |= (uint8_t)~mask;
        dst[i] = v;
    }
}

void kiln_onnx_pack_bits(kiln_dtype t, const uint8_t *src, int64_t n, uint8_t *dst) {
    int bits = kiln_dtype_wire_bits(t);
    unsigned mask = (1u << bits) - 1;
    memset(dst, 0, kiln_onnx_packed_size(t, n));
    for (int64_t i = 0; i < n; i++) {
        uint64_t bit = (uint64_t)i * (uint64_t)bits;
        unsigned v = ((unsigned)src[i] & mask) << (bit % 8);
        dst[bit / 8] |= (uint8_t)v;
        if (v >> 8) dst[bit / 8 + 1] |= (uint8_t)(v >> 8);
    }
}

/* ---------------------------------------------------------------- external data ---------------------------------- */

static kiln_status parse_size(const char *what, const uint8_t *s, size_t len, const char *tname, uint64_t *out) {
    uint64_t v = 0;
    KILN_FAIL_IF(len == 0 || len > 20, KILN_ERR_PARSE, "tensor '%s': external data %s '%.*s' is not a byte count",
                 tname, what, (int)len, (const char *)s);
    for (size_t i = 0; i < len; i++) {
        KILN_FAIL_IF(s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10, KILN_ERR_PARSE,
                     "tensor '%s': external data %s '%.*s' is not a byte count", tname, what, (int)len,
                     (const char *)s);
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return KILN_OK;
}

/* Caches loc -> mapping (room in locs was reserved by the caller). */
static kiln_status remember(kiln_onnx_extdata *ext, const char *loc, int map, const kiln_mapped_file **out) {
    char *l = strdup(loc);
    KILN_FAIL_IF(!l, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    ext->locs[ext->n_locs] = l;
    ext->loc_map[ext->n_locs++] = map;
    *out = &ext->maps[map];
    return KILN_OK;
}

/* Resolves `loc` inside base_dir, refusing anything that lands outside it (absolute paths, "..", symlinks that
 * point out), and maps the file once per distinct path. */
static kiln_status ext_map(kiln_onnx_extdata *ext, const char *loc, const char *tname, const kiln_mapped_file **out) {
    KILN_FAIL_IF(!ext || !ext->base_dir, KILN_ERR_INVALID_ARGUMENT,
                 "tensor '%s' keeps its data in external file '%s', but the model was given without a base "
                 "directory to find it in",
                 tname, loc);
    KILN_FAIL_IF(!*loc, KILN_ERR_PARSE, "tensor '%s': external data location is empty", tname);
    KILN_FAIL_IF(loc[0] == '/' || loc[0] == '\\', KILN_ERR_INVALID_ARGUMENT,
                 "tensor '%s': external data location '%s' is an absolute path; it must be relative to the model's "
                 "folder",
                 tname, loc);
    for (int i = 0; i < ext->n_locs; i++)
        if (!strcmp(ext->locs[i], loc)) {
            *out = &ext->maps[ext->loc_map[i]];
            return KILN_OK;
        }
    if (!ext->base_real) {
        ext->base_real = realpath(ext->base_dir, NULL);
        KILN_FAIL_IF(!ext->base_real, KILN_ERR_IO, "cannot resolve model folder '%s': %s", ext->base_dir,
                     strerror(errno));
    }
    const char *base_real = ext->base_real;
    char file_real[PATH_MAX];
    size_t bl = strlen(ext->base_dir), ll = strlen(loc);
    char *joined = malloc(bl + ll + 2);
    KILN_FAIL_IF(!joined, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    snprintf(joined, bl + ll + 2, "%s/%s", ext->base_dir, loc);
    char *rp = realpath(joined, file_real);
    int e = errno;
    free(joined);
    KILN_FAIL_IF(!rp, KILN_ERR_IO, "tensor '%s': cannot open external data file '%s' in '%s': %s", tname, loc,
                 ext->base_dir, strerror(e));
    size_t rl = strlen(base_real);
    int inside = strncmp(file_real, base_real, rl) == 0 &&
                 (file_real[rl] == '/' || (rl == 1 && base_real[0] == '/'));
    KILN_FAIL_IF(!inside, KILN_ERR_INVALID_ARGUMENT,
                 "tensor '%s': external data location '%s' escapes the model's folder (it resolves to a file "
                 "outside it); refused",
                 tname, loc);
    if (ext->n_locs == ext->cap_locs) {
        int nc = ext->cap_locs ? ext->cap_locs * 2 : 4;
        char **nl = realloc(ext->locs, sizeof *nl * (size_t)nc);
        KILN_FAIL_IF(!nl, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        ext->locs = nl;
        int *nm = realloc(ext->loc_map, sizeof *nm * (size_t)nc);
        KILN_FAIL_IF(!nm, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        ext->loc_map = nm;
        ext->cap_locs = nc;
    }
    for (int i = 0; i < ext->n_maps; i++)
        if (strcmp(ext->paths[i], file_real) == 0) return remember(ext, loc, i, out);
    if (ext->n_maps == ext->cap_maps) {
        int nc = ext->cap_maps ? ext->cap_maps * 2 : 4;
        kiln_mapped_file *nm = realloc(ext->maps, sizeof *nm * (size_t)nc);
        KILN_FAIL_IF(!nm, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        ext->maps = nm;
        char **np = realloc(ext->paths, sizeof *np * (size_t)nc);
        KILN_FAIL_IF(!np, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        ext->paths = np;
        ext->cap_maps = nc;
    }
    char *p = strdup(file_real);
    KILN_FAIL_IF(!p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = kiln_file_map(file_real, &ext->maps[ext->n_maps]);
    if (st != KILN_OK) {
        free(p);
        return kiln_error_wrap(st, "tensor '%s' external data", tname);
    }
    ext->paths[ext->n_maps] = p;
    return remember(ext, loc, ext->n_maps++, out);
}

/* ---------------------------------------------------------------- decoding -------------------------------------- */

typedef struct slice {
    const uint8_t *p;
    size_t n;
} slice;

typedef struct tproto {
    kiln_pb_u64s dims, i32, i64, u64, f64;
    kiln_pb_u32s f32;
    slice *strs;
    size_t n_strs, cap_strs;
    int32_t dtype;
    int has_raw, external, has_segment;
    slice raw, name, loc, off, len;
    int has_off, has_len;
} tproto;

static void tproto_free(tproto *t) {
    kiln_pb_u64s_free(&t->dims);
    kiln_pb_u64s_free(&t->i32);
    kiln_pb_u64s_free(&t->i64);
    kiln_pb_u64s_free(&t->u64);
    kiln_pb_u64s_free(&t->f64);
    kiln_pb_u32s_free(&t->f32);
    free(t->strs);
}

static kiln_status read_entry(kiln_pb *r, const kiln_pb_field *f, tproto *t) {
    kiln_pb e;
    kiln_pb_field g;
    slice k = {0}, v = {0};
    KILN_TRY(kiln_pb_sub(r, f, "external_data", "StringStringEntryProto", &e));
    while (kiln_pb_next(&e, &g)) {
        if (g.num == 1) KILN_TRY(kiln_pb_bytes(&e, &g, "key", &k.p, &k.n));
        if (g.num == 2) KILN_TRY(kiln_pb_bytes(&e, &g, "value", &v.p, &v.n));
    }
    KILN_TRY(e.status);
    if (k.n == 8 && !memcmp(k.p, "location", 8)) t->loc = v;
    if (k.n == 6 && !memcmp(k.p, "offset", 6)) t->off = v, t->has_off = 1;
    if (k.n == 6 && !memcmp(k.p, "length", 6)) t->len = v, t->has_len = 1;
    return KILN_OK;
}

static kiln_status scan(kiln_pb *r, tproto *t) {
    kiln_pb_field f;
    int64_t loc;
    while (kiln_pb_next(r, &f)) {
        switch (f.num) {
        case 1: KILN_TRY(kiln_pb_add_varints(r, &f, "dims", &t->dims)); break;
        case 2: KILN_TRY(kiln_pb_int32(r, &f, "data_type", &t->dtype)); break;
        case 3: t->has_segment = 1; break;
        case 4: KILN_TRY(kiln_pb_add_fixed32(r, &f, "float_data", &t->f32)); break;
        case 5: KILN_TRY(kiln_pb_add_varints(r, &f, "int32_data", &t->i32)); break;
        case 6:
            if (t->n_strs == t->cap_strs) {
                size_t nc = t->cap_strs ? t->cap_strs * 2 : 8;
                slice *ns = realloc(t->strs, nc * sizeof *ns);
                KILN_FAIL_IF(!ns, KILN_ERR_OUT_OF_MEMORY, "out of memory");
                t->strs = ns;
                t->cap_strs = nc;
            }
            KILN_TRY(kiln_pb_bytes(r, &f, "string_data", &t->strs[t->n_strs].p, &t->strs[t->n_strs].n));
            t->n_strs++;
            break;
        case 7: KILN_TRY(kiln_pb_add_varints(r, &f, "int64_data", &t->i64)); break;
        case 8: KILN_TRY(kiln_pb_bytes(r, &f, "name", &t->name.p, &t->name.n)); break;
        case 9:
            KILN_TRY(kiln_pb_bytes(r, &f, "raw_data", &t->raw.p, &t->raw.n));
            t->has_raw = 1;
            break;
        case 10: KILN_TRY(kiln_pb_add_fixed64(r, &f, "double_data", &t->f64)); break;
        case 11: KILN_TRY(kiln_pb_add_varints(r, &f, "uint64_data", &t->u64)); break;
        case 13: KILN_TRY(read_entry(r, &f, t)); break;
        case 14:
            KILN_TRY(kiln_pb_int64(r, &f, "data_location", &loc));
            t->external = loc == 1;
            break;
        default: break;
        }
    }
    return r->status;
}

/* Bytes in kiln layout from an ONNX raw buffer (raw_data or external file). */
static kiln_status from_raw(const char *tname, kiln_dtype dt, int rank, const int64_t *dims, int64_t n,
                            const uint8_t *src, size_t len, int borrow, kiln_tensor *out) {
    KILN_FAIL_IF(dt == KILN_STRING, KILN_ERR_PARSE, "tensor '%s': STRING tensors cannot use raw_data", tname);
    int bits = kiln_dtype_wire_bits(dt);
    size_t want = kiln_onnx_packed_size(dt, n);
    KILN_FAIL_IF(len != want, KILN_ERR_PARSE, "tensor '%s' (%s, %lld elements): data has %zu bytes, expected %zu",
                 tname, kiln_dtype_name(dt), (long long)n, len, want);
    size_t es = kiln_dtype_size(dt);
    size_t align = es > 8 ? 8 : es;
    if (borrow && bits >= 8 && n > 0 && ((uintptr_t)src % align) == 0) {
        out->dtype = dt;
        out->rank = rank;
        for (int i = 0; i < rank; i++) out->dims[i] = dims[i];
        out->data = (void *)src; /* read-only mapping: kernels never write initializers */
        out->owned = 0;
        out->cap = 0;
        return KILN_OK;
    }
    KILN_TRY(kiln_tensor_alloc(out, dt, rank, dims));
    if (bits < 8)
        kiln_onnx_unpack_bits(dt, src, n, out->data);
    else if (len)
        memcpy(out->data, src, len);
    return KILN_OK;
}

static kiln_status count_is(const char *tname, const char *field, size_t have, uint64_t want) {
    KILN_FAIL_IF(have != want, KILN_ERR_PARSE, "tensor '%s': %s has %zu values, expected %llu", tname, field, have,
                 (unsigned long long)want);
    return KILN_OK;
}

/* Typed fields: each dtype has one field it may use (see onnx.proto's TensorProto comments). Checked before the
 * tensor is allocated, so a corrupt dims field cannot ask for an absurd allocation. */
static kiln_status check_typed(const char *tname, const tproto *t, kiln_dtype dt, int64_t n) {
    uint64_t un = (uint64_t)n;
    switch (dt) {
    case KILN_FLOAT: return count_is(tname, "float_data", t->f32.n, un);
    case KILN_COMPLEX64: return count_is(tname, "float_data", t->f32.n, 2 * un);
    case KILN_DOUBLE: return count_is(tname, "double_data", t->f64.n, un);
    case KILN_COMPLEX128: return count_is(tname, "double_data", t->f64.n, 2 * un);
    case KILN_INT64: return count_is(tname, "int64_data", t->i64.n, un);
    case KILN_UINT64: case KILN_UINT32: return count_is(tname, "uint64_data", t->u64.n, un);
    case KILN_STRING: return count_is(tname, "string_data", t->n_strs, un);
    default: break;
    }
    int bits = kiln_dtype_wire_bits(dt);
    return count_is(tname, "int32_data", t->i32.n, bits == 4 || bits == 2 ? kiln_onnx_packed_size(dt, n) : un);
}

static kiln_status from_typed(const char *tname, const tproto *t, kiln_dtype dt, int64_t n, kiln_tensor *out) {
    uint8_t *d = out->data;
    uint64_t un = (uint64_t)n;
    switch (dt) {
    case KILN_FLOAT:
    case KILN_COMPLEX64:
        KILN_TRY(count_is(tname, "float_data", t->f32.n, dt == KILN_FLOAT ? un : 2 * un));
        if (t->f32.n) memcpy(d, t->f32.v, t->f32.n * 4);
        return KILN_OK;
    case KILN_DOUBLE:
    case KILN_COMPLEX128:
        KILN_TRY(count_is(tname, "double_data", t->f64.n, dt == KILN_DOUBLE ? un : 2 * un));
        if (t->f64.n) memcpy(d, t->f64.v, t->f64.n * 8);
        return KILN_OK;
    case KILN_INT64:
        KILN_TRY(count_is(tname, "int64_data", t->i64.n, un));
        if (un) memcpy(d, t->i64.v, un * 8);
        return KILN_OK;
    case KILN_UINT64:
        KILN_TRY(count_is(tname, "uint64_data", t->u64.n, un));
        if (un) memcpy(d, t->u64.v, un * 8);
        return KILN_OK;
    case KILN_UINT32:
        KILN_TRY(count_is(tname, "uint64_data", t->u64.n, un));
        for (uint64_t i = 0; i < un; i++) ((uint32_t *)(void *)d)[i] = (uint32_t)t->u64.v[i];
        return KILN_OK;
    case KILN_STRING:
        KILN_TRY(count_is(tname, "string_data", t->n_strs, un));
        for (uint64_t i = 0; i < un; i++)
            KILN_TRY(kiln_tensor_set_string(out, (int64_t)i, (const char *)t->strs[i].p, t->strs[i].n));
        return KILN_OK;
    default:
        break;
    }
    int bits = kiln_dtype_wire_bits(dt);
    if (bits == 4 || bits == 2) {
        /* Each int32_data entry carries one packed byte. */
        size_t nb = kiln_onnx_packed_size(dt, n);
        KILN_TRY(count_is(tname, "int32_data", t->i32.n, nb));
        uint8_t *packed = malloc(nb ? nb : 1);
        KILN_FAIL_IF(!packed, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        for (size_t i = 0; i < nb; i++) packed[i] = (uint8_t)t->i32.v[i];
        kiln_onnx_unpack_bits(dt, packed, n, d);
        free(packed);
        return KILN_OK;
    }
    KILN_TRY(count_is(tname, "int32_data", t->i32.n, un));
    size_t es = kiln_dtype_size(dt);
    for (uint64_t i = 0; i < un; i++) {
        uint32_t v = (uint32_t)t->i32.v[i];
        if (bits == 6) v &= 0x3f;
        if (dt == KILN_BOOL) v = v != 0;
        memcpy(d + i * es, &v, es); /* low bytes on a little-endian host */
    }
    return KILN_OK;
}

kiln_status kiln_onnx_read_tensor(kiln_pb *r, kiln_onnx_extdata *ext, int borrow, kiln_tensor *out,
                                  const uint8_t **name, size_t *name_len) {
    kiln_tensor_release(out);
    tproto t;
    memset(&t, 0, sizeof t);
    size_t msg_off = (size_t)(r->p - r->base);
    kiln_status st = scan(r, &t);
    char tname[160];
    snprintf(tname, sizeof tname, "%.*s", (int)(t.name.n > 120 ? 120 : t.name.n), t.name.p ? (const char *)t.name.p : "");
    if (name) *name = t.name.p ? t.name.p : (const uint8_t *)"";
    if (name_len) *name_len = t.name.n;
    if (st != KILN_OK) goto done;
    kiln_dtype dt = (kiln_dtype)t.dtype;
    int64_t dims[KILN_MAX_DIMS];
    int64_t n;
    if (!kiln_dtype_is_valid(t.dtype)) {
        st = kiln_error(KILN_ERR_PARSE, "tensor '%s' (TensorProto at byte offset %zu) has invalid data_type %d",
                        tname, msg_off, (int)t.dtype);
        goto done;
    }
    if (t.dims.n > KILN_MAX_DIMS) {
        st = kiln_error(KILN_ERR_UNSUPPORTED, "tensor '%s' has rank %zu; kiln supports up to %d", tname, t.dims.n,
                        KILN_MAX_DIMS);
        goto done;
    }
    for (size_t i = 0; i < t.dims.n; i++) {
        dims[i] = (int64_t)t.dims.v[i];
        if (dims[i] < 0) {
            st = kiln_error(KILN_ERR_PARSE, "tensor '%s' has negative dimension %lld at axis %zu", tname,
                            (long long)dims[i], i);
            goto done;
        }
    }
    int rank = (int)t.dims.n;
    n = kiln_numel(rank, dims);
    if (n < 0 || (uint64_t)n > SIZE_MAX / 16) {
        st = kiln_error(KILN_ERR_PARSE, "tensor '%s': element count overflows", tname);
        goto done;
    }
    if (t.has_segment) {
        st = kiln_error(KILN_ERR_UNSUPPORTED, "tensor '%s' is a segment of a larger tensor; not supported", tname);
        goto done;
    }
    if (t.external) {
        char loc[1024];
        if (!t.loc.p || t.loc.n >= sizeof loc || memchr(t.loc.p, 0, t.loc.n)) {
            st = kiln_error(KILN_ERR_PARSE, "tensor '%s': external data has no valid 'location'", tname);
            goto done;
        }
        memcpy(loc, t.loc.p, t.loc.n);
        loc[t.loc.n] = 0;
        uint64_t off = 0, len = 0;
        const kiln_mapped_file *m = NULL;
        if (t.has_off && (st = parse_size("offset", t.off.p, t.off.n, tname, &off)) != KILN_OK) goto done;
        if (t.has_len && (st = parse_size("length", t.len.p, t.len.n, tname, &len)) != KILN_OK) goto done;
        if ((st = ext_map(ext, loc, tname, &m)) != KILN_OK) goto done;
        if (off > m->size || (t.has_len && len > m->size - off)) {
            st = kiln_error(KILN_ERR_PARSE,
                            "tensor '%s': external data offset %llu + length %llu runs past the end of '%s' (%zu "
                            "bytes)",
                            tname, (unsigned long long)off, (unsigned long long)len, loc, m->size);
            goto done;
        }
        if (!t.has_len) len = m->size - off;
        st = from_raw(tname, dt, rank, dims, n, (const uint8_t *)m->data + off, (size_t)len, borrow, out);
    } else if (t.has_raw) {
        st = from_raw(tname, dt, rank, dims, n, t.raw.p, t.raw.n, borrow, out);
    } else {
        st = check_typed(tname, &t, dt, n);
        if (st == KILN_OK) st = kiln_tensor_alloc(out, dt, rank, dims);
        if (st == KILN_OK) st = from_typed(tname, &t, dt, n, out);
    }
done:
    if (st != KILN_OK) kiln_tensor_release(out);
    tproto_free(&t);
    return st;
}

kiln_status kiln_onnx_read_sparse(kiln_pb *r, kiln_onnx_extdata *ext, kiln_tensor *out, const uint8_t **name,
                                  size_t *name_len) {
    kiln_tensor vals = {0}, idx = {0};
    kiln_pb_u64s dims = {0};
    kiln_pb_field f;
    kiln_status st = KILN_OK;
    int have_vals = 0, have_idx = 0;
    if (name) *name = (const uint8_t *)"";
    if (name_len) *name_len = 0;
    kiln_tensor_release(out);
    while (st == KILN_OK && kiln_pb_next(r, &f)) {
        kiln_pb sub;
        if (f.num == 1) {
            st = kiln_pb_sub(r, &f, "values", "TensorProto", &sub);
            if (st == KILN_OK) st = kiln_onnx_read_tensor(&sub, ext, 0, &vals, name, name_len);
            have_vals = 1;
        } else if (f.num == 2) {
            st = kiln_pb_sub(r, &f, "indices", "TensorProto", &sub);
            if (st == KILN_OK) st = kiln_onnx_read_tensor(&sub, ext, 0, &idx, NULL, NULL);
            have_idx = 1;
        } else if (f.num == 3) {
            st = kiln_pb_add_varints(r, &f, "dims", &dims);
        }
    }
    if (st == KILN_OK) st = r->status;
    char tname[160];
    snprintf(tname, sizeof tname, "%.*s", (int)(name_len && *name_len < 120 ? *name_len : 0),
             name ? (const char *)*name : "");
    if (st != KILN_OK) goto done;
    if (!have_vals || !have_idx) {
        st = kiln_error(KILN_ERR_PARSE, "sparse tensor '%s' lacks its %s", tname, have_vals ? "indices" : "values");
        goto done;
    }
    if (dims.n > KILN_MAX_DIMS) {
        st = kiln_error(KILN_ERR_UNSUPPORTED, "sparse tensor '%s' has rank %zu; kiln supports up to %d", tname,
                        dims.n, KILN_MAX_DIMS);
        goto done;
    }
    int64_t d[KILN_MAX_DIMS];
    int rank = (int)dims.n;
    for (int i = 0; i < rank; i++) d[i] = (int64_t)dims.v[i];
    int64_t total = kiln_numel(rank, d);
    int64_t nnz = kiln_tensor_numel(&vals);
    if (total < 0 || vals.rank != 1 || idx.dtype != KILN_INT64 ||
        !((idx.rank == 1 && idx.dims[0] == nnz) || (idx.rank == 2 && idx.dims[0] == nnz && idx.dims[1] == rank))) {
        st = kiln_error(KILN_ERR_PARSE,
                        "sparse tensor '%s': values must be 1-D, indices INT64 [NNZ] or [NNZ, rank] (got values rank "
                        "%d, indices %s rank %d)",
                        tname, vals.rank, kiln_dtype_name(idx.dtype), idx.rank);
        goto done;
    }
    if ((uint64_t)total > MAX_DENSE_BYTES / kiln_dtype_size(vals.dtype)) {
        st = kiln_error(KILN_ERR_OUT_OF_MEMORY, "sparse tensor '%s' would take %lld elements once densified", tname,
                        (long long)total);
        goto done;
    }
    if ((st = kiln_tensor_alloc(out, vals.dtype, rank, d)) != KILN_OK) goto done;
    const int64_t *ix = idx.data;
    size_t es = kiln_dtype_size(vals.dtype);
    for (int64_t k = 0; k < nnz; k++) {
        int64_t lin = 0;
        if (idx.rank == 1) {
            lin = ix[k];
        } else {
            for (int a = 0; a < rank; a++) {
                int64_t v = ix[k * rank + a];
                if (v < 0 || v >= d[a]) {
                    lin = -1;
                    break;
                }
                lin = lin * d[a] + v;
            }
        }
        if (lin < 0 || lin >= total) {
            st = kiln_error(KILN_ERR_PARSE, "sparse tensor '%s': index %lld of non-zero %lld is out of range", tname,
                            (long long)(idx.rank == 1 ? ix[k] : lin), (long long)k);
            goto done;
        }
        if (vals.dtype == KILN_STRING) {
            const char *s = ((char *const *)vals.data)[k];
            st = kiln_tensor_set_string(out, lin, s, strlen(s));
            if (st != KILN_OK) goto done;
        } else {
            memcpy((uint8_t *)out->data + (size_t)lin * es, (const uint8_t *)vals.data + (size_t)k * es, es);
        }
    }
done:
    if (st != KILN_OK) kiln_tensor_release(out);
    kiln_tensor_release(&vals);
    kiln_tensor_release(&idx);
    kiln_pb_u64s_free(&dims);
    return st;
}
