/* Plan files: the serialized form of a built engine (graph + profiles + weights), written by the builder and read
 * by the runtime.
 *
 * Layout (all scalars little-endian):
 *   header   "KILNPLAN", u32 format version, u32 header size, u64 file size, u32 kiln version number,
 *            char[16] kiln version, u32 backend, u32 build flags, u32 optimization level, u32 section count,
 *            u32 reserved, then the section table: per section {u32 id, u32 reserved, u64 offset, u64 size}
 *   sections strings, graph, profiles, weights (each tensor's bytes 64-byte aligned, so a mapped plan is used in
 *            place), and for CUDA plans a device record (GPU name, compute capability, UUID, CUDA/cuDNN/cuBLASLt
 *            versions)
 *   trailer  u32 CRC32C of every byte before it
 * The magic, format version, header size, file size (first 24 bytes) and the trailer keep their places in every
 * format version, so any kiln can tell a corrupt file from a plan of another format. */
#ifndef KILN_PLAN_PLAN_H
#define KILN_PLAN_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "ir/graph.h"
#include "kiln.h"

#define KILN_PLAN_MAGIC "KILNPLAN"
#define KILN_PLAN_FORMAT_VERSION 1u
#define KILN_PLAN_WEIGHT_ALIGN 64

/* One input's shape range in an optimization profile. */
typedef struct kiln_shape_range {
    char *input; /* owned (malloc) */
    int rank;
    int64_t min[KILN_MAX_DIMS], opt[KILN_MAX_DIMS], max[KILN_MAX_DIMS];
} kiln_shape_range;

/* An optimization profile: one range per dynamic input. */
typedef struct kiln_profile_data {
    kiln_shape_range *ranges; /* owned (malloc) */
    int n;
} kiln_profile_data;

void kiln_profile_data_free(kiln_profile_data *p);
kiln_status kiln_profile_data_copy(kiln_profile_data *dst, const kiln_profile_data *src);
/* The range for `input`, or NULL. */
const kiln_shape_range *kiln_profile_data_find(const kiln_profile_data *p, const char *input);

/* The GPU a CUDA plan was built for (device section): what the runtime compares with the GPU it runs on. */
typedef struct kiln_plan_device {
    char name[256];
    uint32_t cc_major, cc_minor;
    uint8_t uuid[16];
    uint32_t cuda_runtime_version, cuda_driver_version, cudnn_version, cublaslt_version;
} kiln_plan_device;

#define KILN_PLAN_DEVICE_RECORD (256 + 4 * 2 + 16 + 4 * 4)

typedef struct kiln_plan_meta {
    kiln_backend backend;  /* CPU or CUDA (never AUTO in a plan) */
    uint32_t build_flags;  /* bit (1 << kiln_builder_flag) per flag set */
    uint32_t opt_level;
    int has_device;        /* CUDA plans: the device section below is present */
    kiln_plan_device device;
} kiln_plan_meta;

/* Serializes g (must be topologically sorted) with its profiles. *out is allocated 64-byte aligned; free() it. */
kiln_status kiln_plan_write(const kiln_graph *g, const kiln_plan_meta *meta, const kiln_profile_data *profiles,
                            int n_profiles, uint8_t **out, size_t *out_size);

/* A decoded plan. The graph's tensors borrow from the plan bytes (owned=0): those bytes must outlive it. */
typedef struct kiln_plan {
    kiln_plan_meta meta;
    uint32_t kiln_version_number;
    char kiln_version[17];
    kiln_graph *graph;
    kiln_profile_data *profiles;
    int n_profiles;
} kiln_plan;

/* Header facts, for tools (kiln inspect) and error messages. */
typedef struct kiln_plan_header {
    uint32_t format_version;
    uint32_t kiln_version_number;
    char kiln_version[17];
    kiln_backend backend;
    uint32_t build_flags;
    uint32_t opt_level;
    uint64_t file_size;
    int n_sections;
} kiln_plan_header;

/* Checks size, magic, file size, checksum and format version, and fills *h. Never trusts the bytes: a short,
 * corrupt or foreign buffer gives KILN_ERR_CORRUPT_PLAN / KILN_ERR_INCOMPATIBLE_PLAN with a message. */
kiln_status kiln_plan_read_header(const void *data, size_t size, kiln_plan_header *h);

/* Full decode: header checks as above, then kiln version and backend compatibility with this runtime, then every
 * section, bounds-checked. */
kiln_status kiln_plan_read(const void *data, size_t size, kiln_plan *out);
void kiln_plan_release(kiln_plan *p);

/* CRC32C (Castagnoli), continuing from `crc` (start with 0). */
uint32_t kiln_crc32c(uint32_t crc, const void *data, size_t n);

/* Whether this build of kiln can run plans for `b`. */
int kiln_backend_available(kiln_backend b);

#endif
