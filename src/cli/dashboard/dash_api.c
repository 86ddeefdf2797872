/*
 * dash_api.c - the JSON twins of the dashboard's pages under /api/: the
 * queues with their counts, a page of tasks (the same filters and keyset
 * paging as /tasks, with the id to pass as `before` for the next page), one
 * task (the fields of `sitq show --json`, its dependents, and its result
 * only up to API_VALUE_MAX bytes, its value_repr always) and the workers. Tasks are the objects of
 * `sitq list --json`, a shell task's command decoded by the same code.
 * Bounded as the pages are; written with jansson in ASCII.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"
#include "db.h"
#include "output.h"
#include "shell_payload.h"

/** Largest result an /api/tasks/ID reply carries, in bytes. */
#define API_VALUE_MAX (64 * 1024)
/** Largest shell payload decoded into "command", in bytes (as the task page). */
#define API_PAYLOAD_MAX (1024 * 1024)

/* t as `sitq list --json` / `sitq show --json` print it: a shell task's
 * command decoded by the command line's own decoder (cli_load_command),
 * read from t's queue; NULL when out of memory. */
static json_t *task_object(const dash_ctx *c, const sitq_result *t) {
    char **argv = NULL;
    int argc = 0;
    unsigned opts = 0;
    sitq_queue *q = NULL;
    if (t->function != NULL && strcmp(t->function, SHELL_FUNCTION) == 0 && t->queue != NULL &&
        t->payload_len <= API_PAYLOAD_MAX &&
        sitq_queue_open(c->backend, t->queue, &q, NULL) == SITQ_OK)
        cli_load_command(q, t, &argv, &argc, &opts);
    sitq_queue_close(q);
    json_t *o = result_to_json(t, argv, argc, opts);
    free(argv);
    return o;
}

void dash_reply_json(dash_reply *r, json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (s == NULL) {
        dash_error(r, 500, "out of memory");
        return;
    }
    r->type = "application/json";
    dash_put(&r->body, s);
    dash_put(&r->body, "\n");
    free(s);
}

/* The throughput of a queue (dash_rate.c): per interval, the attempts that
 * succeeded, failed with no retry left and failed with one, at the end of
 * the interval (UTC seconds); the sums; whether the history is still
 * shorter than its window (since the dashboard started). */
static json_t *throughput_json(const dash_ctx *c, const char *name) {
    dash_series *s = malloc(sizeof *s);
    if (s == NULL) return NULL;
    dash_rate_get(c->rate, name, s);
    json_t *pts = json_array();
    for (size_t i = 0; pts && i + 1 < s->n; i++) {
        const dash_sample *a = &s->s[i], *b = &s->s[i + 1];
        json_t *p =
            json_pack("[f,I,I,I]", (double)b->t_us / 1e6, (json_int_t)(b->succeeded - a->succeeded),
                      (json_int_t)(b->failed - a->failed), (json_int_t)(b->retried - a->retried));
        if (p == NULL || json_array_append_new(pts, p) != 0) {
            json_decref(pts);
            pts = NULL;
        }
    }
    int64_t ok = 0, bad = 0, peak = 0;
    dash_series_sums(s, &ok, &bad, &peak);
    json_t *j = pts ? json_pack("{s:f,s:o,s:b,s:I,s:I,s:o}", "interval_s", s->interval_s, "since",
                                s->n ? json_real((double)s->s[0].t_us / 1e6) : json_null(),
                                "since_start", s->n < DASH_RATE_POINTS, "succeeded", (json_int_t)ok,
                                "failed", (json_int_t)bad, "points", pts)
                    : NULL;
    free(s);
    return j;
}

/* How exact the figures of j are: "count_cap", "lower_bound" (the statuses
 * whose figure is the cap: more tasks than it) and "exact_age_s" (the
 * statuses whose figure is a background count, and its age). -1 when out
 * of memory. */
static int counts_json(json_t *j, const dash_qcounts *k) {
    json_t *lower = json_array();
    json_t *aged = json_object();
    int bad = !lower || !aged;
    for (int s = 0; s < SITQ_STATUS_COUNT && !bad; s++) {
        if (k->bound & (1u << s))
            bad = json_array_append_new(lower, json_string(sitq_status_name(s))) != 0;
        if (!bad && (k->exact & (1u << s)))
            bad = json_object_set_new(aged, sitq_status_name(s), json_real(k->age_s)) != 0;
    }
    if (bad) {
        json_decref(lower);
        json_decref(aged);
        return -1;
    }
    bad = json_object_set_new(j, "count_cap", json_integer((json_int_t)k->cap)) != 0;
    bad |= json_object_set_new(j, "lower_bound", lower) != 0;
    bad |= json_object_set_new(j, "exact_age_s", aged) != 0;
    return bad ? -1 : 0;
}

