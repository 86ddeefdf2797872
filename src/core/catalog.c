/* catalog.c - the public reads about the store rather than one queue:
 * which queues exist, which queue a task id belongs to, and tasks selected
 * across queues by status, function, time and id. Argument checks here, the
 * reads in the backend (ops->queues, task_queue, list, count). */
#include "backend/backend.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* qsort order of queue names: bytewise, the same on every backend (a
 * PostgreSQL database may sort text by its locale). */
static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

sitq_code sitq_queue_names(sitq_backend *backend, char ***out_names, size_t *out_count,
                           sitq_error *err) {
    if (!out_names || !out_count)
        return sitq__fail(err, SITQ_EINVAL, "out_names and out_count must not be NULL");
    *out_names = NULL;
    *out_count = 0;
    if (!backend) return sitq__fail(err, SITQ_EINVAL, "backend must not be NULL");
    char **names = NULL;
    size_t n = 0;
    sitq_code rc = backend->ops->queues(backend, &names, &n, err);
    if (rc) return rc;
    if (n > 1) qsort(names, n, sizeof *names, cmp_names);
    *out_names = names;
    *out_count = n;
    return sitq__ok(err);
}

void sitq_queue_names_free(char **names, size_t count) {
    if (!names) return;
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
}

sitq_code sitq_task_queue(sitq_backend *backend, sitq_task_id id, char **out_queue,
                          sitq_error *err) {
    if (!out_queue) return sitq__fail(err, SITQ_EINVAL, "out_queue must not be NULL");
    *out_queue = NULL;
    if (!backend) return sitq__fail(err, SITQ_EINVAL, "backend must not be NULL");
    if (id < 1)
        return sitq__fail(err, SITQ_EINVAL, "task id must be positive, got %lld", (long long)id);
    return backend->ops->task_queue(backend, id, out_queue, err);
}

sitq_code sitq_task_dependents(sitq_backend *backend, sitq_task_id id, size_t limit,
                               sitq_task_id **out_ids, size_t *out_count, sitq_error *err) {
    if (!out_ids || !out_count)
        return sitq__fail(err, SITQ_EINVAL, "out_ids and out_count must not be NULL");
    *out_ids = NULL;
    *out_count = 0;
    if (!backend) return sitq__fail(err, SITQ_EINVAL, "backend must not be NULL");
    if (id < 1)
        return sitq__fail(err, SITQ_EINVAL, "task id must be positive, got %lld", (long long)id);
    if (limit < 1 || limit > 1000000)
        return sitq__fail(err, SITQ_EINVAL, "limit must be 1..1000000, got %zu", limit);
    return backend->ops->dependents(backend, id, limit, out_ids, out_count, err);
}

/* The checks of an id array shared by get_tasks and tasks_dependents. */
static sitq_code check_ids(const sitq_task_id *ids, size_t n, sitq_error *err) {
    if (n < 1 || n > SITQ_IDS_MAX)
        return sitq__fail(err, SITQ_EINVAL, "n must be 1..%d ids, got %zu", SITQ_IDS_MAX, n);
    if (!ids) return sitq__fail(err, SITQ_EINVAL, "ids must not be NULL");
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 1)
            return sitq__fail(err, SITQ_EINVAL, "task id must be positive, got %lld",
                              (long long)ids[i]);
    return SITQ_OK;
}

sitq_code sitq_get_tasks(sitq_backend *backend, const sitq_task_id *ids, size_t n,
                         sitq_result ***out_items, size_t *out_count, sitq_error *err) {
    if (!out_items || !out_count)
        return sitq__fail(err, SITQ_EINVAL, "out_items and out_count must not be NULL");
    *out_items = NULL;
    *out_count = 0;
    if (!backend) return sitq__fail(err, SITQ_EINVAL, "backend must not be NULL");
    sitq_code rc = check_ids(ids, n, err);
    if (rc) return rc;
    return backend->ops->get_many(backend, ids, n, out_items, out_count, err);
}

