/* pg.c - the PostgreSQL backend against its own server's ceilings, in one
 * run (scenario "pg"; needs SITQ_BENCH_PG_URI, e.g. from bench/pg_bench.sh,
 * which starts a throwaway durable cluster):
 *
 * - e2e: N no-op tasks enqueued with enqueue_batch, then drained by one
 *   worker with 2 handler threads (timed from the worker's start until the
 *   handler ran N times and a graceful stop returned); with wake-ups by
 *   LISTEN/NOTIFY (the default) and with poll_only;
 * - enqueue_batch of 100,000 tasks (chunks of 10,000);
 * - 16 producer threads, one sitq_enqueue per call, for about 2 s;
 * - raw SQL ceilings through libpq on the same server: durable one-row
 *   commits on one connection, and 1,000-row insert transactions.
 * Each scenario uses a fresh schema, dropped afterwards. The raw
 * claim-and-complete cycle (pgbench) is run by bench/pg_bench.sh, which
 * prints the ratios against every ceiling. */
#include "bench.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *pg_uri(void) { return getenv("SITQ_BENCH_PG_URI"); }

static void quiet(void *arg, const char *message) {
    (void)arg;
    (void)message; /* "drop cascades to ..." */
}

static PGconn *raw_connect(void) {
    PGconn *c = PQconnectdb(pg_uri());
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "sitq_bench: pg: %s", PQerrorMessage(c));
        exit(1);
    }
    PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

static void raw_exec(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "sitq_bench: pg: %s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
}

static void drop_schema(const char *schema) {
    PGconn *c = raw_connect();
    char sql[128];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    raw_exec(c, sql);
    PQfinish(c);
}

static sitq_backend *open_pg_opts(const char *schema, int poll_only) {
    drop_schema(schema);
    sitq_postgres_options o;
    sitq_postgres_options_init(&o);
    o.schema = schema;
    o.poll_only = poll_only;
    sitq_backend *b = NULL;
    sitq_error err;
    if (sitq_backend_open_postgres(pg_uri(), &o, &b, &err) != SITQ_OK)
        bench_die("opening PostgreSQL", &err);
    return b;
}

static sitq_backend *open_pg(const char *schema) { return open_pg_opts(schema, 0); }

static void e2e(bench_ctx *c, int poll_only) {
    const char *schema = "sitq_bench_e2e";
    const char *v = poll_only ? "durable_poll_only" : "durable";
    sitq_backend *b = open_pg_opts(schema, poll_only);
    sitq_queue *q = bench_queue(b);
    long n = c->tasks;
    bench_enqueue_noop(q, n, NULL);
    double t1 = bench_now();
    bench_counter *k = bench_counter_new();
    sitq_worker *w = bench_worker_start(q, 2, k);
    double deadline = t1 + 600;
    while (bench_counter_get(k) < n && bench_now() < deadline) bench_sleep_us(1000);
    sitq_error err;
    if (bench_counter_get(k) < n || sitq_worker_stop(w, -1, &err) != SITQ_OK) {
        fprintf(stderr, "sitq_bench: pg e2e: tasks did not finish in time\n");
        exit(1);
    }
    double t2 = bench_now();
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);
    sitq_worker_free(w);
    sitq_stats st;
    if (sitq_get_stats(q, &st, &err) != SITQ_OK) bench_die("stats", &err);
    sitq_queue_close(q);
    sitq_backend_close(b);
    bench_emit(c, "sitq-c", "pg_e2e", v, "tasks_per_s", (double)n / (t2 - t1), "tasks/s");
    bench_emit(c, "sitq-c", "pg_e2e", v, "tasks_per_commit",
               (double)n / (double)(ws.commits ? ws.commits : 1), "tasks");
    bench_emit(c, "sitq-c", "pg_e2e", v, "lost", (double)(n - st.count[SITQ_SUCCEEDED]), "tasks");
    if (st.count[SITQ_SUCCEEDED] != n)
        fprintf(stderr, "sitq_bench: pg e2e: %lld of %ld tasks recorded succeeded\n",
                (long long)st.count[SITQ_SUCCEEDED], n);
    drop_schema(schema);
}

static void enqueue_batch(bench_ctx *c) {
    const char *schema = "sitq_bench_batch";
    sitq_backend *b = open_pg(schema);
    sitq_queue *q = bench_queue(b);
    long n = 100000;
    double t0 = bench_now();
    bench_enqueue_noop(q, n, NULL);
    double dt = bench_now() - t0;
    sitq_queue_close(q);
    sitq_backend_close(b);
    bench_emit(c, "sitq-c", "pg_enqueue", "batch_10000", "tasks_per_s", (double)n / dt, "tasks/s");
    drop_schema(schema);
}

