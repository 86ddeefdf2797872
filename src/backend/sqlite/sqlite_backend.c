/* sqlite_backend.c - the SQLite backend object: connections, pragmas,
 * statement cache, write transactions and the reader pool. */
#include "sq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sq_close(sitq_backend *base);

static const sitq__backend_ops sq_ops = {
    .version = SITQ__BACKEND_VERSION,
    .name = "sqlite",
    .blob_max = SQ_BLOB_MAX,
    .close = sq_close,
    .enqueue = sq_enqueue,
    .get = sq_get,
    .get_prefix = sq_get_prefix,
    .payload = sq_payload,
    .cancel = sq_cancel,
    .retry = sq_retry,
    .stats = sq_stats,
    .stats_bounded = sq_stats_bounded,
    .totals = sq_totals,
    .counters = sq_counters,
    .oldest_ready = sq_oldest_ready,
    .queues = sq_queues,
    .task_queue = sq_task_queue,
    .dependents = sq_dependents,
    .get_many = sq_get_many,
    .dependents_many = sq_dependents_many,
    .health = sq_health,
    .list = sq_list,
    .count = sq_count,
    .purge = sq_purge,
    .retention_set = sq_retention_set,
    .retention_get = sq_retention_get,
    .expire = sq_expire,
    .retained = sq_retained,
    .cycle = sq_cycle,
    .claim_id = sq_claim_id,
    .wait_change = NULL, /* no notifications: the head's condvar and polling */
    .dep_count = sq_dep_count,
    .dep_result = sq_dep_result,
    .dep_results = sq_dep_results,
    .dep_values = sq_dep_values,
    .workers = sq_workers,
    .schedule_add = sq_schedule_add,
    .schedule_list = sq_schedule_list,
    .schedule_set = sq_schedule_set,
    .schedule_fire = sq_schedule_fire,
    .limit_write = sq_limit_write,
    .limit_list = sq_limit_list,
};

sqlite3_stmt *sq_stmt(sq_conn *c, sq_stmt_id id, sitq_error *err) {
    sqlite3_stmt *st = c->st[id];
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    if (sqlite3_prepare_v3(c->db, sq_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
        SQLITE_OK) {
        sq_fail(c, err, "preparing a statement");
        return NULL;
    }
    c->st[id] = st;
    return st;
}

sitq_code sq_fail(sq_conn *c, sitq_error *err, const char *what) {
    int code = sqlite3_extended_errcode(c->db);
    if ((code & 0xff) == SQLITE_BUSY) return sq_fail_busy(c, err, what);
    /* SQLite's "disk I/O error" hides that it is the -shm beside the file
     * (which every reader of a WAL database maps) that could not grow. */
    const char *hint = code == SQLITE_IOERR_SHMSIZE
                           ? "; the shared-memory file beside it (-shm) could not be grown: is "
                             "its disk full?"
                           : "";
    return sitq__fail(err, SITQ_ESTORAGE, "database error in %s while %s: %s (SQLite code %d)%s",
                      c->path, what, sqlite3_errmsg(c->db), code, hint);
}

sitq_code sq_fail_busy(sq_conn *c, sitq_error *err, const char *what) {
    if (sitq__call_aborted())
        return sitq__fail(err, SITQ_EBUSY,
                          "database %s is locked by another process; the wait was cut short "
                          "by a stop while %s",
                          c->path, what);
    return sitq__fail(err, SITQ_EBUSY,
                      "database %s is locked: another process has held a lock on it for more "
                      "than the busy timeout of %d ms (SQLite has one writer at a time; a "
                      "stopped or hung process that holds the write lock blocks every writer) "
                      "while %s",
                      c->path, c->busy_timeout_ms, what);
}

sitq_code sq_exec(sq_conn *c, sqlite3_stmt *st, sitq_error *err, const char *what) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
        sqlite3_reset(st);
        return SITQ_OK;
    }
    sitq_code code = sq_fail(c, err, what);
    sqlite3_reset(st);
    return code;
}

