/* sqlite_read.c - reads: one task, its payload and counts (lists:
 * sqlite_list.c). They use a
 * reader connection (WAL readers never block the writer). */
#include "sq.h"
#include "../../core/grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Build a sitq_result from a row of RESULT_COLS (sqlite_sql.c). */
sitq_result *sq_row_to_result(sqlite3_stmt *st, sitq_time_us now) {
    sitq_result *r = sitq__result_alloc();
    if (!r) return NULL;
    r->id = sqlite3_column_int64(st, 0);
    r->queue = sq_col_text(st, 1);
    r->function = sq_col_text(st, 2);
    int state = sqlite3_column_int(st, 3);
    r->priority = sqlite3_column_int(st, 4);
    r->attempts = sqlite3_column_int(st, 5);
    r->max_retries = sqlite3_column_int(st, 6);
    r->value = sq_col_blob(st, 7, &r->value_len);
    r->error = sq_col_text(st, 8);
    r->traceback = sq_col_text(st, 9);
    r->worker_id = sq_col_text(st, 10);
    r->unique_key = sq_col_text(st, 11);
    r->progress = sqlite3_column_type(st, 12) == SQLITE_NULL ? -1 : sqlite3_column_double(st, 12);
    r->cancel_requested = sqlite3_column_int(st, 13);
    r->timeout_s = (double)sqlite3_column_int64(st, 14) / 1e6;
    r->payload_len = (size_t)sqlite3_column_int64(st, 15);
    r->enqueued_at_us = sqlite3_column_int64(st, 16);
    r->eta_us = sqlite3_column_int64(st, 17);
    r->started_at_us = sqlite3_column_int64(st, 18);
    r->finished_at_us = sqlite3_column_int64(st, 19);
    r->status = sitq__public_status(state, r->eta_us, now);
    if (!r->queue || !r->function) {
        sitq_result_free(r);
        return NULL;
    }
    return r;
}

sitq_code sq_read_deps(sq_conn *c, sitq_result *r, sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, ST_GET_DEPS, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, r->id);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sitq__reserve((void **)&r->depends_on, &cap, r->n_depends_on + 1,
                          sizeof *r->depends_on) != 0) {
            sqlite3_reset(st);
            return sitq__fail(err, SITQ_ENOMEM, "out of memory reading dependencies");
        }
        r->depends_on[r->n_depends_on++] = sqlite3_column_int64(st, 0);
        if (sqlite3_column_int(st, 1)) r->finalizer = 1;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SITQ_OK : sq_fail(c, err, "reading dependencies");
}

sitq_code sq_get_conn(sq_conn *c, const char *queue, sitq_task_id id, sitq_result **out,
                      sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, ST_GET, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, id);
    sq_bind_text(st, 2, queue);
    int rc = sqlite3_step(st);
    sitq_code code = SITQ_OK;
    if (rc == SQLITE_ROW) {
        *out = sq_row_to_result(st, sitq_now_us());
        if (!*out)
            code = sitq__fail(err, SITQ_ENOMEM, "out of memory reading task %lld", (long long)id);
    } else if (rc == SQLITE_DONE) {
        code = sitq__fail(err, SITQ_ENOTFOUND, "task %lld does not exist in queue '%s'",
                          (long long)id, queue);
    } else {
        code = sq_fail(c, err, "reading a task");
    }
    sqlite3_reset(st);
    /* *out is set exactly when code is SITQ_OK (sitq__fail returns its code) */
    if (!code && *out) code = sq_read_deps(c, *out, err);
    if (code) {
        sitq_result_free(*out);
        *out = NULL;
    }
    return code;
}

sitq_code sq_get(sitq_backend *base, const char *queue, sitq_task_id id, sitq_result **out,
                 sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sq_conn *c = sq_read_acquire(b);
    sitq_code rc = sq_get_conn(c, queue, id, out, err);
    sq_read_release(b, c);
    return rc ? rc : sitq__ok(err);
}

sitq_code sq_dep_count(sitq_backend *base, const char *queue, sitq_task_id id, size_t *count,
                       sitq_error *err) {
    (void)queue; /* a dependency is always of its dependent's queue */
    sq_backend *b = (sq_backend *)base;
    sq_conn *c = sq_read_acquire(b);
    sqlite3_stmt *st = sq_stmt(c, ST_DEP_COUNT, err);
    sitq_code rc = st ? SITQ_OK : SITQ_ESTORAGE;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW) *count = (size_t)sqlite3_column_int64(st, 0);
        else rc = sq_fail(c, err, "counting dependencies");
        sqlite3_reset(st);
    }
    sq_read_release(b, c);
    return rc ? rc : sitq__ok(err);
}

