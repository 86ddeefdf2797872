/* metrics.c - the store's figures in the Prometheus text exposition format
 * (sitq_metrics_text).
 *
 * Everything comes from reads the engine already keeps cheap: the counts by
 * status of each queue (partial indexes plus the stored succeeded counts),
 * the queue's monotonic counters (one row, or PostgreSQL's few shards),
 * the earliest queued run_at (one index seek per priority), the registry of
 * workers and the backend's health figures. A caller that cannot afford
 * exact counts (the dashboard, over a large backlog) gives its own reader
 * of each queue's counts (sitq_metrics_text_from). No task row is read: a scrape
 * costs one index entry per task that is not succeeded, whatever the number
 * of succeeded ones; the number of queues a scrape reports is capped
 * (SITQ_METRICS_QUEUES_MAX) to bound it too.
 *
 * Names follow the Prometheus conventions: base units (_seconds, _bytes),
 * _total for counters, HELP and TYPE lines before each family, label values
 * escaped (backslash, double quote, newline). */
#include "backend/backend.h"
#include "internal.h"
#include "mbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One sample whose only label is `key`. */
static void mb_sample1(sitq__mbuf *b, const char *name, const char *key, const char *val,
                       double v) {
    sitq__mb_printf(b, "%s{%s=\"", name, key);
    sitq__mb_label(b, val);
    sitq__mb_printf(b, "\"} %.15g\n", v);
}

typedef struct queue_fig {
    sitq_metrics_queue m;
    double oldest_age_s;
} queue_fig;

/* Where the counts come from: the caller's reader, or exact reads. */
typedef struct source {
    sitq_metrics_reader read;
    void *ctx;
} source;

static sitq_code read_queue(sitq_backend *b, const source *src, const char *q, sitq_time_us now,
                            queue_fig *f, sitq_error *err) {
    memset(f, 0, sizeof *f);
    sitq_code rc = SITQ_OK;
    if (src->read) {
        rc = src->read(src->ctx, q, &f->m, err);
    } else {
        rc = b->ops->stats(b, q, &f->m.stats, err);
        if (!rc) rc = b->ops->totals(b, q, &f->m.totals, err);
        f->m.has_totals = 1;
    }
    sitq_time_us run_at = 0;
    if (!rc) rc = b->ops->oldest_ready(b, q, &run_at, err);
    if (!rc && run_at > 0 && run_at <= now) f->oldest_age_s = (double)(now - run_at) / 1e6;
    return rc;
}

/* The store's counters that only grow (sitq_queue_totals): a purge or
 * retention never decreases them, so they are Prometheus counters. */
static void put_totals(sitq__mbuf *b, char **names, size_t n, const queue_fig *figs) {
    sitq__mb_family(b, "sitq_tasks_enqueued_total", "counter",
                    "Tasks inserted into the queue (a unique key's hit is none).");
    for (size_t i = 0; i < n; i++)
        if (figs[i].m.has_totals)
            mb_sample1(b, "sitq_tasks_enqueued_total", "queue", names[i],
                       (double)figs[i].m.totals.enqueued);
    sitq__mb_family(b, "sitq_task_attempts_total", "counter",
                    "Attempts of the queue's tasks by outcome, counted by the store (retried: "
                    "failed with a retry left; lost: leases that lapsed and were recovered).");
    for (size_t i = 0; i < n; i++) {
        if (!figs[i].m.has_totals) continue;
        static const char *const outcome[4] = {"succeeded", "failed", "retried", "lost"};
        const sitq_totals *t = &figs[i].m.totals;
        const int64_t v[4] = {t->succeeded, t->failed, t->retried, t->lost};
        for (int k = 0; k < 4; k++) {
            sitq__mb_printf(b, "sitq_task_attempts_total{queue=\"");
            sitq__mb_label(b, names[i]);
            sitq__mb_printf(b, "\",outcome=\"%s\"} %lld\n", outcome[k], (long long)v[k]);
        }
    }
    sitq__mb_family(b, "sitq_tasks_cancelled_total", "counter", "Tasks of the queue cancelled.");
    for (size_t i = 0; i < n; i++)
        if (figs[i].m.has_totals)
            mb_sample1(b, "sitq_tasks_cancelled_total", "queue", names[i],
                       (double)figs[i].m.totals.cancelled);
}

static void put_queues(sitq__mbuf *b, char **names, size_t n, const queue_fig *figs) {
    sitq__mb_family(b, "sitq_tasks", "gauge", "Tasks of the queue by status.");
    for (size_t i = 0; i < n; i++)
        for (int s = 0; s < SITQ_STATUS_COUNT; s++) {
            sitq__mb_printf(b, "sitq_tasks{queue=\"");
            sitq__mb_label(b, names[i]);
            sitq__mb_printf(b, "\",status=\"%s\"} %lld\n", sitq_status_name(s),
                            (long long)figs[i].m.stats.count[s]);
        }
    sitq__mb_family(b, "sitq_queue_oldest_ready_age_seconds", "gauge",
                    "Seconds since the earliest ready task of the queue became ready (0: none).");
    for (size_t i = 0; i < n; i++)
        mb_sample1(b, "sitq_queue_oldest_ready_age_seconds", "queue", names[i],
                   figs[i].oldest_age_s);
}

