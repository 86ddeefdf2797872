/* test_pg_open.c - opening the PostgreSQL backend: the factory's strings,
 * options, and every refusal with its code and message (unreachable or
 * silent server, wrong password, missing, foreign or other-version schema,
 * a role that may only read), the schema named by a URI's sitq_schema,
 * concurrent creation of one schema, a connection killed under the
 * backend, waits of a poll_only backend, and a server process frozen
 * mid-session. Runs under with_pg.sh
 * (SITQ_TEST_PG_URI); each test uses its own schema. */
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

static const char *uri(void) {
    const char *u = getenv("SITQ_TEST_PG_URI");
    assert_non_null(u);
    return u;
}

static void quiet(void *arg, const char *m) {
    (void)arg;
    (void)m;
}

/* Run SQL as the cluster's superuser; asserts success. */
static void admin(const char *sql) {
    PGconn *c = PQconnectdb(uri());
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQsetNoticeProcessor(c, quiet, NULL);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* The first value of a query, as text (static buffer). */
static const char *admin_value(const char *sql) {
    static char buf[256];
    PGconn *c = PQconnectdb(uri());
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    snprintf(buf, sizeof buf, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
    return buf;
}

static sitq_code open_schema(const char *conninfo, const char *schema, int create,
                             sitq_backend **b) {
    sitq_postgres_options o;
    sitq_postgres_options_init(&o);
    o.schema = schema;
    o.create_schema = create;
    o.connect_timeout_s = 3;
    memset(&tq_err, 0, sizeof tq_err);
    return sitq_backend_open_postgres(conninfo, &o, b, &tq_err);
}

static void test_defaults_and_factory(void **state) {
    (void)state;
    sitq_postgres_options o;
    sitq_postgres_options_init(&o);
    assert_string_equal(o.schema, "sitq");
    assert_int_equal(o.create_schema, 1);
    assert_true(o.connect_timeout_s > 0);
    /* postgresql:// opens the default schema "sitq" */
    sitq_backend *b = NULL;
    TQ_OK(sitq_backend_open(uri(), &b, &tq_err));
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sitq_task_id id = tq_enqueue(q, "f", NULL);
    assert_int_equal(tq_status(q, id), SITQ_QUEUED);
    sitq_queue_close(q);
    sitq_backend_close(b);
    assert_string_equal(admin_value("SELECT count(*) FROM sitq.tasks"), "1");
    /* postgres:// too */
    char alt[512];
    snprintf(alt, sizeof alt, "postgres://%s", strstr(uri(), "://") + 3);
    TQ_OK(sitq_backend_open(alt, &b, &tq_err));
    sitq_backend_close(b);
    admin("DROP SCHEMA sitq CASCADE");
    /* sqlite: forms and plain paths open SQLite files */
    char dir[256], target[400];
    assert_int_equal(tq_make_tmpdir(dir, sizeof dir), 0);
    snprintf(target, sizeof target, "sqlite://%s/a.db", dir);
    TQ_OK(sitq_backend_open(target, &b, &tq_err));
    sitq_backend_close(b);
    snprintf(target, sizeof target, "%s/a.db", dir);
    assert_int_equal(access(target, F_OK), 0);
    snprintf(target, sizeof target, "%s/b.db", dir);
    TQ_OK(sitq_backend_open(target, &b, &tq_err));
    sitq_backend_close(b);
    assert_int_equal(access(target, F_OK), 0);
    TQ_ERR(SITQ_EINVAL, sitq_backend_open("sqlite:", &b, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_backend_open("", &b, &tq_err));
    tq_rm_rf(dir);
}

static void test_bad_options(void **state) {
    (void)state;
    sitq_backend *b = NULL;
    TQ_ERR_MSG(SITQ_EINVAL, "schema", "schema", open_schema(uri(), "bad-name", 1, &b));
    TQ_ERR_MSG(SITQ_EINVAL, "schema", "schema", open_schema(uri(), "", 1, &b));
    sitq_postgres_options o;
    sitq_postgres_options_init(&o);
    o.connect_timeout_s = 0;
    TQ_ERR_MSG(SITQ_EINVAL, "connect_timeout", "timeout",
               sitq_backend_open_postgres(uri(), &o, &b, &tq_err));
    sitq_postgres_options_init(&o);
    o.reader_connections = -1;
    TQ_ERR_MSG(SITQ_EINVAL, "reader", "reader", sitq_backend_open_postgres(uri(), &o, &b, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_backend_open_postgres(NULL, NULL, &b, &tq_err));
    assert_null(b);
}

/* A URI's sitq_schema query parameter names the schema; libpq never sees it
 * (it would refuse it) but gets every other parameter. */
static void test_uri_schema(void **state) {
    (void)state;
    char target[600];
    sitq_backend *b = NULL;
    snprintf(target, sizeof target, "%s?sitq_schema=s_uri", uri());
    TQ_OK(sitq_backend_open(target, &b, &tq_err));
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sitq_task_id id = tq_enqueue(q, "f", NULL);
    sitq_queue_close(q);
    sitq_backend_close(b);
    assert_string_equal(admin_value("SELECT count(*) FROM s_uri.tasks"), "1");
    assert_string_equal(admin_value("SELECT count(*) FROM pg_namespace WHERE nspname = 'sitq'"),
                        "0");
    /* among other parameters, before or after them; the same schema with
     * options.schema saying so too; create_schema = 0 finds it */
    snprintf(target, sizeof target, "%s?connect_timeout=5&sitq_schema=s_uri&application_name=x",
             uri());
    TQ_OK(open_schema(target, "s_uri", 0, &b));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    assert_int_equal(tq_status(q, id), SITQ_QUEUED);
    sitq_queue_close(q);
    sitq_backend_close(b);
    /* a conflicting options.schema, a bad or repeated name are refused */
    TQ_ERR_MSG(SITQ_EINVAL, "sitq_schema", "differ", open_schema(target, "s_other", 1, &b));
    snprintf(target, sizeof target, "%s?sitq_schema=bad-name", uri());
    TQ_ERR_MSG(SITQ_EINVAL, "sitq_schema", "letters", sitq_backend_open(target, &b, &tq_err));
    snprintf(target, sizeof target, "%s?sitq_schema=", uri());
    TQ_ERR_MSG(SITQ_EINVAL, "sitq_schema", "letters", sitq_backend_open(target, &b, &tq_err));
    snprintf(target, sizeof target, "%s?sitq_schema=a&sitq_schema=b", uri());
    TQ_ERR_MSG(SITQ_EINVAL, "sitq_schema", "more than once",
               sitq_backend_open(target, &b, &tq_err));
    assert_null(b);
    /* sitq_poll_only is taken out too: 1, 0, true or false, once */
    snprintf(target, sizeof target, "%s?sitq_poll_only=1&sitq_schema=s_uri", uri());
    TQ_OK(sitq_backend_open(target, &b, &tq_err));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    assert_int_equal(tq_status(q, id), SITQ_QUEUED);
    sitq_queue_close(q);
    sitq_backend_close(b);
    snprintf(target, sizeof target, "%s?sitq_schema=s_uri&sitq_poll_only=2", uri());
    TQ_ERR_MSG(SITQ_EINVAL, "sitq_poll_only", "1 or 0", sitq_backend_open(target, &b, &tq_err));
    snprintf(target, sizeof target, "%s?sitq_poll_only=0&sitq_poll_only=1", uri());
    TQ_ERR_MSG(SITQ_EINVAL, "sitq_poll_only", "more than once",
               sitq_backend_open(target, &b, &tq_err));
    assert_null(b);
    /* other query parameters still reach libpq, which judges them */
    snprintf(target, sizeof target, "%s?sitq_schema=s_uri&no_such_parameter=1", uri());
    TQ_ERR(SITQ_ESTORAGE, sitq_backend_open(target, &b, &tq_err));
    admin("DROP SCHEMA s_uri CASCADE");
}

/* The session's rules hold whatever the connection string or the role set
 * by default: a client_encoding of LATIN1 stored the UTF-8 bytes of "é" as
 * the two characters "Ã©" (a queue workers on UTF-8 sessions never saw). */
static void test_session_settings_win(void **state) {
    (void)state;
    char target[600];
    snprintf(
        target, sizeof target,
        "%s?sitq_schema=s_enc&client_encoding=LATIN1&options=-c%%20idle_session_timeout%%3D200",
        uri());
    sitq_backend *b = NULL;
    TQ_OK(sitq_backend_open(target, &b, &tq_err));
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(b, "\xc3\xa9", &q, &tq_err));
    tq_enqueue(q, "f", NULL);
    assert_string_equal(admin_value("SELECT queue FROM s_enc.tasks"), "\xc3\xa9");
    /* the session stays open idle past the 200 ms the string asked for (the
     * server ended it, and the next enqueue failed) */
    const char *idle = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sitq' "
                       "AND state = 'idle' AND now() - state_change > interval '400 ms'";
    for (int i = 0; i < 500 && strcmp(admin_value(idle), "0") == 0; i++) tq_sleep_ms(20);
    assert_string_not_equal(admin_value(idle), "0");
    tq_enqueue(q, "f", NULL);
    assert_string_equal(admin_value("SELECT count(*) FROM s_enc.tasks"), "2");
    char **names = NULL;
    size_t n = 0;
    TQ_OK(sitq_queue_names(b, &names, &n, &tq_err));
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "\xc3\xa9");
    sitq_queue_names_free(names, n);
    sitq_queue_close(q);
    sitq_backend_close(b);
    admin("DROP SCHEMA s_enc CASCADE");
}

/* Read task id's result, expected to fail: its code, and its message
 * copied into msg (sizeof tq_err.message bytes). */
static sitq_code read_failing(sitq_queue *q, sitq_task_id id, char *msg) {
    sitq_result *res = NULL;
    memset(&tq_err, 0, sizeof tq_err);
    sitq_code rc = sitq_get_result(q, id, &res, &tq_err);
    snprintf(msg, sizeof tq_err.message, "%s", tq_err.message);
    sitq_result_free(res);
    return rc;
}

/* A poll_only backend's reads run outside its transactions, under the
 * session's own settings (PgBouncer keeps none of sitq's): a statement_timeout
 * given by the connection string, as a role's would be, cancels a read that
 * waits for a lock, and the error names the server's reason, not sitq's own
 * statement timeout (0: none). Without poll_only sitq's settings win. */
static void test_server_cancel_named(void **state) {
    (void)state;
    const char *opts = "sitq_schema=s_cancel&options=-c%20statement_timeout%3D200";
    char target[600];
    snprintf(target, sizeof target, "%s?%s&sitq_poll_only=1", uri(), opts);
    sitq_backend *b = NULL;
    TQ_OK(sitq_backend_open(target, &b, &tq_err));
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sitq_task_id id = tq_enqueue(q, "f", NULL);
    PGconn *holder = PQconnectdb(uri());
    assert_int_equal(PQstatus(holder), CONNECTION_OK);
    PGresult *r = PQexec(holder, "BEGIN; LOCK TABLE s_cancel.tasks IN ACCESS EXCLUSIVE MODE");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    char msg[sizeof tq_err.message];
    sitq_code rc = read_failing(q, id, msg);
    /* the same read without poll_only, the lock still held: sitq's own
     * settings (no statement timeout; its lock_timeout, 300 ms here) */
    snprintf(target, sizeof target, "%s?options=-c%%20statement_timeout%%3D200", uri());
    sitq_postgres_options o;
    sitq_postgres_options_init(&o);
    o.schema = "s_cancel";
    o.lock_timeout_ms = 300;
    sitq_backend *b2 = NULL;
    TQ_OK(sitq_backend_open_postgres(target, &o, &b2, &tq_err));
    sitq_queue *q2 = NULL;
    TQ_OK(sitq_queue_open(b2, NULL, &q2, &tq_err));
    char msg2[sizeof tq_err.message];
    sitq_code rc2 = read_failing(q2, id, msg2);
    PQclear(PQexec(holder, "COMMIT"));
    PQfinish(holder);
    assert_int_equal(rc, SITQ_ESTORAGE);
    if (!strstr(msg, "the server cancelled a statement while") ||
        !strstr(msg, "the role's or database's statement_timeout") ||
        !strstr(msg, "canceling statement due to statement timeout"))
        fail_msg("unexpected message: %s", msg);
    if (rc2 != SITQ_EBUSY) fail_msg("without poll_only: %d %s", (int)rc2, msg2);
    sitq_result *res = NULL;
    TQ_OK(sitq_get_result(q2, id, &res, &tq_err));
    assert_int_equal(res->status, SITQ_QUEUED);
    sitq_result_free(res);
    sitq_queue_close(q2);
    sitq_backend_close(b2);
    sitq_queue_close(q);
    sitq_backend_close(b);
    admin("DROP SCHEMA s_cancel CASCADE");
}

static void test_unreachable_and_silent_server(void **state) {
    (void)state;
    sitq_backend *b = NULL;
    TQ_ERR_MSG(SITQ_ESTORAGE, "connect", "refused",
               open_schema("postgresql://postgres@127.0.0.1:1/postgres", "s_x", 1, &b));
    assert_null(b);
    /* A server that accepts the connection and never answers: the connect
     * timeout ends the wait. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    char conninfo[128];
    snprintf(conninfo, sizeof conninfo, "postgresql://postgres@127.0.0.1:%d/postgres",
             ntohs(a.sin_port));
    int64_t t0 = tq_mono_ms();
    TQ_ERR(SITQ_ESTORAGE, open_schema(conninfo, "s_x", 1, &b));
    int64_t waited = tq_mono_ms() - t0;
    assert_true(waited < 10000); /* connect_timeout_s = 3, per address tried */
    /* A connect_timeout in the string wins over the option (it was
     * overridden by it): 2 s of the string against 60 of the option. */
    snprintf(conninfo, sizeof conninfo,
             "postgresql://postgres@127.0.0.1:%d/postgres?connect_timeout=2", ntohs(a.sin_port));
    sitq_postgres_options o;
    sitq_postgres_options_init(&o);
    o.schema = "s_x";
    o.connect_timeout_s = 60;
    t0 = tq_mono_ms();
    TQ_ERR(SITQ_ESTORAGE, sitq_backend_open_postgres(conninfo, &o, &b, &tq_err));
    waited = tq_mono_ms() - t0;
    assert_true(waited >= 1500);
    assert_true(waited < 20000);
    close(fd);
}

static void test_wrong_password(void **state) {
    (void)state;
    admin("DROP ROLE IF EXISTS sitq_password_test");
    admin("CREATE ROLE sitq_password_test LOGIN PASSWORD 'right'");
    const char *u = uri();
    const char *host = strstr(u, "@") + 1;
    char good[256], bad[256];
    snprintf(good, sizeof good, "postgresql://sitq_password_test:right@%s", host);
    snprintf(bad, sizeof bad, "postgresql://sitq_password_test:wrong@%s", host);
    sitq_backend *b = NULL;
    TQ_ERR_MSG(SITQ_ESTORAGE, "password", "authentication", open_schema(bad, "s_pw", 1, &b));
    assert_null(strstr(tq_err.message, "wrong")); /* the password is never repeated */
    admin("GRANT CREATE ON DATABASE postgres TO sitq_password_test");
    TQ_OK(open_schema(good, "s_pw", 1, &b));
    sitq_backend_close(b);
    admin("DROP SCHEMA s_pw CASCADE");
    admin("REVOKE CREATE ON DATABASE postgres FROM sitq_password_test");
    admin("DROP ROLE sitq_password_test");
}

static void test_missing_foreign_and_other_version(void **state) {
    (void)state;
    sitq_backend *b = NULL;
    TQ_ERR_MSG(SITQ_ESCHEMA, "s_missing", "create_schema", open_schema(uri(), "s_missing", 0, &b));
    assert_string_equal(
        admin_value("SELECT count(*) FROM pg_namespace WHERE nspname = 's_missing'"), "0");
    /* another application's schema is refused and left unchanged */
    admin("CREATE SCHEMA s_foreign; CREATE TABLE s_foreign.orders(id int)");
    TQ_ERR_MSG(SITQ_ESCHEMA, "another application", "not sitq",
               open_schema(uri(), "s_foreign", 1, &b));
    assert_string_equal(admin_value("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON "
                                    "n.oid = c.relnamespace WHERE n.nspname = 's_foreign'"),
                        "1");
    admin("DROP SCHEMA s_foreign CASCADE");
    /* an empty schema that exists is sitq's to fill */
    admin("CREATE SCHEMA s_empty");
    TQ_OK(open_schema(uri(), "s_empty", 1, &b));
    sitq_backend_close(b);
    TQ_OK(open_schema(uri(), "s_empty", 0, &b)); /* now it is sitq's */
    sitq_backend_close(b);
    /* another sitq version */
    admin("UPDATE s_empty.meta SET value = 'pg0' WHERE key = 'schema_version'");
    TQ_ERR_MSG(SITQ_ESCHEMA, "version", "version", open_schema(uri(), "s_empty", 1, &b));
    assert_non_null(strstr(tq_err.message, "pg0"));
    admin("DROP SCHEMA s_empty CASCADE");
}

/* A schema of version pg1 (one counts row per queue) is upgraded in place
 * at an open that may write it: its succeeded count is kept and goes on
 * from there. */
static void test_upgrade_from_pg1(void **state) {
    (void)state;
    sitq_backend *b = NULL;
    TQ_OK(open_schema(uri(), "s_pg1", 1, &b));
    sitq_backend_close(b);
    admin("ALTER TABLE s_pg1.counts DROP CONSTRAINT counts_pkey;"
          "ALTER TABLE s_pg1.counts DROP COLUMN shard;"
          "ALTER TABLE s_pg1.counts ADD PRIMARY KEY(queue);"
          "INSERT INTO s_pg1.counts(queue, succeeded) VALUES('default', 41);"
          "UPDATE s_pg1.meta SET value = 'pg1' WHERE key = 'schema_version'");
    /* Only a caller that may write the schema upgrades it. */
    TQ_ERR_MSG(SITQ_ESCHEMA, "pg1", "upgrade", open_schema(uri(), "s_pg1", 0, &b));
    TQ_OK(open_schema(uri(), "s_pg1", 1, &b));
    assert_string_equal(admin_value("SELECT value FROM s_pg1.meta WHERE key = 'schema_version'"),
                        "pg4");
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    assert_int_equal(tq_stats(q).count[SITQ_SUCCEEDED], 41);
    sitq_task_id id = tq_enqueue(q, "f", NULL);
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_echo, NULL);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_result *r = tq_wait_done(q, id, 20);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    sitq_worker_free(w);
    assert_int_equal(tq_stats(q).count[SITQ_SUCCEEDED], 42);
    sitq_queue_close(q);
    sitq_backend_close(b);
    admin("DROP SCHEMA s_pg1 CASCADE");
}

/* A schema of version pg3 (no monotonic counters) is upgraded in place: its
 * counters start at 0 and count from there; the succeeded count is kept. */
static void test_upgrade_from_pg3(void **state) {
    (void)state;
    sitq_backend *b = NULL;
    TQ_OK(open_schema(uri(), "s_pg3", 1, &b));
    sitq_backend_close(b);
    admin("ALTER TABLE s_pg3.counts DROP COLUMN total_purged, DROP COLUMN total_succeeded,"
          " DROP COLUMN total_failed, DROP COLUMN total_retried, DROP COLUMN total_lost,"
          " DROP COLUMN total_cancelled;"
          "INSERT INTO s_pg3.counts(queue, shard, succeeded) VALUES('default', 3, 7);"
          "UPDATE s_pg3.meta SET value = 'pg3' WHERE key = 'schema_version'");
    TQ_ERR_MSG(SITQ_ESCHEMA, "pg3", "upgrade", open_schema(uri(), "s_pg3", 0, &b));
    TQ_OK(open_schema(uri(), "s_pg3", 1, &b));
    assert_string_equal(admin_value("SELECT value FROM s_pg3.meta WHERE key = 'schema_version'"),
                        "pg4");
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sitq_totals t;
    TQ_OK(sitq_queue_totals(q, &t, &tq_err));
    assert_int_equal(t.enqueued, 7); /* the tasks stored: purges before are not known */
    assert_int_equal(t.succeeded, 0);
    sitq_task_id id = tq_enqueue(q, "f", NULL);
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_echo, NULL);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_result *r = tq_wait_done(q, id, 20);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    sitq_worker_free(w);
    TQ_OK(sitq_queue_totals(q, &t, &tq_err));
    assert_int_equal(t.enqueued, 8);
    assert_int_equal(t.succeeded, 1);
    assert_int_equal(tq_stats(q).count[SITQ_SUCCEEDED], 8);
    sitq_queue_close(q);
    sitq_backend_close(b);
    admin("DROP SCHEMA s_pg3 CASCADE");
}

