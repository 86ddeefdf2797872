/* pg_soak.c - a long run at 80% load on PostgreSQL (scenario "pg_soak",
 * length --soak-s, default 600 s): first the drain rate of this schema is
 * measured (N tasks enqueued, then drained by a 2-thread worker), then a
 * producer process enqueues at 80% of that rate (an enqueue_batch every
 * 10 ms of the tasks due by then), or at --soak-rate tasks/s when given (the
 * drain varies by 10% from run to run; builds compare at one load), while
 * a worker with 2 handler threads in this process runs them. Each payload carries the wall-clock time taken
 * before its batch's enqueue call; the handler records now minus that time
 * (claim latency, including the enqueue's commit). Reported: p50 and p99 in
 * the first and in the last window (one minute, or a fifth of the run when
 * it is shorter than 5 minutes) and the ratio of the last p99 to the first,
 * the rate reached and the backlog left when the producer stopped; and, to
 * show the trend between them, the p99 of every window from a histogram
 * (buckets 5% wide). */
#include "pg.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define SOAK_SCHEMA "sitq_bench_soak"

typedef struct window {
    double *lat_us;
    long cap;
    atomic_long n;
} window;

enum { N_WIN = 64, N_BUCKET = 480 }; /* 1.05^480 us: far beyond any latency */

typedef struct soak {
    int64_t start_us, first_end_us, last_start_us, win_us; /* wall clock */
    window first, last;
    atomic_long handled;
    atomic_long hist[N_WIN][N_BUCKET]; /* per window: latency buckets 5% wide */
} soak;

static int bucket_of(double lat_us) {
    int b = lat_us > 1 ? (int)(log(lat_us) / log(1.05)) : 0;
    return b < N_BUCKET ? b : N_BUCKET - 1;
}

/* Upper edge of the bucket that holds percentile p of window w (0: empty). */
static double hist_percentile(soak *s, int w, double p) {
    long total = 0, seen = 0;
    for (int b = 0; b < N_BUCKET; b++) total += atomic_load(&s->hist[w][b]);
    for (int b = 0; b < N_BUCKET && total > 0; b++) {
        seen += atomic_load(&s->hist[w][b]);
        if ((double)seen >= p * (double)total) return pow(1.05, b + 1);
    }
    return 0;
}

typedef struct shared {
    atomic_long sent; /* tasks the producer enqueued */
} shared;

static void record(window *w, double lat) {
    long i = atomic_fetch_add(&w->n, 1);
    if (i < w->cap) w->lat_us[i] = lat;
}

static int soak_handler(sitq_task_ctx *ctx, const void *payload, size_t len, void *user_data) {
    (void)ctx;
    sitq_time_us now = sitq_now_us();
    soak *s = user_data;
    if (len != sizeof(int64_t)) return 1;
    int64_t t0;
    memcpy(&t0, payload, sizeof t0);
    if (t0 >= s->start_us && t0 < s->first_end_us) record(&s->first, (double)(now - t0));
    if (t0 >= s->last_start_us) record(&s->last, (double)(now - t0));
    int64_t w = (t0 - s->start_us) / s->win_us;
    if (w >= 0 && w < N_WIN) atomic_fetch_add(&s->hist[w][bucket_of((double)(now - t0))], 1);
    atomic_fetch_add(&s->handled, 1);
    return 0;
}

/* The producer process: reads the rate (tasks/s) from fd, then enqueues at
 * that rate for secs seconds, counting in sh->sent. */
