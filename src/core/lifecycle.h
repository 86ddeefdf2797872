/* lifecycle.h - the queue's rules: stored states and the decisions that move
 * a task between them. The design is explained at the top of lifecycle.c.
 *
 * Every function here is pure: no I/O, no clock, no randomness of its own,
 * no locks. A backend reads the facts a decision needs inside its write
 * transaction, calls the decision, and applies the verdict with a guarded
 * write ("set state if still running with this lease token"). Two backends
 * that call these functions therefore keep the same semantics. Thread-safe. */
#ifndef SITQ_LIFECYCLE_H
#define SITQ_LIFECYCLE_H

#include "sitq.h"

#include <stddef.h>
#include <stdint.h>

/* Stored states (what a backend keeps in its `state` column). `scheduled` is
 * never stored: it is a queued task whose run_at_us lies in the future. The
 * values equal the public sitq_status of the same name. */
typedef enum sitq__state {
    SITQ__QUEUED = 0,
    SITQ__WAITING = 1,
    SITQ__RUNNING = 3,
    SITQ__SUCCEEDED = 4,
    SITQ__FAILED = 5,
    SITQ__CANCELLED = 6
} sitq__state;

/* 1 when state is one of succeeded, failed, cancelled. */
int sitq__state_terminal(int state);

/* 1 while a task holds its unique key: queued, waiting or running. A finished
 * task frees its key, so the same key may be enqueued again. */
int sitq__state_holds_unique_key(int state);

/* The public status of a stored state: queued with run_at_us > now_us is
 * scheduled. Unknown states map to themselves (callers store only the
 * values above). */
sitq_status sitq__public_status(int state, sitq_time_us run_at_us, sitq_time_us now_us);

/* A decided transition: the stored state to write and what goes with it. */
typedef struct sitq__verdict {
    int state;                         /* SITQ__QUEUED (again), SITQ__FAILED or SITQ__CANCELLED */
    sitq_time_us run_at_us;            /* QUEUED after a failure: when the retry may run */
    int unstarted;                     /* QUEUED after a lapse: the attempt never started; the
                               backend adds 1 to the task's lapses and keeps its
                               run_at_us (its place in the queue) */
    const char *message;               /* the task's error text to store: the facts' own error
                               (borrowed, whole, however long) or buf. Points into
                               the verdict itself: do not copy a verdict by value */
    char buf[SITQ_ERROR_MESSAGE_SIZE]; /* a message composed by the decision */
} sitq__verdict;

/* Facts about a running task whose attempt failed (read under its lease). */
typedef struct sitq__failure_facts {
    int32_t attempts;    /* attempts counted, including the one that failed */
    int32_t max_retries; /* retries allowed after the first attempt */
    int64_t backoff_base_us;
    int64_t backoff_cap_us;
    double backoff_jitter;    /* 0..1 */
    int cancel_requested;     /* cancel was asked while it ran */
    const char *error;        /* the handler's message; NULL: none given. The
                                 verdict may point to it: keep it alive as long */
    sitq_time_us finished_us; /* when the attempt ended */
    int retry;                /* the handler's choice: SITQ__RETRY_POLICY, _AFTER or _NONE */
    int64_t retry_after_us;   /* SITQ__RETRY_AFTER: the delay instead of the backoff */
} sitq__failure_facts;

/* What a failing handler asked of its retry (sitq_ctx_retry_after,
 * sitq_ctx_no_retry): the task's policy, a delay of its own instead of the
 * backoff (retries still counted), or no retry at all. */
enum { SITQ__RETRY_POLICY = 0, SITQ__RETRY_AFTER = 1, SITQ__RETRY_NONE = 2 };

/* Decide what a failed attempt leads to: cancelled (when cancel was asked
 * while it ran; message "cancelled while running: ERROR"), queued again at
 * finished_us + backoff (or + retry_after_us) while attempts <= max_retries
 * and the handler did not ask for no retry, else failed. u is a
 * uniform random number in [0, 1) for the jitter (the caller draws it, so that
 * the decision stays a pure function). */
void sitq__decide_failure(const sitq__failure_facts *f, double u, sitq__verdict *out);

/* Facts about a running task whose lease lapsed (its worker died or hung). */
typedef struct sitq__lapse_facts {
    const char *worker_id; /* the worker that held the lease; NULL: unknown */
    int32_t attempts;      /* attempts counted (including a started current one) */
    int32_t max_retries;
    int cancel_requested;
    int started; /* the current attempt's start was recorded */
} sitq__lapse_facts;

/* Decide what a lapsed lease leads to. An attempt that never started is
 * handed out again for free (unstarted = 1); a started one spends its
 * attempt: queued again while attempts <= max_retries, else failed; a task
 * whose cancel was asked is cancelled. The task keeps its place in the queue
 * in both requeue cases (run_at_us is left as stored; the verdict's run_at_us
 * is 0). The message names the worker and the attempt. */
void sitq__decide_lapse(const sitq__lapse_facts *f, sitq__verdict *out);

/* Leases that lapsed before a task's start was recorded, after which the
 * worker that claims it must commit its start before running it, so that a
 * task that kills its worker at once still runs out of attempts. */
#define SITQ__START_FIRST_LAPSES 2

/* 1 when a task with this many unstarted lapses must have its start committed
 * before it runs. */
