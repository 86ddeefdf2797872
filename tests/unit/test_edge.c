/* test_edge.c - edge cases across features: error struct on success, long
 * inputs, extreme option values, batches with unique keys and failed
 * dependencies, ETA after dependencies, priority of newly ready tasks,
 * re-registration, storage option variants, retry after exhaustion. */
#include "helpers.h"

#include <math.h>
#include <sqlite3.h>

static void test_err_filled_on_success(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_error err;
    memset(&err, 0, sizeof err);
    err.code = SITQ_ESYSTEM;
    strcpy(err.message, "stale");
    sitq_task_id id;
    assert_int_equal(sitq_enqueue(q, "f", NULL, 0, NULL, &id, &err), SITQ_OK);
    assert_int_equal(err.code, SITQ_OK);
    err.code = SITQ_ESYSTEM;
    sitq_stats st;
    assert_int_equal(sitq_get_stats(q, &st, &err), SITQ_OK);
    assert_int_equal(err.code, SITQ_OK);
    err.code = SITQ_ESYSTEM;
    sitq_result *r = NULL;
    assert_int_equal(sitq_get_result(q, id, &r, &err), SITQ_OK);
    assert_int_equal(err.code, SITQ_OK);
    sitq_result_free(r);
}

static void test_long_inputs_message_bounded(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    size_t n = 100000;
    char *huge = malloc(n + 1);
    memset(huge, 'z', n);
    huge[n] = '\0';
    sitq_task_id id;
    TQ_ERR(SITQ_EINVAL, sitq_enqueue(q, huge, NULL, 0, NULL, &id, &tq_err));
    assert_true(strlen(tq_err.message) < SITQ_ERROR_MESSAGE_SIZE);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.unique_key = huge;
    TQ_ERR(SITQ_EINVAL, sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
    assert_true(strlen(tq_err.message) < SITQ_ERROR_MESSAGE_SIZE);
    sitq_queue *q2 = NULL;
    TQ_ERR(SITQ_EINVAL, sitq_queue_open(TQ_ENV(state)->backend, huge, &q2, &tq_err));
    assert_true(strlen(tq_err.message) < SITQ_ERROR_MESSAGE_SIZE);
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_echo, NULL);
    TQ_ERR(SITQ_EINVAL, sitq_worker_register(w, huge, tq_h_echo, NULL, &tq_err));
    assert_true(strlen(tq_err.message) < SITQ_ERROR_MESSAGE_SIZE);
    sitq_worker_free(w);
    free(huge);
    assert_int_equal(tq_stats(q).total, 0);
}

/* Huge but finite values: rejected (EINVAL) or stored sanely - never a
 * wrapped time that makes a far-future task run now. */
