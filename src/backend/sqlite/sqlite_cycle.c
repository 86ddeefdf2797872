/* sqlite_cycle.c - the worker's write path. One transaction per dispatcher
 * cycle records completions (group commit) and attempt starts, renews
 * leases, releases unstarted tasks, recovers lapsed leases and claims the
 * next batch (lessons 1, 3, 4, 5 and 9 of docs/architecture.md).
 *
 * Attempts are counted at start, not at claim: a worker claims ahead of its
 * handler threads, and a task it held but never started must not spend an
 * attempt when the worker dies. A start is recorded by the first cycle after
 * it (ST_START) or together with the outcome (ST_SUCCEED, apply_failure),
 * whichever comes first. A task whose lease lapses with no recorded start is
 * put back at its place without spending an attempt, and counted in
 * `lapses`; after SITQ__START_FIRST_LAPSES such losses, the worker that
 * claims it next records its start before running it (sitq__start_first), so
 * that a task which kills its worker before its start could be recorded still
 * runs out of retries.
 *
 * What a failed attempt or a lapsed lease leads to is decided by the core
 * (sitq__decide_failure, sitq__decide_lapse in core/lifecycle.c): this file
 * reads the facts under the lease, and applies the verdict with statements
 * guarded by (state = running, lease_token). */
#include "sq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t new_lease_token(void) {
    int64_t t = (int64_t)(sitq__rand64() >> 1);
    return t ? t : 1;
}

static sitq_code apply_failure(sq_conn *c, sitq__completion *k, size_t *n_finished,
                               sitq_error *err);

/* Record the start of an attempt (counting it); a no-op when it was
 * recorded already or the lease is no longer ours. */
static sitq_code apply_start(sq_conn *c, const sitq__start *s, sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, ST_START, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, s->id);
    sqlite3_bind_int64(st, 2, s->lease_token);
    sqlite3_bind_int64(st, 3, s->started_at_us);
    return sq_exec(c, st, err, "recording the start of an attempt");
}

/* A success whose result SQLite refuses (too big for the row) becomes a
 * failed attempt (sitq__unstorable_failure): one task's result must never
 * block the group's commit. Only the write is this backend's. */
static sitq_code success_not_storable(sq_conn *c, sitq__completion *k, size_t *n_finished,
                                      sitq_error *err) {
    char msg[SITQ_ERROR_MESSAGE_SIZE];
    sitq__completion f;
    sitq__unstorable_failure(k, c->refuse_results ? c->refuse_results : sqlite3_errmsg(c->db), msg,
                             sizeof msg, &f);
    sitq_code rc = apply_failure(c, &f, n_finished, err);
    sitq__unstorable_report(k, &f, rc);
    return rc;
}

/* Is task id still running under this lease? */
static sitq_code still_owned(sq_conn *c, const sitq__completion *k, int *owned, sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, ST_OWNED, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, k->id);
    sqlite3_bind_int64(st, 2, k->lease_token);
    int rc = sqlite3_step(st);
    *owned = rc == SQLITE_ROW;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SITQ_OK : sq_fail(c, err, "checking a lease");
}

/* Store a large result in sitq_results. 1: stored, 0: SQLite refused it
 * (too big), < 0: storage error (err set). */
static int store_large_result(sq_conn *c, const sitq__completion *k, sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, ST_INSERT_RESULT, err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, k->id);
    if (sq_bind_blob(st, 2, k->value, k->value_len) != SQLITE_OK) {
        sqlite3_reset(st);
        return 0;
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return 1;
    if ((rc & 0xff) == SQLITE_TOOBIG) return 0;
    sq_fail(c, err, "storing a result");
    return -1;
}

