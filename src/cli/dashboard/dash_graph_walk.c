/*
 * dash_graph_walk.c - the pipeline around a task, walked breadth-first
 * both ways (each task's dependencies from its row, its dependents from
 * the edges' index) over the reads of a dash_graph_src, and laid out.
 *
 * Bounded: at most max_nodes tasks are found and max_reads reads made, so
 * that a page over a pipeline of a million tasks costs what one of a
 * hundred does; what was left out sets cut. A task is drawn only once its
 * own row was read (its function and status), and edges join drawn tasks
 * only. A source that reads many tasks at once is told each layer before
 * the walk reads it (layer_ahead), so that a layer costs one read of the
 * store. No I/O of its own: the unit test walks a made-up store.
 */
#include <stdlib.h>
#include <string.h>

#include "dash_graph.h"

/* The walk's state: nodes found (the first `done` of them read), the
 * edges between them, the reads left. */
typedef struct walk {
    const dash_graph_src *src;
    dash_graph_layer_fn layer; /* NULL: none */
    dash_graph *g;
    size_t max_nodes, reads_left, edges_cap;
    char *gone; /* 1: the node's task was purged while walking */
} walk;

/* The index of task id, added when new and there is room; (size_t)-1 when
 * it does not fit (the graph is cut). */
static size_t node_find_add(walk *w, sitq_task_id id) {
    dash_graph *g = w->g;
    for (size_t i = 0; i < g->n; i++)
        if (g->nodes[i].id == id) return i;
    if (g->n == w->max_nodes) {
        g->cut = 1;
        return (size_t)-1;
    }
    memset(&g->nodes[g->n], 0, sizeof g->nodes[g->n]);
    g->nodes[g->n].id = id;
    return g->n++;
}

static int edge_add(walk *w, size_t from, size_t to) {
    dash_graph *g = w->g;
    if (from == (size_t)-1 || to == (size_t)-1) return 0;
    if (g->n_edges == w->edges_cap) {
        size_t cap = w->edges_cap ? 2 * w->edges_cap : 64;
        dash_graph_edge *e = realloc(g->edges, cap * sizeof *e);
        if (!e) return -1;
        g->edges = e;
        w->edges_cap = cap;
    }
    g->edges[g->n_edges].from = from;
    g->edges[g->n_edges].to = to;
    g->n_edges++;
    return 0;
}

/* Read node k's row and its dependents, adding the tasks and edges found.
 * Returns 0, or -1 when out of memory. */
static int visit(walk *w, size_t k) {
    dash_graph_node *nd = &w->g->nodes[k];
    sitq_task_id *ids = NULL;
    size_t n = 0;
    int rc = w->src->task(w->src->arg, nd->id, &nd->function, &nd->status, &ids, &n);
    w->reads_left--;
    if (rc != 0) {
        w->gone[k] = 1;
        w->g->failed |= rc < 0;
        free(ids);
        return 0;
    }
    int bad = 0;
    for (size_t i = 0; i < n && !bad; i++) bad = edge_add(w, node_find_add(w, ids[i]), k);
    free(ids);
    ids = NULL;
    n = 0;
    if (bad) return -1;
    if (w->reads_left == 0) { /* its dependents are not known */
        w->g->cut = 1;
        return 0;
    }
    rc = w->src->dependents(w->src->arg, w->g->nodes[k].id, w->max_nodes + 1, &ids, &n);
    w->reads_left--;
    w->g->failed |= rc < 0;
    for (size_t i = 0; rc == 0 && i < n && !bad; i++)
        bad = edge_add(w, k, node_find_add(w, ids[i]));
    free(ids);
    return bad ? -1 : 0;
}

static int edge_cmp(const void *a, const void *b) {
    const dash_graph_edge *x = a, *y = b;
    if (x->from != y->from) return x->from < y->from ? -1 : 1;
    return (x->to > y->to) - (x->to < y->to);
}

/* Keep the edges whose ends are both kept (map: old index to new, or
 * (size_t)-1), renumbered, sorted and each once (an edge is found from
 * both of its ends). */