sitq_code sq_dep_result(sitq_backend *base, const char *queue, sitq_task_id id, size_t index,
                        sitq_result **out, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    *out = NULL;
    sq_conn *c = sq_read_acquire(b);
    sqlite3_stmt *st = sq_stmt(c, ST_DEP_RESULT, err);
    sitq_code rc = st ? SITQ_OK : SITQ_ESTORAGE;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
        sq_bind_text(st, 3, queue);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            if (!(*out = sq_row_to_result(st, sitq_now_us())))
                rc = sitq__fail(err, SITQ_ENOMEM, "out of memory reading a dependency");
        } else if (step == SQLITE_DONE)
            rc = sitq__fail(err, SITQ_ENOTFOUND,
                            "dependency %zu of task %lld is gone (purged after it finished)", index,
                            (long long)id);
        else rc = sq_fail(c, err, "reading a dependency");
        sqlite3_reset(st);
    }
    sq_read_release(b, c);
    return rc ? rc : sitq__ok(err);
}

/* Column of ST_DEP_RESULTS holding the edge's position, after the result's. */
#define DEP_RESULTS_POSITION_COL 20

/* One row of a dependency range: the position's slot `at` (< n, its first
 * row only) from statement st; a code other than SITQ_OK stops the scan. */
typedef sitq_code (*dep_row_fn)(sqlite3_stmt *st, size_t at, void *ctx, sitq_time_us now,
                                sitq_error *err);

/* Run statement sid (task id, first and last position, queue) on a reader
 * and hand each row at a position in [first, first + n) to row: the shared
 * skeleton of sq_dep_results and sq_dep_values. pos_col: the column of the
 * position; what: for messages ("reading dependencies"). */
static sitq_code dep_range(sq_backend *b, sq_stmt_id sid, int pos_col, const char *queue,
                           sitq_task_id id, size_t first, size_t n, dep_row_fn row, void *ctx,
                           const char *what, sitq_error *err) {
    sq_conn *c = sq_read_acquire(b);
    sqlite3_stmt *st = sq_stmt(c, sid, err);
    sitq_code rc = st ? SITQ_OK : SITQ_ESTORAGE;
    if (st) {
        sitq_time_us now = sitq_now_us();
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)first);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)(first + n - 1));
        sq_bind_text(st, 4, queue);
        int step;
        while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
            size_t at = (size_t)sqlite3_column_int64(st, pos_col) - first;
            if (at < n) rc = row(st, at, ctx, now, err);
        }
        if (!rc && step != SQLITE_DONE) rc = sq_fail(c, err, what);
        sqlite3_reset(st);
    }
    sq_read_release(b, c);
    return rc;
}

static sitq_code result_row(sqlite3_stmt *st, size_t at, void *ctx, sitq_time_us now,
                            sitq_error *err) {
    sitq_result **out = ctx;
    if (!out[at] && !(out[at] = sq_row_to_result(st, now)))
        return sitq__fail(err, SITQ_ENOMEM, "out of memory reading dependencies");
    return SITQ_OK;
}

sitq_code sq_dep_results(sitq_backend *base, const char *queue, sitq_task_id id, size_t first,
                         size_t n, sitq_result **out, sitq_error *err) {
    sitq_code rc = dep_range((sq_backend *)base, ST_DEP_RESULTS, DEP_RESULTS_POSITION_COL, queue,
                             id, first, n, result_row, out, "reading dependencies", err);
    if (rc)
        for (size_t i = 0; i < n; i++) {
            sitq_result_free(out[i]);
            out[i] = NULL;
        }
    return rc ? rc : sitq__ok(err);
}

static sitq_code value_row(sqlite3_stmt *st, size_t at, void *ctx, sitq_time_us now,
                           sitq_error *err) {
    sitq_dependency_value *v = &((sitq_dependency_value *)ctx)[at];
    if (v->id) return SITQ_OK;
    v->id = sqlite3_column_int64(st, 1);
    v->status = sitq__public_status(sqlite3_column_int(st, 2), sqlite3_column_int64(st, 3), now);
    int has_value = sqlite3_column_type(st, 4) != SQLITE_NULL;
    int has_error = sqlite3_column_type(st, 5) != SQLITE_NULL;
    v->value = sq_col_blob(st, 4, &v->value_len);
    v->error = sq_col_text(st, 5);
    if ((has_value && !v->value) || (has_error && !v->error))
        return sitq__fail(err, SITQ_ENOMEM, "out of memory reading dependency values");
    return SITQ_OK;
}

sitq_code sq_dep_values(sitq_backend *base, const char *queue, sitq_task_id id, size_t first,
                        size_t n, sitq_dependency_value *out, sitq_error *err) {
    sitq_code rc = dep_range((sq_backend *)base, ST_DEP_VALUES, 0, queue, id, first, n, value_row,
                             out, "reading dependency values", err);
    if (rc) sitq_dependency_values_clear(out, n);
    return rc ? rc : sitq__ok(err);
}

