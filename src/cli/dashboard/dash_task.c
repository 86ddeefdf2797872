/*
 * dash_task.c - one task's page: its fields and times, its error and
 * traceback, a summary of its payload (a shell task's command line) and of
 * its result (a Python task's stored repr), each escaped and cut to
 * DASH_VALUE_SHOWN bytes, its dependencies and dependents as links, the
 * drawing of its pipeline (dash_graph.c), and the retry or cancel form its
 * status allows. A payload larger than PAYLOAD_READ_MAX is not read at all.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"
#include "output.h"
#include "shell_payload.h"

/** Largest payload a task page reads to summarise it, in bytes. */
#define PAYLOAD_READ_MAX (1024 * 1024)

static void row_text(dash_buf *b, const char *name, const char *value) {
    dash_printf(b, "<tr><th>%s</th><td>", name);
    dash_esc(b, value);
    dash_put(b, "</td></tr>\n");
}

static void row_time(dash_buf *b, const char *name, sitq_time_us t) {
    char buf[CLI_TIME_BUF];
    fmt_time_iso(t, 1, buf, sizeof buf);
    row_text(b, name, buf);
}

/* A section with a <pre> of the summary of s[0..n). */
static void section_pre(dash_buf *b, const char *id, const char *title, const char *s, size_t n) {
    dash_printf(b, "<h2>%s</h2><pre id=\"%s\">", title, id);
    dash_esc_summary(b, s, n);
    dash_put(b, "</pre>\n");
}

/* The payload: a shell task's command line, else the bytes' summary. */
static void payload_section(sitq_queue *q, const sitq_result *t, dash_buf *b) {
    if (t->payload_len == 0) return;
    if (t->payload_len > PAYLOAD_READ_MAX) {
        dash_printf(b, "<h2>Payload</h2><p>%zu bytes (not shown).</p>\n", t->payload_len);
        return;
    }
    void *p = NULL;
    size_t len = 0;
    if (sitq_get_payload(q, t->id, &p, &len, NULL) != SITQ_OK) {
        dash_put(b, "<h2>Payload</h2><p class=\"err\">cannot be read</p>\n");
        return;
    }
    char **argv = NULL;
    int argc = 0;
    if (t->function && strcmp(t->function, SHELL_FUNCTION) == 0 &&
        shell_payload_decode(p, len, &argv, &argc, NULL) == 0) {
        char *cmd = shell_format_command(argv, argc);
        if (cmd) section_pre(b, "payload", "Command", cmd, strlen(cmd));
        free(cmd);
        free(argv);
    } else if (t->function && sitq__pyvalue_function(t->function) &&
               sitq__pyvalue_parse(p, len, &(sitq__pyvalue){0}, NULL, 0) == SITQ__PYVALUE_PICKLE) {
        /* the call's arguments, pickled: bytes no reader can use, and only
         * Python can decode them (running code) */
        dash_printf(
            b, "<h2>Payload</h2><p id=\"payload\">Python call, %zu bytes pickled (not shown)</p>\n",
            len);
    } else {
        section_pre(b, "payload", "Payload", p ? p : "", len);
    }
    free(p);
}

/* The result, of value_size bytes (t holds only its head): a Python
 * task's repr (or a note that only its pickle was stored), else the bytes'
 * summary; a line says which. */
static void result_section(dash_buf *b, const sitq_result *t, size_t value_size) {
    if (t->value == NULL) return;
    sitq__pyvalue pv;
    char note[160];
    int kind = result_python_value(t, value_size, &pv, note, sizeof note);
    dash_put(b, "<h2>Result</h2><p id=\"result-kind\">");
    dash_esc(b, note);
    dash_put(b, "</p>");
    if (kind == SITQ__PYVALUE_RECORD) {
        dash_put(b, "<pre id=\"result\">");
        dash_esc_summary(b, pv.repr, pv.repr_len);
        dash_put(b, "</pre>");
    } else if (kind != SITQ__PYVALUE_PICKLE) {
        dash_put(b, "<pre id=\"result\">");
        dash_esc_head(b, t->value, t->value_len, value_size);
        dash_put(b, "</pre>");
    }
    dash_put(b, "\n");
}