/* The queue object of name, or NULL after an error reply. */
static json_t *queue_json(const dash_ctx *c, const char *name, dash_reply *r) {
    sitq_error err;
    memset(&err, 0, sizeof err);
    dash_qcounts k;
    sitq_code code = dash_counts_queue(c, name, &k, &err);
    if (code != SITQ_OK) {
        dash_api_error(r, "counting a queue", code, &err);
        return NULL;
    }
    json_t *j = stats_to_json(name, &k.st, NULL);
    if (j) json_object_set_new(j, "paused", json_boolean(k.paused));
    if (j && counts_json(j, &k) != 0) {
        json_decref(j);
        j = NULL;
    }
    json_t *t = j ? throughput_json(c, name) : NULL;
    if (j && (t == NULL || json_object_set_new(j, "throughput", t) != 0)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

void dash_api_queues(const dash_ctx *c, dash_reply *r) {
    char **names = NULL;
    size_t n = 0;
    if (dash_queue_names(c, r, &names, &n) != 0) return;
    json_t *arr = json_array();
    int bad = arr == NULL;
    for (size_t i = 0; i < n && i < DASH_QUEUES_MAX && !bad; i++) {
        json_t *q = queue_json(c, names[i], r);
        if (q == NULL) {
            sitq_queue_names_free(names, n);
            json_decref(arr);
            if (r->status == 200) dash_error(r, 500, "out of memory");
            return;
        }
        bad = json_array_append_new(arr, q) != 0;
    }
    sitq_queue_names_free(names, n);
    if (bad) {
        json_decref(arr);
        arr = NULL;
    }
    dash_reply_json(r, arr);
}

void dash_api_tasks(const dash_ctx *c, const dash_query *q, dash_reply *r) {
    dash_list l;
    if (dash_list_read(c, q, &l, r) != 0) return;
    json_t *arr = json_array();
    int bad = arr == NULL;
    for (size_t i = 0; i < l.n_shown && !bad; i++)
        bad = json_array_append_new(arr, task_object(c, l.items[i])) != 0;
    json_t *o = json_object();
    bad |= o == NULL || json_object_set_new(o, "tasks", arr) != 0;
    arr = NULL; /* owned by o now, or freed by the failed set */
    if (!bad)
        bad = json_object_set_new(o, "next_before",
                                  l.next_before ? json_integer(l.next_before) : json_null()) != 0;
    if (!bad) bad = json_object_set_new(o, "cut", json_boolean(l.cut)) != 0;
    dash_list_free(&l);
    if (bad) {
        json_decref(o);
        o = NULL;
    }
    dash_reply_json(r, o);
}

/* The object of task t (whose result has value_size bytes, of which t
 * holds at most API_VALUE_MAX) with its dependents; NULL when out of
 * memory. */
static json_t *task_json(const dash_ctx *c, const sitq_result *t, size_t value_size) {
    sitq_result shown = *t; /* the result's bytes only when all were read */
    if (value_size > API_VALUE_MAX) shown.value = NULL;
    shown.value_len = value_size;
    json_t *o = task_object(c, &shown);
    if (o == NULL) return NULL;
    json_object_set_new(o, "value_omitted", json_boolean(shown.value == NULL && t->value));
    /* the repr leads the record: the head read holds it, also when the bytes are omitted */
    json_object_set_new(o, "value_repr", value_repr_json(t));
    sitq_task_id *ids = NULL;
    size_t n = 0;
    json_t *deps = json_array();
    if (sitq_task_dependents(c->backend, t->id, DASH_PAGE_MAX, &ids, &n, NULL) != SITQ_OK) {
        json_decref(deps);
        deps = json_null();
    }
    for (size_t i = 0; deps && i < n; i++) json_array_append_new(deps, json_integer(ids[i]));
    free(ids);
    json_object_set_new(o, "dependents", deps);
    return o;
}

void dash_api_task(const dash_ctx *c, const char *id_text, dash_reply *r) {
    sitq_queue *q = NULL;
    sitq_result *t = NULL;
    size_t value_size = 0;
    if (dash_task_read(c, id_text, API_VALUE_MAX, r, &q, &t, &value_size) != 0) return;
    dash_reply_json(r, task_json(c, t, value_size));
    sitq_result_free(t);
    sitq_queue_close(q);
}

static json_t *names_json(char *const *names, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) json_array_append_new(a, json_string(names[i]));
    return a;
}

static json_t *worker_json(const sitq_worker_info *w) {
    char hb[CLI_TIME_BUF];
    fmt_time_iso(w->heartbeat_at_us, 1, hb, sizeof hb);
    json_t *running = json_array();
    for (size_t i = 0; running && i < w->n_running; i++)
        json_array_append_new(running, json_integer(w->running[i]));
    return json_pack("{s:s?, s:s, s:s?, s:I, s:o?, s:i, s:s, s:I, s:I, s:I, s:o?}", "id", w->id,
                     "state", sitq_worker_state_name(w->state), "host", w->host, "pid",
                     (json_int_t)w->pid, "queues", names_json(w->queues, w->n_queues),
                     "concurrency", w->concurrency, "heartbeat_at", hb, "succeeded",
                     (json_int_t)w->succeeded, "failed", (json_int_t)w->failed, "lost",
                     (json_int_t)w->lost, "running", running);
}

void dash_api_workers(const dash_ctx *c, dash_reply *r) {
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_worker_info *ws = NULL;
    size_t n = 0;
    sitq_code code = sitq_workers_list(c->backend, 0, &ws, &n, &err);
    if (code != SITQ_OK) {
        dash_api_error(r, "listing the workers", code, &err);
        return;
    }
    json_t *arr = json_array();
    int bad = arr == NULL;
    for (size_t i = 0; i < n && !bad; i++) bad = json_array_append_new(arr, worker_json(&ws[i]));
    sitq_workers_free(ws, n);
    if (bad) {
        json_decref(arr);
        arr = NULL;
    }
    dash_reply_json(r, arr);
}
