/*
 * cmd_top.c - `sitq top DB`: a live view of a store for operators. Each
 * refresh reads a bounded snapshot (top_snapshot.c) and feeds the
 * throughput tracker (top_rate.c); the lines (top_view.c) are drawn by
 * curses on a terminal (top_screen.c) or printed once as plain text with
 * --once or when stdout is not a terminal.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "db.h"
#include "diag.h"
#include "top_screen.h"

static const char TOP_USAGE[] =
    "usage: sitq top DB [--interval S] [--queue NAME] [--once] [--count-cap N]\n"
    "\n"
    "A live view of the store, refreshed every interval: the tasks of each\n"
    "queue by status, the throughput over the last minute (attempts finished\n"
    "per second, from the growth of the workers' own counters between the\n"
    "view's samples, so that purges and retention do not skew it), the workers\n"
    "(running, dead, then stopped within the last minute) with the tasks they\n"
    "run (started ones; those claimed ahead and not started are counted apart,\n"
    "as in sitq workers), and the latest failed tasks. Keys: q quits, p pauses and resumes\n"
    "the refresh. Ctrl-C and SIGTERM quit too; the terminal is restored however\n"
    "the view ends. A store out of reach for a while (a lost connection) leaves\n"
    "the last snapshot on screen under the error until a refresh reads it.\n"
    "When stdout is not a terminal, or with --once, it prints one plain\n"
    "snapshot and exits: it samples twice, the interval apart, so that the\n"
    "throughput covers that interval. Each status is counted up to\n"
    "--count-cap tasks, so that a refresh costs the same whatever the\n"
    "backlog; a status with more shows the cap with a \"+\" (\"100k+\");\n"
    "sitq queues counts exactly.\n"
    "\n"
    "  -i, --interval S  seconds between refreshes, 0.1 to 3600 (default 1); a\n"
    "                    duration with a unit (500ms, 2s) or a bare number\n"
    "  -q, --queue NAME  only this queue, its tasks and the workers that serve it\n"
    "                    (an error when there is no such queue)\n"
    "      --once        print one plain snapshot and exit\n"
    "      --count-cap N most tasks of one status a refresh counts\n"
    "                    (1..1000000000; default 100000)\n"
    "  -h, --help        show this help\n";

/** Options of `sitq top`. */
typedef struct top_opts {
    const char *db;
    const char *queue; /* NULL: every queue */
    double interval_s;
    int once;
    int64_t count_cap;
} top_opts;

/** State shared by the samples and the rendering. */
typedef struct top_ctx {
    const char *cmd;
    const top_opts *o;
    cli_db db;
    char shown_db[512];
    top_rate rate;
    top_snapshot snap;
    int have_snap;                       /* snap holds a snapshot */
    int interactive;                     /* the curses view is up */
    char stale[SITQ_ERROR_MESSAGE_SIZE]; /* the error of the last refresh when it
                                            failed and snap is older; "" otherwise */
    sitq_error err;                      /* of a failed sample, printed once the terminal is back */
    sitq_code code;
} top_ctx;

