/* test_schema_upgrade.c - a database written by an older schema is upgraded
 * in place when opened. Version 2 (payloads and results inline, attempts
 * counted at claim): every task, result, error and dependency is kept, large
 * payloads and results move to their own tables, and workers run its queued
 * tasks; the fixture is the sqlite3 .dump of such a file. Version 3 (no
 * declared order of dependencies, no finalizers): its edges get ascending id
 * order. Version 4 (no monotonic counters): they start at 0 and count from
 * there, and the succeeded count is kept. */
#include "helpers.h"

#include <sqlite3.h>

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static void load_fixture(const char *db_path) {
    char *sql = read_file(SITQ_TEST_DATA "/schema_v2.sql");
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("loading the fixture: %s", msg ? msg : "?");
    sqlite3_close(db);
    free(sql);
}

static int h_payload_len(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)ud;
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%zu", n);
    if (!p || n < 5 || memcmp(p, "echo", 5) != 0) /* argv: "echo\0ppp..." */
        return 1;
    return sitq_ctx_set_result(ctx, buf, (size_t)len) == SITQ_OK ? 0 : 1;
}

static void test_version_2_is_upgraded(void **state) {
    tq_env *e = TQ_ENV(state);
    load_fixture(e->path);
    TQ_OK(sitq_backend_open_sqlite(e->path, NULL, &e->backend, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, NULL, &e->queue, &tq_err));
    sitq_queue *q = e->queue;

    sitq_result *r = tq_get(q, 1); /* a 3000-byte result: now in its own table */
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(r->value_len, 3000);
    assert_int_equal(((char *)r->value)[0], 'r');
    assert_int_equal(((char *)r->value)[2999], 'r');
    sitq_result_free(r);
    r = tq_get(q, 2); /* a small one: inline */
    assert_int_equal(r->value_len, 6);
    assert_memory_equal(r->value, "small\n", 6);
    sitq_result_free(r);
    r = tq_get(q, 3);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_non_null(r->error);
    sitq_result_free(r);
    r = tq_get(q, 4); /* a large payload, and a dependency on task 2 */
    assert_int_equal(r->status, SITQ_QUEUED);
    assert_int_equal(r->n_depends_on, 1);
    assert_int_equal(r->depends_on[0], 2);
    size_t len4 = r->payload_len;
    assert_true(len4 > 3000);
    sitq_result_free(r);
    void *p = NULL;
    size_t plen = 0;
    TQ_OK(sitq_get_payload(q, 4, &p, &plen, &tq_err));
    assert_int_equal(plen, len4);
    free(p);
    r = tq_get(q, 5); /* enqueued with a delay of 3600 s: its ETA is kept */
    assert_true(r->status == SITQ_QUEUED || r->status == SITQ_SCHEDULED);
    assert_true(llabs(r->eta_us - r->enqueued_at_us - 3600000000LL) < 1000000);
    sitq_result_free(r);

    /* Its queued task runs; new tasks get new ids. */
    sitq_worker *w = tq_worker_new(q, 1, 0, "shell", h_payload_len, NULL);
    TQ_OK(sitq_worker_start(w, &tq_err));
    r = tq_wait_done(q, 4, 30);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    char want[32];
    snprintf(want, sizeof want, "%zu", len4);
    assert_int_equal(r->value_len, strlen(want));
    assert_memory_equal(r->value, want, strlen(want));
    sitq_result_free(r);
    assert_true(tq_enqueue(q, "shell", NULL) > 5);

    /* Reopening finds the current version: nothing to do. */
    sitq_queue_close(q);
    sitq_backend_close(e->backend);
    e->queue = NULL;
    e->backend = NULL;
    TQ_OK(sitq_backend_open_sqlite(e->path, NULL, &e->backend, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, NULL, &e->queue, &tq_err));
    assert_int_equal(tq_stats(e->queue).total, 6);
}

