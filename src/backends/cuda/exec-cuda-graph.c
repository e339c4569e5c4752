/* CUDA graph capture and replay for the CUDA executor (exec-cuda.c).
 *
 * A run whose nodes all launch device work (or compute shapes on the host) is the same stream of launches each
 * time its input shapes and addresses repeat, as long as no buffer moved. Such a run is captured once into a CUDA
 * graph (on a private non-blocking stream, so that capture never touches the legacy stream other threads may use)
 * and later runs at the same key replay it with one launch. A context keeps up to KILN_CUDA_GRAPHS_PER_CONTEXT
 * graphs, one per key (input dtypes, shapes and device addresses), least recently used evicted, so that a context
 * whose shapes alternate inside a dynamic profile replays at each of them. All of them address the same arena: the
 * memory plan gives a value one slot for every shape of the profiles, and anything that moves a buffer (an
 * on-demand allocation, new caller memory, grown scratch) bumps e->generation, which drops every graph.
 *
 * A replay does not run the host side, so each graph keeps what its captured run left in the graph outputs' host
 * side (shape, validity, device address, and the data of outputs computed on the host) and puts it back when the
 * previous run was at another key. Values inside the graph are rebuilt by the next plain run before anyone reads
 * them. Capture happens on the second run at a key: the first one must have allocated nothing and moved no data
 * between host and device (that would be a sync or a pageable copy inside the capture). Any failure falls back to
 * plain launches, logged at VERBOSE. */
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

/* A graph output as the captured run left it. */
typedef struct graph_out {
    kiln_cuda_tensor view;
    int valid, hvalid;
    kiln_value host; /* hvalid: a copy of the host value; else only kind and the tensor's dtype and shape count */
} graph_out;

typedef struct graph_entry {
    cudaGraphExec_t exec;
    unsigned long long used; /* LRU stamp */
    int live;                /* the key below is in use */
    int warm;                /* a plain run at this key allocated nothing and made no transfers */
    int failed;              /* capture failed at this key: plain launches until the entry goes */
    graph_key_in *key;       /* per graph input (initializer inputs unused) */
    graph_out *out;          /* per graph output, once captured */
} graph_entry;

typedef struct cuda_graph_state {
    cudaStream_t cap_stream;
    unsigned generation;     /* e->generation every live entry belongs to */
    unsigned long long clock;
    int cur;                 /* entry of this run's key (-1: none) */
    int last;                /* entry whose outputs the host side holds (-1: a plain run left them) */
    graph_entry ent[KILN_CUDA_GRAPHS_PER_CONTEXT];
} cuda_graph_state;

static _Atomic unsigned long long n_graph_captures, n_graph_replays, n_graph_live, n_graph_evictions;

void kiln_cuda_graph_counts(unsigned long long *captures, unsigned long long *replays) {
    if (captures) *captures = n_graph_captures;
    if (replays) *replays = n_graph_replays;
}

void kiln_cuda_graph_cache_counts(unsigned long long *live, unsigned long long *evictions) {
    if (live) *live = n_graph_live;
    if (evictions) *evictions = n_graph_evictions;
}

int kiln_cuda_graphs_default(void) {
    const char *v = getenv("KILN_CUDA_GRAPHS");
    return !(v && (!strcmp(v, "0") || !strcmp(v, "off") || !strcmp(v, "false")));
}

static void entry_drop_exec(graph_entry *en) {
    if (!en->exec) return;
    cudaGraphExecDestroy(en->exec);
    en->exec = NULL;
    n_graph_live--;
}

static void entry_reset(kiln_cuda_exec *e, int i) {
    graph_entry *en = &e->cg->ent[i];
    entry_drop_exec(en);
    en->live = en->warm = en->failed = 0;
    en->used = 0;
    if (e->cg->cur == i) e->cg->cur = -1;
    if (e->cg->last == i) e->cg->last = -1;
}

static void graph_reset_all(kiln_cuda_exec *e) {
    if (!e->cg) return;
    for (int i = 0; i < KILN_CUDA_GRAPHS_PER_CONTEXT; i++) entry_reset(e, i);
}

void kiln_cuda_graph_free(kiln_cuda_exec *e) {
    if (!e->cg) return;
    graph_reset_all(e);
    int n_out = e->p->g->n_outputs;
    for (int i = 0; i < KILN_CUDA_GRAPHS_PER_CONTEXT; i++) {
        graph_entry *en = &e->cg->ent[i];
        for (int k = 0; en->out && k < n_out; k++) kiln_value_release(&en->out[k].host);
        free(en->key);
        free(en->out);
    }
    if (e->cg->cap_stream) cudaStreamDestroy(e->cg->cap_stream);
    free(e->cg);
    e->cg = NULL;
}

void kiln_cuda_exec_set_graphs(kiln_cuda_exec *e, int on) {
    e->graphs_on = on != 0;
    if (!on) graph_reset_all(e);
}

void kiln_cuda_exec_set_logger(kiln_cuda_exec *e, const kiln_logger *lg) { e->lg = lg; }

