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
    if (sitq__worker_refuse_own_thread(w, "sitq_worker_wait", err)) return SITQ_ESTATE;
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

sitq_code sitq_worker_set_burst(sitq_worker *w, int burst, double eta_bound_s, sitq_error *err) {
    if (!w) return sitq__fail(err, SITQ_EINVAL, "worker must not be NULL");
    if (burst != 0 && burst != 1)
        return sitq__fail(err, SITQ_EINVAL, "burst must be 0 or 1, got %d", burst);
    if (isnan(eta_bound_s) || eta_bound_s > SITQ_SECONDS_MAX)
        return sitq__fail(err, SITQ_EINVAL, "eta_bound_s must be 0..%.0f seconds, got %g",
                          SITQ_SECONDS_MAX, eta_bound_s);
    pthread_mutex_lock(&w->mu);
    int started = w->started;
    if (!started) {
        w->opts.burst = burst;
        if (eta_bound_s >= 0) w->opts.burst_eta_bound_s = eta_bound_s;
    }
    pthread_mutex_unlock(&w->mu);
    if (started)
        return sitq__fail(err, SITQ_ESTATE,
                          "worker %s is started: set burst mode before sitq_worker_start", w->id);
    return sitq__ok(err);
}

int sitq_worker_drained(const sitq_worker *w) {
    if (!w) return 0;
    pthread_mutex_lock((pthread_mutex_t *)&w->mu);
    int d = w->drained;
    pthread_mutex_unlock((pthread_mutex_t *)&w->mu);
    return d;
}
