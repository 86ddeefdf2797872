/* scn_kill.c - scenarios "shell" and "python": thousands of tasks through
 * several worker processes, some SIGKILLed at random moments, every
 * execution counted.
 *
 * Verdict: every task finished; none lost (missing, or succeeded without
 * running); none ran to its end twice unless a run's worker was killed; none
 * failed without having started as many times as its attempts allow (a task
 * claimed ahead by a killed worker but never started must run again). */
#include "fleet.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sitq_task_id *enqueue_shell(sitq_queue *q, const chaos_opts *o, const char *log,
                                   chaos_rng *rng) {
    size_t n = (size_t)o->tasks;
    sitq_task_spec *specs = calloc(n, sizeof *specs);
    char **payloads = calloc(n, sizeof *payloads);
    sitq_task_id *ids = calloc(n, sizeof *ids);
    if (!specs || !payloads || !ids) chaos_die("out of memory");
    for (size_t i = 0; i < n; i++) {
        /* One task in four sleeps 10..50 ms, so that kills find tasks mid-run. */
        char secs[16] = "0";
        if (chaos_rng_below(rng, 4) == 0)
            snprintf(secs, sizeof secs, "0.0%d", 1 + (int)chaos_rng_below(rng, 5));
        size_t len = 0;
        payloads[i] = chaos_shell_payload((int64_t)i, secs, 0, log, &len);
        specs[i] =
            (sitq_task_spec){.function = "shell", .payload = payloads[i], .payload_len = len};
    }
    sitq_error err;
    if (sitq_enqueue_batch(q, specs, n, ids, &err) != SITQ_OK)
        chaos_die("enqueue_batch: %s", err.message);
    for (size_t i = 0; i < n; i++) free(payloads[i]);
    free(payloads);
    free(specs);
    return ids;
}

static sitq_task_id *enqueue_python(const chaos_opts *o, const char *db, const char *log,
                                    const char *dir) {
    char script[1100], count[32], pp[1200], errp[600];
    snprintf(script, sizeof script, "%s/py_enqueue.py", o->tasks_dir);
    snprintf(count, sizeof count, "%d", o->tasks);
    snprintf(pp, sizeof pp, "PYTHONPATH=%s", o->pythonpath);
    snprintf(errp, sizeof errp, "%s/py_enqueue.err", dir);
    char *argv[] = {(char *)o->python, script, (char *)db, count, (char *)log, NULL};
    char *env[] = {pp, "PYTHONDONTWRITEBYTECODE=1", NULL};
    int fd = -1;
    pid_t pid = chaos_spawn_pipe(argv, &fd, errp, env);
    FILE *fp = fdopen(fd, "r");
    sitq_task_id *ids = calloc((size_t)o->tasks, sizeof *ids);
    int n = 0;
    long long id;
    while (n < o->tasks && fscanf(fp, "%lld", &id) == 1) ids[n++] = id;
    fclose(fp);
    int st = 0;
    if (!chaos_wait(pid, chaos_mono_ms() + 120000, &st) || st != 0 || n != o->tasks) {
        char *e = chaos_read_file(errp, NULL);
        chaos_die("python producer: %s, %d of %d ids: %s", chaos_status_text(st), n, o->tasks,
                  e ? e : "");
    }
    return ids;
}

/* Counts of run() beyond the figures. */
typedef struct task_counts {
    int64_t failed, unexpected, never_ran;
} task_counts;

/* Check one task (key: its index) against its runs: s is its stored state,
 * k its runs from the log, logged the starts the fleet logged for it. */
