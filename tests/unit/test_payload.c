/* test_payload.c - payload and result round trips, recorded times, handler
 * context, :memory: databases, durability across reopen. */
#include "helpers.h"

#include <math.h>

static void fill_bytes(unsigned char *p, size_t n, unsigned seed) {
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)(x >> 24);
        if (i % 5 == 0) p[i] = 0; /* plenty of NULs */
    }
}

static void check_payload(sitq_queue *q, sitq_task_id id, const void *want, size_t len) {
    void *p = (void *)1;
    size_t n = 12345;
    TQ_OK(sitq_get_payload(q, id, &p, &n, &tq_err));
    assert_int_equal(n, len);
    if (len == 0) {
        assert_null(p);
    } else {
        assert_non_null(p);
        assert_memory_equal(p, want, len);
    }
    free(p);
    sitq_result *r = tq_get(q, id);
    assert_int_equal(r->payload_len, len);
    sitq_result_free(r);
}

static void test_payload_round_trip(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    unsigned char bin[1000];
    fill_bytes(bin, sizeof bin, 1);
    sitq_task_id id;

    TQ_OK(sitq_enqueue(q, "f", bin, sizeof bin, NULL, &id, &tq_err));
    check_payload(q, id, bin, sizeof bin);

    /* NUL bytes only */
    unsigned char zeros[17] = {0};
    TQ_OK(sitq_enqueue(q, "f", zeros, sizeof zeros, NULL, &id, &tq_err));
    check_payload(q, id, zeros, sizeof zeros);

    /* 0 bytes, NULL or not */
    TQ_OK(sitq_enqueue(q, "f", NULL, 0, NULL, &id, &tq_err));
    check_payload(q, id, NULL, 0);
    TQ_OK(sitq_enqueue(q, "f", "abc", 0, NULL, &id, &tq_err));
    check_payload(q, id, NULL, 0);

    /* 10 MB */
    size_t big = 10u * 1024 * 1024;
    unsigned char *buf = malloc(big);
    assert_non_null(buf);
    fill_bytes(buf, big, 7);
    TQ_OK(sitq_enqueue(q, "f", buf, big, NULL, &id, &tq_err));
    check_payload(q, id, buf, big);
    free(buf);
}

/* Handler checking that it receives exactly the expected payload. */
typedef struct {
    const unsigned char *want;
    size_t len;
    atomic_int calls, matched;
} payload_check;

static int h_check_payload(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    payload_check *pc = ud;
    atomic_fetch_add(&pc->calls, 1);
    if (len == pc->len && (len == 0 || memcmp(payload, pc->want, len) == 0))
        atomic_fetch_add(&pc->matched, 1);
    return sitq_ctx_set_result(ctx, payload, len) == SITQ_OK ? 0 : 1;
}

static void test_big_payload_through_handler(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    size_t big = 10u * 1024 * 1024;
    unsigned char *buf = malloc(big);
    fill_bytes(buf, big, 9);
    payload_check pc = {buf, big, 0, 0};
    sitq_worker *w = tq_worker_new(q, 1, 1, "big", h_check_payload, &pc);
    sitq_task_id id;
    TQ_OK(sitq_enqueue(q, "big", buf, big, NULL, &id, &tq_err));
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    assert_int_equal(atomic_load(&pc.calls), 1);
    assert_int_equal(atomic_load(&pc.matched), 1);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_int_equal(r->value_len, big);
    assert_memory_equal(r->value, buf, big);
    assert_int_equal(((unsigned char *)r->value)[big], 0);
    sitq_result_free(r);
    r = tq_get(q, id);
    assert_int_equal(r->value_len, big);
    assert_memory_equal(r->value, buf, big);
    sitq_result_free(r);
    sitq_worker_free(w);
    free(buf);
}

static int h_result_bytes(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)p;
    (void)n;
    (void)ud;
    sitq_ctx_set_result(ctx, "first", 5);
    return sitq_ctx_set_result(ctx, "ab\0cd\0", 6) == SITQ_OK ? 0 : 1;
}

