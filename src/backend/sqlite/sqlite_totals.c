/* sqlite_totals.c - the monotonic counters of a queue (sitq_totals), kept
 * in the queue's row of sitq_counts beside the succeeded count that purge
 * decreases. Writers add to them in the transactions that write the
 * outcomes, once per queue and commit. Enqueued tasks are not counted when
 * inserted: a counter write in every enqueue commit dirtied one more page
 * per commit and cost a fifth of the single-task enqueue rate. They are the
 * tasks stored plus those purged (total_purged, which purge and retention
 * add to as they delete), read in one statement (ST_TOTALS). */
#include "sq.h"

sitq_code sq_count_totals(sq_conn *c, const char *queue, const sitq__tally *t, sitq_error *err) {
    if (!sitq__tally_any(t)) return SITQ_OK;
    sqlite3_stmt *st = sq_stmt(c, ST_COUNT_TOTALS, err);
    if (!st) return SITQ_ESTORAGE;
    sq_bind_text(st, 1, queue);
    for (int k = 0; k < SITQ__TOTAL_KINDS; k++) sqlite3_bind_int64(st, 2 + k, t->n[k]);
    return sq_exec(c, st, err, "counting outcomes");
}

/* Statement sid's one row for queue into cols[0..n) (left as they are when
 * the queue has no row): the shared reading of sq_counters and sq_totals. */
static sitq_code read_row(sq_backend *b, sq_stmt_id sid, const char *queue, int64_t *const *cols,
                          int n, sitq_error *err) {
    sq_conn *c = sq_read_acquire(b);
    sitq_code code = SITQ_OK;
    sqlite3_stmt *st = sq_stmt(c, sid, err);
    if (!st) {
        code = SITQ_ESTORAGE;
    } else {
        sq_bind_text(st, 1, queue);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            for (int k = 0; k < n; k++) *cols[k] = sqlite3_column_int64(st, k);
        else if (rc != SQLITE_DONE) code = sq_fail(c, err, "reading the queue's counters");
        sqlite3_reset(st);
    }
    sq_read_release(b, c);
    return code ? code : sitq__ok(err);
}

sitq_code sq_counters(sitq_backend *base, const char *queue, sitq_totals *out, sitq_error *err) {
    int64_t *const cols[] = {&out->succeeded, &out->failed, &out->retried, &out->lost,
                             &out->cancelled};
    return read_row((sq_backend *)base, ST_COUNTERS, queue, cols, 5, err);
}

sitq_code sq_totals(sitq_backend *base, const char *queue, sitq_totals *out, sitq_error *err) {
    int64_t *const cols[] = {&out->enqueued, &out->succeeded, &out->failed,
                             &out->retried,  &out->lost,      &out->cancelled};
    return read_row((sq_backend *)base, ST_TOTALS, queue, cols, 6, err);
}
