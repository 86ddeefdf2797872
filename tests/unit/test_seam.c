/* test_seam.c - the storage seam (src/backend/backend.h) as a second
 * backend would see it: the version check, the blob limit, the clock a
 * cycle reports its leases on, handler names passed as arrays, inputs left
 * untouched, and waits routed through an optional wait_change op only while
 * the head's notifies capability says it can wake. */
#include "helpers.h"

#include "backend/backend.h"
#include "core/internal.h"

static void test_version_checked(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq__backend_ops ops = *e->backend->ops;
    struct sitq_backend head;
    ops.version = SITQ__BACKEND_VERSION + 1;
    assert_int_equal(sitq__backend_head_init(&head, &ops), -1);
    ops.version = SITQ__BACKEND_VERSION;
    ops.blob_max = 12345;
    ops.wait_change = NULL;
    assert_int_equal(sitq__backend_head_init(&head, &ops), 0);
    assert_int_equal(sitq_backend_blob_max(&head), 12345);
    assert_int_equal(head.notifies, 0); /* no wait_change: nothing can notify */
    sitq__backend_head_destroy(&head);
    assert_int_equal(e->backend->notifies, 0); /* SQLite polls for other processes */
    assert_int_equal(sitq_backend_blob_max(e->backend), 999000000u);
    assert_int_equal(sitq_backend_blob_max(NULL), 0);
}

/* A payload above the backend's limit is refused before it is stored. */
static void test_payload_over_blob_max(void **state) {
    tq_env *e = TQ_ENV(state);
    size_t max = sitq_backend_blob_max(e->backend);
    sitq_task_id id = 0;
    TQ_ERR_MSG(SITQ_EINVAL, "exceeds", "limit",
               sitq_enqueue(e->queue, "f", "x", max + 1, NULL, &id, &tq_err));
    assert_int_equal(tq_stats(e->queue).total, 0);
}

/* Claims and renewals report their deadlines on the backend's clock, with
 * the moment they were measured from; names are matched exactly or by
 * prefix (with characters JSON must escape); the caller's arrays stay. */
static void test_cycle_clock_and_names(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_backend *b = e->backend;
    sitq_task_id exact = tq_enqueue(e->queue, "say \"hi\"\\", NULL);
    sitq_task_id pre = tq_enqueue(e->queue, "pre.x", NULL);
    tq_enqueue(e->queue, "other", NULL);
    const char *fns[] = {"say \"hi\"\\"};
    const char *pxs[] = {"pre."};
    sitq__claimed claimed[4];
    memset(claimed, 0, sizeof claimed);
    sitq__cycle cy;
    memset(&cy, 0, sizeof cy);
    const char *cy_q[] = {"default"};
    cy.queues = cy_q;
    cy.n_queues = 1;
    cy.worker_id = "w1";
    cy.lease_us = 5000000;
    cy.functions = fns;
    cy.n_functions = 1;
    cy.prefixes = pxs;
    cy.n_prefixes = 1;
    cy.claim_max = 4;
    cy.claimed = claimed;
    sitq_time_us before = sitq_now_us();
    TQ_OK(b->ops->cycle(b, &cy, &tq_err));
    sitq_time_us after = sitq_now_us();
    assert_int_equal(cy.n_claimed, 2);
    assert_true(cy.db_now_us >= before && cy.db_now_us <= after);
    assert_int_equal(claimed[0].id, exact);
    assert_int_equal(claimed[1].id, pre);
    for (int i = 0; i < 2; i++)
        assert_int_equal(claimed[i].lease_until_us, cy.db_now_us + cy.lease_us);
    assert_string_equal(fns[0], "say \"hi\"\\");
    assert_string_equal(pxs[0], "pre.");

    /* A renewal: the new deadline, on the same clock. */
    sitq__heartbeat hb[2] = {{claimed[0].id, claimed[0].lease_token, -1, 0, 0, 0},
                             {claimed[1].id, claimed[1].lease_token + 1, -1, 0, 0, 0}};
    sitq__cycle cy2;
    memset(&cy2, 0, sizeof cy2);
    const char *cy2_q[] = {"default"};
    cy2.queues = cy2_q;
    cy2.n_queues = 1;
    cy2.heartbeats = hb;
    cy2.n_heartbeats = 2;
    cy2.lease_us = 7000000;
    TQ_OK(b->ops->cycle(b, &cy2, &tq_err));
    assert_int_equal(hb[0].lost, 0);
    assert_int_equal(hb[0].lease_until_us, cy2.db_now_us + 7000000);
    assert_int_equal(hb[1].lost, 1); /* a wrong token renews nothing */

    /* The same lists again (the SQLite backend's cached text), then others. */
    sitq__release rel[2] = {{claimed[0].id, claimed[0].lease_token},
                            {claimed[1].id, claimed[1].lease_token}};
    sitq__claimed_clear(&claimed[0]);
    sitq__claimed_clear(&claimed[1]);
    cy.releases = rel;
    cy.n_releases = 2;
    TQ_OK(b->ops->cycle(b, &cy, &tq_err));
    assert_int_equal(cy.n_claimed, 2); /* released and claimed again in one cycle */
    for (size_t i = 0; i < cy.n_claimed; i++) sitq__claimed_clear(&claimed[i]);
    const char *fns2[] = {"other"};
    sitq__cycle cy3 = cy;
    cy3.releases = NULL;
    cy3.n_releases = 0;
    cy3.functions = fns2;
    cy3.n_prefixes = 0;
    TQ_OK(b->ops->cycle(b, &cy3, &tq_err));
    assert_int_equal(cy3.n_claimed, 1);
    assert_string_equal(claimed[0].function, "other");
    sitq__claimed_clear(&claimed[0]);
}

