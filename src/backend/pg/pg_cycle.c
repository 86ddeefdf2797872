/* pg_cycle.c - the worker's write path: ONE transaction per dispatcher
 * cycle records completions (group commit) and attempt starts, releases
 * unstarted tasks, renews leases, recovers lapsed leases and claims the next
 * batch; and claim_id, which takes one given task for process_task.
 *
 * A cycle is a handful of statements whatever its size: successes, starts,
 * releases and heartbeats each in one statement over binary arrays
 * (unnest), failures read at once and their retries written at once; only
 * terminal failures and results over 1 MiB go one by one.
 *
 * Every decision comes from core/lifecycle.h: a failed attempt's fate from
 * sitq__decide_failure, a lapsed lease's from sitq__decide_lapse, a claim's
 * start_first from sitq__start_first. Every transition out of running is
 * guarded by (state, lease_token), so a late completion of a recovered
 * task changes nothing.
 *
 * Leases are judged by the server's clock: lease_until_us is written as the
 * server's now plus the lease, and recovery compares it with the server's
 * now, so that workers whose clocks differ agree. The worker itself watches
 * its lease on its own clock, from the client time of the claim
 * (lease_times). Lease recovery runs in one process at a time per queue
 * (a transaction advisory lock tried, never waited for), on rows locked
 * with SKIP LOCKED, so that it never waits behind a worker's cycle.
 *
 * The claim is the MATERIALIZED CTE of pg_sql.c: ready tasks in claim order,
 * locked FOR NO KEY UPDATE SKIP LOCKED, then taken by one UPDATE; each claim
 * gets a fresh lease token. A transaction that loses a deadlock or
 * serialization race runs again whole (pg_write_txn), so every output is
 * reset at the start of the body. */
#include "pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t new_lease_token(void) {
    int64_t t = (int64_t)(sitq__rand64() >> 1);
    return t ? t : 1;
}

/* The owner key of worker_id's claims and heartbeats in this process: its
 * row in workers is what heartbeats renew. Random per backend (two
 * processes given the same worker id do not share a row), and new after a
 * commit whose answer was lost (pg_write_txn): tasks that commit may have
 * claimed, unknown to the worker, are put back by the next cycles
 * (pg_unknown.c); should that never happen, they keep the old key, whose
 * row is no longer renewed, so they lapse and are recovered. Heartbeats
 * move the tasks the worker does hold to the new key. write_mu held. */
static int64_t owner_key(const pg_backend *b, const char *worker_id) {
    uint64_t h = (uint64_t)pg_name_key(worker_id, "owner") ^ b->incarnation;
    h ^= (b->owner_epoch + 1) * 0x9e3779b97f4a7c15ull;
    return (int64_t)(h >> 1) | 1;
}

/* Lease deadlines of claims and renewals made now, on the server's clock
 * (stored, judged by recovery, and reported to the worker with db_now, from
 * which it measures them on its own monotonic clock). */
static sitq_code lease_times(pg_conn *c, int64_t lease_us, sitq_time_us *db_now,
                             sitq_time_us *db_until, sitq_error *err) {
    sitq_code rc = pg_db_now(c, db_now, err);
    if (rc) return rc;
    *db_until = *db_now + lease_us;
    return SITQ_OK;
}

/* Server time t on this host's clock, from a server reading db_now taken
 * when this host's clock read local_at_db_now (right after its answer came:
 * measured from a later local reading, a slow cycle would move t late by
 * the cycle's own duration). */
static sitq_time_us to_local(sitq_time_us t, sitq_time_us db_now, sitq_time_us local_at_db_now) {
    return local_at_db_now + (t - db_now);
}

/* names[0..n) as the text of a PostgreSQL text[] literal: every element
 * double-quoted, with backslash before " and \. Malloc'd; NULL when out of
 * memory. */
char *pg_text_array_literal(const char *const *names, size_t n) {
    size_t len = 3;
    for (size_t i = 0; i < n; i++) len += 2 * strlen(names[i]) + 3;
    char *out = malloc(len);
    if (!out) return NULL;
    char *o = out;
    *o++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i) *o++ = ',';
        *o++ = '"';
        for (const char *q = names[i]; *q; q++) {
            if (*q == '"' || *q == '\\') *o++ = '\\';
            *o++ = *q;
        }
        *o++ = '"';
    }
    *o++ = '}';
    *o = '\0';
    return out;
}

/* The worker's handler names as text[] literals for the claim's
 * parameters (exact names, prefixes); *owned receives the two texts, freed
 * by the caller after the statements ran. */
static sitq_code handler_names(const sitq__cycle *cy, char *owned[2], sitq_error *err) {
    owned[0] = pg_text_array_literal(cy->functions, cy->n_functions);
    owned[1] = pg_text_array_literal(cy->prefixes, cy->n_prefixes);
    if (!owned[0] || !owned[1])
        return sitq__fail(err, SITQ_ENOMEM, "out of memory listing the worker's functions");
    return SITQ_OK;
}

static sitq_code apply_start(pg_conn *c, const sitq__start *s, sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, s->id);
    pg_p_i64(&p, s->lease_token);
    pg_p_i64(&p, s->started_at_us);
    return pg_exec(c, PG_START, &p, err, "recording the start of an attempt");
}

static sitq_code apply_failure(pg_conn *c, sitq__completion *k, size_t *n_finished,
                               sitq_error *err);

/* Results above this size are stored inside a savepoint: one that the
 * server refuses (past its 1 GB field limit, or out of memory) fails its
 * attempt instead of the whole group commit. Smaller ones need none. */
#define PG_RESULT_SAVEPOINT_MIN (1u << 20)

/* The failed attempt that replaces a success whose result PostgreSQL
 * refused (sitq__unstorable_failure): only its write is this backend's. */
