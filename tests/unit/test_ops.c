/* test_ops.c - unique keys, cancel (queued and running), timeouts,
 * process_task, wait, list, purge, stats, queue isolation. */
#include "helpers.h"

static void test_unique_key(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue *q = e->queue;
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.unique_key = "report:42";
    sitq_task_id a = tq_enqueue(q, "f", &o);
    sitq_task_id a2 = tq_enqueue(q, "f", &o);
    assert_int_equal(a2, a);
    /* scheduled and waiting count as live too */
    o.delay_s = 30;
    assert_int_equal(tq_enqueue(q, "f", &o), a);
    o.delay_s = 0;
    assert_int_equal(tq_stats(q).total, 1);

    sitq_task_options o2;
    sitq_task_options_init(&o2);
    o2.unique_key = "report:43";
    sitq_task_id b = tq_enqueue(q, "f", &o2);
    assert_true(b != a);
    /* no key: always new */
    assert_true(tq_enqueue(q, "f", NULL) != tq_enqueue(q, "f", NULL));

    /* the same key in another queue is another task */
    sitq_queue *other = NULL;
    TQ_OK(sitq_queue_open(e->backend, "other", &other, &tq_err));
    sitq_task_id oa = tq_enqueue(other, "f", &o);
    assert_true(oa != a);
    assert_int_equal(tq_enqueue(other, "f", &o), oa);
    sitq_queue_close(other);

    /* a waiting task with a key */
    sitq_task_options ow;
    sitq_task_options_init(&ow);
    ow.unique_key = "waiter";
    ow.depends_on = &b;
    ow.n_depends_on = 1;
    sitq_task_id wtask = tq_enqueue(q, "f", &ow);
    assert_int_equal(tq_status(q, wtask), SITQ_WAITING);
    assert_int_equal(tq_enqueue(q, "f", &ow), wtask);

    /* after it finishes, a new id */
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_echo, NULL);
    TQ_OK(sitq_worker_process_task(w, a, NULL, &tq_err));
    assert_int_equal(tq_status(q, a), SITQ_SUCCEEDED);
    sitq_task_id a3 = tq_enqueue(q, "f", &o);
    assert_true(a3 != a);
    assert_true(a3 > a);
    assert_int_equal(tq_enqueue(q, "f", &o), a3);
    /* after cancel, a new id */
    TQ_OK(sitq_cancel(q, a3, NULL, &tq_err));
    sitq_task_id a4 = tq_enqueue(q, "f", &o);
    assert_true(a4 != a3 && a4 != a);
    /* after failure, a new id */
    sitq_worker *wf = tq_worker_new(q, 1, 1, "f", tq_h_fail, NULL);
    TQ_OK(sitq_worker_process_task(wf, a4, NULL, &tq_err));
    assert_int_equal(tq_status(q, a4), SITQ_FAILED);
    sitq_task_id a5 = tq_enqueue(q, "f", &o);
    assert_true(a5 != a4);
    sitq_worker_free(wf);
    sitq_worker_free(w);

    sitq_result *r = tq_get(q, a5);
    assert_string_equal(r->unique_key, "report:42");
    sitq_result_free(r);
}

static void test_unique_key_batch(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.unique_key = "batch-key";
    sitq_task_id first = tq_enqueue(q, "f", &o);
    sitq_task_spec specs[3];
    sitq_task_id ids[3];
    memset(specs, 0, sizeof specs);
    for (int i = 0; i < 3; i++) specs[i].function = "f";
    specs[1].options = &o;
    TQ_OK(sitq_enqueue_batch(q, specs, 3, ids, &tq_err));
    assert_int_equal(ids[1], first);
    assert_true(ids[0] != first && ids[2] != first && ids[0] != ids[2]);
    assert_int_equal(tq_stats(q).total, 3);
}

