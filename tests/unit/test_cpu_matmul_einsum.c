/* Einsum against a brute-force double reference (sum over every assignment of every label). The reference takes
 * an explicit, ellipsis-free spelling of each equation. */
#include "linalg_testutil.h"

#define MAXOPS 4

/* Brute force: ref_eq like "ab,bc->ac" (explicit output, letters only; size-1 operand dims broadcast). */
static double *ref_einsum(const char *ref_eq, int n_ops, lt_tensor *ops, int64_t *out_n) {
    int lab_of[MAXOPS][KILN_MAX_DIMS], rank[MAXOPS], out_lab[KILN_MAX_DIMS], out_rank = 0;
    int64_t size[128];
    for (int i = 0; i < 128; i++) size[i] = 0;
    const char *c = ref_eq;
    for (int i = 0; i < n_ops; i++) {
        rank[i] = 0;
        while (*c && *c != ',' && *c != '-') {
            lab_of[i][rank[i]] = *c;
            int64_t d = ops[i].t.dims[rank[i]];
            if (d > size[(int)*c]) size[(int)*c] = d;
            rank[i]++;
            c++;
        }
        if (*c == ',') c++;
    }
    c += 2; /* "->" */
    while (*c) out_lab[out_rank++] = *c++;
    int labels[64], nl = 0;
    for (int l = 0; l < 128; l++)
        if (size[l] > 0) labels[nl++] = l;
    int64_t on = 1;
    for (int i = 0; i < out_rank; i++) on *= size[out_lab[i]];
    double *out = calloc((size_t)(on + 1), sizeof(double));
    int64_t val[128] = {0};
    int64_t total = 1;
    for (int i = 0; i < nl; i++) total *= size[labels[i]];
    for (int64_t t = 0; t < total; t++) {
        int64_t rem = t;
        for (int i = nl - 1; i >= 0; i--) {
            val[labels[i]] = rem % size[labels[i]];
            rem /= size[labels[i]];
        }
        double prod = 1;
        for (int i = 0; i < n_ops; i++) {
            int64_t off = 0;
            for (int d = 0; d < rank[i]; d++) {
                int64_t dim = ops[i].t.dims[d];
                off = off * dim + (dim == 1 ? 0 : val[lab_of[i][d]]);
            }
            prod *= ops[i].v[off];
        }
        int64_t o = 0;
        for (int d = 0; d < out_rank; d++) o = o * size[out_lab[d]] + val[out_lab[d]];
        out[o] += prod;
    }
    *out_n = on;
    return out;
}

static void check_einsum(kiln_dtype dt, const char *eq, const char *ref_eq, int n_ops, const int *ranks,
                         const int64_t dims[][6], int out_rank, const int64_t *out_dims) {
    lt_tensor ops[MAXOPS];
    kiln_tensor in[MAXOPS];
    double lo = kiln_dtype_is_float(dt) ? -1 : -9;
    for (int i = 0; i < n_ops; i++) {
        ops[i] = lt_rand(dt, ranks[i], dims[i], lo, -lo);
        in[i] = ops[i].t;
    }
    int64_t on;
    double *ref = ref_einsum(ref_eq, n_ops, ops, &on);
    oneop o;
    oneop_begin(&o, "Einsum", "", 12, n_ops, 1);
    oneop_attr_string(&o, "equation", eq);
    kiln_status st = oneop_run(&o, in);
    CHECK(st == KILN_OK);
    if (st == KILN_OK) {
        const kiln_tensor *y = oneop_out(&o, 0);
        char what[160];
        snprintf(what, sizeof what, "Einsum '%s' %s", eq, kiln_dtype_name(dt));
        CHECK(lt_same_shape(y, out_rank, out_dims, what));
        CHECK(y->dtype == dt);
        CHECK(lt_close(y, ref, on, lt_tol(dt, 64), lt_tol(dt, 64), what));
    } else {
        fprintf(stderr, "Einsum '%s' failed: %s\n", eq, kiln_error_text());
    }
    oneop_end(&o);
    free(ref);
    for (int i = 0; i < n_ops; i++) lt_free(&ops[i]);
}

