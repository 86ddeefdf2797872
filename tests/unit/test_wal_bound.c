/* test_wal_bound.c - the write-ahead log stays under its bound while several
 * processes write and read at full speed (SQLite's passive checkpoints alone
 * never get to restart the log then, and it grows without bound).
 *
 * Children are forked before the parent opens the database; they never call
 * cmocka and end with _exit(code). */
#include "helpers.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { WRITERS = 4, READERS = 3, WORKERS = 1, ENQUEUES = 3000 };
/* The documented bound of the WAL file (docs/architecture.md). */
#define WAL_BOUND (64LL << 20)

static pid_t g_pids[WRITERS + READERS + WORKERS];
static int g_n = 0;

static int teardown_kill(void **state) {
    for (int i = 0; i < g_n; i++) {
        kill(g_pids[i], SIGKILL);
        waitpid(g_pids[i], NULL, 0);
    }
    g_n = 0;
    return tq_teardown(state);
}

static int open_queue(const char *path, sitq_backend **b, sitq_queue **q) {
    sitq_error err;
    return sitq_backend_open_sqlite(path, NULL, b, &err) == SITQ_OK &&
           sitq_queue_open(*b, NULL, q, &err) == SITQ_OK;
}

/* Enqueues of each writer (test_wal_bounded_after_large_batch sets more). */
static int g_enqueues = ENQUEUES;

/* One task per commit: the most log pages per task. */
static int writer(const char *path) {
    sitq_backend *b;
    sitq_queue *q;
    if (!open_queue(path, &b, &q)) return 20;
    char payload[300];
    memset(payload, 'w', sizeof payload);
    for (int i = 0; i < g_enqueues; i++) {
        sitq_task_id id;
        sitq_error err;
        if (sitq_enqueue(q, "job", payload, sizeof payload, NULL, &id, &err) != SITQ_OK) {
            fprintf(stderr, "writer: %s\n", err.message);
            return 21;
        }
    }
    sitq_queue_close(q);
    sitq_backend_close(b);
    return 0;
}

/* Readers that always hold some snapshot, as inspection and waits do. */
static int reader(const char *path) {
    sitq_backend *b;
    sitq_queue *q;
    if (!open_queue(path, &b, &q)) return 30;
    for (;;) {
        sitq_stats st;
        sitq_error err;
        sitq_result **items = NULL;
        size_t n = 0;
        if (sitq_get_stats(q, &st, &err) != SITQ_OK ||
            sitq_list(q, SITQ_STATUS_ANY, 50, 0, &items, &n, &err) != SITQ_OK)
            return 31;
        sitq_result_list_free(items, n);
    }
}

static int h_noop(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)ctx;
    (void)p;
    (void)n;
    (void)ud;
    return 0;
}

static int worker(const char *path) {
    sitq_backend *b;
    sitq_queue *q;
    sitq_worker *w = NULL;
    sitq_error err;
    if (!open_queue(path, &b, &q) || sitq_worker_create(q, NULL, &w, &err) != SITQ_OK ||
        sitq_worker_register(w, "job", h_noop, NULL, &err) != SITQ_OK ||
        sitq_worker_start(w, &err) != SITQ_OK)
        return 40;
    for (;;) pause();
}

static pid_t spawn(int (*fn)(const char *), const char *path) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(fn(path));
    g_pids[g_n++] = pid;
    return pid;
}

static void test_wal_stays_bounded(void **state) {
    tq_env *e = TQ_ENV(state);
    {
        sitq_backend *b;
        sitq_queue *q;
        assert_true(open_queue(e->path, &b, &q));
        sitq_queue_close(q);
        sitq_backend_close(b);
    }
    for (int i = 0; i < READERS; i++) spawn(reader, e->path);
    for (int i = 0; i < WORKERS; i++) spawn(worker, e->path);
    pid_t writers[WRITERS];
    for (int i = 0; i < WRITERS; i++) writers[i] = spawn(writer, e->path);

    char wal[400];
    snprintf(wal, sizeof wal, "%s-wal", e->path);
    long long peak = 0;
    int running = WRITERS, failed = 0;
    int64_t end = tq_mono_ms() + 300000;
    while (running > 0 && tq_mono_ms() < end) {
        struct stat sb;
        if (stat(wal, &sb) == 0 && sb.st_size > peak) peak = sb.st_size;
        for (int i = 0; i < WRITERS; i++) {
            int status;
            if (writers[i] && waitpid(writers[i], &status, WNOHANG) == writers[i]) {
                writers[i] = 0;
                running--;
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
            }
        }
        tq_sleep_ms(2);
    }
    assert_int_equal(running, 0);
    assert_int_equal(failed, 0);
    printf("# WAL peak %.1f MiB with %d writers, %d readers, %d worker\n", peak / 1048576.0,
           WRITERS, READERS, WORKERS);
    if (peak > WAL_BOUND)
        fail_msg("the WAL reached %lld bytes, over its bound of %lld", peak, WAL_BOUND);
    /* Nothing was lost: every task is there. */
    TQ_OK(sitq_backend_open_sqlite(e->path, NULL, &e->backend, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, NULL, &e->queue, &tq_err));
    sitq_stats st = tq_stats(e->queue);
    assert_int_equal(st.total, WRITERS * ENQUEUES);
}