_Noreturn static void producer(int fd, double secs, shared *sh) {
    double rate = 0;
    if (read(fd, &rate, sizeof rate) != (ssize_t)sizeof rate || rate <= 0) _exit(1);
    sitq_backend *b = bench_pg_attach(SOAK_SCHEMA, 0);
    sitq_queue *q = bench_queue(b);
    enum { MAX_BATCH = 10000 };
    sitq_task_spec *specs = calloc(MAX_BATCH, sizeof *specs);
    sitq_task_id *ids = calloc(MAX_BATCH, sizeof *ids);
    if (!specs || !ids) _exit(1);
    int64_t t0 = 0;
    for (int i = 0; i < MAX_BATCH; i++)
        specs[i] = (sitq_task_spec){.function = "noop", .payload = &t0, .payload_len = sizeof t0};
    double start = bench_now();
    sitq_error err;
    /* Ticks of 10 ms; a tick whose enqueue ran late is not made up by
     * sleeping less, the next batch simply holds the tasks due by then. */
    double next = start;
    for (;;) {
        next += 0.01;
        double now = bench_now();
        if (now > start + secs) break;
        if (next > now) bench_sleep_us((int64_t)((next - now) * 1e6));
        else next = now;
        long want = (long)((bench_now() - start) * rate) - atomic_load(&sh->sent);
        if (want <= 0) continue;
        if (want > MAX_BATCH) want = MAX_BATCH;
        t0 = sitq_now_us();
        if (sitq_enqueue_batch(q, specs, (size_t)want, ids, &err) != SITQ_OK)
            bench_die("enqueue_batch", &err);
        atomic_fetch_add(&sh->sent, want);
    }
    sitq_queue_close(q);
    sitq_backend_close(b);
    _exit(0);
}

static sitq_worker *soak_worker(sitq_queue *q, soak *s) {
    sitq_worker *w = bench_worker_new(q, 2, "noop", soak_handler, s);
    sitq_error err;
    if (sitq_worker_start(w, &err) != SITQ_OK) bench_die("starting the worker", &err);
    return w;
}

/* The drain rate of the schema: N tasks enqueued, then drained. */
static double drain_rate(bench_ctx *c) {
    sitq_backend *b = bench_pg_attach(SOAK_SCHEMA, 0);
    sitq_queue *q = bench_queue(b);
    bench_enqueue_noop(q, c->tasks, NULL);
    double dt = bench_drain(q, c->tasks, 2, NULL);
    sitq_queue_close(q);
    sitq_backend_close(b);
    return (double)c->tasks / dt;
}

static void emit_window(bench_ctx *c, const char *name, window *w, double *p99) {
    long n = atomic_load(&w->n);
    if (n > w->cap) n = w->cap;
    char m[64];
    snprintf(m, sizeof m, "%s_p50_us", name);
    bench_emit(c, "sitq-c", "pg_soak", "80pct", m, bench_percentile(w->lat_us, (size_t)n, 0.5),
               "us");
    *p99 = bench_percentile(w->lat_us, (size_t)n, 0.99);
    snprintf(m, sizeof m, "%s_p99_us", name);
    bench_emit(c, "sitq-c", "pg_soak", "80pct", m, *p99, "us");
    snprintf(m, sizeof m, "%s_samples", name);
    bench_emit(c, "sitq-c", "pg_soak", "80pct", m, (double)n, "tasks");
}

static void soak_init(soak *s, double rate, double secs, double win) {
    long cap = (long)(rate * win * 1.5) + 10000;
    s->first = (window){calloc((size_t)cap, sizeof(double)), cap, 0};
    s->last = (window){calloc((size_t)cap, sizeof(double)), cap, 0};
    if (!s->first.lat_us || !s->last.lat_us) bench_die("allocating", NULL);
    atomic_init(&s->handled, 0);
    s->start_us = sitq_now_us();
    s->first_end_us = s->start_us + (int64_t)(win * 1e6);
    s->last_start_us = s->start_us + (int64_t)((secs - win) * 1e6);
    s->win_us = (int64_t)(win * 1e6);
    for (int w = 0; w < N_WIN; w++)
        for (int b = 0; b < N_BUCKET; b++) atomic_init(&s->hist[w][b], 0);
}

