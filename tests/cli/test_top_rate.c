/*
 * test_top_rate.c - the throughput of `sitq top` from samples of the
 * workers' counters: the first sample is a baseline, growth is summed per
 * worker, a new worker and one restarted under the same id count all of
 * their attempts, a worker that vanishes or whose counter goes backwards
 * adds nothing, intervals older than the window drop out, and --queue
 * counts only the workers that serve that queue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "top_rate.h"

#define S 1000000 /* microseconds per second */

static char *q_default[] = {"default"};
static char *q_other[] = {"other"};

/** A worker with its counters, serving queue "default". */
static sitq_worker_info worker(char *id, sitq_time_us started, int64_t ok, int64_t failed) {
    sitq_worker_info w = {0};
    w.id = id;
    w.started_at_us = started;
    w.succeeded = ok;
    w.failed = failed;
    w.queues = q_default;
    w.n_queues = 1;
    return w;
}

static void test_baseline_then_growth(void **state) {
    (void)state;
    top_rate r;
    top_rate_init(&r);
    sitq_worker_info ws[2] = {worker("a", 1, 100, 5), worker("b", 1, 50, 0)};
    assert_int_equal(top_rate_add(&r, ws, 2, NULL, 1000 * S), 0);
    /* One sample: nothing known, however large the counts already are. */
    assert_int_equal(top_rate_get(&r, 1000 * S).known, 0);
    ws[0].succeeded = 110; /* +10 */
    ws[0].failed = 7;      /* +2 */
    ws[1].succeeded = 58;  /* +8 */
    assert_int_equal(top_rate_add(&r, ws, 2, NULL, 1002 * S), 0);
    top_rate_value v = top_rate_get(&r, 1002 * S);
    assert_int_equal(v.known, 1);
    assert_true(v.span_s == 2.0);
    assert_true(v.succeeded_s == 9.0);
    assert_true(v.failed_s == 1.0);
    top_rate_free(&r);
}

static void test_new_restarted_gone(void **state) {
    (void)state;
    top_rate r;
    top_rate_init(&r);
    sitq_worker_info ws[2] = {worker("a", 1, 100, 0), worker("b", 1, 40, 0)};
    assert_int_equal(top_rate_add(&r, ws, 2, NULL, 10 * S), 0);
    /* a restarted under its id (later start, counters from zero: all 3
     * count); b is gone (pruned: nothing); c is new (all 4 count). */
    sitq_worker_info now[2] = {worker("a", 9 * S, 3, 0), worker("c", 9 * S, 4, 1)};
    assert_int_equal(top_rate_add(&r, now, 2, NULL, 11 * S), 0);
    top_rate_value v = top_rate_get(&r, 11 * S);
    assert_true(v.succeeded_s == 7.0);
    assert_true(v.failed_s == 1.0);
    /* A counter that goes backwards (same start) adds nothing. */
    now[1].succeeded = 2;
    assert_int_equal(top_rate_add(&r, now, 2, NULL, 12 * S), 0);
    v = top_rate_get(&r, 12 * S);
    assert_true(v.span_s == 2.0);
    assert_true(v.succeeded_s == 3.5);
    top_rate_free(&r);
}

static void test_window(void **state) {
    (void)state;
    top_rate r;
    top_rate_init(&r);
    sitq_worker_info w = worker("a", 1, 0, 0);
    assert_int_equal(top_rate_add(&r, &w, 1, NULL, 0 + S), 0);
    w.succeeded = 600; /* a burst in the first 10 s */
    assert_int_equal(top_rate_add(&r, &w, 1, NULL, 11 * S), 0);
    /* then 1 a second for 60 s, sampled every 10 s */
    for (int k = 1; k <= 6; k++) {
        w.succeeded += 10;
        assert_int_equal(top_rate_add(&r, &w, 1, NULL, (11 + 10 * k) * S), 0);
    }
    top_rate_value v = top_rate_get(&r, 71 * S);
    assert_true(v.span_s == 60.0);
    assert_true(v.succeeded_s == 1.0);
    /* Long after the last sample, nothing is left in the window. */
    assert_int_equal(top_rate_get(&r, 200 * S).known, 0);
    top_rate_free(&r);
}

static void test_queue_filter(void **state) {
    (void)state;
    top_rate r;
    top_rate_init(&r);
    sitq_worker_info ws[2] = {worker("a", 1, 0, 0), worker("b", 1, 0, 0)};
    ws[1].queues = q_other;
    assert_int_equal(top_rate_add(&r, ws, 2, "other", 1 * S), 0);
    ws[0].succeeded = 50;
    ws[1].succeeded = 5;
    assert_int_equal(top_rate_add(&r, ws, 2, "other", 2 * S), 0);
    assert_true(top_rate_get(&r, 2 * S).succeeded_s == 5.0);
    assert_int_equal(top_worker_serves(&ws[0], "other"), 0);
    assert_int_equal(top_worker_serves(&ws[1], "other"), 1);
    assert_int_equal(top_worker_serves(&ws[0], NULL), 1);
    top_rate_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baseline_then_growth),
        cmocka_unit_test(test_new_restarted_gone),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_queue_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
