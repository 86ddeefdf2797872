/*
 * dash_server.c - the dashboard's HTTP server on libmicrohttpd: a thread
 * per connection (so a slow action, waiting for a lock, never holds the
 * other requests; at most DASH_CONN_MAX connections, DASH_CONN_PER_IP from
 * one address, each closed after DASH_IDLE_S seconds without a byte),
 * paces the requests (dash_pace.c: a flood waits for its turn rather than
 * taking the workers' CPU; the style sheet is not paced), routes each
 * request by method and path, reads a
 * POST body of at most DASH_BODY_MAX bytes, and sends every reply with the
 * headers that keep the pages safe in a browser (Content-Security-Policy
 * without scripts, nosniff, no framing, no caching).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"
#include "http_host.h"

struct dash_server {
    struct MHD_Daemon *d;
    const dash_ctx *ctx;
    unsigned port;
    int loopback; /* listening on 127.0.0.0/8: the Host header must name it */
};

/* The body of a POST being received. */
typedef struct post_body {
    char data[DASH_BODY_MAX];
    size_t len;
    int too_big;
} post_body;

static const char CSP[] = "default-src 'none'; style-src 'self'; img-src 'self'; "
                          "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

static enum MHD_Result send_reply(struct MHD_Connection *conn, dash_reply *r, const char *allow) {
    if (r->body.failed) dash_error(r, 500, "out of memory");
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->body.len, r->body.s ? r->body.s : (char *)"", MHD_RESPMEM_MUST_COPY);
    dash_buf_free(&r->body);
    if (resp == NULL) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type);
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (r->location[0]) MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
    if (allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    /* A malformed request: what follows it on the connection is not trusted. */
    if (r->status == 400) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (r->retry_after > 0) {
        char secs[16];
        snprintf(secs, sizeof secs, "%d", r->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
    enum MHD_Result ret = MHD_queue_response(conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The parameters of the task list, in dash_query.seen's bit order. */
static const char *const QUERY_KEYS[] = {"queue", "status", "function", "before", "limit"};
#define QUERY_KEYS_N (sizeof QUERY_KEYS / sizeof QUERY_KEYS[0])

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value) {
    (void)kind;
    dash_query *q = cls;
    const char *const *keys = QUERY_KEYS;
    const char **fields[] = {&q->queue, &q->status, &q->function, &q->before, &q->limit};
    for (size_t i = 0; i < QUERY_KEYS_N; i++) {
        if (strcmp(key, keys[i]) != 0) continue;
        /* A field given twice is refused, as a form's is: which one the
         * reader meant is not ours to guess. */
        if (q->seen & (1u << i)) {
            if (q->repeated == NULL) q->repeated = keys[i];
        }
        q->seen |= 1u << i;
        /* An empty queue or function is no filter. An empty status is
         * "any" (the filter form's first choice); an empty before or
         * limit is refused by the page. */
        int empty_is_none = i == 0 || i == 2;
        *fields[i] = value && value[0] ? value : empty_is_none ? NULL : "";
        return MHD_YES;
    }
    if (q->unknown == NULL) q->unknown = key;
    return MHD_YES;
}

/* /api/tasks/ID or /api/tasks/ID/graph (rest: what follows /api/tasks/). */
static void route_api_task(const dash_ctx *c, const char *rest, dash_reply *r) {
    const char *slash = strchr(rest, '/');
    char id[32];
    if (slash == NULL) dash_api_task(c, rest, r);
    else if (strcmp(slash, "/graph") != 0 || (size_t)(slash - rest) >= sizeof id)
        dash_error(r, 404, "no such page");
    else {
        memcpy(id, rest, (size_t)(slash - rest));
        id[slash - rest] = '\0';
        dash_api_graph(c, id, r);
    }
}

/* Route a GET or HEAD of a known page (path_kind 1). */
static void route_get(const dash_ctx *c, const char *url, const dash_query *q, dash_reply *r) {
    int is_list = strcmp(url, "/tasks") == 0 || strcmp(url, "/api/tasks") == 0;
    if (q->repeated) {
        dash_error(r, 400, "the parameter '%s' is given more than once", q->repeated);
        return;
    }
    /* A parameter of the task list elsewhere, even empty, is refused by
     * its name (the first one given, in QUERY_KEYS order). */
    const char *misplaced = NULL;
    for (size_t i = 0; !is_list && !misplaced && i < QUERY_KEYS_N; i++)
        if (q->seen & (1u << i)) misplaced = QUERY_KEYS[i];
    if (q->unknown || misplaced) {
        dash_error(r, 400, "unknown parameter '%s' for %s", q->unknown ? q->unknown : misplaced,
                   url);
        return;
    }
    if (strcmp(url, "/tasks") == 0) dash_page_tasks(c, q, r);
    else if (strcmp(url, "/api/tasks") == 0) dash_api_tasks(c, q, r);
    else if (strcmp(url, "/") == 0) dash_page_queues(c, r);
    else if (strcmp(url, "/api/queues") == 0) dash_api_queues(c, r);
    else if (strcmp(url, "/workers") == 0) dash_page_workers(c, r);
    else if (strcmp(url, "/api/workers") == 0) dash_api_workers(c, r);
    else if (strcmp(url, "/metrics") == 0) dash_page_metrics(c, r);
    else if (strncmp(url, "/tasks/", 7) == 0) dash_page_task(c, url + 7, r);
    else if (strncmp(url, "/api/tasks/", 11) == 0) route_api_task(c, url + 11, r);
    else {
        r->type = "text/css; charset=utf-8";
        dash_put(&r->body, dash_css);
    }
}

/* 1 when url is a page (GET), 2 an action (POST), 0 neither. */
static int path_kind(const char *url) {
    if (strncmp(url, "/actions/", 9) == 0) return 2;
    static const char *const pages[] = {"/",          "/tasks",           "/workers",
                                        "/metrics",   "/static/dash.css", "/api/queues",
                                        "/api/tasks", "/api/workers"};
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
        if (strcmp(url, pages[i]) == 0) return 1;
    return strncmp(url, "/tasks/", 7) == 0 || strncmp(url, "/api/tasks/", 11) == 0;
}

/* MHD's unescape callback, for the path and each query key and value:
 * percent-decode, except text holding "%00", which is left as sent: a NUL
 * would end the decoded string early, so that "/tasks/1%00x" would read as
 * "/tasks/1". Left encoded, it matches no page, id or queue. */
static size_t unescape_no_nul(void *cls, struct MHD_Connection *conn, char *s) {
    (void)cls;
    (void)conn;
    if (strstr(s, "%00") != NULL) return strlen(s);
    return MHD_http_unescape(s);
}

static const char *header(struct MHD_Connection *conn, const char *name) {
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* Answer a complete request. */
static enum MHD_Result answer(const struct dash_server *s, struct MHD_Connection *conn,
                              const char *url, const char *method, const post_body *pb) {
    dash_reply r;
    memset(&r, 0, sizeof r);
    r.status = 200;
    r.type = "text/html; charset=utf-8";
    r.is_api = strncmp(url, "/api/", 5) == 0;
    int kind = path_kind(url);
    int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int is_post = strcmp(method, "POST") == 0;
    const char *host = header(conn, MHD_HTTP_HEADER_HOST);
    const char *why = NULL;
    unsigned refusal = http_host_refusal(conn, s->loopback, &why);
    if (refusal != 0) {
        dash_error(&r, refusal, "%s", why);
    } else if (strcmp(url, "/static/dash.css") != 0 && dash_pace_take(s->ctx->pace) != 0) {
        /* Paced out: every slot of the next DASH_PACE_WAIT_MAX_US is taken. */
        dash_error(&r, 503, "too many requests (--max-rate): try again in a second");
        r.retry_after = 1;
    } else if (kind == 0) {
        dash_error(&r, 404, "no such page: try / (queues), /tasks, /workers or /metrics");
    } else if ((kind == 1 && !is_get) || (kind == 2 && !is_post)) {
        dash_error(&r, 405, "method %s not allowed here (%s)", method,
                   kind == 1 ? "GET or HEAD" : "POST");
        return send_reply(conn, &r, kind == 1 ? "GET, HEAD" : "POST");
    } else if (kind == 2 && pb->too_big) {
        dash_error(&r, 413, "the form is larger than %d bytes", DASH_BODY_MAX);
    } else if (kind == 2 && !dash_form_encoding_ok(header(conn, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        /* Read as a urlencoded form, a multipart one had "no token field". */
        dash_error(&r, 415,
                   "unsupported form encoding: post application/x-www-form-urlencoded "
                   "(an HTML form's default)");
    } else if (kind == 2) {
        dash_action(s->ctx, url + 9, pb->data, pb->len, host, header(conn, "Origin"),
                    header(conn, "Referer"), &r);
    } else {
        dash_query q;
        memset(&q, 0, sizeof q);
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_arg, &q);
        route_get(s->ctx, url, &q, &r);
    }
    return send_reply(conn, &r, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **state) {
    (void)version;
    post_body *pb = *state;
    static const post_body no_body; /* a GET's: no form */
    if (strcmp(method, "POST") != 0) return answer(cls, conn, url, method, &no_body);
    if (pb == NULL) { /* first call: headers only; the body comes next */
        pb = calloc(1, sizeof *pb);
        if (pb == NULL) return MHD_NO;
        *state = pb;
        return MHD_YES;
    }
    if (*upload_len > 0) {
        if (*upload_len > sizeof pb->data - pb->len) pb->too_big = 1;
        else {
            memcpy(pb->data + pb->len, upload, *upload_len);
            pb->len += *upload_len;
        }
        *upload_len = 0;
        return MHD_YES;
    }
    return answer(cls, conn, url, method, pb);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
                         enum MHD_RequestTerminationCode why) {
    (void)cls;
    (void)conn;
    (void)why;
    free(*state);
    *state = NULL;
}

dash_server *dash_server_start(const http_addr *addr, const dash_ctx *ctx, char *msg, size_t n) {
    dash_server *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(msg, n, "out of memory");
        return NULL;
    }
    s->ctx = ctx;
    s->loopback = http_addr_is_loopback(addr);
    errno = 0;
    /* A thread per connection: an action waiting for another process's
     * write lock (up to --busy-timeout) holds only its own connection; the
     * backend is safe to use from every thread at once. */
    s->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | http_listen_flags(addr),
        0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &addr->sa, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)DASH_CONN_MAX,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)DASH_CONN_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)DASH_IDLE_S, MHD_OPTION_THREAD_STACK_SIZE,
        (size_t)DASH_STACK_BYTES, MHD_OPTION_UNESCAPE_CALLBACK, unescape_no_nul, NULL,
        MHD_OPTION_END);
    s->port = http_listen_result(s->d, addr, msg, n);
    if (s->d == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

unsigned dash_server_port(const dash_server *s) { return s->port; }

void dash_server_stop(dash_server *s) {
    if (s == NULL) return;
    MHD_stop_daemon(s->d);
    free(s);
}
