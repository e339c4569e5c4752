/* Attention-family kernels on cases whose answers follow from the definition. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "oneop.h"

static void rnd(float *x, int n, unsigned *seed) {
    for (int i = 0; i < n; i++) x[i] = (float)rand_r(seed) / (float)RAND_MAX - 0.5f;
}

int main(void) {
    unsigned seed = 7;
    /* causal attention, 4-D: query 0 sees only key 0, so Y[..., 0, :] == V[..., 0, :]; full softmax check on row 1 */
    enum { B = 2, H = 3, S = 4, D = 5 };
    static float q[B * H * S * D], kk[B * H * S * D], v[B * H * S * D];
    rnd(q, B * H * S * D, &seed), rnd(kk, B * H * S * D, &seed), rnd(v, B * H * S * D, &seed);
    int64_t dims[] = {B, H, S, D};
    kiln_tensor in[3] = {oneop_tensor(KILN_FLOAT, 4, dims, q), oneop_tensor(KILN_FLOAT, 4, dims, kk),
                         oneop_tensor(KILN_FLOAT, 4, dims, v)};
    oneop o;
    oneop_begin(&o, "Attention", "", 23, 3, 1);
    oneop_attr_int(&o, "is_causal", 1);
    CHECK(oneop_run(&o, in) == KILN_OK);
    const kiln_tensor *y = oneop_out(&o, 0);
    CHECK(y->rank == 4 && y->dims[3] == D);
    const float *yd = y->data;
    for (int bh = 0; bh < B * H; bh++) {
        for (int d = 0; d < D; d++) CHECK_NEAR(yd[(bh * S) * D + d], v[(bh * S) * D + d], 1e-6);
        /* row 1: softmax over keys 0..1 */
        double s0 = 0, s1 = 0;
        for (int d = 0; d < D; d++) {
            s0 += q[(bh * S + 1) * D + d] * kk[(bh * S + 0) * D + d];
            s1 += q[(bh * S + 1) * D + d] * kk[(bh * S + 1) * D + d];
        }
        double sc = 1 / sqrt((double)D), m = fmax(s0, s1) * sc;
        double e0 = exp(s0 * sc - m), e1 = exp(s1 * sc - m);
        for (int d = 0; d < D; d++) {
            double want = (e0 * v[(bh * S) * D + d] + e1 * v[(bh * S + 1) * D + d]) / (e0 + e1);
            CHECK_NEAR(yd[(bh * S + 1) * D + d], want, 1e-5);
        }
    }
    oneop_end(&o);

    /* inconsistent shapes are errors, not reads past a buffer: V shorter than K (found by fuzz_plan), no kv heads */
    {
        int64_t kshort[] = {B, H, S - 1, D}, knohead[] = {B, 0, S, D};
        kiln_tensor bad[3] = {oneop_tensor(KILN_FLOAT, 4, dims, q), oneop_tensor(KILN_FLOAT, 4, dims, kk),
                              oneop_tensor(KILN_FLOAT, 4, kshort, v)};
        oneop_begin(&o, "Attention", "", 23, 3, 1);
        CHECK(oneop_run(&o, bad) == KILN_ERR_SHAPE);
        CHECK(strstr(kiln_error_text(), "v length 3") != NULL);
        oneop_end(&o);
        bad[1] = oneop_tensor(KILN_FLOAT, 4, knohead, kk), bad[2] = oneop_tensor(KILN_FLOAT, 4, knohead, v);
        oneop_begin(&o, "Attention", "", 23, 3, 1);
        CHECK(oneop_run(&o, bad) == KILN_ERR_SHAPE);
        oneop_end(&o);
    }

    /* RotaryEmbedding with zero angles is the identity; with 90 degrees it rotates (x1, x2) -> (-x2, x1) */
    float x[1 * 2 * 1 * 4] = {1, 2, 3, 4, 5, 6, 7, 8};
    float cz[2 * 2] = {1, 1, 0, 0}, sz[2 * 2] = {0, 0, 1, 1};
    int64_t xd[] = {1, 1, 2, 4}, cd[] = {2, 2}, pd[] = {1, 2};
    int64_t pos[] = {0, 1};
    kiln_tensor rin[4] = {oneop_tensor(KILN_FLOAT, 4, xd, x), oneop_tensor(KILN_FLOAT, 2, cd, cz),
                          oneop_tensor(KILN_FLOAT, 2, cd, sz), oneop_tensor(KILN_INT64, 2, pd, pos)};
    oneop_begin(&o, "RotaryEmbedding", "", 23, 4, 1);
    CHECK(oneop_run(&o, rin) == KILN_OK);
    const float *r = oneop_out(&o, 0)->data;
    CHECK(r[0] == 1 && r[1] == 2 && r[2] == 3 && r[3] == 4);     /* position 0: angle 0 */
    CHECK(r[4] == -7 && r[5] == -8 && r[6] == 5 && r[7] == 6);   /* position 1: angle 90 */
    oneop_end(&o);
    return CHECK_DONE();
}
