/* claim_depth.c - claim throughput as the queue grows: N no-op tasks are run
 * by a worker with 2 handler threads from the head of a queue that holds N
 * plus 10k, 1M or 10M more queued tasks (NORMAL).
 *
 * The deep queues are built once per --dir (depth-<D>.db, kept between runs
 * and topped up after each): sitq opens the file to create its schema, then
 * raw SQLite inserts rows in sitq's schema in big transactions
 * (synchronous=OFF), which is far faster than any queue API. If that insert
 * fails (the schema changed), sitq_enqueue_batch builds the queue instead. */
#include "bench.h"

#include <fcntl.h>

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

static int raw_fill(const char *path, long n) {
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_exec(db, "PRAGMA synchronous=OFF; PRAGMA cache_size=-262144;", NULL, NULL, NULL);
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_prepare_v2(
                 db,
                 "INSERT INTO sitq_tasks(queue, function, payload, state, priority, run_at_us,"
                 " enqueued_at_us) VALUES('default', 'noop', ?1, 0, 0, ?2, ?2)",
                 -1, &st, NULL) == SQLITE_OK;
    static const char payload[8] = "12345678";
    sitq_time_us base = sitq_now_us() - 1000000; /* already due */
    for (long i = 0; ok && i < n;) {
        ok = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
        for (long j = 0; ok && j < 100000 && i < n; j++, i++) {
            sqlite3_bind_blob(st, 1, payload, sizeof payload, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, base + i / 1000); /* FIFO; 1,000 per microsecond */
            ok = sqlite3_step(st) == SQLITE_DONE;
            sqlite3_reset(st);
        }
        if (ok) ok = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
        else sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    if (!ok) fprintf(stderr, "sitq_bench: raw fill of %s failed: %s\n", path, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    sqlite3_close(db);
    return ok ? 0 : -1;
}

/* Write the file's dirty pages to disk now, so that the kernel's writeback
 * of a freshly built deep queue does not compete with the measurement. */
static void flush_file(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return;
    fsync(fd);
    close(fd);
}

/* Add n queued no-op tasks to the database at path. */
static void fill(const char *path, long n) {
    if (n <= 0) return;
    sitq_backend *b = bench_open(path, SITQ_SYNC_NORMAL); /* creates the schema */
    sitq_backend_close(b);
    if (raw_fill(path, n) == 0) {
        flush_file(path);
        return;
    }
    fprintf(stderr, "sitq_bench: falling back to sitq_enqueue_batch for %ld tasks\n", n);
    b = bench_open(path, SITQ_SYNC_OFF);
    sitq_queue *q = bench_queue(b);
    bench_enqueue_noop(q, n, NULL);
    sitq_queue_close(q);
    sitq_backend_close(b);
}

static long read_marker(const char *marker) {
    FILE *f = fopen(marker, "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1) v = -1;
        fclose(f);
    }
    return v;
}

static void write_marker(const char *marker, long v) {
    FILE *f = fopen(marker, "w");
    if (f) {
        fprintf(f, "%ld\n", v);
        fclose(f);
    }
}

static void one(bench_ctx *c, long depth, const char *label) {
    long m = c->tasks;
    char path[4096], marker[4200];
    snprintf(path, sizeof path, "%s/depth-%ld.db", c->dir, depth);
    snprintf(marker, sizeof marker, "%s.queued", path);
    long queued = read_marker(marker);
    if (queued < 0 || access(path, F_OK) != 0) {
        bench_db_remove(path);
        queued = 0;
    }
    double tb = bench_now();
    if (queued < depth + m) {
        fill(path, depth + m - queued);
        queued = depth + m;
        write_marker(marker, queued);
    }
    double build_s = bench_now() - tb;
    if (build_s > 1) printf("  (built %s queue in %.1f s)\n", label, build_s);

    sitq_backend *b = bench_open(path, SITQ_SYNC_NORMAL);
    sitq_queue *q = bench_queue(b);
    bench_counter *k = bench_counter_new();
    double t0 = bench_now();
    sitq_worker *w = bench_worker_start(q, 2, k);
    double deadline = t0 + 600;
    while (bench_counter_get(k) < m && bench_now() < deadline) bench_sleep_us(200);
    double dt = bench_now() - t0;
    int64_t ran = bench_counter_get(k);
    /* Stopping records the last completions and releases prefetched tasks. */
    sitq_error err;
    if (sitq_worker_stop(w, -1, &err) != SITQ_OK) bench_die("stopping the worker", &err);
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);
    sitq_worker_free(w);
    sitq_queue_close(q);
    sitq_backend_close(b);
    write_marker(marker, queued - (long)(ws.succeeded + ws.failed));
    bench_emit(c, "sitq-c", "claim_depth", label, "tasks_per_s", (double)ran / dt, "tasks/s");
    bench_counter_free(k);
}

int bench_claim_depth(bench_ctx *c) {
    one(c, 10000, "10k");
    one(c, 1000000, "1M");
    if (c->depth_max > 1000000) {
        char label[32];
        if (c->depth_max % 1000000 == 0)
            snprintf(label, sizeof label, "%ldM", c->depth_max / 1000000);
        else snprintf(label, sizeof label, "%ld", c->depth_max);
        one(c, c->depth_max, label);
    }
    return 0;
}
