/* test_bulk.c - a 100,000-task enqueue_batch and paging through it with sitq_list. */
#include "helpers.h"

enum { N = 100000 };

/* Spot checks of stored tasks: payload, function, priority. */
static void check_spots(sitq_queue *q, const sitq_task_id *ids, const uint32_t *payloads) {
    static const size_t probe[] = {0, 1, 999, 1000, 12345, 50000, 99999};
    for (size_t k = 0; k < sizeof probe / sizeof probe[0]; k++) {
        size_t i = probe[k];
        void *p = NULL;
        size_t len = 0;
        TQ_OK(sitq_get_payload(q, ids[i], &p, &len, &tq_err));
        assert_int_equal(len, sizeof(uint32_t));
        assert_memory_equal(p, &payloads[i], sizeof(uint32_t));
        free(p);
        sitq_result *r = tq_get(q, ids[i]);
        assert_string_equal(r->function, (i % 2) ? "bulk.odd" : "bulk.even");
        assert_int_equal(r->priority, (i % 1000 == 0) ? 3 : 0);
        sitq_result_free(r);
    }
}

/* sitq_list over the batch: newest first, limit/offset, status filters. */
static void check_pages(sitq_queue *q, const sitq_task_id *ids) {
    sitq_result **items = NULL;
    size_t n = 0;
    TQ_OK(sitq_list(q, SITQ_STATUS_ANY, 10, 0, &items, &n, &tq_err));
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++) assert_int_equal(items[i]->id, ids[N - 1 - i]);
    sitq_result_list_free(items, n);

    items = NULL;
    TQ_OK(sitq_list(q, SITQ_STATUS_ANY, 1000, 50000, &items, &n, &tq_err));
    assert_int_equal(n, 1000);
    for (size_t i = 0; i < n; i++) assert_int_equal(items[i]->id, ids[N - 1 - 50000 - i]);
    sitq_result_list_free(items, n);

    items = NULL;
    TQ_OK(sitq_list(q, SITQ_QUEUED, 10, N - 5, &items, &n, &tq_err));
    assert_int_equal(n, 5);
    assert_int_equal(items[4]->id, ids[0]);
    sitq_result_list_free(items, n);

    items = NULL;
    TQ_OK(sitq_list(q, SITQ_STATUS_ANY, 1000000, 0, &items, &n, &tq_err));
    assert_int_equal(n, N);
    assert_int_equal(items[0]->id, ids[N - 1]);
    assert_int_equal(items[N - 1]->id, ids[0]);
    sitq_result_list_free(items, n);

    items = NULL;
    TQ_OK(sitq_list(q, SITQ_SUCCEEDED, 10, 0, &items, &n, &tq_err));
    assert_int_equal(n, 0);
    sitq_result_list_free(items, n);
}

static void test_batch_100k(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_spec *specs = calloc(N, sizeof *specs);
    uint32_t *payloads = calloc(N, sizeof *payloads);
    sitq_task_id *ids = calloc(N, sizeof *ids);
    sitq_task_options hi;
    sitq_task_options_init(&hi);
    hi.priority = 3;
    for (uint32_t i = 0; i < N; i++) {
        payloads[i] = i * 2654435761u;
        specs[i].function = (i % 2) ? "bulk.odd" : "bulk.even";
        specs[i].payload = &payloads[i];
        specs[i].payload_len = sizeof payloads[i];
        if (i % 1000 == 0) specs[i].options = &hi;
    }
    TQ_OK(sitq_enqueue_batch(q, specs, N, ids, &tq_err));
    for (size_t i = 1; i < N; i++)
        if (ids[i] <= ids[i - 1])
            fail_msg("ids[%zu]=%lld not above ids[%zu]=%lld", i, (long long)ids[i], i - 1,
                     (long long)ids[i - 1]);
    assert_true(ids[0] > 0);

    sitq_stats st = tq_stats(q);
    assert_int_equal(st.total, N);
    assert_int_equal(st.count[SITQ_QUEUED], N);

    check_spots(q, ids, payloads);
    check_pages(q, ids);

    /* cancel a few and filter on them */
    sitq_result **items = NULL;
    size_t n = 0;
    TQ_OK(sitq_cancel(q, ids[10], NULL, &tq_err));
    TQ_OK(sitq_cancel(q, ids[90000], NULL, &tq_err));
    TQ_OK(sitq_list(q, SITQ_CANCELLED, 10, 0, &items, &n, &tq_err));
    assert_int_equal(n, 2);
    assert_int_equal(items[0]->id, ids[90000]);
    assert_int_equal(items[1]->id, ids[10]);
    sitq_result_list_free(items, n);
    st = tq_stats(q);
    assert_int_equal(st.count[SITQ_QUEUED], N - 2);
    assert_int_equal(st.count[SITQ_CANCELLED], 2);

    /* a second batch continues the ids */
    sitq_task_id more[3];
    TQ_OK(sitq_enqueue_batch(q, specs, 3, more, &tq_err));
    assert_true(more[0] > ids[N - 1]);
    assert_int_equal(tq_stats(q).total, N + 3);

    free(specs);
    free(payloads);
    free(ids);
}

static void test_batch_100k_failure_atomic(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_spec *specs = calloc(N, sizeof *specs);
    sitq_task_id *ids = calloc(N, sizeof *ids);
    for (size_t i = 0; i < N; i++) specs[i].function = "f";
    specs[N - 1].function = ""; /* the very last one is bad */
    TQ_ERR(SITQ_EINVAL, sitq_enqueue_batch(q, specs, N, ids, &tq_err));
    assert_int_equal(tq_stats(q).total, 0);
    free(specs);
    free(ids);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch_100k, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_batch_100k_failure_atomic, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests_name("bulk", tests, NULL, NULL);
}
