/*
 * test_shell_payload.c - the shell payload's option header: encoded in one
 * canonical form, decoded back, and every other form refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shell_payload.h"

#define BYTES(lit) lit, sizeof(lit) - 1

/** Assert that the len bytes at p decode with result `want`. */
static void decodes(const char *p, size_t len, int want) {
    char **argv = NULL;
    int argc = 0;
    unsigned opts = 7;
    assert_int_equal(shell_payload_decode(p, len, &argv, &argc, &opts), want);
    free(argv);
}

static void test_options_round_trip(void **state) {
    (void)state;
    char *argv_in[] = {"sort", "-r"};
    char *enc = NULL;
    size_t len = 0;
    assert_int_equal(shell_payload_encode(argv_in, 2, SHELL_OPT_STDIN_DEPS, &enc, &len), 0);
    assert_int_equal(len, sizeof "\0stdin=deps\0\0sort\0-r");
    assert_memory_equal(enc, "\0stdin=deps\0\0sort\0-r", len);
    char **argv = NULL;
    int argc = 0;
    unsigned opts = 0;
    assert_int_equal(shell_payload_decode(enc, len, &argv, &argc, &opts), 0);
    assert_int_equal(opts, SHELL_OPT_STDIN_DEPS);
    assert_int_equal(argc, 2);
    assert_string_equal(argv[0], "sort");
    assert_string_equal(argv[1], "-r");
    assert_null(argv[2]);
    free(argv);
    free(enc);
}

static void test_plain_payload_unchanged(void **state) {
    (void)state;
    char *argv_in[] = {"echo", "hi"};
    char *enc = NULL;
    size_t len = 0;
    assert_int_equal(shell_payload_encode(argv_in, 2, 0, &enc, &len), 0);
    assert_int_equal(len, 8);
    assert_memory_equal(enc, "echo\0hi\0", 8);
    char **argv = NULL;
    int argc = 0;
    unsigned opts = 9;
    assert_int_equal(shell_payload_decode(enc, len, &argv, &argc, &opts), 0);
    assert_int_equal(opts, 0);
    assert_int_equal(argc, 2);
    free(argv);
    free(enc);
}

static void test_bad_headers_refused(void **state) {
    (void)state;
    decodes(BYTES("\0"), -1);                              /* no names */
    decodes(BYTES("\0\0echo\0"), -1);                      /* empty list */
    decodes(BYTES("\0stdin=deps\0\0"), -1);                /* no command */
    decodes(BYTES("\0stdin=deps\0\0\0"), -1);              /* empty command */
    decodes(BYTES("\0stdin=file\0\0cat\0"), -1);           /* unknown option */
    decodes(BYTES("\0stdin=deps\0stdin=deps\0\0c\0"), -1); /* repeated */
    decodes(BYTES("\0stdin=deps\0"), -1);                  /* unterminated list */
    decodes(BYTES("\0stdin=deps\0\0cat\0"), 0);
    char *empty[] = {""};
    char *enc = NULL;
    size_t len = 0;
    assert_int_equal(shell_payload_encode(empty, 1, 0, &enc, &len), -1);
    char *cat[] = {"cat"};
    assert_int_equal(shell_payload_encode(cat, 1, 2u, &enc, &len), -1); /* unknown bit */
    assert_null(enc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_round_trip),
        cmocka_unit_test(test_plain_payload_unchanged),
        cmocka_unit_test(test_bad_headers_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
