/*
 * dash_pages.c - the dashboard's pages about the whole store: the queues
 * with their tasks counted by status (sitq_queue_names and
 * sitq_get_stats_bounded: index seeks up to the count cap and stored
 * counters, never a scan of the tasks; dash_counts.c) and their
 * throughput charts (dash_rate.c, dash_chart.c), the workers
 * of the registry with the tasks they run, and /metrics
 * (sitq_metrics_text). Also the action forms these pages show.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"
#include "output.h"

void dash_action_form(dash_buf *b, const char *action, const char *field, const char *value,
                      int hex) {
    dash_printf(b, "<form class=\"act\" method=\"post\" action=\"/actions/%s\">", action);
    dash_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"", field);
    if (hex) dash_hexenc(b, value);
    else dash_esc(b, value);
    dash_put(b, "\"><input type=\"password\" name=\"token\" placeholder=\"token\" "
                "autocomplete=\"off\" required>");
    dash_printf(b, "<button type=\"submit\" name=\"do\" value=\"%s\">%s</button></form>", action,
                action);
}

/* v with a comma every three digits (v >= 0). */
static void put_grouped(dash_buf *b, int64_t v) {
    if (v >= 1000) {
        put_grouped(b, v / 1000);
        dash_printf(b, ",%03" PRId64, v % 1000);
    } else {
        dash_printf(b, "%" PRId64, v);
    }
}

/* A figure of the queues table: a lower bound as "100,000+", a background
 * count with its age in its title. */
static void put_count(dash_buf *b, const dash_qcounts *k, int64_t v, unsigned bit) {
    if (k->bound & bit) {
        dash_printf(b, "<span title=\"more than %" PRId64 ": counted up to the cap\">", k->cap);
        put_grouped(b, v);
        dash_put(b, "+</span>");
    } else if (k->exact & bit) {
        dash_printf(b, "<span title=\"exact count as of %.0f s ago\">%" PRId64 "</span>", k->age_s,
                    v);
    } else {
        dash_printf(b, "%" PRId64, v);
    }
}

/* One row of the queues table; returns the library's code. */
static sitq_code queue_row(const dash_ctx *c, const char *name, dash_buf *b, sitq_error *err) {
    dash_qcounts k;
    sitq_code code = dash_counts_queue(c, name, &k, err);
    if (code != SITQ_OK) return code;
    /* The series on the heap: 360 samples do not belong on a
     * connection's stack. */
    dash_series *s = malloc(sizeof *s);
    if (s) dash_rate_get(c->rate, name, s);
    dash_put(b, "<tr><td><a href=\"/tasks?queue=");
    dash_urlenc(b, name);
    dash_put(b, "\">");
    dash_esc(b, name);
    dash_printf(b, "</a>%s</td>", k.paused ? " <em>(paused)</em>" : "");
    for (int s = 0; s < SITQ_STATUS_COUNT; s++) {
        dash_put(b, "<td class=\"n\"><a href=\"/tasks?queue=");
        dash_urlenc(b, name);
        dash_printf(b, "&amp;status=%s\">", sitq_status_name(s));
        put_count(b, &k, k.st.count[s], 1u << s);
        dash_put(b, "</a></td>");
    }
    dash_put(b, "<td class=\"n\">");
    /* The total is a lower bound when any figure is, as old as any count. */
    put_count(b, &k, k.st.total, k.bound ? k.bound : k.exact);
    dash_put(b, "</td><td>");
    if (s) dash_chart(b, name, s);
    free(s);
    dash_put(b, "</td><td>");
    /* The name in hex: a browser would change its control characters and
     * newlines, and the action would name another queue. */
    if (c->token_len > 0) dash_action_form(b, k.paused ? "resume" : "pause", "queue_hex", name, 1);
    dash_put(b, "</td></tr>\n");
    return SITQ_OK;
}

