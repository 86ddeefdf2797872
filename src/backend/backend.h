/* backend.h - the storage interface every backend implements (SQLite now,
 * PostgreSQL next). All SQL lives behind it; the core and the worker speak
 * only in these terms. */
#ifndef SITQ_BACKEND_H
#define SITQ_BACKEND_H

#include "sitq.h"

#include <pthread.h>
#include <stdint.h>

/* A task handed to a worker by a claim. Owned by the claimer; free with
 * sitq__claimed_clear. */
typedef struct sitq__claimed {
    sitq_task_id id;
    char *function;
    void *payload; /* NULL when payload_external */
    size_t payload_len;
    int payload_external; /* large payload: read it with ops->payload before the run,
                             outside the write path */
    int start_recorded;   /* the attempt was counted at claim (process_task) */
    int start_first;      /* the task lost leases before its start was recorded: the
                            worker must commit its start (sitq__start) before running it,
                            so that a task that kills its worker at once still spends
                            its attempts */
    int32_t attempt;      /* this attempt, 1-based */
    int32_t max_retries;
    int32_t priority;
    sitq_time_us run_at_us;
    int64_t timeout_us;  /* 0 = none */
    int64_t lease_token; /* proves ownership in every later transition */
    sitq_time_us lease_until_us;
} sitq__claimed;

void sitq__claimed_clear(sitq__claimed *c);

/* The outcome of one attempt, to be recorded. */
typedef struct sitq__completion {
    sitq_task_id id;
    int64_t lease_token;
    int ok;      /* 1 succeeded, 0 failed */
    void *value; /* result bytes (ok) */
    size_t value_len;
    char *error; /* failure message (!ok) */
    char *traceback;
    sitq_time_us started_at_us; /* when the attempt started: recorded with the
                                    outcome if its start was not recorded yet */
    sitq_time_us finished_at_us;
    int applied; /* out: 1 recorded, 0 dropped (lease lost) */
} sitq__completion;

/* The start of an attempt of a claimed task: from the commit on, a lost
 * lease spends the attempt. Until then the task counts as never started. */
typedef struct sitq__start {
    sitq_task_id id;
    int64_t lease_token;
    sitq_time_us started_at_us;
} sitq__start;

/* A lease renewal of a task still held; also reads the cancel flag. */
typedef struct sitq__heartbeat {
    sitq_task_id id;
    int64_t lease_token;
    double progress;      /* < 0: leave unchanged */
    int cancel_requested; /* out */
    int lost;             /* out: the lease is no longer ours */
} sitq__heartbeat;

/* A claimed task given back unstarted (does not count as an attempt). */
typedef struct sitq__release {
    sitq_task_id id;
    int64_t lease_token;
} sitq__release;

/* One worker cycle: everything a dispatcher has to write, done in ONE
 * transaction (group commit of completions, lease renewals, releases, lease
 * recovery and a batched claim). */
typedef struct sitq__cycle {
    const char *queue;
    const char *worker_id;
    sitq__completion *completions;
    size_t n_completions;
    sitq__heartbeat *heartbeats;
    size_t n_heartbeats;
    sitq__release *releases;
    size_t n_releases;
    sitq__start *starts;
    size_t n_starts;
    int64_t lease_us;           /* lease duration for claims and renewals */
    int reap;                   /* recover tasks whose lease lapsed */
    const char *functions_json; /* JSON array of exact function names */
    const char *prefixes_json;  /* JSON array of name prefixes */
    size_t claim_max;           /* 0: claim nothing */
    sitq__claimed *claimed;     /* caller's array of claim_max entries */
    size_t n_claimed;           /* out */
    size_t n_finished;          /* out: tasks that reached a terminal status */
    size_t n_reaped;            /* out: expired leases recovered */
    int completions_committed;  /* out: the completions were committed (their `applied`
                                   set) even though the cycle returned an error: large
                                   results are committed before the rest of the cycle */
} sitq__cycle;

typedef struct sitq__backend_ops {
    const char *name;
    void (*close)(sitq_backend *b);
    sitq_code (*enqueue)(sitq_backend *b, const char *queue, const sitq_task_spec *specs, size_t n,
                         sitq_task_id *ids, sitq_error *err);
    sitq_code (*get)(sitq_backend *b, const char *queue, sitq_task_id id, int with_value,
                     sitq_result **out, sitq_error *err);
    sitq_code (*payload)(sitq_backend *b, const char *queue, sitq_task_id id, void **out,
                         size_t *len, sitq_error *err);
    sitq_code (*cancel)(sitq_backend *b, const char *queue, sitq_task_id id,
                        sitq_status *out_status, size_t *n_finished, sitq_error *err);
    sitq_code (*retry)(sitq_backend *b, const char *queue, sitq_task_id id, sitq_error *err);
    sitq_code (*stats)(sitq_backend *b, const char *queue, sitq_stats *out, sitq_error *err);
    sitq_code (*list)(sitq_backend *b, const char *queue, int status, size_t limit, size_t offset,
                      sitq_result ***items, size_t *count, sitq_error *err);
    sitq_code (*purge)(sitq_backend *b, const char *queue, sitq_time_us before_us, int64_t *purged,
                       sitq_error *err);
    sitq_code (*cycle)(sitq_backend *b, sitq__cycle *c, sitq_error *err);
    /* Claim one given task if it is ready and its function is among the
     * worker's. SITQ_ENOTREADY / SITQ_ENOHANDLER leave *snapshot set. */
    sitq_code (*claim_id)(sitq_backend *b, const char *queue, sitq_task_id id, sitq__cycle *c,
                          sitq_result **snapshot, sitq_error *err);
} sitq__backend_ops;

/* Common head of every backend: in-process notification of events so that
 * waits and workers of this process wake at once. */
struct sitq_backend {
    const sitq__backend_ops *ops;
    pthread_mutex_t notify_mu;
    pthread_cond_t notify_cv;
    uint64_t finished_gen; /* bumped when tasks reach a terminal status */
    uint64_t enqueued_gen; /* bumped when tasks become ready */
};

/* Initialise / destroy the common head (uses a monotonic-clock condvar). */
int sitq__backend_head_init(sitq_backend *b, const sitq__backend_ops *ops);
void sitq__backend_head_destroy(sitq_backend *b);

/* Bump a generation counter and wake every waiter of this process. */
void sitq__backend_notify(sitq_backend *b, int finished, int enqueued);

/* Wait on the notify condvar until deadline_mono_us (monotonic microseconds);
 * caller holds notify_mu. */
void sitq__backend_wait_until(sitq_backend *b, int64_t deadline_mono_us);

/* Free the strings and buffers a result owns, and the result. */
sitq_result *sitq__result_alloc(void);

#endif
