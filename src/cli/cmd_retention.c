/* cmd_retention.c - `sitq retention`: show or set how long a queue keeps its
 * finished tasks, and the retention part of `sitq stats --queue`. */
#include "args.h"
#include "cli.h"
#include "db.h"
#include "diag.h"
#include "output.h"
#include "retention_view.h"
#include "term_escape.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char RETENTION_USAGE[] =
    "usage: sitq retention DB [--queue NAME [--new-queue]] [--succeeded DUR] [--failed DUR]\n"
    "                         [--forever | --default] [--json]\n"
    "\n"
    "Show, or set, how long a queue keeps its finished tasks (with their results,\n"
    "errors and payloads) after they finished. Running workers delete the expired\n"
    "ones as they run (about 5 s after they start, then once a minute), in short\n"
    "transactions, never a result that a dependent not yet finished still needs.\n"
    "Defaults: succeeded 7d, failed and cancelled 30d. A task enqueued with --keep\n"
    "uses its own retention instead.\n"
    "\n"
    "  -q, --queue NAME     the queue (default \"default\"); a queue that holds no\n"
    "                       task and has no pause, limit, schedule or retention\n"
    "                       is refused as a typo (exit 2)...\n"
    "      --new-queue      ...unless this says it is new on purpose\n"
    "      --succeeded DUR  keep succeeded tasks this long (30s, 10m, 12h, 7d,\n"
    "                       or forever)\n"
    "      --failed DUR     keep failed and cancelled tasks this long (or forever)\n"
    "      --forever        keep both forever (with --succeeded or --failed: the\n"
    "                       other one forever)\n"
    "      --default        forget the queue's retention: the defaults apply again\n"
    "  -j, --json           print a JSON object\n"
    "  -h, --help           show this help\n"
    "\n"
    "Without --succeeded, --failed, --forever or --default it only shows the\n"
    "retention. `sitq stats DB --queue NAME` shows what it holds back.\n";

/* Retention in seconds as text: "forever" or a duration with a unit. */
static void fmt_keep(double s, char *buf, size_t n) {
    if (s < 0) snprintf(buf, n, "forever");
    else if (s >= 86400 && s == (double)(long long)(s / 86400) * 86400)
        snprintf(buf, n, "%lldd", (long long)(s / 86400));
    else if (s >= 3600 && s == (double)(long long)(s / 3600) * 3600)
        snprintf(buf, n, "%lldh", (long long)(s / 3600));
    else snprintf(buf, n, "%gs", s);
}

static json_t *keep_json(double s) { return s < 0 ? json_string("forever") : json_real(s); }