static sitq_code success_not_storable(pg_conn *c, sitq__completion *k, size_t *n_finished,
                                      const char *why, sitq_error *err) {
    char msg[SITQ_ERROR_MESSAGE_SIZE];
    sitq__completion f;
    sitq__unstorable_failure(k, why, msg, sizeof msg, &f);
    sitq_code rc = apply_failure(c, &f, n_finished, err);
    sitq__unstorable_report(k, &f, rc);
    return rc;
}

static sitq_code apply_success(pg_conn *c, sitq__completion *k, size_t *n_finished,
                               int64_t *n_succeeded, sitq_error *err) {
    int big = k->value_len >= PG_RESULT_SAVEPOINT_MIN;
    if (big) {
        sitq_code rc = pg_command(c, "SAVEPOINT sitq_result", err, "storing a large result");
        if (rc) return rc;
    }
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, k->id);
    pg_p_i64(&p, k->lease_token);
    pg_p_bytea(&p, k->value, k->value_len, k->value == NULL);
    pg_p_i64(&p, k->finished_at_us);
    pg_p_i64(&p, k->started_at_us ? k->started_at_us : k->finished_at_us);
    PGresult *r = pg_run(c, PG_SUCCEED, &p, err, "recording a success");
    if (!r && big && c->conn && !c->retry) {
        char why[SITQ_ERROR_MESSAGE_SIZE];
        snprintf(why, sizeof why, "%s", err ? err->message : "PostgreSQL refused it");
        sitq_code rc =
            pg_command(c, "ROLLBACK TO SAVEPOINT sitq_result", err, "giving up a large result");
        return rc ? rc : success_not_storable(c, k, n_finished, why, err);
    }
    if (!r) return pg_code(err);
    k->applied = pg_changes(r) == 1;
    PQclear(r);
    if (big) {
        sitq_code rc =
            pg_command(c, "RELEASE SAVEPOINT sitq_result", err, "storing a large result");
        if (rc) return rc;
    }
    if (!k->applied) return SITQ_OK; /* lease lost: a newer attempt owns the task */
    k->outcome = SITQ__TOTAL_SUCCEEDED;
    (*n_finished)++;
    (*n_succeeded)++;
    return SITQ_OK;
}

static sitq_code requeue(pg_conn *c, sitq_task_id id, sitq_time_us run_at, const char *error,
                         const char *traceback, sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, id);
    pg_p_i64(&p, run_at);
    pg_p_bytea(&p, error, error ? strlen(error) : 0, !error);
    pg_p_bytea(&p, traceback, traceback ? strlen(traceback) : 0, !traceback);
    return pg_exec(c, PG_REQUEUE, &p, err, "scheduling a retry");
}

static sitq_code apply_failure(pg_conn *c, sitq__completion *k, size_t *n_finished,
                               sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, k->id);
    pg_p_i64(&p, k->lease_token);
    PGresult *r = pg_run(c, PG_FAIL_INFO, &p, err, "reading a failed task");
    if (!r) return pg_code(err);
    if (PQntuples(r) == 0) {
        PQclear(r);
        k->applied = 0; /* lease lost */
        return SITQ_OK;
    }
    sitq__failure_facts f = {
        .attempts = (int32_t)pg_i64(r, 0, 0),
        .max_retries = (int32_t)pg_i64(r, 0, 1),
        .backoff_base_us = pg_i64(r, 0, 2),
        .backoff_cap_us = pg_i64(r, 0, 3),
        .backoff_jitter = pg_f64(r, 0, 4),
        .cancel_requested = (int)pg_i64(r, 0, 5),
        .error = k->error,
        .finished_us = k->finished_at_us,
        .retry = k->retry,
        .retry_after_us = k->retry_after_us,
    };
    int unrecorded = (int)pg_i64(r, 0, 6);
    PQclear(r);
    k->applied = 1;
    if (unrecorded && k->started_at_us) { /* the attempt ran: it counts */
        sitq__start s = {k->id, k->lease_token, k->started_at_us};
        sitq_code rc = apply_start(c, &s, err);
        if (rc) return rc;
        f.attempts++;
    }
    sitq__verdict v;
    sitq__decide_failure(&f, sitq__rand_unit(), &v);
    k->outcome = sitq__total_of_verdict(v.state);
    if (v.state == SITQ__QUEUED)
        return requeue(c, k->id, v.run_at_us, v.message, k->traceback, err);
    return pg_finish_failed(c, k->id, v.state, v.message, k->traceback, k->finished_at_us,
                            n_finished, err);
}

/* Position of each returned id among a batch's entries: pairs (id, index)
 * sorted by id, searched with bsearch. */
typedef struct id_pos {
    sitq_task_id id;
    size_t i;
} id_pos;

