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

/* Shorter passwords are hidden only where the whole connection string is
 * quoted: replacing every "ab" of a message would garble it. */
#define SITQ__DSN_SECRET_MIN 4

/* A malloc'd copy of msg, a message that may quote the connection string
 * dsn (libpq quotes a URI it cannot parse, whole), in which every copy of
 * dsn reads as sitq__dsn_mask(dsn), and every copy of a password of dsn of
 * SITQ__DSN_SECRET_MIN bytes or more reads SITQ__DSN_MASK. NULL when out of
 * memory. Pure; thread-safe. */
char *sitq__dsn_scrub(const char *msg, const char *dsn);

#endif