int main(void) {
    static const kiln_dtype types[] = {KILN_FLOAT, KILN_DOUBLE, KILN_FLOAT16, KILN_INT32, KILN_INT64};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        kiln_dtype dt = types[t];
        check_einsum(dt, "ij,jk->ik", "ij,jk->ik", 2, (int[]){2, 2}, (const int64_t[][6]){{7, 9}, {9, 5}}, 2,
                     (int64_t[]){7, 5});
        check_einsum(dt, "bij,bjk->bik", "bij,bjk->bik", 2, (int[]){3, 3},
                     (const int64_t[][6]){{3, 4, 6}, {3, 6, 5}}, 3, (int64_t[]){3, 4, 5});
        check_einsum(dt, "ij->ji", "ij->ji", 1, (int[]){2}, (const int64_t[][6]){{3, 7}}, 2, (int64_t[]){7, 3});
        check_einsum(dt, "ij->i", "ij->i", 1, (int[]){2}, (const int64_t[][6]){{3, 7}}, 1, (int64_t[]){3});
        check_einsum(dt, "i,i", "i,i->", 2, (int[]){1, 1}, (const int64_t[][6]){{33}, {33}}, 0, NULL);
        check_einsum(dt, "ii->i", "ii->i", 1, (int[]){2}, (const int64_t[][6]){{6, 6}}, 1, (int64_t[]){6});
        check_einsum(dt, "ii", "ii->", 1, (int[]){2}, (const int64_t[][6]){{6, 6}}, 0, NULL); /* trace */
    }
    /* implicit output: alphabetical single-use labels */
    check_einsum(KILN_FLOAT, "ba,bc", "ba,bc->ac", 2, (int[]){2, 2}, (const int64_t[][6]){{4, 3}, {4, 5}}, 2,
                 (int64_t[]){3, 5});
    check_einsum(KILN_FLOAT, "ij,jk", "ij,jk->ik", 2, (int[]){2, 2}, (const int64_t[][6]){{4, 3}, {3, 5}}, 2,
                 (int64_t[]){4, 5});
    /* ellipsis: batch diagonal, broadcasting batch dims, implicit output with ellipsis first */
    check_einsum(KILN_FLOAT, "...ii->...i", "xyii->xyi", 1, (int[]){4}, (const int64_t[][6]){{2, 3, 5, 5}}, 3,
                 (int64_t[]){2, 3, 5});
    check_einsum(KILN_FLOAT, "...ij,...jk->...ik", "xyij,yjk->xyik", 2, (int[]){4, 3},
                 (const int64_t[][6]){{2, 3, 4, 6}, {3, 6, 5}}, 4, (int64_t[]){2, 3, 4, 5});
    check_einsum(KILN_FLOAT, "...ij,...jk", "xyij,xyjk->xyik", 2, (int[]){4, 4},
                 (const int64_t[][6]){{2, 1, 4, 6}, {1, 3, 6, 5}}, 4, (int64_t[]){2, 3, 4, 5});
    check_einsum(KILN_FLOAT, "i...->...", "ixy->xy", 1, (int[]){3}, (const int64_t[][6]){{4, 2, 3}}, 2,
                 (int64_t[]){2, 3});
    /* outer product, three operands, repeated index across operands, batch + contraction mix */
    check_einsum(KILN_FLOAT, "i,j->ij", "i,j->ij", 2, (int[]){1, 1}, (const int64_t[][6]){{5}, {7}}, 2,
                 (int64_t[]){5, 7});
    check_einsum(KILN_FLOAT, "ij,jk,kl->il", "ij,jk,kl->il", 3, (int[]){2, 2, 2},
                 (const int64_t[][6]){{3, 4}, {4, 5}, {5, 6}}, 2, (int64_t[]){3, 6});
    check_einsum(KILN_DOUBLE, "bhqd,bhkd->bhqk", "bhqd,bhkd->bhqk", 2, (int[]){4, 4},
                 (const int64_t[][6]){{2, 3, 7, 8}, {2, 3, 9, 8}}, 4, (int64_t[]){2, 3, 7, 9});
    check_einsum(KILN_FLOAT, "abc,cd,a->bd", "abc,cd,a->bd", 3, (int[]){3, 2, 1},
                 (const int64_t[][6]){{2, 3, 4}, {4, 5}, {2}}, 2, (int64_t[]){3, 5});
    check_einsum(KILN_FLOAT, "iij,jk->ik", "iij,jk->ik", 2, (int[]){3, 2}, (const int64_t[][6]){{4, 4, 3}, {3, 2}},
                 2, (int64_t[]){4, 2});
    check_einsum(KILN_FLOAT, "ij,ij->ij", "ij,ij->ij", 2, (int[]){2, 2}, (const int64_t[][6]){{3, 4}, {3, 4}}, 2,
                 (int64_t[]){3, 4});
    check_einsum(KILN_FLOAT, "", "->", 1, (int[]){0}, (const int64_t[][6]){{0}}, 0, NULL); /* scalar */
    check_einsum(KILN_FLOAT, "Ab,bA->", "Ab,bA->", 2, (int[]){2, 2}, (const int64_t[][6]){{3, 4}, {4, 3}}, 0, NULL);

    /* malformed equation and rank mismatch are errors */
    oneop o;
    lt_tensor x = lt_rand(KILN_FLOAT, 2, (int64_t[]){2, 3}, -1, 1);
    oneop_begin(&o, "Einsum", "", 12, 1, 1);
    oneop_attr_string(&o, "equation", "ijk->i");
    CHECK(oneop_run(&o, &x.t) == KILN_ERR_SHAPE);
    oneop_end(&o);
    oneop_begin(&o, "Einsum", "", 12, 1, 1);
    oneop_attr_string(&o, "equation", "i$->i");
    CHECK(oneop_run(&o, &x.t) == KILN_ERR_INVALID_GRAPH);
    oneop_end(&o);
    lt_free(&x);
    return CHECK_DONE();
}