static int cmp_id_pos(const void *a, const void *b) {
    const id_pos *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static size_t find_pos(const id_pos *v, size_t n, sitq_task_id id) {
    id_pos key = {id, 0};
    const id_pos *hit = bsearch(&key, v, n, sizeof *v, cmp_id_pos);
    return hit ? hit->i : (size_t)-1;
}

/* Result bytes of one statement of small successes: 256 results just under
 * 1 MiB would pass PostgreSQL's 1 GB limit on a message (the statement
 * failed in every cycle, and nothing the worker held was ever recorded),
 * and a statement of hundreds of MB is sent inside the open transaction. */
#define PG_SUCCESS_GROUP_BYTES ((size_t)64 << 20)

/* One statement of small successes from completion *next on, up to
 * PG_SUCCESS_GROUP_BYTES of results (at least one); *next moves past them.
 * pos: room for every completion. Marks which were applied. */
static sitq_code apply_success_group(pg_conn *c, sitq__cycle *cy, size_t *next, id_pos *pos,
                                     size_t *n_applied, sitq_error *err) {
    pg_array a[5];
    pg_arr_init(&a[0], PG_OID_INT8);
    pg_arr_init(&a[1], PG_OID_INT8);
    pg_arr_init(&a[2], PG_OID_BYTEA);
    pg_arr_init(&a[3], PG_OID_INT8);
    pg_arr_init(&a[4], PG_OID_INT8);
    size_t n = 0, bytes = 0, i = *next;
    for (; i < cy->n_completions; i++) {
        const sitq__completion *k = &cy->completions[i];
        if (!k->ok || k->value_len >= PG_RESULT_SAVEPOINT_MIN) continue;
        if (n > 0 && bytes + k->value_len > PG_SUCCESS_GROUP_BYTES) break;
        bytes += k->value_len;
        pg_arr_i64(&a[0], k->id);
        pg_arr_i64(&a[1], k->lease_token);
        pg_arr_bytes(&a[2], k->value ? k->value : "", k->value_len, k->value == NULL);
        pg_arr_i64(&a[3], k->finished_at_us);
        pg_arr_i64(&a[4], k->started_at_us ? k->started_at_us : k->finished_at_us);
        pos[n++] = (id_pos){k->id, i};
    }
    *next = i;
    pg_params p;
    pg_p_init(&p);
    int bad = 0;
    for (int j = 0; j < 5; j++) bad |= pg_p_array(&p, &a[j]);
    sitq_code rc = SITQ_OK;
    if (bad) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory recording successes");
    PGresult *r = NULL;
    if (!rc && n > 0) {
        r = pg_run(c, PG_SUCCEED_MANY, &p, err, "recording successes");
        if (!r) rc = pg_code(err);
    }
    if (r) {
        qsort(pos, n, sizeof *pos, cmp_id_pos);
        for (int row = 0; row < PQntuples(r); row++) {
            size_t k = find_pos(pos, n, pg_i64(r, row, 0));
            if (k == (size_t)-1 || cy->completions[k].applied) continue;
            cy->completions[k].applied = 1;
            cy->completions[k].outcome = SITQ__TOTAL_SUCCEEDED;
            (*n_applied)++;
        }
        PQclear(r);
    }
    for (int j = 0; j < 5; j++) pg_arr_free(&a[j]);
    return rc;
}

/* The small successes of the cycle (results under the savepoint size) over
 * arrays: one statement, or one per PG_SUCCESS_GROUP_BYTES of results. */
static sitq_code apply_successes(pg_conn *c, sitq__cycle *cy, size_t *n_applied, sitq_error *err) {
    if (cy->n_completions == 0) return SITQ_OK;
    id_pos *pos = malloc(cy->n_completions * sizeof *pos);
    if (!pos) return sitq__fail(err, SITQ_ENOMEM, "out of memory recording successes");
    sitq_code rc = SITQ_OK;
    size_t next = 0;
    while (!rc && next < cy->n_completions)
        rc = apply_success_group(c, cy, &next, pos, n_applied, err);
    free(pos);
    return rc;
}

/* A terminal verdict of apply_failures, applied after the retries. */
typedef struct terminal {
    size_t i; /* completion */
    int state;
    char *message; /* malloc'd */
} terminal;

/* Bind arrays a[0..n) as the next parameters and run statement id; frees
 * the arrays. */
static sitq_code run_arrays(pg_conn *c, pg_stmt_id id, pg_array *a, int n, const char *what,
                            sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    int bad = 0;
    for (int j = 0; j < n; j++) bad |= pg_p_array(&p, &a[j]);
    sitq_code rc = bad ? sitq__fail(err, SITQ_ENOMEM, "out of memory %s", what)
                       : pg_exec(c, id, &p, err, what);
    for (int j = 0; j < n; j++) pg_arr_free(&a[j]);
    return rc;
}

/* What a cycle's failures write: starts not yet recorded (st: id, token,
 * started), retries (rq: id, run_at, error, traceback), and terminal
 * outcomes written one by one with their dependents (term). */
typedef struct failure_plan {
    pg_array st[3], rq[4];
    terminal *term;
    size_t n_term;
} failure_plan;

static void plan_init(failure_plan *fp) {
    for (int j = 0; j < 3; j++) pg_arr_init(&fp->st[j], PG_OID_INT8);
    pg_arr_init(&fp->rq[0], PG_OID_INT8);
    pg_arr_init(&fp->rq[1], PG_OID_INT8);
    pg_arr_init(&fp->rq[2], PG_OID_BYTEA); /* error and traceback: any bytes */
    pg_arr_init(&fp->rq[3], PG_OID_BYTEA);
    fp->n_term = 0;
}

static void plan_free(failure_plan *fp) {
    for (int j = 0; j < 3; j++) pg_arr_free(&fp->st[j]);
    for (int j = 0; j < 4; j++) pg_arr_free(&fp->rq[j]);
    for (size_t t = 0; fp->term && t < fp->n_term; t++) free(fp->term[t].message);
    free(fp->term);
}

/* Decide failure k (completion i) from its facts in row `row` of r (read
 * under its lease) and add what it writes to fp. */
static sitq_code plan_failure(const PGresult *r, int row, sitq__completion *k, size_t i,
                              failure_plan *fp, sitq_error *err) {
    sitq__failure_facts f = {
        .attempts = (int32_t)pg_i64(r, row, 1),
        .max_retries = (int32_t)pg_i64(r, row, 2),
        .backoff_base_us = pg_i64(r, row, 3),
        .backoff_cap_us = pg_i64(r, row, 4),
        .backoff_jitter = pg_f64(r, row, 5),
        .cancel_requested = (int)pg_i64(r, row, 6),
        .error = k->error,
        .finished_us = k->finished_at_us,
        .retry = k->retry,
        .retry_after_us = k->retry_after_us,
    };
    k->applied = 1;
    if (pg_i64(r, row, 7) && k->started_at_us) { /* the attempt ran: it counts */
        pg_arr_i64(&fp->st[0], k->id);
        pg_arr_i64(&fp->st[1], k->lease_token);
        pg_arr_i64(&fp->st[2], k->started_at_us);
        f.attempts++;
    }
    sitq__verdict v;
    sitq__decide_failure(&f, sitq__rand_unit(), &v);
    k->outcome = sitq__total_of_verdict(v.state);
    if (v.state == SITQ__QUEUED) {
        pg_arr_i64(&fp->rq[0], k->id);
        pg_arr_i64(&fp->rq[1], v.run_at_us);
        pg_arr_bytes(&fp->rq[2], v.message, v.message ? strlen(v.message) : 0, !v.message);
        pg_arr_bytes(&fp->rq[3], k->traceback, k->traceback ? strlen(k->traceback) : 0,
                     !k->traceback);
        return SITQ_OK;
    }
    terminal *t = &fp->term[fp->n_term++];
    *t = (terminal){i, v.state, v.message ? strdup(v.message) : NULL};
    if (v.message && !t->message)
        return sitq__fail(err, SITQ_ENOMEM, "out of memory recording failures");
    return SITQ_OK;
}

/* Write what fp planned: starts and retries in one statement each, terminal
 * failures one by one (rare) with their dependents. */
static sitq_code write_failures(pg_conn *c, sitq__cycle *cy, failure_plan *fp, sitq_error *err) {
    sitq_code rc = SITQ_OK;
    if (fp->st[0].n > 0)
        rc = run_arrays(c, PG_START_MANY, fp->st, 3, "recording the start of attempts", err);
    if (!rc && fp->rq[0].n > 0)
        rc = run_arrays(c, PG_REQUEUE_MANY, fp->rq, 4, "scheduling retries", err);
    for (size_t t = 0; t < fp->n_term && !rc; t++) {
        const sitq__completion *k = &cy->completions[fp->term[t].i];
        rc = pg_finish_failed(c, k->id, fp->term[t].state, fp->term[t].message, k->traceback,
                              k->finished_at_us, &cy->n_finished, err);
    }
    return rc;
}

/* The failures of the cycle (not those stored as failures): their facts
 * read at once (rows locked in id order), each decided by
 * sitq__decide_failure (plan_failure), then written (write_failures). A
 * failure whose row is not returned lost its lease. */
static sitq_code apply_failures(pg_conn *c, sitq__cycle *cy, sitq_error *err) {
    size_t n = 0;
    for (size_t i = 0; i < cy->n_completions; i++) n += !cy->completions[i].ok;
    if (n == 0) return SITQ_OK;
    failure_plan fp;
    plan_init(&fp);
    fp.term = calloc(n, sizeof *fp.term);
    id_pos *pos = malloc(n * sizeof *pos);
    if (!pos || !fp.term) {
        free(pos);
        plan_free(&fp);
        return sitq__fail(err, SITQ_ENOMEM, "out of memory recording failures");
    }
    pg_array key[2];
    pg_arr_init(&key[0], PG_OID_INT8);
    pg_arr_init(&key[1], PG_OID_INT8);
    size_t m = 0;
    for (size_t i = 0; i < cy->n_completions; i++) {
        const sitq__completion *k = &cy->completions[i];
        if (k->ok) continue;
        pg_arr_i64(&key[0], k->id);
        pg_arr_i64(&key[1], k->lease_token);
        pos[m++] = (id_pos){k->id, i};
    }
    pg_params p;
    pg_p_init(&p);
    int bad = pg_p_array(&p, &key[0]) | pg_p_array(&p, &key[1]);
    sitq_code rc = SITQ_OK;
    PGresult *r = NULL;
    if (bad) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory recording failures");
    else if (!(r = pg_run(c, PG_FAIL_INFO_MANY, &p, err, "reading failed tasks")))
        rc = pg_code(err);
    if (r) qsort(pos, m, sizeof *pos, cmp_id_pos);
    for (int row = 0; r && !rc && row < PQntuples(r); row++) {
        size_t i = find_pos(pos, m, pg_i64(r, row, 0));
        if (i == (size_t)-1 || cy->completions[i].applied) continue;
        rc = plan_failure(r, row, &cy->completions[i], i, &fp, err);
    }
    PQclear(r);
    pg_arr_free(&key[0]);
    pg_arr_free(&key[1]);
    if (!rc) rc = write_failures(c, cy, &fp, err);
    plan_free(&fp);
    free(pos);
    return rc;
}

/* The cycle's completions and the release of their dependents. */
static sitq_code apply_completions(pg_conn *c, sitq__cycle *cy, sitq_time_us now,
                                   size_t *n_released, sitq_error *err) {
    size_t n_batched = 0;
    sitq_code rc = apply_successes(c, cy, &n_batched, err);
    int64_t n_succeeded = (int64_t)n_batched;
    cy->n_finished += n_batched;
    if (!rc) rc = apply_failures(c, cy, err);
    /* Large results, one by one, each in a savepoint. */
    for (size_t i = 0; i < cy->n_completions && !rc; i++) {
        sitq__completion *k = &cy->completions[i];
        if (!k->ok || k->value_len < PG_RESULT_SAVEPOINT_MIN) continue;
        rc = apply_success(c, k, &cy->n_finished, &n_succeeded, err);
    }
    if (rc || n_succeeded == 0) return rc;
    /* Dependents of the whole group in one statement. */
    sitq_task_id *ids = malloc((size_t)n_succeeded * sizeof *ids);
    if (!ids) return sitq__fail(err, SITQ_ENOMEM, "out of memory releasing dependents");
    size_t n = 0;
    for (size_t i = 0; i < cy->n_completions; i++)
        if (cy->completions[i].ok && cy->completions[i].applied &&
            !cy->completions[i].stored_as_failure)
            ids[n++] = cy->completions[i].id;
    rc = pg_resolve_dependents(c, ids, n, now, n_released, err);
    free(ids);
    return rc;
}

/* The cycle's starts in one statement. */
static sitq_code apply_starts(pg_conn *c, const sitq__cycle *cy, sitq_error *err) {
    if (cy->n_starts == 0) return SITQ_OK;
    pg_array a[3];
    pg_arr_init(&a[0], PG_OID_INT8);
    pg_arr_init(&a[1], PG_OID_INT8);
    pg_arr_init(&a[2], PG_OID_INT8);
    for (size_t i = 0; i < cy->n_starts; i++) {
        pg_arr_i64(&a[0], cy->starts[i].id);
        pg_arr_i64(&a[1], cy->starts[i].lease_token);
        pg_arr_i64(&a[2], cy->starts[i].started_at_us);
    }
    pg_params p;
    pg_p_init(&p);
    int bad = 0;
    for (int j = 0; j < 3; j++) bad |= pg_p_array(&p, &a[j]);
    sitq_code rc = bad ? sitq__fail(err, SITQ_ENOMEM, "out of memory recording starts")
                       : pg_exec(c, PG_START_MANY, &p, err, "recording the start of attempts");
    for (int j = 0; j < 3; j++) pg_arr_free(&a[j]);
    return rc;
}

/* The cycle's releases in one statement. */
static sitq_code apply_releases(pg_conn *c, const sitq__cycle *cy, sitq_error *err) {
    if (cy->n_releases == 0) return SITQ_OK;
    pg_array a[2];
    pg_arr_init(&a[0], PG_OID_INT8);
    pg_arr_init(&a[1], PG_OID_INT8);
    for (size_t i = 0; i < cy->n_releases; i++) {
        pg_arr_i64(&a[0], cy->releases[i].id);
        pg_arr_i64(&a[1], cy->releases[i].lease_token);
    }
    pg_params p;
    pg_p_init(&p);
    int bad = pg_p_array(&p, &a[0]) | pg_p_array(&p, &a[1]);
    sitq_code rc = bad ? sitq__fail(err, SITQ_ENOMEM, "out of memory releasing tasks")
                       : pg_exec(c, PG_RELEASE_MANY, &p, err, "releasing tasks");
    pg_arr_free(&a[0]);
    pg_arr_free(&a[1]);
    return rc;
}

/* The cycle's lease renewals in one statement (PG_HEARTBEAT_MANY: the
 * worker's row, not the tasks'); a heartbeat whose task is not returned
 * lost its lease. */
static sitq_code apply_heartbeats(pg_backend *b, pg_conn *c, sitq__cycle *cy, sitq_time_us db_until,
                                  sitq_error *err) {
    if (cy->n_heartbeats == 0) return SITQ_OK;
    id_pos *pos = malloc(cy->n_heartbeats * sizeof *pos);
    if (!pos) return sitq__fail(err, SITQ_ENOMEM, "out of memory renewing leases");
    pg_array a[3];
    pg_arr_init(&a[0], PG_OID_INT8);
    pg_arr_init(&a[1], PG_OID_INT8);
    pg_arr_init(&a[2], PG_OID_FLOAT8);
    for (size_t i = 0; i < cy->n_heartbeats; i++) {
        sitq__heartbeat *h = &cy->heartbeats[i];
        h->lost = 1;
        pg_arr_i64(&a[0], h->id);
        pg_arr_i64(&a[1], h->lease_token);
        pg_arr_f64(&a[2], h->progress, h->progress < 0);
        pos[i] = (id_pos){h->id, i};
    }
    pg_params p;
    pg_p_init(&p);
    int bad = pg_p_array(&p, &a[0]) | pg_p_array(&p, &a[1]);
    pg_p_i64(&p, db_until);
    bad |= pg_p_array(&p, &a[2]);
    pg_p_i64(&p, owner_key(b, cy->worker_id));
    pg_p_text(&p, cy->worker_id);
    pg_p_i64(&p, cy->db_now_us);
    sitq_code rc = SITQ_OK;
    PGresult *r = NULL;
    if (bad) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory renewing leases");
    else if (!(r = pg_run(c, PG_HEARTBEAT_MANY, &p, err, "renewing leases"))) rc = pg_code(err);
    if (r) {
        qsort(pos, cy->n_heartbeats, sizeof *pos, cmp_id_pos);
        for (int row = 0; row < PQntuples(r); row++) {
            size_t i = find_pos(pos, cy->n_heartbeats, pg_i64(r, row, 0));
            if (i == (size_t)-1) continue;
            sitq__heartbeat *h = &cy->heartbeats[i];
            h->lost = 0;
            h->cancel_requested = (int)pg_i64(r, row, 1);
            h->lease_until_us = db_until;
        }
        PQclear(r);
    }
    for (int j = 0; j < 3; j++) pg_arr_free(&a[j]);
    free(pos);
    return rc;
}

/* Recover tasks of the queue whose lease lapsed on the server's clock. */
static sitq_code reap(pg_backend *b, pg_conn *c, sitq__cycle *cy, const char *queue,
                      int64_t *n_cancelled, sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, pg_name_key(b->schema, queue));
    PGresult *r = pg_run(c, PG_REAP_LOCK, &p, err, "locking lease recovery");
    if (!r) return pg_code(err);
    int mine = (int)pg_i64(r, 0, 0);
    PQclear(r);
    if (!mine) return SITQ_OK; /* another process is recovering this queue now */
    sitq_time_us db_now = 0;
    sitq_code rc = pg_db_now(c, &db_now, err);
    if (rc) return rc;
    /* Right after a server restart every worker is reconnecting: leases
     * that lapsed while the server was down are not judged until the
     * workers have had one lease to renew them; those that had lapsed
     * before it went down are (pg_grace.c). */
    sitq_time_us cutoff = pg_grace_cutoff(c, db_now, cy->lease_us);
    if (cutoff <= 0) return SITQ_OK;
    pg_p_init(&p);
    pg_p_i64(&p, db_now);
    rc = pg_exec(c, PG_WORKERS_PRUNE, &p, err, "removing rows of workers long gone");
    if (rc) return rc;
    pg_p_init(&p);
    pg_p_i64(&p, cutoff);
    pg_p_text(&p, queue);
    r = pg_run(c, PG_REAP_SELECT, &p, err, "finding lapsed leases");
    if (!r) return pg_code(err);
    sitq_time_us now = sitq_now_us();
    /* Those put back are written in one statement: a worker killed with a
     * thousand tasks claimed ahead leaves a thousand lapsed leases, and one
     * round trip each made recovery slower than such losses under load. */
    pg_array a[3];
    pg_arr_init(&a[0], PG_OID_INT8);
    pg_arr_init(&a[1], PG_OID_BYTEA);
    pg_arr_init(&a[2], PG_OID_INT8);
    for (int i = 0; i < PQntuples(r) && !rc; i++) {
        sitq_task_id id = pg_i64(r, i, 0);
        char *worker = pg_text(r, i, 3);
        sitq__lapse_facts f = {
            .worker_id = worker,
            .attempts = (int32_t)pg_i64(r, i, 1),
            .max_retries = (int32_t)pg_i64(r, i, 2),
            .cancel_requested = (int)pg_i64(r, i, 4),
            .started = (int)pg_i64(r, i, 5),
        };
        sitq__verdict v;
        sitq__decide_lapse(&f, &v);
        free(worker);
        if (v.state == SITQ__CANCELLED) (*n_cancelled)++;
        if (v.state == SITQ__QUEUED) {
            pg_arr_i64(&a[0], id);
            pg_arr_bytes(&a[1], v.message, strlen(v.message), 0);
            pg_arr_i64(&a[2], v.unstarted);
        } else {
            rc = pg_finish_failed(c, id, v.state, v.message, NULL, now, &cy->n_finished, err);
        }
        if (!rc) cy->n_reaped++;
    }
    PQclear(r);
    if (!rc && a[0].n > 0)
        return run_arrays(c, PG_REQUEUE_LOST, a, 3, "recovering lapsed leases", err);
    for (int j = 0; j < 3; j++) pg_arr_free(&a[j]);
    return rc;
}

