/* pg_enqueue.c - the enqueue op of the PostgreSQL backend: group commit.
 *
 * Concurrent enqueues of a process are committed together: the first
 * caller to find no commit in progress leads, taking every op queued so far
 * into one transaction; the others wait for its outcome.
 *
 * - A group whose tasks all refer to nothing (no unique key, no dependency;
 *   the common case of many producers) and are few is written as one batch
 *   in one statement that is its own transaction (pg_enqueue_plain.c): one
 *   round trip for the whole group.
 * - Any other group is one transaction in which each op runs
 *   pg_enq_body (pg_enqueue_body.c), one after the other and without
 *   savepoints: each reads what it needs and decides every task before its
 *   first write, so one that fails on its own input (an unknown dependency)
 *   has written nothing and the others go on.
 *
 * Any other error runs each op of the group again on its own, so that an
 * error belongs to the caller who caused it. Two producers inserting the
 * same unique key at once: the loser's insert violates the unique index;
 * its transaction then runs again and finds the winner's task, as if it had
 * come second. */
#include "pg_enqueue.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One caller's enqueue, waiting in the group-commit list. */
typedef struct enq_op {
    enq_arg a;
    sitq_code rc;
    sitq_error err;
    int done; /* under gc_mu */
    struct enq_op *next;
} enq_op;

/* Errors an enqueue finds by reading, before it writes anything: the
 * caller's alone, the group's transaction goes on without it. */
static int own_error(pg_conn *c, sitq_code rc) {
    return (rc == SITQ_EDEPENDENCY || rc == SITQ_EINVAL) && c->conn &&
           PQtransactionStatus(c->conn) == PQTRANS_INTRANS;
}

/* Every op of the group enqueues tasks that refer to nothing, into one
 * queue, fewer than PG_COPY_MIN in all (bigger batches go faster by COPY):
 * the group can be one pg_enq_plain statement. */
static int plain_group(const enq_op *group) {
    size_t n = 0;
    for (const enq_op *op = group; op; op = op->next) {
        if (strcmp(op->a.queue, group->a.queue) != 0) return 0;
        for (size_t i = 0; i < op->a.n; i++)
            if (!pg_enq_is_plain(&op->a.specs[i])) return 0;
        n += op->a.n;
    }
    return n < PG_COPY_MIN;
}

/* A plain group as one batch; the ids are handed back to each op. */
static sitq_code plain_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    (void)b;
    enq_op *group = arg;
    if (!group) return SITQ_OK;
    size_t n = 0;
    for (enq_op *op = group; op; op = op->next) n += op->a.n;
    if (!group->next) return pg_enq_plain(c, &group->a, err);
    sitq_task_spec *specs = malloc(n * sizeof *specs);
    sitq_task_id *ids = malloc(n * sizeof *ids);
    sitq_code rc = SITQ_OK;
    if (!specs || !ids) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory enqueueing");
    size_t k = 0;
    for (enq_op *op = group; op && !rc; op = op->next) {
        memcpy(specs + k, op->a.specs, op->a.n * sizeof *specs);
        k += op->a.n;
    }
    enq_arg a = {group->a.queue, specs, n, ids, group->a.now, 0};
    if (!rc) rc = pg_enq_plain(c, &a, err);
    k = 0;
    for (enq_op *op = group; op && !rc; op = op->next) {
        memcpy(op->a.ids, ids + k, op->a.n * sizeof *ids);
        op->a.n_ready = op->a.n;
        k += op->a.n;
    }
    free(specs);
    free(ids);
    return rc;
}

/* Any other group: one transaction, each op after the other. An op that
 * fails on its own input has written nothing and keeps its error; any
 * other error fails the group's transaction. */
static sitq_code group_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    (void)b;
    for (enq_op *op = arg; op; op = op->next) {
        op->err.code = SITQ_OK;
        op->err.message[0] = '\0';
        op->rc = pg_enq_body(c, &op->a, &op->err);
        if (op->rc && !own_error(c, op->rc)) {
            if (err) *err = op->err;
            return op->rc;
        }
    }
    /* One notification per queue of the commit. */
    for (enq_op *op = arg; op; op = op->next) {
        if (op->rc || op->a.n_ready == 0) continue;
        int seen = 0;
        for (enq_op *o = arg; o != op && !seen; o = o->next)
            seen = !o->rc && o->a.n_ready > 0 && !strcmp(o->a.queue, op->a.queue);
        if (seen) continue;
        sitq_code rc = pg_notify_queue(c, op->a.queue, 0, 1, err);
        if (rc) return rc;
    }
    return SITQ_OK;
}

