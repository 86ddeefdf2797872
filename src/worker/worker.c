/* worker.c - a worker: handler threads fed by one dispatcher thread that
 * does all the writing in one transaction per cycle (batched claims, group
 * commit of completions, lease renewal, lease recovery). */
#include "worker_internal.h"
#include "../core/grow.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_uint worker_counter;

/* Group commit of completions: a completion waits at most this long for
 * others to share its commit, and a group is flushed at this size. */
#define COMPLETION_LINGER_US 1000

/* A start is recorded once the attempt has run this long (or with its
 * outcome, if that comes first). A worker that dies sooner after a start has
 * its task handed out again without spending the attempt: better than
 * counting one that never ran its user's code (a Python handler thread can
 * wait several milliseconds for the GIL between marking its start and running
 * the function). A task lost that way once has its start recorded before it
 * runs (start_first). */
#define START_RECORD_DELAY_US 20000
#define COMPLETION_GROUP_MAX  256

/* Adaptive prefetch: work buffered per handler thread, and the cap. */
#define ADAPTIVE_WINDOW_US    5000.0
#define ADAPTIVE_PREFETCH_MAX 1024

/* Automatic poll interval (poll_interval_s 0): how often an idle worker
 * looks for tasks other processes enqueued. A backend that notifies wakes it
 * at once, so polling there is only the fallback. */
#define POLL_DEFAULT_US  50000
#define POLL_NOTIFIED_US 1000000

void sitq__worker_wake(sitq_worker *w) {
    atomic_fetch_add(&w->events, 1);
    sitq__backend_wake(w->b);
}

int sitq__worker_push_done(sitq_worker *w, sitq__completion *k) {
    if (sitq__reserve((void **)&w->done, &w->cap_done, w->n_done + 1, sizeof *w->done) != 0)
        return -1;
    w->done[w->n_done++] = *k;
    return 0;
}

static int push_release_of(sitq_worker *w, sitq__release r) {
    if (sitq__reserve((void **)&w->rel, &w->cap_rel, w->n_rel + 1, sizeof *w->rel) != 0) return -1;
    w->rel[w->n_rel++] = r;
    return 0;
}

static int push_release(sitq_worker *w, sitq_task_ctx *c) {
    return push_release_of(w, (sitq__release){c->t.id, c->t.lease_token});
}

sitq_task_ctx *sitq__worker_find_ctx(sitq_worker *w, sitq_task_id id, int64_t token) {
    for (sitq_task_ctx *c = w->running.head; c; c = c->next)
        if (c->t.id == id && c->t.lease_token == token) return c;
    for (sitq_task_ctx *c = w->ready.head; c; c = c->next)
        if (c->t.id == id && c->t.lease_token == token) return c;
    return NULL;
}

static int64_t cond_deadline_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline) {
    struct timespec ts = {(time_t)(deadline / 1000000), (long)(deadline % 1000000) * 1000};
    return pthread_cond_timedwait(cv, mu, &ts);
}

/* Check *o and resolve its defaults (heartbeat_interval_s 0). */
static sitq_code check_options(sitq_worker_options *o_, sitq_error *err) {
    sitq_worker_options o = *o_;
    if (o.concurrency < 1 || o.concurrency > 1024)
        return sitq__fail(err, SITQ_EINVAL, "options.concurrency must be 1..1024, got %d",
                          o.concurrency);
    if (o.prefetch < -1 || o.prefetch > 65536)
        return sitq__fail(err, SITQ_EINVAL,
                          "options.prefetch must be -1 (adaptive) or 0..65536, got %d", o.prefetch);
    if (!(o.poll_interval_s == 0 || (o.poll_interval_s >= 0.0001 && o.poll_interval_s <= 3600)))
        return sitq__fail(err, SITQ_EINVAL,
                          "options.poll_interval_s must be 0 (automatic) or 0.0001..3600 "
                          "seconds, got %g",
                          o.poll_interval_s);
    if (!(o.lease_s >= 0.05 && o.lease_s <= 86400 * 7))
        return sitq__fail(err, SITQ_EINVAL, "options.lease_s must be 0.05..604800 seconds, got %g",
                          o.lease_s);
    if (o.heartbeat_interval_s == 0) o.heartbeat_interval_s = fmin(o.lease_s / 3, 1.0);
    if (!(o.heartbeat_interval_s > 0 && o.heartbeat_interval_s < o.lease_s))
        return sitq__fail(
            err, SITQ_EINVAL,
            "options.heartbeat_interval_s must be > 0 and below lease_s (%g s), got %g", o.lease_s,
            o.heartbeat_interval_s);
    if (!(o.timeout_grace_s == -1 || (o.timeout_grace_s >= 0 && o.timeout_grace_s <= 3600)))
        return sitq__fail(err, SITQ_EINVAL,
                          "options.timeout_grace_s must be -1 (default) or 0..3600 seconds, got %g",
                          o.timeout_grace_s);
    if (o.handlers_mark_start != 0 && o.handlers_mark_start != 1)
        return sitq__fail(err, SITQ_EINVAL, "options.handlers_mark_start must be 0 or 1, got %d",
                          o.handlers_mark_start);
    if (o.queue_order != SITQ_QUEUE_ORDER_PRIORITY && o.queue_order != SITQ_QUEUE_ORDER_ROUND_ROBIN)
        return sitq__fail(err, SITQ_EINVAL,
                          "options.queue_order must be SITQ_QUEUE_ORDER_PRIORITY (0) or "
                          "SITQ_QUEUE_ORDER_ROUND_ROBIN (1), got %d",
                          o.queue_order);
    if (o.burst != 0 && o.burst != 1)
        return sitq__fail(err, SITQ_EINVAL, "options.burst must be 0 or 1, got %d", o.burst);
    if (!(o.burst_eta_bound_s >= 0 && o.burst_eta_bound_s <= SITQ_SECONDS_MAX))
        return sitq__fail(err, SITQ_EINVAL,
                          "options.burst_eta_bound_s must be 0..%.0f seconds, got %g",
                          SITQ_SECONDS_MAX, o.burst_eta_bound_s);
    if (o.retention != 0 && o.retention != 1)
        return sitq__fail(err, SITQ_EINVAL, "options.retention must be 0 or 1, got %d",
                          o.retention);
    if (o.max_tasks < 0)
        return sitq__fail(err, SITQ_EINVAL,
                          "options.max_tasks must be >= 0 (0: no limit), got %lld",
                          (long long)o.max_tasks);
    if (o.retention_interval_s == 0) o.retention_interval_s = 60;
    if (!(o.retention_interval_s >= 0.01 && o.retention_interval_s <= 86400))
        return sitq__fail(err, SITQ_EINVAL,
                          "options.retention_interval_s must be 0 (default) or 0.01..86400 "
                          "seconds, got %g",
                          o.retention_interval_s);
    if (o.worker_id) {
        sitq_code nrc = sitq__name_check(o.worker_id, "options.worker_id", err);
        if (nrc) return nrc;
    }
    *o_ = o;
    return SITQ_OK;
}