/* The worker's errors so far, and the last one's message into msg. */
static int64_t worker_errors(sitq_worker *w, char *msg, size_t cap) {
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);
    snprintf(msg, cap, "%s", ws.last_error);
    return ws.errors;
}

/* A worker on a store that refuses every write (a role without write
 * rights) tries again after a pause that doubles with each failure in a
 * row: failures 1 to 6 are at least 40 + 80 + 160 + 320 ms apart (about
 * 20 ms each before), and a stop cuts the pause short. */
static void worker_backs_off(sitq_queue *q) {
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_echo, NULL);
    TQ_OK(sitq_worker_start(w, &tq_err));
    char msg[SITQ_ERROR_MESSAGE_SIZE];
    int64_t deadline = tq_mono_ms() + 20000;
    while (worker_errors(w, msg, sizeof msg) < 1 && tq_mono_ms() < deadline) tq_sleep_ms(1);
    int64_t first = tq_mono_ms();
    while (worker_errors(w, msg, sizeof msg) < 6 && tq_mono_ms() < deadline) tq_sleep_ms(1);
    int64_t took_ms = tq_mono_ms() - first;
    assert_true(worker_errors(w, msg, sizeof msg) >= 6);
    assert_non_null(strstr(msg, "permission"));
    assert_true(took_ms >= 550);
    int64_t before_stop = tq_mono_ms();
    TQ_OK(sitq_worker_stop(w, 10, &tq_err));
    assert_true(tq_mono_ms() - before_stop < 5000);
    sitq_worker_free(w);
}

