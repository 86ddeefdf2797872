/*
 * test_size_arg.c - byte sizes on the command line: every unit, the bounds
 * of the range, overflow and every malformed spelling refused (the output
 * keeps its previous value then).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "size_arg.h"

/** Parse text in [min, max]; assert the return code and, on success, the value. */
static void parses(const char *text, uint64_t min, uint64_t max, int want_rc, uint64_t want) {
    uint64_t v = 12345;
    assert_int_equal(arg_parse_size("test", "--size", text, min, max, &v), want_rc);
    assert_true(v == (want_rc == 0 ? want : UINT64_C(12345)));
}

static void test_units(void **state) {
    (void)state;
    parses("65536", 1, UINT64_MAX, 0, 65536);
    parses("64k", 1, UINT64_MAX, 0, 65536);
    parses("64K", 1, UINT64_MAX, 0, 65536);
    parses("2m", 1, UINT64_MAX, 0, 2097152);
    parses("16M", 1, UINT64_MAX, 0, 16777216);
    parses("1G", 1, UINT64_MAX, 0, 1073741824);
    parses("1g", 1, UINT64_MAX, 0, 1073741824);
    parses("007", 1, UINT64_MAX, 0, 7);
    parses("18446744073709551615", 1, UINT64_MAX, 0, UINT64_MAX);
    parses("17179869183G", 1, UINT64_MAX, 0, UINT64_C(17179869183) << 30);
}

static void test_range(void **state) {
    (void)state;
    parses("1", 1, 999000000, 0, 1);
    parses("999000000", 1, 999000000, 0, 999000000);
    parses("0", 1, 999000000, -1, 0);
    parses("999000001", 1, 999000000, -1, 0);
    parses("1G", 1, 999000000, -1, 0);
    parses("952M", 1, 999000000, 0, UINT64_C(952) << 20);
    parses("953M", 1, 999000000, -1, 0);
}

static void test_malformed(void **state) {
    (void)state;
    static const char *const bad[] = {
        "",
        "k",
        "-1",
        "+5",
        " 5",
        "5 ",
        "1.5M",
        "1e3",
        "16MB",
        "64kb",
        "1T",
        "0x10",
        "1KiB",
        "18446744073709551616",
        "17179869184G",
        "99999999999999999999G",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) parses(bad[i], 0, UINT64_MAX, -1, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
