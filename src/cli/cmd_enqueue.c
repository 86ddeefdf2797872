/*
 * cmd_enqueue.c - `sitq enqueue`: store a shell-command task.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "diag.h"
#include "enqueue_args.h"
#include "output.h"
#include "shell_payload.h"
#include "store_opts.h"

int cmd_enqueue(int argc, char **argv) {
    enqueue_args a;
    int rc = enqueue_args_parse(argc, argv, &a);
    if (rc >= 0) {
        free(a.after);
        return rc;
    }
    a.opts.depends_on = a.after;
    a.opts.n_depends_on = a.n_after;

    char *payload = NULL;
    size_t len = 0;
    if (shell_payload_encode(argv + optind + 1, argc - optind - 1, a.shell_opts, &payload, &len) !=
        0) {
        cli_errorf(argv[0], "out of memory");
        free(a.after);
        return CLI_EXIT_FAILURE;
    }
    cli_db db;
    rc = cli_db_open_opts(argv[0], argv[optind], a.queue, CLI_DB_CREATE, &a.store, &db, NULL);
    if (rc == CLI_EXIT_OK) {
        sitq_task_id id = 0;
        sitq_error err;
        memset(&err, 0, sizeof err);
        sitq_code code = sitq_enqueue(db.queue, SHELL_FUNCTION, payload, len, &a.opts, &id, &err);
        if (code != SITQ_OK) {
            rc = cli_api_error(argv[0], code, &err);
        } else if (a.json) {
            rc = print_json_checked(argv[0], json_pack("{s:I}", "id", (json_int_t)id));
        } else {
            printf("%" PRId64 "\n", (int64_t)id);
        }
        cli_db_close(&db);
    }
    free(payload);
    free(a.after);
    return rc;
}