int sitq__start_first(int32_t lapses);

/* What cancel does to a task in a given stored state. */
typedef enum sitq__cancel_action {
    SITQ__CANCEL_NOW = 1, /* queued or waiting: cancelled at once, dependents fail */
    SITQ__CANCEL_FLAG = 2 /* running: the flag is set; the worker sees it at its next
                             heartbeat and the attempt ends cancelled */
} sitq__cancel_action;

/* Decide a cancel of task id in stored state. Returns SITQ_OK with *action
 * set, or SITQ_ESTATE (the task already finished) with err filled. */
sitq_code sitq__decide_cancel(sitq_task_id id, int state, sitq__cancel_action *action,
                              sitq_error *err);

/* The message stored on a task cancelled while queued or waiting. */
#define SITQ__CANCELLED_MESSAGE "cancelled"

/* Check that task id in stored state may be retried (only failed or
 * cancelled ones). SITQ_OK or SITQ_ESTATE with err filled. */
sitq_code sitq__check_retry(sitq_task_id id, int state, sitq_error *err);

/* After sitq__check_retry: bad_dep is a dependency of id that failed, was
 * cancelled or was purged (0: none). SITQ_OK, or SITQ_ESTATE naming it. */
sitq_code sitq__check_retry_dependencies(sitq_task_id id, sitq_task_id bad_dep, sitq_error *err);

/* The state a retried task starts in: waiting when some of its dependencies
 * have not succeeded (pending > 0), else queued. */
int sitq__retry_state(int64_t pending);

/* SITQ_ESTATE for a retry refused because another live task of the queue
 * holds the same unique key. */
sitq_code sitq__retry_unique_conflict(sitq_task_id id, sitq_error *err);

/* The dependencies of a task being enqueued, folded one by one: unknown ids
 * are refused; a failed or cancelled one makes the task fail at once (the
 * first such added is named: the SQLite backend adds them in ascending id
 * order); pending ones make it wait. */
typedef struct sitq__deps_fold {
    int64_t pending;
    sitq_task_id failed_dep;
    int failed_dep_cancelled;
    int finalizer; /* the task runs once its dependencies are terminal, whatever
                      their outcome: a failed, cancelled (or purged) one is done,
                      neither pending nor failing it */
} sitq__deps_fold;

/* Start an empty fold for a task that is a finalizer (1) or not (0). */
void sitq__deps_begin(sitq__deps_fold *f, int finalizer);

/* A dependency edge of a task being enqueued: the dependency's id and its
 * position in the order declared (0-based, dense). */
typedef struct sitq__dep_edge {
    sitq_task_id id;
    int64_t position;
} sitq__dep_edge;

/* The dependencies of spec s (options->depends_on, then depends_on_index
 * through batch_ids), sorted by id without duplicates, each with its
 * declared position: a repeated id keeps its first, and positions are
 * renumbered 0..n-1 in declaration order. *out is malloc'd (NULL when
 * none). SITQ_OK or SITQ_ENOMEM. */
sitq_code sitq__deps_collect(const sitq_task_spec *s, const sitq_task_id *batch_ids,
                             sitq__dep_edge **out, size_t *n_out, sitq_error *err);

/* Add dependency dep whose stored state is state, or -1 when no task of that
 * id exists in the task's queue (for a finalizer, a failed or cancelled one
 * counts as finished). where prefixes the message (e.g. "task 3: ",
 * or ""). Returns SITQ_OK, or SITQ_EDEPENDENCY with err filled. */
sitq_code sitq__deps_add(sitq__deps_fold *f, const char *where, sitq_task_id dep, int state,
                         sitq_error *err);

/* The initial stored state of the task: failed (a dependency failed or was
 * cancelled; message filled with "dependency N failed" or "dependency N was
 * cancelled"), waiting (pending > 0), or queued. message may be NULL when not
 * failed; size is its capacity in bytes. */
int sitq__deps_initial_state(const sitq__deps_fold *f, char *message, size_t size);

/* Add dependency dep of a task being retried, whose stored state is state,
 * or -1 when the task no longer exists. A missing one was purged after it
 * failed or was cancelled (purge drops the edges to succeeded tasks), so it
 * can never succeed: it counts as failed, like a failed or cancelled one, and
 * the first such added is the fold's failed_dep (the SQLite backend adds them
 * in ascending id order, naming the lowest). Others that have not succeeded
 * count as pending. Then: sitq__check_retry_dependencies(id, f.failed_dep)
 * and sitq__retry_state(f.pending). */
void sitq__retry_deps_add(sitq__deps_fold *f, sitq_task_id dep, int state);

/* The error stored on the dependents of task dep when it failed (cancelled =
 * 0) or was cancelled (1): "dependency N failed" / "dependency N was
 * cancelled". */
void sitq__dependency_failed_message(sitq_task_id dep, int cancelled, char *buf, size_t size);

/* SITQ_ENOTREADY for process-one-task on a task that cannot run now, with the
 * reason its public status gives. */
sitq_code sitq__not_ready(sitq_task_id id, sitq_status status, sitq_error *err);

/* The error of an attempt whose result of len bytes the backend could not
 * store (why: the backend's own reason). The attempt then fails like any
 * other, so that one task's result never blocks a group commit. */
void sitq__unstorable_result_message(size_t len, const char *why, char *buf, size_t size);

#endif