sitq_code sitq_worker_create(sitq_queue *queue, const sitq_worker_options *opts, sitq_worker **out,
                             sitq_error *err) {
    if (!out) return sitq__fail(err, SITQ_EINVAL, "out must not be NULL");
    *out = NULL;
    if (!queue) return sitq__fail(err, SITQ_EINVAL, "queue must not be NULL");
    return sitq_worker_create_multi(&queue, 1, opts, out, err);
}

sitq_code sitq_worker_create_multi(sitq_queue *const *queues, size_t n_queues,
                                   const sitq_worker_options *opts, sitq_worker **out,
                                   sitq_error *err) {
    if (!out) return sitq__fail(err, SITQ_EINVAL, "out must not be NULL");
    *out = NULL;
    sitq_code qrc = sitq__worker_check_queues(queues, n_queues, err);
    if (qrc) return qrc;
    sitq_worker_options o;
    if (opts) o = *opts;
    else sitq_worker_options_init(&o);
    sitq_code crc = check_options(&o, err);
    if (crc) return crc;

    sitq_worker *w = calloc(1, sizeof *w);
    if (!w) return sitq__fail(err, SITQ_ENOMEM, "out of memory creating a worker");
    if (sitq__worker_set_queues(w, queues, n_queues) != 0) {
        free(w);
        return sitq__fail(err, SITQ_ENOMEM, "out of memory creating a worker");
    }
    w->b = sitq_queue_backend(w->queue);
    w->blob_max = sitq_backend_blob_max(w->b);
    w->opts = o;
    if (o.worker_id) {
        w->id = strdup(o.worker_id);
    } else {
        /* Unique per process incarnation, not per host (lesson 6). */
        char host[64] = "host", buf[160];
        gethostname(host, sizeof host - 1);
        host[sizeof host - 1] = '\0';
        snprintf(buf, sizeof buf, "%s:%d:%lld:%u", host, (int)getpid(),
                 (long long)(sitq_now_us() / 1000), atomic_fetch_add(&worker_counter, 1) + 1);
        w->id = strdup(buf);
    }
    w->opts.worker_id = NULL;
    if (!w->id) {
        sitq__worker_free_queues(w);
        free(w);
        return sitq__fail(err, SITQ_ENOMEM, "out of memory creating a worker");
    }
    w->lease_us = sitq__seconds_to_us(o.lease_s);
    /* Automatic polling: often, unless the backend wakes idle workers when
     * other processes enqueue (wait_change); then polling is the fallback
     * and each idle claim also asks when the next task becomes due. */
    int notifies = sitq__backend_notifies(w->b);
    w->poll_us = o.poll_interval_s > 0 ? sitq__seconds_to_us(o.poll_interval_s)
                 : notifies            ? POLL_NOTIFIED_US
                                       : POLL_DEFAULT_US;
    w->want_next_run_at = notifies && w->poll_us > POLL_DEFAULT_US;
    w->heartbeat_us = sitq__seconds_to_us(o.heartbeat_interval_s);
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->life_mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &attr);
    pthread_condattr_destroy(&attr);
    atomic_init(&w->events, 0);
    w->refs = 1;
    *out = w;
    return sitq__ok(err);
}

const char *sitq_worker_id(const sitq_worker *w) { return w ? w->id : NULL; }

void sitq_worker_get_stats(const sitq_worker *w, sitq_worker_stats *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!w) return;
    pthread_mutex_lock((pthread_mutex_t *)&w->mu);
    *out = w->stats;
    out->running = (int)w->running.n;
    pthread_mutex_unlock((pthread_mutex_t *)&w->mu);
}

/* ---- handler threads ---------------------------------------------------- */

static size_t current_capacity(const sitq_worker *w);
static void worker_destroy(sitq_worker *w);

/* A handler thread that a stop left behind (stuck past its task's timeout)
 * ends here when its handler finally returns. Its attempt was recorded long
 * ago and the worker may since have been restarted or freed (the queue and
 * backend closed), so it touches only its own task and the worker's memory,
 * which its reference keeps alive. Called with w->mu held; releases it. */
static void executor_retire(sitq_worker *w, sitq_task_ctx *c, sitq__completion *k) {
    sitq__completion_clear(k);
    sitq__ctx_free(c);
    int last = --w->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (last) worker_destroy(w);
}

/* After a handler finished (w->mu held): wake the dispatcher only when it has
 * something to do - the first completion of a group (it then lingers up to
 * COMPLETION_LINGER_US for more), a full group, an empty ready queue, or
 * room for a batch claim - not for every task. */
static int executor_should_wake(sitq_worker *w) {
    if (w->n_done == 1) w->done_since_us = sitq__mono_us();
    size_t cap = current_capacity(w);
    size_t busy = w->ready.n + w->n_exec_running - (size_t)w->n_stuck;
    int batch_room = busy < cap && cap - busy >= (cap + 1) / 2;
    int wake = w->n_done == 1 || w->n_done >= COMPLETION_GROUP_MAX || w->ready.n == 0 ||
               (batch_room && !w->claim_wake_sent);
    if (batch_room) w->claim_wake_sent = 1;
    return wake;
}

/* Start an attempt of c in this handler thread (w->mu held). Its start is
 * recorded by the next cycle, within the linger, or with the outcome if that
 * comes first (sitq__worker_request_start). */
static void begin_attempt(sitq_worker *w, sitq_task_ctx *c) {
    c->in_executor = 1;
    c->thread = pthread_self();
    c->started_mono_us = sitq__mono_us();
    c->started_at_us = sitq_now_us();
    c->deadline_mono_us = c->t.timeout_us > 0 ? c->started_mono_us + c->t.timeout_us : 0;
    sitq__ctx_list_push(&w->running, c);
    w->n_exec_running++;
    /* Handlers that mark their start call sitq_ctx_begin themselves, except
     * for a task already lost once before its start was recorded: whatever
     * the handler does first (unpickling its arguments, importing a module)
     * may be what kills the worker, so its start is committed before the
     * handler runs at all. */
    if (!w->opts.handlers_mark_start || c->t.start_first) sitq__worker_request_start(w, c);
}

void sitq__worker_request_start(sitq_worker *w, sitq_task_ctx *c) {
    c->start_marked = 1;
    if (c->t.start_recorded) return;
    int first = c->t.start_first;
    int wake = w->start_since_us == 0 || first;
    /* A start_first task is due at once, not after the linger. */
    int64_t since = first ? c->started_mono_us - START_RECORD_DELAY_US : c->started_mono_us;
    if (w->start_since_us == 0 || since < w->start_since_us) w->start_since_us = since;
    if (!wake) return;
    pthread_mutex_unlock(&w->mu);
    sitq__worker_wake(w);
    pthread_mutex_lock(&w->mu);
    while (first && !c->t.start_recorded && !atomic_load(&c->lost))
        pthread_cond_wait(&w->cv, &w->mu);
}

/* The worker whose handler thread this is (NULL on any other thread). */
static _Thread_local const sitq_worker *tl_serving;

sitq_code sitq__worker_refuse_own_thread(const sitq_worker *w, const char *what, sitq_error *err) {
    if (tl_serving != w) return SITQ_OK;
    return sitq__fail(err, SITQ_ESTATE,
                      "%s of worker %s was called from one of its own tasks, which it would "
                      "wait for: return from the task first, or call it from another thread",
                      what, w->id);
}

