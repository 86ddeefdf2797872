/*
 * shell_deps.c - dependency results as files and environment variables for
 * the command of a shell task (see shell_deps.h).
 */
#include "shell_deps.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/** Add a formatted "NAME=VALUE" string to d->env (which has room). Returns it or NULL. */
static char *add_var(shell_deps *d, size_t *n_env, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s == NULL) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    d->added[d->n_added++] = s;
    d->env[(*n_env)++] = s;
    d->env[*n_env] = NULL;
    return s;
}

/** Write all of buf to fd. Returns 0 or an errno value. */
static int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/** Create file `path` (0600) holding len bytes of buf. Returns 0 or an errno value. */
static int write_file(const char *path, const void *buf, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return errno;
    int e = write_all(fd, buf, len);
    if (close(fd) != 0 && e == 0) e = errno;
    return e;
}

/** Copy base_env without SITQ_DEP* names into a new d->env with room for `extra` more. */
static int copy_base_env(shell_deps *d, char *const *base_env, size_t extra, size_t *n_env) {
    size_t n = 0;
    while (base_env[n] != NULL) n++;
    d->env = malloc((n + extra + 1) * sizeof *d->env);
    d->added = malloc(extra * sizeof *d->added);
    if (d->env == NULL || d->added == NULL) return -1;
    *n_env = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(base_env[i], "SITQ_DEP", 8) != 0) d->env[(*n_env)++] = base_env[i];
    d->env[*n_env] = NULL;
    return 0;
}

/** Make the private directory under $TMPDIR (or /tmp). Returns 0 or an errno value. */
static int make_dir(shell_deps *d) {
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] != '/') tmp = "/tmp";
    size_t n = strlen(tmp) + sizeof "/sitq-deps-XXXXXX";
    d->dir = malloc(n);
    if (d->dir == NULL) return ENOMEM;
    snprintf(d->dir, n, "%s/sitq-deps-XXXXXX", tmp);
    if (mkdtemp(d->dir) == NULL) { /* mode 0700 */
        int e = errno;
        free(d->dir);
        d->dir = NULL;
        return e;
    }
    return 0;
}

/**
 * Fetch dependency i (0-based), write it to its file and append it to the
 * stdin file cat_fd (-1: none), and set its variables. Returns 0 or -1 with msg.
 */
