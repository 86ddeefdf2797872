/* limit_claim.h - the claim of one queue under its stored limits (pause,
 * concurrency, rate): the core decides how many tasks of which functions a
 * claim may take, the backend reads the rows, counts running tasks and
 * claims, all in its claim transaction. */
#ifndef SITQ_LIMIT_CLAIM_H
#define SITQ_LIMIT_CLAIM_H

#include "backend/backend.h"

/* One stored limit row of a queue, as a backend read it in the claim's
 * transaction (locked against other claims of the queue). */
typedef struct sitq__limit_row {
    char *function; /* NULL: the queue's own row; owned by the backend's reader */
    int paused;
    int64_t concurrency, rate_count, rate_interval_us;
    sitq_time_us next_start_us; /* rate: the earliest the next start may be */
} sitq__limit_row;

/* What the limited claim asks of the backend, in its transaction. */
typedef struct sitq__limit_io {
    /* *n = running tasks of the queue (function NULL) or of one function in it. */
    sitq_code (*running)(void *arg, const char *queue, const char *function, int64_t *n,
                         sitq_error *err);
    /* Claim up to limit ready tasks of cy->queues[qi] (adding to cy->claimed
     * and n_claimed as the plain claim does): only `function` when it is not
     * NULL, else the worker's functions and prefixes except the n_excluded
     * names of `excluded`. */
    sitq_code (*claim)(void *arg, sitq__cycle *cy, size_t qi, size_t limit, const char *function,
                       const char *const *excluded, size_t n_excluded, sitq_error *err);
    /* Store a row's new next_start_us after starts were taken. */
    sitq_code (*rate_write)(void *arg, const char *queue, const char *function,
                            sitq_time_us next_start_us, sitq_error *err);
} sitq__limit_io;

/* How many starts a rate row allows at now, at most want: 0 when the next
 * is not yet due (*due_us then the time it is), else k >= 1 and
 * *next_us the row's next_start_us after k starts. Pure. */
int64_t sitq__rate_grant(const sitq__limit_row *r, sitq_time_us now, int64_t want,
                         sitq_time_us *next_us, sitq_time_us *due_us);

/* 1 when the worker of cy would run `function` (its exact names or
 * prefixes). Pure. */
int sitq__cycle_handles(const sitq__cycle *cy, const char *function);

/* Claim up to `limit` tasks of cy->queues[qi] under its n rows (n >= 1),
 * at time now (the clock next_start_us is kept on). *wake_us (when > 0 on
 * return) is when a claim blocked by a limit may succeed: the next start a
 * rate allows, or soon for a concurrency limit; left alone otherwise.
 * SITQ_OK, or the first error of io (the transaction then fails). */
sitq_code sitq__limited_claim(const sitq__limit_io *io, void *arg, sitq__cycle *cy, size_t qi,
                              size_t limit, const sitq__limit_row *rows, size_t n, sitq_time_us now,
                              sitq_time_us *wake_us, sitq_error *err);

/* How soon a claim blocked by a concurrency limit looks again. */
#define SITQ__LIMIT_RECHECK_US 50000

#endif
