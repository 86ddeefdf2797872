/* test_limits_procs.c - limits hold across processes: 4 worker processes
 * with 8 handler threads each share a concurrency limit of 2 on one
 * function (the parent samples the running count in the database all along
 * and every task still finishes), and a rate of 10/s over 30 s (counted from
 * the recorded start times). Children are forked before anything is open in
 * the parent; they never call cmocka and end with _exit(code). */
#include "helpers.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROCS   4
#define THREADS 8

static int h_sleep(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)ctx;
    (void)p;
    (void)n;
    tq_sleep_ms(*(int *)ud);
    return 0;
}

/* A worker process: runs `lim` and `free` tasks until stop_path exists. */
static int child(const char *path, const char *stop_path, int work_ms) {
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    sitq_worker *w = NULL;
    sitq_error err;
    if (tq_open_path(path, NULL, &b, &err) != SITQ_OK) return 21;
    if (sitq_queue_open(b, NULL, &q, &err) != SITQ_OK) return 22;
    sitq_worker_options o;
    tq_worker_opts(&o, THREADS, THREADS);
    if (sitq_worker_create(q, &o, &w, &err) != SITQ_OK ||
        sitq_worker_register(w, "lim", h_sleep, &work_ms, &err) != SITQ_OK ||
        sitq_worker_register(w, "free", h_sleep, &work_ms, &err) != SITQ_OK ||
        sitq_worker_start(w, &err) != SITQ_OK) {
        fprintf(stderr, "child %d: worker: %s\n", (int)getpid(), err.message);
        return 23;
    }
    struct stat st;
    int64_t end = tq_mono_ms() + 300000;
    while (stat(stop_path, &st) != 0 && tq_mono_ms() < end) tq_sleep_ms(20);
    int rc = sitq_worker_stop(w, -1, &err) == SITQ_OK ? 0 : 24;
    sitq_worker_free(w);
    sitq_queue_close(q);
    sitq_backend_close(b);
    return rc;
}

/* Enqueue n tasks of each function and set the limit, with the parent's
 * backend closed again before the fork. */
static void prepare(tq_env *e, int n_lim, int n_free, int64_t concurrency, const char *rate) {
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    TQ_OK(tq_open_path(e->path, NULL, &b, &tq_err));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    TQ_OK(sitq_queue_set_limit(q, "lim", concurrency, rate, &tq_err));
    int n = n_lim + n_free;
    sitq_task_spec *specs = calloc((size_t)n, sizeof *specs);
    for (int i = 0; i < n; i++) specs[i].function = i < n_lim ? "lim" : "free";
    sitq_task_id *ids = calloc((size_t)n, sizeof *ids);
    TQ_OK(sitq_enqueue_batch(q, specs, (size_t)n, ids, &tq_err));
    free(specs);
    free(ids);
    sitq_queue_close(q);
    sitq_backend_close(b);
}

static void spawn(tq_env *e, const char *stop, int work_ms, pid_t *pids) {
    for (int i = 0; i < PROCS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) _exit(child(e->path, stop, work_ms));
    }
}

static void stop_all(const char *stop, const pid_t *pids) {
    FILE *f = fopen(stop, "w");
    assert_non_null(f);
    fclose(f);
    for (int i = 0; i < PROCS; i++) {
        int status = 0;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
}

static int64_t count(tq_env *e, const char *function, int status) {
    sitq_list_filter f;
    sitq_list_filter_init(&f);
    f.function = function;
    f.status = status;
    int64_t n = 0;
    TQ_OK(sitq_count_tasks(e->backend, &f, 1000000, &n, &tq_err));
    return n;
}

static void test_concurrency_across_processes(void **state) {
    tq_env *e = TQ_ENV(state);
    enum { N_LIM = 80, N_FREE = 200 };
    prepare(e, N_LIM, N_FREE, 2, NULL);
    char stop[400];
    snprintf(stop, sizeof stop, "%s/stop", e->dir);
    pid_t pids[PROCS];
    spawn(e, stop, 10, pids);
    TQ_OK(tq_open_path(e->path, NULL, &e->backend, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, NULL, &e->queue, &tq_err));
    int64_t max_running = 0, samples = 0, lim_done = 0, free_done = 0;
    int64_t end = tq_mono_ms() + 120000;
    while (tq_mono_ms() < end && (lim_done < N_LIM || free_done < N_FREE)) {
        int64_t r = count(e, "lim", SITQ_RUNNING);
        if (r > max_running) max_running = r;
        samples++;
        lim_done = count(e, "lim", SITQ_SUCCEEDED);
        free_done = count(e, "free", SITQ_SUCCEEDED);
    }
    stop_all(stop, pids);
    printf("limits: %lld samples, at most %lld running\n", (long long)samples,
           (long long)max_running);
    assert_int_equal(lim_done, N_LIM);
    assert_int_equal(free_done, N_FREE);
    assert_true(samples >= 50);
    assert_int_equal(max_running, 2); /* reached, never passed */
}

static int cmp_time(const void *a, const void *b) {
    sitq_time_us x = *(const sitq_time_us *)a, y = *(const sitq_time_us *)b;
    return (x > y) - (x < y);
}

static void test_rate_across_processes(void **state) {
    tq_env *e = TQ_ENV(state);
    enum { N_LIM = 400 };
    prepare(e, N_LIM, 0, 0, "10/s");
    char stop[400];
    snprintf(stop, sizeof stop, "%s/stop", e->dir);
    pid_t pids[PROCS];
    spawn(e, stop, 0, pids);
    TQ_OK(tq_open_path(e->path, NULL, &e->backend, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, NULL, &e->queue, &tq_err));
    /* Wait for the first start, then 31 s more (the window is 30 s). */
    assert_true(tq_poll_count(e->queue, SITQ_SUCCEEDED, 1, 30));
    assert_true(tq_poll_count(e->queue, SITQ_SUCCEEDED, 320, 60));
    stop_all(stop, pids);
    sitq_list_filter f;
    sitq_list_filter_init(&f);
    f.status = SITQ_SUCCEEDED;
    f.limit = N_LIM;
    sitq_result **items = NULL;
    size_t n = 0;
    TQ_OK(sitq_list_tasks(e->backend, &f, &items, &n, &tq_err));
    assert_true(n >= 320);
    sitq_time_us *t = calloc(n, sizeof *t);
    for (size_t i = 0; i < n; i++) t[i] = items[i]->started_at_us;
    sitq_result_list_free(items, n);
    qsort(t, n, sizeof *t, cmp_time);
    size_t in_window = 0;
    for (size_t i = 0; i < n; i++) in_window += t[i] < t[0] + 30000000;
    free(t);
    printf("rate: %zu starts in the 30 s after the first\n", in_window);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* Sanitized worker processes on a busy machine can fall behind 10
     * starts a second: there only the limit's own side (never more than the
     * rate, 5% of slack) is checked. */
    assert_true(in_window <= 315);
#else
    /* Below 100 starts an interval a late claim does not catch up (the
     * paced schedule's slack is count/100 starts), so a loaded machine
     * loses a few starts: 282 of 300 in a CI run under load. A rate held
     * back by the engine (one start a second, as a lock-order deadlock
     * caused on PostgreSQL) is far below 90%. */
    assert_true(in_window >= 270 && in_window <= 315);
#endif
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrency_across_processes, tq_setup_dir,
                                        tq_teardown),
        cmocka_unit_test_setup_teardown(test_rate_across_processes, tq_setup_dir, tq_teardown),
    };
    return cmocka_run_group_tests_name("limits_procs", tests, NULL, NULL);
}
