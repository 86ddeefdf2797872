/* limits.c - the public calls that pause a queue and set its concurrency
 * and rate limits: argument checks, the rate syntax ("100/m"), and the
 * backend's limit_write and limit_list. What a claim does with the stored
 * limits is limit_claim.c's. */
#include "backend/backend.h"
#include "internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define RATE_COUNT_MAX       1000000000LL
#define CONCURRENCY_MAX      1000000000LL
#define RATE_INTERVAL_MAX_US (366LL * 86400 * 1000000)

/* Microseconds of a rate's unit letter, or 0 for another one. */
static int64_t unit_us(char u) {
    switch (u) {
    case 's': return 1000000LL;
    case 'm': return 60LL * 1000000;
    case 'h': return 3600LL * 1000000;
    case 'd': return 86400LL * 1000000;
    default: return 0;
    }
}

/* A decimal run of digits at *p (no sign): its value (saturated past max),
 * and *p moved past it; -1 when there is no digit. */
static long long digits(const char **p, long long max) {
    if (!isdigit((unsigned char)**p)) return -1;
    long long v = 0;
    for (; isdigit((unsigned char)**p); (*p)++) {
        v = v * 10 + (**p - '0');
        if (v > max) v = max + 1;
    }
    return v;
}

sitq_code sitq_rate_parse(const char *text, int64_t *count, int64_t *interval_us, sitq_error *err) {
    if (count) *count = 0;
    if (interval_us) *interval_us = 0;
    if (!text || !count || !interval_us)
        return sitq__fail(err, SITQ_EINVAL, "rate, count and interval_us must not be NULL");
    const char *p = text;
    long long n = digits(&p, RATE_COUNT_MAX);
    long long mult = 1;
    int64_t unit = 0;
    int ok = n >= 1 && n <= RATE_COUNT_MAX && *p == '/';
    if (ok) {
        p++;
        if (isdigit((unsigned char)*p)) mult = digits(&p, RATE_INTERVAL_MAX_US);
        unit = unit_us(*p);
        ok = mult >= 1 && unit > 0 && p[1] == '\0' && mult <= RATE_INTERVAL_MAX_US / unit &&
             mult * unit <= RATE_INTERVAL_MAX_US;
    }
    if (!ok)
        return sitq__fail(err, SITQ_EINVAL,
                          "bad rate '%.64s': expected COUNT/INTERVAL with COUNT 1..%lld and "
                          "INTERVAL a unit s, m, h or d with an optional multiplier, at most "
                          "366 days (for example 100/m, 10/s, 5/30s)",
                          text, RATE_COUNT_MAX);
    *count = n;
    *interval_us = mult * unit;
    return sitq__ok(err);
}

static sitq_code write_limit(sitq_queue *q, const sitq__limit_write *w, sitq_error *err) {
    sitq_backend *b = sitq_queue_backend(q);
    if (!b->ops->limit_write)
        return sitq__fail(err, SITQ_EINVAL, "the %s backend stores no limits", b->ops->name);
    return b->ops->limit_write(b, sitq_queue_name(q), w, err);
}

static sitq_code set_paused(sitq_queue *q, int paused, sitq_error *err) {
    if (!q) return sitq__fail(err, SITQ_EINVAL, "queue must not be NULL");
    sitq__limit_write w = {.set_paused = 1, .paused = paused};
    return write_limit(q, &w, err);
}

sitq_code sitq_queue_pause(sitq_queue *q, sitq_error *err) { return set_paused(q, 1, err); }

sitq_code sitq_queue_resume(sitq_queue *q, sitq_error *err) { return set_paused(q, 0, err); }

sitq_code sitq_queue_paused(sitq_queue *q, int *out_paused, sitq_error *err) {
    if (out_paused) *out_paused = 0;
    if (!q || !out_paused)
        return sitq__fail(err, SITQ_EINVAL, "queue and out_paused must not be NULL");
    sitq_limit *l = NULL;
    size_t n = 0;
    sitq_code rc = sitq_queue_limits(q, &l, &n, err);
    if (rc) return rc;
    *out_paused = n > 0 && l[0].function == NULL && l[0].paused;
    sitq_limits_free(l, n);
    return SITQ_OK;
}

sitq_code sitq_queue_set_limit(sitq_queue *q, const char *function, int64_t concurrency,
                               const char *rate, sitq_error *err) {
    if (!q) return sitq__fail(err, SITQ_EINVAL, "queue must not be NULL");
    if (function && sitq__name_check(function, "function name", err)) return SITQ_EINVAL;
    if (concurrency < 0 || concurrency > CONCURRENCY_MAX)
        return sitq__fail(err, SITQ_EINVAL,
                          "concurrency must be 1..%lld running tasks (0: no limit), got %lld",
                          CONCURRENCY_MAX, (long long)concurrency);
    sitq__limit_write w = {.function = function, .concurrency = concurrency};
    if (rate && *rate && sitq_rate_parse(rate, &w.rate_count, &w.rate_interval_us, err))
        return SITQ_EINVAL;
    return write_limit(q, &w, err);
}

sitq_code sitq_queue_remove_limit(sitq_queue *q, const char *function, sitq_error *err) {
    if (!q) return sitq__fail(err, SITQ_EINVAL, "queue must not be NULL");
    if (function && sitq__name_check(function, "function name", err)) return SITQ_EINVAL;
    sitq__limit_write w = {.function = function, .remove = 1};
    return write_limit(q, &w, err);
}

sitq_code sitq_queue_limits(sitq_queue *q, sitq_limit **out, size_t *out_count, sitq_error *err) {
    if (out) *out = NULL;
    if (out_count) *out_count = 0;
    if (!q || !out || !out_count)
        return sitq__fail(err, SITQ_EINVAL, "queue, out and out_count must not be NULL");
    sitq_backend *b = sitq_queue_backend(q);
    if (!b->ops->limit_list) return sitq__ok(err);
    return b->ops->limit_list(b, sitq_queue_name(q), out, out_count, err);
}

void sitq_limits_free(sitq_limit *limits, size_t count) {
    if (!limits) return;
    for (size_t i = 0; i < count; i++) free(limits[i].function);
    free(limits);
}
