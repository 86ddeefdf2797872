/* worker_internal.h - the worker's shared structures (worker.c, ctx.c,
 * registry.c, process_task.c). */
#ifndef SITQ_WORKER_INTERNAL_H
#define SITQ_WORKER_INTERNAL_H

#include "backend/backend.h"
#include "core/internal.h"
#include "core/lifecycle.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct handler {
    char *name; /* without the trailing '*' for prefixes */
    size_t len;
    int prefix;
    sitq_handler_fn fn;
    void *user_data;
} handler;

typedef struct sitq__wmetrics sitq__wmetrics;

/* One claimed task, from claim to completion. */
struct sitq_task_ctx {
    sitq_worker *w;
    sitq__claimed t;
    const handler *h;
    int64_t lease_until_mono_us; /* the lease's end on this process's monotonic clock
                                    (under w->mu once the ctx is listed) */
    atomic_int cancel;           /* cancel requested, timed out or lease lost */
    atomic_int cancel_asked;     /* the store asked to cancel it (a heartbeat saw it) */
    atomic_int lost;             /* the lease is no longer ours */
    atomic_int abandoned;        /* a timeout was recorded: drop the handler's outcome */
    int64_t deadline_mono_us;    /* 0 = no timeout */
    int in_executor;             /* counted in n_exec_running */
    sitq_time_us started_at_us;  /* wall clock at the start of the run; 0 = not started */
    int64_t started_mono_us;     /* the same, monotonic */
    int start_marked; /* the attempt has begun: its start may be recorded (under w->mu) */
    int start_sent;   /* its start is in a cycle being committed (under w->mu) */
    pthread_t thread; /* the handler thread running it (in_executor) */
    int detached;     /* under w->mu: a stop left its stuck thread behind */
    void *value;
    size_t value_len;
    size_t result_too_big; /* bytes of a refused oversized result, or 0 */
    char *error;
    char *traceback;
    int retry;                         /* sitq_ctx_retry_after / no_retry: SITQ__RETRY_* */
    int64_t retry_after_us;            /* SITQ__RETRY_AFTER's delay */
    size_t n_deps;                     /* sitq_ctx_dependency_count, once n_deps_known */
    int n_deps_known;                  /* the handler's thread only */
    struct sitq_task_ctx *prev, *next; /* ready FIFO or running list */
};

typedef struct ctx_list {
    sitq_task_ctx *head, *tail;
    size_t n;
} ctx_list;

struct sitq_worker {
    sitq_queue *queue;   /* the first queue served (its backend is the worker's) */
    const char **qnames; /* the names of the queues served, in the user's order, as
                            cycles take them (queues.c; the queues own the text) */
    size_t n_queues;
    size_t rr_next; /* round-robin: the queue whose turn starts the next claim
                       (the dispatcher thread's own) */
    int drained;    /* under mu: burst mode found the queues drained and stopped */
    sitq_backend *b;
    sitq_worker_options opts;
    char *id;
    int64_t lease_us, poll_us, heartbeat_us;
    int want_next_run_at; /* idle claims ask when the next task becomes due */
    /* sitq_backend_blob_max of the backend, kept here: a handler thread left
     * behind by a stop may set a result after the backend was closed. */
    size_t blob_max;

    handler *handlers;
    size_t n_handlers;
    /* The handlers' names as a claim filters on them (registry.c): exact
     * names, and prefixes without their '*'; pointers into handlers[]. */
    const char **fn_names, **px_names;
    size_t n_fn_names, n_px_names;

    pthread_mutex_t life_mu; /* serialises start/stop */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* ready tasks for executors; dispatcher exit for stop */
    ctx_list ready;    /* claimed, not started */
    ctx_list running;  /* started (executors and process_task) */
    size_t n_exec_running;
    sitq__completion *done; /* completions waiting for the next commit */
    size_t n_done, cap_done;
    sitq__release *rel; /* releases waiting for the next commit */
    size_t n_rel, cap_rel;
    int started, stopping, dispatcher_done, n_exec_alive;
    pthread_t dispatcher;
    pthread_t *execs;
    int n_execs;
    atomic_uint_fast64_t events;      /* bumped on anything the dispatcher must see */
    sitq_worker_stats stats;          /* under mu */
    double avg_run_us;                /* moving average of handler time; under mu */
    int64_t done_since_us;            /* monotonic time of the oldest pending completion */
    int claim_wake_sent;              /* an executor already asked for a batch claim */
    int n_stuck;                      /* handler threads still in a timed-out handler */
    int64_t start_since_us;           /* monotonic time of the oldest start not yet sent to be
                                    recorded, 0 = none (under mu) */
    sitq_completion_fn on_completion; /* set before start; see completion_hook.c */
    void *on_completion_data;
    int abandon_running;   /* a bounded shutdown: record running tasks failed now */
    atomic_int stop_asked; /* a stop was asked (sitq__set_call_abort's flag) */
    int refs;              /* under mu: the owner + handler threads left behind */
    int n_ctx_writes;      /* under mu: handler heartbeats writing the database */
    /* The worker's row in the registry of workers (record.c), built at
     * start: host name, queues and handler names as stored. */
    char *rec_host, *rec_queues, *rec_functions;
    sitq_time_us rec_started_at_us;
    /* Periodic schedules of the queues (schedules.c; the dispatcher's own):
     * the cache, and the monotonic time of the next look at them. */
    struct sitq__worker_sched *sched;
    int64_t sched_check_at;
    unsigned sched_gen;            /* sitq__schedule_gen when the schedules were last read */
    struct sitq__janitor *janitor; /* the retention thread (retention.c); NULL when none */
    sitq__wmetrics *wm; /* under mu: this process's metrics (wmetrics.c); NULL until used */
};