const sitq_worker *sitq__worker_serving(const sitq_worker *w) {
    const sitq_worker *prev = tl_serving;
    tl_serving = w;
    return prev;
}

static void *executor_main(void *arg) {
    sitq_worker *w = arg;
    tl_serving = w;
    /* A prefetched task is not started this close to its lease's end. */
    int64_t margin = w->lease_us / 10 < 1000000 ? w->lease_us / 10 : 1000000;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->ready.head && !w->stopping) pthread_cond_wait(&w->cv, &w->mu);
        if (w->stopping) break;
        sitq_task_ctx *c = sitq__ctx_list_pop(&w->ready);
        if (atomic_load(&c->lost)) { /* another worker owns it now */
            sitq__ctx_free(c);
            continue;
        }
        if (sitq__mono_us() >= c->lease_until_mono_us - margin) {
            push_release(w, c); /* never start a task whose lease lapsed */
            w->stats.released++;
            sitq__ctx_free(c);
            pthread_mutex_unlock(&w->mu);
            sitq__worker_wake(w);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        sitq__completion k;
        if (atomic_load(&c->cancel)) {
            sitq__ctx_fail_completion(c, "cancelled before it started", &k);
        } else {
            begin_attempt(w, c);
            pthread_mutex_unlock(&w->mu);
            int64_t t0 = sitq__mono_us();
            sitq__ctx_run(c, &k);
            sitq__ctx_apply_timeout(c, &k);
            double took = (double)(sitq__mono_us() - t0);
            pthread_mutex_lock(&w->mu);
            if (c->detached) {
                executor_retire(w, c, &k);
                return NULL;
            }
            /* Moving average of handler time, for the adaptive prefetch. */
            w->avg_run_us = w->avg_run_us > 0 ? 0.9 * w->avg_run_us + 0.1 * took : took + 1;
            sitq__ctx_list_remove(&w->running, c);
            w->n_exec_running--;
        }
        if (atomic_load(&c->abandoned)) {
            sitq__completion_clear(&k); /* the timeout was already recorded */
            if (c->in_executor) w->n_stuck--;
        } else {
            sitq__stats_count(&w->stats, &k);
            sitq__wmetrics_attempt(w, c, &k);
            if (sitq__worker_push_done(w, &k) != 0) sitq__completion_clear(&k);
        }
        sitq__ctx_free(c);
        if (executor_should_wake(w)) {
            pthread_mutex_unlock(&w->mu);
            sitq__worker_wake(w);
            pthread_mutex_lock(&w->mu);
        }
    }
    w->n_exec_alive--;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    sitq__worker_wake(w);
    return NULL;
}

/* ---- dispatcher --------------------------------------------------------- */

typedef struct dispatch_state {
    sitq__claimed *claimed;
    size_t capacity; /* concurrency + largest prefetch */
    sitq__heartbeat *hb;
    size_t cap_hb;
    sitq__start *starts;
    size_t cap_starts;
    int64_t last_hb, last_reap, last_poll; /* monotonic */
    int64_t reap_every;                    /* lease recovery period */
    int64_t backoff_until;                 /* no claim before this, after an error */
    int more_available;                    /* the last claim was full */
    uint64_t seen_enq_gen;                 /* enqueued_gen of the last claim */
    uint64_t seen_fin_gen;                 /* finished_gen of the last claim (burst mode) */
    int limit_held;                        /* a limit held the last claim back */
    int64_t next_due;                      /* monotonic: a task not yet due becomes due;
                                              0 = none known (want_next_run_at) */
    int64_t last_record;                   /* monotonic: the registry row was last written */
    int recorded;                          /* the registry row was written since the start */
    double claim_cycle_us;                 /* moving average of the claiming cycles' time */
    int fail_streak;                       /* cycles failed in a row */
} dispatch_state;

/* Timeouts are cooperative in threads (lesson 11): at the deadline the
 * handler's cancel flag is set; if it has not returned a grace later, its
 * failure is recorded without it, so that the task moves on even if the
 * handler never returns. A bounded shutdown (abandon_running) records every
 * running attempt that way at once. Returns the next time to look again. */
static int64_t check_timeouts(sitq_worker *w, int64_t now_mono) {
    int64_t next = INT64_MAX;
    for (sitq_task_ctx *c = w->running.head; c; c = c->next) {
        if (!c->in_executor || atomic_load(&c->abandoned)) continue;
        if (!c->deadline_mono_us && !w->abandon_running) continue;
        int timed_out = c->deadline_mono_us && now_mono >= c->deadline_mono_us;
        int64_t record_at =
            c->deadline_mono_us ? c->deadline_mono_us + sitq__ctx_grace_us(c) : INT64_MAX;
        if (timed_out || w->abandon_running) atomic_store(&c->cancel, 1); /* ask it to stop */
        if (now_mono >= record_at || w->abandon_running) {
            /* It did not return within the grace: record the timeout now. */
            char msg[SITQ_NAME_MAX + 128];
            if (timed_out) sitq__ctx_timeout_message(c, msg, sizeof msg);
            else
                snprintf(msg, sizeof msg,
                         "abandoned: still running when worker %s stopped (attempt %d)", w->id,
                         (int)c->t.attempt);
            sitq__completion k;
            sitq__ctx_fail_completion(c, msg, &k);
            sitq__wmetrics_attempt(w, c, &k);
            if (sitq__worker_push_done(w, &k) == 0) {
                if (w->n_done == 1) w->done_since_us = now_mono;
                atomic_store(&c->abandoned, 1);
                w->n_stuck++;
                w->stats.failed++;
            } else {
                sitq__completion_clear(&k);
            }
            continue;
        }
        int64_t at = now_mono >= c->deadline_mono_us ? record_at : c->deadline_mono_us;
        if (at < next) next = at;
    }
    return next;
}

static size_t collect_heartbeats(sitq_worker *w, dispatch_state *d) {
    size_t n = w->running.n + w->ready.n;
    if (sitq__reserve((void **)&d->hb, &d->cap_hb, n, sizeof *d->hb) != 0) return 0;
    size_t i = 0;
    ctx_list *lists[2] = {&w->running, &w->ready};
    for (int l = 0; l < 2; l++)
        for (sitq_task_ctx *c = lists[l]->head; c; c = c->next)
            /* Progress is written by the handler's own heartbeat
             * (sitq_ctx_heartbeat); renewing here must not write back an
             * older value collected before it. */
            d->hb[i++] = (sitq__heartbeat){c->t.id, c->t.lease_token, -1, 0, 0, 0};
    return i;
}

/* Whether c's start waits to be recorded (w->mu held). */
static int start_pending(const sitq_task_ctx *c) {
    return c->in_executor && c->start_marked && !c->t.start_recorded && !c->start_sent;
}

/* Whether a pending start is old enough to be recorded now. */
static int start_ripe(const sitq_task_ctx *c, int64_t now_mono) {
    return c->t.start_first || now_mono - c->started_mono_us >= START_RECORD_DELAY_US;
}

/* Starts of running attempts due to be recorded (w->mu held): they go to
 * the next cycle; w->start_since_us becomes the oldest start left waiting.
 * Running tasks are at most `concurrency`. */
