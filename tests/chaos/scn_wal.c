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
    int64_t t0 = chaos_mono_ms();
    int64_t deadline = t0 + (int64_t)((o->duration_s + o->deadline_s) * 1000);
    int64_t acked = 0, refused = 0, over_at = -1, peak_at = 0;
    int done = 0, aborted = 0;
    char buf[64];
    while (done < np) {
        int64_t size = chaos_wal_sample(&wal);
        if (size == wal.peak) peak_at = chaos_mono_ms() - t0;
        if (over_at < 0 && (double)size > o->wal_bound_mib * 1048576.0)
            over_at = chaos_mono_ms() - t0;
        if (size > WAL_CEILING && !aborted) {
            chaos_log("WAL at %.1f GiB after %.1f s: stopping the producers",
                      (double)size / (1 << 30), (double)(chaos_mono_ms() - t0) / 1000);
            for (int i = 0; i < np; i++) chaos_signal(producers[i], SIGKILL);
            aborted = 1;
        }
        done = 0;
        for (int i = 0; i < np; i++) done += !chaos_alive(producers[i]);
        if (chaos_mono_ms() > deadline) {
            chaos_log("timeout: producers still running after %.0f s",
                      o->duration_s + o->deadline_s);
            break;
        }
        chaos_sleep_ms(20);
    }
    for (int i = 0; i < np; i++) {
        struct pollfd p = {fds[i], POLLIN, 0};
        ssize_t n = poll(&p, 1, 0) == 1 ? read(fds[i], buf, sizeof buf - 1) : 0;
        long long a = 0, r = 0;
        buf[n > 0 ? n : 0] = '\0';
        if (sscanf(buf, "%lld %lld", &a, &r) == 2) {
            acked += a;
            refused += r;
        } else if (!aborted) {
            chaos_log("producer %d reported nothing", (int)producers[i]);
            f->bad++;
        }
        close(fds[i]);
    }
    /* Drain: the workers finish what was enqueued. */
    int64_t left = -1;
    sitq_error err;
    deadline = chaos_mono_ms() + (int64_t)(o->deadline_s * 1000);
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
    double load_s = (double)(chaos_mono_ms() - t0) / 1000.0;

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
    if (!aborted && st.total != acked) {
        chaos_log("%" PRId64 " tasks acknowledged, %" PRId64 " stored", acked, st.total);
        f->lost += acked > st.total ? acked - st.total : 0;
        f->bad += acked < st.total;
    }
    if (st.count[SITQ_SUCCEEDED] != ran) {
        chaos_log("%" PRId64 " tasks succeeded, %" PRId64 " ran", st.count[SITQ_SUCCEEDED], ran);
        f->lost += st.count[SITQ_SUCCEEDED] > ran ? st.count[SITQ_SUCCEEDED] - ran : 0;
    }
    f->tasks = acked;
    f->wal_peak = wal.peak;
    int wal_ok = (double)wal.peak <= o->wal_bound_mib * 1048576.0;
    chaos_extra(f,
                "wal_bound=%.0fMiB wal_over_bound_at=%.1fs peak_at=%.1fs producers=%d workers=%d "
                "refused=%" PRId64 " db=%.1fMiB enqueued_per_s=%.0f",
                o->wal_bound_mib, over_at < 0 ? -1.0 : (double)over_at / 1000,
                (double)peak_at / 1000, np, nw, refused, (double)chaos_file_size(db) / 1048576.0,
                (double)acked / o->duration_s);
    (void)load_s;
    free(kr);
    chaos_runlog_free(&rl);
    sitq_queue_close(q);
    sitq_backend_close(b);
    free(workers);
    free(producers);
    free(fds);
    if (!o->keep) chaos_rm_rf(dir);
    return wal_ok && !aborted && f->lost == 0 && f->stuck == 0 && f->bad == 0 &&
                   f->twice_unexplained == 0
               ? 0
               : 1;
}