/* wmetrics.c: the worker process's metrics; every call under w->mu. */
/* An attempt of c ended now with outcome k (not yet committed): its run
 * time (from c->started_mono_us) and queue wait go into the histograms, and
 * k->retry_left is set for sitq__wmetrics_outcome. */
void sitq__wmetrics_attempt(sitq_worker *w, const sitq_task_ctx *c, sitq__completion *k);
/* Outcome k was committed: counted succeeded, failed, retried, or lost
 * when it was dropped (!k->applied). */
void sitq__wmetrics_outcome(sitq_worker *w, const sitq__completion *k);
/* Count a finished attempt in the worker's counters (sitq_worker_stats):
 * succeeded, cancelled (a cancel was seen) or failed. Caller holds w->mu. */
void sitq__stats_count(sitq_worker_stats *s, const sitq__completion *k);
/* Outcome k was committed: a dropped one (!k->applied) counts as lost, and
 * a success the store recorded as a failed attempt (k->stored_as_failure:
 * its result was refused) moves from succeeded to failed. Caller holds
 * w->mu. */
void sitq__stats_outcome(sitq_worker_stats *s, const sitq__completion *k);
/* Free them (sitq_worker_free). */
void sitq__wmetrics_free(sitq_worker *w);

/* ctx.c */
/* A deadline the backend set (lease_until_us, on its clock) as a time of
 * this process's monotonic clock: mono_before + (lease_until_us -
 * db_now_us), where mono_before was read before the call that returned
 * db_now_us was sent (conservative: never later than the real deadline). */
int64_t sitq__lease_mono(int64_t mono_before, sitq_time_us lease_until_us, sitq_time_us db_now_us);
/* A ctx for a claimed task (takes ownership of t's buffers and zeroes t);
 * mono_before and db_now_us are those of the claim (sitq__lease_mono). NULL
 * when out of memory (t untouched). */
sitq_task_ctx *sitq__ctx_new(sitq_worker *w, sitq__claimed *t, const handler *h,
                             int64_t mono_before, sitq_time_us db_now_us);
void sitq__ctx_free(sitq_task_ctx *ctx);
void sitq__ctx_list_push(ctx_list *l, sitq_task_ctx *c);
sitq_task_ctx *sitq__ctx_list_pop(ctx_list *l);
void sitq__ctx_list_remove(ctx_list *l, sitq_task_ctx *c);
/* Run the handler and turn its outcome into a completion (moves buffers). */
void sitq__ctx_run(sitq_task_ctx *ctx, sitq__completion *out);
/* Grace after a timeout before the attempt is recorded failed without the
 * handler: the worker's timeout_grace_s, or by default 10% of the timeout,
 * within 0.5..5 s (microseconds). */
int64_t sitq__ctx_grace_us(const sitq_task_ctx *ctx);
/* The timeout message of an attempt, "timed out after S s (attempt N)". */
void sitq__ctx_timeout_message(const sitq_task_ctx *ctx, char *buf, size_t n);
/* After the handler returned: if it ran past its timeout, turn its outcome
 * into a timeout failure (keeping the handler's own error text after it). */
void sitq__ctx_apply_timeout(sitq_task_ctx *ctx, sitq__completion *k);
/* Read a large payload that the claim left in storage (the caller does not
 * hold w->mu). On failure the error names the task; the attempt then fails. */
sitq_code sitq__ctx_load_payload(sitq_task_ctx *ctx, sitq_error *err);
/* Build a failure completion with a message. */
void sitq__ctx_fail_completion(sitq_task_ctx *ctx, const char *msg, sitq__completion *out);
void sitq__completion_clear(sitq__completion *k);

