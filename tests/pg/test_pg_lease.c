/* test_pg_lease.c - leases on PostgreSQL, through the backend seam: a
 * heartbeat renews the worker's row and leaves its tasks' rows alone (no
 * dead tuple per task per heartbeat); lease recovery spares the tasks of a
 * worker whose row is live and recovers them once it lapses; two processes
 * (here: two backends) given one worker id renew separate rows; a schema of
 * version pg1 is upgraded in place, or refused when it may not be written;
 * after a server restart, recovery waits a lease for the leases that lapsed
 * with the server down, not for those that had lapsed before; the tasks
 * claimed by a commit whose answer was lost are put back by the next cycle.
 * Runs under with_pg.sh (SITQ_TEST_PG_URI); each test uses its own schema. */
#include <libpq-fe.h>

#include "helpers.h"

#include "backend/backend.h"
#include "core/internal.h"
#include "backend/pg/pg.h"

#define N_TASKS 40

static const char *uri(void) {
    const char *u = getenv("SITQ_TEST_PG_URI");
    assert_non_null(u);
    return u;
}

static void quiet(void *arg, const char *m) {
    (void)arg;
    (void)m;
}

static PGconn *admin_conn(void) {
    PGconn *c = PQconnectdb(uri());
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

/* Run SQL as the cluster's superuser; asserts success. */
static void admin(const char *sql) {
    PGconn *c = admin_conn();
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* The first value of a query as an integer. */
static long long admin_i64(const char *sql) {
    PGconn *c = admin_conn();
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

static sitq_code open_schema(const char *schema, int create, sitq_backend **b) {
    sitq_postgres_options o;
    sitq_postgres_options_init(&o);
    o.schema = schema;
    o.create_schema = create;
    o.connect_timeout_s = 3;
    memset(&tq_err, 0, sizeof tq_err);
    return sitq_backend_open_postgres(uri(), &o, b, &tq_err);
}

/* Enqueue n tasks of function "f" and claim them all in one cycle as
 * worker_id, with a lease of lease_us; fills claimed[0..n). */
static void enqueue_and_claim(sitq_backend *b, sitq_queue *q, const char *worker_id,
                              int64_t lease_us, sitq__claimed *claimed, size_t n) {
    for (size_t i = 0; i < n; i++) tq_enqueue(q, "f", NULL);
    const char *fn[] = {"f"};
    sitq__cycle cy;
    memset(&cy, 0, sizeof cy);
    const char *cy_q[] = {sitq_queue_name(q)};
    cy.queues = cy_q;
    cy.n_queues = 1;
    cy.worker_id = worker_id;
    cy.lease_us = lease_us;
    cy.functions = fn;
    cy.n_functions = 1;
    cy.claim_max = n;
    cy.claimed = claimed;
    TQ_OK(b->ops->cycle(b, &cy, &tq_err));
    assert_int_equal(cy.n_claimed, n);
}

/* One heartbeat cycle over claimed[0..n); returns how many were lost. */
static size_t heartbeat(sitq_backend *b, const char *queue, const char *worker_id, int64_t lease_us,
                        const sitq__claimed *claimed, size_t n) {
    sitq__heartbeat hb[N_TASKS];
    for (size_t i = 0; i < n; i++)
        hb[i] = (sitq__heartbeat){claimed[i].id, claimed[i].lease_token, -1, 0, 0, 0};
    sitq__cycle cy;
    memset(&cy, 0, sizeof cy);
    const char *cy_q[] = {queue};
    cy.queues = cy_q;
    cy.n_queues = 1;
    cy.worker_id = worker_id;
    cy.lease_us = lease_us;
    cy.heartbeats = hb;
    cy.n_heartbeats = n;
    TQ_OK(b->ops->cycle(b, &cy, &tq_err));
    size_t lost = 0;
    for (size_t i = 0; i < n; i++) {
        if (hb[i].lost) lost++;
        else assert_int_equal(hb[i].lease_until_us, cy.db_now_us + lease_us);
    }
    return lost;
}

/* A lease-recovery cycle; returns the tasks recovered. */
static size_t reap(sitq_backend *b, const char *queue, int64_t lease_us) {
    sitq__cycle cy;
    memset(&cy, 0, sizeof cy);
    const char *cy_q[] = {queue};
    cy.queues = cy_q;
    cy.n_queues = 1;
    cy.worker_id = "reaper";
    cy.lease_us = lease_us;
    cy.reap = 1;
    TQ_OK(b->ops->cycle(b, &cy, &tq_err));
    return cy.n_reaped;
}

/* The sum of the xmin of the schema's task rows: any rewrite of a row
 * changes its xmin (a new tuple version). */
static long long tasks_xmin_sum(const char *schema) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT sum(xmin::text::bigint) FROM %s.tasks", schema);
    return admin_i64(sql);
}

static void test_heartbeat_renews_the_worker_row_only(void **state) {
    (void)state;
    sitq_backend *b = NULL;
    TQ_OK(open_schema("l_hb", 1, &b));
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sitq__claimed claimed[N_TASKS];
    enqueue_and_claim(b, q, "w-hb", 30000000, claimed, N_TASKS);
    long long before = tasks_xmin_sum("l_hb");
    for (int i = 0; i < 5; i++)
        assert_int_equal(heartbeat(b, sitq_queue_name(q), "w-hb", 30000000, claimed, N_TASKS), 0);
    assert_int_equal(tasks_xmin_sum("l_hb"), before);
    assert_int_equal(admin_i64("SELECT count(*) FROM l_hb.workers WHERE worker_id = 'w-hb' "
                               "AND lease_until_us > heartbeat_at_us"),
                     1);
    /* A task whose lease another worker took is reported lost. */
    admin("UPDATE l_hb.tasks SET lease_token = lease_token + 1 WHERE id = (SELECT min(id) FROM "
          "l_hb.tasks)");
    assert_int_equal(heartbeat(b, sitq_queue_name(q), "w-hb", 30000000, claimed, N_TASKS), 1);
    for (size_t i = 0; i < N_TASKS; i++) sitq__claimed_clear(&claimed[i]);
    sitq_queue_close(q);
    sitq_backend_close(b);
    admin("DROP SCHEMA l_hb CASCADE");
}

/* Wait (on the server's clock) until every task lease of the schema lapsed. */
static void wait_task_leases_lapsed(const char *schema) {
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %s.tasks WHERE state = 3 AND lease_until_us >= "
             "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint",
             schema);
    for (int i = 0; i < 1000 && admin_i64(sql) > 0; i++) sitq__sleep_us(10000);
    assert_int_equal(admin_i64(sql), 0);
}

static void test_recovery_follows_the_worker_row(void **state) {
    (void)state;
    sitq_backend *b = NULL;
    TQ_OK(open_schema("l_reap", 1, &b));
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    const char *qn = sitq_queue_name(q);
    sitq__claimed claimed[N_TASKS];
    /* Claimed with a short lease, then kept by heartbeats with a long one. */
    enqueue_and_claim(b, q, "w-reap", 200000, claimed, N_TASKS);
    assert_int_equal(heartbeat(b, qn, "w-reap", 60000000, claimed, N_TASKS), 0);
    wait_task_leases_lapsed("l_reap");
    assert_int_equal(reap(b, qn, 200000), 0);
    assert_int_equal(tq_stats(q).count[SITQ_RUNNING], N_TASKS);
    /* The worker stops renewing: once its row lapses, its tasks return. */
    admin("UPDATE l_reap.workers SET lease_until_us = 0");
    assert_int_equal(reap(b, qn, 200000), N_TASKS);
    sitq_stats st = tq_stats(q);
    assert_int_equal(st.count[SITQ_RUNNING], 0);
    assert_int_equal(st.count[SITQ_QUEUED], N_TASKS);
    /* Unstarted: no attempt spent, and the late heartbeat finds them lost. */
    assert_int_equal(admin_i64("SELECT sum(attempts) FROM l_reap.tasks"), 0);
    assert_int_equal(heartbeat(b, qn, "w-reap", 60000000, claimed, N_TASKS), N_TASKS);
    for (size_t i = 0; i < N_TASKS; i++) sitq__claimed_clear(&claimed[i]);
    sitq_queue_close(q);
    sitq_backend_close(b);
    admin("DROP SCHEMA l_reap CASCADE");
}

/* A claim cycle whose COMMIT reached the server but whose answer was lost
 * (dropped right after the commit, as a crash would): the tasks it claimed
 * are running under a lease token nobody knows. The next cycle puts them
 * back unstarted, and its own claim takes them at once, instead of leaving
 * them to lapse a lease later. */
static void test_lost_commit_answer_claims_return(void **state) {
    (void)state;
    sitq_backend *b = NULL;
    TQ_OK(open_schema("l_lost", 1, &b));
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    for (size_t i = 0; i < N_TASKS; i++) tq_enqueue(q, "f", NULL);
    const char *fn[] = {"f"};
    const char *cy_q[] = {sitq_queue_name(q)};
    sitq__claimed claimed[N_TASKS];
    sitq__cycle cy;
    memset(&cy, 0, sizeof cy);
    cy.queues = cy_q;
    cy.n_queues = 1;
    cy.worker_id = "w-lost";
    cy.lease_us = 60000000;
    cy.functions = fn;
    cy.n_functions = 1;
    cy.claim_max = N_TASKS;
    cy.claimed = claimed;
    ((pg_backend *)b)->lose_next_commit_answer = 1;
    assert_int_equal(b->ops->cycle(b, &cy, &tq_err), SITQ_ESTORAGE);
    assert_non_null(strstr(tq_err.message, "may or may not have been committed"));
    assert_int_equal(cy.n_claimed, 0);
    assert_int_equal(admin_i64("SELECT count(*) FROM l_lost.tasks WHERE state = 3"), N_TASKS);
    /* The next cycle (reconnecting) claims half: the lost claim's tasks
     * are back, the other half queued in their place. */
    cy.claim_max = N_TASKS / 2;
    TQ_OK(b->ops->cycle(b, &cy, &tq_err));
    assert_int_equal(cy.n_claimed, N_TASKS / 2);
    assert_int_equal(admin_i64("SELECT count(*) FROM l_lost.tasks WHERE state = 3"), N_TASKS / 2);
    assert_int_equal(admin_i64("SELECT count(*) FROM l_lost.tasks WHERE state = 0 AND "
                               "lease_token IS NULL AND lease_owner IS NULL"),
                     N_TASKS / 2);
    /* Unstarted and not lost: no attempt spent, no lapse counted, the
     * first of them first. */
    assert_int_equal(admin_i64("SELECT sum(attempts) + sum(lapses) FROM l_lost.tasks"), 0);
    assert_int_equal(admin_i64("SELECT min(id) FROM l_lost.tasks WHERE state = 3"),
                     (long long)claimed[0].id);
    for (size_t i = 0; i < N_TASKS / 2; i++) {
        assert_int_equal(claimed[i].attempt, 1);
        assert_int_equal(claimed[i].start_recorded, 0);
    }
    /* The worker holds what it was told of: its heartbeat keeps them all. */
    assert_int_equal(heartbeat(b, cy_q[0], "w-lost", 60000000, claimed, N_TASKS / 2), 0);
    for (size_t i = 0; i < N_TASKS / 2; i++) sitq__claimed_clear(&claimed[i]);
    sitq_queue_close(q);
    sitq_backend_close(b);
    admin("DROP SCHEMA l_lost CASCADE");
}

static void test_same_worker_id_in_two_processes(void **state) {
    (void)state;
    sitq_backend *a = NULL, *b = NULL;
    TQ_OK(open_schema("l_twin", 1, &a));
    TQ_OK(open_schema("l_twin", 1, &b));
    sitq_queue *qa = NULL, *qb = NULL;
    TQ_OK(sitq_queue_open(a, NULL, &qa, &tq_err));
    TQ_OK(sitq_queue_open(b, NULL, &qb, &tq_err));
    sitq__claimed ca[2], cb[2];
    enqueue_and_claim(a, qa, "twin", 200000, ca, 2);
    enqueue_and_claim(b, qb, "twin", 200000, cb, 2);
    assert_int_equal(heartbeat(a, sitq_queue_name(qa), "twin", 60000000, ca, 2), 0);
    assert_int_equal(heartbeat(b, sitq_queue_name(qb), "twin", 60000000, cb, 2), 0);
    assert_int_equal(admin_i64("SELECT count(*) FROM l_twin.workers WHERE worker_id = 'twin'"), 2);
    /* One of them dies: only its tasks are recovered. */
    admin("UPDATE l_twin.workers SET lease_until_us = 0 WHERE owner = "
          "(SELECT min(owner) FROM l_twin.workers)");
    wait_task_leases_lapsed("l_twin");
    assert_int_equal(reap(a, sitq_queue_name(qa), 200000), 2);
    assert_int_equal(tq_stats(qa).count[SITQ_RUNNING], 2);
    for (size_t i = 0; i < 2; i++) sitq__claimed_clear(&ca[i]);
    for (size_t i = 0; i < 2; i++) sitq__claimed_clear(&cb[i]);
    sitq_queue_close(qa);
    sitq_queue_close(qb);
    sitq_backend_close(a);
    sitq_backend_close(b);
    admin("DROP SCHEMA l_twin CASCADE");
}

static void test_schema_upgrade_from_pg1(void **state) {
    (void)state;
    sitq_backend *b = NULL;
    TQ_OK(open_schema("l_up", 1, &b));
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sitq_task_id id = tq_enqueue(q, "f", NULL);
    sitq_queue_close(q);
    sitq_backend_close(b);
    /* Back to what version pg1 created. */
    admin("ALTER TABLE l_up.tasks DROP COLUMN lease_owner; DROP TABLE l_up.workers; "
          "DROP INDEX l_up.deps_order; ALTER TABLE l_up.deps DROP COLUMN position, "
          "DROP COLUMN finalizer; CREATE INDEX deps_task ON l_up.deps(task_id); "
          "UPDATE l_up.meta SET value = 'pg1' WHERE key = 'schema_version'");
    b = NULL;
    TQ_ERR_MSG(SITQ_ESCHEMA, "pg1", "upgrade", open_schema("l_up", 0, &b));
    assert_null(b);
    assert_int_equal(admin_i64("SELECT count(*) FROM l_up.meta WHERE value = 'pg1'"), 1);
    TQ_OK(open_schema("l_up", 1, &b));
    assert_int_equal(admin_i64("SELECT count(*) FROM l_up.meta WHERE value = 'pg4'"), 1);
    assert_int_equal(admin_i64("SELECT count(*) FROM l_up.workers"), 0);
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    assert_int_equal(tq_status(q, id), SITQ_QUEUED);
    sitq__claimed c[1];
    enqueue_and_claim(b, q, "w-up", 30000000, c, 1);
    assert_int_equal(heartbeat(b, sitq_queue_name(q), "w-up", 30000000, c, 1), 0);
    for (size_t i = 0; i < 1; i++) sitq__claimed_clear(&c[i]);
    sitq_queue_close(q);
    sitq_backend_close(b);
    admin("DROP SCHEMA l_up CASCADE");
}

/* pg2 kept no declared order of dependencies: its edges get ascending id
 * order; the schema then takes finalizers and positions. */
static void test_schema_upgrade_from_pg2(void **state) {
    (void)state;
    sitq_backend *b = NULL;
    TQ_OK(open_schema("l_up2", 1, &b));
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sitq_task_id x = tq_enqueue(q, "f", NULL), y = tq_enqueue(q, "f", NULL);
    sitq_task_id yx[] = {y, x};
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.depends_on = yx;
    o.n_depends_on = 2;
    sitq_task_id child = tq_enqueue(q, "f", &o);
    sitq_queue_close(q);
    sitq_backend_close(b);
    admin("DROP INDEX l_up2.deps_order; ALTER TABLE l_up2.deps DROP COLUMN position, "
          "DROP COLUMN finalizer; CREATE INDEX deps_task ON l_up2.deps(task_id); "
          "UPDATE l_up2.meta SET value = 'pg2' WHERE key = 'schema_version'");
    b = NULL;
    TQ_ERR_MSG(SITQ_ESCHEMA, "pg2", "upgrade", open_schema("l_up2", 0, &b));
    TQ_OK(open_schema("l_up2", 1, &b));
    assert_int_equal(admin_i64("SELECT count(*) FROM l_up2.meta WHERE value = 'pg4'"), 1);
    assert_int_equal(admin_i64("SELECT count(*) FROM pg_indexes WHERE schemaname = 'l_up2' "
                               "AND indexname = 'deps_task'"),
                     0);
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sitq_result *r = tq_get(q, child);
    assert_int_equal(r->n_depends_on, 2);
    assert_int_equal(r->depends_on[0], x); /* id order */
    assert_int_equal(r->depends_on[1], y);
    sitq_result_free(r);
    o.finalizer = 1;
    sitq_task_id fin = tq_enqueue(q, "f", &o);
    r = tq_get(q, fin);
    assert_int_equal(r->finalizer, 1);
    assert_int_equal(r->depends_on[0], y); /* declared order */
    sitq_result_free(r);
    sitq_queue_close(q);
    sitq_backend_close(b);
    admin("DROP SCHEMA l_up2 CASCADE");
}

/* Whether with_pg.sh said where its cluster is (so that it may restart it). */
static int can_restart(void) {
    const char *data = getenv("SITQ_TEST_PGDATA"), *bin = getenv("SITQ_TEST_PGBIN");
    return data && *data && bin && *bin;
}

/* Restart the cluster of with_pg.sh (pg_ctl -m immediate -w restart). */
static void restart_server(void) {
    const char *data = getenv("SITQ_TEST_PGDATA"), *bin = getenv("SITQ_TEST_PGBIN"),
               *user = getenv("SITQ_TEST_PG_RUNAS");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s%s%s'%s/pg_ctl' -D '%s' -l '%s/log' -m immediate -w -t 60 restart >/dev/null",
             user && *user ? "runuser -u " : "", user && *user ? user : "",
             user && *user ? " -- " : "", bin, data, data);
    int rc = system(cmd); /* NOLINT(cert-env33-c): the test's own cluster */
    if (rc != 0) fail_msg("%s: status %d", cmd, rc);
}