static size_t collect_starts(sitq_worker *w, dispatch_state *d, int64_t now_mono) {
    size_t n = 0;
    for (sitq_task_ctx *c = w->running.head; c; c = c->next)
        if (start_pending(c) && start_ripe(c, now_mono)) n++;
    if (sitq__reserve((void **)&d->starts, &d->cap_starts, n, sizeof *d->starts) != 0) return 0;
    size_t i = 0;
    w->start_since_us = 0;
    for (sitq_task_ctx *c = w->running.head; c; c = c->next) {
        if (!start_pending(c)) continue;
        if (!start_ripe(c, now_mono)) {
            if (w->start_since_us == 0 || c->started_mono_us < w->start_since_us)
                w->start_since_us = c->started_mono_us;
            continue;
        }
        d->starts[i++] = (sitq__start){c->t.id, c->t.lease_token, c->started_at_us};
        c->start_sent = 1;
    }
    return i;
}

/* After the cycle (w->mu held): mark the starts recorded, or unsent so that
 * the next cycle tries again. */
static void settle_starts(sitq_worker *w, dispatch_state *d, size_t n, int committed) {
    if (!d->starts) return; /* none was collected */
    for (size_t i = 0; i < n; i++) {
        sitq_task_ctx *c = sitq__worker_find_ctx(w, d->starts[i].id, d->starts[i].lease_token);
        if (!c) continue; /* finished meanwhile: its outcome records the start */
        c->start_sent = 0;
        if (committed) {
            c->t.start_recorded = 1;
            if (c->t.start_first) pthread_cond_broadcast(&w->cv); /* begin_attempt waits */
        } else if (w->start_since_us == 0 || c->started_mono_us < w->start_since_us)
            w->start_since_us = c->started_mono_us;
    }
}

/* After a committed cycle (w->mu held): mark lost leases, and move the
 * renewed deadlines to the monotonic clock (sitq__lease_mono). */
static void apply_heartbeats(sitq_worker *w, dispatch_state *d, size_t n, int64_t mono_before,
                             sitq_time_us db_now_us) {
    if (!d->hb) return; /* none was collected */
    for (size_t i = 0; i < n; i++) {
        sitq_task_ctx *c = sitq__worker_find_ctx(w, d->hb[i].id, d->hb[i].lease_token);
        if (!c) continue;
        if (d->hb[i].lost) {
            atomic_store(&c->lost, 1);
            atomic_store(&c->cancel, 1);
            pthread_cond_broadcast(&w->cv); /* a begin_attempt may wait on it */
        } else {
            c->t.lease_until_us = d->hb[i].lease_until_us;
            c->lease_until_mono_us =
                sitq__lease_mono(mono_before, d->hb[i].lease_until_us, db_now_us);
            if (d->hb[i].cancel_requested) {
                atomic_store(&c->cancel_asked, 1);
                atomic_store(&c->cancel, 1);
            }
        }
    }
}

/* How many tasks the worker may hold (running + claimed). With the default
 * adaptive prefetch it keeps about ADAPTIVE_WINDOW_US of work queued per
 * handler thread: none beyond concurrency for tasks longer than that (fair
 * to other workers), up to ADAPTIVE_PREFETCH_MAX for tiny tasks (large
 * batches, few commits). Called with w->mu held. */
static size_t current_capacity(const sitq_worker *w) {
    /* Threads stuck in a handler past its timeout cannot take tasks. */
    size_t conc = (size_t)w->opts.concurrency - (size_t)w->n_stuck;
    if (conc == 0) return 0;
    if (w->opts.prefetch >= 0) return conc + (size_t)w->opts.prefetch;
    if (w->avg_run_us <= 0) return conc * 2; /* no measurement yet */
    double extra = (double)conc * ADAPTIVE_WINDOW_US / w->avg_run_us;
    if (extra < 1) return conc;
    if (extra > ADAPTIVE_PREFETCH_MAX) extra = ADAPTIVE_PREFETCH_MAX;
    return conc + (size_t)extra;
}

/* ---- the dispatcher's turn ----------------------------------------------
 * Each turn of the dispatcher: plan it under w->mu (plan_turn: what is due,
 * what to claim, what to hand to the backend), then either one backend
 * cycle (run_cycle; its outcome applied by cycle_succeeded or
 * cycle_failed), or a sleep until the next thing is due (idle_sleep). */

/* What one turn decided. */
typedef struct turn {
    uint64_t ev;     /* w->events when the turn began */
    sitq__gens gens; /* the backend's event counters when the turn began */
    int64_t now;     /* monotonic */
    int stopping;    /* a stop was asked for */
    int done;        /* the stop is complete: leave the loop */
    size_t busy;     /* tasks held: claimed and unstarted, or running */
    size_t room;     /* tasks a claim may take */
    int hb_due, want_claim, reap_due;
    int burst_check;       /* burst mode: nothing held; the claim also asks whether the
                        queues are drained (cycle live_horizon_us) */
    unsigned wait_events;  /* SITQ__EV_* an idle wait wakes on */
    size_t n_hb, n_starts; /* entries of d->hb / d->starts for this cycle */
    sitq__completion *comps;
    size_t n_comps;
    sitq__release *rels;
    size_t n_rels;
    int64_t next_timeout, flush_at, start_at; /* monotonic; INT64_MAX = none */
    int record_due;                           /* the registry row rides on this turn's cycle */
    sitq__worker_record rec;                  /* that row (borrows the worker's texts) */
} turn;

/* Give every claimed, unstarted task back (w->mu held). */
static void release_ready(sitq_worker *w) {
    sitq_task_ctx *c;
    while ((c = sitq__ctx_list_pop(&w->ready))) {
        push_release(w, c);
        w->stats.released++;
        sitq__ctx_free(c);
    }
}

/* With the adaptive prefetch, how many of the busy tasks the handler
 * threads will have finished by the time a claim made now returns: the
 * claiming cycles' average time over the average handler time, per thread
 * (w->mu held). Only when a claiming cycle takes longer than the work the
 * prefetch keeps queued per thread (ADAPTIVE_WINDOW_US), as on a store
 * across the network: the handlers then run dry before the claim returns,
 * and a claim sized for the room it will find rather than the room it
 * leaves keeps the store busy meanwhile (sized by the room it leaves, a
 * claim of tiny tasks waited for the handlers to drain half the batch while
 * the store idled). At most one capacity is claimed ahead so. */
static size_t drained_meanwhile(const sitq_worker *w, const dispatch_state *d, size_t busy) {
    if (w->opts.prefetch >= 0 || w->avg_run_us <= 0 || d->claim_cycle_us <= ADAPTIVE_WINDOW_US)
        return 0;
    double n = (double)(w->opts.concurrency - w->n_stuck) * d->claim_cycle_us / w->avg_run_us;
    return n >= (double)busy ? busy : (size_t)n;
}

