/* limit_claim.c - a claim of one queue under its limits. The backend calls
 * this only when the queue has limit rows (the plain claim skips queues that
 * have any), inside its claim transaction with the rows locked, so that the
 * counts it reads and the starts it takes are one atomic step for every
 * worker of every host.
 *
 * The queue's own row caps the whole claim (pause: nothing; concurrency:
 * its room; rate: the starts due). Each limited function the worker
 * handles is then claimed on its own, up to its own cap and what is left,
 * and the rest of the claim excludes the limited functions. So within a
 * claim, limited functions go before the others whatever their
 * priorities; each run stays in claim order.
 *
 * Rates are a paced schedule rather than a token bucket: a bucket of N
 * tokens lets 2N starts into one interval (a full bucket, then its refill),
 * while "at most N per interval" is what users ask for. A row keeps the
 * earliest time of its next start; each start moves it by interval/N. A
 * claim that falls behind (an idle queue) may catch up by count/100 starts
 * at most, so that fast rates need not one claim per start. */
#include "core/limit_claim.h"
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

int64_t sitq__rate_grant(const sitq__limit_row *r, sitq_time_us now, int64_t want,
                         sitq_time_us *next_us, sitq_time_us *due_us) {
    int64_t step = r->rate_interval_us / r->rate_count;
    if (step < 1) step = 1;
    int64_t slack = (r->rate_count / 100) * step;
    sitq_time_us start = r->next_start_us > now - slack ? r->next_start_us : now - slack;
    if (start > now) {
        *due_us = start;
        return 0;
    }
    int64_t k = 1 + (now - start) / step;
    if (k > want) k = want;
    *next_us = start + k * step;
    return k;
}

int sitq__cycle_handles(const sitq__cycle *cy, const char *function) {
    for (size_t i = 0; i < cy->n_functions; i++)
        if (strcmp(cy->functions[i], function) == 0) return 1;
    for (size_t i = 0; i < cy->n_prefixes; i++)
        if (strncmp(cy->prefixes[i], function, strlen(cy->prefixes[i])) == 0) return 1;
    return 0;
}

static void wake_at(sitq_time_us *wake, sitq_time_us t) {
    if (t > 0 && (*wake <= 0 || t < *wake)) *wake = t;
}

/* The shared state of one limited claim. */
typedef struct lim_claim {
    const sitq__limit_io *io;
    void *arg;
    sitq__cycle *cy;
    size_t qi;
    sitq_time_us now;
    sitq_time_us *wake;
} lim_claim;

/* What held a row's cap under what the claim wanted. */
#define CUT_NONE        0
#define CUT_CONCURRENCY 1
#define CUT_RATE        2

/* *cap = how many starts row allows now, at most want; *cut = what held it
 * under want (CUT_*). */
static sitq_code row_cap(const lim_claim *l, const sitq__limit_row *row, int64_t want, int64_t *cap,
                         int *cut, sitq_error *err) {
    int64_t c = want;
    *cut = CUT_NONE;
    if (row->concurrency > 0) {
        int64_t running = 0;
        sitq_code rc = l->io->running(l->arg, l->cy->queues[l->qi], row->function, &running, err);
        if (rc) return rc;
        int64_t room = row->concurrency - running;
        if (room <= 0) wake_at(l->wake, l->now + SITQ__LIMIT_RECHECK_US);
        if (room < c) *cut = CUT_CONCURRENCY;
        c = room <= 0 ? 0 : (room < c ? room : c);
    }
    if (c > 0 && row->rate_count > 0) {
        sitq_time_us next = 0, due = 0;
        int64_t granted = sitq__rate_grant(row, l->now, c, &next, &due);
        if (granted == 0) wake_at(l->wake, due);
        if (granted < c) *cut = CUT_RATE;
        c = granted;
    }
    *cap = c;
    return SITQ_OK;
}

