/* test_worker.c - worker lifecycle: counters, graceful stop, stop timeout, restart. */
#include "helpers.h"

static void test_worker_1000_tasks(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    enum { N = 1000 };
    sitq_task_spec *specs = calloc(N, sizeof *specs);
    sitq_task_id *ids = calloc(N, sizeof *ids);
    for (int i = 0; i < N; i++) specs[i].function = "one";
    TQ_OK(sitq_enqueue_batch(q, specs, N, ids, &tq_err));
    free(specs);

    tq_rec rec;
    tq_rec_init(&rec, N);
    sitq_worker *w = tq_worker_new(q, 1, 1, "one", tq_h_record, &rec);
    TQ_OK(sitq_worker_start(w, &tq_err));
    int done = tq_poll_count(q, SITQ_SUCCEEDED, N, 120);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    assert_true(done);
    sitq_worker_stats ws;
    memset(&ws, 0x7f, sizeof ws);
    sitq_worker_get_stats(w, &ws);
    sitq_worker_free(w);

    assert_int_equal(rec.n, N);
    assert_int_equal(atomic_load(&rec.max_active), 1);
    /* FIFO within one priority */
    for (int i = 0; i < N; i++) assert_int_equal(rec.ids[i], ids[i]);
    assert_int_equal(ws.claimed, N);
    assert_int_equal(ws.succeeded, N);
    assert_int_equal(ws.failed, 0);
    assert_int_equal(ws.released, 0);
    assert_int_equal(ws.lost, 0);
    assert_int_equal(ws.running, 0);
    assert_true(ws.commits >= 1);

    sitq_stats st = tq_stats(q);
    assert_int_equal(st.count[SITQ_SUCCEEDED], N);
    assert_int_equal(st.total, N);
    sitq_result **items = NULL;
    size_t n = 0;
    TQ_OK(sitq_list(q, SITQ_STATUS_ANY, N, 0, &items, &n, &tq_err));
    assert_int_equal(n, N);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(items[i]->status, SITQ_SUCCEEDED);
        assert_int_equal(items[i]->attempts, 1);
        assert_true(items[i]->finished_at_us >= items[i]->started_at_us);
    }
    sitq_result_list_free(items, n);
    tq_rec_free(&rec);
    free(ids);
}

/* Tasks that trickle in, each enqueued after the previous one finished:
 * a claim and a completion per task, two commits. A success that released
 * nothing used to announce tasks ready to the worker's own dispatcher,
 * which ran an empty claim after each: three commits per task. */
