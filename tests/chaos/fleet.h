/* fleet.h - a set of worker processes (`sitq worker`, `python -m sitq
 * worker` or the harness's own x-worker) on one database, killed with
 * SIGKILL and restarted at chosen moments. */
#ifndef SITQ_CHAOS_FLEET_H
#define SITQ_CHAOS_FLEET_H

#include "chaos.h"

#define FLEET_MAX_WORKERS 64
#define FLEET_MAX_KILLS   4096

/** What a fleet runs (chaos_fleet.kind). */
enum { FLEET_SITQ = 0, FLEET_PYTHON = 1, FLEET_X = 2 };

typedef struct chaos_fleet {
    const chaos_opts *o;
    int kind;      /* FLEET_SITQ: sitq worker; FLEET_PYTHON: python -m sitq worker;
                      FLEET_X: sitq_chaos --role x-worker, logging to dir/runs.log */
    char dir[512]; /* worker logs go here */
    char db[1200];
    char xlog[600]; /* FLEET_X: the execution log ("K PID" appended at each kill) */
    pid_t pids[FLEET_MAX_WORKERS];
    int logno[FLEET_MAX_WORKERS]; /* log file number of each worker */
    int n;
    int started; /* workers started so far (log file numbers) */
    int revived; /* restarts of workers that exited on their own */
    pid_t killed[FLEET_MAX_KILLS];
    int64_t killed_ms[FLEET_MAX_KILLS]; /* when each was killed (monotonic), until sorted */
    size_t n_killed;
} chaos_fleet;

/** Start o->workers workers (kind: FLEET_*) on db; logs go to dir/worker-N.log.
 * Each worker's PostgreSQL connections carry application_name chaos_wN
 * (N: its log number). */
void chaos_fleet_start(chaos_fleet *f, const chaos_opts *o, int kind, const char *dir,
                       const char *db);
/** SIGKILL worker i, wait for it, remember its pid and the moment of its
 * death, and start a replacement. */
void chaos_fleet_kill(chaos_fleet *f, int i);
/** SIGTERM every worker and wait (SIGKILL after grace_ms); returns how many
 * did not exit 0 on their own. */
int chaos_fleet_stop(chaos_fleet *f, int grace_ms);
/** Restart workers that exited on their own; returns how many. */
int chaos_fleet_revive(chaos_fleet *f);
/**
 * Run until every task of q is finished or o->deadline_s passes, killing a
 * random worker each time the number of finished tasks passes one of
 * o->kills random points, restarting workers that exit, sampling the WAL.
 * Returns 1 on timeout (after printing diagnostics), else 0.
 */
int chaos_fleet_drive(chaos_fleet *f, sitq_queue *q, chaos_wal *wal, chaos_rng *rng,
                      int64_t n_tasks);
/**
 * Stop the workers (SIGTERM), wait until every process they left has ended,
 * sort the killed pids. Returns the number of workers that did not stop
 * cleanly (plus 1 when processes outlived the wait).
 */
int chaos_fleet_finish(chaos_fleet *f);
/** When pid was killed (monotonic ms), or -1: not killed. Valid until the
 * killed pids are sorted. */
int64_t chaos_fleet_killed_at(const chaos_fleet *f, pid_t pid);
/** Sort killed pids (for chaos_runlog_count). */
void chaos_fleet_sort_killed(chaos_fleet *f);
/**
 * Count, per task id, the attempts the `sitq worker` logs say started
 * ("task ID attempt N: running"). ids must be sorted ascending; counts[i]
 * receives the number for ids[i].
 */
void chaos_fleet_log_starts(const chaos_fleet *f, const sitq_task_id *ids, size_t n, int *counts);
/** Print the tail of every worker log on stderr (diagnostics). */
void chaos_fleet_dump_logs(const chaos_fleet *f, int lines);

#endif
