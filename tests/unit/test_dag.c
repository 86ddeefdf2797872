/* test_dag.c - large dependency graphs with failures that exhaust retries:
 * fan-in of 10,000 parents into one child, fan-out of one parent into
 * 10,000 children, and a deep random DAG. A task marked to fail fails both
 * of its attempts (max_retries 1); every descendant of such a task must end
 * failed with "dependency N failed", N being a failed ancestor that ran, and
 * every other task must succeed, having run once. Counts are exact. Runs on
 * SQLite, and on PostgreSQL with SITQ_TEST_BACKEND=postgres (pg.dag). */
#include "helpers.h"

#include <inttypes.h>

#define MAX_RETRIES 1

/* A graph in index order: the parents of task i are par[ps[i] .. ps[i + 1])
 * and all come before i. */
typedef struct dag {
    size_t n;
    size_t *ps;
    size_t *par;
    size_t n_par, cap_par;
    unsigned char *own_fail; /* 1: the handler fails every attempt */
    unsigned char *fails;    /* expected: own_fail, or some parent fails */
    sitq_task_id *ids;
    uint64_t rng;
} dag;

static uint64_t rnd(dag *g) {
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return g->rng;
}

/* 1 with probability per_mille / 1000. */
static int chance(dag *g, unsigned per_mille) { return rnd(g) % 1000 < per_mille; }

static void dag_init(dag *g, size_t n, uint64_t seed) {
    memset(g, 0, sizeof *g);
    g->n = n;
    g->ps = calloc(n + 1, sizeof *g->ps);
    g->own_fail = calloc(n, 1);
    g->fails = calloc(n, 1);
    g->ids = calloc(n, sizeof *g->ids);
    g->cap_par = n * 2 + 16;
    g->par = calloc(g->cap_par, sizeof *g->par);
    g->rng = seed | 1;
    assert_true(g->ps && g->own_fail && g->fails && g->ids && g->par);
}

static void dag_free(dag *g) {
    free(g->ps);
    free(g->par);
    free(g->own_fail);
    free(g->fails);
    free(g->ids);
}

/* Adds a parent to the task being built (the last one begun). */
static void add_parent(dag *g, size_t p) {
    if (g->n_par == g->cap_par) {
        g->cap_par *= 2;
        g->par = realloc(g->par, g->cap_par * sizeof *g->par);
        assert_non_null(g->par);
    }
    g->par[g->n_par++] = p;
}

/* Closes task i's parent list and computes whether it is expected to fail. */
static void end_task(dag *g, size_t i) {
    g->ps[i + 1] = g->n_par;
    g->fails[i] = g->own_fail[i];
    for (size_t k = g->ps[i]; k < g->ps[i + 1]; k++)
        if (g->fails[g->par[k]]) g->fails[i] = 1;
}

/* Index of a task id (ids ascend with the index within one batch). */
static size_t index_of(const dag *g, sitq_task_id id) {
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < g->n && g->ids[lo] == id ? lo : SIZE_MAX;
}

/* ---- the run ---- */

static int h_dag(sitq_task_ctx *ctx, const void *p, size_t len, void *ud) {
    atomic_fetch_add((atomic_int *)ud, 1);
    if (len == 1 && *(const char *)p == 'F') {
        sitq_ctx_set_error(ctx, "planned failure", NULL);
        return 1;
    }
    return len == 1 && *(const char *)p == 'S' ? 0 : 1;
}

static void enqueue_dag(sitq_queue *q, dag *g) {
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.max_retries = MAX_RETRIES;
    o.backoff_base_s = 0.001;
    o.backoff_cap_s = 0.002;
    sitq_task_spec *specs = calloc(g->n, sizeof *specs);
    assert_non_null(specs);
    for (size_t i = 0; i < g->n; i++) {
        specs[i].function = "dag";
        specs[i].payload = g->own_fail[i] ? "F" : "S";
        specs[i].payload_len = 1;
        specs[i].options = &o;
        specs[i].depends_on_index = g->par + g->ps[i];
        specs[i].n_depends_on_index = g->ps[i + 1] - g->ps[i];
    }
    TQ_OK(sitq_enqueue_batch(q, specs, g->n, g->ids, &tq_err));
    free(specs);
    for (size_t i = 1; i < g->n; i++) assert_true(g->ids[i] > g->ids[i - 1]);
}

