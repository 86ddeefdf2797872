/* backend.h - the storage seam: the interface every backend implements
 * (SQLite in src/backend/sqlite/; a PostgreSQL one can implement it without
 * reading SQLite's code).
 *
 * Split of work. Below the seam is mechanism: storing tasks, guarded state
 * transitions in transactions, claiming, the database's clock, and (when the
 * store has them) notifications between processes and hosts. Above it, in
 * src/core/ and src/worker/, is policy: argument checks, when to claim,
 * batching, lease timing on the monotonic clock, timeouts, waits and their
 * back-off. No SQL and no backend type exists above the seam.
 *
 * Conventions for every op (unless its comment says otherwise):
 * - `b` is the backend the op belongs to; `queue` a valid queue name
 *   (1..SITQ_NAME_MAX bytes), checked by the core before the call.
 * - Return SITQ_OK with `err` set by sitq__ok, or a code with `err` filled
 *   (sitq__fail; err may be NULL). On failure, out parameters are left as
 *   documented ("unset" means the caller must not read them) and nothing of
 *   the call was committed unless the op says so.
 * - Errors any op may return: SITQ_ESTORAGE (the store failed; the message
 *   names it), SITQ_EBUSY (another process held a lock past the backend's
 *   timeout; nothing written), SITQ_ENOMEM; a write on a read-only
 *   backend fails with SITQ_ESTORAGE. Ops list the others they return.
 * - Thread-safety: every op may be called from any thread, concurrently with
 *   every other op of the same backend, except close (once, after every other
 *   call returned). The backend serialises what it must.
 * - Blocking: ops block for the duration of their statements; a write may
 *   wait for other processes' locks up to the backend's busy timeout (SQLite:
 *   busy_timeout_ms, 30 s by default). No op waits for a task to change
 *   state except wait_change.
 * - Ownership: inputs stay the caller's and are never modified (fields
 *   marked "out" are the only ones an op writes); memory an op returns
 *   through an out parameter is malloc'd and becomes the caller's.
 * - Times: sitq_time_us is UTC microseconds. Times the backend writes into a
 *   row (leases, finish times it makes up) are on the backend's clock, which
 *   may differ from this host's; the core converts through db_now_us of a
 *   cycle and never compares its own wall clock with a deadline the backend
 *   set. Deadlines of waits are on this process's monotonic clock
 *   (sitq__mono_us). */
#ifndef SITQ_BACKEND_H
#define SITQ_BACKEND_H

#include "sitq.h"

#include <pthread.h>
#include <stdint.h>

/* Version of this interface. A backend sets sitq__backend_ops.version to the
 * value it was written against; sitq__backend_head_init refuses any other,
 * so a backend built for another layout fails at open instead of misreading
 * fields. Bump it on every change of an op's signature or a struct below. */
#define SITQ__BACKEND_VERSION 21

/* A task handed to a worker by a claim (cycle or claim_id). Every field is
 * out, written by the backend into an entry of the caller's array. The
 * strings and buffers are malloc'd and owned by the caller from then on;
 * free them with sitq__claimed_clear. */
typedef struct sitq__claimed {
    sitq_task_id id;
    char *function;       /* the task's function name (never NULL) */
    void *payload;        /* NULL when payload_external (or an empty payload) */
    size_t payload_len;   /* 0 when payload_external */
    int payload_external; /* large payload not read by the claim: the worker reads it
                             with ops->payload right before the run, outside the
                             write path */
    int start_recorded;   /* the attempt was already counted (claim_id counts at claim) */
    int start_first;      /* the task lost leases before its start was recorded: the
                            worker must commit its start (sitq__start) before running it,
                            so that a task that kills its worker at once still spends
                            its attempts */
    int32_t attempt;      /* the attempt this run will be, 1-based */
    int32_t max_retries;
    int32_t priority;
    sitq_time_us run_at_us;
    int64_t timeout_us;          /* 0 = none; any value a row holds (the worker clamps) */
    int64_t lease_token;         /* proves ownership in every later transition */
    sitq_time_us lease_until_us; /* on the backend's clock: compare only with the
                                    cycle's db_now_us */
    size_t queue_index;          /* the task's queue: its index in the cycle's queues */
} sitq__claimed;

/* Order of claimed tasks within one queue: priority (highest first), then
 * run_at_us, then id. For qsort. */
int sitq__claimed_cmp(const void *a, const void *b);

/* Free what a claimed entry owns and zero its pointers (safe on a zeroed
 * entry). */
void sitq__claimed_clear(sitq__claimed *c);

/* The outcome of one attempt, to be recorded by a cycle. The inputs are the
 * caller's and stay untouched; the backend writes only the out fields. */
