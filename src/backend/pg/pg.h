/* pg.h - internals of the PostgreSQL backend, shared by its files.
 *
 * The backend keeps the SQLite backend's semantics exactly and takes every
 * decision from core/lifecycle.h; only the mechanics differ:
 *
 * - every object lives in one configured schema and every statement names
 *   it (pg_sql.c writes "@." where the quoted schema goes);
 * - one writer connection per backend behind a mutex (handler threads never
 *   hold a connection), a small pool of reader connections;
 * - statements are prepared once per connection, parameters are sent as
 *   text (bytea as binary) and results are read in binary (pg_conn.c);
 * - a write is one READ COMMITTED transaction run by pg_write_txn, which
 *   runs it again on a serialization failure or a deadlock;
 * - a connection that breaks fails the call that lost it (SITQ_ESTORAGE)
 *   and is reconnected with backoff by the next call; the tasks claimed by
 *   a COMMIT whose answer was lost are put back by the next cycle
 *   (pg_unknown.c). */
#ifndef SITQ_PG_H
#define SITQ_PG_H

#include "backend/backend.h"
#include "core/internal.h"
#include "core/lifecycle.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>

/* Prepared statements (SQL text in pg_sql.c). */
typedef enum pg_stmt_id {
    PG_DB_NOW,
    PG_NEXT_IDS,
    PG_UNIQUE_FIND,
    PG_DEP_STATES,
    PG_INSERT_TASKS,
    PG_COPY_TASKS,
    PG_INSERT_PLAIN,
    PG_SET_PAYLOAD,
    PG_INSERT_DEPS,
    PG_GET,
    PG_GET_PREFIX,
    PG_GET_DEPS,
    PG_DEP_COUNT,
    PG_DEP_RESULT,
    PG_DEP_RESULTS,
    PG_DEP_VALUES,
    PG_PAYLOAD,
    PG_TASK_STATE,
    PG_CLAIM,
    PG_NEXT_RUN_AT,
    PG_LIVE,
    PG_CLAIM_ID,
    PG_START,
    PG_START_MANY,
    PG_SUCCEED,
    PG_SUCCEED_MANY,
    PG_FAIL_INFO,
    PG_FAIL_INFO_MANY,
    PG_REQUEUE,
    PG_REQUEUE_MANY,
    PG_FINISH,
    PG_PROPAGATE,
    PG_RESOLVE_LOCK,
    PG_RESOLVE,
    PG_COUNT_TOTALS,
    PG_TOTALS,
    PG_COUNTERS,
    PG_HEARTBEAT_MANY,
    PG_RELEASE,
    PG_RELEASE_MANY,
    PG_RELEASE_UNKNOWN,
    PG_REAP_LOCK,
    PG_REAP_SELECT,
    PG_REQUEUE_LOST,
    PG_WORKERS_PRUNE,
    PG_SET_CANCEL_FLAG,
    PG_RETRY_LOCK_DEPS,
    PG_RETRY_DEPS,
    PG_RETRY_WALK,
    PG_RETRY_REARM,
    PG_RETRY_SET,
    PG_STATS,
    PG_STATS_BOUNDED,
    PG_OLDEST_READY,
    PG_HEALTH,
    PG_ID_RANGE,
    PG_ID_AFTER,
    PG_PURGE_LOCK,
    PG_NOTIFY,
    PG_QUEUES,
    PG_TASK_QUEUE,
    PG_DEPENDENTS,
    PG_GET_MANY,
    PG_GET_MANY_DEPS,
    PG_DEPENDENTS_MANY,
    PG_WORKER_PUT,
    PG_WORKERS_LIST,
    PG_WORKERS_TASKS,
    PG_CLAIM_LIMITED,
    PG_LIMITS_LOCK,
    PG_LIMITS_LOCK_ALL,
    PG_LIMITS_READ,
    PG_LIMIT_RUNNING_QUEUE,
    PG_LIMIT_RUNNING_FUNCTION,
    PG_LIMIT_RATE_SET,
    PG_LIMIT_PAUSE,
    PG_LIMIT_SET,
    PG_LIMIT_PRUNE,
    PG_LIMIT_CLEAR,
    PG_LIMITS_EXISTS,
    PG_COUNT
} pg_stmt_id;

