/* pg_reply.c - every statement's reply, awaited with a deadline.
 *
 * libpq's PQexec and its kin wait for a reply without any limit, and the
 * connection's TCP settings cannot bound that wait when the server's host
 * still answers TCP: a PostgreSQL process that is stopped (SIGSTOP, a
 * debugger) or hung has its kernel acknowledge every byte and every
 * keepalive, so a call would hang for ever. So statements are sent with
 * libpq's asynchronous calls and their reply is awaited in poll() on the
 * socket, no longer than pg_reply_limit_us of silence: the server's own
 * bound on a statement (statement_timeout_ms, or lock_timeout_ms when
 * there is none: sitq's statements are short, and a lock wait is the long
 * part of any of them) plus the TCP user timeout (two keepalive_s), by when
 * the server would have answered, even with its timeout error. Past that
 * the connection is closed and the call fails (pg_fail says the server
 * stopped answering); the next call reconnects. A reply that is still
 * arriving (a large payload) restarts the silence at every read. Within a
 * wait with a timeout (sitq_wait) the silence also ends at the wait's
 * deadline: a server that stops answering cannot hold the wait for the
 * whole reply limit. The sending is bounded the same way: connections are
 * in libpq's nonblocking mode, and what a statement (or a COPY's data)
 * leaves in libpq's buffer is flushed in poll() on the socket, the silence
 * restarting whenever the server takes more bytes; a server that stops
 * reading (a stopped process whose kernel's buffers are full, a PgBouncer
 * that PAUSEs) would otherwise block the send for ever, whatever the TCP
 * settings. When the thread's abort flag is raised (a worker's
 * stop, sitq__set_call_abort) and a statement has waited
 * SITQ__ABORT_GRACE_US, the statement is cancelled (PQcancel, as psql's
 * Ctrl-C): the server ends its lock wait, the transaction writes nothing,
 * and the connection stays usable; a server that does not answer the
 * cancel either within SITQ__ABORT_GRACE_US has the connection given up
 * (PG_SILENT_STOP), so that nothing holds the stop. */
#include "pg.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>

int64_t pg_reply_limit_us(const pg_backend *b) {
    int64_t bound_ms =
        b->opts.statement_timeout_ms > 0 ? b->opts.statement_timeout_ms : b->opts.lock_timeout_ms;
    return bound_ms * 1000 + (int64_t)b->opts.keepalive_s * 2000000;
}

/* No reply in time (sending: nothing sent was taken in time): the connection is given up (without waiting for the
 * server to read its goodbye) and reported by pg_fail; how is PG_SILENT_*. */
static void give_up(pg_conn *c, int how, int sending) {
    PQsetnonblocking(c->conn, 1);
    pg_conn_close(c);
    c->silent = how;
    c->silent_sending = sending;
    c->next_connect_us = 0;
}

/* A reply still arriving after the caller's deadline (a large result) may
 * pause this long between reads before it is given up. */
#define PAST_DEADLINE_GAP_US 100000

/* Wait until a result can be read without blocking (1), the connection
 * broke (0: PQgetResult reports it) or the silence lasted too long: past
 * the reply limit (PG_SILENT_LIMIT) or past the deadline of the caller's
 * wait (PG_SILENT_DEADLINE, sitq__call_deadline). */
/* While an abort flag is set, poll wakes this often to look at it. */
#define ABORT_LOOK_MS 100

static void *cancel_main(void *arg) {
    PGcancel *k = arg;
    char why[256];
    (void)PQcancel(k, why, (int)sizeof why);
    PQfreeCancel(k);
    return NULL;
}

/* Ask the server to cancel the statement in flight (a stop's abort), from
 * a detached thread: PQcancel connects to the server and waits for its
 * answer without any limit, which a server that stopped answering never
 * gives. The outcome is the statement's reply; when none comes within
 * SITQ__ABORT_GRACE_US more, await_input gives the connection up. */
static void cancel_for_stop(pg_conn *c) {
    c->stop_cancel = 1;
    c->stop_cancel_us = sitq__mono_us();
    PGcancel *k = PQgetCancel(c->conn);
    if (k == NULL) return;
    pthread_attr_t attr;
    pthread_t thread;
    int started = 0;
    if (pthread_attr_init(&attr) == 0) {
        started = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
                  pthread_create(&thread, &attr, cancel_main, k) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!started) PQfreeCancel(k);
}

/* Until when a silence that began at last may last: the reply limit, or
 * the caller's deadline when sooner (*how says which). */
static int64_t silence_end(const pg_conn *c, int64_t last, int *how) {
    int64_t stop = last + pg_reply_limit_us(c->b);
    int64_t call = sitq__call_deadline();
    *how = PG_SILENT_LIMIT;
    if (call) {
        int64_t by = call > last ? call : last + PAST_DEADLINE_GAP_US;
        if (by < stop) {
            stop = by;
            *how = PG_SILENT_DEADLINE;
        }
    }
    return stop;
}

/* Send what libpq holds in its buffer (nonblocking mode): 1 once sent, 0
 * when the connection broke, -PG_SILENT_* when the server took nothing for
 * too long. Input that arrives meanwhile is read, as libpq asks. */
