/* test_cron.c - cron expressions, intervals and time zones: next fire times
 * from a table, daylight-saving changes in Europe/Paris and
 * America/New_York, the leap day, TZif files of each kind (TZDIR), and
 * every error path. Expected times are written as UTC text and converted
 * with the C library's timegm, independently of sitq's calendar code. */
#include "helpers.h"

#include <time.h>
#include <unistd.h>

/* "YYYY-MM-DDTHH:MM:SSZ" to Unix seconds. */
static int64_t utc(const char *s) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int n = sscanf(s, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec);
    if (n != 6) fail_msg("bad time text %s", s);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

/* Fire times of expr in zone after `after`, each from the previous one,
 * compared with the expected list (NULL-terminated UTC texts). */
static void expect_fires(const char *expr, const char *zone, const char *after,
                         const char *const *want) {
    sitq_cron *c = NULL;
    TQ_OK(sitq_cron_parse(expr, &c, &tq_err));
    int64_t t = utc(after);
    for (int i = 0; want[i]; i++) {
        int64_t next = 0;
        TQ_OK(sitq_cron_next(c, zone, t, &next, &tq_err));
        if (next != utc(want[i]))
            fail_msg("\"%s\" in %s after %s: fire %d is %lld, expected %s (%lld)", expr,
                     zone ? zone : "UTC", after, i + 1, (long long)next, want[i],
                     (long long)utc(want[i]));
        t = next;
    }
    sitq_cron_free(c);
}

#define FIRES(expr, zone, after, ...)                                                              \
    expect_fires(expr, zone, after, (const char *const[]){__VA_ARGS__, NULL})

/* 2024-01-15 is a Monday. */
#define MON "2024-01-15T10:07:30Z"

