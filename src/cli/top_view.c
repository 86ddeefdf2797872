/*
 * top_view.c - the lines of a `sitq top` screen: a header, the queues'
 * counts by status, the throughput over the last minute, the workers with
 * what they run (started tasks; those claimed ahead are counted apart, as
 * `sitq workers` shows them), and the latest failures. Fixed-width columns
 * so that the plain output reads as a table and tests can find values in it.
 */
#include "top_view.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "output.h"
#include "shell_payload.h"
#include "term_escape.h"

void top_lines_free(top_lines *l) {
    for (size_t i = 0; i < l->n; i++) free(l->line[i]);
    free(l->line);
    memset(l, 0, sizeof *l);
}

/* Append a printf-formatted line. */
__attribute__((format(printf, 2, 3))) static void addf(top_lines *l, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (s != NULL) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)len + 1, fmt, ap);
        va_end(ap);
    }
    if (s != NULL && l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **g = realloc(l->line, cap * sizeof *g);
        if (g == NULL) {
            free(s);
            s = NULL;
        } else {
            l->line = g;
            l->cap = cap;
        }
    }
    if (s == NULL) {
        l->oom = 1;
        return;
    }
    l->line[l->n++] = s;
}

/* text escaped and cut to width characters ("..." marks a cut), padded to
 * width when pad; malloc'd (NULL when memory runs out). */
static char *cell(const char *text, size_t width, int pad) {
    char *s = term_escape_str(text != NULL ? text : "-", 0);
    if (s == NULL) return NULL;
    size_t n = term_char_count(s);
    size_t keep = n > width ? term_prefix_len(s, width > 3 ? width - 3 : 0) : strlen(s);
    size_t fill = n > width ? 0 : (pad ? width - n : 0);
    char *out = malloc(keep + 3 + fill + 1);
    if (out != NULL) {
        memcpy(out, s, keep);
        size_t k = keep;
        if (n > width) {
            memcpy(out + k, "...", 3);
            k += 3;
        }
        memset(out + k, ' ', fill);
        out[k + fill] = '\0';
    }
    free(s);
    return out;
}

static void header(const top_view_in *in, top_lines *l) {
    char when[CLI_TIME_BUF];
    fmt_time_iso(in->snap->at_us, 0, when, sizeof when);
    addf(l, "sitq top  %s  every %gs%s%s", when, in->interval_s, in->paused ? "  PAUSED" : "",
         in->interactive ? (in->paused ? "  (q quits, p resumes)" : "  (q quits, p pauses)") : "");
    char *db = cell(in->db, 80, 0);
    char *q = cell(in->queue != NULL ? in->queue : "(all queues)", 40, 0);
    addf(l, "database %s  queue %s", db ? db : "?", q ? q : "?");
    if (in->stale != NULL && in->stale[0] != '\0') {
        char *e = cell(in->stale, 200, 0);
        addf(l, "STORE ERROR, showing the last snapshot and retrying: %s", e ? e : "?");
        free(e);
    }
    free(db);
    free(q);
}

/* A count in 9 columns: a lower bound as "100k+" (the cap, in thousands
 * when it is a multiple of 1000). */
static void count_text(char *buf, size_t n, int64_t v, int bound) {
    if (!bound) snprintf(buf, n, "%" PRId64, v);
    else if (v >= 1000 && v % 1000 == 0) snprintf(buf, n, "%" PRId64 "k+", v / 1000);
    else snprintf(buf, n, "%" PRId64 "+", v);
}

