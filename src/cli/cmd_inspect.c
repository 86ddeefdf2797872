/*
 * cmd_inspect.c - the read-only subcommands: stats, list, show and wait.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common_opts.h"
#include "db.h"
#include "deps_tree.h"
#include "diag.h"
#include "list_page.h"
#include "output.h"
#include "queues_view.h"
#include "retention_view.h"

static const char STATS_USAGE[] =
    "usage: sitq stats DB [--queue NAME] [--count-cap N] [--json]\n"
    "\n"
    "Count the tasks of every queue (or of one) by status, and measure the\n"
    "store: its size and WAL; on PostgreSQL also WAL bytes per task, live and\n"
    "dead row versions of the tasks table, and the age of the oldest open\n"
    "transaction (it holds back vacuum). With --queue, also the queue's\n"
    "counters that only grow (\"counted\": enqueued, succeeded, failed, retried,\n"
    "lost, cancelled), which a purge or retention does not decrease.\n"
    "\n"
    "  -q, --queue NAME  only this queue (an error naming the known queues when\n"
    "                    there is no such queue); default: a table of every queue\n"
    "                    and their total\n"
    "  -j, --json        print one JSON object on one line: {\"queue\", \"queued\", ...,\n"
    "                    \"total\", \"store\": {\"bytes\", \"wal_bytes\", ...}} (measured\n"
    "                    figures only); without --queue, \"queue\" is null, the counts\n"
    "                    are the sums and \"queues\" holds one such object per queue;\n"
    "                    \"totals\" holds the counters that only grow (summed at the "
    "top)\n" COUNT_CAP_HELP "  -h, --help        show this help\n";

static const char LIST_USAGE[] =
    "usage: sitq list DB [--queue NAME] [--status S] [--function F] [--worker ID]\n"
    "                    [--since T] [--until T] [--limit N] [--offset N]\n"
    "                    [--before ID] [--scan-limit N] [--json | --jsonl]\n"
    "\n"
    "List tasks of every queue (or of one), newest first: id, status, queue,\n"
    "priority, attempts, enqueue time and command, with the error of a failed or\n"
    "cancelled task on the line below.\n"
    "\n"
    "  -q, --queue NAME  only this queue (default: every queue)\n"
    "      --status S    only tasks in status S: queued, waiting, scheduled, running,\n"
    "                    succeeded, failed, cancelled, or any (default)\n"
    "      --function F  only tasks of function F (shell tasks: shell)\n"
    "      --worker ID   only tasks last claimed by worker ID (see sitq workers)\n"
    "      --since T     only tasks whose time (finish, else enqueue) is at or after\n"
    "                    T: a duration ago (30m, 1h, 7d) or a UTC time\n"
    "                    (2026-12-03 or 2026-12-03T07:00:00Z)\n"
    "      --until T     only tasks whose time is before T (same forms)\n"
    "      --limit N     at most N tasks, 1..1000000 (default 100); when the table\n"
    "                    is cut, a last line says \"showing N of M\"\n"
    "      --offset N    skip the first N tasks (default 0)\n"
    "      --before ID   only tasks with an id below ID (the next page)\n"
    "      --scan-limit N  when no index serves the filter (--function, --worker,\n"
    "                    --since, --until, succeeded, or --queue without --status),\n"
    "                    examine at most N ids below the start (default 100000),\n"
    "                    so that a rare match costs the same on any store; a last\n"
    "                    line then says where to go on with --before (with --json\n"
    "                    or --jsonl, on standard error; the output stays tasks)\n"
    "  -j, --json        print a JSON array of task objects (as show --json, with\n"
    "                    depends_on and value_len but no value or traceback;\n"
    "                    value_repr of Python results)\n"
    "      --jsonl       print one task object per line\n"
    "  -h, --help        show this help\n";

static const char SHOW_USAGE[] =
    "usage: sitq show DB ID [--queue NAME] [--deps] [--json | --value]\n"
    "\n"
    "Print every field of a task (times in ISO-8601 UTC; the command line of\n"
    "shell tasks; for a Python task's result, the repr its worker stored).\n"
    "\n"
    "  -q, --queue NAME  not needed (task ids are unique across queues); when given,\n"
    "                    an error unless the task is in queue NAME\n"
    "      --deps        print the task's dependency tree instead: one line per task\n"
    "                    (id, status, function) with why it is blocked (\"waiting on\n"
    "                    3 of 8\", \"dependency 17 failed\") or its error\n"
    "  -j, --json        print a JSON object (with --deps: the tree, each node\n"
    "                    {\"id\", \"status\", \"blocked\", \"dependencies\", ...});\n"
    "                    \"value_repr\" holds a Python result's repr\n"
    "      --value       print only the raw result bytes (nothing when there is none;\n"
    "                    a Python result: its repr and pickle, docs/python.md)\n"
    "  -h, --help        show this help\n";

static const char WAIT_USAGE[] =
    "usage: sitq wait DB ID [--timeout S] [--queue NAME] [--json | --value]\n"
    "\n"
    "Wait until a task has finished, then print it as `sitq show` does.\n"
    "Exit code: 0 succeeded, 5 failed or cancelled, 4 not finished within the\n"
    "timeout (the current state is printed), 1 unknown task.\n"
    "\n"
    "      --timeout S   give up after S (default: wait forever); a duration with a\n"
    "                    unit (250ms, 30s, 10m, 1h, 7d) or a bare number of seconds\n"
    "  -q, --queue NAME  not needed (task ids are unique across queues); when given,\n"
    "                    an error unless the task is in queue NAME\n"
    "  -j, --json        print a JSON object (\"value_repr\": a Python result's repr)\n"
    "      --value       print only the raw result bytes (nothing when there is none)\n"
    "  -h, --help        show this help\n";

/** Body of `sitq stats` (see common_cmd_fn). */
static int run_stats(const char *cmd, const common_opts *o, sitq_queue *queue, sitq_error *err) {
    if (!o->queue_given) return queues_view(cmd, o, sitq_queue_backend(queue), 1);
    int rc = CLI_EXIT_OK;
    sitq_stats st;
    sitq_totals t;
    sitq_store_health h;
    unsigned bound = 0;
    sitq_code code = queue_counts(queue, o->count_cap, &st, &bound, err);
    if (code == SITQ_OK) code = sitq_queue_totals(queue, &t, err);
    if (code == SITQ_OK) code = sitq_backend_health(sitq_queue_backend(queue), &h, err);
    if (code != SITQ_OK) {
        rc = cli_api_error(cmd, code, err);
    }
    /* What retention holds back; a store without it (read-only, older)
     * shows the rest. */
    sitq_retention ret;
    sitq_retained kept;
    int have_ret = rc == CLI_EXIT_OK && sitq_queue_get_retention(queue, &ret, NULL) == SITQ_OK &&
                   sitq_queue_retained(queue, &kept, NULL) == SITQ_OK;
    if (rc != CLI_EXIT_OK) {
    } else if (o->json) {
        json_t *j = stats_to_json(o->queue, &st, &h);
        if (j) json_object_set_new(j, "totals", totals_to_json(&t));
        if (j && have_ret) json_object_set_new(j, "retention", retention_to_json(&ret, &kept));
        if (j && o->count_cap > 0 && stats_bound_json(j, o->count_cap, bound) != 0) {
            json_decref(j);
            j = NULL;
        }
        if (print_json_line(j) != 0) {
            cli_errorf(cmd, "cannot write JSON output");
            rc = CLI_EXIT_FAILURE;
        }
    } else {
        print_stats_text(o->queue, &st, &h, bound);
        print_totals_text(&t);
        if (have_ret) print_retention_text(&ret, &kept);
    }
    return rc;
}

