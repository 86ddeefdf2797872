/* pg_backend.c - the PostgreSQL backend object: options, open and close,
 * the writer connection and its transactions, the reader pool.
 *
 * One writer connection per backend, behind a mutex: this process's writes
 * are serialised on it (a dispatcher's cycle, enqueues, operator actions),
 * and handler threads never hold a connection. Every write is one READ
 * COMMITTED transaction run by pg_write_txn; on a serialization failure or a
 * deadlock (or when the body asks, e.g. after losing a unique-key race) the
 * transaction runs again from its start, a few times, after a short random
 * pause. Reads (get, list, stats, payload) use a small pool of reader
 * connections so that they never wait behind a cycle. */
#include "pg.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void pg_close(sitq_backend *base);

/* The largest payload, and payload + result, of one task: PostgreSQL's
 * field limit is 1 GB; the same bound as SQLite's keeps the two backends
 * interchangeable. */
#define PG_BLOB_MAX 999000000u

/* One table for every instance: one opened poll_only clears the head's
 * notifies, so that waits poll instead of calling wait_change. */
static const sitq__backend_ops pg_ops = {
    .version = SITQ__BACKEND_VERSION,
    .name = "postgres",
    .blob_max = PG_BLOB_MAX,
    .close = pg_close,
    .enqueue = pg_enqueue,
    .get = pg_get,
    .get_prefix = pg_get_prefix,
    .payload = pg_payload,
    .cancel = pg_cancel,
    .retry = pg_retry,
    .dep_count = pg_dep_count,
    .dep_result = pg_dep_result,
    .dep_results = pg_dep_results,
    .dep_values = pg_dep_values,
    .workers = pg_workers,
    .schedule_add = pg_schedule_add,
    .schedule_list = pg_schedule_list,
    .schedule_set = pg_schedule_set,
    .schedule_fire = pg_schedule_fire,
    .limit_write = pg_limit_write,
    .limit_list = pg_limit_list,
    .stats = pg_stats,
    .stats_bounded = pg_stats_bounded,
    .totals = pg_totals,
    .counters = pg_counters,
    .oldest_ready = pg_oldest_ready,
    .queues = pg_queues,
    .task_queue = pg_task_queue,
    .dependents = pg_dependents,
    .get_many = pg_get_many,
    .dependents_many = pg_dependents_many,
    .health = pg_health,
    .list = pg_list,
    .count = pg_count,
    .purge = pg_purge,
    .retention_set = pg_retention_set,
    .retention_get = pg_retention_get,
    .expire = pg_expire,
    .retained = pg_retained,
    .cycle = pg_cycle,
    .claim_id = pg_claim_id,
    .wait_change = pg_wait_change,
};

void sitq_postgres_options_init(sitq_postgres_options *opts) {
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->schema = "sitq";
    opts->connect_timeout_s = 10;
    opts->create_schema = 1;
    opts->reader_connections = 2;
    opts->lock_timeout_ms = 30000;
    opts->statement_timeout_ms = 0;
    opts->keepalive_s = 30;
}

/* Schema names are plain identifiers, so that quoting them is trivial and
 * they read the same in SQL, in logs and in psql. */
static int schema_name_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 63 || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_')) return 0;
    return 1;
}

/* The schema a URI's sitq_schema names: a plain identifier, and the same
 * as options.schema unless that was left at its default "sitq" (a program
 * that chose a schema is never silently given another one). */
static sitq_code uri_schema_check(const char *uri_schema, const char *opt_schema, sitq_error *err) {
    if (!schema_name_ok(uri_schema))
        return sitq__fail(err, SITQ_EINVAL,
                          "the URI's sitq_schema must be 1..63 letters, digits or underscores, "
                          "not starting with a digit, got \"%.80s\"",
                          uri_schema);
    if (strcmp(opt_schema, "sitq") != 0 && strcmp(opt_schema, uri_schema) != 0)
        return sitq__fail(err, SITQ_EINVAL,
                          "the URI's sitq_schema \"%s\" and options.schema \"%s\" differ: "
                          "give the schema in one place",
                          uri_schema, opt_schema);
    return SITQ_OK;
}

/* Replace every "@" of sql by the quoted schema name. */
static char *with_schema(const char *sql, const char *schema) {
    size_t at = 0, len = strlen(sql), sl = strlen(schema);
    for (const char *p = sql; *p; p++) at += *p == '@';
    char *out = malloc(len + at * (sl + 2) + 1);
    if (!out) return NULL;
    char *o = out;
    for (const char *p = sql; *p; p++) {
        if (*p != '@') {
            *o++ = *p;
            continue;
        }
        *o++ = '"';
        memcpy(o, schema, sl);
        o += sl;
        *o++ = '"';
    }
    *o = '\0';
    return out;
}

