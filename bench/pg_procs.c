/* pg_procs.c - one queue drained by 1, 4 and 16 worker processes on
 * PostgreSQL (scenario "pg_procs"): N no-op tasks are enqueued with
 * enqueue_batch into a paused queue, then P processes (each one sitq worker
 * with 2 handler threads) are started and each one's worker runs its first
 * cycle (its connections, its registry row, its prepared statements: 100-400
 * ms on a loaded machine) against the paused queue; only then does the clock
 * start, with the resume, which wakes every worker at once. Timed until the
 * handlers ran N times in all and every process's graceful stop returned
 * (the two parts are also reported apart: drain_ms, stop_ms); the start-up
 * (fork to the last process's first cycle) is reported apart, as the Python
 * pipeline benchmark reports its workers' start. A process that
 * claims rows another one holds must skip them, not wait: the rate should
 * not fall as processes are added. */
#include "pg.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROCS_SCHEMA "sitq_bench_procs"

enum { MAX_PROCS = 16 };

typedef struct shared {
    atomic_long done; /* handler calls over every process */
    atomic_int stop;  /* set by the parent once done reached N */
} shared;

static int count_handler(sitq_task_ctx *ctx, const void *payload, size_t len, void *user_data) {
    (void)ctx;
    (void)payload;
    (void)len;
    atomic_fetch_add(&((shared *)user_data)->done, 1);
    return 0;
}

/* A worker process: set up, start the worker, report ready on ready_fd once
 * its first cycle is done, stop gracefully when told. */
_Noreturn static void child(int ready_fd, shared *sh) {
    sitq_backend *b = bench_pg_attach(PROCS_SCHEMA, 0);
    sitq_queue *q = bench_queue(b);
    sitq_worker *w = bench_worker_new(q, 2, "noop", count_handler, sh);
    sitq_error err;
    if (sitq_worker_start(w, &err) != SITQ_OK) bench_die("starting the worker", &err);
    sitq_worker_stats st;
    double limit = bench_now() + 120;
    do {
        bench_sleep_us(1000);
        sitq_worker_get_stats(w, &st);
    } while (st.commits < 1 && bench_now() < limit);
    char x = 'r';
    if (st.commits < 1 || write(ready_fd, &x, 1) != 1) _exit(1);
    close(ready_fd);
    while (!atomic_load(&sh->stop)) bench_sleep_us(1000);
    if (sitq_worker_stop(w, -1, &err) != SITQ_OK) bench_die("stopping the worker", &err);
    sitq_worker_free(w);
    sitq_queue_close(q);
    sitq_backend_close(b);
    _exit(0);
}

/* Fork p children; returns after each one's worker finished its first
 * cycle. */
static void spawn(int p, pid_t *pids, shared *sh) {
    int ready[2];
    if (pipe(ready) != 0) bench_die("pipe", NULL);
    for (int i = 0; i < p; i++) {
        pids[i] = fork();
        if (pids[i] < 0) bench_die("fork", NULL);
        if (pids[i] == 0) {
            close(ready[0]);
            child(ready[1], sh);
        }
    }
    close(ready[1]);
    char x;
    for (int i = 0; i < p; i++)
        if (read(ready[0], &x, 1) != 1) bench_die("a worker process failed to start", NULL);
    close(ready[0]);
}

static void pause_queue(sitq_queue *q, int paused) {
    sitq_error err;
    sitq_code rc = paused ? sitq_queue_pause(q, &err) : sitq_queue_resume(q, &err);
    if (rc != SITQ_OK) bench_die(paused ? "pausing the queue" : "resuming the queue", &err);
}

static void one(bench_ctx *c, int p) {
    long n = c->tasks;
    sitq_backend *b = bench_pg_open(PROCS_SCHEMA, 0);
    sitq_queue *q = bench_queue(b);
    bench_enqueue_noop(q, n, NULL);
    pause_queue(q, 1);
    sitq_queue_close(q);
    sitq_backend_close(b);
    /* Read with no session open: the workers' first cycles are counted (a
     * few transactions per process, against N tasks). */
    int64_t x0 = bench_pg_xacts();
    shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) bench_die("mmap", NULL);
    atomic_init(&sh->done, 0);
    atomic_init(&sh->stop, 0);
    pid_t pids[MAX_PROCS];
    double s0 = bench_now();
    spawn(p, pids, sh);
    double startup = bench_now() - s0;
    b = bench_pg_attach(PROCS_SCHEMA, 0);
    q = bench_queue(b);
    double t0 = bench_now();
    pause_queue(q, 0); /* wakes every worker at once */
    while (atomic_load(&sh->done) < n && bench_now() < t0 + 600) bench_sleep_us(1000);
    double t_done = bench_now() - t0;
    atomic_store(&sh->stop, 1);
    int failed = atomic_load(&sh->done) < n;
    for (int i = 0; i < p; i++) {
        int st = 0;
        waitpid(pids[i], &st, 0);
        failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    double dt = bench_now() - t0;
    munmap(sh, sizeof *sh);
    sitq_queue_close(q);
    sitq_backend_close(b);
    char v[32];
    snprintf(v, sizeof v, "%d_procs", p);
    if (failed) fprintf(stderr, "sitq_bench: pg_procs %s: a worker process failed\n", v);
    bench_emit(c, "sitq-c", "pg_procs", v, "tasks_per_s", (double)n / dt, "tasks/s");
    bench_emit(c, "sitq-c", "pg_procs", v, "startup_ms", startup * 1e3, "ms");
    bench_emit(c, "sitq-c", "pg_procs", v, "drain_ms", t_done * 1e3, "ms");
    bench_emit(c, "sitq-c", "pg_procs", v, "stop_ms", (dt - t_done) * 1e3, "ms");
    bench_pg_emit_commits(c, "sitq-c", "pg_procs", v, x0, (double)n);
    bench_pg_drop_schema(PROCS_SCHEMA);
}

int bench_pg_procs(bench_ctx *c) {
    if (!bench_pg_available("pg_procs")) return 0;
    one(c, 1);
    one(c, 4);
    one(c, MAX_PROCS);
    return 0;
}
