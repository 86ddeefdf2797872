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

sitq_code sq_counters(sitq_backend *base, const char *queue, sitq_totals *out, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sq_conn *c = sq_read_acquire(b);
    sitq_code code = SITQ_OK;
    sqlite3_stmt *st = sq_stmt(c, ST_COUNTERS, err);
    if (!st) {
        code = SITQ_ESTORAGE;
    } else {
        sq_bind_text(st, 1, queue);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            out->succeeded = sqlite3_column_int64(st, 0);
            out->failed = sqlite3_column_int64(st, 1);
            out->retried = sqlite3_column_int64(st, 2);
            out->lost = sqlite3_column_int64(st, 3);
            out->cancelled = sqlite3_column_int64(st, 4);
        } else if (rc != SQLITE_DONE) {
            code = sq_fail(c, err, "reading the queue's counters");
        }
        sqlite3_reset(st);
    }
    sq_read_release(b, c);
    return code ? code : sitq__ok(err);
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
