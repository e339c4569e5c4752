/*
 * kiln: deep-learning inference optimizer and runtime.
 *
 * Two phases, as in any engine-building runtime:
 *   build   : builder + network (from ONNX or layer by layer) + config  ->  serialized plan (blob / .plan file)
 *   run     : runtime + engine (deserialized plan, immutable, shareable) -> contexts (per thread / stream)
 *
 * Conventions:
 *   - Every call that can fail returns kiln_status; KILN_OK is 0.
 *   - Every *_create has a *_destroy that accepts NULL.
 *   - kiln_last_error(handle) gives the text of the last failure on that handle (owned by the library, valid until
 *     the next call on the handle). kiln_last_error(NULL) gives the calling thread's last failure in any call.
 *   - Tensors are named by strings at the API; dims use int64_t, -1 marks a dynamic dimension.
 *   - Element storage: fixed-size types are little-endian native; BOOL is one byte (0/1); FLOAT16/BFLOAT16 are
 *     raw 16-bit words; the 8-bit float formats are raw bytes; sub-byte types (INT4/UINT4/FLOAT4E2M1/INT2/UINT2)
 *     are unpacked one element per byte (signed ones sign-extended); STRING tensors are arrays of
 *     NUL-terminated `const char *`.
 */
#ifndef KILN_H
#define KILN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_VERSION_MAJOR 0
#define KILN_VERSION_MINOR 1
#define KILN_VERSION_PATCH 0
#define KILN_VERSION_NUMBER (KILN_VERSION_MAJOR * 10000 + KILN_VERSION_MINOR * 100 + KILN_VERSION_PATCH)

/* Highest tensor rank kiln handles. */
#define KILN_MAX_DIMS 12

/* "0.1.0" */
const char *kiln_version(void);

/* ---------------------------------------------------------------- status ---------------------------------------- */
/* Explicit values; append only. */
typedef enum kiln_status {
    KILN_OK = 0,
    KILN_ERR_INVALID_ARGUMENT = 1, /* NULL / mismatched handle, bad parameter */
    KILN_ERR_IO = 2,               /* file missing, unreadable */
    KILN_ERR_PARSE = 3,            /* malformed ONNX / protobuf */
    KILN_ERR_UNSUPPORTED = 4,      /* op / dtype / attribute kiln cannot run */
    KILN_ERR_SHAPE = 5,            /* shape mismatch, outside optimization profile */
    KILN_ERR_TYPE = 6,             /* dtype mismatch */
    KILN_ERR_OUT_OF_MEMORY = 7,
    KILN_ERR_CORRUPT_PLAN = 8,     /* truncated, checksum mismatch, bad section */
    KILN_ERR_INCOMPATIBLE_PLAN = 9,/* other format version, backend, GPU, library version */
    KILN_ERR_DEVICE = 10,          /* CUDA / cuDNN / cuBLAS failure */
    KILN_ERR_INTERNAL = 11,        /* a kiln bug: please report */
    KILN_ERR_RUNTIME = 12,         /* a kernel refused its inputs at run time (e.g. index out of range) */
    KILN_ERR_INVALID_GRAPH = 13,   /* cycles, dangling names, duplicate outputs */
    KILN_STATUS_COUNT
} kiln_status;

const char *kiln_status_string(kiln_status s);
const char *kiln_last_error(const void *handle);

/* ---------------------------------------------------------------- logging --------------------------------------- */
typedef enum kiln_severity {
    KILN_SEV_INTERNAL_ERROR = 0,
    KILN_SEV_ERROR = 1,
    KILN_SEV_WARNING = 2,
    KILN_SEV_INFO = 3,
    KILN_SEV_VERBOSE = 4,
    KILN_SEVERITY_COUNT
} kiln_severity;

typedef struct kiln_logger {
    void (*log)(void *user, kiln_severity severity, const char *msg);
    void *user;
} kiln_logger;

/* The logger used when a create call gets NULL: writes WARNING and worse to stderr. */
const kiln_logger *kiln_default_logger(void);