/* Read the RETURNING rows of a claim into cy->claimed. */
sitq_code pg_read_claimed(const PGresult *r, sitq__cycle *cy, int64_t token,
                          sitq_time_us lease_until, sitq_error *err) {
    sitq_code rc = SITQ_OK;
    for (int i = 0; i < PQntuples(r) && cy->n_claimed < cy->claim_max; i++) {
        sitq__claimed *t = &cy->claimed[cy->n_claimed];
        memset(t, 0, sizeof *t);
        t->id = pg_i64(r, i, 0);
        t->function = pg_text(r, i, 1);
        t->payload = pg_bytes(r, i, 2, &t->payload_len);
        t->payload_external = pg_i64(r, i, 3) != 0;
        t->start_recorded = pg_i64(r, i, 9) != 0;
        t->start_first = sitq__start_first((int32_t)pg_i64(r, i, 10));
        /* The attempt this run will be: counted already, or at its start. */
        t->attempt = (int32_t)pg_i64(r, i, 4) + (t->start_recorded ? 0 : 1);
        t->max_retries = (int32_t)pg_i64(r, i, 5);
        t->priority = (int32_t)pg_i64(r, i, 6);
        t->run_at_us = pg_i64(r, i, 7);
        t->timeout_us = pg_i64(r, i, 8);
        t->lease_token = token;
        t->lease_until_us = lease_until;
        cy->n_claimed++;
        if (!t->function || (!pg_isnull(r, i, 2) && !t->payload))
            rc = sitq__fail(err, SITQ_ENOMEM, "out of memory reading claimed tasks");
    }
    return rc;
}

