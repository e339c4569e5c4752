/* A small CNN built with the layer API for the CUDA runtime tests: Conv(3x3, bias) -> Relu -> MaxPool(2) ->
 * Reshape[0,-1] -> MatMul -> Add -> Softmax, input "x" float [N, 4, 16, 16] with N dynamic in 1..8, output "y"
 * [N, 10]. Conv runs on cuDNN and MatMul on cuBLASLt, so both libraries meet capture and the arena. */
#ifndef KILN_TEST_CUDA_TESTNET_H
#define KILN_TEST_CUDA_TESTNET_H

#include <stdlib.h>
#include <string.h>

#include "kiln.h"

#define TN_C 4
#define TN_HW 16
#define TN_MAXB 8
#define TN_OUT 10

static float tn_rand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 65536.0f - 0.5f;
}

/* Builds the plan for `backend` into *blob. Returns KILN_OK or the first failure. */
static kiln_status tn_build(kiln_backend backend, kiln_blob **blob) {
    kiln_builder *b = NULL;
    kiln_network *n = NULL;
    kiln_config *cfg = NULL;
    kiln_profile *p = NULL;
    unsigned seed = 7;
    static float w[8 * TN_C * 3 * 3], bias[8], fc[512 * TN_OUT], fcb[TN_OUT];
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) w[i] = tn_rand(&seed);
    for (size_t i = 0; i < sizeof bias / sizeof bias[0]; i++) bias[i] = tn_rand(&seed);
    for (size_t i = 0; i < sizeof fc / sizeof fc[0]; i++) fc[i] = tn_rand(&seed) * 0.1f;
    for (size_t i = 0; i < sizeof fcb / sizeof fcb[0]; i++) fcb[i] = tn_rand(&seed);
    int64_t xd[4] = {-1, TN_C, TN_HW, TN_HW}, wd[4] = {8, TN_C, 3, 3}, bd[1] = {8}, fd[2] = {512, TN_OUT},
            fbd[1] = {TN_OUT}, rs[2] = {0, -1};
    int x, tw, tb, conv, relu, pool, flat, tfc, mm, tfb, add, sm;
    kiln_conv_desc cd;
    memset(&cd, 0, sizeof cd);
    cd.n_spatial = 2, cd.out_channels = 8, cd.kernel[0] = cd.kernel[1] = 3;
    cd.pads_begin[0] = cd.pads_begin[1] = cd.pads_end[0] = cd.pads_end[1] = 1;
    kiln_pool_desc pd;
    memset(&pd, 0, sizeof pd);
    pd.n_spatial = 2, pd.kernel[0] = pd.kernel[1] = 2, pd.strides[0] = pd.strides[1] = 2;
    kiln_status st = kiln_builder_create(NULL, &b);
    if (st == KILN_OK) st = kiln_network_create(b, &n);
    if (st == KILN_OK) st = kiln_network_add_input(n, "x", KILN_FLOAT, 4, xd, &x);
    if (st == KILN_OK) st = kiln_network_add_constant(n, KILN_FLOAT, 4, wd, w, &tw);
    if (st == KILN_OK) st = kiln_network_add_constant(n, KILN_FLOAT, 1, bd, bias, &tb);
    if (st == KILN_OK) st = kiln_network_add_conv(n, x, tw, tb, &cd, &conv);
    if (st == KILN_OK) st = kiln_network_add_activation(n, KILN_ACT_RELU, conv, 0, 0, &relu);
    if (st == KILN_OK) st = kiln_network_add_pooling(n, KILN_POOL_MAX, relu, &pd, &pool);
    if (st == KILN_OK) st = kiln_network_add_reshape(n, pool, 2, rs, &flat);
    if (st == KILN_OK) st = kiln_network_add_constant(n, KILN_FLOAT, 2, fd, fc, &tfc);
    if (st == KILN_OK) st = kiln_network_add_matmul(n, flat, tfc, &mm);
    if (st == KILN_OK) st = kiln_network_add_constant(n, KILN_FLOAT, 1, fbd, fcb, &tfb);
    if (st == KILN_OK) st = kiln_network_add_elementwise(n, KILN_ELTWISE_ADD, mm, tfb, &add);
    if (st == KILN_OK) st = kiln_network_add_softmax(n, add, 1, &sm);
    if (st == KILN_OK) st = kiln_network_mark_output(n, sm, "y");
    if (st == KILN_OK) st = kiln_config_create(b, &cfg);
    if (st == KILN_OK) st = kiln_config_set_backend(cfg, backend);
    if (st == KILN_OK) st = kiln_profile_create(b, &p);
    int64_t mn[4] = {1, TN_C, TN_HW, TN_HW}, op[4] = {4, TN_C, TN_HW, TN_HW}, mx[4] = {TN_MAXB, TN_C, TN_HW, TN_HW};
    if (st == KILN_OK) st = kiln_profile_set_shape(p, "x", KILN_PROFILE_MIN, 4, mn);
    if (st == KILN_OK) st = kiln_profile_set_shape(p, "x", KILN_PROFILE_OPT, 4, op);
    if (st == KILN_OK) st = kiln_profile_set_shape(p, "x", KILN_PROFILE_MAX, 4, mx);
    if (st == KILN_OK) st = kiln_config_add_profile(cfg, p);
    if (st == KILN_OK) st = kiln_build_serialized(b, n, cfg, blob);
    kiln_profile_destroy(p);
    kiln_config_destroy(cfg);
    kiln_network_destroy(n);
    kiln_builder_destroy(b);
    return st;
}

#endif
