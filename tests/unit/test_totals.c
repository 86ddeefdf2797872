/* test_totals.c - the monotonic counters of a queue (sitq_queue_totals):
 * a scripted sequence of outcomes, driven through the storage seam so that
 * each one is exact (two successes, a failure with a retry left and then
 * a success, a failure with none left, a lease lost, a cancel), counted
 * once each; a purge or retention leaves them as they were; unique-key hits and
 * another queue's tasks are not counted; bad arguments are refused. Runs on
 * SQLite and, under SITQ_TEST_BACKEND=postgres, on PostgreSQL. */
#include "helpers.h"

#include "backend/backend.h"
#include "core/internal.h"
#include "core/lifecycle.h"

static sitq_totals totals(sitq_queue *q) {
    sitq_totals t;
    memset(&t, 0xff, sizeof t);
    TQ_OK(sitq_queue_totals(q, &t, &tq_err));
    return t;
}

static void assert_totals(sitq_queue *q, int64_t enq, int64_t ok, int64_t failed, int64_t retried,
                          int64_t lost, int64_t cancelled) {
    sitq_totals t = totals(q);
    assert_int_equal(t.enqueued, enq);
    assert_int_equal(t.succeeded, ok);
    assert_int_equal(t.failed, failed);
    assert_int_equal(t.retried, retried);
    assert_int_equal(t.lost, lost);
    assert_int_equal(t.cancelled, cancelled);
}

/* A cycle of the default queue for one function. */
static void cycle_init(sitq__cycle *cy, const char *const *fn, sitq__claimed *claimed, size_t max,
                       int64_t lease_us) {
    static const char *const queues[] = {"default"};
    memset(cy, 0, sizeof *cy);
    cy->queues = queues;
    cy->n_queues = 1;
    cy->worker_id = "totals-test";
    cy->lease_us = lease_us;
    cy->functions = fn;
    cy->n_functions = fn ? 1 : 0;
    cy->claim_max = fn ? max : 0;
    cy->claimed = claimed;
}

/* Run lease-recovering cycles until one recovers a lapsed lease (bounded
 * wait for the lapse, on the backend's clock); how many it recovered. */
static size_t reap(sitq_backend *b) {
    size_t reaped = 0;
    int64_t end = tq_mono_ms() + 10000;
    while (reaped == 0 && tq_mono_ms() < end) {
        sitq__cycle cy;
        cycle_init(&cy, NULL, NULL, 0, 1);
        cy.reap = 1;
        TQ_OK(b->ops->cycle(b, &cy, &tq_err));
        reaped = cy.n_reaped;
    }
    return reaped;
}

/* Claim n tasks of function fn (polling: a retry is due a microsecond
 * after its failure), bounded by 10 s. */
static void claim(sitq_backend *b, const char *fn, sitq__claimed *out, size_t n, int64_t lease_us) {
    const char *fns[] = {fn};
    size_t got = 0;
    int64_t end = tq_mono_ms() + 10000;
    while (got < n && tq_mono_ms() < end) {
        sitq__cycle cy;
        cycle_init(&cy, fns, out + got, n - got, lease_us);
        TQ_OK(b->ops->cycle(b, &cy, &tq_err));
        got += cy.n_claimed;
    }
    assert_int_equal(got, n);
}

static sitq__completion done(const sitq__claimed *t, int ok) {
    sitq__completion k;
    memset(&k, 0, sizeof k);
    k.id = t->id;
    k.lease_token = t->lease_token;
    k.ok = ok;
    k.started_at_us = k.finished_at_us = sitq_now_us();
    return k;
}

static void complete(sitq_backend *b, sitq__completion *k, size_t n) {
    sitq__cycle cy;
    cycle_init(&cy, NULL, NULL, 0, 1000000);
    cy.completions = k;
    cy.n_completions = n;
    TQ_OK(b->ops->cycle(b, &cy, &tq_err));
    for (size_t i = 0; i < n; i++) assert_int_equal(k[i].applied, 1);
}

static sitq_task_id enqueue(sitq_queue *q, const char *fn, int32_t retries) {
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.max_retries = retries;
    o.backoff_base_s = 1e-6;
    o.backoff_jitter = 0;
    return tq_enqueue(q, fn, &o);
}