/* SQL of each statement, "@." standing for the quoted schema (pg_sql.c). */
extern const char *const pg_sql[PG_COUNT];
/* The start of a list's SELECT, with "@" for the schema (pg_list.c adds
 * WHERE, ORDER and LIMIT): the columns of pg_row_to_result without value
 * and traceback, then the value's length. */
extern const char pg_list_select[];

/* The schema's DDL, "@" standing for the quoted schema, and its version. */
extern const char *const pg_schema_sql;
#define PG_SCHEMA_VERSION "pg4"

/* The monotonic counters' columns of counts, each after `pre` (" " in the
 * table's creation, " ADD COLUMN IF NOT EXISTS" in an upgrade). */
/* clang-format off */
#define PG_TOTALS_COLUMNS(pre)                                                                     \
    pre " total_purged bigint NOT NULL DEFAULT 0,"                                                 \
    pre " total_succeeded bigint NOT NULL DEFAULT 0,"                                              \
    pre " total_failed bigint NOT NULL DEFAULT 0,"                                                 \
    pre " total_retried bigint NOT NULL DEFAULT 0,"                                                \
    pre " total_lost bigint NOT NULL DEFAULT 0,"                                                   \
    pre " total_cancelled bigint NOT NULL DEFAULT 0"
/* clang-format on */

/* Upgrade a schema of version pg1 to pg2, pg2 to pg3 and pg3 to
 * PG_SCHEMA_VERSION ("@" as in pg_schema_sql); run under the schema's
 * advisory lock. */
extern const char *const pg_migrate_pg1_sql;
extern const char *const pg_migrate_pg2_sql;
extern const char *const pg_migrate_pg3_sql;

/* Rows per queue of counts (PG_COUNT_TOTALS; the purge's in pg_retention.c). */
#define PG_COUNT_SHARDS 16

/* A session idle inside a transaction this long (ms) is ended by the
 * server (pg_conn.c says why); the text for the SET. */
#define PG_IDLE_IN_TXN_MS_TEXT "10000"

/* Payloads up to this size come back with the claim; larger ones are read by
 * the handler thread (ops->payload) outside the write path. */
#define PG_INLINE_MAX 1024

/* Bound parameters of one statement: text values (numbers printed), bytea
 * sent binary. Values are borrowed, not copied, except printed numbers. */
#define PG_MAX_PARAMS 20
typedef struct pg_params {
    int n;
    const char *values[PG_MAX_PARAMS];
    int lengths[PG_MAX_PARAMS];
    int formats[PG_MAX_PARAMS];
    char num[PG_MAX_PARAMS][32];
} pg_params;

void pg_p_init(pg_params *p);
void pg_p_i64(pg_params *p, int64_t v);
void pg_p_f64(pg_params *p, double v);
void pg_p_text(pg_params *p, const char *s); /* NULL: SQL NULL */
void pg_p_bytea(pg_params *p, const void *data, size_t len, int is_null);

/* A one-dimensional array parameter in PostgreSQL's binary format, built
 * element by element (so that a batch of any size is one parameter and no
 * value is printed or escaped). Element types by OID. */
#define PG_OID_BYTEA  17u
#define PG_OID_INT8   20u
#define PG_OID_TEXT   25u
#define PG_OID_FLOAT8 701u
typedef struct pg_array {
    char *buf; /* header (20 bytes, written by pg_p_array) then the elements */
    size_t len, cap;
    int n, has_null, oom;
    uint32_t oid;
} pg_array;

void pg_arr_init(pg_array *a, uint32_t elem_oid);
void pg_arr_free(pg_array *a);
void pg_arr_i64(pg_array *a, int64_t v);
/* Initialise a (bigint) with the first column of every row of r. SITQ_OK,
 * or SITQ_ENOMEM with a freed. */
sitq_code pg_arr_ids(pg_array *a, const PGresult *r, sitq_error *err);
void pg_arr_f64(pg_array *a, double v, int is_null);
void pg_arr_bytes(pg_array *a, const void *data, size_t len, int is_null);
/* Bind a as the next parameter (binary); a must outlive the statement.
 * Returns 0, or -1 when building the array ran out of memory. */
int pg_p_array(pg_params *p, pg_array *a);

struct pg_backend;

