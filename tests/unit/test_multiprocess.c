/* test_multiprocess.c - several processes on one SQLite file: concurrent
 * initialisation, claiming with no task run twice, and recovery after a
 * worker process is killed with SIGKILL mid-task.
 *
 * Children are forked before any backend is opened in them (or in the parent
 * at that moment); they never call cmocka and end with _exit(code). */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Children still alive when a test fails midway are killed by the teardown. */
static pid_t g_child = 0;
static pid_t g_pids[8];
static int g_npids = 0;

static void kill_reap(pid_t pid) {
    if (pid > 0 && waitpid(pid, NULL, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

static int teardown_kill_child(void **state) {
    kill_reap(g_child);
    g_child = 0;
    for (int i = 0; i < g_npids; i++) kill_reap(g_pids[i]);
    g_npids = 0;
    return tq_teardown(state);
}

/* Wait for a child for up to timeout_s; kill it after. Returns its exit code,
 * 128+signal when signalled, -1 when it had to be killed. */
static int reap(pid_t pid, double timeout_s) {
    int64_t end = tq_mono_ms() + (int64_t)(timeout_s * 1000);
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) return -2;
        if (tq_mono_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        tq_sleep_ms(5);
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -3;
}

/* ---- several processes initialise and fill a fresh file at once ---- */
enum { OPENERS = 6, OPEN_TASKS = 20, ROUNDS = 4 };

static int child_open_and_enqueue(const char *path, int n) {
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    sitq_error err;
    if (tq_open_path(path, NULL, &b, &err) != SITQ_OK) {
        fprintf(stderr, "child %d: open: %s\n", (int)getpid(), err.message);
        return 10;
    }
    if (sitq_queue_open(b, NULL, &q, &err) != SITQ_OK) return 11;
    for (int i = 0; i < n; i++) {
        sitq_task_id id;
        if (sitq_enqueue(q, "f", NULL, 0, NULL, &id, &err) != SITQ_OK) {
            fprintf(stderr, "child %d: enqueue: %s\n", (int)getpid(), err.message);
            return 12;
        }
    }
    sitq_queue_close(q);
    sitq_backend_close(b);
    return 0;
}

static void test_concurrent_open_fresh_file(void **state) {
    tq_env *e = TQ_ENV(state);
    /* Several rounds, each on a new file; children are released together
     * through a pipe so that they really initialise the file at once. */
    for (int round = 0; round < ROUNDS; round++) {
        char path[400];
        snprintf(path, sizeof path, "%s/fresh-%d.db", e->dir, round);
        int gate[2];
        assert_int_equal(pipe(gate), 0);
        pid_t pids[OPENERS];
        for (int i = 0; i < OPENERS; i++) {
            pids[i] = fork();
            assert_true(pids[i] >= 0);
            if (pids[i] == 0) {
                char c;
                close(gate[1]);
                while (read(gate[0], &c, 1) < 0 && errno == EINTR) {}
                _exit(child_open_and_enqueue(path, OPEN_TASKS));
            }
            g_pids[g_npids++] = pids[i];
        }
        close(gate[0]);
        tq_sleep_ms(20);
        close(gate[1]); /* EOF: all go */
        int codes[OPENERS];
        for (int i = 0; i < OPENERS; i++) codes[i] = reap(pids[i], 60);
        g_npids = 0;
        for (int i = 0; i < OPENERS; i++)
            if (codes[i] != 0)
                fail_msg("round %d: child %d exited %d (10: open failed, see stderr)", round, i,
                         codes[i]);
        sitq_backend *b = NULL;
        sitq_queue *q = NULL;
        TQ_OK(tq_open_path(path, NULL, &b, &tq_err));
        TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
        sitq_stats st = tq_stats(q);
        assert_int_equal(st.total, OPENERS * OPEN_TASKS);
        assert_int_equal(st.count[SITQ_QUEUED], OPENERS * OPEN_TASKS);
        sitq_queue_close(q);
        sitq_backend_close(b);
    }
}

/* ---- processes and threads claiming at once ---- */

static int h_append(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)p;
    (void)n;
    int fd = *(int *)ud;
    char line[32];
    int len = snprintf(line, sizeof line, "%lld\n", (long long)sitq_ctx_task_id(ctx));
    if (write(fd, line, (size_t)len) != len) return 1;
    return 0;
}

static int child_claim(const char *path, const char *log_path, int n_tasks, int wal) {
    int fd = open(log_path, O_CREAT | O_WRONLY | O_APPEND, 0600);
    if (fd < 0) return 20;
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    sitq_worker *w = NULL;
    sitq_error err;
    sitq_sqlite_options so;
    sitq_sqlite_options_init(&so);
    so.enable_wal = wal;
    if (tq_open_path(path, &so, &b, &err) != SITQ_OK) {
        fprintf(stderr, "child %d: open: %s\n", (int)getpid(), err.message);
        return 21;
    }
    if (sitq_queue_open(b, NULL, &q, &err) != SITQ_OK) return 22;
    sitq_worker_options o;
    tq_worker_opts(&o, 2, 2);
    if (sitq_worker_create(q, &o, &w, &err) != SITQ_OK ||
        sitq_worker_register(w, "claim", h_append, &fd, &err) != SITQ_OK ||
        sitq_worker_start(w, &err) != SITQ_OK) {
        fprintf(stderr, "child %d: worker: %s\n", (int)getpid(), err.message);
        return 23;
    }
    int64_t end = tq_mono_ms() + 120000;
    int rc = 24;
    while (tq_mono_ms() < end) {
        sitq_stats st;
        if (sitq_get_stats(q, &st, &err) != SITQ_OK) {
            fprintf(stderr, "child %d: stats: %s\n", (int)getpid(), err.message);
            rc = 25;
            break;
        }
        if (st.count[SITQ_SUCCEEDED] >= n_tasks) {
            rc = 0;
            break;
        }
        tq_sleep_ms(20);
    }
    if (sitq_worker_stop(w, -1, &err) != SITQ_OK && rc == 0) rc = 26;
    sitq_worker_free(w);
    sitq_queue_close(q);
    sitq_backend_close(b);
    close(fd);
    return rc;
}

static void count_log(const char *log_path, const sitq_task_id *ids, int n, int *runs) {
    FILE *f = fopen(log_path, "r");
    if (!f) return;
    long long v;
    while (fscanf(f, "%lld", &v) == 1) {
        /* ids are increasing: binary search */
        int lo = 0, hi = n - 1, found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) / 2;
            if (ids[mid] == v) {
                found = mid;
                break;
            }
            if (ids[mid] < v) lo = mid + 1;
            else hi = mid - 1;
        }
        if (found < 0) fail_msg("%s: unknown id %lld", log_path, v);
        runs[found]++;
    }
    fclose(f);
}

