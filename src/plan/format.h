/* Plan file constants shared by the writer and the reader (see plan.h for the layout). */
#ifndef KILN_PLAN_FORMAT_H
#define KILN_PLAN_FORMAT_H

#include <stdint.h>
#include <string.h>

enum {
    PLAN_HEADER_FIXED = 64,   /* bytes before the section table */
    PLAN_SECTION_ENTRY = 24,  /* {u32 id, u32 reserved, u64 offset, u64 size} */
    PLAN_TRAILER = 4,         /* u32 CRC32C */
    PLAN_VERSION_CHARS = 16,
    PLAN_MAX_SECTIONS = 64,
    PLAN_MAX_GRAPH_DEPTH = 64, /* nested subgraphs; deeper plans are refused rather than overflowing the stack */
};

/* Header field offsets. The first four and the trailer are frozen across format versions. */
enum {
    PLAN_OFF_MAGIC = 0,
    PLAN_OFF_FORMAT = 8,
    PLAN_OFF_HEADER_SIZE = 12,
    PLAN_OFF_FILE_SIZE = 16,
    PLAN_OFF_KILN_VERSION_NUMBER = 24,
    PLAN_OFF_KILN_VERSION = 28,
    PLAN_OFF_BACKEND = 44,
    PLAN_OFF_FLAGS = 48,
    PLAN_OFF_OPT_LEVEL = 52,
    PLAN_OFF_N_SECTIONS = 56,
    PLAN_OFF_RESERVED = 60,
};

/* Section ids: append only. */
enum {
    PLAN_SEC_STRINGS = 1,
    PLAN_SEC_GRAPH = 2,
    PLAN_SEC_PROFILES = 3,
    PLAN_SEC_WEIGHTS = 4,
    /* Hook: a CUDA plan will add a device section (GPU name, compute capability, UUID, CUDA/cuDNN/cuBLAS
     * versions) that the reader compares with the running device. */
    PLAN_SEC_DEVICE = 5,
};

/* A string reference: u32 offset into the strings section, u32 length; length PLAN_NULL_STR encodes NULL. */
#define PLAN_NULL_STR 0xffffffffu

/* Value record flag bits. */
enum { PLAN_V_INPUT = 1, PLAN_V_OUTPUT = 2, PLAN_V_OUTER = 4, PLAN_V_INIT = 8 };

static inline void plan_put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void plan_put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t plan_get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static inline uint64_t plan_get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#endif