static void test_scripted_sequence(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_backend *b = e->backend;
    sitq_queue *q = e->queue;
    assert_totals(q, 0, 0, 0, 0, 0, 0);
    enqueue(q, "ok", 0);
    enqueue(q, "ok", 0);
    enqueue(q, "retry", 1);
    enqueue(q, "fail", 0);
    sitq_task_id lose = enqueue(q, "lose", 1);
    assert_totals(q, 5, 0, 0, 0, 0, 0);

    /* Two successes, a failure with a retry left, one with none, together
     * in one commit. */
    sitq__claimed c[4];
    memset(c, 0, sizeof c);
    claim(b, "ok", c, 2, 60000000);
    claim(b, "retry", c + 2, 1, 60000000);
    claim(b, "fail", c + 3, 1, 60000000);
    sitq__completion k[4] = {done(&c[0], 1), done(&c[1], 1), done(&c[2], 0), done(&c[3], 0)};
    complete(b, k, 4);
    assert_totals(q, 5, 2, 1, 1, 0, 0);
    for (int i = 0; i < 4; i++) sitq__claimed_clear(&c[i]);

    /* The retry succeeds. */
    claim(b, "retry", c, 1, 60000000);
    sitq__completion k2 = done(&c[0], 1);
    complete(b, &k2, 1);
    sitq__claimed_clear(&c[0]);
    assert_totals(q, 5, 3, 1, 1, 0, 0);

    /* A lease of a microsecond lapses; a cycle that recovers leases finds
     * it. */
    claim(b, "lose", c, 1, 1);
    sitq__claimed_clear(&c[0]);
    assert_int_equal(reap(b), 1);
    assert_totals(q, 5, 3, 1, 1, 1, 0);
    /* Put back (its attempt had not started): cancelled while queued. */
    sitq_status st;
    TQ_OK(sitq_cancel(q, lose, &st, &tq_err));
    assert_int_equal(st, SITQ_CANCELLED);
    assert_totals(q, 5, 3, 1, 1, 1, 1);
    assert_int_equal(tq_stats(q).count[SITQ_SUCCEEDED], 3);

    /* A purge deletes the finished tasks and the stored succeeded count
     * goes down; the counters do not. */
    int64_t end_purge = tq_mono_ms() + 10000, purged = 0, n = 0;
    while (purged < 5 && tq_mono_ms() < end_purge) {
        TQ_OK(sitq_purge(q, 0, &n, &tq_err));
        purged += n;
    }
    assert_int_equal(purged, 5);
    assert_int_equal(tq_stats(q).count[SITQ_SUCCEEDED], 0);
    assert_int_equal(tq_stats(q).total, 0);
    assert_totals(q, 5, 3, 1, 1, 1, 1);
}

/* A unique key's hit inserts nothing and counts nothing; a batch counts
 * each task; another queue counts its own. */
static void test_enqueue_counts_inserts_only(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.unique_key = "k";
    sitq_task_id a = tq_enqueue(e->queue, "f", &o), b2 = tq_enqueue(e->queue, "f", &o);
    assert_int_equal(a, b2);
    assert_int_equal(totals(e->queue).enqueued, 1);
    sitq_task_spec specs[3];
    memset(specs, 0, sizeof specs);
    for (int i = 0; i < 3; i++) specs[i].function = "f";
    sitq_task_id ids[3];
    TQ_OK(sitq_enqueue_batch(e->queue, specs, 3, ids, &tq_err));
    assert_int_equal(totals(e->queue).enqueued, 4);
    sitq_queue *other = NULL;
    TQ_OK(sitq_queue_open(e->backend, "other", &other, &tq_err));
    assert_int_equal(totals(other).enqueued, 0);
    tq_enqueue(other, "f", NULL);
    assert_int_equal(totals(other).enqueued, 1);
    assert_int_equal(totals(e->queue).enqueued, 4);
    sitq_queue_close(other);
}

/* Retention deletes expired tasks: enqueued stays (stored + purged). */
static void test_retention_keeps_counters(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.keep_s = 0.001;
    sitq_status st;
    for (int i = 0; i < 3; i++)
        TQ_OK(sitq_cancel(e->queue, tq_enqueue(e->queue, "f", &o), &st, &tq_err));
    tq_enqueue(e->queue, "f", NULL); /* kept: still queued */
    assert_totals(e->queue, 4, 0, 0, 0, 0, 3);
    int64_t deleted = 0, n = 0, end = tq_mono_ms() + 10000;
    while (deleted < 3 && tq_mono_ms() < end) {
        TQ_OK(sitq_purge_expired(e->backend, 500, &n, &tq_err));
        deleted += n;
    }
    assert_int_equal(deleted, 3);
    assert_int_equal(tq_stats(e->queue).total, 1);
    assert_totals(e->queue, 4, 0, 0, 0, 0, 3);
}

/* A running task cancelled whose worker then dies: lease recovery ends it
 * cancelled, so it counts as a cancelled task (and its attempt as lost),
 * as stored. */
