#include "core/tensor.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"

int64_t kiln_numel(int rank, const int64_t *dims) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return -1;
        if (dims[i] != 0 && n > INT64_MAX / dims[i]) return -1;
        n *= dims[i];
    }
    return n;
}

int64_t kiln_tensor_numel(const kiln_tensor *t) { return kiln_numel(t->rank, t->dims); }

size_t kiln_tensor_nbytes(const kiln_tensor *t) {
    int64_t n = kiln_tensor_numel(t);
    size_t es = kiln_dtype_size(t->dtype);
    if (n < 0 || (es && (uint64_t)n > SIZE_MAX / es)) return 0;
    return (size_t)n * es;
}

static void free_strings(kiln_tensor *t) {
    if (t->dtype != KILN_STRING || !t->owned || !t->data) return;
    size_t n = t->cap / sizeof(char *);
    char **s = t->data;
    for (size_t i = 0; i < n; i++) {
        free(s[i]);
        s[i] = NULL;
    }
}

void kiln_tensor_release(kiln_tensor *t) {
    if (t->owned) {
        free_strings(t);
        free(t->data);
    }
    memset(t, 0, sizeof *t);
}

kiln_status kiln_tensor_alloc(kiln_tensor *t, kiln_dtype dtype, int rank, const int64_t *dims) {
    KILN_FAIL_IF(rank < 0 || rank > KILN_MAX_DIMS, KILN_ERR_UNSUPPORTED, "tensor rank %d exceeds kiln's limit of %d",
                 rank, KILN_MAX_DIMS);
    int64_t n = kiln_numel(rank, dims);
    KILN_FAIL_IF(n < 0, KILN_ERR_SHAPE, "invalid tensor shape (negative dim or element count overflow)");
    size_t es = kiln_dtype_size(dtype);
    KILN_FAIL_IF(es == 0, KILN_ERR_TYPE, "cannot allocate a tensor of dtype %d", (int)dtype);
    KILN_FAIL_IF((uint64_t)n > SIZE_MAX / es, KILN_ERR_OUT_OF_MEMORY, "tensor of %lld elements is too large",
                 (long long)n);
    size_t bytes = (size_t)n * es;
    free_strings(t);
    if (!t->owned || t->cap < bytes || !t->data) {
        if (t->owned) free(t->data);
        size_t want = bytes ? bytes : 1;
        t->data = calloc(1, want);
        t->owned = 1;
        t->cap = want;
        KILN_FAIL_IF(!t->data, KILN_ERR_OUT_OF_MEMORY, "out of memory allocating %zu bytes", want);
    } else if (dtype == KILN_STRING) {
        memset(t->data, 0, t->cap);
    }
    t->dtype = dtype;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
    return KILN_OK;
}

kiln_status kiln_tensor_copy(kiln_tensor *dst, const kiln_tensor *src) {
    if (dst == src) return KILN_OK;
    KILN_TRY(kiln_tensor_alloc(dst, src->dtype, src->rank, src->dims));
    if (src->dtype == KILN_STRING) {
        int64_t n = kiln_tensor_numel(src);
        char *const *s = src->data;
        for (int64_t i = 0; i < n; i++)
            KILN_TRY(kiln_tensor_set_string(dst, i, s[i] ? s[i] : "", s[i] ? strlen(s[i]) : 0));
    } else {
        size_t nb = kiln_tensor_nbytes(src);
        if (nb) memcpy(dst->data, src->data, nb);
    }
    return KILN_OK;
}

void kiln_tensor_borrow(kiln_tensor *dst, const kiln_tensor *src) {
    kiln_tensor_release(dst);
    *dst = *src;
    dst->owned = 0;
    dst->cap = 0;
}

kiln_status kiln_tensor_set_string(kiln_tensor *t, int64_t i, const char *s, size_t len) {
    KILN_FAIL_IF(t->dtype != KILN_STRING || !t->owned, KILN_ERR_INTERNAL, "set_string on a non-string tensor");
    char *c = malloc(len + 1);
    KILN_FAIL_IF(!c, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (len) memcpy(c, s, len);
    c[len] = 0;
    char **arr = t->data;
    free(arr[i]);
    arr[i] = c;
    return KILN_OK;
}

void kiln_value_release(kiln_value *v) {
    kiln_tensor_release(&v->t);
    for (int i = 0; i < v->cap_items; i++) kiln_tensor_release(&v->items[i]);
    free(v->items);
    memset(v, 0, sizeof *v);
}

void kiln_value_set_sequence(kiln_value *v, kiln_dtype elem_dtype) {
    for (int i = 0; i < v->n_items; i++) kiln_tensor_release(&v->items[i]);
    v->n_items = 0;
    v->kind = KILN_V_SEQUENCE;
    v->elem_dtype = elem_dtype;
}

kiln_status kiln_value_seq_append(kiln_value *v, const kiln_tensor *t) {
    if (v->n_items == v->cap_items) {
        int nc = v->cap_items ? v->cap_items * 2 : 4;
        kiln_tensor *ni = realloc(v->items, (size_t)nc * sizeof *ni);
        KILN_FAIL_IF(!ni, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        memset(ni + v->cap_items, 0, (size_t)(nc - v->cap_items) * sizeof *ni);
        v->items = ni;
        v->cap_items = nc;
    }
    KILN_TRY(kiln_tensor_copy(&v->items[v->n_items], t));
    v->n_items++;
    return KILN_OK;
}

kiln_status kiln_value_copy(kiln_value *dst, const kiln_value *src) {
    if (dst == src) return KILN_OK;
    switch (src->kind) {
    case KILN_V_TENSOR:
        KILN_TRY(kiln_tensor_copy(&dst->t, &src->t));
        break;
    case KILN_V_SEQUENCE:
        kiln_value_set_sequence(dst, src->elem_dtype);
        for (int i = 0; i < src->n_items; i++) KILN_TRY(kiln_value_seq_append(dst, &src->items[i]));
        break;
    default:
        break;
    }
    dst->kind = src->kind;
    dst->elem_dtype = src->elem_dtype;
    return KILN_OK;
}
