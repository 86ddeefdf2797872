/* burst.c - waiting for a worker to end by itself. In burst mode the
 * dispatcher decides, in the transaction of a claim that found nothing,
 * whether the worker's queues still hold work for it (sitq__cycle's
 * live_horizon_us); when they do not, it stops as sitq_worker_stop would
 * (worker.c, burst_settle). Here the caller waits for that end. */
#include "worker_internal.h"

#include <math.h>
#include <time.h>

sitq_code sitq_worker_wait(sitq_worker *w, double timeout_s, sitq_error *err) {
    if (!w) return sitq__fail(err, SITQ_EINVAL, "worker must not be NULL");
    if (isnan(timeout_s)) return sitq__fail(err, SITQ_EINVAL, "timeout_s must not be NaN");
    int64_t deadline = timeout_s < 0 ? INT64_MAX : sitq__mono_us() + sitq__seconds_to_us(timeout_s);
    pthread_mutex_lock(&w->mu);
    while (w->started && !w->dispatcher_done) {
        if (deadline == INT64_MAX) {
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        if (sitq__mono_us() >= deadline) break;
        struct timespec ts = {(time_t)(deadline / 1000000), (long)(deadline % 1000000) * 1000};
        pthread_cond_timedwait(&w->cv, &w->mu, &ts); /* w->cv is on the monotonic clock */
    }
    int ended = !w->started || w->dispatcher_done;
    pthread_mutex_unlock(&w->mu);
    if (!ended)
        return sitq__fail(err, SITQ_ETIMEDOUT, "worker %s still running after %g s", w->id,
                          timeout_s);
    return sitq__ok(err);
}

int sitq_worker_drained(const sitq_worker *w) {
    if (!w) return 0;
    pthread_mutex_lock((pthread_mutex_t *)&w->mu);
    int d = w->drained;
    pthread_mutex_unlock((pthread_mutex_t *)&w->mu);
    return d;
}
