/* raw_sqlite.c - the physical limit: raw SQLite on the same disk, WAL, with
 * synchronous NORMAL and FULL.
 *   single: one INSERT per transaction (autocommit);
 *   batch:  1,000 INSERTs per transaction;
 *   naive:  a naive queue cycle, insert + claim + complete, each statement its
 *           own transaction (what a queue without group commit costs).
 * Loops of one commit per row stop after BUDGET_S seconds; the rate is over
 * the rows done. */
#include "bench.h"

#include <sqlite3.h>
#include <stdlib.h>

/* Per-commit loops stop after this many seconds even before n rows, so that a
 * slow disk (FULL: one fsync per commit) keeps the run short. */
#define BUDGET_S 2.0

static const char *const table_sql =
    "CREATE TABLE t(id INTEGER PRIMARY KEY, queue TEXT NOT NULL, function TEXT NOT NULL,"
    " payload BLOB, state INTEGER NOT NULL, run_at_us INTEGER NOT NULL);"
    "CREATE INDEX t_ready ON t(queue, run_at_us, id) WHERE state = 0;";

static sqlite3 *raw_open(const char *path, const char *sync) {
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "sitq_bench: cannot open %s: %s\n", path, sqlite3_errmsg(db));
        exit(1);
    }
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;", sync);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, table_sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "sitq_bench: raw setup: %s\n", msg ? msg : "?");
        exit(1);
    }
    return db;
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "sitq_bench: prepare %s: %s\n", sql, sqlite3_errmsg(db));
        exit(1);
    }
    return st;
}

static void step_done(sqlite3 *db, sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    while (rc == SQLITE_ROW) rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "sitq_bench: step: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    sqlite3_reset(st);
}

static void exec(sqlite3 *db, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "sitq_bench: %s: %s\n", sql, msg ? msg : "?");
        exit(1);
    }
}

static const char insert_sql[] = "INSERT INTO t(queue, function, payload, state, run_at_us) "
                                 "VALUES('default', 'noop', ?1, 0, ?2)";

static void bind_row(sqlite3_stmt *ins, long i) {
    static const char payload[8] = "12345678";
    sqlite3_bind_blob(ins, 1, payload, sizeof payload, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 2, (sqlite3_int64)i);
}

/* Rows per second with one INSERT per transaction. */
static double single(bench_ctx *c, const char *sync, long n) {
    char path[4096];
    bench_db_path(c, "raw-single", path, sizeof path);
    sqlite3 *db = raw_open(path, sync);
    sqlite3_stmt *ins = prep(db, insert_sql);
    double t0 = bench_now(), end = t0 + BUDGET_S;
    long i = 0;
    for (; i < n && ((i & 15) || bench_now() < end); i++) {
        bind_row(ins, i);
        step_done(db, ins);
    }
    double dt = bench_now() - t0;
    sqlite3_finalize(ins);
    sqlite3_close(db);
    bench_db_remove(path);
    return (double)i / dt;
}

/* Rows per second with `per_txn` INSERTs per transaction. */
static double batch(bench_ctx *c, const char *sync, long n, long per_txn) {
    char path[4096];
    bench_db_path(c, "raw-batch", path, sizeof path);
    sqlite3 *db = raw_open(path, sync);
    sqlite3_stmt *ins = prep(db, insert_sql);
    double t0 = bench_now();
    for (long i = 0; i < n;) {
        exec(db, "BEGIN IMMEDIATE");
        for (long j = 0; j < per_txn && i < n; j++, i++) {
            bind_row(ins, i);
            step_done(db, ins);
        }
        exec(db, "COMMIT");
    }
    double dt = bench_now() - t0;
    sqlite3_finalize(ins);
    sqlite3_close(db);
    bench_db_remove(path);
    return (double)n / dt;
}

/* Tasks per second of a naive queue: insert, claim, complete, each its own
 * transaction, one task at a time. */
static double naive(bench_ctx *c, const char *sync, long n) {
    char path[4096];
    bench_db_path(c, "raw-naive", path, sizeof path);
    sqlite3 *db = raw_open(path, sync);
    sqlite3_stmt *ins = prep(db, insert_sql);
    sqlite3_stmt *claim =
        prep(db, "UPDATE t SET state = 3 WHERE id = (SELECT id FROM t WHERE queue = 'default'"
                 " AND state = 0 AND run_at_us <= ?1 ORDER BY run_at_us, id LIMIT 1) RETURNING id");
    sqlite3_stmt *done = prep(db, "UPDATE t SET state = 4 WHERE id = ?1 AND state = 3");
    double t0 = bench_now(), end = t0 + BUDGET_S;
    long i = 0;
    for (; i < n && ((i & 15) || bench_now() < end); i++) {
        bind_row(ins, i);
        step_done(db, ins);
        sqlite3_bind_int64(claim, 1, (sqlite3_int64)n);
        if (sqlite3_step(claim) != SQLITE_ROW) {
            fprintf(stderr, "sitq_bench: naive claim found nothing: %s\n", sqlite3_errmsg(db));
            exit(1);
        }
        sqlite3_int64 id = sqlite3_column_int64(claim, 0);
        step_done(db, claim);
        sqlite3_bind_int64(done, 1, id);
        step_done(db, done);
    }
    double dt = bench_now() - t0;
    sqlite3_finalize(ins);
    sqlite3_finalize(claim);
    sqlite3_finalize(done);
    sqlite3_close(db);
    bench_db_remove(path);
    return (double)i / dt;
}

int bench_raw_sqlite(bench_ctx *c) {
    long n = c->tasks;
    long nb = n * 10 < 100000 ? 100000 : n * 10;
    int normal = bench_sync_on(c, SITQ_SYNC_NORMAL), full = bench_sync_on(c, SITQ_SYNC_FULL);
    if (normal)
        bench_emit(c, "sqlite-raw", "single", "NORMAL", "rows_per_s", single(c, "NORMAL", n),
                   "rows/s");
    if (full)
        bench_emit(c, "sqlite-raw", "single", "FULL", "rows_per_s", single(c, "FULL", n), "rows/s");
    if (normal)
        bench_emit(c, "sqlite-raw", "batch1000", "NORMAL", "rows_per_s",
                   batch(c, "NORMAL", nb, 1000), "rows/s");
    if (full)
        bench_emit(c, "sqlite-raw", "batch1000", "FULL", "rows_per_s", batch(c, "FULL", nb, 1000),
                   "rows/s");
    if (normal)
        bench_emit(c, "sqlite-raw", "naive_cycle", "NORMAL", "tasks_per_s", naive(c, "NORMAL", n),
                   "tasks/s");
    if (full)
        bench_emit(c, "sqlite-raw", "naive_cycle", "FULL", "tasks_per_s", naive(c, "FULL", n),
                   "tasks/s");
    return 0;
}