/* ---------------------------------------------------------------- data types ------------------------------------ */
/* Values equal ONNX TensorProto.DataType. */
typedef enum kiln_dtype {
    KILN_UNDEFINED = 0,
    KILN_FLOAT = 1,
    KILN_UINT8 = 2,
    KILN_INT8 = 3,
    KILN_UINT16 = 4,
    KILN_INT16 = 5,
    KILN_INT32 = 6,
    KILN_INT64 = 7,
    KILN_STRING = 8,
    KILN_BOOL = 9,
    KILN_FLOAT16 = 10,
    KILN_DOUBLE = 11,
    KILN_UINT32 = 12,
    KILN_UINT64 = 13,
    KILN_COMPLEX64 = 14,
    KILN_COMPLEX128 = 15,
    KILN_BFLOAT16 = 16,
    KILN_FLOAT8E4M3FN = 17,
    KILN_FLOAT8E4M3FNUZ = 18,
    KILN_FLOAT8E5M2 = 19,
    KILN_FLOAT8E5M2FNUZ = 20,
    KILN_UINT4 = 21,
    KILN_INT4 = 22,
    KILN_FLOAT4E2M1 = 23,
    KILN_FLOAT8E8M0 = 24,
    KILN_UINT2 = 25,
    KILN_INT2 = 26,
    KILN_FLOAT6E2M3 = 27,
    KILN_FLOAT6E3M2 = 28,
    KILN_DTYPE_COUNT
} kiln_dtype;

const char *kiln_dtype_name(kiln_dtype t);
/* Bytes per element in kiln's in-memory storage (see header comment); 0 for UNDEFINED/out of range. */
size_t kiln_dtype_size(kiln_dtype t);

/* A tensor handed across the API. `data` is borrowed by whoever receives it. */
typedef struct kiln_tensor_view {
    kiln_dtype dtype;
    int rank;
    int64_t dims[KILN_MAX_DIMS];
    void *data;
    size_t size_bytes;
} kiln_tensor_view;

/* ---------------------------------------------------------------- handles --------------------------------------- */
typedef struct kiln_builder kiln_builder;
typedef struct kiln_network kiln_network;
typedef struct kiln_config kiln_config;
typedef struct kiln_profile kiln_profile;
typedef struct kiln_onnx_parser kiln_onnx_parser;
typedef struct kiln_blob kiln_blob;
typedef struct kiln_runtime kiln_runtime;
typedef struct kiln_engine kiln_engine;
typedef struct kiln_context kiln_context;

typedef enum kiln_backend {
    KILN_BACKEND_AUTO = 0, /* CUDA when a GPU is present, else CPU */
    KILN_BACKEND_CPU = 1,
    KILN_BACKEND_CUDA = 2,
    KILN_BACKEND_COUNT
} kiln_backend;

const char *kiln_backend_name(kiln_backend b);

/* ---------------------------------------------------------------- build phase ----------------------------------- */
kiln_status kiln_builder_create(const kiln_logger *logger, kiln_builder **out);
void kiln_builder_destroy(kiln_builder *b);

kiln_status kiln_network_create(kiln_builder *b, kiln_network **out);
void kiln_network_destroy(kiln_network *n);

/* ONNX parser: fills a network. Errors are kept as a list. */
typedef struct kiln_parser_error {
    int node_index;          /* -1 when the error is not about a node */
    const char *node_name;   /* "" when unknown */
    const char *op_type;     /* "" when unknown */
    const char *reason;
} kiln_parser_error;

kiln_status kiln_onnx_parser_create(kiln_network *n, kiln_onnx_parser **out);
void kiln_onnx_parser_destroy(kiln_onnx_parser *p);
/* Maps the file; external data is resolved relative to the model's folder. */
kiln_status kiln_onnx_parse_file(kiln_onnx_parser *p, const char *path);
/* `data` must stay valid until the network is destroyed (weights are borrowed). base_dir may be NULL (no external
 * data allowed then). */
kiln_status kiln_onnx_parse_memory(kiln_onnx_parser *p, const void *data, size_t size, const char *base_dir);
int kiln_onnx_parser_error_count(const kiln_onnx_parser *p);
kiln_status kiln_onnx_parser_get_error(const kiln_onnx_parser *p, int i, kiln_parser_error *out);

/* Network building layer by layer. Tensors are referred to by int ids. */
typedef enum kiln_eltwise_op {
    KILN_ELTWISE_ADD = 0, KILN_ELTWISE_SUB = 1, KILN_ELTWISE_MUL = 2, KILN_ELTWISE_DIV = 3,
    KILN_ELTWISE_MAX = 4, KILN_ELTWISE_MIN = 5, KILN_ELTWISE_POW = 6, KILN_ELTWISE_OP_COUNT
} kiln_eltwise_op;

