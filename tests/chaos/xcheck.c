/* xcheck.c - counting the execution log of x-worker tasks (role_x.c) against
 * the stored states: lost, run twice, completed twice, held twice at once. */
#include "chaos.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOLDS 8

/* What the log says about one task. */
typedef struct xtask {
    int starts, ends, applied, dropped, starts_unexplained;
    int n_end_pids;
    pid_t end_pids[4];
    int n_holds; /* (attempt, pid) holding the task now, in log order */
    int hold_attempt[HOLDS];
    pid_t hold_pid[HOLDS];
} xtask;

typedef struct xlog {
    const sitq_task_id *ids; /* sorted */
    size_t n;
    xtask *t;
    pid_t *gone; /* pids of "K" lines so far (killed: their holds ended) */
    size_t n_gone;
    pid_t *explained; /* pids of "K" and "P" lines (sorted after the first pass) */
    size_t n_explained;
    int64_t bad_lines, unknown, held_twice;
} xlog;

static int cmp_id(const void *a, const void *b) {
    sitq_task_id x = *(const sitq_task_id *)a, y = *(const sitq_task_id *)b;
    return (x > y) - (x < y);
}

static int cmp_pid(const void *a, const void *b) {
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

static void push_pid(pid_t **arr, size_t *n, pid_t pid) {
    pid_t *a = realloc(*arr, (*n + 1) * sizeof *a);
    if (!a) chaos_die("out of memory");
    a[(*n)++] = pid;
    *arr = a;
}

static int is_gone(const xlog *x, pid_t pid) {
    for (size_t i = 0; i < x->n_gone; i++)
        if (x->gone[i] == pid) return 1;
    return 0;
}

/* A start: a (task, attempt) already held by a live process is held twice. */
static void on_start(xlog *x, xtask *t, int attempt, pid_t pid) {
    t->starts++;
    if (!bsearch(&pid, x->explained, x->n_explained, sizeof pid, cmp_pid)) t->starts_unexplained++;
    int k = 0;
    for (int i = 0; i < t->n_holds; i++) {
        if (is_gone(x, t->hold_pid[i])) continue;
        if (t->hold_attempt[i] == attempt) {
            x->held_twice++;
            chaos_log("attempt %d of a task held by pids %d and %d at once", attempt,
                      (int)t->hold_pid[i], (int)pid);
        }
        t->hold_attempt[k] = t->hold_attempt[i];
        t->hold_pid[k++] = t->hold_pid[i];
    }
    t->n_holds = k;
    if (k == HOLDS) {
        x->bad_lines++;
        return;
    }
    t->hold_attempt[k] = attempt;
    t->hold_pid[k] = pid;
    t->n_holds++;
}

static void on_end(xtask *t, int attempt, pid_t pid) {
    t->ends++;
    if (t->n_end_pids < 4) t->end_pids[t->n_end_pids++] = pid;
    for (int i = 0; i < t->n_holds; i++)
        if (t->hold_attempt[i] == attempt && t->hold_pid[i] == pid) {
            t->hold_attempt[i] = t->hold_attempt[t->n_holds - 1];
            t->hold_pid[i] = t->hold_pid[--t->n_holds];
            return;
        }
}

/* One line of the log; pass 0 collects the K/P pids, pass 1 the rest. */
static void on_line(xlog *x, const char *line, int pass) {
    char kind;
    long long a = 0, b = 0, c = 0;
    int got = sscanf(line, "%c %lld %lld %lld", &kind, &a, &b, &c);
    if (got < 2) {
        x->bad_lines += pass;
        return;
    }
    if (kind == 'K' || kind == 'P') {
        if (pass == 0) push_pid(&x->explained, &x->n_explained, (pid_t)a);
        else if (kind == 'K') push_pid(&x->gone, &x->n_gone, (pid_t)a);
        return;
    }
    if (pass == 0 || kind == 'A') return;
    sitq_task_id id = a;
    const sitq_task_id *hit = bsearch(&id, x->ids, x->n, sizeof id, cmp_id);
    if (!hit || got < 4) {
        x->unknown += hit == NULL;
        x->bad_lines += hit != NULL;
        return;
    }
    xtask *t = &x->t[hit - x->ids];
    if (kind == 'S') on_start(x, t, (int)b, (pid_t)c);
    else if (kind == 'E') on_end(t, (int)b, (pid_t)c);
    else if (kind == 'C' && c) t->applied++;
    else if (kind == 'C') t->dropped++;
    else x->bad_lines++;
}

static void read_xlog(xlog *x, const char *path) {
    for (int pass = 0; pass < 2; pass++) {
        char *text = chaos_read_file(path, NULL);
        if (!text) return;
        for (char *line = text, *next; line && *line; line = next) {
            next = strchr(line, '\n');
            if (next) *next++ = '\0';
            on_line(x, line, pass);
        }
        free(text);
        if (pass == 0 && x->n_explained)
            qsort(x->explained, x->n_explained, sizeof(pid_t), cmp_pid);
    }
}

sitq_task_id *chaos_xlog_acked(const char *path, const sitq_task_id *ids, size_t n, size_t *out_n) {
    size_t cap = n + 1024, m = 0;
    sitq_task_id *all = malloc(cap * sizeof *all);
    if (!all) chaos_die("out of memory");
    memcpy(all, ids, n * sizeof *ids);
    m = n;
    char *text = chaos_read_file(path, NULL);
    for (char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        long long id;
        if (p[0] != 'A' || sscanf(p, "A %lld", &id) != 1) continue;
        if (m == cap) {
            sitq_task_id *g = realloc(all, (cap *= 2) * sizeof *all);
            if (!g) chaos_die("out of memory");
            all = g;
        }
        all[m++] = id;
    }
    free(text);
    qsort(all, m, sizeof *all, cmp_id);
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        if (k == 0 || all[k - 1] != all[i]) all[k++] = all[i];
    *out_n = k;
    return all;
}

/* The stored result of a task run more than once names a run that ended. */
static void check_result(sitq_queue *q, sitq_task_id id, const xtask *t, chaos_figures *f) {
    sitq_result *r = NULL;
    sitq_error err;
    if (sitq_get_result(q, id, &r, &err) != SITQ_OK) chaos_die("get %" PRId64, (int64_t)id);
    char buf[16] = "";
    if (r->value && r->value_len < sizeof buf) memcpy(buf, r->value, r->value_len);
    pid_t pid = (pid_t)atoi(buf);
    int ok = 0;
    for (int i = 0; i < t->n_end_pids; i++) ok |= t->end_pids[i] == pid;
    if (!ok && t->n_end_pids < 4) {
        f->bad++;
        chaos_log("task %" PRId64 " stores the result of pid %d, which never ended a run",
                  (int64_t)id, (int)pid);
    }
    sitq_result_free(r);
}

/* Count one task of the log against its stored state s. */
static void count_task(sitq_queue *q, sitq_task_id id, const xtask *t, const chaos_task_state *s,
                       chaos_figures *f, int64_t *completed_twice) {
    if (!s->found) {
        f->lost++;
        chaos_log("task %" PRId64 " is missing", (int64_t)id);
        return;
    }
    if (!sitq_status_is_terminal(s->status)) f->stuck++;
    else if (s->status != SITQ_SUCCEEDED) {
        f->bad++;
        chaos_log("task %" PRId64 " ended %s: %s", (int64_t)id, sitq_status_name(s->status),
                  s->error);
    }
    if (s->status == SITQ_SUCCEEDED && t->ends == 0) {
        f->lost++;
        chaos_log("task %" PRId64 " succeeded but never ran", (int64_t)id);
    }
    if (t->ends >= 2) f->run_twice++;
    if (t->starts_unexplained >= 2) {
        f->twice_unexplained++;
        chaos_log("task %" PRId64 " started %d times under workers never killed or stopped",
                  (int64_t)id, t->starts_unexplained);
    }
    if (t->applied >= 2) {
        (*completed_twice)++;
        chaos_log("task %" PRId64 ": %d successes applied", (int64_t)id, t->applied);
    }
    if (s->status == SITQ_SUCCEEDED && t->starts >= 2) check_result(q, id, t, f);
}

int64_t chaos_xcheck(sitq_queue *q, const sitq_task_id *ids, size_t n, const char *log,
                     chaos_figures *f) {
    xlog x = {.ids = ids, .n = n};
    x.t = calloc(n ? n : 1, sizeof *x.t);
    if (!x.t) chaos_die("out of memory");
    read_xlog(&x, log);
    chaos_task_state *st = chaos_read_states(q, ids, n);
    int64_t completed_twice = 0, dropped = 0;
    for (size_t i = 0; i < n; i++) {
        count_task(q, ids[i], &x.t[i], &st[i], f, &completed_twice);
        dropped += x.t[i].dropped;
    }
    /* A sample of tasks that ran once: their result is their run's. */
    for (size_t i = 0; i < n; i += n / 50 + 1)
        if (st[i].status == SITQ_SUCCEEDED && x.t[i].starts == 1)
            check_result(q, ids[i], &x.t[i], f);
    f->bad += x.bad_lines;
    /* Lines of tasks not in ids: enqueues whose answer was lost (stored
     * but never acknowledged) may run; they are no defect. */
    chaos_extra(f,
                "completed_twice=%" PRId64 " held_twice=%" PRId64 " dropped=%" PRId64
                " unacked_lines=%" PRId64,
                completed_twice, x.held_twice, dropped, x.unknown);
    free(st);
    free(x.t);
    free(x.gone);
    free(x.explained);
    return completed_twice + x.held_twice;
}

void chaos_xlog_mark(const char *log, char kind, pid_t pid) {
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    char line[32];
    int n = snprintf(line, sizeof line, "%c %d\n", kind, (int)pid);
    if (fd < 0 || write(fd, line, (size_t)n) != n) chaos_die("cannot append to %s", log);
    close(fd);
}
