/*
 * fd_limit.c - see fd_limit.h. The soft limit is raised only as far as the
 * worker needs, not to the hard limit: the commands inherit it, and some
 * programs walk every descriptor up to it (closing them before an exec),
 * which a limit of a million makes slow.
 */
#include "fd_limit.h"

#include <stdio.h>
#include <sys/resource.h>

/* Per running command: two output pipes kept, two more ends and the
 * spawn's own while it starts; plus the worker's database, sockets and
 * logs. */
#define FDS_PER_TASK 8
#define FDS_BASE     64

long fd_limit_needed(int concurrency) {
    return FDS_BASE + (long)(concurrency > 0 ? concurrency : 1) * FDS_PER_TASK;
}

int fd_limit_raise(int concurrency, char *warn, size_t size) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0; /* nothing to go by */
    rlim_t need = (rlim_t)fd_limit_needed(concurrency);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlim_t to = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
        struct rlimit raised = {to, rl.rlim_max};
        if (to > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0) rl.rlim_cur = to;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) return 0;
    snprintf(warn, size,
             "concurrency %d may need %ld open files, but the limit is %ld (ulimit -n; its hard "
             "limit is %ld): commands that cannot start fail with \"Too many open files\"",
             concurrency, (long)need, (long)rl.rlim_cur,
             rl.rlim_max == RLIM_INFINITY ? -1L : (long)rl.rlim_max);
    return -1;
}
