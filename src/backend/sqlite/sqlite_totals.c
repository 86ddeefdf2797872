/* sqlite_totals.c - the monotonic counters of a queue (sitq_totals), kept
 * in the queue's row of sitq_counts beside the succeeded count that purge
 * decreases. Writers add to them in the transactions that write the
 * outcomes, once per queue and commit; purge and retention touch only the
 * succeeded column, so the counters never go down. */
#include "sq.h"

sitq_code sq_count_totals(sq_conn *c, const char *queue, const sitq__tally *t, sitq_error *err) {
    if (!sitq__tally_any(t)) return SITQ_OK;
    sqlite3_stmt *st = sq_stmt(c, ST_COUNT_TOTALS, err);
    if (!st) return SITQ_ESTORAGE;
    sq_bind_text(st, 1, queue);
    for (int k = 0; k < SITQ__TOTAL_KINDS; k++) sqlite3_bind_int64(st, 2 + k, t->n[k]);
    return sq_exec(c, st, err, "counting outcomes");
}

sitq_code sq_count_enqueued(sq_conn *c, const char *queue, int64_t n, sitq_error *err) {
    if (n <= 0) return SITQ_OK;
    sqlite3_stmt *st = sq_stmt(c, ST_COUNT_ENQUEUED, err);
    if (!st) return SITQ_ESTORAGE;
    sq_bind_text(st, 1, queue);
    sqlite3_bind_int64(st, 2, n);
    return sq_exec(c, st, err, "counting enqueued tasks");
}

sitq_code sq_totals(sitq_backend *base, const char *queue, sitq_totals *out, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sq_conn *c = sq_read_acquire(b);
    sitq_code code = SITQ_OK;
    sqlite3_stmt *st = sq_stmt(c, ST_TOTALS, err);
    if (!st) {
        code = SITQ_ESTORAGE;
    } else {
        sq_bind_text(st, 1, queue);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            out->enqueued = sqlite3_column_int64(st, 0);
            out->succeeded = sqlite3_column_int64(st, 1);
            out->failed = sqlite3_column_int64(st, 2);
            out->retried = sqlite3_column_int64(st, 3);
            out->lost = sqlite3_column_int64(st, 4);
            out->cancelled = sqlite3_column_int64(st, 5);
        } else if (rc != SQLITE_DONE) {
            code = sq_fail(c, err, "reading the queue's counters");
        }
        sqlite3_reset(st);
    }
    sq_read_release(b, c);
    return code ? code : sitq__ok(err);
}
