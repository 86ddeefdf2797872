/*
 * dash_pace.c - the dashboard's request pacing (--max-rate): at most R
 * requests a second on average, R at once after a quiet second.
 *
 * Why: the dashboard shares the machine and the database with the workers.
 * A flood of requests (a script polling in a loop, a load test, many open
 * tabs) would otherwise take CPU and database reads from the queue. A
 * request over the rate is not refused at once (a refusal is answered at
 * full speed, so the flood goes on at full speed): its thread sleeps until
 * its slot, reading nothing, so that a client waiting on its answers slows
 * to the rate. A request whose slot is more than DASH_PACE_WAIT_MAX_US away
 * is refused with 503 and Retry-After instead of queued.
 *
 * The schedule is the generic cell rate algorithm: one "theoretical arrival
 * time" (tat) advanced by one interval per admitted request; a request may
 * run as early as tat minus the burst allowance. One mutex guards tat; the
 * sleep happens outside it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "dash.h"

struct dash_pace {
    pthread_mutex_t mu;
    int64_t tat_us;      /* guarded by mu */
    int64_t interval_us; /* 1e6 / rate */
    int64_t burst_us;    /* (burst - 1) intervals: how far ahead of tat a request may run */
};

int64_t dash_pace_slot(int64_t *tat_us, int64_t now_us, int64_t interval_us, int64_t burst_us,
                       int64_t wait_max_us) {
    int64_t start = *tat_us > now_us ? *tat_us : now_us;
    int64_t wait = start - burst_us - now_us;
    if (wait < 0) wait = 0;
    if (wait > wait_max_us) return -1;
    *tat_us = start + interval_us;
    return wait;
}

static int64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

dash_pace *dash_pace_new(double rate) {
    if (!(rate > 0)) return NULL;
    dash_pace *p = calloc(1, sizeof *p);
    if (p == NULL) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    p->interval_us = (int64_t)(1e6 / rate);
    if (p->interval_us < 1) p->interval_us = 1;
    /* A burst of a second's worth, at least one request. */
    int64_t burst = (int64_t)rate;
    p->burst_us = (burst > 1 ? burst - 1 : 0) * p->interval_us;
    return p;
}

void dash_pace_free(dash_pace *p) {
    if (p == NULL) return;
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int dash_pace_take(dash_pace *p) {
    if (p == NULL) return 0;
    pthread_mutex_lock(&p->mu);
    int64_t wait =
        dash_pace_slot(&p->tat_us, mono_us(), p->interval_us, p->burst_us, DASH_PACE_WAIT_MAX_US);
    pthread_mutex_unlock(&p->mu);
    if (wait < 0) return -1;
    struct timespec ts = {(time_t)(wait / 1000000), (long)(wait % 1000000) * 1000};
    while (wait > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    return 0;
}
