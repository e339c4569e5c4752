/* CUDA graph capture and replay for the CUDA executor (exec-cuda.c).
 *
 * A run whose nodes all launch device work (or compute shapes on the host) is the same stream of launches each
 * time its input shapes and addresses repeat, as long as no buffer moved. Such a run is captured once into a CUDA
 * graph (on a private non-blocking stream, so that capture never touches the legacy stream other threads may use)
 * and later runs replay it with one launch. The host side of every value (shapes, validity) stays as the captured
 * run left it, which is what a replay reproduces. Capture happens on the second run at a key: the first one must
 * have allocated nothing and moved no data between host and device (that would be a sync or a pageable copy inside
 * the capture). Any failure falls back to plain launches, logged at VERBOSE. */
#include "backends/cuda/exec-cuda-impl.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/status.h"

typedef struct graph_key_in {
    kiln_dtype dtype;
    int rank;
    int64_t dims[KILN_MAX_DIMS];
    const void *data;
} graph_key_in;

typedef struct cuda_graph_state {
    cudaStream_t cap_stream;
    cudaGraphExec_t exec;
    unsigned generation; /* e->generation the key and the graph belong to */
    int have_key;
    int warm;            /* a plain run at this key allocated nothing and made no transfers */
    int failed;          /* capture failed at this key: plain launches until the key changes */
    graph_key_in key[];
} cuda_graph_state;

static _Atomic unsigned long long n_graph_captures, n_graph_replays;

void kiln_cuda_graph_counts(unsigned long long *captures, unsigned long long *replays) {
    if (captures) *captures = n_graph_captures;
    if (replays) *replays = n_graph_replays;
}

int kiln_cuda_graphs_default(void) {
    const char *v = getenv("KILN_CUDA_GRAPHS");
    return !(v && (!strcmp(v, "0") || !strcmp(v, "off") || !strcmp(v, "false")));
}

static void graph_reset(kiln_cuda_exec *e) {
    if (!e->cg) return;
    if (e->cg->exec) cudaGraphExecDestroy(e->cg->exec);
    e->cg->exec = NULL;
    e->cg->have_key = e->cg->warm = e->cg->failed = 0;
}

void kiln_cuda_graph_free(kiln_cuda_exec *e) {
    graph_reset(e);
    if (e->cg && e->cg->cap_stream) cudaStreamDestroy(e->cg->cap_stream);
    free(e->cg);
    e->cg = NULL;
}

void kiln_cuda_exec_set_graphs(kiln_cuda_exec *e, int on) {
    e->graphs_on = on != 0;
    if (!on) graph_reset(e);
}

void kiln_cuda_exec_set_logger(kiln_cuda_exec *e, const kiln_logger *lg) { e->lg = lg; }

/* Whether the bound inputs equal the key (and, with store, make them the key). Host-bound inputs never match. */
static int graph_key_matches(kiln_cuda_exec *e, int store) {
    const kiln_graph *g = e->p->g;
    int same = e->cg->have_key && e->cg->generation == e->generation;
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        if (g->values[v].init) continue;
        const dev_slot *s = &e->dv[v];
        if (!s->valid || e->hvalid[v]) return 0;
        graph_key_in *k = &e->cg->key[i];
        if (store) {
            memset(k, 0, sizeof *k);
            k->dtype = s->view.dtype, k->rank = s->view.rank, k->data = s->view.data;
            memcpy(k->dims, s->view.dims, sizeof(int64_t) * (size_t)s->view.rank);
        } else if (k->dtype != s->view.dtype || k->rank != s->view.rank || k->data != s->view.data ||
                   memcmp(k->dims, s->view.dims, sizeof(int64_t) * (size_t)s->view.rank)) {
            same = 0;
        }
    }
    return store ? 1 : same;
}