/* Waits until every task of the queue is finished (60 s at most). */
static void wait_all_finished(sitq_queue *q, size_t n) {
    int64_t end = tq_mono_ms() + 60000;
    sitq_stats s = tq_stats(q);
    while (s.count[SITQ_SUCCEEDED] + s.count[SITQ_FAILED] + s.count[SITQ_CANCELLED] < (int64_t)n) {
        if (tq_mono_ms() > end)
            fail_msg("not finished after 60 s: %" PRId64 " queued, %" PRId64 " waiting, %" PRId64
                     " scheduled, %" PRId64 " running, %" PRId64 " succeeded, %" PRId64 " failed",
                     s.count[SITQ_QUEUED], s.count[SITQ_WAITING], s.count[SITQ_SCHEDULED],
                     s.count[SITQ_RUNNING], s.count[SITQ_SUCCEEDED], s.count[SITQ_FAILED]);
        tq_sleep_ms(5);
        s = tq_stats(q);
    }
}

/* 1 when a is an ancestor of i (marks: scratch of g->n bytes). */
static int is_ancestor(const dag *g, size_t a, size_t i, unsigned char *mark, size_t *stack) {
    memset(mark, 0, g->n);
    size_t top = 0;
    stack[top++] = i;
    while (top) {
        size_t t = stack[--top];
        for (size_t k = g->ps[t]; k < g->ps[t + 1]; k++) {
            size_t p = g->par[k];
            if (p == a) return 1;
            if (!mark[p]) {
                mark[p] = 1;
                stack[top++] = p;
            }
        }
    }
    return 0;
}

typedef struct dag_counts {
    int64_t ok, root_failed, dep_failed;
} dag_counts;

/* Checks a descendant of a failure: failed, never run, naming a failed
 * ancestor that ran. */
static void check_dep_failed(const dag *g, size_t i, const sitq_result *r, unsigned char *mark,
                             size_t *stack) {
    long long named = 0;
    char want[64] = "";
    if (r->error && sscanf(r->error, "dependency %lld", &named) == 1)
        snprintf(want, sizeof want, "dependency %lld failed", named);
    if (!r->error || strcmp(r->error, want) != 0)
        fail_msg("task %lld: error \"%s\", expected \"dependency N failed\"", (long long)r->id,
                 r->error ? r->error : "");
    size_t a = index_of(g, (sitq_task_id)named);
    if (a == SIZE_MAX || !g->own_fail[a] || !is_ancestor(g, a, i, mark, stack))
        fail_msg("task %lld: \"%s\" names no failed ancestor that ran", (long long)r->id, r->error);
    size_t k = g->ps[a];
    while (k < g->ps[a + 1] && !g->fails[g->par[k]]) k++;
    if (k < g->ps[a + 1])
        fail_msg("task %lld: \"%s\" names a task that never ran", (long long)r->id, r->error);
    assert_int_equal(r->attempts, 0);
}

/* Checks one listed task against the expectation; counts it. */
static void check_task(const dag *g, const sitq_result *r, dag_counts *c, unsigned char *mark,
                       size_t *stack) {
    size_t i = index_of(g, r->id);
    if (i == SIZE_MAX) fail_msg("unknown task %lld listed", (long long)r->id);
    int dep_fails = 0;
    for (size_t k = g->ps[i]; k < g->ps[i + 1]; k++) dep_fails |= g->fails[g->par[k]];
    sitq_status want = g->fails[i] ? SITQ_FAILED : SITQ_SUCCEEDED;
    if (r->status != want)
        fail_msg("task %lld (index %zu): %s (%s), expected %s", (long long)r->id, i,
                 sitq_status_name(r->status), r->error ? r->error : "", sitq_status_name(want));
    if (!g->fails[i]) {
        assert_int_equal(r->attempts, 1);
        c->ok++;
    } else if (!dep_fails) {
        assert_int_equal(r->attempts, MAX_RETRIES + 1);
        assert_string_equal(r->error, "planned failure");
        c->root_failed++;
    } else {
        check_dep_failed(g, i, r, mark, stack);
        c->dep_failed++;
    }
}

