/* test_retry.c - automatic retries with backoff, and sitq_retry. */
#include "helpers.h"

/* Fails the first `fail_first` attempts, records attempt numbers. */
typedef struct {
    atomic_int calls;
    int fail_first;
    atomic_int attempts_seen[16];
} flaky;

static int h_flaky(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)p;
    (void)n;
    flaky *f = ud;
    int c = atomic_fetch_add(&f->calls, 1);
    if (c < 16) atomic_store(&f->attempts_seen[c], sitq_ctx_attempt(ctx));
    if (c < f->fail_first) {
        char msg[64];
        snprintf(msg, sizeof msg, "flaky failure %d", c + 1);
        sitq_ctx_set_error(ctx, msg, NULL);
        return 1;
    }
    sitq_ctx_set_result(ctx, "ok", 2);
    return 0;
}

static void test_fail_until_exhausted(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    flaky f;
    memset(&f, 0, sizeof f);
    f.fail_first = 1000;
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", h_flaky, &f);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.max_retries = 2;
    o.backoff_base_s = 0.01;
    o.backoff_jitter = 0;
    sitq_task_id id = tq_enqueue(q, "f", &o);
    sitq_result *r = tq_wait_done(q, id, 20);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_int_equal(r->attempts, 3);
    assert_int_equal(r->max_retries, 2);
    assert_non_null(r->error);
    assert_true(strstr(r->error, "flaky failure 3") != NULL);
    assert_true(r->finished_at_us >= r->started_at_us);
    sitq_result_free(r);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);
    sitq_worker_free(w);
    assert_int_equal(atomic_load(&f.calls), 3);
    assert_int_equal(atomic_load(&f.attempts_seen[0]), 1);
    assert_int_equal(atomic_load(&f.attempts_seen[1]), 2);
    assert_int_equal(atomic_load(&f.attempts_seen[2]), 3);
    assert_int_equal(ws.failed, 3);
    assert_int_equal(ws.succeeded, 0);
    assert_int_equal(ws.claimed, 3);
}

static void test_fail_once_then_succeed(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    flaky f;
    memset(&f, 0, sizeof f);
    f.fail_first = 1;
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", h_flaky, &f);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.max_retries = 3;
    o.backoff_base_s = 0.01;
    sitq_task_id id = tq_enqueue(q, "f", &o);
    sitq_result *r = tq_wait_done(q, id, 20);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_int_equal(r->attempts, 2);
    assert_int_equal(r->value_len, 2);
    assert_memory_equal(r->value, "ok", 2);
    sitq_result_free(r);
    sitq_worker_free(w);
    assert_int_equal(atomic_load(&f.calls), 2);
}

static void test_no_retries_fails_once(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    atomic_int calls = 0;
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_fail, &calls);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_task_id id = tq_enqueue(q, "f", NULL);
    sitq_result *r = tq_wait_done(q, id, 20);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_int_equal(r->attempts, 1);
    assert_true(strstr(r->error, "boom") != NULL);
    assert_string_equal(r->traceback, "tb");
    sitq_result_free(r);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(atomic_load(&calls), 1);
}

static void test_retry_scheduled_with_backoff(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    atomic_int calls = 0;
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_fail, &calls);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.max_retries = 5;
    o.backoff_base_s = 10;
    o.backoff_jitter = 0;
    sitq_task_id id = tq_enqueue(q, "f", &o);

    sitq_time_us before = sitq_now_us();
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    sitq_time_us after = sitq_now_us();
    assert_int_equal(r->status, SITQ_SCHEDULED);
    assert_int_equal(r->attempts, 1);
    assert_true(r->eta_us >= before + 10000000);
    assert_true(r->eta_us <= after + 10000000);
    assert_true(strstr(r->error ? r->error : "boom", "boom") != NULL);
    sitq_result_free(r);

    /* not ready during the backoff */
    r = NULL;
    TQ_ERR(SITQ_ENOTREADY, sitq_worker_process_task(w, id, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SCHEDULED);
    sitq_result_free(r);
    assert_int_equal(atomic_load(&calls), 1);

    /* cancel during the backoff */
    sitq_status st;
    TQ_OK(sitq_cancel(q, id, &st, &tq_err));
    assert_int_equal(st, SITQ_CANCELLED);
    assert_int_equal(tq_status(q, id), SITQ_CANCELLED);
    sitq_worker_free(w);
}

/* Fails, asking by the error text: "never" no retry, "later" a retry after
 * 1 hour, "bad delay" an invalid delay (refused, the policy stays). */
static int h_choose_retry(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)ud;
    char what[16] = "";
    memcpy(what, p, n < sizeof what - 1 ? n : sizeof what - 1);
    int as_asked; /* no assert here: this may run on a worker's thread */
    if (strcmp(what, "never") == 0) {
        sitq_ctx_retry_after(ctx, 5); /* replaced by the later call */
        as_asked = sitq_ctx_no_retry(ctx) == SITQ_OK;
    } else if (strcmp(what, "later") == 0) {
        sitq_ctx_no_retry(ctx);
        as_asked = sitq_ctx_retry_after(ctx, 3600) == SITQ_OK;
    } else {
        as_asked = sitq_ctx_retry_after(ctx, -1) == SITQ_EINVAL &&
                   sitq_ctx_retry_after(ctx, 0.0 / 0.0) == SITQ_EINVAL &&
                   sitq_ctx_retry_after(ctx, SITQ_SECONDS_MAX * 2) == SITQ_EINVAL;
    }
    sitq_ctx_set_error(ctx, as_asked ? what : "unexpected code", NULL);
    return 1;
}

