/* pg_uri.c - the sitq_schema and sitq_poll_only parameters of a
 * postgresql:// URI.
 *
 * A URI names a database, and a program that takes one string for its
 * database (the sitq command, sitq_backend_open, PostgresBackend's dsn) has
 * no other place to say which schema of it holds the queue. So a URI may
 * carry "sitq_schema=NAME" among its query parameters:
 * "postgresql://app@db.example/jobs?sitq_schema=mail&sslmode=require".
 * libpq refuses query parameters it does not know, so this one is taken out
 * before libpq sees the URI; every other byte is passed on untouched.
 * Likewise "sitq_poll_only=1" opens the backend poll_only (for PgBouncer in
 * transaction mode), which the sitq command and Python can then ask for.
 * Key/value connection strings ("host=... dbname=...") are not URIs and are
 * passed on as they are: libpq would refuse sitq_schema in them too, and
 * options.schema names the schema there. */
#include "pg.h"

#include <stdlib.h>
#include <string.h>

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* Where the query of URI u begins ('?'), or NULL. The user information may
 * hold a '?' (libpq reads it up to the '@' or the first '/'), so the search
 * starts after it. */
static const char *query_start(const char *u) {
    const char *p = strstr(u, "://") + 3;
    const char *q = p;
    while (*q && *q != '@' && *q != '/') q++;
    if (*q == '@') p = q + 1;
    return strchr(p, '?');
}

/* Parameter p[0..plen) when its key is key: its value, malloc'd, into
 * *value (1); 0 when it has another key; -1 out of memory; -2 when *value
 * was already taken (the key given twice). */
static int take(const char *p, size_t plen, const char *key, char **value) {
    size_t klen = strlen(key);
    if (plen < klen || strncmp(p, key, klen) != 0 || (plen != klen && p[klen] != '=')) return 0;
    if (*value) return -2;
    size_t vlen = plen > klen ? plen - klen - 1 : 0;
    *value = malloc(vlen + 1);
    if (!*value) return -1;
    memcpy(*value, p + klen + (plen > klen), vlen);
    (*value)[vlen] = '\0';
    return 1;
}

/* sitq_poll_only's value: 0 or 1, -1 otherwise. */
static int poll_only_value(const char *v) {
    if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0) return 1;
    if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0) return 0;
    return -1;
}

sitq_code pg_uri_take(const char *conninfo, char **libpq_out, char **schema_out, int *poll_only_out,
                      sitq_error *err) {
    *libpq_out = NULL;
    *schema_out = NULL;
    *poll_only_out = -1;
    const char *query = NULL;
    if (has_prefix(conninfo, "postgresql://") || has_prefix(conninfo, "postgres://"))
        query = query_start(conninfo);
    size_t len = strlen(conninfo);
    char *out = malloc(len + 1);
    if (!out) return sitq__fail(err, SITQ_ENOMEM, "out of memory");
    if (!query) {
        memcpy(out, conninfo, len + 1);
        *libpq_out = out;
        return SITQ_OK;
    }
    /* Copy up to the '?', then every parameter but sitq's own. */
    size_t n = (size_t)(query - conninfo);
    memcpy(out, conninfo, n);
    char *schema = NULL, *poll = NULL;
    int kept = 0, rc = 0;
    const char *p = query + 1, *key = NULL;
    while (rc >= 0) {
        const char *end = strchr(p, '&');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        rc = take(p, plen, key = "sitq_schema", &schema);
        if (rc == 0) rc = take(p, plen, key = "sitq_poll_only", &poll);
        if (rc == 0 && plen > 0) {
            out[n++] = kept++ ? '&' : '?';
            memcpy(out + n, p, plen);
            n += plen;
        }
        if (!end) break;
        p = end + 1;
    }
    int poll_only = poll ? poll_only_value(poll) : -1;
    int bad_poll = poll && poll_only < 0;
    free(poll);
    if (rc < 0 || bad_poll) {
        free(schema);
        free(out);
        if (rc == -1) return sitq__fail(err, SITQ_ENOMEM, "out of memory");
        if (rc == -2) return sitq__fail(err, SITQ_EINVAL, "the URI gives %s more than once", key);
        return sitq__fail(err, SITQ_EINVAL, "the URI's sitq_poll_only must be 1 or 0");
    }
    out[n] = '\0';
    *libpq_out = out;
    *schema_out = schema;
    *poll_only_out = poll_only;
    return SITQ_OK;
}
