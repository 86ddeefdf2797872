/* sqlite_prefix.c - one task with at most a given number of its result's
 * bytes (the get_prefix op): what a page shows of a result without reading
 * all of it.
 *
 * A result over SQ_INLINE_MAX lives in sitq_results; substr() of it would
 * load the whole value before cutting it (2.5 s for 100 MiB), so its head
 * is read by incremental blob I/O, which touches only the pages that hold
 * the bytes asked for, and its size by length(), which SQLite answers from
 * the record header. The row and the blob are read in one read
 * transaction, so that both come from the same snapshot. */
#include "sq.h"

#include <stdint.h>
#include <stdlib.h>

/* Columns of ST_GET_PREFIX after the task's: the result's full size, and
 * whether it lives in sitq_results. */
#define PREFIX_SIZE_COL     20
#define PREFIX_EXTERNAL_COL 21

/* r's value: the first max bytes of task id's result in sitq_results. */
static sitq_code result_head(sq_conn *c, sitq_task_id id, size_t max, sitq_result *r,
                             sitq_error *err) {
    sqlite3_blob *blob = NULL;
    if (sqlite3_blob_open(c->db, "main", "sitq_results", "result", id, 0, &blob) != SQLITE_OK) {
        sitq_code code = sq_fail(c, err, "opening a result");
        sqlite3_blob_close(blob);
        return code;
    }
    size_t size = (size_t)sqlite3_blob_bytes(blob), n = size < max ? size : max;
    char *buf = malloc(n + 1); /* +1: NUL past the end, as every value */
    sitq_code code = SITQ_OK;
    if (!buf) code = sitq__fail(err, SITQ_ENOMEM, "out of memory reading a result");
    else if (n > 0 && sqlite3_blob_read(blob, buf, (int)n, 0) != SQLITE_OK)
        code = sq_fail(c, err, "reading a result");
    sqlite3_blob_close(blob);
    if (code) {
        free(buf);
        return code;
    }
    buf[n] = '\0';
    free(r->value);
    r->value = buf;
    r->value_len = n;
    return SITQ_OK;
}

/* The task's row with the inline result's head (ST_GET_PREFIX), then the
 * external result's head and the dependencies. */
static sitq_code get_prefix_conn(sq_conn *c, const char *queue, sitq_task_id id, size_t max,
                                 sitq_result **out, size_t *size, sitq_error *err) {
    sqlite3_stmt *st = sq_stmt(c, ST_GET_PREFIX, err);
    if (!st) return SITQ_ESTORAGE;
    sqlite3_bind_int64(st, 1, id);
    sq_bind_text(st, 2, queue);
    /* substr() reads its length as a 32-bit int; an inline result is small. */
    sqlite3_bind_int64(st, 3, max > INT32_MAX ? INT32_MAX : (sqlite3_int64)max);
    int step = sqlite3_step(st), external = 0;
    sitq_code code = SITQ_OK;
    if (step == SQLITE_ROW) {
        *out = sq_row_to_result(st, sitq_now_us());
        *size = (size_t)sqlite3_column_int64(st, PREFIX_SIZE_COL);
        external = sqlite3_column_int(st, PREFIX_EXTERNAL_COL) != 0;
        if (!*out)
            code = sitq__fail(err, SITQ_ENOMEM, "out of memory reading task %lld", (long long)id);
    } else if (step == SQLITE_DONE) {
        code = sitq__fail(err, SITQ_ENOTFOUND, "task %lld does not exist in queue '%s'",
                          (long long)id, queue);
    } else {
        code = sq_fail(c, err, "reading a task");
    }
    sqlite3_reset(st);
    if (!code && external) code = result_head(c, id, max, *out, err);
    if (!code) code = sq_read_deps(c, *out, err);
    if (code) {
        sitq_result_free(*out);
        *out = NULL;
    }
    return code;
}

sitq_code sq_get_prefix(sitq_backend *base, const char *queue, sitq_task_id id, size_t value_max,
                        sitq_result **out, size_t *value_size, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sq_conn *c = sq_read_acquire(b);
    sqlite3_stmt *begin = sq_stmt(c, ST_BEGIN, err);
    sitq_code rc = begin ? sq_exec(c, begin, err, "starting a read") : SITQ_ESTORAGE;
    if (!rc) {
        rc = get_prefix_conn(c, queue, id, value_max, out, value_size, err);
        /* A read transaction: ending it cannot lose anything, and a failed
         * end is reported only when the read itself succeeded. */
        sqlite3_stmt *end = sq_stmt(c, rc ? ST_ROLLBACK : ST_COMMIT, NULL);
        sitq_code end_rc = end ? sq_exec(c, end, rc ? NULL : err, "ending a read") : SITQ_ESTORAGE;
        if (!rc && end_rc) {
            rc = end_rc;
            sitq_result_free(*out);
            *out = NULL;
        }
    }
    sq_read_release(b, c);
    return rc ? rc : sitq__ok(err);
}