static void claim_scenario(tq_env *e, int n_procs, int n_tasks, int wal) {
    sitq_task_id *ids = calloc(n_tasks, sizeof *ids);
    int *runs = calloc(n_tasks, sizeof *runs);
    sitq_sqlite_options so;
    sitq_sqlite_options_init(&so);
    so.enable_wal = wal;

    /* create the file and the tasks, then close before forking */
    {
        sitq_backend *b = NULL;
        sitq_queue *q = NULL;
        TQ_OK(tq_open_path(e->path, &so, &b, &tq_err));
        TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
        sitq_task_spec *specs = calloc(n_tasks, sizeof *specs);
        for (int i = 0; i < n_tasks; i++) specs[i].function = "claim";
        TQ_OK(sitq_enqueue_batch(q, specs, n_tasks, ids, &tq_err));
        free(specs);
        sitq_queue_close(q);
        sitq_backend_close(b);
    }

    char logs[8][400];
    assert_true(n_procs < 8);
    for (int i = 0; i <= n_procs; i++)
        snprintf(logs[i], sizeof logs[i], "%s/claims-%d.log", e->dir, i);
    pid_t pids[8];
    for (int i = 0; i < n_procs; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) _exit(child_claim(e->path, logs[i], n_tasks, wal));
        g_pids[g_npids++] = pids[i];
    }

    /* the parent works too */
    int fd = open(logs[n_procs], O_CREAT | O_WRONLY | O_APPEND, 0600);
    assert_true(fd >= 0);
    TQ_OK(tq_open_path(e->path, &so, &e->backend, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, NULL, &e->queue, &tq_err));
    sitq_worker *w = tq_worker_new(e->queue, 2, 2, "claim", h_append, &fd);
    TQ_OK(sitq_worker_start(w, &tq_err));
    int done = tq_poll_count(e->queue, SITQ_SUCCEEDED, n_tasks, 150);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    close(fd);
    int codes[8];
    for (int i = 0; i < n_procs; i++) codes[i] = reap(pids[i], 60);
    g_npids = 0;
    assert_true(done);
    for (int i = 0; i < n_procs; i++) assert_int_equal(codes[i], 0);

    int participants = 0;
    for (int i = 0; i <= n_procs; i++) {
        int before = 0, after = 0;
        for (int k = 0; k < n_tasks; k++) before += runs[k];
        count_log(logs[i], ids, n_tasks, runs);
        for (int k = 0; k < n_tasks; k++) after += runs[k];
        participants += after > before;
    }
    print_message("%d of %d processes ran tasks\n", participants, n_procs + 1);
    for (int i = 0; i < n_tasks; i++)
        if (runs[i] != 1) fail_msg("task %lld ran %d times", (long long)ids[i], runs[i]);

    sitq_result **items = NULL;
    size_t n = 0;
    TQ_OK(sitq_list(e->queue, SITQ_STATUS_ANY, n_tasks, 0, &items, &n, &tq_err));
    assert_int_equal(n, n_tasks);
    for (size_t i = 0; i < n; i++) {
        if (items[i]->status != SITQ_SUCCEEDED || items[i]->attempts != 1)
            fail_msg("task %lld: %s, attempts %d", (long long)items[i]->id,
                     sitq_status_name(items[i]->status), items[i]->attempts);
    }
    sitq_result_list_free(items, n);
    free(ids);
    free(runs);
}