static void test_read_only_role(void **state) {
    (void)state;
    sitq_backend *b = NULL;
    TQ_OK(open_schema(uri(), "s_ro", 1, &b));
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sitq_task_id id = tq_enqueue(q, "f", NULL);
    sitq_queue_close(q);
    sitq_backend_close(b);
    admin("DROP ROLE IF EXISTS sitq_reader");
    admin("CREATE ROLE sitq_reader LOGIN; GRANT USAGE ON SCHEMA s_ro TO sitq_reader;"
          "GRANT SELECT ON ALL TABLES IN SCHEMA s_ro TO sitq_reader");
    char ro[256];
    snprintf(ro, sizeof ro, "postgresql://sitq_reader@%s", strstr(uri(), "@") + 1);
    /* a missing schema cannot be created by it */
    TQ_ERR_MSG(SITQ_ESTORAGE, "privilege", "permission", open_schema(ro, "s_ro_new", 1, &b));
    /* an existing one opens and reads; writes are refused clearly */
    TQ_OK(open_schema(ro, "s_ro", 1, &b));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    assert_int_equal(tq_status(q, id), SITQ_QUEUED);
    assert_int_equal(tq_stats(q).total, 1);
    /* the store's figures too, but WAL per task: the role may not read the
     * ids' sequence */
    sitq_store_health h;
    TQ_OK(sitq_backend_health(b, &h, &tq_err));
    assert_true(h.store_bytes > 0);
    assert_true(h.wal_bytes > 0);
    assert_true(h.wal_bytes_per_task < 0);
    char *text = NULL;
    TQ_OK(sitq_metrics_text(b, &text, NULL, &tq_err));
    assert_non_null(strstr(text, "sitq_tasks{queue=\"default\",status=\"queued\"} 1"));
    free(text);
    sitq_task_id id2 = 0;
    TQ_ERR_MSG(SITQ_ESTORAGE, "privilege", "permission",
               sitq_enqueue(q, "f", NULL, 0, NULL, &id2, &tq_err));
    sitq_status st;
    TQ_ERR_MSG(SITQ_ESTORAGE, "privilege", "permission", sitq_cancel(q, id, &st, &tq_err));
    worker_backs_off(q);
    sitq_queue_close(q);
    sitq_backend_close(b);
    admin("DROP SCHEMA s_ro CASCADE; DROP OWNED BY sitq_reader; DROP ROLE sitq_reader");
}

