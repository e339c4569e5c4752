/* Build-phase handles: builder, network, config, profile, blob. */
#include <stdlib.h>
#include <string.h>

#include "build/build.h"
#include "core/log.h"

kiln_status kiln_build_fail(const kiln_builder *b, void *h, kiln_status s) {
    if (s == KILN_OK) return s;
    if (h) kiln_handle_fail(h, s);
    kiln_log(b ? &b->logger : NULL, KILN_SEV_ERROR, "%s", kiln_error_text());
    return s;
}

/* ------------------------------------------------------------------------------------------------ builder ---- */

kiln_status kiln_builder_create(const kiln_logger *logger, kiln_builder **out) {
    KILN_FAIL_IF(!out, KILN_ERR_INVALID_ARGUMENT, "kiln_builder_create: out is NULL");
    *out = NULL;
    kiln_builder *b = calloc(1, sizeof *b);
    KILN_FAIL_IF(!b, KILN_ERR_OUT_OF_MEMORY, "out of memory creating a builder");
    b->hdr.magic = KILN_MAGIC_BUILDER;
    b->logger = logger ? *logger : *kiln_default_logger();
    *out = b;
    return KILN_OK;
}

void kiln_builder_destroy(kiln_builder *b) {
    if (!b || b->hdr.magic != KILN_MAGIC_BUILDER) return;
    b->hdr.magic = KILN_MAGIC_DEAD;
    free(b);
}

/* ------------------------------------------------------------------------------------------------ network ---- */