/* Lists every task of the queue and checks each one. */
static dag_counts check_all(sitq_queue *q, const dag *g) {
    sitq_result **items = NULL;
    size_t n = 0;
    TQ_OK(sitq_list(q, SITQ_STATUS_ANY, g->n + 1, 0, &items, &n, &tq_err));
    assert_int_equal(n, g->n);
    unsigned char *mark = malloc(g->n);
    size_t *stack = malloc(g->n * sizeof *stack);
    assert_true(mark && stack);
    dag_counts c = {0, 0, 0};
    for (size_t k = 0; k < n; k++) check_task(g, items[k], &c, mark, stack);
    free(mark);
    free(stack);
    sitq_result_list_free(items, n);
    return c;
}

/* Two workers of two threads, each on its own backend (its own connections
 * on PostgreSQL), so that their commits release and fail shared dependents
 * at the same time. */
typedef struct dag_workers {
    sitq_backend *b2;
    sitq_queue *q2;
    sitq_worker *w[2];
} dag_workers;

static void workers_start(tq_env *env, dag_workers *dw, atomic_int *calls) {
    TQ_OK(tq_open_backend(env, &dw->b2, &tq_err));
    TQ_OK(sitq_queue_open(dw->b2, NULL, &dw->q2, &tq_err));
    dw->w[0] = tq_worker_new(env->queue, 2, -1, "dag", h_dag, calls);
    dw->w[1] = tq_worker_new(dw->q2, 2, -1, "dag", h_dag, calls);
    for (int i = 0; i < 2; i++) TQ_OK(sitq_worker_start(dw->w[i], &tq_err));
}

static void workers_stop(dag_workers *dw) {
    for (int i = 0; i < 2; i++) {
        TQ_OK(sitq_worker_stop(dw->w[i], -1, &tq_err));
        sitq_worker_free(dw->w[i]);
    }
    sitq_queue_close(dw->q2);
    sitq_backend_close(dw->b2);
}

/* Enqueues the graph, runs it with two workers, checks every task and the
 * exact counts; returns them. */
static dag_counts run_dag(tq_env *env, dag *g, const char *what) {
    sitq_queue *q = env->queue;
    int64_t t0 = tq_mono_ms();
    enqueue_dag(q, g);
    int64_t t1 = tq_mono_ms();
    atomic_int calls;
    atomic_init(&calls, 0);
    dag_workers dw;
    workers_start(env, &dw, &calls);
    wait_all_finished(q, g->n);
    int64_t t2 = tq_mono_ms();
    workers_stop(&dw);
    dag_counts c = check_all(q, g);
    sitq_stats s = tq_stats(q);
    assert_int_equal(s.count[SITQ_SUCCEEDED], c.ok);
    assert_int_equal(s.count[SITQ_FAILED], c.root_failed + c.dep_failed);
    assert_int_equal(s.total, (int64_t)g->n);
    assert_int_equal(atomic_load(&calls), c.ok + (MAX_RETRIES + 1) * c.root_failed);
    fprintf(stderr,
            "dag %s: %zu tasks, %zu edges: %" PRId64 " succeeded, %" PRId64
            " failed on their own, %" PRId64 " failed by a dependency; enqueued in %" PRId64
            " ms, run in %" PRId64 " ms\n",
            what, g->n, g->n_par, c.ok, c.root_failed, c.dep_failed, t1 - t0, t2 - t1);
    return c;
}

/* ---- the graphs ---- */

#define WIDE 10000

static void test_fan_in(void **state) {
    dag g;
    dag_init(&g, WIDE + 1, 11);
    for (size_t i = 0; i < WIDE; i++) {
        g.own_fail[i] = (i % 997) == 500; /* 10 of the parents */
        end_task(&g, i);
    }
    for (size_t i = 0; i < WIDE; i++) add_parent(&g, i);
    end_task(&g, WIDE);
    dag_counts c = run_dag(TQ_ENV(state), &g, "fan-in with failures");
    assert_int_equal(c.ok, WIDE - 10);
    assert_int_equal(c.root_failed, 10);
    assert_int_equal(c.dep_failed, 1);
    dag_free(&g);
}

