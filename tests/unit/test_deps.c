/* test_deps.c - dependencies: chain, diamond, failure/cancel propagation,
 * dependency on finished tasks, batches with depends_on_index. */
#include "helpers.h"

static sitq_task_id enqueue_dep(sitq_queue *q, const char *fn, const sitq_task_id *deps, size_t n) {
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.depends_on = deps;
    o.n_depends_on = n;
    return tq_enqueue(q, fn, &o);
}

static void test_chain(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    tq_rec rec;
    tq_rec_init(&rec, 8);
    sitq_task_id a = tq_enqueue(q, "f", NULL);
    sitq_task_id b = enqueue_dep(q, "f", &a, 1);
    sitq_task_id c = enqueue_dep(q, "f", &b, 1);
    assert_int_equal(tq_status(q, a), SITQ_QUEUED);
    assert_int_equal(tq_status(q, b), SITQ_WAITING);
    assert_int_equal(tq_status(q, c), SITQ_WAITING);
    sitq_result *r = tq_get(q, c);
    assert_int_equal(r->n_depends_on, 1);
    assert_int_equal(r->depends_on[0], b);
    sitq_result_free(r);
    sitq_stats st = tq_stats(q);
    assert_int_equal(st.count[SITQ_WAITING], 2);
    assert_int_equal(st.count[SITQ_QUEUED], 1);

    sitq_worker *w = tq_worker_new(q, 2, 2, "f", tq_h_record, &rec);
    r = NULL;
    TQ_ERR(SITQ_ENOTREADY, sitq_worker_process_task(w, b, &r, &tq_err));
    assert_int_equal(r->status, SITQ_WAITING);
    sitq_result_free(r);

    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_result *ra = tq_wait_done(q, a, 20), *rb = tq_wait_done(q, b, 20),
                *rc = tq_wait_done(q, c, 20);
    assert_int_equal(ra->status, SITQ_SUCCEEDED);
    assert_int_equal(rb->status, SITQ_SUCCEEDED);
    assert_int_equal(rc->status, SITQ_SUCCEEDED);
    assert_true(rb->started_at_us >= ra->finished_at_us);
    assert_true(rc->started_at_us >= rb->finished_at_us);
    sitq_result_free(ra);
    sitq_result_free(rb);
    sitq_result_free(rc);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(rec.n, 3);
    assert_int_equal(rec.ids[0], a);
    assert_int_equal(rec.ids[1], b);
    assert_int_equal(rec.ids[2], c);
    tq_rec_free(&rec);
}

static void test_diamond(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    tq_rec rec;
    tq_rec_init(&rec, 8);
    rec.sleep_ms = 20;
    sitq_task_id a = tq_enqueue(q, "f", NULL);
    sitq_task_id b = enqueue_dep(q, "f", &a, 1);
    sitq_task_id c = enqueue_dep(q, "f", &a, 1);
    sitq_task_id bc[2] = {b, c};
    sitq_task_id d = enqueue_dep(q, "f", bc, 2);
    sitq_result *r = tq_get(q, d);
    assert_int_equal(r->n_depends_on, 2);
    assert_true((r->depends_on[0] == b && r->depends_on[1] == c) ||
                (r->depends_on[0] == c && r->depends_on[1] == b));
    sitq_result_free(r);

    sitq_worker *w = tq_worker_new(q, 2, 2, "f", tq_h_record, &rec);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_result *rd = tq_wait_done(q, d, 20);
    sitq_result *rb = tq_get(q, b), *rc = tq_get(q, c), *ra = tq_get(q, a);
    assert_int_equal(rd->status, SITQ_SUCCEEDED);
    assert_int_equal(rb->status, SITQ_SUCCEEDED);
    assert_int_equal(rc->status, SITQ_SUCCEEDED);
    assert_true(rb->started_at_us >= ra->finished_at_us);
    assert_true(rc->started_at_us >= ra->finished_at_us);
    assert_true(rd->started_at_us >= rb->finished_at_us);
    assert_true(rd->started_at_us >= rc->finished_at_us);
    sitq_result_free(ra);
    sitq_result_free(rb);
    sitq_result_free(rc);
    sitq_result_free(rd);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(rec.n, 4);
    assert_int_equal(rec.ids[0], a);
    assert_int_equal(rec.ids[3], d);
    tq_rec_free(&rec);
}

