/* test_retention.c - retention of finished tasks: the defaults, per-queue
 * and per-task values, keep forever, results a dependent still needs, the
 * errors, a worker that purges while it runs, and a large purge while
 * cycles run (the number of rows: SITQ_TEST_RETENTION_ROWS, default 20000;
 * the figures of each cycle's duration are printed, not asserted: speed is
 * bench/'s to judge).
 *
 * Expiry is judged at a chosen time (sitq__purge_expired_at) rather than by
 * waiting for days; the large purge inserts its backdated finished tasks
 * with SQL straight into the store, the one fast path to a million rows. */
#include "helpers.h"

#include "backend/backend.h"
#include "core/internal.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#define DAY_US (86400LL * 1000000)

static sitq_worker *new_worker(sitq_queue *q) {
    sitq_worker *w = tq_worker_new(q, 1, 0, "ok", tq_h_echo, NULL);
    TQ_OK(sitq_worker_register(w, "bad", tq_h_fail, NULL, &tq_err));
    return w;
}

/* Enqueue and run one task of function fn (options o) to its end. */
static sitq_task_id run_one(sitq_queue *q, sitq_worker *w, const char *fn,
                            const sitq_task_options *o) {
    sitq_task_id id = tq_enqueue(q, fn, o);
    TQ_OK(sitq_worker_process_task(w, id, NULL, &tq_err));
    return id;
}

static int64_t purge_at(sitq_backend *b, sitq_time_us at) {
    int64_t n = -1;
    TQ_OK(sitq__purge_expired_at(b, at, 7, &n, &tq_err)); /* small windows: several */
    return n;
}

static int exists(sitq_queue *q, sitq_task_id id) {
    sitq_result *r = NULL;
    sitq_code rc = sitq_get_result(q, id, &r, &tq_err);
    sitq_result_free(r);
    assert_true(rc == SITQ_OK || rc == SITQ_ENOTFOUND);
    return rc == SITQ_OK;
}

static void test_defaults(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_retention r;
    TQ_OK(sitq_queue_get_retention(e->queue, &r, &tq_err));
    assert_int_equal(r.is_default, 1);
    assert_true(r.succeeded_s == 7 * 86400.0 && r.failed_s == 30 * 86400.0);
    sitq_worker *w = new_worker(e->queue);
    sitq_task_id ok = run_one(e->queue, w, "ok", NULL);
    sitq_task_id bad = run_one(e->queue, w, "bad", NULL);
    sitq_task_id cancelled = tq_enqueue(e->queue, "ok", NULL);
    TQ_OK(sitq_cancel(e->queue, cancelled, NULL, &tq_err));
    sitq_task_id queued = tq_enqueue(e->queue, "ok", NULL);
    sitq_time_us now = sitq_now_us();
    assert_int_equal(purge_at(e->backend, now + DAY_US), 0);
    assert_int_equal(purge_at(e->backend, now + 8 * DAY_US), 1);
    assert_false(exists(e->queue, ok));
    assert_true(exists(e->queue, bad) && exists(e->queue, cancelled));
    assert_int_equal(tq_stats(e->queue).count[SITQ_SUCCEEDED], 0);
    assert_int_equal(purge_at(e->backend, now + 31 * DAY_US), 2);
    assert_false(exists(e->queue, bad) || exists(e->queue, cancelled));
    assert_true(exists(e->queue, queued)); /* never a live task */
    /* Ids are never reused, even after the newest task was purged. */
    TQ_OK(sitq_cancel(e->queue, queued, NULL, &tq_err));
    assert_int_equal(purge_at(e->backend, now + 31 * DAY_US), 1);
    assert_true(tq_enqueue(e->queue, "ok", NULL) > queued);
    sitq_worker_free(w);
}