static sitq_code apply_success(sq_conn *c, sitq__completion *k, size_t *n_finished,
                               int64_t *n_succeeded, sitq_error *err) {
    /* A large result goes to sitq_results, only while the lease is ours. */
    int external = k->value && k->value_len > SQ_INLINE_MAX;
    if (external) {
        int owned = 0;
        sitq_code code = still_owned(c, k, &owned, err);
        if (code) return code;
        if (!owned) {
            k->applied = 0; /* lease lost: a newer attempt owns the task */
            return SITQ_OK;
        }
        int stored = c->refuse_results ? 0 : store_large_result(c, k, err);
        if (stored < 0) return SITQ_ESTORAGE;
        if (stored == 0) return success_not_storable(c, k, n_finished, err);
    }
    /* Dependents are released for the whole group at once: resolve_group. */
    sqlite3_stmt *st = sq_stmt(c, ST_SUCCEED, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, k->id);
    sqlite3_bind_int64(st, 2, k->lease_token);
    if (k->value && !external && sq_bind_blob(st, 3, k->value, k->value_len) != SQLITE_OK) {
        sqlite3_reset(st);
        return success_not_storable(c, k, n_finished, err);
    }
    sqlite3_bind_int64(st, 4, k->finished_at_us);
    sqlite3_bind_int(st, 5, external ? 2 : 0);
    sqlite3_bind_int64(st, 6, k->started_at_us ? k->started_at_us : k->finished_at_us);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_TOOBIG) return success_not_storable(c, k, n_finished, err);
    if (rc != SQLITE_DONE) return sq_fail(c, err, "recording a success");
    k->applied = sqlite3_changes(c->db) == 1;
    if (!k->applied) return SITQ_OK; /* lease lost: a newer attempt owns the task */
    k->outcome = SITQ__TOTAL_SUCCEEDED;
    (*n_finished)++;
    (*n_succeeded)++;
    return SITQ_OK;
}

/* Whether k was recorded as a success. */
static int stored_success(const sitq__completion *k) {
    return k->ok && k->applied && !k->stored_as_failure;
}

/* Release the dependents of every completion of the cycle that was recorded
 * as a success: one statement for the whole group instead of one per task
 * (that per-task statement cost 30% of the end-to-end rate). */
static sitq_code resolve_group(sq_conn *c, sitq__cycle *cy, sitq_time_us now, sitq_error *err) {
    size_t n = 0;
    for (size_t i = 0; i < cy->n_completions; i++)
        if (stored_success(&cy->completions[i])) n++;
    if (n == 0) return SITQ_OK;
    char *json = malloc(n * 21 + 3);
    if (!json) return sitq__fail(err, SITQ_ENOMEM, "out of memory releasing dependents");
    size_t o = 0;
    json[o++] = '[';
    for (size_t i = 0; i < cy->n_completions; i++) {
        const sitq__completion *k = &cy->completions[i];
        if (!stored_success(k)) continue;
        o += (size_t)sprintf(json + o, "%s%lld", o > 1 ? "," : "", (long long)k->id);
    }
    json[o++] = ']';
    json[o] = '\0';
    sitq_code rc = sq_resolve_dependents(c, json, now, err);
    free(json);
    if (!rc && sqlite3_changes(c->db) > 0) cy->touched_dependents = 1;
    return rc;
}

/* A failed attempt queued again for its retry at run_at (its lease token
 * still ours). */
static sitq_code requeue(sq_conn *c, const sitq__completion *k, sitq_time_us run_at,
                         const char *error, sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, ST_REQUEUE, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, k->id);
    sqlite3_bind_int64(st, 2, run_at);
    sq_bind_text(st, 3, error);
    sq_bind_text(st, 4, k->traceback);
    sqlite3_bind_int64(st, 5, k->lease_token);
    return sq_exec(c, st, err, "scheduling a retry");
}

static sitq_code apply_failure(sq_conn *c, sitq__completion *k, size_t *n_finished,
                               sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, ST_FAIL_INFO, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, k->id);
    sqlite3_bind_int64(st, 2, k->lease_token);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        k->applied = 0;
        return SITQ_OK;
    }
    if (rc != SQLITE_ROW) {
        sitq_code code = sq_fail(c, err, "reading a failed task");
        sqlite3_reset(st);
        return code;
    }
    sitq__failure_facts f = {
        .attempts = sqlite3_column_int(st, 0),
        .max_retries = sqlite3_column_int(st, 1),
        .backoff_base_us = sqlite3_column_int64(st, 2),
        .backoff_cap_us = sqlite3_column_int64(st, 3),
        .backoff_jitter = sqlite3_column_double(st, 4),
        .cancel_requested = sqlite3_column_int(st, 5),
        .error = k->error,
        .finished_us = k->finished_at_us,
        .retry = k->retry,
        .retry_after_us = k->retry_after_us,
    };
    int unrecorded = sqlite3_column_int(st, 6);
    sqlite3_reset(st);
    k->applied = 1;
    if (unrecorded && k->started_at_us) { /* the attempt ran: it counts */
        sitq__start s = {k->id, k->lease_token, k->started_at_us};
        sitq_code code = apply_start(c, &s, err);
        if (code) return code;
        f.attempts++;
    }
    sitq__verdict v;
    sitq__decide_failure(&f, sitq__rand_unit(), &v);
    k->outcome = sitq__total_of_verdict(v.state);
    if (v.state == SITQ__QUEUED) return requeue(c, k, v.run_at_us, v.message, err);
    return sq_finish_failed(c, k->id, SITQ__RUNNING, k->lease_token, v.state, v.message,
                            k->traceback, k->finished_at_us, n_finished, err);
}

