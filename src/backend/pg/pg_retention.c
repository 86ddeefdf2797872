/* pg_retention.c - retention of finished tasks in the PostgreSQL backend:
 * the per-queue table, the per-task column, and the windows of the purge
 * that running workers do.
 *
 * As in the SQLite backend, a walk goes over the tasks in id order (the
 * primary key: no index is added to the hot path), a window looks for
 * expired tasks on a reader connection first and opens a write transaction
 * only when it found some. That transaction selects them again, locking
 * their rows with SKIP LOCKED (a task another worker is purging, or a retry
 * is moving, is left to a later walk), reads their dependents again once
 * they are locked, then deletes their edges, counts and rows
 * (pg_delete_finished, which purge shares); each window is a short transaction of its own, never a long one
 * that would hold back vacuum. Statements are composed per window (windows
 * are paced; the hot statements stay prepared in pg_sql.c). */
#include "pg_enqueue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A task's retention in microseconds (-1: forever): its own keep_us, else
 * its queue's, else the defaults ($4 succeeded, $5 failed or cancelled). */
#define KEEP_OF                                                                                    \
    "COALESCE(t.keep_us, CASE WHEN t.state = 4 THEN COALESCE(r.succeeded_us, $4::bigint) "         \
    "ELSE COALESCE(r.failed_us, $5::bigint) END)"

/* The expired tasks among ids ($1, $2]: finished, retention not forever and
 * over by $3, and no dependent that is not finished depends on them. */
#define EXPIRED_SQL                                                                                \
    "SELECT t.id FROM @.tasks t LEFT JOIN @.retention r ON r.queue = t.queue "                     \
    "WHERE t.id > $1::bigint AND t.id <= $2::bigint AND t.state IN (4, 5, 6) "                     \
    "AND " KEEP_OF " >= 0 AND t.finished_at_us <= $3::bigint - " KEEP_OF " "                       \
    "AND NOT EXISTS (SELECT 1 FROM @.deps k JOIN @.tasks c ON c.id = k.task_id "                   \
    "WHERE k.depends_on = t.id AND c.state IN (0, 1, 3))"

static const char window_sql[] = "SELECT max(id) FROM (SELECT id FROM @.tasks "
                                 "WHERE id > $1::bigint ORDER BY id LIMIT $2::bigint) w";

/* What goes with the tasks of $1 (an array of ids), in this order: their
 * edges, the edges to those that succeeded (satisfied for good), the
 * succeeded counts and purged totals of their queues ($2 the shard), then
 * the rows. */
static const char *const delete_sql[] = {
    "DELETE FROM @.deps WHERE task_id = ANY($1::bigint[])",
    "DELETE FROM @.deps WHERE depends_on IN (SELECT id FROM @.tasks "
    "WHERE id = ANY($1::bigint[]) AND state = 4)",
    "INSERT INTO @.counts(queue, shard, succeeded, total_purged) SELECT queue, $2::int, "
    "-count(*) FILTER (WHERE state = 4), count(*) FROM @.tasks WHERE id = ANY($1::bigint[]) "
    "GROUP BY queue ON CONFLICT(queue, shard) DO UPDATE SET "
    "succeeded = counts.succeeded + EXCLUDED.succeeded, "
    "total_purged = counts.total_purged + EXCLUDED.total_purged",
    "DELETE FROM @.tasks WHERE id = ANY($1::bigint[])",
};

/* The tasks of $1 that no unfinished task depends on. */
static const char unneeded_sql[] =
    "SELECT t.id FROM @.tasks t WHERE t.id = ANY($1::bigint[]) "
    "AND NOT EXISTS (SELECT 1 FROM @.deps k JOIN @.tasks c ON c.id = k.task_id "
    "WHERE k.depends_on = t.id AND c.state IN (0, 1, 3))";

static const char schema_sql[] = "CREATE TABLE IF NOT EXISTS @.retention(queue text PRIMARY KEY,"
                                 " succeeded_us bigint NOT NULL, failed_us bigint NOT NULL);"
                                 "ALTER TABLE @.tasks ADD COLUMN IF NOT EXISTS keep_us bigint;";

/* Run sql (schema-substituted here) with p; the result, or NULL with err
 * filled. */