/* Whether every graph input is bound to device memory (a host-bound input keeps the run out of graphs). */
static int key_storable(const kiln_cuda_exec *e) {
    const kiln_graph *g = e->p->g;
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        if (!g->values[v].init && (!e->dv[v].valid || e->hvalid[v])) return 0;
    }
    return 1;
}

static int key_equal(const kiln_cuda_exec *e, const graph_key_in *key) {
    const kiln_graph *g = e->p->g;
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        if (g->values[v].init) continue;
        const kiln_cuda_tensor *t = &e->dv[v].view;
        const graph_key_in *k = &key[i];
        if (k->dtype != t->dtype || k->rank != t->rank || k->data != t->data ||
            memcmp(k->dims, t->dims, sizeof(int64_t) * (size_t)t->rank))
            return 0;
    }
    return 1;
}

static void key_store(const kiln_cuda_exec *e, graph_key_in *key) {
    const kiln_graph *g = e->p->g;
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        graph_key_in *k = &key[i];
        memset(k, 0, sizeof *k);
        if (g->values[v].init) continue;
        const kiln_cuda_tensor *t = &e->dv[v].view;
        k->dtype = t->dtype, k->rank = t->rank, k->data = t->data;
        memcpy(k->dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
    }
}

static int find_entry(const kiln_cuda_exec *e) {
    for (int i = 0; i < KILN_CUDA_GRAPHS_PER_CONTEXT; i++)
        if (e->cg->ent[i].live && key_equal(e, e->cg->ent[i].key)) return i;
    return -1;
}

/* A free entry, or the least recently used one emptied (its graph destroyed). */
static int take_entry(kiln_cuda_exec *e) {
    int lru = 0;
    for (int i = 0; i < KILN_CUDA_GRAPHS_PER_CONTEXT; i++) {
        if (!e->cg->ent[i].live) return i;
        if (e->cg->ent[i].used < e->cg->ent[lru].used) lru = i;
    }
    if (e->cg->ent[lru].exec) n_graph_evictions++;
    entry_reset(e, lru);
    return lru;
}

static void touch(cuda_graph_state *cg, int i) { cg->ent[i].used = ++cg->clock; }

static int graph_state_create(kiln_cuda_exec *e) {
    cuda_graph_state *cg = calloc(1, sizeof *cg);
    if (!cg) return 0;
    cg->cur = cg->last = -1;
    size_t n_in = (size_t)e->p->g->n_inputs + 1, n_out = (size_t)e->p->g->n_outputs + 1;
    int ok = 1;
    for (int i = 0; i < KILN_CUDA_GRAPHS_PER_CONTEXT; i++) {
        cg->ent[i].key = calloc(n_in, sizeof(graph_key_in));
        cg->ent[i].out = calloc(n_out, sizeof(graph_out));
        ok &= cg->ent[i].key && cg->ent[i].out;
    }
    if (ok && cudaStreamCreateWithFlags(&cg->cap_stream, cudaStreamNonBlocking) != cudaSuccess) {
        cudaGetLastError();
        ok = 0;
    }
    e->cg = cg;
    if (!ok) {
        kiln_cuda_graph_free(e);
        e->graphs_on = 0;
    }
    return ok;
}

int kiln_cuda_graph_mode(kiln_cuda_exec *e) {
    if (!e->graphs_on || !e->p->capturable || e->prof) return KILN_GRAPH_PLAIN;
    if (!e->cg && !graph_state_create(e)) return KILN_GRAPH_PLAIN;
    cuda_graph_state *cg = e->cg;
    if (cg->generation != e->generation) {
        graph_reset_all(e);
        cg->generation = e->generation;
    }
    cg->cur = key_storable(e) ? find_entry(e) : -1;
    if (cg->cur < 0) return KILN_GRAPH_PLAIN;
    graph_entry *en = &cg->ent[cg->cur];
    touch(cg, cg->cur);
    if (en->exec) return KILN_GRAPH_REPLAY;
    return en->warm && !en->failed ? KILN_GRAPH_CAPTURE : KILN_GRAPH_PLAIN;
}

void kiln_cuda_graph_after_plain_run(kiln_cuda_exec *e, kiln_status st) {
    cuda_graph_state *cg = e->cg;
    if (!cg) return;
    cg->last = -1; /* the host side is this run's, whatever graphs do next */
    if (!e->graphs_on || !e->p->capturable || e->prof) return;
    if (cg->generation != e->generation) { /* the run moved a buffer: every graph addresses stale memory */
        graph_reset_all(e);
        cg->generation = e->generation;
    }
    int clean = st == KILN_OK && e->run_allocs == 0 && e->run_transfers == 0;
    if (cg->cur >= 0) {
        graph_entry *en = &cg->ent[cg->cur];
        if (st != KILN_OK) entry_reset(e, cg->cur);
        else en->warm = clean;
        return;
    }
    /* a new key: remember it only when the run was clean, so that a one-off shape never evicts a graph in use */
    if (!clean || !key_storable(e)) return;
    int i = take_entry(e);
    graph_entry *en = &cg->ent[i];
    key_store(e, en->key);
    en->live = en->warm = 1;
    en->failed = 0;
    touch(cg, i);
}

