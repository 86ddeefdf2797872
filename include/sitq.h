/*
 * sitq.h - public C11 API of libsitq, a durable task queue.
 *
 * Concepts (the terms of Celery, RQ, Huey, River and beanstalkd):
 *   backend  - where tasks are stored (SQLite file or PostgreSQL schema).
 *   queue    - a named stream of tasks inside one backend ("default").
 *   task     - a function name, an opaque payload and options; identified by a
 *              64-bit id that is never reused.
 *   worker   - a pool of threads that claims ready tasks, runs the handler
 *              registered for the task's function, and records the result.
 *   lease    - a claimed task is held for a limited time, renewed by the
 *              worker's heartbeat; a task whose lease lapses (the worker died)
 *              is claimed again by another worker, at its place in the queue.
 *   attempt  - one run of a task's handler. An attempt counts from its start
 *              (recorded once it has run 20 ms, or with its outcome), not
 *              from the claim: a task a worker claimed ahead but never started
 *              is handed out again without spending an attempt when that
 *              worker dies.
 *
 * Delivery guarantee: AT-LEAST-ONCE. A task whose worker crashes, hangs past
 * its lease or loses its database connection is run again. Handlers must be
 * idempotent or tolerate a repeat. Without crashes each task runs once.
 *
 * Errors: every fallible call returns a sitq_code and, when the caller passes
 * a non-NULL sitq_error, fills it with the same code and a readable message
 * that names the offending argument. No call aborts or exits on bad input.
 *
 * Times: stored and reported as microseconds since the Unix epoch, UTC
 * (sitq_time_us). Durations in the API are seconds as double unless the name
 * ends in _us (microseconds) or _ms (milliseconds).
 *
 * Thread-safety: a sitq_backend, the sitq_queue handles made from it and
 * sitq_worker objects may be used from any number of threads at once, except
 * that *_close / *_free must not race with other calls on the same object.
 * Several processes may open the same SQLite file at once.
 */
#ifndef SITQ_H
#define SITQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SITQ_VERSION ("MAJOR.MINOR.PATCH") and SITQ_VERSION_MAJOR/_MINOR/_PATCH. */
#include "sitq_version.h"

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/**
 * The table of error codes: X(NAME, value, message) for each code but
 * SITQ_OK, in the order of their values. Everything that names or describes
 * a code is generated from it (the sitq_code enum, sitq_code_name,
 * sitq_strerror, the Python binding's exception lookup), so none can miss a
 * code. The values are stable (stored in logs, exit paths, bindings).
 *
 * SITQ_EBUSY: another process held a lock on the database for longer than
 * busy_timeout_ms (a stopped or hung process that holds SQLite's single write
 * lock blocks every writer); may be returned wherever SITQ_ESTORAGE is;
 * nothing was written.
 */
#define SITQ_ERRNO_MAP(X)                                                                          \
    X(EINVAL, 1, "invalid argument")                                                               \
    X(ENOMEM, 2, "out of memory")                                                                  \
    X(ENOTFOUND, 3, "no such task")                                                                \
    X(ESTATE, 4, "not allowed in the task's current status")                                       \
    X(ETIMEDOUT, 5, "the wait ended before the task finished")                                     \
    X(EDEPENDENCY, 6, "unknown dependency id, or a dependency cycle")                              \
    X(ENOTREADY, 7, "the task is not ready to run")                                                \
    X(ELEASE, 8, "the lease was lost; the completion was dropped")                                 \
    X(ESTORAGE, 9, "the database failed (I/O, corrupt file, full disk)")                           \
    X(ESCHEMA, 10, "the database was made by an incompatible sitq")                                \
    X(ENOHANDLER, 11, "no handler registered for the task's function")                             \
    X(ESYSTEM, 12, "an operating-system call failed (threads, clock, fork)")                       \
    X(EBUSY, 13, "another process held a lock on the database for too long")

/** Status codes returned by every fallible sitq call (SITQ_ERRNO_MAP). */
typedef enum sitq_code {
    SITQ_OK = 0,
#define SITQ__CODE_ENUM(name, value, message) SITQ_##name = (value),
    SITQ_ERRNO_MAP(SITQ__CODE_ENUM)
#undef SITQ__CODE_ENUM
} sitq_code;

/** Size of sitq_error.message in bytes, including the terminating NUL. */
#define SITQ_ERROR_MESSAGE_SIZE 512

/**
 * Error details. Caller-owned (usually on the stack); sitq writes into it.
 * Pass NULL wherever a sitq_error* is taken to ignore details.
 */
typedef struct sitq_error {
    sitq_code code;                        /**< same as the returned code */
    char message[SITQ_ERROR_MESSAGE_SIZE]; /**< NUL-terminated, English */
} sitq_error;

/**
 * Short constant name of a code, e.g. "SITQ_EINVAL"; "SITQ_UNKNOWN" for a
 * value outside the enum. The string is static; thread-safe.
 */
const char *sitq_code_name(sitq_code code);

/**
 * One-line English description of a code from SITQ_ERRNO_MAP ("success" for
 * SITQ_OK, "unknown error" for a value outside the enum). The string is
 * static; thread-safe. sitq_error.message says more about a given failure.
 */
const char *sitq_strerror(sitq_code code);

/* ------------------------------------------------------------------ */
/* Time                                                                */
/* ------------------------------------------------------------------ */

/** Microseconds since 1970-01-01T00:00:00Z. */
typedef int64_t sitq_time_us;

/** Current wall-clock time in microseconds since the epoch, UTC. Thread-safe. */
sitq_time_us sitq_now_us(void);

/* ------------------------------------------------------------------ */
/* Task status                                                         */
/* ------------------------------------------------------------------ */

/** Status of a task. Values are stable (they are stored). */
typedef enum sitq_status {
    SITQ_QUEUED = 0,    /**< ready to run */
    SITQ_WAITING = 1,   /**< waiting for its dependencies to succeed */
    SITQ_SCHEDULED = 2, /**< ETA (or retry backoff) still in the future */
    SITQ_RUNNING = 3,   /**< claimed by a worker holding a lease */
    SITQ_SUCCEEDED = 4, /**< terminal: the handler succeeded */
    SITQ_FAILED = 5,    /**< terminal: retries exhausted, dependency failed, worker lost */
    SITQ_CANCELLED = 6  /**< terminal: cancelled */
} sitq_status;

/** Number of sitq_status values (for arrays indexed by status). */
#define SITQ_STATUS_COUNT 7
/** Filter value meaning "any status" in sitq_list. */
#define SITQ_STATUS_ANY (-1)

/** Lower-case name ("queued", ...; "unknown" otherwise). Static string; thread-safe. */
const char *sitq_status_name(int status);

/**
 * Parse a status name as returned by sitq_status_name (case-insensitive).
 * Returns the status, or -1 when the name is unknown or NULL. Thread-safe.
 */
int sitq_status_parse(const char *name);

/** 1 when status is succeeded, failed or cancelled, else 0. */
int sitq_status_is_terminal(int status);

/* ------------------------------------------------------------------ */
/* Backend                                                             */
/* ------------------------------------------------------------------ */

typedef struct sitq_backend sitq_backend;

/** SQLite synchronous mode (PRAGMA synchronous). */
typedef enum sitq_sync_mode {
    SITQ_SYNC_OFF = 0,
    SITQ_SYNC_NORMAL = 1, /**< default: durable against process crashes; with
                               WAL, an OS crash can lose the last commits */
    SITQ_SYNC_FULL = 2,   /**< fsync on every commit */
    SITQ_SYNC_EXTRA = 3
} sitq_sync_mode;

/** Options of the SQLite backend. Initialise with sitq_sqlite_options_init. */
typedef struct sitq_sqlite_options {
    int enable_wal;             /**< 1 (default): journal_mode=WAL; 0: rollback journal.
                                     The mode is changed only when it differs
                                     (changing it takes the write lock) */
    sitq_sync_mode synchronous; /**< default SITQ_SYNC_NORMAL */
    int busy_timeout_ms;        /**< how long to wait for a lock another process
                                     holds before SITQ_EBUSY, milliseconds;
                                     default 30000 */
    int reader_connections;     /**< read-only connections for status, lists and
                                     waits; default 4, 0..64 (0: reads share the
                                     writer connection). Ignored for :memory: */
    int create;                 /**< 1 (default): create the file and the sitq schema
                                     when missing; 0: open only an existing sitq
                                     database and change nothing in any other file
                                     (SITQ_ESTORAGE when it does not exist,
                                     SITQ_ESCHEMA when it holds no sitq tables), for
                                     tools that inspect */
    int read_only;              /**< 0 (default); 1: open an existing sitq database
                                     for reading only (implies create = 0): works
                                     on a read-only file, directory or mount and
                                     never takes the write lock; every write
                                     fails with SITQ_ESTORAGE */
    int allow_foreign;          /**< 0 (default): refuse (SITQ_ESCHEMA, file left
                                     unchanged) a database that holds tables of
                                     another application; the sitq schema is
                                     created only in a new or empty file. 1: add
                                     the sitq tables to such a file (and set its
                                     journal mode as enable_wal says) */
    int file_mode;              /**< permission bits of a database file this open
                                     creates, 01..0777; default 0600 (owner only:
                                     payloads and results are private). 0: as
                                     other files of the process (0666 minus the
                                     umask). SQLite gives the -wal and -shm files
                                     the database file's mode */
} sitq_sqlite_options;

/** Fill opts with the defaults listed in sitq_sqlite_options. Thread-safe. */
void sitq_sqlite_options_init(sitq_sqlite_options *opts);

/**
 * Open (creating if needed) a SQLite database file as a backend.
 *
 * Opening an existing sitq database of this version only reads it: no schema
 * write, no journal-mode change when it already has the wanted one, so an
 * open succeeds while another process holds (or is stalled holding) the
 * write lock. The schema is created only in a new or empty file (or any file
 * with allow_foreign = 1); another application's database is refused before
 * anything in it changes. A file this call creates gets options.file_mode.
 *
 * path: file name (copied; the caller keeps ownership) or ":memory:" for a
 *       private in-memory database usable only within this backend object.
 *       Always a file name, never an SQLite URI: "file:x.db?mode=memory"
 *       is the file of that name in the working directory.
 * opts: NULL for defaults; read during the call only.
 * out:  receives the backend; free with sitq_backend_close.
 *
 * Writes within a process are serialised on one writer connection; other
 * processes on the same file are waited for (never "database is locked")
 * up to busy_timeout_ms.
 *
 * Errors (every message names the file): SITQ_EINVAL (NULL/empty path, out
 * NULL, option out of range), SITQ_ESTORAGE (cannot open, read or initialise
 * the file; not a SQLite database), SITQ_EBUSY (creating the schema or
 * changing the journal mode waited busy_timeout_ms for another process's
 * lock), SITQ_ESCHEMA (file holds a schema of another sitq version; with
 * create = 0 or read_only = 1, no sitq schema; without allow_foreign, tables
 * of another application), SITQ_ENOMEM, SITQ_ESYSTEM.
 */
sitq_code sitq_backend_open_sqlite(const char *path, const sitq_sqlite_options *opts,
                                   sitq_backend **out, sitq_error *err);

/** Options of the PostgreSQL backend. Initialise with sitq_postgres_options_init. */
typedef struct sitq_postgres_options {
    const char *schema;       /**< schema that holds sitq's tables; default "sitq"
                                     (copied at open). Every object sitq makes
                                     lives in it */
    int connect_timeout_s;    /**< give up connecting after this many seconds;
                                     default 10, 1..3600. Also bounds each
                                     reconnection attempt. A positive
                                     connect_timeout in the connection string
                                     wins over it (at most 3600) */
    int create_schema;        /**< 1 (default): create the schema and its tables
                                     when missing (safe when several processes
                                     open at once); 0: open only an existing sitq
                                     schema (SITQ_ESCHEMA when it is missing) */
    int reader_connections;   /**< connections for get, list, stats and payload
                                     reads; default 2, 0..64 (0: reads share the
                                     writer connection) */
    int lock_timeout_ms;      /**< a row lock another session holds (a stopped
                                     process in the middle of a transaction) is
                                     waited for this long, then the call fails
                                     with SITQ_EBUSY; default 30000, 1..3600000 */
    int statement_timeout_ms; /**< the server cancels a statement running
                                     longer (SITQ_ESTORAGE); default 0: none,
                                     0..3600000. A statement whose reply stays
                                     silent for this long (lock_timeout_ms when
                                     0) plus two keepalive_s fails with
                                     SITQ_ESTORAGE and its connection is closed:
                                     a stopped or hung server never hangs a
                                     call */
    int keepalive_s;          /**< TCP keepalives: a host or network that goes
                                     silent after connecting fails the call
                                     after about twice this many seconds (idle
                                     time before probes; probes every third of
                                     it, 3 of them; twice it is the TCP user
                                     timeout); default 30, 1..3600. Settings in
                                     conninfo win */
    int poll_only;            /**< 0 (default): waits (sitq_wait, an idle
                                     worker) wake on LISTEN/NOTIFY, on one
                                     extra connection opened by the first
                                     wait; 1: for PgBouncer in transaction
                                     mode: no LISTEN (waits poll), no
                                     prepared statements, and the session's
                                     settings set by every write transaction
                                     (SET LOCAL) instead of the connection */
} sitq_postgres_options;

