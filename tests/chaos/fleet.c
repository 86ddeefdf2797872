/* fleet.c - worker processes of a chaos run: start, SIGKILL, restart, stop. */
#include "fleet.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t start_one(chaos_fleet *f) {
    const chaos_opts *o = f->o;
    char logp[700], conc[32], lease[32];
    /* Each worker's own application_name, so that the harness can find
     * its PostgreSQL backends (pg_stat_activity). */
    static char app[FLEET_MAX_WORKERS][32];
    char *app_env = app[f->started % FLEET_MAX_WORKERS];
    snprintf(app_env, sizeof app[0], "PGAPPNAME=chaos_w%d", f->started);
    snprintf(logp, sizeof logp, "%s/worker-%d.log", f->dir, f->started++);
    snprintf(conc, sizeof conc, "%d", o->concurrency);
    snprintf(lease, sizeof lease, "%g", o->lease_s);
    if (f->kind == FLEET_X) {
        char *argv[] = {(char *)o->self, "--role", "x-worker", f->db, conc, lease, f->xlog, NULL};
        char *env[] = {app_env, NULL};
        return chaos_spawn(argv, NULL, logp, env);
    }
    if (f->kind == FLEET_PYTHON) {
        static char pp[1200];
        snprintf(pp, sizeof pp, "PYTHONPATH=%s", o->pythonpath);
        char *env[] = {pp, "PYTHONDONTWRITEBYTECODE=1", app_env, NULL};
        char *argv[] = {(char *)o->python,
                        "-m",
                        "sitq",
                        "worker",
                        f->db,
                        "--threads",
                        conc,
                        "--lease",
                        lease,
                        "--poll-interval",
                        "0.02",
                        "--path",
                        (char *)o->tasks_dir,
                        NULL};
        return chaos_spawn(argv, NULL, logp, env);
    }
    char *argv[] = {(char *)o->sitq, "worker", f->db,    "--concurrency", conc,
                    "--lease",       lease,    "--poll", "0.02",          NULL};
    char *env[] = {app_env, NULL};
    return chaos_spawn(argv, NULL, logp, env);
}

void chaos_fleet_start(chaos_fleet *f, const chaos_opts *o, int kind, const char *dir,
                       const char *db) {
    memset(f, 0, sizeof *f);
    f->o = o;
    f->kind = kind;
    snprintf(f->dir, sizeof f->dir, "%s", dir);
    snprintf(f->xlog, sizeof f->xlog, "%s/runs.log", dir);
    snprintf(f->db, sizeof f->db, "%s", db);
    f->n = o->workers < FLEET_MAX_WORKERS ? o->workers : FLEET_MAX_WORKERS;
    for (int i = 0; i < f->n; i++) {
        f->logno[i] = f->started;
        f->pids[i] = start_one(f);
    }
}

void chaos_fleet_kill(chaos_fleet *f, int i) {
    pid_t pid = f->pids[i];
    kill(pid, SIGKILL);
    if (!chaos_wait(pid, chaos_mono_ms() + 10000, NULL))
        chaos_log("worker %d survived SIGKILL for 10 s", (int)pid);
    else if (f->kind == FLEET_X) chaos_xlog_mark(f->xlog, 'K', pid);
    if (f->n_killed < FLEET_MAX_KILLS) {
        f->killed_ms[f->n_killed] = chaos_mono_ms();
        f->killed[f->n_killed++] = pid;
    }
    f->logno[i] = f->started;
    f->pids[i] = start_one(f);
}

int64_t chaos_fleet_killed_at(const chaos_fleet *f, pid_t pid) {
    for (size_t i = 0; i < f->n_killed; i++)
        if (f->killed[i] == pid) return f->killed_ms[i];
    return -1;
}

int chaos_fleet_revive(chaos_fleet *f) {
    int n = 0;
    for (int i = 0; i < f->n; i++)
        if (!chaos_alive(f->pids[i])) {
            int st = 0;
            chaos_wait(f->pids[i], 0, &st);
            chaos_log("worker %d exited on its own (%s): restarting", (int)f->pids[i],
                      chaos_status_text(st));
            /* A worker that cannot start at all would be restarted forever. */
            if (++f->revived > 3 * f->n + 10) {
                chaos_fleet_dump_logs(f, 10);
                chaos_die("workers keep exiting on their own (%d restarts)", f->revived);
            }
            f->logno[i] = f->started;
            f->pids[i] = start_one(f);
            n++;
        }
    return n;
}

/* Whether worker i logged that it serves its queue: before that (a Python
 * interpreter still starting) SIGTERM's default action may end it, which
 * is no defect: it held nothing. */
static int fleet_serving(const chaos_fleet *f, int i) {
    char logp[700];
    snprintf(logp, sizeof logp, "%s/worker-%d.log", f->dir, f->logno[i]);
    char *text = chaos_read_file(logp, NULL);
    int serving = text && (strstr(text, "serving queue") || strstr(text, "started on queue"));
    free(text);
    return serving;
}

int chaos_fleet_stop(chaos_fleet *f, int grace_ms) {
    int bad = 0;
    for (int i = 0; i < f->n; i++)
        if (chaos_alive(f->pids[i])) kill(f->pids[i], SIGTERM);
    for (int i = 0; i < f->n; i++) {
        int st = chaos_stop(f->pids[i], grace_ms, 0);
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM && !fleet_serving(f, i)) continue;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            chaos_log("worker %d (log %s/worker-%d.log) ended with %s after SIGTERM",
                      (int)f->pids[i], f->dir, f->logno[i], chaos_status_text(st));
            bad++;
        }
    }
    return bad;
}

