/*
 * http_addr.c - the parse of a listen address (http_addr.h). Strict: the
 * text is split by the notation (brackets, number of colons) first, then
 * each part must be whole (inet_pton, digits only), so that nothing is
 * guessed; a bare IPv6 address is all address, since "::1:80" is one.
 */
#include "http_addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* Parse p (1..5 digits, <= 65535) into *port; 0 or -1. */
static int parse_port(const char *p, unsigned *port) {
    size_t n = strspn(p, "0123456789");
    if (n == 0 || n > 5 || p[n] != '\0') return -1;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) v = v * 10 + (unsigned long)(p[i] - '0');
    if (v > 65535) return -1;
    *port = (unsigned)v;
    return 0;
}

/* Set out to the IPv6 address host (NUL-terminated) and port; 0 or -1. */
static int set_v6(http_addr *out, const char *host, unsigned port) {
    out->in6.sin6_family = AF_INET6;
    out->in6.sin6_port = htons((uint16_t)port);
    return inet_pton(AF_INET6, host, &out->in6.sin6_addr) == 1 ? 0 : -1;
}

/* "[V6]" or "[V6]:PORT". */
static int parse_bracketed(const char *text, int default_port, http_addr *out, char *msg,
                           size_t n) {
    const char *end = strchr(text, ']');
    char host[INET6_ADDRSTRLEN];
    size_t hlen = end ? (size_t)(end - text - 1) : 0;
    if (end == NULL || hlen == 0 || hlen >= sizeof host) {
        snprintf(msg, n, "'%s': expected [IPV6]:PORT (such as [::1]:8080)", text);
        return -1;
    }
    memcpy(host, text + 1, hlen);
    host[hlen] = '\0';
    unsigned port = default_port < 0 ? 0 : (unsigned)default_port;
    if ((end[1] == '\0' && default_port < 0) || (end[1] != '\0' && end[1] != ':') ||
        (end[1] == ':' && parse_port(end + 2, &port) != 0)) {
        snprintf(msg, n, "'%s': expected [IPV6]:PORT, the port in digits only, 0..65535", text);
        return -1;
    }
    if (set_v6(out, host, port) != 0) {
        snprintf(msg, n, "'%s': '%s' is not an IPv6 address", text, host);
        return -1;
    }
    return 0;
}

/* "HOST:PORT" (IPv4) or a bare "PORT". */
static int parse_v4(const char *text, const char *colon, http_addr *out, char *msg, size_t n) {
    char host[INET_ADDRSTRLEN] = "127.0.0.1"; /* a bare PORT stays on loopback */
    size_t hlen = colon ? (size_t)(colon - text) : 0;
    if (colon != NULL && (hlen == 0 || hlen >= sizeof host)) {
        snprintf(msg, n, "'%s': expected [HOST:]PORT (127.0.0.1:8080, [::1]:8080)", text);
        return -1;
    }
    if (colon != NULL) {
        memcpy(host, text, hlen);
        host[hlen] = '\0';
    }
    out->in.sin_family = AF_INET;
    if (inet_pton(AF_INET, host, &out->in.sin_addr) != 1) {
        snprintf(msg, n, "'%s': '%s' is not an IPv4 address (127.0.0.1:8080, [::1]:8080)", text,
                 host);
        return -1;
    }
    unsigned port = 0;
    if (parse_port(colon ? colon + 1 : text, &port) != 0) {
        snprintf(msg, n, "'%s': expected [HOST:]PORT, the port in digits only, 0..65535", text);
        return -1;
    }
    out->in.sin_port = htons((uint16_t)port);
    return 0;
}

int http_addr_parse(const char *text, int default_port, http_addr *out, char *msg, size_t n) {
    memset(out, 0, sizeof *out);
    if (text == NULL || text[0] == '\0') {
        snprintf(msg, n, "'': expected [HOST:]PORT (127.0.0.1:8080, [::1]:8080)");
        return -1;
    }
    if (text[0] == '[') return parse_bracketed(text, default_port, out, msg, n);
    const char *colon = strchr(text, ':');
    if (colon == NULL || strchr(colon + 1, ':') == NULL) return parse_v4(text, colon, out, msg, n);
    if (default_port < 0) { /* a bare IPv6 address, but a port is needed */
        snprintf(msg, n, "'%s': an IPv6 address takes brackets and a port ([::1]:9100)", text);
        return -1;
    }
    if (strlen(text) >= INET6_ADDRSTRLEN || set_v6(out, text, (unsigned)default_port) != 0) {
        snprintf(msg, n, "'%s' is not an IPv6 address (a port follows [::1] in brackets)", text);
        return -1;
    }
    return 0;
}

size_t http_addr_len(const http_addr *a) {
    return a->sa.sa_family == AF_INET6 ? sizeof a->in6 : sizeof a->in;
}

unsigned http_addr_port(const http_addr *a) {
    return ntohs(a->sa.sa_family == AF_INET6 ? a->in6.sin6_port : a->in.sin_port);
}

void http_addr_format(const http_addr *a, unsigned port, char *out, size_t n) {
    char host[INET6_ADDRSTRLEN] = "?";
    if (a->sa.sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &a->in6.sin6_addr, host, sizeof host);
        snprintf(out, n, "[%s]:%u", host, port);
    } else {
        inet_ntop(AF_INET, &a->in.sin_addr, host, sizeof host);
        snprintf(out, n, "%s:%u", host, port);
    }
}

int http_addr_is_loopback(const http_addr *a) {
    if (a->sa.sa_family != AF_INET6) return (ntohl(a->in.sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *v6 = &a->in6.sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(v6)) return 1;
    return IN6_IS_ADDR_V4MAPPED(v6) && v6->s6_addr[12] == 127;
}