static void test_handler_chooses_its_retry(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.max_retries = 3;
    o.backoff_base_s = 10;
    o.backoff_jitter = 0;
    sitq_task_id never = 0, later = 0, bad = 0;
    TQ_OK(sitq_enqueue(q, "f", "never", 5, &o, &never, &tq_err));
    TQ_OK(sitq_enqueue(q, "f", "later", 5, &o, &later, &tq_err));
    TQ_OK(sitq_enqueue(q, "f", "bad delay", 9, &o, &bad, &tq_err));
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", h_choose_retry, NULL);

    /* no retry: failed at its first attempt, with 3 retries left */
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, never, &r, &tq_err));
    assert_int_equal(r->status, SITQ_FAILED);
    assert_int_equal(r->attempts, 1);
    assert_string_equal(r->error, "never");
    sitq_result_free(r);

    /* its own delay: an hour, not the 10 s backoff */
    sitq_time_us before = sitq_now_us();
    r = NULL;
    TQ_OK(sitq_worker_process_task(w, later, &r, &tq_err));
    sitq_time_us after = sitq_now_us();
    assert_int_equal(r->status, SITQ_SCHEDULED);
    assert_string_equal(r->error, "later");
    assert_true(r->eta_us >= before + 3600 * 1000000LL);
    assert_true(r->eta_us <= after + 3600 * 1000000LL);
    sitq_result_free(r);

    /* refused delays leave the task's policy: the 10 s backoff */
    before = sitq_now_us();
    r = NULL;
    TQ_OK(sitq_worker_process_task(w, bad, &r, &tq_err));
    after = sitq_now_us();
    assert_int_equal(r->status, SITQ_SCHEDULED);
    assert_string_equal(r->error, "bad delay");
    assert_true(r->eta_us >= before + 10000000 && r->eta_us <= after + 10000000);
    sitq_result_free(r);
    sitq_worker_free(w);

    /* the same through a running worker; the totals count a failure, not a
     * retry */
    sitq_task_id again = 0;
    TQ_OK(sitq_enqueue(q, "f", "never", 5, &o, &again, &tq_err));
    sitq_totals t0;
    TQ_OK(sitq_queue_totals(q, &t0, &tq_err));
    w = tq_worker_new(q, 1, 1, "f", h_choose_retry, NULL);
    TQ_OK(sitq_worker_start(w, &tq_err));
    r = tq_wait_done(q, again, 30);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_int_equal(r->attempts, 1);
    assert_string_equal(r->error, "never");
    sitq_result_free(r);
    sitq_worker_free(w);
    sitq_totals t1;
    TQ_OK(sitq_queue_totals(q, &t1, &tq_err));
    assert_int_equal(t1.failed - t0.failed, 1);
    assert_int_equal(t1.retried - t0.retried, 0);
    assert_int_equal(sitq_ctx_no_retry(NULL), SITQ_EINVAL);
    assert_int_equal(sitq_ctx_retry_after(NULL, 1), SITQ_EINVAL);
}

static void test_second_backoff_doubles(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    atomic_int calls = 0;
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_fail, &calls);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.max_retries = 5;
    o.backoff_base_s = 0.2;
    o.backoff_jitter = 0;
    sitq_task_id id = tq_enqueue(q, "f", &o);
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    sitq_time_us eta1 = r->eta_us;
    assert_int_equal(r->status, SITQ_SCHEDULED);
    sitq_result_free(r);
    while (sitq_now_us() < eta1 + 5000) tq_sleep_ms(10);
    sitq_time_us before = sitq_now_us();
    r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    sitq_time_us after = sitq_now_us();
    assert_int_equal(r->status, SITQ_SCHEDULED);
    assert_int_equal(r->attempts, 2);
    /* retry 2: 0.2 * 2 = 0.4 s */
    assert_true(r->eta_us >= before + 400000);
    assert_true(r->eta_us <= after + 400000);
    sitq_result_free(r);
    sitq_worker_free(w);
}

static void test_manual_retry(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    flaky f;
    memset(&f, 0, sizeof f);
    f.fail_first = 1;
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", h_flaky, &f);
    sitq_task_id id = tq_enqueue(q, "f", NULL);
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    assert_int_equal(r->status, SITQ_FAILED);
    assert_int_equal(r->attempts, 1);
    sitq_result_free(r);

    TQ_OK(sitq_retry(q, id, &tq_err));
    r = tq_get(q, id);
    assert_int_equal(r->status, SITQ_QUEUED);
    assert_int_equal(r->attempts, 0);
    assert_null(r->error);
    assert_null(r->value);
    assert_int_equal(r->finished_at_us, 0);
    assert_int_equal(r->started_at_us, 0);
    sitq_result_free(r);

    r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_int_equal(r->attempts, 1);
    sitq_result_free(r);

    /* a cancelled task can be retried too */
    sitq_task_id c = tq_enqueue(q, "f", NULL);
    TQ_OK(sitq_cancel(q, c, NULL, &tq_err));
    TQ_OK(sitq_retry(q, c, &tq_err));
    assert_int_equal(tq_status(q, c), SITQ_QUEUED);
    r = NULL;
    TQ_OK(sitq_worker_process_task(w, c, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    sitq_worker_free(w);
    assert_int_equal(atomic_load(&f.calls), 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fail_until_exhausted, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_fail_once_then_succeed, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_no_retries_fails_once, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_retry_scheduled_with_backoff, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_second_backoff_doubles, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_handler_chooses_its_retry, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_manual_retry, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests_name("retry", tests, NULL, NULL);
}
