/* claim_rounds.c - how one claim goes over a worker's queues. Both backends
 * claim through sitq__claim_rounds, so that priority order and round-robin
 * mean the same everywhere; the backend only claims from one queue at a time
 * (one statement each). A single queue is exactly one such statement.
 *
 * Priority (claim_share 0): the queues are asked in order, each for what is
 * left of the batch, so a lower queue gets only what the higher ones could
 * not fill. Round-robin (claim_share k): each queue, starting with the one
 * whose turn it is, takes at most k in a first round; a second round gives
 * what is left to the queues that filled their share (they may have more),
 * so that a short queue does not leave the batch half empty. */
#include "backend/backend.h"
#include "core/internal.h"

#include <stdlib.h>

int sitq__claimed_cmp(const void *a, const void *b) {
    const sitq__claimed *x = a, *y = b;
    if (x->priority != y->priority) return x->priority > y->priority ? -1 : 1;
    if (x->run_at_us != y->run_at_us) return x->run_at_us < y->run_at_us ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Claim from queue qi at most limit; mark and sort the run it returned.
 * *full: the queue filled the limit (it may hold more). */
static sitq_code claim_one(sitq__cycle *cy, sitq__claim_queue_fn fn, void *arg, size_t qi,
                           size_t limit, int *full, sitq_error *err) {
    size_t before = cy->n_claimed;
    sitq_code rc = fn(arg, cy, qi, limit, err);
    size_t got = cy->n_claimed - before;
    for (size_t i = before; i < cy->n_claimed; i++) cy->claimed[i].queue_index = qi;
    /* RETURNING order is unspecified: run in priority, then FIFO, order. */
    if (got > 1) qsort(cy->claimed + before, got, sizeof *cy->claimed, sitq__claimed_cmp);
    *full = got == limit;
    return rc;
}

sitq_code sitq__claim_rounds(sitq__cycle *cy, sitq__claim_queue_fn fn, void *arg, sitq_error *err) {
    size_t n = cy->n_queues;
    if (n == 0 || cy->claim_max == 0) return SITQ_OK;
    size_t first = cy->claim_first % n;
    size_t share = cy->claim_share;
    /* Round 2 asks again only the queues that filled their share. */
    unsigned char more[SITQ_WORKER_QUEUES_MAX] = {0};
    int any_more = 0;
    for (size_t k = 0; k < n && cy->n_claimed < cy->claim_max; k++) {
        size_t qi = (first + k) % n;
        size_t left = cy->claim_max - cy->n_claimed;
        size_t limit = share > 0 && share < left ? share : left;
        int full = 0;
        sitq_code rc = claim_one(cy, fn, arg, qi, limit, &full, err);
        if (rc) return rc;
        if (share > 0 && full && qi < SITQ_WORKER_QUEUES_MAX) {
            more[qi] = 1;
            any_more = 1;
        }
    }
    for (size_t k = 0; any_more && k < n && cy->n_claimed < cy->claim_max; k++) {
        size_t qi = (first + k) % n;
        if (qi >= SITQ_WORKER_QUEUES_MAX || !more[qi]) continue;
        int full = 0;
        sitq_code rc = claim_one(cy, fn, arg, qi, cy->claim_max - cy->n_claimed, &full, err);
        if (rc) return rc;
    }
    return SITQ_OK;
}
