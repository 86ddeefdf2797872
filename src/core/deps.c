/* deps.c - the dependency edges of a task being enqueued, in the order they
 * were declared, for both backends. */
#include "internal.h"
#include "lifecycle.h"

#include <stdlib.h>

static int cmp_edge_id(const void *a, const void *b) {
    const sitq__dep_edge *x = a, *y = b;
    if (x->id != y->id) return (x->id > y->id) - (x->id < y->id);
    return (x->position > y->position) - (x->position < y->position);
}

static int cmp_edge_pos(const void *a, const void *b) {
    const sitq__dep_edge *x = a, *y = b;
    return (x->position > y->position) - (x->position < y->position);
}

sitq_code sitq__deps_collect(const sitq_task_spec *s, const sitq_task_id *batch_ids,
                             sitq__dep_edge **out, size_t *n_out, sitq_error *err) {
    size_t n_ids = s->options ? s->options->n_depends_on : 0;
    size_t n = n_ids + s->n_depends_on_index;
    *out = NULL;
    *n_out = 0;
    if (n == 0) return SITQ_OK;
    sitq__dep_edge *d = malloc(n * sizeof *d);
    if (!d) return sitq__fail(err, SITQ_ENOMEM, "out of memory collecting dependencies");
    for (size_t i = 0; i < n_ids; i++)
        d[i] = (sitq__dep_edge){s->options->depends_on[i], (int64_t)i};
    for (size_t i = 0; i < s->n_depends_on_index; i++)
        d[n_ids + i] = (sitq__dep_edge){batch_ids[s->depends_on_index[i]], (int64_t)(n_ids + i)};
    /* Keep each id's first position, then number the kept ones densely in
     * declaration order, so that position k is the k-th distinct one. */
    qsort(d, n, sizeof *d, cmp_edge_id);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || d[m - 1].id != d[i].id) d[m++] = d[i];
    qsort(d, m, sizeof *d, cmp_edge_pos);
    for (size_t i = 0; i < m; i++) d[i].position = (int64_t)i;
    qsort(d, m, sizeof *d, cmp_edge_id);
    *out = d;
    *n_out = m;
    return SITQ_OK;
}
