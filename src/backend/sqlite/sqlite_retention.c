/* sqlite_retention.c - retention of finished tasks in the SQLite backend:
 * the per-queue table, the per-task column, and the windows of the purge
 * that running workers do.
 *
 * The walk goes over the tasks in id order (the table's own b-tree, so no
 * index is added to the hot path: every index entry a transition touches
 * costs end-to-end throughput). A window first looks for expired tasks on a
 * reader connection, without the write lock, so that a walk over tasks that
 * are all kept costs no write transaction at all; only a window that found
 * some takes the write lock, selects them again (a retry or a new dependent
 * may have come meanwhile) and deletes them with what belongs to them. Its
 * statements are prepared per window: windows are paced, so their cost does
 * not matter, and the hot statements stay in sqlite_sql.c. */
#include "sq.h"

#include <stdlib.h>

/* A task's retention in microseconds (-1: forever): its own keep_us, else
 * its queue's, else the defaults (?4 succeeded, ?5 failed or cancelled). */
#define KEEP_OF                                                                                    \
    "COALESCE(t.keep_us, CASE WHEN t.state = 4 THEN COALESCE(r.succeeded_us, ?4) "                 \
    "ELSE COALESCE(r.failed_us, ?5) END)"

/* The expired tasks among ids (?1, ?2]: finished, retention not forever and
 * over by ?3, and no dependent that is not finished depends on them (it may
 * read their result). One JSON array of ids. */
static const char expired_sql[] =
    "SELECT json_group_array(t.id) FROM sitq_tasks t "
    "LEFT JOIN sitq_retention r ON r.queue = t.queue "
    "WHERE t.id > ?1 AND t.id <= ?2 AND t.state IN (4, 5, 6) AND " KEEP_OF " >= 0 "
    "AND t.finished_at_us <= ?3 - " KEEP_OF " "
    "AND NOT EXISTS (SELECT 1 FROM sitq_deps k JOIN sitq_tasks c ON c.id = k.task_id "
    "WHERE k.depends_on = t.id AND c.state IN (0, 1, 3))";

/* The end of the window: the id of the max_rows-th task above ?1. */
static const char window_sql[] =
    "SELECT MAX(id) FROM (SELECT id FROM sitq_tasks WHERE id > ?1 ORDER BY id LIMIT ?2)";

/* What goes with the tasks of ?1 (a JSON array of ids), in this order:
 * their own edges, the edges to those that succeeded (satisfied for good,
 * as sitq_purge drops them), their large payloads and results, the
 * succeeded counts and purged totals of their queues, the highest id (never
 * reused), then the rows themselves. */
