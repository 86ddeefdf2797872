/* lifecycle.c - the queue's rules, for every backend.
 *
 * STORED STATES
 *
 *   queued (0)     ready to run once run_at_us has passed (before that the public
 *                  status is `scheduled`: an ETA or a retry backoff)
 *   waiting (1)    pending_deps > 0 dependencies have not succeeded yet
 *   running (3)    held by one worker: lease_token, lease_until_us, worker_id
 *   succeeded (4), failed (5), cancelled (6)   terminal
 *
 * TRANSITIONS (event: from -> to [guard], what is written)
 *
 *   enqueue:      -> queued | waiting | failed     (sitq__deps_add, then
 *                 sitq__deps_initial_state); a task enqueued failed holds no
 *                 unique key and finishes at once
 *   claim:        queued -> running  [run_at_us <= now, the worker handles the
 *                 function]  fresh lease_token, lease_until_us = now + lease,
 *                 started_at_us = NULL; the attempt is not counted yet; the
 *                 claimer learns sitq__start_first(lapses)
 *   claim one:    queued -> running  [that id, run_at_us <= now]  as claim, and
 *                 the attempt is counted at once (attempts + 1, started_at_us
 *                 = now): process-one-task runs it right after the commit;
 *                 otherwise sitq__not_ready
 *   start:        running -> running  [lease_token, start not recorded]
 *                 attempts + 1, started_at_us
 *   heartbeat:    running -> running  [lease_token]  lease_until_us = now + lease,
 *                 progress; returns cancel_requested
 *   release:      running -> queued   [lease_token]  (the worker will not run
 *                 it: stopping, or its lease lapsed in the worker's hands) an
 *                 attempt already counted is taken back (attempts - 1),
 *                 started_at_us = NULL; run_at_us kept (its place in the queue)
 *   success:      running -> succeeded [lease_token]  result stored, error
 *                 cleared; counts the attempt if its start was not recorded.
 *                 In the same commit, set-based for a whole group of
 *                 successes: every WAITING dependent loses as many pending
 *                 dependencies as it has among them, and at zero becomes
 *                 queued with run_at_us = max(own, now); dependents in other
 *                 states are left alone
 *   failure:      running -> queued (retry, at finished + backoff, or + the
 *                 handler's own delay) | failed (no retry left, or the
 *                 handler asked for none) | cancelled  [lease_token]
 *                 (sitq__decide_failure); the attempt is counted first if it
 *                 started and its start was not recorded
 *   lapse:        running -> queued (same place) | failed | cancelled
 *                 [lease_until_us < now, lease_token]   (sitq__decide_lapse)
 *   cancel:       queued | waiting -> cancelled ("cancelled"); running:
 *                 cancel_requested = 1  (sitq__decide_cancel)
 *   retry:        failed | cancelled -> queued | waiting  (sitq__check_retry,
 *                 sitq__retry_deps_add, sitq__check_retry_dependencies,
 *                 sitq__retry_state): pending_deps recomputed, run_at_us =
 *                 now, attempts = lapses = 0, cancel_requested = 0; result,
 *                 error, traceback, progress, started/finished times cleared;
 *                 refused when another live task holds its unique key
 *                 (sitq__retry_unique_conflict). In the same commit, in
 *                 ascending id order (a dependency is always older than its
 *                 dependent): every failed or cancelled task downstream of it,
 *                 reached through failed or cancelled tasks, the same way,
 *                 except one whose fold names a failed dependency (it stays);
 *                 and every WAITING finalizer that depends on a retried task
 *                 gets its pending dependency back (pending_deps + 1)
 *   fail, cancel: (-> failed or cancelled, by any event above) set-based, in
 *                 the same commit: every WAITING task that depends on task N,
 *                 directly or through a chain of dependencies that are not
 *                 finalizer edges, -> failed with error
 *                 sitq__dependency_failed_message(N) ("dependency N failed" /
 *                 "dependency N was cancelled", N being the task that failed)
 *                 and finished_at_us = the failure's time. Then every WAITING
 *                 finalizer (its edges are marked) loses as many
 *                 pending dependencies as it has among N and the tasks just
 *                 failed, and at zero becomes queued with run_at_us =
 *                 max(own, now), as after a success: a finalizer's own
 *                 dependents follow its outcome
 *   purge:        succeeded | failed | cancelled [finished_at_us < before, no
 *                 dependent queued, waiting or running] -> deleted (a dependent
 *                 not yet finished may still read its result); dependency edges to a purged succeeded task are
 *                 dropped (satisfied for good), so an edge to a missing task
 *                 means one purged after it failed or was cancelled
 *
 * A task holds its unique key while queued, waiting or running
 * (sitq__state_holds_unique_key): a finished task frees it.
 *
 * Every transition out of running is guarded by (state = running, lease_token):
 * a worker whose lease was recovered and handed to another cannot overwrite
 * the newer attempt's outcome; its late write changes nothing.
 *
 * ATTEMPTS are counted when an attempt starts, not when it is claimed: a
 * worker claims ahead of its handler threads, and a task it held but never
 * started must not spend an attempt when the worker dies. A lapse before the
 * start was recorded is counted in `lapses` instead; after
 * SITQ__START_FIRST_LAPSES of them the claiming worker commits the start
 * before running the task, so that a task which kills its worker at once
 * still runs out of attempts.
 *
 * A backend reads the facts, calls a decision below inside its write
 * transaction, and applies the verdict; it decides nothing itself. Only the
 * mechanics that must be set-based for speed (claiming a batch in claim
 * order, releasing the dependents of a group of successes, failing
 * dependents transitively) are written in the backend's own language, and
 * they follow the table above. */
