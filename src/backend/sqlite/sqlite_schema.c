/* sqlite_schema.c - tables and indexes, created idempotently at open. */
#include "sq.h"

#include <string.h>

/* 2: sitq_counts, id_floor, lean partial indexes; 3: large payloads and
 * results in their own tables, attempts counted at start, lapses; 4:
 * dependency edges keep their declared position and the finalizer flag; 5:
 * the monotonic counters of sitq_counts (total_*). */
#define SCHEMA_VERSION "5"

/* The monotonic counters' columns, each after sep: in the table's creation
 * (sep ",") and in an upgrade from version 4 or older (sep ";ALTER TABLE
 * ... ADD COLUMN"; the empty statement before the first is skipped). */
#define COUNTS_TOTALS_COLUMNS(sep)                                                                 \
    sep " total_purged INTEGER NOT NULL DEFAULT 0" sep                                             \
        " total_succeeded INTEGER NOT NULL DEFAULT 0" sep                                          \
        " total_failed INTEGER NOT NULL DEFAULT 0" sep                                             \
        " total_retried INTEGER NOT NULL DEFAULT 0" sep                                            \
        " total_lost INTEGER NOT NULL DEFAULT 0" sep " total_cancelled INTEGER NOT NULL DEFAULT 0"

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS sitq_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    /* Ids are assigned by enqueue above max(id) and the 'id_floor' that
     * purge records, so they are never reused (cheaper than AUTOINCREMENT,
     * which writes sqlite_sequence on every insert). */
    /* Hot columns first. Payloads and results come last and only when they
     * are small (SQ_INLINE_MAX); larger ones live in sitq_payloads and
     * sitq_results (flag bits in `blobs`), so that a claim, a heartbeat, a
     * lease recovery or a completion never reads or rewrites them: SQLite
     * rewrites the whole record on every UPDATE. */
    "CREATE TABLE IF NOT EXISTS sitq_tasks("
    " id INTEGER PRIMARY KEY,"
    " queue TEXT NOT NULL,"
    " function TEXT NOT NULL,"
    " state INTEGER NOT NULL," /* sitq__state: 0 queued/scheduled 1 waiting 3 running 4 succeeded 5 failed 6 cancelled */
    " priority INTEGER NOT NULL DEFAULT 0,"
    " run_at_us INTEGER NOT NULL,"          /* not before (ETA, backoff), UTC microseconds; kept
                                           through recovery, so a task keeps its place */
    " attempts INTEGER NOT NULL DEFAULT 0," /* attempts whose start was recorded */
    " max_retries INTEGER NOT NULL DEFAULT 0,"
    " backoff_base_us INTEGER NOT NULL DEFAULT 1000000,"
    " backoff_cap_us INTEGER NOT NULL DEFAULT 3600000000,"
    " backoff_jitter REAL NOT NULL DEFAULT 0.1,"
    " timeout_us INTEGER NOT NULL DEFAULT 0,"
    " pending_deps INTEGER NOT NULL DEFAULT 0,"
    " unique_key TEXT,"
    " lease_token INTEGER,"
    " lease_until_us INTEGER," /* UTC microseconds */
    " worker_id TEXT,"
    " cancel_requested INTEGER NOT NULL DEFAULT 0,"
    " progress REAL,"
    " lapses INTEGER NOT NULL DEFAULT 0," /* leases lost before a start was recorded */
    " blobs INTEGER NOT NULL DEFAULT 0," /* 1: payload in sitq_payloads; 2: result in sitq_results */
    " error TEXT,"
    " traceback TEXT,"
    " enqueued_at_us INTEGER NOT NULL,"
    " started_at_us INTEGER," /* NULL while the current lease's attempt has not started */
    " finished_at_us INTEGER,"
    " payload BLOB," /* inline when at most SQ_INLINE_MAX bytes */
    " result BLOB);" /* inline when at most SQ_INLINE_MAX bytes */
    "CREATE TABLE IF NOT EXISTS sitq_payloads(id INTEGER PRIMARY KEY, payload BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sitq_results(id INTEGER PRIMARY KEY, result BLOB NOT NULL);"
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
    " WHERE unique_key IS NOT NULL AND " SQ_SQL_HOLDS_UNIQUE_KEY ";"
    /* Per queue, added once per commit: succeeded tasks stored (purge
     * decreases it), the monotonic counters (sitq_totals), which nothing
     * decreases, and the tasks purged (enqueued = stored + purged). */
    "CREATE TABLE IF NOT EXISTS sitq_counts(queue TEXT PRIMARY KEY,"
    " succeeded INTEGER NOT NULL DEFAULT 0" COUNTS_TOTALS_COLUMNS(
        ",") ") WITHOUT ROWID;"
             /* position: the dependency's place in the order declared at enqueue
     * (dense, 0-based), which a handler reads results in; finalizer: the
     * dependent runs once the dependency is terminal, whatever its outcome.
     * (task_id, position) finds one dependency of a task in one lookup. */
             "CREATE TABLE IF NOT EXISTS sitq_deps(task_id INTEGER NOT NULL, depends_on INTEGER "
             "NOT NULL,"
             " position INTEGER NOT NULL DEFAULT 0, finalizer INTEGER NOT NULL DEFAULT 0,"
             " PRIMARY KEY(depends_on, task_id)) WITHOUT ROWID;"
             "INSERT OR IGNORE INTO sitq_meta(key, value) VALUES('schema_version', '" SCHEMA_VERSION
             "');";

