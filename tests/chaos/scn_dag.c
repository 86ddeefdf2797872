/* scn_dag.c - scenario "dag": a random graph of shell tasks (fan-out hubs,
 * fan-in up to 4, a few tasks that fail on purpose) run by `sitq worker`
 * processes that are SIGKILLed at random moments.
 *
 * Verdict: every final state is the one the graph implies given the final
 * states of the dependencies (a task whose dependencies all succeeded ran
 * and succeeded, or failed by its own exit status or by lost workers after
 * real starts; any other task failed without running), and no task started
 * before every dependency had ended a run (order of the execution log). */
#include "fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAG_MAX_DEPS  5
#define DAG_WINDOW    200 /* dependencies are chosen among the previous tasks */
#define DAG_HUB_EVERY 50

typedef struct dag_node {
    size_t deps[DAG_MAX_DEPS];
    size_t n_deps;
    int fails; /* exits 3: the attempt fails on purpose */
} dag_node;

static void add_dep(dag_node *d, size_t dep) {
    for (size_t k = 0; k < d->n_deps; k++)
        if (d->deps[k] == dep) return;
    if (d->n_deps < DAG_MAX_DEPS) d->deps[d->n_deps++] = dep;
}

static dag_node *make_graph(size_t n, chaos_rng *rng) {
    dag_node *g = calloc(n, sizeof *g);
    if (!g) chaos_die("out of memory");
    for (size_t i = 0; i < n; i++) {
        g[i].fails = chaos_rng_below(rng, 100) < 3;
        if (i == 0) continue;
        size_t lo = i > DAG_WINDOW ? i - DAG_WINDOW : 0;
        size_t fan_in = (size_t)chaos_rng_below(rng, 4); /* 0..3 */
        for (size_t k = 0; k < fan_in; k++)
            add_dep(&g[i], lo + (size_t)chaos_rng_below(rng, i - lo));
        /* Hubs: every DAG_HUB_EVERY-th task is a dependency of many. */
        if (chaos_rng_below(rng, 5) == 0) {
            size_t hub = (i - 1) / DAG_HUB_EVERY * DAG_HUB_EVERY;
            add_dep(&g[i], hub);
        }
    }
    return g;
}

/* Enqueue the graph g of n shell tasks in one batch (each logs its runs
 * to log; a quarter sleep 10-50 ms); returns the ids (malloc'd). */
static sitq_task_id *enqueue_graph(sitq_queue *q, dag_node *g, size_t n, chaos_rng *rng,
                                   const char *log) {
    sitq_task_spec *specs = calloc(n, sizeof *specs);
    char **payloads = calloc(n, sizeof *payloads);
    sitq_task_id *ids = calloc(n, sizeof *ids);
    sitq_task_options topts;
    sitq_task_options_init(&topts);
    topts.max_retries = 1;
    topts.backoff_base_s = 0.01;
    for (size_t i = 0; i < n; i++) {
        char secs[16] = "0";
        if (chaos_rng_below(rng, 4) == 0)
            snprintf(secs, sizeof secs, "0.0%d", 1 + (int)chaos_rng_below(rng, 5));
        size_t len = 0;
        payloads[i] = chaos_shell_payload((int64_t)i, secs, g[i].fails ? 3 : 0, log, &len);
        specs[i] = (sitq_task_spec){.function = "shell",
                                    .payload = payloads[i],
                                    .payload_len = len,
                                    .options = &topts,
                                    .depends_on_index = g[i].deps,
                                    .n_depends_on_index = g[i].n_deps};
    }
    sitq_error err;
    if (sitq_enqueue_batch(q, specs, n, ids, &err) != SITQ_OK)
        chaos_die("enqueue_batch: %s", err.message);
    for (size_t i = 0; i < n; i++) free(payloads[i]);
    free(payloads);
    free(specs);
    return ids;
}

/* The verdict over the final states: inputs and counts. */
typedef struct dag_check {
    const dag_node *g;
    const chaos_task_state *st;
    const chaos_key_runs *kr;
    const int *logged;
    const sitq_task_id *ids;
    int64_t mismatch, early, succeeded, failed_dep, failed_own, failed_lost;
} dag_check;

/* Check task i: its final state is the one its dependencies' states imply,
 * and it did not start before every dependency had ended a run. */
