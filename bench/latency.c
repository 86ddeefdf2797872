/* latency.c - enqueue-to-start latency within one process: a worker with 2
 * handler threads runs while a producer enqueues one task every 2 ms (a
 * steady trickle, NORMAL). Each payload carries the time taken just before
 * the sitq_enqueue call; the handler records now - that time, so the figure
 * includes the enqueue's own commit. */
#include "bench.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

int bench_latency(bench_ctx *c) {
    const int64_t interval_us = 2000;
    long n = (long)(c->latency_s * 1e6 / (double)interval_us);
    if (n < 10) n = 10;
    char path[4096];
    bench_db_path(c, "latency", path, sizeof path);
    sitq_backend *b = bench_open(path, SITQ_SYNC_NORMAL);
    sitq_queue *q = bench_queue(b);
    bench_lat s = {calloc((size_t)n, sizeof(double)), n, 0};
    double *call_us = calloc((size_t)n, sizeof(double));
    if (!s.lat_us || !call_us) bench_die("allocating", NULL);
    atomic_init(&s.n, 0);

    sitq_worker *w = bench_worker_new(q, 2, "latency", bench_lat_handler, &s);
    sitq_error err;
    if (sitq_worker_start(w, &err) != SITQ_OK) bench_die("starting the worker", &err);
    bench_sleep_us(100000); /* let the worker reach its idle wait */

    double start = bench_now();
    for (long i = 0; i < n; i++) {
        double due = start + (double)i * (double)interval_us / 1e6;
        double now = bench_now();
        if (due > now) bench_sleep_us((int64_t)((due - now) * 1e6));
        int64_t t0 = sitq_now_us();
        sitq_task_id id;
        if (sitq_enqueue(q, "latency", &t0, sizeof t0, NULL, &id, &err) != SITQ_OK)
            bench_die("enqueue", &err);
        call_us[i] = (double)(sitq_now_us() - t0);
    }
    double deadline = bench_now() + 30;
    while (atomic_load(&s.n) < n && bench_now() < deadline) bench_sleep_us(1000);
    long got = atomic_load(&s.n);
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);
    sitq_worker_free(w);
    sitq_queue_close(q);
    sitq_backend_close(b);
    bench_db_remove(path);
    if (got > n) got = n;
    bench_emit(c, "sitq-c", "latency", "NORMAL", "samples", (double)got, "tasks");
    bench_emit(c, "sitq-c", "latency", "NORMAL", "worker_commits", (double)ws.commits, "commits");
    bench_emit(c, "sitq-c", "latency", "NORMAL", "enqueue_call_p50_us",
               bench_percentile(call_us, (size_t)n, 0.5), "us");
    bench_emit(c, "sitq-c", "latency", "NORMAL", "start_p50_us",
               bench_percentile(s.lat_us, (size_t)got, 0.5), "us");
    bench_emit(c, "sitq-c", "latency", "NORMAL", "start_p99_us",
               bench_percentile(s.lat_us, (size_t)got, 0.99), "us");
    bench_emit(c, "sitq-c", "latency", "NORMAL", "start_max_us",
               bench_percentile(s.lat_us, (size_t)got, 1.0), "us");
    free(s.lat_us);
    free(call_us);
    return got == n ? 0 : 1;
}
