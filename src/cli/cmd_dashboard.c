/*
 * cmd_dashboard.c - `sitq dashboard DB`: serve the web dashboard
 * (src/cli/dashboard/) until SIGINT or SIGTERM. It reads the token that
 * allows actions (from --token-file or SITQ_DASHBOARD_TOKEN; none makes it
 * read-only, and opens the database read-only), opens the database with two
 * reader connections (the pages read there, never on the writer the actions
 * use; an action waits at most --busy-timeout for another process's lock)
 * and listens on loopback unless told otherwise. The Python binding calls
 * cmd_dashboard too (`python -m sitq dashboard`, python/src/dashboard.c):
 * it leaves the signal mask as it found it.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "cli.h"
#include "common_opts.h"
#include "dashboard/dash.h"
#include "db.h"
#include "diag.h"

static const char DASHBOARD_USAGE[] =
    "usage: sitq dashboard DB [--listen [HOST:]PORT] [--token-file PATH]\n"
    "                         [--busy-timeout S] [--scan-limit N]\n"
    "                         [--sample-interval S] [--count-cap N]\n"
    "                         [--max-rate N]\n"
    "\n"
    "Serve a web dashboard of the database until SIGINT or SIGTERM: the queues\n"
    "with their tasks counted by status and a chart of their throughput (/),\n"
    "the tasks with filters and pages\n"
    "(/tasks?queue=Q&status=S&function=F&limit=N&before=ID), a task's page\n"
    "(/tasks/ID, with its pipeline drawn as a graph), the workers and what\n"
    "they run (/workers) and the metrics in the Prometheus text format\n"
    "(/metrics); /api/queues, /api/tasks, /api/tasks/ID, /api/tasks/ID/graph\n"
    "and /api/workers are their JSON twins. Pages read on a\n"
    "reader connection of their own, at most 100 tasks a page, and never take\n"
    "the write lock. Each connection is served on a thread of its own (at\n"
    "most 128 at once, 64 from one address; one idle for 5 s is closed).\n"
    "Actions (retry and cancel a task, pause and resume a queue) are forms\n"
    "posted with the token; without a token the dashboard is read-only.\n"
    "\n"
    "  -l, --listen [HOST:]PORT\n"
    "                          the address and port to listen on; default\n"
    "                          127.0.0.1:8080 (loopback: only this host); IPv4\n"
    "                          as 127.0.0.1:8080, IPv6 in brackets as [::1]:8080\n"
    "                          or [::]:8080 (a bare ::1 or [::1] is port 8080);\n"
    "                          a bare PORT means 127.0.0.1:PORT; PORT digits\n"
    "                          only, 0..65535; port 0 picks a free one (the URL\n"
    "                          is printed on stderr)\n"
    "      --token-file PATH   read the token from this file (its first line,\n"
    "                          16..1024 bytes); else from the environment\n"
    "                          variable SITQ_DASHBOARD_TOKEN\n"
    "      --busy-timeout S    how long an action waits for the write lock\n"
    "                          another process holds before it answers 503\n"
    "                          (SQLite; default 5)\n"
    "      --scan-limit N      most tasks a page of /tasks examines when no index\n"
    "                          serves its filter (a function, succeeded, a queue\n"
    "                          without a status); the page then links to where\n"
    "                          the search goes on\n"
    "                          (1..1000000000; default 100000)\n"
    "      --sample-interval S how often the throughput charts read the queues'\n"
    "                          counters (default 10; 0.1..3600); each chart\n"
    "                          keeps the last 360 samples (an hour at 10 s)\n"
    "      --count-cap N       most tasks of one status the queues page,\n"
    "                          /api/queues and /metrics count on a request\n"
    "                          (1..1000000000; default 100000): a status with\n"
    "                          more shows the exact count a background thread\n"
    "                          took (with its age), else \"100,000+\"\n"
    "      --max-rate N        requests a second the dashboard answers on\n"
    "                          average (default 25; 0: no limit), a second's\n"
    "                          worth at once: a request over the rate waits\n"
    "                          for its turn (one more than 5 s away gets 503),\n"
    "                          so that a flood of requests cannot take the\n"
    "                          CPU and the database from the workers\n"
    "  -h, --help              show this help\n";

enum {
    OPT_TOKEN_FILE = 256,
    OPT_BUSY_TIMEOUT,
    OPT_SCAN_LIMIT,
    OPT_SAMPLE_INTERVAL,
    OPT_COUNT_CAP,
    OPT_MAX_RATE
};

/* Default wait for another process's write lock: short, since a person
 * waits on the page. */
