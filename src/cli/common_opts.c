/*
 * common_opts.c - getopt_long parsing of the options shared by the
 * inspection and management subcommands.
 */
#include "common_opts.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "cli.h"
#include "db.h"
#include "diag.h"
#include "list_page.h"
#include "store_opts.h"

int print_usage(const char *usage) {
    fputs(usage, stdout);
    return CLI_EXIT_OK;
}

/** Parse a --status value (a status name, or "any"/"all"). Returns 0 or -1. */
static int parse_status(const char *cmd, const char *text, int *out) {
    /* Any case, as the status names themselves (sitq_status_parse). */
    if (strcasecmp(text, "any") == 0 || strcasecmp(text, "all") == 0) {
        *out = SITQ_STATUS_ANY;
        return 0;
    }
    int s = sitq_status_parse(text);
    if (s < 0) {
        cli_errorf(cmd,
                   "invalid value '%s' for --status: expected queued, waiting, scheduled, "
                   "running, succeeded, failed, cancelled or any",
                   text);
        return -1;
    }
    *out = s;
    return 0;
}

/* The COPT_* flag a subcommand needs to accept option c (0: always). */
static unsigned option_flag(int c) {
    switch (c) {
    case 's': return COPT_STATUS;
    case 'n':
    case 'o': return COPT_LIMIT;
    case 't': return COPT_TIMEOUT;
    case 'a': return COPT_OLDER_THAN;
    case 'v': return COPT_VALUE;
    case 'D': return COPT_DEPS;
    case 'J': return COPT_JSONL;
    case 'F':
    case 'S':
    case 'U': return COPT_FILTER;
    case 'R': return COPT_DRY_RUN;
    case 'W': return COPT_WORKER;
    case 'A': return COPT_ALL;
    case 'B':
    case 'L': return COPT_PAGE;
    case 'C': return COPT_COUNT_CAP;
    case 'T': return COPT_WRITE;
    default: return 0;
    }
}

/* Apply option c (with optarg) to o. Returns -1 to go on, or the exit
 * code to return at once. */
static int apply_option(const char *cmd, int c, char **argv, common_opts *o) {
    switch (c) {
    case 'q':
        if (arg_parse_queue(cmd, optarg, &o->queue) != 0) return CLI_EXIT_USAGE;
        o->queue_given = 1;
        break;
    case 'j': o->json = 1; break;
    case 'v': o->value_only = 1; break;
    case 'D': o->deps = 1; break;
    case 'J': o->jsonl = 1; break;
    case 's':
        if (parse_status(cmd, optarg, &o->status) != 0) return CLI_EXIT_USAGE;
        o->status_given = 1;
        break;
    case 'n':
        if (arg_parse_i64(cmd, "--limit", optarg, 1, 1000000, &o->limit) != 0)
            return CLI_EXIT_USAGE;
        break;
    case 'o':
        if (arg_parse_i64(cmd, "--offset", optarg, 0, INT64_MAX, &o->offset) != 0)
            return CLI_EXIT_USAGE;
        break;
    case 't':
        if (arg_parse_duration(cmd, "--timeout", optarg, 0.0, SITQ_SECONDS_MAX, &o->timeout_s) != 0)
            return CLI_EXIT_USAGE;
        break;
    case 'a':
        if (arg_parse_duration(cmd, "--older-than", optarg, 0.0, SITQ_SECONDS_MAX,
                               &o->older_than_s) != 0)
            return CLI_EXIT_USAGE;
        break;
    case 'F':
        if (arg_parse_name(cmd, "--function", optarg, &o->function) != 0) return CLI_EXIT_USAGE;
        break;
    case 'S':
        if (arg_parse_time(cmd, "--since", optarg, sitq_now_us(), &o->since_us) != 0)
            return CLI_EXIT_USAGE;
        break;
    case 'U':
        if (arg_parse_time(cmd, "--until", optarg, sitq_now_us(), &o->until_us) != 0)
            return CLI_EXIT_USAGE;
        break;
    case 'R': o->dry_run = 1; break;
    case 'W':
        if (arg_parse_name(cmd, "--worker", optarg, &o->worker_id) != 0) return CLI_EXIT_USAGE;
        break;
    case 'A': o->all = 1; break;
    case 'B':
        if (arg_parse_id(cmd, "--before", optarg, &o->before_id) != 0) return CLI_EXIT_USAGE;
        break;
    case 'L':
        if (arg_parse_i64(cmd, "--scan-limit", optarg, 1, 1000000000, &o->scan_limit) != 0)
            return CLI_EXIT_USAGE;
        break;
    case 'C':
        if (arg_parse_i64(cmd, "--count-cap", optarg, 1, 1000000000, &o->count_cap) != 0)
            return CLI_EXIT_USAGE;
        break;
    case 'T':
        if (store_parse_busy_timeout(cmd, optarg, &o->busy_timeout_ms) != 0) return CLI_EXIT_USAGE;
        break;
    default: arg_report_getopt(cmd, c, argv); return CLI_EXIT_USAGE;
    }
    return -1;
}

