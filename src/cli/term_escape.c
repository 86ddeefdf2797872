/*
 * term_escape.c - escape control characters and invalid UTF-8 for terminals.
 */
#include "term_escape.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/**
 * Length of the valid UTF-8 sequence of two or more bytes at p (n bytes
 * available) and its code point in *cp, or 0 when p does not start one.
 */
static size_t utf8_sequence(const unsigned char *p, size_t n, uint32_t *cp) {
    size_t len;
    uint32_t v, min;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        len = 2;
        v = p[0] & 0x1Fu;
        min = 0x80;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        len = 3;
        v = p[0] & 0x0Fu;
        min = 0x800;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        len = 4;
        v = p[0] & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (p[i] & 0x3Fu);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

char *term_escape(const char *s, size_t len, unsigned flags) {
    if (len > (SIZE_MAX - 1) / 4) return NULL;
    /* Worst case: every byte becomes "\xNN" (a C1 pair becomes 6 bytes). */
    char *out = malloc(len * 4 + 1);
    if (out == NULL) return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        if (c < 0x80) {
            int keep = c >= 0x20 && c != 0x7F;
            if ((flags & TERM_KEEP_LAYOUT) && (c == '\n' || c == '\t')) keep = 1;
            if (keep) out[o++] = (char)c;
            else o += (size_t)sprintf(out + o, "\\x%02x", c);
            i++;
            continue;
        }
        uint32_t cp = 0;
        size_t n = utf8_sequence(p + i, len - i, &cp);
        if (n == 0) {
            o += (size_t)sprintf(out + o, "\\x%02x", c);
            i++;
        } else if (cp <= 0x9F) {
            o += (size_t)sprintf(out + o, "\\u%04x", (unsigned)cp);
            i += n;
        } else {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
    return out;
}

char *term_escape_str(const char *s, unsigned flags) {
    return s != NULL ? term_escape(s, strlen(s), flags) : NULL;
}

size_t term_prefix_len(const char *s, size_t max_chars) {
    size_t i = 0, chars = 0;
    while (s[i] != '\0') {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (chars == max_chars) break;
            chars++;
        }
        i++;
    }
    return i;
}

size_t term_char_count(const char *s) {
    size_t chars = 0;
    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) chars++;
    return chars;
}
