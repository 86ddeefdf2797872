/* test_lifecycle.c - the queue's rules (core/lifecycle.h) as pure functions:
 * every decision with real values and exact messages, and the SQLite
 * backend's spelling of the unique-key states against the core's. No
 * database is opened: the decisions need none. */
#include "helpers.h"

#include "backend/backend.h"
#include "backend/sqlite/sq.h"
#include "core/lifecycle.h"

#define SEC 1000000LL
/* 2023-11-14T22:13:20Z, an attempt's end in UTC microseconds. */
#define FINISHED 1700000000000000LL

static sitq__failure_facts failure(int32_t attempts, int32_t max_retries, const char *error) {
    sitq__failure_facts f = {.attempts = attempts,
                             .max_retries = max_retries,
                             .backoff_base_us = 1 * SEC,
                             .backoff_cap_us = 3600 * SEC,
                             .backoff_jitter = 0.5,
                             .cancel_requested = 0,
                             .error = error,
                             .finished_us = FINISHED};
    return f;
}

static void test_states_are_public_statuses(void **state) {
    (void)state;
    assert_int_equal(SITQ__QUEUED, SITQ_QUEUED);
    assert_int_equal(SITQ__WAITING, SITQ_WAITING);
    assert_int_equal(SITQ__RUNNING, SITQ_RUNNING);
    assert_int_equal(SITQ__SUCCEEDED, SITQ_SUCCEEDED);
    assert_int_equal(SITQ__FAILED, SITQ_FAILED);
    assert_int_equal(SITQ__CANCELLED, SITQ_CANCELLED);
    static const int terminal[7] = {0, 0, 0, 0, 1, 1, 1};
    static const int holds_key[7] = {1, 1, 0, 1, 0, 0, 0};
    for (int s = 0; s < 7; s++) {
        assert_int_equal(sitq__state_terminal(s), terminal[s]);
        assert_int_equal(sitq__state_holds_unique_key(s), holds_key[s]);
    }
}

/* The SQLite unique index and its lookup spell the live states: they must be
 * exactly those that hold a key in the core. */
static void test_sqlite_unique_states_match_core(void **state) {
    (void)state;
    char built[64] = "state IN (";
    int first = 1;
    for (int s = 0; s <= SITQ__CANCELLED; s++) {
        if (!sitq__state_holds_unique_key(s)) continue;
        size_t n = strlen(built);
        snprintf(built + n, sizeof built - n, "%s%d", first ? "" : ", ", s);
        first = 0;
    }
    size_t used = strlen(built);
    snprintf(built + used, sizeof built - used, ")");
    assert_string_equal(built, "state IN (0, 1, 3)");
    assert_string_equal(SQ_SQL_HOLDS_UNIQUE_KEY, built);
}

static void test_public_status(void **state) {
    (void)state;
    sitq_time_us now = FINISHED;
    assert_int_equal(sitq__public_status(SITQ__QUEUED, now + 1, now), SITQ_SCHEDULED);
    assert_int_equal(sitq__public_status(SITQ__QUEUED, now + 3600 * SEC, now), SITQ_SCHEDULED);
    assert_int_equal(sitq__public_status(SITQ__QUEUED, now, now), SITQ_QUEUED);
    assert_int_equal(sitq__public_status(SITQ__QUEUED, now - SEC, now), SITQ_QUEUED);
    /* Only a queued task is scheduled: the others keep their status. */
    assert_int_equal(sitq__public_status(SITQ__WAITING, now + SEC, now), SITQ_WAITING);
    assert_int_equal(sitq__public_status(SITQ__RUNNING, now + SEC, now), SITQ_RUNNING);
    assert_int_equal(sitq__public_status(SITQ__SUCCEEDED, now + SEC, now), SITQ_SUCCEEDED);
    assert_int_equal(sitq__public_status(SITQ__FAILED, now + SEC, now), SITQ_FAILED);
    assert_int_equal(sitq__public_status(SITQ__CANCELLED, now + SEC, now), SITQ_CANCELLED);
}

