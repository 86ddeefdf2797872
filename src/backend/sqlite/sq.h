/* sq.h - internals of the SQLite backend, shared by its files. */
#ifndef SITQ_SQ_H
#define SITQ_SQ_H

#include "backend/backend.h"
#include "core/internal.h"
#include "core/lifecycle.h"

#include <pthread.h>
#include <sqlite3.h>

/* Stored states are sitq__state (core/lifecycle.h), and so are the queue's
 * rules: this backend reads the facts a decision needs inside its write
 * transaction, calls the decision and applies the verdict with guarded
 * statements. SQL spells some states as literal numbers, because SQLite uses
 * a partial index only for a query that repeats the index's condition; the
 * literals are checked against sitq__state at compile time (sqlite_sql.c). */

/* The condition "the task holds its unique key", in the stored states of
 * sitq__state_holds_unique_key (queued, waiting, running). Spelled in the
 * unique index's condition and in the query that must use that index;
 * test_lifecycle checks it against the core. */
#define SQ_SQL_HOLDS_UNIQUE_KEY "state IN (0, 1, 3)"

/* Payloads and results up to this size are stored inline, at the end of the
 * task's row; larger ones in sitq_payloads / sitq_results, so that state
 * transitions never read or rewrite them. */
#define SQ_INLINE_MAX 1024
/* Log size past which a commit waits for readers and restarts the log
 * (sqlite_wal.c). */
#define SQ_WAL_RESTART_BYTES (16 << 20)

/* Largest payload, and payload + result, of one task (the backend's
 * blob_max): SQLite stores a task in one row of at most 1e9 bytes (its
 * default SQLITE_MAX_LENGTH); 1 MB of that is kept for the other columns. */
#define SQ_BLOB_MAX 999000000u

struct sq_backend;

/* The claim's JSON arrays of function names and prefixes, built from a
 * cycle's arrays (sqlite_names.c). */
typedef struct sq_names_json {
    char *functions; /* malloc'd JSON array text */
    char *prefixes;
} sq_names_json;
/* Build (or reuse, when b's cached lists equal c's arrays) the JSON text of
 * c's function names and prefixes; caller holds the writer lock (the cache
 * lives under it). Returns NULL when out of memory (err set). The pointers
 * stay valid until the next call or sq_names_free. */
const sq_names_json *sq_names_for(struct sq_backend *b, const sitq__cycle *c, sitq_error *err);
void sq_names_free(struct sq_backend *b);

/* Prepared statements, prepared once per connection and reused. */
typedef enum sq_stmt_id {
    ST_BEGIN_IMMEDIATE,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE_SAVEPOINT,
    ST_ROLLBACK_SAVEPOINT,
    ST_INSERT_TASK,
    ST_INSERT_PAYLOAD,
    ST_NEXT_ID,
    ST_SET_ID_FLOOR,
    ST_INSERT_DEP,
    ST_DEP_STATE,
    ST_UNIQUE_FIND,
    ST_GET,
    ST_GET_PREFIX,
    ST_GET_DEPS,
    ST_PAYLOAD,
    ST_TASK_STATE,
    ST_CLAIM,
    ST_CLAIM_ID,
    ST_LIVE,
    ST_START,
    ST_SUCCEED,
    ST_OWNED,
    ST_INSERT_RESULT,
    ST_DELETE_RESULT,
    ST_RESOLVE,
    ST_FAIL_INFO,
    ST_REQUEUE,
    ST_FINISH,
    ST_PROPAGATE,
    ST_RELEASE_FINALIZERS,
    ST_DEP_COUNT,
    ST_DEP_RESULT,
    ST_DEP_RESULTS,
    ST_DEP_VALUES,
    ST_RETRY_WALK,
    ST_RETRY_REARM,
    ST_HEARTBEAT,
    ST_RELEASE,
    ST_REAP_SELECT,
    ST_REQUEUE_LOST,
    ST_SET_CANCEL_FLAG,
    ST_RETRY_DEPS,
    ST_RETRY_SET,
    ST_STATS,
    ST_STATS_BOUNDED,
    ST_OLDEST_READY,
    ST_COUNT_TOTALS,
    ST_COUNT_PURGED,
    ST_TOTALS,
    ST_COUNTERS,
    ST_ID_RANGE,
    ST_ID_AFTER,
    ST_PURGE_DEPS,
    ST_PURGE_DEP_EDGES,
    ST_PURGE_PAYLOADS,
    ST_PURGE_RESULTS,
    ST_PURGE_SUCCEEDED,
    ST_PURGE_DEAD,
    ST_QUEUES,
    ST_TASK_QUEUE,
    ST_DEPENDENTS,
    ST_CLAIM_LIMITED,
    ST_LIMITS_READ,
    ST_LIMIT_RUNNING_QUEUE,
    ST_LIMIT_RUNNING_FUNCTION,
    ST_LIMIT_RATE_SET,
    ST_LIMIT_PAUSE,
    ST_LIMIT_SET,
    ST_LIMIT_PRUNE,
    ST_LIMIT_CLEAR,
    ST_COUNT
} sq_stmt_id;

