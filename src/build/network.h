/* Build-phase handle internals shared by the ONNX parser (src/onnx) and the builder (src/build). */
#ifndef KILN_BUILD_NETWORK_H
#define KILN_BUILD_NETWORK_H

#include "core/file.h"
#include "core/status.h"
#include "ir/graph.h"
#include "kiln.h"

struct kiln_builder {
    kiln_handle_hdr hdr;
    kiln_logger logger;
};

/* A network owns its IR graph and the mappings its weights borrow from (model file, external data files): they
 * stay mapped until the network is destroyed. */
struct kiln_network {
    kiln_handle_hdr hdr;
    kiln_builder *builder;
    kiln_graph *graph;
    kiln_mapped_file *maps;
    int n_maps;
};

/* Takes ownership of a mapping (unmapped when the network is destroyed). */
kiln_status kiln_network_keep_mapping(kiln_network *n, const kiln_mapped_file *m);

#endif
