/* pg_limit_claim.c - what the limited claim (core/limit_claim.c) asks of
 * PostgreSQL, inside the cycle's transaction: the queue's limit rows,
 * locked FOR UPDATE so that limited claims of a queue follow one another
 * (under READ COMMITTED each later statement then sees the running tasks
 * the previous claim committed); running counts through the running index;
 * the claim of one function or of the others; the rates' next starts, kept
 * on the server's clock so that hosts with different clocks share them. */
#include "pg.h"
#include "../../core/limit_claim.h"

#include <stdlib.h>
#include <string.h>

static sitq_code running(void *arg, const char *queue, const char *function, int64_t *n,
                         sitq_error *err) {
    const pg_claim_arg *a = arg;
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, queue);
    if (function) pg_p_text(&p, function);
    PGresult *r = pg_run(a->c, function ? PG_LIMIT_RUNNING_FUNCTION : PG_LIMIT_RUNNING_QUEUE, &p,
                         err, "counting running tasks");
    if (!r) return pg_code(err);
    *n = pg_i64(r, 0, 0);
    PQclear(r);
    return SITQ_OK;
}

static sitq_code claim(void *arg, sitq__cycle *cy, size_t qi, size_t limit, const char *function,
                       const char *const *excluded, size_t n_excluded, sitq_error *err) {
    const pg_claim_arg *a = arg;
    char *only = function ? pg_text_array_literal(&function, 1) : NULL;
    char *none = pg_text_array_literal(NULL, 0);
    char *excl = pg_text_array_literal(excluded, n_excluded);
    sitq_code rc = SITQ_OK;
    if ((function && !only) || !none || !excl)
        rc = sitq__fail(err, SITQ_ENOMEM, "out of memory claiming under limits");
    if (!rc) {
        pg_params p;
        pg_p_init(&p);
        pg_p_i64(&p, a->token);
        pg_p_i64(&p, a->db_until);
        pg_p_text(&p, cy->worker_id);
        pg_p_i64(&p, a->now);
        pg_p_text(&p, cy->queues[qi]);
        pg_p_text(&p, function ? only : a->names[0]);
        pg_p_text(&p, function ? none : a->names[1]);
        pg_p_i64(&p, (int64_t)limit);
        pg_p_i64(&p, a->owner);
        pg_p_text(&p, excl);
        PGresult *r = pg_run(a->c, PG_CLAIM_LIMITED, &p, err, "claiming tasks under limits");
        if (!r) rc = pg_code(err);
        else {
            rc = pg_read_claimed(r, cy, a->token, a->db_until, err);
            PQclear(r);
        }
    }
    free(only);
    free(none);
    free(excl);
    return rc;
}

static sitq_code rate_write(void *arg, const char *queue, const char *function,
                            sitq_time_us next_start_us, sitq_error *err) {
    const pg_claim_arg *a = arg;
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, queue);
    pg_p_text(&p, function ? function : "");
    pg_p_i64(&p, next_start_us);
    return pg_exec(a->c, PG_LIMIT_RATE_SET, &p, err, "recording a rate's next start");
}

static const sitq__limit_io pg_limit_io = {running, claim, rate_write};

static void rows_free(sitq__limit_row *rows, size_t n) {
    for (size_t i = 0; i < n; i++) free(rows[i].function);
    free(rows);
}

sitq_code pg_claim_limited(pg_claim_arg *a, sitq__cycle *cy, size_t qi, size_t limit,
                           sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, cy->queues[qi]);
    PGresult *r = pg_run(a->c, PG_LIMITS_LOCK, &p, err, "reading limits");
    if (!r) return pg_code(err);
    int n = PQntuples(r);
    if (n == 0) {
        PQclear(r);
        return SITQ_OK;
    }
    sitq__limit_row *rows = calloc((size_t)n, sizeof *rows);
    sitq_code rc = rows ? SITQ_OK : sitq__fail(err, SITQ_ENOMEM, "out of memory reading limits");
    for (int i = 0; i < n && !rc; i++) {
        char *f = pg_text(r, i, 0);
        if (!f) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory reading limits");
        else if (*f) rows[i].function = f;
        else free(f);
        rows[i].paused = pg_i64(r, i, 1) != 0;
        rows[i].concurrency = pg_i64(r, i, 2);
        rows[i].rate_count = pg_i64(r, i, 3);
        rows[i].rate_interval_us = pg_i64(r, i, 4);
        rows[i].next_start_us = pg_i64(r, i, 5);
    }
    PQclear(r);
    if (!rc)
        rc = sitq__limited_claim(&pg_limit_io, a, cy, qi, limit, rows, (size_t)n, a->db_now,
                                 &a->wake_us, err);
    if (rows) rows_free(rows, (size_t)n);
    return rc;
}
