/* watch.c - completion watches: one thread per watch turns the backend's
 * "a task of this queue finished" events (sitq__backend_wait on
 * SITQ__EV_FINISHED) into a readable eventfd, so that an event loop can wait
 * for any number of tasks through one fd and one thread. The fd carries no
 * ids: the loop asks which of its ids finished (sitq_finished_among, one
 * list query per run of nearby ids) after each wake-up, so that many
 * completions coalesce into one read. Other processes' completions are seen
 * through the backend's wait_change where it notifies, else by poll ticks
 * that signal the fd on sitq_wait's cadence; an inactive watch neither waits
 * on the backend nor signals. */
#include "backend/backend.h"
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct sitq_watch {
    sitq_queue *queue;
    sitq_backend *backend;
    int fd;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled on activation and on close */
    int active;        /* under mu */
    atomic_int stop;
};

/* sitq__backend_wait's stop condition (called under notify_mu). */
static int watch_stopping(void *arg) {
    sitq_watch *w = arg;
    return atomic_load(&w->stop);
}

static void watch_signal(sitq_watch *w) {
    uint64_t one = 1;
    /* EAGAIN only when the counter is about to overflow: it is readable. */
    ssize_t n = write(w->fd, &one, sizeof one);
    (void)n;
}

/* Sleep until active or stopping; 1 when stopping. */
static int watch_idle(sitq_watch *w) {
    pthread_mutex_lock(&w->mu);
    while (!atomic_load(&w->stop) && !w->active) pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    return atomic_load(&w->stop);
}

static void *watch_main(void *arg) {
    sitq_watch *w = arg;
    sitq_backend *b = w->backend;
    const char *name = sitq_queue_name(w->queue);
    /* sitq_wait's cadence: other processes' completions are polled for. */
    int64_t base_us = b->notifies ? 50000 : 1000;
    int64_t max_us = b->notifies ? 250000 : 25000;
    int64_t poll_us = base_us;
    for (;;) {
        int was_active;
        pthread_mutex_lock(&w->mu);
        was_active = w->active;
        pthread_mutex_unlock(&w->mu);
        if (!was_active) {
            poll_us = base_us; /* a new round of waiters starts polling soon */
            if (watch_idle(w)) break;
        }
        sitq__gens seen = sitq__backend_gens(b);
        int woke = sitq__backend_wait(b, name, SITQ__EV_FINISHED, &seen, sitq__mono_us() + poll_us,
                                      watch_stopping, w);
        if (atomic_load(&w->stop)) break;
        sitq__gens now = sitq__backend_gens(b);
        /* A wake-up of this process without a finish (a worker's dispatcher
         * being woken) is not worth a look, unless the backend notifies:
         * then it may be another process's finish. */
        if (!woke || now.finished != seen.finished || b->notifies) watch_signal(w);
        if (!woke && poll_us < max_us) poll_us = poll_us * 3 / 2 + 1;
    }
    return NULL;
}

sitq_code sitq_watch_open(sitq_queue *queue, sitq_watch **out, sitq_error *err) {
    if (!out) return sitq__fail(err, SITQ_EINVAL, "sitq_watch_open: out must not be NULL");
    *out = NULL;
    if (!queue) return sitq__fail(err, SITQ_EINVAL, "sitq_watch_open: queue must not be NULL");
    sitq_watch *w = calloc(1, sizeof *w);
    if (!w) return sitq__fail(err, SITQ_ENOMEM, "out of memory opening a watch");
    w->queue = queue;
    w->backend = sitq_queue_backend(queue);
    atomic_init(&w->stop, 0);
    w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->fd < 0) {
        int e = errno;
        free(w);
        return sitq__fail(err, SITQ_ESYSTEM, "eventfd failed: %s", strerror(e));
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    int rc = pthread_create(&w->thread, NULL, watch_main, w);
    if (rc != 0) {
        close(w->fd);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return sitq__fail(err, SITQ_ESYSTEM, "cannot start the watch thread: %s", strerror(rc));
    }
    *out = w;
    return sitq__ok(err);
}

int sitq_watch_fd(const sitq_watch *w) { return w ? w->fd : -1; }

uint64_t sitq_watch_consume(sitq_watch *w) {
    if (!w) return 0;
    uint64_t v = 0;
    if (read(w->fd, &v, sizeof v) != (ssize_t)sizeof v) return 0; /* EAGAIN: none */
    return v;
}

void sitq_watch_set_active(sitq_watch *w, int active) {
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->active = active != 0;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void sitq_watch_close(sitq_watch *w) {
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->stop, 1);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    sitq__backend_wake(w->backend); /* ends a wait on the backend */
    pthread_join(w->thread, NULL);
    close(w->fd);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
