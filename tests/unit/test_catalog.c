/* test_catalog.c - reads across the queues of a store: sitq_queue_names,
 * sitq_task_queue, sitq_task_dependents, sitq_get_tasks, sitq_tasks_dependents, and sitq_list_tasks / sitq_count_tasks with every
 * condition of a sitq_list_filter (queue, status, function, time, keyset
 * bounds, order, limit, cap), their dependencies, and their argument
 * errors. */
#include "helpers.h"

/* The ids of a list, in order, as "1 2 3" (static buffer). */
static const char *list_ids(sitq_backend *b, const sitq_list_filter *f) {
    static char buf[512];
    sitq_result **items = NULL;
    size_t n = 0;
    TQ_OK(sitq_list_tasks(b, f, &items, &n, &tq_err));
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < sizeof buf - 24; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%lld", i ? " " : "",
                                (long long)items[i]->id);
    sitq_result_list_free(items, n);
    return buf;
}

static void test_queue_names(void **state) {
    tq_env *e = TQ_ENV(state);
    char **names = NULL;
    size_t n = 99;
    TQ_OK(sitq_queue_names(e->backend, &names, &n, &tq_err));
    assert_int_equal(n, 0); /* opening a queue creates nothing */
    assert_null(names);
    sitq_queue *zeta = NULL, *alpha = NULL;
    TQ_OK(sitq_queue_open(e->backend, "zeta", &zeta, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, "alpha", &alpha, &tq_err));
    sitq_task_id z = tq_enqueue(zeta, "f", NULL);
    sitq_task_id a = tq_enqueue(alpha, "f", NULL);
    TQ_OK(sitq_cancel(alpha, a, NULL, &tq_err)); /* a queue of finished tasks only */
    tq_enqueue(e->queue, "f", NULL);
    TQ_OK(sitq_queue_names(e->backend, &names, &n, &tq_err));
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "alpha");
    assert_string_equal(names[1], "default");
    assert_string_equal(names[2], "zeta");
    sitq_queue_names_free(names, n);

    char *q = NULL;
    TQ_OK(sitq_task_queue(e->backend, z, &q, &tq_err));
    assert_string_equal(q, "zeta");
    free(q);
    TQ_ERR(SITQ_ENOTFOUND, sitq_task_queue(e->backend, 987654, &q, &tq_err));
    assert_null(q);
    TQ_ERR(SITQ_EINVAL, sitq_task_queue(e->backend, 0, &q, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_task_queue(NULL, z, &q, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_queue_names(e->backend, NULL, &n, &tq_err));
    sitq_queue_names_free(NULL, 0);
    sitq_queue_close(zeta);
    sitq_queue_close(alpha);
}

static void test_list_filters(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue *mail = NULL;
    TQ_OK(sitq_queue_open(e->backend, "mail", &mail, &tq_err));
    sitq_task_id t1 = tq_enqueue(e->queue, "f", NULL);
    sitq_task_id t2 = tq_enqueue(mail, "g", NULL);
    sitq_task_options o;
    sitq_task_options_init(&o);
    sitq_task_id deps[] = {t1};
    o.depends_on = deps;
    o.n_depends_on = 1;
    sitq_task_id t3 = tq_enqueue(e->queue, "g", &o);
    sitq_task_id t4 = tq_enqueue(mail, "f", NULL);
    TQ_OK(sitq_cancel(mail, t4, NULL, &tq_err));
    char want[128];

    sitq_list_filter f;
    sitq_list_filter_init(&f);
    assert_int_equal(f.status, SITQ_STATUS_ANY);
    assert_int_equal(f.limit, 100);
    snprintf(want, sizeof want, "%lld %lld %lld %lld", (long long)t4, (long long)t3, (long long)t2,
             (long long)t1);
    assert_string_equal(list_ids(e->backend, &f), want); /* every queue, newest first */
    f.queue = "mail";
    snprintf(want, sizeof want, "%lld %lld", (long long)t4, (long long)t2);
    assert_string_equal(list_ids(e->backend, &f), want);
    f.queue = NULL;
    f.function = "g";
    snprintf(want, sizeof want, "%lld %lld", (long long)t3, (long long)t2);
    assert_string_equal(list_ids(e->backend, &f), want);
    f.function = NULL;
    f.status = SITQ_CANCELLED;
    snprintf(want, sizeof want, "%lld", (long long)t4);
    assert_string_equal(list_ids(e->backend, &f), want);
    f.status = SITQ_WAITING;
    snprintf(want, sizeof want, "%lld", (long long)t3);
    assert_string_equal(list_ids(e->backend, &f), want);
    f.status = SITQ_STATUS_ANY;

    /* keyset paging both ways */
    f.oldest_first = 1;
    f.limit = 2;
    snprintf(want, sizeof want, "%lld %lld", (long long)t1, (long long)t2);
    assert_string_equal(list_ids(e->backend, &f), want);
    f.after_id = t2;
    snprintf(want, sizeof want, "%lld %lld", (long long)t3, (long long)t4);
    assert_string_equal(list_ids(e->backend, &f), want);
    f.after_id = 0;
    f.oldest_first = 0;
    f.before_id = t3;
    snprintf(want, sizeof want, "%lld %lld", (long long)t2, (long long)t1);
    assert_string_equal(list_ids(e->backend, &f), want);
    f.before_id = 0;
    f.limit = 100;

    /* time: unfinished tasks by enqueue time, t4 by its finish */
    sitq_time_us now = sitq_now_us();
    f.since_us = now + 3600000000LL;
    assert_string_equal(list_ids(e->backend, &f), "");
    f.since_us = now - 3600000000LL;
    f.until_us = now + 3600000000LL;
    assert_int_equal(strlen(list_ids(e->backend, &f)) > 0, 1);
    int64_t count = 0;
    TQ_OK(sitq_count_tasks(e->backend, &f, 100, &count, &tq_err));
    assert_int_equal(count, 4);
    TQ_OK(sitq_count_tasks(e->backend, &f, 3, &count, &tq_err)); /* bounded by cap */
    assert_int_equal(count, 3);
    f.until_us = now - 3600000000LL;
    TQ_OK(sitq_count_tasks(e->backend, &f, 100, &count, &tq_err));
    assert_int_equal(count, 0);
    sitq_queue_close(mail);
}

static void test_list_dependencies(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_task_id a = tq_enqueue(e->queue, "f", NULL);
    sitq_task_id b = tq_enqueue(e->queue, "f", NULL);
    sitq_task_options o;
    sitq_task_options_init(&o);
    sitq_task_id deps[] = {b, a};
    o.depends_on = deps;
    o.n_depends_on = 2;
    o.finalizer = 1;
    sitq_task_id c = tq_enqueue(e->queue, "f", &o);
    /* sitq_list and sitq_list_tasks both report declared dependencies */
    sitq_result **items = NULL;
    size_t n = 0;
    TQ_OK(sitq_list(e->queue, SITQ_STATUS_ANY, 10, 0, &items, &n, &tq_err));
    assert_int_equal(n, 3);
    assert_int_equal(items[0]->id, c);
    assert_int_equal(items[0]->n_depends_on, 2);
    assert_int_equal(items[0]->depends_on[0], b);
    assert_int_equal(items[0]->depends_on[1], a);
    assert_int_equal(items[0]->finalizer, 1);
    assert_int_equal(items[1]->n_depends_on, 0);
    assert_null(items[0]->value);
    sitq_result_list_free(items, n);
}

/* The dependents of a task, in id order, bounded by limit. */
static void test_dependents(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_task_id a = tq_enqueue(e->queue, "f", NULL);
    sitq_task_id b = tq_enqueue(e->queue, "f", NULL);
    sitq_task_options o;
    sitq_task_options_init(&o);
    sitq_task_id deps[] = {b, a};
    o.depends_on = deps;
    o.n_depends_on = 2;
    sitq_task_id c = tq_enqueue(e->queue, "f", &o);
    o.n_depends_on = 1; /* b only */
    sitq_task_id d = tq_enqueue(e->queue, "f", &o);
    sitq_task_id *ids = NULL;
    size_t n = 99;
    TQ_OK(sitq_task_dependents(e->backend, b, 10, &ids, &n, &tq_err));
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], c);
    assert_int_equal(ids[1], d);
    free(ids);
    TQ_OK(sitq_task_dependents(e->backend, b, 1, &ids, &n, &tq_err));
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], c);
    free(ids);
    TQ_OK(sitq_task_dependents(e->backend, a, 10, &ids, &n, &tq_err));
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], c);
    free(ids);
    n = 99;
    TQ_OK(sitq_task_dependents(e->backend, c, 10, &ids, &n, &tq_err)); /* none */
    assert_int_equal(n, 0);
    assert_null(ids);
    TQ_OK(sitq_task_dependents(e->backend, 987654, 10, &ids, &n, &tq_err)); /* unknown id */
    assert_int_equal(n, 0);
    TQ_ERR_MSG(SITQ_EINVAL, "positive", "positive",
               sitq_task_dependents(e->backend, 0, 10, &ids, &n, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "limit", "limit",
               sitq_task_dependents(e->backend, a, 0, &ids, &n, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_task_dependents(e->backend, a, 1000001, &ids, &n, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_task_dependents(NULL, a, 10, &ids, &n, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_task_dependents(e->backend, a, 10, NULL, &n, &tq_err));
    assert_null(ids);
}

/* Many tasks by id at once: those that exist, ascending, each once, with
 * their dependencies in declared order and as a list reads them. */
static void test_get_many(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_task_id a = tq_enqueue(e->queue, "fa", NULL);
    sitq_task_id b = tq_enqueue(e->queue, "fb", NULL);
    sitq_task_options o;
    sitq_task_options_init(&o);
    sitq_task_id deps[] = {b, a};
    o.depends_on = deps;
    o.n_depends_on = 2;
    sitq_task_id c = tq_enqueue(e->queue, "fc", &o);
    sitq_task_id ids[] = {c, 987654, a, c, b};
    sitq_result **items = NULL;
    size_t n = 99;
    TQ_OK(sitq_get_tasks(e->backend, ids, 5, &items, &n, &tq_err));
    assert_int_equal(n, 3);
    assert_int_equal(items[0]->id, a);
    assert_string_equal(items[0]->function, "fa");
    assert_int_equal(items[0]->status, SITQ_QUEUED);
    assert_int_equal(items[0]->n_depends_on, 0);
    assert_int_equal(items[1]->id, b);
    assert_int_equal(items[2]->id, c);
    assert_string_equal(items[2]->function, "fc");
    assert_int_equal(items[2]->status, SITQ_WAITING);
    assert_int_equal(items[2]->n_depends_on, 2);
    assert_int_equal(items[2]->depends_on[0], b);
    assert_int_equal(items[2]->depends_on[1], a);
    assert_null(items[2]->value);
    sitq_result_list_free(items, n);
    sitq_task_id gone[] = {987654, INT64_MAX}; /* the largest id: no overflow past it */
    for (size_t k = 0; k < 2; k++) {
        n = 99;
        TQ_OK(sitq_get_tasks(e->backend, gone + k, 1, &items, &n, &tq_err));
        assert_int_equal(n, 0);
        assert_null(items);
    }
}

/* The dependents of many tasks at once, as pairs, limit per task. */
static void test_dependents_many(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_task_id a = tq_enqueue(e->queue, "f", NULL);
    sitq_task_id b = tq_enqueue(e->queue, "f", NULL);
    sitq_task_options o;
    sitq_task_options_init(&o);
    sitq_task_id deps[] = {b, a};
    o.depends_on = deps;
    o.n_depends_on = 2;
    sitq_task_id c = tq_enqueue(e->queue, "f", &o);
    o.n_depends_on = 1; /* b only */
    sitq_task_id d = tq_enqueue(e->queue, "f", &o);
    sitq_task_id ids[] = {c, b, a, b};
    sitq_task_id *pairs = NULL;
    size_t n = 99;
    TQ_OK(sitq_tasks_dependents(e->backend, ids, 4, 10, &pairs, &n, &tq_err));
    assert_int_equal(n, 3);
    sitq_task_id want[] = {a, c, b, c, b, d};
    for (size_t i = 0; i < 6; i++) assert_int_equal(pairs[i], want[i]);
    free(pairs);
    TQ_OK(sitq_tasks_dependents(e->backend, ids, 4, 1, &pairs, &n, &tq_err));
    assert_int_equal(n, 2); /* (a, c), (b, c): one each */
    assert_int_equal(pairs[2], b);
    assert_int_equal(pairs[3], c);
    free(pairs);
    n = 99;
    TQ_OK(sitq_tasks_dependents(e->backend, &c, 1, 10, &pairs, &n, &tq_err));
    assert_int_equal(n, 0);
    assert_null(pairs);
}

/* Bad arguments of the reads of many ids. */
static void test_many_errors(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_task_id ids[] = {1, 0};
    sitq_result **items = NULL;
    sitq_task_id *pairs = NULL;
    size_t n = 0;
    TQ_ERR_MSG(SITQ_EINVAL, "positive", "positive",
               sitq_get_tasks(e->backend, ids, 2, &items, &n, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "n must be", "ids",
               sitq_get_tasks(e->backend, ids, 0, &items, &n, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_get_tasks(e->backend, ids, SITQ_IDS_MAX + 1, &items, &n, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_get_tasks(e->backend, NULL, 1, &items, &n, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_get_tasks(NULL, ids, 1, &items, &n, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_get_tasks(e->backend, ids, 1, NULL, &n, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "positive", "positive",
               sitq_tasks_dependents(e->backend, ids, 2, 10, &pairs, &n, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "limit", "limit",
               sitq_tasks_dependents(e->backend, ids, 1, 0, &pairs, &n, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_tasks_dependents(e->backend, ids, 1, 1000001, &pairs, &n, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_tasks_dependents(e->backend, ids, 0, 10, &pairs, &n, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_tasks_dependents(e->backend, ids, 1, 10, NULL, &n, &tq_err));
    assert_null(items);
    assert_null(pairs);
    assert_int_equal(n, 0);
}

static void test_list_errors(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_list_filter f;
    sitq_list_filter_init(&f);
    sitq_result **items = NULL;
    size_t n = 0;
    int64_t count = 0;
    f.limit = 0;
    TQ_ERR_MSG(SITQ_EINVAL, "limit", "limit", sitq_list_tasks(e->backend, &f, &items, &n, &tq_err));
    f.limit = 10;
    f.status = 99;
    TQ_ERR_MSG(SITQ_EINVAL, "status", "status",
               sitq_list_tasks(e->backend, &f, &items, &n, &tq_err));
    f.status = SITQ_STATUS_ANY;
    f.since_us = -1;
    TQ_ERR_MSG(SITQ_EINVAL, "bound", "bound",
               sitq_count_tasks(e->backend, &f, 10, &count, &tq_err));
    f.since_us = 0;
    f.function = "";
    TQ_ERR_MSG(SITQ_EINVAL, "function", "name",
               sitq_list_tasks(e->backend, &f, &items, &n, &tq_err));
    f.function = NULL;
    TQ_ERR_MSG(SITQ_EINVAL, "cap", "cap", sitq_count_tasks(e->backend, &f, 0, &count, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_list_tasks(e->backend, NULL, &items, &n, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_list_tasks(NULL, &f, &items, &n, &tq_err));
    assert_null(items);
    assert_int_equal(n, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queue_names, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_list_filters, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_list_dependencies, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_dependents, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_list_errors, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_get_many, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_dependents_many, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_many_errors, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests_name("catalog", tests, NULL, NULL);
}