static sitq_code apply_heartbeat(sq_conn *c, sitq__heartbeat *h, sitq_time_us lease_until,
                                 sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, ST_HEARTBEAT, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, h->id);
    sqlite3_bind_int64(st, 2, h->lease_token);
    sqlite3_bind_int64(st, 3, lease_until);
    if (h->progress >= 0) sqlite3_bind_double(st, 4, h->progress);
    int rc = sqlite3_step(st);
    sitq_code code = SITQ_OK;
    if (rc == SQLITE_ROW) {
        h->lost = 0;
        h->lease_until_us = lease_until;
        h->cancel_requested = sqlite3_column_int(st, 0);
        rc = sqlite3_step(st);
    } else {
        h->lost = 1;
    }
    if (rc != SQLITE_DONE) code = sq_fail(c, err, "renewing a lease");
    sqlite3_reset(st);
    return code;
}

static sitq_code apply_release(sq_conn *c, const sitq__release *r, sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, ST_RELEASE, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, r->id);
    sqlite3_bind_int64(st, 2, r->lease_token);
    return sq_exec(c, st, err, "releasing a task");
}

static sitq_code requeue_lost(sq_conn *c, sitq_task_id id, int64_t lease_token, const char *note,
                              int unstarted, sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, ST_REQUEUE_LOST, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, id);
    sq_bind_text(st, 2, note);
    sqlite3_bind_int(st, 3, unstarted);
    sqlite3_bind_int64(st, 4, lease_token);
    return sq_exec(c, st, err, "recovering a lapsed lease");
}

/* Recover tasks whose lease lapsed: their worker died or hung. What each
 * one becomes is sitq__decide_lapse's verdict: a task whose attempt had
 * started spends it (so a task that kills its worker cannot loop forever);
 * one that never started is handed out again for free. Both keep their
 * place in the queue. */
static sitq_code reap(sq_conn *c, sitq_time_us now, sitq__cycle *cy, const char *queue,
                      sitq_error *err) {
    enum { MAX_REAP = 1000 };
    struct lapsed {
        sitq_task_id id;
        int64_t lease_token;
        int32_t attempts, max_retries;
        int cancel, started;
        char worker[64];
    } *v = NULL;
    size_t n = 0;
    sqlite3_stmt *st = sq_stmt(c, ST_REAP_SELECT, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, now);
    sq_bind_text(st, 2, queue);
    int rc;
    sitq_code code = SITQ_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!v && !(v = malloc(MAX_REAP * sizeof *v))) {
            code = sitq__fail(err, SITQ_ENOMEM, "out of memory recovering leases");
            break;
        }
        if (n == MAX_REAP) break;
        v[n].id = sqlite3_column_int64(st, 0);
        v[n].attempts = sqlite3_column_int(st, 1);
        v[n].max_retries = sqlite3_column_int(st, 2);
        const unsigned char *w = sqlite3_column_text(st, 3);
        snprintf(v[n].worker, sizeof v[n].worker, "%s", w ? (const char *)w : "?");
        v[n].cancel = sqlite3_column_int(st, 4);
        v[n].started = sqlite3_column_int(st, 5);
        v[n].lease_token = sqlite3_column_int64(st, 6);
        n++;
    }
    if (!code && rc != SQLITE_DONE && rc != SQLITE_ROW)
        code = sq_fail(c, err, "finding lapsed leases");
    sqlite3_reset(st);
    int64_t n_cancelled = 0;
    for (size_t i = 0; i < n && !code; i++) {
        sitq__lapse_facts f = {.worker_id = v[i].worker,
                               .attempts = v[i].attempts,
                               .max_retries = v[i].max_retries,
                               .cancel_requested = v[i].cancel,
                               .started = v[i].started};
        sitq__verdict d;
        sitq__decide_lapse(&f, &d);
        if (d.state == SITQ__CANCELLED) n_cancelled++;
        if (d.state == SITQ__QUEUED)
            code = requeue_lost(c, v[i].id, v[i].lease_token, d.message, d.unstarted, err);
        else
            code = sq_finish_failed(c, v[i].id, SITQ__RUNNING, v[i].lease_token, d.state, d.message,
                                    NULL, now, &cy->n_finished, err);
        if (!code) cy->n_reaped++;
    }
    free(v);
    /* Every lease recovered lost its attempt's outcome (sitq_totals.lost);
     * a task whose cancel was asked for ends cancelled, and counts so. */
    sitq__tally t = {{0}};
    t.n[SITQ__TOTAL_LOST] = (int64_t)n;
    t.n[SITQ__TOTAL_CANCELLED] = n_cancelled;
    if (!code) code = sq_count_totals(c, queue, &t, err);
    return code;
}

