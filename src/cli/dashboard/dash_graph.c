/*
 * dash_graph.c - the pipeline around a task on its page, drawn as inline
 * SVG written on the server (no script: the Content-Security-Policy
 * forbids them), and its JSON twin /api/tasks/ID/graph.
 *
 * The walk (dash_graph_walk.c) reads the store through the public API, a
 * layer of the walk at a time (dash_graph_read.c). Layers run
 * left to right, arrows from a dependency to its dependent; each task is a
 * link to its page, its status written as text as well as its colour
 * (classes of the built-in style sheet: inline styles are forbidden too).
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"
#include "dash_graph.h"

/* Geometry of the drawing, in pixels. */
#define NODE_W 168
#define NODE_H 40
#define GAP_X  56
#define GAP_Y  14
#define PAD    8
/** Bytes of a function name written in a node (the full name is its title;
 *  a longer one shows its last part, name_label). */
#define NAME_SHOWN 22

/* Walk the pipeline of task id; 0 or -1 (out of memory). */
static int graph_of(const dash_ctx *c, sitq_task_id id, dash_graph *g) {
    return dash_graph_read(c->backend, id, g);
}

static unsigned node_x(const dash_graph_node *nd) {
    return PAD + (unsigned)nd->layer * (NODE_W + GAP_X);
}

static unsigned node_y(const dash_graph_node *nd) {
    return PAD + (unsigned)nd->order * (NODE_H + GAP_Y);
}

/* An edge from f to t. Between neighbouring layers a straight line; one
 * that skips layers would cross the boxes of the layers between (same
 * rows), so it runs in the gaps instead: out into the column gap, along
 * the row gap above its source's row, and down or up into its target. */
static void svg_edge(dash_buf *b, const dash_graph_node *f, const dash_graph_node *t) {
    unsigned x1 = node_x(f) + NODE_W, y1 = node_y(f) + NODE_H / 2;
    unsigned x2 = node_x(t) - 2, y2 = node_y(t) + NODE_H / 2;
    if (t->layer <= f->layer + 1) {
        dash_printf(b,
                    "<line class=\"ge\" x1=\"%u\" y1=\"%u\" x2=\"%u\" y2=\"%u\" "
                    "marker-end=\"url(#arrow)\"/>\n",
                    x1, y1, x2, y2);
        return;
    }
    unsigned gap_y = node_y(f) - GAP_Y / 2; /* the row gap above f (PAD above row 0) */
    dash_printf(b,
                "<polyline class=\"ge\" fill=\"none\" points=\"%u,%u %u,%u %u,%u %u,%u %u,%u\" "
                "marker-end=\"url(#arrow)\"/>\n",
                x1, y1, x1 + GAP_X / 2, gap_y, x2 - GAP_X / 2, gap_y, x2 - GAP_X / 4, y2, x2, y2);
}

static void svg_edges(dash_buf *b, const dash_graph *g) {
    for (size_t i = 0; i < g->n_edges; i++)
        svg_edge(b, &g->nodes[g->edges[i].from], &g->nodes[g->edges[i].to]);
}

/* The part of function name fn a node shows: all of it when it fits, else
 * what follows its last '.' or ':' (a Python task's function, not the
 * module path every node of a pipeline shares). */
static const char *name_label(const char *fn) {
    if (strlen(fn) <= NAME_SHOWN) return fn;
    const char *dot = strrchr(fn, '.'), *colon = strrchr(fn, ':');
    const char *sep = dot > colon ? dot : colon;
    return sep && sep[1] ? sep + 1 : fn;
}

static void svg_node(dash_buf *b, const dash_graph_node *nd, int current) {
    const char *st = sitq_status_name(nd->status);
    const char *fn = nd->function ? nd->function : "";
    const char *label = name_label(fn);
    size_t len = strlen(label), shown = dash_utf8_cut(label, len, NAME_SHOWN);
    unsigned x = node_x(nd), y = node_y(nd);
    dash_printf(b, "<a href=\"/tasks/%" PRId64 "\"><g class=\"gn st-%s%s\"><title>", nd->id, st,
                current ? " cur" : "");
    dash_esc(b, fn);
    dash_printf(b, " (task %" PRId64 ", %s)</title>", nd->id, st);
    dash_printf(b, "<rect x=\"%u\" y=\"%u\" width=\"%d\" height=\"%d\" rx=\"4\"/>", x, y, NODE_W,
                NODE_H);
    dash_printf(b, "<text x=\"%u\" y=\"%u\">", x + 6, y + 16);
    if (label != fn) dash_put(b, "...");
    dash_escn(b, label, shown);
    if (shown < len) dash_put(b, "...");
    dash_printf(b, "</text><text class=\"gs\" x=\"%u\" y=\"%u\">%" PRId64 " %s</text></g></a>\n",
                x + 6, y + 33, nd->id, st);
}