typedef enum kiln_activation {
    KILN_ACT_RELU = 0, KILN_ACT_SIGMOID = 1, KILN_ACT_TANH = 2, KILN_ACT_LEAKY_RELU = 3, KILN_ACT_ELU = 4,
    KILN_ACT_GELU = 5, KILN_ACT_HARD_SIGMOID = 6, KILN_ACT_HARD_SWISH = 7, KILN_ACT_SOFTPLUS = 8,
    KILN_ACT_CLIP = 9, KILN_ACTIVATION_COUNT
} kiln_activation;

typedef enum kiln_pool_type { KILN_POOL_MAX = 0, KILN_POOL_AVERAGE = 1, KILN_POOL_TYPE_COUNT } kiln_pool_type;

typedef struct kiln_conv_desc {
    int n_spatial;              /* 1, 2 or 3 */
    int64_t out_channels;
    int64_t kernel[3];
    int64_t strides[3];         /* 0 -> 1 */
    int64_t pads_begin[3];
    int64_t pads_end[3];
    int64_t dilations[3];       /* 0 -> 1 */
    int64_t groups;             /* 0 -> 1 */
} kiln_conv_desc;

typedef struct kiln_pool_desc {
    int n_spatial;
    int64_t kernel[3];
    int64_t strides[3];
    int64_t pads_begin[3];
    int64_t pads_end[3];
    int count_include_pad;
    int global;                 /* global pooling: kernel ignored */
} kiln_pool_desc;

kiln_status kiln_network_add_input(kiln_network *n, const char *name, kiln_dtype dtype, int rank,
                                   const int64_t *dims, int *out_tensor);
/* data is copied. */
kiln_status kiln_network_add_constant(kiln_network *n, kiln_dtype dtype, int rank, const int64_t *dims,
                                      const void *data, int *out_tensor);
/* weight: [out_channels, in_channels/groups, k...]; bias: -1 for none. */
kiln_status kiln_network_add_conv(kiln_network *n, int input, int weight, int bias, const kiln_conv_desc *d,
                                  int *out_tensor);
kiln_status kiln_network_add_matmul(kiln_network *n, int a, int b, int *out_tensor);
kiln_status kiln_network_add_elementwise(kiln_network *n, kiln_eltwise_op op, int a, int b, int *out_tensor);
kiln_status kiln_network_add_activation(kiln_network *n, kiln_activation act, int x, float alpha, float beta,
                                        int *out_tensor);
kiln_status kiln_network_add_pooling(kiln_network *n, kiln_pool_type type, int x, const kiln_pool_desc *d,
                                     int *out_tensor);
kiln_status kiln_network_add_softmax(kiln_network *n, int x, int axis, int *out_tensor);
/* dims may contain 0 (copy) and one -1 (infer), as ONNX Reshape. */
kiln_status kiln_network_add_reshape(kiln_network *n, int x, int rank, const int64_t *dims, int *out_tensor);
kiln_status kiln_network_add_concat(kiln_network *n, const int *inputs, int n_inputs, int axis, int *out_tensor);
kiln_status kiln_network_mark_output(kiln_network *n, int tensor, const char *name);

kiln_status kiln_network_input_count(const kiln_network *n, int *count);
kiln_status kiln_network_output_count(const kiln_network *n, int *count);
kiln_status kiln_network_node_count(const kiln_network *n, int *count);

/* Build configuration. */
typedef enum kiln_builder_flag {
    KILN_FLAG_FP16 = 0, KILN_FLAG_BF16 = 1, KILN_FLAG_INT8 = 2, KILN_FLAG_FP8 = 3, KILN_FLAG_TF32 = 4,
    KILN_BUILDER_FLAG_COUNT
} kiln_builder_flag;

kiln_status kiln_config_create(kiln_builder *b, kiln_config **out);
void kiln_config_destroy(kiln_config *c);
kiln_status kiln_config_set_backend(kiln_config *c, kiln_backend backend);
kiln_status kiln_config_set_flag(kiln_config *c, kiln_builder_flag flag, int on);
/* Workspace limit in bytes (0, the default: no limit). On the CPU backend it bounds the scratch one node's kernel
 * allocates beyond its inputs and outputs, growing with the tensor sizes: im2col / column buffers (double Conv,
 * ConvTranspose, ConvInteger, QLinearConv, DeformConv), float32 copies of half-precision Conv / ConvTranspose /
 * MatMul / Gemm operands, the product buffer of double / integer Gemm. Fixed-size GEMM packing blocks are not
 * counted. kiln_build_serialized checks it with every dynamic input dim at its optimization profile's maximum and
 * fails with KILN_ERR_OUT_OF_MEMORY naming the node, the bytes it needs and the limit; a node whose scratch cannot
 * be bounded (a dim with no profile maximum) is named in a warning. CUDA plans: the GPU scratch of any one node at the
 * profiles' maximum shapes (pad / crop copies of convolutions, cuDNN and cuBLASLt workspaces, Attention's gathered
 * keys and values, Resize's intermediate passes); the builder times cuDNN's algorithms on the GPU and keeps the
 * fastest that fits (cuBLASLt workspaces are capped at the limit), a context reserves no more than the largest
 * node's need, and a node that cannot run within the limit fails the build with KILN_ERR_OUT_OF_MEMORY naming it,
 * the bytes and the limit. */