int cmd_stats(int argc, char **argv) {
    return common_opts_run(argc, argv, COPT_COUNT_CAP, 0, STATS_USAGE, run_stats);
}

/* A list reads no results; for the "value_repr" of its JSON it reads the
 * head of each succeeded Python task's result, enough for the record's
 * header, its longest repr and the pickle's first bytes (core/pyvalue.h),
 * so that a task costs the same whatever its result's size. */
#define LIST_REPR_HEAD (SITQ__PYVALUE_HEADER_LEN + SITQ__PYVALUE_REPR_MAX + 3)

/* Set "value_repr" of t, the JSON of listed task r. */
static void list_value_repr(sitq_queue *queue, const sitq_result *r, json_t *t) {
    if (t == NULL || r->status != SITQ_SUCCEEDED || !sitq__pyvalue_function(r->function) ||
        r->value_len == 0)
        return;
    sitq_result *head = NULL;
    if (sitq_get_result_prefix(queue, r->id, LIST_REPR_HEAD, &head, NULL, NULL) != SITQ_OK) return;
    json_object_set_new(t, "value_repr", value_repr_json(head));
    sitq_result_free(head);
}

/* Append t to arr (--json) or print it as a line (--jsonl); 0 or -1. */
static int list_emit_json(const common_opts *o, json_t *arr, json_t *t) {
    if (o->jsonl) return print_json_line(t) != 0 ? -1 : 0;
    return arr == NULL || t == NULL || json_array_append_new(arr, t) != 0 ? -1 : 0;
}