static void test_queue_retention(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue *other = NULL;
    TQ_OK(sitq_queue_open(e->backend, "other", &other, &tq_err));
    sitq_retention r = {60, SITQ_KEEP_FOREVER, 0};
    TQ_OK(sitq_queue_set_retention(e->queue, &r, &tq_err));
    sitq_retention got;
    TQ_OK(sitq_queue_get_retention(e->queue, &got, &tq_err));
    assert_true(got.succeeded_s == 60 && got.failed_s == SITQ_KEEP_FOREVER && !got.is_default);
    TQ_OK(sitq_queue_get_retention(other, &got, &tq_err));
    assert_int_equal(got.is_default, 1);
    sitq_worker *w = new_worker(e->queue);
    sitq_worker *wo = new_worker(other);
    sitq_task_id ok = run_one(e->queue, w, "ok", NULL);
    sitq_task_id bad = run_one(e->queue, w, "bad", NULL);
    sitq_task_id other_ok = run_one(other, wo, "ok", NULL);
    sitq_time_us now = sitq_now_us();
    assert_int_equal(purge_at(e->backend, now + 30 * 1000000LL), 0);
    assert_int_equal(purge_at(e->backend, now + 120 * 1000000LL), 1);
    assert_false(exists(e->queue, ok));
    assert_true(exists(other, other_ok)); /* the other queue keeps 7 days */
    assert_int_equal(purge_at(e->backend, now + 3650 * DAY_US), 1);
    assert_true(exists(e->queue, bad)); /* kept forever */
    /* Changed, then back to the defaults. */
    r.failed_s = 10;
    TQ_OK(sitq_queue_set_retention(e->queue, &r, &tq_err));
    TQ_OK(sitq_queue_get_retention(e->queue, &got, &tq_err));
    assert_true(got.failed_s == 10);
    TQ_OK(sitq_queue_set_retention(e->queue, NULL, &tq_err));
    TQ_OK(sitq_queue_get_retention(e->queue, &got, &tq_err));
    assert_int_equal(got.is_default, 1);
    assert_int_equal(purge_at(e->backend, now + 29 * DAY_US), 0);
    assert_int_equal(purge_at(e->backend, now + 31 * DAY_US), 1);
    sitq_worker_free(w);
    sitq_worker_free(wo);
    sitq_queue_close(other);
}

static void test_task_keep(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_worker *w = new_worker(e->queue);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.keep_s = 30;
    sitq_task_id short_ok = run_one(e->queue, w, "ok", &o);
    sitq_task_id short_bad = run_one(e->queue, w, "bad", &o);
    o.keep_s = SITQ_KEEP_FOREVER;
    sitq_task_id forever = run_one(e->queue, w, "ok", &o);
    o.keep_s = 40 * 86400.0; /* longer than the queue's */
    sitq_task_id longer = run_one(e->queue, w, "ok", &o);
    /* A batch goes through the general enqueue path of each backend. */
    sitq_task_spec specs[2] = {{"ok", NULL, 0, &o, NULL, 0}, {"ok", NULL, 0, NULL, NULL, 0}};
    sitq_task_id ids[2];
    TQ_OK(sitq_enqueue_batch(e->queue, specs, 2, ids, &tq_err));
    for (int i = 0; i < 2; i++) TQ_OK(sitq_worker_process_task(w, ids[i], NULL, &tq_err));
    sitq_time_us now = sitq_now_us();
    assert_int_equal(purge_at(e->backend, now + 60 * 1000000LL), 2);
    assert_false(exists(e->queue, short_ok) || exists(e->queue, short_bad));
    assert_int_equal(purge_at(e->backend, now + 8 * DAY_US), 1); /* ids[1]: the default */
    assert_false(exists(e->queue, ids[1]));
    assert_true(exists(e->queue, longer) && exists(e->queue, ids[0]));
    assert_int_equal(purge_at(e->backend, now + 41 * DAY_US), 2);
    assert_int_equal(purge_at(e->backend, now + 36500 * DAY_US), 0);
    assert_true(exists(e->queue, forever));
    sitq_worker_free(w);
}

/* A result a dependent not yet finished needs is kept, whatever its age;
 * once the dependent finished, both go. */
static void test_dependent_keeps_result(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_worker *w = new_worker(e->queue);
    sitq_task_id parent = run_one(e->queue, w, "ok", NULL);
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.depends_on = &parent;
    o.n_depends_on = 1;
    sitq_task_id child = tq_enqueue(e->queue, "ok", &o); /* ready, not run yet */
    sitq_task_id waiting_on = tq_enqueue(e->queue, "ok", NULL);
    o.depends_on = &waiting_on;
    sitq_task_id waiting = tq_enqueue(e->queue, "ok", &o);
    assert_int_equal(tq_status(e->queue, waiting), SITQ_WAITING);
    sitq_time_us now = sitq_now_us();
    assert_int_equal(purge_at(e->backend, now + 365 * DAY_US), 0);
    assert_true(exists(e->queue, parent));
    TQ_OK(sitq_worker_process_task(w, child, NULL, &tq_err));
    sitq_result *r = tq_get(e->queue, child);
    assert_int_equal(r->n_depends_on, 1);
    sitq_result_free(r);
    assert_int_equal(purge_at(e->backend, now + 365 * DAY_US), 2);
    assert_false(exists(e->queue, parent) || exists(e->queue, child));
    sitq_worker_free(w);
}

