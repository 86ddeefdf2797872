/* test_open.c - what opening a database may do: another application's file
 * is refused and left byte for byte unchanged (unless allowed), an empty
 * file is taken as new, a new file gets its mode, an existing sitq database
 * opens while a stopped process holds the write lock (writes then fail with
 * SITQ_EBUSY naming the file, a worker keeps retrying), and a read-only open
 * never writes. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A stopped lock holder still alive when a test fails is killed here. */
static pid_t g_holder = 0;

static void holder_kill(void) {
    if (g_holder > 0) {
        kill(g_holder, SIGKILL);
        waitpid(g_holder, NULL, 0);
        g_holder = 0;
    }
}

static int teardown(void **state) {
    holder_kill();
    return tq_teardown(state);
}

/* Read a whole file into a malloc'd buffer; *len gets its size. */
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0) break;
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static unsigned file_mode(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 0777);
}

/* Make another application's database: one table, rollback journal. */
static void make_foreign(const char *path) {
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA journal_mode=DELETE; CREATE TABLE app(x TEXT);"
                                  "INSERT INTO app VALUES('mine');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
}

/* Make a sitq database with one queued task, closed. */
static void make_sitq(const char *path) {
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    TQ_OK(sitq_backend_open_sqlite(path, NULL, &b, &tq_err));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    tq_enqueue(q, "f", NULL);
    sitq_queue_close(q);
    sitq_backend_close(b);
}

/* A file with no table yet that another application stamped as its own
 * (application_id, user_version) is that application's too. */
