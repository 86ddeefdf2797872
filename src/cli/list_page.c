/*
 * list_page.c - one page of a task list, with a bound on the rows it
 * examines (list_page.h); `sitq list` and the dashboard's task list both
 * read their pages here, so that they page the same way.
 *
 * A filter that an index serves (a queue with a status other than
 * succeeded, or no filter at all) reads only matching rows, so a page costs
 * the same at any size. A status other than succeeded without a queue is
 * read queue by queue on that index and merged (the index is by queue, then
 * id: one read over every queue could not seek, and SQLite walks the table
 * instead), on a store of at most LIST_MERGE_QUEUES_MAX queues; with more,
 * as the filters below. Any other filter (a function, a worker, a time
 * range, succeeded, a queue without a status) reads the tasks in id order
 * and skips those that do not match: a rare match on 10 million tasks
 * would read them all, for seconds. Such a page therefore looks only at the
 * ids of one window below its start (at most scan_ids of them: ids are
 * unique, so at most that many rows on either backend) and, when the
 * window ends before the page is full, says where it stopped: the next
 * page continues below the window, as keyset paging does.
 */
#include "list_page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest limit sitq_list_tasks takes. */
#define LIST_LIMIT_MAX 1000000

/* 1 when the status has an index by queue and id: all but succeeded. */
static int status_indexed(int status) {
    return status != SITQ_STATUS_ANY && status != SITQ_SUCCEEDED;
}

/* 1 when f filters on something no index holds. */
static int unindexed_terms(const sitq_list_filter *f) {
    return f->function != NULL || f->worker_id != NULL || f->since_us != 0 || f->until_us != 0;
}

int list_page_indexed(const sitq_list_filter *f) {
    if (unindexed_terms(f)) return 0;
    if (f->status == SITQ_STATUS_ANY) return f->queue == NULL;
    return f->queue != NULL && status_indexed(f->status);
}

/* Newest id first, for qsort. */
static int newer_first(const void *a, const void *b) {
    sitq_task_id x = (*(sitq_result *const *)a)->id, y = (*(sitq_result *const *)b)->id;
    return x > y ? -1 : x < y;
}

/* Append the tasks f selects in queue `name` to (*all, *n, *cap). */
static sitq_code read_queue(sitq_backend *b, sitq_list_filter f, const char *name,
                            sitq_result ***all, size_t *n, size_t *cap, sitq_error *err) {
    f.queue = name;
    sitq_result **items = NULL;
    size_t got = 0;
    sitq_code code = sitq_list_tasks(b, &f, &items, &got, err);
    if (code != SITQ_OK) return code;
    if (*n + got > *cap) {
        size_t want = (*n + got) * 2;
        sitq_result **grown = realloc(*all, want * sizeof(sitq_result *));
        if (grown == NULL) {
            sitq_result_list_free(items, got);
            err->code = SITQ_ENOMEM;
            snprintf(err->message, sizeof err->message, "out of memory listing tasks");
            return SITQ_ENOMEM;
        }
        *all = grown;
        *cap = want;
    }
    if (got) memcpy(*all + *n, items, got * sizeof(sitq_result *));
    *n += got;
    free(items); /* the results now belong to all */
    return SITQ_OK;
}

/* Keep the `keep` newest of p's tasks, newest first. */
static void keep_newest(size_t keep, list_page *p) {
    if (p->n > 1) qsort(p->items, p->n, sizeof(sitq_result *), newer_first);
    for (size_t i = keep; i < p->n; i++) sitq_result_free(p->items[i]);
    if (p->n > keep) p->n = keep;
}

/* Drop the `skip` newest of p's tasks (an offset applied after a merge). */
static void drop_newest(size_t skip, list_page *p) {
    if (skip > p->n) skip = p->n;
    if (skip == 0) return; /* items may be NULL on an empty page */
    for (size_t i = 0; i < skip; i++) sitq_result_free(p->items[i]);
    memmove(p->items, p->items + skip, (p->n - skip) * sizeof(sitq_result *));
    p->n -= skip;
}

/* The first f->limit tasks after f->offset of f (a status with an index,
 * no queue, nothing unindexed), newest first: each queue's on that
 * status's index, merged. A page costs at most (queues x (offset + limit))
 * index entries, whatever the store's size; once enough tasks are in hand,
 * the next queues are asked only for ids above the oldest of them (the rest
 * could not make the page), so with many queues most reads return a few
 * rows or none. */
static sitq_code read_by_queue(sitq_backend *b, const sitq_list_filter *f, char **names, size_t nq,
                               list_page *p, sitq_error *err) {
    size_t cap = 0, want = f->offset + f->limit;
    sitq_code code = SITQ_OK;
    sitq_list_filter fq = *f;
    fq.limit = want;
    fq.offset = 0;
    for (size_t i = 0; i < nq && code == SITQ_OK; i++) {
        code = read_queue(b, fq, names[i], &p->items, &p->n, &cap, err);
        if (code == SITQ_OK && p->n >= want) {
            keep_newest(want, p);
            sitq_task_id oldest_kept = p->items[p->n - 1]->id;
            if (oldest_kept > fq.after_id) fq.after_id = oldest_kept;
        }
    }
    if (code != SITQ_OK) return code;
    keep_newest(want, p);
    drop_newest(f->offset, p);
    return SITQ_OK;
}

