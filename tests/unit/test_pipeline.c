/* test_pipeline.c - pipelines: a running handler reads its dependencies'
 * results in declaration order (a fan-in of 10,000 included, started
 * without polling), finalizers that run whatever their dependencies'
 * outcomes, purge that keeps what an unfinished dependent needs, retry of
 * the failed part of a pipeline, and the error paths. Runs on both backends
 * (pg.unit). */
#include "helpers.h"

/* ---- reading dependencies ---- */

/* What a handler saw of its dependencies (main thread asserts after). */
typedef struct seen {
    pthread_mutex_t mu;
    int calls;
    size_t count;
    size_t n;
    sitq_status status[16];
    char *error[16];
    char *value[16];
    sitq_task_id id[16];
    size_t bad;                       /* fan-in: results that did not match */
    const char **expect;              /* fan-in: expected value per position */
    int fail;                         /* the handler fails after reading */
    sitq_code out_of_range, null_out; /* error paths */
} seen;

static void seen_init(seen *s) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
}

static void seen_free(seen *s) {
    for (size_t i = 0; i < 16; i++) {
        free(s->error[i]);
        free(s->value[i]);
    }
    pthread_mutex_destroy(&s->mu);
}

/* Whether v, read by sitq_ctx_dependency_values, says what the whole result
 * r of the same position says (id, status, value and error). */
static int value_matches(const sitq_dependency_value *v, const sitq_result *r) {
    return v->id == r->id && v->status == r->status && v->value_len == r->value_len &&
           (v->value == NULL) == (r->value == NULL) &&
           (!v->value_len || memcmp(v->value, r->value, v->value_len) == 0) &&
           (v->error == NULL) == (r->error == NULL) && (!v->error || !strcmp(v->error, r->error));
}

/* Reads every dependency in order and records up to 16 of them; the
 * values read of all positions at once must say the same. */
static int h_read_deps(sitq_task_ctx *ctx, const void *p, size_t len, void *ud) {
    (void)p;
    (void)len;
    seen *s = ud;
    size_t n = sitq_ctx_dependency_count(ctx);
    size_t bad = 0;
    pthread_mutex_lock(&s->mu);
    s->calls++;
    s->count = n;
    for (size_t i = 0; i < n; i++) {
        sitq_result *r = NULL;
        if (sitq_ctx_dependency_result(ctx, i, &r, NULL) != SITQ_OK) {
            bad++;
            continue;
        }
        if (s->expect && (!r->value || strcmp((const char *)r->value, s->expect[i]) != 0)) bad++;
        sitq_dependency_value v;
        if (sitq_ctx_dependency_values(ctx, i, 1, &v, NULL) != SITQ_OK || !value_matches(&v, r))
            bad++;
        sitq_dependency_values_clear(&v, 1);
        if (i < 16) {
            s->status[i] = r->status;
            s->id[i] = r->id;
            free(s->error[i]); /* a second call replaces the first's */
            free(s->value[i]);
            s->error[i] = r->error ? strdup(r->error) : NULL;
            s->value[i] = r->value ? strdup((const char *)r->value) : NULL;
            s->n = i + 1;
        }
        sitq_result_free(r);
    }
    s->bad = bad;
    sitq_result *r = (sitq_result *)1;
    s->out_of_range = sitq_ctx_dependency_result(ctx, n, &r, NULL);
    if (r) s->out_of_range = SITQ_OK; /* must be NULL on error */
    s->null_out = sitq_ctx_dependency_result(ctx, 0, NULL, NULL);
    int fail = s->fail;
    pthread_mutex_unlock(&s->mu);
    if (fail) sitq_ctx_set_error(ctx, "finalizer failed", NULL);
    else sitq_ctx_set_result(ctx, "done", 5);
    return fail;
}

/* Reads every dependency in slices of 777 positions with one range read
 * each, of whole results and of values, and checks each entry against the
 * one-by-one read of the same position; then the ranges' error paths. */