sitq_code sitq_tasks_dependents(sitq_backend *backend, const sitq_task_id *ids, size_t n,
                                size_t limit, sitq_task_id **out_pairs, size_t *out_count,
                                sitq_error *err) {
    if (!out_pairs || !out_count)
        return sitq__fail(err, SITQ_EINVAL, "out_pairs and out_count must not be NULL");
    *out_pairs = NULL;
    *out_count = 0;
    if (!backend) return sitq__fail(err, SITQ_EINVAL, "backend must not be NULL");
    sitq_code rc = check_ids(ids, n, err);
    if (rc) return rc;
    if (limit < 1 || limit > 1000000)
        return sitq__fail(err, SITQ_EINVAL, "limit must be 1..1000000, got %zu", limit);
    return backend->ops->dependents_many(backend, ids, n, limit, out_pairs, out_count, err);
}

void sitq_list_filter_init(sitq_list_filter *f) {
    if (!f) return;
    memset(f, 0, sizeof *f);
    f->status = SITQ_STATUS_ANY;
    f->limit = 100;
}

/* The checks of a filter shared by list and count (limit and offset only
 * when with_paging). */
static sitq_code check_filter(const sitq_list_filter *f, int with_paging, sitq_error *err) {
    if (f->status != SITQ_STATUS_ANY && (f->status < 0 || f->status >= SITQ_STATUS_COUNT))
        return sitq__fail(err, SITQ_EINVAL, "status %d is not a sitq_status or SITQ_STATUS_ANY",
                          f->status);
    if (f->queue) {
        sitq_code rc = sitq__name_check(f->queue, "queue name", err);
        if (rc) return rc;
    }
    if (f->function) {
        sitq_code rc = sitq__name_check(f->function, "function name", err);
        if (rc) return rc;
    }
    if (f->worker_id) {
        sitq_code rc = sitq__name_check(f->worker_id, "worker id", err);
        if (rc) return rc;
    }
    if (f->since_us < 0 || f->until_us < 0 || f->before_id < 0 || f->after_id < 0)
        return sitq__fail(err, SITQ_EINVAL, "time and id bounds must be >= 0 (0: no bound)");
    if (with_paging && (f->limit < 1 || f->limit > 1000000))
        return sitq__fail(err, SITQ_EINVAL, "limit must be 1..1000000, got %zu", f->limit);
    if (with_paging && f->offset > (size_t)INT64_MAX)
        return sitq__fail(err, SITQ_EINVAL, "offset %zu is too large", f->offset);
    return SITQ_OK;
}

sitq_code sitq_list_tasks(sitq_backend *backend, const sitq_list_filter *f,
                          sitq_result ***out_items, size_t *out_count, sitq_error *err) {
    if (!out_items || !out_count)
        return sitq__fail(err, SITQ_EINVAL, "out_items and out_count must not be NULL");
    *out_items = NULL;
    *out_count = 0;
    if (!backend || !f) return sitq__fail(err, SITQ_EINVAL, "backend and f must not be NULL");
    sitq_code rc = check_filter(f, 1, err);
    if (rc) return rc;
    return backend->ops->list(backend, f, out_items, out_count, err);
}

sitq_code sitq_count_tasks(sitq_backend *backend, const sitq_list_filter *f, int64_t cap,
                           int64_t *out_count, sitq_error *err) {
    if (!out_count) return sitq__fail(err, SITQ_EINVAL, "out_count must not be NULL");
    *out_count = 0;
    if (!backend || !f) return sitq__fail(err, SITQ_EINVAL, "backend and f must not be NULL");
    if (cap < 1) return sitq__fail(err, SITQ_EINVAL, "cap must be >= 1, got %lld", (long long)cap);
    sitq_code rc = check_filter(f, 0, err);
    if (rc) return rc;
    return backend->ops->count(backend, f, cap, out_count, err);
}
