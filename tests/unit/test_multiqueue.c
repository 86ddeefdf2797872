/* test_multiqueue.c - a worker of several queues (priority order and
 * round-robin) and burst mode (drain, then stop), on either backend. */
#include "helpers.h"

#include <math.h>

/* Open queue `name` of the test's backend. */
static sitq_queue *open_queue(tq_env *e, const char *name) {
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(e->backend, name, &q, &tq_err));
    return q;
}

/* A worker of queues[0..n) with one handler for "f" (and every "f*"). */
static sitq_worker *multi_worker(sitq_queue **queues, size_t n, int order, int prefetch, int burst,
                                 sitq_handler_fn fn, void *ud) {
    sitq_worker_options o;
    tq_worker_opts(&o, 1, prefetch);
    o.queue_order = order;
    o.burst = burst;
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create_multi(queues, n, &o, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "f", fn, ud, &tq_err));
    return w;
}

static void enqueue_n(sitq_queue *q, sitq_task_id *ids, int n) {
    for (int i = 0; i < n; i++) ids[i] = tq_enqueue(q, "f", NULL);
}

/* Run the worker until its burst ends, then check every id ran in `want`
 * order. */
static void expect_order(tq_rec *rec, const sitq_task_id *want, size_t n) {
    assert_int_equal(tq_rec_count(rec), n);
    for (size_t i = 0; i < n; i++)
        if (rec->ids[i] != want[i])
            fail_msg("position %zu: ran task %lld, expected %lld", i, (long long)rec->ids[i],
                     (long long)want[i]);
}

static void run_burst(sitq_worker *w) {
    TQ_OK(sitq_worker_start(w, &tq_err));
    TQ_OK(sitq_worker_wait(w, 60, &tq_err));
    assert_int_equal(sitq_worker_drained(w), 1);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
}

/* Priority order drains the first queue before the second, whatever the
 * age of the tasks and the prefetch. */
static void priority_drains_first(tq_env *e, int prefetch) {
    sitq_queue *high = open_queue(e, "high"), *low = open_queue(e, "low");
    sitq_task_id l[4], h[3];
    enqueue_n(low, l, 4); /* older than the high ones */
    enqueue_n(high, h, 3);
    tq_rec rec;
    tq_rec_init(&rec, 16);
    sitq_queue *qs[] = {high, low};
    sitq_worker *w = multi_worker(qs, 2, SITQ_QUEUE_ORDER_PRIORITY, prefetch, 1, tq_h_record, &rec);
    run_burst(w);
    sitq_task_id want[] = {h[0], h[1], h[2], l[0], l[1], l[2], l[3]};
    expect_order(&rec, want, 7);
    assert_int_equal(tq_stats(high).count[SITQ_SUCCEEDED], 3);
    assert_int_equal(tq_stats(low).count[SITQ_SUCCEEDED], 4);
    sitq_worker_free(w);
    tq_rec_free(&rec);
    sitq_queue_close(high);
    sitq_queue_close(low);
}

static void test_priority_drains_first_queue(void **state) { priority_drains_first(*state, 0); }
static void test_priority_drains_first_prefetch(void **state) { priority_drains_first(*state, 64); }

/* Round-robin alternates between the queues while both have tasks, then
 * drains the longer one; with one task per claim and with one batch. */
static void round_robin_alternates(tq_env *e, int prefetch) {
    sitq_queue *a = open_queue(e, "a"), *b = open_queue(e, "b");
    sitq_task_id ia[3], ib[5];
    enqueue_n(b, ib, 5); /* b's tasks are older: the rotation, not age, decides */
    enqueue_n(a, ia, 3);
    tq_rec rec;
    tq_rec_init(&rec, 16);
    sitq_queue *qs[] = {a, b};
    sitq_worker *w =
        multi_worker(qs, 2, SITQ_QUEUE_ORDER_ROUND_ROBIN, prefetch, 1, tq_h_record, &rec);
    run_burst(w);
    sitq_task_id want[] = {ia[0], ib[0], ia[1], ib[1], ia[2], ib[2], ib[3], ib[4]};
    expect_order(&rec, want, 8);
    sitq_worker_free(w);
    tq_rec_free(&rec);
    sitq_queue_close(a);
    sitq_queue_close(b);
}

