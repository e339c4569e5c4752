/* Run-phase handle internals shared by engine.c and context.c. */
#ifndef KILN_RUNTIME_ENGINE_H
#define KILN_RUNTIME_ENGINE_H

#include "core/file.h"
#include "core/status.h"
#include "plan/plan.h"
#include "runtime/exec.h"

struct kiln_runtime {
    kiln_handle_hdr hdr;
    kiln_logger logger;
};

typedef struct kiln_engine_io {
    const char *name;   /* the graph value's name (owned by the graph) */
    kiln_io_mode mode;
    int value;          /* value id in the root graph */
    int slot;           /* index among the graph's inputs / outputs (kiln_exec_input / kiln_exec_output) */
} kiln_engine_io;

/* Immutable once created: contexts on several threads share it. */
struct kiln_engine {
    kiln_handle_hdr hdr;
    kiln_logger logger;
    kiln_plan plan;        /* graph + profiles; tensors borrow from the plan bytes below */
    kiln_program *prog;    /* CPU plans */
    struct kiln_cuda_program *cuda; /* CUDA plans (placement, device kernels, weights on the GPU) */
    kiln_mapped_file map;  /* kiln_engine_load_file: the mapping the plan lives in */
    void *copy;            /* kiln_engine_deserialize of misaligned bytes: an aligned copy */
    kiln_engine_io *io;    /* bindable inputs (initializer-backed inputs are constants), then outputs */
    int n_io, n_inputs;
    char **layer_info;
};

/* Finds an I/O entry by name; NULL if none. */
const kiln_engine_io *kiln_engine_find_io(const kiln_engine *e, const char *name);

#endif