#include "lifecycle.h"

#include "internal.h"

#include <stdio.h>

int sitq__state_terminal(int state) {
    return state == SITQ__SUCCEEDED || state == SITQ__FAILED || state == SITQ__CANCELLED;
}

int sitq__state_holds_unique_key(int state) {
    return state == SITQ__QUEUED || state == SITQ__WAITING || state == SITQ__RUNNING;
}

sitq_status sitq__public_status(int state, sitq_time_us run_at_us, sitq_time_us now_us) {
    if (state == SITQ__QUEUED && run_at_us > now_us) return SITQ_SCHEDULED;
    return (sitq_status)state;
}

static void verdict_reset(sitq__verdict *v) {
    v->state = SITQ__FAILED;
    v->run_at_us = 0;
    v->unstarted = 0;
    v->buf[0] = '\0';
    v->message = v->buf;
}

void sitq__decide_failure(const sitq__failure_facts *f, double u, sitq__verdict *out) {
    verdict_reset(out);
    const char *error = f->error ? f->error : "the handler failed without a message";
    if (f->cancel_requested) {
        out->state = SITQ__CANCELLED;
        snprintf(out->buf, sizeof out->buf, "cancelled while running: %s", error);
        return;
    }
    out->message = error; /* the handler's own text, whole */
    if (f->attempts <= f->max_retries && f->retry != SITQ__RETRY_NONE) {
        int64_t delay =
            f->retry == SITQ__RETRY_AFTER
                ? f->retry_after_us
                : sitq_backoff_us(f->attempts, (double)f->backoff_base_us / 1e6,
                                  (double)f->backoff_cap_us / 1e6, f->backoff_jitter, u);
        out->state = SITQ__QUEUED;
        out->run_at_us = f->finished_us + delay;
        return;
    }
    out->state = SITQ__FAILED;
}

void sitq__decide_lapse(const sitq__lapse_facts *f, sitq__verdict *out) {
    verdict_reset(out);
    const char *w = f->worker_id ? f->worker_id : "?";
    if (f->started)
        snprintf(out->buf, sizeof out->buf,
                 "worker %s was lost: its lease expired during attempt %d", w, (int)f->attempts);
    else
        snprintf(out->buf, sizeof out->buf,
                 "worker %s was lost before the start of attempt %d was recorded: handed "
                 "out again without spending an attempt",
                 w, (int)f->attempts + 1);
    if (f->cancel_requested) out->state = SITQ__CANCELLED;
    else if (!f->started) {
        out->state = SITQ__QUEUED;
        out->unstarted = 1;
    } else if (f->attempts <= f->max_retries) out->state = SITQ__QUEUED;
    else out->state = SITQ__FAILED;
}

int sitq__start_first(int32_t lapses) { return lapses >= SITQ__START_FIRST_LAPSES; }

