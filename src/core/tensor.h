/* Tensors and run-time values (tensor, sequence of tensors, empty optional).
 *
 * Ownership: a tensor either owns `data` (owned=1: allocated by kiln_tensor_*; freed by kiln_tensor_release)
 * or borrows it (owned=0: e.g. weights inside a mapped model or plan, valid as long as that mapping).
 * STRING tensors hold `char *` per element; an owned string tensor owns each string too. */
#ifndef KILN_CORE_TENSOR_H
#define KILN_CORE_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "kiln.h"

typedef struct kiln_tensor {
    kiln_dtype dtype;
    int rank;
    int64_t dims[KILN_MAX_DIMS];
    void *data;
    size_t cap;   /* bytes allocated when owned */
    int owned;
} kiln_tensor;

/* Number of elements; -1 if a dim is negative or the product overflows int64. */
int64_t kiln_numel(int rank, const int64_t *dims);
int64_t kiln_tensor_numel(const kiln_tensor *t);
/* Bytes of storage (numel * dtype size); 0 on overflow (check numel first). */
size_t kiln_tensor_nbytes(const kiln_tensor *t);

/* Sets dtype/shape and makes sure an owned buffer of at least the needed size exists (reusing a large enough
 * owned buffer; a borrowed one is dropped, never written). Zero-fills new memory. Strings are freed first. */
kiln_status kiln_tensor_alloc(kiln_tensor *t, kiln_dtype dtype, int rank, const int64_t *dims);
/* Frees owned storage (and strings); leaves an empty tensor. */
void kiln_tensor_release(kiln_tensor *t);
/* Deep copy into dst (dst is released/reused first). */
kiln_status kiln_tensor_copy(kiln_tensor *dst, const kiln_tensor *src);
/* A non-owning view of src's storage. */
void kiln_tensor_borrow(kiln_tensor *dst, const kiln_tensor *src);
/* Sets string element i of an owned STRING tensor (copies len bytes, NUL-terminates). */
kiln_status kiln_tensor_set_string(kiln_tensor *t, int64_t i, const char *s, size_t len);

typedef enum kiln_vkind {
    KILN_V_EMPTY = 0,     /* not yet produced */
    KILN_V_TENSOR = 1,
    KILN_V_SEQUENCE = 2,
    KILN_V_NONE = 3,      /* optional without a value */
} kiln_vkind;

typedef struct kiln_value {
    kiln_vkind kind;
    kiln_tensor t;          /* kind TENSOR */
    int n_items, cap_items; /* kind SEQUENCE */
    kiln_tensor *items;
    kiln_dtype elem_dtype;  /* kind SEQUENCE (meaningful even when empty); kind NONE: the optional's element
                               dtype if known */
} kiln_value;

void kiln_value_release(kiln_value *v);
kiln_status kiln_value_copy(kiln_value *dst, const kiln_value *src);
/* Sequence helpers: make v an empty sequence / append a deep copy of t. */
void kiln_value_set_sequence(kiln_value *v, kiln_dtype elem_dtype);
kiln_status kiln_value_seq_append(kiln_value *v, const kiln_tensor *t);

#endif
