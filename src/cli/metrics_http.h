/*
 * metrics_http.h - `sitq worker --metrics-address`: /metrics over HTTP
 * (libmicrohttpd), the store's metrics and the worker process's own.
 */
#ifndef SITQ_CLI_METRICS_HTTP_H
#define SITQ_CLI_METRICS_HTTP_H

#include "http_addr.h"
#include <stddef.h>

#include "sitq.h"

/**
 * Parse HOST:PORT (an IPv4 address, or an IPv6 one in brackets as
 * [::1]:9100, and a port of digits only, 1..65535, or 0 to pick a free
 * port; no sign, blank or other character) or a bare PORT (host 127.0.0.1)
 * into *out (http_addr_parse; a port is required). Returns 0, or -1 with a
 * message in msg (size n) saying what is wrong.
 */
int metrics_address_parse(const char *text, http_addr *out, char *msg, size_t n);

typedef struct metrics_http metrics_http;

/**
 * Listen on addr and answer GET /metrics with sitq_metrics_text(backend)
 * followed by sitq_worker_metrics_text(worker); 404 for any other path
 * (compared byte for byte, without percent-decoding), 405 for other
 * methods. One thread answers every request in turn (a scrape never runs
 * beside another), so the store sees at most one scrape's reads at a time;
 * it holds up to 128 connections and closes one idle for 5 s, so idle
 * clients cannot keep a scrape out. backend and worker must outlive the
 * server. Returns NULL with a message in msg when it cannot
 * listen (address in use, not local, ...).
 */
metrics_http *metrics_http_start(const http_addr *addr, sitq_backend *backend, sitq_worker *worker,
                                 char *msg, size_t n);

/** The port it listens on (the one chosen when 0 was asked). */
unsigned metrics_http_port(const metrics_http *h);

/** Stop listening and free it (NULL is a no-op). Waits for a scrape in progress. */
void metrics_http_stop(metrics_http *h);

#endif
