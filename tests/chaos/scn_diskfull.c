/* scn_diskfull.c - scenario "diskfull": a queue on a small tmpfs mounted by
 * the harness (root is required; without it the scenario is skipped with a
 * message). Enqueue until the file system is full, try the command line and
 * a worker there, then grow the file system and let the worker finish.
 *
 * Verdict: every failure on the full disk is SITQ_ESTORAGE (exit status 3
 * for the command) with a message; a failed batch stores nothing; every
 * acknowledged task is still there afterwards with its payload, and runs to
 * success once there is room; the database passes integrity_check. */
#include "chaos.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAYLOAD   2048
#define MAX_ACKED 200000

static void fill_payload(unsigned char *p, int64_t key) {
    for (size_t i = 0; i < PAYLOAD; i++) p[i] = (unsigned char)((uint64_t)key * 131u + i * 7u);
}

/* Handler: check the payload against its key (first 8 bytes hold it), store
 * a 1 KiB result. */
static int check_payload(sitq_task_ctx *ctx, const void *payload, size_t len, void *user) {
    (void)user;
    unsigned char want[PAYLOAD];
    int64_t key;
    if (len != PAYLOAD + sizeof key) {
        sitq_ctx_set_error(ctx, "payload has the wrong size", NULL);
        return 1;
    }
    memcpy(&key, payload, sizeof key);
    fill_payload(want, key);
    if (memcmp(want, (const char *)payload + sizeof key, PAYLOAD) != 0) {
        sitq_ctx_set_error(ctx, "payload differs from what was enqueued", NULL);
        return 1;
    }
    char result[1024];
    memset(result, 'r', sizeof result);
    return sitq_ctx_set_result(ctx, result, sizeof result) == SITQ_OK ? 0 : 1;
}

static int run_cli(const chaos_opts *o, const char *dir, char *const args[], char *out,
                   size_t out_n, char *errtext, size_t err_n) {
    char outp[700], errp[700];
    snprintf(outp, sizeof outp, "%s/cli.out", dir);
    snprintf(errp, sizeof errp, "%s/cli.err", dir);
    unlink(outp);
    unlink(errp);
    pid_t pid = chaos_spawn(args, outp, errp, NULL);
    int st = 0;
    if (!chaos_wait(pid, chaos_mono_ms() + (int64_t)(o->deadline_s * 1000), &st)) {
        chaos_log("%s %s: still running after %.0f s", args[0], args[1], o->deadline_s);
        st = chaos_stop(pid, 1000, 1);
    }
    char *t = chaos_read_file(outp, NULL);
    snprintf(out, out_n, "%s", t ? t : "");
    free(t);
    t = chaos_read_file(errp, NULL);
    snprintf(errtext, err_n, "%s", t ? t : "");
    free(t);
    return st;
}

static char mounted[600];

/* At exit, however the run ends: detach the tmpfs (before the temporary
 * directory holding it is removed). */
static void unmount_at_exit(void) {
    if (mounted[0] && umount2(mounted, MNT_DETACH) != 0)
        chaos_log("umount %s: %s", mounted, strerror(errno));
    mounted[0] = '\0';
}