/* Decide what the turn claims, renews and recovers (w->mu held). */
static void plan_claim(sitq_worker *w, dispatch_state *d, turn *t) {
    size_t n_ready = w->ready.n;
    t->busy = n_ready + w->n_exec_running - (size_t)w->n_stuck;
    size_t cap_now = current_capacity(w);
    size_t after = t->busy - drained_meanwhile(w, d, t->busy);
    t->room = t->stopping || !d->claimed || after >= cap_now ? 0 : cap_now - after;
    if (w->opts.max_tasks > 0) { /* a budget of claims for the worker's life */
        int64_t left = w->opts.max_tasks - w->stats.claimed;
        if (left <= 0) t->room = 0;
        else if ((int64_t)t->room > left) t->room = (size_t)left;
    }
    t->hb_due = t->now - d->last_hb >= w->heartbeat_us && (w->running.n + w->ready.n) > 0;
    t->n_hb = t->hb_due ? collect_heartbeats(w, d) : 0;
    /* Threads stuck in a handler whose attempt is recorded do not hold a stop. */
    t->done = t->stopping && w->n_exec_alive == w->n_stuck && w->n_done == 0 && w->n_rel == 0;
    /* While handler threads still have claimed tasks queued, wait until
     * half the capacity is free so that each claim is a real batch. */
    size_t low_water = n_ready > 0 ? (cap_now + 1) / 2 : 1;
    t->want_claim =
        t->room >= low_water && t->room > 0 && t->now >= d->backoff_until &&
        (d->more_available || t->gens.enqueued != d->seen_enq_gen ||
         /* burst mode ends when the tasks running elsewhere have finished */
         (w->opts.burst && t->gens.finished != d->seen_fin_gen) ||
         t->now - d->last_poll >= w->poll_us || (d->next_due > 0 && t->now >= d->next_due));
    t->reap_due = !t->stopping && t->now - d->last_reap >= d->reap_every;
    /* A burst worker also waits for tasks running elsewhere to finish (its
     * end), which other processes announce as finished alone. */
    t->wait_events = SITQ__EV_READY | (w->opts.burst ? SITQ__EV_FINISHED : 0u);
    /* Threads stuck in a recorded timeout hold nothing. */
    t->burst_check = w->opts.burst && t->want_claim && n_ready == 0 &&
                     w->running.n == (size_t)w->n_stuck && w->n_done == 0;
}

/* Decide which completions and starts ride on the turn's cycle, and take
 * them and the releases from the worker (w->mu held). */
static void plan_writes(sitq_worker *w, dispatch_state *d, turn *t) {
    int other_write = t->want_claim || t->hb_due || t->reap_due || w->n_rel > 0;
    /* Completions are committed with the next write that happens anyway,
     * or when the oldest has waited COMPLETION_LINGER_US (group commit). */
    t->flush_at = w->n_done ? w->done_since_us + COMPLETION_LINGER_US : INT64_MAX;
    int flush = w->n_done > 0 && (t->now >= t->flush_at || w->n_done >= COMPLETION_GROUP_MAX ||
                                  t->stopping || other_write);
    /* Starts old enough ride on the next write, or are written when the
     * oldest becomes old enough. */
    t->start_at = w->start_since_us ? w->start_since_us + START_RECORD_DELAY_US : INT64_MAX;
    int start_due =
        t->start_at != INT64_MAX && (t->now >= t->start_at || flush || other_write || t->stopping);
    t->n_starts = start_due ? collect_starts(w, d, t->now) : 0;
    if (start_due)
        t->start_at = w->start_since_us ? w->start_since_us + START_RECORD_DELAY_US : INT64_MAX;
    if (flush) {
        t->comps = w->done;
        t->n_comps = w->n_done;
        w->done = NULL;
        w->n_done = w->cap_done = 0;
        t->flush_at = INT64_MAX;
    }
    t->rels = w->rel;
    t->n_rels = w->n_rel;
    w->rel = NULL;
    w->n_rel = w->cap_rel = 0;
    if (t->want_claim) w->claim_wake_sent = 0;
}

/* Plan one turn: timeouts, stop, what is due (takes and releases w->mu). */
static void plan_turn(sitq_worker *w, dispatch_state *d, turn *t) {
    memset(t, 0, sizeof *t);
    t->ev = atomic_load(&w->events);
    t->gens = sitq__backend_gens(w->b);
    t->now = sitq__mono_us();
    pthread_mutex_lock(&w->mu);
    t->stopping = w->stopping;
    if (t->stopping) release_ready(w);
    t->next_timeout = check_timeouts(w, t->now);
    /* Every thread is stuck in a timed-out handler: give the claimed tasks
     * back so that other workers can run them. */
    if (w->n_stuck >= w->opts.concurrency) release_ready(w);
    plan_claim(w, d, t);
    plan_writes(w, d, t);
    /* The registry row: at the first cycle, then once per heartbeat
     * interval, with whatever cycle runs then (an idle worker runs one). */
    t->record_due = !t->stopping && (!d->recorded || t->now - d->last_record >= w->heartbeat_us);
    if (t->record_due) sitq__record_fill(w, 0, &t->rec);
    pthread_mutex_unlock(&w->mu);
}

static int turn_writes(const turn *t) {
    return t->n_comps || t->n_rels || t->n_hb || t->n_starts || t->want_claim || t->reap_due ||
           t->record_due;
}

/* Fill the cycle of the turn and call the backend (no lock held).
 * *mono_before is read before the call, for the lease deadlines. */
static sitq_code run_cycle(sitq_worker *w, dispatch_state *d, const turn *t, sitq__cycle *cy,
                           int64_t *mono_before, sitq_error *err) {
    memset(cy, 0, sizeof *cy);
    cy->queues = w->qnames;
    cy->n_queues = w->n_queues;
    cy->worker_id = w->id;
    cy->completions = t->comps;
    cy->n_completions = t->n_comps;
    cy->releases = t->rels;
    cy->n_releases = t->n_rels;
    cy->heartbeats = d->hb;
    cy->n_heartbeats = t->n_hb;
    cy->starts = d->starts;
    cy->n_starts = t->n_starts;
    cy->lease_us = w->lease_us;
    cy->reap = t->reap_due;
    cy->functions = w->fn_names;
    cy->n_functions = w->n_fn_names;
    cy->prefixes = w->px_names;
    cy->n_prefixes = w->n_px_names;
    cy->claim_max = t->want_claim ? t->room : 0;
    if (t->want_claim) sitq__worker_claim_order(w, t->room, cy);
    cy->want_next_run_at = w->want_next_run_at && t->want_claim;
    if (t->burst_check)
        cy->live_horizon_us =
            sitq_now_us() + sitq__seconds_to_us(w->opts.burst_eta_bound_s) + 1; /* > 0 */
    cy->claimed = d->claimed;
    cy->record = t->record_due ? &t->rec : NULL;
    /* A stop cuts short the lock waits of a cycle that records no outcome
     * and renews no lease (a claim, lease recovery, the registry row). */
    int abortable = t->n_comps == 0 && t->n_rels == 0 && t->n_starts == 0 && t->n_hb == 0;
    const atomic_int *prev = sitq__set_call_abort(abortable ? &w->stop_asked : NULL);
    *mono_before = sitq__mono_us();
    sitq_code rc = w->b->ops->cycle(w->b, cy, err);
    sitq__set_call_abort(prev);
    return rc;
}

/* After a failed cycle, before the next try: 20 ms, doubling with each
 * failure in a row up to FAILURE_PAUSE_MAX_US, so that a store that keeps
 * refusing (a role without write rights, a full disk) is not hammered
 * while one that comes back is used again within half a second. A stop
 * cuts the pause short; while stopping, 20 ms. */
