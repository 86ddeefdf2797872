/*
 * metrics_http.c - the /metrics endpoint of `sitq worker --metrics-address`,
 * on libmicrohttpd's internal polling thread: one request at a time, read
 * only, each answered from one sitq_metrics_text (bounded: it never walks
 * the tasks) and the worker's in-memory figures.
 *
 * Connections: the polling thread (epoll or poll, as MHD picks) holds idle
 * connections for the price of a descriptor each, so the limit is generous
 * (CONN_LIMIT) and an idle one is closed after CONN_TIMEOUT_S: a handful of
 * clients that connect and send nothing cannot fill the slots and keep
 * Prometheus out, as a small limit with a long timeout let them. A thread
 * per connection would cost a thread per idle client for the same effect,
 * and would run scrapes side by side. Prometheus reconnects when its
 * keep-alive connection was closed between scrapes.
 *
 * Listening on loopback, it answers only a Host that names a loopback
 * address (421 otherwise) and refuses two Host headers (400), as the
 * dashboard does (http_host.h): a browser page cannot read the metrics
 * through DNS rebinding.
 *
 * Paths are compared as sent: no percent-decoding (unescape_none), so only
 * the exact bytes "/metrics" are served and "/metrics%00" (which decodes to
 * "/metrics" followed by a NUL, that strcmp would stop at) is a 404.
 */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_host.h"

/* Connections open at once; more wait in the listen backlog. */
#define CONN_LIMIT 128u
/* Seconds a connection may stay idle (no request, or between requests). */
#define CONN_TIMEOUT_S 5u

struct metrics_http {
    struct MHD_Daemon *d;
    sitq_backend *backend;
    sitq_worker *worker;
    unsigned port;
    int loopback; /* listening on loopback (127.0.0.0/8, ::1): the Host must name it */
};

int metrics_address_parse(const char *text, http_addr *out, char *msg, size_t n) {
    return http_addr_parse(text, -1, out, msg, n);
}

/* Queue a response; body is freed by libmicrohttpd when owned, else static. */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, char *body, size_t len,
                             int owned, const char *type) {
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (owned) free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    /* A malformed request: what follows it on the connection is not trusted. */
    if (status == MHD_HTTP_BAD_REQUEST)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* The store's text then the worker's, as one malloc'd body. */
static char *metrics_body(const metrics_http *h, size_t *len, sitq_error *err) {
    char *store = NULL, *own = NULL;
    size_t ls = 0, lo = 0;
    if (sitq_metrics_text(h->backend, &store, &ls, err) != SITQ_OK) return NULL;
    if (sitq_worker_metrics_text(h->worker, &own, &lo, err) != SITQ_OK) {
        free(store);
        return NULL;
    }
    char *all = realloc(store, ls + lo + 1);
    if (all) {
        memcpy(all + ls, own, lo + 1);
        *len = ls + lo;
    } else {
        free(store);
    }
    free(own);
    return all;
}

/* MHD's unescape callback: leave the path as sent (see the header). */
static size_t unescape_none(void *cls, struct MHD_Connection *conn, char *s) {
    (void)cls;
    (void)conn;
    return strlen(s);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **state) {
    (void)version;
    (void)upload;
    (void)upload_len;
    (void)state;
    static char not_found[] = "not found: the metrics are at /metrics\n";
    static char bad_method[] = "only GET and HEAD are served\n";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, bad_method, sizeof bad_method - 1, 0,
                     "text/plain");
    const char *why = NULL;
    unsigned refusal = http_host_refusal(conn, ((const metrics_http *)cls)->loopback, &why);
    if (refusal != 0) {
        char *copy = strdup(why);
        if (!copy) return MHD_NO;
        return reply(conn, refusal, copy, strlen(copy), 1, "text/plain");
    }
    if (strcmp(url, "/metrics") != 0)
        return reply(conn, MHD_HTTP_NOT_FOUND, not_found, sizeof not_found - 1, 0, "text/plain");
    sitq_error err;
    memset(&err, 0, sizeof err);
    size_t len = 0;
    char *body = metrics_body(cls, &len, &err);
    if (!body) {
        char msg[sizeof err.message + 32];
        snprintf(msg, sizeof msg, "metrics unavailable: %s\n", err.message);
        char *copy = strdup(msg);
        if (!copy) return MHD_NO;
        return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, copy, strlen(copy), 1, "text/plain");
    }
    return reply(conn, MHD_HTTP_OK, body, len, 1, "text/plain; version=0.0.4; charset=utf-8");
}

metrics_http *metrics_http_start(const http_addr *addr, sitq_backend *backend, sitq_worker *worker,
                                 char *msg, size_t n) {
    metrics_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(msg, n, "out of memory");
        return NULL;
    }
    h->backend = backend;
    h->worker = worker;
    h->loopback = http_addr_is_loopback(addr);
    errno = 0;
    /* No MHD_USE_ERROR_LOG: its bind error names port 0 (the port is in the
     * sockaddr); the message below says what failed. */
    h->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | http_listen_flags(addr), 0, NULL, NULL,
                            on_request, h, MHD_OPTION_SOCK_ADDR, &addr->sa,
                            MHD_OPTION_CONNECTION_LIMIT, CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
                            CONN_TIMEOUT_S, MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL,
                            MHD_OPTION_END);
    h->port = http_listen_result(h->d, addr, msg, n);
    if (!h->d) {
        free(h);
        return NULL;
    }
    return h;
}

unsigned metrics_http_port(const metrics_http *h) { return h->port; }

void metrics_http_stop(metrics_http *h) {
    if (!h) return;
    MHD_stop_daemon(h->d);
    free(h);
}
