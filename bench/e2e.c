/* e2e.c - end-to-end no-op tasks through the C API: a batch of N tasks is
 * enqueued, then drained by one worker with 2 handler threads, with
 * synchronous NORMAL and FULL. After the run the database is reopened with
 * raw SQLite and every task must be recorded succeeded (no acknowledged
 * result lost). Timed from sitq_worker_start until the handler ran N times
 * and sitq_worker_stop (graceful: it commits the last completions) returned.
 * Also reports the database bytes per finished task. */
#include "bench.h"

#include <sqlite3.h>
#include <stdlib.h>

static int64_t count_succeeded(const char *path, int64_t *total) {
    sqlite3 *db = NULL;
    int64_t ok = -1;
    *total = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "SELECT count(*), sum(state = 4) FROM sitq_tasks", -1, &st,
                               NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW) {
            *total = sqlite3_column_int64(st, 0);
            ok = sqlite3_column_int64(st, 1);
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return ok;
}

static void one(bench_ctx *c, sitq_sync_mode sync) {
    const char *v = bench_sync_name(sync);
    char path[4096];
    bench_db_path(c, "e2e", path, sizeof path);
    sitq_backend *b = bench_open(path, sync);
    sitq_queue *q = bench_queue(b);
    long n = c->tasks;
    double t0 = bench_now();
    bench_enqueue_noop(q, n, NULL);
    double t1 = bench_now();
    sitq_worker_stats ws;
    double t2 = t1 + bench_drain(q, n, 2, &ws);
    sitq_queue_close(q);
    sitq_backend_close(b);
    int64_t total = 0, ok = count_succeeded(path, &total);
    bench_emit(c, "sitq-c", "e2e", v, "tasks_per_s", (double)n / (t2 - t1), "tasks/s");
    bench_emit(c, "sitq-c", "e2e", v, "enqueue_plus_drain_per_s", (double)n / (t2 - t0), "tasks/s");
    bench_emit(c, "sitq-c", "e2e", v, "tasks_per_commit",
               (double)n / (double)(ws.commits ? ws.commits : 1), "tasks");
    bench_emit(c, "sitq-c", "e2e", v, "lost", (double)(n - (ok < 0 ? 0 : ok)), "tasks");
    bench_emit(c, "sitq-c", "e2e", v, "db_bytes_per_task", (double)bench_db_bytes(path) / (double)n,
               "bytes");
    if (ok != n || total != n)
        fprintf(stderr, "sitq_bench: e2e %s: %lld of %lld tasks recorded succeeded\n", v,
                (long long)ok, (long long)total);
    bench_db_remove(path);
}

int bench_e2e(bench_ctx *c) {
    if (bench_sync_on(c, SITQ_SYNC_NORMAL)) one(c, SITQ_SYNC_NORMAL);
    if (bench_sync_on(c, SITQ_SYNC_FULL)) one(c, SITQ_SYNC_FULL);
    return 0;
}