/* queues.c: a worker of several queues. */
/* Check the queues of sitq_worker_create_multi (distinct names, one
 * backend). */
sitq_code sitq__worker_check_queues(sitq_queue *const *queues, size_t n, sitq_error *err);
/* Keep the queues' names in w (w->queue is the first queue). -1 when out
 * of memory. */
int sitq__worker_set_queues(sitq_worker *w, sitq_queue *const *queues, size_t n);
void sitq__worker_free_queues(sitq_worker *w);
/* The name of the queue of ctx's task. */
const char *sitq__ctx_queue(const sitq_task_ctx *ctx);
/* The claim's order for a claim of up to room tasks (dispatcher thread):
 * sets cy->claim_first and cy->claim_share from the worker's queue_order
 * (round-robin: the turn that sitq__worker_queue_ready moved on). */
void sitq__worker_claim_order(sitq_worker *w, size_t room, sitq__cycle *cy);
/* Move claimed contexts (in claim order; emptied) to the ready list for the
 * handler threads (w->mu held), in the order the queue_order gives: after
 * every ready task of their queue or a queue before it (priority), or
 * alternating between queues from `first` (round-robin). */
void sitq__worker_queue_ready(sitq_worker *w, ctx_list *claimed, size_t first);

/* completion_hook.c: tell the user what a commit did with its completions
 * (dispatcher thread, after a successful commit, no lock held). */
void sitq__worker_report_completions(sitq_worker *w, const sitq__completion *comps, size_t n);

/* record.c: the worker's row in the registry of workers. */
/* Build the row's fixed part at start (w->mu held; handlers registered).
 * SITQ_OK or SITQ_ENOMEM. */
sitq_code sitq__record_build(sitq_worker *w, sitq_error *err);
/* The row as of now, counts included (w->mu held); r borrows w's texts. */
void sitq__record_fill(const sitq_worker *w, int stopped, sitq__worker_record *r);
/* Free the row's texts (worker_destroy). */
void sitq__record_free(sitq_worker *w);

/* registry.c */
const handler *sitq__registry_find(const sitq_worker *w, const char *function);
/* Fill w->fn_names / w->px_names from the handlers (at start, w->mu held). */
sitq_code sitq__registry_build_names(sitq_worker *w, sitq_error *err);

/* schedules.c: fire the due ticks of the queues' schedules, re-reading
 * them now and then, and set w->sched_check_at to the next time to look
 * (dispatcher thread, no lock held). */
typedef struct sitq__worker_sched sitq__worker_sched;
void sitq__worker_schedules(sitq_worker *w, int64_t now_mono);
/* 1 when this process changed a schedule since they were last read. */
int sitq__worker_schedules_changed(const sitq_worker *w);
/* Free the cache (dispatcher thread, at its exit). */
void sitq__worker_schedules_free(sitq_worker *w);
/* The retention thread (retention.c): started with the worker when
 * opts.retention is set (0; -1 when it cannot be, and the worker runs
 * without it), stopped and joined before the worker's other threads. Both
 * under life_mu. */
int sitq__janitor_start(sitq_worker *w);
void sitq__janitor_stop(sitq_worker *w);

/* worker.c */
void sitq__worker_wake(sitq_worker *w);

/* SITQ_OK, or SITQ_ESTATE when the calling thread is one of w's handler
 * threads: what (a stop or a wait for w's end) would wait for the task
 * the caller runs, which cannot end before the call returns. */
sitq_code sitq__worker_refuse_own_thread(const sitq_worker *w, const char *what, sitq_error *err);
/* Mark this thread as running a handler of w (NULL: none) for
 * sitq__worker_refuse_own_thread; returns the previous mark to restore. */
const sitq_worker *sitq__worker_serving(const sitq_worker *w);
/* Queue a completion for the dispatcher's next commit (caller holds mu). */
int sitq__worker_push_done(sitq_worker *w, sitq__completion *k);
/* Ask the dispatcher to record the start of c's attempt (w->mu held; it may
 * be released while waiting). A task that lost a lease before its start was
 * recorded (start_first) may kill its worker at once: this waits until its
 * start is committed, so that such a task still spends its attempts; it
 * returns early if the lease is lost meanwhile (c->lost). */
void sitq__worker_request_start(sitq_worker *w, sitq_task_ctx *c);
/* Find a ctx of the running or ready list by id and lease token (mu held). */
sitq_task_ctx *sitq__worker_find_ctx(sitq_worker *w, sitq_task_id id, int64_t token);

#endif
