/* scn_wal.c - scenario "wal": many processes writing at full speed (load
 * producers enqueueing one task at a time, C workers running no-op tasks)
 * for --duration seconds, with the size of the -wal file sampled.
 *
 * Verdict: the WAL never exceeded --wal-bound-mib; afterwards every
 * acknowledged task ran exactly once (the tasks log their executions) and
 * none is left unfinished. */
#include "chaos.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Stop early past this size, to protect the disk of the machine. */
#define WAL_CEILING (8ll << 30)

/* The load phase of one run: the producers and what they reported. */
typedef struct wal_run {
    const chaos_opts *o;
    pid_t *producers;
    int *fds; /* each producer's report pipe */
    int np;
    int64_t t0, acked, refused, over_at, peak_at; /* ms from t0; over_at -1: never */
    int aborted;                                  /* the WAL reached WAL_CEILING */
} wal_run;

/* Sample the WAL until every producer has ended (or the deadline passed);
 * past WAL_CEILING kill the producers. */
static void watch_producers(wal_run *r, chaos_wal *wal) {
    int64_t deadline = r->t0 + (int64_t)((r->o->duration_s + r->o->deadline_s) * 1000);
    int done = 0;
    while (done < r->np) {
        int64_t size = chaos_wal_sample(wal);
        if (size == wal->peak) r->peak_at = chaos_mono_ms() - r->t0;
        if (r->over_at < 0 && (double)size > r->o->wal_bound_mib * 1048576.0)
            r->over_at = chaos_mono_ms() - r->t0;
        if (size > WAL_CEILING && !r->aborted) {
            chaos_log("WAL at %.1f GiB after %.1f s: stopping the producers",
                      (double)size / (1 << 30), (double)(chaos_mono_ms() - r->t0) / 1000);
            for (int i = 0; i < r->np; i++) chaos_signal(r->producers[i], SIGKILL);
            r->aborted = 1;
        }
        done = 0;
        for (int i = 0; i < r->np; i++) done += !chaos_alive(r->producers[i]);
        if (chaos_mono_ms() > deadline) {
            chaos_log("timeout: producers still running after %.0f s",
                      r->o->duration_s + r->o->deadline_s);
            break;
        }
        chaos_sleep_ms(20);
    }
}

/* Add up the producers' reports: "ACKED REFUSED". */
static void read_reports(wal_run *r, chaos_figures *f) {
    char buf[64];
    for (int i = 0; i < r->np; i++) {
        struct pollfd p = {r->fds[i], POLLIN, 0};
        ssize_t n = poll(&p, 1, 0) == 1 ? read(r->fds[i], buf, sizeof buf - 1) : 0;
        long long a = 0, rf = 0;
        buf[n > 0 ? n : 0] = '\0';
        if (sscanf(buf, "%lld %lld", &a, &rf) == 2) {
            r->acked += a;
            r->refused += rf;
        } else if (!r->aborted) {
            chaos_log("producer %d reported nothing", (int)r->producers[i]);
            f->bad++;
        }
        close(r->fds[i]);
    }
}

/* Compare what was stored, what succeeded and what ran (the run log): every
 * acknowledged task ran exactly once. */
static void check_runs(const wal_run *r, sitq_queue *q, const char *log, chaos_figures *f) {
    sitq_error err;
    sitq_stats st;
    if (sitq_get_stats(q, &st, &err) != SITQ_OK) chaos_die("stats: %s", err.message);
    chaos_runlog rl;
    if (chaos_runlog_read(log, &rl) != 0) chaos_die("cannot read %s", log);
    size_t n_keys = (size_t)st.total + 1;
    for (size_t i = 0; i < rl.n; i++)
        if (rl.runs[i].key >= 0 && (size_t)rl.runs[i].key >= n_keys)
            n_keys = (size_t)rl.runs[i].key + 1;
    chaos_key_runs *kr = chaos_runlog_count(&rl, n_keys, NULL, 0);
    int64_t ran = 0;
    for (size_t i = 0; i < n_keys; i++) {
        ran += kr[i].ends > 0;
        if (kr[i].ends >= 2) {
            f->run_twice++;
            f->twice_unexplained++; /* nothing was killed */
        }
    }
    if (!r->aborted && st.total != r->acked) {
        chaos_log("%" PRId64 " tasks acknowledged, %" PRId64 " stored", r->acked, st.total);
        f->lost += r->acked > st.total ? r->acked - st.total : 0;
        f->bad += r->acked < st.total;
    }
    if (st.count[SITQ_SUCCEEDED] != ran) {
        chaos_log("%" PRId64 " tasks succeeded, %" PRId64 " ran", st.count[SITQ_SUCCEEDED], ran);
        f->lost += st.count[SITQ_SUCCEEDED] > ran ? st.count[SITQ_SUCCEEDED] - ran : 0;
    }
    free(kr);
    chaos_runlog_free(&rl);
}

