/*
 * shell_handler.c - run a shell task's command in its own process group,
 * collect bounded stdout/stderr, enforce timeout and cancellation. The
 * stdout buffer grows on demand up to its cap, so a large cap costs memory
 * only for commands that use it; bytes beyond the cap are read and counted
 * (the command never blocks on a full pipe) and decide the outcome.
 */
#include "shell_handler.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "shell_deps.h"
#include "shell_payload.h"

extern char **environ;

/** Why the handler is killing the command. */
enum kill_reason { KILL_NONE = 0, KILL_TIMEOUT, KILL_CANCEL, KILL_ABORT };

/** A buffer keeping the first `cap` bytes appended, allocated as they come. */
typedef struct head_buf {
    char *data;
    size_t cap, len;
    size_t size;  /**< bytes allocated at data */
    size_t total; /**< all bytes seen */
    int oom;      /**< growing failed: the kept bytes are incomplete */
} head_buf;

/** A buffer keeping the last `cap` bytes appended. */
typedef struct tail_buf {
    char *data;
    size_t cap, len;
} tail_buf;

/** State of one running command. */
typedef struct run_state {
    pid_t pid;
    int fd_out, fd_err; /**< read ends; -1 once at EOF */
    int exited;         /**< the leader exited (not yet reaped) */
    int exit_code;      /**< CLD_EXITED status, or -1 */
    int exit_signal;    /**< killing signal, or 0 */
    enum kill_reason reason;
    double term_at; /**< when the group got SIGTERM, 0 = not yet */
    double kill_at; /**< when the group got SIGKILL, 0 = not yet */
    head_buf out;
    tail_buf err;
} run_state;

void shell_handler_config_init(shell_handler_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->max_stdout = (size_t)16 << 20;
    cfg->max_stderr = 4 * 1024;
    cfg->kill_grace_s = 5.0;
    cfg->poll_interval_s = 0.05;
}

/** Monotonic clock in seconds. */
static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/** Make room for `need` bytes in b (at most its cap). Returns 0 or -1. */
static int head_reserve(head_buf *b, size_t need) {
    if (need <= b->size) return 0;
    size_t size = b->size > 0 ? b->size : 64 * 1024;
    while (size < need) size = size > b->cap / 2 ? b->cap : size * 2;
    if (size > b->cap) size = b->cap;
    char *p = realloc(b->data, size);
    if (p == NULL) return -1;
    b->data = p;
    b->size = size;
    return 0;
}

/** Append to a head buffer: keep what fits, count the rest. */
static void head_append(head_buf *b, const char *p, size_t n) {
    size_t room = b->cap - b->len;
    size_t k = n < room ? n : room;
    if (k > 0 && !b->oom && head_reserve(b, b->len + k) != 0) b->oom = 1;
    if (k > 0 && !b->oom) {
        memcpy(b->data + b->len, p, k);
        b->len += k;
    }
    b->total += n;
}