static void test_failure_with_retries_left(void **state) {
    (void)state;
    /* Retry 2 of 3: base 1 s doubled once = 2 s; u = 0.25 with jitter 0.5
     * scales it by 1 + 0.5 * (2 * 0.25 - 1) = 0.75: 1.5 s. */
    sitq__failure_facts f = failure(2, 3, "boom");
    sitq__verdict v;
    sitq__decide_failure(&f, 0.25, &v);
    assert_int_equal(v.state, SITQ__QUEUED);
    assert_int_equal(v.run_at_us, FINISHED + 1500000);
    assert_int_equal(v.unstarted, 0);
    assert_string_equal(v.message, "boom");

    /* u = 0.5 is the middle of the jitter: exactly 2 s; the first retry 1 s. */
    sitq__decide_failure(&f, 0.5, &v);
    assert_int_equal(v.run_at_us, FINISHED + 2 * SEC);
    f.attempts = 1;
    sitq__decide_failure(&f, 0.5, &v);
    assert_int_equal(v.run_at_us, FINISHED + 1 * SEC);

    /* The cap bounds the delay: 2^12 s > 60 s, and jitter stays under it. */
    f = failure(13, 20, "boom");
    f.backoff_cap_us = 60 * SEC;
    f.backoff_jitter = 0;
    sitq__decide_failure(&f, 0.9, &v);
    assert_int_equal(v.state, SITQ__QUEUED);
    assert_int_equal(v.run_at_us, FINISHED + 60 * SEC);

    /* The last retry allowed: attempts == max_retries. */
    f = failure(3, 3, NULL);
    f.backoff_jitter = 0;
    sitq__decide_failure(&f, 0.0, &v);
    assert_int_equal(v.state, SITQ__QUEUED);
    assert_int_equal(v.run_at_us, FINISHED + 4 * SEC);
    assert_string_equal(v.message, "the handler failed without a message");

    /* The handler's own delay replaces the backoff; retries still count. */
    f = failure(2, 3, "slow down");
    f.retry = SITQ__RETRY_AFTER;
    f.retry_after_us = 90 * SEC;
    sitq__decide_failure(&f, 0.25, &v);
    assert_int_equal(v.state, SITQ__QUEUED);
    assert_int_equal(v.run_at_us, FINISHED + 90 * SEC);
    f.attempts = 4; /* none left: failed, whatever the delay */
    sitq__decide_failure(&f, 0.25, &v);
    assert_int_equal(v.state, SITQ__FAILED);

    /* No retry asked: failed with retries left, its message whole; a cancel
     * asked while it ran still wins. */
    f = failure(1, 3, "bad input");
    f.retry = SITQ__RETRY_NONE;
    sitq__decide_failure(&f, 0.25, &v);
    assert_int_equal(v.state, SITQ__FAILED);
    assert_string_equal(v.message, "bad input");
    f.cancel_requested = 1;
    sitq__decide_failure(&f, 0.25, &v);
    assert_int_equal(v.state, SITQ__CANCELLED);
}

static void test_failure_message_kept_whole(void **state) {
    (void)state;
    char error[2000];
    memset(error, 'x', sizeof error - 1);
    error[sizeof error - 1] = '\0';
    sitq__failure_facts f = failure(1, 0, error);
    sitq__verdict v;
    sitq__decide_failure(&f, 0.5, &v);
    assert_int_equal(v.state, SITQ__FAILED);
    assert_ptr_equal(v.message, error); /* borrowed, not cut at the verdict's buffer */
    assert_int_equal(strlen(v.message), sizeof error - 1);
}

static void test_failure_exhausted(void **state) {
    (void)state;
    sitq__failure_facts f = failure(4, 3, "boom");
    sitq__verdict v;
    sitq__decide_failure(&f, 0.25, &v);
    assert_int_equal(v.state, SITQ__FAILED);
    assert_int_equal(v.run_at_us, 0);
    assert_string_equal(v.message, "boom");

    f = failure(1, 0, NULL); /* no retries: the first failure is final */
    sitq__decide_failure(&f, 0.25, &v);
    assert_int_equal(v.state, SITQ__FAILED);
    assert_string_equal(v.message, "the handler failed without a message");
}

static void test_failure_cancel_requested(void **state) {
    (void)state;
    sitq__failure_facts f = failure(1, 5, "interrupted");
    f.cancel_requested = 1; /* wins over the retries left */
    sitq__verdict v;
    sitq__decide_failure(&f, 0.25, &v);
    assert_int_equal(v.state, SITQ__CANCELLED);
    assert_int_equal(v.run_at_us, 0);
    assert_string_equal(v.message, "cancelled while running: interrupted");

    f.error = NULL;
    sitq__decide_failure(&f, 0.25, &v);
    assert_int_equal(v.state, SITQ__CANCELLED);
    assert_string_equal(v.message, "cancelled while running: the handler failed without a message");
}