static void test_processes_and_threads_claim_once(void **state) {
    claim_scenario(TQ_ENV(state), 3, 2000, 1);
}

/* The same with a rollback journal (enable_wal = 0): writers and readers of
 * several processes block each other, but wait rather than fail. */
static void test_processes_claim_once_rollback_journal(void **state) {
    claim_scenario(TQ_ENV(state), 2, 300, 0);
}

/* ---- kill -9 of a worker process mid-task ---- */

static int h_hang(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)ctx;
    (void)p;
    (void)n;
    (void)ud;
    for (int i = 0; i < 6000; i++) /* ~60 s, ignoring the cancel flag */
        tq_sleep_ms(10);
    _exit(40); /* never reached in a passing run: the parent kills us */
}

static int child_hang(const char *path, double lease_s) {
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    sitq_worker *w = NULL;
    sitq_error err;
    if (tq_open_path(path, NULL, &b, &err) != SITQ_OK) return 30;
    if (sitq_queue_open(b, NULL, &q, &err) != SITQ_OK) return 31;
    sitq_worker_options o;
    tq_worker_opts(&o, 1, 0);
    o.worker_id = "doomed";
    o.lease_s = lease_s;
    o.heartbeat_interval_s = 0.1;
    if (sitq_worker_create(q, &o, &w, &err) != SITQ_OK ||
        sitq_worker_register(w, "job", h_hang, NULL, &err) != SITQ_OK ||
        sitq_worker_start(w, &err) != SITQ_OK) {
        fprintf(stderr, "child: worker: %s\n", err.message);
        return 32;
    }
    for (int i = 0; i < 6000; i++) tq_sleep_ms(10);
    return 33;
}

/* Enqueue one "job" task with max_retries (backoff 10 ms, no jitter) into
 * the database at path; returns its id. */
static sitq_task_id enqueue_job(const char *path, int max_retries) {
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    TQ_OK(tq_open_path(path, NULL, &b, &tq_err));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.max_retries = max_retries;
    o.backoff_base_s = 0.01;
    o.backoff_jitter = 0;
    sitq_task_id id = tq_enqueue(q, "job", &o);
    sitq_queue_close(q);
    sitq_backend_close(b);
    return id;
}

/* Wait until the child pid ("doomed") runs task id and its start is
 * recorded (attempt 1); kills the child and fails the test otherwise. */
static void wait_child_started(sitq_queue *q, sitq_task_id id, pid_t pid) {
    int running = tq_poll_status(q, id, SITQ_RUNNING, 20);
    if (!running) {
        kill(pid, SIGKILL);
        reap(pid, 10);
        fail_msg("task never became running in the child");
    }
    /* The attempt counts once the child recorded its start (20 ms after it). */
    sitq_result *r = NULL;
    for (int64_t end = tq_mono_ms() + 10000; tq_mono_ms() < end; tq_sleep_ms(5)) {
        sitq_result_free(r);
        r = tq_get(q, id);
        if (r->attempts == 1) break;
    }
    assert_string_equal(r->worker_id, "doomed");
    assert_int_equal(r->attempts, 1);
    sitq_result_free(r);
}