char *pg_schema_text(const pg_backend *b, const char *sql) { return with_schema(sql, b->schema); }

/* 64-bit FNV-1a: advisory lock keys derived from names. */
int64_t pg_name_key(const char *a, const char *b) {
    uint64_t h = 1469598103934665603ull;
    for (const char *p = a; p && *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *p = b; p && *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return (int64_t)h;
}

static void pg_close(sitq_backend *base) {
    pg_backend *b = (pg_backend *)base;
    if (!b) return;
    pg_listen_stop(b);
    for (int i = 0; i < b->n_readers; i++) pg_conn_close(&b->readers[i]);
    pg_conn_close(&b->writer);
    pg_unknown_free(b);
    free(b->readers);
    free(b->reader_busy);
    for (int i = 0; i < PG_COUNT; i++) free(b->sql[i]);
    pthread_mutex_destroy(&b->write_mu);
    pthread_mutex_destroy(&b->gc_mu);
    pthread_mutex_destroy(&b->listen_mu);
    pthread_cond_destroy(&b->gc_cv);
    pthread_cond_destroy(&b->gc_gather_cv);
    pthread_mutex_destroy(&b->read_mu);
    pthread_cond_destroy(&b->read_cv);
    sitq__backend_head_destroy(&b->head);
    free(b->conninfo);
    free(b->schema);
    free(b);
}

/* Check the options' values (o is the caller's or the defaults). */
static sitq_code check_options(const sitq_postgres_options *opts_in, sitq_error *err) {
    const sitq_postgres_options o = *opts_in;
    if (!schema_name_ok(o.schema))
        return sitq__fail(err, SITQ_EINVAL,
                          "options.schema must be 1..63 letters, digits or underscores, not "
                          "starting with a digit, got \"%.80s\"",
                          o.schema);
    if (o.connect_timeout_s < 1 || o.connect_timeout_s > 3600)
        return sitq__fail(err, SITQ_EINVAL, "options.connect_timeout_s must be 1..3600, got %d",
                          o.connect_timeout_s);
    if (o.create_schema != 0 && o.create_schema != 1)
        return sitq__fail(err, SITQ_EINVAL, "options.create_schema must be 0 or 1, got %d",
                          o.create_schema);
    if (o.lock_timeout_ms < 1 || o.lock_timeout_ms > 3600000)
        return sitq__fail(err, SITQ_EINVAL, "options.lock_timeout_ms must be 1..3600000, got %d",
                          o.lock_timeout_ms);
    if (o.statement_timeout_ms < 0 || o.statement_timeout_ms > 3600000)
        return sitq__fail(err, SITQ_EINVAL,
                          "options.statement_timeout_ms must be 0..3600000, got %d",
                          o.statement_timeout_ms);
    if (o.keepalive_s < 1 || o.keepalive_s > 3600)
        return sitq__fail(err, SITQ_EINVAL, "options.keepalive_s must be 1..3600, got %d",
                          o.keepalive_s);
    if (o.poll_only != 0 && o.poll_only != 1)
        return sitq__fail(err, SITQ_EINVAL, "options.poll_only must be 0 or 1, got %d",
                          o.poll_only);
    if (o.reader_connections < 0 || o.reader_connections > 64)
        return sitq__fail(err, SITQ_EINVAL, "options.reader_connections must be 0..64, got %d",
                          o.reader_connections);
    return SITQ_OK;
}

/* A positive connect_timeout the connection string sets (seconds, at most
 * 3600), which wins over the option as the string's other settings do: each
 * connection passes its own connect_timeout after the string (it is also
 * cut to what a caller's deadline leaves). 0 when the string sets none. */
static int dsn_connect_timeout(const char *conninfo) {
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    int s = 0;
    for (PQconninfoOption *p = opts; p && p->keyword; p++)
        if (strcmp(p->keyword, "connect_timeout") == 0 && p->val) {
            long v = strtol(p->val, NULL, 10);
            s = v <= 0 ? 0 : v > 3600 ? 3600 : (int)v;
        }
    PQconninfoFree(opts);
    return s;
}

sitq_code sitq_backend_open_postgres(const char *conninfo, const sitq_postgres_options *opts,
                                     sitq_backend **out, sitq_error *err) {
    if (!out) return sitq__fail(err, SITQ_EINVAL, "out must not be NULL");
    *out = NULL;
    if (!conninfo || !*conninfo)
        return sitq__fail(err, SITQ_EINVAL, "conninfo must be a non-empty connection string");
    sitq_postgres_options o;
    if (opts) o = *opts;
    else sitq_postgres_options_init(&o);
    if (!o.schema) o.schema = "sitq";
    sitq_code crc = check_options(&o, err);
    if (crc) return crc;

    /* A URI may name the schema itself (pg_uri.c); libpq gets it without. */
    char *libpq_info = NULL, *uri_schema = NULL;
    int uri_poll_only = -1;
    sitq_code urc = pg_uri_take(conninfo, &libpq_info, &uri_schema, &uri_poll_only, err);
    if (urc) return urc;
    if (uri_poll_only == 1) o.poll_only = 1;
    if (uri_schema) {
        urc = uri_schema_check(uri_schema, o.schema, err);
        if (urc) {
            free(libpq_info);
            free(uri_schema);
            return urc;
        }
        o.schema = uri_schema;
    }

    pg_backend *b = calloc(1, sizeof *b);
    if (!b || sitq__backend_head_init(&b->head, &pg_ops) != 0) {
        free(b);
        free(libpq_info);
        free(uri_schema);
        return b ? sitq__fail(err, SITQ_ESYSTEM, "cannot initialise mutexes")
                 : sitq__fail(err, SITQ_ENOMEM, "out of memory opening PostgreSQL");
    }
    b->head.notifies = !o.poll_only; /* no LISTEN: wait_change could not wake */
    pthread_mutex_init(&b->write_mu, NULL);
    pthread_mutex_init(&b->gc_mu, NULL);
    pthread_mutex_init(&b->listen_mu, NULL);
    pthread_cond_init(&b->gc_cv, NULL);
    pthread_condattr_t mono;
    pthread_condattr_init(&mono);
    pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
    pthread_cond_init(&b->gc_gather_cv, &mono);
    pthread_condattr_destroy(&mono);
    pthread_mutex_init(&b->read_mu, NULL);
    pthread_cond_init(&b->read_cv, NULL);
    b->opts = o;
    b->conninfo = libpq_info;
    int dsn_timeout = libpq_info ? dsn_connect_timeout(libpq_info) : 0;
    if (dsn_timeout > 0) b->opts.connect_timeout_s = dsn_timeout;
    b->schema = strdup(o.schema);
    free(uri_schema);
    b->opts.schema = b->schema;
    b->writer.b = b;
    b->incarnation = sitq__rand64();
    sitq_code rc = SITQ_OK;
    if (!b->conninfo || !b->schema) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < PG_COUNT; i++)
        if (!(b->sql[i] = with_schema(pg_sql[i], b->schema)))
            rc = sitq__fail(err, SITQ_ENOMEM, "out of memory");
    if (!rc) rc = pg_conn_ensure(&b->writer, err);
    if (!rc) rc = pg_schema_open(b, err);
    if (!rc) rc = pg_schedules_ensure(b, err);
    if (!rc) rc = pg_limits_schema(b, err);
    int n = o.reader_connections;
    if (!rc && n > 0) {
        b->readers = calloc((size_t)n, sizeof *b->readers);
        b->reader_busy = calloc((size_t)n, sizeof *b->reader_busy);
        if (!b->readers || !b->reader_busy) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory");
        else b->n_readers = n; /* connected lazily, on first use */
        for (int i = 0; i < b->n_readers; i++) b->readers[i].b = b;
    }
    if (rc) {
        pg_close(&b->head);
        return rc;
    }
    *out = &b->head;
    return sitq__ok(err);
}