static void test_extreme_option_values(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_fail, NULL);
    sitq_task_options o;
    sitq_task_id id;
    sitq_code c;

    const double delays[] = {1e300, 1e15, (double)INT64_MAX, INFINITY};
    for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) {
        sitq_task_options_init(&o);
        o.delay_s = delays[i];
        memset(&tq_err, 0, sizeof tq_err);
        c = sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err);
        if (c == SITQ_OK) {
            sitq_result *r = tq_get(q, id);
            if (r->status != SITQ_SCHEDULED || r->eta_us <= sitq_now_us())
                fail_msg("delay_s %g: status %s eta %lld", delays[i], sitq_status_name(r->status),
                         (long long)r->eta_us);
            sitq_result_free(r);
            r = NULL;
            TQ_ERR(SITQ_ENOTREADY, sitq_worker_process_task(w, id, &r, &tq_err));
            sitq_result_free(r);
        } else {
            assert_int_equal(c, SITQ_EINVAL);
        }
    }

    sitq_task_options_init(&o);
    o.eta_us = INT64_MAX;
    c = sitq_enqueue(q, "f", NULL, 0, &o, &id, NULL);
    if (c == SITQ_OK) assert_int_equal(tq_status(q, id), SITQ_SCHEDULED);
    else assert_int_equal(c, SITQ_EINVAL);

    const double timeouts[] = {1e300, INFINITY, NAN};
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        sitq_task_options_init(&o);
        o.timeout_s = timeouts[i];
        c = sitq_enqueue(q, "f", NULL, 0, &o, &id, NULL);
        assert_true(c == SITQ_OK || c == SITQ_EINVAL);
        if (isnan(timeouts[i])) assert_int_equal(c, SITQ_EINVAL);
    }

    /* huge backoff: the retry is scheduled in the future, not wrapped to the past */
    sitq_task_options_init(&o);
    o.max_retries = 3;
    o.backoff_base_s = 1e300;
    o.backoff_cap_s = 1e300;
    o.backoff_jitter = 0;
    memset(&tq_err, 0, sizeof tq_err);
    c = sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err);
    if (c == SITQ_OK) {
        sitq_result *r = NULL;
        TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
        if (r->status != SITQ_SCHEDULED || r->eta_us <= sitq_now_us())
            fail_msg("huge backoff: status %s eta %lld", sitq_status_name(r->status),
                     (long long)r->eta_us);
        sitq_result_free(r);
        r = NULL;
        TQ_ERR(SITQ_ENOTREADY, sitq_worker_process_task(w, id, &r, &tq_err));
        sitq_result_free(r);
    } else {
        assert_int_equal(c, SITQ_EINVAL);
    }
    sitq_worker_free(w);
}

typedef struct {
    sitq_queue *q;
    sitq_task_id id;
    double timeout;
    sitq_code code;
    int status;
} huge_wait_arg;

static void *huge_wait_thread(void *arg) {
    huge_wait_arg *a = arg;
    sitq_result *r = NULL;
    a->code = sitq_wait(a->q, a->id, a->timeout, &r, NULL);
    a->status = r ? (int)r->status : -1;
    sitq_result_free(r);
    return NULL;
}

/* Huge durations must mean "a long time", not overflow into "already past". */
static void test_huge_durations(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_id id = tq_enqueue(q, "f", NULL);
    huge_wait_arg a1 = {q, id, 1e300, (sitq_code)-1, -2};
    huge_wait_arg a2 = {q, id, INFINITY, (sitq_code)-1, -2};
    huge_wait_arg a3 = {q, id, 1e12, (sitq_code)-1, -2};
    pthread_t t1, t2, t3;
    assert_int_equal(pthread_create(&t1, NULL, huge_wait_thread, &a1), 0);
    assert_int_equal(pthread_create(&t2, NULL, huge_wait_thread, &a2), 0);
    assert_int_equal(pthread_create(&t3, NULL, huge_wait_thread, &a3), 0);
    tq_sleep_ms(150);
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_echo, NULL);
    TQ_OK(sitq_worker_process_task(w, id, NULL, &tq_err));
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pthread_join(t3, NULL);
    if (a1.code != SITQ_OK || a3.code != SITQ_OK)
        fail_msg("wait(1e300) -> %s, wait(1e12) -> %s", sitq_code_name(a1.code),
                 sitq_code_name(a3.code));
    assert_int_equal(a1.status, SITQ_SUCCEEDED);
    assert_int_equal(a3.status, SITQ_SUCCEEDED);
    assert_true(a2.code == SITQ_OK || a2.code == SITQ_EINVAL);
    if (a2.code == SITQ_OK) assert_int_equal(a2.status, SITQ_SUCCEEDED);

    /* purge with a huge age removes nothing */
    tq_sleep_ms(5);
    int64_t purged = -1;
    TQ_OK(sitq_purge(q, 1e300, &purged, &tq_err));
    assert_int_equal(purged, 0);
    purged = -1;
    TQ_OK(sitq_purge(q, 1e12, &purged, &tq_err));
    assert_int_equal(purged, 0);
    purged = -1;
    sitq_code c = sitq_purge(q, INFINITY, &purged, NULL);
    assert_true(c == SITQ_OK || c == SITQ_EINVAL);
    if (c == SITQ_OK) assert_int_equal(purged, 0);
    assert_int_equal(tq_status(q, id), SITQ_SUCCEEDED);

    /* a worker stop with a huge time limit */
    TQ_OK(sitq_worker_start(w, &tq_err));
    TQ_OK(sitq_worker_stop(w, 1e300, &tq_err));
    sitq_worker_free(w);

    /* list: a huge offset skips everything (or is refused as invalid) -
     * it must not wrap to a negative SQL OFFSET, which means "none" */
    const size_t offsets[] = {SIZE_MAX, (size_t)INT64_MAX + 1, (size_t)INT64_MAX, 1000000000};
    for (size_t k = 0; k < sizeof offsets / sizeof offsets[0]; k++) {
        sitq_result **items = NULL;
        size_t n = 99;
        sitq_code lc = sitq_list(q, SITQ_STATUS_ANY, 10, offsets[k], &items, &n, NULL);
        if (lc == SITQ_OK) {
            if (n != 0) fail_msg("list offset %zu returned %zu items", offsets[k], n);
            sitq_result_list_free(items, n);
        } else {
            assert_int_equal(lc, SITQ_EINVAL);
        }
    }
    sitq_result *r = NULL;
    TQ_ERR(SITQ_ENOTFOUND, sitq_get_result(q, INT64_MAX, &r, &tq_err));
    TQ_ERR(SITQ_ENOTFOUND, sitq_get_result(q, INT64_MIN, &r, &tq_err));
}

