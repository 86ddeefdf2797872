/* queue.c - the public queue operations: argument checks, then the backend. */
#include "backend/backend.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sitq_queue {
    sitq_backend *backend;
    char *name;
};

sitq_code sitq_queue_open(sitq_backend *backend, const char *name, sitq_queue **out,
                          sitq_error *err) {
    if (!out) return sitq__fail(err, SITQ_EINVAL, "out must not be NULL");
    *out = NULL;
    if (!backend) return sitq__fail(err, SITQ_EINVAL, "backend must not be NULL");
    if (!name) name = SITQ_DEFAULT_QUEUE;
    sitq_code nrc = sitq__name_check(name, "queue name", err);
    if (nrc) return nrc;
    sitq_queue *q = calloc(1, sizeof *q);
    if (!q || !(q->name = strdup(name))) {
        free(q);
        return sitq__fail(err, SITQ_ENOMEM, "out of memory opening queue");
    }
    q->backend = backend;
    *out = q;
    return sitq__ok(err);
}

void sitq_queue_close(sitq_queue *q) {
    if (!q) return;
    free(q->name);
    free(q);
}

const char *sitq_queue_name(const sitq_queue *q) { return q ? q->name : NULL; }
sitq_backend *sitq_queue_backend(const sitq_queue *q) { return q ? q->backend : NULL; }

static sitq_code check_spec(const sitq_task_spec *s, size_t i, size_t n, size_t blob_max,
                            sitq_error *err) {
    char what[48], fn_what[64];
    if (n == 1 && i == 0) what[0] = '\0';
    else snprintf(what, sizeof what, "task %zu: ", i);
    snprintf(fn_what, sizeof fn_what, "%sfunction name", what);
    sitq_code nrc = sitq__name_check(s->function, fn_what, err);
    if (nrc) return nrc;
    if (!s->payload && s->payload_len > 0)
        return sitq__fail(err, SITQ_EINVAL, "%spayload is NULL but payload_len is %zu", what,
                          s->payload_len);
    if (s->payload_len > blob_max)
        return sitq__fail(err, SITQ_EINVAL, "%spayload_len %zu exceeds the %zu-byte limit", what,
                          s->payload_len, blob_max);
    sitq_code rc = sitq__task_options_check(s->options, what, err);
    if (rc) return rc;
    if (s->n_depends_on_index > 0 && !s->depends_on_index)
        return sitq__fail(err, SITQ_EINVAL,
                          "%sdepends_on_index is NULL but n_depends_on_index is %zu", what,
                          s->n_depends_on_index);
    for (size_t k = 0; k < s->n_depends_on_index; k++)
        if (s->depends_on_index[k] >= i)
            return sitq__fail(err, SITQ_EDEPENDENCY,
                              "%sdepends_on_index[%zu] = %zu is not an earlier task of the batch "
                              "(that would be a cycle)",
                              what, k, s->depends_on_index[k]);
    /* A finalizer with nothing to wait for would run at once as a plain task:
     * never what was meant (the CLI refuses --finalizer without --after too). */
    if (s->options && s->options->finalizer && s->options->n_depends_on == 0 &&
        s->n_depends_on_index == 0)
        return sitq__fail(err, SITQ_EINVAL,
                          "%soptions.finalizer is 1 but the task has no dependency: a finalizer "
                          "runs once its dependencies have finished",
                          what);
    return SITQ_OK;
}

sitq_code sitq_enqueue_batch(sitq_queue *q, const sitq_task_spec *specs, size_t n,
                             sitq_task_id *out_ids, sitq_error *err) {
    if (!q) return sitq__fail(err, SITQ_EINVAL, "queue must not be NULL");
    if (n == 0) return sitq__ok(err);
    if (!specs) return sitq__fail(err, SITQ_EINVAL, "specs must not be NULL");
    if (!out_ids) return sitq__fail(err, SITQ_EINVAL, "out_ids must not be NULL");
    for (size_t i = 0; i < n; i++) {
        sitq_code rc = check_spec(&specs[i], i, n, q->backend->blob_max, err);
        if (rc) return rc;
    }
    sitq_code rc = q->backend->ops->enqueue(q->backend, q->name, specs, n, out_ids, err);
    if (rc == SITQ_OK) sitq__backend_notify(q->backend, 1, 1);
    return rc;
}

sitq_code sitq_enqueue(sitq_queue *q, const char *function, const void *payload, size_t payload_len,
                       const sitq_task_options *opts, sitq_task_id *out_id, sitq_error *err) {
    if (!out_id) return sitq__fail(err, SITQ_EINVAL, "out_id must not be NULL");
    sitq_task_spec spec = {function, payload, payload_len, opts, NULL, 0};
    return sitq_enqueue_batch(q, &spec, 1, out_id, err);
}

#define CHECK_Q_ID()                                                                               \
    do {                                                                                           \
        if (!q) return sitq__fail(err, SITQ_EINVAL, "queue must not be NULL");                     \
        if (id <= 0)                                                                               \
            return sitq__fail(err, SITQ_ENOTFOUND, "task %lld does not exist", (long long)id);     \
    } while (0)

