/* scn_pg.c - the counted scenarios (x-worker processes whose every
 * execution and committed outcome is logged; role_x.c), meant for a
 * PostgreSQL server given with --db (a SQLite file otherwise):
 *
 *   contention  --workers x --concurrency handler threads on --tasks no-op
 *               tasks, nothing disturbed: each task ran exactly once
 *   kill        as contention, a worker SIGKILLed each time the number of
 *               finished tasks passes one of --kills random points
 *   pgterm      as contention, every 10-50 ms pg_terminate_backend of the
 *               worker connections running COMMIT (every tenth time: of all
 *               the connections of one worker) while the workers drain
 *   pgrestart   --producers enqueueing for --duration seconds beside the
 *               workers, the server restarted --kills times with
 *               `pg_ctl -m immediate restart`, spread over that time and
 *               each at least a lease after the previous one
 *
 * Verdict: every acknowledged task succeeded; none lost, none whose success
 * was applied twice, no (task, attempt) held by two live processes at
 * once, none run twice unless a run's worker was killed, none left running
 * (by one worker) longer than its lease plus CHAOS_LEASE_MARGIN_S, none unfinished
 * at the deadline. */
#include "fleet.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { X_CONTENTION, X_KILL, X_PGTERM, X_PGRESTART };

/* A running task as last sampled: since when it has been running under
 * the same worker. */
typedef struct seen {
    sitq_task_id id;
    uint64_t worker; /* hash of its worker id */
    int64_t since_ms;
    int counted;
} seen;

typedef struct xrun {
    const chaos_opts *o;
    int mode;
    char dir[512], db[1200];
    sitq_queue *q;
    chaos_fleet fleet;
    chaos_rng rng;
    int64_t *at;         /* kill/restart points */
    int next;            /* next point */
    int64_t disruptions; /* kills, terminated backends or restarts */
    int64_t at_commit;   /* pgterm: backends terminated while running COMMIT */
    int ticks;           /* pgterm: terminations tried */
    int64_t next_act_ms; /* pgterm: next termination */
    pid_t *producers;    /* pgrestart */
    int64_t t0;          /* start of the drive, ms */
    int64_t *down_from;  /* pgrestart: each restart's span (the server down), ms */
    int64_t *down_to;
    seen *seen; /* running tasks of the last sample, by id */
    size_t n_seen;
    int64_t next_sample_ms, max_running_ms, stale;
} xrun;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int cmp_seen(const void *a, const void *b) {
    sitq_task_id x = ((const seen *)a)->id, y = ((const seen *)b)->id;
    return (x > y) - (x < y);
}

/* The moment from which a task running under worker_id (host:pid:...)
 * since since_ms is measured: its worker's death when it was killed
 * later (a lease is renewed until then). */
static int64_t held_from(const xrun *r, const char *worker_id, int64_t since_ms) {
    const char *p = worker_id ? strchr(worker_id, ':') : NULL;
    int64_t killed = p ? chaos_fleet_killed_at(&r->fleet, (pid_t)atoi(p + 1)) : -1;
    return killed > since_ms ? killed : since_ms;
}

/* How long the server was down (being restarted) between from_ms and
 * to_ms. */
static int64_t down_between(const xrun *r, int64_t from_ms, int64_t to_ms) {
    int64_t down = 0;
    for (int i = 0; i < r->next && r->down_from; i++) {
        int64_t a = r->down_from[i] > from_ms ? r->down_from[i] : from_ms;
        int64_t b = r->down_to[i] < to_ms ? r->down_to[i] : to_ms;
        if (b > a) down += b - a;
    }
    return down;
}

/* Sample the running tasks: one held by the same worker for longer than
 * its lease plus CHAOS_LEASE_MARGIN_S (by a killed worker: since its
 * death) is counted in r->stale. Time the server spent down does not
 * count: no worker can renew a lease then and no recovery can run, so a
 * lease is measured in the server's service (after a restart the engine
 * recovers the leases that had lapsed before it at once, and gives those
 * that lapsed with the server down a lease of service; docs/architecture.md). */