static void test_cancel_queued(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    tq_rec rec;
    tq_rec_init(&rec, 4);
    sitq_task_id a = tq_enqueue(q, "f", NULL);
    sitq_task_id b = tq_enqueue(q, "f", NULL);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.delay_s = 0.05;
    sitq_task_id s = tq_enqueue(q, "f", &o);
    sitq_status st = (sitq_status)-1;
    TQ_OK(sitq_cancel(q, a, &st, &tq_err));
    assert_int_equal(st, SITQ_CANCELLED);
    TQ_OK(sitq_cancel(q, s, NULL, &tq_err));
    sitq_result *r = tq_get(q, a);
    assert_int_equal(r->status, SITQ_CANCELLED);
    assert_int_equal(r->attempts, 0);
    assert_true(r->finished_at_us >= r->enqueued_at_us);
    sitq_result_free(r);

    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_record, &rec);
    r = NULL;
    TQ_ERR(SITQ_ENOTREADY, sitq_worker_process_task(w, a, &r, &tq_err));
    assert_int_equal(r->status, SITQ_CANCELLED);
    sitq_result_free(r);
    TQ_OK(sitq_worker_start(w, &tq_err));
    r = tq_wait_done(q, b, 10);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    tq_sleep_ms(150); /* past s's ETA: it must still not run */
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(rec.n, 1);
    assert_int_equal(rec.ids[0], b);
    assert_int_equal(tq_status(q, s), SITQ_CANCELLED);
    sitq_stats stt = tq_stats(q);
    assert_int_equal(stt.count[SITQ_CANCELLED], 2);
    assert_int_equal(stt.count[SITQ_SUCCEEDED], 1);
    tq_rec_free(&rec);
}

static void cancel_running(sitq_queue *q, int handler_succeeds) {
    tq_block blk;
    memset(&blk, 0, sizeof blk);
    blk.succeed = handler_succeeds;
    sitq_worker *w = tq_worker_new(q, 1, 1, "blk", tq_h_block, &blk);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.max_retries = 3; /* a cancelled task is not retried */
    sitq_task_id id = tq_enqueue(q, "blk", &o);
    int64_t end = tq_mono_ms() + 10000;
    while (atomic_load(&blk.started) == 0 && tq_mono_ms() < end) tq_sleep_ms(2);
    assert_int_equal(atomic_load(&blk.started), 1);
    assert_true(tq_poll_status(q, id, SITQ_RUNNING, 5));

    sitq_status st = (sitq_status)-1;
    TQ_OK(sitq_cancel(q, id, &st, &tq_err));
    assert_int_equal(st, SITQ_RUNNING);
    sitq_result *r = tq_wait_done(q, id, 10);
    assert_int_equal(r->status, handler_succeeds ? SITQ_SUCCEEDED : SITQ_CANCELLED);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(r->cancel_requested, 1);
    sitq_result_free(r);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(atomic_load(&blk.saw_cancel), 1);
    assert_int_equal(atomic_load(&blk.started), 1);
}

static void test_cancel_running_task(void **state) { cancel_running(TQ_ENV(state)->queue, 0); }

static void test_cancel_running_completes_anyway(void **state) {
    cancel_running(TQ_ENV(state)->queue, 1);
}

static void test_timeout(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    tq_block blk;
    memset(&blk, 0, sizeof blk);
    sitq_worker *w = tq_worker_new(q, 1, 1, "slow", tq_h_block, &blk);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.timeout_s = 0.3;
    sitq_task_id id = tq_enqueue(q, "slow", &o);
    sitq_result *r = tq_wait_done(q, id, 15);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_int_equal(r->attempts, 1);
    assert_non_null(r->error);
    if (!tq_contains_ci(r->error, "timeout") && !tq_contains_ci(r->error, "timed out"))
        fail_msg("error \"%s\" does not mention the timeout", r->error);
    assert_true(r->timeout_s == 0.3);
    /* it did not fire early */
    assert_true(r->finished_at_us - r->started_at_us >= 290000);
    sitq_result_free(r);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);
    sitq_worker_free(w);
    assert_int_equal(atomic_load(&blk.saw_cancel), 1);
    assert_int_equal(ws.failed, 1);
}

typedef struct {
    atomic_int started, finished, saw_cancel;
} ignore_state;

/* Ignores the cancel flag for 2 s, then succeeds. */
static int h_ignore_timeout(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)p;
    (void)n;
    ignore_state *s = ud;
    atomic_store(&s->started, 1);
    for (int i = 0; i < 200; i++) tq_sleep_ms(10);
    atomic_store(&s->saw_cancel, sitq_ctx_cancelled(ctx));
    sitq_ctx_set_result(ctx, "late", 4);
    atomic_store(&s->finished, 1);
    return 0;
}

