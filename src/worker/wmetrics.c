/* wmetrics.c - the worker process's own metrics (sitq_worker_metrics_text):
 * attempts by queue and outcome, and histograms of run time and queue wait
 * per queue and function.
 *
 * They cover the attempts of this worker since it was made, kept in its
 * memory (not in the store): observing costs a few additions under the
 * worker's mutex, which the caller holds anyway, and no write to the store.
 * Outcomes are counted once committed (a dropped one counts only as lost);
 * run time and queue wait when the attempt ends.
 * A scrape of every worker (or a sum over them in PromQL) gives the whole
 * picture; the store's counters (sitq_metrics_text) survive restarts.
 * Buckets are fixed (WM_BOUNDS, seconds) so that series of all workers add
 * up. At most WM_SERIES_MAX (queue, function) pairs are kept, so that
 * handlers registered by prefix cannot grow the table without bound; later
 * functions are counted under function="~other". */
#include "worker_internal.h"

#include <stdlib.h>
#include <string.h>

#include "../core/mbuf.h"

static const double WM_BOUNDS[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                   1,     2.5,   5,    10,    30,   60,  300,  1800};
#define WM_NB         (sizeof WM_BOUNDS / sizeof WM_BOUNDS[0])
#define WM_SERIES_MAX 1000
#define WM_OTHER      "~other"

typedef struct wm_hist {
    uint64_t le[WM_NB]; /* observations <= WM_BOUNDS[i] (not yet cumulative) */
    uint64_t count;
    double sum;
} wm_hist;

typedef struct wm_series {
    size_t qi;
    char *fn;
    wm_hist run, wait;
} wm_series;

/* Per queue: attempts that succeeded, failed for good, failed with a retry
 * left, ended cancelled, and outcomes dropped because the lease was lost. */
typedef struct wm_queue {
    uint64_t succeeded, failed, retried, cancelled, lost;
} wm_queue;

struct sitq__wmetrics {
    wm_series *series;
    size_t n, cap;
    wm_queue *queues; /* w->n_queues entries */
};

static sitq__wmetrics *wm_get(sitq_worker *w) {
    if (w->wm) return w->wm;
    sitq__wmetrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->queues = calloc(w->n_queues ? w->n_queues : 1, sizeof *m->queues);
    if (!m->queues) {
        free(m);
        return NULL;
    }
    w->wm = m;
    return m;
}

static void hist_add(wm_hist *h, double v) {
    if (v < 0) v = 0;
    for (size_t i = 0; i < WM_NB; i++)
        if (v <= WM_BOUNDS[i]) {
            h->le[i]++;
            break;
        }
    h->count++;
    h->sum += v;
}

static wm_series *series_for(sitq__wmetrics *m, size_t qi, const char *fn) {
    if (m->n >= WM_SERIES_MAX) fn = WM_OTHER;
    for (size_t i = 0; i < m->n; i++)
        if (m->series[i].qi == qi && strcmp(m->series[i].fn, fn) == 0) return &m->series[i];
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        wm_series *p = realloc(m->series, cap * sizeof *p);
        if (!p) return NULL;
        m->series = p;
        m->cap = cap;
    }
    wm_series *s = &m->series[m->n];
    memset(s, 0, sizeof *s);
    s->qi = qi;
    s->fn = strdup(fn);
    if (!s->fn) return NULL;
    m->n++;
    return s;
}

void sitq__wmetrics_attempt(sitq_worker *w, const sitq_task_ctx *c, sitq__completion *k) {
    k->retry_left = c->t.attempt <= c->t.max_retries && k->retry != SITQ__RETRY_NONE;
    double run_s =
        c->started_mono_us > 0 ? (double)(sitq__mono_us() - c->started_mono_us) / 1e6 : 0.0;
    sitq__wmetrics *m = wm_get(w);
    size_t qi = c->t.queue_index;
    if (!m || qi >= w->n_queues) return; /* metrics are best effort */
    wm_series *s = series_for(m, qi, c->t.function);
    if (!s) return;
    hist_add(&s->run, run_s);
    if (c->started_at_us > 0 && c->t.run_at_us > 0)
        hist_add(&s->wait, (double)(c->started_at_us - c->t.run_at_us) / 1e6);
}

void sitq__wmetrics_outcome(sitq_worker *w, const sitq__completion *k) {
    sitq__wmetrics *m = wm_get(w);
    if (!m || k->queue_index >= w->n_queues) return;
    wm_queue *q = &m->queues[k->queue_index];
    if (!k->applied) q->lost++;
    else if (k->ok && !k->stored_as_failure) q->succeeded++;
    else if (k->cancel_seen) q->cancelled++; /* a cancelled task never retries */
    else if (k->retry_left) q->retried++;
    else q->failed++;
}

