/*
 * dash_rate.c - the throughput history of the dashboard's queues: a
 * sampler thread reads the counters of every queue the queues page shows
 * (sitq_queue_counters, one row whatever the backlog, where
 * sitq_queue_totals would count the tasks stored for enqueued: at most
 * DASH_QUEUES_MAX, the first names of sitq_queue_names) every interval into a ring per queue, the last
 * DASH_RATE_POINTS samples. Rates are differences of those counters, which
 * only grow: a purge or retention between two samples changes nothing, and
 * work done by any process (workers elsewhere included) is seen. The
 * history is this process's memory, so it starts with the dashboard. A
 * queue that appears after the first round did not exist when the round
 * before listed every queue, so its counters were 0 then: its ring starts
 * with that zero, and the work done before its first reading is counted.
 *
 * Pages copy a queue's ring under the lock (dash_rate_get); the sampler
 * reads the store outside it, so a slow store never holds a page.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dash.h"

typedef struct rate_queue {
    char *name;
    dash_sample ring[DASH_RATE_POINTS];
    size_t head, n; /* next slot to write, samples held */
    int moved;      /* taken into the next round's array (store_round) */
} rate_queue;

struct dash_rate {
    sitq_backend *backend;
    double interval_s;
    sitq_time_us started_us;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* stop */
    int stop;
    rate_queue *queues; /* sorted by name (bytewise, as sitq_queue_names) */
    size_t n_queues;
    sitq_time_us listed_us; /* when the last round listed the queues; 0: no round yet */
    int listed_all;         /* that round listed every queue (no DASH_QUEUES_MAX cut) */
};

static int cmp_name(const void *key, const void *elem) {
    return strcmp((const char *)key, ((const rate_queue *)elem)->name);
}

static rate_queue *find(const dash_rate *r, const char *name) {
    return r->n_queues ? bsearch(name, r->queues, r->n_queues, sizeof *r->queues, cmp_name) : NULL;
}

/* One sample of the counters of each name, read outside the lock. */
typedef struct reading {
    int ok;
    sitq_totals t;
} reading;

static void read_all(const dash_rate *r, char **names, size_t n, reading *out) {
    for (size_t i = 0; i < n; i++) {
        sitq_queue *q = NULL;
        out[i].ok = sitq_queue_open(r->backend, names[i], &q, NULL) == SITQ_OK &&
                    sitq_queue_counters(q, &out[i].t, NULL) == SITQ_OK;
        sitq_queue_close(q);
    }
}

/* Under the lock: the queues become names (sorted), each keeping its ring;
 * a queue gone from the store is dropped; the readings are appended. A
 * queue that cannot be had in memory is left out of this round. */
static void push(rate_queue *q, dash_sample smp) {
    q->ring[q->head] = smp;
    q->head = (q->head + 1) % DASH_RATE_POINTS;
    if (q->n < DASH_RATE_POINTS) q->n++;
}

static void store_round(dash_rate *r, char **names, size_t n, const reading *rd, sitq_time_us now) {
    rate_queue *next = calloc(n ? n : 1, sizeof *next);
    if (next == NULL) return;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        rate_queue *old = find(r, names[i]);
        if (old) {
            next[m] = *old;
            next[m].moved = 0;
            old->moved = 1; /* its name now belongs to next; still found by name */
        } else if ((next[m].name = strdup(names[i])) == NULL) {
            continue;
        } else if (r->listed_us > 0 && r->listed_all) {
            push(&next[m], (dash_sample){r->listed_us, 0, 0, 0}); /* created since */
        }
        rate_queue *q = &next[m++];
        if (!rd[i].ok) continue; /* a gap: the next sample spans both intervals */
        push(q, (dash_sample){now, rd[i].t.succeeded, rd[i].t.failed, rd[i].t.retried});
    }
    for (size_t i = 0; i < r->n_queues; i++)
        if (!r->queues[i].moved) free(r->queues[i].name);
    free(r->queues);
    r->queues = next;
    r->n_queues = m;
}

static void sample_once(dash_rate *r) {
    char **names = NULL;
    size_t n = 0;
    sitq_time_us listed =
        sitq_now_us(); /* before the listing: no queue created earlier is missed */
    if (sitq_queue_names(r->backend, &names, &n, NULL) != SITQ_OK) return;
    size_t shown = n < DASH_QUEUES_MAX ? n : DASH_QUEUES_MAX;
    reading *rd = calloc(shown ? shown : 1, sizeof *rd);
    if (rd) {
        read_all(r, names, shown, rd);
        sitq_time_us now = sitq_now_us();
        pthread_mutex_lock(&r->mu);
        store_round(r, names, shown, rd, now);
        r->listed_us = listed;
        r->listed_all = shown == n;
        pthread_mutex_unlock(&r->mu);
    }
    free(rd);
    sitq_queue_names_free(names, n);
}

static void *sampler(void *arg) {
    dash_rate *r = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        pthread_mutex_unlock(&r->mu);
        sample_once(r);
        pthread_mutex_lock(&r->mu);
        /* Every interval on the monotonic clock, not interval after the
         * reads: the samples stay evenly spaced. */
        long long ns = (long long)next.tv_nsec + (long long)(r->interval_s * 1e9);
        next.tv_sec += (time_t)(ns / 1000000000LL);
        next.tv_nsec = (long)(ns % 1000000000LL);
        while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &next) == 0) {}
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

dash_rate *dash_rate_start(sitq_backend *backend, double interval_s) {
    dash_rate *r = calloc(1, sizeof *r);
    if (r == NULL) return NULL;
    r->backend = backend;
    r->interval_s = interval_s;
    r->started_us = sitq_now_us();
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int bad = pthread_mutex_init(&r->mu, NULL) != 0;
    if (!bad && pthread_cond_init(&r->cv, &ca) != 0) {
        pthread_mutex_destroy(&r->mu);
        bad = 1;
    }
    pthread_condattr_destroy(&ca);
    if (!bad && pthread_create(&r->thread, NULL, sampler, r) != 0) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        bad = 1;
    }
    if (bad) {
        free(r);
        return NULL;
    }
    return r;
}

void dash_rate_stop(dash_rate *r) {
    if (r == NULL) return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    for (size_t i = 0; i < r->n_queues; i++) free(r->queues[i].name);
    free(r->queues);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int dash_rate_get(dash_rate *r, const char *queue, dash_series *out) {
    memset(out, 0, sizeof *out);
    if (r == NULL) return 0;
    out->interval_s = r->interval_s;
    out->started_us = r->started_us;
    pthread_mutex_lock(&r->mu);
    const rate_queue *q = find(r, queue);
    if (q) {
        size_t first = (q->head + DASH_RATE_POINTS - q->n) % DASH_RATE_POINTS;
        for (size_t i = 0; i < q->n; i++) out->s[i] = q->ring[(first + i) % DASH_RATE_POINTS];
        out->n = q->n;
    }
    pthread_mutex_unlock(&r->mu);
    return q != NULL;
}