/* Records the graph outputs' state after the captured run, for replays that follow runs at other keys. */
static kiln_status snapshot_outputs(kiln_cuda_exec *e, graph_entry *en) {
    const kiln_graph *g = e->p->g;
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        graph_out *o = &en->out[k];
        o->view = e->dv[v].view;
        o->valid = e->dv[v].valid;
        o->hvalid = e->hvalid[v];
        const kiln_value *h = kiln_exec_value(e->host, v);
        if (o->hvalid) {
            if (o->host.kind == KILN_V_SEQUENCE) kiln_value_release(&o->host);
            KILN_TRY(kiln_value_copy(&o->host, h));
        } else {
            if (o->host.kind == KILN_V_SEQUENCE || o->host.t.dtype == KILN_STRING) kiln_value_release(&o->host);
            o->host.kind = h->kind;
            o->host.t.dtype = h->t.dtype;
            o->host.t.rank = h->t.rank;
            memcpy(o->host.t.dims, h->t.dims, sizeof o->host.t.dims);
        }
    }
    return KILN_OK;
}

static kiln_status restore_outputs(kiln_cuda_exec *e, const graph_entry *en) {
    const kiln_graph *g = e->p->g;
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        if (g->values[v].is_input) continue; /* bound for this run, and part of the key */
        const graph_out *o = &en->out[k];
        kiln_value *h = kiln_exec_value(e->host, v);
        e->dv[v].view = o->view;
        e->dv[v].valid = o->valid;
        e->hvalid[v] = (uint8_t)o->hvalid;
        if (h->kind == KILN_V_SEQUENCE) kiln_value_release(h);
        if (o->hvalid) {
            KILN_TRY(kiln_value_copy(h, &o->host));
        } else {
            h->kind = o->host.kind;
            h->t.dtype = o->host.t.dtype;
            h->t.rank = o->host.t.rank;
            memcpy(h->t.dims, o->host.t.dims, sizeof h->t.dims);
        }
    }
    return KILN_OK;
}

kiln_status kiln_cuda_graph_replay(kiln_cuda_exec *e) {
    cuda_graph_state *cg = e->cg;
    int i = cg->cur;
    graph_entry *en = &cg->ent[i];
    cudaError_t rc = cudaGraphLaunch(en->exec, e->stream);
    if (rc != cudaSuccess) {
        cudaGetLastError();
        kiln_log(e->lg, KILN_SEV_VERBOSE, "CUDA graph launch failed (%s): plain launches", cudaGetErrorString(rc));
        entry_reset(e, i);
        kiln_status st = kiln_cuda_exec_run_nodes(e);
        cg->last = -1;
        return st;
    }
    if (cg->last != i) {
        kiln_status st = restore_outputs(e, en);
        if (st != KILN_OK) {
            /* the graph ran; only the host copy of an output failed (out of memory): the run's outputs are unknown */
            cg->last = -1;
            entry_reset(e, i);
            return kiln_error_wrap(st, "restoring the outputs of a CUDA graph replay");
        }
        cg->last = i;
    }
    n_graph_replays++;
    return KILN_OK;
}

kiln_status kiln_cuda_graph_capture_run(kiln_cuda_exec *e) {
    cuda_graph_state *cg = e->cg;
    int i = cg->cur;
    graph_entry *en = &cg->ent[i];
    cudaStream_t real = e->stream;
    cudaGraph_t graph = NULL;
    const char *why = NULL;
    kiln_status st = KILN_OK;
    cg->last = -1;
    cudaError_t rc = cudaStreamBeginCapture(cg->cap_stream, cudaStreamCaptureModeThreadLocal);
    if (rc == cudaSuccess) {
        e->stream = cg->cap_stream;
        st = kiln_cuda_exec_run_nodes(e);
        rc = cudaStreamEndCapture(cg->cap_stream, &graph);
        e->stream = real;
        if (st != KILN_OK) why = kiln_error_text();
        else if (e->run_allocs || e->run_transfers) why = "the run allocated or moved data between host and device";
        else if (rc != cudaSuccess) why = cudaGetErrorString(rc);
        else if ((rc = cudaGraphInstantiate(&en->exec, graph, 0)) != cudaSuccess) why = cudaGetErrorString(rc);
        else n_graph_live++;
    } else {
        why = cudaGetErrorString(rc);
    }
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError(); /* a failed capture leaves a sticky-free error behind */
    if (!why && snapshot_outputs(e, en) != KILN_OK) why = "out of memory keeping the outputs' host side";
    if (!why) {
        n_graph_captures++;
        cg->last = i; /* the host side is the captured run's */
        return kiln_cuda_graph_replay(e);
    }
    kiln_log(e->lg, KILN_SEV_VERBOSE, "CUDA graph capture failed, plain launches at these shapes: %s", why);
    entry_drop_exec(en);
    en->failed = 1;
    kiln_error_clear();
    /* nothing of the captured pass ran: run it for real */
    st = kiln_cuda_exec_run_nodes(e);
    if (st != KILN_OK && cg->cur == i) entry_reset(e, i);
    return st;
}
