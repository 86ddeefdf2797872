/* test_pg_silent.c - a server that goes silent at one chosen statement,
 * behind link_proxy.py --freeze-on (the login done, the connection kept
 * open, nothing answered): every statement and every send is bounded, also
 * the ones outside a call's usual path, a new connection's first statement
 * and a batch enqueue's COPY; and a COPY whose data libpq cannot buffer
 * fails instead of trying again for ever. Runs under with_pg.sh
 * (SITQ_TEST_PG_URI, SITQ_TEST_PG_PORT); TQ_PYTHON and TQ_LINK_PROXY come
 * from CMake. */
#include <libpq-fe.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static const char *uri(void) {
    const char *u = getenv("SITQ_TEST_PG_URI");
    assert_non_null(u);
    return u;
}

/* Run SQL as the cluster's superuser; asserts success. */
static void admin(const char *sql) {
    PGconn *c = PQconnectdb(uri());
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

typedef struct {
    pid_t pid;
    int port;
    atomic_int done; /* set by the test: the watchdog need not end the proxy */
    pthread_t watchdog;
} proxy;

/* A watchdog ends the proxy after 20 s, so that a call that never gives up
 * fails the test by its duration instead of hanging it: the connections
 * then close, which any blocked libpq call notices. */
static void *watchdog_main(void *arg) {
    proxy *p = arg;
    for (int i = 0; i < 2000 && !atomic_load(&p->done); i++) tq_sleep_ms(10);
    kill(p->pid, SIGKILL);
    return NULL;
}

/* Start link_proxy.py to the cluster, freezing on text (once armed_by
 * exists, when not NULL). */
static void proxy_start(proxy *p, const char *text, const char *armed_by) {
    const char *port = getenv("SITQ_TEST_PG_PORT");
    assert_non_null(port);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (armed_by)
            execl(TQ_PYTHON, TQ_PYTHON, TQ_LINK_PROXY, port, "--freeze-on", text, "--armed-by",
                  armed_by, (char *)NULL);
        else execl(TQ_PYTHON, TQ_PYTHON, TQ_LINK_PROXY, port, "--freeze-on", text, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[32] = "";
    FILE *f = fdopen(fds[0], "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    p->port = atoi(line);
    assert_true(p->port > 0);
    atomic_store(&p->done, 0);
    assert_int_equal(pthread_create(&p->watchdog, NULL, watchdog_main, p), 0);
}

static void proxy_stop(proxy *p) {
    atomic_store(&p->done, 1);
    pthread_join(p->watchdog, NULL);
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
}

/* Through the proxy, as application_name app. */
static void proxy_conninfo(const proxy *p, const char *app, char *buf, size_t n) {
    snprintf(buf, n, "host=127.0.0.1 port=%d user=postgres dbname=postgres application_name=%s",
             p->port, app);
}

/* A backend on schema, reached through a proxy freezing on text (once
 * armed_by exists, when not NULL), its sessions named app; statement_ms
 * and keepalive_s: its bounds (0: the defaults). */
static void open_via_proxy(proxy *p, const char *text, const char *armed_by, const char *app,
                           const char *schema, int statement_ms, int keepalive_s, sitq_backend **b,
                           sitq_queue **q) {
    proxy_start(p, text, armed_by);
    char conninfo[256];
    proxy_conninfo(p, app, conninfo, sizeof conninfo);
    sitq_postgres_options o;
    sitq_postgres_options_init(&o);
    o.schema = schema;
    if (statement_ms) o.statement_timeout_ms = statement_ms;
    if (keepalive_s) o.keepalive_s = keepalive_s;
    TQ_OK(sitq_backend_open_postgres(conninfo, &o, b, &tq_err));
    TQ_OK(sitq_queue_open(*b, NULL, q, &tq_err));
}

/* Run a batch of n specs on q through proxy p, which goes silent on it:
 * it must fail within the 2.5 s reply limit with a message holding every
 * string of want (NULL-terminated); then close b and q, end the sessions
 * named app and drop schema. */
static void batch_gives_up(proxy *p, sitq_backend *b, sitq_queue *q, const sitq_task_spec *specs,
                           size_t n, const char *const *want, const char *app, const char *schema) {
    sitq_task_id *ids = calloc(n, sizeof *ids);
    assert_non_null(ids);
    memset(&tq_err, 0, sizeof tq_err);
    int64_t t0 = tq_mono_ms();
    sitq_code rc = sitq_enqueue_batch(q, specs, n, ids, &tq_err);
    int64_t waited = tq_mono_ms() - t0;
    proxy_stop(p);
    free(ids);
    assert_int_equal(rc, SITQ_ESTORAGE);
    for (const char *const *w = want; *w; w++)
        if (!strstr(tq_err.message, *w)) fail_msg("unexpected message: %s", tq_err.message);
    if (waited < 2400 || waited >= 8000)
        fail_msg("the batch gave up after %lld ms, not within the 2.5 s reply limit",
                 (long long)waited);
    sitq_queue_close(q);
    sitq_backend_close(b);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '%s'",
             app);
    admin(sql);
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
    admin(sql);
}

/* A batch of 300 tasks goes in with COPY, which is sent as a simple query
 * (it cannot be prepared) and whose data are sent apart: the server goes
 * silent at the COPY. The batch fails within the reply limit
 * (statement_timeout_ms plus two keepalive_s: 2.5 s here), saying so;
 * libpq's blocking PQexec waited for ever. */
static void test_silent_at_copy(void **state) {
    (void)state;
    proxy p;
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    open_via_proxy(&p, "COPY ", NULL, "sitq_silent_copy", "s_silent_copy", 500, 1, &b, &q);
    enum { N = 300 };
    sitq_task_spec specs[N];
    memset(specs, 0, sizeof specs);
    for (size_t i = 0; i < N; i++) specs[i].function = "f";
    static const char *const want[] = {"stopped answering", "copying tasks", NULL};
    batch_gives_up(&p, b, q, specs, N, want, "sitq_silent_copy", "s_silent_copy");
}

/* A server that stops at a COPY's data (their first bytes reach it), when
 * there are more of them than the sockets' buffers hold (300 tasks of 100
 * KB): it stops reading while they are still being sent, and the error
 * says that it took nothing more (not that it sent no reply), within the
 * same reply limit. (With the TCP user timeout the kernel ends such a
 * connection first: "the connection ... was lost".) */
static void test_silent_while_sending(void **state) {
    (void)state;
    proxy p;
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    /* Without the TCP user timeout (a platform without one, or a
     * connection string that sets it to 0): the kernel would otherwise end
     * the connection first, after two keepalive_s of data not taken. */
    proxy_start(&p, "ZZZZZZZZ", NULL);
    char conninfo[300];
    proxy_conninfo(&p, "sitq_silent_send", conninfo, sizeof conninfo);
    size_t used = strlen(conninfo);
    snprintf(conninfo + used, sizeof conninfo - used, " tcp_user_timeout=0");
    sitq_postgres_options o;
    sitq_postgres_options_init(&o);
    o.schema = "s_silent_send";
    o.statement_timeout_ms = 500;
    o.keepalive_s = 1;
    TQ_OK(sitq_backend_open_postgres(conninfo, &o, &b, &tq_err));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    enum { N = 300, SIZE = 100000 };
    char *payload = malloc(SIZE);
    assert_non_null(payload);
    memset(payload, 'Z', SIZE);
    sitq_task_spec specs[N];
    memset(specs, 0, sizeof specs);
    for (size_t i = 0; i < N; i++) {
        specs[i].function = "f";
        specs[i].payload = payload;
        specs[i].payload_len = SIZE;
    }
    static const char *const want[] = {"took none of what was sent for 2.5 s", "stopped reading",
                                       "copying tasks", NULL};
    batch_gives_up(&p, b, q, specs, N, want, "sitq_silent_send", "s_silent_send");
    free(payload);
}

/* The backend's sessions are ended; the server then takes every new login
 * and answers nothing on it (a PgBouncer that PAUSEs does that): the first
 * statement of a new connection, which reads the server's start time, is
 * bounded like any other. A 1 s wait gives up soon after its timeout, and
 * closing the backend (which joins its listener thread, reconnecting in
 * the same way) ends within its stop's grace, with default bounds (a reply
 * may otherwise be silent for 90 s). */
static void test_silent_new_session(void **state) {
    (void)state;
    char armed[64];
    snprintf(armed, sizeof armed, "/tmp/sitq-silent-armed.%ld", (long)getpid());
    unlink(armed);
    proxy p;
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    open_via_proxy(&p, "pg_postmaster_start_time", armed, "sitq_silent_login", "s_silent_login", 0,
                   0, &b, &q);
    sitq_task_options to;
    sitq_task_options_init(&to);
    to.delay_s = 3600;
    sitq_task_id id = tq_enqueue(q, "f", &to);
    sitq_result *r = NULL;
    TQ_ERR(SITQ_ETIMEDOUT, sitq_wait(q, id, 0.3, &r, &tq_err)); /* the listener connects */
    sitq_result_free(r);
    r = NULL;
    FILE *f = fopen(armed, "w");
    assert_non_null(f);
    fclose(f);
    admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
          "WHERE application_name = 'sitq_silent_login'");
    memset(&tq_err, 0, sizeof tq_err);
    int64_t t0 = tq_mono_ms();
    sitq_code rc = sitq_wait(q, id, 1.0, &r, &tq_err);
    int64_t waited = tq_mono_ms() - t0;
    sitq_result_free(r);
    t0 = tq_mono_ms();
    sitq_queue_close(q);
    sitq_backend_close(b);
    int64_t closing = tq_mono_ms() - t0;
    proxy_stop(&p);
    unlink(armed);
    assert_int_equal(rc, SITQ_ESTORAGE);
    if (waited >= 4000) fail_msg("a 1 s wait took %lld ms", (long long)waited);
    /* the listener's statement: cancelled after SITQ__ABORT_GRACE_US (2 s),
     * given up 2 s later when the cancel is not answered either */
    if (closing >= 10000) fail_msg("closing the backend took %lld ms", (long long)closing);
    admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
          "WHERE application_name = 'sitq_silent_login'");
    admin("DROP SCHEMA s_silent_login CASCADE");
}

