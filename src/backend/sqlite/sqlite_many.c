/*
 * sqlite_many.c - reads of many tasks by id at once (get_many,
 * dependents_many), for walks of a pipeline layer by layer.
 *
 * SQLite runs in this process: a read costs a B-tree lookup, not a round
 * trip, so each id is read with the statements a single read uses (one
 * primary-key lookup, one edge range), in ascending id order, and the
 * answer has the shape PostgreSQL's one-statement reads give.
 */
#include <stdlib.h>
#include <string.h>

#include "../../core/grow.h"
#include "../../core/ids_sort.h"
#include "sq.h"

/* Task id as list returns it, appended to (*all, *n, *cap); absent: nothing. */
static sitq_code get_one(sitq_backend *b, sitq_task_id id, sitq_result ***all, size_t *n,
                         size_t *cap, sitq_error *err) {
    sitq_list_filter f;
    sitq_list_filter_init(&f);
    f.after_id = id - 1;
    f.before_id = id < INT64_MAX ? id + 1 : 0; /* 0: no bound (id + 1 would overflow) */
    f.limit = 1;
    sitq_result **items = NULL;
    size_t got = 0;
    sitq_code code = sq_list(b, &f, &items, &got, err);
    if (code == SITQ_OK && got == 1 &&
        sitq__reserve((void **)all, cap, *n + 1, sizeof(sitq_result *)) != 0)
        code = sitq__fail(err, SITQ_ENOMEM, "out of memory reading tasks");
    if (code == SITQ_OK && got == 1) {
        (*all)[(*n)++] = items[0];
        got = 0;
    }
    sitq_result_list_free(items, got);
    return code;
}

sitq_code sq_get_many(sitq_backend *b, const sitq_task_id *ids, size_t n, sitq_result ***items,
                      size_t *count, sitq_error *err) {
    *items = NULL;
    *count = 0;
    sitq_task_id *s = NULL;
    size_t ns = 0;
    if (sitq__ids_sorted(ids, n, &s, &ns) != 0)
        return sitq__fail(err, SITQ_ENOMEM, "out of memory reading tasks");
    sitq_result **all = NULL;
    size_t got = 0, cap = 0;
    sitq_code code = SITQ_OK;
    for (size_t i = 0; i < ns && code == SITQ_OK; i++)
        code = get_one(b, s[i], &all, &got, &cap, err);
    free(s);
    if (code != SITQ_OK) {
        sitq_result_list_free(all, got);
        return code;
    }
    *items = all;
    *count = got;
    return sitq__ok(err);
}

/* Append the pairs (id, each of ds) to (*pairs, *n pairs, *cap ids). */
static int add_pairs(sitq_task_id id, const sitq_task_id *ds, size_t nd, sitq_task_id **pairs,
                     size_t *n, size_t *cap) {
    if (nd && sitq__reserve((void **)pairs, cap, 2 * (*n + nd), sizeof **pairs) != 0) return -1;
    for (size_t k = 0; k < nd; k++) {
        (*pairs)[2 * *n] = id;
        (*pairs)[2 * *n + 1] = ds[k];
        (*n)++;
    }
    return 0;
}

sitq_code sq_dependents_many(sitq_backend *b, const sitq_task_id *ids, size_t n, size_t limit,
                             sitq_task_id **pairs, size_t *count, sitq_error *err) {
    *pairs = NULL;
    *count = 0;
    sitq_task_id *s = NULL;
    size_t ns = 0;
    if (sitq__ids_sorted(ids, n, &s, &ns) != 0)
        return sitq__fail(err, SITQ_ENOMEM, "out of memory reading dependents");
    sitq_task_id *all = NULL;
    size_t got = 0, cap = 0;
    sitq_code code = SITQ_OK;
    for (size_t i = 0; i < ns && code == SITQ_OK; i++) {
        sitq_task_id *ds = NULL;
        size_t nd = 0;
        code = sq_dependents(b, s[i], limit, &ds, &nd, err);
        if (code == SITQ_OK && add_pairs(s[i], ds, nd, &all, &got, &cap) != 0)
            code = sitq__fail(err, SITQ_ENOMEM, "out of memory reading dependents");
        free(ds);
    }
    free(s);
    if (code != SITQ_OK) {
        free(all);
        return code;
    }
    *pairs = all;
    *count = got;
    return sitq__ok(err);
}
