/* pg_read.c - reads: one task, its payload and counts (lists: pg_list.c), on a reader
 * connection (autocommit: each statement sees the latest commits and holds
 * no snapshot afterwards, so readers never pin old row versions). */
#include "pg.h"

#include <stdlib.h>
#include <string.h>

/* Build a sitq_result from a row of RESULT_COLS (pg_sql.c). */
sitq_result *pg_row_to_result(const PGresult *r, int i, sitq_time_us now) {
    sitq_result *t = sitq__result_alloc();
    if (!t) return NULL;
    t->id = pg_i64(r, i, 0);
    t->queue = pg_text(r, i, 1);
    t->function = pg_text(r, i, 2);
    int state = (int)pg_i64(r, i, 3);
    t->priority = (int32_t)pg_i64(r, i, 4);
    t->attempts = (int32_t)pg_i64(r, i, 5);
    t->max_retries = (int32_t)pg_i64(r, i, 6);
    t->value = pg_bytes(r, i, 7, &t->value_len);
    t->error = pg_text(r, i, 8);
    t->traceback = pg_text(r, i, 9);
    t->worker_id = pg_text(r, i, 10);
    t->unique_key = pg_text(r, i, 11);
    t->progress = pg_isnull(r, i, 12) ? -1 : pg_f64(r, i, 12);
    t->cancel_requested = (int)pg_i64(r, i, 13);
    t->timeout_s = (double)pg_i64(r, i, 14) / 1e6;
    t->payload_len = (size_t)pg_i64(r, i, 15);
    t->enqueued_at_us = pg_i64(r, i, 16);
    t->eta_us = pg_i64(r, i, 17);
    t->started_at_us = pg_i64(r, i, 18);
    t->finished_at_us = pg_i64(r, i, 19);
    t->status = sitq__public_status(state, t->eta_us, now);
    if (!t->queue || !t->function || (!pg_isnull(r, i, 7) && !t->value)) {
        sitq_result_free(t);
        return NULL;
    }
    return t;
}

sitq_code pg_read_deps(pg_conn *c, sitq_result *t, sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, t->id);
    PGresult *r = pg_run(c, PG_GET_DEPS, &p, err, "reading dependencies");
    if (!r) return pg_code(err);
    int n = PQntuples(r);
    sitq_code rc = SITQ_OK;
    if (n > 0) {
        t->depends_on = malloc((size_t)n * sizeof *t->depends_on);
        if (!t->depends_on) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory reading dependencies");
        for (int i = 0; !rc && i < n; i++) {
            t->depends_on[t->n_depends_on++] = pg_i64(r, i, 0);
            if (pg_i64(r, i, 1)) t->finalizer = 1;
        }
    }
    PQclear(r);
    return rc;
}

sitq_code pg_read_task(pg_conn *c, pg_stmt_id stmt, const pg_params *p, const char *queue,
                       sitq_task_id id, int extra_col, int64_t *extra, sitq_result **out,
                       sitq_error *err) {
    *out = NULL;
    PGresult *r = pg_run(c, stmt, p, err, "reading a task");
    if (!r) return pg_code(err);
    sitq_code rc = SITQ_OK;
    if (PQntuples(r) == 0)
        rc = sitq__fail(err, SITQ_ENOTFOUND, "task %lld does not exist in queue '%s'",
                        (long long)id, queue);
    else if (!(*out = pg_row_to_result(r, 0, sitq_now_us())))
        rc = sitq__fail(err, SITQ_ENOMEM, "out of memory reading task %lld", (long long)id);
    else if (extra) *extra = pg_i64(r, 0, extra_col);
    PQclear(r);
    if (!rc) rc = pg_read_deps(c, *out, err);
    if (rc) {
        sitq_result_free(*out);
        *out = NULL;
    }
    return rc;
}

sitq_code pg_get_conn(pg_conn *c, const char *queue, sitq_task_id id, sitq_result **out,
                      sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, id);
    pg_p_text(&p, queue);
    return pg_read_task(c, PG_GET, &p, queue, id, 0, NULL, out, err);
}

sitq_code pg_get(sitq_backend *base, const char *queue, sitq_task_id id, sitq_result **out,
                 sitq_error *err) {
    pg_backend *b = (pg_backend *)base;
    pg_conn *c = pg_read_acquire(b, err);
    if (!c) return pg_code(err);
    sitq_code rc = pg_get_conn(c, queue, id, out, err);
    pg_read_release(b, c);
    return rc ? rc : sitq__ok(err);
}

