/*
 * http_host.h - the Host header check of the command's HTTP servers (the
 * dashboard and the worker's metrics endpoint). A server that listens on
 * loopback answers only requests whose Host names a loopback address: a
 * page of another site that a browser resolved to 127.0.0.1 (DNS
 * rebinding) sends its own name as Host and is refused.
 */
#ifndef SITQ_CLI_HTTP_HOST_H
#define SITQ_CLI_HTTP_HOST_H

#include "http_addr.h"

struct MHD_Connection;

/**
 * 1 when host (a Host header's value; NULL: absent) is exactly a loopback
 * name with an optional port: "localhost", an IPv4 address of 127.0.0.0/8
 * in dotted decimal, or "[::1]", each optionally followed by ":PORT" (1..5
 * digits, at most 65535). Anything else, trailing bytes included, gives 0.
 * Pure; thread-safe.
 */
int http_host_is_local(const char *host);

/**
 * The HTTP status that refuses the request on conn for its headers, or 0
 * when it may be served, with *why set to a static message for a refusal:
 * 400 when it has more than one Host header, or framing that parsers may
 * read differently: more than one Content-Length header, one whose value
 * is not plain digits, one beside Transfer-Encoding, or a header name
 * holding a blank ("Content-Length :") (a front end that read the body's
 * length otherwise would see the rest as another request); 421 when
 * loopback is set and the Host is absent or not local (http_host_is_local).
 * The server should close the connection after a 400. Thread-safe (reads
 * the request's headers only).
 */
unsigned http_host_refusal(struct MHD_Connection *conn, int loopback, const char **why);

struct MHD_Daemon;

/**
 * After MHD_start_daemon on addr: the port d listens on (the one the
 * system picked when addr's port is 0), or, when d is NULL, 0 with
 * "cannot listen on HOST:PORT[: strerror(errno)]" in msg (n bytes; errno as
 * MHD_start_daemon left it, 0 for no reason known). Thread-safe.
 */
unsigned http_listen_result(struct MHD_Daemon *d, const http_addr *addr, char *msg, size_t n);

/** The libmicrohttpd flag that addr's family needs (MHD_USE_IPv6 or 0). */
unsigned http_listen_flags(const http_addr *addr);

#endif /* SITQ_CLI_HTTP_HOST_H */
