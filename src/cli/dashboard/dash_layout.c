/*
 * dash_layout.c - the frame of every dashboard page (head, navigation,
 * the built-in style sheet served at /static/dash.css, so that the pages
 * work offline and the Content-Security-Policy can forbid everything else)
 * and the error replies, HTML for pages and JSON under /api/.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dash.h"

const char dash_css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}"
    "header{background:#243447;color:#fff;padding:.5em 1em}"
    "header a{color:#fff;margin-right:1.2em;text-decoration:none;font-weight:600}"
    "main{padding:1em}"
    "table{border-collapse:collapse;background:#fff}"
    "th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}"
    "th{background:#eef}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "pre{background:#fff;border:1px solid #ddd;padding:.5em;white-space:pre-wrap;"
    "word-break:break-all;max-height:30em;overflow:auto}"
    ".st-failed{color:#b00020}.st-succeeded{color:#1b7f3b}.st-running{color:#1a5fb4}"
    ".st-cancelled{color:#777}"
    "form.act{display:inline-block;margin:.2em .5em .2em 0}"
    "form.act input[type=password]{width:10em}"
    ".err{color:#b00020;font-weight:600}"
    "nav.pages a{margin-right:1em}"
    /* The pipeline's graph (dash_graph.c): a node's status is its text and
     * its colour; the current task has a thick border. */
    ".graph{overflow:auto;max-height:40em;background:#fff;border:1px solid #ddd}"
    ".graph svg{display:block}"
    ".ge{stroke:#777;stroke-width:1.2}.graph marker path{fill:#777}"
    ".gn rect{fill:#f4f4f8;stroke:#888}.gn text{font-size:12px;fill:#222}"
    ".gn text.gs{font-size:11px;fill:#555}.gn.cur rect{stroke:#243447;stroke-width:3}"
    ".gn.st-succeeded rect{fill:#e3f4e8;stroke:#1b7f3b}"
    ".gn.st-failed rect{fill:#fbe3e6;stroke:#b00020}"
    ".gn.st-running rect{fill:#e3ecf9;stroke:#1a5fb4}"
    ".gn.st-waiting rect,.gn.st-scheduled rect{fill:#fff8e1;stroke:#a07800}"
    ".gn.st-cancelled rect{fill:#eee;stroke:#777}"
    ".gn:hover rect{stroke-width:2}"

    ".muted{color:#777}svg.rate{display:block}";

void dash_page_begin(dash_buf *b, const char *title) {
    dash_put(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width\">"
                "<link rel=\"stylesheet\" href=\"/static/dash.css\"><title>");
    dash_esc(b, title);
    dash_put(b, " - sitq</title></head><body><header><a href=\"/\">Queues</a>"
                "<a href=\"/tasks\">Tasks</a><a href=\"/workers\">Workers</a>"
                "<a href=\"/metrics\">Metrics</a></header><main><h1>");
    dash_esc(b, title);
    dash_put(b, "</h1>\n");
}

void dash_page_end(dash_buf *b) { dash_put(b, "</main></body></html>\n"); }

/* The JSON string of s (quotes and escapes) appended to b. */
static void json_str(dash_buf *b, const char *s) {
    dash_put(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = dash_utf8_seq((const char *)p);
        if (n == 0) dash_put(b, "\\ufffd"); /* a byte that is not UTF-8: JSON must be */
        else if (*p == '"' || *p == '\\') dash_printf(b, "\\%c", *p);
        else if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&') dash_printf(b, "\\u%04x", *p);
        else dash_putn(b, (const char *)p, n);
        p += n ? n : 1;
    }
    dash_put(b, "\"");
}

void dash_error(dash_reply *r, unsigned status, const char *fmt, ...) {
    char msg[SITQ_ERROR_MESSAGE_SIZE + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dash_buf_free(&r->body);
    r->status = status;
    r->location[0] = '\0';
    if (r->is_api) {
        r->type = "application/json";
        dash_printf(&r->body, "{\"status\":%u,\"error\":", status);
        json_str(&r->body, msg);
        dash_put(&r->body, "}\n");
        return;
    }
    r->type = "text/html; charset=utf-8";
    char title[32];
    snprintf(title, sizeof title, "Error %u", status);
    dash_page_begin(&r->body, title);
    dash_put(&r->body, "<p class=\"err\">");
    dash_esc(&r->body, msg);
    dash_put(&r->body, "</p>\n");
    dash_page_end(&r->body);
}

unsigned dash_status_for(sitq_code code) {
    switch (code) {
    case SITQ_EINVAL: return 400;
    case SITQ_ENOTFOUND: return 404;
    case SITQ_ESTATE: return 409;
    case SITQ_ESTORAGE:
    case SITQ_EBUSY: return 503;
    default: return 500;
    }
}

void dash_api_error(dash_reply *r, const char *what, sitq_code code, const sitq_error *err) {
    dash_error(r, dash_status_for(code), "%s: %s", what,
               err && err->message[0] ? err->message : sitq_strerror(code));
}
