/*
 * cmd_worker.c - `sitq worker`: run a worker that executes shell tasks until
 * SIGTERM/SIGINT (or --max-tasks), then stop gracefully.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "common_opts.h"
#include "db.h"
#include "diag.h"
#include "shell_handler.h"
#include "shell_payload.h"

static const char WORKER_USAGE[] =
    "usage: sitq worker DB [options]\n"
    "\n"
    "Run shell tasks of a queue until SIGTERM or SIGINT. On the first signal the\n"
    "worker claims nothing more, lets running commands finish (up to\n"
    "--stop-timeout, then they are killed) and exits; a second signal kills\n"
    "running commands at once.\n"
    "\n"
    "  -q, --queue NAME        queue (default \"default\")\n"
    "  -c, --concurrency N     commands run at once, 1..1024 (default 1)\n"
    "      --lease S           lease duration, 0.05..604800 seconds (default 30)\n"
    "      --poll S            how often to look for new tasks, 0.0001..3600 seconds\n"
    "                          (default 0.05)\n"
    "      --worker-id ID      worker id (default host:pid:start-time:n)\n"
    "      --max-tasks N       stop after N finished attempts (default: no limit)\n"
    "      --stop-timeout S    at shutdown, wait S seconds for running commands\n"
    "                          before killing them (default 60)\n"
    "      --kill-grace S      SIGTERM to SIGKILL delay when killing a command's\n"
    "                          process group, 0..3599 seconds (default 5)\n"
    "      --quiet             no log lines on stderr\n"
    "  -h, --help              show this help\n"
    "\n"
    "Exit code: 0 after a graceful stop, 1 when running commands had to be\n"
    "killed at shutdown or the worker failed, 2 usage, 3 storage error.\n";

/* A timed-out command's attempt is recorded this long after its SIGKILL. */
#define TIMEOUT_GRACE_MARGIN_S 1.0
/* The library's largest timeout grace less that margin, so that every
 * --kill-grace the parser takes is one the worker takes. */
#define KILL_GRACE_MAX_S (SITQ_TIMEOUT_GRACE_MAX_S - TIMEOUT_GRACE_MARGIN_S)

/** Number of SIGTERM/SIGINT received. */
static atomic_int g_signals;
/** Set on the second signal (or stop timeout): kill running commands now. */
static atomic_int g_abort;
/** Write end of the self-pipe the signal handler wakes the main thread with. */
static int g_wake_fd = -1;

/** Parsed worker options. */
typedef struct worker_args {
    const char *queue;
    sitq_worker_options wopts;
    int64_t max_tasks;
    double stop_timeout_s;
    double kill_grace_s;
    int quiet;
    const char *db;
} worker_args;

/** SIGTERM/SIGINT handler: count, escalate on the second, wake the main thread. */
static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    if (atomic_fetch_add(&g_signals, 1) >= 1)
        atomic_store(&g_abort, 1);
    if (g_wake_fd >= 0) {
        char b = 1;
        ssize_t rc = write(g_wake_fd, &b, 1);
        (void)rc;
    }
    errno = saved;
}