/* "Without crashes each task runs once": a handler run by process_task for
 * longer than the lease is not run again by another worker. */
static int h_long(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)ctx;
    (void)p;
    (void)n;
    atomic_fetch_add((atomic_int *)ud, 1);
    tq_sleep_ms(1500);
    return 0;
}

static void long_handler_scenario(sitq_queue *q, int use_process_task) {
    atomic_int a_calls = 0, b_calls = 0;
    sitq_worker_options o;
    tq_worker_opts(&o, 1, 1);
    o.lease_s = 0.5;
    o.heartbeat_interval_s = 0.1;
    o.worker_id = "A";
    sitq_worker *wa = NULL, *wb = NULL;
    TQ_OK(sitq_worker_create(q, &o, &wa, &tq_err));
    TQ_OK(sitq_worker_register(wa, "long", h_long, &a_calls, &tq_err));
    o.worker_id = "B";
    TQ_OK(sitq_worker_create(q, &o, &wb, &tq_err));
    TQ_OK(sitq_worker_register(wb, "long", h_long, &b_calls, &tq_err));
    sitq_task_id id = tq_enqueue(q, "long", NULL);
    if (use_process_task) {
        TQ_OK(sitq_worker_start(wb, &tq_err));
        sitq_result *r = NULL;
        memset(&tq_err, 0, sizeof tq_err);
        sitq_code c = sitq_worker_process_task(wa, id, &r, &tq_err);
        if (c == SITQ_ENOTREADY) {
            /* B claimed it first: then A must not run it */
            sitq_result_free(r);
            r = tq_wait_done(q, id, 20);
        } else if (c != SITQ_OK) {
            fail_msg("process_task -> %s: %s", sitq_code_name(c), tq_err.message);
        }
        sitq_result_free(r);
    } else {
        TQ_OK(sitq_worker_start(wa, &tq_err));
        assert_true(tq_poll_status(q, id, SITQ_RUNNING, 10));
        TQ_OK(sitq_worker_start(wb, &tq_err));
    }
    sitq_result *r = tq_wait_done(q, id, 20);
    tq_sleep_ms(300);
    TQ_OK(sitq_worker_stop(wb, -1, &tq_err));
    TQ_OK(sitq_worker_stop(wa, -1, &tq_err));
    sitq_worker_stats sa, sb;
    sitq_worker_get_stats(wa, &sa);
    sitq_worker_get_stats(wb, &sb);
    sitq_worker_free(wa);
    sitq_worker_free(wb);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    if (r->attempts != 1 || atomic_load(&a_calls) + atomic_load(&b_calls) != 1)
        fail_msg("a %.1f s handler with a 0.5 s lease: attempts %d, ran %d times by A and %d by B",
                 1.5, r->attempts, atomic_load(&a_calls), atomic_load(&b_calls));
    assert_int_equal(sa.lost + sb.lost, 0);
    sitq_result_free(r);
}

