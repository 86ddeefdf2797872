/* mbuf.c - the growing text buffer of the metrics text (mbuf.h). */
#include "mbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sitq__mb_putn(sitq__mbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void sitq__mb_printf(sitq__mbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->failed = 1; /* callers print short fixed texts: never in practice */
        return;
    }
    sitq__mb_putn(b, tmp, (size_t)n);
}

void sitq__mb_label(sitq__mbuf *b, const char *v) {
    for (const char *p = v; *p; p++) {
        if (*p == '\\') sitq__mb_putn(b, "\\\\", 2);
        else if (*p == '"') sitq__mb_putn(b, "\\\"", 2);
        else if (*p == '\n') sitq__mb_putn(b, "\\n", 2);
        else sitq__mb_putn(b, p, 1);
    }
}

void sitq__mb_family(sitq__mbuf *b, const char *name, const char *type, const char *help) {
    sitq__mb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}
