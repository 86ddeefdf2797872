/* test_result_prefix.c - sitq_get_result_prefix: the head of a result
 * (inline, and stored apart past 1 KiB) and its full size, the same fields
 * as sitq_get_result, tasks without a result, and its errors. */
#include "helpers.h"

/* The handler's result: the payload's bytes (ud unused). */
static int h_echo(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)ud;
    return sitq_ctx_set_result(ctx, p, n) == SITQ_OK ? 0 : 1;
}

static int h_none(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)ctx;
    (void)p;
    (void)n;
    (void)ud;
    return 0;
}

/* Run one task of function fn with payload buf[0..n) through handler h. */
static sitq_task_id run(sitq_queue *q, const char *fn, sitq_handler_fn h, const void *buf,
                        size_t n) {
    sitq_worker *w = tq_worker_new(q, 1, 1, fn, h, NULL);
    sitq_task_id id = 0;
    TQ_OK(sitq_enqueue(q, fn, buf, n, NULL, &id, &tq_err));
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, id, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    sitq_worker_free(w);
    return id;
}

/* The head of max bytes of task id, whose result is want[0..n): the bytes,
 * the size, and every other field as sitq_get_result gives them. */
static void check_head(sitq_queue *q, sitq_task_id id, const unsigned char *want, size_t n,
                       size_t max) {
    sitq_result *full = tq_get(q, id), *r = NULL;
    size_t size = 12345, expect = n < max ? n : max;
    TQ_OK(sitq_get_result_prefix(q, id, max, &r, &size, &tq_err));
    assert_int_equal(size, n);
    assert_int_equal(r->value_len, expect);
    assert_int_equal(r->value == NULL, full->value == NULL); /* a result or none, as stored */
    if (r->value) {
        if (expect) assert_memory_equal(r->value, want, expect);
        assert_int_equal(((unsigned char *)r->value)[expect], 0);
    }
    assert_int_equal(r->id, full->id);
    assert_string_equal(r->function, full->function);
    assert_string_equal(r->queue, full->queue);
    assert_int_equal(r->status, full->status);
    assert_int_equal(r->attempts, full->attempts);
    assert_int_equal(r->payload_len, full->payload_len);
    assert_int_equal(r->finished_at_us, full->finished_at_us);
    assert_int_equal(r->n_depends_on, full->n_depends_on);
    sitq_result_free(r);
    sitq_result_free(full);
}

static void test_heads_of_results(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    /* Inline (small), stored apart (over 1 KiB) and large. */
    size_t sizes[] = {1, 100, 5000, 3u << 20};
    size_t maxes[] = {0, 1, 99, 100, 4097, 70000, (size_t)-1};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        unsigned char *buf = malloc(sizes[s]);
        for (size_t i = 0; i < sizes[s]; i++) buf[i] = (unsigned char)(i * 7 + s + 1);
        sitq_task_id id = run(q, "echo", h_echo, buf, sizes[s]);
        for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++)
            check_head(q, id, buf, sizes[s], maxes[m]);
        free(buf);
    }
}

/* An empty result, none at all, and a task not run yet: value as
 * sitq_get_result gives it, size 0. */
static void test_empty_and_no_result(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_id empty = run(q, "echo", h_echo, NULL, 0);
    check_head(q, empty, NULL, 0, 10);
    sitq_task_id none = run(q, "none", h_none, NULL, 0);
    sitq_task_id queued = tq_enqueue(q, "later", NULL);
    sitq_task_id ids[] = {none, queued};
    for (int i = 0; i < 2; i++) {
        sitq_result *full = tq_get(q, ids[i]), *r = NULL;
        size_t size = 99;
        TQ_OK(sitq_get_result_prefix(q, ids[i], 100, &r, &size, &tq_err));
        assert_int_equal(r->value == NULL, full->value == NULL);
        assert_int_equal(r->value_len, full->value_len);
        assert_int_equal(size, full->value_len);
        assert_int_equal(r->status, full->status);
        sitq_result_free(r);
        sitq_result_free(full);
    }
    /* The size may be left out. */
    sitq_result *r = NULL;
    TQ_OK(sitq_get_result_prefix(q, queued, 100, &r, NULL, &tq_err));
    assert_int_equal(r->status, SITQ_QUEUED);
    sitq_result_free(r);
}

/* A dependent's dependencies are read as by sitq_get_result. */
static void test_dependencies(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_id a = tq_enqueue(q, "a", NULL), b = tq_enqueue(q, "b", NULL);
    sitq_task_options o;
    sitq_task_options_init(&o);
    sitq_task_id deps[] = {b, a};
    o.depends_on = deps;
    o.n_depends_on = 2;
    sitq_task_id c = tq_enqueue(q, "c", &o);
    sitq_result *r = NULL;
    size_t size = 1;
    TQ_OK(sitq_get_result_prefix(q, c, 10, &r, &size, &tq_err));
    assert_int_equal(r->status, SITQ_WAITING);
    assert_int_equal(r->n_depends_on, 2);
    assert_int_equal(r->depends_on[0], b);
    assert_int_equal(r->depends_on[1], a);
    assert_null(r->value);
    assert_int_equal(size, 0);
    sitq_result_free(r);
}

static void test_errors(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_result *r = (sitq_result *)1;
    size_t size = 7;
    TQ_ERR(SITQ_EINVAL, sitq_get_result_prefix(q, 1, 10, NULL, &size, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_get_result_prefix(NULL, 1, 10, &r, &size, &tq_err));
    assert_null(r);
    assert_int_equal(size, 0);
    TQ_ERR(SITQ_ENOTFOUND, sitq_get_result_prefix(q, 987654, 10, &r, &size, &tq_err));
    assert_null(r);
    TQ_ERR(SITQ_ENOTFOUND, sitq_get_result_prefix(q, -1, 10, &r, &size, &tq_err));
    /* A task of another queue is not found through this one. */
    sitq_task_id id = tq_enqueue(q, "f", NULL);
    sitq_queue *other = NULL;
    TQ_OK(sitq_queue_open(TQ_ENV(state)->backend, "other", &other, &tq_err));
    TQ_ERR(SITQ_ENOTFOUND, sitq_get_result_prefix(other, id, 10, &r, &size, &tq_err));
    assert_null(r);
    sitq_queue_close(other);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_heads_of_results, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_no_result, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_dependencies, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_errors, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests_name("result_prefix", tests, NULL, NULL);
}