static void sample_running(xrun *r) {
    int64_t now = chaos_mono_ms();
    if (now < r->next_sample_ms) return;
    r->next_sample_ms = now + 250;
    sitq_result **items = NULL;
    size_t n = 0;
    sitq_error err;
    if (sitq_list(r->q, SITQ_RUNNING, 1000000, 0, &items, &n, &err) != SITQ_OK) return;
    seen *next = calloc(n ? n : 1, sizeof *next);
    if (!next) chaos_die("out of memory");
    int64_t limit = (int64_t)((r->o->lease_s + CHAOS_LEASE_MARGIN_S) * 1000);
    for (size_t i = 0; i < n; i++) {
        seen s = {items[i]->id, hash_str(items[i]->worker_id), now, 0};
        seen *old = bsearch(&s, r->seen, r->n_seen, sizeof s, cmp_seen);
        if (old && old->worker == s.worker) {
            s.since_ms = old->since_ms;
            s.counted = old->counted;
        }
        int64_t from = held_from(r, items[i]->worker_id, s.since_ms);
        int64_t age = now - from - down_between(r, from, now);
        if (age > r->max_running_ms) r->max_running_ms = age;
        if (age > limit && !s.counted) {
            s.counted = 1;
            r->stale++;
            chaos_log("task %" PRId64 " running under %s for %.1f s (lease %.1f s)", (int64_t)s.id,
                      items[i]->worker_id, (double)age / 1000, r->o->lease_s);
        }
        next[i] = s;
    }
    sitq_result_list_free(items, n);
    qsort(next, n, sizeof *next, cmp_seen);
    free(r->seen);
    r->seen = next;
    r->n_seen = n;
}

