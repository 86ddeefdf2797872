/* sqlite_list.c - lists and bounded counts of tasks selected by a
 * sitq_list_filter. The statement is composed per call from fixed pieces
 * (every value is a bound parameter), because the conditions combine freely
 * and SQLite uses a partial index only when the WHERE clause spells out its
 * condition: the status is therefore written as a literal stored state. A
 * list is not on a hot path, so it is prepared each time. */
#include "sq.h"
#include "../../core/grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQ_WHERE_MAX 10

/* The WHERE clause of a filter and its parameters, in order. */
typedef struct sq_where {
    char sql[640];
    size_t len;
    int n;
    const char *text[SQ_WHERE_MAX]; /* text parameter, or NULL: i64 */
    int64_t i64[SQ_WHERE_MAX];
} sq_where;

/* Append " WHERE cond" or " AND cond"; cond holds at most one '?', bound
 * to text (when not NULL) or v. */
static void add(sq_where *w, const char *cond, const char *text, int64_t v, int has_param) {
    int k = snprintf(w->sql + w->len, sizeof w->sql - w->len, "%s%s", w->len ? " AND " : " WHERE ",
                     cond);
    if (k > 0) w->len += (size_t)k;
    if (!has_param) return;
    w->text[w->n] = text;
    w->i64[w->n] = v;
    w->n++;
}

/* The stored-state condition of a public status; queued and scheduled tell
 * ready from future with now. */
static void add_status(sq_where *w, int status, sitq_time_us now) {
    switch (status) {
    case SITQ_QUEUED: add(w, "state = 0 AND run_at_us <= ?", NULL, now, 1); break;
    case SITQ_SCHEDULED: add(w, "state = 0 AND run_at_us > ?", NULL, now, 1); break;
    case SITQ_WAITING: add(w, "state = 1", NULL, 0, 0); break;
    case SITQ_RUNNING: add(w, "state = 3", NULL, 0, 0); break;
    case SITQ_SUCCEEDED: add(w, "state = 4", NULL, 0, 0); break;
    case SITQ_FAILED: add(w, "state IN (5, 6) AND state = 5", NULL, 0, 0); break;
    case SITQ_CANCELLED: add(w, "state IN (5, 6) AND state = 6", NULL, 0, 0); break;
    default: break; /* SITQ_STATUS_ANY */
    }
}

static void where_build(sq_where *w, const sitq_list_filter *f, sitq_time_us now) {
    memset(w, 0, sizeof *w);
    if (f->queue) add(w, "queue = ?", f->queue, 0, 1);
    add_status(w, f->status, now);
    if (f->function) add(w, "function = ?", f->function, 0, 1);
    if (f->worker_id) add(w, "worker_id = ?", f->worker_id, 0, 1);
    /* A task's time: its finish once finished, else its enqueue. */
    if (f->since_us) add(w, "COALESCE(finished_at_us, enqueued_at_us) >= ?", NULL, f->since_us, 1);
    if (f->until_us) add(w, "COALESCE(finished_at_us, enqueued_at_us) < ?", NULL, f->until_us, 1);
    if (f->before_id) add(w, "id < ?", NULL, f->before_id, 1);
    if (f->after_id) add(w, "id > ?", NULL, f->after_id, 1);
}

/* Prepare head + w + tail on c into *out and bind w's parameters, then
 * `extra` more int64 values. */
static sitq_code prepare(sq_conn *c, const char *head, const sq_where *w, const char *tail,
                         const int64_t *extra, int n_extra, sqlite3_stmt **out, sitq_error *err) {
    *out = NULL;
    size_t n = strlen(head) + w->len + strlen(tail) + 1;
    char *sql = malloc(n);
    if (!sql) return sitq__fail(err, SITQ_ENOMEM, "out of memory listing tasks");
    snprintf(sql, n, "%s%s%s", head, w->sql, tail);
    sqlite3_stmt *st = NULL;
    int prc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    free(sql);
    if (prc != SQLITE_OK) return sq_fail(c, err, "preparing a list of tasks");
    int i = 0;
    for (; i < w->n; i++) {
        if (w->text[i]) sq_bind_text(st, i + 1, w->text[i]);
        else sqlite3_bind_int64(st, i + 1, w->i64[i]);
    }
    for (int k = 0; k < n_extra; k++) sqlite3_bind_int64(st, i + k + 1, extra[k]);
    *out = st;
    return SITQ_OK;
}

/* Step st into a growing array of results, each with its dependencies. */
static sitq_code collect(sq_conn *c, sqlite3_stmt *st, sitq_time_us now, sitq_result ***items,
                         size_t *count, sitq_error *err) {
    sitq_result **arr = NULL;
    size_t n = 0, cap = 0;
    sitq_code code = SITQ_OK;
    int rc;
    while (!code && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sitq__reserve((void **)&arr, &cap, n + 1, sizeof(sitq_result *)) != 0) {
            code = sitq__fail(err, SITQ_ENOMEM, "out of memory listing tasks");
            break;
        }
        if (!(arr[n] = sq_row_to_result(st, now))) {
            code = sitq__fail(err, SITQ_ENOMEM, "out of memory listing tasks");
            break;
        }
        arr[n]->value_len = (size_t)sqlite3_column_int64(st, 20);
        n++;
    }
    if (!code && rc != SQLITE_DONE) code = sq_fail(c, err, "listing tasks");
    for (size_t i = 0; !code && i < n; i++) code = sq_read_deps(c, arr[i], err);
    if (code) {
        sitq_result_list_free(arr, n);
        return code;
    }
    *items = arr;
    *count = n;
    return SITQ_OK;
}

sitq_code sq_list(sitq_backend *base, const sitq_list_filter *f, sitq_result ***items,
                  size_t *count, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sitq_time_us now = sitq_now_us();
    sq_where w;
    where_build(&w, f, now);
    const int64_t page[2] = {(int64_t)f->limit, (int64_t)f->offset};
    const char *tail =
        f->oldest_first ? " ORDER BY id LIMIT ? OFFSET ?" : " ORDER BY id DESC LIMIT ? OFFSET ?";
    sq_conn *c = sq_read_acquire(b);
    sqlite3_stmt *st = NULL;
    sitq_code code = prepare(c, sq_list_select, &w, tail, page, 2, &st, err);
    if (!code) code = collect(c, st, now, items, count, err);
    sqlite3_finalize(st);
    sq_read_release(b, c);
    return code ? code : sitq__ok(err);
}

sitq_code sq_count(sitq_backend *base, const sitq_list_filter *f, int64_t cap, int64_t *count,
                   sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sq_where w;
    where_build(&w, f, sitq_now_us());
    sq_conn *c = sq_read_acquire(b);
    sqlite3_stmt *st = NULL;
    sitq_code code = prepare(c, "SELECT count(*) FROM (SELECT 1 FROM sitq_tasks", &w, " LIMIT ?)",
                             &cap, 1, &st, err);
    if (!code && sqlite3_step(st) == SQLITE_ROW) *count = sqlite3_column_int64(st, 0);
    else if (!code) code = sq_fail(c, err, "counting tasks");
    sqlite3_finalize(st);
    sq_read_release(b, c);
    return code ? code : sitq__ok(err);
}
