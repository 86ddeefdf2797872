/* sqlite_enqueue.c - enqueue of one task or a batch, all in one transaction
 * with one prepared INSERT reused per task (no bound-parameter limits). */
#include "sq.h"

#include <stdio.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Store a large payload in its own table, keyed by the task's id. */
static sitq_code insert_payload(sq_conn *c, sitq_task_id id, const sitq_task_spec *s,
                                const char *where, sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, ST_INSERT_PAYLOAD, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, id);
    if (sq_bind_blob(st, 2, s->payload, s->payload_len) != SQLITE_OK) {
        sqlite3_reset(st);
        return sitq__fail(err, SITQ_EINVAL, "%spayload of %zu bytes cannot be stored", where,
                          s->payload_len);
    }
    sitq_code code = sq_exec(c, st, err, "inserting a payload");
    if (code == SITQ_ESTORAGE && sqlite3_errcode(c->db) == SQLITE_TOOBIG)
        code = sitq__fail(err, SITQ_EINVAL, "%spayload of %zu bytes is too big to store", where,
                          s->payload_len);
    return code;
}

// NOLINTNEXTLINE(readability-function-size)
static sitq_code enqueue_one(sq_conn *c, const char *queue, const sitq_task_spec *s, size_t idx,
                             size_t n, sitq_task_id *ids, sitq_task_id *next_id, sitq_time_us now,
                             sitq_error *err) {
    sitq_task_options defaults;
    const sitq_task_options *o = s->options;
    if (!o) {
        sitq_task_options_init(&defaults);
        o = &defaults;
    }
    char where[40] = "";
    if (n > 1) snprintf(where, sizeof where, "task %zu: ", idx);

    if (o->unique_key) {
        sqlite3_stmt *st = sq_stmt(c, ST_UNIQUE_FIND, err);
        if (!st) return SITQ_ESTORAGE;
        sq_bind_text(st, 1, queue);
        sq_bind_text(st, 2, o->unique_key);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            ids[idx] = sqlite3_column_int64(st, 0);
            sqlite3_reset(st);
            return SITQ_OK;
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return sq_fail(c, err, "looking up a unique key");
    }

    sitq__dep_edge *deps = NULL;
    size_t n_deps = 0;
    sitq_code code = sitq__deps_collect(s, ids, &deps, &n_deps, err);
    if (code) return code;

    /* Fold every dependency's state (sitq__deps_add, in ascending id order):
     * unknown ids are rejected; a failed one makes this task fail at once
     * (unless it is a finalizer); pending ones make it wait. */
    sitq__deps_fold fold;
    sitq__deps_begin(&fold, o->finalizer);
    for (size_t k = 0; k < n_deps && !code; k++) {
        sqlite3_stmt *st = sq_stmt(c, ST_DEP_STATE, err);
        if (!st) {
            code = SITQ_ESTORAGE;
            break;
        }
        sqlite3_bind_int64(st, 1, deps[k].id);
        sq_bind_text(st, 2, queue);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            code = sitq__deps_add(&fold, where, deps[k].id,
                                  rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1, err);
        else code = sq_fail(c, err, "checking a dependency");
        sqlite3_reset(st);
    }

    char failmsg[96];
    int state = sitq__deps_initial_state(&fold, failmsg, sizeof failmsg);
    int failed = state == SITQ__FAILED;
    sitq_time_us run_at = o->eta_us > 0 ? o->eta_us : now + sitq__seconds_to_us(o->delay_s);

    sqlite3_stmt *st = code ? NULL : sq_stmt(c, ST_INSERT_TASK, err);
    if (!code && !st) code = SITQ_ESTORAGE;
    if (!code) {
        sq_bind_text(st, 1, queue);
        sq_bind_text(st, 2, s->function);
        /* A large payload goes to sitq_payloads (below), out of the hot row. */
        int external = s->payload && s->payload_len > SQ_INLINE_MAX;
        if (!external && sq_bind_blob(st, 3, s->payload, s->payload_len) != SQLITE_OK)
            code = sitq__fail(err, SITQ_EINVAL, "%spayload of %zu bytes cannot be stored", where,
                              s->payload_len);
        sqlite3_bind_int(st, 18, external ? 1 : 0);
        sqlite3_bind_int(st, 4, state);
        sqlite3_bind_int(st, 5, o->priority);
        sqlite3_bind_int64(st, 6, run_at);
        sqlite3_bind_int(st, 7, o->max_retries);
        sqlite3_bind_int64(st, 8, sitq__seconds_to_us(o->backoff_base_s));
        sqlite3_bind_int64(st, 9, sitq__seconds_to_us(o->backoff_cap_s));
        sqlite3_bind_double(st, 10, o->backoff_jitter);
        /* A timeout under 1 us is 1 us, not 0 (which would mean none). */
        int64_t timeout_us = sitq__seconds_to_us(o->timeout_s);
        if (o->timeout_s > 0 && timeout_us < 1) timeout_us = 1;
        sqlite3_bind_int64(st, 11, timeout_us);
        sqlite3_bind_int64(st, 12, failed ? 0 : fold.pending);
        /* A task that starts failed holds no unique key. */
        sq_bind_text(st, 13, failed ? NULL : o->unique_key);
        sqlite3_bind_int64(st, 14, now);
        if (failed) {
            sqlite3_bind_text(st, 15, failmsg, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 16, now);
        }
        sqlite3_bind_int64(st, 17, *next_id);
        /* Retention of its own (NULL: its queue's); -1 forever. */
        if (o->keep_s != 0) sqlite3_bind_int64(st, 19, sitq__keep_us(o->keep_s));
        if (!code) code = sq_exec(c, st, err, "inserting a task");
        if (code == SITQ_ESTORAGE && sqlite3_errcode(c->db) == SQLITE_TOOBIG)
            code = sitq__fail(err, SITQ_EINVAL, "%spayload of %zu bytes is too big to store", where,
                              s->payload_len);
        if (!code && external) code = insert_payload(c, *next_id, s, where, err);
        if (!code) ids[idx] = (*next_id)++;
    }
    for (size_t k = 0; k < n_deps && !code; k++) {
        sqlite3_stmt *dst = sq_stmt(c, ST_INSERT_DEP, err);
        if (!dst) {
            code = SITQ_ESTORAGE;
            break;
        }
        sqlite3_bind_int64(dst, 1, ids[idx]);
        sqlite3_bind_int64(dst, 2, deps[k].id);
        sqlite3_bind_int64(dst, 3, deps[k].position);
        sqlite3_bind_int(dst, 4, o->finalizer);
        code = sq_exec(c, dst, err, "recording a dependency");
    }
    free(deps);
    return code;
}

