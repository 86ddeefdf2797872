/*
 * dash_graph_read.c - the store reads of the pipeline walk
 * (dash_graph_walk.c), through the public API on the backend's reader
 * connections.
 *
 * The walk goes breadth-first and tells this source each layer before it
 * reads it, task by task: the layer's rows (function, status and
 * dependencies, never a payload or result) come from one sitq_get_tasks
 * and its dependents from one sitq_tasks_dependents, kept until the next
 * layer. A graph of 200 tasks thus costs a few round trips per layer
 * instead of three per task (on PostgreSQL, 100-190 ms before). A task not
 * in the layer told (or one whose layer read failed) is read alone.
 */
#include <stdlib.h>
#include <string.h>

#include "core/ids_sort.h"
#include "dash.h"
#include "dash_graph.h"

/* The layer read last: the ids asked (ascending, each once), the tasks
 * found (ascending ids) and the (dependency, dependent) pairs (sorted). */
typedef struct graph_cache {
    sitq_backend *backend;
    sitq_task_id *asked;
    size_t n_asked;
    sitq_result **rows;
    size_t n_rows;
    sitq_task_id *pairs;
    size_t n_pairs;
} graph_cache;

static void cache_clear(graph_cache *k) {
    free(k->asked);
    sitq_result_list_free(k->rows, k->n_rows);
    free(k->pairs);
    sitq_backend *b = k->backend;
    memset(k, 0, sizeof *k);
    k->backend = b;
}

static int cmp_id(const void *a, const void *b) {
    sitq_task_id x = *(const sitq_task_id *)a, y = *(const sitq_task_id *)b;
    return (x > y) - (x < y);
}

static int cmp_row(const void *key, const void *row) {
    sitq_task_id x = *(const sitq_task_id *)key, y = (*(sitq_result *const *)row)->id;
    return (x > y) - (x < y);
}

/* 1 when id was in the layer read last. */
static int cache_has(const graph_cache *k, sitq_task_id id) {
    return k->asked && bsearch(&id, k->asked, k->n_asked, sizeof id, cmp_id) != NULL;
}

static int src_layer(void *arg, const sitq_task_id *ids, size_t n, size_t limit) {
    graph_cache *k = arg;
    cache_clear(k);
    if (sitq__ids_sorted(ids, n, &k->asked, &k->n_asked) != 0) return -1;
    if (sitq_get_tasks(k->backend, ids, n, &k->rows, &k->n_rows, NULL) != SITQ_OK ||
        sitq_tasks_dependents(k->backend, ids, n, limit, &k->pairs, &k->n_pairs, NULL) != SITQ_OK) {
        cache_clear(k);
        return -1;
    }
    return 0;
}

/* Move t's function and dependencies to the caller's pointers. */
static void take_task(sitq_result *t, char **function, sitq_status *status, sitq_task_id **deps,
                      size_t *n_deps) {
    *function = t->function;
    *status = t->status;
    *deps = t->depends_on;
    *n_deps = t->n_depends_on;
    t->function = NULL; /* moved to the caller */
    t->depends_on = NULL;
    t->n_depends_on = 0;
}

/* Task id read alone: a one-id range of sitq_list_tasks. */
static int read_task(sitq_backend *b, sitq_task_id id, char **function, sitq_status *status,
                     sitq_task_id **deps, size_t *n_deps) {
    sitq_list_filter f;
    sitq_list_filter_init(&f);
    f.after_id = id - 1;
    f.before_id = id < INT64_MAX ? id + 1 : 0; /* 0: no bound (id + 1 would overflow) */
    f.limit = 1;
    sitq_result **items = NULL;
    size_t n = 0;
    if (sitq_list_tasks(b, &f, &items, &n, NULL) != SITQ_OK) return -1;
    if (n == 1) take_task(items[0], function, status, deps, n_deps);
    sitq_result_list_free(items, n);
    return n == 0 ? 1 : 0;
}

static int src_task(void *arg, sitq_task_id id, char **function, sitq_status *status,
                    sitq_task_id **deps, size_t *n_deps) {
    graph_cache *k = arg;
    if (!cache_has(k, id)) return read_task(k->backend, id, function, status, deps, n_deps);
    /* No row read for this layer (every id gone): nothing to search. */
    sitq_result **row =
        k->n_rows ? bsearch(&id, k->rows, k->n_rows, sizeof(sitq_result *), cmp_row) : NULL;
    if (row == NULL) return 1; /* gone: purged */
    take_task(*row, function, status, deps, n_deps);
    return 0;
}

static int src_dependents(void *arg, sitq_task_id id, size_t limit, sitq_task_id **ids, size_t *n) {
    graph_cache *k = arg;
    if (!cache_has(k, id))
        return sitq_task_dependents(k->backend, id, limit, ids, n, NULL) == SITQ_OK ? 0 : -1;
    *ids = NULL;
    *n = 0;
    size_t lo = 0, hi = k->n_pairs; /* the first pair of id */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (k->pairs[2 * mid] < id) lo = mid + 1;
        else hi = mid;
    }
    size_t end = lo;
    while (end < k->n_pairs && k->pairs[2 * end] == id && end - lo < limit) end++;
    if (end == lo) return 0;
    *ids = malloc((end - lo) * sizeof **ids);
    if (*ids == NULL) return -1;
    for (size_t i = lo; i < end; i++) (*ids)[i - lo] = k->pairs[2 * i + 1];
    *n = end - lo;
    return 0;
}

int dash_graph_read(sitq_backend *backend, sitq_task_id id, dash_graph *g) {
    graph_cache k;
    memset(&k, 0, sizeof k);
    k.backend = backend;
    dash_graph_src src = {&k, src_task, src_dependents};
    int rc =
        dash_graph_walk_layers(&src, src_layer, id, DASH_GRAPH_NODES_MAX, DASH_GRAPH_READS_MAX, g);
    cache_clear(&k);
    return rc;
}
