/*
 * cmd_schedule.c - `sitq schedule add|list|remove|pause|resume DB ...`:
 * periodic schedules of shell commands, stored in the database and fired by
 * the running workers of their queue (see docs/scheduling.md).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "common_opts.h"
#include "db.h"
#include "diag.h"
#include "term_escape.h"
#include "output.h"
#include "shell_payload.h"
#include "store_opts.h"

static const char SCHEDULE_USAGE[] =
    "usage: sitq schedule add DB NAME (--cron EXPR | --every S) [options] -- COMMAND [ARG...]\n"
    "       sitq schedule list DB [--queue NAME] [--json]\n"
    "       sitq schedule remove|pause|resume DB NAME [--queue NAME] [--json]\n"
    "\n"
    "Periodic tasks stored in the database: at each tick, one running worker of\n"
    "the queue enqueues COMMAND as a task (as `sitq enqueue` does), exactly once\n"
    "however many workers run; no scheduler process is needed. `list` shows each\n"
    "schedule's next fire time (UTC), marked (overdue) once past while no worker\n"
    "of its queue fired it. `resume` moves a paused schedule to its first tick\n"
    "after now.\n"
    "\n"
    "  -q, --queue NAME      queue (default \"default\"; list: every queue)\n"
    "      --cron EXPR       5-field cron expression or @hourly, @daily, ...\n"
    "      --every S         or a fixed interval (10m, 1h, 30s), aligned to the epoch\n"
    "      --timezone TZ     zone of the cron expression: an IANA name\n"
    "                        (Europe/Paris), +HH:MM or UTC (default UTC);\n"
    "                        refused with --every\n"
    "      --catch-up        a tick missed while no worker ran enqueues one task,\n"
    "                        then the schedule moves on (default)\n"
    "      --skip-missed     missed ticks enqueue nothing\n"
    "      --allow-overlap   fire even while the previous task is unfinished\n"
    "                        (default: such a tick is skipped)\n"
    "      --paused          add it paused\n"
    "  -p, --priority N      the tasks' priority (default 0)\n"
    "  -r, --retries N       retries after a failed first attempt (default 0)\n"
    "      --backoff S       delay before the first retry (default 1)\n"
    "      --backoff-cap S   longest delay between retries (default 3600)\n"
    "  -t, --timeout S       kill the command after S seconds (default: no limit)\n"
    "  -j, --json            print JSON (add: {\"queue\", \"name\", \"next_fire\",\n"
    "                        \"paused\"}; list: an array of schedules)\n" STORE_USAGE
    "  -h, --help            show this help\n"
    "\n"
    "A tick more than 60 s late is missed (no worker of the queue ran then).\n"
    "Example: sitq schedule add DB nightly --cron '0 3 * * *' --timezone\n"
    "Europe/Paris -- /usr/local/bin/etl --full\n";

/** Options of every action. */
typedef struct sched_args {
    const char *cmd;
    const char *queue;
    int queue_given;
    int json;
    sitq_schedule_spec spec;
    sitq_task_options opts;
    double every_s;
    sitq_sqlite_options store;
} sched_args;

enum {
    OPT_CRON = 0x2001,
    OPT_EVERY,
    OPT_TZ,
    OPT_CATCH_UP,
    OPT_SKIP,
    OPT_OVERLAP,
    OPT_PAUSED,
    OPT_BACKOFF,
    OPT_BACKOFF_CAP
};