typedef struct sitq__completion {
    sitq_task_id id;
    int64_t lease_token;
    int ok;                      /* 1 succeeded, 0 failed */
    void *value;                 /* result bytes (ok), may be NULL for an empty result */
    size_t value_len;            /* at most sitq_backend_blob_max minus the payload */
    char *error;                 /* failure message (!ok); NULL: a default message */
    char *traceback;             /* optional (!ok) */
    sitq_time_us started_at_us;  /* this host's clock: when the attempt started,
                                   recorded with the outcome if its start was not yet */
    sitq_time_us finished_at_us; /* this host's clock */
    size_t queue_index;          /* the task's queue: its index in the cycle's queues
                                    (succeeded counts are kept per queue) */
    int retry_left;              /* worker-side, for its metrics: a failure of this
                                    attempt leaves a retry (backends ignore it) */
    int cancel_seen;             /* worker-side, for its completion function: the
                                    store asked to cancel the task while this
                                    worker held it (backends ignore it) */
    int retry;                   /* a failure: what the handler asked of its retry
                                    (SITQ__RETRY_*, lifecycle.h), for the facts */
    int64_t retry_after_us;      /* SITQ__RETRY_AFTER: its delay, microseconds */
    int resent;                  /* worker-side, for its completion function: sent
                                    again after a cycle that failed, whose commit
                                    may have recorded it (backends ignore it) */
    /* out: 1 recorded, 0 dropped (the lease was lost: a newer attempt owns
     * the task). Set for every completion of a cycle that returns SITQ_OK,
     * or that returns an error with completions_committed set. */
    int applied;
    /* out: 1 when a success could not be stored (the store refused its
     * result) and was recorded as a failed attempt instead, with
     * stored_error as its message; 0 otherwise. */
    int stored_as_failure;
    /* out: the message recorded with stored_as_failure (malloc'd by the
     * backend, owned by the caller; NULL when not stored_as_failure or out of
     * memory). sitq__completion_clear frees it. */
    char *stored_error;
    /* out: which monotonic counter the recorded outcome adds to
     * (sitq__total_kind; SITQ__TOTAL_NONE when not applied). Set for every
     * completion, as applied. */
    int outcome;
} sitq__completion;

/* The monotonic counters a backend adds per queue (sitq_totals but
 * enqueued, which enqueue counts itself), as indexes of sitq__tally. */
typedef enum sitq__total_kind {
    SITQ__TOTAL_NONE = -1,
    SITQ__TOTAL_SUCCEEDED = 0,
    SITQ__TOTAL_FAILED,
    SITQ__TOTAL_RETRIED,
    SITQ__TOTAL_LOST,
    SITQ__TOTAL_CANCELLED,
    SITQ__TOTAL_KINDS
} sitq__total_kind;

/* What one commit adds to one queue's counters. */
typedef struct sitq__tally {
    int64_t n[SITQ__TOTAL_KINDS];
} sitq__tally;

/* The counter of a failed attempt's verdict (a stored state of
 * core/lifecycle.h): queued again is a retry, failed, cancelled. */
struct sitq__cycle;
sitq__total_kind sitq__total_of_verdict(int state);
/* Add the outcomes of the cycle's completions to t[0..n_queues) (zeroed
 * first), by their queue_index; 1 when any is non-zero. */
int sitq__tally_completions(const struct sitq__cycle *cy, sitq__tally *t);
/* 1 when t adds anything. */
int sitq__tally_any(const sitq__tally *t);

/* A success whose result the store refused is recorded as a failed attempt
 * instead, so that one task's result never blocks a group commit. The
 * backend writes the failure *f that sitq__unstorable_failure makes from *k,
 * then reports the write's outcome with sitq__unstorable_report; the
 * decisions (the message, what is copied, what k reports) are the core's.
 *
 * sitq__unstorable_failure: *f becomes a copy of *k with ok = 0, no value,
 * out fields zeroed and error = msg, which receives (size bytes;
 * SITQ_ERROR_MESSAGE_SIZE is enough) a message naming the result's size and
 * why (the store's reason; NULL: a generic one). f borrows msg and k's other
 * pointers: it must not outlive them and is never cleared. k is not
 * changed. Pure; any thread. */
void sitq__unstorable_failure(const sitq__completion *k, const char *why, char *msg, size_t size,
                              sitq__completion *f);

/* After the backend recorded f (from sitq__unstorable_failure) with result
 * rc: k->applied = f->applied, and when rc is SITQ_OK and f was applied,
 * k->stored_as_failure = 1 and k->stored_error a malloc'd copy of f's
 * message (the caller's to free; NULL when out of memory). k's inputs stay
 * as they were. Any thread. */
void sitq__unstorable_report(sitq__completion *k, const sitq__completion *f, sitq_code rc);

/* The start of an attempt of a claimed task: from the commit on, a lost
 * lease spends the attempt. Until then the task counts as never started.
 * Input only; a start whose lease is no longer held is silently ignored. */
typedef struct sitq__start {
    sitq_task_id id;
    int64_t lease_token;
    sitq_time_us started_at_us; /* this host's clock */
} sitq__start;

/* A lease renewal of a task still held; also reads the cancel flag. */
typedef struct sitq__heartbeat {
    sitq_task_id id;
    int64_t lease_token;
    double progress;             /* 0..1, or < 0: leave unchanged */
    int cancel_requested;        /* out: sitq_cancel asked the running task to stop */
    int lost;                    /* out: the lease is no longer ours (nothing renewed) */
    sitq_time_us lease_until_us; /* out (when !lost): the renewed deadline, on the
                                    backend's clock like the cycle's db_now_us */
} sitq__heartbeat;

/* A claimed task given back unstarted (does not count as an attempt). Input
 * only; one whose lease is no longer held is silently ignored. */
typedef struct sitq__release {
    sitq_task_id id;
    int64_t lease_token;
} sitq__release;