#define DASH_BUSY_DEFAULT_MS 5000

static const struct option DASH_OPTS[] = {
    {"listen", required_argument, NULL, 'l'},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"busy-timeout", required_argument, NULL, OPT_BUSY_TIMEOUT},
    {"scan-limit", required_argument, NULL, OPT_SCAN_LIMIT},
    {"sample-interval", required_argument, NULL, OPT_SAMPLE_INTERVAL},
    {"count-cap", required_argument, NULL, OPT_COUNT_CAP},
    {"max-rate", required_argument, NULL, OPT_MAX_RATE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* Check a token and copy it into ctx; what names its source. 0 or -1. */
static int set_token(dash_ctx *ctx, const char *text, size_t len, const char *what) {
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) len--;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)text[i] < 0x21 || text[i] == 0x7f) {
            cli_errorf("dashboard",
                       "%s: the token must be one line without spaces or control "
                       "characters",
                       what);
            return -1;
        }
    if (len < DASH_TOKEN_MIN || len > DASH_TOKEN_MAX) {
        cli_errorf("dashboard", "%s: the token must be %d..%d bytes long (it is %zu)", what,
                   DASH_TOKEN_MIN, DASH_TOKEN_MAX, len);
        return -1;
    }
    memcpy(ctx->token, text, len);
    ctx->token[len] = '\0';
    ctx->token_len = len;
    return 0;
}

/* The token from --token-file or the environment; 0 or -1 after an error. */
static int load_token(dash_ctx *ctx, const char *path) {
    if (path == NULL) {
        const char *env = getenv("SITQ_DASHBOARD_TOKEN");
        return env ? set_token(ctx, env, strlen(env), "SITQ_DASHBOARD_TOKEN") : 0;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        cli_errorf("dashboard", "--token-file '%s': cannot be read", path);
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
        fprintf(stderr,
                "sitq dashboard: warning: --token-file '%s' can be read by other users "
                "(chmod 600 it)\n",
                path);
    char buf[DASH_TOKEN_MAX + 2];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    const char *nl = memchr(buf, '\n', n);
    if (nl) n = (size_t)(nl - buf);
    else if (n == sizeof buf) { /* only the start was read: its length is unknown */
        cli_errorf("dashboard", "--token-file: the token must be %d..%d bytes long (it is longer)",
                   DASH_TOKEN_MIN, DASH_TOKEN_MAX);
        return -1;
    }
    return set_token(ctx, buf, n, "--token-file");
}

/* What the command line asks besides the database. */
typedef struct dash_args {
    const char *db, *token_file;
    http_addr addr;
    int busy_ms;
    double sample_s;
    sitq_task_id scan_ids;
    int64_t count_cap;
    int64_t max_rate;
} dash_args;

/* Parse argv; -1 to go on, else an exit code. */
static int parse(int argc, char **argv, dash_args *a) {
    char msg[256];
    dash_parse_listen("127.0.0.1:8080", &a->addr, msg, sizeof msg);
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":l:h", DASH_OPTS, NULL)) != -1) {
        if (c == 'h') return print_usage(DASHBOARD_USAGE);
        double busy_s = 0;
        if (c == OPT_TOKEN_FILE) a->token_file = optarg;
        else if (c == OPT_BUSY_TIMEOUT) {
            if (arg_parse_duration("dashboard", "--busy-timeout", optarg, 0.0, 2147483.0,
                                   &busy_s) != 0)
                return CLI_EXIT_USAGE;
            a->busy_ms = (int)(busy_s * 1000.0 + 0.5);
        } else if (c == OPT_SCAN_LIMIT) {
            if (arg_parse_i64("dashboard", "--scan-limit", optarg, 1, 1000000000, &a->scan_ids) !=
                0)
                return CLI_EXIT_USAGE;
        } else if (c == OPT_COUNT_CAP) {
            if (arg_parse_i64("dashboard", "--count-cap", optarg, 1, 1000000000, &a->count_cap) !=
                0)
                return CLI_EXIT_USAGE;
        } else if (c == OPT_MAX_RATE) {
            if (arg_parse_i64("dashboard", "--max-rate", optarg, 0, 1000000, &a->max_rate) != 0)
                return CLI_EXIT_USAGE;
        } else if (c == OPT_SAMPLE_INTERVAL) {
            if (arg_parse_duration("dashboard", "--sample-interval", optarg,
                                   DASH_RATE_INTERVAL_MIN_S, DASH_RATE_INTERVAL_MAX_S,
                                   &a->sample_s) != 0)
                return CLI_EXIT_USAGE;
        } else if (c == 'l') {
            if (dash_parse_listen(optarg, &a->addr, msg, sizeof msg) != 0) {
                cli_errorf("dashboard", "--listen %s", msg);
                return CLI_EXIT_USAGE;
            }
        } else {
            arg_report_getopt("dashboard", c, argv);
            return CLI_EXIT_USAGE;
        }
    }
    if (arg_check_positionals("dashboard", argc, argv, 1, 1, "DB") != 0) return CLI_EXIT_USAGE;
    a->db = argv[optind];
    return -1;
}

