/* completion_hook.c - the optional per-worker function told, after each
 * commit, whether every attempt outcome was applied or dropped (lease lost).
 * A handler returns before its outcome is committed, so only the dispatcher
 * knows; logs that say "succeeded" for a dropped outcome would mislead. */
#include "worker_internal.h"

sitq_code sitq_worker_on_completion(sitq_worker *w, sitq_completion_fn fn, void *user_data,
                                    sitq_error *err) {
    if (!w) return sitq__fail(err, SITQ_EINVAL, "worker must not be NULL");
    pthread_mutex_lock(&w->mu);
    int started = w->started;
    if (!started) {
        w->on_completion = fn;
        w->on_completion_data = user_data;
    }
    pthread_mutex_unlock(&w->mu);
    if (started)
        return sitq__fail(err, SITQ_ESTATE, "set the completion function before sitq_worker_start");
    return sitq__ok(err);
}

void sitq__worker_report_completions(sitq_worker *w, const sitq__completion *comps, size_t n) {
    /* Set only before start, and start publishes it to the dispatcher. */
    if (!w->on_completion) return;
    for (size_t i = 0; i < n; i++) {
        /* A success the backend could not store was recorded as a failure. */
        int ok = comps[i].ok && !comps[i].stored_as_failure;
        sitq_completion_info info = {
            .id = comps[i].id,
            .succeeded = ok ? 1 : 0,
            .applied = comps[i].applied ? 1 : 0,
            .error = ok            ? NULL
                     : comps[i].ok ? comps[i].stored_error
                                   : comps[i].error,
            /* The store records a failed attempt of a task whose cancel was
             * asked as cancelled, not failed. */
            .cancelled = !ok && comps[i].cancel_seen ? 1 : 0,
            .retried = comps[i].outcome == SITQ__TOTAL_RETRIED ? 1 : 0,
            .resent = comps[i].resent ? 1 : 0,
        };
        w->on_completion(&info, w->on_completion_data);
    }
}