/* The newest task id of the store into *id (0: no task). */
static sitq_code newest_id(sitq_backend *b, sitq_task_id *id, sitq_error *err) {
    sitq_list_filter f;
    sitq_list_filter_init(&f);
    f.limit = 1;
    sitq_result **items = NULL;
    size_t n = 0;
    sitq_code code = sitq_list_tasks(b, &f, &items, &n, err);
    *id = code == SITQ_OK && n == 1 ? items[0]->id : 0;
    sitq_result_list_free(items, n);
    return code;
}

/* Bound f to the window of at most scan_ids ids below its start: sets
 * f->after_id; p->scan_top to the highest id of the window, and
 * p->scan_floor to its lowest when older ids remain below it (0 when the
 * window reaches the first id). The window starts at the newest id at
 * most: one above it (a hand-made or stale `before`) would examine only
 * ids no task has, and so would each "continue" after it. */
static sitq_code bound_window(sitq_backend *b, sitq_task_id scan_ids, sitq_list_filter *f,
                              list_page *p, sitq_error *err) {
    sitq_task_id top = 0;
    sitq_code code = newest_id(b, &top, err);
    if (code != SITQ_OK) return code;
    if (f->before_id != 0 && f->before_id - 1 < top) top = f->before_id - 1;
    p->bounded = 1;
    p->scan_top = top;
    if (top > scan_ids) {
        sitq_task_id floor = top - scan_ids; /* ids floor + 1 .. top */
        if (floor > f->after_id) {
            f->after_id = floor;
            p->scan_floor = floor + 1;
        }
    }
    return SITQ_OK;
}

/* 1 when f is a status without a queue that its index serves queue by
 * queue. */
static int merge_wanted(const sitq_list_filter *f) {
    return !unindexed_terms(f) && f->queue == NULL && status_indexed(f->status) &&
           f->offset + f->limit <= LIST_LIMIT_MAX;
}

/* Read the tasks of f (its limit one more than the page) into p. */
static sitq_code read_tasks(sitq_backend *b, sitq_list_filter *f, sitq_task_id scan_ids,
                            list_page *p, sitq_error *err) {
    char **names = NULL;
    size_t nq = 0;
    sitq_code code = SITQ_OK;
    if (merge_wanted(f)) code = sitq_queue_names(b, &names, &nq, err);
    if (code == SITQ_OK && names && nq <= LIST_MERGE_QUEUES_MAX)
        code = read_by_queue(b, f, names, nq, p, err);
    else if (code == SITQ_OK) {
        if (!list_page_indexed(f)) code = bound_window(b, scan_ids, f, p, err);
        if (code == SITQ_OK) code = sitq_list_tasks(b, f, &p->items, &p->n, err);
    }
    sitq_queue_names_free(names, nq);
    return code;
}

sitq_code list_page_read(sitq_backend *b, const sitq_list_filter *f, sitq_task_id scan_ids,
                         list_page *p, sitq_error *err) {
    memset(p, 0, sizeof *p);
    sitq_list_filter g = *f;
    size_t page = f->limit;
    /* One more says whether a next page exists. */
    if (g.limit < LIST_LIMIT_MAX) g.limit++;
    sitq_code code = read_tasks(b, &g, scan_ids < 1 ? 1 : scan_ids, p, err);
    if (code != SITQ_OK) {
        list_page_free(p);
        return code;
    }
    p->n_shown = p->n > page ? page : p->n;
    if (p->n > page) p->next_before = p->items[page - 1]->id;
    else if (p->scan_floor != 0) {
        p->next_before = p->scan_floor; /* the page ends where the window did */
        p->cut = 1;
    }
    return SITQ_OK;
}

/* Sum the counts of f in each of the nq queues names, up to cap each. */
static sitq_code count_by_queue(sitq_backend *b, const sitq_list_filter *f, char **names, size_t nq,
                                int64_t cap, int64_t *total, sitq_error *err) {
    sitq_list_filter fq = *f;
    *total = 0;
    for (size_t i = 0; i < nq; i++) {
        int64_t one = 0;
        fq.queue = names[i];
        sitq_code code = sitq_count_tasks(b, &fq, cap, &one, err);
        if (code != SITQ_OK) return code;
        *total += one;
    }
    return SITQ_OK;
}

int list_page_count(sitq_backend *b, const sitq_list_filter *f, int64_t cap, int64_t *total,
                    sitq_error *err) {
    if (list_page_indexed(f)) return sitq_count_tasks(b, f, cap, total, err) == SITQ_OK ? 1 : -1;
    if (unindexed_terms(f) || f->queue != NULL || !status_indexed(f->status)) return 0;
    char **names = NULL;
    size_t nq = 0;
    if (sitq_queue_names(b, &names, &nq, err) != SITQ_OK) return -1;
    int rc = 0;
    if (nq <= LIST_MERGE_QUEUES_MAX)
        rc = count_by_queue(b, f, names, nq, cap, total, err) == SITQ_OK ? 1 : -1;
    sitq_queue_names_free(names, nq);
    return rc;
}

void list_page_free(list_page *p) {
    sitq_result_list_free(p->items, p->n);
    memset(p, 0, sizeof *p);
}
