/*
 * enqueue_args.c - parsing the command line of `sitq enqueue`.
 */
#include "enqueue_args.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "common_opts.h"
#include "diag.h"
#include "shell_payload.h"
#include "store_opts.h"

const char ENQUEUE_USAGE[] =
    "usage: sitq enqueue DB [options] -- COMMAND [ARG...]\n"
    "\n"
    "Enqueue a task that runs COMMAND with its arguments (no shell is involved;\n"
    "use `-- sh -c '...'` for shell syntax) and print its id.\n"
    "\n"
    "  -q, --queue NAME      queue (default \"default\")\n"
    "  -p, --priority N      higher runs first, -2147483648..2147483647 (default 0)\n"
    "  -d, --delay S         run not before S seconds from now (default 0)\n"
    "  -a, --after ID        run only after task ID succeeded (repeatable)\n"
    "      --finalizer       run once every --after task finished, whatever its\n"
    "                        outcome (succeeded, failed, cancelled); needs --after\n"
    "      --stdin-from-deps the command's stdin is the results of the --after tasks,\n"
    "                        concatenated in --after order (default: /dev/null)\n"
    "  -r, --retries N       retries after a failed first attempt, 0..1000000 (default 0)\n"
    "      --backoff S       delay before the first retry, doubling each retry (default 1)\n"
    "      --backoff-cap S   longest delay between retries (default 3600)\n"
    "  -t, --timeout S       kill the command after S seconds (default: no limit)\n"
    "  -u, --unique KEY      while an unfinished task of the queue has KEY, print its id\n"
    "                        instead of adding a new task\n"
    "      --keep DUR        keep the task this long after it finished, or \"forever\"\n"
    "                        (default: the queue's retention, see sitq retention)\n"
    "  -j, --json            print {\"id\": N}\n" STORE_USAGE
    "  -h, --help            show this help\n"
    "\n"
    "Durations (S) take a unit: 250ms, 30s, 10m, 1h, 7d; a bare number is seconds.\n"
    "\n"
    "A task's stdout is its result. The worker hands a task with --after the\n"
    "results of its dependencies as files in a private temporary directory,\n"
    "removed after the attempt: SITQ_DEP_COUNT=N, SITQ_DEPS_DIR, and for i in\n"
    "1..N (--after order) SITQ_DEP_i (the file), SITQ_DEP_i_ID and\n"
    "SITQ_DEP_i_STATUS (succeeded, failed or cancelled; only a --finalizer\n"
    "sees the last two; their files are empty). Example of a pipeline:\n"
    "  a=$(sitq enqueue DB -- ls /etc); b=$(sitq enqueue DB -- ls /usr)\n"
    "  sitq enqueue DB --after $a --after $b --stdin-from-deps -- sh -c 'sort | uniq -c'\n";

/** Append an --after id; returns 0 or -1 (out of memory, message printed). */
static int add_after(const char *cmd, enqueue_args *a, sitq_task_id id) {
    sitq_task_id *p = realloc(a->after, (a->n_after + 1) * sizeof *p);
    if (p == NULL) {
        cli_errorf(cmd, "out of memory");
        return -1;
    }
    p[a->n_after++] = id;
    a->after = p;
    return 0;
}