sitq_code sitq_get_result(sitq_queue *q, sitq_task_id id, sitq_result **out, sitq_error *err) {
    if (!out) return sitq__fail(err, SITQ_EINVAL, "out must not be NULL");
    *out = NULL;
    CHECK_Q_ID();
    return q->backend->ops->get(q->backend, q->name, id, out, err);
}

sitq_code sitq_get_result_prefix(sitq_queue *q, sitq_task_id id, size_t value_max,
                                 sitq_result **out, size_t *out_value_size, sitq_error *err) {
    if (!out) return sitq__fail(err, SITQ_EINVAL, "out must not be NULL");
    *out = NULL;
    size_t size = 0;
    if (out_value_size) *out_value_size = 0;
    CHECK_Q_ID();
    sitq_code rc = q->backend->ops->get_prefix(q->backend, q->name, id, value_max, out, &size, err);
    if (rc == SITQ_OK && out_value_size) *out_value_size = size;
    return rc;
}

sitq_code sitq_get_payload(sitq_queue *q, sitq_task_id id, void **out_payload, size_t *out_len,
                           sitq_error *err) {
    if (!out_payload || !out_len)
        return sitq__fail(err, SITQ_EINVAL, "out_payload and out_len must not be NULL");
    *out_payload = NULL;
    *out_len = 0;
    CHECK_Q_ID();
    return q->backend->ops->payload(q->backend, q->name, id, out_payload, out_len, err);
}

/* After a read that lost the connection, a wait pauses this long before
 * the next, doubling up to the maximum while the store stays away. */
#define WAIT_LOST_PAUSE_US     50000
#define WAIT_LOST_PAUSE_MAX_US 2000000

static sitq_code wait_until(sitq_queue *q, sitq_task_id id, double timeout_s, int64_t deadline,
                            sitq_result **out, sitq_error *err) {
    sitq_backend *b = q->backend;
    /* Other processes: when the backend cannot notify, poll from 1 ms
     * backing off to 25 ms; when it can, their changes wake the wait, and the
     * poll is only the fallback (from 50 ms backing off to 250 ms). */
    int notified = b->notifies;
    int64_t poll_us = notified ? 50000 : 1000;
    int64_t poll_max = notified ? 250000 : 25000;
    int64_t lost_pause_us = 0;
    for (;;) {
        sitq__gens seen = sitq__backend_gens(b);

        sitq_result *r = NULL;
        (void)sitq__call_take_lost();
        sitq_code rc = b->ops->get(b, q->name, id, &r, err);
        if (rc == SITQ_ESTORAGE && sitq__call_lost()) {
            /* The connection was lost (a server restart, a failover): the
             * next read reconnects. Reads go on until the timeout, plus the
             * grace a read has past it (the first read after a wait for a
             * change comes at the deadline); past that the error is
             * returned, with the note kept for a caller waiting in slices. */
            int64_t now = sitq__mono_us();
            int64_t until = deadline > INT64_MAX - SITQ__WAIT_READ_GRACE_US
                                ? INT64_MAX
                                : deadline + SITQ__WAIT_READ_GRACE_US;
            /* A caller waiting in slices bounds its whole wait. */
            int64_t whole = sitq__call_deadline();
            if (whole > 0 && whole < until) until = whole;
            if (now >= until) return rc;
            lost_pause_us = lost_pause_us ? lost_pause_us * 2 : WAIT_LOST_PAUSE_US;
            if (lost_pause_us > WAIT_LOST_PAUSE_MAX_US) lost_pause_us = WAIT_LOST_PAUSE_MAX_US;
            sitq__sleep_us(until - now < lost_pause_us ? until - now : lost_pause_us);
            continue;
        }
        if (rc) return rc;
        lost_pause_us = 0;
        if (sitq_status_is_terminal(r->status)) {
            *out = r;
            return sitq__ok(err);
        }
        int64_t now = sitq__mono_us();
        if (now >= deadline) {
            *out = r;
            return sitq__fail(err, SITQ_ETIMEDOUT, "task %lld is still %s after %g s",
                              (long long)id, sitq_status_name(r->status), timeout_s);
        }
        sitq_result_free(r);
        int64_t until = now + poll_us;
        if (until > deadline) until = deadline;
        int woke = sitq__backend_wait(b, q->name, SITQ__EV_FINISHED, &seen, until, NULL, NULL);
        if (!woke && poll_us < poll_max) poll_us = poll_us * 3 / 2 + 1;
    }
}

sitq_code sitq_wait(sitq_queue *q, sitq_task_id id, double timeout_s, sitq_result **out,
                    sitq_error *err) {
    if (!out) return sitq__fail(err, SITQ_EINVAL, "out must not be NULL");
    *out = NULL;
    CHECK_Q_ID();
    if (timeout_s != timeout_s) return sitq__fail(err, SITQ_EINVAL, "timeout_s must not be NaN");
    int forever = timeout_s < 0;
    int64_t deadline = forever ? INT64_MAX : sitq__mono_us() + sitq__seconds_to_us(timeout_s);
    /* The reads of the wait are bounded by its timeout too, unless a caller
     * that waits in slices set the bound of its whole wait. */
    int64_t prev = sitq__call_deadline();
    if (prev) return wait_until(q, id, timeout_s, deadline, out, err);
    sitq__set_call_deadline(forever ? 0 : deadline + SITQ__WAIT_READ_GRACE_US);
    sitq_code rc = wait_until(q, id, timeout_s, deadline, out, err);
    sitq__set_call_deadline(0);
    return rc;
}

