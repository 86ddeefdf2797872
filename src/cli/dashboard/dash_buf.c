/*
 * dash_buf.c - the text buffer of the dashboard's pages and the escaping
 * every stored value goes through before it reaches a page: HTML entities
 * for markup characters, a visible "\xNN" for control bytes, percent
 * encoding for values put in links.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"

static int reserve(dash_buf *b, size_t more) {
    if (b->failed) return -1;
    if (b->len + more + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    char *s = realloc(b->s, cap);
    if (s == NULL) {
        b->failed = 1;
        return -1;
    }
    b->s = s;
    b->cap = cap;
    return 0;
}

void dash_putn(dash_buf *b, const char *s, size_t n) {
    if (reserve(b, n) != 0) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void dash_put(dash_buf *b, const char *s) { dash_putn(b, s, strlen(s)); }

void dash_printf(dash_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        dash_putn(b, small, (size_t)n);
        return;
    }
    if (reserve(b, (size_t)n) != 0) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Escape n bytes of s; lines: tab and newline are kept (values shown in a
 * <pre>), else they become \x09 and \x0a as any control character does. */
static void esc_bytes(dash_buf *b, const char *s, size_t n, int lines) {
    size_t run = 0; /* bytes copied as they are, written in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *ent = NULL;
        char hex[8];
        switch (ch) {
        case '&': ent = "&amp;"; break;
        case '<': ent = "&lt;"; break;
        case '>': ent = "&gt;"; break;
        case '"': ent = "&quot;"; break;
        case '\'': ent = "&#39;"; break;
        default:
            if ((ch < 0x20 && !(lines && (ch == '\t' || ch == '\n'))) || ch == 0x7f) {
                snprintf(hex, sizeof hex, "\\x%02x", ch);
                ent = hex;
            }
        }
        if (ent == NULL) continue;
        dash_putn(b, s + run, i - run);
        dash_put(b, ent);
        run = i + 1;
    }
    dash_putn(b, s + run, n - run);
}

void dash_escn(dash_buf *b, const char *s, size_t n) { esc_bytes(b, s, n, 0); }

void dash_esc_lines(dash_buf *b, const char *s, size_t n) { esc_bytes(b, s, n, 1); }

void dash_esc(dash_buf *b, const char *s) {
    if (s == NULL) dash_put(b, "-");
    else dash_escn(b, s, strlen(s));
}

void dash_urlenc(dash_buf *b, const char *s) {
    static const char hexd[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            dash_putn(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hexd[ch >> 4], hexd[ch & 15]};
            dash_putn(b, e, 3);
        }
    }
}

size_t dash_utf8_seq(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    if (p[0] < 0x80) return 1;
    size_t n = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : 2;
    if (p[0] < 0xC2 || p[0] > 0xF4) return 0; /* a continuation, overlong or past U+10FFFF */
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0; /* the NUL at the end stops here too */
    /* Overlong three- and four-byte forms, surrogates, past U+10FFFF. */
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0) ||
        (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))
        return 0;
    return n;
}

size_t dash_utf8_cut(const char *s, size_t n, size_t max) {
    if (n <= max) return n;
    size_t cut = max;
    /* Back off continuation bytes so that no character is cut in two. */
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80) cut--;
    return cut;
}

void dash_esc_head(dash_buf *b, const char *s, size_t n, size_t total) {
    size_t shown = dash_utf8_cut(s, n, DASH_VALUE_SHOWN);
    dash_esc_lines(b, s, shown);
    if (shown < total) dash_printf(b, "\n... (%zu bytes in all, %zu shown)", total, shown);
}

void dash_esc_summary(dash_buf *b, const char *s, size_t n) { dash_esc_head(b, s, n, n); }

void dash_buf_free(dash_buf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}

void dash_hexenc(dash_buf *b, const char *s) {
    static const char digits[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char two[2] = {digits[*p >> 4], digits[*p & 15]};
        dash_putn(b, two, 2);
    }
}