static const struct option SCHED_OPTS[] = {
    {"queue", required_argument, NULL, 'q'},
    {"cron", required_argument, NULL, OPT_CRON},
    {"every", required_argument, NULL, OPT_EVERY},
    {"timezone", required_argument, NULL, OPT_TZ},
    {"catch-up", no_argument, NULL, OPT_CATCH_UP},
    {"skip-missed", no_argument, NULL, OPT_SKIP},
    {"allow-overlap", no_argument, NULL, OPT_OVERLAP},
    {"paused", no_argument, NULL, OPT_PAUSED},
    {"priority", required_argument, NULL, 'p'},
    {"retries", required_argument, NULL, 'r'},
    {"backoff", required_argument, NULL, OPT_BACKOFF},
    {"backoff-cap", required_argument, NULL, OPT_BACKOFF_CAP},
    {"timeout", required_argument, NULL, 't'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    STORE_OPTIONS,
    {NULL, 0, NULL, 0},
};

/** Options that set the task (add only); -1 to go on, else an exit code. */
static int apply_task_option(sched_args *a, int c) {
    int64_t v = 0;
    switch (c) {
    case 'p':
        if (arg_parse_i64(a->cmd, "--priority", optarg, INT32_MIN, INT32_MAX, &v)) return 2;
        a->opts.priority = (int32_t)v;
        return -1;
    case 'r':
        if (arg_parse_i64(a->cmd, "--retries", optarg, 0, 1000000, &v)) return 2;
        a->opts.max_retries = (int32_t)v;
        return -1;
    case OPT_BACKOFF:
        return arg_parse_duration(a->cmd, "--backoff", optarg, 0.0, SITQ_SECONDS_MAX,
                                  &a->opts.backoff_base_s)
                   ? CLI_EXIT_USAGE
                   : -1;
    case OPT_BACKOFF_CAP:
        return arg_parse_duration(a->cmd, "--backoff-cap", optarg, 0.0, SITQ_SECONDS_MAX,
                                  &a->opts.backoff_cap_s)
                   ? CLI_EXIT_USAGE
                   : -1;
    case 't':
        return arg_parse_duration(a->cmd, "--timeout", optarg, 0.0, SITQ_SECONDS_MAX,
                                  &a->opts.timeout_s)
                   ? CLI_EXIT_USAGE
                   : -1;
    default: return 0;
    }
}

/** Apply option c; -1 to go on, else the exit code to return. */
static int apply_option(sched_args *a, int c, char **argv) {
    int rc = apply_task_option(a, c);
    if (rc != 0) return rc;
    switch (c) {
    case 'h': return print_usage(SCHEDULE_USAGE);
    case 'q':
        a->queue_given = 1;
        return arg_parse_queue(a->cmd, optarg, &a->queue) != 0 ? CLI_EXIT_USAGE : -1;
    case OPT_CRON: a->spec.cron = optarg; return -1;
    case OPT_EVERY:
        return arg_parse_duration(a->cmd, "--every", optarg, 1.0, SITQ_SECONDS_MAX, &a->every_s)
                   ? CLI_EXIT_USAGE
                   : -1;
    case OPT_TZ: a->spec.timezone = optarg; return -1;
    case OPT_CATCH_UP: a->spec.skip_missed = 0; return -1;
    case OPT_SKIP: a->spec.skip_missed = 1; return -1;
    case OPT_OVERLAP: a->spec.allow_overlap = 1; return -1;
    case OPT_PAUSED: a->spec.paused = 1; return -1;
    case 'j': a->json = 1; return -1;
    default: arg_report_getopt(a->cmd, c, argv); return CLI_EXIT_USAGE;
    }
}

/** Parse argv (argv[0] = the action); -1 to go on, else an exit code. */
static int parse(int argc, char **argv, sched_args *a) {
    a->queue = SITQ_DEFAULT_QUEUE;
    sitq_schedule_spec_init(&a->spec);
    sitq_task_options_init(&a->opts);
    sitq_sqlite_options_init(&a->store);
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":q:p:r:t:jh", SCHED_OPTS, NULL)) != -1) {
        int st = store_opt_parse(a->cmd, c, optarg, &a->store);
        if (st < 0) return CLI_EXIT_USAGE;
        if (st > 0) continue;
        int rc = apply_option(a, c, argv);
        if (rc >= 0) return rc;
    }
    return -1;
}

static json_t *schedule_json(const sitq_schedule *s) {
    char next[40], last[40];
    fmt_time_iso(s->next_fire_us, 0, next, sizeof next);
    fmt_time_iso(s->last_tick_us, 0, last, sizeof last);
    json_t *j =
        json_pack("{s:s, s:s, s:s?, s:I, s:s?, s:s, s:s, s:b, s:b, s:b, s:i, s:i}", "queue",
                  s->queue, "name", s->name, "cron", s->cron, "every_s", (json_int_t)s->every_s,
                  "timezone", s->timezone, "function", s->function, "next_fire", next, "paused",
                  s->paused, "skip_missed", s->skip_missed, "allow_overlap", s->allow_overlap,
                  "priority", (int)s->priority, "max_retries", (int)s->max_retries);
    if (!j) return NULL;
    json_object_set_new(j, "last_tick", s->last_tick_us ? json_string(last) : json_null());
    json_object_set_new(j, "last_task_id",
                        s->last_task_id ? json_integer((json_int_t)s->last_task_id) : json_null());
    return j;
}

/* An interval as "every 10m", "every 1h30m", "every 1d12h", "every 45s":
 * each unit of d, h, m, s that is not zero, largest first, so the text is
 * exact and reads as the --every it was given with (intervals are >= 1 s). */