/** Fill opts with the defaults listed in sitq_postgres_options. Thread-safe. */
void sitq_postgres_options_init(sitq_postgres_options *opts);

/**
 * Open a PostgreSQL database as a backend.
 *
 * conninfo: a libpq connection string, passed to libpq untouched, so libpq's
 *       environment variables (PGHOST, PGPASSWORD...), password and service
 *       files apply: "postgresql://user@127.0.0.1:5432/db" or
 *       "host=... dbname=...". Copied; the caller keeps ownership. The one
 *       exception: a "postgresql://" or "postgres://" URI may name the
 *       schema with a query parameter "sitq_schema=NAME"
 *       ("postgresql://user@host/db?sitq_schema=jobs"), which is taken out
 *       before libpq sees the URI. It must then agree with opts->schema
 *       unless that is left at its default "sitq" (SITQ_EINVAL otherwise),
 *       so that a program taking one database string can be pointed at any
 *       schema. Likewise "sitq_poll_only=1" (or 0, true, false) sets
 *       opts->poll_only to 1 (SITQ_EINVAL for another value or twice).
 * opts: NULL for defaults; read during the call only.
 * out:  receives the backend; free with sitq_backend_close.
 *
 * The backend has the SQLite backend's semantics exactly (the same statuses,
 * messages, retries, leases and dependencies); lease expiry is judged by the
 * database server's clock. Writes of this process are serialised on one
 * writer connection; a connection that is lost is reported as SITQ_ESTORAGE
 * by the call that lost it and reconnected (with backoff) by the next call.
 *
 * Errors (messages name the schema and say what PostgreSQL said, without the
 * password): SITQ_EINVAL (NULL/empty conninfo, out NULL, option out of
 * range, bad schema name, sitq_schema given twice or differing from
 * opts->schema), SITQ_ESTORAGE (server unreachable within the
 * connect timeout, authentication failed, the role may not create or write
 * the schema), SITQ_ESCHEMA (the schema is missing and create_schema = 0;
 * it holds tables that are not sitq's; it was made by another sitq
 * version), SITQ_ENOMEM, SITQ_ESYSTEM.
 */
sitq_code sitq_backend_open_postgres(const char *conninfo, const sitq_postgres_options *opts,
                                     sitq_backend **out, sitq_error *err);

/**
 * Open a backend named by one string, with default options:
 *
 * - "postgresql://..." or "postgres://...": PostgreSQL (the string goes to
 *   libpq untouched but for a "sitq_schema=NAME" query parameter, which
 *   names the schema, "sitq" by default; sitq_backend_open_postgres);
 * - "sqlite:///abs/path" or "sqlite:relative/path": SQLite on that file;
 * - anything else: a SQLite file path (or ":memory:";
 *   sitq_backend_open_sqlite).
 *
 * So a program that takes a database path accepts a PostgreSQL URI in its
 * place and behaves the same. Errors: those of the backend opened;
 * SITQ_EINVAL for a NULL or empty target or an empty sqlite: path.
 */
sitq_code sitq_backend_open(const char *target, sitq_backend **out, sitq_error *err);

/**
 * Close a backend and free it. All queues and workers made from it must have
 * been closed/freed first. NULL is a no-op. Not thread-safe with respect to
 * other calls on the same backend.
 */
void sitq_backend_close(sitq_backend *backend);

/**
 * The largest payload, and the largest payload + result of one task, in
 * bytes, that this backend can store (the SQLite backend: 999,000,000, since
 * SQLite stores a task in one row of at most 1e9 bytes and 1 MB of that is
 * kept for the other columns). Larger payloads are refused by enqueue with
 * SITQ_EINVAL, larger results by sitq_ctx_set_result. Returns 0 for NULL.
 * Thread-safe; constant for the backend's lifetime.
 */
size_t sitq_backend_blob_max(const sitq_backend *backend);

/** What an operator watches on the store behind a backend (`sitq stats`).
 * A figure the backend does not measure is -1. */
typedef struct sitq_store_health {
    /** Bytes on disk: SQLite's database file; PostgreSQL's tasks table with
     * its indexes and out-of-line values. */
    int64_t store_bytes;
    /** SQLite: the size of the -wal file. PostgreSQL: the WAL the server wrote
     * since the schema was created (or upgraded), by every database of the
     * cluster; -1 on a standby. */
    int64_t wal_bytes;
    /** PostgreSQL: wal_bytes divided by the tasks enqueued in that time (a
     * ceiling when other databases write too); -1 before the first task. */
    double wal_bytes_per_task;
    /** PostgreSQL: live and dead row versions of the tasks table, as the
     * statistics collector last counted them. Dead ones are what autovacuum
     * has not yet cleaned; many of them slow claims down. */
    int64_t live_tuples;
    int64_t dead_tuples;
    /** PostgreSQL: seconds since the oldest transaction open in the database
     * began (0 when none): while it stays open, vacuum keeps every dead row
     * version younger than it. */
    double oldest_xact_age_s;
} sitq_store_health;

/**
 * Measure the store behind backend: size, WAL, dead row versions, the
 * oldest open transaction (see sitq_store_health). Reads only; never waits
 * for writers. *out is filled on success (unmeasured fields -1) and left
 * with every field -1 on failure.
 * Errors: SITQ_EINVAL (NULL backend or out), SITQ_ESTORAGE (the store cannot
 * be read, e.g. the connection to PostgreSQL was lost). Thread-safe.
 */
sitq_code sitq_backend_health(sitq_backend *backend, sitq_store_health *out, sitq_error *err);

/** Most queues one sitq_metrics_text reports (sitq_queues counts them all). */
#define SITQ_METRICS_QUEUES_MAX 1000

/**
 * The store's metrics in the Prometheus text exposition format (version
 * 0.0.4): tasks by queue and status, succeeded tasks per queue (a stored
 * counter), the age of each queue's oldest ready task, workers of the
 * registry by state with their attempt counters, and the backend's own
 * figures (file and WAL sizes; PostgreSQL: dead row versions, the oldest
 * open transaction). docs/metrics.md lists every name and label.
 * Reads only, never walks the tasks (counts come from indexes and stored
 * counters: one index entry per task that is not succeeded), never waits
 * for writers; at most SITQ_METRICS_QUEUES_MAX queues are reported.
 * *out receives a malloc'd NUL-terminated text (free it with free()) and
 * *out_len (optional, may be NULL) its length in bytes without the NUL.
 * Errors: SITQ_EINVAL (NULL backend or out), SITQ_ESTORAGE (the store
 * cannot be read), SITQ_ENOMEM; on error *out is NULL. Thread-safe.
 */
sitq_code sitq_metrics_text(sitq_backend *backend, char **out, size_t *out_len, sitq_error *err);

/* ------------------------------------------------------------------ */
/* Queue                                                               */
/* ------------------------------------------------------------------ */

typedef struct sitq_queue sitq_queue;
typedef int64_t sitq_task_id;

/** Name used when a queue name is NULL. */
#define SITQ_DEFAULT_QUEUE "default"
/**
 * Longest queue name, function name, unique key or worker id, in bytes. Each
 * such name must also be valid UTF-8 (no overlong forms or surrogates), with
 * every backend: they are stored as text. Other bytes are refused with
 * SITQ_EINVAL, whose message names the argument. Payloads, results, errors
 * and tracebacks are bytes and take anything.
 */
#define SITQ_NAME_MAX 255
/**
 * Longest duration sitq accepts for a delay, an ETA ahead of now, a timeout
 * or a backoff, in seconds (100 years). Longer values are refused with
 * SITQ_EINVAL rather than capped, so that a typo never schedules silently.
 */
#define SITQ_SECONDS_MAX 3155760000.0
/** Range of sitq_worker_options.lease_s, seconds. */
#define SITQ_LEASE_MIN_S 0.05
#define SITQ_LEASE_MAX_S 604800.0
/** Range of sitq_worker_options.poll_interval_s, seconds (0: automatic). */
#define SITQ_POLL_MIN_S 0.0001
#define SITQ_POLL_MAX_S 3600.0
/** Largest sitq_worker_options.timeout_grace_s, seconds. */
#define SITQ_TIMEOUT_GRACE_MAX_S 3600.0
/** Largest sitq_worker_options.concurrency. */
#define SITQ_CONCURRENCY_MAX 1024
/** Most queues one worker serves (sitq_worker_create_multi). */
#define SITQ_WORKER_QUEUES_MAX 64
/** Default sitq_worker_options.burst_eta_bound_s, seconds. */
#define SITQ_BURST_ETA_BOUND_DEFAULT_S 60.0

/**
 * Open a named queue on a backend. Cheap: a queue is a name bound to a
 * backend; many handles may name the same queue.
 *
 * name: NULL for "default"; 1..SITQ_NAME_MAX bytes of valid UTF-8; copied.
 * out:  receives the handle; free with sitq_queue_close before closing the
 *       backend.
 * Errors: SITQ_EINVAL (backend or out NULL, name empty, too long or not
 * valid UTF-8), SITQ_ENOMEM.
 */
sitq_code sitq_queue_open(sitq_backend *backend, const char *name, sitq_queue **out,
                          sitq_error *err);

/** Free a queue handle (stored tasks are untouched). NULL is a no-op. */
void sitq_queue_close(sitq_queue *queue);

/** The queue's name; valid while the handle lives. */
const char *sitq_queue_name(const sitq_queue *queue);

/** The backend the queue was opened on. */
sitq_backend *sitq_queue_backend(const sitq_queue *queue);

/* ------------------------------------------------------------------ */
/* Enqueue                                                             */
/* ------------------------------------------------------------------ */

/**
 * Options of one task. Initialise with sitq_task_options_init; all pointers
 * are borrowed for the duration of the enqueue call only.
 */
typedef struct sitq_task_options {
    int32_t priority;      /**< higher runs first; FIFO within a priority; default 0 */
    sitq_time_us eta_us;   /**< run not before this absolute UTC time; 0 = no ETA;
                                    at most SITQ_SECONDS_MAX seconds from now */
    double delay_s;        /**< or: run not before now + delay_s seconds,
                                    0..SITQ_SECONDS_MAX; mutually exclusive with eta_us */
    int32_t max_retries;   /**< retries after the first attempt, 0..1000000; default 0 */
    double backoff_base_s; /**< delay before retry n is base * 2^(n-1) seconds; default 1 */
    double backoff_cap_s;  /**< upper bound of that delay, seconds; default 3600 */
    double backoff_jitter; /**< +- fraction of the delay chosen at random, 0..1; default 0.1 */
    double timeout_s;      /**< run time limit in seconds; 0 = none. Cooperative in
                                    threads (as in Celery's soft time limit): at the
                                    limit the handler's cancel flag is set and the
                                    attempt fails with a "timed out" error, followed by
                                    the handler's own message if it returns within a
                                    grace (10% of the timeout, 0.5..5 s); otherwise the
                                    failure is recorded at the grace's end and the
                                    handler's late outcome is dropped */
    const sitq_task_id *depends_on; /**< ids that must succeed (or, for a finalizer,
                                         finish) before this task runs. Their order is
                                         kept: the handler reads their results by
                                         position (sitq_ctx_dependency_result), these
                                         first, then a batch spec's depends_on_index;
                                         a repeated id counts once, at its first
                                         position */
    size_t n_depends_on;
    const char *unique_key; /**< NULL, or a key: while a task of this queue with the
                                    same key is queued, waiting, scheduled or running,
                                    enqueue returns that task's id instead (RQ/Celery
                                    "once" semantics), and the rest of this spec,
                                    its dependencies included, is not read;
                                    1..SITQ_NAME_MAX bytes of valid UTF-8 */
    int finalizer;          /**< 0 (default): the task runs once every dependency
                                    succeeded; a dependency that fails or is cancelled
                                    fails it at once ("dependency N failed"), and so
                                    its own dependents, transitively. 1: the task runs
                                    once every dependency is terminal, whatever its
                                    outcome (succeeded, failed, cancelled), and reads
                                    each one's status and error with
                                    sitq_ctx_dependency_result (a chord that sees its
                                    failures; RQ's allow_failure). Its own dependents
                                    follow its outcome. Applies to the dependencies
                                    named by depends_on and, in a batch, by
                                    depends_on_index; 1 with no dependency at all
                                    is SITQ_EINVAL */
    double keep_s;          /**< retention of this task once finished, seconds:
                                    0 (the default) follows its queue's retention
                                    (sitq_queue_set_retention); > 0 (at most
                                    SITQ_SECONDS_MAX) keeps it that long after it
                                    finished, whatever its outcome;
                                    SITQ_KEEP_FOREVER keeps it until sitq_purge or
                                    sitq_purge_expired is told otherwise (retention
                                    never deletes it) */
} sitq_task_options;

/** Fill opts with the defaults listed in sitq_task_options. Thread-safe. */
void sitq_task_options_init(sitq_task_options *opts);

