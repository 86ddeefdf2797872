/* pg_list.c - lists and bounded counts of tasks selected by a
 * sitq_list_filter, on a reader connection. The statement is composed per
 * call from fixed pieces (every value a parameter), because the conditions
 * combine freely; the status is written as a literal stored state so that
 * the planner can use that state's partial index. Not prepared: a list is
 * not on a hot path. */
#include "pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The WHERE clause of a filter; its parameters go into p in order. */
typedef struct pg_where {
    char sql[768];
    size_t len;
} pg_where;

/* Append " WHERE cond" or " AND cond", cond a format with at most one %d
 * for the next parameter's number. */
static void add(pg_where *w, pg_params *p, const char *cond) {
    char c[160];
    snprintf(c, sizeof c, cond, p->n + 1);
    int k =
        snprintf(w->sql + w->len, sizeof w->sql - w->len, "%s%s", w->len ? " AND " : " WHERE ", c);
    if (k > 0) w->len += (size_t)k;
}

static void add_i64(pg_where *w, pg_params *p, const char *cond, int64_t v) {
    add(w, p, cond);
    pg_p_i64(p, v);
}

/* The stored-state condition of a public status; queued and scheduled tell
 * ready from future with now. */
static void add_status(pg_where *w, pg_params *p, int status, sitq_time_us now) {
    switch (status) {
    case SITQ_QUEUED: add_i64(w, p, "state = 0 AND run_at_us <= $%d::bigint", now); break;
    case SITQ_SCHEDULED: add_i64(w, p, "state = 0 AND run_at_us > $%d::bigint", now); break;
    case SITQ_WAITING: add(w, p, "state = 1"); break;
    case SITQ_RUNNING: add(w, p, "state = 3"); break;
    case SITQ_SUCCEEDED: add(w, p, "state = 4"); break;
    case SITQ_FAILED: add(w, p, "state IN (5, 6) AND state = 5"); break;
    case SITQ_CANCELLED: add(w, p, "state IN (5, 6) AND state = 6"); break;
    default: break; /* SITQ_STATUS_ANY */
    }
}

static void where_build(pg_where *w, pg_params *p, const sitq_list_filter *f, sitq_time_us now) {
    memset(w, 0, sizeof *w);
    pg_p_init(p);
    if (f->queue) {
        add(w, p, "queue = $%d::text");
        pg_p_text(p, f->queue);
    }
    add_status(w, p, f->status, now);
    if (f->function) {
        add(w, p, "function = $%d::text");
        pg_p_text(p, f->function);
    }
    if (f->worker_id) {
        add(w, p, "worker_id = $%d::text");
        pg_p_text(p, f->worker_id);
    }
    /* A task's time: its finish once finished, else its enqueue. */
    if (f->since_us)
        add_i64(w, p, "COALESCE(finished_at_us, enqueued_at_us) >= $%d::bigint", f->since_us);
    if (f->until_us)
        add_i64(w, p, "COALESCE(finished_at_us, enqueued_at_us) < $%d::bigint", f->until_us);
    if (f->before_id) add_i64(w, p, "id < $%d::bigint", f->before_id);
    if (f->after_id) add_i64(w, p, "id > $%d::bigint", f->after_id);
}

/* Run head + w + t with p on a reader connection; *out the result (rows),
 * with the connection kept in *conn for further reads (release it after). */
static sitq_code run(pg_backend *b, const char *head, const pg_where *w, const char *t,
                     const pg_params *p, pg_conn **conn, PGresult **out, sitq_error *err) {
    *out = NULL;
    size_t n = strlen(head) + w->len + strlen(t) + 1;
    char *text = malloc(n);
    if (!text) return sitq__fail(err, SITQ_ENOMEM, "out of memory listing tasks");
    snprintf(text, n, "%s%s%s", head, w->sql, t);
    char *sql = pg_schema_text(b, text);
    free(text);
    if (!sql) return sitq__fail(err, SITQ_ENOMEM, "out of memory listing tasks");
    pg_conn *c = pg_read_acquire(b, err);
    if (!c) {
        free(sql);
        return pg_code(err);
    }
    PGresult *r = pg_q_params_p(c, sql, p);
    free(sql);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        sitq_code rc = pg_fail(c, r, err, "listing tasks");
        PQclear(r);
        pg_read_release(b, c);
        return rc;
    }
    *conn = c;
    *out = r;
    return SITQ_OK;
}

sitq_code pg_list(sitq_backend *base, const sitq_list_filter *f, sitq_result ***items,
                  size_t *count, sitq_error *err) {
    pg_backend *b = (pg_backend *)base;
    sitq_time_us now = sitq_now_us();
    pg_where w;
    pg_params p;
    where_build(&w, &p, f, now);
    char tail[96];
    snprintf(tail, sizeof tail, " ORDER BY id%s LIMIT $%d::bigint OFFSET $%d::bigint",
             f->oldest_first ? "" : " DESC", p.n + 1, p.n + 2);
    pg_p_i64(&p, (int64_t)f->limit);
    pg_p_i64(&p, (int64_t)f->offset);
    pg_conn *c = NULL;
    PGresult *r = NULL;
    sitq_code rc = run(b, pg_list_select, &w, tail, &p, &c, &r, err);
    if (rc) return rc;
    size_t n = (size_t)PQntuples(r);
    sitq_result **arr = n ? calloc(n, sizeof(sitq_result *)) : NULL;
    if (n && !arr) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory listing tasks");
    for (size_t i = 0; !rc && i < n; i++) {
        if (!(arr[i] = pg_row_to_result(r, (int)i, now)))
            rc = sitq__fail(err, SITQ_ENOMEM, "out of memory listing tasks");
        else arr[i]->value_len = (size_t)pg_i64(r, (int)i, 20);
    }
    PQclear(r);
    for (size_t i = 0; !rc && i < n; i++) rc = pg_read_deps(c, arr[i], err);
    pg_read_release(b, c);
    if (rc) {
        sitq_result_list_free(arr, n);
        return rc;
    }
    *items = arr;
    *count = n;
    return sitq__ok(err);
}

sitq_code pg_count(sitq_backend *base, const sitq_list_filter *f, int64_t cap, int64_t *count,
                   sitq_error *err) {
    pg_backend *b = (pg_backend *)base;
    pg_where w;
    pg_params p;
    where_build(&w, &p, f, sitq_now_us());
    char tail[48];
    snprintf(tail, sizeof tail, " LIMIT $%d::bigint) n", p.n + 1);
    pg_p_i64(&p, cap);
    pg_conn *c = NULL;
    PGresult *r = NULL;
    sitq_code rc =
        run(b, "SELECT count(*)::bigint FROM (SELECT 1 FROM @.tasks", &w, tail, &p, &c, &r, err);
    if (rc) return rc;
    *count = pg_i64(r, 0, 0);
    PQclear(r);
    pg_read_release(b, c);
    return sitq__ok(err);
}