static void test_cron_table_utc(void **state) {
    (void)state;
    FIRES("* * * * *", NULL, MON, "2024-01-15T10:08:00Z", "2024-01-15T10:09:00Z");
    FIRES("*/15 * * * *", "UTC", MON, "2024-01-15T10:15:00Z", "2024-01-15T10:30:00Z");
    FIRES("0 * * * *", "", MON, "2024-01-15T11:00:00Z", "2024-01-15T12:00:00Z");
    FIRES("7 10 * * *", NULL, MON, "2024-01-16T10:07:00Z");
    FIRES("8 10 * * *", NULL, MON, "2024-01-15T10:08:00Z", "2024-01-16T10:08:00Z");
    FIRES("0 0 1 * *", NULL, MON, "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z");
    FIRES("@yearly", NULL, MON, "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
    FIRES("@annually", NULL, MON, "2025-01-01T00:00:00Z");
    FIRES("@monthly", NULL, MON, "2024-02-01T00:00:00Z");
    FIRES("@weekly", NULL, MON, "2024-01-21T00:00:00Z", "2024-01-28T00:00:00Z");
    FIRES("@daily", NULL, MON, "2024-01-16T00:00:00Z");
    FIRES("@MIDNIGHT", NULL, MON, "2024-01-16T00:00:00Z");
    FIRES("  @hourly  ", NULL, MON, "2024-01-15T11:00:00Z");
    FIRES("0 9 * * MON-FRI", NULL, MON, "2024-01-16T09:00:00Z", "2024-01-17T09:00:00Z",
          "2024-01-18T09:00:00Z", "2024-01-19T09:00:00Z", "2024-01-22T09:00:00Z");
    FIRES("0 9 * * 0", NULL, MON, "2024-01-21T09:00:00Z");
    FIRES("0 9 * * 7", NULL, MON, "2024-01-21T09:00:00Z");
    FIRES("0 9 * * sun", NULL, MON, "2024-01-21T09:00:00Z");
    FIRES("0 9 * * 5-7", NULL, MON, "2024-01-19T09:00:00Z", "2024-01-20T09:00:00Z",
          "2024-01-21T09:00:00Z", "2024-01-26T09:00:00Z");
    /* a range may end at Sunday as 0 or SUN: it means 7 there */
    FIRES("0 9 * * FRI-SUN", NULL, MON, "2024-01-19T09:00:00Z", "2024-01-20T09:00:00Z",
          "2024-01-21T09:00:00Z", "2024-01-26T09:00:00Z");
    FIRES("0 9 * * 5-0", NULL, MON, "2024-01-19T09:00:00Z", "2024-01-20T09:00:00Z",
          "2024-01-21T09:00:00Z", "2024-01-26T09:00:00Z");
    FIRES("0 9 * * sat-sun/1", NULL, MON, "2024-01-20T09:00:00Z", "2024-01-21T09:00:00Z",
          "2024-01-27T09:00:00Z");
    /* MON-SUN is every day, so unrestricted: the day of month alone decides */
    FIRES("0 0 1 * MON-SUN", NULL, MON, "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z");
    FIRES("30 8 * JAN,mar 1", NULL, MON, "2024-01-22T08:30:00Z", "2024-01-29T08:30:00Z",
          "2024-03-04T08:30:00Z");
    FIRES("0 0 13 * *", NULL, MON, "2024-02-13T00:00:00Z");
    /* Both day fields restricted: the 13th or any Friday. */
    FIRES("0 0 13 * 5", NULL, MON, "2024-01-19T00:00:00Z", "2024-01-26T00:00:00Z",
          "2024-02-02T00:00:00Z", "2024-02-09T00:00:00Z", "2024-02-13T00:00:00Z");
    /* A stepped day of month is restricted too: odd days or Fridays. */
    FIRES("0 0 */2 * 5", NULL, MON, "2024-01-17T00:00:00Z", "2024-01-19T00:00:00Z",
          "2024-01-21T00:00:00Z");
    /* Only one restricted: both must match (Fridays in January). */
    FIRES("0 0 1-31 * 5", NULL, MON, "2024-01-19T00:00:00Z");
    FIRES("0 12 * * 1-5/2", NULL, MON, "2024-01-15T12:00:00Z", "2024-01-17T12:00:00Z",
          "2024-01-19T12:00:00Z", "2024-01-22T12:00:00Z");
    FIRES("5-10/5,30 */6 * * *", NULL, MON, "2024-01-15T12:05:00Z", "2024-01-15T12:10:00Z",
          "2024-01-15T12:30:00Z", "2024-01-15T18:05:00Z");
    FIRES("59 23 31 12 *", NULL, MON, "2024-12-31T23:59:00Z", "2025-12-31T23:59:00Z");
    FIRES("0 0 31 * *", NULL, "2024-01-31T00:00:00Z", "2024-03-31T00:00:00Z",
          "2024-05-31T00:00:00Z", "2024-07-31T00:00:00Z", "2024-08-31T00:00:00Z");
    FIRES("0 0 1 1 *", NULL, "2024-12-31T23:59:59Z", "2025-01-01T00:00:00Z");
    FIRES("0 0 * 2 *", NULL, MON, "2024-02-01T00:00:00Z");
    FIRES("* * * * *", NULL, "1970-01-01T00:00:00Z", "1970-01-01T00:01:00Z");
    FIRES("0 0 * * *", NULL, "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z");
    FIRES("0 0 * * *", NULL, "1900-03-01T12:00:00Z", "1900-03-02T00:00:00Z");
    FIRES("0 0 * * *", NULL, "9999-12-30T12:00:00Z", "9999-12-31T00:00:00Z");
}

static void test_cron_leap_day(void **state) {
    (void)state;
    FIRES("0 0 29 2 *", NULL, MON, "2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z",
          "2032-02-29T00:00:00Z");
    /* 2100 is not a leap year: eight years from 2096 to 2104. */
    FIRES("0 0 29 2 *", NULL, "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z");
    /* 2000 is (divisible by 400). */
    FIRES("0 0 29 2 *", NULL, "1996-03-01T00:00:00Z", "2000-02-29T00:00:00Z");
    /* Local midnight in New York is 05:00 UTC. */
    FIRES("0 0 29 2 *", "America/New_York", MON, "2024-02-29T05:00:00Z", "2028-02-29T05:00:00Z");
    FIRES("0 0 29 2 *", "Europe/Paris", MON, "2024-02-28T23:00:00Z");
}

/* Europe/Paris, 2024: 02:00 CET became 03:00 CEST on 31 March (01:00 UTC);
 * 03:00 CEST became 02:00 CET on 27 October (01:00 UTC). */
static void test_cron_dst_paris(void **state) {
    (void)state;
    const char *z = "Europe/Paris";
    /* A time in the gap fires at the end of the gap, then as usual. */
    FIRES("30 2 * * *", z, "2024-03-30T12:00:00Z", "2024-03-31T01:00:00Z", "2024-04-01T00:30:00Z");
    FIRES("0 3 * * *", z, "2024-03-30T12:00:00Z", "2024-03-31T01:00:00Z", "2024-04-01T01:00:00Z");
    /* Several skipped times fire once, together, at the end of the gap. */
    FIRES("15,45 * * * *", z, "2024-03-31T00:00:00Z", "2024-03-31T00:15:00Z",
          "2024-03-31T00:45:00Z", "2024-03-31T01:00:00Z", "2024-03-31T01:15:00Z");
    FIRES("0 0 * * *", z, "2024-03-30T12:00:00Z", "2024-03-30T23:00:00Z", "2024-03-31T22:00:00Z");
    /* A repeated time fires once, at its first occurrence (CEST). */
    FIRES("0 2 * * *", z, "2024-10-26T12:00:00Z", "2024-10-27T00:00:00Z", "2024-10-28T01:00:00Z");
    FIRES("*/30 * * * *", z, "2024-10-27T00:10:00Z", "2024-10-27T00:30:00Z", "2024-10-27T02:00:00Z",
          "2024-10-27T02:30:00Z");
    /* From inside the repeated hour's second pass: the next new time. */
    FIRES("*/30 * * * *", z, "2024-10-27T01:10:00Z", "2024-10-27T02:00:00Z");
    FIRES("30 2 * * *", z, "2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z");
    /* Past the file's table (2037): the footer's rule. */
    FIRES("0 12 1 7 *", z, "2100-01-01T00:00:00Z", "2100-07-01T10:00:00Z");
    FIRES("30 2 * * *", z, "2100-03-27T12:00:00Z", "2100-03-28T01:00:00Z");
}

/* America/New_York, 2024: 02:00 EST became 03:00 EDT on 10 March (07:00
 * UTC); 02:00 EDT became 01:00 EST on 3 November (06:00 UTC). */
static void test_cron_dst_new_york(void **state) {
    (void)state;
    const char *z = "America/New_York";
    FIRES("30 2 * * *", z, "2024-03-09T12:00:00Z", "2024-03-10T07:00:00Z", "2024-03-11T06:30:00Z");
    FIRES("0 * * * *", z, "2024-03-10T05:30:00Z", "2024-03-10T06:00:00Z", "2024-03-10T07:00:00Z",
          "2024-03-10T08:00:00Z");
    FIRES("30 1 * * *", z, "2024-11-02T12:00:00Z", "2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z");
    FIRES("0 * * * *", z, "2024-11-03T04:30:00Z", "2024-11-03T05:00:00Z", "2024-11-03T07:00:00Z",
          "2024-11-03T08:00:00Z");
    FIRES("0 9 * * MON-FRI", z, "2024-03-08T15:00:00Z", "2024-03-11T13:00:00Z");
    FIRES("0 9 * * MON-FRI", z, "2024-11-01T14:00:00Z", "2024-11-04T14:00:00Z");
}

static void test_cron_fixed_offsets(void **state) {
    (void)state;
    FIRES("0 12 * * *", "+05:30", "1970-01-01T00:00:00Z", "1970-01-01T06:30:00Z",
          "1970-01-02T06:30:00Z");
    FIRES("0 12 * * *", "-03:00", "1970-01-01T00:00:00Z", "1970-01-01T15:00:00Z");
    FIRES("0 0 * * *", "GMT", MON, "2024-01-16T00:00:00Z");
    FIRES("0 0 * * *", "Z", MON, "2024-01-16T00:00:00Z");
    FIRES("0 0 * * *", "Asia/Kolkata", MON, "2024-01-15T18:30:00Z");
    int32_t off = 0;
    TQ_OK(sitq_timezone_offset("Europe/Paris", utc("2024-01-15T00:00:00Z"), &off, &tq_err));
    assert_int_equal(off, 3600);
    TQ_OK(sitq_timezone_offset("Europe/Paris", utc("2024-07-01T00:00:00Z"), &off, &tq_err));
    assert_int_equal(off, 7200);
    TQ_OK(sitq_timezone_offset("Europe/Paris", utc("2100-07-01T00:00:00Z"), &off, &tq_err));
    assert_int_equal(off, 7200);
    TQ_OK(sitq_timezone_offset("America/New_York", utc("2024-01-15T00:00:00Z"), &off, &tq_err));
    assert_int_equal(off, -18000);
    TQ_OK(sitq_timezone_offset("-09:45", 0, &off, &tq_err));
    assert_int_equal(off, -(9 * 3600 + 45 * 60));
    TQ_OK(sitq_timezone_offset(NULL, 0, &off, &tq_err));
    assert_int_equal(off, 0);
}

static void test_interval(void **state) {
    (void)state;
    sitq_cron *c = NULL;
    int64_t next = 0;
    TQ_OK(sitq_cron_interval(3600, 0, &c, &tq_err));
    TQ_OK(sitq_cron_next(c, NULL, 1700000000, &next, &tq_err));
    assert_int_equal(next, 1700002800);
    TQ_OK(sitq_cron_next(c, "Europe/Paris", 1700002800, &next, &tq_err));
    assert_int_equal(next, 1700006400);
    sitq_cron_free(c);
    TQ_OK(sitq_cron_interval(90, 10, &c, &tq_err));
    TQ_OK(sitq_cron_next(c, NULL, 10, &next, &tq_err));
    assert_int_equal(next, 100);
    TQ_OK(sitq_cron_next(c, NULL, 9, &next, &tq_err));
    assert_int_equal(next, 10);
    TQ_OK(sitq_cron_next(c, NULL, -100, &next, &tq_err));
    assert_int_equal(next, -80);
    TQ_ERR_MSG(SITQ_EINVAL, "time zone", "zone",
               sitq_cron_next(c, "Nowhere/City", 0, &next, &tq_err));
    sitq_cron_free(c);
    TQ_OK(sitq_cron_interval(1, 0, &c, &tq_err));
    TQ_OK(sitq_cron_next(c, NULL, 41, &next, &tq_err));
    assert_int_equal(next, 42);
    sitq_cron_free(c);
    c = (sitq_cron *)&next; /* must be set to NULL on error */
    TQ_ERR_MSG(SITQ_EINVAL, "interval", "seconds", sitq_cron_interval(0, 0, &c, &tq_err));
    assert_null(c);
    TQ_ERR_MSG(SITQ_EINVAL, "interval", "seconds", sitq_cron_interval(-5, 0, &c, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "interval", "100 years", sitq_cron_interval(INT64_MAX, 0, &c, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "anchor", "9999", sitq_cron_interval(60, INT64_MIN, &c, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_cron_interval(60, 0, NULL, &tq_err));
    sitq_cron_free(NULL);
}

/* expr must be refused, naming `word` (a field, usually). */
static void expect_parse_error(const char *expr, const char *word) {
    sitq_cron *c = (sitq_cron *)&tq_err;
    TQ_ERR_MSG(SITQ_EINVAL, word, word, sitq_cron_parse(expr, &c, &tq_err));
    assert_null(c);
}

static void test_cron_parse_errors(void **state) {
    (void)state;
    expect_parse_error("", "5 fields");
    expect_parse_error("   ", "got 0");
    expect_parse_error("* * * *", "got 4");
    expect_parse_error("0 * * * * *", "got 6");
    expect_parse_error("60 * * * *", "minute field \"60\": 60 is out of range 0-59");
    expect_parse_error("* 24 * * *", "hour field \"24\"");
    expect_parse_error("* * 0 * *", "day-of-month field \"0\"");
    expect_parse_error("* * 32 * *", "day-of-month");
    expect_parse_error("* * * 13 *", "month field \"13\"");
    expect_parse_error("* * * 0 *", "month");
    expect_parse_error("* * * * 8", "day-of-week field \"8\"");
    expect_parse_error("99999999999999999999 * * * *", "out of range");
    /* a long number is quoted as written, not as the capped value it was read as */
    expect_parse_error("1000000000000 * * * *", ": 1000000000000 is out of range 0-59");
    expect_parse_error("*/1000000000000 * * * *", "step 1000000000000 is out of range 1-60");
    expect_parse_error("5-1 * * * *", "reversed");
    expect_parse_error("* * * * SAT-MON", "reversed");
    expect_parse_error("* * * * 7-1", "reversed");
    expect_parse_error("*/0 * * * *", "step 0");
    expect_parse_error("*/61 * * * *", "step 61");
    expect_parse_error("* */ * * *", "hour field \"*/\": a step must be a number");
    expect_parse_error("5/15 * * * *", "a step needs a range");
    expect_parse_error("1,,2 * * * *", "empty list item");
    expect_parse_error("1, * * * *", "empty list item");
    expect_parse_error("1-2-3 * * * *", "unexpected text");
    expect_parse_error("- * * * *", "minute");
    expect_parse_error("* * * FOO *", "month field \"FOO\": unknown name (use JAN..DEC)");
    expect_parse_error("* * * JANUARY *", "unknown name");
    expect_parse_error("* * * * MONDAY",
                       "day-of-week field \"MONDAY\": unknown name (use SUN..SAT)");
    expect_parse_error("* * * * JAN", "unknown name");
    expect_parse_error("MON * * * *", "names are allowed only");
    expect_parse_error("* * L * *", "day-of-month");
    expect_parse_error("* * 15W * *", "unexpected text");
    expect_parse_error("* * * * 1#2", "day-of-week");
    expect_parse_error("* * ? * *", "day-of-month");
    expect_parse_error("* * * * 1L", "day-of-week");
    expect_parse_error("@reboot", "unknown shortcut");
    expect_parse_error("@every 5m", "unknown shortcut");
    expect_parse_error("@", "unknown shortcut");
    expect_parse_error("0 0 30 2 *", "no such day");
    expect_parse_error("0 0 31 4,6,9,11 *", "no such day");
    expect_parse_error("0 0 31 2,4 *", "no such day");
    expect_parse_error("*\x01 * * * *", "\"*?\"");
    expect_parse_error("0 0 * * * \n", "got 6");
    TQ_ERR(SITQ_EINVAL, sitq_cron_parse(NULL, &(sitq_cron *){NULL}, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_cron_parse("* * * * *", NULL, &tq_err));
    char big[2048];
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    expect_parse_error(big, "longer than");
    /* Accepted edge forms: the day of the week with both and with 30 in February. */
    sitq_cron *c = NULL;
    TQ_OK(sitq_cron_parse("0 0 30 2 MON", &c, &tq_err));
    sitq_cron_free(c);
    TQ_OK(sitq_cron_parse("0 0 30 1-2 *", &c, &tq_err));
    sitq_cron_free(c);
    TQ_OK(sitq_cron_parse("\t0\t0 \t 1 jan-Dec/3 Mon-fri,sat ", &c, &tq_err));
    sitq_cron_free(c);
    TQ_OK(sitq_cron_parse("*/60 */24 */31 */12 */7", &c, &tq_err));
    sitq_cron_free(c);
}

static void expect_zone_error(const char *zone, const char *w1, const char *w2) {
    sitq_cron *c = NULL;
    int64_t next = -7;
    TQ_OK(sitq_cron_parse("* * * * *", &c, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, w1, w2, sitq_cron_next(c, zone, 0, &next, &tq_err));
    assert_int_equal(next, -7);
    sitq_cron_free(c);
    int32_t off = 0;
    TQ_ERR_MSG(SITQ_EINVAL, w1, w2, sitq_timezone_offset(zone, 0, &off, &tq_err));
}

static void test_cron_next_errors(void **state) {
    (void)state;
    expect_zone_error("/etc/passwd", "not an IANA name", "not an IANA name");
    expect_zone_error("../../etc/passwd", "not an IANA name", "not an IANA name");
    expect_zone_error("Europe/../Europe/Paris", "not an IANA name", "not an IANA name");
    expect_zone_error("Europe//Paris", "not an IANA name", "not an IANA name");
    expect_zone_error("Europe/Paris/", "not an IANA name", "not an IANA name");
    expect_zone_error(".hidden", "not an IANA name", "not an IANA name");
    expect_zone_error("Europe/Paris\n", "not an IANA name", "not an IANA name");
    expect_zone_error("Europe/Pa ris", "not an IANA name", "not an IANA name");
    /* Bytes outside printable ASCII are not echoed into the message. */
    expect_zone_error("Australia\321\273rod_Howe", "\"Australia??rod_Howe\" is not an IANA",
                      "not an IANA name");
    expect_zone_error("+\377", "\"+?\": a fixed offset", "+HH:MM");
    expect_zone_error("Mars/Olympus_Mons", "unknown time zone \"Mars/Olympus_Mons\"", "unknown");
    expect_zone_error("Europe", "not a zone file", "not a zone file");
    expect_zone_error("+25:00", "+HH:MM", "fixed offset");
    expect_zone_error("+5", "+HH:MM", "fixed offset");
    expect_zone_error("-05:60", "+HH:MM", "fixed offset");
    expect_zone_error("utc+1", "unknown time zone", "unknown");
    sitq_cron *c = NULL;
    int64_t next = 0;
    TQ_OK(sitq_cron_parse("* * * * *", &c, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_cron_next(NULL, NULL, 0, &next, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_cron_next(c, NULL, 0, NULL, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "9999", "years", sitq_cron_next(c, NULL, INT64_MAX, &next, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "9999", "years", sitq_cron_next(c, NULL, INT64_MIN, &next, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "9999", "years",
               sitq_cron_next(c, NULL, utc("9999-12-31T23:59:00Z"), &next, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_timezone_offset("UTC", 0, NULL, &tq_err));
    int32_t off = 0;
    TQ_ERR_MSG(SITQ_EINVAL, "9999", "years",
               sitq_timezone_offset("Europe/Paris", INT64_MAX, &off, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "9999", "years",
               sitq_timezone_offset("Europe/Paris", INT64_MIN, &off, &tq_err));
    sitq_cron_free(c);
    /* err may be NULL. */
    assert_int_equal(sitq_cron_parse("bad", &c, NULL), SITQ_EINVAL);
}

/* ---- TZif files of each kind, under a TZDIR of the test's own ---- */

static void put32(unsigned char **p, uint32_t v) {
    for (int i = 3; i >= 0; i--) *(*p)++ = (unsigned char)(v >> (8 * i));
}

/* A version 2 file with no transitions and one type (offset off), then the
 * footer text. Returns its length. */
static size_t make_footer_only(unsigned char *buf, int32_t off, const char *footer) {
    unsigned char *p = buf;
    for (int part = 0; part < 2; part++) {
        memcpy(p, "TZif2", 5);
        memset(p + 5, 0, 15);
        p += 20;
        put32(&p, 0), put32(&p, 0), put32(&p, 0), put32(&p, 0), put32(&p, 1), put32(&p, 4);
        put32(&p, (uint32_t)off);
        *p++ = 0, *p++ = 0;
        memcpy(p, "LMT", 4);
        p += 4;
    }
    *p++ = '\n';
    memcpy(p, footer, strlen(footer));
    p += strlen(footer);
    *p++ = '\n';
    return (size_t)(p - buf);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static size_t read_zone(const char *name, unsigned char *buf, size_t cap) {
    char path[512];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    assert_true(n > 44 && n < cap);
    return n;
}

static void test_tzif_files(void **state) {
    (void)state;
    char dir[256];
    assert_int_equal(tq_make_tmpdir(dir, sizeof dir), 0);
    unsigned char buf[65536];
    /* Footer only: the POSIX rule of New York for every year. */
    size_t n = make_footer_only(buf, -18000, "EST5EDT,M3.2.0,M11.1.0");
    write_file(dir, "Footer_NY", buf, n);
    n = make_footer_only(buf, 0, "<+0330>-3:30");
    write_file(dir, "Fixed_0330", buf, n);
    n = make_footer_only(buf, 0, "EST5EDT,M13.2.0,M11.1.0");
    write_file(dir, "Bad_footer", buf, n);
    /* Version 1 only: Paris's file cut after its 32-bit section. */
    n = read_zone("Europe/Paris", buf, sizeof buf);
    uint32_t cnt[6];
    for (int i = 0; i < 6; i++)
        cnt[i] = (uint32_t)buf[20 + 4 * i] << 24 | buf[21 + 4 * i] << 16 | buf[22 + 4 * i] << 8 |
                 buf[23 + 4 * i];
    size_t v1 = 44 + cnt[3] * 5 + cnt[4] * 6 + cnt[5] + cnt[2] * 8 + cnt[1] + cnt[0];
    assert_true(cnt[3] > 0 && v1 < n);
    buf[4] = 0;
    write_file(dir, "V1_Paris", buf, v1);
    write_file(dir, "Truncated", buf, 60);
    write_file(dir, "Garbage", "not a zone file at all, just text", 33);
    setenv("TZDIR", dir, 1);
    FIRES("30 2 * * *", "Footer_NY", "2024-03-09T12:00:00Z", "2024-03-10T07:00:00Z",
          "2024-03-11T06:30:00Z");
    FIRES("30 1 * * *", "Footer_NY", "2030-11-02T12:00:00Z", "2030-11-03T05:30:00Z",
          "2030-11-04T06:30:00Z");
    FIRES("0 0 * * *", "Fixed_0330", MON, "2024-01-15T20:30:00Z");
    FIRES("30 2 * * *", "V1_Paris", "2024-03-30T12:00:00Z", "2024-03-31T01:00:00Z",
          "2024-04-01T00:30:00Z");
    expect_zone_error("Bad_footer", "not a valid TZif file", "TZif");
    expect_zone_error("Truncated", "not a valid TZif file", "TZif");
    expect_zone_error("Garbage", "not a valid TZif file", "TZif");
    expect_zone_error("Europe/Paris", "unknown time zone", "unknown"); /* not in this TZDIR */
    FIRES("0 0 * * *", "UTC", MON, "2024-01-16T00:00:00Z");            /* needs no file */
    unsetenv("TZDIR");
    tq_rm_rf(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cron_table_utc),     cmocka_unit_test(test_cron_leap_day),
        cmocka_unit_test(test_cron_dst_paris),     cmocka_unit_test(test_cron_dst_new_york),
        cmocka_unit_test(test_cron_fixed_offsets), cmocka_unit_test(test_interval),
        cmocka_unit_test(test_cron_parse_errors),  cmocka_unit_test(test_cron_next_errors),
        cmocka_unit_test(test_tzif_files),
    };
    return cmocka_run_group_tests_name("cron", tests, NULL, NULL);
}
