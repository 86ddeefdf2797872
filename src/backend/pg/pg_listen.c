/* pg_listen.c - wake-ups between processes and hosts: LISTEN/NOTIFY.
 *
 * Sending: a write transaction that finishes tasks or makes tasks ready
 * calls pg_notify_queue once per queue before its COMMIT (one
 * pg_notify(channel, payload) for the whole commit, whatever the number of
 * tasks; PostgreSQL also folds identical notifications of one transaction
 * into one). The channel is derived from the schema, the payload is one
 * letter of events ('f' finished, 'r' ready, 'b' both) and the queue name.
 *
 * Receiving: one listener connection and one thread per backend, started by
 * the first wait_change (a process that never waits opens no connection
 * for it). The thread LISTENs, then sleeps in poll() on the connection's
 * socket and a pipe that close writes to; every notification becomes
 * sitq__backend_notify, which wakes this process's waiters. Notifications
 * are not filtered by queue: a waiter of another queue wakes spuriously and
 * looks again, which the seam allows. While the listener is not listening
 * (not yet started, or its connection lost and being reconnected with
 * backoff), a wait lasts until the caller's deadline (its poll); once LISTEN is in
 * place it wakes every waiter as if tasks had finished and become ready,
 * so that each reads the state it waits on again (a change made while
 * nobody listened is not missed).
 *
 * poll_only (PgBouncer in transaction mode cannot LISTEN): the head's
 * notifies is 0, so the core never calls wait_change (which refuses, should
 * it be called) and polls; notifications are still sent for other
 * processes. */
#include "pg.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void pg_channel_name(const pg_backend *b, char *buf, size_t size) {
    snprintf(buf, size, "sitq_%016llx", (unsigned long long)pg_name_key("sitq channel", b->schema));
}

sitq_code pg_notify_queue(pg_conn *c, const char *queue, int finished, int ready, sitq_error *err) {
    if (!finished && !ready) return SITQ_OK;
    char channel[32];
    pg_channel_name(c->b, channel, sizeof channel);
    size_t ql = strlen(queue);
    char *payload = malloc(ql + 2);
    if (!payload) return sitq__fail(err, SITQ_ENOMEM, "out of memory notifying waiters");
    payload[0] = finished && ready ? 'b' : finished ? 'f' : 'r';
    memcpy(payload + 1, queue, ql + 1);
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, channel);
    pg_p_text(&p, payload);
    sitq_code rc = pg_exec(c, PG_NOTIFY, &p, err, "notifying waiters");
    free(payload);
    return rc;
}

/* Sleep until the pipe is written (close) or ms pass; 1 when stopping. */
static int pause_or_stop(pg_backend *b, int ms) {
    struct pollfd pf = {b->listen_pipe[0], POLLIN, 0};
    int n = poll(&pf, 1, ms);
    return n > 0 || atomic_load(&b->listen_stop);
}

static void set_listening(pg_backend *b, int on) {
    atomic_store(&b->listen_ok, on);
    /* After a LISTEN every waiter looks again, as if tasks had finished and
     * become ready: what changed while nobody listened is then seen, what
     * changes later is notified. */
    if (on) sitq__backend_notify(&b->head, 1, 1);
}

/* Connect and LISTEN; 0 on success. */
static int listen_connect(pg_backend *b) {
    pg_conn *c = &b->listener;
    if (pg_conn_ensure(c, NULL) != SITQ_OK) return -1;
    char channel[32], sql[64];
    pg_channel_name(b, channel, sizeof channel);
    snprintf(sql, sizeof sql, "LISTEN \"%s\"", channel);
    if (pg_command(c, sql, NULL, "listening for changes") != SITQ_OK) {
        pg_conn_close(c);
        return -1;
    }
    return 0;
}

