/* Control-flow and sequence kernels: Loop mechanics, If, sequence ops, optionals. */
#include <stdlib.h>

#include "check.h"
#include "oneop.h"

static int64_t one_dim[1] = {1};

static void test_sequences(void) {
    float a[] = {1, 2, 3, 4, 5, 6}, b[] = {7, 8, 9, 10, 11, 12};
    int64_t d23[] = {2, 3};
    kiln_tensor in[2] = {oneop_tensor(KILN_FLOAT, 2, d23, a), oneop_tensor(KILN_FLOAT, 2, d23, b)};
    oneop o;
    oneop_begin(&o, "SequenceConstruct", "", 17, 2, 1);
    CHECK(oneop_run(&o, in) == KILN_OK);
    kiln_value *seq = kiln_exec_output(o.e, 0);
    CHECK(seq->kind == KILN_V_SEQUENCE && seq->n_items == 2);
    CHECK(((float *)seq->items[1].data)[5] == 12);

    /* ConcatFromSequence over the constructed sequence, axis 1 and new_axis */
    kiln_value keep = {0};
    kiln_value_copy(&keep, seq);
    oneop_end(&o);
    oneop c;
    oneop_begin(&c, "ConcatFromSequence", "", 17, 1, 1);
    oneop_attr_int(&c, "axis", 1);
    kiln_tensor dummy = oneop_tensor(KILN_FLOAT, 0, NULL, a);
    CHECK(oneop_run(&c, &dummy) == KILN_ERR_TYPE); /* a tensor is not a sequence */
    kiln_value *x = kiln_exec_input(c.e, 0);
    kiln_value_copy(x, &keep);
    CHECK(kiln_exec_run(c.e) == KILN_OK);
    const kiln_tensor *y = oneop_out(&c, 0);
    CHECK(y->rank == 2 && y->dims[0] == 2 && y->dims[1] == 6);
    CHECK(((float *)y->data)[3] == 7 && ((float *)y->data)[6] == 4);
    oneop_end(&c);
    kiln_value_release(&keep);

    /* SplitToSequence with a scalar chunk size: 5 rows in chunks of 2 -> 2,2,1 */
    float z[10];
    for (int i = 0; i < 10; i++) z[i] = (float)i;
    int64_t d52[] = {5, 2};
    int64_t chunk = 2;
    kiln_tensor sin[2] = {oneop_tensor(KILN_FLOAT, 2, d52, z), oneop_tensor(KILN_INT64, 0, NULL, &chunk)};
    oneop_begin(&o, "SplitToSequence", "", 17, 2, 1);
    CHECK(oneop_run(&o, sin) == KILN_OK);
    seq = kiln_exec_output(o.e, 0);
    CHECK(seq->n_items == 3 && seq->items[2].dims[0] == 1 && ((float *)seq->items[2].data)[1] == 9);
    oneop_end(&o);
}

static void test_optional(void) {
    kiln_tensor none = {0};
    oneop o;
    oneop_begin(&o, "OptionalHasElement", "", 18, 1, 1);
    CHECK(oneop_run(&o, &none) == KILN_OK);
    CHECK(((uint8_t *)oneop_out(&o, 0)->data)[0] == 0);
    oneop_end(&o);
    float v = 3;
    kiln_tensor t = oneop_tensor(KILN_FLOAT, 1, one_dim, &v);
    oneop_begin(&o, "OptionalHasElement", "", 18, 1, 1);
    CHECK(oneop_run(&o, &t) == KILN_OK);
    CHECK(((uint8_t *)oneop_out(&o, 0)->data)[0] == 1);
    oneop_end(&o);
}

/* Loop whose body passes the carried value through and emits the iteration number as a scan output. */
static void test_loop(void) {
    oneop o;
    oneop_begin(&o, "Loop", "", 17, 3, 2);
    kiln_graph *body = kiln_graph_create(o.g);
    int it = kiln_graph_add_value(body, "it"), ci = kiln_graph_add_value(body, "cond_in"),
        xi = kiln_graph_add_value(body, "x_in");
    kiln_graph_add_input(body, it);
    kiln_graph_add_input(body, ci);
    kiln_graph_add_input(body, xi);
    kiln_graph_add_output(body, ci);
    kiln_graph_add_output(body, xi);
    kiln_graph_add_output(body, it);
    kiln_attr *a = oneop_new_attr(&o, "body", KILN_ATTR_GRAPH);
    a->g = body;
    int64_t m = 3;
    uint8_t cond = 1;
    float xv[2] = {5, 6};
    int64_t d2[] = {2};
    kiln_tensor in[3] = {oneop_tensor(KILN_INT64, 0, NULL, &m), oneop_tensor(KILN_BOOL, 0, NULL, &cond),
                         oneop_tensor(KILN_FLOAT, 1, d2, xv)};
    CHECK(oneop_run(&o, in) == KILN_OK);
    const kiln_tensor *x = oneop_out(&o, 0), *scan = oneop_out(&o, 1);
    CHECK(x->rank == 1 && ((float *)x->data)[1] == 6);
    CHECK(scan->rank == 1 && scan->dims[0] == 3 && ((int64_t *)scan->data)[2] == 2);
    /* zero trips: carried value unchanged, scan output empty */
    m = 0;
    kiln_value_release(kiln_exec_input(o.e, 0));
    kiln_value *mv = kiln_exec_input(o.e, 0);
    kiln_tensor mt = oneop_tensor(KILN_INT64, 0, NULL, &m);
    kiln_tensor_borrow(&mv->t, &mt);
    mv->kind = KILN_V_TENSOR;
    CHECK(kiln_exec_run(o.e) == KILN_OK);
    CHECK(oneop_out(&o, 1)->dims[0] == 0 && ((float *)oneop_out(&o, 0)->data)[0] == 5);
    oneop_end(&o);
}

int main(void) {
    test_sequences();
    test_optional();
    test_loop();
    return CHECK_DONE();
}