int common_opts_parse(int argc, char **argv, unsigned flags, int want_id, const char *usage,
                      common_opts *o) {
    const char *cmd = argv[0];
    static const struct option all[] = {
        {"queue", required_argument, NULL, 'q'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"status", required_argument, NULL, 's'},
        {"limit", required_argument, NULL, 'n'},
        {"offset", required_argument, NULL, 'o'},
        {"timeout", required_argument, NULL, 't'},
        {"older-than", required_argument, NULL, 'a'},
        {"value", no_argument, NULL, 'v'},
        {"deps", no_argument, NULL, 'D'},
        {"jsonl", no_argument, NULL, 'J'},
        {"function", required_argument, NULL, 'F'},
        {"since", required_argument, NULL, 'S'},
        {"until", required_argument, NULL, 'U'},
        {"dry-run", no_argument, NULL, 'R'},
        {"worker", required_argument, NULL, 'W'},
        {"all", no_argument, NULL, 'A'},
        {"before", required_argument, NULL, 'B'},
        {"scan-limit", required_argument, NULL, 'L'},
        {"count-cap", required_argument, NULL, 'C'},
        {"busy-timeout", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->queue = SITQ_DEFAULT_QUEUE;
    o->status = SITQ_STATUS_ANY;
    o->limit = CLI_DEFAULT_LIST_LIMIT;
    o->scan_limit = LIST_SCAN_DEFAULT;
    o->timeout_s = -1.0;
    o->older_than_s = CLI_DEFAULT_PURGE_AGE_S;
    o->busy_timeout_ms = -1;

    optind = 0;
    opterr = 0;
    int c;
    int idx = -1;
    while ((c = getopt_long(argc, argv, ":q:jh", all, &idx)) != -1) {
        unsigned need = option_flag(c);
        if (need != 0 && (flags & need) == 0) {
            cli_errorf(cmd, "unknown option '--%s' (see 'sitq %s --help')",
                       idx >= 0 ? all[idx].name : "?", cmd);
            return CLI_EXIT_USAGE;
        }
        if (c == 'h') return print_usage(usage);
        int rc = apply_option(cmd, c, argv, o);
        if (rc >= 0) return rc;
        idx = -1;
    }
    int npos = want_id == 1 ? 2 : 1, max = want_id ? 2 : 1;
    if (arg_check_positionals(cmd, argc, argv, npos, max,
                              want_id == 1 ? "DB ID"
                              : want_id    ? "DB [ID]"
                                           : "DB") != 0)
        return CLI_EXIT_USAGE;
    o->db = argv[optind];
    if (argc - optind > 1 && arg_parse_id(cmd, "task ID", argv[optind + 1], &o->id) != 0)
        return CLI_EXIT_USAGE;
    return -1;
}

/* Task ids are unique across queues: find the queue of o->id, refuse it
 * when --queue named another one, and otherwise open it in place of the
 * default queue (o->queue then points into *name, which the caller frees
 * after the command ran). Returns an exit code. */
static int cli_db_task_queue(const char *cmd, common_opts *o, cli_db *db, char **name) {
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code code = sitq_task_queue(db->backend, o->id, name, &err);
    if (code != SITQ_OK) return cli_api_error(cmd, code, &err);
    if (strcmp(*name, o->queue) == 0) return CLI_EXIT_OK;
    if (o->queue_given) {
        cli_errorf(cmd,
                   "task %lld is in queue '%s', not in queue '%s' (task ids are unique "
                   "across queues: --queue is not needed)",
                   (long long)o->id, *name, o->queue);
        return CLI_EXIT_FAILURE;
    }
    sitq_queue *q = NULL;
    code = sitq_queue_open(db->backend, *name, &q, &err);
    if (code != SITQ_OK) return cli_api_error(cmd, code, &err);
    sitq_queue_close(db->queue);
    db->queue = q;
    o->queue = *name;
    return CLI_EXIT_OK;
}

int common_opts_run(int argc, char **argv, unsigned flags, int want_id, const char *usage,
                    common_cmd_fn fn) {
    common_opts o;
    int rc = common_opts_parse(argc, argv, flags, want_id, usage, &o);
    if (rc >= 0) return rc;
    if ((flags & COPT_VALUE) && (o.json || o.deps) && o.value_only) {
        cli_errorf(argv[0], "--%s and --value cannot be used together", o.deps ? "deps" : "json");
        return CLI_EXIT_USAGE;
    }
    if (o.json && o.jsonl) {
        cli_errorf(argv[0], "--json and --jsonl cannot be used together");
        return CLI_EXIT_USAGE;
    }
    cli_db db;
    sitq_sqlite_options opts;
    sitq_sqlite_options_init(&opts);
    opts.reader_connections = 0;
    if (o.busy_timeout_ms >= 0) opts.busy_timeout_ms = o.busy_timeout_ms;
    rc = cli_db_open_opts(argv[0], o.db, o.queue,
                          (flags & COPT_WRITE) ? CLI_DB_MUST_EXIST : CLI_DB_READ_ONLY, &opts, &db,
                          NULL);
    if (rc != CLI_EXIT_OK) return rc;
    if (o.queue_given) rc = cli_db_check_queue(argv[0], db.backend, o.queue);
    char *task_queue = NULL;
    if (rc == CLI_EXIT_OK && o.id > 0) rc = cli_db_task_queue(argv[0], &o, &db, &task_queue);
    if (rc == CLI_EXIT_OK) {
        sitq_error err;
        memset(&err, 0, sizeof err);
        rc = fn(argv[0], &o, db.queue, &err);
    }
    cli_db_close(&db);
    free(task_queue);
    return rc;
}