typedef struct pg_conn {
    PGconn *conn;
    struct pg_backend *b;
    unsigned char prepared[PG_COUNT];
    int retry;               /* the last failure may succeed if the transaction runs again */
    char sqlstate[6];        /* of the last failure, "" when none */
    int64_t next_connect_us; /* monotonic: no reconnection before this */
    int64_t backoff_us;      /* pause before the next reconnection */
    /* The server's start (pg_postmaster_start_time, on its clock), read at
     * connect: lease recovery waits one lease after a restart (pg_grace.c).
     * first_seen_us / seen_us: the first and latest server clock read on
     * this server; saw_restart: this connection read the clock of the
     * server before; origin_us: where this server's first lease starts, as
     * last computed; prev_*: the origin and latest reading of the server
     * before the last restart; settled_us: the latest moment this
     * connection saw a server past its first lease. */
    sitq_time_us server_start_us;
    sitq_time_us first_seen_us, seen_us, origin_us, prev_origin_us, prev_seen_us, settled_us;
    int saw_restart;
    int silent;              /* the last statement got no reply in time (PG_SILENT_LIMIT:
                   within pg_reply_limit_us; PG_SILENT_DEADLINE: by the
                   deadline of the caller's wait): the connection was closed */
    int silent_sending;      /* ... while the server took none of what was sent, rather
                               than while it sent no reply */
    int stop_cancel;         /* the last statement was cancelled by a stop's abort
                               flag (pg_reply.c) */
    int64_t stop_cancel_us;  /* when (monotonic) */
    char connect_error[400]; /* why the last connection attempt failed ("": it did not) */
} pg_conn;

/* pg_conn.silent: why the last statement's reply was given up. */
#define PG_SILENT_LIMIT    1
#define PG_SILENT_DEADLINE 2
#define PG_SILENT_STOP     3 /* nor the answer to a stop's cancel (pg_reply.c) */

typedef struct pg_backend {
    sitq_backend head;
    sitq_time_us limit_wake_us; /* under the writer: the last claim's limit wake-up */
    char *conninfo;
    char *schema;
    char *sql[PG_COUNT]; /* pg_sql with the schema substituted */
    sitq_postgres_options opts;
    int64_t schema_key; /* advisory lock key of schema creation */
    /* Owner keys of this process's workers (pg_cycle.c): random per
     * backend, a new epoch after every cycle whose outcome is unknown.
     * Both only under write_mu. */
    uint64_t incarnation;
    uint64_t owner_epoch;
    pthread_mutex_t write_mu;
    pg_conn writer;
    /* group commit of enqueues (pg_enqueue.c) */
    pthread_mutex_t gc_mu;
    pthread_cond_t gc_cv;
    struct enq_op *gc_head, *gc_tail;
    int gc_leader;
    /* a new leader's short wait for the last group's callers: how many ops
     * are queued, how many callers the last group suggests, how long its
     * write took; the leader waits on gc_gather_cv while gc_gathering */
    size_t gc_queued, gc_expect;
    int64_t gc_write_us;
    int gc_gathering;
    pthread_cond_t gc_gather_cv; /* CLOCK_MONOTONIC */
    pthread_mutex_t read_mu;
    pthread_cond_t read_cv;
    pg_conn *readers;
    int *reader_busy;
    int n_readers;
    /* LISTEN connection and its thread (pg_listen.c) */
    pthread_mutex_t listen_mu;
    pthread_t listen_thread;
    int listen_started, listen_failed; /* under listen_mu */
    int listen_pipe[2];                /* written by close to stop the thread */
    atomic_int listen_stop;
    atomic_int listen_ok; /* LISTEN is in place: notifications arrive */
    pg_conn listener;     /* the thread's alone */
    int workers_ready;    /* under write_mu: the registry's columns exist (pg_workers.c) */
    /* Claims of commits whose answer was lost (pg_unknown.c), all under
     * write_mu: the claim of the transaction running now (its lease token
     * and queues, borrowed from the body's cycle), the claims remembered
     * for release, and when the current transaction released them. */
    int64_t txn_token;
    const char *const *txn_queues;
    size_t txn_n_queues;
    struct pg_unknown_claim *unknown;
    int n_unknown;
    int64_t unknown_released_mono_us;
    /* Fault injection for tests: the next COMMIT that succeeds has its
     * answer dropped (the connection closed), as a crash would. */
    int lose_next_commit_answer;
} pg_backend;

