/* test_periodic_proof.c - three worker processes and a schedule every
 * second: every tick of a minute is run exactly once (60 runs, no tick
 * skipped or doubled) and no two runs overlap. Takes about a minute.
 *
 * Children are forked while the parent holds no open backend; each runs a
 * worker until the parent closes the gate pipe, and appends one line per
 * run ("task start_us end_us") to a shared log with one write(2) of
 * O_APPEND (atomic for such short lines). */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

enum { WORKERS = 3, RUNS = 60, MAX_LINES = 200 };

static pid_t g_pids[WORKERS];

static int teardown_kill(void **state) {
    for (int i = 0; i < WORKERS; i++)
        if (g_pids[i] > 0 && waitpid(g_pids[i], NULL, WNOHANG) == 0) {
            kill(g_pids[i], SIGKILL);
            waitpid(g_pids[i], NULL, 0);
        }
    return tq_teardown(state);
}

static int run_handler(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    (void)payload;
    (void)len;
    int fd = *(int *)ud;
    sitq_time_us start = sitq_now_us();
    tq_sleep_ms(50); /* the work: short, so that a loaded machine still ends it within its second */
    char line[96];
    int n = snprintf(line, sizeof line, "%lld %lld %lld\n", (long long)sitq_ctx_task_id(ctx),
                     (long long)start, (long long)sitq_now_us());
    return write(fd, line, (size_t)n) == n ? 0 : 1;
}

static int child(const char *path, const char *log, int gate) {
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0600);
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    sitq_worker *w = NULL;
    sitq_error err;
    if (fd < 0 || tq_open_path(path, NULL, &b, &err) || sitq_queue_open(b, NULL, &q, &err))
        return 10;
    sitq_worker_options o;
    tq_worker_opts(&o, 2, 0);
    if (sitq_worker_create(q, &o, &w, &err) ||
        sitq_worker_register(w, "tick", run_handler, &fd, &err) || sitq_worker_start(w, &err)) {
        fprintf(stderr, "child: %s\n", err.message);
        return 11;
    }
    char c;
    while (read(gate, &c, 1) < 0 && errno == EINTR) {}
    int rc = sitq_worker_stop(w, 30, &err) ? 12 : 0;
    sitq_worker_free(w);
    sitq_queue_close(q);
    sitq_backend_close(b);
    close(fd);
    return rc;
}

typedef struct run {
    long long id, start, end;
} run;

static int by_start(const void *a, const void *b) {
    const run *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

/* Store the schedule just after a second began, so that its first tick is a
 * second away: time for the workers to start and read it. Opened and closed
 * here, before the fork; on PostgreSQL this also names the test's schema
 * that the children open. Returns the first tick. */
static sitq_time_us add_schedule(const char *path) {
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    TQ_OK(tq_open_path(path, NULL, &b, &tq_err));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    sitq_schedule_spec sp;
    sitq_schedule_spec_init(&sp);
    sp.every_s = 1;
    sp.function = "tick";
    sitq_time_us first = 0;
    tq_sleep_ms((int)((1000000 - sitq_now_us() % 1000000) / 1000) + 5);
    TQ_OK(sitq_schedule_add(q, "every-second", &sp, &first, &tq_err));
    sitq_queue_close(q);
    sitq_backend_close(b);
    return first;
}

/* Each of the n_tasks tasks ran once (one line each), and no two runs
 * overlapped. */
static void check_runs(const char *log, int64_t n_tasks, sitq_time_us first) {
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    run runs[MAX_LINES];
    int n = 0;
    while (n < MAX_LINES &&
           fscanf(f, "%lld %lld %lld", &runs[n].id, &runs[n].start, &runs[n].end) == 3)
        n++;
    fclose(f);
    assert_int_equal(n, n_tasks);
    qsort(runs, (size_t)n, sizeof runs[0], by_start);
    for (int i = 1; i < n; i++) {
        for (int j = 0; j < i; j++) assert_true(runs[j].id != runs[i].id);
        if (runs[i].start < runs[i - 1].end)
            fail_msg("runs of tasks %lld and %lld overlap", runs[i - 1].id, runs[i].id);
    }
    print_message("%d runs, the first %lld us after the first tick\n", n,
                  n ? runs[0].start - first : 0);
}

static void test_sixty_ticks_three_processes(void **state) {
    tq_env *e = TQ_ENV(state);
    char log[400];
    snprintf(log, sizeof log, "%s/runs.log", e->dir);
    sitq_time_us first = add_schedule(e->path);
    int gate[2];
    assert_int_equal(pipe(gate), 0);
    for (int i = 0; i < WORKERS; i++) {
        g_pids[i] = fork();
        assert_true(g_pids[i] >= 0);
        if (g_pids[i] == 0) {
            close(gate[1]);
            _exit(child(e->path, log, gate[0]));
        }
    }
    close(gate[0]);
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    TQ_OK(tq_open_path(e->path, NULL, &b, &tq_err));
    TQ_OK(sitq_queue_open(b, NULL, &q, &tq_err));
    /* The minute: until RUNS tasks succeeded, then no more ticks. */
    int reached = tq_poll_count(q, SITQ_SUCCEEDED, RUNS, 150);
    TQ_OK(sitq_schedule_pause(q, "every-second", &tq_err));
    close(gate[1]);
    for (int i = 0; i < WORKERS; i++) {
        int status = 0;
        assert_int_equal(waitpid(g_pids[i], &status, 0), g_pids[i]);
        g_pids[i] = 0;
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_true(reached);
    sitq_schedule **items = NULL;
    size_t n_items = 0;
    TQ_OK(sitq_schedule_list(b, NULL, &items, &n_items, &tq_err));
    assert_int_equal(n_items, 1);
    sitq_time_us last_tick = items[0]->last_tick_us;
    sitq_schedule_free(items[0]);
    free(items);
    /* Every tick from the first to the last handled made exactly one task. */
    int64_t ticks = (last_tick - first) / 1000000 + 1;
    sitq_stats st = tq_stats(q);
    if (st.total != ticks)
        fail_msg("%lld tasks for %lld ticks: a tick was skipped (its previous run had not "
                 "finished within the second) or doubled",
                 (long long)st.total, (long long)ticks);
    assert_true(st.total >= RUNS);
    assert_int_equal(st.count[SITQ_SUCCEEDED], st.total);
    check_runs(log, st.total, first);
    sitq_queue_close(q);
    sitq_backend_close(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sixty_ticks_three_processes, tq_setup_dir,
                                        teardown_kill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