/**
 * Enqueue one task and commit it before returning.
 *
 * function: handler name, 1..SITQ_NAME_MAX bytes of valid UTF-8; copied.
 * payload:  payload_len bytes, copied (payload may be NULL when payload_len is 0).
 * opts:     NULL for defaults.
 * out_id:   receives the new (or, with a live unique_key, the existing) id.
 *
 * A dependency that already succeeded is satisfied; one that already failed
 * or was cancelled makes the new task end failed at once, with an error that
 * names that dependency (no task is ever left waiting forever).
 *
 * Errors: SITQ_EINVAL (bad argument; message names it), SITQ_EDEPENDENCY
 * (a dependency id does not exist), SITQ_ESTORAGE, SITQ_ENOMEM.
 * Thread-safe.
 */
sitq_code sitq_enqueue(sitq_queue *queue, const char *function, const void *payload,
                       size_t payload_len, const sitq_task_options *opts, sitq_task_id *out_id,
                       sitq_error *err);

/** One task of a batch; see sitq_enqueue for the fields. */
typedef struct sitq_task_spec {
    const char *function;
    const void *payload;
    size_t payload_len;
    const sitq_task_options *options; /**< NULL for defaults */
    const size_t *depends_on_index;   /**< indexes of EARLIER tasks of the same batch
                                            this task depends on (a later or equal
                                            index would be a cycle: SITQ_EDEPENDENCY) */
    size_t n_depends_on_index;
} sitq_task_spec;

/**
 * Enqueue n tasks in one transaction: either all are stored or none.
 * Works at any size (100,000 tasks and more; no bound-parameter limits).
 * out_ids must have room for n ids; out_ids[i] is the id of specs[i].
 * Errors: as sitq_enqueue; the message says which index failed. Thread-safe.
 */
sitq_code sitq_enqueue_batch(sitq_queue *queue, const sitq_task_spec *specs, size_t n,
                             sitq_task_id *out_ids, sitq_error *err);

/* ------------------------------------------------------------------ */
/* Results, status, operations                                         */
/* ------------------------------------------------------------------ */

/**
 * Snapshot of a task: its status and, once finished, its result.
 * Allocated by sitq; free with sitq_result_free. Strings are NUL-terminated
 * or NULL; value is NULL when there is no result (it is also NUL-terminated
 * one byte past value_len for convenience).
 */
typedef struct sitq_result {
    sitq_task_id id;
    char *queue;
    char *function;
    sitq_status status;
    int32_t priority;
    int32_t attempts; /**< attempts whose start was recorded */
    int32_t max_retries;
    void *value;      /**< result bytes of a succeeded task */
    size_t value_len; /**< bytes */
    char *error;      /**< error message of a failed/cancelled task */
    char *traceback;  /**< traceback text, when the handler gave one */
    char *worker_id;  /**< last worker that claimed it */
    char *unique_key;
    double progress;      /**< last progress reported by the handler, 0..1; -1 none */
    int cancel_requested; /**< 1 when cancel was asked while running */
    double timeout_s;     /**< 0 = none */
    size_t payload_len;   /**< bytes (payload itself: sitq_get_payload) */
    sitq_time_us enqueued_at_us;
    sitq_time_us eta_us;         /**< not before this time (ETA or retry backoff) */
    sitq_time_us started_at_us;  /**< start of the last attempt; 0 = never, or (running)
                                      claimed but not started yet */
    sitq_time_us finished_at_us; /**< 0 = not finished */
    sitq_task_id *depends_on;    /**< the task's dependencies, in the order they were
                                      declared (a dependency purged after it succeeded
                                      and every dependent finished is no longer listed);
                                      NULL in sitq_ctx_dependency_result's */
    size_t n_depends_on;
    int finalizer; /**< 1: enqueued with sitq_task_options.finalizer (runs once its
                        dependencies finished, whatever their outcome); 0 otherwise or
                        unknown (a task without dependencies) */
} sitq_result;

/** Free a result and everything it owns. NULL is a no-op. */
void sitq_result_free(sitq_result *result);

/**
 * Read a task's current state (does not wait). *out is set to a new result
 * owned by the caller.
 * Errors: SITQ_EINVAL, SITQ_ENOTFOUND (no such id in this queue), SITQ_ESTORAGE,
 * SITQ_ENOMEM. Thread-safe.
 */
sitq_code sitq_get_result(sitq_queue *queue, sitq_task_id id, sitq_result **out, sitq_error *err);

/**
 * Read a task's current state as sitq_get_result does, but at most
 * value_max bytes of its result: value holds the result's first
 * min(value_max, size) bytes (NUL-terminated one byte past them; NULL when
 * the task has no result) and value_len their number. *out_value_size (may
 * be NULL) receives the result's full size in bytes (0 without a result).
 * The rest of the result is not read: showing the head of a 100 MiB result
 * costs what a small one does (SQLite reads the prefix by incremental blob
 * I/O and the size from the record header; PostgreSQL reads substring() of
 * the stored value, only the slices it needs, and its octet_length()).
 * *out is set to a new result owned by the caller (free with
 * sitq_result_free).
 * Errors: SITQ_EINVAL (NULL queue or out), SITQ_ENOTFOUND (no such id in
 * this queue), SITQ_ESTORAGE, SITQ_ENOMEM. Thread-safe; reads only, never
 * waits for writers.
 */
sitq_code sitq_get_result_prefix(sitq_queue *queue, sitq_task_id id, size_t value_max,
                                 sitq_result **out, size_t *out_value_size, sitq_error *err);

/**
 * Copy a task's payload. *out_payload (malloc'd, caller frees with free())
 * and *out_len (bytes) receive it; *out_payload is NULL for an empty payload.
 * Errors: SITQ_EINVAL, SITQ_ENOTFOUND, SITQ_ESTORAGE, SITQ_ENOMEM. Thread-safe.
 */
sitq_code sitq_get_payload(sitq_queue *queue, sitq_task_id id, void **out_payload, size_t *out_len,
                           sitq_error *err);

/**
 * Wait until a task is finished (succeeded, failed or cancelled), then set
 * *out to its result (caller frees).
 *
 * timeout_s: seconds; < 0 waits forever; 0 checks once.
 * A completion in this process wakes the wait at once (condition variable);
 * one in another process is seen by polling, starting at 1 ms and backing off
 * to 25 ms.
 *
 * The timeout also bounds the wait's reads: on PostgreSQL, a server that
 * stops answering (a stopped or hung process, a network that drops
 * packets) fails the wait with SITQ_ESTORAGE at most 1 s after its timeout
 * (and the connection is closed, reconnected by the next call), rather than
 * after the reply limit of a statement (90 s by default). A connection
 * that is lost (a server restart, a failover, a session ended by an
 * administrator) does not end the wait: its reads reconnect, pausing 50 ms
 * doubling to 2 s, until the timeout (plus that 1 s); a wait with no
 * timeout rides out an outage of any length.
 *
 * Errors: SITQ_ETIMEDOUT (not finished in time; *out is set to the current
 * snapshot, which the caller frees) - a distinct outcome, not a result;
 * SITQ_EINVAL, SITQ_ENOTFOUND, SITQ_ESTORAGE, SITQ_ENOMEM. Thread-safe.
 */
sitq_code sitq_wait(sitq_queue *queue, sitq_task_id id, double timeout_s, sitq_result **out,
                    sitq_error *err);

/**
 * A completion watch: one thread per watch that waits for tasks of a queue
 * to finish and then makes a file descriptor readable, so that an event loop
 * (poll(2), epoll, asyncio's add_reader) waits for any number of tasks with
 * no thread per wait. The fd only says "tasks of the queue may have
 * finished": the loop then asks which of its ids did (sitq_finished_among)
 * and reads those.
 *
 * While the watch is active (sitq_watch_set_active), a completion or cancel
 * made in this process wakes it at once; one made by another process wakes
 * it at once when the backend notifies (PostgreSQL), else it is found by a
 * poll tick that makes the fd readable every 1 ms backing off to 25 ms
 * (50 ms to 250 ms as a fallback on a notifying backend), the cadence of
 * sitq_wait. While inactive the thread sleeps and never signals.
 */
typedef struct sitq_watch sitq_watch;

/**
 * Start a watch of `queue` (borrowed: the queue and its backend must outlive
 * the watch), inactive. *out receives it (free with sitq_watch_close).
 * Errors: SITQ_EINVAL (NULL argument), SITQ_ENOMEM, SITQ_ESYSTEM (the
 * eventfd or the thread could not be made). Thread-safe.
 */
sitq_code sitq_watch_open(sitq_queue *queue, sitq_watch **out, sitq_error *err);

/**
 * The watch's file descriptor (an eventfd, non-blocking, close-on-exec),
 * readable after a signal until sitq_watch_consume. Owned by the watch:
 * never read or close it directly. -1 for NULL.
 */
int sitq_watch_fd(const sitq_watch *watch);

/**
 * Reset the fd (no longer readable) and return how many signals it carried
 * (0: none since the last call). Never blocks. Thread-safe.
 */
uint64_t sitq_watch_consume(sitq_watch *watch);

/**
 * Start (active != 0) or stop signalling. Set it active while there are
 * waiters, inactive when there are none, so that an idle watch costs no
 * polls. Never blocks for long (takes the watch's lock). Thread-safe.
 */
void sitq_watch_set_active(sitq_watch *watch, int active);

/**
 * Stop the thread (waits for it, at most one poll tick or one backend wait
 * round), close the fd and free the watch. NULL is a no-op. Not concurrently
 * with other calls on the same watch.
 */
void sitq_watch_close(sitq_watch *watch);

/**
 * Which of ids[0..n) (tasks of `queue`) are finished (succeeded, failed,
 * cancelled) or no longer exist (purged, or never of this queue), read in as
 * few list queries as possible: one per run of ids whose gaps are small
 * (ids further apart start a new run), each reading the rows between its
 * first and last id without their values. ids need not be sorted and may
 * repeat. *out_ids receives a malloc'd array (caller frees with free(); NULL
 * when *out_count is 0) of the distinct finished ids, ascending.
 * Errors: SITQ_EINVAL (NULL argument with n > 0, or a NULL out), SITQ_ENOMEM,
 * SITQ_ESTORAGE. Thread-safe.
 */
sitq_code sitq_finished_among(sitq_queue *queue, const sitq_task_id *ids, size_t n,
                              sitq_task_id **out_ids, size_t *out_count, sitq_error *err);

/**
 * Cancel a task. A queued, waiting or scheduled task becomes cancelled and
 * never runs (its dependents fail at once). A running task gets its cancel
 * flag set (sitq_ctx_cancelled); it ends cancelled when its handler then
 * fails, succeeded when it completes anyway.
 * out_status (may be NULL) receives SITQ_CANCELLED or SITQ_RUNNING.
 * Errors: SITQ_ESTATE (already finished), SITQ_ENOTFOUND, SITQ_EINVAL,
 * SITQ_ESTORAGE. Thread-safe.
 */
sitq_code sitq_cancel(sitq_queue *queue, sitq_task_id id, sitq_status *out_status, sitq_error *err);

/**
 * Run a failed or cancelled task again (as RQ's requeue), with the part of
 * its pipeline that did not succeed, in one transaction: the task, and every
 * task downstream of it that failed or was cancelled (those failed by
 * dependency, and finalizers or other dependents that ran and failed),
 * reached through failed or cancelled tasks only. Each has its attempts reset
 * to 0 and error, result and times cleared, and becomes queued, or waiting
 * while some dependency has not yet succeeded (finished, for a finalizer).
 * Succeeded tasks keep their results and are not run again; a downstream task
 * that also depends on another failed or cancelled task outside this retry
 * stays as it is (retry that one too). A finalizer still waiting for its
 * other dependencies waits for the retried task again.
 * Errors: SITQ_ESTATE (the task is not failed/cancelled, or one of its own
 * dependencies failed or was cancelled, unless it is a finalizer: retry that
 * first; or another live task holds the unique key of a task to retry),
 * SITQ_ENOTFOUND, SITQ_EINVAL, SITQ_ESTORAGE. Thread-safe.
 */
sitq_code sitq_retry(sitq_queue *queue, sitq_task_id id, sitq_error *err);

/* ------------------------------------------------------------------ */
/* Retention of finished tasks                                         */
/* ------------------------------------------------------------------ */

/** A retention that never expires (sitq_retention, sitq_task_options.keep_s). */
#define SITQ_KEEP_FOREVER (-1.0)
/** Default retention of succeeded tasks: 7 days, in seconds. */
#define SITQ_RETENTION_SUCCEEDED_DEFAULT_S (7 * 86400.0)
/** Default retention of failed and cancelled tasks: 30 days, in seconds. */
#define SITQ_RETENTION_FAILED_DEFAULT_S (30 * 86400.0)

/**
 * How long a queue keeps its finished tasks (with their results, errors,
 * payloads and dependency edges) after they finished, in seconds: each
 * field > 0 (at most SITQ_SECONDS_MAX), or SITQ_KEEP_FOREVER. A task
 * enqueued with sitq_task_options.keep_s uses its own value instead.
 * Expired tasks are deleted by running workers (sitq_worker_options.retention)
 * and by sitq_purge_expired, never while a dependent not yet finished needs
 * their result.
 */
typedef struct sitq_retention {
    double succeeded_s; /**< succeeded tasks; default SITQ_RETENTION_SUCCEEDED_DEFAULT_S */
    double failed_s;    /**< failed and cancelled tasks; default
                             SITQ_RETENTION_FAILED_DEFAULT_S */
    int is_default;     /**< out (sitq_queue_get_retention): 1 when the queue has no
                             retention of its own and follows the defaults; ignored
                             by sitq_queue_set_retention */
} sitq_retention;

