/*
 * stopwait.c - a worker stop that Ctrl-C can interrupt, without side effects.
 *
 * sitq_worker_stop(timeout) sets the running tasks' cancel flags when its
 * timeout passes, so it cannot be called in short slices to look at signals
 * between them: every task would see `cancelled` (and a process-mode task
 * be killed) a slice into a graceful stop. The stop therefore runs on a
 * thread of its own with the caller's real timeout, while the caller waits
 * for it in slices, with the GIL released, and runs the signal handlers
 * between them. On a signal the caller abandons the running tasks
 * (sitq_worker_shutdown, which ends the pending stop) and joins the thread.
 */
#include "sitqpy.h"

#include <pthread.h>
#include <time.h>

#define SLICE_NS 100000000L /* how often signals are looked at: 0.1 s */

typedef struct {
    sitq_worker *w;
    double timeout;
    sitq_code rc;
    sitq_error err;
    int done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} stop_job;

static void *stop_main(void *arg) {
    stop_job *j = arg;
    sitq_error err = {0};
    sitq_code rc = sitq_worker_stop(j->w, j->timeout, &err);
    pthread_mutex_lock(&j->mu);
    j->rc = rc;
    j->err = err;
    j->done = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* Wait up to one slice for the job; whether it is done. GIL released. */
static int wait_slice(stop_job *j) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += SLICE_NS;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&j->mu);
    while (!j->done && pthread_cond_timedwait(&j->cv, &j->mu, &ts) == 0) {
    }
    int done = j->done;
    pthread_mutex_unlock(&j->mu);
    return done;
}

static int job_init(stop_job *j, sitq_worker *w, double timeout) {
    *j = (stop_job){.w = w, .timeout = timeout};
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) return -1;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) return -1;
    if (pthread_mutex_init(&j->mu, NULL) != 0) {
        pthread_cond_destroy(&j->cv);
        return -1;
    }
    return 0;
}

sitq_code sitqpy_stop_interruptible(sitq_worker *w, double timeout, sitq_error *err,
                                    int *interrupted) {
    *interrupted = 0;
    stop_job j;
    pthread_t th;
    if (job_init(&j, w, timeout) != 0) {
        snprintf(err->message, sizeof err->message, "cannot start the worker's stop");
        return SITQ_ESYSTEM;
    }
    if (pthread_create(&th, NULL, stop_main, &j) != 0) {
        pthread_cond_destroy(&j.cv);
        pthread_mutex_destroy(&j.mu);
        snprintf(err->message, sizeof err->message, "cannot start the worker's stop thread");
        return SITQ_ESYSTEM;
    }
    for (;;) {
        int done;
        Py_BEGIN_ALLOW_THREADS done = wait_slice(&j);
        Py_END_ALLOW_THREADS if (done) break;
        if (PyErr_CheckSignals() < 0) {
            *interrupted = 1;
            Py_BEGIN_ALLOW_THREADS sitq_worker_shutdown(w, 0, NULL);
            Py_END_ALLOW_THREADS break;
        }
    }
    Py_BEGIN_ALLOW_THREADS pthread_join(th, NULL);
    Py_END_ALLOW_THREADS pthread_cond_destroy(&j.cv);
    pthread_mutex_destroy(&j.mu);
    if (*interrupted) return SITQ_OK;
    *err = j.err;
    return j.rc;
}
