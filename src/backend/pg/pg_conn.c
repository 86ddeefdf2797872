/* pg_conn.c - one libpq connection: connecting and reconnecting with
 * backoff, prepared statements, parameters, binary results, and the mapping
 * of PostgreSQL's errors to sitq codes.
 *
 * Statements are prepared on first use per connection (named "sitq_N") and
 * reused; after a reconnection they are prepared again. Parameters go as
 * text (numbers printed here), bytea as binary so that a payload is never
 * escaped; results come back in binary, read by column width (int2/int4/
 * int8/bool) so that the SQL's casts decide the types. A connection that
 * breaks is closed and reconnected by the next call, no sooner than a
 * backoff that doubles from 50 ms to 2 s, so that a server that is down is
 * not hammered by every call. */
#include "pg.h"
#include "../../core/dsn_mask.h"
#include "../../core/grow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pg_p_init(pg_params *p) { p->n = 0; }

static void put(pg_params *p, const char *v, int len, int fmt) {
    if (p->n >= PG_MAX_PARAMS) return; /* a programming error: statements have fewer */
    p->values[p->n] = v;
    p->lengths[p->n] = len;
    p->formats[p->n] = fmt;
    p->n++;
}

void pg_p_i64(pg_params *p, int64_t v) {
    if (p->n >= PG_MAX_PARAMS) return;
    snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", (long long)v);
    put(p, p->num[p->n], 0, 0);
}

void pg_p_f64(pg_params *p, double v) {
    if (p->n >= PG_MAX_PARAMS) return;
    snprintf(p->num[p->n], sizeof p->num[p->n], "%.17g", v);
    put(p, p->num[p->n], 0, 0);
}

void pg_p_text(pg_params *p, const char *s) { put(p, s, 0, 0); }

void pg_p_bytea(pg_params *p, const void *data, size_t len, int is_null) {
    if (is_null) put(p, NULL, 0, 1);
    else put(p, data ? (const char *)data : "", (int)len, 1);
}

static void arr_put(pg_array *a, const void *data, size_t len) {
    if (a->oom) return;
    if (sitq__reserve((void **)&a->buf, &a->cap, a->len + len, 1) != 0) {
        a->oom = 1;
        return;
    }
    if (len) memcpy(a->buf + a->len, data, len);
    a->len += len;
}

static void arr_u32(pg_array *a, uint32_t v) {
    uint32_t be = htonl(v);
    arr_put(a, &be, 4);
}

void pg_arr_init(pg_array *a, uint32_t elem_oid) {
    memset(a, 0, sizeof *a);
    a->oid = elem_oid;
    char header[20] = {0};
    arr_put(a, header, sizeof header); /* ndim, flags, oid, size, lower bound */
}

void pg_arr_free(pg_array *a) {
    free(a->buf);
    memset(a, 0, sizeof *a);
}

void pg_arr_i64(pg_array *a, int64_t v) {
    uint64_t u = (uint64_t)v;
    arr_u32(a, 8);
    arr_u32(a, (uint32_t)(u >> 32));
    arr_u32(a, (uint32_t)u);
    a->n++;
}

void pg_arr_f64(pg_array *a, double v, int is_null) {
    if (is_null) {
        pg_arr_bytes(a, NULL, 0, 1);
        return;
    }
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    pg_arr_i64(a, (int64_t)u);
}

void pg_arr_bytes(pg_array *a, const void *data, size_t len, int is_null) {
    a->n++;
    if (is_null) {
        a->has_null = 1;
        arr_u32(a, 0xffffffffu);
        return;
    }
    arr_u32(a, (uint32_t)len);
    arr_put(a, data, len);
}

int pg_p_array(pg_params *p, pg_array *a) {
    if (a->oom || !a->buf) return -1;
    uint32_t h[5] = {htonl(1), htonl((uint32_t)a->has_null), htonl(a->oid), htonl((uint32_t)a->n),
                     htonl(1)};
    memcpy(a->buf, h, sizeof h);
    put(p, a->buf, (int)a->len, 1);
    return 0;
}

