/*
 * worker_args.c - parsing the command line of `sitq worker`.
 */
#include "worker_args.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "common_opts.h"
#include "diag.h"
#include "size_arg.h"
#include "store_opts.h"

const char WORKER_USAGE[] =
    "usage: sitq worker DB [options]\n"
    "\n"
    "Run shell tasks of one or more queues until SIGTERM or SIGINT (or, with\n"
    "--burst, until the queues are drained). On the first signal the worker\n"
    "claims nothing more, lets running commands finish (up to --stop-timeout,\n"
    "then they are killed) and exits; a second signal kills running commands at\n"
    "once.\n"
    "\n"
    "  -q, --queue NAME        queue (default \"default\"); repeat it to serve\n"
    "                          several queues (at most 64), given in priority order\n"
    "      --queue-order ORDER priority (the default): always take a task of the\n"
    "                          first queue that has one ready; round-robin: take\n"
    "                          from the queues in turn\n"
    "      --burst             exit (code 0) once no task of the queues is ready,\n"
    "                          running, waiting on dependencies, or scheduled within\n"
    "                          --burst-eta-bound\n"
    "      --burst-eta-bound S with --burst, tasks scheduled (ETA or retry backoff)\n"
    "                          to run within S seconds hold the worker, later ones\n"
    "                          do not; 0..3155760000 (default 60)\n"
    "  -c, --concurrency N     commands run at once, 1..1024 (default 1)\n"
    "      --lease S           lease duration, 0.05..604800 seconds (default 30)\n"
    "      --poll S            how often to look for new tasks, 0.0001..3600 seconds\n"
    "                          (default 0.05, or 1 on PostgreSQL, whose notifications\n"
    "                          wake idle workers at once)\n"
    "      --worker-id ID      worker id (default host:pid:start-time:n)\n"
    "      --max-tasks N       stop after N finished attempts (default: no limit)\n"
    "      --stop-timeout S    at shutdown, wait S seconds for running commands\n"
    "                          before killing them (default 60)\n"
    "      --kill-grace S      SIGTERM to SIGKILL delay when killing a command's\n"
    "                          process group, 0..3599 seconds (default 5)\n"
    "      --max-result SIZE   the most stdout a command may write: bytes, or\n"
    "                          with a unit k, M or G (default 16M, at most the\n"
    "                          database's limit); beyond it the attempt fails\n"
    "      --truncate-result   instead keep the first --max-result bytes of a\n"
    "                          longer stdout as the result (the attempt succeeds;\n"
    "                          the worker log says it was truncated)\n"
    "      --metrics-address [HOST:]PORT\n"
    "                          serve Prometheus metrics at http://HOST:PORT/metrics\n"
    "                          (the store's, as `sitq metrics` prints, and this\n"
    "                          worker's attempt counters and run time and queue\n"
    "                          wait histograms); HOST is an IPv4 address or an\n"
    "                          IPv6 one in brackets ([::1]:9100), by default\n"
    "                          127.0.0.1; PORT digits only, 1..65535, or 0 to\n"
    "                          pick a free port (logged)\n"
    "      --quiet             no log lines on stderr\n"
    "      --env-clear         run commands with an empty environment (default:\n"
    "                          the worker's whole environment)\n"
    "      --env NAME=VALUE    set NAME for commands (repeatable); --env NAME passes\n"
    "                          the worker's own value of NAME\n"
    "      --env-file FILE     set the NAME=VALUE lines of FILE for commands ('#'\n"
    "                          comments; values taken literally)\n" STORE_USAGE
    "  -h, --help              show this help\n"
    "\n"
    "Durations (S) take a unit: 250ms, 30s, 10m, 1h, 7d; a bare number is seconds.\n"
    "Sizes (SIZE) take a unit: 64k, 16M, 1G (powers of 1024); a bare number is bytes.\n"
    "\n"
    "A command's stdout (up to --max-result) is its task's result. A task with\n"
    "dependencies (enqueue --after) finds their results as files in a private\n"
    "directory (mode 0700, under the worker's $TMPDIR or /tmp) removed after the\n"
    "attempt: SITQ_DEP_COUNT=N, SITQ_DEPS_DIR, and for i in 1..N SITQ_DEP_i (the\n"
    "file), SITQ_DEP_i_ID and SITQ_DEP_i_STATUS (succeeded, failed or cancelled).\n"
    "Its stdin is /dev/null, or their concatenation with enqueue --stdin-from-deps.\n"
    "\n"
    "Anyone who can write DB runs any command as this worker's user: see\n"
    "docs/security.md.\n"
    "\n"
    "Exit code: 0 after a graceful stop, 1 when running commands had to be\n"
    "killed at shutdown or the worker failed, 2 usage, 3 storage error.\n";