static void test_lapse(void **state) {
    (void)state;
    sitq__lapse_facts f = {.worker_id = "host-1:4242",
                           .attempts = 2,
                           .max_retries = 3,
                           .cancel_requested = 0,
                           .started = 1};
    sitq__verdict v;

    /* Started, retries left: queued again at its place, the attempt spent. */
    sitq__decide_lapse(&f, &v);
    assert_int_equal(v.state, SITQ__QUEUED);
    assert_int_equal(v.unstarted, 0);
    assert_int_equal(v.run_at_us, 0);
    assert_string_equal(v.message,
                        "worker host-1:4242 was lost: its lease expired during attempt 2");

    /* Started, last attempt spent. */
    f.attempts = 4;
    sitq__decide_lapse(&f, &v);
    assert_int_equal(v.state, SITQ__FAILED);
    assert_int_equal(v.unstarted, 0);
    assert_string_equal(v.message,
                        "worker host-1:4242 was lost: its lease expired during attempt 4");

    /* Not started: free, even with no retries left (lapses + 1). */
    f.attempts = 0;
    f.max_retries = 0;
    f.started = 0;
    sitq__decide_lapse(&f, &v);
    assert_int_equal(v.state, SITQ__QUEUED);
    assert_int_equal(v.unstarted, 1);
    assert_int_equal(v.run_at_us, 0);
    assert_string_equal(v.message, "worker host-1:4242 was lost before the start of attempt 1 was "
                                   "recorded: handed out again without spending an attempt");
    f.attempts = 7;
    sitq__decide_lapse(&f, &v);
    assert_int_equal(v.state, SITQ__QUEUED);
    assert_int_equal(v.unstarted, 1);
    assert_string_equal(v.message, "worker host-1:4242 was lost before the start of attempt 8 was "
                                   "recorded: handed out again without spending an attempt");

    /* Cancel asked: cancelled, started or not. */
    f.cancel_requested = 1;
    sitq__decide_lapse(&f, &v);
    assert_int_equal(v.state, SITQ__CANCELLED);
    assert_int_equal(v.unstarted, 0);
    assert_string_equal(v.message, "worker host-1:4242 was lost before the start of attempt 8 was "
                                   "recorded: handed out again without spending an attempt");
    f.started = 1;
    f.attempts = 1;
    f.max_retries = 5;
    sitq__decide_lapse(&f, &v);
    assert_int_equal(v.state, SITQ__CANCELLED);
    assert_string_equal(v.message,
                        "worker host-1:4242 was lost: its lease expired during attempt 1");

    /* Unknown worker. */
    f.worker_id = NULL;
    f.cancel_requested = 0;
    sitq__decide_lapse(&f, &v);
    assert_int_equal(v.state, SITQ__QUEUED);
    assert_string_equal(v.message, "worker ? was lost: its lease expired during attempt 1");
}

static void test_start_first(void **state) {
    (void)state;
    assert_int_equal(SITQ__START_FIRST_LAPSES, 2);
    assert_int_equal(sitq__start_first(0), 0);
    assert_int_equal(sitq__start_first(1), 0);
    assert_int_equal(sitq__start_first(2), 1);
    assert_int_equal(sitq__start_first(3), 1);
    assert_int_equal(sitq__start_first(1000), 1);
}