/* ---- connections (pg_conn.c) ---- */

/* Connect c (or reconnect it after a loss, no sooner than its backoff).
 * SITQ_OK, or SITQ_ESTORAGE naming the server's reason. */
sitq_code pg_conn_ensure(pg_conn *c, sitq_error *err);
void pg_conn_close(pg_conn *c);

/* ---- statements and their replies (pg_reply.c) ---- */

/* How long a statement's reply may stay silent before the server is taken
 * for one that stopped answering, in microseconds: statement_timeout_ms
 * (lock_timeout_ms when none) plus two keepalive_s (the TCP user timeout). */
int64_t pg_reply_limit_us(const pg_backend *b);

/* PQexec, PQexecParams (no types, text parameters), PQprepare and
 * PQexecPrepared (binary results) with the statement sent and the reply
 * awaited for at most pg_reply_limit_us of silence each (the connection is
 * in nonblocking mode). Each returns the last result (the caller
 * PQclear's it), or NULL: out of memory, a broken connection, or no reply
 * in time (c->silent set, the connection closed). Pass the outcome to
 * pg_fail. */
PGresult *pg_q_exec(pg_conn *c, const char *sql);
PGresult *pg_q_params(pg_conn *c, const char *sql, int n, const char *const *values,
                      int binary_results);
PGresult *pg_q_prepare(pg_conn *c, const char *name, const char *sql);
/* A statement that is not prepared (composed per call), with p's
 * parameters; results in binary. */
PGresult *pg_q_params_p(pg_conn *c, const char *sql, const pg_params *p);
PGresult *pg_q_prepared(pg_conn *c, const char *name, const pg_params *p);
/* A COPY's data (len bytes), sent within the same bounds: 1, or 0 when the
 * connection broke or was given up (c->silent set). Pass to pg_fail. */
int pg_q_copy_data(pg_conn *c, const char *data, int len);
/* The end of a COPY (error: NULL, or why it is abandoned) and its result,
 * as pg_q_exec returns it. */
PGresult *pg_q_copy_end(pg_conn *c, const char *error);

/* Run prepared statement id with p (NULL: none); results in binary. Returns
 * the result (caller PQclear's it) or NULL with err filled (pg_fail). */
PGresult *pg_run(pg_conn *c, pg_stmt_id id, const pg_params *p, sitq_error *err, const char *what);
/* The code of the failure pg_run just reported in err (SITQ_ESTORAGE when
 * err is NULL). */
sitq_code pg_code(const sitq_error *err);
/* Like pg_run for a statement whose rows are not needed. */
sitq_code pg_exec(pg_conn *c, pg_stmt_id id, const pg_params *p, sitq_error *err, const char *what);
/* COPY ... FROM STDIN of statement id (not prepared: COPY cannot be):
 * begin, send data in any pieces, end. pg_copy_end takes the code of what
 * happened since begin (SITQ_OK, or an error that abandons the COPY and is
 * returned) and reports the server's verdict on the rows. Each returns
 * SITQ_OK or fills err (pg_fail). */
sitq_code pg_copy_begin(pg_conn *c, pg_stmt_id id, sitq_error *err, const char *what);
sitq_code pg_copy_put(pg_conn *c, const void *data, size_t len, sitq_error *err, const char *what);
sitq_code pg_copy_end(pg_conn *c, sitq_code rc, sitq_error *err, const char *what);
/* Run a plain SQL command (no parameters). */
sitq_code pg_command(pg_conn *c, const char *sql, sitq_error *err, const char *what);
/* Start a write transaction on c: BEGIN; for a poll_only backend (PgBouncer
 * in transaction mode, where a session's settings would stay on the server
 * connection lent to the next client) BEGIN READ COMMITTED with the
 * session's settings as SET LOCAL. Errors as pg_command (pg_conn.c). */
sitq_code pg_conn_begin(pg_conn *c, sitq_error *err);

/* Map a failed result (or a broken connection when res is NULL) to a sitq
 * code: SITQ_ESTORAGE with PostgreSQL's message, saying when the connection
 * was lost, the server stopped answering (c->silent) or the role lacks a
 * privilege; SITQ_EBUSY when a lock was not
 * granted within opts.lock_timeout_ms; sets c->retry for serialization
 * failures and deadlocks. */
