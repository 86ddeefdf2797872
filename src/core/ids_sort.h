/*
 * ids_sort.h - a sorted copy of a caller's task ids without repeats, for
 * the backends' reads of many tasks at once (get_many, dependents_many),
 * whose answers come in ascending ids, each once.
 */
#ifndef SITQ_CORE_IDS_SORT_H
#define SITQ_CORE_IDS_SORT_H

#include <stddef.h>

#include "sitq.h"

/* A malloc'd copy of the n ids, ascending and each once, into *out (the
 * caller's to free) and its length into *n_out. Returns 0, or -1 when out
 * of memory (*out NULL). */
int sitq__ids_sorted(const sitq_task_id *ids, size_t n, sitq_task_id **out, size_t *n_out);

#endif
