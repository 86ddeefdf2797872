/*
 * dash_graph_layout.c - the layered layout of a pipeline's graph, a pure
 * function (no I/O, no globals: pages are served on many threads at once).
 *
 * Layers: the longest path from a root, found in topological order
 * (Kahn), so that every edge points from a lower layer to a higher one.
 * Order within a layer: index order (the walk's breadth-first order), then
 * the barycenter heuristic, down (each node at the mean place of its
 * dependencies) and up (of its dependents), twice; a node with no
 * neighbour on the side looked at keeps its place as its key, and ties keep
 * their order (insertion sort, stable; a layer holds at most a few hundred
 * nodes), so that the result is deterministic and testable.
 */
#include <stdlib.h>

#include "dash_graph.h"

/** Down and up sweeps made. */
#define SWEEPS 2

/* Adjacency in compressed rows: the neighbours of v are to[start[v] ..
 * start[v + 1]). */
typedef struct adj {
    size_t *start, *to;
} adj;

static int edge_ok(size_t n, const dash_graph_edge *e) {
    return e->from < n && e->to < n && e->from != e->to;
}

/* Out-edges (reverse 0: from -> to) or in-edges (reverse 1) of n nodes. */
static int adj_build(size_t n, const dash_graph_edge *e, size_t ne, int reverse, adj *a) {
    a->start = calloc(n + 1, sizeof *a->start);
    a->to = malloc((ne ? ne : 1) * sizeof *a->to);
    if (!a->start || !a->to) return -1;
    for (size_t i = 0; i < ne; i++)
        if (edge_ok(n, &e[i])) a->start[(reverse ? e[i].to : e[i].from) + 1]++;
    for (size_t v = 0; v < n; v++) a->start[v + 1] += a->start[v];
    size_t *fill = calloc(n + 1, sizeof *fill);
    if (!fill) return -1;
    for (size_t i = 0; i < ne; i++) {
        if (!edge_ok(n, &e[i])) continue;
        size_t src = reverse ? e[i].to : e[i].from, dst = reverse ? e[i].from : e[i].to;
        a->to[a->start[src] + fill[src]++] = dst;
    }
    free(fill);
    return 0;
}

static void adj_free(adj *a) {
    free(a->start);
    free(a->to);
}

/* Longest-path layers in Kahn's topological order; returns the number of
 * layers, or (size_t)-1 when out of memory. */
static size_t layer_nodes(size_t n, const adj *out, const adj *in, size_t *layer) {
    size_t *indeg = malloc(n * sizeof *indeg), *queue = malloc(n * sizeof *queue);
    if (!indeg || !queue) {
        free(indeg);
        free(queue);
        return (size_t)-1;
    }
    size_t head = 0, tail = 0, layers = n ? 1 : 0;
    for (size_t v = 0; v < n; v++) {
        layer[v] = 0;
        indeg[v] = in->start[v + 1] - in->start[v];
        if (indeg[v] == 0) queue[tail++] = v;
    }
    while (head < tail) {
        size_t v = queue[head++];
        if (layer[v] + 1 > layers) layers = layer[v] + 1;
        for (size_t k = out->start[v]; k < out->start[v + 1]; k++) {
            size_t w = out->to[k];
            if (layer[w] < layer[v] + 1) layer[w] = layer[v] + 1;
            if (--indeg[w] == 0) queue[tail++] = w;
        }
    }
    for (size_t v = 0; v < n; v++)
        if (indeg[v] != 0) layer[v] = 0; /* on a cycle: never released */
    free(indeg);
    free(queue);
    return layers;
}

/* The mean place of v's neighbours in nb, or v's own place without any. */
static double barycenter(size_t v, const adj *nb, const size_t *order) {
    size_t k0 = nb->start[v], k1 = nb->start[v + 1];
    if (k0 == k1) return (double)order[v];
    double sum = 0;
    for (size_t k = k0; k < k1; k++) sum += (double)order[nb->to[k]];
    return sum / (double)(k1 - k0);
}

/* Sort one layer's nodes (seq[0..m), in their current order) by their
 * barycenters over nb, stably, and renumber their places. */
static void order_layer(size_t *seq, size_t m, const adj *nb, size_t *order, double *key) {
    for (size_t i = 0; i < m; i++) key[seq[i]] = barycenter(seq[i], nb, order);
    for (size_t i = 1; i < m; i++) {
        size_t v = seq[i], j = i;
        for (; j > 0 && key[seq[j - 1]] > key[v]; j--) seq[j] = seq[j - 1];
        seq[j] = v;
    }
    for (size_t i = 0; i < m; i++) order[seq[i]] = i;
}

/* Group the nodes by layer, in index order: seq holds layer l's nodes at
 * seq[first[l] .. first[l + 1]), and order[v] is v's place in its layer.
 * first[l] serves as layer l's cursor while filling, then is shifted back. */
static void group_layers(size_t n, size_t layers, const size_t *layer, size_t *first, size_t *seq,
                         size_t *order) {
    for (size_t l = 0; l <= layers; l++) first[l] = 0;
    for (size_t v = 0; v < n; v++) first[layer[v] + 1]++;
    for (size_t l = 0; l < layers; l++) first[l + 1] += first[l];
    for (size_t v = 0; v < n; v++) seq[first[layer[v]]++] = v;
    for (size_t l = layers; l > 0; l--) first[l] = first[l - 1];
    first[0] = 0;
    for (size_t l = 0; l < layers; l++)
        for (size_t i = first[l]; i < first[l + 1]; i++) order[seq[i]] = i - first[l];
}

static int order_nodes(size_t n, size_t layers, const size_t *layer, const adj *out, const adj *in,
                       size_t *order) {
    size_t *first = malloc((layers + 1) * sizeof *first), *seq = calloc(n, sizeof *seq);
    double *key = malloc(n * sizeof *key);
    if (!first || !seq || !key) {
        free(first);
        free(seq);
        free(key);
        return -1;
    }
    group_layers(n, layers, layer, first, seq, order);
    for (int s = 0; s < SWEEPS; s++) {
        for (size_t l = 1; l < layers; l++)
            order_layer(seq + first[l], first[l + 1] - first[l], in, order, key);
        for (size_t l = layers - 1; l-- > 0;)
            order_layer(seq + first[l], first[l + 1] - first[l], out, order, key);
    }
    free(first);
    free(seq);
    free(key);
    return 0;
}

size_t dash_graph_layout(size_t n, const dash_graph_edge *edges, size_t n_edges, size_t *layer,
                         size_t *order) {
    if (n == 0) return 0;
    adj out = {NULL, NULL}, in = {NULL, NULL};
    size_t layers = (size_t)-1;
    if (adj_build(n, edges, n_edges, 0, &out) == 0 && adj_build(n, edges, n_edges, 1, &in) == 0)
        layers = layer_nodes(n, &out, &in, layer);
    if (layers != (size_t)-1 && order_nodes(n, layers, layer, &out, &in, order) != 0)
        layers = (size_t)-1;
    adj_free(&out);
    adj_free(&in);
    return layers;
}