static int h_read_range(sitq_task_ctx *ctx, const void *p, size_t len, void *ud) {
    (void)p;
    (void)len;
    seen *s = ud;
    size_t n = sitq_ctx_dependency_count(ctx), bad = 0;
    sitq_result *slice[777];
    sitq_dependency_value values[777];
    for (size_t first = 0; first < n; first += 777) {
        size_t k = n - first < 777 ? n - first : 777;
        if (sitq_ctx_dependency_results(ctx, first, k, slice, NULL) != SITQ_OK ||
            sitq_ctx_dependency_values(ctx, first, k, values, NULL) != SITQ_OK) {
            bad += k;
            continue;
        }
        for (size_t i = 0; i < k; i++) {
            sitq_result *one = NULL;
            if (!slice[i] || sitq_ctx_dependency_result(ctx, first + i, &one, NULL) != SITQ_OK ||
                one->id != slice[i]->id || one->status != slice[i]->status ||
                one->value_len != slice[i]->value_len ||
                (one->value_len && memcmp(one->value, slice[i]->value, one->value_len) != 0) ||
                (s->expect && strcmp((const char *)slice[i]->value, s->expect[first + i]) != 0) ||
                !value_matches(&values[i], slice[i]))
                bad++;
            sitq_result_free(one);
            sitq_result_free(slice[i]);
        }
        sitq_dependency_values_clear(values, k);
    }
    pthread_mutex_lock(&s->mu);
    s->calls++;
    s->count = n;
    s->bad = bad;
    slice[0] = slice[1] = (sitq_result *)1;
    s->out_of_range = sitq_ctx_dependency_results(ctx, n ? n - 1 : 0, 2, slice, NULL);
    if (slice[0] || slice[1]) s->out_of_range = SITQ_OK;               /* must be NULL on error */
    s->null_out = sitq_ctx_dependency_results(ctx, 0, 0, slice, NULL); /* n = 0 */
    if (sitq_ctx_dependency_results(ctx, 0, 1, NULL, NULL) != SITQ_EINVAL) s->null_out = SITQ_OK;
    /* the same paths of the values read: entries zeroed on error */
    values[0].id = values[1].id = 1;
    if (sitq_ctx_dependency_values(ctx, n ? n - 1 : 0, 2, values, NULL) != SITQ_EINVAL ||
        values[0].id || values[1].id)
        s->out_of_range = SITQ_OK;
    if (sitq_ctx_dependency_values(ctx, 0, 0, values, NULL) != SITQ_EINVAL ||
        sitq_ctx_dependency_values(ctx, 0, 1, NULL, NULL) != SITQ_EINVAL)
        s->null_out = SITQ_OK;
    pthread_mutex_unlock(&s->mu);
    sitq_ctx_set_result(ctx, "done", 5);
    return 0;
}

static sitq_task_id enqueue_deps(sitq_queue *q, const char *fn, const sitq_task_id *deps, size_t n,
                                 int finalizer) {
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.depends_on = deps;
    o.n_depends_on = n;
    o.finalizer = finalizer;
    return tq_enqueue(q, fn, &o);
}

static sitq_task_id enqueue_payload(sitq_queue *q, const char *fn, const char *text) {
    sitq_task_id id = 0;
    TQ_OK(sitq_enqueue(q, fn, text, strlen(text) + 1, NULL, &id, &tq_err));
    return id;
}

static void process(sitq_worker *w, sitq_task_id id, sitq_status expect) {
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    assert_int_equal(r->status, expect);
    sitq_result_free(r);
}

/* Declaration order is kept (not id order), with a repeated id counted once
 * at its first place; a batch's ids come before its indexes. */
static void test_declared_order(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_id x = enqueue_payload(q, "p", "x"), y = enqueue_payload(q, "p", "y");
    sitq_task_id yx[] = {y, x, y};
    sitq_task_spec specs[2];
    memset(specs, 0, sizeof specs);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.depends_on = yx;
    o.n_depends_on = 3;
    specs[0] = (sitq_task_spec){"p", "z", 2, NULL, NULL, 0};
    size_t idx0 = 0;
    specs[1] = (sitq_task_spec){"c", NULL, 0, &o, &idx0, 1};
    sitq_task_id ids[2];
    TQ_OK(sitq_enqueue_batch(q, specs, 2, ids, &tq_err));
    sitq_result *r = tq_get(q, ids[1]);
    assert_int_equal(r->n_depends_on, 3);
    assert_int_equal(r->depends_on[0], y);
    assert_int_equal(r->depends_on[1], x);
    assert_int_equal(r->depends_on[2], ids[0]);
    assert_int_equal(r->finalizer, 0);
    sitq_result_free(r);

    seen s;
    seen_init(&s);
    sitq_worker *w = tq_worker_new(q, 1, 0, "p", tq_h_echo, NULL);
    TQ_OK(sitq_worker_register(w, "c", h_read_deps, &s, &tq_err));
    process(w, x, SITQ_SUCCEEDED);
    process(w, y, SITQ_SUCCEEDED);
    process(w, ids[0], SITQ_SUCCEEDED);
    process(w, ids[1], SITQ_SUCCEEDED);
    assert_int_equal(s.count, 3);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.value[0], "y");
    assert_string_equal(s.value[1], "x");
    assert_string_equal(s.value[2], "z");
    assert_int_equal(s.id[0], y);
    assert_int_equal(s.status[2], SITQ_SUCCEEDED);
    assert_int_equal(s.bad, 0);
    /* error paths inside a handler */
    assert_int_equal(s.out_of_range, SITQ_EINVAL);
    assert_int_equal(s.null_out, SITQ_EINVAL);
    sitq_worker_free(w);
    seen_free(&s);
}

