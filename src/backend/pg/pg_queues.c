/* pg_queues.c - the store's catalogue of queues: which queues exist, which
 * queue a task id belongs to, and which tasks depend on a task. All read on
 * a reader connection. */
#include "pg.h"

#include <stdlib.h>

sitq_code pg_queues(sitq_backend *base, char ***names, size_t *count, sitq_error *err) {
    *names = NULL;
    *count = 0;
    PGresult *r = pg_read_run((pg_backend *)base, PG_QUEUES, NULL, err, "listing queues");
    if (!r) return pg_code(err);
    size_t n = (size_t)PQntuples(r);
    char **arr = n ? calloc(n, sizeof *arr) : NULL;
    sitq_code rc = n && !arr ? sitq__fail(err, SITQ_ENOMEM, "out of memory listing queues") : 0;
    for (size_t i = 0; !rc && i < n; i++)
        if (!(arr[i] = pg_text(r, (int)i, 0)))
            rc = sitq__fail(err, SITQ_ENOMEM, "out of memory listing queues");
    PQclear(r);
    if (rc) {
        for (size_t i = 0; arr && i < n; i++) free(arr[i]);
        free(arr);
        return rc;
    }
    *names = arr;
    *count = n;
    return sitq__ok(err);
}

sitq_code pg_task_queue(sitq_backend *base, sitq_task_id id, char **queue, sitq_error *err) {
    *queue = NULL;
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, id);
    PGresult *r = pg_read_run((pg_backend *)base, PG_TASK_QUEUE, &p, err, "reading a task's queue");
    if (!r) return pg_code(err);
    sitq_code rc = SITQ_OK;
    if (PQntuples(r) == 0)
        rc = sitq__fail(err, SITQ_ENOTFOUND, "task %lld does not exist", (long long)id);
    else if (!(*queue = pg_text(r, 0, 0)))
        rc = sitq__fail(err, SITQ_ENOMEM, "out of memory reading task %lld", (long long)id);
    PQclear(r);
    return rc ? rc : sitq__ok(err);
}

sitq_code pg_dependents(sitq_backend *base, sitq_task_id id, size_t limit, sitq_task_id **ids,
                        size_t *count, sitq_error *err) {
    *ids = NULL;
    *count = 0;
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, id);
    pg_p_i64(&p, (int64_t)limit);
    PGresult *r =
        pg_read_run((pg_backend *)base, PG_DEPENDENTS, &p, err, "reading a task's dependents");
    if (!r) return pg_code(err);
    size_t n = (size_t)PQntuples(r);
    sitq_task_id *arr = n ? malloc(n * sizeof *arr) : NULL;
    if (n && !arr) {
        PQclear(r);
        return sitq__fail(err, SITQ_ENOMEM, "out of memory reading dependents");
    }
    for (size_t i = 0; i < n; i++) arr[i] = pg_i64(r, (int)i, 0);
    PQclear(r);
    *ids = arr;
    *count = n;
    return sitq__ok(err);
}
