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
 *   enqueue:      -> queued | waiting | failed     (sitq__deps_initial_state)
 *   claim:        queued -> running  [run_at_us <= now, the worker handles the
 *                 function]  fresh lease_token, lease_until_us = now + lease;
 *                 the attempt is not counted yet
 *   start:        running -> running  [lease_token]  attempts + 1, started_at_us
 *   heartbeat:    running -> running  [lease_token]  lease_until_us = now + lease;
 *                 returns cancel_requested
 *   release:      running -> queued   [lease_token, not started]  (worker stopping)
 *   success:      running -> succeeded [lease_token]  result stored; counts the
 *                 attempt if its start was not recorded; dependents whose last
 *                 pending dependency it was become queued (run_at_us = max(own,
 *                 now)) in the same commit
 *   failure:      running -> queued (retry, at now + backoff) | failed | cancelled
 *                 [lease_token]                     (sitq__decide_failure)
 *   lapse:        running -> queued (same place) | failed | cancelled
 *                 [lease_until_us < now]           (sitq__decide_lapse)
 *   cancel:       queued | waiting -> cancelled; running: cancel_requested = 1
 *                 (sitq__decide_cancel)
 *   retry:        failed | cancelled -> queued | waiting, attempts = lapses = 0,
 *                 result and error cleared          (sitq__check_retry)
 *   fail, cancel: every waiting dependent, transitively -> failed with
 *                 "dependency N failed" / "dependency N was cancelled"
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
    v->message[0] = '\0';
}

void sitq__decide_failure(const sitq__failure_facts *f, double u, sitq__verdict *out) {
    verdict_reset(out);
    const char *error = f->error ? f->error : "the handler failed without a message";
    if (f->cancel_requested) {
        out->state = SITQ__CANCELLED;
        snprintf(out->message, sizeof out->message, "cancelled while running: %s", error);
        return;
    }
    snprintf(out->message, sizeof out->message, "%s", error);
    if (f->attempts <= f->max_retries) {
        int64_t delay = sitq_backoff_us(f->attempts, (double)f->backoff_base_us / 1e6,
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
        snprintf(out->message, sizeof out->message,
                 "worker %s was lost: its lease expired during attempt %d", w, (int)f->attempts);
    else
        snprintf(out->message, sizeof out->message,
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

void sitq__deps_begin(sitq__deps_fold *f) {
    f->pending = 0;
    f->failed_dep = 0;
    f->failed_dep_cancelled = 0;
}

sitq_code sitq__deps_add(sitq__deps_fold *f, const char *where, sitq_task_id dep, int state,
                         sitq_error *err) {
    if (state < 0)
        return sitq__fail(err, SITQ_EDEPENDENCY, "%sdependency %lld does not exist in this queue",
                          where ? where : "", (long long)dep);
    if (state == SITQ__FAILED || state == SITQ__CANCELLED) {
        if (!f->failed_dep) {
            f->failed_dep = dep;
            f->failed_dep_cancelled = state == SITQ__CANCELLED;
        }
    } else if (state != SITQ__SUCCEEDED) {
        f->pending++;
    }
    return SITQ_OK;
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
