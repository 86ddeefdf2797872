/*
 * test_pyvalue.c - the stored form of a Python task's result, read and
 * built without an interpreter (src/core/pyvalue.h).
 */
#include "helpers.h"

#include "core/pyvalue.h"

/* pickle.dumps(3, 5) and pickle.dumps(None, 2) */
#define PICKLE_3    "\x80\x05K\x03."
#define PICKLE_NONE "\x80\x02N."

static void test_record_round_trip(void **state) {
    (void)state;
    size_t len = 0;
    const char *repr = "[1, 2, 'caf\xc3\xa9']";
    unsigned char *rec = sitq__pyvalue_build(repr, strlen(repr), PICKLE_3, 4, &len);
    assert_non_null(rec);
    assert_int_equal(len, 7 + strlen(repr) + 4);
    assert_memory_equal(rec, "\xffsqv\x01\x00\x0f", 7);
    sitq__pyvalue pv;
    char why[64];
    assert_int_equal(sitq__pyvalue_parse(rec, len, &pv, why, sizeof why), SITQ__PYVALUE_RECORD);
    assert_int_equal(pv.kind, SITQ__PYVALUE_RECORD);
    assert_string_equal(why, "");
    assert_int_equal(pv.repr_len, strlen(repr));
    assert_memory_equal(pv.repr, repr, pv.repr_len);
    assert_int_equal(pv.pickle_len, 4);
    assert_memory_equal(pv.pickle, PICKLE_3, 4);
    free(rec);

    /* an empty repr is allowed */
    rec = sitq__pyvalue_build("", 0, PICKLE_NONE, 4, &len);
    assert_non_null(rec);
    assert_int_equal(sitq__pyvalue_parse(rec, len, &pv, NULL, 0), SITQ__PYVALUE_RECORD);
    assert_int_equal(pv.repr_len, 0);
    assert_int_equal(pv.pickle_len, 4);
    free(rec);
}

static void test_build_refuses(void **state) {
    (void)state;
    size_t len = 7;
    char big[SITQ__PYVALUE_REPR_MAX + 1];
    memset(big, 'a', sizeof big);
    assert_null(sitq__pyvalue_build(big, sizeof big, PICKLE_3, 4, &len));
    void *at_max = sitq__pyvalue_build(big, SITQ__PYVALUE_REPR_MAX, PICKLE_3, 4, &len);
    assert_non_null(at_max);
    assert_int_equal(len, 7 + SITQ__PYVALUE_REPR_MAX + 4);
    free(at_max);
    assert_null(sitq__pyvalue_build("a\0b", 3, PICKLE_3, 4, &len));
    assert_null(sitq__pyvalue_build(NULL, 1, PICKLE_3, 4, &len));
    assert_null(sitq__pyvalue_build("1", 1, NULL, 0, &len));
    assert_null(sitq__pyvalue_build("1", 1, "hello", 5, &len));
    assert_null(sitq__pyvalue_build("1", 1, "\x80\x01K\x03.", 5, &len)); /* protocol 1 */
    assert_null(sitq__pyvalue_build("1", 1, "\x80\x05", 2, &len));       /* nothing after */
}

static void test_bare_pickle_and_other(void **state) {
    (void)state;
    sitq__pyvalue pv;
    char why[64];
    assert_int_equal(sitq__pyvalue_parse(PICKLE_3, 4, &pv, why, sizeof why), SITQ__PYVALUE_PICKLE);
    assert_null(pv.repr);
    assert_int_equal(pv.pickle_len, 4);
    assert_ptr_equal(pv.pickle, (const unsigned char *)PICKLE_3);
    assert_int_equal(sitq__pyvalue_parse(NULL, 0, &pv, why, sizeof why), SITQ__PYVALUE_OTHER);
    assert_int_equal(sitq__pyvalue_parse("hello\n", 6, &pv, why, sizeof why), SITQ__PYVALUE_OTHER);
    assert_null(pv.pickle);
    assert_int_equal(sitq__pyvalue_parse("\x80\x01K", 3, &pv, why, sizeof why),
                     SITQ__PYVALUE_OTHER);
    assert_int_equal(sitq__pyvalue_parse("\xffsq", 3, &pv, why, sizeof why), SITQ__PYVALUE_OTHER);
    assert_string_equal(why, "");
}

/* Each malformed record is BAD with its reason; nothing points into it. */
static void expect_bad(const char *rec, size_t len, const char *reason) {
    sitq__pyvalue pv;
    char why[64];
    assert_int_equal(sitq__pyvalue_parse(rec, len, &pv, why, sizeof why), SITQ__PYVALUE_BAD);
    assert_int_equal(pv.kind, SITQ__PYVALUE_BAD);
    assert_null(pv.repr);
    assert_null(pv.pickle);
    assert_string_equal(why, reason);
}

static void test_malformed_records(void **state) {
    (void)state;
    expect_bad("\xffsqv\x01\x00", 6, "the record is truncated (no full header)");
    expect_bad("\xffsqv\x02\x00\x01"
               "1" PICKLE_3,
               12, "the record's version is not known");
    expect_bad("\xffsqv\x01\x04\x01"
               "1" PICKLE_3,
               12, "the record's repr is too long");
    expect_bad("\xffsqv\x01\x00\x09"
               "1" PICKLE_3,
               12, "the record is truncated (in its repr)");
    expect_bad("\xffsqv\x01\x00\x01"
               "\xc3" PICKLE_3,
               12, "the record's repr is not UTF-8 text");
    expect_bad("\xffsqv\x01\x00\x01"
               "\0" PICKLE_3,
               12, "the record's repr is not UTF-8 text");
    expect_bad("\xffsqv\x01\x00\x03"
               "\xed\xa0\x80" PICKLE_3,
               14, "the record's repr is not UTF-8 text"); /* a surrogate */
    expect_bad("\xffsqv\x01\x00\x02"
               "\xc0\x80" PICKLE_3,
               13, "the record's repr is not UTF-8 text"); /* overlong */
    expect_bad("\xffsqv\x01\x00\x01"
               "1",
               8, "the record holds no pickle after its repr");
    expect_bad("\xffsqv\x01\x00\x01"
               "1hello",
               13, "the record holds no pickle after its repr");
    /* a tiny reason buffer is cut, never overrun */
    sitq__pyvalue pv;
    char small[8];
    assert_int_equal(sitq__pyvalue_parse("\xffsqv", 4, &pv, small, sizeof small),
                     SITQ__PYVALUE_BAD);
    assert_int_equal(strlen(small), sizeof small - 1);
}

static void test_python_function(void **state) {
    (void)state;
    assert_int_equal(sitq__pyvalue_function("py:mod.f"), 1);
    assert_int_equal(sitq__pyvalue_function("shell"), 0);
    assert_int_equal(sitq__pyvalue_function("py"), 0);
    assert_int_equal(sitq__pyvalue_function(NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_round_trip),     cmocka_unit_test(test_build_refuses),
        cmocka_unit_test(test_bare_pickle_and_other), cmocka_unit_test(test_malformed_records),
        cmocka_unit_test(test_python_function),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
