/*
 * dash_parse.c - strict parsing of what a request or the command line
 * gives the dashboard: task ids, the listen address and form fields, and
 * the token's comparison. Each parser refuses anything outside its grammar
 * rather than guessing.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dash.h"

int dash_parse_id(const char *text, sitq_task_id *out) {
    size_t n = text ? strlen(text) : 0;
    if (n == 0 || n > 19) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9') return -1;
        v = v * 10 + (uint64_t)(text[i] - '0');
    }
    if (v == 0 || v > (uint64_t)INT64_MAX) return -1;
    *out = (sitq_task_id)v;
    return 0;
}

int dash_parse_listen(const char *text, http_addr *out, char *msg, size_t n) {
    return http_addr_parse(text, DASH_PORT_DEFAULT, out, msg, n);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..len) ('+' is a space) into out (size n); -2 when
 * malformed, too long or holding a NUL byte. */
static int decode(const char *s, size_t len, char *out, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '+') ch = ' ';
        else if (ch == '%') {
            if (i + 2 >= len) return -2;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) return -2;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (ch == 0 || o + 1 >= n) return -2;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return 0;
}

int dash_form_encoding_ok(const char *content_type) {
    static const char form[] = "application/x-www-form-urlencoded";
    if (content_type == NULL) return 1;
    size_t n = strcspn(content_type, ";");
    while (n > 0 && (content_type[n - 1] == ' ' || content_type[n - 1] == '\t')) n--;
    return n == sizeof form - 1 && strncasecmp(content_type, form, n) == 0;
}

int dash_form_field(const char *body, size_t len, const char *name, char *out, size_t n) {
    size_t nlen = strlen(name);
    size_t i = 0;
    const char *value = NULL;
    size_t vlen = 0;
    while (i < len) {
        const char *end = memchr(body + i, '&', len - i);
        size_t flen = end ? (size_t)(end - (body + i)) : len - i;
        const char *f = body + i;
        if (flen > nlen && memcmp(f, name, nlen) == 0 && f[nlen] == '=') {
            /* Twice is ambiguous: which task or queue the form means, and
             * which token it carries, would depend on the reader. */
            if (value) return -3;
            value = f + nlen + 1;
            vlen = flen - nlen - 1;
        }
        i += flen + 1;
    }
    return value ? decode(value, vlen, out, n) : -1;
}

int dash_token_equal(const char *a, size_t na, const char *b, size_t nb) {
    /* Every byte of a is compared (against b cycled when shorter), so the
     * time depends on na alone, not on where the first difference is. */
    unsigned diff = na != nb || nb == 0;
    for (size_t i = 0; i < na; i++)
        diff |= (unsigned char)a[i] ^ (unsigned char)(nb ? b[i % nb] : 0);
    return diff == 0;
}

int dash_hex_decode(const char *hex, char *out, size_t n) {
    size_t len = strlen(hex);
    if (len == 0 || len % 2 != 0 || len / 2 + 1 > n) return -1;
    for (size_t i = 0; i < len; i += 2) {
        int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return -1;
        out[i / 2] = (char)(hi * 16 + lo);
    }
    out[len / 2] = '\0';
    return 0;
}
