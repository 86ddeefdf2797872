/*
 * deps_tree.h - `sitq show ID --deps`: a task's dependency tree, each node
 * with its status and why it is blocked.
 */
#ifndef SITQ_CLI_DEPS_TREE_H
#define SITQ_CLI_DEPS_TREE_H

#include <jansson.h>

#include "sitq.h"

/**
 * The dependency tree of task id as JSON: {"id", "function", "status",
 * "finalizer", "blocked" (a reason or null), "error", "dependencies": [...]}
 * per node, in declared order; a task met again (a diamond) is listed as
 * {"id", "status", "shown_above": true}; a dependency purged since as
 * {"id", "status": "purged"}. NULL with err filled when the task cannot be
 * read (SITQ_ENOTFOUND, SITQ_ESTORAGE, SITQ_ENOMEM as sitq_code in *code).
 */
json_t *deps_tree_json(sitq_queue *q, sitq_task_id id, sitq_code *code, sitq_error *err);

/** Print a tree from deps_tree_json as indented text lines on stdout. */
void deps_tree_print(const json_t *tree);

#endif /* SITQ_CLI_DEPS_TREE_H */