static void test_cancel_every_state(void **state) {
    (void)state;
    sitq_error err;
    sitq__cancel_action a = 0;
    assert_int_equal(sitq__decide_cancel(7, SITQ__QUEUED, &a, &err), SITQ_OK);
    assert_int_equal(a, SITQ__CANCEL_NOW);
    a = 0;
    assert_int_equal(sitq__decide_cancel(7, SITQ__WAITING, &a, &err), SITQ_OK);
    assert_int_equal(a, SITQ__CANCEL_NOW);
    assert_int_equal(sitq__decide_cancel(7, SITQ__RUNNING, &a, &err), SITQ_OK);
    assert_int_equal(a, SITQ__CANCEL_FLAG);
    assert_string_equal(SITQ__CANCELLED_MESSAGE, "cancelled");

    assert_int_equal(sitq__decide_cancel(7, SITQ__SUCCEEDED, &a, &err), SITQ_ESTATE);
    assert_int_equal(err.code, SITQ_ESTATE);
    assert_string_equal(err.message, "task 7 is already succeeded and cannot be cancelled");
    assert_int_equal(sitq__decide_cancel(8, SITQ__FAILED, &a, &err), SITQ_ESTATE);
    assert_string_equal(err.message, "task 8 is already failed and cannot be cancelled");
    assert_int_equal(sitq__decide_cancel(9, SITQ__CANCELLED, &a, &err), SITQ_ESTATE);
    assert_string_equal(err.message, "task 9 is already cancelled and cannot be cancelled");
    assert_int_equal(sitq__decide_cancel(9, SITQ__CANCELLED, &a, NULL), SITQ_ESTATE);
}

static void test_retry_preconditions(void **state) {
    (void)state;
    sitq_error err;
    assert_int_equal(sitq__check_retry(7, SITQ__FAILED, &err), SITQ_OK);
    assert_int_equal(sitq__check_retry(7, SITQ__CANCELLED, &err), SITQ_OK);
    static const struct {
        int state;
        const char *message;
    } refused[] = {
        {SITQ__QUEUED, "task 7 is queued; only failed or cancelled tasks can be retried"},
        {SITQ__WAITING, "task 7 is waiting; only failed or cancelled tasks can be retried"},
        {SITQ__RUNNING, "task 7 is running; only failed or cancelled tasks can be retried"},
        {SITQ__SUCCEEDED, "task 7 is succeeded; only failed or cancelled tasks can be retried"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        assert_int_equal(sitq__check_retry(7, refused[i].state, &err), SITQ_ESTATE);
        assert_int_equal(err.code, SITQ_ESTATE);
        assert_string_equal(err.message, refused[i].message);
    }

    assert_int_equal(sitq__check_retry_dependencies(7, 0, &err), SITQ_OK);
    assert_int_equal(sitq__check_retry_dependencies(7, 3, &err), SITQ_ESTATE);
    assert_string_equal(err.message, "task 7 depends on task 3, which failed or was cancelled (or "
                                     "was purged after that): retry that one first");

    assert_int_equal(sitq__retry_state(0), SITQ__QUEUED);
    assert_int_equal(sitq__retry_state(1), SITQ__WAITING);
    assert_int_equal(sitq__retry_state(40), SITQ__WAITING);

    assert_int_equal(sitq__retry_unique_conflict(7, &err), SITQ_ESTATE);
    assert_int_equal(err.code, SITQ_ESTATE);
    assert_string_equal(err.message, "task 7 cannot be retried: another live task of the queue "
                                     "holds its unique key");
}

/* A finalizer counts failed, cancelled and (on retry) purged dependencies
 * as finished: neither pending nor failing it. */
static void test_finalizer_fold(void **state) {
    (void)state;
    sitq__deps_fold f;
    sitq_error err;
    sitq__deps_begin(&f, 1);
    assert_int_equal(sitq__deps_add(&f, "", 2, SITQ__FAILED, &err), SITQ_OK);
    assert_int_equal(sitq__deps_add(&f, "", 3, SITQ__CANCELLED, &err), SITQ_OK);
    assert_int_equal(sitq__deps_add(&f, "", 4, SITQ__SUCCEEDED, &err), SITQ_OK);
    assert_int_equal(sitq__deps_initial_state(&f, NULL, 0), SITQ__QUEUED);
    assert_int_equal(sitq__deps_add(&f, "", 5, SITQ__RUNNING, &err), SITQ_OK);
    assert_int_equal(sitq__deps_initial_state(&f, NULL, 0), SITQ__WAITING);
    assert_int_equal(sitq__deps_add(&f, "", 6, -1, &err), SITQ_EDEPENDENCY); /* unknown */
    sitq__deps_begin(&f, 1);
    sitq__retry_deps_add(&f, 2, -1);
    sitq__retry_deps_add(&f, 3, SITQ__FAILED);
    sitq__retry_deps_add(&f, 4, SITQ__QUEUED);
    assert_int_equal(f.failed_dep, 0);
    assert_int_equal(f.pending, 1);
    /* not a finalizer: the first failed one is named */
    sitq__deps_begin(&f, 0);
    assert_int_equal(sitq__deps_add(&f, "", 3, SITQ__CANCELLED, &err), SITQ_OK);
    assert_int_equal(sitq__deps_add(&f, "", 7, SITQ__FAILED, &err), SITQ_OK);
    assert_int_equal(f.failed_dep, 3);
    assert_int_equal(f.failed_dep_cancelled, 1);
}

/* Edges keep their declared position: ids then batch indexes, a repeated id
 * once at its first place, positions dense; sorted by id for the fold. */
static void test_deps_collect(void **state) {
    (void)state;
    sitq_task_id deps[] = {30, 10, 30, 20};
    sitq_task_id batch[] = {50, 40};
    size_t idx[] = {1, 0, 1};
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.depends_on = deps;
    o.n_depends_on = 4;
    sitq_task_spec s = {"f", NULL, 0, &o, idx, 3};
    sitq__dep_edge *e = NULL;
    size_t n = 0;
    assert_int_equal(sitq__deps_collect(&s, batch, &e, &n, NULL), SITQ_OK);
    assert_int_equal(n, 5);
    const sitq_task_id want_id[] = {10, 20, 30, 40, 50};
    const int64_t want_pos[] = {1, 2, 0, 3, 4};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(e[i].id, want_id[i]);
        assert_int_equal(e[i].position, want_pos[i]);
    }
    free(e);
    sitq_task_spec none = {"f", NULL, 0, NULL, NULL, 0};
    assert_int_equal(sitq__deps_collect(&none, batch, &e, &n, NULL), SITQ_OK);
    assert_int_equal(n, 0);
    assert_null(e);
}

