/* test_workers.c - the registry of workers (sitq_workers_list) and the list
 * filter by worker: a running worker is listed with its fields and counts,
 * the task it runs shows while its handler blocks, a clean stop marks it
 * stopped, a worker killed with SIGKILL shows dead after its lease, and bad
 * arguments are refused. Runs on both backends (SITQ_TEST_BACKEND). Waits
 * poll the registry until a condition holds, with a deadline: rows are
 * renewed by the worker's heartbeat. */
#include "helpers.h"

#include <libpq-fe.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

/* The registry row of id (include_stopped = 1), or NULL; *all keeps the
 * array to free. */
static sitq_worker_info *find(sitq_backend *b, const char *id, int include_stopped,
                              sitq_worker_info **all, size_t *n) {
    TQ_OK(sitq_workers_list(b, include_stopped, all, n, &tq_err));
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*all)[i].id, id) == 0) return &(*all)[i];
    return NULL;
}

typedef int (*row_pred)(const sitq_worker_info *w, const void *arg);

/* Poll the registry until id's row satisfies pred (10 s at most); 1 when it
 * did. */
static int poll_row(sitq_backend *b, const char *id, row_pred pred, const void *arg) {
    for (int64_t end = tq_mono_ms() + 10000; tq_mono_ms() < end; tq_sleep_ms(10)) {
        sitq_worker_info *all = NULL;
        size_t n = 0;
        sitq_worker_info *w = find(b, id, 1, &all, &n);
        int ok = w && pred(w, arg);
        sitq_workers_free(all, n);
        if (ok) return 1;
    }
    return 0;
}

typedef struct counts {
    int64_t succeeded, failed;
} counts;

static int has_counts(const sitq_worker_info *w, const void *arg) {
    const counts *c = arg;
    return w->succeeded == c->succeeded && w->failed == c->failed;
}

static int runs_task(const sitq_worker_info *w, const void *arg) {
    return w->n_running == 1 && w->running[0] == *(const sitq_task_id *)arg;
}

static int in_state(const sitq_worker_info *w, const void *arg) {
    return w->state == *(const sitq_worker_state *)arg;
}

static void test_empty_registry(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_worker_info *all = (sitq_worker_info *)1;
    size_t n = 7;
    TQ_OK(sitq_workers_list(e->backend, 1, &all, &n, &tq_err));
    assert_null(all);
    assert_int_equal(n, 0);
}