int pg_isnull(const PGresult *r, int row, int col) { return PQgetisnull(r, row, col); }

int64_t pg_i64(const PGresult *r, int row, int col) {
    if (PQgetisnull(r, row, col)) return 0;
    const unsigned char *v = (const unsigned char *)PQgetvalue(r, row, col);
    int len = PQgetlength(r, row, col);
    uint64_t x = 0;
    for (int i = 0; i < len && i < 8; i++) x = (x << 8) | v[i];
    switch (len) { /* sign-extend the narrower integers */
    case 1: return (int64_t)(int8_t)x;
    case 2: return (int64_t)(int16_t)x;
    case 4: return (int64_t)(int32_t)x;
    default: return (int64_t)x;
    }
}

sitq_code pg_arr_ids(pg_array *a, const PGresult *r, sitq_error *err) {
    pg_arr_init(a, PG_OID_INT8);
    for (int i = 0; i < PQntuples(r); i++) pg_arr_i64(a, pg_i64(r, i, 0));
    if (!a->oom) return SITQ_OK;
    pg_arr_free(a);
    return sitq__fail(err, SITQ_ENOMEM, "out of memory");
}

double pg_f64(const PGresult *r, int row, int col) {
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8) return 0;
    uint64_t x = (uint64_t)pg_i64(r, row, col);
    double d;
    memcpy(&d, &x, sizeof d);
    return d;
}

