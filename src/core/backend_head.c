/* backend_head.c - what all backends share: the interface version check,
 * the store's blob limit, and in-process event notification. Every wait of
 * the core (sitq_wait, the worker's idle dispatcher) goes through
 * sitq__backend_wait, which uses the backend's wait_change when the head
 * says it notifies (events of other processes and hosts wake it) and the head's condition
 * variable otherwise (the callers poll for other processes). */
#include "backend/backend.h"
#include "internal.h"

#include <stdlib.h>
#include <time.h>

int sitq__backend_head_init(sitq_backend *b, const sitq__backend_ops *ops) {
    if (!ops || ops->version != SITQ__BACKEND_VERSION) return -1;
    b->ops = ops;
    b->blob_max = ops->blob_max;
    b->notifies = ops->wait_change != NULL;
    b->finished_gen = 0;
    b->enqueued_gen = 0;
    b->wake_gen = 0;
    if (pthread_mutex_init(&b->notify_mu, NULL) != 0) return -1;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&b->notify_cv, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) {
        pthread_mutex_destroy(&b->notify_mu);
        return -1;
    }
    return 0;
}

void sitq__backend_head_destroy(sitq_backend *b) {
    pthread_cond_destroy(&b->notify_cv);
    pthread_mutex_destroy(&b->notify_mu);
}

void sitq__backend_notify(sitq_backend *b, int finished, int enqueued) {
    pthread_mutex_lock(&b->notify_mu);
    if (finished) b->finished_gen++;
    if (enqueued) b->enqueued_gen++;
    b->wake_gen++;
    pthread_cond_broadcast(&b->notify_cv);
    pthread_mutex_unlock(&b->notify_mu);
}

void sitq__backend_wake(sitq_backend *b) {
    pthread_mutex_lock(&b->notify_mu);
    b->wake_gen++;
    pthread_cond_broadcast(&b->notify_cv);
    pthread_mutex_unlock(&b->notify_mu);
}

sitq__gens sitq__backend_gens(sitq_backend *b) {
    pthread_mutex_lock(&b->notify_mu);
    sitq__gens g = {b->finished_gen, b->enqueued_gen, b->wake_gen};
    pthread_mutex_unlock(&b->notify_mu);
    return g;
}

/* Whether an event of `events` happened since *seen (notify_mu held). */
static int moved(const sitq_backend *b, unsigned events, const sitq__gens *seen) {
    return ((events & SITQ__EV_FINISHED) && b->finished_gen != seen->finished) ||
           ((events & SITQ__EV_READY) && b->enqueued_gen != seen->enqueued);
}

int sitq__backend_wait(sitq_backend *b, const char *queue, unsigned events, const sitq__gens *seen,
                       int64_t deadline_mono_us, sitq__wait_stop_fn stop, void *arg) {
    if (b->notifies) {
        pthread_mutex_lock(&b->notify_mu);
        int done = moved(b, events, seen) || (stop && stop(arg));
        pthread_mutex_unlock(&b->notify_mu);
        if (done) return 1;
        int rc = b->ops->wait_change(b, queue, events, seen, deadline_mono_us);
        if (rc >= 0) return rc;
        /* The backend cannot wait now: fall back to this process's events. */
    }
    struct timespec ts = {(time_t)(deadline_mono_us / 1000000),
                          (long)(deadline_mono_us % 1000000) * 1000};
    pthread_mutex_lock(&b->notify_mu);
    int woke;
    while (!(woke = moved(b, events, seen) || (stop && stop(arg))) &&
           sitq__mono_us() < deadline_mono_us)
        pthread_cond_timedwait(&b->notify_cv, &b->notify_mu, &ts);
    pthread_mutex_unlock(&b->notify_mu);
    return woke;
}

size_t sitq_backend_blob_max(const sitq_backend *backend) {
    return backend ? backend->blob_max : 0;
}

void sitq_backend_close(sitq_backend *backend) {
    if (backend) backend->ops->close(backend);
}

static void health_unknown(sitq_store_health *h) {
    h->store_bytes = h->wal_bytes = h->live_tuples = h->dead_tuples = -1;
    h->wal_bytes_per_task = h->oldest_xact_age_s = -1;
}

sitq_code sitq_backend_health(sitq_backend *backend, sitq_store_health *out, sitq_error *err) {
    if (out) health_unknown(out);
    if (!backend || !out)
        return sitq__fail(err, SITQ_EINVAL, "sitq_backend_health: backend and out are required");
    sitq_code rc = backend->ops->health(backend, out, err);
    if (rc) health_unknown(out);
    return rc ? rc : sitq__ok(err);
}

int sitq__backend_notifies(const sitq_backend *b) { return b && b->notifies; }
