/* helpers.c - shared helpers of the sitq unit tests. */
#include "helpers.h"

#include <errno.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

sitq_error tq_err;

/* The environment of the running test (forked children inherit it). */
static tq_env *tq_current;

int tq_make_tmpdir(char *buf, size_t n) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    if ((size_t)snprintf(buf, n, "%s/sitq-test-XXXXXX", base) >= n) return -1;
    return mkdtemp(buf) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void tq_rm_rf(const char *dir) {
    if (dir && *dir) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void tq_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

int64_t tq_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tq_contains_ci(const char *hay, const char *needle) {
    return hay && needle && strcasestr(hay, needle) != NULL;
}

const char *tq_id_str(sitq_task_id id) {
    static char bufs[8][32];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 32, "%lld", (long long)id);
    return b;
}

static tq_env *env_new(void) {
    tq_env *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    if (tq_make_tmpdir(e->dir, sizeof e->dir) != 0) {
        free(e);
        return NULL;
    }
    snprintf(e->path, sizeof e->path, "%s/test.db", e->dir);
    return e;
}

int tq_setup_dir(void **state) {
    tq_env *e = env_new();
    if (!e) return -1;
    tq_current = e;
    *state = e;
    return 0;
}

int tq_backend_is_postgres(void) {
    const char *b = getenv("SITQ_TEST_BACKEND");
    return b && strcmp(b, "postgres") == 0;
}

static void pg_quiet(void *arg, const char *message) {
    (void)arg;
    (void)message; /* "drop cascades to ..." */
}

/* Run one SQL command on the test cluster (SITQ_TEST_PG_URI); 0 on success. */
static int pg_admin(const char *sql) {
    const char *uri = getenv("SITQ_TEST_PG_URI");
    if (!uri) return -1;
    PGconn *c = PQconnectdb(uri);
    int rc = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PQsetNoticeProcessor(c, pg_quiet, NULL);
        PGresult *r = PQexec(c, sql);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
        if (rc) fprintf(stderr, "pg_admin: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    } else {
        fprintf(stderr, "pg_admin: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    return rc;
}

/* A fresh schema per test on the test cluster: the test's own database. */
static sitq_code open_postgres(tq_env *e, sitq_backend **out, sitq_error *err) {
    const char *uri = getenv("SITQ_TEST_PG_URI");
    if (!uri) {
        snprintf(err->message, sizeof err->message, "SITQ_TEST_PG_URI is not set");
        return SITQ_EINVAL;
    }
    if (!e->schema[0]) {
        static atomic_int seq;
        snprintf(e->schema, sizeof e->schema, "t_%ld_%d_%ld", (long)getpid(),
                 atomic_fetch_add(&seq, 1), (long)(tq_mono_ms() % 100000));
    }
    sitq_postgres_options o;
    sitq_postgres_options_init(&o);
    o.schema = e->schema;
    return sitq_backend_open_postgres(uri, &o, out, err);
}

sitq_code tq_open_path(const char *path, const sitq_sqlite_options *so, sitq_backend **out,
                       sitq_error *err) {
    if (tq_backend_is_postgres() && tq_current && path && strcmp(path, tq_current->path) == 0)
        return open_postgres(tq_current, out, err);
    return sitq_backend_open_sqlite(path, so, out, err);
}

sitq_code tq_open_backend(tq_env *e, sitq_backend **out, sitq_error *err) {
    if (tq_backend_is_postgres()) return open_postgres(e, out, err);
    return sitq_backend_open_sqlite(e->path, NULL, out, err);
}

int tq_setup(void **state) {
    tq_env *e = env_new();
    if (!e) return -1;
    tq_current = e;
    sitq_error err;
    if (tq_open_backend(e, &e->backend, &err) != SITQ_OK) {
        fprintf(stderr, "tq_setup: open %s: %s\n", e->path, err.message);
        tq_rm_rf(e->dir);
        free(e);
        return -1;
    }
    if (sitq_queue_open(e->backend, NULL, &e->queue, &err) != SITQ_OK) {
        fprintf(stderr, "tq_setup: queue_open: %s\n", err.message);
        sitq_backend_close(e->backend);
        tq_rm_rf(e->dir);
        free(e);
        return -1;
    }
    *state = e;
    return 0;
}

int tq_teardown(void **state) {
    tq_env *e = *state;
    if (!e) return 0;
    if (tq_current == e) tq_current = NULL;
    sitq_queue_close(e->queue);
    sitq_backend_close(e->backend);
    if (e->schema[0]) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS \"%s\" CASCADE", e->schema);
        pg_admin(sql);
    }
    tq_rm_rf(e->dir);
    free(e);
    *state = NULL;
    return 0;
}

/* ---- handlers ---- */

void tq_rec_init(tq_rec *r, size_t cap) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->cap = cap ? cap : 16;
    r->ids = calloc(r->cap, sizeof *r->ids);
    atomic_init(&r->calls, 0);
    atomic_init(&r->active, 0);
    atomic_init(&r->max_active, 0);
}

void tq_rec_free(tq_rec *r) {
    free(r->ids);
    r->ids = NULL;
    pthread_mutex_destroy(&r->mu);
}

