/* backend_head.c - what all backends share: in-process event notification. */
#include "backend/backend.h"
#include "internal.h"

#include <stdlib.h>
#include <time.h>

int sitq__backend_head_init(sitq_backend *b, const sitq__backend_ops *ops) {
    b->ops = ops;
    b->finished_gen = 0;
    b->enqueued_gen = 0;
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
    pthread_cond_broadcast(&b->notify_cv);
    pthread_mutex_unlock(&b->notify_mu);
}

void sitq__backend_wait_until(sitq_backend *b, int64_t deadline_mono_us) {
    struct timespec ts = {(time_t)(deadline_mono_us / 1000000),
                          (long)(deadline_mono_us % 1000000) * 1000};
    pthread_cond_timedwait(&b->notify_cv, &b->notify_mu, &ts);
}

void sitq_backend_close(sitq_backend *backend) {
    if (backend) backend->ops->close(backend);
}