static void fmt_interval(int64_t every_s, char *buf, size_t n) {
    static const struct {
        int64_t s;
        char c;
    } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
    size_t len = (size_t)snprintf(buf, n, "every ");
    int64_t left = every_s;
    for (size_t i = 0; i < sizeof units / sizeof *units && len < n; i++) {
        int64_t k = left / units[i].s;
        left %= units[i].s;
        if (k > 0) len += (size_t)snprintf(buf + len, n - len, "%" PRId64 "%c", k, units[i].c);
    }
}

/* One row of the text list. A next fire time already past (no worker of the
 * queue has fired it yet) is marked, so a stalled schedule stands out. */
static void print_row(const sitq_schedule *s, sitq_time_us now_us, int tz_width) {
    char next[60], timing[64];
    fmt_time_iso(s->next_fire_us, 0, next, sizeof next);
    if (!s->paused && s->next_fire_us < now_us) {
        size_t len = strlen(next);
        snprintf(next + len, sizeof next - len, " (overdue)");
    }
    if (s->cron) snprintf(timing, sizeof timing, "%s", s->cron);
    else fmt_interval(s->every_s, timing, sizeof timing);
    /* Stored names may hold control bytes: spelled out, as everywhere. */
    char *queue = term_escape_str(s->queue, 0), *name = term_escape_str(s->name, 0);
    /* --every fires from the Unix epoch: no zone applies to it. */
    printf("%-12s %-20s %-20s %-*s %-8s %s\n", queue ? queue : "?", name ? name : "?", timing,
           tz_width, s->cron ? (s->timezone ? s->timezone : "UTC") : "-",
           s->paused ? "paused" : "active", s->paused ? "-" : next);
    free(queue);
    free(name);
}

/* The TIMEZONE column's width: its heading or the longest zone name. */
static int tz_column_width(sitq_schedule *const *items, size_t n) {
    size_t w = strlen("TIMEZONE");
    for (size_t i = 0; i < n; i++)
        if (items[i]->timezone && strlen(items[i]->timezone) > w) w = strlen(items[i]->timezone);
    return w > 64 ? 64 : (int)w;
}

static int run_list(sched_args *a, int argc, char **argv) {
    if (arg_check_positionals(a->cmd, argc, argv, 1, 1, "DB") != 0) return CLI_EXIT_USAGE;
    cli_db db;
    int rc = cli_db_open(a->cmd, argv[optind], a->queue, CLI_DB_READ_ONLY, 0, &db);
    if (rc != CLI_EXIT_OK) return rc;
    /* A --queue that names nothing is a typo, as for the other commands. */
    if (a->queue_given && (rc = cli_db_check_set_queue(a->cmd, &db, a->queue)) != CLI_EXIT_OK) {
        cli_db_close(&db);
        return rc;
    }
    sitq_schedule **items = NULL;
    size_t n = 0;
    sitq_error err;
    sitq_code code =
        sitq_schedule_list(db.backend, a->queue_given ? a->queue : NULL, &items, &n, &err);
    if (code != SITQ_OK) rc = cli_api_error(a->cmd, code, &err);
    else if (a->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(arr, schedule_json(items[i]));
        rc = print_json_checked(a->cmd, arr);
    } else {
        int tzw = tz_column_width(items, n);
        if (n)
            printf("%-12s %-20s %-20s %-*s %-8s %s\n", "QUEUE", "NAME", "WHEN", tzw, "TIMEZONE",
                   "STATE", "NEXT FIRE (UTC)");
        sitq_time_us now = sitq_now_us();
        for (size_t i = 0; i < n; i++) print_row(items[i], now, tzw);
    }
    for (size_t i = 0; i < n; i++) sitq_schedule_free(items[i]);
    free(items);
    cli_db_close(&db);
    return rc;
}

/* "schedule NAME of queue QUEUE TAIL", the names with their control bytes
 * spelled out. */
static void print_done(const char *name, const char *queue, const char *tail) {
    char *n = term_escape_str(name, 0), *q = term_escape_str(queue, 0);
    printf("schedule %s of queue %s%s\n", n ? n : "?", q ? q : "?", tail);
    free(n);
    free(q);
}