/* A worker's row in the registry of workers, written by the cycle that
 * carries it (sitq__cycle.record) under the cycle's worker_id: inserted or
 * replaced whole, with its lease measured like the cycle's (db_now_us +
 * lease_us). Input only. List texts are sitq__names_join's encoding. */
typedef struct sitq__worker_record {
    const char *host;
    int64_t pid;
    const char *queues;    /* the queues served, sitq__names_join */
    const char *functions; /* handler names, prefixes with their '*' */
    int concurrency;
    sitq_time_us started_at_us; /* this host's clock */
    int64_t succeeded, failed, lost;
    int stopped; /* a clean stop: the row is marked stopped (now) */
} sitq__worker_record;

/* One worker cycle: everything a dispatcher has to write, in ONE transaction
 * where the store allows (group commit of completions, starts, releases,
 * lease renewals, lease recovery and a batched claim, in that order). Input
 * fields and the arrays they point to stay the caller's and are not changed;
 * the backend writes the fields marked out and the out fields of the array
 * entries. Any part may be empty. */
typedef struct sitq__cycle {
    /* The worker's queues, 1..SITQ_WORKER_QUEUES_MAX distinct names (required
     * when completions, reap, claim_max or live_horizon_us ask for them).
     * Claimed tasks and completions name their queue by its index here. */
    const char *const *queues;
    size_t n_queues;
    const char *worker_id; /* recorded with claims (the lapsed-lease note names it) */
    sitq__completion *completions;
    size_t n_completions;
    sitq__heartbeat *heartbeats;
    size_t n_heartbeats;
    sitq__release *releases;
    size_t n_releases;
    sitq__start *starts;
    size_t n_starts;
    int64_t lease_us; /* lease duration for claims and renewals (> 0 when either) */
    int reap;         /* recover tasks of the queues whose lease lapsed */
    /* The claim takes only tasks whose function is one of `functions`
     * (exact names) or starts with one of `prefixes` (names without the
     * trailing '*'); each a valid name. Both may be empty (no claim then). */
    const char *const *functions;
    size_t n_functions;
    const char *const *prefixes;
    size_t n_prefixes;
    size_t claim_max; /* 0: claim nothing */
    /* How the claim goes over the queues (sitq__claim_rounds, which every
     * backend's claim runs): it starts with queues[claim_first] and goes
     * round. claim_share 0: each queue takes what is left of claim_max before
     * the next one is asked (priority order). claim_share k > 0: each queue
     * takes at most k in a first round, and a second round fills what is left
     * from the queues that had more (round-robin). */
    size_t claim_first, claim_share;
    sitq__claimed *claimed; /* caller's array of claim_max entries; out: entries
                               0..n_claimed-1 filled, one run per queue asked,
                               each in priority, run_at, id order */
    size_t n_claimed;       /* out; 0 on error (nothing held) */
    /* Ask for next_run_at_us. A backend that wakes waiters of other
     * processes (wait_change) lets them poll rarely; this tells them when
     * a task not yet due (an ETA, a retry's backoff) becomes due. */
    int want_next_run_at;
    /* out: when want_next_run_at and the claim took fewer than claim_max,
     * the earliest run_at_us (clients' clock, as given to enqueue) of a
     * queued task of the queue that is not yet due; 0 when there is none,
     * or when the backend does not look (its callers poll often). */
    sitq_time_us next_run_at_us;
    /* Burst mode: when > 0 and the claim took nothing, the backend sets `live`
     * in the same transaction: 1 when one of the queues holds a task whose
     * function the claim would take and that is running, waiting on
     * dependencies, or queued with run_at_us <= live_horizon_us (clients'
     * clock); 0 when none does. Not looked at (live 1) otherwise. */
    sitq_time_us live_horizon_us;
    int live; /* out */
    /* out: the backend's clock at the moment leases of this cycle were
     * measured from: every lease_until_us written (claims, renewals) is
     * db_now_us + lease_us on that clock. A caller turns such a deadline into
     * its monotonic clock as mono_before_call + (lease_until_us - db_now_us). */
    sitq_time_us db_now_us;
    size_t n_finished;         /* out: tasks that reached a terminal status */
    size_t n_reaped;           /* out: lapsed leases recovered */
    int touched_dependents;    /* out: 1 when a success of this cycle lowered a dependent's
                                  count of pending dependencies (and so may have made it
                                  ready); 0 otherwise. The core tells this process's waiters
                                  "ready" only for this, failures, releases and recovered
                                  leases, not for every success */
    int limit_held;            /* out: 1 when a queue's concurrency or rate limit held this
                                  cycle's claim back: nothing taken for it, or all it
                                  allowed while the worker had room for more
                                  (next_run_at_us then includes when to look again). The
                                  worker then claims again after its next success, which
                                  may free a slot */
    int completions_committed; /* out: the completions were committed (their `applied`
                                  set) even though the cycle returned an error: a backend
                                  may commit large results before the rest of the cycle */
    /* The worker's registry row to write in this transaction (NULL: leave
     * it alone); the backend may also delete rows of workers stopped or dead
     * for a day. Cycles with nothing else may carry only this. */
    const sitq__worker_record *record;
} sitq__cycle;

