/*
 * cmd_limits.c - `sitq pause`, `sitq resume` and `sitq limit`: the stored
 * pause and limits of a queue, which every worker's claim obeys. A --queue
 * that names no known queue is refused as a typo unless --new-queue says
 * the queue is new on purpose (a pause or a limit set before the first
 * enqueue).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "term_escape.h"
#include "diag.h"
#include "output.h"

static const char PAUSE_USAGE[] =
    "usage: sitq pause DB [--queue NAME [--new-queue]] [--json]\n"
    "       sitq resume DB [--queue NAME [--new-queue]] [--json]\n"
    "\n"
    "Pause a queue: no worker claims a task of it until it is resumed (tasks\n"
    "already running finish; enqueues go on). The pause is stored in the\n"
    "database. resume lets workers claim again.\n"
    "\n"
    "  -q, --queue NAME  queue (default \"default\"); a queue that holds no task\n"
    "                    and has no pause, limit, schedule or retention is\n"
    "                    refused as a typo (exit 2)...\n"
    "      --new-queue   ...unless this says it is new on purpose\n"
    "  -j, --json        print {\"queue\", \"paused\"}\n"
    "  -h, --help        show this help\n";

static const char LIMIT_USAGE[] =
    "usage: sitq limit DB [--queue NAME [--new-queue]] [--function F] [--concurrency N]\n"
    "                     [--rate R]\n"
    "       sitq limit DB [--queue NAME [--new-queue]] [--function F] --remove\n"
    "       sitq limit DB [--queue NAME [--new-queue]] [--json]\n"
    "\n"
    "Set, remove or list the limits of a queue, or of one function in it (the\n"
    "same function in another queue has its own). Every worker's claim obeys\n"
    "them, across processes and hosts. Setting replaces the limit it had.\n"
    "Without --concurrency, --rate or --remove: list the queue's limits.\n"
    "\n"
    "  -q, --queue NAME     queue (default \"default\"); a queue that holds no task\n"
    "                       and has no pause, limit, schedule or retention is\n"
    "                       refused as a typo (exit 2)...\n"
    "      --new-queue      ...unless this says it is new on purpose\n"
    "  -f, --function F     limit tasks of function F only (shell tasks: shell);\n"
    "                       without it the limit is the whole queue's\n"
    "  -c, --concurrency N  at most N tasks running at once (1..1000000000)\n"
    "  -r, --rate R         at most COUNT starts per interval: 100/m, 10/s,\n"
    "                       5/30s, 1000/h, 2/d (starts are spread evenly)\n"
    "      --remove         remove the limit (a pause stays); exit 1 when there\n"
    "                       is no such limit\n"
    "  -j, --json           list: a JSON array of {\"function\" (null: the queue),\n"
    "                       \"paused\", \"concurrency\", \"rate\"}\n"
    "  -h, --help           show this help\n";

typedef struct limit_args {
    const char *db, *queue, *function, *rate;
    int64_t concurrency; /* -1: not given */
    int remove, json;
    int queue_given, new_queue; /* --queue, --new-queue */
} limit_args;

