/* sqlite_workers.c - the registry of workers in SQLite: one row per worker
 * id in sitq_workers, replaced whole by the cycle that carries the worker's
 * record (its first, one per heartbeat, its last at a clean stop), inside
 * that cycle's transaction: no commit of its own. The tasks a worker runs
 * are not copied into its row; a list reads them from the running tasks'
 * worker_id.
 *
 * Files made before the registry existed have no sitq_workers table; it is
 * created by the first record written (inside the cycle's transaction), so
 * an open never writes, and a list of such a file is empty. The statements
 * run at most once per heartbeat and per list, so they are prepared per
 * call. */
#include "sq.h"
#include "../../core/grow.h"
#include "../../core/workers.h"

#include <stdlib.h>
#include <string.h>

/* Rows of workers that renewed nothing for this long are deleted. */
#define SQ_WORKERS_KEEP_US (86400LL * 1000000)

static const char *const workers_ddl =
    "CREATE TABLE IF NOT EXISTS sitq_workers(id TEXT PRIMARY KEY,"
    " host TEXT NOT NULL DEFAULT '', pid INTEGER NOT NULL DEFAULT 0,"
    " queues TEXT NOT NULL DEFAULT '', functions TEXT NOT NULL DEFAULT '',"
    " concurrency INTEGER NOT NULL DEFAULT 0, started_at_us INTEGER NOT NULL DEFAULT 0,"
    " heartbeat_at_us INTEGER NOT NULL DEFAULT 0, lease_until_us INTEGER NOT NULL DEFAULT 0,"
    " stopped_at_us INTEGER, succeeded INTEGER NOT NULL DEFAULT 0,"
    " failed INTEGER NOT NULL DEFAULT 0, lost INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;";

static const char *const worker_put_sql =
    "INSERT OR REPLACE INTO sitq_workers(id, host, pid, queues, functions, concurrency,"
    " started_at_us, heartbeat_at_us, lease_until_us, stopped_at_us, succeeded, failed, lost)"
    " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

static const char *const workers_prune_sql = "DELETE FROM sitq_workers WHERE heartbeat_at_us < ?";

static const char *const workers_select_sql =
    "SELECT id, host, pid, queues, functions, concurrency, started_at_us, heartbeat_at_us,"
    " lease_until_us, stopped_at_us, succeeded, failed, lost FROM sitq_workers"
    " WHERE stopped_at_us IS NULL OR ? ORDER BY id";

/* The running tasks (claimed: running or claimed ahead) with their worker,
 * through the running tasks' partial index, then sorted. `+id`: with a bare
 * `ORDER BY id` SQLite walks the whole table in rowid order to skip the
 * sort: 0.15 s per million tasks stored, with none running. */
static const char *const workers_tasks_sql = "SELECT worker_id, id, started_at_us IS NOT NULL "
                                             "FROM sitq_tasks WHERE state = 3 ORDER BY +id";

sitq_code sq_workers_schema(sq_conn *c, sitq_error *err) {
    char *msg = NULL;
    if (sqlite3_exec(c->db, workers_ddl, NULL, NULL, &msg) == SQLITE_OK) return SITQ_OK;
    sitq_code rc = sitq__fail(err, SITQ_ESTORAGE, "cannot create the table of workers in %s: %s",
                              c->path, msg ? msg : "unknown error");
    sqlite3_free(msg);
    return rc;
}

static void bind_record(sqlite3_stmt *st, const sitq__cycle *cy, sitq_time_us now) {
    const sitq__worker_record *r = cy->record;
    sq_bind_text(st, 1, cy->worker_id);
    sq_bind_text(st, 2, r->host ? r->host : "");
    sqlite3_bind_int64(st, 3, r->pid);
    sq_bind_text(st, 4, r->queues ? r->queues : "");
    sq_bind_text(st, 5, r->functions ? r->functions : "");
    sqlite3_bind_int(st, 6, r->concurrency);
    sqlite3_bind_int64(st, 7, r->started_at_us);
    sqlite3_bind_int64(st, 8, now);
    sqlite3_bind_int64(st, 9, now + cy->lease_us);
    if (r->stopped) sqlite3_bind_int64(st, 10, now);
    else sqlite3_bind_null(st, 10);
    sqlite3_bind_int64(st, 11, r->succeeded);
    sqlite3_bind_int64(st, 12, r->failed);
    sqlite3_bind_int64(st, 13, r->lost);
}

/* Prepare sql on c, bind, step to the end; SITQ_OK or the failure. */
static sitq_code run_write(sq_conn *c, const char *sql, const sitq__cycle *cy, sitq_time_us now,
                           sitq_error *err, const char *what) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) return sq_fail(c, err, what);
    if (cy) bind_record(st, cy, now);
    else sqlite3_bind_int64(st, 1, now - SQ_WORKERS_KEEP_US);
    sitq_code rc = sq_exec(c, st, err, what);
    sqlite3_finalize(st);
    return rc;
}

