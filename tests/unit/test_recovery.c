/* test_recovery.c - what happens to a worker's tasks when its process is
 * killed: prefetched tasks that never started are handed out again without
 * spending an attempt, a task that kills its worker still runs out of
 * retries, and a recovered task keeps its place in the queue.
 *
 * SQLite connections must not cross a fork: the parent closes its backend
 * and stops its threads before forking (spawn_worker) and reopens after.
 * Children never call cmocka and end with _exit(code) or are killed. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t g_child = 0;
static int g_pipe[2] = {-1, -1};

static int teardown_kill_child(void **state) {
    if (g_child > 0) {
        kill(g_child, SIGKILL);
        waitpid(g_child, NULL, 0);
    }
    g_child = 0;
    for (int i = 0; i < 2; i++)
        if (g_pipe[i] >= 0) close(g_pipe[i]);
    g_pipe[0] = g_pipe[1] = -1;
    return tq_teardown(state);
}

/* ---- the child: a worker whose handler blocks or kills its process ---- */

enum child_mode { CHILD_BLOCK, CHILD_DIE };

static int h_block_forever(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)p;
    (void)n;
    (void)ud;
    sitq_task_id id = sitq_ctx_task_id(ctx);
    if (write(g_pipe[1], &id, sizeof id) != (ssize_t)sizeof id) _exit(41);
    for (;;) pause(); /* until the parent's SIGKILL */
}

static int h_die(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)ctx;
    (void)p;
    (void)n;
    (void)ud;
    raise(SIGKILL);
    return 0;
}

static void open_env(tq_env *e) {
    TQ_OK(tq_open_path(e->path, NULL, &e->backend, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, NULL, &e->queue, &tq_err));
}

static void close_env(tq_env *e) {
    sitq_queue_close(e->queue);
    sitq_backend_close(e->backend);
    e->queue = NULL;
    e->backend = NULL;
}

static void child_worker(const char *path, enum child_mode mode, int prefetch, double lease_s) {
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    sitq_worker *w = NULL;
    sitq_error err;
    if (tq_open_path(path, NULL, &b, &err) != SITQ_OK ||
        sitq_queue_open(b, NULL, &q, &err) != SITQ_OK)
        _exit(30);
    sitq_worker_options o;
    tq_worker_opts(&o, 1, prefetch);
    o.worker_id = "doomed";
    o.lease_s = lease_s;
    if (sitq_worker_create(q, &o, &w, &err) != SITQ_OK ||
        sitq_worker_register(w, "job", mode == CHILD_BLOCK ? h_block_forever : h_die, NULL, &err) !=
            SITQ_OK ||
        sitq_worker_start(w, &err) != SITQ_OK)
        _exit(32);
    for (;;) pause();
}

/* Fork a worker process; the parent's backend is closed around the fork. */
static pid_t spawn_worker(tq_env *e, enum child_mode mode, int prefetch, double lease_s) {
    close_env(e);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) child_worker(e->path, mode, prefetch, lease_s);
    g_child = pid;
    open_env(e);
    return pid;
}

static void make_pipe(void) {
    assert_int_equal(pipe(g_pipe), 0);
    assert_int_equal(fcntl(g_pipe[0], F_SETFL, O_NONBLOCK), 0);
}

/* Read the id of the task the child started; 0 after timeout_ms. */
static sitq_task_id wait_started(int timeout_ms) {
    int64_t end = tq_mono_ms() + timeout_ms;
    while (tq_mono_ms() < end) {
        sitq_task_id id = 0;
        ssize_t r = read(g_pipe[0], &id, sizeof id);
        if (r == (ssize_t)sizeof id) return id;
        if (r < 0 && errno != EAGAIN && errno != EINTR) return 0;
        tq_sleep_ms(2);
    }
    return 0;
}