static void test_retry_dependency_fold(void **state) {
    (void)state;
    sitq__deps_fold f;
    /* Succeeded ones are done; queued, waiting, running ones pending. */
    sitq__deps_begin(&f, 0);
    sitq__retry_deps_add(&f, 2, SITQ__SUCCEEDED);
    sitq__retry_deps_add(&f, 3, SITQ__QUEUED);
    sitq__retry_deps_add(&f, 4, SITQ__WAITING);
    sitq__retry_deps_add(&f, 5, SITQ__RUNNING);
    assert_int_equal(f.failed_dep, 0);
    assert_int_equal(f.pending, 3);
    assert_int_equal(sitq__retry_state(f.pending), SITQ__WAITING);

    /* A purged (gone) dependency counts as failed; the first bad one added
     * is named. */
    sitq__deps_begin(&f, 0);
    sitq__retry_deps_add(&f, 2, SITQ__SUCCEEDED);
    sitq__retry_deps_add(&f, 3, -1);
    sitq__retry_deps_add(&f, 5, SITQ__FAILED);
    sitq__retry_deps_add(&f, 6, SITQ__CANCELLED);
    assert_int_equal(f.failed_dep, 3);
    sitq__deps_begin(&f, 0);
    sitq__retry_deps_add(&f, 6, SITQ__CANCELLED);
    sitq__retry_deps_add(&f, 8, SITQ__FAILED);
    assert_int_equal(f.failed_dep, 6);
    assert_int_equal(f.failed_dep_cancelled, 1);
    sitq__deps_begin(&f, 0);
    sitq__retry_deps_add(&f, 2, SITQ__SUCCEEDED);
    assert_int_equal(f.failed_dep, 0);
    assert_int_equal(f.pending, 0);
    assert_int_equal(sitq__retry_state(f.pending), SITQ__QUEUED);
}