static void test_cancelled_then_lost(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_backend *b = e->backend;
    sitq_task_id id = enqueue(e->queue, "lose", 3);
    sitq__claimed c;
    memset(&c, 0, sizeof c);
    claim(b, "lose", &c, 1, 1);
    sitq__claimed_clear(&c);
    sitq_status st;
    TQ_OK(sitq_cancel(e->queue, id, &st, &tq_err));
    assert_int_equal(st, SITQ_RUNNING);
    assert_int_equal(reap(b), 1);
    assert_int_equal(tq_stats(e->queue).count[SITQ_CANCELLED], 1);
    assert_totals(e->queue, 1, 0, 0, 0, 1, 1);
}

/* The core's mapping of a failed attempt's verdict to its counter. */
static void test_verdict_counters(void **state) {
    (void)state;
    assert_int_equal(sitq__total_of_verdict(SITQ__QUEUED), SITQ__TOTAL_RETRIED);
    assert_int_equal(sitq__total_of_verdict(SITQ__FAILED), SITQ__TOTAL_FAILED);
    assert_int_equal(sitq__total_of_verdict(SITQ__CANCELLED), SITQ__TOTAL_CANCELLED);
    assert_int_equal(sitq__total_of_verdict(SITQ__SUCCEEDED), SITQ__TOTAL_SUCCEEDED);
    assert_int_equal(sitq__total_of_verdict(SITQ__RUNNING), SITQ__TOTAL_NONE);
    sitq__tally t = {{0}};
    assert_int_equal(sitq__tally_any(&t), 0);
    t.n[SITQ__TOTAL_LOST] = 1;
    assert_int_equal(sitq__tally_any(&t), 1);
}

static void test_bad_arguments(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_totals t;
    TQ_ERR_MSG(SITQ_EINVAL, "queue", "NULL", sitq_queue_totals(NULL, &t, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "out", "NULL", sitq_queue_totals(e->queue, NULL, &tq_err));
}

/* sitq_queue_counters: the counters of sitq_queue_totals but enqueued
 * (-1, not read), another queue's outcomes apart; bad arguments refused. */
static void test_counters_without_enqueued(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_backend *b = e->backend;
    sitq_queue *q = e->queue;
    sitq_totals t;
    memset(&t, 0x55, sizeof t);
    TQ_OK(sitq_queue_counters(q, &t, &tq_err));
    assert_int_equal(t.enqueued, -1);
    assert_int_equal(t.succeeded + t.failed + t.retried + t.lost + t.cancelled, 0);
    enqueue(q, "ok", 0);
    enqueue(q, "ok", 0);
    enqueue(q, "retry", 1);
    sitq_task_id cancel = enqueue(q, "ok", 0);
    enqueue(q, "idle", 0); /* stays queued: enqueued would count it */
    sitq__claimed c[3];
    memset(c, 0, sizeof c);
    claim(b, "ok", c, 2, 1000000);
    claim(b, "retry", c + 2, 1, 1000000);
    sitq__completion k[3] = {done(&c[0], 1), done(&c[1], 1), done(&c[2], 0)};
    complete(b, k, 3);
    for (int i = 0; i < 3; i++) sitq__claimed_clear(&c[i]);
    TQ_OK(sitq_cancel(q, cancel, NULL, &tq_err));
    TQ_OK(sitq_queue_counters(q, &t, &tq_err));
    assert_int_equal(t.enqueued, -1);
    assert_int_equal(t.succeeded, 2);
    assert_int_equal(t.failed, 0);
    assert_int_equal(t.retried, 1);
    assert_int_equal(t.lost, 0);
    assert_int_equal(t.cancelled, 1);
    sitq_totals all = totals(q);
    assert_int_equal(all.enqueued, 5);
    assert_int_equal(all.succeeded, t.succeeded);
    assert_int_equal(all.retried, t.retried);
    assert_int_equal(all.cancelled, t.cancelled);
    sitq_queue *other = NULL;
    TQ_OK(sitq_queue_open(b, "other", &other, &tq_err));
    TQ_OK(sitq_queue_counters(other, &t, &tq_err));
    assert_int_equal(t.succeeded + t.retried + t.cancelled, 0);
    sitq_queue_close(other);
    TQ_ERR(SITQ_EINVAL, sitq_queue_counters(NULL, &t, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_queue_counters(q, NULL, &tq_err));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scripted_sequence, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_enqueue_counts_inserts_only, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_retention_keeps_counters, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_cancelled_then_lost, tq_setup, tq_teardown),
        cmocka_unit_test(test_verdict_counters),
        cmocka_unit_test_setup_teardown(test_bad_arguments, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_counters_without_enqueued, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
