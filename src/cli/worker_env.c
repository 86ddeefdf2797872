/*
 * worker_env.c - the environment of the commands `sitq worker` runs (see
 * worker_env.h).
 */
#include "worker_env.h"
#include "core/grow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

extern char **environ;

void worker_env_init(worker_env *e) { memset(e, 0, sizeof *e); }

void worker_env_clear(worker_env *e) {
    e->used = 1;
    e->clear = 1;
}

/** Length of the variable name at the start of s (up to '=' or the end), or 0 when invalid. */
static size_t name_len(const char *s) {
    size_t n = 0;
    for (; s[n] && s[n] != '='; n++) {
        char c = s[n];
        int ok = c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                 (n > 0 && c >= '0' && c <= '9');
        if (!ok) return 0;
    }
    return n;
}

/** Append a copy of "NAME=VALUE" (name n bytes, value v). Returns 0 or -1 (no memory). */
static int push(worker_env *e, const char *name, size_t n, const char *v) {
    if (sitq__reserve((void **)&e->vars, &e->cap, e->n + 1, sizeof *e->vars) != 0) return -1;
    size_t vl = strlen(v);
    char *s = malloc(n + vl + 2);
    if (!s) return -1;
    memcpy(s, name, n);
    s[n] = '=';
    memcpy(s + n + 1, v, vl + 1);
    e->vars[e->n++] = s;
    return 0;
}

int worker_env_add(worker_env *e, const char *cmd, const char *spec) {
    e->used = 1;
    size_t n = name_len(spec);
    if (n == 0) {
        cli_errorf(cmd,
                   "invalid value '%s' for --env: expected NAME=VALUE or NAME, where "
                   "NAME is letters, digits and '_', not starting with a digit",
                   spec);
        return -1;
    }
    const char *value = NULL;
    if (spec[n] == '=') {
        value = spec + n + 1;
    } else {
        char name[256];
        if (n >= sizeof name) {
            cli_errorf(cmd, "invalid value for --env: the name is longer than 255 bytes");
            return -1;
        }
        memcpy(name, spec, n);
        name[n] = '\0';
        value = getenv(name);
        if (value == NULL) return 0; /* not set here: pass nothing */
    }
    if (push(e, spec, n, value) != 0) {
        cli_errorf(cmd, "out of memory");
        return -1;
    }
    return 0;
}

/* Longest line of an --env-file (without its line ending): the kernel's
 * bound on one environment string with its NUL (MAX_ARG_STRLEN, 128 KiB),
 * past which no command could be started. */
#define ENV_LINE_MAX (128 * 1024 - 1)
/* Largest --env-file: far above any real one (the whole environment of a
 * command is bounded by a few MiB), so that /dev/zero or a log file given
 * by mistake is refused instead of read into memory. */
#define ENV_FILE_MAX (4 * 1024 * 1024)

/* Read the next line of f into line (size ENV_LINE_MAX + 2), without its
 * newline: its length, -1 at the end of the file, -2 when it is longer than
 * ENV_LINE_MAX and a carriage return, -3 when the file has more than
 * ENV_FILE_MAX bytes (*total counts them). */
static ssize_t read_line(FILE *f, char *line, size_t *total) {
    size_t n = 0;
    int c;
    while ((c = getc(f)) != EOF) {
        if (++*total > ENV_FILE_MAX) return -3;
        if (c == '\n') break;
        if (n == ENV_LINE_MAX + 1) return -2;
        line[n++] = (char)c;
    }
    if (c == EOF && n == 0) return -1;
    line[n] = '\0';
    return (ssize_t)n;
}

int worker_env_add_file(worker_env *e, const char *cmd, const char *path) {
    e->used = 1;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        cli_errorf(cmd, "cannot read --env-file '%s': %s", path, strerror(errno));
        return -1;
    }
    char *line = malloc(ENV_LINE_MAX + 2);
    if (line == NULL) {
        fclose(f);
        cli_errorf(cmd, "out of memory");
        return -1;
    }
    size_t total = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    while (rc == 0 && (len = read_line(f, line, &total)) != -1) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len > ENV_LINE_MAX) len = -2; /* one byte over, not a carriage return */
        if (len == -2 || len == -3) {
            if (len == -2)
                cli_errorf(cmd, "--env-file '%s', line %d: longer than %d bytes", path, lineno,
                           ENV_LINE_MAX);
            else cli_errorf(cmd, "--env-file '%s': larger than %d bytes", path, ENV_FILE_MAX);
            rc = -1;
            break;
        }
        if (len == 0 || line[0] == '#') continue;
        if ((size_t)len != strlen(line)) {
            cli_errorf(cmd, "--env-file '%s', line %d: contains a NUL byte", path, lineno);
            rc = -1;
            break;
        }
        size_t n = name_len(line);
        if (n == 0 || line[n] != '=') {
            cli_errorf(cmd,
                       "--env-file '%s', line %d: expected NAME=VALUE, where NAME is "
                       "letters, digits and '_', not starting with a digit",
                       path, lineno);
            rc = -1;
            break;
        }
        if (push(e, line, n, line + n + 1) != 0) {
            cli_errorf(cmd, "out of memory");
            rc = -1;
        }
    }
    if (rc == 0 && ferror(f)) {
        cli_errorf(cmd, "cannot read --env-file '%s': %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

/** 1 when "NAME=..." strings a and b have the same name. */
static int same_name(const char *a, const char *b) {
    size_t n = strcspn(a, "=");
    return strncmp(a, b, n) == 0 && b[n] == '=';
}

int worker_env_build(worker_env *e, char ***out) {
    *out = NULL;
    if (!e->used) return 0;
    size_t base = 0;
    if (!e->clear)
        while (environ[base]) base++;
    char **envp = calloc(base + e->n + 1, sizeof *envp);
    if (!envp) return -1;
    size_t m = 0;
    for (size_t i = 0; i < base; i++) envp[m++] = environ[i];
    /* Later settings replace earlier ones (and the inherited value). */
    for (size_t i = 0; i < e->n; i++) {
        size_t k = 0;
        while (k < m && !same_name(envp[k], e->vars[i])) k++;
        envp[k] = e->vars[i];
        if (k == m) m++;
    }
    envp[m] = NULL;
    free(e->envp);
    e->envp = envp;
    *out = envp;
    return 0;
}

void worker_env_free(worker_env *e) {
    for (size_t i = 0; i < e->n; i++) free(e->vars[i]);
    free(e->vars);
    free(e->envp);
    memset(e, 0, sizeof *e);
}