static void *listener_main(void *arg) {
    pg_backend *b = arg;
    pg_conn *c = &b->listener;
    /* A statement of this thread (a reconnect's, the LISTEN) that a server
     * leaves unanswered is cancelled, then given up, once the backend is
     * closing: the close joins this thread. */
    sitq__set_call_abort(&b->listen_stop);
    while (!atomic_load(&b->listen_stop)) {
        if (!c->conn) {
            if (listen_connect(b) != 0) {
                int64_t wait_us = c->next_connect_us - sitq__mono_us();
                if (wait_us < 50000) wait_us = 50000;
                if (pause_or_stop(b, (int)(wait_us / 1000))) break;
                continue;
            }
            set_listening(b, 1);
        }
        struct pollfd pf[2] = {{PQsocket(c->conn), POLLIN, 0}, {b->listen_pipe[0], POLLIN, 0}};
        int n = poll(pf, 2, -1);
        if (n < 0 && errno == EINTR) continue;
        if (atomic_load(&b->listen_stop) || pf[1].revents) break;
        if (!PQconsumeInput(c->conn) || PQstatus(c->conn) != CONNECTION_OK) {
            pg_conn_close(c);
            c->next_connect_us = sitq__mono_us() + 50000;
            set_listening(b, 0);
            continue;
        }
        int finished = 0, ready = 0;
        PGnotify *note;
        while ((note = PQnotifies(c->conn)) != NULL) {
            char kind = note->extra ? note->extra[0] : 'b';
            finished |= kind == 'f' || kind == 'b';
            ready |= kind == 'r' || kind == 'b';
            PQfreemem(note);
        }
        /* Everything read at once is one wake-up. */
        if (finished || ready) sitq__backend_notify(&b->head, finished, ready);
    }
    atomic_store(&b->listen_ok, 0);
    pg_conn_close(c);
    return NULL;
}

/* Start the listener thread once; 0 when it runs. */
static int listen_start(pg_backend *b) {
    pthread_mutex_lock(&b->listen_mu);
    if (!b->listen_started && !b->listen_failed) {
        if (pipe(b->listen_pipe) != 0) {
            b->listen_failed = 1;
        } else {
            fcntl(b->listen_pipe[0], F_SETFD, FD_CLOEXEC);
            fcntl(b->listen_pipe[1], F_SETFD, FD_CLOEXEC);
            b->listener.b = b;
            if (pthread_create(&b->listen_thread, NULL, listener_main, b) == 0) {
                b->listen_started = 1;
            } else {
                close(b->listen_pipe[0]);
                close(b->listen_pipe[1]);
                b->listen_failed = 1;
            }
        }
    }
    int ok = b->listen_started;
    pthread_mutex_unlock(&b->listen_mu);
    return ok ? 0 : -1;
}

void pg_listen_stop(pg_backend *b) {
    if (!b->listen_started) return;
    atomic_store(&b->listen_stop, 1);
    ssize_t w = write(b->listen_pipe[1], "x", 1);
    (void)w;
    pthread_join(b->listen_thread, NULL);
    close(b->listen_pipe[0]);
    close(b->listen_pipe[1]);
    b->listen_started = 0;
}

int pg_wait_change(sitq_backend *base, const char *queue, unsigned events, const sitq__gens *seen,
                   int64_t deadline_mono_us) {
    (void)queue;
    (void)events;
    pg_backend *b = (pg_backend *)base;
    if (b->opts.poll_only || listen_start(b) != 0) return -1;
    /* Also while the listener is not (yet, or no longer) listening: its
     * LISTEN wakes this wait (set_listening), and until then the deadline,
     * the caller's poll, bounds it. */
    struct timespec ts = {(time_t)(deadline_mono_us / 1000000),
                          (long)(deadline_mono_us % 1000000) * 1000};
    int woke = 0;
    pthread_mutex_lock(&base->notify_mu);
    for (;;) {
        woke = base->finished_gen != seen->finished || base->enqueued_gen != seen->enqueued ||
               base->wake_gen != seen->wakes;
        if (woke || sitq__mono_us() >= deadline_mono_us) break;
        pthread_cond_timedwait(&base->notify_cv, &base->notify_mu, &ts);
    }
    pthread_mutex_unlock(&base->notify_mu);
    return woke;
}