static int h_take_result(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)p;
    (void)n;
    (void)ud;
    char *m = malloc(4);
    memcpy(m, "\x01\x00\x02\x03", 4);
    return sitq_ctx_take_result(ctx, m, 4) == SITQ_OK ? 0 : 1;
}

static int h_no_result(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)ctx;
    (void)p;
    (void)n;
    (void)ud;
    return 0;
}

static int h_fail_tb(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)p;
    (void)n;
    (void)ud;
    sitq_ctx_set_error(ctx, "disk on fire", "frame 1\nframe 2\n");
    return 1;
}

static int h_fail_silent(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)ctx;
    (void)p;
    (void)n;
    (void)ud;
    return 7;
}

static sitq_result *run_one(sitq_queue *q, const char *fn, sitq_handler_fn h) {
    sitq_worker *w = tq_worker_new(q, 1, 1, fn, h, NULL);
    sitq_task_id id = tq_enqueue(q, fn, NULL);
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    assert_non_null(r);
    assert_int_equal(r->id, id);
    sitq_worker_free(w);
    sitq_result *again = tq_get(q, id);
    assert_int_equal(again->status, r->status);
    sitq_result_free(r);
    return again;
}

static void test_result_error_traceback(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;

    sitq_result *r = run_one(q, "bytes", h_result_bytes);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_int_equal(r->value_len, 6);
    assert_memory_equal(r->value, "ab\0cd\0", 6);
    assert_int_equal(((char *)r->value)[6], 0);
    assert_null(r->error);
    assert_int_equal(r->attempts, 1);
    sitq_result_free(r);

    r = run_one(q, "take", h_take_result);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_int_equal(r->value_len, 4);
    assert_memory_equal(r->value, "\x01\x00\x02\x03", 4);
    sitq_result_free(r);

    r = run_one(q, "none", h_no_result);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_null(r->value);
    assert_int_equal(r->value_len, 0);
    sitq_result_free(r);

    r = run_one(q, "tb", h_fail_tb);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_non_null(r->error);
    assert_true(strstr(r->error, "disk on fire") != NULL);
    assert_non_null(r->traceback);
    assert_string_equal(r->traceback, "frame 1\nframe 2\n");
    assert_null(r->value);
    assert_int_equal(r->attempts, 1);
    sitq_result_free(r);

    r = run_one(q, "silent", h_fail_silent);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_non_null(r->error);
    assert_true(strlen(r->error) > 0);
    sitq_result_free(r);
}

static void test_times_and_fields(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.priority = 7;
    o.max_retries = 3;
    o.timeout_s = 12.5;
    o.unique_key = "uk-1";
    sitq_time_us before = sitq_now_us();
    sitq_task_id id;
    TQ_OK(sitq_enqueue(q, "echo", "pay", 3, &o, &id, &tq_err));
    sitq_time_us after = sitq_now_us();

    sitq_result *r = tq_get(q, id);
    assert_int_equal(r->status, SITQ_QUEUED);
    assert_string_equal(r->queue, "default");
    assert_string_equal(r->function, "echo");
    assert_int_equal(r->priority, 7);
    assert_int_equal(r->max_retries, 3);
    assert_int_equal(r->attempts, 0);
    assert_true(r->timeout_s == 12.5);
    assert_string_equal(r->unique_key, "uk-1");
    assert_int_equal(r->payload_len, 3);
    assert_null(r->value);
    assert_null(r->error);
    assert_null(r->traceback);
    assert_int_equal(r->cancel_requested, 0);
    assert_true(r->progress < 0);
    assert_int_equal(r->n_depends_on, 0);
    assert_true(r->enqueued_at_us >= before && r->enqueued_at_us <= after);
    assert_int_equal(r->started_at_us, 0);
    assert_int_equal(r->finished_at_us, 0);
    sitq_result_free(r);

    sitq_worker_options wo;
    tq_worker_opts(&wo, 1, 1);
    wo.worker_id = "times-worker";
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(q, &wo, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "echo", tq_h_echo, NULL, &tq_err));
    tq_sleep_ms(3);
    TQ_OK(sitq_worker_process_task(w, id, NULL, &tq_err));
    sitq_time_us end = sitq_now_us();
    r = tq_get(q, id);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_int_equal(r->attempts, 1);
    assert_string_equal(r->worker_id, "times-worker");
    assert_int_equal(r->value_len, 3);
    assert_memory_equal(r->value, "pay", 3);
    assert_true(r->enqueued_at_us > 0);
    assert_true(r->started_at_us >= r->enqueued_at_us);
    assert_true(r->started_at_us > after);
    assert_true(r->finished_at_us >= r->started_at_us);
    assert_true(r->finished_at_us <= end);
    sitq_result_free(r);
    sitq_worker_free(w);
}

