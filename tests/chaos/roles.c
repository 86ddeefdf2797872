/* roles.c - the harness started as a helper process (sitq_chaos --role NAME):
 *
 *   batch-producer DB QUEUE N   enqueue N tasks in one batch; prints "R" on
 *                               stdout just before the call and "D" after it
 *   load-producer DB SECONDS    enqueue one task at a time for SECONDS; prints
 *                               the number acknowledged
 *   c-worker DB CONCURRENCY LOG run a C worker of no-op tasks until SIGTERM;
 *                               each task appends "E ID PID" to LOG
 *   burn                        burn CPU until killed (a loaded machine)
 *   open-file PATH CREATE       open PATH with sitq_backend_open_sqlite (create
 *                               = 0 or 1) and, when that works, call the
 *                               queue's operations; exit 1 when a failing
 *                               call gave no message
 */
#include "chaos.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOOP "chaos.noop"

static int open_queue(const char *db, const char *queue, sitq_backend **b, sitq_queue **q) {
    sitq_error err;
    if (sitq_backend_open_sqlite(db, NULL, b, &err) != SITQ_OK ||
        sitq_queue_open(*b, queue, q, &err) != SITQ_OK) {
        fprintf(stderr, "chaos role: open %s: %s (%s)\n", db, err.message,
                sitq_code_name(err.code));
        return -1;
    }
    return 0;
}

static int batch_producer(const char *db, const char *queue, size_t n) {
    sitq_backend *b;
    sitq_queue *q;
    if (open_queue(db, queue, &b, &q)) return 1;
    sitq_task_spec *specs = calloc(n, sizeof *specs);
    size_t *deps = calloc(n, sizeof *deps);
    uint64_t *payloads = calloc(n, sizeof *payloads);
    sitq_task_id *ids = calloc(n, sizeof *ids);
    int rc = 1;
    if (!specs || !deps || !payloads || !ids) goto out;
    for (size_t i = 0; i < n; i++) {
        payloads[i] = i;
        specs[i] = (sitq_task_spec){
            .function = NOOP, .payload = &payloads[i], .payload_len = sizeof payloads[i]};
        /* Every tenth task depends on its predecessor: edges are part of the batch. */
        if (i % 10 == 9) {
            deps[i] = i - 1;
            specs[i].depends_on_index = &deps[i];
            specs[i].n_depends_on_index = 1;
        }
    }
    printf("R\n");
    fflush(stdout);
    sitq_error err;
    if (sitq_enqueue_batch(q, specs, n, ids, &err) != SITQ_OK) {
        fprintf(stderr, "chaos role: enqueue_batch: %s\n", err.message);
        goto out;
    }
    printf("D\n");
    fflush(stdout);
    rc = 0;
out:
    free(ids);
    free(payloads);
    free(deps);
    free(specs);
    if (rc) return rc;
    sitq_queue_close(q);
    sitq_backend_close(b);
    return 0;
}

static int load_producer(const char *db, double seconds) {
    sitq_backend *b;
    sitq_queue *q;
    if (open_queue(db, NULL, &b, &q)) return 1;
    int64_t end = chaos_mono_ms() + (int64_t)(seconds * 1000), acked = 0, failed = 0;
    char payload[64];
    memset(payload, 'p', sizeof payload);
    while (chaos_mono_ms() < end) {
        sitq_task_id id;
        sitq_error err;
        if (sitq_enqueue(q, NOOP, payload, sizeof payload, NULL, &id, &err) == SITQ_OK) {
            acked++;
        } else if (failed++ < 3) {
            fprintf(stderr, "chaos role: enqueue: %s (%s)\n", err.message,
                    sitq_code_name(err.code));
        }
    }
    printf("%" PRId64 " %" PRId64 "\n", acked, failed);
    fflush(stdout);
    sitq_queue_close(q);
    sitq_backend_close(b);
    return 0;
}

static int noop(sitq_task_ctx *ctx, const void *payload, size_t len, void *user) {
    (void)ctx;
    (void)payload;
    (void)len;
    (void)user;
    return 0;
}

/* A no-op task that appends "E ID PID" to the execution log (user: its fd),
 * in one write so that lines of concurrent processes never mix. */
static int noop_logged(sitq_task_ctx *ctx, const void *payload, size_t len, void *user) {
    (void)payload;
    (void)len;
    char line[64];
    int n = snprintf(line, sizeof line, "E %" PRId64 " %d\n", (int64_t)sitq_ctx_task_id(ctx),
                     (int)getpid());
    return write(*(int *)user, line, (size_t)n) == n ? 0 : 1;
}