static void drop_claimed(sitq__cycle *cy) {
    for (size_t i = 0; i < cy->n_claimed; i++) sitq__claimed_clear(&cy->claimed[i]);
    cy->n_claimed = 0;
}

static void reset_outputs(sitq__cycle *cy) {
    drop_claimed(cy);
    for (size_t i = 0; i < cy->n_completions; i++) {
        sitq__completion *k = &cy->completions[i];
        k->applied = 0;
        k->outcome = SITQ__TOTAL_NONE;
        k->stored_as_failure = 0;
        free(k->stored_error);
        k->stored_error = NULL;
    }
    cy->n_finished = cy->n_reaped = 0;
    cy->touched_dependents = cy->limit_held = 0;
    cy->next_run_at_us = 0;
    cy->completions_committed = 0;
    cy->db_now_us = 0;
}

static sitq_code claim_queue(void *arg, sitq__cycle *cy, size_t qi, size_t limit, sitq_error *err) {
    pg_claim_arg *a = arg;
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, a->token);
    pg_p_i64(&p, a->db_until);
    pg_p_text(&p, cy->worker_id);
    pg_p_i64(&p, a->now); /* run_at_us is on the clients' clock */
    pg_p_text(&p, cy->queues[qi]);
    pg_p_text(&p, a->names[0]);
    pg_p_text(&p, a->names[1]);
    pg_p_i64(&p, (int64_t)limit);
    pg_p_i64(&p, owner_key(a->b, cy->worker_id));
    PGresult *r = pg_run(a->c, PG_CLAIM, &p, err, "claiming tasks");
    if (!r) return pg_code(err);
    size_t before = cy->n_claimed;
    sitq_code rc = pg_read_claimed(r, cy, a->token, a->db_until, err);
    PQclear(r);
    /* A queue with limits claims nothing above: look only when short. */
    if (!rc && cy->n_claimed - before < limit)
        rc = pg_claim_limited(a, cy, qi, limit - (cy->n_claimed - before), err);
    return rc;
}

