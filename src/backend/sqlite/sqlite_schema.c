/* sqlite_schema.c - tables and indexes, created idempotently at open. */
#include "sq.h"

#include <string.h>

#define SCHEMA_VERSION "2" /* 2: sitq_counts, id_floor, lean partial indexes */

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS sitq_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    /* Ids are assigned by enqueue above max(id) and the 'id_floor' that
     * purge records, so they are never reused (cheaper than AUTOINCREMENT,
     * which writes sqlite_sequence on every insert). */
    "CREATE TABLE IF NOT EXISTS sitq_tasks("
    " id INTEGER PRIMARY KEY,"
    " queue TEXT NOT NULL,"
    " function TEXT NOT NULL,"
    " payload BLOB,"
    " state INTEGER NOT NULL,"          /* 0 queued/scheduled 1 waiting 3 running 4 succeeded 5 failed 6 cancelled */
    " priority INTEGER NOT NULL DEFAULT 0,"
    " run_at_us INTEGER NOT NULL,"      /* not before (ETA, backoff), UTC microseconds */
    " attempts INTEGER NOT NULL DEFAULT 0,"  /* counted at claim time (lesson 9) */
    " max_retries INTEGER NOT NULL DEFAULT 0,"
    " backoff_base_us INTEGER NOT NULL DEFAULT 1000000,"
    " backoff_cap_us INTEGER NOT NULL DEFAULT 3600000000,"
    " backoff_jitter REAL NOT NULL DEFAULT 0.1,"
    " timeout_us INTEGER NOT NULL DEFAULT 0,"
    " pending_deps INTEGER NOT NULL DEFAULT 0,"
    " unique_key TEXT,"
    " lease_token INTEGER,"
    " lease_until_us INTEGER,"          /* UTC microseconds */
    " worker_id TEXT,"
    " cancel_requested INTEGER NOT NULL DEFAULT 0,"
    " progress REAL,"
    " result BLOB,"
    " error TEXT,"
    " traceback TEXT,"
    " enqueued_at_us INTEGER NOT NULL,"
    " started_at_us INTEGER,"
    " finished_at_us INTEGER);"
    /* Few, narrow, partial indexes on purpose: each entry a transition
     * touches costs (measured with bench/: an index over every task's
     * (queue, state, id) cost 25% of the end-to-end rate, one over all live
     * tasks 40%). Ready tasks are indexed in claim order; running, waiting,
     * failed and cancelled ones by queue, for lease recovery, counts and
     * lists; succeeded ones are only counted, in sitq_counts. */
    /* (state is repeated in the keys so that counts read the index only) */
    "CREATE INDEX IF NOT EXISTS sitq_tasks_ready"
    " ON sitq_tasks(queue, priority DESC, run_at_us, id, state) WHERE state = 0;"
    "CREATE INDEX IF NOT EXISTS sitq_tasks_running ON sitq_tasks(queue, state, id)"
    " WHERE state = 3;"
    "CREATE INDEX IF NOT EXISTS sitq_tasks_waiting ON sitq_tasks(queue, state, id)"
    " WHERE state = 1;"
    "CREATE INDEX IF NOT EXISTS sitq_tasks_failed ON sitq_tasks(queue, state, id)"
    " WHERE state IN (5, 6);"
    "CREATE UNIQUE INDEX IF NOT EXISTS sitq_tasks_unique ON sitq_tasks(queue, unique_key)"
    " WHERE unique_key IS NOT NULL AND state IN (0, 1, 3);"
    /* Succeeded tasks per queue, added once per worker commit. */
    "CREATE TABLE IF NOT EXISTS sitq_counts(queue TEXT PRIMARY KEY,"
    " succeeded INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS sitq_deps(task_id INTEGER NOT NULL, depends_on INTEGER NOT NULL,"
    " PRIMARY KEY(depends_on, task_id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS sitq_deps_task ON sitq_deps(task_id);"
    "INSERT OR IGNORE INTO sitq_meta(key, value) VALUES('schema_version', '" SCHEMA_VERSION "');";

sitq_code sq_schema_init(sq_backend *b, sitq_error *err) {
    sitq_code rc = sq_write_begin(b, err);
    if (rc) return rc;
    char *msg = NULL;
    if (sqlite3_exec(b->writer.db, schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
        rc = sitq_fail(err, SITQ_ESTORAGE, "cannot create the sitq schema in %s: %s", b->path,
                       msg ? msg : "unknown error");
        sqlite3_free(msg);
        return sq_write_end(b, rc, NULL);
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(b->writer.db,
                           "SELECT value FROM sitq_meta WHERE key = 'schema_version'", -1, &st,
                           NULL) != SQLITE_OK) {
        rc = sq_fail(&b->writer, err, "reading the schema version");
    } else if (sqlite3_step(st) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (!v || strcmp(v, SCHEMA_VERSION) != 0)
            rc = sitq_fail(err, SITQ_ESCHEMA,
                           "%s has sitq schema version %s; this sitq understands version %s",
                           b->path, v ? v : "(null)", SCHEMA_VERSION);
    }
    sqlite3_finalize(st);
    return sq_write_end(b, rc, err);
}

/* The version checked at open without a write transaction (sq_schema_open). */
const char *sq_schema_version(void) { return SCHEMA_VERSION; }
