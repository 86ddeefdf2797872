/* pg_deps.c - dependency resolution inside a write transaction: successes
 * release the dependents whose last dependency they were (one statement for
 * a whole group, children locked in id order first); a failure or cancel
 * fails every waiting dependent at once, transitively, naming it, except
 * finalizers, which count it as finished. */
#include "pg.h"

#include <stdlib.h>
#include <string.h>

sitq_code pg_resolve_dependents(pg_conn *c, const sitq_task_id *ids, size_t n, sitq_time_us now,
                                size_t *n_changed, sitq_error *err) {
    if (n == 0) return SITQ_OK;
    char *arr = pg_array_i64(ids, n);
    if (!arr) return sitq__fail(err, SITQ_ENOMEM, "out of memory releasing dependents");
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, arr);
    /* Lock the children in id order: two groups releasing shared children
     * then wait for each other instead of deadlocking. */
    sitq_code rc = pg_exec(c, PG_RESOLVE_LOCK, &p, err, "locking dependents");
    pg_p_i64(&p, now);
    PGresult *r = rc ? NULL : pg_run(c, PG_RESOLVE, &p, err, "releasing dependents");
    if (!rc && !r) rc = pg_code(err);
    if (r) *n_changed += (size_t)pg_changes(r);
    PQclear(r);
    free(arr);
    return rc;
}

/* The statement walks the dependents in its snapshot, so a grandchild whose
 * enqueue held its parent's row (FOR SHARE) when the walk began is not in it:
 * the update of that parent waits for the enqueue's commit and fails it, but
 * the new edge is only seen by a later statement. So the walk runs again
 * until one fails nothing: an enqueue naming a task failed by an earlier
 * walk either committed before that update or waits for this commit and
 * then sees its dependency failed. A failure without dependents costs one
 * statement, as before. */
static sitq_code fail_walk(pg_conn *c, sitq_task_id id, int cancelled, sitq_time_us now,
                           sitq_task_id **failed, size_t *n, sitq_error *err) {
    char msg[96];
    sitq__dependency_failed_message(id, cancelled, msg, sizeof msg);
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, id);
    pg_p_text(&p, msg);
    pg_p_i64(&p, now);
    int rows;
    do {
        PGresult *r = pg_run(c, PG_PROPAGATE, &p, err, "failing dependents");
        if (!r) return pg_code(err);
        rows = PQntuples(r);
        sitq_task_id *v = rows ? realloc(*failed, (*n + (size_t)rows) * sizeof *v) : *failed;
        if (!v) {
            PQclear(r);
            return sitq__fail(err, SITQ_ENOMEM, "out of memory failing dependents");
        }
        *failed = v;
        for (int i = 0; i < rows; i++) v[(*n)++] = pg_i64(r, i, 0);
        PQclear(r);
    } while (rows > 0);
    return SITQ_OK;
}

/* Then every waiting finalizer that depends on the failed task or on one
 * the walk failed counts them as finished (PG_RESOLVE over their ids: no
 * other dependent of theirs is still waiting). */
static sitq_code fail_dependents(pg_conn *c, sitq_task_id id, int cancelled, sitq_time_us now,
                                 size_t *n_failed, sitq_error *err) {
    sitq_task_id *ids = malloc(sizeof *ids);
    if (!ids) return sitq__fail(err, SITQ_ENOMEM, "out of memory failing dependents");
    ids[0] = id;
    size_t n = 1, released = 0;
    sitq_code rc = fail_walk(c, id, cancelled, now, &ids, &n, err);
    if (!rc && n_failed) *n_failed += n - 1;
    if (!rc) rc = pg_resolve_dependents(c, ids, n, now, &released, err);
    free(ids);
    return rc;
}

sitq_code pg_finish_failed(pg_conn *c, sitq_task_id id, int state, const char *error,
                           const char *traceback, sitq_time_us now, size_t *n_finished,
                           sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, id);
    pg_p_i64(&p, state);
    pg_p_bytea(&p, error, error ? strlen(error) : 0, !error);
    pg_p_bytea(&p, traceback, traceback ? strlen(traceback) : 0, !traceback);
    pg_p_i64(&p, now);
    sitq_code rc = pg_exec(c, PG_FINISH, &p, err,
                           state == SITQ__CANCELLED ? "recording a cancel" : "recording a failure");
    if (rc) return rc;
    if (n_finished) *n_finished += 1;
    return fail_dependents(c, id, state == SITQ__CANCELLED, now, n_finished, err);
}