/**
 * Store the retention of the queue's finished tasks (see sitq_retention), in
 * the database, for every process and worker from their next purge window
 * on; it applies to tasks already finished too. r NULL: the queue follows
 * the defaults again. Committed before returning.
 * Errors: SITQ_EINVAL (NULL queue, a field neither > 0 and at most
 * SITQ_SECONDS_MAX nor SITQ_KEEP_FOREVER), SITQ_ESTORAGE, SITQ_EBUSY.
 * Thread-safe.
 */
sitq_code sitq_queue_set_retention(sitq_queue *queue, const sitq_retention *r, sitq_error *err);

/**
 * Read the retention of the queue's finished tasks into *out (the defaults,
 * with is_default 1, when none was set). Reads only, never waits for
 * writers. Errors: SITQ_EINVAL (NULL argument), SITQ_ESTORAGE. Thread-safe.
 */
sitq_code sitq_queue_get_retention(sitq_queue *queue, sitq_retention *out, sitq_error *err);

/**
 * Delete the finished tasks of every queue of the store whose retention
 * expired (the task's keep_s, else its queue's retention, else the
 * defaults), with their results, payloads and dependency edges, except
 * those a dependent not yet finished depends on. Walks the tasks in id
 * order, max_rows (1..100000) per write transaction, each transaction short
 * so that workers' claims do not wait long for the write lock; between
 * windows it pauses at least as long as the window took. Tasks are deleted
 * by what running workers do anyway; this call is for a store no worker
 * runs on, and for tests. out_purged (may be NULL) receives the number
 * deleted, also on failure (what was deleted stays deleted).
 * Errors: SITQ_EINVAL (NULL backend, max_rows out of range), SITQ_ESTORAGE,
 * SITQ_EBUSY. Thread-safe; blocks for the whole walk.
 */
sitq_code sitq_purge_expired(sitq_backend *backend, size_t max_rows, int64_t *out_purged,
                             sitq_error *err);

/** What retention holds back in a queue (sitq_queue_retained). */
typedef struct sitq_retained {
    int64_t finished;                /**< finished tasks stored (succeeded, failed, cancelled) */
    sitq_task_id oldest_id;          /**< the finished task of lowest id, 0 when none */
    sitq_time_us oldest_finished_us; /**< its finish time (UTC), 0 when none */
} sitq_retained;

/**
 * What the queue's retention holds back: the finished tasks stored and the
 * oldest of them by id (ids grow with enqueue time). Cost: the counts of
 * sitq_get_stats plus a walk of the queue's tasks in id order to the first
 * finished one. Errors: SITQ_EINVAL (NULL argument), SITQ_ESTORAGE.
 * Thread-safe; reads only.
 */
sitq_code sitq_queue_retained(sitq_queue *queue, sitq_retained *out, sitq_error *err);

/**
 * Counters of a queue that only grow (sitq_queue_totals): what happened to
 * its tasks since the store was created. A store upgraded from a version
 * that kept no such counters counts from its upgrade: enqueued starts at the
 * tasks it held then, the others at 0. A purge or retention never decreases
 * them; a scraper takes rates from their differences.
 */
typedef struct sitq_totals {
    int64_t enqueued;  /**< tasks inserted by enqueue and schedules (a unique key's hit is
                            none): the tasks stored plus those purged */
    int64_t succeeded; /**< attempts that succeeded */
    int64_t failed;    /**< attempts that failed with no retry left (the task failed) */
    int64_t retried;   /**< attempts that failed with a retry left (the task queued again) */
    int64_t lost;      /**< leases that lapsed and were recovered (a task claimed ahead and
                            never started too): the outcome, if any, dropped */
    int64_t cancelled; /**< tasks cancelled: by sitq_cancel, at the end of an attempt
                            asked to cancel, or by the recovery of such an attempt's
                            lapsed lease (also counted lost) */
} sitq_totals;

/**
 * Read the queue's monotonic counters into *out (zeroed first; all 0 for a
 * queue that never had a task). Counted in the transactions that write the
 * outcomes (a worker's completions, lease recovery, cancel; purge and
 * retention for enqueued), so that they agree with the stored tasks at every
 * commit; a worker adds its outcomes once per commit, and the enqueue path
 * writes no counter. Dependents failed or cancelled with their dependency
 * ran no attempt and are in none of the counters but enqueued. Cost: the
 * counts of sitq_get_stats (index-only, one entry per unfinished task) and
 * one row (PostgreSQL: the queue's few counter rows), in one statement;
 * never waits for writers. *out is the caller's; nothing is allocated.
 * Errors: SITQ_EINVAL (NULL argument), SITQ_ESTORAGE. Thread-safe; reads
 * only.
 */
sitq_code sitq_queue_totals(sitq_queue *queue, sitq_totals *out, sitq_error *err);

/**
 * sitq_queue_totals without enqueued (set to -1, not read): the counters'
 * row only (PostgreSQL: the queue's few counter rows), so the cost does
 * not grow with the tasks stored; for a sampler that reads the outcomes
 * often (the dashboard's throughput charts). *out is the caller's;
 * nothing is allocated. Errors: SITQ_EINVAL (NULL argument),
 * SITQ_ESTORAGE. Thread-safe; reads only, never waits for writers.
 */
sitq_code sitq_queue_counters(sitq_queue *queue, sitq_totals *out, sitq_error *err);

/** Task counts of a queue, indexed by sitq_status. */
typedef struct sitq_stats {
    int64_t count[SITQ_STATUS_COUNT];
    int64_t total;
} sitq_stats;

/**
 * Count the queue's tasks by status.
 * Errors: SITQ_EINVAL, SITQ_ESTORAGE. Thread-safe.
 */
sitq_code sitq_get_stats(sitq_queue *queue, sitq_stats *out, sitq_error *err);

/**
 * Count the queue's tasks by status, each status up to cap: what a page
 * or a scraper refreshing every few seconds can afford whatever the
 * backlog. Each status is read as at most cap + 1 index entries (queued
 * and scheduled ones: per distinct priority of the queue's queued tasks),
 * so the cost is bounded by cap, not by the tasks stored; succeeded is the
 * stored count, exact as in sitq_get_stats. For a status with more than
 * cap tasks, out->count[status] is cap (a lower bound) and bit
 * (1u << status) of *at_cap_out is set; the other figures are exact, read
 * in one snapshot. out->total is the sum of the figures (a lower bound
 * when any bit is set). *out and *at_cap_out are the caller's (all 0
 * on failure); nothing is allocated.
 * Errors: SITQ_EINVAL (NULL queue, out or at_cap_out; cap below 1 or
 * INT64_MAX), SITQ_ESTORAGE. Thread-safe; reads only, never waits for
 * writers.
 */
sitq_code sitq_get_stats_bounded(sitq_queue *queue, int64_t cap, sitq_stats *out,
                                 unsigned *at_cap_out, sitq_error *err);

/** A queue's figures, as the reader of sitq_metrics_text_from gives them. */
typedef struct sitq_metrics_queue {
    sitq_stats stats;   /**< tasks by status (the sitq_tasks samples) */
    sitq_totals totals; /**< the monotonic counters, used when has_totals */
    int has_totals;     /**< 0: the queue's counter samples are left out */
} sitq_metrics_queue;

/**
 * Reads the figures of queue for sitq_metrics_text_from into *out (zeroed
 * first); ctx is the caller's. Returns SITQ_OK or an error (with err set),
 * which ends the text's making.
 */
typedef sitq_code (*sitq_metrics_reader)(void *ctx, const char *queue, sitq_metrics_queue *out,
                                         sitq_error *err);

/**
 * sitq_metrics_text with each queue's counts by status and counters given
 * by read(ctx, ...) rather than read exactly (read NULL: exactly as
 * sitq_metrics_text): for a caller that reads counts up to a cap
 * (sitq_get_stats_bounded) and keeps exact ones taken elsewhere. read is
 * called once per reported queue, in order, on the calling thread. The
 * rest (oldest ready task, workers, health) is read as sitq_metrics_text
 * reads it. Ownership, output and errors: as sitq_metrics_text, plus any
 * error read returns. Thread-safe when read is.
 */
sitq_code sitq_metrics_text_from(sitq_backend *backend, sitq_metrics_reader read, void *ctx,
                                 char **out, size_t *out_len, sitq_error *err);

/**
 * The names of the store's queues, sorted bytewise: every queue that holds a
 * task not yet succeeded (queued, waiting, scheduled, running, failed,
 * cancelled), or has ever had a task succeed (its succeeded count stays
 * after a purge). A queue is created by its first enqueue; sitq_queue_open
 * alone creates nothing. Cost: one index seek per queue and status group,
 * never a scan of the tasks.
 * *out_names receives a malloc'd array of *out_count NUL-terminated names
 * (NULL and 0 when there is none); free it with sitq_queue_names_free.
 * Errors: SITQ_EINVAL (NULL argument), SITQ_ESTORAGE, SITQ_ENOMEM.
 * Thread-safe; reads only.
 */
sitq_code sitq_queue_names(sitq_backend *backend, char ***out_names, size_t *out_count,
                           sitq_error *err);

/** Free an array from sitq_queue_names. NULL is a no-op. */
void sitq_queue_names_free(char **names, size_t count);

/**
 * The name of the queue that holds task id (task ids are unique in a store,
 * across its queues). *out_queue receives a malloc'd copy the caller frees
 * with free(); NULL on error. One primary-key lookup.
 * Errors: SITQ_EINVAL (NULL argument, id < 1), SITQ_ENOTFOUND (no such
 * task), SITQ_ESTORAGE, SITQ_ENOMEM. Thread-safe; reads only.
 */
sitq_code sitq_task_queue(sitq_backend *backend, sitq_task_id id, char **out_queue,
                          sitq_error *err);

/**
 * The dependents of task id: the tasks that declared it among their
 * dependencies (sitq_task_options.depends_on; they are in its queue),
 * ascending ids, at most limit (1..1000000) of them. A dependent
 * purged, or whose edge was purged, is no longer listed; an unknown id has
 * none. Cost: one range of the dependency edges' primary key.
 * *out_ids receives a malloc'd array of *out_count ids (NULL and 0 when
 * there is none); free it with free().
 * Errors: SITQ_EINVAL (NULL argument, id < 1, limit out of range),
 * SITQ_ESTORAGE, SITQ_ENOMEM. Thread-safe; reads only, never waits for
 * writers.
 */
sitq_code sitq_task_dependents(sitq_backend *backend, sitq_task_id id, size_t limit,
                               sitq_task_id **out_ids, size_t *out_count, sitq_error *err);

/** Most ids one sitq_get_tasks or sitq_tasks_dependents call takes. */
#define SITQ_IDS_MAX 1000

/**
 * The tasks of the n ids (1..SITQ_IDS_MAX; each > 0; repeats allowed) in
 * any queue, in one read of the store (on PostgreSQL two statements on one
 * connection, whatever n: a walk of a pipeline reads a whole layer at
 * once): those that exist, ascending ids, each once; an unknown or purged
 * id is left out. Like sitq_list_tasks, the results carry neither value
 * nor traceback (NULL) but value_len, error, depends_on and finalizer.
 * *out_items receives an array of *out_count results (NULL and 0 when none
 * exists); free it with sitq_result_list_free. ids stays the caller's.
 * Errors: SITQ_EINVAL (NULL argument, n out of range, an id < 1),
 * SITQ_ESTORAGE, SITQ_ENOMEM. Thread-safe; reads only, never waits for
 * writers.
 */
sitq_code sitq_get_tasks(sitq_backend *backend, const sitq_task_id *ids, size_t n,
                         sitq_result ***out_items, size_t *out_count, sitq_error *err);

/**
 * The dependents of each of the n ids (1..SITQ_IDS_MAX; each > 0), at most
 * limit (1..1000000) per id, as sitq_task_dependents gives them, in one
 * read of the store (one statement on PostgreSQL). *out_pairs receives a
 * malloc'd array of 2 * *out_count ids (NULL and 0 when there is none;
 * free it with free()): pair k is (*out_pairs)[2k], a dependency among
 * ids, and (*out_pairs)[2k + 1], a task that depends on it, sorted by
 * dependency then dependent, each pair once. ids stays the caller's.
 * Errors: SITQ_EINVAL (NULL argument, n or limit out of range, an id < 1),
 * SITQ_ESTORAGE, SITQ_ENOMEM. Thread-safe; reads only, never waits for
 * writers.
 */
sitq_code sitq_tasks_dependents(sitq_backend *backend, const sitq_task_id *ids, size_t n,
                                size_t limit, sitq_task_id **out_pairs, size_t *out_count,
                                sitq_error *err);

/**
 * List tasks of the queue, newest id first.
 * status: a sitq_status or SITQ_STATUS_ANY. limit: at most this many
 * (1..1000000); offset: skip this many.
 * *out_items receives an array of *out_count results; free it with
 * sitq_result_list_free. The results do not carry value/traceback (NULL),
 * but value_len, depends_on and finalizer are filled (sitq_list_tasks
 * selects by more).
 * Errors: SITQ_EINVAL, SITQ_ESTORAGE, SITQ_ENOMEM. Thread-safe.
 */