/* The SVG of g, the current task first among its nodes. */
static void svg_graph(dash_buf *b, const dash_graph *g) {
    size_t rows = 1;
    for (size_t i = 0; i < g->n; i++)
        if (g->nodes[i].order + 1 > rows) rows = g->nodes[i].order + 1;
    unsigned w = 2 * PAD + (unsigned)g->layers * (NODE_W + GAP_X) - GAP_X;
    unsigned h = 2 * PAD + (unsigned)rows * (NODE_H + GAP_Y) - GAP_Y;
    dash_printf(b,
                "<div class=\"graph\"><svg id=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" "
                "width=\"%u\" height=\"%u\" viewBox=\"0 0 %u %u\" role=\"img\" "
                "aria-label=\"pipeline of %zu tasks\">\n"
                "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
                "markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\">"
                "<path d=\"M0,0L10,5L0,10z\"/></marker></defs>\n",
                w, h, w, h, g->n);
    svg_edges(b, g);
    for (size_t i = 0; i < g->n; i++) svg_node(b, &g->nodes[i], i == 0);
    dash_put(b, "</svg></div>\n");
}

void dash_graph_section(const dash_ctx *c, sitq_task_id id, dash_buf *b) {
    dash_graph g;
    if (graph_of(c, id, &g) != 0) {
        dash_put(b, "<h2>Pipeline</h2><p class=\"err\">out of memory drawing the graph</p>\n");
        return;
    }
    if (g.n > 1) {
        dash_put(b, "<h2>Pipeline</h2>\n");
        if (g.cut) dash_printf(b, "<p id=\"graph-cut\">graph cut at %zu tasks</p>\n", g.n);
        svg_graph(b, &g);
    }
    if (g.failed) dash_put(b, "<p class=\"err\">part of the pipeline cannot be read</p>\n");
    dash_graph_free(&g);
}

static json_t *graph_json(const dash_graph *g) {
    json_t *nodes = json_array(), *edges = json_array();
    for (size_t i = 0; nodes && i < g->n; i++) {
        const dash_graph_node *nd = &g->nodes[i];
        json_array_append_new(
            nodes, json_pack("{s:I, s:s?, s:s, s:I, s:I}", "id", (json_int_t)nd->id, "function",
                             nd->function, "status", sitq_status_name(nd->status), "layer",
                             (json_int_t)nd->layer, "order", (json_int_t)nd->order));
    }
    for (size_t i = 0; edges && i < g->n_edges; i++)
        json_array_append_new(edges, json_pack("{s:I, s:I}", "from",
                                               (json_int_t)g->nodes[g->edges[i].from].id, "to",
                                               (json_int_t)g->nodes[g->edges[i].to].id));
    return json_pack("{s:o?, s:o?, s:b, s:I}", "nodes", nodes, "edges", edges, "cut", g->cut,
                     "nodes_max", (json_int_t)DASH_GRAPH_NODES_MAX);
}

void dash_api_graph(const dash_ctx *c, const char *id_text, dash_reply *r) {
    sitq_task_id id = 0;
    if (dash_parse_id(id_text, &id) != 0) {
        dash_error(r, 404, "'%s' is not a task id (a positive integer)", id_text);
        return;
    }
    dash_graph g;
    if (graph_of(c, id, &g) != 0) {
        dash_error(r, 500, "out of memory");
        return;
    }
    if (g.failed) dash_error(r, 503, "the pipeline of task %" PRId64 " cannot be read", id);
    else if (g.n == 0) dash_error(r, 404, "task %" PRId64 " does not exist", id);
    else dash_reply_json(r, graph_json(&g));
    dash_graph_free(&g);
}