static void kill9_scenario(tq_env *e, int max_retries) {
    const double lease = 0.8;
    sitq_task_id id = enqueue_job(e->path, max_retries);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(child_hang(e->path, lease));
    g_child = pid;

    TQ_OK(tq_open_path(e->path, NULL, &e->backend, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, NULL, &e->queue, &tq_err));
    sitq_queue *q = e->queue;
    wait_child_started(q, id, pid);

    /* a rescuer worker running alongside must not steal a live, heartbeating lease */
    atomic_int calls = 0;
    sitq_worker_options wo;
    tq_worker_opts(&wo, 1, 1);
    wo.worker_id = "rescuer";
    wo.lease_s = lease;
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(q, &wo, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "job", tq_h_echo, &calls, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    tq_sleep_ms((int)(lease * 1000 * 2));
    sitq_result *r = tq_get(q, id);
    int still_running = r->status == SITQ_RUNNING && r->attempts == 1;
    sitq_result_free(r);
    int calls_before_kill = atomic_load(&calls);

    assert_int_equal(kill(pid, SIGKILL), 0);
    int killed = reap(pid, 10);
    g_child = 0;
    assert_int_equal(killed, 128 + SIGKILL);

    r = NULL;
    memset(&tq_err, 0, sizeof tq_err);
    sitq_code c = sitq_wait(q, id, 30, &r, &tq_err);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_true(still_running);
    assert_int_equal(calls_before_kill, 0);
    if (c != SITQ_OK)
        fail_msg("wait after kill: %s, status %s", sitq_code_name(c),
                 r ? sitq_status_name(r->status) : "?");
    if (max_retries > 0) {
        assert_int_equal(r->status, SITQ_SUCCEEDED);
        assert_int_equal(r->attempts, 2);
        assert_string_equal(r->worker_id, "rescuer");
        assert_int_equal(atomic_load(&calls), 1);
    } else {
        assert_int_equal(r->status, SITQ_FAILED);
        assert_int_equal(r->attempts, 1);
        assert_non_null(r->error);
        if (!tq_contains_ci(r->error, "lost") && !tq_contains_ci(r->error, "lease"))
            fail_msg("error \"%s\" does not say the worker was lost", r->error);
        assert_int_equal(atomic_load(&calls), 0);
    }
    sitq_result_free(r);
}

static void test_kill9_then_recovered(void **state) { kill9_scenario(TQ_ENV(state), 1); }

static void test_kill9_no_retries_fails_lost(void **state) { kill9_scenario(TQ_ENV(state), 0); }

/* ---- a worker in another process: wait, cancel, frozen past the lease ---- */

static sitq_task_id make_task(const char *path, const char *fn, const char *payload, double delay_s,
                              int max_retries) {
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    TQ_OK(tq_open_path(path, NULL, &b, &tq_err));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.delay_s = delay_s;
    o.max_retries = max_retries;
    o.backoff_base_s = 0.01;
    o.backoff_jitter = 0;
    sitq_task_id id = 0;
    TQ_OK(sitq_enqueue(q, fn, payload, payload ? strlen(payload) : 0, &o, &id, &tq_err));
    sitq_queue_close(q);
    sitq_backend_close(b);
    return id;
}

typedef struct {
    atomic_int started, done, saw_cancel, got_elease, cancelled_after;
    const char *marker; /* file created when the handler starts */
} remote_state;

static void touch(const char *path) {
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    if (fd >= 0) close(fd);
}

/* Parent: wait until the child's handler has really started. */
static int wait_marker(const char *path, double timeout_s) {
    int64_t end = tq_mono_ms() + (int64_t)(timeout_s * 1000);
    while (tq_mono_ms() < end) {
        if (access(path, F_OK) == 0) return 1;
        tq_sleep_ms(2);
    }
    return 0;
}

/* Fails when its cancel flag is set (checked every 2 ms). */
static int h_remote_block(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)p;
    (void)n;
    remote_state *s = ud;
    atomic_store(&s->started, 1);
    touch(s->marker);
    for (int i = 0; i < 15000 && !sitq_ctx_cancelled(ctx); i++) tq_sleep_ms(2);
    atomic_store(&s->saw_cancel, sitq_ctx_cancelled(ctx));
    atomic_store(&s->done, 1);
    sitq_ctx_set_error(ctx, "gave up on cancel", NULL);
    return 1;
}

/* Renews its lease by hand until told it was lost, then "succeeds". */
static int h_until_lost(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)p;
    (void)n;
    remote_state *s = ud;
    atomic_store(&s->started, 1);
    touch(s->marker);
    for (int i = 0; i < 1500; i++) {
        if (sitq_ctx_heartbeat(ctx, -1, NULL) == SITQ_ELEASE) {
            atomic_store(&s->got_elease, 1);
            break;
        }
        tq_sleep_ms(20);
    }
    atomic_store(&s->cancelled_after, sitq_ctx_cancelled(ctx));
    sitq_ctx_set_result(ctx, "frozen", 6);
    atomic_store(&s->done, 1);
    return 0;
}

static int h_echo_plain(sitq_task_ctx *ctx, const void *p, size_t n, void *ud) {
    (void)ud;
    sitq_ctx_set_result(ctx, p, n);
    return 0;
}

enum { MODE_ECHO, MODE_BLOCK, MODE_UNTIL_LOST };

