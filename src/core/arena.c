#include "core/arena.h"

#include <stdlib.h>
#include <string.h>

struct kiln_arena_block {
    kiln_arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char mem[];
};

void *kiln_arena_alloc(kiln_arena *a, size_t size) {
    size = (size + 15) & ~(size_t)15;
    kiln_arena_block *b = a->head;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > 65536 ? size : 65536;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->mem + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *kiln_arena_strndup(kiln_arena *a, const char *s, size_t len) {
    char *c = kiln_arena_alloc(a, len + 1);
    if (!c) return NULL;
    if (len) memcpy(c, s, len);
    c[len] = 0;
    return c;
}

char *kiln_arena_strdup(kiln_arena *a, const char *s) { return kiln_arena_strndup(a, s ? s : "", s ? strlen(s) : 0); }

void kiln_arena_free(kiln_arena *a) {
    kiln_arena_block *b = a->head;
    while (b) {
        kiln_arena_block *n = b->next;
        free(b);
        b = n;
    }
    a->head = NULL;
}