static const char *const delete_sql[] = {
    "DELETE FROM sitq_deps WHERE task_id IN (SELECT value FROM json_each(?1))",
    "DELETE FROM sitq_deps WHERE depends_on IN (SELECT id FROM sitq_tasks "
    "WHERE id IN (SELECT value FROM json_each(?1)) AND state = 4)",
    "DELETE FROM sitq_payloads WHERE id IN (SELECT value FROM json_each(?1))",
    "DELETE FROM sitq_results WHERE id IN (SELECT value FROM json_each(?1))",
    "INSERT INTO sitq_counts(queue, succeeded, total_purged) SELECT queue, -SUM(state = 4), "
    "COUNT(*) FROM sitq_tasks WHERE id IN (SELECT value FROM json_each(?1)) GROUP BY queue "
    "ON CONFLICT(queue) DO UPDATE SET succeeded = succeeded + excluded.succeeded, "
    "total_purged = total_purged + excluded.total_purged",
    "INSERT INTO sitq_meta(key, value) SELECT 'id_floor', MAX(value) FROM json_each(?1) "
    "WHERE true ON CONFLICT(key) DO UPDATE SET value = MAX(CAST(value AS INTEGER), "
    "CAST(excluded.value AS INTEGER))",
    "DELETE FROM sitq_tasks WHERE id IN (SELECT value FROM json_each(?1))",
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS sitq_retention(queue TEXT PRIMARY KEY,"
    " succeeded_us INTEGER NOT NULL, failed_us INTEGER NOT NULL) WITHOUT ROWID;";

static sitq_code prep(sq_conn *c, const char *sql, sqlite3_stmt **st, sitq_error *err) {
    if (sqlite3_prepare_v2(c->db, sql, -1, st, NULL) == SQLITE_OK) return SITQ_OK;
    sqlite3_finalize(*st);
    *st = NULL;
    return sq_fail(c, err, "preparing a retention statement");
}

/* 1 when the retention table and the keep_us column exist, 0 when not,
 * -1 on a read error (err filled). */
static int schema_present(sq_conn *c, sitq_error *err) {
    sqlite3_stmt *st = NULL;
    if (prep(c,
             "SELECT (SELECT COUNT(*) FROM pragma_table_info('sitq_tasks') "
             "WHERE name = 'keep_us') + (SELECT COUNT(*) FROM sqlite_master "
             "WHERE type = 'table' AND name = 'sitq_retention')",
             &st, err))
        return -1;
    int rc = sqlite3_step(st);
    int n = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (n < 0) sq_fail(c, err, "reading the retention schema");
    return n < 0 ? -1 : n == 2;
}

/* Add the column and the table (both additive: a file of this schema
 * version made before them keeps opening). Inside a write transaction. */
static sitq_code schema_add(sq_conn *c, sitq_error *err) {
    int present = schema_present(c, err);
    if (present < 0) return SITQ_ESTORAGE;
    if (present) return SITQ_OK;
    char *msg = NULL;
    int ok = sqlite3_exec(c->db, schema_sql, NULL, NULL, &msg) == SQLITE_OK;
    sqlite3_stmt *st = NULL;
    if (ok && !prep(c, "SELECT 1 FROM pragma_table_info('sitq_tasks') WHERE name = 'keep_us'", &st,
                    err)) {
        int has = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        if (!has)
            ok = sqlite3_exec(c->db, "ALTER TABLE sitq_tasks ADD COLUMN keep_us INTEGER", NULL,
                              NULL, &msg) == SQLITE_OK;
    }
    if (!ok) {
        sitq_code rc = sitq__fail(err, SITQ_ESTORAGE, "cannot add retention to the schema: %s",
                                  msg ? msg : "unknown error");
        sqlite3_free(msg);
        return rc;
    }
    return SITQ_OK;
}

sitq_code sq_retention_schema_txn(sq_backend *b, sitq_error *err) {
    return schema_add(&b->writer, err);
}

sitq_code sq_retention_schema(sq_backend *b, sitq_error *err) {
    if (b->opts.read_only) return SITQ_OK;
    /* A read first: the common case opens without a write transaction. */
    int present = schema_present(&b->writer, err);
    if (present < 0) return SITQ_ESTORAGE;
    if (present) return SITQ_OK;
    sitq_code rc = sq_write_begin(b, err);
    if (rc) return rc;
    return sq_write_end(b, schema_add(&b->writer, err), err);
}

sitq_code sq_retention_set(sitq_backend *base, const char *queue, const int64_t *succeeded_us,
                           const int64_t *failed_us, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sitq_code rc = sq_write_begin(b, err);
    if (rc) return rc;
    sqlite3_stmt *st = NULL;
    rc = prep(&b->writer,
              succeeded_us ? "INSERT INTO sitq_retention(queue, succeeded_us, failed_us) "
                             "VALUES(?1, ?2, ?3) ON CONFLICT(queue) DO UPDATE SET "
                             "succeeded_us = excluded.succeeded_us, failed_us = excluded.failed_us"
                           : "DELETE FROM sitq_retention WHERE queue = ?1",
              &st, err);
    if (!rc) {
        sq_bind_text(st, 1, queue);
        if (succeeded_us) {
            sqlite3_bind_int64(st, 2, *succeeded_us);
            sqlite3_bind_int64(st, 3, *failed_us);
        }
        rc = sq_exec(&b->writer, st, err, "storing a queue's retention");
    }
    sqlite3_finalize(st);
    rc = sq_write_end(b, rc, err);
    return rc ? rc : sitq__ok(err);
}

sitq_code sq_retention_get(sitq_backend *base, const char *queue, int64_t *succeeded_us,
                           int64_t *failed_us, int *found, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sq_conn *c = sq_read_acquire(b);
    sqlite3_stmt *st = NULL;
    *found = 0;
    sitq_code rc =
        prep(c, "SELECT succeeded_us, failed_us FROM sitq_retention WHERE queue = ?1", &st, err);
    if (!rc) {
        sq_bind_text(st, 1, queue);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            *found = 1;
            *succeeded_us = sqlite3_column_int64(st, 0);
            *failed_us = sqlite3_column_int64(st, 1);
        } else if (step != SQLITE_DONE) rc = sq_fail(c, err, "reading a queue's retention");
    }
    sqlite3_finalize(st);
    sq_read_release(b, c);
    return rc ? rc : sitq__ok(err);
}

/* The window's end (x->last_id) and, in *ids (malloc'd JSON, NULL when
 * none), the expired tasks in it. */
static sitq_code find_expired(sq_conn *c, sitq__expire *x, char **ids, sitq_error *err) {
    *ids = NULL;
    sqlite3_stmt *st = NULL;
    sitq_code rc = prep(c, window_sql, &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, x->after_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)x->max_rows);
    int step = sqlite3_step(st);
    x->last_id = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (step != SQLITE_ROW) rc = sq_fail(c, err, "reading a retention window");
    sqlite3_finalize(st);
    if (rc || x->last_id == 0) return rc;
    if ((rc = prep(c, expired_sql, &st, err))) return rc;
    sqlite3_bind_int64(st, 1, x->after_id);
    sqlite3_bind_int64(st, 2, x->last_id);
    sqlite3_bind_int64(st, 3, x->now_us);
    sqlite3_bind_int64(st, 4, x->succeeded_us);
    sqlite3_bind_int64(st, 5, x->failed_us);
    if (sqlite3_step(st) != SQLITE_ROW) rc = sq_fail(c, err, "reading expired tasks");
    else {
        const char *json = (const char *)sqlite3_column_text(st, 0);
        if (json && json[0] == '[' && json[1] != ']' && !(*ids = sq_col_text(st, 0)))
            rc = sitq__fail(err, SITQ_ENOMEM, "out of memory");
    }
    sqlite3_finalize(st);
    return rc;
}