/* SQL text of each statement (sqlite_sql.c). */
extern const char *const sq_sql[ST_COUNT];
/* The start of a list's SELECT (sqlite_list.c adds WHERE, ORDER and LIMIT):
 * the columns of sq_row_to_result without value and traceback, then the
 * value's length (read from the record header, not the value). */
extern const char sq_list_select[];

typedef struct sq_conn {
    sqlite3 *db;
    const char *path; /* the backend's database path, named in every error */
    sqlite3_stmt *st[ST_COUNT];
    int busy_timeout_ms;
    int64_t busy_start_us;
    int full_at_commit;         /* the last sq_write_end's COMMIT failed: the disk is full */
    const char *refuse_results; /* set: results stored apart (large) are refused, with
                                   this reason (sq_cycle, after a full disk) */
} sq_conn;

typedef struct sq_backend {
    sitq_backend head;
    char *path;
    sitq_sqlite_options opts;
    pthread_mutex_t write_mu; /* serialises this process's writers (lesson 2) */
    sq_conn writer;
    pthread_mutex_t read_mu;
    pthread_cond_t read_cv;
    /* Group commit of enqueues: callers that arrive while a transaction is
     * being written are committed together by the next leader. */
    pthread_mutex_t gc_mu;
    pthread_cond_t gc_cv;
    struct sq_enqueue_op *gc_head, *gc_tail;
    int gc_leader;
    sq_conn *readers;
    int *reader_busy;
    int n_readers;
    /* WAL bound (sqlite_wal.c), under write_mu: the hook runs in commits. */
    int page_size;
    int wal_next_pages;           /* log size at which the next checkpoint runs */
    int wal_seen_pages;           /* log size at this process's last commit */
    int64_t wal_backoff_us;       /* pause after the last RESTART that gave up, 0 = none */
    int64_t wal_restart_after_us; /* monotonic time before which no RESTART is tried */
    int wal_big_commit;           /* the commit being written holds at least
                                     SQ_WAL_RESTART_BYTES of payloads; reset
                                     by sq_write_end */
    int file_kind;                /* sq_file_kind, found by sq_file_check */
    int file_rc;                  /* SQLite's code when sq_file_check could not read the file */
    char *uri; /* set: open this URI instead of path (a read-only immutable file) */
    /* The last handler lists a claim used, with their JSON text (under
     * write_mu; sqlite_names.c). */
    char **names_cached; /* functions then prefixes, copies */
    size_t n_fn_cached, n_px_cached;
    sq_names_json names_json;
    int workers_ready; /* under write_mu: sitq_workers exists (sqlite_workers.c) */
} sq_backend;

/* What sq_file_check found in the file before anything changed it. */
typedef enum sq_file_kind { SQ_FILE_EMPTY = 0, SQ_FILE_SITQ = 1, SQ_FILE_FOREIGN = 2 } sq_file_kind;

/* Reset and return the prepared statement id of conn (preparing it on first
 * use), or NULL with err filled. */
sqlite3_stmt *sq_stmt(sq_conn *c, sq_stmt_id id, sitq_error *err);

/* Map a SQLite failure to SITQ_ESTORAGE with the path and SQLite's message
 * (SITQ_EBUSY, via sq_fail_busy, when another process held the lock). */
sitq_code sq_fail(sq_conn *c, sitq_error *err, const char *what);
/* SITQ_EBUSY: the busy timeout ran out while doing `what`. */
sitq_code sq_fail_busy(sq_conn *c, sitq_error *err, const char *what);

/* Write transaction: lock the writer, BEGIN IMMEDIATE (waiting out other
 * processes). sq_write_end commits when rc == SITQ_OK, otherwise rolls back;
 * it always unlocks and returns the final code. */