static void test_errors(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_retention r = {0, 10, 0};
    TQ_ERR_MSG(SITQ_EINVAL, "succeeded_s", "succeeded_s",
               sitq_queue_set_retention(e->queue, &r, &tq_err));
    r.succeeded_s = 10;
    r.failed_s = -2;
    TQ_ERR_MSG(SITQ_EINVAL, "failed_s", "failed_s",
               sitq_queue_set_retention(e->queue, &r, &tq_err));
    r.failed_s = 0.0 / 0.0;
    TQ_ERR(SITQ_EINVAL, sitq_queue_set_retention(e->queue, &r, &tq_err));
    r.failed_s = 1e12;
    TQ_ERR(SITQ_EINVAL, sitq_queue_set_retention(e->queue, &r, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_queue_set_retention(NULL, &r, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_queue_get_retention(e->queue, NULL, &tq_err));
    sitq_retained kept;
    TQ_ERR(SITQ_EINVAL, sitq_queue_retained(NULL, &kept, &tq_err));
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.keep_s = -3;
    sitq_task_id id = 0;
    TQ_ERR_MSG(SITQ_EINVAL, "keep_s", "keep_s",
               sitq_enqueue(e->queue, "f", NULL, 0, &o, &id, &tq_err));
    int64_t n = 5;
    TQ_ERR(SITQ_EINVAL, sitq_purge_expired(e->backend, 0, &n, &tq_err));
    assert_int_equal(n, 0);
    TQ_ERR(SITQ_EINVAL, sitq_purge_expired(NULL, 10, &n, &tq_err));
    sitq_worker_options wo;
    sitq_worker_options_init(&wo);
    assert_int_equal(wo.retention, 1);
    wo.retention = 2;
    sitq_worker *w = NULL;
    TQ_ERR_MSG(SITQ_EINVAL, "retention", "retention",
               sitq_worker_create(e->queue, &wo, &w, &tq_err));
    wo.retention = 1;
    wo.retention_interval_s = 0.001;
    TQ_ERR_MSG(SITQ_EINVAL, "retention_interval_s", "retention_interval_s",
               sitq_worker_create(e->queue, &wo, &w, &tq_err));
    assert_null(w);
}

/* What retention holds back: finished tasks kept and the oldest of them. */
static void test_retained(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_retained kept;
    TQ_OK(sitq_queue_retained(e->queue, &kept, &tq_err));
    assert_int_equal(kept.finished, 0);
    assert_int_equal(kept.oldest_id, 0);
    sitq_worker *w = new_worker(e->queue);
    tq_enqueue(e->queue, "ok", NULL);
    sitq_time_us before = sitq_now_us();
    sitq_task_id first = run_one(e->queue, w, "ok", NULL);
    run_one(e->queue, w, "bad", NULL);
    TQ_OK(sitq_queue_retained(e->queue, &kept, &tq_err));
    assert_int_equal(kept.finished, 2);
    assert_int_equal(kept.oldest_id, first);
    assert_true(kept.oldest_finished_us >= before && kept.oldest_finished_us <= sitq_now_us());
    sitq_worker_free(w);
}

/* The odd tasks of ids are purged, the even ones succeeded. */
static int settled(sitq_queue *q, const sitq_task_id *ids, int n) {
    for (int i = 0; i < n; i++) {
        sitq_result *r = NULL;
        sitq_code rc = sitq_get_result(q, ids[i], &r, &tq_err);
        int ok = i % 2 ? rc == SITQ_ENOTFOUND : rc == SITQ_OK && r->status == SITQ_SUCCEEDED;
        sitq_result_free(r);
        if (!ok) return 0;
    }
    return 1;
}

/* A running worker purges by itself: tasks whose retention (1 ms) is over
 * disappear without any call, the others stay. */
static void test_worker_purges(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_worker_options wo;
    tq_worker_opts(&wo, 1, 0);
    wo.retention_interval_s = 0.02;
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(e->queue, &wo, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "ok", tq_h_echo, NULL, &tq_err));
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.keep_s = 0.001;
    sitq_task_id ids[20];
    for (int i = 0; i < 20; i++) ids[i] = tq_enqueue(e->queue, "ok", i % 2 ? &o : NULL);
    TQ_OK(sitq_worker_start(w, &tq_err));
    /* until every task ran and the short-lived ones are gone */
    int64_t deadline = tq_mono_ms() + 20000;
    while (!settled(e->queue, ids, 20) && tq_mono_ms() < deadline) tq_sleep_ms(10);
    TQ_OK(sitq_worker_stop(w, 10, &tq_err));
    assert_int_equal(tq_stats(e->queue).count[SITQ_SUCCEEDED], 10);
    for (int i = 0; i < 20; i++) assert_int_equal(exists(e->queue, ids[i]), i % 2 == 0);
    sitq_worker_free(w);
}

/* ---- a large purge while cycles run ---- */

static int64_t rows_wanted(void) {
    const char *s = getenv("SITQ_TEST_RETENTION_ROWS");
    long long n = s ? atoll(s) : 20000;
    return n > 0 ? n : 20000;
}

/* Insert n finished tasks of queue "old", finished 40 days ago (every tenth
 * failed), with their succeeded count, straight into the store. */
static void insert_old(tq_env *e, int64_t n) {
    int64_t at = sitq_now_us() - 40 * DAY_US;
    char sql[1400];
    if (tq_backend_is_postgres()) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO \"%s\".tasks(id, queue, function, state, run_at_us, enqueued_at_us,"
                 " finished_at_us, result) SELECT nextval('\"%s\".task_ids'), 'old', 'f',"
                 " CASE WHEN i %% 10 = 0 THEN 5 ELSE 4 END, %lld, %lld, %lld, '\\x00'::bytea"
                 " FROM generate_series(1, %lld) i;"
                 "INSERT INTO \"%s\".counts(queue, shard, succeeded) VALUES('old', 0, %lld);"
                 "ANALYZE \"%s\".tasks",
                 e->schema, e->schema, (long long)at, (long long)at, (long long)at, (long long)n,
                 e->schema, (long long)(n - n / 10), e->schema);
        PGconn *c = PQconnectdb(getenv("SITQ_TEST_PG_URI"));
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) fail_msg("%s", PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        return;
    }
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %lld) "
             "INSERT INTO sitq_tasks(id, queue, function, state, run_at_us, enqueued_at_us,"
             " finished_at_us, result) SELECT (SELECT COALESCE(MAX(id), 0) FROM sitq_tasks) + i,"
             " 'old', 'f', CASE WHEN i %% 10 = 0 THEN 5 ELSE 4 END, %lld, %lld, %lld, x'00' FROM c;"
             "INSERT INTO sitq_counts(queue, succeeded) VALUES('old', %lld);",
             (long long)n, (long long)at, (long long)at, (long long)at, (long long)(n - n / 10));
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 30000);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s", msg);
    sqlite3_close(db);
}