static void queues(const top_view_in *in, top_lines *l) {
    char head[256];
    int k = snprintf(head, sizeof head, "%-24s", "QUEUE");
    for (int s = 0; s < SITQ_STATUS_COUNT && k > 0 && (size_t)k < sizeof head; s++) {
        char name[16];
        const char *n = sitq_status_name(s);
        size_t i = 0;
        for (; n[i] != '\0' && i + 1 < sizeof name; i++)
            name[i] = (char)toupper((unsigned char)n[i]);
        name[i] = '\0';
        k += snprintf(head + k, sizeof head - (size_t)k, " %9s", name);
    }
    addf(l, "%s %9s", head, "TOTAL");
    const top_snapshot *sn = in->snap;
    for (size_t i = 0; i <= sn->n_queues; i++) {
        /* the queues, then their sum when there are several */
        if (i == sn->n_queues && sn->n_queues < 2) break;
        const sitq_stats *st = i < sn->n_queues ? &sn->queues[i].st : &sn->sum;
        unsigned bound = i < sn->n_queues ? sn->queues[i].at_cap : sn->sum_at_cap;
        char label[SITQ_NAME_MAX + 16];
        if (i < sn->n_queues)
            snprintf(label, sizeof label, "%s%s", sn->queues[i].name,
                     sn->queues[i].paused ? " (paused)" : "");
        else snprintf(label, sizeof label, "(all queues)");
        char *name = cell(label, 24, 1);
        char c[SITQ_STATUS_COUNT + 1][24];
        for (int s = 0; s < SITQ_STATUS_COUNT; s++)
            count_text(c[s], sizeof c[s], st->count[s], (bound >> s) & 1u);
        count_text(c[SITQ_STATUS_COUNT], sizeof c[0], st->total, bound != 0);
        addf(l, "%s %9s %9s %9s %9s %9s %9s %9s %9s", name ? name : "?", c[0], c[1], c[2], c[3],
             c[4], c[5], c[6], c[7]);
        free(name);
    }
    if (sn->n_queues == 0) addf(l, "(no queue yet)");
}

static void throughput(const top_view_in *in, top_lines *l) {
    const top_rate_value *r = &in->rate;
    if (!r->known) {
        addf(l, "throughput: measuring (from the workers' counters, at the next refresh)");
        return;
    }
    addf(l, "throughput (last %.1f s): %.2f attempts/s finished: %.2f succeeded/s, %.2f failed/s",
         r->span_s, r->succeeded_s + r->failed_s, r->succeeded_s, r->failed_s);
}

/* Order of the worker rows: running, dead, then stopped (latest first). */
static int worker_rank(const sitq_worker_info *w) {
    return w->state == SITQ_WORKER_RUNNING ? 0 : w->state == SITQ_WORKER_DEAD ? 1 : 2;
}