static void exec_raw(const char *path, const char *sql) {
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

/* What version 4 lacked: the monotonic counters of sitq_counts. */
#define DROP_TOTALS                                                                                \
    "ALTER TABLE sitq_counts DROP COLUMN total_purged;"                                            \
    "ALTER TABLE sitq_counts DROP COLUMN total_succeeded;"                                         \
    "ALTER TABLE sitq_counts DROP COLUMN total_failed;"                                            \
    "ALTER TABLE sitq_counts DROP COLUMN total_retried;"                                           \
    "ALTER TABLE sitq_counts DROP COLUMN total_lost;"                                              \
    "ALTER TABLE sitq_counts DROP COLUMN total_cancelled;"

static const char *stored_version(const char *path) {
    static char v[16];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT value FROM sitq_meta WHERE key = 'schema_version'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(v, sizeof v, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void reopen(tq_env *e) {
    sitq_queue_close(e->queue);
    sitq_backend_close(e->backend);
    e->queue = NULL;
    e->backend = NULL;
    TQ_OK(sitq_backend_open_sqlite(e->path, NULL, &e->backend, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, NULL, &e->queue, &tq_err));
}

static void test_version_4_is_upgraded(void **state) {
    tq_env *e = TQ_ENV(state);
    TQ_OK(sitq_backend_open_sqlite(e->path, NULL, &e->backend, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, NULL, &e->queue, &tq_err));
    sitq_task_id a = tq_enqueue(e->queue, "f", NULL);
    sitq_worker *w = tq_worker_new(e->queue, 1, 0, "f", tq_h_echo, NULL);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_result_free(tq_wait_done(e->queue, a, 30));
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    sitq_queue_close(e->queue);
    sitq_backend_close(e->backend);
    e->queue = NULL;
    e->backend = NULL;
    exec_raw(e->path, DROP_TOTALS "UPDATE sitq_meta SET value = '4' WHERE key = 'schema_version'");
    /* A read-only open does not upgrade: it says how to. */
    sitq_sqlite_options so;
    sitq_sqlite_options_init(&so);
    so.read_only = 1;
    TQ_ERR_MSG(SITQ_ESCHEMA, "version 4", "upgrade",
               sitq_backend_open_sqlite(e->path, &so, &e->backend, &tq_err));
    assert_string_equal(stored_version(e->path), "4");
    TQ_OK(sitq_backend_open_sqlite(e->path, NULL, &e->backend, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, NULL, &e->queue, &tq_err));
    assert_string_equal(stored_version(e->path), "5");
    sitq_totals t;
    TQ_OK(sitq_queue_totals(e->queue, &t, &tq_err));
    assert_int_equal(t.enqueued, 1); /* the tasks stored: purges before are not known */
    assert_int_equal(t.succeeded, 0);
    assert_int_equal(tq_stats(e->queue).count[SITQ_SUCCEEDED], 1); /* kept */
    sitq_task_id b = tq_enqueue(e->queue, "f", NULL);
    w = tq_worker_new(e->queue, 1, 0, "f", tq_h_echo, NULL);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_result_free(tq_wait_done(e->queue, b, 30));
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    TQ_OK(sitq_queue_totals(e->queue, &t, &tq_err));
    assert_int_equal(t.enqueued, 2);
    assert_int_equal(t.succeeded, 1);
    assert_int_equal(tq_stats(e->queue).count[SITQ_SUCCEEDED], 2);
    reopen(e); /* the current version: nothing to do */
    int64_t purged = 0;
    TQ_OK(sitq_purge(e->queue, 0, &purged, &tq_err));
    assert_int_equal(purged, 2);
    TQ_OK(sitq_queue_totals(e->queue, &t, &tq_err));
    assert_int_equal(t.enqueued, 2);
    assert_int_equal(t.succeeded, 1);
}

static void test_version_3_is_upgraded(void **state) {
    tq_env *e = TQ_ENV(state);
    TQ_OK(sitq_backend_open_sqlite(e->path, NULL, &e->backend, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, NULL, &e->queue, &tq_err));
    sitq_task_id x = tq_enqueue(e->queue, "f", NULL), y = tq_enqueue(e->queue, "f", NULL);
    sitq_task_id yx[] = {y, x};
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.depends_on = yx;
    o.n_depends_on = 2;
    sitq_task_id child = tq_enqueue(e->queue, "f", &o);
    sitq_queue_close(e->queue);
    sitq_backend_close(e->backend);
    e->queue = NULL;
    e->backend = NULL;
    /* Back to what version 3 wrote. */
    exec_raw(e->path,
             DROP_TOTALS "DROP INDEX sitq_deps_order; ALTER TABLE sitq_deps DROP COLUMN finalizer;"
                         "ALTER TABLE sitq_deps DROP COLUMN position;"
                         "CREATE INDEX sitq_deps_task ON sitq_deps(task_id);"
                         "UPDATE sitq_meta SET value = '3' WHERE key = 'schema_version'");
    TQ_OK(sitq_backend_open_sqlite(e->path, NULL, &e->backend, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, NULL, &e->queue, &tq_err));
    sitq_result *r = tq_get(e->queue, child);
    assert_int_equal(r->n_depends_on, 2);
    assert_int_equal(r->depends_on[0], x); /* id order */
    assert_int_equal(r->depends_on[1], y);
    sitq_result_free(r);
    o.finalizer = 1;
    sitq_task_id fin = tq_enqueue(e->queue, "f", &o);
    r = tq_get(e->queue, fin);
    assert_int_equal(r->finalizer, 1);
    assert_int_equal(r->depends_on[0], y); /* declared order */
    sitq_result_free(r);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT value FROM sitq_meta WHERE key = 'schema_version'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "5");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_version_2_is_upgraded, tq_setup_dir, tq_teardown),
        cmocka_unit_test_setup_teardown(test_version_3_is_upgraded, tq_setup_dir, tq_teardown),
        cmocka_unit_test_setup_teardown(test_version_4_is_upgraded, tq_setup_dir, tq_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
