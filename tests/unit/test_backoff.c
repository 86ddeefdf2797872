/* test_backoff.c - sitq_backoff_us values, jitter bounds, clamping, overflow. */
#include "helpers.h"

#include <limits.h>
#include <math.h>

#define SEC 1000000LL

static void test_backoff_exact_no_jitter(void **state) {
    (void)state;
    assert_int_equal(sitq_backoff_us(1, 1.0, 3600.0, 0.0, 0.5), 1 * SEC);
    assert_int_equal(sitq_backoff_us(2, 1.0, 3600.0, 0.0, 0.5), 2 * SEC);
    assert_int_equal(sitq_backoff_us(3, 1.0, 3600.0, 0.0, 0.5), 4 * SEC);
    assert_int_equal(sitq_backoff_us(4, 1.0, 3600.0, 0.0, 0.0), 8 * SEC);
    assert_int_equal(sitq_backoff_us(10, 1.0, 3600.0, 0.0, 0.0), 512 * SEC);
    assert_int_equal(sitq_backoff_us(12, 1.0, 3600.0, 0.0, 0.0), 2048 * SEC);
    /* 2^12 = 4096 s > cap */
    assert_int_equal(sitq_backoff_us(13, 1.0, 3600.0, 0.0, 0.0), 3600 * SEC);
    assert_int_equal(sitq_backoff_us(1, 0.5, 3600.0, 0.0, 0.0), SEC / 2);
    assert_int_equal(sitq_backoff_us(3, 0.25, 3600.0, 0.0, 0.0), 1 * SEC);
    assert_int_equal(sitq_backoff_us(1, 0.001, 3600.0, 0.0, 0.0), 1000);
    /* cap respected */
    assert_int_equal(sitq_backoff_us(4, 1.0, 5.0, 0.0, 0.0), 5 * SEC);
    assert_int_equal(sitq_backoff_us(3, 1.0, 5.0, 0.0, 0.0), 4 * SEC);
    assert_int_equal(sitq_backoff_us(1, 10.0, 2.5, 0.0, 0.0), 2500000);
    /* u is irrelevant without jitter */
    assert_int_equal(sitq_backoff_us(2, 1.0, 3600.0, 0.0, 0.999), 2 * SEC);
    /* zero base / zero cap */
    assert_int_equal(sitq_backoff_us(5, 0.0, 3600.0, 0.0, 0.3), 0);
    assert_int_equal(sitq_backoff_us(5, 1.0, 0.0, 0.0, 0.3), 0);
}

static void test_backoff_jitter_bounds(void **state) {
    (void)state;
    /* 4 s, jitter 0.5: u=0 -> x0.5, u=0.5 -> x1, u->1 -> x1.5 */
    int64_t lo = sitq_backoff_us(3, 1.0, 3600.0, 0.5, 0.0);
    assert_true(llabs(lo - 2 * SEC) <= 1);
    int64_t mid = sitq_backoff_us(3, 1.0, 3600.0, 0.5, 0.5);
    assert_true(llabs(mid - 4 * SEC) <= 1);
    double u_hi = nextafter(1.0, 0.0);
    int64_t hi = sitq_backoff_us(3, 1.0, 3600.0, 0.5, u_hi);
    assert_true(hi <= 6 * SEC);
    assert_true(hi >= 6 * SEC - 2);
    int64_t hi2 = sitq_backoff_us(3, 1.0, 3600.0, 0.5, 0.999999);
    assert_true(llabs(hi2 - 5999996) <= 2);
    /* jitter 0.1 on 1 s */
    assert_true(llabs(sitq_backoff_us(1, 1.0, 3600.0, 0.1, 0.0) - 900000) <= 1);
    assert_true(llabs(sitq_backoff_us(1, 1.0, 3600.0, 0.1, 0.75) - 1050000) <= 1);
    /* jitter 1, u = 0 -> 0 */
    assert_true(sitq_backoff_us(2, 1.0, 3600.0, 1.0, 0.0) <= 1);
    /* at the cap, upward jitter is clamped to the cap */
    assert_int_equal(sitq_backoff_us(20, 1.0, 3600.0, 0.1, u_hi), 3600 * SEC);
    assert_true(llabs(sitq_backoff_us(20, 1.0, 3600.0, 0.1, 0.0) - 3240 * SEC) <= 1);
    /* property sweep: within [d(1-j), d(1+j)] and within [0, cap] */
    for (int retry = 1; retry <= 40; retry++) {
        double d = fmin(3600.0, ldexp(0.5, retry - 1)) * 1e6;
        for (int k = 0; k < 20; k++) {
            double u = k / 20.0;
            int64_t v = sitq_backoff_us(retry, 0.5, 3600.0, 0.3, u);
            assert_true(v >= 0);
            assert_true(v <= 3600 * SEC);
            assert_true((double)v >= d * 0.7 - 2);
            assert_true((double)v <= fmin(d * 1.3, 3600e6) + 2);
        }
    }
}