/** Append to a tail buffer, dropping the oldest bytes beyond cap. */
static void tail_append(tail_buf *b, const char *p, size_t n) {
    if (b->data == NULL || b->cap == 0) return;
    if (n >= b->cap) {
        memcpy(b->data, p + (n - b->cap), b->cap);
        b->len = b->cap;
        return;
    }
    if (b->len + n > b->cap) {
        size_t drop = b->len + n - b->cap;
        memmove(b->data, b->data + drop, b->len - drop);
        b->len -= drop;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/**
 * The tail buffer as a new NUL-terminated string (NUL bytes replaced by '?',
 * a cut UTF-8 sequence at the start skipped), or NULL when empty.
 */
static char *tail_string(const tail_buf *b) {
    size_t start = 0;
    while (start < b->len && start < 3 && ((unsigned char)b->data[start] & 0xC0) == 0x80) start++;
    if (b->len - start == 0) return NULL;
    char *s = malloc(b->len - start + 1);
    if (s == NULL) return NULL;
    for (size_t i = start; i < b->len; i++) s[i - start] = b->data[i] == '\0' ? '?' : b->data[i];
    s[b->len - start] = '\0';
    return s;
}

/**
 * Log one line about task `ctx` when cfg->log is set. Outcomes are logged by
 * the worker command once committed (a lost lease drops them), not here.
 */
static void log_line(const shell_handler_config *cfg, sitq_task_ctx *ctx, const char *what,
                     const char *detail) {
    cli_logf(cfg->log, "task %" PRId64 " attempt %" PRId32 ": %s%s%s",
             (int64_t)sitq_ctx_task_id(ctx), sitq_ctx_attempt(ctx), what,
             detail != NULL ? ": " : "", detail != NULL ? detail : "");
}

/**
 * Start argv in a new process group with stdin from stdin_path (NULL:
 * /dev/null), stdout/stderr to fresh pipes and environment envp.
 * Returns 0 with st->pid and the read ends set, or an errno value.
 */
static int spawn_command(char **argv, char *const *envp, const char *stdin_path, run_state *st) {
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) != 0) return errno;
    if (pipe2(err, O_CLOEXEC) != 0) {
        int e = errno;
        close(out[0]);
        close(out[1]);
        return e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc == 0 && (rc = posix_spawnattr_init(&attr)) != 0) posix_spawn_file_actions_destroy(&fa);
    if (rc == 0) {
        sigset_t none, dfl;
        sigemptyset(&none);
        sigemptyset(&dfl);
        static const int sigs[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT, SIGPIPE,
                                   SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, SIGXFSZ};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaddset(&dfl, sigs[i]);
        if (rc == 0)
            rc = posix_spawn_file_actions_addopen(&fa, 0, stdin_path ? stdin_path : "/dev/null",
                                                  O_RDONLY, 0);
        if (rc == 0) rc = posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        if (rc == 0) rc = posix_spawn_file_actions_adddup2(&fa, err[1], 2);
        if (rc == 0)
            rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                     POSIX_SPAWN_SETSIGDEF);
        if (rc == 0) rc = posix_spawnattr_setpgroup(&attr, 0);
        if (rc == 0) rc = posix_spawnattr_setsigmask(&attr, &none);
        if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr, &dfl);
        if (rc == 0) rc = posix_spawnp(&st->pid, argv[0], &fa, &attr, argv, envp);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
    }
    close(out[1]);
    close(err[1]);
    if (rc != 0) {
        close(out[0]);
        close(err[0]);
        return rc;
    }
    st->fd_out = out[0];
    st->fd_err = err[0];
    return 0;
}

/** Note the leader's exit without reaping it (the zombie keeps the pgid reserved). */
static void check_exit(run_state *st) {
    if (st->exited) return;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)st->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0)
        return;
    st->exited = 1;
    if (si.si_code == CLD_EXITED) {
        st->exit_code = si.si_status;
    } else {
        st->exit_code = -1;
        st->exit_signal = si.si_status;
    }
}

/** Read what is available from *fd into the right buffer; close it at EOF or error. */
static void drain_fd(run_state *st, int *fd, int is_err) {
    char chunk[16384];
    ssize_t n = read(*fd, chunk, sizeof chunk);
    if (n > 0) {
        if (is_err) tail_append(&st->err, chunk, (size_t)n);
        else head_append(&st->out, chunk, (size_t)n);
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        close(*fd);
        *fd = -1;
    }
}

/** Wait up to timeout_ms for output on the open pipes and read it. */
static void pump_output(run_state *st, int timeout_ms) {
    struct pollfd pfd[2];
    int n = 0;
    int *fds[2];
    if (st->fd_out >= 0) {
        pfd[n].fd = st->fd_out;
        pfd[n].events = POLLIN;
        fds[n++] = &st->fd_out;
    }
    if (st->fd_err >= 0) {
        pfd[n].fd = st->fd_err;
        pfd[n].events = POLLIN;
        fds[n++] = &st->fd_err;
    }
    int rc = poll(n > 0 ? pfd : NULL, (nfds_t)n, timeout_ms);
    if (rc <= 0) return;
    for (int i = 0; i < n; i++)
        if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
            drain_fd(st, fds[i], fds[i] == &st->fd_err);
}

