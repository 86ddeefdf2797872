/* test_names.c - code/status names, option defaults, clock. */
#include "helpers.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

static void test_code_names(void **state) {
    (void)state;
    static const struct {
        sitq_code c;
        const char *name;
    } names[] = {
        {SITQ_OK, "SITQ_OK"},
        {SITQ_EINVAL, "SITQ_EINVAL"},
        {SITQ_ENOMEM, "SITQ_ENOMEM"},
        {SITQ_ENOTFOUND, "SITQ_ENOTFOUND"},
        {SITQ_ESTATE, "SITQ_ESTATE"},
        {SITQ_ETIMEDOUT, "SITQ_ETIMEDOUT"},
        {SITQ_EDEPENDENCY, "SITQ_EDEPENDENCY"},
        {SITQ_ENOTREADY, "SITQ_ENOTREADY"},
        {SITQ_ELEASE, "SITQ_ELEASE"},
        {SITQ_ESTORAGE, "SITQ_ESTORAGE"},
        {SITQ_ESCHEMA, "SITQ_ESCHEMA"},
        {SITQ_ENOHANDLER, "SITQ_ENOHANDLER"},
        {SITQ_ESYSTEM, "SITQ_ESYSTEM"},
        {SITQ_EBUSY, "SITQ_EBUSY"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        assert_non_null(sitq_code_name(names[i].c));
        assert_string_equal(sitq_code_name(names[i].c), names[i].name);
    }
    assert_string_equal(sitq_code_name((sitq_code)14), "SITQ_UNKNOWN");
    assert_string_equal(sitq_code_name((sitq_code)-1), "SITQ_UNKNOWN");
    assert_string_equal(sitq_code_name((sitq_code)1000000), "SITQ_UNKNOWN");
}

/* Every code of SITQ_ERRNO_MAP has its own name and a message, and the
 * values are the stable ones, distinct and counted up from 1. */
static void test_code_table(void **state) {
    (void)state;
    static const struct {
        sitq_code c;
        int value;
        const char *name;
        const char *message;
    } table[] = {
#define ROW(name, value, message) {SITQ_##name, value, "SITQ_" #name, message},
        SITQ_ERRNO_MAP(ROW)
#undef ROW
    };
    size_t n = sizeof table / sizeof table[0];
    assert_int_equal(n, 13);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal((int)table[i].c, table[i].value);
        assert_int_equal(table[i].value, (int)i + 1);
        assert_string_equal(sitq_code_name(table[i].c), table[i].name);
        assert_string_equal(sitq_strerror(table[i].c), table[i].message);
        assert_true(strlen(table[i].message) > 0);
        for (size_t j = 0; j < i; j++) assert_string_not_equal(table[j].message, table[i].message);
    }
    assert_string_equal(sitq_strerror(SITQ_OK), "success");
    assert_string_equal(sitq_strerror(SITQ_EINVAL), "invalid argument");
    assert_string_equal(sitq_strerror(SITQ_EBUSY),
                        "another process held a lock on the database for too long");
    assert_string_equal(sitq_strerror((sitq_code)14), "unknown error");
    assert_string_equal(sitq_strerror((sitq_code)-1), "unknown error");
}

static void test_status_names(void **state) {
    (void)state;
    static const char *names[SITQ_STATUS_COUNT] = {"queued",    "waiting", "scheduled", "running",
                                                   "succeeded", "failed",  "cancelled"};
    assert_int_equal(SITQ_QUEUED, 0);
    assert_int_equal(SITQ_WAITING, 1);
    assert_int_equal(SITQ_SCHEDULED, 2);
    assert_int_equal(SITQ_RUNNING, 3);
    assert_int_equal(SITQ_SUCCEEDED, 4);
    assert_int_equal(SITQ_FAILED, 5);
    assert_int_equal(SITQ_CANCELLED, 6);
    for (int s = 0; s < SITQ_STATUS_COUNT; s++) {
        assert_string_equal(sitq_status_name(s), names[s]);
        assert_int_equal(sitq_status_parse(names[s]), s);
        assert_int_equal(sitq_status_parse(sitq_status_name(s)), s);
    }
    assert_string_equal(sitq_status_name(7), "unknown");
    assert_string_equal(sitq_status_name(-1), "unknown");
    assert_string_equal(sitq_status_name(1 << 30), "unknown");
    /* case-insensitive */
    assert_int_equal(sitq_status_parse("QUEUED"), SITQ_QUEUED);
    assert_int_equal(sitq_status_parse("Succeeded"), SITQ_SUCCEEDED);
    assert_int_equal(sitq_status_parse("CanCelled"), SITQ_CANCELLED);
    /* unknown */
    assert_int_equal(sitq_status_parse(NULL), -1);
    assert_int_equal(sitq_status_parse(""), -1);
    assert_int_equal(sitq_status_parse("queue"), -1);
    assert_int_equal(sitq_status_parse("queued "), -1);
    assert_int_equal(sitq_status_parse("done"), -1);
    assert_int_equal(sitq_status_parse("succeededx"), -1);
}