/* A handler that never returns until released by the test. */
static atomic_int stuck_release;
static int h_stuck(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)ctx;
    (void)p;
    (void)n;
    (void)ud;
    while (!atomic_load(&stuck_release)) tq_sleep_ms(5);
    return 0;
}

/* When every handler thread is stuck past a timeout, the worker claims
 * nothing more and gives back what it had claimed, so that another worker
 * runs it (nothing stays "running" behind a stuck thread). */
static void test_stuck_thread_releases_claims(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    atomic_store(&stuck_release, 0);
    sitq_worker *w = tq_worker_new(q, 1, 4, "stuck", h_stuck, NULL);
    TQ_OK(sitq_worker_register(w, "ok", tq_h_echo, NULL, &tq_err));
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.timeout_s = 0.1;
    sitq_task_id stuck = tq_enqueue(q, "stuck", &o);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_result *r = tq_wait_done(q, stuck, 10);
    assert_int_equal(r->status, SITQ_FAILED);
    sitq_result_free(r);
    sitq_task_id later[3];
    for (int i = 0; i < 3; i++) later[i] = tq_enqueue(q, "ok", NULL);
    tq_sleep_ms(300); /* several dispatcher cycles */
    for (int i = 0; i < 3; i++) assert_int_equal(tq_status(q, later[i]), SITQ_QUEUED);
    /* another worker runs them */
    sitq_worker *w2 = tq_worker_new(q, 1, 0, "ok", tq_h_echo, NULL);
    TQ_OK(sitq_worker_start(w2, &tq_err));
    for (int i = 0; i < 3; i++) {
        r = tq_wait_done(q, later[i], 10);
        assert_int_equal(r->status, SITQ_SUCCEEDED);
        sitq_result_free(r);
    }
    sitq_worker_free(w2);
    atomic_store(&stuck_release, 1);
    sitq_worker_free(w);
}

/* "at the limit the attempt fails with a timeout error": not when the
 * handler eventually returns, and its late success is not recorded. */
static void test_timeout_handler_ignores_flag(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    static ignore_state s; /* the handler may outlive the worker */
    atomic_init(&s.started, 0);
    atomic_init(&s.finished, 0);
    atomic_init(&s.saw_cancel, 0);
    sitq_worker *w = tq_worker_new(q, 1, 1, "stubborn", h_ignore_timeout, &s);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.timeout_s = 0.2;
    sitq_task_id id = tq_enqueue(q, "stubborn", &o);
    sitq_result *r = tq_wait_done(q, id, 10);
    int finished_at_limit = atomic_load(&s.finished);
    assert_int_equal(r->status, SITQ_FAILED);
    if (!tq_contains_ci(r->error, "timeout") && !tq_contains_ci(r->error, "timed out"))
        fail_msg("error \"%s\" does not mention the timeout", r->error);
    sitq_result_free(r);
    assert_int_equal(finished_at_limit, 0);
    /* The stop does not wait for a handler whose timeout was recorded: it
     * runs to its end on its abandoned thread. */
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    int64_t end = tq_mono_ms() + 20000;
    while (!atomic_load(&s.finished) && tq_mono_ms() < end) tq_sleep_ms(5);
    assert_int_equal(atomic_load(&s.finished), 1);
    assert_int_equal(atomic_load(&s.saw_cancel), 1);
    r = tq_get(q, id);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_int_equal(r->attempts, 1);
    assert_null(r->value);
    sitq_result_free(r);
}

/* The timeout also applies to an attempt run by process_task in the caller's thread. */
static void test_timeout_in_process_task(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    tq_block blk;
    memset(&blk, 0, sizeof blk);
    blk.max_ms = 10000;
    sitq_worker *w = tq_worker_new(q, 1, 1, "slow", tq_h_block, &blk);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.timeout_s = 0.3;
    sitq_task_id id = tq_enqueue(q, "slow", &o);
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    assert_int_equal(r->status, SITQ_FAILED);
    if (!tq_contains_ci(r->error, "timeout") && !tq_contains_ci(r->error, "timed out"))
        fail_msg("error \"%s\" does not mention the timeout", r->error);
    assert_true(r->finished_at_us - r->started_at_us >= 290000);
    sitq_result_free(r);
    assert_int_equal(atomic_load(&blk.saw_cancel), 1);
    sitq_worker_free(w);
}

typedef struct {
    sitq_worker *w;
    sitq_task_id id;
    sitq_code code;
    int status;
} pt_thread_arg;