/** Decide whether to start killing the command, and escalate to SIGKILL. */
static void supervise(run_state *st, sitq_task_ctx *ctx, const shell_handler_config *cfg,
                      double start, double timeout_s, double now) {
    if (!st->exited && st->reason == KILL_NONE) {
        double elapsed = now - start;
        if (cfg->abort_now != NULL && atomic_load(cfg->abort_now)) st->reason = KILL_ABORT;
        else if (timeout_s > 0 && elapsed >= timeout_s) st->reason = KILL_TIMEOUT;
        else if (sitq_ctx_cancelled(ctx))
            st->reason = (timeout_s > 0 && elapsed >= timeout_s - 0.5) ? KILL_TIMEOUT : KILL_CANCEL;
        if (st->reason != KILL_NONE) {
            kill(-st->pid, SIGTERM);
            st->term_at = now;
        }
    }
    if (st->exited && st->term_at == 0) {
        /* Leftovers of the command in its group: ask them to go. */
        kill(-st->pid, SIGTERM);
        st->term_at = now;
    }
    if (st->term_at > 0 && st->kill_at == 0 && now >= st->term_at + cfg->kill_grace_s) {
        kill(-st->pid, SIGKILL);
        st->kill_at = now;
    }
}

/** Build the failure message of a finished command into buf. */
static void failure_message(const run_state *st, char *buf, size_t n) {
    switch (st->reason) {
    case KILL_TIMEOUT:
        /* The worker puts "timed out after S s (attempt N): " before this. */
        snprintf(buf, n, "the command's process group was killed");
        return;
    /* The store puts "cancelled while running: " before this. */
    case KILL_CANCEL: snprintf(buf, n, "process group killed"); return;
    case KILL_ABORT: snprintf(buf, n, "worker shutting down: process group killed"); return;
    case KILL_NONE: break;
    }
    if (st->exit_code >= 0) snprintf(buf, n, "exit status %d", st->exit_code);
    else {
        const char *name = sigabbrev_np(st->exit_signal);
        snprintf(buf, n, "killed by signal %d (SIG%s)", st->exit_signal, name ? name : "?");
    }
}

/** Supervise a spawned command until it and its output are done, then reap it. */
static void run_until_done(run_state *st, sitq_task_ctx *ctx, const shell_handler_config *cfg,
                           double timeout_s) {
    double start = mono_s();
    int poll_ms = (int)(cfg->poll_interval_s * 1000.0);
    if (poll_ms < 1) poll_ms = 1;
    for (;;) {
        check_exit(st);
        double now = mono_s();
        supervise(st, ctx, cfg, start, timeout_s, now);
        if (st->exited && st->fd_out < 0 && st->fd_err < 0) break;
        /* Someone escaped the group and holds a pipe: stop reading. */
        if (st->exited && st->kill_at > 0 && now >= st->kill_at + 1.0) break;
        pump_output(st, poll_ms);
    }
    kill(-st->pid, SIGKILL); /* anything left in the group that closed its pipes */
    if (st->fd_out >= 0) close(st->fd_out);
    if (st->fd_err >= 0) close(st->fd_err);
    st->fd_out = st->fd_err = -1;
    while (waitpid(st->pid, NULL, 0) < 0 && errno == EINTR) {}
}

/** Allocate the output buffers of st. Returns 0 or -1 (out of memory, st freed). */
static int init_state(run_state *st, const shell_handler_config *cfg) {
    memset(st, 0, sizeof *st);
    st->fd_out = st->fd_err = -1;
    st->exit_code = -1;
    st->out.cap = cfg->max_stdout;
    st->err.cap = cfg->max_stderr;
    st->err.data = st->err.cap > 0 ? malloc(st->err.cap) : NULL;
    return st->err.cap > 0 && st->err.data == NULL ? -1 : 0;
}

/**
 * The message of a command that exited 0 but cannot succeed: its stdout went
 * beyond the cap (without truncation) or could not be kept. Returns 0 when
 * its stdout is a valid result.
 */
