/*
 * cron_next.c - schedules (a cron expression or a fixed interval) and their
 * next fire time strictly after an instant, in a time zone.
 *
 * A cron expression describes local wall times. The wall time W fires at
 * the first instant at which the zone's clock shows W or later:
 *   - an ordinary time fires once, at its one instant;
 *   - a time repeated by a fall-back change fires once, at its first
 *     occurrence (the earlier offset);
 *   - a time skipped by a spring-forward gap fires at the first instant
 *     after the gap (the end of the gap), once however many skipped times
 *     the expression names.
 * This rule makes the fire instant a non-decreasing function of W, so the
 * next fire time after T is that of the first matching W whose instant is
 * after T, and a search can start at the wall time of T itself: every
 * W <= wall(T) fires at or before T.
 *
 * An interval fires at anchor + k * every (k any integer), whatever the
 * zone, so every process that computes the next tick finds the same one.
 */
#include "civil.h"
#include "cron.h"
#include "tz.h"

#include <stdlib.h>

/* The range of instants handled: years 1 to 9999 (UTC). */
#define TIME_MIN (-62135596800LL)
#define TIME_MAX 253402300799LL
/* Longest wait between two fire times of a valid expression is 8 years (a
 * 29 February across a century that is not leap); searched up to 10. */
#define SEARCH_DAYS (366 * 10)
/* Longest interval: 100 years of 366 days. */
#define INTERVAL_MAX_S (100LL * 366 * SITQ__DAY_S)

enum { KIND_CRON, KIND_INTERVAL };

struct sitq_cron {
    int kind;
    sitq__cron cron;
    int64_t every_s, anchor_s; /* KIND_INTERVAL */
};

sitq_code sitq_cron_parse(const char *expr, sitq_cron **out, sitq_error *err) {
    if (!out) return sitq__fail(err, SITQ_EINVAL, "sitq_cron_parse: out must not be NULL");
    *out = NULL;
    sitq__cron c;
    sitq_code rc = sitq__cron_parse(expr, &c, err);
    if (rc != SITQ_OK) return rc;
    sitq_cron *s = calloc(1, sizeof *s);
    if (!s) return sitq__fail(err, SITQ_ENOMEM, "out of memory (cron expression)");
    s->kind = KIND_CRON;
    s->cron = c;
    *out = s;
    return sitq__ok(err);
}

sitq_code sitq_cron_interval(int64_t every_s, int64_t anchor_unix_s, sitq_cron **out,
                             sitq_error *err) {
    if (!out) return sitq__fail(err, SITQ_EINVAL, "sitq_cron_interval: out must not be NULL");
    *out = NULL;
    if (every_s < 1 || every_s > INTERVAL_MAX_S)
        return sitq__fail(err, SITQ_EINVAL,
                          "interval of %lld seconds: it must be 1..%lld seconds (100 years)",
                          (long long)every_s, (long long)INTERVAL_MAX_S);
    if (anchor_unix_s < TIME_MIN || anchor_unix_s > TIME_MAX)
        return sitq__fail(err, SITQ_EINVAL,
                          "interval anchor %lld is outside the years 1..9999 (%lld..%lld)",
                          (long long)anchor_unix_s, TIME_MIN, TIME_MAX);
    sitq_cron *s = calloc(1, sizeof *s);
    if (!s) return sitq__fail(err, SITQ_ENOMEM, "out of memory (interval schedule)");
    s->kind = KIND_INTERVAL;
    s->every_s = every_s;
    s->anchor_s = anchor_unix_s;
    *out = s;
    return sitq__ok(err);
}

void sitq_cron_free(sitq_cron *cron) { free(cron); }

/* The first instant at which the zone's clock shows wall time w (seconds
 * since 1970-01-01 00:00 local) or later. Walks the zone's periods of
 * constant offset from two days before: no offset exceeds 26 hours. */
static int64_t first_instant_at_or_after(const sitq__tz *z, int64_t w) {
    int64_t a = w - 2 * SITQ__DAY_S;
    for (;;) {
        int32_t off;
        int64_t until;
        sitq__tz_lookup(z, a, &off, &until);
        int64_t t = w - off;
        if (t < a) return a; /* the clock jumped over w when this period began */
        if (t < until) return t;
        a = until;
    }
}