/* Burst mode: whether a queue of the cycle holds a task that keeps its
 * worker (running, waiting, or due by the horizon; functions it handles). */
static sitq_code check_live(pg_conn *c, const pg_claim_arg *a, sitq__cycle *cy, sitq_error *err) {
    cy->live = 0;
    for (size_t q = 0; q < cy->n_queues && !cy->live; q++) {
        pg_params p;
        pg_p_init(&p);
        pg_p_text(&p, cy->queues[q]);
        pg_p_i64(&p, cy->live_horizon_us);
        pg_p_text(&p, a->names[0]);
        pg_p_text(&p, a->names[1]);
        PGresult *r = pg_run(c, PG_LIVE, &p, err, "looking for tasks left in the queues");
        if (!r) return pg_code(err);
        cy->live = pg_i64(r, 0, 0) != 0;
        PQclear(r);
    }
    return SITQ_OK;
}

/* Lock the limit rows of all the cycle's queues in one global order
 * (PG_LIMITS_LOCK_ALL), before the claim visits them in its own order. */
static sitq_code lock_limits(pg_conn *c, const sitq__cycle *cy, sitq_error *err) {
    char *names = pg_text_array_literal(cy->queues, cy->n_queues);
    if (!names) return sitq__fail(err, SITQ_ENOMEM, "out of memory claiming tasks");
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, names);
    PGresult *r = pg_run(c, PG_LIMITS_LOCK_ALL, &p, err, "locking the queues' limits");
    free(names);
    if (!r) return pg_code(err);
    PQclear(r);
    return SITQ_OK;
}