sitq_code sitq_list(sitq_queue *queue, int status, size_t limit, size_t offset,
                    sitq_result ***out_items, size_t *out_count, sitq_error *err);

/** Free an array from sitq_list or sitq_list_tasks. NULL is a no-op. */
void sitq_result_list_free(sitq_result **items, size_t count);

/**
 * Which tasks sitq_list_tasks and sitq_count_tasks select. Initialise with
 * sitq_list_filter_init; every condition set applies (AND). Strings are
 * borrowed for the call only.
 */
typedef struct sitq_list_filter {
    const char *queue;      /**< only this queue; NULL (default): every queue */
    int status;             /**< a sitq_status, or SITQ_STATUS_ANY (default) */
    const char *function;   /**< only tasks of this function (exact name); NULL: any */
    sitq_time_us since_us;  /**< only tasks whose time is >= this (UTC); 0: no bound.
                                 A task's time is its finish time once finished,
                                 else its enqueue time */
    sitq_time_us until_us;  /**< only tasks whose time is < this; 0: no bound */
    sitq_task_id before_id; /**< only ids < this (keyset paging); 0: no bound */
    sitq_task_id after_id;  /**< only ids > this (keyset paging); 0: no bound */
    int oldest_first;       /**< 0 (default): newest id first; 1: oldest first */
    size_t limit;           /**< at most this many, 1..1000000 (default 100) */
    size_t offset;          /**< skip this many first (default 0); prefer before_id
                                 or after_id, which cost nothing */
    const char *worker_id;  /**< only tasks whose last claim was by this worker
                                 (sitq_worker_id, sitq_worker_info.id); NULL: any */
} sitq_list_filter;

/** Fill f with the defaults listed in sitq_list_filter. Thread-safe. */
void sitq_list_filter_init(sitq_list_filter *f);

/**
 * List the tasks that f selects, in id order (f->oldest_first). Like
 * sitq_list, the results carry neither value nor traceback (NULL), but
 * value_len, error, depends_on and finalizer are filled.
 * Cost: the tasks are read in id order until limit match; a filter on
 * status uses that status's index (succeeded tasks have none), one on
 * function or time reads the rows it skips.
 * *out_items receives an array of *out_count results; free it with
 * sitq_result_list_free.
 * Errors: SITQ_EINVAL (NULL argument, status out of range, limit outside
 * 1..1000000, a negative bound, an invalid queue or function name),
 * SITQ_ESTORAGE, SITQ_ENOMEM. Thread-safe; reads only, never waits for
 * writers.
 */
sitq_code sitq_list_tasks(sitq_backend *backend, const sitq_list_filter *f,
                          sitq_result ***out_items, size_t *out_count, sitq_error *err);

/**
 * Count the tasks that f selects (its limit, offset and order are ignored),
 * stopping at cap (>= 1): *out_count receives min(count, cap), so that a
 * count over millions of rows stays bounded. Same cost as a list of cap
 * tasks.
 * Errors: as sitq_list_tasks, and SITQ_EINVAL for cap < 1. Thread-safe.
 */
sitq_code sitq_count_tasks(sitq_backend *backend, const sitq_list_filter *f, int64_t cap,
                           int64_t *out_count, sitq_error *err);

/**
 * Delete finished tasks (succeeded, failed, cancelled) whose finish time is
 * older than older_than_s seconds (>= 0) ago, with their results. A finished
 * task that a dependent not yet finished (waiting, queued, scheduled or
 * running) depends on is kept, so that the dependent can read its result
 * (sitq_ctx_dependency_result); a later purge deletes it.
 * out_purged (may be NULL) receives the number deleted.
 * Errors: SITQ_EINVAL, SITQ_ESTORAGE. Thread-safe.
 */
sitq_code sitq_purge(sitq_queue *queue, double older_than_s, int64_t *out_purged, sitq_error *err);

/* ------------------------------------------------------------------ */
/* Pause, concurrency limits and rate limits                           */
/* ------------------------------------------------------------------ */

/*
 * Limits are stored in the database and enforced by every claim, in the
 * claim's own transaction, across all workers, processes and hosts. A limit
 * applies to a whole queue (function NULL) or to one function within one
 * queue (tasks of that function in that queue; the same function in another
 * queue has its own limit). A claim takes a task only when every limit that
 * applies to it allows it. A queue with no limit and no pause claims as it
 * would without this feature (one extra index probe of an empty table).
 */

/** One limit of a queue, as listed by sitq_queue_limits. */
typedef struct sitq_limit {
    char *function;           /* NULL: the whole queue; else the function it limits */
    int paused;               /* whole-queue entry only: 1 when the queue is paused */
    int64_t concurrency;      /* at most this many running tasks; 0: no limit */
    int64_t rate_count;       /* at most rate_count starts per rate_interval_us; 0: none */
    int64_t rate_interval_us; /* the rate's interval in microseconds (0 when no rate) */
} sitq_limit;

/**
 * Parse a rate such as "100/m", "10/s", "5/30s", "1000/h" or "2/d": a count
 * (1..1000000000) of task starts per interval, the interval a unit (s, m, h,
 * d) with an optional positive whole multiplier before it; the interval is
 * at most 366 days. On success *count and *interval_us (microseconds) are
 * set; on error they are 0.
 * Errors: SITQ_EINVAL (NULL argument, or text that is not a rate, with a
 * message that quotes it and shows the form). Pure; thread-safe.
 */
sitq_code sitq_rate_parse(const char *text, int64_t *count, int64_t *interval_us, sitq_error *err);

/**
 * Pause the queue: from the commit on, no worker claims a task of it (tasks
 * already claimed or running finish as usual; enqueues go on). Pausing a
 * paused queue is a no-op. The pause is stored in the database and lasts
 * until sitq_queue_resume, across restarts. A worker in burst mode counts a
 * paused queue as drained. sitq_worker_process_task, which runs one given
 * task on demand, is held back by neither pause nor limits.
 * Errors: SITQ_EINVAL (NULL queue), SITQ_ESTORAGE, SITQ_EBUSY.
 * Thread-safe.
 */
sitq_code sitq_queue_pause(sitq_queue *queue, sitq_error *err);

/**
 * Resume a paused queue: workers claim from it again at their next claim.
 * Resuming a queue that is not paused is a no-op. Errors: as
 * sitq_queue_pause. Thread-safe.
 */
sitq_code sitq_queue_resume(sitq_queue *queue, sitq_error *err);

/**
 * *out_paused receives 1 when the queue is paused, 0 when not.
 * Errors: SITQ_EINVAL (NULL argument), SITQ_ESTORAGE. Thread-safe; reads
 * only.
 */
sitq_code sitq_queue_paused(sitq_queue *queue, int *out_paused, sitq_error *err);

/**
 * Set the limit of the queue (function NULL) or of one function in it,
 * replacing the one it had: at most `concurrency` tasks running at once
 * (0: no concurrency limit; a claimed task counts as running from its
 * claim until it finishes or its lease is recovered), and at most the rate
 * `rate` of task starts (a string for sitq_rate_parse, e.g. "100/m"; NULL
 * or "": no rate limit). Starts are spread evenly: at most one every
 * interval/count, and a claim that falls behind may take up to 1 +
 * count/100 at once, so that any window of one interval holds at most
 * count + count/100 + 1 starts. A limit with neither is removed (as
 * sitq_queue_remove_limit). A worker blocked by a rate waits until the next
 * start is due; one blocked by a concurrency limit looks again when one of
 * its own tasks finishes, and otherwise soon (within 50 ms).
 * Errors: SITQ_EINVAL (NULL queue, a bad function name, concurrency < 0 or
 * over 1000000000, a bad rate), SITQ_ESTORAGE, SITQ_EBUSY. Thread-safe.
 */
sitq_code sitq_queue_set_limit(sitq_queue *queue, const char *function, int64_t concurrency,
                               const char *rate, sitq_error *err);

/**
 * Remove the concurrency and rate limit of the queue (function NULL) or of
 * one function in it; a queue's pause stays. Errors: SITQ_EINVAL (NULL
 * queue, a bad function name), SITQ_ENOTFOUND (the queue, or that
 * function, has no concurrency or rate limit: nothing is changed),
 * SITQ_ESTORAGE, SITQ_EBUSY. Thread-safe.
 */
sitq_code sitq_queue_remove_limit(sitq_queue *queue, const char *function, sitq_error *err);

/**
 * The queue's limits and pause: the whole-queue entry first (present when
 * the queue is paused or has a limit of its own), then one per limited
 * function, sorted by function name. *out receives a malloc'd array of
 * *out_count entries (NULL and 0 when there is none); free it with
 * sitq_limits_free. Errors: SITQ_EINVAL (NULL argument), SITQ_ESTORAGE,
 * SITQ_ENOMEM. Thread-safe; reads only.
 */
sitq_code sitq_queue_limits(sitq_queue *queue, sitq_limit **out, size_t *out_count,
                            sitq_error *err);

/** Free an array from sitq_queue_limits (with its names). NULL is a no-op. */
void sitq_limits_free(sitq_limit *limits, size_t count);

/* ------------------------------------------------------------------ */
/* Retry backoff                                                       */
/* ------------------------------------------------------------------ */

/**
 * Delay before retry number `retry` (1 = first retry), in microseconds:
 * min(cap, base * 2^(retry-1)), then multiplied by (1 + jitter * (2u - 1))
 * for u in [0,1) and clamped to [0, min(cap, 100 years)]. Never overflows, however large
 * retry is. Invalid input (retry < 1, negative or non-finite base/cap,
 * jitter outside 0..1) is clamped to the nearest valid value. Thread-safe.
 * u is the random draw (pass a uniform value in [0,1); sitq uses its own).
 */
int64_t sitq_backoff_us(int32_t retry, double base_s, double cap_s, double jitter, double u);

/* ------------------------------------------------------------------ */
/* Schedules: cron expressions, intervals, time zones                  */
/* ------------------------------------------------------------------ */

/**
 * A schedule's timing: a cron expression or a fixed interval. Immutable once
 * made, so one may be used from any number of threads at once; free it with
 * sitq_cron_free. The dialect, the daylight-saving rules and the time zones
 * are described in docs/scheduling.md.
 */
typedef struct sitq_cron sitq_cron;

/**
 * Parse a 5-field cron expression: "minute hour day-of-month month
 * day-of-week", each field a comma list of `*`, `N` and `N-M`, the first and
 * last optionally with a step `/S`; month names JAN..DEC and weekday names
 * SUN..SAT in any case; weekday 0 and 7 both mean Sunday; when both day
 * fields are restricted (allow fewer than all their values) a day matches
 * if either matches. Also the shortcuts @yearly, @annually, @monthly,
 * @weekly, @daily, @midnight and @hourly. *out receives a new schedule
 * owned by the caller (sitq_cron_free), or NULL on error.
 * Errors: SITQ_EINVAL (expr or out NULL; any other text, such as a wrong
 * number of fields, a value out of range, a reversed range, a step on a
 * single value, an unknown name, or a day of the month that no allowed
 * month has, as in "0 0 30 2 *"; the message names the field and quotes
 * the offending text), SITQ_ENOMEM. Thread-safe.
 */
sitq_code sitq_cron_parse(const char *expr, sitq_cron **out, sitq_error *err);

/**
 * A fixed interval: fires at anchor_unix_s + k * every_s seconds for every
 * integer k, in any time zone (pass 0 to align to the Unix epoch, so that
 * every 3600 s falls on the hour in UTC). every_s is 1..100 years of
 * seconds, anchor_unix_s in the years 1..9999. *out receives a new schedule
 * owned by the caller (sitq_cron_free), or NULL on error.
 * Errors: SITQ_EINVAL (out NULL, every_s or anchor_unix_s out of range),
 * SITQ_ENOMEM. Thread-safe.
 */
sitq_code sitq_cron_interval(int64_t every_s, int64_t anchor_unix_s, sitq_cron **out,
                             sitq_error *err);

/**
 * The first fire time of cron strictly after after_unix_s (Unix seconds,
 * UTC), into *next (Unix seconds; untouched on error). A cron expression is
 * read in the local wall time of `timezone`: NULL, "", "UTC", "GMT" or "Z"
 * for UTC, "+HH:MM" or "-HH:MM" for a fixed offset (no file needed), or an
 * IANA name such as "Europe/Paris" read from the TZif files of the
 * directory named by the TZDIR environment variable, else
 * /usr/share/zoneinfo. Across daylight-saving changes a wall time fires at
 * the first instant the local clock shows it or a later time: a time skipped
 * by a spring-forward gap fires once at the end of the gap, a time repeated
 * by a fall-back change fires once, at its first occurrence. An interval
 * ignores the zone (it is still checked). The zone file is read on each
 * call.
 * Errors: SITQ_EINVAL (cron or next NULL; after_unix_s outside the years
 * 1..9999; a time zone name that is malformed, such as an absolute path or
 * one with a ".." component, or unknown, or whose file is not a valid TZif
 * file; no fire time before the year 10000), SITQ_ENOMEM. Thread-safe.
 */