typedef struct {
    atomic_llong id;
    atomic_int attempt, max_retries, fn_ok, hb_rc, cancelled;
    double timeout;
} ctx_seen;

static int h_ctx(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)p;
    (void)n;
    ctx_seen *s = ud;
    atomic_store(&s->id, sitq_ctx_task_id(ctx));
    atomic_store(&s->attempt, sitq_ctx_attempt(ctx));
    atomic_store(&s->max_retries, sitq_ctx_max_retries(ctx));
    atomic_store(&s->fn_ok, strcmp(sitq_ctx_function(ctx), "ctx.fn") == 0);
    s->timeout = sitq_ctx_timeout_s(ctx);
    atomic_store(&s->cancelled, sitq_ctx_cancelled(ctx));
    atomic_store(&s->hb_rc, (int)sitq_ctx_heartbeat(ctx, 0.5, NULL));
    return 0;
}

static void test_handler_context(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    ctx_seen s;
    memset(&s, 0, sizeof s);
    atomic_store(&s.hb_rc, -1);
    /* wildcard registration: "ctx.*" matches "ctx.fn" */
    sitq_worker *w = tq_worker_new(q, 1, 1, "ctx.*", h_ctx, &s);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.max_retries = 4;
    o.timeout_s = 30;
    sitq_task_id id = tq_enqueue(q, "ctx.fn", &o);
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_int_equal(atomic_load(&s.id), id);
    assert_int_equal(atomic_load(&s.attempt), 1);
    assert_int_equal(atomic_load(&s.max_retries), 4);
    assert_int_equal(atomic_load(&s.fn_ok), 1);
    assert_true(s.timeout == 30.0);
    assert_int_equal(atomic_load(&s.cancelled), 0);
    assert_int_equal(atomic_load(&s.hb_rc), SITQ_OK);
    sitq_result_free(r);

    /* a function the wildcard does not match has no handler */
    sitq_task_id other = tq_enqueue(q, "ctx", NULL);
    r = NULL;
    TQ_ERR(SITQ_ENOHANDLER, sitq_worker_process_task(w, other, &r, &tq_err));
    sitq_result_free(r);
    assert_int_equal(tq_status(q, other), SITQ_QUEUED);
    sitq_worker_free(w);
}

typedef struct {
    atomic_int reported, go;
    atomic_int hb_rc;
} progress_state;

static int h_progress(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)p;
    (void)n;
    progress_state *ps = ud;
    atomic_store(&ps->hb_rc, (int)sitq_ctx_heartbeat(ctx, 0.25, NULL));
    atomic_store(&ps->reported, 1);
    int64_t end = tq_mono_ms() + 10000;
    while (!atomic_load(&ps->go) && tq_mono_ms() < end) tq_sleep_ms(1);
    sitq_ctx_heartbeat(ctx, 0.75, NULL);
    return 0;
}

/* Progress reported by a running handler is visible to readers; the stored
 * value is "the last progress reported by the handler". */
