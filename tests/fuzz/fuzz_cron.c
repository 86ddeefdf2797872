/*
 * fuzz_cron.c - libFuzzer target: cron expressions, time zone names and
 * POSIX TZ rules (the footer of a TZif file).
 *
 * An input that starts with "TZif" is parsed as a TZif file, and its
 * offsets looked up at a few instants. Any other is split at its first two
 * newlines: EXPR \n ZONE \n RULE. Checks: a refused expression or zone gets SITQ_EINVAL and a message of
 * printable ASCII only; for an accepted expression, the fire time after T
 * is later than T, is also the fire time after any instant in between, and
 * never decreases as T grows; an accepted rule yields one of its two
 * offsets, in effect until a later instant; an accepted TZif file gives
 * offsets within RFC 8536's limits, each in effect until a later instant.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sitq.h"
#include "core/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(sitq_code rc, const sitq_error *err) {
    if (rc != SITQ_EINVAL || err->code != SITQ_EINVAL || err->message[0] == '\0') abort();
    for (const char *p = err->message; *p; p++)
        if (*p < 0x20 || *p > 0x7e) abort();
}

/* Fire times from a few instants, in the zone (NULL: UTC). */
static void check_fires(const sitq_cron *c, const char *zone) {
    static const int64_t starts[] = {-2208988800LL, 0,          951782400,
                                     1711846799,    1729990800, 4102444800LL};
    int64_t prev_next = INT64_MIN;
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        sitq_error err;
        int64_t next = 0, again = 0;
        sitq_code rc = sitq_cron_next(c, zone, starts[i], &next, &err);
        if (rc != SITQ_OK) {
            check_message(rc, &err);
            return; /* an unknown zone: the same for every start */
        }
        if (next <= starts[i] || next < prev_next) abort();
        prev_next = next;
        /* The next fire time after any instant in (start, next) is next. */
        int64_t mid = starts[i] + (next - starts[i]) / 2;
        if (sitq_cron_next(c, zone, mid, &again, &err) != SITQ_OK || again != next) abort();
        if (sitq_cron_next(c, zone, next - 1, &again, &err) != SITQ_OK || again != next) abort();
    }
}

static void check_rule(const char *text) {
    sitq__tz_rule r;
    if (sitq__tz_rule_parse(text, &r) != 0) return;
    static const int64_t at[] = {-62135596800LL, 0, 1711846800, 253402300799LL};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        int32_t off = 0;
        int64_t until = 0;
        sitq__tz_rule_lookup(&r, at[i], &off, &until);
        if (until <= at[i] || (off != r.std_off && !(r.has_dst && off == r.dst_off))) abort();
    }
}

static void check_tzif(const uint8_t *data, size_t size) {
    sitq__tz *z = NULL;
    if (sitq__tz_parse(data, size, &z) != 0) {
        if (z) abort();
        return;
    }
    static const int64_t at[] = {-62135596800LL, -1, 0, 1711846800, 253402300799LL};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        int32_t off = 0;
        int64_t until = 0;
        sitq__tz_lookup(z, at[i], &off, &until);
        if (until <= at[i] || off < -89999 * 2 || off > 93599 * 2) abort();
    }
    sitq__tz_free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size >= 4 && memcmp(data, "TZif", 4) == 0) {
        check_tzif(data, size);
        return 0;
    }
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *zone = strchr(buf, '\n'), *rule = NULL;
    if (zone) {
        *zone++ = '\0';
        rule = strchr(zone, '\n');
        if (rule) *rule++ = '\0';
    }
    sitq_error err;
    sitq_cron *c = NULL;
    sitq_code rc = sitq_cron_parse(buf, &c, &err);
    if (rc == SITQ_OK) {
        check_fires(c, NULL);
        if (zone) check_fires(c, zone);
        sitq_cron_free(c);
    } else {
        check_message(rc, &err);
        if (c) abort();
    }
    if (zone) {
        int32_t off = 0;
        rc = sitq_timezone_offset(zone, 0, &off, &err);
        if (rc != SITQ_OK) check_message(rc, &err);
        else if (off < -89999 || off > 93599) abort();
    }
    if (rule) check_rule(rule);
    free(buf);
    return 0;
}