sitq_code sq_enqueue_in_txn(sq_conn *c, const char *queue, const sitq_task_spec *s,
                            sitq_task_id *id, sitq_error *err) {
    sitq_task_id next_id = 0;
    sqlite3_stmt *st = sq_stmt(c, ST_NEXT_ID, err);
    if (!st) return SITQ_ESTORAGE;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) next_id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (step != SQLITE_ROW) return sq_fail(c, err, "reading the next task id");
    return enqueue_one(c, queue, s, 0, 1, id, &next_id, sitq_now_us(), err);
}

/* One caller's enqueue, waiting in the group-commit list. */
typedef struct sq_enqueue_op {
    const char *queue;
    const sitq_task_spec *specs;
    size_t n;
    sitq_task_id *ids;
    sitq_code rc;
    sitq_error err;
    atomic_int done;
    struct sq_enqueue_op *next;
} sq_enqueue_op;

static sitq_code savepoint(sq_conn *c, sq_stmt_id id, sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, id, err);
    return st ? sq_exec(c, st, err, "managing a savepoint") : SITQ_ESTORAGE;
}

/* Write a group of enqueues in one transaction, each inside a savepoint so
 * that one caller's bad input does not undo the others'. */
static void write_group(sq_backend *b, sq_enqueue_op *ops) {
    sitq_error err;
    sitq_code rc = sq_write_begin(b, &err);
    if (rc) {
        for (sq_enqueue_op *op = ops; op; op = op->next) {
            op->rc = rc;
            op->err = err;
        }
        return;
    }
    sq_conn *c = &b->writer;
    sitq_time_us now = sitq_now_us();
    sitq_task_id next_id = 0;
    sqlite3_stmt *st = sq_stmt(c, ST_NEXT_ID, &err);
    if (!st) rc = SITQ_ESTORAGE;
    else if (sqlite3_step(st) == SQLITE_ROW) next_id = sqlite3_column_int64(st, 0);
    else rc = sq_fail(c, &err, "reading the next task id");
    if (st) sqlite3_reset(st);
    if (rc) {
        for (sq_enqueue_op *op = ops; op; op = op->next) {
            op->rc = rc;
            op->err = err;
        }
    }
    /* A lone caller needs no savepoint: its failure rolls back the whole
     * transaction, which holds nothing else. */
    int alone = ops && !ops->next;
    for (sq_enqueue_op *op = ops; op && !rc; op = op->next) {
        if (!alone) op->rc = savepoint(c, ST_SAVEPOINT, &op->err);
        for (size_t i = 0; i < op->n && !op->rc; i++)
            op->rc = enqueue_one(c, op->queue, &op->specs[i], i, op->n, op->ids, &next_id, now,
                                 &op->err);
        if (alone) {
            rc = op->rc;
            if (rc) err = op->err;
            break;
        }
        if (op->rc) rc = savepoint(c, ST_ROLLBACK_SAVEPOINT, &err);
        if (!rc) rc = savepoint(c, ST_RELEASE_SAVEPOINT, &err);
    }
    /* Tells the WAL hook that this commit alone filled the log (sqlite_wal.c). */
    size_t bytes = 0;
    for (sq_enqueue_op *op = ops; op && !rc; op = op->next)
        for (size_t i = 0; i < op->n; i++) bytes += op->specs[i].payload_len;
    b->wal_big_commit = bytes >= SQ_WAL_RESTART_BYTES;
    rc = sq_write_end(b, rc, &err);
    if (rc) { /* nothing of the group was committed */
        for (sq_enqueue_op *op = ops; op; op = op->next) {
            op->rc = rc;
            op->err = err;
        }
    }
}

