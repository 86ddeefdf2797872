/*
 * test_dash_graph.c - the dashboard's drawing of a pipeline: the layered
 * layout (layers by longest path, order within a layer by the barycenter
 * sweeps) of a diamond, a chain, a fan-out/fan-in of 50 and two crossing
 * edges; and the bounded walk over a made-up store (both ways from any
 * task, cut at the node and read bounds, tasks purged while walking, a
 * failed read).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dashboard/dash_graph.h"

/* ---- layout ---- */

static void test_layout_diamond(void **state) {
    (void)state;
    /* 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3 */
    dash_graph_edge e[] = {{0, 1}, {0, 2}, {1, 3}, {2, 3}};
    size_t layer[4], order[4];
    assert_int_equal(dash_graph_layout(4, e, 4, layer, order), 3);
    size_t want_layer[] = {0, 1, 1, 2}, want_order[] = {0, 0, 1, 0};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(layer[i], want_layer[i]);
        assert_int_equal(order[i], want_order[i]);
    }
}

static void test_layout_chain(void **state) {
    (void)state;
    dash_graph_edge e[9];
    size_t layer[10], order[10];
    /* Given in reverse, so that index order is not topological order. */
    for (size_t i = 0; i < 9; i++) e[i] = (dash_graph_edge){8 - i, 9 - i};
    assert_int_equal(dash_graph_layout(10, e, 9, layer, order), 10);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(layer[i], i);
        assert_int_equal(order[i], 0);
    }
}

static void test_layout_fan(void **state) {
    (void)state;
    /* 0 -> 1..50 -> 51, and a shortcut 0 -> 51 that must not pull 51 up. */
    dash_graph_edge e[101];
    size_t layer[52], order[52], k = 0;
    for (size_t i = 1; i <= 50; i++) {
        e[k++] = (dash_graph_edge){0, i};
        e[k++] = (dash_graph_edge){i, 51};
    }
    e[k++] = (dash_graph_edge){0, 51};
    assert_int_equal(dash_graph_layout(52, e, k, layer, order), 3);
    assert_int_equal(layer[0], 0);
    assert_int_equal(order[0], 0);
    for (size_t i = 1; i <= 50; i++) {
        assert_int_equal(layer[i], 1);
        assert_int_equal(order[i], i - 1);
    }
    assert_int_equal(layer[51], 2);
    assert_int_equal(order[51], 0);
}

/* Two roots whose dependents are listed the other way round: the sweep
 * swaps the dependents so that the edges do not cross. */
static void test_layout_uncross(void **state) {
    (void)state;
    /* 0 -> 3, 1 -> 2: in index order 2 would sit above 3 and cross. */
    dash_graph_edge e[] = {{0, 3}, {1, 2}};
    size_t layer[4], order[4];
    assert_int_equal(dash_graph_layout(4, e, 2, layer, order), 2);
    assert_int_equal(layer[2], 1);
    assert_int_equal(layer[3], 1);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[3], 0);
    assert_int_equal(order[2], 1);
}

/* Bad edges (self, out of range) are ignored; a cycle cannot hang it. */
static void test_layout_bad_edges(void **state) {
    (void)state;
    dash_graph_edge e[] = {{0, 0}, {0, 7}, {1, 2}, {2, 1}};
    size_t layer[3], order[3];
    assert_int_equal(dash_graph_layout(3, e, 4, layer, order), 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(layer[i], 0);
        assert_int_equal(order[i], (size_t)i);
    }
    assert_int_equal(dash_graph_layout(0, NULL, 0, NULL, NULL), 0);
}

/* ---- the walk over a made-up store ---- */

/* Tasks 1..n; edges (dependency id, dependent id); gone: a task purged;
 * fail: a task whose read fails. */
typedef struct store {
    size_t n;
    const sitq_task_id (*edges)[2];
    size_t n_edges;
    sitq_task_id gone, fail;
    size_t reads;
} store;

static int fake_task(void *arg, sitq_task_id id, char **function, sitq_status *status,
                     sitq_task_id **deps, size_t *n_deps) {
    store *s = arg;
    s->reads++;
    if (id == s->fail) return -1;
    if (id < 1 || (size_t)id > s->n || id == s->gone) return 1;
    char name[32];
    snprintf(name, sizeof name, "f%lld", (long long)id);
    *function = strdup(name);
    *status = id % 2 ? SITQ_SUCCEEDED : SITQ_FAILED;
    *deps = malloc(s->n_edges * sizeof **deps + 1);
    *n_deps = 0;
    for (size_t i = 0; i < s->n_edges; i++)
        if (s->edges[i][1] == id) (*deps)[(*n_deps)++] = s->edges[i][0];
    return 0;
}

static int fake_dependents(void *arg, sitq_task_id id, size_t limit, sitq_task_id **ids,
                           size_t *n) {
    store *s = arg;
    s->reads++;
    *ids = malloc(s->n_edges * sizeof **ids + 1);
    *n = 0;
    for (size_t i = 0; i < s->n_edges && *n < limit; i++) /* edges are sorted by dependent */
        if (s->edges[i][0] == id) (*ids)[(*n)++] = s->edges[i][1];
    return 0;
}

static int walk(store *s, sitq_task_id start, size_t max_nodes, size_t max_reads, dash_graph *g) {
    dash_graph_src src = {s, fake_task, fake_dependents};
    return dash_graph_walk(&src, start, max_nodes, max_reads, g);
}

static const dash_graph_node *node(const dash_graph *g, sitq_task_id id) {
    for (size_t i = 0; i < g->n; i++)
        if (g->nodes[i].id == id) return &g->nodes[i];
    fail_msg("task %lld is not in the graph", (long long)id);
    return NULL;
}