size_t tq_rec_count(tq_rec *r) {
    pthread_mutex_lock(&r->mu);
    size_t n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

int tq_h_record(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    (void)payload;
    (void)len;
    tq_rec *r = ud;
    int a = atomic_fetch_add(&r->active, 1) + 1;
    int m = atomic_load(&r->max_active);
    while (a > m && !atomic_compare_exchange_weak(&r->max_active, &m, a)) {}
    atomic_fetch_add(&r->calls, 1);
    pthread_mutex_lock(&r->mu);
    if (r->n == r->cap) {
        size_t nc = r->cap * 2;
        sitq_task_id *p = realloc(r->ids, nc * sizeof *p);
        if (p) {
            r->ids = p;
            r->cap = nc;
        }
    }
    if (r->n < r->cap) r->ids[r->n++] = sitq_ctx_task_id(ctx);
    pthread_mutex_unlock(&r->mu);
    if (r->sleep_ms > 0) tq_sleep_ms(r->sleep_ms);
    atomic_fetch_sub(&r->active, 1);
    if (r->fail) {
        sitq_ctx_set_error(ctx, "recorded failure", NULL);
        return 1;
    }
    return 0;
}

int tq_h_echo(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    if (ud) atomic_fetch_add((atomic_int *)ud, 1);
    if (sitq_ctx_set_result(ctx, payload, len) != SITQ_OK) return 1;
    return 0;
}

int tq_h_fail(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    (void)payload;
    (void)len;
    if (ud) atomic_fetch_add((atomic_int *)ud, 1);
    sitq_ctx_set_error(ctx, "boom", "tb");
    return 1;
}

int tq_h_block(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    (void)payload;
    (void)len;
    tq_block *b = ud;
    atomic_fetch_add(&b->started, 1);
    int max_ms = b->max_ms > 0 ? b->max_ms : 20000;
    int64_t end = tq_mono_ms() + max_ms;
    int seen = 0;
    while (tq_mono_ms() < end) {
        if (sitq_ctx_cancelled(ctx)) {
            seen = 1;
            break;
        }
        tq_sleep_ms(1);
    }
    if (seen) atomic_fetch_add(&b->saw_cancel, 1);
    atomic_fetch_add(&b->finished, 1);
    if (seen && b->succeed) return 0;
    sitq_ctx_set_error(ctx, "stopped by cancel flag", NULL);
    return 1;
}

/* ---- queue/worker helpers ---- */

void tq_worker_opts(sitq_worker_options *o, int concurrency, int prefetch) {
    sitq_worker_options_init(o);
    o->concurrency = concurrency;
    o->prefetch = prefetch;
    o->poll_interval_s = 0.01;
    o->heartbeat_interval_s = 0.05;
}

sitq_worker *tq_worker_new(sitq_queue *q, int concurrency, int prefetch, const char *function,
                           sitq_handler_fn fn, void *ud) {
    sitq_worker_options o;
    tq_worker_opts(&o, concurrency, prefetch);
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(q, &o, &w, &tq_err));
    assert_non_null(w);
    TQ_OK(sitq_worker_register(w, function, fn, ud, &tq_err));
    return w;
}

sitq_task_id tq_enqueue(sitq_queue *q, const char *function, const sitq_task_options *o) {
    sitq_task_id id = 0;
    TQ_OK(sitq_enqueue(q, function, NULL, 0, o, &id, &tq_err));
    assert_true(id > 0);
    return id;
}

sitq_result *tq_get(sitq_queue *q, sitq_task_id id) {
    sitq_result *r = NULL;
    TQ_OK(sitq_get_result(q, id, &r, &tq_err));
    assert_non_null(r);
    assert_int_equal(r->id, id);
    return r;
}

sitq_status tq_status(sitq_queue *q, sitq_task_id id) {
    sitq_result *r = tq_get(q, id);
    sitq_status s = r->status;
    sitq_result_free(r);
    return s;
}

int tq_poll_status(sitq_queue *q, sitq_task_id id, sitq_status st, double timeout_s) {
    int64_t end = tq_mono_ms() + (int64_t)(timeout_s * 1000);
    for (;;) {
        if (tq_status(q, id) == st) return 1;
        if (tq_mono_ms() >= end) return 0;
        tq_sleep_ms(2);
    }
}

sitq_result *tq_wait_done(sitq_queue *q, sitq_task_id id, double timeout_s) {
    sitq_result *r = NULL;
    memset(&tq_err, 0, sizeof tq_err);
    sitq_code c = sitq_wait(q, id, timeout_s, &r, &tq_err);
    if (c != SITQ_OK) {
        int st = r ? (int)r->status : -1;
        sitq_result_free(r);
        fail_msg("sitq_wait(%lld, %.1f) -> %s: %s (status %s)", (long long)id, timeout_s,
                 sitq_code_name(c), tq_err.message, sitq_status_name(st));
    }
    assert_non_null(r);
    assert_int_equal(r->id, id);
    assert_true(sitq_status_is_terminal(r->status));
    return r;
}

sitq_stats tq_stats(sitq_queue *q) {
    sitq_stats s;
    memset(&s, 0xff, sizeof s);
    TQ_OK(sitq_get_stats(q, &s, &tq_err));
    return s;
}

int tq_poll_count(sitq_queue *q, sitq_status st, int64_t n, double timeout_s) {
    int64_t end = tq_mono_ms() + (int64_t)(timeout_s * 1000);
    for (;;) {
        sitq_stats s = tq_stats(q);
        if (s.count[st] >= n) return 1;
        if (tq_mono_ms() >= end) return 0;
        tq_sleep_ms(5);
    }
}