static void check_node(dag_check *dc, chaos_figures *f, size_t i) {
    const chaos_task_state *s = &dc->st[i];
    const chaos_key_runs *k = &dc->kr[i];
    const dag_node *node = &dc->g[i];
    if (!s->found) {
        f->lost++;
        return;
    }
    if (!sitq_status_is_terminal(s->status)) {
        f->stuck++;
        return;
    }
    if (k->ends >= 2) f->run_twice++;
    if (k->starts_unkilled >= 2 && !node->fails) {
        /* A failing task runs max_retries + 1 times by design. */
        f->twice_unexplained++;
        chaos_log("task %" PRId64 " started %d times under workers that were not killed",
                  (int64_t)dc->ids[i], k->starts_unkilled);
    }
    int deps_ok = 1;
    for (size_t d = 0; d < node->n_deps; d++) {
        size_t dep = node->deps[d];
        deps_ok &= dc->st[dep].status == SITQ_SUCCEEDED;
        if (k->first_start >= 0 &&
            (dc->kr[dep].first_end < 0 || k->first_start < dc->kr[dep].first_end)) {
            dc->early++;
            chaos_log("task %" PRId64 " started before its dependency %" PRId64 " ended",
                      (int64_t)dc->ids[i], (int64_t)dc->ids[dep]);
        }
    }
    int starts = k->starts > dc->logged[i] ? k->starts : dc->logged[i];
    const char *why = NULL;
    if (!deps_ok) {
        if (s->status != SITQ_FAILED || starts > 0 || !strstr(s->error, "depend"))
            why = "a dependency did not succeed: expected failed without running";
        else dc->failed_dep++;
    } else if (s->status == SITQ_SUCCEEDED) {
        if (node->fails) why = "its command always exits 3: expected failed";
        else if (k->ends == 0) why = "succeeded without running";
        else dc->succeeded++;
    } else if (s->status == SITQ_FAILED && strstr(s->error, "lost")) {
        dc->failed_lost++;
        if (starts < s->max_retries + 1) {
            f->failed_unstarted++;
            chaos_log("task %" PRId64 " failed after %d real start(s), %d allowed: %s",
                      (int64_t)dc->ids[i], starts, s->max_retries + 1, s->error);
        }
    } else if (s->status == SITQ_FAILED && node->fails && strstr(s->error, "exit status 3")) {
        dc->failed_own++;
    } else {
        why = "unexpected final state";
    }
    if (why) {
        dc->mismatch++;
        chaos_log("task %" PRId64 " (key %zu) is %s (%s), %d start(s): %s", (int64_t)dc->ids[i], i,
                  sitq_status_name(s->status), s->error, starts, why);
    }
}

int chaos_scn_dag(const chaos_opts *o, chaos_figures *f) {
    char dir[512], db[600], log[600];
    chaos_mkdtemp(dir, sizeof dir, "dag");
    snprintf(db, sizeof db, "%s/q.db", dir);
    snprintf(log, sizeof log, "%s/runs.log", dir);
    chaos_rng rng;
    chaos_rng_seed(&rng, o->seed);
    size_t n = (size_t)o->tasks;
    dag_node *g = make_graph(n, &rng);

    sitq_backend *b;
    sitq_queue *q;
    chaos_open(db, &b, &q);
    sitq_task_id *ids = enqueue_graph(q, g, n, &rng, log);
    f->tasks = (int64_t)n;

    chaos_wal wal;
    chaos_wal_init(&wal, db);
    chaos_fleet fleet;
    chaos_fleet_start(&fleet, o, 0, dir, db);
    int timed_out = chaos_fleet_drive(&fleet, q, &wal, &rng, (int64_t)n);
    f->kills = (int64_t)fleet.n_killed;
    f->wal_peak = wal.peak;
    int stop_bad = chaos_fleet_finish(&fleet);

    chaos_task_state *st = chaos_read_states(q, ids, n);
    chaos_runlog rl;
    if (chaos_runlog_read(log, &rl) != 0) chaos_die("cannot read %s", log);
    chaos_key_runs *kr = chaos_runlog_count(&rl, n, fleet.killed, fleet.n_killed);
    int *logged = calloc(n, sizeof *logged);
    chaos_fleet_log_starts(&fleet, ids, n, logged);
    dag_check dc = {.g = g, .st = st, .kr = kr, .logged = logged, .ids = ids};
    for (size_t i = 0; i < n; i++) check_node(&dc, f, i);
    f->bad = dc.mismatch + dc.early + rl.bad_lines + stop_bad + (timed_out && f->stuck == 0);
    chaos_extra(f,
                "succeeded=%" PRId64 " failed_own=%" PRId64 " failed_dep=%" PRId64
                " failed_lost=%" PRId64 " mismatches=%" PRId64 " early_starts=%" PRId64,
                dc.succeeded, dc.failed_own, dc.failed_dep, dc.failed_lost, dc.mismatch, dc.early);
    int ok = f->lost == 0 && f->stuck == 0 && f->twice_unexplained == 0 &&
             f->failed_unstarted == 0 && f->bad == 0;
    free(logged);
    free(kr);
    chaos_runlog_free(&rl);
    free(st);
    free(ids);
    free(g);
    sitq_queue_close(q);
    sitq_backend_close(b);
    if (!o->keep) chaos_rm_rf(dir);
    return ok ? 0 : 1;
}
