/*
 * cmd_manage.c - the subcommands that change stored tasks: cancel, retry
 * and purge.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common_opts.h"
#include "db.h"
#include "diag.h"
#include "output.h"

static const char CANCEL_USAGE[] =
    "usage: sitq cancel DB ID [--queue NAME] [--json]\n"
    "\n"
    "Cancel a task. A queued, waiting or scheduled task becomes cancelled at\n"
    "once; a running task is asked to stop (its worker kills a shell command's\n"
    "process group). Exit code 1 when the task already finished.\n"
    "\n"
    "  -q, --queue NAME  queue (default \"default\")\n"
    "  -j, --json        print {\"id\", \"status\"}: status is \"cancelled\" or \"running\"\n"
    "  -h, --help        show this help\n";

static const char RETRY_USAGE[] =
    "usage: sitq retry DB ID [--queue NAME] [--json]\n"
    "\n"
    "Run a failed or cancelled task again (attempts reset to 0). It becomes\n"
    "queued, or waiting for its dependencies. Exit code 1 when the task is not\n"
    "failed/cancelled or one of its dependencies failed (retry that first).\n"
    "\n"
    "  -q, --queue NAME  queue (default \"default\")\n"
    "  -j, --json        print {\"id\", \"status\"}\n"
    "  -h, --help        show this help\n";

static const char PURGE_USAGE[] =
    "usage: sitq purge DB [--older-than S] [--queue NAME] [--json]\n"
    "\n"
    "Delete finished tasks (succeeded, failed, cancelled) of the queue that\n"
    "finished more than S seconds ago, with their results.\n"
    "\n"
    "      --older-than S  age in seconds, >= 0 (default 86400 = one day;\n"
    "                      0 deletes every finished task)\n"
    "  -q, --queue NAME    queue (default \"default\")\n"
    "  -j, --json          print {\"purged\": N}\n"
    "  -h, --help          show this help\n";

/** Print a {"id", "status"} object or text line after cancel/retry. */
static int print_id_status(const char *cmd, const common_opts *o, const char *status,
                           const char *text)
{
    if (o->json) {
        json_t *j = json_pack("{s:I, s:s}", "id", (json_int_t)o->id, "status", status);
        if (print_json(j) != 0) {
            cli_errorf(cmd, "cannot write JSON output");
            return CLI_EXIT_FAILURE;
        }
        return CLI_EXIT_OK;
    }
    printf("task %" PRId64 " %s\n", (int64_t)o->id, text);
    return CLI_EXIT_OK;
}

int cmd_cancel(int argc, char **argv)
{
    common_opts o;
    int rc = common_opts_parse(argc, argv, 0, 1, CANCEL_USAGE, &o);
    if (rc >= 0)
        return rc;
    cli_db db;
    rc = cli_db_open(argv[0], o.db, o.queue, CLI_DB_MUST_EXIST, 0, &db);
    if (rc != CLI_EXIT_OK)
        return rc;
    sitq_status st = SITQ_CANCELLED;
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code code = sitq_cancel(db.queue, o.id, &st, &err);
    if (code != SITQ_OK)
        rc = cli_api_error(argv[0], code, &err);
    else if (st == SITQ_RUNNING)
        rc = print_id_status(argv[0], &o, "running", "is running: cancel requested");
    else
        rc = print_id_status(argv[0], &o, sitq_status_name(st), "cancelled");
    cli_db_close(&db);
    return rc;
}

int cmd_retry(int argc, char **argv)
{
    common_opts o;
    int rc = common_opts_parse(argc, argv, 0, 1, RETRY_USAGE, &o);
    if (rc >= 0)
        return rc;
    cli_db db;
    rc = cli_db_open(argv[0], o.db, o.queue, CLI_DB_MUST_EXIST, 0, &db);
    if (rc != CLI_EXIT_OK)
        return rc;
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code code = sitq_retry(db.queue, o.id, &err);
    if (code != SITQ_OK) {
        rc = cli_api_error(argv[0], code, &err);
    } else {
        /* Report the new status; a worker may already have claimed it. */
        sitq_result *r = NULL;
        const char *status = "queued";
        if (sitq_get_result(db.queue, o.id, &r, NULL) == SITQ_OK)
            status = sitq_status_name(r->status);
        char text[64];
        snprintf(text, sizeof text, "requeued (%s)", status);
        rc = print_id_status(argv[0], &o, status, text);
        sitq_result_free(r);
    }
    cli_db_close(&db);
    return rc;
}

int cmd_purge(int argc, char **argv)
{
    common_opts o;
    int rc = common_opts_parse(argc, argv, COPT_OLDER_THAN, 0, PURGE_USAGE, &o);
    if (rc >= 0)
        return rc;
    cli_db db;
    rc = cli_db_open(argv[0], o.db, o.queue, CLI_DB_MUST_EXIST, 0, &db);
    if (rc != CLI_EXIT_OK)
        return rc;
    int64_t purged = 0;
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code code = sitq_purge(db.queue, o.older_than_s, &purged, &err);
    if (code != SITQ_OK) {
        rc = cli_api_error(argv[0], code, &err);
    } else if (o.json) {
        json_t *j = json_pack("{s:I, s:f}", "purged", (json_int_t)purged, "older_than_s",
                              o.older_than_s);
        if (print_json(j) != 0) {
            cli_errorf(argv[0], "cannot write JSON output");
            rc = CLI_EXIT_FAILURE;
        }
    } else {
        printf("purged %" PRId64 " task%s\n", purged, purged == 1 ? "" : "s");
    }
    cli_db_close(&db);
    return rc;
}
