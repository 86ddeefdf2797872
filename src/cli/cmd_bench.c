/*
 * cmd_bench.c - `sitq bench [OPTIONS]`: run the benchmark program.
 *
 * The benchmark is its own executable, sitq_bench (bench/), so that the
 * sitq command does not carry the benchmark's code. `sitq bench` executes
 * the sitq_bench that sits in the same directory as the running sitq (the
 * build directory puts both there) with the same arguments.
 */
#include "cli.h"
#include "diag.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/** Name of the benchmark program, looked up beside the sitq binary. */
#define BENCH_PROGRAM "sitq_bench"

/*
 * Write "<directory of the running sitq>/sitq_bench" into buf (size n).
 * Returns 0, or -1 when the running program's path cannot be read or does
 * not fit.
 */
static int bench_path(char *buf, size_t n) {
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return -1;
    self[len] = '\0';
    char *slash = strrchr(self, '/');
    if (slash == NULL) return -1;
    slash[1] = '\0';
    int w = snprintf(buf, n, "%s%s", self, BENCH_PROGRAM);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

int cmd_bench(int argc, char **argv) {
    (void)argc;
    char path[PATH_MAX];
    if (bench_path(path, sizeof path) != 0) {
        cli_errorf("bench", "cannot find the directory of the sitq program: %s", strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    /* argv[0] is "bench"; the program gets its own name and every option. */
    argv[0] = path;
    execv(path, argv);
    cli_errorf("bench",
               "cannot run %s: %s (the benchmark is the program " BENCH_PROGRAM
               ", built beside sitq)",
               path, strerror(errno));
    return CLI_EXIT_FAILURE;
}