kiln_status kiln_network_create(kiln_builder *b, kiln_network **out) {
    KILN_CHECK_HANDLE(b, KILN_MAGIC_BUILDER, "builder");
    if (!out) return kiln_build_fail(b, b, kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_network_create: out is NULL"));
    *out = NULL;
    kiln_network *n = calloc(1, sizeof *n);
    if (!n) return kiln_build_fail(b, b, kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory creating a network"));
    n->graph = kiln_graph_create(NULL);
    if (!n->graph) {
        free(n);
        return kiln_build_fail(b, b, KILN_ERR_OUT_OF_MEMORY);
    }
    n->hdr.magic = KILN_MAGIC_NETWORK;
    n->builder = b;
    *out = n;
    return KILN_OK;
}

void kiln_network_destroy(kiln_network *n) {
    if (!n || n->hdr.magic != KILN_MAGIC_NETWORK) return;
    n->hdr.magic = KILN_MAGIC_DEAD;
    kiln_graph_destroy(n->graph); /* before the mappings its tensors borrow from */
    for (int i = 0; i < n->n_maps; i++) kiln_file_unmap(&n->maps[i]);
    free(n->maps);
    free(n);
}

/* Ownership moves to the network even when this fails (the mapping is then released here), so callers never
 * unmap after calling it. */
kiln_status kiln_network_keep_mapping(kiln_network *n, const kiln_mapped_file *m) {
    KILN_CHECK_HANDLE(n, KILN_MAGIC_NETWORK, "network");
    KILN_FAIL_IF(!m, KILN_ERR_INVALID_ARGUMENT, "kiln_network_keep_mapping: mapping is NULL");
    kiln_mapped_file *nm = realloc(n->maps, sizeof *nm * (size_t)(n->n_maps + 1));
    if (!nm) {
        kiln_mapped_file copy = *m;
        kiln_file_unmap(&copy);
        return kiln_build_fail(n->builder, n, kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory"));
    }
    n->maps = nm;
    n->maps[n->n_maps++] = *m;
    return KILN_OK;
}

static kiln_status network_count(const kiln_network *n, int *count, int which) {
    KILN_CHECK_HANDLE(n, KILN_MAGIC_NETWORK, "network");
    if (!count)
        return kiln_build_fail(n->builder, (void *)n, kiln_error(KILN_ERR_INVALID_ARGUMENT, "count is NULL"));
    *count = which == 0 ? n->graph->n_inputs : which == 1 ? n->graph->n_outputs : n->graph->n_nodes;
    if (which == 0) { /* initializers that double as inputs (old ONNX models) are not inputs to bind */
        for (int i = 0; i < n->graph->n_inputs; i++)
            if (n->graph->values[n->graph->inputs[i]].init) (*count)--;
    }
    return KILN_OK;
}

kiln_status kiln_network_input_count(const kiln_network *n, int *count) { return network_count(n, count, 0); }
kiln_status kiln_network_output_count(const kiln_network *n, int *count) { return network_count(n, count, 1); }
kiln_status kiln_network_node_count(const kiln_network *n, int *count) { return network_count(n, count, 2); }

/* ------------------------------------------------------------------------------------------------- config ---- */

kiln_status kiln_config_create(kiln_builder *b, kiln_config **out) {
    KILN_CHECK_HANDLE(b, KILN_MAGIC_BUILDER, "builder");
    if (!out) return kiln_build_fail(b, b, kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_config_create: out is NULL"));
    *out = NULL;
    kiln_config *c = calloc(1, sizeof *c);
    if (!c) return kiln_build_fail(b, b, kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory creating a config"));
    c->hdr.magic = KILN_MAGIC_CONFIG;
    c->builder = b;
    c->backend = KILN_BACKEND_AUTO;
    c->opt_level = 3;
    *out = c;
    return KILN_OK;
}

void kiln_config_destroy(kiln_config *c) {
    if (!c || c->hdr.magic != KILN_MAGIC_CONFIG) return;
    c->hdr.magic = KILN_MAGIC_DEAD;
    for (int i = 0; i < c->n_profiles; i++) kiln_profile_data_free(&c->profiles[i]);
    free(c->profiles);
    free(c);
}

kiln_status kiln_config_set_backend(kiln_config *c, kiln_backend backend) {
    KILN_CHECK_HANDLE(c, KILN_MAGIC_CONFIG, "config");
    if ((unsigned)backend >= KILN_BACKEND_COUNT)
        return kiln_build_fail(c->builder, c,
                               kiln_error(KILN_ERR_INVALID_ARGUMENT, "unknown backend %d", (int)backend));
    c->backend = backend;
    return KILN_OK;
}

kiln_status kiln_config_set_flag(kiln_config *c, kiln_builder_flag flag, int on) {
    KILN_CHECK_HANDLE(c, KILN_MAGIC_CONFIG, "config");
    if ((unsigned)flag >= KILN_BUILDER_FLAG_COUNT)
        return kiln_build_fail(c->builder, c,
                               kiln_error(KILN_ERR_INVALID_ARGUMENT, "unknown builder flag %d", (int)flag));
    if (on)
        c->flags |= 1u << flag;
    else
        c->flags &= ~(1u << flag);
    return KILN_OK;
}

kiln_status kiln_config_set_workspace(kiln_config *c, size_t bytes) {
    KILN_CHECK_HANDLE(c, KILN_MAGIC_CONFIG, "config");
    c->workspace = bytes;
    return KILN_OK;
}

kiln_status kiln_config_set_optimization_level(kiln_config *c, int level) {
    KILN_CHECK_HANDLE(c, KILN_MAGIC_CONFIG, "config");
    if (level < 0 || level > 5)
        return kiln_build_fail(c->builder, c,
                               kiln_error(KILN_ERR_INVALID_ARGUMENT, "optimization level %d is outside 0..5", level));
    c->opt_level = level;
    return KILN_OK;
}

static const char *const selector_names[] = {"min", "opt", "max"};

kiln_status kiln_config_add_profile(kiln_config *c, const kiln_profile *p) {
    KILN_CHECK_HANDLE(c, KILN_MAGIC_CONFIG, "config");
    kiln_status st = kiln_handle_check(p, KILN_MAGIC_PROFILE, "profile");
    if (st != KILN_OK) return kiln_build_fail(c->builder, c, st);
    if (p->n_entries == 0)
        return kiln_build_fail(c->builder, c,
                               kiln_error(KILN_ERR_INVALID_ARGUMENT, "the profile has no input shapes"));
    for (int i = 0; i < p->n_entries; i++) {
        const kiln_profile_entry *e = &p->entries[i];
        for (int s = 0; s < 3; s++)
            if (!(e->set_mask & (1 << s)))
                return kiln_build_fail(c->builder, c,
                                       kiln_error(KILN_ERR_INVALID_ARGUMENT,
                                                  "profile input '%s' has no %s shape (set min, opt and max)",
                                                  e->r.input, selector_names[s]));
        for (int d = 0; d < e->r.rank; d++)
            if (e->r.min[d] > e->r.opt[d] || e->r.opt[d] > e->r.max[d])
                return kiln_build_fail(c->builder, c,
                                       kiln_error(KILN_ERR_INVALID_ARGUMENT,
                                                  "profile input '%s' dim %d: min %lld, opt %lld, max %lld are not "
                                                  "ordered min <= opt <= max",
                                                  e->r.input, d, (long long)e->r.min[d], (long long)e->r.opt[d],
                                                  (long long)e->r.max[d]));
    }
    kiln_profile_data *np = realloc(c->profiles, sizeof *np * (size_t)(c->n_profiles + 1));
    if (!np) return kiln_build_fail(c->builder, c, kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory"));
    c->profiles = np;
    kiln_profile_data *d = &c->profiles[c->n_profiles];
    memset(d, 0, sizeof *d);
    d->ranges = calloc((size_t)p->n_entries, sizeof *d->ranges);
    if (!d->ranges) return kiln_build_fail(c->builder, c, kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory"));
    for (int i = 0; i < p->n_entries; i++) {
        d->ranges[i] = p->entries[i].r;
        d->ranges[i].input = strdup(p->entries[i].r.input);
        d->n = i + 1;
        if (!d->ranges[i].input) {
            kiln_profile_data_free(d);
            return kiln_build_fail(c->builder, c, kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory"));
        }
    }
    c->n_profiles++;
    return KILN_OK;
}

/* ------------------------------------------------------------------------------------------------ profile ---- */

kiln_status kiln_profile_create(kiln_builder *b, kiln_profile **out) {
    KILN_CHECK_HANDLE(b, KILN_MAGIC_BUILDER, "builder");
    if (!out) return kiln_build_fail(b, b, kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_profile_create: out is NULL"));
    *out = NULL;
    kiln_profile *p = calloc(1, sizeof *p);
    if (!p) return kiln_build_fail(b, b, kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory creating a profile"));
    p->hdr.magic = KILN_MAGIC_PROFILE;
    p->builder = b;
    *out = p;
    return KILN_OK;
}

void kiln_profile_destroy(kiln_profile *p) {
    if (!p || p->hdr.magic != KILN_MAGIC_PROFILE) return;
    p->hdr.magic = KILN_MAGIC_DEAD;
    for (int i = 0; i < p->n_entries; i++) free(p->entries[i].r.input);
    free(p->entries);
    free(p);
}

kiln_status kiln_profile_set_shape(kiln_profile *p, const char *input, kiln_profile_selector which, int rank,
                                   const int64_t *dims) {
    KILN_CHECK_HANDLE(p, KILN_MAGIC_PROFILE, "profile");
    kiln_status st = KILN_OK;
    if (!input || !*input)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "profile input name is NULL or empty");
    else if ((unsigned)which > KILN_PROFILE_MAX)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "profile selector %d is not MIN, OPT or MAX", (int)which);
    else if (rank < 0 || rank > KILN_MAX_DIMS)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "profile input '%s': rank %d is outside 0..%d", input, rank,
                        KILN_MAX_DIMS);
    else if (rank > 0 && !dims)
        st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "profile input '%s': dims is NULL", input);
    for (int d = 0; st == KILN_OK && d < rank; d++)
        if (dims[d] < 0)
            st = kiln_error(KILN_ERR_INVALID_ARGUMENT, "profile input '%s' %s dim %d is %lld; profile dims must be >= 0",
                            input, selector_names[which], d, (long long)dims[d]);
    if (st != KILN_OK) return kiln_build_fail(p->builder, p, st);
    kiln_profile_entry *e = NULL;
    for (int i = 0; i < p->n_entries; i++)
        if (strcmp(p->entries[i].r.input, input) == 0) e = &p->entries[i];
    if (!e) {
        kiln_profile_entry *ne = realloc(p->entries, sizeof *ne * (size_t)(p->n_entries + 1));
        if (!ne) return kiln_build_fail(p->builder, p, kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory"));
        p->entries = ne;
        e = &ne[p->n_entries];
        memset(e, 0, sizeof *e);
        e->r.input = strdup(input);
        if (!e->r.input) return kiln_build_fail(p->builder, p, kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory"));
        e->r.rank = rank;
        p->n_entries++;
    } else if (e->r.rank != rank) {
        return kiln_build_fail(p->builder, p,
                               kiln_error(KILN_ERR_INVALID_ARGUMENT,
                                          "profile input '%s': %s shape has rank %d but an earlier shape has rank %d",
                                          input, selector_names[which], rank, e->r.rank));
    }
    int64_t *dst = which == KILN_PROFILE_MIN ? e->r.min : which == KILN_PROFILE_OPT ? e->r.opt : e->r.max;
    for (int d = 0; d < rank; d++) dst[d] = dims[d];
    e->set_mask |= 1 << which;
    return KILN_OK;
}

/* --------------------------------------------------------------------------------------------------- blob ---- */

kiln_status kiln_blob_wrap(uint8_t *data, size_t size, kiln_blob **out) {
    kiln_blob *b = calloc(1, sizeof *b);
    if (!b) {
        free(data);
        return kiln_error(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    b->hdr.magic = KILN_MAGIC_BLOB;
    b->data = data;
    b->size = size;
    *out = b;
    return KILN_OK;
}

const void *kiln_blob_data(const kiln_blob *b) {
    if (kiln_handle_check(b, KILN_MAGIC_BLOB, "blob") != KILN_OK) return NULL;
    return b->data;
}

size_t kiln_blob_size(const kiln_blob *b) {
    if (kiln_handle_check(b, KILN_MAGIC_BLOB, "blob") != KILN_OK) return 0;
    return b->size;
}

void kiln_blob_destroy(kiln_blob *b) {
    if (!b || b->hdr.magic != KILN_MAGIC_BLOB) return;
    b->hdr.magic = KILN_MAGIC_DEAD;
    free(b->data);
    free(b);
}

kiln_status kiln_blob_write_file(const kiln_blob *b, const char *path) {
    KILN_CHECK_HANDLE(b, KILN_MAGIC_BLOB, "blob");
    kiln_status st = path ? kiln_file_write(path, b->data, b->size)
                          : kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_blob_write_file: path is NULL");
    return kiln_handle_fail((void *)b, st);
}