static void compact_edges(dash_graph *g, const size_t *map) {
    size_t m = 0;
    for (size_t i = 0; i < g->n_edges; i++) {
        size_t from = map[g->edges[i].from], to = map[g->edges[i].to];
        if (from == (size_t)-1 || to == (size_t)-1) continue;
        g->edges[m].from = from;
        g->edges[m].to = to;
        m++;
    }
    if (m > 1) qsort(g->edges, m, sizeof *g->edges, edge_cmp);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || edge_cmp(&g->edges[u - 1], &g->edges[i]) != 0) g->edges[u++] = g->edges[i];
    g->n_edges = u;
}

/* Keep the nodes read (the first `done`, not gone) and the edges between
 * them, and lay them out. Returns 0, or -1 when out of memory. */
static int compact(walk *w, size_t done) {
    dash_graph *g = w->g;
    size_t *map = malloc((g->n ? g->n : 1) * sizeof *map);
    if (!map) return -1;
    size_t kept = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (i < done && !w->gone[i]) {
            map[i] = kept;
            g->nodes[kept++] = g->nodes[i];
        } else {
            map[i] = (size_t)-1;
            free(g->nodes[i].function);
        }
    }
    compact_edges(g, map);
    g->n = kept;
    free(map);
    size_t *layer = malloc((kept ? kept : 1) * sizeof *layer);
    size_t *order = malloc((kept ? kept : 1) * sizeof *order);
    size_t layers =
        layer && order ? dash_graph_layout(kept, g->edges, g->n_edges, layer, order) : (size_t)-1;
    for (size_t i = 0; layers != (size_t)-1 && i < kept; i++) {
        g->nodes[i].layer = layer[i];
        g->nodes[i].order = order[i];
    }
    g->layers = layers == (size_t)-1 ? 0 : layers;
    free(layer);
    free(order);
    return layers == (size_t)-1 ? -1 : 0;
}

void dash_graph_free(dash_graph *g) {
    if (!g) return;
    for (size_t i = 0; g->nodes && i < g->n; i++) free(g->nodes[i].function);
    free(g->nodes);
    free(g->edges);
    memset(g, 0, sizeof *g);
}

/* Tell src the ids found and not read yet, nodes from..g->n (the next
 * layer of the breadth-first walk), at most SITQ_IDS_MAX of them, so that
 * the reads of that layer come from one read of the store (when it fails,
 * or memory is short, they go one by one). Returns the index up to which
 * the layer goes. */
static size_t layer_ahead(walk *w, size_t from) {
    dash_graph *g = w->g;
    size_t n = g->n - from;
    if (n > SITQ_IDS_MAX) n = SITQ_IDS_MAX;
    sitq_task_id *ids = malloc((n ? n : 1) * sizeof *ids);
    if (ids) {
        for (size_t i = 0; i < n; i++) ids[i] = g->nodes[from + i].id;
        (void)w->layer(w->src->arg, ids, n, w->max_nodes + 1);
    }
    free(ids);
    return from + n;
}

int dash_graph_walk(const dash_graph_src *src, sitq_task_id start, size_t max_nodes,
                    size_t max_reads, dash_graph *g) {
    return dash_graph_walk_layers(src, NULL, start, max_nodes, max_reads, g);
}

int dash_graph_walk_layers(const dash_graph_src *src, dash_graph_layer_fn layer, sitq_task_id start,
                           size_t max_nodes, size_t max_reads, dash_graph *g) {
    memset(g, 0, sizeof *g);
    walk w = {src, layer, g, max_nodes ? max_nodes : 1, max_reads, 0, NULL};
    g->nodes = calloc(w.max_nodes, sizeof *g->nodes);
    w.gone = calloc(w.max_nodes, 1);
    int bad = !g->nodes || !w.gone;
    if (!bad) node_find_add(&w, start);
    size_t done = 0, told = 0;
    for (; !bad && done < g->n && w.reads_left > 0; done++) {
        if (layer && done >= told) told = layer_ahead(&w, done);
        bad = visit(&w, done) != 0;
    }
    if (done < g->n) g->cut = 1; /* found, never read */
    if (!bad) bad = compact(&w, done) != 0;
    free(w.gone);
    if (bad) {
        dash_graph_free(g);
        return -1;
    }
    return 0;
}
