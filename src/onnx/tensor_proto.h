/* ONNX TensorProto / SparseTensorProto -> kiln_tensor.
 *
 * Storage follows kiln.h: fixed-size types little-endian native, sub-byte types unpacked one element per byte
 * (signed ones sign-extended), strings as owned NUL-terminated char * per element. Only little-endian hosts are
 * supported: raw_data is little-endian on the wire and is used (or copied) as is.
 *
 * External data (data_location = EXTERNAL) is resolved relative to ext->base_dir; the files it maps are recorded
 * in *ext and belong to whoever owns ext (the network keeps them mapped while weights borrow from them). */
#ifndef KILN_ONNX_TENSOR_PROTO_H
#define KILN_ONNX_TENSOR_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "core/file.h"
#include "core/tensor.h"
#include "onnx/wire.h"

typedef struct kiln_onnx_extdata {
    const char *base_dir;     /* NULL: external data is refused */
    kiln_mapped_file *maps;   /* files mapped so far, owned by the holder of this struct */
    char **paths;             /* resolved path of each mapping (malloc'd) */
    int n_maps, cap_maps;
    /* Lookup cache: location strings already resolved, and the mapping each one names (models have one location
     * per tensor, mostly the same few files; resolving a path costs a syscall per component). */
    char **locs;
    int *loc_map;
    int n_locs, cap_locs;
    char *base_real;          /* realpath of base_dir, once */
} kiln_onnx_extdata;

/* Releases every mapping, path and cache entry still held (a caller that takes the mappings zeroes n_maps first). */
void kiln_onnx_extdata_free(kiln_onnx_extdata *ext);

/* Decodes the TensorProto message read by `r` into *out (released first).
 * borrow: when nonzero, raw bytes that are suitably aligned and already in kiln's layout are borrowed (owned=0)
 * instead of copied; the buffer `r` reads (or the external file) must then outlive the tensor.
 * ext may be NULL (external data refused). name/name_len receive the tensor's name (not NUL-terminated; may be
 * NULL). */
kiln_status kiln_onnx_read_tensor(kiln_pb *r, kiln_onnx_extdata *ext, int borrow, kiln_tensor *out,
                                  const uint8_t **name, size_t *name_len);

/* SparseTensorProto, densified (indices either [NNZ] linear or [NNZ, rank]; out-of-range indices are an error).
 * The name is the one of its `values` tensor. */
kiln_status kiln_onnx_read_sparse(kiln_pb *r, kiln_onnx_extdata *ext, kiln_tensor *out, const uint8_t **name,
                                  size_t *name_len);

/* Unpacks `n` sub-byte elements (ONNX packed layout, LSB first) into one byte each. */
void kiln_onnx_unpack_bits(kiln_dtype t, const uint8_t *src, int64_t n, uint8_t *dst);
/* Packs `n` one-byte elements into ONNX's packed layout; dst must hold kiln_onnx_packed_size(t, n) bytes. */
void kiln_onnx_pack_bits(kiln_dtype t, const uint8_t *src, int64_t n, uint8_t *dst);
size_t kiln_onnx_packed_size(kiln_dtype t, int64_t n);

#endif