static void test_progress(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    progress_state ps;
    atomic_init(&ps.reported, 0);
    atomic_init(&ps.go, 0);
    atomic_init(&ps.hb_rc, -1);
    sitq_worker *w = tq_worker_new(q, 1, 1, "prog", h_progress, &ps);
    sitq_task_id id = tq_enqueue(q, "prog", NULL);
    sitq_result *r = tq_get(q, id);
    assert_true(r->progress < 0); /* -1: none */
    sitq_result_free(r);
    TQ_OK(sitq_worker_start(w, &tq_err));
    int64_t end = tq_mono_ms() + 10000;
    while (!atomic_load(&ps.reported) && tq_mono_ms() < end) tq_sleep_ms(1);
    double seen = -1;
    while (tq_mono_ms() < end) {
        r = tq_get(q, id);
        seen = r->progress;
        sitq_result_free(r);
        if (fabs(seen - 0.25) < 1e-9) break;
        tq_sleep_ms(2);
    }
    atomic_store(&ps.go, 1);
    r = tq_wait_done(q, id, 10);
    sitq_worker_free(w);
    assert_int_equal(atomic_load(&ps.hb_rc), SITQ_OK);
    assert_true(fabs(seen - 0.25) < 1e-9);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    double final_progress = r->progress;
    sitq_result_free(r);
    /* sitq.h: "last progress reported by the handler" - 0.75, not a value
     * the engine made up on completion. */
    if (fabs(final_progress - 0.75) > 1e-9)
        fail_msg("final progress %g, expected 0.75 (last reported by the handler)", final_progress);
}

static void test_memory_database(void **state) {
    (void)state;
    sitq_backend *b1 = NULL, *b2 = NULL;
    sitq_queue *q1 = NULL, *q2 = NULL;
    TQ_OK(sitq_backend_open_sqlite(":memory:", NULL, &b1, &tq_err));
    TQ_OK(sitq_backend_open_sqlite(":memory:", NULL, &b2, &tq_err));
    TQ_OK(sitq_queue_open(b1, NULL, &q1, &tq_err));
    TQ_OK(sitq_queue_open(b2, NULL, &q2, &tq_err));

    sitq_task_id ids[50];
    for (int i = 0; i < 50; i++) {
        char p[16];
        int n = snprintf(p, sizeof p, "m%d", i);
        TQ_OK(sitq_enqueue(q1, "mem", p, (size_t)n, NULL, &ids[i], &tq_err));
    }
    assert_int_equal(tq_stats(q1).total, 50);
    assert_int_equal(tq_stats(q2).total, 0); /* private per backend */
    check_payload(q1, ids[3], "m3", 2);

    /* a worker with several threads on the same in-memory database */
    atomic_int calls = 0;
    sitq_worker *w = tq_worker_new(q1, 3, 3, "mem", tq_h_echo, &calls);
    TQ_OK(sitq_worker_start(w, &tq_err));
    for (int i = 0; i < 50; i++) {
        sitq_result *r = tq_wait_done(q1, ids[i], 30);
        assert_int_equal(r->status, SITQ_SUCCEEDED);
        char p[16];
        int n = snprintf(p, sizeof p, "m%d", i);
        assert_int_equal(r->value_len, (size_t)n);
        assert_memory_equal(r->value, p, (size_t)n);
        sitq_result_free(r);
    }
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(atomic_load(&calls), 50);
    sitq_stats st = tq_stats(q1);
    assert_int_equal(st.count[SITQ_SUCCEEDED], 50);
    assert_int_equal(st.total, 50);

    sitq_queue_close(q1);
    sitq_queue_close(q2);
    sitq_backend_close(b1);
    sitq_backend_close(b2);
}