sitq_code sq_enqueue(sitq_backend *base, const char *queue, const sitq_task_spec *specs, size_t n,
                     sitq_task_id *ids, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sq_enqueue_op me = {queue, specs, n, ids, SITQ_OK, {SITQ_OK, ""}, 0, NULL};
    pthread_mutex_lock(&b->gc_mu);
    if (b->gc_tail) b->gc_tail->next = &me;
    else b->gc_head = &me;
    b->gc_tail = &me;
    while (!atomic_load(&me.done)) {
        if (b->gc_leader) {
            /* A leader is writing: our op is in its next group. Yield a few
             * times before sleeping: a commit is shorter than a futex
             * sleep and wake-up. */
            pthread_mutex_unlock(&b->gc_mu);
            for (int spin = 0; spin < 64 && !atomic_load(&me.done); spin++) sched_yield();
            pthread_mutex_lock(&b->gc_mu);
            if (atomic_load(&me.done)) break;
            if (b->gc_leader) pthread_cond_wait(&b->gc_cv, &b->gc_mu);
            continue;
        }
        /* Lead: take everything queued so far (including us) and write it. */
        b->gc_leader = 1;
        sq_enqueue_op *group = b->gc_head;
        b->gc_head = b->gc_tail = NULL;
        pthread_mutex_unlock(&b->gc_mu);
        write_group(b, group);
        pthread_mutex_lock(&b->gc_mu);
        for (sq_enqueue_op *op = group, *next; op; op = next) {
            next = op->next;
            atomic_store(&op->done, 1); /* after this, op's owner may return and free it */
        }
        b->gc_leader = 0;
        pthread_cond_broadcast(&b->gc_cv);
    }
    pthread_mutex_unlock(&b->gc_mu);
    if (me.rc) {
        memset(ids, 0, n * sizeof *ids);
        if (err) *err = me.err;
        return me.rc;
    }
    return sitq__ok(err);
}