int kiln_cuda_graph_mode(kiln_cuda_exec *e) {
    if (!e->graphs_on || !e->p->capturable || e->prof) return KILN_GRAPH_PLAIN;
    if (!e->cg) {
        e->cg = calloc(1, sizeof *e->cg + sizeof(graph_key_in) * (size_t)(e->p->g->n_inputs + 1));
        if (!e->cg) return KILN_GRAPH_PLAIN;
        if (cudaStreamCreateWithFlags(&e->cg->cap_stream, cudaStreamNonBlocking) != cudaSuccess) {
            cudaGetLastError();
            free(e->cg);
            e->cg = NULL;
            e->graphs_on = 0;
            return KILN_GRAPH_PLAIN;
        }
    }
    if (!graph_key_matches(e, 0)) {
        graph_reset(e);
        return KILN_GRAPH_PLAIN;
    }
    if (e->cg->exec) return KILN_GRAPH_REPLAY;
    return e->cg->warm && !e->cg->failed ? KILN_GRAPH_CAPTURE : KILN_GRAPH_PLAIN;
}

void kiln_cuda_graph_after_plain_run(kiln_cuda_exec *e, kiln_status st) {
    if (!e->cg || !e->graphs_on || !e->p->capturable || e->prof) return;
    if (st != KILN_OK) {
        graph_reset(e);
        return;
    }
    int fresh = !e->cg->have_key || e->cg->generation != e->generation || !graph_key_matches(e, 0);
    if (fresh) {
        graph_reset(e);
        if (!graph_key_matches(e, 1)) return; /* some input lives on the host */
        e->cg->have_key = 1;
    }
    e->cg->generation = e->generation;
    e->cg->warm = e->run_allocs == 0 && e->run_transfers == 0;
}

kiln_status kiln_cuda_graph_replay(kiln_cuda_exec *e) {
    cudaError_t rc = cudaGraphLaunch(e->cg->exec, e->stream);
    if (rc != cudaSuccess) {
        cudaGetLastError();
        kiln_log(e->lg, KILN_SEV_VERBOSE, "CUDA graph launch failed (%s): plain launches", cudaGetErrorString(rc));
        graph_reset(e);
        return kiln_cuda_exec_run_nodes(e);
    }
    n_graph_replays++;
    return KILN_OK;
}

kiln_status kiln_cuda_graph_capture_run(kiln_cuda_exec *e) {
    cuda_graph_state *cg = e->cg;
    cudaStream_t real = e->stream;
    cudaGraph_t graph = NULL;
    const char *why = NULL;
    kiln_status st = KILN_OK;
    cudaError_t rc = cudaStreamBeginCapture(cg->cap_stream, cudaStreamCaptureModeThreadLocal);
    if (rc == cudaSuccess) {
        e->stream = cg->cap_stream;
        st = kiln_cuda_exec_run_nodes(e);
        rc = cudaStreamEndCapture(cg->cap_stream, &graph);
        e->stream = real;
        if (st != KILN_OK) why = kiln_error_text();
        else if (e->run_allocs || e->run_transfers) why = "the run allocated or moved data between host and device";
        else if (rc != cudaSuccess) why = cudaGetErrorString(rc);
        else if ((rc = cudaGraphInstantiate(&cg->exec, graph, 0)) != cudaSuccess) why = cudaGetErrorString(rc);
    } else {
        why = cudaGetErrorString(rc);
    }
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError(); /* a failed capture leaves a sticky-free error behind */
    if (!why) {
        n_graph_captures++;
        return kiln_cuda_graph_replay(e);
    }
    kiln_log(e->lg, KILN_SEV_VERBOSE, "CUDA graph capture failed, plain launches at these shapes: %s", why);
    if (cg->exec) cudaGraphExecDestroy(cg->exec);
    cg->exec = NULL;
    cg->failed = 1;
    kiln_error_clear();
    /* nothing of the captured pass ran: run it for real */
    st = kiln_cuda_exec_run_nodes(e);
    if (st != KILN_OK) graph_reset(e);
    return st;
}