static sitq_task_id *enqueue_x(sitq_queue *q, size_t n) {
    sitq_task_options to;
    sitq_task_options_init(&to);
    to.max_retries = CHAOS_XRETRIES;
    sitq_task_spec *specs = calloc(n ? n : 1, sizeof *specs);
    sitq_task_id *ids = calloc(n ? n : 1, sizeof *ids);
    if (!specs || !ids) chaos_die("out of memory");
    for (size_t i = 0; i < n; i++)
        specs[i] = (sitq_task_spec){
            .function = CHAOS_XTASK, .payload = "0", .payload_len = 1, .options = &to};
    sitq_error err;
    if (n && sitq_enqueue_batch(q, specs, n, ids, &err) != SITQ_OK)
        chaos_die("enqueue_batch: %s", err.message);
    free(specs);
    return ids;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Random points: finished-task counts (kill) or ms into the run (pgrestart). */
static void plan_points(xrun *r, int64_t span) {
    int k = r->o->kills;
    r->at = calloc((size_t)k + 1, sizeof *r->at);
    if (!r->at) chaos_die("out of memory");
    for (int i = 0; i < k; i++)
        r->at[i] = (int64_t)((0.1 + 0.7 * chaos_rng_unit(&r->rng)) * (double)span);
    qsort(r->at, (size_t)k, sizeof *r->at, cmp_i64);
}

/* Restart moments (ms into the run): evenly spread over span, each moved
 * by up to a fifth of the spacing. */
static void plan_restarts(xrun *r, int64_t span) {
    int k = r->o->kills;
    r->at = calloc((size_t)k + 1, sizeof *r->at);
    if (!r->at) chaos_die("out of memory");
    double gap = (double)span / (k + 1);
    for (int i = 0; i < k; i++)
        r->at[i] = (int64_t)(gap * (i + 1) + gap * 0.4 * (chaos_rng_unit(&r->rng) - 0.5));
}

static void start_producers(xrun *r) {
    const chaos_opts *o = r->o;
    char secs[32], errp[600];
    snprintf(secs, sizeof secs, "%g", o->duration_s);
    snprintf(errp, sizeof errp, "%s/producers.err", r->dir);
    r->producers = calloc((size_t)o->producers + 1, sizeof *r->producers);
    if (!r->producers) chaos_die("out of memory");
    for (int i = 0; i < o->producers; i++) {
        char *argv[] = {(char *)o->self, "--role", "x-producer", r->db, secs, r->fleet.xlog, NULL};
        r->producers[i] = chaos_spawn(argv, NULL, errp, NULL);
    }
}

static int producers_running(const xrun *r) {
    int n = 0;
    for (int i = 0; r->producers && i < r->o->producers; i++) n += chaos_alive(r->producers[i]);
    return n;
}

/* pgterm's blow: mostly every worker connection that is running COMMIT
 * (its answer may be lost after the commit); every tenth time all the
 * connections of one worker, whatever they are doing. */
static void terminate(xrun *r) {
    int64_t n;
    if (++r->ticks % 10 == 0) {
        char app[32];
        int i = (int)chaos_rng_below(&r->rng, (uint64_t)r->fleet.n);
        snprintf(app, sizeof app, "chaos_w%d", r->fleet.logno[i]);
        n = chaos_pg_terminate(r->o, app);
    } else {
        n = chaos_pg_count(r->o,
                           "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                           "FROM pg_stat_activity WHERE application_name LIKE 'chaos_w%' "
                           "AND state = 'active' AND query = 'COMMIT'",
                           NULL);
        if (n > 0) r->at_commit += n;
    }
    if (n > 0) r->disruptions += n;
}

/* The scenario's disturbance, called between samples. */
static void act(xrun *r, int64_t finished) {
    const chaos_opts *o = r->o;
    int64_t now = chaos_mono_ms();
    if (r->mode == X_KILL && r->next < o->kills && finished >= r->at[r->next]) {
        chaos_fleet_kill(&r->fleet, (int)chaos_rng_below(&r->rng, (uint64_t)r->fleet.n));
        r->next++;
        r->disruptions++;
    } else if (r->mode == X_PGTERM && now >= r->next_act_ms) {
        terminate(r);
        r->next_act_ms = now + 10 + (int64_t)chaos_rng_below(&r->rng, 40);
    } else if (r->mode == X_PGRESTART && r->next < o->kills && now - r->t0 >= r->at[r->next] &&
               now >= r->next_act_ms) {
        int64_t t = chaos_mono_ms();
        if (chaos_pg_restart(r->dir) != 0) chaos_die("cannot restart the server");
        r->down_from[r->next] = t;
        r->down_to[r->next] = chaos_mono_ms();
        chaos_log("server restarted in %.1f s", (double)(r->down_to[r->next] - t) / 1000);
        r->next++;
        r->disruptions++;
        /* A whole lease of service before the next one: the workers renew
         * their leases in it, so that none may lapse and no task may run
         * twice (the lease outlasts one restart, not two in a row). */
        r->next_act_ms = chaos_mono_ms() + (int64_t)(o->lease_s * 1000);
    }
}

/* Run until every task is finished (and the producers are done) or the
 * deadline passes; returns 1 on timeout. */
static int drive(xrun *r) {
    const chaos_opts *o = r->o;
    r->t0 = chaos_mono_ms();
    int64_t deadline =
        r->t0 + (int64_t)((o->deadline_s + (r->producers ? o->duration_s : 0)) * 1000);
    for (;;) {
        int64_t finished = 0;
        sitq_error err;
        int64_t left = chaos_unfinished(r->q, &finished, &err);
        int producing = producers_running(r);
        if (left == 0 && !producing && r->next >= (r->mode == X_PGRESTART ? o->kills : 0)) break;
        act(r, finished);
        chaos_fleet_revive(&r->fleet);
        sample_running(r);
        if (chaos_mono_ms() > deadline) {
            chaos_log("timeout: tasks unfinished after %.0f s", o->deadline_s);
            chaos_dump_unfinished(r->q, 10);
            return 1;
        }
        chaos_sleep_ms(10);
    }
    return 0;
}

/* Set up r: its directory, schema, tasks, workers and disturbance plan. */
static void setup(xrun *r, const chaos_opts *o, int mode, const char *tag, sitq_backend **b) {
    memset(r, 0, sizeof *r);
    r->o = o;
    r->mode = mode;
    chaos_rng_seed(&r->rng, o->seed);
    chaos_mkdtemp(r->dir, sizeof r->dir, tag);
    chaos_target(o, r->dir, tag, r->db, sizeof r->db);
    chaos_open(r->db, b, &r->q);
    chaos_fleet_start(&r->fleet, o, FLEET_X, r->dir, r->db);
    if (mode == X_KILL) plan_points(r, o->tasks);
    if (mode == X_PGRESTART) {
        r->down_from = calloc((size_t)o->kills + 1, sizeof *r->down_from);
        r->down_to = calloc((size_t)o->kills + 1, sizeof *r->down_to);
        if (!r->down_from || !r->down_to) chaos_die("out of memory");
        plan_restarts(r, (int64_t)(o->duration_s * 1000));
        start_producers(r);
    }
}

static int run(const chaos_opts *o, chaos_figures *f, int mode, const char *tag) {
    if (mode >= X_PGTERM && !chaos_is_pg(o->db)) {
        fprintf(stderr, "sitq_chaos %s: needs --db postgresql://...: skipped\n", tag);
        return 77;
    }
    if (mode == X_PGRESTART && !chaos_pg_can_restart()) {
        fprintf(stderr,
                "sitq_chaos %s: SITQ_TEST_PGDATA and SITQ_TEST_PGBIN (with_pg.sh) "
                "are not set: skipped\n",
                tag);
        return 77;
    }
    xrun r;
    sitq_backend *b;
    setup(&r, o, mode, tag, &b);
    size_t n_initial = mode == X_PGRESTART ? 0 : (size_t)o->tasks;
    sitq_task_id *initial = enqueue_x(r.q, n_initial);
    int timed_out = drive(&r);
    f->kills = r.disruptions;
    int stop_bad = chaos_fleet_finish(&r.fleet);
    size_t n = 0;
    sitq_task_id *ids = chaos_xlog_acked(r.fleet.xlog, initial, n_initial, &n);
    f->tasks = (int64_t)n;
    int64_t twice = chaos_xcheck(r.q, ids, n, r.fleet.xlog, f);
    f->stuck += r.stale;
    f->bad += stop_bad + (timed_out && f->stuck == 0);
    chaos_extra(f, " max_running=%.1fs workers=%dx%d", (double)r.max_running_ms / 1000, r.fleet.n,
                o->concurrency);
    if (mode == X_PGTERM) chaos_extra(f, " at_commit=%" PRId64, r.at_commit);
    if (mode == X_CONTENTION && (f->run_twice || f->kills)) f->bad++;
    int ok =
        f->lost == 0 && f->stuck == 0 && f->twice_unexplained == 0 && f->bad == 0 && twice == 0;
    if (!ok) chaos_fleet_dump_logs(&r.fleet, 5);
    free(ids);
    free(initial);
    free(r.at);
    free(r.seen);
    free(r.down_from);
    free(r.down_to);
    free(r.producers);
    sitq_queue_close(r.q);
    sitq_backend_close(b);
    if (!o->keep) chaos_rm_rf(r.dir);
    return ok ? 0 : 1;
}

int chaos_scn_contention(const chaos_opts *o, chaos_figures *f) {
    return run(o, f, X_CONTENTION, "contention");
}

int chaos_scn_kill(const chaos_opts *o, chaos_figures *f) { return run(o, f, X_KILL, "kill"); }

int chaos_scn_pgterm(const chaos_opts *o, chaos_figures *f) {
    return run(o, f, X_PGTERM, "pgterm");
}

int chaos_scn_pgrestart(const chaos_opts *o, chaos_figures *f) {
    return run(o, f, X_PGRESTART, "pgrestart");
}
