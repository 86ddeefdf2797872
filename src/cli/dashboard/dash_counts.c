/*
 * dash_counts.c - the counts by status of each queue and the /metrics
 * text, shared by the requests of one second.
 *
 * Why: counting a queue reads an index entry per task that is not
 * succeeded, up to the count cap per status (sitq_get_stats_bounded:
 * milliseconds at the default cap, whatever the backlog), and the queues
 * page, /api/queues and /metrics count every queue on each load. A status
 * at the cap shows the exact count the background took (dash_exact.c),
 * never one taken on a request's path. Under many page loads (several operators, a
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
    unsigned at_cap;
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
static void keep(dash_counts *k, const char *name, const sitq_stats *st, unsigned at_cap,
                 int paused) {
    pthread_mutex_lock(&k->mu);
    slot *s = find(k, name);
    if (s && !s->name && k->used < SLOTS / 2) {
        s->name = strdup(name);
        if (s->name) k->used++;
    }
    if (s && s->name) {
        s->st = *st;
        s->at_cap = at_cap;
        s->paused = paused;
        s->at_us = sitq_now_us();
    }
    pthread_mutex_unlock(&k->mu);
}

/* The bounded counts of name, from a read of the last second or read now. */
static sitq_code bounded(const dash_ctx *c, const char *name, dash_qcounts *out, sitq_error *err) {
    dash_counts *k = c->counts;
    if (k) {
        pthread_mutex_lock(&k->mu);
        slot *s = find(k, name);
        int hit = s && s->name && fresh(s->at_us, sitq_now_us());
        if (hit) {
            out->st = s->st;
            out->bound = s->at_cap;
            out->paused = s->paused;
        }
        pthread_mutex_unlock(&k->mu);
        if (hit) return SITQ_OK;
    }
    sitq_queue *q = NULL;
    sitq_code code = sitq_queue_open(c->backend, name, &q, err);
    if (code == SITQ_OK) code = sitq_get_stats_bounded(q, c->count_cap, &out->st, &out->bound, err);
    if (code == SITQ_OK) code = sitq_queue_paused(q, &out->paused, err);
    sitq_queue_close(q);
    if (code == SITQ_OK && k) keep(k, name, &out->st, out->bound, out->paused);
    return code;
}

/* Statuses at the cap take the background's exact count when it is not
 * below the cap (a count older than a drain would show less than the
 * bound that was just read). */
static void overlay_exact(const dash_ctx *c, const char *name, dash_qcounts *out) {
    dash_exact_fig f;
    if (!dash_exact_get(c->exact, name, out->bound != 0, &f) || !out->bound) return;
    out->totals = f.totals;
    out->has_totals = 1;
    for (int s = 0; s < SITQ_STATUS_COUNT; s++) {
        unsigned bit = 1u << s;
        if ((out->bound & bit) && f.st.count[s] >= out->cap) {
            out->st.count[s] = f.st.count[s];
            out->bound &= ~bit;
            out->exact |= bit;
        }
    }
    sitq_time_us now = sitq_now_us();
    out->age_s = now > f.at_us ? (double)(now - f.at_us) / 1e6 : 0;
}

sitq_code dash_counts_queue(const dash_ctx *c, const char *name, dash_qcounts *out,
                            sitq_error *err) {
    memset(out, 0, sizeof *out);
    out->cap = c->count_cap;
    sitq_code code = bounded(c, name, out, err);
    if (code != SITQ_OK) return code;
    overlay_exact(c, name, out);
    out->st.total = 0;
    for (int s = 0; s < SITQ_STATUS_COUNT; s++) out->st.total += out->st.count[s];
    return SITQ_OK;
}

/* A queue's figures for /metrics: the page's (bounded, or the
 * background's exact count); its counters read now when no status reached
 * the cap (they count the tasks stored, so bounded by the cap too), else
 * the background's, else none (left out rather than read on a request's
 * path). */
static sitq_code metrics_reader(void *ctx, const char *queue, sitq_metrics_queue *out,
                                sitq_error *err) {
    const dash_ctx *c = ctx;
    dash_qcounts k;
    sitq_code code = dash_counts_queue(c, queue, &k, err);
    if (code != SITQ_OK) return code;
    out->stats = k.st;
    unsigned capped = k.bound | k.exact;
    if (capped) {
        out->totals = k.totals;
        out->has_totals = k.has_totals;
        return SITQ_OK;
    }
    sitq_queue *q = NULL;
    code = sitq_queue_open(c->backend, queue, &q, err);
    if (code == SITQ_OK) code = sitq_queue_totals(q, &out->totals, err);
    sitq_queue_close(q);
    out->has_totals = code == SITQ_OK;
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
    sitq_code code = sitq_metrics_text_from(c->backend, metrics_reader, (void *)c, text, len, err);
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