static void test_dependency_fold(void **state) {
    (void)state;
    sitq_error err;
    sitq__deps_fold f;
    char msg[96];

    /* No dependencies: queued. */
    sitq__deps_begin(&f, 0);
    assert_int_equal(sitq__deps_initial_state(&f, NULL, 0), SITQ__QUEUED);

    /* Succeeded ones count for nothing; the others make it wait. */
    sitq__deps_begin(&f, 0);
    assert_int_equal(sitq__deps_add(&f, "", 4, SITQ__SUCCEEDED, &err), SITQ_OK);
    assert_int_equal(sitq__deps_initial_state(&f, NULL, 0), SITQ__QUEUED);
    assert_int_equal(sitq__deps_add(&f, "", 5, SITQ__QUEUED, &err), SITQ_OK);
    assert_int_equal(sitq__deps_add(&f, "", 6, SITQ__WAITING, &err), SITQ_OK);
    assert_int_equal(sitq__deps_add(&f, "", 7, SITQ__RUNNING, &err), SITQ_OK);
    assert_int_equal(f.pending, 3);
    assert_int_equal(sitq__deps_initial_state(&f, NULL, 0), SITQ__WAITING);

    /* The first failed or cancelled dependency added is named, whatever
     * follows. */
    sitq__deps_begin(&f, 0);
    assert_int_equal(sitq__deps_add(&f, "", 4, SITQ__QUEUED, &err), SITQ_OK);
    assert_int_equal(sitq__deps_add(&f, "", 5, SITQ__CANCELLED, &err), SITQ_OK);
    assert_int_equal(sitq__deps_add(&f, "", 6, SITQ__FAILED, &err), SITQ_OK);
    assert_int_equal(sitq__deps_initial_state(&f, msg, sizeof msg), SITQ__FAILED);
    assert_string_equal(msg, "dependency 5 was cancelled");

    sitq__deps_begin(&f, 0);
    assert_int_equal(sitq__deps_add(&f, "", 6, SITQ__FAILED, &err), SITQ_OK);
    assert_int_equal(sitq__deps_add(&f, "", 5, SITQ__CANCELLED, &err), SITQ_OK);
    assert_int_equal(sitq__deps_initial_state(&f, msg, sizeof msg), SITQ__FAILED);
    assert_string_equal(msg, "dependency 6 failed");

    /* An unknown id is refused, prefixed with where. */
    sitq__deps_begin(&f, 0);
    assert_int_equal(sitq__deps_add(&f, "task 3: ", 42, -1, &err), SITQ_EDEPENDENCY);
    assert_int_equal(err.code, SITQ_EDEPENDENCY);
    assert_string_equal(err.message, "task 3: dependency 42 does not exist in this queue");
    assert_int_equal(sitq__deps_add(&f, "", 43, -1, &err), SITQ_EDEPENDENCY);
    assert_string_equal(err.message, "dependency 43 does not exist in this queue");
    assert_int_equal(sitq__deps_add(&f, NULL, 44, -1, &err), SITQ_EDEPENDENCY);
    assert_string_equal(err.message, "dependency 44 does not exist in this queue");
    /* ... even after a failed one was seen. */
    sitq__deps_begin(&f, 0);
    assert_int_equal(sitq__deps_add(&f, "", 5, SITQ__FAILED, &err), SITQ_OK);
    assert_int_equal(sitq__deps_add(&f, "task 1: ", 9, -1, &err), SITQ_EDEPENDENCY);
    assert_string_equal(err.message, "task 1: dependency 9 does not exist in this queue");

    sitq__dependency_failed_message(9, 0, msg, sizeof msg);
    assert_string_equal(msg, "dependency 9 failed");
    sitq__dependency_failed_message(9, 1, msg, sizeof msg);
    assert_string_equal(msg, "dependency 9 was cancelled");
    sitq__dependency_failed_message(9007199254740993LL, 0, msg, sizeof msg);
    assert_string_equal(msg, "dependency 9007199254740993 failed");
}