sitq_code sq_write_begin(sq_backend *b, sitq_error *err);
sitq_code sq_write_end(sq_backend *b, sitq_code rc, sitq_error *err);

/* Borrow a connection for reading (a reader, or the writer when there are
 * none), and give it back. */
sq_conn *sq_read_acquire(sq_backend *b);
void sq_read_release(sq_backend *b, sq_conn *c);

/* Step a statement that returns no rows; SITQ_OK or SITQ_ESTORAGE. */
sitq_code sq_exec(sq_conn *c, sqlite3_stmt *st, sitq_error *err, const char *what);

/* Bind text/blob without copying: the caller keeps them alive until reset. */
void sq_bind_text(sqlite3_stmt *st, int i, const char *s);
/* sq_bind_blob returns SQLite's code (SQLITE_TOOBIG past the blob limit). */
int sq_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n);

/* Column helpers returning malloc'd copies (NULL for SQL NULL). */
char *sq_col_text(sqlite3_stmt *st, int i);
void *sq_col_blob(sqlite3_stmt *st, int i, size_t *len);

/* Dependency resolution inside a write transaction (sqlite_deps.c). */
/* ids_json: a JSON array of the ids of tasks that just succeeded. */
sitq_code sq_resolve_dependents(sq_conn *c, const char *ids_json, sitq_time_us now,
                                sitq_error *err);
sitq_code sq_fail_dependents(sq_conn *c, sitq_task_id id, int cancelled, sitq_time_us now,
                             size_t *n_failed, sitq_error *err);

/* Move task id from stored state `from` (when running: under lease_token)
 * to the terminal state (SITQ__FAILED or SITQ__CANCELLED) with error and
 * traceback (borrowed), and fail its waiting dependents transitively. A task
 * no longer in `from` (or whose lease changed) is left alone: nothing is
 * written or counted. n_finished (may be NULL) grows by the tasks finished. */
sitq_code sq_finish_failed(sq_conn *c, sitq_task_id id, int from, int64_t lease_token, int state,
                           const char *error, const char *traceback, sitq_time_us now,
                           size_t *n_finished, sitq_error *err);

/* The monotonic counters (sqlite_totals.c), inside a write transaction: add
 * what one commit adds to a queue (nothing when t adds nothing). */
sitq_code sq_count_totals(sq_conn *c, const char *queue, const sitq__tally *t, sitq_error *err);

/* The operations of the backend vtable, per file. */
sitq_code sq_enqueue(sitq_backend *b, const char *queue, const sitq_task_spec *specs, size_t n,
                     sitq_task_id *ids, sitq_error *err);
sitq_code sq_get(sitq_backend *b, const char *queue, sitq_task_id id, sitq_result **out,
                 sitq_error *err);
/* sqlite_prefix.c: the get_prefix op. */
sitq_code sq_get_prefix(sitq_backend *b, const char *queue, sitq_task_id id, size_t value_max,
                        sitq_result **out, size_t *value_size, sitq_error *err);
sitq_code sq_get_conn(sq_conn *c, const char *queue, sitq_task_id id, sitq_result **out,
                      sitq_error *err);
sitq_code sq_payload(sitq_backend *b, const char *queue, sitq_task_id id, void **out, size_t *len,
                     sitq_error *err);
sitq_code sq_counters(sitq_backend *b, const char *queue, sitq_totals *out, sitq_error *err);
sitq_code sq_stats(sitq_backend *b, const char *queue, sitq_stats *out, sitq_error *err);
sitq_code sq_stats_bounded(sitq_backend *b, const char *queue, int64_t cap, sitq_stats *out,
                           sitq_error *err);
sitq_code sq_totals(sitq_backend *b, const char *queue, sitq_totals *out, sitq_error *err);
sitq_code sq_health(sitq_backend *b, sitq_store_health *out, sitq_error *err);
sitq_code sq_oldest_ready(sitq_backend *b, const char *queue, sitq_time_us *run_at_us,
                          sitq_error *err);
sitq_code sq_list(sitq_backend *b, const sitq_list_filter *f, sitq_result ***items, size_t *count,
                  sitq_error *err);
sitq_code sq_count(sitq_backend *b, const sitq_list_filter *f, int64_t cap, int64_t *count,
                   sitq_error *err);
