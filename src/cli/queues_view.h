/*
 * queues_view.h - the table of every queue's counts, shared by `sitq queues`
 * and `sitq stats` without --queue.
 */
#ifndef SITQ_CLI_QUEUES_VIEW_H
#define SITQ_CLI_QUEUES_VIEW_H

#include "common_opts.h"
#include "sitq.h"

/**
 * Print every queue of backend with its counts by status (only o->queue
 * when o->queue_given), as a table, a JSON array (o->json) or one object per
 * line (o->jsonl). with_store adds a total row and the store's figures
 * (sitq_backend_health); with o->json the output is then one object: the
 * totals, "queues" (the array) and "store". Returns an exit code after
 * printing any error for cmd.
 */
int queues_view(const char *cmd, const common_opts *o, sitq_backend *backend, int with_store);

#endif /* SITQ_CLI_QUEUES_VIEW_H */