static int stdout_problem(const run_state *st, const shell_handler_config *cfg, char *buf,
                          size_t n) {
    if (st->out.oom) {
        snprintf(buf, n, "out of memory keeping %zu bytes of stdout", st->out.total);
        return -1;
    }
    if (st->out.total <= st->out.cap || cfg->truncate_stdout) return 0;
    snprintf(buf, n,
             "stdout exceeded --max-result %zu bytes; the command wrote %zu bytes (raise "
             "--max-result, or keep the first %zu bytes with --truncate-result)",
             st->out.cap, st->out.total, st->out.cap);
    return -1;
}

/** Record the outcome of a finished command on ctx. Returns the handler's code. */
static int record_outcome(sitq_task_ctx *ctx, const shell_handler_config *cfg, run_state *st) {
    char msg[512];
    if (st->reason == KILL_NONE && st->exit_code == 0) {
        if (stdout_problem(st, cfg, msg, sizeof msg) == 0) {
            if (st->out.total > st->out.cap) {
                char detail[160];
                snprintf(detail, sizeof detail,
                         "kept the first %zu of %zu bytes (--truncate-result)", st->out.len,
                         st->out.total);
                log_line(cfg, ctx, "stdout truncated", detail);
            }
            if (st->out.len > 0) {
                /* Doubling left up to half the buffer unused: give it back
                 * before the result is held until the commit. */
                char *fit = st->out.size > st->out.len ? realloc(st->out.data, st->out.len) : NULL;
                if (fit != NULL) st->out.data = fit;
                sitq_ctx_take_result(ctx, st->out.data, st->out.len);
                st->out.data = NULL;
            }
            return 0;
        }
    } else {
        failure_message(st, msg, sizeof msg);
    }
    char *tb = tail_string(&st->err);
    sitq_ctx_set_error(ctx, msg, tb);
    free(tb);
    return 1;
}

/** Run argv with the dependencies' files of d, and record the outcome on ctx. */
static int run_command(sitq_task_ctx *ctx, const shell_handler_config *cfg, char **argv,
                       const shell_deps *d) {
    run_state st;
    if (init_state(&st, cfg) != 0) {
        sitq_ctx_set_error(ctx, "out of memory", NULL);
        return 1;
    }
    int ret = 1;
    char msg[512];
    int src = spawn_command(argv, d->env, d->stdin_path, &st);
    if (src != 0) {
        snprintf(msg, sizeof msg, "cannot run '%s': %s%s", argv[0], strerror(src),
                 src == E2BIG ? " (its arguments and environment together pass the system's "
                                "limit; a task's own variables take a few hundred KB at most)"
                              : "");
        sitq_ctx_set_error(ctx, msg, NULL);
    } else {
        run_until_done(&st, ctx, cfg, sitq_ctx_timeout_s(ctx));
        ret = record_outcome(ctx, cfg, &st);
    }
    free(st.out.data);
    free(st.err.data);
    return ret;
}

int shell_handler(sitq_task_ctx *ctx, const void *payload, size_t payload_len, void *user_data) {
    shell_handler_config defaults;
    const shell_handler_config *cfg = user_data;
    if (cfg == NULL) {
        shell_handler_config_init(&defaults);
        cfg = &defaults;
    }
    char **argv = NULL;
    int argc = 0;
    unsigned opts = 0;
    int drc = shell_payload_decode(payload, payload_len, &argv, &argc, &opts);
    if (drc != 0) {
        const char *why = drc == -2 ? "out of memory"
                                    : "invalid shell payload: expected NUL-terminated argv strings";
        sitq_ctx_set_error(ctx, why, NULL);
        return 1;
    }
    char *cmdline = shell_format_command(argv, argc);
    log_line(cfg, ctx, "running", cmdline);
    free(cmdline);

    int ret = 1;
    char msg[512];
    shell_deps d;
    if (shell_deps_prepare(ctx, cfg->envp ? cfg->envp : environ, (opts & SHELL_OPT_STDIN_DEPS) != 0,
                           &d, msg, sizeof msg) != 0) {
        sitq_ctx_set_error(ctx, msg, NULL);
    } else {
        ret = run_command(ctx, cfg, argv, &d);
        shell_deps_cleanup(&d);
    }
    free(argv);
    return ret;
}
