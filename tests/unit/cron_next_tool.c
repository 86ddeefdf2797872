/* cron_next_tool.c - prints fire times of cron expressions for the
 * cross-check against croniter (test_cron_croniter.py). Reads lines
 * "EXPR<TAB>ZONE<TAB>AFTER<TAB>COUNT" from stdin and writes, for each, one
 * line: COUNT successive fire times (sitq_cron_next from AFTER, then from
 * each result) separated by blanks, or "ERR <code name> <message>". A zone
 * of "-" means NULL (UTC). */
#include "sitq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void run_line(char *line) {
    char *fields[4];
    int n = 0;
    for (char *p = line; n < 4; n++) {
        fields[n] = p;
        char *tab = strchr(p, '\t');
        if (!tab) {
            n++;
            break;
        }
        *tab = '\0';
        p = tab + 1;
    }
    if (n != 4) {
        printf("ERR usage EXPR<TAB>ZONE<TAB>AFTER<TAB>COUNT\n");
        return;
    }
    const char *zone = strcmp(fields[1], "-") == 0 ? NULL : fields[1];
    long long t = strtoll(fields[2], NULL, 10);
    int count = atoi(fields[3]);
    sitq_error err;
    sitq_cron *c = NULL;
    sitq_code rc = sitq_cron_parse(fields[0], &c, &err);
    for (int i = 0; rc == SITQ_OK && i < count; i++) {
        int64_t next = 0;
        rc = sitq_cron_next(c, zone, t, &next, &err);
        if (rc == SITQ_OK) {
            printf("%s%lld", i ? " " : "", (long long)next);
            t = next;
        }
    }
    if (rc != SITQ_OK) printf("ERR %s %s", sitq_code_name(rc), err.message);
    printf("\n");
    sitq_cron_free(c);
}

int main(void) {
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        run_line(line);
        fflush(stdout);
    }
    return 0;
}