void dash_page_queues(const dash_ctx *c, dash_reply *r) {
    char **names = NULL;
    size_t n = 0;
    if (dash_queue_names(c, r, &names, &n) != 0) return;
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code code = SITQ_OK;
    dash_buf *b = &r->body;
    dash_page_begin(b, "Queues");
    if (c->token_len == 0)
        dash_put(b, "<p>Read-only: actions need a token (--token-file or "
                    "SITQ_DASHBOARD_TOKEN).</p>\n");
    dash_put(b, "<table id=\"queues\"><tr><th>queue</th>");
    for (int s = 0; s < SITQ_STATUS_COUNT; s++) dash_printf(b, "<th>%s</th>", sitq_status_name(s));
    dash_put(b, "<th>total</th><th>throughput (succeeded, failed)</th><th>actions</th></tr>\n");
    for (size_t i = 0; i < n && i < DASH_QUEUES_MAX && code == SITQ_OK; i++)
        code = queue_row(c, names[i], b, &err);
    dash_put(b, "</table>\n");
    if (n > DASH_QUEUES_MAX) dash_printf(b, "<p>%d of %zu queues shown.</p>\n", DASH_QUEUES_MAX, n);
    if (n == 0) dash_put(b, "<p>No queue yet: a queue exists from its first enqueue.</p>\n");
    dash_page_end(b);
    sitq_queue_names_free(names, n);
    if (code != SITQ_OK) dash_api_error(r, "counting a queue", code, &err);
}

/* A list of names, escaped and comma-separated. */
static void names_cell(dash_buf *b, char *const *names, size_t n) {
    dash_put(b, "<td>");
    for (size_t i = 0; i < n; i++) {
        if (i) dash_put(b, ", ");
        dash_esc(b, names[i]);
    }
    dash_put(b, "</td>");
}

static void worker_row(dash_buf *b, const sitq_worker_info *w) {
    char when[CLI_TIME_BUF];
    fmt_time_iso(w->heartbeat_at_us, 0, when, sizeof when);
    dash_put(b, "<tr><td>");
    dash_esc(b, w->id);
    dash_printf(b, "</td><td>%s</td><td>", sitq_worker_state_name(w->state));
    dash_esc(b, w->host);
    dash_printf(b,
                "</td><td class=\"n\">%" PRId64 "</td><td class=\"n\">%d</td>"
                "<td class=\"n\">%" PRId64 "</td><td class=\"n\">%" PRId64
                "</td><td class=\"n\">%" PRId64 "</td><td>%s</td>",
                w->pid, w->concurrency, w->succeeded, w->failed, w->lost, when);
    names_cell(b, w->queues, w->n_queues);
    dash_put(b, "<td>");
    for (size_t i = 0; i < w->n_running && i < DASH_PAGE_MAX; i++)
        dash_printf(b, "<a href=\"/tasks/%" PRId64 "\">%" PRId64 "</a> ", (int64_t)w->running[i],
                    (int64_t)w->running[i]);
    if (w->n_running > DASH_PAGE_MAX) dash_printf(b, "... (%zu in all)", w->n_running);
    dash_put(b, "</td></tr>\n");
}

void dash_page_workers(const dash_ctx *c, dash_reply *r) {
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_worker_info *ws = NULL;
    size_t n = 0;
    sitq_code code = sitq_workers_list(c->backend, 0, &ws, &n, &err);
    if (code != SITQ_OK) {
        dash_api_error(r, "listing the workers", code, &err);
        return;
    }
    dash_buf *b = &r->body;
    dash_page_begin(b, "Workers");
    dash_put(b, "<table id=\"workers\"><tr><th>id</th><th>state</th><th>host</th><th>pid</th>"
                "<th>threads</th><th>succeeded</th><th>failed</th><th>lost</th>"
                "<th>last heartbeat</th><th>queues</th><th>running</th></tr>\n");
    for (size_t i = 0; i < n; i++) worker_row(b, &ws[i]);
    dash_put(b, "</table>\n");
    if (n == 0) dash_put(b, "<p>No worker running.</p>\n");
    dash_page_end(b);
    sitq_workers_free(ws, n);
}

void dash_page_metrics(const dash_ctx *c, dash_reply *r) {
    sitq_error err;
    memset(&err, 0, sizeof err);
    char *text = NULL;
    size_t len = 0;
    sitq_code code = dash_counts_metrics(c, &text, &len, &err);
    if (code != SITQ_OK) {
        dash_api_error(r, "reading the metrics", code, &err);
        return;
    }
    r->type = "text/plain; version=0.0.4; charset=utf-8";
    dash_putn(&r->body, text, len);
    free(text);
}