/* Parse argv into *o. Returns -1 to go on, else the exit code. */
static int parse_top(int argc, char **argv, top_opts *o) {
    static const struct option opts[] = {
        {"interval", required_argument, NULL, 'i'}, {"queue", required_argument, NULL, 'q'},
        {"once", no_argument, NULL, 'O'},           {"count-cap", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    const char *cmd = argv[0];
    memset(o, 0, sizeof *o);
    o->interval_s = 1.0;
    o->count_cap = TOP_COUNT_CAP_DEFAULT;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":i:q:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (arg_parse_duration(cmd, "--interval", optarg, 0.1, 3600.0, &o->interval_s) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'q':
            if (arg_parse_queue(cmd, optarg, &o->queue) != 0) return CLI_EXIT_USAGE;
            break;
        case 'O': o->once = 1; break;
        case 'C':
            if (arg_parse_i64(cmd, "--count-cap", optarg, 1, 1000000000, &o->count_cap) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'h': fputs(TOP_USAGE, stdout); return CLI_EXIT_OK;
        default: arg_report_getopt(cmd, c, argv); return CLI_EXIT_USAGE;
        }
    }
    if (arg_check_positionals(cmd, argc, argv, 1, 1, "DB") != 0) return CLI_EXIT_USAGE;
    o->db = argv[optind];
    return -1;
}

/* A store error that the live view rides out: the store is out of reach
 * for now (a PostgreSQL restart, a lost connection that the next call
 * reconnects, a busy SQLite file), and the next refresh may read it again. */
static int transient(sitq_code code) { return code == SITQ_ESTORAGE || code == SITQ_EBUSY; }

/* top_screen_ops.sample: a new snapshot, its workers fed to the throughput.
 * On the terminal, a transient error keeps the last snapshot on screen
 * with the error above it, and the next refresh tries again. */
static int top_sample(void *p) {
    top_ctx *t = p;
    top_snapshot next;
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code code = top_snapshot_take(t->db.backend, t->o->queue, t->o->count_cap, &next, &err);
    if (code == SITQ_OK &&
        top_rate_add(&t->rate, next.workers, next.n_workers, t->o->queue, next.at_us) != 0) {
        top_snapshot_free(&next);
        code = SITQ_ENOMEM;
        snprintf(err.message, sizeof err.message, "out of memory");
    }
    if (code != SITQ_OK && t->interactive && t->have_snap && transient(code)) {
        snprintf(t->stale, sizeof t->stale, "%s",
                 err.message[0] ? err.message : sitq_strerror(code));
        return CLI_EXIT_OK;
    }
    if (code != SITQ_OK) {
        t->code = code;
        t->err = err;
        return cli_exit_for_code(code);
    }
    top_snapshot_free(&t->snap);
    t->snap = next;
    t->have_snap = 1;
    t->stale[0] = '\0';
    return CLI_EXIT_OK;
}

static void top_build(top_ctx *t, int interactive, int paused, top_lines *out) {
    top_view_in in;
    memset(&in, 0, sizeof in);
    in.db = t->shown_db;
    in.queue = t->o->queue;
    in.interval_s = t->o->interval_s;
    in.paused = paused;
    in.interactive = interactive;
    in.max_workers = interactive ? 500 : 20;
    in.handle = t->db.queue;
    in.snap = &t->snap;
    in.rate = top_rate_get(&t->rate, t->snap.at_us);
    in.stale = t->stale;
    top_view_build(&in, out);
}

/* top_screen_ops.render */
static void top_render(void *p, int paused, top_lines *out) { top_build(p, 1, paused, out); }

/* Sleep s seconds (through signals that do not end the process). */
static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* --once: two samples the interval apart, then the plain lines. */
static int run_once(top_ctx *t) {
    int rc = top_sample(t);
    if (rc == CLI_EXIT_OK) {
        sleep_s(t->o->interval_s);
        rc = top_sample(t);
    }
    if (rc != CLI_EXIT_OK) return rc;
    top_lines l;
    top_build(t, 0, 0, &l);
    for (size_t i = 0; i < l.n; i++) printf("%s\n", l.line[i]);
    int oom = l.oom;
    top_lines_free(&l);
    if (oom) {
        cli_errorf(t->cmd, "out of memory: the view is cut");
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

static int run_top(top_ctx *t) {
    if (!t->o->once && isatty(STDOUT_FILENO)) {
        static const top_screen_ops ops = {top_sample, top_render};
        t->interactive = 1;
        int rc = top_screen_run(t->o->interval_s, &ops, t);
        t->interactive = 0;
        if (rc != TOP_SCREEN_NO_TERMINAL) return rc;
        cli_errorf(t->cmd, "curses cannot drive this terminal (TERM=%s): printing one snapshot",
                   getenv("TERM") != NULL ? getenv("TERM") : "");
    }
    return run_once(t);
}

int cmd_top(int argc, char **argv) {
    top_opts o;
    int rc = parse_top(argc, argv, &o);
    if (rc >= 0) return rc;
    top_ctx t;
    memset(&t, 0, sizeof t);
    t.cmd = argv[0];
    t.o = &o;
    top_rate_init(&t.rate);
    cli_db_display(o.db, t.shown_db, sizeof t.shown_db);
    rc = cli_db_open(t.cmd, o.db, o.queue, CLI_DB_READ_ONLY, 0, &t.db);
    if (rc != CLI_EXIT_OK) return rc;
    if (o.queue != NULL) rc = cli_db_check_queue(t.cmd, t.db.backend, o.queue);
    if (rc == CLI_EXIT_OK) rc = run_top(&t);
    if (rc != CLI_EXIT_OK && t.code != SITQ_OK) rc = cli_api_error(t.cmd, t.code, &t.err);
    top_snapshot_free(&t.snap);
    top_rate_free(&t.rate);
    cli_db_close(&t.db);
    return rc;
}
