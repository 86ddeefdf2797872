/* pg_ops.c - operator actions: cancel, retry, purge. Each reads the task's
 * state under a row lock, asks core/lifecycle.h what to do, and applies the
 * verdict in the same transaction. */
#include "pg.h"

#include <string.h>

/* Read and lock a task's stored state. */
static sitq_code task_state(pg_conn *c, const char *queue, sitq_task_id id, int *state,
                            sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, id);
    pg_p_text(&p, queue);
    PGresult *r = pg_run(c, PG_TASK_STATE, &p, err, "reading a task's state");
    if (!r) return pg_code(err);
    sitq_code rc = SITQ_OK;
    if (PQntuples(r) == 1) *state = (int)pg_i64(r, 0, 0);
    else
        rc = sitq__fail(err, SITQ_ENOTFOUND, "task %lld does not exist in queue '%s'",
                        (long long)id, queue);
    PQclear(r);
    return rc;
}

typedef struct cancel_arg {
    const char *queue;
    sitq_task_id id;
    sitq_status out;
    size_t n_finished;
} cancel_arg;

static sitq_code cancel_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    (void)b;
    cancel_arg *a = arg;
    a->n_finished = 0;
    int state = -1;
    sitq_code rc = task_state(c, a->queue, a->id, &state, err);
    sitq__cancel_action action;
    if (!rc) rc = sitq__decide_cancel(a->id, state, &action, err);
    if (rc) return rc;
    if (action == SITQ__CANCEL_NOW) {
        a->out = SITQ_CANCELLED;
        rc = pg_finish_failed(c, a->id, SITQ__CANCELLED, SITQ__CANCELLED_MESSAGE, NULL,
                              sitq_now_us(), &a->n_finished, err);
        sitq__tally t = {{0}};
        t.n[SITQ__TOTAL_CANCELLED] = 1;
        if (!rc) rc = pg_count_totals(c, a->queue, &t, err);
        /* ready too: the cancel may have released finalizers */
        return rc ? rc : pg_notify_queue(c, a->queue, 1, 1, err);
    }
    a->out = SITQ_RUNNING;
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, a->id);
    return pg_exec(c, PG_SET_CANCEL_FLAG, &p, err, "setting a cancel flag");
}

sitq_code pg_cancel(sitq_backend *base, const char *queue, sitq_task_id id, sitq_status *out,
                    size_t *n_finished, sitq_error *err) {
    cancel_arg a = {queue, id, SITQ_QUEUED, 0};
    sitq_code rc = pg_write_txn((pg_backend *)base, cancel_body, &a, err);
    if (rc) return rc;
    *out = a.out;
    if (n_finished) *n_finished += a.n_finished;
    return sitq__ok(err);
}

typedef struct retry_arg {
    const char *queue;
    sitq_task_id id;
} retry_arg;

/* Retry task id inside the transaction (see sq_retry): the task the caller
 * named (root) is refused when a dependency of its own failed; a task
 * downstream of it is then left as it is. *ready is set when one became
 * queued. */
static sitq_code retry_one(pg_conn *c, sitq_task_id id, int root, int *ready, sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, id);
    /* Parents locked first, so that none finishes while this reads them. */
    sitq_code rc = pg_exec(c, PG_RETRY_LOCK_DEPS, &p, err, "locking dependencies");
    if (rc) return rc;
    PGresult *r = pg_run(c, PG_RETRY_DEPS, &p, err, "reading dependencies");
    if (!r) return pg_code(err);
    int64_t pending = pg_i64(r, 0, 0);
    sitq_task_id bad_dep = pg_i64(r, 0, 1);
    if (pg_i64(r, 0, 2)) { /* a finalizer: only unfinished dependencies count */
        pending = pg_i64(r, 0, 3);
        bad_dep = 0;
    }
    PQclear(r);
    if (bad_dep && !root) return SITQ_OK;
    rc = sitq__check_retry_dependencies(id, bad_dep, err);
    if (rc) return rc;
    pg_p_i64(&p, sitq__retry_state(pending));
    pg_p_i64(&p, pending);
    pg_p_i64(&p, sitq_now_us());
    r = pg_run(c, PG_RETRY_SET, &p, err, "retrying a task");
    if (!r) {
        if (!strcmp(c->sqlstate, "23505")) return sitq__retry_unique_conflict(id, err);
        return pg_code(err);
    }
    PQclear(r);
    if (pending == 0) *ready = 1;
    pg_params q;
    pg_p_init(&q);
    pg_p_i64(&q, id);
    return pg_exec(c, PG_RETRY_REARM, &q, err, "rearming finalizers");
}

