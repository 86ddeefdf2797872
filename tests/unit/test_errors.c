/* test_errors.c - every call's error paths: bad input never crashes, returns
 * the documented code and fills sitq_error with the same code and a message. */
#include "helpers.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <unistd.h>

static char *name_of_len(size_t n) {
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    s[n] = '\0';
    return s;
}

static void test_backend_open_errors(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_backend *b = NULL;

    TQ_ERR(SITQ_EINVAL, sitq_backend_open_sqlite(NULL, NULL, &b, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_backend_open_sqlite("", NULL, &b, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_backend_open_sqlite(e->path, NULL, NULL, &tq_err));
    /* NULL err: still the code, no crash */
    assert_int_equal(sitq_backend_open_sqlite(NULL, NULL, &b, NULL), SITQ_EINVAL);

    /* a directory, a missing parent directory */
    TQ_ERR(SITQ_ESTORAGE, sitq_backend_open_sqlite(e->dir, NULL, &b, &tq_err));
    TQ_ERR(SITQ_ESTORAGE, sitq_backend_open_sqlite("/nonexistent/x.db", NULL, &b, &tq_err));
    assert_int_equal(sitq_backend_open_sqlite("/nonexistent/x.db", NULL, &b, NULL), SITQ_ESTORAGE);

    /* a file that is not a database */
    char junk[400];
    snprintf(junk, sizeof junk, "%s/junk.db", e->dir);
    int fd = open(junk, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    assert_true(fd >= 0);
    char garbage[8192];
    for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (char)(i * 7 + 13);
    assert_int_equal(write(fd, garbage, sizeof garbage), (ssize_t)sizeof garbage);
    close(fd);
    TQ_ERR(SITQ_ESTORAGE, sitq_backend_open_sqlite(junk, NULL, &b, &tq_err));

    /* options out of range */
    sitq_sqlite_options o;
    sitq_sqlite_options_init(&o);
    o.reader_connections = 65;
    TQ_ERR_MSG(SITQ_EINVAL, "reader", "connections",
               sitq_backend_open_sqlite(e->path, &o, &b, &tq_err));
    sitq_sqlite_options_init(&o);
    o.reader_connections = -1;
    TQ_ERR(SITQ_EINVAL, sitq_backend_open_sqlite(e->path, &o, &b, &tq_err));
    sitq_sqlite_options_init(&o);
    o.busy_timeout_ms = -1;
    TQ_ERR_MSG(SITQ_EINVAL, "busy", "timeout", sitq_backend_open_sqlite(e->path, &o, &b, &tq_err));
    sitq_sqlite_options_init(&o);
    o.synchronous = (sitq_sync_mode)4;
    TQ_ERR_MSG(SITQ_EINVAL, "synchronous", "sync",
               sitq_backend_open_sqlite(e->path, &o, &b, &tq_err));

    /* valid options at the bounds work */
    sitq_sqlite_options_init(&o);
    o.reader_connections = 0;
    o.enable_wal = 0;
    o.synchronous = SITQ_SYNC_FULL;
    TQ_OK(sitq_backend_open_sqlite(e->path, &o, &b, &tq_err));
    assert_non_null(b);
    sitq_backend_close(b);
    b = NULL;
    sitq_sqlite_options_init(&o);
    o.reader_connections = 64;
    TQ_OK(sitq_backend_open_sqlite(e->path, &o, &b, &tq_err));
    sitq_backend_close(b);

    sitq_backend_close(NULL); /* no-op */
}

/* A file made by another sitq version: SITQ_ESCHEMA. The version marker is
 * the engine's sitq_meta.schema_version row (implementation detail). */
/* create = 0 opens only an existing sitq database and changes no other file. */
static void test_open_existing_only(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_sqlite_options o;
    sitq_sqlite_options_init(&o);
    assert_int_equal(o.create, 1);
    o.create = 0;
    sitq_backend *b = NULL;
    TQ_ERR(SITQ_ESTORAGE, sitq_backend_open_sqlite(e->path, &o, &b, &tq_err)); /* missing */
    assert_null(b);
    assert_int_equal(access(e->path, F_OK), -1); /* and not created */
    FILE *f = fopen(e->path, "w");               /* an empty file: not a sitq database */
    assert_non_null(f);
    fclose(f);
    TQ_ERR(SITQ_ESCHEMA, sitq_backend_open_sqlite(e->path, &o, &b, &tq_err));
    struct stat st;
    assert_int_equal(stat(e->path, &st), 0);
    assert_int_equal(st.st_size, 0); /* untouched */
    o.create = 1;
    TQ_OK(sitq_backend_open_sqlite(e->path, &o, &b, &tq_err)); /* creates the schema */
    sitq_backend_close(b);
    o.create = 0;
    TQ_OK(sitq_backend_open_sqlite(e->path, &o, &b, &tq_err)); /* now it is one */
    sitq_backend_close(b);
    o.create = 2;
    TQ_ERR(SITQ_EINVAL, sitq_backend_open_sqlite(e->path, &o, &b, &tq_err));
}

static void test_schema_mismatch(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_backend *b = NULL;
    TQ_OK(sitq_backend_open_sqlite(e->path, NULL, &b, &tq_err));
    sitq_backend_close(b);
    b = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, "UPDATE sitq_meta SET value = '99999' WHERE key = 'schema_version'",
                          NULL, NULL, &msg);
    if (rc != SQLITE_OK || sqlite3_changes(db) != 1) {
        sqlite3_free(msg);
        sqlite3_close(db);
        fail_msg("cannot set the schema version marker (test needs updating)");
    }
    sqlite3_close(db);
    TQ_ERR(SITQ_ESCHEMA, sitq_backend_open_sqlite(e->path, NULL, &b, &tq_err));
}

static void test_queue_open_errors(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue *q = NULL;
    char *n256 = name_of_len(256), *n255 = name_of_len(255);

    TQ_ERR(SITQ_EINVAL, sitq_queue_open(NULL, "q", &q, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_queue_open(e->backend, "q", NULL, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_queue_open(e->backend, "", &q, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "name", "queue", sitq_queue_open(e->backend, n256, &q, &tq_err));
    assert_int_equal(sitq_queue_open(e->backend, "", &q, NULL), SITQ_EINVAL);

    TQ_OK(sitq_queue_open(e->backend, n255, &q, &tq_err));
    assert_string_equal(sitq_queue_name(q), n255);
    assert_ptr_equal(sitq_queue_backend(q), e->backend);
    sitq_queue_close(q);

    q = NULL;
    TQ_OK(sitq_queue_open(e->backend, NULL, &q, &tq_err));
    assert_string_equal(sitq_queue_name(q), SITQ_DEFAULT_QUEUE);
    assert_string_equal(sitq_queue_name(e->queue), "default");
    sitq_queue_close(q);
    sitq_queue_close(NULL);
    free(n256);
    free(n255);
}

/* sitq_enqueue rejects bad delays and ETAs, naming them. */
static void enqueue_time_errors(sitq_queue *q) {
    sitq_task_id id = 0;
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.delay_s = -1.0;
    TQ_ERR_MSG(SITQ_EINVAL, "delay", "delay_s", sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
    sitq_task_options_init(&o);
    o.delay_s = NAN;
    TQ_ERR_MSG(SITQ_EINVAL, "delay", "delay_s", sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
    sitq_task_options_init(&o);
    o.delay_s = 1.0;
    o.eta_us = sitq_now_us() + 1000000;
    TQ_ERR_MSG(SITQ_EINVAL, "eta", "delay", sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
    /* An ETA has the horizon of a delay (SITQ_SECONDS_MAX from now). */
    sitq_task_options_init(&o);
    o.eta_us = INT64_MAX;
    TQ_ERR_MSG(SITQ_EINVAL, "eta_us", "seconds from now",
               sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
    sitq_task_options_init(&o);
    o.eta_us = sitq_now_us() + (int64_t)(SITQ_SECONDS_MAX * 1e6) + 60000000;
    TQ_ERR_MSG(SITQ_EINVAL, "eta_us", "seconds from now",
               sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
    sitq_task_options_init(&o);
    o.delay_s = SITQ_SECONDS_MAX * 1.001;
    TQ_ERR_MSG(SITQ_EINVAL, "delay_s", "delay", sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
}

/* sitq_enqueue rejects bad retry, backoff, timeout, dependency and unique
 * key options, naming them; n256 is a 256-byte name. */
static void enqueue_retry_errors(sitq_queue *q, const char *n256) {
    sitq_task_id id = 0;
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.max_retries = -1;
    TQ_ERR_MSG(SITQ_EINVAL, "max_retries", "retries",
               sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
    sitq_task_options_init(&o);
    o.max_retries = 1000001;
    TQ_ERR_MSG(SITQ_EINVAL, "max_retries", "retries",
               sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
    sitq_task_options_init(&o);
    o.backoff_jitter = 2.0;
    TQ_ERR_MSG(SITQ_EINVAL, "jitter", "backoff", sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
    sitq_task_options_init(&o);
    o.backoff_jitter = -0.1;
    TQ_ERR_MSG(SITQ_EINVAL, "jitter", "backoff", sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
    sitq_task_options_init(&o);
    o.backoff_base_s = -1.0;
    TQ_ERR_MSG(SITQ_EINVAL, "base", "backoff", sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
    sitq_task_options_init(&o);
    o.backoff_cap_s = -1.0;
    TQ_ERR_MSG(SITQ_EINVAL, "cap", "backoff", sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
    sitq_task_options_init(&o);
    o.timeout_s = -1.0;
    TQ_ERR_MSG(SITQ_EINVAL, "timeout", "timeout_s",
               sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
    sitq_task_options_init(&o);
    o.depends_on = NULL;
    o.n_depends_on = 2;
    TQ_ERR_MSG(SITQ_EINVAL, "depend", "depends_on",
               sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
    sitq_task_options_init(&o);
    o.unique_key = n256;
    TQ_ERR_MSG(SITQ_EINVAL, "unique", "key", sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
}

static void test_enqueue_errors(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue *q = e->queue;
    sitq_task_id id = 0;
    sitq_task_options o;
    char *n256 = name_of_len(256), *n255 = name_of_len(255);

    TQ_ERR(SITQ_EINVAL, sitq_enqueue(NULL, "f", NULL, 0, NULL, &id, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "function", "name", sitq_enqueue(q, NULL, NULL, 0, NULL, &id, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "function", "name", sitq_enqueue(q, "", NULL, 0, NULL, &id, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "function", "name", sitq_enqueue(q, n256, NULL, 0, NULL, &id, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "payload", "len", sitq_enqueue(q, "f", NULL, 5, NULL, &id, &tq_err));
    assert_int_equal(sitq_enqueue(q, NULL, NULL, 0, NULL, &id, NULL), SITQ_EINVAL);

    enqueue_time_errors(q);
    enqueue_retry_errors(q, n256);

    /* unknown dependency */
    sitq_task_id bogus = 987654321;
    sitq_task_options_init(&o);
    o.depends_on = &bogus;
    o.n_depends_on = 1;
    TQ_ERR_MSG(SITQ_EDEPENDENCY, "987654321", "depend",
               sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
    sitq_task_id neg = -1;
    o.depends_on = &neg;
    memset(&tq_err, 0, sizeof tq_err);
    sitq_code c = sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err);
    assert_true(c == SITQ_EDEPENDENCY || c == SITQ_EINVAL);
    assert_int_equal(tq_err.code, c);

    /* nothing was stored by any failing call */
    sitq_stats st = tq_stats(q);
    assert_int_equal(st.total, 0);

    /* boundaries that are valid */
    sitq_task_options_init(&o);
    o.eta_us = sitq_now_us() + (int64_t)(SITQ_SECONDS_MAX * 1e6) - 60000000;
    TQ_OK(sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
    TQ_OK(sitq_enqueue(q, n255, NULL, 0, NULL, &id, &tq_err));
    sitq_task_options_init(&o);
    o.max_retries = 1000000;
    o.backoff_jitter = 1.0;
    o.unique_key = n255;
    TQ_OK(sitq_enqueue(q, "f", "x", 1, &o, &id, &tq_err));
    sitq_task_options_init(&o);
    o.backoff_jitter = 0.0;
    o.delay_s = 0.0;
    TQ_OK(sitq_enqueue(q, "f", NULL, 0, &o, &id, &tq_err));
    st = tq_stats(q);
    assert_int_equal(st.total, 4);
    assert_int_equal(st.count[SITQ_QUEUED], 3);
    assert_int_equal(st.count[SITQ_SCHEDULED], 1);

    free(n256);
    free(n255);
}

static void test_enqueue_batch_errors(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue *q = e->queue;
    sitq_task_id ids[4];
    sitq_task_spec specs[4];
    memset(specs, 0, sizeof specs);
    for (int i = 0; i < 4; i++) specs[i].function = "f";

    TQ_ERR(SITQ_EINVAL, sitq_enqueue_batch(NULL, specs, 4, ids, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_enqueue_batch(q, NULL, 4, ids, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_enqueue_batch(q, specs, 4, NULL, &tq_err));

    /* a bad spec in the middle: nothing stored; message names the index */
    specs[2].function = "";
    TQ_ERR_MSG(SITQ_EINVAL, "2", "function", sitq_enqueue_batch(q, specs, 4, ids, &tq_err));
    specs[2].function = "f";
    specs[3].payload = NULL;
    specs[3].payload_len = 3;
    TQ_ERR(SITQ_EINVAL, sitq_enqueue_batch(q, specs, 4, ids, &tq_err));
    specs[3].payload_len = 0;
    sitq_task_options bad;
    sitq_task_options_init(&bad);
    bad.max_retries = -1;
    specs[1].options = &bad;
    TQ_ERR(SITQ_EINVAL, sitq_enqueue_batch(q, specs, 4, ids, &tq_err));
    specs[1].options = NULL;
    assert_int_equal(tq_stats(q).total, 0);

    /* depends_on_index NULL with a count */
    specs[1].depends_on_index = NULL;
    specs[1].n_depends_on_index = 1;
    memset(&tq_err, 0, sizeof tq_err);
    sitq_code c = sitq_enqueue_batch(q, specs, 4, ids, &tq_err);
    assert_true(c == SITQ_EINVAL || c == SITQ_EDEPENDENCY);
    specs[1].n_depends_on_index = 0;
    assert_int_equal(tq_stats(q).total, 0);

    /* n = 0 stores nothing and is not an error of storage */
    memset(&tq_err, 0, sizeof tq_err);
    c = sitq_enqueue_batch(q, specs, 0, ids, &tq_err);
    assert_true(c == SITQ_OK || c == SITQ_EINVAL);
    assert_int_equal(tq_stats(q).total, 0);

    TQ_OK(sitq_enqueue_batch(q, specs, 4, ids, &tq_err));
    assert_int_equal(tq_stats(q).total, 4);
}

static void test_unknown_id(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue *q = e->queue;
    sitq_result *r = NULL;
    void *p = NULL;
    size_t len = 0;
    sitq_status st;
    const sitq_task_id bogus = 424242;

    TQ_ERR(SITQ_ENOTFOUND, sitq_get_result(q, bogus, &r, &tq_err));
    assert_null(r);
    TQ_ERR(SITQ_ENOTFOUND, sitq_get_payload(q, bogus, &p, &len, &tq_err));
    TQ_ERR(SITQ_ENOTFOUND, sitq_cancel(q, bogus, &st, &tq_err));
    TQ_ERR(SITQ_ENOTFOUND, sitq_retry(q, bogus, &tq_err));
    TQ_ERR(SITQ_ENOTFOUND, sitq_wait(q, bogus, 0.0, &r, &tq_err));
    sitq_result_free(r);
    r = NULL;
    TQ_ERR(SITQ_ENOTFOUND, sitq_wait(q, bogus, 0.05, &r, &tq_err));
    sitq_result_free(r);
    r = NULL;
    TQ_ERR(SITQ_ENOTFOUND, sitq_get_result(q, 0, &r, &tq_err));
    TQ_ERR(SITQ_ENOTFOUND, sitq_get_result(q, -7, &r, &tq_err));

    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_echo, NULL);
    TQ_ERR(SITQ_ENOTFOUND, sitq_worker_process_task(w, bogus, &r, &tq_err));
    sitq_result_free(r);

    /* an id of another queue is not found in this one */
    sitq_queue *other = NULL;
    TQ_OK(sitq_queue_open(e->backend, "other", &other, &tq_err));
    sitq_task_id id = tq_enqueue(other, "f", NULL);
    r = NULL;
    TQ_ERR(SITQ_ENOTFOUND, sitq_get_result(q, id, &r, &tq_err));
    TQ_ERR(SITQ_ENOTFOUND, sitq_cancel(q, id, &st, &tq_err));
    TQ_ERR(SITQ_ENOTFOUND, sitq_get_payload(q, id, &p, &len, &tq_err));
    r = NULL;
    TQ_ERR(SITQ_ENOTFOUND, sitq_worker_process_task(w, id, &r, &tq_err));
    sitq_result_free(r);
    assert_int_equal(tq_status(other, id), SITQ_QUEUED);
    sitq_worker_free(w);
    sitq_queue_close(other);
}

static void test_null_args_ops(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue *q = e->queue;
    sitq_task_id id = tq_enqueue(q, "f", NULL);
    sitq_result *r = NULL;
    void *p = NULL;
    size_t len = 0;
    sitq_stats st;
    sitq_result **items = NULL;
    size_t count = 0;

    TQ_ERR(SITQ_EINVAL, sitq_get_result(NULL, id, &r, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_get_result(q, id, NULL, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_get_payload(NULL, id, &p, &len, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_get_payload(q, id, NULL, &len, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_get_payload(q, id, &p, NULL, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_wait(NULL, id, 0, &r, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_wait(q, id, 0, NULL, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_cancel(NULL, id, NULL, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_retry(NULL, id, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_get_stats(NULL, &st, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_get_stats(q, NULL, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_list(NULL, SITQ_STATUS_ANY, 10, 0, &items, &count, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_list(q, SITQ_STATUS_ANY, 10, 0, NULL, &count, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_list(q, SITQ_STATUS_ANY, 10, 0, &items, NULL, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_purge(NULL, 0, NULL, &tq_err));
    assert_int_equal(sitq_get_result(NULL, id, &r, NULL), SITQ_EINVAL);

    /* the task was not touched */
    assert_int_equal(tq_status(q, id), SITQ_QUEUED);
    sitq_result_free(NULL);
    sitq_result_list_free(NULL, 0);
}

static void test_list_purge_bad_args(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue *q = e->queue;
    sitq_result **items = NULL;
    size_t count = 0;
    tq_enqueue(q, "f", NULL);

    TQ_ERR_MSG(SITQ_EINVAL, "status", "status", sitq_list(q, 7, 10, 0, &items, &count, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_list(q, -2, 10, 0, &items, &count, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_list(q, 1000, 10, 0, &items, &count, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "limit", "limit",
               sitq_list(q, SITQ_STATUS_ANY, 0, 0, &items, &count, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "limit", "limit",
               sitq_list(q, SITQ_STATUS_ANY, 1000001, 0, &items, &count, &tq_err));
    TQ_OK(sitq_list(q, SITQ_STATUS_ANY, 1000000, 0, &items, &count, &tq_err));
    assert_int_equal(count, 1);
    sitq_result_list_free(items, count);

    int64_t purged = 77;
    TQ_ERR_MSG(SITQ_EINVAL, "older", "age", sitq_purge(q, -1.0, &purged, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_purge(q, NAN, &purged, &tq_err));
    TQ_OK(sitq_purge(q, 0.0, &purged, &tq_err));
    assert_int_equal(purged, 0);
    TQ_OK(sitq_purge(q, 0.0, NULL, &tq_err));
    assert_int_equal(tq_stats(q).total, 1);
}

static void test_state_errors(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue *q = e->queue;
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_echo, NULL);
    sitq_status st = (sitq_status)-1;

    /* retry of a queued task */
    sitq_task_id a = tq_enqueue(q, "f", NULL);
    TQ_ERR(SITQ_ESTATE, sitq_retry(q, a, &tq_err));
    assert_int_equal(tq_status(q, a), SITQ_QUEUED);

    /* cancel/retry of a succeeded task */
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, a, &r, &tq_err));
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    TQ_ERR(SITQ_ESTATE, sitq_cancel(q, a, &st, &tq_err));
    TQ_ERR(SITQ_ESTATE, sitq_retry(q, a, &tq_err));
    assert_int_equal(tq_status(q, a), SITQ_SUCCEEDED);

    /* cancel of a cancelled task; retry of a waiting / scheduled one */
    sitq_task_id b = tq_enqueue(q, "f", NULL);
    TQ_OK(sitq_cancel(q, b, &st, &tq_err));
    assert_int_equal(st, SITQ_CANCELLED);
    TQ_ERR(SITQ_ESTATE, sitq_cancel(q, b, &st, &tq_err));
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.delay_s = 60;
    sitq_task_id c = tq_enqueue(q, "f", &o);
    TQ_ERR(SITQ_ESTATE, sitq_retry(q, c, &tq_err));
    sitq_task_options_init(&o);
    o.depends_on = &c;
    o.n_depends_on = 1;
    sitq_task_id d = tq_enqueue(q, "f", &o);
    assert_int_equal(tq_status(q, d), SITQ_WAITING);
    TQ_ERR(SITQ_ESTATE, sitq_retry(q, d, &tq_err));
    sitq_worker_free(w);
}

/* sitq_worker_create rejects bad options, naming them, and takes the
 * published limits; n256 is a 256-byte name. */
static void worker_option_errors(sitq_queue *q, const char *n256) {
    sitq_worker *w = NULL;
    sitq_worker_options o;
    TQ_ERR(SITQ_EINVAL, sitq_worker_create(NULL, NULL, &w, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_worker_create(q, NULL, NULL, &tq_err));
    sitq_worker_options_init(&o);
    o.concurrency = 0;
    TQ_ERR_MSG(SITQ_EINVAL, "concurrency", "concurrency", sitq_worker_create(q, &o, &w, &tq_err));
    o.concurrency = 1025;
    TQ_ERR_MSG(SITQ_EINVAL, "concurrency", "concurrency", sitq_worker_create(q, &o, &w, &tq_err));
    sitq_worker_options_init(&o);
    o.prefetch = 65537;
    TQ_ERR_MSG(SITQ_EINVAL, "prefetch", "prefetch", sitq_worker_create(q, &o, &w, &tq_err));
    sitq_worker_options_init(&o);
    o.lease_s = -1;
    TQ_ERR_MSG(SITQ_EINVAL, "lease", "lease", sitq_worker_create(q, &o, &w, &tq_err));
    sitq_worker_options_init(&o);
    o.poll_interval_s = -1;
    TQ_ERR_MSG(SITQ_EINVAL, "poll", "interval", sitq_worker_create(q, &o, &w, &tq_err));
    /* The published limits are the ones sitq_worker_create applies. */
    sitq_worker_options_init(&o);
    o.concurrency = SITQ_CONCURRENCY_MAX;
    o.lease_s = SITQ_LEASE_MIN_S;
    o.poll_interval_s = SITQ_POLL_MIN_S;
    o.timeout_grace_s = SITQ_TIMEOUT_GRACE_MAX_S;
    TQ_OK(sitq_worker_create(q, &o, &w, &tq_err));
    sitq_worker_free(w);
    o.lease_s = SITQ_LEASE_MAX_S;
    o.poll_interval_s = SITQ_POLL_MAX_S;
    TQ_OK(sitq_worker_create(q, &o, &w, &tq_err));
    sitq_worker_free(w);
    w = NULL;
    o.lease_s = nextafter(SITQ_LEASE_MAX_S, INFINITY);
    TQ_ERR_MSG(SITQ_EINVAL, "lease", "lease", sitq_worker_create(q, &o, &w, &tq_err));
    o.lease_s = nextafter(SITQ_LEASE_MIN_S, 0);
    TQ_ERR_MSG(SITQ_EINVAL, "lease", "lease", sitq_worker_create(q, &o, &w, &tq_err));
    o.lease_s = 30;
    o.poll_interval_s = nextafter(SITQ_POLL_MAX_S, INFINITY);
    TQ_ERR_MSG(SITQ_EINVAL, "poll", "interval", sitq_worker_create(q, &o, &w, &tq_err));
    o.poll_interval_s = nextafter(SITQ_POLL_MIN_S, 0);
    TQ_ERR_MSG(SITQ_EINVAL, "poll", "interval", sitq_worker_create(q, &o, &w, &tq_err));
    o.poll_interval_s = 0.05;
    o.timeout_grace_s = nextafter(SITQ_TIMEOUT_GRACE_MAX_S, INFINITY);
    TQ_ERR_MSG(SITQ_EINVAL, "grace", "grace", sitq_worker_create(q, &o, &w, &tq_err));
    sitq_worker_options_init(&o);
    o.worker_id = n256;
    TQ_ERR_MSG(SITQ_EINVAL, "worker_id", "id", sitq_worker_create(q, &o, &w, &tq_err));
}

/* Default worker ids are non-empty, distinct and name the process; a new
 * worker's statistics are zero. */
static void default_worker_ids(sitq_queue *q) {
    sitq_worker *w1 = NULL, *w2 = NULL;
    TQ_OK(sitq_worker_create(q, NULL, &w1, &tq_err));
    TQ_OK(sitq_worker_create(q, NULL, &w2, &tq_err));
    assert_non_null(sitq_worker_id(w1));
    assert_true(strlen(sitq_worker_id(w1)) > 0);
    assert_true(strlen(sitq_worker_id(w1)) <= SITQ_NAME_MAX);
    assert_string_not_equal(sitq_worker_id(w1), sitq_worker_id(w2));
    /* "host:pid:start-time:n" */
    char pidpart[32];
    snprintf(pidpart, sizeof pidpart, ":%d:", (int)getpid());
    if (!strstr(sitq_worker_id(w1), pidpart))
        fail_msg("default worker id \"%s\" lacks the pid (%s)", sitq_worker_id(w1), pidpart);
    sitq_worker_stats ws;
    memset(&ws, 0x7f, sizeof ws);
    sitq_worker_get_stats(w1, &ws);
    assert_int_equal(ws.claimed, 0);
    assert_int_equal(ws.succeeded, 0);
    assert_int_equal(ws.failed, 0);
    assert_int_equal(ws.released, 0);
    assert_int_equal(ws.lost, 0);
    assert_int_equal(ws.running, 0);
    sitq_worker_free(w1);
    sitq_worker_free(w2);
}

static void test_worker_errors(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue *q = e->queue;
    sitq_worker *w = NULL;
    sitq_worker_options o;
    char *n256 = name_of_len(256);

    worker_option_errors(q, n256);
    sitq_worker_options_init(&o);
    o.worker_id = "w-1";
    TQ_OK(sitq_worker_create(q, &o, &w, &tq_err));
    assert_string_equal(sitq_worker_id(w), "w-1");
    TQ_ERR(SITQ_EINVAL, sitq_worker_register(w, NULL, tq_h_echo, NULL, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_worker_register(w, "", tq_h_echo, NULL, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_worker_register(w, n256, tq_h_echo, NULL, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_worker_register(w, "f", NULL, NULL, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_worker_register(NULL, "f", tq_h_echo, NULL, &tq_err));
    /* no handler registered */
    TQ_ERR(SITQ_ESTATE, sitq_worker_start(w, &tq_err));
    /* stopping a worker that is not running */
    TQ_OK(sitq_worker_stop(w, 1.0, &tq_err));
    TQ_OK(sitq_worker_register(w, "f", tq_h_echo, NULL, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    TQ_ERR(SITQ_ESTATE, sitq_worker_start(w, &tq_err));
    TQ_ERR(SITQ_ESTATE, sitq_worker_register(w, "g", tq_h_echo, NULL, &tq_err));
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    /* process_task argument checks */
    sitq_result *r = NULL;
    TQ_ERR(SITQ_EINVAL, sitq_worker_process_task(NULL, 1, &r, &tq_err));
    sitq_worker_free(w);
    sitq_worker_free(NULL);

    default_worker_ids(q);
    free(n256);
}

/* Byte strings that are not UTF-8: a stray continuation byte, a lone lead
 * byte, an overlong '/', a surrogate (U+D800), a code point past U+10FFFF,
 * a truncated sequence at the end, a byte UTF-8 never uses. */
static const char *const not_utf8[] = {
    "q\x80", "q\xc3", "\xc0\xaf", "a\xed\xa0\x80", "\xf4\x90\x80\x80", "ok\xe2\x82", "\xff"};
#define N_NOT_UTF8 (sizeof not_utf8 / sizeof not_utf8[0])

/* Names are stored as text: every backend refuses one that is not UTF-8
 * with SITQ_EINVAL naming the argument, before anything is stored. */
static void invalid_utf8_refused(tq_env *e) {
    sitq_queue *q = NULL;
    sitq_task_id id = 0;
    sitq_task_options o;
    sitq_worker *w = NULL;
    sitq_worker_options wo;
    for (size_t i = 0; i < N_NOT_UTF8; i++) {
        const char *bad = not_utf8[i];
        TQ_ERR(SITQ_EINVAL, sitq_queue_open(e->backend, bad, &q, &tq_err));
        assert_non_null(strstr(tq_err.message, "queue name is not valid UTF-8"));
        assert_null(q);
        TQ_ERR(SITQ_EINVAL, sitq_enqueue(e->queue, bad, "x", 1, NULL, &id, &tq_err));
        assert_non_null(strstr(tq_err.message, "function name is not valid UTF-8"));
        sitq_task_options_init(&o);
        o.unique_key = bad;
        TQ_ERR(SITQ_EINVAL, sitq_enqueue(e->queue, "f", "x", 1, &o, &id, &tq_err));
        assert_non_null(strstr(tq_err.message, "options.unique_key is not valid UTF-8"));
        sitq_worker_options_init(&wo);
        wo.worker_id = bad;
        TQ_ERR(SITQ_EINVAL, sitq_worker_create(e->queue, &wo, &w, &tq_err));
        assert_non_null(strstr(tq_err.message, "options.worker_id is not valid UTF-8"));
        assert_null(w);
    }
    /* The message says where: the first byte that starts no character. */
    TQ_ERR(SITQ_EINVAL, sitq_queue_open(e->backend, "ab\xc3(", &q, &tq_err));
    assert_non_null(strstr(tq_err.message, "(byte 0xc3 at offset 2)"));
    /* In a batch, the task is named too. */
    sitq_task_spec specs[2];
    memset(specs, 0, sizeof specs);
    specs[0].function = "f";
    specs[1].function = "f\xfe";
    sitq_task_id ids[2];
    TQ_ERR(SITQ_EINVAL, sitq_enqueue_batch(e->queue, specs, 2, ids, &tq_err));
    assert_non_null(strstr(tq_err.message, "task 1: function name is not valid UTF-8"));
    sitq_task_options_init(&o);
    o.unique_key = "k\x80";
    specs[1].function = "f";
    specs[1].options = &o;
    TQ_ERR(SITQ_EINVAL, sitq_enqueue_batch(e->queue, specs, 2, ids, &tq_err));
    assert_non_null(strstr(tq_err.message, "task 1: options.unique_key is not valid UTF-8"));
    /* A handler's name is matched against stored names: refused alike. */
    TQ_OK(sitq_worker_create(e->queue, NULL, &w, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_worker_register(w, "h\xe0\x80\x80*", tq_h_echo, NULL, &tq_err));
    assert_non_null(strstr(tq_err.message, "function name is not valid UTF-8"));
    sitq_worker_free(w);
    assert_int_equal(tq_stats(e->queue).total, 0);
}

/* Valid UTF-8 up to the largest code point is stored and read back byte
 * for byte, in every name, by every backend; a worker with such an id runs
 * such a function of such a queue (claimed by its name's prefix). */
static void valid_utf8_stored(tq_env *e) {
    const char *qname = "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"; /* café 日本 */
    const char *fn = "\xf0\x9f\x98\x80.run";                    /* U+1F600 */
    const char *key = "k\xf4\x8f\xbf\xbf\xef\xbf\xbd";          /* U+10FFFF U+FFFD */
    const char *wid = "w\xc2\x80\xed\x9f\xbf";                  /* U+0080 U+D7FF */
    sitq_queue *q = NULL;
    TQ_OK(sitq_queue_open(e->backend, qname, &q, &tq_err));
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.unique_key = key;
    sitq_task_id id = tq_enqueue(q, fn, &o);
    sitq_worker_options wo;
    sitq_worker_options_init(&wo);
    wo.worker_id = wid;
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(q, &wo, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "\xf0\x9f\x98\x80*", tq_h_echo, NULL, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_result *r = NULL;
    TQ_OK(sitq_wait(q, id, 30, &r, &tq_err));
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_string_equal(r->queue, qname);
    assert_string_equal(r->function, fn);
    assert_string_equal(r->unique_key, key);
    assert_string_equal(r->worker_id, wid);
    sitq_result_free(r);
    sitq_queue_close(q);
}

static void test_names_utf8(void **state) {
    tq_env *e = TQ_ENV(state);
    invalid_utf8_refused(e);
    valid_utf8_stored(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backend_open_errors, tq_setup_dir, tq_teardown),
        cmocka_unit_test_setup_teardown(test_open_existing_only, tq_setup_dir, tq_teardown),
        cmocka_unit_test_setup_teardown(test_schema_mismatch, tq_setup_dir, tq_teardown),
        cmocka_unit_test_setup_teardown(test_queue_open_errors, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_enqueue_errors, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_enqueue_batch_errors, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_id, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_null_args_ops, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_list_purge_bad_args, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_state_errors, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_worker_errors, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_names_utf8, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
