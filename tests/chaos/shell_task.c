/* shell_task.c - the payload of the harness's shell tasks: log the start,
 * sleep a little, log the end, exit with a chosen status. */
#include "chaos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SCRIPT[] = "echo \"S $1 $PPID\" >>\"$3\"; "
                             "if [ \"$2\" != 0 ]; then sleep \"$2\"; fi; "
                             "echo \"E $1 $PPID\" >>\"$3\"; exit \"$4\"";

char *chaos_shell_payload(int64_t key, const char *sleep_s, int exit_code, const char *log,
                          size_t *len) {
    char k[32], code[16];
    snprintf(k, sizeof k, "%" PRId64, key);
    snprintf(code, sizeof code, "%d", exit_code);
    const char *argv[] = {"sh", "-c", SCRIPT, "chaos", k, sleep_s, log, code};
    size_t n = sizeof argv / sizeof argv[0], total = 0;
    for (size_t a = 0; a < n; a++) total += strlen(argv[a]) + 1;
    char *buf = malloc(total), *p = buf;
    if (!buf) chaos_die("out of memory");
    for (size_t a = 0; a < n; a++) {
        size_t l = strlen(argv[a]) + 1;
        memcpy(p, argv[a], l);
        p += l;
    }
    *len = total;
    return buf;
}