sitq_code pg_fail(pg_conn *c, const PGresult *res, sitq_error *err, const char *what);

/* Binary result readers; NULL columns read as 0 / NULL. */
int pg_isnull(const PGresult *r, int row, int col);
int64_t pg_i64(const PGresult *r, int row, int col); /* int2, int4, int8, bool */
double pg_f64(const PGresult *r, int row, int col);
char *pg_text(const PGresult *r, int row, int col);               /* malloc'd copy */
void *pg_bytes(const PGresult *r, int row, int col, size_t *len); /* malloc'd, NUL after */
/* Rows changed by the command of r. */
int64_t pg_changes(const PGresult *r);

/* A PostgreSQL array literal of n int64 values ("{1,2,3}"); malloc'd. */
char *pg_array_i64(const sitq_task_id *v, size_t n);

/* ---- transactions (pg_backend.c) ---- */

/* A write: body runs inside BEGIN ... COMMIT on the writer connection, with
 * write_mu held. It must reset its outputs at its start: the transaction
 * runs again (at most a few times) after a serialization failure, a
 * deadlock or a body's request (c->retry). A code other than SITQ_OK rolls
 * back. */
typedef sitq_code (*pg_body_fn)(pg_backend *b, pg_conn *c, void *arg, sitq_error *err);
sitq_code pg_write_txn(pg_backend *b, pg_body_fn body, void *arg, sitq_error *err);
/* The same for a body that sends exactly one statement: it runs without
 * BEGIN and COMMIT (a statement is its own transaction), one round trip
 * instead of three. */
sitq_code pg_write_one(pg_backend *b, pg_body_fn body, void *arg, sitq_error *err);

/* Borrow a reader connection (the writer when there are none), connected;
 * NULL with err filled when it cannot connect. */
pg_conn *pg_read_acquire(pg_backend *b, sitq_error *err);
void pg_read_release(pg_backend *b, pg_conn *c);
/* Run one read statement on a borrowed reader connection (acquired and
 * released here). The result, owned by the caller (PQclear), or NULL with
 * err filled ("what" names the action in the message). */
PGresult *pg_read_run(pg_backend *b, pg_stmt_id id, const pg_params *p, sitq_error *err,
                      const char *what);

/* The database server's clock, UTC microseconds (lease expiry is judged by
 * it). */
sitq_code pg_db_now(pg_conn *c, sitq_time_us *out, sitq_error *err);

/* ---- claims of a commit whose answer was lost (pg_unknown.c) ---- */

/* A write transaction (or its next attempt) begins. write_mu held. */
void pg_unknown_begin(pg_backend *b);
/* A transaction's claim: its lease token and the queues it claimed from
 * (borrowed until the transaction ends). write_mu held. */
void pg_unknown_claiming(pg_backend *b, int64_t token, const char *const *queues, size_t n);
/* write_txn lost the answer to its COMMIT: remember the claim it made, if
 * any, for the next transactions to release. write_mu held. */
void pg_unknown_lost(pg_backend *b);
/* Inside a write transaction: put back the tasks still running under a
 * remembered claim (unstarted: nobody knows them), so that they can be
 * claimed at once instead of lapsing (a notification tells other
 * processes' idle workers). */
sitq_code pg_unknown_release(pg_backend *b, pg_conn *c, sitq_error *err);
/* After a COMMIT that succeeded: forget the claims its release settled. */
void pg_unknown_committed(pg_backend *b);
/* Free what is remembered (close). */
void pg_unknown_free(pg_backend *b);

/* ---- lease recovery after a server restart (pg_grace.c) ---- */

/* c connected to the server started at start_us (0: unknown). */
void pg_grace_connected(pg_conn *c, sitq_time_us start_us);
/* c read the server's clock: db_now_us (pg_db_now calls it). */
void pg_grace_seen(pg_conn *c, sitq_time_us db_now_us);
/* Lease recovery on c at db_now_us with the reaping worker's lease: leases
 * that lapsed before the returned moment may be recovered (0: none yet,
 * in the first lease after a restart). Updates c's settled moment. */
sitq_time_us pg_grace_cutoff(pg_conn *c, sitq_time_us db_now_us, int64_t lease_us);

