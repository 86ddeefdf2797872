/* sqlite_ops.c - operator actions: cancel, retry, purge. Whether a cancel or
 * a retry is allowed, and what it does, is decided by the core
 * (sitq__decide_cancel, sitq__check_retry and friends in core/lifecycle.c);
 * this file reads the facts and applies the decision. */
#include "sq.h"
#include "../../core/grow.h"

#include <stdlib.h>
#include <string.h>

/* Read a task's stored state (in a write transaction); -1 when absent. */
static sitq_code task_state(sq_conn *c, const char *queue, sitq_task_id id, int *state,
                            sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, ST_TASK_STATE, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, id);
    sq_bind_text(st, 2, queue);
    int rc = sqlite3_step(st);
    sitq_code code = SITQ_OK;
    if (rc == SQLITE_ROW) *state = sqlite3_column_int(st, 0);
    else if (rc == SQLITE_DONE)
        code = sitq__fail(err, SITQ_ENOTFOUND, "task %lld does not exist in queue '%s'",
                          (long long)id, queue);
    else code = sq_fail(c, err, "reading a task's state");
    sqlite3_reset(st);
    return code;
}

sitq_code sq_cancel(sitq_backend *base, const char *queue, sitq_task_id id, sitq_status *out,
                    size_t *n_finished, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sq_conn *c = &b->writer;
    sitq_code rc = sq_write_begin(b, err);
    if (rc) return rc;
    int state = -1;
    rc = task_state(c, queue, id, &state, err);
    sitq__cancel_action action = SITQ__CANCEL_NOW;
    if (!rc) rc = sitq__decide_cancel(id, state, &action, err);
    if (!rc && action == SITQ__CANCEL_NOW) {
        rc = sq_finish_failed(c, id, state, 0, SITQ__CANCELLED, SITQ__CANCELLED_MESSAGE, NULL,
                              sitq_now_us(), n_finished, err);
        sitq__tally t = {{0}};
        t.n[SITQ__TOTAL_CANCELLED] = 1;
        if (!rc) rc = sq_count_totals(c, queue, &t, err);
        *out = SITQ_CANCELLED;
    } else if (!rc) { /* SITQ__CANCEL_FLAG: the worker sees it at its next heartbeat */
        sqlite3_stmt *st = sq_stmt(c, ST_SET_CANCEL_FLAG, err);
        if (!st) rc = SITQ_ESTORAGE;
        else {
            sqlite3_bind_int64(st, 1, id);
            rc = sq_exec(c, st, err, "setting a cancel flag");
        }
        *out = SITQ_RUNNING;
    }
    rc = sq_write_end(b, rc, err);
    return rc ? rc : sitq__ok(err);
}

/* Fold the dependencies of task id being retried (sitq__retry_deps_add);
 * a task whose edges are marked is a finalizer. */
static sitq_code retry_fold(sq_conn *c, sitq_task_id id, sitq__deps_fold *fold, sitq_error *err) {
    sitq__deps_begin(fold, 0);
    sqlite3_stmt *st = sq_stmt(c, ST_RETRY_DEPS, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, id);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) { /* NULL state: the task is gone */
        if (sqlite3_column_int(st, 2)) fold->finalizer = 1;
        sitq__retry_deps_add(fold, sqlite3_column_int64(st, 0),
                             sqlite3_column_type(st, 1) == SQLITE_NULL ? -1
                                                                       : sqlite3_column_int(st, 1));
    }
    sqlite3_reset(st);
    return step == SQLITE_DONE ? SITQ_OK : sq_fail(c, err, "reading dependencies");
}

static sitq_code exec_on_id(sq_conn *c, sq_stmt_id sid, sitq_task_id id, const char *what,
                            sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, sid, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, id);
    return sq_exec(c, st, err, what);
}

/* Retry task id (stored state `state`) inside the transaction. The task the
 * caller named (root) is refused when a dependency of its own failed; a task
 * downstream of it is then left as it is. */
