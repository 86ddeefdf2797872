/*
 * test_args.c - arg_parse_duration: units ms, s, m, h, d; a bare number is
 * seconds; everything else, and values out of range, is refused with the
 * option and the text in the message (stderr is not checked here: the shell
 * tests do). arg_parse_keep: the same, and "forever".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "args.h"

/** Parse text in [0, 100 years]; assert it gives want seconds. */
static void ok(const char *text, double want) {
    double got = -1.0;
    assert_int_equal(arg_parse_duration("test", "--x", text, 0.0, SITQ_SECONDS_MAX, &got), 0);
    assert_true(got >= want - 1e-9 && got <= want + 1e-9);
}

/** Assert that text is refused and leaves the output alone. */
static void bad(const char *text, double min_s, double max_s) {
    double got = 42.0;
    assert_int_equal(arg_parse_duration("test", "--x", text, min_s, max_s, &got), -1);
    assert_true(got == 42.0);
}

static void test_units(void **state) {
    (void)state;
    ok("30s", 30.0);
    ok("10m", 600.0);
    ok("1h", 3600.0);
    ok("7d", 604800.0);
    ok("250ms", 0.25);
    ok("1.5h", 5400.0);
    ok(".5m", 30.0);
    ok("1e3s", 1000.0);
    ok("0d", 0.0);
}

static void test_bare_number_is_seconds(void **state) {
    (void)state;
    ok("2", 2.0);
    ok("0.5", 0.5);
    ok("1e3", 1000.0);
    ok("+7", 7.0);
}

static void test_refused(void **state) {
    (void)state;
    const char *texts[] = {"",    "s",   "10x", "5S",  "1hh", " 1s", "1s ",   "0x10",
                           "inf", "nan", "1e",  "1 h", "h1",  "-",   "1.2.3m"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) bad(texts[i], 0.0, 1e9);
    bad("-1s", 0.0, 1e9);    /* below the range */
    bad("2d", 0.0, 86400.0); /* above it, once the unit is applied */
    bad("40ms", 0.05, 10.0); /* below a positive minimum */
    bad("2000000d", 0.0, SITQ_SECONDS_MAX);
}

static void test_keep(void **state) {
    (void)state;
    double got = 0.0;
    assert_int_equal(arg_parse_keep("test", "--keep", "forever", &got), 0);
    assert_true(got == SITQ_KEEP_FOREVER);
    assert_int_equal(arg_parse_keep("test", "--keep", "2h", &got), 0);
    assert_true(got == 7200.0);
    const char *texts[] = {"Forever", "forever ", "never", "0", "0s", "-1h", "", "0.5ms"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        got = 42.0;
        assert_int_equal(arg_parse_keep("test", "--keep", texts[i], &got), -1);
        assert_true(got == 42.0);
    }
    got = 42.0;
    assert_int_equal(arg_parse_keep("test", "--keep", NULL, &got), -1);
    assert_true(got == 42.0);
}

int main(void) {
    /* The refusals print their messages; keep the test's output short. */
    if (freopen("/dev/null", "w", stderr) == NULL) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_bare_number_is_seconds),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_keep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
