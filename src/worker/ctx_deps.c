/* ctx_deps.c - a running handler reads its dependencies' results, lazily and
 * in declaration order: one with one lookup, or a range of positions with
 * one statement (a fan-in: whole results, or only their values), on a reader
 * connection. */
#include "worker_internal.h"

#include <stdlib.h>
#include <string.h>

static sitq_code dep_count(sitq_task_ctx *ctx, sitq_error *err) {
    if (ctx->n_deps_known) return SITQ_OK;
    sitq_backend *b = ctx->w->b;
    size_t n = 0;
    sitq_code rc = b->ops->dep_count(b, sitq__ctx_queue(ctx), ctx->t.id, &n, err);
    if (rc) return rc;
    ctx->n_deps = n;
    ctx->n_deps_known = 1;
    return SITQ_OK;
}

size_t sitq_ctx_dependency_count(const sitq_task_ctx *ctx) {
    if (!ctx) return 0;
    /* The context is the handler's own: caching the figure in it is safe. */
    sitq_task_ctx *c = (sitq_task_ctx *)ctx;
    return dep_count(c, NULL) == SITQ_OK ? c->n_deps : 0;
}

sitq_code sitq_ctx_dependency_result(sitq_task_ctx *ctx, size_t index, sitq_result **out,
                                     sitq_error *err) {
    if (out) *out = NULL;
    if (!ctx)
        return sitq__fail(err, SITQ_EINVAL,
                          "ctx must not be NULL: dependency results are read by a running "
                          "handler, with the context it was given");
    if (!out) return sitq__fail(err, SITQ_EINVAL, "out must not be NULL");
    sitq_code rc = dep_count(ctx, err);
    if (rc) return rc;
    if (index >= ctx->n_deps)
        return sitq__fail(err, SITQ_EINVAL,
                          "task %lld has %zu dependencies: index %zu is out of range",
                          (long long)ctx->t.id, ctx->n_deps, index);
    sitq_backend *b = ctx->w->b;
    return b->ops->dep_result(b, sitq__ctx_queue(ctx), ctx->t.id, index, out, err);
}

/* The checks of a range read: ctx, out (has_out), n and the positions. */
static sitq_code check_range(sitq_task_ctx *ctx, int has_out, size_t first, size_t n,
                             const char *what, sitq_error *err) {
    if (!ctx)
        return sitq__fail(err, SITQ_EINVAL,
                          "ctx must not be NULL: dependency %s are read by a running "
                          "handler, with the context it was given",
                          what);
    if (!has_out) return sitq__fail(err, SITQ_EINVAL, "out must not be NULL");
    if (n == 0) return sitq__fail(err, SITQ_EINVAL, "n must be at least 1");
    sitq_code rc = dep_count(ctx, err);
    if (rc) return rc;
    if (first >= ctx->n_deps || n > ctx->n_deps - first)
        return sitq__fail(err, SITQ_EINVAL,
                          "task %lld has %zu dependencies: positions %zu..%zu are out of range",
                          (long long)ctx->t.id, ctx->n_deps, first, first + n - 1);
    return SITQ_OK;
}

sitq_code sitq_ctx_dependency_results(sitq_task_ctx *ctx, size_t first, size_t n, sitq_result **out,
                                      sitq_error *err) {
    if (out)
        for (size_t i = 0; i < n; i++) out[i] = NULL;
    sitq_code rc = check_range(ctx, out != NULL, first, n, "results", err);
    if (rc) return rc;
    sitq_backend *b = ctx->w->b;
    return b->ops->dep_results(b, sitq__ctx_queue(ctx), ctx->t.id, first, n, out, err);
}

sitq_code sitq_ctx_dependency_values(sitq_task_ctx *ctx, size_t first, size_t n,
                                     sitq_dependency_value *out, sitq_error *err) {
    if (out) memset(out, 0, n * sizeof *out);
    sitq_code rc = check_range(ctx, out != NULL, first, n, "values", err);
    if (rc) return rc;
    sitq_backend *b = ctx->w->b;
    return b->ops->dep_values(b, sitq__ctx_queue(ctx), ctx->t.id, first, n, out, err);
}

void sitq_dependency_values_clear(sitq_dependency_value *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].value);
        free(v[i].error);
        memset(&v[i], 0, sizeof v[i]);
    }
}
