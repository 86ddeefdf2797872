/* pg_totals.c - the monotonic counters of a queue (sitq_totals), kept in the
 * queue's rows of counts beside the succeeded count that purge decreases.
 * Writers add to one of PG_COUNT_SHARDS rows per queue, drawn at random, so
 * that the workers of a queue do not all wait for one row's lock; a read
 * sums the shards. Purge and retention touch only the succeeded count and
 * total_purged, so the counters never go down. Enqueued tasks are the tasks
 * stored plus those purged (PG_TOTALS), so that the enqueue path, one
 * statement for most groups, writes nothing more. */
#include "pg.h"

static int64_t shard(void) { return (int64_t)(sitq__rand64() % PG_COUNT_SHARDS); }

sitq_code pg_count_totals(pg_conn *c, const char *queue, const sitq__tally *t, sitq_error *err) {
    if (!sitq__tally_any(t)) return SITQ_OK;
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, queue);
    pg_p_i64(&p, shard());
    for (int k = 0; k < SITQ__TOTAL_KINDS; k++) pg_p_i64(&p, t->n[k]);
    return pg_exec(c, PG_COUNT_TOTALS, &p, err, "counting outcomes");
}

sitq_code pg_counters(sitq_backend *base, const char *queue, sitq_totals *out, sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, queue);
    PGresult *r =
        pg_read_run((pg_backend *)base, PG_COUNTERS, &p, err, "reading the queue's counters");
    if (!r) return pg_code(err);
    if (PQntuples(r) == 1) {
        out->succeeded = pg_i64(r, 0, 0);
        out->failed = pg_i64(r, 0, 1);
        out->retried = pg_i64(r, 0, 2);
        out->lost = pg_i64(r, 0, 3);
        out->cancelled = pg_i64(r, 0, 4);
    }
    PQclear(r);
    return sitq__ok(err);
}

sitq_code pg_totals(sitq_backend *base, const char *queue, sitq_totals *out, sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, queue);
    PGresult *r =
        pg_read_run((pg_backend *)base, PG_TOTALS, &p, err, "reading the queue's counters");
    if (!r) return pg_code(err);
    if (PQntuples(r) == 1) {
        out->enqueued = pg_i64(r, 0, 0);
        out->succeeded = pg_i64(r, 0, 1);
        out->failed = pg_i64(r, 0, 2);
        out->retried = pg_i64(r, 0, 3);
        out->lost = pg_i64(r, 0, 4);
        out->cancelled = pg_i64(r, 0, 5);
    }
    PQclear(r);
    return sitq__ok(err);
}