/* Transactions that lose a serialization or deadlock race run again this
 * many times before the error is reported. */
#define PG_TXN_TRIES 8

/* The call lost its connection while its transaction committed: say so,
 * keeping why (the server stopped answering, the connection broke). */
static void lost_commit(const pg_backend *b, sitq_code rc, sitq_error *err) {
    char why[sizeof err->message];
    snprintf(why, sizeof why, "%s", err ? err->message : "");
    sitq__fail(err, rc,
               "the connection to PostgreSQL (schema %s) was lost while committing (%s): the "
               "transaction may or may not have been committed",
               b->schema, why);
}

/* Fault injection (lose_next_commit_answer): the COMMIT succeeded, and
 * its answer is dropped as a crash right after it would drop it. */
static sitq_code drop_commit_answer(pg_backend *b, pg_conn *c, sitq_error *err) {
    b->lose_next_commit_answer = 0;
    pg_conn_close(c);
    c->next_connect_us = 0;
    return sitq__fail(err, SITQ_ESTORAGE, "the answer to COMMIT was dropped (fault injection)");
}

static sitq_code write_txn(pg_backend *b, pg_body_fn body, void *arg, int single, sitq_error *err) {
    pg_conn *c = &b->writer;
    if (b->opts.poll_only) single = 0; /* its settings are the transaction's (pg_conn_begin) */
    pthread_mutex_lock(&b->write_mu);
    sitq_code rc = SITQ_OK;
    for (int attempt = 1;; attempt++) {
        c->retry = 0;
        pg_unknown_begin(b);
        rc = pg_conn_ensure(c, err);
        if (rc) break;
        if (!single) rc = pg_conn_begin(c, err);
        if (!rc) rc = body(b, c, arg, err);
        int committing = single;
        if (!rc && !single) {
            rc = pg_command(c, "COMMIT", err, "committing");
            committing = 1;
            if (!rc && b->lose_next_commit_answer) rc = drop_commit_answer(b, c, err);
        }
        /* A single statement commits itself: its loss is a lost COMMIT.
         * Tasks that commit may have claimed are unknown to the caller:
         * the next transactions put them back (pg_unknown.c), and a new
         * owner key leaves them to lapse should that never happen
         * (pg_cycle.c). */
        if (rc && committing && !c->conn) {
            b->owner_epoch++;
            pg_unknown_lost(b);
            lost_commit(b, rc, err);
        }
        if (!rc) {
            pg_unknown_committed(b);
            break;
        }
        int again = c->retry && attempt < PG_TXN_TRIES;
        if (c->conn && PQtransactionStatus(c->conn) != PQTRANS_IDLE)
            pg_command(c, "ROLLBACK", NULL, "rolling back");
        if (!again) break;
        sitq__sleep_us((int64_t)(sitq__rand64() % (uint64_t)(1000 << (attempt < 6 ? attempt : 6))));
    }
    pthread_mutex_unlock(&b->write_mu);
    return rc;
}

