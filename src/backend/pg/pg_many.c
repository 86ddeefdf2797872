/* pg_many.c - reads of many tasks by id at once (get_many,
 * dependents_many), for walks of a pipeline layer by layer: the ids go as
 * one array parameter, so that a layer of any width costs the round trips
 * of one task (rows then edges on one reader connection; the dependents in
 * one statement, a LATERAL range per id). */
#include "pg.h"

#include <stdlib.h>

#include "../../core/ids_sort.h"

/* Bind the n ids as an int8[] (a, which must outlive the statement). */
static int bind_ids(pg_params *p, pg_array *a, const sitq_task_id *ids, size_t n) {
    pg_p_init(p);
    pg_arr_init(a, PG_OID_INT8);
    for (size_t i = 0; i < n; i++) pg_arr_i64(a, ids[i]);
    return pg_p_array(p, a);
}

/* Give each of arr's n results (ascending ids) its edges from r (rows of
 * task_id, depends_on, finalizer sorted by task_id, then position). */
static sitq_code attach_deps(const PGresult *r, sitq_result **arr, size_t n, sitq_error *err) {
    int rows = PQntuples(r), j = 0;
    for (size_t i = 0; i < n; i++) {
        while (j < rows && pg_i64(r, j, 0) < arr[i]->id) j++;
        int first = j;
        while (j < rows && pg_i64(r, j, 0) == arr[i]->id) j++;
        if (j == first) continue;
        arr[i]->depends_on = malloc((size_t)(j - first) * sizeof *arr[i]->depends_on);
        if (!arr[i]->depends_on)
            return sitq__fail(err, SITQ_ENOMEM, "out of memory reading dependencies");
        for (int k = first; k < j; k++) {
            arr[i]->depends_on[arr[i]->n_depends_on++] = pg_i64(r, k, 1);
            if (pg_i64(r, k, 2)) arr[i]->finalizer = 1;
        }
    }
    return SITQ_OK;
}

/* The results of rows r (PG_GET_MANY) into a new array *arr of *n. */
static sitq_code rows_to_results(const PGresult *r, sitq_result ***arr, size_t *n,
                                 sitq_error *err) {
    sitq_time_us now = sitq_now_us();
    *n = (size_t)PQntuples(r);
    *arr = *n ? calloc(*n, sizeof(sitq_result *)) : NULL;
    if (*n && !*arr) return sitq__fail(err, SITQ_ENOMEM, "out of memory reading tasks");
    for (size_t i = 0; i < *n; i++) {
        if (!((*arr)[i] = pg_row_to_result(r, (int)i, now)))
            return sitq__fail(err, SITQ_ENOMEM, "out of memory reading tasks");
        (*arr)[i]->value_len = (size_t)pg_i64(r, (int)i, 20);
    }
    return SITQ_OK;
}

/* The rows, then their edges, of ids bound in p, on reader c. */
static sitq_code get_many_on(pg_conn *c, const pg_params *p, sitq_result ***arr, size_t *n,
                             sitq_error *err) {
    PGresult *r = pg_run(c, PG_GET_MANY, p, err, "reading tasks");
    if (!r) return pg_code(err);
    sitq_code rc = rows_to_results(r, arr, n, err);
    PQclear(r);
    if (rc || *n == 0) return rc;
    r = pg_run(c, PG_GET_MANY_DEPS, p, err, "reading dependencies");
    if (!r) return pg_code(err);
    rc = attach_deps(r, *arr, *n, err);
    PQclear(r);
    return rc;
}

sitq_code pg_get_many(sitq_backend *base, const sitq_task_id *ids, size_t n, sitq_result ***items,
                      size_t *count, sitq_error *err) {
    pg_backend *b = (pg_backend *)base;
    *items = NULL;
    *count = 0;
    pg_params p;
    pg_array a;
    if (bind_ids(&p, &a, ids, n) != 0) {
        pg_arr_free(&a);
        return sitq__fail(err, SITQ_ENOMEM, "out of memory reading tasks");
    }
    sitq_result **arr = NULL;
    size_t got = 0;
    sitq_code rc = SITQ_OK;
    pg_conn *c = pg_read_acquire(b, err);
    if (!c) rc = pg_code(err);
    else {
        rc = get_many_on(c, &p, &arr, &got, err);
        pg_read_release(b, c);
    }
    pg_arr_free(&a);
    if (rc) {
        sitq_result_list_free(arr, got);
        return rc;
    }
    *items = arr;
    *count = got;
    return sitq__ok(err);
}

sitq_code pg_dependents_many(sitq_backend *base, const sitq_task_id *ids, size_t n, size_t limit,
                             sitq_task_id **pairs, size_t *count, sitq_error *err) {
    *pairs = NULL;
    *count = 0;
    sitq_task_id *s = NULL;
    size_t ns = 0;
    if (sitq__ids_sorted(ids, n, &s, &ns) != 0)
        return sitq__fail(err, SITQ_ENOMEM, "out of memory reading dependents");
    pg_params p;
    pg_array a;
    int bad = bind_ids(&p, &a, s, ns) != 0;
    free(s);
    pg_p_i64(&p, (int64_t)limit);
    PGresult *r = bad ? NULL
                      : pg_read_run((pg_backend *)base, PG_DEPENDENTS_MANY, &p, err,
                                    "reading the dependents of tasks");
    pg_arr_free(&a);
    if (bad) return sitq__fail(err, SITQ_ENOMEM, "out of memory reading dependents");
    if (!r) return pg_code(err);
    size_t rows = (size_t)PQntuples(r);
    sitq_task_id *arr = rows ? malloc(2 * rows * sizeof *arr) : NULL;
    if (rows && !arr) {
        PQclear(r);
        return sitq__fail(err, SITQ_ENOMEM, "out of memory reading dependents");
    }
    for (size_t i = 0; i < rows; i++) {
        arr[2 * i] = pg_i64(r, (int)i, 0);
        arr[2 * i + 1] = pg_i64(r, (int)i, 1);
    }
    PQclear(r);
    *pairs = arr;
    *count = rows;
    return sitq__ok(err);
}
