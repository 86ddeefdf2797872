/* backend_open.c - open a backend from one string (sitq_backend_open), so
 * that a program that takes a database path accepts a PostgreSQL URI in its
 * place: "postgresql://" and "postgres://" go to libpq untouched (its
 * environment variables and service files apply) but for the sitq_schema
 * query parameter that names the schema (pg_uri.c), "sqlite:" names a SQLite
 * file explicitly, anything else is a SQLite path. */
#include "core/internal.h"
#include "sitq.h"

#include <string.h>

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

sitq_code sitq_backend_open(const char *target, sitq_backend **out, sitq_error *err) {
    if (!out) return sitq__fail(err, SITQ_EINVAL, "out must not be NULL");
    *out = NULL;
    if (!target || !*target)
        return sitq__fail(err, SITQ_EINVAL,
                          "target must be a SQLite path, a sqlite: URI or a postgresql:// URI");
    if (has_prefix(target, "postgresql://") || has_prefix(target, "postgres://"))
        return sitq_backend_open_postgres(target, NULL, out, err);
    const char *path = target;
    if (has_prefix(target, "sqlite:")) {
        path = target + strlen("sqlite:");
        /* sqlite:///abs/path: an empty authority before the absolute path. */
        if (has_prefix(path, "//")) path += 2;
        if (!*path)
            return sitq__fail(err, SITQ_EINVAL, "the sqlite: URI \"%s\" names no file", target);
    }
    return sitq_backend_open_sqlite(path, NULL, out, err);
}