static void test_lease_renewed_for_long_handler(void **state) {
    long_handler_scenario(TQ_ENV(state)->queue, 0);
}

static void test_lease_renewed_in_process_task(void **state) {
    long_handler_scenario(TQ_ENV(state)->queue, 1);
}

static void test_batch_unique_key_within_batch(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.unique_key = "dup";
    sitq_task_spec specs[3];
    sitq_task_id ids[3];
    memset(specs, 0, sizeof specs);
    for (int i = 0; i < 3; i++) {
        specs[i].function = "f";
        specs[i].options = &o;
    }
    size_t zero = 0;
    specs[2].options = NULL;
    specs[2].depends_on_index = &zero;
    specs[2].n_depends_on_index = 1;
    TQ_OK(sitq_enqueue_batch(q, specs, 3, ids, &tq_err));
    assert_int_equal(ids[1], ids[0]);
    assert_true(ids[2] != ids[0]);
    assert_int_equal(tq_stats(q).total, 2);
    assert_int_equal(tq_status(q, ids[2]), SITQ_WAITING);
}

static void test_batch_failed_dependency_transitive(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    for (int i = 0; i < 20; i++) tq_enqueue(q, "pad", NULL);
    sitq_task_id dead = tq_enqueue(q, "f", NULL);
    TQ_OK(sitq_cancel(q, dead, NULL, &tq_err));
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.depends_on = &dead;
    o.n_depends_on = 1;
    sitq_task_spec specs[3];
    sitq_task_id ids[3];
    memset(specs, 0, sizeof specs);
    size_t zero = 0;
    specs[0].function = "f";
    specs[0].options = &o;
    specs[1].function = "f";
    specs[1].depends_on_index = &zero;
    specs[1].n_depends_on_index = 1;
    specs[2].function = "f";
    TQ_OK(sitq_enqueue_batch(q, specs, 3, ids, &tq_err));
    sitq_result *r = tq_get(q, ids[0]);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_non_null(r->error);
    assert_non_null(strstr(r->error, tq_id_str(dead)));
    sitq_result_free(r);
    r = tq_get(q, ids[1]);
    if (r->status != SITQ_FAILED)
        fail_msg("dependent of a task failed at enqueue is %s, not failed (left waiting forever)",
                 sitq_status_name(r->status));
    sitq_result_free(r);
    assert_int_equal(tq_status(q, ids[2]), SITQ_QUEUED);
    sitq_stats st = tq_stats(q);
    assert_int_equal(st.count[SITQ_WAITING], 0);
}