/* Claims up to `limit` ready tasks of cy->queues[queue_index] (whose
 * functions the cycle names) into cy->claimed[cy->n_claimed...], adding them
 * to cy->n_claimed, under the backend's write transaction; arg is the
 * backend's. On error nothing needs undoing here (the transaction fails). */
typedef sitq_code (*sitq__claim_queue_fn)(void *arg, sitq__cycle *cy, size_t queue_index,
                                          size_t limit, sitq_error *err);

/* The one claim path of every backend: asks `fn` for the queues of the cycle
 * in the order claim_first and claim_share say (see sitq__cycle), stops at
 * claim_max, marks each claimed entry with its queue_index and sorts each
 * queue's run in claim order. A single queue is one call of fn. */
sitq_code sitq__claim_rounds(sitq__cycle *cy, sitq__claim_queue_fn fn, void *arg, sitq_error *err);

/* Events a wait can be for (bit mask, wait_change and sitq__backend_wait). */
#define SITQ__EV_FINISHED 1u /* a task of the queue reached a terminal status */
#define SITQ__EV_READY    2u /* tasks of the queue became ready to claim */

/* The head's event counters, as a waiter saw them before it looked at the
 * state it waits on (sitq__backend_gens). */
typedef struct sitq__gens {
    uint64_t finished; /* finished_gen */
    uint64_t enqueued; /* enqueued_gen */
    uint64_t wakes;    /* wake_gen */
} sitq__gens;

/* One tick of a schedule, fired by the schedule_fire op (core/schedule.c
 * decides the times; the backend applies them in one transaction). */
typedef struct sitq__schedule_fire {
    int64_t id;                    /* the schedule */
    const char *queue;             /* its queue */
    sitq_time_us expected_next_us; /* the next_fire_us the caller read: the guard */
    sitq_time_us tick_us;          /* the tick handled (the task's run_at) */
    sitq_time_us new_next_us;      /* the next tick to store */
    int enqueue;                   /* 0: move on without a task (a skipped missed tick) */
    int outcome;                   /* out: a SITQ__FIRE_* value */
    sitq_task_id task_id;          /* out: the task enqueued (SITQ__FIRE_ENQUEUED), else 0 */
} sitq__schedule_fire;

#define SITQ__FIRE_LOST                                                                            \
    0                         /* the guard failed: fired by another caller, paused,
                                 removed or changed; nothing written */
#define SITQ__FIRE_ENQUEUED 1 /* moved on and enqueued the task */
#define SITQ__FIRE_OVERLAP  2 /* moved on without a task: the previous one is live */
#define SITQ__FIRE_MOVED    3 /* moved on without a task, as asked (enqueue 0) */

/* What the schedule_set op does. */
#define SITQ__SCHED_REMOVE 0
#define SITQ__SCHED_PAUSE  1
#define SITQ__SCHED_RESUME 2
/* One window of the retention walk (ops->expire). Inputs are the caller's;
 * the backend writes the out fields. */
typedef struct sitq__expire {
    sitq_task_id after_id; /* look at the tasks of id > after_id, in id order */
    size_t max_rows;       /* at most this many of them (>= 1) */
    sitq_time_us now_us;   /* this host's clock, as the finish times stored */
    /* Retention of queues without one stored, microseconds; -1 forever. */
    int64_t succeeded_us, failed_us;
    sitq_task_id last_id; /* out: the highest id looked at; 0 when there was
                             none above after_id (the walk is over) */
    int64_t purged;       /* out: tasks deleted */
} sitq__expire;
/* A change of a queue's limits (limit_write): either its pause
 * (set_paused: paused 0 or 1, the rest ignored) or the concurrency and rate
 * limit of the queue (function NULL) or of one function in it, replacing
 * what it had (concurrency 0 and rate_count 0 remove it). remove: clear
 * the limit, failing with SITQ_ENOTFOUND (nothing written) when there was
 * none, so that a removal reports whether it removed anything; the
 * concurrency and rate fields are then ignored. Checked by the core. */
typedef struct sitq__limit_write {
    int set_paused;
    int paused;
    int remove;
    const char *function;
    int64_t concurrency, rate_count, rate_interval_us;
} sitq__limit_write;

