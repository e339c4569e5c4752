#include "onnx/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"

/* FNV-1a: short names, no adversarial-collision concern beyond slowness. */
static uint64_t hash_bytes(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static const kiln_strmap_slot *find(const kiln_strmap *m, const char *key, size_t len, uint64_t h) {
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const kiln_strmap_slot *s = &m->slots[i];
        if (!s->key) return s;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return s;
    }
}

int kiln_strmap_get(const kiln_strmap *m, const char *key, size_t len, intptr_t *val) {
    const kiln_strmap_slot *s = find(m, key, len, hash_bytes(key, len));
    if (!s || !s->key) return 0;
    if (val) *val = s->val;
    return 1;
}

const char *kiln_strmap_key(const kiln_strmap *m, const char *key, size_t len) {
    const kiln_strmap_slot *s = find(m, key, len, hash_bytes(key, len));
    return s ? s->key : NULL;
}

static kiln_status rehash(kiln_strmap *m, size_t nc) {
    kiln_strmap_slot *ns = calloc(nc, sizeof *ns);
    KILN_FAIL_IF(!ns, KILN_ERR_OUT_OF_MEMORY, "out of memory growing a name table to %zu entries", nc);
    for (size_t i = 0; i < m->cap; i++) {
        const kiln_strmap_slot *s = &m->slots[i];
        if (!s->key) continue;
        size_t j = (size_t)s->hash & (nc - 1);
        while (ns[j].key) j = (j + 1) & (nc - 1);
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = nc;
    return KILN_OK;
}

kiln_status kiln_strmap_put(kiln_strmap *m, const char *key, size_t len, intptr_t val) {
    if ((m->n + 1) * 4 >= m->cap * 3) KILN_TRY(rehash(m, m->cap ? m->cap * 2 : 64));
    uint64_t h = hash_bytes(key, len);
    kiln_strmap_slot *s = (kiln_strmap_slot *)find(m, key, len, h);
    if (!s->key) {
        char *k = kiln_arena_strndup(&m->keys, key, len);
        KILN_FAIL_IF(!k, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        s->key = k;
        s->len = len;
        s->hash = h;
        m->n++;
    }
    s->val = val;
    return KILN_OK;
}

void kiln_strmap_free(kiln_strmap *m) {
    free(m->slots);
    kiln_arena_free(&m->keys);
    memset(m, 0, sizeof *m);
}
