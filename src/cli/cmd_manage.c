/*
 * cmd_manage.c - the subcommands that change stored tasks: cancel, retry
 * and purge.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bulk.h"
#include "cli.h"
#include "common_opts.h"
#include "db.h"
#include "diag.h"
#include "output.h"

static const char CANCEL_USAGE[] =
    "usage: sitq cancel DB ID [--queue NAME] [--busy-timeout S] [--json]\n"
    "       sitq cancel DB --status S [--function F] [--since T] [--until T]\n"
    "                      [--queue NAME] [--dry-run] [--busy-timeout S] [--json]\n"
    "\n"
    "Cancel a task. A queued, waiting or scheduled task becomes cancelled at\n"
    "once; a running task is asked to stop (its worker kills a shell command's\n"
    "process group). Exit code 1 when the task already finished.\n"
    "The second form cancels every task in status S (of every queue unless\n"
    "--queue), one by one under the same rules, in pages of 500, oldest first.\n"
    "\n"
    "  -q, --queue NAME  with ID: not needed (task ids are unique across queues);\n"
    "                    when given, an error unless the task is in queue NAME;\n"
    "                    with --status: only that queue\n"
    "      --status S    every task in status S: queued, waiting, scheduled, running\n"
    "      --function F  only tasks of function F (shell tasks: shell)\n"
    "      --since T     only tasks whose time (finish, else enqueue) is at or\n"
    "                    after T: a duration ago (30m, 1h, 7d) or a UTC time\n"
    "                    (2026-12-03T07:00:00Z)\n"
    "      --until T     only tasks whose time is before T (same forms)\n"
    "      --dry-run     print the tasks that would be cancelled; change nothing\n"
    "      --busy-timeout S\n"
    "                    wait up to S seconds for a lock another process holds\n"
    "                    (default 30), then exit 3\n"
    "  -j, --json        print {\"id\", \"status\"}: status is \"cancelled\" or \"running\";\n"
    "                    with --status: {\"action\", \"dry_run\", \"matched\",\n"
    "                    \"changed\", \"skipped\", \"ids\"} and \"error\" when a storage\n"
    "                    error stopped the run\n"
    "  -h, --help        show this help\n";

static const char RETRY_USAGE[] =
    "usage: sitq retry DB ID [--queue NAME] [--busy-timeout S] [--json]\n"
    "       sitq retry DB --status S [--function F] [--since T] [--until T]\n"
    "                     [--queue NAME] [--dry-run] [--busy-timeout S] [--json]\n"
    "\n"
    "Run a failed or cancelled task again (attempts reset to 0). It becomes\n"
    "queued, or waiting for its dependencies. Exit code 1 when the task is not\n"
    "failed/cancelled or one of its dependencies failed (retry that first).\n"
    "The second form retries every task in status S (of every queue unless\n"
    "--queue), one by one under the same rules, in pages of 500, oldest first\n"
    "(a dependency before its dependents, which its retry requeues).\n"
    "\n"
    "  -q, --queue NAME  with ID: not needed (task ids are unique across queues);\n"
    "                    when given, an error unless the task is in queue NAME;\n"
    "                    with --status: only that queue\n"
    "      --status S    every task in status S: failed or cancelled\n"
    "      --function F  only tasks of function F (shell tasks: shell)\n"
    "      --since T     only tasks that finished at or after T: a duration ago\n"
    "                    (30m, 1h, 7d) or a UTC time (2026-12-03T07:00:00Z)\n"
    "      --until T     only tasks that finished before T (same forms)\n"
    "      --dry-run     print the tasks that would be retried; change nothing\n"
    "      --busy-timeout S\n"
    "                    wait up to S seconds for a lock another process holds\n"
    "                    (default 30), then exit 3\n"
    "  -j, --json        print {\"id\", \"status\"}; with --status: {\"action\",\n"
    "                    \"dry_run\", \"matched\", \"changed\", \"skipped\", \"ids\"}\n"
    "                    and \"error\" when a storage error stopped the run\n"
    "  -h, --help        show this help\n";

static const char PURGE_USAGE[] =
    "usage: sitq purge DB [--older-than S] [--queue NAME] [--busy-timeout S] [--json]\n"
    "\n"
    "Delete finished tasks (succeeded, failed, cancelled) of the queue that\n"
    "finished more than S seconds ago, with their results.\n"
    "\n"
    "      --older-than S  age, >= 0: a duration with a unit (30m, 12h, 7d) or a\n"
    "                      bare number of seconds (default 1d; 0 deletes every\n"
    "                      finished task)\n"
    "  -q, --queue NAME    queue (default \"default\")\n"
    "      --busy-timeout S\n"
    "                      wait up to S seconds for a lock another process holds\n"
    "                      (default 30), then exit 3\n"
    "  -j, --json          print {\"purged\": N}\n"
    "  -h, --help          show this help\n";

/** Print a {"id", "status"} object or text line after cancel/retry. */
static int print_id_status(const char *cmd, const common_opts *o, const char *status,
                           const char *text) {
    if (o->json) {
        json_t *j = json_pack("{s:I, s:s}", "id", (json_int_t)o->id, "status", status);
        return print_json_checked(cmd, j);
    }
    printf("task %" PRId64 " %s\n", (int64_t)o->id, text);
    return CLI_EXIT_OK;
}

