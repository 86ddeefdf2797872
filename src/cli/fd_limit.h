/*
 * fd_limit.h - the open-file limit of `sitq worker`: each running command
 * holds a few file descriptors (its output pipes, and more while it starts),
 * so a worker with many handler threads needs more than the usual soft
 * limit of 1024 allows; past it a command cannot start ("Too many open
 * files") and its task fails, though nothing is wrong with it.
 */
#ifndef SITQ_CLI_FD_LIMIT_H
#define SITQ_CLI_FD_LIMIT_H

#include <stddef.h>

/** Open files a worker of `concurrency` handler threads may need at once. */
long fd_limit_needed(int concurrency);

/**
 * Raise the soft RLIMIT_NOFILE of this process (inherited by the commands it
 * starts) to fd_limit_needed(concurrency), within the hard limit; never
 * lower it. Returns 0 when the limit now covers the need; otherwise -1 with
 * a warning for the operator written into warn (size bytes). Not
 * thread-safe: call before the worker starts its threads.
 */
int fd_limit_raise(int concurrency, char *warn, size_t size);

#endif /* SITQ_CLI_FD_LIMIT_H */