static int worker_cmp(const void *a, const void *b) {
    const sitq_worker_info *x = *(const sitq_worker_info *const *)a;
    const sitq_worker_info *y = *(const sitq_worker_info *const *)b;
    int rx = worker_rank(x), ry = worker_rank(y);
    if (rx != ry) return rx - ry;
    if (rx == 2 && x->stopped_at_us != y->stopped_at_us)
        return x->stopped_at_us > y->stopped_at_us ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* One running task of worker w: id, function or shell command. */
static void running_task(const top_view_in *in, const sitq_result *r, top_lines *l) {
    char **argv = NULL;
    int argc = 0;
    cli_load_command(in->handle, r, &argv, &argc, NULL);
    char *cmd = argc > 0 ? shell_format_command(argv, argc) : NULL;
    free(argv);
    char *what = cell(cmd != NULL ? cmd : r->function, 70, 0);
    char *q = cell(r->queue, 16, 0);
    addf(l, "    runs %-10" PRId64 " %s  %s", (int64_t)r->id, q ? q : "?", what ? what : "?");
    free(q);
    free(what);
    free(cmd);
}

static void worker_row(const top_view_in *in, const sitq_worker_info *w, top_lines *l) {
    char *id = cell(w->id, 28, 1);
    char *host = cell(w->host, 16, 1);
    char qs[256] = "";
    size_t k = 0;
    for (size_t i = 0; i < w->n_queues && k < sizeof qs; i++)
        k += (size_t)snprintf(qs + k, sizeof qs - k, "%s%s", i ? "," : "", w->queues[i]);
    char *queues = cell(qs, 40, 0);
    addf(l, "%s %-8s %s %8" PRId64 " %4d %9" PRId64 " %7" PRId64 " %5" PRId64 "  %s", id ? id : "?",
         sitq_worker_state_name(w->state), host ? host : "?", w->pid, w->concurrency, w->succeeded,
         w->failed, w->lost, queues ? queues : "?");
    free(id);
    free(host);
    free(queues);
    const top_snapshot *sn = in->snap;
    /* Only started tasks run; those claimed ahead (prefetched, not started)
     * are counted apart, from the registry, as `sitq workers` counts them. */
    for (size_t i = 0; i < sn->n_running; i++) {
        const sitq_result *r = sn->running[i];
        if (r->worker_id != NULL && strcmp(r->worker_id, w->id) == 0 && r->started_at_us != 0)
            running_task(in, r, l);
    }
    if (w->n_held > w->n_running)
        addf(l, "    +%zu claimed ahead (not started)", w->n_held - w->n_running);
}

/* The running tasks of the snapshot that their worker claimed ahead and has
 * not started (counted among the TOP_RUNNING_MAX newest read). */
static int64_t claimed_ahead(const top_snapshot *sn) {
    int64_t n = 0;
    for (size_t i = 0; i < sn->n_running; i++) n += sn->running[i]->started_at_us == 0;
    return n;
}

/* A row for w: running and dead workers, and those stopped within the
 * throughput's window (their last attempts are in it); the workers
 * stopped before are only counted, lest a day of restarts push the rest
 * off the screen. */
static int worker_shown(const top_view_in *in, const sitq_worker_info *w) {
    if (w->state != SITQ_WORKER_STOPPED) return 1;
    return w->stopped_at_us >= in->snap->at_us - (sitq_time_us)(TOP_RATE_WINDOW_S * 1e6);
}

static void workers(const top_view_in *in, top_lines *l) {
    const top_snapshot *sn = in->snap;
    const sitq_worker_info **order = malloc((sn->n_workers + 1) * sizeof(const sitq_worker_info *));
    if (order == NULL) {
        l->oom = 1;
        return;
    }
    size_t n = 0, older = 0, by_state[3] = {0, 0, 0};
    for (size_t i = 0; i < sn->n_workers; i++) {
        const sitq_worker_info *w = &sn->workers[i];
        if (!top_worker_serves(w, in->queue)) continue;
        by_state[worker_rank(w)]++;
        if (worker_shown(in, w)) order[n++] = w;
        else older++;
    }
    qsort(order, n, sizeof(const sitq_worker_info *), worker_cmp);
    /* Tasks of status running that have started; the others are claimed
     * ahead (a worker's prefetch), shown apart as `sitq workers` does. */
    int64_t ahead = claimed_ahead(sn);
    int64_t started = sn->sum.count[SITQ_RUNNING] - ahead;
    addf(l,
         "WORKERS: %zu running, %zu dead, %zu stopped; %" PRId64 " tasks running, %" PRId64
         " claimed ahead%s",
         by_state[0], by_state[1], by_state[2], started > 0 ? started : 0, ahead,
         (int64_t)sn->n_running < sn->sum.count[SITQ_RUNNING] ? " (of the newest read)" : "");
    addf(l, "%-28s %-8s %-16s %8s %4s %9s %7s %5s  %s", "ID", "STATE", "HOST", "PID", "CONC",
         "SUCCEEDED", "FAILED", "LOST", "QUEUES");
    for (size_t i = 0; i < n && i < in->max_workers; i++) worker_row(in, order[i], l);
    if (n == 0) addf(l, "(none)");
    if (n > in->max_workers)
        addf(l, "... and %zu more workers (sitq workers --all)", n - in->max_workers);
    if (older > 0)
        addf(l, "... and %zu workers stopped over %.0f s ago (sitq workers --all)", older,
             TOP_RATE_WINDOW_S);
    free(order);
}

static void failures(const top_view_in *in, top_lines *l) {
    const top_snapshot *sn = in->snap;
    addf(l, "LATEST FAILURES (newest first)");
    if (sn->n_failures == 0) {
        addf(l, "(none)");
        return;
    }
    addf(l, "%-10s %-16s %-20s  %s", "ID", "QUEUE", "FINISHED", "ERROR");
    for (size_t i = 0; i < sn->n_failures; i++) {
        const sitq_result *r = sn->failures[i];
        char when[CLI_TIME_BUF];
        fmt_time_iso(r->finished_at_us, 0, when, sizeof when);
        char *q = cell(r->queue, 16, 1);
        /* the first line of the error (sitq show prints all of it) */
        const char *err = r->error != NULL && r->error[0] != '\0' ? r->error : "(no message)";
        char *first = strndup(err, strcspn(err, "\n"));
        char *e = cell(first != NULL ? first : err, 100, 0);
        free(first);
        addf(l, "%-10" PRId64 " %s %-20s  %s", (int64_t)r->id, q ? q : "?", when, e ? e : "?");
        free(q);
        free(e);
    }
}

void top_view_build(const top_view_in *in, top_lines *out) {
    memset(out, 0, sizeof *out);
    header(in, out);
    addf(out, "%s", "");
    queues(in, out);
    addf(out, "%s", "");
    throughput(in, out);
    addf(out, "%s", "");
    workers(in, out);
    addf(out, "%s", "");
    failures(in, out);
}