kiln_status kiln_config_set_workspace(kiln_config *c, size_t bytes);
kiln_status kiln_config_set_optimization_level(kiln_config *c, int level); /* 0..5, default 3 */
/* The config copies the profile. */
kiln_status kiln_config_add_profile(kiln_config *c, const kiln_profile *p);

typedef enum kiln_profile_selector { KILN_PROFILE_MIN = 0, KILN_PROFILE_OPT = 1, KILN_PROFILE_MAX = 2 } kiln_profile_selector;

kiln_status kiln_profile_create(kiln_builder *b, kiln_profile **out);
void kiln_profile_destroy(kiln_profile *p);
kiln_status kiln_profile_set_shape(kiln_profile *p, const char *input, kiln_profile_selector which, int rank,
                                   const int64_t *dims);

/* Owned bytes (a serialized plan). */
const void *kiln_blob_data(const kiln_blob *b);
size_t kiln_blob_size(const kiln_blob *b);
void kiln_blob_destroy(kiln_blob *b);
kiln_status kiln_blob_write_file(const kiln_blob *b, const char *path);

kiln_status kiln_build_serialized(kiln_builder *b, kiln_network *n, const kiln_config *c, kiln_blob **out);

/* ---------------------------------------------------------------- run phase ------------------------------------- */
kiln_status kiln_runtime_create(const kiln_logger *logger, kiln_runtime **out);
void kiln_runtime_destroy(kiln_runtime *r);

/* `data` is borrowed: it must stay valid and unchanged until the engine is destroyed (weights are not copied). */
kiln_status kiln_engine_deserialize(kiln_runtime *r, const void *data, size_t size, kiln_engine **out);
/* Maps the file read-only; weights are used in place. */
kiln_status kiln_engine_load_file(kiln_runtime *r, const char *path, kiln_engine **out);
void kiln_engine_destroy(kiln_engine *e);

typedef enum kiln_io_mode { KILN_IO_INPUT = 0, KILN_IO_OUTPUT = 1 } kiln_io_mode;
typedef enum kiln_value_kind {
    KILN_KIND_TENSOR = 0, KILN_KIND_SEQUENCE = 1, KILN_KIND_OPTIONAL = 2, KILN_KIND_NONE = 3, KILN_KIND_COUNT
} kiln_value_kind;

kiln_backend kiln_engine_backend(const kiln_engine *e);
int kiln_engine_io_count(const kiln_engine *e);
/* Graph inputs first, in model order, then outputs. Returns NULL when out of range. */
const char *kiln_engine_io_name(const kiln_engine *e, int index);
kiln_status kiln_engine_io_info(const kiln_engine *e, const char *name, kiln_io_mode *mode, kiln_value_kind *kind,
                                kiln_dtype *dtype, int *rank, int64_t *dims /* KILN_MAX_DIMS; -1 dynamic */);
kiln_status kiln_engine_profile_shape(const kiln_engine *e, const char *input, kiln_profile_selector which,
                                      int *rank, int64_t *dims);
int kiln_engine_layer_count(const kiln_engine *e);
/* One line per layer: "name  OpType  inputs -> outputs". Returns NULL when out of range. */
const char *kiln_engine_layer_info(const kiln_engine *e, int index);

kiln_status kiln_context_create(kiln_engine *e, kiln_context **out);
/* Device memory one context of this engine needs: on CUDA the activation arena (planned at build time from the
 * optimization profiles' max shapes) plus kernel scratch; 0 on the CPU. kiln_context_create allocates it; a caller
 * that manages GPU memory itself creates contexts without it and gives each its own block. */
