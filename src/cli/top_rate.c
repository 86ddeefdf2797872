/*
 * top_rate.c - throughput from successive samples of the workers'
 * counters (see top_rate.h for why those counters). Each sample's growth
 * goes into a ring of intervals; the throughput sums the intervals that
 * end within the window.
 */
#include "top_rate.h"

#include <stdlib.h>
#include <string.h>

int top_worker_serves(const sitq_worker_info *w, const char *queue) {
    if (queue == NULL) return 1;
    for (size_t i = 0; i < w->n_queues; i++)
        if (strcmp(w->queues[i], queue) == 0) return 1;
    return 0;
}

void top_rate_init(top_rate *r) { memset(r, 0, sizeof *r); }

static void free_workers(top_rate_worker *ws, size_t n) {
    for (size_t i = 0; i < n; i++) free(ws[i].id);
    free(ws);
}

void top_rate_free(top_rate *r) {
    free_workers(r->prev, r->n_prev);
    top_rate_init(r);
}

static const top_rate_worker *find_prev(const top_rate *r, const char *id) {
    for (size_t i = 0; i < r->n_prev; i++)
        if (strcmp(r->prev[i].id, id) == 0) return &r->prev[i];
    return NULL;
}

static int64_t grown(int64_t now, int64_t before) { return now > before ? now - before : 0; }

/* What worker w finished since the previous sample, added to *s and *f. */
static void add_growth(const top_rate *r, const sitq_worker_info *w, int64_t *s, int64_t *f) {
    const top_rate_worker *p = find_prev(r, w->id);
    if (p != NULL && p->started_at_us == w->started_at_us) {
        *s += grown(w->succeeded, p->succeeded);
        *f += grown(w->failed, p->failed);
    } else {
        /* New since the previous sample, or restarted under the same id:
         * everything it counts was done since. */
        *s += w->succeeded > 0 ? w->succeeded : 0;
        *f += w->failed > 0 ? w->failed : 0;
    }
}

int top_rate_add(top_rate *r, const sitq_worker_info *ws, size_t n, const char *queue,
                 sitq_time_us now_us) {
    if (r->prev_at_us > 0 && now_us > r->prev_at_us) {
        top_rate_interval iv = {now_us, (double)(now_us - r->prev_at_us) / 1e6, 0, 0};
        for (size_t i = 0; i < n; i++)
            if (top_worker_serves(&ws[i], queue)) add_growth(r, &ws[i], &iv.succeeded, &iv.failed);
        r->ring[r->head] = iv;
        r->head = (r->head + 1) % TOP_RATE_RING;
        if (r->n < TOP_RATE_RING) r->n++;
    }
    top_rate_worker *copy = n > 0 ? calloc(n, sizeof *copy) : NULL;
    int bad = n > 0 && copy == NULL;
    for (size_t i = 0; !bad && i < n; i++) {
        copy[i].id = strdup(ws[i].id != NULL ? ws[i].id : "");
        copy[i].started_at_us = ws[i].started_at_us;
        copy[i].succeeded = ws[i].succeeded;
        copy[i].failed = ws[i].failed;
        bad = copy[i].id == NULL;
    }
    free_workers(r->prev, r->n_prev);
    r->prev = NULL;
    r->n_prev = 0;
    if (bad) {
        free_workers(copy, n);
        r->prev_at_us = 0;
        return -1;
    }
    r->prev = copy;
    r->n_prev = n;
    r->prev_at_us = now_us;
    return 0;
}

top_rate_value top_rate_get(const top_rate *r, sitq_time_us now_us) {
    top_rate_value v = {0, 0.0, 0.0, 0.0};
    sitq_time_us from = now_us - (sitq_time_us)(TOP_RATE_WINDOW_S * 1e6);
    int64_t s = 0, f = 0;
    for (size_t k = 0; k < r->n; k++) {
        const top_rate_interval *iv = &r->ring[(r->head + TOP_RATE_RING - 1 - k) % TOP_RATE_RING];
        if (iv->end_us <= from) break;
        v.known = 1;
        v.span_s += iv->span_s;
        s += iv->succeeded;
        f += iv->failed;
    }
    if (v.known && v.span_s > 0) {
        v.succeeded_s = (double)s / v.span_s;
        v.failed_s = (double)f / v.span_s;
    }
    return v;
}
