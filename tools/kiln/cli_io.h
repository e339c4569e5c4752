/* Values going in and out of an engine in `kiln run`: I/O listing, test-data files, random inputs, binding. */
#ifndef KILN_CLI_IO_H
#define KILN_CLI_IO_H

#include "cli.h"
#include "core/tensor.h"

typedef struct cli_io {
    const char *name;       /* borrowed from the engine */
    kiln_io_mode mode;
    kiln_value_kind kind;   /* TENSOR, SEQUENCE or OPTIONAL as declared by the model */
    kiln_value_kind elem_kind; /* OPTIONAL: what it holds (TENSOR or SEQUENCE) */
    kiln_dtype dtype;       /* element dtype */
    int rank;               /* -1 when unknown */
    int64_t dims[KILN_MAX_DIMS];
} cli_io;

typedef struct cli_io_list_t {
    cli_io *items;          /* engine order: inputs, then outputs */
    int n, n_inputs, n_outputs;
} cli_io_list_t;

int cli_io_list(const char *cmd, const kiln_engine *e, cli_io_list_t *out);
void cli_io_list_free(cli_io_list_t *l);
const cli_io *cli_io_at(const cli_io_list_t *l, kiln_io_mode mode, int j);

/* input_<j>.pb / output_<j>.pb in the message the declared kind calls for (TensorProto, SequenceProto,
 * OptionalProto). A value read is owned by the caller (kiln_value_release). */
int cli_value_read(const char *cmd, const char *path, const cli_io *io, kiln_value *v);
int cli_value_write(const char *cmd, const char *path, const cli_io *io, const kiln_value *v);

int cli_bind_input(const char *cmd, kiln_context *ctx, const cli_io *io, const kiln_value *v);

/* An output after execution, borrowing the context's storage (valid until the next execution). */
typedef struct cli_output {
    kiln_value value;
    void *host_copy; /* GPU engines: the output copied to host memory (owned) */
} cli_output;

int cli_fetch_output(const char *cmd, kiln_context *ctx, const cli_io *io, cli_output *out);
/* The backend of the engine kiln run executes (set once it is loaded): GPU engines take GPU input buffers. */
extern kiln_backend cli_current_backend;
/* Frees the GPU buffers cli_bind_input made for GPU engines (no-op otherwise). */
void cli_free_device_buffers(void);
/* GPU engines: copies every staged input from its host data to its GPU buffer again and waits (the H2D part of
 * a timed inference). The host data must still be alive. No-op without CUDA. */
int cli_restage_inputs(const char *cmd);
void cli_output_free(cli_output *o);

/* Fills t (allocated here; caller releases) with seeded random data suited to the dtype. */
int cli_random_tensor(const char *cmd, const char *name, kiln_dtype dtype, int rank, const int64_t *dims,
                      uint64_t *seed, kiln_tensor *t);

#endif