#define FAILURE_PAUSE_MAX_US 500000
static void failure_pause(sitq_worker *w, dispatch_state *d) {
    int64_t pause = (int64_t)20000 << (d->fail_streak < 5 ? d->fail_streak : 5);
    if (pause > FAILURE_PAUSE_MAX_US) pause = FAILURE_PAUSE_MAX_US;
    d->fail_streak++;
    pthread_mutex_lock(&w->mu);
    if (w->stopping) pause = 20000;
    int64_t until = sitq__mono_us() + pause;
    while (sitq__mono_us() < until && !(w->stopping && pause > 20000))
        cond_deadline_wait(&w->cv, &w->mu, until);
    pthread_mutex_unlock(&w->mu);
}

/* The cycle failed (w->mu held; released here). Nothing was committed
 * (except completions split off ahead of the rest): keep completions and
 * releases for the next cycle, and back off briefly. A bounded shutdown
 * does not try again: the leases lapse and recovery takes over. */
static void cycle_failed(sitq_worker *w, dispatch_state *d, turn *t, const sitq__cycle *cy,
                         const sitq_error *cerr) {
    w->stats.errors++;
    memcpy(w->stats.last_error, cerr->message, sizeof w->stats.last_error);
    /* A registry row already written is tried again one heartbeat later,
     * not at every retry of a failing store. */
    if (t->record_due && d->recorded) d->last_record = t->now;
    if (w->abandon_running) {
        /* Not recorded: the leases lapse and recovery runs the tasks again. */
        if (!cy->completions_committed) w->stats.lost += (int64_t)t->n_comps;
        for (size_t i = 0; i < t->n_comps; i++) sitq__completion_clear(&t->comps[i]);
        t->n_comps = t->n_rels = 0;
    }
    for (size_t i = 0; i < t->n_comps; i++) {
        if (!cy->completions_committed) {
            t->comps[i].resent = 1; /* a lost COMMIT answer may have recorded it */
            sitq__worker_push_done(w, &t->comps[i]);
        } else {
            sitq__stats_outcome(&w->stats, &t->comps[i]);
            sitq__wmetrics_outcome(w, &t->comps[i]);
            sitq__completion_clear(&t->comps[i]);
        }
    }
    for (size_t i = 0; i < t->n_rels; i++)
        if (push_release_of(w, t->rels[i]) != 0) break;
    pthread_mutex_unlock(&w->mu);
    free(t->comps);
    free(t->rels);
    if (cy->completions_committed) sitq__backend_notify(w->b, 1, 1);
    d->backoff_until = sitq__mono_us() + 100000;
    failure_pause(w, d);
}

/* Hand the claimed tasks to the handler threads (w->mu held). */
static void take_claimed(sitq_worker *w, dispatch_state *d, const sitq__cycle *cy,
                         int64_t mono_before) {
    ctx_list several = {NULL, NULL, 0}; /* several queues: ordered below */
    for (size_t i = 0; i < cy->n_claimed; i++) {
        const handler *h = sitq__registry_find(w, d->claimed[i].function);
        sitq_task_ctx *c =
            h ? sitq__ctx_new(w, &d->claimed[i], h, mono_before, cy->db_now_us) : NULL;
        if (!c) { /* cannot happen: the claim filters on our functions */
            sitq_task_ctx tmp = {.t = d->claimed[i]};
            push_release(w, &tmp);
            sitq__claimed_clear(&d->claimed[i]);
            continue;
        }
        if (w->n_queues == 1) sitq__ctx_list_push(&w->ready, c);
        else sitq__ctx_list_push(&several, c);
    }
    if (several.n) sitq__worker_queue_ready(w, &several, cy->claim_first);
    w->stats.claimed += (int64_t)cy->n_claimed;
    if (cy->n_claimed) pthread_cond_broadcast(&w->cv);
}

/* Burst mode (w->mu held): the claim found nothing and no task of the
 * queues holds the worker, and it still holds nothing: stop as
 * sitq_worker_stop would (the dispatcher ends at its next turn). */
static void burst_settle(sitq_worker *w, const turn *t, const sitq__cycle *cy) {
    if (!t->burst_check || cy->n_claimed > 0 || cy->live || w->stopping) return;
    if (w->ready.n > 0 || w->running.n != (size_t)w->n_stuck || w->n_done > 0) return;
    w->drained = 1;
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv);
}

/* The cycle committed (w->mu held; released here): note what was done,
 * renew leases, queue the claimed tasks, report and free the completions,
 * and wake this process's waiters. */
static void cycle_succeeded(sitq_worker *w, dispatch_state *d, turn *t, const sitq__cycle *cy,
                            int64_t mono_before) {
    d->fail_streak = 0;
    if (t->want_claim) {
        d->seen_enq_gen = t->gens.enqueued;
        d->seen_fin_gen = t->gens.finished;
        d->limit_held = cy->limit_held;
        d->last_poll = t->now;
        d->more_available = cy->n_claimed == t->room;
        /* run_at_us is on this host's clock, like sitq_now_us. */
        d->next_due =
            cy->next_run_at_us > 0 ? mono_before + (cy->next_run_at_us - sitq_now_us()) + 1000 : 0;
        if (d->next_due == 0 && cy->next_run_at_us > 0) d->next_due = 1;
    }
    if (t->hb_due) d->last_hb = t->now;
    if (t->reap_due) d->last_reap = t->now;
    if (t->record_due) {
        d->last_record = t->now;
        d->recorded = 1;
    }
    for (size_t i = 0; i < t->n_comps; i++) {
        sitq__stats_outcome(&w->stats, &t->comps[i]);
        sitq__wmetrics_outcome(w, &t->comps[i]);
    }
    apply_heartbeats(w, d, t->n_hb, mono_before, cy->db_now_us);
    take_claimed(w, d, cy, mono_before);
    burst_settle(w, t, cy);
    pthread_mutex_unlock(&w->mu);
    sitq__worker_report_completions(w, t->comps, t->n_comps);
    int any_success = 0, any_failure = 0;
    for (size_t i = 0; i < t->n_comps; i++) {
        const sitq__completion *k = &t->comps[i];
        if (k->applied && k->ok && !k->stored_as_failure) any_success = 1;
        if (k->applied && (!k->ok || k->stored_as_failure)) any_failure = 1;
        sitq__completion_clear(&t->comps[i]);
    }
    free(t->comps);
    free(t->rels);
    /* "Ready" sends every idle worker of this process into a claim: only
     * when this commit may have made a task claimable (a dependent released;
     * a failure's finalizers or retry; a release; a recovered lease; a slot
     * freed under a limit that held the last claim back), not for every success,
     * which cost an empty claim per task when tasks trickle in. */
    int ready = cy->touched_dependents || any_failure || cy->n_reaped || t->n_rels ||
                (any_success && d->limit_held);
    if (cy->n_finished || ready) sitq__backend_notify(w->b, cy->n_finished > 0, ready);
}

/* sitq__backend_wait's extra reason to stop: a handler thread's event. */
typedef struct events_seen {
    sitq_worker *w;
    uint64_t ev;
} events_seen;

static int events_moved(void *arg) {
    const events_seen *s = arg;
    return atomic_load(&s->w->events) != s->ev;
}

