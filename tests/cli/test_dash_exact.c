/*
 * test_dash_exact.c - the dashboard's background exact counts
 * (dash_exact.c): the interval after a count (20 times its duration,
 * within 10 s and 30 min); a queue asked for gets no figure at once (the
 * asking never waits for a count), then its exact count with the time it
 * was taken (polled, bounded); counts are per queue; a NULL counter
 * answers nothing. On a SQLite store in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dashboard/dash.h"

static void test_interval(void **state) {
    (void)state;
    assert_int_equal(dash_exact_interval_us(0), DASH_EXACT_MIN_US);
    assert_int_equal(dash_exact_interval_us(100000), DASH_EXACT_MIN_US);    /* 2 s: the floor */
    assert_int_equal(dash_exact_interval_us(1000000), 20000000);            /* 1 s: 20 s */
    assert_int_equal(dash_exact_interval_us(60000000), 1200000000);         /* 1 min: 20 min */
    assert_int_equal(dash_exact_interval_us(100000000), DASH_EXACT_MAX_US); /* 100 s: 30 min */
    assert_int_equal(dash_exact_interval_us(INT64_MAX), DASH_EXACT_MAX_US); /* no overflow */
}

static void test_null(void **state) {
    (void)state;
    dash_exact_fig f;
    assert_int_equal(dash_exact_get(NULL, "q", 1, &f), 0);
    dash_exact_stop(NULL);
}

static void enqueue(sitq_backend *b, const char *queue, int n) {
    sitq_queue *q = NULL;
    assert_int_equal(sitq_queue_open(b, queue, &q, NULL), SITQ_OK);
    for (int i = 0; i < n; i++) {
        sitq_task_id id = 0;
        assert_int_equal(sitq_enqueue(q, "f", NULL, 0, NULL, &id, NULL), SITQ_OK);
    }
    sitq_queue_close(q);
}

/* Poll x for queue's count, at most 10 s; 1 when it came. */
static int wait_count(dash_exact *x, const char *queue, dash_exact_fig *f) {
    for (int i = 0; i < 1000; i++) {
        if (dash_exact_get(x, queue, 1, f)) return 1;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void test_counts(void **state) {
    (void)state;
    char dir[] = "/tmp/sitq-dash-exact.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/q.db", dir);
    sitq_backend *b = NULL;
    assert_int_equal(sitq_backend_open_sqlite(path, NULL, &b, NULL), SITQ_OK);
    enqueue(b, "a", 7);
    enqueue(b, "b", 2);
    dash_exact *x = dash_exact_start(b);
    assert_non_null(x);
    dash_exact_fig f;
    memset(&f, 0, sizeof f);
    /* Not wanted: nothing, and nothing counted. */
    assert_int_equal(dash_exact_get(x, "a", 0, &f), 0);
    sitq_time_us asked = sitq_now_us();
    assert_int_equal(wait_count(x, "a", &f), 1);
    assert_int_equal(f.st.count[SITQ_QUEUED], 7);
    assert_int_equal(f.st.total, 7);
    assert_int_equal(f.totals.enqueued, 7);
    assert_true(f.at_us >= asked);
    assert_true(f.took_us >= 0 && f.took_us <= f.at_us - asked);
    assert_int_equal(wait_count(x, "b", &f), 1);
    assert_int_equal(f.st.count[SITQ_QUEUED], 2);
    /* No longer wanted: the last figure stays readable. */
    assert_int_equal(dash_exact_get(x, "a", 0, &f), 1);
    assert_int_equal(f.st.count[SITQ_QUEUED], 7);
    dash_exact_stop(x);
    sitq_backend_close(b);
    unlink(path);
    char side[80];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interval),
        cmocka_unit_test(test_null),
        cmocka_unit_test(test_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
