/* test_schedule.c - priority order (higher first, FIFO within a priority) and ETA/delay. */
#include "helpers.h"

typedef struct {
    sitq_task_id id;
    int prio;
} prio_task;

static int cmp_prio(const void *a, const void *b) {
    const prio_task *x = a, *y = b;
    if (x->prio != y->prio) return x->prio > y->prio ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

static void run_priority_order(sitq_queue *q, int prefetch, int use_batch) {
    static const int prios[] = {0,  5, 0, 10, 5, -3,        10,        0,         2,         5, -3,
                                10, 0, 1, 1,  7, INT32_MIN, INT32_MAX, INT32_MIN, INT32_MAX, -1};
    enum { N = sizeof prios / sizeof prios[0] };
    prio_task t[N];
    sitq_task_options opts[N];
    if (use_batch) {
        sitq_task_spec specs[N];
        sitq_task_id ids[N];
        memset(specs, 0, sizeof specs);
        for (int i = 0; i < N; i++) {
            sitq_task_options_init(&opts[i]);
            opts[i].priority = prios[i];
            specs[i].function = "p";
            specs[i].options = &opts[i];
        }
        TQ_OK(sitq_enqueue_batch(q, specs, N, ids, &tq_err));
        for (int i = 0; i < N; i++) t[i] = (prio_task){ids[i], prios[i]};
    } else {
        for (int i = 0; i < N; i++) {
            sitq_task_options_init(&opts[i]);
            opts[i].priority = prios[i];
            t[i] = (prio_task){tq_enqueue(q, "p", &opts[i]), prios[i]};
        }
    }
    for (int i = 0; i < N; i++) {
        sitq_result *r = tq_get(q, t[i].id);
        assert_int_equal(r->priority, prios[i]);
        sitq_result_free(r);
    }
    qsort(t, N, sizeof t[0], cmp_prio);

    tq_rec rec;
    tq_rec_init(&rec, N);
    sitq_worker *w = tq_worker_new(q, 1, prefetch, "p", tq_h_record, &rec);
    TQ_OK(sitq_worker_start(w, &tq_err));
    for (int i = 0; i < N; i++) {
        sitq_result *r = tq_wait_done(q, t[i].id, 30);
        assert_int_equal(r->status, SITQ_SUCCEEDED);
        sitq_result_free(r);
    }
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(rec.n, N);
    for (int i = 0; i < N; i++) {
        if (rec.ids[i] != t[i].id)
            fail_msg("position %d: ran task %lld, expected %lld (priority %d)", i,
                     (long long)rec.ids[i], (long long)t[i].id, t[i].prio);
    }
    tq_rec_free(&rec);
}

static void test_priority_order_prefetch0(void **state) {
    run_priority_order(TQ_ENV(state)->queue, 0, 0);
}

static void test_priority_order_prefetch1_batch(void **state) {
    run_priority_order(TQ_ENV(state)->queue, 1, 1);
}

static void test_priority_order_large_prefetch(void **state) {
    /* claimed tasks are started in claim (priority) order too */
    run_priority_order(TQ_ENV(state)->queue, 64, 0);
}

static void test_eta_delay(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    atomic_int calls = 0;
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_echo, &calls);
    sitq_task_options o;
    sitq_task_options_init(&o);
    /* Long enough that the checks before the ETA finish before it on a
     * loaded machine. */
    o.delay_s = 1.5;
    sitq_time_us before = sitq_now_us();
    sitq_task_id id = tq_enqueue(q, "f", &o);
    sitq_time_us after = sitq_now_us();

    sitq_result *r = tq_get(q, id);
    assert_int_equal(r->status, SITQ_SCHEDULED);
    assert_true(r->eta_us >= before + 1500000);
    assert_true(r->eta_us <= after + 1500000);
    sitq_time_us eta = r->eta_us;
    sitq_result_free(r);

    /* not ready yet */
    r = NULL;
    TQ_ERR(SITQ_ENOTREADY, sitq_worker_process_task(w, id, &r, &tq_err));
    assert_non_null(r);
    assert_int_equal(r->status, SITQ_SCHEDULED);
    assert_int_equal(r->attempts, 0);
    sitq_result_free(r);
    assert_int_equal(atomic_load(&calls), 0);
    if (sitq_now_us() < eta) {
        sitq_stats st = tq_stats(q);
        assert_int_equal(st.count[SITQ_SCHEDULED], 1);
    }

    /* once the ETA has passed it runs */
    while (sitq_now_us() < eta + 20000) tq_sleep_ms(10);
    r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_true(r->started_at_us >= eta);
    sitq_result_free(r);
    assert_int_equal(atomic_load(&calls), 1);
    sitq_worker_free(w);
}