static sitq_code retry_one(sq_conn *c, sitq_task_id id, int state, int root, sitq_error *err) {
    sitq__deps_fold fold;
    sitq_code rc = retry_fold(c, id, &fold, err);
    if (!rc && fold.failed_dep && !root) return SITQ_OK;
    if (!rc) rc = sitq__check_retry_dependencies(id, fold.failed_dep, err);
    /* a failed task has no result, but an older success might */
    if (!rc) rc = exec_on_id(c, ST_DELETE_RESULT, id, "dropping an old result", err);
    if (rc) return rc;
    sqlite3_stmt *st = sq_stmt(c, ST_RETRY_SET, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, sitq__retry_state(fold.pending));
    sqlite3_bind_int64(st, 3, fold.pending);
    sqlite3_bind_int64(st, 4, sitq_now_us());
    sqlite3_bind_int(st, 5, state);
    if (sqlite3_step(st) != SQLITE_DONE) {
        if ((sqlite3_extended_errcode(c->db) & 0xff) == SQLITE_CONSTRAINT)
            rc = sitq__retry_unique_conflict(id, err);
        else rc = sq_fail(c, err, "retrying a task");
    }
    sqlite3_reset(st);
    if (!rc) rc = exec_on_id(c, ST_RETRY_REARM, id, "rearming finalizers", err);
    return rc;
}

