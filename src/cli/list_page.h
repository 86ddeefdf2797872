/*
 * list_page.h - one page of a task list with a bound on the ids it
 * examines, shared by `sitq list` and the dashboard's task list.
 *
 * A filter that an index serves reads only matching rows; any other one
 * (a function, a worker, a time range, succeeded, a queue without a
 * status) would walk the whole store for a rare match, so its page looks
 * at the ids of one window below its start only and says where it
 * stopped: the next page goes on below it (keyset paging by `before`).
 */
#ifndef SITQ_CLI_LIST_PAGE_H
#define SITQ_CLI_LIST_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "sitq.h"

/** Ids a page examines at most by default when no index serves its filter. */
#define LIST_SCAN_DEFAULT 100000
/** A status without a queue is read queue by queue on the status's index
 *  and merged on a store of at most this many queues (a round trip each);
 *  with more, in the bounded window. */
#define LIST_MERGE_QUEUES_MAX 64

/** A page read by list_page_read. */
typedef struct list_page {
    sitq_result **items; /**< the tasks read, newest first (n_shown of them are the page) */
    size_t n, n_shown;
    sitq_task_id next_before; /**< `before` of the next page; 0: none */
    int cut;                  /**< 1: the page ended at the scan bound, not full */
    int bounded;              /**< 1: no index serves the filter: ids were bounded */
    sitq_task_id scan_top;    /**< when bounded: the highest id examined */
    sitq_task_id scan_floor;  /**< ... and the lowest, when older ids remain (else 0) */
} list_page;

/**
 * 1 when an index yields exactly the tasks f selects, in id order (no
 * function, worker or time bound; no filter at all, or a queue with a
 * status other than succeeded). Pure.
 */
int list_page_indexed(const sitq_list_filter *f);

/**
 * Read the page of f (f->limit tasks after f->offset of them, below
 * f->before_id when set) into *p (zeroed first; free it with
 * list_page_free). A status without a queue is read queue by queue on its
 * index and merged; a filter no index serves examines at most scan_ids ids
 * (>= 1) below the page's start, so that --offset counts within them; when
 * they end before the page is full, the page is `cut` and next_before is
 * the lowest id examined. When more tasks follow a full page, next_before
 * is the id of its last task. Thread-safe as the backend is. Errors: those
 * of sitq_list_tasks and sitq_queue_names (*p then holds nothing).
 */
sitq_code list_page_read(sitq_backend *b, const sitq_list_filter *f, sitq_task_id scan_ids,
                         list_page *p, sitq_error *err);

/**
 * Count the tasks f selects (limit, offset and order ignored) up to cap
 * (>= 1) into *total, when that reads only index entries: 1 after a count,
 * 0 when f is not counted so (list_page_read bounds its reads instead), -1
 * on an error (in err). A status without a queue is counted queue by queue
 * on its index (the cap for each), on a store of at most
 * LIST_MERGE_QUEUES_MAX queues. Thread-safe as the backend is.
 */
int list_page_count(sitq_backend *b, const sitq_list_filter *f, int64_t cap, int64_t *total,
                    sitq_error *err);

/** Free what p holds and zero it. */
void list_page_free(list_page *p);

#endif /* SITQ_CLI_LIST_PAGE_H */