/* Print the page's tasks as a table, a JSON array or JSON lines (tasks
 * only: where a cut page goes on is said apart, print_list_next). */
static int print_list(const char *cmd, const common_opts *o, sitq_queue *queue,
                      const list_page *p) {
    int rc = CLI_EXIT_OK;
    json_t *arr = o->json ? json_array() : NULL;
    if (!o->json && !o->jsonl) print_list_header();
    for (size_t i = 0; i < p->n_shown; i++) {
        char **cargv = NULL;
        int cargc = 0;
        unsigned sopts = 0;
        cli_load_command(queue, p->items[i], &cargv, &cargc, &sopts);
        if (o->json || o->jsonl) {
            json_t *t = result_to_json(p->items[i], cargv, cargc, sopts);
            list_value_repr(queue, p->items[i], t);
            if (list_emit_json(o, arr, t) != 0) rc = CLI_EXIT_FAILURE;
        } else {
            print_list_row(p->items[i], cargv, cargc);
        }
        free(cargv);
    }
    if (o->json && (rc != CLI_EXIT_OK || print_json(arr) != 0)) {
        if (rc != CLI_EXIT_OK) json_decref(arr);
        rc = CLI_EXIT_FAILURE;
    }
    if (rc != CLI_EXIT_OK) cli_errorf(cmd, "cannot write the output (out of memory?)");
    return rc;
}

/* When the table is cut: "showing N of M" (M counted up to LIST_COUNT_CAP
 * tasks, so that a count never reads more than that many index entries).
 * Returns 0 when such a count would read rows instead (list_page_count). */
#define LIST_COUNT_CAP 100000
static int print_list_total(sitq_queue *queue, const sitq_list_filter *f, size_t shown) {
    int64_t total = 0;
    int counted = list_page_count(sitq_queue_backend(queue), f, LIST_COUNT_CAP + 1, &total, NULL);
    if (counted <= 0) return counted < 0;
    if (total > LIST_COUNT_CAP)
        printf("showing %zu of more than %d (use --limit, --offset or filters)\n", shown,
               LIST_COUNT_CAP);
    else if ((int64_t)shown < total)
        printf("showing %zu of %lld (use --limit, --offset or filters)\n", shown, (long long)total);
    return 1;
}

/* The last line of a table whose filter no index serves in full (a count
 * would read the rows the page did not): where the next page starts. With
 * JSON output, a cut page says it on stderr, prefixed with the command, so
 * that every object of the output stays a task. */
static void print_list_next(const char *cmd, const common_opts *o, const list_page *p) {
    int json = o->json || o->jsonl;
    FILE *f = json ? stderr : stdout;
    if (json && !p->cut) return;
    if (json) fprintf(f, "sitq %s: ", cmd);
    if (p->cut)
        fprintf(f,
                "showing %zu: examined ids %lld..%lld (--scan-limit %lld); older tasks may "
                "match: go on with --before %lld\n",
                p->n_shown, (long long)p->scan_floor, (long long)p->scan_top,
                (long long)o->scan_limit, (long long)p->next_before);
    else if (p->next_before != 0)
        fprintf(f, "showing %zu; more follow: go on with --before %lld\n", p->n_shown,
                (long long)p->next_before);
}

/** Body of `sitq list` (see common_cmd_fn): every queue unless --queue. */
static int run_list(const char *cmd, const common_opts *o, sitq_queue *queue, sitq_error *err) {
    sitq_list_filter f;
    sitq_list_filter_init(&f);
    f.queue = o->queue_given ? o->queue : NULL;
    f.status = o->status;
    f.function = o->function;
    f.worker_id = o->worker_id;
    f.since_us = o->since_us;
    f.until_us = o->until_us;
    f.before_id = o->before_id;
    f.limit = (size_t)o->limit;
    f.offset = (size_t)o->offset;
    list_page p;
    sitq_code code =
        list_page_read(sitq_queue_backend(queue), &f, (sitq_task_id)o->scan_limit, &p, err);
    if (code != SITQ_OK) return cli_api_error(cmd, code, err);
    int rc = print_list(cmd, o, queue, &p);
    int cut = p.n_shown == f.limit || o->offset > 0 || p.cut;
    if (rc == CLI_EXIT_OK && (o->json || o->jsonl)) print_list_next(cmd, o, &p);
    else if (rc == CLI_EXIT_OK && cut && !print_list_total(queue, &f, p.n_shown))
        print_list_next(cmd, o, &p);
    list_page_free(&p);
    return rc;
}