sitq_code sitq_cron_next(const sitq_cron *cron, const char *timezone, int64_t after_unix_s,
                         int64_t *next, sitq_error *err);

/** Free a schedule made by sitq_cron_parse or sitq_cron_interval. NULL is a no-op. */
void sitq_cron_free(sitq_cron *cron);

/**
 * The UTC offset of `timezone` (named as for sitq_cron_next) at the instant
 * at_unix_s, in seconds east of Greenwich (3600 for Paris in winter), into
 * *offset_s; also a way to check a zone name. Errors: SITQ_EINVAL
 * (offset_s NULL; at_unix_s outside the years 1..9999; malformed or unknown
 * zone, invalid zone file),
 * SITQ_ENOMEM. Thread-safe.
 */
sitq_code sitq_timezone_offset(const char *timezone, int64_t at_unix_s, int32_t *offset_s,
                               sitq_error *err);

/* ------------------------------------------------------------------ */
/* Periodic schedules, stored in the database                          */
/* ------------------------------------------------------------------ */

/**
 * How long after its time a tick still counts as on time, in seconds. A
 * tick found due later than this (no worker of its queue ran at that time)
 * is a missed tick: see sitq_schedule_spec.skip_missed.
 */
#define SITQ_SCHEDULE_GRACE_S 60

/**
 * What a schedule enqueues and when. Initialise with sitq_schedule_spec_init;
 * every pointer is borrowed for the duration of the call only.
 */
typedef struct sitq_schedule_spec {
    const char *cron;     /**< a cron expression (sitq_cron_parse), or NULL with every_s */
    int64_t every_s;      /**< or: a fixed interval in seconds, aligned to the Unix epoch
                               (sitq_cron_interval with anchor 0); 0 with cron */
    const char *timezone; /**< the zone a cron expression is read in (as for
                               sitq_cron_next); NULL for UTC; must be NULL or ""
                               with every_s (SITQ_EINVAL) */
    const char *function; /**< the task's function, 1..SITQ_NAME_MAX bytes of UTF-8 */
    const void *payload;  /**< payload_len bytes given to every task (copied) */
    size_t payload_len;
    const sitq_task_options *options; /**< NULL for defaults; priority, max_retries,
                                           backoff and timeout_s apply to every task;
                                           an ETA, a delay, dependencies, a unique key
                                           or finalizer are refused (SITQ_EINVAL) */
    int skip_missed;   /**< 0 (default): a missed tick enqueues one task (catch up once),
                            then the schedule moves to its next future tick; 1: missed
                            ticks enqueue nothing */
    int allow_overlap; /**< 0 (default): a tick whose previous task is not finished
                            (queued, waiting, scheduled or running) is skipped;
                            1: it is enqueued anyway */
    int paused;        /**< 1: added paused (sitq_schedule_resume starts it) */
} sitq_schedule_spec;

/** Fill spec with the defaults above (all zero / NULL). Thread-safe. */
void sitq_schedule_spec_init(sitq_schedule_spec *spec);

/**
 * A stored schedule, as sitq_schedule_list reports it. Allocated by sitq;
 * free with sitq_schedule_free. Strings are NUL-terminated (cron and
 * timezone NULL when not set).
 */
typedef struct sitq_schedule {
    int64_t id; /**< unique in the store; a schedule added again gets a new id */
    char *queue;
    char *name;
    char *cron;      /**< NULL for an interval */
    int64_t every_s; /**< 0 for a cron expression */
    char *timezone;  /**< NULL for UTC */
    char *function;
    size_t payload_len;
    int32_t priority;
    int32_t max_retries;
    double backoff_base_s, backoff_cap_s, backoff_jitter;
    double timeout_s; /**< 0 = none */
    int skip_missed, allow_overlap, paused;
    sitq_time_us next_fire_us; /**< the next tick (UTC); while paused, the tick it would
                                     fire next if resumed now is computed on resume */
    sitq_time_us last_tick_us; /**< the last tick handled (fired or skipped); 0 = none */
    sitq_task_id last_task_id; /**< the last task it enqueued; 0 = none */
    sitq_time_us created_at_us;
} sitq_schedule;

/** Free a schedule of sitq_schedule_list. NULL is a no-op. */
void sitq_schedule_free(sitq_schedule *s);

/**
 * Store a schedule named `name` in queue: from then on, any running worker of
 * the queue enqueues its task at each tick, exactly once however many
 * workers, processes and hosts run (see docs/scheduling.md). The first tick
 * is the first one strictly after now.
 *
 * name: 1..SITQ_NAME_MAX bytes of UTF-8, unique within the queue; copied.
 * out_next_fire_us: optional; receives the first tick (UTC microseconds).
 * Errors: SITQ_EINVAL (NULL queue, name or spec; neither or both of cron and
 * every_s; a bad cron expression, interval or time zone, with the parser's
 * message; a time zone with every_s; bad function name or options; a schedule of that name already
 * exists in the queue), SITQ_ESTORAGE, SITQ_ENOMEM. Thread-safe.
 */
sitq_code sitq_schedule_add(sitq_queue *queue, const char *name, const sitq_schedule_spec *spec,
                            sitq_time_us *out_next_fire_us, sitq_error *err);

/**
 * The schedules of `queue` (NULL: of every queue), sorted by queue then
 * name. *out_items receives a malloc'd array of *out_count schedules (free
 * each with sitq_schedule_free, then the array with free); NULL and 0 when
 * there is none or on error.
 * Errors: SITQ_EINVAL (NULL backend or outputs, bad queue name),
 * SITQ_ESTORAGE, SITQ_ENOMEM. Never blocks on writers. Thread-safe.
 */
sitq_code sitq_schedule_list(sitq_backend *backend, const char *queue, sitq_schedule ***out_items,
                             size_t *out_count, sitq_error *err);

/**
 * Delete the schedule `name` of queue. Tasks it already enqueued stay.
 * Errors: SITQ_EINVAL (NULL or bad arguments), SITQ_ENOTFOUND (no schedule
 * of that name in the queue), SITQ_ESTORAGE. Thread-safe.
 */
sitq_code sitq_schedule_remove(sitq_queue *queue, const char *name, sitq_error *err);

/**
 * Pause the schedule `name` of queue: no tick fires until it is resumed.
 * Pausing a paused schedule is not an error.
 * Errors: as sitq_schedule_remove. Thread-safe.
 */
sitq_code sitq_schedule_pause(sitq_queue *queue, const char *name, sitq_error *err);

/**
 * Resume the schedule `name` of queue: its next tick becomes the first one
 * strictly after now (ticks of the paused time are not caught up). Resuming
 * a running schedule leaves it unchanged.
 * Errors: as sitq_schedule_remove. Thread-safe.
 */
sitq_code sitq_schedule_resume(sitq_queue *queue, const char *name, sitq_error *err);

/**
 * Fire the ticks of queue's schedules that are due at now_us (UTC
 * microseconds; 0: the clock), as a worker of the queue does by itself: each
 * due schedule is moved to its next tick and its task enqueued in one
 * transaction, guarded by the tick it expected, so that callers racing for
 * the same tick (threads, processes, hosts) enqueue it once. Workers call
 * this for their queues; call it yourself only without workers (tests,
 * scripts). *out_fired (optional) receives the number of tasks this call
 * enqueued.
 * Errors: SITQ_EINVAL (NULL queue, now_us negative or past the year 9999),
 * SITQ_ESTORAGE, SITQ_EBUSY, SITQ_ENOMEM;
 * a schedule whose expression or zone no longer parses is skipped (its
 * error is returned after the others were fired). Thread-safe.
 */
sitq_code sitq_schedule_run_due(sitq_queue *queue, sitq_time_us now_us, size_t *out_fired,
                                sitq_error *err);

/* ------------------------------------------------------------------ */
/* Worker                                                              */
/* ------------------------------------------------------------------ */

typedef struct sitq_worker sitq_worker;

/** Per-attempt context handed to a handler; valid only during the call. */
typedef struct sitq_task_ctx sitq_task_ctx;

/** The running task's id. */
sitq_task_id sitq_ctx_task_id(const sitq_task_ctx *ctx);
/** The running attempt, 1 for the first. */
int32_t sitq_ctx_attempt(const sitq_task_ctx *ctx);
/** The task's max_retries. */
int32_t sitq_ctx_max_retries(const sitq_task_ctx *ctx);
/** The task's function name (valid during the call). */
const char *sitq_ctx_function(const sitq_task_ctx *ctx);
/** The name of the task's queue (one of its worker's; valid during the
 * call); NULL for ctx NULL. */
const char *sitq_ctx_queue(const sitq_task_ctx *ctx);
/** The task's timeout in seconds, 0 = none. */
double sitq_ctx_timeout_s(const sitq_task_ctx *ctx);
/**
 * 1 when the handler should stop early: the task was cancelled, or its
 * timeout passed, or its lease was lost. Cheap (an atomic load); thread-safe.
 */
int sitq_ctx_cancelled(const sitq_task_ctx *ctx);

/**
 * The number of dependencies of the running task (as declared at enqueue, a
 * repeated id once), for sitq_ctx_dependency_result. Purge drops the edge to
 * a dependency that succeeded once this task has finished, so a task retried
 * after such a purge counts only up to its last position still stored; the
 * positions of the dropped ones below that read as purged (SITQ_ENOTFOUND).
 * Read lazily: the first call makes one lookup on a reader connection (never
 * under the writer lock) and later calls return the cached figure. Returns 0
 * for a task without dependencies, for ctx NULL, and when the lookup fails
 * (then sitq_ctx_dependency_result reports the error). Call it from the
 * handler's own thread, during the call.
 */
size_t sitq_ctx_dependency_count(const sitq_task_ctx *ctx);

/**
 * Read dependency number `index` (0-based, in the order the dependencies were
 * declared at enqueue: depends_on, then a batch spec's depends_on_index) of
 * the running task: its status, error, traceback and result value, as
 * sitq_get_result would give them (depends_on not filled). Each call is one
 * lookup on a reader connection, never under the writer lock; results stay in
 * their own tasks' rows and are never copied into the dependent's. A normal
 * task's dependencies all succeeded; a finalizer's are all finished, each
 * succeeded, failed or cancelled. *out receives a new result that the caller
 * frees with sitq_result_free (NULL on error). Call it from the handler's own
 * thread, during the call (the context is valid only then).
 * Errors: SITQ_EINVAL (ctx or out NULL: not called from a handler; index >=
 * sitq_ctx_dependency_count), SITQ_ENOTFOUND (that dependency was purged:
 * possible only for a task retried after its dependencies were purged),
 * SITQ_ESTORAGE, SITQ_ENOMEM.
 */
sitq_code sitq_ctx_dependency_result(sitq_task_ctx *ctx, size_t index, sitq_result **out,
                                     sitq_error *err);

/**
 * Read dependencies first .. first + n - 1 (positions as in
 * sitq_ctx_dependency_result) of the running task in one statement on a
 * reader connection: a fan-in of thousands of parents costs a few reads, not
 * one lookup per parent. out is the caller's array of n pointers; on success
 * out[i] receives a new result for position first + i (freed by the caller
 * with sitq_result_free; depends_on not filled), or NULL when that dependency
 * was purged (possible only for a task retried after its dependencies were
 * purged); on failure every entry is NULL. The results are held in memory at
 * once: read a large fan-in of large results in slices. Call it from the
 * handler's own thread, during the call.
 * Errors: SITQ_EINVAL (ctx or out NULL; n 0; first + n beyond
 * sitq_ctx_dependency_count), SITQ_ESTORAGE, SITQ_ENOMEM.
 */
sitq_code sitq_ctx_dependency_results(sitq_task_ctx *ctx, size_t first, size_t n, sitq_result **out,
                                      sitq_error *err);

/**
 * One dependency's outcome as sitq_ctx_dependency_values reads it: only what
 * a fan-in passes on (its value, or why there is none), not a whole result.
 */
typedef struct sitq_dependency_value {
    sitq_task_id id;    /**< the dependency's id; 0 when it was purged */
    sitq_status status; /**< its status when read (a normal task's dependencies
                             have all succeeded) */
    void *value;        /**< its result value (malloc'd, owned by this entry;
                             NULL when it stored none) */
    size_t value_len;   /**< bytes of value */
    char *error;        /**< its error message (malloc'd, owned by this entry;
                             NULL when none) */
} sitq_dependency_value;

/**
 * Read the values of dependencies first .. first + n - 1 (positions as in
 * sitq_ctx_dependency_result) of the running task in one statement on a
 * reader connection, without the rest of each result: the read a fan-in of
 * thousands of parents passes to its handler. out is the caller's array of
 * n entries; on success out[i] describes position first + i (id 0 when that
 * dependency was purged, possible only for a task retried after its
 * dependencies were purged), and the caller releases what the entries own
 * with sitq_dependency_values_clear. On failure every entry is cleared (all
 * zero). The values are held in memory at once: read a large fan-in of
 * large results in slices. Call it from the handler's own thread, during
 * the call.
 * Errors: SITQ_EINVAL (ctx or out NULL; n 0; first + n beyond
 * sitq_ctx_dependency_count), SITQ_ESTORAGE, SITQ_ENOMEM.
 */
