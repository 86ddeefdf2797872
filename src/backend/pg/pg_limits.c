/* pg_limits.c - the stored pause and limits of queues (the schema's
 * `limits` table): the table, added to a schema that lacks it, and the
 * operator's writes and reads. One row per queue (function '') and per
 * limited function of a queue; a row with neither pause nor limit is
 * deleted, so that a queue without limits has no row and its claims skip
 * all of this. */
#include "pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sitq_code create_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    (void)arg;
    char lock[96];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)", (long long)b->schema_key);
    sitq_code rc = pg_command(c, lock, err, "locking the schema to add the limits table");
    char *ddl = rc ? NULL : pg_schema_text(b, pg_limits_sql);
    if (!rc && !ddl) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory");
    if (!rc) rc = pg_command(c, ddl, err, "adding the limits table");
    free(ddl);
    return rc;
}

sitq_code pg_limits_schema(pg_backend *b, sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, b->schema);
    PGresult *r = pg_read_run(b, PG_LIMITS_EXISTS, &p, err, "looking for the limits table");
    if (!r) return pg_code(err);
    int found = pg_i64(r, 0, 0) > 0;
    PQclear(r);
    /* Without the right to write the schema, reads see no limits. */
    if (found || !b->opts.create_schema) return SITQ_OK;
    return pg_write_txn(b, create_body, NULL, err);
}

typedef struct write_arg {
    const char *queue;
    const sitq__limit_write *w;
} write_arg;

/* Clear the limit of w->function; SITQ_ENOTFOUND when it had none. */
static sitq_code clear_limit(pg_conn *c, const char *queue, const sitq__limit_write *w,
                             sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, queue);
    pg_p_text(&p, w->function ? w->function : "");
    PGresult *r = pg_run(c, PG_LIMIT_CLEAR, &p, err, "removing a limit");
    if (!r) return pg_code(err);
    int64_t n = pg_changes(r);
    PQclear(r);
    if (n == 0)
        return sitq__fail(err, SITQ_ENOTFOUND, "%s %.200s has no limit to remove",
                          w->function ? "function" : "queue", w->function ? w->function : queue);
    return SITQ_OK;
}

static sitq_code store_limit(pg_conn *c, const char *queue, const sitq__limit_write *w,
                             sitq_error *err) {
    if (w->remove) return clear_limit(c, queue, w, err);
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, queue);
    if (w->set_paused) {
        pg_p_i64(&p, w->paused != 0);
    } else {
        pg_p_text(&p, w->function ? w->function : "");
        pg_p_i64(&p, w->concurrency);
        pg_p_i64(&p, w->rate_count);
        pg_p_i64(&p, w->rate_interval_us);
    }
    return pg_exec(c, w->set_paused ? PG_LIMIT_PAUSE : PG_LIMIT_SET, &p, err, "storing a limit");
}

static sitq_code write_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    (void)b;
    const write_arg *a = arg;
    sitq_code rc = store_limit(c, a->queue, a->w, err);
    if (rc) return rc;
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, a->queue);
    rc = pg_exec(c, PG_LIMIT_PRUNE, &p, err, "removing a limit");
    /* A resume or a raised limit makes tasks claimable: wake the workers. */
    if (!rc) rc = pg_notify_queue(c, a->queue, 0, 1, err);
    return rc;
}

sitq_code pg_limit_write(sitq_backend *base, const char *queue, const sitq__limit_write *w,
                         sitq_error *err) {
    write_arg a = {queue, w};
    sitq_code rc = pg_write_txn((pg_backend *)base, write_body, &a, err);
    if (!rc) sitq__backend_notify(base, 0, 1);
    return rc ? rc : sitq__ok(err);
}

sitq_code pg_limit_list(sitq_backend *base, const char *queue, sitq_limit **out, size_t *count,
                        sitq_error *err) {
    pg_backend *b = (pg_backend *)base;
    *out = NULL;
    *count = 0;
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, queue);
    PGresult *r = pg_read_run(b, PG_LIMITS_READ, &p, err, "listing limits");
    if (!r) {
        /* A schema opened without the right to add the table: no limits. */
        return strstr(err ? err->message : "", "does not exist") ? sitq__ok(err) : pg_code(err);
    }
    int n = PQntuples(r);
    sitq_limit *arr = n > 0 ? calloc((size_t)n, sizeof *arr) : NULL;
    sitq_code rc = n > 0 && !arr ? sitq__fail(err, SITQ_ENOMEM, "out of memory") : SITQ_OK;
    for (int i = 0; i < n && !rc; i++) {
        char *f = pg_text(r, i, 0);
        if (!f) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory listing limits");
        else if (*f) arr[i].function = f;
        else free(f);
        arr[i].paused = pg_i64(r, i, 1) != 0;
        arr[i].concurrency = pg_i64(r, i, 2);
        arr[i].rate_count = pg_i64(r, i, 3);
        arr[i].rate_interval_us = pg_i64(r, i, 4);
    }
    PQclear(r);
    if (rc) {
        sitq_limits_free(arr, (size_t)n);
        return rc;
    }
    *out = arr;
    *count = (size_t)n;
    return sitq__ok(err);
}
