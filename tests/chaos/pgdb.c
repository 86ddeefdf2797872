/* pgdb.c - the database a counted scenario runs on (a SQLite file, or a
 * fresh schema of the PostgreSQL server given by --db), and what the
 * harness does to that server: terminate backends, restart it. */
#include "chaos.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int chaos_is_pg(const char *target) {
    return target &&
           (strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0);
}

void chaos_target(const chaos_opts *o, const char *dir, const char *tag, char *buf, size_t n) {
    if (!chaos_is_pg(o->db)) {
        snprintf(buf, n, "%s/q.db", dir);
        return;
    }
    /* A schema of its own per run: runs never see each other's tasks. */
    snprintf(buf, n, "%s%ssitq_schema=chaos_%s_%d", o->db, strchr(o->db, '?') ? "&" : "?", tag,
             (int)getpid());
}

/* The server's URI without the sitq_schema parameter (libpq refuses it). */
static void server_uri(const chaos_opts *o, char *buf, size_t n) {
    snprintf(buf, n, "%s", o->db);
    char *p = strstr(buf, "sitq_schema=");
    if (!p) return;
    char *end = strchr(p, '&');
    if (end) memmove(p, end + 1, strlen(end + 1) + 1);
    else p[-1] = '\0';
}

int64_t chaos_pg_count(const chaos_opts *o, const char *sql, const char *arg) {
    static PGconn *conn;
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        PQfinish(conn);
        char uri[1100];
        server_uri(o, uri, sizeof uri);
        conn = PQconnectdb(uri);
        if (PQstatus(conn) != CONNECTION_OK) {
            chaos_log("connect: %s", PQerrorMessage(conn));
            return -1;
        }
    }
    const char *params[1] = {arg};
    PGresult *r = PQexecParams(conn, sql, arg ? 1 : 0, NULL, params, NULL, NULL, 0);
    int64_t v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else chaos_log("query failed: %s", PQresultErrorMessage(r));
    PQclear(r);
    return v;
}

int64_t chaos_pg_terminate(const chaos_opts *o, const char *app_like) {
    return chaos_pg_count(o,
                          "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                          "FROM pg_stat_activity WHERE application_name LIKE $1 "
                          "AND pid <> pg_backend_pid()",
                          app_like);
}

int chaos_pg_can_restart(void) {
    const char *data = getenv("SITQ_TEST_PGDATA"), *bin = getenv("SITQ_TEST_PGBIN");
    return data && *data && bin && *bin;
}

int chaos_pg_restart(const char *dir) {
    const char *data = getenv("SITQ_TEST_PGDATA"), *bin = getenv("SITQ_TEST_PGBIN"),
               *user = getenv("SITQ_TEST_PG_RUNAS");
    char pg_ctl[1100], logp[1100], errp[700];
    snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", bin);
    snprintf(logp, sizeof logp, "%s/log", data);
    snprintf(errp, sizeof errp, "%s/pg_ctl.log", dir);
    /* pg_ctl restart reuses the server's options (port included) from
     * postmaster.opts. */
    char *args[] = {pg_ctl,      "-D", (char *)data, "-l", logp,      "-m",
                    "immediate", "-w", "-t",         "60", "restart", NULL};
    char *argv[16];
    int k = 0;
    if (user && *user) {
        argv[k++] = "runuser";
        argv[k++] = "-u";
        argv[k++] = (char *)user;
        argv[k++] = "--";
    }
    for (int i = 0; args[i]; i++) argv[k++] = args[i];
    argv[k] = NULL;
    /* The new server must not become the harness's child: as a subreaper
     * it would wait for the server to end and kill it at exit. While
     * pg_ctl runs, the server it leaves goes to init instead. */
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    pid_t pid = chaos_spawn(argv, errp, errp, NULL);
    int st = 0;
    int done = chaos_wait(pid, chaos_mono_ms() + 90000, &st);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    if (!done || st != 0) {
        char *text = chaos_read_file(errp, NULL);
        chaos_log("pg_ctl restart: %s: %s", chaos_status_text(st), text ? text : "");
        free(text);
        return -1;
    }
    return 0;
}
