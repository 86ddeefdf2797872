/* pg_uri.c - the sitq_schema parameter of a postgresql:// URI.
 *
 * A URI names a database, and a program that takes one string for its
 * database (the sitq command, sitq_backend_open, PostgresBackend's dsn) has
 * no other place to say which schema of it holds the queue. So a URI may
 * carry "sitq_schema=NAME" among its query parameters:
 * "postgresql://app@db.example/jobs?sitq_schema=mail&sslmode=require".
 * libpq refuses query parameters it does not know, so this one is taken out
 * before libpq sees the URI; every other byte is passed on untouched.
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

sitq_code pg_uri_take_schema(const char *conninfo, char **libpq_out, char **schema_out,
                             sitq_error *err) {
    *libpq_out = NULL;
    *schema_out = NULL;
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
    /* Copy up to the '?', then every parameter but sitq_schema. */
    size_t n = (size_t)(query - conninfo);
    memcpy(out, conninfo, n);
    char *schema = NULL;
    int kept = 0;
    const char *p = query + 1;
    while (1) {
        const char *end = strchr(p, '&');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        static const char key[] = "sitq_schema";
        size_t klen = sizeof key - 1;
        if (plen >= klen && strncmp(p, key, klen) == 0 && (plen == klen || p[klen] == '=')) {
            if (schema) {
                free(schema);
                free(out);
                return sitq__fail(err, SITQ_EINVAL, "the URI gives sitq_schema more than once");
            }
            size_t vlen = plen > klen ? plen - klen - 1 : 0;
            schema = malloc(vlen + 1);
            if (!schema) {
                free(out);
                return sitq__fail(err, SITQ_ENOMEM, "out of memory");
            }
            memcpy(schema, p + klen + (plen > klen), vlen);
            schema[vlen] = '\0';
        } else if (plen > 0) {
            out[n++] = kept++ ? '&' : '?';
            memcpy(out + n, p, plen);
            n += plen;
        }
        if (!end) break;
        p = end + 1;
    }
    out[n] = '\0';
    *libpq_out = out;
    *schema_out = schema;
    return SITQ_OK;
}