typedef struct opener {
    const char *schema;
    sitq_code rc;
    char message[SITQ_ERROR_MESSAGE_SIZE];
} opener;

static void *open_thread(void *arg) {
    opener *o = arg;
    sitq_postgres_options po;
    sitq_postgres_options_init(&po);
    po.schema = o->schema;
    sitq_backend *b = NULL;
    sitq_error err;
    memset(&err, 0, sizeof err);
    o->rc = sitq_backend_open_postgres(getenv("SITQ_TEST_PG_URI"), &po, &b, &err);
    snprintf(o->message, sizeof o->message, "%s", err.message);
    sitq_backend_close(b);
    return NULL;
}

static void test_concurrent_creation(void **state) {
    (void)state;
    enum { N = 6 };
    pthread_t th[N];
    opener o[N];
    for (int i = 0; i < N; i++) {
        o[i].schema = "s_race";
        assert_int_equal(pthread_create(&th[i], NULL, open_thread, &o[i]), 0);
    }
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++)
        if (o[i].rc != SITQ_OK) fail_msg("opener %d: %s", i, o[i].message);
    admin("DROP SCHEMA s_race CASCADE");
}

static void test_connection_killed(void **state) {
    (void)state;
    sitq_backend *b = NULL;
    TQ_OK(open_schema(uri(), "s_kill", 1, &b));
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sitq_task_id a = tq_enqueue(q, "f", NULL);
    /* Every connection of the backend is terminated under it. */
    admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
          "WHERE application_name = 'sitq' AND pid <> pg_backend_pid()");
    sitq_task_id id = 0;
    TQ_ERR_MSG(SITQ_ESTORAGE, "lost", "connection",
               sitq_enqueue(q, "f", NULL, 0, NULL, &id, &tq_err));
    /* the next call reconnects */
    sitq_task_id c = tq_enqueue(q, "f", NULL);
    assert_true(c > a);
    sitq_result *r = NULL;
    memset(&tq_err, 0, sizeof tq_err);
    sitq_code rc = sitq_get_result(q, a, &r, &tq_err);
    if (rc != SITQ_OK) { /* the reader lost its connection too: reported once */
        assert_int_equal(rc, SITQ_ESTORAGE);
        TQ_OK(sitq_get_result(q, a, &r, &tq_err));
    }
    assert_int_equal(r->status, SITQ_QUEUED);
    sitq_result_free(r);
    assert_int_equal(tq_stats(q).total, 2);
    sitq_queue_close(q);
    sitq_backend_close(b);
    admin("DROP SCHEMA s_kill CASCADE");
}