static int await_flush(pg_conn *c) {
    int64_t last = sitq__mono_us();
    for (;;) {
        int f = PQflush(c->conn);
        if (f == 0) return 1;
        if (f < 0) return 0;
        int how;
        int64_t left = silence_end(c, last, &how) - sitq__mono_us();
        if (left <= 0) return -how;
        int64_t ms = (left + 999) / 1000;
        struct pollfd pf = {PQsocket(c->conn), POLLIN | POLLOUT, 0};
        int n = poll(&pf, 1, ms > INT_MAX ? INT_MAX : (int)ms);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return 0;
        if ((pf.revents & POLLIN) && !PQconsumeInput(c->conn)) return 0;
        if (n > 0) last = sitq__mono_us();
    }
}

static int await_input(pg_conn *c, int64_t sent_us) {
    int64_t last = sitq__mono_us();
    while (PQisBusy(c->conn)) {
        int abortable = sitq__call_abortable() && !c->stop_cancel;
        if (abortable && sitq__call_aborted() && sitq__mono_us() - sent_us > SITQ__ABORT_GRACE_US) {
            cancel_for_stop(c);
            abortable = 0;
        }
        if (c->stop_cancel && sitq__mono_us() - c->stop_cancel_us > SITQ__ABORT_GRACE_US)
            return -PG_SILENT_STOP;
        int how;
        int64_t left = silence_end(c, last, &how) - sitq__mono_us();
        if (left <= 0) return -how;
        int64_t ms = (left + 999) / 1000;
        if ((abortable || c->stop_cancel) && ms > ABORT_LOOK_MS) ms = ABORT_LOOK_MS;
        struct pollfd pf = {PQsocket(c->conn), POLLIN, 0};
        int n = poll(&pf, 1, ms > INT_MAX ? INT_MAX : (int)ms);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 || !PQconsumeInput(c->conn)) return 0;
        if (n > 0) last = sitq__mono_us();
    }
    return 1;
}

/* The reply of the statement just sent (sent: its PQsend* result): the last
 * result, as PQexec returns it, or NULL (c->silent when it never came). */
static PGresult *reply(pg_conn *c, int sent) {
    c->silent = 0;
    c->stop_cancel = 0;
    if (!sent) return NULL;
    int flushed = await_flush(c);
    if (flushed < 0) {
        give_up(c, -flushed, 1);
        return NULL;
    }
    int64_t sent_us = sitq__mono_us();
    PGresult *last = NULL;
    for (;;) {
        int in = await_input(c, sent_us);
        if (in < 0) {
            PQclear(last);
            give_up(c, -in, 0);
            return NULL;
        }
        PGresult *r = PQgetResult(c->conn);
        if (!r) return last;
        PQclear(last);
        last = r;
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_COPY_IN || s == PGRES_COPY_OUT || s == PGRES_COPY_BOTH ||
            PQstatus(c->conn) == CONNECTION_BAD)
            return last;
    }
}

PGresult *pg_q_exec(pg_conn *c, const char *sql) { return reply(c, PQsendQuery(c->conn, sql)); }

PGresult *pg_q_params(pg_conn *c, const char *sql, int n, const char *const *values,
                      int binary_results) {
    return reply(c, PQsendQueryParams(c->conn, sql, n, NULL, values, NULL, NULL, binary_results));
}

PGresult *pg_q_params_p(pg_conn *c, const char *sql, const pg_params *p) {
    return reply(c,
                 PQsendQueryParams(c->conn, sql, p->n, NULL, p->values, p->lengths, p->formats, 1));
}

PGresult *pg_q_prepare(pg_conn *c, const char *name, const char *sql) {
    return reply(c, PQsendPrepare(c->conn, name, sql, 0, NULL));
}

PGresult *pg_q_prepared(pg_conn *c, const char *name, const pg_params *p) {
    return reply(c, PQsendQueryPrepared(c->conn, name, p ? p->n : 0, p ? p->values : NULL,
                                        p ? p->lengths : NULL, p ? p->formats : NULL, 1));
}

/* Send what libpq holds, so that a refused put may be tried again: 1, or
 * 0 with the connection given up or broken. */
static int make_room(pg_conn *c) {
    int flushed = await_flush(c);
    if (flushed < 0) give_up(c, -flushed, 1);
    return flushed > 0;
}

int pg_q_copy_data(pg_conn *c, const char *data, int len) {
    c->silent = 0;
    /* In nonblocking mode a put that finds no room returns 0, and so does
     * one that cannot grow libpq's buffer (out of memory): once the buffer
     * was sent, a second 0 is the latter, and an error (libpq's message
     * says it), not a reason to try again. */
    int put = PQputCopyData(c->conn, data, len);
    if (put == 0 && make_room(c)) put = PQputCopyData(c->conn, data, len);
    if (put <= 0) return 0;
    /* Sent before the next part is queued: libpq's buffer would otherwise
     * grow to the whole COPY when the server reads slower than it comes. */
    int flushed = await_flush(c);
    if (flushed < 0) give_up(c, -flushed, 1);
    return flushed > 0;
}

PGresult *pg_q_copy_end(pg_conn *c, const char *error) {
    c->silent = 0;
    int put = PQputCopyEnd(c->conn, error); /* 0: as in pg_q_copy_data */
    if (put == 0 && make_room(c)) put = PQputCopyEnd(c->conn, error);
    return reply(c, put == 1);
}