/* sql with every "@" replaced by the quoted schema; malloc'd, NULL when out
 * of memory. */
char *pg_schema_text(const pg_backend *b, const char *sql);

/* Split conninfo into what libpq gets (*libpq_out), the schema named by a
 * postgresql:// URI's sitq_schema query parameter (*schema_out, NULL when
 * absent; "" when given without a value) and its sitq_poll_only parameter
 * (*poll_only_out: 1 or 0, -1 when absent); the strings malloc'd, the
 * caller's to free. Any other string, and a URI without the parameters, is
 * copied unchanged. Errors: SITQ_EINVAL (a parameter given twice,
 * sitq_poll_only not 1, 0, true or false), SITQ_ENOMEM; on error the
 * outputs are NULL and -1. Thread-safe (pg_uri.c). */
sitq_code pg_uri_take(const char *conninfo, char **libpq_out, char **schema_out, int *poll_only_out,
                      sitq_error *err);

/* An advisory lock key derived from two names (64-bit FNV-1a). */
int64_t pg_name_key(const char *a, const char *b);

/* ---- the registry of workers (pg_workers.c) ---- */

/* Add the registry's columns to the workers table when missing (inside a
 * write transaction on c; under the schema's advisory lock). */
sitq_code pg_workers_schema(pg_backend *b, pg_conn *c, sitq_error *err);
/* pg_workers_schema once per backend (write_mu held). */
sitq_code pg_workers_prepare(pg_backend *b, pg_conn *c, sitq_error *err);
/* Inside the cycle's transaction: write cy->record into the row of owner
 * (inserted or updated), with its lease from cy->db_now_us (read from the
 * server when 0). */
sitq_code pg_workers_record(pg_conn *c, const sitq__cycle *cy, int64_t owner, sitq_error *err);
/* The workers op (backend.h). */
sitq_code pg_workers(sitq_backend *b, int include_stopped, sitq_worker_info **out, size_t *count,
                     sitq_error *err);

/* ---- notifications (pg_listen.c) ---- */

/* The schema's NOTIFY channel ("sitq_" and 16 hex digits) into buf. */
void pg_channel_name(const pg_backend *b, char *buf, size_t size);
/* Inside a write transaction: tell other processes' waiters that tasks of
 * queue finished and/or became ready (delivered at COMMIT; one call per
 * queue and commit). Nothing when both are 0. */
sitq_code pg_notify_queue(pg_conn *c, const char *queue, int finished, int ready, sitq_error *err);
/* The wait_change op (see backend.h); starts the listener on first use. */
int pg_wait_change(sitq_backend *b, const char *queue, unsigned events, const sitq__gens *seen,
                   int64_t deadline_mono_us);
/* Stop and join the listener thread (close); nothing when never started. */
void pg_listen_stop(pg_backend *b);

/* ---- schema (pg_schema.c) ---- */

/* Check the configured schema and create it when allowed. */
sitq_code pg_schema_open(pg_backend *b, sitq_error *err);

/* ---- operations (one file each) ---- */

sitq_code pg_enqueue(sitq_backend *b, const char *queue, const sitq_task_spec *specs, size_t n,
                     sitq_task_id *ids, sitq_error *err);
sitq_code pg_get(sitq_backend *b, const char *queue, sitq_task_id id, sitq_result **out,
                 sitq_error *err);
/* pg_prefix.c: the get_prefix op. */
sitq_code pg_get_prefix(sitq_backend *b, const char *queue, sitq_task_id id, size_t value_max,
                        sitq_result **out, size_t *value_size, sitq_error *err);
sitq_code pg_get_conn(pg_conn *c, const char *queue, sitq_task_id id, sitq_result **out,
                      sitq_error *err);
sitq_code pg_payload(sitq_backend *b, const char *queue, sitq_task_id id, void **out, size_t *len,
                     sitq_error *err);
sitq_code pg_queues(sitq_backend *b, char ***names, size_t *count, sitq_error *err);
sitq_code pg_task_queue(sitq_backend *b, sitq_task_id id, char **queue, sitq_error *err);
sitq_code pg_dependents(sitq_backend *b, sitq_task_id id, size_t limit, sitq_task_id **ids,
                        size_t *count, sitq_error *err);