/* The group written in one transaction (or one statement). */
static sitq_code write_once(pg_backend *b, enq_op *group, sitq_error *err) {
    for (enq_op *op = group; op; op = op->next) {
        op->rc = SITQ_OK;
        op->err.code = SITQ_OK;
        op->err.message[0] = '\0';
    }
    if (plain_group(group)) return pg_write_one(b, plain_body, group, err);
    return pg_write_txn(b, group_body, group, err);
}

static void write_group(pg_backend *b, enq_op *group) {
    if (!group) return;
    sitq_time_us now = sitq_now_us();
    for (enq_op *op = group; op; op = op->next) op->a.now = now;
    sitq_error err = {SITQ_OK, ""};
    sitq_code rc = write_once(b, group, &err);
    if (!rc) return;
    if (!group->next) { /* alone: the transaction's error is its own */
        group->rc = rc;
        group->err = err;
        return;
    }
    /* Nothing of the group was committed: each op again on its own, so
     * that an error belongs to the caller who caused it. */
    for (enq_op *op = group, *next; op; op = next) {
        next = op->next;
        op->next = NULL;
        rc = write_once(b, op, &err);
        if (rc) {
            op->rc = rc;
            op->err = err;
        }
        op->next = next;
    }
}

/* Longest wait of a new leader for the last group's callers, us. */
#define GATHER_MAX_US 2000

/* With gc_mu held, as the new leader: wait a little for the callers of the
 * last group, who come back at once with their next enqueue (producers in a
 * loop), so that each commit carries every waiting caller instead of every
 * other one. At most a quarter of the last write's time (GATHER_MAX_US);
 * none when as many ops are queued as the last group suggests (a lone
 * caller never waits). */
static void gather(pg_backend *b) {
    if (b->gc_queued >= b->gc_expect) return;
    int64_t wait = b->gc_write_us / 4;
    if (wait > GATHER_MAX_US) wait = GATHER_MAX_US;
    if (wait <= 0) return;
    int64_t end = sitq__mono_us() + wait;
    struct timespec ts = {(time_t)(end / 1000000), (long)(end % 1000000) * 1000};
    b->gc_gathering = 1;
    while (b->gc_queued < b->gc_expect)
        if (pthread_cond_timedwait(&b->gc_gather_cv, &b->gc_mu, &ts) != 0) break;
    b->gc_gathering = 0;
}

/* With gc_mu held: lead, writing every op queued so far (including the
 * caller's) in one group; returns with gc_mu held. */
static void lead(pg_backend *b) {
    b->gc_leader = 1;
    gather(b);
    enq_op *group = b->gc_head;
    size_t taken = b->gc_queued;
    b->gc_head = b->gc_tail = NULL;
    b->gc_queued = 0;
    pthread_mutex_unlock(&b->gc_mu);
    int64_t t0 = sitq__mono_us();
    write_group(b, group);
    int64_t took = sitq__mono_us() - t0;
    pthread_mutex_lock(&b->gc_mu);
    for (enq_op *op = group, *next; op; op = next) {
        next = op->next;
        op->done = 1; /* after this, op's owner may return and free it */
    }
    /* The callers of this group and those who queued meanwhile. */
    b->gc_expect = taken + b->gc_queued;
    b->gc_write_us = took;
    b->gc_leader = 0;
    pthread_cond_broadcast(&b->gc_cv);
}

sitq_code pg_enqueue(sitq_backend *base, const char *queue, const sitq_task_spec *specs, size_t n,
                     sitq_task_id *ids, sitq_error *err) {
    pg_backend *b = (pg_backend *)base;
    if (n == 0) return sitq__ok(err);
    enq_op me = {{queue, specs, n, ids, 0, 0}, SITQ_OK, {SITQ_OK, ""}, 0, NULL};
    pthread_mutex_lock(&b->gc_mu);
    if (b->gc_tail) b->gc_tail->next = &me;
    else b->gc_head = &me;
    b->gc_tail = &me;
    b->gc_queued++;
    if (b->gc_gathering) pthread_cond_signal(&b->gc_gather_cv);
    while (!me.done) {
        if (b->gc_leader) /* a leader is writing: our op is in its next group */
            pthread_cond_wait(&b->gc_cv, &b->gc_mu);
        else lead(b);
    }
    pthread_mutex_unlock(&b->gc_mu);
    if (me.rc) {
        memset(ids, 0, n * sizeof *ids);
        if (err) *err = me.err;
        return me.rc;
    }
    return sitq__ok(err);
}