sitq_code sq_payload(sitq_backend *base, const char *queue, sitq_task_id id, void **out,
                     size_t *len, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sq_conn *c = sq_read_acquire(b);
    sitq_code code = SITQ_OK;
    sqlite3_stmt *st = sq_stmt(c, ST_PAYLOAD, err);
    if (!st) {
        code = SITQ_ESTORAGE;
    } else {
        sqlite3_bind_int64(st, 1, id);
        sq_bind_text(st, 2, queue);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            int bytes = sqlite3_column_bytes(st, 0);
            if (bytes > 0) {
                *out = sq_col_blob(st, 0, len);
                if (!*out) code = sitq__fail(err, SITQ_ENOMEM, "out of memory copying a payload");
            }
        } else if (rc == SQLITE_DONE) {
            code = sitq__fail(err, SITQ_ENOTFOUND, "task %lld does not exist in queue '%s'",
                              (long long)id, queue);
        } else {
            code = sq_fail(c, err, "reading a payload");
        }
        sqlite3_reset(st);
    }
    sq_read_release(b, c);
    return code ? code : sitq__ok(err);
}

sitq_code sq_stats(sitq_backend *base, const char *queue, sitq_stats *out, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sq_conn *c = sq_read_acquire(b);
    sitq_code code = SITQ_OK;
    sqlite3_stmt *st = sq_stmt(c, ST_STATS, err);
    if (!st) {
        code = SITQ_ESTORAGE;
    } else {
        sq_bind_text(st, 1, queue);
        sitq_time_us now = sitq_now_us();
        sqlite3_bind_int64(st, 2, now);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            /* Rows count tasks by state and whether run_at_us > now. */
            int in_future = sqlite3_column_int(st, 1);
            int status =
                (int)sitq__public_status(sqlite3_column_int(st, 0), in_future ? now + 1 : now, now);
            int64_t n = sqlite3_column_int64(st, 2);
            if (status >= 0 && status < SITQ_STATUS_COUNT) out->count[status] += n;
            out->total += n;
        }
        if (rc != SQLITE_DONE) code = sq_fail(c, err, "counting tasks");
        sqlite3_reset(st);
    }
    sq_read_release(b, c);
    return code ? code : sitq__ok(err);
}

/* Rows are (public status, entries read); a status may have several rows
 * (one per priority), which the core adds up and caps. */
sitq_code sq_stats_bounded(sitq_backend *base, const char *queue, int64_t cap, sitq_stats *out,
                           sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sq_conn *c = sq_read_acquire(b);
    sitq_code code = SITQ_OK;
    sqlite3_stmt *st = sq_stmt(c, ST_STATS_BOUNDED, err);
    if (!st) {
        code = SITQ_ESTORAGE;
    } else {
        sq_bind_text(st, 1, queue);
        sqlite3_bind_int64(st, 2, sitq_now_us());
        sqlite3_bind_int64(st, 3, cap + 1);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int status = sqlite3_column_int(st, 0);
            int64_t n = sqlite3_column_int64(st, 1);
            if (status >= 0 && status < SITQ_STATUS_COUNT) out->count[status] += n;
        }
        if (rc != SQLITE_DONE) code = sq_fail(c, err, "counting tasks");
        sqlite3_reset(st);
    }
    sq_read_release(b, c);
    return code ? code : sitq__ok(err);
}

sitq_code sq_oldest_ready(sitq_backend *base, const char *queue, sitq_time_us *run_at_us,
                          sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sq_conn *c = sq_read_acquire(b);
    sitq_code code = SITQ_OK;
    *run_at_us = 0;
    sqlite3_stmt *st = sq_stmt(c, ST_OLDEST_READY, err);
    if (!st) {
        code = SITQ_ESTORAGE;
    } else {
        sq_bind_text(st, 1, queue);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            *run_at_us = sqlite3_column_int64(st, 0);
        else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            code = sq_fail(c, err, "reading the oldest queued task");
        sqlite3_reset(st);
    }
    sq_read_release(b, c);
    return code ? code : sitq__ok(err);
}

/* The file sizes only: the rest of sitq_store_health is about PostgreSQL's
 * row versions and transactions, which SQLite does not have. */
sitq_code sq_health(sitq_backend *base, sitq_store_health *out, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    struct stat st;
    if (stat(b->path, &st) == 0) out->store_bytes = (int64_t)st.st_size;
    size_t n = strlen(b->path) + 5;
    char *wal = malloc(n);
    if (!wal) return sitq__fail(err, SITQ_ENOMEM, "out of memory");
    snprintf(wal, n, "%s-wal", b->path);
    if (stat(wal, &st) == 0) out->wal_bytes = (int64_t)st.st_size;
    else if (out->store_bytes >= 0) out->wal_bytes = 0;
    free(wal);
    return sitq__ok(err);
}