static void test_not_ready(void **state) {
    (void)state;
    static const struct {
        sitq_status status;
        const char *message;
    } cases[] = {
        {SITQ_WAITING, "task 5 is waiting and cannot run now: it is waiting for its dependencies"},
        {SITQ_SCHEDULED, "task 5 is scheduled and cannot run now: its ETA (or retry backoff) is "
                         "in the future"},
        {SITQ_RUNNING, "task 5 is running and cannot run now: it is running on a worker"},
        {SITQ_SUCCEEDED, "task 5 is succeeded and cannot run now: it has already finished"},
        {SITQ_FAILED, "task 5 is failed and cannot run now: it has already finished"},
        {SITQ_CANCELLED, "task 5 is cancelled and cannot run now: it has already finished"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sitq_error err;
        assert_int_equal(sitq__not_ready(5, cases[i].status, &err), SITQ_ENOTREADY);
        assert_int_equal(err.code, SITQ_ENOTREADY);
        assert_string_equal(err.message, cases[i].message);
    }
}

static void test_unstorable_result(void **state) {
    (void)state;
    char msg[256];
    sitq__unstorable_result_message(2000000, "string or blob too big", msg, sizeof msg);
    assert_string_equal(msg, "the result of 2000000 bytes could not be stored: string or blob "
                             "too big");
    sitq__unstorable_result_message(0, NULL, msg, sizeof msg);
    assert_string_equal(msg, "the result of 0 bytes could not be stored: the backend refused it");
}

/* The failed attempt recorded in place of an unstorable success is a copy
 * (the caller's completion untouched), and the report marks the caller's
 * completion only when that failure was written and applied. */
static void test_unstorable_completion(void **state) {
    (void)state;
    char value[] = "result", tb[] = "tb";
    sitq__completion k = {.id = 7,
                          .lease_token = 99,
                          .ok = 1,
                          .value = value,
                          .value_len = 2000000,
                          .traceback = tb,
                          .started_at_us = FINISHED - SEC,
                          .finished_at_us = FINISHED};
    char msg[SITQ_ERROR_MESSAGE_SIZE];
    sitq__completion f;
    memset(&f, 0x5a, sizeof f);
    sitq__unstorable_failure(&k, "too big", msg, sizeof msg, &f);
    assert_string_equal(msg, "the result of 2000000 bytes could not be stored: too big");
    assert_int_equal(f.id, 7);
    assert_int_equal(f.lease_token, 99);
    assert_int_equal(f.ok, 0);
    assert_null(f.value);
    assert_int_equal(f.value_len, 0);
    assert_ptr_equal(f.error, msg);
    assert_ptr_equal(f.traceback, tb);
    assert_int_equal(f.started_at_us, FINISHED - SEC);
    assert_int_equal(f.finished_at_us, FINISHED);
    assert_int_equal(f.applied, 0);
    assert_int_equal(f.stored_as_failure, 0);
    assert_null(f.stored_error);
    assert_int_equal(k.ok, 1);
    assert_ptr_equal(k.value, value);
    assert_int_equal(k.value_len, 2000000);
    assert_null(k.error);

    /* The write failed: nothing to report beyond applied. */
    f.applied = 1;
    sitq__unstorable_report(&k, &f, SITQ_ESTORAGE);
    assert_int_equal(k.applied, 1);
    assert_int_equal(k.stored_as_failure, 0);
    assert_null(k.stored_error);
    /* The lease was lost: dropped, not stored as a failure. */
    k.applied = 1;
    f.applied = 0;
    sitq__unstorable_report(&k, &f, SITQ_OK);
    assert_int_equal(k.applied, 0);
    assert_int_equal(k.stored_as_failure, 0);
    /* Recorded: the caller learns the stored message, in its own copy. */
    f.applied = 1;
    sitq__unstorable_report(&k, &f, SITQ_OK);
    assert_int_equal(k.applied, 1);
    assert_int_equal(k.stored_as_failure, 1);
    assert_non_null(k.stored_error);
    assert_ptr_not_equal(k.stored_error, msg);
    assert_string_equal(k.stored_error, msg);
    assert_int_equal(k.ok, 1);
    assert_ptr_equal(k.value, value);
    assert_null(k.error);
    free(k.stored_error);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_states_are_public_statuses),
        cmocka_unit_test(test_sqlite_unique_states_match_core),
        cmocka_unit_test(test_public_status),
        cmocka_unit_test(test_failure_with_retries_left),
        cmocka_unit_test(test_failure_message_kept_whole),
        cmocka_unit_test(test_failure_exhausted),
        cmocka_unit_test(test_failure_cancel_requested),
        cmocka_unit_test(test_lapse),
        cmocka_unit_test(test_start_first),
        cmocka_unit_test(test_cancel_every_state),
        cmocka_unit_test(test_retry_preconditions),
        cmocka_unit_test(test_retry_dependency_fold),
        cmocka_unit_test(test_finalizer_fold),
        cmocka_unit_test(test_deps_collect),
        cmocka_unit_test(test_dependency_fold),
        cmocka_unit_test(test_not_ready),
        cmocka_unit_test(test_unstorable_result),
        cmocka_unit_test(test_unstorable_completion),
    };
    return cmocka_run_group_tests_name("lifecycle", tests, NULL, NULL);
}
