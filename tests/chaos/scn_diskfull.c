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

/* One run: the queue on the tmpfs, the tasks it acknowledged, the count of
 * things wrong. */
typedef struct full_run {
    const chaos_opts *o;
    const char *dir, *mnt, *db;
    sitq_queue *q;
    int64_t *acked_ids, *acked_keys; /* MAX_ACKED each */
    int64_t acked_n, refused, bad, key;
    sitq_error first_err; /* of the first refused enqueue */
} full_run;

/* The payload of key: the key, then PAYLOAD bytes of fill_payload. */
static void make_payload(unsigned char payload[PAYLOAD + sizeof(int64_t)], int64_t key) {
    memcpy(payload, &key, sizeof key);
    fill_payload(payload + sizeof key, key);
}

/* Mount a tmpfs of --tmpfs-mib at mnt (unmounted at exit). 0, or 77 when
 * it cannot be mounted (the scenario is skipped). */
static int mount_tmpfs(const chaos_opts *o, const char *dir, const char *mnt) {
    char opts[64];
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
    return 0;
}

/* Fill the disk: one task at a time until enqueue fails, then a few more
 * tries (all must fail the same clean way or succeed). */
static void fill_disk(full_run *r) {
    unsigned char payload[PAYLOAD + sizeof(int64_t)];
    sitq_error err;
    for (int after = 0; r->key < MAX_ACKED && after < 20; r->key++) {
        make_payload(payload, r->key);
        sitq_task_id id;
        memset(&err, 0, sizeof err);
        sitq_code c = sitq_enqueue(r->q, "check", payload, sizeof payload, NULL, &id, &err);
        if (c == SITQ_OK) {
            r->acked_ids[r->acked_n] = id;
            r->acked_keys[r->acked_n++] = r->key;
        } else {
            r->refused++;
            if (!r->first_err.message[0]) r->first_err = err;
            if (c != SITQ_ESTORAGE || err.code != c || !err.message[0]) {
                r->bad++;
                chaos_log("enqueue on a full disk: %s '%s' (expected SITQ_ESTORAGE with a message)",
                          sitq_code_name(c), err.message);
            }
        }
        if (r->refused) after++;
    }
    if (!r->refused) {
        r->bad++;
        chaos_log("the file system never filled up");
    }
}

/* A batch on the full disk: refused as a whole. */
static void batch_on_full_disk(full_run *r) {
    unsigned char payload[PAYLOAD + sizeof(int64_t)];
    sitq_task_spec specs[50];
    sitq_task_id bids[50];
    for (int i = 0; i < 50; i++)
        specs[i] = (sitq_task_spec){
            .function = "check", .payload = payload, .payload_len = sizeof payload};
    make_payload(payload, r->key);
    sitq_stats before, after;
    sitq_error err;
    sitq_get_stats(r->q, &before, NULL);
    sitq_code bc = sitq_enqueue_batch(r->q, specs, 50, bids, &err);
    sitq_get_stats(r->q, &after, NULL);
    if (bc == SITQ_OK) {
        chaos_log("a batch of 50 was accepted on the full disk (tasks %" PRId64 "..)",
                  (int64_t)bids[0]);
        for (int i = 0; i < 50 && r->acked_n < MAX_ACKED; i++) {
            r->acked_ids[r->acked_n] = bids[i];
            r->acked_keys[r->acked_n++] = r->key;
        }
    } else if (after.total != before.total || bc != SITQ_ESTORAGE || !err.message[0]) {
        r->bad++;
        chaos_log("batch on a full disk: %s '%s', %" PRId64 " tasks stored", sitq_code_name(bc),
                  err.message, after.total - before.total);
    }
}

/* The command line on the full disk: enqueue fails with exit status 3 and a
 * message; stats works or fails the same way. Returns 1 when stats worked. */
static int cli_on_full_disk(full_run *r) {
    const chaos_opts *o = r->o;
    char out[256], etext[2048];
    char *enq[] = {(char *)o->sitq, "enqueue", (char *)r->db, "--", "true", NULL};
    int st = run_cli(o, r->dir, enq, out, sizeof out, etext, sizeof etext);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        chaos_log("sitq enqueue succeeded on the full disk: task %s", out);
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 3 || !strstr(etext, "sitq enqueue: ")) {
        r->bad++;
        chaos_log("sitq enqueue on a full disk: %s, stderr '%s' (expected exit 3 and a message)",
                  chaos_status_text(st), etext);
    }
    char *stats[] = {(char *)o->sitq, "stats", (char *)r->db, "--json", NULL};
    st = run_cli(o, r->dir, stats, out, sizeof out, etext, sizeof etext);
    int stats_ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!stats_ok && (!WIFEXITED(st) || WEXITSTATUS(st) != 3 || !strstr(etext, "sitq stats: "))) {
        r->bad++;
        chaos_log("sitq stats on a full disk: %s, stderr '%s'", chaos_status_text(st), etext);
    }
    return stats_ok;
}

/* A worker on the full disk: it may fail to write, with a message, and
 * must keep its work. Returns it (running); *full_errors: its storage
 * errors in its first 3 s. */