static sitq_code put_store_queues(sitq__mbuf *b, sitq_backend *be, const source *src,
                                  sitq_error *err) {
    char **names = NULL;
    size_t n = 0;
    sitq_code rc = be->ops->queues(be, &names, &n, err);
    if (rc) return rc;
    size_t shown = n < SITQ_METRICS_QUEUES_MAX ? n : SITQ_METRICS_QUEUES_MAX;
    queue_fig *figs = calloc(shown ? shown : 1, sizeof *figs);
    if (!figs) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory");
    sitq_time_us now = sitq_now_us();
    for (size_t i = 0; !rc && i < shown; i++)
        rc = read_queue(be, src, names[i], now, &figs[i], err);
    if (!rc) put_queues(b, names, shown, figs);
    if (!rc) put_totals(b, names, shown, figs);
    if (!rc) {
        sitq__mb_family(b, "sitq_queues", "gauge", "Queues in the store (reported: at most 1000).");
        sitq__mb_printf(b, "sitq_queues %zu\n", n);
    }
    free(figs);
    sitq_queue_names_free(names, n);
    return rc;
}

static void put_workers(sitq__mbuf *b, const sitq_worker_info *w, size_t n) {
    size_t by_state[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++)
        if ((int)w[i].state >= 0 && (int)w[i].state < 3) by_state[w[i].state]++;
    sitq__mb_family(b, "sitq_workers", "gauge", "Workers of the registry by state.");
    for (int s = 0; s < 3; s++)
        sitq__mb_printf(b, "sitq_workers{state=\"%s\"} %zu\n",
                        sitq_worker_state_name((sitq_worker_state)s), by_state[s]);
    sitq__mb_family(b, "sitq_worker_attempts_total", "counter",
                    "Attempts each worker of the registry finished, by outcome (as of its last "
                    "renewal; lost: outcomes dropped because its lease had lapsed).");
    for (size_t i = 0; i < n; i++) {
        static const char *const outcome[3] = {"succeeded", "failed", "lost"};
        const int64_t v[3] = {w[i].succeeded, w[i].failed, w[i].lost};
        for (int k = 0; k < 3; k++) {
            sitq__mb_printf(b, "sitq_worker_attempts_total{worker=\"");
            sitq__mb_label(b, w[i].id);
            sitq__mb_printf(b, "\",outcome=\"%s\"} %lld\n", outcome[k], (long long)v[k]);
        }
    }
}

static void put_gauge(sitq__mbuf *b, const char *name, const char *help, double v) {
    if (v < 0) return; /* not measured by this backend */
    sitq__mb_family(b, name, "gauge", help);
    sitq__mb_printf(b, "%s %.17g\n", name, v);
}

static void put_health(sitq__mbuf *b, const char *backend, const sitq_store_health *h) {
    sitq__mb_family(b, "sitq_store_info", "gauge", "The store's backend (always 1).");
    sitq__mb_printf(b, "sitq_store_info{backend=\"%s\"} 1\n", backend);
    put_gauge(b, "sitq_store_bytes",
              "Bytes on disk: SQLite's database file; PostgreSQL's tasks table with its indexes.",
              (double)h->store_bytes);
    put_gauge(b, "sitq_store_wal_bytes",
              "SQLite: size of the -wal file. PostgreSQL: WAL written since the schema was made.",
              (double)h->wal_bytes);
    put_gauge(b, "sitq_store_live_tuples", "PostgreSQL: live row versions of the tasks table.",
              (double)h->live_tuples);
    put_gauge(b, "sitq_store_dead_tuples",
              "PostgreSQL: dead row versions of the tasks table not yet vacuumed.",
              (double)h->dead_tuples);
    put_gauge(b, "sitq_store_oldest_transaction_age_seconds",
              "PostgreSQL: seconds since the oldest open transaction of the database began.",
              h->oldest_xact_age_s);
}

static sitq_code metrics_store(sitq_backend *backend, const source *src, sitq__mbuf *b,
                               sitq_error *err) {
    sitq_code rc = put_store_queues(b, backend, src, err);
    sitq_worker_info *w = NULL;
    size_t nw = 0;
    if (!rc) rc = backend->ops->workers(backend, 1, &w, &nw, err);
    if (!rc) put_workers(b, w, nw);
    sitq_workers_free(w, nw);
    sitq_store_health h;
    if (!rc) rc = sitq_backend_health(backend, &h, err);
    if (!rc) put_health(b, backend->ops->name, &h);
    return rc;
}

sitq_code sitq_metrics_text(sitq_backend *backend, char **out, size_t *out_len, sitq_error *err) {
    return sitq_metrics_text_from(backend, NULL, NULL, out, out_len, err);
}

sitq_code sitq_metrics_text_from(sitq_backend *backend, sitq_metrics_reader read, void *ctx,
                                 char **out, size_t *out_len, sitq_error *err) {
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!backend || !out)
        return sitq__fail(err, SITQ_EINVAL, "sitq_metrics_text: backend and out are required");
    const source src = {read, ctx};
    sitq__mbuf b = {0};
    sitq_code rc = metrics_store(backend, &src, &b, err);
    if (!rc && b.failed) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory writing metrics");
    if (rc) {
        free(b.s);
        return rc;
    }
    *out = b.s;
    if (out_len) *out_len = b.len;
    return sitq__ok(err);
}