int chaos_scn_wal(const chaos_opts *o, chaos_figures *f) {
    char dir[512], db[600], log[600], errp[600];
    chaos_mkdtemp(dir, sizeof dir, "wal");
    snprintf(db, sizeof db, "%s/q.db", dir);
    snprintf(log, sizeof log, "%s/runs.log", dir);
    snprintf(errp, sizeof errp, "%s/roles.err", dir);
    sitq_backend *b;
    sitq_queue *q;
    chaos_open(db, &b, &q); /* creates the schema before the crowd arrives */
    chaos_wal wal;
    chaos_wal_init(&wal, db);

    int nw = o->workers, np = o->producers;
    pid_t *workers = calloc((size_t)nw, sizeof *workers),
          *producers = calloc((size_t)np, sizeof *producers);
    int *fds = calloc((size_t)np, sizeof *fds);
    char conc[16], secs[32];
    snprintf(conc, sizeof conc, "%d", o->concurrency);
    snprintf(secs, sizeof secs, "%g", o->duration_s);
    for (int i = 0; i < nw; i++) {
        char *argv[] = {(char *)o->self, "--role", "c-worker", db, conc, log, NULL};
        workers[i] = chaos_spawn(argv, NULL, errp, NULL);
    }
    for (int i = 0; i < np; i++) {
        char *argv[] = {(char *)o->self, "--role", "load-producer", db, secs, NULL};
        producers[i] = chaos_spawn_pipe(argv, &fds[i], errp, NULL);
    }
    wal_run r = {.o = o, .producers = producers, .fds = fds, .np = np, .over_at = -1};
    r.t0 = chaos_mono_ms();
    watch_producers(&r, &wal);
    read_reports(&r, f);
    /* Drain: the workers finish what was enqueued. */
    int64_t left = -1;
    sitq_error err;
    int64_t deadline = chaos_mono_ms() + (int64_t)(o->deadline_s * 1000);
    while ((left = chaos_unfinished(q, NULL, &err)) != 0 && chaos_mono_ms() < deadline) {
        chaos_wal_sample(&wal);
        chaos_sleep_ms(20);
    }
    if (left != 0) {
        chaos_log("timeout: %" PRId64 " tasks unfinished %.0f s after the producers stopped", left,
                  o->deadline_s);
        chaos_dump_unfinished(q, 10);
        f->stuck = left;
    }
    for (int i = 0; i < nw; i++) kill(workers[i], SIGTERM);
    for (int i = 0; i < nw; i++) chaos_stop(workers[i], 30000, 0);
    chaos_wal_sample(&wal);

    check_runs(&r, q, log, f);
    f->tasks = r.acked;
    f->wal_peak = wal.peak;
    int wal_ok = (double)wal.peak <= o->wal_bound_mib * 1048576.0;
    chaos_extra(f,
                "wal_bound=%.0fMiB wal_over_bound_at=%.1fs peak_at=%.1fs producers=%d workers=%d "
                "refused=%" PRId64 " db=%.1fMiB enqueued_per_s=%.0f",
                o->wal_bound_mib, r.over_at < 0 ? -1.0 : (double)r.over_at / 1000,
                (double)r.peak_at / 1000, np, nw, r.refused,
                (double)chaos_file_size(db) / 1048576.0, (double)r.acked / o->duration_s);
    sitq_queue_close(q);
    sitq_backend_close(b);
    free(workers);
    free(producers);
    free(fds);
    if (!o->keep) chaos_rm_rf(dir);
    return wal_ok && !r.aborted && f->lost == 0 && f->stuck == 0 && f->bad == 0 &&
                   f->twice_unexplained == 0
               ? 0
               : 1;
}