/** Body of `sitq cancel` (see common_cmd_fn). */
static int run_cancel(const char *cmd, const common_opts *o, sitq_queue *queue, sitq_error *err) {
    int rc = bulk_check(cmd, o);
    if (rc == 0) return bulk_run(cmd, o, sitq_queue_backend(queue), BULK_CANCEL);
    if (rc > 0) return rc;
    sitq_status st = SITQ_CANCELLED;
    sitq_code code = sitq_cancel(queue, o->id, &st, err);
    if (code != SITQ_OK) rc = cli_api_error(cmd, code, err);
    else if (st == SITQ_RUNNING)
        rc = print_id_status(cmd, o, "running", "is running: cancel requested");
    else rc = print_id_status(cmd, o, sitq_status_name(st), "cancelled");
    return rc;
}

int cmd_cancel(int argc, char **argv) {
    return common_opts_run(argc, argv, COPT_WRITE | COPT_STATUS | COPT_FILTER | COPT_DRY_RUN,
                           COPT_ID_OPTIONAL, CANCEL_USAGE, run_cancel);
}

/** Body of `sitq retry` (see common_cmd_fn). */
static int run_retry(const char *cmd, const common_opts *o, sitq_queue *queue, sitq_error *err) {
    int rc = bulk_check(cmd, o);
    if (rc == 0) return bulk_run(cmd, o, sitq_queue_backend(queue), BULK_RETRY);
    if (rc > 0) return rc;
    sitq_code code = sitq_retry(queue, o->id, err);
    if (code != SITQ_OK) {
        rc = cli_api_error(cmd, code, err);
    } else {
        /* Report the new status; a worker may already have claimed it. */
        sitq_result *r = NULL;
        const char *status = "queued";
        if (sitq_get_result(queue, o->id, &r, NULL) == SITQ_OK)
            status = sitq_status_name(r->status);
        char text[64];
        snprintf(text, sizeof text, "requeued (%s)", status);
        rc = print_id_status(cmd, o, status, text);
        sitq_result_free(r);
    }
    return rc;
}

int cmd_retry(int argc, char **argv) {
    return common_opts_run(argc, argv, COPT_WRITE | COPT_STATUS | COPT_FILTER | COPT_DRY_RUN,
                           COPT_ID_OPTIONAL, RETRY_USAGE, run_retry);
}

/** Body of `sitq purge` (see common_cmd_fn). */
static int run_purge(const char *cmd, const common_opts *o, sitq_queue *queue, sitq_error *err) {
    int rc = CLI_EXIT_OK;
    int64_t purged = 0;
    sitq_code code = sitq_purge(queue, o->older_than_s, &purged, err);
    if (code != SITQ_OK) {
        rc = cli_api_error(cmd, code, err);
    } else if (o->json) {
        json_t *j =
            json_pack("{s:I, s:f}", "purged", (json_int_t)purged, "older_than_s", o->older_than_s);
        rc = print_json_checked(cmd, j);
    } else {
        printf("purged %" PRId64 " task%s\n", purged, purged == 1 ? "" : "s");
    }
    return rc;
}

int cmd_purge(int argc, char **argv) {
    return common_opts_run(argc, argv, COPT_OLDER_THAN | COPT_WRITE, 0, PURGE_USAGE, run_purge);
}
