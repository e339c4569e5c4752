/* String -> int hash map for name lookups during import (models have thousands of values; a linear scan per
 * lookup would be quadratic). Keys are copied into the map's own arena. */
#ifndef KILN_ONNX_STRMAP_H
#define KILN_ONNX_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "kiln.h"

typedef struct kiln_strmap_slot {
    const char *key; /* NULL: empty */
    size_t len;
    uint64_t hash;
    intptr_t val;
} kiln_strmap_slot;

typedef struct kiln_strmap {
    kiln_strmap_slot *slots;
    size_t cap, n; /* cap is a power of two */
    kiln_arena keys;
} kiln_strmap;

/* Returns 1 and sets *val when found, else 0. */
int kiln_strmap_get(const kiln_strmap *m, const char *key, size_t len, intptr_t *val);
/* Inserts or overwrites. */
kiln_status kiln_strmap_put(kiln_strmap *m, const char *key, size_t len, intptr_t val);
/* The map's own copy of a stored key (NUL-terminated), or NULL. */
const char *kiln_strmap_key(const kiln_strmap *m, const char *key, size_t len);
void kiln_strmap_free(kiln_strmap *m);

#endif