/* Child: run a worker until the task is finished (or the handler is done),
 * then report through the exit code. */
static int child_remote(const char *path, sitq_task_id id, int mode, double lease_s,
                        const char *marker) {
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    sitq_worker *w = NULL;
    sitq_error err;
    remote_state s;
    memset(&s, 0, sizeof s);
    s.marker = marker;
    if (tq_open_path(path, NULL, &b, &err) != SITQ_OK) return 50;
    if (sitq_queue_open(b, NULL, &q, &err) != SITQ_OK) return 51;
    sitq_worker_options o;
    tq_worker_opts(&o, 1, 0);
    o.worker_id = mode == MODE_UNTIL_LOST ? "frozen" : "remote";
    o.lease_s = lease_s;
    o.heartbeat_interval_s = 0.05;
    sitq_handler_fn fn = mode == MODE_ECHO    ? h_echo_plain
                         : mode == MODE_BLOCK ? h_remote_block
                                              : h_until_lost;
    if (sitq_worker_create(q, &o, &w, &err) != SITQ_OK ||
        sitq_worker_register(w, "job", fn, &s, &err) != SITQ_OK ||
        sitq_worker_start(w, &err) != SITQ_OK) {
        fprintf(stderr, "child: worker: %s\n", err.message);
        return 52;
    }
    int64_t end = tq_mono_ms() + 60000;
    while (tq_mono_ms() < end) {
        if (mode == MODE_UNTIL_LOST) {
            if (atomic_load(&s.done)) break;
        } else {
            sitq_result *r = NULL;
            if (sitq_get_result(q, id, &r, &err) != SITQ_OK) return 53;
            int fin = sitq_status_is_terminal(r->status);
            sitq_result_free(r);
            if (fin) break;
        }
        tq_sleep_ms(5);
    }
    if (sitq_worker_stop(w, 30, &err) != SITQ_OK) return 54;
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);
    sitq_worker_free(w);
    sitq_queue_close(q);
    sitq_backend_close(b);
    if (mode == MODE_BLOCK && !atomic_load(&s.saw_cancel))
        return 7; /* the handler never saw its cancel flag */
    if (mode == MODE_UNTIL_LOST) {
        if (!atomic_load(&s.done)) return 2;
        if (!atomic_load(&s.got_elease))
            return 3; /* sitq_ctx_heartbeat never returned SITQ_ELEASE */
        if (!atomic_load(&s.cancelled_after))
            return 4;               /* sitq_ctx_cancelled was not set after the loss */
        if (ws.lost != 1) return 5; /* the dropped completion was not counted */
    }
    return 0;
}

static sitq_queue *parent_open(tq_env *e) {
    TQ_OK(tq_open_path(e->path, NULL, &e->backend, &tq_err));
    TQ_OK(sitq_queue_open(e->backend, NULL, &e->queue, &tq_err));
    return e->queue;
}

/* sitq_wait sees a completion made by another process (polling). */
static void test_wait_for_other_process(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_task_id id = make_task(e->path, "job", "from-child", 0.2, 0);
    g_child = fork();
    assert_true(g_child >= 0);
    if (g_child == 0) _exit(child_remote(e->path, id, MODE_ECHO, 5, NULL));
    sitq_queue *q = parent_open(e);
    sitq_result *r = tq_wait_done(q, id, 30);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_string_equal(r->worker_id, "remote");
    assert_int_equal(r->value_len, 10);
    assert_memory_equal(r->value, "from-child", 10);
    sitq_result_free(r);
    int code = reap(g_child, 30);
    g_child = 0;
    assert_int_equal(code, 0);
}

/* PostgreSQL: an idle worker of another backend (another process, as far as
 * the database can tell) whose poll interval is far longer than the test
 * picks up a task as soon as it is enqueued, woken by NOTIFY, and the
 * waiter is woken by the completion. */