static int write_dep(sitq_task_ctx *ctx, size_t i, shell_deps *d, size_t *n_env, int cat_fd,
                     FILE *index, char *msg, size_t msg_size) {
    sitq_result *r = NULL;
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code code = sitq_ctx_dependency_result(ctx, i, &r, &err);
    if (code != SITQ_OK) {
        /* The variables count from 1, the API's index (in err) from 0. */
        snprintf(msg, msg_size, "cannot read SITQ_DEP_%zu (dependency index %zu): %s (%s)", i + 1,
                 i, err.message, sitq_code_name(code));
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%zu", d->dir, i + 1);
    int vars = i < SHELL_DEPS_VARS_MAX;
    const char *status = sitq_status_name((int)r->status);
    int e = write_file(path, r->value, r->value_len);
    if (e == 0 && cat_fd >= 0) e = write_all(cat_fd, r->value, r->value_len);
    if (e == 0 && fprintf(index, "%zu\t%" PRId64 "\t%s\n", i + 1, (int64_t)r->id, status) < 0)
        e = errno ? errno : EIO;
    if (e == 0 && vars &&
        (add_var(d, n_env, "SITQ_DEP_%zu=%s", i + 1, path) == NULL ||
         add_var(d, n_env, "SITQ_DEP_%zu_ID=%" PRId64, i + 1, (int64_t)r->id) == NULL ||
         add_var(d, n_env, "SITQ_DEP_%zu_STATUS=%s", i + 1, status) == NULL))
        e = ENOMEM;
    sitq_result_free(r);
    if (e != 0) {
        snprintf(msg, msg_size, "cannot write dependency %zu's result to %s: %s", i + 1, d->dir,
                 strerror(e));
        return -1;
    }
    return 0;
}

/** Open the concatenation file for writing (stdin_from_deps with several results). */
static int open_cat(shell_deps *d, char *msg, size_t msg_size) {
    size_t n = strlen(d->dir) + sizeof "/stdin";
    d->stdin_own = malloc(n);
    if (d->stdin_own == NULL) {
        snprintf(msg, msg_size, "out of memory");
        return -1;
    }
    snprintf(d->stdin_own, n, "%s/stdin", d->dir);
    int fd = open(d->stdin_own, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) snprintf(msg, msg_size, "cannot create %s: %s", d->stdin_own, strerror(errno));
    d->stdin_path = d->stdin_own;
    return fd;
}

/** Write every dependency's file (and the stdin file). Returns 0 or -1 with msg. */
static int write_deps(sitq_task_ctx *ctx, size_t count, int stdin_from_deps, shell_deps *d,
                      size_t *n_env, char *msg, size_t msg_size) {
    int e = make_dir(d);
    if (e != 0) {
        snprintf(msg, msg_size, "cannot create a directory for dependency results: %s",
                 strerror(e));
        return -1;
    }
    if (add_var(d, n_env, "SITQ_DEPS_DIR=%s", d->dir) == NULL) {
        snprintf(msg, msg_size, "out of memory");
        return -1;
    }
    /* One result: its own file is the stdin; several: a concatenation. */
    int cat_fd = -1;
    if (stdin_from_deps && count > 1 && (cat_fd = open_cat(d, msg, msg_size)) < 0) return -1;
    /* Every dependency's number, id and status, one per line, also past
     * SHELL_DEPS_VARS_MAX. */
    char index_path[4096];
    snprintf(index_path, sizeof index_path, "%s/index", d->dir);
    int index_fd = open(index_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *index = index_fd >= 0 ? fdopen(index_fd, "w") : NULL;
    if (index == NULL) {
        snprintf(msg, msg_size, "cannot create %s: %s", index_path, strerror(errno));
        if (index_fd >= 0) close(index_fd);
        if (cat_fd >= 0) close(cat_fd);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = write_dep(ctx, i, d, n_env, cat_fd, index, msg, msg_size);
    if (fclose(index) != 0 && rc == 0) {
        snprintf(msg, msg_size, "cannot write %s: %s", index_path, strerror(errno));
        rc = -1;
    }
    if (cat_fd >= 0 && close(cat_fd) != 0 && rc == 0) {
        snprintf(msg, msg_size, "cannot write %s: %s", d->stdin_own, strerror(errno));
        rc = -1;
    }
    /* added[]: SITQ_DEP_COUNT, SITQ_DEPS_DIR, then SITQ_DEP_1=PATH. */
    if (rc == 0 && stdin_from_deps && count == 1) d->stdin_path = strchr(d->added[2], '=') + 1;
    return rc;
}

int shell_deps_prepare(sitq_task_ctx *ctx, char *const *base_env, int stdin_from_deps,
                       shell_deps *d, char *msg, size_t msg_size) {
    memset(d, 0, sizeof *d);
    size_t count = sitq_ctx_dependency_count(ctx);
    size_t n_env = 0;
    int rc = 0;
    /* A task without dependencies gets exactly the worker's chosen environment. */
    size_t n_vars = count < SHELL_DEPS_VARS_MAX ? count : SHELL_DEPS_VARS_MAX;
    if (copy_base_env(d, base_env, 2 + 3 * n_vars, &n_env) != 0 ||
        (count > 0 && add_var(d, &n_env, "SITQ_DEP_COUNT=%zu", count) == NULL)) {
        snprintf(msg, msg_size, "out of memory");
        rc = -1;
    } else if (count > 0) {
        rc = write_deps(ctx, count, stdin_from_deps, d, &n_env, msg, msg_size);
    }
    if (rc != 0) shell_deps_cleanup(d);
    return rc;
}

/** nftw callback: remove one entry (children before their directory). */
static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    if (type == FTW_DP) rmdir(path);
    else unlink(path);
    return 0;
}

void shell_deps_cleanup(shell_deps *d) {
    if (d->dir != NULL) nftw(d->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (size_t i = 0; i < d->n_added; i++) free(d->added[i]);
    free(d->added);
    free(d->env);
    free(d->stdin_own);
    free(d->dir);
    memset(d, 0, sizeof *d);
}
