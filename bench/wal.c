/* wal.c - the WAL's size under many writing processes: 8 producer processes
 * enqueueing one task per call and 4 worker processes running them, for a
 * few seconds, with the WAL file's size sampled every few milliseconds.
 * Baseline, in the same run: raw SQLite with its own (passive) automatic
 * checkpoints, 8 processes inserting one row per commit and 4 processes
 * reading all the time. Reported: each WAL peak, sitq's peak against its
 * 64 MiB bound and against the baseline's peak, and both rates. */
#include "bench.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { PRODUCERS = 8, WORKERS = 4 };
#define WAL_BOUND_BYTES (64.0 * 1048576)

typedef struct procs {
    pid_t pid[PRODUCERS + WORKERS];
    int fd[PRODUCERS + WORKERS]; /* read end: the child's count, at its end */
    int n;
} procs;

/* Fork a child running fn(path, seconds); its int64 result comes back on a pipe. */
static void spawn(procs *p, int64_t (*fn)(const char *, double), const char *path, double s) {
    int fds[2];
    if (pipe(fds) != 0) bench_die("pipe", NULL);
    pid_t pid = fork();
    if (pid < 0) bench_die("fork", NULL);
    if (pid == 0) {
        close(fds[0]);
        int64_t v = fn(path, s);
        if (write(fds[1], &v, sizeof v) != (ssize_t)sizeof v) _exit(2);
        _exit(0);
    }
    close(fds[1]);
    p->pid[p->n] = pid;
    p->fd[p->n++] = fds[0];
}

/* Sample path-wal until every child has ended; returns the peak in bytes and
 * adds the results of children [0, split) to *first and the others' to *rest. */
static int64_t watch(procs *p, const char *path, int split, int64_t *first, int64_t *rest) {
    char wal[1100];
    snprintf(wal, sizeof wal, "%s-wal", path);
    int64_t peak = 0;
    int alive = p->n;
    while (alive > 0) {
        struct stat sb;
        if (stat(wal, &sb) == 0 && sb.st_size > peak) peak = sb.st_size;
        bench_sleep_us(2000);
        alive = 0;
        for (int i = 0; i < p->n; i++)
            if (p->pid[i] && waitpid(p->pid[i], NULL, WNOHANG) == 0) alive++;
            else p->pid[i] = 0;
    }
    for (int i = 0; i < p->n; i++) {
        int64_t v = 0;
        if (read(p->fd[i], &v, sizeof v) == (ssize_t)sizeof v) *(i < split ? first : rest) += v;
        close(p->fd[i]);
    }
    return peak;
}

/* ---- sitq ---- */

static int64_t sitq_producer(const char *path, double s) {
    sitq_backend *b = bench_open(path, SITQ_SYNC_NORMAL);
    sitq_queue *q = bench_queue(b);
    char payload[64];
    memset(payload, 'p', sizeof payload);
    int64_t n = 0;
    double end = bench_now() + s;
    while (bench_now() < end) {
        sitq_task_id id;
        sitq_error err;
        if (sitq_enqueue(q, "noop", payload, sizeof payload, NULL, &id, &err) != SITQ_OK)
            bench_die("enqueue", &err);
        n++;
    }
    sitq_queue_close(q);
    sitq_backend_close(b);
    return n;
}

static int64_t sitq_worker_proc(const char *path, double s) {
    sitq_backend *b = bench_open(path, SITQ_SYNC_NORMAL);
    sitq_queue *q = bench_queue(b);
    bench_counter *k = bench_counter_new();
    sitq_worker *w = bench_worker_start(q, 1, k);
    bench_sleep_us((int64_t)(s * 1e6));
    sitq_worker_stop(w, -1, NULL);
    int64_t n = bench_counter_get(k);
    sitq_worker_free(w);
    bench_counter_free(k);
    sitq_queue_close(q);
    sitq_backend_close(b);
    return n;
}

/* ---- raw SQLite ---- */

static sqlite3 *raw_open(const char *path) {
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) bench_die("raw open", NULL);
    sqlite3_busy_timeout(db, 30000);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, NULL);
    return db;
}

static int64_t raw_producer(const char *path, double s) {
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "INSERT INTO t(payload, state) VALUES(zeroblob(64), 0)", -1, &st,
                           NULL) != SQLITE_OK)
        bench_die("raw prepare", NULL);
    int64_t n = 0;
    double end = bench_now() + s;
    while (bench_now() < end) {
        if (sqlite3_step(st) == SQLITE_DONE) n++;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static int64_t raw_reader(const char *path, double s) {
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM t WHERE state = 0", -1, &st, NULL) !=
        SQLITE_OK)
        bench_die("raw prepare", NULL);
    int64_t n = 0;
    double end = bench_now() + s;
    while (bench_now() < end) {
        while (sqlite3_step(st) == SQLITE_ROW) {}
        sqlite3_reset(st);
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

int bench_wal(bench_ctx *c) {
    double s = c->quick ? 3.0 : 8.0;
    char path[1024];

    /* Baseline: raw SQLite, its own automatic checkpoints. */
    bench_db_path(c, "wal-raw", path, sizeof path);
    {
        sqlite3 *db = raw_open(path);
        if (sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB, state INT)",
                         NULL, NULL, NULL) != SQLITE_OK)
            bench_die("raw schema", NULL);
        sqlite3_close(db);
    }
    procs p = {.n = 0};
    for (int i = 0; i < PRODUCERS; i++) spawn(&p, raw_producer, path, s);
    for (int i = 0; i < WORKERS; i++) spawn(&p, raw_reader, path, s);
    int64_t raw_rows = 0, raw_reads = 0;
    int64_t raw_peak = watch(&p, path, PRODUCERS, &raw_rows, &raw_reads);
    bench_db_remove(path);

    /* sitq: 8 producers, 4 workers. */
    bench_db_path(c, "wal-sitq", path, sizeof path);
    {
        sitq_backend *b = bench_open(path, SITQ_SYNC_NORMAL);
        sitq_backend_close(b);
    }
    p.n = 0;
    for (int i = 0; i < PRODUCERS; i++) spawn(&p, sitq_producer, path, s);
    for (int i = 0; i < WORKERS; i++) spawn(&p, sitq_worker_proc, path, s);
    int64_t enqueued = 0, ran = 0;
    int64_t peak = watch(&p, path, PRODUCERS, &enqueued, &ran);
    bench_db_remove(path);

    const char *v = "8 producers + 4 workers";
    bench_emit(c, "sqlite-raw", "wal", "8 writers + 4 readers", "wal_peak", raw_peak / 1048576.0,
               "MiB");
    bench_emit(c, "sqlite-raw", "wal", "8 writers + 4 readers", "rows_per_s", raw_rows / s,
               "rows/s");
    bench_emit(c, "sitq-c", "wal", v, "wal_peak", peak / 1048576.0, "MiB");
    bench_emit(c, "sitq-c", "wal", v, "wal_peak_vs_bound", peak / WAL_BOUND_BYTES, "x");
    bench_emit(c, "sitq-c", "wal", v, "wal_peak_vs_raw", raw_peak ? (double)peak / raw_peak : 0,
               "x");
    bench_emit(c, "sitq-c", "wal", v, "enqueue_per_s", enqueued / s, "tasks/s");
    bench_emit(c, "sitq-c", "wal", v, "run_per_s", ran / s, "tasks/s");
    bench_emit(c, "sitq-c", "wal", v, "enqueue_vs_raw_rows",
               raw_rows ? (double)enqueued / raw_rows : 0, "x");
    return 0;
}