static sitq_code retry_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    (void)b;
    retry_arg *a = arg;
    int state = -1;
    sitq_code rc = task_state(c, a->queue, a->id, &state, err);
    if (!rc) rc = sitq__check_retry(a->id, state, err);
    if (rc) return rc;
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, a->id);
    PGresult *down = pg_run(c, PG_RETRY_WALK, &p, err, "walking dependents");
    if (!down) return pg_code(err);
    int ready = 0;
    rc = retry_one(c, a->id, 1, &ready, err);
    for (int i = 0; !rc && i < PQntuples(down); i++)
        rc = retry_one(c, pg_i64(down, i, 0), 0, &ready, err);
    PQclear(down);
    return rc ? rc : pg_notify_queue(c, a->queue, 0, ready, err);
}

sitq_code pg_retry(sitq_backend *base, const char *queue, sitq_task_id id, sitq_error *err) {
    retry_arg a = {queue, id};
    sitq_code rc = pg_write_txn((pg_backend *)base, retry_body, &a, err);
    return rc ? rc : sitq__ok(err);
}

/* Ids per purge transaction: short transactions keep workers moving. */
#define PURGE_WINDOW 20000

typedef struct purge_arg {
    const char *queue;
    sitq_time_us before_us;
    sitq_task_id lo, hi;
    int64_t purged; /* out: this window */
    sitq_task_id next;
} purge_arg;

static sitq_code range_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    (void)b;
    purge_arg *a = arg;
    PGresult *r = pg_run(c, PG_ID_RANGE, NULL, err, "reading the id range");
    if (!r) return pg_code(err);
    a->lo = pg_i64(r, 0, 0);
    a->hi = pg_i64(r, 0, 1);
    PQclear(r);
    return SITQ_OK;
}

static sitq_code window_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    (void)b;
    purge_arg *a = arg;
    a->purged = 0;
    a->next = 0;
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, a->queue);
    pg_p_i64(&p, a->before_us);
    pg_p_i64(&p, a->lo);
    pg_p_i64(&p, a->hi);
    PGresult *r = pg_run(c, PG_PURGE_LOCK, &p, err, "locking finished tasks to purge");
    if (!r) return pg_code(err);
    pg_array ids;
    sitq_code rc = pg_arr_ids(&ids, r, err);
    PQclear(r);
    if (rc) return rc;
    if (ids.n) rc = pg_delete_finished(c, &ids, &a->purged, err);
    pg_arr_free(&ids);
    if (rc) return rc;
    /* Ids may be sparse: the next window starts at the next id that exists. */
    pg_params q;
    pg_p_init(&q);
    pg_p_i64(&q, a->hi);
    r = pg_run(c, PG_ID_AFTER, &q, err, "reading the next id to purge");
    if (!r) return pg_code(err);
    a->next = pg_i64(r, 0, 0);
    PQclear(r);
    return SITQ_OK;
}

sitq_code pg_purge(sitq_backend *base, const char *queue, sitq_time_us before_us, int64_t *purged,
                   sitq_error *err) {
    pg_backend *b = (pg_backend *)base;
    *purged = 0;
    /* Ids come from a sequence: purging never lets one be reused. */
    purge_arg a = {queue, before_us, 0, 0, 0, 0};
    sitq_code rc = pg_write_txn(b, range_body, &a, err);
    sitq_task_id lo = a.lo < 1 ? 1 : a.lo, hi = a.hi;
    for (sitq_task_id w = lo; !rc && hi > 0 && w <= hi;) {
        sitq_task_id end = w <= hi - (PURGE_WINDOW - 1) ? w + (PURGE_WINDOW - 1) : hi;
        a.lo = w;
        a.hi = end;
        rc = pg_write_txn(b, window_body, &a, err);
        if (rc) break;
        *purged += a.purged;
        if (end >= hi || a.next <= end) break;
        w = a.next;
    }
    return rc ? rc : sitq__ok(err);
}