static void test_round_robin_alternates(void **state) { round_robin_alternates(*state, 0); }
static void test_round_robin_alternates_batch(void **state) { round_robin_alternates(*state, 16); }

/* A handler that holds its first call until the test opens the gate. */
typedef struct gate {
    tq_rec rec;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int first_started, open;
} gate;

static void gate_init(gate *g) {
    memset(g, 0, sizeof *g);
    tq_rec_init(&g->rec, 16);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

static void gate_free(gate *g) {
    tq_rec_free(&g->rec);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

static void gate_wait_started(gate *g) {
    pthread_mutex_lock(&g->mu);
    while (!g->first_started) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(gate *g) {
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static int h_gated(sitq_task_ctx *ctx, const void *p, size_t len, void *ud) {
    gate *g = ud;
    pthread_mutex_lock(&g->mu);
    if (!g->first_started) {
        g->first_started = 1;
        pthread_cond_broadcast(&g->cv);
        while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return tq_h_record(ctx, p, len, &g->rec);
}

/* Priority order: a task that becomes ready in the first queue while the
 * second one's task runs is the next to run. */
static void test_priority_new_high_task_next(void **state) {
    tq_env *e = *state;
    sitq_queue *high = open_queue(e, "high"), *low = open_queue(e, "low");
    sitq_task_id l[3];
    enqueue_n(low, l, 3);
    gate g;
    gate_init(&g);
    sitq_queue *qs[] = {high, low};
    sitq_worker *w = multi_worker(qs, 2, SITQ_QUEUE_ORDER_PRIORITY, 0, 0, h_gated, &g);
    TQ_OK(sitq_worker_start(w, &tq_err));
    gate_wait_started(&g); /* l[0] is running */
    sitq_task_id h = tq_enqueue(high, "f", NULL);
    gate_open(&g);
    sitq_result *r = tq_wait_done(low, l[2], 30);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_task_id want[] = {l[0], h, l[1], l[2]};
    expect_order(&g.rec, want, 4);
    sitq_worker_free(w);
    gate_free(&g);
    sitq_queue_close(high);
    sitq_queue_close(low);
}

/* Bad input to sitq_worker_create_multi and sitq_worker_wait. */
static void test_multi_errors(void **state) {
    tq_env *e = *state;
    sitq_queue *a = open_queue(e, "a");
    sitq_worker *w = NULL;
    sitq_queue *none[] = {NULL};
    TQ_ERR(SITQ_EINVAL, sitq_worker_create_multi(NULL, 1, NULL, &w, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "queues", "1..", sitq_worker_create_multi(&a, 0, NULL, &w, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "queues", "1..",
               sitq_worker_create_multi(&a, SITQ_WORKER_QUEUES_MAX + 1, NULL, &w, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "queues[0]", "NULL",
               sitq_worker_create_multi(none, 1, NULL, &w, &tq_err));
    sitq_queue *a2 = open_queue(e, "a");
    sitq_queue *twice[] = {a, a2};
    TQ_ERR_MSG(SITQ_EINVAL, "twice", "'a'", sitq_worker_create_multi(twice, 2, NULL, &w, &tq_err));
    sitq_backend *other = NULL;
    TQ_OK(tq_open_backend(e, &other, &tq_err));
    sitq_queue *b = NULL;
    TQ_OK(sitq_queue_open(other, "b", &b, &tq_err));
    sitq_queue *mixed[] = {a, b};
    TQ_ERR_MSG(SITQ_EINVAL, "different backends", "backend",
               sitq_worker_create_multi(mixed, 2, NULL, &w, &tq_err));
    sitq_worker_options o;
    sitq_worker_options_init(&o);
    o.queue_order = 2;
    TQ_ERR_MSG(SITQ_EINVAL, "queue_order", "order",
               sitq_worker_create_multi(&a, 1, &o, &w, &tq_err));
    sitq_worker_options_init(&o);
    o.burst = 2;
    TQ_ERR_MSG(SITQ_EINVAL, "burst", "0 or 1", sitq_worker_create_multi(&a, 1, &o, &w, &tq_err));
    sitq_worker_options_init(&o);
    o.burst_eta_bound_s = -1;
    TQ_ERR_MSG(SITQ_EINVAL, "burst_eta_bound_s", "seconds", sitq_worker_create(a, &o, &w, &tq_err));
    o.burst_eta_bound_s = NAN;
    TQ_ERR_MSG(SITQ_EINVAL, "burst_eta_bound_s", "seconds", sitq_worker_create(a, &o, &w, &tq_err));
    assert_null(w);
    TQ_ERR(SITQ_EINVAL, sitq_worker_wait(NULL, 1, &tq_err));
    TQ_OK(sitq_worker_create(a, NULL, &w, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_worker_wait(w, NAN, &tq_err));
    TQ_OK(sitq_worker_wait(w, 0, &tq_err)); /* not started: nothing to wait for */
    assert_int_equal(sitq_worker_drained(w), 0);
    assert_int_equal(sitq_worker_drained(NULL), 0);
    sitq_worker_free(w);
    sitq_queue_close(b);
    sitq_backend_close(other);
    sitq_queue_close(a2);
    sitq_queue_close(a);
}

/* Burst mode with nothing to do ends at once; a task scheduled past the
 * bound and a task no handler takes do not hold it. */
static void test_burst_ignores_far_and_foreign(void **state) {
    tq_env *e = *state;
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.delay_s = 3600;
    sitq_task_id far = tq_enqueue(e->queue, "f", &o);
    sitq_task_id foreign = tq_enqueue(e->queue, "g", NULL);
    tq_rec rec;
    tq_rec_init(&rec, 4);
    sitq_worker *w =
        multi_worker(&e->queue, 1, SITQ_QUEUE_ORDER_PRIORITY, -1, 1, tq_h_record, &rec);
    run_burst(w);
    assert_int_equal(tq_rec_count(&rec), 0);
    assert_int_equal(tq_status(e->queue, far), SITQ_SCHEDULED);
    assert_int_equal(tq_status(e->queue, foreign), SITQ_QUEUED);
    /* Started again (reset), now with a bound that covers the far task: it
     * holds the worker, so a wait with a short timeout times out. */
    sitq_worker_free(w);
    sitq_worker_options wo;
    tq_worker_opts(&wo, 1, 0);
    wo.burst = 1;
    wo.burst_eta_bound_s = 7200;
    TQ_OK(sitq_worker_create(e->queue, &wo, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "f", tq_h_record, &rec, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    TQ_ERR(SITQ_ETIMEDOUT, sitq_worker_wait(w, 0.3, &tq_err));
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    assert_int_equal(sitq_worker_drained(w), 0); /* stopped, not drained */
    sitq_worker_free(w);
    tq_rec_free(&rec);
}

/* A handler that fails the first attempt and succeeds the next. */
static int h_fail_once(sitq_task_ctx *ctx, const void *p, size_t len, void *ud) {
    (void)p;
    (void)len;
    atomic_fetch_add((atomic_int *)ud, 1);
    if (sitq_ctx_attempt(ctx) == 1) {
        sitq_ctx_set_error(ctx, "first attempt fails", NULL);
        return 1;
    }
    return 0;
}

/* A retry due within the bound holds the worker, which runs it. */
static void test_burst_waits_for_retry(void **state) {
    tq_env *e = *state;
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.max_retries = 1;
    o.backoff_base_s = 0.2;
    o.backoff_jitter = 0;
    sitq_task_id id = tq_enqueue(e->queue, "f", &o);
    atomic_int calls = 0;
    sitq_worker *w =
        multi_worker(&e->queue, 1, SITQ_QUEUE_ORDER_PRIORITY, -1, 1, h_fail_once, &calls);
    run_burst(w);
    assert_int_equal(atomic_load(&calls), 2);
    sitq_result *r = tq_get(e->queue, id);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_int_equal(r->attempts, 2);
    sitq_result_free(r);
    sitq_worker_free(w);
}

/* A task waiting on a dependency that another worker runs (a function this
 * worker has no handler for) holds the burst worker, which runs it once the
 * dependency succeeded. */
static void test_burst_waits_for_dependency(void **state) {
    tq_env *e = *state;
    sitq_task_id parent = tq_enqueue(e->queue, "p", NULL);
    gate g;
    gate_init(&g);
    sitq_worker *wp = tq_worker_new(e->queue, 1, 0, "p", h_gated, &g);
    TQ_OK(sitq_worker_start(wp, &tq_err));
    gate_wait_started(&g); /* the parent is running */
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.depends_on = &parent;
    o.n_depends_on = 1;
    sitq_task_id child = tq_enqueue(e->queue, "f", &o);
    assert_int_equal(tq_status(e->queue, child), SITQ_WAITING);
    tq_rec rec;
    tq_rec_init(&rec, 4);
    sitq_worker *w = multi_worker(&e->queue, 1, SITQ_QUEUE_ORDER_PRIORITY, 0, 1, tq_h_record, &rec);
    TQ_OK(sitq_worker_start(w, &tq_err));
    TQ_ERR(SITQ_ETIMEDOUT, sitq_worker_wait(w, 0.3, &tq_err)); /* held by the waiting child */
    gate_open(&g);
    TQ_OK(sitq_worker_wait(w, 60, &tq_err));
    assert_int_equal(sitq_worker_drained(w), 1);
    assert_int_equal(tq_status(e->queue, parent), SITQ_SUCCEEDED);
    assert_int_equal(tq_status(e->queue, child), SITQ_SUCCEEDED);
    expect_order(&rec, &child, 1);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    TQ_OK(sitq_worker_stop(wp, -1, &tq_err));
    sitq_worker_free(w);
    sitq_worker_free(wp);
    tq_rec_free(&rec);
    gate_free(&g);
}

/* A task of the worker's queue running in another worker holds the burst
 * worker until it ends. */
static void test_burst_waits_for_running_elsewhere(void **state) {
    tq_env *e = *state;
    sitq_task_id t = tq_enqueue(e->queue, "f", NULL);
    gate g;
    gate_init(&g);
    sitq_worker *other = multi_worker(&e->queue, 1, SITQ_QUEUE_ORDER_PRIORITY, 0, 0, h_gated, &g);
    TQ_OK(sitq_worker_start(other, &tq_err));
    gate_wait_started(&g);
    tq_rec rec;
    tq_rec_init(&rec, 4);
    sitq_worker *w = multi_worker(&e->queue, 1, SITQ_QUEUE_ORDER_PRIORITY, 0, 1, tq_h_record, &rec);
    TQ_OK(sitq_worker_start(w, &tq_err));
    TQ_ERR(SITQ_ETIMEDOUT, sitq_worker_wait(w, 0.3, &tq_err)); /* held by the running task */
    gate_open(&g);
    TQ_OK(sitq_worker_wait(w, 60, &tq_err));
    assert_int_equal(sitq_worker_drained(w), 1);
    assert_int_equal(tq_status(e->queue, t), SITQ_SUCCEEDED);
    assert_int_equal(tq_rec_count(&rec), 0);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    TQ_OK(sitq_worker_stop(other, -1, &tq_err));
    sitq_worker_free(w);
    sitq_worker_free(other);
    tq_rec_free(&rec);
    gate_free(&g);
}

/* sitq_worker_process_task finds the task in any of the worker's queues. */
static void test_process_task_second_queue(void **state) {
    tq_env *e = *state;
    sitq_queue *b = open_queue(e, "b");
    sitq_task_id id = tq_enqueue(b, "f", NULL);
    tq_rec rec;
    tq_rec_init(&rec, 4);
    sitq_queue *qs[] = {e->queue, b};
    sitq_worker *w = multi_worker(qs, 2, SITQ_QUEUE_ORDER_PRIORITY, 0, 0, tq_h_record, &rec);
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_string_equal(r->queue, "b");
    sitq_result_free(r);
    assert_int_equal(tq_stats(b).count[SITQ_SUCCEEDED], 1);
    assert_int_equal(tq_stats(e->queue).count[SITQ_SUCCEEDED], 0);
    TQ_ERR(SITQ_ENOTFOUND, sitq_worker_process_task(w, id + 1000, NULL, &tq_err));
    sitq_worker_free(w);
    tq_rec_free(&rec);
    sitq_queue_close(b);
}

/* Records the queue of each task it runs. */
typedef struct queue_rec {
    pthread_mutex_t mu;
    char names[8][32];
    int n;
} queue_rec;

static int h_queue(sitq_task_ctx *ctx, const void *p, size_t len, void *ud) {
    (void)p;
    (void)len;
    queue_rec *r = ud;
    pthread_mutex_lock(&r->mu);
    if (r->n < 8) snprintf(r->names[r->n++], sizeof r->names[0], "%s", sitq_ctx_queue(ctx));
    pthread_mutex_unlock(&r->mu);
    return 0;
}

/* Burst mode set per run (sitq_worker_set_burst) and the task's queue as a
 * handler sees it (sitq_ctx_queue). */
static void test_set_burst_and_ctx_queue(void **state) {
    tq_env *e = *state;
    sitq_queue *b = open_queue(e, "second");
    tq_enqueue(b, "f", NULL);
    tq_enqueue(e->queue, "f", NULL);
    queue_rec rec;
    memset(&rec, 0, sizeof rec);
    pthread_mutex_init(&rec.mu, NULL);
    sitq_queue *qs[] = {e->queue, b};
    sitq_worker *w = multi_worker(qs, 2, SITQ_QUEUE_ORDER_PRIORITY, 0, 0, h_queue, &rec);
    TQ_ERR(SITQ_EINVAL, sitq_worker_set_burst(NULL, 1, -1, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "burst", "0 or 1", sitq_worker_set_burst(w, 3, -1, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "eta_bound_s", "seconds", sitq_worker_set_burst(w, 1, NAN, &tq_err));
    TQ_OK(sitq_worker_set_burst(w, 1, 5, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    TQ_ERR_MSG(SITQ_ESTATE, "started", "start", sitq_worker_set_burst(w, 0, -1, &tq_err));
    TQ_OK(sitq_worker_wait(w, 60, &tq_err));
    assert_int_equal(sitq_worker_drained(w), 1);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    assert_int_equal(rec.n, 2);
    assert_string_equal(rec.names[0], "default");
    assert_string_equal(rec.names[1], "second");
    assert_null(sitq_ctx_queue(NULL));
    sitq_worker_free(w);
    pthread_mutex_destroy(&rec.mu);
    sitq_queue_close(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_priority_drains_first_queue, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_priority_drains_first_prefetch, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_round_robin_alternates, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_round_robin_alternates_batch, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_priority_new_high_task_next, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_multi_errors, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_burst_ignores_far_and_foreign, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_burst_waits_for_retry, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_burst_waits_for_dependency, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_burst_waits_for_running_elsewhere, tq_setup,
                                        tq_teardown),
        cmocka_unit_test_setup_teardown(test_process_task_second_queue, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_set_burst_and_ctx_queue, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