/* One batch of 4 x 16 MiB while small writers go on. */
static int big_writer(const char *path) {
    enum { N = 4, SIZE = 16 << 20 };
    sitq_backend *b;
    sitq_queue *q;
    if (!open_queue(path, &b, &q)) return 50;
    char *payload = malloc(SIZE);
    if (!payload) return 51;
    memset(payload, 'B', SIZE);
    sitq_task_spec specs[N];
    for (int i = 0; i < N; i++)
        specs[i] = (sitq_task_spec){.function = "big", .payload = payload, .payload_len = SIZE};
    sitq_task_id ids[N];
    sitq_error err;
    int rc = sitq_enqueue_batch(q, specs, N, ids, &err) == SITQ_OK ? 0 : 52;
    free(payload);
    sitq_queue_close(q);
    sitq_backend_close(b);
    return rc;
}

/* After a batch larger than the bound, the log passes through it whole; once
 * it is restarted, the small writers' commits keep it under the bound again.
 * (A writer whose checkpoint gave up while the big log was copied used to
 * keep that log's size as the point to look again at, and ran no
 * checkpoint until the new log grew back to it.) */
static void test_wal_bounded_after_large_batch(void **state) {
    tq_env *e = TQ_ENV(state);
    {
        sitq_backend *b;
        sitq_queue *q;
        assert_true(open_queue(e->path, &b, &q));
        sitq_queue_close(q);
        sitq_backend_close(b);
    }
    /* Enough small commits after the batch to grow a log well past the
     * bound when nobody checkpoints it. */
    g_enqueues = 4 * ENQUEUES;
    pid_t writers[WRITERS];
    for (int i = 0; i < WRITERS; i++) writers[i] = spawn(writer, e->path);
    pid_t big = spawn(big_writer, e->path);
    char wal[400];
    snprintf(wal, sizeof wal, "%s-wal", e->path);
    long long peak_after = 0, peak = 0;
    int running = WRITERS, failed = 0, big_done = 0, restarted = 0;
    int64_t end = tq_mono_ms() + 300000;
    while (running > 0 && tq_mono_ms() < end) {
        struct stat sb;
        if (stat(wal, &sb) == 0) {
            if (sb.st_size > peak) peak = sb.st_size;
            /* After the batch returned, from the first sample under the
             * bound (the big log restarted and truncated) on. */
            if (big_done && sb.st_size <= WAL_BOUND) restarted = 1;
            if (restarted && sb.st_size > peak_after) peak_after = sb.st_size;
        }
        int status;
        if (!big_done && waitpid(big, &status, WNOHANG) == big) {
            big_done = 1;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
        }
        for (int i = 0; i < WRITERS; i++) {
            if (writers[i] && waitpid(writers[i], &status, WNOHANG) == writers[i]) {
                writers[i] = 0;
                running--;
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
            }
        }
        tq_sleep_ms(2);
    }
    assert_int_equal(running, 0);
    assert_int_equal(failed, 0);
    printf("# WAL peak %.1f MiB, after the batch %.1f MiB (restarted while writers ran: %d)\n",
           peak / 1048576.0, peak_after / 1048576.0, restarted);
    if (!restarted) fail_msg("the WAL never came back under its bound after the batch");
    if (peak_after > WAL_BOUND)
        fail_msg("after the batch the WAL reached %lld bytes, over its bound of %lld", peak_after,
                 WAL_BOUND);
    TQ_OK(sitq_backend_open_sqlite(e->path, NULL, &e->backend, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, NULL, &e->queue, &tq_err));
    sitq_stats st = tq_stats(e->queue);
    assert_int_equal(st.total, WRITERS * g_enqueues + 4);
    g_enqueues = ENQUEUES;
}

/* Frames in the log now, read by a connection of its own (-1: unknown). */
static int log_frames(const char *path) {
    sqlite3 *db = NULL;
    int frames = -1;
    /* The connection finds the log when it first reads the database. */
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, NULL) != SQLITE_OK)
        frames = -1;
    sqlite3_close(db);
    return frames;
}

/* One batch whose own payloads fill the log past the restart size takes the
 * path that copies the log passively first (so that other processes' writers
 * go on meanwhile): that call must still copy the whole log (the hook
 * replaces SQLite's automatic checkpoint, so nothing else would), the next
 * commit then writes it from its start, and the payloads read back whole. */
static void test_large_batch_restarts_the_log(void **state) {
    tq_env *e = TQ_ENV(state);
    enum { N = 3, SIZE = 8 << 20 };
    char *payload = malloc(SIZE);
    assert_non_null(payload);
    sitq_task_spec specs[N];
    for (int i = 0; i < N; i++)
        specs[i] = (sitq_task_spec){.function = "big", .payload = payload, .payload_len = SIZE};
    memset(payload, 'b', SIZE);
    sitq_task_id ids[N];
    TQ_OK(sitq_enqueue_batch(e->queue, specs, N, ids, &tq_err));
    /* The next commit writes the log from its start: a few frames, not the
     * 6,000 of the batch. */
    sitq_task_id small;
    TQ_OK(sitq_enqueue(e->queue, "small", "x", 1, NULL, &small, &tq_err));
    int frames = log_frames(e->path);
    assert_in_range(frames, 1, 100);
    for (int i = 0; i < N; i++) {
        void *p = NULL;
        size_t len = 0;
        TQ_OK(sitq_get_payload(e->queue, ids[i], &p, &len, &tq_err));
        assert_int_equal(len, SIZE);
        assert_memory_equal(p, payload, SIZE);
        free(p);
    }
    free(payload);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wal_stays_bounded, tq_setup_dir, teardown_kill),
        cmocka_unit_test_setup_teardown(test_wal_bounded_after_large_batch, tq_setup_dir,
                                        teardown_kill),
        cmocka_unit_test_setup_teardown(test_large_batch_restarts_the_log, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
