/* runlog.c - the execution log: "S KEY PID" / "E KEY PID" lines appended
 * with O_APPEND by the tasks themselves, counted per task key. */
#include "chaos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int chaos_runlog_read(const char *path, chaos_runlog *out) {
    memset(out, 0, sizeof *out);
    size_t len = 0;
    char *text = chaos_read_file(path, &len);
    if (!text) return 0; /* no task ran at all */
    size_t cap = 1024;
    out->runs = malloc(cap * sizeof *out->runs);
    if (!out->runs) {
        free(text);
        return -1;
    }
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char kind;
        long long key, pid;
        if (sscanf(line, "%c %lld %lld", &kind, &key, &pid) != 3 || (kind != 'S' && kind != 'E')) {
            out->bad_lines++;
            continue;
        }
        if (out->n == cap) {
            chaos_run *r = realloc(out->runs, cap * 2 * sizeof *r);
            if (!r) {
                free(text);
                return -1;
            }
            out->runs = r;
            cap *= 2;
        }
        out->runs[out->n++] = (chaos_run){kind, key, pid};
    }
    free(text);
    return 0;
}

void chaos_runlog_free(chaos_runlog *l) {
    free(l->runs);
    memset(l, 0, sizeof *l);
}

static int cmp_pid(const void *a, const void *b) {
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

chaos_key_runs *chaos_runlog_count(const chaos_runlog *l, size_t n_keys, const pid_t *killed,
                                   size_t n_killed) {
    chaos_key_runs *k = calloc(n_keys ? n_keys : 1, sizeof *k);
    if (!k) return NULL;
    for (size_t i = 0; i < n_keys; i++) k[i].first_start = k[i].first_end = -1;
    for (size_t i = 0; i < l->n; i++) {
        const chaos_run *r = &l->runs[i];
        if (r->key < 0 || (size_t)r->key >= n_keys) continue;
        chaos_key_runs *e = &k[r->key];
        if (r->kind == 'S') {
            e->starts++;
            if (e->first_start < 0) e->first_start = (int64_t)i;
            pid_t pid = (pid_t)r->pid;
            if (!bsearch(&pid, killed, n_killed, sizeof *killed, cmp_pid)) e->starts_unkilled++;
        } else {
            e->ends++;
            if (e->first_end < 0) e->first_end = (int64_t)i;
        }
    }
    return k;
}