sitq_code sitq_ctx_dependency_values(sitq_task_ctx *ctx, size_t first, size_t n,
                                     sitq_dependency_value *out, sitq_error *err);

/**
 * Free what entries v[0..n) own (value and error) and zero them, so that
 * clearing twice is safe. v may be NULL when n is 0. Thread-safe on distinct
 * arrays.
 */
void sitq_dependency_values_clear(sitq_dependency_value *v, size_t n);

/**
 * Mark the start of the attempt, for workers created with
 * handlers_mark_start = 1: call it right before the user's code runs. The
 * attempt counts from here: if the worker dies before this call, the task is
 * handed out again without spending an attempt. It may block until the start
 * is committed (for a task that lost a lease before its start was recorded,
 * so that a task killing its worker still runs out of retries). Call it from
 * the handler's own thread, at most once (later calls return SITQ_OK at
 * once); a no-op returning SITQ_OK without handlers_mark_start.
 * Errors: SITQ_EINVAL (ctx NULL), SITQ_ELEASE (the lease was lost meanwhile:
 * the user's code should not run; return from the handler).
 */
sitq_code sitq_ctx_begin(sitq_task_ctx *ctx);

/**
 * Report progress (fraction 0..1, or < 0 for "unknown") and renew the lease
 * now. Handlers of long tasks may call it; the worker also renews leases on
 * its own every heartbeat interval, so calling it is optional.
 * Errors: SITQ_ELEASE (the lease was lost, or the attempt was already
 * recorded as timed out or abandoned: stop working), SITQ_ESTORAGE.
 */
sitq_code sitq_ctx_heartbeat(sitq_task_ctx *ctx, double progress, sitq_error *err);

/**
 * Set the result bytes (copied). Call at most once per attempt; a later call
 * replaces the earlier result. Returns SITQ_OK, SITQ_ENOMEM, or SITQ_EINVAL
 * when payload + result would exceed sitq_backend_blob_max bytes (the attempt then
 * fails with an error saying so, even if the handler returns 0: a result is
 * never lost silently).
 */
sitq_code sitq_ctx_set_result(sitq_task_ctx *ctx, const void *data, size_t len);

/**
 * Set the result to a buffer allocated with malloc, taking ownership of it
 * (no copy; sitq frees it, also on error). Returns SITQ_OK, or SITQ_EINVAL
 * when payload + result would exceed sitq_backend_blob_max bytes (as
 * sitq_ctx_set_result).
 */
sitq_code sitq_ctx_take_result(sitq_task_ctx *ctx, void *malloced, size_t len);

/**
 * Retry this attempt, if it fails (the handler returns non-zero), after
 * delay_s seconds instead of the task's backoff (Celery's
 * retry(countdown=...), arq's Retry(defer=...)): for a rate limit or a
 * service that says when to come back. Retries are still counted: with none
 * left the task fails. Read only when the handler fails; a later call, or
 * sitq_ctx_no_retry, replaces it. Call from the handler's thread.
 * Returns SITQ_OK, or SITQ_EINVAL (ctx NULL, delay_s NaN, negative or over
 * SITQ_SECONDS_MAX).
 */
sitq_code sitq_ctx_retry_after(sitq_task_ctx *ctx, double delay_s);

/**
 * Fail the task for good if this attempt fails, whatever retries are left
 * (Dramatiq's throws, Celery's Reject): for an error no retry can mend, such
 * as bad input. Read only when the handler fails; a later call, or
 * sitq_ctx_retry_after, replaces it. Call from the handler's thread.
 * Returns SITQ_OK, or SITQ_EINVAL (ctx NULL).
 */
sitq_code sitq_ctx_no_retry(sitq_task_ctx *ctx);

/**
 * Set the error message and optional traceback text of a failing attempt
 * (both copied; either may be NULL). Returns SITQ_ENOMEM or SITQ_OK.
 */
sitq_code sitq_ctx_set_error(sitq_task_ctx *ctx, const char *message, const char *traceback);

/**
 * A task handler. Returns 0 on success (result set with sitq_ctx_set_result,
 * or none) and non-zero on failure (message set with sitq_ctx_set_error, or
 * a generic one is recorded). Called on a worker thread; the payload is
 * valid only during the call. A failed attempt is retried with backoff while
 * attempts <= max_retries (unless the handler called sitq_ctx_retry_after or
 * sitq_ctx_no_retry).
 */
typedef int (*sitq_handler_fn)(sitq_task_ctx *ctx, const void *payload, size_t payload_len,
                               void *user_data);

/**
 * How a worker of several queues (sitq_worker_create_multi) picks the queue
 * of its next task. Within one queue, tasks go as always: priority, then
 * ETA, then id.
 */
typedef enum sitq_queue_order {
    /** Always the first queue, in the order given, that has a ready task: a
     * lower queue runs only while every queue before it has none ready. A
     * task that becomes ready in a higher queue is claimed at the worker's
     * next claim and runs before the lower queues' tasks the worker has
     * claimed ahead (prefetch) but not started; tasks already running are
     * not interrupted. With prefetch 0 the order is exact task by task. */
    SITQ_QUEUE_ORDER_PRIORITY = 0,
    /** Fair rotation: each claim starts with the next queue in turn and
     * takes an equal share of its batch from every queue that has ready
     * tasks (what a queue cannot fill goes to the others), and claimed
     * tasks start alternating between queues. With one task per claim
     * (concurrency 1, prefetch 0) the queues strictly alternate while
     * each has ready tasks; an empty queue is skipped. */
    SITQ_QUEUE_ORDER_ROUND_ROBIN = 1
} sitq_queue_order;

/** Options of a worker. Initialise with sitq_worker_options_init. */
typedef struct sitq_worker_options {
    const char *worker_id;       /**< NULL: "host:pid:start-time:n", unique per
                                      process incarnation (Oban's lesson); else
                                      1..SITQ_NAME_MAX bytes of valid UTF-8 */
    int concurrency;             /**< handler threads, 1..1024; default 1 */
    int prefetch;                /**< tasks claimed beyond concurrency, 0..65536, or
                                      -1 (the default): adaptive, about 5 ms of work
                                      per thread by the measured handler time - none
                                      for tasks longer than that (fair to other
                                      workers), up to 1024 for tiny tasks; when a
                                      claiming cycle takes longer than 5 ms, the tasks
                                      expected to finish before its claim returns
                                      count as free room. Trade-off:
                                      more tasks per commit, more to recover after a
                                      crash (a graceful stop releases them at once;
                                      after a crash they are handed out again when
                                      their lease lapses, without spending an attempt) */
    double poll_interval_s;      /**< how often to look for tasks enqueued by other
                                      processes, seconds; 0 (the default): automatic,
                                      0.05 s, or 1 s on a backend that wakes idle
                                      workers itself (PostgreSQL with LISTEN), whose
                                      workers also wake when the next scheduled task
                                      or retry becomes due */
    double lease_s;              /**< lease duration, seconds; default 30 */
    double heartbeat_interval_s; /**< lease renewal and cancel-flag check period,
                                      seconds; default min(lease/3, 1) */
    double timeout_grace_s;      /**< after a task's timeout, how long its handler
                                      may take to return before the timeout is
                                      recorded without it, seconds, 0..3600; -1 (the
                                      default): 10% of the timeout, within 0.5..5 s.
                                      A handler that kills a child process group
                                      should get its kill grace here, so that a
                                      retry never overlaps the old attempt */
    int handlers_mark_start;     /**< 0 (the default): an attempt starts when its
                                      handler is called. 1: it starts when the handler
                                      calls sitq_ctx_begin, for handlers that decode
                                      their payload or wait for a lock before the
                                      user's code runs (the Python binding); one that
                                      returns without calling it starts at its call.
                                      A task whose worker already died once before
                                      its start was recorded starts at the handler's
                                      call either way (what the handler does first may
                                      be what kills the worker) */
    int queue_order;             /**< a sitq_queue_order, for a worker of several
                                      queues; default SITQ_QUEUE_ORDER_PRIORITY */
    int burst;                   /**< 0 (the default): run until stopped. 1: burst
                                      mode, drain and stop: the worker stops by itself
                                      (as sitq_worker_stop would; sitq_worker_wait
                                      returns) once none of its queues holds a task it
                                      has a handler for that is ready, running (in
                                      any worker: it may fail and be retried, or
                                      release dependents), waiting on dependencies
                                      (it becomes ready when they finish, wherever
                                      they run; a waiting task whose dependencies
                                      nothing serves holds the worker until it is
                                      stopped), or scheduled within
                                      burst_eta_bound_s from now. The check runs in
                                      the claim's transaction, so no task is missed
                                      between the claim and the check */
    double burst_eta_bound_s;    /**< burst mode: a task scheduled (ETA, or retry
                                      backoff) to run within this many seconds from
                                      now holds the worker, which runs it when due; a
                                      later one does not. 0..SITQ_SECONDS_MAX;
                                      default SITQ_BURST_ETA_BOUND_DEFAULT_S (60 s:
                                      retries with the default backoff of a failed
                                      attempt run before the worker ends; 0: only
                                      tasks due now hold it) */
    int retention;               /**< 1 (the default): the worker deletes expired
                                      finished tasks of every queue of its store
                                      while it runs (see sitq_purge_expired), from a
                                      thread of its own, in windows of a few hundred
                                      rows, each its own short transaction, paced so
                                      that claims never wait long for the write lock;
                                      a full walk of the tasks every
                                      retention_interval_s at most. 0: it does not */
    double retention_interval_s; /**< seconds between the starts of two walks of
                                      the tasks looking for expired ones, 0.01..86400,
                                      or 0: the default, 60 */
    int64_t max_tasks;           /**< 0 (the default): no limit. N > 0: the worker
                                      claims at most N tasks in its life, so it
                                      starts at most N attempts (`sitq worker
                                      --max-tasks`); then it claims nothing more
                                      and goes on renewing leases and recording
                                      outcomes until it is stopped. Counted as
                                      sitq_worker_stats.claimed is */
} sitq_worker_options;

/** Fill opts with the defaults listed in sitq_worker_options. Thread-safe. */
void sitq_worker_options_init(sitq_worker_options *opts);

/**
 * Create a worker for a queue (not started). The queue must outlive the worker.
 * opts: NULL for defaults; copied. For several queues see
 * sitq_worker_create_multi.
 * Errors: SITQ_EINVAL (option out of range: message names it), SITQ_ENOMEM.
 */
sitq_code sitq_worker_create(sitq_queue *queue, const sitq_worker_options *opts, sitq_worker **out,
                             sitq_error *err);

/**
 * Create a worker that serves several queues of one backend (not started),
 * in the order sitq_worker_options.queue_order says (see sitq_queue_order);
 * sitq_worker_create(q, ...) is this call with one queue. queues: an array
 * of n_queues (1..SITQ_WORKER_QUEUES_MAX) distinct queues of the same
 * backend, in priority order; the array is copied, the queues must outlive
 * the worker. Every queue is served with the same handlers, lease and
 * options; leases of all are renewed and recovered by this worker. opts:
 * NULL for defaults; copied. sitq_worker_process_task looks the task up in
 * each queue in turn.
 * Errors: SITQ_EINVAL (queues NULL, n_queues 0 or too many, a NULL queue,
 * queues of different backends, the same queue name twice, or an option out
 * of range: the message names it), SITQ_ENOMEM.
 */
sitq_code sitq_worker_create_multi(sitq_queue *const *queues, size_t n_queues,
                                   const sitq_worker_options *opts, sitq_worker **out,
                                   sitq_error *err);

/**
 * Register the handler for a function name (copied). A name ending in '*'
 * matches every function starting with what precedes the '*'. user_data is
 * passed to every call; the caller keeps it alive while the worker lives.
 * Re-registering a name replaces its handler. Register before start.
 * Errors: SITQ_EINVAL (NULL/empty/too long name or not valid UTF-8, NULL fn), SITQ_ESTATE
 * (worker already started), SITQ_ENOMEM.
 */
sitq_code sitq_worker_register(sitq_worker *worker, const char *function, sitq_handler_fn fn,
                               void *user_data, sitq_error *err);

/**
 * Start the worker's threads: one dispatcher (claims in batches, commits
 * completions in groups, renews leases, recovers expired leases) and
 * `concurrency` handler threads. Returns at once.
 * Errors: SITQ_ESTATE (already started, or no handler registered),
 * SITQ_ESYSTEM (thread creation failed).
 */
sitq_code sitq_worker_start(sitq_worker *worker, sitq_error *err);

/**
 * Stop gracefully: claim nothing more, release claimed but unstarted tasks at
 * once (they do not count as an attempt), let running tasks finish and record
 * their results, then join the threads. timeout_s (< 0: no limit) bounds the
 * wait for running tasks; when it passes, their cancel flags are set and
 * SITQ_ETIMEDOUT is returned with the threads still finishing in the
 * background (sitq_worker_free waits for them; sitq_worker_shutdown bounds
 * that wait). A stopped worker can be started again. Stopping a worker that
 * is not running returns SITQ_OK.
 *
 * A handler still running a grace after its task's timeout has had its
 * attempt recorded as failed; it does not hold the stop. Its thread cannot
 * be interrupted, so it is abandoned (detached): it keeps running until the
 * handler returns, then drops the outcome and ends without touching the
 * queue or the backend (the worker's memory stays allocated until then,
 * even after sitq_worker_free). Such a handler must not use the queue or
 * backend, or user_data the caller frees, after sitq_worker_free returns;
 * its sitq_ctx_* calls stay valid (sitq_ctx_heartbeat then returns
 * SITQ_ELEASE). Thread-safe against sitq_worker_start/stop on the same worker.
 * Errors: SITQ_EINVAL (worker NULL, timeout_s NaN), SITQ_ETIMEDOUT,
 * SITQ_ESTATE (called from one of the worker's own handler threads: the
 * stop would wait for the very task that called it).
 */
