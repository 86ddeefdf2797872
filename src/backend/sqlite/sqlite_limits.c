/* sqlite_limits.c - the stored pause and limits of queues (sitq_limits):
 * the table, created when an existing file lacks it, and the operator's
 * writes and reads. One row per queue (function '') and per limited
 * function of a queue; a row with neither pause nor limit is deleted, so
 * that a queue without limits has no row and its claims skip all of this. */
#include "sq.h"
#include "../../core/grow.h"

#include <stdlib.h>
#include <string.h>

static const char *const limits_sql =
    "CREATE TABLE IF NOT EXISTS sitq_limits(queue TEXT NOT NULL, function TEXT NOT NULL, "
    "paused INTEGER NOT NULL DEFAULT 0, concurrency INTEGER NOT NULL DEFAULT 0, "
    "rate_count INTEGER NOT NULL DEFAULT 0, rate_interval_us INTEGER NOT NULL DEFAULT 0, "
    "next_start_us INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(queue, function)) WITHOUT ROWID;";

/* 1 when conn's database has the table, 0 when not, -1 on error. */
static int has_table(sq_conn *c) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        c->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sitq_limits'", -1, &st,
        NULL);
    int found = -1;
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
    }
    sqlite3_finalize(st);
    return found;
}

sitq_code sq_limits_schema(sq_backend *b, sitq_error *err) {
    if (b->opts.read_only) return SITQ_OK; /* reads treat a missing table as no limits */
    int found = has_table(&b->writer);
    if (found < 0) return sq_fail(&b->writer, err, "looking for the limits table");
    if (found) return SITQ_OK;
    sitq_code rc = sq_write_begin(b, err);
    if (rc) return rc;
    char *msg = NULL;
    if (sqlite3_exec(b->writer.db, limits_sql, NULL, NULL, &msg) != SQLITE_OK) {
        rc = sitq__fail(err, SITQ_ESTORAGE, "cannot create the limits table in %s: %s", b->path,
                        msg ? msg : "unknown error");
        sqlite3_free(msg);
    }
    return sq_write_end(b, rc, err);
}

/* Clear the limit of w->function; SITQ_ENOTFOUND when it had none. */
static sitq_code clear_limit(sq_conn *c, const char *queue, const sitq__limit_write *w,
                             sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, ST_LIMIT_CLEAR, err);
    if (!st) return SITQ_ESTORAGE;
    sq_bind_text(st, 1, queue);
    sq_bind_text(st, 2, w->function ? w->function : "");
    sitq_code rc = sq_exec(c, st, err, "removing a limit");
    if (rc) return rc;
    if (sqlite3_changes(c->db) == 0)
        return sitq__fail(err, SITQ_ENOTFOUND, "%s %.200s has no limit to remove",
                          w->function ? "function" : "queue", w->function ? w->function : queue);
    return SITQ_OK;
}

static sitq_code store_limit(sq_conn *c, const char *queue, const sitq__limit_write *w,
                             sitq_error *err) {
    if (w->remove) return clear_limit(c, queue, w, err);
    sqlite3_stmt *st = sq_stmt(c, w->set_paused ? ST_LIMIT_PAUSE : ST_LIMIT_SET, err);
    if (!st) return SITQ_ESTORAGE;
    sq_bind_text(st, 1, queue);
    if (w->set_paused) {
        sqlite3_bind_int(st, 2, w->paused != 0);
    } else {
        sq_bind_text(st, 2, w->function ? w->function : "");
        sqlite3_bind_int64(st, 3, w->concurrency);
        sqlite3_bind_int64(st, 4, w->rate_count);
        sqlite3_bind_int64(st, 5, w->rate_interval_us);
    }
    return sq_exec(c, st, err, "storing a limit");
}

static sitq_code write_body(sq_conn *c, const char *queue, const sitq__limit_write *w,
                            sitq_error *err) {
    sitq_code rc = store_limit(c, queue, w, err);
    if (rc) return rc;
    sqlite3_stmt *st = sq_stmt(c, ST_LIMIT_PRUNE, err);
    if (!st) return SITQ_ESTORAGE;
    sq_bind_text(st, 1, queue);
    return sq_exec(c, st, err, "removing a limit");
}

sitq_code sq_limit_write(sitq_backend *base, const char *queue, const sitq__limit_write *w,
                         sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sitq_code rc = sq_write_begin(b, err);
    if (rc) return rc;
    rc = write_body(&b->writer, queue, w, err);
    rc = sq_write_end(b, rc, err);
    /* A resume or a raised limit makes tasks claimable: wake our workers. */
    if (!rc) sitq__backend_notify(base, 0, 1);
    return rc ? rc : sitq__ok(err);
}

/* Read the rows of ST_LIMITS_READ into a new array. */
static sitq_code read_rows(sq_conn *c, sqlite3_stmt *st, sitq_limit **out, size_t *count,
                           sitq_error *err) {
    sitq_limit *arr = NULL;
    size_t n = 0, cap = 0;
    int rc;
    sitq_code code = SITQ_OK;
    while (!code && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sitq__reserve((void **)&arr, &cap, n + 1, sizeof *arr) != 0) {
            code = sitq__fail(err, SITQ_ENOMEM, "out of memory listing limits");
            break;
        }
        sitq_limit *l = &arr[n++];
        memset(l, 0, sizeof *l);
        const char *f = (const char *)sqlite3_column_text(st, 0);
        if (f && *f && !(l->function = strdup(f)))
            code = sitq__fail(err, SITQ_ENOMEM, "out of memory listing limits");
        l->paused = sqlite3_column_int(st, 1) != 0;
        l->concurrency = sqlite3_column_int64(st, 2);
        l->rate_count = sqlite3_column_int64(st, 3);
        l->rate_interval_us = sqlite3_column_int64(st, 4);
    }
    if (!code && rc != SQLITE_DONE) code = sq_fail(c, err, "listing limits");
    sqlite3_reset(st);
    if (code) {
        sitq_limits_free(arr, n);
        return code;
    }
    *out = arr;
    *count = n;
    return SITQ_OK;
}

sitq_code sq_limit_list(sitq_backend *base, const char *queue, sitq_limit **out, size_t *count,
                        sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    *out = NULL;
    *count = 0;
    sq_conn *c = sq_read_acquire(b);
    sitq_code code = SITQ_OK;
    int found = has_table(c);
    if (found < 0) code = sq_fail(c, err, "looking for the limits table");
    if (found > 0) {
        sqlite3_stmt *st = sq_stmt(c, ST_LIMITS_READ, err);
        if (!st) code = SITQ_ESTORAGE;
        else {
            sq_bind_text(st, 1, queue);
            code = read_rows(c, st, out, count, err);
        }
    }
    sq_read_release(b, c);
    return code ? code : sitq__ok(err);
}
