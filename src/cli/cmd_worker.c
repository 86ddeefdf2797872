/*
 * cmd_worker.c - `sitq worker`: run a worker that executes shell tasks until
 * SIGTERM/SIGINT (or --max-tasks), then stop gracefully.
 */
#include <arpa/inet.h>
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
#include "metrics_http.h"
#include "common_opts.h"
#include "db.h"
#include "diag.h"
#include "fd_limit.h"
#include "shell_handler.h"
#include "shell_payload.h"
#include "worker_args.h"

/** Number of SIGTERM/SIGINT received. */
static atomic_int g_signals;
/** Set on the second signal (or stop timeout): kill running commands now. */
static atomic_int g_abort;
/** Write end of the self-pipe the signal handler wakes the main thread with. */
static int g_wake_fd = -1;

/** SIGTERM/SIGINT handler: count, escalate on the second, wake the main thread. */
static void on_signal(int sig) {
    (void)sig;
    int saved = errno;
    if (atomic_fetch_add(&g_signals, 1) >= 1) atomic_store(&g_abort, 1);
    if (g_wake_fd >= 0) {
        char b = 1;
        ssize_t rc = write(g_wake_fd, &b, 1);
        (void)rc;
    }
    errno = saved;
}

/** Install the SIGTERM/SIGINT handlers and the self-pipe. Returns 0 or -1. */
static int install_signals(int wake_pipe[2]) {
    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    g_wake_fd = wake_pipe[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/** 1 when --max-tasks attempts have finished, or the worker claimed its
 * budget (sitq_worker_options.max_tasks) and every claimed task is done
 * with (released, or its outcome dropped). */
static int reached_max(const worker_args *a, sitq_worker *w) {
    if (a->max_tasks <= 0) return 0;
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);
    int64_t finished = ws.succeeded + ws.failed + ws.cancelled;
    return finished >= a->max_tasks || (ws.claimed >= a->max_tasks && ws.running == 0 &&
                                        finished + ws.released + ws.lost >= ws.claimed);
}

/** 1 when the worker ended by itself (--burst: its queues are drained). */
static int ended(sitq_worker *w) { return sitq_worker_wait(w, 0, NULL) == SITQ_OK; }

/** Wait until a stop signal arrives, --max-tasks is reached or a burst ends. */
static void wait_for_stop(const worker_args *a, sitq_worker *w, int wake_fd) {
    int64_t errors_seen = 0;
    time_t last_report = 0;
    while (atomic_load(&g_signals) == 0 && !reached_max(a, w) && !ended(w)) {
        struct pollfd p = {.fd = wake_fd, .events = POLLIN, .revents = 0};
        if (poll(&p, 1, 100) > 0) {
            char buf[16];
            while (read(wake_fd, buf, sizeof buf) > 0) {}
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
static void log_completion(const sitq_completion_info *info, void *user_data) {
    FILE *log = user_data;
    long long id = (long long)info->id;
    if (!info->applied && info->resent)
        cli_logf(log,
                 "task %lld: %s; the commit that carried the outcome lost its answer, and "
                 "the outcome sent again found the task no longer held: that commit most "
                 "likely recorded it (else the lease was lost and the task may run again)",
                 id, info->succeeded ? "succeeded" : "failed");
    else if (!info->applied)
        cli_logf(log,
                 "task %lld: %s, but the outcome was dropped: the lease was lost (the task "
                 "was recovered and may run again)",
                 id, info->succeeded ? "succeeded" : "failed");
    else if (info->succeeded) cli_logf(log, "task %lld: succeeded", id);
    else if (info->cancelled)
        cli_logf(log, "task %lld: cancelled: %s", id, info->error ? info->error : "(no message)");
    else cli_logf(log, "task %lld: failed: %s", id, info->error ? info->error : "(no message)");
}

/**
 * Open the queues of --queue on db's backend into qs (qs[0] is db's own
 * queue). Returns SITQ_OK, or the library's code with err set (the queues
 * opened so far are closed).
 */
static sitq_code open_queues(const worker_args *a, cli_db *db, sitq_queue **qs, sitq_error *err) {
    qs[0] = db->queue;
    for (size_t i = 1; i < a->n_queues; i++) {
        sitq_code code = sitq_queue_open(db->backend, a->queues[i], &qs[i], err);
        if (code == SITQ_OK) continue;
        for (size_t j = 1; j < i; j++) sitq_queue_close(qs[j]);
        return code;
    }
    return SITQ_OK;
}

/** Close the queues open_queues opened. */
static void close_queues(const worker_args *a, sitq_queue **qs) {
    for (size_t i = 1; i < a->n_queues; i++) sitq_queue_close(qs[i]);
}

/** The worker's first log line: its queues, their order, burst mode. */
static void log_start(const worker_args *a, sitq_worker *w) {
    char shown[1024], names[1024];
    size_t o = 0;
    names[0] = '\0';
    for (size_t i = 0; i < a->n_queues && o < sizeof names; i++) {
        int n = snprintf(names + o, sizeof names - o, "%s'%s'", i ? ", " : "", a->queues[i]);
        if (n < 0) break;
        o += (size_t)n;
    }
    const char *order = a->n_queues < 2 ? ""
                        : a->wopts.queue_order == SITQ_QUEUE_ORDER_ROUND_ROBIN
                            ? " in round-robin order"
                            : " in priority order";
    cli_logf(stderr, "%s started on queue%s %s%s of %s (concurrency %d%s)", sitq_worker_id(w),
             a->n_queues > 1 ? "s" : "", names, order, cli_db_display(a->db, shown, sizeof shown),
             a->wopts.concurrency, a->wopts.burst ? ", burst" : "");
}

/** Serve /metrics (--metrics-address) for worker w; NULL after an error it printed. */
static metrics_http *start_metrics(const worker_args *a, sitq_queue *q, sitq_worker *w) {
    char msg[256];
    metrics_http *mh =
        metrics_http_start(&a->metrics_addr, sitq_queue_backend(q), w, msg, sizeof msg);
    if (!mh) cli_errorf("worker", "--metrics-address %s", msg);
    return mh;
}

/** Monotonic clock in seconds. */
static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* After the killed commands' SIGKILL (--kill-grace after their SIGTERM),
 * how long their attempts get to be recorded before the worker leaves. */
#define RECORD_MARGIN_S 2.0

/**
 * Stop w: wait up to --stop-timeout for the running commands to finish and
 * their results to be recorded, in short slices so that a second signal
 * cuts the wait short. Then kill what still runs and stop within a bounded
 * time (sitq_worker_shutdown): what cannot be recorded by then (a store
 * that keeps failing: disk full, server gone) is left to the leases, which
 * lapse and hand the tasks to recovery, as after a crash. Returns an exit
 * code: 0 for a clean stop, 1 otherwise.
 */
static int stop_worker(const worker_args *a, sitq_worker *w) {
    const char *cmd = "worker";
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);
    int64_t errors_before = ws.errors, lost_before = ws.lost;
    double deadline = mono_s() + a->stop_timeout_s;
    sitq_code code;
    for (;;) {
        double left = deadline - mono_s();
        code = sitq_worker_stop_wait(w, left < 0 ? 0 : left < 0.1 ? left : 0.1, NULL);
        if (code != SITQ_ETIMEDOUT || atomic_load(&g_abort) || mono_s() >= deadline) break;
    }
    int second_signal = atomic_load(&g_abort);
    if (code == SITQ_OK && second_signal)
        cli_errorf(cmd, "second signal: running commands were killed");
    if (code == SITQ_OK) return second_signal ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
    char why[64];
    if (second_signal) snprintf(why, sizeof why, "second signal");
    else snprintf(why, sizeof why, "stop timeout (%g s)", a->stop_timeout_s);
    sitq_worker_get_stats(w, &ws);
    double grace = ws.running > 0 ? a->kill_grace_s + RECORD_MARGIN_S : RECORD_MARGIN_S;
    /* Nothing to kill and a store that answers (--stop-timeout 0, or a
     * last commit still under way): only the recording is left, and a
     * stop that records everything is a clean one. */
    int only_recording = ws.running == 0 && ws.errors == errors_before && !second_signal;
    /* The shell handlers kill their commands (also one that started as
     * the count was read). */
    atomic_store(&g_abort, 1);
    char killing[64] = "";
    if (ws.running > 0)
        snprintf(killing, sizeof killing, "killing %d running command(s); ", ws.running);
    if (ws.errors > errors_before)
        cli_errorf(cmd,
                   "%s: %sthe database is failing (%" PRId64 " failed transactions while "
                   "stopping; last: %s): outcomes not recorded within %g s are left to their "
                   "leases, which lapse and hand the tasks to recovery",
                   why, killing, ws.errors - errors_before, ws.last_error, grace);
    else if (!only_recording)
        cli_errorf(cmd, "%s: %sthe outcomes not yet recorded get %g s", why, killing, grace);
    (void)sitq_worker_shutdown(w, grace, NULL);
    if (!only_recording) return CLI_EXIT_FAILURE;
    sitq_worker_get_stats(w, &ws);
    if (ws.lost == lost_before && ws.errors == errors_before) return CLI_EXIT_OK;
    cli_errorf(cmd,
               "the database failed while stopping (%s): %" PRId64
               " outcome(s) left to their leases, which lapse and hand the tasks to recovery",
               ws.last_error, ws.lost - lost_before);
    return CLI_EXIT_FAILURE;
}

/** Create, start, run and stop the worker on the open queues qs. Returns an exit code. */
static int run_worker_on(worker_args *a, sitq_queue **qs, int wake_fd) {
    const char *cmd = "worker";
    shell_handler_config cfg;
    shell_handler_config_init(&cfg);
    cfg.abort_now = &g_abort;
    cfg.kill_grace_s = a->kill_grace_s;
    cfg.max_stdout = (size_t)a->max_result;
    cfg.truncate_stdout = a->truncate_result;
    cfg.log = a->quiet ? NULL : stderr;
    char **envp = NULL;
    if (worker_env_build(&a->env, &envp) != 0) {
        cli_errorf(cmd, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    cfg.envp = envp;

    /* Enough open files for every handler thread's command, before the
     * threads start. */
    char warn[300];
    if (fd_limit_raise(a->wopts.concurrency, warn, sizeof warn) != 0)
        cli_errorf(cmd, "warning: %s", warn);

    sitq_worker *w = NULL;
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code code = sitq_worker_create_multi(qs, a->n_queues, &a->wopts, &w, &err);
    if (code == SITQ_OK) code = sitq_worker_register(w, SHELL_FUNCTION, shell_handler, &cfg, &err);
    if (code == SITQ_OK && !a->quiet)
        code = sitq_worker_on_completion(w, log_completion, stderr, &err);
    /* Handler threads inherit this mask: signals go to the main thread only. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    metrics_http *mh = NULL;
    if (code == SITQ_OK && a->metrics_address && !(mh = start_metrics(a, qs[0], w))) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        sitq_worker_free(w);
        return CLI_EXIT_FAILURE;
    }
    if (code == SITQ_OK) code = sitq_worker_start(w, &err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (code != SITQ_OK) {
        int rc = cli_api_error(cmd, code, &err);
        metrics_http_stop(mh);
        sitq_worker_free(w);
        return rc;
    }
    if (!a->quiet) log_start(a, w);
    if (mh && !a->quiet) {
        char where[HTTP_ADDR_TEXT_MAX];
        http_addr_format(&a->metrics_addr, metrics_http_port(mh), where, sizeof where);
        cli_logf(stderr, "metrics at http://%s/metrics", where);
    }

    wait_for_stop(a, w, wake_fd);
    if (!a->quiet && sitq_worker_drained(w)) cli_logf(stderr, "queues drained (--burst): stopping");
    else if (!a->quiet)
        cli_logf(stderr, "stopping (waiting up to %g s for running tasks)", a->stop_timeout_s);
    int rc = stop_worker(a, w);
    metrics_http_stop(mh);
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);
    sitq_worker_free(w);
    if (!a->quiet)
        cli_logf(stderr,
                 "stopped: %" PRId64 " claimed, %" PRId64 " succeeded, %" PRId64 " failed, %" PRId64
                 " cancelled, %" PRId64 " released, %" PRId64 " lost",
                 ws.claimed, ws.succeeded, ws.failed, ws.cancelled, ws.released, ws.lost);
    return rc;
}

/** Open the other queues, then run the worker. Returns an exit code. */
static int run_worker(worker_args *a, cli_db *db, int wake_fd) {
    /* The limit is the backend's: known only now that it is open. */
    if (worker_args_check_result("worker", a, sitq_backend_blob_max(db->backend)) != 0)
        return CLI_EXIT_USAGE;
    sitq_queue *qs[SITQ_WORKER_QUEUES_MAX] = {NULL};
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code code = open_queues(a, db, qs, &err);
    if (code != SITQ_OK) return cli_api_error("worker", code, &err);
    int rc = run_worker_on(a, qs, wake_fd);
    close_queues(a, qs);
    return rc;
}

/**
 * Open the database; while another process holds its lock (SITQ_EBUSY),
 * say so and retry every second until a stop signal. Returns an exit code.
 */
static int open_retrying(const worker_args *a, cli_db *db, int wake_fd) {
    for (;;) {
        sitq_code code = SITQ_OK;
        int rc = cli_db_open_opts("worker", a->db, a->queue, CLI_DB_CREATE, &a->store, db, &code);
        if (rc == CLI_EXIT_OK || code != SITQ_EBUSY || atomic_load(&g_signals) > 0) return rc;
        /* An error, so printed even with --quiet. */
        char shown[1024];
        fprintf(stderr,
                "sitq worker: database %s is locked by another process; "
                "retrying the open in 1 s\n",
                cli_db_display(a->db, shown, sizeof shown));
        struct pollfd p = {.fd = wake_fd, .events = POLLIN, .revents = 0};
        if (poll(&p, 1, 1000) > 0 || atomic_load(&g_signals) > 0) return CLI_EXIT_STORAGE;
    }
}

int cmd_worker(int argc, char **argv) {
    worker_args a;
    int rc = worker_args_parse(argc, argv, &a);
    if (rc < 0 && a.metrics_address) {
        char msg[256];
        if (metrics_address_parse(a.metrics_address, &a.metrics_addr, msg, sizeof msg) != 0) {
            cli_errorf(argv[0], "--metrics-address %s", msg);
            rc = CLI_EXIT_USAGE;
        }
    }
    if (rc >= 0) {
        worker_env_free(&a.env);
        return rc;
    }

    int wake[2] = {-1, -1};
    if (install_signals(wake) != 0) {
        cli_errorf(argv[0], "cannot install signal handlers: %s", strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    cli_db db;
    rc = open_retrying(&a, &db, wake[0]);
    if (rc == CLI_EXIT_OK) {
        rc = run_worker(&a, &db, wake[0]);
        cli_db_close(&db);
    }
    worker_env_free(&a.env);
    return rc;
}
