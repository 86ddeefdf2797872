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

/**
 * Count queue's tasks by status into *st: exactly (sitq_get_stats) when cap
 * is 0, else each status up to cap tasks (sitq_get_stats_bounded), the
 * statuses counted only up to the cap set in *bound (0 when exact). Returns
 * the library's code, with err set.
 */
sitq_code queue_counts(sitq_queue *queue, int64_t cap, sitq_stats *st, unsigned *bound,
                       sitq_error *err);

/** The help text of --count-cap, shared by `queues` and `stats`. */
#define COUNT_CAP_HELP                                                                             \
    "      --count-cap N count each status up to N tasks (1..1000000000), so that\n"               \
    "                    the command costs the same whatever the backlog; a\n"                     \
    "                    status with more shows \"N+\", the total too (in JSON,\n"                 \
    "                    their names are in \"lower_bound\", with \"count_cap\");\n"               \
    "                    succeeded is a stored count, always exact; default:\n"                    \
    "                    exact counts\n"

#endif /* SITQ_CLI_QUEUES_VIEW_H */
