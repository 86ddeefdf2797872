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
    if (q->status && q->status[0] && (f->status = sitq_status_parse(q->status)) < 0) {
        dash_error(r, 400,
                   "unknown status '%s' (queued, waiting, scheduled, running, "
                   "succeeded, failed or cancelled)",
                   q->status);
        return -1;
    }
    if (q->status && !q->status[0]) f->status = SITQ_STATUS_ANY;
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
        dash_escn(b, t->error, dash_utf8_cut(t->error, n, ROW_ERROR_SHOWN));
        if (n > ROW_ERROR_SHOWN) dash_put(b, "...");
    }
    dash_put(b, "</td></tr>\n");
}

void dash_page_tasks(const dash_ctx *c, const dash_query *q, dash_reply *r) {
    sitq_list_filter f;
    if (dash_list_filter(c, q, &f, r) != 0) return;
    size_t page = f.limit;
    f.limit = page + 1; /* one more says whether a next page exists */
    sitq_result **items = NULL;
    size_t n = 0;
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code code = sitq_list_tasks(c->backend, &f, &items, &n, &err);
    f.limit = page;
    if (code != SITQ_OK) {
        dash_api_error(r, "listing the tasks", code, &err);
        return;
    }
    dash_buf *b = &r->body;
    dash_page_begin(b, "Tasks");
    filter_form(b, &f);
    dash_put(b, "<table id=\"tasks\"><tr><th>id</th><th>queue</th><th>function</th>"
                "<th>status</th><th>attempts</th><th>enqueued</th><th>finished</th>"
                "<th>error</th></tr>\n");
    for (size_t i = 0; i < n && i < page; i++) task_row(b, items[i]);
    dash_put(b, "</table>\n<nav class=\"pages\">");
    if (f.before_id) {
        dash_put(b, "<a id=\"first\" href=\"/tasks?");
        filter_query(b, &f);
        dash_put(b, "\">first page</a>");
    }
    if (n > page) {
        dash_put(b, "<a id=\"next\" href=\"/tasks?");
        filter_query(b, &f);
        dash_printf(b, "&amp;before=%" PRId64 "\">next page</a>", (int64_t)items[page - 1]->id);
    }
    dash_printf(b, "</nav>\n<p>%zu task%s shown.</p>\n", n < page ? n : page,
                (n < page ? n : page) == 1 ? "" : "s");
    dash_page_end(b);
    sitq_result_list_free(items, n);
}
