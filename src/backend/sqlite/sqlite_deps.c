/* sqlite_deps.c - dependency resolution inside a write transaction: success
 * releases dependents whose last dependency it was; failure or cancel fails
 * every dependent at once, transitively, naming the dependency, except
 * finalizers, which count it as finished. Both are
 * set-based statements for speed; they follow the "success" and "fail,
 * cancel" rows of the transition table in core/lifecycle.c. */
#include "sq.h"

#include <stdio.h>

sitq_code sq_resolve_dependents(sq_conn *c, const char *ids_json, sitq_time_us now,
                                sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, ST_RESOLVE, err);
    if (!st) return SITQ_ESTORAGE;
    sq_bind_text(st, 1, ids_json);
    sqlite3_bind_int64(st, 2, now);
    return sq_exec(c, st, err, "releasing dependents");
}

sitq_code sq_fail_dependents(sq_conn *c, sitq_task_id id, int cancelled, sitq_time_us now,
                             size_t *n_failed, sitq_error *err) {
    char msg[96];
    sitq__dependency_failed_message(id, cancelled, msg, sizeof msg);
    /* Finalizers first, while the walk still sees the dependents waiting. */
    sqlite3_stmt *st = sq_stmt(c, ST_RELEASE_FINALIZERS, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    sitq_code rc = sq_exec(c, st, err, "releasing finalizers");
    if (rc) return rc;
    st = sq_stmt(c, ST_PROPAGATE, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, msg, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, now);
    rc = sq_exec(c, st, err, "failing dependents");
    if (!rc && n_failed) *n_failed += (size_t)sqlite3_changes(c->db);
    return rc;
}

sitq_code sq_finish_failed(sq_conn *c, sitq_task_id id, int from, int64_t lease_token, int state,
                           const char *error, const char *traceback, sitq_time_us now,
                           size_t *n_finished, sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, ST_FINISH, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, state);
    sq_bind_text(st, 3, error);
    sq_bind_text(st, 4, traceback);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_int(st, 6, from);
    sqlite3_bind_int64(st, 7, lease_token);
    sitq_code rc = sq_exec(c, st, err,
                           state == SITQ__CANCELLED ? "recording a cancel" : "recording a failure");
    if (rc) return rc;
    if (sqlite3_changes(c->db) != 1) return SITQ_OK; /* moved meanwhile: not ours to finish */
    if (n_finished) *n_finished += 1;
    return sq_fail_dependents(c, id, state == SITQ__CANCELLED, now, n_finished, err);
}