/* A wait rides out a lost connection (a server restart, a failover, an
 * administrator's pg_terminate_backend): its read reconnects and the wait
 * returns the task's outcome instead of SITQ_ESTORAGE. */
static void test_wait_after_connection_killed(void **state) {
    (void)state;
    sitq_backend *b = NULL;
    TQ_OK(open_schema(uri(), "s_waitkill", 1, &b));
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sitq_task_id t = tq_enqueue(q, "f", NULL);
    sitq_result *r = NULL;
    /* the wait's reader and listener connections are made */
    assert_int_equal(sitq_wait(q, t, 0.05, &r, &tq_err), SITQ_ETIMEDOUT);
    sitq_result_free(r);
    r = NULL;
    sitq_status st;
    TQ_OK(sitq_cancel(q, t, &st, &tq_err));
    admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
          "WHERE application_name = 'sitq' AND pid <> pg_backend_pid()");
    TQ_OK(sitq_wait(q, t, 30, &r, &tq_err));
    assert_int_equal(r->status, SITQ_CANCELLED);
    sitq_result_free(r);
    sitq_queue_close(q);
    sitq_backend_close(b);
    admin("DROP SCHEMA s_waitkill CASCADE");
}

/* poll_only: the same backend without LISTEN. Its waits poll (no listener
 * connection is ever opened) and still see another backend's completion;
 * without poll_only the first wait starts the listener. */