json_t *retention_to_json(const sitq_retention *r, const sitq_retained *kept) {
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = json_object_set_new(o, "succeeded_s", keep_json(r->succeeded_s)) != 0;
    bad |= json_object_set_new(o, "failed_s", keep_json(r->failed_s)) != 0;
    bad |= json_object_set_new(o, "default", json_boolean(r->is_default)) != 0;
    if (kept) {
        char t[CLI_TIME_BUF];
        fmt_time_iso(kept->oldest_finished_us, 0, t, sizeof t);
        bad |= json_object_set_new(o, "finished_kept", json_integer(kept->finished)) != 0;
        bad |= json_object_set_new(o, "oldest_id",
                                   kept->oldest_id ? json_integer(kept->oldest_id) : json_null());
        bad |= json_object_set_new(o, "oldest_finished",
                                   kept->oldest_id ? json_string(t) : json_null()) != 0;
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void print_retention_text(const sitq_retention *r, const sitq_retained *kept) {
    char s[32], f[32];
    fmt_keep(r->succeeded_s, s, sizeof s);
    fmt_keep(r->failed_s, f, sizeof f);
    printf("retention:%s\n  %-22s %s\n  %-22s %s\n", r->is_default ? " (defaults)" : "",
           "succeeded", s, "failed/cancelled", f);
    if (!kept) return;
    printf("  %-22s %lld\n", "finished tasks kept", (long long)kept->finished);
    if (kept->oldest_id) {
        char t[CLI_TIME_BUF];
        fmt_time_iso(kept->oldest_finished_us, 0, t, sizeof t);
        printf("  %-22s %lld, finished %s\n", "oldest kept", (long long)kept->oldest_id, t);
    }
}

typedef struct ret_args {
    const char *db, *queue;
    double succeeded_s, failed_s; /* 0: not given; SITQ_KEEP_FOREVER: "forever" */
    int forever, dflt, json;
    int queue_given, new_queue; /* --queue, --new-queue */
} ret_args;

static int parse(int argc, char **argv, ret_args *a) {
    static const struct option longs[] = {{"queue", required_argument, NULL, 'q'},
                                          {"succeeded", required_argument, NULL, 's'},
                                          {"failed", required_argument, NULL, 'f'},
                                          {"forever", no_argument, NULL, 'F'},
                                          {"default", no_argument, NULL, 'D'},
                                          {"json", no_argument, NULL, 'j'},
                                          {"help", no_argument, NULL, 'h'},
                                          {"new-queue", no_argument, NULL, 'N'},
                                          {NULL, 0, NULL, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "q:jh", longs, NULL)) != -1) {
        if (c == 'q') {
            a->queue = optarg;
            a->queue_given = 1;
        } else if (c == 'N') a->new_queue = 1;
        else if (c == 's' || c == 'f') {
            double *out = c == 's' ? &a->succeeded_s : &a->failed_s;
            if (arg_parse_keep("retention", c == 's' ? "--succeeded" : "--failed", optarg, out))
                return CLI_EXIT_USAGE;
        } else if (c == 'F') a->forever = 1;
        else if (c == 'D') a->dflt = 1;
        else if (c == 'j') a->json = 1;
        else if (c == 'h') {
            fputs(RETENTION_USAGE, stdout);
            return -1;
        } else {
            fputs(RETENTION_USAGE, stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_errorf("retention", "expected one DB argument (see sitq retention --help)");
        return CLI_EXIT_USAGE;
    }
    a->db = argv[optind];
    if (a->dflt && (a->forever || a->succeeded_s != 0 || a->failed_s != 0)) {
        cli_errorf("retention", "--default cannot be combined with other retention options");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* Set what the arguments ask for (nothing when they only ask to show). */
static sitq_code apply(const ret_args *a, sitq_queue *q, sitq_error *err) {
    if (a->dflt) return sitq_queue_set_retention(q, NULL, err);
    if (!a->forever && a->succeeded_s == 0 && a->failed_s == 0) return SITQ_OK;
    sitq_retention r;
    sitq_code code = sitq_queue_get_retention(q, &r, err);
    if (code) return code;
    if (a->forever && a->succeeded_s == 0 && a->failed_s == 0)
        r.succeeded_s = r.failed_s = SITQ_KEEP_FOREVER;
    else {
        if (a->succeeded_s != 0) r.succeeded_s = a->succeeded_s;
        else if (a->forever) r.succeeded_s = SITQ_KEEP_FOREVER;
        if (a->failed_s != 0) r.failed_s = a->failed_s;
        else if (a->forever) r.failed_s = SITQ_KEEP_FOREVER;
    }
    return sitq_queue_set_retention(q, &r, err);
}

int cmd_retention(int argc, char **argv) {
    ret_args a;
    memset(&a, 0, sizeof a);
    a.queue = "default";
    int rc = parse(argc, argv, &a);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    cli_db db;
    int writes = a.dflt || a.forever || a.succeeded_s != 0 || a.failed_s != 0;
    rc = cli_db_open("retention", a.db, a.queue, writes ? CLI_DB_MUST_EXIST : CLI_DB_READ_ONLY, 0,
                     &db);
    if (rc) return rc;
    /* A --queue naming no known queue is a typo unless --new-queue. */
    if (a.queue_given && !a.new_queue && (rc = cli_db_check_new_queue("retention", &db, a.queue))) {
        cli_db_close(&db);
        return rc;
    }
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_retention r;
    sitq_code code = apply(&a, db.queue, &err);
    if (!code) code = sitq_queue_get_retention(db.queue, &r, &err);
    if (code) rc = cli_api_error("retention", code, &err);
    else if (a.json) {
        json_t *o = retention_to_json(&r, NULL);
        if (o) json_object_set_new(o, "queue", json_string(a.queue));
        rc = print_json_checked("retention", o);
    } else {
        char *q = term_escape_str(a.queue, 0);
        printf("queue: %s\n", q ? q : "?");
        free(q);
        print_retention_text(&r, NULL);
    }
    cli_db_close(&db);
    return rc;
}