/* The first fire instant after `after` among the wall times of day `day`
 * (a day number), at or after wall time wmin; 0 and *next, or -1. */
static int next_in_day(const sitq__cron *c, const sitq__tz *z, int64_t day, int64_t wmin,
                       int64_t after, int64_t *next) {
    for (int h = 0; h < 24; h++) {
        if (!(c->hours & (1u << h))) continue;
        for (int m = 0; m < 60; m++) {
            if (!(c->minutes & ((uint64_t)1 << m))) continue;
            int64_t w = day * SITQ__DAY_S + h * 3600 + m * 60;
            if (w < wmin) continue;
            int64_t t = first_instant_at_or_after(z, w);
            if (t > after) {
                *next = t;
                return 0;
            }
        }
    }
    return -1;
}

static sitq_code cron_next(const sitq__cron *c, const sitq__tz *z, int64_t after, int64_t *next,
                           sitq_error *err) {
    int32_t off;
    int64_t until;
    sitq__tz_lookup(z, after, &off, &until);
    /* The first whole minute of wall time after the wall time of `after`. */
    int64_t wmin = sitq__floor_div(after + off, 60) * 60 + 60;
    int64_t day0 = sitq__floor_div(wmin, SITQ__DAY_S);
    for (int64_t day = day0; day < day0 + SEARCH_DAYS; day++) {
        int64_t y;
        int m, d;
        sitq__civil_from_days(day, &y, &m, &d);
        if (!sitq__cron_day_matches(c, m, d, sitq__weekday(day))) continue;
        if (next_in_day(c, z, day, wmin, after, next) == 0) return SITQ_OK;
    }
    return sitq__fail(err, SITQ_EINVAL, "the cron expression does not fire within 10 years of %lld",
                      (long long)after);
}

static sitq_code interval_next(const sitq_cron *s, int64_t after, int64_t *next) {
    int64_t k = sitq__floor_div(after - s->anchor_s, s->every_s) + 1;
    *next = s->anchor_s + k * s->every_s;
    return SITQ_OK;
}

sitq_code sitq_cron_next(const sitq_cron *cron, const char *timezone, int64_t after_unix_s,
                         int64_t *next, sitq_error *err) {
    if (!cron || !next)
        return sitq__fail(err, SITQ_EINVAL, "sitq_cron_next: cron and next must not be NULL");
    if (after_unix_s < TIME_MIN || after_unix_s > TIME_MAX)
        return sitq__fail(err, SITQ_EINVAL,
                          "time %lld is outside the years 1..9999 (%lld..%lld Unix seconds)",
                          (long long)after_unix_s, TIME_MIN, TIME_MAX);
    sitq__tz *z = NULL;
    sitq_code rc = sitq__tz_load(timezone, &z, err);
    if (rc != SITQ_OK) return rc;
    int64_t t = 0;
    rc = cron->kind == KIND_CRON ? cron_next(&cron->cron, z, after_unix_s, &t, err)
                                 : interval_next(cron, after_unix_s, &t);
    sitq__tz_free(z);
    if (rc != SITQ_OK) return rc;
    if (t > TIME_MAX)
        return sitq__fail(err, SITQ_EINVAL, "the schedule's next fire time is after the year 9999");
    *next = t;
    return sitq__ok(err);
}

sitq_code sitq_timezone_offset(const char *timezone, int64_t at_unix_s, int32_t *offset_s,
                               sitq_error *err) {
    if (!offset_s) return sitq__fail(err, SITQ_EINVAL, "sitq_timezone_offset: offset_s is NULL");
    if (at_unix_s < TIME_MIN || at_unix_s > TIME_MAX)
        return sitq__fail(err, SITQ_EINVAL,
                          "time %lld is outside the years 1..9999 (%lld..%lld Unix seconds)",
                          (long long)at_unix_s, TIME_MIN, TIME_MAX);
    sitq__tz *z = NULL;
    sitq_code rc = sitq__tz_load(timezone, &z, err);
    if (rc != SITQ_OK) return rc;
    int64_t until;
    sitq__tz_lookup(z, at_unix_s, offset_s, &until);
    sitq__tz_free(z);
    return sitq__ok(err);
}
