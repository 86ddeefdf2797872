/* test_stats_bounded.c - counts by status up to a cap
 * (sitq_get_stats_bounded): a status with more tasks than the cap reads as
 * the cap and is flagged, one with exactly the cap or fewer reads exact and
 * is not, queued tasks of several priorities add up before the cap, another
 * queue's tasks are not counted, a large cap reads what sitq_get_stats
 * reads; bad arguments are refused with the outputs cleared. Runs on SQLite
 * and, under SITQ_TEST_BACKEND=postgres, on PostgreSQL. */
#include "helpers.h"

static sitq_task_id enqueue_with(sitq_queue *q, int32_t priority, double delay_s,
                                 const sitq_task_id *dep) {
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.priority = priority;
    o.delay_s = delay_s;
    o.depends_on = dep;
    o.n_depends_on = dep ? 1 : 0;
    return tq_enqueue(q, "f", &o);
}

/* default: 5 queued (3 of priority 0, 2 of priority 5), 2 scheduled,
 * 4 waiting, 3 cancelled; "other": 6 queued. */
static void fill(tq_env *e) {
    sitq_task_id low[6];
    for (int i = 0; i < 6; i++) low[i] = enqueue_with(e->queue, 0, 0, NULL);
    sitq_task_id high = enqueue_with(e->queue, 5, 0, NULL);
    enqueue_with(e->queue, 5, 0, NULL);
    for (int i = 0; i < 2; i++) enqueue_with(e->queue, 0, 3600, NULL);
    for (int i = 0; i < 4; i++) enqueue_with(e->queue, 0, 0, &high);
    for (int i = 3; i < 6; i++) TQ_OK(sitq_cancel(e->queue, low[i], NULL, &tq_err));
    sitq_queue *other = NULL;
    TQ_OK(sitq_queue_open(e->backend, "other", &other, &tq_err));
    for (int i = 0; i < 6; i++) enqueue_with(other, 0, 0, NULL);
    sitq_queue_close(other);
}

static void test_capped_and_exact(void **state) {
    tq_env *e = *state;
    fill(e);
    sitq_stats st;
    unsigned at_cap = 0xffu;
    TQ_OK(sitq_get_stats_bounded(e->queue, 3, &st, &at_cap, &tq_err));
    assert_int_equal(st.count[SITQ_QUEUED], 3);
    assert_int_equal(st.count[SITQ_SCHEDULED], 2);
    assert_int_equal(st.count[SITQ_WAITING], 3);
    assert_int_equal(st.count[SITQ_CANCELLED], 3); /* exactly the cap: exact */
    assert_int_equal(st.count[SITQ_RUNNING], 0);
    assert_int_equal(st.count[SITQ_FAILED], 0);
    assert_int_equal(st.count[SITQ_SUCCEEDED], 0);
    assert_int_equal(st.total, 11);
    assert_int_equal(at_cap, (1u << SITQ_QUEUED) | (1u << SITQ_WAITING));

    /* Below the cap, each priority's tasks are added: 5 queued. */
    TQ_OK(sitq_get_stats_bounded(e->queue, 5, &st, &at_cap, &tq_err));
    assert_int_equal(st.count[SITQ_QUEUED], 5);
    assert_int_equal(st.count[SITQ_WAITING], 4);
    assert_int_equal(at_cap, 0);
    TQ_OK(sitq_get_stats_bounded(e->queue, 4, &st, &at_cap, &tq_err));
    assert_int_equal(st.count[SITQ_QUEUED], 4);
    assert_int_equal(st.count[SITQ_WAITING], 4);
    assert_int_equal(at_cap, 1u << SITQ_QUEUED);
}

static void test_large_cap_is_exact(void **state) {
    tq_env *e = *state;
    fill(e);
    sitq_stats exact;
    sitq_stats st;
    unsigned at_cap = 1;
    TQ_OK(sitq_get_stats(e->queue, &exact, &tq_err));
    TQ_OK(sitq_get_stats_bounded(e->queue, 1000000, &st, &at_cap, &tq_err));
    assert_int_equal(at_cap, 0);
    for (int s = 0; s < SITQ_STATUS_COUNT; s++) assert_int_equal(st.count[s], exact.count[s]);
    assert_int_equal(st.total, exact.total);
    assert_int_equal(st.total, 14);
    TQ_OK(sitq_get_stats_bounded(e->queue, INT64_MAX - 1, &st, &at_cap, &tq_err));
    assert_int_equal(st.total, 14);

    /* An unknown queue counts nothing. */
    sitq_queue *none = NULL;
    TQ_OK(sitq_queue_open(e->backend, "none", &none, &tq_err));
    TQ_OK(sitq_get_stats_bounded(none, 1, &st, &at_cap, &tq_err));
    assert_int_equal(st.total, 0);
    assert_int_equal(at_cap, 0);
    sitq_queue_close(none);
}

static void test_bad_arguments(void **state) {
    tq_env *e = *state;
    sitq_stats st;
    unsigned at_cap = 7;
    memset(&st, 0xff, sizeof st);
    TQ_ERR_MSG(SITQ_EINVAL, "queue", "required",
               sitq_get_stats_bounded(NULL, 10, &st, &at_cap, &tq_err));
    assert_int_equal(st.total, 0);
    assert_int_equal(at_cap, 0);
    TQ_ERR(SITQ_EINVAL, sitq_get_stats_bounded(e->queue, 10, NULL, &at_cap, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_get_stats_bounded(e->queue, 10, &st, NULL, &tq_err));
    at_cap = 7;
    TQ_ERR_MSG(SITQ_EINVAL, "cap", "range",
               sitq_get_stats_bounded(e->queue, 0, &st, &at_cap, &tq_err));
    assert_int_equal(at_cap, 0);
    TQ_ERR_MSG(SITQ_EINVAL, "cap", "range",
               sitq_get_stats_bounded(e->queue, -5, &st, &at_cap, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "cap", "range",
               sitq_get_stats_bounded(e->queue, INT64_MAX, &st, &at_cap, &tq_err));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_capped_and_exact, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_large_cap_is_exact, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