static int c_worker(const char *db, int concurrency, const char *log) {
    static int log_fd;
    log_fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        fprintf(stderr, "chaos role: open %s: %s\n", log, strerror(errno));
        return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* Block before any thread starts so that only sigwait sees them. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sitq_backend *b;
    sitq_queue *q;
    if (open_queue(db, NULL, &b, &q)) return 1;
    sitq_worker_options wo;
    sitq_worker_options_init(&wo);
    wo.concurrency = concurrency;
    wo.poll_interval_s = 0.01;
    sitq_worker *w;
    sitq_error err;
    if (sitq_worker_create(q, &wo, &w, &err) != SITQ_OK ||
        sitq_worker_register(w, NOOP, noop_logged, &log_fd, &err) != SITQ_OK ||
        sitq_worker_start(w, &err) != SITQ_OK) {
        fprintf(stderr, "chaos role: worker: %s\n", err.message);
        return 1;
    }
    int sig = 0;
    sigwait(&set, &sig);
    sitq_worker_stop(w, 30, NULL);
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);
    fprintf(stderr, "chaos c-worker: %" PRId64 " succeeded, %" PRId64 " errors%s%s\n", ws.succeeded,
            ws.errors, ws.errors ? ": " : "", ws.errors ? ws.last_error : "");
    sitq_worker_free(w);
    sitq_queue_close(q);
    sitq_backend_close(b);
    return 0;
}

static int burn(void) {
    volatile uint64_t x = 0;
    for (;;) x = x * 6364136223846793005ull + 1;
    return 0;
}

/* 1 when a call failed without a matching code and message in err. */
static int bad_error(const char *call, sitq_code code, const sitq_error *err) {
    if (code == SITQ_OK) return 0;
    if (err->code != code || err->message[0] == '\0') {
        fprintf(stderr, "chaos role: %s returned %s without a message\n", call,
                sitq_code_name(code));
        return 1;
    }
    return 0;
}

static int open_file(const char *path, int create) {
    sitq_sqlite_options so;
    sitq_sqlite_options_init(&so);
    so.create = create;
    so.busy_timeout_ms = 2000;
    sitq_backend *b = NULL;
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code c = sitq_backend_open_sqlite(path, &so, &b, &err);
    if (c != SITQ_OK) return bad_error("sitq_backend_open_sqlite", c, &err);
    int bad = 0;
    sitq_queue *q = NULL;
    if ((c = sitq_queue_open(b, NULL, &q, &err)) != SITQ_OK) {
        bad |= bad_error("sitq_queue_open", c, &err);
        sitq_backend_close(b);
        return bad;
    }
    sitq_stats st;
    bad |= bad_error("sitq_get_stats", sitq_get_stats(q, &st, &err), &err);
    sitq_result **items = NULL;
    size_t n = 0;
    if (!bad_error("sitq_list", sitq_list(q, SITQ_STATUS_ANY, 1000, 0, &items, &n, &err), &err))
        sitq_result_list_free(items, n);
    else bad = 1;
    sitq_result *r = NULL;
    bad |= bad_error("sitq_get_result", sitq_get_result(q, 1, &r, &err), &err);
    sitq_result_free(r);
    void *payload = NULL;
    size_t len = 0;
    bad |= bad_error("sitq_get_payload", sitq_get_payload(q, 1, &payload, &len, &err), &err);
    free(payload);
    sitq_task_id id;
    bad |= bad_error("sitq_enqueue", sitq_enqueue(q, "shell", "true\0", 5, NULL, &id, &err), &err);
    bad |= bad_error("sitq_cancel", sitq_cancel(q, 2, NULL, &err), &err);
    sitq_worker *w = NULL;
    if (sitq_worker_create(q, NULL, &w, &err) == SITQ_OK &&
        sitq_worker_register(w, "shell", noop, NULL, &err) == SITQ_OK) {
        r = NULL;
        bad |=
            bad_error("sitq_worker_process_task", sitq_worker_process_task(w, 1, &r, &err), &err);
        sitq_result_free(r);
    }
    sitq_worker_free(w);
    int64_t purged;
    bad |= bad_error("sitq_purge", sitq_purge(q, 0, &purged, &err), &err);
    sitq_queue_close(q);
    sitq_backend_close(b);
    return bad;
}

int chaos_role(const char *name, int argc, char **argv) {
    if (strcmp(name, "batch-producer") == 0 && argc == 3)
        return batch_producer(argv[0], argv[1], (size_t)strtoull(argv[2], NULL, 10));
    if (strcmp(name, "load-producer") == 0 && argc == 2)
        return load_producer(argv[0], atof(argv[1]));
    if (strcmp(name, "c-worker") == 0 && argc == 3)
        return c_worker(argv[0], atoi(argv[1]), argv[2]);
    if (strcmp(name, "open-file") == 0 && argc == 2) return open_file(argv[0], atoi(argv[1]));
    if (strcmp(name, "burn") == 0 && argc == 0) return burn();
    fprintf(stderr, "sitq_chaos: unknown role or wrong arguments: %s\n", name);
    return 2;
}