void sq_bind_text(sqlite3_stmt *st, int i, const char *s) {
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

int sq_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n) {
    if (p) return sqlite3_bind_blob64(st, i, p, (sqlite3_uint64)n, SQLITE_STATIC);
    if (n == 0) return sqlite3_bind_zeroblob(st, i, 0);
    return sqlite3_bind_null(st, i);
}

char *sq_col_text(sqlite3_stmt *st, int i) {
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

void *sq_col_blob(sqlite3_stmt *st, int i, size_t *len) {
    *len = 0;
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return NULL;
    const void *p = sqlite3_column_blob(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    char *copy = malloc(n + 1); /* +1: NUL past the end, for convenience */
    if (!copy) return NULL;
    if (n) memcpy(copy, p, n);
    copy[n] = '\0';
    *len = n;
    return copy;
}

/* SQLite's own busy handler sleeps up to 100 ms between tries and can miss
 * every gap under steady load (lesson 2). Ours retries every 50..1000 us,
 * randomised, until the connection's busy timeout, or, once the calling
 * thread's abort flag is raised (a worker's stop, sitq__set_call_abort),
 * until the wait has lasted SITQ__ABORT_GRACE_US. */
static int busy_handler(void *arg, int count) {
    sq_conn *c = arg;
    int64_t now = sitq__mono_us();
    if (count == 0) c->busy_start_us = now;
    if (now - c->busy_start_us > (int64_t)c->busy_timeout_ms * 1000) return 0;
    if (sitq__call_aborted() && now - c->busy_start_us > SITQ__ABORT_GRACE_US) return 0;
    int64_t cap = count < 20 ? 200 : 1000;
    sitq__sleep_us(50 + (int64_t)(sitq__rand64() % (uint64_t)cap));
    return 1;
}

static void conn_close(sq_conn *c) {
    for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(c->st[i]);
    memset(c->st, 0, sizeof c->st);
    if (c->db) sqlite3_close_v2(c->db);
    c->db = NULL;
}

static sitq_code conn_pragma(sq_conn *c, const char *sql, sitq_error *err) {
    char *msg = NULL;
    int rc;
    /* SQLite does not always call the busy handler here (journal_mode needs
     * an exclusive lock while another process creates the file): retry. */
    int64_t deadline = sitq__mono_us() + (int64_t)c->busy_timeout_ms * 1000;
    while (((rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg)) & 0xff) == SQLITE_BUSY ||
           (rc & 0xff) == SQLITE_LOCKED) {
        if (sitq__mono_us() >= deadline) break;
        sqlite3_free(msg);
        msg = NULL;
        sitq__sleep_us(200 + (int64_t)(sitq__rand64() % 1000));
    }
    if (rc != SQLITE_OK) {
        sitq_code code;
        if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
            code = sq_fail_busy(c, err, sql);
        else
            code = sitq__fail(err, SITQ_ESTORAGE, "database error in %s running \"%s\": %s",
                              c->path, sql, msg ? msg : sqlite3_errmsg(c->db));
        sqlite3_free(msg);
        return code;
    }
    return SITQ_OK;
}

sitq_code sq_conn_pragma(sq_conn *c, const char *sql, sitq_error *err) {
    return conn_pragma(c, sql, err);
}

static sitq_code conn_open(sq_backend *b, sq_conn *c, int readonly, sitq_error *err) {
    memset(c, 0, sizeof *c);
    c->busy_timeout_ms = b->opts.busy_timeout_ms;
    c->path = b->path;
    /* NOMUTEX: each connection is used by one thread at a time (we lock).
     * No CREATE: sq_file_prepare made a missing file, with its mode. */
    int mem = strcmp(b->path, ":memory:") == 0;
    int flags =
        SQLITE_OPEN_NOMUTEX | (b->uri ? SQLITE_OPEN_URI : 0) |
        (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (mem ? SQLITE_OPEN_CREATE : 0));
    /* A libsqlite3 built with URI names on (Debian's) reads a relative path
     * "file:..." as a URI and opens another file than the one checked here
     * (or a memory database, "?mode=memory"): "./file:..." names the same
     * file and is never a URI. */
    char *dotted = NULL;
    if (!b->uri && strncmp(b->path, "file:", 5) == 0) {
        size_t n = strlen(b->path);
        if (!(dotted = malloc(n + 3)))
            return sitq__fail(err, SITQ_ENOMEM, "out of memory opening %s", b->path);
        memcpy(dotted, "./", 2);
        memcpy(dotted + 2, b->path, n + 1);
    }
    int orc = sqlite3_open_v2(b->uri ? b->uri : dotted ? dotted : b->path, &c->db, flags, NULL);
    free(dotted);
    if (orc != SQLITE_OK) {
        /* SQLite's "unable to open database file" hides the reason: add errno's. */
        int sys = c->db ? sqlite3_system_errno(c->db) : 0;
        sitq_code rc = sitq__fail(err, SITQ_ESTORAGE, "cannot open database %s: %s%s%s%s", b->path,
                                  c->db ? sqlite3_errmsg(c->db) : "out of memory", sys ? " (" : "",
                                  sys ? strerror(sys) : "", sys ? ")" : "");
        conn_close(c);
        return rc;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_handler(c->db, busy_handler, c);
    static const char *const sync_sql[] = {"PRAGMA synchronous=OFF", "PRAGMA synchronous=NORMAL",
                                           "PRAGMA synchronous=FULL", "PRAGMA synchronous=EXTRA"};
    sitq_code rc = SITQ_OK;
    /* Before any pragma: refuse a file that is not ours to change. */
    if (c == &b->writer) rc = sq_file_check(b, c, err);
    if (!rc) rc = conn_pragma(c, sync_sql[b->opts.synchronous], err);
    if (!rc) rc = conn_pragma(c, "PRAGMA temp_store=MEMORY", err);
    /* Readers map the file: a handler's first read of thousands of rows the
     * writer just finished (a fan-in's parents) would otherwise cost a
     * pread per page (10,000 parents: 24-26 ms read cold against 13-19 ms
     * mapped). Address space only; pages still in the WAL are read as before. */
    if (!rc && readonly) rc = conn_pragma(c, "PRAGMA mmap_size=268435456", err);
    if (!rc && !readonly) {
        rc = sq_file_journal_mode(b, c, err);
        /* Keep the WAL bounded: truncate it to 64 MiB after checkpoints. */
        if (!rc) rc = conn_pragma(c, "PRAGMA journal_size_limit=67108864", err);
    }
    if (rc) conn_close(c);
    return rc;
}

static void sq_close(sitq_backend *base) {
    sq_backend *b = (sq_backend *)base;
    if (!b) return;
    if (b->writer.db && !b->opts.read_only) {
        /* Fold the WAL back into the database on a clean close. */
        sqlite3_wal_checkpoint_v2(b->writer.db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    for (int i = 0; i < b->n_readers; i++) conn_close(&b->readers[i]);
    conn_close(&b->writer);
    free(b->readers);
    free(b->reader_busy);
    pthread_mutex_destroy(&b->write_mu);
    pthread_mutex_destroy(&b->read_mu);
    pthread_cond_destroy(&b->read_cv);
    pthread_mutex_destroy(&b->gc_mu);
    pthread_cond_destroy(&b->gc_cv);
    sitq__backend_head_destroy(&b->head);
    sq_names_free(b);
    free(b->uri);
    free(b->path);
    free(b);
}

static void disable_memstatus(void) { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

/* Check the options of sitq_backend_open_sqlite (read_only turns create
 * off). SITQ_OK, or SITQ_EINVAL naming the bad field. */
static sitq_code check_options(sitq_sqlite_options *opts, sitq_error *err) {
    if (opts->enable_wal != 0 && opts->enable_wal != 1)
        return sitq__fail(err, SITQ_EINVAL, "options.enable_wal must be 0 or 1, got %d",
                          opts->enable_wal);
    if ((int)opts->synchronous < SITQ_SYNC_OFF || (int)opts->synchronous > SITQ_SYNC_EXTRA)
        return sitq__fail(err, SITQ_EINVAL, "options.synchronous must be a sitq_sync_mode, got %d",
                          (int)opts->synchronous);
    if (opts->busy_timeout_ms < 0)
        return sitq__fail(err, SITQ_EINVAL, "options.busy_timeout_ms must be >= 0, got %d",
                          opts->busy_timeout_ms);
    if (opts->create != 0 && opts->create != 1)
        return sitq__fail(err, SITQ_EINVAL, "options.create must be 0 or 1, got %d", opts->create);
    if (opts->read_only != 0 && opts->read_only != 1)
        return sitq__fail(err, SITQ_EINVAL, "options.read_only must be 0 or 1, got %d",
                          opts->read_only);
    if (opts->allow_foreign != 0 && opts->allow_foreign != 1)
        return sitq__fail(err, SITQ_EINVAL, "options.allow_foreign must be 0 or 1, got %d",
                          opts->allow_foreign);
    if (opts->file_mode < 0)
        return sitq__fail(err, SITQ_EINVAL,
                          "options.file_mode must be permission bits 0..0777 (0: follow the "
                          "umask), got %d",
                          opts->file_mode);
    if (opts->file_mode > 0777)
        return sitq__fail(err, SITQ_EINVAL,
                          "options.file_mode must be permission bits 0..0777 (0: follow the "
                          "umask), got %#o",
                          (unsigned)opts->file_mode);
    if (opts->read_only) opts->create = 0;
    if (opts->reader_connections < 0 || opts->reader_connections > 64)
        return sitq__fail(err, SITQ_EINVAL, "options.reader_connections must be 0..64, got %d",
                          opts->reader_connections);
    return SITQ_OK;
}

/* Open the backend's n reader connections. SITQ_OK, or the error (the
 * connections opened so far are counted in n_readers, for sq_close). */
static sitq_code open_readers(sq_backend *b, int n, sitq_error *err) {
    b->readers = calloc((size_t)n, sizeof *b->readers);
    b->reader_busy = calloc((size_t)n, sizeof *b->reader_busy);
    if (!b->readers || !b->reader_busy) return sitq__fail(err, SITQ_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        sitq_code rc = conn_open(b, &b->readers[i], 1, err);
        if (rc) return rc;
        b->n_readers++;
    }
    return SITQ_OK;
}

sitq_code sitq_backend_open_sqlite(const char *path, const sitq_sqlite_options *opts,
                                   sitq_backend **out, sitq_error *err) {
    if (!out) return sitq__fail(err, SITQ_EINVAL, "out must not be NULL");
    *out = NULL;
    if (!path || !*path) return sitq__fail(err, SITQ_EINVAL, "path must be a non-empty file name");
    sitq_sqlite_options o;
    if (opts) o = *opts;
    else sitq_sqlite_options_init(&o);
    sitq_code rc = check_options(&o, err);
    if (rc) return rc;
    /* SQLite's memory statistics take a global mutex on every allocation
     * (8% of the end-to-end rate). Turn them off once, if SQLite is not yet
     * initialised in this process; otherwise this is a harmless no-op. */
    static pthread_once_t memstatus_once = PTHREAD_ONCE_INIT;
    pthread_once(&memstatus_once, disable_memstatus);
    if (sqlite3_threadsafe() == 0)
        return sitq__fail(err, SITQ_ESTORAGE,
                          "cannot open database %s: the system SQLite was built without thread "
                          "support",
                          path);

    sq_backend *b = calloc(1, sizeof *b);
    if (!b) return sitq__fail(err, SITQ_ENOMEM, "out of memory opening %s", path);
    if (sitq__backend_head_init(&b->head, &sq_ops) != 0) {
        free(b);
        return sitq__fail(err, SITQ_ESYSTEM, "cannot initialise mutexes");
    }
    pthread_mutex_init(&b->write_mu, NULL);
    pthread_mutex_init(&b->read_mu, NULL);
    pthread_cond_init(&b->read_cv, NULL);
    pthread_mutex_init(&b->gc_mu, NULL);
    pthread_cond_init(&b->gc_cv, NULL);
    b->opts = o;
    b->path = strdup(path);
    if (!b->path) {
        sq_close(&b->head);
        return sitq__fail(err, SITQ_ENOMEM, "out of memory opening %s", path);
    }
    rc = sq_file_prepare(b, err);
    if (!rc) rc = conn_open(b, &b->writer, o.read_only, err);
    if (rc && sq_file_try_immutable(b)) rc = conn_open(b, &b->writer, 1, err);
    if (!rc && !o.read_only) sq_wal_bound(b);
    if (!rc) rc = sq_schema_open(b, err);
    if (!rc) rc = sq_schedules_ensure(b, err);
    if (!rc) rc = sq_limits_schema(b, err);
    int n = strcmp(path, ":memory:") == 0 ? 0 : o.reader_connections;
    if (!rc && n > 0) rc = open_readers(b, n, err);
    if (rc) {
        sq_close(&b->head);
        return rc;
    }
    *out = &b->head;
    return sitq__ok(err);
}

sitq_code sq_write_begin(sq_backend *b, sitq_error *err) {
    if (b->opts.read_only)
        return sitq__fail(err, SITQ_ESTORAGE, "database %s is open read-only: cannot write",
                          b->path);
    pthread_mutex_lock(&b->write_mu);
    sqlite3_stmt *st = sq_stmt(&b->writer, ST_BEGIN_IMMEDIATE, err);
    if (!st) {
        pthread_mutex_unlock(&b->write_mu);
        return SITQ_ESTORAGE;
    }
    sitq_code rc = sq_exec(&b->writer, st, err, "starting a write transaction");
    if (rc) pthread_mutex_unlock(&b->write_mu);
    return rc;
}

sitq_code sq_write_end(sq_backend *b, sitq_code rc, sitq_error *err) {
    sq_conn *c = &b->writer;
    c->full_at_commit = 0;
    if (rc == SITQ_OK) {
        sqlite3_stmt *st = sq_stmt(c, ST_COMMIT, err);
        rc = st ? sq_exec(c, st, err, "committing") : SITQ_ESTORAGE;
        if (st && rc) c->full_at_commit = (sqlite3_extended_errcode(c->db) & 0xff) == SQLITE_FULL;
    }
    if (rc != SITQ_OK && sqlite3_get_autocommit(c->db) == 0) {
        sqlite3_stmt *st = sq_stmt(c, ST_ROLLBACK, NULL);
        if (st) sq_exec(c, st, NULL, "rolling back");
    }
    b->wal_big_commit = 0; /* the WAL hook of this commit has run, if any */
    pthread_mutex_unlock(&b->write_mu);
    return rc;
}

sq_conn *sq_read_acquire(sq_backend *b) {
    if (b->n_readers == 0) {
        pthread_mutex_lock(&b->write_mu);
        return &b->writer;
    }
    pthread_mutex_lock(&b->read_mu);
    for (;;) {
        for (int i = 0; i < b->n_readers; i++) {
            if (!b->reader_busy[i]) {
                b->reader_busy[i] = 1;
                pthread_mutex_unlock(&b->read_mu);
                return &b->readers[i];
            }
        }
        pthread_cond_wait(&b->read_cv, &b->read_mu);
    }
}

void sq_read_release(sq_backend *b, sq_conn *c) {
    if (c == &b->writer) {
        pthread_mutex_unlock(&b->write_mu);
        return;
    }
    pthread_mutex_lock(&b->read_mu);
    b->reader_busy[c - b->readers] = 0;
    pthread_cond_signal(&b->read_cv);
    pthread_mutex_unlock(&b->read_mu);
}