sitq_code pg_counters(sitq_backend *b, const char *queue, sitq_totals *out, sitq_error *err);
sitq_code pg_stats(sitq_backend *b, const char *queue, sitq_stats *out, sitq_error *err);
sitq_code pg_stats_bounded(sitq_backend *b, const char *queue, int64_t cap, sitq_stats *out,
                           sitq_error *err);
sitq_code pg_totals(sitq_backend *b, const char *queue, sitq_totals *out, sitq_error *err);
/* The monotonic counters (pg_totals.c), inside a write transaction, in a
 * shard drawn at random so that workers do not contend on one row: add what
 * one commit adds to a queue (nothing when t adds nothing). */
sitq_code pg_count_totals(pg_conn *c, const char *queue, const sitq__tally *t, sitq_error *err);
sitq_code pg_health(sitq_backend *b, sitq_store_health *out, sitq_error *err);
sitq_code pg_oldest_ready(sitq_backend *b, const char *queue, sitq_time_us *run_at_us,
                          sitq_error *err);
sitq_code pg_list(sitq_backend *b, const sitq_list_filter *f, sitq_result ***items, size_t *count,
                  sitq_error *err);
sitq_code pg_count(sitq_backend *b, const sitq_list_filter *f, int64_t cap, int64_t *count,
                   sitq_error *err);
/* A result from row i of the columns of pg_sql's reads (pg_read.c); NULL
 * when out of memory. now: the clock that tells queued from scheduled. */
sitq_result *pg_row_to_result(const PGresult *r, int i, sitq_time_us now);
/* Reads of many tasks by id (pg_many.c). */
sitq_code pg_get_many(sitq_backend *b, const sitq_task_id *ids, size_t n, sitq_result ***items,
                      size_t *count, sitq_error *err);
sitq_code pg_dependents_many(sitq_backend *b, const sitq_task_id *ids, size_t n, size_t limit,
                             sitq_task_id **pairs, size_t *count, sitq_error *err);
sitq_code pg_dep_results(sitq_backend *b, const char *queue, sitq_task_id id, size_t first,
                         size_t n, sitq_result **out, sitq_error *err);
sitq_code pg_dep_values(sitq_backend *b, const char *queue, sitq_task_id id, size_t first, size_t n,
                        sitq_dependency_value *out, sitq_error *err);
/* One task read by statement stmt with parameters p (a row of the result
 * columns, then any extra ones), with its dependencies, on connection c.
 * queue and id only word the not-found error. When extra is not NULL, the
 * row's column extra_col (an integer) is stored there. On success *out is
 * the caller's (sitq_result_free); on failure it is NULL. Errors:
 * SITQ_ENOTFOUND (no row), SITQ_ENOMEM, and pg_run's. */
sitq_code pg_read_task(pg_conn *c, pg_stmt_id stmt, const pg_params *p, const char *queue,
                       sitq_task_id id, int extra_col, int64_t *extra, sitq_result **out,
                       sitq_error *err);
/* Fill t's depends_on and finalizer from its edges, on connection c. */
sitq_code pg_read_deps(pg_conn *c, sitq_result *t, sitq_error *err);
sitq_code pg_cancel(sitq_backend *b, const char *queue, sitq_task_id id, sitq_status *out,
                    size_t *n_finished, sitq_error *err);
sitq_code pg_retry(sitq_backend *b, const char *queue, sitq_task_id id, sitq_error *err);
sitq_code pg_dep_count(sitq_backend *b, const char *queue, sitq_task_id id, size_t *count,
                       sitq_error *err);
sitq_code pg_dep_result(sitq_backend *b, const char *queue, sitq_task_id id, size_t index,
                        sitq_result **out, sitq_error *err);
/* Retention (pg_retention.c). pg_retention_schema adds its table and
 * column to a schema that lacks them (a read first; a write transaction
 * under the schema's lock only then, when create_schema allows it). */
sitq_code pg_retention_schema(pg_backend *b, sitq_error *err);
sitq_code pg_retention_set(sitq_backend *b, const char *queue, const int64_t *succeeded_us,
                           const int64_t *failed_us, sitq_error *err);
sitq_code pg_retention_get(sitq_backend *b, const char *queue, int64_t *succeeded_us,
                           int64_t *failed_us, int *found, sitq_error *err);