/* Made after any upgrade: an older sitq_deps has no position until then. */
static const char *const deps_index_sql =
    "CREATE INDEX IF NOT EXISTS sitq_deps_order ON sitq_deps(task_id, position);";

/* Version 2 kept payloads and results inline, before the hot columns, and
 * had no lapses or blobs. Rebuild the task table in the version 3 layout,
 * moving large payloads and results to their tables; attempts keep their
 * meaning (a running version 2 task has its start recorded). */
static const char *const migrate_2_sql =
    "ALTER TABLE sitq_tasks RENAME TO sitq_tasks_v2;"
    "DROP INDEX IF EXISTS sitq_tasks_ready; DROP INDEX IF EXISTS sitq_tasks_running;"
    "DROP INDEX IF EXISTS sitq_tasks_waiting; DROP INDEX IF EXISTS sitq_tasks_failed;"
    "DROP INDEX IF EXISTS sitq_tasks_unique;";
static const char *const migrate_2_copy_sql =
    "INSERT INTO sitq_tasks(id, queue, function, state, priority, run_at_us, attempts,"
    " max_retries, backoff_base_us, backoff_cap_us, backoff_jitter, timeout_us, pending_deps,"
    " unique_key, lease_token, lease_until_us, worker_id, cancel_requested, progress, lapses,"
    " blobs, error, traceback, enqueued_at_us, started_at_us, finished_at_us, payload, result)"
    " SELECT id, queue, function, state, priority, run_at_us, attempts, max_retries,"
    " backoff_base_us, backoff_cap_us, backoff_jitter, timeout_us, pending_deps, unique_key,"
    " lease_token, lease_until_us, worker_id, cancel_requested, progress, 0,"
    " (COALESCE(length(payload), 0) > 1024) | ((COALESCE(length(result), 0) > 1024) << 1),"
    " error, traceback, enqueued_at_us, started_at_us, finished_at_us,"
    " CASE WHEN length(payload) > 1024 THEN NULL ELSE payload END,"
    " CASE WHEN length(result) > 1024 THEN NULL ELSE result END FROM sitq_tasks_v2;"
    "INSERT INTO sitq_payloads(id, payload) SELECT id, payload FROM sitq_tasks_v2"
    " WHERE length(payload) > 1024;"
    "INSERT INTO sitq_results(id, result) SELECT id, result FROM sitq_tasks_v2"
    " WHERE length(result) > 1024;"
    "DROP TABLE sitq_tasks_v2;"
    "UPDATE sitq_meta SET value = '" SCHEMA_VERSION "' WHERE key = 'schema_version';";

/* Version 3 kept no declared order of dependencies (nor finalizers): their
 * edges get positions in ascending id order, the order reads used then. */
static const char *const migrate_3_sql =
    "ALTER TABLE sitq_deps ADD COLUMN position INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sitq_deps ADD COLUMN finalizer INTEGER NOT NULL DEFAULT 0;"
    "UPDATE sitq_deps SET position = o.pos FROM (SELECT task_id, depends_on,"
    " row_number() OVER (PARTITION BY task_id ORDER BY depends_on) - 1 AS pos FROM sitq_deps) o"
    " WHERE sitq_deps.task_id = o.task_id AND sitq_deps.depends_on = o.depends_on;"
    "DROP INDEX IF EXISTS sitq_deps_task;";

