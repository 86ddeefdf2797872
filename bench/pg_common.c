/* pg_common.c - connections, schemas and commit counts of the PostgreSQL
 * scenarios (pg.h). */
#include "pg.h"

#include <stdlib.h>
#include <string.h>

const char *bench_pg_uri(void) {
    const char *u = getenv("SITQ_BENCH_PG_URI");
    return u && *u ? u : NULL;
}

int bench_pg_available(const char *scenario) {
    if (bench_pg_uri()) return 1;
    fprintf(stderr,
            "sitq_bench: %s: SITQ_BENCH_PG_URI is not set (bench/pg_part.sh sets it): "
            "skipped\n",
            scenario);
    return 0;
}

static void quiet(void *arg, const char *message) {
    (void)arg;
    (void)message; /* "drop cascades to ..." */
}

/* dbname: NULL for the URI's own database, else that database instead. */
static PGconn *connect_db(const char *dbname) {
    const char *keys[] = {"dbname", "dbname", NULL};
    const char *vals[] = {bench_pg_uri(), dbname, NULL};
    if (!dbname) keys[1] = NULL;
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "sitq_bench: pg: %s", PQerrorMessage(c));
        exit(1);
    }
    PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

PGconn *bench_pg_connect(void) { return connect_db(NULL); }

void bench_pg_exec(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "sitq_bench: pg: %s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
}

void bench_pg_drop_schema(const char *schema) {
    PGconn *c = bench_pg_connect();
    char sql[128];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    bench_pg_exec(c, sql);
    PQfinish(c);
}

sitq_backend *bench_pg_attach(const char *schema, int poll_only) {
    sitq_postgres_options o;
    sitq_postgres_options_init(&o);
    o.schema = schema;
    o.poll_only = poll_only;
    sitq_backend *b = NULL;
    sitq_error err;
    if (sitq_backend_open_postgres(bench_pg_uri(), &o, &b, &err) != SITQ_OK)
        bench_die("opening PostgreSQL", &err);
    return b;
}

sitq_backend *bench_pg_open(const char *schema, int poll_only) {
    bench_pg_drop_schema(schema);
    return bench_pg_attach(schema, poll_only);
}

static int64_t query_int(PGconn *c, const char *sql, const char *param) {
    PGresult *r = PQexecParams(c, sql, 1, NULL, &param, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        fprintf(stderr, "sitq_bench: pg: %s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
    int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* The database the URI names (libpq's default, the user name, when none). */
static void uri_dbname(char *buf, size_t size) {
    PQconninfoOption *opts = PQconninfoParse(bench_pg_uri(), NULL);
    const char *db = NULL, *user = NULL;
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (strcmp(o->keyword, "dbname") == 0) db = o->val;
        if (strcmp(o->keyword, "user") == 0) user = o->val;
    }
    snprintf(buf, size, "%s", db ? db : user ? user : "postgres");
    PQconninfoFree(opts);
}

int64_t bench_pg_xacts(void) {
    /* The URI's database, read from a session in template1: its own
     * transactions are not counted in the figure it reads. */
    char db[256];
    uri_dbname(db, sizeof db);
    PGconn *c = connect_db("template1");
    double deadline = bench_now() + 10;
    while (query_int(c,
                     "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 "
                     "AND backend_type = 'client backend'",
                     db) > 0 &&
           bench_now() < deadline)
        bench_sleep_us(5000);
    bench_sleep_us(20000); /* a session that just left flushes its counts as it exits */
    int64_t v = query_int(c, "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", db);
    PQfinish(c);
    return v;
}

void bench_pg_emit_commits(bench_ctx *c, const char *system, const char *scenario,
                           const char *variant, int64_t xacts_before, double tasks) {
    double d = (double)(bench_pg_xacts() - xacts_before);
    bench_emit(c, system, scenario, variant, "commits_per_task", tasks > 0 ? d / tasks : 0,
               "commits");
}