sitq_code pg_expire(sitq_backend *b, sitq__expire *x, sitq_error *err);
/* Delete the finished tasks of ids, which the caller's transaction holds
 * locked FOR UPDATE, with their edges and counts, except those that an
 * unfinished task depends on: read again here, by a statement whose
 * snapshot follows the locks, so that a dependent committed while they
 * were awaited is seen (none can come after: enqueue and retry lock the
 * dependencies they read). Used by purge and retention. *purged: tasks
 * deleted. Errors: SITQ_ENOMEM, those of the statements (pg_fail). */
sitq_code pg_delete_finished(pg_conn *c, pg_array *ids, int64_t *purged, sitq_error *err);
sitq_code pg_retained(sitq_backend *b, const char *queue, sitq_task_id *oldest_id,
                      sitq_time_us *finished_us, sitq_error *err);

/* Limits (pg_limits.c): the table, added at open when missing; the ops
 * limit_write and limit_list. */
extern const char *const pg_limits_sql;
sitq_code pg_limits_schema(pg_backend *b, sitq_error *err);
sitq_code pg_limit_write(sitq_backend *b, const char *queue, const sitq__limit_write *w,
                         sitq_error *err);
sitq_code pg_limit_list(sitq_backend *b, const char *queue, sitq_limit **out, size_t *count,
                        sitq_error *err);
/* names[0..n) as a text[] literal (malloc'd; NULL when out of memory). */
char *pg_text_array_literal(const char *const *names, size_t n);

/* What a claim of one queue needs besides the cycle (sitq__claim_rounds). */
typedef struct pg_claim_arg {
    pg_backend *b;
    pg_conn *c;
    int64_t token;
    sitq_time_us db_until, now;
    const char *names[2]; /* text[] literals of the handler names */
    int64_t owner;        /* the worker's owner key */
    sitq_time_us db_now;  /* the server's clock (rates are kept on it) */
    sitq_time_us wake_us; /* out: server clock; when a blocked claim may succeed */
} pg_claim_arg;
/* Read the RETURNING rows of a claim into cy->claimed (pg_cycle.c). */
sitq_code pg_read_claimed(const PGresult *r, sitq__cycle *cy, int64_t token,
                          sitq_time_us lease_until, sitq_error *err);
/* After the plain claim of queue qi took fewer than asked: when the queue
 * has limits, claim up to limit under them (pg_limit_claim.c). */
sitq_code pg_claim_limited(pg_claim_arg *a, sitq__cycle *cy, size_t qi, size_t limit,
                           sitq_error *err);
sitq_code pg_purge(sitq_backend *b, const char *queue, sitq_time_us before_us, int64_t *purged,
                   sitq_error *err);
sitq_code pg_cycle(sitq_backend *b, sitq__cycle *c, sitq_error *err);
sitq_code pg_claim_id(sitq_backend *b, sitq_task_id id, sitq__cycle *c, sitq_result **snapshot,
                      sitq_error *err);

/* Record a terminal failure or cancel of task id and fail its waiting
 * dependents transitively (pg_deps.c). */
sitq_code pg_finish_failed(pg_conn *c, sitq_task_id id, int state, const char *error,
                           const char *traceback, sitq_time_us now, size_t *n_finished,
                           sitq_error *err);
/* Release the dependents of the tasks that just succeeded (pg_deps.c);
 * *n_changed increased by the dependents updated. */
sitq_code pg_resolve_dependents(pg_conn *c, const sitq_task_id *ids, size_t n, sitq_time_us now,
                                size_t *n_changed, sitq_error *err);

/* ---- periodic schedules (pg_schedules.c) ---- */
/* The schedules table, made at open when missing and create_schema is on. */
sitq_code pg_schedules_ensure(pg_backend *b, sitq_error *err);
sitq_code pg_schedule_add(sitq_backend *b, const sitq_schedule *s, const void *payload,
                          size_t payload_len, sitq_error *err);
sitq_code pg_schedule_list(sitq_backend *b, const char *queue, sitq_schedule ***items,
                           size_t *count, sitq_error *err);
sitq_code pg_schedule_set(sitq_backend *b, const char *queue, const char *name, int what,
                          sitq_time_us next_us, sitq_error *err);
sitq_code pg_schedule_fire(sitq_backend *b, sitq__schedule_fire *f, sitq_error *err);
#endif
