/* pg.c - the PostgreSQL backend against its own server's ceilings, in one
 * run (scenario "pg"; needs SITQ_BENCH_PG_URI, which bench/pg_part.sh sets
 * to a throwaway durable cluster):
 *
 * - raw SQL ceilings through libpq: durable one-row commits on 1 and on 16
 *   connections, and 1,000-row insert transactions (into a narrow table, and
 *   into one of sitq's tasks shape);
 * - e2e: N no-op tasks enqueued with enqueue_batch, then drained by one
 *   worker with 2 handler threads (bench_drain, as the SQLite e2e); with
 *   wake-ups by LISTEN/NOTIFY (the default) and with poll_only;
 * - enqueue_batch of 100,000 tasks (chunks of 10,000);
 * - 16 producer threads, one sitq_enqueue per call, for about 2 s.
 * Every figure comes with the database's commits per task over the timed
 * phase (bench_pg_xacts). Each scenario uses a fresh schema, dropped
 * afterwards. The raw claim-and-complete cycle (pgbench) and the peers are
 * run by bench/pg_part.sh. */
#include "pg.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void e2e(bench_ctx *c, int poll_only) {
    const char *schema = "sitq_bench_e2e";
    const char *v = poll_only ? "durable_poll_only" : "durable";
    long n = c->tasks;
    sitq_backend *b = bench_pg_open(schema, poll_only);
    sitq_queue *q = bench_queue(b);
    bench_enqueue_noop(q, n, NULL);
    sitq_queue_close(q);
    sitq_backend_close(b);
    int64_t x0 = bench_pg_xacts();
    b = bench_pg_attach(schema, poll_only);
    q = bench_queue(b);
    sitq_worker_stats ws;
    double dt = bench_drain(q, n, 2, &ws);
    sitq_stats st;
    sitq_error err;
    if (sitq_get_stats(q, &st, &err) != SITQ_OK) bench_die("stats", &err);
    sitq_queue_close(q);
    sitq_backend_close(b);
    bench_emit(c, "sitq-c", "pg_e2e", v, "tasks_per_s", (double)n / dt, "tasks/s");
    bench_emit(c, "sitq-c", "pg_e2e", v, "tasks_per_worker_commit",
               (double)n / (double)(ws.commits ? ws.commits : 1), "tasks");
    bench_pg_emit_commits(c, "sitq-c", "pg_e2e", v, x0, (double)n);
    bench_emit(c, "sitq-c", "pg_e2e", v, "lost", (double)(n - st.count[SITQ_SUCCEEDED]), "tasks");
    if (st.count[SITQ_SUCCEEDED] != n)
        fprintf(stderr, "sitq_bench: pg e2e: %lld of %ld tasks recorded succeeded\n",
                (long long)st.count[SITQ_SUCCEEDED], n);
    bench_pg_drop_schema(schema);
}

static void enqueue_batch(bench_ctx *c) {
    const char *schema = "sitq_bench_batch";
    long n = 100000;
    bench_pg_drop_schema(schema);
    int64_t x0 = bench_pg_xacts();
    sitq_backend *b = bench_pg_attach(schema, 0);
    sitq_queue *q = bench_queue(b);
    double t0 = bench_now();
    bench_enqueue_noop(q, n, NULL);
    double dt = bench_now() - t0;
    sitq_queue_close(q);
    sitq_backend_close(b);
    bench_emit(c, "sitq-c", "pg_enqueue", "batch_10000", "tasks_per_s", (double)n / dt, "tasks/s");
    /* Includes the schema's creation at open: a handful of transactions. */
    bench_pg_emit_commits(c, "sitq-c", "pg_enqueue", "batch_10000", x0, (double)n);
    bench_pg_drop_schema(schema);
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
    bench_pg_drop_schema(schema);
    int64_t x0 = bench_pg_xacts();
    sitq_backend *b = bench_pg_attach(schema, 0);
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
    bench_pg_emit_commits(c, "sitq-c", "pg_enqueue", "16_threads", x0, (double)done);
    bench_pg_drop_schema(schema);
}

/* One connection inserting one row per commit until `end`. */
typedef struct committer {
    double end;
    long done;
} committer;

static void *commit_rows(void *arg) {
    committer *m = arg;
    PGconn *k = bench_pg_connect();
    for (m->done = 0; bench_now() < m->end; m->done++)
        bench_pg_exec(k, "INSERT INTO sitq_bench_raw(queue, payload) VALUES('default', '\\x3132')");
    PQfinish(k);
    return NULL;
}