static void test_trickle_two_commits_per_task(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_worker_options o;
    tq_worker_opts(&o, 1, 0);
    o.poll_interval_s = 3600;    /* woken by the enqueues, never by the clock */
    o.heartbeat_interval_s = 10; /* no registry writes during the test */
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(q, &o, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "one", tq_h_echo, NULL, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_task_id first = tq_enqueue(q, "one", NULL);
    sitq_result_free(tq_wait_done(q, first, 30));
    sitq_worker_stats before, after;
    sitq_worker_get_stats(w, &before);
    enum { N = 60 };
    for (int i = 0; i < N; i++) {
        sitq_task_id id = tq_enqueue(q, "one", NULL);
        sitq_result *r = tq_wait_done(q, id, 30);
        assert_int_equal(r->status, SITQ_SUCCEEDED);
        sitq_result_free(r);
    }
    sitq_worker_get_stats(w, &after);
    TQ_OK(sitq_worker_stop(w, 30, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(after.succeeded - before.succeeded, N);
    int64_t commits = after.commits - before.commits;
    /* 2 per task, and lease recovery about once a second */
    if (commits < N || commits > 2 * N + 10)
        fail_msg("%lld commits for %d tasks", (long long)commits, N);
}

static void test_worker_mixed_outcomes_stats(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_worker *w = tq_worker_new(q, 2, 2, "ok", tq_h_echo, NULL);
    TQ_OK(sitq_worker_register(w, "bad", tq_h_fail, NULL, &tq_err));
    sitq_task_id ids[30];
    for (int i = 0; i < 30; i++) ids[i] = tq_enqueue(q, i % 3 == 0 ? "bad" : "ok", NULL);
    TQ_OK(sitq_worker_start(w, &tq_err));
    for (int i = 0; i < 30; i++) {
        sitq_result *r = tq_wait_done(q, ids[i], 20);
        assert_int_equal(r->status, i % 3 == 0 ? SITQ_FAILED : SITQ_SUCCEEDED);
        assert_string_equal(r->worker_id, sitq_worker_id(w));
        sitq_result_free(r);
    }
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);
    assert_int_equal(ws.claimed, 30);
    assert_int_equal(ws.succeeded, 20);
    assert_int_equal(ws.failed, 10);
    assert_int_equal(ws.running, 0);
    sitq_worker_free(w);
}

/* What the completion function saw (written on the dispatcher thread). */
typedef struct seen_completions {
    pthread_mutex_t mu;
    int n, n_ok, n_failed, n_not_applied, n_bad_error;
    sitq_task_id ids[64];
} seen_completions;

static void record_completion(const sitq_completion_info *info, void *ud) {
    seen_completions *s = ud;
    pthread_mutex_lock(&s->mu);
    if (s->n < 64) s->ids[s->n] = info->id;
    s->n++;
    if (!info->applied) s->n_not_applied++;
    if (info->succeeded) {
        s->n_ok++;
        if (info->error != NULL) s->n_bad_error++;
    } else {
        s->n_failed++;
        if (info->error == NULL || strcmp(info->error, "boom") != 0) s->n_bad_error++;
    }
    pthread_mutex_unlock(&s->mu);
}

static void test_completion_function(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    seen_completions seen;
    memset(&seen, 0, sizeof seen);
    pthread_mutex_init(&seen.mu, NULL);
    TQ_ERR(SITQ_EINVAL, sitq_worker_on_completion(NULL, record_completion, &seen, &tq_err));
    sitq_worker *w = tq_worker_new(q, 2, 2, "ok", tq_h_echo, NULL);
    TQ_OK(sitq_worker_register(w, "bad", tq_h_fail, NULL, &tq_err));
    TQ_OK(sitq_worker_on_completion(w, record_completion, &seen, &tq_err));
    sitq_task_id ids[12];
    for (int i = 0; i < 12; i++) ids[i] = tq_enqueue(q, i % 4 == 0 ? "bad" : "ok", NULL);
    TQ_OK(sitq_worker_start(w, &tq_err));
    TQ_ERR(SITQ_ESTATE, sitq_worker_on_completion(w, NULL, NULL, &tq_err));
    for (int i = 0; i < 12; i++) sitq_result_free(tq_wait_done(q, ids[i], 20));
    /* stop joins the dispatcher: every call has been made */
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    assert_int_equal(seen.n, 12);
    assert_int_equal(seen.n_ok, 9);
    assert_int_equal(seen.n_failed, 3);
    assert_int_equal(seen.n_not_applied, 0);
    assert_int_equal(seen.n_bad_error, 0);
    for (int i = 0; i < 12; i++) {
        int found = 0;
        for (int j = 0; j < 12; j++) found += seen.ids[j] == ids[i];
        assert_int_equal(found, 1);
    }
    sitq_worker_free(w);
    pthread_mutex_destroy(&seen.mu);
}

static void test_graceful_stop(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    enum { N = 20 };
    tq_rec rec;
    tq_rec_init(&rec, N);
    rec.sleep_ms = 200;
    sitq_task_id ids[N];
    for (int i = 0; i < N; i++) ids[i] = tq_enqueue(q, "slow", NULL);
    sitq_worker *w = tq_worker_new(q, 2, 100, "slow", tq_h_record, &rec);
    TQ_OK(sitq_worker_start(w, &tq_err));
    int64_t end = tq_mono_ms() + 10000;
    while (atomic_load(&rec.calls) < 2 && tq_mono_ms() < end) tq_sleep_ms(1);
    assert_int_equal(atomic_load(&rec.calls), 2);
    /* let the dispatcher claim the prefetch */
    tq_sleep_ms(30);
    sitq_worker_stats mid;
    sitq_worker_get_stats(w, &mid);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);

    size_t started = rec.n;
    assert_true(started >= 2 && started < N);
    assert_int_equal(ws.running, 0);
    assert_int_equal(ws.succeeded, (int64_t)started);
    assert_int_equal(ws.failed, 0);
    assert_int_equal(ws.claimed, ws.succeeded + ws.released);
    assert_true(mid.claimed > 2); /* prefetch claimed beyond concurrency */
    assert_true(ws.released >= 1);

    int n_succeeded = 0, n_queued = 0;
    for (int i = 0; i < N; i++) {
        sitq_result *r = tq_get(q, ids[i]);
        int ran = 0;
        for (size_t k = 0; k < started; k++) ran |= rec.ids[k] == ids[i];
        if (ran) {
            assert_int_equal(r->status, SITQ_SUCCEEDED);
            assert_int_equal(r->attempts, 1);
            n_succeeded++;
        } else {
            if (r->status != SITQ_QUEUED || r->attempts != 0)
                fail_msg("unstarted task %lld: status %s attempts %d, expected queued/0",
                         (long long)ids[i], sitq_status_name(r->status), r->attempts);
            n_queued++;
        }
        sitq_result_free(r);
    }
    assert_int_equal(n_succeeded, (int)started);
    assert_int_equal(n_queued, N - (int)started);

    /* a stopped worker can be started again and finishes the rest */
    rec.sleep_ms = 0;
    TQ_OK(sitq_worker_start(w, &tq_err));
    assert_true(tq_poll_count(q, SITQ_SUCCEEDED, N, 30));
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(rec.n, N);
    for (int i = 0; i < N; i++) {
        sitq_result *r = tq_get(q, ids[i]);
        assert_int_equal(r->status, SITQ_SUCCEEDED);
        assert_int_equal(r->attempts, 1);
        sitq_result_free(r);
    }
    tq_rec_free(&rec);
}

static void test_stop_timeout(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    tq_block blk;
    memset(&blk, 0, sizeof blk);
    blk.max_ms = 20000;
    sitq_worker *w = tq_worker_new(q, 1, 1, "blk", tq_h_block, &blk);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_task_id id = tq_enqueue(q, "blk", NULL);
    int64_t end = tq_mono_ms() + 10000;
    while (atomic_load(&blk.started) == 0 && tq_mono_ms() < end) tq_sleep_ms(1);
    assert_int_equal(atomic_load(&blk.started), 1);
    int64_t t0 = tq_mono_ms();
    TQ_ERR(SITQ_ETIMEDOUT, sitq_worker_stop(w, 0.2, &tq_err));
    assert_true(tq_mono_ms() - t0 < 15000);
    sitq_worker_free(w); /* waits for the handler, which sees its cancel flag */
    assert_int_equal(atomic_load(&blk.saw_cancel), 1);
    assert_int_equal(atomic_load(&blk.finished), 1);
    sitq_result *r = tq_get(q, id);
    assert_true(r->status != SITQ_RUNNING);
    assert_int_equal(r->attempts, 1);
    sitq_result_free(r);
}

/* sitq_worker_stop_wait waits without asking the running task to stop: a
 * handler that ends on its cancel flag is still running after two waits,
 * and ends once sitq_worker_stop's time limit sets the flag. */
static void test_stop_wait_leaves_the_flags(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    tq_block blk;
    memset(&blk, 0, sizeof blk);
    blk.max_ms = 20000;
    sitq_worker *w = tq_worker_new(q, 1, 1, "blk", tq_h_block, &blk);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_task_id id = tq_enqueue(q, "blk", NULL);
    int64_t end = tq_mono_ms() + 10000;
    while (atomic_load(&blk.started) == 0 && tq_mono_ms() < end) tq_sleep_ms(1);
    assert_int_equal(atomic_load(&blk.started), 1);
    TQ_ERR(SITQ_ETIMEDOUT, sitq_worker_stop_wait(w, 0.1, &tq_err));
    assert_non_null(strstr(tq_err.message, "1 task(s) still running after 0.1 s"));
    assert_null(strstr(tq_err.message, "cancel"));
    TQ_ERR(SITQ_ETIMEDOUT, sitq_worker_stop_wait(w, 0.1, &tq_err));
    assert_int_equal(atomic_load(&blk.saw_cancel), 0);
    assert_int_equal(atomic_load(&blk.finished), 0);
    TQ_ERR(SITQ_ETIMEDOUT, sitq_worker_stop(w, 0, &tq_err)); /* sets the flag */
    TQ_OK(sitq_worker_stop_wait(w, -1, &tq_err));
    assert_int_equal(atomic_load(&blk.saw_cancel), 1);
    sitq_result *r = tq_get(q, id);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_string_equal(r->error, "stopped by cancel flag");
    sitq_result_free(r);
    TQ_ERR(SITQ_EINVAL, sitq_worker_stop_wait(NULL, 1, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_worker_stop_wait(w, 0.0 / 0.0, &tq_err));
    sitq_worker_free(w);
}

static void test_free_running_worker(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    tq_rec rec;
    tq_rec_init(&rec, 64);
    rec.sleep_ms = 10;
    for (int i = 0; i < 20; i++) tq_enqueue(q, "f", NULL);
    sitq_worker *w = tq_worker_new(q, 3, 3, "f", tq_h_record, &rec);
    TQ_OK(sitq_worker_start(w, &tq_err));
    tq_sleep_ms(30);
    sitq_worker_free(w); /* stops without a time limit */
    sitq_stats st = tq_stats(q);
    assert_int_equal(st.count[SITQ_RUNNING], 0);
    assert_int_equal(st.count[SITQ_SUCCEEDED], (int64_t)rec.n);
    assert_int_equal(st.count[SITQ_QUEUED], 20 - (int64_t)rec.n);
    tq_rec_free(&rec);
}

/* A handler that frees (then stops) its own worker: both refused, the free
 * by doing nothing (it would pull the worker from under the handler). */
static int h_free_own_worker(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)p;
    (void)n;
    sitq_worker *w = *(sitq_worker **)ud;
    sitq_worker_free(w);
    sitq_error e;
    const char *v = sitq_worker_stop(w, 1, &e) == SITQ_ESTATE ? "refused" : "stopped";
    return sitq_ctx_set_result(ctx, v, strlen(v)) == SITQ_OK ? 0 : 1;
}

static void test_free_from_own_handler(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_worker *w = NULL;
    sitq_task_id id = tq_enqueue(q, "f", NULL);
    w = tq_worker_new(q, 2, 0, "f", h_free_own_worker, &w);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_result *r = tq_wait_done(q, id, 30);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_int_equal(r->value_len, 7);
    assert_memory_equal(r->value, "refused", 7);
    sitq_result_free(r);
    /* the worker still runs its tasks */
    id = tq_enqueue(q, "f", NULL);
    r = tq_wait_done(q, id, 30);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    sitq_worker_free(w);

    /* the same from a handler that sitq_worker_process_task runs on this
     * thread (it freed the worker process_task was using) */
    w = tq_worker_new(q, 1, 0, "f", h_free_own_worker, &w);
    id = tq_enqueue(q, "f", NULL);
    r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_memory_equal(r->value, "refused", 7);
    sitq_result_free(r);
    sitq_worker_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_worker_1000_tasks, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_trickle_two_commits_per_task, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_worker_mixed_outcomes_stats, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_completion_function, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_graceful_stop, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_stop_timeout, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_stop_wait_leaves_the_flags, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_free_running_worker, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_free_from_own_handler, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests_name("worker", tests, NULL, NULL);
}
