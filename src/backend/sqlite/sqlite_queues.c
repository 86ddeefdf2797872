/* sqlite_queues.c - the store's catalogue of queues: which queues exist,
 * which queue a task id belongs to, and which tasks depend on a task. All
 * read on a reader connection. */
#include "sq.h"
#include "../../core/grow.h"

#include <stdlib.h>

sitq_code sq_queues(sitq_backend *base, char ***names, size_t *count, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    *names = NULL;
    *count = 0;
    sq_conn *c = sq_read_acquire(b);
    sqlite3_stmt *st = sq_stmt(c, ST_QUEUES, err);
    sitq_code code = st ? SITQ_OK : SITQ_ESTORAGE;
    char **arr = NULL;
    size_t n = 0, cap = 0;
    int rc = SQLITE_DONE;
    while (!code && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sitq__reserve((void **)&arr, &cap, n + 1, sizeof *arr) != 0) {
            code = sitq__fail(err, SITQ_ENOMEM, "out of memory listing queues");
            break;
        }
        if (!(arr[n] = sq_col_text(st, 0))) {
            code = sitq__fail(err, SITQ_ENOMEM, "out of memory listing queues");
            break;
        }
        n++;
    }
    if (!code && rc != SQLITE_DONE) code = sq_fail(c, err, "listing queues");
    if (st) sqlite3_reset(st);
    sq_read_release(b, c);
    if (code) {
        for (size_t i = 0; i < n; i++) free(arr[i]);
        free(arr);
        return code;
    }
    *names = arr;
    *count = n;
    return sitq__ok(err);
}

sitq_code sq_task_queue(sitq_backend *base, sitq_task_id id, char **queue, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    *queue = NULL;
    sq_conn *c = sq_read_acquire(b);
    sqlite3_stmt *st = sq_stmt(c, ST_TASK_QUEUE, err);
    sitq_code code = st ? SITQ_OK : SITQ_ESTORAGE;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            if (!(*queue = sq_col_text(st, 0)))
                code =
                    sitq__fail(err, SITQ_ENOMEM, "out of memory reading task %lld", (long long)id);
        } else if (rc == SQLITE_DONE) {
            code = sitq__fail(err, SITQ_ENOTFOUND, "task %lld does not exist", (long long)id);
        } else {
            code = sq_fail(c, err, "reading a task's queue");
        }
        sqlite3_reset(st);
    }
    sq_read_release(b, c);
    return code ? code : sitq__ok(err);
}

sitq_code sq_dependents(sitq_backend *base, sitq_task_id id, size_t limit, sitq_task_id **ids,
                        size_t *count, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    *ids = NULL;
    *count = 0;
    sq_conn *c = sq_read_acquire(b);
    sqlite3_stmt *st = sq_stmt(c, ST_DEPENDENTS, err);
    sitq_code code = st ? SITQ_OK : SITQ_ESTORAGE;
    sitq_task_id *arr = NULL;
    size_t n = 0, cap = 0;
    int rc = SQLITE_DONE;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    }
    while (!code && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sitq__reserve((void **)&arr, &cap, n + 1, sizeof *arr) != 0) {
            code = sitq__fail(err, SITQ_ENOMEM, "out of memory reading dependents");
            break;
        }
        arr[n++] = sqlite3_column_int64(st, 0);
    }
    if (!code && rc != SQLITE_DONE) code = sq_fail(c, err, "reading a task's dependents");
    if (st) sqlite3_reset(st);
    sq_read_release(b, c);
    if (code) {
        free(arr);
        return code;
    }
    *ids = arr;
    *count = n;
    return sitq__ok(err);
}