/* One cycle of a probe on queue "probe": claim one task, then complete it;
 * the duration of each cycle (us) is recorded. */
static void probe_cycles(sitq_backend *b, int64_t *durations, size_t *n) {
    const char *qs[] = {"probe"};
    const char *fns[] = {"p"};
    sitq__claimed claimed[1];
    memset(claimed, 0, sizeof claimed);
    sitq__cycle cy;
    memset(&cy, 0, sizeof cy);
    cy.queues = qs;
    cy.n_queues = 1;
    cy.worker_id = "probe";
    cy.lease_us = 30000000;
    cy.functions = fns;
    cy.n_functions = 1;
    cy.claim_max = 1;
    cy.claimed = claimed;
    int64_t t0 = sitq__mono_us();
    TQ_OK(b->ops->cycle(b, &cy, &tq_err));
    durations[(*n)++] = sitq__mono_us() - t0;
    assert_int_equal(cy.n_claimed, 1);
    sitq__completion k;
    memset(&k, 0, sizeof k);
    k.id = claimed[0].id;
    k.lease_token = claimed[0].lease_token;
    k.ok = 1;
    k.started_at_us = k.finished_at_us = sitq_now_us();
    sitq__cycle done;
    memset(&done, 0, sizeof done);
    done.queues = qs;
    done.n_queues = 1;
    done.worker_id = "probe";
    done.completions = &k;
    done.n_completions = 1;
    t0 = sitq__mono_us();
    TQ_OK(b->ops->cycle(b, &done, &tq_err));
    durations[(*n)++] = sitq__mono_us() - t0;
    assert_int_equal(k.applied, 1);
    sitq__claimed_clear(&claimed[0]);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_large_purge_while_cycles_run(void **state) {
    tq_env *e = TQ_ENV(state);
    int64_t n = rows_wanted();
    insert_old(e, n);
    sitq_queue *old = NULL, *probe = NULL;
    TQ_OK(sitq_queue_open(e->backend, "old", &old, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, "probe", &probe, &tq_err));
    assert_int_equal(tq_stats(old).count[SITQ_SUCCEEDED], n - n / 10);
    /* A worker of the default queue runs tasks, and purges. */
    sitq_worker_options wo;
    tq_worker_opts(&wo, 2, 0);
    wo.retention_interval_s = 0.05;
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(e->queue, &wo, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "ok", tq_h_echo, NULL, &tq_err));
    size_t cap = 1 << 20, nd = 0;
    int64_t *d = malloc(cap * sizeof *d);
    assert_non_null(d);
    /* The baseline: the same cycles before the purge starts. */
    int64_t ran = 0;
    for (; ran < 500; ran++) {
        tq_enqueue(probe, "p", NULL);
        probe_cycles(e->backend, d, &nd);
    }
    qsort(d, nd, sizeof *d, cmp_i64);
    size_t base99 = nd * 99 / 100;
    printf("retention: baseline of %zu cycles: max %.1f ms, p99 %.1f ms\n", nd,
           (double)d[nd - 1] / 1000.0, (double)d[base99] / 1000.0);
    nd = 0;
    int64_t t_start = tq_mono_ms();
    TQ_OK(sitq_worker_start(w, &tq_err));
    int64_t deadline = tq_mono_ms() + 600000;
    sitq_stats st = tq_stats(old);
    while ((st.count[SITQ_SUCCEEDED] > 0 || st.count[SITQ_FAILED] > 0) && tq_mono_ms() < deadline &&
           nd + 2 <= cap) {
        tq_enqueue(e->queue, "ok", NULL);
        tq_enqueue(probe, "p", NULL);
        probe_cycles(e->backend, d, &nd);
        ran++;
        st = tq_stats(old);
    }
    int64_t took_ms = tq_mono_ms() - t_start;
    assert_int_equal(st.count[SITQ_SUCCEEDED], 0);
    assert_int_equal(st.count[SITQ_FAILED], 0);
    TQ_OK(sitq_worker_stop(w, 10, &tq_err));
    /* Nothing else was deleted: the probe's and the worker's tasks stay. */
    assert_int_equal(tq_stats(probe).count[SITQ_SUCCEEDED], ran);
    assert_int_equal(tq_stats(e->queue).count[SITQ_SUCCEEDED] +
                         tq_stats(e->queue).count[SITQ_QUEUED] +
                         tq_stats(e->queue).count[SITQ_RUNNING],
                     ran - 500);
    qsort(d, nd, sizeof *d, cmp_i64);
    size_t p99 = nd * 99 / 100, mid = nd / 2;
    printf("retention: %s purged %lld expired tasks in %.1f s while %zu cycles ran: cycle max "
           "%.1f ms, p99 %.1f ms, median %.2f ms\n",
           tq_backend_is_postgres() ? "postgres" : "sqlite", (long long)n, took_ms / 1000.0, nd,
           d[nd - 1] / 1000.0, d[p99] / 1000.0, d[mid] / 1000.0);
    free(d);
    sitq_worker_free(w);
    sitq_queue_close(old);
    sitq_queue_close(probe);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_queue_retention, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_task_keep, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_dependent_keeps_result, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_errors, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_retained, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_worker_purges, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_large_purge_while_cycles_run, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests_name("retention", tests, NULL, NULL);
}
