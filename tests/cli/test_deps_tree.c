/*
 * test_deps_tree.c - `sitq show ID --deps` (deps_tree.c) on trees too big
 * to show whole: a chain of 20,000 tasks (its nesting overflowed the stack)
 * stops at DEPS_TREE_MAX_DEPTH levels, a task with 3,000 dependencies
 * shows none of them, each such node saying how many it left out; a task
 * that does not exist is SITQ_ENOTFOUND. On a SQLite store in a temporary
 * directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "deps_tree.h"

enum { CHAIN = 20000, WIDE = 3000 };

static char dir[] = "/tmp/sitq-deps-tree.XXXXXX";
static char path[64];

/* n tasks; with chain, each depends on the one before, else the last one
 * depends on all the others. The id of the last task. */
static sitq_task_id enqueue_shape(sitq_queue *q, size_t n, int chain) {
    sitq_task_spec *specs = calloc(n, sizeof *specs);
    size_t *idx = calloc(n, sizeof *idx);
    sitq_task_id *ids = calloc(n, sizeof *ids);
    assert_true(specs && idx && ids);
    for (size_t i = 0; i < n; i++) {
        specs[i].function = "f";
        idx[i] = i;
        if (chain && i > 0) {
            specs[i].depends_on_index = &idx[i - 1];
            specs[i].n_depends_on_index = 1;
        }
    }
    if (!chain) {
        specs[n - 1].depends_on_index = idx;
        specs[n - 1].n_depends_on_index = n - 1;
    }
    sitq_error err;
    assert_int_equal(sitq_enqueue_batch(q, specs, n, ids, &err), SITQ_OK);
    sitq_task_id last = ids[n - 1];
    free(specs);
    free(idx);
    free(ids);
    return last;
}

static void test_limits(void **state) {
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/q.db", dir);
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    assert_int_equal(sitq_backend_open_sqlite(path, NULL, &b, NULL), SITQ_OK);
    assert_int_equal(sitq_queue_open(b, NULL, &q, NULL), SITQ_OK);
    sitq_error err;
    sitq_code code = SITQ_ESYSTEM;

    /* A chain: 100 levels read, the last one's dependency left out. */
    sitq_task_id end = enqueue_shape(q, CHAIN, 1);
    json_t *t = deps_tree_json(q, end, &code, &err);
    assert_non_null(t);
    assert_int_equal(code, SITQ_OK);
    int levels = 1;
    const json_t *n = t;
    while (json_array_size(json_object_get(n, "dependencies")) == 1) {
        n = json_array_get(json_object_get(n, "dependencies"), 0);
        levels++;
    }
    assert_int_equal(levels, 101); /* the root and DEPS_TREE_MAX_DEPTH levels below it */
    assert_int_equal(json_integer_value(json_object_get(n, "id")), end - 100);
    assert_int_equal(json_integer_value(json_object_get(n, "dependencies_not_shown")), 1);
    assert_string_equal(json_string_value(json_object_get(n, "blocked")),
                        "waiting on its dependencies");
    assert_null(json_object_get(json_array_get(json_object_get(t, "dependencies"), 0),
                                "dependencies_not_shown"));
    json_decref(t);

    /* Fan-in past the task limit: the root and its first 1,999
     * dependencies (in declared order), the other 1,000 left out (they
     * were all left out, and the tree of a large fan-in never shown). */
    sitq_task_id wide = enqueue_shape(q, WIDE, 0);
    t = deps_tree_json(q, wide, &code, &err);
    assert_non_null(t);
    const json_t *kids = json_object_get(t, "dependencies");
    assert_int_equal(json_array_size(kids), 1999);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(kids, 0), "id")),
                     wide - (WIDE - 1));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(kids, 1998), "id")),
                     wide - (WIDE - 1) + 1998);
    assert_int_equal(json_integer_value(json_object_get(t, "dependencies_not_shown")), WIDE - 2000);
    assert_string_equal(json_string_value(json_object_get(t, "blocked")),
                        "waiting on its dependencies");

    /* A task that is not there. */
    assert_null(deps_tree_json(q, wide + 1000, &code, &err));
    assert_int_equal(code, SITQ_ENOTFOUND);
    json_decref(t);

    sitq_queue_close(q);
    sitq_backend_close(b);
    char side[80];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
