/* queues.c - a worker of several queues: the queues it holds, the order in
 * which its claims visit them (sitq__claim_rounds does the visiting, in the
 * backend's transaction), and the order in which claimed tasks reach the
 * handler threads.
 *
 * Priority order: claims ask the queues in the user's order, and the ready
 * list is kept sorted by queue (stable), so that a task of a higher queue
 * claimed while lower queues' tasks wait in the prefetch runs before them.
 * Round-robin: each claim starts with the next queue and takes an equal
 * share from each; the claimed tasks are queued alternating between queues,
 * so that handler threads take them in turn even from one large batch. */
#include "worker_internal.h"

#include <stdlib.h>
#include <string.h>

sitq_code sitq__worker_check_queues(sitq_queue *const *queues, size_t n, sitq_error *err) {
    if (!queues) return sitq__fail(err, SITQ_EINVAL, "queues must not be NULL");
    if (n == 0 || n > SITQ_WORKER_QUEUES_MAX)
        return sitq__fail(err, SITQ_EINVAL, "a worker serves 1..%d queues, got %zu",
                          SITQ_WORKER_QUEUES_MAX, n);
    for (size_t i = 0; i < n; i++) {
        if (!queues[i]) return sitq__fail(err, SITQ_EINVAL, "queues[%zu] must not be NULL", i);
        if (sitq_queue_backend(queues[i]) != sitq_queue_backend(queues[0]))
            return sitq__fail(err, SITQ_EINVAL,
                              "queues '%s' and '%s' belong to different backends: a worker "
                              "serves queues of one backend",
                              sitq_queue_name(queues[0]), sitq_queue_name(queues[i]));
        for (size_t j = 0; j < i; j++)
            if (strcmp(sitq_queue_name(queues[i]), sitq_queue_name(queues[j])) == 0)
                return sitq__fail(err, SITQ_EINVAL, "queue '%s' is given twice",
                                  sitq_queue_name(queues[i]));
    }
    return SITQ_OK;
}

int sitq__worker_set_queues(sitq_worker *w, sitq_queue *const *queues, size_t n) {
    w->qnames = calloc(n, sizeof *w->qnames);
    if (!w->qnames) return -1;
    for (size_t i = 0; i < n; i++) w->qnames[i] = sitq_queue_name(queues[i]);
    w->n_queues = n;
    w->queue = queues[0];
    return 0;
}

void sitq__worker_free_queues(sitq_worker *w) {
    free(w->qnames);
    w->qnames = NULL;
    w->n_queues = 0;
}

const char *sitq__ctx_queue(const sitq_task_ctx *ctx) {
    const sitq_worker *w = ctx->w;
    return w->qnames[ctx->t.queue_index < w->n_queues ? ctx->t.queue_index : 0];
}

const char *sitq_ctx_queue(const sitq_task_ctx *ctx) { return ctx ? sitq__ctx_queue(ctx) : NULL; }

void sitq__worker_claim_order(sitq_worker *w, size_t room, sitq__cycle *cy) {
    cy->claim_first = 0;
    cy->claim_share = 0;
    if (w->n_queues < 2 || w->opts.queue_order != SITQ_QUEUE_ORDER_ROUND_ROBIN) return;
    cy->claim_first = w->rr_next;
    cy->claim_share = (room + w->n_queues - 1) / w->n_queues;
}

/* Insert c into the ready list after every task of its queue or a queue
 * before it (priority order; stable within a queue). */
static void insert_by_queue(ctx_list *l, sitq_task_ctx *c) {
    sitq_task_ctx *after = l->tail;
    while (after && after->t.queue_index > c->t.queue_index) after = after->prev;
    if (after == l->tail) {
        sitq__ctx_list_push(l, c);
        return;
    }
    c->prev = after;
    c->next = after ? after->next : l->head;
    c->next->prev = c;
    if (after) after->next = c;
    else l->head = c;
    l->n++;
}

/* Append the claimed contexts to the ready list taking one task of each
 * queue in turn, from queue `first` on, in claim order within each queue;
 * the next claim's turn starts after the queue of the last one. */
static void push_alternating(sitq_worker *w, ctx_list *claimed, size_t first) {
    ctx_list per[SITQ_WORKER_QUEUES_MAX];
    memset(per, 0, sizeof per);
    sitq_task_ctx *c;
    while ((c = sitq__ctx_list_pop(claimed))) {
        size_t qi = c->t.queue_index < w->n_queues ? c->t.queue_index : 0;
        sitq__ctx_list_push(&per[qi], c);
    }
    for (size_t left = 1; left;) {
        left = 0;
        for (size_t k = 0; k < w->n_queues; k++) {
            c = sitq__ctx_list_pop(&per[(first + k) % w->n_queues]);
            if (!c) continue;
            sitq__ctx_list_push(&w->ready, c);
            /* The next claim starts with the queue after the last one served. */
            w->rr_next = ((first + k) % w->n_queues + 1) % w->n_queues;
            left = 1;
        }
    }
}

void sitq__worker_queue_ready(sitq_worker *w, ctx_list *claimed, size_t first) {
    if (w->n_queues > 1 && w->opts.queue_order == SITQ_QUEUE_ORDER_ROUND_ROBIN) {
        push_alternating(w, claimed, first % w->n_queues);
        return;
    }
    sitq_task_ctx *c;
    while ((c = sitq__ctx_list_pop(claimed))) insert_by_queue(&w->ready, c);
}
