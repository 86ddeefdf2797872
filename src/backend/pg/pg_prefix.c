/* pg_prefix.c - one task with at most a given number of its result's bytes
 * (the get_prefix op): what a page shows of a result without reading all
 * of it. substring() of a TOASTed bytea fetches (and, when compressed,
 * decompresses) only the slices that hold the bytes asked for, and
 * octet_length() reads the size from the TOAST pointer, so that the head of
 * a 100 MiB result costs what a small one does; one statement, one
 * snapshot. */
#include "pg.h"

#include <stdint.h>

/* Column of PG_GET_PREFIX after the task's: the result's full size. */
#define PREFIX_SIZE_COL 20

static sitq_code get_prefix_conn(pg_conn *c, const char *queue, sitq_task_id id, size_t value_max,
                                 sitq_result **out, size_t *value_size, sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, id);
    pg_p_text(&p, queue);
    pg_p_i64(&p, value_max > INT32_MAX ? INT32_MAX : (int64_t)value_max); /* bytea < 1 GB */
    int64_t size = 0;
    sitq_code rc = pg_read_task(c, PG_GET_PREFIX, &p, queue, id, PREFIX_SIZE_COL, &size, out, err);
    if (!rc) *value_size = (size_t)size;
    return rc;
}

sitq_code pg_get_prefix(sitq_backend *base, const char *queue, sitq_task_id id, size_t value_max,
                        sitq_result **out, size_t *value_size, sitq_error *err) {
    pg_backend *b = (pg_backend *)base;
    *out = NULL;
    pg_conn *c = pg_read_acquire(b, err);
    if (!c) return pg_code(err);
    sitq_code rc = get_prefix_conn(c, queue, id, value_max, out, value_size, err);
    pg_read_release(b, c);
    return rc ? rc : sitq__ok(err);
}
