/*
 * dash_list.c - one page of the task list (/tasks and /api/tasks), with a
 * bound on the rows it examines.
 *
 * A filter that an index serves (a queue with a status other than
 * succeeded, or no filter at all) reads only matching rows, so a page costs
 * the same at any size. Any other filter (a function, succeeded, a status
 * without a queue, a queue without a status) reads the tasks in id order
 * and skips those that do not match: a rare match on 10 million tasks would
 * read them all, for seconds, on every load of the page. Such a page
 * therefore looks only at the ids of one window below its start (at most
 * scan_ids of them: ids are unique, so at most that many rows on either
 * backend) and, when the window ends before the page is full, says where it
 * stopped: the next page continues below the window, as keyset paging does.
 */
#include <string.h>

#include "dash.h"

/* 1 when an index yields exactly the tasks f selects, in id order. */
static int index_served(const sitq_list_filter *f) {
    if (f->function) return 0;
    if (f->status == SITQ_STATUS_ANY) return f->queue == NULL;
    return f->queue != NULL && f->status != SITQ_SUCCEEDED;
}

/* The newest task id of the store into *id (0: no task). */
static sitq_code newest_id(const dash_ctx *c, sitq_task_id *id, sitq_error *err) {
    sitq_list_filter f;
    sitq_list_filter_init(&f);
    f.limit = 1;
    sitq_result **items = NULL;
    size_t n = 0;
    sitq_code code = sitq_list_tasks(c->backend, &f, &items, &n, err);
    *id = code == SITQ_OK && n == 1 ? items[0]->id : 0;
    sitq_result_list_free(items, n);
    return code;
}

/* Bound f to the window of at most c->scan_ids ids below its start: sets
 * f->after_id; l->scan_top to the highest id of the window, and
 * l->scan_floor to its lowest when older ids remain below it (0 when the
 * window reaches the first id). */
static sitq_code bound_window(const dash_ctx *c, sitq_list_filter *f, dash_list *l,
                              sitq_error *err) {
    sitq_task_id top = f->before_id - 1;
    if (f->before_id == 0) {
        sitq_code code = newest_id(c, &top, err);
        if (code != SITQ_OK) return code;
    }
    l->scan_top = top;
    if (top > c->scan_ids) {
        f->after_id = top - c->scan_ids; /* ids after_id + 1 .. top */
        l->scan_floor = f->after_id + 1;
    }
    return SITQ_OK;
}

int dash_list_read(const dash_ctx *c, const dash_query *q, dash_list *l, dash_reply *r) {
    memset(l, 0, sizeof *l);
    if (dash_list_filter(c, q, &l->f, r) != 0) return -1;
    sitq_list_filter f = l->f;
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code code = SITQ_OK;
    if (!index_served(&f)) code = bound_window(c, &f, l, &err);
    f.limit = l->f.limit + 1; /* one more says whether a next page exists */
    if (code == SITQ_OK) code = sitq_list_tasks(c->backend, &f, &l->items, &l->n, &err);
    if (code != SITQ_OK) {
        dash_api_error(r, "listing the tasks", code, &err);
        return -1;
    }
    size_t page = l->f.limit;
    l->n_shown = l->n > page ? page : l->n;
    if (l->n > page) l->next_before = l->items[page - 1]->id;
    else if (l->scan_floor != 0) {
        l->next_before = l->scan_floor; /* the page ends where the window did */
        l->cut = 1;
    }
    return 0;
}

void dash_list_free(dash_list *l) {
    sitq_result_list_free(l->items, l->n);
    memset(l, 0, sizeof *l);
}