static const sitq_task_id diamond[][2] = {{1, 2}, {1, 3}, {2, 4}, {3, 4}};

/* From a middle task the walk finds the whole diamond, both ways. */
static void test_walk_diamond(void **state) {
    (void)state;
    store s = {4, diamond, 4, 0, 0, 0};
    dash_graph g;
    assert_int_equal(walk(&s, 2, 200, 400, &g), 0);
    assert_int_equal(g.n, 4);
    assert_int_equal(g.nodes[0].id, 2); /* the start task first */
    assert_int_equal(g.n_edges, 4);     /* each edge once, found from both ends */
    assert_int_equal(g.cut, 0);
    assert_int_equal(g.failed, 0);
    assert_int_equal(g.layers, 3);
    assert_int_equal(node(&g, 1)->layer, 0);
    assert_int_equal(node(&g, 2)->layer, 1);
    assert_int_equal(node(&g, 3)->layer, 1);
    assert_int_equal(node(&g, 4)->layer, 2);
    assert_int_equal(node(&g, 2)->order, 0); /* found before 3 */
    assert_int_equal(node(&g, 3)->order, 1);
    assert_string_equal(node(&g, 4)->function, "f4");
    assert_int_equal(node(&g, 4)->status, SITQ_FAILED);
    for (size_t i = 0; i < g.n_edges; i++) /* every edge goes one layer right */
        assert_int_equal(g.nodes[g.edges[i].to].layer, g.nodes[g.edges[i].from].layer + 1);
    assert_int_equal(s.reads, 8); /* two per task */
    dash_graph_free(&g);
}

/* A fan-out of 300 from task 1: the walk stops at 200 tasks and says so. */
static void test_walk_cut_nodes(void **state) {
    (void)state;
    sitq_task_id(*e)[2] = malloc(300 * sizeof *e);
    for (sitq_task_id i = 0; i < 300; i++) {
        e[i][0] = 1;
        e[i][1] = i + 2;
    }
    store s = {301, (const sitq_task_id(*)[2])e, 300, 0, 0, 0};
    dash_graph g;
    assert_int_equal(walk(&s, 1, DASH_GRAPH_NODES_MAX, DASH_GRAPH_READS_MAX, &g), 0);
    assert_int_equal(g.n, DASH_GRAPH_NODES_MAX);
    assert_int_equal(g.cut, 1);
    assert_int_equal(g.n_edges, DASH_GRAPH_NODES_MAX - 1);
    assert_int_equal(g.layers, 2);
    assert_true(s.reads <= DASH_GRAPH_READS_MAX);
    for (size_t i = 1; i < g.n; i++) {
        assert_int_equal(g.nodes[i].id, (sitq_task_id)i + 1); /* the lowest ids first */
        assert_int_equal(g.nodes[i].layer, 1);
        assert_int_equal(g.nodes[i].order, i - 1);
    }
    dash_graph_free(&g);
    free(e);
}

/* A chain walked with 5 reads: tasks 1, 2, 3 read (3's dependents not),
 * cut; an uncut walk of the chain from its end finds it all. */
static void test_walk_cut_reads(void **state) {
    (void)state;
    static const sitq_task_id chain[][2] = {{1, 2}, {2, 3}, {3, 4}, {4, 5}};
    store s = {5, chain, 4, 0, 0, 0};
    dash_graph g;
    assert_int_equal(walk(&s, 1, 200, 5, &g), 0);
    assert_int_equal(s.reads, 5);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.n_edges, 2);
    assert_int_equal(g.cut, 1);
    dash_graph_free(&g);
    s.reads = 0;
    assert_int_equal(walk(&s, 5, 200, 400, &g), 0);
    assert_int_equal(g.n, 5);
    assert_int_equal(g.cut, 0);
    for (sitq_task_id id = 1; id <= 5; id++) {
        assert_int_equal(node(&g, id)->layer, (size_t)id - 1);
        assert_int_equal(node(&g, id)->order, 0);
    }
    dash_graph_free(&g);
}

/* A task purged while walking is left out with its edges; a failed read
 * is reported; a start task that is gone gives no graph. */
static void test_walk_gone_and_failed(void **state) {
    (void)state;
    store s = {4, diamond, 4, 3, 0, 0};
    dash_graph g;
    assert_int_equal(walk(&s, 1, 200, 400, &g), 0);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.n_edges, 2); /* 1 -> 2 -> 4 */
    assert_int_equal(g.cut, 0);
    assert_int_equal(g.failed, 0);
    assert_int_equal(node(&g, 4)->layer, 2);
    dash_graph_free(&g);
    s.gone = 0;
    s.fail = 4;
    assert_int_equal(walk(&s, 1, 200, 400, &g), 0);
    assert_int_equal(g.failed, 1);
    assert_int_equal(g.n, 3);
    dash_graph_free(&g);
    s.fail = 0;
    assert_int_equal(walk(&s, 9, 200, 400, &g), 0);
    assert_int_equal(g.n, 0);
    assert_int_equal(g.n_edges, 0);
    assert_int_equal(g.layers, 0);
    dash_graph_free(&g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_diamond),       cmocka_unit_test(test_layout_chain),
        cmocka_unit_test(test_layout_fan),           cmocka_unit_test(test_layout_uncross),
        cmocka_unit_test(test_layout_bad_edges),     cmocka_unit_test(test_walk_diamond),
        cmocka_unit_test(test_walk_cut_nodes),       cmocka_unit_test(test_walk_cut_reads),
        cmocka_unit_test(test_walk_gone_and_failed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
