/*
 * ids_sort.c - a sorted copy of task ids without repeats (ids_sort.h).
 */
#include "ids_sort.h"

#include <stdlib.h>
#include <string.h>

static int id_cmp(const void *a, const void *b) {
    sitq_task_id x = *(const sitq_task_id *)a, y = *(const sitq_task_id *)b;
    return (x > y) - (x < y);
}

int sitq__ids_sorted(const sitq_task_id *ids, size_t n, sitq_task_id **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    sitq_task_id *s = malloc((n ? n : 1) * sizeof *s);
    if (!s) return -1;
    if (n) memcpy(s, ids, n * sizeof *s);
    qsort(s, n, sizeof *s, id_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || s[u - 1] != s[i]) s[u++] = s[i];
    *out = s;
    *n_out = u;
    return 0;
}
