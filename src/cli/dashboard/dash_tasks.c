/*
 * dash_tasks.c - the dashboard's task pages: a list of tasks filtered by
 * queue, status and function with keyset paging (each page asks for the
 * ids below the last one shown, newest first: no OFFSET, no count over the
 * table), and one task's page (its fields, times, error and traceback, a
 * bounded summary of its payload and result, its dependencies as links).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dash.h"
#include "output.h"

/** Most bytes of an error a list row shows (cut on a character boundary). */
#define ROW_ERROR_SHOWN 160

/* 0 when queue is one of the store's queues, else -1 after a 404 (a name
 * that is not there is a typo, as the command line says, not an empty
 * queue) or the error of the failed read. */
static int check_queue(const dash_ctx *c, const char *queue, dash_reply *r) {
    int found = dash_queue_known(c, queue, r);
    if (found == 0)
        dash_error(r, 404, "unknown queue '%s': the store has no such queue (/ lists them)", queue);
    return found == 1 ? 0 : -1;
}

int dash_list_filter(const dash_ctx *c, const dash_query *q, sitq_list_filter *f, dash_reply *r) {
    sitq_list_filter_init(f);
    f->queue = q->queue;
    f->function = q->function;
    /* "", "any" and "all" in any case (as `sitq list --status` reads them,
     * and the status names): every status */
    int any = q->status && (!q->status[0] || strcasecmp(q->status, "any") == 0 ||
                            strcasecmp(q->status, "all") == 0);
    if (q->status && !any && (f->status = sitq_status_parse(q->status)) < 0) {
        dash_error(r, 400,
                   "unknown status '%s' (queued, waiting, scheduled, running, "
                   "succeeded, failed, cancelled or any)",
                   q->status);
        return -1;
    }
    if (any) f->status = SITQ_STATUS_ANY;
    if (q->before && dash_parse_id(q->before, &f->before_id) != 0) {
        dash_error(r, 400, "before: '%s' is not a task id (a positive integer)", q->before);
        return -1;
    }
    sitq_task_id limit = DASH_PAGE_DEFAULT;
    if (q->limit && (dash_parse_id(q->limit, &limit) != 0 || limit > DASH_PAGE_MAX)) {
        dash_error(r, 400, "limit: '%s' is not a number 1..%d", q->limit, DASH_PAGE_MAX);
        return -1;
    }
    f->limit = (size_t)limit;
    return q->queue ? check_queue(c, q->queue, r) : 0;
}

/* The query string of the list's filters (queue, status, function, limit). */
static void filter_query(dash_buf *b, const sitq_list_filter *f) {
    dash_printf(b, "limit=%zu", f->limit);
    if (f->queue) {
        dash_put(b, "&amp;queue=");
        dash_urlenc(b, f->queue);
    }
    if (f->status != SITQ_STATUS_ANY) dash_printf(b, "&amp;status=%s", sitq_status_name(f->status));
    if (f->function) {
        dash_put(b, "&amp;function=");
        dash_urlenc(b, f->function);
    }
}

/* The filter form, showing the current values. */
static void filter_form(dash_buf *b, const sitq_list_filter *f) {
    dash_put(b, "<form method=\"get\" action=\"/tasks\">queue <input name=\"queue\" value=\"");
    dash_esc(b, f->queue ? f->queue : "");
    dash_put(b, "\"> status <select name=\"status\"><option value=\"\">any</option>");
    for (int s = 0; s < SITQ_STATUS_COUNT; s++)
        dash_printf(b, "<option%s>%s</option>", s == f->status ? " selected" : "",
                    sitq_status_name(s));
    dash_put(b, "</select> function <input name=\"function\" value=\"");
    dash_esc(b, f->function ? f->function : "");
    dash_put(b, "\"> <button type=\"submit\">filter</button></form>\n");
}

static void task_row(dash_buf *b, const sitq_result *t) {
    char enq[CLI_TIME_BUF], fin[CLI_TIME_BUF];
    fmt_time_iso(t->enqueued_at_us, 0, enq, sizeof enq);
    fmt_time_iso(t->finished_at_us, 0, fin, sizeof fin);
    dash_printf(b, "<tr><td class=\"n\"><a href=\"/tasks/%" PRId64 "\">%" PRId64 "</a></td><td>",
                (int64_t)t->id, (int64_t)t->id);
    dash_esc(b, t->queue);
    dash_put(b, "</td><td>");
    dash_esc(b, t->function);
    const char *st = sitq_status_name(t->status);
    dash_printf(b,
                "</td><td class=\"st-%s\">%s</td><td class=\"n\">%d</td><td>%s</td><td>%s</td><td>",
                st, st, (int)t->attempts, enq, fin);
    if (t->error) {
        size_t n = strlen(t->error);
        dash_esc_lines(b, t->error, dash_utf8_cut(t->error, n, ROW_ERROR_SHOWN));
        if (n > ROW_ERROR_SHOWN) dash_put(b, "...");
    }
    dash_put(b, "</td></tr>\n");
}

/* The links below the list: the first page, and the next one (or, when the
 * page ended at the scan bound, where the search goes on). */
static void page_links(dash_buf *b, const dash_list *l) {
    dash_put(b, "</table>\n<nav class=\"pages\">");
    if (l->f.before_id) {
        dash_put(b, "<a id=\"first\" href=\"/tasks?");
        filter_query(b, &l->f);
        dash_put(b, "\">first page</a>");
    }
    if (l->next_before) {
        dash_printf(b, "<a id=\"%s\" href=\"/tasks?", l->cut ? "continue" : "next");
        filter_query(b, &l->f);
        dash_printf(b, "&amp;before=%" PRId64 "\">%s</a>", (int64_t)l->next_before,
                    l->cut ? "continue with older tasks" : "next page");
    }
    dash_put(b, "</nav>\n");
}

void dash_page_tasks(const dash_ctx *c, const dash_query *q, dash_reply *r) {
    dash_list l;
    if (dash_list_read(c, q, &l, r) != 0) return;
    dash_buf *b = &r->body;
    dash_page_begin(b, "Tasks");
    filter_form(b, &l.f);
    dash_put(b, "<table id=\"tasks\"><tr><th>id</th><th>queue</th><th>function</th>"
                "<th>status</th><th>attempts</th><th>enqueued</th><th>finished</th>"
                "<th>error</th></tr>\n");
    for (size_t i = 0; i < l.n_shown; i++) task_row(b, l.items[i]);
    page_links(b, &l);
    dash_printf(b, "<p>%zu task%s shown.", l.n_shown, l.n_shown == 1 ? "" : "s");
    if (l.cut)
        dash_printf(b,
                    " <span id=\"scan\">No index serves this filter, so a page examines at "
                    "most %" PRId64 " tasks: this one examined ids %" PRId64 "..%" PRId64
                    ". Continue to search older tasks, or add a queue and a status.</span>",
                    (int64_t)c->scan_ids, (int64_t)l.scan_floor, (int64_t)l.scan_top);
    dash_put(b, "</p>\n");
    dash_page_end(b);
    dash_list_free(&l);
}