/* The claim over the cycle's queues, then the burst check. */
static sitq_code claim(pg_backend *b, pg_conn *c, sitq__cycle *cy, sitq_time_us db_until,
                       sitq_time_us local_at_db_now, sitq_time_us now, sitq_error *err) {
    pg_claim_arg a = {b,
                      c,
                      new_lease_token(),
                      db_until,
                      now,
                      {NULL, NULL},
                      owner_key(b, cy->worker_id),
                      cy->db_now_us,
                      0};
    pg_unknown_claiming(b, a.token, cy->queues, cy->n_queues);
    char *names[2] = {NULL, NULL};
    sitq_code rc = handler_names(cy, names, err);
    a.names[0] = names[0];
    a.names[1] = names[1];
    if (!rc && cy->claim_max > 0 && cy->n_queues > 1) rc = lock_limits(c, cy, err);
    if (!rc && cy->claim_max > 0) rc = sitq__claim_rounds(cy, claim_queue, &a, err);
    /* A limit that blocked the claim: when to look again, on this host's
     * clock like run_at_us. */
    b->limit_wake_us = a.wake_us > 0 ? to_local(a.wake_us, cy->db_now_us, local_at_db_now) : 0;
    cy->limit_held = a.wake_us > 0;
    if (!rc && cy->live_horizon_us > 0 && cy->n_claimed == 0) rc = check_live(c, &a, cy, err);
    free(names[0]);
    free(names[1]);
    return rc;
}

/* When the first task of the queues not due at `now` becomes due. `now`
 * is the claim's: a task that became due between the claim and this look
 * would be in neither, and a worker with a long poll would sleep past it. */
static sitq_code next_run_at(pg_conn *c, sitq__cycle *cy, sitq_time_us now, sitq_error *err) {
    cy->next_run_at_us = 0;
    for (size_t q = 0; q < cy->n_queues; q++) {
        pg_params p;
        pg_p_init(&p);
        pg_p_text(&p, cy->queues[q]);
        pg_p_i64(&p, now);
        PGresult *r = pg_run(c, PG_NEXT_RUN_AT, &p, err, "finding the next scheduled task");
        if (!r) return pg_code(err);
        sitq_time_us at = pg_isnull(r, 0, 0) ? 0 : pg_i64(r, 0, 0);
        PQclear(r);
        if (at > 0 && (cy->next_run_at_us == 0 || at < cy->next_run_at_us)) cy->next_run_at_us = at;
    }
    return SITQ_OK;
}

/* One counter update per queue and commit, not per task: the outcomes of
 * the completions applied, lost[q] leases recovered and cancelled[q] tasks
 * among them that ended cancelled. A queue's counter
 * rows are shared by every worker of the queue: they are updated last,
 * right before the commit, so that a row's lock is held for no statement
 * of the cycle (claims, heartbeats). Taken first, it made every worker's
 * cycle wait for the whole of another's, and heartbeats queued behind it
 * let leases of live workers lapse. */
static sitq_code count_outcomes(pg_conn *c, const sitq__cycle *cy, const int64_t *lost,
                                const int64_t *cancelled, sitq_error *err) {
    sitq__tally t[SITQ_WORKER_QUEUES_MAX];
    if (cy->n_queues > SITQ_WORKER_QUEUES_MAX) return SITQ_OK;
    sitq__tally_completions(cy, t);
    for (size_t q = 0; q < cy->n_queues; q++) {
        t[q].n[SITQ__TOTAL_LOST] += lost[q];
        t[q].n[SITQ__TOTAL_CANCELLED] += cancelled[q];
        sitq_code rc = pg_count_totals(c, cy->queues[q], &t[q], err);
        if (rc) return rc;
    }
    return SITQ_OK;
}

/* One notification per queue and commit, for other processes' waiters.
 * "Ready" only when this commit may have made a task claimable or moved a
 * task's run_at: every idle worker of the queue wakes on it and runs a
 * claim, so a success that released no dependent says "finished" alone,
 * unless a limit held this backend's last claim back (the success freed a
 * slot that other workers may wait for). A failure says both: it may release
 * finalizers, or put its task back with a new run_at that other workers'
 * next poll must know. */
static sitq_code notify_queues(pg_conn *c, const sitq__cycle *cy, size_t n_released,
                               int released_unknown, sitq_error *err) {
    int finished = cy->n_finished > 0;
    int failed = 0;
    for (size_t i = 0; i < cy->n_completions && !failed; i++) {
        const sitq__completion *k = &cy->completions[i];
        failed = k->applied && (!k->ok || k->stored_as_failure);
    }
    int ready = n_released > 0 || cy->n_reaped > 0 || cy->n_releases > 0 || failed ||
                released_unknown || (finished && c->b->limit_wake_us > 0);
    for (size_t q = 0; q < cy->n_queues; q++) {
        sitq_code rc = pg_notify_queue(c, cy->queues[q], finished, ready, err);
        if (rc) return rc;
    }
    return SITQ_OK;
}

