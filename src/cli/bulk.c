/*
 * bulk.c - `sitq cancel DB --status S ...` and `sitq retry DB --status S
 * ...`. The selection is read with sitq_list_tasks in pages (keyset paging
 * on the id: each page a bounded read, no OFFSET), and every task is then
 * changed by sitq_cancel / sitq_retry in its own short transaction, so the
 * core's preconditions apply to each exactly as to a single command, and no
 * transaction ever holds the write lock for a whole selection.
 */
#include "bulk.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "output.h"
#include "term_escape.h"

int bulk_check(const char *cmd, const common_opts *o) {
    int filtered = o->status_given || o->function || o->since_us || o->until_us || o->dry_run;
    if (o->id > 0) {
        if (!filtered) return -1;
        cli_errorf(cmd, "a task ID and --status, --function, --since, --until or --dry-run "
                        "cannot be used together");
        return CLI_EXIT_USAGE;
    }
    if (!o->status_given || o->status == SITQ_STATUS_ANY) {
        cli_errorf(cmd,
                   "expected a task ID, or --status S (not 'any') to %s every task in "
                   "status S (see 'sitq %s --help')",
                   cmd, cmd);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* Counts of a bulk run. */
typedef struct bulk_counts {
    int64_t matched, changed, skipped;
    json_t *ids; /* ids changed (or that would be, in a dry run) */
} bulk_counts;

/* Cancel or retry task t on its own queue; returns the library's code with
 * err filled, and the status it ended in (*status). */
static sitq_code apply_one(sitq_backend *backend, const sitq_result *t, enum bulk_action action,
                           const char **status, sitq_error *err) {
    sitq_queue *q = NULL;
    sitq_code code = sitq_queue_open(backend, t->queue, &q, err);
    if (code == SITQ_OK && action == BULK_CANCEL) {
        sitq_status st = SITQ_CANCELLED;
        code = sitq_cancel(q, t->id, &st, err);
        *status = code == SITQ_OK && st == SITQ_RUNNING ? "running: cancel requested" : "cancelled";
    } else if (code == SITQ_OK) {
        code = sitq_retry(q, t->id, err);
        *status = "requeued";
    }
    sitq_queue_close(q);
    return code;
}

/* One text line about task t: "task 7 (mail, shell): WHAT". */
static void print_line(const sitq_result *t, const char *what) {
    char *queue = term_escape_str(t->queue, 0);
    char *fn = term_escape_str(t->function, 0);
    printf("task %" PRId64 " (%s, %s): %s\n", (int64_t)t->id, queue ? queue : "?", fn ? fn : "?",
           what);
    free(queue);
    free(fn);
}

/* Handle one page of selected tasks. Returns SITQ_OK, or the code of the
 * storage error that stops the run, with err filled (refusals by the rules
 * are skipped). */
static sitq_code run_page(const common_opts *o, sitq_backend *backend, enum bulk_action action,
                          sitq_result **items, size_t n, bulk_counts *k, sitq_error *err) {
    for (size_t i = 0; i < n; i++) {
        const sitq_result *t = items[i];
        if (o->dry_run) {
            k->matched++;
            if (!o->json) print_line(t, action == BULK_CANCEL ? "would cancel" : "would retry");
            json_array_append_new(k->ids, json_integer(t->id));
            continue;
        }
        memset(err, 0, sizeof *err);
        const char *status = "";
        sitq_code code = apply_one(backend, t, action, &status, err);
        if (code == SITQ_ESTATE || code == SITQ_ENOTFOUND) {
            /* its state changed since the page was read, or the rules
             * refuse it (a retry whose dependency failed) */
            k->matched++;
            k->skipped++;
            if (!o->json) print_line(t, err->message);
            continue;
        }
        if (code != SITQ_OK) return code; /* not counted: it was not changed */
        k->matched++;
        k->changed++;
        json_array_append_new(k->ids, json_integer(t->id));
        if (!o->json) print_line(t, status);
    }
    return SITQ_OK;
}

/* The summary: a line, or one JSON object; when a storage error (code,
 * err) stopped the run, it says so, so that a script learns what was
 * changed before it. Returns the exit code. */
static int print_summary(const char *cmd, const common_opts *o, enum bulk_action action,
                         bulk_counts *k, sitq_code code, const sitq_error *err) {
    const char *verb = action == BULK_CANCEL ? "cancel" : "retry";
    int rc = code == SITQ_OK ? CLI_EXIT_OK : cli_exit_for_code(code);
    if (o->json) {
        json_t *j =
            json_pack("{s:s, s:b, s:I, s:I, s:I, s:O}", "action", verb, "dry_run", o->dry_run,
                      "matched", (json_int_t)k->matched, "changed", (json_int_t)k->changed,
                      "skipped", (json_int_t)k->skipped, "ids", k->ids);
        if (j != NULL && code != SITQ_OK &&
            json_object_set_new(j, "error",
                                json_pack("{s:s, s:s}", "code", sitq_code_name(code), "message",
                                          err->message[0] ? err->message : "failed")) != 0) {
            json_decref(j);
            j = NULL;
        }
        int printed = print_json_checked(cmd, j);
        return rc != CLI_EXIT_OK ? rc : printed;
    }
    const char *stopped = code == SITQ_OK ? "" : " before an error stopped it";
    if (o->dry_run)
        printf("dry run: %" PRId64 " task%s would be %s%s; nothing was changed\n", k->matched,
               k->matched == 1 ? "" : "s", action == BULK_CANCEL ? "cancelled" : "retried",
               stopped);
    else
        printf("%s: %" PRId64 " matched, %" PRId64 " %s, %" PRId64 " skipped%s\n", verb, k->matched,
               k->changed, action == BULK_CANCEL ? "cancelled" : "retried", k->skipped, stopped);
    return rc;
}

int bulk_run(const char *cmd, const common_opts *o, sitq_backend *backend,
             enum bulk_action action) {
    sitq_list_filter f;
    sitq_list_filter_init(&f);
    f.queue = o->queue_given ? o->queue : NULL;
    f.status = o->status;
    f.function = o->function;
    f.since_us = o->since_us;
    f.until_us = o->until_us;
    f.oldest_first = 1;
    f.limit = BULK_PAGE;
    bulk_counts k = {0, 0, 0, json_array()};
    if (k.ids == NULL) {
        cli_errorf(cmd, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code code = SITQ_OK;
    for (;;) {
        sitq_result **items = NULL;
        size_t n = 0;
        code = sitq_list_tasks(backend, &f, &items, &n, &err);
        if (code != SITQ_OK) break;
        code = run_page(o, backend, action, items, n, &k, &err);
        if (n > 0) f.after_id = items[n - 1]->id; /* the next page starts after it */
        sitq_result_list_free(items, n);
        if (code != SITQ_OK || n < f.limit) break;
    }
    if (code != SITQ_OK) (void)cli_api_error(cmd, code, &err);
    /* After a storage error the summary still says what was changed. */
    int rc = print_summary(cmd, o, action, &k, code, &err);
    json_decref(k.ids);
    return rc;
}
