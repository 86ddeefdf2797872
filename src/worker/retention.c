/* retention.c - the worker's purge of expired finished tasks, from a thread
 * of its own so that the dispatcher's cycles never wait for it.
 *
 * The thread walks the store's tasks window by window (sitq__expire_window;
 * each window its own short transaction, and none when a window finds
 * nothing expired), pausing after each at least as long as it took (ten
 * times as long after a window that only read), and starts a new walk at
 * most every retention_interval_s, the first one min(interval, 5 s) after
 * the start. A failed window
 * (the store busy or unreachable) is retried after a pause; retention never
 * stops the worker. Stopping the worker wakes and joins the thread: at most
 * one window is finished first, and a window that waits for a lock another
 * process keeps gives up SITQ__ABORT_GRACE_US into its wait (the thread's
 * abort flag): it writes nothing a later walk cannot do. */
#include "worker_internal.h"

#include <stdlib.h>
#include <time.h>

/* Tasks looked at per window: small enough that a window's transaction is a
 * few milliseconds, so that no claim waits long for the write lock. */
#define JANITOR_ROWS 500

struct sitq__janitor {
    sitq_backend *b;
    int64_t interval_us;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* monotonic clock */
    int stop;          /* under mu */
    atomic_int abort;  /* set with stop: the thread's abort flag */
};

/* Wait until deadline (monotonic us) or a stop; returns 1 when stopping. */
static int janitor_wait(struct sitq__janitor *j, int64_t deadline_us) {
    struct timespec ts = {(time_t)(deadline_us / 1000000), (long)(deadline_us % 1000000) * 1000};
    pthread_mutex_lock(&j->mu);
    while (!j->stop && sitq__mono_us() < deadline_us)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &ts) != 0 && sitq__mono_us() >= deadline_us)
            break;
    int stop = j->stop;
    pthread_mutex_unlock(&j->mu);
    return stop;
}

static void *janitor_main(void *arg) {
    struct sitq__janitor *j = arg;
    (void)sitq__set_call_abort(&j->abort);
    sitq_task_id cursor = 0;
    /* The first walk waits a little (at most 5 s): a worker's first seconds
     * are often a burst of claims, and walks are for tasks days old. */
    int64_t first = j->interval_us < 5000000 ? j->interval_us : 5000000;
    int64_t walk_start = sitq__mono_us() + first;
    if (janitor_wait(j, walk_start)) return NULL;
    for (;;) {
        int64_t t0 = sitq__mono_us(), purged = 0;
        sitq_code rc = sitq__expire_window(j->b, 0, &cursor, JANITOR_ROWS, &purged, NULL);
        int64_t t1 = sitq__mono_us();
        int64_t next = t1 + sitq__expire_pause_us(t1 - t0, purged > 0);
        if (rc) next = t1 + (j->interval_us < 5000000 ? j->interval_us : 5000000);
        else if (cursor == 0) { /* the walk is over: the next one starts an interval later */
            walk_start += j->interval_us;
            if (walk_start < t1) walk_start = t1;
            next = walk_start;
        }
        if (janitor_wait(j, next)) break;
    }
    return NULL;
}

int sitq__janitor_start(sitq_worker *w) {
    if (!w->opts.retention) return 0;
    struct sitq__janitor *j = calloc(1, sizeof *j);
    if (!j) return -1;
    j->b = w->b;
    j->interval_us = sitq__seconds_to_us(w->opts.retention_interval_s);
    pthread_condattr_t ca;
    int ok = pthread_condattr_init(&ca) == 0;
    if (ok) {
        ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
             pthread_cond_init(&j->cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (ok && pthread_mutex_init(&j->mu, NULL) != 0) {
        pthread_cond_destroy(&j->cv);
        ok = 0;
    }
    if (ok && pthread_create(&j->thread, NULL, janitor_main, j) != 0) {
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
        ok = 0;
    }
    if (!ok) {
        free(j);
        return -1;
    }
    w->janitor = j;
    return 0;
}

void sitq__janitor_stop(sitq_worker *w) {
    struct sitq__janitor *j = w->janitor;
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    j->stop = 1;
    atomic_store(&j->abort, 1);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->thread, NULL);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
    w->janitor = NULL;
}