/* t's fields; its result has value_size bytes (t holds only its head). */
static void fields_table(dash_buf *b, const sitq_result *t, size_t value_size) {
    char num[64];
    dash_put(b, "<table id=\"task\">\n");
    row_text(b, "queue", t->queue);
    row_text(b, "function", t->function);
    dash_printf(b, "<tr><th>status</th><td class=\"st-%s\" id=\"status\">%s</td></tr>\n",
                sitq_status_name(t->status), sitq_status_name(t->status));
    snprintf(num, sizeof num, "%d of %d", (int)t->attempts, (int)t->max_retries + 1);
    row_text(b, "attempts", num);
    snprintf(num, sizeof num, "%d", (int)t->priority);
    row_text(b, "priority", num);
    if (t->progress >= 0) {
        snprintf(num, sizeof num, "%.0f%%", t->progress * 100);
        row_text(b, "progress", num);
    }
    if (t->cancel_requested) row_text(b, "cancel", "requested while it ran");
    row_text(b, "worker", t->worker_id);
    row_text(b, "unique key", t->unique_key);
    row_time(b, "enqueued", t->enqueued_at_us);
    row_time(b, "not before", t->eta_us);
    row_time(b, "started", t->started_at_us);
    row_time(b, "finished", t->finished_at_us);
    snprintf(num, sizeof num, "%zu bytes", t->payload_len);
    row_text(b, "payload", num);
    snprintf(num, sizeof num, "%zu bytes", value_size);
    row_text(b, "result", num);
    dash_put(b, "<tr><th>depends on</th><td id=\"deps\">");
    for (size_t i = 0; i < t->n_depends_on && i < DASH_PAGE_MAX; i++)
        dash_printf(b, "<a href=\"/tasks/%" PRId64 "\">%" PRId64 "</a> ", (int64_t)t->depends_on[i],
                    (int64_t)t->depends_on[i]);
    if (t->n_depends_on > DASH_PAGE_MAX) dash_printf(b, "... (%zu in all)", t->n_depends_on);
    if (t->n_depends_on == 0) dash_put(b, "-");
    dash_printf(b, "%s</td></tr>\n", t->finalizer ? " (finalizer)" : "");
}

/* The tasks that depend on t, as links (at most DASH_PAGE_MAX); returns
 * how many were read (0 also when the read failed). */
static size_t dependents_row(const dash_ctx *c, dash_buf *b, const sitq_result *t) {
    sitq_task_id *ids = NULL;
    size_t n = 0;
    sitq_code code = sitq_task_dependents(c->backend, t->id, DASH_PAGE_MAX + 1, &ids, &n, NULL);
    dash_put(b, "<tr><th>dependents</th><td id=\"dependents\">");
    for (size_t i = 0; i < n && i < DASH_PAGE_MAX; i++)
        dash_printf(b, "<a href=\"/tasks/%" PRId64 "\">%" PRId64 "</a> ", (int64_t)ids[i],
                    (int64_t)ids[i]);
    if (n > DASH_PAGE_MAX) dash_printf(b, "... (the first %d shown)", DASH_PAGE_MAX);
    if (code != SITQ_OK) dash_put(b, "<span class=\"err\">cannot be read</span>");
    else if (n == 0) dash_put(b, "-");
    dash_put(b, "</td></tr>\n</table>\n");
    free(ids);
    return code == SITQ_OK ? n : 0;
}

static void task_body(const dash_ctx *c, sitq_queue *q, const sitq_result *t, size_t value_size,
                      dash_buf *b) {
    char title[64];
    snprintf(title, sizeof title, "Task %" PRId64, (int64_t)t->id);
    dash_page_begin(b, title);
    fields_table(b, t, value_size);
    size_t n_dependents = dependents_row(c, b, t);
    if (c->token_len > 0) {
        char id[32];
        snprintf(id, sizeof id, "%" PRId64, (int64_t)t->id);
        if (t->status == SITQ_FAILED || t->status == SITQ_CANCELLED)
            dash_action_form(b, "retry", "id", id, 0);
        if (!sitq_status_is_terminal(t->status)) dash_action_form(b, "cancel", "id", id, 0);
    }
    if (t->n_depends_on > 0 || n_dependents > 0) dash_graph_section(c, t->id, b);
    if (t->error) section_pre(b, "error", "Error", t->error, strlen(t->error));
    if (t->traceback)
        section_pre(b, "traceback", "Traceback", t->traceback, traceback_shown_len(t->traceback));
    payload_section(q, t, b);
    result_section(b, t, value_size);
    dash_page_end(b);
}

void dash_page_task(const dash_ctx *c, const char *id_text, dash_reply *r) {
    sitq_queue *q = NULL;
    sitq_result *t = NULL;
    size_t value_size = 0;
    /* One byte past what is shown, for dash_esc_head's UTF-8 cut. */
    if (dash_task_read(c, id_text, DASH_VALUE_SHOWN + 1, r, &q, &t, &value_size) != 0) return;
    task_body(c, q, t, value_size, &r->body);
    sitq_result_free(t);
    sitq_queue_close(q);
}
