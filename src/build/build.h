/* Build-phase internals of src/build: config, profile and blob handles, error reporting, graph cloning. */
#ifndef KILN_BUILD_BUILD_H
#define KILN_BUILD_BUILD_H

#include "build/network.h"
#include "plan/plan.h"

struct kiln_config {
    kiln_handle_hdr hdr;
    kiln_builder *builder;
    kiln_backend backend;
    uint32_t flags;     /* bit (1 << kiln_builder_flag) */
    size_t workspace;   /* bytes; 0 = no limit */
    int opt_level;      /* 0..5 */
    kiln_profile_data *profiles; /* owned copies, in the order added */
    int n_profiles;
};

/* A profile under construction: which of min/opt/max were given, per input. */
typedef struct kiln_profile_entry {
    kiln_shape_range r; /* r.input owned */
    int set_mask;       /* bit (1 << kiln_profile_selector) */
} kiln_profile_entry;

struct kiln_profile {
    kiln_handle_hdr hdr;
    kiln_builder *builder;
    kiln_profile_entry *entries;
    int n_entries;
};

struct kiln_blob {
    kiln_handle_hdr hdr;
    uint8_t *data; /* 64-byte aligned (aligned_alloc), so a blob deserializes without copying */
    size_t size;
};

/* Records the thread's error text on handle h and sends it to the builder's logger (b may be NULL: default
 * logger). Returns s. */
kiln_status kiln_build_fail(const kiln_builder *b, void *h, kiln_status s);

/* Deep copy of a graph (and its subgraphs). Initializer and attribute tensors of non-string types borrow the
 * source's storage (owned=0): the source must outlive the copy. */
kiln_status kiln_graph_clone(const kiln_graph *src, kiln_graph *parent, kiln_graph **out);

/* Wraps an owned buffer (64-byte aligned) in a blob handle; the buffer is freed on failure. */
kiln_status kiln_blob_wrap(uint8_t *data, size_t size, kiln_blob **out);

#endif