/* Outside a handler: no context. A task without dependencies has none. */
static void test_error_paths(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_result *r = NULL;
    assert_int_equal(sitq_ctx_dependency_count(NULL), 0);
    TQ_ERR_MSG(SITQ_EINVAL, "ctx", "handler", sitq_ctx_dependency_result(NULL, 0, &r, &tq_err));
    assert_null(r);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.finalizer = 2;
    sitq_task_id id = 0;
    TQ_ERR_MSG(SITQ_EINVAL, "finalizer", "finalizer",
               sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));

    seen s;
    seen_init(&s);
    sitq_worker *w = tq_worker_new(q, 1, 0, "c", h_read_deps, &s);
    sitq_task_id lone = tq_enqueue(q, "c", NULL);
    process(w, lone, SITQ_SUCCEEDED);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.count, 0);
    assert_int_equal(s.out_of_range, SITQ_EINVAL); /* index 0 of none */
    sitq_worker_free(w);
    seen_free(&s);
}

#define FAN 10000

/* 10,000 parents into one child that reads every result in declared order
 * (the reverse of id order). The worker polls only every 30 s, so the child
 * finishing well within that shows it was released by the last parent's
 * commit, not found by polling. */
static void fan_in(void **state, sitq_handler_fn reader) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_spec *specs = calloc(FAN + 1, sizeof *specs);
    char(*text)[8] = calloc(FAN, sizeof *text);
    size_t *idx = calloc(FAN, sizeof *idx);
    const char **expect = calloc(FAN, sizeof *expect);
    sitq_task_id *ids = calloc(FAN + 1, sizeof *ids);
    assert_true(specs && text && idx && expect && ids);
    for (size_t i = 0; i < FAN; i++) {
        snprintf(text[i], sizeof text[i], "p%zu", i);
        specs[i] = (sitq_task_spec){"p", text[i], strlen(text[i]) + 1, NULL, NULL, 0};
        idx[i] = FAN - 1 - i; /* declared in reverse */
        expect[i] = text[FAN - 1 - i];
    }
    specs[FAN] = (sitq_task_spec){"c", NULL, 0, NULL, idx, FAN};
    TQ_OK(sitq_enqueue_batch(q, specs, FAN + 1, ids, &tq_err));
    assert_int_equal(tq_status(q, ids[FAN]), SITQ_WAITING);

    seen s;
    seen_init(&s);
    s.expect = expect;
    sitq_worker_options o;
    tq_worker_opts(&o, 2, -1);
    o.poll_interval_s = 30;
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(q, &o, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "p", tq_h_echo, NULL, &tq_err));
    TQ_OK(sitq_worker_register(w, "c", reader, &s, &tq_err));
    int64_t t0 = tq_mono_ms();
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_result *r = tq_wait_done(q, ids[FAN], 25);
    int64_t ms = tq_mono_ms() - t0;
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    TQ_OK(sitq_worker_stop(w, 10, &tq_err));
    sitq_worker_free(w);
    printf("fan-in of %d: child done %lld ms after start\n", FAN, (long long)ms);
    assert_true(ms < 25000);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.count, FAN);
    assert_int_equal(s.bad, 0);
    if (reader == h_read_deps) {
        assert_string_equal(s.value[0], "p9999");
        assert_int_equal(s.id[0], ids[FAN - 1]);
    } else {
        assert_int_equal(s.out_of_range, SITQ_EINVAL);
        assert_int_equal(s.null_out, SITQ_EINVAL);
    }
    seen_free(&s);
    free(specs);
    free(text);
    free(idx);
    free(expect);
    free(ids);
}

