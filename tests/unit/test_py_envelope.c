/*
 * test_py_envelope.c - the interpreter-free checks of the Python binding's
 * stored payloads (python/src/envelope.c).
 */
#include "helpers.h"

#include "envelope.h"

static void test_envelope_framing(void **state) {
    (void)state;
    char why[128];
    /* pickle.dumps((1, None, (), {}, None), 5) */
    static const char good[] = "\x80\x05\x95\x0e\x00\x00\x00\x00\x00\x00\x00(K\x01N)}\x94N"
                               "t\x94.";
    assert_int_equal(sitqpy_envelope_check(good, sizeof good - 1, why, sizeof why), 0);
    assert_string_equal(why, "");
    assert_int_equal(sitqpy_envelope_check("\x80\x02.", 3, NULL, 0), 0);

    assert_int_equal(sitqpy_envelope_check(NULL, 0, why, sizeof why), -1);
    assert_string_equal(why, "the payload is empty");
    assert_int_equal(sitqpy_envelope_check("echo\0", 5, why, sizeof why), -1);
    assert_string_equal(why, "the payload is not a pickle (it starts with byte 0x65)");
    assert_int_equal(sitqpy_envelope_check("\x80", 1, why, sizeof why), -1);
    assert_int_equal(sitqpy_envelope_check("\x80\x01.", 3, why, sizeof why), -1);
    assert_string_equal(why, "pickle protocol 1 is not supported (2..5)");
    assert_int_equal(sitqpy_envelope_check("\x80\x06.", 3, why, sizeof why), -1);
    assert_int_equal(sitqpy_envelope_check(good, sizeof good - 2, why, sizeof why), -1);
    assert_string_equal(why, "the pickle is truncated (it does not end with STOP)");
    /* a tiny buffer is cut, never overrun */
    char small[8];
    assert_int_equal(sitqpy_envelope_check("x", 1, small, sizeof small), -1);
    assert_int_equal(strlen(small), sizeof small - 1);
}

static void test_token_pid(void **state) {
    (void)state;
    assert_int_equal(sitqpy_token_pid("1234-9f3a-7"), 1234);
    assert_int_equal(sitqpy_token_pid("2147483647-ffffffffffffffff-18446744073709551615"),
                     2147483647L);
    const char *bad[] = {"",
                         "-1-a-1",
                         "0-a-1",
                         "12",
                         "12-",
                         "12-a",
                         "12-a-",
                         "12-g-1",
                         "12-a-1x",
                         " 12-a-1",
                         "2147483648-a-1",
                         "99999999999-a-1",
                         "1-fffffffffffffffff-1",
                         "1-a-123456789012345678901",
                         "+1-a-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sitqpy_token_pid(bad[i]) != -1) fail_msg("token \"%s\" was accepted", bad[i]);
    assert_int_equal(sitqpy_token_pid(NULL), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_framing),
        cmocka_unit_test(test_token_pid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