static int cmp_pid(const void *a, const void *b) {
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

void chaos_fleet_sort_killed(chaos_fleet *f) {
    qsort(f->killed, f->n_killed, sizeof *f->killed, cmp_pid);
}

static int cmp_id(const void *a, const void *b) {
    sitq_task_id x = *(const sitq_task_id *)a, y = *(const sitq_task_id *)b;
    return (x > y) - (x < y);
}

void chaos_fleet_log_starts(const chaos_fleet *f, const sitq_task_id *ids, size_t n, int *counts) {
    memset(counts, 0, n * sizeof *counts);
    for (int w = 0; w < f->started; w++) {
        char logp[700];
        snprintf(logp, sizeof logp, "%s/worker-%d.log", f->dir, w);
        char *text = chaos_read_file(logp, NULL);
        if (!text) continue;
        for (char *p = text; (p = strstr(p, "sitq worker: task ")); p++) {
            long long id;
            int attempt;
            char what[16];
            if (sscanf(p, "sitq worker: task %lld attempt %d: %15[a-z]", &id, &attempt, what) ==
                    3 &&
                strcmp(what, "running") == 0) {
                sitq_task_id key = id;
                sitq_task_id *hit = bsearch(&key, ids, n, sizeof *ids, cmp_id);
                if (hit) counts[hit - ids]++;
            }
        }
        free(text);
    }
}

void chaos_fleet_dump_logs(const chaos_fleet *f, int lines) {
    for (int w = 0; w < f->started; w++) {
        char logp[700];
        snprintf(logp, sizeof logp, "%s/worker-%d.log", f->dir, w);
        size_t len = 0;
        char *text = chaos_read_file(logp, &len);
        if (!text) continue;
        size_t pos = len;
        for (int k = 0; k <= lines && pos > 0; pos--)
            if (text[pos - 1] == '\n') k++;
        fprintf(stderr, "--- tail of %s ---\n%s\n", logp, text + pos);
        free(text);
    }
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int chaos_fleet_drive(chaos_fleet *f, sitq_queue *q, chaos_wal *wal, chaos_rng *rng,
                      int64_t n_tasks) {
    const chaos_opts *o = f->o;
    /* Kill moments: when the number of finished tasks passes random points,
     * so that kills land during the run whatever its speed. */
    int64_t *at = calloc((size_t)o->kills + 1, sizeof *at);
    if (!at) chaos_die("out of memory");
    for (int k = 0; k < o->kills; k++)
        at[k] = (int64_t)((0.02 + 0.88 * chaos_rng_unit(rng)) * (double)n_tasks);
    qsort(at, (size_t)o->kills, sizeof *at, cmp_i64);
    int64_t deadline = chaos_mono_ms() + (int64_t)(o->deadline_s * 1000);
    int next = 0, timed_out = 0;
    for (;;) {
        chaos_wal_sample(wal);
        int64_t finished = 0;
        sitq_error err;
        int64_t left = chaos_unfinished(q, &finished, &err);
        if (left < 0) chaos_log("stats failed: %s", err.message);
        if (left == 0) break;
        if (next < o->kills && finished >= at[next]) {
            chaos_fleet_kill(f, (int)chaos_rng_below(rng, (uint64_t)f->n));
            next++;
        }
        chaos_fleet_revive(f);
        if (chaos_mono_ms() > deadline) {
            timed_out = 1;
            chaos_log("timeout: tasks unfinished after %.0f s", o->deadline_s);
            chaos_dump_unfinished(q, 10);
            break;
        }
        chaos_sleep_ms(10);
    }
    free(at);
    chaos_wal_sample(wal);
    return timed_out;
}

/* Sanitizer reports and crashes in the worker logs. */
static int log_reports(const chaos_fleet *f) {
    int n = 0;
    for (int w = 0; w < f->started; w++) {
        char logp[700];
        snprintf(logp, sizeof logp, "%s/worker-%d.log", f->dir, w);
        char *text = chaos_read_file(logp, NULL);
        if (text && (strstr(text, "Sanitizer") || strstr(text, "runtime error:") ||
                     strstr(text, "Traceback (most recent call last)"))) {
            chaos_log("report in %s:", logp);
            fprintf(stderr, "%.4000s\n", text);
            n++;
        }
        free(text);
    }
    return n;
}

int chaos_fleet_finish(chaos_fleet *f) {
    int bad = chaos_fleet_stop(f, 20000);
    /* A worker that exited on its own crashed or gave up: a defect too. */
    bad += f->revived + log_reports(f);
    /* Commands of killed workers run on: wait until they have all ended. */
    if (chaos_wait_no_children(chaos_mono_ms() + 30000)) {
        chaos_log("processes still running 30 s after the workers stopped");
        bad++;
    }
    /* A command whose worker died before the command read its parent pid
     * names the harness (the subreaper) as its parent. */
    if (f->n_killed < FLEET_MAX_KILLS) f->killed[f->n_killed++] = getpid();
    chaos_fleet_sort_killed(f);
    return bad;
}
