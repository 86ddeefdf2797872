/* test_queue_isolation.c - a dependency names only tasks of its own queue:
 * another queue's task, whatever its state, is refused exactly like an id
 * that does not exist, so a queue reveals nothing about the others. */
#include "helpers.h"

/* Enqueue in q with one dependency; returns the code, message in tq_err. */
static sitq_code enqueue_after(sitq_queue *q, sitq_task_id dep, sitq_task_id *id) {
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.depends_on = &dep;
    o.n_depends_on = 1;
    memset(&tq_err, 0, sizeof tq_err);
    return sitq_enqueue(q, "f", NULL, 0, &o, id, &tq_err);
}

static void test_cross_queue_dependency_refused(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue *other = NULL;
    TQ_OK(sitq_queue_open(e->backend, "other", &other, &tq_err));
    sitq_task_id queued = tq_enqueue(e->queue, "f", NULL);
    sitq_task_id failed = tq_enqueue(e->queue, "f", NULL);
    TQ_OK(sitq_cancel(e->queue, failed, NULL, &tq_err));

    /* The message for an unknown id, with the id replaced. */
    sitq_task_id id = 0;
    assert_int_equal(enqueue_after(other, 424242, &id), SITQ_EDEPENDENCY);
    char unknown[SITQ_ERROR_MESSAGE_SIZE];
    snprintf(unknown, sizeof unknown, "%s", tq_err.message);
    char *at = strstr(unknown, "424242");
    assert_non_null(at);

    sitq_task_id deps[] = {queued, failed};
    for (int i = 0; i < 2; i++) {
        id = 0;
        assert_int_equal(enqueue_after(other, deps[i], &id), SITQ_EDEPENDENCY);
        assert_int_equal(id, 0);
        char want[SITQ_ERROR_MESSAGE_SIZE];
        snprintf(want, sizeof want, "%.*s%lld%s", (int)(at - unknown), unknown, (long long)deps[i],
                 at + 6);
        assert_string_equal(tq_err.message, want);
    }
    assert_int_equal(tq_stats(other).total, 0);

    /* Within its own queue the same ids are fine. */
    assert_int_equal(enqueue_after(e->queue, queued, &id), SITQ_OK);
    assert_int_equal(tq_status(e->queue, id), SITQ_WAITING);
    assert_int_equal(enqueue_after(e->queue, failed, &id), SITQ_OK);
    assert_int_equal(tq_status(e->queue, id), SITQ_FAILED);
    sitq_queue_close(other);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cross_queue_dependency_refused, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests_name("queue_isolation", tests, NULL, NULL);
}
