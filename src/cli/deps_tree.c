/*
 * deps_tree.c - `sitq show ID --deps`: read a task and its dependencies,
 * recursively, and say for each node why it is blocked: "waiting on K of N"
 * (the dependencies not yet succeeded, or for a finalizer not yet finished)
 * or the dependency whose failure failed it ("dependency 17 failed").
 */
#include "deps_tree.h"
#include "core/grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "term_escape.h"

/* A tree is read task by task (one read each) and nested as deep as the
 * chain: a chain of 50,000 tasks overflowed the stack. So it stops at
 * DEPS_TREE_MAX_DEPTH levels and DEPS_TREE_MAX_NODES tasks read; a node
 * whose dependencies were not read says how many
 * ("dependencies_not_shown"). */
#define DEPS_TREE_MAX_DEPTH 100
#define DEPS_TREE_MAX_NODES 2000

/* What the walk has read: the ids already shown, so that a diamond is
 * listed once, and the first error. */
typedef struct walk {
    sitq_task_id *v;
    size_t n, cap;
    sitq_code code;
    sitq_error *err;
} walk;

static int seen_add(walk *s, sitq_task_id id) {
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == id) return 1;
    if (sitq__reserve((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v) != 0) return 0;
    s->v[s->n++] = id;
    return 0;
}

static int is_done(const char *status, int finalizer) {
    if (strcmp(status, "succeeded") == 0) return 1;
    return finalizer && (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0);
}

/* The reason a node is blocked, from its status, error and children. */
static json_t *blocked_reason(const sitq_result *r, const json_t *children) {
    char buf[96];
    if (r->status == SITQ_WAITING) {
        size_t n = json_array_size(children), open = 0;
        for (size_t i = 0; i < n; i++) {
            const char *st =
                json_string_value(json_object_get(json_array_get(children, i), "status"));
            if (st == NULL || !is_done(st, r->finalizer)) open++;
        }
        snprintf(buf, sizeof buf, "waiting on %zu of %zu", open, n);
        return json_string(buf);
    }
    if ((r->status == SITQ_FAILED || r->status == SITQ_CANCELLED) && r->error != NULL &&
        strncmp(r->error, "dependency ", 11) == 0)
        return json_string(r->error);
    return json_null();
}

static json_t *node(sitq_queue *q, sitq_task_id id, int depth, walk *w);

/* The children of r, in declared order, as many as the tree's budget of
 * tasks leaves room for (*shown says how many); NULL with w->code set when
 * one cannot be read (a purged one is listed as such). */
static json_t *children_of(sitq_queue *q, const sitq_result *r, int depth, walk *w, size_t *shown) {
    json_t *arr = json_array();
    if (arr == NULL) w->code = SITQ_ENOMEM;
    *shown = 0;
    for (size_t i = 0; arr != NULL && i < r->n_depends_on && w->n < DEPS_TREE_MAX_NODES;
         i++, (*shown)++) {
        json_t *c = node(q, r->depends_on[i], depth + 1, w);
        if (c == NULL && w->code == SITQ_ENOTFOUND) {
            w->code = SITQ_OK;
            c = json_pack("{s:I, s:s}", "id", (json_int_t)r->depends_on[i], "status", "purged");
            if (c == NULL) w->code = SITQ_ENOMEM;
        }
        if (c != NULL && json_array_append_new(arr, c) != 0) w->code = SITQ_ENOMEM;
        if (w->code != SITQ_OK) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *node(sitq_queue *q, sitq_task_id id, int depth, walk *w) {
    sitq_result *r = NULL;
    w->code = sitq_get_result(q, id, &r, w->err);
    if (w->code != SITQ_OK) return NULL;
    json_t *o = NULL;
    size_t n_deps = r->n_depends_on, shown = 0;
    if (seen_add(w, id)) {
        o = json_pack("{s:I, s:s, s:b}", "id", (json_int_t)id, "status",
                      sitq_status_name(r->status), "shown_above", 1);
    } else {
        json_t *kids =
            depth < DEPS_TREE_MAX_DEPTH ? children_of(q, r, depth, w, &shown) : json_array();
        int read_deps = shown == n_deps;
        if (kids != NULL) {
            /* Unread dependencies leave "blocked" to what the task itself says. */
            json_t *why = read_deps ? blocked_reason(r, kids) : json_null();
            if (!read_deps && r->status == SITQ_WAITING) {
                json_decref(why);
                why = json_string("waiting on its dependencies");
            }
            o = json_pack("{s:I, s:s, s:s, s:b, s:o, s:s?, s:o}", "id", (json_int_t)id, "function",
                          r->function, "status", sitq_status_name(r->status), "finalizer",
                          r->finalizer, "blocked", why, "error", r->error, "dependencies", kids);
            if (o != NULL && !read_deps &&
                json_object_set_new(o, "dependencies_not_shown",
                                    json_integer((json_int_t)(n_deps - shown))) != 0) {
                json_decref(o);
                o = NULL;
            }
        }
    }
    sitq_result_free(r);
    if (o == NULL && w->code == SITQ_OK) w->code = SITQ_ENOMEM;
    return o;
}

json_t *deps_tree_json(sitq_queue *q, sitq_task_id id, sitq_code *code, sitq_error *err) {
    walk w = {NULL, 0, 0, SITQ_OK, err};
    json_t *t = node(q, id, 0, &w);
    free(w.v);
    *code = t ? SITQ_OK : w.code;
    if (t == NULL && w.code == SITQ_ENOMEM)
        snprintf(err->message, sizeof err->message, "out of memory building the tree");
    return t;
}

static void print_node(const json_t *n, int depth) {
    const char *status = json_string_value(json_object_get(n, "status"));
    const char *fn = json_string_value(json_object_get(n, "function"));
    const char *why = json_string_value(json_object_get(n, "blocked"));
    const char *error = json_string_value(json_object_get(n, "error"));
    char *safe_fn = term_escape_str(fn, 0);
    char *safe_why = term_escape_str(why ? why : error, 0);
    printf("%*s%lld %s", depth * 2, "", (long long)json_integer_value(json_object_get(n, "id")),
           status ? status : "?");
    if (safe_fn) printf(" %s", safe_fn);
    if (json_is_true(json_object_get(n, "finalizer"))) printf(" (finalizer)");
    if (json_is_true(json_object_get(n, "shown_above"))) printf(" (shown above)");
    if (safe_why) printf(": %s", safe_why);
    json_int_t hidden = json_integer_value(json_object_get(n, "dependencies_not_shown"));
    if (hidden > 0)
        printf(" (%s%lld %s not shown: the tree stops at %d levels and %d tasks; "
               "show --json lists the ids of every dependency, and show %s--deps the tree "
               "below one)",
               json_array_size(json_object_get(n, "dependencies")) ? "the next " : "",
               (long long)hidden, hidden == 1 ? "dependency" : "dependencies", DEPS_TREE_MAX_DEPTH,
               DEPS_TREE_MAX_NODES, depth > 0 ? "of this task or of one " : "ID ");
    putchar('\n');
    free(safe_fn);
    free(safe_why);
    const json_t *kids = json_object_get(n, "dependencies");
    for (size_t i = 0; i < json_array_size(kids); i++)
        print_node(json_array_get(kids, i), depth + 1);
}

void deps_tree_print(const json_t *tree) { print_node(tree, 0); }