static sitq_code cycle_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    sitq__cycle *cy = arg;
    reset_outputs(cy);
    cy->live = 1;
    /* The registry's columns, added to an older schema by the first record. */
    sitq_code rc = cy->record ? pg_workers_prepare(b, c, err) : SITQ_OK;
    /* A cycle that only renews leases need not wait for the disk: a renewal
     * lost in a server crash only makes a lease shorter. Under I/O load a
     * durable commit can take longer than a short lease. */
    if (!rc && cy->n_completions == 0 && cy->n_starts == 0 && cy->n_releases == 0 && !cy->reap &&
        cy->claim_max == 0 && cy->live_horizon_us == 0 && b->n_unknown == 0)
        rc = pg_command(c, "SET LOCAL synchronous_commit = off", err, "renewing leases");
    /* First the tasks of a commit whose answer was lost: this cycle's
     * claim may take them again. */
    int released_unknown = b->n_unknown > 0;
    if (!rc) rc = pg_unknown_release(b, c, err);
    size_t n_released = 0;
    if (!rc) rc = apply_completions(c, cy, sitq_now_us(), &n_released, err);
    cy->touched_dependents = n_released > 0;
    if (!rc) rc = apply_starts(c, cy, err);
    if (!rc) rc = apply_releases(c, cy, err);
    /* Leases are measured from now, after whatever the completions cost. */
    sitq_time_us db_until = 0;
    int need_lease = cy->n_heartbeats > 0 || cy->claim_max > 0;
    if (!rc && need_lease) rc = lease_times(c, cy->lease_us, &cy->db_now_us, &db_until, err);
    sitq_time_us local_at_db_now = sitq_now_us();
    if (!rc) rc = apply_heartbeats(b, c, cy, db_until, err);
    int64_t lost[SITQ_WORKER_QUEUES_MAX] = {0}, cancelled[SITQ_WORKER_QUEUES_MAX] = {0};
    for (size_t q = 0; q < cy->n_queues && q < SITQ_WORKER_QUEUES_MAX && cy->reap && !rc; q++) {
        size_t before = cy->n_reaped;
        rc = reap(b, c, cy, cy->queues[q], &cancelled[q], err);
        lost[q] = (int64_t)(cy->n_reaped - before);
    }
    sitq_time_us claim_now = sitq_now_us(); /* run_at_us is on the clients' clock */
    if (!rc && (cy->claim_max > 0 || cy->live_horizon_us > 0))
        rc = claim(b, c, cy, db_until, local_at_db_now, claim_now, err);
    if (!rc && cy->want_next_run_at && cy->n_claimed < cy->claim_max)
        rc = next_run_at(c, cy, claim_now, err);
    if (!rc && b->limit_wake_us > 0 &&
        (cy->next_run_at_us <= 0 || b->limit_wake_us < cy->next_run_at_us))
        cy->next_run_at_us = b->limit_wake_us;
    if (!rc) rc = count_outcomes(c, cy, lost, cancelled, err);
    if (!rc) rc = notify_queues(c, cy, n_released, released_unknown, err);
    if (!rc && cy->record) rc = pg_workers_record(c, cy, owner_key(b, cy->worker_id), err);
    return rc;
}

sitq_code pg_cycle(sitq_backend *base, sitq__cycle *cy, sitq_error *err) {
    cy->n_claimed = 0;
    sitq_code rc = pg_write_txn((pg_backend *)base, cycle_body, cy, err);
    if (rc) {
        /* Nothing of the transaction was committed: no claim holds and no
         * completion was recorded. */
        reset_outputs(cy);
        cy->live = 1;
        return rc;
    }
    return sitq__ok(err);
}

typedef struct claim_id_arg {
    sitq_task_id id;
    sitq__cycle *cy;
    sitq_result *snapshot;
} claim_id_arg;

static sitq_code claim_id_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    claim_id_arg *a = arg;
    sitq__cycle *cy = a->cy;
    drop_claimed(cy);
    sitq_result_free(a->snapshot);
    a->snapshot = NULL;
    sitq_time_us db_until = 0;
    sitq_code rc = pg_unknown_release(b, c, err);
    if (!rc) rc = lease_times(c, cy->lease_us, &cy->db_now_us, &db_until, err);
    if (rc) return rc;
    int64_t token = new_lease_token();
    pg_unknown_claiming(b, token, cy->queues, 1);
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, token);
    pg_p_i64(&p, db_until);
    pg_p_text(&p, cy->worker_id);
    pg_p_i64(&p, sitq_now_us());
    pg_p_i64(&p, a->id);
    pg_p_text(&p, cy->queues[0]);
    pg_p_i64(&p, owner_key(b, cy->worker_id));
    PGresult *r = pg_run(c, PG_CLAIM_ID, &p, err, "claiming a task");
    if (!r) return pg_code(err);
    size_t max = cy->claim_max;
    if (cy->claim_max < 1) cy->claim_max = 1;
    rc = pg_read_claimed(r, cy, token, db_until, err);
    cy->claim_max = max;
    PQclear(r);
    if (rc || cy->n_claimed > 0) return rc;
    rc = pg_get_conn(c, cy->queues[0], a->id, &a->snapshot, err);
    if (rc) return rc;
    return sitq__not_ready(a->id, a->snapshot->status, err);
}

sitq_code pg_claim_id(sitq_backend *base, sitq_task_id id, sitq__cycle *cy, sitq_result **snapshot,
                      sitq_error *err) {
    claim_id_arg a = {id, cy, NULL};
    cy->n_claimed = 0;
    *snapshot = NULL;
    sitq_code rc = pg_write_txn((pg_backend *)base, claim_id_body, &a, err);
    if (rc == SITQ_ENOTREADY) {
        *snapshot = a.snapshot;
        return rc;
    }
    if (rc) {
        drop_claimed(cy);
        sitq_result_free(a.snapshot);
        return rc;
    }
    return sitq__ok(err);
}