static void test_fan_in_all_succeed(void **state) {
    dag g;
    dag_init(&g, WIDE + 1, 12);
    for (size_t i = 0; i < WIDE; i++) end_task(&g, i);
    for (size_t i = 0; i < WIDE; i++) add_parent(&g, i);
    end_task(&g, WIDE);
    dag_counts c = run_dag(TQ_ENV(state), &g, "fan-in");
    assert_int_equal(c.ok, WIDE + 1);
    dag_free(&g);
}

static void test_fan_out_parent_fails(void **state) {
    dag g;
    dag_init(&g, WIDE + 1, 13);
    g.own_fail[0] = 1;
    end_task(&g, 0);
    for (size_t i = 1; i <= WIDE; i++) {
        g.own_fail[i] = i % 2; /* never run: the parent fails first */
        add_parent(&g, 0);
        end_task(&g, i);
    }
    dag_counts c = run_dag(TQ_ENV(state), &g, "fan-out, parent fails");
    assert_int_equal(c.ok, 0);
    assert_int_equal(c.root_failed, 1);
    assert_int_equal(c.dep_failed, WIDE);
    dag_free(&g);
}

static void test_fan_out(void **state) {
    dag g;
    dag_init(&g, WIDE + 1, 14);
    end_task(&g, 0);
    for (size_t i = 1; i <= WIDE; i++) {
        g.own_fail[i] = (i % 499) == 7; /* 21 of the children */
        add_parent(&g, 0);
        end_task(&g, i);
    }
    dag_counts c = run_dag(TQ_ENV(state), &g, "fan-out with failures");
    assert_int_equal(c.ok, WIDE + 1 - 21);
    assert_int_equal(c.root_failed, 21);
    assert_int_equal(c.dep_failed, 0);
    dag_free(&g);
}

/* Length of the longest chain of dependencies. */
static size_t dag_depth(const dag *g) {
    size_t *d = calloc(g->n, sizeof *d), best = 0;
    assert_non_null(d);
    for (size_t i = 0; i < g->n; i++) {
        d[i] = 1;
        for (size_t k = g->ps[i]; k < g->ps[i + 1]; k++)
            if (d[g->par[k]] + 1 > d[i]) d[i] = d[g->par[k]] + 1;
        if (d[i] > best) best = d[i];
    }
    free(d);
    return best;
}

/* A fifth of the tasks are roots; the others have 1..3 parents among the 64
 * tasks before them, so that chains run about a hundred tasks deep. 0.5% fail. */
static void test_random_dag(void **state) {
    const char *s = getenv("SITQ_TEST_DAG_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 10) : 20261202;
    dag g;
    dag_init(&g, 4000, seed);
    for (size_t i = 0; i < g.n; i++) {
        g.own_fail[i] = (unsigned char)chance(&g, 5);
        if (i > 0 && !chance(&g, 200)) {
            size_t window = i < 64 ? i : 64, k = 1 + rnd(&g) % 3;
            for (size_t j = 0; j < k; j++) {
                size_t p = i - 1 - rnd(&g) % window;
                size_t d = g.ps[i];
                while (d < g.n_par && g.par[d] != p) d++;
                if (d == g.n_par) add_parent(&g, p); /* once each */
            }
        }
        end_task(&g, i);
    }
    size_t depth = dag_depth(&g);
    fprintf(stderr, "dag random: seed %" PRIu64 ", depth %zu\n", seed, depth);
    assert_true(depth >= 50);
    dag_counts c = run_dag(TQ_ENV(state), &g, "random");
    assert_true(c.ok > 0 && c.root_failed > 0 && c.dep_failed > 0);
    dag_free(&g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fan_in, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_fan_in_all_succeed, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_fan_out_parent_fails, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_fan_out, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_random_dag, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
