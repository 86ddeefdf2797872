/* test_pg_locks.c - the order in which a claim locks rows on PostgreSQL.
 * A claim over several limited queues locks all their limit rows in one
 * order (queue, function) before it visits the queues in its own order, so
 * that claims whose workers list the queues in different orders (or take
 * them round-robin) wait for each other instead of deadlocking: a deadlock
 * costs the server's deadlock_timeout (1 s) before one claim is aborted and
 * tried again, which held a 5/s rate to about 1 start a second.
 *
 * The other claim here is a plain session that locks queue a's rows, then
 * queue b's (the order every claim now follows), while the worker's claim
 * lists its queues as b, a; the session has a short deadlock_timeout so
 * that it, not the worker's claim, is the one the server would abort. Runs
 * under with_pg.sh
 * (SITQ_TEST_PG_URI); the test uses its own schema. */
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#include "backend/backend.h"
#include "core/internal.h"

static const char *uri(void) {
    const char *u = getenv("SITQ_TEST_PG_URI");
    assert_non_null(u);
    return u;
}

/* Open the backend on schema (created when missing). */
static sitq_code open_schema(const char *schema, sitq_backend **b) {
    sitq_postgres_options o;
    sitq_postgres_options_init(&o);
    o.schema = schema;
    return sitq_backend_open_postgres(uri(), &o, b, &tq_err);
}

static PGconn *connect_admin(void) {
    PGconn *c = PQconnectdb(uri());
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    return c;
}

/* Run sql on c; returns the result's status (the result is freed). */
static ExecStatusType run(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    return st;
}

/* The number of other sessions waiting for a lock held by session pid. */
static long waiting_on(PGconn *c, int pid) {
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE %d = ANY(pg_blocking_pids(pid))", pid);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

/* One claiming cycle over queues b and a, run on its own thread. */
typedef struct claim_run {
    sitq_backend *b;
    sitq__claimed claimed[4];
    size_t n_claimed;
    sitq_code rc;
    sitq_error err;
} claim_run;

static void *claim_main(void *arg) {
    claim_run *cr = arg;
    const char *fn[] = {"f"};
    const char *queues[] = {"b", "a"}; /* b first, as a worker may list them */
    sitq__cycle cy;
    memset(&cy, 0, sizeof cy);
    cy.queues = queues;
    cy.n_queues = 2;
    cy.worker_id = "w-locks";
    cy.lease_us = 30000000;
    cy.functions = fn;
    cy.n_functions = 1;
    cy.claim_max = 4;
    cy.claimed = cr->claimed;
    cr->rc = cr->b->ops->cycle(cr->b, &cy, &cr->err);
    cr->n_claimed = cy.n_claimed;
    return NULL;
}

static void test_claim_locks_limits_in_one_order(void **state) {
    (void)state;
    claim_run cr;
    memset(&cr, 0, sizeof cr);
    TQ_OK(open_schema("l_locks", &cr.b));
    sitq_queue *qa = NULL, *qb = NULL;
    TQ_OK(sitq_queue_open(cr.b, "a", &qa, &tq_err));
    TQ_OK(sitq_queue_open(cr.b, "b", &qb, &tq_err));
    tq_enqueue(qa, "f", NULL);
    tq_enqueue(qb, "f", NULL);
    TQ_OK(sitq_queue_set_limit(qa, NULL, 0, "1000/s", &tq_err));
    TQ_OK(sitq_queue_set_limit(qb, NULL, 0, "1000/s", &tq_err));

    /* The other claim holds queue a's limits. */
    PGconn *other = connect_admin(), *watch = connect_admin();
    assert_int_equal(run(other, "SET deadlock_timeout = '20ms'"), PGRES_COMMAND_OK);
    assert_int_equal(run(other, "BEGIN"), PGRES_COMMAND_OK);
    assert_int_equal(run(other, "SELECT * FROM l_locks.limits WHERE queue = 'a' FOR UPDATE"),
                     PGRES_TUPLES_OK);

    /* The worker's claim starts and waits for a's rows. */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, claim_main, &cr), 0);
    int pid = PQbackendPID(other);
    for (int i = 0; waiting_on(watch, pid) == 0; i++) {
        assert_true(i < 3000); /* 30 s */
        tq_sleep_ms(10);
    }
    /* It holds nothing of queue b meanwhile: the other claim takes b's
     * rows at once. Before, the claim took b's rows first, as it listed
     * them, and waited for a's, and this lock was a deadlock (40P01). */
    PGresult *r = PQexec(other, "SELECT * FROM l_locks.limits WHERE queue = 'b' FOR UPDATE");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("locking b: %s", PQerrorMessage(other));
    PQclear(r);
    assert_int_equal(run(other, "COMMIT"), PGRES_COMMAND_OK);

    /* Then the worker's claim goes on and takes the task of each queue. */
    assert_int_equal(pthread_join(th, NULL), 0);
    if (cr.rc != SITQ_OK) fail_msg("the claim failed: %s", cr.err.message);
    assert_int_equal(cr.n_claimed, 2);
    for (size_t i = 0; i < cr.n_claimed; i++) sitq__claimed_clear(&cr.claimed[i]);

    PQfinish(other);
    sitq_queue_close(qa);
    sitq_queue_close(qb);
    sitq_backend_close(cr.b);
    assert_int_equal(run(watch, "DROP SCHEMA l_locks CASCADE"), PGRES_COMMAND_OK);
    PQfinish(watch);
}

