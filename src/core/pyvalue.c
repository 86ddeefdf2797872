/* pyvalue.c - the stored form of a Python task's result (format in
 * pyvalue.h): classified and split without an interpreter, and built. */
#include "pyvalue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PICKLE_PROTO     0x80 /* opcode: the protocol number follows */
#define PICKLE_PROTO_MIN 2
#define PICKLE_PROTO_MAX 5

/* 1 when p[0..len) starts a pickle of protocol 2..5 with one more byte at least. */
static int is_pickle(const unsigned char *p, size_t len) {
    return len >= 3 && p[0] == PICKLE_PROTO && p[1] >= PICKLE_PROTO_MIN && p[1] <= PICKLE_PROTO_MAX;
}

/* Length of the UTF-8 sequence at s[0..n) (1..4), or 0 when it is not a
 * valid one: truncated, overlong, a surrogate or above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len = c < 0x80                 ? 1
                 : c >= 0xc2 && c <= 0xdf ? 2
                 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4
                                          : 0;
    if (len == 0 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (c == 0xe0 && s[1] < 0xa0) return 0; /* overlong */
    if (c == 0xed && s[1] > 0x9f) return 0; /* surrogate */
    if (c == 0xf0 && s[1] < 0x90) return 0; /* overlong */
    if (c == 0xf4 && s[1] > 0x8f) return 0; /* above U+10FFFF */
    return len;
}

/* 1 when s[0..n) is valid UTF-8 without a NUL byte. */
static int text_ok(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t k = s[i] == 0 ? 0 : utf8_seq(s + i, n - i);
        if (k == 0) return 0;
        i += k;
    }
    return 1;
}

/* The checks of a record (data starts with the magic); NULL when it is
 * valid, else the reason. */
static const char *record_problem(const unsigned char *p, size_t len, size_t *repr_len) {
    if (len < SITQ__PYVALUE_HEADER_LEN) return "the record is truncated (no full header)";
    if (p[4] != SITQ__PYVALUE_VERSION) return "the record's version is not known";
    size_t r = ((size_t)p[5] << 8) | p[6];
    *repr_len = r;
    if (r > SITQ__PYVALUE_REPR_MAX) return "the record's repr is too long";
    if (len - SITQ__PYVALUE_HEADER_LEN < r) return "the record is truncated (in its repr)";
    if (!text_ok(p + SITQ__PYVALUE_HEADER_LEN, r)) return "the record's repr is not UTF-8 text";
    size_t at = SITQ__PYVALUE_HEADER_LEN + r;
    if (!is_pickle(p + at, len - at)) return "the record holds no pickle after its repr";
    return NULL;
}

sitq__pyvalue_kind sitq__pyvalue_parse(const void *data, size_t len, sitq__pyvalue *out, char *why,
                                       size_t why_len) {
    const unsigned char *p = data;
    memset(out, 0, sizeof *out);
    if (why && why_len > 0) why[0] = '\0';
    if (p == NULL || len == 0) return out->kind = SITQ__PYVALUE_OTHER;
    if (is_pickle(p, len)) {
        out->pickle = p;
        out->pickle_len = len;
        return out->kind = SITQ__PYVALUE_PICKLE;
    }
    if (len < SITQ__PYVALUE_MAGIC_LEN ||
        memcmp(p, SITQ__PYVALUE_MAGIC, SITQ__PYVALUE_MAGIC_LEN) != 0)
        return out->kind = SITQ__PYVALUE_OTHER;
    size_t r = 0;
    const char *problem = record_problem(p, len, &r);
    if (problem != NULL) {
        if (why && why_len > 0) snprintf(why, why_len, "%s", problem);
        return out->kind = SITQ__PYVALUE_BAD;
    }
    out->repr = (const char *)p + SITQ__PYVALUE_HEADER_LEN;
    out->repr_len = r;
    out->pickle = p + SITQ__PYVALUE_HEADER_LEN + r;
    out->pickle_len = len - SITQ__PYVALUE_HEADER_LEN - r;
    return out->kind = SITQ__PYVALUE_RECORD;
}

void *sitq__pyvalue_build(const char *repr, size_t repr_len, const void *pickle, size_t pickle_len,
                          size_t *out_len) {
    if ((repr == NULL && repr_len > 0) || repr_len > SITQ__PYVALUE_REPR_MAX ||
        memchr(repr != NULL ? repr : "", '\0', repr_len) != NULL || pickle == NULL ||
        !is_pickle(pickle, pickle_len) ||
        pickle_len > (size_t)-1 - SITQ__PYVALUE_HEADER_LEN - repr_len)
        return NULL;
    size_t n = SITQ__PYVALUE_HEADER_LEN + repr_len + pickle_len;
    unsigned char *out = malloc(n);
    if (out == NULL) return NULL;
    memcpy(out, SITQ__PYVALUE_MAGIC, SITQ__PYVALUE_MAGIC_LEN);
    out[4] = SITQ__PYVALUE_VERSION;
    out[5] = (unsigned char)(repr_len >> 8);
    out[6] = (unsigned char)(repr_len & 0xff);
    if (repr_len > 0) memcpy(out + SITQ__PYVALUE_HEADER_LEN, repr, repr_len);
    memcpy(out + SITQ__PYVALUE_HEADER_LEN + repr_len, pickle, pickle_len);
    *out_len = n;
    return out;
}

int sitq__pyvalue_function(const char *function) {
    return function != NULL && strncmp(function, "py:", 3) == 0;
}
