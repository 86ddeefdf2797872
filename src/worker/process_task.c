/* process_task.c - run one given task in the caller's thread (the user's
 * document calls this right after enqueue). While it runs, a small
 * supervisor thread renews its lease and enforces its timeout, exactly as
 * the dispatcher does for the worker's own threads. */
#include "worker_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct supervisor {
    sitq_task_ctx *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} supervisor;

static void *supervise(void *arg) {
    supervisor *s = arg;
    sitq_task_ctx *c = s->ctx;
    sitq_worker *w = c->w;
    int64_t next_hb = sitq__mono_us() + w->heartbeat_us;
    int64_t record_at = c->deadline_mono_us ? c->deadline_mono_us + sitq__ctx_grace_us(c) : 0;
    pthread_mutex_lock(&s->mu);
    while (!s->done) {
        int64_t until = next_hb;
        int timing = record_at && !atomic_load(&c->abandoned);
        int64_t at = !timing                   ? INT64_MAX
                     : atomic_load(&c->cancel) ? record_at
                                               : c->deadline_mono_us;
        if (at < until) until = at;
        struct timespec ts = {(time_t)(until / 1000000), (long)(until % 1000000) * 1000};
        while (!s->done && sitq__mono_us() < until) pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        if (s->done) break;
        int64_t now = sitq__mono_us();
        pthread_mutex_unlock(&s->mu);
        if (timing && now >= c->deadline_mono_us) atomic_store(&c->cancel, 1);
        if (timing && now >= record_at) {
            /* Not returned within the grace: record the timeout now; the
             * handler's late outcome is dropped. */
            char msg[128];
            sitq__ctx_timeout_message(c, msg, sizeof msg);
            sitq__completion k;
            sitq__ctx_fail_completion(c, msg, &k);
            sitq__cycle cy;
            memset(&cy, 0, sizeof cy);
            cy.queues = w->qnames;
            cy.n_queues = w->n_queues;
            cy.completions = &k;
            cy.n_completions = 1;
            cy.lease_us = w->lease_us;
            if (w->b->ops->cycle(w->b, &cy, NULL) == SITQ_OK) {
                atomic_store(&c->abandoned, 1);
                sitq__backend_notify(w->b, 1, 1);
            } else {
                record_at = now + 100000; /* storage trouble: try again soon */
            }
            sitq__completion_clear(&k);
        } else if (now >= next_hb) {
            sitq_ctx_heartbeat(c, -1, NULL);
            next_hb = now + w->heartbeat_us;
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* The handler of task id, from the task's function, and the index of the
 * worker's queue that holds it (*qi; the queues are looked at in order).
 * NULL with the error set (SITQ_ENOHANDLER leaves the task's snapshot in
 * *out, when out is not NULL). */
static const handler *find_handler(sitq_worker *w, sitq_task_id id, size_t *qi, sitq_result **out,
                                   sitq_code *rc, sitq_error *err) {
    sitq_backend *b = w->b;
    sitq_result *snap = NULL;
    *rc = SITQ_ENOTFOUND;
    for (*qi = 0; *qi < w->n_queues; (*qi)++) {
        *rc = b->ops->get(b, w->qnames[*qi], id, &snap, err);
        if (*rc != SITQ_ENOTFOUND) break;
    }
    if (*rc) return NULL;
    const handler *h = sitq__registry_find(w, snap->function);
    if (!h) {
        *rc = sitq__fail(err, SITQ_ENOHANDLER,
                         "worker %s has no handler for function '%s' of task %lld", w->id,
                         snap->function, (long long)id);
        if (out) *out = snap;
        else sitq_result_free(snap);
        return NULL;
    }
    sitq_result_free(snap);
    return h;
}

/* Run the task on this thread while a supervisor thread renews its lease
 * (and flags its timeout); the outcome goes to *k. */
static void run_supervised(sitq_task_ctx *c, sitq__completion *k) {
    supervisor s = {.ctx = c, .done = 0};
    pthread_mutex_init(&s.mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s.cv, &attr);
    pthread_condattr_destroy(&attr);
    pthread_t sup;
    int have_sup = pthread_create(&sup, NULL, supervise, &s) == 0;

    /* The handler runs on this thread: a stop or free of its worker from
     * it is refused, as from a handler thread. */
    const sitq_worker *prev = sitq__worker_serving(c->w);
    sitq__ctx_run(c, k);
    sitq__worker_serving(prev);
    sitq__ctx_apply_timeout(c, k);

    if (have_sup) {
        pthread_mutex_lock(&s.mu);
        s.done = 1;
        pthread_cond_signal(&s.cv);
        pthread_mutex_unlock(&s.mu);
        pthread_join(sup, NULL);
    }
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
}

/* Commit the outcome k of the task c (unless it was abandoned), counting a
 * completion that lost its lease. SITQ_OK or the backend's error. */
static sitq_code record_completion(sitq_worker *w, sitq_task_ctx *c, sitq__completion *k,
                                   sitq_error *err) {
    if (atomic_load(&c->abandoned)) return SITQ_OK;
    sitq_backend *b = w->b;
    sitq__cycle cy;
    memset(&cy, 0, sizeof cy);
    cy.queues = w->qnames;
    cy.n_queues = w->n_queues;
    cy.completions = k;
    cy.n_completions = 1;
    cy.lease_us = w->lease_us;
    sitq_code rc = b->ops->cycle(b, &cy, err);
    if (rc) return rc;
    pthread_mutex_lock(&w->mu);
    sitq__stats_outcome(&w->stats, k);
    sitq__wmetrics_outcome(w, k);
    pthread_mutex_unlock(&w->mu);
    sitq__backend_notify(b, 1, 1);
    return SITQ_OK;
}

sitq_code sitq_worker_process_task(sitq_worker *w, sitq_task_id id, sitq_result **out,
                                   sitq_error *err) {
    if (out) *out = NULL;
    if (!w) return sitq__fail(err, SITQ_EINVAL, "worker must not be NULL");
    sitq_backend *b = w->b;
    if (id <= 0) return sitq__fail(err, SITQ_ENOTFOUND, "task %lld does not exist", (long long)id);

    sitq_code rc;
    size_t qi = 0;
    const handler *h = find_handler(w, id, &qi, out, &rc, err);
    if (!h) return rc;
    const char *queue = w->qnames[qi];

    sitq__claimed claimed;
    memset(&claimed, 0, sizeof claimed);
    sitq__cycle cy;
    memset(&cy, 0, sizeof cy);
    cy.queues = &w->qnames[qi];
    cy.n_queues = 1;
    cy.worker_id = w->id;
    cy.lease_us = w->lease_us;
    cy.claim_max = 1;
    cy.claimed = &claimed;
    sitq_result *snap = NULL;
    int64_t mono_before = sitq__mono_us();
    rc = b->ops->claim_id(b, id, &cy, &snap, err);
    if (rc) {
        if (out) *out = snap;
        else sitq_result_free(snap);
        return rc;
    }
    claimed.queue_index = qi; /* in the worker's queues */
    sitq_task_ctx *c = sitq__ctx_new(w, &claimed, h, mono_before, cy.db_now_us);
    if (!c) {
        sitq__claimed_clear(&claimed);
        return sitq__fail(err, SITQ_ENOMEM, "out of memory running task %lld", (long long)id);
    }
    c->deadline_mono_us = c->t.timeout_us > 0 ? sitq__mono_us() + c->t.timeout_us : 0;
    pthread_mutex_lock(&w->mu);
    w->stats.claimed++;
    sitq__ctx_list_push(&w->running, c);
    pthread_mutex_unlock(&w->mu);

    sitq__completion k;
    run_supervised(c, &k);

    pthread_mutex_lock(&w->mu);
    sitq__ctx_list_remove(&w->running, c);
    sitq__stats_count(&w->stats, &k);
    sitq__wmetrics_attempt(w, c, &k);
    pthread_mutex_unlock(&w->mu);

    rc = record_completion(w, c, &k, err);
    sitq__completion_clear(&k);
    sitq__ctx_free(c);
    if (rc) return rc;
    if (out) {
        rc = b->ops->get(b, queue, id, out, err);
        if (rc) return rc;
    }
    return sitq__ok(err);
}