char *pg_text(const PGresult *r, int row, int col) {
    if (PQgetisnull(r, row, col)) return NULL;
    return strndup(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

void *pg_bytes(const PGresult *r, int row, int col, size_t *len) {
    *len = 0;
    if (PQgetisnull(r, row, col)) return NULL;
    size_t n = (size_t)PQgetlength(r, row, col);
    char *copy = malloc(n + 1); /* +1: NUL past the end, as the SQLite backend */
    if (!copy) return NULL;
    if (n) memcpy(copy, PQgetvalue(r, row, col), n);
    copy[n] = '\0';
    *len = n;
    return copy;
}

int64_t pg_changes(const PGresult *r) { return strtoll(PQcmdTuples((PGresult *)r), NULL, 10); }

char *pg_array_i64(const sitq_task_id *v, size_t n) {
    char *s = malloc(n * 21 + 3);
    if (!s) return NULL;
    size_t o = 0;
    s[o++] = '{';
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(s + o, "%s%lld", i ? "," : "", (long long)v[i]);
    s[o++] = '}';
    s[o] = '\0';
    return s;
}

void pg_conn_close(pg_conn *c) {
    if (c->conn) PQfinish(c->conn);
    c->conn = NULL;
    memset(c->prepared, 0, sizeof c->prepared);
}

/* libpq ends its messages with a newline; keep the first line only. */
static void first_line(char *buf, size_t size, const char *msg) {
    snprintf(buf, size, "%s", msg && *msg ? msg : "unknown error");
    buf[strcspn(buf, "\n")] = '\0';
}

static void notice_ignore(void *arg, const char *message) {
    (void)arg;
    (void)message; /* "schema already exists, skipping" and the like */
}

/* The server's start time on its clock, in microseconds, into *start: 0
 * when unreadable (lease recovery then does not wait). Awaited as every
 * reply is (pg_reply.c: a server, or a PgBouncer that PAUSEs, may take
 * the login and then answer nothing); -1 when the connection was given up
 * or lost meanwhile. */
static int server_start(pg_conn *c, sitq_time_us *start) {
    PGresult *r =
        pg_q_exec(c, "SELECT (extract(epoch FROM pg_postmaster_start_time()) * 1000000)::bigint");
    *start = 0;
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        *start = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return c->conn && PQstatus(c->conn) == CONNECTION_OK ? 0 : -1;
}

/* The connect_timeout of a connection made now: the option, or within a
 * wait no longer than its deadline allows (libpq's least is 2 s). */
static int connect_timeout_s(const pg_backend *b, int64_t now) {
    int s = b->opts.connect_timeout_s;
    int64_t call = sitq__call_deadline();
    if (call && call != INT64_MAX) {
        int64_t left_s = call > now ? (call - now) / 1000000 + 1 : 0;
        if (left_s < 2) left_s = 2;
        if (left_s < s) s = (int)left_s;
    }
    return s;
}

/* Connect within the wait's deadline when it leaves less than libpq's
 * least connect_timeout (2 s): libpq's blocking connect would overrun it,
 * so the connection is polled (PQconnectStartParams) up to the deadline.
 * Otherwise libpq's own connect, with its connect_timeout per host. NULL
 * when out of memory, or with *timed_out set when the deadline passed
 * first. */
static PGconn *connect_db(const char *const *keys, const char *const *vals, int64_t now,
                          int *timed_out) {
    *timed_out = 0;
    int64_t call = sitq__call_deadline();
    if (!call || call == INT64_MAX || call - now >= 2000000)
        return PQconnectdbParams(keys, vals, 1);
    PGconn *conn = PQconnectStartParams(keys, vals, 1);
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (conn && PQstatus(conn) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
           st != PGRES_POLLING_FAILED) {
        int64_t left_ms = (call - sitq__mono_us() + 999) / 1000;
        struct pollfd p = {PQsocket(conn), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0};
        int n = left_ms > 0 ? poll(&p, 1, (int)left_ms) : 0;
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) {
            PQfinish(conn);
            *timed_out = 1;
            return NULL;
        }
        st = PQconnectPoll(conn);
    }
    return conn;
}

/* The settings sitq's statements rely on, as statements of `verb` (SET for
 * the session, SET LOCAL for one transaction) separated by "; ", into buf
 * (n bytes). The session's also say UTF-8 (PgBouncer keeps the
 * client_encoding of the connection string instead) and no
 * idle_session_timeout, which a transaction cannot set. */
static void settings_sql(const pg_conn *c, const char *verb, char *buf, size_t n) {
    const sitq_postgres_options *o = &c->b->opts;
    int v = PQserverVersion(c->conn);
    int session = strcmp(verb, "SET") == 0;
    size_t k = (size_t)snprintf(buf, n,
                                "%s lock_timeout = %d; %s statement_timeout = %d; "
                                "%s default_transaction_isolation = 'read committed'",
                                verb, o->lock_timeout_ms, verb, o->statement_timeout_ms, verb);
    if (k < n && v >= 90600)
        k += (size_t)snprintf(buf + k, n - k,
                              "; %s idle_in_transaction_session_timeout = " PG_IDLE_IN_TXN_MS_TEXT,
                              verb);
    if (k < n && v >= 110000) k += (size_t)snprintf(buf + k, n - k, "; %s jit = off", verb);
    if (k < n && session) k += (size_t)snprintf(buf + k, n - k, "; SET client_encoding = 'UTF8'");
    if (k < n && session && v >= 140000) snprintf(buf + k, n - k, "; SET idle_session_timeout = 0");
}

sitq_code pg_conn_begin(pg_conn *c, sitq_error *err) {
    if (!c->b->opts.poll_only) return pg_command(c, "BEGIN", err, "starting a write transaction");
    /* The session's settings would stay on the server connection PgBouncer
     * lent, for its next client: each transaction sets its own. */
    char sql[600] = "BEGIN ISOLATION LEVEL READ COMMITTED; ";
    size_t used = strlen(sql);
    settings_sql(c, "SET LOCAL", sql + used, sizeof sql - used);
    return pg_command(c, sql, err, "starting a write transaction");
}

/* A new connection that failed its first statements: closed, and why. */
static sitq_code setup_failed(pg_conn *c, sitq_error *err) {
    char msg[400];
    first_line(msg, sizeof msg, c->conn ? PQerrorMessage(c->conn) : "the server stopped answering");
    pg_conn_close(c);
    return sitq__fail(err, SITQ_ESTORAGE, "cannot set up a PostgreSQL session (schema %s): %s",
                      c->b->schema, msg);
}

/* The session's settings, once connected; on failure the connection is
 * closed. */
static sitq_code session_setup(pg_conn *c, sitq_error *err) {
    /* A lock another session holds (a stopped or hung process in the middle
     * of its transaction) is waited for as long as SQLite's busy timeout,
     * then reported (SITQ_EBUSY) instead of blocking forever. */
    /* No JIT: sitq's statements are short index reads, and a cost
     * estimate that multiplies a bounded read by a guessed loop count
     * (the bounded counts' skip scan) starts a compilation of a third of a
     * second that the statement never wins back (PostgreSQL 11 and later
     * have JIT). */
    /* sitq never waits for anything but the server inside a transaction
     * (its statements follow one another at once): a session idle in one
     * for PG_IDLE_IN_TXN_MS_TEXT (10 s) belongs to a process that is
     * stopped (SIGSTOP, a debugger) or starved. The server ends it, so
     * that the locks it holds (a task's row, a queue's recovery lock,
     * limit rows) hold other workers back no longer; the process, should
     * it run again, finds the connection gone before its COMMIT was sent
     * (nothing of it holds) and reconnects. */
    /* The rules of the transactions hold whatever the role or database
     * sets by default: READ COMMITTED (a statement that rereads rows after
     * locking them, as the release of dependents does, sees what committed
     * meanwhile; under REPEATABLE READ a dependent stayed waiting for good),
     * UTF-8 (names are UTF-8 bytes: a client_encoding in the connection
     * string turned them into other bytes), and no idle_session_timeout (an
     * idle backend's connection is kept between calls: the server closed
     * it, and the next call failed). */
    if (c->b->opts.poll_only) return SITQ_OK; /* per transaction instead: pg_conn_begin */
    char set_sql[512];
    settings_sql(c, "SET", set_sql, sizeof set_sql);
    PGresult *r = pg_q_exec(c, set_sql);
    int set = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return set ? SITQ_OK : setup_failed(c, err);
}

/* Connect c again, closing what is left of it: SITQ_OK, or why it cannot. */
static sitq_code reconnect(pg_conn *c, sitq_error *err) {
    pg_conn_close(c);
    int64_t now = sitq__mono_us();
    if (now < c->next_connect_us)
        return sitq__fail(err, SITQ_ESTORAGE,
                          "the connection to PostgreSQL (schema %s) was lost; reconnecting in "
                          "%lld ms%s%s%s",
                          c->b->schema, (long long)((c->next_connect_us - now + 999) / 1000),
                          c->connect_error[0] ? " (the last attempt: " : "", c->connect_error,
                          c->connect_error[0] ? ")" : "");
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", connect_timeout_s(c->b, now));
    /* The caller's string goes to libpq untouched (expand_dbname): its
     * environment variables, service and password files apply. */
    /* Keepalives first: settings of the caller's string override them. */
    const sitq_postgres_options *o = &c->b->opts;
    char idle[16], interval[16], user_timeout[24];
    snprintf(idle, sizeof idle, "%d", o->keepalive_s);
    snprintf(interval, sizeof interval, "%d", o->keepalive_s >= 3 ? o->keepalive_s / 3 : 1);
    snprintf(user_timeout, sizeof user_timeout, "%lld", (long long)o->keepalive_s * 2000);
    /* Names arrive as UTF-8 (checked by the core) whatever the database's
     * default client encoding: after the caller's string, so that it wins. */
    const char *keys[] = {"keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "dbname",
                          "client_encoding",
                          "connect_timeout",
                          "fallback_application_name",
                          NULL};
    const char *vals[] = {"1",    idle,    interval, "3", user_timeout, c->b->conninfo,
                          "UTF8", timeout, "sitq",   NULL};
    int timed_out = 0;
    c->conn = connect_db(keys, vals, now, &timed_out);
    if (timed_out) {
        c->next_connect_us = sitq__mono_us() + 50000;
        return sitq__fail(err, SITQ_ESTORAGE,
                          "cannot connect to PostgreSQL (schema %s): no answer by the end of "
                          "the wait's timeout",
                          c->b->schema);
    }
    if (!c->conn) return sitq__fail(err, SITQ_ENOMEM, "out of memory connecting to PostgreSQL");
    if (PQstatus(c->conn) != CONNECTION_OK) {
        char msg[400];
        /* libpq quotes a URI it cannot parse whole, password included. */
        char *scrubbed = sitq__dsn_scrub(PQerrorMessage(c->conn), c->b->conninfo);
        first_line(msg, sizeof msg, scrubbed ? scrubbed : "(out of memory)");
        free(scrubbed);
        pg_conn_close(c);
        c->backoff_us = c->backoff_us ? c->backoff_us * 2 : 50000;
        if (c->backoff_us > 2000000) c->backoff_us = 2000000;
        c->next_connect_us = sitq__mono_us() + c->backoff_us;
        snprintf(c->connect_error, sizeof c->connect_error, "%s", msg);
        return sitq__fail(err, SITQ_ESTORAGE, "cannot connect to PostgreSQL (schema %s): %s",
                          c->b->schema, msg);
    }
    PQsetNoticeProcessor(c->conn, notice_ignore, NULL);
    /* Sends that cannot block past the reply limit (pg_reply.c). */
    if (PQsetnonblocking(c->conn, 1) != 0) return setup_failed(c, err);
    sitq_code rc = session_setup(c, err);
    if (rc) return rc;
    sitq_time_us started;
    if (server_start(c, &started) != 0) return setup_failed(c, err);
    pg_grace_connected(c, started);
    c->connect_error[0] = '\0';
    c->backoff_us = 0;
    c->next_connect_us = 0;
    return SITQ_OK;
}

/* An idle connection whose server has ended it (a restart, a failover,
 * pg_terminate_backend) has its socket readable: the server's last words
 * and the end of the stream wait there. Read them now, so that the call
 * reconnects before it sends anything, instead of failing (a write said
 * that it "may or may not have been committed" when nothing had been
 * sent). One poll of the socket, not a round trip. */
static void notice_server_goodbye(pg_conn *c) {
    if (PQtransactionStatus(c->conn) != PQTRANS_IDLE) return;
    /* The goodbye (a FATAL message) and the end of the stream may be read
     * apart; anything else that waits (a notification) leaves the
     * connection as it is. */
    for (int i = 0; i < 4; i++) {
        struct pollfd p = {.fd = PQsocket(c->conn), .events = POLLIN, .revents = 0};
        if (p.fd < 0 || poll(&p, 1, 0) <= 0) return;
        if (PQconsumeInput(c->conn) == 0 || PQstatus(c->conn) != CONNECTION_OK) {
            pg_conn_close(c);
            c->next_connect_us = 0;
            return;
        }
    }
}

sitq_code pg_conn_ensure(pg_conn *c, sitq_error *err) {
    if (c->conn && PQstatus(c->conn) == CONNECTION_OK) notice_server_goodbye(c);
    if (c->conn && PQstatus(c->conn) == CONNECTION_OK) return SITQ_OK;
    sitq_code rc = reconnect(c, err);
    if (rc == SITQ_ESTORAGE) sitq__call_note_lost();
    return rc;
}

/* The error of a statement the server refused with SQLSTATE state (""
 * when none) and message msg (its first line), on a live connection. */
static sitq_code fail_by_state(pg_conn *c, const char *state, const char *msg, sitq_error *err,
                               const char *what) {
    if (!strcmp(state, "55P03"))
        return sitq__fail(err, SITQ_EBUSY,
                          "PostgreSQL schema %s: another session held a lock for more than "
                          "the lock timeout of %gs while %s (a stopped or hung process in the "
                          "middle of a transaction blocks the rows it locked); nothing was "
                          "written",
                          c->b->schema, c->b->opts.lock_timeout_ms / 1000.0, what);
    if (!strcmp(state, "57014") && c->stop_cancel)
        return sitq__fail(err, SITQ_EBUSY,
                          "PostgreSQL schema %s: the worker is stopping and gave up a wait of "
                          "more than %gs for a lock another session holds while %s; nothing "
                          "was written",
                          c->b->schema, SITQ__ABORT_GRACE_US / 1e6, what);
    /* sitq's statement_timeout_ms holds in its sessions and, with
     * poll_only, in its transactions only: a read outside one runs under
     * the role's or database's settings, and another session may cancel. */
    int own_timeout =
        c->b->opts.statement_timeout_ms > 0 && strstr(msg, "statement timeout") &&
        (!c->b->opts.poll_only || (c->conn && PQtransactionStatus(c->conn) == PQTRANS_INERROR));
    if (!strcmp(state, "57014") && own_timeout)
        return sitq__fail(err, SITQ_ESTORAGE,
                          "PostgreSQL schema %s: a statement ran longer than the statement "
                          "timeout of %gs while %s; nothing was written",
                          c->b->schema, c->b->opts.statement_timeout_ms / 1000.0, what);
    if (!strcmp(state, "57014"))
        return sitq__fail(err, SITQ_ESTORAGE,
                          "PostgreSQL schema %s: the server cancelled a statement while %s, by "
                          "the role's or database's statement_timeout or a cancel from another "
                          "session (%s); nothing was written",
                          c->b->schema, what, msg);
    /* sitq's prepared statements live in its server session; a pooler that
     * hands each transaction another one loses them. */
    if ((!strcmp(state, "42P05") || !strcmp(state, "26000")))
        return sitq__fail(err, SITQ_ESTORAGE,
                          "PostgreSQL error in schema %s while %s: %s (SQLSTATE %s): the "
                          "session's prepared statements are not the ones sitq made; behind "
                          "PgBouncer in transaction or statement pooling mode, open the backend "
                          "poll_only (sitq_poll_only=1 in the URI)",
                          c->b->schema, what, msg, state);
    if (!strcmp(state, "42501"))
        return sitq__fail(err, SITQ_ESTORAGE,
                          "PostgreSQL refused %s in schema %s: the role lacks the privilege "
                          "(%s)",
                          what, c->b->schema, msg);
    if (!strcmp(state, "25006"))
        return sitq__fail(err, SITQ_ESTORAGE,
                          "PostgreSQL refused %s in schema %s: the connection is read-only (%s)",
                          what, c->b->schema, msg);
    return sitq__fail(err, SITQ_ESTORAGE,
                      "PostgreSQL error in schema %s while %s: %s (SQLSTATE %s)", c->b->schema,
                      what, msg, state[0] ? state : "none");
}

sitq_code pg_fail(pg_conn *c, const PGresult *res, sitq_error *err, const char *what) {
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state ? state : "");
    /* Past the wait's own deadline, the wait is over: no note. */
    if (c->silent == PG_SILENT_LIMIT) sitq__call_note_lost();
    if (c->silent == PG_SILENT_STOP)
        return sitq__fail(err, SITQ_EBUSY,
                          "PostgreSQL schema %s: the worker is stopping and gave up a wait of "
                          "more than %gs while %s; the server answered neither the statement "
                          "nor its cancel, so the connection was closed and the transaction "
                          "ends without its COMMIT",
                          c->b->schema, SITQ__ABORT_GRACE_US / 1e6, what);
    if (c->silent == PG_SILENT_DEADLINE && c->silent_sending)
        return sitq__fail(err, SITQ_ESTORAGE,
                          "PostgreSQL (schema %s) took none of what was sent by the end of the "
                          "wait's timeout while %s: the server or the network stopped reading "
                          "(a stopped or hung server process, a network that drops packets, a "
                          "PgBouncer that PAUSEs); the connection was closed and the next call "
                          "reconnects",
                          c->b->schema, what);
    if (c->silent && c->silent_sending)
        return sitq__fail(err, SITQ_ESTORAGE,
                          "PostgreSQL (schema %s) took none of what was sent for %g s while %s: "
                          "the server or the network stopped reading (a stopped or hung server "
                          "process, a network that drops packets, a PgBouncer that PAUSEs); the "
                          "connection was closed and the next call reconnects",
                          c->b->schema, (double)pg_reply_limit_us(c->b) / 1e6, what);
    if (c->silent == PG_SILENT_DEADLINE)
        return sitq__fail(err, SITQ_ESTORAGE,
                          "PostgreSQL (schema %s) did not answer by the end of the wait's "
                          "timeout while %s: the server or the network stopped answering (a "
                          "stopped or hung server process, a network that drops packets); the "
                          "connection was closed and the next call reconnects",
                          c->b->schema, what);
    if (c->silent)
        return sitq__fail(err, SITQ_ESTORAGE,
                          "PostgreSQL (schema %s) sent nothing for %g s while %s: the server "
                          "or the network stopped answering (a stopped or hung server process, "
                          "a network that drops packets), or one statement kept the server "
                          "busy past that bound (the statement or lock timeout plus twice "
                          "the keepalive time); the connection was closed and the next call "
                          "reconnects",
                          c->b->schema, (double)pg_reply_limit_us(c->b) / 1e6, what);
    char msg[400];
    first_line(msg, sizeof msg,
               res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res)
               : c->conn                           ? PQerrorMessage(c->conn)
                                                   : "no connection");
    if (!c->conn || PQstatus(c->conn) != CONNECTION_OK) {
        /* Reconnected by the next call (pg_conn_ensure); a lost COMMIT is
         * reported as such by pg_write_txn. */
        pg_conn_close(c);
        c->next_connect_us = 0;
        sitq__call_note_lost();
        return sitq__fail(err, SITQ_ESTORAGE,
                          "the connection to PostgreSQL (schema %s) was lost while %s: %s",
                          c->b->schema, what, msg);
    }
    if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01"))) c->retry = 1;
    return fail_by_state(c, state ? state : "", msg, err, what);
}