static void test_eta_with_worker(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    tq_rec rec;
    tq_rec_init(&rec, 4);
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_record, &rec);
    TQ_OK(sitq_worker_start(w, &tq_err));

    sitq_task_options o;
    sitq_task_options_init(&o);
    o.delay_s = 1.2;  /* long enough for `now` to run first on a loaded machine */
    o.priority = 100; /* a delayed high-priority task does not block others */
    sitq_task_id late = tq_enqueue(q, "f", &o);
    sitq_task_options_init(&o);
    o.eta_us = sitq_now_us() + 1200000;
    sitq_task_id late_abs = tq_enqueue(q, "f", &o);
    sitq_result *r = tq_get(q, late_abs);
    assert_int_equal(r->eta_us, o.eta_us);
    assert_int_equal(r->status, SITQ_SCHEDULED);
    sitq_result_free(r);
    sitq_task_id now = tq_enqueue(q, "f", NULL);

    r = tq_wait_done(q, now, 10);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_time_us now_done = r->finished_at_us;
    sitq_result_free(r);
    r = tq_wait_done(q, late, 10);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_true(r->started_at_us >= r->eta_us);
    assert_true(r->started_at_us >= r->enqueued_at_us + 1200000);
    assert_true(r->started_at_us >= now_done);
    sitq_result_free(r);
    r = tq_wait_done(q, late_abs, 10);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_true(r->started_at_us >= o.eta_us);
    sitq_result_free(r);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(rec.n, 3);
    assert_int_equal(rec.ids[0], now);
    tq_rec_free(&rec);
}

/* A backend that notifies (PostgreSQL) lets idle workers poll rarely: a
 * worker of another backend that would poll once an hour still runs a
 * delayed task and a retry after its backoff, because its idle claims
 * learn when the next task becomes due. */
static void test_idle_worker_wakes_when_due(void **state) {
    tq_env *e = TQ_ENV(state);
    if (!tq_backend_is_postgres()) {
        skip(); /* SQLite's workers poll every 50 ms: no next-due lookup */
        return;
    }
    sitq_backend *b2 = NULL;
    sitq_queue *q2 = NULL;
    TQ_OK(tq_open_path(e->path, NULL, &b2, &tq_err));
    TQ_OK(sitq_queue_open(b2, NULL, &q2, &tq_err));
    sitq_worker_options wo;
    tq_worker_opts(&wo, 1, 0);
    wo.poll_interval_s = 3600;
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(q2, &wo, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "f", tq_h_echo, NULL, &tq_err));
    TQ_OK(sitq_worker_register(w, "bad", tq_h_fail, NULL, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.delay_s = 0.4;
    sitq_task_id late = tq_enqueue(e->queue, "f", &o);
    sitq_task_options_init(&o);
    o.max_retries = 1;
    o.backoff_base_s = 0.3;
    sitq_task_id bad = tq_enqueue(e->queue, "bad", &o);
    sitq_result *r = tq_wait_done(e->queue, late, 30);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_true(r->started_at_us >= r->eta_us);
    sitq_result_free(r);
    r = tq_wait_done(e->queue, bad, 30);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_int_equal(r->attempts, 2);
    sitq_result_free(r);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    sitq_queue_close(q2);
    sitq_backend_close(b2);
}

/* Tasks coming due at uneven times, each found by the next-due lookup
 * alone (the worker's poll is an hour): a task that comes due between the
 * claim and the lookup must not be missed by both. */
static void test_idle_worker_staggered_etas(void **state) {
    tq_env *e = TQ_ENV(state);
    if (!tq_backend_is_postgres()) {
        skip(); /* SQLite's workers poll every 50 ms: no next-due lookup */
        return;
    }
    enum { N = 400 };
    sitq_worker_options wo;
    tq_worker_opts(&wo, 1, 0);
    wo.poll_interval_s = 3600;
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(e->queue, &wo, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "f", tq_h_echo, NULL, &tq_err));
    sitq_task_spec specs[N];
    sitq_task_options opts[N];
    sitq_task_id ids[N];
    memset(specs, 0, sizeof specs);
    sitq_time_us at = sitq_now_us() + 200000;
    uint32_t seed = 12345;
    for (int i = 0; i < N; i++) {
        sitq_task_options_init(&opts[i]);
        seed = seed * 1103515245u + 12345u;
        at += (sitq_time_us)(seed >> 16) % 3000; /* 0-3 ms apart, out of step with the worker */
        opts[i].eta_us = at;
        specs[i].function = "f";
        specs[i].options = &opts[i];
    }
    TQ_OK(sitq_enqueue_batch(e->queue, specs, N, ids, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    for (int i = 0; i < N; i++) {
        sitq_result *r = tq_wait_done(e->queue, ids[i], 30);
        assert_int_equal(r->status, SITQ_SUCCEEDED);
        assert_true(r->started_at_us >= opts[i].eta_us);
        sitq_result_free(r);
    }
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
}

static void test_eta_in_past(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_echo, NULL);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.eta_us = sitq_now_us() - 10 * 1000000LL;
    sitq_task_id id = tq_enqueue(q, "f", &o);
    assert_int_equal(tq_status(q, id), SITQ_QUEUED);
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);

    /* with a running worker, too */
    o.eta_us = 1; /* 1970 */
    id = tq_enqueue(q, "f", &o);
    TQ_OK(sitq_worker_start(w, &tq_err));
    r = tq_wait_done(q, id, 10);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    sitq_worker_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_priority_order_prefetch0, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_priority_order_prefetch1_batch, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_priority_order_large_prefetch, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_eta_delay, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_eta_with_worker, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_eta_in_past, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_idle_worker_wakes_when_due, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_idle_worker_staggered_etas, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests_name("schedule", tests, NULL, NULL);
}