static void check_task(chaos_figures *f, sitq_task_id id, size_t key, const chaos_task_state *s,
                       const chaos_key_runs *k, int logged, task_counts *tc) {
    if (!s->found) {
        f->lost++;
        chaos_log("task %" PRId64 " (key %zu) is missing", (int64_t)id, key);
        return;
    }
    if (!sitq_status_is_terminal(s->status)) f->stuck++;
    if (k->ends == 0) tc->never_ran++;
    if (s->status == SITQ_SUCCEEDED && k->ends == 0) {
        f->lost++;
        chaos_log("task %" PRId64 " succeeded but never ran", (int64_t)id);
    }
    if (k->ends >= 2) f->run_twice++;
    if (k->starts_unkilled >= 2) {
        f->twice_unexplained++;
        chaos_log("task %" PRId64 " started %d times under workers that were not killed",
                  (int64_t)id, k->starts_unkilled);
    }
    if (s->status == SITQ_FAILED) {
        tc->failed++;
        int starts = k->starts > logged ? k->starts : logged;
        if (starts < s->max_retries + 1) {
            f->failed_unstarted++;
            if (f->failed_unstarted <= 5)
                chaos_log("task %" PRId64 " failed after %d real start(s) (attempts %d, "
                          "max_retries %d): %s",
                          (int64_t)id, starts, s->attempts, s->max_retries, s->error);
        }
        if (!strstr(s->error, "lost")) {
            tc->unexpected++;
            chaos_log("task %" PRId64 " failed unexpectedly: %s", (int64_t)id, s->error);
        }
    } else if (s->status == SITQ_CANCELLED) {
        tc->unexpected++;
    }
}

static int run(const chaos_opts *o, chaos_figures *f, int python) {
    char dir[512], db[1200], log[600];
    chaos_mkdtemp(dir, sizeof dir, python ? "python" : "shell");
    chaos_target(o, dir, python ? "python" : "shell", db, sizeof db);
    snprintf(log, sizeof log, "%s/runs.log", dir);
    chaos_rng rng;
    chaos_rng_seed(&rng, o->seed);

    sitq_backend *b;
    sitq_queue *q;
    chaos_open(db, &b, &q);
    sitq_task_id *ids = python ? enqueue_python(o, db, log, dir) : enqueue_shell(q, o, log, &rng);
    size_t n = (size_t)o->tasks;
    f->tasks = (int64_t)n;

    chaos_wal wal;
    chaos_wal_init(&wal, db);
    chaos_fleet fleet;
    chaos_fleet_start(&fleet, o, python, dir, db);
    int timed_out = chaos_fleet_drive(&fleet, q, &wal, &rng, (int64_t)n);
    f->kills = (int64_t)fleet.n_killed;
    f->wal_peak = wal.peak;
    int stop_bad = chaos_fleet_finish(&fleet);

    /* Count. */
    chaos_fleet_sort_killed(&fleet);
    chaos_task_state *st = chaos_read_states(q, ids, n);
    chaos_runlog rl;
    if (chaos_runlog_read(log, &rl) != 0) chaos_die("cannot read %s", log);
    chaos_key_runs *kr = chaos_runlog_count(&rl, n, fleet.killed, fleet.n_killed);
    int *logged = calloc(n, sizeof *logged);
    if (!python) chaos_fleet_log_starts(&fleet, ids, n, logged);
    task_counts tc = {0, 0, 0};
    for (size_t i = 0; i < n; i++) check_task(f, ids[i], i, &st[i], &kr[i], logged[i], &tc);
    f->bad = tc.unexpected + rl.bad_lines + (timed_out && f->stuck == 0) + stop_bad;
    chaos_extra(f, "failed=%" PRId64 " never_ran=%" PRId64 " workers=%d", tc.failed, tc.never_ran,
                fleet.n);
    int ok = f->lost == 0 && f->stuck == 0 && f->twice_unexplained == 0 &&
             f->failed_unstarted == 0 && f->bad == 0;
    if (!ok && f->failed_unstarted == 0 && f->lost == 0) chaos_fleet_dump_logs(&fleet, 5);

    free(logged);
    free(kr);
    chaos_runlog_free(&rl);
    free(st);
    free(ids);
    sitq_queue_close(q);
    sitq_backend_close(b);
    if (!o->keep) chaos_rm_rf(dir);
    return ok ? 0 : 1;
}

int chaos_scn_shell(const chaos_opts *o, chaos_figures *f) { return run(o, f, 0); }

int chaos_scn_python(const chaos_opts *o, chaos_figures *f) { return run(o, f, 1); }
