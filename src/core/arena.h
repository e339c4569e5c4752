/* Bump allocator: many small allocations freed together (IR strings, attribute arrays). */
#ifndef KILN_CORE_ARENA_H
#define KILN_CORE_ARENA_H

#include <stddef.h>

typedef struct kiln_arena_block kiln_arena_block;
typedef struct kiln_arena {
    kiln_arena_block *head;
} kiln_arena;

/* Zeroed, 16-byte aligned; NULL on out of memory. */
void *kiln_arena_alloc(kiln_arena *a, size_t size);
/* Copies len bytes and NUL-terminates; s may be NULL when len is 0. */
char *kiln_arena_strndup(kiln_arena *a, const char *s, size_t len);
char *kiln_arena_strdup(kiln_arena *a, const char *s);
void kiln_arena_free(kiln_arena *a);

#endif