static PGresult *run(pg_conn *c, const char *sql, const pg_params *p, sitq_error *err,
                     const char *what) {
    char *text = pg_schema_text(c->b, sql);
    if (!text) {
        sitq__fail(err, SITQ_ENOMEM, "out of memory");
        return NULL;
    }
    PGresult *r = pg_q_params_p(c, text, p);
    free(text);
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) return r;
    pg_fail(c, r, err, what);
    PQclear(r);
    return NULL;
}

static sitq_code run_cmd(pg_conn *c, const char *sql, const pg_params *p, int64_t *changes,
                         sitq_error *err, const char *what) {
    PGresult *r = run(c, sql, p, err, what);
    if (!r) return pg_code(err);
    if (changes) *changes = pg_changes(r);
    PQclear(r);
    return SITQ_OK;
}

static sitq_code schema_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    (void)arg;
    char lock[96];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)", (long long)b->schema_key);
    sitq_code rc = pg_command(c, lock, err, "locking the schema for its upgrade");
    char *ddl = rc ? NULL : pg_schema_text(b, schema_sql);
    if (!rc && !ddl) return sitq__fail(err, SITQ_ENOMEM, "out of memory");
    if (!rc) rc = pg_command(c, ddl, err, "adding retention to the sitq schema");
    free(ddl);
    return rc;
}

sitq_code pg_retention_schema(pg_backend *b, sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, b->schema);
    PGresult *r = run(&b->writer,
                      "SELECT (to_regclass(quote_ident($1::text) || '.retention') IS NOT NULL "
                      "AND EXISTS (SELECT 1 FROM information_schema.columns "
                      "WHERE table_schema = $1::text AND table_name = 'tasks' "
                      "AND column_name = 'keep_us'))::int",
                      &p, err, "reading the retention schema");
    if (!r) return pg_code(err);
    int present = (int)pg_i64(r, 0, 0);
    PQclear(r);
    /* A role that may not write the schema opens it without retention. */
    if (present || !b->opts.create_schema) return SITQ_OK;
    return pg_write_txn(b, schema_body, NULL, err);
}

typedef struct set_arg {
    const char *queue;
    const int64_t *succeeded_us, *failed_us;
} set_arg;

static sitq_code set_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    (void)b;
    set_arg *a = arg;
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, a->queue);
    if (!a->succeeded_us)
        return run_cmd(c, "DELETE FROM @.retention WHERE queue = $1::text", &p, NULL, err,
                       "storing a queue's retention");
    pg_p_i64(&p, *a->succeeded_us);
    pg_p_i64(&p, *a->failed_us);
    return run_cmd(c,
                   "INSERT INTO @.retention(queue, succeeded_us, failed_us) "
                   "VALUES($1::text, $2::bigint, $3::bigint) ON CONFLICT(queue) DO UPDATE "
                   "SET succeeded_us = EXCLUDED.succeeded_us, failed_us = EXCLUDED.failed_us",
                   &p, NULL, err, "storing a queue's retention");
}

sitq_code pg_retention_set(sitq_backend *base, const char *queue, const int64_t *succeeded_us,
                           const int64_t *failed_us, sitq_error *err) {
    set_arg a = {queue, succeeded_us, failed_us};
    sitq_code rc = pg_write_txn((pg_backend *)base, set_body, &a, err);
    return rc ? rc : sitq__ok(err);
}

sitq_code pg_retention_get(sitq_backend *base, const char *queue, int64_t *succeeded_us,
                           int64_t *failed_us, int *found, sitq_error *err) {
    pg_backend *b = (pg_backend *)base;
    *found = 0;
    pg_conn *c = pg_read_acquire(b, err);
    if (!c) return pg_code(err);
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, queue);
    PGresult *r = run(c, "SELECT succeeded_us, failed_us FROM @.retention WHERE queue = $1::text",
                      &p, err, "reading a queue's retention");
    pg_read_release(b, c);
    if (!r) return pg_code(err);
    if (PQntuples(r) == 1) {
        *found = 1;
        *succeeded_us = pg_i64(r, 0, 0);
        *failed_us = pg_i64(r, 0, 1);
    }
    PQclear(r);
    return sitq__ok(err);
}

/* The window's end (x->last_id) and the expired tasks in it, into ids
 * (locked FOR UPDATE SKIP LOCKED when `lock`). */
