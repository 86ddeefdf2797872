/* dsn_mask.h - a PostgreSQL connection string with its password hidden, for
 * PostgresBackend.path and repr (no interpreter needed, so plain C). */
#ifndef SITQPY_DSN_MASK_H
#define SITQPY_DSN_MASK_H

/* What a hidden password reads as. */
#define SITQPY_MASK "***"

/* A malloc'd copy of the connection string dsn in which every password
 * reads SITQPY_MASK: a URI's "user:PASSWORD@" and its "password=" query
 * parameters ("postgresql://app:***@db/jobs?sslmode=require"), or the
 * value of every "password" keyword of a keyword=value string, quoted or
 * not ("host=db password=*** dbname=jobs"). Everything else is kept byte
 * for byte. NULL when out of memory. Pure; thread-safe. */
char *sitqpy_dsn_mask(const char *dsn);

#endif
