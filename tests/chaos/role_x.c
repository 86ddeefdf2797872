/* role_x.c - the helper processes of the counted scenarios (scn_pg.c,
 * scn_stop.c), started as `sitq_chaos --role NAME`:
 *
 *   x-worker DB CONCURRENCY LEASE_S LOG   a C worker of XTASK tasks until
 *                                         SIGTERM; every execution and every
 *                                         committed outcome goes to LOG
 *   x-producer DB SECONDS LOG             enqueue one XTASK task at a time
 *                                         for SECONDS; "A ID" in LOG for
 *                                         each acknowledged one
 *
 * LOG lines (one write each, O_APPEND, so the file is the order of events
 * across processes): "S ID ATTEMPT PID" when a handler starts, "E ID
 * ATTEMPT PID" when it ends, "C ID PID APPLIED" when the worker's commit
 * reported the outcome (APPLIED 0: dropped, the lease was lost). The task
 * stores its worker's pid as its result, so the stored result names the
 * execution that won. Its payload is the milliseconds it holds the task
 * before it ends (text, "0": none). */
#include "chaos.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int xlog_fd = -1;

/* Append one formatted line to the log in a single write. */
static void xlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void xlog(const char *fmt, ...) {
    char line[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0 && write(xlog_fd, line, (size_t)n) != n) _exit(3);
}

static int open_xlog(const char *path) {
    xlog_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (xlog_fd < 0) fprintf(stderr, "chaos role: open %s: %s\n", path, strerror(errno));
    return xlog_fd < 0 ? -1 : 0;
}

static int xtask(sitq_task_ctx *ctx, const void *payload, size_t len, void *user) {
    (void)user;
    int64_t id = (int64_t)sitq_ctx_task_id(ctx);
    int attempt = (int)sitq_ctx_attempt(ctx), pid = (int)getpid();
    char hold[16] = "0";
    if (len > 0 && len < sizeof hold) {
        memcpy(hold, payload, len);
        hold[len] = '\0';
    }
    xlog("S %" PRId64 " %d %d\n", id, attempt, pid);
    int ms = atoi(hold);
    if (ms > 0) chaos_sleep_ms(ms);
    char result[16];
    int n = snprintf(result, sizeof result, "%d", pid);
    xlog("E %" PRId64 " %d %d\n", id, attempt, pid);
    return sitq_ctx_set_result(ctx, result, (size_t)n) == SITQ_OK ? 0 : 1;
}

static void on_completion(const sitq_completion_info *info, void *user) {
    (void)user;
    xlog("C %" PRId64 " %d %d\n", (int64_t)info->id, (int)getpid(), info->applied);
}

static int open_target(const char *db, sitq_backend **b, sitq_queue **q) {
    sitq_error err;
    if (sitq_backend_open(db, b, &err) != SITQ_OK ||
        sitq_queue_open(*b, NULL, q, &err) != SITQ_OK) {
        fprintf(stderr, "chaos role: open %s: %s (%s)\n", db, err.message,
                sitq_code_name(err.code));
        return -1;
    }
    return 0;
}

static int x_worker(const char *db, int concurrency, double lease_s, const char *log) {
    if (open_xlog(log)) return 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread: only sigwait sees them */
    sitq_backend *b;
    sitq_queue *q;
    if (open_target(db, &b, &q)) return 1;
    sitq_worker_options wo;
    sitq_worker_options_init(&wo);
    wo.concurrency = concurrency;
    wo.lease_s = lease_s;
    wo.poll_interval_s = 0.02;
    sitq_worker *w;
    sitq_error err;
    if (sitq_worker_create(q, &wo, &w, &err) != SITQ_OK ||
        sitq_worker_register(w, CHAOS_XTASK, xtask, NULL, &err) != SITQ_OK ||
        sitq_worker_on_completion(w, on_completion, NULL, &err) != SITQ_OK ||
        sitq_worker_start(w, &err) != SITQ_OK) {
        fprintf(stderr, "chaos role: worker: %s\n", err.message);
        return 1;
    }
    fprintf(stderr, "chaos x-worker %d: serving queue\n", (int)getpid());
    int sig = 0;
    sigwait(&set, &sig);
    sitq_worker_stop(w, 30, NULL);
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);
    fprintf(stderr,
            "chaos x-worker %d: %" PRId64 " succeeded, %" PRId64 " lost, %" PRId64 " errors%s%s\n",
            (int)getpid(), ws.succeeded, ws.lost, ws.errors, ws.errors ? ": " : "",
            ws.errors ? ws.last_error : "");
    sitq_worker_free(w);
    sitq_queue_close(q);
    sitq_backend_close(b);
    return 0;
}

/* Enqueue one task at a time for `seconds`; a refused enqueue (the server
 * away) is retried after 20 ms. Prints "ACKED REFUSED" at the end. */
static int x_producer(const char *db, double seconds, const char *log) {
    if (open_xlog(log)) return 1;
    sitq_backend *b;
    sitq_queue *q;
    if (open_target(db, &b, &q)) return 1;
    sitq_task_options eo;
    sitq_task_options_init(&eo);
    eo.max_retries = CHAOS_XRETRIES;
    int64_t end = chaos_mono_ms() + (int64_t)(seconds * 1000), acked = 0, refused = 0;
    while (chaos_mono_ms() < end) {
        sitq_task_id id;
        sitq_error err;
        if (sitq_enqueue(q, CHAOS_XTASK, "0", 1, &eo, &id, &err) == SITQ_OK) {
            xlog("A %" PRId64 "\n", (int64_t)id);
            acked++;
        } else {
            if (refused++ < 3)
                fprintf(stderr, "chaos role: enqueue: %s (%s)\n", err.message,
                        sitq_code_name(err.code));
            chaos_sleep_ms(20);
        }
    }
    printf("%" PRId64 " %" PRId64 "\n", acked, refused);
    fflush(stdout);
    sitq_queue_close(q);
    sitq_backend_close(b);
    return 0;
}

int chaos_role_x(const char *name, int argc, char **argv) {
    if (strcmp(name, "x-worker") == 0 && argc == 4)
        return x_worker(argv[0], atoi(argv[1]), atof(argv[2]), argv[3]);
    if (strcmp(name, "x-producer") == 0 && argc == 3)
        return x_producer(argv[0], atof(argv[1]), argv[2]);
    return -1;
}