/* Serve until SIGINT or SIGTERM; returns an exit code. */
static int serve(const http_addr *addr, const dash_ctx *ctx, const char *db) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* Blocked before the server's thread starts, so that it inherits the
     * mask and the signals reach sigwait here. */
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &set, &old);
    signal(SIGPIPE, SIG_IGN);
    char msg[256];
    dash_server *s = dash_server_start(addr, ctx, msg, sizeof msg);
    if (s == NULL) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        cli_errorf("dashboard", "--listen %s", msg);
        return CLI_EXIT_FAILURE;
    }
    char where[HTTP_ADDR_TEXT_MAX], shown[512];
    http_addr_format(addr, dash_server_port(s), where, sizeof where);
    fprintf(stderr, "sitq dashboard: %s at http://%s/ (%s)\n",
            cli_db_display(db, shown, sizeof shown), where,
            ctx->token_len ? "actions need the token" : "read-only");
    if (!http_addr_is_loopback(addr))
        fprintf(stderr, "sitq dashboard: listening beyond loopback: every host that reaches "
                        "this address can read the tasks\n");
    fflush(stderr);
    int sig = 0;
    sigwait(&set, &sig);
    dash_server_stop(s);
    /* The caller's mask again (`python -m sitq dashboard` returns to Python). */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return CLI_EXIT_OK;
}

int cmd_dashboard(int argc, char **argv) {
    dash_args a = {NULL,
                   NULL,
                   {{0}},
                   DASH_BUSY_DEFAULT_MS,
                   DASH_RATE_INTERVAL_S,
                   DASH_SCAN_DEFAULT,
                   DASH_COUNT_CAP_DEFAULT,
                   (int64_t)DASH_MAX_RATE_DEFAULT};
    int rc = parse(argc, argv, &a);
    if (rc >= 0) return rc;
    dash_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL || load_token(ctx, a.token_file) != 0) {
        free(ctx);
        return CLI_EXIT_USAGE;
    }
    ctx->scan_ids = a.scan_ids;
    ctx->count_cap = a.count_cap;
    cli_db db;
    sitq_sqlite_options opts;
    sitq_sqlite_options_init(&opts);
    /* Pages of two connections read at once, and a background count. */
    opts.reader_connections = 3;
    opts.busy_timeout_ms = a.busy_ms;
    rc = cli_db_open_opts("dashboard", a.db, NULL,
                          ctx->token_len ? CLI_DB_MUST_EXIST : CLI_DB_READ_ONLY, &opts, &db, NULL);
    if (rc == CLI_EXIT_OK) {
        ctx->backend = db.backend;
        /* The throughput history: without it the pages show no chart. */
        ctx->rate = dash_rate_start(db.backend, a.sample_s);
        ctx->counts = dash_counts_new();           /* NULL: every page counts for itself */
        ctx->exact = dash_exact_start(db.backend); /* NULL: capped figures stay bounds */
        ctx->pace = dash_pace_new((double)a.max_rate);
        if (a.max_rate > 0 && ctx->pace == NULL)
            fprintf(stderr, "sitq dashboard: warning: out of memory: requests are not paced\n");
        if (ctx->rate == NULL)
            fprintf(stderr, "sitq dashboard: warning: cannot start the throughput sampler: "
                            "no charts\n");
        rc = serve(&a.addr, ctx, a.db);
        dash_exact_stop(ctx->exact);
        dash_rate_stop(ctx->rate);
        dash_counts_free(ctx->counts);
        dash_pace_free(ctx->pace);
        cli_db_close(&db);
    }
    explicit_bzero(ctx->token, sizeof ctx->token);
    free(ctx);
    return rc;
}