/* Durable one-row commits on `conns` connections at once for 2 s. */
static void raw_commits(bench_ctx *c, int conns, const char *variant) {
    committer m[PRODUCERS];
    pthread_t th[PRODUCERS];
    double t0 = bench_now();
    for (int i = 0; i < conns; i++) {
        m[i] = (committer){t0 + 2.0, 0};
        if (pthread_create(&th[i], NULL, commit_rows, &m[i]) != 0)
            bench_die("pthread_create", NULL);
    }
    long done = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        done += m[i].done;
    }
    double dt = bench_now() - t0;
    bench_emit(c, "raw-pg", "pg_raw", variant, "rows_per_s", (double)done / dt, "rows/s");
    bench_emit(c, "raw-pg", "pg_raw", variant, "commits_per_task", 1, "commits");
}

/* 1,000-row insert transactions for 2 s into a table of sitq's tasks shape
 * (LIKE a fresh sitq schema's tasks: every column, default and index), each
 * row written as an enqueue writes it (ids from a sequence). Not a ceiling
 * to compare against (the target is the narrow row above): it says how
 * much of the gap is the table's width and its second index entry. */
static void raw_task_shape(bench_ctx *c, PGconn *k) {
    const char *schema = "sitq_bench_shape";
    sitq_backend *b = bench_pg_open(schema, 0); /* creates the schema */
    sitq_backend_close(b);
    bench_pg_exec(k, "DROP TABLE IF EXISTS sitq_bench_raw_tasks");
    bench_pg_exec(k,
                  "CREATE TABLE sitq_bench_raw_tasks (LIKE sitq_bench_shape.tasks INCLUDING ALL) "
                  "WITH (fillfactor = 90)");
    bench_pg_exec(k, "CREATE SEQUENCE IF NOT EXISTS sitq_bench_raw_ids");
    double t0 = bench_now();
    long tx = 0;
    for (; bench_now() < t0 + 2.0; tx++)
        bench_pg_exec(
            k, "INSERT INTO sitq_bench_raw_tasks(id, queue, function, state, priority, run_at_us, "
               "max_retries, backoff_base_us, backoff_cap_us, backoff_jitter, timeout_us, "
               "pending_deps, enqueued_at_us, payload) SELECT nextval('sitq_bench_raw_ids'), "
               "'default', 'noop', 0, 0, t, 0, 1000000, 3600000000, 0.1, 0, 0, t, "
               "'\\x3132333435363738' FROM generate_series(1, 1000), "
               "(SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS t) n");
    double dt = bench_now() - t0;
    bench_emit(c, "raw-pg", "pg_raw", "1000_row_txn_task_shape", "rows_per_s",
               (double)tx * 1000 / dt, "rows/s");
    bench_emit(c, "raw-pg", "pg_raw", "1000_row_txn_task_shape", "commits_per_task", 0.001,
               "commits");
    bench_pg_exec(k, "DROP TABLE sitq_bench_raw_tasks");
    bench_pg_exec(k, "DROP SEQUENCE sitq_bench_raw_ids");
    bench_pg_drop_schema(schema);
}

/* Raw ceilings: one-row commits (1 and 16 connections), and 1,000-row
 * insert transactions (one INSERT ... SELECT FROM generate_series) for 2 s,
 * into a narrow table and into one of sitq's tasks shape. */
static void raw(bench_ctx *c) {
    PGconn *k = bench_pg_connect();
    bench_pg_exec(k, "DROP TABLE IF EXISTS sitq_bench_raw");
    bench_pg_exec(k, "CREATE TABLE sitq_bench_raw(id bigserial PRIMARY KEY, queue text NOT NULL, "
                     "payload bytea)");
    raw_commits(c, 1, "one_row_commit");
    raw_commits(c, PRODUCERS, "one_row_commit_16conns");
    double t0 = bench_now();
    long tx = 0;
    for (; bench_now() < t0 + 2.0; tx++)
        bench_pg_exec(k, "INSERT INTO sitq_bench_raw(queue, payload) SELECT 'default', '\\x3132' "
                         "FROM generate_series(1, 1000)");
    double dt = bench_now() - t0;
    bench_emit(c, "raw-pg", "pg_raw", "1000_row_txn", "rows_per_s", (double)tx * 1000 / dt,
               "rows/s");
    bench_emit(c, "raw-pg", "pg_raw", "1000_row_txn", "commits_per_task", 0.001, "commits");
    bench_pg_exec(k, "DROP TABLE sitq_bench_raw");
    raw_task_shape(c, k);
    PQfinish(k);
}

int bench_pg(bench_ctx *c) {
    if (!bench_pg_available("pg")) return 0;
    raw(c);
    e2e(c, 0);
    e2e(c, 1);
    enqueue_batch(c);
    producers(c);
    return 0;
}