static void test_reopen_durable(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_task_id id;
    TQ_OK(sitq_enqueue(e->queue, "keep", "persist\0ed", 10, NULL, &id, &tq_err));
    sitq_queue *qa = NULL;
    TQ_OK(sitq_queue_open(e->backend, "alpha", &qa, &tq_err));
    sitq_task_id ida = tq_enqueue(qa, "a", NULL);
    sitq_queue_close(qa);
    sitq_queue_close(e->queue);
    sitq_backend_close(e->backend);
    e->queue = NULL;
    e->backend = NULL;

    TQ_OK(tq_open_path(e->path, NULL, &e->backend, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, NULL, &e->queue, &tq_err));
    check_payload(e->queue, id, "persist\0ed", 10);
    assert_int_equal(tq_stats(e->queue).total, 1);
    TQ_OK(sitq_queue_open(e->backend, "alpha", &qa, &tq_err));
    assert_int_equal(tq_status(qa, ida), SITQ_QUEUED);
    assert_int_equal(tq_stats(qa).total, 1);
    /* ids are never reused */
    sitq_task_id id2 = tq_enqueue(e->queue, "keep", NULL);
    assert_true(id2 > id && id2 > ida);
    sitq_queue_close(qa);
}

/* The backend's blob limit (sitq_backend_blob_max), for the handlers. */
static size_t blob_max;

/* A handler returning more than blob_max bytes: the setter refuses it,
 * and the attempt fails with a message even though the handler returns 0. */
static int h_oversized(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)p;
    (void)n;
    int *codes = ud;
    char *buf = malloc(16);
    codes[0] = sitq_ctx_take_result(ctx, buf, blob_max + 1); /* frees buf */
    codes[1] = sitq_ctx_set_result(ctx, "x", blob_max + 1);
    return 0;
}

static void test_oversized_result_fails(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    blob_max = sitq_backend_blob_max(TQ_ENV(state)->backend);
    int codes[2] = {-1, -1};
    sitq_worker *w = tq_worker_new(q, 1, 0, "big", h_oversized, codes);
    sitq_task_id id = tq_enqueue(q, "big", NULL);
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    assert_int_equal(codes[0], SITQ_EINVAL);
    assert_int_equal(codes[1], SITQ_EINVAL);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_null(r->value);
    assert_non_null(r->error);
    assert_non_null(strstr(r->error, "exceeds"));
    sitq_result_free(r);
    sitq_worker_free(w);
}

/* Payload + result share one row: a result that fits alone but not with
 * the payload fails the attempt with a message; the worker goes on. */
static int h_row_too_big(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)p;
    (void)ud;
    char *buf = malloc(16);
    /* a fake length: the library must refuse it without reading the buffer */
    return sitq_ctx_take_result(ctx, buf, blob_max - n + 1) == SITQ_OK ? 0 : 0;
}

static void test_result_too_big_for_row(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    blob_max = sitq_backend_blob_max(TQ_ENV(state)->backend);
    size_t n = 4u << 20;
    char *payload = calloc(1, n);
    assert_non_null(payload);
    sitq_task_id id = 0;
    TQ_OK(sitq_enqueue(q, "row", payload, n, NULL, &id, &tq_err));
    free(payload);
    sitq_worker *w = tq_worker_new(q, 1, 0, "row", h_row_too_big, NULL);
    TQ_OK(sitq_worker_register(w, "ok", tq_h_echo, NULL, &tq_err));
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    assert_int_equal(r->status, SITQ_FAILED);
    assert_non_null(strstr(r->error, "exceeds"));
    sitq_result_free(r);
    sitq_task_id next = tq_enqueue(q, "ok", NULL);
    TQ_OK(sitq_worker_process_task(w, next, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    sitq_worker_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_payload_round_trip, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_oversized_result_fails, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_result_too_big_for_row, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_big_payload_through_handler, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_result_error_traceback, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_times_and_fields, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_handler_context, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_progress, tq_setup, tq_teardown),
        cmocka_unit_test(test_memory_database),
        cmocka_unit_test_setup_teardown(test_reopen_durable, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests_name("payload", tests, NULL, NULL);
}