/* Read the RETURNING rows of a claim into cy->claimed. */
sitq_code sq_read_claimed(sq_conn *c, sqlite3_stmt *st, sitq__cycle *cy, int64_t token,
                          sitq_time_us lease_until, sitq_error *err) {
    int rc;
    sitq_code code = SITQ_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (code || cy->n_claimed >= cy->claim_max) continue; /* drain; never happens */
        sitq__claimed *t = &cy->claimed[cy->n_claimed];
        memset(t, 0, sizeof *t);
        t->id = sqlite3_column_int64(st, 0);
        t->function = sq_col_text(st, 1);
        t->payload = sq_col_blob(st, 2, &t->payload_len);
        t->payload_external = sqlite3_column_int(st, 3) != 0;
        t->start_recorded = sqlite3_column_int(st, 9) != 0;
        t->start_first = sitq__start_first(sqlite3_column_int(st, 10));
        /* The attempt this run will be: counted already, or at its start. */
        t->attempt = sqlite3_column_int(st, 4) + (t->start_recorded ? 0 : 1);
        t->max_retries = sqlite3_column_int(st, 5);
        t->priority = sqlite3_column_int(st, 6);
        t->run_at_us = sqlite3_column_int64(st, 7);
        t->timeout_us = sqlite3_column_int64(st, 8);
        t->lease_token = token;
        t->lease_until_us = lease_until;
        cy->n_claimed++;
        if (!t->function || (sqlite3_column_bytes(st, 2) > 0 && !t->payload))
            code = sitq__fail(err, SITQ_ENOMEM, "out of memory reading claimed tasks");
    }
    if (!code && rc != SQLITE_DONE) code = sq_fail(c, err, "claiming tasks");
    sqlite3_reset(st);
    return code;
}

static void drop_claimed(sitq__cycle *cy) {
    for (size_t i = 0; i < cy->n_claimed; i++) sitq__claimed_clear(&cy->claimed[i]);
    cy->n_claimed = 0;
}

void sq_bind_claim(sqlite3_stmt *st, int64_t token, sitq_time_us lease_until, const char *worker,
                   sitq_time_us now) {
    sqlite3_bind_int64(st, 1, token);
    sqlite3_bind_int64(st, 2, lease_until);
    sq_bind_text(st, 3, worker);
    sqlite3_bind_int64(st, 4, now);
}

/* Completions whose results add up to this many bytes are committed in a
 * transaction of their own, before the claim: writing them can take long,
 * and a claim's lease must start when the claim commits. */
#define LARGE_COMPLETIONS_BYTES (1u << 20)

static sitq_code apply_completions(sq_conn *c, sitq__cycle *cy, sitq_time_us now, sitq_error *err) {
    int64_t n_succeeded = 0;
    sitq_code rc = SITQ_OK;
    for (size_t i = 0; i < cy->n_completions && !rc; i++) {
        sitq__completion *k = &cy->completions[i];
        rc = k->ok ? apply_success(c, k, &cy->n_finished, &n_succeeded, err)
                   : apply_failure(c, k, &cy->n_finished, err);
    }
    if (!rc && n_succeeded) rc = resolve_group(c, cy, now, err);
    /* One counter update per queue and commit, not per task. */
    sitq__tally t[SITQ_WORKER_QUEUES_MAX];
    if (rc || cy->n_queues > SITQ_WORKER_QUEUES_MAX || !sitq__tally_completions(cy, t)) return rc;
    for (size_t q = 0; !rc && q < cy->n_queues; q++)
        rc = sq_count_totals(c, cy->queues[q], &t[q], err);
    return rc;
}

