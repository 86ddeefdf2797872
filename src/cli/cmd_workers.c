/*
 * cmd_workers.c - `sitq workers`: the registry of workers
 * (sitq_workers_list) as a table, a JSON array or JSON lines. Every name
 * is printed through term_escape (a worker id or queue name may hold
 * control characters); the JSON holds them as they are.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common_opts.h"
#include "diag.h"
#include "output.h"
#include "term_escape.h"

static const char WORKERS_USAGE[] =
    "usage: sitq workers DB [--all] [--queue NAME] [--json | --jsonl]\n"
    "\n"
    "List the workers of the database (every `sitq worker`, `python -m sitq\n"
    "worker` and program that runs a sitq worker records itself), sorted by id:\n"
    "state (running; dead: no heartbeat past its lease, killed or cut off;\n"
    "stopped: stopped cleanly), host and process id, handler threads, its\n"
    "succeeded, failed and lost attempts, its last heartbeat and queues, and on\n"
    "the line below the tasks it runs now. Counts are as of its last heartbeat\n"
    "(at most a second old by default). Rows of workers stopped or dead for a\n"
    "day are deleted by the running workers.\n"
    "\n"
    "      --all         also list the workers that stopped cleanly\n"
    "  -q, --queue NAME  only workers that serve this queue\n"
    "  -j, --json        print a JSON array of worker objects: id, state, host,\n"
    "                    pid, queues, functions, concurrency, started_at,\n"
    "                    heartbeat_at, lease_until, stopped_at (ISO-8601 UTC or\n"
    "                    null), succeeded, failed, lost, running (task ids), held\n"
    "      --jsonl       print one worker object per line\n"
    "  -h, --help        show this help\n";

static json_t *time_json(sitq_time_us t) {
    if (t <= 0) return json_null();
    char buf[CLI_TIME_BUF];
    fmt_time_iso(t, 1, buf, sizeof buf);
    return json_string(buf);
}

static json_t *names_json(char *const *names, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++)
        if (json_array_append_new(a, json_string(names[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* The JSON object of a worker; NULL when out of memory. */
static json_t *worker_json(const sitq_worker_info *w) {
    json_t *running = json_array();
    for (size_t i = 0; running != NULL && i < w->n_running; i++)
        if (json_array_append_new(running, json_integer(w->running[i])) != 0) {
            json_decref(running);
            running = NULL;
        }
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:I, s:o?, s:o?, s:i, s:o, s:o, s:o, s:o, s:I, s:I, "
        "s:I, s:o?, s:I}",
        "id", w->id, "state", sitq_worker_state_name(w->state), "host", w->host, "pid",
        (json_int_t)w->pid, "queues", names_json(w->queues, w->n_queues), "functions",
        names_json(w->functions, w->n_functions), "concurrency", w->concurrency, "started_at",
        time_json(w->started_at_us), "heartbeat_at", time_json(w->heartbeat_at_us), "lease_until",
        time_json(w->lease_until_us), "stopped_at", time_json(w->stopped_at_us), "succeeded",
        (json_int_t)w->succeeded, "failed", (json_int_t)w->failed, "lost", (json_int_t)w->lost,
        "running", running, "held", (json_int_t)w->n_held);
    return o;
}

/* text, escaped and cut to width characters (padded when pad). */
static void print_name(const char *text, size_t width, int pad) {
    char *s = term_escape_str(text != NULL ? text : "-", 0);
    if (s == NULL) {
        printf("%-*s", pad ? (int)width : 0, "?");
        return;
    }
    size_t n = term_char_count(s);
    if (n > width) printf("%.*s...", (int)term_prefix_len(s, width - 3), s);
    else printf("%s%*s", s, pad ? (int)(width - n) : 0, "");
    free(s);
}

static void print_header(void) {
    printf("%-28s %-8s %-16s %8s %4s %9s %7s %5s  %-20s  %s\n", "ID", "STATE", "HOST", "PID",
           "CONC", "SUCCEEDED", "FAILED", "LOST", "LAST HEARTBEAT", "QUEUES");
}

static void print_row(const sitq_worker_info *w) {
    char when[CLI_TIME_BUF];
    fmt_time_iso(w->heartbeat_at_us, 0, when, sizeof when);
    print_name(w->id, 28, 1);
    printf(" %-8s ", sitq_worker_state_name(w->state));
    print_name(w->host, 16, 1);
    printf(" %8" PRId64 " %4d %9" PRId64 " %7" PRId64 " %5" PRId64 "  %-20s  ", w->pid,
           w->concurrency, w->succeeded, w->failed, w->lost, when);
    for (size_t i = 0; i < w->n_queues; i++) {
        if (i) printf(",");
        print_name(w->queues[i], 40, 0);
    }
    printf("\n");
    if (w->n_running == 0 && w->n_held == 0) return;
    printf("%-28s running:", "");
    for (size_t i = 0; i < w->n_running && i < 20; i++) printf(" %" PRId64, (int64_t)w->running[i]);
    if (w->n_running > 20) printf(" ... (%zu in all)", w->n_running);
    if (w->n_held > w->n_running) printf(" (+%zu claimed ahead)", w->n_held - w->n_running);
    printf("\n");
}

static int serves(const sitq_worker_info *w, const char *queue) {
    for (size_t i = 0; i < w->n_queues; i++)
        if (strcmp(w->queues[i], queue) == 0) return 1;
    return 0;
}

/* Print the workers per the options; returns an exit code. */
static int print_workers(const char *cmd, const common_opts *o, const sitq_worker_info *ws,
                         size_t n) {
    json_t *arr = o->json ? json_array() : NULL;
    int bad = o->json && arr == NULL;
    if (!o->json && !o->jsonl) print_header();
    for (size_t i = 0; i < n && !bad; i++) {
        if (o->queue_given && !serves(&ws[i], o->queue)) continue;
        if (!o->json && !o->jsonl) {
            print_row(&ws[i]);
            continue;
        }
        json_t *j = worker_json(&ws[i]);
        if (o->jsonl) bad = print_json_line(j) != 0;
        else bad = j == NULL || json_array_append_new(arr, j) != 0;
    }
    if (o->json && !bad) {
        bad = print_json_line(arr) != 0;
        arr = NULL;
    }
    json_decref(arr);
    if (!bad && fflush(stdout) == 0) return CLI_EXIT_OK;
    cli_errorf(cmd, "cannot write the output (out of memory?)");
    return CLI_EXIT_FAILURE;
}

/** Body of `sitq workers` (see common_cmd_fn). */
static int run_workers(const char *cmd, const common_opts *o, sitq_queue *queue, sitq_error *err) {
    sitq_worker_info *ws = NULL;
    size_t n = 0;
    sitq_code code = sitq_workers_list(sitq_queue_backend(queue), o->all, &ws, &n, err);
    if (code != SITQ_OK) return cli_api_error(cmd, code, err);
    int rc = print_workers(cmd, o, ws, n);
    sitq_workers_free(ws, n);
    return rc;
}

int cmd_workers(int argc, char **argv) {
    return common_opts_run(argc, argv, COPT_JSONL | COPT_ALL, 0, WORKERS_USAGE, run_workers);
}