/* Nothing to do: sleep until an event, a new task, or the next poll /
 * heartbeat / lease check / timeout / flush / start. */
static void idle_sleep(sitq_worker *w, const dispatch_state *d, const turn *t) {
    int64_t now = t->now;
    /* The next poll is due poll_us after the last claim, not after this
     * turn: a turn without a claim (a lease check, a completion) would
     * otherwise put it off, up to twice the interval. Overdue but not
     * taken (too little room): a whole interval, handler events wake it. */
    int64_t until = d->last_poll + w->poll_us;
    if (until <= now) until = now + w->poll_us;
    if (t->room == 0) until = now + d->reap_every;
    if (d->last_hb + w->heartbeat_us < until && t->busy > 0) until = d->last_hb + w->heartbeat_us;
    /* No lease recovery while stopping: a stale last_reap must not make
     * the wait for running handlers a busy loop. */
    if (!t->stopping && d->last_reap + d->reap_every < until) until = d->last_reap + d->reap_every;
    if (t->next_timeout < until) until = t->next_timeout;
    if (d->next_due > 0 && t->room > 0 && d->next_due < until) until = d->next_due;
    if (t->flush_at < until) until = t->flush_at;
    if (t->start_at < until) until = t->start_at;
    if (!t->stopping && d->last_record + w->heartbeat_us < until)
        until = d->last_record + w->heartbeat_us;
    if (!t->stopping && w->sched_check_at < until) until = w->sched_check_at;
    if (d->backoff_until > now && d->backoff_until < until) until = d->backoff_until;
    events_seen s = {w, t->ev};
    /* One wait covers every queue: a backend's wake-ups are per backend. */
    sitq__backend_wait(w->b, w->qnames[0], t->wait_events, &t->gens, until, events_moved, &s);
}

/* A clean stop: the registry row, marked stopped, with the final counts, in
 * one last transaction. Not tried again if it fails: the row then shows
 * the worker dead once its lease has passed. */
static void record_stopped(sitq_worker *w) {
    sitq__cycle cy;
    memset(&cy, 0, sizeof cy);
    sitq__worker_record rec;
    pthread_mutex_lock(&w->mu);
    sitq__record_fill(w, 1, &rec);
    pthread_mutex_unlock(&w->mu);
    cy.queues = w->qnames;
    cy.n_queues = w->n_queues;
    cy.worker_id = w->id;
    cy.lease_us = w->lease_us;
    cy.record = &rec;
    sitq_error err;
    /* After a stop was asked, not held by a lock another process keeps. */
    const atomic_int *prev = sitq__set_call_abort(&w->stop_asked);
    sitq_code rc = w->b->ops->cycle(w->b, &cy, &err);
    sitq__set_call_abort(prev);
    if (rc == SITQ_OK) return;
    pthread_mutex_lock(&w->mu);
    w->stats.errors++;
    memcpy(w->stats.last_error, err.message, sizeof w->stats.last_error);
    pthread_mutex_unlock(&w->mu);
}

static void *dispatcher_main(void *arg) {
    sitq_worker *w = arg;
    dispatch_state d;
    memset(&d, 0, sizeof d);
    d.capacity = (size_t)w->opts.concurrency +
                 (size_t)(w->opts.prefetch < 0 ? ADAPTIVE_PREFETCH_MAX : w->opts.prefetch);
    d.claimed = calloc(d.capacity, sizeof *d.claimed);
    d.more_available = 1;
    d.reap_every = w->lease_us / 2 < 1000000 ? w->lease_us / 2 : 1000000;
    for (;;) {
        turn t;
        plan_turn(w, &d, &t);
        if (t.done) break;
        if (!t.stopping && (t.now >= w->sched_check_at || sitq__worker_schedules_changed(w)))
            sitq__worker_schedules(w, t.now);
        if (!turn_writes(&t)) {
            free(t.comps);
            free(t.rels);
            idle_sleep(w, &d, &t);
            continue;
        }
        sitq__cycle cy;
        sitq_error cerr;
        int64_t mono_before = 0;
        sitq_code rc = run_cycle(w, &d, &t, &cy, &mono_before, &cerr);
        if (rc == SITQ_OK && t.want_claim) {
            double took = (double)(sitq__mono_us() - mono_before);
            d.claim_cycle_us = d.claim_cycle_us > 0 ? 0.8 * d.claim_cycle_us + 0.2 * took : took;
        }
        pthread_mutex_lock(&w->mu);
        w->stats.commits++;
        settle_starts(w, &d, t.n_starts, rc == SITQ_OK);
        if (rc != SITQ_OK) cycle_failed(w, &d, &t, &cy, &cerr);
        else cycle_succeeded(w, &d, &t, &cy, mono_before);
    }
    record_stopped(w);
    sitq__worker_schedules_free(w);
    free(d.claimed);
    free(d.hb);
    free(d.starts);
    pthread_mutex_lock(&w->mu);
    w->dispatcher_done = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------- */

/* Join the threads once the dispatcher is done. Threads stuck in a handler
 * whose attempt was recorded cannot be joined (a thread cannot be
 * interrupted): they are detached, holding a reference to the worker's
 * memory, and end in executor_retire if their handler ever returns. */
static void join_all(sitq_worker *w) {
    sitq__janitor_stop(w);
    pthread_join(w->dispatcher, NULL);
    pthread_mutex_lock(&w->mu);
    sitq_task_ctx *next;
    for (sitq_task_ctx *c = w->running.head; c; c = next) {
        next = c->next;
        if (!c->in_executor || !atomic_load(&c->abandoned)) continue;
        sitq__ctx_list_remove(&w->running, c);
        c->detached = 1;
        w->n_exec_running--;
        w->n_stuck--;
        w->n_exec_alive--;
        w->refs++;
        for (int i = 0; i < w->n_execs; i++)
            if (pthread_equal(w->execs[i], c->thread)) {
                pthread_detach(w->execs[i]);
                w->execs[i] = w->execs[--w->n_execs];
                break;
            }
    }
    w->abandon_running = 0;
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->n_execs; i++) pthread_join(w->execs[i], NULL);
    free(w->execs);
    w->execs = NULL;
    w->n_execs = 0;
    pthread_mutex_lock(&w->mu);
    w->started = 0;
    w->stopping = 0;
    w->dispatcher_done = 0;
    pthread_mutex_unlock(&w->mu);
}