/* Reset the out fields of the completions: nothing of them is recorded. */
static void forget_completions(sitq__cycle *cy) {
    for (size_t i = 0; i < cy->n_completions; i++) {
        sitq__completion *k = &cy->completions[i];
        k->applied = 0;
        k->outcome = SITQ__TOTAL_NONE;
        k->stored_as_failure = 0;
        free(k->stored_error);
        k->stored_error = NULL;
    }
    cy->n_finished = 0;
    cy->touched_dependents = 0;
}

static sitq_code claim_queue(void *arg, sitq__cycle *cy, size_t qi, size_t limit, sitq_error *err) {
    sq_claim_arg *a = arg;
    sqlite3_stmt *st = sq_stmt(a->c, ST_CLAIM, err);
    if (!st) return SITQ_ESTORAGE;
    sq_bind_claim(st, a->token, a->lease_until, cy->worker_id, a->now);
    sq_bind_text(st, 5, cy->queues[qi]);
    sq_bind_text(st, 6, a->names->functions);
    sq_bind_text(st, 7, a->names->prefixes);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)limit);
    size_t before = cy->n_claimed;
    sitq_code rc = sq_read_claimed(a->c, st, cy, a->token, a->lease_until, err);
    size_t got = cy->n_claimed - before;
    /* A queue with limits claims nothing above: look only when short. */
    if (!rc && got < limit) rc = sq_claim_limited(a, cy, qi, limit - got, err);
    return rc;
}

/* Burst mode: whether a queue of the cycle holds a task that keeps its
 * worker (running, waiting, or due by the horizon; functions it handles). */
static sitq_code check_live(sq_conn *c, const sq_names_json *names, sitq__cycle *cy,
                            sitq_error *err) {
    cy->live = 0;
    for (size_t q = 0; q < cy->n_queues && !cy->live; q++) {
        sqlite3_stmt *st = sq_stmt(c, ST_LIVE, err);
        if (!st) return SITQ_ESTORAGE;
        sq_bind_text(st, 1, cy->queues[q]);
        sqlite3_bind_int64(st, 2, cy->live_horizon_us);
        sq_bind_text(st, 3, names->functions);
        sq_bind_text(st, 4, names->prefixes);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) cy->live = sqlite3_column_int(st, 0) != 0;
        sqlite3_reset(st);
        if (rc != SQLITE_ROW) return sq_fail(c, err, "looking for tasks left in the queues");
    }
    return SITQ_OK;
}

/* The part of a cycle after the completions, starts and releases: leases
 * renewed, lapsed ones recovered, the claim and the burst check. */
static sitq_code renew_and_claim(sq_backend *b, sitq__cycle *cy, sitq_error *err) {
    sq_conn *c = &b->writer;
    sitq_code rc = SITQ_OK;
    /* Leases are measured from now, after whatever the completions cost. */
    sitq_time_us now = sitq_now_us();
    sitq_time_us lease_until = now + cy->lease_us;
    cy->db_now_us = now;
    for (size_t i = 0; i < cy->n_heartbeats && !rc; i++)
        rc = apply_heartbeat(c, &cy->heartbeats[i], lease_until, err);
    for (size_t q = 0; q < cy->n_queues && cy->reap && !rc; q++)
        rc = reap(c, now, cy, cy->queues[q], err);
    int want_names = cy->claim_max > 0 || cy->live_horizon_us > 0;
    const sq_names_json *names = NULL;
    if (!rc && want_names && !(names = sq_names_for(b, cy, err))) rc = SITQ_ENOMEM;
    if (!rc && cy->claim_max > 0) {
        sq_claim_arg a = {c, names, new_lease_token(), now, lease_until, 0};
        rc = sitq__claim_rounds(cy, claim_queue, &a, err);
        /* A limit that blocked the claim says when to look again. */
        if (!rc && a.wake_us > 0 && (cy->next_run_at_us <= 0 || a.wake_us < cy->next_run_at_us))
            cy->next_run_at_us = a.wake_us;
        cy->limit_held = a.wake_us > 0;
    }
    if (!rc && cy->live_horizon_us > 0 && cy->n_claimed == 0) rc = check_live(c, names, cy, err);
    if (!rc && cy->record) rc = sq_workers_record(b, cy, err);
    return rc;
}