/* Wait until the server has been up for lease_us (on its clock). */
static void wait_server_up_for(int64_t lease_us) {
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT (clock_timestamp() < pg_postmaster_start_time() + "
             "interval '%lld microseconds')::int",
             (long long)lease_us);
    for (int i = 0; i < 3000 && admin_i64(sql); i++) sitq__sleep_us(10000);
    assert_int_equal(admin_i64(sql), 0);
}

/* A lease-recovery cycle on a server that may just have restarted: the
 * first statement on a connection it broke fails, and the next reconnects. */
static size_t reap_after_restart(sitq_backend *b, const char *queue, int64_t lease_us) {
    for (int i = 0; i < 200; i++) {
        sitq__cycle cy;
        memset(&cy, 0, sizeof cy);
        const char *cy_q[] = {queue};
        cy.queues = cy_q;
        cy.n_queues = 1;
        cy.worker_id = "reaper";
        cy.lease_us = lease_us;
        cy.reap = 1;
        if (b->ops->cycle(b, &cy, &tq_err) == SITQ_OK) return cy.n_reaped;
        sitq__sleep_us(50000);
    }
    fail_msg("no cycle succeeded after the restart: %s", tq_err.message);
    return 0;
}

/* Wait until the server's clock is past at_us. */
static void wait_server_clock_past(int64_t at_us) {
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT ((extract(epoch from clock_timestamp()) * 1000000)::bigint < %lld)::int",
             (long long)at_us);
    for (int i = 0; i < 3000 && admin_i64(sql); i++) sitq__sleep_us(10000);
    assert_int_equal(admin_i64(sql), 0);
}

