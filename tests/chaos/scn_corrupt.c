/* scn_corrupt.c - scenario "corrupt": truncated, bit-flipped, foreign and
 * damaged database files given to every `sitq` subcommand and to
 * sitq_backend_open_sqlite (and the calls that follow it, in a helper
 * process per file, --role open-file).
 *
 * Verdict: nothing crashes (no signal, no sanitizer report), every exit
 * status is a documented one, and every failure prints a message naming the
 * command ("sitq CMD: ..."), or returns a code with a message. */
#include "chaos.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_VARIANTS 64

typedef struct variant {
    char name[64];
    char path[700];
} variant;

static void make_base(const char *path) {
    sitq_backend *b;
    sitq_queue *q;
    chaos_open(path, &b, &q);
    sitq_error err;
    for (int i = 0; i < 40; i++) {
        sitq_task_id id;
        sitq_task_options to;
        sitq_task_options_init(&to);
        to.priority = i % 3;
        if (sitq_enqueue(q, "shell", "true\0", 5, &to, &id, &err) != SITQ_OK)
            chaos_die("enqueue: %s", err.message);
        if (i % 4 == 3) {
            sitq_task_options_init(&to);
            to.depends_on = &id;
            to.n_depends_on = 1;
            if (sitq_enqueue(q, "shell", "true\0", 5, &to, &id, &err) != SITQ_OK)
                chaos_die("enqueue: %s", err.message);
        }
    }
    sitq_queue_close(q);
    sitq_backend_close(b);
}

