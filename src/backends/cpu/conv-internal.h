/* Shared by the conv family files (conv.c, conv-quant.c, conv-deform.c): attribute parsing, output geometry,
 * im2col / col2im. Internal to the CPU backend. */
#ifndef KILN_CPU_CONV_INTERNAL_H
#define KILN_CPU_CONV_INTERNAL_H

#include "backends/cpu/gemm.h"
#include "runtime/op.h"

typedef enum conv_auto_pad { PAD_NOTSET = 0, PAD_SAME_UPPER = 1, PAD_SAME_LOWER = 2, PAD_VALID = 3 } conv_auto_pad;

/* Attributes of Conv-like nodes, parsed once in prepare. n_* = 0 means the attribute is absent. */
typedef struct conv_attrs {
    conv_auto_pad auto_pad;
    int n_k, n_s, n_d, n_p, n_op, n_os;
    int64_t k[KILN_MAX_DIMS], s[KILN_MAX_DIMS], d[KILN_MAX_DIMS], pads[2 * KILN_MAX_DIMS];
    int64_t output_padding[KILN_MAX_DIMS], output_shape[KILN_MAX_DIMS];
    int64_t group, offset_group;
} conv_attrs;

kiln_status conv_attrs_parse(const kiln_node *n, conv_attrs *a);
/* prepare/release for ops whose params are just conv_attrs. */
kiln_status conv_attrs_prepare(const kiln_node *n, const kiln_graph *g, void **params);

/* Sliding-window geometry: windows of size k (dilation d) step s over an image padded by pb (begin) / pe (end);
 * `grid` counts window positions per dim. For Conv the image is the input and the grid the output; for
 * ConvTranspose / Col2Im the roles swap. */
typedef struct conv_geom {
    int nsp;
    int64_t img[KILN_MAX_DIMS], grid[KILN_MAX_DIMS], k[KILN_MAX_DIMS], s[KILN_MAX_DIMS], d[KILN_MAX_DIMS];
    int64_t pb[KILN_MAX_DIMS], pe[KILN_MAX_DIMS];
    int64_t img_size, grid_size, k_size;
} conv_geom;

/* Forward conv geometry from X's spatial dims and the kernel's (kernel_shape attribute or W's dims): output
 * sizes, and pads resolved from auto_pad. Fails when the output would be empty or attributes are inconsistent. */
kiln_status conv_geom_forward(const conv_attrs *a, int nsp, const int64_t *x_sp, const int64_t *w_sp, conv_geom *g);
/* ConvTranspose geometry as the ONNX reference defines it: img = the output, grid = the input; pads come from
 * auto_pad / pads / output_shape and may be negative when output_shape crops. Shared by the CPU and CUDA kernels. */
kiln_status conv_geom_transpose(const conv_attrs *a, int nsp, const int64_t *x_sp, const int64_t *w_sp,
                                conv_geom *g);
/* Fills the *_size products; fails when one overflows. */
kiln_status conv_geom_finish(conv_geom *g);
/* Refuses sizes, pads, strides or dilations of spatial dim i at or above 2^31 (or negative), so the per-dim window
 * arithmetic cannot overflow int64: no real image or kernel comes near. */
kiln_status conv_check_dim(int i, int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe);

/* im2col of `channels` image planes (row-major [channels, img...], element size es = 4 or 8 bytes) into
 * col[channels * k_size, cols] for grid rows [r0, r1) of the first spatial dim (all of it when nsp == 1: pass
 * 0, grid[0]); cols = (r1 - r0) * grid_size / grid[0]. Padding reads as zero bits. Threads over col rows. */
void conv_im2col(const conv_geom *g, size_t es, const void *img, int64_t channels, int64_t r0, int64_t r1,
                 void *col);
/* col2im: img[c, ...] += col[(c, k), grid] for every valid tap (float or double per es). Threads over
 * channels. */
void conv_col2im(const conv_geom *g, size_t es, const void *col, int64_t channels, void *img);

/* Broadcasts the bias: y[n, m, :] = b[m] (0 when b is NULL) for a float output of n x m x plane. */
void conv_fill_bias(float *y, const float *b, int64_t n, int64_t m, int64_t plane);

/* Implicit-GEMM B packer (conv-pack.c) for kiln_sgemm_args.pack_b: batch item = image * group + group index;
 * B rows are (channel within the group, tap), columns output positions. */
typedef struct conv_pack_ctx {
    const conv_geom *g;
    const float *x; /* [N, C, img...] */
    int64_t c_total, cg, group;
} conv_pack_ctx;
kiln_sgemm_pack_fn conv_pack_fn(void);

/* Depthwise 2-D conv (conv-dw.c): y[n, m] from x[n, m / mg] with w [m, 1, kh, kw]; threads over (n, m). */
typedef struct conv_dw_args {
    const conv_geom *g;
    const float *x, *w, *b; /* b may be NULL */
    float *y;
    int64_t n, c, m, mg;
} conv_dw_args;
kiln_status conv_depthwise2d(const conv_dw_args *a);

kiln_status conv_deform_run(kiln_kctx *k);
kiln_status col2im_run(kiln_kctx *k);
kiln_status conv_integer_run(kiln_kctx *k);
kiln_status qlinear_conv_run(kiln_kctx *k);

#endif