static void test_stamped_empty_file_is_foreign(void **state) {
    tq_env *e = TQ_ENV(state);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "PRAGMA application_id=1234; PRAGMA user_version=9;", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    size_t n0 = 0, n1 = 0;
    char *before = slurp(e->path, &n0);
    sitq_backend *b = NULL;
    TQ_ERR_MSG(SITQ_ESCHEMA, "another application", "allow_foreign",
               sitq_backend_open_sqlite(e->path, NULL, &b, &tq_err));
    assert_null(b);
    char *after = slurp(e->path, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(after);
    free(before);
}

static void test_foreign_file_left_unchanged(void **state) {
    tq_env *e = TQ_ENV(state);
    make_foreign(e->path);
    size_t n0 = 0, n1 = 0;
    char *before = slurp(e->path, &n0);
    char wal[400];
    snprintf(wal, sizeof wal, "%s-wal", e->path);

    sitq_backend *b = NULL;
    TQ_ERR_MSG(SITQ_ESCHEMA, "another application", "allow_foreign",
               sitq_backend_open_sqlite(e->path, NULL, &b, &tq_err));
    assert_null(b);
    assert_non_null(strstr(tq_err.message, e->path));
    assert_non_null(strstr(tq_err.message, "'app'"));
    char *after = slurp(e->path, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0); /* not even the journal mode changed */
    assert_false(file_exists(wal));
    free(after);
    free(before);

    /* Asked explicitly: the sitq tables join the application's. */
    sitq_sqlite_options o;
    sitq_sqlite_options_init(&o);
    o.allow_foreign = 1;
    sitq_queue *q = NULL;
    TQ_OK(sitq_backend_open_sqlite(e->path, &o, &b, &tq_err));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sitq_task_id id = tq_enqueue(q, "f", NULL);
    assert_int_equal(tq_status(q, id), SITQ_QUEUED);
    sitq_queue_close(q);
    sitq_backend_close(b);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT x FROM app", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "mine");
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* Now it holds sitq's tables: it opens without asking. */
    TQ_OK(sitq_backend_open_sqlite(e->path, NULL, &b, &tq_err));
    sitq_backend_close(b);
}

static void test_empty_and_garbage_files(void **state) {
    tq_env *e = TQ_ENV(state);
    /* A 0-byte file (touch) is an empty database: sitq makes it its own. */
    int fd = open(e->path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    sitq_backend *b = NULL;
    TQ_OK(sitq_backend_open_sqlite(e->path, NULL, &b, &tq_err));
    sitq_backend_close(b);

    /* A file that is not SQLite: the message names it, nothing changes. */
    char junk[400];
    snprintf(junk, sizeof junk, "%s/junk.db", e->dir);
    FILE *f = fopen(junk, "wb");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++) fputc('x', f);
    fclose(f);
    TQ_ERR_MSG(SITQ_ESTORAGE, "not a SQLite database", "not a database",
               sitq_backend_open_sqlite(junk, NULL, &b, &tq_err));
    assert_non_null(strstr(tq_err.message, junk));
    size_t n = 0;
    char *after = slurp(junk, &n);
    assert_int_equal(n, 4096);
    assert_int_equal(after[0], 'x');
    free(after);
}

/* A path that is not a regular file (a FIFO here; a device such as
 * /dev/null alike) is refused with a message before SQLite opens it: an
 * open for reading blocked for ever on a FIFO, and a write left a -journal
 * file beside it. alarm() fails the test instead of hanging it. */
static void test_not_a_regular_file(void **state) {
    tq_env *e = TQ_ENV(state);
    char fifo[400], journal[420];
    snprintf(fifo, sizeof fifo, "%s/fifo.db", e->dir);
    snprintf(journal, sizeof journal, "%s-journal", fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    alarm(20);
    sitq_sqlite_options o;
    sitq_sqlite_options_init(&o);
    sitq_backend *b = NULL;
    for (int ro = 0; ro <= 1; ro++) {
        o.read_only = ro;
        o.create = !ro;
        TQ_ERR_MSG(SITQ_ESTORAGE, "not a regular file", "not a regular file",
                   sitq_backend_open_sqlite(fifo, &o, &b, &tq_err));
        assert_null(b);
        assert_non_null(strstr(tq_err.message, fifo));
    }
    alarm(0);
    struct stat st;
    assert_int_equal(stat(journal, &st), -1);
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    unlink(fifo);
}

static void test_new_file_mode(void **state) {
    tq_env *e = TQ_ENV(state);
    mode_t old = umask(022);
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    char wal[400];
    snprintf(wal, sizeof wal, "%s-wal", e->path);
    TQ_OK(sitq_backend_open_sqlite(e->path, NULL, &b, &tq_err));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    tq_enqueue(q, "f", NULL);
    assert_int_equal(file_mode(e->path), 0600);
    assert_int_equal(file_mode(wal), 0600); /* SQLite follows the database's mode */
    sitq_queue_close(q);
    sitq_backend_close(b);

    sitq_sqlite_options o;
    sitq_sqlite_options_init(&o);
    char p2[400], p3[400];
    snprintf(p2, sizeof p2, "%s/group.db", e->dir);
    o.file_mode = 0640;
    TQ_OK(sitq_backend_open_sqlite(p2, &o, &b, &tq_err));
    sitq_backend_close(b);
    assert_int_equal(file_mode(p2), 0640);
    snprintf(p3, sizeof p3, "%s/umask.db", e->dir);
    o.file_mode = 0; /* as other files of the process */
    TQ_OK(sitq_backend_open_sqlite(p3, &o, &b, &tq_err));
    sitq_backend_close(b);
    assert_int_equal(file_mode(p3), 0644);
    /* An existing file keeps its mode. */
    o.file_mode = 0600;
    TQ_OK(sitq_backend_open_sqlite(p3, &o, &b, &tq_err));
    sitq_backend_close(b);
    assert_int_equal(file_mode(p3), 0644);
    umask(old);

    o.file_mode = 01000;
    TQ_ERR_MSG(SITQ_EINVAL, "file_mode", "file_mode",
               sitq_backend_open_sqlite(p3, &o, &b, &tq_err));
    o.file_mode = -1;
    TQ_ERR_MSG(SITQ_EINVAL, "file_mode", "file_mode",
               sitq_backend_open_sqlite(p3, &o, &b, &tq_err));
}

/* Fork a process that takes the write lock of path with BEGIN IMMEDIATE and
 * stops itself (SIGSTOP) while holding it; returns once it is stopped. */
static void start_stalled_holder(const char *path) {
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        sqlite3 *db = NULL;
        if (sqlite3_open(path, &db) != SQLITE_OK ||
            sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            _exit(1);
        char ok = 1;
        if (write(p[1], &ok, 1) != 1) _exit(1);
        raise(SIGSTOP);
        _exit(0); /* continued: ending the process releases the lock */
    }
    g_holder = pid;
    close(p[1]);
    char ok = 0;
    assert_int_equal(read(p[0], &ok, 1), 1);
    close(p[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
    assert_true(WIFSTOPPED(status));
}

static void release_holder(void) {
    assert_int_equal(kill(g_holder, SIGCONT), 0);
    int status = 0;
    assert_int_equal(waitpid(g_holder, &status, 0), g_holder);
    g_holder = 0;
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_open_while_lock_holder_stalled(void **state) {
    tq_env *e = TQ_ENV(state);
    make_sitq(e->path);
    start_stalled_holder(e->path);

    sitq_sqlite_options o;
    sitq_sqlite_options_init(&o);
    o.busy_timeout_ms = 300;
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    /* Opening an existing database only reads it. */
    TQ_OK(sitq_backend_open_sqlite(e->path, &o, &b, &tq_err));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    assert_int_equal(tq_stats(q).count[SITQ_QUEUED], 1);
    assert_int_equal(tq_status(q, 1), SITQ_QUEUED);
    sitq_task_id id = 0;
    TQ_ERR_MSG(SITQ_EBUSY, "write lock", "write lock",
               sitq_enqueue(q, "f", NULL, 0, NULL, &id, &tq_err));
    assert_non_null(strstr(tq_err.message, e->path));

    /* A worker started now keeps retrying its cycles, then runs the task
     * once the holder is gone. */
    atomic_int calls = 0;
    sitq_worker *w = tq_worker_new(q, 1, 0, "f", tq_h_echo, &calls);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_worker_stats ws;
    int64_t deadline = tq_mono_ms() + 20000;
    do {
        tq_sleep_ms(10);
        sitq_worker_get_stats(w, &ws);
    } while (ws.errors < 2 && tq_mono_ms() < deadline);
    assert_true(ws.errors >= 2);
    assert_non_null(strstr(ws.last_error, "write lock"));
    assert_int_equal(atomic_load(&calls), 0);
    release_holder();
    sitq_result *r = tq_wait_done(q, 1, 20.0);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    TQ_OK(sitq_worker_stop(w, 10.0, &tq_err));
    sitq_worker_free(w);
    sitq_queue_close(q);
    sitq_backend_close(b);
}

static void test_read_only_open(void **state) {
    tq_env *e = TQ_ENV(state);
    make_sitq(e->path);
    size_t n0 = 0, n1 = 0;
    char *before = slurp(e->path, &n0);
    sitq_sqlite_options o;
    sitq_sqlite_options_init(&o);
    o.read_only = 1;
    o.reader_connections = 0;
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;

    /* Works while a stopped process holds the write lock. */
    start_stalled_holder(e->path);
    TQ_OK(sitq_backend_open_sqlite(e->path, &o, &b, &tq_err));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    assert_int_equal(tq_stats(q).count[SITQ_QUEUED], 1);
    sitq_result *r = tq_get(q, 1);
    assert_string_equal(r->function, "f");
    sitq_result_free(r);
    sitq_task_id id = 0;
    TQ_ERR_MSG(SITQ_ESTORAGE, "read-only", "read-only",
               sitq_enqueue(q, "f", NULL, 0, NULL, &id, &tq_err));
    assert_non_null(strstr(tq_err.message, e->path));
    TQ_ERR_MSG(SITQ_ESTORAGE, "read-only", "read-only", sitq_cancel(q, 1, NULL, &tq_err));
    sitq_queue_close(q);
    sitq_backend_close(b);
    release_holder();
    char *after = slurp(e->path, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(after);
    free(before);

    /* Refused, naming the file: missing, foreign, empty. */
    char p[400];
    snprintf(p, sizeof p, "%s/missing.db", e->dir);
    TQ_ERR(SITQ_ESTORAGE, sitq_backend_open_sqlite(p, &o, &b, &tq_err));
    assert_non_null(strstr(tq_err.message, p));
    assert_false(file_exists(p));
    snprintf(p, sizeof p, "%s/app.db", e->dir);
    make_foreign(p);
    TQ_ERR(SITQ_ESCHEMA, sitq_backend_open_sqlite(p, &o, &b, &tq_err));
    assert_non_null(strstr(tq_err.message, p));
    o.read_only = 2;
    TQ_ERR_MSG(SITQ_EINVAL, "read_only", "read_only",
               sitq_backend_open_sqlite(e->path, &o, &b, &tq_err));
}

/* A new file whose creator is stalled holding the lock: the open that must
 * create the schema waits busy_timeout_ms, then fails with SITQ_EBUSY. */
static void test_create_blocked_is_busy(void **state) {
    tq_env *e = TQ_ENV(state);
    int fd = open(e->path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    start_stalled_holder(e->path);
    sitq_sqlite_options o;
    sitq_sqlite_options_init(&o);
    o.busy_timeout_ms = 200;
    sitq_backend *b = NULL;
    TQ_ERR_MSG(SITQ_EBUSY, "locked", "locked", sitq_backend_open_sqlite(e->path, &o, &b, &tq_err));
    assert_non_null(strstr(tq_err.message, e->path));
    release_holder();
    TQ_OK(sitq_backend_open_sqlite(e->path, &o, &b, &tq_err));
    sitq_backend_close(b);
}

/* A storage error while running (here: a table renamed behind sitq's back)
 * names the database file. */
static void test_storage_error_names_file(void **state) {
    tq_env *e = TQ_ENV(state);
    make_sitq(e->path);
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    TQ_OK(sitq_backend_open_sqlite(e->path, NULL, &b, &tq_err));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "ALTER TABLE sitq_tasks RENAME TO gone", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    sitq_task_id id = 0;
    TQ_ERR_MSG(SITQ_ESTORAGE, "no such table", "no such table",
               sitq_enqueue(q, "f", NULL, 0, NULL, &id, &tq_err));
    assert_non_null(strstr(tq_err.message, e->path));
    sitq_queue_close(q);
    sitq_backend_close(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_foreign_file_left_unchanged, tq_setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_stamped_empty_file_is_foreign, tq_setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_garbage_files, tq_setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_regular_file, tq_setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_new_file_mode, tq_setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_open_while_lock_holder_stalled, tq_setup_dir,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_read_only_open, tq_setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_create_blocked_is_busy, tq_setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_storage_error_names_file, tq_setup_dir, teardown),
    };
    return cmocka_run_group_tests_name("open", tests, NULL, NULL);
}