/* The value of option argv[*i] (at argv[*i + 1]); NULL with an error. */
static const char *opt_value(const char *cmd, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        cli_errorf(cmd, "option %s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

static int is_opt(const char *a, const char *s, const char *l) {
    return strcmp(a, s) == 0 || strcmp(a, l) == 0;
}

/* Parse argv; -1 to go on, else an exit code. */
static int parse(const char *cmd, int argc, char **argv, int limit_cmd, limit_args *a) {
    memset(a, 0, sizeof *a);
    a->queue = "default";
    a->concurrency = -1;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const char **dst = NULL;
        if (is_opt(s, "-h", "--help")) return -2;
        if (is_opt(s, "-j", "--json")) a->json = 1;
        else if (is_opt(s, "-q", "--queue")) {
            dst = &a->queue;
            a->queue_given = 1;
        } else if (strcmp(s, "--new-queue") == 0) a->new_queue = 1;
        else if (limit_cmd && is_opt(s, "-f", "--function")) dst = &a->function;
        else if (limit_cmd && is_opt(s, "-r", "--rate")) dst = &a->rate;
        else if (limit_cmd && strcmp(s, "--remove") == 0) a->remove = 1;
        else if (limit_cmd && is_opt(s, "-c", "--concurrency")) {
            const char *v = opt_value(cmd, argc, argv, &i);
            if (!v) return CLI_EXIT_USAGE;
            char *end = NULL;
            errno = 0;
            long long n = strtoll(v, &end, 10);
            if (errno || end == v || *end || n < 1 || n > 1000000000LL) {
                cli_errorf(cmd, "--concurrency must be a whole number 1..1000000000, got '%s'", v);
                return CLI_EXIT_USAGE;
            }
            a->concurrency = n;
        } else if (s[0] == '-' && s[1]) {
            cli_errorf(cmd, "unknown option '%s' (see 'sitq %s --help')", s, cmd);
            return CLI_EXIT_USAGE;
        } else if (!a->db) a->db = s;
        else {
            cli_errorf(cmd, "unexpected argument '%s' (see 'sitq %s --help')", s, cmd);
            return CLI_EXIT_USAGE;
        }
        if (dst && !(*dst = opt_value(cmd, argc, argv, &i))) return CLI_EXIT_USAGE;
    }
    if (!a->db) {
        cli_errorf(cmd, "missing DB (see 'sitq %s --help')", cmd);
        return CLI_EXIT_USAGE;
    }
    if (a->remove && (a->concurrency >= 0 || a->rate)) {
        cli_errorf(cmd, "--remove takes no --concurrency or --rate");
        return CLI_EXIT_USAGE;
    }
    if (a->rate && !*a->rate) { /* the library reads "" as no rate: the limit would go */
        cli_errorf(cmd, "--rate must be COUNT/INTERVAL such as 100/m, got ''");
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/* Open the database and queue; a --queue naming no known queue is a typo
 * unless --new-queue is given. */
static int open_checked(const char *cmd, const limit_args *a, enum cli_db_mode mode, cli_db *db) {
    int rc = cli_db_open(cmd, a->db, a->queue, mode, 0, db);
    if (rc || !a->queue_given || a->new_queue) return rc;
    rc = cli_db_check_new_queue(cmd, db, a->queue);
    if (rc) cli_db_close(db);
    return rc;
}

static int run_pause(int argc, char **argv, int paused) {
    const char *cmd = argv[0];
    limit_args a;
    int rc = parse(cmd, argc, argv, 0, &a);
    if (rc == -2) return printf("%s", PAUSE_USAGE) < 0 ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
    if (rc >= 0) return rc;
    cli_db db;
    rc = open_checked(cmd, &a, CLI_DB_MUST_EXIST, &db);
    if (rc) return rc;
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code code = paused ? sitq_queue_pause(db.queue, &err) : sitq_queue_resume(db.queue, &err);
    if (code) rc = cli_api_error(cmd, code, &err);
    else if (a.json)
        rc = print_json_checked(cmd, json_pack("{s:s, s:b}", "queue", a.queue, "paused", paused));
    else {
        char *q = term_escape_str(a.queue, 0);
        printf("queue %s %s\n", q ? q : "?", paused ? "paused" : "resumed");
        free(q);
    }
    cli_db_close(&db);
    return rc;
}

int cmd_pause(int argc, char **argv) { return run_pause(argc, argv, 1); }

int cmd_resume(int argc, char **argv) { return run_pause(argc, argv, 0); }

/* A rate as text ("10/s", "5/30s"), into buf. */
static const char *rate_text(const sitq_limit *l, char *buf, size_t size) {
    static const struct {
        int64_t us;
        char c;
    } units[] = {{86400000000LL, 'd'}, {3600000000LL, 'h'}, {60000000LL, 'm'}, {1000000LL, 's'}};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        if (l->rate_interval_us % units[i].us) continue;
        int64_t k = l->rate_interval_us / units[i].us;
        if (k == 1) snprintf(buf, size, "%" PRId64 "/%c", l->rate_count, units[i].c);
        else snprintf(buf, size, "%" PRId64 "/%" PRId64 "%c", l->rate_count, k, units[i].c);
        return buf;
    }
    snprintf(buf, size, "%" PRId64 "/%" PRId64 "us", l->rate_count, l->rate_interval_us);
    return buf;
}

static int print_limits(const char *cmd, const limit_args *a, const sitq_limit *l, size_t n) {
    if (a->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            char r[64];
            json_array_append_new(
                arr, json_pack("{s:s?, s:b, s:I, s:s?}", "function", l[i].function, "paused",
                               l[i].paused, "concurrency", (json_int_t)l[i].concurrency, "rate",
                               l[i].rate_count ? rate_text(&l[i], r, sizeof r) : NULL));
        }
        return print_json_checked(cmd, arr);
    }
    if (n == 0) {
        char *q = term_escape_str(a->queue, 0);
        printf("queue %s: no pause, no limits\n", q ? q : "?");
        free(q);
    }
    for (size_t i = 0; i < n; i++) {
        char r[64];
        char *name = term_escape_str(l[i].function ? l[i].function : a->queue, 0);
        printf("%s%s%s", l[i].function ? "function " : "queue ", name ? name : "?",
               l[i].paused ? ": paused" : ":");
        free(name);
        if (l[i].concurrency) printf(" concurrency %" PRId64, l[i].concurrency);
        if (l[i].rate_count) printf(" rate %s", rate_text(&l[i], r, sizeof r));
        printf("\n");
    }
    return CLI_EXIT_OK;
}

int cmd_limit(int argc, char **argv) {
    const char *cmd = argv[0];
    limit_args a;
    int rc = parse(cmd, argc, argv, 1, &a);
    if (rc == -2) return printf("%s", LIMIT_USAGE) < 0 ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
    if (rc >= 0) return rc;
    int list = !a.remove && a.concurrency < 0 && !a.rate;
    cli_db db;
    rc = open_checked(cmd, &a, list ? CLI_DB_READ_ONLY : CLI_DB_MUST_EXIST, &db);
    if (rc) return rc;
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code code = SITQ_OK;
    if (list) {
        sitq_limit *l = NULL;
        size_t n = 0;
        code = sitq_queue_limits(db.queue, &l, &n, &err);
        if (!code) rc = print_limits(cmd, &a, l, n);
        sitq_limits_free(l, n);
    } else if (a.remove) {
        code = sitq_queue_remove_limit(db.queue, a.function, &err);
    } else {
        code = sitq_queue_set_limit(db.queue, a.function, a.concurrency < 0 ? 0 : a.concurrency,
                                    a.rate, &err);
    }
    if (code)
        rc = code == SITQ_EINVAL ? (cli_api_error(cmd, code, &err), CLI_EXIT_USAGE)
                                 : cli_api_error(cmd, code, &err);
    else if (!list && !a.json) {
        char *n = term_escape_str(a.function ? a.function : a.queue, 0);
        printf("%s %s: limit %s\n", a.function ? "function" : "queue", n ? n : "?",
               a.remove ? "removed" : "set");
        free(n);
    } else if (!list)
        rc = print_json_checked(cmd, json_pack("{s:s, s:s?, s:b}", "queue", a.queue, "function",
                                               a.function, "removed", a.remove));
    cli_db_close(&db);
    return rc;
}