static void test_eta_after_dependency(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_echo, NULL);
    sitq_task_id a = tq_enqueue(q, "f", NULL);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.delay_s = 0.4;
    o.depends_on = &a;
    o.n_depends_on = 1;
    sitq_task_id b = tq_enqueue(q, "f", &o);
    assert_int_equal(tq_status(q, b), SITQ_WAITING);
    TQ_OK(sitq_worker_process_task(w, a, NULL, &tq_err));
    sitq_result *r = tq_get(q, b);
    sitq_time_us eta = r->eta_us;
    if (sitq_now_us() < eta - 50000) {
        /* dependency done, ETA still ahead: scheduled, not ready */
        assert_int_equal(r->status, SITQ_SCHEDULED);
        sitq_result *r2 = NULL;
        TQ_ERR(SITQ_ENOTREADY, sitq_worker_process_task(w, b, &r2, &tq_err));
        sitq_result_free(r2);
    }
    sitq_result_free(r);
    while (sitq_now_us() < eta + 10000) tq_sleep_ms(10);
    r = NULL;
    TQ_OK(sitq_worker_process_task(w, b, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_true(r->started_at_us >= eta);
    sitq_result_free(r);
    sitq_worker_free(w);
}

static void test_priority_of_newly_ready(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_id a = tq_enqueue(q, "f", NULL);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.priority = 10;
    o.depends_on = &a;
    o.n_depends_on = 1;
    sitq_task_id b = tq_enqueue(q, "f", &o);
    sitq_task_id c[5];
    for (int i = 0; i < 5; i++) c[i] = tq_enqueue(q, "f", NULL);
    tq_rec rec;
    tq_rec_init(&rec, 8);
    sitq_worker *w = tq_worker_new(q, 1, 0, "f", tq_h_record, &rec);
    TQ_OK(sitq_worker_start(w, &tq_err));
    for (int i = 0; i < 5; i++) {
        sitq_result *r = tq_wait_done(q, c[i], 20);
        sitq_result_free(r);
    }
    sitq_result *r = tq_wait_done(q, b, 20);
    sitq_result_free(r);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(rec.n, 7);
    assert_int_equal(rec.ids[0], a);
    assert_int_equal(rec.ids[1], b);
    for (int i = 0; i < 5; i++) assert_int_equal(rec.ids[2 + i], c[i]);
    tq_rec_free(&rec);
}

static void test_reregister_replaces(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    atomic_int fails = 0, echoes = 0;
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_fail, &fails);
    TQ_OK(sitq_worker_register(w, "f", tq_h_echo, &echoes, &tq_err));
    sitq_task_id id = tq_enqueue(q, "f", NULL);
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    assert_int_equal(atomic_load(&fails), 0);
    assert_int_equal(atomic_load(&echoes), 1);
    sitq_worker_free(w);
}

static void test_retry_after_exhaustion(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    atomic_int calls = 0;
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_fail, &calls);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.max_retries = 1;
    o.backoff_base_s = 0.01;
    sitq_task_id id = tq_enqueue(q, "f", &o);
    sitq_result *r = tq_wait_done(q, id, 20);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_int_equal(r->attempts, 2);
    sitq_result_free(r);
    TQ_OK(sitq_retry(q, id, &tq_err));
    r = tq_wait_done(q, id, 20);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_int_equal(r->attempts, 2);
    assert_int_equal(r->max_retries, 1);
    sitq_result_free(r);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(atomic_load(&calls), 4);
}

static void test_purged_dependency_unknown(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_echo, NULL);
    sitq_task_id a = tq_enqueue(q, "f", NULL);
    TQ_OK(sitq_worker_process_task(w, a, NULL, &tq_err));
    sitq_worker_free(w);
    tq_sleep_ms(5);
    int64_t purged = 0;
    TQ_OK(sitq_purge(q, 0, &purged, &tq_err));
    assert_int_equal(purged, 1);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.depends_on = &a;
    o.n_depends_on = 1;
    sitq_task_id id;
    TQ_ERR(SITQ_EDEPENDENCY, sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
}

typedef struct {
    sqlite3 *db;
    int hold_ms;
    int rc;
} lock_arg;

static void *release_later(void *arg) {
    lock_arg *a = arg;
    tq_sleep_ms(a->hold_ms);
    a->rc = sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL);
    return NULL;
}

/* Another connection (as another process would) holding the write lock:
 * sitq waits up to busy_timeout_ms, then fails with SITQ_EBUSY and a message
 * that names the file and the write lock - never a crash; reads are not
 * blocked. */
