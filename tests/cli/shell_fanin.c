/*
 * shell_fanin.c - test helper of test_shell_deps_many.sh: enqueue, in one
 * batch, N shell tasks `echo I` (I = 1..N) and one shell task that depends
 * on all of them and runs `sh -c SCRIPT`; prints that task's id.
 *
 *     shell_fanin DB N SCRIPT
 *
 * The sitq command's `enqueue` takes one task per process and commits each:
 * thousands of dependencies would take minutes that way.
 */
#include <stdio.h>
#include <stdlib.h>

#include "shell_payload.h"
#include "sitq.h"

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: shell_fanin DB N SCRIPT\n");
        return 2;
    }
    size_t n = strtoul(argv[2], NULL, 10);
    sitq_task_spec *specs = calloc(n + 1, sizeof *specs);
    size_t *idx = calloc(n + 1, sizeof *idx);
    char **payloads = calloc(n + 1, sizeof *payloads);
    sitq_task_id *ids = calloc(n + 1, sizeof *ids);
    int rc = n == 0 || !specs || !idx || !payloads || !ids ? 2 : 0;
    for (size_t i = 0; rc == 0 && i <= n; i++) {
        char num[32];
        snprintf(num, sizeof num, "%zu", i + 1);
        char *echo[] = {"echo", num};
        char *last[] = {"sh", "-c", argv[3]};
        if ((i < n ? shell_payload_encode(echo, 2, 0, &payloads[i], &specs[i].payload_len)
                   : shell_payload_encode(last, 3, 0, &payloads[i], &specs[i].payload_len)) != 0)
            rc = 2;
        specs[i].function = SHELL_FUNCTION;
        specs[i].payload = payloads[i];
        idx[i] = i;
    }
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    sitq_error err;
    if (rc == 0) {
        specs[n].depends_on_index = idx;
        specs[n].n_depends_on_index = n;
        if (sitq_backend_open(argv[1], &b, &err) != SITQ_OK ||
            sitq_queue_open(b, NULL, &q, &err) != SITQ_OK ||
            sitq_enqueue_batch(q, specs, n + 1, ids, &err) != SITQ_OK) {
            fprintf(stderr, "shell_fanin: %s\n", err.message);
            rc = 1;
        } else {
            printf("%lld\n", (long long)ids[n]);
        }
    }
    sitq_queue_close(q);
    sitq_backend_close(b);
    for (size_t i = 0; payloads && i <= n; i++) free(payloads[i]);
    free(payloads);
    free(specs);
    free(idx);
    free(ids);
    return rc;
}
