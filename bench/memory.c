/* memory.c - worker memory over many tasks: M no-op tasks (1M by default)
 * are enqueued, then run by one worker with 2 handler threads while the
 * process's resident set size is sampled from /proc/self/statm every 50 ms.
 * Also the database bytes per finished task once all are done. */
#include "bench.h"

#include <stdlib.h>

int bench_memory(bench_ctx *c) {
    long n = c->memory_tasks;
    char path[4096];
    bench_db_path(c, "memory", path, sizeof path);
    sitq_backend *b = bench_open(path, SITQ_SYNC_NORMAL);
    sitq_queue *q = bench_queue(b);
    bench_enqueue_noop(q, n, NULL);
    bench_counter *k = bench_counter_new();
    int64_t rss_start = bench_rss_bytes();
    double t0 = bench_now();
    sitq_worker *w = bench_worker_start(q, 2, k);
    int64_t rss_max = rss_start, rss_10 = -1;
    double deadline = t0 + 1800;
    while (bench_counter_get(k) < n && bench_now() < deadline) {
        bench_sleep_us(50000);
        int64_t r = bench_rss_bytes();
        if (r > rss_max) rss_max = r;
        if (rss_10 < 0 && bench_counter_get(k) >= n / 10) rss_10 = r;
    }
    double dt = bench_now() - t0;
    int64_t ran = bench_counter_get(k);
    int64_t rss_end = bench_rss_bytes();
    if (rss_10 < 0) rss_10 = rss_end;
    sitq_worker_free(w);
    sitq_queue_close(q);
    sitq_backend_close(b);
    const double mib = 1024.0 * 1024.0;
    bench_emit(c, "sitq-c", "memory", "NORMAL", "tasks", (double)ran, "tasks");
    bench_emit(c, "sitq-c", "memory", "NORMAL", "tasks_per_s", (double)ran / dt, "tasks/s");
    bench_emit(c, "sitq-c", "memory", "NORMAL", "rss_start_mib", (double)rss_start / mib, "MiB");
    bench_emit(c, "sitq-c", "memory", "NORMAL", "rss_at_10pct_mib", (double)rss_10 / mib, "MiB");
    bench_emit(c, "sitq-c", "memory", "NORMAL", "rss_max_mib", (double)rss_max / mib, "MiB");
    bench_emit(c, "sitq-c", "memory", "NORMAL", "rss_end_mib", (double)rss_end / mib, "MiB");
    bench_emit(c, "sitq-c", "memory", "NORMAL", "rss_growth_after_10pct_mib",
               (double)(rss_max - rss_10) / mib, "MiB");
    bench_emit(c, "sitq-c", "memory", "NORMAL", "db_bytes_per_task",
               (double)bench_db_bytes(path) / (double)n, "bytes");
    bench_counter_free(k);
    bench_db_remove(path);
    return ran == n ? 0 : 1;
}
