/*
 * http_addr.h - the listen address of the command's HTTP servers (the
 * dashboard's --listen, the worker's --metrics-address): IPv4 or IPv6, in
 * the usual notation, an IPv6 address in brackets when a port follows.
 */
#ifndef SITQ_CLI_HTTP_ADDR_H
#define SITQ_CLI_HTTP_ADDR_H

#include <netinet/in.h>
#include <stddef.h>

/** An IPv4 or IPv6 socket address (sa.sa_family says which). */
typedef union http_addr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
} http_addr;

/** Longest text http_addr_format writes, NUL included ("[v6]:65535"). */
#define HTTP_ADDR_TEXT_MAX (INET6_ADDRSTRLEN + 8)

/**
 * Parse text into *out: "HOST:PORT" with an IPv4 HOST in dotted decimal,
 * "[V6]:PORT" or "[V6]" with an IPv6 address in brackets, a bare IPv6
 * address (two colons or more, no brackets: all of it is the address), or
 * a bare "PORT" (127.0.0.1). PORT is 1..5 digits, 0..65535 (0: the system
 * picks one). Where no port is written, default_port is used; when it is
 * negative, a port is required. Returns 0, or -1 with a message quoting
 * text in msg (n bytes). Pure; thread-safe.
 */
int http_addr_parse(const char *text, int default_port, http_addr *out, char *msg, size_t n);

/** The size of a's socket address for bind (by its family). Pure. */
size_t http_addr_len(const http_addr *a);

/** The port of a, host byte order. Pure. */
unsigned http_addr_port(const http_addr *a);

/** a as "HOST:PORT" ("[V6]:PORT" for IPv6) with port in place of a's into
 *  out (HTTP_ADDR_TEXT_MAX bytes at least: n). Pure; thread-safe. */
void http_addr_format(const http_addr *a, unsigned port, char *out, size_t n);

/** 1 when a is a loopback address: 127.0.0.0/8 or ::1 (also as an
 *  IPv4-mapped ::ffff:127.x.y.z). Pure; thread-safe. */
int http_addr_is_loopback(const http_addr *a);

#endif /* SITQ_CLI_HTTP_ADDR_H */