/* A statement on a connection already lost (and closed) by an earlier one:
 * callers reconnect only at the start of a transaction or a read. */
static sitq_code lost(pg_conn *c, sitq_error *err, const char *what) {
    return sitq__fail(err, SITQ_ESTORAGE,
                      "the connection to PostgreSQL (schema %s) was lost before %s", c->b->schema,
                      what);
}

static int ok_status(const PGresult *r) {
    ExecStatusType s = PQresultStatus(r);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

static PGresult *run_statement(pg_conn *c, pg_stmt_id id, const pg_params *p, sitq_error *err,
                               const char *what) {
    c->sqlstate[0] = '\0';
    if (!c->conn) { /* lost earlier in this transaction: never go on outside it */
        lost(c, err, what);
        return NULL;
    }
    if (c->b->opts.poll_only) {
        /* PgBouncer in transaction mode hands each transaction another
         * server connection: a statement prepared on one is missing (or
         * already there) on the next, so each is sent whole. */
        pg_params none = {0};
        PGresult *r = pg_q_params_p(c, c->b->sql[id], p ? p : &none);
        if (!r || !ok_status(r)) {
            pg_fail(c, r, err, what);
            PQclear(r);
            return NULL;
        }
        return r;
    }
    char name[16];
    snprintf(name, sizeof name, "sitq_%d", (int)id);
    if (!c->prepared[id]) {
        PGresult *r = pg_q_prepare(c, name, c->b->sql[id]);
        if (!r || !ok_status(r)) {
            pg_fail(c, r, err, what);
            PQclear(r);
            return NULL;
        }
        PQclear(r);
        c->prepared[id] = 1;
    }
    PGresult *r = pg_q_prepared(c, name, p);
    if (!r || !ok_status(r)) {
        pg_fail(c, r, err, what);
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Binary parameters at least this large (a result of megabytes, a group of
 * them) may take longer to send than the idle-in-transaction timeout: the
 * server counts the time it spends reading a statement's message as idle,
 * and on a link of tens of MB/s a result near the 1 GB limit takes tens of
 * seconds. Such a statement gets a timeout of 1 ms per KiB more (a link of
 * 1 MB/s) for its sending, and the 10 s are set back once it is answered,
 * so that a process stopped later in the transaction is still cut off
 * soon. */
#define PG_LONG_SEND_BYTES ((size_t)8 << 20)

static size_t binary_bytes(const pg_params *p) {
    size_t n = 0;
    for (int i = 0; p && i < p->n; i++)
        if (p->formats[i] == 1 && p->values[i]) n += (size_t)p->lengths[i];
    return n;
}

PGresult *pg_run(pg_conn *c, pg_stmt_id id, const pg_params *p, sitq_error *err, const char *what) {
    size_t bytes = binary_bytes(p);
    int widen = bytes >= PG_LONG_SEND_BYTES && c->conn &&
                PQtransactionStatus(c->conn) == PQTRANS_INTRANS &&
                PQserverVersion(c->conn) >= 90600;
    if (widen) {
        long long ms = atoll(PG_IDLE_IN_TXN_MS_TEXT) + (long long)(bytes >> 10);
        char sql[96];
        snprintf(sql, sizeof sql, "SET LOCAL idle_in_transaction_session_timeout = %lld",
                 ms < INT_MAX ? ms : INT_MAX);
        if (pg_command(c, sql, err, what) != SITQ_OK) return NULL;
    }
    PGresult *r = run_statement(c, id, p, err, what);
    if (r && widen &&
        pg_command(c, "SET LOCAL idle_in_transaction_session_timeout = " PG_IDLE_IN_TXN_MS_TEXT,
                   err, what) != SITQ_OK) {
        PQclear(r);
        return NULL;
    }
    return r;
}

sitq_code pg_code(const sitq_error *err) { return err && err->code ? err->code : SITQ_ESTORAGE; }

sitq_code pg_exec(pg_conn *c, pg_stmt_id id, const pg_params *p, sitq_error *err,
                  const char *what) {
    PGresult *r = pg_run(c, id, p, err, what);
    if (!r) return pg_code(err);
    PQclear(r);
    return SITQ_OK;
}

sitq_code pg_command(pg_conn *c, const char *sql, sitq_error *err, const char *what) {
    c->sqlstate[0] = '\0';
    if (!c->conn) return lost(c, err, what);
    PGresult *r = pg_q_exec(c, sql);
    sitq_code rc = SITQ_OK;
    if (!r || !ok_status(r)) rc = pg_fail(c, r, err, what);
    PQclear(r);
    return rc;
}

sitq_code pg_copy_begin(pg_conn *c, pg_stmt_id id, sitq_error *err, const char *what) {
    c->sqlstate[0] = '\0';
    if (!c->conn) return lost(c, err, what);
    /* COPY cannot be prepared: sent as a simple query. */
    PGresult *r = pg_q_exec(c, c->b->sql[id]);
    sitq_code rc = SITQ_OK;
    if (!r || PQresultStatus(r) != PGRES_COPY_IN) rc = pg_fail(c, r, err, what);
    PQclear(r);
    return rc;
}

sitq_code pg_copy_put(pg_conn *c, const void *data, size_t len, sitq_error *err, const char *what) {
    if (!c->conn) return lost(c, err, what);
    const char *p = data;
    while (len > 0) { /* a message's length is an int */
        int part = len > (1u << 30) ? 1 << 30 : (int)len;
        if (!pg_q_copy_data(c, p, part)) return pg_fail(c, NULL, err, what);
        p += part;
        len -= (size_t)part;
    }
    return SITQ_OK;
}

sitq_code pg_copy_end(pg_conn *c, sitq_code rc, sitq_error *err, const char *what) {
    /* On an earlier error the server is told to abandon the COPY, and that
     * error stays the one reported. */
    if (!c->conn) return rc ? rc : lost(c, err, what);
    PGresult *r = pg_q_copy_end(c, rc ? "abandoned by the client" : NULL);
    if (!rc && (!r || PQresultStatus(r) != PGRES_COMMAND_OK)) rc = pg_fail(c, r, err, what);
    PQclear(r);
    if (!rc && c->conn && PQstatus(c->conn) != CONNECTION_OK) rc = pg_fail(c, NULL, err, what);
    return rc;
}
