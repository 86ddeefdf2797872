/* dsn_mask.h - a PostgreSQL connection string with its password hidden, for
 * what is shown of it: the Python binding's PostgresBackend.path and repr,
 * the `sitq` command's messages. Internal to sitq (not in sitq.h). */
#ifndef SITQ_CORE_DSN_MASK_H
#define SITQ_CORE_DSN_MASK_H

/* What a hidden password reads as. */
#define SITQ__DSN_MASK "***"

/* A malloc'd copy of the connection string dsn in which every password
 * reads SITQ__DSN_MASK: a URI's "user:PASSWORD@" and its "password=" query
 * parameters ("postgresql://app:***@db/jobs?sslmode=require"), or the
 * value of every "password" keyword of a keyword=value string, quoted or
 * not ("host=db password=*** dbname=jobs"). Everything else is kept byte
 * for byte. NULL when out of memory. Pure; thread-safe. */
char *sitq__dsn_mask(const char *dsn);

#endif
