/*
 * test_dash_pace.c - the dashboard's request pacing (dash_pace.c): the
 * schedule, on a clock the test gives: a burst runs at once, then one
 * request per interval, each told how long to wait; a request whose turn
 * is beyond the longest wait is refused without taking a slot; a quiet
 * spell gives the burst back. A rate of 0 or less paces nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dashboard/dash.h"

/* 10 a second (100 ms apart), a burst of 3 (200 ms ahead), 250 ms at most. */
#define IV       100000
#define BURST    (2 * IV)
#define WAIT_MAX 250000

static void test_burst_then_interval(void **state) {
    (void)state;
    int64_t tat = 0, now = 5000000;
    assert_int_equal(dash_pace_slot(&tat, now, IV, BURST, WAIT_MAX), 0);
    assert_int_equal(dash_pace_slot(&tat, now, IV, BURST, WAIT_MAX), 0);
    assert_int_equal(dash_pace_slot(&tat, now, IV, BURST, WAIT_MAX), 0);
    assert_int_equal(dash_pace_slot(&tat, now, IV, BURST, WAIT_MAX), IV);     /* 4th: next slot */
    assert_int_equal(dash_pace_slot(&tat, now, IV, BURST, WAIT_MAX), 2 * IV); /* 5th */
    /* The 6th's turn is 300 ms away, over the 250 ms bound: refused. */
    int64_t before = tat;
    assert_int_equal(dash_pace_slot(&tat, now, IV, BURST, WAIT_MAX), -1);
    assert_int_equal(tat, before); /* a refusal takes no slot */
    /* 150 ms later: the 6th's turn is 150 ms away. */
    assert_int_equal(dash_pace_slot(&tat, now + 150000, IV, BURST, WAIT_MAX), 150000);
}

static void test_quiet_gives_burst_back(void **state) {
    (void)state;
    int64_t tat = 0, now = 1000000;
    for (int i = 0; i < 5; i++) assert_true(dash_pace_slot(&tat, now, IV, BURST, WAIT_MAX) >= 0);
    now += 10 * 1000000; /* ten quiet seconds */
    for (int i = 0; i < 3; i++) assert_int_equal(dash_pace_slot(&tat, now, IV, BURST, WAIT_MAX), 0);
    assert_int_equal(dash_pace_slot(&tat, now, IV, BURST, WAIT_MAX), IV);
}

static void test_steady_rate(void **state) {
    (void)state;
    /* A client asking every 100 ms exactly never waits; every 50 ms, it
     * waits more each time until the bound refuses it. */
    int64_t tat = 0, now = 0;
    for (int i = 0; i < 100; i++, now += IV)
        assert_int_equal(dash_pace_slot(&tat, now, IV, BURST, WAIT_MAX), 0);
    int64_t last = 0;
    int refused = 0;
    for (int i = 0; i < 100 && !refused; i++, now += IV / 2) {
        int64_t w = dash_pace_slot(&tat, now, IV, BURST, WAIT_MAX);
        if (w < 0) refused = 1;
        else {
            assert_true(w >= last);
            last = w;
        }
    }
    assert_true(refused);
    assert_true(last > WAIT_MAX - IV && last <= WAIT_MAX);
}

static void test_unpaced(void **state) {
    (void)state;
    assert_null(dash_pace_new(0));
    assert_null(dash_pace_new(-5));
    assert_int_equal(dash_pace_take(NULL), 0);
    dash_pace_free(NULL);
    /* A million a second: 100 requests all admitted (a microsecond apart). */
    dash_pace *p = dash_pace_new(1e6);
    assert_non_null(p);
    for (int i = 0; i < 100; i++) assert_int_equal(dash_pace_take(p), 0);
    dash_pace_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_interval),
        cmocka_unit_test(test_quiet_gives_burst_back),
        cmocka_unit_test(test_steady_rate),
        cmocka_unit_test(test_unpaced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
