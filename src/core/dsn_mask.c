/* dsn_mask.c - hide the password of a PostgreSQL connection string, read
 * the way libpq reads it: a URI's user information runs from "://" to the
 * first '@' before any '/', with the password after its first ':'; query
 * parameters are separated by '&'; keyword=value strings allow spaces around
 * '=', single-quoted values and backslash escapes. */
#include "dsn_mask.h"

#include <stdlib.h>
#include <string.h>

/* The masked copy being written; sitq__dsn_mask sizes p for the worst
 * case, a mask for every byte of the input. */
typedef struct out_buf {
    char *p;
    size_t n;
    const char *secret[8]; /* the first passwords masked, in the input */
    size_t secret_len[8];
    size_t n_secrets;
} out_buf;

static void put(out_buf *o, const char *s, size_t len) {
    memcpy(o->p + o->n, s, len);
    o->n += len;
}

/* Mask the password that is the input's secret[0..len). */
static void put_mask(out_buf *o, const char *secret, size_t len) {
    put(o, SITQ__DSN_MASK, strlen(SITQ__DSN_MASK));
    if (o->n_secrets < sizeof o->secret / sizeof o->secret[0]) {
        o->secret[o->n_secrets] = secret;
        o->secret_len[o->n_secrets++] = len;
    }
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int hex_digit(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Whether the query parameter name k[0..len) is "password" once its
 * percent-escapes are decoded, as libpq decodes it ("%70assword" is the
 * password too). */
static int key_is_password(const char *k, size_t len) {
    static const char want[] = "password";
    size_t n = 0;
    for (size_t i = 0; i < len; i++, n++) {
        char c = k[i];
        if (c == '%') {
            int hi = i + 1 < len ? hex_digit(k[i + 1]) : -1;
            int lo = i + 2 < len ? hex_digit(k[i + 2]) : -1;
            if (hi < 0 || lo < 0) return 0; /* libpq refuses such a URI */
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (n >= sizeof want - 1 || c != want[n]) return 0;
    }
    return n == sizeof want - 1;
}

/* The query of a URI from q (just past '?'): each password's value masked. */
static void mask_query(out_buf *o, const char *q) {
    while (*q) {
        size_t len = strcspn(q, "&");
        const char *eq = memchr(q, '=', len);
        if (eq && key_is_password(q, (size_t)(eq - q))) {
            size_t klen = (size_t)(eq - q) + 1;
            put(o, q, klen);
            put_mask(o, q + klen, len - klen);
        } else {
            put(o, q, len);
        }
        q += len;
        if (*q == '&') put(o, q++, 1);
    }
}

static void mask_uri(out_buf *o, const char *dsn) {
    const char *auth = strstr(dsn, "://") + 3;
    const char *end = auth;
    while (*end && *end != '@' && *end != '/') end++;
    const char *rest = auth;
    put(o, dsn, (size_t)(auth - dsn));
    if (*end == '@') {
        const char *colon = memchr(auth, ':', (size_t)(end - auth));
        if (colon) {
            put(o, auth, (size_t)(colon - auth) + 1);
            put_mask(o, colon + 1, (size_t)(end - colon - 1));
            rest = end;
        }
    }
    const char *query = strchr(end, '?');
    if (!query) {
        put(o, rest, strlen(rest));
        return;
    }
    put(o, rest, (size_t)(query - rest) + 1);
    mask_query(o, query + 1);
}

/* The end of the keyword=value value that starts at v. */
static const char *value_end(const char *v) {
    if (*v == '\'') {
        for (v++; *v && *v != '\''; v++)
            if (*v == '\\' && v[1]) v++;
        return *v ? v + 1 : v;
    }
    for (; *v && !is_space(*v); v++)
        if (*v == '\\' && v[1]) v++;
    return v;
}

static void mask_keywords(out_buf *o, const char *s) {
    while (*s) {
        const char *start = s;
        while (is_space(*s)) s++;
        const char *key = s;
        while (*s && *s != '=' && !is_space(*s)) s++;
        size_t klen = (size_t)(s - key);
        while (is_space(*s)) s++;
        if (*s != '=') { /* not a keyword=value pair: keep the rest as it is */
            put(o, start, strlen(start));
            return;
        }
        s++;
        while (is_space(*s)) s++;
        const char *end = value_end(s);
        put(o, start, (size_t)(s - start));
        if (klen == 8 && strncmp(key, "password", 8) == 0) put_mask(o, s, (size_t)(end - s));
        else put(o, s, (size_t)(end - s));
        s = end;
    }
}

/* Mask dsn into o (o->p malloc'd, NULL when out of memory). */
static void mask_into(out_buf *o, const char *dsn) {
    size_t len = strlen(dsn);
    memset(o, 0, sizeof *o);
    o->p = malloc(len * (strlen(SITQ__DSN_MASK) + 1) + 1);
    if (!o->p) return;
    if (strncmp(dsn, "postgresql://", 13) == 0 || strncmp(dsn, "postgres://", 11) == 0)
        mask_uri(o, dsn);
    else mask_keywords(o, dsn);
    o->p[o->n] = '\0';
}

char *sitq__dsn_mask(const char *dsn) {
    out_buf o;
    mask_into(&o, dsn);
    return o.p;
}

/* A malloc'd copy of s with every occurrence of what[0..n) (n > 0)
 * replaced by with; frees s. NULL when out of memory (s freed too). */
static char *replace_all(char *s, const char *what, size_t n, const char *with) {
    if (!s) return NULL;
    size_t count = 0, wlen = strlen(with);
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += n) count++;
    if (count == 0) return s;
    char *out = malloc(strlen(s) + count * wlen + 1), *w = out;
    if (!out) {
        free(s);
        return NULL;
    }
    const char *p = s, *hit;
    while ((hit = strstr(p, what)) != NULL) {
        memcpy(w, p, (size_t)(hit - p));
        w += hit - p;
        memcpy(w, with, wlen);
        w += wlen;
        p = hit + n;
    }
    memcpy(w, p, strlen(p) + 1);
    free(s);
    return out;
}

char *sitq__dsn_scrub(const char *msg, const char *dsn) {
    out_buf o;
    mask_into(&o, dsn);
    if (!o.p) return NULL;
    char *s = strdup(msg);
    if (dsn[0] != '\0') s = replace_all(s, dsn, strlen(dsn), o.p);
    for (size_t i = 0; i < o.n_secrets; i++) {
        if (o.secret_len[i] < SITQ__DSN_SECRET_MIN) continue;
        /* strstr needs the secret as its own string */
        char *secret = strndup(o.secret[i], o.secret_len[i]);
        if (!secret) {
            free(s);
            s = NULL;
            break;
        }
        s = replace_all(s, secret, o.secret_len[i], SITQ__DSN_MASK);
        free(secret);
    }
    free(o.p);
    return s;
}