void sitq__stats_count(sitq_worker_stats *s, const sitq__completion *k) {
    if (k->ok) s->succeeded++;
    else if (k->cancel_seen) s->cancelled++;
    else s->failed++;
}

void sitq__stats_outcome(sitq_worker_stats *s, const sitq__completion *k) {
    if (!k->applied) s->lost++;
    else if (k->ok && k->stored_as_failure) { /* counted a success when the handler ended */
        s->succeeded--;
        s->failed++;
    }
}

void sitq__wmetrics_free(sitq_worker *w) {
    sitq__wmetrics *m = w->wm;
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) free(m->series[i].fn);
    free(m->series);
    free(m->queues);
    free(m);
    w->wm = NULL;
}

static void put_labels(sitq__mbuf *b, const char *queue, const char *fn) {
    sitq__mb_printf(b, "queue=\"");
    sitq__mb_label(b, queue);
    sitq__mb_printf(b, "\",function=\"");
    sitq__mb_label(b, fn);
    sitq__mb_printf(b, "\"");
}

static void put_hist(sitq__mbuf *b, const char *name, const char *queue, const wm_series *s,
                     const wm_hist *h) {
    uint64_t cum = 0;
    for (size_t i = 0; i < WM_NB; i++) {
        cum += h->le[i];
        sitq__mb_printf(b, "%s_bucket{", name);
        put_labels(b, queue, s->fn);
        sitq__mb_printf(b, ",le=\"%g\"} %llu\n", WM_BOUNDS[i], (unsigned long long)cum);
    }
    sitq__mb_printf(b, "%s_bucket{", name);
    put_labels(b, queue, s->fn);
    sitq__mb_printf(b, ",le=\"+Inf\"} %llu\n%s_sum{", (unsigned long long)h->count, name);
    put_labels(b, queue, s->fn);
    sitq__mb_printf(b, "} %.9g\n%s_count{", h->sum, name);
    put_labels(b, queue, s->fn);
    sitq__mb_printf(b, "} %llu\n", (unsigned long long)h->count);
}

static void put_attempts(sitq__mbuf *b, const sitq_worker *w, const sitq__wmetrics *m) {
    sitq__mb_family(b, "sitq_worker_process_attempts_total", "counter",
                    "Attempts this worker process finished, by queue and outcome (retried: "
                    "failed with a retry left; cancelled: cancel asked before or while it ran; "
                    "lost: dropped because the lease had lapsed).");
    for (size_t q = 0; q < w->n_queues; q++) {
        static const char *const outcome[5] = {"succeeded", "failed", "retried", "cancelled",
                                               "lost"};
        const wm_queue *z = &m->queues[q];
        const uint64_t v[5] = {z->succeeded, z->failed, z->retried, z->cancelled, z->lost};
        for (int k = 0; k < 5; k++) {
            sitq__mb_printf(b, "sitq_worker_process_attempts_total{queue=\"");
            sitq__mb_label(b, w->qnames[q]);
            sitq__mb_printf(b, "\",outcome=\"%s\"} %llu\n", outcome[k], (unsigned long long)v[k]);
        }
    }
}

static void put_all(sitq__mbuf *b, const sitq_worker *w, const sitq__wmetrics *m) {
    put_attempts(b, w, m);
    sitq__mb_family(b, "sitq_task_duration_seconds", "histogram",
                    "Run time of the attempts this worker process finished.");
    for (size_t i = 0; i < m->n; i++)
        put_hist(b, "sitq_task_duration_seconds", w->qnames[m->series[i].qi], &m->series[i],
                 &m->series[i].run);
    sitq__mb_family(b, "sitq_task_queue_wait_seconds", "histogram",
                    "Time from a task's run_at (when it became due) to the start of its attempt, "
                    "for the attempts this worker process finished.");
    for (size_t i = 0; i < m->n; i++)
        put_hist(b, "sitq_task_queue_wait_seconds", w->qnames[m->series[i].qi], &m->series[i],
                 &m->series[i].wait);
}

sitq_code sitq_worker_metrics_text(sitq_worker *w, char **out, size_t *out_len, sitq_error *err) {
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!w || !out)
        return sitq__fail(err, SITQ_EINVAL,
                          "sitq_worker_metrics_text: worker and out are required");
    sitq__mbuf b = {0};
    pthread_mutex_lock(&w->mu);
    sitq__wmetrics *m = wm_get(w);
    if (m) put_all(&b, w, m);
    pthread_mutex_unlock(&w->mu);
    if (!m || b.failed) {
        free(b.s);
        return sitq__fail(err, SITQ_ENOMEM, "out of memory writing metrics");
    }
    *out = b.s;
    if (out_len) *out_len = b.len;
    return sitq__ok(err);
}