static void *process_task_thread(void *arg) {
    pt_thread_arg *a = arg;
    sitq_result *r = NULL;
    a->code = sitq_worker_process_task(a->w, a->id, &r, NULL);
    a->status = r ? (int)r->status : -1;
    sitq_result_free(r);
    return NULL;
}

/* Cancelling a task that process_task is running in another thread. */
static void test_cancel_during_process_task(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    tq_block blk;
    memset(&blk, 0, sizeof blk);
    sitq_worker *w = tq_worker_new(q, 1, 1, "blk", tq_h_block, &blk);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.max_retries = 2;
    sitq_task_id id = tq_enqueue(q, "blk", &o);
    pt_thread_arg a = {w, id, (sitq_code)-1, -2};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, process_task_thread, &a), 0);
    int64_t end = tq_mono_ms() + 10000;
    while (atomic_load(&blk.started) == 0 && tq_mono_ms() < end) tq_sleep_ms(1);
    sitq_status st = (sitq_status)-1;
    memset(&tq_err, 0, sizeof tq_err);
    sitq_code c = sitq_cancel(q, id, &st, &tq_err);
    pthread_join(th, NULL);
    sitq_worker_free(w);
    assert_int_equal(c, SITQ_OK);
    assert_int_equal(st, SITQ_RUNNING);
    assert_int_equal(a.code, SITQ_OK);
    assert_int_equal(a.status, SITQ_CANCELLED);
    assert_int_equal(atomic_load(&blk.saw_cancel), 1);
    assert_int_equal(tq_status(q, id), SITQ_CANCELLED);
}

static void test_timeout_then_retry(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    tq_block blk;
    memset(&blk, 0, sizeof blk);
    sitq_worker *w = tq_worker_new(q, 1, 1, "slow", tq_h_block, &blk);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.timeout_s = 0.1;
    o.max_retries = 1;
    o.backoff_base_s = 0.01;
    sitq_task_id id = tq_enqueue(q, "slow", &o);
    sitq_result *r = tq_wait_done(q, id, 15);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_int_equal(r->attempts, 2);
    sitq_result_free(r);
    sitq_worker_free(w);
    assert_int_equal(atomic_load(&blk.started), 2);
}

typedef struct {
    pthread_t caller;
    atomic_int same_thread;
} thread_check;

static int h_thread(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)ctx;
    (void)p;
    (void)n;
    thread_check *t = ud;
    atomic_store(&t->same_thread, pthread_equal(pthread_self(), t->caller) ? 1 : 2);
    sitq_ctx_set_result(ctx, "done", 4);
    return 0;
}