static void test_backoff_huge_retry(void **state) {
    (void)state;
    assert_int_equal(sitq_backoff_us(64, 1.0, 3600.0, 0.0, 0.0), 3600 * SEC);
    assert_int_equal(sitq_backoff_us(1024, 1.0, 3600.0, 0.0, 0.0), 3600 * SEC);
    assert_int_equal(sitq_backoff_us(1000000000, 1.0, 3600.0, 0.0, 0.0), 3600 * SEC);
    assert_int_equal(sitq_backoff_us(INT32_MAX, 1.0, 3600.0, 0.0, 0.5), 3600 * SEC);
    assert_int_equal(sitq_backoff_us(INT32_MAX, 1e300, 3600.0, 0.0, 0.5), 3600 * SEC);
    assert_int_equal(sitq_backoff_us(1, 1e300, 10.0, 0.0, 0.5), 10 * SEC);
    /* a cap larger than int64 microseconds must not overflow either */
    int64_t v = sitq_backoff_us(INT32_MAX, 1.0, 1e300, 0.0, 0.5);
    assert_true(v > 0);
    v = sitq_backoff_us(INT32_MAX, 1.0, 1e300, 1.0, nextafter(1.0, 0.0));
    assert_true(v > 0);
    int64_t j = sitq_backoff_us(INT32_MAX, 1.0, 3600.0, 0.2, 0.0);
    assert_true(llabs(j - 2880 * SEC) <= 1);
}

static void test_backoff_bad_input_clamped(void **state) {
    (void)state;
    /* retry < 1 -> 1 */
    assert_int_equal(sitq_backoff_us(0, 1.0, 3600.0, 0.0, 0.0), 1 * SEC);
    assert_int_equal(sitq_backoff_us(-5, 1.0, 3600.0, 0.0, 0.0), 1 * SEC);
    assert_int_equal(sitq_backoff_us(INT32_MIN, 2.0, 3600.0, 0.0, 0.0), 2 * SEC);
    /* negative base -> 0 */
    assert_int_equal(sitq_backoff_us(3, -1.0, 3600.0, 0.0, 0.0), 0);
    /* negative cap -> 0 */
    assert_int_equal(sitq_backoff_us(3, 1.0, -5.0, 0.0, 0.0), 0);
    /* jitter > 1 -> 1; jitter < 0 -> 0 */
    assert_true(sitq_backoff_us(1, 1.0, 3600.0, 2.0, 0.0) <= 1);
    assert_true(llabs(sitq_backoff_us(1, 1.0, 3600.0, 2.0, 0.75) - 1500000) <= 1);
    assert_int_equal(sitq_backoff_us(1, 1.0, 3600.0, -1.0, 0.0), 1 * SEC);
    assert_int_equal(sitq_backoff_us(1, 1.0, 3600.0, -1.0, 0.9), 1 * SEC);
    /* non-finite inputs: result stays within [0, cap] (no UB, no crash) */
    int64_t v;
    v = sitq_backoff_us(3, NAN, 3600.0, 0.0, 0.0);
    assert_true(v >= 0 && v <= 3600 * SEC);
    v = sitq_backoff_us(3, INFINITY, 3600.0, 0.0, 0.0);
    assert_true(v >= 0 && v <= 3600 * SEC);
    v = sitq_backoff_us(3, -INFINITY, 3600.0, 0.0, 0.0);
    assert_true(v >= 0 && v <= 3600 * SEC);
    v = sitq_backoff_us(3, 1.0, 3600.0, NAN, 0.0);
    assert_true(v >= 0 && v <= 3600 * SEC);
    v = sitq_backoff_us(3, 1.0, 3600.0, 0.5, -3.0);
    assert_true(v >= 0 && v <= 3600 * SEC);
    v = sitq_backoff_us(3, 1.0, 3600.0, 0.5, 7.0);
    assert_true(v >= 0 && v <= 3600 * SEC);
    v = sitq_backoff_us(3, 1.0, NAN, 0.5, 0.5);
    assert_true(v >= 0);
    v = sitq_backoff_us(3, 1.0, -INFINITY, 0.5, 0.5);
    assert_int_equal(v, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_exact_no_jitter),
        cmocka_unit_test(test_backoff_jitter_bounds),
        cmocka_unit_test(test_backoff_huge_retry),
        cmocka_unit_test(test_backoff_bad_input_clamped),
    };
    return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