/** Parse the worker options into *a. Returns -1 to go on, else an exit code. */
static int parse_worker(int argc, char **argv, worker_args *a)
{
    const char *cmd = argv[0];
    static const struct option opts[] = {
        {"queue", required_argument, NULL, 'q'},
        {"concurrency", required_argument, NULL, 'c'},
        {"lease", required_argument, NULL, 'l'},
        {"poll", required_argument, NULL, 'P'},
        {"worker-id", required_argument, NULL, 'w'},
        {"max-tasks", required_argument, NULL, 'm'},
        {"stop-timeout", required_argument, NULL, 's'},
        {"kill-grace", required_argument, NULL, 'g'},
        {"quiet", no_argument, NULL, 'Q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":q:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            return print_usage(WORKER_USAGE);
        case 'q':
            if (arg_parse_queue(cmd, optarg, &a->queue) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'c':
            if (arg_parse_int(cmd, "--concurrency", optarg, 1, SITQ_CONCURRENCY_MAX, &a->wopts.concurrency) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'l':
            if (arg_parse_double(cmd, "--lease", optarg, SITQ_LEASE_MIN_S, SITQ_LEASE_MAX_S,
                                 &a->wopts.lease_s) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'P':
            if (arg_parse_double(cmd, "--poll", optarg, SITQ_POLL_MIN_S, SITQ_POLL_MAX_S,
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
            if (arg_parse_double(cmd, "--stop-timeout", optarg, 0.0, SITQ_SECONDS_MAX,
                                 &a->stop_timeout_s) !=
                0)
                return CLI_EXIT_USAGE;
            break;
        case 'g':
            if (arg_parse_double(cmd, "--kill-grace", optarg, 0.0, KILL_GRACE_MAX_S,
                                 &a->kill_grace_s) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'Q':
            a->quiet = 1;
            break;
        default:
            arg_report_getopt(cmd, c, argv);
            return CLI_EXIT_USAGE;
        }
    }
    if (arg_check_positionals(cmd, argc, argv, 1, 1, "DB") != 0)
        return CLI_EXIT_USAGE;
    a->db = argv[optind];
    /* Claim no more than we may run under --max-tasks; else as many again. */
    a->wopts.prefetch = a->max_tasks > 0 ? 0 : a->wopts.concurrency;
    /* A timed-out command gets SIGTERM, then SIGKILL after the kill grace:
     * record the timeout (and allow a retry) only after that. */
    a->wopts.timeout_grace_s = a->kill_grace_s + TIMEOUT_GRACE_MARGIN_S;
    return -1;
}

/** Install the SIGTERM/SIGINT handlers and the self-pipe. Returns 0 or -1. */
static int install_signals(int wake_pipe[2])
{
    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    g_wake_fd = wake_pipe[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/** 1 when --max-tasks attempts have finished. */
static int reached_max(const worker_args *a, sitq_worker *w)
{
    if (a->max_tasks <= 0)
        return 0;
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);
    return ws.succeeded + ws.failed >= a->max_tasks;
}

/** Wait until a stop signal arrives or --max-tasks is reached. */
static void wait_for_stop(const worker_args *a, sitq_worker *w, int wake_fd)
{
    int64_t errors_seen = 0;
    time_t last_report = 0;
    while (atomic_load(&g_signals) == 0 && !reached_max(a, w)) {
        struct pollfd p = {.fd = wake_fd, .events = POLLIN, .revents = 0};
        if (poll(&p, 1, 100) > 0) {
            char buf[16];
            while (read(wake_fd, buf, sizeof buf) > 0) {
            }
        }
        /* The worker retries failed transactions on its own; say so, once
         * per new error, so that a broken database is never silent. */
        sitq_worker_stats ws;
        sitq_worker_get_stats(w, &ws);
        time_t now = time(NULL);
        if (ws.errors > errors_seen && now - last_report >= 5) {
            cli_errorf("worker", "database error (%" PRId64 " so far; retrying): %s", ws.errors,
                       ws.last_error);
            errors_seen = ws.errors;
            last_report = now;
        }
    }
}

/**
 * Log what the worker's commit did with an attempt's outcome
 * (sitq_completion_fn; user_data is the log stream).
 */
static void log_completion(const sitq_completion_info *info, void *user_data)
{
    FILE *log = user_data;
    long long id = (long long)info->id;
    if (!info->applied)
        cli_logf(log,
                 "task %lld: %s, but the outcome was dropped: the lease was lost (the task "
                 "was recovered and may run again)",
                 id, info->succeeded ? "succeeded" : "failed");
    else if (info->succeeded)
        cli_logf(log, "task %lld: succeeded", id);
    else
        cli_logf(log, "task %lld: failed: %s", id, info->error ? info->error : "(no message)");
}

/** Create, start, run and stop the worker on an open database. Returns an exit code. */
static int run_worker(const worker_args *a, cli_db *db, int wake_fd)
{
    const char *cmd = "worker";
    shell_handler_config cfg;
    shell_handler_config_init(&cfg);
    cfg.abort_now = &g_abort;
    cfg.kill_grace_s = a->kill_grace_s;
    cfg.log = a->quiet ? NULL : stderr;

    sitq_worker *w = NULL;
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code code = sitq_worker_create(db->queue, &a->wopts, &w, &err);
    if (code == SITQ_OK)
        code = sitq_worker_register(w, SHELL_FUNCTION, shell_handler, &cfg, &err);
    if (code == SITQ_OK && !a->quiet)
        code = sitq_worker_on_completion(w, log_completion, stderr, &err);
    /* Handler threads inherit this mask: signals go to the main thread only. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    if (code == SITQ_OK)
        code = sitq_worker_start(w, &err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (code != SITQ_OK) {
        int rc = cli_api_error(cmd, code, &err);
        sitq_worker_free(w);
        return rc;
    }
    if (!a->quiet)
        cli_logf(stderr, "%s started on queue '%s' (concurrency %d)", sitq_worker_id(w),
                 a->queue, a->wopts.concurrency);

    wait_for_stop(a, w, wake_fd);
    if (!a->quiet)
        cli_logf(stderr, "stopping (waiting up to %g s for running tasks)", a->stop_timeout_s);
    int rc = CLI_EXIT_OK;
    memset(&err, 0, sizeof err);
    code = sitq_worker_stop(w, a->stop_timeout_s, &err);
    if (code == SITQ_ETIMEDOUT) {
        atomic_store(&g_abort, 1);
        cli_errorf(cmd, "running tasks did not finish within %g s: killing them",
                   a->stop_timeout_s);
        rc = CLI_EXIT_FAILURE;
        /* Wait for the killed commands so that the counters below are final. */
        (void)sitq_worker_stop(w, -1.0, NULL);
    } else if (code != SITQ_OK) {
        rc = cli_api_error(cmd, code, &err);
    }
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);
    sitq_worker_free(w);
    if (atomic_load(&g_abort) && rc == CLI_EXIT_OK)
        rc = CLI_EXIT_FAILURE;
    if (!a->quiet)
        cli_logf(stderr,
                 "stopped: %" PRId64 " claimed, %" PRId64 " succeeded, %" PRId64
                 " failed, %" PRId64 " released, %" PRId64 " lost",
                 ws.claimed, ws.succeeded, ws.failed, ws.released, ws.lost);
    return rc;
}

int cmd_worker(int argc, char **argv)
{
    worker_args a;
    memset(&a, 0, sizeof a);
    a.queue = SITQ_DEFAULT_QUEUE;
    a.stop_timeout_s = 60.0;
    a.kill_grace_s = 5.0;
    sitq_worker_options_init(&a.wopts);
    int rc = parse_worker(argc, argv, &a);
    if (rc >= 0)
        return rc;

    int wake[2] = {-1, -1};
    if (install_signals(wake) != 0) {
        cli_errorf(argv[0], "cannot install signal handlers: %s", strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    cli_db db;
    rc = cli_db_open(argv[0], a.db, a.queue, CLI_DB_CREATE, 4, &db);
    if (rc == CLI_EXIT_OK) {
        rc = run_worker(&a, &db, wake[0]);
        cli_db_close(&db);
    }
    return rc;
}
