/*
 * top_rate.h - the throughput of `sitq top`: attempts finished per second
 * over the last minute, from the successive samples of the registry of
 * workers that the view takes itself.
 *
 * Why the workers' counters and not the tasks: every worker keeps in its
 * registry row the attempts it finished (succeeded, failed), counters that
 * only grow while it lives and that a purge or the queue's retention never
 * touches. The counts of tasks by status, or the finish times of recent
 * tasks, shrink when finished tasks are deleted (and a count by finish
 * time would walk the tasks), so they would read a purge as negative work.
 * Between two samples each worker adds what its counters grew by; a worker
 * absent from the previous sample (it started since) or restarted under
 * the same id (an earlier start time) adds all of its counts. A worker
 * that disappears (pruned a day after it stopped) adds nothing.
 */
#ifndef SITQ_CLI_TOP_RATE_H
#define SITQ_CLI_TOP_RATE_H

#include <stddef.h>
#include <stdint.h>

#include "sitq.h"

/** How far back the throughput looks, in seconds. */
#define TOP_RATE_WINDOW_S 60.0
/** Intervals kept: enough for the window at the shortest refresh (0.1 s). */
#define TOP_RATE_RING 700

/** One worker's counters at the previous sample. */
typedef struct top_rate_worker {
    char *id;
    sitq_time_us started_at_us;
    int64_t succeeded;
    int64_t failed;
} top_rate_worker;

/** One interval between two samples and the attempts finished in it. */
typedef struct top_rate_interval {
    sitq_time_us end_us;
    double span_s;
    int64_t succeeded;
    int64_t failed;
} top_rate_interval;

/** The tracker; zero it with top_rate_init, release it with top_rate_free. */
typedef struct top_rate {
    top_rate_worker *prev;
    size_t n_prev;
    sitq_time_us prev_at_us; /**< time of the previous sample; 0 before the first */
    top_rate_interval ring[TOP_RATE_RING];
    size_t head; /**< next slot to write */
    size_t n;    /**< intervals stored */
} top_rate;

/** The throughput over the window (top_rate_get). */
typedef struct top_rate_value {
    int known;          /**< 0 until two samples were taken */
    double span_s;      /**< seconds the figures cover (at most the window) */
    double succeeded_s; /**< succeeded attempts per second */
    double failed_s;    /**< failed attempts per second (timeouts included) */
} top_rate_value;

/** 1 when worker w serves queue (every worker serves queue NULL), else 0. */
int top_worker_serves(const sitq_worker_info *w, const char *queue);

/** Start an empty tracker. */
void top_rate_init(top_rate *r);

/** Release what the tracker holds (it can be initialised again). */
void top_rate_free(top_rate *r);

/**
 * Add a sample taken at now_us: the workers ws[0..n) (with those stopped,
 * so that a worker's last attempts before it stopped still count), of
 * which only those that serve `queue` count (NULL: all; a worker of
 * several queues counts all of its attempts).
 * Returns 0, or -1 when memory runs out (the tracker then starts over at
 * the next sample).
 */
int top_rate_add(top_rate *r, const sitq_worker_info *ws, size_t n, const char *queue,
                 sitq_time_us now_us);

/** The throughput over the last TOP_RATE_WINDOW_S seconds before now_us. */
top_rate_value top_rate_get(const top_rate *r, sitq_time_us now_us);

#endif /* SITQ_CLI_TOP_RATE_H */