/* In a child whose address space fits a 600 MB payload but not libpq's
 * buffer for it: a batch (COPY) with that payload fails at once, out of
 * memory, the connection still usable. Exit 0 when so. */
static int copy_without_memory(void) {
    sitq_postgres_options o;
    sitq_postgres_options_init(&o);
    o.schema = "s_copy_nomem";
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    sitq_error err = {0};
    if (sitq_backend_open_postgres(uri(), &o, &b, &err) || sitq_queue_open(b, NULL, &q, &err))
        return 2;
    enum { N = 256, BIG = 600000000 };
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld", &pages) != 1) return 3;
    fclose(f);
    rlim_t limit = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + 900000000u;
    struct rlimit rl = {limit, limit};
    if (setrlimit(RLIMIT_AS, &rl) != 0) return 4;
    char *big = malloc(BIG);
    if (!big) return 5;
    memset(big, 'p', BIG);
    static sitq_task_spec specs[N];
    static sitq_task_id ids[N];
    for (int i = 0; i < N; i++) {
        specs[i].function = "f";
        specs[i].payload = i ? "0123456789" : big;
        specs[i].payload_len = i ? 10 : BIG;
    }
    sitq_code rc = sitq_enqueue_batch(q, specs, N, ids, &err);
    free(big);
    if (rc == SITQ_OK || !strstr(err.message, "memory")) {
        fprintf(stderr, "the batch: %d %s\n", (int)rc, err.message);
        return 6;
    }
    sitq_task_id id = 0; /* the connection still works */
    if (sitq_enqueue(q, "f", "x", 1, NULL, &id, &err) != SITQ_OK) {
        fprintf(stderr, "then: %s\n", err.message);
        return 7;
    }
    sitq_queue_close(q);
    sitq_backend_close(b);
    return 0;
}

static void test_copy_without_memory(void **state) {
    (void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    skip(); /* their shadow memory needs an address space without a limit */
#endif
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(copy_without_memory());
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 6000 && done == 0; i++) { /* 60 s: it looped for ever */
        done = waitpid(pid, &status, WNOHANG);
        if (done == 0) tq_sleep_ms(10);
    }
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("the batch without memory for its COPY did not return in 60 s");
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    admin("DROP SCHEMA s_copy_nomem CASCADE");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_silent_at_copy),
        cmocka_unit_test(test_silent_while_sending),
        cmocka_unit_test(test_silent_new_session),
        cmocka_unit_test(test_copy_without_memory),
    };
    return cmocka_run_group_tests_name("pg_silent", tests, NULL, NULL);
}
