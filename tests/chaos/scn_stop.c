/* scn_stop.c - scenario "stop": --kills rounds, each of one task (held
 * HOLD_MS by its handler) whose worker is SIGSTOPped once the start of its
 * attempt is recorded, kept stopped until another worker has recovered the
 * task and run it to success, then resumed with SIGCONT.
 *
 * Verdict per round: the task succeeded once, run by another worker within
 * its lease plus a margin; the stopped worker's late success is dropped
 * (its commit reports it not applied) and changes nothing: same state,
 * result (the other worker's pid), finish time and attempts. Then the
 * common counts (xcheck.c) over every round's task.
 *
 * The worker is stopped only while none of its PostgreSQL connections is
 * inside a transaction: a process stopped there holds its row locks, and
 * the others then wait lock_timeout (30 s) before they give up with
 * SITQ_EBUSY, which is that bound's own test, not a lease's. */
#include "fleet.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOLD_MS "600"

/* pid of the first line "KIND ID ..." of the log whose pid is not
 * `except` and, unless 0, is `only` (S/E: "KIND ID ATTEMPT PID"; C: "KIND
 * ID PID APPLIED", then *applied receives APPLIED); 0 when there is none. */
static pid_t find_line(const char *log, char kind, sitq_task_id id, pid_t except, pid_t only,
                       int *applied) {
    char *text = chaos_read_file(log, NULL);
    pid_t found = 0;
    for (char *p = text; p && *p && !found; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        char k;
        long long tid, a, b;
        if (sscanf(p, "%c %lld %lld %lld", &k, &tid, &a, &b) != 4 || k != kind || tid != id)
            continue;
        pid_t pid = (pid_t)(kind == 'C' ? a : b);
        if (pid == except || (only && pid != only)) continue;
        found = pid;
        if (applied) *applied = (int)b;
    }
    free(text);
    return found;
}

/* The task's current state; exits the harness when it cannot be read. */
static sitq_result *get(sitq_queue *q, sitq_task_id id) {
    sitq_result *r = NULL;
    sitq_error err;
    if (sitq_get_result(q, id, &r, &err) != SITQ_OK)
        chaos_die("get %" PRId64 ": %s", (int64_t)id, err.message);
    return r;
}

/* Wait until the task's attempt is recorded as started and return the pid
 * running it, or 0 at the deadline. */
static pid_t wait_started(sitq_queue *q, const char *log, sitq_task_id id, int64_t deadline) {
    while (chaos_mono_ms() < deadline) {
        pid_t pid = find_line(log, 'S', id, 0, 0, NULL);
        sitq_result *r = pid ? get(q, id) : NULL;
        int started = r && r->attempts >= 1 && r->started_at_us > 0;
        sitq_result_free(r);
        if (started) return pid;
        chaos_sleep_ms(5);
    }
    return 0;
}

/* SIGSTOP worker slot i outside any transaction of its connections;
 * returns 1 when stopped while the task still runs, 0 when its handler
 * ended first (the round is void). *tries counts the attempts. */
static int stop_outside_tx(const chaos_opts *o, chaos_fleet *fl, int i, const char *log,
                           sitq_task_id id, int64_t *tries) {
    char app[32];
    snprintf(app, sizeof app, "chaos_w%d", fl->logno[i]);
    for (;;) {
        chaos_signal(fl->pids[i], SIGSTOP);
        if (find_line(log, 'E', id, 0, 0, NULL)) {
            chaos_signal(fl->pids[i], SIGCONT);
            return 0;
        }
        if (!chaos_is_pg(o->db)) return 1;
        chaos_sleep_ms(20); /* a statement in flight reaches its end */
        if (chaos_pg_count(o,
                           "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 "
                           "AND xact_start IS NOT NULL",
                           app) == 0)
            return 1;
        ++*tries;
        chaos_signal(fl->pids[i], SIGCONT);
        chaos_sleep_ms((int)(*tries % 7));
    }
}

/* Figures of the rounds beyond the common ones. */
typedef struct stop_figs {
    int64_t rounds, void_rounds, tries, recover_max_ms;
} stop_figs;

/* Wait until the task is finished; NULL at the deadline. */
static sitq_result *wait_finished(sitq_queue *q, sitq_task_id id, int64_t deadline) {
    while (chaos_mono_ms() < deadline) {
        sitq_result *r = get(q, id);
        if (sitq_status_is_terminal(r->status)) return r;
        sitq_result_free(r);
        chaos_sleep_ms(10);
    }
    return NULL;
}

/* The late completion of stopped pid a changed nothing of won. */
static void check_unchanged(sitq_queue *q, const sitq_result *won, pid_t a, chaos_figures *f) {
    sitq_result *now = get(q, won->id);
    if (now->status != won->status || now->attempts != won->attempts ||
        now->finished_at_us != won->finished_at_us || now->value_len != won->value_len ||
        (now->value_len && memcmp(now->value, won->value, now->value_len) != 0)) {
        f->bad++;
        chaos_log("task %" PRId64 " changed after stopped worker %d resumed", (int64_t)won->id,
                  (int)a);
    }
    sitq_result_free(now);
}