/* The disk had no room for the completions' commit: write them again with
 * every result stored apart (the large ones) refused as a failed attempt,
 * as a result too big is. Waiting for room instead held every commit of
 * the worker for as long as a result larger than the free space was in
 * its group: its other tasks never finished, nor did a stop. */
static sitq_code completions_without_results(sq_backend *b, sitq__cycle *cy, sitq_time_us now,
                                             sitq_error *err) {
    sq_conn *c = &b->writer;
    forget_completions(cy);
    sitq_code rc = sq_write_begin(b, err);
    if (rc) return rc;
    c->refuse_results = "the database's disk is full (SQLite code 13)";
    rc = apply_completions(c, cy, now, err);
    c->refuse_results = NULL;
    return sq_write_end(b, rc, err);
}

sitq_code sq_cycle(sitq_backend *base, sitq__cycle *cy, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sq_conn *c = &b->writer;
    cy->n_claimed = cy->n_finished = cy->n_reaped = 0;
    cy->limit_held = 0;
    cy->next_run_at_us = 0; /* not looked up: workers of SQLite poll often */
    cy->completions_committed = 0;
    cy->db_now_us = 0;
    cy->live = 1;
    forget_completions(cy);
    size_t result_bytes = 0;
    for (size_t i = 0; i < cy->n_completions; i++) result_bytes += cy->completions[i].value_len;
    int split = result_bytes >= LARGE_COMPLETIONS_BYTES;
    sitq_code rc = sq_write_begin(b, err);
    if (rc) return rc;
    sitq_time_us now = sitq_now_us();
    rc = apply_completions(c, cy, now, err);
    if (split) {
        rc = sq_write_end(b, rc, err);
        if (rc && c->full_at_commit) rc = completions_without_results(b, cy, now, err);
        if (rc) {
            forget_completions(cy);
            return rc;
        }
        cy->completions_committed = 1;
        rc = sq_write_begin(b, err);
        if (rc) return rc;
    }
    for (size_t i = 0; i < cy->n_starts && !rc; i++) rc = apply_start(c, &cy->starts[i], err);
    for (size_t i = 0; i < cy->n_releases && !rc; i++) rc = apply_release(c, &cy->releases[i], err);
    if (!rc) rc = renew_and_claim(b, cy, err);
    rc = sq_write_end(b, rc, err);
    if (rc) {
        /* Nothing of this transaction was committed: no claim holds, and the
         * completions were recorded only if they were split off above. */
        drop_claimed(cy);
        if (!split) forget_completions(cy);
        cy->n_reaped = 0;
        cy->live = 1;
        return rc;
    }
    return sitq__ok(err);
}

sitq_code sq_claim_id(sitq_backend *base, sitq_task_id id, sitq__cycle *cy, sitq_result **snapshot,
                      sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sq_conn *c = &b->writer;
    const char *queue = cy->n_queues > 0 ? cy->queues[0] : NULL;
    cy->n_claimed = 0;
    cy->db_now_us = 0;
    *snapshot = NULL;
    sitq_code rc = sq_write_begin(b, err);
    if (rc) return rc;
    sitq_time_us now = sitq_now_us();
    sitq_time_us lease_until = now + cy->lease_us;
    cy->db_now_us = now;
    int64_t token = new_lease_token();
    sqlite3_stmt *st = sq_stmt(c, ST_CLAIM_ID, err);
    if (!st) rc = SITQ_ESTORAGE;
    else {
        sq_bind_claim(st, token, lease_until, cy->worker_id, now);
        sqlite3_bind_int64(st, 5, id);
        sq_bind_text(st, 6, queue);
        rc = sq_read_claimed(c, st, cy, token, lease_until, err);
    }
    sitq_code status = SITQ_OK;
    if (!rc && cy->n_claimed == 0) {
        rc = sq_get_conn(c, queue, id, snapshot, err);
        if (!rc) {
            status = sitq__not_ready(id, (*snapshot)->status, err);
        }
    }
    rc = sq_write_end(b, rc, err);
    if (rc) {
        drop_claimed(cy);
        sitq_result_free(*snapshot);
        *snapshot = NULL;
        return rc;
    }
    return status ? status : sitq__ok(err);
}
