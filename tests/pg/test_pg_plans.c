/* test_pg_plans.c - the plans PostgreSQL picks for the worker's write path,
 * as prepared statements run them: after five calls a prepared statement
 * may switch to its generic plan, which knows nothing of the arrays' sizes
 * or the ids. A statement that finds running tasks by id must reach them
 * through the primary key: looked up in tasks_running (queue, id) instead,
 * each id cost a scan of that whole index, dead entries included, which
 * made the end-to-end drain several times slower. The plans are read with
 * plan_cache_mode = force_generic_plan on a schema whose statistics say
 * what a busy queue's say (ANALYZE with 10,000 tasks queued, some running;
 * a table of a few pages is rather scanned whole, which is right there).
 * Runs under with_pg.sh (SITQ_TEST_PG_URI); the test uses its own schema. */
#include <libpq-fe.h>

#include "helpers.h"

#include "backend/backend.h"
#include "core/internal.h"
#include "backend/pg/pg.h"

#define N_QUEUED  10000
#define N_CLAIMED 100

static const char *uri(void) {
    const char *u = getenv("SITQ_TEST_PG_URI");
    assert_non_null(u);
    return u;
}

static void quiet(void *arg, const char *m) {
    (void)arg;
    (void)m;
}

/* Run SQL on c; asserts success. */
static void exec_ok(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* Claim n tasks of queue q (function "f") in one cycle. */
static void claim(sitq_backend *b, sitq_queue *q, sitq__claimed *claimed, size_t n) {
    const char *fn[] = {"f"};
    const char *cy_q[] = {sitq_queue_name(q)};
    sitq__cycle cy;
    memset(&cy, 0, sizeof cy);
    cy.queues = cy_q;
    cy.n_queues = 1;
    cy.worker_id = "plans";
    cy.lease_us = 60000000;
    cy.functions = fn;
    cy.n_functions = 1;
    cy.claim_max = n;
    cy.claimed = claimed;
    TQ_OK(b->ops->cycle(b, &cy, &tq_err));
    assert_int_equal(cy.n_claimed, n);
}

/* The generic plan of statement sql, every parameter NULL (a generic plan
 * does not look at them). Malloc'd text, one line per plan node. */
static char *generic_plan(PGconn *c, const char *name, const char *sql) {
    PGresult *r = PQprepare(c, name, sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) fail_msg("prepare %s: %s", name, PQerrorMessage(c));
    PQclear(r);
    r = PQdescribePrepared(c, name);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    int n = PQnparams(r);
    PQclear(r);
    char explain[512];
    int o = snprintf(explain, sizeof explain, "EXPLAIN (COSTS OFF) EXECUTE %s", name);
    for (int i = 0; i < n; i++)
        o += snprintf(explain + o, sizeof explain - (size_t)o, "%sNULL", i ? ", " : "(");
    if (n) snprintf(explain + o, sizeof explain - (size_t)o, ")");
    r = PQexec(c, explain);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("%s: %s", explain, PQerrorMessage(c));
    size_t len = 1;
    for (int i = 0; i < PQntuples(r); i++) len += strlen(PQgetvalue(r, i, 0)) + 1;
    char *plan = calloc(1, len);
    assert_non_null(plan);
    size_t at = 0;
    for (int i = 0; i < PQntuples(r); i++)
        at += (size_t)snprintf(plan + at, len - at, "%s\n", PQgetvalue(r, i, 0));
    PQclear(r);
    return plan;
}

static void test_running_tasks_by_id_use_the_primary_key(void **state) {
    (void)state;
    sitq_postgres_options o;
    sitq_postgres_options_init(&o);
    o.schema = "p_plans";
    o.create_schema = 1;
    sitq_backend *b = NULL;
    TQ_OK(sitq_backend_open_postgres(uri(), &o, &b, &tq_err));
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(b, "q", &q, &tq_err));
    sitq_task_spec *specs = calloc(N_QUEUED, sizeof *specs);
    sitq_task_id *ids = calloc(N_QUEUED, sizeof *ids);
    assert_true(specs && ids);
    for (size_t i = 0; i < N_QUEUED; i++) specs[i].function = "f";
    TQ_OK(sitq_enqueue_batch(q, specs, N_QUEUED, ids, &tq_err));
    free(specs);
    free(ids);
    sitq__claimed claimed[N_CLAIMED];
    claim(b, q, claimed, N_CLAIMED);
    PGconn *c = PQconnectdb(uri());
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQsetNoticeProcessor(c, quiet, NULL);
    exec_ok(c, "ANALYZE p_plans.tasks");
    exec_ok(c, "SET plan_cache_mode = force_generic_plan");
    static const struct {
        pg_stmt_id id;
        const char *name;
    } by_id[] = {
        {PG_SUCCEED_MANY, "succeed_many"},     {PG_SUCCEED, "succeed"},
        {PG_START_MANY, "start_many"},         {PG_START, "start"},
        {PG_RELEASE_MANY, "release_many"},     {PG_RELEASE, "release"},
        {PG_FAIL_INFO_MANY, "fail_info_many"}, {PG_FAIL_INFO, "fail_info"},
        {PG_HEARTBEAT_MANY, "heartbeat_many"},
    };
    const pg_backend *pb = (const pg_backend *)b;
    for (size_t i = 0; i < sizeof by_id / sizeof by_id[0]; i++) {
        char *plan = generic_plan(c, by_id[i].name, pb->sql[by_id[i].id]);
        if (!strstr(plan, "tasks_pkey") || strstr(plan, "tasks_running"))
            fail_msg("%s does not find running tasks through tasks_pkey:\n%s", by_id[i].name, plan);
        free(plan);
    }
    exec_ok(c, "DROP SCHEMA p_plans CASCADE");
    PQfinish(c);
    for (size_t i = 0; i < N_CLAIMED; i++) sitq__claimed_clear(&claimed[i]);
    sitq_queue_close(q);
    sitq_backend_close(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_running_tasks_by_id_use_the_primary_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
