/* test_abandon.c - handlers that do not return: a stop is not held by a
 * handler whose attempt was recorded (timed out), sitq_worker_shutdown
 * bounds a stop, and an abandoned thread whose handler returns after the
 * worker, queue and backend were freed touches none of them (ASan checks
 * the memory, LeakSanitizer that the last thread frees the worker). */
#include "helpers.h"

#include <dirent.h>
#include <math.h>

/* A handler that ignores its cancel flag until the test opens the gate,
 * then tries to renew its lease and set a result. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    atomic_int started;
    atomic_int finished;
    atomic_int heartbeat_code; /* what sitq_ctx_heartbeat returned after the gate */
} gate;

static gate g_gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, -1};

static void gate_reset(void) {
    pthread_mutex_lock(&g_gate.mu);
    g_gate.open = 0;
    pthread_mutex_unlock(&g_gate.mu);
    atomic_store(&g_gate.started, 0);
    atomic_store(&g_gate.finished, 0);
    atomic_store(&g_gate.heartbeat_code, -1);
}

static void gate_open(void) {
    pthread_mutex_lock(&g_gate.mu);
    g_gate.open = 1;
    pthread_cond_broadcast(&g_gate.cv);
    pthread_mutex_unlock(&g_gate.mu);
}

static int h_stuck(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    (void)payload;
    (void)len;
    gate *g = ud;
    atomic_fetch_add(&g->started, 1);
    pthread_mutex_lock(&g->mu);
    while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    sitq_error e;
    atomic_store(&g->heartbeat_code, (int)sitq_ctx_heartbeat(ctx, 0.5, &e));
    sitq_ctx_set_result(ctx, "late", 4);
    atomic_fetch_add(&g->finished, 1);
    return 0;
}

/* Threads of this process (entries of /proc/self/task). */
static int thread_count(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* Poll until the process has at most n threads; 1 when reached in time. */
static int wait_threads_at_most(int n, int64_t timeout_ms) {
    int64_t end = tq_mono_ms() + timeout_ms;
    while (thread_count() > n && tq_mono_ms() < end) tq_sleep_ms(2);
    return thread_count() <= n;
}

static void wait_started(int n) {
    int64_t end = tq_mono_ms() + 20000;
    while (atomic_load(&g_gate.started) < n && tq_mono_ms() < end) tq_sleep_ms(1);
    assert_int_equal(atomic_load(&g_gate.started), n);
}

static sitq_worker *stuck_worker(sitq_queue *q) {
    sitq_worker_options o;
    tq_worker_opts(&o, 1, 0);
    o.timeout_grace_s = 0; /* record a timeout at once */
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(q, &o, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "stuck", h_stuck, &g_gate, &tq_err));
    TQ_OK(sitq_worker_register(w, "echo", tq_h_echo, NULL, &tq_err));
    return w;
}

/* Close the queue and backend now (before the abandoned handler returns). */
static void close_env(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue_close(e->queue);
    sitq_backend_close(e->backend);
    e->queue = NULL;
    e->backend = NULL;
}

static void test_stop_is_not_held_by_a_timed_out_handler(void **state) {
    gate_reset();
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_worker *w = stuck_worker(q);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.timeout_s = 0.2;
    sitq_task_id id = tq_enqueue(q, "stuck", &o);
    TQ_OK(sitq_worker_start(w, &tq_err));
    wait_started(1);
    /* The bound only turns a hang into a failure; the stop returns as soon
     * as the timeout is recorded. */
    TQ_OK(sitq_worker_stop(w, 60, &tq_err));
    sitq_result *r = tq_get(q, id);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_true(tq_contains_ci(r->error, "timed out after 0.2 s"));
    sitq_result_free(r);
    sitq_worker_stats st;
    sitq_worker_get_stats(w, &st);
    assert_int_equal(st.running, 0); /* the abandoned attempt is no longer the worker's */
    sitq_worker_free(w);
    close_env(state);
    /* The handler returns after everything was freed; its thread then ends. */
    int threads = thread_count();
    gate_open();
    assert_true(wait_threads_at_most(threads - 1, 20000));
    assert_int_equal(atomic_load(&g_gate.finished), 1);
    assert_int_equal(atomic_load(&g_gate.heartbeat_code), SITQ_ELEASE);
}

static void test_shutdown_abandons_running_tasks(void **state) {
    gate_reset();
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_worker *w = stuck_worker(q);
    sitq_task_id id = tq_enqueue(q, "stuck", NULL); /* no timeout */
    TQ_OK(sitq_worker_start(w, &tq_err));
    wait_started(1);
    TQ_ERR(SITQ_ETIMEDOUT, sitq_worker_stop(w, 0.05, &tq_err)); /* still running */
    TQ_OK(sitq_worker_shutdown(w, 0.05, &tq_err));
    sitq_result *r = tq_get(q, id);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_true(tq_contains_ci(r->error, "abandoned: still running when worker"));
    assert_int_equal(r->attempts, 1);
    sitq_result_free(r);
    TQ_OK(sitq_worker_shutdown(w, 0, &tq_err)); /* a stopped worker: nothing to do */
    sitq_worker_free(w);
    close_env(state);
    int threads = thread_count();
    gate_open();
    assert_true(wait_threads_at_most(threads - 1, 20000));
    assert_int_equal(atomic_load(&g_gate.finished), 1);
    assert_int_equal(atomic_load(&g_gate.heartbeat_code), SITQ_ELEASE);
}

static void test_restart_after_an_abandoned_thread(void **state) {
    gate_reset();
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_worker *w = stuck_worker(q);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.timeout_s = 0.2;
    sitq_task_id stuck = tq_enqueue(q, "stuck", &o);
    TQ_OK(sitq_worker_start(w, &tq_err));
    wait_started(1);
    TQ_OK(sitq_worker_stop(w, 60, &tq_err));
    /* The abandoned thread does not count against concurrency 1. */
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_task_id id = tq_enqueue(q, "echo", NULL);
    sitq_result *r = tq_wait_done(q, id, 20);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    /* The old handler returns while the worker runs again: it ends without
     * taking tasks or changing the recorded outcome. */
    int threads_running = thread_count();
    gate_open();
    assert_true(wait_threads_at_most(threads_running - 1, 20000));
    sitq_task_id id2 = tq_enqueue(q, "echo", NULL);
    r = tq_wait_done(q, id2, 20);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    r = tq_get(q, stuck);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_null(r->value);
    sitq_result_free(r);
    TQ_OK(sitq_worker_stop(w, 60, &tq_err));
    sitq_worker_stats st;
    sitq_worker_get_stats(w, &st);
    assert_int_equal(st.succeeded, 2);
    assert_int_equal(st.failed, 1);
    sitq_worker_free(w);
}

static void test_shutdown_arguments(void **state) {
    sitq_worker *w = stuck_worker(TQ_ENV(state)->queue);
    TQ_ERR_MSG(SITQ_EINVAL, "grace_s", "grace", sitq_worker_shutdown(w, -1, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "grace_s", "grace", sitq_worker_shutdown(w, NAN, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_worker_shutdown(NULL, 0, &tq_err));
    TQ_OK(sitq_worker_shutdown(w, 0, &tq_err)); /* never started */
    sitq_worker_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stop_is_not_held_by_a_timed_out_handler, tq_setup,
                                        tq_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_abandons_running_tasks, tq_setup,
                                        tq_teardown),
        cmocka_unit_test_setup_teardown(test_restart_after_an_abandoned_thread, tq_setup,
                                        tq_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_arguments, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