static void test_bad_arguments(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_worker_info *all = NULL;
    size_t n = 0;
    TQ_ERR(SITQ_EINVAL, sitq_workers_list(NULL, 0, &all, &n, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_workers_list(e->backend, 0, NULL, &n, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_workers_list(e->backend, 0, &all, NULL, &tq_err));
    sitq_workers_free(NULL, 3); /* a no-op */
    sitq_list_filter f;
    sitq_list_filter_init(&f);
    f.worker_id = "";
    sitq_result **items = NULL;
    size_t count = 0;
    TQ_ERR_MSG(SITQ_EINVAL, "worker id", "worker",
               sitq_list_tasks(e->backend, &f, &items, &count, &tq_err));
    assert_string_equal(sitq_worker_state_name(SITQ_WORKER_DEAD), "dead");
    assert_string_equal(sitq_worker_state_name((sitq_worker_state)42), "unknown");
}

/* A running worker: its fields, its counts after 5 successes and 3
 * failures, the list filter by its id, and its stop. */
static void test_running_worker_fields_and_counts(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_time_us t0 = sitq_now_us();
    sitq_worker_options o;
    tq_worker_opts(&o, 2, 0);
    o.worker_id = "w-fields";
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(e->queue, &o, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "ok", tq_h_echo, NULL, &tq_err));
    TQ_OK(sitq_worker_register(w, "bad", tq_h_fail, NULL, &tq_err));
    TQ_OK(sitq_worker_register(w, "pre.*", tq_h_echo, NULL, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_task_id last = 0;
    for (int i = 0; i < 5; i++) last = tq_enqueue(e->queue, "ok", NULL);
    for (int i = 0; i < 3; i++) last = tq_enqueue(e->queue, "bad", NULL);
    assert_true(tq_poll_count(e->queue, SITQ_SUCCEEDED, 5, 20));
    assert_true(tq_poll_count(e->queue, SITQ_FAILED, 3, 20));
    counts want = {5, 3};
    assert_true(poll_row(e->backend, "w-fields", has_counts, &want));

    sitq_worker_info *all = NULL;
    size_t n = 0;
    sitq_worker_info *r = find(e->backend, "w-fields", 0, &all, &n);
    assert_non_null(r);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    assert_string_equal(r->host, host);
    assert_int_equal(r->pid, getpid());
    assert_int_equal(r->n_queues, 1);
    assert_string_equal(r->queues[0], "default");
    assert_int_equal(r->n_functions, 3);
    assert_string_equal(r->functions[0], "ok");
    assert_string_equal(r->functions[1], "bad");
    assert_string_equal(r->functions[2], "pre.*");
    assert_int_equal(r->concurrency, 2);
    assert_true(r->started_at_us >= t0 - 1000 && r->started_at_us <= sitq_now_us());
    assert_true(r->heartbeat_at_us > 0);
    assert_true(r->lease_until_us > r->heartbeat_at_us);
    assert_int_equal(r->stopped_at_us, 0);
    assert_int_equal(r->state, SITQ_WORKER_RUNNING);
    assert_int_equal(r->lost, 0);
    assert_int_equal(r->n_running, 0);
    assert_int_equal(r->n_held, 0);
    sitq_workers_free(all, n);

    /* The list filter by worker: the 8 tasks it ran, none for another. */
    sitq_list_filter f;
    sitq_list_filter_init(&f);
    f.worker_id = "w-fields";
    sitq_result **items = NULL;
    size_t count = 0;
    TQ_OK(sitq_list_tasks(e->backend, &f, &items, &count, &tq_err));
    assert_int_equal(count, 8);
    assert_int_equal(items[0]->id, last);
    assert_string_equal(items[0]->worker_id, "w-fields");
    sitq_result_list_free(items, count);
    f.worker_id = "nobody";
    TQ_OK(sitq_list_tasks(e->backend, &f, &items, &count, &tq_err));
    assert_int_equal(count, 0);
    sitq_result_list_free(items, count);

    /* A clean stop: marked stopped with the final counts, and left out of
     * the default list. */
    TQ_OK(sitq_worker_stop(w, 10, &tq_err));
    r = find(e->backend, "w-fields", 1, &all, &n);
    assert_non_null(r);
    assert_int_equal(r->state, SITQ_WORKER_STOPPED);
    assert_true(r->stopped_at_us >= r->started_at_us);
    assert_int_equal(r->succeeded, 5);
    assert_int_equal(r->failed, 3);
    sitq_workers_free(all, n);
    assert_null(find(e->backend, "w-fields", 0, &all, &n));
    sitq_workers_free(all, n);
    sitq_worker_free(w);
}

/* A handler that blocks until the test releases it. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
} gate;

static int h_gate(sitq_task_ctx *ctx, const void *p, size_t len, void *ud) {
    (void)ctx;
    (void)p;
    (void)len;
    gate *g = ud;
    pthread_mutex_lock(&g->mu);
    while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return 0;
}

static void test_running_task_shown(void **state) {
    tq_env *e = TQ_ENV(state);
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    sitq_worker_options o;
    tq_worker_opts(&o, 1, 0);
    o.worker_id = "w-busy";
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(e->queue, &o, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "gate", h_gate, &g, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_task_id id = tq_enqueue(e->queue, "gate", NULL);
    int shown = poll_row(e->backend, "w-busy", runs_task, &id);
    sitq_worker_info *all = NULL;
    size_t n = 0;
    sitq_worker_info *r = find(e->backend, "w-busy", 0, &all, &n);
    int held = r ? (int)r->n_held : -1;
    sitq_workers_free(all, n);
    pthread_mutex_lock(&g.mu);
    g.open = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    assert_true(shown);
    assert_int_equal(held, 1);
    sitq_result_free(tq_wait_done(e->queue, id, 20));
    TQ_OK(sitq_worker_stop(w, 10, &tq_err));
    sitq_worker_free(w);
    r = find(e->backend, "w-busy", 1, &all, &n);
    assert_non_null(r);
    assert_int_equal(r->n_running, 0);
    assert_int_equal(r->succeeded, 1);
    sitq_workers_free(all, n);
}

/* ---- a worker killed with SIGKILL ---- */

static int child_worker(const char *path) {
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    sitq_worker *w = NULL;
    sitq_error err;
    if (tq_open_path(path, NULL, &b, &err) != SITQ_OK) return 30;
    if (sitq_queue_open(b, NULL, &q, &err) != SITQ_OK) return 31;
    sitq_worker_options o;
    tq_worker_opts(&o, 1, 0);
    o.worker_id = "victim";
    o.lease_s = 0.5;
    o.heartbeat_interval_s = 0.1;
    if (sitq_worker_create(q, &o, &w, &err) != SITQ_OK ||
        sitq_worker_register(w, "job", tq_h_echo, NULL, &err) != SITQ_OK ||
        sitq_worker_start(w, &err) != SITQ_OK)
        return 32;
    for (int i = 0; i < 6000; i++) tq_sleep_ms(10); /* killed long before */
    return 33;
}

static void test_killed_worker_shown_dead(void **state) {
    tq_env *e = TQ_ENV(state);
    { /* create the store before forking */
        sitq_backend *b = NULL;
        TQ_OK(tq_open_path(e->path, NULL, &b, &tq_err));
        sitq_backend_close(b);
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(child_worker(e->path));
    TQ_OK(tq_open_path(e->path, NULL, &e->backend, &tq_err));
    sitq_worker_state running = SITQ_WORKER_RUNNING, dead = SITQ_WORKER_DEAD;
    int seen = poll_row(e->backend, "victim", in_state, &running);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(seen);
    assert_true(WIFSIGNALED(status));
    assert_true(poll_row(e->backend, "victim", in_state, &dead));
    /* Dead workers are listed by default (stopped ones are not). */
    sitq_worker_info *all = NULL;
    size_t n = 0;
    sitq_worker_info *r = find(e->backend, "victim", 0, &all, &n);
    assert_non_null(r);
    assert_int_equal(r->pid, pid);
    assert_int_equal(r->state, SITQ_WORKER_DEAD);
    assert_int_equal(r->stopped_at_us, 0);
    sitq_workers_free(all, n);
}

/* Take the registry out of the test's store, as in a store made before it
 * existed: SQLite's table, PostgreSQL's columns of the workers table. */
static void drop_registry(tq_env *e) {
    if (!tq_backend_is_postgres()) {
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "DROP TABLE sitq_workers", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        return;
    }
    PGconn *c = PQconnectdb(getenv("SITQ_TEST_PG_URI"));
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    char sql[512];
    snprintf(sql, sizeof sql,
             "ALTER TABLE \"%s\".workers DROP COLUMN host, DROP COLUMN pid, DROP COLUMN queues,"
             " DROP COLUMN functions, DROP COLUMN concurrency, DROP COLUMN started_at_us,"
             " DROP COLUMN stopped_at_us, DROP COLUMN succeeded, DROP COLUMN failed,"
             " DROP COLUMN lost",
             e->schema);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fprintf(stderr, "drop_registry: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    assert_true(ok);
}

/* A store made before the registry existed: it opens without a write,
 * lists no workers, and gets the registry from the first record a worker
 * writes, inside that cycle's transaction. */
static void test_store_without_registry(void **state) {
    tq_env *e = TQ_ENV(state);
    {
        sitq_backend *b = NULL;
        TQ_OK(tq_open_path(e->path, NULL, &b, &tq_err));
        sitq_backend_close(b);
        drop_registry(e);
    }
    TQ_OK(tq_open_path(e->path, NULL, &e->backend, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, NULL, &e->queue, &tq_err));
    sitq_worker_info *all = NULL;
    size_t n = 5;
    TQ_OK(sitq_workers_list(e->backend, 1, &all, &n, &tq_err));
    assert_int_equal(n, 0);
    sitq_worker_options o;
    tq_worker_opts(&o, 1, 0);
    o.worker_id = "w-late";
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(e->queue, &o, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "ok", tq_h_echo, NULL, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_result_free(tq_wait_done(e->queue, tq_enqueue(e->queue, "ok", NULL), 20));
    TQ_OK(sitq_worker_stop(w, 10, &tq_err));
    sitq_worker_free(w);
    sitq_worker_info *r = find(e->backend, "w-late", 1, &all, &n);
    assert_non_null(r);
    assert_int_equal(r->state, SITQ_WORKER_STOPPED);
    assert_int_equal(r->succeeded, 1);
    sitq_workers_free(all, n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_registry, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_running_worker_fields_and_counts, tq_setup,
                                        tq_teardown),
        cmocka_unit_test_setup_teardown(test_running_task_shown, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_killed_worker_shown_dead, tq_setup_dir, tq_teardown),
        cmocka_unit_test_setup_teardown(test_store_without_registry, tq_setup_dir, tq_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