typedef struct sitq__backend_ops {
    /* SITQ__BACKEND_VERSION, checked by sitq__backend_head_init. */
    int version;
    /* Short name of the backend ("sqlite"), for messages. */
    const char *name;
    /* Largest payload, and largest payload + result of one task, in bytes:
     * what the store can hold in one task. Copied into the head's blob_max
     * at init (sitq_backend_blob_max); the core refuses larger ones before
     * they reach the backend. */
    size_t blob_max;

    /* Release everything, including the memory of b. Called once, after
     * every other call on b returned. Cannot fail. */
    void (*close)(sitq_backend *b);

    /* Insert n >= 1 tasks (checked by the core: names, options, payload
     * sizes, depends_on_index of earlier tasks only) atomically: all or
     * none. Out: ids[i] the id of specs[i] (on success only; an existing
     * live task's id when its unique_key matched). Ids are positive and
     * never reused in a store. Extra errors: SITQ_EDEPENDENCY (an unknown
     * depends_on id), SITQ_EINVAL. May block behind other enqueues of the
     * process (they may be committed together). */
    sitq_code (*enqueue)(sitq_backend *b, const char *queue, const sitq_task_spec *specs, size_t n,
                         sitq_task_id *ids, sitq_error *err);

    /* Read task id of queue, with its result value, error and dependencies.
     * Out: *out a new result (free with sitq_result_free) on success, NULL
     * on failure. Extra error: SITQ_ENOTFOUND. Never blocks on writers. */
    sitq_code (*get)(sitq_backend *b, const char *queue, sitq_task_id id, sitq_result **out,
                     sitq_error *err);

    /* As get, with at most value_max bytes of the result read (the rest is
     * never read, whatever its size): value holds the first
     * min(value_max, size) bytes, value_len their number, and *value_size
     * the result's full size (0 without one), read in the same snapshot as
     * the row. Never blocks on writers. */
    sitq_code (*get_prefix)(sitq_backend *b, const char *queue, sitq_task_id id, size_t value_max,
                            sitq_result **out, size_t *value_size, sitq_error *err);

    /* Read the payload of task id. Out: *out (malloc'd, NULL for an empty
     * payload) and *len on success; unset on failure. Extra error:
     * SITQ_ENOTFOUND. Never blocks on writers. */
    sitq_code (*payload)(sitq_backend *b, const char *queue, sitq_task_id id, void **out,
                         size_t *len, sitq_error *err);

    /* Cancel task id: a queued, scheduled or waiting task is cancelled now
     * (its dependents fail), a running one gets its cancel flag (its
     * worker sees it with its next heartbeat). Out (on success):
     * *out_status SITQ_CANCELLED or SITQ_RUNNING, *n_finished increased by
     * the tasks that reached a terminal status (the task and its
     * dependents). Extra errors: SITQ_ENOTFOUND, SITQ_ESTATE (already
     * finished). */
    sitq_code (*cancel)(sitq_backend *b, const char *queue, sitq_task_id id,
                        sitq_status *out_status, size_t *n_finished, sitq_error *err);

    /* Queue a failed or cancelled task again, with every failed or
     * cancelled task downstream of it (reached through failed or cancelled
     * tasks; one that also depends on another failed task stays), in
     * ascending id order, in one transaction; waiting finalizers that depend
     * on a retried task wait for it again (see lifecycle.c's "retry").
     * Extra errors: SITQ_ENOTFOUND, SITQ_ESTATE (not failed or cancelled,
     * a failed dependency of its own, or another live task holds a unique
     * key to retry). */
    sitq_code (*retry)(sitq_backend *b, const char *queue, sitq_task_id id, sitq_error *err);

    /* Counts of the queue's tasks by status (*out zeroed by the core first;
     * partially filled on failure). Never blocks on writers. */
    sitq_code (*stats)(sitq_backend *b, const char *queue, sitq_stats *out, sitq_error *err);

    /* Counts of the queue's tasks by status, each read up to cap + 1
     * (cap >= 1 and < INT64_MAX, checked by the core) index entries: the
     * cost is bounded by cap per status (queued and scheduled: per distinct
     * priority of the queue's queued tasks, found by a skip scan), whatever
     * the store holds. Out: out->count[s] (zeroed by the core first) is
     * the exact count when at most cap, else some number above cap (the
     * core caps it); succeeded is the stored count, exact; out->total is
     * left to the core. Partially filled on failure. Never blocks on
     * writers. */
    sitq_code (*stats_bounded)(sitq_backend *b, const char *queue, int64_t cap, sitq_stats *out,
                               sitq_error *err);

    /* The queue's monotonic counters (*out zeroed by the core first; left
     * zero for a queue without counters). Never blocks on writers. */
    sitq_code (*totals)(sitq_backend *b, const char *queue, sitq_totals *out, sitq_error *err);

    /* The queue's monotonic counters but enqueued (left as the core set
     * it): the counters' row (PostgreSQL: its shard rows) only, no count
     * of the tasks stored. Never blocks on writers. */
    sitq_code (*counters)(sitq_backend *b, const char *queue, sitq_totals *out, sitq_error *err);

    /* The earliest run_at (UTC microseconds) among the queue's queued tasks
     * (ready or scheduled), 0 when it has none, into *run_at_us. Reads a
     * few index entries (one per distinct priority), never the backlog;
     * never blocks on writers. */
    sitq_code (*oldest_ready)(sitq_backend *b, const char *queue, sitq_time_us *run_at_us,
                              sitq_error *err);

    /* The names of the store's queues: every queue that holds a task that
     * is not succeeded, or has ever counted a succeeded one (purged or not),
     * sorted bytewise, each once. Out: *names a malloc'd array of *count
     * malloc'd strings (free each, then the array; NULL and 0 when there is
     * none or on failure). Cost: one index seek per queue in each of the
     * partial indexes of unfinished and failed tasks, plus the per-queue
     * rows of the succeeded counts, never a scan of the tasks. Never
     * blocks on writers. */
    sitq_code (*queues)(sitq_backend *b, char ***names, size_t *count, sitq_error *err);

    /* The queue of task id (task ids are unique in the store, across
     * queues): one primary-key lookup. Out: *queue malloc'd (the caller's),
     * NULL on failure. Extra error: SITQ_ENOTFOUND. Never blocks on
     * writers. */
    sitq_code (*task_queue)(sitq_backend *b, sitq_task_id id, char **queue, sitq_error *err);

    /* The dependents of task id (the tasks whose edges name it), ascending
     * ids, at most limit (>= 1, checked by the core): one range of the
     * edges' primary key (depends_on, task_id). Out: *ids malloc'd (the
     * caller's; NULL when none or on failure), *count. Never blocks on
     * writers. */
    sitq_code (*dependents)(sitq_backend *b, sitq_task_id id, size_t limit, sitq_task_id **ids,
                            size_t *count, sitq_error *err);

    /* The tasks of ids (n in 1..SITQ_IDS_MAX, each > 0, checked by the
     * core; repeats allowed), as list returns them (no value or traceback;
     * value_len, error, depends_on, finalizer), ascending ids, each once,
     * the unknown ones left out. Out: *items a malloc'd array of *count
     * results (the caller's), NULL and 0 on failure or when none exists.
     * Cost: one primary-key lookup per id and one index range per result
     * for its dependencies; PostgreSQL sends both as one statement each
     * (ids as an array), so that the round trips do not grow with n.
     * Never blocks on writers. */
    sitq_code (*get_many)(sitq_backend *b, const sitq_task_id *ids, size_t n, sitq_result ***items,
                          size_t *count, sitq_error *err);

    /* The dependents of each of ids (n in 1..SITQ_IDS_MAX, each > 0; limit
     * >= 1 per id; checked by the core), as dependents gives them. Out:
     * *pairs a malloc'd array of 2 * *count ids (the caller's; NULL and 0
     * when none or on failure): (dependency, dependent) pairs sorted by
     * both, each once. Cost: one range of the edges' primary key per id;
     * one statement on PostgreSQL. Never blocks on writers. */
    sitq_code (*dependents_many)(sitq_backend *b, const sitq_task_id *ids, size_t n, size_t limit,
                                 sitq_task_id **pairs, size_t *count, sitq_error *err);

    /* Measure the store (sitq_store_health; every field set to -1 by the
     * core first: the backend sets what it measures, also partially on
     * failure, which the core then resets). Never blocks on writers. */
    sitq_code (*health)(sitq_backend *b, sitq_store_health *out, sitq_error *err);

    /* Up to f->limit (1..1000000) tasks that f selects (checked by the
     * core: status, names, bounds; f->queue NULL is every queue), in id
     * order (newest first unless f->oldest_first), skipping f->offset. Each
     * result has no value or traceback (NULL) but its value_len, error,
     * depends_on and finalizer. Out: *items a malloc'd array of *count
     * results (free each with sitq_result_free, then the array); NULL and 0
     * on failure or when empty. Cost: reads tasks in id order (through the
     * status's partial index when there is one) until limit match, plus one
     * index lookup per result for its dependencies. Never blocks on
     * writers. */
    sitq_code (*list)(sitq_backend *b, const sitq_list_filter *f, sitq_result ***items,
                      size_t *count, sitq_error *err);

    /* Count the tasks that f selects (limit, offset, order ignored), up to
     * cap (>= 1): *count = min(count, cap), so that the cost is bounded by
     * cap rows. Never blocks on writers. */
    sitq_code (*count)(sitq_backend *b, const sitq_list_filter *f, int64_t cap, int64_t *count,
                       sitq_error *err);

    /* Delete finished tasks (succeeded, failed, cancelled) of the queue that
     * finished before before_us (UTC; the backend compares with its stored
     * finish times), except those a dependent still queued, waiting or
     * running depends on (it may read their results). Out: *purged the number deleted, also on failure (what
     * was deleted before the failure stays deleted: purge may commit in
     * several short transactions). */
    sitq_code (*purge)(sitq_backend *b, const char *queue, sitq_time_us before_us, int64_t *purged,
                       sitq_error *err);

    /* Retention (see sitq_retention; durations in microseconds, -1 forever,
     * as stored). retention_set stores the queue's retention, or deletes it
     * when r is NULL (the queue follows the defaults again); r's fields are
     * checked by the core. retention_get reads it into *out; *found 0 (and
     * *out unset) when the queue has none. Never blocks on writers. */
    sitq_code (*retention_set)(sitq_backend *b, const char *queue, const int64_t *succeeded_us,
                               const int64_t *failed_us, sitq_error *err);
    sitq_code (*retention_get)(sitq_backend *b, const char *queue, int64_t *succeeded_us,
                               int64_t *failed_us, int *found, sitq_error *err);

    /* One window of the retention walk: among the x->max_rows tasks of
     * lowest id above x->after_id, delete those finished whose retention
     * (the task's keep_us, else its queue's, else x's defaults) expired by
     * x->now_us, except those a dependent queued, waiting or running depends
     * on, with their payloads, results and dependency edges, in one short
     * write transaction (none when a read finds nothing to delete). Ids are
     * never reused after. Out: x->last_id, x->purged. */
    sitq_code (*expire)(sitq_backend *b, sitq__expire *x, sitq_error *err);

    /* The finished task of lowest id of the queue: *oldest_id (0 when none)
     * and its *finished_us. Never blocks on writers. */
    sitq_code (*retained)(sitq_backend *b, const char *queue, sitq_task_id *oldest_id,
                          sitq_time_us *finished_us, sitq_error *err);

    /* The worker's write path; see sitq__cycle. Every transition out of
     * `running` is guarded by the lease token. On error nothing was
     * committed (no claim holds: n_claimed is 0, claimed entries freed),
     * except the completions when completions_committed is set. Blocks for
     * the transaction, and for other processes' locks up to the busy
     * timeout. */
    sitq_code (*cycle)(sitq_backend *b, sitq__cycle *c, sitq_error *err);

    /* Claim the given task id of c->queue if it is ready and queued; its
     * attempt is counted at once (start_recorded). Reads c->queue,
     * c->worker_id and c->lease_us; writes c->claimed[0] (c->claim_max >= 1),
     * c->n_claimed and c->db_now_us. The function is not checked: the caller
     * checked it against its handlers. Out: *snapshot NULL on success; on
     * SITQ_ENOTREADY (waiting, scheduled, running or finished) the task as it
     * is, owned by the caller. Extra errors: SITQ_ENOTFOUND, SITQ_ENOTREADY. */
    sitq_code (*claim_id)(sitq_backend *b, sitq_task_id id, sitq__cycle *c, sitq_result **snapshot,
                          sitq_error *err);

    /* Optional (NULL: the core waits on the head's condition variable and
     * polls), and used only while the head's `notifies` is set. Block until an event of `events` (SITQ__EV_*) may have happened
     * in `queue` in any process or host, or until deadline_mono_us (this
     * process's monotonic clock, microseconds) has passed, or soon after the
     * head's counters differ from *seen (an event or wake-up of this
     * process: sitq__backend_notify and sitq__backend_wake bump them and
     * broadcast notify_cv). Spurious returns are allowed: the caller looks at
     * the state again after every return. Returns 1 when woken (an event may
     * have happened), 0 when the deadline passed, -1 when it cannot wait
     * (connection lost: the caller falls back to the head's condition
     * variable for this wait and retries the op later). Called without any
     * lock held, from any thread, by several threads at once.
     * A PostgreSQL backend can implement it with LISTEN on a connection of
     * its own: one listener thread turns each NOTIFY (sent by the
     * transactions that finish or ready tasks) into sitq__backend_notify,
     * and the op waits on notify_cv until the counters move or the
     * deadline. */
    int (*wait_change)(sitq_backend *b, const char *queue, unsigned events, const sitq__gens *seen,
                       int64_t deadline_mono_us);

    /* Dependencies of a running task, read by its handler (pipelines).
     * Edges keep the position each dependency was declared at (dense,
     * 0-based: sitq__deps_collect); a dependency purged after it succeeded
     * and all its dependents finished has lost its edge. Both read on a
     * reader connection, never under the writer lock, and copy nothing into
     * the dependent's row. */
    /* Out: *count one more than the highest position among task id's edges
     * (0 when it has none). */
    sitq_code (*dep_count)(sitq_backend *b, const char *queue, sitq_task_id id, size_t *count,
                           sitq_error *err);
    /* Read the dependency at position `index` of task id, in one lookup:
     * *out a new result (depends_on not filled), NULL on failure. Extra
     * error: SITQ_ENOTFOUND (no edge at that position, or its task was
     * purged). */
    sitq_code (*dep_result)(sitq_backend *b, const char *queue, sitq_task_id id, size_t index,
                            sitq_result **out, sitq_error *err);
    /* Read positions first .. first + n - 1 of task id's edges in one
     * statement (n >= 1, checked by the core). out is the caller's array of
     * n entries, all NULL on entry: out[i] receives a new result for
     * position first + i (depends_on not filled), or stays NULL when that
     * position has no edge or its task was purged. On failure every entry is
     * NULL again (the op frees what it had set). */
    sitq_code (*dep_results)(sitq_backend *b, const char *queue, sitq_task_id id, size_t first,
                             size_t n, sitq_result **out, sitq_error *err);
    /* As dep_results, but only each dependency's id, status, value and
     * error, into the caller's array of n entries, all zero on entry: out[i]
     * is filled for position first + i, or stays zero (id 0) when that
     * position has no edge or its task was purged. value and error are
     * malloc'd and owned by the caller from then on. On failure every entry
     * is zero again (the op frees what it had set). */
    sitq_code (*dep_values)(sitq_backend *b, const char *queue, sitq_task_id id, size_t first,
                            size_t n, sitq_dependency_value *out, sitq_error *err);

    /* The registry of workers (sitq_workers_list): every row, or those not
     * stopped when !include_stopped, sorted by worker id, with state judged
     * on the store's clock now and running / n_held read from the running
     * tasks' worker_id. Out: *out a malloc'd array of *count entries (free
     * with sitq_workers_free; NULL and 0 when empty or on failure). A store
     * without a registry yet lists nothing. Never blocks on writers. */
    sitq_code (*workers)(sitq_backend *b, int include_stopped, sitq_worker_info **out,
                         size_t *count, sitq_error *err);

    /* Periodic schedules (table sitq_schedules; core/schedule.c holds the
     * policy). Store s (checked by the core; its id, last_* and created_at
     * fields ignored) with payload. Extra error: SITQ_EINVAL (a schedule of
     * that name exists in the queue). */
    sitq_code (*schedule_add)(sitq_backend *b, const sitq_schedule *s, const void *payload,
                              size_t payload_len, sitq_error *err);
    /* The schedules of queue (NULL: all), sorted by queue then name. Out:
     * *items a malloc'd array of *count (sitq_schedule_free each); NULL and
     * 0 when empty or on failure. Never blocks on writers. */
    sitq_code (*schedule_list)(sitq_backend *b, const char *queue, sitq_schedule ***items,
                               size_t *count, sitq_error *err);
    /* Remove, pause or resume (what: SITQ__SCHED_*) the schedule name of
     * queue; resume stores next_us as its next tick when it was paused.
     * Extra error: SITQ_ENOTFOUND. */
    sitq_code (*schedule_set)(sitq_backend *b, const char *queue, const char *name, int what,
                              sitq_time_us next_us, sitq_error *err);
    /* In ONE write transaction: if schedule f->id is not paused and its
     * next_fire_us is still f->expected_next_us, store f->new_next_us and
     * f->tick_us as its last tick, and (when f->enqueue) enqueue its task
     * with run_at f->tick_us and record its id, unless allow_overlap is off
     * and the task it enqueued last is queued, waiting or running (then no
     * task). Out: f->outcome, f->task_id (both set on SITQ_OK). Waiters of
     * the queue are told of a new task (notifications as for enqueue). */
    sitq_code (*schedule_fire)(sitq_backend *b, sitq__schedule_fire *f, sitq_error *err);

    /* Store a change of the queue's limits (see sitq__limit_write) in one
     * transaction; a limit row left with no pause and no limit is deleted.
     * Claims that begin after the commit obey it. */
    sitq_code (*limit_write)(sitq_backend *b, const char *queue, const sitq__limit_write *w,
                             sitq_error *err);
    /* The queue's limits: *out a malloc'd array of *count entries (the
     * queue's own first, then by function name; functions malloc'd; free
     * with sitq_limits_free), NULL and 0 when none or on failure. Never
     * blocks on writers. */
    sitq_code (*limit_list)(sitq_backend *b, const char *queue, sitq_limit **out, size_t *count,
                            sitq_error *err);
} sitq__backend_ops;

