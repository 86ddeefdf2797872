/*
 * http_host.c - the exact parse of a Host header (see http_host.h). The
 * value is parsed whole (name, then an optional port, then nothing) so that
 * a loopback name followed by other bytes, such as "[::1]evil.example" or
 * "127.0.0.1.evil.example", is not taken for a local one.
 */
#include "http_host.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* 1 when p is empty or ":" and 1..5 digits of a port <= 65535. */
static int port_ok(const char *p) {
    if (*p == '\0') return 1;
    if (*p != ':') return 0;
    p++;
    size_t n = strspn(p, "0123456789");
    if (n == 0 || n > 5 || p[n] != '\0') return 0;
    long v = 0;
    for (size_t i = 0; i < n; i++) v = v * 10 + (p[i] - '0');
    return v <= 65535;
}

int http_host_is_local(const char *host) {
    if (host == NULL) return 0;
    if (strncmp(host, "[::1]", 5) == 0) return port_ok(host + 5);
    size_t n = strcspn(host, ":");
    char h[16]; /* the longest dotted IPv4 address and "localhost" fit */
    if (n == 0 || n >= sizeof h) return 0;
    memcpy(h, host, n);
    h[n] = '\0';
    if (!port_ok(host + n)) return 0;
    if (strcasecmp(h, "localhost") == 0) return 1;
    struct in_addr a;
    return inet_pton(AF_INET, h, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}