sitq_code pg_dep_count(sitq_backend *base, const char *queue, sitq_task_id id, size_t *count,
                       sitq_error *err) {
    (void)queue; /* a dependency is always of its dependent's queue */
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, id);
    PGresult *r = pg_read_run((pg_backend *)base, PG_DEP_COUNT, &p, err, "counting dependencies");
    if (!r) return pg_code(err);
    *count = (size_t)pg_i64(r, 0, 0);
    PQclear(r);
    return sitq__ok(err);
}

sitq_code pg_dep_result(sitq_backend *base, const char *queue, sitq_task_id id, size_t index,
                        sitq_result **out, sitq_error *err) {
    *out = NULL;
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, id);
    pg_p_i64(&p, (int64_t)index);
    pg_p_text(&p, queue);
    PGresult *r = pg_read_run((pg_backend *)base, PG_DEP_RESULT, &p, err, "reading a dependency");
    sitq_code rc = r ? SITQ_OK : pg_code(err);
    if (!rc && PQntuples(r) == 0)
        rc = sitq__fail(err, SITQ_ENOTFOUND,
                        "dependency %zu of task %lld is gone (purged after it finished)", index,
                        (long long)id);
    else if (!rc && !(*out = pg_row_to_result(r, 0, sitq_now_us())))
        rc = sitq__fail(err, SITQ_ENOMEM, "out of memory reading a dependency");
    PQclear(r);
    return rc ? rc : sitq__ok(err);
}

/* Column of PG_DEP_RESULTS holding the edge's position, after the result's. */
#define DEP_RESULTS_POSITION_COL 20

/* Statement sid (PG_DEP_RESULTS, PG_DEP_VALUES) over the positions
 * [first, first + n) of task id's dependencies, on a reader: its rows
 * (the caller PQclear's them), or NULL with err set. */
static PGresult *dep_range(sitq_backend *base, pg_stmt_id sid, const char *queue, sitq_task_id id,
                           size_t first, size_t n, const char *what, sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, id);
    pg_p_i64(&p, (int64_t)first);
    pg_p_i64(&p, (int64_t)(first + n - 1));
    pg_p_text(&p, queue);
    return pg_read_run((pg_backend *)base, sid, &p, err, what);
}

sitq_code pg_dep_results(sitq_backend *base, const char *queue, sitq_task_id id, size_t first,
                         size_t n, sitq_result **out, sitq_error *err) {
    PGresult *r = dep_range(base, PG_DEP_RESULTS, queue, id, first, n, "reading dependencies", err);
    if (!r) return pg_code(err);
    sitq_code rc = SITQ_OK;
    sitq_time_us now = sitq_now_us();
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        size_t at = (size_t)pg_i64(r, i, DEP_RESULTS_POSITION_COL) - first;
        if (at < n && !out[at] && !(out[at] = pg_row_to_result(r, i, now)))
            rc = sitq__fail(err, SITQ_ENOMEM, "out of memory reading dependencies");
    }
    PQclear(r);
    if (rc)
        for (size_t i = 0; i < n; i++) {
            sitq_result_free(out[i]);
            out[i] = NULL;
        }
    return rc ? rc : sitq__ok(err);
}

sitq_code pg_dep_values(sitq_backend *base, const char *queue, sitq_task_id id, size_t first,
                        size_t n, sitq_dependency_value *out, sitq_error *err) {
    PGresult *r =
        dep_range(base, PG_DEP_VALUES, queue, id, first, n, "reading dependency values", err);
    if (!r) return pg_code(err);
    sitq_code rc = SITQ_OK;
    sitq_time_us now = sitq_now_us();
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        size_t at = (size_t)pg_i64(r, i, 0) - first;
        if (at >= n || out[at].id) continue;
        sitq_dependency_value *v = &out[at];
        v->id = pg_i64(r, i, 1);
        v->status = sitq__public_status((int)pg_i64(r, i, 2), pg_i64(r, i, 3), now);
        v->value = pg_bytes(r, i, 4, &v->value_len);
        v->error = pg_text(r, i, 5);
        if ((!pg_isnull(r, i, 4) && !v->value) || (!pg_isnull(r, i, 5) && !v->error))
            rc = sitq__fail(err, SITQ_ENOMEM, "out of memory reading dependency values");
    }
    PQclear(r);
    if (rc) sitq_dependency_values_clear(out, n);
    return rc ? rc : sitq__ok(err);
}