/* A handler that says it started, then waits for the test to open it. */
typedef struct {
    atomic_int started, open, returned;
} gate;

static int h_gated(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)ctx;
    (void)p;
    (void)n;
    gate *g = ud;
    atomic_store(&g->started, 1);
    while (!atomic_load(&g->open)) tq_sleep_ms(1);
    atomic_store(&g->returned, 1);
    return 0;
}

static void test_busy_write_lock(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_sqlite_options so;
    sitq_sqlite_options_init(&so);
    so.busy_timeout_ms = 300;
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    TQ_OK(sitq_backend_open_sqlite(e->path, &so, &b, &tq_err));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sitq_task_id first = tq_enqueue(q, "f", NULL);

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    sitq_task_id id;
    int64_t t0 = tq_mono_ms();
    TQ_ERR_MSG(SITQ_EBUSY, "write lock", "write lock",
               sitq_enqueue(q, "f", NULL, 0, NULL, &id, &tq_err));
    assert_non_null(strstr(tq_err.message, e->path));
    assert_true(tq_mono_ms() - t0 >= 200); /* it waited for the lock */
    /* reads still work (WAL) */
    assert_int_equal(tq_status(q, first), SITQ_QUEUED);
    assert_int_equal(tq_stats(q).total, 1);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);

    /* a lock released within the busy timeout is waited for */
    sitq_queue_close(q);
    sitq_backend_close(b);
    so.busy_timeout_ms = 10000;
    TQ_OK(sitq_backend_open_sqlite(e->path, &so, &b, &tq_err));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    lock_arg la = {db, 150, -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, release_later, &la), 0);
    TQ_OK(sitq_enqueue(q, "f", NULL, 0, NULL, &id, &tq_err));
    pthread_join(th, NULL);
    assert_int_equal(la.rc, SQLITE_OK);
    assert_int_equal(tq_stats(q).total, 2);

    /* a worker rides out a held lock and then finishes its tasks */
    atomic_int calls = 0;
    sitq_worker *w = tq_worker_new(q, 2, 2, "f", tq_h_echo, &calls);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    TQ_OK(sitq_worker_start(w, &tq_err));
    la.hold_ms = 300;
    assert_int_equal(pthread_create(&th, NULL, release_later, &la), 0);
    sitq_result *r = tq_wait_done(q, id, 30);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    r = tq_wait_done(q, first, 30);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    pthread_join(th, NULL);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(atomic_load(&calls), 2);

    sqlite3_close(db);
    sitq_queue_close(q);
    sitq_backend_close(b);
}

/* A stop held by the store, not by a task: the handler returned, its
 * outcome waits for the write lock another connection holds; the stop's
 * time limit says so (it said "0 task(s) still running"), and a later stop
 * records it. */
static void test_stop_held_by_the_store(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    TQ_OK(sitq_backend_open_sqlite(e->path, NULL, &b, &tq_err));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
    gate g = {0};
    sitq_task_id held = tq_enqueue(q, "g", NULL);
    sitq_worker *w = tq_worker_new(q, 1, 0, "g", h_gated, &g);
    TQ_OK(sitq_worker_start(w, &tq_err));
    while (!atomic_load(&g.started)) tq_sleep_ms(1);
    sqlite3_busy_timeout(db, 10000); /* past the worker's record of the start */
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    atomic_store(&g.open, 1);
    sitq_worker_stats ws;
    do {
        tq_sleep_ms(1);
        sitq_worker_get_stats(w, &ws);
    } while (!atomic_load(&g.returned) || ws.running != 0);
    TQ_ERR(SITQ_ETIMEDOUT, sitq_worker_stop(w, 0.3, &tq_err));
    assert_non_null(
        strstr(tq_err.message, "no task is running, but outcomes are not yet recorded"));
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(tq_status(q, held), SITQ_SUCCEEDED);

    sqlite3_close(db);
    sitq_queue_close(q);
    sitq_backend_close(b);
}