/* A claim that took all a row's cap allowed, when the row held it under
 * what the worker wanted: more tasks may wait for that limit alone, and
 * nothing else would make the worker look again soon (its claim was not
 * full, so it does not claim at once; no task became ready). A rate: look
 * again at its next start. A concurrency: when a slot frees, which the
 * worker learns of by its own successes (limit_held), else
 * SITQ__LIMIT_RECHECK_US later. */
static void cut_short(const lim_claim *l, const sitq__limit_row *row, int cut, int64_t cap,
                      int64_t got) {
    if (cut == CUT_NONE || got < cap) return;
    if (cut == CUT_CONCURRENCY) {
        wake_at(l->wake, l->now + SITQ__LIMIT_RECHECK_US);
        return;
    }
    sitq_time_us next = 0, due = 0;
    sitq__rate_grant(row, l->now, got, &next, &due);
    wake_at(l->wake, got > 0 ? next : due);
}

/* After `got` starts of a rated row: its next start. */
static sitq_code rate_taken(const lim_claim *l, const sitq__limit_row *row, int64_t got,
                            sitq_error *err) {
    if (got <= 0 || row->rate_count <= 0) return SITQ_OK;
    sitq_time_us next = 0, due = 0;
    sitq__rate_grant(row, l->now, got, &next, &due);
    return l->io->rate_write(l->arg, l->cy->queues[l->qi], row->function, next, err);
}

/* Claim each limited function the worker handles within its cap; *left is
 * what the claim may still take; excluded[] receives their names. */
static sitq_code claim_limited_functions(const lim_claim *l, const sitq__limit_row *rows, size_t n,
                                         int64_t *left, const char **excluded, size_t *n_excluded,
                                         sitq_error *err) {
    for (size_t i = 0; i < n; i++) {
        const sitq__limit_row *row = &rows[i];
        if (!row->function || !sitq__cycle_handles(l->cy, row->function)) continue;
        excluded[(*n_excluded)++] = row->function;
        int64_t cap = 0;
        int cut = CUT_NONE;
        sitq_code rc = *left > 0 ? row_cap(l, row, *left, &cap, &cut, err) : SITQ_OK;
        if (rc) return rc;
        if (cap <= 0) continue;
        size_t before = l->cy->n_claimed;
        rc = l->io->claim(l->arg, l->cy, l->qi, (size_t)cap, row->function, NULL, 0, err);
        int64_t got = (int64_t)(l->cy->n_claimed - before);
        *left -= got;
        if (!rc) rc = rate_taken(l, row, got, err);
        if (rc) return rc;
        cut_short(l, row, cut, cap, got);
    }
    return SITQ_OK;
}

sitq_code sitq__limited_claim(const sitq__limit_io *io, void *arg, sitq__cycle *cy, size_t qi,
                              size_t limit, const sitq__limit_row *rows, size_t n, sitq_time_us now,
                              sitq_time_us *wake_us, sitq_error *err) {
    lim_claim l = {io, arg, cy, qi, now, wake_us};
    const sitq__limit_row *own = NULL;
    for (size_t i = 0; i < n; i++)
        if (!rows[i].function) own = &rows[i];
    if (own && own->paused) return SITQ_OK;
    int64_t left = (int64_t)limit;
    int own_cut = CUT_NONE;
    sitq_code rc = own ? row_cap(&l, own, left, &left, &own_cut, err) : SITQ_OK;
    if (rc || left <= 0) return rc;
    int64_t own_cap = left;
    const char **excluded = calloc(n ? n : 1, sizeof *excluded);
    if (!excluded) return sitq__fail(err, SITQ_ENOMEM, "out of memory claiming under limits");
    size_t before = cy->n_claimed, n_excluded = 0;
    rc = claim_limited_functions(&l, rows, n, &left, excluded, &n_excluded, err);
    if (!rc && left > 0) rc = io->claim(arg, cy, qi, (size_t)left, NULL, excluded, n_excluded, err);
    free(excluded);
    int64_t got = (int64_t)(cy->n_claimed - before);
    if (!rc && own) rc = rate_taken(&l, own, got, err);
    if (!rc && own) cut_short(&l, own, own_cut, own_cap, got);
    return rc;
}
