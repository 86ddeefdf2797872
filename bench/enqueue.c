/* enqueue.c - producer throughput through the C API, synchronous NORMAL and
 * FULL: one sitq_enqueue call at a time (one thread), several producer
 * threads at once (group commit can merge their commits), and
 * sitq_enqueue_batch with 1,000 tasks per call. */
#include "bench.h"

#include <pthread.h>
#include <stdlib.h>

enum { PRODUCERS = 4, BATCH = 1000 };

/* One-call-at-a-time loops stop after this many seconds even before n tasks
 * (FULL on a slow disk); the rate is over the tasks done. */
#define BUDGET_S 2.0

typedef struct producer {
    sitq_queue *q;
    long n, done;
    double end;
} producer;

static void *produce(void *arg) {
    producer *p = arg;
    static const char payload[8] = "12345678";
    sitq_error err;
    for (p->done = 0; p->done < p->n && ((p->done & 15) || bench_now() < p->end); p->done++) {
        sitq_task_id id;
        if (sitq_enqueue(p->q, "noop", payload, sizeof payload, NULL, &id, &err) != SITQ_OK)
            bench_die("enqueue", &err);
    }
    return NULL;
}

/* Tasks per second of `threads` producers enqueueing n tasks in total. */
static double run_single(bench_ctx *c, sitq_sync_mode sync, int threads, long n) {
    char path[4096];
    bench_db_path(c, "enqueue", path, sizeof path);
    sitq_backend *b = bench_open(path, sync);
    sitq_queue *q = bench_queue(b);
    producer p[PRODUCERS];
    pthread_t th[PRODUCERS];
    double t0 = bench_now();
    for (int i = 0; i < threads; i++) p[i] = (producer){q, n / threads, 0, t0 + BUDGET_S};
    if (threads == 1) {
        produce(&p[0]);
    } else {
        for (int i = 0; i < threads; i++)
            if (pthread_create(&th[i], NULL, produce, &p[i]) != 0)
                bench_die("pthread_create", NULL);
        for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
    }
    double dt = bench_now() - t0;
    long done = 0;
    for (int i = 0; i < threads; i++) done += p[i].done;
    sitq_queue_close(q);
    sitq_backend_close(b);
    bench_db_remove(path);
    return (double)done / dt;
}

static double run_batch(bench_ctx *c, sitq_sync_mode sync, long n) {
    char path[4096];
    bench_db_path(c, "enqueue-batch", path, sizeof path);
    sitq_backend *b = bench_open(path, sync);
    sitq_queue *q = bench_queue(b);
    sitq_task_spec *specs = calloc(BATCH, sizeof *specs);
    sitq_task_id *ids = malloc(BATCH * sizeof *ids);
    static const char payload[8] = "12345678";
    if (!specs || !ids) bench_die("allocating", NULL);
    for (int i = 0; i < BATCH; i++) {
        specs[i].function = "noop";
        specs[i].payload = payload;
        specs[i].payload_len = sizeof payload;
    }
    sitq_error err;
    double t0 = bench_now();
    for (long done = 0; done < n; done += BATCH)
        if (sitq_enqueue_batch(q, specs, BATCH, ids, &err) != SITQ_OK)
            bench_die("enqueue_batch", &err);
    double dt = bench_now() - t0;
    free(specs);
    free(ids);
    sitq_queue_close(q);
    sitq_backend_close(b);
    bench_db_remove(path);
    long enqueued = (n + BATCH - 1) / BATCH * BATCH; /* whole batches */
    return (double)enqueued / dt;
}

int bench_enqueue(bench_ctx *c) {
    static const sitq_sync_mode modes[] = {SITQ_SYNC_NORMAL, SITQ_SYNC_FULL};
    for (int m = 0; m < 2; m++) {
        sitq_sync_mode s = modes[m];
        if (!bench_sync_on(c, s)) continue;
        const char *v = bench_sync_name(s);
        long n = c->tasks;
        bench_emit(c, "sitq-c", "enqueue_single", v, "tasks_per_s", run_single(c, s, 1, n),
                   "tasks/s");
        bench_emit(c, "sitq-c", "enqueue_4threads", v, "tasks_per_s",
                   run_single(c, s, PRODUCERS, n), "tasks/s");
        bench_emit(c, "sitq-c", "enqueue_batch", v, "tasks_per_s", run_batch(c, s, c->tasks * 5),
                   "tasks/s");
    }
    return 0;
}
