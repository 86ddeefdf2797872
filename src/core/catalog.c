/* catalog.c - the public reads about the store's queues rather than one
 * queue: which queues exist, and which queue a task id belongs to. Argument
 * checks here, the reads in the backend (ops->queues, ops->task_queue). */
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
