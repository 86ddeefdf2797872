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

/* Ids already shown, so that a diamond is listed once. */
typedef struct seen_ids {
    sitq_task_id *v;
    size_t n, cap;
} seen_ids;

static int seen_add(seen_ids *s, sitq_task_id id) {
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

static json_t *node(sitq_queue *q, sitq_task_id id, seen_ids *seen, sitq_code *code,
                    sitq_error *err);

/* The children of r, in declared order; NULL when out of memory. */
static json_t *children_of(sitq_queue *q, const sitq_result *r, seen_ids *seen) {
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < r->n_depends_on; i++) {
        sitq_code code = SITQ_OK;
        sitq_error err;
        json_t *c = node(q, r->depends_on[i], seen, &code, &err);
        if (c == NULL && code == SITQ_ENOTFOUND)
            c = json_pack("{s:I, s:s}", "id", (json_int_t)r->depends_on[i], "status", "purged");
        if (c == NULL || json_array_append_new(arr, c) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *node(sitq_queue *q, sitq_task_id id, seen_ids *seen, sitq_code *code,
                    sitq_error *err) {
    sitq_result *r = NULL;
    *code = sitq_get_result(q, id, &r, err);
    if (*code != SITQ_OK) return NULL;
    json_t *o = NULL;
    if (seen_add(seen, id)) {
        o = json_pack("{s:I, s:s, s:b}", "id", (json_int_t)id, "status",
                      sitq_status_name(r->status), "shown_above", 1);
    } else {
        json_t *kids = children_of(q, r, seen);
        if (kids != NULL)
            o = json_pack("{s:I, s:s, s:s, s:b, s:o, s:s?, s:o}", "id", (json_int_t)id, "function",
                          r->function, "status", sitq_status_name(r->status), "finalizer",
                          r->finalizer, "blocked", blocked_reason(r, kids), "error", r->error,
                          "dependencies", kids);
    }
    sitq_result_free(r);
    if (o == NULL) *code = SITQ_ENOMEM;
    return o;
}

json_t *deps_tree_json(sitq_queue *q, sitq_task_id id, sitq_code *code, sitq_error *err) {
    seen_ids seen = {NULL, 0, 0};
    json_t *t = node(q, id, &seen, code, err);
    free(seen.v);
    if (t == NULL && *code == SITQ_ENOMEM)
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
    putchar('\n');
    free(safe_fn);
    free(safe_why);
    const json_t *kids = json_object_get(n, "dependencies");
    for (size_t i = 0; i < json_array_size(kids); i++)
        print_node(json_array_get(kids, i), depth + 1);
}

void deps_tree_print(const json_t *tree) { print_node(tree, 0); }
