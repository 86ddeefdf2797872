/* util.c - clocks, random numbers, small string helpers. */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

sitq_time_us sitq_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (sitq_time_us)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sitq__mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sitq__seconds_to_us(double s) {
    if (isnan(s)) return 0;
    double us = s * 1e6;
    if (us >= 9.2e18) return INT64_MAX / 2; /* far future, still safe to add to */
    if (us <= -9.2e18) return -(INT64_MAX / 2);
    return (int64_t)us;
}

void sitq__sleep_us(int64_t us) {
    if (us <= 0) return;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

/* splitmix64 per thread, seeded from getrandom: no lock on the hot path. */
static _Thread_local uint64_t rand_state;
static _Thread_local int rand_seeded;

uint64_t sitq__rand64(void) {
    if (!rand_seeded) {
        if (getrandom(&rand_state, sizeof rand_state, 0) != sizeof rand_state)
            rand_state = (uint64_t)sitq__mono_us() ^ ((uint64_t)getpid() << 32) ^
                         (uint64_t)(uintptr_t)&rand_state;
        rand_seeded = 1;
    }
    uint64_t z = (rand_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double sitq__rand_unit(void) { return (double)(sitq__rand64() >> 11) * 0x1.0p-53; }

char *sitq__strdup(const char *s) { return s ? strdup(s) : NULL; }

/* 1 when s has a name's length: non-NULL, 1..SITQ_NAME_MAX bytes. */
static int name_length_ok(const char *s) {
    if (!s) return 0;
    size_t n = strnlen(s, SITQ_NAME_MAX + 1);
    return n >= 1 && n <= SITQ_NAME_MAX;
}

/* Bytes of the UTF-8 sequence that starts at p[0..left) (1..4), or 0 when
 * it is not well formed. */
static size_t utf8_seq(const unsigned char *p, size_t left) {
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4
                                          : 0;
    if (len == 0 || left < len) return 0;
    /* The second byte's range excludes overlong forms, surrogates and
     * code points above U+10FFFF. */
    unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    return len;
}

size_t sitq__utf8_valid_prefix(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t len = utf8_seq(p + i, n - i);
        if (len == 0) break;
        i += len;
    }
    return i;
}

sitq_code sitq__name_check(const char *s, const char *what, sitq_error *err) {
    if (!name_length_ok(s))
        return sitq__fail(err, SITQ_EINVAL, "%s must be 1..%d bytes", what, SITQ_NAME_MAX);
    size_t n = strlen(s);
    size_t ok = sitq__utf8_valid_prefix(s, n);
    if (ok < n)
        return sitq__fail(err, SITQ_EINVAL,
                          "%s is not valid UTF-8 (byte 0x%02x at offset %zu): names are "
                          "stored as text",
                          what, (unsigned)(unsigned char)s[ok], ok);
    return SITQ_OK;
}
