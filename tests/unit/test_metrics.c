/* test_metrics.c - sitq_metrics_text and sitq_worker_metrics_text through
 * the C API: exact counts after known work (successes, a failure retried
 * once then failed for good), histograms per function whose buckets are
 * cumulative and whose +Inf bucket equals _count, and the error paths. Runs
 * on both backends (SITQ_TEST_BACKEND). */
#include "helpers.h"

#include <stdlib.h>

/* The value of the sample whose name and labels are exactly `key`; -1 when
 * absent. */
static double sample(const char *text, const char *key) {
    size_t n = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, key, n) == 0 && p[n] == ' ') return strtod(p + n + 1, NULL);
    return -1;
}

static void test_bad_arguments(void **state) {
    tq_env *e = TQ_ENV(state);
    char *text = (char *)1;
    size_t len = 7;
    TQ_ERR(SITQ_EINVAL, sitq_metrics_text(NULL, &text, &len, &tq_err));
    assert_null(text);
    assert_int_equal(len, 0);
    TQ_ERR(SITQ_EINVAL, sitq_metrics_text(e->backend, NULL, &len, &tq_err));
    text = (char *)1;
    TQ_ERR(SITQ_EINVAL, sitq_worker_metrics_text(NULL, &text, &len, &tq_err));
    assert_null(text);
}

/* Buckets of name{labels,le=...} are non-decreasing; +Inf equals _count. */
static void check_histogram(const char *text, const char *name, const char *labels, double want) {
    static const char *const les[] = {"0.001", "0.01", "0.1", "1", "10", "60", "1800", "+Inf"};
    char key[256];
    double last = 0;
    for (size_t i = 0; i < sizeof les / sizeof les[0]; i++) {
        snprintf(key, sizeof key, "%s_bucket{%s,le=\"%s\"}", name, labels, les[i]);
        double v = sample(text, key);
        assert_true(v >= last);
        last = v;
    }
    snprintf(key, sizeof key, "%s_count{%s}", name, labels);
    assert_true(sample(text, key) == want);
    assert_true(last == want);
    snprintf(key, sizeof key, "%s_sum{%s}", name, labels);
    assert_true(sample(text, key) >= 0);
}

static void test_known_work(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_task_options o;
    sitq_task_options_init(&o);
    for (int i = 0; i < 3; i++) tq_enqueue(e->queue, "ok", &o);
    tq_enqueue(e->queue, "bad", &o);
    o.max_retries = 1;
    o.backoff_base_s = 0.01;
    sitq_task_id retried = tq_enqueue(e->queue, "bad", &o);
    sitq_worker *w = tq_worker_new(e->queue, 2, 0, "ok", tq_h_echo, NULL);
    TQ_OK(sitq_worker_register(w, "bad", tq_h_fail, NULL, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    assert_true(tq_poll_count(e->queue, SITQ_SUCCEEDED, 3, 20));
    assert_true(tq_poll_status(e->queue, retried, SITQ_FAILED, 20));
    assert_true(tq_poll_count(e->queue, SITQ_FAILED, 2, 20));
    TQ_OK(sitq_worker_stop(w, 10, &tq_err)); /* every outcome committed and counted */

    char *text = NULL;
    size_t len = 0;
    TQ_OK(sitq_worker_metrics_text(w, &text, &len, &tq_err));
    assert_int_equal(len, strlen(text));
    const char *q = "sitq_worker_process_attempts_total{queue=\"default\",outcome=";
    char key[128];
    static const char *const outcome[] = {"succeeded", "failed", "retried", "lost"};
    static const double want[] = {3, 2, 1, 0};
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "%s\"%s\"}", q, outcome[i]);
        assert_true(sample(text, key) == want[i]);
    }
    check_histogram(text, "sitq_task_duration_seconds", "queue=\"default\",function=\"ok\"", 3);
    check_histogram(text, "sitq_task_duration_seconds", "queue=\"default\",function=\"bad\"", 3);
    check_histogram(text, "sitq_task_queue_wait_seconds", "queue=\"default\",function=\"bad\"", 3);
    free(text);
    sitq_worker_free(w);

    TQ_OK(sitq_metrics_text(e->backend, &text, &len, &tq_err));
    assert_true(sample(text, "sitq_tasks{queue=\"default\",status=\"succeeded\"}") == 3);
    assert_true(sample(text, "sitq_tasks{queue=\"default\",status=\"failed\"}") == 2);
    assert_true(sample(text, "sitq_tasks{queue=\"default\",status=\"queued\"}") == 0);
    assert_true(sample(text, "sitq_queue_oldest_ready_age_seconds{queue=\"default\"}") == 0);
    assert_true(sample(text, "sitq_workers{state=\"stopped\"}") == 1);
    assert_true(sample(text, "sitq_workers{state=\"running\"}") == 0);
    assert_non_null(strstr(text, "# TYPE sitq_tasks gauge\n"));
    assert_true(sample(text, "sitq_store_bytes") > 0);
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_arguments, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_known_work, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
