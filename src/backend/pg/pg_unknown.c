/* pg_unknown.c - the claim of a commit whose answer was lost.
 *
 * When the connection breaks while a cycle's COMMIT is under way (a server
 * crash or restart, a terminated backend, a network that drops), the
 * transaction may have committed: its claimed tasks are then running under
 * a lease token that no worker knows. Left alone they lapse a lease later,
 * and when the server restarted meanwhile, recovery spares them for one
 * more lease of service (pg_grace.c): two leases during which nobody runs
 * them.
 *
 * So the backend remembers the lost claim's lease token and queues, and the
 * next write transactions of this process put back every task still
 * running under that token (PG_RELEASE_UNKNOWN): unstarted, with its place
 * and its attempts unchanged, as a release. The same cycle's claim then
 * finds them again. The token proves what committed: a task holds it only
 * if the lost commit claimed it and nobody has touched it since; when the
 * commit did not happen, the release changes nothing.
 *
 * A claim is remembered until a transaction that ran its release at least
 * UNKNOWN_KEEP_US after the loss has committed: a commit that was still
 * being written when the connection broke becomes visible moments later,
 * and an earlier release would not see it. If the process stops first, the
 * tasks keep the lost commit's owner key, which is no longer renewed
 * (pg_cycle.c), and lapse as before. */
#include "pg.h"

#include <stdlib.h>
#include <string.h>

/* At most this many lost claims are remembered; beyond it the oldest is
 * left to lapse. */
#define UNKNOWN_MAX 16
/* How long after the loss a release must run before the claim is
 * forgotten, in microseconds. */
#define UNKNOWN_KEEP_US 2000000

typedef struct pg_unknown_claim {
    int64_t token;
    char *queues;         /* text[] literal of the claim's queues */
    int64_t lost_mono_us; /* when the answer was lost */
} pg_unknown_claim;

void pg_unknown_begin(pg_backend *b) {
    b->txn_token = 0;
    b->unknown_released_mono_us = 0;
}

void pg_unknown_claiming(pg_backend *b, int64_t token, const char *const *queues, size_t n) {
    b->txn_token = token;
    b->txn_queues = queues;
    b->txn_n_queues = n;
}

static void drop_entry(pg_backend *b, int i) {
    free(b->unknown[i].queues);
    b->unknown[i] = b->unknown[--b->n_unknown];
}

void pg_unknown_lost(pg_backend *b) {
    int64_t token = b->txn_token;
    b->txn_token = 0;
    if (!token || b->txn_n_queues == 0) return;
    if (!b->unknown && !(b->unknown = calloc(UNKNOWN_MAX, sizeof *b->unknown))) return;
    char *queues = pg_text_array_literal(b->txn_queues, b->txn_n_queues);
    if (!queues) return; /* out of memory: the tasks lapse instead */
    if (b->n_unknown == UNKNOWN_MAX) {
        int oldest = 0;
        for (int i = 1; i < b->n_unknown; i++)
            if (b->unknown[i].lost_mono_us < b->unknown[oldest].lost_mono_us) oldest = i;
        drop_entry(b, oldest);
    }
    b->unknown[b->n_unknown++] = (pg_unknown_claim){token, queues, sitq__mono_us()};
}

sitq_code pg_unknown_release(pg_backend *b, pg_conn *c, sitq_error *err) {
    b->unknown_released_mono_us = 0;
    for (int i = 0; i < b->n_unknown; i++) {
        pg_params p;
        pg_p_init(&p);
        pg_p_i64(&p, b->unknown[i].token);
        pg_p_text(&p, b->unknown[i].queues);
        PGresult *r = pg_run(c, PG_RELEASE_UNKNOWN, &p, err, "releasing tasks of a lost commit");
        if (!r) return pg_code(err);
        int n = PQntuples(r);
        /* Other processes' idle workers learn of them at the commit. */
        sitq_code rc = SITQ_OK;
        for (int row = 0; row < n && !rc; row++) {
            char *queue = pg_text(r, row, 0);
            if (!queue) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory releasing tasks");
            else if (row == 0 || strcmp(queue, PQgetvalue(r, row - 1, 0)) != 0)
                rc = pg_notify_queue(c, queue, 0, 1, err);
            free(queue);
        }
        PQclear(r);
        if (rc) return rc;
    }
    if (b->n_unknown > 0) b->unknown_released_mono_us = sitq__mono_us();
    return SITQ_OK;
}

void pg_unknown_committed(pg_backend *b) {
    int64_t at = b->unknown_released_mono_us;
    b->unknown_released_mono_us = 0;
    if (at == 0) return;
    for (int i = b->n_unknown - 1; i >= 0; i--)
        if (at - b->unknown[i].lost_mono_us >= UNKNOWN_KEEP_US) drop_entry(b, i);
}

void pg_unknown_free(pg_backend *b) {
    for (int i = 0; i < b->n_unknown; i++) free(b->unknown[i].queues);
    free(b->unknown);
    b->unknown = NULL;
    b->n_unknown = 0;
}