sitq_code sitq_cancel(sitq_queue *q, sitq_task_id id, sitq_status *out_status, sitq_error *err) {
    CHECK_Q_ID();
    sitq_status st = SITQ_CANCELLED;
    size_t finished = 0;
    sitq_code rc = q->backend->ops->cancel(q->backend, q->name, id, &st, &finished, err);
    if (rc) return rc;
    if (out_status) *out_status = st;
    if (finished) sitq__backend_notify(q->backend, 1, 1); /* finalizers may be released */
    return SITQ_OK;
}

sitq_code sitq_retry(sitq_queue *q, sitq_task_id id, sitq_error *err) {
    CHECK_Q_ID();
    sitq_code rc = q->backend->ops->retry(q->backend, q->name, id, err);
    if (rc == SITQ_OK) sitq__backend_notify(q->backend, 0, 1);
    return rc;
}

sitq_code sitq_get_stats(sitq_queue *q, sitq_stats *out, sitq_error *err) {
    if (!q) return sitq__fail(err, SITQ_EINVAL, "queue must not be NULL");
    if (!out) return sitq__fail(err, SITQ_EINVAL, "out must not be NULL");
    memset(out, 0, sizeof *out);
    return q->backend->ops->stats(q->backend, q->name, out, err);
}

/* The backend reads up to cap + 1 entries per status (some statuses in
 * several rows), so more than cap means "at least cap + 1": the figure is
 * cut to cap and flagged, which a page shows as "cap+". */
sitq_code sitq_get_stats_bounded(sitq_queue *q, int64_t cap, sitq_stats *out, unsigned *at_cap_out,
                                 sitq_error *err) {
    if (at_cap_out) *at_cap_out = 0;
    if (out) memset(out, 0, sizeof *out);
    if (!q || !out || !at_cap_out)
        return sitq__fail(err, SITQ_EINVAL,
                          "sitq_get_stats_bounded: queue, out and at_cap_out are required");
    if (cap < 1 || cap == INT64_MAX)
        return sitq__fail(err, SITQ_EINVAL, "count cap %lld is out of range (1 to %lld)",
                          (long long)cap, (long long)(INT64_MAX - 1));
    sitq_code rc = q->backend->ops->stats_bounded(q->backend, q->name, cap, out, err);
    if (rc) {
        memset(out, 0, sizeof *out); /* no half read */
        return rc;
    }
    for (int s = 0; s < SITQ_STATUS_COUNT; s++) {
        if (s != SITQ_SUCCEEDED && out->count[s] > cap) {
            out->count[s] = cap;
            *at_cap_out |= 1u << s;
        }
        out->total += out->count[s];
    }
    return SITQ_OK;
}

sitq_code sitq_list(sitq_queue *q, int status, size_t limit, size_t offset,
                    sitq_result ***out_items, size_t *out_count, sitq_error *err) {
    if (!out_items || !out_count)
        return sitq__fail(err, SITQ_EINVAL, "out_items and out_count must not be NULL");
    *out_items = NULL;
    *out_count = 0;
    if (!q) return sitq__fail(err, SITQ_EINVAL, "queue must not be NULL");
    if (status != SITQ_STATUS_ANY && (status < 0 || status >= SITQ_STATUS_COUNT))
        return sitq__fail(err, SITQ_EINVAL, "status %d is not a sitq_status or SITQ_STATUS_ANY",
                          status);
    if (limit < 1 || limit > 1000000)
        return sitq__fail(err, SITQ_EINVAL, "limit must be 1..1000000, got %zu", limit);
    if (offset > (size_t)INT64_MAX)
        return sitq__fail(err, SITQ_EINVAL, "offset %zu is too large", offset);
    sitq_list_filter f;
    sitq_list_filter_init(&f);
    f.queue = q->name;
    f.status = status;
    f.limit = limit;
    f.offset = offset;
    return q->backend->ops->list(q->backend, &f, out_items, out_count, err);
}

sitq_code sitq_purge(sitq_queue *q, double older_than_s, int64_t *out_purged, sitq_error *err) {
    if (out_purged) *out_purged = 0;
    if (!q) return sitq__fail(err, SITQ_EINVAL, "queue must not be NULL");
    if (!(older_than_s >= 0))
        return sitq__fail(err, SITQ_EINVAL, "older_than_s must be >= 0 seconds, got %g",
                          older_than_s);
    int64_t n = 0;
    sitq_code rc = q->backend->ops->purge(
        q->backend, q->name, sitq_now_us() - sitq__seconds_to_us(older_than_s), &n, err);
    if (rc == SITQ_OK && out_purged) *out_purged = n;
    return rc;
}