kiln_status kiln_engine_get_device_memory_size(const kiln_engine *e, size_t *bytes);
kiln_status kiln_context_create_without_device_memory(kiln_engine *e, kiln_context **out);
/* GPU memory of at least kiln_engine_get_device_memory_size bytes, 256-byte aligned, borrowed until the context is
 * destroyed or given other memory; contexts running at the same time need separate blocks. Too small a block is
 * KILN_ERR_OUT_OF_MEMORY with the numbers. On the CPU any call with size 0 succeeds. */
kiln_status kiln_context_set_device_memory(kiln_context *c, void *ptr, size_t size_bytes);
/* CUDA engines: capture a run into a CUDA graph and replay it when its input shapes and addresses come again (up to
 * 8 graphs per context, least recently used evicted; on by default; the environment variable KILN_CUDA_GRAPHS=0
 * turns the default off). No effect on the CPU. */
kiln_status kiln_context_set_cuda_graphs(kiln_context *c, int on);
void kiln_context_destroy(kiln_context *c);
/* Checks the shape against the engine's profile. */
kiln_status kiln_context_set_input_shape(kiln_context *c, const char *name, int rank, const int64_t *dims);
/* Binds caller memory. For inputs: read at enqueue. For outputs: written at enqueue; size_bytes is its capacity
 * and a too-small buffer is an error. Outputs left unbound are held by the context (see get_output). */
kiln_status kiln_context_set_tensor_address(kiln_context *c, const char *name, void *data, size_t size_bytes);
/* Sequence / optional inputs (conformance and control-flow models). The items are copied at the call. */
kiln_status kiln_context_set_input_sequence(kiln_context *c, const char *name, const kiln_tensor_view *items,
                                            int n_items, kiln_dtype elem_dtype);
kiln_status kiln_context_set_input_none(kiln_context *c, const char *name);

/* Runs the graph. On the CPU backend `stream` must be NULL and the call is synchronous. On the CUDA backend the
 * bound tensor addresses are GPU memory and `stream` is a cudaStream_t (NULL: the context's own stream, and the
 * call waits for the results); with a caller stream the call returns once the work is queued. */
kiln_status kiln_context_enqueue(kiln_context *c, void *stream);
kiln_status kiln_context_execute(kiln_context *c);

/* After execution: the output's kind, and its tensor (kind TENSOR) or items (kind SEQUENCE). Views stay valid
 * until the next execution or destroy. */
kiln_status kiln_context_get_output(kiln_context *c, const char *name, kiln_value_kind *kind,
                                    kiln_tensor_view *tensor);
kiln_status kiln_context_get_output_sequence(kiln_context *c, const char *name, int *n_items,
                                             const kiln_tensor_view **items);

/* Copies output `name` (a tensor) into host memory `dst` of size_bytes, waiting for the run to finish. Works for
 * every backend; on CUDA engines it is the way to read results on the host (get_output's view then carries the
 * dtype and shape with data = NULL, and outputs bound with set_tensor_address are GPU memory). */
kiln_status kiln_context_copy_output(kiln_context *c, const char *name, void *dst, size_t size_bytes);

/* Per-layer timing: called after each layer when set. */
typedef void (*kiln_profiler_fn)(void *user, const char *layer_name, const char *op_type, double ms);
kiln_status kiln_context_set_profiler(kiln_context *c, kiln_profiler_fn fn, void *user);


/* ---------------------------------------------------------------- device memory --------------------------------- */
/* Just enough of the CUDA runtime for an application to feed a CUDA engine without including CUDA headers: GPU
 * count, device buffers, copies, streams. The calls act on the calling thread's current device (device 0 unless the
 * application chose another). A build without CUDA has them too: kiln_device_count gives 0 and the others fail
 * with KILN_ERR_UNSUPPORTED. Failures leave their text in kiln_last_error(NULL). */

/* Number of usable GPUs: 0 when kiln was built without CUDA, or there is no driver or no device. */
int kiln_device_count(void);
/* *ptr receives `bytes` of device memory (uninitialized; bytes == 0 gives NULL). Free it with kiln_device_free. */
kiln_status kiln_device_alloc(size_t bytes, void **ptr);
/* Frees memory from kiln_device_alloc; NULL is a no-op. Waits for work that may still use it, as cudaFree does. */
void kiln_device_free(void *ptr);

typedef enum kiln_copy_kind {
    KILN_COPY_HOST_TO_DEVICE = 0,
    KILN_COPY_DEVICE_TO_HOST = 1,
    KILN_COPY_DEVICE_TO_DEVICE = 2,
    KILN_COPY_KIND_COUNT
} kiln_copy_kind;

