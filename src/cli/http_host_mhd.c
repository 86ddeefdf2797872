/*
 * http_host_mhd.c - http_host_refusal: the header checks of http_host.h
 * (Host, and the framing of the body) applied to a libmicrohttpd request, shared by the dashboard and the
 * metrics endpoint. libmicrohttpd keeps every header line, so a second
 * Host or Content-Length is seen (and refused) rather than hidden behind
 * the first.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http_host.h"

/* What the header lines that frame a request say. */
typedef struct header_counts {
    unsigned host, length, transfer_encoding, bad_name, bad_length;
} header_counts;

static enum MHD_Result count_headers(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value) {
    (void)kind;
    header_counts *n = cls;
    /* "Content-Length :" is not Content-Length here, but may be to a proxy. */
    if (strpbrk(key, " \t") != NULL) n->bad_name++;
    if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) n->host++;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) n->transfer_encoding++;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        n->length++;
        /* Digits only: a signed or decorated value ("+4") is read
         * differently by different parsers. */
        if (value == NULL || value[0] == '\0' || value[strspn(value, "0123456789")] != '\0')
            n->bad_length++;
    }
    return MHD_YES;
}

/* The message for a request whose framing is ambiguous, or NULL. */
static const char *framing_refusal(const header_counts *n) {
    if (n->host > 1) return "more than one Host header";
    if (n->bad_name > 0) return "a header name holding a blank";
    if (n->length > 1) return "more than one Content-Length header";
    if (n->bad_length > 0) return "a Content-Length that is not a decimal number";
    if (n->length > 0 && n->transfer_encoding > 0)
        return "both Content-Length and Transfer-Encoding";
    return NULL;
}

unsigned http_host_refusal(struct MHD_Connection *conn, int loopback, const char **why) {
    header_counts n;
    memset(&n, 0, sizeof n);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_headers, &n);
    *why = framing_refusal(&n);
    if (*why) return 400;
    if (!loopback) return 0;
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (http_host_is_local(host)) return 0;
    *why = "the Host header must name this loopback address (127.0.0.1:PORT, [::1]:PORT or "
           "localhost:PORT)";
    return 421;
}

unsigned http_listen_result(struct MHD_Daemon *d, const http_addr *addr, char *msg, size_t n) {
    if (d == NULL) {
        int e = errno;
        char where[HTTP_ADDR_TEXT_MAX];
        http_addr_format(addr, http_addr_port(addr), where, sizeof where);
        snprintf(msg, n, "cannot listen on %s%s%s", where, e ? ": " : "", e ? strerror(e) : "");
        return 0;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : http_addr_port(addr);
}

unsigned http_listen_flags(const http_addr *addr) {
    return addr->sa.sa_family == AF_INET6 ? MHD_USE_IPv6 : 0;
}
