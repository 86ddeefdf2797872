/* test_limits.c - pause, concurrency limits and rate limits are enforced by
 * the claim (one cycle of the backend at a time, so that each claim's
 * outcome is exact), and bad limits are refused with clear errors. */
#include "helpers.h"

#include "backend/backend.h"

#define MAXC 16

/* One claim of up to max tasks of "default" for handlers f and g.* */
static size_t claim(sitq_backend *b, size_t max, sitq__claimed *out, sitq_time_us *next) {
    static const char *fns[] = {"f"};
    static const char *pxs[] = {"g."};
    static const char *qs[] = {"default"};
    sitq__cycle cy;
    memset(&cy, 0, sizeof cy);
    memset(out, 0, sizeof *out * MAXC);
    cy.queues = qs;
    cy.n_queues = 1;
    cy.worker_id = "w";
    cy.lease_us = 60000000;
    cy.functions = fns;
    cy.n_functions = 1;
    cy.prefixes = pxs;
    cy.n_prefixes = 1;
    cy.claim_max = max;
    cy.claimed = out;
    TQ_OK(b->ops->cycle(b, &cy, &tq_err));
    if (next) *next = cy.next_run_at_us;
    return cy.n_claimed;
}

static void clear(sitq__claimed *c, size_t n) {
    for (size_t i = 0; i < n; i++) sitq__claimed_clear(&c[i]);
}

static void test_pause_resume(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq__claimed c[MAXC];
    for (int i = 0; i < 3; i++) tq_enqueue(e->queue, "f", NULL);
    int paused = -1;
    TQ_OK(sitq_queue_paused(e->queue, &paused, &tq_err));
    assert_int_equal(paused, 0);
    TQ_OK(sitq_queue_pause(e->queue, &tq_err));
    TQ_OK(sitq_queue_pause(e->queue, &tq_err)); /* twice: no-op */
    TQ_OK(sitq_queue_paused(e->queue, &paused, &tq_err));
    assert_int_equal(paused, 1);
    assert_int_equal(claim(e->backend, 8, c, NULL), 0);
    assert_int_equal(tq_stats(e->queue).count[SITQ_QUEUED], 3);
    TQ_OK(sitq_queue_resume(e->queue, &tq_err));
    TQ_OK(sitq_queue_paused(e->queue, &paused, &tq_err));
    assert_int_equal(paused, 0);
    sitq_limit *l = NULL;
    size_t n = 9;
    TQ_OK(sitq_queue_limits(e->queue, &l, &n, &tq_err));
    assert_int_equal(n, 0); /* a resumed queue without limits has no row */
    assert_int_equal(claim(e->backend, 8, c, NULL), 3);
    clear(c, 3);
}

static void test_concurrency_per_function_and_queue(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq__claimed c[MAXC];
    for (int i = 0; i < 5; i++) tq_enqueue(e->queue, "f", NULL);
    for (int i = 0; i < 5; i++) tq_enqueue(e->queue, "g.x", NULL);
    TQ_OK(sitq_queue_set_limit(e->queue, "f", 2, NULL, &tq_err));
    sitq_time_us next = 0;
    size_t got = claim(e->backend, MAXC, c, &next);
    assert_int_equal(got, 7); /* 2 of f, all 5 of g.x */
    int nf = 0;
    for (size_t i = 0; i < got; i++) nf += strcmp(c[i].function, "f") == 0;
    assert_int_equal(nf, 2);
    clear(c, got);
    /* Two f running: no more f until one finishes. */
    assert_int_equal(claim(e->backend, MAXC, c, &next), 0);
    assert_true(next > 0); /* look again soon */
    /* The queue's own limit caps everything. */
    TQ_OK(sitq_queue_remove_limit(e->queue, "f", &tq_err));
    TQ_OK(sitq_queue_set_limit(e->queue, NULL, 8, NULL, &tq_err));
    assert_int_equal(claim(e->backend, MAXC, c, NULL), 1);
    clear(c, 1);
    assert_int_equal(claim(e->backend, MAXC, c, NULL), 0);
    sitq_limit *l = NULL;
    size_t n = 0;
    TQ_OK(sitq_queue_limits(e->queue, &l, &n, &tq_err));
    assert_int_equal(n, 1);
    assert_null(l[0].function);
    assert_int_equal(l[0].concurrency, 8);
    assert_int_equal(l[0].rate_count, 0);
    sitq_limits_free(l, n);
}

static void test_rate(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq__claimed c[MAXC];
    for (int i = 0; i < 5; i++) tq_enqueue(e->queue, "f", NULL);
    TQ_OK(sitq_queue_set_limit(e->queue, "f", 0, "1/h", &tq_err));
    sitq_time_us next = 0;
    assert_int_equal(claim(e->backend, MAXC, c, &next), 1);
    clear(c, 1);
    sitq_time_us now = sitq_now_us();
    assert_int_equal(claim(e->backend, MAXC, c, &next), 0);
    /* The next start is due an hour after the first. */
    assert_true(next > now + 3500000000LL && next <= now + 3600000000LL);
    sitq_limit *l = NULL;
    size_t n = 0;
    TQ_OK(sitq_queue_limits(e->queue, &l, &n, &tq_err));
    assert_int_equal(n, 1);
    assert_string_equal(l[0].function, "f");
    assert_int_equal(l[0].rate_count, 1);
    assert_int_equal(l[0].rate_interval_us, 3600000000LL);
    sitq_limits_free(l, n);
}

