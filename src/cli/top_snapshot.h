/*
 * top_snapshot.h - what one refresh of `sitq top` reads from the store,
 * through the same public calls as `sitq queues`, `sitq workers` and
 * `sitq list --status failed`: each queue's counts by status (as `sitq
 * queues` counts them, but each status up to a cap, so that a refresh
 * costs the same whatever the backlog), the registry of workers, and the running and the
 * latest failed tasks (newest id first), read queue by queue on the
 * (queue, status) index and only from the queues whose counts have such
 * tasks: a read over every queue at once cannot seek that index. Those
 * reads are bounded, whatever the number of finished tasks.
 */
#ifndef SITQ_CLI_TOP_SNAPSHOT_H
#define SITQ_CLI_TOP_SNAPSHOT_H

#include <stddef.h>

#include "sitq.h"

/** Most running tasks a snapshot reads (to show what the workers run). */
#define TOP_RUNNING_MAX 200
/** Failed tasks a snapshot reads. */
#define TOP_FAILURES_MAX 5
/** Default of --count-cap: most tasks of one status a refresh counts. */
#define TOP_COUNT_CAP_DEFAULT 100000

/** One queue's counts. */
typedef struct top_queue {
    char *name;
    sitq_stats st;
    unsigned at_cap; /**< bit 1u << s: st.count[s] is the cap, a lower bound */
    int paused;
} top_queue;

/** One refresh's data; every pointer is owned by the snapshot. */
typedef struct top_snapshot {
    sitq_time_us at_us; /**< when it was taken */
    top_queue *queues;  /**< sorted by name */
    size_t n_queues;
    sitq_stats sum;            /**< the queues' counts added up */
    unsigned sum_at_cap;       /**< bit 1u << s: sum.count[s] adds a bound in */
    int64_t cap;               /**< the cap the counts were read with */
    sitq_worker_info *workers; /**< running, dead and stopped (sitq_workers_list) */
    size_t n_workers;
    sitq_result **running; /**< running tasks, newest id first */
    size_t n_running;
    sitq_result **failures; /**< latest failed tasks, newest id first */
    size_t n_failures;
} top_snapshot;

/**
 * Read a snapshot of backend into *s (zeroed first), of every queue, or of
 * the queue named `queue` (NULL: every queue; the workers are read all,
 * see top_worker_serves), each status counted up to cap
 * (sitq_get_stats_bounded). Returns SITQ_OK, or the library's error with
 * err filled and *s empty.
 */
sitq_code top_snapshot_take(sitq_backend *backend, const char *queue, int64_t cap, top_snapshot *s,
                            sitq_error *err);

/** Release what a snapshot holds and zero it. */
void top_snapshot_free(top_snapshot *s);

#endif /* SITQ_CLI_TOP_SNAPSHOT_H */
