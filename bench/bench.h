/* bench.h - sitq's benchmark: shared declarations.
 *
 * Entry point: bench_main(argc, argv), the sitq_bench program's main
 * (`sitq bench` executes that program). Every figure is printed as a line of
 * text and, with --json FILE, appended to FILE as one JSON object per line:
 *   {"system":..., "scenario":..., "variant":..., "metric":..., "value":...,
 *    "unit":..., "run":...}
 * bench/report.py turns those lines into bench/results/results.md. */
#ifndef SITQ_BENCH_H
#define SITQ_BENCH_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "sitq.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Run the benchmark; see `sitq_bench --help`. Returns 0 on success. */
int bench_main(int argc, char **argv);

typedef struct bench_ctx {
    const char *dir;    /* directory for database files (same disk as the queue) */
    long tasks;         /* task count of the throughput scenarios */
    int quick;          /* smaller sizes (1M instead of 10M deep queue, ...) */
    int run;            /* run index written into the JSON lines */
    FILE *json;         /* NULL: text only */
    long depth_max;     /* deepest queue of claim_depth (0: 10M, or 1M with --quick) */
    long memory_tasks;  /* tasks of the memory scenario (0: 1M, or 200k with --quick) */
    double latency_s;   /* duration of the latency trickle */
    int prefetch;       /* worker prefetch (-1: sitq's default) */
    int sync_only;      /* -1: NORMAL and FULL; else only this sitq_sync_mode (raw, enqueue, e2e) */
    double soak_s;      /* length of the PostgreSQL soak (pg_soak), seconds */
    double soak_keep_s; /* retention of the soak's succeeded tasks, s (0: the default) */
    double soak_rate;   /* the soak's offered tasks/s (0: 80% of the drain it measures) */
    const char *store;  /* an existing store (path or URI) for load_fill and load_drain */
    const char *label;  /* the variant load_drain reports (default "drain") */
} bench_ctx;

/* ---- scenarios (one file each) ---- */
int bench_raw_sqlite(bench_ctx *c);
int bench_enqueue(bench_ctx *c);
int bench_e2e(bench_ctx *c);
int bench_latency(bench_ctx *c);
int bench_claim_depth(bench_ctx *c);
int bench_limits(bench_ctx *c);
int bench_pg_limits(bench_ctx *c);
int bench_memory(bench_ctx *c);
int bench_wal(bench_ctx *c);
int bench_pg(bench_ctx *c);
int bench_pg_latency(bench_ctx *c);
int bench_pg_procs(bench_ctx *c);
int bench_pg_soak(bench_ctx *c);
int bench_load_fill(bench_ctx *c);
int bench_load_drain(bench_ctx *c);

/* ---- helpers (common.c) ---- */
/** Monotonic seconds. */
double bench_now(void);
/** Record one figure (text to stdout, JSON line to c->json). */
void bench_emit(bench_ctx *c, const char *system, const char *scenario, const char *variant,
                const char *metric, double value, const char *unit);
/** dir/name-<pid>.db into buf; removes a leftover file of that name (and -wal, -shm). */
void bench_db_path(bench_ctx *c, const char *name, char *buf, size_t size);
/** Remove a database file and its -wal and -shm companions. */
void bench_db_remove(const char *path);
/** Bytes of the database file plus its -wal file. */
int64_t bench_db_bytes(const char *path);
/** Resident set size of this process, bytes (from /proc/self/statm). */
int64_t bench_rss_bytes(void);
/** Open a sitq backend with the given sync mode; prints the error and exits on failure. */
sitq_backend *bench_open(const char *path, sitq_sync_mode sync);
/** Open the default queue; exits on failure. */
sitq_queue *bench_queue(sitq_backend *b);
/** Fatal error: print and exit(1). */
_Noreturn void bench_die(const char *what, const sitq_error *err);
/** Enqueue n no-op tasks ("noop", 8-byte payload) with enqueue_batch in chunks; ids may be NULL. */
void bench_enqueue_noop(sitq_queue *q, long n, sitq_task_id *ids);
/** Sleep for the given microseconds. */
void bench_sleep_us(int64_t us);
/** Name of a sync mode ("NORMAL", "FULL"). */
const char *bench_sync_name(sitq_sync_mode s);
/** 1 when sync mode s is selected by --sync. */
int bench_sync_on(const bench_ctx *c, sitq_sync_mode s);
/** Percentile p (0..1) of v[0..n), interpolated (sorts v). */
double bench_percentile(double *v, size_t n, double p);

/** A no-op handler that counts its calls in an atomic counter (user_data: bench_counter*). */
typedef struct bench_counter bench_counter;
bench_counter *bench_counter_new(void);
void bench_counter_free(bench_counter *k);
int64_t bench_counter_get(bench_counter *k);
int bench_noop_handler(sitq_task_ctx *ctx, const void *payload, size_t len, void *user_data);

/** Start a worker with the counting no-op handler. */
sitq_worker *bench_worker_start(sitq_queue *q, int concurrency, bench_counter *k);
/** A worker of q (concurrency threads, bench_prefetch) with `handler` registered for
 * `function`, not started; exits the program on error. */
sitq_worker *bench_worker_new(sitq_queue *q, int concurrency, const char *function,
                              sitq_handler_fn handler, void *user_data);

/** Latencies from enqueue to start: tasks whose payload is the int64_t
 * sitq_now_us() of their enqueue; bench_lat_handler stores now - payload,
 * in microseconds, in lat_us[0..cap) (user_data: bench_lat*). */
typedef struct bench_lat {
    double *lat_us;
    long cap;
    atomic_long n;
} bench_lat;
int bench_lat_handler(sitq_task_ctx *ctx, const void *payload, size_t len, void *user_data);
/** The end-to-end drain: start a worker with concurrency threads and the counting
 * no-op handler on q, wait until the handler ran n times (600 s at most, else
 * exit(1)), stop it gracefully (its last completions committed). Returns the
 * seconds from the start until the stop returned; ws (may be NULL) gets the
 * worker's stats. */
double bench_drain(sitq_queue *q, long n, int concurrency, sitq_worker_stats *ws);
/** Worker prefetch used by bench_worker_start (--prefetch; -1 = sitq's default). */
extern int bench_prefetch;
/** Workers purge expired tasks as they run (1, sitq's default; --no-retention: 0). */
extern int bench_retention;
#ifdef __cplusplus
}
#endif
#endif