/* A backend with wait_change: sitq_wait and the idle dispatcher wait
 * through it. This one waits on the head's condition variable, as a
 * backend whose listener thread turns notifications into
 * sitq__backend_notify would. */
static atomic_int wait_calls;
static atomic_int wait_ready_calls;

static int counting_wait(sitq_backend *b, const char *queue, unsigned events,
                         const sitq__gens *seen, int64_t deadline_mono_us) {
    (void)queue;
    atomic_fetch_add(&wait_calls, 1);
    if (events & SITQ__EV_READY) atomic_fetch_add(&wait_ready_calls, 1);
    struct timespec ts = {(time_t)(deadline_mono_us / 1000000),
                          (long)(deadline_mono_us % 1000000) * 1000};
    pthread_mutex_lock(&b->notify_mu);
    int woke = 0;
    while (!(woke = b->wake_gen != seen->wakes) && sitq__mono_us() < deadline_mono_us)
        pthread_cond_timedwait(&b->notify_cv, &b->notify_mu, &ts);
    pthread_mutex_unlock(&b->notify_mu);
    return woke;
}

/* Runs a worker and a sitq_wait on e's queue with counting_wait installed
 * and the head's notifies set to `notifies`; restores the backend after. */
static void run_with_counting_wait(tq_env *e, int notifies) {
    sitq_backend *b = e->backend;
    const sitq__backend_ops *orig = b->ops;
    int orig_notifies = b->notifies;
    sitq__backend_ops ops = *orig;
    ops.wait_change = counting_wait;
    struct sitq_backend head;
    assert_int_equal(sitq__backend_head_init(&head, &ops), 0);
    assert_int_equal(head.notifies, 1); /* wait_change present: set at init */
    sitq__backend_head_destroy(&head);
    b->ops = &ops;
    b->notifies = notifies;
    atomic_store(&wait_calls, 0);
    atomic_store(&wait_ready_calls, 0);
    tq_rec rec;
    tq_rec_init(&rec, 8);
    rec.sleep_ms = 30;
    sitq_worker *w = tq_worker_new(e->queue, 1, 0, "f", tq_h_record, &rec);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_task_id id = tq_enqueue(e->queue, "f", NULL);
    sitq_result *r = NULL;
    TQ_OK(sitq_wait(e->queue, id, 30, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    tq_rec_free(&rec);
    b->ops = orig;
    b->notifies = orig_notifies;
}

static void test_wait_change_used(void **state) {
    run_with_counting_wait(TQ_ENV(state), 1);
    assert_true(atomic_load(&wait_calls) > atomic_load(&wait_ready_calls)); /* sitq_wait */
    assert_true(atomic_load(&wait_ready_calls) > 0);                        /* dispatcher */
}

/* The same ops table on an instance that cannot be notified (a PostgreSQL
 * backend opened poll_only): waits poll, wait_change is never called. */
static void test_wait_change_unused_without_notifies(void **state) {
    run_with_counting_wait(TQ_ENV(state), 0);
    assert_int_equal(atomic_load(&wait_calls), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_version_checked, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_payload_over_blob_max, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_cycle_clock_and_names, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_wait_change_used, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_wait_change_unused_without_notifies, tq_setup,
                                        tq_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
