/* test_batch_rows.c - every column of every kind of task is stored the same
 * whatever the size of its batch: a small batch and one of several hundred
 * tasks (which a backend may write another way, e.g. PostgreSQL's COPY)
 * mixing unique-key hits, tasks enqueued failed by a failed dependency,
 * waiting tasks, empty and large payloads, and every option. */
#include "helpers.h"

enum { BIG_PAYLOAD = 300 * 1024 };

typedef struct batch {
    sitq_task_spec *specs;
    sitq_task_id *ids;
    size_t n;
    sitq_task_options opt, uniq, on_failed, on_live, plain;
    size_t idx_failed; /* index of the task failed by its dependency */
    char *big;
    sitq_task_id live_key_id, failed_dep, live_dep;
} batch;

/* n tasks: 0 a unique-key hit, 1 failed by a cancelled dependency, 2
 * failed through 1 (by index), 3 waiting on a live task, 4 an empty
 * payload, 5 a payload of BIG_PAYLOAD bytes, the others with options and
 * a payload naming their index. */
static void make_batch(sitq_queue *q, batch *b, size_t n) {
    memset(b, 0, sizeof *b);
    b->n = n;
    b->specs = calloc(n, sizeof *b->specs);
    b->ids = calloc(n, sizeof *b->ids);
    b->big = malloc(BIG_PAYLOAD);
    for (size_t i = 0; i < BIG_PAYLOAD; i++) b->big[i] = (char)(i * 7);
    sitq_task_options_init(&b->uniq);
    b->uniq.unique_key = "the-key";
    b->live_key_id = tq_enqueue(q, "keyed", &b->uniq);
    b->failed_dep = tq_enqueue(q, "dep", NULL);
    TQ_OK(sitq_cancel(q, b->failed_dep, NULL, &tq_err));
    b->live_dep = tq_enqueue(q, "dep", NULL);
    sitq_task_options_init(&b->on_failed);
    b->on_failed.depends_on = &b->failed_dep;
    b->on_failed.n_depends_on = 1;
    sitq_task_options_init(&b->on_live);
    b->on_live.depends_on = &b->live_dep;
    b->on_live.n_depends_on = 1;
    sitq_task_options_init(&b->opt);
    b->opt.priority = -7;
    b->opt.max_retries = 5;
    b->opt.timeout_s = 2.5;
    b->opt.delay_s = 3600;
    b->opt.backoff_jitter = 0.25;
    b->idx_failed = 1;
    for (size_t i = 0; i < n; i++) {
        sitq_task_spec *s = &b->specs[i];
        s->function = i % 2 ? "rows.odd" : "rows.even";
        s->payload = b->ids + i; /* stable bytes: rewritten below */
        s->payload_len = 0;
        s->options = i >= 6 && i % 3 == 0 ? &b->opt : NULL;
    }
    b->specs[0].options = &b->uniq;
    b->specs[1].options = &b->on_failed;
    b->specs[2].depends_on_index = &b->idx_failed;
    b->specs[2].n_depends_on_index = 1;
    b->specs[3].options = &b->on_live;
    b->specs[5].payload = b->big;
    b->specs[5].payload_len = BIG_PAYLOAD;
}

static void free_batch(batch *b) {
    for (size_t i = 6; i < b->n; i++) free((void *)b->specs[i].payload);
    free(b->specs);
    free(b->ids);
    free(b->big);
}

static void give_payloads(batch *b) {
    for (size_t i = 6; i < b->n; i++) {
        char *p = malloc(32);
        snprintf(p, 32, "p%zu", i);
        b->specs[i].payload = p;
        b->specs[i].payload_len = strlen(p);
    }
    b->specs[4].payload = NULL;
}

static void check_payload(sitq_queue *q, sitq_task_id id, const void *want, size_t len) {
    void *p = NULL;
    size_t got = 99;
    TQ_OK(sitq_get_payload(q, id, &p, &got, &tq_err));
    assert_int_equal(got, len);
    if (len) assert_memory_equal(p, want, len);
    free(p);
}

static void check_special(sitq_queue *q, const batch *b) {
    assert_int_equal(b->ids[0], b->live_key_id);
    sitq_result *r = tq_get(q, b->ids[1]);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_non_null(r->error);
    assert_true(strstr(r->error, tq_id_str(b->failed_dep)) != NULL);
    assert_true(r->finished_at_us > 0);
    assert_null(r->unique_key);
    sitq_result_free(r);
    assert_int_equal(tq_status(q, b->ids[2]), SITQ_FAILED);
    r = tq_get(q, b->ids[3]);
    assert_int_equal(r->status, SITQ_WAITING);
    assert_int_equal(r->n_depends_on, 1);
    assert_int_equal(r->depends_on[0], b->live_dep);
    sitq_result_free(r);
    check_payload(q, b->ids[4], NULL, 0);
    check_payload(q, b->ids[5], b->big, BIG_PAYLOAD);
}

static void check_plain(sitq_queue *q, const batch *b, size_t i) {
    sitq_result *r = tq_get(q, b->ids[i]);
    assert_string_equal(r->function, b->specs[i].function);
    assert_int_equal(r->finished_at_us, 0);
    assert_null(r->error);
    if (b->specs[i].options) {
        assert_int_equal(r->status, SITQ_SCHEDULED);
        assert_int_equal(r->priority, -7);
        assert_int_equal(r->max_retries, 5);
        assert_true(r->timeout_s > 2.49 && r->timeout_s < 2.51);
        assert_true(r->eta_us >= r->enqueued_at_us + 3599000000LL);
    } else {
        assert_int_equal(r->status, SITQ_QUEUED);
        assert_int_equal(r->priority, 0);
        assert_int_equal(r->timeout_s, 0);
    }
    sitq_result_free(r);
    check_payload(q, b->ids[i], b->specs[i].payload, b->specs[i].payload_len);
}

static void run_batch(void **state, size_t n) {
    sitq_queue *q = TQ_ENV(state)->queue;
    batch b;
    make_batch(q, &b, n);
    give_payloads(&b);
    int64_t total0 = tq_stats(q).total;
    TQ_OK(sitq_enqueue_batch(q, b.specs, n, b.ids, &tq_err));
    for (size_t i = 2; i < n; i++) assert_true(b.ids[i] > b.ids[i - 1]);
    assert_int_equal(tq_stats(q).total, total0 + (int64_t)n - 1); /* 0 was a hit */
    check_special(q, &b);
    for (size_t i = 6; i < n; i++) check_plain(q, &b, i);
    /* The same batch again: its unique key still hits, nothing else does. */
    sitq_task_id first = b.ids[n - 1];
    TQ_OK(sitq_enqueue_batch(q, b.specs, n, b.ids, &tq_err));
    assert_int_equal(b.ids[0], b.live_key_id);
    assert_true(b.ids[1] > first);
    free_batch(&b);
}

static void test_small_batch(void **state) { run_batch(state, 12); }
static void test_big_batch(void **state) { run_batch(state, 700); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_small_batch, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_big_batch, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