static void run_small_workload(const char *path, const sitq_sqlite_options *so, const char *label) {
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    memset(&tq_err, 0, sizeof tq_err);
    sitq_code c = sitq_backend_open_sqlite(path, so, &b, &tq_err);
    if (c != SITQ_OK) fail_msg("%s: open: %s", label, tq_err.message);
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    enum { N = 60 };
    sitq_task_id ids[N];
    for (int i = 0; i < N; i++) {
        char p[16];
        int n = snprintf(p, sizeof p, "%d", i);
        TQ_OK(sitq_enqueue(q, i % 10 == 0 ? "bad" : "ok", p, (size_t)n, NULL, &ids[i], &tq_err));
    }
    sitq_worker *w = tq_worker_new(q, 2, 2, "ok", tq_h_echo, NULL);
    TQ_OK(sitq_worker_register(w, "bad", tq_h_fail, NULL, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    for (int i = 0; i < N; i++) {
        sitq_result *r = tq_wait_done(q, ids[i], 30);
        if (r->status != (i % 10 == 0 ? SITQ_FAILED : SITQ_SUCCEEDED))
            fail_msg("%s: task %d ended %s", label, i, sitq_status_name(r->status));
        sitq_result_free(r);
    }
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    sitq_stats st = tq_stats(q);
    assert_int_equal(st.count[SITQ_SUCCEEDED], N - N / 10);
    assert_int_equal(st.count[SITQ_FAILED], N / 10);
    sitq_result **items = NULL;
    size_t n = 0;
    TQ_OK(sitq_list(q, SITQ_FAILED, 100, 0, &items, &n, &tq_err));
    assert_int_equal(n, N / 10);
    sitq_result_list_free(items, n);
    sitq_queue_close(q);
    sitq_backend_close(b);
}

static void test_storage_option_variants(void **state) {
    tq_env *e = TQ_ENV(state);
    struct {
        int wal, readers;
        sitq_sync_mode sync;
        const char *label;
    } v[] = {
        {0, 0, SITQ_SYNC_NORMAL, "rollback journal, no readers"},
        {0, 2, SITQ_SYNC_FULL, "rollback journal, 2 readers, full sync"},
        {1, 0, SITQ_SYNC_OFF, "WAL, no readers, sync off"},
        {1, 8, SITQ_SYNC_EXTRA, "WAL, 8 readers, extra sync"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char path[400];
        snprintf(path, sizeof path, "%s/variant-%zu.db", e->dir, i);
        sitq_sqlite_options so;
        sitq_sqlite_options_init(&so);
        so.enable_wal = v[i].wal;
        so.reader_connections = v[i].readers;
        so.synchronous = v[i].sync;
        run_small_workload(path, &so, v[i].label);
    }
    sitq_sqlite_options so;
    sitq_sqlite_options_init(&so);
    so.reader_connections = 0;
    run_small_workload(":memory:", &so, ":memory:");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_err_filled_on_success, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_long_inputs_message_bounded, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_extreme_option_values, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_huge_durations, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_lease_renewed_for_long_handler, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_lease_renewed_in_process_task, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_batch_unique_key_within_batch, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_batch_failed_dependency_transitive, tq_setup,
                                        tq_teardown),
        cmocka_unit_test_setup_teardown(test_eta_after_dependency, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_priority_of_newly_ready, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_reregister_replaces, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_exhaustion, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_purged_dependency_unknown, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_storage_option_variants, tq_setup_dir, tq_teardown),
        cmocka_unit_test_setup_teardown(test_busy_write_lock, tq_setup_dir, tq_teardown),
        cmocka_unit_test_setup_teardown(test_stop_held_by_the_store, tq_setup_dir, tq_teardown),
    };
    return cmocka_run_group_tests_name("edge", tests, NULL, NULL);
}
