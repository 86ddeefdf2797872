/*
 * cmd_metrics.c - `sitq metrics`: the store's metrics in the Prometheus text
 * format (sitq_metrics_text) on stdout, for node_exporter's textfile
 * collector or a one-off look. Reads only.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "common_opts.h"
#include "diag.h"

static const char METRICS_USAGE[] =
    "usage: sitq metrics DB\n"
    "\n"
    "Print the metrics of the database in the Prometheus text format: tasks by\n"
    "queue and status (sitq_tasks), the age of each queue's oldest ready task,\n"
    "workers by state and their attempt counters, and the store's own figures\n"
    "(file and WAL sizes; PostgreSQL: dead row versions, oldest open\n"
    "transaction). Reads only and never walks the tasks. For node_exporter's\n"
    "textfile collector, write to a temporary file and rename it into place.\n"
    "A worker serves the same text, with its own histograms and counters, at\n"
    "/metrics with `sitq worker --metrics-address`.\n"
    "\n"
    "  -h, --help   show this help\n";

static int run_metrics(const char *cmd, const common_opts *o, sitq_queue *queue, sitq_error *err) {
    if (o->json || o->jsonl || o->queue_given) {
        fprintf(stderr, "sitq %s: --json, --jsonl and --queue do not apply to metrics\n", cmd);
        return CLI_EXIT_USAGE;
    }
    char *text = NULL;
    size_t len = 0;
    sitq_code code = sitq_metrics_text(sitq_queue_backend(queue), &text, &len, err);
    if (code != SITQ_OK) return cli_api_error(cmd, code, err);
    size_t wrote = fwrite(text, 1, len, stdout);
    free(text);
    if (wrote != len || fflush(stdout) != 0) {
        perror("sitq metrics: writing the output");
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

int cmd_metrics(int argc, char **argv) {
    return common_opts_run(argc, argv, COPT_JSONL, 0, METRICS_USAGE, run_metrics);
}
