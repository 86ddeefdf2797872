/* retention.c - retention of finished tasks: the public calls, the checks,
 * and the walk that deletes expired tasks window by window.
 *
 * Policy lives here, mechanism in the backends (ops->expire deletes one
 * window in one short transaction). A walk goes over every task of the
 * store in id order, max_rows at a time, and pauses after each window at
 * least as long as the window took, so that the write lock is free at least
 * half of the time and a claim waits for one window at most. Workers run
 * walks from a thread of their own (worker/retention.c); sitq_purge_expired
 * runs one to the end. */
#include "backend/backend.h"
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

int64_t sitq__keep_us(double s) { return s < 0 ? -1 : sitq__seconds_to_us(s); }

sitq_code sitq__keep_check(double s, int zero_ok, const char *what, sitq_error *err) {
    if (s == SITQ_KEEP_FOREVER || (zero_ok && s == 0) || (s > 0 && s <= SITQ_SECONDS_MAX))
        return SITQ_OK;
    return sitq__fail(err, SITQ_EINVAL,
                      "%s must be %s> 0 and at most %.0f seconds, or SITQ_KEEP_FOREVER (-1), got "
                      "%g",
                      what, zero_ok ? "0 (the queue's), " : "", SITQ_SECONDS_MAX, s);
}

static double keep_s(int64_t us) { return us < 0 ? SITQ_KEEP_FOREVER : (double)us / 1e6; }

sitq_code sitq_queue_set_retention(sitq_queue *queue, const sitq_retention *r, sitq_error *err) {
    if (!queue) return sitq__fail(err, SITQ_EINVAL, "queue must not be NULL");
    sitq_backend *b = sitq_queue_backend(queue);
    if (!r) return b->ops->retention_set(b, sitq_queue_name(queue), NULL, NULL, err);
    sitq_code rc = sitq__keep_check(r->succeeded_s, 0, "retention.succeeded_s", err);
    if (!rc) rc = sitq__keep_check(r->failed_s, 0, "retention.failed_s", err);
    if (rc) return rc;
    int64_t s = sitq__keep_us(r->succeeded_s), f = sitq__keep_us(r->failed_s);
    return b->ops->retention_set(b, sitq_queue_name(queue), &s, &f, err);
}

sitq_code sitq_queue_get_retention(sitq_queue *queue, sitq_retention *out, sitq_error *err) {
    if (!queue || !out) return sitq__fail(err, SITQ_EINVAL, "queue and out must not be NULL");
    sitq_backend *b = sitq_queue_backend(queue);
    int64_t s = 0, f = 0;
    int found = 0;
    sitq_code rc = b->ops->retention_get(b, sitq_queue_name(queue), &s, &f, &found, err);
    if (rc) return rc;
    out->succeeded_s = found ? keep_s(s) : SITQ_RETENTION_SUCCEEDED_DEFAULT_S;
    out->failed_s = found ? keep_s(f) : SITQ_RETENTION_FAILED_DEFAULT_S;
    out->is_default = !found;
    return SITQ_OK;
}

sitq_code sitq_queue_retained(sitq_queue *queue, sitq_retained *out, sitq_error *err) {
    if (!queue || !out) return sitq__fail(err, SITQ_EINVAL, "queue and out must not be NULL");
    memset(out, 0, sizeof *out);
    sitq_stats st;
    sitq_code rc = sitq_get_stats(queue, &st, err);
    if (rc) return rc;
    out->finished = st.count[SITQ_SUCCEEDED] + st.count[SITQ_FAILED] + st.count[SITQ_CANCELLED];
    sitq_backend *b = sitq_queue_backend(queue);
    rc =
        b->ops->retained(b, sitq_queue_name(queue), &out->oldest_id, &out->oldest_finished_us, err);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}

sitq_code sitq__expire_window(sitq_backend *b, sitq_time_us now_us, sitq_task_id *cursor,
                              size_t max_rows, int64_t *purged, sitq_error *err) {
    sitq__expire x;
    memset(&x, 0, sizeof x);
    x.after_id = *cursor;
    x.max_rows = max_rows;
    x.now_us = now_us ? now_us : sitq_now_us();
    x.succeeded_us = sitq__keep_us(SITQ_RETENTION_SUCCEEDED_DEFAULT_S);
    x.failed_us = sitq__keep_us(SITQ_RETENTION_FAILED_DEFAULT_S);
    sitq_code rc = b->ops->expire(b, &x, err);
    if (rc) return rc;
    *cursor = x.last_id;
    *purged += x.purged;
    return SITQ_OK;
}

/* Sleep us microseconds (interrupted sleeps resume). */
static void pause_us(int64_t us) {
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

sitq_code sitq__purge_expired_at(sitq_backend *backend, sitq_time_us now_us, size_t max_rows,
                                 int64_t *out_purged, sitq_error *err) {
    int64_t purged = 0;
    if (out_purged) *out_purged = 0;
    if (!backend) return sitq__fail(err, SITQ_EINVAL, "backend must not be NULL");
    if (max_rows < 1 || max_rows > 100000)
        return sitq__fail(err, SITQ_EINVAL, "max_rows must be 1..100000, got %zu", max_rows);
    sitq_task_id cursor = 0;
    sitq_code rc = SITQ_OK;
    do {
        int64_t t0 = sitq__mono_us();
        rc = sitq__expire_window(backend, now_us, &cursor, max_rows, &purged, err);
        /* A call made to purge goes at the pace of writes throughout. */
        if (!rc && cursor) pause_us(sitq__expire_pause_us(sitq__mono_us() - t0, 1));
    } while (!rc && cursor);
    if (out_purged) *out_purged = purged;
    return rc ? rc : sitq__ok(err);
}

sitq_code sitq_purge_expired(sitq_backend *backend, size_t max_rows, int64_t *out_purged,
                             sitq_error *err) {
    return sitq__purge_expired_at(backend, 0, max_rows, out_purged, err);
}

int64_t sitq__expire_pause_us(int64_t window_us, int wrote) {
    /* After a write: the lock is free at least half of the time, and never
     * less than 1 ms between windows, so that waiting claims get it. After
     * a read only: a walk over kept tasks takes at most a tenth of a core
     * (measured: a pause of 1 ms cost the no-op end-to-end rate 10%). */
    if (wrote) return window_us > 1000 ? window_us : 1000;
    return window_us * 10 > 5000 ? window_us * 10 : 5000;
}