int cmd_list(int argc, char **argv) {
    return common_opts_run(
        argc, argv, COPT_STATUS | COPT_LIMIT | COPT_JSONL | COPT_FILTER | COPT_WORKER | COPT_PAGE,
        0, LIST_USAGE, run_list);
}

/**
 * Print a task as text, JSON or its raw value per the options.
 * Returns CLI_EXIT_OK or CLI_EXIT_FAILURE (output failed).
 */
static int print_task(const char *cmd, sitq_queue *queue, const sitq_result *r,
                      const common_opts *o) {
    if (o->value_only) {
        if (r->value != NULL && r->value_len > 0 &&
            fwrite(r->value, 1, r->value_len, stdout) != r->value_len) {
            cli_errorf(cmd, "cannot write the value");
            return CLI_EXIT_FAILURE;
        }
        return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
    }
    char **cargv = NULL;
    int cargc = 0;
    unsigned sopts = 0;
    cli_load_command(queue, r, &cargv, &cargc, &sopts);
    int rc = CLI_EXIT_OK;
    if (o->json) {
        if (print_json(result_to_json(r, cargv, cargc, sopts)) != 0) {
            cli_errorf(cmd, "cannot build JSON output (out of memory?)");
            rc = CLI_EXIT_FAILURE;
        }
    } else {
        print_result_text(r, cargv, cargc, sopts);
    }
    free(cargv);
    return rc;
}

/** `sitq show --deps`: the dependency tree, as text or JSON. */
static int run_show_deps(const char *cmd, const common_opts *o, sitq_queue *queue,
                         sitq_error *err) {
    sitq_code code = SITQ_OK;
    json_t *tree = deps_tree_json(queue, o->id, &code, err);
    if (tree == NULL) return cli_api_error(cmd, code, err);
    if (o->json) return print_json_checked(cmd, tree);
    deps_tree_print(tree);
    json_decref(tree);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

/** Body of `sitq show` (see common_cmd_fn). */
static int run_show(const char *cmd, const common_opts *o, sitq_queue *queue, sitq_error *err) {
    if (o->deps) return run_show_deps(cmd, o, queue, err);
    int rc = CLI_EXIT_OK;
    sitq_result *r = NULL;
    sitq_code code = sitq_get_result(queue, o->id, &r, err);
    if (code != SITQ_OK) rc = cli_api_error(cmd, code, err);
    else rc = print_task(cmd, queue, r, o);
    sitq_result_free(r);
    return rc;
}

int cmd_show(int argc, char **argv) {
    return common_opts_run(argc, argv, COPT_VALUE | COPT_DEPS, 1, SHOW_USAGE, run_show);
}

/** Body of `sitq wait` (see common_cmd_fn). */
static int run_wait(const char *cmd, const common_opts *o, sitq_queue *queue, sitq_error *err) {
    int rc = CLI_EXIT_OK;
    sitq_result *r = NULL;
    sitq_code code = sitq_wait(queue, o->id, o->timeout_s, &r, err);
    if (code == SITQ_ETIMEDOUT) {
        if (r != NULL && !o->value_only) (void)print_task(cmd, queue, r, o);
        cli_errorf(cmd, "task %lld did not finish within %g s (status %s)", (long long)o->id,
                   o->timeout_s, r != NULL ? sitq_status_name(r->status) : "unknown");
        rc = CLI_EXIT_TIMEOUT;
    } else if (code != SITQ_OK) {
        rc = cli_api_error(cmd, code, err);
    } else {
        rc = print_task(cmd, queue, r, o);
        if (rc == CLI_EXIT_OK && r->status != SITQ_SUCCEEDED) rc = CLI_EXIT_TASK_FAILED;
    }
    sitq_result_free(r);
    return rc;
}

int cmd_wait(int argc, char **argv) {
    return common_opts_run(argc, argv, COPT_TIMEOUT | COPT_VALUE, 1, WAIT_USAGE, run_wait);
}