sitq_code sitq__decide_cancel(sitq_task_id id, int state, sitq__cancel_action *action,
                              sitq_error *err) {
    if (state == SITQ__QUEUED || state == SITQ__WAITING) {
        *action = SITQ__CANCEL_NOW;
        return sitq__ok(err);
    }
    if (state == SITQ__RUNNING) {
        *action = SITQ__CANCEL_FLAG;
        return sitq__ok(err);
    }
    return sitq__fail(err, SITQ_ESTATE, "task %lld is already %s and cannot be cancelled",
                      (long long)id, sitq_status_name((sitq_status)state));
}

sitq_code sitq__check_retry(sitq_task_id id, int state, sitq_error *err) {
    if (state == SITQ__FAILED || state == SITQ__CANCELLED) return sitq__ok(err);
    return sitq__fail(err, SITQ_ESTATE,
                      "task %lld is %s; only failed or cancelled tasks can be retried",
                      (long long)id, sitq_status_name((sitq_status)state));
}

sitq_code sitq__check_retry_dependencies(sitq_task_id id, sitq_task_id bad_dep, sitq_error *err) {
    if (!bad_dep) return sitq__ok(err);
    return sitq__fail(err, SITQ_ESTATE,
                      "task %lld depends on task %lld, which failed or was cancelled (or was "
                      "purged after that): retry that one first",
                      (long long)id, (long long)bad_dep);
}

int sitq__retry_state(int64_t pending) { return pending > 0 ? SITQ__WAITING : SITQ__QUEUED; }

sitq_code sitq__retry_unique_conflict(sitq_task_id id, sitq_error *err) {
    return sitq__fail(err, SITQ_ESTATE,
                      "task %lld cannot be retried: another live task of the queue holds its "
                      "unique key",
                      (long long)id);
}

void sitq__deps_begin(sitq__deps_fold *f, int finalizer) {
    f->pending = 0;
    f->failed_dep = 0;
    f->failed_dep_cancelled = 0;
    f->finalizer = finalizer != 0;
}

sitq_code sitq__deps_add(sitq__deps_fold *f, const char *where, sitq_task_id dep, int state,
                         sitq_error *err) {
    if (state < 0)
        return sitq__fail(err, SITQ_EDEPENDENCY, "%sdependency %lld does not exist in this queue",
                          where ? where : "", (long long)dep);
    if (state == SITQ__FAILED || state == SITQ__CANCELLED) {
        if (!f->failed_dep && !f->finalizer) {
            f->failed_dep = dep;
            f->failed_dep_cancelled = state == SITQ__CANCELLED;
        }
    } else if (state != SITQ__SUCCEEDED) {
        f->pending++;
    }
    return SITQ_OK;
}

void sitq__retry_deps_add(sitq__deps_fold *f, sitq_task_id dep, int state) {
    if (state < 0 || state == SITQ__FAILED || state == SITQ__CANCELLED) {
        if (!f->failed_dep && !f->finalizer) {
            f->failed_dep = dep;
            f->failed_dep_cancelled = state == SITQ__CANCELLED;
        }
    } else if (state != SITQ__SUCCEEDED) {
        f->pending++;
    }
}

int sitq__deps_initial_state(const sitq__deps_fold *f, char *message, size_t size) {
    if (f->failed_dep) {
        if (message)
            sitq__dependency_failed_message(f->failed_dep, f->failed_dep_cancelled, message, size);
        return SITQ__FAILED;
    }
    return f->pending > 0 ? SITQ__WAITING : SITQ__QUEUED;
}

void sitq__dependency_failed_message(sitq_task_id dep, int cancelled, char *buf, size_t size) {
    snprintf(buf, size, "dependency %lld %s", (long long)dep,
             cancelled ? "was cancelled" : "failed");
}

sitq_code sitq__not_ready(sitq_task_id id, sitq_status s, sitq_error *err) {
    const char *why = s == SITQ_WAITING     ? "it is waiting for its dependencies"
                      : s == SITQ_SCHEDULED ? "its ETA (or retry backoff) is in the future"
                      : s == SITQ_RUNNING   ? "it is running on a worker"
                                            : "it has already finished";
    return sitq__fail(err, SITQ_ENOTREADY, "task %lld is %s and cannot run now: %s", (long long)id,
                      sitq_status_name(s), why);
}

void sitq__unstorable_result_message(size_t len, const char *why, char *buf, size_t size) {
    snprintf(buf, size, "the result of %zu bytes could not be stored: %s", len,
             why ? why : "the backend refused it");
}