static void assert_failed_naming(sitq_queue *q, sitq_task_id id, sitq_task_id dep1,
                                 sitq_task_id dep2) {
    sitq_result *r = tq_get(q, id);
    if (r->status != SITQ_FAILED)
        fail_msg("task %lld: status %s, expected failed", (long long)id,
                 sitq_status_name(r->status));
    assert_non_null(r->error);
    if (!strstr(r->error, tq_id_str(dep1)) && !strstr(r->error, tq_id_str(dep2)))
        fail_msg("task %lld: error \"%s\" names neither %lld nor %lld", (long long)id, r->error,
                 (long long)dep1, (long long)dep2);
    assert_int_equal(r->attempts, 0);
    assert_true(r->finished_at_us > 0);
    sitq_result_free(r);
}

static void test_failure_propagation(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    /* ids well apart so a substring match of one id in another is unlikely */
    for (int i = 0; i < 20; i++) tq_enqueue(q, "pad", NULL);
    sitq_task_id a = tq_enqueue(q, "f", NULL);
    sitq_task_id b = enqueue_dep(q, "g", &a, 1);
    sitq_task_id c = enqueue_dep(q, "g", &a, 1);
    sitq_task_id bc[2] = {b, c};
    sitq_task_id d = enqueue_dep(q, "g", bc, 2);
    sitq_task_id e = enqueue_dep(q, "g", &d, 1);
    sitq_task_id unrelated = tq_enqueue(q, "g", NULL);

    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_fail, NULL);
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, a, &r, &tq_err));
    assert_int_equal(r->status, SITQ_FAILED);
    sitq_result_free(r);
    sitq_worker_free(w);

    /* at once, without any worker running */
    assert_failed_naming(q, b, a, a);
    assert_failed_naming(q, c, a, a);
    {
        sitq_result *rd = tq_get(q, d);
        assert_int_equal(rd->status, SITQ_FAILED);
        assert_int_equal(rd->attempts, 0);
        assert_non_null(rd->error);
        assert_true(strstr(rd->error, tq_id_str(a)) || strstr(rd->error, tq_id_str(b)) ||
                    strstr(rd->error, tq_id_str(c)));
        sitq_result_free(rd);
    }
    {
        sitq_result *re = tq_get(q, e);
        assert_int_equal(re->status, SITQ_FAILED);
        assert_non_null(re->error);
        assert_true(strstr(re->error, tq_id_str(a)) || strstr(re->error, tq_id_str(d)));
        sitq_result_free(re);
    }
    assert_int_equal(tq_status(q, unrelated), SITQ_QUEUED);
    sitq_stats st = tq_stats(q);
    assert_int_equal(st.count[SITQ_FAILED], 5);
    assert_int_equal(st.count[SITQ_WAITING], 0);

    /* retry of a dependent whose dependency failed: retry that first */
    TQ_ERR(SITQ_ESTATE, sitq_retry(q, b, &tq_err));
    /* which runs what failed downstream of it again: they wait for it */
    TQ_OK(sitq_retry(q, a, &tq_err));
    assert_int_equal(tq_status(q, a), SITQ_QUEUED);
    sitq_task_id waiting[] = {b, c, d, e};
    for (int i = 0; i < 4; i++) assert_int_equal(tq_status(q, waiting[i]), SITQ_WAITING);
    TQ_ERR(SITQ_ESTATE, sitq_retry(q, b, &tq_err)); /* waiting: nothing to retry */
    w = tq_worker_new(q, 1, 1, "*", tq_h_echo, NULL);
    r = NULL;
    TQ_OK(sitq_worker_process_task(w, a, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    assert_int_equal(tq_status(q, b), SITQ_QUEUED);
    r = NULL;
    TQ_OK(sitq_worker_process_task(w, b, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    sitq_worker_free(w);
}

/* Fails its first call, then succeeds. */
static int h_fail_first(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)p;
    (void)n;
    if (atomic_fetch_add((atomic_int *)ud, 1) == 0) {
        sitq_ctx_set_error(ctx, "first try fails", NULL);
        return 1;
    }
    return 0;
}

/* A dependency that fails but still has retries left does not fail its dependents. */
static void test_dependency_retrying_not_propagated(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    atomic_int calls = 0;
    sitq_worker *w = tq_worker_new(q, 1, 1, "flaky", h_fail_first, &calls);
    TQ_OK(sitq_worker_register(w, "after", tq_h_echo, NULL, &tq_err));
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.max_retries = 1;
    o.backoff_base_s = 0.2;
    o.backoff_jitter = 0;
    sitq_task_id a = tq_enqueue(q, "flaky", &o);
    sitq_task_id b = enqueue_dep(q, "after", &a, 1);
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, a, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SCHEDULED);
    sitq_result_free(r);
    assert_int_equal(tq_status(q, b), SITQ_WAITING);
    TQ_OK(sitq_worker_start(w, &tq_err));
    r = tq_wait_done(q, b, 20);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    r = tq_get(q, a);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_int_equal(r->attempts, 2);
    sitq_result_free(r);
    sitq_worker_free(w);
    assert_int_equal(atomic_load(&calls), 2);
}

static void test_cancel_propagation(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    for (int i = 0; i < 20; i++) tq_enqueue(q, "pad", NULL);
    sitq_task_id a = tq_enqueue(q, "f", NULL);
    sitq_task_id b = enqueue_dep(q, "f", &a, 1);
    sitq_task_id c = enqueue_dep(q, "f", &b, 1);
    sitq_status st = (sitq_status)-1;
    TQ_OK(sitq_cancel(q, a, &st, &tq_err));
    assert_int_equal(st, SITQ_CANCELLED);
    sitq_result *r = tq_get(q, a);
    assert_int_equal(r->status, SITQ_CANCELLED);
    assert_true(r->finished_at_us > 0);
    sitq_result_free(r);
    assert_failed_naming(q, b, a, a);
    {
        sitq_result *rc = tq_get(q, c);
        assert_int_equal(rc->status, SITQ_FAILED);
        assert_non_null(rc->error);
        assert_true(strstr(rc->error, tq_id_str(a)) || strstr(rc->error, tq_id_str(b)));
        sitq_result_free(rc);
    }

    /* cancelling a waiting task fails its dependents too, not its dependency */
    sitq_task_id x = tq_enqueue(q, "f", NULL);
    sitq_task_id y = enqueue_dep(q, "f", &x, 1);
    sitq_task_id z = enqueue_dep(q, "f", &y, 1);
    TQ_OK(sitq_cancel(q, y, &st, &tq_err));
    assert_int_equal(st, SITQ_CANCELLED);
    assert_int_equal(tq_status(q, y), SITQ_CANCELLED);
    assert_failed_naming(q, z, y, y);
    assert_int_equal(tq_status(q, x), SITQ_QUEUED);
}

static void test_dependency_already_finished(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    for (int i = 0; i < 20; i++) tq_enqueue(q, "pad", NULL);
    sitq_worker *w = tq_worker_new(q, 1, 1, "bad", tq_h_fail, NULL);
    TQ_OK(sitq_worker_register(w, "good", tq_h_echo, NULL, &tq_err));
    sitq_task_id failed = tq_enqueue(q, "bad", NULL);
    sitq_task_id ok = tq_enqueue(q, "good", NULL);
    sitq_task_id cancelled = tq_enqueue(q, "good", NULL);
    TQ_OK(sitq_worker_process_task(w, failed, NULL, &tq_err));
    TQ_OK(sitq_worker_process_task(w, ok, NULL, &tq_err));
    TQ_OK(sitq_cancel(q, cancelled, NULL, &tq_err));
    assert_int_equal(tq_status(q, failed), SITQ_FAILED);
    assert_int_equal(tq_status(q, ok), SITQ_SUCCEEDED);

    sitq_task_id on_failed = enqueue_dep(q, "good", &failed, 1);
    assert_failed_naming(q, on_failed, failed, failed);
    sitq_task_id on_cancelled = enqueue_dep(q, "good", &cancelled, 1);
    assert_failed_naming(q, on_cancelled, cancelled, cancelled);
    sitq_task_id on_ok = enqueue_dep(q, "good", &ok, 1);
    assert_int_equal(tq_status(q, on_ok), SITQ_QUEUED);
    sitq_task_id mixed[2] = {ok, failed};
    sitq_task_id on_mixed = enqueue_dep(q, "good", mixed, 2);
    assert_failed_naming(q, on_mixed, failed, failed);

    /* the failed ones never run */
    sitq_result *r = NULL;
    TQ_ERR(SITQ_ENOTREADY, sitq_worker_process_task(w, on_failed, &r, &tq_err));
    assert_int_equal(r->status, SITQ_FAILED);
    sitq_result_free(r);
    r = NULL;
    TQ_OK(sitq_worker_process_task(w, on_ok, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    sitq_worker_free(w);
}

static void test_chain_1000(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    enum { N = 1000 };
    sitq_task_spec *specs = calloc(N, sizeof *specs);
    size_t *idx = calloc(N, sizeof *idx);
    sitq_task_id *ids = calloc(N, sizeof *ids);
    for (size_t i = 0; i < N; i++) {
        specs[i].function = "chain";
        if (i > 0) {
            idx[i] = i - 1;
            specs[i].depends_on_index = &idx[i];
            specs[i].n_depends_on_index = 1;
        }
    }
    TQ_OK(sitq_enqueue_batch(q, specs, N, ids, &tq_err));
    sitq_stats st = tq_stats(q);
    assert_int_equal(st.total, N);
    assert_int_equal(st.count[SITQ_QUEUED], 1);
    assert_int_equal(st.count[SITQ_WAITING], N - 1);
    sitq_result *r = tq_get(q, ids[500]);
    assert_int_equal(r->n_depends_on, 1);
    assert_int_equal(r->depends_on[0], ids[499]);
    sitq_result_free(r);

    tq_rec rec;
    tq_rec_init(&rec, N);
    sitq_worker_options o;
    tq_worker_opts(&o, 2, 2);
    o.poll_interval_s = 0.002;
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(q, &o, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "chain", tq_h_record, &rec, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    r = tq_wait_done(q, ids[N - 1], 120);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(rec.n, N);
    for (size_t i = 0; i < N; i++)
        if (rec.ids[i] != ids[i])
            fail_msg("chain position %zu ran %lld, expected %lld", i, (long long)rec.ids[i],
                     (long long)ids[i]);
    assert_int_equal(atomic_load(&rec.max_active), 1);
    st = tq_stats(q);
    assert_int_equal(st.count[SITQ_SUCCEEDED], N);
    tq_rec_free(&rec);
    free(specs);
    free(idx);
    free(ids);
}

static void test_batch_dependency_errors(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    tq_enqueue(q, "f", NULL);
    int64_t total0 = tq_stats(q).total;
    sitq_task_spec specs[3];
    sitq_task_id ids[3];
    size_t fwd = 1, self = 1, far = 7;

    memset(specs, 0, sizeof specs);
    for (int i = 0; i < 3; i++) specs[i].function = "f";
    specs[0].depends_on_index = &fwd; /* forward */
    specs[0].n_depends_on_index = 1;
    TQ_ERR(SITQ_EDEPENDENCY, sitq_enqueue_batch(q, specs, 3, ids, &tq_err));
    assert_int_equal(tq_stats(q).total, total0);

    memset(specs, 0, sizeof specs);
    for (int i = 0; i < 3; i++) specs[i].function = "f";
    specs[1].depends_on_index = &self; /* self */
    specs[1].n_depends_on_index = 1;
    TQ_ERR(SITQ_EDEPENDENCY, sitq_enqueue_batch(q, specs, 3, ids, &tq_err));
    assert_int_equal(tq_stats(q).total, total0);

    memset(specs, 0, sizeof specs);
    for (int i = 0; i < 3; i++) specs[i].function = "f";
    specs[2].depends_on_index = &far; /* beyond the batch */
    specs[2].n_depends_on_index = 1;
    TQ_ERR(SITQ_EDEPENDENCY, sitq_enqueue_batch(q, specs, 3, ids, &tq_err));
    assert_int_equal(tq_stats(q).total, total0);

    /* unknown id in a spec's options */
    sitq_task_id bogus = 99999999;
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.depends_on = &bogus;
    o.n_depends_on = 1;
    memset(specs, 0, sizeof specs);
    for (int i = 0; i < 3; i++) specs[i].function = "f";
    specs[2].options = &o;
    TQ_ERR(SITQ_EDEPENDENCY, sitq_enqueue_batch(q, specs, 3, ids, &tq_err));
    /* The message names the task of the batch (both backends alike). */
    assert_non_null(strstr(tq_err.message, "task 2: dependency 99999999 does not exist"));
    assert_int_equal(tq_stats(q).total, total0);

    /* valid: index deps and id deps mixed */
    sitq_task_id outside = tq_enqueue(q, "f", NULL);
    size_t zero = 0, both[2] = {0, 1};
    memset(specs, 0, sizeof specs);
    for (int i = 0; i < 3; i++) specs[i].function = "f";
    sitq_task_options_init(&o);
    o.depends_on = &outside;
    o.n_depends_on = 1;
    specs[1].depends_on_index = &zero;
    specs[1].n_depends_on_index = 1;
    specs[1].options = &o;
    specs[2].depends_on_index = both;
    specs[2].n_depends_on_index = 2;
    TQ_OK(sitq_enqueue_batch(q, specs, 3, ids, &tq_err));
    assert_int_equal(tq_stats(q).total, total0 + 4);
    assert_int_equal(tq_status(q, ids[0]), SITQ_QUEUED);
    assert_int_equal(tq_status(q, ids[1]), SITQ_WAITING);
    assert_int_equal(tq_status(q, ids[2]), SITQ_WAITING);
    sitq_result *r = tq_get(q, ids[1]);
    assert_int_equal(r->n_depends_on, 2);
    assert_true((r->depends_on[0] == outside && r->depends_on[1] == ids[0]) ||
                (r->depends_on[1] == outside && r->depends_on[0] == ids[0]));
    sitq_result_free(r);

    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_echo, NULL);
    TQ_OK(sitq_worker_start(w, &tq_err));
    r = tq_wait_done(q, ids[2], 20);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    sitq_worker_free(w);
}

/* A finalizer with no dependency at all, alone or in a batch: refused (it
 * would run at once as a plain task); a batch index dependency is one. */
static void test_finalizer_needs_a_dependency(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    int64_t total0 = tq_stats(q).total;
    sitq_task_spec specs[3];
    sitq_task_id ids[3];
    size_t zero_dep = 0;
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.finalizer = 1;
    sitq_task_id lone = 0;
    TQ_ERR(SITQ_EINVAL, sitq_enqueue(q, "f", NULL, 0, &o, &lone, &tq_err));
    assert_non_null(
        strstr(tq_err.message, "options.finalizer is 1 but the task has no dependency"));
    memset(specs, 0, sizeof specs);
    for (int i = 0; i < 3; i++) specs[i].function = "f";
    specs[1].options = &o;
    TQ_ERR(SITQ_EINVAL, sitq_enqueue_batch(q, specs, 3, ids, &tq_err));
    assert_non_null(strstr(tq_err.message, "task 1: options.finalizer is 1"));
    assert_int_equal(tq_stats(q).total, total0);
    specs[1].depends_on_index = &zero_dep; /* an index dependency is one */
    specs[1].n_depends_on_index = 1;
    TQ_OK(sitq_enqueue_batch(q, specs, 3, ids, &tq_err));
    assert_int_equal(tq_stats(q).total, total0 + 3);
}

/* Purge keeps a dependent's edge to a failed dependency it deletes, so the
 * dependent can never be retried into running without it; the edge to a
 * purged succeeded dependency is dropped (satisfied for good). */
static void test_retry_after_dependency_purged(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_worker *w = tq_worker_new(q, 1, 0, "bad", tq_h_fail, NULL);
    TQ_OK(sitq_worker_register(w, "ok", tq_h_echo, NULL, &tq_err));
    sitq_task_id bad = tq_enqueue(q, "bad", NULL);
    sitq_task_id good = tq_enqueue(q, "ok", NULL);
    TQ_OK(sitq_worker_process_task(w, bad, NULL, &tq_err));
    TQ_OK(sitq_worker_process_task(w, good, NULL, &tq_err));
    tq_sleep_ms(400); /* the roots are older than what follows */
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.depends_on = &bad;
    o.n_depends_on = 1;
    sitq_task_id after_bad = tq_enqueue(q, "ok", &o); /* fails at once */
    assert_int_equal(tq_status(q, after_bad), SITQ_FAILED);
    o.depends_on = &good;
    sitq_task_id after_good = tq_enqueue(q, "bad", &o); /* runs, fails by itself */
    TQ_OK(sitq_worker_process_task(w, after_good, NULL, &tq_err));
    assert_int_equal(tq_status(q, after_good), SITQ_FAILED);
    /* purge the two roots only (the dependents finished later) */
    int64_t purged = 0;
    TQ_OK(sitq_purge(q, 0.3, &purged, &tq_err));
    assert_int_equal(purged, 2);
    TQ_ERR(SITQ_ESTATE, sitq_retry(q, after_bad, &tq_err));
    assert_non_null(strstr(tq_err.message, tq_id_str(bad)));
    assert_int_equal(tq_status(q, after_bad), SITQ_FAILED);
    TQ_OK(sitq_retry(q, after_good, &tq_err)); /* its dependency had succeeded */
    assert_int_equal(tq_status(q, after_good), SITQ_QUEUED);
    sitq_worker_free(w);
}

/* A timeout below one microsecond is one microsecond, never "no timeout". */
static void test_tiny_timeout_is_not_none(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.timeout_s = 1e-7;
    sitq_task_id id = tq_enqueue(q, "f", &o);
    sitq_result *r = tq_get(q, id);
    assert_true(r->timeout_s > 0);
    sitq_result_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chain, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_diamond, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_failure_propagation, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_dependency_retrying_not_propagated, tq_setup,
                                        tq_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_propagation, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_dependency_already_finished, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_chain_1000, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_batch_dependency_errors, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_finalizer_needs_a_dependency, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_dependency_purged, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_tiny_timeout_is_not_none, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests_name("deps", tests, NULL, NULL);
}
