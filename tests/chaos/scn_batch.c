/* scn_batch.c - scenario "batch": a producer process SIGKILLed at a random
 * moment inside one large sitq_enqueue_batch. A batch is one transaction:
 * afterwards its queue holds all of its tasks or none, and all of them
 * when the producer had returned. */
#include "chaos.h"

#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read one line from fd within deadline_ms; returns its first byte, 0 on EOF
 * or timeout. */
static char read_mark(int fd, int64_t deadline_ms) {
    for (;;) {
        int64_t left = deadline_ms - chaos_mono_ms();
        if (left <= 0) return 0;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)left) <= 0) continue;
        char c[2];
        ssize_t n = read(fd, c, 2);
        if (n <= 0) return 0;
        return c[0];
    }
}

static int integrity_ok(const char *db) {
    sqlite3 *h = NULL;
    int ok = 0;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW)
            ok = strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
        if (!ok)
            chaos_log("integrity_check: %s", s ? (const char *)sqlite3_column_text(s, 0) : "-");
        sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return ok;
}

/* What the trials left: every task, none, or some (a broken batch). */
typedef struct trial_counts {
    int64_t full, empty, partial;
} trial_counts;

/* Check what trial t (done: 'D' when the producer acknowledged the batch)
 * left in the database: all or none of the batch, its edges, an intact
 * file. Counts into tc and f. */
static void check_trial(const chaos_opts *o, chaos_figures *f, const char *db, const char *queue,
                        int t, char done, trial_counts *tc) {
    sitq_backend *b;
    sitq_queue *q;
    sitq_error err;
    if (sitq_backend_open_sqlite(db, NULL, &b, &err) != SITQ_OK ||
        sitq_queue_open(b, queue, &q, &err) != SITQ_OK)
        chaos_die("reopen after kill: %s", err.message);
    sitq_stats s;
    if (sitq_get_stats(q, &s, &err) != SITQ_OK) chaos_die("stats after kill: %s", err.message);
    if (done == 'D') f->tasks += o->tasks;
    if (s.total == o->tasks) {
        tc->full++;
        /* The edges came with the rows: the last task of every ten waits. */
        if (s.count[SITQ_WAITING] != o->tasks / 10) {
            f->bad++;
            chaos_log("trial %d: %" PRId64 " waiting tasks, expected %d", t, s.count[SITQ_WAITING],
                      o->tasks / 10);
        }
    } else if (s.total == 0) {
        tc->empty++;
        if (done == 'D') {
            f->lost += o->tasks;
            chaos_log("trial %d: the batch was acknowledged but its tasks are gone", t);
        }
    } else {
        tc->partial++;
        chaos_log("trial %d: %" PRId64 " of %d tasks stored: not all-or-nothing", t, s.total,
                  o->tasks);
    }
    sitq_queue_close(q);
    sitq_backend_close(b);
    if (!integrity_ok(db)) {
        f->bad++;
        chaos_log("trial %d: the database fails integrity_check", t);
    }
}

int chaos_scn_batch(const chaos_opts *o, chaos_figures *f) {
    char dir[512], db[600];
    chaos_mkdtemp(dir, sizeof dir, "batch");
    snprintf(db, sizeof db, "%s/q.db", dir);
    chaos_rng rng;
    chaos_rng_seed(&rng, o->seed);
    char count[32];
    snprintf(count, sizeof count, "%d", o->tasks);
    int64_t batch_ms = 0, inside = 0;
    trial_counts tc = {0, 0, 0};
    for (int t = 0; t <= o->trials; t++) {
        /* Trial 0 runs to its end and measures how long a batch takes, so
         * that the kills of the others land inside the call. */
        char queue[32], errp[600];
        snprintf(queue, sizeof queue, "batch-%d", t);
        snprintf(errp, sizeof errp, "%s/producer.err", dir);
        char *argv[] = {(char *)o->self, "--role", "batch-producer", db, queue, count, NULL};
        int fd = -1;
        pid_t pid = chaos_spawn_pipe(argv, &fd, errp, NULL);
        int64_t deadline = chaos_mono_ms() + (int64_t)(o->deadline_s * 1000);
        if (read_mark(fd, deadline) != 'R')
            chaos_die("batch producer did not get ready: %s", chaos_read_file(errp, NULL));
        int64_t t0 = chaos_mono_ms();
        char done = 0;
        if (t == 0) {
            done = read_mark(fd, deadline);
            batch_ms = chaos_mono_ms() - t0;
        } else {
            int64_t wait = (int64_t)(chaos_rng_unit(&rng) * (double)batch_ms * 1.1);
            struct pollfd p = {fd, POLLIN, 0};
            /* The random moment of the kill (a poll so that a finished batch is seen). */
            if (poll(&p, 1, (int)wait) == 1) done = read_mark(fd, deadline);
            kill(pid, SIGKILL);
            f->kills++;
            if (!done) inside++;
        }
        int st = 0;
        if (!chaos_wait(pid, deadline, &st)) chaos_die("batch producer did not exit");
        close(fd);
        if (t == 0 && (done != 'D' || st != 0))
            chaos_die("the unkilled batch failed (%s): %s", chaos_status_text(st),
                      chaos_read_file(errp, NULL));

        check_trial(o, f, db, queue, t, done, &tc);
    }
    f->bad += tc.partial;
    f->wal_peak = -1;
    chaos_extra(f,
                "trials=%d killed_inside=%" PRId64 " all=%" PRId64 " none=%" PRId64
                " partial=%" PRId64 " batch=%" PRId64 "ms",
                o->trials, inside, tc.full, tc.empty, tc.partial, batch_ms);
    int ok = f->bad == 0 && f->lost == 0;
    if (!o->keep) chaos_rm_rf(dir);
    return ok ? 0 : 1;
}