/* A result from a row of the columns of sq_sql's reads (sqlite_read.c);
 * NULL when out of memory. now: the clock that tells queued from scheduled. */
sitq_result *sq_row_to_result(sqlite3_stmt *st, sitq_time_us now);
/* Fill r's depends_on and finalizer from its edges, on connection c. */
sitq_code sq_read_deps(sq_conn *c, sitq_result *r, sitq_error *err);
sitq_code sq_cancel(sitq_backend *b, const char *queue, sitq_task_id id, sitq_status *out,
                    size_t *n_finished, sitq_error *err);
sitq_code sq_retry(sitq_backend *b, const char *queue, sitq_task_id id, sitq_error *err);
/* Retention (sqlite_retention.c). sq_retention_schema adds its table and
 * column to a file opened for writing that lacks them (a read first, a
 * write transaction only then); sq_retention_schema_txn does it inside the
 * schema's write transaction. */
sitq_code sq_retention_schema(sq_backend *b, sitq_error *err);
sitq_code sq_retention_schema_txn(sq_backend *b, sitq_error *err);
sitq_code sq_retention_set(sitq_backend *b, const char *queue, const int64_t *succeeded_us,
                           const int64_t *failed_us, sitq_error *err);
sitq_code sq_retention_get(sitq_backend *b, const char *queue, int64_t *succeeded_us,
                           int64_t *failed_us, int *found, sitq_error *err);
sitq_code sq_expire(sitq_backend *b, sitq__expire *x, sitq_error *err);
sitq_code sq_retained(sitq_backend *b, const char *queue, sitq_task_id *oldest_id,
                      sitq_time_us *finished_us, sitq_error *err);
sitq_code sq_purge(sitq_backend *b, const char *queue, sitq_time_us before_us, int64_t *purged,
                   sitq_error *err);
sitq_code sq_cycle(sitq_backend *b, sitq__cycle *c, sitq_error *err);
sitq_code sq_claim_id(sitq_backend *b, sitq_task_id id, sitq__cycle *c, sitq_result **snapshot,
                      sitq_error *err);
sitq_code sq_queues(sitq_backend *b, char ***names, size_t *count, sitq_error *err);
sitq_code sq_task_queue(sitq_backend *b, sitq_task_id id, char **queue, sitq_error *err);
sitq_code sq_dependents(sitq_backend *b, sitq_task_id id, size_t limit, sitq_task_id **ids,
                        size_t *count, sitq_error *err);
/* Reads of many tasks by id (sqlite_many.c). */
sitq_code sq_get_many(sitq_backend *b, const sitq_task_id *ids, size_t n, sitq_result ***items,
                      size_t *count, sitq_error *err);
sitq_code sq_dependents_many(sitq_backend *b, const sitq_task_id *ids, size_t n, size_t limit,
                             sitq_task_id **pairs, size_t *count, sitq_error *err);
sitq_code sq_dep_count(sitq_backend *b, const char *queue, sitq_task_id id, size_t *count,
                       sitq_error *err);
sitq_code sq_dep_results(sitq_backend *b, const char *queue, sitq_task_id id, size_t first,
                         size_t n, sitq_result **out, sitq_error *err);
sitq_code sq_dep_values(sitq_backend *b, const char *queue, sitq_task_id id, size_t first, size_t n,
                        sitq_dependency_value *out, sitq_error *err);
sitq_code sq_dep_result(sitq_backend *b, const char *queue, sitq_task_id id, size_t index,
                        sitq_result **out, sitq_error *err);

/* The registry of workers (sqlite_workers.c). */
/* Create sitq_workers if missing, on c inside a write transaction. */
sitq_code sq_workers_schema(sq_conn *c, sitq_error *err);
/* Inside the cycle's write transaction: write cy->record as the row of
 * cy->worker_id (lease from cy->db_now_us), and delete rows a day old. */
sitq_code sq_workers_record(sq_backend *b, const sitq__cycle *cy, sitq_error *err);
/* The workers op (backend.h). */
sitq_code sq_workers(sitq_backend *b, int include_stopped, sitq_worker_info **out, size_t *count,
                     sitq_error *err);
/* Limits (sqlite_limits.c): the table, created on open when missing; the
 * ops limit_write and limit_list. */
sitq_code sq_limits_schema(sq_backend *b, sitq_error *err);
sitq_code sq_limit_write(sitq_backend *b, const char *queue, const sitq__limit_write *w,
                         sitq_error *err);
