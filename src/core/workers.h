/* workers.h - helpers of the registry of workers shared by the worker and
 * both backends (workers.c): the text of a list of names as a row stores
 * it, the state of a row, and attaching running tasks to listed workers. */
#ifndef SITQ_CORE_WORKERS_H
#define SITQ_CORE_WORKERS_H

#include "sitq.h"

#include <stddef.h>

/* A list of names as one text: joined by '\n', with '\\' and '\n' inside a
 * name escaped as "\\\\" and "\\n", so that any name survives. Malloc'd;
 * NULL when out of memory. n == 0 gives "". */
char *sitq__names_join(const char *const *names, size_t n);

/* The names of sitq__names_join's text (NULL or "": none). *out a malloc'd
 * array of *n malloc'd strings (NULL and 0 when none). 0, or -1 when out
 * of memory (then nothing is left allocated). */
int sitq__names_split(const char *text, char ***out, size_t *n);

/* The state of a registry row at `now` (the store's clock): stopped when
 * stopped_at_us is set, dead when its lease is over, else running. */
sitq_worker_state sitq__worker_state_at(sitq_time_us stopped_at_us, sitq_time_us lease_until_us,
                                        sitq_time_us now);

/* A task held by worker_id, from the running tasks' rows: counted in that
 * worker's n_held, and added to its running ids when started. ws[0..n) is
 * sorted by id; tasks of workers not listed are ignored. Ids must come in
 * ascending order (they are appended). 0, or -1 when out of memory. */
int sitq__workers_add_task(sitq_worker_info *ws, size_t n, const char *worker_id, sitq_task_id id,
                           int started);

/* Sort ws[0..n) by id, bytewise (what sitq__workers_add_task expects). */
void sitq__workers_sort(sitq_worker_info *ws, size_t n);

/* Free what one entry owns and zero it. */
void sitq__worker_info_clear(sitq_worker_info *w);

#endif
