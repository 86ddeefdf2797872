/*
 * dash_counts.c - the counts by status of each queue and the /metrics
 * text, shared by the requests of one second.
 *
 * Why: counting a queue reads one index entry per task that is not
 * succeeded (tens of milliseconds at millions of tasks, more on
 * PostgreSQL), and the queues page, /api/queues and /metrics count every
 * queue on each load. Under many page loads (several operators, a
 * refreshing browser, a load test) that CPU is taken from the workers of
 * the same host. Within DASH_COUNTS_TTL_US of a read, a request reuses it:
 * a page is at most that old, and each action forgets everything so that
 * the page it redirects to shows its effect.
 *
 * Lock invariant: mu guards every slot and the metrics text; no store read
 * happens under it (two requests that find the same entry stale may both
 * read it, and the later one's figures stay).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"

/* Open addressing over the queue names: the pages show at most
 * DASH_QUEUES_MAX queues, so the table is never more than half full. */
#define SLOTS 2048

typedef struct slot {
    char *name; /* NULL: empty */
    sitq_stats st;
    int paused;
    sitq_time_us at_us; /* when read; 0: forgotten */
} slot;

struct dash_counts {
    pthread_mutex_t mu;
    slot slots[SLOTS];
    size_t used;
    char *metrics; /* the last /metrics text, metrics_len bytes */
    size_t metrics_len;
    sitq_time_us metrics_at_us;
};

dash_counts *dash_counts_new(void) {
    dash_counts *k = calloc(1, sizeof *k);
    if (k && pthread_mutex_init(&k->mu, NULL) != 0) {
        free(k);
        return NULL;
    }
    return k;
}

void dash_counts_free(dash_counts *k) {
    if (!k) return;
    for (size_t i = 0; i < SLOTS; i++) free(k->slots[i].name);
    free(k->metrics);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

static size_t hash(const char *s) {
    size_t h = 14695981039346656037u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The slot of name, or the empty slot where it would go; NULL when the
 * table is full. Caller holds mu. */
static slot *find(dash_counts *k, const char *name) {
    for (size_t i = hash(name) % SLOTS, n = 0; n < SLOTS; i = (i + 1) % SLOTS, n++)
        if (!k->slots[i].name || strcmp(k->slots[i].name, name) == 0) return &k->slots[i];
    return NULL;
}

static int fresh(sitq_time_us at_us, sitq_time_us now) {
    return at_us > 0 && now >= at_us && now - at_us < DASH_COUNTS_TTL_US;
}

/* Keep a read of name. */
static void keep(dash_counts *k, const char *name, const sitq_stats *st, int paused) {
    pthread_mutex_lock(&k->mu);
    slot *s = find(k, name);
    if (s && !s->name && k->used < SLOTS / 2) {
        s->name = strdup(name);
        if (s->name) k->used++;
    }
    if (s && s->name) {
        s->st = *st;
        s->paused = paused;
        s->at_us = sitq_now_us();
    }
    pthread_mutex_unlock(&k->mu);
}

sitq_code dash_counts_queue(const dash_ctx *c, const char *name, sitq_stats *st, int *paused,
                            sitq_error *err) {
    dash_counts *k = c->counts;
    if (k) {
        pthread_mutex_lock(&k->mu);
        slot *s = find(k, name);
        int hit = s && s->name && fresh(s->at_us, sitq_now_us());
        if (hit) {
            *st = s->st;
            *paused = s->paused;
        }
        pthread_mutex_unlock(&k->mu);
        if (hit) return SITQ_OK;
    }
    sitq_queue *q = NULL;
    sitq_code code = sitq_queue_open(c->backend, name, &q, err);
    if (code == SITQ_OK) code = sitq_get_stats(q, st, err);
    if (code == SITQ_OK) code = sitq_queue_paused(q, paused, err);
    sitq_queue_close(q);
    if (code == SITQ_OK && k) keep(k, name, st, *paused);
    return code;
}

sitq_code dash_counts_metrics(const dash_ctx *c, char **text, size_t *len, sitq_error *err) {
    dash_counts *k = c->counts;
    if (k) {
        pthread_mutex_lock(&k->mu);
        if (k->metrics && fresh(k->metrics_at_us, sitq_now_us())) {
            *text = malloc(k->metrics_len + 1);
            if (*text) {
                memcpy(*text, k->metrics, k->metrics_len + 1);
                *len = k->metrics_len;
            }
        }
        pthread_mutex_unlock(&k->mu);
        if (*text) return SITQ_OK;
    }
    sitq_code code = sitq_metrics_text(c->backend, text, len, err);
    if (code != SITQ_OK || !k) return code;
    char *copy = malloc(*len + 1);
    if (copy) memcpy(copy, *text, *len + 1);
    pthread_mutex_lock(&k->mu);
    if (copy) {
        free(k->metrics);
        k->metrics = copy;
        k->metrics_len = *len;
        k->metrics_at_us = sitq_now_us();
    }
    pthread_mutex_unlock(&k->mu);
    return SITQ_OK;
}

void dash_counts_forget(dash_counts *k) {
    if (!k) return;
    pthread_mutex_lock(&k->mu);
    for (size_t i = 0; i < SLOTS; i++) k->slots[i].at_us = 0;
    k->metrics_at_us = 0;
    pthread_mutex_unlock(&k->mu);
}
