/* CRC32C (Castagnoli polynomial): the plan checksum. Any change confined to 32 consecutive bits (so any single
 * flipped byte) always changes it.
 *
 * Plans are mostly weights, so this runs over hundreds of megabytes at every load: large buffers are split into
 * chunks checksummed in parallel, and each chunk runs three interleaved streams of the SSE4.2 crc32 instruction
 * (its latency is three cycles, its throughput one per cycle). Partial CRCs are joined with crc_combine (the
 * GF(2) polynomial arithmetic zlib uses for crc32_combine). Without SSE4.2: slicing-by-8 tables. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"
#include "plan/plan.h"

#define POLY 0x82f63b78u

static uint32_t table[8][256];
static uint32_t x2n_table[32]; /* x^(2^k) mod P */
static int tables_ready;

/* a * b mod P, bit-reflected. */
static uint32_t multmodp(uint32_t a, uint32_t b) {
    uint32_t m = 1u << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0) break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
    }
    return p;
}

static void make_tables(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++) table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
    uint32_t p = 1u << 30; /* x^1 */
    x2n_table[0] = p;
    for (int n = 1; n < 32; n++) x2n_table[n] = p = multmodp(p, p);
    /* Racing threads write identical values, so the unsynchronized init is benign. */
    tables_ready = 1;
}

/* CRC of A followed by B, from crc(A), crc(B) and len(B). */
static uint32_t crc_combine(uint32_t crc_a, uint32_t crc_b, size_t len_b) {
    uint32_t p = 1u << 31; /* x^0 */
    unsigned k = 3;        /* bytes -> bits: x^(8 len) */
    for (size_t n = len_b; n; n >>= 1, k++)
        if (n & 1) p = multmodp(x2n_table[k & 31], p);
    return multmodp(p, crc_a) ^ crc_b;
}

/* The raw register update (no pre/post inversion). */
static uint32_t soft_update(uint32_t crc, const uint8_t *p, size_t n) {
    while (n && ((uintptr_t)p & 7)) {
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc; /* little-endian host: the low bytes meet the CRC first */
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
              table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
              table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_HW_PATH 1
__attribute__((target("sse4.2"))) static uint32_t hw_update(uint32_t crc, const uint8_t *p, size_t n) {
    uint64_t c = crc;
    while (n && ((uintptr_t)p & 7)) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        n--;
    }
    if (n >= 3 * 4096) { /* three independent streams over consecutive thirds, joined afterwards */
        size_t third = n / 3 / 8 * 8;
        const uint8_t *p1 = p + third, *p2 = p + 2 * third;
        uint64_t c1 = 0xffffffffu, c2 = 0xffffffffu;
        for (size_t i = 0; i < third; i += 8) {
            uint64_t w0, w1, w2;
            memcpy(&w0, p + i, 8);
            memcpy(&w1, p1 + i, 8);
            memcpy(&w2, p2 + i, 8);
            c = __builtin_ia32_crc32di(c, w0);
            c1 = __builtin_ia32_crc32di(c1, w1);
            c2 = __builtin_ia32_crc32di(c2, w2);
        }
        /* registers -> finished CRCs, combine, back to a register */
        uint32_t r = crc_combine(~(uint32_t)c, ~(uint32_t)c1, third);
        r = crc_combine(r, ~(uint32_t)c2, third);
        c = ~r;
        p += 3 * third;
        n -= 3 * third;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        n -= 8;
    }
    while (n--) c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

static uint32_t crc_serial(uint32_t crc, const uint8_t *p, size_t n) {
    if (!tables_ready) make_tables();
    crc = ~crc;
#ifdef HAVE_HW_PATH
    if (__builtin_cpu_supports("sse4.2"))
        crc = hw_update(crc, p, n);
    else
#endif
        crc = soft_update(crc, p, n);
    return ~crc;
}

enum { CHUNK = 4 << 20 };

typedef struct chunk_job {
    const uint8_t *p;
    size_t n;
    uint32_t *crc;
} chunk_job;

static void chunk_crc(void *ctx, int64_t b, int64_t e) {
    chunk_job *j = ctx;
    for (int64_t i = b; i < e; i++) {
        size_t off = (size_t)i * CHUNK, len = j->n - off < CHUNK ? j->n - off : CHUNK;
        j->crc[i] = crc_serial(0, j->p + off, len);
    }
}

uint32_t kiln_crc32c(uint32_t crc, const void *data, size_t n) {
    const uint8_t *p = data;
    if (!tables_ready) make_tables();
    size_t n_chunks = (n + CHUNK - 1) / CHUNK;
    chunk_job job = {p, n, n_chunks >= 2 ? malloc(n_chunks * sizeof(uint32_t)) : NULL};
    if (!job.crc) return crc_serial(crc, p, n);
    kiln_parallel_for((int64_t)n_chunks, 1, chunk_crc, &job);
    for (size_t i = 0; i < n_chunks; i++) {
        size_t len = n - i * CHUNK < CHUNK ? n - i * CHUNK : CHUNK;
        crc = crc_combine(crc, job.crc[i], len);
    }
    free(job.crc);
    return crc;
}