sitq_code pg_write_txn(pg_backend *b, pg_body_fn body, void *arg, sitq_error *err) {
    return write_txn(b, body, arg, 0, err);
}

sitq_code pg_write_one(pg_backend *b, pg_body_fn body, void *arg, sitq_error *err) {
    return write_txn(b, body, arg, 1, err);
}

pg_conn *pg_read_acquire(pg_backend *b, sitq_error *err) {
    pg_conn *c = NULL;
    if (b->n_readers == 0) {
        pthread_mutex_lock(&b->write_mu);
        c = &b->writer;
    } else {
        pthread_mutex_lock(&b->read_mu);
        while (!c) {
            for (int i = 0; i < b->n_readers && !c; i++) {
                if (!b->reader_busy[i]) {
                    b->reader_busy[i] = 1;
                    c = &b->readers[i];
                }
            }
            if (!c) pthread_cond_wait(&b->read_cv, &b->read_mu);
        }
        pthread_mutex_unlock(&b->read_mu);
    }
    if (pg_conn_ensure(c, err) != SITQ_OK) {
        pg_read_release(b, c);
        return NULL;
    }
    return c;
}

void pg_read_release(pg_backend *b, pg_conn *c) {
    if (c == &b->writer) {
        pthread_mutex_unlock(&b->write_mu);
        return;
    }
    pthread_mutex_lock(&b->read_mu);
    b->reader_busy[c - b->readers] = 0;
    pthread_cond_signal(&b->read_cv);
    pthread_mutex_unlock(&b->read_mu);
}

PGresult *pg_read_run(pg_backend *b, pg_stmt_id id, const pg_params *p, sitq_error *err,
                      const char *what) {
    pg_conn *c = pg_read_acquire(b, err);
    if (!c) return NULL;
    PGresult *r = pg_run(c, id, p, err, what);
    pg_read_release(b, c);
    return r;
}

sitq_code pg_db_now(pg_conn *c, sitq_time_us *out, sitq_error *err) {
    PGresult *r = pg_run(c, PG_DB_NOW, NULL, err, "reading the server's clock");
    if (!r) return pg_code(err);
    *out = pg_i64(r, 0, 0);
    PQclear(r);
    pg_grace_seen(c, *out);
    return SITQ_OK;
}