static sitq_worker *worker_on_full_disk(full_run *r, int64_t *full_errors) {
    sitq_worker_options wo;
    sitq_worker_options_init(&wo);
    wo.concurrency = 2;
    wo.poll_interval_s = 0.01;
    wo.lease_s = 5;
    sitq_worker *w;
    sitq_error err;
    if (sitq_worker_create(r->q, &wo, &w, &err) != SITQ_OK ||
        sitq_worker_register(w, "check", check_payload, NULL, &err) != SITQ_OK ||
        sitq_worker_start(w, &err) != SITQ_OK)
        chaos_die("worker: %s", err.message);
    sitq_worker_stats ws;
    int64_t until = chaos_mono_ms() + 3000;
    do {
        chaos_sleep_ms(20);
        sitq_worker_get_stats(w, &ws);
    } while (ws.errors == 0 && chaos_mono_ms() < until);
    *full_errors = ws.errors;
    if (ws.errors && !ws.last_error[0]) {
        r->bad++;
        chaos_log("the worker's storage errors carry no message");
    }
    return w;
}

/* Room again: grow the file system; every acknowledged task must run. */
static void finish_with_room(full_run *r, sitq_worker *w, chaos_figures *f) {
    const chaos_opts *o = r->o;
    char opts[64];
    snprintf(opts, sizeof opts, "size=%lluk",
             (unsigned long long)(o->tmpfs_mib * 1024 * 8 + 65536));
    if (mount("tmpfs", r->mnt, "tmpfs", MS_REMOUNT, opts) != 0)
        chaos_die("remount %s: %s", r->mnt, strerror(errno));
    sitq_error err;
    int64_t deadline = chaos_mono_ms() + (int64_t)(o->deadline_s * 1000), left = 1;
    while ((left = chaos_unfinished(r->q, NULL, &err)) != 0 && chaos_mono_ms() < deadline)
        chaos_sleep_ms(20);
    if (left != 0) {
        chaos_log("timeout: tasks unfinished after the disk had room again");
        chaos_dump_unfinished(r->q, 10);
        f->stuck = left;
    }
    sitq_worker_stop(w, 30, NULL);
    sitq_worker_free(w);
}

/* Read every acknowledged task back through a fresh connection: it exists
 * with its payload (else lost). Returns the number that failed. */
static int64_t read_back(full_run *r, chaos_figures *f) {
    sitq_backend *b;
    sitq_queue *q;
    chaos_open(r->db, &b, &q);
    unsigned char payload[PAYLOAD + sizeof(int64_t)];
    sitq_error err;
    int64_t failed = 0;
    for (int64_t i = 0; i < r->acked_n; i++) {
        sitq_result *res = NULL;
        void *p = NULL;
        size_t len = 0;
        if (sitq_get_result(q, r->acked_ids[i], &res, &err) != SITQ_OK ||
            sitq_get_payload(q, r->acked_ids[i], &p, &len, &err) != SITQ_OK) {
            f->lost++;
            chaos_log("acknowledged task %" PRId64 " is gone: %s", r->acked_ids[i], err.message);
        } else {
            make_payload(payload, r->acked_keys[i]);
            if (len != sizeof payload || memcmp(p, payload, len) != 0) {
                f->lost++;
                chaos_log("task %" PRId64 ": payload changed", r->acked_ids[i]);
            }
            if (res->status == SITQ_FAILED) {
                failed++;
                if (failed <= 3)
                    chaos_log("task %" PRId64 " failed: %s", r->acked_ids[i], res->error);
            }
        }
        sitq_result_free(res);
        free(p);
    }
    sitq_queue_close(q);
    sitq_backend_close(b);
    return failed;
}

/* 1 when the database at db passes PRAGMA integrity_check. */
static int integrity_ok(const char *db) {
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    int ok = sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK &&
             sqlite3_step(s) == SQLITE_ROW &&
             strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
    sqlite3_finalize(s);
    sqlite3_close(h);
    return ok;
}

int chaos_scn_diskfull(const chaos_opts *o, chaos_figures *f) {
    char dir[512], mnt[600], db[700];
    chaos_mkdtemp(dir, sizeof dir, "diskfull");
    snprintf(mnt, sizeof mnt, "%s/mnt", dir);
    snprintf(db, sizeof db, "%s/q.db", mnt);
    if (mount_tmpfs(o, dir, mnt) != 0) return 77;
    full_run r = {.o = o, .dir = dir, .mnt = mnt, .db = db};
    r.acked_ids = calloc(MAX_ACKED, sizeof *r.acked_ids);
    r.acked_keys = calloc(MAX_ACKED, sizeof *r.acked_keys);
    if (!r.acked_ids || !r.acked_keys) chaos_die("out of memory");
    sitq_backend *b;
    chaos_open(db, &b, &r.q);
    fill_disk(&r);
    batch_on_full_disk(&r);
    int stats_ok = cli_on_full_disk(&r);
    int64_t full_errors = 0;
    sitq_worker *w = worker_on_full_disk(&r, &full_errors);
    finish_with_room(&r, w, f);
    sitq_queue_close(r.q);
    sitq_backend_close(b);

    int64_t failed = read_back(&r, f);
    if (!integrity_ok(db)) {
        r.bad++;
        chaos_log("the database fails integrity_check");
    }
    r.bad += failed;
    unmount_at_exit();
    f->tasks = r.acked_n;
    f->bad = r.bad;
    chaos_extra(f,
                "refused=%" PRId64 " failed=%" PRId64 " stats_on_full=%s worker_errors=%" PRId64
                " message='%.80s'",
                r.refused, failed, stats_ok ? "ok" : "exit3", full_errors, r.first_err.message);
    free(r.acked_ids);
    free(r.acked_keys);
    if (!o->keep) chaos_rm_rf(dir);
    return r.bad == 0 && f->lost == 0 && f->stuck == 0 ? 0 : 1;
}
