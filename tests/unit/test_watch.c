/* test_watch.c - completion watches (sitq_watch_*) and sitq_finished_among:
 * the fd becomes readable when tasks finish in this process or through
 * another handle of the database, and the batched check names exactly the
 * finished or missing ids. */
#include "helpers.h"

#include <poll.h>

/* Wait until the watch's fd is readable (up to timeout_ms); 1 when it is. */
static int fd_readable(sitq_watch *w, int timeout_ms) {
    struct pollfd p = {sitq_watch_fd(w), POLLIN, 0};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* Consume signals until `id` is among the finished ones, or time runs out. */
static int wait_finished(sitq_watch *w, sitq_queue *q, sitq_task_id id, int timeout_ms) {
    int64_t until = tq_mono_ms() + timeout_ms;
    while (tq_mono_ms() < until) {
        if (!fd_readable(w, (int)(until - tq_mono_ms()))) continue;
        assert_true(sitq_watch_consume(w) >= 1);
        sitq_task_id *done = NULL;
        size_t n = 0;
        TQ_OK(sitq_finished_among(q, &id, 1, &done, &n, &tq_err));
        free(done);
        if (n == 1) return 1;
    }
    return 0;
}

static void test_finished_among(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue *q = e->queue;
    sitq_task_id ids[300];
    for (int i = 0; i < 300; i++) ids[i] = tq_enqueue(q, "f", NULL);
    TQ_OK(sitq_cancel(q, ids[3], NULL, &tq_err));
    TQ_OK(sitq_cancel(q, ids[250], NULL, &tq_err));
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_echo, NULL);
    TQ_OK(sitq_worker_process_task(w, ids[100], NULL, &tq_err));
    sitq_worker_free(w);

    sitq_queue *other = NULL;
    TQ_OK(sitq_queue_open(e->backend, "other", &other, &tq_err));
    sitq_task_id foreign = tq_enqueue(other, "f", NULL);
    sitq_queue_close(other);

    /* unsorted, repeated, one of another queue, 0 and an unknown id */
    sitq_task_id ask[] = {ids[250], ids[0],   ids[100],           ids[3],  ids[3], foreign,
                          0,        ids[299], ids[299] + 1000000, ids[150]};
    sitq_task_id *done = NULL;
    size_t n = 0;
    TQ_OK(sitq_finished_among(q, ask, sizeof ask / sizeof ask[0], &done, &n, &tq_err));
    sitq_task_id want[] = {0, ids[3], ids[100], ids[250], foreign, ids[299] + 1000000};
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++) assert_int_equal(done[i], want[i]);
    free(done);

    /* nothing finished among the queued ones */
    done = NULL;
    TQ_OK(sitq_finished_among(q, ids + 4, 90, &done, &n, &tq_err));
    assert_int_equal(n, 0);
    assert_null(done);

    /* the largest id (no overflow past it), alone and in a run: absent, so finished */
    sitq_task_id top[] = {INT64_MAX, INT64_MAX - 1};
    for (size_t k = 1; k <= 2; k++) {
        TQ_OK(sitq_finished_among(q, top, k, &done, &n, &tq_err));
        assert_int_equal(n, k);
        assert_int_equal(done[k - 1], INT64_MAX);
        free(done);
    }

    TQ_ERR(SITQ_EINVAL, sitq_finished_among(NULL, ids, 1, &done, &n, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_finished_among(q, NULL, 1, &done, &n, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_finished_among(q, ids, 1, NULL, &n, &tq_err));
    TQ_OK(sitq_finished_among(q, NULL, 0, &done, &n, &tq_err));
    assert_int_equal(n, 0);
}

static void test_watch_local_completion(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_watch *w = NULL;
    TQ_OK(sitq_watch_open(q, &w, &tq_err));
    assert_true(sitq_watch_fd(w) >= 0);
    sitq_watch_set_active(w, 1);
    sitq_task_id id = tq_enqueue(q, "f", NULL);
    sitq_worker *wk = tq_worker_new(q, 1, 1, "f", tq_h_echo, NULL);
    TQ_OK(sitq_worker_start(wk, &tq_err));
    assert_true(wait_finished(w, q, id, 20000));
    assert_int_equal(tq_status(q, id), SITQ_SUCCEEDED);
    sitq_worker_free(wk);
    sitq_watch_set_active(w, 0);
    sitq_watch_close(w);
}

/* A cancel through a second handle (as another process would) is seen. */
static void test_watch_other_handle(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_watch *w = NULL;
    TQ_OK(sitq_watch_open(e->queue, &w, &tq_err));
    sitq_watch_set_active(w, 1);
    sitq_task_id id = tq_enqueue(e->queue, "f", NULL);
    sitq_backend *b2 = NULL;
    TQ_OK(tq_open_backend(e, &b2, &tq_err));
    sitq_queue *q2 = NULL;
    TQ_OK(sitq_queue_open(b2, NULL, &q2, &tq_err));
    TQ_OK(sitq_cancel(q2, id, NULL, &tq_err));
    assert_true(wait_finished(w, e->queue, id, 20000));
    sitq_watch_close(w);
    sitq_queue_close(q2);
    sitq_backend_close(b2);
}

static void test_watch_errors(void **state) {
    (void)state;
    sitq_watch *w = (sitq_watch *)&w;
    TQ_ERR(SITQ_EINVAL, sitq_watch_open(NULL, &w, &tq_err));
    assert_null(w);
    TQ_ERR(SITQ_EINVAL, sitq_watch_open(TQ_ENV(state)->queue, NULL, &tq_err));
    assert_int_equal(sitq_watch_fd(NULL), -1);
    assert_int_equal(sitq_watch_consume(NULL), 0);
    sitq_watch_set_active(NULL, 1);
    sitq_watch_close(NULL);
    /* closing an active watch that never signalled */
    TQ_OK(sitq_watch_open(TQ_ENV(state)->queue, &w, &tq_err));
    sitq_watch_set_active(w, 1);
    sitq_watch_close(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_finished_among, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_watch_local_completion, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_watch_other_handle, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_watch_errors, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests_name("watch", tests, NULL, NULL);
}
