/* totals.c - the monotonic counters of a queue (sitq_totals): the public
 * read, and what a backend adds per commit. The backends count in the
 * transactions that write the outcomes; the mapping from an outcome to its
 * counter is decided here once, so that both count the same things. */
#include "backend/backend.h"
#include "internal.h"
#include "lifecycle.h"

#include <string.h>

sitq_code sitq_queue_counters(sitq_queue *queue, sitq_totals *out, sitq_error *err) {
    if (!queue) return sitq__fail(err, SITQ_EINVAL, "queue must not be NULL");
    if (!out) return sitq__fail(err, SITQ_EINVAL, "out must not be NULL");
    memset(out, 0, sizeof *out);
    out->enqueued = -1; /* not read: it would count the tasks stored */
    sitq_backend *b = sitq_queue_backend(queue);
    return b->ops->counters(b, sitq_queue_name(queue), out, err);
}

sitq_code sitq_queue_totals(sitq_queue *queue, sitq_totals *out, sitq_error *err) {
    if (!queue) return sitq__fail(err, SITQ_EINVAL, "queue must not be NULL");
    if (!out) return sitq__fail(err, SITQ_EINVAL, "out must not be NULL");
    memset(out, 0, sizeof *out);
    sitq_backend *b = sitq_queue_backend(queue);
    return b->ops->totals(b, sitq_queue_name(queue), out, err);
}

sitq__total_kind sitq__total_of_verdict(int state) {
    switch (state) {
    case SITQ__QUEUED: return SITQ__TOTAL_RETRIED;
    case SITQ__FAILED: return SITQ__TOTAL_FAILED;
    case SITQ__CANCELLED: return SITQ__TOTAL_CANCELLED;
    case SITQ__SUCCEEDED: return SITQ__TOTAL_SUCCEEDED;
    default: return SITQ__TOTAL_NONE;
    }
}

int sitq__tally_completions(const sitq__cycle *cy, sitq__tally *t) {
    memset(t, 0, cy->n_queues * sizeof *t);
    int any = 0;
    for (size_t i = 0; i < cy->n_completions; i++) {
        const sitq__completion *k = &cy->completions[i];
        if (!k->applied || k->outcome < 0 || k->outcome >= SITQ__TOTAL_KINDS) continue;
        if (k->queue_index >= cy->n_queues) continue;
        t[k->queue_index].n[k->outcome]++;
        any = 1;
    }
    return any;
}

int sitq__tally_any(const sitq__tally *t) {
    for (int i = 0; i < SITQ__TOTAL_KINDS; i++)
        if (t->n[i]) return 1;
    return 0;
}