static void test_fan_in_10000(void **state) { fan_in(state, h_read_deps); }

/* The same fan-in read by ranges: every entry equals the one-by-one read. */
static void test_fan_in_10000_by_ranges(void **state) { fan_in(state, h_read_range); }

/* Ranges outside a handler, and a range over a short, reordered list. */
static void test_range_paths(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_result *one[1] = {(sitq_result *)1};
    TQ_ERR_MSG(SITQ_EINVAL, "ctx", "handler",
               sitq_ctx_dependency_results(NULL, 0, 1, one, &tq_err));
    assert_null(one[0]);
    sitq_dependency_value v = {.id = 7};
    TQ_ERR_MSG(SITQ_EINVAL, "ctx", "handler", sitq_ctx_dependency_values(NULL, 0, 1, &v, &tq_err));
    assert_int_equal(v.id, 0);
    sitq_dependency_values_clear(&v, 1); /* a cleared entry clears again */
    sitq_dependency_values_clear(NULL, 0);
    sitq_task_id x = enqueue_payload(q, "p", "x"), y = enqueue_payload(q, "p", "y");
    sitq_task_id yx[] = {y, x};
    sitq_task_id c = enqueue_deps(q, "c", yx, 2, 0);
    const char *expect[] = {"y", "x"};
    seen s;
    seen_init(&s);
    s.expect = expect;
    sitq_worker *w = tq_worker_new(q, 1, 0, "p", tq_h_echo, NULL);
    TQ_OK(sitq_worker_register(w, "c", h_read_range, &s, &tq_err));
    process(w, x, SITQ_SUCCEEDED);
    process(w, y, SITQ_SUCCEEDED);
    process(w, c, SITQ_SUCCEEDED);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.count, 2);
    assert_int_equal(s.bad, 0);
    assert_int_equal(s.out_of_range, SITQ_EINVAL);
    assert_int_equal(s.null_out, SITQ_EINVAL);
    sitq_worker_free(w);
    seen_free(&s);
}

/* ---- finalizers ---- */

static void test_finalizer_mixed_outcomes(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    for (int i = 0; i < 20; i++) tq_enqueue(q, "pad", NULL); /* ids apart */
    sitq_task_id a = enqueue_payload(q, "ok", "A");
    sitq_task_id b = tq_enqueue(q, "bad", NULL);
    sitq_task_id c = tq_enqueue(q, "ok", NULL);
    sitq_task_id d = enqueue_deps(q, "ok", &b, 1, 0);
    sitq_task_id abcd[] = {a, b, c, d};
    sitq_task_id f = enqueue_deps(q, "fin", abcd, 4, 1);
    sitq_task_id g = enqueue_deps(q, "ok", &f, 1, 0);
    sitq_task_id h = enqueue_deps(q, "ok", &b, 1, 0); /* the default is unchanged */
    sitq_result *r = tq_get(q, f);
    assert_int_equal(r->finalizer, 1);
    sitq_result_free(r);

    seen s;
    seen_init(&s);
    sitq_worker *w = tq_worker_new(q, 1, 0, "ok", tq_h_echo, NULL);
    TQ_OK(sitq_worker_register(w, "bad", tq_h_fail, NULL, &tq_err));
    TQ_OK(sitq_worker_register(w, "fin", h_read_deps, &s, &tq_err));
    TQ_OK(sitq_cancel(q, c, NULL, &tq_err));
    assert_int_equal(tq_status(q, f), SITQ_WAITING);
    process(w, a, SITQ_SUCCEEDED);
    assert_int_equal(tq_status(q, f), SITQ_WAITING);
    process(w, b, SITQ_FAILED);
    /* b's normal dependents failed at once; the finalizer became ready */
    assert_int_equal(tq_status(q, d), SITQ_FAILED);
    assert_int_equal(tq_status(q, h), SITQ_FAILED);
    assert_int_equal(tq_status(q, f), SITQ_QUEUED);
    assert_int_equal(tq_status(q, g), SITQ_WAITING);
    process(w, f, SITQ_SUCCEEDED);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.bad, 0); /* the values read says the same of each outcome */
    assert_int_equal(s.status[0], SITQ_SUCCEEDED);
    assert_string_equal(s.value[0], "A");
    assert_int_equal(s.status[1], SITQ_FAILED);
    assert_string_equal(s.error[1], "boom");
    assert_int_equal(s.status[2], SITQ_CANCELLED);
    assert_string_equal(s.error[2], "cancelled");
    assert_int_equal(s.status[3], SITQ_FAILED);
    assert_non_null(strstr(s.error[3], tq_id_str(b)));
    /* its own dependents follow its outcome */
    assert_int_equal(tq_status(q, g), SITQ_QUEUED);

    /* a finalizer of tasks already failed is ready at once; one that fails
     * fails its dependents */
    sitq_task_id f2 = enqueue_deps(q, "fin", &b, 1, 1);
    assert_int_equal(tq_status(q, f2), SITQ_QUEUED);
    sitq_task_id g2 = enqueue_deps(q, "ok", &f2, 1, 0);
    s.fail = 1;
    process(w, f2, SITQ_FAILED);
    r = tq_get(q, g2);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_non_null(strstr(r->error, tq_id_str(f2)));
    sitq_result_free(r);
    sitq_worker_free(w);
    seen_free(&s);
}