sitq_code pg_payload(sitq_backend *base, const char *queue, sitq_task_id id, void **out,
                     size_t *len, sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, id);
    pg_p_text(&p, queue);
    PGresult *r = pg_read_run((pg_backend *)base, PG_PAYLOAD, &p, err, "reading a payload");
    if (!r) return pg_code(err);
    sitq_code rc = SITQ_OK;
    if (PQntuples(r) == 0)
        rc = sitq__fail(err, SITQ_ENOTFOUND, "task %lld does not exist in queue '%s'",
                        (long long)id, queue);
    else if (!pg_isnull(r, 0, 0) && PQgetlength(r, 0, 0) > 0) {
        *out = pg_bytes(r, 0, 0, len);
        if (!*out) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory copying a payload");
    }
    PQclear(r);
    return rc ? rc : sitq__ok(err);
}

sitq_code pg_stats(sitq_backend *base, const char *queue, sitq_stats *out, sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, queue);
    pg_p_i64(&p, sitq_now_us());
    PGresult *r = pg_read_run((pg_backend *)base, PG_STATS, &p, err, "counting tasks");
    if (!r) return pg_code(err);
    for (int i = 0; i < PQntuples(r); i++) {
        int state = (int)pg_i64(r, i, 0);
        int status = state == SITQ__QUEUED && pg_i64(r, i, 1) ? SITQ_SCHEDULED : state;
        int64_t n = pg_i64(r, i, 2);
        if (status >= 0 && status < SITQ_STATUS_COUNT) out->count[status] += n;
        out->total += n;
    }
    PQclear(r);
    return sitq__ok(err);
}

/* Rows are (public status, entries read); a status may have several rows
 * (one per priority, one per counter shard), which the core adds up and
 * caps. */
sitq_code pg_stats_bounded(sitq_backend *base, const char *queue, int64_t cap, sitq_stats *out,
                           sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, queue);
    pg_p_i64(&p, sitq_now_us());
    pg_p_i64(&p, cap + 1);
    PGresult *r = pg_read_run((pg_backend *)base, PG_STATS_BOUNDED, &p, err, "counting tasks");
    if (!r) return pg_code(err);
    for (int i = 0; i < PQntuples(r); i++) {
        int status = (int)pg_i64(r, i, 0);
        int64_t n = pg_i64(r, i, 1);
        if (status >= 0 && status < SITQ_STATUS_COUNT) out->count[status] += n;
    }
    PQclear(r);
    return sitq__ok(err);
}

sitq_code pg_oldest_ready(sitq_backend *base, const char *queue, sitq_time_us *run_at_us,
                          sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, queue);
    *run_at_us = 0;
    PGresult *r =
        pg_read_run((pg_backend *)base, PG_OLDEST_READY, &p, err, "reading the oldest queued task");
    if (!r) return pg_code(err);
    if (PQntuples(r) > 0 && !pg_isnull(r, 0, 0)) *run_at_us = pg_i64(r, 0, 0);
    PQclear(r);
    return sitq__ok(err);
}

sitq_code pg_health(sitq_backend *base, sitq_store_health *out, sitq_error *err) {
    pg_backend *b = (pg_backend *)base;
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, b->schema);
    PGresult *r = pg_read_run(b, PG_HEALTH, &p, err, "measuring the store");
    if (!r) return pg_code(err);
    if (!pg_isnull(r, 0, 0)) out->live_tuples = pg_i64(r, 0, 0);
    if (!pg_isnull(r, 0, 1)) out->dead_tuples = pg_i64(r, 0, 1);
    out->oldest_xact_age_s = pg_f64(r, 0, 2);
    if (!pg_isnull(r, 0, 3)) out->store_bytes = pg_i64(r, 0, 3);
    if (!pg_isnull(r, 0, 4)) out->wal_bytes = pg_i64(r, 0, 4);
    int64_t tasks = pg_isnull(r, 0, 5) ? 0 : pg_i64(r, 0, 5);
    if (out->wal_bytes >= 0 && tasks > 0)
        out->wal_bytes_per_task = (double)out->wal_bytes / (double)tasks;
    PQclear(r);
    return sitq__ok(err);
}