static void test_process_task(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    thread_check tc;
    tc.caller = pthread_self();
    atomic_init(&tc.same_thread, 0);
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", h_thread, &tc);

    sitq_task_id id = tq_enqueue(q, "f", NULL);
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    assert_int_equal(atomic_load(&tc.same_thread), 1);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_int_equal(r->value_len, 4);
    assert_memory_equal(r->value, "done", 4);
    assert_int_equal(r->attempts, 1);
    assert_string_equal(r->worker_id, sitq_worker_id(w));
    sitq_result_free(r);

    /* finished: not ready, with a snapshot */
    r = NULL;
    TQ_ERR(SITQ_ENOTREADY, sitq_worker_process_task(w, id, &r, &tq_err));
    assert_non_null(r);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_int_equal(r->attempts, 1);
    sitq_result_free(r);

    /* waiting and scheduled */
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.delay_s = 60;
    sitq_task_id sched = tq_enqueue(q, "f", &o);
    sitq_task_options_init(&o);
    o.depends_on = &sched;
    o.n_depends_on = 1;
    sitq_task_id waiting = tq_enqueue(q, "f", &o);
    r = NULL;
    TQ_ERR(SITQ_ENOTREADY, sitq_worker_process_task(w, sched, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SCHEDULED);
    sitq_result_free(r);
    r = NULL;
    TQ_ERR(SITQ_ENOTREADY, sitq_worker_process_task(w, waiting, &r, &tq_err));
    assert_int_equal(r->status, SITQ_WAITING);
    sitq_result_free(r);

    /* no handler for the function */
    sitq_task_id nh = tq_enqueue(q, "nobody", NULL);
    r = NULL;
    TQ_ERR(SITQ_ENOHANDLER, sitq_worker_process_task(w, nh, &r, &tq_err));
    sitq_result_free(r);
    r = tq_get(q, nh);
    assert_int_equal(r->status, SITQ_QUEUED);
    assert_int_equal(r->attempts, 0);
    sitq_result_free(r);

    /* out may be NULL; a failing handler is not an error of the call */
    sitq_worker *wf = tq_worker_new(q, 1, 1, "f", tq_h_fail, NULL);
    sitq_task_id f = tq_enqueue(q, "f", NULL);
    TQ_OK(sitq_worker_process_task(wf, f, NULL, &tq_err));
    assert_int_equal(tq_status(q, f), SITQ_FAILED);
    sitq_worker_free(wf);
    sitq_worker_free(w);
}

static void test_process_task_running_elsewhere(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    tq_block blk;
    memset(&blk, 0, sizeof blk);
    sitq_worker *w = tq_worker_new(q, 1, 1, "blk", tq_h_block, &blk);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_task_id id = tq_enqueue(q, "blk", NULL);
    assert_true(tq_poll_status(q, id, SITQ_RUNNING, 10));
    sitq_worker *w2 = tq_worker_new(q, 1, 1, "blk", tq_h_echo, NULL);
    sitq_result *r = NULL;
    TQ_ERR(SITQ_ENOTREADY, sitq_worker_process_task(w2, id, &r, &tq_err));
    assert_int_equal(r->status, SITQ_RUNNING);
    sitq_result_free(r);
    TQ_OK(sitq_cancel(q, id, NULL, &tq_err));
    r = tq_wait_done(q, id, 10);
    assert_int_equal(r->status, SITQ_CANCELLED);
    sitq_result_free(r);
    sitq_worker_free(w2);
    sitq_worker_free(w);
}

static void test_wait(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_id id = tq_enqueue(q, "f", NULL);

    /* no worker: times out with a snapshot */
    sitq_result *r = NULL;
    int64_t t0 = tq_mono_ms();
    TQ_ERR(SITQ_ETIMEDOUT, sitq_wait(q, id, 0.2, &r, &tq_err));
    int64_t waited = tq_mono_ms() - t0;
    assert_true(waited >= 180);
    assert_non_null(r);
    assert_int_equal(r->id, id);
    assert_int_equal(r->status, SITQ_QUEUED);
    sitq_result_free(r);
    r = NULL;
    TQ_ERR(SITQ_ETIMEDOUT, sitq_wait(q, id, 0.0, &r, &tq_err));
    assert_non_null(r);
    assert_int_equal(r->status, SITQ_QUEUED);
    sitq_result_free(r);

    /* woken by a worker's completion */
    tq_rec rec;
    tq_rec_init(&rec, 2);
    rec.sleep_ms = 100;
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_record, &rec);
    TQ_OK(sitq_worker_start(w, &tq_err));
    r = NULL;
    TQ_OK(sitq_wait(q, id, -1, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_int_equal(rec.calls, 1);
    sitq_result_free(r);

    /* a finished task returns at once, even with timeout 0 */
    r = NULL;
    TQ_OK(sitq_wait(q, id, 0.0, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);

    /* a second task enqueued while waiting */
    sitq_task_id id2 = tq_enqueue(q, "f", NULL);
    r = tq_wait_done(q, id2, 10);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    sitq_worker_free(w);
    tq_rec_free(&rec);

    /* a cancel also ends a wait */
    sitq_task_id id3 = tq_enqueue(q, "f", NULL);
    TQ_OK(sitq_cancel(q, id3, NULL, &tq_err));
    r = tq_wait_done(q, id3, 1);
    assert_int_equal(r->status, SITQ_CANCELLED);
    sitq_result_free(r);
}

static void test_list(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_id ids[10];
    for (int i = 0; i < 10; i++) ids[i] = tq_enqueue(q, i % 2 ? "odd" : "even", NULL);
    TQ_OK(sitq_cancel(q, ids[2], NULL, &tq_err));
    TQ_OK(sitq_cancel(q, ids[5], NULL, &tq_err));

    sitq_result **items = NULL;
    size_t n = 99;
    TQ_OK(sitq_list(q, SITQ_STATUS_ANY, 3, 0, &items, &n, &tq_err));
    assert_int_equal(n, 3);
    assert_int_equal(items[0]->id, ids[9]);
    assert_int_equal(items[1]->id, ids[8]);
    assert_int_equal(items[2]->id, ids[7]);
    assert_string_equal(items[0]->function, "odd");
    assert_null(items[0]->value);
    assert_null(items[0]->traceback);
    sitq_result_list_free(items, n);

    items = NULL;
    TQ_OK(sitq_list(q, SITQ_STATUS_ANY, 5, 8, &items, &n, &tq_err));
    assert_int_equal(n, 2);
    assert_int_equal(items[0]->id, ids[1]);
    assert_int_equal(items[1]->id, ids[0]);
    sitq_result_list_free(items, n);

    items = NULL;
    n = 99;
    TQ_OK(sitq_list(q, SITQ_STATUS_ANY, 5, 20, &items, &n, &tq_err));
    assert_int_equal(n, 0);
    sitq_result_list_free(items, n);

    items = NULL;
    TQ_OK(sitq_list(q, SITQ_CANCELLED, 100, 0, &items, &n, &tq_err));
    assert_int_equal(n, 2);
    assert_int_equal(items[0]->id, ids[5]);
    assert_int_equal(items[1]->id, ids[2]);
    assert_int_equal(items[0]->status, SITQ_CANCELLED);
    sitq_result_list_free(items, n);

    items = NULL;
    TQ_OK(sitq_list(q, SITQ_QUEUED, 100, 1, &items, &n, &tq_err));
    assert_int_equal(n, 7);
    assert_int_equal(items[0]->id, ids[8]);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(items[i]->status, SITQ_QUEUED);
        assert_true(items[i]->id != ids[2] && items[i]->id != ids[5] && items[i]->id != ids[9]);
    }
    sitq_result_list_free(items, n);

    items = NULL;
    TQ_OK(sitq_list(q, SITQ_RUNNING, 100, 0, &items, &n, &tq_err));
    assert_int_equal(n, 0);
    sitq_result_list_free(items, n);
}

static void test_purge(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_worker *w = tq_worker_new(q, 1, 1, "ok", tq_h_echo, NULL);
    TQ_OK(sitq_worker_register(w, "bad", tq_h_fail, NULL, &tq_err));
    sitq_task_id old_ok = tq_enqueue(q, "ok", NULL);
    sitq_task_id old_bad = tq_enqueue(q, "bad", NULL);
    sitq_task_id old_cancel = tq_enqueue(q, "ok", NULL);
    sitq_task_id queued = tq_enqueue(q, "ok", NULL);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.delay_s = 3600;
    sitq_task_id sched = tq_enqueue(q, "ok", &o);
    TQ_OK(sitq_worker_process_task(w, old_ok, NULL, &tq_err));
    TQ_OK(sitq_worker_process_task(w, old_bad, NULL, &tq_err));
    TQ_OK(sitq_cancel(q, old_cancel, NULL, &tq_err));
    tq_sleep_ms(400);
    sitq_task_id new_ok = tq_enqueue(q, "ok", NULL);
    TQ_OK(sitq_worker_process_task(w, new_ok, NULL, &tq_err));
    sitq_worker_free(w);

    int64_t purged = -1;
    TQ_OK(sitq_purge(q, 3600, &purged, &tq_err));
    assert_int_equal(purged, 0);
    assert_int_equal(tq_stats(q).total, 6);

    purged = -1;
    TQ_OK(sitq_purge(q, 0.2, &purged, &tq_err));
    assert_int_equal(purged, 3);
    sitq_result *r = NULL;
    TQ_ERR(SITQ_ENOTFOUND, sitq_get_result(q, old_ok, &r, &tq_err));
    TQ_ERR(SITQ_ENOTFOUND, sitq_get_result(q, old_bad, &r, &tq_err));
    TQ_ERR(SITQ_ENOTFOUND, sitq_get_result(q, old_cancel, &r, &tq_err));
    void *p = NULL;
    size_t len = 0;
    TQ_ERR(SITQ_ENOTFOUND, sitq_get_payload(q, old_ok, &p, &len, &tq_err));
    assert_int_equal(tq_status(q, new_ok), SITQ_SUCCEEDED);
    assert_int_equal(tq_status(q, queued), SITQ_QUEUED);
    assert_int_equal(tq_status(q, sched), SITQ_SCHEDULED);
    sitq_stats st = tq_stats(q);
    assert_int_equal(st.total, 3);
    assert_int_equal(st.count[SITQ_FAILED], 0);
    assert_int_equal(st.count[SITQ_CANCELLED], 0);

    tq_sleep_ms(5);
    TQ_OK(sitq_purge(q, 0, &purged, &tq_err));
    assert_int_equal(purged, 1);
    st = tq_stats(q);
    assert_int_equal(st.total, 2);
    /* ids are not reused after a purge */
    sitq_task_id next = tq_enqueue(q, "ok", NULL);
    assert_true(next > new_ok);
}

static void test_stats_and_queue_isolation(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue *a = e->queue, *b = NULL;
    TQ_OK(sitq_queue_open(e->backend, "b", &b, &tq_err));
    sitq_stats st = tq_stats(a);
    for (int i = 0; i < SITQ_STATUS_COUNT; i++) assert_int_equal(st.count[i], 0);
    assert_int_equal(st.total, 0);

    sitq_task_id ta[3];
    for (int i = 0; i < 3; i++) ta[i] = tq_enqueue(a, "f", NULL);
    sitq_task_id tb = tq_enqueue(b, "f", NULL);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.delay_s = 100;
    tq_enqueue(a, "f", &o);
    o.delay_s = 0;
    o.depends_on = &ta[0];
    o.n_depends_on = 1;
    tq_enqueue(a, "f", &o);
    TQ_OK(sitq_cancel(a, ta[2], NULL, &tq_err));

    st = tq_stats(a);
    assert_int_equal(st.count[SITQ_QUEUED], 2);
    assert_int_equal(st.count[SITQ_SCHEDULED], 1);
    assert_int_equal(st.count[SITQ_WAITING], 1);
    assert_int_equal(st.count[SITQ_CANCELLED], 1);
    assert_int_equal(st.total, 5);
    st = tq_stats(b);
    assert_int_equal(st.count[SITQ_QUEUED], 1);
    assert_int_equal(st.total, 1);

    /* a worker of queue b runs only b's tasks */
    atomic_int calls = 0;
    sitq_worker *w = tq_worker_new(b, 2, 2, "f", tq_h_echo, &calls);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_result *r = tq_wait_done(b, tb, 10);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    tq_sleep_ms(100);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(atomic_load(&calls), 1);
    assert_int_equal(tq_status(a, ta[0]), SITQ_QUEUED);
    sitq_queue_close(b);
}

/* The store's figures: sizes on both backends, row versions, WAL per task
 * and the oldest transaction on PostgreSQL; bad arguments refused. */
static void test_store_health(void **state) {
    tq_env *e = TQ_ENV(state);
    for (int i = 0; i < 20; i++) tq_enqueue(e->queue, "f", NULL);
    sitq_store_health h;
    TQ_OK(sitq_backend_health(e->backend, &h, &tq_err));
    assert_true(h.store_bytes > 0);
    assert_true(h.wal_bytes >= 0);
    if (tq_backend_is_postgres()) {
        assert_true(h.wal_bytes > 0);
        assert_true(h.wal_bytes_per_task > 0);
        assert_true(h.live_tuples >= 0 && h.dead_tuples >= 0);
        assert_true(h.oldest_xact_age_s >= 0);
    } else {
        assert_int_equal(h.live_tuples, -1);
        assert_int_equal(h.dead_tuples, -1);
        assert_true(h.wal_bytes_per_task == -1 && h.oldest_xact_age_s == -1);
    }
    TQ_ERR_MSG(SITQ_EINVAL, "backend", "required", sitq_backend_health(NULL, &h, &tq_err));
    assert_int_equal(h.store_bytes, -1);
    TQ_ERR_MSG(SITQ_EINVAL, "backend", "required", sitq_backend_health(e->backend, NULL, &tq_err));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unique_key, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_store_health, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_unique_key_batch, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_queued, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_running_task, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_running_completes_anyway, tq_setup,
                                        tq_teardown),
        cmocka_unit_test_setup_teardown(test_timeout, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_timeout_handler_ignores_flag, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_timeout_in_process_task, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_during_process_task, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_timeout_then_retry, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_process_task, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_process_task_running_elsewhere, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_wait, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_stuck_thread_releases_claims, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_list, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_purge, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_stats_and_queue_isolation, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests_name("ops", tests, NULL, NULL);
}