/* A timed-out command's attempt is recorded this long after its SIGKILL. */
#define TIMEOUT_GRACE_MARGIN_S 1.0
/* The library's largest timeout grace less that margin, so that every
 * --kill-grace the parser takes is one the worker takes. */
#define KILL_GRACE_MAX_S (SITQ_TIMEOUT_GRACE_MAX_S - TIMEOUT_GRACE_MARGIN_S)

/* The long options of `sitq worker`. */
static const struct option WORKER_OPTS[] = {
    {"queue", required_argument, NULL, 'q'},
    {"queue-order", required_argument, NULL, 'O'},
    {"burst", no_argument, NULL, 'B'},
    {"burst-eta-bound", required_argument, NULL, 'E'},
    {"concurrency", required_argument, NULL, 'c'},
    {"lease", required_argument, NULL, 'l'},
    {"poll", required_argument, NULL, 'P'},
    {"worker-id", required_argument, NULL, 'w'},
    {"max-tasks", required_argument, NULL, 'm'},
    {"stop-timeout", required_argument, NULL, 's'},
    {"kill-grace", required_argument, NULL, 'g'},
    {"quiet", no_argument, NULL, 'Q'},
    {"max-result", required_argument, NULL, 'R'},
    {"truncate-result", no_argument, NULL, 'T'},
    {"metrics-address", required_argument, NULL, 'M'},
    {"help", no_argument, NULL, 'h'},
    {"env-clear", no_argument, NULL, 'C'},
    {"env", required_argument, NULL, 'e'},
    {"env-file", required_argument, NULL, 'F'},
    STORE_OPTIONS,
    {NULL, 0, NULL, 0},
};

/* --queue NAME: the first replaces the default, later ones add queues. */
static int add_queue(const char *cmd, const char *text, worker_args *a) {
    const char *name = NULL;
    if (arg_parse_queue(cmd, text, &name) != 0) return -1;
    for (size_t i = 0; i < a->n_queues; i++)
        if (strcmp(a->queues[i], name) == 0) {
            cli_errorf(cmd, "--queue '%s' is given twice", name);
            return -1;
        }
    if (a->n_queues == SITQ_WORKER_QUEUES_MAX) {
        cli_errorf(cmd, "at most %d --queue options", SITQ_WORKER_QUEUES_MAX);
        return -1;
    }
    a->queues[a->n_queues++] = name;
    a->queue = a->queues[0];
    return 0;
}

/* --queue-order priority|round-robin. */
static int parse_order(const char *cmd, const char *text, int *out) {
    if (strcmp(text, "priority") == 0) *out = SITQ_QUEUE_ORDER_PRIORITY;
    else if (strcmp(text, "round-robin") == 0) *out = SITQ_QUEUE_ORDER_ROUND_ROBIN;
    else {
        cli_errorf(cmd, "--queue-order must be priority or round-robin, got '%s'", text);
        return -1;
    }
    return 0;
}

/* The options of several queues and burst mode (-1: not one of them). */
static int parse_queue_opt(const char *cmd, int c, worker_args *a) {
    switch (c) {
    case 'q': return add_queue(cmd, optarg, a) != 0 ? CLI_EXIT_USAGE : 0;
    case 'O': return parse_order(cmd, optarg, &a->wopts.queue_order) != 0 ? CLI_EXIT_USAGE : 0;
    case 'B': a->wopts.burst = 1; return 0;
    case 'E':
        return arg_parse_duration(cmd, "--burst-eta-bound", optarg, 0.0, SITQ_SECONDS_MAX,
                                  &a->wopts.burst_eta_bound_s) != 0
                   ? CLI_EXIT_USAGE
                   : 0;
    default: return -1;
    }
}

/* --max-result and --truncate-result (-1: not one of them). The database's
 * own limit is checked once it is open (worker_args_check_result). */