/* A worker with room for more than a limit allows, polling only once an
 * hour: a claim that took all the limit allowed must make it look again by
 * itself (a concurrency limit: after its own successes; a rate: at the next
 * start), or the rest of the tasks waits for the poll. */
static void drain_limited(sitq_queue *q, const char *function, int64_t concurrency,
                          const char *rate) {
    TQ_OK(sitq_queue_set_limit(q, function, concurrency, rate, &tq_err));
    enum { N = 8 };
    sitq_task_id ids[N];
    for (int i = 0; i < N; i++) ids[i] = tq_enqueue(q, "f", NULL);
    sitq_worker_options o;
    tq_worker_opts(&o, 4, 0);
    o.poll_interval_s = 3600;
    o.heartbeat_interval_s = 10;
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(q, &o, &w, &tq_err));
    tq_rec rec;
    tq_rec_init(&rec, N);
    rec.sleep_ms = 5;
    TQ_OK(sitq_worker_register(w, "f", tq_h_record, &rec, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    for (int i = 0; i < N; i++) {
        sitq_result *r = tq_wait_done(q, ids[i], 30);
        assert_int_equal(r->status, SITQ_SUCCEEDED);
        sitq_result_free(r);
    }
    TQ_OK(sitq_worker_stop(w, 30, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(tq_rec_count(&rec), N);
    if (concurrency > 0) assert_true(atomic_load(&rec.max_active) <= concurrency);
    tq_rec_free(&rec);
}

static void test_limit_cut_claim_looks_again(void **state) {
    drain_limited(TQ_ENV(state)->queue, "f", 2, NULL);
}

static void test_rate_cut_claim_looks_again(void **state) {
    drain_limited(TQ_ENV(state)->queue, NULL, 0, "50/s");
}

static void test_rate_parse_and_bad_input(void **state) {
    tq_env *e = TQ_ENV(state);
    int64_t n = 0, us = 0;
    TQ_OK(sitq_rate_parse("100/m", &n, &us, &tq_err));
    assert_int_equal(n, 100);
    assert_int_equal(us, 60000000);
    TQ_OK(sitq_rate_parse("5/30s", &n, &us, &tq_err));
    assert_int_equal(n, 5);
    assert_int_equal(us, 30000000);
    const char *bad[] = {"",     "0/s",   "-1/s",  "10",  "10/",
                         "10/x", "10/0s", "10/s ", "a/s", "10/400d"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        TQ_ERR(SITQ_EINVAL, sitq_rate_parse(bad[i], &n, &us, &tq_err));
        assert_true(tq_contains_ci(tq_err.message, "bad rate"));
        assert_int_equal(n, 0);
    }
    TQ_ERR(SITQ_EINVAL, sitq_queue_set_limit(e->queue, "f", -1, NULL, &tq_err));
    assert_true(tq_contains_ci(tq_err.message, "concurrency"));
    TQ_ERR(SITQ_EINVAL, sitq_queue_set_limit(e->queue, "f", 0, "0/s", &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_queue_set_limit(e->queue, "", 1, NULL, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_queue_pause(NULL, &tq_err));
    sitq_limit *l = NULL;
    size_t cnt = 0;
    TQ_OK(sitq_queue_limits(e->queue, &l, &cnt, &tq_err));
    assert_int_equal(cnt, 0); /* nothing stored by the refused calls */
}

/* Removing reports whether there was a limit to remove; a pause stays. */
static void test_remove_reports_missing(void **state) {
    tq_env *e = TQ_ENV(state);
    TQ_ERR_MSG(SITQ_ENOTFOUND, "no limit", "no limit",
               sitq_queue_remove_limit(e->queue, "f", &tq_err));
    TQ_ERR(SITQ_ENOTFOUND, sitq_queue_remove_limit(e->queue, NULL, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_queue_remove_limit(NULL, NULL, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_queue_remove_limit(e->queue, "", &tq_err));
    TQ_OK(sitq_queue_pause(e->queue, &tq_err));
    TQ_ERR(SITQ_ENOTFOUND, sitq_queue_remove_limit(e->queue, NULL, &tq_err));
    TQ_OK(sitq_queue_set_limit(e->queue, NULL, 3, NULL, &tq_err));
    TQ_OK(sitq_queue_set_limit(e->queue, "f", 0, "5/s", &tq_err));
    TQ_OK(sitq_queue_remove_limit(e->queue, "f", &tq_err));
    TQ_ERR(SITQ_ENOTFOUND, sitq_queue_remove_limit(e->queue, "f", &tq_err));
    TQ_OK(sitq_queue_remove_limit(e->queue, NULL, &tq_err));
    TQ_ERR(SITQ_ENOTFOUND, sitq_queue_remove_limit(e->queue, NULL, &tq_err));
    sitq_limit *l = NULL;
    size_t n = 0;
    TQ_OK(sitq_queue_limits(e->queue, &l, &n, &tq_err));
    assert_int_equal(n, 1); /* the queue's pause, no limit */
    assert_null(l[0].function);
    assert_true(l[0].paused);
    assert_int_equal(l[0].concurrency, 0);
    assert_int_equal(l[0].rate_count, 0);
    sitq_limits_free(l, n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pause_resume, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_concurrency_per_function_and_queue, tq_setup,
                                        tq_teardown),
        cmocka_unit_test_setup_teardown(test_rate, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_limit_cut_claim_looks_again, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_rate_cut_claim_looks_again, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_rate_parse_and_bad_input, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_remove_reports_missing, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