/* Copies `bytes` between host and device memory. With stream NULL the copy is complete when the call returns
 * (it does not wait for work queued on streams from kiln_stream_create: synchronize those first); with a stream (from kiln_stream_create, or any cudaStream_t) it is queued on that stream, and host memory must
 * stay valid and unchanged until the stream has reached it (kiln_stream_synchronize). */
kiln_status kiln_device_copy(void *dst, const void *src, size_t bytes, kiln_copy_kind kind, void *stream);

/* A CUDA stream (a cudaStream_t, non-blocking with respect to the legacy default stream), for
 * kiln_context_enqueue, kiln_device_copy and kiln_preprocess_image. */
kiln_status kiln_stream_create(void **stream);
/* NULL is a no-op. Work already queued still completes. */
void kiln_stream_destroy(void *stream);
/* Waits until everything queued on `stream` has finished; reports a failure of that work. */
kiln_status kiln_stream_synchronize(void *stream);


/* ---------------------------------------------------------------- image pre-processing -------------------------- */
/* Turns 8-bit interleaved pixels (HWC: an application's decoded image) into a network input: a float32 or float16
 * CHW plane set (one image of an NCHW batch) at the network's size, in one pass:
 *
 *   resize   bilinear with half-pixel centers (source coordinate s = (d + 0.5) * src_size / dst_size - 0.5,
 *            clamped to [0, src_size - 1]); the same sampling as OpenCV INTER_LINEAR, PyTorch
 *            interpolate(mode="bilinear", align_corners=False, antialias=False) and ONNX Resize (linear,
 *            half_pixel) up to the edge clamp. No antialiasing: a downscale by more than 2x reads only the 2x2
 *            neighbourhood of each sample, so it aliases as those do; pre-shrink very large images if that matters.
 *   channels dst channel c reads src channel c, or 2 - c when swap_rb is set (RGB <-> BGR) for 3 or 4 source
 *            channels; a 4th source channel (alpha) is ignored; a 1-channel source gives 1 channel, or the same
 *            gray value in all 3 when dst_channels is 3.
 *   values   dst = (v * scale - mean[c]) / std[c], v the interpolated 0..255 value (float), scale 1/255 when 0,
 *            std[c] 1 when 0; computed in float32, then stored (float16: rounded to nearest even).
 *
 * Targets: KILN_BACKEND_CPU runs the reference implementation on the calling thread (src and dst host memory;
 * `stream` must be NULL). KILN_BACKEND_CUDA launches one kernel on `stream` (NULL: the legacy default stream) and
 * returns without waiting: src and dst must then be device memory (e.g. from kiln_device_alloc; copy the 8-bit
 * image there first, which moves a quarter of the bytes a float input would), and stay valid until the stream
 * has run it. KILN_BACKEND_AUTO picks CUDA when a GPU is present. Results of the two targets agree to float32
 * rounding (the GPU may contract multiply-adds). */
typedef struct kiln_preprocess_desc {
    const void *src;          /* uint8 pixels, row r at src + r * src_row_stride */
    int src_height, src_width;
    int src_channels;         /* 1, 3 or 4 */
    size_t src_row_stride;    /* bytes between rows; 0: src_width * src_channels */
    void *dst;                /* dst_channels planes of dst_height x dst_width elements, densely packed */
    kiln_dtype dst_dtype;     /* KILN_FLOAT or KILN_FLOAT16 */
    int dst_height, dst_width;
    int dst_channels;         /* 1 or 3 (1 only from a 1-channel source) */
    int swap_rb;              /* nonzero: reverse the first three source channels (RGB <-> BGR) */
    float scale;              /* 0: 1/255 */
    float mean[3];            /* per dst channel */
    float std[3];             /* per dst channel; 0: 1 */
} kiln_preprocess_desc;

kiln_status kiln_preprocess_image(const kiln_preprocess_desc *d, kiln_backend target, void *stream);

/* Decodes an encoded image (JPEG, PNG, BMP, PNM; TIFF, WebP, JPEG 2000 where kiln was built with their libraries)
 * into 8-bit interleaved pixels: channels 3 gives RGB (BGR when bgr is set), channels 1 gray. *pixels is
 * allocated by kiln (height * width * channels bytes); free it with kiln_image_pixels_free. */
kiln_status kiln_decode_image(const void *data, size_t size, int channels, int bgr, uint8_t **pixels, int *height,
                              int *width);
void kiln_image_pixels_free(uint8_t *pixels);

#ifdef __cplusplus
}
#endif
#endif /* KILN_H */