static void test_notify_wakes_idle_worker(void **state) {
    if (!tq_backend_is_postgres()) skip();
    tq_env *e = TQ_ENV(state);
    sitq_queue *q = parent_open(e);
    sitq_backend *b2 = NULL;
    sitq_queue *q2 = NULL;
    TQ_OK(tq_open_path(e->path, NULL, &b2, &tq_err));
    TQ_OK(sitq_queue_open(b2, NULL, &q2, &tq_err));
    sitq_worker_options o;
    tq_worker_opts(&o, 1, 0);
    o.poll_interval_s = 3600;
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(q2, &o, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "job", tq_h_echo, NULL, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    for (int i = 0; i < 3; i++) {
        sitq_task_id id = 0;
        TQ_OK(sitq_enqueue(q, "job", "ping", 4, NULL, &id, &tq_err));
        sitq_result *r = tq_wait_done(q, id, 60);
        assert_int_equal(r->status, SITQ_SUCCEEDED);
        assert_int_equal(r->value_len, 4);
        assert_memory_equal(r->value, "ping", 4);
        sitq_result_free(r);
    }
    TQ_OK(sitq_worker_stop(w, 30, &tq_err));
    sitq_worker_free(w);
    sitq_queue_close(q2);
    sitq_backend_close(b2);
}

/* PostgreSQL: completions that make no task ready do not wake the idle
 * workers of other processes. A worker of another backend that handles
 * only "other" stays idle while 100 "job" tasks succeed one per cycle in
 * this one; each of those cycles used to announce tasks ready, and the idle
 * worker ran an empty claim for each (about one write per completion). */
/* 1 once worker w has committed more than n times, 0 after 10 s. */
static int idle_commits_above(sitq_worker *w, int64_t n) {
    for (int64_t end = tq_mono_ms() + 10000; tq_mono_ms() < end; tq_sleep_ms(2)) {
        sitq_worker_stats st;
        sitq_worker_get_stats(w, &st);
        if (st.commits > n) return 1;
    }
    return 0;
}

static void test_success_does_not_wake_idle_worker(void **state) {
    if (!tq_backend_is_postgres()) skip();
    tq_env *e = TQ_ENV(state);
    sitq_queue *q = parent_open(e);
    sitq_backend *b2 = NULL;
    sitq_queue *q2 = NULL;
    TQ_OK(tq_open_path(e->path, NULL, &b2, &tq_err));
    TQ_OK(sitq_queue_open(b2, NULL, &q2, &tq_err));
    sitq_worker_options o;
    tq_worker_opts(&o, 1, 0);
    o.poll_interval_s = 3600;
    o.heartbeat_interval_s = 10; /* no registry writes during the test */
    sitq_worker *idle = NULL;
    TQ_OK(sitq_worker_create(q2, &o, &idle, &tq_err));
    TQ_OK(sitq_worker_register(idle, "other", tq_h_echo, NULL, &tq_err));
    TQ_OK(sitq_worker_start(idle, &tq_err));
    enum { N = 100 };
    sitq_task_spec specs[N];
    sitq_task_id ids[N];
    memset(specs, 0, sizeof specs);
    for (int i = 0; i < N; i++) specs[i].function = "job";
    /* The idle worker's first cycle, then its claim woken by the batch
     * (which finds nothing it handles). */
    sitq_worker_stats before, after;
    assert_true(idle_commits_above(idle, 0));
    sitq_worker_get_stats(idle, &before);
    TQ_OK(sitq_enqueue_batch(q, specs, N, ids, &tq_err));
    assert_true(idle_commits_above(idle, before.commits));
    sitq_worker_get_stats(idle, &before);
    sitq_worker *busy = tq_worker_new(q, 1, 0, "job", tq_h_echo, NULL);
    TQ_OK(sitq_worker_start(busy, &tq_err));
    sitq_result *r = tq_wait_done(q, ids[N - 1], 60);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    sitq_worker_stats bs;
    sitq_worker_get_stats(busy, &bs);
    TQ_OK(sitq_worker_stop(busy, 30, &tq_err));
    sitq_worker_get_stats(idle, &after);
    assert_int_equal(bs.succeeded, N);
    assert_true(bs.commits >= N / 2); /* the completions came in many commits */
    /* lease recovery once a second at most, nothing else */
    int64_t idle_commits = after.commits - before.commits;
    if (idle_commits > 10) fail_msg("the idle worker wrote %lld times", (long long)idle_commits);
    assert_int_equal(after.claimed, 0);
    sitq_worker_free(busy);
    TQ_OK(sitq_worker_stop(idle, 30, &tq_err));
    sitq_worker_free(idle);
    sitq_queue_close(q2);
    sitq_backend_close(b2);
}

/* Succeeds once *ud (an atomic_int) is set; counts its start in g_gate_started. */
static atomic_int g_gate_started;
static int h_gate(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    (void)ctx;
    (void)payload;
    (void)len;
    atomic_fetch_add(&g_gate_started, 1);
    for (int64_t end = tq_mono_ms() + 20000; !atomic_load((atomic_int *)ud) && tq_mono_ms() < end;)
        tq_sleep_ms(1);
    return 0;
}

/* PostgreSQL: a worker in burst mode whose queue holds only a task running
 * in another process ends when that task succeeds, woken by the finished
 * notification (a success that releases nothing announces no ready task),
 * long before its poll. */
static void test_burst_ends_when_other_process_finishes(void **state) {
    if (!tq_backend_is_postgres()) skip();
    tq_env *e = TQ_ENV(state);
    sitq_queue *q = parent_open(e);
    atomic_int open_gate = 0;
    atomic_store(&g_gate_started, 0);
    sitq_worker *runner = tq_worker_new(q, 1, 0, "job", h_gate, &open_gate);
    TQ_OK(sitq_worker_start(runner, &tq_err));
    sitq_task_id id = tq_enqueue(q, "job", NULL);
    for (int64_t end = tq_mono_ms() + 20000; !atomic_load(&g_gate_started) && tq_mono_ms() < end;)
        tq_sleep_ms(1);
    assert_int_equal(atomic_load(&g_gate_started), 1);
    sitq_backend *b2 = NULL;
    sitq_queue *q2 = NULL;
    TQ_OK(tq_open_path(e->path, NULL, &b2, &tq_err));
    TQ_OK(sitq_queue_open(b2, NULL, &q2, &tq_err));
    sitq_worker_options o;
    tq_worker_opts(&o, 1, 0);
    o.poll_interval_s = 3600;
    o.heartbeat_interval_s = 10;
    o.burst = 1;
    sitq_worker *burst = NULL;
    TQ_OK(sitq_worker_create(q2, &o, &burst, &tq_err));
    TQ_OK(sitq_worker_register(burst, "job", tq_h_echo, NULL, &tq_err));
    TQ_OK(sitq_worker_start(burst, &tq_err));
    /* its claim found the task running elsewhere: it waits */
    assert_true(idle_commits_above(burst, 0));
    TQ_ERR(SITQ_ETIMEDOUT, sitq_worker_wait(burst, 0, &tq_err));
    atomic_store(&open_gate, 1);
    sitq_result *r = tq_wait_done(q, id, 30);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    TQ_OK(sitq_worker_wait(burst, 30, &tq_err));
    sitq_worker_stats st;
    sitq_worker_get_stats(burst, &st);
    assert_int_equal(st.claimed, 0);
    TQ_OK(sitq_worker_stop(burst, 30, &tq_err));
    sitq_worker_free(burst);
    TQ_OK(sitq_worker_stop(runner, 30, &tq_err));
    sitq_worker_free(runner);
    sitq_queue_close(q2);
    sitq_backend_close(b2);
}

/* A running task in another process is cancelled through the database. */
static void test_cancel_task_in_other_process(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_task_id id = make_task(e->path, "job", NULL, 0, 3);
    char marker[400];
    snprintf(marker, sizeof marker, "%s/handler-started", e->dir);
    g_child = fork();
    assert_true(g_child >= 0);
    if (g_child == 0) _exit(child_remote(e->path, id, MODE_BLOCK, 5, marker));
    sitq_queue *q = parent_open(e);
    assert_true(wait_marker(marker, 20));
    assert_int_equal(tq_status(q, id), SITQ_RUNNING);
    sitq_status st = (sitq_status)-1;
    TQ_OK(sitq_cancel(q, id, &st, &tq_err));
    assert_int_equal(st, SITQ_RUNNING);
    sitq_result *r = tq_wait_done(q, id, 30);
    assert_int_equal(r->status, SITQ_CANCELLED);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(r->cancel_requested, 1);
    sitq_result_free(r);
    int code = reap(g_child, 30);
    g_child = 0;
    assert_int_equal(code, 0);
}

/* A worker process frozen (SIGSTOP) past its lease: another worker runs the
 * task again; when the frozen one resumes, sitq_ctx_heartbeat says
 * SITQ_ELEASE, its cancel flag is set and its late completion is dropped. */
/* 1 once process pid is stopped (state T in /proc/PID/stat), 0 after 10 s. */
static int wait_stopped(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    for (int64_t end = tq_mono_ms() + 10000; tq_mono_ms() < end; tq_sleep_ms(1)) {
        FILE *f = fopen(path, "r");
        if (!f) return 0;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *close = strrchr(buf, ')');
        if (close && close[1] == ' ' && close[2] == 'T') return 1;
    }
    return 0;
}

/* Stop process pid (SIGSTOP) at a moment when it holds no write lock on the
 * database at path: a probe enqueue with a 200 ms busy timeout succeeds
 * while it is stopped. Returns 1 when it is stopped so, 0 after 50 tries. */
static int freeze_unlocked(const char *path, pid_t pid) {
    sitq_sqlite_options po;
    sitq_sqlite_options_init(&po);
    po.busy_timeout_ms = 200;
    sitq_backend *probe_b = NULL;
    sitq_queue *probe_q = NULL;
    TQ_OK(tq_open_path(path, &po, &probe_b, &tq_err));
    TQ_OK(sitq_queue_open(probe_b, "probe", &probe_q, &tq_err));
    int frozen = 0;
    for (int tries = 0; tries < 50 && !frozen; tries++) {
        kill(pid, SIGSTOP);
        if (!wait_stopped(pid)) break;
        sitq_task_id pid_task;
        if (sitq_enqueue(probe_q, "probe", NULL, 0, NULL, &pid_task, NULL) == SITQ_OK) {
            frozen = 1;
        } else {
            kill(pid, SIGCONT);
            tq_sleep_ms(37); /* let it run on before the next try */
        }
    }
    sitq_queue_close(probe_q);
    sitq_backend_close(probe_b);
    return frozen;
}

static void test_frozen_worker_loses_lease(void **state) {
    tq_env *e = TQ_ENV(state);
    const double lease = 0.8;
    sitq_task_id id = make_task(e->path, "job", "rescued", 0, 1);
    char marker[400];
    snprintf(marker, sizeof marker, "%s/handler-started", e->dir);
    g_child = fork();
    assert_true(g_child >= 0);
    if (g_child == 0) _exit(child_remote(e->path, id, MODE_UNTIL_LOST, lease, marker));
    sitq_queue *q = parent_open(e);
    assert_true(wait_marker(marker, 20));
    assert_int_equal(tq_status(q, id), SITQ_RUNNING);
    /* The attempt counts once its start is recorded (20 ms after it). */
    sitq_result *started = NULL;
    for (int64_t end = tq_mono_ms() + 10000; tq_mono_ms() < end; tq_sleep_ms(5)) {
        sitq_result_free(started);
        started = tq_get(q, id);
        if (started->attempts == 1) break;
    }
    assert_int_equal(started->attempts, 1);
    sitq_result_free(started);

    assert_true(freeze_unlocked(e->path, g_child));

    sitq_worker_options wo;
    tq_worker_opts(&wo, 1, 1);
    wo.worker_id = "rescuer";
    wo.lease_s = lease;
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(q, &wo, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "job", h_echo_plain, NULL, &tq_err));
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_result *r = NULL;
    memset(&tq_err, 0, sizeof tq_err);
    sitq_code c = sitq_wait(q, id, 30, &r, &tq_err);
    kill(g_child, SIGCONT);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    if (c != SITQ_OK)
        fail_msg("rescue: wait -> %s (status %s)", sitq_code_name(c),
                 r ? sitq_status_name(r->status) : "?");
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_int_equal(r->attempts, 2);
    assert_string_equal(r->worker_id, "rescuer");
    sitq_result_free(r);

    int code = reap(g_child, 60);
    g_child = 0;
    if (code != 0)
        fail_msg("frozen child exit code %d (3: no SITQ_ELEASE from heartbeat, 4: cancel flag "
                 "not set, 5: stats.lost != 1; 1 or 66: a sanitizer report, see stderr)",
                 code);
    /* the frozen worker's late success did not overwrite the rescue */
    r = tq_get(q, id);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_int_equal(r->attempts, 2);
    assert_string_equal(r->worker_id, "rescuer");
    assert_int_equal(r->value_len, 7);
    assert_memory_equal(r->value, "rescued", 7);
    sitq_result_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_open_fresh_file, tq_setup_dir,
                                        teardown_kill_child),
        cmocka_unit_test_setup_teardown(test_processes_and_threads_claim_once, tq_setup_dir,
                                        teardown_kill_child),
        cmocka_unit_test_setup_teardown(test_processes_claim_once_rollback_journal, tq_setup_dir,
                                        teardown_kill_child),
        cmocka_unit_test_setup_teardown(test_kill9_then_recovered, tq_setup_dir,
                                        teardown_kill_child),
        cmocka_unit_test_setup_teardown(test_kill9_no_retries_fails_lost, tq_setup_dir,
                                        teardown_kill_child),
        cmocka_unit_test_setup_teardown(test_wait_for_other_process, tq_setup_dir,
                                        teardown_kill_child),
        cmocka_unit_test_setup_teardown(test_notify_wakes_idle_worker, tq_setup_dir,
                                        teardown_kill_child),
        cmocka_unit_test_setup_teardown(test_success_does_not_wake_idle_worker, tq_setup_dir,
                                        teardown_kill_child),
        cmocka_unit_test_setup_teardown(test_burst_ends_when_other_process_finishes, tq_setup_dir,
                                        teardown_kill_child),
        cmocka_unit_test_setup_teardown(test_cancel_task_in_other_process, tq_setup_dir,
                                        teardown_kill_child),
        cmocka_unit_test_setup_teardown(test_frozen_worker_loses_lease, tq_setup_dir,
                                        teardown_kill_child),
    };
    return cmocka_run_group_tests_name("multiprocess", tests, NULL, NULL);
}