sitq_code sq_workers_record(sq_backend *b, const sitq__cycle *cy, sitq_error *err) {
    sq_conn *c = &b->writer;
    if (!b->workers_ready) { /* write_mu held: the cycle's transaction */
        sitq_code rc = sq_workers_schema(c, err);
        if (rc) return rc;
        b->workers_ready = 1;
    }
    sitq_time_us now = cy->db_now_us ? cy->db_now_us : sitq_now_us();
    sitq_code rc = run_write(c, worker_put_sql, cy, now, err, "recording the worker");
    if (!rc) rc = run_write(c, workers_prune_sql, NULL, now, err, "pruning workers long gone");
    return rc;
}

/* One row of workers_select_sql into *w. 0, or -1 when out of memory. */
static int read_row(sqlite3_stmt *st, sitq_time_us now, sitq_worker_info *w) {
    memset(w, 0, sizeof *w);
    w->id = sq_col_text(st, 0);
    w->host = sq_col_text(st, 1);
    w->pid = sqlite3_column_int64(st, 2);
    w->concurrency = sqlite3_column_int(st, 5);
    w->started_at_us = sqlite3_column_int64(st, 6);
    w->heartbeat_at_us = sqlite3_column_int64(st, 7);
    w->lease_until_us = sqlite3_column_int64(st, 8);
    w->stopped_at_us = sqlite3_column_int64(st, 9);
    w->succeeded = sqlite3_column_int64(st, 10);
    w->failed = sqlite3_column_int64(st, 11);
    w->lost = sqlite3_column_int64(st, 12);
    w->state = sitq__worker_state_at(w->stopped_at_us, w->lease_until_us, now);
    if (!w->id || !w->host) return -1;
    if (sitq__names_split((const char *)sqlite3_column_text(st, 3), &w->queues, &w->n_queues))
        return -1;
    return sitq__names_split((const char *)sqlite3_column_text(st, 4), &w->functions,
                             &w->n_functions);
}

/* Whether the file has the registry's table (files made before it have
 * none until a worker writes its record). 1, 0, or -1 on a failure. */
static int has_table(sq_conn *c) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
                           "'sitq_workers'",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static sitq_code read_rows(sq_conn *c, int include_stopped, sitq_worker_info **out, size_t *count,
                           sitq_error *err) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, workers_select_sql, -1, &st, NULL) != SQLITE_OK)
        return sq_fail(c, err, "listing workers");
    sqlite3_bind_int(st, 1, include_stopped);
    sitq_time_us now = sitq_now_us();
    size_t cap = 0;
    sitq_code code = SITQ_OK;
    int rc;
    while (!code && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sitq__reserve((void **)out, &cap, *count + 1, sizeof **out) != 0) {
            code = sitq__fail(err, SITQ_ENOMEM, "out of memory listing workers");
            break;
        }
        if (read_row(st, now, &(*out)[(*count)++]) != 0)
            code = sitq__fail(err, SITQ_ENOMEM, "out of memory listing workers");
    }
    if (!code && rc != SQLITE_DONE) code = sq_fail(c, err, "listing workers");
    sqlite3_finalize(st);
    return code;
}

static sitq_code read_tasks(sq_conn *c, sitq_worker_info *ws, size_t n, sitq_error *err) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, workers_tasks_sql, -1, &st, NULL) != SQLITE_OK)
        return sq_fail(c, err, "listing the workers' tasks");
    sitq_code code = SITQ_OK;
    int rc;
    while (!code && (rc = sqlite3_step(st)) == SQLITE_ROW)
        if (sitq__workers_add_task(ws, n, (const char *)sqlite3_column_text(st, 0),
                                   sqlite3_column_int64(st, 1), sqlite3_column_int(st, 2)) != 0)
            code = sitq__fail(err, SITQ_ENOMEM, "out of memory listing workers");
    if (!code && rc != SQLITE_DONE) code = sq_fail(c, err, "listing the workers' tasks");
    sqlite3_finalize(st);
    return code;
}

sitq_code sq_workers(sitq_backend *base, int include_stopped, sitq_worker_info **out, size_t *count,
                     sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    *out = NULL;
    *count = 0;
    sq_conn *c = sq_read_acquire(b);
    int has = has_table(c);
    sitq_code rc = has < 0 ? sq_fail(c, err, "listing workers") : SITQ_OK;
    if (!rc && has) rc = read_rows(c, include_stopped, out, count, err);
    if (!rc && *count) rc = read_tasks(c, *out, *count, err);
    sq_read_release(b, c);
    if (rc) {
        sitq_workers_free(*out, *count);
        *out = NULL;
        *count = 0;
        return rc;
    }
    return sitq__ok(err);
}