static void test_status_is_terminal(void **state) {
    (void)state;
    assert_int_equal(sitq_status_is_terminal(SITQ_QUEUED), 0);
    assert_int_equal(sitq_status_is_terminal(SITQ_WAITING), 0);
    assert_int_equal(sitq_status_is_terminal(SITQ_SCHEDULED), 0);
    assert_int_equal(sitq_status_is_terminal(SITQ_RUNNING), 0);
    assert_int_equal(sitq_status_is_terminal(SITQ_SUCCEEDED), 1);
    assert_int_equal(sitq_status_is_terminal(SITQ_FAILED), 1);
    assert_int_equal(sitq_status_is_terminal(SITQ_CANCELLED), 1);
    assert_int_equal(sitq_status_is_terminal(7), 0);
    assert_int_equal(sitq_status_is_terminal(-1), 0);
}

static void test_option_defaults(void **state) {
    (void)state;
    sitq_sqlite_options so;
    memset(&so, 0x5a, sizeof so);
    sitq_sqlite_options_init(&so);
    assert_int_equal(so.enable_wal, 1);
    assert_int_equal(so.synchronous, SITQ_SYNC_NORMAL);
    assert_int_equal(so.busy_timeout_ms, 30000);
    assert_int_equal(so.reader_connections, 4);

    sitq_task_options to;
    memset(&to, 0x5a, sizeof to);
    sitq_task_options_init(&to);
    assert_int_equal(to.priority, 0);
    assert_int_equal(to.eta_us, 0);
    assert_true(to.delay_s == 0.0);
    assert_int_equal(to.max_retries, 0);
    assert_true(to.backoff_base_s == 1.0);
    assert_true(to.backoff_cap_s == 3600.0);
    assert_true(fabs(to.backoff_jitter - 0.1) < 1e-12);
    assert_true(to.timeout_s == 0.0);
    assert_null(to.depends_on);
    assert_int_equal(to.n_depends_on, 0);
    assert_null(to.unique_key);

    sitq_worker_options wo;
    memset(&wo, 0x5a, sizeof wo);
    sitq_worker_options_init(&wo);
    assert_null(wo.worker_id);
    assert_int_equal(wo.concurrency, 1);
    assert_true(wo.poll_interval_s == 0); /* automatic */
    assert_true(wo.lease_s == 30.0);
    /* prefetch "default = concurrency" and heartbeat "default min(lease/3, 1)"
     * may be stored as derived sentinels; only their sanity is checked. */
    assert_true(wo.prefetch <= 65536);
    assert_true(wo.heartbeat_interval_s <= 1.0 + 1e-12);
    assert_true(!isnan(wo.heartbeat_interval_s));
}

static void test_now_us(void **state) {
    (void)state;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t wall = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    sitq_time_us a = sitq_now_us();
    assert_true(a > wall - 2000000);
    assert_true(a < wall + 2000000);
    sitq_time_us b = sitq_now_us();
    assert_true(b >= a);
    tq_sleep_ms(5);
    sitq_time_us c = sitq_now_us();
    assert_true(c - b >= 4000);
    /* The version string and its numbers come from one place (CMake's project()). */
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", SITQ_VERSION_MAJOR, SITQ_VERSION_MINOR,
             SITQ_VERSION_PATCH);
    assert_string_equal(SITQ_VERSION, version);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_code_names),      cmocka_unit_test(test_code_table),
        cmocka_unit_test(test_status_names),    cmocka_unit_test(test_status_is_terminal),
        cmocka_unit_test(test_option_defaults), cmocka_unit_test(test_now_us),
    };
    return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