static void test_poll_only(void **state) {
    (void)state;
    const char *listeners = "SELECT count(*) FROM pg_stat_activity "
                            "WHERE application_name = 'sitq' AND query LIKE 'LISTEN%'";
    for (int poll_only = 1; poll_only >= 0; poll_only--) {
        sitq_postgres_options o;
        sitq_postgres_options_init(&o);
        o.schema = "s_poll";
        o.poll_only = poll_only;
        sitq_backend *b = NULL, *other = NULL;
        TQ_OK(sitq_backend_open_postgres(uri(), &o, &b, &tq_err));
        o.poll_only = 0;
        TQ_OK(sitq_backend_open_postgres(uri(), &o, &other, &tq_err));
        sitq_queue *q = NULL, *oq = NULL;
        TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
        TQ_OK(sitq_queue_open(other, NULL, &oq, &tq_err));
        sitq_task_id id = tq_enqueue(q, "f", NULL);
        sitq_result *r = NULL;
        /* Waits (a slow first read may use up a short one before it waits);
         * the listener connects in its own thread: 10 s for it to show, 1 s
         * of waits for a poll_only backend. */
        int64_t until = tq_mono_ms() + (poll_only ? 1000 : 10000);
        do {
            TQ_ERR(SITQ_ETIMEDOUT, sitq_wait(q, id, 0.2, &r, &tq_err));
            sitq_result_free(r);
            r = NULL;
        } while ((poll_only || strcmp(admin_value(listeners), "1") != 0) && tq_mono_ms() < until);
        assert_string_equal(admin_value(listeners), poll_only ? "0" : "1");
        /* another backend cancels it: the wait sees it, by polling or notified */
        sitq_status st;
        TQ_OK(sitq_cancel(oq, id, &st, &tq_err));
        r = NULL;
        TQ_OK(sitq_wait(q, id, 10, &r, &tq_err));
        assert_int_equal(r->status, SITQ_CANCELLED);
        sitq_result_free(r);
        sitq_queue_close(oq);
        sitq_queue_close(q);
        sitq_backend_close(other);
        sitq_backend_close(b);
        admin("DROP SCHEMA s_poll CASCADE");
    }
}

/* Send sig to every server process whose application_name is app; returns
 * how many there were, or -1 when one could not be signalled. No cmocka
 * asserts: the watchdog thread calls it too. */
static int signal_sessions(const char *app, int sig) {
    PGconn *c = PQconnectdb(uri());
    const char *vals[1] = {app};
    PGresult *r = PQexecParams(c, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", 1,
                               NULL, vals, NULL, NULL, 0);
    int n = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : -1;
    for (int i = 0; i < n; i++)
        if (kill((pid_t)atoi(PQgetvalue(r, i, 0)), sig) != 0) n = -1;
    PQclear(r);
    PQfinish(c);
    return n;
}