static sitq_code delete_ids(sq_conn *c, const char *ids, int64_t *purged, sitq_error *err) {
    sitq_code rc = SITQ_OK;
    for (size_t i = 0; i < sizeof delete_sql / sizeof *delete_sql && !rc; i++) {
        sqlite3_stmt *st = NULL;
        if ((rc = prep(c, delete_sql[i], &st, err))) break;
        sq_bind_text(st, 1, ids);
        rc = sq_exec(c, st, err, "deleting expired tasks");
        sqlite3_finalize(st);
        if (!rc && i + 1 == sizeof delete_sql / sizeof *delete_sql)
            *purged = sqlite3_changes64(c->db);
    }
    return rc;
}

sitq_code sq_expire(sitq_backend *base, sitq__expire *x, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    x->purged = 0;
    char *ids = NULL;
    sq_conn *r = sq_read_acquire(b);
    sitq_code rc = find_expired(r, x, &ids, err);
    sq_read_release(b, r);
    if (rc || !ids) return rc ? rc : sitq__ok(err);
    free(ids);
    if ((rc = sq_write_begin(b, err))) return rc;
    rc = find_expired(&b->writer, x, &ids, err);
    if (!rc && ids) rc = delete_ids(&b->writer, ids, &x->purged, err);
    free(ids);
    rc = sq_write_end(b, rc, err);
    if (rc) x->purged = 0;
    return rc ? rc : sitq__ok(err);
}

sitq_code sq_retained(sitq_backend *base, const char *queue, sitq_task_id *oldest_id,
                      sitq_time_us *finished_us, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sq_conn *c = sq_read_acquire(b);
    sqlite3_stmt *st = NULL;
    *oldest_id = 0;
    *finished_us = 0;
    sitq_code rc = prep(c,
                        "SELECT id, finished_at_us FROM sitq_tasks WHERE queue = ?1 "
                        "AND state IN (4, 5, 6) ORDER BY id LIMIT 1",
                        &st, err);
    if (!rc) {
        sq_bind_text(st, 1, queue);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            *oldest_id = sqlite3_column_int64(st, 0);
            *finished_us = sqlite3_column_int64(st, 1);
        } else if (step != SQLITE_DONE) rc = sq_fail(c, err, "reading the oldest finished task");
    }
    sqlite3_finalize(st);
    sq_read_release(b, c);
    return rc ? rc : sitq__ok(err);
}