static void kill_child(void) {
    assert_int_equal(kill(g_child, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(g_child, &status, 0), g_child);
    g_child = 0;
    assert_true(WIFSIGNALED(status));
}

/* Poll until the task's recorded attempts reach n; returns 1 if they did. */
static int poll_attempts(sitq_queue *q, sitq_task_id id, int32_t n, double timeout_s) {
    int64_t end = tq_mono_ms() + (int64_t)(timeout_s * 1000);
    while (tq_mono_ms() < end) {
        sitq_result *r = tq_get(q, id);
        int32_t a = r->attempts;
        sitq_result_free(r);
        if (a >= n) return 1;
        tq_sleep_ms(2);
    }
    return 0;
}

/* A worker that only recovers lapsed leases: it handles no function the
 * tasks have, so it claims nothing. */
static sitq_worker *start_reaper(sitq_queue *q, double lease_s) {
    sitq_worker_options o;
    tq_worker_opts(&o, 1, 0);
    o.worker_id = "reaper";
    o.lease_s = lease_s;
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(q, &o, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "unrelated", tq_h_echo, NULL, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    return w;
}

/* ---- prefetched tasks of a killed worker ---- */

enum { PREFETCHED = 20, ROUNDS = 3 };

/* One round: a worker process claims every queued task of ids[first..n),
 * starts the first (which blocks) and holds the others unstarted; it is
 * killed; a reaper recovers them. The started one fails (max_retries 0);
 * the others are queued again with no attempt spent, whatever happened to
 * them in earlier rounds. */
static void kill_round(tq_env *e, const sitq_task_id *ids, int first, int n, double lease) {
    spawn_worker(e, CHILD_BLOCK, n - first, lease);
    sitq_queue *q = e->queue;
    sitq_task_id started = wait_started(20000);
    assert_int_equal(started, ids[first]);
    assert_true(tq_poll_count(q, SITQ_RUNNING, n - first, 20));
    assert_true(poll_attempts(q, ids[first], 1, 20));
    for (int i = first + 1; i < n; i++) {
        sitq_result *r = tq_get(q, ids[i]);
        assert_int_equal(r->status, SITQ_RUNNING);
        assert_int_equal(r->attempts, 0); /* claimed, not started: not an attempt */
        sitq_result_free(r);
    }
    kill_child();

    sitq_worker *reaper = start_reaper(q, lease);
    sitq_result *r = tq_wait_done(q, ids[first], 30);
    assert_int_equal(r->status, SITQ_FAILED);
    assert_int_equal(r->attempts, 1);
    if (!tq_contains_ci(r->error, "lost") || !tq_contains_ci(r->error, "during attempt 1"))
        fail_msg("started task: error \"%s\" does not say it was lost during attempt 1", r->error);
    sitq_result_free(r);
    assert_true(tq_poll_count(q, SITQ_QUEUED, n - first - 1, 30));
    for (int i = first + 1; i < n; i++) {
        r = tq_get(q, ids[i]);
        assert_int_equal(r->status, SITQ_QUEUED);
        assert_int_equal(r->attempts, 0);
        if (!tq_contains_ci(r->error, "before the start of attempt 1"))
            fail_msg("prefetched task %lld: note \"%s\" does not say it never started",
                     (long long)ids[i], r->error ? r->error : "(null)");
        sitq_result_free(r);
    }
    TQ_OK(sitq_worker_stop(reaper, -1, &tq_err));
    sitq_worker_free(reaper);
}

static void test_prefetched_tasks_not_failed(void **state) {
    tq_env *e = TQ_ENV(state);
    const double lease = 0.4;
    const int n = PREFETCHED + ROUNDS;
    make_pipe();
    open_env(e);
    sitq_task_id ids[PREFETCHED + ROUNDS];
    for (int i = 0; i < n; i++)
        ids[i] = tq_enqueue(e->queue, "job", NULL); /* default: max_retries 0 */
    /* Prefetched by three workers that were killed: still never failed. */
    for (int round = 0; round < ROUNDS; round++) kill_round(e, ids, round, n, lease);

    /* Each prefetched task then runs exactly once, as attempt 1. */
    sitq_queue *q = e->queue;
    tq_rec rec;
    tq_rec_init(&rec, 64);
    sitq_worker *w = tq_worker_new(q, 2, -1, "job", tq_h_record, &rec);
    TQ_OK(sitq_worker_start(w, &tq_err));
    int all = tq_poll_count(q, SITQ_SUCCEEDED, PREFETCHED, 30);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_true(all);
    assert_int_equal(tq_rec_count(&rec), PREFETCHED);
    for (int i = ROUNDS; i < n; i++) {
        sitq_result *r = tq_get(q, ids[i]);
        assert_int_equal(r->status, SITQ_SUCCEEDED);
        assert_int_equal(r->attempts, 1);
        sitq_result_free(r);
    }
    tq_rec_free(&rec);
}

/* ---- a task that kills its worker before its start can be recorded ---- */

static void test_task_killing_its_worker_runs_out(void **state) {
    tq_env *e = TQ_ENV(state);
    const double lease = 0.3;
    open_env(e);
    sitq_queue *q = e->queue;
    sitq_task_id id = tq_enqueue(q, "job", NULL); /* max_retries 0 */
    int deaths = 0;
    sitq_status st = SITQ_QUEUED;
    while (deaths < 5) {
        pid_t pid = spawn_worker(e, CHILD_DIE, 0, lease);
        q = e->queue;
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        g_child = 0;
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        deaths++;
        /* Wait until a reaper recovered the lapsed lease. */
        sitq_worker *reaper = start_reaper(q, lease);
        int64_t end = tq_mono_ms() + 30000;
        while ((st = tq_status(q, id)) == SITQ_RUNNING && tq_mono_ms() < end) tq_sleep_ms(5);
        TQ_OK(sitq_worker_stop(reaper, -1, &tq_err));
        sitq_worker_free(reaper);
        if (st != SITQ_QUEUED) break;
    }
    assert_int_equal(st, SITQ_FAILED);
    /* Once lost before its start was recorded, its next claim counts it. */
    assert_true(deaths <= 3); /* two free losses, then counted */
    sitq_result *r = tq_get(q, id);
    assert_int_equal(r->attempts, 1);
    if (!tq_contains_ci(r->error, "during attempt 1"))
        fail_msg("error \"%s\" does not name the lost attempt", r->error);
    sitq_result_free(r);
}

/* ---- a recovered task keeps its place ---- */

enum { BACKLOG = 30 };

static void test_recovered_task_keeps_its_place(void **state) {
    tq_env *e = TQ_ENV(state);
    const double lease = 0.3;
    make_pipe();
    open_env(e);
    sitq_queue *q = e->queue;
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.max_retries = 1;
    sitq_task_id first = tq_enqueue(q, "job", &o);
    spawn_worker(e, CHILD_BLOCK, 0, lease);
    q = e->queue;
    assert_int_equal(wait_started(20000), first);
    assert_true(poll_attempts(q, first, 1, 20));
    /* A backlog arrives while the first task runs on the doomed worker. */
    for (int i = 0; i < BACKLOG; i++) tq_enqueue(q, "job", NULL);
    kill_child();

    sitq_worker *reaper = start_reaper(q, lease);
    int requeued = tq_poll_status(q, first, SITQ_QUEUED, 30);
    TQ_OK(sitq_worker_stop(reaper, -1, &tq_err));
    sitq_worker_free(reaper);
    assert_true(requeued);

    tq_rec rec;
    tq_rec_init(&rec, 64);
    sitq_worker *w = tq_worker_new(q, 1, 0, "job", tq_h_record, &rec);
    TQ_OK(sitq_worker_start(w, &tq_err));
    int all = tq_poll_count(q, SITQ_SUCCEEDED, BACKLOG + 1, 30);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_true(all);
    assert_int_equal(tq_rec_count(&rec), BACKLOG + 1);
    assert_int_equal(rec.ids[0], first); /* not behind the backlog */
    sitq_result *r = tq_get(q, first);
    assert_int_equal(r->attempts, 2);
    sitq_result_free(r);
    tq_rec_free(&rec);
}

/* ---- a prefetched task cancelled before it started spends no attempt ---- */

static atomic_int g_release;

static int h_wait_release(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)ctx;
    (void)p;
    (void)n;
    atomic_fetch_add((atomic_int *)ud, 1);
    int64_t end = tq_mono_ms() + 20000;
    while (!atomic_load(&g_release) && tq_mono_ms() < end) tq_sleep_ms(1);
    return 0;
}

static void test_cancelled_before_start_spends_no_attempt(void **state) {
    tq_env *e = TQ_ENV(state);
    open_env(e);
    sitq_queue *q = e->queue;
    atomic_store(&g_release, 0);
    atomic_int calls = 0;
    sitq_task_id first = tq_enqueue(q, "job", NULL);
    sitq_task_id second = tq_enqueue(q, "job", NULL);
    /* No polling for new tasks: after the cancel, every cycle is a heartbeat
     * (or a lease check), and each heartbeat reads the cancel flags. */
    sitq_worker_options o;
    tq_worker_opts(&o, 1, 4);
    o.poll_interval_s = 3600;
    o.heartbeat_interval_s = 0.1; /* most cycles are heartbeats, few are lease checks */
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(q, &o, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "job", h_wait_release, &calls, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    /* The second task is claimed (running) but waits behind the first. */
    int held = tq_poll_status(q, second, SITQ_RUNNING, 20);
    int started = poll_attempts(q, first, 1, 20);
    sitq_status out = SITQ_QUEUED;
    sitq_worker_stats st;
    sitq_worker_get_stats(w, &st);
    int64_t seen = st.commits;
    TQ_OK(sitq_cancel(q, second, &out, &tq_err));
    /* Let the dispatcher's heartbeats read the cancel flag: four cycles, of
     * which at most one a lease check without a heartbeat. */
    for (int64_t end = tq_mono_ms() + 20000; st.commits < seen + 4 && tq_mono_ms() < end;
         tq_sleep_ms(1))
        sitq_worker_get_stats(w, &st);
    atomic_store(&g_release, 1);
    sitq_result *r = tq_wait_done(q, second, 30);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_true(held);
    assert_true(started);
    assert_int_equal(out, SITQ_RUNNING);
    assert_int_equal(r->status, SITQ_CANCELLED);
    assert_int_equal(r->attempts, 0);
    assert_int_equal(atomic_load(&calls), 1);
    sitq_result_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prefetched_tasks_not_failed, tq_setup_dir,
                                        teardown_kill_child),
        cmocka_unit_test_setup_teardown(test_task_killing_its_worker_runs_out, tq_setup_dir,
                                        teardown_kill_child),
        cmocka_unit_test_setup_teardown(test_recovered_task_keeps_its_place, tq_setup_dir,
                                        teardown_kill_child),
        cmocka_unit_test_setup_teardown(test_cancelled_before_start_spends_no_attempt, tq_setup_dir,
                                        teardown_kill_child),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
