/*
 * helpers.h - shared helpers of the sitq unit tests (cmocka).
 *
 * cmocka asserts are not thread-safe: only the main thread asserts. Handlers
 * and helper threads record into atomics/mutex-protected arrays.
 */
#ifndef SITQ_TEST_HELPERS_H
#define SITQ_TEST_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdatomic.h>
#include <pthread.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "sitq.h"

/* Per-test environment: a fresh temp dir with a database and the default queue. */
typedef struct tq_env {
    char dir[256];
    char path[320];  /* dir/test.db */
    char schema[64]; /* SITQ_TEST_BACKEND=postgres: the test's schema, dropped at teardown */
    sitq_backend *backend;
    sitq_queue *queue;
} tq_env;

/* Error details of the last TQ_OK / TQ_ERR call (main thread only). */
extern sitq_error tq_err;

/* cmocka fixtures. tq_setup: dir + backend + "default" queue; tq_setup_dir:
 * dir only (path set, nothing opened); tq_teardown closes what is open and
 * removes the dir. */
int tq_setup(void **state);
int tq_setup_dir(void **state);
int tq_teardown(void **state);

/* 1 when SITQ_TEST_BACKEND=postgres: tq_setup then opens a fresh schema on
 * the cluster named by SITQ_TEST_PG_URI (tests/pg/with_pg.sh) instead of a
 * SQLite file. */
int tq_backend_is_postgres(void);
/* Open the test's database as tq_setup does (again, for a second handle). */
sitq_code tq_open_backend(tq_env *e, sitq_backend **out, sitq_error *err);

/* Open path as SQLite with so (NULL: defaults); with
 * SITQ_TEST_BACKEND=postgres, the running test's database path opens the
 * test's schema instead (so ignored), also in forked children. */
sitq_code tq_open_path(const char *path, const sitq_sqlite_options *so, sitq_backend **out,
                       sitq_error *err);

/* Make a fresh temp dir (mkdtemp); returns 0 on success. */
int tq_make_tmpdir(char *buf, size_t n);
/* Remove a directory tree. */
void tq_rm_rf(const char *dir);
/* Sleep (nanosleep, restarts on EINTR). */
void tq_sleep_ms(int ms);
/* Monotonic clock in milliseconds. */
int64_t tq_mono_ms(void);
/* Case-insensitive substring test; 0 when hay is NULL. */
int tq_contains_ci(const char *hay, const char *needle);
/* Text of an id in decimal, in a static rotating buffer. */
const char *tq_id_str(sitq_task_id id);

#define TQ_OK(expr)                                                                                \
    do {                                                                                           \
        memset(&tq_err, 0, sizeof tq_err);                                                         \
        sitq_code tq_c_ = (expr);                                                                  \
        if (tq_c_ != SITQ_OK)                                                                      \
            fail_msg("%s:%d: %s -> %s (%d): %s", __FILE__, __LINE__, #expr, sitq_code_name(tq_c_), \
                     (int)tq_c_, tq_err.message);                                                  \
    } while (0)

/* Expect a given error code, the same code in tq_err and a non-empty message. */
#define TQ_ERR(expected, expr)                                                                     \
    do {                                                                                           \
        memset(&tq_err, 0, sizeof tq_err);                                                         \
        sitq_code tq_c_ = (expr);                                                                  \
        if (tq_c_ != (expected))                                                                   \
            fail_msg("%s:%d: %s -> %s (%d), expected %s: %s", __FILE__, __LINE__, #expr,           \
                     sitq_code_name(tq_c_), (int)tq_c_, sitq_code_name(expected), tq_err.message); \
        if (tq_err.code != (expected))                                                             \
            fail_msg("%s:%d: %s: err.code %d, expected %d", __FILE__, __LINE__, #expr,             \
                     (int)tq_err.code, (int)(expected));                                           \
        if (tq_err.message[0] == '\0')                                                             \
            fail_msg("%s:%d: %s: empty error message", __FILE__, __LINE__, #expr);                 \
    } while (0)

/* Like TQ_ERR and the message also contains one of two words (case-insensitive). */
#define TQ_ERR_MSG(expected, word1, word2, expr)                                                   \
    do {                                                                                           \
        TQ_ERR(expected, expr);                                                                    \
        if (!tq_contains_ci(tq_err.message, word1) && !tq_contains_ci(tq_err.message, word2))      \
            fail_msg("%s:%d: %s: message \"%s\" names neither \"%s\" nor \"%s\"", __FILE__,        \
                     __LINE__, #expr, tq_err.message, word1, word2);                               \
    } while (0)

#define TQ_ENV(state) ((tq_env *)*(state))

/* ---- handlers ---- */

/* Records task ids in call order; thread-safe. */
typedef struct tq_rec {
    pthread_mutex_t mu;
    sitq_task_id *ids;
    size_t n, cap;
    atomic_int calls;
    atomic_int active;     /* handlers running now */
    atomic_int max_active; /* highest value of active seen */
    int sleep_ms;          /* each call sleeps this long first */
    int fail;              /* 1: each call fails with error "recorded failure" */
} tq_rec;

void tq_rec_init(tq_rec *r, size_t cap);
void tq_rec_free(tq_rec *r);
size_t tq_rec_count(tq_rec *r);
/* user_data: tq_rec*. Appends the id; sleeps sleep_ms; succeeds unless fail. */
int tq_h_record(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud);
/* Succeeds; the result is a copy of the payload. user_data: atomic_int* call counter or NULL. */
int tq_h_echo(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud);
/* Fails with error "boom" and traceback "tb". user_data: atomic_int* counter or NULL. */
int tq_h_fail(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud);

/* Block-until-cancelled handler state. */
typedef struct tq_block {
    atomic_int started;    /* calls that began */
    atomic_int saw_cancel; /* calls that saw sitq_ctx_cancelled */
    atomic_int finished;   /* calls that returned */
    int succeed;           /* return 0 instead of failing when cancelled */
    int max_ms;            /* give up after this long (default 20000) */
} tq_block;
/* Loops (1 ms sleeps) until sitq_ctx_cancelled or max_ms; then fails with
 * error "stopped by cancel flag" (or succeeds if b->succeed). */
int tq_h_block(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud);

/* ---- queue/worker helpers (main thread; they assert) ---- */

/* Options with small poll/heartbeat intervals for tests. */
void tq_worker_opts(sitq_worker_options *o, int concurrency, int prefetch);
/* Create a worker with tq_worker_opts and one handler registered (not started). */
sitq_worker *tq_worker_new(sitq_queue *q, int concurrency, int prefetch, const char *function,
                           sitq_handler_fn fn, void *ud);
/* Enqueue a task with no payload; returns its id. */
sitq_task_id tq_enqueue(sitq_queue *q, const char *function, const sitq_task_options *o);
/* Current status (asserts get_result OK). */
sitq_status tq_status(sitq_queue *q, sitq_task_id id);
/* Current snapshot (asserts OK); caller frees. */
sitq_result *tq_get(sitq_queue *q, sitq_task_id id);
/* Poll until the task has the status; returns 1 when reached within timeout. */
int tq_poll_status(sitq_queue *q, sitq_task_id id, sitq_status st, double timeout_s);
/* sitq_wait asserting SITQ_OK; returns the result (caller frees). */
sitq_result *tq_wait_done(sitq_queue *q, sitq_task_id id, double timeout_s);
/* Poll stats until count[st] >= n; returns 1 when reached within timeout. */
int tq_poll_count(sitq_queue *q, sitq_status st, int64_t n, double timeout_s);
/* Stats (asserts OK). */
sitq_stats tq_stats(sitq_queue *q);

#endif
