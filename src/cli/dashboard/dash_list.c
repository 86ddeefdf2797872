/*
 * dash_list.c - one page of the task list (/tasks and /api/tasks): the
 * request's parameters read by list_page_read (list_page.c), which bounds
 * the ids a page examines when no index serves its filter, as `sitq list`
 * does.
 */
#include <string.h>

#include "dash.h"

int dash_list_read(const dash_ctx *c, const dash_query *q, dash_list *l, dash_reply *r) {
    memset(l, 0, sizeof *l);
    if (dash_list_filter(c, q, &l->f, r) != 0) return -1;
    sitq_error err;
    memset(&err, 0, sizeof err);
    list_page p;
    sitq_code code = list_page_read(c->backend, &l->f, c->scan_ids, &p, &err);
    if (code != SITQ_OK) {
        dash_api_error(r, "listing the tasks", code, &err);
        return -1;
    }
    l->items = p.items;
    l->n = p.n;
    l->n_shown = p.n_shown;
    l->next_before = p.next_before;
    l->cut = p.cut;
    l->scan_top = p.scan_top;
    l->scan_floor = p.scan_floor;
    return 0;
}

void dash_list_free(dash_list *l) {
    sitq_result_list_free(l->items, l->n);
    memset(l, 0, sizeof *l);
}