/* Common head of every backend, its first member: the ops, the store's
 * limit, and in-process notification of events so that waits and workers of
 * this process wake at once. */
struct sitq_backend {
    const sitq__backend_ops *ops;
    size_t blob_max; /* ops->blob_max, or less if the backend lowered it after init */
    /* Capability: 1 when wait_change can wake on changes made by other
     * processes and hosts (the core then waits through it and polls seldom),
     * 0 when it cannot (the core waits on notify_cv and polls for them).
     * Set by sitq__backend_head_init to ops->wait_change != NULL; a backend
     * whose instance cannot be notified (a PostgreSQL one opened poll_only)
     * clears it after init, before the backend is handed out, so that one
     * ops table serves both. Never changes afterwards. */
    int notifies;
    pthread_mutex_t notify_mu;
    pthread_cond_t notify_cv; /* monotonic clock; broadcast on every counter bump */
    uint64_t finished_gen;    /* under notify_mu: bumped when tasks reach a terminal status */
    uint64_t enqueued_gen;    /* under notify_mu: bumped when tasks become ready */
    uint64_t wake_gen;        /* under notify_mu: bumped by every notify and wake */
};

/* Initialise the common head (a monotonic-clock condvar; blob_max and
 * notifies from ops). 0, or -1 when
 * ops->version is not SITQ__BACKEND_VERSION or a mutex cannot be made
 * (then nothing needs destroying). */