enum { PRODUCERS = 16 };

typedef struct producer {
    sitq_queue *q;
    double end;
    long done;
} producer;

static void *produce(void *arg) {
    producer *p = arg;
    static const char payload[8] = "12345678";
    sitq_error err;
    for (p->done = 0; bench_now() < p->end; p->done++) {
        sitq_task_id id;
        if (sitq_enqueue(p->q, "noop", payload, sizeof payload, NULL, &id, &err) != SITQ_OK)
            bench_die("enqueue", &err);
    }
    return NULL;
}

static void producers(bench_ctx *c) {
    const char *schema = "sitq_bench_prod";
    sitq_backend *b = open_pg(schema);
    sitq_queue *q = bench_queue(b);
    producer p[PRODUCERS];
    pthread_t th[PRODUCERS];
    double t0 = bench_now();
    for (int i = 0; i < PRODUCERS; i++) {
        p[i] = (producer){q, t0 + 2.0, 0};
        if (pthread_create(&th[i], NULL, produce, &p[i]) != 0) bench_die("pthread_create", NULL);
    }
    long done = 0;
    for (int i = 0; i < PRODUCERS; i++) {
        pthread_join(th[i], NULL);
        done += p[i].done;
    }
    double dt = bench_now() - t0;
    sitq_queue_close(q);
    sitq_backend_close(b);
    bench_emit(c, "sitq-c", "pg_enqueue", "16_threads", "tasks_per_s", (double)done / dt,
               "tasks/s");
    drop_schema(schema);
}

typedef struct raw_client {
    double end;
    long done;
} raw_client;

static void *raw_commits(void *arg) {
    raw_client *rc = arg;
    PGconn *k = raw_connect();
    for (rc->done = 0; bench_now() < rc->end; rc->done++)
        raw_exec(k, "INSERT INTO sitq_bench_raw(queue, payload) VALUES('default', '\\x3132')");
    PQfinish(k);
    return NULL;
}

/* Durable one-row commits from PRODUCERS connections at once for 2 s: the
 * server's own group commit, the ceiling the 16 producers are held to. */
static void raw_many(bench_ctx *c) {
    raw_client rc[PRODUCERS];
    pthread_t th[PRODUCERS];
    double t0 = bench_now();
    for (int i = 0; i < PRODUCERS; i++) {
        rc[i] = (raw_client){t0 + 2.0, 0};
        if (pthread_create(&th[i], NULL, raw_commits, &rc[i]) != 0)
            bench_die("pthread_create", NULL);
    }
    long n = 0;
    for (int i = 0; i < PRODUCERS; i++) {
        pthread_join(th[i], NULL);
        n += rc[i].done;
    }
    bench_emit(c, "raw-pg", "pg_raw", "one_row_commit_16_conns", "rows_per_s",
               (double)n / (bench_now() - t0), "rows/s");
}

/* Raw ceilings: durable one-row commits on one connection for 2 s (and on
 * 16 at once), and 1,000-row insert transactions. */
static void raw(bench_ctx *c) {
    PGconn *k = raw_connect();
    raw_exec(k, "DROP TABLE IF EXISTS sitq_bench_raw");
    raw_exec(k, "CREATE TABLE sitq_bench_raw(id bigserial PRIMARY KEY, queue text NOT NULL, "
                "payload bytea)");
    double t0 = bench_now();
    long n = 0;
    for (; bench_now() < t0 + 2.0; n++)
        raw_exec(k, "INSERT INTO sitq_bench_raw(queue, payload) VALUES('default', '\\x3132')");
    double dt = bench_now() - t0;
    bench_emit(c, "raw-pg", "pg_raw", "one_row_commit", "rows_per_s", (double)n / dt, "rows/s");
    raw_many(c);
    t0 = bench_now();
    long tx = 0;
    for (; bench_now() < t0 + 2.0; tx++)
        raw_exec(k, "INSERT INTO sitq_bench_raw(queue, payload) SELECT 'default', '\\x3132' "
                    "FROM generate_series(1, 1000)");
    dt = bench_now() - t0;
    bench_emit(c, "raw-pg", "pg_raw", "1000_row_txn", "rows_per_s", (double)tx * 1000 / dt,
               "rows/s");
    raw_exec(k, "DROP TABLE sitq_bench_raw");
    PQfinish(k);
}

int bench_pg(bench_ctx *c) {
    if (!pg_uri() || !*pg_uri()) {
        fprintf(stderr, "sitq_bench: pg: SITQ_BENCH_PG_URI is not set (bench/pg_bench.sh sets "
                        "it): skipped\n");
        return 0;
    }
    raw(c);
    e2e(c, 0);
    e2e(c, 1);
    enqueue_batch(c);
    producers(c);
    return 0;
}