/* Emits the figures of a finished soak. */
static void soak_report(bench_ctx *c, soak *s, double drain, double rate, double win, long sent,
                        long backlog) {
    double p99_first = 0, p99_last = 0;
    bench_emit(c, "sitq-c", "pg_soak", "80pct", "drain_tasks_per_s", drain, "tasks/s");
    bench_emit(c, "sitq-c", "pg_soak", "80pct", "offered_tasks_per_s", rate, "tasks/s");
    bench_emit(c, "sitq-c", "pg_soak", "80pct", "offered_over_drain", rate / drain, "x");
    bench_emit(c, "sitq-c", "pg_soak", "80pct", "tasks", (double)sent, "tasks");
    bench_emit(c, "sitq-c", "pg_soak", "80pct", "window_s", win, "s");
    bench_emit(c, "sitq-c", "pg_soak", "80pct", "keep_succeeded_s",
               c->soak_keep_s > 0 ? c->soak_keep_s : SITQ_RETENTION_SUCCEEDED_DEFAULT_S, "s");
    bench_emit(c, "sitq-c", "pg_soak", "80pct", "backlog_at_end", (double)backlog, "tasks");
    emit_window(c, "first", &s->first, &p99_first);
    emit_window(c, "last", &s->last, &p99_last);
    bench_emit(c, "sitq-c", "pg_soak", "80pct", "p99_last_over_first",
               p99_first > 0 ? p99_last / p99_first : 0, "x");
    int64_t n_win = (s->last_start_us - s->start_us + s->win_us / 2) / s->win_us + 1;
    for (int w = 0; w < N_WIN && w < n_win; w++) {
        char m[64];
        snprintf(m, sizeof m, "window_%02d_p99_us", w + 1);
        bench_emit(c, "sitq-c", "pg_soak", "80pct", m, hist_percentile(s, w, 0.99), "us");
    }
    free(s->first.lat_us);
    free(s->last.lat_us);
}

int bench_pg_soak(bench_ctx *c) {
    if (!bench_pg_available("pg_soak")) return 0;
    double secs = c->soak_s > 10 ? c->soak_s : 10;
    double win = secs >= 300 ? 60 : secs / 5;
    bench_pg_drop_schema(SOAK_SCHEMA);
    shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int fds[2];
    if (sh == MAP_FAILED || pipe(fds) != 0) bench_die("mmap or pipe", NULL);
    atomic_init(&sh->sent, 0);
    pid_t pid = fork(); /* before this process starts any thread */
    if (pid < 0) bench_die("fork", NULL);
    if (pid == 0) {
        close(fds[1]);
        producer(fds[0], secs, sh);
    }
    close(fds[0]);
    double drain = drain_rate(c), rate = c->soak_rate > 0 ? c->soak_rate : drain * 0.8;
    int64_t x0 = bench_pg_xacts();
    sitq_backend *b = bench_pg_attach(SOAK_SCHEMA, 0);
    sitq_queue *q = bench_queue(b);
    if (c->soak_keep_s > 0) {
        sitq_retention r = {.succeeded_s = c->soak_keep_s,
                            .failed_s = SITQ_RETENTION_FAILED_DEFAULT_S};
        sitq_error err;
        if (sitq_queue_set_retention(q, &r, &err) != SITQ_OK) bench_die("retention", &err);
    }
    soak *s = malloc(sizeof *s);
    if (!s) bench_die("allocating", NULL);
    soak_init(s, rate, secs, win);
    sitq_worker *w = soak_worker(q, s);
    if (write(fds[1], &rate, sizeof rate) != (ssize_t)sizeof rate) bench_die("write", NULL);
    close(fds[1]);
    int st = 0;
    waitpid(pid, &st, 0);
    long sent = atomic_load(&sh->sent), backlog = sent - atomic_load(&s->handled);
    double deadline = bench_now() + 120;
    while (atomic_load(&s->handled) < sent && bench_now() < deadline) bench_sleep_us(1000);
    sitq_worker_free(w);
    sitq_queue_close(q);
    sitq_backend_close(b);
    soak_report(c, s, drain, rate, win, sent, backlog);
    free(s);
    bench_pg_emit_commits(c, "sitq-c", "pg_soak", "80pct", x0, (double)sent);
    munmap(sh, sizeof *sh);
    bench_pg_drop_schema(SOAK_SCHEMA);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