sitq_code sq_limit_list(sitq_backend *b, const char *queue, sitq_limit **out, size_t *count,
                        sitq_error *err);

/* What a claim of one queue needs besides the cycle (sitq__claim_rounds). */
typedef struct sq_claim_arg {
    sq_conn *c;
    const sq_names_json *names;
    int64_t token;
    sitq_time_us now, lease_until;
    sitq_time_us wake_us; /* out: when a claim blocked by a limit may succeed (0: none) */
} sq_claim_arg;

/* Read the RETURNING rows of a claim into cy->claimed (sqlite_cycle.c). */
sitq_code sq_read_claimed(sq_conn *c, sqlite3_stmt *st, sitq__cycle *cy, int64_t token,
                          sitq_time_us lease_until, sitq_error *err);
/* Bind a claim's ?1..?4 (token, lease end, worker, now). */
void sq_bind_claim(sqlite3_stmt *st, int64_t token, sitq_time_us lease_until, const char *worker,
                   sitq_time_us now);
/* After the plain claim of queue qi took fewer than asked: when the queue
 * has limits (the plain claim took nothing then), claim up to limit under
 * them (sqlite_limit_claim.c). */
sitq_code sq_claim_limited(sq_claim_arg *a, sitq__cycle *cy, size_t qi, size_t limit,
                           sitq_error *err);

/* Keep the WAL bounded under any load: install the checkpoint hook on the
 * writer connection (sqlite_wal.c). */
void sq_wal_bound(sq_backend *b);

/* Schema creation and version check (sqlite_schema.c). */
sitq_code sq_schema_init(sq_backend *b, sitq_error *err);
/* The schema version this sitq reads and writes (sqlite_schema.c). */
const char *sq_schema_version(void);

/* The database file at open (sqlite_file.c). */
/* Check that the file can be opened (it must exist unless opts.create and
 * not opts.read_only) and create a missing one with opts.file_mode. */
sitq_code sq_file_prepare(sq_backend *b, sitq_error *err);
/* Read, on connection c, whether the file is empty, sitq's or another
 * application's (b->file_kind), and refuse what the options do not allow:
 * SITQ_ESCHEMA for a foreign file (unless allow_foreign) or, when only
 * opening, a file that is not sitq's. Changes nothing. */
sitq_code sq_file_check(sq_backend *b, sq_conn *c, sitq_error *err);
/* Set the journal mode of opts.enable_wal on c, only if the file's differs. */
sitq_code sq_file_journal_mode(sq_backend *b, sq_conn *c, sitq_error *err);
/* After sq_file_check failed on a read-only backend because SQLite cannot
 * make the WAL index in a read-only place: when no -wal file exists, set
 * b->uri to open the file as immutable and return 1; otherwise 0. */
int sq_file_try_immutable(sq_backend *b);
/* Open-time schema step: check the version of a sitq file with reads only;
 * create the schema (sq_schema_init) in an empty or allowed foreign file, or
 * when the version differs (sqlite_file.c). */
sitq_code sq_schema_open(sq_backend *b, sitq_error *err);

/* Run a PRAGMA, retrying while the database is busy (sqlite_backend.c). */
sitq_code sq_conn_pragma(sq_conn *c, const char *sql, sitq_error *err);

/* Periodic schedules (sqlite_schedules.c): the table, made at open when
 * missing (not on a read-only file), and the schedule ops of backend.h. */
sitq_code sq_schedules_ensure(sq_backend *b, sitq_error *err);
sitq_code sq_schedule_add(sitq_backend *b, const sitq_schedule *s, const void *payload,
                          size_t payload_len, sitq_error *err);
sitq_code sq_schedule_list(sitq_backend *b, const char *queue, sitq_schedule ***items,
                           size_t *count, sitq_error *err);
sitq_code sq_schedule_set(sitq_backend *b, const char *queue, const char *name, int what,
                          sitq_time_us next_us, sitq_error *err);
sitq_code sq_schedule_fire(sitq_backend *b, sitq__schedule_fire *f, sitq_error *err);
/* Enqueue one task inside the caller's write transaction on c (the
 * writer): *id its new id. Errors as the enqueue op. */
sitq_code sq_enqueue_in_txn(sq_conn *c, const char *queue, const sitq_task_spec *s,
                            sitq_task_id *id, sitq_error *err);

#endif
