/*
 * test_stored_rows.c - rows written by other means than sitq (another
 * program, a hand edit) must not hang or crash sitq's operations over them.
 */
#include "helpers.h"

#include <sqlite3.h>
#include <stdint.h>

/** Run one SQL statement on the database file with a connection of our own. */
static void raw_exec(const char *path, const char *sql) {
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

/* Purge walks ids in windows; huge and sparse ids (up to INT64_MAX) must not
 * make it walk the empty ranges between them, nor overflow. */
static void test_purge_with_huge_sparse_ids(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue *q = e->queue;
    sitq_worker *w = tq_worker_new(q, 1, 0, "f", tq_h_echo, NULL);
    sitq_task_id ids[4];
    for (int i = 0; i < 4; i++) {
        ids[i] = tq_enqueue(q, "f", NULL);
        sitq_result *r = NULL;
        TQ_OK(sitq_worker_process_task(w, ids[i], &r, &tq_err));
        assert_int_equal(r->status, SITQ_SUCCEEDED);
        sitq_result_free(r);
    }
    sitq_worker_free(w);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE sitq_tasks SET id = 9223372036854775807 WHERE id = %lld;"
             "UPDATE sitq_tasks SET id = 4611686018427387904 WHERE id = %lld;"
             "UPDATE sitq_tasks SET id = -5 WHERE id = %lld;",
             (long long)ids[3], (long long)ids[2], (long long)ids[1]);
    raw_exec(e->path, sql);
    int64_t purged = -1;
    TQ_OK(sitq_purge(q, 0.0, &purged, &tq_err));
    /* the negative id is not a sitq id: left alone */
    assert_int_equal(purged, 3);
    sitq_result *r = NULL;
    TQ_ERR(SITQ_ENOTFOUND, sitq_get_result(q, INT64_MAX, &r, &tq_err));
    TQ_ERR(SITQ_ENOTFOUND, sitq_get_result(q, ids[0], &r, &tq_err));
}

/* A stored timeout out of range (negative, INT64_MAX) is no timeout or the
 * longest one: the attempt runs and its deadline does not overflow. */
static void test_out_of_range_timeouts(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue *q = e->queue;
    sitq_worker *w = tq_worker_new(q, 1, 0, "f", tq_h_echo, NULL);
    sitq_task_id huge = tq_enqueue(q, "f", NULL), negative = tq_enqueue(q, "f", NULL);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE sitq_tasks SET timeout_us = 9223372036854775807 WHERE id = %lld;"
             "UPDATE sitq_tasks SET timeout_us = -9223372036854775807 WHERE id = %lld;",
             (long long)huge, (long long)negative);
    raw_exec(e->path, sql);
    sitq_task_id ids[2] = {huge, negative};
    for (int i = 0; i < 2; i++) {
        sitq_result *r = NULL;
        TQ_OK(sitq_worker_process_task(w, ids[i], &r, &tq_err));
        if (r->status != SITQ_SUCCEEDED)
            fail_msg("task %lld: %s (%s)", (long long)ids[i], sitq_status_name(r->status),
                     r->error ? r->error : "");
        sitq_result_free(r);
    }
    sitq_worker_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_out_of_range_timeouts, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_purge_with_huge_sparse_ids, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
