/* limits.c - what limits cost the claim: N no-op tasks drained by a 2-thread
 * worker (NORMAL), interleaved in one run so that the machine's drift hits
 * every variant alike: "off" (no limits: the baseline), "other" (another
 * queue is paused and limited, this one is not: the plain claim's guard
 * finds no row of its queue) and "on" (a concurrency limit on the function
 * and one on the queue, both too high to bind: every claim takes the
 * limited path, counting running tasks and locking its rows). Reports
 * tasks/s and each variant's ratio to "off". pg_limits does the same on
 * PostgreSQL (SITQ_BENCH_PG_URI). */
#include "bench.h"
#include "pg.h"

#include <stdlib.h>

static double drain_rate(bench_ctx *c, int variant, int pg) {
    char path[4096];
    bench_db_path(c, "limits", path, sizeof path);
    sitq_backend *b =
        pg ? bench_pg_open("sitq_bench_limits", 0) : bench_open(path, SITQ_SYNC_NORMAL);
    sitq_queue *q = bench_queue(b);
    sitq_error err;
    if (variant == 1) {
        sitq_queue *other = NULL;
        if (sitq_queue_open(b, "other", &other, &err) != SITQ_OK ||
            sitq_queue_pause(other, &err) != SITQ_OK ||
            sitq_queue_set_limit(other, "noop", 2, "10/s", &err) != SITQ_OK)
            fprintf(stderr, "sitq_bench: limits: %s\n", err.message);
        sitq_queue_close(other);
    } else if (variant == 2) {
        if (sitq_queue_set_limit(q, "noop", 1000000, NULL, &err) != SITQ_OK ||
            sitq_queue_set_limit(q, NULL, 1000000, NULL, &err) != SITQ_OK)
            fprintf(stderr, "sitq_bench: limits: %s\n", err.message);
    }
    long n = c->tasks;
    bench_enqueue_noop(q, n, NULL);
    sitq_worker_stats ws;
    double secs = bench_drain(q, n, 2, &ws);
    sitq_queue_close(q);
    sitq_backend_close(b);
    if (pg) bench_pg_drop_schema("sitq_bench_limits");
    else bench_db_remove(path);
    return (double)n / secs;
}

static int run(bench_ctx *c, int pg) {
    static const char *names[] = {"off", "other", "on"};
    double sum[3] = {0, 0, 0};
    drain_rate(c, 0, pg); /* warm-up (caches, the server's plans), not counted */
    /* Three interleaved rounds of each variant. */
    for (int r = 0; r < 3; r++)
        for (int v = 0; v < 3; v++) sum[v] += drain_rate(c, v, pg);
    const char *sys = pg ? "sitq-c-pg" : "sitq-c";
    for (int v = 0; v < 3; v++) {
        bench_emit(c, sys, "limits", names[v], "tasks_per_s", sum[v] / 3, "tasks/s");
        bench_emit(c, sys, "limits", names[v], "ratio_to_off", sum[v] / sum[0], "ratio");
    }
    return 0;
}

int bench_limits(bench_ctx *c) { return run(c, 0); }

int bench_pg_limits(bench_ctx *c) { return bench_pg_available("pg_limits") ? run(c, 1) : 0; }