static int parse_result_opt(const char *cmd, int c, worker_args *a) {
    switch (c) {
    case 'R':
        return arg_parse_size(cmd, "--max-result", optarg, 1, SIZE_MAX, &a->max_result) != 0
                   ? CLI_EXIT_USAGE
                   : 0;
    case 'T': a->truncate_result = 1; return 0;
    case 'M': a->metrics_address = optarg; return 0; /* parsed by cmd_worker */
    default: return -1;
    }
}

int worker_args_check_result(const char *cmd, const worker_args *a, size_t blob_max) {
    if (a->max_result <= blob_max) return 0;
    cli_errorf(cmd,
               "--max-result %" PRIu64 " exceeds this database's limit of %zu bytes per result",
               a->max_result, blob_max);
    return -1;
}

int worker_args_parse(int argc, char **argv, worker_args *a) {
    const char *cmd = argv[0];
    memset(a, 0, sizeof *a);
    a->queue = SITQ_DEFAULT_QUEUE;
    a->stop_timeout_s = 60.0;
    a->kill_grace_s = 5.0;
    a->max_result = WORKER_MAX_RESULT_DEFAULT;
    sitq_worker_options_init(&a->wopts);
    sitq_sqlite_options_init(&a->store);
    worker_env_init(&a->env);
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":q:c:h", WORKER_OPTS, NULL)) != -1) {
        int st = store_opt_parse(cmd, c, optarg, &a->store);
        if (st < 0) return CLI_EXIT_USAGE;
        if (st > 0) continue;
        int qst = parse_queue_opt(cmd, c, a);
        if (qst > 0) return qst;
        if (qst == 0) continue;
        int rst = parse_result_opt(cmd, c, a);
        if (rst > 0) return rst;
        if (rst == 0) continue;
        switch (c) {
        case 'h': return print_usage(WORKER_USAGE);
        case 'c':
            if (arg_parse_int(cmd, "--concurrency", optarg, 1, SITQ_CONCURRENCY_MAX,
                              &a->wopts.concurrency) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'l':
            if (arg_parse_duration(cmd, "--lease", optarg, SITQ_LEASE_MIN_S, SITQ_LEASE_MAX_S,
                                   &a->wopts.lease_s) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'P':
            if (arg_parse_duration(cmd, "--poll", optarg, SITQ_POLL_MIN_S, SITQ_POLL_MAX_S,
                                   &a->wopts.poll_interval_s) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'w':
            if (arg_parse_name(cmd, "--worker-id", optarg, &a->wopts.worker_id) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'm':
            if (arg_parse_i64(cmd, "--max-tasks", optarg, 1, INT64_MAX, &a->max_tasks) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 's':
            if (arg_parse_duration(cmd, "--stop-timeout", optarg, 0.0, SITQ_SECONDS_MAX,
                                   &a->stop_timeout_s) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'g':
            if (arg_parse_duration(cmd, "--kill-grace", optarg, 0.0, KILL_GRACE_MAX_S,
                                   &a->kill_grace_s) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'Q': a->quiet = 1; break;
        case 'C': worker_env_clear(&a->env); break;
        case 'e':
            if (worker_env_add(&a->env, cmd, optarg) != 0) return CLI_EXIT_USAGE;
            break;
        case 'F':
            if (worker_env_add_file(&a->env, cmd, optarg) != 0) return CLI_EXIT_USAGE;
            break;
        default: arg_report_getopt(cmd, c, argv); return CLI_EXIT_USAGE;
        }
    }
    if (arg_check_positionals(cmd, argc, argv, 1, 1, "DB") != 0) return CLI_EXIT_USAGE;
    a->db = argv[optind];
    if (a->n_queues == 0) a->queues[a->n_queues++] = a->queue;
    /* Claim no more than we may run under --max-tasks; else as many again. */
    a->wopts.prefetch = a->max_tasks > 0 ? 0 : a->wopts.concurrency;
    a->wopts.max_tasks = a->max_tasks; /* no more claims than attempts allowed */
    /* A timed-out command gets SIGTERM, then SIGKILL after the kill grace:
     * record the timeout (and allow a retry) only after that. */
    a->wopts.timeout_grace_s = a->kill_grace_s + TIMEOUT_GRACE_MARGIN_S;
    return -1;
}
