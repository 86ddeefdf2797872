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

int sitq__name_ok(const char *s) {
    if (!s) return 0;
    size_t n = strnlen(s, SITQ_NAME_MAX + 1);
    return n >= 1 && n <= SITQ_NAME_MAX;
}