static sitq_code worker_start(sitq_worker *w, sitq_error *err) {
    pthread_mutex_lock(&w->mu);
    if (w->started) {
        pthread_mutex_unlock(&w->mu);
        return sitq__fail(err, SITQ_ESTATE, "worker %s is already started", w->id);
    }
    if (w->n_handlers == 0) {
        pthread_mutex_unlock(&w->mu);
        return sitq__fail(err, SITQ_ESTATE, "worker %s has no handler registered", w->id);
    }
    sitq_code rc = sitq__registry_build_names(w, err);
    if (!rc) rc = sitq__record_build(w, err);
    if (rc) {
        pthread_mutex_unlock(&w->mu);
        return rc;
    }
    w->execs = calloc((size_t)w->opts.concurrency, sizeof *w->execs);
    if (!w->execs) {
        pthread_mutex_unlock(&w->mu);
        return sitq__fail(err, SITQ_ENOMEM, "out of memory starting a worker");
    }
    w->started = 1;
    w->stopping = 0;
    w->dispatcher_done = 0;
    w->drained = 0;
    for (int i = 0; i < w->opts.concurrency; i++) {
        if (pthread_create(&w->execs[i], NULL, executor_main, w) != 0) break;
        w->n_execs++;
        w->n_exec_alive++;
    }
    int ok = w->n_execs == w->opts.concurrency &&
             pthread_create(&w->dispatcher, NULL, dispatcher_main, w) == 0;
    if (!ok) {
        w->stopping = 1;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        for (int i = 0; i < w->n_execs; i++) pthread_join(w->execs[i], NULL);
        pthread_mutex_lock(&w->mu);
        free(w->execs);
        w->execs = NULL;
        w->n_execs = 0;
        w->n_exec_alive = 0;
        w->started = 0;
        w->stopping = 0;
        pthread_mutex_unlock(&w->mu);
        return sitq__fail(err, SITQ_ESYSTEM, "cannot create worker threads");
    }
    pthread_mutex_unlock(&w->mu);
    (void)sitq__janitor_start(w); /* without it the worker still runs its tasks */
    return sitq__ok(err);
}

sitq_code sitq_worker_start(sitq_worker *w, sitq_error *err) {
    if (!w) return sitq__fail(err, SITQ_EINVAL, "worker must not be NULL");
    pthread_mutex_lock(&w->life_mu);
    sitq_code rc = worker_start(w, err);
    pthread_mutex_unlock(&w->life_mu);
    return rc;
}

/* flag_on_timeout: set the running tasks' cancel flags when timeout_s
 * passes (sitq_worker_stop), or leave them alone (sitq_worker_stop_wait). */
static sitq_code worker_stop(sitq_worker *w, double timeout_s, int flag_on_timeout,
                             sitq_error *err) {
    pthread_mutex_lock(&w->mu);
    if (!w->started) {
        pthread_mutex_unlock(&w->mu);
        return sitq__ok(err);
    }
    w->stopping = 1;
    atomic_store(&w->stop_asked, 1);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    sitq__worker_wake(w);

    int64_t deadline = timeout_s < 0 ? INT64_MAX : sitq__mono_us() + sitq__seconds_to_us(timeout_s);
    pthread_mutex_lock(&w->mu);
    while (!w->dispatcher_done && sitq__mono_us() < deadline) {
        if (deadline == INT64_MAX) pthread_cond_wait(&w->cv, &w->mu);
        else cond_deadline_wait(&w->cv, &w->mu, deadline);
    }
    if (!w->dispatcher_done) {
        if (flag_on_timeout)
            for (sitq_task_ctx *c = w->running.head; c; c = c->next) atomic_store(&c->cancel, 1);
        size_t n = w->running.n;
        char last[SITQ_ERROR_MESSAGE_SIZE];
        memcpy(last, w->stats.last_error, sizeof last);
        last[sizeof last - 1] = '\0';
        pthread_mutex_unlock(&w->mu);
        if (n == 0) /* what holds the stop is the store, not a task */
            return sitq__fail(err, SITQ_ETIMEDOUT,
                              "worker %s: no task is running, but outcomes are not yet recorded "
                              "after %g s (the last store error: %s); it keeps trying",
                              w->id, timeout_s, last[0] ? last : "none");
        return sitq__fail(err, SITQ_ETIMEDOUT, "worker %s: %zu task(s) still running after %g s%s",
                          w->id, n, timeout_s,
                          flag_on_timeout ? "; their cancel flags are set" : "");
    }
    pthread_mutex_unlock(&w->mu);
    join_all(w);
    return sitq__ok(err);
}

sitq_code sitq_worker_stop(sitq_worker *w, double timeout_s, sitq_error *err) {
    if (!w) return sitq__fail(err, SITQ_EINVAL, "worker must not be NULL");
    if (timeout_s != timeout_s) return sitq__fail(err, SITQ_EINVAL, "timeout_s must not be NaN");
    if (sitq__worker_refuse_own_thread(w, "sitq_worker_stop", err)) return SITQ_ESTATE;
    pthread_mutex_lock(&w->life_mu);
    sitq_code rc = worker_stop(w, timeout_s, 1, err);
    pthread_mutex_unlock(&w->life_mu);
    return rc;
}

sitq_code sitq_worker_stop_wait(sitq_worker *w, double timeout_s, sitq_error *err) {
    if (!w) return sitq__fail(err, SITQ_EINVAL, "worker must not be NULL");
    if (timeout_s != timeout_s) return sitq__fail(err, SITQ_EINVAL, "timeout_s must not be NaN");
    if (sitq__worker_refuse_own_thread(w, "sitq_worker_stop_wait", err)) return SITQ_ESTATE;
    pthread_mutex_lock(&w->life_mu);
    sitq_code rc = worker_stop(w, timeout_s, 0, err);
    pthread_mutex_unlock(&w->life_mu);
    return rc;
}

sitq_code sitq_worker_shutdown(sitq_worker *w, double grace_s, sitq_error *err) {
    if (!w) return sitq__fail(err, SITQ_EINVAL, "worker must not be NULL");
    if (!(grace_s >= 0))
        return sitq__fail(err, SITQ_EINVAL, "grace_s must be >= 0 seconds, got %g", grace_s);
    if (sitq__worker_refuse_own_thread(w, "sitq_worker_shutdown", err)) return SITQ_ESTATE;
    pthread_mutex_lock(&w->life_mu);
    sitq_code rc = worker_stop(w, grace_s, 1, NULL);
    if (rc == SITQ_ETIMEDOUT) {
        pthread_mutex_lock(&w->mu);
        w->abandon_running = 1;
        pthread_mutex_unlock(&w->mu);
        /* Bounded: every running attempt now counts as stuck, so the
         * dispatcher ends after one more commit. */
        rc = worker_stop(w, -1, 1, err);
    } else {
        rc = sitq__ok(err);
    }
    pthread_mutex_unlock(&w->life_mu);
    return rc;
}

static void worker_destroy(sitq_worker *w) {
    for (size_t i = 0; i < w->n_done; i++) sitq__completion_clear(&w->done[i]);
    free(w->done);
    free(w->rel);
    for (size_t i = 0; i < w->n_handlers; i++) free(w->handlers[i].name);
    free(w->handlers);
    free(w->fn_names);
    free(w->px_names);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->life_mu);
    free(w->id);
    sitq__record_free(w);
    sitq__wmetrics_free(w);
    sitq__worker_free_queues(w);
    free(w);
}

void sitq_worker_free(sitq_worker *w) {
    if (!w) return;
    /* From one of its own tasks: the stop would wait for that task, and the
     * free would pull the worker from under it. Refused: nothing is done. */
    if (tl_serving == w) return;
    pthread_mutex_lock(&w->mu);
    int started = w->started;
    pthread_mutex_unlock(&w->mu);
    if (started) sitq_worker_stop(w, -1, NULL);
    pthread_mutex_lock(&w->mu);
    /* A handler left behind may be renewing its lease: let that write end
     * before the caller closes the backend. */
    while (w->n_ctx_writes > 0) pthread_cond_wait(&w->cv, &w->mu);
    int last = --w->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (last) worker_destroy(w);
}