/* Stopped worker a's task was won by another: its result names that pid. */
static void check_winner(const sitq_result *won, pid_t a, const char *log, chaos_figures *f) {
    char buf[16] = "";
    if (won->value && won->value_len < sizeof buf) memcpy(buf, won->value, won->value_len);
    pid_t b = (pid_t)atoi(buf);
    if (won->status != SITQ_SUCCEEDED || b == a || b == 0 ||
        find_line(log, 'E', won->id, a, b, NULL) != b) {
        f->bad++;
        chaos_log("task %" PRId64 " ended %s with result '%s' (stopped worker %d)",
                  (int64_t)won->id, sitq_status_name(won->status), buf, (int)a);
    }
}

/* One round on task id; returns 0 when it was void (the handler ended
 * before the worker could be stopped outside a transaction). */
static int one_round(const chaos_opts *o, sitq_queue *q, chaos_fleet *fl, sitq_task_id id,
                     chaos_figures *f, stop_figs *sf) {
    int64_t deadline = chaos_mono_ms() + (int64_t)((o->lease_s + 30) * 1000);
    pid_t a = wait_started(q, fl->xlog, id, deadline);
    int slot = -1;
    for (int i = 0; a && i < fl->n; i++)
        if (fl->pids[i] == a) slot = i;
    if (slot < 0) chaos_die("task %" PRId64 " did not start under a worker", (int64_t)id);
    if (!stop_outside_tx(o, fl, slot, fl->xlog, id, &sf->tries)) return 0;
    chaos_xlog_mark(fl->xlog, 'P', a);
    int64_t t_stop = chaos_mono_ms();
    sitq_result *won = wait_finished(q, id, deadline);
    int64_t recovered = chaos_mono_ms() - t_stop;
    if (recovered > sf->recover_max_ms) sf->recover_max_ms = recovered;
    chaos_signal(a, SIGCONT);
    /* Recovered within its lease and the margin, then run (HOLD_MS). */
    if (won && recovered > (int64_t)((o->lease_s + CHAOS_LEASE_MARGIN_S) * 1000) + atoi(HOLD_MS)) {
        f->stuck++;
        chaos_log("task %" PRId64 " took %.1f s to finish after its worker stopped", (int64_t)id,
                  (double)recovered / 1000);
    }
    if (!won) {
        f->stuck++;
        chaos_log("task %" PRId64 " not finished %.0f s after its worker stopped", (int64_t)id,
                  (double)recovered / 1000);
        return 1;
    }
    check_winner(won, a, fl->xlog, f);
    /* The resumed worker reports its late success dropped. */
    int applied = -1;
    while (!find_line(fl->xlog, 'C', id, 0, a, &applied) && chaos_mono_ms() < deadline)
        chaos_sleep_ms(10);
    if (applied != 0) {
        f->bad++;
        chaos_log("stopped worker %d: late success of task %" PRId64 " %s", (int)a, (int64_t)id,
                  applied < 0 ? "never reported" : "applied");
    }
    check_unchanged(q, won, a, f);
    sitq_result_free(won);
    return 1;
}

int chaos_scn_stop(const chaos_opts *o, chaos_figures *f) {
    if (o->workers < 2) chaos_die("stop needs --workers 2 or more");
    char dir[512], db[1200];
    chaos_mkdtemp(dir, sizeof dir, "stop");
    chaos_target(o, dir, "stop", db, sizeof db);
    sitq_backend *b;
    sitq_queue *q;
    chaos_open(db, &b, &q);
    chaos_fleet fl;
    chaos_fleet_start(&fl, o, FLEET_X, dir, db);
    sitq_task_options to;
    sitq_task_options_init(&to);
    to.max_retries = CHAOS_XRETRIES;
    /* Every round's task is counted, void rounds' (run undisturbed) too. */
    size_t max_rounds = 4 * (size_t)o->kills + 3, n_ids = 0;
    sitq_task_id *ids = calloc(max_rounds, sizeof *ids);
    stop_figs sf = {0, 0, 0, 0};
    sitq_error err;
    while (sf.rounds < o->kills && n_ids < max_rounds) {
        sitq_task_id id;
        if (sitq_enqueue(q, CHAOS_XTASK, HOLD_MS, strlen(HOLD_MS), &to, &id, &err) != SITQ_OK)
            chaos_die("enqueue: %s", err.message);
        ids[n_ids++] = id;
        if (one_round(o, q, &fl, id, f, &sf)) sf.rounds++;
        else sf.void_rounds++;
    }
    int stop_bad = chaos_fleet_finish(&fl);
    size_t n = 0;
    sitq_task_id *all = chaos_xlog_acked(fl.xlog, ids, n_ids, &n);
    f->tasks = (int64_t)n;
    f->kills = sf.rounds;
    int64_t twice = chaos_xcheck(q, all, n, fl.xlog, f);
    f->bad += stop_bad + (sf.rounds < o->kills);
    chaos_extra(f,
                " stops=%" PRId64 " void=%" PRId64 " in_tx_retries=%" PRId64 " recovered_max=%.1fs",
                sf.rounds, sf.void_rounds, sf.tries, (double)sf.recover_max_ms / 1000);
    int ok = f->lost == 0 && f->stuck == 0 && f->bad == 0 && twice == 0;
    free(all);
    free(ids);
    sitq_queue_close(q);
    sitq_backend_close(b);
    if (!o->keep) chaos_rm_rf(dir);
    return ok ? 0 : 1;
}
