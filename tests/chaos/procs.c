/* procs.c - starting, killing and reaping the processes of a chaos run.
 *
 * The harness is a child subreaper: commands that a SIGKILLed `sitq worker`
 * leaves running are re-parented to it, so "no children left" means every
 * command has finished writing its execution log, and nothing outlives the
 * run. Started processes die with the harness (PR_SET_PDEATHSIG). */
#include "chaos.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PROCS 4096

typedef struct proc {
    pid_t pid;
    int exited;
    int status;
} proc;

static proc procs[MAX_PROCS];
static size_t n_procs;
static pid_t harness_pid;

static proc *find(pid_t pid) {
    for (size_t i = 0; i < n_procs; i++)
        if (procs[i].pid == pid) return &procs[i];
    return NULL;
}

/* Kill the direct children found in /proc (orphaned commands included). */
static void kill_children(void) {
    DIR *d = opendir("/proc");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], buf[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0) continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0) continue;
        buf[n] = '\0';
        /* "pid (comm) state ppid ...": comm may hold spaces, so parse after ')'. */
        char *p = strrchr(buf, ')');
        int ppid = 0;
        if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == harness_pid) {
            pid_t child = (pid_t)atoi(e->d_name);
            kill(-child, SIGKILL);
            kill(child, SIGKILL);
        }
    }
    closedir(d);
}

void chaos_kill_all(void) {
    if (getpid() != harness_pid) return;
    for (size_t i = 0; i < n_procs; i++)
        if (!procs[i].exited) {
            kill(-procs[i].pid, SIGKILL);
            kill(procs[i].pid, SIGKILL);
        }
    kill_children();
    int st;
    while (waitpid(-1, &st, 0) > 0) {}
    for (size_t i = 0; i < n_procs; i++) procs[i].exited = 1;
}

static void on_signal(int sig) {
    chaos_kill_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

void chaos_procs_init(void) {
    harness_pid = getpid();
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        chaos_log("warning: cannot become a child subreaper: %s", strerror(errno));
    atexit(chaos_kill_all);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    /* A worker killed mid-write must not take the harness down with it. */
    signal(SIGPIPE, SIG_IGN);
}

static pid_t spawn(char *const argv[], int out_fd, const char *out_path, const char *err_path,
                   char *const env[]) {
    if (n_procs == MAX_PROCS) chaos_die("more than %d processes started", MAX_PROCS);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) chaos_die("fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != harness_pid) _exit(127);
        setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0) dup2(in, 0);
        if (out_fd >= 0) {
            dup2(out_fd, 1);
        } else {
            int o = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (o >= 0) dup2(o, 1);
        }
        int e = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (e >= 0) dup2(e, 2);
        for (int fd = 3; fd < 1024; fd++) close(fd);
        for (size_t i = 0; env && env[i]; i++) putenv(env[i]);
        execvp(argv[0], argv);
        dprintf(2, "chaos: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid); /* both sides, so a signal right after spawn finds the group */
    procs[n_procs++] = (proc){pid, 0, 0};
    return pid;
}

pid_t chaos_spawn(char *const argv[], const char *out_path, const char *err_path,
                  char *const env[]) {
    return spawn(argv, -1, out_path, err_path, env);
}

pid_t chaos_spawn_pipe(char *const argv[], int *out_fd, const char *err_path, char *const env[]) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) chaos_die("pipe: %s", strerror(errno));
    pid_t pid = spawn(argv, p[1], NULL, err_path, env);
    close(p[1]);
    *out_fd = p[0];
    return pid;
}

void chaos_reap(void) {
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        proc *p = find(pid);
        if (p) {
            p->exited = 1;
            p->status = st;
        }
    }
}

int chaos_alive(pid_t pid) {
    chaos_reap();
    proc *p = find(pid);
    return p && !p->exited;
}

int chaos_wait(pid_t pid, int64_t deadline_ms, int *status) {
    for (;;) {
        chaos_reap();
        proc *p = find(pid);
        if (!p || p->exited) {
            if (status) *status = p ? p->status : 0;
            return 1;
        }
        if (chaos_mono_ms() >= deadline_ms) return 0;
        chaos_sleep_ms(5);
    }
}

void chaos_signal(pid_t pid, int sig) {
    kill(-pid, sig);
    kill(pid, sig);
}

int chaos_stop(pid_t pid, int grace_ms, int send_term) {
    int st = 0;
    if (!chaos_alive(pid)) {
        chaos_wait(pid, 0, &st);
        return st;
    }
    if (send_term) kill(pid, SIGTERM);
    if (chaos_wait(pid, chaos_mono_ms() + grace_ms, &st)) return st;
    chaos_log("process %d ignored SIGTERM for %d ms: SIGKILL", (int)pid, grace_ms);
    chaos_signal(pid, SIGKILL);
    chaos_wait(pid, chaos_mono_ms() + 10000, &st);
    return st;
}

int chaos_wait_no_children(int64_t deadline_ms) {
    for (;;) {
        int st;
        pid_t pid;
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            proc *p = find(pid);
            if (p) {
                p->exited = 1;
                p->status = st;
            }
        }
        if (pid < 0 && errno == ECHILD) return 0;
        if (chaos_mono_ms() >= deadline_ms) {
            int n = 0;
            for (size_t i = 0; i < n_procs; i++) n += !procs[i].exited;
            return n > 0 ? n : 1;
        }
        chaos_sleep_ms(5);
    }
}

const char *chaos_status_text(int status) {
    static char buf[64];
    if (WIFEXITED(status)) snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, sizeof buf, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else snprintf(buf, sizeof buf, "status 0x%x", status);
    return buf;
}
