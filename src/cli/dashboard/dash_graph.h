/*
 * dash_graph.h - the pipeline around a task, as the task page draws it:
 * a bounded breadth-first walk of its dependencies and dependents
 * (dash_graph_walk.c, over two read callbacks so that it is tested without
 * a store), a layered layout (dash_graph_layout.c, a pure function) and
 * its drawing as inline SVG and JSON (dash_graph.c).
 *
 * Why layers: a pipeline is a DAG whose edges all point from a dependency
 * to its dependent, so placing each task in the layer of its longest path
 * from a root makes every edge point the same way (left to right), and a
 * barycenter pass per direction orders each layer so that few edges cross.
 */
#ifndef SITQ_CLI_DASH_GRAPH_H
#define SITQ_CLI_DASH_GRAPH_H

#include <stddef.h>

#include "sitq.h"

/** Most tasks a drawn graph holds; past them the walk stops ("cut"). */
#define DASH_GRAPH_NODES_MAX 200
/** Most reads one walk makes of its source (two per task: its row, its
 *  dependents; with a layer callback they are answered a layer at once). */
#define DASH_GRAPH_READS_MAX (2 * DASH_GRAPH_NODES_MAX)

/** An edge between two nodes (indices): from is the dependency, to the
 *  task that depends on it. */
typedef struct dash_graph_edge {
    size_t from, to;
} dash_graph_edge;

/** One task of the graph. */
typedef struct dash_graph_node {
    sitq_task_id id;
    char *function; /**< owned */
    sitq_status status;
    size_t layer; /**< longest path from a root (0: depends on no node) */
    size_t order; /**< place in its layer, 0 first */
} dash_graph_node;

/** A walked graph: the start task is nodes[0]. */
typedef struct dash_graph {
    dash_graph_node *nodes;
    size_t n;
    dash_graph_edge *edges; /**< each once, sorted by (from, to) */
    size_t n_edges;
    size_t layers; /**< 1 + the highest layer (0 when n is 0) */
    int cut;       /**< 1: the pipeline has more tasks than were walked */
    int failed;    /**< 1: a read failed; the graph is what was read before */
} dash_graph;

/** The reads a walk makes; each returns 0, 1 (task id is gone: purged) or
 *  -1 (the read failed). */
typedef struct dash_graph_src {
    void *arg;
    /** Task id's function (*function malloc'd, the caller's), status and
     *  dependencies (*deps malloc'd, the caller's; NULL when none). */
    int (*task)(void *arg, sitq_task_id id, char **function, sitq_status *status,
                sitq_task_id **deps, size_t *n_deps);
    /** At most limit dependents of id (*ids malloc'd, the caller's). */
    int (*dependents)(void *arg, sitq_task_id id, size_t limit, sitq_task_id **ids, size_t *n);
} dash_graph_src;

/**
 * Walk the pipeline of task start breadth-first, both ways, over src: at
 * most max_nodes tasks and max_reads reads; g->cut is set when tasks were
 * left out. Every walked task is laid out (dash_graph_layout). The start
 * task gone gives an empty graph. Returns 0 (g filled, free it with
 * dash_graph_free), or -1 when out of memory (g empty).
 */
int dash_graph_walk(const dash_graph_src *src, sitq_task_id start, size_t max_nodes,
                    size_t max_reads, dash_graph *g);

/** Told the n ids of the next layer before the walk reads them one by one
 *  with src's task and dependents (at most limit dependents each), so that
 *  a source can read them all at once; 0, or -1 (that layer's reads then
 *  go one by one). */
typedef int (*dash_graph_layer_fn)(void *arg, const sitq_task_id *ids, size_t n, size_t limit);

/** dash_graph_walk that calls layer (with src->arg; NULL: never) before
 *  each layer of the walk. */
int dash_graph_walk_layers(const dash_graph_src *src, dash_graph_layer_fn layer, sitq_task_id start,
                           size_t max_nodes, size_t max_reads, dash_graph *g);
void dash_graph_free(dash_graph *g);

/**
 * dash_graph_walk of task id's pipeline in backend's store (thread-safe as
 * the backend is), each layer read at once (sitq_get_tasks,
 * sitq_tasks_dependents; dash_graph_read.c). Returns as dash_graph_walk.
 */
int dash_graph_read(sitq_backend *backend, sitq_task_id id, dash_graph *g);

/**
 * Lay out n nodes joined by edges (from before to): layer[i] the length
 * of the longest path from a node without incoming edges to node i (nodes
 * on a cycle, which a pipeline cannot have, get layer 0), order[i] node
 * i's place in its layer: index order first, then two sweeps of the
 * barycenter heuristic (down by the places of its dependencies, up by
 * those of its dependents), ties kept in their order. Pure; returns the
 * number of layers, or (size_t)-1 when out of memory.
 */
size_t dash_graph_layout(size_t n, const dash_graph_edge *edges, size_t n_edges, size_t *layer,
                         size_t *order);

#endif
