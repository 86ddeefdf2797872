/* pg_schema.c - the configured schema at open: check what is there with
 * reads only, create it when allowed, refuse what is not sitq's.
 *
 * 1. One read: does the schema exist, how many relations does it hold, has
 *    it sitq's meta table. A sitq schema of this version is opened without
 *    any write (so a role that may only read can inspect a queue).
 * 2. A missing or empty schema is created (create_schema = 1) in one
 *    transaction under an advisory lock on the schema's name, so that two
 *    processes creating it at once both succeed: the second waits, then
 *    finds every object there (CREATE ... IF NOT EXISTS).
 * 3. A sitq schema of an older version (pg1, pg2, pg3) is upgraded in one
 *    transaction under the same lock (pg_migrate_*_sql, one step after the
 *    other), when create_schema allows writing.
 * 4. A schema holding relations but no sitq meta table belongs to another
 *    application, and a sitq schema of another version to another sitq:
 *    both are refused with SITQ_ESCHEMA and left unchanged. */
#include "pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct found {
    int exists;
    int64_t relations;
    int has_meta;
    char version[64]; /* "" when unreadable */
} found;

static sitq_code inspect(pg_backend *b, found *f, sitq_error *err) {
    pg_conn *c = &b->writer;
    memset(f, 0, sizeof *f);
    char meta[160];
    snprintf(meta, sizeof meta, "\"%s\".meta", b->schema);
    const char *vals[2] = {b->schema, meta};
    PGresult *r = pg_q_params(c,
                              "SELECT n.oid IS NOT NULL, (SELECT count(*) FROM pg_class k "
                              "WHERE k.relnamespace = n.oid)::bigint, "
                              "to_regclass($2::text) IS NOT NULL "
                              "FROM (SELECT $1::text AS name) x "
                              "LEFT JOIN pg_namespace n ON n.nspname = x.name",
                              2, vals, 1);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        sitq_code rc = pg_fail(c, r, err, "reading the schema");
        PQclear(r);
        return rc;
    }
    f->exists = (int)pg_i64(r, 0, 0);
    f->relations = pg_i64(r, 0, 1);
    f->has_meta = (int)pg_i64(r, 0, 2);
    PQclear(r);
    if (!f->has_meta) return SITQ_OK;
    char *sql = pg_schema_text(b, "SELECT value FROM @.meta WHERE key = 'schema_version'");
    if (!sql) return sitq__fail(err, SITQ_ENOMEM, "out of memory");
    r = pg_q_params(c, sql, 0, NULL, 0);
    free(sql);
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        snprintf(f->version, sizeof f->version, "%s", PQgetvalue(r, 0, 0));
    else if (!c->conn || PQstatus(c->conn) != CONNECTION_OK) {
        sitq_code rc = pg_fail(c, r, err, "reading the schema version");
        PQclear(r);
        return rc;
    }
    PQclear(r); /* a meta table without our row or columns: not sitq's */
    return SITQ_OK;
}

typedef struct create_arg {
    found *f;
} create_arg;

static sitq_code create_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    create_arg *a = arg;
    char lock[96];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)", (long long)b->schema_key);
    sitq_code rc = pg_command(c, lock, err, "locking the schema for its creation");
    if (rc) return rc;
    /* Under the lock: another process may have finished creating it. */
    rc = inspect(b, a->f, err);
    if (rc) return rc;
    if (a->f->has_meta || (a->f->exists && a->f->relations > 0)) return SITQ_OK;
    char *ddl = pg_schema_text(b, pg_schema_sql);
    if (!ddl) return sitq__fail(err, SITQ_ENOMEM, "out of memory");
    rc = pg_command(c, ddl, err, "creating the sitq schema");
    free(ddl);
    if (!rc) rc = pg_workers_schema(b, c, err);
    if (rc) return rc;
    return inspect(b, a->f, err);
}

/* The versions this sitq upgrades. */
static int older(const char *version) {
    return !strcmp(version, "pg1") || !strcmp(version, "pg2") || !strcmp(version, "pg3");
}

/* Upgrades run under the creation lock; another process may have done it. */
static sitq_code upgrade_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    create_arg *a = arg;
    char lock[96];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)", (long long)b->schema_key);
    sitq_code rc = pg_command(c, lock, err, "locking the schema for its upgrade");
    if (!rc) rc = inspect(b, a->f, err);
    /* One step after the other, in this transaction: pg1 -> pg2 -> pg3 -> pg4. */
    while (!rc && older(a->f->version)) {
        char *sql = pg_schema_text(b, !strcmp(a->f->version, "pg1")   ? pg_migrate_pg1_sql
                                      : !strcmp(a->f->version, "pg2") ? pg_migrate_pg2_sql
                                                                      : pg_migrate_pg3_sql);
        if (!sql) return sitq__fail(err, SITQ_ENOMEM, "out of memory");
        rc = pg_command(c, sql, err, "upgrading the sitq schema");
        free(sql);
        if (!rc) rc = inspect(b, a->f, err);
    }
    if (!rc) rc = pg_workers_schema(b, c, err);
    return rc;
}

/* A schema of an older version this sitq knows is upgraded in place, in one
 * transaction, when the caller allows writing the schema (create_schema). */
static sitq_code upgrade(pg_backend *b, found *f, sitq_error *err) {
    if (!older(f->version)) return SITQ_OK;
    if (!b->opts.create_schema)
        return sitq__fail(err, SITQ_ESCHEMA,
                          "PostgreSQL schema %s has sitq schema version %s and needs an "
                          "upgrade to %s; open it once with create_schema on",
                          b->schema, f->version, PG_SCHEMA_VERSION);
    create_arg a = {f};
    return pg_write_txn(b, upgrade_body, &a, err);
}

sitq_code pg_schema_open(pg_backend *b, sitq_error *err) {
    b->schema_key = pg_name_key("sitq schema", b->schema);
    found f;
    sitq_code rc = inspect(b, &f, err);
    if (rc) return rc;
    int empty = !f.exists || (f.relations == 0 && !f.has_meta);
    if (empty) {
        if (!b->opts.create_schema)
            return sitq__fail(err, SITQ_ESCHEMA,
                              "PostgreSQL schema %s %s no sitq tables (create_schema is off)",
                              b->schema, f.exists ? "holds" : "does not exist, so it holds");
        create_arg a = {&f};
        rc = pg_write_txn(b, create_body, &a, err);
        if (rc) return rc;
    }
    if (!f.has_meta || !f.version[0])
        return sitq__fail(err, SITQ_ESCHEMA,
                          "PostgreSQL schema %s holds tables of another application (no sitq "
                          "schema version); sitq leaves it unchanged: choose another schema",
                          b->schema);
    rc = upgrade(b, &f, err);
    if (rc) return rc;
    if (strcmp(f.version, PG_SCHEMA_VERSION) != 0)
        return sitq__fail(err, SITQ_ESCHEMA,
                          "PostgreSQL schema %s has sitq schema version %s; this sitq "
                          "understands version %s",
                          b->schema, f.version, PG_SCHEMA_VERSION);
    return pg_retention_schema(b, err);
}
