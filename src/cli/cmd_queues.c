/*
 * cmd_queues.c - the views over every queue of a store: `sitq queues` and
 * `sitq stats` without --queue. The queue names come from
 * sitq_queue_names (index seeks, no scan of the tasks), then each queue is
 * counted as `stats --queue` counts it, with its counters that only grow
 * (sitq_queue_totals) in JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common_opts.h"
#include "db.h"
#include "diag.h"
#include "output.h"
#include "queues_view.h"

static const char QUEUES_USAGE[] =
    "usage: sitq queues DB [--queue NAME] [--count-cap N] [--json | --jsonl]\n"
    "\n"
    "List the queues of the database with their tasks counted by status (a\n"
    "queue exists from its first enqueue on; one whose tasks all succeeded stays\n"
    "listed after a purge). A paused queue (sitq pause) is marked \"(paused)\"\n"
    "after its name, and has \"paused\": true in JSON.\n"
    "\n"
    "  -q, --queue NAME  only that queue (an error when there is no such queue)\n"
    "  -j, --json        print a JSON array of {\"queue\", \"queued\", ..., \"total\",\n"
    "                    \"paused\", \"totals\"} on one line; \"totals\" holds the queue's\n"
    "                    counters that only grow (enqueued, succeeded, failed, retried,\n"
    "                    lost, cancelled), which a purge does not decrease\n"
    "      --jsonl       print one such object per line\n" COUNT_CAP_HELP
    "  -h, --help        show this help\n";

sitq_code queue_counts(sitq_queue *queue, int64_t cap, sitq_stats *st, unsigned *bound,
                       sitq_error *err) {
    *bound = 0;
    if (cap > 0) return sitq_get_stats_bounded(queue, cap, st, bound, err);
    return sitq_get_stats(queue, st, err);
}

/* The counts of every queue in names, added into *sum (and its counters into
 * *tsum; the bits of bounded counts into *sum_bound). Prints the rows (text) or appends the objects to arr (JSON) or
 * prints them one per line (jsonl). Returns an exit code. */
// NOLINTNEXTLINE(readability-function-size)
static int count_queues(const char *cmd, sitq_backend *backend, char **names, size_t n,
                        const common_opts *o, json_t *arr, sitq_stats *sum, sitq_totals *tsum,
                        unsigned *sum_bound) {
    for (size_t i = 0; i < n; i++) {
        if (o->queue_given && strcmp(names[i], o->queue) != 0) continue;
        sitq_error err;
        memset(&err, 0, sizeof err);
        sitq_queue *q = NULL;
        sitq_stats st;
        sitq_totals t;
        int paused = 0;
        unsigned bound = 0;
        sitq_code code = sitq_queue_open(backend, names[i], &q, &err);
        if (code == SITQ_OK) code = queue_counts(q, o->count_cap, &st, &bound, &err);
        if (code == SITQ_OK) code = sitq_queue_totals(q, &t, &err);
        if (code == SITQ_OK) code = sitq_queue_paused(q, &paused, &err);
        sitq_queue_close(q);
        if (code != SITQ_OK) return cli_api_error(cmd, code, &err);
        for (int s = 0; s < SITQ_STATUS_COUNT; s++) sum->count[s] += st.count[s];
        sum->total += st.total;
        *sum_bound |= bound;
        totals_add(tsum, &t);
        json_t *j = o->jsonl || arr != NULL ? stats_to_json(names[i], &st, NULL) : NULL;
        if (j) json_object_set_new(j, "paused", json_boolean(paused));
        if (j) json_object_set_new(j, "totals", totals_to_json(&t));
        if (j && o->count_cap > 0 && stats_bound_json(j, o->count_cap, bound) != 0) {
            json_decref(j);
            j = NULL;
        }
        if (o->jsonl) {
            if (print_json_line(j) != 0) return CLI_EXIT_FAILURE;
        } else if (arr != NULL) {
            if (json_array_append_new(arr, j) != 0) return CLI_EXIT_FAILURE;
        } else if (!o->json) {
            /* A paused queue is marked after its name. */
            char name[SITQ_NAME_MAX + 16];
            snprintf(name, sizeof name, "%s%s", names[i], paused ? " (paused)" : "");
            print_queue_row(name, &st, bound);
        }
    }
    return CLI_EXIT_OK;
}

int queues_view(const char *cmd, const common_opts *o, sitq_backend *backend, int with_store) {
    sitq_error err;
    memset(&err, 0, sizeof err);
    char **names = NULL;
    size_t n = 0;
    sitq_code code = sitq_queue_names(backend, &names, &n, &err);
    if (code != SITQ_OK) return cli_api_error(cmd, code, &err);
    sitq_store_health h;
    if (with_store) code = sitq_backend_health(backend, &h, &err);
    if (code != SITQ_OK) {
        sitq_queue_names_free(names, n);
        return cli_api_error(cmd, code, &err);
    }
    json_t *arr = o->json ? json_array() : NULL;
    sitq_stats sum;
    memset(&sum, 0, sizeof sum);
    sitq_totals tsum;
    memset(&tsum, 0, sizeof tsum);
    unsigned sum_bound = 0;
    if (!o->json && !o->jsonl) print_queue_header();
    int rc = count_queues(cmd, backend, names, n, o, arr, &sum, &tsum, &sum_bound);
    sitq_queue_names_free(names, n);
    if (rc == CLI_EXIT_OK && o->json && with_store) {
        /* stats: the sums at the top, as `stats --queue` prints one queue */
        json_t *top = stats_to_json(NULL, &sum, &h);
        if (top) json_object_set_new(top, "totals", totals_to_json(&tsum));
        if (top && o->count_cap > 0 && stats_bound_json(top, o->count_cap, sum_bound) != 0) {
            json_decref(top);
            top = NULL;
        }
        if (top == NULL || json_object_set_new(top, "queues", arr) != 0) rc = CLI_EXIT_FAILURE;
        arr = NULL;
        if (rc == CLI_EXIT_OK && print_json_line(top) != 0) rc = CLI_EXIT_FAILURE;
    } else if (rc == CLI_EXIT_OK && o->json) {
        if (print_json_line(arr) != 0) rc = CLI_EXIT_FAILURE;
        arr = NULL;
    } else if (rc == CLI_EXIT_OK && !o->jsonl && with_store) {
        print_queue_row(NULL, &sum, sum_bound);
        print_health_text(&h);
    }
    json_decref(arr);
    if (rc != CLI_EXIT_OK) cli_errorf(cmd, "cannot write the output (out of memory?)");
    return rc;
}

/** Body of `sitq queues` (see common_cmd_fn). */
static int run_queues(const char *cmd, const common_opts *o, sitq_queue *queue, sitq_error *err) {
    (void)err;
    return queues_view(cmd, o, sitq_queue_backend(queue), 0);
}

int cmd_queues(int argc, char **argv) {
    return common_opts_run(argc, argv, COPT_JSONL | COPT_COUNT_CAP, 0, QUEUES_USAGE, run_queues);
}