int chaos_scn_diskfull(const chaos_opts *o, chaos_figures *f) {
    char dir[512], mnt[600], db[700], opts[64];
    chaos_mkdtemp(dir, sizeof dir, "diskfull");
    snprintf(mnt, sizeof mnt, "%s/mnt", dir);
    snprintf(db, sizeof db, "%s/q.db", mnt);
    if (mkdir(mnt, 0755) != 0) chaos_die("mkdir %s: %s", mnt, strerror(errno));
    snprintf(opts, sizeof opts, "size=%lluk", (unsigned long long)(o->tmpfs_mib * 1024));
    if (mount("tmpfs", mnt, "tmpfs", 0, opts) != 0) {
        fprintf(stderr,
                "chaos diskfull: SKIPPED: cannot mount a tmpfs (%s); this scenario "
                "needs root (CAP_SYS_ADMIN)\n",
                strerror(errno));
        chaos_rm_rf(dir);
        return 77;
    }
    snprintf(mounted, sizeof mounted, "%s", mnt);
    atexit(unmount_at_exit);
    int64_t bad = 0, acked_n = 0, refused = 0;
    int64_t *acked_ids = calloc(MAX_ACKED, sizeof *acked_ids);
    int64_t *acked_keys = calloc(MAX_ACKED, sizeof *acked_keys);
    sitq_backend *b;
    sitq_queue *q;
    chaos_open(db, &b, &q);
    unsigned char payload[PAYLOAD + sizeof(int64_t)];
    sitq_error err, first_err;
    memset(&first_err, 0, sizeof first_err);
    int64_t key = 0;
    /* Fill the disk: one task at a time until enqueue fails, then a few more
     * tries (all must fail the same clean way or succeed). */
    for (int after = 0; key < MAX_ACKED && after < 20; key++) {
        memcpy(payload, &key, sizeof key);
        fill_payload(payload + sizeof key, key);
        sitq_task_id id;
        memset(&err, 0, sizeof err);
        sitq_code c = sitq_enqueue(q, "check", payload, sizeof payload, NULL, &id, &err);
        if (c == SITQ_OK) {
            acked_ids[acked_n] = id;
            acked_keys[acked_n++] = key;
        } else {
            refused++;
            if (!first_err.message[0]) first_err = err;
            if (c != SITQ_ESTORAGE || err.code != c || !err.message[0]) {
                bad++;
                chaos_log("enqueue on a full disk: %s '%s' (expected SITQ_ESTORAGE with a message)",
                          sitq_code_name(c), err.message);
            }
        }
        if (refused) after++;
    }
    if (!refused) {
        bad++;
        chaos_log("the file system never filled up");
    }
    /* A batch on the full disk: refused as a whole. */
    sitq_task_spec specs[50];
    sitq_task_id bids[50];
    for (int i = 0; i < 50; i++)
        specs[i] = (sitq_task_spec){
            .function = "check", .payload = payload, .payload_len = sizeof payload};
    memcpy(payload, &key, sizeof key);
    fill_payload(payload + sizeof key, key);
    sitq_stats before, after;
    sitq_get_stats(q, &before, NULL);
    sitq_code bc = sitq_enqueue_batch(q, specs, 50, bids, &err);
    sitq_get_stats(q, &after, NULL);
    if (bc == SITQ_OK) {
        chaos_log("a batch of 50 was accepted on the full disk (tasks %" PRId64 "..)",
                  (int64_t)bids[0]);
        for (int i = 0; i < 50 && acked_n < MAX_ACKED; i++) {
            acked_ids[acked_n] = bids[i];
            acked_keys[acked_n++] = key;
        }
    } else if (after.total != before.total || bc != SITQ_ESTORAGE || !err.message[0]) {
        bad++;
        chaos_log("batch on a full disk: %s '%s', %" PRId64 " tasks stored", sitq_code_name(bc),
                  err.message, after.total - before.total);
    }

    /* The command line on the full disk. */
    char out[256], etext[2048];
    char *enq[] = {(char *)o->sitq, "enqueue", db, "--", "true", NULL};
    int st = run_cli(o, dir, enq, out, sizeof out, etext, sizeof etext);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        chaos_log("sitq enqueue succeeded on the full disk: task %s", out);
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 3 || !strstr(etext, "sitq enqueue: ")) {
        bad++;
        chaos_log("sitq enqueue on a full disk: %s, stderr '%s' (expected exit 3 and a message)",
                  chaos_status_text(st), etext);
    }
    char *stats[] = {(char *)o->sitq, "stats", db, "--json", NULL};
    st = run_cli(o, dir, stats, out, sizeof out, etext, sizeof etext);
    int stats_ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!stats_ok && (!WIFEXITED(st) || WEXITSTATUS(st) != 3 || !strstr(etext, "sitq stats: "))) {
        bad++;
        chaos_log("sitq stats on a full disk: %s, stderr '%s'", chaos_status_text(st), etext);
    }

    /* A worker on the full disk: it may fail to write, with a message, and
     * must keep its work. */
    sitq_worker_options wo;
    sitq_worker_options_init(&wo);
    wo.concurrency = 2;
    wo.poll_interval_s = 0.01;
    wo.lease_s = 5;
    sitq_worker *w;
    if (sitq_worker_create(q, &wo, &w, &err) != SITQ_OK ||
        sitq_worker_register(w, "check", check_payload, NULL, &err) != SITQ_OK ||
        sitq_worker_start(w, &err) != SITQ_OK)
        chaos_die("worker: %s", err.message);
    sitq_worker_stats ws;
    int64_t until = chaos_mono_ms() + 3000;
    do {
        chaos_sleep_ms(20);
        sitq_worker_get_stats(w, &ws);
    } while (ws.errors == 0 && chaos_mono_ms() < until);
    int64_t full_errors = ws.errors;
    char full_msg[SITQ_ERROR_MESSAGE_SIZE];
    snprintf(full_msg, sizeof full_msg, "%s", ws.last_error);
    if (full_errors && !full_msg[0]) {
        bad++;
        chaos_log("the worker's storage errors carry no message");
    }

    /* Room again: grow the file system; every acknowledged task must run. */
    snprintf(opts, sizeof opts, "size=%lluk",
             (unsigned long long)(o->tmpfs_mib * 1024 * 8 + 65536));
    if (mount("tmpfs", mnt, "tmpfs", MS_REMOUNT, opts) != 0)
        chaos_die("remount %s: %s", mnt, strerror(errno));
    int64_t deadline = chaos_mono_ms() + (int64_t)(o->deadline_s * 1000), left = 1;
    while ((left = chaos_unfinished(q, NULL, &err)) != 0 && chaos_mono_ms() < deadline)
        chaos_sleep_ms(20);
    if (left != 0) {
        chaos_log("timeout: tasks unfinished after the disk had room again");
        chaos_dump_unfinished(q, 10);
        f->stuck = left;
    }
    sitq_worker_stop(w, 30, NULL);
    sitq_worker_get_stats(w, &ws);
    sitq_worker_free(w);
    sitq_queue_close(q);
    sitq_backend_close(b);

    /* Read everything back through a fresh connection. */
    chaos_open(db, &b, &q);
    int64_t failed = 0;
    for (int64_t i = 0; i < acked_n; i++) {
        sitq_result *r = NULL;
        void *p = NULL;
        size_t len = 0;
        if (sitq_get_result(q, acked_ids[i], &r, &err) != SITQ_OK ||
            sitq_get_payload(q, acked_ids[i], &p, &len, &err) != SITQ_OK) {
            f->lost++;
            chaos_log("acknowledged task %" PRId64 " is gone: %s", acked_ids[i], err.message);
        } else {
            memcpy(payload, &acked_keys[i], sizeof acked_keys[i]);
            fill_payload(payload + sizeof(int64_t), acked_keys[i]);
            if (len != sizeof payload || memcmp(p, payload, len) != 0) {
                f->lost++;
                chaos_log("task %" PRId64 ": payload changed", acked_ids[i]);
            }
            if (r->status == SITQ_FAILED) {
                failed++;
                if (failed <= 3) chaos_log("task %" PRId64 " failed: %s", acked_ids[i], r->error);
            }
        }
        sitq_result_free(r);
        free(p);
    }
    sitq_queue_close(q);
    sitq_backend_close(b);
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    int integrity = sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
                    sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK &&
                    sqlite3_step(s) == SQLITE_ROW &&
                    strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
    sqlite3_finalize(s);
    sqlite3_close(h);
    if (!integrity) {
        bad++;
        chaos_log("the database fails integrity_check");
    }
    bad += failed;
    unmount_at_exit();
    f->tasks = acked_n;
    f->bad = bad;
    chaos_extra(f,
                "refused=%" PRId64 " failed=%" PRId64 " stats_on_full=%s worker_errors=%" PRId64
                " message='%.80s'",
                refused, failed, stats_ok ? "ok" : "exit3", full_errors, first_err.message);
    free(acked_ids);
    free(acked_keys);
    if (!o->keep) chaos_rm_rf(dir);
    return bad == 0 && f->lost == 0 && f->stuck == 0 ? 0 : 1;
}