/* Version 4 and older kept only the succeeded count: the monotonic
 * counters start at 0 from the upgrade (what came before is not known);
 * enqueued starts at the tasks stored (total_purged at 0). */
static const char *const migrate_4_sql =
    COUNTS_TOTALS_COLUMNS(";ALTER TABLE sitq_counts ADD COLUMN") ";";

/* Inside the schema transaction: all or nothing. From 2, the dependency
 * edges are upgraded first (migrate_3_sql), then the task table; from 2, 3
 * and 4 the counters (migrate_4_sql). */
static sitq_code migrate_from(sq_backend *b, int from, sitq_error *err) {
    char *msg = NULL;
    int ok = sqlite3_exec(b->writer.db, migrate_4_sql, NULL, NULL, &msg) == SQLITE_OK;
    if (ok && from < 4)
        ok = sqlite3_exec(b->writer.db, migrate_3_sql, NULL, NULL, &msg) == SQLITE_OK;
    /* After the rename, schema_sql creates the new table and its indexes. */
    if (ok && from == 2)
        ok = sqlite3_exec(b->writer.db, migrate_2_sql, NULL, NULL, &msg) == SQLITE_OK &&
             sqlite3_exec(b->writer.db, schema_sql, NULL, NULL, &msg) == SQLITE_OK &&
             sqlite3_exec(b->writer.db, migrate_2_copy_sql, NULL, NULL, &msg) == SQLITE_OK;
    else if (ok)
        ok = sqlite3_exec(b->writer.db,
                          "UPDATE sitq_meta SET value = '" SCHEMA_VERSION
                          "' WHERE key = 'schema_version';",
                          NULL, NULL, &msg) == SQLITE_OK;
    if (!ok) {
        sitq_code rc = sitq__fail(err, SITQ_ESTORAGE,
                                  "cannot upgrade %s from sitq schema version %d to %s: %s",
                                  b->path, from, SCHEMA_VERSION, msg ? msg : "unknown error");
        sqlite3_free(msg);
        return rc;
    }
    return SITQ_OK;
}

sitq_code sq_schema_init(sq_backend *b, sitq_error *err) {
    sitq_code rc = sq_write_begin(b, err);
    if (rc) return rc;
    char *msg = NULL;
    if (sqlite3_exec(b->writer.db, schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
        rc = sitq__fail(err, SITQ_ESTORAGE, "cannot create the sitq schema in %s: %s", b->path,
                        msg ? msg : "unknown error");
        sqlite3_free(msg);
        return sq_write_end(b, rc, NULL);
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(b->writer.db, "SELECT value FROM sitq_meta WHERE key = 'schema_version'",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = sq_fail(&b->writer, err, "reading the schema version");
    } else if (sqlite3_step(st) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        int from = !v ? 0 : !strcmp(v, "2") ? 2 : !strcmp(v, "3") ? 3 : !strcmp(v, "4") ? 4 : 0;
        if (from) {
            sqlite3_finalize(st);
            st = NULL;
            rc = migrate_from(b, from, err);
        } else if (!v || strcmp(v, SCHEMA_VERSION) != 0)
            rc = sitq__fail(err, SITQ_ESCHEMA,
                            "%s has sitq schema version %s; this sitq understands version %s",
                            b->path, v ? v : "(null)", SCHEMA_VERSION);
    }
    sqlite3_finalize(st);
    if (!rc) rc = sq_workers_schema(&b->writer, err);
    if (!rc) b->workers_ready = 1;
    if (!rc && sqlite3_exec(b->writer.db, deps_index_sql, NULL, NULL, &msg) != SQLITE_OK) {
        rc = sitq__fail(err, SITQ_ESTORAGE, "cannot create the sitq schema in %s: %s", b->path,
                        msg ? msg : "unknown error");
        sqlite3_free(msg);
    }
    if (!rc) rc = sq_retention_schema_txn(b, err);
    return sq_write_end(b, rc, err);
}

/* The version checked at open without a write transaction (sq_schema_open). */
const char *sq_schema_version(void) { return SCHEMA_VERSION; }