sitq_code sitq_worker_stop(sitq_worker *worker, double timeout_s, sitq_error *err);

/**
 * Wait until a started worker's dispatcher has ended: in burst mode, once its
 * queues are drained (see sitq_worker_options.burst), or after a stop. It
 * does not join the threads: call sitq_worker_stop (which then returns at
 * once) or sitq_worker_free afterwards. timeout_s: seconds, < 0 for no limit,
 * 0 to poll. Returns SITQ_OK when the dispatcher has ended or the worker is
 * not started. Thread-safe; several threads may wait at once.
 * Errors: SITQ_EINVAL (worker NULL, timeout_s NaN), SITQ_ETIMEDOUT (still
 * running after timeout_s), SITQ_ESTATE (called from one of the worker's
 * own handler threads, whose task its end would wait for).
 */
sitq_code sitq_worker_wait(sitq_worker *worker, double timeout_s, sitq_error *err);

/**
 * Turn burst mode on or off (sitq_worker_options.burst and
 * burst_eta_bound_s) for the worker's next start, for callers that choose it
 * per run. eta_bound_s: seconds, 0..SITQ_SECONDS_MAX, or < 0 to keep the
 * current bound. Thread-safe.
 * Errors: SITQ_EINVAL (worker NULL, burst not 0 or 1, eta_bound_s NaN or
 * too large), SITQ_ESTATE (the worker is started).
 */
sitq_code sitq_worker_set_burst(sitq_worker *worker, int burst, double eta_bound_s,
                                sitq_error *err);

/**
 * 1 when the worker's last run ended because burst mode found its queues
 * drained (and not through sitq_worker_stop or sitq_worker_shutdown), else 0.
 * Reset by sitq_worker_start. Thread-safe.
 */
int sitq_worker_drained(const sitq_worker *worker);

/**
 * Stop gracefully, as sitq_worker_stop, but leave the running tasks alone
 * when timeout_s (< 0: no limit) passes: their cancel flags are not set,
 * and SITQ_ETIMEDOUT is returned with the stop still under way. Calling it
 * again (or sitq_worker_stop) goes on waiting. For callers that wait in
 * short slices, to do something between them (a language binding running
 * its signal handlers), without asking the tasks to stop early. Errors:
 * SITQ_EINVAL (worker NULL, timeout_s NaN), SITQ_ETIMEDOUT, SITQ_ESTATE (as
 * sitq_worker_stop). Thread-safe
 * against sitq_worker_start/stop on the same worker.
 */
sitq_code sitq_worker_stop_wait(sitq_worker *worker, double timeout_s, sitq_error *err);

/**
 * Run one given task in the caller's thread, now, and set *out (may be NULL)
 * to its result after the attempt (caller frees). The worker need not be
 * started. If the attempt fails and retries remain, the task is scheduled for
 * a retry as usual and *out shows it scheduled.
 * Errors: SITQ_ENOTREADY (the task is waiting, scheduled, running elsewhere
 * or finished: the message says which, and *out holds the current snapshot),
 * SITQ_ENOHANDLER (no handler for its function), SITQ_ENOTFOUND, SITQ_EINVAL,
 * SITQ_ESTORAGE. A failing handler is not an error of this call: see
 * (*out)->status. Thread-safe.
 */
sitq_code sitq_worker_process_task(sitq_worker *worker, sitq_task_id id, sitq_result **out,
                                   sitq_error *err);

/** One attempt's outcome as a worker's commit recorded it. */
typedef struct sitq_completion_info {
    sitq_task_id id;
    int succeeded;     /**< 1: the attempt succeeded; 0: it failed (a timeout included) */
    int applied;       /**< 1: recorded in the database; 0: dropped because the
                            worker's lease on the task was lost (the task was
                            recovered and may run again; counted in stats.lost),
                            or, when resent, because the earlier commit did
                            record it */
    const char *error; /**< the failure message, or NULL; valid during the call only */
    int cancelled;     /**< 1: a failed attempt of a task whose cancel the worker saw
                            asked while it ran: recorded as cancelled (its error
                            "cancelled while running: " + error), not failed */
    int retried;       /**< 1: a failed attempt that the store recorded as to be
                            retried (the task went back to wait for its retry);
                            0: a success, a failure for good, or not applied */
    int resent;        /**< 1: sent again after a commit that failed (PostgreSQL:
                            a COMMIT whose answer was lost), which may have
                            recorded it already: not applied then most likely
                            means recorded once, by that commit */
} sitq_completion_info;

/** See sitq_worker_on_completion. */
typedef void (*sitq_completion_fn)(const sitq_completion_info *info, void *user_data);

/**
 * Set a function (NULL: none) that the worker's dispatcher thread calls after
 * each successful commit, once for every attempt outcome that commit carried,
 * in order: the only way to learn whether an outcome was applied or dropped
 * because the lease was lost (a handler returns before its outcome is
 * committed). Not called for sitq_worker_process_task. The function runs on
 * the dispatcher thread, never concurrently with itself, with no sitq lock
 * held; it must be quick (the worker writes nothing while it runs) and may
 * call sitq_worker_get_stats but not stop or free the worker. user_data is
 * passed to every call; the caller keeps it alive while the worker lives.
 * Set it before sitq_worker_start.
 * Errors: SITQ_EINVAL (NULL worker), SITQ_ESTATE (worker already started).
 */
sitq_code sitq_worker_on_completion(sitq_worker *worker, sitq_completion_fn fn, void *user_data,
                                    sitq_error *err);

/** The worker's id (valid while the worker lives). */
const char *sitq_worker_id(const sitq_worker *worker);

/** Counters of one worker since creation. */
typedef struct sitq_worker_stats {
    int64_t claimed;   /**< tasks claimed */
    int64_t succeeded; /**< attempts that succeeded */
    int64_t failed;    /**< attempts that failed (including timeouts) */
    int64_t released;  /**< claimed tasks released unstarted */
    int64_t lost;      /**< completions dropped because the lease was lost, or
                            left unrecorded by a bounded stop (sitq_worker_shutdown)
                            whose last transaction failed */
    int64_t cancelled; /**< attempts that ended cancelled (a cancel asked before or
                            while they ran); not counted in failed */
    int64_t commits;   /**< write transactions of the dispatcher */
    int64_t errors;    /**< dispatcher transactions that failed (storage errors);
                              the worker keeps its completions and tries again */
    char last_error[SITQ_ERROR_MESSAGE_SIZE]; /**< message of the last such error */
    int running;                              /**< attempts running now */
} sitq_worker_stats;

/** Copy the worker's counters into *out. Thread-safe. */
void sitq_worker_get_stats(const sitq_worker *worker, sitq_worker_stats *out);

/**
 * The worker process's own metrics in the Prometheus text format, to serve
 * beside sitq_metrics_text: sitq_worker_process_attempts_total{queue,
 * outcome} (succeeded, failed, retried: failed with a retry left, lost) and
 * the histograms sitq_task_duration_seconds and sitq_task_queue_wait_seconds
 * {queue,function} (fixed buckets, seconds). They cover the attempts this
 * worker finished since it was made, kept in its memory (a restart starts
 * them at zero, as Prometheus expects of counters). At most 1000
 * (queue, function) series; later functions count as function="~other".
 * *out receives a malloc'd NUL-terminated text (free it with free()),
 * *out_len (optional) its length. Reads no store.
 * Errors: SITQ_EINVAL (NULL worker or out), SITQ_ENOMEM. Thread-safe (takes
 * the worker's lock briefly), valid until sitq_worker_free.
 */
sitq_code sitq_worker_metrics_text(sitq_worker *worker, char **out, size_t *out_len,
                                   sitq_error *err);

/* ------------------------------------------------------------------ */
/* The registry of workers. Every started worker keeps a row in its store:
 * written by its first cycle, renewed with its heartbeat (every
 * heartbeat_interval_s, in the transaction of a cycle it runs anyway) and
 * marked stopped by a clean stop. A worker that stops renewing it (killed,
 * hung, cut off) is shown dead once its lease has passed; rows of workers
 * stopped or dead for a day are deleted by the running workers. */

/** What the registry says of a worker. */
typedef enum sitq_worker_state {
    SITQ_WORKER_RUNNING = 0, /**< renewing its row within its lease */
    SITQ_WORKER_STOPPED = 1, /**< stopped cleanly (sitq_worker_stop and the like) */
    SITQ_WORKER_DEAD = 2     /**< no renewal past its lease: killed, hung or cut off */
} sitq_worker_state;

/** The name of a sitq_worker_state ("running", "stopped", "dead"; "unknown"
 *  for any other value). Static storage; thread-safe. */
const char *sitq_worker_state_name(sitq_worker_state state);

/** One worker of the registry (sitq_workers_list). Every pointer is owned
 *  by the array it came in and freed by sitq_workers_free. */
typedef struct sitq_worker_info {
    char *id;      /**< the worker's id (sitq_worker_id) */
    char *host;    /**< host name of its process ("" when unknown) */
    int64_t pid;   /**< process id on that host (0 when unknown) */
    char **queues; /**< the queues it serves, in its order */
    size_t n_queues;
    char **functions; /**< its handlers' names (prefixes end with '*') */
    size_t n_functions;
    int concurrency;              /**< handler threads */
    sitq_time_us started_at_us;   /**< when it started (its host's clock, UTC) */
    sitq_time_us heartbeat_at_us; /**< when it last renewed its row */
    sitq_time_us lease_until_us;  /**< its row counts as live until this time (the
                                        store's clock) */
    sitq_time_us stopped_at_us;   /**< when it stopped cleanly; 0 unless stopped */
    sitq_worker_state state;      /**< as of the store's clock at the call */
    int64_t succeeded;            /**< attempts that succeeded, as of its last renewal */
    int64_t failed;               /**< attempts that failed (timeouts included) */
    int64_t lost;                 /**< outcomes dropped because its lease was lost */
    sitq_task_id *running;        /**< tasks it runs now (their start is recorded:
                                        started at least 20 ms ago), ascending ids,
                                        read from the tasks themselves; NULL when none */
    size_t n_running;
    size_t n_held; /**< tasks its claims hold: running ones plus those
                                        claimed ahead and not yet started */
} sitq_worker_info;

/**
 * List the workers of a store, sorted by id: those running and those dead,
 * and with include_stopped != 0 also those that stopped cleanly (until they
 * are pruned, a day after their last renewal). The running tasks of each
 * come from the tasks' rows (one read of the running tasks' index), not
 * from a copy kept by the worker.
 * *out receives a malloc'd array of *out_count entries (NULL and 0 when
 * none); free it with sitq_workers_free. A store that no worker of this
 * version has written yet has no registry: an empty list.
 * Errors: SITQ_EINVAL (NULL argument), SITQ_ESTORAGE, SITQ_ENOMEM; on error
 * *out is NULL and *out_count 0. Thread-safe; reads only, never waits for
 * writers.
 */
sitq_code sitq_workers_list(sitq_backend *backend, int include_stopped, sitq_worker_info **out,
                            size_t *out_count, sitq_error *err);

/** Free an array from sitq_workers_list and everything it holds. NULL is a
 *  no-op. */
void sitq_workers_free(sitq_worker_info *workers, size_t count);

/**
 * Stop within a bounded time: like sitq_worker_stop(worker, grace_s), then
 * every task still running is recorded as failed ("abandoned: still running
 * when worker W stopped", retried while retries remain, as after a timeout)
 * and its handler thread is abandoned as described at sitq_worker_stop.
 * Returns after grace_s (seconds, >= 0) plus one database transaction at
 * most; if that transaction fails it is not retried and the tasks' leases
 * lapse instead, to be recovered like those of a crashed worker. The worker
 * can be started again. Use it before sitq_worker_free for a bounded free.
 * Errors: SITQ_EINVAL (worker NULL, grace_s negative or NaN), SITQ_ESTATE (as
 * sitq_worker_stop); a failed final transaction is counted in the worker's
 * stats (errors), not returned.
 * Thread-safe against sitq_worker_start/stop on the same worker.
 */
sitq_code sitq_worker_shutdown(sitq_worker *worker, double grace_s, sitq_error *err);

/**
 * Stop (without a time limit: running tasks finish, see sitq_worker_stop)
 * and free a worker. NULL is a no-op. Handler threads abandoned by a stop
 * keep the worker's memory until their handler returns; the caller may close
 * the queue and backend as soon as this returns. Must not race with other
 * calls on the same worker. A call from one of the worker's own handlers
 * (which the stop would wait for) does nothing: free it from another thread.
 */
void sitq_worker_free(sitq_worker *worker);

#ifdef __cplusplus
}
#endif
#endif /* SITQ_H */
