/* dash_load.c - the workers' side of bench/dashboard_load.sh: no-op tasks
 * put into the queue "load" of an existing store (--store: a SQLite path
 * or a postgresql:// URI, e.g. a 10M-task store that a dashboard is
 * serving), then drained by one worker with 2 handler threads, timed.
 * Filling and draining are two scenarios so that the script can start its
 * HTTP load between them and time only the drain: the figure is the
 * workers' throughput while the dashboard is (or is not) being read. */
#include "bench.h"

/* The queue "load" of --store, or NULL without --store (the scenario is then
 * skipped: `--scenario all` names it too). */
static sitq_queue *load_queue(bench_ctx *c, sitq_backend **b) {
    if (!c->store) {
        printf("  skipped: load_fill and load_drain need --store PATH_OR_URI\n");
        return NULL;
    }
    sitq_error err;
    if (sitq_backend_open(c->store, b, &err) != SITQ_OK) bench_die("opening the store", &err);
    sitq_queue *q = NULL;
    if (sitq_queue_open(*b, "load", &q, &err) != SITQ_OK) bench_die("opening the queue", &err);
    return q;
}

int bench_load_fill(bench_ctx *c) {
    sitq_backend *b = NULL;
    sitq_queue *q = load_queue(c, &b);
    if (!q) return 0;
    double t0 = bench_now();
    bench_enqueue_noop(q, c->tasks, NULL);
    printf("  enqueued %ld no-op tasks into queue load in %.2f s\n", c->tasks, bench_now() - t0);
    sitq_queue_close(q);
    sitq_backend_close(b);
    return 0;
}

int bench_load_drain(bench_ctx *c) {
    sitq_backend *b = NULL;
    sitq_queue *q = load_queue(c, &b);
    if (!q) return 0;
    sitq_worker_stats ws;
    double dt = bench_drain(q, c->tasks, 2, &ws);
    bench_emit(c, "sitq-c", "load_drain", c->label ? c->label : "drain", "tasks_per_s",
               (double)c->tasks / dt, "tasks/s");
    sitq_queue_close(q);
    sitq_backend_close(b);
    return 0;
}