/* A worker releases a finalizer after a failure without polling either. */
static void test_finalizer_with_worker(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_id a = tq_enqueue(q, "bad", NULL);
    sitq_task_id b = tq_enqueue(q, "ok", NULL);
    sitq_task_id ab[] = {a, b};
    sitq_task_id f = enqueue_deps(q, "fin", ab, 2, 1);
    seen s;
    seen_init(&s);
    sitq_worker_options o;
    tq_worker_opts(&o, 2, 0);
    o.poll_interval_s = 30;
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(q, &o, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "ok", tq_h_echo, NULL, &tq_err));
    TQ_OK(sitq_worker_register(w, "bad", tq_h_fail, NULL, &tq_err));
    TQ_OK(sitq_worker_register(w, "fin", h_read_deps, &s, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_result *r = tq_wait_done(q, f, 20);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    TQ_OK(sitq_worker_stop(w, 10, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.status[0], SITQ_FAILED);
    assert_int_equal(s.status[1], SITQ_SUCCEEDED);
    seen_free(&s);
}

/* ---- purge ---- */

static int64_t purge_now(sitq_queue *q) {
    int64_t n = -1;
    TQ_OK(sitq_purge(q, 0, &n, &tq_err));
    return n;
}

static void test_purge_keeps_what_dependents_need(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_id p = enqueue_payload(q, "ok", "P");
    sitq_task_id x = tq_enqueue(q, "bad", NULL);
    sitq_task_id later = tq_enqueue(q, "ok", NULL);
    sitq_task_id u = tq_enqueue(q, "ok", NULL); /* needed by nobody */
    sitq_task_id pxl[] = {p, x, later};
    sitq_task_id f = enqueue_deps(q, "fin", pxl, 3, 1);
    seen s;
    seen_init(&s);
    sitq_worker *w = tq_worker_new(q, 1, 0, "ok", tq_h_echo, NULL);
    TQ_OK(sitq_worker_register(w, "bad", tq_h_fail, NULL, &tq_err));
    TQ_OK(sitq_worker_register(w, "fin", h_read_deps, &s, &tq_err));
    process(w, p, SITQ_SUCCEEDED);
    process(w, x, SITQ_FAILED);
    process(w, u, SITQ_SUCCEEDED);
    tq_sleep_ms(2);                    /* finish times strictly before the purge's "now" */
    assert_int_equal(purge_now(q), 1); /* u only */
    sitq_result *r = NULL;
    TQ_ERR(SITQ_ENOTFOUND, sitq_get_result(q, u, &r, &tq_err));
    assert_int_equal(tq_status(q, p), SITQ_SUCCEEDED);
    assert_int_equal(tq_status(q, x), SITQ_FAILED);
    process(w, later, SITQ_SUCCEEDED);
    process(w, f, SITQ_SUCCEEDED);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.value[0], "P");
    assert_string_equal(s.error[1], "boom");
    tq_sleep_ms(2);
    assert_int_equal(purge_now(q), 4); /* all finished now */
    sitq_worker_free(w);
    seen_free(&s);
}

/* ---- retry of a pipeline ---- */

/* Fails its first call, succeeds after; counts calls. */
static int h_flaky(sitq_task_ctx *ctx, const void *p, size_t len, void *ud) {
    (void)p;
    (void)len;
    if (atomic_fetch_add((atomic_int *)ud, 1) == 0) {
        sitq_ctx_set_error(ctx, "first time", NULL);
        return 1;
    }
    sitq_ctx_set_result(ctx, "B", 2);
    return 0;
}

static void test_pipeline_retry(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_id a = enqueue_payload(q, "ok", "A");
    sitq_task_id b = tq_enqueue(q, "flaky", NULL);
    sitq_task_id z = tq_enqueue(q, "bad", NULL);
    sitq_task_id ab[] = {a, b}, bz[] = {b, z};
    sitq_task_id c = enqueue_deps(q, "read", ab, 2, 0);
    sitq_task_id d = enqueue_deps(q, "ok", &c, 1, 0);
    sitq_task_id e = enqueue_deps(q, "ok", bz, 2, 0); /* also needs z */
    sitq_task_id slow = tq_enqueue(q, "ok", NULL);
    sitq_task_id bs[] = {b, slow};
    sitq_task_id f = enqueue_deps(q, "fin", bs, 2, 1);
    atomic_int a_calls = 0, b_calls = 0;
    seen s, fs;
    seen_init(&s);
    seen_init(&fs);
    sitq_worker *w = tq_worker_new(q, 1, 0, "ok", tq_h_echo, &a_calls);
    TQ_OK(sitq_worker_register(w, "flaky", h_flaky, &b_calls, &tq_err));
    TQ_OK(sitq_worker_register(w, "bad", tq_h_fail, NULL, &tq_err));
    TQ_OK(sitq_worker_register(w, "read", h_read_deps, &s, &tq_err));
    TQ_OK(sitq_worker_register(w, "fin", h_read_deps, &fs, &tq_err));
    process(w, a, SITQ_SUCCEEDED);
    process(w, z, SITQ_FAILED);
    process(w, b, SITQ_FAILED);
    assert_int_equal(tq_status(q, c), SITQ_FAILED);
    assert_int_equal(tq_status(q, d), SITQ_FAILED);
    assert_int_equal(tq_status(q, e), SITQ_FAILED);
    assert_int_equal(tq_status(q, f), SITQ_WAITING); /* counted b as finished */

    TQ_OK(sitq_retry(q, b, &tq_err));
    assert_int_equal(tq_status(q, b), SITQ_QUEUED);
    assert_int_equal(tq_status(q, c), SITQ_WAITING);
    assert_int_equal(tq_status(q, d), SITQ_WAITING);
    assert_int_equal(tq_status(q, e), SITQ_FAILED); /* z still failed */
    assert_int_equal(tq_status(q, z), SITQ_FAILED);
    sitq_result *r = tq_get(q, a); /* succeeded tasks keep their results */
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_string_equal((const char *)r->value, "A");
    assert_int_equal(r->attempts, 1);
    sitq_result_free(r);
    /* the finalizer waits for b again, not only for slow */
    process(w, slow, SITQ_SUCCEEDED);
    assert_int_equal(tq_status(q, f), SITQ_WAITING);
    process(w, b, SITQ_SUCCEEDED);
    assert_int_equal(tq_status(q, f), SITQ_QUEUED);
    assert_int_equal(tq_status(q, c), SITQ_QUEUED);
    process(w, c, SITQ_SUCCEEDED);
    process(w, d, SITQ_SUCCEEDED);
    process(w, f, SITQ_SUCCEEDED);
    assert_string_equal(s.value[0], "A");
    assert_string_equal(s.value[1], "B");
    assert_int_equal(fs.status[0], SITQ_SUCCEEDED);
    assert_int_equal(atomic_load(&a_calls), 3); /* a, slow, d: a ran once */
    assert_int_equal(atomic_load(&b_calls), 2);
    sitq_worker_free(w);
    seen_free(&s);
    seen_free(&fs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_declared_order, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_error_paths, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_fan_in_10000, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_fan_in_10000_by_ranges, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_range_paths, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_finalizer_mixed_outcomes, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_finalizer_with_worker, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_purge_keeps_what_dependents_need, tq_setup,
                                        tq_teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_retry, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