/* The first lease after a restart, on synthetic clocks (no server): it
 * starts when the server could first be read, not at the postmaster's
 * start, which precedes a crash recovery that may outlast a lease. */
static void test_grace_first_lease_origin(void **state) {
    (void)state;
    const int64_t L = 10000000;
    const sitq_time_us s1 = 1000000000000LL;
    pg_conn c;
    memset(&c, 0, sizeof c);
    /* A process new to a server up for long: no grace. */
    pg_grace_connected(&c, s1);
    pg_grace_seen(&c, s1 + 5 * L);
    assert_int_equal(pg_grace_cutoff(&c, s1 + 5 * L, L), s1 + 5 * L);
    pg_grace_seen(&c, s1 + 10 * L);
    assert_int_equal(pg_grace_cutoff(&c, s1 + 10 * L, L), s1 + 10 * L);
    /* A restart whose crash recovery took three leases: this connection
     * first reads the new server's clock then. Leases that lapsed during
     * the recovery are spared for a lease from that reading; those that
     * lapsed before the crash are not. */
    const sitq_time_us s2 = s1 + 11 * L, ready = s2 + 3 * L;
    pg_grace_connected(&c, s2);
    pg_grace_seen(&c, ready);
    assert_int_equal(pg_grace_cutoff(&c, ready, L), s1 + 10 * L);
    pg_grace_seen(&c, ready + L - 1);
    assert_int_equal(pg_grace_cutoff(&c, ready + L - 1, L), s1 + 10 * L);
    pg_grace_seen(&c, ready + L);
    assert_int_equal(pg_grace_cutoff(&c, ready + L, L), ready + L);
    /* A process new to a young server counts from its first reading. */
    pg_conn n;
    memset(&n, 0, sizeof n);
    pg_grace_connected(&n, s2);
    pg_grace_seen(&n, s2 + L / 2);
    assert_int_equal(pg_grace_cutoff(&n, s2 + L + L / 4, L), 0);
    assert_int_equal(pg_grace_cutoff(&n, s2 + L + L / 2, L), s2 + L + L / 2);
}