/* The failed or cancelled tasks downstream of id, oldest first (malloc'd). */
static sitq_code retry_walk(sq_conn *c, sitq_task_id id, sitq_task_id **ids, size_t *n,
                            sitq_error *err) {
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st = sq_stmt(c, ST_RETRY_WALK, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, id);
    size_t cap = 0;
    int step;
    sitq_code rc = SITQ_OK;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (sitq__reserve((void **)ids, &cap, *n + 1, sizeof **ids) != 0) {
            rc = sitq__fail(err, SITQ_ENOMEM, "out of memory walking dependents");
            break;
        }
        (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    if (!rc && step != SQLITE_DONE) rc = sq_fail(c, err, "walking dependents");
    sqlite3_reset(st);
    return rc;
}

sitq_code sq_retry(sitq_backend *base, const char *queue, sitq_task_id id, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sq_conn *c = &b->writer;
    sitq_code rc = sq_write_begin(b, err);
    if (rc) return rc;
    int state = -1;
    rc = task_state(c, queue, id, &state, err);
    if (!rc) rc = sitq__check_retry(id, state, err);
    sitq_task_id *down = NULL;
    size_t n_down = 0;
    if (!rc) rc = retry_walk(c, id, &down, &n_down, err);
    if (!rc) rc = retry_one(c, id, state, 1, err);
    for (size_t i = 0; i < n_down && !rc; i++) {
        rc = task_state(c, queue, down[i], &state, err);
        if (!rc) rc = retry_one(c, down[i], state, 0, err);
    }
    free(down);
    rc = sq_write_end(b, rc, err);
    return rc ? rc : sitq__ok(err);
}

/* Ids per purge transaction: short transactions keep workers moving. */
#define PURGE_WINDOW 20000

/* Purge one window of ids [lo, hi] in its own transaction; *next receives
 * the lowest id above hi, or 0 when there is none. */
static sitq_code purge_window(sq_backend *b, const char *queue, sitq_time_us before_us,
                              sitq_task_id lo, sitq_task_id hi, int64_t *purged, sitq_task_id *next,
                              sitq_error *err) {
    sq_conn *c = &b->writer;
    sitq_code rc = sq_write_begin(b, err);
    if (rc) return rc;
    static const sq_stmt_id ids[] = {ST_PURGE_DEPS,    ST_PURGE_DEP_EDGES, ST_PURGE_PAYLOADS,
                                     ST_PURGE_RESULTS, ST_PURGE_SUCCEEDED, ST_PURGE_DEAD};
    int64_t succeeded = 0, deleted = 0;
    for (size_t i = 0; i < sizeof ids / sizeof *ids && !rc; i++) {
        sqlite3_stmt *st = sq_stmt(c, ids[i], err);
        if (!st) {
            rc = SITQ_ESTORAGE;
            break;
        }
        sq_bind_text(st, 1, queue);
        sqlite3_bind_int64(st, 2, before_us);
        sqlite3_bind_int64(st, 3, lo);
        sqlite3_bind_int64(st, 4, hi);
        rc = sq_exec(c, st, err, "purging finished tasks");
        if (!rc && ids[i] == ST_PURGE_SUCCEEDED) succeeded = sqlite3_changes64(c->db);
        if (!rc && (ids[i] == ST_PURGE_SUCCEEDED || ids[i] == ST_PURGE_DEAD))
            deleted += sqlite3_changes64(c->db);
    }
    if (!rc && deleted) {
        sqlite3_stmt *st = sq_stmt(c, ST_COUNT_PURGED, err);
        if (!st) rc = SITQ_ESTORAGE;
        else {
            sq_bind_text(st, 1, queue);
            sqlite3_bind_int64(st, 2, succeeded);
            sqlite3_bind_int64(st, 3, deleted);
            rc = sq_exec(c, st, err, "counting purged tasks");
        }
    }
    *purged += deleted;
    *next = 0;
    if (!rc) {
        /* Ids may be sparse (or huge, in a file written by other means):
         * the next window starts at the next id that exists. */
        sqlite3_stmt *st = sq_stmt(c, ST_ID_AFTER, err);
        if (!st) rc = SITQ_ESTORAGE;
        else {
            sqlite3_bind_int64(st, 1, hi);
            int step = sqlite3_step(st);
            if (step == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
                *next = sqlite3_column_int64(st, 0);
            else if (step != SQLITE_ROW && step != SQLITE_DONE)
                rc = sq_fail(c, err, "reading the next id to purge");
            sqlite3_reset(st);
        }
    }
    return sq_write_end(b, rc, err);
}

sitq_code sq_purge(sitq_backend *base, const char *queue, sitq_time_us before_us, int64_t *purged,
                   sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sq_conn *c = &b->writer;
    *purged = 0;
    /* First remember the highest id ever used, so that ids are never reused. */
    sitq_code rc = sq_write_begin(b, err);
    if (rc) return rc;
    sitq_task_id lo = 0, hi = 0;
    sqlite3_stmt *st = sq_stmt(c, ST_ID_RANGE, err);
    if (!st) rc = SITQ_ESTORAGE;
    else if (sqlite3_step(st) != SQLITE_ROW) rc = sq_fail(c, err, "reading the id range");
    else {
        lo = sqlite3_column_int64(st, 0);
        hi = sqlite3_column_int64(st, 1);
    }
    if (st) sqlite3_reset(st);
    if (!rc && hi > 0) {
        st = sq_stmt(c, ST_SET_ID_FLOOR, err);
        if (!st) rc = SITQ_ESTORAGE;
        else {
            sqlite3_bind_int64(st, 1, hi);
            rc = sq_exec(c, st, err, "recording the highest id");
        }
    }
    rc = sq_write_end(b, rc, err);
    if (lo < 1) lo = 1; /* sitq ids are positive; others are not sitq's to purge */
    for (sitq_task_id w = lo; !rc && hi > 0 && w <= hi;) {
        /* [w, w + PURGE_WINDOW - 1] without overflow near INT64_MAX */
        sitq_task_id end = w <= hi - (PURGE_WINDOW - 1) ? w + (PURGE_WINDOW - 1) : hi;
        sitq_task_id next = 0;
        rc = purge_window(b, queue, before_us, w, end, purged, &next, err);
        if (end >= hi || next <= end) break;
        w = next;
    }
    return rc ? rc : sitq__ok(err);
}