static void sql_file(const char *path, const char *sql) {
    sqlite3 *h = NULL;
    char *msg = NULL;
    if (sqlite3_open(path, &h) != SQLITE_OK || sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
        chaos_die("sqlite %s: %s", path, msg ? msg : sqlite3_errmsg(h));
    sqlite3_close(h);
}

static int add(variant *v, int n, const char *dir, const char *name, const void *data, size_t len) {
    if (n >= MAX_VARIANTS) return n;
    snprintf(v[n].name, sizeof v[n].name, "%s", name);
    snprintf(v[n].path, sizeof v[n].path, "%s/%s.db", dir, name);
    if (data && chaos_write_file(v[n].path, data, len) != 0) chaos_die("write %s", v[n].path);
    return n + 1;
}

static int make_variants(variant *v, const char *dir, const char *base, chaos_rng *rng, int flips) {
    size_t len = 0;
    char *orig = chaos_read_file(base, &len);
    if (!orig || len < 8192) chaos_die("base database missing or small (%zu bytes)", len);
    int n = 0;
    n = add(v, n, dir, "empty", "", 0);
    const size_t cuts[] = {50, 100, 512, 4096, len / 2, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "truncated-%zu", cuts[i]);
        n = add(v, n, dir, name, orig, cuts[i]);
    }
    char *copy = malloc(len);
    for (int k = 0; k < flips; k++) {
        memcpy(copy, orig, len);
        int bits = 1 + (int)chaos_rng_below(rng, 8);
        /* The first copies hit the header and the schema page, where a flip
         * matters most; the others anywhere. */
        size_t span = k == 0 ? 100 : k == 1 ? 4096 : len;
        for (int b = 0; b < bits; b++) {
            size_t off = (size_t)chaos_rng_below(rng, span);
            copy[off] ^= (char)(1u << chaos_rng_below(rng, 8));
        }
        char name[64];
        snprintf(name, sizeof name, "bitflip-%d", k);
        n = add(v, n, dir, name, copy, len);
    }
    for (size_t i = 0; i < len; i++) copy[i] = (char)chaos_rng_next(rng);
    n = add(v, n, dir, "garbage", copy, 8192);
    const char text[] = "id,name\n1,this is a CSV file, not a database\n";
    n = add(v, n, dir, "text", text, sizeof text - 1);
    free(copy);
    free(orig);

    n = add(v, n, dir, "foreign", NULL, 0);
    sql_file(v[n - 1].path, "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);"
                            "INSERT INTO notes(body) VALUES('keep me'),('and me');");
    n = add(v, n, dir, "foreign-wal", NULL, 0);
    sql_file(v[n - 1].path, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES(1);");
    n = add(v, n, dir, "future-version", NULL, 0);
    chaos_copy_file(base, v[n - 1].path);
    sql_file(v[n - 1].path, "UPDATE sitq_meta SET value = '999' WHERE key = 'schema_version';");
    n = add(v, n, dir, "no-tasks-table", NULL, 0);
    chaos_copy_file(base, v[n - 1].path);
    sql_file(v[n - 1].path, "DROP TABLE sitq_tasks;");
    n = add(v, n, dir, "directory", NULL, 0);
    if (mkdir(v[n - 1].path, 0755) != 0) chaos_die("mkdir %s", v[n - 1].path);
    return n;
}

typedef struct tally {
    int64_t runs, crashes, hangs, no_message, bad_exit;
    int64_t by_exit[8];
} tally;

/* A sanitizer report or a crash message in the output. */
static int sanitizer_report(const char *text) {
    return text && (strstr(text, "Sanitizer") || strstr(text, "runtime error:") ||
                    strstr(text, "Segmentation fault"));
}

/* Judge one finished process; what names it in messages. */
static void judge(tally *t, const char *what, int status, const char *errp, const char *cmd) {
    char *text = chaos_read_file(errp, NULL);
    t->runs++;
    if (WIFSIGNALED(status) || sanitizer_report(text)) {
        t->crashes++;
        chaos_log("%s: crashed (%s): %.2000s", what, chaos_status_text(status), text ? text : "");
    } else if (WEXITSTATUS(status) > 5) {
        t->bad_exit++;
        chaos_log("%s: undocumented %s: %.500s", what, chaos_status_text(status), text ? text : "");
    } else {
        t->by_exit[WEXITSTATUS(status)]++;
        char prefix[64];
        snprintf(prefix, sizeof prefix, "sitq %s: ", cmd);
        if (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 4 &&
            (!text || !strstr(text, cmd ? prefix : "chaos role:"))) {
            t->no_message++;
            chaos_log("%s: %s without a message: '%.300s'", what, chaos_status_text(status),
                      text ? text : "");
        }
    }
    free(text);
}

/* Fresh copy of a variant at work (the directory variant is used as is). */
static const char *fresh(const variant *v, const char *work) {
    char side[800];
    for (int k = 0; k < 3; k++) {
        snprintf(side, sizeof side, "%s%s", work, k == 0 ? "" : k == 1 ? "-wal" : "-shm");
        unlink(side);
    }
    if (strcmp(v->name, "directory") == 0) return v->path;
    if (chaos_copy_file(v->path, work) != 0) chaos_die("copy %s", v->path);
    return work;
}

/*
 * Wait for a command to end. A worker on a file that still works serves it
 * until told to stop: once it logged its start, it gets a second to run its
 * cycles (and its one task), then SIGTERM. Returns 0 when the command hung.
 */
static int wait_command(pid_t pid, int is_worker, const char *errp, double deadline_s, int *st) {
    int64_t deadline = chaos_mono_ms() + (int64_t)(deadline_s * 1000), started = 0;
    for (;;) {
        if (chaos_wait(pid, chaos_mono_ms() + 10, st)) return 1;
        int64_t now = chaos_mono_ms();
        if (is_worker && !started) {
            char *text = chaos_read_file(errp, NULL);
            if (text && strstr(text, " started on queue")) started = now;
            free(text);
        }
        if (started && now - started > 1000) {
            *st = chaos_stop(pid, 20000, 1);
            return 1;
        }
        if (now > deadline) return 0;
    }
}

/* One sitq subcommand on a fresh copy of a file. */
static void run_command(const chaos_opts *o, tally *t, const variant *v, const char *const *cmd,
                        const char *work, const char *errp) {
    const char *db = fresh(v, work);
    char *argv[16];
    int a = 0;
    argv[a++] = (char *)o->sitq;
    argv[a++] = (char *)cmd[0];
    argv[a++] = (char *)db;
    for (int k = 1; cmd[k]; k++) argv[a++] = (char *)cmd[k];
    argv[a] = NULL;
    unlink(errp);
    pid_t pid = chaos_spawn(argv, NULL, errp, NULL);
    int is_worker = strcmp(cmd[0], "worker") == 0;
    int st = 0;
    char what[160];
    snprintf(what, sizeof what, "sitq %.20s on %.60s", cmd[0], v->name);
    if (!wait_command(pid, is_worker, errp, o->deadline_s, &st)) {
        t->hangs++;
        chaos_log("%s: still running after %.0f s", what, o->deadline_s);
        st = chaos_stop(pid, 20000, 1);
    }
    judge(t, what, st, errp, cmd[0]);
}

/* sitq_backend_open_sqlite and the calls after it, in a helper process. */
static void run_open(const chaos_opts *o, tally *t, const variant *v, int create, const char *work,
                     const char *errp) {
    const char *db = fresh(v, work);
    char mode[16];
    snprintf(mode, sizeof mode, "%d", create);
    char *argv[] = {(char *)o->self, "--role", "open-file", (char *)db, mode, NULL};
    unlink(errp);
    pid_t pid = chaos_spawn(argv, NULL, errp, NULL);
    int st = 0;
    char what[160];
    snprintf(what, sizeof what, "sitq_backend_open_sqlite(create=%d) on %.60s", create, v->name);
    if (!chaos_wait(pid, chaos_mono_ms() + (int64_t)(o->deadline_s * 1000), &st)) {
        t->hangs++;
        chaos_log("%s: still running after %.0f s", what, o->deadline_s);
        st = chaos_stop(pid, 1000, 1);
    }
    judge(t, what, st, errp, NULL);
}

static const char *const cmds[][8] = {
    {"stats", NULL},
    {"list", "--status", "any", NULL},
    {"show", "1", NULL},
    {"wait", "1", "--timeout", "0", NULL},
    {"cancel", "2", NULL},
    {"retry", "1", NULL},
    {"purge", "--older-than", "0", NULL},
    {"enqueue", "--", "true", NULL},
    {"worker", "--max-tasks", "1", "--lease", "1", "--poll", "0.01", NULL},
};

int chaos_scn_corrupt(const chaos_opts *o, chaos_figures *f) {
    char dir[512], base[600], work[600], errp[600];
    chaos_mkdtemp(dir, sizeof dir, "corrupt");
    snprintf(base, sizeof base, "%s/base.sqlite", dir);
    snprintf(work, sizeof work, "%s/work.sqlite", dir);
    snprintf(errp, sizeof errp, "%s/stderr.txt", dir);
    chaos_rng rng;
    chaos_rng_seed(&rng, o->seed);
    make_base(base);
    static variant v[MAX_VARIANTS];
    int n = make_variants(v, dir, base, &rng, o->variants);

    tally t = {0};
    const int n_cmds = (int)(sizeof cmds / sizeof cmds[0]), n_runs = n_cmds + 2;
    for (int i = 0; i < n; i++) {
        /* Runs 0..n_cmds-1 are the commands, the last two the library open
         * (create = 0, 1). --sample N runs a seeded random N of them. */
        int order[32];
        for (int r = 0; r < n_runs; r++) order[r] = r;
        for (int r = n_runs - 1; r > 0; r--) {
            int j = (int)chaos_rng_below(&rng, (uint64_t)r + 1), tmp = order[r];
            order[r] = order[j];
            order[j] = tmp;
        }
        int take = o->sample > 0 && o->sample < n_runs ? o->sample : n_runs;
        for (int r = 0; r < take; r++) {
            if (order[r] < n_cmds) run_command(o, &t, &v[i], cmds[order[r]], work, errp);
            else run_open(o, &t, &v[i], order[r] - n_cmds, work, errp);
        }
    }
    f->tasks = n;
    f->bad = t.crashes + t.hangs + t.no_message + t.bad_exit;
    chaos_extra(f,
                "files=%d runs=%" PRId64 " crashes=%" PRId64 " hangs=%" PRId64
                " no_message=%" PRId64 " exit0=%" PRId64 " exit1=%" PRId64 " exit3=%" PRId64,
                n, t.runs, t.crashes, t.hangs, t.no_message, t.by_exit[0], t.by_exit[1],
                t.by_exit[3]);
    if (!o->keep) chaos_rm_rf(dir);
    return f->bad == 0 ? 0 : 1;
}