/* After a restart, recovery spares the leases that lapsed while the server
 * was down or lapse in its first lease (their workers reconnect and renew
 * them), but recovers at once those that had lapsed before it went down,
 * while this process saw it serving: they get no new lease from the
 * restart (repeated restarts would otherwise hold them for good). */
static void test_restart_grace(void **state) {
    (void)state;
    if (!can_restart()) skip();
    const int64_t lease = 5000000; /* the reaper's, and the grace */
    sitq_backend *b = NULL, *r = NULL;
    TQ_OK(open_schema("l_rs", 1, &b));
    TQ_OK(open_schema("l_rs", 1, &r));
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    const char *qn = sitq_queue_name(q);
    sitq__claimed gone[2], live[3];
    /* A worker that died: its leases lapse before the restart. */
    enqueue_and_claim(b, q, "w-gone", 200000, gone, 2);
    wait_task_leases_lapsed("l_rs");
    /* The reaper's process sees the server past its first lease, after
     * those lapsed (a recovery of another queue reads the clock). */
    wait_server_up_for(lease);
    assert_int_equal(reap(r, "l_rs_other", lease), 0);
    /* A worker whose leases lapse while the server restarts. */
    enqueue_and_claim(b, q, "w-live", 200000, live, 3);
    restart_server();
    assert_int_equal(reap_after_restart(r, qn, lease), 2);
    /* The reaper's first lease on the new server starts at its first
     * reading of the clock there, which is before this one. */
    int64_t first = admin_i64("SELECT (extract(epoch from clock_timestamp()) * 1000000)::bigint");
    assert_int_equal(admin_i64("SELECT count(*) FROM l_rs.tasks WHERE state = 0"), 2);
    assert_int_equal(admin_i64("SELECT count(*) FROM l_rs.tasks WHERE state = 3 AND worker_id = "
                               "'w-live'"),
                     3);
    /* Once the reaper has seen the server serve a lease, the others are
     * recovered too. */
    wait_server_clock_past(first + lease);
    assert_int_equal(reap_after_restart(r, qn, lease), 3);
    assert_int_equal(admin_i64("SELECT count(*) FROM l_rs.tasks WHERE state = 0"), 5);
    for (size_t i = 0; i < 2; i++) sitq__claimed_clear(&gone[i]);
    for (size_t i = 0; i < 3; i++) sitq__claimed_clear(&live[i]);
    sitq_queue_close(q);
    sitq_backend_close(b);
    sitq_backend_close(r);
    admin("DROP SCHEMA l_rs CASCADE");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heartbeat_renews_the_worker_row_only),
        cmocka_unit_test(test_recovery_follows_the_worker_row),
        cmocka_unit_test(test_same_worker_id_in_two_processes),
        cmocka_unit_test(test_lost_commit_answer_claims_return),
        cmocka_unit_test(test_schema_upgrade_from_pg1),
        cmocka_unit_test(test_schema_upgrade_from_pg2),
        cmocka_unit_test(test_grace_first_lease_origin),
        /* last: it restarts the server */
        cmocka_unit_test(test_restart_grace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
