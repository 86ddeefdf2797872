/* pg_latency.c - enqueue-to-start latency on PostgreSQL across processes
 * (scenario "pg_latency"): a worker with 2 handler threads waits idle in
 * this process while a producer process enqueues one task every 4 ms
 * (sitq_enqueue, one commit each) for max(2, --latency-s) seconds. Each
 * payload carries the wall-clock time taken just before the enqueue call;
 * the handler records now minus that time, so the figure includes the
 * enqueue's own durable commit and the wake-up across processes. Run with
 * LISTEN/NOTIFY wake-ups (the default) and with poll_only, for comparison. */
#include "pg.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LAT_SCHEMA "sitq_bench_latency"

/* The producer process: waits for a byte on fd, then trickles n tasks. */
_Noreturn static void producer(int fd, long n, int64_t interval_us) {
    char go;
    if (read(fd, &go, 1) != 1) _exit(1);
    sitq_backend *b = bench_pg_attach(LAT_SCHEMA, 0);
    sitq_queue *q = bench_queue(b);
    double start = bench_now();
    sitq_error err;
    for (long i = 0; i < n; i++) {
        double due = start + (double)i * (double)interval_us / 1e6, now = bench_now();
        if (due > now) bench_sleep_us((int64_t)((due - now) * 1e6));
        int64_t t0 = sitq_now_us();
        sitq_task_id id;
        if (sitq_enqueue(q, "latency", &t0, sizeof t0, NULL, &id, &err) != SITQ_OK)
            bench_die("enqueue", &err);
    }
    sitq_queue_close(q);
    sitq_backend_close(b);
    _exit(0);
}

static sitq_worker *lat_worker(sitq_queue *q, bench_lat *s) {
    sitq_worker *w = bench_worker_new(q, 2, "latency", bench_lat_handler, s);
    sitq_error err;
    if (sitq_worker_start(w, &err) != SITQ_OK) bench_die("starting the worker", &err);
    return w;
}

static void emit_lat(bench_ctx *c, const char *v, bench_lat *s, long n) {
    long got = atomic_load(&s->n);
    if (got > n) got = n;
    bench_emit(c, "sitq-c", "pg_latency", v, "samples", (double)got, "tasks");
    bench_emit(c, "sitq-c", "pg_latency", v, "start_p50_us",
               bench_percentile(s->lat_us, (size_t)got, 0.5), "us");
    bench_emit(c, "sitq-c", "pg_latency", v, "start_p99_us",
               bench_percentile(s->lat_us, (size_t)got, 0.99), "us");
    bench_emit(c, "sitq-c", "pg_latency", v, "start_max_us",
               bench_percentile(s->lat_us, (size_t)got, 1.0), "us");
}

static int one(bench_ctx *c, int poll_only) {
    const char *v = poll_only ? "poll_only" : "listen";
    const int64_t interval_us = 4000;
    double secs = c->latency_s < 2 ? 2 : c->latency_s;
    long n = (long)(secs * 1e6 / (double)interval_us);
    bench_pg_drop_schema(LAT_SCHEMA);
    int64_t x0 = bench_pg_xacts();
    int fds[2];
    if (pipe(fds) != 0) bench_die("pipe", NULL);
    pid_t pid = fork(); /* before this process starts any thread */
    if (pid < 0) bench_die("fork", NULL);
    if (pid == 0) {
        close(fds[1]);
        producer(fds[0], n, interval_us);
    }
    close(fds[0]);
    sitq_backend *b = bench_pg_attach(LAT_SCHEMA, poll_only);
    sitq_queue *q = bench_queue(b);
    bench_lat s = {calloc((size_t)n, sizeof(double)), n, 0};
    if (!s.lat_us) bench_die("allocating", NULL);
    sitq_worker *w = lat_worker(q, &s);
    bench_sleep_us(300000); /* let the worker reach its idle wait */
    if (write(fds[1], "g", 1) != 1) bench_die("write", NULL);
    close(fds[1]);
    int status = 0;
    waitpid(pid, &status, 0);
    double deadline = bench_now() + 30;
    while (atomic_load(&s.n) < n && bench_now() < deadline) bench_sleep_us(1000);
    sitq_worker_free(w);
    sitq_queue_close(q);
    sitq_backend_close(b);
    emit_lat(c, v, &s, n);
    bench_pg_emit_commits(c, "sitq-c", "pg_latency", v, x0, (double)n);
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && atomic_load(&s.n) >= n;
    free(s.lat_us);
    bench_pg_drop_schema(LAT_SCHEMA);
    return ok ? 0 : 1;
}

int bench_pg_latency(bench_ctx *c) {
    if (!bench_pg_available("pg_latency")) return 0;
    int rc = one(c, 0);
    return one(c, 1) | rc;
}