/** The long options of `sitq enqueue`. */
static const struct option ENQUEUE_OPTS[] = {
    {"queue", required_argument, NULL, 'q'},
    {"priority", required_argument, NULL, 'p'},
    {"delay", required_argument, NULL, 'd'},
    {"after", required_argument, NULL, 'a'},
    {"finalizer", no_argument, NULL, 'F'},
    {"stdin-from-deps", no_argument, NULL, 'S'},
    {"retries", required_argument, NULL, 'r'},
    {"backoff", required_argument, NULL, 'b'},
    {"backoff-cap", required_argument, NULL, 'c'},
    {"timeout", required_argument, NULL, 't'},
    {"unique", required_argument, NULL, 'u'},
    {"keep", required_argument, NULL, 'K'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    STORE_OPTIONS,
    {NULL, 0, NULL, 0},
};

/** Apply the option c of getopt_long (its value in optarg) to a; returns -1
 * to go on, or the exit code to return (help printed, or usage error). */
static int apply_option(const char *cmd, int c, char **argv, enqueue_args *a) {
    int64_t v = 0;
    sitq_task_id id = 0;
    switch (c) {
    case 'h': return print_usage(ENQUEUE_USAGE);
    case 'q': return arg_parse_queue(cmd, optarg, &a->queue) != 0 ? CLI_EXIT_USAGE : -1;
    case 'p':
        if (arg_parse_i64(cmd, "--priority", optarg, INT32_MIN, INT32_MAX, &v) != 0)
            return CLI_EXIT_USAGE;
        a->opts.priority = (int32_t)v;
        return -1;
    case 'd':
        return arg_parse_duration(cmd, "--delay", optarg, 0.0, SITQ_SECONDS_MAX, &a->opts.delay_s)
                   ? CLI_EXIT_USAGE
                   : -1;
    case 'a':
        if (arg_parse_id(cmd, "--after ID", optarg, &id) != 0) return CLI_EXIT_USAGE;
        return add_after(cmd, a, id) != 0 ? CLI_EXIT_FAILURE : -1;
    case 'r':
        if (arg_parse_i64(cmd, "--retries", optarg, 0, 1000000, &v) != 0) return CLI_EXIT_USAGE;
        a->opts.max_retries = (int32_t)v;
        return -1;
    case 'b':
        return arg_parse_duration(cmd, "--backoff", optarg, 0.0, SITQ_SECONDS_MAX,
                                  &a->opts.backoff_base_s)
                   ? CLI_EXIT_USAGE
                   : -1;
    case 'c':
        return arg_parse_duration(cmd, "--backoff-cap", optarg, 0.0, SITQ_SECONDS_MAX,
                                  &a->opts.backoff_cap_s)
                   ? CLI_EXIT_USAGE
                   : -1;
    case 't':
        return arg_parse_duration(cmd, "--timeout", optarg, 0.0, SITQ_SECONDS_MAX,
                                  &a->opts.timeout_s)
                   ? CLI_EXIT_USAGE
                   : -1;
    case 'u':
        return arg_parse_name(cmd, "--unique", optarg, &a->opts.unique_key) ? CLI_EXIT_USAGE : -1;
    case 'K': return arg_parse_keep(cmd, "--keep", optarg, &a->opts.keep_s) ? CLI_EXIT_USAGE : -1;
    case 'j': a->json = 1; return -1;
    case 'F': a->opts.finalizer = 1; return -1;
    case 'S': a->shell_opts |= SHELL_OPT_STDIN_DEPS; return -1;
    default:
        arg_report_getopt(cmd, c, argv);
        if (c == '?')
            fprintf(stderr, "  (options of COMMAND go after '--': "
                            "sitq enqueue DB -- COMMAND ARG...)\n");
        return CLI_EXIT_USAGE;
    }
}

int enqueue_args_parse(int argc, char **argv, enqueue_args *a) {
    const char *cmd = argv[0];
    memset(a, 0, sizeof *a);
    a->queue = SITQ_DEFAULT_QUEUE;
    sitq_task_options_init(&a->opts);
    sitq_sqlite_options_init(&a->store);
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":q:p:d:a:r:t:u:jh", ENQUEUE_OPTS, NULL)) != -1) {
        int st = store_opt_parse(cmd, c, optarg, &a->store);
        if (st < 0) return CLI_EXIT_USAGE;
        if (st > 0) continue;
        int rc = apply_option(cmd, c, argv, a);
        if (rc >= 0) return rc;
    }
    if (arg_check_positionals(cmd, argc, argv, 2, -1, "DB -- COMMAND [ARG...]") != 0)
        return CLI_EXIT_USAGE;
    if ((a->shell_opts & SHELL_OPT_STDIN_DEPS) && a->n_after == 0) {
        cli_errorf(cmd, "--stdin-from-deps needs --after ID");
        return CLI_EXIT_USAGE;
    }
    /* A finalizer without dependencies would run as a plain task: the flag
     * was meant for something, most likely with an --after that was lost. */
    if (a->opts.finalizer && a->n_after == 0) {
        cli_errorf(cmd, "--finalizer needs --after ID");
        return CLI_EXIT_USAGE;
    }
    if (argv[optind + 1][0] == '\0') {
        cli_errorf(cmd, "COMMAND must not be empty");
        return CLI_EXIT_USAGE;
    }
    return -1;
}