/* Resumes the frozen session after 15 s, so that a call that never gives up
 * fails the test by its duration instead of hanging it. */
static atomic_int frozen_done;

static void *thaw_later(void *arg) {
    (void)arg;
    for (int i = 0; i < 1500 && !atomic_load(&frozen_done); i++) tq_sleep_ms(10);
    signal_sessions("sitq_frozen", SIGCONT);
    return NULL;
}

/* A server process that stops answering mid-session (SIGSTOP: its kernel
 * still acknowledges every byte and keepalive, so TCP cannot tell): the
 * call fails within the reply limit (statement_timeout_ms plus two
 * keepalive_s: 2.5 s here) with a message that says so, and the next call
 * reconnects to the server, which still serves new sessions. */
static void test_frozen_server(void **state) {
    (void)state;
    char conninfo[512];
    snprintf(conninfo, sizeof conninfo, "%s?application_name=sitq_frozen", uri());
    sitq_postgres_options o;
    sitq_postgres_options_init(&o);
    o.schema = "s_frozen";
    o.statement_timeout_ms = 500;
    o.keepalive_s = 1;
    o.reader_connections = 0;
    sitq_backend *b = NULL;
    TQ_OK(sitq_backend_open_postgres(conninfo, &o, &b, &tq_err));
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    tq_enqueue(q, "f", NULL);
    atomic_store(&frozen_done, 0);
    pthread_t thaw;
    assert_int_equal(pthread_create(&thaw, NULL, thaw_later, NULL), 0);
    assert_int_equal(signal_sessions("sitq_frozen", SIGSTOP), 1);
    sitq_task_id id = 0;
    memset(&tq_err, 0, sizeof tq_err);
    int64_t t0 = tq_mono_ms();
    sitq_code rc = sitq_enqueue(q, "f", NULL, 0, NULL, &id, &tq_err);
    int64_t waited = tq_mono_ms() - t0;
    atomic_store(&frozen_done, 1);
    pthread_join(thaw, NULL);
    assert_int_equal(rc, SITQ_ESTORAGE);
    if (!strstr(tq_err.message, "stopped answering") || !strstr(tq_err.message, "2.5 s"))
        fail_msg("unexpected message: %s", tq_err.message);
    assert_true(waited >= 2400 && waited < 6000);
    /* A new session works. The frozen one's statement may still commit
     * once it is thawed (an enqueue's single statement commits itself),
     * which is why the error says the outcome is unknown. */
    assert_non_null(strstr(tq_err.message, "may or may not"));
    tq_enqueue(q, "f", NULL);
    int64_t total = tq_stats(q).total;
    assert_true(total == 2 || total == 3);
    sitq_queue_close(q);
    sitq_backend_close(b);
    admin("DROP SCHEMA s_frozen CASCADE");
}

/* A backend whose sessions carry application_name app, on schema, with its
 * queue and a task due in an hour, and its reader and listener connected
 * by a first wait (which times out). The task's id. */
static sitq_task_id open_connected(const char *app, const char *schema, sitq_backend **b,
                                   sitq_queue **q) {
    char conninfo[512];
    snprintf(conninfo, sizeof conninfo, "%s?application_name=%s", uri(), app);
    sitq_postgres_options o;
    sitq_postgres_options_init(&o);
    o.schema = schema;
    TQ_OK(sitq_backend_open_postgres(conninfo, &o, b, &tq_err));
    TQ_OK(sitq_queue_open(*b, NULL, q, &tq_err));
    sitq_task_options to;
    sitq_task_options_init(&to);
    to.delay_s = 3600;
    sitq_task_id id = tq_enqueue(*q, "f", &to);
    sitq_result *r = NULL;
    TQ_ERR(SITQ_ETIMEDOUT, sitq_wait(*q, id, 0.3, &r, &tq_err));
    sitq_result_free(r);
    return id;
}

/* Once the server answers again, a wait reconnects within 10 s and times
 * out on the task as a wait on a healthy server does. */
static void wait_reconnected(sitq_queue *q, sitq_task_id id) {
    int64_t until = tq_mono_ms() + 10000;
    sitq_code rc;
    do {
        sitq_result *r = NULL;
        rc = sitq_wait(q, id, 0.2, &r, &tq_err);
        sitq_result_free(r);
    } while (rc != SITQ_ETIMEDOUT && tq_mono_ms() < until);
    assert_int_equal(rc, SITQ_ETIMEDOUT);
}

/* A wait's timeout bounds it even when the server stops answering: with the
 * default bounds (a statement's reply may be silent for 90 s), a 1 s
 * sitq_wait on a frozen server gives up soon after its timeout with an
 * error that says so, instead of at the reply limit; once the server is
 * thawed the next wait works. */