static sitq_code find_expired(pg_conn *c, sitq__expire *x, int lock, pg_array *ids,
                              sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, x->after_id);
    pg_p_i64(&p, (int64_t)x->max_rows);
    PGresult *r = run(c, window_sql, &p, err, "reading a retention window");
    if (!r) return pg_code(err);
    x->last_id = pg_i64(r, 0, 0);
    PQclear(r);
    if (x->last_id == 0) return SITQ_OK;
    pg_p_init(&p);
    pg_p_i64(&p, x->after_id);
    pg_p_i64(&p, x->last_id);
    pg_p_i64(&p, x->now_us);
    pg_p_i64(&p, x->succeeded_us);
    pg_p_i64(&p, x->failed_us);
    r = run(c, lock ? EXPIRED_SQL " FOR UPDATE OF t SKIP LOCKED" : EXPIRED_SQL, &p, err,
            "reading expired tasks");
    if (!r) return pg_code(err);
    for (int i = 0; i < PQntuples(r); i++) pg_arr_i64(ids, pg_i64(r, i, 0));
    PQclear(r);
    return ids->oom ? sitq__fail(err, SITQ_ENOMEM, "out of memory") : SITQ_OK;
}

sitq_code pg_delete_finished(pg_conn *c, pg_array *locked, int64_t *purged, sitq_error *err) {
    *purged = 0;
    pg_params p;
    pg_p_init(&p);
    if (pg_p_array(&p, locked) != 0) return sitq__fail(err, SITQ_ENOMEM, "out of memory");
    PGresult *r = run(c, unneeded_sql, &p, err, "reading the dependents of finished tasks");
    if (!r) return pg_code(err);
    pg_array ids;
    sitq_code rc = pg_arr_ids(&ids, r, err);
    PQclear(r);
    if (rc) return rc;
    for (size_t i = 0; !rc && ids.n > 0 && i < sizeof delete_sql / sizeof *delete_sql; i++) {
        pg_p_init(&p);
        if (pg_p_array(&p, &ids) != 0) {
            rc = sitq__fail(err, SITQ_ENOMEM, "out of memory");
            break;
        }
        if (strstr(delete_sql[i], "$2")) pg_p_i64(&p, (int64_t)(sitq__rand64() % PG_COUNT_SHARDS));
        int last = i + 1 == sizeof delete_sql / sizeof *delete_sql;
        rc = run_cmd(c, delete_sql[i], &p, last ? purged : NULL, err, "deleting finished tasks");
    }
    pg_arr_free(&ids);
    return rc;
}

static sitq_code expire_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    (void)b;
    sitq__expire *x = arg;
    x->purged = 0;
    pg_array ids;
    pg_arr_init(&ids, PG_OID_INT8);
    sitq_code rc = find_expired(c, x, 1, &ids, err);
    if (!rc && ids.n > 0) rc = pg_delete_finished(c, &ids, &x->purged, err);
    pg_arr_free(&ids);
    return rc;
}

sitq_code pg_expire(sitq_backend *base, sitq__expire *x, sitq_error *err) {
    pg_backend *b = (pg_backend *)base;
    x->purged = 0;
    pg_conn *c = pg_read_acquire(b, err);
    if (!c) return pg_code(err);
    pg_array ids;
    pg_arr_init(&ids, PG_OID_INT8);
    sitq_code rc = find_expired(c, x, 0, &ids, err);
    pg_read_release(b, c);
    int any = ids.n > 0;
    pg_arr_free(&ids);
    if (!rc && any) {
        sitq_task_id last = x->last_id;
        rc = pg_write_txn(b, expire_body, x, err);
        x->last_id = last; /* the same window, whatever came since */
    }
    if (rc) x->purged = 0;
    return rc ? rc : sitq__ok(err);
}

sitq_code pg_retained(sitq_backend *base, const char *queue, sitq_task_id *oldest_id,
                      sitq_time_us *finished_us, sitq_error *err) {
    pg_backend *b = (pg_backend *)base;
    *oldest_id = 0;
    *finished_us = 0;
    pg_conn *c = pg_read_acquire(b, err);
    if (!c) return pg_code(err);
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, queue);
    PGresult *r = run(c,
                      "SELECT id, finished_at_us FROM @.tasks WHERE queue = $1::text "
                      "AND state IN (4, 5, 6) ORDER BY id LIMIT 1",
                      &p, err, "reading the oldest finished task");
    pg_read_release(b, c);
    if (!r) return pg_code(err);
    if (PQntuples(r) == 1) {
        *oldest_id = pg_i64(r, 0, 0);
        *finished_us = pg_i64(r, 0, 1);
    }
    PQclear(r);
    return sitq__ok(err);
}