int sitq__backend_head_init(sitq_backend *b, const sitq__backend_ops *ops);
void sitq__backend_head_destroy(sitq_backend *b);

/* Bump the finished and/or enqueued counters and wake every waiter of this
 * process. Any thread; takes notify_mu briefly. */
void sitq__backend_notify(sitq_backend *b, int finished, int enqueued);

/* 1 when waits of this backend wake on other processes' events
 * (wait_change), so that polling is only their fallback; 0 otherwise. */
int sitq__backend_notifies(const sitq_backend *b);

/* Wake every waiter of this process without an event (a worker's handler
 * threads waking its dispatcher). Any thread; takes notify_mu briefly. */
void sitq__backend_wake(sitq_backend *b);

/* The head's counters now (takes notify_mu). Read them before looking at the
 * state a wait is for, so that an event in between is not missed. */
sitq__gens sitq__backend_gens(sitq_backend *b);

/* Another reason for sitq__backend_wait to stop waiting, checked under
 * notify_mu after every wake-up (NULL: none); returns nonzero to stop. */
typedef int (*sitq__wait_stop_fn)(void *arg);

/* The one place the core waits for an event: until one of `events` moved
 * past *seen, stop(arg) returns nonzero, or deadline_mono_us. Uses the
 * backend's wait_change when the head's notifies is set (events of other processes and hosts
 * then wake it too), else the head's condition variable (other processes
 * are seen by the caller's polling). Returns 1 when woken by an event (or
 * possibly spuriously), 0 at the deadline. Any thread, no lock held. */
int sitq__backend_wait(sitq_backend *b, const char *queue, unsigned events, const sitq__gens *seen,
                       int64_t deadline_mono_us, sitq__wait_stop_fn stop, void *arg);

/* A zeroed result to fill (sitq_result_free frees it); NULL when out of
 * memory. */
sitq_result *sitq__result_alloc(void);

#endif