static void test_frozen_server_wait(void **state) {
    (void)state;
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    sitq_task_id id = open_connected("sitq_frozen", "s_frozen_wait", &b, &q);
    sitq_result *r = NULL;
    atomic_store(&frozen_done, 0);
    pthread_t thaw;
    assert_int_equal(pthread_create(&thaw, NULL, thaw_later, NULL), 0);
    assert_true(signal_sessions("sitq_frozen", SIGSTOP) >= 1);
    memset(&tq_err, 0, sizeof tq_err);
    int64_t t0 = tq_mono_ms();
    sitq_code rc = sitq_wait(q, id, 1.0, &r, &tq_err);
    int64_t waited = tq_mono_ms() - t0;
    char msg[sizeof tq_err.message];
    snprintf(msg, sizeof msg, "%s", tq_err.message);
    sitq_result_free(r);
    r = NULL;
    /* a second wait while the server is still frozen: bounded as well */
    memset(&tq_err, 0, sizeof tq_err);
    int64_t t1 = tq_mono_ms();
    sitq_code rc2 = sitq_wait(q, id, 1.0, &r, &tq_err);
    int64_t waited2 = tq_mono_ms() - t1;
    sitq_result_free(r);
    r = NULL;
    atomic_store(&frozen_done, 1);
    pthread_join(thaw, NULL);
    if (waited >= 4000 || waited2 >= 4000)
        fail_msg("1 s waits on a frozen server took %lld and %lld ms", (long long)waited,
                 (long long)waited2);
    assert_int_equal(rc, SITQ_ESTORAGE);
    if (!strstr(msg, "did not answer by the end of the wait's timeout"))
        fail_msg("unexpected message: %s", msg);
    /* the server still accepts new sessions: the second wait reconnected */
    assert_int_equal(rc2, SITQ_ETIMEDOUT);
    wait_reconnected(q, id); /* thawed: the next wait reconnects and reads the task */
    sitq_queue_close(q);
    sitq_backend_close(b);
    admin("DROP SCHEMA s_frozen_wait CASCADE");
}

/* The server's postmaster (SITQ_TEST_PGDATA's postmaster.pid), or 0. */
static pid_t postmaster_pid(void) {
    const char *data = getenv("SITQ_TEST_PGDATA");
    char path[512];
    snprintf(path, sizeof path, "%s/postmaster.pid", data ? data : ".");
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f && fscanf(f, "%ld", &pid) != 1) pid = 0;
    if (f) fclose(f);
    return (pid_t)pid;
}

static atomic_int pm_frozen_done;
static pid_t pm_frozen;

/* Resumes the postmaster after 15 s at the latest (as thaw_later). */
static void *thaw_postmaster_later(void *arg) {
    (void)arg;
    for (int i = 0; i < 1500 && !atomic_load(&pm_frozen_done); i++) tq_sleep_ms(10);
    kill(pm_frozen, SIGCONT);
    return NULL;
}

/* A wait whose connection must be made again while the server accepts TCP
 * but never answers (its postmaster stopped): the connection attempt is
 * bounded by the wait's deadline, 1 s after its timeout, not by libpq's
 * least connect_timeout (2 s). */
static void test_frozen_postmaster_reconnect(void **state) {
    (void)state;
    pm_frozen = postmaster_pid();
    if (pm_frozen <= 0) skip();
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    sitq_task_id id = open_connected("sitq_frozen_pm", "s_frozen_pm", &b, &q);
    sitq_result *r = NULL;
    /* its sessions end, then the server stops answering new ones */
    admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
          "WHERE application_name = 'sitq_frozen_pm'");
    atomic_store(&pm_frozen_done, 0);
    pthread_t thaw;
    assert_int_equal(pthread_create(&thaw, NULL, thaw_postmaster_later, NULL), 0);
    assert_int_equal(kill(pm_frozen, SIGSTOP), 0);
    int64_t waited = 0;
    sitq_code rc = SITQ_OK;
    /* the first try finds the connection gone; a try within the next
     * reconnection's back-off fails at once: the one that connects counts */
    for (int i = 0; i < 5 && waited < 100; i++) {
        tq_sleep_ms(100);
        memset(&tq_err, 0, sizeof tq_err);
        int64_t t0 = tq_mono_ms();
        rc = sitq_wait(q, id, 0, &r, &tq_err);
        waited = tq_mono_ms() - t0;
        sitq_result_free(r);
        r = NULL;
    }
    char msg[sizeof tq_err.message];
    snprintf(msg, sizeof msg, "%s", tq_err.message);
    atomic_store(&pm_frozen_done, 1);
    pthread_join(thaw, NULL);
    assert_int_equal(rc, SITQ_ESTORAGE);
    if (!strstr(msg, "cannot connect")) fail_msg("unexpected message: %s", msg);
    if (waited >= 1800) fail_msg("a timeout-0 wait took %lld ms to give up", (long long)waited);
    wait_reconnected(q, id); /* resumed: the next waits reconnect */
    sitq_queue_close(q);
    sitq_backend_close(b);
    admin("DROP SCHEMA s_frozen_pm CASCADE");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_factory),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_uri_schema),
        cmocka_unit_test(test_session_settings_win),
        cmocka_unit_test(test_server_cancel_named),
        cmocka_unit_test(test_unreachable_and_silent_server),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_missing_foreign_and_other_version),
        cmocka_unit_test(test_upgrade_from_pg1),
        cmocka_unit_test(test_upgrade_from_pg3),
        cmocka_unit_test(test_read_only_role),
        cmocka_unit_test(test_concurrent_creation),
        cmocka_unit_test(test_connection_killed),
        cmocka_unit_test(test_poll_only),
        cmocka_unit_test(test_frozen_server),
        cmocka_unit_test(test_frozen_server_wait),
        cmocka_unit_test(test_wait_after_connection_killed),
        cmocka_unit_test(test_frozen_postmaster_reconnect),
    };
    return cmocka_run_group_tests_name("pg_open", tests, NULL, NULL);
}
