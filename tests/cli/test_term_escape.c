/*
 * test_term_escape.c - term_escape keeps printable UTF-8 and spells out
 * every control character and invalid byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "term_escape.h"

/** Assert that escaping the len bytes at in gives want. */
static void check(const char *in, size_t len, unsigned flags, const char *want) {
    char *got = term_escape(in, len, flags);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

#define CHECK(lit, flags, want) check(lit, sizeof(lit) - 1, flags, want)

static void test_terminal_attack_is_spelled_out(void **state) {
    (void)state;
    CHECK("echo \x1b]0;owned\a \x1b[2J", 0, "echo \\x1b]0;owned\\x07 \\x1b[2J");
    CHECK("a\x7f"
          "b",
          0, "a\\x7fb");
    /* C1 CSI as UTF-8 (U+009B) and NEL (U+0085) */
    CHECK("x\xc2\x9b"
          "31m\xc2\x85",
          0, "x\\u009b31m\\u0085");
    CHECK("nul\0byte", 0, "nul\\x00byte");
}

static void test_printable_utf8_is_kept(void **state) {
    (void)state;
    CHECK("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\xa0", 0,
          "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\xa0");
    CHECK("back\\slash 'q' \"d\"", 0, "back\\slash 'q' \"d\"");
    CHECK("", 0, "");
    check(NULL, 0, 0, "");
}

static void test_invalid_utf8_is_hex(void **state) {
    (void)state;
    CHECK("\x80", 0, "\\x80");                            /* stray continuation */
    CHECK("\xc3", 0, "\\xc3");                            /* truncated at the end */
    CHECK("\xc3(", 0, "\\xc3(");                          /* bad continuation */
    CHECK("\xc0\xaf", 0, "\\xc0\\xaf");                   /* overlong '/' */
    CHECK("\xe0\x80\xaf", 0, "\\xe0\\x80\\xaf");          /* overlong, 3 bytes */
    CHECK("\xed\xa0\x80", 0, "\\xed\\xa0\\x80");          /* surrogate U+D800 */
    CHECK("\xf4\x90\x80\x80", 0, "\\xf4\\x90\\x80\\x80"); /* above U+10FFFF */
    CHECK("\xff\xfe", 0, "\\xff\\xfe");
    CHECK("\xe2\x82", 0, "\\xe2\\x82"); /* truncated euro sign */
}

static void test_layout_flag(void **state) {
    (void)state;
    CHECK("a\nb\tc\r", 0, "a\\x0ab\\x09c\\x0d");
    CHECK("a\nb\tc\r", TERM_KEEP_LAYOUT, "a\nb\tc\\x0d");
}

static void test_prefix_counts_characters(void **state) {
    (void)state;
    const char *s = "\xc3\xa9\xc3\xa9x";
    assert_int_equal(term_char_count(s), 3);
    assert_int_equal(term_prefix_len(s, 0), 0);
    assert_int_equal(term_prefix_len(s, 1), 2);
    assert_int_equal(term_prefix_len(s, 2), 4);
    assert_int_equal(term_prefix_len(s, 10), 5);
    char *null_str = term_escape_str(NULL, 0);
    assert_null(null_str);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terminal_attack_is_spelled_out),
        cmocka_unit_test(test_printable_utf8_is_kept),
        cmocka_unit_test(test_invalid_utf8_is_hex),
        cmocka_unit_test(test_layout_flag),
        cmocka_unit_test(test_prefix_counts_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