/* The child: lease-recovery cycles on queue "q", without end. */
static void recover_forever(void) {
    sitq_backend *b = NULL;
    if (open_schema("l_idle", &b) != SITQ_OK) _exit(3);
    const char *queues[] = {"q"};
    for (;;) {
        sitq__cycle cy;
        memset(&cy, 0, sizeof cy);
        cy.queues = queues;
        cy.n_queues = 1;
        cy.worker_id = "w-idle";
        cy.lease_us = 30000000;
        cy.reap = 1;
        (void)b->ops->cycle(b, &cy, &tq_err);
    }
}

/* The pid of a session idle in a transaction now (the child's writer),
 * or 0 (the other sessions of the cluster are this test's own). */
static int idle_in_txn_session(PGconn *watch) {
    PGresult *r = PQexec(watch, "SELECT pid FROM pg_stat_activity WHERE state = "
                                "'idle in transaction' AND pid <> pg_backend_pid()");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int pid = PQntuples(r) > 0 ? atoi(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    return pid;
}

static long sessions_with_pid(PGconn *watch, int pid) {
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %d", pid);
    PGresult *r = PQexec(watch, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

static void test_stopped_process_session_is_ended(void **state) {
    (void)state;
    sitq_backend *b = NULL;
    TQ_OK(open_schema("l_idle", &b));
    sitq_backend_close(b); /* the schema exists: the child only opens it */
    PGconn *watch = connect_admin();
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) recover_forever();
    /* Stop the child while its session is inside a transaction: look, stop,
     * and look again (a stopped child's session stays as it is). */
    int session = 0;
    for (int i = 0; i < 20000 && session == 0; i++) {
        if (idle_in_txn_session(watch) == 0) continue;
        kill(child, SIGSTOP);
        int st;
        waitpid(child, &st, WUNTRACED);
        session = idle_in_txn_session(watch);
        if (session == 0) kill(child, SIGCONT);
    }
    assert_true(session != 0);
    /* The server ends it 10 s later; the test gives it 60. */
    time_t until = time(NULL) + 60;
    while (sessions_with_pid(watch, session) > 0) {
        if (time(NULL) > until) {
            kill(child, SIGKILL);
            waitpid(child, NULL, 0);
            fail_msg("the stopped process's session was still open after 60 s");
        }
        tq_sleep_ms(100);
    }
    kill(child, SIGKILL);
    kill(child, SIGCONT);
    waitpid(child, NULL, 0);
    assert_int_equal(run(watch, "DROP SCHEMA l_idle CASCADE"), PGRES_COMMAND_OK);
    PQfinish(watch);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claim_locks_limits_in_one_order),
        cmocka_unit_test(test_stopped_process_session_is_ended),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