static int run_add(sched_args *a, int argc, char **argv) {
    if (arg_check_positionals(a->cmd, argc, argv, 3, -1, "DB NAME -- COMMAND [ARG...]") != 0)
        return CLI_EXIT_USAGE;
    const char *name = argv[optind + 1];
    if (argv[optind + 2][0] == '\0') {
        cli_errorf(a->cmd, "COMMAND must not be empty");
        return CLI_EXIT_USAGE;
    }
    if ((a->spec.cron != NULL) == (a->every_s > 0)) {
        cli_errorf(a->cmd, "give exactly one of --cron EXPR and --every S");
        return CLI_EXIT_USAGE;
    }
    if (a->every_s > 0 && a->spec.timezone) {
        cli_errorf(a->cmd, "--timezone applies to --cron only: --every fires every S seconds "
                           "from the Unix epoch whatever the zone");
        return CLI_EXIT_USAGE;
    }
    if (a->every_s > 0 && a->every_s != (double)(int64_t)a->every_s) {
        cli_errorf(a->cmd, "--every must be a whole number of seconds");
        return CLI_EXIT_USAGE;
    }
    a->spec.every_s = (int64_t)a->every_s;
    char *payload = NULL;
    size_t len = 0;
    if (shell_payload_encode(argv + optind + 2, argc - optind - 2, 0, &payload, &len) != 0) {
        cli_errorf(a->cmd, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    a->spec.function = SHELL_FUNCTION;
    a->spec.payload = payload;
    a->spec.payload_len = len;
    a->spec.options = &a->opts;
    cli_db db;
    int rc = cli_db_open_opts(a->cmd, argv[optind], a->queue, CLI_DB_CREATE, &a->store, &db, NULL);
    if (rc == CLI_EXIT_OK) {
        sitq_time_us next = 0;
        sitq_error err;
        sitq_code code = sitq_schedule_add(db.queue, name, &a->spec, &next, &err);
        char when[40];
        fmt_time_iso(next, 0, when, sizeof when);
        if (code != SITQ_OK) rc = cli_api_error(a->cmd, code, &err);
        else if (a->json)
            rc = print_json_checked(a->cmd,
                                    json_pack("{s:s, s:s, s:s, s:b}", "queue", a->queue, "name",
                                              name, "next_fire", when, "paused", a->spec.paused));
        /* A paused schedule fires nothing until resumed (at its first tick
         * from then): the stored next fire time means nothing yet. */
        else if (a->spec.paused) print_done(name, a->queue, ": paused");
        else {
            char tail[64];
            snprintf(tail, sizeof tail, ": next fire %s", when);
            print_done(name, a->queue, tail);
        }
        cli_db_close(&db);
    }
    free(payload);
    return rc;
}

static int run_set(sched_args *a, int argc, char **argv, const char *action) {
    if (arg_check_positionals(a->cmd, argc, argv, 2, 2, "DB NAME") != 0) return CLI_EXIT_USAGE;
    const char *name = argv[optind + 1];
    cli_db db;
    int rc = cli_db_open(a->cmd, argv[optind], a->queue, CLI_DB_MUST_EXIST, 0, &db);
    if (rc != CLI_EXIT_OK) return rc;
    sitq_error err;
    sitq_code code = !strcmp(action, "remove")  ? sitq_schedule_remove(db.queue, name, &err)
                     : !strcmp(action, "pause") ? sitq_schedule_pause(db.queue, name, &err)
                                                : sitq_schedule_resume(db.queue, name, &err);
    static const char *const done[] = {"removed", "paused", "resumed"};
    const char *what = done[!strcmp(action, "pause") ? 1 : !strcmp(action, "resume") ? 2 : 0];
    if (code != SITQ_OK) rc = cli_api_error(a->cmd, code, &err);
    else if (a->json)
        rc = print_json_checked(
            a->cmd, json_pack("{s:s, s:s, s:s}", "queue", a->queue, "name", name, "action", what));
    else {
        char tail[16];
        snprintf(tail, sizeof tail, " %s", what);
        print_done(name, a->queue, tail);
    }
    cli_db_close(&db);
    return rc;
}

int cmd_schedule(int argc, char **argv) {
    static const char *const actions[] = {"add", "list", "remove", "pause", "resume"};
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        if (argc >= 2) return print_usage(SCHEDULE_USAGE);
        fputs(SCHEDULE_USAGE, stderr);
        return CLI_EXIT_USAGE;
    }
    int known = 0;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        known |= !strcmp(argv[1], actions[i]);
    if (!known) {
        cli_errorf("schedule", "unknown action '%s' (add, list, remove, pause or resume)", argv[1]);
        return CLI_EXIT_USAGE;
    }
    char cmd[32];
    snprintf(cmd, sizeof cmd, "schedule %s", argv[1]);
    sched_args a;
    memset(&a, 0, sizeof a);
    a.cmd = cmd;
    int rc = parse(argc - 1, argv + 1, &a);
    if (rc >= 0) return rc;
    if (!strcmp(argv[1], "list")) return run_list(&a, argc - 1, argv + 1);
    if (!strcmp(argv[1], "add")) return run_add(&a, argc - 1, argv + 1);
    return run_set(&a, argc - 1, argv + 1, argv[1]);
}
